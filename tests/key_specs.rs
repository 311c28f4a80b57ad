//! The KMS key specs of `softkms key create --spec` and the Rust API: the
//! spec table (names, AWS names, usages), and for every spec a key that is
//! made, described as its spec, disabled and enabled like a managed key,
//! audited, and refused rotation unless it is a managed (AES) key.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)]

use softkms::api::{
    AuditQuery, ErrorKind, KeyOptions, KeyRef, KeySpec, KeyState, KeyUsage, MacAlgorithm,
};
mod api_common;

use api_common::*;

#[test]
fn the_spec_table() {
    let names: Vec<&str> = KeySpec::all().map(KeySpec::name).collect();
    assert_eq!(
        names,
        [
            "aes256",
            "aes128",
            "hmac224",
            "hmac256",
            "hmac384",
            "hmac512",
            "p256",
            "p384",
            "p521",
            "secp256k1",
            "ed25519",
            "ml-dsa-44",
            "ml-dsa-65",
            "ml-dsa-87",
            "rsa2048",
            "rsa3072",
            "rsa4096"
        ]
    );
    for spec in KeySpec::all() {
        assert_eq!(spec.name().parse::<KeySpec>().unwrap(), spec);
        if let Some(aws) = spec.aws_name() {
            assert_eq!(aws.parse::<KeySpec>().unwrap(), spec);
        }
        assert!(!spec.usages().is_empty());
        assert_eq!(spec.is_managed(), spec.name().starts_with("aes"));
        assert_eq!(
            spec.is_pair(),
            !spec.name().starts_with("aes") && !spec.name().starts_with("hmac")
        );
    }
    let aws = |s: &str| s.parse::<KeySpec>().unwrap();
    assert_eq!(aws("ECC_NIST_P384"), KeySpec::EccNistP384);
    assert_eq!(aws("ECC_NIST_P521"), KeySpec::EccNistP521);
    assert_eq!(aws("ECC_SECG_P256K1"), KeySpec::EccSecgP256k1);
    assert_eq!(aws("ML_DSA_65"), KeySpec::MlDsa65);
    assert_eq!(aws("HMAC_384"), KeySpec::Hmac384);
    // secp256k1 signs only (as in AWS KMS); the NIST curves also agree keys.
    assert_eq!(KeySpec::EccSecgP256k1.usages(), [KeyUsage::SignVerify]);
    assert_eq!(
        KeySpec::EccNistP384.usages(),
        [KeyUsage::SignVerify, KeyUsage::KeyAgreement]
    );
    assert_eq!(KeySpec::MlDsa87.usages(), [KeyUsage::SignVerify]);
    assert_eq!(KeySpec::Ed25519.usages(), [KeyUsage::SignVerify]);
    assert!("p255".parse::<KeySpec>().is_err());
}

/// Makes a key of `spec` and checks that it has the lifecycle, policy and
/// audit of a managed key, and no rotation unless it is one.
fn lifecycle_of(spec: KeySpec) {
    let f = Fixture::new("specs", "audit = \"per-call\"\n");
    let t = f.user();
    let label = format!("k-{spec}");
    let k = t
        .create_key(
            spec,
            &KeyOptions {
                label: Some(label.clone()),
                ..KeyOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("create {spec}: {e}"));
    assert_eq!(k.spec, Some(spec), "{spec}: described as {}", k.spec_name);
    assert_eq!(k.spec_name, spec.name());
    assert_eq!(k.state, Some(KeyState::Enabled));
    assert_eq!(k.managed, spec.is_managed());
    assert_eq!(k.usages, spec.usages(), "{spec}");
    let key = KeyRef::from(&k.id);

    // Disable and enable, as for a managed key.
    assert_eq!(t.disable_key(&key).unwrap().state, Some(KeyState::Disabled));
    if spec.name().starts_with("hmac") {
        let e = t
            .generate_mac(&key, b"m", MacAlgorithm::HmacSha256)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Disabled, "{e}");
    }
    assert_eq!(t.enable_key(&key).unwrap().state, Some(KeyState::Enabled));
    if spec.name().starts_with("hmac") {
        let mac = t
            .generate_mac(&key, b"m", MacAlgorithm::HmacSha256)
            .unwrap();
        t.verify_mac(&key, b"m", &mac, MacAlgorithm::HmacSha256)
            .unwrap();
    }

    // No rotation, with a clear error, unless managed.
    if !spec.is_managed() {
        let e = t.rotate_key(&key).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.message().contains("does not rotate"), "{e}");
        let e = t.set_rotation_period(&key, Some(365)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        let e = t
            .create_key(
                spec,
                &KeyOptions {
                    rotation_period_days: Some(365),
                    ..KeyOptions::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }

    // The audit log has the key's lifecycle, as for an AES key.
    let recs = t
        .audit_records(&AuditQuery {
            since: None,
            key_id: Some(k.id.clone()),
        })
        .unwrap();
    assert!(
        recs.len() >= 3,
        "{spec}: {} audit records for the key",
        recs.len()
    );

    // Scheduled deletion works on it too.
    let d = t.schedule_key_deletion(&key, Some(7)).unwrap();
    assert_eq!(d.state, Some(KeyState::PendingDeletion));
}

#[test]
fn hmac224_key() {
    lifecycle_of(KeySpec::Hmac224);
}
#[test]
fn hmac256_key() {
    lifecycle_of(KeySpec::Hmac256);
}
#[test]
fn hmac384_key() {
    lifecycle_of(KeySpec::Hmac384);
}
#[test]
fn hmac512_key() {
    lifecycle_of(KeySpec::Hmac512);
}
#[test]
fn p256_key() {
    lifecycle_of(KeySpec::EccNistP256);
}
#[test]
fn rsa2048_key() {
    lifecycle_of(KeySpec::Rsa2048);
}
#[test]
fn aes256_key() {
    lifecycle_of(KeySpec::Aes256);
}
#[test]
fn p384_key() {
    lifecycle_of(KeySpec::EccNistP384);
}
#[test]
fn p521_key() {
    lifecycle_of(KeySpec::EccNistP521);
}
#[test]
fn secp256k1_key() {
    lifecycle_of(KeySpec::EccSecgP256k1);
}
#[test]
fn ed25519_key() {
    lifecycle_of(KeySpec::Ed25519);
}
#[test]
fn ml_dsa_44_key() {
    lifecycle_of(KeySpec::MlDsa44);
}
#[test]
fn ml_dsa_65_key() {
    lifecycle_of(KeySpec::MlDsa65);
}
#[test]
fn ml_dsa_87_key() {
    lifecycle_of(KeySpec::MlDsa87);
}
