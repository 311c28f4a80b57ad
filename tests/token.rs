//! PKCS#11 3.0 §5.4–5.6 through the built module: general functions, slots and
//! tokens, PIN management, sessions and login.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::session::{SessionState, UserType};

#[test]
fn library_and_slot_information() {
    let ctx = Ctx::new(2);
    let info = ctx.p11.get_library_info().unwrap();
    assert_eq!(info.cryptoki_version().major(), 3);
    assert_eq!(info.cryptoki_version().minor(), 0);
    assert_eq!(info.manufacturer_id(), "SoftKMS");
    let slots = ctx.p11.get_all_slots().unwrap();
    assert_eq!(slots.len(), 2);
    let si = ctx.p11.get_slot_info(slots[1]).unwrap();
    assert!(si.token_present());
    assert_eq!(si.slot_description(), "SoftKMS slot 1");
    assert_eq!(
        rv(ctx
            .p11
            .get_slot_info(cryptoki::slot::Slot::try_from(99u64).unwrap())),
        RvError::SlotIdInvalid
    );
}

#[test]
fn token_info_tells_the_truth() {
    let ctx = Ctx::new(1);
    let slot = ctx.slot(0);
    let ti = ctx.p11.get_token_info(slot).unwrap();
    assert!(!ti.token_initialized());
    assert!(!ti.user_pin_initialized());
    assert!(ti.rng());
    assert_eq!(
        rv(ctx.p11.open_rw_session(slot)),
        RvError::TokenNotRecognized
    );

    ctx.p11.init_token(slot, &pin(SO_PIN), "my token").unwrap();
    let ti = ctx.p11.get_token_info(slot).unwrap();
    assert!(ti.token_initialized());
    assert!(ti.login_required());
    assert!(!ti.user_pin_initialized());
    assert_eq!(ti.label(), "my token");
    assert_eq!(ti.serial_number().len(), 16);
    assert_eq!(ti.min_pin_length(), 4);
    assert_eq!(ti.total_public_memory(), None);
    assert_eq!(ti.session_count(), Some(0));

    let s = ctx.p11.open_rw_session(slot).unwrap();
    let ti = ctx.p11.get_token_info(slot).unwrap();
    assert_eq!(ti.session_count(), Some(1));
    assert_eq!(ti.rw_session_count(), Some(1));
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin(USER_PIN)).unwrap();
    assert!(ctx.p11.get_token_info(slot).unwrap().user_pin_initialized());
}

#[test]
fn wrong_pins_count_and_lock_and_the_lock_survives_a_restart() {
    let mut ctx = Ctx::with_config(1, "max_pin_failures = 3");
    let slot = ctx.init_token(0);
    let s = ctx.p11.open_ro_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("wrong-pin")))),
        RvError::PinIncorrect
    );
    let ti = ctx.p11.get_token_info(slot).unwrap();
    assert!(ti.user_pin_count_low());
    assert!(!ti.user_pin_final_try());
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("wrong-pin")))),
        RvError::PinIncorrect
    );
    assert!(ctx.p11.get_token_info(slot).unwrap().user_pin_final_try());
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("wrong-pin")))),
        RvError::PinLocked
    );
    assert!(ctx.p11.get_token_info(slot).unwrap().user_pin_locked());
    // Even the right PIN is refused now, also after a restart.
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinLocked
    );
    drop(s);
    ctx.restart();
    let slot = ctx.slot(0);
    assert!(ctx.p11.get_token_info(slot).unwrap().user_pin_locked());
    let s = ctx.p11.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinLocked
    );
    // The SO sets a new user PIN, which unlocks.
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin("fresh-pin")).unwrap();
    s.logout().unwrap();
    assert!(!ctx.p11.get_token_info(slot).unwrap().user_pin_locked());
    s.login(UserType::User, Some(&pin("fresh-pin"))).unwrap();
}

#[test]
fn a_right_pin_resets_the_counter() {
    let ctx = Ctx::with_config(1, "max_pin_failures = 3");
    let slot = ctx.init_token(0);
    let s = ctx.p11.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("wrong-pin")))),
        RvError::PinIncorrect
    );
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("wrong-pin")))),
        RvError::PinIncorrect
    );
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert!(!ctx.p11.get_token_info(slot).unwrap().user_pin_count_low());
}

