//! Key usage and CKA_ALLOWED_MECHANISMS, key-type, parameter and mechanism
//! errors, the wrapping rules (CKA_EXTRACTABLE, CKA_LOCAL).

use super::*;

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
    for m in [CKM_DES_ECB, CKM_VENDOR_DEFINED | 0x1234, CKM_MD5] {
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
