//! Unit tests of the aggregator, the auditor and the JSON shape.

use super::*;
use std::collections::BTreeMap;

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("t.db")).unwrap();
    (d, s)
}

const PRINCIPALS: [&str; 3] = ["user", "alice", "bob"];
const KEYS: [&str; 4] = ["k1", "k2", "k3", "k4"];
const OPS: [&str; 2] = ["C_Encrypt", "C_Decrypt"];

fn event(i: usize) -> DataEvent<'static> {
    DataEvent {
        session: 1 + (i % 2) as u64,
        principal: PRINCIPALS[i % 3],
        function: OPS[(i / 3) % 2],
        mechanism: Some(cryptoki_sys::CKM_AES_GCM),
        key_uid: KEYS[i % 4],
        key_version: Some(1),
        context: if i.is_multiple_of(5) {
            Some(b"{\"app\":\"x\"}")
        } else {
            None
        },
        rv: if i.is_multiple_of(7) {
            cryptoki_sys::CKR_KEY_FUNCTION_NOT_PERMITTED
        } else {
            0
        },
        reason: "",
    }
}

type Tallies = BTreeMap<(String, String, String), u64>;

fn expected(n: usize) -> Tallies {
    let mut m = Tallies::new();
    for i in 0..n {
        let e = event(i);
        *m.entry((
            e.key_uid.to_string(),
            e.principal.to_string(),
            e.function.to_string(),
        ))
        .or_default() += 1;
    }
    m
}

fn stored(s: &Store) -> Tallies {
    let mut m = Tallies::new();
    s.for_each_audit(|r| {
        *m.entry((
            r.key_uid.clone().unwrap_or_default(),
            r.principal.clone(),
            r.function.clone(),
        ))
        .or_default() += r.count;
        Ok(())
    })
    .unwrap();
    m
}

#[test]
fn aggregated_counts_add_up() {
    let (_d, s) = store();
    let a = Aggregator::new();
    let t0 = 1_000_000;
    for i in 0..1000 {
        a.record(event(i), t0 + i as i64 / 10);
    }
    // Nothing is due before a second has passed.
    assert_eq!(a.flush_due(&s, t0 + 999).unwrap(), 0);
    let rows = a.flush_due(&s, t0 + 1000).unwrap();
    assert!(rows > 0 && rows < 1000, "{rows} rows");
    assert!(a.pending().is_empty());
    let got = stored(&s);
    assert_eq!(got.values().sum::<u64>(), 1000);
    assert_eq!(got, expected(1000));
    assert!(s.verify_audit().unwrap().ok());
    // First/last times and contexts are kept.
    let rows = s.audit_records(0, 10_000).unwrap();
    assert!(rows.iter().all(|r| r.time_ms <= r.last_ms));
    assert!(rows
        .iter()
        .any(|r| r.context.as_deref() == Some("{\"app\":\"x\"}")));
}

#[test]
fn per_session_flush_and_flush_all() {
    let (_d, s) = store();
    let a = Aggregator::new();
    for i in 0..100 {
        a.record(event(i), 5);
    }
    a.flush_session(&s, 1).unwrap();
    let first = stored(&s).values().sum::<u64>();
    assert_eq!(first, 50);
    a.flush_all(&s).unwrap();
    assert_eq!(stored(&s), expected(100));
}

#[test]
fn the_auditor_follows_its_mode() {
    let (_d, s) = store();
    let per_call = Auditor::with(AuditMode::PerCall, Retention::default());
    for i in 0..10 {
        per_call.data(&s, event(i), 1);
    }
    assert_eq!(s.audit_head().unwrap().seq, 10);
    let off = Auditor::with(AuditMode::Off, Retention::default());
    off.data(&s, event(0), 1);
    assert_eq!(s.audit_head().unwrap().seq, 10);
    let agg = Auditor::with(
        AuditMode::Aggregate,
        Retention {
            max_records: Some(3),
            max_age_days: None,
        },
    );
    agg.data(&s, event(0), 100_000);
    agg.data(&s, event(0), 100_500);
    // Retention's own record of the anchor it moved.
    assert_eq!(s.audit_head().unwrap().seq, 11);
    // Retention applied at the first call (10 -> 3 records, and its record),
    // then at most once a minute; the first call after a second flushes (two
    // aggregates).
    agg.data(&s, event(1), 101_000);
    let rows = s.audit_records(0, 100).unwrap();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().any(|r| r.function == "retention"));
    assert!(rows.iter().any(|r| r.count == 2));
    assert!(s.verify_audit().unwrap().ok());
    agg.data(&s, event(1), 161_000);
    agg.flush_all(&s);
    let rows = s.audit_records(0, 100).unwrap();
    // Three kept, retention's record, the flushed aggregate.
    assert_eq!(rows.len(), 5);
    assert_eq!(rows.last().unwrap().count, 1);
    assert!(s.verify_audit().unwrap().ok());
}

#[test]
fn records_export_like_cloudtrail() {
    let (_d, s) = store();
    let r = AuditRecord::management("C_Decrypt", "alice", 3)
        .with_key("uid-1", Some(2))
        .with_mechanism(cryptoki_sys::CKM_AES_GCM)
        .with_context(b"{\"a\":\"b\"}")
        .with_rv(cryptoki_sys::CKR_KEY_FUNCTION_NOT_PERMITTED)
        .with_reason("denied by policy");
    s.append_audit(&[r]).unwrap();
    let row = s.audit_records(0, 1).unwrap().remove(0);
    let name = |m: u64| match m {
        cryptoki_sys::CKM_AES_GCM => "CKM_AES_GCM".to_string(),
        m => format!("0x{m:08x}"),
    };
    let j = to_json(&row, &name);
    assert_eq!(j["eventName"], "C_Decrypt");
    assert_eq!(j["userIdentity"]["principalId"], "alice");
    assert_eq!(j["requestParameters"]["keyId"], "uid-1");
    assert_eq!(j["requestParameters"]["keyVersion"], 2);
    assert_eq!(j["requestParameters"]["encryptionContext"], "{\"a\":\"b\"}");
    assert_eq!(j["requestParameters"]["mechanism"], "CKM_AES_GCM");
    assert_eq!(j["errorCode"], "CKR_KEY_FUNCTION_NOT_PERMITTED");
    assert_eq!(j["errorMessage"], "denied by policy");
    assert!(j["eventTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(j["sequence"], 1);
    assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
}

/// Measures the hot path: `cargo test --lib aggregator_hot_path -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn aggregator_hot_path_cost() {
    let a = Aggregator::new();
    let n = 1_000_000;
    let t = std::time::Instant::now();
    for i in 0..n {
        a.record(event(i % 60), 1);
        let _ = a.is_due(2);
    }
    let ns = t.elapsed().as_nanos() / n as u128;
    println!(
        "aggregator: {ns} ns per event ({} aggregates)",
        a.pending().len()
    );
}
