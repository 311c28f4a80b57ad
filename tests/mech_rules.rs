//! The general rules of PKCS#11 3.0 §5 for cryptographic operations, checked
//! across the mechanisms SoftKMS advertises: multi-part equals single-part,
//! the output-length rule (§5.2), one operation per kind, key usage and
//! CKA_ALLOWED_MECHANISMS, key-type and parameter errors, the mechanism list
//! against what the tests exercise, CKA_EXTRACTABLE on wrapping and its
//! defaults per origin (docs/mechanisms.md), CKA_LOCAL on unwrapped keys.

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

const CHUNKS: [usize; 4] = [1, 15, 17, 4097];

/// 12 800 bytes: a whole number of AES blocks, larger than 3 × 4097.
fn data() -> Vec<u8> {
    pattern(12_800)
}

fn rsa_pair(s: &Session) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::ModulusBits(2048.into()),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
        ],
        &[
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
        ],
    )
    .expect("RSA pair")
}

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

#[test]
fn key_usage_and_allowed_mechanisms() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let no_enc = secret_key(&s, KeyType::AES, &pattern(16), &[Attribute::Encrypt(false)]);
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesEcb, no_enc, &[0; 16])),
        RvError::KeyFunctionNotPermitted
    );
    s.decrypt(&Mechanism::AesEcb, no_enc, &[0; 16])
        .expect("decrypt allowed");
    let no_dec = secret_key(&s, KeyType::AES, &pattern(16), &[Attribute::Decrypt(false)]);
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesEcb, no_dec, &[0; 16])),
        RvError::KeyFunctionNotPermitted
    );
    let no_sign = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &pattern(16),
        &[Attribute::Sign(false)],
    );
    assert_eq!(
        rv(s.sign(&Mechanism::Sha256Hmac, no_sign, b"x")),
        RvError::KeyFunctionNotPermitted
    );
    let no_verify = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &pattern(16),
        &[Attribute::Verify(false)],
    );
    assert_eq!(
        rv(s.verify(&Mechanism::Sha256Hmac, no_verify, b"x", &[0; 32])),
        RvError::KeyFunctionNotPermitted
    );
    let no_wrap = secret_key(&s, KeyType::AES, &pattern(16), &[Attribute::Wrap(false)]);
    let target = aes_key(&s, &pattern(16));
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, no_wrap, target)),
        RvError::KeyFunctionNotPermitted
    );
    let no_derive = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &pattern(16),
        &[Attribute::Derive(false)],
    );
    let m = Mechanism::HkdfDerive(cryptoki::mechanism::hkdf::HkdfParams::new(
        MechanismType::SHA256,
        None,
        Some(b"i"),
    ));
    let t = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::ValueLen(16.into()),
    ];
    assert_eq!(
        rv(s.derive_key(&m, no_derive, &t)),
        RvError::KeyFunctionNotPermitted
    );

    // CKA_ALLOWED_MECHANISMS: CBC only.
    let only_cbc = secret_key(
        &s,
        KeyType::AES,
        &pattern(16),
        &[Attribute::AllowedMechanisms(vec![MechanismType::AES_CBC])],
    );
    s.encrypt(&Mechanism::AesCbc([0; 16]), only_cbc, &[0; 16])
        .expect("CBC allowed");
    // The standard names no code for this; SoftHSMv2 says CKR_MECHANISM_INVALID,
    // SoftKMS says CKR_KEY_FUNCTION_NOT_PERMITTED. Either refuses the use.
    let e = rv(s.encrypt(&Mechanism::AesEcb, only_cbc, &[0; 16]));
    assert!(
        matches!(
            e,
            RvError::MechanismInvalid | RvError::KeyFunctionNotPermitted
        ),
        "a mechanism outside CKA_ALLOWED_MECHANISMS: {e:?}"
    );
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 128,
        cb: [0; 16],
    };
    let r = raw.encrypt_init(&s, &mech(CKM_AES_CTR, Some(&ctr)), only_cbc);
    assert!(
        matches!(
            r,
            Err(CKR_MECHANISM_INVALID) | Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
        ),
        "{r:?}"
    );
}

