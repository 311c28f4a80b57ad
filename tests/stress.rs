//! Concurrency: 8 threads, each with its own session, some sharing keys, mixing
//! encryption, signing, key generation, search, creation and destruction for a
//! bounded number of rounds. No deadlock (a watchdog fails the test instead of
//! hanging), no wrong result, every created object accounted for.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use std::sync::mpsc;
use std::time::Duration;

const THREADS: usize = 8;
const ROUNDS: usize = 60;

#[test]
fn eight_threads_share_a_token_without_deadlock_or_wrong_results() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let setup = ctx.user_session(0);
    let aes = setup
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Label(b"shared-aes".to_vec()),
            ],
        )
        .unwrap();
    let (ec_pub, ec_priv) = setup
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(p11_testkit::P256_OID.to_vec()),
                Attribute::Verify(true),
            ],
            &[Attribute::Token(true), Attribute::Sign(true)],
        )
        .unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    for t in 0..THREADS {
        let p11 = ctx.p11.clone();
        let slot = ctx.slot(0);
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let s = p11.open_rw_session(slot).unwrap();
                let mut mine = Vec::new();
                for i in 0..ROUNDS {
                    let data = format!("thread {t} round {i}").into_bytes();
                    match (t + i) % 5 {
                        0 => {
                            let mut iv = [u8::try_from(t).unwrap(); 12];
                            iv[11] = u8::try_from(i).unwrap();
                            let ct = s
                                .encrypt(
                                    &Mechanism::AesGcm(
                                        GcmParams::new(&mut iv, &[], 128.into()).unwrap(),
                                    ),
                                    aes,
                                    &data,
                                )
                                .unwrap();
                            let pt = s
                                .decrypt(
                                    &Mechanism::AesGcm(
                                        GcmParams::new(&mut iv, &[], 128.into()).unwrap(),
                                    ),
                                    aes,
                                    &ct,
                                )
                                .unwrap();
                            assert_eq!(pt, data);
                        }
                        1 => {
                            let sig = s.sign(&Mechanism::EcdsaSha256, ec_priv, &data).unwrap();
                            s.verify(&Mechanism::EcdsaSha256, ec_pub, &data, &sig)
                                .unwrap();
                        }
                        2 => {
                            let k = s
                                .generate_key(
                                    &Mechanism::AesKeyGen,
                                    &[
                                        Attribute::Token(i % 2 == 0),
                                        Attribute::ValueLen(16.into()),
                                        Attribute::Label(format!("t{t}").into_bytes()),
                                    ],
                                )
                                .unwrap();
                            mine.push(k);
                        }
                        3 => {
                            let o = s
                                .create_object(&[
                                    Attribute::Class(ObjectClass::DATA),
                                    Attribute::Token(true),
                                    Attribute::Label(format!("t{t}").into_bytes()),
                                    Attribute::Value(data.clone()),
                                ])
                                .unwrap();
                            mine.push(o);
                            if mine.len() > 4 {
                                s.destroy_object(mine.remove(0)).unwrap();
                            }
                        }
                        _ => {
                            let found = s
                                .find_objects(&[Attribute::Label(format!("t{t}").into_bytes())])
                                .unwrap();
                            for h in &mine {
                                assert!(found.contains(h), "thread {t} lost object {h:?}");
                            }
                            assert_eq!(
                                s.find_objects(&[Attribute::Label(b"shared-aes".to_vec())])
                                    .unwrap(),
                                vec![aes]
                            );
                        }
                    }
                }
                // Every object this thread still holds is there, exactly once.
                let found = s
                    .find_objects(&[Attribute::Label(format!("t{t}").into_bytes())])
                    .unwrap();
                assert_eq!(found.len(), mine.len(), "thread {t}: {found:?} vs {mine:?}");
            }));
            let _ = done.send((t, r.is_ok()));
        });
    }
    drop(done_tx);
    for _ in 0..THREADS {
        match done_rx.recv_timeout(Duration::from_secs(300)) {
            Ok((t, ok)) => assert!(ok, "thread {t} failed"),
            Err(e) => panic!("a thread did not finish: deadlock? ({e})"),
        }
    }
}
