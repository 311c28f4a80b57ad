//! Slots and tokens: one token per slot, each in its own SQLite file; login
//! state, PINs and the object cache of this process.

pub(crate) mod cache;
pub(crate) mod iv;
pub(crate) mod watch;

use crate::config::SlotConfig;
use crate::crypto::seal::Tmk;
use crate::error::{Error, Result};
use crate::kms::audit::Auditor;
use crate::kms::{aliases, principals};
use crate::object::{AttrMap, Object};
use crate::store::audit::AuditRecord;
use crate::store::{Expect, Store, StoredObject, TokenMeta};
use cache::ObjectCache;
use cryptoki_sys::*;
use once_cell::sync::OnceCell;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use watch::Watch;

pub(crate) use crate::principal::{SO, USER};

/// Object handles are unique in the process and never reused, across tokens and
/// across `C_Finalize`/`C_Initialize`.
static NEXT_OBJECT: AtomicU64 = AtomicU64::new(1);

/// A fresh object handle.
pub(crate) fn new_object_handle() -> CK_OBJECT_HANDLE {
    NEXT_OBJECT.fetch_add(1, Ordering::Relaxed)
}

/// Who is logged in to a token in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Login {
    /// Nobody: public session states.
    Public,
    /// A user: the default user (`USER`) or a named principal.
    User(String),
    /// The security officer.
    So,
}

/// The principal of a login state as policies, creators and the audit log name
/// it ("" for a session nobody logged in to).
pub(crate) fn principal_name(login: &Login) -> &str {
    match login {
        Login::So => SO,
        Login::User(n) => n,
        Login::Public => crate::kms::policy::ANONYMOUS,
    }
}

impl TokenState {
    /// The principal session `h` acts as: the one a service named for it
    /// (`acting`, honoured only while the token owner is logged in), else
    /// whoever is logged in.
    pub(crate) fn principal(&self, h: CK_SESSION_HANDLE) -> &str {
        match (&self.login, self.acting.get(&h)) {
            (Login::User(owner), Some(p)) if owner == USER => p,
            (login, _) => principal_name(login),
        }
    }
}

/// Mutable state of a token in this process.
pub(crate) struct TokenState {
    /// Who is logged in.
    pub login: Login,
    /// Sessions that act for a principal other than the one logged in: a
    /// service logged in as the token owner authenticates its callers itself
    /// and names, per session, whose request it runs (`Module::act_as`).
    /// Cleared whenever the login changes.
    pub acting: HashMap<CK_SESSION_HANDLE, String>,
    /// Who is logging in at this moment (a thread of this process is running
    /// the PIN KDF for them): no other login starts meanwhile.
    logging_in: Option<Login>,
    tmk: Option<Tmk>,
    meta: Option<TokenMeta>,
    seen: Option<(u64, u64)>,
    /// The objects this process can see.
    pub objects: ObjectCache,
    /// The generation of the row each cached token object was read from or
    /// written as, by unique id: the base of a conditional update.
    generations: HashMap<String, u64>,
}

/// One slot and its token.
pub(crate) struct Token {
    /// The slot's configuration.
    pub cfg: SlotConfig,
    store: OnceCell<Arc<Store>>,
    /// The file's WAL index, to notice other processes' commits (`watch`);
    /// `None` inside when it cannot be mapped.
    watch: OnceCell<Option<Watch>>,
    /// Login state and objects.
    pub state: RwLock<TokenState>,
    /// The audit log's writer for this token (aggregated data events).
    pub auditor: Auditor,
    /// Serializes this process's writes to the file with its reloads from it, so
    /// that a reload read before a local write cannot put back what the write
    /// removed (SQLite's `data_version` does not move for our own connection).
    /// Lock order: `sync` → `state` → the store's connection.
    sync: Mutex<()>,
}

impl Token {
    /// A token for a configured slot; the file is opened on first use.
    pub(crate) fn new(cfg: SlotConfig) -> Token {
        Token {
            sync: Mutex::new(()),
            auditor: Auditor::new(&cfg),
            cfg,
            store: OnceCell::new(),
            watch: OnceCell::new(),
            state: RwLock::new(TokenState {
                login: Login::Public,
                acting: HashMap::new(),
                logging_in: None,
                tmk: None,
                meta: None,
                seen: None,
                objects: ObjectCache::default(),
                generations: HashMap::new(),
            }),
        }
    }

