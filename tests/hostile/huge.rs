//! Huge sizes inside mechanism parameters and templates, and the ECDH KDF
//! value length checked before allocation.

use crate::prelude::*;

/// Sizes no field can have (issue 12, item 6): 2^40 (a terabyte), 2^62 (still
/// an `isize`, so a slice of it can be formed), 2^63 (the `ulTagBits` that
/// aborted the host) and `ULONG_MAX`. Each comes with a pointer to a real, small
/// buffer. A module that allocates by such a size before it compares it with the
/// mechanism's limit aborts the whole host process: an allocation failure is not
/// a panic, and `catch_unwind` cannot stop it.
pub(crate) const HUGE: [(CK_ULONG, &str); 4] = [
    (1 << 40, "2^40"),
    (1 << 62, "2^62"),
    (1 << 63, "2^63"),
    (U, "ULONG_MAX"),
];

/// A case description that names the size (leaked: the tables want `&'static str`).
pub(crate) fn huge_what(field: &str, size: &str) -> &'static str {
    Box::leak(format!("{field} = {size}").into_boxed_str())
}

/// Builds a parameter struct's bytes from the size under test; `a` and `b` are
/// two 64-byte buffers the struct's pointers may point at (alive for the call).
pub(crate) type BuildParam = fn(&Env, *mut u8, *mut u8, CK_ULONG) -> Vec<u8>;

/// Which fixture key a row uses.
#[derive(Clone, Copy)]
pub(crate) enum KeyOf {
    Aes,
    EcPriv,
    RsaPub,
    RsaPriv,
    Secret,
}

pub(crate) fn key_of(e: &Env, k: &MoreKeys, which: KeyOf) -> CK_OBJECT_HANDLE {
    match which {
        KeyOf::Aes => e.aes,
        KeyOf::EcPriv => e.ec_priv,
        KeyOf::RsaPub => k.rsa_pub,
        KeyOf::RsaPriv => k.rsa_priv,
        KeyOf::Secret => k.secret,
    }
}

pub(crate) fn gcm_params(
    iv: *mut u8,
    iv_len: CK_ULONG,
    aad: *mut u8,
    aad_len: CK_ULONG,
    tag_bits: CK_ULONG,
) -> Vec<u8> {
    struct_bytes(&CK_GCM_PARAMS {
        pIv: iv,
        ulIvLen: iv_len,
        ulIvBits: 0,
        pAAD: aad,
        ulAADLen: aad_len,
        ulTagBits: tag_bits,
    })
}
pub(crate) fn oaep_params(label: *mut u8, label_len: CK_ULONG) -> CK_RSA_PKCS_OAEP_PARAMS {
    CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: label.cast(),
        ulSourceDataLen: label_len,
    }
}
/// `CK_RSA_AES_KEY_WRAP_PARAMS` whose OAEP parameters are written into `b`.
pub(crate) fn rsa_aes_params(
    b: *mut u8,
    aes_bits: CK_ULONG,
    oaep: CK_RSA_PKCS_OAEP_PARAMS,
) -> Vec<u8> {
    assert!(size_of::<CK_RSA_PKCS_OAEP_PARAMS>() <= 64);
    // SAFETY: `b` is a 64-byte buffer, large enough for the struct.
    unsafe { b.cast::<CK_RSA_PKCS_OAEP_PARAMS>().write_unaligned(oaep) };
    struct_bytes(&CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: aes_bits,
        pOAEPParams: b.cast(),
    })
}
pub(crate) fn ecdh_params(shared: (*mut u8, CK_ULONG), public: (*mut u8, CK_ULONG)) -> Vec<u8> {
    struct_bytes(&CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_SHA256_KDF,
        ulSharedDataLen: shared.1,
        pSharedData: shared.0,
        ulPublicDataLen: public.1,
        pPublicData: public.0,
    })
}
pub(crate) fn hkdf_params(salt: (*mut u8, CK_ULONG), info: (*mut u8, CK_ULONG)) -> Vec<u8> {
    struct_bytes(&CK_HKDF_PARAMS {
        bExtract: CK_TRUE,
        bExpand: CK_TRUE,
        prfHashMechanism: CKM_SHA256,
        ulSaltType: CKF_HKDF_SALT_DATA,
        pSalt: salt.0,
        ulSaltLen: salt.1,
        hSaltKey: 0,
        pInfo: info.0,
        ulInfoLen: info.1,
    })
}
/// The fixture's EC point, copied into `b` (for ECDH rows whose huge field is another).
pub(crate) fn point_in(e: &Env, b: *mut u8) -> (*mut u8, CK_ULONG) {
    // SAFETY: `b` is a 64-byte buffer; the point is 65 bytes, so only 64 are
    // copied: the row's other field is refused before the point is looked at.
    unsafe { std::ptr::copy_nonoverlapping(e.point.as_ptr(), b, 64) };
    (b, 64)
}

