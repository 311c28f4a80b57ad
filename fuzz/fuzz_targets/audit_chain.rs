//! The audit chain without a database: records from the input are chained as
//! the store chains them, then changed as the input says (fields edited,
//! records removed, swapped, renumbered, rehashed). `verify_chain` must pass an
//! intact chain, flag every changed one, and never panic; each record and each
//! problem must render (JSON, text).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use softkms::internals::kms::audit::{rfc3339_ms, to_json};
use softkms::internals::store::audit::{render_context, verify_chain, AuditRecord, Category, ChainPoint};

#[derive(Arbitrary, Debug, Clone)]
struct Rec {
    time_ms: i64,
    last_ms: i64,
    count: u64,
    data: bool,
    pid: u32,
    principal: String,
    session: u64,
    function: String,
    mechanism: Option<u64>,
    key_uid: Option<String>,
    key_version: Option<u64>,
    context: Option<Vec<u8>>,
    rv: u64,
    reason: String,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Field { at: u8, value: u64 },
    Reason { at: u8, text: String },
    Remove(u8),
    Swap(u8, u8),
    Renumber { at: u8, seq: u64 },
    Rehash { at: u8 },
    Hash { at: u8, byte: u8 },
    Anchor(u64),
    Head(u64),
}

#[derive(Arbitrary, Debug)]
struct Input {
    start: u64,
    anchor_hash: [u8; 32],
    records: Vec<Rec>,
    edits: Vec<Edit>,
}

fn record(r: &Rec) -> AuditRecord {
    AuditRecord {
        seq: 0,
        time_ms: r.time_ms,
        last_ms: r.last_ms,
        count: r.count,
        category: if r.data { Category::Data } else { Category::Management },
        pid: r.pid,
        principal: r.principal.clone(),
        session: r.session,
        function: r.function.clone(),
        mechanism: r.mechanism,
        key_uid: r.key_uid.clone(),
        key_version: r.key_version,
        context: r.context.as_deref().map(render_context),
        rv: r.rv,
        reason: r.reason.clone(),
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

fuzz_target!(|inp: Input| {
    let start = inp.start.min(u64::MAX - 1024);
    let anchor = ChainPoint { seq: start, hash: inp.anchor_hash };
    let mut rows = Vec::new();
    let mut head = anchor;
    for r in inp.records.iter().take(64) {
        let mut a = record(r);
        a.seq = head.seq + 1;
        a.prev_hash = head.hash;
        a.hash = a.chain_hash(&head.hash, a.seq);
        head = ChainPoint { seq: a.seq, hash: a.hash };
        rows.push(a);
    }
    assert_eq!(verify_chain(anchor, head, &rows), vec![], "an intact chain verifies");

    let orig = rows.clone();
    let (mut anchor2, mut head2) = (anchor, head);
    let n = |i: u8, len: usize| usize::from(i) % len.max(1);
    for e in inp.edits.iter().take(8) {
        if rows.is_empty() {
            break;
        }
        match e {
            Edit::Field { at, value } => {
                let i = n(*at, rows.len());
                let r = &mut rows[i];
                match value % 6 {
                    0 => r.count = *value,
                    1 => r.time_ms = *value as i64,
                    2 => r.session = *value,
                    3 => r.rv = *value,
                    4 => r.mechanism = Some(*value),
                    _ => r.key_version = None,
                }
            }
            Edit::Reason { at, text } => {
                let i = n(*at, rows.len());
                rows[i].reason = text.clone();
            }
            Edit::Remove(at) => {
                let i = n(*at, rows.len());
                rows.remove(i);
            }
            Edit::Swap(a, b) => {
                let (a, b) = (n(*a, rows.len()), n(*b, rows.len()));
                rows.swap(a, b);
            }
            Edit::Renumber { at, seq } => {
                let i = n(*at, rows.len());
                rows[i].seq = *seq;
            }
            Edit::Rehash { at } => {
                let i = n(*at, rows.len());
                let r = &mut rows[i];
                r.hash = r.chain_hash(&r.prev_hash.clone(), r.seq);
            }
            Edit::Hash { at, byte } => {
                let i = n(*at, rows.len());
                rows[i].hash[usize::from(*byte) % 32] ^= 1;
            }
            Edit::Anchor(s) => anchor2.seq = *s,
            Edit::Head(s) => head2.seq = *s,
        }
    }
    // The store reads rows in sequence order.
    rows.sort_by_key(|r| r.seq);
    let problems = verify_chain(anchor2, head2, &rows);
    if rows != orig || anchor2 != anchor || head2 != head {
        assert!(!problems.is_empty(), "a changed chain verified");
    } else {
        assert!(problems.is_empty());
    }
    for p in &problems {
        let _ = p.to_string();
    }
    for r in &rows {
        let _ = to_json(r, &|m| format!("{m:#x}")).to_string();
        let _ = rfc3339_ms(r.time_ms);
    }
});
