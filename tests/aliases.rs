//! Key aliases through the built module (`docs/vendor-abi.md`, "Aliases"):
//! objects of class `CKO_SOFTKMS_ALIAS` whose `CKA_LABEL` is a unique
//! `alias/NAME` and whose `CKA_SOFTKMS_ALIAS_TARGET` names a key by its
//! `CKA_UNIQUE_ID`. Made, found, read, re-pointed and deleted with the object
//! functions; unique across sessions, threads and processes; held to the key
//! policy (`ManageKey` on the key) and audited; gone with their key.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;
use p11_testkit::keys::{envelope, vendor_attr as vendor, vendor_ulong, ManagedKey};
use p11_testkit::vendor::{
    CKA_SOFTKMS_ALIAS_TARGET as TARGET, CKA_SOFTKMS_KEY_STATE as KEY_STATE,
    CKA_SOFTKMS_PENDING_WINDOW as PENDING_WINDOW, CKA_SOFTKMS_PRINCIPAL_PIN as PRINCIPAL_PIN,
    CKO_SOFTKMS_ALIAS as CKO_ALIAS, CKO_SOFTKMS_PRINCIPAL as CKO_PRINCIPAL,
    SOFTKMS_KEY_STATE_PENDING_DELETION as PENDING_DELETION,
};
use p11_testkit::{call_strict, ulen};
use std::path::Path;

fn alias_class() -> Attribute {
    vendor(CKA_CLASS, &CKO_ALIAS.to_ne_bytes())
}

/// The template of a new alias `name` for the key whose id is `target`.
fn alias(name: &str, target: &str) -> Vec<Attribute> {
    vec![
        alias_class(),
        Attribute::Label(name.as_bytes().to_vec()),
        vendor(TARGET, target.as_bytes()),
        Attribute::Token(true),
    ]
}

fn uid(s: &Session, o: ObjectHandle) -> String {
    match s
        .get_attributes(o, &[AttributeType::UniqueId])
        .unwrap()
        .as_slice()
    {
        [Attribute::UniqueId(v)] => String::from_utf8(v.clone()).unwrap(),
        other => panic!("{other:?}"),
    }
}

fn target(s: &Session, a: ObjectHandle) -> String {
    match s
        .get_attributes(a, &[AttributeType::VendorDefined(TARGET)])
        .unwrap()
        .as_slice()
    {
        [Attribute::VendorDefined((_, v))] => String::from_utf8(v.clone()).unwrap(),
        other => panic!("{other:?}"),
    }
}

fn find_alias(s: &Session, name: &str) -> Vec<ObjectHandle> {
    s.find_objects(&[alias_class(), Attribute::Label(name.as_bytes().to_vec())])
        .unwrap()
}

fn all_aliases(s: &Session) -> Vec<ObjectHandle> {
    s.find_objects(&[alias_class()]).unwrap()
}