    /// The store, opened (and the file created) on first use.
    pub(crate) fn store(&self) -> Result<Arc<Store>> {
        self.store_ref().cloned()
    }

    /// [`Token::store`], borrowed (no reference count to touch on a hot path).
    pub(crate) fn store_ref(&self) -> Result<&Arc<Store>> {
        self.store.get_or_try_init(|| {
            Store::open(&self.cfg.path).map(Arc::new).inspect_err(|e| {
                log::error!(
                    "slot {}: cannot open token file {}: {e}",
                    self.cfg.id,
                    self.cfg.path.display()
                )
            })
        })
    }

    /// Brings the cache up to date with the file when another connection changed
    /// it. Cheap when nothing changed: a look at the WAL index (see [`watch`]),
    /// SQLite only when somebody committed since the last check.
    pub(crate) fn refresh(&self) -> Result<()> {
        let store = self.store_ref()?;
        // The WAL index is watched once our connection has read the file (see
        // `watch`): until then every call asks SQLite.
        let watch = self.watch.get().and_then(Option::as_ref);
        let before = watch.map(Watch::read);
        {
            let st = self.state.read();
            if let Some(seen) = st.seen {
                if let (Some(w), Some(b)) = (watch, before) {
                    if w.unchanged(b) {
                        return Ok(());
                    }
                }
                if !store.has_changed(seen)? {
                    self.watched(watch, before);
                    return Ok(());
                }
            }
        }
        let _sync = self.sync.lock();
        let mut st = self.state.write();
        Self::reload(store, &mut st)?;
        self.watched(watch, before);
        Ok(())
    }

    /// After a check that found the cache current: leaves `before` as the
    /// watch's mark, or starts watching the file's WAL index.
    fn watched(&self, watch: Option<&Watch>, before: Option<u64>) {
        match (watch, before) {
            (Some(w), Some(b)) => w.set(b),
            _ => {
                self.watch.get_or_init(|| Watch::open(&self.cfg.path));
            }
        }
    }

    fn reload(store: &Store, st: &mut TokenState) -> Result<()> {
        let changes = match store.changes_since(st.seen, st.tmk.as_ref()) {
            Err(Error::UserNotLoggedIn) if st.tmk.is_some() => {
                // Our master key no longer opens the file: it was re-initialized.
                log::warn!("token was re-initialized by another process; logging out");
                st.login = Login::Public;
                st.acting.clear();
                st.tmk = None;
                st.objects.retain(|o| !o.is_token());
                st.seen = None;
                return Self::reload(store, st);
            }
            other => other?,
        };
        let mut handles: HashMap<String, CK_OBJECT_HANDLE> = HashMap::new();
        if changes.full {
            if st.seen.is_some_and(|(epoch, _)| epoch != changes.epoch) && st.login != Login::Public
            {
                // Re-initialized by another process: our master key is gone.
                log::warn!("token was re-initialized by another process; logging out");
                st.login = Login::Public;
                st.acting.clear();
                st.tmk = None;
                st.objects.retain(|o| !o.is_token());
                st.seen = None;
                return Self::reload(store, st);
            }
            // Handles stay with their objects across a full reload (login, logout).
            let old: Vec<_> = st
                .objects
                .iter()
                .filter(|o| o.is_token())
                .map(|o| (o.unique_id().to_string(), o.handle))
                .collect();
            for (uid, h) in old {
                st.objects.remove(h);
                handles.insert(uid, h);
            }
        }
        if changes.full {
            st.generations.clear();
        }
        for uid in &changes.deleted {
            st.generations.remove(uid);
            handles.remove(uid);
            if let Some(h) = st.objects.handle_of(uid) {
                st.objects.remove(h);
            }
        }
        let mut loaded = Vec::with_capacity(changes.upserts.len());
        st.objects.reserve(changes.upserts.len());
        st.generations.reserve(changes.upserts.len());
        for lo in changes.upserts {
            let h = st
                .objects
                .handle_of(&lo.uid)
                .or_else(|| handles.get(&lo.uid).copied())
                .unwrap_or_else(new_object_handle);
            handles.insert(lo.uid.clone(), h);
            st.generations.insert(lo.uid.clone(), lo.generation);
            let mut attrs = lo.clear;
            if let Some(secret) = lo.secret {
                attrs.extend(secret);
            }
            let obj = Arc::new(Object::new(h, None, attrs));
            loaded.push(Arc::clone(&obj));
            st.objects.insert(obj);
        }
        // Locked in memory together: one pair of system calls per run of pages.
        crate::sys::protect_many(loaded.iter().flat_map(|o| {
            crate::object::rules::key_material_types(o.attrs())
                .into_iter()
                .filter_map(|ty| o.attrs().get(&ty).map(|v| v.as_slice()))
        }));
        st.seen = Some((changes.epoch, changes.generation));
        st.meta = store.token_meta()?;
        Ok(())
    }

