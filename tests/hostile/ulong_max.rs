//! `ULONG_MAX` lengths and counts.

use crate::prelude::*;

#[test]
fn ulong_max_lengths() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let pin_bad: &[CK_RV] = &[CKR_ARGUMENTS_BAD, CKR_PIN_LEN_RANGE];
    let param_bad: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD];
    let mut t = Table::default();
    t.unsupported()
        .na(
            &[
                "C_Initialize",
                "C_Finalize",
                "C_GetInfo",
                "C_GetFunctionList",
                "C_GetSlotInfo",
                "C_GetTokenInfo",
                "C_CloseSession",
                "C_CloseAllSessions",
                "C_GetSessionInfo",
                "C_Logout",
                "C_DestroyObject",
                "C_GetObjectSize",
                "C_FindObjectsFinal",
                "C_DigestKey",
                "C_GetFunctionStatus",
                "C_CancelFunction",
                "C_MessageEncryptFinal",
                "C_MessageDecryptFinal",
                "C_OpenSession",
            ],
            NO_LEN,
        )
        // Capacities the caller states for lists: the module writes only what it has.
        .case(
            "C_GetSlotList",
            "*pulCount = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, _| {
                let (mut l, mut n) = ([0; 64], U);
                c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), &mut n)
            },
        )
        .case(
            "C_GetMechanismList",
            "*pulCount = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, _| {
                let (mut l, mut n) = ([0; 1024], U);
                c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), &mut n)
            },
        )
        .case(
            "C_GetInterfaceList",
            "*pulCount = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, _| {
                let mut l = [CK_INTERFACE {
                    pInterfaceName: null_mut(),
                    pFunctionList: null_mut(),
                    flags: 0,
                }; 16];
                let mut n = U;
                c!(e, C_GetInterfaceList, l.as_mut_ptr(), &mut n)
            },
        )
        .case(
            "C_GetInterface",
            "flags ULONG_MAX: no interface has them",
            AB,
            |e, _| {
                let mut i: *mut CK_INTERFACE = null_mut();
                c!(e, C_GetInterface, null_mut(), null_mut(), &mut i, U)
            },
        )
        .case(
            "C_GetMechanismInfo",
            "type ULONG_MAX",
            &[CKR_MECHANISM_INVALID],
            |e, _| {
                let mut i = CK_MECHANISM_INFO {
                    ulMinKeySize: 0,
                    ulMaxKeySize: 0,
                    flags: 0,
                };
                c!(e, C_GetMechanismInfo, e.slot, U, &mut i)
            },
        )
        .case("C_InitToken", "ulPinLen", pin_bad, |e, _| {
            let mut label = [b' '; 32];
            c!(
                e,
                C_InitToken,
                e.spare_slot,
                SO_PIN.as_ptr().cast_mut(),
                U,
                label.as_mut_ptr()
            )
        })
        .case("C_InitPIN", "ulPinLen", pin_bad, |e, s| {
            c!(e, C_InitPIN, s, USER_PIN.as_ptr().cast_mut(), U)
        })
        .case("C_SetPIN", "ulOldLen", pin_bad, |e, s| {
            c!(
                e,
                C_SetPIN,
                s,
                USER_PIN.as_ptr().cast_mut(),
                U,
                b"newpin12".as_ptr().cast_mut(),
                8
            )
        })
        .case("C_SetPIN", "ulNewLen", pin_bad, |e, s| {
            c!(
                e,
                C_SetPIN,
                s,
                USER_PIN.as_ptr().cast_mut(),
                USER_PIN.len() as CK_ULONG,
                b"newpin12".as_ptr().cast_mut(),
                U
            )
        })
        .case("C_Login", "ulPinLen (SO)", pin_bad, |e, s| {
            c!(e, C_Login, s, CKU_SO, SO_PIN.as_ptr().cast_mut(), U)
        })
        .case("C_LoginUser", "ulPinLen", pin_bad, |e, s| {
            c!(
                e,
                C_LoginUser,
                s,
                CKU_SO,
                SO_PIN.as_ptr().cast_mut(),
                U,
                b"so".as_ptr().cast_mut(),
                2
            )
        })
        .case("C_LoginUser", "ulUsernameLen", AB, |e, s| {
            c!(
                e,
                C_LoginUser,
                s,
                CKU_SO,
                SO_PIN.as_ptr().cast_mut(),
                SO_PIN.len() as CK_ULONG,
                b"so".as_ptr().cast_mut(),
                U
            )
        })
        .case("C_CreateObject", "ulCount", AB, |e, s| {
            let (mut tp, mut h) = (data_tpl(), 0);
            let mut r = tp.raw_mut();
            c!(e, C_CreateObject, s, r.as_mut_ptr(), U, &mut h)
        })
        .case(
            "C_CreateObject",
            "ulValueLen",
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_ARGUMENTS_BAD],
            |e, s| {
                let (mut tp, mut h) = (data_tpl(), 0);
                let mut r = tp.raw_mut();
                r[2].ulValueLen = U - 1;
                c!(
                    e,
                    C_CreateObject,
                    s,
                    r.as_mut_ptr(),
                    r.len() as CK_ULONG,
                    &mut h
                )
            },
        )
        .case("C_CopyObject", "ulCount", AB, |e, s| {
            let (mut tp, mut h) = (label_tpl(), 0);
            let mut r = tp.raw_mut();
            c!(e, C_CopyObject, s, e.data, r.as_mut_ptr(), U, &mut h)
        })
        .case("C_GetAttributeValue", "ulCount", AB, |e, s| {
            let mut a = [CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: null_mut(),
                ulValueLen: 0,
            }];
            c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), U)
        })
        .case("C_SetAttributeValue", "ulCount", AB, |e, s| {
            let mut tp = label_tpl();
            let mut r = tp.raw_mut();
            c!(e, C_SetAttributeValue, s, e.data, r.as_mut_ptr(), U)
        })
        .case("C_FindObjectsInit", "ulCount", AB, |e, s| {
            let mut tp = label_tpl();
            let mut r = tp.raw_mut();
            c!(e, C_FindObjectsInit, s, r.as_mut_ptr(), U)
        })
        .case(
            "C_FindObjects",
            "ulMaxObjectCount",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, s| {
                e.find_init(s);
                let (mut h, mut n) = (vec![0; 4096], 0);
                c!(e, C_FindObjects, s, h.as_mut_ptr(), U, &mut n)
            },
        )
        .case("C_DigestInit", "ulParameterLen", param_bad, |e, s| {
            c!(
                e,
                C_DigestInit,
                s,
                Mech::with_bytes(CKM_SHA256, &[0; 16]).with_len(U).p()
            )
        })
        .case("C_GenerateKey", "ulCount", AB, |e, s| {
            gen_key(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_GEN)),
                Some(aes_tpl()),
                Some(U),
                true,
            )
        })
        .case("C_GenerateKey", "ulParameterLen", param_bad, |e, s| {
            gen_key(
                e,
                s,
                Some(Mech::with_bytes(CKM_AES_KEY_GEN, &[0; 16]).with_len(U)),
                Some(aes_tpl()),
                None,
                true,
            )
        })
        .case(
            "C_GenerateKeyPair",
            "ulPublicKeyAttributeCount",
            AB,
            |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
                    Some(ec_pub_tpl()),
                    Some(ec_priv_tpl()),
                    (Some(U), None),
                    (true, true),
                )
            },
        )
        .case(
            "C_GenerateKeyPair",
            "ulPrivateKeyAttributeCount",
            AB,
            |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
                    Some(ec_pub_tpl()),
                    Some(ec_priv_tpl()),
                    (None, Some(U)),
                    (true, true),
                )
            },
        )
        .case("C_WrapKey", "ulParameterLen", param_bad, |e, s| {
            wrap(
                e,
                s,
                Some(Mech::with_bytes(CKM_AES_KEY_WRAP, &[0; 8]).with_len(U)),
                e.aes,
                e.aes2,
                64,
                true,
            )
        })
        .case(
            "C_WrapKey",
            "*pulWrappedKeyLen = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, s| {
                wrap(
                    e,
                    s,
                    Some(Mech::new(CKM_AES_KEY_WRAP)),
                    e.aes,
                    e.aes2,
                    U,
                    true,
                )
            },
        )
        .case("C_UnwrapKey", "ulWrappedKeyLen", AB, |e, s| {
            unwrap(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_WRAP)),
                e.aes,
                Some(U),
                Some(unwrap_tpl()),
                None,
                true,
            )
        })
        .case("C_UnwrapKey", "ulAttributeCount", AB, |e, s| {
            unwrap(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_WRAP)),
                e.aes,
                None,
                Some(unwrap_tpl()),
                Some(U),
                true,
            )
        })
        .case("C_DeriveKey", "ulAttributeCount", AB, |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e)),
                e.ec_priv,
                Some(derive_tpl()),
                Some(U),
                true,
            )
        })
        .case("C_DeriveKey", "ulParameterLen", param_bad, |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e).with_len(U)),
                e.ec_priv,
                Some(derive_tpl()),
                None,
                true,
            )
        })
        .case("C_GenerateRandom", "ulRandomLen", AB, |e, s| {
            let mut b = [0u8; 16];
            c!(e, C_GenerateRandom, s, b.as_mut_ptr(), U)
        })
        .case(
            "C_SessionCancel",
            "flags ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, s| c!(e, C_SessionCancel, s, U),
        )
        .case(
            "C_Verify",
            "ulSignatureLen",
            &[CKR_ARGUMENTS_BAD, CKR_SIGNATURE_LEN_RANGE],
            |e, s| {
                let mut sig = e.signature(s, b"data");
                e.verify_init(s);
                c!(
                    e,
                    C_Verify,
                    s,
                    b"data".as_ptr().cast_mut(),
                    4,
                    sig.as_mut_ptr(),
                    U
                )
            },
        )
        .case("C_Verify", "ulDataLen", AB, |e, s| {
            let mut sig = e.signature(s, b"data");
            e.verify_init(s);
            c!(
                e,
                C_Verify,
                s,
                b"data".as_ptr().cast_mut(),
                U,
                sig.as_mut_ptr(),
                64
            )
        });
    for name in INITS {
        t.case(
            name,
            "ulParameterLen",
            &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD, CKR_OK],
            move |e, s| {
                let (f, m, k) = init_fn(e, name);
                let mut m = Mech::with_bytes(m.ty, &[0; 16]).with_len(U);
                let rv = call_init(f, s, m.p(), k);
                // Message-based init ignores the parameter (each message brings its
                // own); a plain init must refuse it.
                if rv == CKR_OK && !name.starts_with("C_Message") {
                    0xbad
                } else {
                    rv
                }
            },
        );
    }
    for name in IN_OUT {
        t.case(name, "input length", AB, move |e, s| {
            setup(e, s, name);
            let mut d = [0u8; 16];
            in_out(e, s, in_out_fn(e, name), d.as_mut_ptr(), U, true, true)
        });
        t.case(
            name,
            "*pulOutputLen = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            move |e, s| {
                setup(e, s, name);
                let mut d = [0u8; 16];
                let mut out = [0u8; 256];
                let mut n = U;
                // SAFETY: the output really holds 256 bytes, more than any output here.
                unsafe {
                    (in_out_fn(e, name).unwrap())(s, d.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n)
                }
            },
        );
    }
    for name in FINALS {
        t.case(
            name,
            "*pulOutputLen = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            move |e, s| {
                setup(e, s, name);
                let mut out = [0u8; 256];
                let mut n = U;
                // SAFETY: the output really holds 256 bytes.
                unsafe { (final_fn(e, name).unwrap())(s, out.as_mut_ptr(), &mut n) }
            },
        );
    }
    for name in DATA_IN {
        t.case(name, "ulDataLen", AB, move |e, s| {
            setup(e, s, name);
            let mut d = [0u8; 16];
            // SAFETY: a 16-byte buffer with a length of ULONG_MAX.
            unsafe { (data_in_fn(e, name).unwrap())(s, d.as_mut_ptr(), U) }
        });
    }
    for name in MESSAGE_FNS {
        t.case(name, "ulParameterLen", param_bad, move |e, s| {
            message_setup(e, s, name);
            message(e, s, name, Some(U), (true, 16), (true, 16), true)
        });
        if has_aad(name) {
            t.case(name, "ulAssociatedDataLen", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, U), (true, 16), true)
            });
        }
        if has_input(name) {
            t.case(name, "input length", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, 16), (true, U), true)
            });
        }
    }
    t.run(&e, "ULONG_MAX lengths");
}
