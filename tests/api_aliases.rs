//! Key aliases and key names in the Rust API (`softkms::api`): `KeyRef`
//! parsing, resolution by alias, id and label, and the alias calls.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use softkms::api::{
    AliasInfo, EncryptionContext, ErrorKind, KeyOptions, KeyPolicy, KeyRef, KeySpec, ObjectClass,
    Pin, Principal, PrincipalName, Token,
};
mod api_common;

use api_common::*;

fn key(t: &Token, spec: KeySpec, label: &str) -> softkms::api::KeyId {
    t.create_key(
        spec,
        &KeyOptions {
            label: Some(label.into()),
            ..KeyOptions::default()
        },
    )
    .unwrap()
    .id
}

fn names(v: &[AliasInfo]) -> Vec<&str> {
    v.iter().map(|a| a.name.as_str()).collect()
}

#[test]
fn key_refs_parse_as_typed() {
    assert_eq!(KeyRef::parse("alias/x"), KeyRef::Alias("alias/x".into()));
    assert_eq!(KeyRef::parse("x"), KeyRef::Name("x".into()));
    assert_eq!(
        "0123abcd".parse::<KeyRef>().unwrap(),
        KeyRef::Name("0123abcd".into())
    );
    assert_eq!(
        "".parse::<KeyRef>().unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn keys_resolve_by_alias_id_and_label() {
    let f = Fixture::new("aliases", "");
    let t = f.user();
    let a = key(&t, KeySpec::Aes256, "payments");
    let b = key(&t, KeySpec::Aes256, "archive");
    let ctx = EncryptionContext::new().with("app", "x");

    // Name: an id, or else a label.
    for (typed, id) in [(a.as_str(), &a), ("payments", &a), ("archive", &b)] {
        assert_eq!(
            t.describe_key(&KeyRef::parse(typed)).unwrap().id,
            *id,
            "{typed}"
        );
    }
    let e = t.describe_key(&KeyRef::parse("nothing")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.message().contains("nothing"), "{e}");

    // Two keys of one label: the message says how to name one.
    let dup = key(&t, KeySpec::Aes256, "payments");
    let e = t.describe_key(&KeyRef::parse("payments")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Ambiguous);
    assert!(e.message().contains("name it by its id"), "{e}");
    assert_eq!(
        t.describe_key(&KeyRef::parse(dup.as_str())).unwrap().id,
        dup
    );

    // Alias: with or without the prefix when made; used as alias/NAME.
    let info = t.create_alias("pay", &KeyRef::from(&a)).unwrap();
    assert_eq!(info.name, "alias/pay");
    assert_eq!(info.target_key_id, a);
    let pay = KeyRef::parse("alias/pay");
    assert_eq!(t.describe_key(&pay).unwrap().id, a);
    let msg = t.encrypt(&pay, b"hello", &ctx).unwrap();
    assert_eq!(t.decrypt(&msg, &ctx).unwrap().key_id, a);

    // Re-pointed: the same name now means the other key; old messages still
    // name their own key.
    let info = t
        .update_alias("alias/pay", &KeyRef::parse("archive"))
        .unwrap();
    assert_eq!(info.target_key_id, b);
    assert_eq!(t.describe_key(&pay).unwrap().id, b);
    assert_eq!(t.decrypt(&msg, &ctx).unwrap().key_id, a);
    let msg = t.encrypt(&pay, b"hello", &ctx).unwrap();
    assert_eq!(t.decrypt(&msg, &ctx).unwrap().key_id, b);

    // No such alias.
    let e = t.describe_key(&KeyRef::parse("alias/none")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.message().contains("no alias alias/none"), "{e}");

    // Deleted: gone, the key stays.
    t.delete_alias("pay").unwrap();
    assert_eq!(
        t.describe_key(&pay).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(t.describe_key(&KeyRef::from(&b)).unwrap().id, b);
    assert_eq!(
        t.delete_alias("pay").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn alias_calls_check_names_and_duplicates() {
    let f = Fixture::new("aliases", "");
    let t = f.user();
    let a = key(&t, KeySpec::Aes256, "a");
    let r = KeyRef::from(&a);
    for bad in ["", "alias/", "a b", "alias/aws/x", "aws/x", "x.y"] {
        let e = t.create_alias(bad, &r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        assert!(e.message().contains("alias/aws/ is reserved"), "{e}");
    }
    t.create_alias("alias/x", &r).unwrap();
    let e = t.create_alias("x", &r).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        e.message(),
        "alias/x already exists: use update to re-point it"
    );
    assert_eq!(
        e.pkcs11_rv(),
        Some(cryptoki_sys::CKR_ATTRIBUTE_VALUE_INVALID)
    );
    assert_eq!(
        t.update_alias("alias/y", &r).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        t.create_alias("alias/z", &KeyRef::parse("no-such-key"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    // An alias of a key pair points at its private key.
    let ec = key(&t, KeySpec::EccNistP256, "signer");
    let info = t.create_alias("signer", &KeyRef::parse("signer")).unwrap();
    assert_eq!(info.target_key_id, ec);
}

#[test]
fn list_aliases_sorted_and_filtered() {
    let f = Fixture::new("aliases", "");
    let t = f.user();
    let a = key(&t, KeySpec::Aes256, "a");
    let b = key(&t, KeySpec::Hmac256, "b");
    assert!(t.list_aliases(None).unwrap().is_empty());
    for (name, k) in [("zeta", &a), ("alpha", &b), ("team/mid", &a)] {
        t.create_alias(name, &KeyRef::from(k)).unwrap();
    }
    let all = t.list_aliases(None).unwrap();
    assert_eq!(names(&all), ["alias/alpha", "alias/team/mid", "alias/zeta"]);
    assert_eq!(all[0].target_key_id, b);
    let of_a = t.list_aliases(Some(&KeyRef::parse("a"))).unwrap();
    assert_eq!(names(&of_a), ["alias/team/mid", "alias/zeta"]);
    let of_b = t.list_aliases(Some(&KeyRef::parse("alias/alpha"))).unwrap();
    assert_eq!(names(&of_b), ["alias/alpha"]);
    // Among the token's objects, as objects of their own class.
    let mut listed: Vec<String> = t
        .list_objects()
        .unwrap()
        .into_iter()
        .filter(|o| o.class == ObjectClass::Alias)
        .filter_map(|o| o.label)
        .collect();
    listed.sort();
    assert_eq!(listed, ["alias/alpha", "alias/team/mid", "alias/zeta"]);
    // A key that is destroyed takes its aliases with it.
    t.schedule_key_deletion(&KeyRef::from(&b), Some(7)).unwrap();
    assert!(t.create_alias("late", &KeyRef::from(&b)).is_err());
    assert_eq!(t.list_aliases(None).unwrap().len(), 3);
}

#[test]
fn a_principal_without_manage_key_is_refused() {
    let f = Fixture::new("aliases", "");
    let policy = KeyPolicy::parse(
        r#"{"statements":[{"principals":["user"],"allow":["*"]},
            {"principals":["carol"],"allow":["Encrypt"]}]}"#,
    )
    .unwrap();
    {
        let t = f.user();
        let k = t
            .create_key(
                KeySpec::Aes256,
                &KeyOptions {
                    label: Some("guarded".into()),
                    policy: Some(policy),
                    ..KeyOptions::default()
                },
            )
            .unwrap();
        t.create_alias("guarded", &KeyRef::from(&k.id)).unwrap();
        t.logout().unwrap();
    }
    {
        let so = f.kms.token(0).unwrap();
        so.login(&Principal::SecurityOfficer, &Pin::from(SO_PIN))
            .unwrap();
        so.add_principal(
            &PrincipalName::new("carol").unwrap(),
            &Pin::from("carol-pin-1"),
        )
        .unwrap();
        so.logout().unwrap();
    }
    let t = f.kms.token(0).unwrap();
    t.login(&Principal::Named("carol".into()), &Pin::from("carol-pin-1"))
        .unwrap();
    let guarded = KeyRef::parse("alias/guarded");
    // carol may use the key through its alias …
    let ctx = EncryptionContext::new();
    t.encrypt(&guarded, b"x", &ctx).unwrap();
    // … but not manage aliases to it.
    for e in [
        t.create_alias("mine", &guarded).unwrap_err(),
        t.delete_alias("guarded").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
        assert!(e.message().contains("alias/"), "{e}");
    }
    assert_eq!(names(&t.list_aliases(None).unwrap()), ["alias/guarded"]);
}
