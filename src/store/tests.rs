//! Unit tests of the store (two `Store`s on one file stand in for two processes).

use super::*;
use cryptoki_sys::{CKA_CLASS, CKA_LABEL, CKA_PRIVATE, CKA_VALUE};
use rusqlite::Connection;
use zeroize::Zeroizing;

const FAST: KdfParams = KdfParams::FAST;
const SO_PIN: &[u8] = b"so-pin-1234";
const USER_PIN: &[u8] = b"user-pin-5678";

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("sub").join("dir").join("token.db");
    (d, p)
}

fn attrs(entries: &[(cryptoki_sys::CK_ATTRIBUTE_TYPE, &[u8])]) -> AttrMap {
    entries
        .iter()
        .map(|(t, v)| (*t, Zeroizing::new(v.to_vec())))
        .collect()
}

fn private_obj(uid: &str, label: &[u8], value: &[u8]) -> StoredObject {
    StoredObject {
        uid: uid.into(),
        private: true,
        clear: AttrMap::new(),
        secret: attrs(&[
            (CKA_CLASS, b"\x04"),
            (CKA_LABEL, label),
            (CKA_PRIVATE, b"\x01"),
            (CKA_VALUE, value),
        ]),
    }
}

fn public_obj(uid: &str, label: &[u8], value: Option<&[u8]>) -> StoredObject {
    StoredObject {
        uid: uid.into(),
        private: false,
        clear: attrs(&[(CKA_CLASS, b"\x01"), (CKA_LABEL, label)]),
        secret: value.map(|v| attrs(&[(CKA_VALUE, v)])).unwrap_or_default(),
    }
}

fn init(path: &Path) -> (Store, Tmk) {
    let s = Store::open(path).unwrap();
    let tmk = s.init_token("my token", SO_PIN, &FAST).unwrap();
    (s, tmk)
}

fn uids(c: &Changes) -> Vec<&str> {
    let mut v: Vec<&str> = c.upserts.iter().map(|o| o.uid.as_str()).collect();
    v.sort();
    v
}

fn find<'a>(c: &'a Changes, uid: &str) -> &'a LoadedObject {
    c.upserts.iter().find(|o| o.uid == uid).unwrap()
}

/// Runs SQL on the token file behind the store's back (an attacker with the file).
fn raw_sql(path: &Path, sql: &str) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(sql).unwrap();
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}

#[test]
fn create_open_reopen() {
    let (_d, path) = tmp();
    let s = Store::open(&path).unwrap();
    assert_eq!(s.token_meta().unwrap(), None);
    assert!(s.principals().unwrap().is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "token file mode");
        let dir = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir & 0o077, 0, "token directory mode");
    }
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.token_meta().unwrap(), None);
    let _tmk = s.init_token("label", SO_PIN, &FAST).unwrap();
    #[cfg(unix)]
    for side in ["token.db-wal", "token.db-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.with_file_name(side))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{side} mode");
    }
    drop(s);
    let s = Store::open(&path).unwrap();
    let m = s.token_meta().unwrap().unwrap();
    assert_eq!(m.label, "label");
    assert_eq!(m.serial.len(), 16);
    assert!(m.serial.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!m.user_pin_set);
    assert_eq!(s.principals().unwrap(), vec!["so".to_string()]);
}

#[test]
fn init_refuses_long_label_and_bad_kdf() {
    let (_d, path) = tmp();
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.init_token(&"x".repeat(33), SO_PIN, &FAST).unwrap_err(),
        Error::ArgumentsBad
    );
    let bad = KdfParams { t_cost: 0, ..FAST };
    assert_eq!(
        s.init_token("x", SO_PIN, &bad).unwrap_err(),
        Error::ArgumentsBad
    );
    assert_eq!(s.token_meta().unwrap(), None);
}

#[test]
fn unlock_right_and_wrong_pin() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_object(&private_obj("k1", b"key one", b"secret-1"), Some(&tmk))
        .unwrap();
    let tmk2 = s.unlock(SO, SO_PIN, 10).unwrap();
    // The unlocked TMK opens what the first one sealed.
    let c = s.changes_since(None, Some(&tmk2)).unwrap();
    assert_eq!(uids(&c), vec!["k1"]);
    assert_eq!(
        find(&c, "k1").secret.as_ref().unwrap()[&CKA_VALUE].as_slice(),
        b"secret-1"
    );
    assert_eq!(
        s.unlock(SO, b"so-pin-1235", 10).unwrap_err(),
        Error::PinIncorrect
    );
    assert_eq!(s.unlock(SO, b"", 10).unwrap_err(), Error::PinIncorrect);
    assert_eq!(s.principal(SO).unwrap().unwrap().failed_logins, 2);
    s.unlock(SO, SO_PIN, 10).unwrap();
    assert_eq!(
        s.principal(SO).unwrap().unwrap(),
        PrincipalInfo {
            failed_logins: 0,
            kdf: FAST
        }
    );
    assert_eq!(
        s.unlock(USER, USER_PIN, 10).unwrap_err(),
        Error::UserPinNotInitialized
    );
    assert_eq!(
        s.unlock(&"n".repeat(65), USER_PIN, 10).unwrap_err(),
        Error::UserPinNotInitialized
    );
    assert_eq!(s.principal("nobody").unwrap(), None);
}

