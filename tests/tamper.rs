//! Tamper evidence for the whole token file (issue 13, docs/security.md,
//! "Integrity root"): someone who can write the file but has no PIN edits,
//! strips, replays, re-inserts, deletes or swaps rows with SQLite. Each change is
//! detected at the next login, named in the log, changes nothing SoftKMS does,
//! and the untouched objects keep working.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use rusqlite::types::Value;
use std::path::{Path, PathBuf};

const KEY: [u8; 16] = [7; 16];
const IV: [u8; 16] = [1; 16];

fn assert_logged(needle: &str, what: &str) {
    let lines = log_lines(needle);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" ERROR ") && l.contains(what)),
        "no ERROR line with {needle:?} and {what:?}: {lines:?}"
    );
}

/// One object row, every column, or `None`.
fn object_row(path: &Path, uid: &str) -> Option<Vec<Value>> {
    let c = db(path);
    let mut st = c.prepare("SELECT * FROM objects WHERE uid = ?1").unwrap();
    let n = st.column_count();
    let mut rows = st
        .query_map([uid], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<Vec<Vec<Value>>>>()
        .unwrap();
    rows.pop()
}

/// Replaces (or inserts) an object row with `row` as read by [`object_row`].
fn put_row(path: &Path, row: &[Value]) {
    let c = db(path);
    c.execute(
        "INSERT OR REPLACE INTO objects (uid, private, clear, mac, sealed, generation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params_from_iter(row.iter()),
    )
    .unwrap();
}

/// Every object row, to show that nothing was rewritten.
fn objects(path: &Path) -> Vec<Vec<Value>> {
    let c = db(path);
    let mut st = c.prepare("SELECT * FROM objects ORDER BY uid").unwrap();
    let n = st.column_count();
    let out = st
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<Vec<Vec<Value>>>>()
        .unwrap();
    out
}

fn uid(s: &Session, o: ObjectHandle) -> String {
    match &s.get_attributes(o, &[AttributeType::UniqueId]).unwrap()[..] {
        [Attribute::UniqueId(u)] => String::from_utf8(u.clone()).unwrap(),
        other => panic!("{other:?}"),
    }
}

fn find(s: &Session, label: &str) -> Vec<ObjectHandle> {
    s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap()
}

fn aes(s: &Session, label: &str, private: bool) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Value(KEY.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .unwrap()
}

fn data(s: &Session, label: &str, private: bool) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Value(b"value".to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .unwrap()
}

/// The AES key `label` is there and encrypts and decrypts.
fn works(s: &Session, label: &str) {
    let k = find(s, label);
    assert_eq!(k.len(), 1, "{label} must be shown");
    let m = Mechanism::AesCbcPad(IV);
    let ct = s.encrypt(&m, k[0], b"hello").unwrap();
    assert_eq!(s.decrypt(&m, k[0], &ct).unwrap(), b"hello", "{label}");
}

/// Makes an object with `make` until its row shares no bucket with the
/// principals or the audit anchor (whose refusal would stop logins or flag the
/// log: collateral this test does not look at).
fn victim(s: &Session, make: impl Fn() -> ObjectHandle) -> ObjectHandle {
    let shared = [
        bucket("principal", "so"),
        bucket("principal", "user"),
        bucket("anchor", ""),
    ];
    loop {
        let h = make();
        let u = uid(s, h);
        if !shared.contains(&bucket("object", &u)) && !shared.contains(&bucket("tombstone", &u)) {
            return h;
        }
        s.destroy_object(h).unwrap();
    }
}

/// Makes labelled AES keys in different buckets from `avoid`'s: one private,
/// one public (CKA_PRIVATE false, as `pkcs11-tool --keygen` makes them).
fn bystanders(s: &Session, avoid: &[String]) -> Vec<String> {
    // A removed or re-inserted object also leaves its tombstone's bucket bad.
    let bad: Vec<u64> = avoid
        .iter()
        .flat_map(|u| [bucket("object", u), bucket("tombstone", u)])
        .chain([bucket("anchor", "")])
        .collect();
    let mut labels = Vec::new();
    for (i, private) in [(0, true), (1, false)] {
        loop {
            let label = format!("keep-{i}-{}", labels.len());
            let h = aes(s, &label, private);
            if !bad.contains(&bucket("object", &uid(s, h))) {
                labels.push(label);
                break;
            }
            s.destroy_object(h).unwrap();
        }
    }
    labels
}

/// Sets a ulong/bool attribute in an encoded attribute map (the store's codec:
/// u32 count, then u64 type, u32 length, value, little endian).
fn edit_attr(blob: &[u8], ty: u64, value: &[u8]) -> Vec<u8> {
    let mut out = blob[..4].to_vec();
    let mut b = &blob[4..];
    while !b.is_empty() {
        let t = u64::from_le_bytes(b[..8].try_into().unwrap());
        let len = usize::try_from(u32::from_le_bytes(b[8..12].try_into().unwrap())).unwrap();
        let v = if t == ty { value } else { &b[12..12 + len] };
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&u32::try_from(v.len()).unwrap().to_le_bytes());
        out.extend_from_slice(v);
        b = &b[12 + len..];
    }
    out
}

