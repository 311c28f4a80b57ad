//! One `extern "C"` function per `C_*` function of PKCS#11 3.0 (section numbers
//! are those of the 3.0 base specification), each a few
//! lines: check and convert the caller's pointers (`marshal`), call one
//! [`Module`] method, convert back. Each goes through `guard.rs` (panics and the
//! failed state, logging, `CK_RV`) and, except the functions that work before
//! `C_Initialize`, through [`with_module`] (the fork check, then the
//! initialized check). `unsafe` blocks hold only the pointer work: the calls
//! of `Module` methods stay outside them.
//!
//! None of these is exported by name: the function tables in `ffi/mod.rs` refer
//! to them, and only `C_GetFunctionList`, `C_GetInterfaceList` and
//! `C_GetInterface` are dynamic symbols.
//!
//! Safety contract of every function here: the caller passes arguments as the
//! PKCS#11 signature of that function describes: pointers are either null or
//! point at memory of the stated size, owned by the caller for the call (output
//! buffers with their lengths as §5.2 describes).

#![allow(non_snake_case)]

use super::guard::{guard, Kind, STATE};
use super::marshal;
use crate::error::{Error, Result};
use crate::module::{self, Module};
use cryptoki_sys::*;
use std::ffi::c_void;

mod crypto;
mod v3_2;
pub(super) use crypto::*;
pub(super) use v3_2::*;

/// [`guard`] plus the module of this process: `CKR_CRYPTOKI_NOT_INITIALIZED`
/// before `C_Initialize` and in a forked child (`guard` makes the fork check
/// first, without a lock; see `guard.rs`).
pub(super) fn with_module(name: &'static str, f: impl FnOnce(&Module) -> Result<()>) -> CK_RV {
    guard(name, || {
        let m = module::get()?;
        f(&m)
    })
}

/// A function SoftKMS does not implement: `CKR_FUNCTION_NOT_SUPPORTED` once initialized.
fn not_supported(name: &'static str) -> CK_RV {
    with_module(name, |_| Err(Error::FunctionNotSupported))
}

// ---------------------------------------------------------------- §5.4 general purpose

/// `C_Initialize` (PKCS#11 3.0 §5.4.1). Refused with `CKR_GENERAL_ERROR` while
/// the module is failed (until `C_Finalize`).
pub(super) unsafe extern "C" fn C_Initialize(p_init_args: *mut c_void) -> CK_RV {
    STATE.run("C_Initialize", Kind::Initialize, || {
        // SAFETY: pInitArgs is null or a CK_C_INITIALIZE_ARGS (§5.4.1).
        let args = unsafe { marshal::init_args(p_init_args) }?;
        module::initialize(args)
    })
}

/// `C_Finalize` (§5.4.2): `pReserved` must be null. Clears the failed state
/// left by a panic, whatever it returns.
pub(super) unsafe extern "C" fn C_Finalize(p_reserved: *mut c_void) -> CK_RV {
    STATE.run("C_Finalize", Kind::Finalize, || {
        if !p_reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        STATE.check_process()?;
        module::finalize()
    })
}

/// `C_GetInfo` (§5.4.3).
pub(super) unsafe extern "C" fn C_GetInfo(p_info: *mut CK_INFO) -> CK_RV {
    with_module("C_GetInfo", |m| {
        let dst = marshal::out_ptr(p_info)?;
        let info = marshal::ck_info(&m.info());
        // SAFETY: pInfo is a CK_INFO (§5.4.3), checked non-null.
        unsafe { dst.set(info) };
        Ok(())
    })
}

// ---------------------------------------------------------------- §5.5 slots and tokens

/// `C_GetSlotList` (§5.5.1), with the length-query rule.
pub(super) unsafe extern "C" fn C_GetSlotList(
    token_present: CK_BBOOL,
    p_slot_list: *mut CK_SLOT_ID,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    with_module("C_GetSlotList", |m| {
        let slots = m.slot_list(token_present != CK_FALSE);
        // SAFETY: pSlotList holds *pulCount ids or is null; pulCount is a CK_ULONG (§5.5.1).
        unsafe { marshal::list_out(p_slot_list, pul_count, &slots) }
    })
}

