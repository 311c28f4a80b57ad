//! `p11-testkit`: the one raw-call harness of SoftKMS's tests, conformance
//! runner, fuzz targets and benchmarks.
//!
//! `cryptoki` is the right client for most tests, but it refuses to pass null
//! pointers, wrong lengths and the PKCS#11 3.0 functions it does not wrap
//! (`C_LoginUser`, the message functions). The callers that need those go
//! through the module's C function table directly, and this crate is where that
//! is written down once:
//!
//! - [`Module`], [`function_table_3_0`] and [`function_list`]: loading a module
//!   with `libloading` and reading its tables (`C_GetFunctionList`,
//!   `C_GetInterfaceList`, `C_GetInterface`);
//! - [`call!`] and [`call_strict!`]: one call through a table;
//! - [`Template`] and [`Mech`]: `CK_ATTRIBUTE` arrays and `CK_MECHANISM`s over
//!   buffers they own;
//! - [`vendor`]: the SoftKMS constants and parameter structs of
//!   `include/softkms.h` (the vendor base `0xD34B_0000` is declared once, here);
//! - [`rv_name`]: the name of a return value, for messages;
//! - with the `cryptoki` feature, `session`: the raw path next to a
//!   `cryptoki` session (the same module instance), and `keys`: helpers that
//!   several black-box tests share, such as `keys::ManagedKey` (a managed key
//!   with the options the tests need) and `keys::generate_data_key`, and
//!   `throwaway`: a token in a temporary directory on the built
//!   `libsoftkms.so`, for softkms-cryptoki's tests and doc examples.
//!
//! Every `unsafe` block here is the *caller's* side of the PKCS#11 contract:
//! pointers hold the lengths passed with them, unless a hostile case passes a
//! wrong one on purpose to see the module refuse it.

#![allow(unsafe_code, non_snake_case)]
// `call!` evaluates its arguments inside its `unsafe` block: they are raw
// pointers by nature, and binding each one first would need names that
// `macro_rules!` cannot make. (The lint is only checked at the crate level.)
#![allow(clippy::macro_metavars_in_unsafe)]

/// The PKCS#11 types and constants (`cryptoki-sys`), for the macros and callers.
pub use cryptoki_sys as sys;

/// Calls one function of a function table and returns its `CK_RV`:
/// `call!(table, C_Foo, args...)`. `table` is a `CK_FUNCTION_LIST`, a
/// `CK_FUNCTION_LIST_3_0` or a reference to one. An entry the module left
/// empty answers `CKR_FUNCTION_NOT_SUPPORTED` (§5.1 says every entry is filled;
/// the conformance runner checks that separately), which is what a runner that
/// loads any module needs. See [`call_strict!`] for the variant that panics.
///
/// The call is `unsafe` inside: the caller promises what a C caller would,
/// that every pointer argument points at a live buffer of the length passed
/// next to it, or is null (or wrong) on purpose. The arguments are evaluated
/// inside that `unsafe` block, so keep them to plain values and pointers.
#[macro_export]
macro_rules! call {
    ($list:expr, $name:ident $(, $arg:expr)* $(,)?) => {
        match $list.$name {
            // SAFETY: the module's own function, called with the arguments its
            // PKCS#11 signature names; cases that pass NULL or bad lengths do so
            // on purpose and only where the specification defines the outcome.
            #[allow(unused_unsafe)]
            Some(func) => unsafe { func($($arg),*) },
            None => $crate::sys::CKR_FUNCTION_NOT_SUPPORTED,
        }
    };
}

/// Like [`call!`], but panics when the module left the entry empty: for the
/// tests of SoftKMS itself, whose tables must be full.
#[macro_export]
macro_rules! call_strict {
    ($list:expr, $name:ident $(, $arg:expr)* $(,)?) => {{
        let func = $list.$name.expect(stringify!($name));
        // SAFETY: as for `call!`: the module's own function, called with
        // pointers into buffers of the sizes passed alongside (or deliberately
        // null or wrong).
        #[allow(unused_unsafe)]
        let rv = unsafe { func($($arg),*) };
        rv
    }};
}

mod calls;
mod mech;
mod module;
mod rv;
mod template;
pub mod vendor;

#[cfg(feature = "cryptoki")]
pub mod keys;
// (`keys` and `session` need the `cryptoki` feature: the conformance runner and
// the fuzz targets do without it.)
#[cfg(feature = "cryptoki")]
pub mod session;
// A throw-away token for the tests and runnable doc examples of softkms-cryptoki.
#[cfg(feature = "cryptoki")]
pub mod throwaway;

pub use calls::Op;
pub use mech::{struct_bytes, Mech};
pub use module::{
    function_list, function_table_3_0, function_table_3_2, GetFunctionListFn, GetInterfaceFn,
    GetInterfaceListFn, Module,
};
pub use rv::rv_name;
pub use template::Template;

/// The DER of the P-256 curve's OID, 1.2.840.10045.3.1.7 (`CKA_EC_PARAMS`).
pub const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// `Ok(v)` when `rv` is `CKR_OK`, else `Err(rv)`.
pub fn rv_ok<T>(rv: sys::CK_RV, v: T) -> Result<T, sys::CK_RV> {
    if rv == sys::CKR_OK {
        Ok(v)
    } else {
        Err(rv)
    }
}

/// Runs an output call by the length-query rule (PKCS#11 3.0 §5.2): first
/// with a null buffer to learn the size, then with a buffer of that size.
/// `f` gets the output pointer and the in/out length.
pub fn with_length_query(
    mut f: impl FnMut(*mut u8, *mut sys::CK_ULONG) -> sys::CK_RV,
) -> Result<Vec<u8>, sys::CK_RV> {
    let mut n: sys::CK_ULONG = 0;
    rv_ok(f(std::ptr::null_mut(), &mut n), ())?;
    let mut out = vec![0u8; usize::try_from(n).expect("a length")];
    rv_ok(f(out.as_mut_ptr(), &mut n), ())?;
    out.truncate(usize::try_from(n).expect("a length"));
    Ok(out)
}

/// A `CK_ULONG` length from a `usize` (panics past `CK_ULONG::MAX`, which test
/// buffers never reach).
pub fn ulen(n: usize) -> sys::CK_ULONG {
    sys::CK_ULONG::try_from(n).expect("length fits a CK_ULONG")
}
