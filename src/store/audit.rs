//! The audit log in the token file (`docs/audit.md`): records, their hash chain,
//! appends (alone or in the same transaction as the change they record),
//! retention and verification.
//!
//! Audit rows are NOT sealed: they never hold key material, PINs or plaintext, and
//! they must be readable (and verifiable) without the TMK. They are tamper-evident
//! instead: each record's hash is SHA-256 over a domain string, the previous
//! record's hash and the record's canonical encoding (its sequence number
//! included). The meta row keeps the chain head (last sequence number and hash) and
//! the retention anchor (the sequence number and hash of the newest pruned record,
//! the predecessor of the oldest kept one).

use super::backend::{Tx, TxMode};
use super::codec::lp;
use super::Store;
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// Length of a chain hash.
pub(crate) const HASH_LEN: usize = 32;
/// A chain hash.
pub(crate) type Hash = [u8; HASH_LEN];

const DOMAIN: &[u8] = b"softkms/v1/audit-record";
/// How far (in sequence numbers) verification looks for where a moved record
/// came from.
const MOVE_WINDOW: u64 = 64;
/// Rows read per page when walking the log.
const PAGE: usize = 10_000;

/// Whether a record is a management event or (aggregated) key use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Category {
    /// Token, PIN, login, object, lifecycle, policy and principal changes.
    #[default]
    Management,
    /// Uses of a key (encrypt, decrypt, sign, …), possibly aggregated.
    Data,
}

impl Category {
    /// The stored code.
    pub fn code(self) -> u8 {
        match self {
            Category::Management => 0,
            Category::Data => 1,
        }
    }
    /// From the stored code.
    pub fn from_code(c: i64) -> Category {
        if c == 1 {
            Category::Data
        } else {
            Category::Management
        }
    }
    /// "Management" or "Data".
    pub fn name(self) -> &'static str {
        match self {
            Category::Management => "Management",
            Category::Data => "Data",
        }
    }
}

/// One audit record. Build one with [`AuditRecord::new`] and the setters; the store
/// fills in `seq`, `prev_hash` and `hash` when it appends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditRecord {
    /// Sequence number, 1, 2, … per token file (set on append).
    pub seq: u64,
    /// Time of the (first) event, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Time of the last event an aggregated record counts (= `time_ms` otherwise).
    pub last_ms: i64,
    /// How many calls this record stands for (1 unless aggregated).
    pub count: u64,
    /// Management or data event.
    pub category: Category,
    /// The calling process.
    pub pid: u32,
    /// The principal ("so", "user", a named principal; "" when nobody is logged in).
    pub principal: String,
    /// The session handle (0 when none).
    pub session: u64,
    /// The PKCS#11 function, e.g. "C_Login", "C_Encrypt".
    pub function: String,
    /// The mechanism type, when the call had one.
    pub mechanism: Option<u64>,
    /// The key's (object's) `CKA_UNIQUE_ID`.
    pub key_uid: Option<String>,
    /// The key version used.
    pub key_version: Option<u64>,
    /// The encryption context as KMS logs it: UTF-8 text, or `hex:` and hex digits.
    pub context: Option<String>,
    /// The call's result (`CK_RV`).
    pub rv: u64,
    /// Why (a denial reason, an error message, what changed); never a secret.
    pub reason: String,
    /// The previous record's hash (set on append).
    pub prev_hash: Hash,
    /// This record's hash (set on append).
    pub hash: Hash,
}

/// Milliseconds since the Unix epoch, on the token's clock.
pub fn now_ms() -> i64 {
    crate::clock::now_ms()
}