#[test]
fn unlock_on_uninitialized_token() {
    let (_d, path) = tmp();
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.unlock(SO, SO_PIN, 10).unwrap_err(),
        Error::TokenNotInitialized
    );
}

#[test]
fn failed_logins_lock_and_survive_reopen() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    assert!(s.token_meta().unwrap().unwrap().user_pin_set);
    assert_eq!(
        s.unlock(USER, b"wrong", 3).unwrap_err(),
        Error::PinIncorrect
    );
    // Another connection sees the count at once: it was committed.
    let other = Store::open(&path).unwrap();
    assert_eq!(other.principal(USER).unwrap().unwrap().failed_logins, 1);
    assert_eq!(
        s.unlock(USER, b"wrong", 3).unwrap_err(),
        Error::PinIncorrect
    );
    assert_eq!(
        s.unlock(USER, b"wrong", 3).unwrap_err(),
        Error::PinLocked,
        "third failure locks"
    );
    assert_eq!(
        s.unlock(USER, USER_PIN, 3).unwrap_err(),
        Error::PinLocked,
        "right PIN after lock"
    );
    assert_eq!(
        s.principal(USER).unwrap().unwrap().failed_logins,
        3,
        "locked tries do not count"
    );
    drop(s);
    drop(other);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 3);
    assert_eq!(s.unlock(USER, USER_PIN, 3).unwrap_err(), Error::PinLocked);
    // The SO (unaffected) resets the user PIN.
    let so_tmk = s.unlock(SO, SO_PIN, 3).unwrap();
    s.set_pin(USER, &so_tmk, b"new user pin", &FAST).unwrap();
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 0);
    s.unlock(USER, b"new user pin", 3).unwrap();
}

#[test]
fn failed_count_is_written_before_the_kdf() {
    // The try is committed (as in flight) by the first transaction, before the
    // KDF: a PIN whose stored KDF cannot run (bad parameters) leaves no count,
    // but a PIN whose wrapped TMK is garbage counts the try even though unwrap
    // fails.
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    raw_sql(
        &path,
        "UPDATE principals SET wrapped_tmk = x'00' WHERE name = 'user'",
    );
    assert_eq!(
        s.unlock(USER, USER_PIN, 5).unwrap_err(),
        Error::PinIncorrect
    );
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 1);
    raw_sql(
        &path,
        "UPDATE principals SET t_cost = 0 WHERE name = 'user'",
    );
    assert!(matches!(
        s.unlock(USER, USER_PIN, 5).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
    raw_sql(
        &path,
        "UPDATE principals SET m_cost_kib = 4000000000, t_cost = 1 WHERE name = 'user'",
    );
    assert!(matches!(
        s.unlock(USER, USER_PIN, 5).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
}

/// Records a try in flight for `name` as process `pid` (this process's
/// origin and start time), started `age_ms` ago.
fn try_in_flight(s: &Store, name: &str, pid: Option<u32>, age_ms: i64) {
    let mut row = attempts::this_try(name);
    if let Some(pid) = pid {
        row.pid = pid;
    }
    row.started_ms -= age_ms;
    s.write(|tx, _, _| tx.add_login_attempt(&row)).unwrap();
}

/// The id of a process that has exited (and been reaped).
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn in_flight(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM login_attempts", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_try_whose_process_died_counts_as_a_failure() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    // Killed during the KDF; and one hung for longer than the bound.
    try_in_flight(&s, USER, Some(dead_pid()), 0);
    try_in_flight(&s, USER, None, attempts::STALE_AFTER_MS + 1000);
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 2);
    // A wrong PIN: the two stale tries are counted for good, plus this one.
    assert_eq!(
        s.unlock(USER, b"wrong", 10).unwrap_err(),
        Error::PinIncorrect
    );
    assert_eq!(in_flight(&path), 0);
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 3);
    // They count toward the lock-out.
    try_in_flight(&s, USER, Some(dead_pid()), 0);
    assert_eq!(s.unlock(USER, USER_PIN, 4).unwrap_err(), Error::PinLocked);
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 4);
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 0);
}

#[test]
fn live_tries_in_flight_do_not_count_and_a_full_house_waits() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    // Two tries of live processes (this one): not failures.
    try_in_flight(&s, USER, None, 0);
    try_in_flight(&s, USER, None, 0);
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 0);
    s.unlock(USER, USER_PIN, 3).unwrap();
    assert_eq!(in_flight(&path), 2, "others' tries are left alone");
    // A third makes the limit: the next try waits until one ends.
    try_in_flight(&s, USER, None, 0);
    let t = std::time::Instant::now();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            raw_sql(
                &path,
                "DELETE FROM login_attempts WHERE id = (SELECT min(id) FROM login_attempts)",
            );
        });
        s.unlock(USER, USER_PIN, 3).unwrap();
    });
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 0);
}

