//! The safe PKCS#11 surface: one method per `C_*` function.
//!
//! `ffi` turns each C call into one call here. The module-wide state lives in a
//! process global guarded by a lock that is only held to clone an `Arc`; it also
//! records the process id at `C_Initialize`, so that a forked child is told
//! `CKR_CRYPTOKI_NOT_INITIALIZED` until it initializes again (SoftHSMv2 does the
//! same).
//!
//! Lock order (outer first): `GLOBAL` → `Module::sessions` → one `Session` →
//! a token's state → a token's store. No lock of this list is held across
//! crypto work or SQLite I/O of another token.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::gate::{self, Granted, Request, Use};
use crate::kms::abi::{CKA_SOFTKMS_IMPORT_FROM, CKO_SOFTKMS_PRINCIPAL};
use crate::kms::lifecycle;
use crate::kms::{policy, principals};
use crate::mechanism::{keys, registry, DeriveFn, KeyLookup, Mechanism, MechanismDef};
use crate::object::attr::{decode_ulong, Attribute, Template};
use crate::object::rules::{self, AttrRead, Origin};
use crate::object::{AttrMap, Object};
use crate::outbuf::OutBuf;
use crate::session::{FindState, Session};
use crate::store::audit::AuditRecord;
use crate::store::MAX_CONFLICT_RETRIES;
use crate::token::{clock, new_object_handle, protect_key_material, Login, Token, SO, USER};
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

mod audit;
mod ops;

pub use audit::{AuditFilter, AuditScope};

/// How the caller asked the library to lock (`CK_C_INITIALIZE_ARGS`), already
/// checked by `ffi` for the all-or-none rule of the mutex callbacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitArgs {
    /// The caller supplied mutex callbacks.
    pub mutex_callbacks: bool,
    /// `CKF_OS_LOCKING_OK`.
    pub os_locking_ok: bool,
    /// `CKF_LIBRARY_CANT_CREATE_OS_THREADS`.
    pub cant_create_threads: bool,
}

/// `CK_INFO` in Rust form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Cryptoki version (3.0).
    pub cryptoki_version: (u8, u8),
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `libraryDescription`.
    pub description: String,
    /// `libraryVersion`.
    pub library_version: (u8, u8),
}

/// `CK_SLOT_INFO` in Rust form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// `slotDescription`.
    pub description: String,
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `CKF_*` slot flags.
    pub flags: CK_FLAGS,
    /// Hardware version.
    pub hardware_version: (u8, u8),
    /// Firmware version.
    pub firmware_version: (u8, u8),
}

/// `CK_TOKEN_INFO` in Rust form. Counts that are not known are
/// `CK_UNAVAILABLE_INFORMATION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `label`.
    pub label: String,
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `model`.
    pub model: String,
    /// `serialNumber`.
    pub serial: String,
    /// `CKF_*` token flags.
    pub flags: CK_FLAGS,
    /// `ulMaxSessionCount`.
    pub max_session_count: CK_ULONG,
    /// `ulSessionCount`.
    pub session_count: CK_ULONG,
    /// `ulMaxRwSessionCount`.
    pub max_rw_session_count: CK_ULONG,
    /// `ulRwSessionCount`.
    pub rw_session_count: CK_ULONG,
    /// `ulMaxPinLen`.
    pub max_pin_len: CK_ULONG,
    /// `ulMinPinLen`.
    pub min_pin_len: CK_ULONG,
    /// `ulTotalPublicMemory`.
    pub total_public_memory: CK_ULONG,
    /// `ulFreePublicMemory`.
    pub free_public_memory: CK_ULONG,
    /// `ulTotalPrivateMemory`.
    pub total_private_memory: CK_ULONG,
    /// `ulFreePrivateMemory`.
    pub free_private_memory: CK_ULONG,
    /// `hardwareVersion`.
    pub hardware_version: (u8, u8),
    /// `firmwareVersion`.
    pub firmware_version: (u8, u8),
    /// `utcTime` (16 characters, or empty when the token has no clock).
    pub utc_time: String,
}

/// `CK_SESSION_INFO` in Rust form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The slot.
    pub slot: CK_SLOT_ID,
    /// `CKS_*`.
    pub state: CK_STATE,
    /// `CKF_RW_SESSION | CKF_SERIAL_SESSION`.
    pub flags: CK_FLAGS,
    /// `ulDeviceError`.
    pub device_error: CK_ULONG,
}

/// `CK_MECHANISM_INFO` in Rust form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MechInfo {
    /// `ulMinKeySize`.
    pub min_key: CK_ULONG,
    /// `ulMaxKeySize`.
    pub max_key: CK_ULONG,
    /// `flags`.
    pub flags: CK_FLAGS,
}

/// The module-wide state of one initialization.
pub struct Module {
    tokens: Vec<Arc<Token>>,
    sessions: RwLock<crate::token::cache::HandleMap<Arc<Mutex<Session>>>>,
    args: InitArgs,
}

struct Global {
    pid: u32,
    module: Arc<Module>,
}

static GLOBAL: RwLock<Option<Global>> = RwLock::new(None);

/// Session handles are unique in the process and never reused.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// `C_Initialize` (PKCS#11 3.0 §5.4): sets up the module for this process.
pub fn initialize(args: InitArgs) -> Result<()> {
    if args.mutex_callbacks && !args.os_locking_ok {
        // We lock with our own primitives; the caller insists on its own.
        return Err(Error::CantLock);
    }
    let mut g = GLOBAL.write();
    if let Some(old) = g.as_ref() {
        if old.pid == crate::sys::pid() {
            return Err(Error::AlreadyInitialized);
        }
        // A forked child: the parent's state (SQLite connections, keys) must not
        // be closed or used here; leak it rather than touch the parent's locks.
        if let Some(old) = g.take() {
            std::mem::forget(old);
        }
    }
    let cfg = Config::load()?;
    crate::log::init(cfg.log_level.as_deref(), cfg.log_file.as_deref());
    let tokens = cfg
        .slots
        .iter()
        .cloned()
        .map(|s| Arc::new(Token::new(s)))
        .collect();
    *g = Some(Global {
        pid: crate::sys::pid(),
        module: Arc::new(Module {
            tokens,
            sessions: RwLock::new(Default::default()),
            args,
        }),
    });
    log::debug!("initialized ({} slots)", cfg.slots.len());
    crate::sys::at_exit(flush_at_exit);
    Ok(())
}