/// Every parameter struct with a length or a size, one row per field: the
/// function, the field, the mechanism, the key and how to build the struct.
pub(crate) const PARAM_ROWS: &[(&str, &str, CK_MECHANISM_TYPE, KeyOf, BuildParam)] = &[
    (
        "C_EncryptInit",
        "CK_GCM_PARAMS.ulIvLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, n, b, 0, 128),
    ),
    (
        "C_DecryptInit",
        "CK_GCM_PARAMS.ulIvLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, n, b, 0, 128),
    ),
    (
        "C_EncryptInit",
        "CK_GCM_PARAMS.ulAADLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, n, 128),
    ),
    (
        "C_DecryptInit",
        "CK_GCM_PARAMS.ulAADLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, n, 128),
    ),
    (
        "C_EncryptInit",
        "CK_GCM_PARAMS.ulTagBits",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, 0, n),
    ),
    (
        "C_DecryptInit",
        "CK_GCM_PARAMS.ulTagBits",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, 0, n),
    ),
    (
        "C_EncryptInit",
        "CK_AES_CTR_PARAMS.ulCounterBits",
        CKM_AES_CTR,
        KeyOf::Aes,
        |_, _, _, n| {
            struct_bytes(&CK_AES_CTR_PARAMS {
                ulCounterBits: n,
                cb: [0; 16],
            })
        },
    ),
    (
        "C_SignInit",
        "CK_RSA_PKCS_PSS_PARAMS.sLen",
        CKM_SHA256_RSA_PKCS_PSS,
        KeyOf::RsaPriv,
        |_, _, _, n| {
            struct_bytes(&CK_RSA_PKCS_PSS_PARAMS {
                hashAlg: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                sLen: n,
            })
        },
    ),
    (
        "C_EncryptInit",
        "CK_RSA_PKCS_OAEP_PARAMS.ulSourceDataLen",
        CKM_RSA_PKCS_OAEP,
        KeyOf::RsaPub,
        |_, a, _, n| struct_bytes(&oaep_params(a, n)),
    ),
    (
        "C_DecryptInit",
        "CK_RSA_PKCS_OAEP_PARAMS.ulSourceDataLen",
        CKM_RSA_PKCS_OAEP,
        KeyOf::RsaPriv,
        |_, a, _, n| struct_bytes(&oaep_params(a, n)),
    ),
    (
        "C_WrapKey",
        "CK_RSA_AES_KEY_WRAP_PARAMS.ulAESKeyBits",
        CKM_RSA_AES_KEY_WRAP,
        KeyOf::RsaPub,
        |_, a, b, n| rsa_aes_params(b, n, oaep_params(a, 0)),
    ),
    (
        "C_WrapKey",
        "CK_RSA_AES_KEY_WRAP_PARAMS OAEP ulSourceDataLen",
        CKM_RSA_AES_KEY_WRAP,
        KeyOf::RsaPub,
        |_, a, b, n| rsa_aes_params(b, 256, oaep_params(a, n)),
    ),
    (
        "C_UnwrapKey",
        "CK_RSA_AES_KEY_WRAP_PARAMS OAEP ulSourceDataLen",
        CKM_RSA_AES_KEY_WRAP,
        KeyOf::RsaPriv,
        |_, a, b, n| rsa_aes_params(b, 256, oaep_params(a, n)),
    ),
    (
        "C_DeriveKey",
        "CK_ECDH1_DERIVE_PARAMS.ulSharedDataLen",
        CKM_ECDH1_DERIVE,
        KeyOf::EcPriv,
        |e, a, b, n| ecdh_params((a, n), point_in(e, b)),
    ),
    (
        "C_DeriveKey",
        "CK_ECDH1_DERIVE_PARAMS.ulPublicDataLen",
        CKM_ECDH1_DERIVE,
        KeyOf::EcPriv,
        |_, a, b, n| ecdh_params((a, 8), (b, n)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DERIVE CK_HKDF_PARAMS.ulSaltLen",
        CKM_HKDF_DERIVE,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, n), (b, 8)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DERIVE CK_HKDF_PARAMS.ulInfoLen",
        CKM_HKDF_DERIVE,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, 8), (b, n)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DATA CK_HKDF_PARAMS.ulSaltLen",
        CKM_HKDF_DATA,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, n), (b, 8)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DATA CK_HKDF_PARAMS.ulInfoLen",
        CKM_HKDF_DATA,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, 8), (b, n)),
    ),
    (
        "C_SignInit",
        "CK_MAC_GENERAL_PARAMS (HMAC)",
        CKM_SHA256_HMAC_GENERAL,
        KeyOf::Secret,
        |_, _, _, n| struct_bytes(&n),
    ),
    (
        "C_SignInit",
        "CK_MAC_GENERAL_PARAMS (CMAC)",
        CKM_AES_CMAC_GENERAL,
        KeyOf::Aes,
        |_, _, _, n| struct_bytes(&n),
    ),
    (
        "C_EncryptInit",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&crate::common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_DecryptInit",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&crate::common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_WrapKey",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&crate::common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_UnwrapKey",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&crate::common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_DeriveKey",
        "CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_GENERATE_DATA_KEY,
        KeyOf::Aes,
        |_, a, b, n| {
            struct_bytes(&crate::common::GdkParams {
                p_context: a,
                ul_context_len: n,
                p_wrapped: b,
                ul_wrapped_len: 64,
            })
        },
    ),
];

