//! The token store: one SQLite file per token, with its secrets sealed.
//!
//! Two layers (DESIGN.md §3):
//! - a plain row [`backend::Backend`] ([`sqlite::SqliteBackend`]: schema,
//!   migrations, transactions; all SQL is in `sqlite.rs`);
//! - the sealing layer, [`Store`]: it turns objects and PINs into sealed or MACed
//!   rows and back, and never hands a caller data that failed authentication.
//!
//! Sealing. Every attribute of a private object, and the secret attributes of a
//! public one, are one AES-256-GCM blob under the TMK's sealing subkey, with an AAD
//! that names the token (its uuid), the object's uid, its private flag and the role
//! `attrs`, so blobs cannot be moved between rows or tokens. Public attributes are in
//! clear (they must be findable before login). Every row written with the TMK, private
//! or public, has an HMAC-SHA256 under the TMK's MAC subkey over the token uuid, uid,
//! private flag, generation, clear blob and sealed blob, and every covered row is an
//! entry of the token's integrity root ([`integrity`], docs/security.md): a row
//! with no MAC is refused, except a public object created before login (pending),
//! which the next load with a TMK checks and folds into the root.
//!
//! PINs. Each principal's PIN gives an Argon2id KEK that wraps the TMK (AAD: token
//! uuid and principal name). Each try is recorded durably as in flight before the
//! KDF runs and counted after it (a success resets the failed-login counter); a
//! try whose process died during the KDF counts as failed (`attempts`).
//!
//! Change detection. Every write transaction increments the meta `generation`;
//! object rows and tombstones carry the generation that wrote them; `epoch` changes
//! when the token is re-initialized. [`Store::has_changed`] costs one
//! `PRAGMA data_version` when nobody else has committed.
//!
//! Locking: one `parking_lot::Mutex` per `Store` around its connection. It is never
//! held while the PIN KDF runs, and nothing else is locked while it is held.

mod attempts;
pub(crate) mod audit;
pub(crate) mod backend;
mod codec;
mod counters;
mod integrity;
mod principals;
pub(crate) mod sqlite;

/// The store's attribute-map codec, for the fuzz targets in `fuzz/` only (not
/// part of the API: the store is the only user of this encoding).
#[doc(hidden)]
pub mod fuzzing {
    use super::AttrMap;
    use zeroize::Zeroizing;

    /// The store codec's decoder: `None` for anything malformed or non-canonical.
    pub fn decode_attrs(b: &[u8]) -> Option<AttrMap> {
        super::codec::decode_attrs(b)
    }

    /// The store codec's encoder.
    pub fn encode_attrs(m: &AttrMap) -> Zeroizing<Vec<u8>> {
        super::codec::encode_attrs(m)
    }
}
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub(crate) use crate::crypto::pinkdf::KdfParams;
pub(crate) use crate::crypto::seal::Tmk;

use crate::crypto::seal::{MacKey, Sealer};
use crate::error::{Error, Result};
/// The attributes of one object, by type, as the store keeps them. Values are
/// wiped when dropped.
pub(crate) type AttrMap =
    std::collections::BTreeMap<cryptoki_sys::CK_ATTRIBUTE_TYPE, zeroize::Zeroizing<Vec<u8>>>;

use backend::{Backend, MetaRow, ObjectRow, TokenRow, Tx, TxMode};
use codec::{decode_attrs, encode_attrs, lp};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use crate::principal::{SO, USER};
/// Longest principal name, in bytes.
pub(crate) const MAX_PRINCIPAL_NAME: usize = 64;
/// Longest token label, in bytes.
pub(crate) const MAX_LABEL: usize = 32;
/// Longest object uid, in bytes.
pub(crate) const MAX_UID: usize = 1024;
/// How many times a read-modify-write of an object is redone after an
/// [`Error::Conflict`] before the caller gives up (each retry means another
/// writer made progress, so this is only reached under sustained contention).
pub(crate) const MAX_CONFLICT_RETRIES: usize = 100;

const AAD_OBJECT: &[u8] = b"softkms/v1/object";
const AAD_TMK_WRAP: &[u8] = b"softkms/v1/tmk-wrap";
const AAD_TMK_CHECK: &[u8] = b"softkms/v1/tmk-check";
const MAC_PUBLIC: &[u8] = b"softkms/v1/public-object-mac";
const MAC_ROW: &[u8] = b"softkms/v2/object-row-mac";
const ROLE_ATTRS: &[u8] = b"attrs";

/// What a guarded write ([`Store::put_object_guarded_audited`]) expects of
/// the row it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// No row with its uid: a new object that must be the only one.
    Absent,
    /// The row written at this generation (the one the caller read).
    At(u64),
}

/// The identity of an initialized token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMeta {
    /// The label given at initialization (at most 32 bytes, not padded).
    pub label: String,
    /// The serial number: 16 upper-case hex digits, new at every initialization.
    pub serial: String,
    /// A random id, new at every initialization.
    pub token_uuid: [u8; 16],
    /// Whether the "user" principal has a PIN.
    pub user_pin_set: bool,
}

/// What the store tells about a principal without its PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    /// Consecutive failed logins.
    pub failed_logins: u32,
    /// The KDF cost of its PIN.
    pub kdf: KdfParams,
}

