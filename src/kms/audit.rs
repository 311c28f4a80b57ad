//! The audit log as the module uses it (`docs/audit.md`): data events aggregated in
//! memory and flushed without a background thread, the per-slot [`Auditor`], who
//! may read the log, and the CloudTrail-like JSON of a record.
//!
//! Records, the hash chain, appends in the same transaction as a change, retention
//! and verification are in [`crate::store::audit`] (re-exported here).

use crate::config::SlotConfig;
use crate::error::Result;
use crate::store::Store;
use cryptoki_sys::CK_RV;
use parking_lot::Mutex;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash as StdHash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};

pub(crate) use crate::config::AuditMode;
pub(crate) use crate::store::audit::{
    now_ms, render_context, AuditRecord, Category, ChainPoint, Hash, Retention,
};

/// How long aggregated data events may wait before the next call flushes them.
pub(crate) const FLUSH_AFTER_MS: i64 = 1000;
/// How often [`Auditor::flush_due`] applies the retention limits.
pub(crate) const PRUNE_EVERY_MS: i64 = 60_000;

/// One use of a key, as the module sees it on the hot path (borrowed: recording it
/// allocates nothing unless it is the first event of its aggregate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DataEvent<'a> {
    /// The session handle.
    pub session: u64,
    /// Who is logged in ("user", "so", a named principal).
    pub principal: &'a str,
    /// The PKCS#11 function ("C_Encrypt", "C_SignInit", …).
    pub function: &'static str,
    /// The mechanism type.
    pub mechanism: Option<u64>,
    /// The key's `CKA_UNIQUE_ID`.
    pub key_uid: &'a str,
    /// The key version used.
    pub key_version: Option<u64>,
    /// The encryption context bytes, if the call had one.
    pub context: Option<&'a [u8]>,
    /// The result.
    pub rv: CK_RV,
    /// Why it was refused ("" when it was not).
    pub reason: &'a str,
}

/// The owned form of an aggregation key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnedKey {
    session: u64,
    principal: String,
    function: &'static str,
    mechanism: Option<u64>,
    key_uid: String,
    key_version: Option<u64>,
    context: Option<Vec<u8>>,
    rv: CK_RV,
    reason: String,
}

impl OwnedKey {
    fn view(&self) -> DataEvent<'_> {
        DataEvent {
            session: self.session,
            principal: &self.principal,
            function: self.function,
            mechanism: self.mechanism,
            key_uid: &self.key_uid,
            key_version: self.key_version,
            context: self.context.as_deref(),
            rv: self.rv,
            reason: &self.reason,
        }
    }
}

/// Looks up owned keys with a borrowed [`DataEvent`] (no allocation per lookup).
trait KeyView {
    fn key(&self) -> DataEvent<'_>;
}

impl KeyView for OwnedKey {
    fn key(&self) -> DataEvent<'_> {
        self.view()
    }
}

impl KeyView for DataEvent<'_> {
    fn key(&self) -> DataEvent<'_> {
        *self
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for OwnedKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl StdHash for dyn KeyView + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for dyn KeyView + '_ {}

impl StdHash for OwnedKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash exactly as the borrowed form does.
        self.view().hash(state);
    }
}

/// Counts of one aggregate.
#[derive(Debug, Clone, Copy)]
struct Tally {
    count: u64,
    first_ms: i64,
    last_ms: i64,
}

/// The aggregation keys are made by this process (handles, principal and key
/// names), so resistance to chosen collisions, SipHash's reason to be slow,
/// buys nothing here.
type FxBuild = rustc_hash::FxBuildHasher;

/// Aggregates are kept in this many maps, by session handle, so that threads
/// that use their own sessions do not wait for each other.
const SHARDS: usize = 16;

type Shard = HashMap<OwnedKey, Tally, FxBuild>;

/// One shard on its own cache line, so that two threads recording into
/// neighbouring shards do not pull the line back and forth.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(Mutex<Shard>);