#[test]
fn a_try_counted_as_stale_is_not_counted_twice() {
    // A try whose row a lock-out check took for dead (its process in another
    // PID namespace, say, or past the age bound) was counted then: its own
    // end does not count a wrong PIN again, and a right PIN still resets.
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    let token = s.token_meta().unwrap().unwrap().token_uuid;
    let taken_for_dead = || {
        let (_, uuid, epoch, id) = s.admit(USER, 5, None, &mut false).unwrap();
        assert_eq!(uuid, token);
        raw_sql(
            &path,
            &format!("DELETE FROM login_attempts WHERE id = {id}"),
        );
        raw_sql(
            &path,
            "UPDATE principals SET failed_logins = failed_logins + 1",
        );
        (id, uuid, epoch)
    };
    let t = taken_for_dead();
    assert_eq!(
        s.count_try(USER, 5, t, None, None).unwrap(),
        Err(Error::PinIncorrect)
    );
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 1);
    let t = taken_for_dead();
    assert_eq!(s.count_try(USER, 5, t, Some(&tmk), None).unwrap(), Ok(()));
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 0);
    // A try still in flight is counted by its own end, once.
    let (_, uuid, epoch, id) = s.admit(USER, 5, None, &mut false).unwrap();
    assert_eq!(
        s.count_try(USER, 5, (id, uuid, epoch), None, None).unwrap(),
        Err(Error::PinIncorrect)
    );
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 1);
    assert_eq!(in_flight(&path), 0);
}

#[test]
fn a_version_2_token_gains_the_login_attempts_and_keeps_its_pins() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    assert_eq!(
        s.unlock(USER, b"wrong", 5).unwrap_err(),
        Error::PinIncorrect
    );
    drop(s);
    // Back to schema 2, as an older SoftKMS left it.
    raw_sql(
        &path,
        "DROP TABLE login_attempts; DROP TABLE counters; \
         ALTER TABLE meta DROP COLUMN root; ALTER TABLE meta DROP COLUMN root_mac; \
         ALTER TABLE tombstones DROP COLUMN pending; PRAGMA user_version = 2;",
    );
    let s = Store::open(&path).unwrap();
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 1);
    s.unlock(USER, USER_PIN, 5).unwrap();
    assert_eq!(s.principal(USER).unwrap().unwrap().failed_logins, 0);
    assert_eq!(in_flight(&path), 0);
}

#[test]
fn set_pin_rewraps_and_old_pin_fails() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_object(&private_obj("k1", b"l", b"v"), Some(&tmk))
        .unwrap();
    s.set_pin(USER, &tmk, b"old", &FAST).unwrap();
    s.unlock(USER, b"old", 5).unwrap();
    s.set_pin(USER, &tmk, b"new", &FAST).unwrap();
    assert_eq!(s.unlock(USER, b"old", 5).unwrap_err(), Error::PinIncorrect);
    let t = s.unlock(USER, b"new", 5).unwrap();
    assert_eq!(uids(&s.changes_since(None, Some(&t)).unwrap()), vec!["k1"]);
    // Named principals.
    s.set_pin("alice", &t, b"alice pin", &FAST).unwrap();
    assert_eq!(s.principals().unwrap(), vec!["alice", "so", "user"]);
    s.unlock("alice", b"alice pin", 5).unwrap();
    s.remove_principal("alice").unwrap();
    assert_eq!(
        s.unlock("alice", b"alice pin", 5).unwrap_err(),
        Error::UserPinNotInitialized
    );
    s.remove_principal("alice").unwrap();
    assert_eq!(s.remove_principal(SO).unwrap_err(), Error::ActionProhibited);
    s.remove_principal(USER).unwrap();
    assert!(!s.token_meta().unwrap().unwrap().user_pin_set);
    assert_eq!(
        s.set_pin("", &t, b"x", &FAST).unwrap_err(),
        Error::ArgumentsBad
    );
    assert_eq!(
        s.set_pin(&"n".repeat(65), &t, b"x", &FAST).unwrap_err(),
        Error::ArgumentsBad
    );
    // A TMK that is not this token's cannot set a PIN.
    let foreign = Tmk::generate().unwrap();
    assert_eq!(
        s.set_pin(USER, &foreign, b"x", &FAST).unwrap_err(),
        Error::UserNotLoggedIn
    );
}