    /// Forces a full reload at the next refresh (after a login or logout).
    fn reset_view(st: &mut TokenState) {
        st.seen = None;
    }

    /// The token's stored description (`None` = not initialized).
    pub(crate) fn meta(&self) -> Result<Option<TokenMeta>> {
        self.refresh()?;
        Ok(self.state.read().meta.clone())
    }

    /// `C_InitToken`: the SO PIN is checked when the token is initialized already.
    pub(crate) fn init(&self, so_pin: &[u8], label: &str, rec: &AuditRecord) -> Result<()> {
        self.check_pin_len(so_pin)?;
        let store = self.store()?;
        if store.token_meta()?.is_some() {
            store.unlock_audited(SO, so_pin, self.cfg.max_pin_failures, rec)?;
        }
        let tmk = store.init_token_audited(label, so_pin, &self.cfg.kdf, rec)?;
        drop(tmk);
        let _sync = self.sync.lock();
        let mut st = self.state.write();
        st.login = Login::Public;
        st.acting.clear();
        st.tmk = None;
        st.objects.retain(|o| !o.is_token());
        Self::reset_view(&mut st);
        Self::reload(&store, &mut st)
    }

    /// A secret derived from the master key for a service (see
    /// `Module::service_secret`); `CKR_USER_NOT_LOGGED_IN` without the key.
    pub(crate) fn service_secret(
        &self,
        st: &TokenState,
        label: &str,
        parts: &[&[u8]],
    ) -> Result<zeroize::Zeroizing<[u8; 32]>> {
        let tmk = st.tmk.as_ref().ok_or(Error::UserNotLoggedIn)?;
        tmk.service_secret(label, parts)
    }

    /// Checks a PIN's length against the slot's limits.
    pub(crate) fn check_pin_len(&self, pin: &[u8]) -> Result<()> {
        if pin.len() < self.cfg.min_pin_len || pin.len() > self.cfg.max_pin_len {
            return Err(Error::PinLenRange);
        }
        Ok(())
    }

    /// Why `who` may not log in now: somebody is logged in, or logging in (a
    /// thread of this process runs the PIN KDF), as the same user type
    /// (`CKR_USER_ALREADY_LOGGED_IN`) or another (`CKR_USER_ANOTHER_ALREADY_LOGGED_IN`).
    fn login_refused(st: &TokenState, who: &Login) -> Result<()> {
        let current = match (&st.login, &st.logging_in) {
            (Login::Public, None) => return Ok(()),
            (Login::Public, Some(pending)) => pending,
            (done, _) => done,
        };
        if std::mem::discriminant(current) == std::mem::discriminant(who) {
            Err(Error::UserAlreadyLoggedIn)
        } else {
            Err(Error::UserAnotherAlreadyLoggedIn)
        }
    }

    /// Checks that `who` may log in now (see [`Token::login`]), without
    /// running the KDF; [`Token::login`] checks again under the lock.
    pub(crate) fn check_login(&self, who: &Login) -> Result<()> {
        Self::login_refused(&self.state.read(), who)
    }

