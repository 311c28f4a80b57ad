//! The token-wide integrity root (docs/security.md, "Integrity root").
//!
//! Every row that decides what SoftKMS does is an *entry* of a set: each object
//! row (uid, generation), each tombstone (uid, generation), each principal row
//! (name, KDF parameters, salt, wrapped TMK; not the failed-login count), each
//! per-key counter (uid, next value) and the audit retention anchor (sequence,
//! hash). An entry's value is an HMAC under the TMK's MAC subkey, truncated to
//! 128 bits; entries are spread over [`BUCKETS`] buckets by an unkeyed hash of
//! (kind, id), and a bucket's digest is the XOR of its entries' values, except
//! principals, which are few and each keep their own digest (so a damaged
//! principal row can be replaced by the SO). The meta row keeps the digests
//! (`root`) and an HMAC over them, the token uuid and the epoch (`root_mac`).
//!
//! Each write transaction goes through [`RootTx`], which XORs the old entry of
//! every covered row it replaces or removes out of the digest and the new one in,
//! then re-MACs the root: O(rows written), not O(token). A check
//! ([`Snapshot::check`]) recomputes every bucket from the file; a bucket whose
//! digest differs holds a row that was replayed, re-inserted or edited in its
//! generation, or lost a row: its rows are refused and named in the log, the other
//! buckets keep working, and since later writes apply their own deltas, a bad
//! bucket stays bad (it is never "repaired" by a rewrite).
//!
//! Rows written without the TMK (public objects made before login, their
//! tombstones) are *pending*: an object row with no MAC, a tombstone with
//! `pending = 1`. They are outside the digest until the next load with the TMK
//! checks and folds them in. Without the TMK, a covered row can be neither
//! replaced nor deleted (`CKR_USER_NOT_LOGGED_IN`), so stripping a covered row's
//! MAC removes its entry from the digest and is detected.

use super::backend::{AttemptRow, MetaRow, ObjectRow, PrincipalRow, TokenRow, Tx};
use super::Keys;
use crate::crypto::seal::MacKey;
use crate::error::{Error, Result};
use crate::store::audit::{AuditRecord, ChainPoint};

/// How many buckets the root has.
pub(crate) const BUCKETS: usize = 64;
/// Bytes of a bucket digest.
const DIGEST: usize = 16;
/// Bytes of the stored root.
const ROOT_LEN: usize = BUCKETS * DIGEST;

const ENTRY: &[u8] = b"softkms/v1/root-entry";
const ROOT: &[u8] = b"softkms/v1/root";
/// The plaintext of the token check value of a token that keeps a root.
pub(crate) const ROOTED: &[u8] = b"softkms/v1/rooted";

/// What kind of row an entry stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Tombstone,
    Principal,
    Counter,
    Anchor,
}

impl Kind {
    fn tag(self) -> &'static [u8] {
        match self {
            Kind::Object => b"object",
            Kind::Tombstone => b"tombstone",
            Kind::Principal => b"principal",
            Kind::Counter => b"counter",
            Kind::Anchor => b"anchor",
        }
    }

    /// How the log names a row of this kind.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Tombstone => "tombstone",
            Kind::Principal => "principal",
            Kind::Counter => "counter",
            Kind::Anchor => "audit anchor",
        }
    }
}