#[test]
fn two_stores_see_each_others_changes() {
    let (_d, path) = tmp();
    let (a, tmk) = init(&path);
    let b = Store::open(&path).unwrap();
    let c0 = b.changes_since(None, Some(&tmk)).unwrap();
    assert!(c0.full);
    assert!(c0.upserts.is_empty());
    let v0 = (c0.epoch, c0.generation);
    assert!(!b.has_changed(v0).unwrap());
    assert!(
        !b.has_changed(v0).unwrap(),
        "second look hits the data_version shortcut"
    );

    let g1 = a
        .put_objects(
            &[
                private_obj("k1", b"one", b"v1"),
                public_obj("c1", b"cert", None),
            ],
            Some(&tmk),
        )
        .unwrap();
    assert_eq!(g1, v0.1 + 1);
    assert!(b.has_changed(v0).unwrap());
    let c1 = b.changes_since(Some(v0), Some(&tmk)).unwrap();
    assert!(!c1.full);
    assert_eq!(uids(&c1), vec!["c1", "k1"]);
    assert_eq!(c1.generation, g1);
    assert!(c1.deleted.is_empty());
    let v1 = (c1.epoch, c1.generation);
    assert!(!b.has_changed(v1).unwrap());

    let g2 = a
        .put_object(&private_obj("k2", b"two", b"v2"), Some(&tmk))
        .unwrap();
    let g3 = a.delete_object("k1").unwrap();
    assert_eq!((g2, g3), (g1 + 1, g1 + 2));
    assert!(b.has_changed(v1).unwrap());
    let c2 = b.changes_since(Some(v1), Some(&tmk)).unwrap();
    assert!(!c2.full);
    assert_eq!(uids(&c2), vec!["k2"]);
    assert_eq!(c2.deleted, vec!["k1".to_string()]);
    assert_eq!(c2.generation, g3);
    // Nothing changed since: empty, incremental.
    let c3 = b
        .changes_since(Some((c2.epoch, c2.generation)), Some(&tmk))
        .unwrap();
    assert!(!c3.full && c3.upserts.is_empty() && c3.deleted.is_empty());
    // A full load shows the survivors only.
    let all = b.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&all), vec!["c1", "k2"]);
    assert_eq!(
        a.delete_object("k1").unwrap_err(),
        Error::ObjectHandleInvalid
    );
    // A batch delete is all or nothing.
    assert_eq!(
        a.delete_objects(&["k2", "nope"]).unwrap_err(),
        Error::ObjectHandleInvalid
    );
    assert_eq!(
        uids(&b.changes_since(None, Some(&tmk)).unwrap()),
        vec!["c1", "k2"]
    );
    // Re-creating a deleted uid drops its tombstone.
    a.put_object(&private_obj("k1", b"again", b"v"), Some(&tmk))
        .unwrap();
    let c4 = b
        .changes_since(Some((c2.epoch, c2.generation)), Some(&tmk))
        .unwrap();
    assert_eq!(uids(&c4), vec!["k1"]);
    assert!(c4.deleted.is_empty());
}

#[test]
fn replace_keeps_one_row() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_object(&public_obj("o", b"first", None), Some(&tmk))
        .unwrap();
    s.put_object(&public_obj("o", b"second", None), Some(&tmk))
        .unwrap();
    let c = s.changes_since(None, None).unwrap();
    assert_eq!(c.upserts.len(), 1);
    assert_eq!(c.upserts[0].clear[&CKA_LABEL].as_slice(), b"second");
    // Public -> private: a reader without the TMK is told to drop it.
    let v = (c.epoch, c.generation);
    s.put_object(&private_obj("o", b"now private", b"x"), Some(&tmk))
        .unwrap();
    let c2 = s.changes_since(Some(v), None).unwrap();
    assert!(c2.upserts.is_empty());
    assert_eq!(c2.deleted, vec!["o".to_string()]);
}

#[test]
fn reinit_gives_full_and_invalidates_old_tmk() {
    let (_d, path) = tmp();
    let (a, tmk) = init(&path);
    a.put_object(&private_obj("k1", b"one", b"v1"), Some(&tmk))
        .unwrap();
    a.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    let b = Store::open(&path).unwrap();
    let c = b.changes_since(None, Some(&tmk)).unwrap();
    let v = (c.epoch, c.generation);
    let old_meta = a.token_meta().unwrap().unwrap();

    let tmk2 = a.init_token("fresh", b"new so pin", &FAST).unwrap();
    assert!(b.has_changed(v).unwrap());
    let c2 = b.changes_since(Some(v), Some(&tmk2)).unwrap();
    assert!(c2.full);
    assert_ne!(c2.epoch, v.0);
    assert!(c2.upserts.is_empty());
    let m = b.token_meta().unwrap().unwrap();
    assert_eq!(m.label, "fresh");
    assert_ne!(m.token_uuid, old_meta.token_uuid);
    assert_ne!(m.serial, old_meta.serial);
    assert!(!m.user_pin_set);
    assert_eq!(b.principals().unwrap(), vec!["so"]);
    assert_eq!(b.unlock(SO, SO_PIN, 5).unwrap_err(), Error::PinIncorrect);
    b.unlock(SO, b"new so pin", 5).unwrap();
    // The old TMK is refused rather than used to seal into the new token.
    assert_eq!(
        b.changes_since(None, Some(&tmk)).unwrap_err(),
        Error::UserNotLoggedIn
    );
    assert_eq!(
        b.put_object(&private_obj("x", b"x", b"x"), Some(&tmk))
            .unwrap_err(),
        Error::UserNotLoggedIn
    );
}