    /// Logs a principal in: unwraps the master key with its PIN and loads the
    /// private objects. At most one login of a token runs in a process: while
    /// one is logged in or logging in (another thread runs the KDF), a login
    /// is refused at once ([`Token::check_login`]'s codes) without a KDF.
    pub(crate) fn login(&self, who: Login, pin: &[u8], rec: &AuditRecord) -> Result<()> {
        let store = self.store()?;
        let name = Self::row_of(&who)?;
        let mut pending = {
            let mut st = self.state.write();
            Self::login_refused(&st, &who)?;
            st.logging_in = Some(who.clone());
            LoggingIn(Some(self))
        };
        if pin.len() > self.cfg.max_pin_len {
            return Err(Error::PinIncorrect);
        }
        let tmk = match store.unlock_audited(&name, pin, self.cfg.max_pin_failures, rec) {
            // An unknown named principal looks like a wrong PIN: no hint about names.
            Err(Error::UserPinNotInitialized) if name != USER => {
                self.as_slow_as_a_check(pin);
                Err(Error::PinIncorrect)
            }
            other => other,
        }?;
        self.raise_kdf(&store, &name, pin, &tmk);
        let _sync = self.sync.lock();
        let mut st = self.state.write();
        st.logging_in = None;
        pending.0 = None;
        st.login = who;
        st.acting.clear();
        st.tmk = Some(tmk);
        Self::reset_view(&mut st);
        Self::reload(&store, &mut st)?;
        if store.principal_refused(&name) {
            // The PIN row does not match the integrity root (an old row put
            // back): the PIN it takes is not the principal's current one.
            log::error!(
                "{}: login as {name:?} refused: its PIN row does not match the integrity root",
                self.cfg.path.display()
            );
            st.login = Login::Public;
            st.acting.clear();
            st.tmk = None;
            Self::reset_view(&mut st);
            Self::reload(&store, &mut st)?;
            return Err(Error::PinIncorrect);
        }
        Ok(())
    }

    /// After a successful login: when the slot's `kdf` is above the cost stored
    /// with this PIN, re-wraps the master key at the new cost
    /// ([`Store::raise_kdf`]; never lowered). A failure here leaves the PIN as
    /// it was and does not fail the login.
    fn raise_kdf(&self, store: &Store, name: &str, pin: &[u8], tmk: &Tmk) {
        match store.raise_kdf(name, pin, tmk, &self.cfg.kdf) {
            Ok(true) => log::info!("slot {}: raised the PIN cost of {name:?}", self.cfg.id),
            Ok(false) => {}
            Err(e) => log::warn!(
                "slot {}: could not raise the PIN cost of {name:?}: {e}",
                self.cfg.id
            ),
        }
    }

    /// The store row of a login: "so", "user", or `"p:NAME"` for a named
    /// principal (`kms::principals`), so that no user name reaches the SO's row.
    pub(crate) fn row_of(who: &Login) -> Result<String> {
        match who {
            Login::So => Ok(SO.to_string()),
            Login::User(n) => Ok(principals::row_name(n)),
            Login::Public => Err(Error::UserTypeInvalid),
        }
    }

    /// Creates a named principal with its PIN (wrapping the master key of this
    /// session: the caller checks that the SO is logged in). An invalid or
    /// existing name is `CKR_ATTRIBUTE_VALUE_INVALID` on `CKA_LABEL`.
    pub(crate) fn add_principal(&self, name: &str, pin: &[u8], rec: &AuditRecord) -> Result<()> {
        principals::check_name(name).map_err(|why| {
            log::info!("principal {name:?} refused: {why}");
            Error::AttributeValueInvalid(CKA_LABEL)
        })?;
        let row = principals::row_name(name);
        if self.store()?.principal(&row)?.is_some() {
            log::info!("principal {name:?} exists already");
            return Err(Error::AttributeValueInvalid(CKA_LABEL));
        }
        self.set_pin(&row, pin, rec)
    }

    /// Replaces a named principal's PIN and clears its lock-out (the caller
    /// checks that the SO is logged in). An unknown name is
    /// `CKR_USER_PIN_NOT_INITIALIZED`.
    pub(crate) fn set_principal_pin(
        &self,
        name: &str,
        pin: &[u8],
        rec: &AuditRecord,
    ) -> Result<()> {
        let row = principals::row_name(name);
        if name == USER || self.store()?.principal(&row)?.is_none() {
            return Err(Error::UserPinNotInitialized);
        }
        self.set_pin(&row, pin, rec)
    }

