//! Loading a PKCS#11 module and reading its function lists: `C_GetFunctionList`
//! always, `C_GetInterfaceList`/`C_GetInterface` when the module exports them
//! (PKCS#11 3.0 §5.4).

use crate::rv_name;
use crate::sys::*;
use std::ffi::OsStr;
use std::ptr;

/// `C_GetInterfaceList` as exported by a PKCS#11 3.0 module.
pub type GetInterfaceListFn = unsafe extern "C" fn(*mut CK_INTERFACE, *mut CK_ULONG) -> CK_RV;
/// `C_GetInterface` as exported by a PKCS#11 3.0 module.
pub type GetInterfaceFn = unsafe extern "C" fn(
    *mut CK_UTF8CHAR,
    *mut CK_VERSION,
    *mut *mut CK_INTERFACE,
    CK_FLAGS,
) -> CK_RV;
/// `C_GetFunctionList`.
pub type GetFunctionListFn = unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV;

/// A loaded module: its tables, and one method per PKCS#11 function (or pair
/// of calls, for the length-query rule) that returns the module's `CK_RV`
/// unchanged. The library stays loaded while the value lives.
pub struct Module {
    _lib: libloading::Library,
    /// The version-2 function list (a copy; the pointers stay valid while the library is loaded).
    pub f: CK_FUNCTION_LIST,
    /// The raw `C_GetFunctionList` symbol.
    pub get_function_list: GetFunctionListFn,
    /// `C_GetInterfaceList`, when exported.
    pub get_interface_list: Option<GetInterfaceListFn>,
    /// `C_GetInterface`, when exported.
    pub get_interface: Option<GetInterfaceFn>,
    /// The "PKCS 11" 3.0 function list, when the module offers one.
    pub f3: Option<CK_FUNCTION_LIST_3_0>,
}

impl Module {
    /// Loads the module at `path` and reads its function lists.
    pub fn load(path: impl AsRef<OsStr>) -> Result<Module, String> {
        let path = path.as_ref();
        let shown = path.to_string_lossy();
        // SAFETY: loading a PKCS#11 module runs its initializers; that is the point.
        let lib =
            unsafe { libloading::Library::new(path) }.map_err(|e| format!("load {shown}: {e}"))?;
        // SAFETY: the symbols have the PKCS#11 signatures.
        let gfl: GetFunctionListFn = unsafe {
            *lib.get::<GetFunctionListFn>(b"C_GetFunctionList\0")
                .map_err(|e| format!("C_GetFunctionList: {e}"))?
        };
        // SAFETY: as above.
        let gil = unsafe {
            lib.get::<GetInterfaceListFn>(b"C_GetInterfaceList\0")
                .ok()
                .map(|s| *s)
        };
        // SAFETY: as above.
        let gi = unsafe {
            lib.get::<GetInterfaceFn>(b"C_GetInterface\0")
                .ok()
                .map(|s| *s)
        };
        let mut fl: *mut CK_FUNCTION_LIST = ptr::null_mut();
        // SAFETY: out-pointer to a local.
        let rv = unsafe { gfl(&mut fl) };
        if rv != CKR_OK || fl.is_null() {
            return Err(format!("C_GetFunctionList returned {}", rv_name(rv)));
        }
        // SAFETY: the module returned a valid list that lives as long as the library.
        let f = unsafe { *fl };
        let mut f3 = None;
        if let Some(gi) = gi {
            let mut name = *b"PKCS 11\0";
            let mut version = CK_VERSION { major: 3, minor: 0 };
            let mut iface: *mut CK_INTERFACE = ptr::null_mut();
            // SAFETY: NUL-terminated name, version and out-pointer are locals.
            let rv = unsafe { gi(name.as_mut_ptr(), &mut version, &mut iface, 0) };
            if rv == CKR_OK && !iface.is_null() {
                // SAFETY: a "PKCS 11" 3.0 interface points at a CK_FUNCTION_LIST_3_0.
                let list = unsafe { (*iface).pFunctionList } as *const CK_FUNCTION_LIST_3_0;
                if !list.is_null() {
                    // SAFETY: as above.
                    f3 = Some(unsafe { *list });
                }
            }
        }
        Ok(Module {
            _lib: lib,
            f,
            get_function_list: gfl,
            get_interface_list: gil,
            get_interface: gi,
            f3,
        })
    }
}