/// Issue 13, attack 1: a public secret key's MAC set to NULL and its clear
/// CKA_SENSITIVE / CKA_EXTRACTABLE flipped; a public data object's MAC
/// stripped. Neither is shown after login, the key's value cannot be read, both
/// are logged, the rows are not rewritten, and the other keys work.
#[test]
fn a_stripped_mac_and_flipped_clear_attributes_are_refused() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let key = uid(&s, victim(&s, || aes(&s, "victim", false)));
    let doc = uid(&s, victim(&s, || data(&s, "victim-data", false)));
    let keep = bystanders(&s, &[key.clone(), doc.clone()]);
    drop(s);
    stop(&ctx);
    let path = ctx.token_path(0);
    let mut row = object_row(&path, &key).unwrap();
    let Value::Blob(clear) = &row[2] else {
        panic!("the public key has clear attributes")
    };
    let clear = edit_attr(clear, 0x103, &[0]); // CKA_SENSITIVE
    let clear = edit_attr(&clear, 0x162, &[1]); // CKA_EXTRACTABLE
    row[2] = Value::Blob(clear);
    row[3] = Value::Null;
    put_row(&path, &row);
    let mut drow = object_row(&path, &doc).unwrap();
    drow[3] = Value::Null;
    put_row(&path, &drow);
    let tampered = objects(&path);

    start(&mut ctx);
    let s = ctx.user_session(0);
    assert!(find(&s, "victim").is_empty(), "the edited key is refused");
    assert!(
        find(&s, "victim-data").is_empty(),
        "the stripped row is refused"
    );
    for label in &keep {
        works(&s, label);
    }
    // Writes go on; the refused rows are not touched.
    let extra = data(&s, "extra", true);
    s.destroy_object(extra).unwrap();
    drop(s);
    stop(&ctx);
    assert_eq!(objects(&path), tampered, "the file was rewritten");
    assert_logged(&key, "without a MAC");
    assert_logged(&doc, "integrity root");
    start(&mut ctx);
}

/// Issue 13, attack 2: an older copy of a key row (one whose usage was
/// narrowed since) and of a public data row put back. Both are refused at the
/// next login; the rest works.
#[test]
fn an_older_copy_of_a_row_is_refused() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = victim(&s, || aes(&s, "narrowed", true));
    let d = victim(&s, || data(&s, "renamed", false));
    let (ku, du) = (uid(&s, k), uid(&s, d));
    let keep = bystanders(&s, &[ku.clone(), du.clone()]);
    drop(s);
    stop(&ctx);
    let old_key = object_row(&ctx.token_path(0), &ku).unwrap();
    let old_data = object_row(&ctx.token_path(0), &du).unwrap();
    start(&mut ctx);
    let s = ctx.user_session(0);
    let (k, d) = (find(&s, "narrowed")[0], find(&s, "renamed")[0]);
    s.update_attributes(k, &[Attribute::Encrypt(false)])
        .unwrap();
    s.update_attributes(d, &[Attribute::Label(b"renamed-2".to_vec())])
        .unwrap();
    drop(s);
    stop(&ctx);
    let path = ctx.token_path(0);
    put_row(&path, &old_key);
    put_row(&path, &old_data);
    let tampered = objects(&path);

    start(&mut ctx);
    let s = ctx.user_session(0);
    assert!(
        find(&s, "narrowed").is_empty(),
        "the replayed key is refused"
    );
    assert!(find(&s, "renamed").is_empty());
    assert!(find(&s, "renamed-2").is_empty());
    for label in &keep {
        works(&s, label);
    }
    drop(s);
    stop(&ctx);
    assert_eq!(objects(&path), tampered, "the file was rewritten");
    assert_logged(&ku, "integrity root");
    assert_logged(&du, "integrity root");
    start(&mut ctx);
}