/// Data events aggregated in memory per (session, principal, function, mechanism,
/// key, version, context, result, reason) with a count and first/last times.
///
/// Nothing runs in the background: the module calls [`Aggregator::flush_due`] at
/// each call (cheap: one atomic load when nothing is due),
/// [`Aggregator::flush_session`] when a session closes and
/// [`Aggregator::flush_all`] at `C_Finalize`.
#[derive(Debug)]
pub(crate) struct Aggregator {
    /// The aggregates, by session handle modulo [`SHARDS`].
    shards: [Padded; SHARDS],
    /// The first time of the oldest pending aggregate; `i64::MAX` when none.
    oldest_ms: AtomicI64,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::new()
    }
}

impl Aggregator {
    /// An empty aggregator.
    pub(crate) fn new() -> Aggregator {
        Aggregator {
            shards: std::array::from_fn(|_| Padded::default()),
            oldest_ms: AtomicI64::new(i64::MAX),
        }
    }

    fn shard(&self, session: u64) -> &Mutex<Shard> {
        // The remainder is below SHARDS, so it fits any usize.
        let i = usize::try_from(session % SHARDS as u64).unwrap_or(0);
        &self.shards[i].0
    }

    /// Counts one event at `now_ms`.
    pub(crate) fn record(&self, ev: DataEvent<'_>, now_ms: i64) {
        let mut map = self.shard(ev.session).lock();
        if let Some(t) = map.get_mut(&ev as &dyn KeyView) {
            t.count = t.count.saturating_add(1);
            t.last_ms = t.last_ms.max(now_ms);
            return;
        }
        map.insert(
            OwnedKey {
                session: ev.session,
                principal: ev.principal.to_string(),
                function: ev.function,
                mechanism: ev.mechanism,
                key_uid: ev.key_uid.to_string(),
                key_version: ev.key_version,
                context: ev.context.map(<[u8]>::to_vec),
                rv: ev.rv,
                reason: ev.reason.to_string(),
            },
            Tally {
                count: 1,
                first_ms: now_ms,
                last_ms: now_ms,
            },
        );
        self.oldest_ms.fetch_min(now_ms, Ordering::Relaxed);
    }

    /// Whether anything waits longer than [`FLUSH_AFTER_MS`] at `now_ms`.
    pub(crate) fn is_due(&self, now_ms: i64) -> bool {
        let oldest = self.oldest_ms.load(Ordering::Relaxed);
        oldest != i64::MAX && now_ms.saturating_sub(oldest) >= FLUSH_AFTER_MS
    }

    /// Whether any aggregate waits to be flushed.
    pub(crate) fn has_pending(&self) -> bool {
        self.oldest_ms.load(Ordering::Relaxed) != i64::MAX
    }

    /// Flushes everything when the oldest pending aggregate is a second old; returns
    /// how many records were written.
    pub(crate) fn flush_due(&self, store: &Store, now_ms: i64) -> Result<usize> {
        if !self.is_due(now_ms) {
            return Ok(0);
        }
        self.flush_where(store, |_| true, &[])
    }

    /// Flushes everything (at `C_Finalize`, `C_CloseAllSessions`, logout).
    pub(crate) fn flush_all(&self, store: &Store) -> Result<usize> {
        self.flush_where(store, |_| true, &[])
    }

    /// Flushes the aggregates of one session (at `C_CloseSession`).
    pub(crate) fn flush_session(&self, store: &Store, session: u64) -> Result<usize> {
        self.flush_where(store, |k| k.session == session, &[])
    }

