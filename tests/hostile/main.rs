//! Hostile C callers (issue 8): every function of the PKCS#11 3.0 function
//! table (`CK_FUNCTION_LIST_3_0` from `C_GetInterface`) is called through its raw
//! C pointer with hostile input: null pointers, output buffers that are too
//! small, `ULONG_MAX` lengths and counts, unknown and stale session and object
//! handles, unknown attribute types, templates with duplicates, mechanism
//! parameters of the wrong size, and calls before `C_Initialize`. Each call must
//! return the code the standard names, must not crash, and must change nothing:
//! after every refused call the token's objects and their attributes are
//! compared with a snapshot.
//!
//! Each category is one table of (function, case) rows. A table must name every
//! function of the 3.0 list, either with cases or with the reason none apply, so
//! a function added to the list without rows fails `tables_cover_every_function`.
//! Functions SoftKMS does not implement get the hostile call anyway and must
//! answer `CKR_FUNCTION_NOT_SUPPORTED`.
//!
//! One test binary, one test per category (the tests of a binary take the
//! module's lock in turn, see `tests/common`); its files:
//!
//! - the harness: `functions` (the list, calls by type), `fixtures`
//!   (templates, mechanisms), `env` (the token, its objects, snapshots),
//!   `table` (the tables and how they run), `rows` (row helpers);
//! - the categories: `basics` (the list itself, before `C_Initialize`,
//!   everything hostile at once), `null_pointers`, `ulong_max`, `handles`,
//!   `attributes`, `mechanisms`, `buffers` (output buffers too small), `huge`
//!   (huge sizes inside parameters and templates).
//!
//! The raw calls go through `p11_testkit` (the 3.0 table, the call macro, owned
//! templates and mechanisms).
#![allow(unreachable_pub)]
// helpers shared by test files are `pub` in a binary crate

// Why unsafe: these tests are a C caller. `cryptoki` refuses to pass null
// pointers and wrong lengths, so the module's raw function table is called
// directly, with pointers into buffers these files own.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, non_snake_case)]
#![allow(
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::too_many_arguments
)]
// Lengths the module returned are small; the tests run on 64-bit targets.
#![allow(clippy::cast_possible_truncation)]

#[path = "../common/mod.rs"]
mod common;

/// Calls one function of the table by name: `c!(e, C_Foo, args...)`. A slot
/// the module left empty panics (the list must be full; `all_functions_are_listed`).
macro_rules! c {
    ($e:expr, $name:ident $(, $arg:expr)* $(,)?) => {
        p11_testkit::call_strict!($e.f, $name $(, $arg)*)
    };
}

mod attributes;
mod basics;
mod buffers;
mod env;
mod fixtures;
mod functions;
mod handles;
mod huge;
mod mechanisms;
mod null_pointers;
mod rows;
mod table;
mod ulong_max;

/// What every file of this binary uses: the harness's items, the PKCS#11
/// types and the test kit's templates and mechanisms.
mod prelude {
    pub(crate) use crate::basics::*;
    pub(crate) use crate::common::{Ctx, SO_PIN, USER_PIN};
    pub(crate) use crate::env::*;
    pub(crate) use crate::fixtures::*;
    pub(crate) use crate::functions::*;
    pub(crate) use crate::handles::*;
    pub(crate) use crate::mechanisms::*;
    pub(crate) use crate::rows::*;
    pub(crate) use crate::table::*;
    pub(crate) use crate::{U, UNKNOWN_ATTR, UNKNOWN_HANDLES};
    pub(crate) use cryptoki_sys::*;
    pub(crate) use p11_testkit::{struct_bytes, Mech, Template, P256_OID};
    pub(crate) use std::collections::{BTreeMap, BTreeSet};
    pub(crate) use std::ffi::c_void;
    pub(crate) use std::mem::{offset_of, size_of};
    pub(crate) use std::panic::{catch_unwind, AssertUnwindSafe};
    pub(crate) use std::ptr::null_mut;
}

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_ULONG};

const U: CK_ULONG = CK_ULONG::MAX;
/// An attribute type no standard or SoftKMS vendor attribute uses.
const UNKNOWN_ATTR: CK_ATTRIBUTE_TYPE = 0x7fff_0bad;
/// Session and object handles nobody was given.
const UNKNOWN_HANDLES: [CK_ULONG; 3] = [0, 0xdead_beef, U];
