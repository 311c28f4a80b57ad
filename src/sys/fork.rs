//! Handlers around `fork(2)` (`pthread_atfork`). The library is linked with
//! `-z nodelete` (build.rs), so the handlers' code stays mapped until the
//! process ends.

use std::sync::Once;

static REGISTERED: Once = Once::new();

/// Registers `prepare` (in the forking thread, before the fork) and `after`
/// (in the same thread, after the fork, in the parent and in the child), once
/// per process.
pub(crate) fn at_fork(prepare: extern "C" fn(), after: extern "C" fn()) {
    REGISTERED.call_once(|| {
        // SAFETY: `pthread_atfork` only records the function pointers, plain
        // `extern "C" fn()`s of this library, whose code is never unmapped
        // (`-z nodelete`). A failure (no memory for the record) is logged.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(after), Some(after)) };
        if rc != 0 {
            log::warn!("pthread_atfork: cannot register the fork handlers ({rc})");
        }
    });
}