    /// Removes a named principal (nothing happens when it does not exist; the
    /// caller checks that the SO is logged in). Its sessions in other processes
    /// keep their login until they log out, as with a PIN change.
    pub(crate) fn remove_principal(&self, name: &str, rec: &AuditRecord) -> Result<()> {
        if name == USER {
            return Err(Error::ActionProhibited);
        }
        self.store()?
            .remove_principal_audited(&principals::row_name(name), rec)
    }

    /// Logs out: forgets the master key and every decrypted private object.
    /// Handles to private objects die with it (§5.6: "even if a user is later
    /// logged back into the token, those handles remain invalid"); the next
    /// login hands out new ones.
    pub(crate) fn logout(&self) -> Result<()> {
        let _sync = self.sync.lock();
        let mut st = self.state.write();
        st.login = Login::Public;
        st.acting.clear();
        st.tmk = None;
        // Every private object goes, session objects too (§5.6.10: "any of the
        // application's private session objects are destroyed").
        st.objects.retain(|o| !o.is_private());
        Self::reset_view(&mut st);
        match self.store() {
            Ok(store) => Self::reload(&store, &mut st),
            Err(_) => Ok(()),
        }
    }

    /// Sets a principal's PIN (the caller has checked who may); needs the master key.
    pub(crate) fn set_pin(&self, name: &str, new_pin: &[u8], rec: &AuditRecord) -> Result<()> {
        self.check_pin_len(new_pin)?;
        let store = self.store()?;
        let st = self.state.read();
        let tmk = st.tmk.as_ref().ok_or(Error::UserNotLoggedIn)?;
        store.set_pin_audited(name, tmk, new_pin, &self.cfg.kdf, rec)
    }

    /// Changes a PIN after checking the old one; works logged in or not.
    pub(crate) fn change_pin(
        &self,
        name: &str,
        old: &[u8],
        new: &[u8],
        rec: &AuditRecord,
    ) -> Result<()> {
        self.check_pin_len(new)?;
        if old.len() > self.cfg.max_pin_len {
            return Err(Error::PinIncorrect);
        }
        let store = self.store()?;
        let tmk = store.unlock_audited(
            name,
            old,
            self.cfg.max_pin_failures,
            &rec.clone().with_reason("old PIN check"),
        )?;
        store.set_pin_audited(name, &tmk, new, &self.cfg.kdf, rec)
    }

    /// Checks a principal's PIN (`CKU_CONTEXT_SPECIFIC` re-authentication).
    pub(crate) fn change_pin_check(&self, name: &str, pin: &[u8], rec: &AuditRecord) -> Result<()> {
        // A PIN longer than any this slot accepts cannot be right: refused
        // before the KDF reads it, as at login.
        if pin.len() > self.cfg.max_pin_len {
            return Err(Error::PinIncorrect);
        }
        let store = self.store()?;
        store
            .unlock_audited(name, pin, self.cfg.max_pin_failures, rec)
            .map(drop)
            .inspect_err(|e| {
                if matches!(e, Error::UserPinNotInitialized) {
                    self.as_slow_as_a_check(pin);
                }
            })
    }

    /// Spends the time of a PIN check (the slot's KDF) when the name has no
    /// PIN row, so that how long a refusal takes does not tell which names
    /// exist.
    fn as_slow_as_a_check(&self, pin: &[u8]) {
        let salt = [0u8; crate::crypto::pinkdf::SALT_LEN];
        let _ = crate::crypto::pinkdf::derive_kek(pin, &salt, &self.cfg.kdf);
    }

    /// The failed-login count of a principal, and whether it is locked.
    pub(crate) fn pin_status(&self, name: &str) -> Result<Option<(u32, bool)>> {
        let store = self.store()?;
        Ok(store.principal(name)?.map(|p| {
            (
                p.failed_logins,
                p.failed_logins >= self.cfg.max_pin_failures,
            )
        }))
    }