/// `C_GetSlotInfo` (§5.5.2).
pub(super) unsafe extern "C" fn C_GetSlotInfo(
    slot: CK_SLOT_ID,
    p_info: *mut CK_SLOT_INFO,
) -> CK_RV {
    with_module("C_GetSlotInfo", |m| {
        let dst = marshal::out_ptr(p_info)?;
        let info = m.slot_info(slot)?;
        // SAFETY: pInfo is a CK_SLOT_INFO (§5.5.2), checked non-null.
        unsafe { dst.set(marshal::ck_slot_info(&info)) };
        Ok(())
    })
}

/// `C_GetTokenInfo` (§5.5.3).
pub(super) unsafe extern "C" fn C_GetTokenInfo(
    slot: CK_SLOT_ID,
    p_info: *mut CK_TOKEN_INFO,
) -> CK_RV {
    with_module("C_GetTokenInfo", |m| {
        let dst = marshal::out_ptr(p_info)?;
        let info = m.token_info(slot)?;
        // SAFETY: pInfo is a CK_TOKEN_INFO (§5.5.3), checked non-null.
        unsafe { dst.set(marshal::ck_token_info(&info)) };
        Ok(())
    })
}

/// `C_WaitForSlotEvent` (§5.5.4): not supported (slots never change).
pub(super) unsafe extern "C" fn C_WaitForSlotEvent(
    _flags: CK_FLAGS,
    _p_slot: *mut CK_SLOT_ID,
    _p_reserved: *mut c_void,
) -> CK_RV {
    not_supported("C_WaitForSlotEvent")
}

/// `C_GetMechanismList` (§5.5.5), with the length-query rule.
pub(super) unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    p_list: *mut CK_MECHANISM_TYPE,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    with_module("C_GetMechanismList", |m| {
        let mechs = m.mechanism_list(slot)?;
        // SAFETY: pMechanismList holds *pulCount types or is null (§5.5.5).
        unsafe { marshal::list_out(p_list, pul_count, &mechs) }
    })
}

/// `C_GetMechanismInfo` (§5.5.6).
pub(super) unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    ty: CK_MECHANISM_TYPE,
    p_info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    with_module("C_GetMechanismInfo", |m| {
        let dst = marshal::out_ptr(p_info)?;
        let info = m.mechanism_info(slot, ty)?;
        // SAFETY: pInfo is a CK_MECHANISM_INFO (§5.5.6), checked non-null.
        unsafe { dst.set(marshal::ck_mechanism_info(&info)) };
        Ok(())
    })
}

/// `C_InitToken` (§5.5.7): the label is 32 blank-padded bytes.
pub(super) unsafe extern "C" fn C_InitToken(
    slot: CK_SLOT_ID,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
    p_label: *mut CK_UTF8CHAR,
) -> CK_RV {
    with_module("C_InitToken", |m| {
        // SAFETY: pPin holds ulPinLen bytes, pLabel 32 bytes (§5.5.7).
        let (pin, label) = unsafe { (marshal::pin(p_pin, pin_len)?, marshal::label(p_label)?) };
        m.init_token(slot, pin, label)
    })
}

/// `C_InitPIN` (§5.5.8).
pub(super) unsafe extern "C" fn C_InitPIN(
    h: CK_SESSION_HANDLE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    with_module("C_InitPIN", |m| {
        // SAFETY: pPin holds ulPinLen bytes (§5.5.8).
        let pin = unsafe { marshal::pin(p_pin, pin_len) }?;
        m.init_pin(h, pin)
    })
}