/// An object to write.
#[derive(Debug, Clone, Default)]
pub struct StoredObject {
    /// The object's unique id (`CKA_UNIQUE_ID`); the row key.
    pub uid: String,
    /// `CKA_PRIVATE`. A private object keeps every attribute in `secret`.
    pub private: bool,
    /// Attributes stored in clear (public objects only).
    pub clear: AttrMap,
    /// Attributes stored sealed (key material; everything of a private object).
    pub secret: AttrMap,
}

/// An object read back.
#[derive(Debug, Clone)]
pub struct LoadedObject {
    /// The object's unique id.
    pub uid: String,
    /// `CKA_PRIVATE`.
    pub private: bool,
    /// The clear attributes (empty for a private object).
    pub clear: AttrMap,
    /// The sealed attributes, `None` when loaded without a TMK.
    pub secret: Option<AttrMap>,
    /// The generation that wrote this object.
    pub generation: u64,
}

/// What changed since a reader last looked.
#[derive(Debug, Clone)]
pub struct Changes {
    /// The token's current epoch.
    pub epoch: u64,
    /// The generation these changes bring the reader to.
    pub generation: u64,
    /// True: `upserts` is the whole token; drop everything cached before.
    pub full: bool,
    /// Objects added or changed.
    pub upserts: Vec<LoadedObject>,
    /// Uids to drop: deleted objects, and objects that can no longer be shown (a
    /// private object when loaded without a TMK, a row that failed authentication).
    pub deleted: Vec<String>,
}

/// What this connection last saw of the meta row.
#[derive(Debug, Clone, Copy)]
struct Seen {
    data_version: i64,
    epoch: u64,
    generation: u64,
}

struct Inner {
    backend: Box<dyn Backend>,
    seen: Option<Seen>,
    /// The TMK's subkeys while this process is logged in to the token: writes
    /// need them to keep the integrity root current.
    keys: Option<Arc<Keys>>,
    /// Rows the last check refused: principal names and counter uids.
    suspect_principals: Vec<String>,
    suspect_counters: Vec<String>,
}

/// One token file. Open one per file per process and share it (it is `Send + Sync`).
pub struct Store {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// The AAD of an object's sealed attribute blob.
fn object_aad(uuid: &[u8; 16], uid: &str, private: bool) -> Vec<u8> {
    lp(&[
        AAD_OBJECT,
        uuid,
        uid.as_bytes(),
        &[u8::from(private)],
        ROLE_ATTRS,
    ])
}

/// The AAD of a principal's wrapped TMK.
fn wrap_aad(uuid: &[u8; 16], name: &str) -> Vec<u8> {
    lp(&[AAD_TMK_WRAP, uuid, name.as_bytes()])
}

fn check_aad(uuid: &[u8; 16]) -> Vec<u8> {
    lp(&[AAD_TMK_CHECK, uuid])
}

/// The MAC of a public object row.
fn object_mac_parts<'a>(
    uuid: &'a [u8; 16],
    uid: &'a str,
    private: &'a [u8; 1],
    clear: &'a [u8],
    sealed: &'a [u8],
) -> [&'a [u8]; 6] {
    [MAC_PUBLIC, uuid, uid.as_bytes(), private, clear, sealed]
}

/// The subkeys of a TMK, checked against the token it is used with.
struct Keys {
    sealer: Sealer,
    mac: MacKey,
    /// Whether the token keeps an integrity root (its check value says so).
    rooted: bool,
}

impl Keys {
    /// Derives the subkeys and checks that `tmk` belongs to this token (a TMK from
    /// before a re-initialization does not): `CKR_USER_NOT_LOGGED_IN` otherwise.
    fn for_token(tmk: &Tmk, token: &TokenRow) -> Result<Keys> {
        let sealer = tmk.sealer()?;
        let Ok(check) = sealer.open(&check_aad(&token.uuid), &token.tmk_check) else {
            return Err(Error::UserNotLoggedIn);
        };
        Ok(Keys {
            sealer,
            mac: tmk.mac_key()?,
            rooted: check.as_slice() == integrity::ROOTED,
        })
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    crate::crypto::random(&mut b)
        .map_err(|e| Error::General(format!("random source failed: {e}")))?;
    Ok(b)
}

fn check_uid(uid: &str) -> Result<()> {
    if uid.is_empty() || uid.len() > MAX_UID {
        return Err(Error::ArgumentsBad);
    }
    Ok(())
}

impl Store {
    /// Opens the token file at `path`, creating it (and its directories) when missing;
    /// a new file is an uninitialized token. A file that is not a SoftKMS token, or
    /// one written by a newer SoftKMS, is `CKR_TOKEN_NOT_RECOGNIZED`; an I/O failure
    /// is `CKR_DEVICE_ERROR`.
    pub fn open(path: &Path) -> Result<Store> {
        let backend = sqlite::SqliteBackend::open(path)?;
        Ok(Store::with_backend(path, Box::new(backend)))
    }

