//! General-purpose functions (§5.4): C_Initialize arguments, C_Finalize, C_GetInfo,
//! the function list and interfaces, and CKR_CRYPTOKI_NOT_INITIALIZED (§5.1.6 and
//! every function's return values) for every function before C_Initialize.

#![allow(unsafe_code)]

use crate::{check, expect_rv, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{call, rv_name, Module};
use std::ffi::c_void;
use std::ptr::{null_mut as nul, null_mut};

unsafe extern "C" fn create_mutex(pp: *mut *mut c_void) -> CK_RV {
    // SAFETY: the library passes a valid out-pointer (§5.4.1, CK_CREATEMUTEX).
    unsafe { *pp = Box::into_raw(Box::new(0u8)) as *mut c_void };
    CKR_OK
}
unsafe extern "C" fn destroy_mutex(p: *mut c_void) -> CK_RV {
    if !p.is_null() {
        // SAFETY: made by create_mutex.
        drop(unsafe { Box::from_raw(p as *mut u8) });
    }
    CKR_OK
}
unsafe extern "C" fn lock_mutex(_: *mut c_void) -> CK_RV {
    CKR_OK
}
unsafe extern "C" fn unlock_mutex(_: *mut c_void) -> CK_RV {
    CKR_OK
}

fn args(mask: u8, flags: CK_FLAGS) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: (mask & 1 != 0).then_some(create_mutex as unsafe extern "C" fn(_) -> _),
        DestroyMutex: (mask & 2 != 0).then_some(destroy_mutex as unsafe extern "C" fn(_) -> _),
        LockMutex: (mask & 4 != 0).then_some(lock_mutex as unsafe extern "C" fn(_) -> _),
        UnlockMutex: (mask & 8 != 0).then_some(unlock_mutex as unsafe extern "C" fn(_) -> _),
        flags,
        pReserved: nul(),
    }
}

