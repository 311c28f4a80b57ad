//! What every entry point does around its body, before and after the module:
//! the failed state after a panic, the fork check, logging, and the mapping of
//! the outcome to a `CK_RV`.
//!
//! # A panic fails the module
//!
//! A panic is caught (it never unwinds into C) and returns `CKR_GENERAL_ERROR`.
//! It also marks the module *failed*: whatever the panicking call was doing may
//! be half done (an operation half stepped, a cache half updated; our locks do
//! not poison), so no later call trusts that state. From then on every call
//! returns `CKR_GENERAL_ERROR` without running, except
//!
//! - `C_Finalize`, which clears the failed state first and then finalizes as
//!   usual, so that `C_Initialize` works again afterwards; and
//! - `C_GetFunctionList`, `C_GetInterfaceList` and `C_GetInterface`, which only
//!   hand out the static function tables (the way to reach `C_Finalize`).
//!
//! The panic's message is logged at error level with the function's name
//! (`SOFTKMS_LOG=error` or finer). The failed state belongs to the process that
//! panicked: a forked child does not inherit it (it must call `C_Initialize`
//! anyway).
//!
//! # The fork check comes first
//!
//! PKCS#11 state does not cross `fork`: a child must call `C_Initialize` itself.
//! Every call that needs the module first compares this process's id with the
//! id of the process that last initialized the module through this interface,
//! both read from atomics before any lock is taken (logging included), so that
//! a child never waits on a lock a thread of its parent held at the fork. A
//! mismatch is `CKR_CRYPTOKI_NOT_INITIALIZED`. `C_Finalize` makes the same
//! check before the module's lock. `C_Initialize` goes on to the module, which
//! must replace the parent's state under its own lock.
//!
//! # Test builds
//!
//! With the cargo feature `test-clock` (the black-box tests' build of the
//! library, never a release), `SOFTKMS_TEST_PANIC=<C function name>` makes that
//! entry point panic before its body, so that `tests/ffi_panic.rs` can watch
//! the failed state through the real library.

use crate::error::{Error, Result};
use crate::sys;
use cryptoki_sys::*;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};

/// The module's standing in this interface: which process initialized it last,
/// and which process saw a panic since its last `C_Finalize`. Process ids, read
/// and written without a lock; 0 is "none" (no process has id 0).
pub(super) struct State {
    /// The process that last initialized the module through these entry points.
    pub(super) initialized_in: AtomicU32,
    /// The process whose module failed (a panic since its last `C_Finalize`).
    pub(super) failed_in: AtomicU32,
}

/// The state of the library's entry points.
pub(super) static STATE: State = State::new();

/// What an entry point is, for the failed state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// Hands out static tables only: runs even when the module failed.
    Lookup,
    /// `C_Initialize`: refused when failed; on success, records this process.
    Initialize,
    /// `C_Finalize`: clears the failed state, then runs.
    Finalize,
    /// Any other function: it needs the module of this process. Refused when
    /// failed, and `CKR_CRYPTOKI_NOT_INITIALIZED` unless this process
    /// initialized the module (the fork check), both before anything else.
    Module,
}

impl State {
    /// Not initialized, not failed.
    pub(super) const fn new() -> State {
        State {
            initialized_in: AtomicU32::new(0),
            failed_in: AtomicU32::new(0),
        }
    }

    /// True when a panic failed the module in this process since its last
    /// `C_Finalize`.
    pub(super) fn failed(&self) -> bool {
        self.failed_in.load(Ordering::Acquire) == sys::pid()
    }

    /// The fork check: `CKR_CRYPTOKI_NOT_INITIALIZED` unless this process is
    /// the one that last initialized the module (never in a forked child that
    /// has not called `C_Initialize` itself). Takes no lock.
    pub(super) fn check_process(&self) -> Result<()> {
        if self.initialized_in.load(Ordering::Acquire) == sys::pid() {
            Ok(())
        } else {
            Err(Error::NotInitialized)
        }
    }

    /// Runs the body `f` of the entry point `name` of kind `kind`: refused with
    /// `CKR_GENERAL_ERROR` when the module failed (see the module
    /// documentation), and for [`Kind::Module`] with
    /// `CKR_CRYPTOKI_NOT_INITIALIZED` unless this process initialized it
    /// ([`State::check_process`]); a panic is caught, logged with its message, fails the
    /// module and becomes `CKR_GENERAL_ERROR`; an `Err(e)` is logged at debug
    /// level and becomes `e.rv()`. Nothing of the arguments is logged, so no
    /// PIN or data can leak.
    pub(super) fn run(
        &self,
        name: &'static str,
        kind: Kind,
        f: impl FnOnce() -> Result<()>,
    ) -> CK_RV {
        // The checks come first: atomics only, no lock (a logger with a level
        // set has one, so the logging waits until after them).
        let refused: Option<Error> = match kind {
            Kind::Lookup => None,
            Kind::Finalize => {
                self.failed_in.store(0, Ordering::Release);
                None
            }
            Kind::Initialize | Kind::Module if self.failed() => Some(Error::General(
                "the module failed after a panic; CKR_GENERAL_ERROR until C_Finalize".into(),
            )),
            Kind::Initialize => None,
            Kind::Module => self.check_process().err(),
        };
        log::trace!("{name}");
        if let Some(e) = refused {
            log::debug!("{name} failed: {e}");
            return e.rv();
        }
        // AssertUnwindSafe: after a panic, nothing the closure touched is used
        // again until C_Finalize: the module is failed.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            test_panic(name);
            f()
        }));
        match outcome {
            Ok(Ok(())) => {
                if kind == Kind::Initialize {
                    self.initialized_in.store(sys::pid(), Ordering::Release);
                }
                CKR_OK
            }
            Ok(Err(e)) => {
                log::debug!("{name} failed: {e}");
                e.rv()
            }
            Err(payload) => {
                self.failed_in.store(sys::pid(), Ordering::Release);
                log::error!(
                    "{name} panicked: {}; the module has failed: every call returns CKR_GENERAL_ERROR until C_Finalize",
                    panic_message(payload.as_ref())
                );
                CKR_GENERAL_ERROR
            }
        }
    }
}

/// The message of a panic (`panic!` with a literal or a formatted string).
pub(super) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Test builds only: panics when `SOFTKMS_TEST_PANIC` names this function.
#[cfg(feature = "test-clock")]
fn test_panic(name: &str) {
    if std::env::var("SOFTKMS_TEST_PANIC").is_ok_and(|v| v == name) {
        panic!("SOFTKMS_TEST_PANIC={name}");
    }
}

#[cfg(not(feature = "test-clock"))]
fn test_panic(_name: &str) {}

/// An entry point that needs the module: the fork check, then refused once the
/// module failed (see [`State::run`]).
pub(super) fn guard(name: &'static str, f: impl FnOnce() -> Result<()>) -> CK_RV {
    STATE.run(name, Kind::Module, f)
}

/// `C_GetFunctionList`, `C_GetInterfaceList`, `C_GetInterface`: static tables,
/// handed out even when the module failed.
pub(super) fn lookup(name: &'static str, f: impl FnOnce() -> Result<()>) -> CK_RV {
    STATE.run(name, Kind::Lookup, f)
}
