//! Unknown, zero and stale session handles, slot ids and object handles;
//! handles are never reused. Also the helpers the later tables share.

use crate::prelude::*;

/// `CKR_OK` when `good`, else `rv` marked so that no expected code matches it.
pub(crate) fn verdict(good: bool, rv: CK_RV) -> CK_RV {
    if good {
        CKR_OK
    } else {
        rv | 0x8000_0000_0000
    }
}

/// The functions that take no session, slot or object handle.
pub(crate) const NO_HANDLE: &[&str] = &[
    "C_Initialize",
    "C_Finalize",
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetInterfaceList",
    "C_GetInterface",
];

/// The functions with a template argument.
pub(crate) const TEMPLATE_FNS: &[&str] = &[
    "C_CreateObject",
    "C_CopyObject",
    "C_GetAttributeValue",
    "C_SetAttributeValue",
    "C_FindObjectsInit",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_UnwrapKey",
    "C_DeriveKey",
];

/// The functions that are not in `names` and not unsupported.
pub(crate) fn others(names: &[&str]) -> Vec<&'static str> {
    ALL.iter()
        .map(|(n, _)| *n)
        .filter(|n| !names.contains(n) && !UNSUPPORTED.contains(n))
        .collect()
}

/// `C_CreateObject` / `C_CopyObject` / `C_SetAttributeValue` with `t`.
pub(crate) fn create(e: &Env, s: CK_SESSION_HANDLE, mut t: Template) -> CK_RV {
    let mut r = t.raw_mut();
    let mut h = 0;
    c!(
        e,
        C_CreateObject,
        s,
        r.as_mut_ptr(),
        r.len() as CK_ULONG,
        &mut h
    )
}
pub(crate) fn copy(e: &Env, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, mut t: Template) -> CK_RV {
    let mut r = t.raw_mut();
    let mut h = 0;
    c!(
        e,
        C_CopyObject,
        s,
        o,
        r.as_mut_ptr(),
        r.len() as CK_ULONG,
        &mut h
    )
}
pub(crate) fn set_attrs(
    e: &Env,
    s: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    mut t: Template,
) -> CK_RV {
    let mut r = t.raw_mut();
    c!(
        e,
        C_SetAttributeValue,
        s,
        o,
        r.as_mut_ptr(),
        r.len() as CK_ULONG
    )
}
/// `C_FindObjectsInit` with `t`; on `CKR_OK`, the number of objects found.
pub(crate) fn find(e: &Env, s: CK_SESSION_HANDLE, mut t: Template) -> (CK_RV, CK_ULONG) {
    let mut r = t.raw_mut();
    let rv = c!(e, C_FindObjectsInit, s, r.as_mut_ptr(), r.len() as CK_ULONG);
    if rv != CKR_OK {
        return (rv, 0);
    }
    let mut h = [0; 64];
    let mut n = 0;
    ok(c!(e, C_FindObjects, s, h.as_mut_ptr(), 64, &mut n), "find");
    ok(c!(e, C_FindObjectsFinal, s), "find final");
    (rv, n)
}

