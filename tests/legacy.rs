//! The legacy options through the built module: `min_rsa_bits` (RSA key
//! generation below 2048 bits on request, reported by `C_GetMechanismInfo`)
//! and `legacy_mechanisms` (Triple-DES: NIST known answers with the option,
//! nothing of it visible without).

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)]

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

const DES3_MECHS: [CK_MECHANISM_TYPE; 4] = [
    CKM_DES3_KEY_GEN,
    CKM_DES3_ECB,
    CKM_DES3_CBC,
    CKM_DES3_CBC_PAD,
];

fn rsa_pair(s: &Session, bits: u64) -> cryptoki::error::Result<()> {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::ModulusBits(bits.into()),
            Attribute::Verify(true),
            Attribute::Token(false),
        ],
        &[Attribute::Sign(true), Attribute::Token(false)],
    )
    .map(|_| ())
}

fn rsa_gen_min(ctx: &Ctx) -> u64 {
    let info = ctx
        .p11
        .get_mechanism_info(ctx.slot(0), MechanismType::RSA_PKCS_KEY_PAIR_GEN)
        .expect("info");
    u64::try_from(info.min_key_size()).unwrap()
}

#[test]
fn rsa_keys_below_2048_bits_only_on_request() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    assert_eq!(rsa_gen_min(&ctx), 2048);
    assert_eq!(rv(rsa_pair(&s, 1024)), RvError::KeySizeRange);
    assert_eq!(rv(rsa_pair(&s, 2040)), RvError::KeySizeRange);
    drop(s);
    drop(ctx);

    let ctx = Ctx::with_top_config(1, "min_rsa_bits = 1024", "");
    ctx.init_token(0);
    let s = ctx.user_session(0);
    assert_eq!(rsa_gen_min(&ctx), 1024);
    rsa_pair(&s, 1024).expect("a 1024-bit key with min_rsa_bits = 1024");
    assert_eq!(rv(rsa_pair(&s, 768)), RvError::KeySizeRange);
    // Signing with it works.
    let (pubk, privk) = s
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[Attribute::ModulusBits(1024.into()), Attribute::Verify(true)],
            &[Attribute::Sign(true)],
        )
        .unwrap();
    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, privk, b"hello")
        .expect("sign");
    assert_eq!(sig.len(), 128);
    s.verify(&Mechanism::Sha256RsaPkcs, pubk, b"hello", &sig)
        .expect("verify");
    drop(s);
    drop(ctx);

    let ctx = Ctx::with_top_config(1, "min_rsa_bits = 3072", "");
    ctx.init_token(0);
    let s = ctx.user_session(0);
    assert_eq!(rsa_gen_min(&ctx), 3072);
    assert_eq!(rv(rsa_pair(&s, 2048)), RvError::KeySizeRange);
}

#[test]
fn a_min_rsa_bits_below_1024_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("softkms.toml");
    std::fs::write(
        &conf,
        format!(
            "min_rsa_bits = 512\n[[slot]]\npath = \"{}\"\n",
            dir.path().join("t.db").display()
        ),
    )
    .unwrap();
    // The CLI reads the same configuration and says why.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_softkms"))
        .args(["mechanisms"])
        .env("SOFTKMS_CONF", &conf)
        .output()
        .expect("run softkms");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("min_rsa_bits = 512"), "{err}");
    assert!(err.contains("1024"), "{err}");
}

/// A DES3 key with a known value.
fn des3_key(s: &Session, value: &[u8]) -> cryptoki::object::ObjectHandle {
    secret_key(s, KeyType::DES3, value, &[])
}

fn tdes_rows() -> Vec<Vec<String>> {
    table("sym-tdes.txt")
}

