//! Multi-part equals single-part, the output-length rule (§5.2), one operation
//! per kind.

use super::*;

#[test]
fn multi_part_equals_single_part() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let d = data();
    let k = aes_key(&s, &pattern(32));
    let iv = pattern(16);
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 32,
        cb: [0x11; 16],
    };
    let gcm = CK_GCM_PARAMS {
        pIv: iv.as_ptr() as *mut u8,
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: iv.as_ptr() as *mut u8,
        ulAADLen: 16,
        ulTagBits: 128,
    };
    let ciphers = [
        ("ECB", plain(CKM_AES_ECB)),
        (
            "CBC",
            CK_MECHANISM {
                mechanism: CKM_AES_CBC,
                pParameter: iv.as_ptr() as *mut _,
                ulParameterLen: 16,
            },
        ),
        (
            "CBC_PAD",
            CK_MECHANISM {
                mechanism: CKM_AES_CBC_PAD,
                pParameter: iv.as_ptr() as *mut _,
                ulParameterLen: 16,
            },
        ),
        ("CTR", mech(CKM_AES_CTR, Some(&ctr))),
        ("GCM", mech(CKM_AES_GCM, Some(&gcm))),
    ];
    for (name, m) in &ciphers {
        let one = raw.encrypt(&s, m, k, &d).expect(name);
        assert_eq!(raw.decrypt(&s, m, k, &one).expect(name), d, "{name}");
        for n in CHUNKS {
            raw.encrypt_init(&s, m, k).expect("init");
            let mut multi = chunked(&d, n, |c| raw.encrypt_update(&s, c).expect("update"));
            multi.extend(raw.encrypt_final(&s).expect("final"));
            assert_eq!(hx(&multi), hx(&one), "{name} encrypt in chunks of {n}");
            raw.decrypt_init(&s, m, k).expect("init");
            let mut back = chunked(&one, n, |c| raw.decrypt_update(&s, c).expect("update"));
            back.extend(raw.decrypt_final(&s).expect("final"));
            assert_eq!(back, d, "{name} decrypt in chunks of {n}");
        }
    }
    // Digests, MACs, and the hash-and-sign mechanisms (deterministic ones compared,
    // randomized ones verified across single/multi-part).
    let hk = generic_key(&s, &pattern(40));
    let (rpub, rpriv) = rsa_pair(&s);
    let (epub, epriv) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(h("06082a8648ce3d030107")),
                Attribute::Verify(true),
            ],
            &[Attribute::Token(false), Attribute::Sign(true)],
        )
        .expect("EC pair");
    for name in [
        "SHA_1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA3_256", "SHA3_384", "SHA3_512",
    ] {
        let m = plain(ckm(name));
        let one = raw.digest(&s, &m, &d).expect("digest");
        for n in CHUNKS {
            raw.digest_init(&s, &m).expect("init");
            for c in d.chunks(n) {
                raw.digest_update(&s, c).expect("update");
            }
            assert_eq!(raw.digest_final(&s).expect("final"), one, "{name} {n}");
        }
    }
    let len16: CK_ULONG = 16;
    let mut signers: Vec<(String, CK_MECHANISM, ObjectHandle, ObjectHandle, bool)> = Vec::new();
    for name in [
        "SHA_1_HMAC",
        "SHA224_HMAC",
        "SHA256_HMAC",
        "SHA384_HMAC",
        "SHA512_HMAC",
    ] {
        signers.push((name.into(), plain(ckm(name)), hk, hk, true));
        let g = format!("{name}_GENERAL");
        signers.push((g.clone(), mech(ckm(&g), Some(&len16)), hk, hk, true));
    }
    signers.push(("AES_CMAC".into(), plain(CKM_AES_CMAC), k, k, true));
    signers.push((
        "AES_CMAC_GENERAL".into(),
        mech(CKM_AES_CMAC_GENERAL, Some(&len16)),
        k,
        k,
        true,
    ));
    for (name, m) in [
        ("SHA1_RSA_PKCS", CKM_SHA1_RSA_PKCS),
        ("SHA224_RSA_PKCS", CKM_SHA224_RSA_PKCS),
        ("SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS),
        ("SHA384_RSA_PKCS", CKM_SHA384_RSA_PKCS),
        ("SHA512_RSA_PKCS", CKM_SHA512_RSA_PKCS),
    ] {
        signers.push((name.into(), plain(m), rpriv, rpub, true));
    }
    let pss = [
        CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: CKM_SHA_1,
            mgf: CKG_MGF1_SHA1,
            sLen: 20,
        },
        CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: CKM_SHA224,
            mgf: CKG_MGF1_SHA224,
            sLen: 28,
        },
        CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            sLen: 32,
        },
        CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: CKM_SHA384,
            mgf: CKG_MGF1_SHA384,
            sLen: 48,
        },
        CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: CKM_SHA512,
            mgf: CKG_MGF1_SHA512,
            sLen: 64,
        },
    ];
    for (p, m) in pss.iter().zip([
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
    ]) {
        signers.push((format!("PSS {m:#x}"), mech(m, Some(p)), rpriv, rpub, false));
    }
    for m in [
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
    ] {
        // Deterministic (RFC 6979) only in the pure-Rust build; aws-lc's
        // nonces are random. Every signature is verified either way.
        let deterministic = !cfg!(feature = "aws-lc");
        signers.push((
            format!("ECDSA {m:#x}"),
            plain(m),
            epriv,
            epub,
            deterministic,
        ));
    }
    for (name, m, sk, vk, deterministic) in &signers {
        let one = raw.sign(&s, m, *sk, &d).expect(name);
        raw.verify(&s, m, *vk, &d, &one).expect(name);
        for n in CHUNKS {
            raw.sign_init(&s, m, *sk).expect("init");
            for c in d.chunks(n) {
                raw.sign_update(&s, c).expect("update");
            }
            let multi = raw.sign_final(&s).expect("final");
            if *deterministic {
                assert_eq!(hx(&multi), hx(&one), "{name} in chunks of {n}");
            }
            raw.verify_init(&s, m, *vk).expect("init");
            for c in d.chunks(n) {
                raw.verify_update(&s, c).expect("update");
            }
            raw.verify_final(&s, &multi).expect("verify final");
        }
    }
}