/// The token file's audit records: (function, rv, key id, reason, principal).
fn audit(path: &Path) -> Vec<(String, u64, String, String, String)> {
    let store = softkms::internals::store::Store::open(path).unwrap();
    let mut out = Vec::new();
    store
        .for_each_audit(|r| {
            out.push((
                r.function.clone(),
                r.rv,
                r.key_uid.clone().unwrap_or_default(),
                r.reason.clone(),
                r.principal.clone(),
            ));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn create_find_read_repoint_and_delete() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k1 = ManagedKey::new("k1").generate(&s);
    let k2 = ManagedKey::new("k2").generate(&s);
    let (id1, id2) = (uid(&s, k1), uid(&s, k2));

    let a = s.create_object(&alias("alias/orders", &id1)).unwrap();
    assert_eq!(find_alias(&s, "alias/orders"), vec![a]);
    assert_eq!(all_aliases(&s), vec![a]);
    // Alias names are not key labels: a key search by label does not find it.
    assert!(s
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(b"alias/orders".to_vec()),
        ])
        .unwrap()
        .is_empty());
    assert_eq!(target(&s, a), id1);
    match s
        .get_attributes(
            a,
            &[
                AttributeType::Label,
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::Copyable,
            ],
        )
        .unwrap()
        .as_slice()
    {
        [Attribute::Label(l), Attribute::Token(true), Attribute::Private(true), Attribute::Copyable(false)] =>
        {
            assert_eq!(l, b"alias/orders");
        }
        other => panic!("{other:?}"),
    }

    // Re-pointed: the same object, another key.
    s.update_attributes(a, &[vendor(TARGET, id2.as_bytes())])
        .unwrap();
    assert_eq!(target(&s, a), id2);
    assert_eq!(find_alias(&s, "alias/orders"), vec![a]);
    // Both keys' records tell of it.
    let alias_uid = uid(&s, a);
    let log = audit(&ctx.token_path(0));
    let said = |key: &str, why: &str| {
        log.iter()
            .any(|(f, rv, k, w, _)| f == "C_SetAttributeValue" && *rv == 0 && k == key && w == why)
    };
    assert!(
        said(
            &id2,
            &format!("alias {alias_uid} re-pointed (was key {id1})")
        ),
        "{log:?}"
    );
    assert!(
        said(&id1, &format!("alias {alias_uid} re-pointed to key {id2}")),
        "{log:?}"
    );

    // Not renamed (delete and create), not copied (a second alias of the name).
    assert_eq!(
        rv(s.update_attributes(a, &[Attribute::Label(b"alias/other".to_vec())])),
        RvError::AttributeReadOnly
    );
    assert_eq!(rv(s.copy_object(a, &[])), RvError::ActionProhibited);
    assert_eq!(
        rv(s.copy_object(a, &[Attribute::Label(b"alias/copy".to_vec())])),
        RvError::ActionProhibited
    );
    assert_eq!(find_alias(&s, "alias/orders"), vec![a]);
    assert!(find_alias(&s, "alias/other").is_empty());

    // Only a key may be a target: no such id, a public key, a session key,
    // an alias.
    let nothing = "00000000000000000000000000000000";
    assert_eq!(
        rv(s.create_object(&alias("alias/none", nothing))),
        RvError::AttributeValueInvalid
    );
    assert_eq!(
        rv(s.update_attributes(a, &[vendor(TARGET, nothing.as_bytes())])),
        RvError::AttributeValueInvalid
    );
    let ec = [
        Attribute::EcParams(vec![
            0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
        ]),
        Attribute::Token(true),
        Attribute::Verify(true),
    ];
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &ec,
            &[Attribute::Token(true), Attribute::Sign(true)],
        )
        .unwrap();
    assert_eq!(
        rv(s.create_object(&alias("alias/pub", &uid(&s, public)))),
        RvError::AttributeValueInvalid
    );
    let signing = s
        .create_object(&alias("alias/signing", &uid(&s, private)))
        .unwrap();
    assert_eq!(target(&s, signing), uid(&s, private));
    let session_key = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Token(false)],
        )
        .unwrap();
    assert_eq!(
        rv(s.create_object(&alias("alias/session", &uid(&s, session_key)))),
        RvError::AttributeValueInvalid
    );
    assert_eq!(
        rv(s.create_object(&alias("alias/alias", &uid(&s, a)))),
        RvError::AttributeValueInvalid
    );
    assert_eq!(target(&s, a), id2, "refused writes changed nothing");

    // Deleted: the alias goes, the keys stay.
    s.destroy_object(a).unwrap();
    assert!(find_alias(&s, "alias/orders").is_empty());
    assert_eq!(all_aliases(&s), vec![signing]);
    for k in [k1, k2] {
        assert!(s.get_attributes(k, &[AttributeType::Label]).is_ok());
    }

    // Aliases are private: a session nobody logged in to sees none.
    s.logout().unwrap();
    let public_session = ctx.p11.open_ro_session(ctx.slot(0)).unwrap();
    assert!(all_aliases(&public_session).is_empty());
}