    /// A store over another backend (`path` is only for messages).
    pub fn with_backend(path: &Path, backend: Box<dyn Backend>) -> Store {
        Store {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                backend,
                seen: None,
                keys: None,
                suspect_principals: Vec::new(),
                suspect_counters: Vec::new(),
            }),
        }
    }

    /// The token file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one read transaction.
    fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let mut g = self.inner.lock();
        let mut tx = g.backend.begin(TxMode::Read)?;
        let r = f(&mut *tx)?;
        tx.commit()?;
        Ok(r)
    }

    /// Runs `f` in one write transaction that also increments the generation; `f`
    /// gets the meta row as it was and the new generation. An error from `f` rolls
    /// everything back. Returns `f`'s result and the new generation.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut dyn Tx, &MetaRow, u64) -> Result<R>,
    ) -> Result<(R, u64)> {
        self.write_keyed(None, f)
    }

    /// [`Store::write`] with the caller's TMK, which keeps the integrity root
    /// (and is remembered for later writes of this process).
    fn write_keyed<R>(
        &self,
        tmk: Option<&Tmk>,
        f: impl FnOnce(&mut dyn Tx, &MetaRow, u64) -> Result<R>,
    ) -> Result<(R, u64)> {
        let mut g = self.inner.lock();
        let cached = g.keys.clone();
        let mut tx = g.backend.begin(TxMode::Write)?;
        let meta = tx.meta()?;
        let keys = match (tmk, meta.token.as_ref()) {
            (Some(t), Some(token)) => Some(Arc::new(Keys::for_token(t, token)?)),
            _ => cached,
        };
        let generation = meta
            .generation
            .checked_add(1)
            .ok_or_else(|| Error::General("generation counter overflow".into()))?;
        let mut rtx = integrity::RootTx::new(&mut *tx, keys.as_deref());
        let r = f(&mut rtx, &meta, generation)?;
        rtx.finish()?;
        tx.set_generation(generation)?;
        tx.commit()?;
        if tmk.is_some() && keys.is_some() {
            g.keys = keys;
        }
        // Our own commits do not move our data_version: look again next time.
        g.seen = None;
        Ok((r, generation))
    }

    /// The token's identity, or `None` while it is not initialized.
    pub fn token_meta(&self) -> Result<Option<TokenMeta>> {
        self.read(|tx| {
            let meta = tx.meta()?;
            let Some(t) = meta.token else { return Ok(None) };
            let user_pin_set = tx.principal(USER)?.is_some();
            Ok(Some(TokenMeta {
                label: t.label,
                serial: t.serial,
                token_uuid: t.uuid,
                user_pin_set,
            }))
        })
    }

    /// The current `(epoch, generation)`.
    pub fn version(&self) -> Result<(u64, u64)> {
        self.read(|tx| tx.meta().map(|m| (m.epoch, m.generation)))
    }

    /// Whether anything was committed since the reader saw `since` (epoch,
    /// generation). Cheap: when no other connection has committed since this
    /// store last looked, it costs one `PRAGMA data_version`.
    pub fn has_changed(&self, since: (u64, u64)) -> Result<bool> {
        let mut g = self.inner.lock();
        let dv = g.backend.data_version()?;
        if let Some(s) = g.seen.filter(|s| s.data_version == dv) {
            return Ok((s.epoch, s.generation) != since);
        }
        let mut tx = g.backend.begin(TxMode::Read)?;
        let meta = tx.meta()?;
        tx.commit()?;
        g.seen = Some(Seen {
            data_version: dv,
            epoch: meta.epoch,
            generation: meta.generation,
        });
        Ok((meta.epoch, meta.generation) != since)
    }

    /// Inserts or replaces (by uid) one object; returns the new generation.
    ///
    /// A cache that had seen generation `g` may advance to the returned generation
    /// only when it is `g + 1`; otherwise another process wrote in between and the
    /// cache should call [`Store::changes_since`].
    pub fn put_object(&self, obj: &StoredObject, tmk: Option<&Tmk>) -> Result<u64> {
        self.put_objects(std::slice::from_ref(obj), tmk)
    }

    /// Inserts or replaces many objects in one transaction; returns the new generation.
    /// Sealing `secret` (and every private object) needs the TMK
    /// (`CKR_USER_NOT_LOGGED_IN` without it).
    pub fn put_objects(&self, objs: &[StoredObject], tmk: Option<&Tmk>) -> Result<u64> {
        self.put_objects_with_audit(objs, tmk, &[])
    }

    /// [`Store::put_objects`] that also appends `audit` in the same transaction.
    fn put_objects_with_audit(
        &self,
        objs: &[StoredObject],
        tmk: Option<&Tmk>,
        audit: &[audit::AuditRecord],
    ) -> Result<u64> {
        self.put_objects_if(objs, None, tmk, audit)
    }

    /// Writes objects, all or none. With `base`, a compare-and-swap: every object's
    /// row must still be the one written at generation `base` (the one the caller
    /// read and changed), checked inside the write transaction; a row that another
    /// writer replaced or deleted since is [`Error::Conflict`] and nothing is
    /// written. Without it, rows are inserted or replaced blindly (new objects).
    fn put_objects_if(
        &self,
        objs: &[StoredObject],
        base: Option<u64>,
        tmk: Option<&Tmk>,
        audit: &[audit::AuditRecord],
    ) -> Result<u64> {
        for o in objs {
            check_uid(&o.uid)?;
            if o.private && !o.clear.is_empty() {
                return Err(Error::General(
                    "a private object has clear attributes".into(),
                ));
            }
            if (o.private || !o.secret.is_empty()) && tmk.is_none() {
                return Err(Error::UserNotLoggedIn);
            }
        }
        let ((), generation) = self.write_keyed(tmk, |tx, meta, generation| {
            let token = meta.token.as_ref().ok_or(Error::TokenNotInitialized)?;
            let keys = tmk.map(|t| Keys::for_token(t, token)).transpose()?;
            let keys = keys.as_ref();
            for o in objs {
                if let Some(base) = base {
                    if tx.object_generation(&o.uid)? != Some(base) {
                        return Err(Error::Conflict);
                    }
                }
                tx.put_object(&seal_object(o, token, keys, generation)?)?;
            }
            audit::append_in_tx(tx, audit).map(|_| ())
        })?;
        Ok(generation)
    }

    /// Deletes one object and records its tombstone; `CKR_OBJECT_HANDLE_INVALID`
    /// when there is no such object. Returns the new generation.
    pub fn delete_object(&self, uid: &str) -> Result<u64> {
        self.delete_objects(&[uid])
    }

    /// Deletes many objects in one transaction (all or none); returns the new
    /// generation.
    pub fn delete_objects<S: AsRef<str>>(&self, uids: &[S]) -> Result<u64> {
        self.delete_objects_with_audit(uids, &[])
    }

    /// [`Store::delete_objects`] that also appends `audit` in the same transaction.
    fn delete_objects_with_audit<S: AsRef<str>>(
        &self,
        uids: &[S],
        audit: &[audit::AuditRecord],
    ) -> Result<u64> {
        let ((), generation) = self.write(|tx, _, generation| {
            for uid in uids {
                if !tx.delete_object(uid.as_ref(), generation)? {
                    return Err(Error::ObjectHandleInvalid);
                }
            }
            audit::append_in_tx(tx, audit).map(|_| ())
        })?;
        Ok(generation)
    }

    /// Deletes one object only if its row is still at generation `base`
    /// (`Error::Conflict`, nothing written, when another writer changed or
    /// deleted it since), with its audit records, in one transaction.
    pub(crate) fn delete_object_if_with_audit(
        &self,
        uid: &str,
        base: u64,
        audit: &[audit::AuditRecord],
    ) -> Result<u64> {
        let ((), generation) = self.write(|tx, _, generation| {
            if tx.object_generation(uid)? != Some(base) {
                return Err(Error::Conflict);
            }
            if !tx.delete_object(uid, generation)? {
                return Err(Error::Conflict);
            }
            audit::append_in_tx(tx, audit).map(|_| ())
        })?;
        Ok(generation)
    }

    /// Writes one object with its audit records only if, inside the write
    /// transaction, its row is as `expect` says and every uid of `requires`
    /// names a row: a row that exists where none may is `exists`, a row
    /// changed since `Expect::At` was read is [`Error::Conflict`], a missing
    /// required row is `missing`; nothing is written then. This is what keeps
    /// two writers (threads or processes) from both making an object whose
    /// uid says it is unique (a key alias, `kms::aliases`), or pointing it at
    /// a key another writer just deleted.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn put_object_guarded_audited(
        &self,
        obj: &StoredObject,
        expect: Expect,
        requires: &[&str],
        exists: Error,
        missing: Error,
        tmk: Option<&Tmk>,
        audit: &[audit::AuditRecord],
    ) -> Result<u64> {
        check_uid(&obj.uid)?;
        if obj.private && !obj.clear.is_empty() {
            return Err(Error::General(
                "a private object has clear attributes".into(),
            ));
        }
        if (obj.private || !obj.secret.is_empty()) && tmk.is_none() {
            return Err(Error::UserNotLoggedIn);
        }
        let ((), generation) = self.write_keyed(tmk, |tx, meta, generation| {
            let token = meta.token.as_ref().ok_or(Error::TokenNotInitialized)?;
            let keys = tmk.map(|t| Keys::for_token(t, token)).transpose()?;
            let now = tx.object_generation(&obj.uid)?;
            match expect {
                Expect::Absent if now.is_some() => return Err(exists),
                Expect::At(base) if now != Some(base) => return Err(Error::Conflict),
                _ => {}
            }
            for uid in requires {
                if tx.object_generation(uid)?.is_none() {
                    return Err(missing);
                }
            }
            tx.put_object(&seal_object(obj, token, keys.as_ref(), generation)?)?;
            audit::append_in_tx(tx, audit).map(|_| ())
        })?;
        Ok(generation)
    }

    /// Deletes one object (only if its row is still at generation `base`,
    /// when given: [`Error::Conflict`] otherwise) with its audit records, and
    /// with it each object of `also` that still exists, each with its own
    /// record, in one transaction. An object of `also` another writer deleted
    /// already is no error (nor recorded again).
    pub(crate) fn delete_object_with_audited(
        &self,
        uid: &str,
        base: Option<u64>,
        also: &[(String, audit::AuditRecord)],
        audit: &[audit::AuditRecord],
    ) -> Result<u64> {
        let ((), generation) = self.write(|tx, _, generation| {
            if let Some(base) = base {
                if tx.object_generation(uid)? != Some(base) {
                    return Err(Error::Conflict);
                }
            }
            if !tx.delete_object(uid, generation)? {
                return Err(match base {
                    Some(_) => Error::Conflict,
                    None => Error::ObjectHandleInvalid,
                });
            }
            let mut records = audit.to_vec();
            for (other, rec) in also {
                if tx.delete_object(other, generation)? {
                    records.push(rec.clone());
                }
            }
            audit::append_in_tx(tx, &records).map(|_| ())
        })?;
        Ok(generation)
    }

    /// Forgets tombstones written at or before `generation`. A reader that last
    /// looked at an older generation gets a full reload from then on.
    pub fn prune_tombstones(&self, generation: u64) -> Result<()> {
        self.write(|tx, meta, _| {
            tx.prune_tombstones(generation)?;
            tx.set_tombstone_floor(meta.tombstone_floor.max(generation))
        })
        .map(|_| ())
    }

    /// What changed since `since` (epoch, generation); `None`, another epoch or a
    /// pruned generation give a full load.
    ///
    /// With a TMK, the file is checked against its integrity root
    /// ([`integrity`]), private objects are unsealed and every row's MAC is
    /// checked; a row that fails, or that sits in a bucket of the root that does
    /// not match, is left out (and logged), never returned, never rewritten. A
    /// pending public object (written before login, no MAC) that passes is folded
    /// into the root now. A TMK that does not belong to this token (the token was
    /// re-initialized) is `CKR_USER_NOT_LOGGED_IN`. Without a TMK, private objects
    /// are left out and public ones come with `secret: None`, unauthenticated.
    pub fn changes_since(&self, since: Option<(u64, u64)>, tmk: Option<&Tmk>) -> Result<Changes> {
        let (meta, rows, mut deleted, full, snap) = {
            let mut g = self.inner.lock();
            let dv = g.backend.data_version()?;
            let mut tx = g.backend.begin(TxMode::Read)?;
            let meta = tx.meta()?;
            let full = match since {
                None => true,
                Some((e, gen)) => {
                    e != meta.epoch || gen > meta.generation || gen < meta.tombstone_floor
                }
            };
            let from = if full { None } else { since.map(|s| s.1) };
            // A full load without the master key neither shows nor checks
            // private rows: they are not read at all. (An incremental one
            // reads them, to tell the cache which objects turned private.)
            let rows = tx.objects_since(from, tmk.is_none() && from.is_none())?;
            let deleted = match from {
                Some(gen) => tx.tombstones_since(gen)?,
                None => Vec::new(),
            };
            let snap = match tmk {
                Some(_) if meta.token.is_some() => {
                    // A full load read every object row already.
                    let objects = from.is_none().then(|| {
                        rows.iter()
                            .map(|r| (r.uid.clone(), r.generation, r.mac.is_some()))
                            .collect()
                    });
                    Some(integrity::Snapshot::read_with(&mut *tx, objects)?)
                }
                _ => None,
            };
            tx.commit()?;
            g.seen = Some(Seen {
                data_version: dv,
                epoch: meta.epoch,
                generation: meta.generation,
            });
            (meta, rows, deleted, full, snap)
        };
        let mut changes = Changes {
            epoch: meta.epoch,
            generation: meta.generation,
            full,
            upserts: Vec::new(),
            deleted: Vec::new(),
        };
        let Some(token) = meta.token.as_ref() else {
            changes.deleted = deleted;
            return Ok(changes);
        };
        let keys = match tmk {
            None => {
                self.inner.lock().keys = None;
                None
            }
            Some(t) => {
                let k = Keys::for_token(t, token)?;
                if !k.rooted {
                    // A token from before integrity roots: adopt it once.
                    self.adopt(t)?;
                    return self.changes_since(None, tmk);
                }
                let k = Arc::new(k);
                self.inner.lock().keys = Some(Arc::clone(&k));
                Some(k)
            }
        };
        let verdict = match (&keys, &snap) {
            (Some(k), Some(s)) => Some(s.check(&k.mac, &meta)?),
            _ => None,
        };
        if let Some(v) = &verdict {
            self.report(v);
        }
        let refused = |kind, id: &str| verdict.as_ref().is_some_and(|v| v.refuses(kind, id));
        let mut missing_macs = Vec::new();
        let mut returned = std::collections::HashSet::new();
        for row in rows {
            if !full {
                returned.insert(row.uid.clone());
            }
            let r = if refused(integrity::Kind::Object, &row.uid) {
                Err(Error::TokenNotRecognized(if row.mac.is_none() {
                    "row without a MAC (stripped): it does not match the token's integrity root"
                        .into()
                } else {
                    "does not match the token's integrity root (replayed, re-inserted, \
                     or a row of its bucket was removed)"
                        .into()
                }))
            } else {
                open_object(&row, token, keys.as_deref())
            };
            match r {
                Ok(Some((obj, mac))) => {
                    if let Some(mac) = mac {
                        missing_macs.push((row.uid.clone(), row.generation, mac));
                    }
                    changes.upserts.push(obj);
                }
                Ok(None) => {
                    if !full {
                        deleted.push(row.uid);
                    }
                }
                Err(why) => {
                    ::log::error!(
                        "{}: object {:?} skipped: {why}",
                        self.path.display(),
                        row.uid
                    );
                    if !full {
                        deleted.push(row.uid);
                    }
                }
            }
        }
        let mut pending_tombstones = Vec::new();
        if let (Some(v), Some(s)) = (&verdict, &snap) {
            // Objects this reload did not return but the check now refuses: the
            // cache drops them.
            if !full {
                for (kind, id) in &v.suspects {
                    if *kind == integrity::Kind::Object && !returned.contains(id) {
                        deleted.push(id.clone());
                    }
                }
            }
            pending_tombstones = s
                .pending_tombstones()
                .filter(|(uid, _)| !v.refuses(integrity::Kind::Tombstone, uid))
                .collect();
        }
        changes.deleted = deleted;
        if let Some(k) = &keys {
            if !missing_macs.is_empty() || !pending_tombstones.is_empty() {
                self.fold(k, &missing_macs, &pending_tombstones);
            }
        }
        Ok(changes)
    }

    /// Logs what a check refused, and remembers the refused principals and
    /// counters.
    fn report(&self, v: &integrity::Verdict) {
        let path = self.path.display();
        if !v.root_ok {
            ::log::error!(
                "{path}: the integrity root is missing or fails its MAC: every row is refused"
            );
        } else {
            for (b, bad) in v.bad.iter().enumerate() {
                if *bad {
                    let rows: Vec<String> = v
                        .suspects
                        .iter()
                        .filter(|(k, id)| {
                            *k != integrity::Kind::Principal && integrity::bucket(*k, id) == b
                        })
                        .map(|(k, id)| format!("{} {id:?}", k.name()))
                        .collect();
                    ::log::error!(
                        "{path}: integrity root bucket {b} does not match the file (a row \
                         was edited, replayed, re-inserted or removed): refusing [{}]",
                        rows.join(", ")
                    );
                }
            }
        }
        let mut principals = Vec::new();
        let mut counters = Vec::new();
        for (kind, id) in &v.suspects {
            match kind {
                integrity::Kind::Principal => principals.push(id.clone()),
                integrity::Kind::Counter => counters.push(id.clone()),
                integrity::Kind::Object => {}
                _ => ::log::error!(
                    "{path}: {} {id:?} refused: does not match the integrity root",
                    kind.name()
                ),
            }
        }
        for p in &principals {
            ::log::error!("{path}: principal {p:?} refused: does not match the integrity root");
        }
        let mut g = self.inner.lock();
        g.suspect_principals = principals;
        g.suspect_counters = counters;
    }

    /// Whether the last check refused this principal's row (a replayed PIN row):
    /// a login with it must fail.
    pub fn principal_refused(&self, name: &str) -> bool {
        self.inner
            .lock()
            .suspect_principals
            .iter()
            .any(|p| p == name)
    }

    /// Whether the audit anchor fails the integrity root; false when this
    /// process does not hold the master key (nothing can be checked then).
    pub(crate) fn anchor_refused(&self) -> Result<bool> {
        let mut g = self.inner.lock();
        let Some(keys) = g.keys.clone() else {
            return Ok(false);
        };
        let mut tx = g.backend.begin(TxMode::Read)?;
        let meta = tx.meta()?;
        let snap = integrity::Snapshot::read(&mut *tx)?;
        tx.commit()?;
        Ok(snap
            .check(&keys.mac, &meta)?
            .refuses(integrity::Kind::Anchor, ""))
    }

    /// Checks that `tmk` opens this token and keeps its subkeys for this
    /// process's writes (for tools that write through the store without a
    /// token view: a load with the TMK does the same).
    pub fn authenticate(&self, tmk: &Tmk) -> Result<()> {
        let mut g = self.inner.lock();
        let mut tx = g.backend.begin(TxMode::Read)?;
        let meta = tx.meta()?;
        tx.commit()?;
        let token = meta.token.as_ref().ok_or(Error::TokenNotInitialized)?;
        g.keys = Some(Arc::new(Keys::for_token(tmk, token)?));
        Ok(())
    }

    /// Whether the last check refused this counter's row (a rolled-back counter).
    pub(crate) fn counter_refused(&self, uid: &str) -> bool {
        self.inner.lock().suspect_counters.iter().any(|c| c == uid)
    }

    /// Folds rows written without the TMK, checked since, into the integrity
    /// root. This changes no content, so it does not move the generation. A
    /// failure is logged and retried at the next load.
    fn fold(
        &self,
        keys: &Keys,
        macs: &[(String, u64, [u8; crate::crypto::seal::MAC_LEN])],
        tombstones: &[(String, u64)],
    ) {
        let mut g = self.inner.lock();
        let r = (|| -> Result<()> {
            let mut tx = g.backend.begin(TxMode::Write)?;
            let mut rtx = integrity::RootTx::new(&mut *tx, Some(keys));
            for (uid, generation, mac) in macs {
                if !rtx.fold_object(uid, *generation, mac)? {
                    ::log::info!("object {uid:?} changed since it was checked; not folded");
                }
            }
            for (uid, generation) in tombstones {
                rtx.fold_tombstone(uid, *generation)?;
            }
            rtx.finish()?;
            tx.commit()
        })();
        if let Err(e) = r {
            ::log::warn!(
                "{}: could not fold rows written before login into the integrity root: {e}",
                self.path.display()
            );
        }
    }

    /// [`Store::write`] for `C_InitToken`: after `f` has made the new token
    /// (whose TMK is `tmk`), its integrity root is built from the file in the
    /// same transaction, so no crash leaves a token without one.
    fn write_fresh<R>(
        &self,
        tmk: &Tmk,
        f: impl FnOnce(&mut dyn Tx, &MetaRow, u64) -> Result<R>,
    ) -> Result<(R, u64)> {
        let mut g = self.inner.lock();
        let mut tx = g.backend.begin(TxMode::Write)?;
        let meta = tx.meta()?;
        let generation = meta
            .generation
            .checked_add(1)
            .ok_or_else(|| Error::General("generation counter overflow".into()))?;
        let r = f(&mut *tx, &meta, generation)?;
        let now = tx.meta()?;
        let token = now.token.as_ref().ok_or(Error::TokenNotInitialized)?;
        let keys = Keys::for_token(tmk, token)?;
        let snap = integrity::Snapshot::read(&mut *tx)?;
        let root = snap.fresh_root(&keys.mac)?;
        integrity::store_root(&mut *tx, &keys.mac, token, now.epoch, &root)?;
        tx.set_generation(generation)?;
        tx.commit()?;
        g.keys = Some(Arc::new(keys));
        g.seen = None;
        Ok((r, generation))
    }

    /// Adopts a token written before integrity roots (its check value is the
    /// old, empty one): every row that passes the old checks gets a row MAC,
    /// the root is built from the file as it is, and the check value is
    /// re-sealed to say the token keeps a root. Done once, at the first login.
    fn adopt(&self, tmk: &Tmk) -> Result<()> {
        let mut g = self.inner.lock();
        let mut tx = g.backend.begin(TxMode::Write)?;
        let meta = tx.meta()?;
        let mut token = meta.token.clone().ok_or(Error::TokenNotInitialized)?;
        let keys = Keys::for_token(tmk, &token)?;
        if !keys.rooted {
            for row in tx.objects_since(None, false)? {
                if legacy_ok(&row, &token, &keys) {
                    let mac = row_mac(&keys, &token, &row)?;
                    tx.replace_object_mac(&row.uid, row.generation, &mac)?;
                } else {
                    ::log::error!(
                        "{}: object {:?} fails its checks; not adopted",
                        self.path.display(),
                        row.uid
                    );
                }
            }
            for (uid, _, pending) in tx.tombstone_index()? {
                if pending {
                    tx.set_tombstone_pending(&uid, false)?;
                }
            }
            let snap = integrity::Snapshot::read(&mut *tx)?;
            let root = snap.fresh_root(&keys.mac)?;
            integrity::store_root(&mut *tx, &keys.mac, &token, meta.epoch, &root)?;
            token.tmk_check = keys
                .sealer
                .seal(&check_aad(&token.uuid), integrity::ROOTED)?;
            tx.set_token(meta.epoch, &token)?;
            ::log::info!("{}: integrity root adopted", self.path.display());
        }
        tx.commit()?;
        g.seen = None;
        Ok(())
    }
}