/// Byte-string parameters (an IV): `pParameter` points at 16 real bytes and
/// `ulParameterLen` is huge.
pub(crate) const BYTES_ROWS: &[(&str, &str, CK_MECHANISM_TYPE, KeyOf)] = &[
    (
        "C_EncryptInit",
        "CKM_AES_CBC IV ulParameterLen",
        CKM_AES_CBC,
        KeyOf::Aes,
    ),
    (
        "C_DecryptInit",
        "CKM_AES_CBC_PAD IV ulParameterLen",
        CKM_AES_CBC_PAD,
        KeyOf::Aes,
    ),
    (
        "C_WrapKey",
        "CKM_AES_KEY_WRAP IV ulParameterLen",
        CKM_AES_KEY_WRAP,
        KeyOf::Aes,
    ),
    (
        "C_UnwrapKey",
        "CKM_AES_KEY_WRAP_KWP IV ulParameterLen",
        CKM_AES_KEY_WRAP_KWP,
        KeyOf::Aes,
    ),
];

/// The fields of `CK_GCM_MESSAGE_PARAMS` that carry a size.
pub(crate) const MESSAGE_FIELDS: &[(&str, fn(&mut CK_GCM_MESSAGE_PARAMS, CK_ULONG))] = &[
    ("CK_GCM_MESSAGE_PARAMS.ulTagBits", |p, n| p.ulTagBits = n),
    ("CK_GCM_MESSAGE_PARAMS.ulIvLen", |p, n| p.ulIvLen = n),
    ("CK_GCM_MESSAGE_PARAMS.ulIvFixedBits", |p, n| {
        p.ulIvFixedBits = n
    }),
];