/// Issue 13, attack 2: the user's old PIN row put back after the SO reset the
/// PIN. The old PIN does not log in (the row does not match the root), the SO
/// still does and the objects work.
#[test]
fn an_older_principal_row_does_not_bring_the_old_pin_back() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    aes(&s, "k", true);
    drop(s);
    stop(&ctx);
    let path = ctx.token_path(0);
    let old: (i64, i64, i64, Vec<u8>, Vec<u8>) = db(&path)
        .query_row(
            "SELECT m_cost_kib, t_cost, p_cost, salt, wrapped_tmk FROM principals WHERE name = 'user'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    start(&mut ctx);
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin("a-new-user-pin")).unwrap();
    drop(s);
    stop(&ctx);
    db(&path)
        .execute(
            "UPDATE principals SET m_cost_kib = ?1, t_cost = ?2, p_cost = ?3, salt = ?4,
             wrapped_tmk = ?5 WHERE name = 'user'",
            rusqlite::params![old.0, old.1, old.2, old.3, old.4],
        )
        .unwrap();
    let tampered = objects(&path);

    start(&mut ctx);
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinIncorrect,
        "the old PIN must not come back"
    );
    assert!(s
        .login(UserType::User, Some(&pin("a-new-user-pin")))
        .is_err());
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    drop(s);
    stop(&ctx);
    assert_eq!(objects(&path), tampered, "the file was rewritten");
    assert_logged(&path.display().to_string(), "principal \"user\" refused");
    start(&mut ctx);
}

/// Issue 13, attack 2: a destroyed key's row re-inserted and its tombstone
/// deleted. The key stays gone; the rest works.
#[test]
fn a_reinserted_destroyed_object_stays_gone() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let ku = uid(&s, victim(&s, || aes(&s, "destroyed", true)));
    let keep = bystanders(&s, std::slice::from_ref(&ku));
    drop(s);
    stop(&ctx);
    let path = ctx.token_path(0);
    let row = object_row(&path, &ku).unwrap();
    start(&mut ctx);
    let s = ctx.user_session(0);
    s.destroy_object(find(&s, "destroyed")[0]).unwrap();
    drop(s);
    stop(&ctx);
    put_row(&path, &row);
    db(&path)
        .execute("DELETE FROM tombstones WHERE uid = ?1", [&ku])
        .unwrap();
    let tampered = objects(&path);

    start(&mut ctx);
    let s = ctx.user_session(0);
    assert!(
        find(&s, "destroyed").is_empty(),
        "the destroyed key is back"
    );
    for label in &keep {
        works(&s, label);
    }
    drop(s);
    stop(&ctx);
    assert_eq!(objects(&path), tampered, "the file was rewritten");
    assert_logged(&ku, "integrity root");
    start(&mut ctx);
}

/// Issue 13: an object row deleted (no tombstone). The bucket it was in is
/// named in the log with the rows refused with it; keys in other buckets work.
#[test]
fn a_deleted_row_is_detected() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let ku = uid(&s, victim(&s, || aes(&s, "deleted", true)));
    let keep = bystanders(&s, std::slice::from_ref(&ku));
    drop(s);
    stop(&ctx);
    let path = ctx.token_path(0);
    db(&path)
        .execute("DELETE FROM objects WHERE uid = ?1", [&ku])
        .unwrap();

    start(&mut ctx);
    let s = ctx.user_session(0);
    for label in &keep {
        works(&s, label);
    }
    drop(s);
    stop(&ctx);
    assert_logged(
        &path.display().to_string(),
        &format!(
            "integrity root bucket {} does not match",
            bucket("object", &ku)
        ),
    );
    start(&mut ctx);
}