/// The MAC of an object row: token, uid, private flag, generation, both blobs.
fn row_mac(
    keys: &Keys,
    token: &TokenRow,
    row: &ObjectRow,
) -> Result<[u8; crate::crypto::seal::MAC_LEN]> {
    let (p, g) = ([u8::from(row.private)], row.generation.to_be_bytes());
    keys.mac.mac(&[
        MAC_ROW,
        &token.uuid,
        row.uid.as_bytes(),
        &p,
        &g,
        row.clear.as_deref().unwrap_or(&[]),
        row.sealed.as_deref().unwrap_or(&[]),
    ])
}

/// Checks an object row's MAC ([`row_mac`]) in constant time.
fn row_mac_ok(keys: &Keys, token: &TokenRow, row: &ObjectRow, tag: &[u8]) -> bool {
    let (p, g) = ([u8::from(row.private)], row.generation.to_be_bytes());
    keys.mac.verify(
        &[
            MAC_ROW,
            &token.uuid,
            row.uid.as_bytes(),
            &p,
            &g,
            row.clear.as_deref().unwrap_or(&[]),
            row.sealed.as_deref().unwrap_or(&[]),
        ],
        tag,
    )
}

/// The checks of a row before integrity roots (for adoption only).
fn legacy_ok(row: &ObjectRow, token: &TokenRow, keys: &Keys) -> bool {
    let opens = |blob: &Vec<u8>| {
        keys.sealer
            .open(&object_aad(&token.uuid, &row.uid, row.private), blob)
            .is_ok()
    };
    if row.private {
        return row.sealed.as_ref().is_some_and(opens);
    }
    if row.sealed.as_ref().is_some_and(|b| !opens(b)) {
        return false;
    }
    match &row.mac {
        None => true,
        Some(m) => keys.mac.verify(
            &object_mac_parts(
                &token.uuid,
                &row.uid,
                &[0],
                row.clear.as_deref().unwrap_or(&[]),
                row.sealed.as_deref().unwrap_or(&[]),
            ),
            m,
        ),
    }
}