/// The bucket of a row: FNV-1a over (kind, id). Not secret: it only spreads rows.
pub(crate) fn bucket(kind: Kind, id: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.tag().iter().chain([0u8].iter()).chain(id.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    usize::try_from(h % BUCKETS as u64).unwrap_or(0)
}

/// One entry: its bucket and value.
fn entry(mac: &MacKey, kind: Kind, id: &str, parts: &[&[u8]]) -> Result<(usize, [u8; DIGEST])> {
    let mut all: Vec<&[u8]> = Vec::with_capacity(3 + parts.len());
    all.extend_from_slice(&[ENTRY, kind.tag(), id.as_bytes()]);
    all.extend_from_slice(parts);
    let m = mac.mac(&all)?;
    let mut d = [0u8; DIGEST];
    d.copy_from_slice(&m[..DIGEST]);
    Ok((bucket(kind, id), d))
}

fn object_entry(mac: &MacKey, uid: &str, generation: u64) -> Result<(usize, [u8; DIGEST])> {
    entry(mac, Kind::Object, uid, &[&generation.to_be_bytes()])
}

fn tombstone_entry(mac: &MacKey, uid: &str, generation: u64) -> Result<(usize, [u8; DIGEST])> {
    entry(mac, Kind::Tombstone, uid, &[&generation.to_be_bytes()])
}

fn principal_entry(mac: &MacKey, p: &PrincipalRow) -> Result<(usize, [u8; DIGEST])> {
    let mut cost = Vec::with_capacity(12);
    for v in [p.m_cost_kib, p.t_cost, p.p_cost] {
        cost.extend_from_slice(&v.to_be_bytes());
    }
    entry(
        mac,
        Kind::Principal,
        &p.name,
        &[&cost, &p.salt, &p.wrapped_tmk],
    )
}

fn counter_entry(mac: &MacKey, uid: &str, next: u64) -> Result<(usize, [u8; DIGEST])> {
    entry(mac, Kind::Counter, uid, &[&next.to_be_bytes()])
}

fn anchor_entry(mac: &MacKey, a: &ChainPoint) -> Result<(usize, [u8; DIGEST])> {
    entry(mac, Kind::Anchor, "", &[&a.seq.to_be_bytes(), &a.hash])
}

/// Bucket digests, and one digest per principal (principals are few, and a
/// principal row must be replaceable when it is damaged: the SO's `C_InitPIN`
/// after a damaged wrapped key sets the new row's digest whatever the old one).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Root(
    [[u8; DIGEST]; BUCKETS],
    std::collections::BTreeMap<String, [u8; DIGEST]>,
);

impl Root {
    fn empty() -> Root {
        Root([[0; DIGEST]; BUCKETS], std::collections::BTreeMap::new())
    }

    /// The buckets, then per principal a length byte, the name and its digest.
    fn from_bytes(b: &[u8]) -> Option<Root> {
        if b.len() < ROOT_LEN {
            return None;
        }
        let (buckets, mut rest) = b.split_at(ROOT_LEN);
        let mut r = Root::empty();
        for (d, c) in r.0.iter_mut().zip(buckets.chunks_exact(DIGEST)) {
            d.copy_from_slice(c);
        }
        while let Some((&n, tail)) = rest.split_first() {
            let n = usize::from(n);
            if tail.len() < n + DIGEST {
                return None;
            }
            let name = std::str::from_utf8(&tail[..n]).ok()?.to_string();
            let mut d = [0u8; DIGEST];
            d.copy_from_slice(&tail[n..n + DIGEST]);
            r.1.insert(name, d);
            rest = &tail[n + DIGEST..];
        }
        Some(r)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.0.iter().flatten().copied().collect();
        for (name, d) in &self.1 {
            out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(d);
        }
        out
    }

    fn xor(&mut self, (b, d): (usize, [u8; DIGEST])) {
        if let Some(slot) = self.0.get_mut(b) {
            for (x, y) in slot.iter_mut().zip(d) {
                *x ^= y;
            }
        }
    }

    fn merge(&mut self, other: &Root, principals: &[(String, Option<[u8; DIGEST]>)]) {
        for (b, d) in other.0.iter().enumerate() {
            self.xor((b, *d));
        }
        for (name, d) in principals {
            match d {
                Some(d) => self.1.insert(name.clone(), *d),
                None => self.1.remove(name),
            };
        }
    }

    fn mac(&self, mac: &MacKey, token: &TokenRow, epoch: u64) -> Result<Vec<u8>> {
        Ok(mac
            .mac(&[ROOT, &token.uuid, &epoch.to_be_bytes(), &self.to_bytes()])?
            .to_vec())
    }
}

/// The stored root, if it is there and its MAC verifies.
fn stored_root(tx: &mut dyn Tx, mac: &MacKey, meta: &MetaRow) -> Result<Option<Root>> {
    let Some(token) = meta.token.as_ref() else {
        return Ok(None);
    };
    let (root, tag) = tx.root()?;
    let (Some(root), Some(tag)) = (root, tag) else {
        return Ok(None);
    };
    let Some(r) = Root::from_bytes(&root) else {
        return Ok(None);
    };
    let ok = mac.verify(&[ROOT, &token.uuid, &meta.epoch.to_be_bytes(), &root], &tag);
    Ok(ok.then_some(r))
}

/// Everything the root covers, as read in one transaction.
pub(crate) struct Snapshot {
    objects: Vec<(String, u64, bool)>,
    tombstones: Vec<(String, u64, bool)>,
    principals: Vec<PrincipalRow>,
    counters: Vec<(String, u64)>,
    anchor: ChainPoint,
    root: crate::store::backend::StoredRoot,
}