/// The template-taking functions with a template of 3 real attributes and a
/// huge `ulCount`.
pub(crate) fn huge_count(e: &Env, s: CK_SESSION_HANDLE, name: &str, n: CK_ULONG) -> CK_RV {
    let mut t = data_tpl();
    let mut r = t.raw_mut();
    let p = r.as_mut_ptr();
    let mut h = 0;
    match name {
        "C_CreateObject" => c!(e, C_CreateObject, s, p, n, &mut h),
        "C_CopyObject" => c!(e, C_CopyObject, s, e.data, p, n, &mut h),
        "C_SetAttributeValue" => c!(e, C_SetAttributeValue, s, e.data, p, n),
        "C_GetAttributeValue" => c!(e, C_GetAttributeValue, s, e.data, p, n),
        "C_FindObjectsInit" => c!(e, C_FindObjectsInit, s, p, n),
        "C_GenerateKey" => gen_key(
            e,
            s,
            Some(Mech::new(CKM_AES_KEY_GEN)),
            Some(aes_tpl()),
            Some(n),
            true,
        ),
        "C_GenerateKeyPair" => gen_pair(
            e,
            s,
            Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (Some(n), None),
            (true, true),
        ),
        "C_UnwrapKey" => unwrap(
            e,
            s,
            Some(Mech::new(CKM_AES_KEY_WRAP)),
            e.aes,
            None,
            Some(unwrap_tpl()),
            Some(n),
            true,
        ),
        "C_DeriveKey" => derive(
            e,
            s,
            Some(ecdh(e)),
            e.ec_priv,
            Some(derive_tpl()),
            Some(n),
            true,
        ),
        _ => panic!("{name}"),
    }
}

