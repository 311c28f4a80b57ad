//! A damaged or foreign token file gets a clear error, never a panic, and is not
//! "repaired" into something that loses keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;

fn expect_unrecognized(ctx: &Ctx) {
    let slot = ctx.slot(0);
    let info = ctx.p11.get_token_info(slot);
    match info {
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => {
            assert!(
                matches!(rv, RvError::TokenNotRecognized | RvError::DeviceError),
                "{rv:?}"
            )
        }
        other => panic!("a damaged file must be refused: {other:?}"),
    }
    assert!(matches!(
        rv(ctx.p11.open_rw_session(slot)),
        RvError::TokenNotRecognized | RvError::DeviceError
    ));
}

#[test]
fn random_bytes_truncation_and_a_newer_schema_are_refused() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(b"keep-me".to_vec()),
        ])
        .unwrap();
    }
    ctx.restart();
    ctx.p11.clone().finalize().unwrap();
    let path = ctx.token_path(0);
    let good = std::fs::read(&path).unwrap();

    // Random bytes.
    std::fs::write(
        &path,
        (0..8192u32)
            .map(|i| u8::try_from(i * 7919 % 251).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    ctx.p11 = cryptoki::context::Pkcs11::new(module_path()).unwrap();
    ctx.p11
        .initialize(cryptoki::context::CInitializeArgs::new(
            cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
        ))
        .unwrap();
    expect_unrecognized(&ctx);
    ctx.restart();

    // Truncated.
    std::fs::write(&path, &good[..good.len() / 3]).unwrap();
    ctx.restart();
    expect_unrecognized(&ctx);

    // A newer schema than this module knows.
    std::fs::write(&path, &good).unwrap();
    {
        let c = rusqlite_user_version(&path, 999);
        assert!(c, "could not set user_version");
    }
    ctx.restart();
    expect_unrecognized(&ctx);
    // Nothing was "repaired": the file still says 999 and the data is still there.
    assert_eq!(read_user_version(&path), 999);

    // Back to the good file: everything is there.
    std::fs::write(&path, &good).unwrap();
    ctx.restart();
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"keep-me".to_vec())])
            .unwrap()
            .len(),
        1
    );
}

fn rusqlite_user_version(path: &std::path::Path, v: u32) -> bool {
    std::process::Command::new("sqlite3")
        .arg(path)
        .arg(format!("PRAGMA user_version = {v};"))
        .status()
        .is_ok_and(|s| s.success())
}