#[test]
fn bad_names_and_templates_are_refused() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = ManagedKey::new("k").generate(&s);
    let id = uid(&s, k);
    let too_long = format!("alias/{}", "a".repeat(251));
    for bad in [
        "",
        "orders",
        "alias/",
        "Alias/x",
        "alias/a b",
        "alias/a.b",
        "alias/é",
        "alias/aws/mine",
        too_long.as_str(),
    ] {
        assert_eq!(
            rv(s.create_object(&alias(bad, &id))),
            RvError::AttributeValueInvalid,
            "{bad:?}"
        );
    }
    let longest = format!("alias/{}", "a".repeat(250));
    s.create_object(&alias(&longest, &id)).unwrap();
    s.create_object(&alias("alias/team-a/billing_2", &id))
        .unwrap();

    // A public alias, a session alias, an unknown attribute, no target.
    let mut public = alias("alias/public", &id);
    public.push(Attribute::Private(false));
    assert_eq!(rv(s.create_object(&public)), RvError::TemplateInconsistent);
    let mut session = alias("alias/session", &id);
    session[3] = Attribute::Token(false);
    assert_eq!(rv(s.create_object(&session)), RvError::TemplateInconsistent);
    let mut extra = alias("alias/extra", &id);
    extra.push(Attribute::Encrypt(true));
    assert_eq!(rv(s.create_object(&extra)), RvError::AttributeTypeInvalid);
    assert_eq!(
        rv(s.create_object(&alias("alias/x", &id)[..2])),
        RvError::TemplateIncomplete
    );
    assert!(find_alias(&s, "alias/public").is_empty());

    // A read-only session, and a session nobody logged in to.
    let ro = ctx.p11.open_ro_session(slot).unwrap();
    assert_eq!(
        rv(ro.create_object(&alias("alias/ro", &id))),
        RvError::SessionReadOnly
    );
    s.logout().unwrap();
    let anon = ctx.p11.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(anon.create_object(&alias("alias/anon", &id))),
        RvError::UserNotLoggedIn
    );
}

#[test]
fn a_name_is_unique_across_sessions_and_threads() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let s1 = ctx.user_session(0);
    let s2 = ctx.p11.open_rw_session(slot).unwrap();
    let k1 = uid(&s1, ManagedKey::new("k1").generate(&s1));
    let k2 = uid(&s1, ManagedKey::new("k2").generate(&s1));
    let a = s1.create_object(&alias("alias/x", &k1)).unwrap();
    assert_eq!(
        rv(s2.create_object(&alias("alias/x", &k2))),
        RvError::AttributeValueInvalid
    );
    assert_eq!(target(&s2, a), k1);
    // Free again once deleted.
    s2.destroy_object(a).unwrap();
    let b = s2.create_object(&alias("alias/x", &k2)).unwrap();
    assert_eq!(find_alias(&s1, "alias/x"), vec![b]);

    // Eight sessions race for one name: one wins.
    let results: Vec<Result<ObjectHandle, RvError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = ctx.p11.open_rw_session(slot).unwrap();
                let t = if i % 2 == 0 { k1.clone() } else { k2.clone() };
                scope.spawn(move || {
                    s.create_object(&alias("alias/race", &t))
                        .map_err(|e| match e {
                            cryptoki::error::Error::Pkcs11(rv, _) => rv,
                            other => panic!("{other}"),
                        })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || *r == Err(RvError::AttributeValueInvalid)));
    assert_eq!(find_alias(&s1, "alias/race").len(), 1);
}

const RACE_ROLE: &str = "SOFTKMS_ALIAS_RACE";

/// A child of `a_name_is_unique_across_processes`: makes alias/race once the
/// parent says go, and reports the result in a file.
#[test]
fn race_child() {
    let Ok(dir) = std::env::var(RACE_ROLE) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let ctx = Ctx::with_existing_config();
    let s = ctx.user_session(0);
    let k = s
        .find_objects(&[Attribute::Label(b"raced".to_vec())])
        .unwrap()[0];
    let t = uid(&s, k);
    let me = std::process::id();
    std::fs::write(dir.join(format!("ready-{me}")), b"").unwrap();
    while !dir.join("go").exists() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let r = match s.create_object(&alias("alias/race", &t)) {
        Ok(_) => "ok".to_string(),
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => format!("{rv:?}"),
        Err(e) => format!("{e}"),
    };
    std::fs::write(dir.join(format!("result-{me}")), r).unwrap();
}

#[test]
fn a_name_is_unique_across_processes() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        ManagedKey::new("raced").generate(&s);
        s.logout().unwrap();
    }
    let dir = ctx.dir.path().join("race");
    std::fs::create_dir(&dir).unwrap();
    let n = 4;
    let children: Vec<_> = (0..n)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "race_child", "--nocapture", "--test-threads=1"])
                .env(RACE_ROLE, &dir)
                .env("TEST_PKCS11_MODULE", module_path())
                .spawn()
                .unwrap()
        })
        .collect();
    let ready = |prefix: &str| {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(prefix)
            })
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while ready("ready-") < n {
        assert!(std::time::Instant::now() < deadline, "children not ready");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(dir.join("go"), b"").unwrap();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let results: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("result-")
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(results.len(), n);
    assert_eq!(
        results.iter().filter(|r| *r == "ok").count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r == "ok" || r == "AttributeValueInvalid"),
        "{results:?}"
    );
    let s = ctx.user_session(0);
    assert_eq!(find_alias(&s, "alias/race").len(), 1);
}

