//! Unit tests of the audit chain in the store.

use super::*;
use crate::object::AttrMap;
use crate::store::{KdfParams, StoredObject};
use rusqlite::Connection;

fn tmp() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("token.db");
    (d, p)
}

fn rec(i: u64) -> AuditRecord {
    AuditRecord::management("C_SetAttributeValue", "user", 7)
        .with_key(&format!("uid-{i}"), Some(1))
        .with_reason(&format!("change {i}"))
}

fn filled(n: u64) -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let (d, p) = tmp();
    let s = Store::open(&p).unwrap();
    for i in 1..=n {
        assert_eq!(s.append_audit(&[rec(i)]).unwrap(), vec![i]);
    }
    (d, p, s)
}

fn sql(p: &std::path::Path, q: &str) {
    Connection::open(p).unwrap().execute_batch(q).unwrap();
}

#[test]
fn a_chain_verifies_and_has_a_head() {
    let (_d, _p, s) = filled(10);
    let v = s.verify_audit().unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.records, 10);
    let head = s.audit_head().unwrap();
    assert_eq!(head.seq, 10);
    let rows = s.audit_records(0, 100).unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[9].hash, head.hash);
    assert_eq!(rows[0].prev_hash, [0; 32]);
    for w in rows.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
}

#[test]
fn an_edited_record_is_named() {
    let (_d, p, s) = filled(10);
    sql(
        &p,
        "UPDATE audit SET reason = 'nothing happened' WHERE seq = 4",
    );
    let v = s.verify_audit().unwrap();
    assert_eq!(v.problems, vec![Problem::Changed { seq: 4 }]);
    assert!(v.problems[0].to_string().starts_with("record 4: changed"));
}