fn read_user_version(path: &std::path::Path) -> u32 {
    let out = std::process::Command::new("sqlite3")
        .arg(path)
        .arg("PRAGMA user_version;")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

// ---------------------------------------------------------------------------
// Flipped bytes and foreign rows: the file is opened with rusqlite behind the
// module's back (between C_Finalize and C_Initialize), the way a disk error or an
// attacker with write access to the file would change it.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{AttributeType, KeyType, ObjectHandle};
use cryptoki::session::Session;
use rusqlite::types::Value;
use std::path::{Path, PathBuf};

/// SP 800-38A F.2.1 (CBC-AES128): key, IV, first plaintext and ciphertext block.
const K1: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const PT: &str = "6bc1bee22e409f96e93d7e117393172a";
const CT: &str = "7649abac8119b246cee98e9b12e9197d";
/// P-256 (prime256v1) as DER.
use p11_testkit::P256_OID as P256;

fn h(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every row of `table`, ordered by `order`, every column.
fn rows(path: &Path, table: &str, order: &str) -> Vec<Vec<Value>> {
    let c = db(path);
    let mut st = c
        .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
        .unwrap();
    let n = st.column_count();
    let out = st
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<Vec<Vec<Value>>>>()
        .unwrap();
    out
}

/// What must never change behind the caller's back: every object row, the token's
/// identity and check value, and every principal's salt and wrapped master key
/// (the failed-login count may move: a wrong PIN counts).
#[derive(Debug, PartialEq)]
struct Snapshot {
    objects: Vec<Vec<Value>>,
    identity: Vec<Vec<Value>>,
    principals: Vec<Vec<Value>>,
}

fn snapshot(path: &Path) -> Snapshot {
    let c = db(path);
    let q = |sql: &str| -> Vec<Vec<Value>> {
        let mut st = c.prepare(sql).unwrap();
        let n = st.column_count();
        let out = st
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<rusqlite::Result<Vec<Vec<Value>>>>()
            .unwrap();
        out
    };
    Snapshot {
        objects: rows(path, "objects", "uid"),
        identity: q("SELECT epoch, token_uuid, label, serial, tmk_check FROM meta"),
        principals: q(
            "SELECT name, m_cost_kib, t_cost, p_cost, salt, wrapped_tmk FROM principals ORDER BY name",
        ),
    }
}

fn failed_logins(path: &Path, name: &str) -> i64 {
    db(path)
        .query_row(
            "SELECT failed_logins FROM principals WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap()
}

/// Flips the bits of the middle byte of a BLOB cell; returns the new value.
fn flip(path: &Path, table: &str, column: &str, key: &str, key_value: &str) -> Vec<u8> {
    let c = db(path);
    let mut b: Vec<u8> = c
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE {key} = ?1"),
            [key_value],
            |r| r.get(0),
        )
        .unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x5a;
    let n = c
        .execute(
            &format!("UPDATE {table} SET {column} = ?1 WHERE {key} = ?2"),
            rusqlite::params![b, key_value],
        )
        .unwrap();
    assert_eq!(n, 1);
    b
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

fn one(s: &Session, label: &str) -> ObjectHandle {
    let v = find(s, label);
    assert_eq!(v.len(), 1, "{label}");
    v[0]
}

fn aes(s: &Session, label: &str, value: &[u8], private: bool) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Sensitive(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Value(value.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .unwrap()
}

fn data(s: &Session, label: &str, value: &[u8], private: bool) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Value(value.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .unwrap()
}

fn ec_pair(s: &Session, label: &str) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::EcParams(P256.to_vec()),
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    )
    .unwrap()
}

fn cbc(iv: &str) -> Mechanism<'static> {
    Mechanism::AesCbcPad(h(iv).try_into().unwrap())
}

/// The AES key `label` still holds K1: it reproduces the SP 800-38A block and
/// decrypts it back.
fn check_k1(s: &Session, label: &str) {
    let k = one(s, label);
    let ct = s.encrypt(&cbc(IV), k, &h(PT)).unwrap();
    assert_eq!(ct[..16], h(CT)[..], "{label}");
    assert_eq!(s.decrypt(&cbc(IV), k, &ct).unwrap(), h(PT), "{label}");
}

fn value_of(s: &Session, o: ObjectHandle) -> Vec<u8> {
    match &s.get_attributes(o, &[AttributeType::Value]).unwrap()[..] {
        [Attribute::Value(v)] => v.clone(),
        other => panic!("{other:?}"),
    }
}

/// The token's objects after login: what the test made, minus `gone`.
fn check_survivors(s: &Session, gone: &[&str], old_sig: &[u8]) {
    for label in gone {
        assert!(find(s, label).is_empty(), "{label} must not be shown");
    }
    if !gone.contains(&"aes-a") {
        check_k1(s, "aes-a");
    }
    if !gone.contains(&"aes-pub") {
        check_k1(s, "aes-pub");
    }
    // The EC pair: an old signature still verifies, a new one too.
    let public = s
        .find_objects(&[
            Attribute::Label(b"ec".to_vec()),
            Attribute::Class(ObjectClass::PUBLIC_KEY),
        ])
        .unwrap();
    let private = s
        .find_objects(&[
            Attribute::Label(b"ec".to_vec()),
            Attribute::Class(ObjectClass::PRIVATE_KEY),
        ])
        .unwrap();
    assert_eq!((public.len(), private.len()), (1, 1));
    s.verify(&Mechanism::EcdsaSha256, public[0], b"message", old_sig)
        .unwrap();
    let sig = s
        .sign(&Mechanism::EcdsaSha256, private[0], b"again")
        .unwrap();
    s.verify(&Mechanism::EcdsaSha256, public[0], b"again", &sig)
        .unwrap();
    assert_eq!(value_of(s, one(s, "data-priv")), b"private value");
    assert_eq!(value_of(s, one(s, "data-pub")), b"public value");
}

/// Token 0 with two AES keys holding K1 and another key (private and public
/// objects), an EC pair and two data objects. Returns (uid by label, a signature
/// of "message" by the EC key).
fn populate(ctx: &Ctx, slot: usize) -> (std::collections::BTreeMap<String, String>, Vec<u8>) {
    let s = ctx.user_session(slot);
    let mut uids = std::collections::BTreeMap::new();
    let a = aes(&s, "aes-a", &h(K1), true);
    let b = aes(&s, "aes-b", &h("000102030405060708090a0b0c0d0e0f"), true);
    let p = aes(&s, "aes-pub", &h(K1), false);
    let (public, private) = ec_pair(&s, "ec");
    let d = data(&s, "data-priv", b"private value", true);
    let e = data(&s, "data-pub", b"public value", false);
    for (label, o) in [
        ("aes-a", a),
        ("aes-b", b),
        ("aes-pub", p),
        ("ec-public", public),
        ("ec-private", private),
        ("data-priv", d),
        ("data-pub", e),
    ] {
        uids.insert(label.to_string(), uid(&s, o));
    }
    check_k1(&s, "aes-a");
    let sig = s
        .sign(&Mechanism::EcdsaSha256, private, b"message")
        .unwrap();
    (uids, sig)
}

/// A byte flipped in the sealed blob of a private AES key and of a public AES
/// key: login works, every other object is there and works, the damaged ones are
/// left out of the view with a log line naming file, object and reason, and
/// their rows are not rewritten or deleted (not at login, not after writes, not
/// after a restart).
#[test]
fn a_flipped_byte_in_a_sealed_blob_hides_that_object_only() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let (uids, sig) = populate(&ctx, 0);
    stop(&ctx);
    let path = ctx.token_path(0);
    flip(&path, "objects", "sealed", "uid", &uids["aes-b"]);
    flip(&path, "objects", "sealed", "uid", &uids["aes-pub"]);
    let damaged = snapshot(&path);

    start(&mut ctx);
    // Before login the public key's clear attributes are still shown (they are
    // not what was damaged); its value cannot be used without login anyway.
    {
        let s = ctx.p11.open_ro_session(ctx.slot(0)).unwrap();
        assert_eq!(find(&s, "aes-pub").len(), 1);
    }
    let s = ctx.user_session(0);
    check_survivors(&s, &["aes-b", "aes-pub"], &sig);
    // Writes while the damaged rows are there do not touch them.
    let extra = data(&s, "extra", b"x", true);
    s.destroy_object(extra).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    check_survivors(&s, &["aes-b", "aes-pub"], &sig);
    drop(s);
    stop(&ctx);
    assert_eq!(snapshot(&path), damaged, "the file was rewritten");

    for label in ["aes-b", "aes-pub"] {
        let lines = log_lines(&uids[label]);
        assert!(
            lines.iter().any(|l| l.contains(" ERROR ")
                && l.contains(&path.display().to_string())
                && l.contains("sealed attributes do not open")),
            "no log line for {label}: {lines:?}"
        );
    }

    // A restart shows the same: nothing was repaired or dropped.
    start(&mut ctx);
    let s = ctx.user_session(0);
    check_survivors(&s, &["aes-b", "aes-pub"], &sig);
    drop(s);
    stop(&ctx);
    assert_eq!(snapshot(&path), damaged, "the file was rewritten");
    start(&mut ctx);
}