/// What a check found.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// False: the root is missing or fails its MAC; nothing can be trusted.
    pub root_ok: bool,
    /// Buckets whose digest does not match the file.
    pub bad: Vec<bool>,
    /// The rows in bad buckets, as (kind, id), for the log and the refusals.
    pub suspects: Vec<(Kind, String)>,
    /// Principals whose row does not match its digest, or that the root does
    /// not know, or that the root knows but the file lacks.
    pub bad_principals: Vec<String>,
}

impl Verdict {
    /// Whether the row (kind, id) must be refused.
    pub(crate) fn refuses(&self, kind: Kind, id: &str) -> bool {
        if kind == Kind::Principal {
            return !self.root_ok || self.bad_principals.iter().any(|p| p == id);
        }
        !self.root_ok || self.bad.get(bucket(kind, id)).copied().unwrap_or(true)
    }
}

impl Snapshot {
    /// Reads what the root covers.
    pub(crate) fn read(tx: &mut dyn Tx) -> Result<Snapshot> {
        Self::read_with(tx, None)
    }

    /// [`Snapshot::read`], with the object index (uid, generation, has a MAC)
    /// given when the caller has just read every object row in the same
    /// transaction (a full load: one scan of the table instead of two).
    pub(crate) fn read_with(
        tx: &mut dyn Tx,
        objects: Option<Vec<(String, u64, bool)>>,
    ) -> Result<Snapshot> {
        let objects = match objects {
            Some(o) => o,
            None => tx.object_index()?,
        };
        let mut principals = Vec::new();
        for name in tx.principal_names()? {
            if let Some(p) = tx.principal(&name)? {
                principals.push(p);
            }
        }
        Ok(Snapshot {
            objects,
            tombstones: tx.tombstone_index()?,
            principals,
            counters: tx.counter_index()?,
            anchor: tx.audit_anchor()?,
            root: tx.root()?,
        })
    }

    /// The digests of every covered row (pending rows left out).
    fn digests(&self, mac: &MacKey) -> Result<Root> {
        let mut r = Root::empty();
        for (uid, g, has_mac) in &self.objects {
            if *has_mac {
                r.xor(object_entry(mac, uid, *g)?);
            }
        }
        for (uid, g, pending) in &self.tombstones {
            if !pending {
                r.xor(tombstone_entry(mac, uid, *g)?);
            }
        }
        for p in &self.principals {
            r.1.insert(p.name.clone(), principal_entry(mac, p)?.1);
        }
        for (uid, next) in &self.counters {
            r.xor(counter_entry(mac, uid, *next)?);
        }
        r.xor(anchor_entry(mac, &self.anchor)?);
        Ok(r)
    }

    /// Compares the file with its root.
    pub(crate) fn check(&self, mac: &MacKey, meta: &MetaRow) -> Result<Verdict> {
        let computed = self.digests(mac)?;
        let stored = match (meta.token.as_ref(), &self.root) {
            (Some(token), (Some(root), Some(tag))) => Root::from_bytes(root)
                .filter(|_| mac.verify(&[ROOT, &token.uuid, &meta.epoch.to_be_bytes(), root], tag)),
            _ => None,
        };
        let mut v = Verdict {
            root_ok: stored.is_some(),
            bad: vec![true; BUCKETS],
            suspects: Vec::new(),
            bad_principals: Vec::new(),
        };
        if let Some(stored) = &stored {
            for (b, bad) in v.bad.iter_mut().enumerate() {
                *bad = stored.0[b] != computed.0[b];
            }
            let names: std::collections::BTreeSet<&String> =
                stored.1.keys().chain(computed.1.keys()).collect();
            v.bad_principals = names
                .into_iter()
                .filter(|n| stored.1.get(*n) != computed.1.get(*n))
                .cloned()
                .collect();
        }
        let mut rows: Vec<(Kind, String)> = Vec::new();
        rows.extend(self.objects.iter().map(|o| (Kind::Object, o.0.clone())));
        rows.extend(
            self.tombstones
                .iter()
                .map(|t| (Kind::Tombstone, t.0.clone())),
        );
        rows.extend(
            self.principals
                .iter()
                .map(|p| (Kind::Principal, p.name.clone())),
        );
        if let Some(stored) = &stored {
            // A principal the root knows but the file lacks (a deleted row).
            for name in stored.1.keys() {
                if !self.principals.iter().any(|p| &p.name == name) {
                    rows.push((Kind::Principal, name.clone()));
                }
            }
        }
        rows.extend(self.counters.iter().map(|c| (Kind::Counter, c.0.clone())));
        rows.push((Kind::Anchor, String::new()));
        v.suspects = rows
            .into_iter()
            .filter(|(k, id)| v.refuses(*k, id))
            .collect();
        Ok(v)
    }

