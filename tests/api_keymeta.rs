//! The Rust API's key metadata (descriptions, tags, minimum decryption
//! version), data key pairs, ReEncrypt of messages, and its errors in words.
//! A throw-away token per test, found through `SOFTKMS_CONF`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use softkms::api::{
    AuditQuery, EncryptionContext, ErrorKind, KeyOptions, KeyPolicy, KeyRef, KeySpec, KeyState,
    MacAlgorithm, Pin, Principal, PrincipalName, SigningAlgorithm, Token,
};
use std::collections::BTreeMap;
mod api_common;

use api_common::*;

fn key(t: &Token, spec: KeySpec, label: &str) -> KeyRef {
    let k = t
        .create_key(
            spec,
            &KeyOptions {
                label: Some(label.into()),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    KeyRef::from(&k.id)
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn descriptions_and_tags() {
    let f = Fixture::new("api", "");
    let t = f.user();
    let made = t
        .create_key(
            KeySpec::Aes256,
            &KeyOptions {
                label: Some("billing".into()),
                description: Some("keys of the billing service".into()),
                tags: tags(&[("team", "payments"), ("env", "prod")]),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        made.description.as_deref(),
        Some("keys of the billing service")
    );
    assert_eq!(made.tags, tags(&[("env", "prod"), ("team", "payments")]));
    let k = KeyRef::from(&made.id);

    let d = t.update_key_description(&k, "renamed").unwrap();
    assert_eq!(d.description.as_deref(), Some("renamed"));
    assert_eq!(
        t.describe_key(&k).unwrap().description.as_deref(),
        Some("renamed")
    );
    // Tagging adds and overwrites; untagging ignores keys that are absent.
    let d = t
        .tag_key(&k, &tags(&[("env", "staging"), ("cost", "42")]))
        .unwrap();
    assert_eq!(
        d.tags,
        tags(&[("cost", "42"), ("env", "staging"), ("team", "payments")])
    );
    let d = t
        .untag_key(&k, &["team".to_string(), "never-there".to_string()])
        .unwrap();
    assert_eq!(d.tags, tags(&[("cost", "42"), ("env", "staging")]));
    assert_eq!(t.list_keys().unwrap()[0].tags, d.tags);
    let d = t.update_key_description(&k, "").unwrap();
    assert_eq!(d.description, None);

    // Key pairs: the private key holds them.
    let p = t
        .create_key(
            KeySpec::EccNistP256,
            &KeyOptions {
                label: Some("signer".into()),
                description: Some("signs".into()),
                tags: tags(&[("a", "b")]),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    assert_eq!(p.description.as_deref(), Some("signs"));
    assert_eq!(p.tags, tags(&[("a", "b")]));

    // The limits, in words.
    let long = "x".repeat(8193);
    let e = t.update_key_description(&k, &long).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("at most 8192 bytes"), "{e}");
    assert!(t.update_key_description(&k, &"x".repeat(8192)).is_ok());
    for (bad, phrase) in [
        (tags(&[("aws:owner", "x")]), "reserved"),
        (tags(&[("", "x")]), "1 to 128 characters"),
        (tags(&[(&"k".repeat(129), "x")]), "1 to 128 characters"),
        (tags(&[("k", &"v".repeat(257))]), "at most 256 characters"),
    ] {
        let e = t.tag_key(&k, &bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.message().contains(phrase), "{e}");
        assert_eq!(e.code_name(), "CKR_ATTRIBUTE_VALUE_INVALID");
    }
    // At most 50 tags, counting those the key has.
    let many: BTreeMap<String, String> =
        (0..49).map(|i| (format!("t{i}"), String::new())).collect();
    let e = t.tag_key(&k, &many).unwrap_err();
    assert!(e.message().contains("at most 50 tags"), "{e}");
    t.untag_key(&k, &["cost".to_string(), "env".to_string()])
        .unwrap();
    let full: BTreeMap<String, String> =
        (0..50).map(|i| (format!("t{i}"), String::new())).collect();
    assert_eq!(t.tag_key(&k, &full).unwrap().tags.len(), 50);
    let e = t
        .create_key(
            KeySpec::Aes256,
            &KeyOptions {
                tags: tags(&[("AWS:x", "y")]),
                ..KeyOptions::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn metadata_changes_need_manage_key() {
    let f = Fixture::new("api", "");
    let alice = PrincipalName::new("alice").unwrap();
    {
        let so = f.kms.token(0).unwrap();
        so.login(&Principal::SecurityOfficer, &Pin::from(SO_PIN))
            .unwrap();
        so.add_principal(&alice, &Pin::from("alice-pin")).unwrap();
    }
    let id;
    {
        let t = f.user();
        let k = key(&t, KeySpec::Aes256, "k");
        id = t.describe_key(&k).unwrap().id;
        let policy = KeyPolicy::parse(
            r#"{"statements": [
                {"principals": ["user"], "allow": ["*"]},
                {"principals": ["alice"], "allow": ["Encrypt", "GenerateDataKey"]}
            ]}"#,
        )
        .unwrap();
        t.put_key_policy(&k, &policy, false).unwrap();
        t.logout().unwrap();
    }
    let t = f.kms.token(0).unwrap();
    t.login(&Principal::Named("alice".into()), &Pin::from("alice-pin"))
        .unwrap();
    let k = KeyRef::from(&id);
    let e = t.update_key_description(&k, "mine").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    let e = t.tag_key(&k, &tags(&[("a", "b")])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");

    // GenerateDataKey alone gives data key pairs with their plaintext, but
    // not the decryption of their blob.
    let ctx = EncryptionContext::new().with("p", "1");
    let pair = t
        .generate_data_key_pair(&k, KeySpec::EccNistP256, &ctx, true)
        .unwrap();
    assert!(pair.private_key_plaintext.is_some());
    let e = t
        .decrypt(&pair.private_key_ciphertext_blob, &ctx)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    t.logout().unwrap();
    // Nor may a principal with Decrypt alone make one.
    drop(t);
    let t = f.user();
    let policy = KeyPolicy::parse(
        r#"{"statements": [
            {"principals": ["user"], "allow": ["SetPolicy", "Decrypt", "ManageKey"]}
        ]}"#,
    )
    .unwrap();
    t.put_key_policy(&k, &policy, false).unwrap();
    let e = t
        .generate_data_key_pair(&k, KeySpec::EccNistP256, &ctx, false)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    // The user may still decrypt the pair alice made.
    let back = t.decrypt(&pair.private_key_ciphertext_blob, &ctx).unwrap();
    assert_eq!(Some(&back.plaintext), pair.private_key_plaintext.as_ref());
    // Alice's refused writes are in the audit log, and her wrap.
    let records = t
        .audit_records(&AuditQuery {
            key_id: Some(id.clone()),
            ..AuditQuery::default()
        })
        .unwrap();
    let refused = |f: &str| {
        records.iter().any(|r| {
            r.principal() == "alice"
                && r.function() == f
                && r.result_name() == "CKR_KEY_FUNCTION_NOT_PERMITTED"
        })
    };
    assert!(refused("C_SetAttributeValue"), "{records:?}");
    assert!(records
        .iter()
        .any(|r| r.principal() == "alice" && r.function() == "C_WrapKey" && r.result_code() == 0));
}

#[test]
fn minimum_decryption_version() {
    let f = Fixture::new("api", "");
    let t = f.user();
    let k = key(&t, KeySpec::Aes256, "k");
    let ctx = EncryptionContext::new();
    let v1 = t.encrypt(&k, b"one", &ctx).unwrap();
    t.rotate_key(&k).unwrap();
    t.rotate_key(&k).unwrap();
    let v3 = t.encrypt(&k, b"three", &ctx).unwrap();
    let e = t.set_min_decrypt_version(&k, 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.message()
            .contains("version 4 does not exist (the key has versions 1..3)"),
        "{e}"
    );
    let m = t.set_min_decrypt_version(&k, 2).unwrap();
    assert_eq!(m.min_decrypt_version, Some(2));
    assert!(t.decrypt(&v1, &ctx).is_err());
    assert!(t.decrypt(&v3, &ctx).is_ok());
    let e = t.set_min_decrypt_version(&k, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("only goes up"), "{e}");
    let p = key(&t, KeySpec::EccNistP256, "ec");
    let e = t.set_min_decrypt_version(&p, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);
    assert!(e.message().contains("has no versions"), "{e}");
}

/// The SubjectPublicKeyInfo of a PKCS#8 private key, made by the crypto
/// crates (not by SoftKMS).
fn spki_of(spec: KeySpec, pkcs8: &[u8]) -> Vec<u8> {
    use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
    match spec {
        KeySpec::EccNistP256 => p256::SecretKey::from_pkcs8_der(pkcs8)
            .unwrap()
            .public_key()
            .to_public_key_der()
            .unwrap()
            .into_vec(),
        KeySpec::EccNistP384 => p384::SecretKey::from_pkcs8_der(pkcs8)
            .unwrap()
            .public_key()
            .to_public_key_der()
            .unwrap()
            .into_vec(),
        KeySpec::EccNistP521 => p521::SecretKey::from_pkcs8_der(pkcs8)
            .unwrap()
            .public_key()
            .to_public_key_der()
            .unwrap()
            .into_vec(),
        KeySpec::EccSecgP256k1 => k256::SecretKey::from_pkcs8_der(pkcs8)
            .unwrap()
            .public_key()
            .to_public_key_der()
            .unwrap()
            .into_vec(),
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
            rsa::PrivateKey::from_pkcs8_der(pkcs8)
                .unwrap()
                .to_public_key()
                .to_public_key_der()
                .unwrap()
                .into_vec()
        }
        KeySpec::Ed25519 => {
            // RFC 8410: the seed is the last 32 bytes of the PKCS#8; the
            // SubjectPublicKeyInfo is a fixed prefix and the public key.
            let seed: [u8; 32] = pkcs8[pkcs8.len() - 32..].try_into().unwrap();
            let public = ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes();
            let mut spki = vec![
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            spki.extend_from_slice(&public);
            spki
        }
        other => panic!("no data key pair of {other}"),
    }
}

#[test]
fn data_key_pairs_of_every_spec() {
    let f = Fixture::new("api", "");
    let t = f.user();
    let k = key(&t, KeySpec::Aes256, "k");
    let ctx = EncryptionContext::new().with("purpose", "pairs");
    let before = t.list_objects().unwrap().len();
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::Ed25519,
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::Rsa4096,
    ] {
        let pair = t.generate_data_key_pair(&k, spec, &ctx, true).unwrap();
        assert_eq!(pair.spec, spec);
        assert_eq!(KeyRef::from(&pair.key_id), k);
        let pkcs8 = pair.private_key_plaintext.as_ref().unwrap();
        // The plaintext is PKCS#8 of the private key of the public key.
        assert_eq!(spki_of(spec, pkcs8.as_bytes()), pair.public_key, "{spec}");
        // The blob decrypts to the same PKCS#8, and names the managed key.
        let back = t.decrypt(&pair.private_key_ciphertext_blob, &ctx).unwrap();
        assert_eq!(&back.plaintext, pkcs8, "{spec}");
        assert_eq!(KeyRef::from(&back.key_id), k);
        assert!(t
            .decrypt(&pair.private_key_ciphertext_blob, &EncryptionContext::new())
            .is_err());
    }
    // Without plaintext: none, and the blob still opens.
    let pair = t
        .generate_data_key_pair(&k, KeySpec::Ed25519, &ctx, false)
        .unwrap();
    assert!(pair.private_key_plaintext.is_none());
    let back = t.decrypt(&pair.private_key_ciphertext_blob, &ctx).unwrap();
    assert_eq!(
        spki_of(KeySpec::Ed25519, back.plaintext.as_bytes()),
        pair.public_key
    );
    // The session pairs are gone.
    assert_eq!(t.list_objects().unwrap().len(), before);
    // Other specs and other keys are refused in words.
    let e = t
        .generate_data_key_pair(&k, KeySpec::MlDsa65, &ctx, true)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("rsa2048"), "{e}");
    let ec = key(&t, KeySpec::EccNistP256, "ec");
    let e = t
        .generate_data_key_pair(&ec, KeySpec::EccNistP256, &ctx, true)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage, "{e}");
}

#[test]
fn re_encrypt_messages() {
    let f = Fixture::new("api", "");
    let t = f.user();
    let a = key(&t, KeySpec::Aes256, "a");
    let b = key(&t, KeySpec::Aes256, "b");
    let ca = EncryptionContext::new().with("from", "a");
    let cb = EncryptionContext::new().with("to", "b");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let m = t.encrypt(&a, &data, &ca).unwrap();
    let re = t.re_encrypt_message(&m, &ca, &b, &cb).unwrap();
    assert_eq!(KeyRef::from(&re.source_key_id), a);
    assert_eq!(KeyRef::from(&re.key_id), b);
    let back = t.decrypt(&re.ciphertext_blob, &cb).unwrap();
    assert_eq!(back.plaintext.as_bytes(), &data[..]);
    assert_eq!(KeyRef::from(&back.key_id), b);
    // A wrong source context fails and makes nothing.
    let e = t.re_encrypt_message(&m, &cb, &b, &cb).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCiphertext, "{e}");
    // The new message is bound to the new context.
    assert_eq!(
        t.decrypt(&re.ciphertext_blob, &ca).unwrap_err().kind(),
        ErrorKind::InvalidCiphertext
    );
    let ec = key(&t, KeySpec::EccNistP256, "ec");
    let e = t.re_encrypt_message(&m, &ca, &ec, &cb).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage, "{e}");
}

