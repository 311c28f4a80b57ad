//! PKCS#11 3.0 §4 and §5.7 through the built module: creating, copying,
//! destroying, reading, changing and finding objects; persistence across
//! restarts and processes.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};

const AES_VALUE: [u8; 16] = *b"0123456789abcdef";

fn aes_template(token: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(token),
        Attribute::Label(b"aes".to_vec()),
        Attribute::Value(AES_VALUE.to_vec()),
        Attribute::Sensitive(true),
        Attribute::Encrypt(true),
    ]
}

fn data_template(label: &str, private: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Application(b"tests".to_vec()),
        Attribute::Value(b"payload".to_vec()),
    ]
}

fn label_of(s: &Session, o: ObjectHandle) -> Vec<u8> {
    match &s.get_attributes(o, &[AttributeType::Label]).unwrap()[..] {
        [Attribute::Label(l)] => l.clone(),
        other => panic!("label: {other:?}"),
    }
}

fn find_label(s: &Session, label: &str) -> Vec<ObjectHandle> {
    s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap()
}

#[test]
fn data_objects_round_trip() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let o = s.create_object(&data_template("d1", false)).unwrap();
    let attrs = s
        .get_attributes(
            o,
            &[
                AttributeType::Value,
                AttributeType::Application,
                AttributeType::UniqueId,
                AttributeType::Modifiable,
            ],
        )
        .unwrap();
    assert!(attrs.contains(&Attribute::Value(b"payload".to_vec())));
    assert!(attrs.contains(&Attribute::Application(b"tests".to_vec())));
    assert!(attrs.contains(&Attribute::Modifiable(true)));
    assert!(attrs
        .iter()
        .any(|a| matches!(a, Attribute::UniqueId(u) if !u.is_empty())));
    assert_eq!(find_label(&s, "d1"), vec![o]);
    s.destroy_object(o).unwrap();
    assert!(find_label(&s, "d1").is_empty());
    assert_eq!(
        rv(s.get_attributes(o, &[AttributeType::Label])),
        RvError::ObjectHandleInvalid
    );
    assert_eq!(rv(s.destroy_object(o)), RvError::ObjectHandleInvalid);
}

#[test]
fn sensitive_and_unextractable_values_stay_inside() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = s.create_object(&aes_template(false)).unwrap();
    let info = s
        .get_attribute_info(
            k,
            &[
                AttributeType::Value,
                AttributeType::ValueLen,
                AttributeType::Modulus,
            ],
        )
        .unwrap();
    assert!(matches!(info[0], AttributeInfo::Sensitive));
    assert!(matches!(info[1], AttributeInfo::Available(_)));
    assert!(matches!(info[2], AttributeInfo::TypeInvalid));
    let a = s
        .get_attributes(
            k,
            &[
                AttributeType::ValueLen,
                AttributeType::Local,
                AttributeType::AlwaysSensitive,
            ],
        )
        .unwrap();
    assert!(a.contains(&Attribute::ValueLen(16.into())));
    assert!(a.contains(&Attribute::Local(false)));
    assert!(a.contains(&Attribute::AlwaysSensitive(false)));
    // CKA_SENSITIVE only to TRUE, CKA_EXTRACTABLE only to FALSE.
    assert_eq!(
        rv(s.update_attributes(k, &[Attribute::Sensitive(false)])),
        RvError::AttributeReadOnly
    );
    s.update_attributes(k, &[Attribute::Extractable(false)])
        .unwrap();
    assert_eq!(
        rv(s.update_attributes(k, &[Attribute::Extractable(true)])),
        RvError::AttributeReadOnly
    );
    // A non-sensitive, extractable key shows its value.
    let mut t = aes_template(false);
    t.retain(|a| !matches!(a, Attribute::Sensitive(_)));
    t.push(Attribute::Sensitive(false));
    t.push(Attribute::Extractable(true));
    let k2 = s.create_object(&t).unwrap();
    assert_eq!(
        s.get_attributes(k2, &[AttributeType::Value]).unwrap(),
        vec![Attribute::Value(AES_VALUE.to_vec())]
    );
}