/// Initializes with `a`, records, finalizes when it succeeded.
fn init_case(m: &Module, a: &mut CK_C_INITIALIZE_ARGS, expected: &[CK_RV]) -> Outcome {
    let rv = m.init_args(a);
    if rv == CKR_OK {
        m.finalize();
    }
    expect_rv(expected, rv)
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    let m = r.m;
    // --- C_Initialize (§5.4.1)
    r.record("init.null-args", "§5.4.1", {
        let rv = m.init();
        if rv == CKR_OK {
            m.finalize();
        }
        expect_rv(&[CKR_OK], rv)
    });
    r.record("init.twice", "§5.4.1", {
        let rv = m.init();
        let rv2 = m.init();
        m.finalize();
        if rv != CKR_OK {
            Outcome::Fail(format!("first C_Initialize: {}", rv_name(rv)))
        } else {
            expect_rv(&[CKR_CRYPTOKI_ALREADY_INITIALIZED], rv2)
        }
    });
    r.record("init.reserved-non-null", "§5.4.1", {
        let mut a = args(0, 0);
        let mut x = 0u8;
        a.pReserved = &mut x as *mut u8 as *mut c_void;
        init_case(m, &mut a, &[CKR_ARGUMENTS_BAD])
    });
    r.record(
        "init.no-callbacks-no-flags",
        "§5.4.1",
        init_case(m, &mut args(0, 0), &[CKR_OK]),
    );
    r.record(
        "init.os-locking",
        "§5.4.1",
        init_case(m, &mut args(0, CKF_OS_LOCKING_OK), &[CKR_OK, CKR_CANT_LOCK]),
    );
    r.record(
        "init.all-callbacks",
        "§5.4.1",
        init_case(m, &mut args(15, 0), &[CKR_OK, CKR_CANT_LOCK]),
    );
    r.record(
        "init.all-callbacks-and-os-locking",
        "§5.4.1",
        init_case(
            m,
            &mut args(15, CKF_OS_LOCKING_OK),
            &[CKR_OK, CKR_CANT_LOCK],
        ),
    );
    r.record(
        "init.cant-create-threads",
        "§5.4.1",
        init_case(
            m,
            &mut args(0, CKF_LIBRARY_CANT_CREATE_OS_THREADS),
            &[CKR_OK, CKR_NEED_TO_CREATE_THREADS],
        ),
    );
    for mask in 1u8..15 {
        let names: Vec<&str> = ["create", "destroy", "lock", "unlock"]
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        r.record(
            &format!("init.partial-callbacks.{}", names.join("+")),
            "§5.4.1",
            init_case(m, &mut args(mask, 0), &[CKR_ARGUMENTS_BAD]),
        );
        r.record(
            &format!("init.partial-callbacks-os-locking.{}", names.join("+")),
            "§5.4.1",
            init_case(m, &mut args(mask, CKF_OS_LOCKING_OK), &[CKR_ARGUMENTS_BAD]),
        );
    }
    r.record("init.after-finalize", "§5.4.1", {
        let a = m.init();
        m.finalize();
        let b = m.init();
        m.finalize();
        check(a == CKR_OK && b == CKR_OK, || {
            format!(
                "expected CKR_OK twice, got {} then {}",
                rv_name(a),
                rv_name(b)
            )
        })
    });
    // --- C_Finalize (§5.4.2)
    r.record(
        "finalize.not-initialized",
        "§5.4.2",
        expect_rv(&[CKR_CRYPTOKI_NOT_INITIALIZED], m.finalize()),
    );
    r.record("finalize.reserved-non-null", "§5.4.2", {
        m.init();
        let mut x = 0u8;
        let rv = call!(m.f, C_Finalize, &mut x as *mut u8 as *mut c_void);
        if rv != CKR_OK {
            m.finalize();
        }
        expect_rv(&[CKR_ARGUMENTS_BAD], rv)
    });
    r.record("finalize.twice", "§5.4.2", {
        m.init();
        let a = m.finalize();
        let b = m.finalize();
        check(a == CKR_OK && b == CKR_CRYPTOKI_NOT_INITIALIZED, || {
            format!(
                "expected CKR_OK then CKR_CRYPTOKI_NOT_INITIALIZED, got {} then {}",
                rv_name(a),
                rv_name(b)
            )
        })
    });
    // --- C_GetInfo (§5.4.3)
    r.group("info", |r, env| {
        r.case("info.null", "§5.4.3", env, |m, _| {
            expect_rv(&[CKR_ARGUMENTS_BAD], call!(m.f, C_GetInfo, nul()))
        });
        r.case("info.version", "§5.4.3", env, |m, _| {
            let i = crate::t!(m.info(), "C_GetInfo");
            let v = i.cryptokiVersion;
            check(v.major == 2 && v.minor >= 40 || v.major == 3, || {
                format!(
                    "expected cryptokiVersion 2.40..3.x, got {}.{}",
                    v.major, v.minor
                )
            })
        });
        r.case("info.manufacturer-padded", "§5.4.3", env, |m, _| {
            let i = crate::t!(m.info(), "C_GetInfo");
            blank_padded(&i.manufacturerID)
        });
        r.case("info.description-padded", "§5.4.3", env, |m, _| {
            let i = crate::t!(m.info(), "C_GetInfo");
            blank_padded(&i.libraryDescription)
        });
        r.case("info.flags-zero", "§5.4.3", env, |m, _| {
            let i = crate::t!(m.info(), "C_GetInfo");
            check(i.flags == 0, || {
                format!("expected flags 0 (reserved), got 0x{:x}", i.flags)
            })
        });
    });
    // --- C_GetFunctionList (§5.4.4)
    r.record(
        "function-list.null",
        "§5.4.4",
        expect_rv(&[CKR_ARGUMENTS_BAD], {
            // SAFETY: the module's C_GetFunctionList with a NULL out-pointer.
            unsafe { (m.get_function_list)(null_mut()) }
        }),
    );
    r.record("function-list.before-init", "§5.4.4", {
        let mut p: *mut CK_FUNCTION_LIST = null_mut();
        // SAFETY: out-pointer to a local.
        let rv = unsafe { (m.get_function_list)(&mut p) };
        check(rv == CKR_OK && !p.is_null(), || {
            format!("expected CKR_OK and a list, got {}", rv_name(rv))
        })
    });
    r.record("function-list.version-2", "§5.4.4", {
        let v = m.f.version;
        check(v.major == 2, || {
            format!(
                "expected a version 2.x CK_FUNCTION_LIST, got {}.{}",
                v.major, v.minor
            )
        })
    });
    r.record("function-list.all-entries", "§5.4.4", {
        // Every entry of CK_FUNCTION_LIST must be a function (stubs return CKR_FUNCTION_NOT_SUPPORTED).
        let n = std::mem::size_of::<CK_FUNCTION_LIST>() / std::mem::size_of::<usize>();
        // SAFETY: the list is a CK_VERSION (padded to a word) followed by function pointers.
        let words = unsafe {
            std::slice::from_raw_parts(&m.f as *const CK_FUNCTION_LIST as *const usize, n)
        };
        let missing = words[1..].iter().filter(|w| **w == 0).count();
        check(missing == 0, || {
            format!("expected 68 function pointers, {missing} are NULL")
        })
    });
    // --- interfaces (§5.4.5, §5.4.6)
    interfaces(r);
    // --- CKR_CRYPTOKI_NOT_INITIALIZED for every function
    not_initialized(r);
}