#[test]
fn a_rehashed_record_breaks_the_link_after_it() {
    let (_d, p, s) = filled(6);
    // Rewrite record 3 with a consistent hash of its own: record 4 no longer
    // follows it.
    let mut r = s.audit_records(2, 1).unwrap().remove(0);
    r.reason = "forged".into();
    let h = r.chain_hash(&r.prev_hash, 3);
    let q = format!(
        "UPDATE audit SET reason = 'forged', hash = x'{}' WHERE seq = 3",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    sql(&p, &q);
    let v = s.verify_audit().unwrap();
    assert_eq!(v.problems, vec![Problem::BrokenLink { seq: 4 }]);
}

#[test]
fn a_deleted_record_is_named() {
    let (_d, p, s) = filled(10);
    sql(&p, "DELETE FROM audit WHERE seq = 5");
    let v = s.verify_audit().unwrap();
    assert_eq!(v.problems, vec![Problem::Missing { from: 5, to: 5 }]);
    sql(&p, "DELETE FROM audit WHERE seq >= 9");
    let v = s.verify_audit().unwrap();
    assert_eq!(
        v.problems,
        vec![
            Problem::Missing { from: 5, to: 5 },
            Problem::Head { head: 10, last: 8 }
        ]
    );
    assert!(v.problems[1].to_string().contains("records 9..10: missing"));
}

#[test]
fn swapped_records_are_named() {
    let (_d, p, s) = filled(10);
    sql(
        &p,
        "UPDATE audit SET seq = -1 WHERE seq = 3;
         UPDATE audit SET seq = 3 WHERE seq = 6;
         UPDATE audit SET seq = 6 WHERE seq = -1;",
    );
    let v = s.verify_audit().unwrap();
    assert_eq!(
        v.problems,
        vec![
            Problem::Moved { seq: 3, was: 6 },
            Problem::Moved { seq: 6, was: 3 }
        ]
    );
}

#[test]
fn pruning_keeps_the_chain_verifiable() {
    let (_d, _p, s) = filled(20);
    let n = s
        .prune_audit(
            &Retention {
                max_records: Some(5),
                max_age_days: None,
            },
            now_ms(),
        )
        .unwrap();
    assert_eq!(n, 15);
    let v = s.verify_audit().unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    // The five kept, and the retention record that moved the anchor.
    assert_eq!(v.records, 6);
    assert_eq!(v.anchor.seq, 15);
    assert_eq!(v.retired, 15);
    assert!(v.retired_at_ms.is_some());
    s.append_audit(&[rec(21)]).unwrap();
    assert!(s.verify_audit().unwrap().ok());
    // Nothing is old enough for the age limit.
    let r = Retention {
        max_records: None,
        max_age_days: Some(1),
    };
    assert_eq!(s.prune_audit(&r, now_ms()).unwrap(), 0);
    // Two days later everything is.
    assert_eq!(s.prune_audit(&r, now_ms() + 2 * 86_400_000).unwrap(), 7);
    let v = s.verify_audit().unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    // Only the new retention record is left.
    assert_eq!(v.records, 1);
    assert_eq!(v.retired, 22);
    assert_eq!(s.append_audit(&[rec(22)]).unwrap(), vec![24]);
    assert!(s.verify_audit().unwrap().ok());
}

#[test]
fn a_removed_oldest_record_is_caught_after_pruning() {
    let (_d, p, s) = filled(10);
    s.prune_audit(
        &Retention {
            max_records: Some(5),
            max_age_days: None,
        },
        now_ms(),
    )
    .unwrap();
    sql(&p, "DELETE FROM audit WHERE seq = 6");
    let v = s.verify_audit().unwrap();
    assert_eq!(v.problems, vec![Problem::Missing { from: 6, to: 6 }]);
}

#[test]
fn records_go_in_the_same_transaction_as_the_change() {
    let (_d, p) = tmp();
    let s = Store::open(&p).unwrap();
    let tmk = s.init_token_audited(
        "t",
        b"so-pin",
        &KdfParams::FAST,
        &AuditRecord::management("C_InitToken", "so", 0),
    );
    let tmk = tmk.unwrap();
    let obj = StoredObject {
        uid: "o1".into(),
        private: false,
        clear: AttrMap::new(),
        secret: AttrMap::new(),
    };
    s.put_object_audited(
        &obj,
        Some(&tmk),
        &AuditRecord::management("C_CreateObject", "user", 1).with_key("o1", None),
    )
    .unwrap();
    // A failing change leaves no record.
    assert!(s
        .delete_object_audited(
            "nope",
            &AuditRecord::management("C_DestroyObject", "user", 1)
        )
        .is_err());
    s.delete_object_audited(
        "o1",
        &AuditRecord::management("C_DestroyObject", "user", 1).with_key("o1", None),
    )
    .unwrap();
    s.set_pin_audited(
        "user",
        &tmk,
        b"user-pin",
        &KdfParams::FAST,
        &AuditRecord::management("C_InitPIN", "so", 1),
    )
    .unwrap();
    let t = AuditRecord::management("C_Login", "user", 2);
    assert!(s.unlock_audited("user", b"wrong", 3, &t).is_err());
    assert!(s.unlock_audited("user", b"user-pin", 3, &t).is_ok());
    assert!(s.unlock_audited("nobody", b"x", 3, &t).is_err());
    let rows = s.audit_records(0, 100).unwrap();
    let got: Vec<(&str, u64)> = rows.iter().map(|r| (r.function.as_str(), r.rv)).collect();
    use cryptoki_sys::*;
    assert_eq!(
        got,
        vec![
            ("C_InitToken", CKR_OK),
            ("C_CreateObject", CKR_OK),
            ("C_DestroyObject", CKR_OK),
            ("C_InitPIN", CKR_OK),
            ("C_Login", CKR_PIN_INCORRECT),
            ("C_Login", CKR_OK),
            ("C_Login", CKR_USER_PIN_NOT_INITIALIZED),
        ]
    );
    assert!(!rows[4].reason.is_empty());
    assert!(s.verify_audit().unwrap().ok());
    // Re-initializing keeps the log.
    s.init_token_audited(
        "t2",
        b"so-pin",
        &KdfParams::FAST,
        &AuditRecord::management("C_InitToken", "so", 0),
    )
    .unwrap();
    assert_eq!(s.audit_head().unwrap().seq, 8);
    assert!(s.verify_audit().unwrap().ok());
}

#[test]
fn a_version_1_token_migrates() {
    let (_d, p) = tmp();
    {
        let c = Connection::open(&p).unwrap();
        c.execute_batch(crate::store::sqlite::MIGRATIONS_FOR_TESTS[0])
            .unwrap();
        c.execute_batch(&format!(
            "PRAGMA application_id = {}; PRAGMA user_version = 1;",
            crate::store::sqlite::APPLICATION_ID
        ))
        .unwrap();
    }
    let s = Store::open(&p).unwrap();
    assert_eq!(s.audit_head().unwrap(), ChainPoint::default());
    s.append_audit(&[rec(1)]).unwrap();
    assert!(s.verify_audit().unwrap().ok());
}

#[test]
fn contexts_are_logged_as_text_or_hex() {
    assert_eq!(render_context(b"{\"a\":\"b\"}"), "{\"a\":\"b\"}");
    assert_eq!(render_context(&[0xff, 0x00]), "hex:ff00");
    assert_eq!(render_context(b"a\nb"), "hex:610a62");
}

/// Found by the `audit_chain` fuzz target: a retention anchor whose sequence
/// number was moved up to (or past) the oldest kept record, hash unchanged,
/// verified as if nothing were wrong.
#[test]
fn an_anchor_moved_past_the_oldest_record_is_caught() {
    let (_d, p, s) = filled(10);
    s.prune_audit(
        &Retention {
            max_records: Some(5),
            max_age_days: None,
        },
        now_ms(),
    )
    .unwrap();
    assert!(s.verify_audit().unwrap().ok());
    for seq in [6, 7, 1000] {
        sql(&p, &format!("UPDATE meta SET audit_anchor_seq = {seq}"));
        let v = s.verify_audit().unwrap();
        assert_eq!(
            v.problems,
            vec![
                Problem::Anchor { seq: 6 },
                Problem::UnrecordedAnchor { anchor: seq }
            ],
            "anchor at {seq}"
        );
    }
    // The same rows checked without a database.
    let rows = s.audit_records(0, 100).unwrap();
    let head = s.audit_head().unwrap();
    let anchor = ChainPoint {
        seq: 6,
        hash: rows[0].prev_hash,
    };
    assert_eq!(
        verify_chain(anchor, head, &rows),
        vec![Problem::Anchor { seq: 6 }]
    );
    let anchor = ChainPoint { seq: 5, ..anchor };
    assert!(verify_chain(anchor, head, &rows).is_empty());
}