#[test]
fn triple_des_known_answers_with_legacy_mechanisms() {
    let ctx = Ctx::with_top_config(1, "legacy_mechanisms = true", "");
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let listed = raw.mechanism_list(ctx.slot(0).id());
    for m in DES3_MECHS {
        assert!(listed.contains(&m), "{m:#x} not listed");
        let info = raw.mechanism_info(ctx.slot(0).id(), m).expect("info");
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (24, 24));
    }
    let rows = tdes_rows();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let (key, input, output) = (h(&r[1]), h(&r[3]), h(&r[4]));
        let k = des3_key(&s, &key);
        let m = match r[0].as_str() {
            "ECB" => Mechanism::Des3Ecb,
            "CBC" => Mechanism::Des3Cbc(h(&r[2]).try_into().unwrap()),
            other => panic!("{other}"),
        };
        assert_eq!(s.encrypt(&m, k, &input).unwrap(), output, "{} enc", r[0]);
        assert_eq!(s.decrypt(&m, k, &output).unwrap(), input, "{} dec", r[0]);
        // Multi-part, in pieces that are not whole blocks.
        // The IV outlives the raw CK_MECHANISM that points at it.
        let iv: [u8; 8] = if r[0] == "ECB" {
            [0; 8]
        } else {
            h(&r[2]).try_into().unwrap()
        };
        let cm = match r[0].as_str() {
            "ECB" => plain(CKM_DES3_ECB),
            _ => mech(CKM_DES3_CBC, Some(&iv)),
        };
        raw.encrypt_init(&s, &cm, k).unwrap();
        let mut got = chunked(&input, 5, |c| raw.encrypt_update(&s, c).unwrap());
        got.extend(raw.encrypt_final(&s).unwrap());
        assert_eq!(got, output, "{} multi-part enc", r[0]);
        raw.decrypt_init(&s, &cm, k).unwrap();
        let mut got = chunked(&output, 3, |c| raw.decrypt_update(&s, c).unwrap());
        got.extend(raw.decrypt_final(&s).unwrap());
        assert_eq!(got, input, "{} multi-part dec", r[0]);
        // Not a whole number of blocks.
        assert_eq!(rv(s.encrypt(&m, k, &input[..7])), RvError::DataLenRange);
        assert_eq!(
            rv(s.decrypt(&m, k, &output[..9])),
            RvError::EncryptedDataLenRange
        );
    }

    // CBC_PAD: the CBC vector's blocks, then one block of padding.
    let cbc = &rows[2];
    let (key, iv, input, output) = (h(&cbc[1]), h(&cbc[2]), h(&cbc[3]), h(&cbc[4]));
    let k = des3_key(&s, &key);
    let m = Mechanism::Des3CbcPad(iv.clone().try_into().unwrap());
    let padded = s.encrypt(&m, k, &input).unwrap();
    assert_eq!(padded.len(), 40);
    assert_eq!(&padded[..32], output.as_slice());
    assert_eq!(s.decrypt(&m, k, &padded).unwrap(), input);
    let short = s.encrypt(&m, k, b"hello").unwrap();
    assert_eq!(short.len(), 8);
    assert_eq!(s.decrypt(&m, k, &short).unwrap(), b"hello");
    let iv8: [u8; 8] = iv.try_into().unwrap();
    let cm = mech(CKM_DES3_CBC_PAD, Some(&iv8));
    raw.decrypt_init(&s, &cm, k).unwrap();
    let mut got = chunked(&padded, 8, |c| raw.decrypt_update(&s, c).unwrap());
    got.extend(raw.decrypt_final(&s).unwrap());
    assert_eq!(got, input);
    // A wrong IV length.
    let iv16 = [0u8; 16];
    assert_eq!(
        raw.encrypt_init(&s, &mech(CKM_DES3_CBC, Some(&iv16)), k),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    // A DES3 key is not an AES key, and the other way round.
    let aes = aes_key(&s, &[0x33; 24]);
    assert_eq!(
        rv(s.encrypt(&Mechanism::Des3Ecb, aes, &[0; 8])),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesEcb, k, &[0; 16])),
        RvError::KeyTypeInconsistent
    );
}

