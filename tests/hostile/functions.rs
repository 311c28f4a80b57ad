//! The 3.0 function list: every function with its number of arguments, calls
//! with arguments chosen by type only, and the functions SoftKMS does not implement.

use crate::prelude::*;

/// Arguments for a call whose every argument is chosen by its type only.
pub(crate) struct Dummies {
    /// The first argument when it is a handle (session or slot).
    pub(crate) first: CK_ULONG,
    /// Every other integer.
    pub(crate) ulong: CK_ULONG,
    /// Every pointer.
    pub(crate) ptr: *mut u8,
}

pub(crate) trait Dummy {
    fn get(d: &Dummies) -> Self;
    fn first(d: &Dummies) -> Self
    where
        Self: Sized,
    {
        Self::get(d)
    }
}
impl Dummy for CK_ULONG {
    fn get(d: &Dummies) -> Self {
        d.ulong
    }
    fn first(d: &Dummies) -> Self {
        d.first
    }
}
impl Dummy for CK_BBOOL {
    fn get(_: &Dummies) -> Self {
        CK_FALSE
    }
}
impl<T> Dummy for *mut T {
    fn get(d: &Dummies) -> Self {
        d.ptr.cast()
    }
}
impl Dummy for CK_NOTIFY {
    fn get(_: &Dummies) -> Self {
        None
    }
}

macro_rules! dummy_call {
    // The first argument is `Dummy::first`, each further one (a `_` apiece) `Dummy::get`.
    (@ $f:expr, $d:expr, $($rest:tt)*) => {
        ($f.unwrap())(Dummy::first($d) $(, dummy_call!(@get $d, $rest))*)
    };
    (@get $d:expr, _) => {
        Dummy::get($d)
    };
    ($f:expr, $d:expr, 1) => { dummy_call!(@ $f, $d,) };
    ($f:expr, $d:expr, 2) => { dummy_call!(@ $f, $d, _) };
    ($f:expr, $d:expr, 3) => { dummy_call!(@ $f, $d, _ _) };
    ($f:expr, $d:expr, 4) => { dummy_call!(@ $f, $d, _ _ _) };
    ($f:expr, $d:expr, 5) => { dummy_call!(@ $f, $d, _ _ _ _) };
    ($f:expr, $d:expr, 6) => { dummy_call!(@ $f, $d, _ _ _ _ _) };
    ($f:expr, $d:expr, 7) => { dummy_call!(@ $f, $d, _ _ _ _ _ _) };
    ($f:expr, $d:expr, 8) => { dummy_call!(@ $f, $d, _ _ _ _ _ _ _) };
    ($f:expr, $d:expr, 9) => { dummy_call!(@ $f, $d, _ _ _ _ _ _ _ _) };
}

/// Every function of `CK_FUNCTION_LIST_3_0` with its number of arguments, in
/// table order. `all_functions_are_listed` checks the offsets cover the struct.
macro_rules! function_list {
    ($($name:ident / $n:tt),* $(,)?) => {
        pub(crate) const ALL: &[(&str, usize)] = &[$( (stringify!($name), offset_of!(CK_FUNCTION_LIST_3_0, $name)) ),*];

        /// Calls `name` with arguments chosen by type from `d`.
        pub(crate) fn dummy(f: &CK_FUNCTION_LIST_3_0, name: &str, d: &Dummies) -> CK_RV {
            // SAFETY: every pointer is `d.ptr`, null or a zeroed scratch
            // buffer larger than any argument with `d.ulong` elements needs.
            unsafe {
                match name {
                    $( stringify!($name) => dummy_call!(f.$name, d, $n), )*
                    _ => panic!("unknown function {name}"),
                }
            }
        }
    };
}

