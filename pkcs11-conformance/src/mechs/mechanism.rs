//! The cases of one catalogue mechanism: info, round-trip, known-answer,
//! multi-part, buffer-too-small, operation-active, param-invalid,
//! key-type-inconsistent, bad-input.

use super::*;

pub(super) fn flags_for(fam: Fam) -> (CK_FLAGS, &'static str) {
    match fam {
        Fam::Digest => (CKF_DIGEST, "CKF_DIGEST"),
        Fam::Mac | Fam::RsaSign | Fam::Ecdsa | Fam::EdDsa | Fam::MlDsa => {
            (CKF_SIGN | CKF_VERIFY, "CKF_SIGN|CKF_VERIFY")
        }
        Fam::Cipher | Fam::RsaEnc => (CKF_ENCRYPT | CKF_DECRYPT, "CKF_ENCRYPT|CKF_DECRYPT"),
    }
}

pub(super) fn mechanism(r: &mut Runner, env: &Env, spec: &Spec) {
    let id = |c: &str| format!("mech.{}.{c}", spec.name);
    let sec = match spec.fam {
        Fam::Digest => "§5.12",
        Fam::Mac | Fam::RsaSign | Fam::Ecdsa | Fam::EdDsa => "§5.13",
        Fam::MlDsa => "3.2 §6.67",
        Fam::Cipher | Fam::RsaEnc => "§5.8",
    };
    let advertised = env.mechs.contains(&spec.ty);
    let (need, need_name) = flags_for(spec.fam);
    let info = r.m.mech_info(env.slot, spec.ty).ok();
    // RSA_PKCS is one mechanism with two uses: each use is advertised by its flag.
    let usable = advertised && info.is_some_and(|i| i.flags & need == need);
    let cases = [
        "info",
        "round-trip",
        "known-answer",
        "multi-part",
        "buffer-too-small",
        "final-buffer-too-small",
        "operation-active",
        "param-invalid",
        "key-type-inconsistent",
        "bad-input",
    ];
    if !advertised {
        for c in cases {
            r.record(
                &id(c),
                sec,
                Outcome::Skip(format!("CKM_{} not supported (not advertised)", spec.name)),
            );
        }
        return;
    }
    r.case(&id("info"), "§5.5.6", env, |_, _| match info {
        Some(i) => check(
            i.flags & need == need && i.ulMinKeySize <= i.ulMaxKeySize,
            || {
                format!(
                    "expected {need_name} in flags 0x{:x} and min <= max ({} / {})",
                    i.flags, i.ulMinKeySize, i.ulMaxKeySize
                )
            },
        ),
        None => Outcome::Fail("C_GetMechanismInfo failed for an advertised mechanism".into()),
    });
    if !usable {
        for c in &cases[1..] {
            r.record(
                &id(c),
                sec,
                Outcome::Skip(format!("CKM_{} advertised without {need_name}", spec.name)),
            );
        }
        return;
    }
    let data = input(spec.input_len);
    r.case(&id("round-trip"), sec, env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let out = t!(
            m.run(c.fwd, c.s, &(spec.mech)(), c.fwd_key, &data),
            format!("C_{:?}", c.fwd)
        );
        if spec.deterministic && c.fwd != Op::Digest {
            let again = t!(
                m.run(c.fwd, c.s, &(spec.mech)(), c.fwd_key, &data),
                format!("C_{:?} (again)", c.fwd)
            );
            ensure!(
                again == out,
                "expected the same output twice for a deterministic mechanism"
            );
        }
        inverse_ok(m, spec, &c, &data, &out)
    });
    r.case(&id("known-answer"), sec, env, |m, e| {
        let Some(kat) = &spec.kat else {
            return Outcome::Skip("no vector".into());
        };
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let key = match &kat.key {
            // An asymmetric vector: the bytes are the public key (verify-only vectors).
            Some(bytes) if key_kind(spec) == KeyKind::EcP384 => t!(
                sig_new::p384_public(m, c.s, bytes),
                "C_CreateObject(vector public key)"
            ),
            // An ML-DSA vector: the bytes are the private key's seed.
            Some(bytes) if key_kind(spec) == KeyKind::MlDsa => t!(
                sig_new::ml_dsa_private_from_seed(m, c.s, CKP_ML_DSA_44, bytes),
                "C_CreateObject(vector private key, CKA_SEED)"
            ),
            Some(bytes) => {
                let kt = match key_kind(spec) {
                    KeyKind::Generic => CKK_GENERIC_SECRET,
                    KeyKind::Des3 => CKK_DES3,
                    _ => CKK_AES,
                };
                if let Ok(i) = m.mech_info(e.slot, spec.ty) {
                    if kt == CKK_GENERIC_SECRET && (bytes.len() as CK_ULONG) < i.ulMinKeySize {
                        return Outcome::Skip(format!(
                            "vector key ({} bytes) below ulMinKeySize {}",
                            bytes.len(),
                            i.ulMinKeySize
                        ));
                    }
                }
                t!(secret(m, c.s, kt, bytes), "C_CreateObject(vector key)")
            }
            None => match kat.op {
                Op::Sign | Op::Decrypt => {
                    if spec.fam == Fam::RsaEnc {
                        c.inv_key
                    } else {
                        c.fwd_key
                    }
                }
                _ => c.inv_key,
            },
        };
        let mech = (kat.mech)();
        if kat.op == Op::Verify {
            return expect_rv(
                &[CKR_OK],
                m.run_verify(c.s, &mech, key, &kat.input, &kat.output),
            );
        }
        let out = t!(
            m.run(kat.op, c.s, &mech, key, &kat.input),
            format!("C_{:?}", kat.op)
        );
        check(out == kat.output, || {
            format!("expected {}, got {}", hex(&kat.output), hex(&out))
        })
    });
    r.case(&id("multi-part"), sec, env, |m, e| {
        if !spec.multipart {
            return Outcome::Skip("single-part mechanism".into());
        }
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let mech = (spec.mech)();
        let single = t!(
            m.run(c.fwd, c.s, &mech, c.fwd_key, &data),
            format!("C_{:?}", c.fwd)
        );
        let multi = t!(
            m.run_multi(c.fwd, c.s, &mech, c.fwd_key, &data, 7, &[]),
            format!("C_{:?}Update/Final", c.fwd)
        );
        if spec.deterministic {
            ensure!(
                multi == single,
                "expected multi-part output == single-part output"
            );
        }
        match c.inv {
            Op::Verify => expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.run_multi(Op::Verify, c.s, &mech, c.inv_key, &data, 5, &multi)),
            ),
            Op::Decrypt => {
                let p = t!(
                    m.run_multi(Op::Decrypt, c.s, &mech, c.inv_key, &multi, 5, &[]),
                    "C_DecryptUpdate/Final"
                );
                check(p == data, || {
                    "expected multi-part decryption to give the plaintext".into()
                })
            }
            _ => Outcome::Pass,
        }
    });
    r.case(&id("buffer-too-small"), "§5.2", env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        ok!(
            m.op_init(c.fwd, c.s, &(spec.mech)(), c.fwd_key),
            format!("C_{:?}Init", c.fwd)
        );
        let mut one = [0u8; 1];
        let mut len: CK_ULONG = 1;
        let rv = m.op_single_raw(c.fwd, c.s, &data, Some(&mut one), &mut len);
        ensure!(
            rv == CKR_BUFFER_TOO_SMALL,
            "expected CKR_BUFFER_TOO_SMALL, got {}",
            rv_name(rv)
        );
        ensure!(len > 1, "expected the needed length in *pulLen, got {len}");
        let out = t!(
            m.op_single(c.fwd, c.s, &data),
            "the same operation after CKR_BUFFER_TOO_SMALL"
        );
        inverse_ok(m, spec, &c, &data, &out)
    });
    r.case(&id("final-buffer-too-small"), "§5.2", env, |m, e| {
        if !spec.multipart {
            return Outcome::Skip("single-part mechanism".into());
        }
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let mech = (spec.mech)();
        ok!(
            m.op_init(c.fwd, c.s, &mech, c.fwd_key),
            format!("C_{:?}Init", c.fwd)
        );
        let head = t!(
            m.op_update(c.fwd, c.s, &data),
            format!("C_{:?}Update", c.fwd)
        );
        let mut n: CK_ULONG = 0;
        ok!(
            m.op_final_raw(c.fwd, c.s, None, &mut n),
            format!("C_{:?}Final(NULL)", c.fwd)
        );
        if n <= 1 {
            return Outcome::Skip(format!("the final call returns {n} bytes here"));
        }
        let need = n;
        let mut one = [0u8; 1];
        let mut len: CK_ULONG = 1;
        let rv = m.op_final_raw(c.fwd, c.s, Some(&mut one), &mut len);
        ensure!(
            rv == CKR_BUFFER_TOO_SMALL,
            "expected CKR_BUFFER_TOO_SMALL, got {}",
            rv_name(rv)
        );
        let mut out = vec![0u8; need as usize];
        let mut len = need;
        ok!(
            m.op_final_raw(c.fwd, c.s, Some(&mut out), &mut len),
            format!("C_{:?}Final after CKR_BUFFER_TOO_SMALL", c.fwd)
        );
        out.truncate(len as usize);
        let whole = [head, out].concat();
        inverse_ok(m, spec, &c, &data, &whole)
    });
    r.case(&id("operation-active"), sec, env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        ok!(
            m.op_init(c.fwd, c.s, &(spec.mech)(), c.fwd_key),
            format!("C_{:?}Init", c.fwd)
        );
        let rv = m.op_init(c.fwd, c.s, &(spec.mech)(), c.fwd_key);
        ensure!(
            rv == CKR_OPERATION_ACTIVE,
            "expected CKR_OPERATION_ACTIVE, got {}",
            rv_name(rv)
        );
        // The first operation is still there.
        let out = t!(m.op_single(c.fwd, c.s, &data), "the first operation");
        inverse_ok(m, spec, &c, &data, &out)
    });
    r.case(&id("param-invalid"), sec, env, |m, e| {
        let Some(bad) = spec.bad_param else {
            return Outcome::Skip("mechanism takes no parameter".into());
        };
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        expect_rv(
            &[CKR_MECHANISM_PARAM_INVALID],
            m.op_init(c.fwd, c.s, &bad(), c.fwd_key),
        )
    });
    r.case(&id("key-type-inconsistent"), sec, env, |m, e| {
        let wrong = match key_kind(spec) {
            KeyKind::None => return Outcome::Skip("mechanism takes no key".into()),
            KeyKind::Aes => KeyKind::Generic,
            KeyKind::Des3 => KeyKind::Aes,
            KeyKind::Generic => KeyKind::Aes,
            KeyKind::Rsa => KeyKind::Ec,
            KeyKind::Ec | KeyKind::EcP384 => KeyKind::Rsa,
            KeyKind::Ed25519 | KeyKind::MlDsa => KeyKind::Ec,
        };
        let s = t!(user(m, e), "open+login");
        let (a, b) = t!(keys(m, s, wrong, 32), "creating the other key");
        let fwd = ops(spec.fam).0;
        // Use the private half for Sign/Decrypt and the public half for Encrypt.
        let k = if spec.fam == Fam::RsaEnc && wrong == KeyKind::Ec {
            b
        } else {
            a
        };
        if spec.fam == Fam::RsaEnc && wrong == KeyKind::Ec {
            // EC public keys cannot encrypt at all: the key function check may come first.
            return expect_rv(
                &[CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(fwd, s, &(spec.mech)(), k),
            );
        }
        expect_rv(
            &[CKR_KEY_TYPE_INCONSISTENT],
            m.op_init(fwd, s, &(spec.mech)(), k),
        )
    });
    r.case(&id("bad-input"), sec, env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let mech = (spec.mech)();
        match spec.fam {
            Fam::Digest => Outcome::Skip("every input is valid".into()),
            Fam::Mac | Fam::RsaSign | Fam::Ecdsa | Fam::EdDsa | Fam::MlDsa => {
                let sig = t!(m.run(Op::Sign, c.s, &mech, c.fwd_key, &data), "C_Sign");
                let mut bad = sig.clone();
                bad[0] ^= 1;
                let rv = m.run_verify(c.s, &mech, c.inv_key, &data, &bad);
                ensure!(
                    rv == CKR_SIGNATURE_INVALID,
                    "tampered signature: expected CKR_SIGNATURE_INVALID, got {}",
                    rv_name(rv)
                );
                let rv = m.run_verify(c.s, &mech, c.inv_key, &data, &sig[..sig.len() - 1]);
                expect_rv(&[CKR_SIGNATURE_LEN_RANGE, CKR_SIGNATURE_INVALID], rv)
            }
            Fam::Cipher => match spec.ty {
                CKM_DES3_ECB | CKM_DES3_CBC => expect_rv(
                    &[CKR_DATA_LEN_RANGE],
                    m.run(Op::Encrypt, c.s, &mech, c.fwd_key, &data[..7])
                        .err()
                        .unwrap_or(CKR_OK),
                ),
                CKM_DES3_CBC_PAD => expect_rv(
                    &[CKR_ENCRYPTED_DATA_LEN_RANGE],
                    m.run(Op::Decrypt, c.s, &mech, c.inv_key, &data[..7])
                        .err()
                        .unwrap_or(CKR_OK),
                ),
                CKM_AES_ECB | CKM_AES_CBC => expect_rv(
                    &[CKR_DATA_LEN_RANGE],
                    m.run(Op::Encrypt, c.s, &mech, c.fwd_key, &data[..15])
                        .err()
                        .unwrap_or(CKR_OK),
                ),
                CKM_AES_CBC_PAD => expect_rv(
                    &[CKR_ENCRYPTED_DATA_LEN_RANGE],
                    m.run(Op::Decrypt, c.s, &mech, c.inv_key, &data[..15])
                        .err()
                        .unwrap_or(CKR_OK),
                ),
                CKM_AES_GCM => {
                    let mut ct = t!(
                        m.run(Op::Encrypt, c.s, &mech, c.fwd_key, &data),
                        "C_Encrypt"
                    );
                    ct[0] ^= 1;
                    expect_rv(
                        &[CKR_ENCRYPTED_DATA_INVALID],
                        m.run(Op::Decrypt, c.s, &mech, c.inv_key, &ct)
                            .err()
                            .unwrap_or(CKR_OK),
                    )
                }
                _ => Outcome::Skip("stream mode: every length is valid".into()),
            },
            Fam::RsaEnc => {
                let long = input(300);
                expect_rv(
                    &[CKR_DATA_LEN_RANGE],
                    m.run(Op::Encrypt, c.s, &mech, c.fwd_key, &long)
                        .err()
                        .unwrap_or(CKR_OK),
                )
            }
        }
    });
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
