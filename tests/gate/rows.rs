//! The rows of the gate table: every path that touches a key, with its
//! preparation (made while the key is usable) and its use.

use super::*;
const GCM_IV: [u8; 12] = [7; 12];

fn no_prep(_: &Session, _: ObjectHandle, _: &[u8]) -> Prep {
    Prep::default()
}

fn gcm(iv: &mut [u8]) -> Mechanism<'_> {
    Mechanism::AesGcm(GcmParams::new(iv, &[], 128.into()).unwrap())
}

fn hkdf_template_data() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(false),
        Attribute::ValueLen(32.into()),
    ]
}

/// A key the actor (alice included) may derive with: a token key, as private
/// session objects do not outlive the logout that switches actors.
fn helper_secret(s: &Session) -> ObjectHandle {
    make_key(
        s,
        Kind::Secret,
        "helper",
        &[Attribute::Token(true), policy_attr(&open_policy(ALICE))],
    )
}

pub(super) fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "C_EncryptInit CKM_AES_GCM",
            kind: Kind::Managed,
            usage: Some(CKA_ENCRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Encrypt",
            function: "C_EncryptInit",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let mut iv = GCM_IV;
                at("C_EncryptInit", s.encrypt_init(&gcm(&mut iv), k))?;
                raw_encrypt(s, b"data")
            },
        },
        Row {
            name: "C_DecryptInit CKM_AES_GCM",
            kind: Kind::Managed,
            usage: Some(CKA_DECRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Decrypt",
            function: "C_DecryptInit",
            management: false,
            context: false,
            below_min: Some(("C_Decrypt", RvError::EncryptedDataInvalid)),
            prep: |s, k, _| {
                let mut iv = GCM_IV;
                Prep {
                    data: s.encrypt(&gcm(&mut iv), k, b"secret").unwrap(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                let mut iv = GCM_IV;
                at("C_DecryptInit", s.decrypt_init(&gcm(&mut iv), k))?;
                raw_decrypt(s, &p.data)
            },
        },
        Row {
            name: "C_SignInit CKM_SHA256_HMAC",
            kind: Kind::Hmac,
            usage: Some(CKA_SIGN),
            mech: Some(MechanismType::SHA256_HMAC),
            action: "Sign",
            function: "C_SignInit",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at("C_SignInit", s.sign(&Mechanism::Sha256Hmac, k, b"data")).map(drop)
            },
        },
        Row {
            name: "C_VerifyInit CKM_SHA256_HMAC",
            kind: Kind::Hmac,
            usage: Some(CKA_VERIFY),
            mech: Some(MechanismType::SHA256_HMAC),
            action: "Verify",
            function: "C_VerifyInit",
            management: false,
            context: false,
            below_min: None,
            prep: |s, k, _| Prep {
                data: s.sign(&Mechanism::Sha256Hmac, k, b"data").unwrap(),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                at(
                    "C_VerifyInit",
                    s.verify(&Mechanism::Sha256Hmac, k, b"data", &p.data),
                )
            },
        },
        Row {
            name: "C_MessageEncryptInit CKM_AES_GCM (random IV)",
            kind: Kind::Managed,
            usage: Some(CKA_ENCRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Encrypt",
            function: "C_MessageEncryptInit",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let (mut iv0, mut tag0) = ([0u8; 12], [0u8; 16]);
                let init = Mechanism::AesGcmMessage(
                    GcmMessageParams::new(
                        &mut iv0,
                        0.into(),
                        GeneratorFunction::GenerateRandom,
                        &mut tag0,
                    )
                    .unwrap(),
                );
                at("C_MessageEncryptInit", s.message_encrypt_init(&init, k))?;
                let (mut iv, mut tag) = ([0u8; 12], [0u8; 16]);
                let p = GcmMessageParams::new(
                    &mut iv,
                    0.into(),
                    GeneratorFunction::GenerateRandom,
                    &mut tag,
                )
                .unwrap();
                at(
                    "C_EncryptMessage",
                    s.encrypt_message(&MessageParam::AesGcmMessage(p), b"", b"data"),
                )?;
                at("C_MessageEncryptFinal", s.message_encrypt_final())
            },
        },
        Row {
            name: "C_MessageDecryptInit CKM_AES_GCM",
            kind: Kind::Managed,
            usage: Some(CKA_DECRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Decrypt",
            function: "C_MessageDecryptInit",
            management: false,
            context: false,
            below_min: None,
            prep: |s, k, _| {
                let (mut iv0, mut tag0) = ([0u8; 12], [0u8; 16]);
                let init = Mechanism::AesGcmMessage(
                    GcmMessageParams::new(
                        &mut iv0,
                        0.into(),
                        GeneratorFunction::GenerateRandom,
                        &mut tag0,
                    )
                    .unwrap(),
                );
                s.message_encrypt_init(&init, k).unwrap();
                let (mut iv, mut tag) = ([0u8; 12], [0u8; 16]);
                let p = GcmMessageParams::new(
                    &mut iv,
                    0.into(),
                    GeneratorFunction::GenerateRandom,
                    &mut tag,
                )
                .unwrap();
                let data = s
                    .encrypt_message(&MessageParam::AesGcmMessage(p), b"", b"secret")
                    .unwrap();
                s.message_encrypt_final().unwrap();
                Prep {
                    data,
                    iv: iv.to_vec(),
                    tag: tag.to_vec(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                let (mut iv0, mut tag0) = ([0u8; 12], [0u8; 16]);
                let init = Mechanism::AesGcmMessage(
                    GcmMessageParams::new(
                        &mut iv0,
                        0.into(),
                        GeneratorFunction::NoGenerate,
                        &mut tag0,
                    )
                    .unwrap(),
                );
                at("C_MessageDecryptInit", s.message_decrypt_init(&init, k))?;
                let (mut iv, mut tag) = (p.iv.clone(), p.tag.clone());
                let mp = GcmMessageParams::new(
                    &mut iv,
                    0.into(),
                    GeneratorFunction::NoGenerate,
                    &mut tag,
                )
                .unwrap();
                at(
                    "C_DecryptMessage",
                    s.decrypt_message(&MessageParam::AesGcmMessage(mp), b"", &p.data),
                )?;
                at("C_MessageDecryptFinal", s.message_decrypt_final())
            },
        },
        Row {
            name: "C_WrapKey CKM_AES_KEY_WRAP, the wrapping key",
            kind: Kind::Managed,
            usage: Some(CKA_WRAP),
            mech: Some(MechanismType::AES_KEY_WRAP),
            action: "WrapKey",
            function: "C_WrapKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(session_aes(
                    s,
                    "to wrap",
                    &[Attribute::Token(true), policy_attr(&open_policy(ALICE))],
                )),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                at(
                    "C_WrapKey",
                    s.wrap_key(&Mechanism::AesKeyWrap, k, p.helper.unwrap()),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_WrapKey CKM_AES_KEY_WRAP, the key wrapped",
            kind: Kind::Exportable,
            usage: Some(CKA_EXTRACTABLE),
            mech: None,
            action: "ExportKey",
            function: "C_WrapKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(make_key(
                    s,
                    Kind::Managed,
                    "wrapping key",
                    &[policy_attr(&open_policy(ALICE))],
                )),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                at(
                    "C_WrapKey",
                    s.wrap_key(&Mechanism::AesKeyWrap, p.helper.unwrap(), k),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_UnwrapKey CKM_AES_KEY_WRAP",
            kind: Kind::Managed,
            usage: Some(CKA_UNWRAP),
            mech: Some(MechanismType::AES_KEY_WRAP),
            action: "UnwrapKey",
            function: "C_UnwrapKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, k, _| {
                let inner = session_aes(s, "inner", &[]);
                Prep {
                    data: s.wrap_key(&Mechanism::AesKeyWrap, k, inner).unwrap(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                at(
                    "C_UnwrapKey",
                    s.unwrap_key(&Mechanism::AesKeyWrap, k, &p.data, &unwrap_template()),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_HKDF_DERIVE, the base key",
            kind: Kind::Secret,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::HKDF_DERIVE),
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let m = Mechanism::HkdfDerive(HkdfParams::new(
                    MechanismType::SHA256,
                    Some(HkdfSalt::Data(b"salt")),
                    Some(b"info"),
                ));
                at("C_DeriveKey", s.derive_key(&m, k, &derive_template())).map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_HKDF_DATA, the base key",
            kind: Kind::Secret,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::HKDF_DATA),
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let m = Mechanism::HkdfData(HkdfParams::new(
                    MechanismType::SHA256,
                    Some(HkdfSalt::Data(b"salt")),
                    Some(b"info"),
                ));
                at("C_DeriveKey", s.derive_key(&m, k, &hkdf_template_data())).map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_HKDF_DERIVE, the salt key",
            kind: Kind::Secret,
            usage: Some(CKA_DERIVE),
            mech: None,
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(helper_secret(s)),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                let m = Mechanism::HkdfDerive(HkdfParams::new(
                    MechanismType::SHA256,
                    Some(HkdfSalt::Key(k)),
                    Some(b"info"),
                ));
                at(
                    "C_DeriveKey",
                    s.derive_key(&m, p.helper.unwrap(), &derive_template()),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_ECDH1_DERIVE, the base key",
            kind: Kind::Ec,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::ECDH1_DERIVE),
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| {
                let (public, _) = s
                    .generate_key_pair(
                        &Mechanism::EccKeyPairGen,
                        &[Attribute::Token(false), Attribute::EcParams(P256.to_vec())],
                        &[Attribute::Token(false), Attribute::Derive(true)],
                    )
                    .unwrap();
                let point = read_bytes(s, public, AttributeType::EcPoint).unwrap();
                Prep {
                    data: point[2..].to_vec(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &p.data));
                at("C_DeriveKey", s.derive_key(&m, k, &derive_template())).map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_SOFTKMS_GENERATE_DATA_KEY",
            kind: Kind::Managed,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::new_vendor_defined(CKM_GENERATE_DATA_KEY).unwrap()),
            action: "GenerateDataKey",
            function: "C_DeriveKey",
            management: false,
            context: true,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, c| at("C_DeriveKey", generate_data_key(s, k, c)).map(drop),
        },
        Row {
            name: "C_DigestKey",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "DeriveKey",
            function: "C_DigestKey",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at("C_DigestInit", s.digest_init(&Mechanism::Sha256))?;
                at("C_DigestKey", s.digest_key(k))?;
                at("C_DigestFinal", s.digest_final()).map(drop)
            },
        },
        Row {
            name: "C_CopyObject",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "ManageKey",
            function: "C_CopyObject",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at(
                    "C_CopyObject",
                    s.copy_object(k, &[Attribute::Label(b"copy".to_vec())]),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_CopyObject with CKA_SOFTKMS_POLICY",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "SetPolicy",
            function: "C_CopyObject",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let p = policy(&[(&["*"], &["*"], None)]);
                at("C_CopyObject", s.copy_object(k, &[policy_attr(&p)])).map(drop)
            },
        },
        Row {
            name: "C_SetAttributeValue CKA_LABEL",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "ManageKey",
            function: "C_SetAttributeValue",
            management: true,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at(
                    "C_SetAttributeValue",
                    s.update_attributes(k, &[Attribute::Label(b"renamed".to_vec())]),
                )
            },
        },
        Row {
            name: "C_SetAttributeValue CKA_SOFTKMS_POLICY",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "SetPolicy",
            function: "C_SetAttributeValue",
            management: true,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let p = policy(&[(&["user", ALICE, "bob"], &["*"], None)]);
                at(
                    "C_SetAttributeValue",
                    s.update_attributes(k, &[policy_attr(&p)]),
                )
            },
        },
        Row {
            name: "C_DestroyObject",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "ManageKey",
            function: "C_DestroyObject",
            management: true,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| at("C_DestroyObject", s.destroy_object(k)),
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_EncryptInit",
            kind: Kind::Managed,
            usage: Some(CKA_ENCRYPT),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Encrypt",
            function: "C_EncryptInit",
            management: false,
            context: true,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, c| {
                let p = env_params(c);
                at("C_EncryptInit", s.encrypt_init(&envelope(&p), k))?;
                raw_encrypt(s, b"data")
            },
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_DecryptInit",
            kind: Kind::Managed,
            usage: Some(CKA_DECRYPT),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Decrypt",
            function: "C_DecryptInit",
            management: false,
            context: true,
            below_min: Some(("C_Decrypt", RvError::KeyFunctionNotPermitted)),
            prep: |s, k, c| Prep {
                data: s.encrypt(&envelope(&env_params(c)), k, b"secret").unwrap(),
                ..Prep::default()
            },
            run: |s, k, p, c| {
                at(
                    "C_DecryptInit",
                    s.decrypt_init(&envelope(&env_params(c)), k),
                )?;
                raw_decrypt(s, &p.data)
            },
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_WrapKey",
            kind: Kind::Managed,
            usage: Some(CKA_WRAP),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Encrypt",
            function: "C_WrapKey",
            management: false,
            context: true,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(session_aes(
                    s,
                    "to wrap",
                    &[Attribute::Token(true), policy_attr(&open_policy(ALICE))],
                )),
                ..Prep::default()
            },
            run: |s, k, p, c| {
                at(
                    "C_WrapKey",
                    s.wrap_key(&envelope(&env_params(c)), k, p.helper.unwrap()),
                )
                .map(drop)
            },
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_UnwrapKey",
            kind: Kind::Managed,
            usage: Some(CKA_UNWRAP),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Decrypt",
            function: "C_UnwrapKey",
            management: false,
            context: true,
            below_min: Some(("C_UnwrapKey", RvError::KeyFunctionNotPermitted)),
            prep: |s, k, c| {
                let inner = session_aes(s, "inner", &[]);
                Prep {
                    data: s.wrap_key(&envelope(&env_params(c)), k, inner).unwrap(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, c| {
                at(
                    "C_UnwrapKey",
                    s.unwrap_key(&envelope(&env_params(c)), k, &p.data, &unwrap_template()),
                )
                .map(drop)
            },
        },
    ]
}