fn blank_padded(b: &[u8]) -> Outcome {
    check(!b.contains(&0), || {
        format!(
            "expected a blank-padded field without NUL, got {:?}",
            String::from_utf8_lossy(b)
        )
    })
}

fn interfaces(r: &mut Runner) {
    let m = r.m;
    let (Some(gil), Some(gi)) = (m.get_interface_list, m.get_interface) else {
        for id in [
            "interface-list.null-count",
            "interface-list.count",
            "interface-list.too-small",
            "interface-list.full",
            "interface-list.has-pkcs11-3.0",
            "interface-list.versions-match",
            "interface.default",
            "interface.pkcs11-3.0",
            "interface.unknown-name",
            "interface.unknown-version",
            "interface.null-out",
            "interface.function-list-3.0-complete",
        ] {
            r.record(
                id,
                "§5.4.5",
                Outcome::Skip("module exports no C_GetInterfaceList (PKCS#11 2.x)".into()),
            );
        }
        return;
    };
    let list = || -> Result<Vec<CK_INTERFACE>, CK_RV> {
        let mut n: CK_ULONG = 0;
        // SAFETY: NULL list and a local count: the length query.
        let rv = unsafe { gil(nul(), &mut n) };
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut v = vec![
            CK_INTERFACE {
                pInterfaceName: nul(),
                pFunctionList: nul(),
                flags: 0
            };
            n as usize
        ];
        // SAFETY: a buffer of n interfaces.
        let rv = unsafe { gil(v.as_mut_ptr(), &mut n) };
        v.truncate(n as usize);
        if rv == CKR_OK {
            Ok(v)
        } else {
            Err(rv)
        }
    };
    let name_of = |i: &CK_INTERFACE| -> String {
        if i.pInterfaceName.is_null() {
            return String::new();
        }
        // SAFETY: interface names are NUL-terminated strings owned by the module.
        unsafe { std::ffi::CStr::from_ptr(i.pInterfaceName as *const std::ffi::c_char) }
            .to_string_lossy()
            .into_owned()
    };
    let version_of = |i: &CK_INTERFACE| -> CK_VERSION {
        // SAFETY: every function list starts with its CK_VERSION.
        unsafe { *(i.pFunctionList as *const CK_VERSION) }
    };
    // SAFETY: NULL count: the module must refuse it.
    r.record(
        "interface-list.null-count",
        "§5.4.5",
        expect_rv(&[CKR_ARGUMENTS_BAD], unsafe { gil(nul(), nul()) }),
    );
    r.record("interface-list.count", "§5.4.5", {
        let mut n: CK_ULONG = 0;
        // SAFETY: length query.
        let rv = unsafe { gil(nul(), &mut n) };
        check(rv == CKR_OK && n >= 1, || {
            format!(
                "expected CKR_OK and a count >= 1, got {} and {n}",
                rv_name(rv)
            )
        })
    });
    r.record("interface-list.too-small", "§5.4.5", {
        let mut n: CK_ULONG = 0;
        // SAFETY: length query.
        unsafe { gil(nul(), &mut n) };
        let want = n;
        let mut one = [CK_INTERFACE {
            pInterfaceName: nul(),
            pFunctionList: nul(),
            flags: 0,
        }];
        let mut small: CK_ULONG = 0;
        // SAFETY: a buffer of (at least) 0 interfaces with count 0.
        let rv = unsafe { gil(one.as_mut_ptr(), &mut small) };
        check(rv == CKR_BUFFER_TOO_SMALL && small == want, || {
            format!(
                "expected CKR_BUFFER_TOO_SMALL and count {want}, got {} and {small}",
                rv_name(rv)
            )
        })
    });
    r.record(
        "interface-list.full",
        "§5.4.5",
        match list() {
            Ok(v) => check(
                v.iter()
                    .all(|i| !i.pFunctionList.is_null() && !i.pInterfaceName.is_null()),
                || "expected every interface to have a name and a function list".into(),
            ),
            Err(rv) => Outcome::Fail(format!("C_GetInterfaceList: {}", rv_name(rv))),
        },
    );
    r.record(
        "interface-list.has-pkcs11-3.0",
        "§5.4.5",
        match list() {
            Ok(v) => check(
                v.iter().any(|i| {
                    name_of(i) == "PKCS 11" && version_of(i).major == 3 && version_of(i).minor == 0
                }),
                || "expected an interface \"PKCS 11\" version 3.0".into(),
            ),
            Err(rv) => Outcome::Fail(format!("C_GetInterfaceList: {}", rv_name(rv))),
        },
    );
    r.record(
        "interface-list.versions-match",
        "§5.4.5",
        match list() {
            Ok(v) => {
                let bad: Vec<String> = v
                    .iter()
                    .filter(|i| name_of(i) == "PKCS 11" && !matches!(version_of(i).major, 2 | 3))
                    .map(|i| format!("{}.{}", version_of(i).major, version_of(i).minor))
                    .collect();
                check(bad.is_empty(), || {
                    format!(
                        "expected \"PKCS 11\" lists of version 2.x/3.x, got {}",
                        bad.join(",")
                    )
                })
            }
            Err(rv) => Outcome::Fail(format!("C_GetInterfaceList: {}", rv_name(rv))),
        },
    );
    let get = |name: Option<&[u8]>, ver: Option<CK_VERSION>| -> Result<CK_INTERFACE, CK_RV> {
        let mut n = name.map(|n| n.to_vec());
        let mut v = ver;
        let mut p: *mut CK_INTERFACE = nul();
        // SAFETY: NUL-terminated name or NULL, version or NULL, out-pointer to a local.
        let rv = unsafe {
            gi(
                n.as_mut().map_or(nul(), |n| n.as_mut_ptr()),
                v.as_mut().map_or(nul(), |v| v as *mut CK_VERSION),
                &mut p,
                0,
            )
        };
        if rv != CKR_OK {
            return Err(rv);
        }
        if p.is_null() {
            return Err(CKR_GENERAL_ERROR);
        }
        // SAFETY: the module's interface.
        Ok(unsafe { *p })
    };
    r.record(
        "interface.default",
        "§5.4.6",
        match get(None, None) {
            Ok(i) => check(name_of(&i) == "PKCS 11", || {
                format!(
                    "expected the default interface \"PKCS 11\", got {:?}",
                    name_of(&i)
                )
            }),
            Err(rv) => Outcome::Fail(format!("expected CKR_OK, got {}", rv_name(rv))),
        },
    );
    r.record(
        "interface.pkcs11-3.0",
        "§5.4.6",
        match get(Some(b"PKCS 11\0"), Some(CK_VERSION { major: 3, minor: 0 })) {
            Ok(i) => {
                let v = version_of(&i);
                check(v.major == 3 && v.minor == 0, || {
                    format!("expected a 3.0 function list, got {}.{}", v.major, v.minor)
                })
            }
            Err(rv) => Outcome::Fail(format!("expected CKR_OK, got {}", rv_name(rv))),
        },
    );
    r.record(
        "interface.unknown-name",
        "§5.4.6",
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            get(Some(b"No Such Interface\0"), None)
                .err()
                .unwrap_or(CKR_OK),
        ),
    );
    r.record(
        "interface.unknown-version",
        "§5.4.6",
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            get(Some(b"PKCS 11\0"), Some(CK_VERSION { major: 9, minor: 9 }))
                .err()
                .unwrap_or(CKR_OK),
        ),
    );
    // SAFETY: NULL ppInterface: the module must refuse it.
    r.record(
        "interface.null-out",
        "§5.4.6",
        expect_rv(&[CKR_ARGUMENTS_BAD], unsafe { gi(nul(), nul(), nul(), 0) }),
    );
    r.record(
        "interface.function-list-3.0-complete",
        "§5.4.6",
        match m.f3 {
            Some(f3) => {
                let n = std::mem::size_of::<CK_FUNCTION_LIST_3_0>() / std::mem::size_of::<usize>();
                // SAFETY: a CK_VERSION (padded) followed by function pointers.
                let words = unsafe {
                    std::slice::from_raw_parts(
                        &f3 as *const CK_FUNCTION_LIST_3_0 as *const usize,
                        n,
                    )
                };
                let missing = words[1..].iter().filter(|w| **w == 0).count();
                check(missing == 0, || {
                    format!("expected {} function pointers, {missing} are NULL", n - 1)
                })
            }
            None => Outcome::Fail("C_GetInterface(\"PKCS 11\", 3.0) gave no function list".into()),
        },
    );
}