#[test]
fn a_destroyed_key_takes_its_aliases_with_it() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k1 = ManagedKey::new("k1").generate(&s);
    let k2 = ManagedKey::new("k2").generate(&s);
    let (id1, id2) = (uid(&s, k1), uid(&s, k2));
    let a = s.create_object(&alias("alias/a", &id1)).unwrap();
    let b = s.create_object(&alias("alias/b", &id1)).unwrap();
    let c = s.create_object(&alias("alias/c", &id2)).unwrap();
    let (ua, ub, uc) = (uid(&s, a), uid(&s, b), uid(&s, c));
    s.destroy_object(k1).unwrap();
    assert_eq!(all_aliases(&s), vec![c]);
    // The name is free again.
    s.create_object(&alias("alias/a", &id2)).unwrap();

    // A scheduled deletion that completes takes them too.
    s.update_attributes(
        k2,
        &[
            vendor_ulong(KEY_STATE, PENDING_DELETION),
            vendor_ulong(PENDING_WINDOW, 7),
        ],
    )
    .unwrap();
    // No new alias points at a key pending deletion.
    assert_eq!(
        rv(s.create_object(&alias("alias/late", &id2))),
        RvError::KeyFunctionNotPermitted
    );
    std::env::set_var("SOFTKMS_TEST_CLOCK_OFFSET", (8 * 86_400).to_string());
    let gone = s.encrypt(&envelope(&EnvelopeParams::new(b"")), k2, b"x");
    std::env::remove_var("SOFTKMS_TEST_CLOCK_OFFSET");
    assert!(gone.is_err());
    assert!(all_aliases(&s).is_empty());

    // Each removal is in the audit log, under its key, naming the alias by
    // its unique id (the log is not sealed; the name is).
    let log = audit(&ctx.token_path(0));
    for (alias_uid, key) in [(&ua, &id1), (&ub, &id1), (&uc, &id2)] {
        assert!(
            log.iter().any(|(_, rv, k, why, _)| *rv == 0
                && k == key
                && why == &format!("alias {alias_uid} removed with its key")),
            "{alias_uid}: {log:?}"
        );
    }
    assert!(
        log.iter().all(|(.., why, _)| !why.contains("alias/")),
        "{log:?}"
    );
}

const ALICE_PIN: &str = "alice-pin-1";
const BOB_PIN: &str = "bob-pin-22";

/// alice may only encrypt with K; bob may manage it; the owner keeps all.
const POLICY: &str = r#"{"statements": [
    {"principals": ["alice"], "allow": ["Encrypt"]},
    {"principals": ["bob"], "allow": ["ManageKey"]},
    {"principals": ["user"], "allow": ["*"]}
]}"#;

/// The module's 3.0 function list, for `C_LoginUser` (which `cryptoki`
/// lacks); a login is the token's, so the `cryptoki` sessions share it.
struct Raw {
    f: &'static CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
}

impl Raw {
    fn open(slot: CK_SLOT_ID) -> Raw {
        let f = p11_testkit::function_table_3_0(module_path());
        let mut h = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        let rv = call_strict!(
            f,
            C_OpenSession,
            slot,
            flags,
            std::ptr::null_mut(),
            None,
            &mut h
        );
        assert_eq!(rv, CKR_OK);
        Raw { f, h }
    }

    fn login(&self, name: &str, pin: &str) {
        let (mut pin, mut name) = (pin.as_bytes().to_vec(), name.as_bytes().to_vec());
        let rv = call_strict!(
            self.f,
            C_LoginUser,
            self.h,
            CKU_USER,
            pin.as_mut_ptr(),
            ulen(pin.len()),
            name.as_mut_ptr(),
            ulen(name.len())
        );
        assert_eq!(rv, CKR_OK);
    }

    fn logout(&self) {
        assert_eq!(call_strict!(self.f, C_Logout, self.h), CKR_OK);
    }
}