/// The context bytes as KMS logs them: the text when it is UTF-8 without control
/// characters, `hex:` and lower-case hex digits otherwise.
pub fn render_context(ctx: &[u8]) -> String {
    match std::str::from_utf8(ctx) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => {
            let mut out = String::with_capacity(4 + 2 * ctx.len());
            out.push_str("hex:");
            for b in ctx {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

fn opt_u64(v: Option<u64>) -> Vec<u8> {
    match v {
        None => vec![0],
        Some(x) => {
            let mut b = vec![1];
            b.extend_from_slice(&x.to_be_bytes());
            b
        }
    }
}

fn opt_str(v: Option<&str>) -> Vec<u8> {
    match v {
        None => vec![0],
        Some(s) => {
            let mut b = vec![1];
            b.extend_from_slice(s.as_bytes());
            b
        }
    }
}

impl AuditRecord {
    /// A record of one call made now by this process.
    pub fn new(category: Category, function: &str, principal: &str, session: u64) -> Self {
        let t = now_ms();
        AuditRecord {
            time_ms: t,
            last_ms: t,
            count: 1,
            category,
            pid: std::process::id(),
            principal: principal.to_string(),
            session,
            function: function.to_string(),
            ..AuditRecord::default()
        }
    }
    /// A management record (see [`AuditRecord::new`]).
    pub fn management(function: &str, principal: &str, session: u64) -> Self {
        Self::new(Category::Management, function, principal, session)
    }
    /// Sets the key uid and version.
    pub fn with_key(mut self, uid: &str, version: Option<u64>) -> Self {
        self.key_uid = Some(uid.to_string());
        self.key_version = version;
        self
    }
    /// Sets the mechanism.
    pub fn with_mechanism(mut self, mech: u64) -> Self {
        self.mechanism = Some(mech);
        self
    }
    /// Sets the encryption context (rendered by [`render_context`]).
    pub fn with_context(mut self, ctx: &[u8]) -> Self {
        self.context = Some(render_context(ctx));
        self
    }
    /// Sets the result.
    pub fn with_rv(mut self, rv: u64) -> Self {
        self.rv = rv;
        self
    }
    /// Sets the result from an outcome: `CKR_OK` or the error's code and message.
    pub fn with_result<T>(mut self, r: &Result<T>) -> Self {
        match r {
            Ok(_) => self.rv = 0,
            Err(e) => {
                self.rv = e.rv();
                if self.reason.is_empty() {
                    self.reason = e.to_string();
                }
            }
        }
        self
    }
    /// Sets the reason.
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = reason.to_string();
        self
    }

    /// The record's canonical encoding (everything but the hashes), length-prefixed.
    pub fn canonical(&self, seq: u64) -> Vec<u8> {
        lp(&[
            &seq.to_be_bytes(),
            &self.time_ms.to_be_bytes(),
            &self.last_ms.to_be_bytes(),
            &self.count.to_be_bytes(),
            &[self.category.code()],
            &self.pid.to_be_bytes(),
            self.principal.as_bytes(),
            &self.session.to_be_bytes(),
            self.function.as_bytes(),
            &opt_u64(self.mechanism),
            &opt_str(self.key_uid.as_deref()),
            &opt_u64(self.key_version),
            &opt_str(self.context.as_deref()),
            &self.rv.to_be_bytes(),
            self.reason.as_bytes(),
        ])
    }

    /// The chain hash of this record at `seq` after a record whose hash is `prev`.
    pub fn chain_hash(&self, prev: &Hash, seq: u64) -> Hash {
        let mut h = Sha256::new();
        h.update(lp(&[DOMAIN, prev]));
        h.update(self.canonical(seq));
        h.finalize().into()
    }
}

/// A point of the chain: a sequence number and the hash of the record there
/// (`(0, [0; 32])` before the first record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainPoint {
    /// The sequence number.
    pub seq: u64,
    /// The record's hash.
    pub hash: Hash,
}

/// What is wrong with the chain, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record's content does not match its hash: it was edited.
    Changed {
        /// Where.
        seq: u64,
    },
    /// An intact record that belongs at another sequence number (records were
    /// swapped or renumbered).
    Moved {
        /// Where it is now.
        seq: u64,
        /// Where it was written.
        was: u64,
    },
    /// Records with these sequence numbers are gone.
    Missing {
        /// First missing.
        from: u64,
        /// Last missing.
        to: u64,
    },
    /// The record is intact but does not follow the one before it: it follows
    /// another record (`follows`), so the records were reordered.
    OutOfOrder {
        /// Where.
        seq: u64,
        /// The record it follows.
        follows: u64,
    },
    /// The record is intact but does not follow the one before it (the one before
    /// it, or this one, was rewritten with a new hash, or a record was inserted).
    BrokenLink {
        /// Where.
        seq: u64,
    },
    /// The oldest kept record does not follow the retention anchor.
    Anchor {
        /// The oldest kept record.
        seq: u64,
    },
    /// The retention anchor was not moved by a retention record: the newest
    /// retention record in the log names another anchor, or there is none.
    UnrecordedAnchor {
        /// The anchor's sequence number.
        anchor: u64,
    },
    /// The retention anchor does not match the token's integrity root (checked
    /// only with the master key at hand, i.e. logged in).
    UnauthenticatedAnchor {
        /// The anchor's sequence number.
        anchor: u64,
    },
    /// The last record is not the chain head recorded in the meta row.
    Head {
        /// The head's sequence number.
        head: u64,
        /// The last record present.
        last: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Changed { seq } => {
                write!(
                    f,
                    "record {seq}: changed (its content does not match its hash)"
                )
            }
            Problem::Moved { seq, was } => {
                write!(f, "record {seq}: out of place: it is record {was} moved here")
            }
            Problem::Missing { from, to } if from == to => {
                write!(f, "record {from}: missing (removed)")
            }
            Problem::Missing { from, to } => write!(f, "records {from}..{to}: missing (removed)"),
            Problem::OutOfOrder { seq, follows } => write!(
                f,
                "record {seq}: out of order: it follows record {follows}, not record {}",
                seq.saturating_sub(1)
            ),
            Problem::BrokenLink { seq } => write!(
                f,
                "record {seq}: chain broken: it does not follow record {} (one of the two was rewritten, or a record was inserted)",
                seq.saturating_sub(1)
            ),
            Problem::Anchor { seq } => write!(
                f,
                "record {seq}: the oldest kept record does not follow the retention anchor"
            ),
            Problem::UnrecordedAnchor { anchor } => write!(
                f,
                "anchor {anchor}: the retention anchor was not moved by a retention record (records cut from the front?)"
            ),
            Problem::UnauthenticatedAnchor { anchor } => write!(
                f,
                "anchor {anchor}: the retention anchor does not match the token's integrity root (moved by hand)"
            ),
            Problem::Head { head, last } if head > last => write!(
                f,
                "records {}..{head}: missing (removed from the end; the chain head says {head})",
                last + 1
            ),
            Problem::Head { head, last } => write!(
                f,
                "record {last}: is not the chain head recorded in the token (head {head})"
            ),
        }
    }
}

