//! A panic inside the module fails it until `C_Finalize` (`src/ffi/guard.rs`):
//! through the real library, with the test build's trigger
//! `SOFTKMS_TEST_PANIC=<C function name>` (cargo feature `test-clock`, never in
//! a release). Its own test binary, so its own process.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;

#[test]
fn a_panic_fails_the_module_until_finalize_and_is_logged() {
    let mut ctx = Ctx::new(1);
    // Log errors to a file: the first initialization with a level installs
    // the logger for the process.
    let log = ctx.dir.path().join("softkms.log");
    let conf = ctx.dir.path().join("softkms.toml");
    let slots = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        format!("log = \"error\"\nlog_file = \"{}\"\n{slots}", log.display()),
    )
    .unwrap();
    ctx.restart();
    let slot = ctx.init_token(0);
    let s = ctx.user_session(0);
    assert_eq!(s.generate_random_vec(16).unwrap().len(), 16);

    std::env::set_var("SOFTKMS_TEST_PANIC", "C_GenerateRandom");
    assert_eq!(rv(s.generate_random_vec(16)), RvError::GeneralError);
    std::env::remove_var("SOFTKMS_TEST_PANIC");

    // Failed: every call is refused, whatever it is, C_Initialize included.
    assert_eq!(rv(s.generate_random_vec(16)), RvError::GeneralError);
    assert_eq!(rv(ctx.p11.get_library_info()), RvError::GeneralError);
    assert_eq!(rv(ctx.p11.get_slot_info(slot)), RvError::GeneralError);
    assert_eq!(rv(s.find_objects(&[])), RvError::GeneralError);
    assert_eq!(
        rv(s.create_object(&[Attribute::Token(false)])),
        RvError::GeneralError
    );
    assert_eq!(
        rv(ctx
            .p11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))),
        RvError::GeneralError
    );
    // The function tables are still handed out (C_GetInterface).
    let again = Pkcs11::new(module_path()).expect("load the failed module");
    assert_eq!(rv(again.get_library_info()), RvError::GeneralError);
    drop(s); // its C_CloseSession fails too; cryptoki ignores that

    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("C_GenerateRandom panicked: SOFTKMS_TEST_PANIC=C_GenerateRandom"),
        "panic not logged: {logged:?}"
    );

    // C_Finalize clears the failed state; C_Initialize then works again.
    ctx.p11
        .clone()
        .finalize()
        .expect("finalize a failed module");
    ctx.p11 = Pkcs11::new(module_path()).expect("load module");
    ctx.p11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("initialize after finalize");
    assert!(ctx.p11.get_library_info().is_ok());
    let s = ctx.p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(s.generate_random_vec(16).unwrap().len(), 16);

    // The trigger is the test's: the same call panics again when asked to.
    std::env::set_var("SOFTKMS_TEST_PANIC", "C_GenerateRandom");
    assert_eq!(rv(s.generate_random_vec(16)), RvError::GeneralError);
    std::env::remove_var("SOFTKMS_TEST_PANIC");
    assert_eq!(rv(ctx.p11.get_library_info()), RvError::GeneralError);
    drop(s);
    ctx.p11.clone().finalize().expect("finalize");
    ctx.p11 = Pkcs11::new(module_path()).expect("load module");
    ctx.p11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("initialize");
}