#[test]
fn errors_say_the_rule() {
    let f = Fixture::new("api", "");
    let t = f.user();
    let k = key(&t, KeySpec::Aes256, "sym");
    let ec = key(&t, KeySpec::EccNistP256, "x");
    let hmac = key(&t, KeySpec::Hmac256, "mac");
    let ctx = EncryptionContext::new();
    let no_hex = |e: &softkms::api::Error| {
        assert!(!e.message().contains("0x"), "{e}");
        assert!(!e.message().contains("CKR 0x"), "{e}");
    };

    // Rotation periods, at creation and later.
    let e = t
        .create_key(
            KeySpec::Aes256,
            &KeyOptions {
                rotation_period_days: Some(30),
                ..KeyOptions::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.message()
            .contains("rotation period must be 0 (off) or 90 to 2560 days"),
        "{e}"
    );
    no_hex(&e);
    let e = t.set_rotation_period(&k, Some(3000)).unwrap_err();
    assert!(e.message().contains("90 to 2560 days"), "{e}");
    assert!(t.set_rotation_period(&k, Some(90)).is_ok());
    assert!(t.set_rotation_period(&k, None).is_ok());

    // Deletion windows.
    let e = t.schedule_key_deletion(&k, Some(3)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.message().contains("deletion window must be 7 to 30 days"),
        "{e}"
    );

    // Data key sizes.
    for n in [0, 1025] {
        let e = t.generate_data_key(&k, n, &ctx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("a data key is 1 to 1024 bytes"), "{e}");
    }

    // Keys of the wrong kind.
    let e = t.encrypt(&ec, b"x", &ctx).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);
    assert!(
        e.message().contains(
            r#"key "x" is a P-256 key (SIGN_VERIFY, KEY_AGREEMENT): encryption needs a symmetric key (aes256)"#
        ),
        "{e}"
    );
    let e = t.generate_data_key(&hmac, 32, &ctx).unwrap_err();
    assert!(
        e.message().contains("encryption needs a symmetric key"),
        "{e}"
    );
    let e = t.sign(&k, b"m", SigningAlgorithm::EcdsaSha256).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);
    assert!(
        e.message()
            .contains(r#"key "sym" is an AES-256 key (ENCRYPT_DECRYPT): signing needs"#),
        "{e}"
    );
    let e = t
        .generate_mac(&ec, b"m", MacAlgorithm::HmacSha256)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);
    assert!(e.message().contains("a MAC needs an HMAC key"), "{e}");
    let e = t
        .verify_mac(&k, b"m", &[0; 32], MacAlgorithm::HmacSha256)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);

    let rsa = t
        .create_key(
            KeySpec::Rsa2048,
            &KeyOptions {
                label: Some("enc".into()),
                usage: Some(softkms::api::KeyUsage::EncryptDecrypt),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    let e = t
        .sign(
            &KeyRef::from(&rsa.id),
            b"m",
            SigningAlgorithm::RsassaPssSha256,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);
    assert!(
        e.message().contains(
            r#"key "enc" is an RSA 2048 key (ENCRYPT_DECRYPT): signing needs a key made with the usage SIGN_VERIFY"#
        ),
        "{e}"
    );

    let e = t.get_public_key(&hmac).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);
    assert!(
        e.message()
            .contains(r#"key "mac" (hmac256) has no public key: only key pairs do"#),
        "{e}"
    );
    let nobody =
        KeyPolicy::parse(r#"{"statements": [{"principals": ["user"], "allow": ["Encrypt"]}]}"#)
            .unwrap();
    let e = t.put_key_policy(&ec, &nobody, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("nobody able to change it"), "{e}");

    // Rotation of a key that does not rotate.
    let e = t.rotate_key(&ec).unwrap_err();
    assert!(
        e.message()
            .contains(r#"key "x" (p256) does not rotate: only symmetric keys"#),
        "{e}"
    );

    // Lifecycle: disabled, pending deletion.
    t.disable_key(&k).unwrap();
    let e = t.encrypt(&k, b"x", &ctx).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Disabled);
    assert!(
        e.message()
            .contains(r#"key "sym" is disabled: enable it with softkms key enable"#),
        "{e}"
    );
    let e = t.cancel_key_deletion(&k).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert!(e.message().contains("not pending deletion"), "{e}");
    assert_eq!(t.describe_key(&k).unwrap().state, Some(KeyState::Disabled));
    t.schedule_key_deletion(&k, Some(7)).unwrap();
    let e = t.enable_key(&k).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert!(
        e.message().contains(
            r#"key "sym" is pending deletion: cancel the deletion first (softkms key cancel-deletion)"#
        ),
        "{e}"
    );
    let e = t.encrypt(&k, b"x", &ctx).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert!(e.message().contains("pending deletion"), "{e}");
    assert_eq!(
        t.cancel_key_deletion(&k).unwrap().state,
        Some(KeyState::Disabled)
    );

    // PINs: the token's limits.
    let e = t
        .change_pin(&Pin::from(USER_PIN), &Pin::from("123"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("the PIN must be 4 to"), "{e}");
    assert_eq!(e.code_name(), "CKR_PIN_LEN_RANGE");
    drop(t);
    let so = f.kms.token(0).unwrap();
    so.login(&Principal::SecurityOfficer, &Pin::from(SO_PIN))
        .unwrap();
    let bob = PrincipalName::new("bob").unwrap();
    let e = so.add_principal(&bob, &Pin::from("12")).unwrap_err();
    assert!(e.message().contains("the PIN must be 4 to"), "{e}");
    let e = so.init_user_pin(&Pin::from("1")).unwrap_err();
    assert!(e.message().contains("the PIN must be 4 to"), "{e}");

    // Not found, with a code a PKCS#11 client would know.
    drop(so);
    let t = f.user();
    let e = t.describe_key(&KeyRef::label("nope")).unwrap_err();
    assert_eq!(e.code_name(), "CKR_KEY_HANDLE_INVALID");
    let e = t.decrypt(b"not a message", &ctx).unwrap_err();
    assert_eq!(e.code_name(), "CKR_ENCRYPTED_DATA_INVALID");
}
