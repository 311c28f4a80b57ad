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