/// Turns an object into its row: clear attributes encoded and MACed, secret ones sealed.
fn seal_object(
    o: &StoredObject,
    token: &TokenRow,
    keys: Option<&Keys>,
    generation: u64,
) -> Result<ObjectRow> {
    let sealed = if o.private || !o.secret.is_empty() {
        let keys = keys.ok_or(Error::UserNotLoggedIn)?;
        let pt = encode_attrs(&o.secret);
        Some(
            keys.sealer
                .seal(&object_aad(&token.uuid, &o.uid, o.private), &pt)?,
        )
    } else {
        None
    };
    let clear = if o.private {
        None
    } else {
        Some(encode_attrs(&o.clear).to_vec())
    };
    let mut row = ObjectRow {
        uid: o.uid.clone(),
        private: o.private,
        clear,
        mac: None,
        sealed,
        generation,
    };
    // Every row written with the TMK is MACed, private or not, bound to its
    // generation; a row without (a public object made before login) is pending.
    if let Some(k) = keys {
        row.mac = Some(row_mac(k, token, &row)?.to_vec());
    }
    Ok(row)
}

/// Decodes a clear attribute blob; a missing or empty blob is an empty map.
fn decode_clear(c: Option<&[u8]>) -> Option<AttrMap> {
    match c {
        None | Some([]) => Some(AttrMap::new()),
        Some(b) => decode_attrs(b),
    }
}