#[test]
fn without_tmk_private_objects_are_hidden() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_objects(
        &[
            private_obj("k1", b"one", b"v1"),
            public_obj("pub", b"public", None),
            public_obj("pubsec", b"public with value", Some(b"secret value")),
        ],
        Some(&tmk),
    )
    .unwrap();
    let c = s.changes_since(None, None).unwrap();
    assert_eq!(uids(&c), vec!["pub", "pubsec"]);
    assert!(c.upserts.iter().all(|o| o.secret.is_none()));
    assert_eq!(
        find(&c, "pubsec").clear[&CKA_LABEL].as_slice(),
        b"public with value"
    );
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&c), vec!["k1", "pub", "pubsec"]);
    assert_eq!(
        find(&c, "pubsec").secret.as_ref().unwrap()[&CKA_VALUE].as_slice(),
        b"secret value"
    );
    assert!(find(&c, "pub").secret.as_ref().unwrap().is_empty());
    let k1 = find(&c, "k1");
    assert!(k1.private && k1.clear.is_empty());
    assert_eq!(k1.secret.as_ref().unwrap()[&CKA_LABEL].as_slice(), b"one");
    // Writing secrets needs the TMK.
    assert_eq!(
        s.put_object(&private_obj("k2", b"", b""), None)
            .unwrap_err(),
        Error::UserNotLoggedIn
    );
    assert_eq!(
        s.put_object(&public_obj("p2", b"", Some(b"v")), None)
            .unwrap_err(),
        Error::UserNotLoggedIn
    );
    let mut bad = private_obj("k3", b"", b"");
    bad.clear = attrs(&[(CKA_LABEL, b"x")]);
    assert!(s.put_object(&bad, Some(&tmk)).is_err());
    assert_eq!(
        s.put_object(&public_obj("", b"", None), Some(&tmk))
            .unwrap_err(),
        Error::ArgumentsBad
    );
}

#[test]
fn public_object_without_tmk_gets_its_mac_later() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_object(&public_obj("p", b"made before login", None), None)
        .unwrap();
    let mac_of = |uid: &str| -> Option<Vec<u8>> {
        let c = Connection::open(&path).unwrap();
        c.query_row("SELECT mac FROM objects WHERE uid = ?1", [uid], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(mac_of("p"), None);
    let c = s.changes_since(None, None).unwrap();
    assert_eq!(uids(&c), vec!["p"]);
    let v = s.version().unwrap();
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&c), vec!["p"]);
    assert_eq!(
        mac_of("p").map(|m| m.len()),
        Some(32),
        "MAC stored at the first load with the TMK"
    );
    assert_eq!(
        s.version().unwrap(),
        v,
        "the MAC fill-in does not move the generation"
    );
    // From now on the clear attributes are authenticated.
    raw_sql(
        &path,
        "UPDATE objects SET clear = x'00000000' WHERE uid = 'p'",
    );
    assert!(s
        .changes_since(None, Some(&tmk))
        .unwrap()
        .upserts
        .is_empty());
}

#[test]
fn secrets_never_appear_in_the_file() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    let secret_value = b"SECRET-VALUE-0123456789abcdef";
    let private_label = b"PRIVATE-LABEL-should-not-leak";
    let public_secret = b"PUBLIC-OBJECT-KEY-MATERIAL-xyz";
    s.put_object(&private_obj("k1", private_label, secret_value), Some(&tmk))
        .unwrap();
    s.put_object(
        &public_obj("p1", b"PUBLIC-LABEL-visible", Some(public_secret)),
        Some(&tmk),
    )
    .unwrap();
    s.set_pin(USER, &tmk, USER_PIN, &FAST).unwrap();
    let mut raw = std::fs::read(&path).unwrap();
    let wal = path.with_file_name("token.db-wal");
    raw.extend(std::fs::read(&wal).unwrap_or_default());
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"PUBLIC-LABEL-visible"), "the scan itself works");
    for needle in [
        &secret_value[..],
        &private_label[..],
        &public_secret[..],
        SO_PIN,
        USER_PIN,
    ] {
        assert!(
            !contains(needle),
            "{:?} leaked",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn a_tampered_blob_skips_only_that_object() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_objects(
        &[
            private_obj("k1", b"one", b"v1"),
            private_obj("k2", b"two", b"v2"),
            public_obj("p", b"p", None),
        ],
        Some(&tmk),
    )
    .unwrap();
    let v = s.version().unwrap();
    // Flip one byte in the middle of k1's sealed blob.
    let c = Connection::open(&path).unwrap();
    let mut blob: Vec<u8> = c
        .query_row("SELECT sealed FROM objects WHERE uid = 'k1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mid = blob.len() / 2;
    blob[mid] ^= 0x01;
    c.execute("UPDATE objects SET sealed = ?1 WHERE uid = 'k1'", [&blob])
        .unwrap();
    drop(c);
    let all = s.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&all), vec!["k2", "p"]);
    // The row is still there: nothing is deleted.
    let n: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM objects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    // An incremental reader is told to drop it.
    s.put_object(&private_obj("k1", b"one", b"v1"), Some(&tmk))
        .unwrap();
    raw_sql(
        &path,
        "UPDATE objects SET sealed = zeroblob(40) WHERE uid = 'k1'",
    );
    let inc = s.changes_since(Some(v), Some(&tmk)).unwrap();
    assert!(inc.upserts.is_empty());
    assert_eq!(inc.deleted, vec!["k1".to_string()]);
}