/// A byte flipped in the user's wrapped master key: the right PIN cannot be told
/// from a wrong one (the KEK's GCM tag is the only check), so C_Login is
/// CKR_PIN_INCORRECT and counts as a failure; the SO still logs in and C_InitPIN
/// gives the user a working PIN again, with every object intact. Nothing else is
/// written before that.
#[test]
fn a_flipped_byte_in_a_wrapped_master_key_fails_that_login_only() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    let (_, sig) = populate(&ctx, 0);
    stop(&ctx);
    let path = ctx.token_path(0);
    flip(&path, "principals", "wrapped_tmk", "name", "user");
    let damaged = snapshot(&path);

    start(&mut ctx);
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinIncorrect
    );
    drop(s);
    stop(&ctx);
    assert_eq!(snapshot(&path), damaged, "the file was rewritten");
    assert_eq!(failed_logins(&path, "user"), 1, "the failure counts");

    // The SO's copy is intact: a new user PIN re-wraps the master key.
    start(&mut ctx);
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin(USER_PIN)).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    check_survivors(&s, &[], &sig);
}

/// A byte flipped in the token's check value (the meta row's sealed part): the
/// PIN did unwrap the master key, so the PIN is right and the file is damaged:
/// CKR_DEVICE_ERROR (C_Login's code for it) with a log line, for the user and the
/// SO, and the try does not count against the lock-out. C_InitToken with the
/// right SO PIN is refused too, so the damage is not "repaired" by wiping keys.
#[test]
fn a_flipped_byte_in_the_token_check_value_is_a_device_error() {
    let mut ctx = logging_ctx(1);
    ctx.init_token(0);
    populate(&ctx, 0);
    stop(&ctx);
    let path = ctx.token_path(0);
    flip(&path, "meta", "tmk_check", "id", "1");
    let damaged = snapshot(&path);

    start(&mut ctx);
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    for _ in 0..5 {
        assert_eq!(
            rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
            RvError::DeviceError
        );
    }
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::DeviceError
    );
    drop(s);
    assert!(ctx
        .p11
        .init_token(ctx.slot(0), &pin(SO_PIN), "wiped")
        .is_err());
    stop(&ctx);
    assert_eq!(snapshot(&path), damaged, "the file was rewritten");
    assert_eq!(
        failed_logins(&path, "user"),
        0,
        "a right PIN does not count"
    );
    assert_eq!(failed_logins(&path, "so"), 0, "a right PIN does not count");
    let lines = log_lines(&path.display().to_string());
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" ERROR ") && l.contains("check value")),
        "no log line: {lines:?}"
    );
    start(&mut ctx);
}