/// Issue 13, attack 3: the oldest audit records cut and the anchor moved to
/// the newest cut one by hand. `verify_audit` reports that no retention moved
/// the anchor and, with the master key, that the anchor fails the root; the
/// login through the module logs it.
#[test]
fn a_cut_audit_front_with_a_moved_anchor_is_detected() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let keep = bystanders(&s, &[]);
    drop(s);
    stop(&ctx);
    let path = ctx.token_path(0);
    let c = db(&path);
    let hash: Vec<u8> = c
        .query_row("SELECT hash FROM audit WHERE seq = 3", [], |r| r.get(0))
        .unwrap();
    c.execute("DELETE FROM audit WHERE seq <= 3", []).unwrap();
    c.execute(
        "UPDATE meta SET audit_anchor_seq = 3, audit_anchor_hash = ?1",
        [hash],
    )
    .unwrap();
    drop(c);

    start(&mut ctx);
    let s = ctx.user_session(0);
    for label in &keep {
        works(&s, label);
    }
    drop(s);
    stop(&ctx);
    assert_logged(&path.display().to_string(), "audit anchor");

    let store = softkms::internals::store::Store::open(&path).unwrap();
    let v = store.verify_audit().unwrap();
    assert!(
        v.problems
            .contains(&softkms::internals::store::audit::Problem::UnrecordedAnchor { anchor: 3 }),
        "{:?}",
        v.problems
    );
    let tmk = store.unlock("so", SO_PIN.as_bytes(), 100).unwrap();
    store.authenticate(&tmk).unwrap();
    let v = store.verify_audit().unwrap();
    assert!(
        v.problems.contains(
            &softkms::internals::store::audit::Problem::UnauthenticatedAnchor { anchor: 3 }
        ),
        "{:?}",
        v.problems
    );
    drop(store);
    start(&mut ctx);
}

/// Issue 13: an object row copied from another token (same PINs) into this one
/// is refused; this token's own objects work.
#[test]
fn a_row_from_another_token_is_refused() {
    let mut ctx = logging_ctx(2);
    ctx.init_token(0);
    ctx.init_token(1);
    let s = ctx.user_session(0);
    let foreign = uid(&s, victim(&s, || aes(&s, "foreign", true)));
    drop(s);
    let s = ctx.user_session(1);
    let keep = bystanders(&s, std::slice::from_ref(&foreign));
    drop(s);
    stop(&ctx);
    let row = object_row(&ctx.token_path(0), &foreign).unwrap();
    let path = ctx.token_path(1);
    put_row(&path, &row);
    let tampered = objects(&path);

    start(&mut ctx);
    let s = ctx.user_session(1);
    assert!(find(&s, "foreign").is_empty());
    for label in &keep {
        works(&s, label);
    }
    drop(s);
    stop(&ctx);
    assert_eq!(objects(&path), tampered, "the file was rewritten");
    assert_logged(&foreign, "skipped");
    start(&mut ctx);
}

/// The documented window: a public object made before any login has no MAC
/// until the next login checks it and folds it into the root; after that,
/// stripping its MAC is detected like any other row's.
#[test]
fn a_public_object_made_before_login_is_covered_from_the_next_login() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let path = ctx.token_path(0);
    // (The file is read only while the module is stopped: two SQLite copies
    // in one process do not share their locks.)
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    let d = data(&s, "early", false);
    let du = uid(&s, d);
    drop(s);
    stop(&ctx);
    assert_eq!(object_row(&path, &du).unwrap()[3], Value::Null, "pending");
    start(&mut ctx);
    let s = ctx.user_session(0);
    assert_eq!(find(&s, "early").len(), 1);
    let d = find(&s, "early")[0];
    // Logged out, a covered row cannot be replaced without the master key.
    s.logout().unwrap();
    assert_eq!(
        rv(s.update_attributes(d, &[Attribute::Label(b"late".to_vec())])),
        RvError::UserNotLoggedIn
    );
    drop(s);
    stop(&ctx);
    let r = object_row(&path, &du).unwrap();
    assert!(matches!(r[3], Value::Blob(_)), "folded at login: {r:?}");
    let mut row = object_row(&path, &du).unwrap();
    row[3] = Value::Null;
    put_row(&path, &row);
    start(&mut ctx);
    let s = ctx.user_session(0);
    assert!(find(&s, "early").is_empty());
    drop(s);
    stop(&ctx);
    assert_logged(&du, "integrity root");
    start(&mut ctx);
}

