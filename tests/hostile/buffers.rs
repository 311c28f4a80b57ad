//! Output buffers too small.

use crate::prelude::*;

/// Calls `op(buffer, &mut len)` with a 1-byte buffer, then with a buffer of the
/// length the module asked for: `CKR_OK` when the first call is
/// `CKR_BUFFER_TOO_SMALL` with the needed length (more than 1) and the second,
/// on the same operation, succeeds within it (PKCS#11 3.0 §5.2: the operation
/// is not ended by `CKR_BUFFER_TOO_SMALL`, and the call may be repeated).
pub(crate) fn too_small_then_enough(mut op: impl FnMut(*mut u8, &mut CK_ULONG) -> CK_RV) -> CK_RV {
    let mut one = [0u8; 1];
    let mut n: CK_ULONG = 1;
    let rv = op(one.as_mut_ptr(), &mut n);
    if rv != CKR_BUFFER_TOO_SMALL || n <= 1 || n > 1 << 20 {
        return verdict(false, rv);
    }
    let needed = n;
    let mut buf = vec![0u8; needed as usize];
    let rv2 = op(buf.as_mut_ptr(), &mut n);
    verdict(rv2 == CKR_OK && n <= needed, rv2 | 0x10_0000_0000)
}

/// `pt` sized input for the message cases.
pub(crate) const MSG: [u8; 16] = [9; 16];