#[test]
fn bad_templates_get_the_standard_codes() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    // No class.
    assert_eq!(
        rv(s.create_object(&[Attribute::Label(b"x".to_vec())])),
        RvError::TemplateIncomplete
    );
    // A secret key without its value.
    let mut t = aes_template(false);
    t.retain(|a| !matches!(a, Attribute::Value(_)));
    assert_eq!(rv(s.create_object(&t)), RvError::TemplateIncomplete);
    // An AES key of a length AES does not have.
    let mut t = aes_template(false);
    t.retain(|a| !matches!(a, Attribute::Value(_)));
    t.push(Attribute::Value(vec![1; 15]));
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeValueInvalid);
    // An attribute the class does not have.
    let mut t = data_template("x", false);
    t.push(Attribute::ModulusBits(2048.into()));
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeTypeInvalid);
    // Attributes only the token sets.
    let mut t = aes_template(false);
    t.push(Attribute::Local(true));
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeReadOnly);
    // The same attribute twice with different values.
    let mut t = data_template("x", false);
    t.push(Attribute::Token(false));
    assert_eq!(rv(s.create_object(&t)), RvError::TemplateInconsistent);
}

#[test]
fn read_only_sessions_and_login_guard_objects() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let ro = ctx.p11.open_ro_session(slot).unwrap();
    // Token objects need a R/W session; session objects do not.
    assert_eq!(
        rv(ro.create_object(&data_template("t", false))),
        RvError::SessionReadOnly
    );
    let mut t = data_template("sess", false);
    t.retain(|a| !matches!(a, Attribute::Token(_)));
    let so = ro.create_object(&t).unwrap();
    // Private objects need a user login.
    let rw = ctx.p11.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(rw.create_object(&data_template("p", true))),
        RvError::UserNotLoggedIn
    );
    let public = rw.create_object(&data_template("pub", false)).unwrap();
    rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let private = rw.create_object(&data_template("priv", true)).unwrap();
    assert_eq!(find_label(&rw, "priv"), vec![private]);
    assert_eq!(rv(ro.destroy_object(public)), RvError::SessionReadOnly);
    rw.logout().unwrap();
    // Logged out, the private object cannot be found or read.
    assert!(find_label(&rw, "priv").is_empty());
    assert_eq!(
        rv(rw.get_attributes(private, &[AttributeType::Label])),
        RvError::ObjectHandleInvalid
    );
    assert_eq!(find_label(&rw, "pub"), vec![public]);
    // The session object dies with its session.
    assert_eq!(find_label(&rw, "sess"), vec![so]);
    drop(ro);
    assert!(find_label(&rw, "sess").is_empty());
}

#[test]
fn copy_and_modify_follow_the_flags() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let o = s.create_object(&data_template("orig", false)).unwrap();
    let c = s
        .copy_object(o, &[Attribute::Label(b"copy".to_vec())])
        .unwrap();
    assert_ne!(o, c);
    assert_eq!(label_of(&s, c), b"copy");
    assert_eq!(label_of(&s, o), b"orig");
    s.update_attributes(c, &[Attribute::Label(b"renamed".to_vec())])
        .unwrap();
    assert_eq!(label_of(&s, c), b"renamed");
    let mut t = data_template("fixed", false);
    t.push(Attribute::Modifiable(false));
    t.push(Attribute::Copyable(false));
    let fixed = s.create_object(&t).unwrap();
    assert_eq!(
        rv(s.update_attributes(fixed, &[Attribute::Label(b"no".to_vec())])),
        RvError::ActionProhibited
    );
    assert_eq!(rv(s.copy_object(fixed, &[])), RvError::ActionProhibited);
    let mut t = data_template("keep", false);
    t.push(Attribute::Destroyable(false));
    let keep = s.create_object(&t).unwrap();
    assert_eq!(rv(s.destroy_object(keep)), RvError::ActionProhibited);
}

