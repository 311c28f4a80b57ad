//! The Rust API (`softkms::api`), as a program would use it: a throw-away
//! token in a temporary directory, found through `SOFTKMS_CONF`.
//!
//! SoftKMS is opened once per process at a time, so the tests take turns.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use softkms::api::{
    AuditQuery, EncryptionContext, ErrorKind, KeyOptions, KeyPolicy, KeyRef, KeySpec, KeyState,
    MacAlgorithm, Pin, Principal, PrincipalName, SigningAlgorithm, Softkms, Token,
};
mod api_common;

use api_common::*;

fn managed_key(t: &Token, label: &str) -> KeyRef {
    let k = t
        .create_key(
            KeySpec::Aes256,
            &KeyOptions {
                label: Some(label.into()),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    assert!(k.managed);
    assert_eq!(k.spec, Some(KeySpec::Aes256));
    assert_eq!(k.state, Some(KeyState::Enabled));
    assert_eq!(k.current_version, Some(1));
    KeyRef::from(&k.id)
}

#[test]
fn envelope_encryption_with_context_rotation_and_lifecycle() {
    let f = Fixture::new("api", "");
    let t = f.user();
    let key = managed_key(&t, "k1");
    let ctx = EncryptionContext::new().with("app", "billing");

    // Encrypt and decrypt, bound to the context.
    let v1 = t.encrypt(&key, b"hello, envelope", &ctx).unwrap();
    let back = t.decrypt(&v1, &ctx).unwrap();
    assert_eq!(back.plaintext.as_bytes(), b"hello, envelope");
    assert_eq!(back.key_version, 1);
    assert_eq!(KeyRef::from(&back.key_id), key);

    // Another context, or none, is refused with the typed error.
    for wrong in [
        EncryptionContext::new().with("app", "other"),
        EncryptionContext::new(),
    ] {
        let e = t.decrypt(&v1, &wrong).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidCiphertext, "{e}");
    }
    // A changed message too; something else is not a message at all.
    let mut bent = v1.clone();
    let last = bent.len() - 1;
    bent[last] ^= 1;
    assert_eq!(
        t.decrypt(&bent, &ctx).unwrap_err().kind(),
        ErrorKind::InvalidCiphertext
    );
    assert_eq!(
        t.decrypt(b"not a message", &ctx).unwrap_err().kind(),
        ErrorKind::InvalidCiphertext
    );

    // Rotate: new encryptions use version 2, the old message still opens.
    let rotated = t.rotate_key(&key).unwrap();
    assert_eq!(rotated.current_version, Some(2));
    assert_eq!(t.list_key_versions(&key).unwrap().len(), 2);
    let v2 = t.encrypt(&key, b"after", &ctx).unwrap();
    assert_eq!(t.decrypt(&v2, &ctx).unwrap().key_version, 2);
    let old = t.decrypt(&v1, &ctx).unwrap();
    assert_eq!(old.key_version, 1);
    assert_eq!(old.plaintext.as_bytes(), b"hello, envelope");

    // Disabled: every use fails with Disabled; enabled again, it works.
    assert_eq!(t.disable_key(&key).unwrap().state, Some(KeyState::Disabled));
    let e = t.encrypt(&key, b"x", &ctx).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Disabled, "{e}");
    assert_eq!(
        t.decrypt(&v1, &ctx).unwrap_err().kind(),
        ErrorKind::Disabled
    );
    t.enable_key(&key).unwrap();
    assert!(t.decrypt(&v1, &ctx).is_ok());

    // Pending deletion: InvalidState; an invalid window is InvalidInput.
    assert_eq!(
        t.schedule_key_deletion(&key, Some(3)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let pd = t.schedule_key_deletion(&key, Some(7)).unwrap();
    assert_eq!(pd.state, Some(KeyState::PendingDeletion));
    assert!(pd.deletion_time.is_some());
    assert_eq!(
        t.encrypt(&key, b"x", &ctx).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    assert_eq!(
        t.enable_key(&key).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    assert_eq!(
        t.cancel_key_deletion(&key).unwrap().state,
        Some(KeyState::Disabled)
    );

    // Keys are found by label too; unknown ones are NotFound.
    assert_eq!(
        t.describe_key(&KeyRef::label("k1"))
            .unwrap()
            .label
            .as_deref(),
        Some("k1")
    );
    assert_eq!(
        t.describe_key(&KeyRef::label("nope")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn streams_data_keys_and_re_encryption() {
    let f = Fixture::new("api", "");
    let t = f.user();
    let a = managed_key(&t, "a");
    let b = managed_key(&t, "b");
    let ctx = EncryptionContext::new().with("tenant", "7");

    // A stream of several parts.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut message = Vec::new();
    let mut seen = 0;
    let n = t
        .encrypt_stream(&a, &ctx, &mut &data[..], &mut message, &mut |d| seen = d)
        .unwrap();
    assert_eq!(n, data.len() as u64);
    assert_eq!(seen, n);
    let mut back = Vec::new();
    let id = t
        .decrypt_stream(&ctx, &mut &message[..], &mut back, &mut |_| {})
        .unwrap();
    assert_eq!(back, data);
    assert_eq!(KeyRef::from(&id), a);
    let mut sink = Vec::new();
    let e = t
        .decrypt_stream(
            &EncryptionContext::new(),
            &mut &message[..],
            &mut sink,
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCiphertext);

    // Data keys: the blob decrypts to the plaintext, also after re-encryption.
    let dk = t.generate_data_key(&a, 16, &ctx).unwrap();
    assert_eq!(dk.plaintext.len(), 16);
    assert_eq!(
        t.decrypt(&dk.ciphertext_blob, &ctx).unwrap().plaintext,
        dk.plaintext
    );
    let re = t.re_encrypt(&dk.ciphertext_blob, &ctx, &b, &ctx).unwrap();
    assert_eq!(KeyRef::from(&re.source_key_id), a);
    assert_eq!(KeyRef::from(&re.key_id), b);
    let again = t.decrypt(&re.ciphertext_blob, &ctx).unwrap();
    assert_eq!(again.plaintext, dk.plaintext);
    assert_eq!(KeyRef::from(&again.key_id), b);
    let blind = t.generate_data_key_without_plaintext(&a, 32, &ctx).unwrap();
    assert_eq!(t.decrypt(&blind, &ctx).unwrap().plaintext.len(), 32);
    assert_eq!(
        t.generate_data_key(&a, 100_000, &ctx).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn principals_policies_and_the_audit_log() {
    let f = Fixture::new("api", "");
    let alice = PrincipalName::new("alice").unwrap();
    assert_eq!(
        PrincipalName::new("so").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    {
        let so = f.kms.token(0).unwrap();
        so.login(&Principal::SecurityOfficer, &Pin::from(SO_PIN))
            .unwrap();
        so.add_principal(&alice, &Pin::from("alice-pin")).unwrap();
        assert_eq!(so.list_principals().unwrap(), vec!["alice".to_string()]);
    }
    let key_id;
    let message;
    let ctx = EncryptionContext::new().with("app", "x");
    {
        let t = f.user();
        let key = managed_key(&t, "shared");
        key_id = t.describe_key(&key).unwrap().id;
        let policy = KeyPolicy::parse(
            r#"{"statements": [
                {"principals": ["user"], "allow": ["*"]},
                {"principals": ["alice"], "allow": ["Encrypt"]}
            ]}"#,
        )
        .unwrap();
        assert!(!policy.locks_out());
        assert_eq!(
            KeyPolicy::parse(r#"{"statements": [], "alow": 1}"#)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        let k = t.put_key_policy(&key, &policy, false).unwrap();
        assert_eq!(k.policy.as_ref(), Some(&policy));
        message = t.encrypt(&key, b"for alice's eyes? no", &ctx).unwrap();
        t.logout().unwrap();
    }
    {
        let t = f.kms.token(0).unwrap();
        let e = t
            .login(&Principal::Named("alice".into()), &Pin::from("wrong"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PinIncorrect);
        t.login(&Principal::Named("alice".into()), &Pin::from("alice-pin"))
            .unwrap();
        let key = KeyRef::from(&key_id);
        assert!(t.encrypt(&key, b"ok", &ctx).is_ok());
        let e = t.decrypt(&message, &ctx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
        assert!(e.pkcs11_rv().is_some());
        // Not the whole log for alice.
        assert_eq!(
            t.verify_audit().unwrap_err().kind(),
            ErrorKind::AccessDenied
        );
        t.logout().unwrap();
    }
    // The token owner reads the key's records, and the chain verifies.
    let t = f.user();
    let records = t
        .audit_records(&AuditQuery {
            key_id: Some(key_id.clone()),
            ..AuditQuery::default()
        })
        .unwrap();
    assert!(records
        .iter()
        .any(|r| r.principal() == "alice" && r.result_name() == "CKR_KEY_FUNCTION_NOT_PERMITTED"));
    assert!(records.iter().all(|r| r.key_id() == Some(key_id.as_str())));
    let v = t.verify_audit().unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(t.audit_head().unwrap(), v.head);
    assert!(v.head.seq >= v.records);
}

#[test]
fn key_specs_and_usages() {
    let f = Fixture::new("api", "");
    let t = f.user();
    for spec in [KeySpec::Hmac256, KeySpec::EccNistP256, KeySpec::Rsa2048] {
        let k = t
            .create_key(
                spec,
                &KeyOptions {
                    label: Some(spec.name().into()),
                    ..KeyOptions::default()
                },
            )
            .unwrap();
        assert_eq!(k.spec, Some(spec), "{k:?}");
        assert!(!k.managed);
        for u in spec.usages() {
            assert!(k.usages.contains(u), "{spec}: {:?}", k.usages);
        }
    }
    let e = t
        .create_key(
            KeySpec::Rsa2048,
            &KeyOptions {
                rotation_period_days: Some(90),
                ..KeyOptions::default()
            },
        )
        .unwrap_err();
    // Asymmetric and HMAC keys do not rotate (AWS KMS: UnsupportedOperation).
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    // Signatures, MACs and public keys.
    for (label, alg) in [
        ("p256", SigningAlgorithm::EcdsaSha256),
        ("rsa2048", SigningAlgorithm::RsassaPssSha256),
        ("rsa2048", SigningAlgorithm::RsassaPkcs1V15Sha256),
    ] {
        let key = KeyRef::label(label);
        let sig = t.sign(&key, b"signed", alg).unwrap();
        t.verify(&key, b"signed", &sig, alg).unwrap();
        let e = t.verify(&key, b"changed", &sig, alg).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSignature, "{alg}: {e}");
        assert_eq!(t.get_public_key(&key).unwrap()[0], 0x30);
    }
    let hmac = KeyRef::label("hmac256");
    let mac = t
        .generate_mac(&hmac, b"m", MacAlgorithm::HmacSha256)
        .unwrap();
    assert_eq!(mac.len(), 32);
    t.verify_mac(&hmac, b"m", &mac, MacAlgorithm::HmacSha256)
        .unwrap();
    assert_eq!(
        t.verify_mac(&hmac, b"n", &mac, MacAlgorithm::HmacSha256)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidSignature
    );
    assert_eq!(
        t.get_public_key(&hmac).unwrap_err().kind(),
        ErrorKind::InvalidKeyUsage
    );
    let listed = t.list_keys().unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(t.generate_random(16).unwrap().len(), 16);
    assert!(f.kms.mechanisms().iter().any(|m| m.name == "CKM_AES_GCM"));
    assert_eq!(format!("{:?}", Pin::from("1234")), "Pin(..)");
    // An open SoftKMS cannot be opened twice.
    assert_eq!(Softkms::open().unwrap_err().kind(), ErrorKind::InvalidState);
}

#[test]
fn handles_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Softkms>();
    shared::<Token>();
    shared::<softkms::api::Error>();
    let f = Fixture::new("api", "");
    let t = f.user();
    let key = managed_key(&t, "threads");
    let ctx = EncryptionContext::new().with("t", "1");
    std::thread::scope(|s| {
        for i in 0..4u8 {
            let (t, key, ctx) = (&t, &key, &ctx);
            s.spawn(move || {
                for _ in 0..5 {
                    let m = t.encrypt(key, &[i; 100], ctx).unwrap();
                    assert_eq!(t.decrypt(&m, ctx).unwrap().plaintext.as_bytes(), &[i; 100]);
                }
            });
        }
    });
}
