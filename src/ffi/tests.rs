//! Tests of the C ABI: the tables and interfaces through their function
//! pointers (as a C caller would use them, without dlopen). The marshalling
//! rules are tested in `marshal/tests.rs`.

#![allow(clippy::undocumented_unsafe_blocks, clippy::unwrap_used)]

use super::guard::{self, Kind};
use super::marshal;
use super::*;
use crate::error::Error;
use std::ffi::c_void;
use std::mem::{offset_of, size_of};
use std::ptr::{null, null_mut};

/// The function-pointer slots of a table, as raw addresses (0 = `None`).
fn slots<T>(table: &T, first_slot: usize) -> Vec<usize> {
    let n = (size_of::<T>() - first_slot) / size_of::<usize>();
    let base = std::ptr::from_ref(table).cast::<u8>();
    (0..n)
        .map(|i| unsafe {
            base.add(first_slot + i * size_of::<usize>())
                .cast::<usize>()
                .read_unaligned()
        })
        .collect()
}

#[test]
fn no_table_slot_is_empty() {
    let v2 = slots(&FUNCTION_LIST, offset_of!(CK_FUNCTION_LIST, C_Initialize));
    let v3 = slots(
        &FUNCTION_LIST_3_0,
        offset_of!(CK_FUNCTION_LIST_3_0, C_Initialize),
    );
    let v32 = slots(
        &FUNCTION_LIST_3_2,
        offset_of!(CK_FUNCTION_LIST_3_2, C_Initialize),
    );
    assert_eq!(v2.len(), 68);
    assert_eq!(v3.len(), 92);
    assert_eq!(v32.len(), 104);
    assert!(v2.iter().all(|s| *s != 0), "empty slot in the 2.40 table");
    assert!(v3.iter().all(|s| *s != 0), "empty slot in the 3.0 table");
    assert!(v32.iter().all(|s| *s != 0), "empty slot in the 3.2 table");
    // Each table is a prefix of the next.
    assert_eq!(v2[..], v3[..68]);
    assert_eq!(v3[..], v32[..92]);
}

#[test]
fn table_versions() {
    assert_eq!(
        (FUNCTION_LIST.version.major, FUNCTION_LIST.version.minor),
        (2, 40)
    );
    assert_eq!(
        (
            FUNCTION_LIST_3_0.version.major,
            FUNCTION_LIST_3_0.version.minor
        ),
        (3, 0)
    );
    assert_eq!(
        (
            FUNCTION_LIST_3_2.version.major,
            FUNCTION_LIST_3_2.version.minor
        ),
        (3, 2)
    );
}

#[test]
fn get_function_list() {
    let f = FUNCTION_LIST.C_GetFunctionList.unwrap();
    assert_eq!(unsafe { f(null_mut()) }, CKR_ARGUMENTS_BAD);
    let mut p: *mut CK_FUNCTION_LIST = null_mut();
    assert_eq!(unsafe { f(&mut p) }, CKR_OK);
    let table = unsafe { &*p };
    assert_eq!((table.version.major, table.version.minor), (2, 40));
    assert!(table.C_Finalize.is_some());
}

fn version_of(i: &CK_INTERFACE) -> (u8, u8) {
    let v = unsafe { i.pFunctionList.cast::<CK_VERSION>().read() };
    (v.major, v.minor)
}

fn name_of(i: &CK_INTERFACE) -> &CStr {
    unsafe { CStr::from_ptr(i.pInterfaceName.cast_const().cast()) }
}

