//! Reading and verifying the audit log (`docs/audit.md`): policy-checked
//! calls of the logged-in principal (`ReadAudit`). The SO and the token owner
//! read every record, verify the chain and read its head; a named principal
//! reads the records of the keys whose policy grants it `ReadAudit`.

use super::error::Result;
use super::keys::KeyId;
use super::session::Token;
use super::types::Timestamp;
use crate::kms::audit as records;
use crate::module::AuditFilter;
use std::fmt;

/// Which records [`Token::audit_records`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only records whose last event is at or after this time.
    pub since: Option<Timestamp>,
    /// Only records of this key.
    pub key_id: Option<KeyId>,
}

/// Whether a record is about managing the token or using a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditCategory {
    /// Token initialization, PINs, logins, object and key lifecycle, policy
    /// and principal changes: one record each.
    Management,
    /// Uses of keys, aggregated per session, principal, key, operation and
    /// result unless the slot says `audit = "per-call"`.
    Data,
}

/// One record of the audit log. It never holds key material, PINs or
/// plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditRecord(records::AuditRecord);

impl fmt::Debug for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuditRecord").field(&self.0).finish()
    }
}

impl AuditRecord {
    /// Its sequence number, 1, 2, … per token file.
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// When the (first) event was, in milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> i64 {
        self.0.time_ms
    }

    /// When the last event an aggregated record counts was (ms).
    pub fn last_ms(&self) -> i64 {
        self.0.last_ms
    }

    /// [`time_ms`](Self::time_ms) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn time_rfc3339(&self) -> String {
        records::rfc3339_ms(self.0.time_ms)
    }

    /// How many calls it stands for (1 unless aggregated).
    pub fn count(&self) -> u64 {
        self.0.count
    }

    /// Management or data.
    pub fn category(&self) -> AuditCategory {
        match self.0.category {
            records::Category::Management => AuditCategory::Management,
            records::Category::Data => AuditCategory::Data,
        }
    }

    /// The calling process.
    pub fn pid(&self) -> u32 {
        self.0.pid
    }

    /// The principal: `so`, `user`, a named principal, or empty (nobody
    /// logged in).
    pub fn principal(&self) -> &str {
        &self.0.principal
    }

    /// The PKCS#11 session handle (0: none).
    pub fn session(&self) -> u64 {
        self.0.session
    }

    /// The PKCS#11 function, e.g. `C_Login`, `C_Decrypt`.
    pub fn function(&self) -> &str {
        &self.0.function
    }

    /// The mechanism's name, when the call had one.
    pub fn mechanism(&self) -> Option<String> {
        self.0
            .mechanism
            .map(crate::mechanism::registry::display_name)
    }

    /// The key's id, when the record is about a key.
    pub fn key_id(&self) -> Option<&str> {
        self.0.key_uid.as_deref()
    }

    /// The key version, when known.
    pub fn key_version(&self) -> Option<u64> {
        self.0.key_version
    }

    /// The encryption context as KMS logs it (UTF-8 text, or `hex:` and hex
    /// digits).
    pub fn context(&self) -> Option<&str> {
        self.0.context.as_deref()
    }

    /// The call's result as a `CK_RV` (0: success).
    pub fn result_code(&self) -> u64 {
        self.0.rv
    }

    /// The call's result by name (`CKR_OK`, `CKR_KEY_FUNCTION_NOT_PERMITTED` …).
    pub fn result_name(&self) -> String {
        records::rv_name(self.0.rv)
    }

    /// Why: a denial reason, an error message, what changed.
    pub fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Its hash in the chain, in hex.
    pub fn hash_hex(&self) -> String {
        records::hash_hex(&self.0.hash)
    }

    /// The record as one CloudTrail-like JSON object (`docs/audit.md`).
    pub fn to_json(&self) -> serde_json::Value {
        crate::module::audit_json(&self.0)
    }
}

/// A point of the hash chain: a sequence number and the hash of the record
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainPoint {
    /// The sequence number (0: before the first record).
    pub seq: u64,
    /// The record's hash (all zeros before the first record).
    pub hash: [u8; 32],
}

impl ChainPoint {
    /// The hash in hex.
    pub fn hash_hex(&self) -> String {
        records::hash_hex(&self.hash)
    }
}

impl From<records::ChainPoint> for ChainPoint {
    fn from(p: records::ChainPoint) -> ChainPoint {
        ChainPoint {
            seq: p.seq,
            hash: p.hash,
        }
    }
}

/// What is wrong with the chain, and where; its `Display` says it in words
/// (`record 6: changed …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditProblem(crate::store::audit::Problem);

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The result of [`Token::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditVerification {
    /// Records present.
    pub records: u64,
    /// The retention anchor (the newest record retention dropped).
    pub anchor: ChainPoint,
    /// The chain head the token records.
    pub head: ChainPoint,
    /// Everything wrong, in sequence order; empty when the chain verifies.
    pub problems: Vec<AuditProblem>,
    /// How many records retention retired.
    pub retired: u64,
    /// When retention last retired records (ms since the epoch).
    pub retired_at_ms: Option<i64>,
}

impl AuditVerification {
    /// Whether the chain verifies.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Token {
    /// The audit records the logged-in principal may read that match
    /// `query`, oldest first.
    pub fn audit_records(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let _g = self.take();
        let filter = AuditFilter {
            since_ms: query.since.map(|t| t.unix().saturating_mul(1000)),
            key_uid: query.key_id.as_ref().map(|k| k.as_str().to_string()),
        };
        let rows = self.m().read_audit(self.h(), &filter)?;
        Ok(rows.into_iter().map(AuditRecord).collect())
    }

    /// Recomputes the whole hash chain (the SO and the token owner only).
    pub fn verify_audit(&self) -> Result<AuditVerification> {
        let _g = self.take();
        let v = self.m().verify_audit(self.h())?;
        Ok(AuditVerification {
            records: v.records,
            anchor: v.anchor.into(),
            head: v.head.into(),
            problems: v.problems.into_iter().map(AuditProblem).collect(),
            retired: v.retired,
            retired_at_ms: v.retired_at_ms,
        })
    }

    /// The chain head, to keep somewhere the token's writer cannot reach
    /// (the SO and the token owner only).
    pub fn audit_head(&self) -> Result<ChainPoint> {
        let _g = self.take();
        Ok(self.m().audit_head(self.h())?.into())
    }
}