    /// The pending tombstones, as (uid, generation).
    pub(crate) fn pending_tombstones(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.tombstones
            .iter()
            .filter(|t| t.2)
            .map(|(u, g, _)| (u.clone(), *g))
    }

    /// The root of this snapshot as it stands (for a token that had none).
    pub(crate) fn fresh_root(&self, mac: &MacKey) -> Result<Root> {
        self.digests(mac)
    }
}

/// Stores `root` with its MAC.
pub(crate) fn store_root(
    tx: &mut dyn Tx,
    mac: &MacKey,
    token: &TokenRow,
    epoch: u64,
    root: &Root,
) -> Result<()> {
    let tag = root.mac(mac, token, epoch)?;
    tx.set_root(Some(&root.to_bytes()), Some(&tag))
}

/// A write transaction that keeps the root current: see the module doc.
pub(crate) struct RootTx<'a> {
    inner: &'a mut dyn Tx,
    keys: Option<&'a Keys>,
    delta: Root,
    /// Principal digests to set (`None`: remove), in order.
    principals: Vec<(String, Option<[u8; DIGEST]>)>,
    touched: bool,
    reset: bool,
}

fn no_key(what: &str) -> Error {
    ::log::info!("refused without the master key: {what}");
    Error::UserNotLoggedIn
}

impl<'a> RootTx<'a> {
    /// Wraps `inner`; `keys` are the TMK's subkeys when this process has them.
    pub(crate) fn new(inner: &'a mut dyn Tx, keys: Option<&'a Keys>) -> RootTx<'a> {
        RootTx {
            inner,
            keys,
            delta: Root::empty(),
            principals: Vec::new(),
            touched: false,
            reset: false,
        }
    }

    /// The MAC subkey for a change of covered rows; `None` while the token is
    /// not initialized (nothing is covered then).
    fn mac(&mut self, what: &str) -> Result<Option<&'a MacKey>> {
        if let Some(k) = self.keys {
            return Ok(Some(&k.mac));
        }
        if self.reset || self.inner.meta()?.token.is_none() {
            return Ok(None);
        }
        Err(no_key(what))
    }

    fn apply(&mut self, e: (usize, [u8; DIGEST])) {
        self.delta.xor(e);
        self.touched = true;
    }

    /// Folds a pending object row (written without the TMK, checked since) into
    /// the root with its MAC; false when the row changed meanwhile.
    pub(crate) fn fold_object(&mut self, uid: &str, generation: u64, tag: &[u8]) -> Result<bool> {
        let Some(mac) = self.mac("folding an object")? else {
            return Ok(false);
        };
        if !self.inner.set_object_mac(uid, generation, tag)? {
            return Ok(false);
        }
        self.apply(object_entry(mac, uid, generation)?);
        Ok(true)
    }

    /// Folds a pending tombstone into the root.
    pub(crate) fn fold_tombstone(&mut self, uid: &str, generation: u64) -> Result<bool> {
        let Some(mac) = self.mac("folding a tombstone")? else {
            return Ok(false);
        };
        if self.inner.tombstone_state(uid)? != Some((generation, true)) {
            return Ok(false);
        }
        self.inner.set_tombstone_pending(uid, false)?;
        self.apply(tombstone_entry(mac, uid, generation)?);
        Ok(true)
    }

    /// Takes a covered tombstone of `uid` out of the root (it is about to go).
    fn drop_tombstone(&mut self, uid: &str) -> Result<()> {
        if let Some((g, false)) = self.inner.tombstone_state(uid)? {
            if let Some(mac) = self.mac("replacing a tombstone")? {
                self.apply(tombstone_entry(mac, uid, g)?);
            }
        }
        Ok(())
    }

    /// Writes the root after the changes (call before the commit).
    pub(crate) fn finish(self) -> Result<()> {
        if self.reset {
            // Re-initialized: `Store::rebuild_root` makes the new root.
            return self.inner.set_root(None, None);
        }
        if !self.touched {
            return Ok(());
        }
        let keys = self.keys.ok_or_else(|| no_key("changing covered rows"))?;
        let meta = self.inner.meta()?;
        let token = meta.token.clone().ok_or(Error::TokenNotInitialized)?;
        let Some(mut root) = stored_root(self.inner, &keys.mac, &meta)? else {
            if !keys.rooted && self.inner.root()?.0.is_none() {
                // A token from before roots: `Store::rebuild_root` adopts it.
                return Ok(());
            }
            ::log::error!("integrity root missing or fails its MAC: write refused");
            return Err(Error::Device(
                "the token's integrity root is missing or fails its MAC".into(),
            ));
        };
        root.merge(&self.delta, &self.principals);
        store_root(self.inner, &keys.mac, &token, meta.epoch, &root)
    }
}