/// Every size a caller gives inside a mechanism parameter, a per-message
/// parameter or a template, set to a huge value with a pointer to a small real
/// buffer, through the real C entry points: each must be refused with the code
/// the standard names (`CKR_MECHANISM_PARAM_INVALID` for a parameter,
/// `CKR_ARGUMENTS_BAD` for a count, `CKR_ATTRIBUTE_VALUE_INVALID` for template
/// values, `CKR_HOST_MEMORY` for an in-place input the module would have to
/// copy) before anything is allocated or read by it. Before issue 12 several of
/// these aborted the host process (`ulTagBits = 2^63`, an IV or AAD of 2^40
/// bytes, an in-place input of 2^62 bytes, a template count of 2^40).
#[test]
fn huge_sizes() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let keys = std::rc::Rc::new(more_keys(&e));
    const PI: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID];
    let mut t = Table::default();
    for &(size, label) in &HUGE {
        for &(func, field, mech, key, build) in PARAM_ROWS {
            let keys = keys.clone();
            t.case(func, huge_what(field, label), PI, move |e, s| {
                let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
                let p = build(e, a.as_mut_ptr(), b.as_mut_ptr(), size);
                let k = key_of(e, &keys, key);
                // `a` and `b` live until the end of the closure, past the call.
                with_mech(e, s, func, Mech::with_bytes(mech, &p), Some(k))
            });
        }
        for &(func, field, mech, key) in BYTES_ROWS {
            let keys = keys.clone();
            t.case(func, huge_what(field, label), PI, move |e, s| {
                let m = Mech::with_bytes(mech, &[0; 16]).with_len(size);
                with_mech(e, s, func, m, Some(key_of(e, &keys, key)))
            });
        }
        for name in MESSAGE_FNS {
            for &(field, set) in MESSAGE_FIELDS {
                // `*Next` takes the IV from `*Begin`: its `ulIvFixedBits` is not
                // a size anything is made of, and not looked at.
                if name.ends_with("Next") && field.ends_with("ulIvFixedBits") {
                    continue;
                }
                t.case(
                    name,
                    huge_what(field, label),
                    &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD],
                    move |e, s| {
                        message_setup(e, s, name);
                        let mut g = GcmMsg::new();
                        set(&mut g.p, size);
                        let (mut a, mut d, mut out) = ([1u8; 16], [2u8; 16], [0u8; 64]);
                        let mut n: CK_ULONG = 64;
                        message_raw(
                            e,
                            s,
                            name,
                            (g.ptr(), GCM_MSG_LEN),
                            (a.as_mut_ptr(), 16),
                            (d.as_mut_ptr(), 16),
                            (out.as_mut_ptr(), &mut n),
                        )
                    },
                );
            }
        }
        for name in TEMPLATE_FNS {
            t.case(name, huge_what("ulCount", label), AB, move |e, s| {
                huge_count(e, s, name, size)
            });
        }
    }
    // In-place input (PKCS#11 lets input and output share memory): the module
    // copies such input before it writes, so a huge input length is an
    // allocation. 2^62 bytes can never be had: CKR_HOST_MEMORY, not an abort.
    let in_place = 1u64 << 62;
    for name in IN_OUT {
        t.case(
            name,
            "in place, input length 2^62",
            &[CKR_HOST_MEMORY],
            move |e, s| {
                setup(e, s, name);
                let mut buf = [0u8; 256];
                let mut n: CK_ULONG = 256;
                let p = buf.as_mut_ptr();
                // SAFETY: a 256-byte buffer given as input (huge length) and output.
                unsafe { (in_out_fn(e, name).unwrap())(s, p, in_place, p, &mut n) }
            },
        );
    }
    for name in MESSAGE_FNS.into_iter().filter(|n| has_output(n)) {
        let pieces: &[&str] = if has_aad(name) {
            &["associated data", "input"]
        } else {
            &["input"]
        };
        for &piece in pieces {
            t.case(
                name,
                huge_what(&format!("in place, {piece} length"), "2^62"),
                &[CKR_HOST_MEMORY],
                move |e, s| {
                    message_setup(e, s, name);
                    let mut g = GcmMsg::new();
                    let mut buf = [0u8; 256];
                    let mut n: CK_ULONG = 256;
                    let p = buf.as_mut_ptr();
                    let (aad, input) = if piece == "input" {
                        ((null_mut(), 0), (p, in_place))
                    } else {
                        ((p, in_place), (null_mut(), 0))
                    };
                    message_raw(e, s, name, (g.ptr(), GCM_MSG_LEN), aad, input, (p, &mut n))
                },
            );
        }
    }
    // Many attributes whose values are each within the per-value limit but
    // together far beyond any host: 2048 labels of 64 MiB each, all pointing at
    // one buffer, would be 128 GiB of copies.
    for name in ["C_CreateObject", "C_FindObjectsInit"] {
        t.case(
            name,
            "2048 attributes of 64 MiB each (one buffer)",
            &[CKR_ATTRIBUTE_VALUE_INVALID],
            move |e, s| {
                let mut big = vec![b'x'; 64 << 20];
                let mut raw: Vec<CK_ATTRIBUTE> = (0..2048)
                    .map(|_| CK_ATTRIBUTE {
                        type_: CKA_LABEL,
                        pValue: big.as_mut_ptr().cast(),
                        ulValueLen: 64 << 20,
                    })
                    .collect();
                let (p, n) = (raw.as_mut_ptr(), raw.len() as CK_ULONG);
                let mut h = 0;
                if name == "C_CreateObject" {
                    c!(e, C_CreateObject, s, p, n, &mut h)
                } else {
                    c!(e, C_FindObjectsInit, s, p, n)
                }
            },
        );
    }
    // A user name is at most a principal name long; it is not read past that.
    for &(size, label) in &HUGE {
        t.case(
            "C_LoginUser",
            huge_what("ulUsernameLen", label),
            &[CKR_PIN_INCORRECT, CKR_ARGUMENTS_BAD],
            move |e, s| {
                let pin = USER_PIN.as_bytes();
                let mut name = *b"alice\0\0\0";
                c!(
                    e,
                    C_LoginUser,
                    s,
                    CKU_USER,
                    pin.as_ptr().cast_mut(),
                    pin.len() as CK_ULONG,
                    name.as_mut_ptr(),
                    size
                )
            },
        );
    }
    // ECDH with a KDF and a derived length no key can have (2^40 bytes: the
    // X9.63 block count does not fit 32 bits).
    t.case(
        "C_DeriveKey",
        "ECDH1 with CKD_SHA256_KDF, CKA_VALUE_LEN = 2^40",
        &[
            CKR_KEY_SIZE_RANGE,
            CKR_ATTRIBUTE_VALUE_INVALID,
            CKR_TEMPLATE_INCONSISTENT,
        ],
        |e, s| ecdh_kdf_derive(e, s, CKD_SHA256_KDF, 1 << 40),
    );
    let cased: Vec<&str> = [
        &PARAM_ROWS.iter().map(|r| r.0).collect::<Vec<_>>()[..],
        &BYTES_ROWS.iter().map(|r| r.0).collect::<Vec<_>>()[..],
        &MESSAGE_FNS[..],
        TEMPLATE_FNS,
        &IN_OUT[..],
        &["C_LoginUser"],
    ]
    .concat();
    t.unsupported().na(
        &others(&cased),
        "no size inside a parameter or template, no in-place input",
    );
    t.run(&e, "huge sizes");
}

