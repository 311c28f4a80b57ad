//! What `softkms serve` needs from the Rust API (`softkms::api`, the
//! service part): sessions that act for a principal, access keys, request
//! records, and grant statements their grantee may retire.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use softkms::api::{
    AuditQuery, EncryptionContext, ErrorKind, KeyOptions, KeyPolicy, KeyRef, KeySpec, Pin,
    Principal, PrincipalName,
};
mod api_common;

use api_common::*;

const ALICE_PIN: &str = "alice-pin-1";

/// The SO adds (or, with `remove`, removes) principal `name`.
fn principal(f: &Fixture, name: &str, remove: bool) {
    let so = f.kms.token(0).unwrap();
    so.login(&Principal::SecurityOfficer, &Pin::from(SO_PIN))
        .unwrap();
    let n = PrincipalName::new(name).unwrap();
    if remove {
        so.remove_principal(&n).unwrap();
    } else {
        so.add_principal(&n, &Pin::from(ALICE_PIN)).unwrap();
    }
    so.logout().unwrap();
}

fn alice() -> Principal {
    Principal::Named("alice".into())
}

#[test]
fn a_session_acts_for_a_principal_under_its_policies() {
    let f = Fixture::new("act-as", "audit = \"per-call\"");
    principal(&f, "alice", false);
    let owner = f.user();
    let ctx = EncryptionContext::new().with("app", "x");
    let policy = KeyPolicy::parse(
        br#"{"statements":[{"principals":["user"],"allow":["*"]},
                            {"principals":["alice"],"allow":["Encrypt"]}]}"#,
    )
    .unwrap();
    let key = owner
        .create_key(
            KeySpec::Aes256,
            &KeyOptions {
                policy: Some(policy),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    let k = KeyRef::Id(key.id.clone());
    let msg = owner.encrypt(&k, b"secret", &ctx).unwrap();

    let s = f.kms.token(0).unwrap();
    s.act_as(&alice()).unwrap();
    s.encrypt(&k, b"mine", &ctx).unwrap();
    assert_eq!(
        s.decrypt(&msg, &ctx).unwrap_err().kind(),
        ErrorKind::AccessDenied
    );
    // Keys it makes are alice's; the owner's own session is unchanged.
    let made = s
        .create_key(KeySpec::Aes256, &KeyOptions::default())
        .unwrap();
    assert_eq!(made.creator.as_deref(), Some("alice"));
    assert_eq!(
        owner.decrypt(&msg, &ctx).unwrap().plaintext.as_bytes(),
        b"secret"
    );
    s.record_request("kms:Test", Some(key.id.as_str()), 0, "request r1; ok")
        .unwrap();
    let records = owner.audit_records(&AuditQuery::default()).unwrap();
    let denied = records
        .iter()
        .find(|r| r.principal() == "alice" && r.result_code() != 0)
        .expect("alice's refused decryption is audited under her name");
    assert_eq!(denied.key_id(), Some(key.id.as_str()));
    let req = records.iter().find(|r| r.function() == "kms:Test").unwrap();
    assert_eq!(req.principal(), "alice");
    assert_eq!(req.reason(), "request r1; ok");

    // Nobody acts for the SO, nor for someone who does not exist.
    assert_eq!(
        s.act_as(&Principal::SecurityOfficer).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        s.act_as(&Principal::Named("nobody".into()))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn only_the_owner_makes_sessions_act_for_others() {
    let f = Fixture::new("act-as-owner", "");
    principal(&f, "alice", false);
    // Logged in as alice herself: no acting for the owner.
    let t = f.kms.token(0).unwrap();
    t.login(&alice(), &Pin::from(ALICE_PIN)).unwrap();
    let s = f.kms.token(0).unwrap();
    assert_eq!(
        s.act_as(&Principal::User).unwrap_err().kind(),
        ErrorKind::NotLoggedIn
    );
    assert_eq!(
        t.create_access_key(&Principal::User).unwrap_err().kind(),
        ErrorKind::NotLoggedIn
    );
    t.logout().unwrap();
    // Nobody logged in: neither.
    assert_eq!(
        s.act_as(&alice()).unwrap_err().kind(),
        ErrorKind::NotLoggedIn
    );
    // After the owner logs out and in again, a session acts for nobody.
    let owner = f.user();
    s.act_as(&alice()).unwrap();
    owner.logout().unwrap();
    owner.login(&Principal::User, &Pin::from(USER_PIN)).unwrap();
    let made = s
        .create_key(KeySpec::Aes256, &KeyOptions::default())
        .unwrap();
    assert_eq!(made.creator.as_deref(), Some("user"));
}

#[test]
fn access_keys_name_one_principal_until_it_goes() {
    let f = Fixture::new("access-keys", "");
    principal(&f, "alice", false);
    let owner = f.user();
    let k = owner.create_access_key(&alice()).unwrap();
    assert!(softkms::api::is_access_key_id(&k.info.id));
    assert_eq!(k.secret.len(), 40);
    let (info, secret) = owner.access_key(&k.info.id).unwrap();
    assert_eq!(info.principal, alice());
    assert_eq!(secret.as_bytes(), k.secret.as_bytes());
    let other = owner.create_access_key(&Principal::User).unwrap();
    assert_ne!(other.secret.as_bytes(), k.secret.as_bytes());
    assert_eq!(owner.list_access_keys().unwrap().len(), 2);
    assert_eq!(
        owner
            .create_access_key(&Principal::Named("nobody".into()))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    // alice removed and added again is another alice: her old key is dead.
    drop(owner);
    principal(&f, "alice", true);
    principal(&f, "alice", false);
    let owner = f.user();
    assert_eq!(
        owner.access_key(&k.info.id).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let fresh = owner.create_access_key(&alice()).unwrap();
    assert_ne!(fresh.secret.as_bytes(), k.secret.as_bytes());
    owner.delete_access_key(&fresh.info.id).unwrap();
    assert_eq!(
        owner.access_key(&fresh.info.id).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        owner
            .delete_access_key("SKMSAAAAAAAAAAAAAAAA")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_grantee_retires_its_grant_and_nothing_else() {
    let f = Fixture::new("retire", "");
    principal(&f, "alice", false);
    let owner = f.user();
    let id = "a".repeat(64);
    let grant = format!(
        r#"{{"sid":"grant:{id}","principals":["alice"],"allow":["Decrypt"],
             "grant":{{"id":"{id}","issuer":"user","created":1,"operations":["Decrypt"]}}}}"#
    );
    let base = r#"{"principals":["user"],"allow":["*"]}"#;
    let with = KeyPolicy::parse(format!(r#"{{"statements":[{base},{grant}]}}"#)).unwrap();
    let key = owner
        .create_key(
            KeySpec::Aes256,
            &KeyOptions {
                policy: Some(with),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    let k = KeyRef::Id(key.id.clone());
    let s = f.kms.token(0).unwrap();
    s.act_as(&alice()).unwrap();
    // Removing the owner's statement instead is a policy write alice may not make.
    let hijack = KeyPolicy::parse(format!(r#"{{"statements":[{grant}]}}"#)).unwrap();
    assert_eq!(
        s.put_key_policy(&k, &hijack, true).unwrap_err().kind(),
        ErrorKind::AccessDenied
    );
    let without = KeyPolicy::parse(format!(r#"{{"statements":[{base}]}}"#)).unwrap();
    s.put_key_policy(&k, &without, false).unwrap();
    assert_eq!(owner.get_key_policy(&k).unwrap(), Some(without));
    // A grant's sid, its one principal and its use-only actions are checked.
    for bad in [
        format!(
            r#"{{"sid":"grant:{id}","principals":["alice"],"allow":["ManageKey"],"grant":{{"id":"{id}","issuer":"user","created":1,"operations":["Decrypt"]}}}}"#
        ),
        format!(
            r#"{{"sid":"other","principals":["alice"],"allow":["Decrypt"],"grant":{{"id":"{id}","issuer":"user","created":1,"operations":["Decrypt"]}}}}"#
        ),
        format!(r#"{{"sid":"grant:{id}","principals":["alice"],"allow":["Decrypt"]}}"#),
        format!(
            r#"{{"sid":"grant:{id}","principals":["alice","bob"],"allow":["Decrypt"],"grant":{{"id":"{id}","issuer":"user","created":1,"operations":["Decrypt"]}}}}"#
        ),
    ] {
        let doc = format!(r#"{{"statements":[{base},{bad}]}}"#);
        assert!(KeyPolicy::parse(&doc).is_err(), "{doc}");
    }
}