/// The message-based AES-GCM IVs of `n` messages under `k`, with counter-generated
/// IVs (`CKG_GENERATE_COUNTER`), or the first error.
fn counter_ivs(s: &Session, k: ObjectHandle, n: usize) -> Result<Vec<[u8; 12]>, RvError> {
    use cryptoki::mechanism::aead::{GcmMessageParams, GeneratorFunction};
    use cryptoki::mechanism::MessageParam;
    fn params<'a>(iv: &'a mut [u8; 12], tag: &'a mut [u8; 16]) -> GcmMessageParams<'a> {
        GcmMessageParams::new(iv, 32.into(), GeneratorFunction::GenerateCounter, tag).unwrap()
    }
    let (mut iv0, mut tag0) = ([9u8; 12], [0u8; 16]);
    let init = Mechanism::AesGcmMessage(params(&mut iv0, &mut tag0));
    s.message_encrypt_init(&init, k)
        .map_err(|e| rv(Err::<(), _>(e)))?;
    let mut ivs = Vec::new();
    for _ in 0..n {
        let (mut iv, mut tag) = ([9u8; 12], [0u8; 16]);
        let p = MessageParam::AesGcmMessage(params(&mut iv, &mut tag));
        let r = s.encrypt_message(&p, b"", b"message");
        if let Err(e) = r {
            let _ = s.message_encrypt_final();
            return Err(rv(Err::<(), _>(e)));
        }
        ivs.push(iv);
    }
    s.message_encrypt_final().unwrap();
    Ok(ivs)
}

/// A key's IV counter set back in the file (so that the next block would hand
/// out IVs already used) is refused at the next login: no counter-generated IV
/// repeats, the counter is named in the log, and the key's other uses and the
/// other keys keep working.
#[test]
fn a_counter_set_back_is_refused_and_no_iv_repeats() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let path = ctx.token_path(0);
    let s = ctx.user_session(0);
    let shared = [
        bucket("principal", "so"),
        bucket("principal", "user"),
        bucket("anchor", ""),
    ];
    // A key whose counter shares no bucket with the principals, the anchor or
    // its own row.
    let (k, ku) = loop {
        let h = aes(&s, "iv key", true);
        let u = uid(&s, h);
        let c = bucket("counter", &u);
        if !shared.contains(&c) && c != bucket("object", &u) {
            break (h, u);
        }
        s.destroy_object(h).unwrap();
    };
    let keep = bystanders(&s, &[]);
    let keep: Vec<String> = keep
        .into_iter()
        .filter(|l| bucket("object", &uid(&s, find(&s, l)[0])) != bucket("counter", &ku))
        .collect();
    assert!(!keep.is_empty());
    let mut seen = counter_ivs(&s, k, 3).unwrap();
    drop(s);
    stop(&ctx);
    let old: i64 = db(&path)
        .query_row("SELECT next FROM counters WHERE uid = ?1", [&ku], |r| {
            r.get(0)
        })
        .unwrap();
    start(&mut ctx);
    let s = ctx.user_session(0);
    let k = find(&s, "iv key")[0];
    seen.extend(counter_ivs(&s, k, 3).unwrap());
    drop(s);
    stop(&ctx);
    db(&path)
        .execute(
            "UPDATE counters SET next = ?1 WHERE uid = ?2",
            rusqlite::params![old, ku],
        )
        .unwrap();
    start(&mut ctx);
    let s = ctx.user_session(0);
    let k = find(&s, "iv key")[0];
    match counter_ivs(&s, k, 3) {
        Ok(ivs) => {
            let again: Vec<_> = ivs.iter().filter(|iv| seen.contains(iv)).collect();
            panic!("a set-back counter was used; IVs used twice: {again:?}");
        }
        Err(e) => assert_eq!(e, RvError::KeyFunctionNotPermitted),
    }
    // The key itself still encrypts with an IV the module draws at random
    // (single-part GCM with a generated IV is not counter based) and the
    // others work.
    works(&s, "iv key");
    for label in &keep {
        works(&s, label);
    }
    drop(s);
    stop(&ctx);
    assert_logged(&ku, "integrity root");
    start(&mut ctx);
}