/// At process exit without `C_Finalize`: writes this process's aggregated
/// audit events (`docs/audit.md`). Never waits for a lock another thread holds
/// (that thread may be the one calling `exit`), and does nothing in a forked
/// child, whose aggregates are the parent's.
extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let Some(g) = GLOBAL.try_read() else { return };
        let Some(global) = g.as_ref() else { return };
        if global.pid != crate::sys::pid() {
            return;
        }
        for t in &global.module.tokens {
            if let Ok(store) = t.store_ref() {
                t.auditor.flush_all(store);
            }
        }
    });
}

/// `C_Finalize` (§5.4): ends this process's use of the module.
pub fn finalize() -> Result<()> {
    let mut g = GLOBAL.write();
    match g.as_ref() {
        Some(old) if old.pid == crate::sys::pid() => {
            if let Some(old) = g.take() {
                old.module.sessions.write().clear();
                for t in &old.module.tokens {
                    if let Ok(store) = t.store() {
                        t.auditor.flush_all(&store);
                    }
                    let _ = t.logout();
                }
            }
            Ok(())
        }
        _ => Err(Error::NotInitialized),
    }
}

/// The module of this process, or `CKR_CRYPTOKI_NOT_INITIALIZED` (also in a
/// forked child that has not called `C_Initialize` itself).
pub fn get() -> Result<Arc<Module>> {
    let g = GLOBAL.read();
    match g.as_ref() {
        Some(g) if g.pid == crate::sys::pid() => Ok(Arc::clone(&g.module)),
        _ => Err(Error::NotInitialized),
    }
}