#[test]
fn blobs_cannot_be_swapped_between_rows() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_objects(
        &[
            private_obj("k1", b"one", b"v1"),
            private_obj("k2", b"two", b"v2"),
            public_obj("p1", b"p1", Some(b"s1")),
            public_obj("p2", b"p2", Some(b"s2")),
        ],
        Some(&tmk),
    )
    .unwrap();
    raw_sql(
        &path,
        "CREATE TEMP TABLE t AS SELECT uid, sealed, clear, mac FROM objects;
         UPDATE objects SET sealed = (SELECT sealed FROM t WHERE uid = 'k2') WHERE uid = 'k1';
         UPDATE objects SET sealed = (SELECT sealed FROM t WHERE uid = 'k1') WHERE uid = 'k2';
         UPDATE objects SET clear = (SELECT clear FROM t WHERE uid = 'p2'),
                            mac = (SELECT mac FROM t WHERE uid = 'p2') WHERE uid = 'p1';",
    );
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&c), vec!["p2"], "swapped rows are all refused");
    // Flipping the private flag breaks the seal too.
    let (_d2, path2) = tmp();
    let (s2, tmk2) = init(&path2);
    s2.put_object(&private_obj("k", b"l", b"v"), Some(&tmk2))
        .unwrap();
    raw_sql(&path2, "UPDATE objects SET private = 0 WHERE uid = 'k'");
    assert!(s2
        .changes_since(None, Some(&tmk2))
        .unwrap()
        .upserts
        .is_empty());
    // Moving a whole row to another token does not open either.
    let row: (i64, Vec<u8>) = Connection::open(&path2)
        .unwrap()
        .query_row(
            "SELECT private, sealed FROM objects WHERE uid = 'k'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let c = Connection::open(&path).unwrap();
    c.execute(
        "INSERT INTO objects (uid, private, sealed, generation) VALUES ('k', 1, ?1, 1)",
        rusqlite::params![row.1],
    )
    .unwrap();
    drop(c);
    assert!(!uids(&s.changes_since(None, Some(&tmk)).unwrap()).contains(&"k"));
}