impl Tx for RootTx<'_> {
    fn commit(self: Box<Self>) -> Result<()> {
        Err(Error::General("RootTx is committed by its owner".into()))
    }
    fn meta(&mut self) -> Result<MetaRow> {
        self.inner.meta()
    }
    fn set_generation(&mut self, generation: u64) -> Result<()> {
        self.inner.set_generation(generation)
    }
    fn set_tombstone_floor(&mut self, floor: u64) -> Result<()> {
        self.inner.set_tombstone_floor(floor)
    }
    fn set_token(&mut self, epoch: u64, token: &TokenRow) -> Result<()> {
        self.reset = true;
        self.inner.set_token(epoch, token)
    }
    fn wipe(&mut self) -> Result<()> {
        self.reset = true;
        self.inner.wipe()
    }
    fn principal(&mut self, name: &str) -> Result<Option<PrincipalRow>> {
        self.inner.principal(name)
    }
    fn principal_names(&mut self) -> Result<Vec<String>> {
        self.inner.principal_names()
    }
    // Login attempts in flight are bookkeeping, like the failed-login count:
    // not covered by the root.
    fn login_attempts(&mut self, principal: &str) -> Result<Vec<AttemptRow>> {
        self.inner.login_attempts(principal)
    }
    fn add_login_attempt(&mut self, row: &AttemptRow) -> Result<i64> {
        self.inner.add_login_attempt(row)
    }
    fn delete_login_attempt(&mut self, id: i64) -> Result<bool> {
        self.inner.delete_login_attempt(id)
    }
    fn delete_login_attempts(&mut self, principal: &str) -> Result<usize> {
        self.inner.delete_login_attempts(principal)
    }
    fn put_principal(&mut self, row: &PrincipalRow) -> Result<()> {
        if let Some(mac) = self.mac("changing a principal")? {
            let d = principal_entry(mac, row)?.1;
            self.principals.push((row.name.clone(), Some(d)));
            self.touched = true;
        }
        self.inner.put_principal(row)
    }
    fn set_failed_logins(&mut self, name: &str, count: u32) -> Result<bool> {
        self.inner.set_failed_logins(name, count)
    }
    fn delete_principal(&mut self, name: &str) -> Result<bool> {
        if self.inner.principal(name)?.is_some() && self.mac("removing a principal")?.is_some() {
            self.principals.push((name.to_string(), None));
            self.touched = true;
        }
        self.inner.delete_principal(name)
    }
    fn object_exists(&mut self, uid: &str) -> Result<bool> {
        self.inner.object_exists(uid)
    }
    fn object_generation(&mut self, uid: &str) -> Result<Option<u64>> {
        self.inner.object_generation(uid)
    }
    fn objects_since(
        &mut self,
        generation: Option<u64>,
        public_only: bool,
    ) -> Result<Vec<ObjectRow>> {
        self.inner.objects_since(generation, public_only)
    }
    fn put_object(&mut self, row: &ObjectRow) -> Result<()> {
        let old = self.inner.object_state(&row.uid)?;
        match (&row.mac, old) {
            (None, Some((_, true))) => {
                return Err(no_key("replacing an authenticated object row"));
            }
            (None, _) => {
                if self.inner.tombstone_state(&row.uid)?.is_some_and(|t| !t.1) {
                    return Err(no_key("re-creating a deleted object"));
                }
            }
            (Some(_), old) => {
                if let Some(mac) = self.mac("writing an object")? {
                    if let Some((g, true)) = old {
                        self.apply(object_entry(mac, &row.uid, g)?);
                    }
                    self.apply(object_entry(mac, &row.uid, row.generation)?);
                }
                self.drop_tombstone(&row.uid)?;
            }
        }
        self.inner.put_object(row)
    }
    fn set_object_mac(&mut self, uid: &str, generation: u64, mac: &[u8]) -> Result<bool> {
        self.fold_object(uid, generation, mac)
    }
    fn delete_object(&mut self, uid: &str, generation: u64) -> Result<bool> {
        let Some((g, covered)) = self.inner.object_state(uid)? else {
            return Ok(false);
        };
        self.drop_tombstone(uid)?;
        let keys = if self.reset { None } else { self.keys };
        match keys.map(|k| &k.mac) {
            Some(mac) => {
                if covered {
                    self.apply(object_entry(mac, uid, g)?);
                }
                self.apply(tombstone_entry(mac, uid, generation)?);
                self.inner.delete_object(uid, generation)
            }
            None if covered => Err(no_key("deleting an authenticated object row")),
            None => {
                let done = self.inner.delete_object(uid, generation)?;
                self.inner.set_tombstone_pending(uid, true)?;
                Ok(done)
            }
        }
    }
    fn tombstones_since(&mut self, generation: u64) -> Result<Vec<String>> {
        self.inner.tombstones_since(generation)
    }
    fn prune_tombstones(&mut self, generation: u64) -> Result<usize> {
        for (uid, g, pending) in self.inner.tombstone_index()? {
            if g <= generation && !pending {
                if let Some(mac) = self.mac("pruning tombstones")? {
                    self.apply(tombstone_entry(mac, &uid, g)?);
                }
            }
        }
        self.inner.prune_tombstones(generation)
    }
    fn audit_head(&mut self) -> Result<ChainPoint> {
        self.inner.audit_head()
    }
    fn set_audit_head(&mut self, head: &ChainPoint) -> Result<()> {
        self.inner.set_audit_head(head)
    }
    fn audit_anchor(&mut self) -> Result<ChainPoint> {
        self.inner.audit_anchor()
    }
    fn set_audit_anchor(&mut self, anchor: &ChainPoint) -> Result<()> {
        if let Some(mac) = self.mac("moving the audit anchor")? {
            let old = self.inner.audit_anchor()?;
            self.apply(anchor_entry(mac, &old)?);
            self.apply(anchor_entry(mac, anchor)?);
        }
        self.inner.set_audit_anchor(anchor)
    }
    fn put_audit(&mut self, record: &AuditRecord) -> Result<()> {
        self.inner.put_audit(record)
    }
    fn audit_records(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        self.inner.audit_records(after, limit)
    }
    fn audit_last_before(&mut self, time_ms: i64) -> Result<Option<u64>> {
        self.inner.audit_last_before(time_ms)
    }
    fn audit_last_at_or_below(&mut self, seq: u64) -> Result<Option<ChainPoint>> {
        self.inner.audit_last_at_or_below(seq)
    }
    fn delete_audit_through(&mut self, seq: u64) -> Result<usize> {
        self.inner.delete_audit_through(seq)
    }
    fn counter(&mut self, uid: &str) -> Result<u64> {
        self.inner.counter(uid)
    }
    fn set_counter(&mut self, uid: &str, next: u64) -> Result<()> {
        if let Some(mac) = self.mac("reserving IV counter values")? {
            if let Some(old) = self.inner.counter_row(uid)? {
                self.apply(counter_entry(mac, uid, old)?);
            }
            self.apply(counter_entry(mac, uid, next)?);
        }
        self.inner.set_counter(uid, next)
    }
    fn root(&mut self) -> Result<crate::store::backend::StoredRoot> {
        self.inner.root()
    }
    fn set_root(&mut self, root: Option<&[u8]>, mac: Option<&[u8]>) -> Result<()> {
        self.inner.set_root(root, mac)
    }
    fn object_state(&mut self, uid: &str) -> Result<Option<(u64, bool)>> {
        self.inner.object_state(uid)
    }
    fn object_index(&mut self) -> Result<Vec<(String, u64, bool)>> {
        self.inner.object_index()
    }
    fn replace_object_mac(&mut self, uid: &str, generation: u64, mac: &[u8]) -> Result<bool> {
        self.inner.replace_object_mac(uid, generation, mac)
    }
    fn tombstone_state(&mut self, uid: &str) -> Result<Option<(u64, bool)>> {
        self.inner.tombstone_state(uid)
    }
    fn tombstone_index(&mut self) -> Result<Vec<(String, u64, bool)>> {
        self.inner.tombstone_index()
    }
    fn set_tombstone_pending(&mut self, uid: &str, pending: bool) -> Result<bool> {
        self.inner.set_tombstone_pending(uid, pending)
    }
    fn counter_row(&mut self, uid: &str) -> Result<Option<u64>> {
        self.inner.counter_row(uid)
    }
    fn counter_index(&mut self) -> Result<Vec<(String, u64)>> {
        self.inner.counter_index()
    }
}