    /// Writes a token object to the file and puts it in the cache.
    pub(crate) fn persist(
        &self,
        handle: CK_OBJECT_HANDLE,
        attrs: AttrMap,
        rec: &AuditRecord,
    ) -> Result<Arc<Object>> {
        let store = self.store()?;
        let obj = Object::new(handle, None, attrs);
        protect_key_material(obj.attrs());
        let _sync = self.sync.lock();
        let generation = {
            let st = self.state.read();
            let rec = rec.clone().with_key(obj.unique_id(), None);
            store.put_object_audited(&split_for_store(&obj), st.tmk.as_ref(), &rec)?
        };
        Ok(self.written(obj, generation))
    }

    /// Replaces the token object `old` (as read from the cache) with `attrs`, in
    /// the file and the cache, with a conditional write: `Error::Conflict`, and
    /// no change, when the object changed since `old` was read, here (another
    /// thread) or in another process. The caller reads the object again (its
    /// next `refresh` brings the other writer's change) and redoes its change.
    pub(crate) fn update(
        &self,
        old: &Object,
        attrs: AttrMap,
        rec: &AuditRecord,
    ) -> Result<Arc<Object>> {
        let store = self.store()?;
        let obj = Object::new(old.handle, None, attrs);
        protect_key_material(obj.attrs());
        let _sync = self.sync.lock();
        let generation = {
            let st = self.state.read();
            let base = Self::read_at(&st, old)?;
            let rec = rec.clone().with_key(obj.unique_id(), None);
            store.replace_object_audited(&split_for_store(&obj), base, st.tmk.as_ref(), &rec)?
        };
        Ok(self.written(obj, generation))
    }

    /// The generation `obj` was read at, while the cache still holds `obj`
    /// itself (call with `sync` held: then nothing replaces cached objects);
    /// `Error::Conflict` when it was replaced or removed since.
    fn read_at(st: &TokenState, obj: &Object) -> Result<u64> {
        match (
            st.objects.get(obj.handle),
            st.generations.get(obj.unique_id()),
        ) {
            (Some(cur), Some(g)) if std::ptr::eq(Arc::as_ptr(cur), obj) => Ok(*g),
            _ => Err(Error::Conflict),
        }
    }

    /// Puts an object this process wrote at `generation` into the cache.
    fn written(&self, obj: Object, generation: u64) -> Arc<Object> {
        let obj = Arc::new(obj);
        let mut st = self.state.write();
        st.generations
            .insert(obj.unique_id().to_string(), generation);
        st.objects.insert(Arc::clone(&obj));
        Self::advance(&mut st, generation);
        obj
    }

    /// Removes a token object from the file and the cache; a key goes with
    /// the aliases this process sees pointing at it (`kms::aliases`), in the
    /// same transaction. `rec` is keyed on the object unless it names a key.
    pub(crate) fn unpersist(&self, obj: &Object, rec: &AuditRecord) -> Result<()> {
        self.unpersist_checked(obj, false, rec)
    }

    /// Removes a token object from the file and the cache only if the file
    /// still holds the version of it that `obj` is (`Error::Conflict` when
    /// another writer changed it meanwhile: a cancelled deletion, say); a key
    /// goes with its aliases, as in [`Token::unpersist`].
    pub(crate) fn unpersist_if_current(&self, obj: &Object, rec: &AuditRecord) -> Result<()> {
        self.unpersist_checked(obj, true, rec)
    }

    fn unpersist_checked(&self, obj: &Object, current: bool, rec: &AuditRecord) -> Result<()> {
        let store = self.store()?;
        let rec = match rec.key_uid {
            Some(_) => rec.clone(),
            None => rec.clone().with_key(obj.unique_id(), None),
        };
        let _sync = self.sync.lock();
        let (generation, aliases) = {
            let st = self.state.read();
            let base = if current {
                Some(Self::read_at(&st, obj)?)
            } else {
                None
            };
            let aliases = Self::aliases_in(&st, obj.unique_id());
            let also: Vec<(String, AuditRecord)> = aliases
                .iter()
                .map(|a| {
                    let why = format!("alias {} removed with its key", a.unique_id());
                    (a.unique_id().to_string(), rec.clone().with_reason(&why))
                })
                .collect();
            let g = store.delete_object_with_audited(
                obj.unique_id(),
                base,
                &also,
                std::slice::from_ref(&rec),
            )?;
            (g, aliases)
        };
        let mut st = self.state.write();
        for o in std::iter::once(obj).chain(aliases.iter().map(|a| &**a)) {
            st.objects.remove(o.handle);
            st.generations.remove(o.unique_id());
        }
        Self::advance(&mut st, generation);
        Ok(())
    }