#[test]
fn interface_list() {
    let f = FUNCTION_LIST_3_0.C_GetInterfaceList.unwrap();
    assert_eq!(unsafe { f(null_mut(), null_mut()) }, CKR_ARGUMENTS_BAD);
    let mut n: CK_ULONG = 0;
    assert_eq!(unsafe { f(null_mut(), &mut n) }, CKR_OK);
    assert_eq!(n, 3);

    let empty = CK_INTERFACE {
        pInterfaceName: null_mut(),
        pFunctionList: null_mut(),
        flags: 0,
    };
    let mut list = [empty; 3];
    let mut n: CK_ULONG = 2;
    assert_eq!(
        unsafe { f(list.as_mut_ptr(), &mut n) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(n, 3);

    assert_eq!(unsafe { f(list.as_mut_ptr(), &mut n) }, CKR_OK);
    assert_eq!(n, 3);
    assert!(list
        .iter()
        .all(|i| name_of(i) == c"PKCS 11" && i.flags == 0));
    assert_eq!(version_of(&list[0]), (3, 2));
    assert_eq!(version_of(&list[1]), (3, 0));
    assert_eq!(version_of(&list[2]), (2, 40));
}

#[test]
fn get_interface() {
    let f = FUNCTION_LIST_3_0.C_GetInterface.unwrap();
    let mut p: *mut CK_INTERFACE = null_mut();
    assert_eq!(unsafe { f(null_mut(), null_mut(), &mut p, 0) }, CKR_OK);
    assert_eq!(version_of(unsafe { &*p }), (3, 2));

    let name = c"PKCS 11".as_ptr().cast_mut().cast();
    let mut v240 = CK_VERSION {
        major: 2,
        minor: 40,
    };
    assert_eq!(unsafe { f(name, &mut v240, &mut p, 0) }, CKR_OK);
    assert_eq!(version_of(unsafe { &*p }), (2, 40));
    let table = unsafe { &*(*p).pFunctionList.cast::<CK_FUNCTION_LIST>() };
    assert!(table.C_Initialize.is_some());

    assert_eq!(unsafe { f(name, null_mut(), &mut p, 0) }, CKR_OK);
    assert_eq!(version_of(unsafe { &*p }), (3, 2));

    // A caller that names 3.0 gets the 3.0 table, as before 3.2 was offered.
    let mut v30 = CK_VERSION { major: 3, minor: 0 };
    assert_eq!(unsafe { f(name, &mut v30, &mut p, 0) }, CKR_OK);
    assert_eq!(version_of(unsafe { &*p }), (3, 0));
    assert!(std::ptr::eq(
        unsafe { (*p).pFunctionList }.cast_const(),
        std::ptr::addr_of!(FUNCTION_LIST_3_0).cast()
    ));

    let other = c"Vendor".as_ptr().cast_mut().cast();
    assert_eq!(
        unsafe { f(other, null_mut(), &mut p, 0) },
        CKR_ARGUMENTS_BAD
    );
    let mut v99 = CK_VERSION { major: 9, minor: 9 };
    assert_eq!(unsafe { f(name, &mut v99, &mut p, 0) }, CKR_ARGUMENTS_BAD);
    // Our interfaces have no flags, so one asked for is not offered.
    assert_eq!(
        unsafe { f(null_mut(), null_mut(), &mut p, CKF_INTERFACE_FORK_SAFE) },
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        unsafe { f(null_mut(), null_mut(), null_mut(), 0) },
        CKR_ARGUMENTS_BAD
    );
}

#[test]
fn calls_before_initialize() {
    // Other tests in this binary may initialize the module one day; only assert
    // when it is not initialized.
    if crate::module::get().is_ok() {
        return;
    }
    let t = &FUNCTION_LIST_3_0;
    let mut info = std::mem::MaybeUninit::<CK_INFO>::uninit();
    assert_eq!(
        unsafe { t.C_GetInfo.unwrap()(info.as_mut_ptr()) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    let mut n: CK_ULONG = 0;
    assert_eq!(
        unsafe { t.C_GetSlotList.unwrap()(CK_FALSE, null_mut(), &mut n) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert_eq!(
        unsafe { t.C_CloseSession.unwrap()(1) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    // Unsupported and legacy functions check initialization first, too.
    assert_eq!(
        unsafe { t.C_SignRecoverInit.unwrap()(1, null_mut(), 1) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert_eq!(
        unsafe { t.C_GetFunctionStatus.unwrap()(1) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
}

unsafe extern "C" fn fake_create_mutex(_: *mut *mut c_void) -> CK_RV {
    CKR_OK
}
unsafe extern "C" fn fake_mutex(_: *mut c_void) -> CK_RV {
    CKR_OK
}

fn init_args() -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: 0,
        pReserved: null_mut(),
    }
}

#[test]
fn initialize_argument_rules() {
    let init = FUNCTION_LIST_3_0.C_Initialize.unwrap();
    let mut reserved = init_args();
    let mut x = 0u8;
    reserved.pReserved = std::ptr::addr_of_mut!(x).cast();
    assert_eq!(
        unsafe { init(std::ptr::addr_of_mut!(reserved).cast()) },
        CKR_ARGUMENTS_BAD
    );

    let mut partial = init_args();
    partial.CreateMutex = Some(fake_create_mutex);
    partial.LockMutex = Some(fake_mutex);
    assert_eq!(
        unsafe { init(std::ptr::addr_of_mut!(partial).cast()) },
        CKR_ARGUMENTS_BAD
    );

    let fin = FUNCTION_LIST_3_0.C_Finalize.unwrap();
    assert_eq!(
        unsafe { fin(std::ptr::addr_of_mut!(x).cast()) },
        CKR_ARGUMENTS_BAD
    );
}

#[test]
fn init_args_mapping() {
    assert_eq!(
        unsafe { marshal::init_args(null()) }.unwrap(),
        crate::module::InitArgs::default()
    );
    let mut a = init_args();
    a.CreateMutex = Some(fake_create_mutex);
    a.DestroyMutex = Some(fake_mutex);
    a.LockMutex = Some(fake_mutex);
    a.UnlockMutex = Some(fake_mutex);
    a.flags = CKF_OS_LOCKING_OK;
    let got = unsafe { marshal::init_args(std::ptr::addr_of!(a).cast()) }.unwrap();
    assert!(got.mutex_callbacks && got.os_locking_ok && !got.cant_create_threads);
    let mut b = init_args();
    b.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
    let got = unsafe { marshal::init_args(std::ptr::addr_of!(b).cast()) }.unwrap();
    assert!(!got.mutex_callbacks && !got.os_locking_ok && got.cant_create_threads);
}

#[test]
fn guard_turns_errors_and_panics_into_codes() {
    let s = guard::State::new();
    assert_eq!(s.run("C_Initialize", Kind::Initialize, || Ok(())), CKR_OK);
    assert_eq!(s.run("t", Kind::Module, || Ok(())), CKR_OK);
    assert_eq!(
        s.run("t", Kind::Module, || Err(Error::PinIncorrect)),
        CKR_PIN_INCORRECT
    );
    assert!(!s.failed());
    assert_eq!(
        s.run("t", Kind::Module, || panic!("boom")),
        CKR_GENERAL_ERROR
    );
    assert!(s.failed());
}

#[test]
fn a_panic_fails_the_module_until_finalize() {
    let s = guard::State::new();
    assert_eq!(s.run("C_Initialize", Kind::Initialize, || Ok(())), CKR_OK);
    assert_eq!(
        s.run("C_GenerateRandom", Kind::Module, || panic!("boom {}", 1)),
        CKR_GENERAL_ERROR
    );
    // Every later call is refused without running, C_Initialize included.
    let ran = std::cell::Cell::new(false);
    for kind in [Kind::Module, Kind::Initialize] {
        let rv = s.run("t", kind, || {
            ran.set(true);
            Ok(())
        });
        assert_eq!(rv, CKR_GENERAL_ERROR);
    }
    assert!(!ran.get(), "a call ran on a failed module");
    // The static tables are still handed out.
    assert_eq!(s.run("C_GetFunctionList", Kind::Lookup, || Ok(())), CKR_OK);
    assert!(s.failed());
    // C_Finalize runs and clears the failed state; then calls work again.
    assert_eq!(
        s.run("C_Finalize", Kind::Finalize, || {
            ran.set(true);
            Ok(())
        }),
        CKR_OK
    );
    assert!(ran.get());
    assert!(!s.failed());
    assert_eq!(s.run("C_Initialize", Kind::Initialize, || Ok(())), CKR_OK);
    assert_eq!(s.run("t", Kind::Module, || Ok(())), CKR_OK);
}

#[test]
fn finalize_clears_the_failed_state_whatever_it_returns() {
    let s = guard::State::new();
    assert_eq!(s.run("C_Initialize", Kind::Initialize, || Ok(())), CKR_OK);
    assert_eq!(
        s.run("t", Kind::Module, || panic!("boom")),
        CKR_GENERAL_ERROR
    );
    assert_eq!(
        s.run("C_Finalize", Kind::Finalize, || Err(Error::NotInitialized)),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert!(!s.failed());
    // A panic in C_Finalize itself fails the module again.
    assert_eq!(
        s.run("C_Finalize", Kind::Finalize, || panic!("boom")),
        CKR_GENERAL_ERROR
    );
    assert!(s.failed());
    assert_eq!(s.run("C_Finalize", Kind::Finalize, || Ok(())), CKR_OK);
    assert!(!s.failed());
}

#[test]
fn a_panic_in_a_lookup_fails_the_module_too() {
    let s = guard::State::new();
    assert_eq!(s.run("C_Initialize", Kind::Initialize, || Ok(())), CKR_OK);
    assert_eq!(
        s.run("C_GetInterface", Kind::Lookup, || panic!("boom")),
        CKR_GENERAL_ERROR
    );
    assert!(s.failed());
    assert_eq!(s.run("t", Kind::Module, || Ok(())), CKR_GENERAL_ERROR);
}

#[test]
fn the_fork_check_wants_the_process_that_initialized() {
    use std::sync::atomic::Ordering;
    let s = guard::State::new();
    assert!(matches!(s.check_process(), Err(Error::NotInitialized)));
    // A failed C_Initialize does not record the process.
    assert_eq!(
        s.run("C_Initialize", Kind::Initialize, || Err(Error::CantLock)),
        CKR_CANT_LOCK
    );
    assert!(s.check_process().is_err());
    assert_eq!(s.run("C_Initialize", Kind::Initialize, || Ok(())), CKR_OK);
    assert!(s.check_process().is_ok());
    assert_eq!(s.run("t", Kind::Module, || Ok(())), CKR_OK);
    // As a forked child sees its parent's state: another process's ids.
    let parent = crate::sys::pid().wrapping_add(1);
    s.initialized_in.store(parent, Ordering::Relaxed);
    assert!(matches!(s.check_process(), Err(Error::NotInitialized)));
    let ran = std::cell::Cell::new(false);
    let rv = s.run("t", Kind::Module, || {
        ran.set(true);
        Ok(())
    });
    assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
    assert!(
        !ran.get(),
        "a call ran in a process that did not initialize"
    );
    // The parent's failure is not the child's: the child initializes afresh.
    s.failed_in.store(parent, Ordering::Relaxed);
    assert!(!s.failed());
    assert_eq!(s.run("C_Initialize", Kind::Initialize, || Ok(())), CKR_OK);
    assert_eq!(s.run("t", Kind::Module, || Ok(())), CKR_OK);
}

#[test]
fn panic_messages() {
    let lit: Box<dyn std::any::Any + Send> = Box::new("literal");
    let fmt: Box<dyn std::any::Any + Send> = Box::new(format!("formatted {}", 7));
    let other: Box<dyn std::any::Any + Send> = Box::new(7u8);
    assert_eq!(guard::panic_message(lit.as_ref()), "literal");
    assert_eq!(guard::panic_message(fmt.as_ref()), "formatted 7");
    assert_eq!(guard::panic_message(other.as_ref()), "(no message)");
}

#[test]
fn entry_points_check_the_process_before_the_module() {
    // Nothing in this test binary initializes through the C ABI, so every
    // function that needs the module stops at the fork check.
    if guard::STATE.check_process().is_ok() {
        return;
    }
    let t = &FUNCTION_LIST_3_0;
    assert_eq!(
        unsafe { t.C_Finalize.unwrap()(null_mut()) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert_eq!(
        unsafe { t.C_CloseAllSessions.unwrap()(0) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
}