/// The "PKCS 11" 3.0 function list of the module at `path`, as a C caller gets
/// it from `C_GetInterface`: the library stays loaded for the rest of the
/// process, so the table is `'static`. Panics when the module has none.
pub fn function_table_3_0(path: impl AsRef<OsStr>) -> &'static CK_FUNCTION_LIST_3_0 {
    let path = path.as_ref();
    // SAFETY: loading a PKCS#11 module runs its initializers; that is the point.
    let lib = unsafe { libloading::Library::new(path) }
        .unwrap_or_else(|e| panic!("load {}: {e}", path.to_string_lossy()));
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol has the C_GetInterface signature of PKCS#11 3.0.
    let get: libloading::Symbol<'static, GetInterfaceFn> =
        unsafe { lib.get(b"C_GetInterface\0") }.expect("C_GetInterface");
    let mut version = CK_VERSION { major: 3, minor: 0 };
    let mut iface: *mut CK_INTERFACE = ptr::null_mut();
    // SAFETY: a NUL-terminated name, a version and an output pointer.
    let rv = unsafe {
        get(
            c"PKCS 11".as_ptr().cast_mut().cast(),
            &mut version,
            &mut iface,
            0,
        )
    };
    assert_eq!(rv, CKR_OK, "C_GetInterface");
    assert!(!iface.is_null(), "C_GetInterface returned no interface");
    // SAFETY: the module returned its static "PKCS 11" 3.0 interface, whose
    // function list lives as long as the library (leaked above).
    unsafe { &*(*iface).pFunctionList.cast::<CK_FUNCTION_LIST_3_0>() }
}

/// The function list of the module's default interface (`C_GetInterface`
/// with no name and no version), as a 3.2 table: panics unless its version is
/// 3.2. The library stays loaded for the rest of the process.
pub fn function_table_3_2(path: impl AsRef<OsStr>) -> &'static CK_FUNCTION_LIST_3_2 {
    let path = path.as_ref();
    // SAFETY: loading a PKCS#11 module runs its initializers; that is the point.
    let lib = unsafe { libloading::Library::new(path) }
        .unwrap_or_else(|e| panic!("load {}: {e}", path.to_string_lossy()));
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol has the C_GetInterface signature of PKCS#11 3.0.
    let get: libloading::Symbol<'static, GetInterfaceFn> =
        unsafe { lib.get(b"C_GetInterface\0") }.expect("C_GetInterface");
    let mut iface: *mut CK_INTERFACE = ptr::null_mut();
    // SAFETY: null name and version ask for the default; an output pointer.
    let rv = unsafe { get(ptr::null_mut(), ptr::null_mut(), &mut iface, 0) };
    assert_eq!(rv, CKR_OK, "C_GetInterface");
    assert!(!iface.is_null(), "C_GetInterface returned no interface");
    // SAFETY: every table starts with its CK_VERSION.
    let version = unsafe { *(*iface).pFunctionList.cast::<CK_VERSION>() };
    assert_eq!((version.major, version.minor), (3, 2), "default interface");
    // SAFETY: a 3.2 table, which lives as long as the library (leaked above).
    unsafe { &*(*iface).pFunctionList.cast::<CK_FUNCTION_LIST_3_2>() }
}

/// The version-2 function list of the module at `path`, from
/// `C_GetFunctionList`; the library stays loaded for the rest of the process.
pub fn function_list(path: impl AsRef<OsStr>) -> &'static CK_FUNCTION_LIST {
    let path = path.as_ref();
    // SAFETY: loading a PKCS#11 module runs its initializers; that is the point.
    let lib = unsafe { libloading::Library::new(path) }
        .unwrap_or_else(|e| panic!("load {}: {e}", path.to_string_lossy()));
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol has the C_GetFunctionList signature (PKCS#11 §5.4).
    let get: libloading::Symbol<'static, GetFunctionListFn> =
        unsafe { lib.get(b"C_GetFunctionList\0") }.expect("C_GetFunctionList");
    let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
    // SAFETY: list is a valid out-pointer.
    let rv = unsafe { get(&mut list) };
    assert_eq!(rv, CKR_OK, "C_GetFunctionList");
    assert!(!list.is_null(), "C_GetFunctionList returned no list");
    // SAFETY: the module's function list is static for the life of the library (leaked above).
    unsafe { &*list }
}