/// `C_SetPIN` (§5.5.9).
pub(super) unsafe extern "C" fn C_SetPIN(
    h: CK_SESSION_HANDLE,
    p_old: *mut CK_UTF8CHAR,
    old_len: CK_ULONG,
    p_new: *mut CK_UTF8CHAR,
    new_len: CK_ULONG,
) -> CK_RV {
    with_module("C_SetPIN", |m| {
        // SAFETY: pOldPin and pNewPin hold their lengths in bytes (§5.5.9).
        let (old, new) = unsafe { (marshal::pin(p_old, old_len)?, marshal::pin(p_new, new_len)?) };
        m.set_pin(h, old, new)
    })
}

// ---------------------------------------------------------------- §5.6 sessions

/// `C_OpenSession` (§5.6.1); the notification callback is not used.
pub(super) unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _p_application: *mut c_void,
    _notify: CK_NOTIFY,
    ph_session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    with_module("C_OpenSession", |m| {
        let dst = marshal::out_ptr(ph_session)?;
        let h = m.open_session(slot, flags)?;
        // SAFETY: phSession is a CK_SESSION_HANDLE (§5.6.1), checked non-null.
        unsafe { dst.set(h) };
        Ok(())
    })
}

/// `C_CloseSession` (§5.6.2).
pub(super) unsafe extern "C" fn C_CloseSession(h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_CloseSession", |m| m.close_session(h))
}

/// `C_CloseAllSessions` (§5.6.3).
pub(super) unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    with_module("C_CloseAllSessions", |m| m.close_all_sessions(slot))
}

/// `C_GetSessionInfo` (§5.6.4).
pub(super) unsafe extern "C" fn C_GetSessionInfo(
    h: CK_SESSION_HANDLE,
    p_info: *mut CK_SESSION_INFO,
) -> CK_RV {
    with_module("C_GetSessionInfo", |m| {
        let dst = marshal::out_ptr(p_info)?;
        let info = m.session_info(h)?;
        // SAFETY: pInfo is a CK_SESSION_INFO (§5.6.4), checked non-null.
        unsafe { dst.set(marshal::ck_session_info(&info)) };
        Ok(())
    })
}

/// `C_SessionCancel` (§5.6.5, 3.0).
pub(super) unsafe extern "C" fn C_SessionCancel(h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    with_module("C_SessionCancel", |m| m.session_cancel(h, flags))
}

/// `C_GetOperationState` (§5.6.6): not supported.
pub(super) unsafe extern "C" fn C_GetOperationState(
    _h: CK_SESSION_HANDLE,
    _p_state: *mut CK_BYTE,
    _pul_len: *mut CK_ULONG,
) -> CK_RV {
    not_supported("C_GetOperationState")
}

/// `C_SetOperationState` (§5.6.7): not supported.
pub(super) unsafe extern "C" fn C_SetOperationState(
    _h: CK_SESSION_HANDLE,
    _p_state: *mut CK_BYTE,
    _len: CK_ULONG,
    _h_enc: CK_OBJECT_HANDLE,
    _h_auth: CK_OBJECT_HANDLE,
) -> CK_RV {
    not_supported("C_SetOperationState")
}

/// `C_Login` (§5.6.8).
pub(super) unsafe extern "C" fn C_Login(
    h: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    with_module("C_Login", |m| {
        // SAFETY: pPin holds ulPinLen bytes (§5.6.8).
        let pin = unsafe { marshal::pin(p_pin, pin_len) }?;
        m.login(h, user, pin, None)
    })
}

/// `C_LoginUser` (§5.6.9, 3.0): the user name is required.
pub(super) unsafe extern "C" fn C_LoginUser(
    h: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
    p_username: *mut CK_UTF8CHAR,
    username_len: CK_ULONG,
) -> CK_RV {
    with_module("C_LoginUser", |m| {
        // SAFETY: pPin and pUsername hold their lengths in bytes (§5.6.9).
        let (pin, name) = unsafe {
            (
                marshal::pin(p_pin, pin_len)?,
                marshal::username(p_username, username_len)?,
            )
        };
        m.login(h, user, pin, Some(name))
    })
}