#[test]
fn login_state_rules() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let rw = ctx.p11.open_rw_session(slot).unwrap();
    let ro = ctx.p11.open_ro_session(slot).unwrap();
    assert_eq!(
        ro.get_session_info().unwrap().session_state(),
        SessionState::RoPublic
    );
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
    // The SO cannot log in while a read-only session exists.
    assert_eq!(
        rv(rw.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::SessionReadOnlyExists
    );
    rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    // Login is per token: every session sees it.
    assert_eq!(
        ro.get_session_info().unwrap().session_state(),
        SessionState::RoUser
    );
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwUser
    );
    assert_eq!(
        rv(ro.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserAlreadyLoggedIn
    );
    assert_eq!(
        rv(ro.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::UserAnotherAlreadyLoggedIn
    );
    ro.logout().unwrap();
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
    assert_eq!(rv(rw.logout()), RvError::UserNotLoggedIn);
    drop(ro);
    rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwSecurityOfficer
    );
    // No read-only session while the SO is logged in.
    assert_eq!(
        rv(ctx.p11.open_ro_session(slot)),
        RvError::SessionReadWriteSoExists
    );
    // Closing the last session logs out.
    drop(rw);
    let s = ctx.p11.open_ro_session(slot).unwrap();
    assert_eq!(
        s.get_session_info().unwrap().session_state(),
        SessionState::RoPublic
    );
}

#[test]
fn pins_change_and_keep_their_limits() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let s = ctx.p11.open_rw_session(slot).unwrap();
    // Not logged in: C_SetPIN changes the user PIN after checking the old one.
    assert_eq!(
        rv(s.set_pin(&pin("not-the-pin"), &pin("new-user-pin"))),
        RvError::PinIncorrect
    );
    s.set_pin(&pin(USER_PIN), &pin("new-user-pin")).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinIncorrect
    );
    s.login(UserType::User, Some(&pin("new-user-pin"))).unwrap();
    assert_eq!(
        rv(s.set_pin(&pin("new-user-pin"), &pin("abc"))),
        RvError::PinLenRange
    );
    s.set_pin(&pin("new-user-pin"), &pin("third-user-pin"))
        .unwrap();
    s.logout().unwrap();
    // The SO's own PIN.
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.set_pin(&pin(SO_PIN), &pin("new-so-pin")).unwrap();
    s.logout().unwrap();
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::PinIncorrect
    );
    s.login(UserType::So, Some(&pin("new-so-pin"))).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin("third-user-pin")))
        .unwrap();
    // A read-only session cannot change PINs.
    let ro = ctx.p11.open_ro_session(slot).unwrap();
    assert_eq!(
        rv(ro.set_pin(&pin("third-user-pin"), &pin("fourth-pin"))),
        RvError::SessionReadOnly
    );
    // Only the SO may C_InitPIN.
    assert_eq!(
        rv(s.init_pin(&pin("another-pin"))),
        RvError::UserNotLoggedIn
    );
}

#[test]
fn reinitialization_needs_the_so_pin_and_wipes_everything() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        s.create_object(&[
            cryptoki::object::Attribute::Class(cryptoki::object::ObjectClass::DATA),
            cryptoki::object::Attribute::Token(true),
            cryptoki::object::Attribute::Label(b"doomed".to_vec()),
        ])
        .unwrap();
        // No re-initialization while a session is open.
        assert_eq!(
            rv(ctx.p11.init_token(slot, &pin(SO_PIN), "again")),
            RvError::SessionExists
        );
    }
    assert_eq!(
        rv(ctx.p11.init_token(slot, &pin("wrong-so-pin"), "again")),
        RvError::PinIncorrect
    );
    ctx.p11.init_token(slot, &pin(SO_PIN), "again").unwrap();
    let ti = ctx.p11.get_token_info(slot).unwrap();
    assert_eq!(ti.label(), "again");
    assert!(!ti.user_pin_initialized());
    let s = ctx.p11.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserPinNotInitialized
    );
    assert!(s.find_objects(&[]).unwrap().is_empty());
}

#[test]
fn random_numbers_and_bad_session_handles() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let s = ctx.p11.open_ro_session(slot).unwrap();
    let a = s.generate_random_vec(32).unwrap();
    let b = s.generate_random_vec(32).unwrap();
    assert_ne!(a, b);
    assert!(s.generate_random_vec(0).unwrap().is_empty());
    s.close().unwrap();
}

#[test]
fn mechanism_list_matches_mechanism_info() {
    let ctx = Ctx::new(1);
    let slot = ctx.slot(0);
    for m in ctx.p11.get_mechanism_list(slot).unwrap() {
        ctx.p11.get_mechanism_info(slot, m).unwrap();
    }
    let bogus = cryptoki::mechanism::MechanismType::new_vendor_defined(
        cryptoki_sys::CKM_VENDOR_DEFINED | 0x7777,
    )
    .unwrap();
    assert_eq!(
        rv(ctx.p11.get_mechanism_info(slot, bogus)),
        RvError::MechanismInvalid
    );
}

/// Every mechanism runs inside the token, so every one carries `CKF_HW`
/// (OpenSC's `pkcs11-tool --test` skips its signature tests otherwise).
#[test]
fn every_mechanism_is_performed_by_the_device() {
    let ctx = Ctx::new(1);
    let slot = ctx.slot(0);
    for m in ctx.p11.get_mechanism_list(slot).unwrap() {
        let info = ctx.p11.get_mechanism_info(slot, m).unwrap();
        assert!(info.hardware(), "{m} lacks CKF_HW");
    }
}