/// `C_DeriveKey` with `CKM_ECDH1_DERIVE` (the fixture's own point, `kdf`) into a
/// generic secret of `value_len` bytes.
pub(crate) fn ecdh_kdf_derive(
    e: &Env,
    s: CK_SESSION_HANDLE,
    kdf: CK_ULONG,
    value_len: CK_ULONG,
) -> CK_RV {
    let mut point = e.point.clone();
    let m = Mech::with_bytes(
        CKM_ECDH1_DERIVE,
        &struct_bytes(&CK_ECDH1_DERIVE_PARAMS {
            kdf,
            ulSharedDataLen: 0,
            pSharedData: null_mut(),
            ulPublicDataLen: point.len() as CK_ULONG,
            pPublicData: point.as_mut_ptr(),
        }),
    );
    let t = Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .ulong(CKA_VALUE_LEN, value_len)
        .flag(CKA_TOKEN, false);
    let rv = derive(e, s, Some(m), e.ec_priv, Some(t), None, true);
    drop(point);
    rv
}

/// ECDH with every X9.63 KDF and `CKA_VALUE_LEN` = 2^36 (64 GiB, a block count
/// that fits 32 bits): an error, not an allocation of the whole length. Before
/// the limit (`mechanism::MAX_DERIVED_LEN`, checked in `C_DeriveKey` before any
/// derive mechanism runs) the host aborted ("memory allocation of 68719476736
/// bytes failed").
#[test]
fn ecdh_kdf_value_len_is_checked_before_allocation() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    for (kdf, name) in [
        (CKD_SHA1_KDF, "CKD_SHA1_KDF"),
        (CKD_SHA224_KDF, "CKD_SHA224_KDF"),
        (CKD_SHA256_KDF, "CKD_SHA256_KDF"),
        (CKD_SHA384_KDF, "CKD_SHA384_KDF"),
        (CKD_SHA512_KDF, "CKD_SHA512_KDF"),
    ] {
        t.case(
            "C_DeriveKey",
            huge_what(&format!("ECDH1 with {name}, CKA_VALUE_LEN"), "2^36"),
            &[
                CKR_KEY_SIZE_RANGE,
                CKR_ATTRIBUTE_VALUE_INVALID,
                CKR_TEMPLATE_INCONSISTENT,
            ],
            move |e, s| ecdh_kdf_derive(e, s, kdf, 1 << 36),
        );
    }
    t.unsupported()
        .na(&others(&["C_DeriveKey"]), "not a derivation");
    t.run(&e, "ECDH KDF lengths");
}