/// Every function with an output buffer, given one byte of room:
/// `CKR_BUFFER_TOO_SMALL` with the needed length, and the operation still
/// alive (§5.2). `C_GetAttributeValue` answers a short buffer with
/// `CK_UNAVAILABLE_INFORMATION` in that entry (§5.7.5); the list functions
/// with the number of entries (§5.5.2, §5.5.5, §5.4.6).
#[test]
fn output_buffers_too_small() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    let cased = [
        "C_GetSlotList",
        "C_GetMechanismList",
        "C_GetInterfaceList",
        "C_GetAttributeValue",
        "C_Encrypt",
        "C_EncryptUpdate",
        "C_EncryptFinal",
        "C_Decrypt",
        "C_DecryptUpdate",
        "C_DecryptFinal",
        "C_Digest",
        "C_DigestFinal",
        "C_Sign",
        "C_SignFinal",
        "C_WrapKey",
        "C_EncryptMessage",
        "C_DecryptMessage",
        "C_EncryptMessageNext",
        "C_DecryptMessageNext",
    ];
    t.unsupported()
        .na(
            &["C_FindObjects"],
            "ulMaxObjectCount bounds the answer; no room is too small",
        )
        .na(
            &others(&[&cased[..], &["C_FindObjects"]].concat()),
            "no output buffer",
        );
    const OKV: &[CK_RV] = &[CKR_OK];
    t.case("C_GetSlotList", "room for 1 of 2 slots", OKV, |e, _| {
        let mut l = [0; 8];
        let mut n = 1;
        let rv = c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), &mut n);
        let rv2 = c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), &mut n);
        verdict(rv == CKR_BUFFER_TOO_SMALL && rv2 == CKR_OK && n == 2, rv)
    })
    .case("C_GetMechanismList", "room for 1", OKV, |e, _| {
        let mut l = [0; 1024];
        let mut n = 1;
        let rv = c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), &mut n);
        let needed = n;
        let rv2 = c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), &mut n);
        verdict(
            rv == CKR_BUFFER_TOO_SMALL && needed > 1 && rv2 == CKR_OK && n == needed,
            rv,
        )
    })
    .case("C_GetInterfaceList", "room for none", OKV, |e, _| {
        let mut l = [CK_INTERFACE {
            pInterfaceName: null_mut(),
            pFunctionList: null_mut(),
            flags: 0,
        }; 16];
        let mut n = 0;
        let rv = c!(e, C_GetInterfaceList, l.as_mut_ptr(), &mut n);
        let needed = n;
        let rv2 = c!(e, C_GetInterfaceList, l.as_mut_ptr(), &mut n);
        verdict(
            rv == CKR_BUFFER_TOO_SMALL && needed >= 1 && rv2 == CKR_OK && n == needed,
            rv,
        )
    })
    .case(
        "C_GetAttributeValue",
        "1 byte for the label: CK_UNAVAILABLE_INFORMATION, the class filled",
        OKV,
        |e, s| {
            let mut class = [0u8; 8];
            let mut label = [0u8; 1];
            let mut a = [
                CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: label.as_mut_ptr().cast(),
                    ulValueLen: 1,
                },
                CK_ATTRIBUTE {
                    type_: CKA_CLASS,
                    pValue: class.as_mut_ptr().cast(),
                    ulValueLen: 8,
                },
            ];
            let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 2);
            verdict(
                rv == CKR_BUFFER_TOO_SMALL
                    && a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION
                    && a[1].ulValueLen == 8
                    && class == CKO_DATA.to_ne_bytes(),
                rv,
            )
        },
    )
    .case("C_WrapKey", "1 byte", OKV, |e, s| {
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_WrapKey,
                s,
                Mech::new(CKM_AES_KEY_WRAP).p(),
                e.aes,
                e.aes2,
                p,
                n
            )
        })
    });
    let data = [7u8; 20];
    for name in ["C_Encrypt", "C_EncryptUpdate", "C_Digest", "C_Sign"] {
        t.case(name, "1 byte", OKV, move |e, s| {
            setup(e, s, name);
            let f = in_out_fn(e, name).unwrap();
            let mut d = data;
            // SAFETY: d holds 20 bytes; p holds *n bytes.
            too_small_then_enough(|p, n| unsafe { f(s, d.as_mut_ptr(), 20, p, n) })
        });
    }
    for name in ["C_Decrypt", "C_DecryptUpdate"] {
        t.case(name, "1 byte", OKV, move |e, s| {
            let mut ct = e.ciphertext(s, &data);
            setup(e, s, name);
            let f = in_out_fn(e, name).unwrap();
            let len = ct.len() as CK_ULONG;
            // SAFETY: ct holds len bytes; p holds *n bytes.
            too_small_then_enough(|p, n| unsafe { f(s, ct.as_mut_ptr(), len, p, n) })
        });
    }
    for name in FINALS {
        t.case(name, "1 byte", OKV, move |e, s| {
            let mut input = if name == "C_DecryptFinal" {
                e.ciphertext(s, &data)
            } else {
                data.to_vec()
            };
            setup(e, s, name);
            let mut out = [0u8; 64];
            let mut n: CK_ULONG = 64;
            let len = input.len() as CK_ULONG;
            let rv = match name {
                "C_EncryptFinal" => {
                    c!(
                        e,
                        C_EncryptUpdate,
                        s,
                        input.as_mut_ptr(),
                        len,
                        out.as_mut_ptr(),
                        &mut n
                    )
                }
                "C_DecryptFinal" => {
                    c!(
                        e,
                        C_DecryptUpdate,
                        s,
                        input.as_mut_ptr(),
                        len,
                        out.as_mut_ptr(),
                        &mut n
                    )
                }
                "C_DigestFinal" => c!(e, C_DigestUpdate, s, input.as_mut_ptr(), len),
                _ => c!(e, C_SignUpdate, s, input.as_mut_ptr(), len),
            };
            ok(rv, "update");
            let f = final_fn(e, name).unwrap();
            // SAFETY: p holds *n bytes.
            too_small_then_enough(|p, n| unsafe { f(s, p, n) })
        });
    }
    t.case("C_EncryptMessage", "1 byte", OKV, |e, s| {
        e.msg_enc_init(s);
        let mut g = GcmMsg::new();
        let mut pt = MSG;
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_EncryptMessage,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0,
                pt.as_mut_ptr(),
                16,
                p,
                n
            )
        })
    })
    .case("C_DecryptMessage", "1 byte", OKV, |e, s| {
        let (mut g, mut ct) = e.gcm_message(s, &MSG);
        e.msg_dec_init(s);
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_DecryptMessage,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0,
                ct.as_mut_ptr(),
                16,
                p,
                n
            )
        })
    })
    .case("C_EncryptMessageNext", "1 byte", OKV, |e, s| {
        e.msg_enc_init(s);
        let mut g = GcmMsg::new();
        ok(
            c!(
                e,
                C_EncryptMessageBegin,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0
            ),
            "begin",
        );
        let mut pt = MSG;
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_EncryptMessageNext,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                pt.as_mut_ptr(),
                16,
                p,
                n,
                CKF_END_OF_MESSAGE
            )
        })
    })
    .case("C_DecryptMessageNext", "1 byte", OKV, |e, s| {
        let (mut g, mut ct) = e.gcm_message(s, &MSG);
        e.msg_dec_init(s);
        ok(
            c!(
                e,
                C_DecryptMessageBegin,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0
            ),
            "begin",
        );
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_DecryptMessageNext,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                ct.as_mut_ptr(),
                16,
                p,
                n,
                CKF_END_OF_MESSAGE
            )
        })
    });
    t.run(&e, "output buffers too small");
}