/// `C_Logout` (§5.6.10).
pub(super) unsafe extern "C" fn C_Logout(h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_Logout", |m| m.logout(h))
}

// ---------------------------------------------------------------- §5.7 objects

/// `C_CreateObject` (§5.7.1).
pub(super) unsafe extern "C" fn C_CreateObject(
    h: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_CreateObject", |m| {
        let dst = marshal::out_ptr(ph_object)?;
        // SAFETY: pTemplate holds ulCount attributes (§5.7.1).
        let t = unsafe { marshal::template(p_template, count) }?;
        let obj = m.create_object(h, &t)?;
        // SAFETY: checked non-null.
        unsafe { dst.set(obj) };
        Ok(())
    })
}

/// `C_CopyObject` (§5.7.2).
pub(super) unsafe extern "C" fn C_CopyObject(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_new: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_CopyObject", |m| {
        let dst = marshal::out_ptr(ph_new)?;
        // SAFETY: pTemplate holds ulCount attributes (§5.7.2).
        let t = unsafe { marshal::template(p_template, count) }?;
        let new = m.copy_object(h, obj, &t)?;
        // SAFETY: checked non-null.
        unsafe { dst.set(new) };
        Ok(())
    })
}

/// `C_DestroyObject` (§5.7.3).
pub(super) unsafe extern "C" fn C_DestroyObject(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_DestroyObject", |m| m.destroy_object(h, obj))
}

/// `C_GetObjectSize` (§5.7.4).
pub(super) unsafe extern "C" fn C_GetObjectSize(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    pul_size: *mut CK_ULONG,
) -> CK_RV {
    with_module("C_GetObjectSize", |m| {
        let dst = marshal::out_ptr(pul_size)?;
        let size = m.object_size(h, obj)?;
        // SAFETY: checked non-null.
        unsafe { dst.set(size) };
        Ok(())
    })
}

/// `C_GetAttributeValue` (§5.7.5): every attribute is answered by the rules of
/// §5.7.5 (see `marshal::write_attribute_values` for the choice of return value).
pub(super) unsafe extern "C" fn C_GetAttributeValue(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    with_module("C_GetAttributeValue", |m| {
        // SAFETY: pTemplate holds ulCount attributes (§5.7.5).
        let types = unsafe { marshal::attribute_types(p_template, count) }?;
        let reads = m.get_attributes(h, obj, &types)?;
        // SAFETY: as above; each pValue holds ulValueLen bytes or is null.
        unsafe { marshal::write_attribute_values(p_template, count, &reads) }
    })
}

/// `C_SetAttributeValue` (§5.7.6).
pub(super) unsafe extern "C" fn C_SetAttributeValue(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    with_module("C_SetAttributeValue", |m| {
        // SAFETY: pTemplate holds ulCount attributes (§5.7.6).
        let t = unsafe { marshal::template(p_template, count) }?;
        m.set_attributes(h, obj, &t)
    })
}

/// `C_FindObjectsInit` (§5.7.7).
pub(super) unsafe extern "C" fn C_FindObjectsInit(
    h: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    with_module("C_FindObjectsInit", |m| {
        // SAFETY: pTemplate holds ulCount attributes (§5.7.7).
        let t = unsafe { marshal::template(p_template, count) }?;
        m.find_init(h, &t)
    })
}

/// `C_FindObjects` (§5.7.8).
pub(super) unsafe extern "C" fn C_FindObjects(
    h: CK_SESSION_HANDLE,
    ph_object: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    with_module("C_FindObjects", |m| {
        let find = |n| m.find(h, n);
        // SAFETY: phObject holds ulMaxObjectCount handles; pulObjectCount is a CK_ULONG (§5.7.8).
        unsafe { marshal::handles_out(ph_object, max, pul_count, find) }
    })
}

/// `C_FindObjectsFinal` (§5.7.9).
pub(super) unsafe extern "C" fn C_FindObjectsFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_FindObjectsFinal", |m| m.find_final(h))
}