/// Every function that takes a session handle, called with handles nobody was
/// given (0 = `CK_INVALID_HANDLE`, 0xdeadbeef, `ULONG_MAX`) and with the handle of
/// a closed session: `CKR_SESSION_HANDLE_INVALID`. Every function that takes a
/// slot id, with ids no slot has: `CKR_SLOT_ID_INVALID`. The other arguments
/// are harmless (a zeroed scratch buffer and small counts), so the handle is the
/// only thing wrong.
#[test]
fn bad_session_handles_and_slot_ids() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(NO_HANDLE, "no session handle or slot id");
    let bad_slots: [CK_SLOT_ID; 3] = [e.slot.max(e.spare_slot) + 1, 0xdead_beef, U];
    for name in others(NO_HANDLE) {
        let slot_first = ALL_SLOT_FIRST.contains(&name);
        let handles: Vec<CK_ULONG> = if slot_first {
            bad_slots.to_vec()
        } else {
            let mut v = UNKNOWN_HANDLES.to_vec();
            v.push(e.stale_session);
            v
        };
        let want: &'static [CK_RV] = if slot_first {
            &[CKR_SLOT_ID_INVALID]
        } else if matches!(name, "C_GetFunctionStatus" | "C_CancelFunction") {
            // Legacy functions that "should simply return CKR_FUNCTION_NOT_PARALLEL"
            // (PKCS#11 3.0 §5.20.1, §5.20.2); the session check is allowed too.
            &[CKR_SESSION_HANDLE_INVALID, CKR_FUNCTION_NOT_PARALLEL]
        } else {
            &[CKR_SESSION_HANDLE_INVALID]
        };
        for h in handles {
            t.case(
                name,
                if slot_first {
                    "unknown slot id"
                } else {
                    "unknown or closed session"
                },
                want,
                move |e, _| {
                    // The per-message parameter must be a real
                    // CK_GCM_MESSAGE_PARAMS, or the call is rightly refused for it.
                    if MESSAGE_FNS.contains(&name) {
                        return message(
                            e,
                            h,
                            name,
                            Some(GCM_MSG_LEN),
                            (true, 16),
                            (true, 16),
                            true,
                        );
                    }
                    if name == "C_OpenSession" {
                        let mut s = 0;
                        return c!(
                            e,
                            C_OpenSession,
                            h,
                            CKF_SERIAL_SESSION | CKF_RW_SESSION,
                            null_mut(),
                            None,
                            &mut s
                        );
                    }
                    let mut scratch = vec![0u64; 4096];
                    dummy(
                        e.f,
                        name,
                        &Dummies {
                            first: h,
                            ulong: 8,
                            ptr: scratch.as_mut_ptr().cast(),
                        },
                    )
                },
            );
        }
    }
    t.run(&e, "bad session handles and slot ids");
}

/// Object handles nobody was given, of a destroyed token object, and of a
/// session object whose session closed: `CKR_OBJECT_HANDLE_INVALID`, or the
/// key-specific code the function lists (PKCS#11 3.0 §5.8–§5.18:
/// `CKR_KEY_HANDLE_INVALID` for the key of every `*Init`, `C_DigestKey`, the
/// key to wrap and the base key of `C_DeriveKey`;
/// `CKR_WRAPPING_KEY_HANDLE_INVALID` and `CKR_UNWRAPPING_KEY_HANDLE_INVALID`).
#[test]
fn bad_object_handles() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    let cased = [
        "C_CopyObject",
        "C_DestroyObject",
        "C_GetObjectSize",
        "C_GetAttributeValue",
        "C_SetAttributeValue",
        "C_DigestKey",
        "C_WrapKey",
        "C_UnwrapKey",
        "C_DeriveKey",
    ];
    let mut covered: Vec<&str> = cased.to_vec();
    covered.extend(INITS);
    t.unsupported()
        .na(&others(&covered), "no object handle argument");
    let mut bad = UNKNOWN_HANDLES.to_vec();
    bad.extend(&e.stale_objects);
    const OBJ: &[CK_RV] = &[CKR_OBJECT_HANDLE_INVALID];
    const KEY: &[CK_RV] = &[CKR_KEY_HANDLE_INVALID];
    for h in bad {
        t.case("C_CopyObject", "hObject", OBJ, move |e, s| {
            copy(e, s, h, label_tpl())
        })
        .case("C_DestroyObject", "hObject", OBJ, move |e, s| {
            c!(e, C_DestroyObject, s, h)
        })
        .case("C_GetObjectSize", "hObject", OBJ, move |e, s| {
            let mut n = 0;
            c!(e, C_GetObjectSize, s, h, &mut n)
        })
        .case("C_GetAttributeValue", "hObject", OBJ, move |e, s| {
            let mut a = CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: null_mut(),
                ulValueLen: 0,
            };
            c!(e, C_GetAttributeValue, s, h, &mut a, 1)
        })
        .case("C_SetAttributeValue", "hObject", OBJ, move |e, s| {
            set_attrs(e, s, h, label_tpl())
        })
        .case("C_DigestKey", "hKey", KEY, move |e, s| {
            e.digest_init(s);
            c!(e, C_DigestKey, s, h)
        })
        .case(
            "C_WrapKey",
            "hWrappingKey",
            &[CKR_WRAPPING_KEY_HANDLE_INVALID],
            move |e, s| wrap(e, s, Some(Mech::new(CKM_AES_KEY_WRAP)), h, e.aes2, 64, true),
        )
        .case("C_WrapKey", "hKey", KEY, move |e, s| {
            wrap(e, s, Some(Mech::new(CKM_AES_KEY_WRAP)), e.aes, h, 64, true)
        })
        .case(
            "C_UnwrapKey",
            "hUnwrappingKey",
            &[CKR_UNWRAPPING_KEY_HANDLE_INVALID],
            move |e, s| {
                unwrap(
                    e,
                    s,
                    Some(Mech::new(CKM_AES_KEY_WRAP)),
                    h,
                    None,
                    Some(unwrap_tpl()),
                    None,
                    true,
                )
            },
        )
        .case("C_DeriveKey", "hBaseKey", KEY, move |e, s| {
            derive(e, s, Some(ecdh(e)), h, Some(derive_tpl()), None, true)
        });
        for name in INITS {
            t.case(name, "hKey", KEY, move |e, s| {
                let (f, mut m, _) = init_fn(e, name);
                call_init(f, s, m.p(), h)
            });
        }
    }
    t.run(&e, "bad object handles");
}