#[test]
fn key_type_param_and_mechanism_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let (rpub, rpriv) = rsa_pair(&s);
    let k = aes_key(&s, &pattern(16));
    let hk = generic_key(&s, &pattern(16));
    // An AES mechanism with an RSA key, and the other way round.
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesCbc([0; 16]), rpub, &[0; 16])),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.sign(&Mechanism::AesCMac, rpriv, b"x")),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::RsaPkcs, k, b"x")),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.sign(&Mechanism::EcdsaSha256, rpriv, b"x")),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesEcb, hk, &[0; 16])),
        RvError::KeyTypeInconsistent
    );
    // GCM: bad tag bits, empty IV.
    for bits in [0u64, 20, 136, 256] {
        let mut iv = [0u8; 12];
        let r = GcmParams::new(&mut iv, &[], bits.into());
        if let Ok(p) = r {
            assert_eq!(
                rv(s.encrypt_init(&Mechanism::AesGcm(p), k)),
                RvError::MechanismParamInvalid,
                "tag bits {bits}"
            );
        }
    }
    let gcm = CK_GCM_PARAMS {
        pIv: std::ptr::null_mut(),
        ulIvLen: 0,
        ulIvBits: 0,
        pAAD: std::ptr::null_mut(),
        ulAADLen: 0,
        ulTagBits: 128,
    };
    assert_eq!(
        raw.encrypt_init(&s, &mech(CKM_AES_GCM, Some(&gcm)), k),
        Err(CKR_MECHANISM_PARAM_INVALID),
        "empty IV"
    );
    // CBC: IV of 15 bytes, missing IV; CTR: counter bits 0 and 129; PSS: wrong MGF.
    let iv = [0u8; 16];
    let m = CK_MECHANISM {
        mechanism: CKM_AES_CBC,
        pParameter: iv.as_ptr() as *mut _,
        ulParameterLen: 15,
    };
    assert_eq!(
        raw.encrypt_init(&s, &m, k),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    assert_eq!(
        raw.encrypt_init(&s, &plain(CKM_AES_CBC), k),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    for bits in [0, 129] {
        let p = CK_AES_CTR_PARAMS {
            ulCounterBits: bits,
            cb: [0; 16],
        };
        assert_eq!(
            raw.encrypt_init(&s, &mech(CKM_AES_CTR, Some(&p)), k),
            Err(CKR_MECHANISM_PARAM_INVALID),
            "ctr {bits}"
        );
    }
    let p = CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA1,
        sLen: 32,
    };
    assert_eq!(
        raw.sign_init(&s, &mech(CKM_SHA256_RSA_PKCS_PSS, Some(&p)), rpriv),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    // Unknown mechanisms.
    for m in [CKM_DES_ECB, CKM_VENDOR_DEFINED | 0x1234, CKM_SHA512_256] {
        assert_eq!(
            raw.encrypt_init(&s, &plain(m), k),
            Err(CKR_MECHANISM_INVALID),
            "{m:#x}"
        );
        assert_eq!(
            raw.digest_init(&s, &plain(m)),
            Err(CKR_MECHANISM_INVALID),
            "{m:#x}"
        );
    }
    // A mechanism used for a function it does not serve.
    assert_eq!(
        raw.sign_init(&s, &plain(CKM_AES_ECB), k),
        Err(CKR_MECHANISM_INVALID)
    );
    assert_eq!(
        raw.encrypt_init(&s, &plain(CKM_SHA256_HMAC), hk),
        Err(CKR_MECHANISM_INVALID)
    );
}

#[test]
fn wrapping_rules_extractable_and_local() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let w = aes_key(&s, &pattern(32));
    let locked = secret_key(
        &s,
        KeyType::AES,
        &pattern(16),
        &[Attribute::Extractable(false)],
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, w, locked)),
        RvError::KeyUnextractable
    );
    let generated = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Extractable(false),
                Attribute::Sensitive(true),
            ],
        )
        .expect("generate");
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, w, generated)),
        RvError::KeyUnextractable
    );
    let attrs = s
        .get_attributes(
            generated,
            &[
                AttributeType::Local,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .expect("attrs");
    assert_eq!(
        attrs,
        vec![
            Attribute::Local(true),
            Attribute::AlwaysSensitive(true),
            Attribute::NeverExtractable(true)
        ]
    );
    let open = secret_key(
        &s,
        KeyType::AES,
        &pattern(16),
        &[Attribute::Extractable(true)],
    );
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, w, open).expect("wrap");
    let u = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            w,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Encrypt(true),
            ],
        )
        .expect("unwrap");
    let attrs = s
        .get_attributes(
            u,
            &[
                AttributeType::Local,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .expect("attrs");
    assert_eq!(
        attrs[0],
        Attribute::Local(false),
        "unwrapped keys are not local"
    );
    assert_eq!(
        attrs[1],
        Attribute::AlwaysSensitive(false),
        "unwrapped keys were not always sensitive"
    );
    assert_eq!(attrs[2], Attribute::NeverExtractable(false));
    let imported = s
        .get_attributes(open, &[AttributeType::Local])
        .expect("local");
    assert_eq!(
        imported,
        vec![Attribute::Local(false)],
        "created keys are not local"
    );
}

/// Every advertised mechanism, with the functions the mech_* tests exercise on it.
fn exercised() -> Vec<(CK_MECHANISM_TYPE, CK_FLAGS)> {
    let ed = CKF_ENCRYPT | CKF_DECRYPT;
    let edwu = ed | CKF_WRAP | CKF_UNWRAP;
    let sv = CKF_SIGN | CKF_VERIFY;
    let mut v = vec![
        (CKM_AES_KEY_GEN, CKF_GENERATE),
        (CKM_AES_ECB, edwu),
        (CKM_AES_CBC, edwu),
        (CKM_AES_CBC_PAD, edwu),
        (CKM_AES_CTR, ed),
        (
            CKM_AES_GCM,
            edwu | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT,
        ),
        (CKM_AES_KEY_WRAP, edwu),
        (CKM_AES_KEY_WRAP_KWP, edwu),
        (CKM_AES_CMAC, sv),
        (CKM_AES_CMAC_GENERAL, sv),
        (CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
        (CKM_RSA_PKCS, edwu | sv),
        (CKM_RSA_PKCS_PSS, sv),
        (CKM_RSA_PKCS_OAEP, edwu),
        (CKM_RSA_AES_KEY_WRAP, CKF_WRAP | CKF_UNWRAP),
        (CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
        (CKM_ECDSA, sv),
        (CKM_ECDH1_DERIVE, CKF_DERIVE),
        (CKM_HKDF_DERIVE, CKF_DERIVE),
        (CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE),
    ];
    for m in [
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
        CKM_SHA3_256,
        CKM_SHA3_384,
        CKM_SHA3_512,
    ] {
        v.push((m, CKF_DIGEST));
    }
    for m in [
        CKM_SHA_1_HMAC,
        CKM_SHA_1_HMAC_GENERAL,
        CKM_SHA224_HMAC,
        CKM_SHA224_HMAC_GENERAL,
        CKM_SHA256_HMAC,
        CKM_SHA256_HMAC_GENERAL,
        CKM_SHA384_HMAC,
        CKM_SHA384_HMAC_GENERAL,
        CKM_SHA512_HMAC,
        CKM_SHA512_HMAC_GENERAL,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
    ] {
        v.push((m, sv));
    }
    v
}

#[test]
fn mechanism_list_matches_what_is_exercised() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0).id();
    let raw = raw();
    let list = raw.mechanism_list(slot);
    let want = exercised();
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    // Flags about curves and the hardware flag are not functions.
    let functions = CKF_ENCRYPT
        | CKF_DECRYPT
        | CKF_DIGEST
        | CKF_SIGN
        | CKF_SIGN_RECOVER
        | CKF_VERIFY
        | CKF_VERIFY_RECOVER
        | CKF_GENERATE
        | CKF_GENERATE_KEY_PAIR
        | CKF_WRAP
        | CKF_UNWRAP
        | CKF_DERIVE
        | CKF_MESSAGE_ENCRYPT
        | CKF_MESSAGE_DECRYPT
        | CKF_MESSAGE_SIGN
        | CKF_MESSAGE_VERIFY
        | CKF_MULTI_MESSAGE;
    for m in &list {
        let info = raw.mechanism_info(slot, *m).expect("info");
        match want.iter().find(|(w, _)| w == m) {
            None if (*m & CKM_VENDOR_DEFINED) != 0 => {}
            None if [CKM_HKDF_DATA, CKM_HKDF_KEY_GEN].contains(m) => {}
            None => missing.push(format!("{m:#x}")),
            Some((_, f)) if info.flags & functions != *f => wrong.push(format!(
                "{m:#x}: advertised {:#x}, exercised {f:#x}",
                info.flags & functions
            )),
            Some(_) => {}
        }
        assert!(info.ulMinKeySize <= info.ulMaxKeySize, "{m:#x}");
    }
    assert!(
        missing.is_empty(),
        "advertised but not exercised: {missing:?}"
    );
    assert!(wrong.is_empty(), "flags differ: {wrong:?}");
    for (m, _) in &want {
        assert!(list.contains(m), "{m:#x} exercised but not advertised");
    }
    assert_eq!(
        raw.mechanism_info(slot, CKM_DES_ECB).err(),
        Some(CKR_MECHANISM_INVALID)
    );
}

/// The extractability of a key and whether it was never extractable.
fn extractability(s: &Session, k: ObjectHandle) -> (bool, bool) {
    match &s
        .get_attributes(
            k,
            &[AttributeType::Extractable, AttributeType::NeverExtractable],
        )
        .expect("attrs")[..]
    {
        [Attribute::Extractable(e), Attribute::NeverExtractable(n)] => (*e, *n),
        other => panic!("{other:?}"),
    }
}

/// True when the key's `CKA_VALUE` cannot be read (`CKR_ATTRIBUTE_SENSITIVE`).
fn hidden(s: &Session, k: ObjectHandle) -> bool {
    matches!(
        s.get_attribute_info(k, &[AttributeType::Value])
            .expect("info")[..],
        [AttributeInfo::Sensitive]
    )
}

#[test]
fn new_keys_default_to_unextractable_when_generated_or_unwrapped() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let w = aes_key(&s, &pattern(32));
    // C_GenerateKey without CKA_EXTRACTABLE: it stays in the token, even unsensitive.
    let gen = |extra: &[Attribute]| {
        let mut t = vec![
            Attribute::Token(false),
            Attribute::ValueLen(32.into()),
            Attribute::Encrypt(true),
        ];
        t.retain(|a| {
            !extra
                .iter()
                .any(|x| x.attribute_type() == a.attribute_type())
        });
        t.extend_from_slice(extra);
        s.generate_key(&Mechanism::AesKeyGen, &t).expect("generate")
    };
    let k = gen(&[]);
    assert_eq!(extractability(&s, k), (false, true));
    assert!(hidden(&s, k));
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, w, k)),
        RvError::KeyUnextractable
    );
    // So a sensitive token key needs nothing more to be a managed key
    // (docs/kms.md): it has versions.
    let managed = gen(&[Attribute::Token(true), Attribute::Sensitive(true)]);
    assert_eq!(
        common::read_ulong(
            &s,
            managed,
            p11_testkit::vendor::CKA_SOFTKMS_CURRENT_VERSION
        ),
        1
    );
    s.destroy_object(managed).expect("destroy");
    // Asking for it works, and is remembered.
    let open = gen(&[Attribute::Extractable(true)]);
    assert_eq!(extractability(&s, open), (true, false));
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, w, open).expect("wrap");
    // The private half of a generated pair; the public half has no CKA_EXTRACTABLE.
    let (public, private) = rsa_pair(&s);
    assert_eq!(extractability(&s, private), (false, true));
    assert!(matches!(
        s.get_attribute_info(public, &[AttributeType::Extractable])
            .expect("info")[..],
        [AttributeInfo::TypeInvalid]
    ));
    // C_UnwrapKey: unextractable, but never "never extractable" (the C_UnwrapKey text).
    let unwrap = |extra: &[Attribute]| {
        let mut t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Sensitive(false),
        ];
        t.extend_from_slice(extra);
        s.unwrap_key(&Mechanism::AesKeyWrap, w, &wrapped, &t)
            .expect("unwrap")
    };
    let u = unwrap(&[]);
    assert_eq!(extractability(&s, u), (false, false));
    assert!(hidden(&s, u));
    assert_eq!(
        extractability(&s, unwrap(&[Attribute::Extractable(true)])),
        (true, false)
    );
    // C_CreateObject and C_DeriveKey keep TRUE (docs/mechanisms.md).
    let created = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Derive(true),
            Attribute::Value(pattern(32)),
        ])
        .expect("create");
    assert_eq!(extractability(&s, created), (true, false));
    let hkdf = Mechanism::HkdfDerive(cryptoki::mechanism::hkdf::HkdfParams::new(
        MechanismType::SHA256,
        Some(cryptoki::mechanism::hkdf::HkdfSalt::Null),
        None,
    ));
    let derived = s
        .derive_key(
            &hkdf,
            created,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
            ],
        )
        .expect("derive");
    assert_eq!(extractability(&s, derived), (true, false));
}