/// The result of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records present.
    pub records: u64,
    /// The retention anchor (the newest pruned record).
    pub anchor: ChainPoint,
    /// The chain head in the meta row.
    pub head: ChainPoint,
    /// Everything wrong, in sequence order; empty when the chain verifies.
    pub problems: Vec<Problem>,
    /// How many records retention retired (every record up to the anchor).
    pub retired: u64,
    /// When the newest retention record was written (ms since the epoch).
    pub retired_at_ms: Option<i64>,
}

/// The function name of the record that retention writes when it moves the anchor.
pub(crate) const RETENTION_FUNCTION: &str = "retention";

/// The context of a retention record: the anchor it set.
fn retention_context(anchor: u64) -> String {
    format!("anchor={anchor}")
}

impl Verification {
    /// Whether the chain verifies.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Retention limits; `None` keeps everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Keep at most this many records.
    pub max_records: Option<u64>,
    /// Drop records whose last event is older than this many days.
    pub max_age_days: Option<u64>,
}

/// Checks a chain: `rows` in sequence order, after `anchor`, ending at `head`.
pub fn verify_chain(anchor: ChainPoint, head: ChainPoint, rows: &[AuditRecord]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let by_hash: HashMap<Hash, u64> = rows.iter().map(|r| (r.hash, r.seq)).collect();
    let mut prev = anchor;
    let mut prev_flagged = false;
    for (i, r) in rows.iter().enumerate() {
        let mut gap = false;
        if r.seq > prev.seq.saturating_add(1) {
            problems.push(Problem::Missing {
                from: prev.seq + 1,
                to: r.seq - 1,
            });
            gap = true;
        }
        let intact = r.chain_hash(&r.prev_hash, r.seq) == r.hash;
        let mut flagged = false;
        if !intact {
            let lo = r.seq.saturating_sub(MOVE_WINDOW).max(1);
            let hi = r.seq.saturating_add(MOVE_WINDOW);
            let was = (lo..=hi).find(|&s| s != r.seq && r.chain_hash(&r.prev_hash, s) == r.hash);
            problems.push(match was {
                Some(was) => Problem::Moved { seq: r.seq, was },
                None => Problem::Changed { seq: r.seq },
            });
            flagged = true;
        } else if (r.prev_hash != prev.hash || (i == 0 && r.seq <= prev.seq))
            && !gap
            && !prev_flagged
        {
            // The oldest kept record must come after the anchor in number as well
            // as in hash: an anchor moved up to it or past it is not the record
            // before it.
            problems.push(if i == 0 {
                Problem::Anchor { seq: r.seq }
            } else {
                match by_hash.get(&r.prev_hash) {
                    Some(&m) => Problem::OutOfOrder {
                        seq: r.seq,
                        follows: m,
                    },
                    None => Problem::BrokenLink { seq: r.seq },
                }
            });
            flagged = true;
        }
        prev = ChainPoint {
            seq: r.seq,
            hash: r.hash,
        };
        prev_flagged = flagged;
    }
    if prev != head {
        problems.push(Problem::Head {
            head: head.seq,
            last: prev.seq,
        });
    }
    problems
}