#[test]
fn buffer_too_small_and_size_query_keep_the_operation() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let k = aes_key(&s, &pattern(16));
    let iv = pattern(16);
    let m = CK_MECHANISM {
        mechanism: CKM_AES_CBC_PAD,
        pParameter: iv.as_ptr() as *mut _,
        ulParameterLen: 16,
    };
    let d = pattern(40);
    let want = raw.encrypt(&s, &m, k, &d).expect("reference");
    raw.encrypt_init(&s, &m, k).expect("init");
    let (r, n, _) = raw.encrypt_into(&s, &d, 8);
    assert_eq!(
        (r, n),
        (CKR_BUFFER_TOO_SMALL, 48),
        "too small reports the length"
    );
    let (r, n, out) = raw.encrypt_into(&s, &d, 48);
    assert_eq!(
        (r, n),
        (CKR_OK, 48),
        "the operation survived CKR_BUFFER_TOO_SMALL"
    );
    assert_eq!(out, want);
    let (r, ..) = raw.encrypt_into(&s, &d, 48);
    assert_eq!(r, CKR_OPERATION_NOT_INITIALIZED, "success ended it");
    // Same for C_Sign.
    let hk = generic_key(&s, &pattern(32));
    raw.sign_init(&s, &plain(CKM_SHA256_HMAC), hk)
        .expect("init");
    let (r, n, _) = raw.sign_into(&s, b"abc", 31);
    assert_eq!((r, n), (CKR_BUFFER_TOO_SMALL, 32));
    let (r, n, mac) = raw.sign_into(&s, b"abc", 64);
    assert_eq!((r, n), (CKR_OK, 32));
    assert_eq!(
        mac,
        raw.sign(&s, &plain(CKM_SHA256_HMAC), hk, b"abc")
            .expect("sign")
    );
    // The typed API makes a size query first on every call (it passes a null buffer):
    // the module's answer kept the operation, or these would fail.
    let c = s
        .encrypt(&Mechanism::AesEcb, k, &pattern(32))
        .expect("typed encrypt");
    assert_eq!(c.len(), 32);
}

#[test]
fn operation_active_on_second_init() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = aes_key(&s, &pattern(16));
    let hk = generic_key(&s, &pattern(16));
    s.encrypt_init(&Mechanism::AesEcb, k).expect("init");
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::AesEcb, k)),
        RvError::OperationActive
    );
    s.decrypt_init(&Mechanism::AesEcb, k)
        .expect("a decryption may run beside it");
    assert_eq!(
        rv(s.decrypt_init(&Mechanism::AesEcb, k)),
        RvError::OperationActive
    );
    s.sign_init(&Mechanism::Sha256Hmac, hk).expect("sign");
    assert_eq!(
        rv(s.sign_init(&Mechanism::Sha256Hmac, hk)),
        RvError::OperationActive
    );
    s.digest_init(&Mechanism::Sha256).expect("digest");
    assert_eq!(
        rv(s.digest_init(&Mechanism::Sha256)),
        RvError::OperationActive
    );
    // The first encryption still works.
    assert_eq!(s.encrypt_update(&[0; 16]).expect("update").len(), 16);
}
