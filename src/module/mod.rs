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

use crate::clock;
use crate::config::{Config, MechanismSettings};
use crate::error::{Error, Result};
use crate::gate::{self};
use crate::mechanism::{registry, MechanismDef};
use crate::object::Object;
use crate::remote::client::Remote;
use crate::session::Session;
use crate::store::audit::AuditRecord;
use crate::token::{Login, Token};
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

mod aliases;
mod audit;
mod key_mgmt;
mod key_use;
mod object;
mod ops;
mod session;
mod slot;
mod verify_signature;

pub(crate) use crate::info::{MechInfo, SessionInfo, SlotInfo, TokenInfo};
pub(crate) use audit::{audit_json, AuditFilter};
pub(crate) use ops::Operation;

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

/// The module-wide state of one initialization.
pub struct Module {
    tokens: Vec<Arc<Token>>,
    /// The slots served by `softkms serve` (client mode).
    remotes: Vec<Arc<Remote>>,
    sessions: RwLock<crate::token::cache::HandleMap<Arc<Mutex<Session>>>>,
    args: InitArgs,
    /// What the mechanisms offer (`min_rsa_bits`, `legacy_mechanisms`).
    settings: MechanismSettings,
    /// The most session objects (count, bytes) this module keeps: set for
    /// the modules `softkms serve` runs for its clients, so that one client
    /// cannot fill the server's memory (`CKR_DEVICE_MEMORY` beyond).
    session_objects: Option<(usize, usize)>,
}

/// Session objects one served connection may hold: how many, and their
/// bytes (`serve::pkcs11`, `docs/remote-protocol.md`).
#[cfg(feature = "serve")]
pub(crate) const SERVED_SESSION_OBJECTS: (usize, usize) = (1024, 16 << 20);

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
            remotes: cfg
                .remotes
                .iter()
                .cloned()
                .map(|r| Arc::new(Remote::new(r)))
                .collect(),
            sessions: RwLock::new(Default::default()),
            args,
            settings: cfg.mechanisms,
            session_objects: None,
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
                old.module.close();
            }
            Ok(())
        }
        _ => Err(Error::NotInitialized),
    }
}

/// A fresh session handle: unique in the process, never reused.
pub(crate) fn next_session_handle() -> CK_SESSION_HANDLE {
    NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
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

/// The principal of a login state, as the policy, the key's creator and the
/// audit log name it ("" for a session nobody logged in to).
fn principal_of(login: &Login) -> String {
    gate::principal_name(login).to_string()
}

impl Module {
    /// A module of its own for one client connection of `softkms serve`
    /// (`serve::pkcs11`): the one token of `slot`, with its own sessions,
    /// handles and login, as a separate process using the library would
    /// have. [`Module::close`] ends it.
    #[cfg(feature = "serve")]
    pub(crate) fn serving(slot: crate::config::SlotConfig, settings: MechanismSettings) -> Module {
        Module {
            tokens: vec![Arc::new(Token::new(slot))],
            remotes: Vec::new(),
            sessions: RwLock::new(Default::default()),
            args: InitArgs {
                os_locking_ok: true,
                ..InitArgs::default()
            },
            settings,
            session_objects: Some(SERVED_SESSION_OBJECTS),
        }
    }

    /// Ends this module's use of its tokens (`C_Finalize`, or the end of a
    /// served connection): closes the sessions, writes the aggregated audit
    /// events, logs out (which wipes the token master key) and closes the
    /// connections of remote slots.
    pub(crate) fn close(&self) {
        let sessions: Vec<_> = self.sessions.write().drain().map(|(_, s)| s).collect();
        for s in sessions {
            let s = s.lock();
            if let Ok(t) = self.token(s.slot) {
                self.end_session(&s, t);
            }
        }
        for t in &self.tokens {
            if let Ok(store) = t.store() {
                t.auditor.flush_all(&store);
            }
            let _ = t.logout();
        }
        for r in &self.remotes {
            r.disconnect();
        }
    }

    /// Refuses a session object of `size` bytes (replacing one of `replaced`
    /// bytes, or none) beyond this module's session-object budget.
    fn session_object_room(&self, tok: &Token, size: usize, replaced: Option<usize>) -> Result<()> {
        let Some((max_count, max_bytes)) = self.session_objects else {
            return Ok(());
        };
        let st = tok.state.read();
        let (count, bytes) = st.objects.iter().filter(|o| o.session.is_some()).fold(
            (0usize, 0usize),
            |(c, b), o| {
                (
                    c + 1,
                    b.saturating_add(crate::object::rules::object_size(o)),
                )
            },
        );
        let (count, bytes) = match replaced {
            Some(old) => (count, bytes.saturating_sub(old)),
            None => (count + 1, bytes),
        };
        if count > max_count || bytes.saturating_add(size) > max_bytes {
            log::warn!(
                "session objects: {count} objects, {bytes} bytes: over this connection's budget"
            );
            return Err(Error::DeviceMemory);
        }
        Ok(())
    }

    /// The sessions open now.
    #[cfg(feature = "serve")]
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.read().len()
    }

    /// The remote slot `slot`, when it is one.
    fn remote_slot(&self, slot: CK_SLOT_ID) -> Option<&Arc<Remote>> {
        self.remotes.iter().find(|r| r.cfg.id == slot)
    }

    /// The remote slot that session `h` belongs to, when it is one.
    fn remote(&self, h: CK_SESSION_HANDLE) -> Option<&Arc<Remote>> {
        if self.remotes.is_empty() {
            return None;
        }
        self.remotes.iter().find(|r| r.has_session(h))
    }

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

    /// The registry row of `mech` as this configuration has it in force, or
    /// `CKR_MECHANISM_INVALID` when the module does not offer it: every call
    /// that takes a mechanism asks here, so that what `C_GetMechanismList`
    /// and `C_GetMechanismInfo` report is what works.
    fn mechanism(&self, mech: CK_MECHANISM_TYPE) -> Result<MechanismDef> {
        registry::lookup(mech, &self.settings)
    }

    /// The mechanism settings in force.
    pub fn mechanism_settings(&self) -> MechanismSettings {
        self.settings
    }

    /// An object the session can see (`invalid` is the error for a bad handle).
    fn object(&self, tok: &Token, h: CK_OBJECT_HANDLE, invalid: Error) -> Result<Arc<Object>> {
        gate::lookup(tok, h, invalid)
    }

    /// A management audit record for a call on `tok` by whoever is logged in.
    fn rec(&self, tok: &Token, function: &str, h: CK_SESSION_HANDLE) -> AuditRecord {
        AuditRecord::management(function, tok.state.read().principal(h), h)
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
}
