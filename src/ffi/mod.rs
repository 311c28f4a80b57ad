//! The C ABI of `libsoftkms.so` (DESIGN.md §1): the only module with `unsafe`.
//!
//! Three symbols are exported: [`C_GetFunctionList`], [`C_GetInterfaceList`] and
//! [`C_GetInterface`]. Every other `C_*` function lives in `entry.rs`, is not
//! exported by name and is reached through the three function tables built
//! here from one list: the PKCS#11 2.40 `CK_FUNCTION_LIST`, the 3.0
//! `CK_FUNCTION_LIST_3_0` and the 3.2 `CK_FUNCTION_LIST_3_2`, offered as the
//! interfaces "PKCS 11" 3.2 (the default), 3.0 and 2.40.
//!
//! **Which is the default.** `C_GetInterface` with no name and no version
//! returns the first of the list (PKCS#11 3.0 §5.4.6: "the default
//! interface"), and 3.x clients (the `cryptoki` crate, OpenSSL's
//! pkcs11-provider) ask for it that way and use what it offers: the 3.2 table,
//! as Kryoptic offers. Each table is a prefix of the next, so a 3.0 caller
//! handed the 3.2 table finds its functions where it expects them; a caller
//! that names version 3.0 (or 2.40) gets exactly that table, and
//! `C_GetFunctionList` returns the 2.40 table as before. `C_GetInfo` reports
//! `cryptokiVersion` 3.0 whatever the table (it cannot tell which one its
//! caller holds), as it did before 3.2 was offered.
//!
//! Layout: `entry.rs` has one short function per `C_*` call, each run by
//! `guard.rs` (a panic → `CKR_GENERAL_ERROR` and the module failed until
//! `C_Finalize`, errors logged and turned into `CK_RV`, the fork check before
//! any lock) and, after `C_Initialize`, `entry::with_module`; `marshal.rs` turns
//! every raw pointer into a typed value and back. The operating system's calls
//! (memory locking, the process id) live in `crate::sys`. Every `unsafe` block
//! carries a `// SAFETY:` comment.

#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![allow(non_snake_case)]
// The signatures are those of the C standard.
#![allow(clippy::too_many_arguments)]

mod entry;
mod guard;
mod marshal;
#[cfg(test)]
mod tests;

use crate::error::Error;
use cryptoki_sys::*;
use entry::*;
use std::ffi::CStr;

/// Builds the function tables from one list: the functions of PKCS#11 2.40,
/// then those 3.0 added, then those 3.2 added. Each function is named once;
/// the struct literals fail to compile if a slot is missing.
macro_rules! function_tables {
    (
        v2_40: [$($f2:ident),* $(,)?],
        v3_0: [$($f3:ident),* $(,)?],
        v3_2: [$($f32:ident),* $(,)?] $(,)?
    ) => {
        /// The PKCS#11 2.40 function list (what `C_GetFunctionList` returns).
        pub(crate) static FUNCTION_LIST: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
            version: CK_VERSION { major: 2, minor: 40 },
            $( $f2: Some($f2), )*
        };

        /// The PKCS#11 3.0 function list (the "PKCS 11" 3.0 interface).
        pub(crate) static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = CK_FUNCTION_LIST_3_0 {
            version: CK_VERSION { major: 3, minor: 0 },
            $( $f2: Some($f2), )*
            $( $f3: Some($f3), )*
        };

        /// The PKCS#11 3.2 function list (the default interface).
        pub(crate) static FUNCTION_LIST_3_2: CK_FUNCTION_LIST_3_2 = CK_FUNCTION_LIST_3_2 {
            version: CK_VERSION { major: 3, minor: 2 },
            $( $f2: Some($f2), )*
            $( $f3: Some($f3), )*
            $( $f32: Some($f32), )*
        };
    };
}

function_tables! {
    v2_40: [
        C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList,
        C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo,
        C_InitToken, C_InitPIN, C_SetPIN,
        C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,
        C_GetOperationState, C_SetOperationState, C_Login, C_Logout,
        C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize,
        C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,
        C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,
        C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal,
        C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal,
        C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover,
        C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover,
        C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate,
        C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,
        C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent,
    ],
    v3_0: [
        C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
        C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext, C_MessageEncryptFinal,
        C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext, C_MessageDecryptFinal,
        C_MessageSignInit, C_SignMessage, C_SignMessageBegin, C_SignMessageNext, C_MessageSignFinal,
        C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal,
    ],
    v3_2: [
        C_EncapsulateKey, C_DecapsulateKey,
        C_VerifySignatureInit, C_VerifySignature, C_VerifySignatureUpdate, C_VerifySignatureFinal,
        C_GetSessionValidationFlags, C_AsyncComplete, C_AsyncGetID, C_AsyncJoin,
        C_WrapKeyAuthenticated, C_UnwrapKeyAuthenticated,
    ],
}

/// The interface name of every interface.
const INTERFACE_NAME: &CStr = c"PKCS 11";