/// The pre-root fixture: a token written by SoftKMS before integrity roots
/// (commit 90b7ad8), made by [`make_pre_root_fixture`].
fn pre_root_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pre-root-token.db")
}

/// The plaintext of the fixture's envelope message.
const ENVELOPED: &[u8] = b"sealed before the integrity root";

/// Writes `tests/fixtures/pre-root-token.db` with the module named by
/// `TEST_PKCS11_MODULE`, which must be a SoftKMS from before integrity roots:
/// `TEST_PKCS11_MODULE=/path/to/old/libsoftkms.so cargo test --test tamper --
/// --ignored make_pre_root_fixture`. Its user PIN is [`USER_PIN`], its slot
/// uses `kdf = "fast"`.
#[test]
#[ignore = "makes the fixture with an old module"]
fn make_pre_root_fixture() {
    assert!(
        std::env::var_os("TEST_PKCS11_MODULE").is_some(),
        "set TEST_PKCS11_MODULE to a SoftKMS from before integrity roots"
    );
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    // Every object in a bucket of its own (and none with the principals or the
    // anchor), so that a test that damages one row sees only that row refused.
    let mut used = vec![
        bucket("principal", "so"),
        bucket("principal", "user"),
        bucket("anchor", ""),
    ];
    let mut alone = |make: &dyn Fn() -> ObjectHandle| loop {
        let h = make();
        let b = bucket("object", &uid(&s, h));
        if !used.contains(&b) {
            used.push(b);
            return h;
        }
        s.destroy_object(h).unwrap();
    };
    alone(&|| aes(&s, "old-aes", true));
    alone(&|| aes(&s, "old-public-aes", false));
    alone(&|| data(&s, "old-data", false));
    let managed = alone(&|| {
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(b"old-managed".to_vec()),
            ],
        )
        .unwrap()
    });
    let ct = s.encrypt(&envelope(), managed, ENVELOPED).unwrap();
    alone(&|| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Value(ct.clone()),
            Attribute::Label(b"old-envelope".to_vec()),
        ])
        .unwrap()
    });
    drop(s);
    let src = ctx.token_path(0);
    stop(&ctx);
    db(&src)
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    std::fs::create_dir_all(pre_root_fixture().parent().unwrap()).unwrap();
    std::fs::copy(&src, pre_root_fixture()).unwrap();
}

/// `CKM_SOFTKMS_ENVELOPE` without parameters.
fn envelope() -> Mechanism<'static> {
    use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
    use cryptoki::mechanism::MechanismType;
    let ty = MechanismType::new_vendor_defined(0xD34B_0001).unwrap();
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<u8>(ty, None))
}