#[test]
fn token_objects_persist_and_handles_are_never_reused() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    let (public, private, gone) = {
        let s = ctx.user_session(0);
        let public = s.create_object(&data_template("pub", false)).unwrap();
        let private = s.create_object(&data_template("priv", true)).unwrap();
        let gone = s.create_object(&data_template("gone", false)).unwrap();
        s.destroy_object(gone).unwrap();
        let mut t = aes_template(false);
        t.push(Attribute::Id(b"session".to_vec()));
        s.create_object(&t).unwrap();
        (public, private, gone)
    };
    ctx.restart();
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    // Before login only the public object exists.
    assert_eq!(find_label(&s, "pub").len(), 1);
    assert!(find_label(&s, "priv").is_empty());
    let pub_before_login = find_label(&s, "pub")[0];
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    // The handle found before login stays valid after it.
    assert_eq!(find_label(&s, "pub"), vec![pub_before_login]);
    let p = find_label(&s, "priv");
    assert_eq!(p.len(), 1);
    assert!(s
        .find_objects(&[Attribute::Id(b"session".to_vec())])
        .unwrap()
        .is_empty());
    let fresh = s.create_object(&data_template("fresh", false)).unwrap();
    for old in [public, private, gone] {
        assert_ne!(fresh, old);
    }
}

#[test]
fn find_uses_every_attribute_of_the_template() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    for i in 0..50 {
        let t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(true),
            Attribute::Private(i % 2 == 0),
            Attribute::Label(format!("obj{}", i % 5).into_bytes()),
            Attribute::Id(vec![u8::try_from(i).unwrap()]),
            Attribute::Value(vec![7; 16]),
        ];
        s.create_object(&t).unwrap();
    }
    assert_eq!(find_label(&s, "obj3").len(), 10);
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"obj3".to_vec()), Attribute::Private(true)])
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .unwrap()
            .len(),
        50
    );
    assert_eq!(s.find_objects(&[Attribute::Id(vec![7])]).unwrap().len(), 1);
    assert!(s
        .find_objects(&[Attribute::Label(b"none".to_vec())])
        .unwrap()
        .is_empty());
    // Iterating in small batches returns every object once.
    let mut seen: Vec<_> = s
        .iter_objects_with_cache_size(&[], std::num::NonZeroUsize::new(3).unwrap())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let n = seen.len();
    seen.sort_by_key(|h| h.handle());
    seen.dedup();
    assert_eq!(seen.len(), n);
    assert_eq!(n, 50);
}

/// Runs as a second process when `SOFTKMS_TEST_CHILD` is set (see below).
#[test]
fn child_process_role() {
    let Ok(role) = std::env::var("SOFTKMS_TEST_CHILD") else {
        return;
    };
    let ctx = Ctx::with_existing_config();
    let s = ctx.user_session(0);
    match role.as_str() {
        "create" => {
            s.create_object(&data_template("from-child", true)).unwrap();
        }
        "check" => {
            assert_eq!(find_label(&s, "from-parent").len(), 1);
            assert!(find_label(&s, "renamed-by-parent").len() == 1);
        }
        other => panic!("unknown role {other}"),
    }
}

fn run_child(ctx: &Ctx, role: &str) {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_role",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SOFTKMS_TEST_CHILD", role)
        .env("SOFTKMS_CONF", ctx.dir.path().join("softkms.toml"))
        .status()
        .unwrap();
    assert!(status.success(), "child {role} failed");
}

#[test]
fn a_second_process_sees_the_changes_of_the_first() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let doomed = s.create_object(&data_template("doomed", false)).unwrap();
    let renamed = s.create_object(&data_template("before", true)).unwrap();
    // The child creates an object; this process sees it at its next call.
    run_child(&ctx, "create");
    assert_eq!(find_label(&s, "from-child").len(), 1);
    // This process creates, changes and destroys; the child sees all of it.
    s.create_object(&data_template("from-parent", true))
        .unwrap();
    s.update_attributes(renamed, &[Attribute::Label(b"renamed-by-parent".to_vec())])
        .unwrap();
    s.destroy_object(doomed).unwrap();
    run_child(&ctx, "check");
}