#[test]
fn newer_schema_is_not_recognized() {
    let (_d, path) = tmp();
    drop(Store::open(&path).unwrap());
    raw_sql(&path, "PRAGMA user_version = 999");
    assert!(matches!(
        Store::open(&path).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
}

#[test]
fn foreign_files_are_not_recognized() {
    let d = tempfile::tempdir().unwrap();
    // Random bytes.
    let p = d.path().join("random.db");
    let mut junk = vec![0u8; 8192];
    crate::crypto::random(&mut junk).unwrap();
    std::fs::write(&p, &junk).unwrap();
    assert!(matches!(
        Store::open(&p).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
    assert_eq!(
        std::fs::read(&p).unwrap(),
        junk,
        "a foreign file is left alone"
    );
    // Text.
    let p = d.path().join("text.db");
    std::fs::write(
        &p,
        b"hello, I am not a database, but I am long enough to look like one.....",
    )
    .unwrap();
    assert!(matches!(
        Store::open(&p).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
    // Another application's SQLite database.
    let p = d.path().join("other.db");
    raw_sql(
        &p,
        "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('x');",
    );
    assert!(matches!(
        Store::open(&p).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
    // Ours by version and id, but a table is missing.
    let p = d.path().join("broken.db");
    drop(Store::open(&p).unwrap());
    raw_sql(&p, "DROP TABLE tombstones");
    assert!(matches!(
        Store::open(&p).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
    // Right version, wrong application id.
    let p = d.path().join("app.db");
    raw_sql(
        &p,
        "CREATE TABLE meta (id INTEGER); PRAGMA user_version = 1;",
    );
    assert!(matches!(
        Store::open(&p).unwrap_err(),
        Error::TokenNotRecognized(_)
    ));
}

#[test]
fn io_failure_is_a_device_error() {
    let d = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be opened.
    let p = d.path().join("dir.db");
    std::fs::create_dir(&p).unwrap();
    assert!(matches!(Store::open(&p).unwrap_err(), Error::Device(_)));
}

#[test]
fn concurrent_writers_do_not_see_busy() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    drop(s);
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let path = path.clone();
            let tmk = tmk.clone();
            std::thread::spawn(move || {
                let s = Store::open(&path).unwrap();
                for i in 0..30 {
                    s.put_object(&private_obj(&format!("t{t}-{i}"), b"l", b"v"), Some(&tmk))
                        .unwrap();
                    s.changes_since(None, Some(&tmk)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.changes_since(None, Some(&tmk)).unwrap().upserts.len(), 90);
}

#[test]
fn pruned_tombstones_force_a_full_load() {
    let (_d, path) = tmp();
    let (s, tmk) = init(&path);
    s.put_object(&private_obj("k1", b"l", b"v"), Some(&tmk))
        .unwrap();
    let v = s.version().unwrap();
    let g = s.delete_object("k1").unwrap();
    s.prune_tombstones(g).unwrap();
    let c = s.changes_since(Some(v), Some(&tmk)).unwrap();
    assert!(c.full);
    assert!(c.upserts.is_empty());
}

#[test]
fn a_conditional_replace_refuses_a_row_changed_or_deleted_since_it_was_read() {
    let (_d, p) = tmp();
    let (s, tmk) = init(&p);
    let rec = audit::AuditRecord::management("C_SetAttributeValue", "user", 1);
    let g1 = s
        .put_object(&private_obj("k", b"v1", b"material"), Some(&tmk))
        .unwrap();
    // Two writers read the row at g1; the first replace wins.
    let g2 = s
        .replace_object_audited(&private_obj("k", b"v2", b"material"), g1, Some(&tmk), &rec)
        .unwrap();
    assert_eq!(
        s.replace_object_audited(&private_obj("k", b"v3", b"material"), g1, Some(&tmk), &rec)
            .unwrap_err(),
        Error::Conflict
    );
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(
        find(&c, "k").secret.as_ref().unwrap()[&CKA_LABEL].as_slice(),
        b"v2"
    );
    // Read again at g2, it goes through.
    s.replace_object_audited(&private_obj("k", b"v3", b"material"), g2, Some(&tmk), &rec)
        .unwrap();
    // A replace never brings back an object deleted meanwhile.
    let g3 = s.version().unwrap().1;
    s.delete_object("k").unwrap();
    assert_eq!(
        s.replace_object_audited(&private_obj("k", b"v4", b"material"), g3, Some(&tmk), &rec)
            .unwrap_err(),
        Error::Conflict
    );
    assert!(s
        .changes_since(None, Some(&tmk))
        .unwrap()
        .upserts
        .is_empty());
}

#[test]
fn a_conditional_delete_refuses_a_row_changed_since_it_was_read() {
    let (_d, p) = tmp();
    let (s, tmk) = init(&p);
    let rec = audit::AuditRecord::management("SoftKMS lifecycle", "", 0);
    let g1 = s
        .put_object(&private_obj("k", b"v1", b"material"), Some(&tmk))
        .unwrap();
    // Another writer changed the row (cancelled its deletion, say) after it was read at g1.
    let g2 = s
        .replace_object_audited(&private_obj("k", b"v2", b"material"), g1, Some(&tmk), &rec)
        .unwrap();
    assert_eq!(
        s.delete_object_if_audited("k", g1, &rec).unwrap_err(),
        Error::Conflict
    );
    assert_eq!(s.changes_since(None, Some(&tmk)).unwrap().upserts.len(), 1);
    // Read again, the deletion goes through; a second one finds nothing.
    s.delete_object_if_audited("k", g2, &rec).unwrap();
    assert!(s
        .changes_since(None, Some(&tmk))
        .unwrap()
        .upserts
        .is_empty());
    assert_eq!(
        s.delete_object_if_audited("k", g2, &rec).unwrap_err(),
        Error::Conflict
    );
}

#[test]
fn a_public_object_written_before_login_is_folded_at_the_next_load() {
    let (_d, p) = tmp();
    let (s, tmk) = init(&p);
    s.changes_since(None, None).unwrap();
    s.put_object(&public_obj("early", b"e", None), None)
        .unwrap();
    let has_mac = |s: &Store| s.read(|tx| tx.object_state("early")).unwrap().unwrap().1;
    assert!(!has_mac(&s));
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&c), vec!["early"]);
    assert!(has_mac(&s), "folded with its MAC");
    // And it stays valid.
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&c), vec!["early"]);
}

/// Cost of a full load with the TMK of a token of 10,000 objects, and of the
/// integrity check alone (run with `--ignored --nocapture`; the dev profile is
/// optimized).
#[test]
#[ignore = "measurement"]
fn measure_open_of_10k_objects() {
    let (_d, p) = tmp();
    let (s, tmk) = init(&p);
    for chunk in 0..100 {
        let objs: Vec<StoredObject> = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                if n % 2 == 0 {
                    private_obj(&format!("uid-{n:05}"), b"label", &[7; 32])
                } else {
                    public_obj(&format!("uid-{n:05}"), b"label", Some(&[7; 32]))
                }
            })
            .collect();
        s.put_objects(&objs, Some(&tmk)).unwrap();
    }
    let s = Store::open(&p).unwrap();
    let t = std::time::Instant::now();
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    let load = t.elapsed();
    assert_eq!(c.upserts.len(), 10_000);
    let keys = Keys::for_token(
        &tmk,
        s.read(|tx| tx.meta()).unwrap().token.as_ref().unwrap(),
    )
    .unwrap();
    let t = std::time::Instant::now();
    let v = s
        .read(|tx| {
            let meta = tx.meta()?;
            integrity::Snapshot::read(tx)?.check(&keys.mac, &meta)
        })
        .unwrap();
    let check = t.elapsed();
    assert!(v.root_ok && v.suspects.is_empty());
    let t = std::time::Instant::now();
    let n = 200;
    for i in 0..n {
        s.put_object(
            &private_obj(&format!("new-{i}"), b"l", &[1; 32]),
            Some(&tmk),
        )
        .unwrap();
    }
    let per_create = t.elapsed() / n;
    eprintln!(
        "10,000 objects: full load with the TMK {load:?}, of which the integrity check {check:?}; one put_object {per_create:?}"
    );
}

#[test]
fn a_counter_set_back_is_refused() {
    let (_d, p) = tmp();
    let (s, tmk) = init(&p);
    assert_eq!(s.reserve_counter("k", 10).unwrap(), 0);
    assert_eq!(s.reserve_counter("k", 10).unwrap(), 10);
    raw_sql(&p, "UPDATE counters SET next = 10 WHERE uid = 'k'");
    s.changes_since(None, Some(&tmk)).unwrap();
    assert!(matches!(
        s.reserve_counter("k", 1),
        Err(Error::KeyFunctionNotPermitted(_))
    ));
    // Another key's counter is not affected.
    assert_eq!(s.reserve_counter("other", 1).unwrap(), 0);
}

#[test]
fn a_removed_root_refuses_every_object_and_writes() {
    let (_d, p) = tmp();
    let (s, tmk) = init(&p);
    s.put_object(&private_obj("a", b"a", b"x"), Some(&tmk))
        .unwrap();
    raw_sql(&p, "UPDATE meta SET root = NULL, root_mac = NULL");
    let c = s.changes_since(None, Some(&tmk)).unwrap();
    assert!(c.upserts.is_empty(), "nothing can be trusted");
    assert!(s
        .put_object(&private_obj("b", b"b", b"y"), Some(&tmk))
        .is_err());
}

#[test]
fn guarded_writes_decide_inside_the_transaction() {
    let (_d, path) = tmp();
    let (s1, tmk) = init(&path);
    // A second connection stands in for another process.
    let s2 = Store::open(&path).unwrap();
    let (exists, missing) = (
        Error::AttributeValueInvalid(1),
        Error::AttributeValueInvalid(2),
    );
    let put = |s: &Store, o: &StoredObject, expect, requires: &[&str]| {
        s.put_object_guarded_audited(
            o,
            expect,
            requires,
            exists.clone(),
            missing.clone(),
            Some(&tmk),
            &[],
        )
    };
    s1.put_object(&private_obj("key", b"k", b"v"), Some(&tmk))
        .unwrap();
    let g = put(
        &s1,
        &private_obj("one", b"a", b"1"),
        Expect::Absent,
        &["key"],
    )
    .unwrap();
    // The same uid again, from either connection: refused, nothing written.
    for s in [&s1, &s2] {
        assert_eq!(
            put(s, &private_obj("one", b"b", b"2"), Expect::Absent, &["key"]),
            Err(exists.clone())
        );
    }
    // A required row that is not there.
    assert_eq!(
        put(
            &s2,
            &private_obj("two", b"a", b"1"),
            Expect::Absent,
            &["gone"]
        ),
        Err(missing.clone())
    );
    // A replace of the row as read, then one from a stale read.
    let g2 = put(
        &s2,
        &private_obj("one", b"c", b"3"),
        Expect::At(g),
        &["key"],
    )
    .unwrap();
    assert_eq!(
        put(
            &s1,
            &private_obj("one", b"d", b"4"),
            Expect::At(g),
            &["key"]
        ),
        Err(Error::Conflict)
    );
    let c = s1.changes_since(None, Some(&tmk)).unwrap();
    assert_eq!(uids(&c), ["key", "one"]);
    let one = find(&c, "one");
    assert_eq!(one.generation, g2);
    assert_eq!(
        one.secret
            .as_ref()
            .unwrap()
            .get(&CKA_LABEL)
            .map(|v| v.to_vec()),
        Some(b"c".to_vec())
    );
    // A deletion takes what still exists of `also` with it.
    let rec = |why: &str| audit::AuditRecord::management("test", "user", 0).with_reason(why);
    s2.delete_object_with_audited(
        "key",
        None,
        &[("one".into(), rec("one")), ("never".into(), rec("never"))],
        &[rec("key")],
    )
    .unwrap();
    assert!(s1
        .changes_since(None, Some(&tmk))
        .unwrap()
        .upserts
        .is_empty());
    let mut reasons = Vec::new();
    s1.for_each_audit(|r| {
        reasons.push(r.reason.clone());
        Ok(())
    })
    .unwrap();
    assert!(
        reasons.ends_with(&["key".to_string(), "one".to_string()]),
        "{reasons:?}"
    );
    assert_eq!(
        s2.delete_object_with_audited("key", None, &[], &[]),
        Err(Error::ObjectHandleInvalid)
    );
}
