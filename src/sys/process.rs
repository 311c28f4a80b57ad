//! The process: its id, cached, and forgotten in a forked child.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Once;

/// This process's id, without a system call after the first (glibc's `getpid`
/// is one since 2.25). A `pthread_atfork` handler forgets the cached id in a
/// forked child, so a child sees its own id (the module's fork check).
pub(crate) fn pid() -> u32 {
    static PID: AtomicU32 = AtomicU32::new(0);
    static HANDLER: Once = Once::new();
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    #[cfg(unix)]
    extern "C" fn forget_in_child() {
        PID.store(0, Ordering::Relaxed);
    }
    let cached = PID.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    HANDLER.call_once(|| {
        #[cfg(unix)]
        {
            // SAFETY: registers a handler that only stores to an atomic, which
            // is async-signal-safe as a fork child handler must be.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
            REGISTERED.store(rc == 0, Ordering::Relaxed);
        }
    });
    let id = std::process::id();
    if REGISTERED.load(Ordering::Relaxed) {
        PID.store(id, Ordering::Relaxed);
    }
    id
}