    /// The aliases in the cache that point at the key whose unique id is
    /// `uid` (none for an object that is not a key).
    fn aliases_in(st: &TokenState, uid: &str) -> Vec<Arc<Object>> {
        let is_key = st
            .objects
            .handle_of(uid)
            .and_then(|h| st.objects.get(h))
            .is_some_and(|o| matches!(o.class(), Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)));
        if !is_key {
            return Vec::new();
        }
        st.objects
            .iter()
            .filter(|o| aliases::is_alias(o) && aliases::target_of(o) == Some(uid))
            .cloned()
            .collect()
    }

    /// The unique id of the alias named `name` on this token (needs the
    /// master key: a login).
    pub(crate) fn alias_uid(&self, name: &str) -> Result<String> {
        let st = self.state.read();
        let tmk = st.tmk.as_ref().ok_or(Error::UserNotLoggedIn)?;
        aliases::uid(&tmk.mac_key()?, name)
    }

    /// Writes a token object only if the file agrees, checked in the write
    /// transaction (`Store::put_object_guarded_audited`): with `old`, a
    /// conditional replace of it (`Error::Conflict` when it changed); without,
    /// an insert that `exists` refuses when its uid is taken. Every uid of
    /// `requires` must name an object in the file (else `missing`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn persist_guarded(
        &self,
        handle: CK_OBJECT_HANDLE,
        attrs: AttrMap,
        old: Option<&Object>,
        requires: &[&str],
        exists: Error,
        missing: Error,
        rec: &AuditRecord,
    ) -> Result<Arc<Object>> {
        let store = self.store()?;
        let obj = Object::new(old.map_or(handle, |o| o.handle), None, attrs);
        protect_key_material(obj.attrs());
        let _sync = self.sync.lock();
        let generation = {
            let st = self.state.read();
            let expect = match old {
                Some(o) => Expect::At(Self::read_at(&st, o)?),
                None => Expect::Absent,
            };
            store.put_object_guarded_audited(
                &split_for_store(&obj),
                expect,
                requires,
                exists,
                missing,
                st.tmk.as_ref(),
                std::slice::from_ref(rec),
            )?
        };
        Ok(self.written(obj, generation))
    }

    /// After our own write: when nobody else wrote in between, the cache is
    /// current at the new generation and needs no reload.
    fn advance(st: &mut TokenState, generation: u64) {
        if let Some((epoch, seen)) = st.seen {
            if generation == seen + 1 {
                st.seen = Some((epoch, generation));
            }
        }
    }
}

/// A login under way: clears the token's "logging in" state when the login
/// fails (or panics) before it is done.
struct LoggingIn<'a>(Option<&'a Token>);

impl Drop for LoggingIn<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            t.state.write().logging_in = None;
        }
    }
}

/// Locks the key material of an object that enters the cache in memory and
/// keeps it out of core dumps (DESIGN.md §3; best effort, see `sys`). The
/// values must not move afterwards: the object holding them is immutable.
pub(crate) fn protect_key_material(attrs: &AttrMap) {
    for ty in crate::object::rules::key_material_types(attrs) {
        if let Some(v) = attrs.get(&ty) {
            crate::sys::protect(v);
        }
    }
}

/// Splits an object's attributes into the clear and the sealed part.
fn split_for_store(obj: &Object) -> StoredObject {
    let private = obj.is_private();
    let mut clear = AttrMap::new();
    let mut secret = AttrMap::new();
    let material = crate::object::rules::key_material_types(obj.attrs());
    for (ty, v) in obj.attrs() {
        if private || material.contains(ty) {
            secret.insert(*ty, v.clone());
        } else {
            clear.insert(*ty, v.clone());
        }
    }
    StoredObject {
        uid: obj.unique_id().to_string(),
        private,
        clear,
        secret,
    }
}
