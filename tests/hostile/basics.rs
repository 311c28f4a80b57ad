//! The list itself, calls before `C_Initialize` and after `C_Finalize`, and
//! every function with every argument hostile at once.

use crate::prelude::*;

#[test]
fn all_functions_are_listed() {
    let first = offset_of!(CK_FUNCTION_LIST_3_0, C_Initialize);
    let slot = size_of::<CK_C_Initialize>();
    let n = (size_of::<CK_FUNCTION_LIST_3_0>() - first) / slot;
    assert_eq!(ALL.len(), n, "the list has {n} functions");
    let offsets: BTreeSet<usize> = ALL.iter().map(|(_, o)| *o).collect();
    let expected: BTreeSet<usize> = (0..n).map(|i| first + i * slot).collect();
    assert_eq!(offsets, expected, "ALL covers every slot exactly once");
    let _ctx = two_slots();
    let f = function_table();
    let base = std::ptr::from_ref(f).cast::<u8>();
    for (name, off) in ALL {
        // SAFETY: reads a function-pointer slot of the table.
        let p = unsafe { base.add(*off).cast::<usize>().read_unaligned() };
        assert_ne!(p, 0, "{name} is null in the 3.0 table");
    }
}

#[test]
fn before_initialize() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let before = e.snapshot();
    let keeper = e.keeper;
    ok(c!(e, C_Finalize, null_mut()), "finalize");
    let mut scratch = vec![0u64; 4096];
    let d = Dummies {
        first: keeper,
        ulong: 8,
        ptr: scratch.as_mut_ptr().cast(),
    };
    let works_before = ["C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface"];
    let mut failures = Vec::new();
    let mut cases = 0;
    for round in ["before C_Initialize", "after C_Finalize"] {
        for (name, _) in ALL {
            if *name == "C_Initialize" {
                continue;
            }
            scratch.iter_mut().for_each(|w| *w = 0);
            let rv = dummy(e.f, name, &d);
            cases += 1;
            // C_Finalize with a non-null pReserved: CKR_ARGUMENTS_BAD applies as
            // well (§5.4.2); SoftHSMv2 checks it first too.
            let good = if *name == "C_Finalize" {
                rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_ARGUMENTS_BAD
            } else if works_before.contains(name) {
                rv != CKR_CRYPTOKI_NOT_INITIALIZED && rv != CKR_GENERAL_ERROR
            } else {
                rv == CKR_CRYPTOKI_NOT_INITIALIZED
            };
            if !good {
                failures.push(format!("{round}: {name}: 0x{rv:x}"));
            }
        }
        let _ = round;
    }
    // Scratch mode: memory-safe arguments; hostile mode: nulls and ULONG_MAX.
    let h = Dummies {
        first: U,
        ulong: U,
        ptr: null_mut(),
    };
    for (name, _) in ALL {
        if *name == "C_Initialize" || works_before.contains(name) {
            continue;
        }
        cases += 1;
        let rv = dummy(e.f, name, &h);
        if rv != CKR_CRYPTOKI_NOT_INITIALIZED {
            failures.push(format!("hostile arguments: {name}: 0x{rv:x}"));
        }
    }
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_OS_LOCKING_OK,
        pReserved: null_mut(),
    };
    ok(
        c!(e, C_Initialize, std::ptr::addr_of_mut!(args).cast()),
        "initialize",
    );
    ok(
        c!(
            e,
            C_Login,
            e.open(),
            CKU_USER,
            USER_PIN.as_ptr().cast_mut(),
            USER_PIN.len() as CK_ULONG
        ),
        "login",
    );
    // The handles of the first run are gone (and not answered as if they were live).
    assert_eq!(
        c!(
            e,
            C_GetSessionInfo,
            keeper,
            &mut CK_SESSION_INFO {
                slotID: 0,
                state: 0,
                flags: 0,
                ulDeviceError: 0
            }
        ),
        CKR_SESSION_HANDLE_INVALID
    );
    let mut after = e.snapshot();
    // Token objects survive a restart with new handles: compare the attributes only.
    let mut a: Vec<_> = before.into_values().collect();
    let mut b: Vec<_> = std::mem::take(&mut after).into_values().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the token's objects changed");
    eprintln!(
        "before C_Initialize: {} functions, {cases} cases",
        ALL.len() - 1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every function with every pointer null and every integer `ULONG_MAX`, on a
/// real session or slot and on an unknown one: an error (never `CKR_OK` but
/// where noted, never `CKR_GENERAL_ERROR`, which is what a panic becomes), no
/// crash, no change.
#[test]
fn all_arguments_hostile() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.na(
        &["C_Finalize"],
        "a null pReserved is the valid call (§5.4.2)",
    )
    .na(
        &["C_Logout", "C_CloseAllSessions"],
        "would log out the user the other cases need; no pointer or length arguments",
    );
    // A valid call with these arguments (§5.6.2, §5.6.5: flags may name every kind).
    let may_succeed = ["C_CloseSession", "C_SessionCancel"];
    for (name, _) in ALL {
        if matches!(*name, "C_Finalize" | "C_Logout" | "C_CloseAllSessions") {
            continue;
        }
        let name: &'static str = name;
        let bad = move |rv: CK_RV| {
            rv != CKR_GENERAL_ERROR && (rv != CKR_OK || may_succeed.contains(&name))
        };
        t.case(
            name,
            "real handle, null pointers, ULONG_MAX integers",
            &[CKR_OK],
            move |e, s| {
                let first = if ALL_SLOT_FIRST.contains(&name) {
                    e.slot
                } else {
                    s
                };
                let rv = dummy(
                    e.f,
                    name,
                    &Dummies {
                        first,
                        ulong: U,
                        ptr: null_mut(),
                    },
                );
                if bad(rv) {
                    CKR_OK
                } else {
                    rv | 0x8000_0000_0000
                }
            },
        );
        t.case(
            name,
            "unknown handle, null pointers, ULONG_MAX integers",
            &[CKR_OK],
            move |e, _| {
                let rv = dummy(
                    e.f,
                    name,
                    &Dummies {
                        first: 0xdead_beef,
                        ulong: U,
                        ptr: null_mut(),
                    },
                );
                if bad(rv) && rv != CKR_OK {
                    CKR_OK
                } else {
                    rv | 0x8000_0000_0000
                }
            },
        );
    }
    t.run(&e, "all arguments hostile");
}

/// The functions whose first argument is a slot id.
pub(crate) const ALL_SLOT_FIRST: &[&str] = &[
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_OpenSession",
    "C_CloseAllSessions",
];
