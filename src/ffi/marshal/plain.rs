//! Plain data: the only types SoftKMS reads whole from a caller's memory, and
//! [`read`], the one function that reads them.
//!
//! A caller's bytes are whatever the caller wrote. Read as a Rust type with
//! invalid bit patterns (`bool`, an enum, a reference, `NonNull`, `char`…) they
//! could make a value the compiler assumes cannot exist, which is undefined
//! behaviour before any check of ours runs. [`PlainData`] names the types for
//! which every bit pattern is a value; it is sealed, so no type outside this
//! list can be read.

use crate::abi::{CK_SOFTKMS_ENVELOPE_PARAMS, CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS};
use cryptoki_sys::*;

mod sealed {
    /// Keeps [`super::PlainData`] implemented only in this file.
    pub(crate) trait Sealed {}
}

/// A type for which every bit pattern of its size is a valid value, so that it
/// may be read from memory a caller filled.
///
/// # Safety
/// Implement only for integers and for `#[repr(C)]` structs whose fields are
/// integers, byte arrays, raw pointers or `Option`s of `extern "C" fn`
/// pointers (null is `None`, any other value `Some`). Sealed: the list below is
/// the whole list.
pub(in crate::ffi) unsafe trait PlainData: Copy + sealed::Sealed {}

/// Implements [`PlainData`] for C types that are plain by the rule above.
macro_rules! plain_data {
    ($($t:ty),* $(,)?) => {
        $(
            impl sealed::Sealed for $t {}
            // SAFETY: `$t` is a `CK_ULONG` or a `#[repr(C)]` struct of the
            // PKCS#11 headers (or of SoftKMS's vendor ABI, `crate::abi`) whose
            // fields are all `CK_ULONG`s, `CK_BYTE`/`CK_BBOOL` (u8) values or
            // arrays, raw pointers, or `Option<unsafe extern "C" fn>`: every
            // bit pattern of each field is a valid value.
            unsafe impl PlainData for $t {}
        )*
    };
}

plain_data!(
    // Integers: lengths in `*pulLen`, `CK_MAC_GENERAL_PARAMS`.
    CK_ULONG,
    // The structs the entry points read.
    CK_VERSION,
    CK_ATTRIBUTE,
    CK_MECHANISM,
    CK_C_INITIALIZE_ARGS,
    // Mechanism parameters.
    CK_GCM_PARAMS,
    CK_GCM_MESSAGE_PARAMS,
    CK_AES_CTR_PARAMS,
    CK_RSA_PKCS_PSS_PARAMS,
    CK_RSA_PKCS_OAEP_PARAMS,
    CK_RSA_AES_KEY_WRAP_PARAMS,
    CK_ECDH1_DERIVE_PARAMS,
    CK_HKDF_PARAMS,
    CK_EDDSA_PARAMS,
    CK_KEY_DERIVATION_STRING_DATA,
    CK_AES_CBC_ENCRYPT_DATA_PARAMS,
    CK_SP800_108_KDF_PARAMS,
    CK_SP800_108_FEEDBACK_KDF_PARAMS,
    CK_PRF_DATA_PARAM,
    CK_SP800_108_COUNTER_FORMAT,
    CK_SP800_108_DKM_LENGTH_FORMAT,
    CK_DERIVED_KEY,
    CK_SIGN_ADDITIONAL_CONTEXT,
    CK_HASH_SIGN_ADDITIONAL_CONTEXT,
    CK_SOFTKMS_ENVELOPE_PARAMS,
    CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS,
);

/// Reads the `T` at `p` with an unaligned read (a caller's packing never
/// matters).
///
/// # Safety
/// `p` is non-null and points at `size_of::<T>()` bytes readable for the call.
pub(in crate::ffi) unsafe fn read<T: PlainData>(p: *const T) -> T {
    // SAFETY: readable by our contract; any bit pattern is a valid `T`
    // (`PlainData`); `read_unaligned` has no alignment requirement.
    unsafe { p.read_unaligned() }
}
