//! NULL pointers.

use crate::prelude::*;

#[test]
fn null_pointers() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(
            &["C_Initialize"],
            "a null pInitArgs is the valid call (§5.4.1)",
        )
        .na(
            &["C_Finalize"],
            "a null pReserved is the valid call (§5.4.2)",
        )
        .na(
            &[
                "C_CloseSession",
                "C_CloseAllSessions",
                "C_Logout",
                "C_DestroyObject",
                "C_FindObjectsFinal",
                "C_DigestKey",
                "C_GetFunctionStatus",
                "C_CancelFunction",
                "C_SessionCancel",
                "C_MessageEncryptFinal",
                "C_MessageDecryptFinal",
            ],
            NO_PTR,
        );
    let mut buf = [0u8; 64];
    let _ = &mut buf;
    t.case("C_GetInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetInfo, null_mut())
    })
    .case("C_GetFunctionList", "ppFunctionList", AB, |e, _| {
        c!(e, C_GetFunctionList, null_mut())
    })
    .case("C_GetSlotList", "pulCount", AB, |e, _| {
        let mut l = [0; 8];
        c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), null_mut())
    })
    .case("C_GetSlotInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetSlotInfo, e.slot, null_mut())
    })
    .case("C_GetTokenInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetTokenInfo, e.slot, null_mut())
    })
    .case("C_GetMechanismList", "pulCount", AB, |e, _| {
        let mut l = [0; 256];
        c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), null_mut())
    })
    .case("C_GetMechanismInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetMechanismInfo, e.slot, CKM_SHA256, null_mut())
    })
    .case("C_InitToken", "pPin", AB, |e, _| {
        let mut label = [b' '; 32];
        c!(
            e,
            C_InitToken,
            e.spare_slot,
            null_mut(),
            8,
            label.as_mut_ptr()
        )
    })
    .case("C_InitToken", "pLabel", AB, |e, _| {
        c!(
            e,
            C_InitToken,
            e.spare_slot,
            SO_PIN.as_ptr().cast_mut(),
            SO_PIN.len() as CK_ULONG,
            null_mut()
        )
    })
    .case("C_InitPIN", "pPin", AB, |e, s| {
        c!(e, C_InitPIN, s, null_mut(), 8)
    })
    .case("C_SetPIN", "pOldPin", AB, |e, s| {
        c!(
            e,
            C_SetPIN,
            s,
            null_mut(),
            8,
            b"newpin12".as_ptr().cast_mut(),
            8
        )
    })
    .case("C_SetPIN", "pNewPin", AB, |e, s| {
        c!(
            e,
            C_SetPIN,
            s,
            USER_PIN.as_ptr().cast_mut(),
            USER_PIN.len() as CK_ULONG,
            null_mut(),
            8
        )
    })
    .case("C_OpenSession", "phSession", AB, |e, _| {
        c!(
            e,
            C_OpenSession,
            e.slot,
            CKF_SERIAL_SESSION,
            null_mut(),
            None,
            null_mut()
        )
    })
    .case("C_GetSessionInfo", "pInfo", AB, |e, s| {
        c!(e, C_GetSessionInfo, s, null_mut())
    })
    .case("C_Login", "pPin (SO, no protected path)", AB, |e, s| {
        c!(e, C_Login, s, CKU_SO, null_mut(), 8)
    })
    .case("C_LoginUser", "pPin", AB, |e, s| {
        c!(
            e,
            C_LoginUser,
            s,
            CKU_SO,
            null_mut(),
            8,
            b"so".as_ptr().cast_mut(),
            2
        )
    })
    .case("C_LoginUser", "pUsername", AB, |e, s| {
        c!(
            e,
            C_LoginUser,
            s,
            CKU_SO,
            SO_PIN.as_ptr().cast_mut(),
            SO_PIN.len() as CK_ULONG,
            null_mut(),
            2
        )
    })
    .case("C_CreateObject", "pTemplate", AB, |e, s| {
        let mut h = 0;
        c!(e, C_CreateObject, s, null_mut(), 4, &mut h)
    })
    .case("C_CreateObject", "phObject", AB, |e, s| {
        let mut t = data_tpl();
        let mut r = t.raw_mut();
        c!(
            e,
            C_CreateObject,
            s,
            r.as_mut_ptr(),
            r.len() as CK_ULONG,
            null_mut()
        )
    })
    .case("C_CopyObject", "pTemplate", AB, |e, s| {
        let mut h = 0;
        c!(e, C_CopyObject, s, e.data, null_mut(), 1, &mut h)
    })
    .case("C_CopyObject", "phNewObject", AB, |e, s| {
        let mut t = label_tpl();
        let mut r = t.raw_mut();
        c!(e, C_CopyObject, s, e.data, r.as_mut_ptr(), 1, null_mut())
    })
    .case("C_GetObjectSize", "pulSize", AB, |e, s| {
        c!(e, C_GetObjectSize, s, e.data, null_mut())
    })
    .case("C_GetAttributeValue", "pTemplate", AB, |e, s| {
        c!(e, C_GetAttributeValue, s, e.data, null_mut(), 1)
    })
    .case("C_SetAttributeValue", "pTemplate", AB, |e, s| {
        c!(e, C_SetAttributeValue, s, e.data, null_mut(), 1)
    })
    .case("C_FindObjectsInit", "pTemplate", AB, |e, s| {
        c!(e, C_FindObjectsInit, s, null_mut(), 1)
    })
    .case("C_FindObjects", "phObject", AB, |e, s| {
        e.find_init(s);
        let mut n = 0;
        c!(e, C_FindObjects, s, null_mut(), 4, &mut n)
    })
    .case("C_FindObjects", "pulObjectCount", AB, |e, s| {
        e.find_init(s);
        let mut h = [0; 4];
        c!(e, C_FindObjects, s, h.as_mut_ptr(), 4, null_mut())
    })
    .case("C_DigestInit", "pMechanism", AB, |e, s| {
        c!(e, C_DigestInit, s, null_mut())
    })
    .case("C_GenerateKey", "pMechanism", AB, |e, s| {
        gen_key(e, s, None, Some(aes_tpl()), None, true)
    })
    .case("C_GenerateKey", "pTemplate", AB, |e, s| {
        gen_key(e, s, Some(Mech::new(CKM_AES_KEY_GEN)), None, Some(3), true)
    })
    .case("C_GenerateKey", "phKey", AB, |e, s| {
        gen_key(
            e,
            s,
            Some(Mech::new(CKM_AES_KEY_GEN)),
            Some(aes_tpl()),
            None,
            false,
        )
    })
    .case("C_GenerateKeyPair", "pMechanism", AB, |e, s| {
        gen_pair(
            e,
            s,
            None,
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (true, true),
        )
    })
    .case("C_GenerateKeyPair", "pPublicKeyTemplate", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
            None,
            Some(ec_priv_tpl()),
            (None, None),
            (true, true),
        )
    })
    .case("C_GenerateKeyPair", "pPrivateKeyTemplate", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            None,
            (None, None),
            (true, true),
        )
    })
    .case("C_GenerateKeyPair", "phPublicKey", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (false, true),
        )
    })
    .case("C_GenerateKeyPair", "phPrivateKey", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (true, false),
        )
    })
    .case("C_WrapKey", "pMechanism", AB, |e, s| {
        wrap(e, s, None, e.aes, e.aes2, 64, true)
    })
    .case("C_WrapKey", "pulWrappedKeyLen", AB, |e, s| {
        wrap(
            e,
            s,
            Some(Mech::new(CKM_AES_KEY_WRAP)),
            e.aes,
            e.aes2,
            64,
            false,
        )
    })
    .case("C_UnwrapKey", "pMechanism", AB, |e, s| {
        unwrap(e, s, None, e.aes, None, Some(unwrap_tpl()), None, true)
    })
    .case("C_UnwrapKey", "pWrappedKey", AB, |e, s| {
        unwrap(
            e,
            s,
            Some(Mech::new(CKM_AES_KEY_WRAP)),
            e.aes,
            NULL_WRAPPED,
            Some(unwrap_tpl()),
            None,
            true,
        )
    })
    .case("C_UnwrapKey", "pTemplate", AB, |e, s| {
        unwrap(
            e,
            s,
            Some(Mech::new(CKM_AES_KEY_WRAP)),
            e.aes,
            None,
            None,
            Some(3),
            true,
        )
    })
    .case("C_UnwrapKey", "phKey", AB, |e, s| {
        unwrap(
            e,
            s,
            Some(Mech::new(CKM_AES_KEY_WRAP)),
            e.aes,
            None,
            Some(unwrap_tpl()),
            None,
            false,
        )
    })
    .case("C_DeriveKey", "pMechanism", AB, |e, s| {
        derive(e, s, None, e.ec_priv, Some(derive_tpl()), None, true)
    })
    .case("C_DeriveKey", "pTemplate", AB, |e, s| {
        derive(e, s, Some(ecdh(e)), e.ec_priv, None, Some(3), true)
    })
    .case("C_DeriveKey", "phKey", AB, |e, s| {
        derive(
            e,
            s,
            Some(ecdh(e)),
            e.ec_priv,
            Some(derive_tpl()),
            None,
            false,
        )
    })
    .case("C_GenerateRandom", "pRandomData", AB, |e, s| {
        c!(e, C_GenerateRandom, s, null_mut(), 16)
    })
    .case("C_GetInterfaceList", "pulCount", AB, |e, _| {
        let mut l = [CK_INTERFACE {
            pInterfaceName: null_mut(),
            pFunctionList: null_mut(),
            flags: 0,
        }; 4];
        c!(e, C_GetInterfaceList, l.as_mut_ptr(), null_mut())
    })
    .case("C_GetInterface", "ppInterface", AB, |e, _| {
        c!(e, C_GetInterface, null_mut(), null_mut(), null_mut(), 0)
    })
    .case("C_Verify", "pData", AB, |e, s| {
        let mut sig = e.signature(s, b"data");
        e.verify_init(s);
        c!(e, C_Verify, s, null_mut(), 4, sig.as_mut_ptr(), 64)
    })
    .case("C_Verify", "pSignature", AB, |e, s| {
        e.verify_init(s);
        c!(
            e,
            C_Verify,
            s,
            b"data".as_ptr().cast_mut(),
            4,
            null_mut(),
            64
        )
    });
    for name in INITS {
        t.case(name, "pMechanism", AB, move |e, s| {
            let (f, _, k) = init_fn(e, name);
            call_init(f, s, null_mut(), k)
        });
    }
    for name in IN_OUT {
        t.case(name, "pInput", AB, move |e, s| {
            setup(e, s, name);
            in_out(e, s, in_out_fn(e, name), null_mut(), 16, true, true)
        });
        t.case(name, "pulOutputLen", AB, move |e, s| {
            setup(e, s, name);
            let mut d = [0u8; 16];
            in_out(e, s, in_out_fn(e, name), d.as_mut_ptr(), 16, true, false)
        });
    }
    for name in FINALS {
        t.case(name, "pulOutputLen", AB, move |e, s| {
            setup(e, s, name);
            let mut buf = [0u8; 256];
            // SAFETY: a 256-byte buffer and a null length pointer.
            unsafe { (final_fn(e, name).unwrap())(s, buf.as_mut_ptr(), null_mut()) }
        });
    }
    for name in DATA_IN {
        t.case(name, "pData", AB, move |e, s| {
            setup(e, s, name);
            // SAFETY: a null pointer with a non-zero length.
            unsafe { (data_in_fn(e, name).unwrap())(s, null_mut(), 16) }
        });
    }
    for name in MESSAGE_FNS {
        t.case(name, "pParameter", AB, move |e, s| {
            message_setup(e, s, name);
            message(e, s, name, None, (true, 16), (true, 16), true)
        });
        if has_aad(name) {
            t.case(name, "pAssociatedData", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (false, 16), (true, 16), true)
            });
        }
        if has_input(name) {
            t.case(name, "input", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, 16), (false, 16), true)
            });
        }
        if has_output(name) {
            t.case(name, "output length", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, 16), (true, 16), false)
            });
        }
    }
    t.run(&e, "NULL pointers");
}