/// Appends records inside a write transaction: numbers them after the head,
/// chains them, moves the head. Returns their sequence numbers.
pub(crate) fn append_in_tx(tx: &mut dyn Tx, records: &[AuditRecord]) -> Result<Vec<u64>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut head = tx.audit_head()?;
    let mut seqs = Vec::with_capacity(records.len());
    for r in records {
        let seq = head
            .seq
            .checked_add(1)
            .ok_or_else(|| Error::General("audit sequence overflow".into()))?;
        let mut row = r.clone();
        row.seq = seq;
        row.prev_hash = head.hash;
        row.hash = row.chain_hash(&head.hash, seq);
        tx.put_audit(&row)?;
        head = ChainPoint {
            seq,
            hash: row.hash,
        };
        seqs.push(seq);
    }
    tx.set_audit_head(&head)?;
    Ok(seqs)
}

impl Store {
    /// Runs `f` in one write transaction that does not move the generation (audit
    /// rows are not objects: object caches need not reload).
    fn write_audit<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let mut g = self.inner.lock();
        let keys = g.keys.clone();
        let mut tx = g.backend.begin(TxMode::Write)?;
        let mut rtx = super::integrity::RootTx::new(&mut *tx, keys.as_deref());
        let r = f(&mut rtx)?;
        rtx.finish()?;
        tx.commit()?;
        Ok(r)
    }

    /// Appends records that go with no other change (a failed login, a denied use,
    /// aggregated data events), durably, in one transaction. Returns their sequence
    /// numbers.
    pub fn append_audit(&self, records: &[AuditRecord]) -> Result<Vec<u64>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.write_audit(|tx| append_in_tx(tx, records))
    }

    /// [`Store::put_object`] and its audit record, in one transaction.
    pub fn put_object_audited(
        &self,
        obj: &super::StoredObject,
        tmk: Option<&super::Tmk>,
        record: &AuditRecord,
    ) -> Result<u64> {
        self.put_objects_with_audit(std::slice::from_ref(obj), tmk, std::slice::from_ref(record))
    }

    /// Replaces an object that the caller read from the row written at generation
    /// `base`, with its audit record, in one transaction; [`Error::Conflict`] (and
    /// no change) when another writer, in this process or another, replaced or
    /// deleted the row since. This is what keeps two read-modify-writes of one
    /// object (two rotations, two `C_SetAttributeValue`) from losing one.
    pub fn replace_object_audited(
        &self,
        obj: &super::StoredObject,
        base: u64,
        tmk: Option<&super::Tmk>,
        record: &AuditRecord,
    ) -> Result<u64> {
        self.put_objects_if(
            std::slice::from_ref(obj),
            Some(base),
            tmk,
            std::slice::from_ref(record),
        )
    }

    /// [`Store::put_objects`] and their audit records, in one transaction.
    pub fn put_objects_audited(
        &self,
        objs: &[super::StoredObject],
        tmk: Option<&super::Tmk>,
        records: &[AuditRecord],
    ) -> Result<u64> {
        self.put_objects_with_audit(objs, tmk, records)
    }

    /// [`Store::delete_object`] and its audit record, in one transaction.
    pub fn delete_object_audited(&self, uid: &str, record: &AuditRecord) -> Result<u64> {
        self.delete_objects_with_audit(&[uid], std::slice::from_ref(record))
    }

    /// Deletes an object if its row is still at generation `base`, with its
    /// audit record (`Error::Conflict` when another writer changed it).
    pub fn delete_object_if_audited(
        &self,
        uid: &str,
        base: u64,
        record: &AuditRecord,
    ) -> Result<u64> {
        self.delete_object_if_with_audit(uid, base, std::slice::from_ref(record))
    }

    /// [`Store::delete_objects`] and their audit records, in one transaction.
    pub fn delete_objects_audited<S: AsRef<str>>(
        &self,
        uids: &[S],
        records: &[AuditRecord],
    ) -> Result<u64> {
        self.delete_objects_with_audit(uids, records)
    }

    /// [`Store::init_token`] and its record, in one transaction (the audit log
    /// survives re-initialization: it is evidence, not token content).
    pub fn init_token_audited(
        &self,
        label: &str,
        so_pin: &[u8],
        kdf: &super::KdfParams,
        record: &AuditRecord,
    ) -> Result<super::Tmk> {
        self.init_token_with_audit(label, so_pin, kdf, std::slice::from_ref(record))
    }

    /// [`Store::set_pin`] and its record, in one transaction.
    pub fn set_pin_audited(
        &self,
        name: &str,
        tmk: &super::Tmk,
        new_pin: &[u8],
        kdf: &super::KdfParams,
        record: &AuditRecord,
    ) -> Result<()> {
        self.set_pin_with_audit(name, tmk, new_pin, kdf, std::slice::from_ref(record))
    }

    /// [`Store::remove_principal`] and its record, in one transaction.
    pub fn remove_principal_audited(&self, name: &str, record: &AuditRecord) -> Result<()> {
        self.remove_principal_with_audit(name, std::slice::from_ref(record))
    }

    /// [`Store::unlock`] that leaves exactly one record of the attempt, durable
    /// before it returns. `template` gives the function, principal and session;
    /// the store sets the result (`rv`) and, on failure, the reason.
    ///
    /// A try that ran the KDF is recorded in the transaction that counts its
    /// outcome (a success resets the failed-login counter, a wrong PIN raises
    /// it), so a wrong PIN costs the same writes as a right one. A refusal
    /// before the KDF (locked PIN, unknown principal) is recorded on its own.
    pub fn unlock_audited(
        &self,
        name: &str,
        pin: &[u8],
        max_failures: u32,
        template: &AuditRecord,
    ) -> Result<super::Tmk> {
        self.unlock_with_audit(name, pin, max_failures, Some(template))
    }

    /// The chain head: the last record's sequence number and hash.
    pub fn audit_head(&self) -> Result<ChainPoint> {
        self.read(|tx| tx.audit_head())
    }

    /// The retention anchor: the newest pruned record (`seq` 0 when none).
    pub fn audit_anchor(&self) -> Result<ChainPoint> {
        self.read(|tx| tx.audit_anchor())
    }

    /// Records with a sequence number above `after`, at most `limit`, in order.
    pub fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        self.read(|tx| tx.audit_records(after, limit))
    }

    /// Calls `f` with every record in order, a page at a time.
    pub fn for_each_audit(&self, mut f: impl FnMut(&AuditRecord) -> Result<()>) -> Result<()> {
        let mut after = 0;
        loop {
            let page = self.audit_records(after, PAGE)?;
            for r in &page {
                f(r)?;
            }
            match page.last() {
                Some(r) if page.len() == PAGE => after = r.seq,
                _ => return Ok(()),
            }
        }
    }

    /// Recomputes the whole chain in one read transaction and says what is wrong
    /// and where.
    pub fn verify_audit(&self) -> Result<Verification> {
        let (anchor, head, rows) = self.read(|tx| {
            let anchor = tx.audit_anchor()?;
            let head = tx.audit_head()?;
            let mut rows = Vec::new();
            let mut after = 0;
            loop {
                let page = tx.audit_records(after, PAGE)?;
                let full = page.len() == PAGE;
                if let Some(r) = page.last() {
                    after = r.seq;
                }
                rows.extend(page);
                if !full {
                    break;
                }
            }
            Ok((anchor, head, rows))
        })?;
        let mut problems = verify_chain(anchor, head, &rows);
        // The anchor moves only with a retention record written in the same
        // transaction, after the cut: the newest one names the current anchor.
        let last_retention = rows
            .iter()
            .rev()
            .find(|r| r.function == RETENTION_FUNCTION && r.principal.is_empty());
        let recorded = last_retention
            .filter(|r| r.context.as_deref() == Some(retention_context(anchor.seq).as_str()));
        if anchor.seq > 0 && recorded.is_none() {
            problems.push(Problem::UnrecordedAnchor { anchor: anchor.seq });
        }
        if self.anchor_refused()? {
            problems.push(Problem::UnauthenticatedAnchor { anchor: anchor.seq });
        }
        Ok(Verification {
            records: u64::try_from(rows.len()).unwrap_or(u64::MAX),
            anchor,
            head,
            problems,
            retired: anchor.seq,
            retired_at_ms: recorded.map(|r| r.time_ms),
        })
    }

    /// Drops the oldest records beyond the retention limits, keeping the chain
    /// verifiable: the newest dropped record becomes the anchor. Returns how many
    /// records were dropped.
    pub fn prune_audit(&self, retention: &Retention, now_ms: i64) -> Result<u64> {
        if retention.max_records.is_none() && retention.max_age_days.is_none() {
            return Ok(0);
        }
        self.write_audit(|tx| {
            let head = tx.audit_head()?;
            let anchor = tx.audit_anchor()?;
            let mut cut = anchor.seq;
            if let Some(max) = retention.max_records {
                cut = cut.max(head.seq.saturating_sub(max));
            }
            if let Some(days) = retention.max_age_days {
                let age_ms = i64::try_from(days)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(86_400_000);
                if let Some(seq) = tx.audit_last_before(now_ms.saturating_sub(age_ms))? {
                    cut = cut.max(seq);
                }
            }
            if cut <= anchor.seq {
                return Ok(0);
            }
            let Some(last) = tx.audit_last_at_or_below(cut)? else {
                return Ok(0);
            };
            if last.seq <= anchor.seq {
                return Ok(0);
            }
            let n = tx.delete_audit_through(last.seq)?;
            tx.set_audit_anchor(&last)?;
            let n = u64::try_from(n).unwrap_or(u64::MAX);
            let mut rec = AuditRecord::management(RETENTION_FUNCTION, "", 0)
                .with_reason(&format!("retired records through {} ({n})", last.seq));
            rec.context = Some(retention_context(last.seq));
            append_in_tx(tx, &[rec])?;
            Ok(n)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
