//! The mechanism list against what the tests exercise, and the
//! extractability defaults of new keys.

use super::*;

fn push_once(v: &mut Vec<(CK_MECHANISM_TYPE, CK_FLAGS)>, m: CK_MECHANISM_TYPE, f: CK_FLAGS) {
    if !v.iter().any(|(w, _)| *w == m) {
        v.push((m, f));
    }
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
        // mech_curves, mech_pq
        CKM_EDDSA,
        CKM_ML_DSA,
        CKM_HASH_ML_DSA,
        CKM_HASH_ML_DSA_SHA224,
        CKM_HASH_ML_DSA_SHA256,
        CKM_HASH_ML_DSA_SHA384,
        CKM_HASH_ML_DSA_SHA512,
        CKM_HASH_ML_DSA_SHA3_224,
        CKM_HASH_ML_DSA_SHA3_256,
        CKM_HASH_ML_DSA_SHA3_384,
        CKM_HASH_ML_DSA_SHA3_512,
        CKM_HASH_ML_DSA_SHAKE128,
        CKM_HASH_ML_DSA_SHAKE256,
    ] {
        v.push((m, sv));
    }
    // mech_curves, mech_pq
    for m in [
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        CKM_ML_DSA_KEY_PAIR_GEN,
        CKM_ML_KEM_KEY_PAIR_GEN,
    ] {
        v.push((m, CKF_GENERATE_KEY_PAIR));
    }
    v.push((CKM_ML_KEM, CKF_ENCAPSULATE | CKF_DECAPSULATE));
    // mech_kdf_derive
    for m in [
        CKM_SP800_108_COUNTER_KDF,
        CKM_SP800_108_FEEDBACK_KDF,
        CKM_SP800_108_DOUBLE_PIPELINE_KDF,
        CKM_CONCATENATE_BASE_AND_KEY,
        CKM_CONCATENATE_BASE_AND_DATA,
        CKM_CONCATENATE_DATA_AND_BASE,
        CKM_XOR_BASE_AND_DATA,
        CKM_EXTRACT_KEY_FROM_KEY,
        CKM_AES_ECB_ENCRYPT_DATA,
        CKM_AES_CBC_ENCRYPT_DATA,
    ] {
        v.push((m, CKF_DERIVE));
    }
    // mech_digest_mac: the HMAC key generations
    for m in [
        CKM_SHA_1_KEY_GEN,
        CKM_SHA224_KEY_GEN,
        CKM_SHA256_KEY_GEN,
        CKM_SHA384_KEY_GEN,
        CKM_SHA512_KEY_GEN,
        CKM_SHA512_224_KEY_GEN,
        CKM_SHA512_256_KEY_GEN,
        CKM_SHA3_224_KEY_GEN,
        CKM_SHA3_256_KEY_GEN,
        CKM_SHA3_384_KEY_GEN,
        CKM_SHA3_512_KEY_GEN,
    ] {
        v.push((m, CKF_GENERATE));
    }
    // mech_digest_mac runs every row of its vector tables: the digests and
    // MACs named there are exercised.
    for r in table("so-digest.txt") {
        push_once(&mut v, ckm(&r[0]), CKF_DIGEST);
    }
    for r in table("so-mac.txt") {
        push_once(&mut v, ckm(&r[0]), sv);
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
        | CKF_MULTI_MESSAGE
        | CKF_ENCAPSULATE
        | CKF_DECAPSULATE;
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
