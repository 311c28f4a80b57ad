//! Process exit: a handler registered with `atexit`. The module uses it to flush
//! the audit aggregates of a process that exits without `C_Finalize`
//! (`docs/audit.md`, "What a crash can lose"). The library is linked with
//! `-z nodelete` (build.rs), so the handler's code stays mapped until the
//! process ends.

use std::sync::Once;

static REGISTERED: Once = Once::new();

/// Runs `f` when the process exits normally (`exit`, a return from `main`);
/// registered once per process, whatever `f` later calls find.
pub(crate) fn at_exit(f: extern "C" fn()) {
    REGISTERED.call_once(|| {
        // SAFETY: `atexit` only records the function pointer; `f` is a plain
        // `extern "C" fn()` of this library, whose code is never unmapped
        // (`-z nodelete`). A failure (no room for more handlers) is logged.
        let rc = unsafe { libc::atexit(f) };
        if rc != 0 {
            log::warn!("atexit: cannot register the handler at process exit");
        }
    });
}