#[test]
fn triple_des_keys_generate_wrap_and_check_parity() {
    let ctx = Ctx::with_top_config(1, "legacy_mechanisms = true", "");
    ctx.init_token(0);
    let s = ctx.user_session(0);
    // The template Google's pkcs11test uses for its DES3 keys: usage flags, a
    // label, a session object.
    let k = s
        .generate_key(
            &Mechanism::Des3KeyGen,
            &[
                Attribute::Token(false),
                Attribute::Label(b"des3".to_vec()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .expect("generate a DES3 key");
    let attrs = s
        .get_attributes(
            k,
            &[
                AttributeType::KeyType,
                AttributeType::Value,
                AttributeType::Class,
            ],
        )
        .unwrap();
    let mut value = Vec::new();
    for a in attrs {
        match a {
            Attribute::KeyType(t) => assert_eq!(t, KeyType::DES3),
            Attribute::Class(c) => assert_eq!(c, ObjectClass::SECRET_KEY),
            Attribute::Value(v) => value = v,
            _ => {}
        }
    }
    assert_eq!(value.len(), 24);
    assert!(value.iter().all(|b| b.count_ones() % 2 == 1), "parity");
    let ct = s.encrypt(&Mechanism::Des3Ecb, k, &[5u8; 16]).unwrap();
    assert_eq!(s.decrypt(&Mechanism::Des3Ecb, k, &ct).unwrap(), [5u8; 16]);

    // A wrong parity bit in a created key: refused (the standard's DES3 key objects).
    let mut bad = h("0123456789abcdef23456789abcdef01456789abcdef0123");
    bad[5] ^= 1;
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::DES3),
            Attribute::Value(bad),
            Attribute::Token(false),
        ])),
        RvError::AttributeValueInvalid
    );
    // Equal first two or last two keys: single DES, refused (SP 800-67 Rev. 2
    // §3.1); equal first and last (two-key Triple-DES) is a DES3 key.
    let k1 = h("0123456789abcdef");
    let k2 = h("23456789abcdef01");
    for (v, ok) in [
        ([&k1[..], &k1, &k2].concat(), false),
        ([&k1[..], &k2, &k2].concat(), false),
        ([&k1[..], &k2, &k1].concat(), true),
    ] {
        let r = s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::DES3),
            Attribute::Value(v),
            Attribute::Token(false),
        ]);
        if ok {
            r.unwrap();
        } else {
            assert_eq!(rv(r), RvError::AttributeValueInvalid);
        }
    }
    // A wrong length too.
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::DES3),
            Attribute::Value(vec![1u8; 16]),
            Attribute::Token(false),
        ])),
        RvError::AttributeValueInvalid
    );

    // Wrap an AES key under the DES3 key with each mode, unwrap it back.
    let aes_value = [0x42u8; 16];
    let aes = aes_key(&s, &aes_value);
    for m in [
        Mechanism::Des3Ecb,
        Mechanism::Des3Cbc([9; 8]),
        Mechanism::Des3CbcPad([9; 8]),
    ] {
        let wrapped = s.wrap_key(&m, k, aes).expect("wrap");
        let back = s
            .unwrap_key(
                &m,
                k,
                &wrapped,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(16.into()),
                    Attribute::Token(false),
                    Attribute::Sensitive(false),
                    Attribute::Extractable(true),
                    Attribute::Encrypt(true),
                ],
            )
            .expect("unwrap");
        assert_eq!(value_of(&s, back), aes_value);
    }
}

#[test]
fn without_the_option_triple_des_is_invisible() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let listed = raw.mechanism_list(ctx.slot(0).id());
    assert!(listed.contains(&CKM_AES_ECB));
    for m in DES3_MECHS {
        assert!(!listed.contains(&m), "{m:#x} listed");
        assert_eq!(
            raw.mechanism_info(ctx.slot(0).id(), m).err(),
            Some(CKR_MECHANISM_INVALID)
        );
    }
    assert_eq!(
        rv(s.generate_key(&Mechanism::Des3KeyGen, &[Attribute::Token(false)])),
        RvError::MechanismInvalid
    );
    // A CKK_DES3 object: a key type this configuration does not support.
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::DES3),
            Attribute::Value(h("0123456789abcdef23456789abcdef01456789abcdef0123")),
            Attribute::Token(false),
        ])),
        RvError::AttributeValueInvalid
    );
    let aes = aes_key(&s, &[0x33; 16]);
    assert_eq!(
        rv(s.encrypt(&Mechanism::Des3Ecb, aes, &[0; 8])),
        RvError::MechanismInvalid
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::Des3Ecb, aes, aes)),
        RvError::MechanismInvalid
    );
}