    #[cfg(test)]
    /// Pending aggregates: (key uid, principal, function, count). For tests and
    /// diagnostics.
    pub(crate) fn pending(&self) -> Vec<(String, String, &'static str, u64)> {
        self.shards
            .iter()
            .flat_map(|m| {
                m.0.lock()
                    .iter()
                    .map(|(k, t)| (k.key_uid.clone(), k.principal.clone(), k.function, t.count))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Flushes the aggregates of one session with `extra` management records
    /// after them, in one transaction (a service's request record and the key
    /// uses of the request's session: one commit, not two).
    pub(crate) fn flush_session_with(
        &self,
        store: &Store,
        session: u64,
        extra: &[AuditRecord],
    ) -> Result<usize> {
        self.flush_where(store, |k| k.session == session, extra)
    }

    fn flush_where(
        &self,
        store: &Store,
        pick: impl Fn(&OwnedKey) -> bool,
        extra: &[AuditRecord],
    ) -> Result<usize> {
        let taken: Vec<(OwnedKey, Tally)> = {
            // Every shard is held (in index order; `record` holds one at a time)
            // so that the oldest time left is exact.
            let mut maps: Vec<_> = self.shards.iter().map(|m| m.0.lock()).collect();
            let mut taken = Vec::new();
            for map in maps.iter_mut() {
                let keys: Vec<OwnedKey> = map.keys().filter(|k| pick(k)).cloned().collect();
                taken.extend(keys.into_iter().filter_map(|k| map.remove_entry(&k)));
            }
            let oldest = maps
                .iter()
                .flat_map(|m| m.values().map(|t| t.first_ms))
                .min()
                .unwrap_or(i64::MAX);
            self.oldest_ms.store(oldest, Ordering::Relaxed);
            taken
        };
        if taken.is_empty() && extra.is_empty() {
            return Ok(0);
        }
        let mut records: Vec<AuditRecord> = taken.iter().map(|(k, t)| to_record(k, t)).collect();
        records.sort_by_key(|r| r.time_ms);
        records.extend_from_slice(extra);
        match store.append_audit(&records) {
            Ok(_) => Ok(records.len()),
            Err(e) => {
                // Put them back: the next flush tries again.
                for (k, t) in taken {
                    let mut map = self.shard(k.session).lock();
                    let e = map.entry(k).or_insert(Tally {
                        count: 0,
                        first_ms: t.first_ms,
                        last_ms: t.last_ms,
                    });
                    e.count = e.count.saturating_add(t.count);
                    e.first_ms = e.first_ms.min(t.first_ms);
                    e.last_ms = e.last_ms.max(t.last_ms);
                    self.oldest_ms.fetch_min(e.first_ms, Ordering::Relaxed);
                }
                Err(e)
            }
        }
    }
}

fn to_record(k: &OwnedKey, t: &Tally) -> AuditRecord {
    AuditRecord {
        time_ms: t.first_ms,
        last_ms: t.last_ms,
        count: t.count,
        category: Category::Data,
        pid: std::process::id(),
        principal: k.principal.clone(),
        session: k.session,
        function: k.function.to_string(),
        mechanism: k.mechanism,
        key_uid: Some(k.key_uid.clone()),
        key_version: k.key_version,
        context: k.context.as_deref().map(render_context),
        rv: k.rv,
        reason: k.reason.clone(),
        ..AuditRecord::default()
    }
}

/// The data record of one event (per-call mode).
pub(crate) fn data_record(ev: &DataEvent<'_>, now_ms: i64) -> AuditRecord {
    let mut r = AuditRecord::new(Category::Data, ev.function, ev.principal, ev.session);
    r.time_ms = now_ms;
    r.last_ms = now_ms;
    r.mechanism = ev.mechanism;
    r.key_uid = Some(ev.key_uid.to_string());
    r.key_version = ev.key_version;
    r.context = ev.context.map(render_context);
    r.rv = ev.rv;
    r.reason = ev.reason.to_string();
    r
}

/// One slot's auditing: its mode, its retention and its aggregator. The module
/// keeps one per token and calls it from the hooks listed in `docs/audit.md`.
#[derive(Debug)]
pub(crate) struct Auditor {
    mode: AuditMode,
    retention: Retention,
    agg: Aggregator,
    last_prune_ms: AtomicI64,
}

impl Auditor {
    /// The auditor of a slot.
    pub(crate) fn new(cfg: &SlotConfig) -> Auditor {
        Auditor::with(
            cfg.audit,
            Retention {
                max_records: cfg.audit_max_records,
                max_age_days: cfg.audit_max_age_days,
            },
        )
    }

    /// An auditor with explicit settings.
    pub(crate) fn with(mode: AuditMode, retention: Retention) -> Auditor {
        Auditor {
            mode,
            retention,
            agg: Aggregator::new(),
            last_prune_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// The data-event mode.
    pub(crate) fn mode(&self) -> AuditMode {
        self.mode
    }

    /// The aggregator (aggregate mode).
    pub(crate) fn aggregator(&self) -> &Aggregator {
        &self.agg
    }

    /// Records one use of a key: aggregated, appended at once (per-call), or
    /// dropped (off). Then flushes what is due. A failure to write is logged, never
    /// turned into the call's result (the key use itself succeeded or failed).
    pub(crate) fn data(&self, store: &Store, ev: DataEvent<'_>, now_ms: i64) {
        match self.mode {
            AuditMode::Off => {}
            AuditMode::PerCall => {
                let r = data_record(&ev, now_ms);
                if let Err(e) = store.append_audit(std::slice::from_ref(&r)) {
                    log::error!("audit: cannot record {}: {e}", ev.function);
                }
            }
            AuditMode::Aggregate => self.agg.record(ev, now_ms),
        }
        self.tick(store, now_ms);
    }

    /// What every call does first: flushes aggregates that are due and applies the
    /// retention limits (at most once a minute). Cheap when nothing is due.
    pub(crate) fn tick(&self, store: &Store, now_ms: i64) {
        if let Err(e) = self.agg.flush_due(store, now_ms) {
            log::error!("audit: cannot flush data events: {e}");
        }
        self.maybe_prune(store, now_ms);
    }

    /// Appends `records` (management) with the session's aggregated key uses
    /// in one transaction; durable when it returns `Ok`.
    pub(crate) fn session_records(
        &self,
        store: &Store,
        session: u64,
        records: &[AuditRecord],
    ) -> Result<()> {
        match self.mode {
            AuditMode::Aggregate => self
                .agg
                .flush_session_with(store, session, records)
                .map(|_| ()),
            _ => store.append_audit(records).map(|_| ()),
        }
    }

    /// Flushes one session's aggregates (`C_CloseSession`).
    pub(crate) fn session_closed(&self, store: &Store, session: u64) {
        if let Err(e) = self.agg.flush_session(store, session) {
            log::error!("audit: cannot flush data events of session {session}: {e}");
        }
    }

    /// Flushes everything (`C_Finalize`, `C_CloseAllSessions`, `C_Logout`).
    pub(crate) fn flush_all(&self, store: &Store) {
        if let Err(e) = self.agg.flush_all(store) {
            log::error!("audit: cannot flush data events: {e}");
        }
    }

    /// Appends management records that go with no store change (a refused call),
    /// durably. Unlike data events, a failure here is returned: the caller must not
    /// report success for a management call whose record is not durable.
    pub(crate) fn management(&self, store: &Store, records: &[AuditRecord]) -> Result<()> {
        store.append_audit(records).map(|_| ())
    }

    fn maybe_prune(&self, store: &Store, now_ms: i64) {
        if self.retention == Retention::default() {
            return;
        }
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < PRUNE_EVERY_MS {
            return;
        }
        if self
            .last_prune_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if let Err(e) = store.prune_audit(&self.retention, now_ms) {
            log::error!("audit: cannot apply retention: {e}");
        }
    }
}

/// The name of a `CK_RV` (`CKR_…`), or its hex value.
pub fn rv_name(rv: CK_RV) -> String {
    use cryptoki_sys::*;
    let name = match rv {
        CKR_OK => "CKR_OK",
        CKR_ARGUMENTS_BAD => "CKR_ARGUMENTS_BAD",
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_FUNCTION_FAILED => "CKR_FUNCTION_FAILED",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_DATA_INVALID => "CKR_DATA_INVALID",
        CKR_ENCRYPTED_DATA_INVALID => "CKR_ENCRYPTED_DATA_INVALID",
        CKR_KEY_HANDLE_INVALID => "CKR_KEY_HANDLE_INVALID",
        CKR_KEY_FUNCTION_NOT_PERMITTED => "CKR_KEY_FUNCTION_NOT_PERMITTED",
        CKR_MECHANISM_INVALID => "CKR_MECHANISM_INVALID",
        CKR_MECHANISM_PARAM_INVALID => "CKR_MECHANISM_PARAM_INVALID",
        CKR_OBJECT_HANDLE_INVALID => "CKR_OBJECT_HANDLE_INVALID",
        CKR_ATTRIBUTE_READ_ONLY => "CKR_ATTRIBUTE_READ_ONLY",
        CKR_ATTRIBUTE_VALUE_INVALID => "CKR_ATTRIBUTE_VALUE_INVALID",
        CKR_ACTION_PROHIBITED => "CKR_ACTION_PROHIBITED",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_PIN_LOCKED => "CKR_PIN_LOCKED",
        CKR_PIN_INVALID => "CKR_PIN_INVALID",
        CKR_PIN_LEN_RANGE => "CKR_PIN_LEN_RANGE",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_SIGNATURE_INVALID => "CKR_SIGNATURE_INVALID",
        CKR_TEMPLATE_INCOMPLETE => "CKR_TEMPLATE_INCOMPLETE",
        CKR_TEMPLATE_INCONSISTENT => "CKR_TEMPLATE_INCONSISTENT",
        CKR_TOKEN_NOT_RECOGNIZED => "CKR_TOKEN_NOT_RECOGNIZED",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_USER_PIN_NOT_INITIALIZED => "CKR_USER_PIN_NOT_INITIALIZED",
        CKR_USER_ALREADY_LOGGED_IN => "CKR_USER_ALREADY_LOGGED_IN",
        CKR_USER_TYPE_INVALID => "CKR_USER_TYPE_INVALID",
        CKR_KEY_TYPE_INCONSISTENT => "CKR_KEY_TYPE_INCONSISTENT",
        _ => return format!("0x{rv:08x}"),
    };
    name.to_string()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `2026-01-02T03:04:05.678Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let s = crate::clock::rfc3339(ms.div_euclid(1000));
    let frac = ms.rem_euclid(1000);
    match s.strip_suffix('Z') {
        Some(base) => format!("{base}.{frac:03}Z"),
        None => s,
    }
}

/// A record as one CloudTrail-like JSON object (`docs/audit.md`), with
/// mechanisms named by `mechanism_name` (the registry's names live above this
/// layer: `module::audit_json` passes them).
pub fn to_json(r: &AuditRecord, mechanism_name: &dyn Fn(u64) -> String) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let mut req = Map::new();
    if let Some(k) = &r.key_uid {
        req.insert("keyId".into(), json!(k));
    }
    if let Some(v) = r.key_version {
        req.insert("keyVersion".into(), json!(v));
    }
    if let Some(c) = &r.context {
        req.insert("encryptionContext".into(), json!(c));
    }
    if let Some(m) = r.mechanism {
        req.insert("mechanism".into(), json!(mechanism_name(m)));
    }
    let identity_type = match r.principal.as_str() {
        "so" => "SecurityOfficer",
        "user" => "User",
        "" => "Anonymous",
        _ => "Principal",
    };
    let mut o = Map::new();
    o.insert("eventVersion".into(), json!("1.0"));
    o.insert("eventSource".into(), json!("softkms"));
    o.insert("sequence".into(), json!(r.seq));
    o.insert("eventTime".into(), json!(rfc3339_ms(r.time_ms)));
    o.insert("eventName".into(), json!(r.function));
    o.insert("eventCategory".into(), json!(r.category.name()));
    o.insert(
        "userIdentity".into(),
        json!({"type": identity_type, "principalId": r.principal}),
    );
    o.insert("processId".into(), json!(r.pid));
    o.insert("sessionHandle".into(), json!(r.session));
    o.insert("requestParameters".into(), Value::Object(req));
    o.insert("returnValue".into(), json!(rv_name(r.rv)));
    if r.rv != 0 {
        o.insert("errorCode".into(), json!(rv_name(r.rv)));
    }
    if !r.reason.is_empty() {
        o.insert(
            if r.rv != 0 { "errorMessage" } else { "reason" }.into(),
            json!(r.reason),
        );
    }
    if r.category == Category::Data {
        o.insert("eventCount".into(), json!(r.count));
        o.insert("lastEventTime".into(), json!(rfc3339_ms(r.last_ms)));
    }
    o.insert("previousHash".into(), json!(hex(&r.prev_hash)));
    o.insert("hash".into(), json!(hex(&r.hash)));
    Value::Object(o)
}

/// A chain hash in hex.
pub(crate) fn hash_hex(h: &Hash) -> String {
    hex(h)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