/// A logging module whose slot 0 holds a copy of the pre-root fixture, changed
/// by `edit` (with SQLite) before the module opens it.
fn with_pre_root_token(edit: impl FnOnce(&Path)) -> Ctx {
    let mut ctx = logging_ctx(1);
    stop(&ctx);
    let path = ctx.token_path(0);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    std::fs::copy(pre_root_fixture(), &path).unwrap();
    let version: i64 = db(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(
        version < 5,
        "the fixture is a token from before roots (schema {version})"
    );
    edit(&path);
    start(&mut ctx);
    ctx
}

/// Every object of the fixture but `except` is there and does what it did.
fn fixture_works(s: &Session, except: &str) {
    for label in ["old-aes", "old-public-aes"] {
        if label != except {
            works(s, label);
        }
    }
    if except != "old-data" {
        let d = find(s, "old-data");
        assert_eq!(d.len(), 1);
        let v = s.get_attributes(d[0], &[AttributeType::Value]).unwrap();
        assert!(matches!(&v[..], [Attribute::Value(v)] if v == b"value"));
    }
    let e = find(s, "old-envelope")[0];
    let ct = match &s.get_attributes(e, &[AttributeType::Value]).unwrap()[..] {
        [Attribute::Value(v)] => v.clone(),
        other => panic!("{other:?}"),
    };
    let k = find(s, "old-managed")[0];
    assert_eq!(s.decrypt(&envelope(), k, &ct).unwrap(), ENVELOPED);
}

/// A token written before integrity roots is adopted at its first login: its
/// objects keep working (also an envelope message sealed then), every row gets
/// a MAC and the file a root, and from then on a tampered row is refused like
/// in a token made with roots.
#[test]
fn a_token_from_before_the_root_is_adopted() {
    let mut ctx = with_pre_root_token(|_| {});
    let path = ctx.token_path(0);
    let s = ctx.user_session(0);
    fixture_works(&s, "");
    let public = uid(&s, find(&s, "old-public-aes")[0]);
    drop(s);
    stop(&ctx);
    let c = db(&path);
    let root: Value = c
        .query_row("SELECT root FROM meta", [], |r| r.get(0))
        .unwrap();
    assert!(matches!(root, Value::Blob(_)), "no root after adoption");
    let unmacd: i64 = c
        .query_row("SELECT count(*) FROM objects WHERE mac IS NULL", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(unmacd, 0, "rows left without a MAC");
    drop(c);
    assert!(
        !log_lines("integrity root adopted").is_empty(),
        "adoption not logged"
    );
    // Adopted, the public key's clear attributes are covered: flipped and
    // stripped, it is refused; the rest keeps working.
    let mut row = object_row(&path, &public).unwrap();
    if let Value::Blob(clear) = &row[2] {
        let c = edit_attr(clear, 0x103, &[0]); // CKA_SENSITIVE
        row[2] = Value::Blob(edit_attr(&c, 0x162, &[1])); // CKA_EXTRACTABLE
    }
    row[3] = Value::Null;
    put_row(&path, &row);
    start(&mut ctx);
    let s = ctx.user_session(0);
    assert!(find(&s, "old-public-aes").is_empty());
    fixture_works(&s, "old-public-aes");
    drop(s);
    stop(&ctx);
    assert_logged(&public, "");
    start(&mut ctx);
}

/// A pre-root token whose row was changed before its first login: adoption
/// does not give that row a MAC, it stays refused (and logged), and the rest of
/// the token is adopted and works.
#[test]
fn a_row_changed_before_adoption_is_not_adopted() {
    let mut victim_uid = String::new();
    let mut ctx = with_pre_root_token(|path| {
        let c = db(path);
        // The private AES key: one byte of its sealed part flipped.
        let (uid, mut sealed): (String, Vec<u8>) = c
            .query_row(
                "SELECT uid, sealed FROM objects WHERE private = 1 AND sealed IS NOT NULL
                 ORDER BY uid",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        c.execute(
            "UPDATE objects SET sealed = ?1 WHERE uid = ?2",
            rusqlite::params![sealed, uid],
        )
        .unwrap();
        victim_uid = uid;
    });
    let s = ctx.user_session(0);
    // Which object it was depends on the uids; find it by what is missing.
    let labels = [
        "old-aes",
        "old-public-aes",
        "old-data",
        "old-managed",
        "old-envelope",
    ];
    let missing: Vec<&str> = labels
        .iter()
        .copied()
        .filter(|l| find(&s, l).is_empty())
        .collect();
    assert_eq!(
        missing.len(),
        1,
        "exactly the changed row is refused: {missing:?}"
    );
    if !["old-managed", "old-envelope"].contains(&missing[0]) {
        fixture_works(&s, missing[0]);
    }
    drop(s);
    stop(&ctx);
    assert_logged(&victim_uid, "not adopted");
    start(&mut ctx);
}