/// Token B: initialized with its own label and PINs, one private AES key and one
/// public data object. Returns (uid of the key, uid of the data, serial).
fn token_b(ctx: &Ctx, avoid: &[u64]) -> (String, String, String) {
    let slot = ctx.slot(1);
    ctx.p11
        .init_token(slot, &pin("b-so-pin"), "token B")
        .unwrap();
    let s = ctx.p11.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin("b-so-pin"))).unwrap();
    s.init_pin(&pin("b-user-pin")).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin("b-user-pin"))).unwrap();
    // Rows whose integrity-root buckets hold none of `avoid`'s (token A's
    // objects, principals and audit anchor): a foreign row refuses its whole
    // bucket in A, and this test looks at the refusal of the rows themselves.
    let alone = |make: &dyn Fn() -> cryptoki::object::ObjectHandle| loop {
        let o = make();
        if !avoid.contains(&bucket("object", &uid(&s, o))) {
            return o;
        }
        s.destroy_object(o).unwrap();
    };
    let k = alone(&|| aes(&s, "b-key", &h(K1), true));
    let d = alone(&|| data(&s, "b-pub", b"from B", false));
    let serial = ctx
        .p11
        .get_token_info(slot)
        .unwrap()
        .serial_number()
        .to_string();
    (uid(&s, k), uid(&s, d), serial)
}