#[test]
fn alias_changes_need_manage_key_on_the_key_and_are_audited() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let (k, other, owned_uid) = {
        let s = ctx.user_session(0);
        let k = ManagedKey::new("K").policy(POLICY).generate(&s);
        // bob may not manage this one.
        let other = ManagedKey::new("other")
            .policy(r#"{"statements":[{"principals":["user"],"allow":["*"]}]}"#)
            .generate(&s);
        let (k, other) = (uid(&s, k), uid(&s, other));
        let owned = s.create_object(&alias("alias/owned", &k)).unwrap();
        let owned_uid = uid(&s, owned);
        s.logout().unwrap();
        (k, other, owned_uid)
    };
    {
        let so = ctx.p11.open_rw_session(slot).unwrap();
        so.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
        for (name, p) in [("alice", ALICE_PIN), ("bob", BOB_PIN)] {
            so.create_object(&[
                vendor(CKA_CLASS, &CKO_PRINCIPAL.to_ne_bytes()),
                Attribute::Label(name.as_bytes().to_vec()),
                vendor(PRINCIPAL_PIN, p.as_bytes()),
            ])
            .unwrap();
        }
        so.logout().unwrap();
    }
    let raw = Raw::open(slot.id());

    // alice: no ManageKey on K, so no alias to it, no re-pointing of one
    // that points at it, no deleting it.
    raw.login("alice", ALICE_PIN);
    let s = ctx.p11.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.create_object(&alias("alias/alice", &k))),
        RvError::KeyFunctionNotPermitted
    );
    let owned = find_alias(&s, "alias/owned")[0];
    assert_eq!(target(&s, owned), k, "alice sees the alias");
    assert_eq!(
        rv(s.update_attributes(owned, &[vendor(TARGET, other.as_bytes())])),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        rv(s.destroy_object(owned)),
        RvError::KeyFunctionNotPermitted
    );
    assert!(find_alias(&s, "alias/alice").is_empty());
    assert_eq!(target(&s, owned), k);
    drop(s);
    raw.logout();

    // bob: ManageKey on K but not on other.
    raw.login("bob", BOB_PIN);
    let s = ctx.p11.open_rw_session(slot).unwrap();
    let mine = s.create_object(&alias("alias/bob", &k)).unwrap();
    let bob_uid = uid(&s, mine);
    assert_eq!(
        rv(s.create_object(&alias("alias/bob-other", &other))),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        rv(s.update_attributes(mine, &[vendor(TARGET, other.as_bytes())])),
        RvError::KeyFunctionNotPermitted
    );
    s.destroy_object(mine).unwrap();
    // The key itself is untouched by all this.
    let key = s.find_objects(&[Attribute::Label(b"K".to_vec())]).unwrap()[0];
    assert_eq!(uid(&s, key), k);
    drop(s);
    raw.logout();

    let log = audit(&ctx.token_path(0));
    // Alias names never reach the audit log (it is not sealed): records name
    // an alias by its unique id.
    assert!(
        log.iter().all(|(.., why, _)| !why.contains("alias/")),
        "{log:?}"
    );
    let refused = |who: &str, function: &str, key: &str| {
        log.iter().any(|(f, rv, kid, why, p)| {
            f == function
                && *rv == CKR_KEY_FUNCTION_NOT_PERMITTED
                && kid == key
                && p == who
                && why.starts_with("alias ")
        })
    };
    assert!(refused("alice", "C_CreateObject", &k), "{log:?}");
    assert!(refused("alice", "C_SetAttributeValue", &k), "{log:?}");
    assert!(refused("alice", "C_DestroyObject", &k), "{log:?}");
    assert!(refused("bob", "C_CreateObject", &other), "{log:?}");
    assert!(refused("bob", "C_SetAttributeValue", &other), "{log:?}");
    let done = |who: &str, function: &str, why: &str| {
        log.iter().any(|(f, rv, kid, w, p)| {
            f == function && *rv == 0 && kid == &k && p == who && w == why
        })
    };
    assert!(
        done(
            "user",
            "C_CreateObject",
            &format!("alias {owned_uid} created")
        ),
        "{log:?}"
    );
    assert!(
        done("bob", "C_CreateObject", &format!("alias {bob_uid} created")),
        "{log:?}"
    );
    assert!(
        done(
            "bob",
            "C_DestroyObject",
            &format!("alias {bob_uid} deleted")
        ),
        "{log:?}"
    );
}