/// Session and object handles are never handed out twice: many session and
/// token objects created and destroyed, many sessions opened and closed, and
/// no new handle equals one seen before (a stale handle must never reach
/// another object or session, PKCS#11 3.0 §2.4: "a particular object on a
/// token does not necessarily have a handle which is fixed", but a handle that
/// came back would let a stale caller act on a stranger's object).
#[test]
fn handles_are_never_reused() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut objects = BTreeSet::new();
    let mut sessions = BTreeSet::new();
    for h in [e.aes, e.aes2, e.ec_pub, e.ec_priv, e.data] {
        assert!(objects.insert(h));
    }
    objects.extend(&e.stale_objects);
    sessions.insert(e.keeper);
    sessions.insert(e.stale_session);
    let mut made = 0;
    for round in 0..20 {
        let s = e.open();
        assert!(sessions.insert(s), "session handle {s} came back");
        for i in 0..10 {
            let token = (round + i) % 3 == 0;
            let mut t = data_tpl().set(CKA_TOKEN, &[u8::from(token)]);
            let mut r = t.raw_mut();
            let mut h = 0;
            ok(
                c!(
                    e,
                    C_CreateObject,
                    s,
                    r.as_mut_ptr(),
                    r.len() as CK_ULONG,
                    &mut h
                ),
                "create",
            );
            assert!(objects.insert(h), "object handle {h} came back");
            made += 1;
            // Destroy most at once; leave the rest to go with the session.
            if i % 4 != 0 || token {
                ok(c!(e, C_DestroyObject, s, h), "destroy");
            }
        }
        let mut k = 0;
        ok(
            c!(
                e,
                C_CopyObject,
                s,
                e.data,
                label_tpl().raw_mut().as_mut_ptr(),
                1,
                &mut k
            ),
            "copy",
        );
        assert!(objects.insert(k), "copied object handle {k} came back");
        ok(c!(e, C_DestroyObject, s, k), "destroy copy");
        ok(c!(e, C_CloseSession, s), "close");
    }
    // Handles of the objects found again (the cache assigns handles) are the old ones.
    let snap = e.snapshot();
    for h in snap.keys() {
        assert!(
            objects.contains(h),
            "a live object has a handle never given out"
        );
    }
    eprintln!(
        "handles are never reused: {} object handles ({made} created), {} session handles",
        objects.len(),
        sessions.len()
    );
}