function_list! {
    C_Initialize/1, C_Finalize/1, C_GetInfo/1, C_GetFunctionList/1, C_GetSlotList/3,
    C_GetSlotInfo/2, C_GetTokenInfo/2, C_GetMechanismList/3, C_GetMechanismInfo/3,
    C_InitToken/4, C_InitPIN/3, C_SetPIN/5, C_OpenSession/5, C_CloseSession/1,
    C_CloseAllSessions/1, C_GetSessionInfo/2, C_GetOperationState/3, C_SetOperationState/5,
    C_Login/4, C_Logout/1, C_CreateObject/4, C_CopyObject/5, C_DestroyObject/2,
    C_GetObjectSize/3, C_GetAttributeValue/4, C_SetAttributeValue/4, C_FindObjectsInit/3,
    C_FindObjects/4, C_FindObjectsFinal/1, C_EncryptInit/3, C_Encrypt/5, C_EncryptUpdate/5,
    C_EncryptFinal/3, C_DecryptInit/3, C_Decrypt/5, C_DecryptUpdate/5, C_DecryptFinal/3,
    C_DigestInit/2, C_Digest/5, C_DigestUpdate/3, C_DigestKey/2, C_DigestFinal/3,
    C_SignInit/3, C_Sign/5, C_SignUpdate/3, C_SignFinal/3, C_SignRecoverInit/3,
    C_SignRecover/5, C_VerifyInit/3, C_Verify/5, C_VerifyUpdate/3, C_VerifyFinal/3,
    C_VerifyRecoverInit/3, C_VerifyRecover/5, C_DigestEncryptUpdate/5,
    C_DecryptDigestUpdate/5, C_SignEncryptUpdate/5, C_DecryptVerifyUpdate/5,
    C_GenerateKey/5, C_GenerateKeyPair/8, C_WrapKey/6, C_UnwrapKey/8, C_DeriveKey/6,
    C_SeedRandom/3, C_GenerateRandom/3, C_GetFunctionStatus/1, C_CancelFunction/1,
    C_WaitForSlotEvent/3, C_GetInterfaceList/2, C_GetInterface/4, C_LoginUser/6,
    C_SessionCancel/2, C_MessageEncryptInit/3, C_EncryptMessage/9, C_EncryptMessageBegin/5,
    C_EncryptMessageNext/8, C_MessageEncryptFinal/1, C_MessageDecryptInit/3,
    C_DecryptMessage/9, C_DecryptMessageBegin/5, C_DecryptMessageNext/8,
    C_MessageDecryptFinal/1, C_MessageSignInit/3, C_SignMessage/7, C_SignMessageBegin/3,
    C_SignMessageNext/7, C_MessageSignFinal/1, C_MessageVerifyInit/3, C_VerifyMessage/7,
    C_VerifyMessageBegin/3, C_VerifyMessageNext/7, C_MessageVerifyFinal/1,
}

/// The functions SoftKMS answers with `CKR_FUNCTION_NOT_SUPPORTED` (README,
/// "Conformance"). Every hostile call to them must get that code.
pub(crate) const UNSUPPORTED: &[&str] = &[
    "C_GetOperationState",
    "C_SetOperationState",
    "C_WaitForSlotEvent",
    "C_SignRecoverInit",
    "C_SignRecover",
    "C_VerifyRecoverInit",
    "C_VerifyRecover",
    "C_DigestEncryptUpdate",
    "C_DecryptDigestUpdate",
    "C_SignEncryptUpdate",
    "C_DecryptVerifyUpdate",
    "C_MessageSignInit",
    "C_SignMessage",
    "C_SignMessageBegin",
    "C_SignMessageNext",
    "C_MessageSignFinal",
    "C_MessageVerifyInit",
    "C_VerifyMessage",
    "C_VerifyMessageBegin",
    "C_VerifyMessageNext",
    "C_MessageVerifyFinal",
];

/// Loads the module as a C caller would and returns its 3.0 function table.
pub(crate) fn function_table() -> &'static CK_FUNCTION_LIST_3_0 {
    p11_testkit::function_table_3_0(crate::common::module_path())
}