/// The interfaces, default first. A wrapper, because `CK_INTERFACE` holds raw
/// pointers and so is not `Sync` by itself.
pub(crate) struct Interfaces(pub(crate) [CK_INTERFACE; 3]);

// SAFETY: the pointers in the table point at a string constant and at the
// function tables, all immutable statics that live as long as the library;
// nothing writes through them, so sharing them between threads is sound.
unsafe impl Sync for Interfaces {}

/// "PKCS 11" 3.2 (the default), 3.0 and 2.40, flags 0.
pub(crate) static INTERFACES: Interfaces = Interfaces([
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast_mut().cast(),
        pFunctionList: std::ptr::addr_of!(FUNCTION_LIST_3_2).cast_mut().cast(),
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast_mut().cast(),
        pFunctionList: std::ptr::addr_of!(FUNCTION_LIST_3_0).cast_mut().cast(),
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast_mut().cast(),
        pFunctionList: std::ptr::addr_of!(FUNCTION_LIST).cast_mut().cast(),
        flags: 0,
    },
]);

/// The version in an interface's function table (`CK_VERSION` is the first
/// field of every table).
fn interface_version(i: &CK_INTERFACE) -> CK_VERSION {
    let list = i.pFunctionList.cast_const();
    if std::ptr::eq(list, std::ptr::addr_of!(FUNCTION_LIST_3_2).cast()) {
        FUNCTION_LIST_3_2.version
    } else if std::ptr::eq(list, std::ptr::addr_of!(FUNCTION_LIST_3_0).cast()) {
        FUNCTION_LIST_3_0.version
    } else {
        FUNCTION_LIST.version
    }
}

/// `C_GetFunctionList` (PKCS#11 3.0 §5.4.4): the 2.40 table. Works before
/// `C_Initialize`; a null pointer is `CKR_ARGUMENTS_BAD`.
///
/// # Safety
/// `pp_function_list` is null or points at a writable `CK_FUNCTION_LIST_PTR`.
#[no_mangle]
pub(crate) unsafe extern "C" fn C_GetFunctionList(
    pp_function_list: *mut *mut CK_FUNCTION_LIST,
) -> CK_RV {
    guard::lookup("C_GetFunctionList", || {
        let dst = marshal::out_ptr(pp_function_list)?;
        // SAFETY: checked non-null; writable by the caller's contract (§5.4.4).
        unsafe { dst.set(std::ptr::addr_of!(FUNCTION_LIST).cast_mut()) };
        Ok(())
    })
}

/// `C_GetInterfaceList` (§5.4.5): the interfaces, with the length-query rule.
/// Works before `C_Initialize`.
///
/// # Safety
/// `p_list` is null or holds `*pul_count` `CK_INTERFACE`s; `pul_count` is null
/// or a writable `CK_ULONG`.
#[no_mangle]
pub(crate) unsafe extern "C" fn C_GetInterfaceList(
    p_list: *mut CK_INTERFACE,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    guard::lookup("C_GetInterfaceList", || {
        // SAFETY: the caller's contract above (§5.4.5).
        unsafe { marshal::list_out(p_list, pul_count, &INTERFACES.0) }
    })
}

/// `C_GetInterface` (§5.4.6): the first interface (default first) whose name and
/// version match those given (null matches any, so a null name and version give
/// the 3.2 default) and whose flags include `flags`. None matching, or a null
/// `pp_interface`, is `CKR_ARGUMENTS_BAD`. Works before `C_Initialize`.
///
/// # Safety
/// `p_name` is null or a NUL-terminated string; `p_version` is null or a
/// `CK_VERSION`; `pp_interface` is null or a writable `CK_INTERFACE_PTR`.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterface(
    p_name: *mut CK_UTF8CHAR,
    p_version: *mut CK_VERSION,
    pp_interface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard::lookup("C_GetInterface", || {
        let dst = marshal::out_ptr(pp_interface)?;
        // SAFETY: a non-null pInterfaceName is a NUL-terminated string (§5.4.6).
        let name =
            (!p_name.is_null()).then(|| unsafe { CStr::from_ptr(p_name.cast_const().cast()) });
        // SAFETY: a non-null pVersion points at a CK_VERSION (§5.4.6).
        let version =
            (!p_version.is_null()).then(|| unsafe { marshal::plain::read(p_version.cast_const()) });
        let found = INTERFACES.0.iter().find(|i| {
            let v = interface_version(i);
            name.is_none_or(|n| n == INTERFACE_NAME)
                && version.is_none_or(|w| (w.major, w.minor) == (v.major, v.minor))
                && i.flags & flags == flags
        });
        let found = found.ok_or(Error::ArgumentsBad)?;
        // SAFETY: checked non-null; writable by the caller's contract. The
        // interface is a static that outlives the library's use.
        unsafe { dst.set(std::ptr::from_ref(found).cast_mut()) };
        Ok(())
    })
}
