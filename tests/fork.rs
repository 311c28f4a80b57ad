//! A forked child must call `C_Initialize` again and then works; the parent is
//! not disturbed (PKCS#11 3.0 §5.1 on fork, SoftHSMv2's behaviour).

#![allow(unsafe_code)] // fork() and waitpid() have no safe wrapper; each block says why it is sound.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, ObjectClass};

#[test]
fn a_forked_child_starts_fresh_and_the_parent_keeps_working() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Label(b"before-fork".to_vec()),
    ])
    .unwrap();

    // SAFETY: the child only runs the code below and leaves with _exit; no locks
    // of this process are held across the fork by this thread.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let before = ctx.p11.get_all_slots();
            assert!(
                matches!(
                    before,
                    Err(CkError::Pkcs11(RvError::CryptokiNotInitialized, _))
                ),
                "{before:?}"
            );
            ctx.p11
                .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
                .unwrap();
            let s = ctx.user_session(0);
            assert_eq!(
                s.find_objects(&[Attribute::Label(b"before-fork".to_vec())])
                    .unwrap()
                    .len(),
                1
            );
            s.create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(true),
                Attribute::Label(b"from-child".to_vec()),
            ])
            .unwrap();
        }))
        .map_or(1, |_| 0);
        // SAFETY: ends the child without running the parent's destructors or atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child created above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {status}"
    );
    // The parent's session still works and sees the child's object.
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"from-child".to_vec())])
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"before-fork".to_vec())])
            .unwrap()
            .len(),
        1
    );
}

/// Forks while another thread keeps calling into the module: every child's
/// `C_Initialize` returns, and so does every fork (the module's fork handlers
/// take its global lock before the fork and release it after, in both
/// processes, so that no thread of the parent holds it across the fork; a
/// handler that deadlocked, or a child that blocked, would fail the test, the
/// child by its alarm). The window in which a parent thread holds the lock is
/// short, so a module without the handlers passes most runs too.
#[test]
fn forks_while_another_thread_calls_in() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    // The raw function list: in the child, only the module's own code runs
    // (no lock of the test harness or of `cryptoki` is taken there).
    // SAFETY: the module under test; its initializers have no preconditions.
    let lib = unsafe { libloading::Library::new(module_path()) }.unwrap();
    // SAFETY: C_GetFunctionList has this signature (PKCS#11 3.0 §5.4.4).
    let get_list: libloading::Symbol<
        unsafe extern "C" fn(*mut cryptoki_sys::CK_FUNCTION_LIST_PTR) -> cryptoki_sys::CK_RV,
    > = unsafe { lib.get(b"C_GetFunctionList\0") }.unwrap();
    let mut list: cryptoki_sys::CK_FUNCTION_LIST_PTR = std::ptr::null_mut();
    // SAFETY: C_GetFunctionList writes one pointer to a static table.
    assert_eq!(unsafe { get_list(&mut list) }, cryptoki_sys::CKR_OK);
    // SAFETY: the table is static in the module, which stays loaded.
    let table = unsafe { &*list };
    let initialize = table.C_Initialize.unwrap();
    let finalize = table.C_Finalize.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = Arc::clone(&stop);
        let p11 = ctx.p11.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = p11.get_library_info();
                let _ = p11.get_all_slots();
            }
        })
    };
    for _ in 0..20 {
        // SAFETY: the child calls only the module's C functions and leaves
        // with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: alarm and _exit are async-signal-safe; the calls go
            // through the module's static function table.
            unsafe {
                libc::alarm(10);
                let ok = initialize(std::ptr::null_mut()) == cryptoki_sys::CKR_OK
                    && finalize(std::ptr::null_mut()) == cryptoki_sys::CKR_OK;
                libc::_exit(if ok { 0 } else { 1 });
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child created above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child failed or hung: {status}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
}