/// Rows of token B copied into token A's file: as new rows (B's uids) and over
/// A's own key (same uid, B's sealed blob). The AAD and MAC name the token, so
/// every one is refused as a damaged row: left out, logged, not rewritten. A's
/// key is never replaced by B's material.
#[test]
fn rows_from_another_token_are_refused() {
    let mut ctx = logging_ctx(2);
    ctx.init_token(0);
    let (uids, sig) = populate(&ctx, 0);
    let avoid: Vec<u64> = uids
        .values()
        .map(|u| bucket("object", u))
        .chain([
            bucket("principal", "so"),
            bucket("principal", "user"),
            bucket("anchor", ""),
        ])
        .collect();
    let (b_key, b_pub, _) = token_b(&ctx, &avoid);
    stop(&ctx);
    let (a, b) = (ctx.token_path(0), ctx.token_path(1));
    let dst = db(&a);
    dst.execute("ATTACH DATABASE ?1 AS b", [b.display().to_string()])
        .unwrap();
    let n = dst
        .execute(
            "INSERT INTO objects SELECT * FROM b.objects WHERE uid IN (?1, ?2)",
            [&b_key, &b_pub],
        )
        .unwrap();
    assert_eq!(n, 2);
    let n = dst
        .execute(
            "UPDATE objects SET sealed = (SELECT sealed FROM b.objects WHERE uid = ?1)
             WHERE uid = ?2",
            [&b_key, &uids["aes-a"]],
        )
        .unwrap();
    assert_eq!(n, 1);
    dst.execute("DETACH DATABASE b", []).unwrap();
    drop(dst);
    let damaged = snapshot(&a);

    start(&mut ctx);
    let s = ctx.user_session(0);
    check_survivors(&s, &["aes-a", "b-key", "b-pub"], &sig);
    check_k1(&s, "aes-pub");
    drop(s);
    stop(&ctx);
    assert_eq!(snapshot(&a), damaged, "the file was rewritten");
    for uid in [&b_key, &b_pub, &uids["aes-a"]] {
        let lines = log_lines(uid);
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" ERROR ") && l.contains(&a.display().to_string())),
            "no log line for {uid}: {lines:?}"
        );
    }
    start(&mut ctx);
}

/// Token B's whole file in place of token A's: it opens as token B (B's label and
/// serial), A's PIN is CKR_PIN_INCORRECT, and nothing but the failed count is
/// written.
#[test]
fn another_tokens_file_opens_as_that_token() {
    let mut ctx = logging_ctx(2);
    ctx.init_token(0);
    populate(&ctx, 0);
    let (_, _, b_serial) = token_b(&ctx, &[]);
    let a_serial = ctx
        .p11
        .get_token_info(ctx.slot(0))
        .unwrap()
        .serial_number()
        .to_string();
    assert_ne!(a_serial, b_serial);
    stop(&ctx);
    let (a, b) = (ctx.token_path(0), ctx.token_path(1));
    for p in [&a, &b] {
        let wal = PathBuf::from(format!("{}-wal", p.display()));
        assert!(!wal.exists(), "{} left after C_Finalize", wal.display());
    }
    std::fs::copy(&b, &a).unwrap();
    let before = snapshot(&a);

    start(&mut ctx);
    let info = ctx.p11.get_token_info(ctx.slot(0)).unwrap();
    assert_eq!(info.label(), "token B");
    assert_eq!(info.serial_number(), b_serial);
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinIncorrect
    );
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::PinIncorrect
    );
    drop(s);
    stop(&ctx);
    assert_eq!(snapshot(&a), before, "the file was rewritten");
    assert_eq!(failed_logins(&a, "user"), 1);
    // B's own PIN opens it, with B's key.
    start(&mut ctx);
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    s.login(UserType::User, Some(&pin("b-user-pin"))).unwrap();
    check_k1(&s, "b-key");
    assert!(find(&s, "aes-a").is_empty());
}