/// Why a row without a MAC cannot be a public object made before login, if so:
/// a public session makes no secret or private key and cannot set `CKA_TRUSTED`.
fn not_pending(clear: &AttrMap) -> Option<&'static str> {
    use cryptoki_sys::{CKA_CLASS, CKA_TRUSTED, CKO_PRIVATE_KEY, CKO_SECRET_KEY};
    let ulong = |ty| {
        clear
            .get(&ty)
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_ne_bytes)
    };
    #[allow(clippy::useless_conversion)]
    let class = ulong(CKA_CLASS);
    #[allow(clippy::useless_conversion)]
    if class == Some(u64::from(CKO_SECRET_KEY)) || class == Some(u64::from(CKO_PRIVATE_KEY)) {
        return Some("key row without a MAC (stripped)");
    }
    if clear
        .get(&CKA_TRUSTED)
        .is_some_and(|v| v.iter().any(|b| *b != 0))
    {
        return Some("trusted row without a MAC (stripped)");
    }
    None
}

/// A MAC the caller should store for a row that had none.
type NewMac = Option<[u8; crate::crypto::seal::MAC_LEN]>;

/// Turns a row back into an object. `Ok(None)`: not visible without a TMK; `Err`:
/// the row failed authentication or decoding (the reason, for the log).
fn open_object(
    row: &ObjectRow,
    token: &TokenRow,
    keys: Option<&Keys>,
) -> Result<Option<(LoadedObject, NewMac)>> {
    let bad = |why: &str| Error::TokenNotRecognized(why.to_string());
    if row.uid.len() > MAX_UID {
        return Err(bad("uid too long"));
    }
    let Some(keys) = keys else {
        if row.private {
            return Ok(None);
        }
        let clear =
            decode_clear(row.clear.as_deref()).ok_or_else(|| bad("malformed clear attributes"))?;
        let obj = LoadedObject {
            uid: row.uid.clone(),
            private: false,
            clear,
            secret: None,
            generation: row.generation,
        };
        return Ok(Some((obj, None)));
    };
    let secret = match &row.sealed {
        Some(blob) => {
            let pt = keys
                .sealer
                .open(&object_aad(&token.uuid, &row.uid, row.private), blob)
                .map_err(|_| bad("sealed attributes do not open (tampered, moved or foreign)"))?;
            decode_attrs(&pt).ok_or_else(|| bad("malformed sealed attributes"))?
        }
        None if row.private => return Err(bad("private object without sealed attributes")),
        None => AttrMap::new(),
    };
    if row.private && row.clear.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(bad("private object with clear attributes"));
    }
    let clear_bytes = row.clear.as_deref().unwrap_or(&[]);
    let clear = decode_clear(Some(clear_bytes)).ok_or_else(|| bad("malformed clear attributes"))?;
    let new_mac = match &row.mac {
        Some(m) if row_mac_ok(keys, token, row, m) => None,
        Some(_) => return Err(bad("attributes fail their MAC (edited, replayed or moved)")),
        None => {
            // Pending: a public object written before login. Only what a public
            // session may create is taken; anything else lost its MAC.
            if row.private || row.sealed.is_some() {
                return Err(bad("row without a MAC (stripped)"));
            }
            if let Some(why) = not_pending(&clear) {
                return Err(bad(why));
            }
            Some(row_mac(keys, token, row)?)
        }
    };
    let obj = LoadedObject {
        uid: row.uid.clone(),
        private: row.private,
        clear: if row.private { AttrMap::new() } else { clear },
        secret: Some(secret),
        generation: row.generation,
    };
    Ok(Some((obj, new_mac)))
}