fn not_initialized(r: &mut Runner) {
    let m = r.m;
    let f = m.f;
    let ni = [CKR_CRYPTOKI_NOT_INITIALIZED];
    let h: CK_SESSION_HANDLE = 1;
    let mut v: Vec<(&str, CK_RV)> = vec![
        ("C_GetInfo", call!(f, C_GetInfo, nul())),
        ("C_GetSlotList", call!(f, C_GetSlotList, 0, nul(), nul())),
        ("C_GetSlotInfo", call!(f, C_GetSlotInfo, 0, nul())),
        ("C_GetTokenInfo", call!(f, C_GetTokenInfo, 0, nul())),
        (
            "C_GetMechanismList",
            call!(f, C_GetMechanismList, 0, nul(), nul()),
        ),
        (
            "C_GetMechanismInfo",
            call!(f, C_GetMechanismInfo, 0, 0, nul()),
        ),
        ("C_InitToken", call!(f, C_InitToken, 0, nul(), 0, nul())),
        ("C_InitPIN", call!(f, C_InitPIN, h, nul(), 0)),
        ("C_SetPIN", call!(f, C_SetPIN, h, nul(), 0, nul(), 0)),
        (
            "C_OpenSession",
            call!(f, C_OpenSession, 0, CKF_SERIAL_SESSION, nul(), None, nul()),
        ),
        ("C_CloseSession", call!(f, C_CloseSession, h)),
        ("C_CloseAllSessions", call!(f, C_CloseAllSessions, 0)),
        ("C_GetSessionInfo", call!(f, C_GetSessionInfo, h, nul())),
        (
            "C_GetOperationState",
            call!(f, C_GetOperationState, h, nul(), nul()),
        ),
        (
            "C_SetOperationState",
            call!(f, C_SetOperationState, h, nul(), 0, 0, 0),
        ),
        ("C_Login", call!(f, C_Login, h, CKU_USER, nul(), 0)),
        ("C_Logout", call!(f, C_Logout, h)),
        (
            "C_CreateObject",
            call!(f, C_CreateObject, h, nul(), 0, nul()),
        ),
        (
            "C_CopyObject",
            call!(f, C_CopyObject, h, 1, nul(), 0, nul()),
        ),
        ("C_DestroyObject", call!(f, C_DestroyObject, h, 1)),
        ("C_GetObjectSize", call!(f, C_GetObjectSize, h, 1, nul())),
        (
            "C_GetAttributeValue",
            call!(f, C_GetAttributeValue, h, 1, nul(), 0),
        ),
        (
            "C_SetAttributeValue",
            call!(f, C_SetAttributeValue, h, 1, nul(), 0),
        ),
        (
            "C_FindObjectsInit",
            call!(f, C_FindObjectsInit, h, nul(), 0),
        ),
        ("C_FindObjects", call!(f, C_FindObjects, h, nul(), 0, nul())),
        ("C_FindObjectsFinal", call!(f, C_FindObjectsFinal, h)),
        ("C_EncryptInit", call!(f, C_EncryptInit, h, nul(), 1)),
        ("C_Encrypt", call!(f, C_Encrypt, h, nul(), 0, nul(), nul())),
        (
            "C_EncryptUpdate",
            call!(f, C_EncryptUpdate, h, nul(), 0, nul(), nul()),
        ),
        ("C_EncryptFinal", call!(f, C_EncryptFinal, h, nul(), nul())),
        ("C_DecryptInit", call!(f, C_DecryptInit, h, nul(), 1)),
        ("C_Decrypt", call!(f, C_Decrypt, h, nul(), 0, nul(), nul())),
        (
            "C_DecryptUpdate",
            call!(f, C_DecryptUpdate, h, nul(), 0, nul(), nul()),
        ),
        ("C_DecryptFinal", call!(f, C_DecryptFinal, h, nul(), nul())),
        ("C_DigestInit", call!(f, C_DigestInit, h, nul())),
        ("C_Digest", call!(f, C_Digest, h, nul(), 0, nul(), nul())),
        ("C_DigestUpdate", call!(f, C_DigestUpdate, h, nul(), 0)),
        ("C_DigestKey", call!(f, C_DigestKey, h, 1)),
        ("C_DigestFinal", call!(f, C_DigestFinal, h, nul(), nul())),
        ("C_SignInit", call!(f, C_SignInit, h, nul(), 1)),
        ("C_Sign", call!(f, C_Sign, h, nul(), 0, nul(), nul())),
        ("C_SignUpdate", call!(f, C_SignUpdate, h, nul(), 0)),
        ("C_SignFinal", call!(f, C_SignFinal, h, nul(), nul())),
        (
            "C_SignRecoverInit",
            call!(f, C_SignRecoverInit, h, nul(), 1),
        ),
        (
            "C_SignRecover",
            call!(f, C_SignRecover, h, nul(), 0, nul(), nul()),
        ),
        ("C_VerifyInit", call!(f, C_VerifyInit, h, nul(), 1)),
        ("C_Verify", call!(f, C_Verify, h, nul(), 0, nul(), 0)),
        ("C_VerifyUpdate", call!(f, C_VerifyUpdate, h, nul(), 0)),
        ("C_VerifyFinal", call!(f, C_VerifyFinal, h, nul(), 0)),
        (
            "C_VerifyRecoverInit",
            call!(f, C_VerifyRecoverInit, h, nul(), 1),
        ),
        (
            "C_VerifyRecover",
            call!(f, C_VerifyRecover, h, nul(), 0, nul(), nul()),
        ),
        (
            "C_DigestEncryptUpdate",
            call!(f, C_DigestEncryptUpdate, h, nul(), 0, nul(), nul()),
        ),
        (
            "C_DecryptDigestUpdate",
            call!(f, C_DecryptDigestUpdate, h, nul(), 0, nul(), nul()),
        ),
        (
            "C_SignEncryptUpdate",
            call!(f, C_SignEncryptUpdate, h, nul(), 0, nul(), nul()),
        ),
        (
            "C_DecryptVerifyUpdate",
            call!(f, C_DecryptVerifyUpdate, h, nul(), 0, nul(), nul()),
        ),
        (
            "C_GenerateKey",
            call!(f, C_GenerateKey, h, nul(), nul(), 0, nul()),
        ),
        (
            "C_GenerateKeyPair",
            call!(
                f,
                C_GenerateKeyPair,
                h,
                nul(),
                nul(),
                0,
                nul(),
                0,
                nul(),
                nul()
            ),
        ),
        (
            "C_WrapKey",
            call!(f, C_WrapKey, h, nul(), 1, 2, nul(), nul()),
        ),
        (
            "C_UnwrapKey",
            call!(f, C_UnwrapKey, h, nul(), 1, nul(), 0, nul(), 0, nul()),
        ),
        (
            "C_DeriveKey",
            call!(f, C_DeriveKey, h, nul(), 1, nul(), 0, nul()),
        ),
        ("C_SeedRandom", call!(f, C_SeedRandom, h, nul(), 0)),
        ("C_GenerateRandom", call!(f, C_GenerateRandom, h, nul(), 0)),
        ("C_GetFunctionStatus", call!(f, C_GetFunctionStatus, h)),
        ("C_CancelFunction", call!(f, C_CancelFunction, h)),
        (
            "C_WaitForSlotEvent",
            call!(f, C_WaitForSlotEvent, CKF_DONT_BLOCK, nul(), nul()),
        ),
    ];
    if let Some(f3) = m.f3 {
        v.extend([
            (
                "C_LoginUser",
                call!(f3, C_LoginUser, h, CKU_USER, nul(), 0, nul(), 0),
            ),
            ("C_SessionCancel", call!(f3, C_SessionCancel, h, 0)),
            (
                "C_MessageEncryptInit",
                call!(f3, C_MessageEncryptInit, h, nul(), 1),
            ),
            (
                "C_EncryptMessage",
                call!(
                    f3,
                    C_EncryptMessage,
                    h,
                    nul(),
                    0,
                    nul(),
                    0,
                    nul(),
                    0,
                    nul(),
                    nul()
                ),
            ),
            (
                "C_EncryptMessageBegin",
                call!(f3, C_EncryptMessageBegin, h, nul(), 0, nul(), 0),
            ),
            (
                "C_EncryptMessageNext",
                call!(
                    f3,
                    C_EncryptMessageNext,
                    h,
                    nul(),
                    0,
                    nul(),
                    0,
                    nul(),
                    nul(),
                    0
                ),
            ),
            ("C_MessageEncryptFinal", call!(f3, C_MessageEncryptFinal, h)),
            (
                "C_MessageDecryptInit",
                call!(f3, C_MessageDecryptInit, h, nul(), 1),
            ),
            (
                "C_DecryptMessage",
                call!(
                    f3,
                    C_DecryptMessage,
                    h,
                    nul(),
                    0,
                    nul(),
                    0,
                    nul(),
                    0,
                    nul(),
                    nul()
                ),
            ),
            (
                "C_DecryptMessageBegin",
                call!(f3, C_DecryptMessageBegin, h, nul(), 0, nul(), 0),
            ),
            (
                "C_DecryptMessageNext",
                call!(
                    f3,
                    C_DecryptMessageNext,
                    h,
                    nul(),
                    0,
                    nul(),
                    0,
                    nul(),
                    nul(),
                    0
                ),
            ),
            ("C_MessageDecryptFinal", call!(f3, C_MessageDecryptFinal, h)),
            (
                "C_MessageSignInit",
                call!(f3, C_MessageSignInit, h, nul(), 1),
            ),
            (
                "C_SignMessage",
                call!(f3, C_SignMessage, h, nul(), 0, nul(), 0, nul(), nul()),
            ),
            (
                "C_SignMessageBegin",
                call!(f3, C_SignMessageBegin, h, nul(), 0),
            ),
            (
                "C_SignMessageNext",
                call!(f3, C_SignMessageNext, h, nul(), 0, nul(), 0, nul(), nul()),
            ),
            ("C_MessageSignFinal", call!(f3, C_MessageSignFinal, h)),
            (
                "C_MessageVerifyInit",
                call!(f3, C_MessageVerifyInit, h, nul(), 1),
            ),
            (
                "C_VerifyMessage",
                call!(f3, C_VerifyMessage, h, nul(), 0, nul(), 0, nul(), 0),
            ),
            (
                "C_VerifyMessageBegin",
                call!(f3, C_VerifyMessageBegin, h, nul(), 0),
            ),
            (
                "C_VerifyMessageNext",
                call!(f3, C_VerifyMessageNext, h, nul(), 0, nul(), 0, nul(), 0),
            ),
            ("C_MessageVerifyFinal", call!(f3, C_MessageVerifyFinal, h)),
        ]);
    }
    for (name, rv) in v {
        // C_GetFunctionStatus/C_CancelFunction are legacy: CKR_FUNCTION_NOT_PARALLEL is
        // what they return in every state (§5.20), so accept it there.
        let legacy = matches!(name, "C_GetFunctionStatus" | "C_CancelFunction");
        let out = if legacy {
            expect_rv(
                &[CKR_CRYPTOKI_NOT_INITIALIZED, CKR_FUNCTION_NOT_PARALLEL],
                rv,
            )
        } else {
            expect_rv(&ni, rv)
        };
        r.record(&format!("not-initialized.{name}"), "§5.1.6", out);
    }
    if m.f3.is_none() {
        r.record(
            "not-initialized.3.0-functions",
            "§5.1.6",
            Outcome::Skip("no PKCS#11 3.0 function list".into()),
        );
    }
}