fn random_uid() -> Result<String> {
    let mut b = [0u8; 16];
    crate::crypto::random(&mut b).map_err(|_| Error::FunctionFailed)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Checks an RSA or EC key's material and adds what clients look for beside it:
/// `CKA_PUBLIC_KEY_INFO` on public and private keys, `CKA_EC_POINT` on EC
/// private keys. Values the caller gave are kept.
fn complete_key(attrs: &mut AttrMap) -> Result<()> {
    keys::check_key_attributes(attrs)?;
    let mut extra = keys::public_attributes_of_private(attrs);
    let class = attrs
        .get(&CKA_CLASS)
        .and_then(|v| decode_ulong(CKA_CLASS, v).ok());
    if class == Some(CKO_PUBLIC_KEY) {
        if let Some(spki) = keys::public_key_info(attrs) {
            extra.push(Attribute::new(CKA_PUBLIC_KEY_INFO, spki));
        }
    }
    for a in extra {
        let absent = attrs.get(&a.ty).is_none_or(|v| v.is_empty());
        if absent {
            attrs.insert(a.ty, a.value);
        }
    }
    Ok(())
}

/// The principal of a login state, as the policy, the key's creator and the
/// audit log name it ("" for a session nobody logged in to).
fn principal_of(login: &Login) -> String {
    gate::principal_name(login).to_string()
}

/// Which attributes a `C_SetAttributeValue` changed, by name where they are
/// SoftKMS's own (never their values).
fn describe_change(template: &Template) -> String {
    let names: Vec<String> = template
        .iter()
        .map(|a| match a.ty {
            crate::kms::abi::CKA_SOFTKMS_KEY_STATE => "key state".to_string(),
            crate::kms::abi::CKA_SOFTKMS_ROTATE => "rotate".to_string(),
            crate::kms::abi::CKA_SOFTKMS_ROTATION_PERIOD => "rotation period".to_string(),
            crate::kms::abi::CKA_SOFTKMS_MIN_DECRYPT_VERSION => {
                "minimum decryption version".to_string()
            }
            crate::kms::abi::CKA_SOFTKMS_IMPORT_FROM => "re-import".to_string(),
            crate::kms::abi::CKA_SOFTKMS_POLICY => "policy".to_string(),
            ty => format!("0x{ty:x}"),
        })
        .collect();
    names.join(", ")
}

impl Module {
    fn token(&self, slot: CK_SLOT_ID) -> Result<&Arc<Token>> {
        self.tokens
            .iter()
            .find(|t| t.cfg.id == slot)
            .ok_or(Error::SlotIdInvalid)
    }

    fn session(&self, h: CK_SESSION_HANDLE) -> Result<(Arc<Mutex<Session>>, &Arc<Token>)> {
        let s = self
            .sessions
            .read()
            .get(&h)
            .cloned()
            .ok_or(Error::SessionHandleInvalid)?;
        let slot = s.lock().slot;
        let t = self.token(slot)?;
        // Data-event aggregates are flushed by the first call after they are due
        // (judged on the coarse clock: at most a tick late).
        let agg = t.auditor.aggregator();
        if agg.has_pending() && agg.is_due(clock::coarse_now_ms()) {
            if let Ok(store) = t.store() {
                t.auditor.tick(&store, crate::kms::audit::now_ms());
            }
        }
        Ok((s, t))
    }

    fn sessions_of(&self, slot: CK_SLOT_ID) -> Vec<Arc<Mutex<Session>>> {
        self.sessions
            .read()
            .values()
            .filter(|s| s.lock().slot == slot)
            .cloned()
            .collect()
    }

    /// An object the session can see (`invalid` is the error for a bad handle).
    fn object(&self, tok: &Token, h: CK_OBJECT_HANDLE, invalid: Error) -> Result<Arc<Object>> {
        gate::lookup(tok, h, invalid)
    }

    /// Uses the key `handle` for `what` with `mech`: through the key gate,
    /// then `f` with the grant; the call's outcome is audited as `function`.
    #[allow(clippy::too_many_arguments)]
    fn use_key<T>(
        &self,
        tok: &Token,
        h: CK_SESSION_HANDLE,
        function: &'static str,
        def: &MechanismDef,
        mech: &Mechanism,
        handle: CK_OBJECT_HANDLE,
        what: Use,
        invalid: Error,
        f: impl FnOnce(&Granted) -> Result<T>,
    ) -> Result<T> {
        let req = Request {
            handle,
            what,
            mech: mech.mech,
            key_types: def.key_types,
            context: mech.param.context(),
            // Message-based functions take their IV per message, where the
            // mechanism applies the gate's decision (`Granted::may_choose_iv`).
            caller_iv: registry::caller_chooses_iv(mech.mech) && !function.starts_with("C_Message"),
            invalid,
        };
        gate::using(tok, h, function, std::slice::from_ref(&req), |g| match g {
            [g] => f(g),
            _ => Err(Error::General(
                "the gate granted another number of keys".into(),
            )),
        })
    }

    /// `C_DeriveKey`'s use of its base key and of every key its parameter
    /// names, all through the key gate at once, then `f` with the base key's
    /// grant and the others' (one audit record for a refused or failed call).
    fn derive_with<T>(
        &self,
        tok: &Token,
        h: CK_SESSION_HANDLE,
        def: &MechanismDef,
        mech: &mut Mechanism,
        base: CK_OBJECT_HANDLE,
        f: impl FnOnce(&mut Mechanism, &Granted, &SessionKeys) -> Result<T>,
    ) -> Result<T> {
        let named = mech.param.named_keys();
        let context = mech.param.context().to_vec();
        let mut reqs = vec![Request {
            handle: base,
            what: Use::Derive,
            mech: mech.mech,
            key_types: def.key_types,
            context: &context,
            caller_iv: false,
            invalid: Error::KeyHandleInvalid,
        }];
        reqs.extend(named.iter().map(|k| Request {
            handle: *k,
            what: Use::Derive,
            mech: mech.mech,
            key_types: &[],
            context: &[],
            caller_iv: false,
            invalid: Error::KeyHandleInvalid,
        }));
        gate::using(tok, h, "C_DeriveKey", &reqs, |all| {
            let (base, rest) = all
                .split_first()
                .ok_or(Error::General("the gate granted no base key".into()))?;
            let lookup = SessionKeys {
                granted: named.iter().copied().zip(rest.iter().cloned()).collect(),
            };
            f(mech, base, &lookup)
        })
    }

    /// The key policy: may whoever is logged in do `action` with `key`?
    fn check_policy(&self, tok: &Token, key: &Object, action: policy::Action) -> Result<()> {
        let login = tok.state.read().login.clone();
        gate::check_policy(key, gate::principal_name(&login), action, &[])
    }

    /// `C_Sign*`/`C_Decrypt*` of a key with `CKA_ALWAYS_AUTHENTICATE` wait for
    /// the context-specific login (§5.6.8, §4.9).
    /// Like any error, this one ends the operation (`sign` or decryption).
    fn check_context_login(&self, h: CK_SESSION_HANDLE, sign: bool) -> Result<()> {
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        if s.context_login_needed {
            s.context_login_needed = false;
            if sign {
                s.ops.sign = None;
            } else {
                s.ops.decrypt = None;
            }
            return Err(Error::UserNotLoggedIn);
        }
        Ok(())
    }

    /// Policy checks and bookkeeping for a new key object: its creator, and a
    /// policy given at creation (validated, lock-out check, force stripped).
    fn prepare_key_attrs(&self, tok: &Token, attrs: &mut AttrMap) -> Result<()> {
        let class = attrs
            .get(&CKA_CLASS)
            .and_then(|v| decode_ulong(CKA_CLASS, v).ok());
        if !matches!(
            class,
            Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
        ) {
            return Ok(());
        }
        let force = attrs
            .remove(&crate::kms::abi::CKA_SOFTKMS_POLICY_FORCE)
            .is_some_and(|v| v.first().is_some_and(|b| *b != 0));
        if let Some(p) = attrs.get(&crate::kms::abi::CKA_SOFTKMS_POLICY) {
            if !p.is_empty() {
                policy::check_set(&policy::parse(p)?, force)?;
            }
        }
        if let std::collections::btree_map::Entry::Vacant(e) =
            attrs.entry(crate::kms::abi::CKA_SOFTKMS_CREATOR)
        {
            let creator = principal_of(&tok.state.read().login);
            e.insert(zeroize::Zeroizing::new(creator.into_bytes()));
        }
        Ok(())
    }

    /// Stores a new object made by the rules: a token object in the file, a
    /// session object in memory. Checks the session may create it.
    fn add_object(
        &self,
        function: &str,
        s: &Session,
        tok: &Token,
        mut attrs: AttrMap,
    ) -> Result<CK_OBJECT_HANDLE> {
        lifecycle::on_create(&mut attrs, clock::now_unix())?;
        complete_key(&mut attrs)?;
        self.prepare_key_attrs(tok, &mut attrs)?;
        let obj = Object::new(0, None, attrs);
        let login = tok.state.read().login.clone();
        if obj.is_token() && !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if obj.is_private() && !matches!(login, Login::User(_)) {
            return Err(Error::UserNotLoggedIn);
        }
        let h = new_object_handle();
        if obj.is_token() {
            tok.persist(h, obj.attrs().clone(), &self.rec(tok, function, s.handle))?;
        } else {
            let o = Arc::new(Object::new(h, Some(s.handle), obj.attrs().clone()));
            protect_key_material(o.attrs());
            tok.state.write().objects.insert(o);
        }
        Ok(h)
    }

    /// Records a refused management call on a key (durably, before it returns).
    fn audit_denial(
        &self,
        tok: &Token,
        function: &str,
        h: CK_SESSION_HANDLE,
        key: &Object,
        e: &Error,
    ) {
        if let Ok(store) = tok.store() {
            let rec = self
                .rec(tok, function, h)
                .with_key(key.unique_id(), None)
                .with_rv(e.rv())
                .with_reason(&e.to_string());
            if let Err(err) = tok.auditor.management(&store, &[rec]) {
                log::error!("audit: cannot record a refused {function}: {err}");
            }
        }
    }

    /// A management audit record for a call on `tok` by whoever is logged in.
    fn rec(&self, tok: &Token, function: &str, h: CK_SESSION_HANDLE) -> AuditRecord {
        AuditRecord::management(function, &principal_of(&tok.state.read().login), h)
    }

    fn is_so(tok: &Token) -> bool {
        tok.state.read().login == Login::So
    }

    /// `C_GetInfo` (§5.4).
    pub fn info(&self) -> ModuleInfo {
        let v = |s: &str| s.parse::<u8>().unwrap_or(0);
        ModuleInfo {
            cryptoki_version: (3, 0),
            manufacturer: "SoftKMS".into(),
            description: "SoftKMS PKCS#11 module".into(),
            library_version: (
                v(env!("CARGO_PKG_VERSION_MAJOR")),
                v(env!("CARGO_PKG_VERSION_MINOR")),
            ),
        }
    }

    /// The locking the caller asked for at `C_Initialize`.
    pub fn init_args(&self) -> InitArgs {
        self.args
    }

    /// `C_GetSlotList` (§5.5): every slot has a token (a file), present or not yet made.
    pub fn slot_list(&self, _token_present: bool) -> Vec<CK_SLOT_ID> {
        self.tokens.iter().map(|t| t.cfg.id).collect()
    }

    /// `C_GetSlotInfo` (§5.5).
    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<SlotInfo> {
        let t = self.token(slot)?;
        Ok(SlotInfo {
            description: t.cfg.description.clone(),
            manufacturer: "SoftKMS".into(),
            flags: CKF_TOKEN_PRESENT,
            hardware_version: (0, 1),
            firmware_version: (0, 1),
        })
    }

    /// `C_GetTokenInfo` (§5.5).
    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<TokenInfo> {
        let t = self.token(slot)?;
        let meta = t.meta()?;
        let mut flags =
            CKF_RNG | CKF_LOGIN_REQUIRED | CKF_RESTORE_KEY_NOT_NEEDED | CKF_CLOCK_ON_TOKEN;
        let max = t.cfg.max_pin_failures;
        let pin_flags = |failed: u32, low: CK_FLAGS, last: CK_FLAGS, locked: CK_FLAGS| {
            if failed >= max {
                locked
            } else if failed + 1 == max {
                low | last
            } else if failed > 0 {
                low
            } else {
                0
            }
        };
        if let Some(m) = &meta {
            flags |= CKF_TOKEN_INITIALIZED;
            if m.user_pin_set {
                flags |= CKF_USER_PIN_INITIALIZED;
            }
            if let Some((failed, _)) = t.pin_status(USER)? {
                flags |= pin_flags(
                    failed,
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                );
            }
            if let Some((failed, _)) = t.pin_status(SO)? {
                flags |= pin_flags(
                    failed,
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                );
            }
        }
        let sessions = self.sessions_of(slot);
        let rw = sessions.iter().filter(|s| s.lock().rw).count();
        let count = |n: usize| CK_ULONG::try_from(n).unwrap_or(CK_ULONG::MAX);
        Ok(TokenInfo {
            label: meta.as_ref().map(|m| m.label.clone()).unwrap_or_default(),
            manufacturer: "SoftKMS".into(),
            model: "SoftKMS token".into(),
            serial: meta.as_ref().map(|m| m.serial.clone()).unwrap_or_default(),
            flags,
            max_session_count: CK_EFFECTIVELY_INFINITE,
            session_count: count(sessions.len()),
            max_rw_session_count: CK_EFFECTIVELY_INFINITE,
            rw_session_count: count(rw),
            max_pin_len: count(t.cfg.max_pin_len),
            min_pin_len: count(t.cfg.min_pin_len),
            total_public_memory: CK_UNAVAILABLE_INFORMATION,
            free_public_memory: CK_UNAVAILABLE_INFORMATION,
            total_private_memory: CK_UNAVAILABLE_INFORMATION,
            free_private_memory: CK_UNAVAILABLE_INFORMATION,
            hardware_version: (0, 1),
            firmware_version: (0, 1),
            utc_time: clock::utc_time_string(clock::now_unix()),
        })
    }

    /// `C_GetMechanismList` (§5.5): generated from the registry.
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        self.token(slot)?;
        Ok(registry::all().map(|d| d.mech).collect())
    }

    /// `C_GetMechanismInfo` (§5.5).
    pub fn mechanism_info(&self, slot: CK_SLOT_ID, mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
        self.token(slot)?;
        let d = registry::get(mech)?;
        Ok(MechInfo {
            min_key: d.min_key,
            max_key: d.max_key,
            flags: d.info_flags(),
        })
    }

    /// `C_InitToken` (§5.5); `label` is the 32-byte blank-padded label.
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &[u8]) -> Result<()> {
        let t = self.token(slot)?;
        if !self.sessions_of(slot).is_empty() {
            return Err(Error::SessionExists);
        }
        let label = std::str::from_utf8(label).map_err(|_| Error::ArgumentsBad)?;
        t.init(
            so_pin,
            label.trim_end_matches(' '),
            &AuditRecord::management("C_InitToken", SO, 0),
        )
    }

    /// `C_InitPIN` (§5.5): the SO sets the user's PIN.
    pub fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let (s, t) = self.session(h)?;
        let rw = s.lock().rw;
        if !rw || !Self::is_so(t) {
            return Err(Error::UserNotLoggedIn);
        }
        t.set_pin(USER, pin, &self.rec(t, "C_InitPIN", h))
    }

    /// `C_SetPIN` (§5.5): the PIN of whoever is logged in, or the user's.
    pub fn set_pin(&self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        let (s, t) = self.session(h)?;
        if !s.lock().rw {
            return Err(Error::SessionReadOnly);
        }
        let login = t.state.read().login.clone();
        let who = match login {
            Login::Public => USER.to_string(),
            other => Token::row_of(&other)?,
        };
        t.change_pin(&who, old, new, &self.rec(t, "C_SetPIN", h))
    }

    /// `C_OpenSession` (§5.6).
    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        let t = self.token(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        if t.meta()?.is_none() {
            return Err(Error::TokenNotRecognized("token is not initialized".into()));
        }
        let rw = flags & CKF_RW_SESSION != 0;
        if !rw && Self::is_so(t) {
            return Err(Error::SessionReadWriteSoExists);
        }
        let h = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        self.sessions
            .write()
            .insert(h, Arc::new(Mutex::new(Session::new(h, slot, rw))));
        Ok(h)
    }

    fn end_session(&self, s: &Session, t: &Token) {
        if let Ok(store) = t.store() {
            t.auditor.session_closed(&store, s.handle);
        }
        t.state
            .write()
            .objects
            .retain(|o| o.session != Some(s.handle));
    }

    fn after_close(&self, t: &Token) {
        if self.sessions_of(t.cfg.id).is_empty() {
            // The last session of the token is gone: so is the login (§5.6).
            let _ = t.logout();
        }
    }

    /// `C_CloseSession` (§5.6).
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let (s, t) = self.session(h)?;
        self.sessions.write().remove(&h);
        self.end_session(&s.lock(), t);
        self.after_close(t);
        Ok(())
    }

    /// `C_CloseAllSessions` (§5.6).
    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        let t = Arc::clone(self.token(slot)?);
        let gone: Vec<_> = {
            let mut all = self.sessions.write();
            let hs: Vec<_> = all
                .iter()
                .filter(|(_, s)| s.lock().slot == slot)
                .map(|(h, _)| *h)
                .collect();
            hs.iter().filter_map(|h| all.remove(h)).collect()
        };
        for s in gone {
            self.end_session(&s.lock(), &t);
        }
        self.after_close(&t);
        Ok(())
    }

    /// `C_GetSessionInfo` (§5.6).
    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<SessionInfo> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let state = match (&t.state.read().login, s.rw) {
            (Login::Public, false) => CKS_RO_PUBLIC_SESSION,
            (Login::Public, true) => CKS_RW_PUBLIC_SESSION,
            (Login::User(_), false) => CKS_RO_USER_FUNCTIONS,
            (Login::User(_), true) => CKS_RW_USER_FUNCTIONS,
            (Login::So, _) => CKS_RW_SO_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if s.rw { CKF_RW_SESSION } else { 0 };
        Ok(SessionInfo {
            slot: s.slot,
            state,
            flags,
            device_error: 0,
        })
    }

    /// `C_SessionCancel` (§5.6, 3.0): ends the operations named by `flags`.
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        let ops = &mut s.ops;
        let table: [(CK_FLAGS, &mut dyn FnMut()); 9] = [
            (CKF_ENCRYPT, &mut || ops.encrypt = None),
            (CKF_DECRYPT, &mut || ops.decrypt = None),
            (CKF_DIGEST, &mut || ops.digest = None),
            (CKF_SIGN, &mut || ops.sign = None),
            (CKF_VERIFY, &mut || ops.verify = None),
            (CKF_FIND_OBJECTS, &mut || ops.find = None),
            (CKF_MESSAGE_ENCRYPT, &mut || ops.message_encrypt = None),
            (CKF_MESSAGE_DECRYPT, &mut || ops.message_decrypt = None),
            (0, &mut || {}),
        ];
        for (flag, cancel) in table {
            if flag != 0 && flags & flag != 0 {
                cancel();
            }
        }
        Ok(())
    }

    /// `C_Login` and `C_LoginUser` (§5.6); `username` is `None` for `C_Login`.
    pub fn login(
        &self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: &[u8],
        username: Option<&[u8]>,
    ) -> Result<()> {
        let (sess, t) = self.session(h)?;
        let current = t.state.read().login.clone();
        let who = match user {
            CKU_SO => Login::So,
            CKU_USER => match username {
                None => Login::User(USER.into()),
                // "user" or a named principal; an unknown name is a wrong PIN.
                Some(n) => Login::User(principals::login_name(n)?),
            },
            CKU_CONTEXT_SPECIFIC => {
                // §5.6.8: only for an operation that was just started with a key
                // whose CKA_ALWAYS_AUTHENTICATE is TRUE (or any signing/decryption).
                let mut s = sess.lock();
                if s.ops.sign.is_none() && s.ops.decrypt.is_none() {
                    return Err(Error::OperationNotInitialized);
                }
                if !matches!(current, Login::User(_)) {
                    return Err(Error::UserNotLoggedIn);
                }
                t.change_pin_check(&Token::row_of(&current)?, pin, &self.rec(t, "C_Login", h))?;
                s.context_login_needed = false;
                return Ok(());
            }
            _ => return Err(Error::UserTypeInvalid),
        };
        // Logged in or logging in (another thread runs the KDF): refused at
        // once; `Token::login` decides again under the token's lock.
        t.check_login(&who)?;
        if who == Login::So && self.sessions_of(t.cfg.id).iter().any(|s| !s.lock().rw) {
            return Err(Error::SessionReadOnlyExists);
        }
        let principal = principal_of(&who);
        let function = if username.is_some() {
            "C_LoginUser"
        } else {
            "C_Login"
        };
        t.login(who, pin, &AuditRecord::management(function, &principal, h))?;
        // Scheduled deletions that came due while nobody looked happen now.
        let now = clock::now_unix();
        let due: Vec<Arc<Object>> = {
            let st = t.state.read();
            st.objects
                .iter()
                .filter(|o| lifecycle::deletion_due(o, now))
                .cloned()
                .collect()
        };
        for o in due {
            log::info!(
                "key {}: its scheduled deletion is due; destroyed",
                o.unique_id()
            );
            match gate::remove(t, h, &o, "scheduled deletion") {
                // Changed by another writer since it was read (its deletion
                // cancelled, say): it is checked again at its next use.
                Err(Error::Conflict) => {}
                r => r?,
            }
        }
        Ok(())
    }

    /// `C_Logout` (§5.6).
    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let (_, t) = self.session(h)?;
        if t.state.read().login == Login::Public {
            return Err(Error::UserNotLoggedIn);
        }
        if let Ok(store) = t.store() {
            t.auditor.flush_all(&store);
            let _ = t.auditor.management(&store, &[self.rec(t, "C_Logout", h)]);
        }
        t.logout()
    }

    /// `C_CreateObject` (§5.7).
    pub fn create_object(
        &self,
        h: CK_SESSION_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        t.refresh()?;
        let principal = template
            .iter()
            .any(|a| a.ty == CKA_CLASS && a.as_ulong().ok() == Some(CKO_SOFTKMS_PRINCIPAL));
        if principal {
            return self.create_principal(&s, t, template);
        }
        let attrs = rules::new_object(
            template,
            Origin::Create,
            &Vec::new(),
            &random_uid()?,
            Self::is_so(t),
        )?;
        self.add_object("C_CreateObject", &s, t, attrs)
    }

    /// `C_CreateObject` of class `CKO_SOFTKMS_PRINCIPAL`: the SO makes a named
    /// principal with its own PIN (`docs/policy.md`). The object itself holds the
    /// name only; the PIN wraps the token master key in the store.
    fn create_principal(
        &self,
        s: &Session,
        t: &Token,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if !Self::is_so(t) {
            return Err(Error::UserNotLoggedIn);
        }
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        let p = principals::parse_create(template)?;
        t.check_pin_len(&p.pin)?;
        let rec = self
            .rec(t, "C_CreateObject", s.handle)
            .with_reason(&format!("principal {}", p.name));
        t.add_principal(&p.name, &p.pin, &rec)?;
        let made = rules::new_object(
            &principals::stored_template(&p.name),
            Origin::Create,
            &Vec::new(),
            &random_uid()?,
            true,
        )
        .and_then(|attrs| self.add_object("C_CreateObject", s, t, attrs));
        if made.is_err() {
            let _ = t.remove_principal(&p.name, &rec.clone().with_reason("undone"));
        }
        made
    }

    /// `C_CopyObject` (§5.7). A copy of a key is a use of it (the key gate,
    /// `Use::Copy`: `ManageKey`, and an Enabled key); it keeps every KMS
    /// attribute of its source, so that nothing about a copy is wider than its
    /// source: the template may not name them (`CKR_ATTRIBUTE_READ_ONLY`), but
    /// for a policy, which also needs `SetPolicy`. A managed key, whose versions
    /// and rotation belong to one key, is not copied (`CKR_ACTION_PROHIBITED`).
    pub fn copy_object(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let src = self.object(t, obj, Error::ObjectHandleInvalid)?;
        if src.class() == Some(CKO_SOFTKMS_PRINCIPAL) {
            return Err(Error::ActionProhibited);
        }
        let is_key = matches!(
            src.class(),
            Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
        );
        if !is_key {
            let attrs = rules::copy_object(&src, template, &random_uid()?)?;
            return self.add_object("C_CopyObject", &s, t, attrs);
        }
        let refuse = |e: Error| {
            gate::record_use(
                t,
                h,
                "C_CopyObject",
                0,
                &[],
                src.unique_id(),
                None,
                Some(&e),
            );
            Err(e)
        };
        if src.get(crate::kms::abi::CKA_SOFTKMS_VERSIONS).is_some() {
            log::info!("key {}: a managed key is not copied", src.unique_id());
            return refuse(Error::ActionProhibited);
        }
        if let Some(a) = template.iter().find(|a| {
            crate::kms::abi::is_vendor(a.ty)
                && a.ty != crate::kms::abi::CKA_SOFTKMS_POLICY
                && a.ty != crate::kms::abi::CKA_SOFTKMS_POLICY_FORCE
        }) {
            log::info!("C_CopyObject: the copy keeps its source's 0x{:x}", a.ty);
            return refuse(Error::AttributeReadOnly(a.ty));
        }
        let req = Request {
            handle: obj,
            what: Use::Copy,
            mech: 0,
            key_types: &[],
            context: &[],
            caller_iv: false,
            invalid: Error::ObjectHandleInvalid,
        };
        gate::using(t, h, "C_CopyObject", std::slice::from_ref(&req), |_| {
            let new_policy = template
                .iter()
                .any(|a| a.ty == crate::kms::abi::CKA_SOFTKMS_POLICY);
            if new_policy {
                self.check_policy(t, &src, policy::Action::SetPolicy)?;
            }
            let attrs = rules::copy_object(&src, template, &random_uid()?)?;
            self.add_object("C_CopyObject", &s, t, attrs)
        })
    }

    /// `C_DestroyObject` (§5.7).
    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<()> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        if o.is_token() && !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if !o.flag(CKA_DESTROYABLE, true) {
            return Err(Error::ActionProhibited);
        }
        if o.class() == Some(CKO_SOFTKMS_PRINCIPAL) {
            if !Self::is_so(t) {
                return Err(Error::UserNotLoggedIn);
            }
            let name = String::from_utf8_lossy(o.get(CKA_LABEL).unwrap_or_default()).into_owned();
            t.remove_principal(
                &name,
                &self
                    .rec(t, "C_DestroyObject", h)
                    .with_reason(&format!("principal {name}")),
            )?;
        } else {
            self.check_policy(t, &o, policy::Action::ManageKey)
                .inspect_err(|e| self.audit_denial(t, "C_DestroyObject", h, &o, e))?;
        }
        if o.is_token() {
            t.unpersist(&o, &self.rec(t, "C_DestroyObject", h))
        } else {
            t.state.write().objects.remove(o.handle);
            Ok(())
        }
    }

    /// `C_GetObjectSize` (§5.7).
    pub fn object_size(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<CK_ULONG> {
        let (_, t) = self.session(h)?;
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        Ok(CK_ULONG::try_from(rules::object_size(&o)).unwrap_or(CK_UNAVAILABLE_INFORMATION))
    }

    /// `C_GetAttributeValue` (§5.7): one answer per asked type, in order; `ffi`
    /// applies the length rules and picks the return value.
    pub fn get_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrRead>> {
        let (_, t) = self.session(h)?;
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        let mut out: Vec<AttrRead> = types
            .iter()
            .map(|ty| rules::read_attribute(&o, *ty))
            .collect();
        // A key's material in clear (a non-sensitive key's CKA_VALUE …) leaves
        // the token: a use of the key, through the key gate (`ExportKey`, an
        // Enabled key). Refused, it reads as sensitive (§5.7.5).
        if matches!(o.class(), Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)) {
            let material = rules::key_material_types(o.attrs());
            let reveals = |(ty, r): (&CK_ATTRIBUTE_TYPE, &AttrRead)| {
                material.contains(ty) && matches!(r, AttrRead::Value(_))
            };
            if types.iter().zip(out.iter()).any(reveals) {
                let read = gate::admit(
                    t,
                    h,
                    "C_GetAttributeValue",
                    &Request {
                        handle: obj,
                        what: Use::Read,
                        mech: 0,
                        key_types: &[],
                        context: &[],
                        caller_iv: false,
                        invalid: Error::ObjectHandleInvalid,
                    },
                );
                if read.is_err() {
                    for (ty, r) in types.iter().zip(out.iter_mut()) {
                        if material.contains(ty) {
                            *r = AttrRead::Sensitive;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// `C_SetAttributeValue` (§5.7). A read-modify-write of the object: when
    /// another writer (thread or process) changed it between the read and the
    /// write, the conditional write refuses, and the change is made again on the
    /// object as it is now, so that neither writer's change is lost (two
    /// rotations make two versions).
    pub fn set_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<()> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            match self.set_attributes_once(h, obj, template) {
                Err(Error::Conflict) => continue,
                r => return r,
            }
        }
        log::warn!("C_SetAttributeValue: the object kept changing under us; giving up");
        Err(Error::Conflict)
    }

    fn set_attributes_once(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<()> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        if o.is_token() && !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if o.class() == Some(CKO_SOFTKMS_PRINCIPAL) {
            // A principal's PIN, reset by the SO; nothing is stored in the object.
            if !Self::is_so(t) {
                return Err(Error::UserNotLoggedIn);
            }
            let pin = principals::parse_set_pin(template)?;
            let name = String::from_utf8_lossy(o.get(CKA_LABEL).unwrap_or_default()).into_owned();
            return t.set_principal_pin(
                &name,
                &pin,
                &self
                    .rec(t, "C_SetAttributeValue", h)
                    .with_reason("principal PIN"),
            );
        }
        let types: Vec<CK_ATTRIBUTE_TYPE> = template.iter().map(|a| a.ty).collect();
        for action in policy::actions_for_set(&types) {
            self.check_policy(t, &o, action)
                .inspect_err(|e| self.audit_denial(t, "C_SetAttributeValue", h, &o, e))?;
        }
        let mut attrs = rules::set_attributes(&o, template, Self::is_so(t))?;
        let force = attrs
            .remove(&crate::kms::abi::CKA_SOFTKMS_POLICY_FORCE)
            .is_some_and(|v| v.first().is_some_and(|b| *b != 0));
        if let Some(a) = template
            .iter()
            .find(|a| a.ty == crate::kms::abi::CKA_SOFTKMS_POLICY)
        {
            if !a.value.is_empty() {
                policy::check_set(&policy::parse(&a.value)?, force)?;
            }
        }
        if let Some(a) = template.iter().find(|a| a.ty == CKA_SOFTKMS_IMPORT_FROM) {
            // The source's material is copied into this key: a use of the
            // source, through the key gate like a copy.
            let src = gate::admit(
                t,
                h,
                "C_SetAttributeValue",
                &Request {
                    handle: a.as_ulong()?,
                    what: Use::Copy,
                    mech: 0,
                    key_types: &[],
                    context: &[],
                    caller_iv: false,
                    invalid: Error::AttributeValueInvalid(CKA_SOFTKMS_IMPORT_FROM),
                },
            )?;
            let src = src.key();
            let material = match (src.class(), src.get(CKA_VALUE)) {
                (Some(CKO_SECRET_KEY), Some(v)) => zeroize::Zeroizing::new(v.to_vec()),
                _ => return Err(Error::AttributeValueInvalid(CKA_SOFTKMS_IMPORT_FROM)),
            };
            lifecycle::reimport(&o, &mut attrs, &material)?;
        }
        lifecycle::on_set(&o, &mut attrs, template, clock::now_unix())?;
        let new = Object::new(o.handle, o.session, attrs);
        if new.is_private() && !matches!(t.state.read().login, Login::User(_)) {
            return Err(Error::UserNotLoggedIn);
        }
        if o.is_token() {
            t.update(
                &o,
                new.attrs().clone(),
                &self
                    .rec(t, "C_SetAttributeValue", h)
                    .with_reason(&describe_change(template)),
            )?;
        } else {
            protect_key_material(new.attrs());
            t.state.write().objects.insert(Arc::new(new));
        }
        Ok(())
    }

    /// `C_FindObjectsInit` (§5.7).
    pub fn find_init(&self, h: CK_SESSION_HANDLE, template: &Template) -> Result<()> {
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        if s.ops.find.is_some() {
            return Err(Error::OperationActive);
        }
        t.refresh()?;
        let st = t.state.read();
        let login = st.login.clone();
        let mut pending = st.objects.find(template, |o| gate::visible(&login, o));
        pending.reverse();
        s.ops.find = Some(FindState { pending });
        Ok(())
    }

    /// `C_FindObjects` (§5.7): up to `max` more handles.
    pub fn find(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        let f = s.ops.find.as_mut().ok_or(Error::OperationNotInitialized)?;
        let n = max.min(f.pending.len());
        let at = f.pending.len() - n;
        let mut out = f.pending.split_off(at);
        out.reverse();
        Ok(out)
    }

    /// `C_FindObjectsFinal` (§5.7).
    pub fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        s.ops
            .find
            .take()
            .map(|_| ())
            .ok_or(Error::OperationNotInitialized)
    }

    /// `C_GenerateKey` (§5.15).
    pub fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = registry::get(mech.mech)?;
        let gen = def.functions.generate_key.ok_or(Error::MechanismInvalid)?;
        let generated = gen(mech, template)?;
        let origin = Origin::Generate {
            mechanism: mech.mech,
        };
        let attrs =
            rules::new_object(template, origin, &generated, &random_uid()?, Self::is_so(t))?;
        self.add_object("C_GenerateKey", &s, t, attrs)
    }

    /// `C_GenerateKeyPair` (§5.15): (public, private).
    pub fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        public: &Template,
        private: &Template,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = registry::get(mech.mech)?;
        let gen = def
            .functions
            .generate_key_pair
            .ok_or(Error::MechanismInvalid)?;
        let (gpub, gpriv) = gen(mech, public, private)?;
        let origin = Origin::Generate {
            mechanism: mech.mech,
        };
        let so = Self::is_so(t);
        let pub_attrs = rules::new_object(public, origin, &gpub, &random_uid()?, so)?;
        let priv_attrs = rules::new_object(private, origin, &gpriv, &random_uid()?, so)?;
        let hpub = self.add_object("C_GenerateKeyPair", &s, t, pub_attrs)?;
        match self.add_object("C_GenerateKeyPair", &s, t, priv_attrs) {
            Ok(hpriv) => Ok((hpub, hpriv)),
            Err(e) => {
                // Keep the pair whole: undo the public half.
                if let Ok(o) = self.object(t, hpub, Error::ObjectHandleInvalid) {
                    if o.is_token() {
                        let _ = t.unpersist(
                            &o,
                            &self
                                .rec(t, "C_GenerateKeyPair", h)
                                .with_reason("undone: the private half failed"),
                        );
                    } else {
                        t.state.write().objects.remove(hpub);
                    }
                }
                Err(e)
            }
        }
    }

    /// `C_WrapKey` (§5.15). Both keys pass the key gate: the wrapping key for
    /// `CKA_WRAP`, the wrapped key as an export of its material.
    pub fn wrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        wrapping_key: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        out: &mut OutBuf,
    ) -> Result<()> {
        let (_s, t) = self.session(h)?;
        let def = registry::get(mech.mech)?;
        let wrap = def.functions.wrap.ok_or(Error::MechanismInvalid)?;
        let reqs = [
            Request {
                handle: wrapping_key,
                what: Use::Wrap,
                mech: mech.mech,
                key_types: def.key_types,
                context: mech.param.context(),
                caller_iv: registry::caller_chooses_iv(mech.mech),
                invalid: Error::WrappingKeyHandleInvalid,
            },
            Request {
                handle: key,
                what: Use::Export,
                mech: mech.mech,
                key_types: &[],
                context: mech.param.context(),
                caller_iv: false,
                invalid: Error::KeyHandleInvalid,
            },
        ];
        gate::using(t, h, "C_WrapKey", &reqs, |both| {
            let [wk, k] = both else {
                return Err(Error::General(
                    "the gate granted another number of keys".into(),
                ));
            };
            let k = k.key();
            rules::check_wrappable(wk.key(), k)?;
            let bytes = match k.class() {
                Some(CKO_SECRET_KEY) => zeroize::Zeroizing::new(
                    k.get(CKA_VALUE).ok_or(Error::KeyNotWrappable)?.to_vec(),
                ),
                Some(CKO_PRIVATE_KEY) => keys::private_key_to_pkcs8(k)?,
                _ => return Err(Error::KeyNotWrappable),
            };
            let wrapped = wrap(mech, wk, &bytes)?;
            out.write(&wrapped).map(|_| ())
        })
    }

    /// `C_UnwrapKey` (§5.15).
    pub fn unwrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        unwrapping_key: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = registry::get(mech.mech)?;
        let unwrap = def.functions.unwrap.ok_or(Error::MechanismInvalid)?;
        let invalid = Error::UnwrappingKeyHandleInvalid;
        self.use_key(
            t,
            h,
            "C_UnwrapKey",
            def,
            mech,
            unwrapping_key,
            Use::Unwrap,
            invalid,
            |uk| {
                let template = rules::apply_unwrap_template(uk.key(), template)?;
                let class = template
                    .iter()
                    .find(|a| a.ty == CKA_CLASS)
                    .ok_or(Error::TemplateIncomplete { missing: CKA_CLASS })?
                    .as_ulong()?;
                let bytes = if registry::tries_versions(mech.mech) {
                    let mut result = Err(Error::WrappedKeyInvalid);
                    for k in uk.each_version() {
                        result = unwrap(mech, &k, wrapped);
                        if result.is_ok() {
                            break;
                        }
                    }
                    result?
                } else {
                    unwrap(mech, uk, wrapped)?
                };
                let generated = match class {
                    CKO_SECRET_KEY => vec![Attribute::new(CKA_VALUE, bytes.to_vec())],
                    CKO_PRIVATE_KEY => keys::private_key_from_pkcs8(&bytes)?,
                    _ => {
                        return Err(Error::TemplateInconsistent(
                            "only secret and private keys unwrap",
                        ))
                    }
                };
                let attrs = rules::new_object(
                    &template,
                    Origin::Unwrap,
                    &generated,
                    &random_uid()?,
                    Self::is_so(t),
                )?;
                self.add_object("C_UnwrapKey", &s, t, attrs)
            },
        )
    }

    /// `C_DeriveKey` (§5.15). `mech` may carry output fields (vendor mechanisms).
    pub fn derive_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &mut Mechanism,
        base_key: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = registry::get(mech.mech)?;
        let derive = def.functions.derive.ok_or(Error::MechanismInvalid)?;
        self.derive_with(t, h, def, mech, base_key, |mech, base, lookup| {
            if mech.mech == CKM_HKDF_DATA {
                self.derive_data(&s, t, mech, derive, base, lookup, template)
            } else {
                self.derive_object(&s, t, mech, derive, base, lookup, template)
            }
        })
    }

    /// `C_DeriveKey` of a key object from a base key the gate granted.
    #[allow(clippy::too_many_arguments)]
    fn derive_object(
        &self,
        s: &Session,
        t: &Token,
        mech: &mut Mechanism,
        derive: DeriveFn,
        base: &Granted,
        lookup: &SessionKeys,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let template = rules::apply_derive_template(base.key(), template)?;
        let value_len = match template.iter().find(|a| a.ty == CKA_VALUE_LEN) {
            Some(a) => Some(derived_len(a.as_ulong()?)?),
            None => None,
        };
        let bytes = derive(mech, base, value_len, lookup)?;
        let base = base.key();
        let sensitive = |tmpl: &Template| {
            tmpl.iter()
                .find(|a| a.ty == CKA_SENSITIVE)
                .and_then(|a| a.as_bool().ok())
                .unwrap_or(false)
        };
        let extractable = |tmpl: &Template| {
            tmpl.iter()
                .find(|a| a.ty == CKA_EXTRACTABLE)
                .and_then(|a| a.as_bool().ok())
                .unwrap_or(true)
        };
        let generated = vec![
            Attribute::new(CKA_VALUE, bytes.to_vec()),
            Attribute::bool(
                CKA_ALWAYS_SENSITIVE,
                base.flag(CKA_ALWAYS_SENSITIVE, false) && sensitive(&template),
            ),
            Attribute::bool(
                CKA_NEVER_EXTRACTABLE,
                base.flag(CKA_NEVER_EXTRACTABLE, false) && !extractable(&template),
            ),
        ];
        let attrs = rules::new_object(
            &template,
            Origin::Derive,
            &generated,
            &random_uid()?,
            Self::is_so(t),
        )?;
        self.add_object("C_DeriveKey", s, t, attrs)
    }

    /// CKM_HKDF_DATA (PKCS#11 3.0 §2.43.3): HKDF derive whose output is a
    /// CKO_DATA object holding the derived bytes. The template names the
    /// length with CKA_VALUE_LEN, which a data object does not have, so it is
    /// taken out; CKA_CLASS defaults to CKO_DATA and no other class is allowed.
    #[allow(clippy::too_many_arguments)]
    fn derive_data(
        &self,
        s: &Session,
        t: &Token,
        mech: &mut Mechanism,
        derive: DeriveFn,
        base: &Granted,
        lookup: &SessionKeys,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let mut template = template.clone();
        let mut value_len = None;
        if let Some(i) = template.iter().position(|a| a.ty == CKA_VALUE_LEN) {
            let a = template.remove(i);
            value_len = Some(derived_len(a.as_ulong()?)?);
        }
        match template.iter().find(|a| a.ty == CKA_CLASS) {
            Some(a) if a.as_ulong()? != CKO_DATA => {
                return Err(Error::TemplateInconsistent(
                    "CKM_HKDF_DATA makes a CKO_DATA object",
                ))
            }
            Some(_) => {}
            None => template.push(Attribute::ulong(CKA_CLASS, CKO_DATA)),
        }
        let bytes = derive(mech, base, value_len, lookup)?;
        let generated = vec![Attribute::new(CKA_VALUE, bytes.to_vec())];
        let attrs = rules::new_object(
            &template,
            Origin::Derive,
            &generated,
            &random_uid()?,
            Self::is_so(t),
        )?;
        self.add_object("C_DeriveKey", s, t, attrs)
    }

    /// `C_SeedRandom` (§5.16): the OS generator needs no seed; refused as the
    /// standard allows.
    pub fn seed_random(&self, h: CK_SESSION_HANDLE, _seed: &[u8]) -> Result<()> {
        self.session(h)?;
        Err(Error::RandomSeedNotSupported)
    }

    /// `C_GenerateRandom` (§5.16).
    pub fn generate_random(&self, h: CK_SESSION_HANDLE, buf: &mut [u8]) -> Result<()> {
        self.session(h)?;
        crate::mechanism::rng::fill(buf)
    }
}

/// A derived key's length from the template (`CKA_VALUE_LEN`), checked against
/// the longest key any derive mechanism makes before anything is allocated.
fn derived_len(v: CK_ULONG) -> Result<usize> {
    usize::try_from(v)
        .ok()
        .filter(|n| *n <= crate::mechanism::MAX_DERIVED_LEN)
        .ok_or(Error::AttributeValueInvalid(CKA_VALUE_LEN))
}

/// The keys a derive mechanism's parameter names, as the key gate granted them
/// before the mechanism ran; it hands out no other.
struct SessionKeys {
    granted: Vec<(CK_OBJECT_HANDLE, Granted)>,
}

impl KeyLookup for SessionKeys {
    fn key(&self, handle: CK_OBJECT_HANDLE) -> Result<Granted> {
        self.granted
            .iter()
            .find(|(h, _)| *h == handle)
            .map(|(_, g)| g.clone())
            .ok_or_else(|| {
                log::error!("a mechanism asked for key {handle} its parameter does not name");
                Error::KeyHandleInvalid
            })
    }
}
