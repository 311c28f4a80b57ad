//! Unknown mechanisms, and mechanism parameters of the wrong size.

use crate::prelude::*;

/// The functions with a mechanism argument.
pub(crate) const MECH_FNS: &[&str] = &[
    "C_GetMechanismInfo",
    "C_EncryptInit",
    "C_DecryptInit",
    "C_SignInit",
    "C_VerifyInit",
    "C_MessageEncryptInit",
    "C_MessageDecryptInit",
    "C_DigestInit",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
];

/// Calls a mechanism-taking function with `m` and otherwise valid arguments
/// (`wkey` is the key of the `*Init` functions and the wrapping, unwrapping or
/// base key; `None` picks the fixture's usual one).
pub(crate) fn with_mech(
    e: &Env,
    s: CK_SESSION_HANDLE,
    name: &str,
    m: Mech,
    key: Option<CK_OBJECT_HANDLE>,
) -> CK_RV {
    match name {
        "C_GetMechanismInfo" => {
            let mut i = CK_MECHANISM_INFO {
                ulMinKeySize: 0,
                ulMaxKeySize: 0,
                flags: 0,
            };
            c!(e, C_GetMechanismInfo, e.slot, m.ty, &mut i)
        }
        "C_DigestInit" => {
            let mut m = m;
            c!(e, C_DigestInit, s, m.p())
        }
        "C_GenerateKey" => gen_key(e, s, Some(m), Some(aes_tpl()), None, true),
        "C_GenerateKeyPair" => gen_pair(
            e,
            s,
            Some(m),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (true, true),
        ),
        "C_WrapKey" => {
            let mut m = m;
            let mut buf = vec![0u8; 4096];
            let mut n = 4096;
            c!(
                e,
                C_WrapKey,
                s,
                m.p(),
                key.unwrap_or(e.aes),
                e.aes2,
                buf.as_mut_ptr(),
                &mut n
            )
        }
        "C_UnwrapKey" => unwrap(
            e,
            s,
            Some(m),
            key.unwrap_or(e.aes),
            None,
            Some(unwrap_tpl()),
            None,
            true,
        ),
        "C_DeriveKey" => derive(
            e,
            s,
            Some(m),
            key.unwrap_or(e.ec_priv),
            Some(derive_tpl()),
            None,
            true,
        ),
        _ => {
            let (f, _, k) = init_fn(e, name);
            let mut m = m;
            call_init(f, s, m.p(), key.unwrap_or(k))
        }
    }
}

/// Mechanism types nobody defined (below and inside the vendor range), and a
/// real mechanism the function cannot do: `CKR_MECHANISM_INVALID` (PKCS#11 3.0
/// §5.1: "an invalid mechanism was specified to the cryptographic operation").
#[test]
fn unknown_mechanisms() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(&others(MECH_FNS), "no mechanism argument");
    const MI: &[CK_RV] = &[CKR_MECHANISM_INVALID];
    for name in MECH_FNS {
        for ty in [0x7fff_0badu64 as CK_ULONG, CKM_VENDOR_DEFINED | 0x0bad] {
            t.case(name, "unknown type", MI, move |e, s| {
                with_mech(e, s, name, Mech::new(ty), None)
            });
        }
        if *name != "C_GetMechanismInfo" {
            // A digest for everything else, a key generation for C_DigestInit.
            let other = if *name == "C_DigestInit" {
                CKM_AES_KEY_GEN
            } else {
                CKM_SHA256
            };
            t.case(
                name,
                "a mechanism this function cannot do",
                MI,
                move |e, s| with_mech(e, s, name, Mech::new(other), None),
            );
        }
    }
    t.run(&e, "unknown mechanisms");
}

/// The parameter size the standard gives a mechanism, and whether it may be
/// left out (`CKM_AES_KEY_WRAP`'s IV, the envelope's context). `None`: the
/// mechanism takes no parameter.
pub(crate) fn param_size(m: CK_MECHANISM_TYPE) -> Option<(usize, bool)> {
    use softkms::abi::{
        CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY, CK_SOFTKMS_ENVELOPE_PARAMS,
        CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS,
    };
    let ulong = size_of::<CK_ULONG>();
    Some(match m {
        CKM_AES_CBC | CKM_AES_CBC_PAD => (16, false),
        CKM_AES_CTR => (size_of::<CK_AES_CTR_PARAMS>(), false),
        CKM_AES_GCM => (size_of::<CK_GCM_PARAMS>(), false),
        CKM_AES_KEY_WRAP => (8, true),
        CKM_AES_KEY_WRAP_KWP => (4, true),
        CKM_AES_CMAC_GENERAL
        | CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA3_224_HMAC_GENERAL
        | CKM_SHA3_256_HMAC_GENERAL
        | CKM_SHA3_384_HMAC_GENERAL
        | CKM_SHA3_512_HMAC_GENERAL => (ulong, false),
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_SHA3_224_RSA_PKCS_PSS
        | CKM_SHA3_256_RSA_PKCS_PSS
        | CKM_SHA3_384_RSA_PKCS_PSS
        | CKM_SHA3_512_RSA_PKCS_PSS => (size_of::<CK_RSA_PKCS_PSS_PARAMS>(), false),
        CKM_RSA_PKCS_OAEP => (size_of::<CK_RSA_PKCS_OAEP_PARAMS>(), false),
        CKM_RSA_AES_KEY_WRAP => (size_of::<CK_RSA_AES_KEY_WRAP_PARAMS>(), false),
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
            (size_of::<CK_ECDH1_DERIVE_PARAMS>(), false)
        }
        CKM_HKDF_DERIVE | CKM_HKDF_DATA => (size_of::<CK_HKDF_PARAMS>(), false),
        CKM_SHA512_224_HMAC_GENERAL | CKM_SHA512_256_HMAC_GENERAL => (ulong, false),
        CKM_EDDSA => (size_of::<CK_EDDSA_PARAMS>(), true),
        CKM_ML_DSA
        | CKM_HASH_ML_DSA_SHA224
        | CKM_HASH_ML_DSA_SHA256
        | CKM_HASH_ML_DSA_SHA384
        | CKM_HASH_ML_DSA_SHA512
        | CKM_HASH_ML_DSA_SHA3_224
        | CKM_HASH_ML_DSA_SHA3_256
        | CKM_HASH_ML_DSA_SHA3_384
        | CKM_HASH_ML_DSA_SHA3_512
        | CKM_HASH_ML_DSA_SHAKE128
        | CKM_HASH_ML_DSA_SHAKE256 => (size_of::<CK_SIGN_ADDITIONAL_CONTEXT>(), true),
        CKM_HASH_ML_DSA => (size_of::<CK_HASH_SIGN_ADDITIONAL_CONTEXT>(), false),
        CKM_CONCATENATE_BASE_AND_KEY => (size_of::<CK_OBJECT_HANDLE>(), false),
        CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_AES_ECB_ENCRYPT_DATA => (size_of::<CK_KEY_DERIVATION_STRING_DATA>(), false),
        CKM_EXTRACT_KEY_FROM_KEY => (size_of::<CK_EXTRACT_PARAMS>(), false),
        CKM_AES_CBC_ENCRYPT_DATA => (size_of::<CK_AES_CBC_ENCRYPT_DATA_PARAMS>(), false),
        CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_DOUBLE_PIPELINE_KDF => {
            (size_of::<CK_SP800_108_KDF_PARAMS>(), false)
        }
        CKM_SP800_108_FEEDBACK_KDF => (size_of::<CK_SP800_108_FEEDBACK_KDF_PARAMS>(), false),
        CKM_SOFTKMS_ENVELOPE => (size_of::<CK_SOFTKMS_ENVELOPE_PARAMS>(), true),
        CKM_SOFTKMS_GENERATE_DATA_KEY => (size_of::<CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS>(), false),
        _ => return None,
    })
}

/// Keys of every family for the parameter cases, so that the parameter is the
/// only thing wrong: RSA (public, private) and a generic secret, as session
/// objects of the keeper session.
pub(crate) struct MoreKeys {
    pub(crate) rsa_pub: CK_OBJECT_HANDLE,
    pub(crate) rsa_priv: CK_OBJECT_HANDLE,
    pub(crate) secret: CK_OBJECT_HANDLE,
    /// Ed25519 (public, private).
    pub(crate) ed25519: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    /// ML-DSA-44 (public, private).
    pub(crate) ml_dsa: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
}
pub(crate) fn more_keys(e: &Env) -> MoreKeys {
    let s = e.keeper;
    let mut pubt = Template::new()
        .ulong(CKA_MODULUS_BITS, 2048)
        .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
        .flag(CKA_TOKEN, false)
        .flag(CKA_ENCRYPT, true)
        .flag(CKA_VERIFY, true)
        .flag(CKA_WRAP, true);
    let mut privt = Template::new()
        .flag(CKA_TOKEN, false)
        .flag(CKA_DECRYPT, true)
        .flag(CKA_SIGN, true)
        .flag(CKA_UNWRAP, true);
    let (mut pr, mut sr) = (pubt.raw_mut(), privt.raw_mut());
    let (mut hp, mut hs) = (0, 0);
    ok(
        c!(
            e,
            C_GenerateKeyPair,
            s,
            Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN).p(),
            pr.as_mut_ptr(),
            pr.len() as CK_ULONG,
            sr.as_mut_ptr(),
            sr.len() as CK_ULONG,
            &mut hp,
            &mut hs
        ),
        "rsa pair",
    );
    let mut g = Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .flag(CKA_TOKEN, false)
        .flag(CKA_SIGN, true)
        .flag(CKA_VERIFY, true)
        .flag(CKA_DERIVE, true)
        .bytes(CKA_VALUE, &[0x5a; 32]);
    let mut r = g.raw_mut();
    let mut secret = 0;
    ok(
        c!(
            e,
            C_CreateObject,
            s,
            r.as_mut_ptr(),
            r.len() as CK_ULONG,
            &mut secret
        ),
        "generic secret",
    );
    let ed = Template::new().bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70]);
    let ml = Template::new().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44);
    MoreKeys {
        rsa_pub: hp,
        rsa_priv: hs,
        secret,
        ed25519: signing_pair(e, CKM_EC_EDWARDS_KEY_PAIR_GEN, ed),
        ml_dsa: signing_pair(e, CKM_ML_DSA_KEY_PAIR_GEN, ml),
    }
}

/// A session key pair that signs and verifies, from `public`'s domain
/// attributes.
fn signing_pair(
    e: &Env,
    m: CK_MECHANISM_TYPE,
    public: Template,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut pubt = public.flag(CKA_TOKEN, false).flag(CKA_VERIFY, true);
    let mut privt = Template::new().flag(CKA_TOKEN, false).flag(CKA_SIGN, true);
    let (mut pr, mut sr) = (pubt.raw_mut(), privt.raw_mut());
    let (mut hp, mut hs) = (0, 0);
    ok(
        c!(
            e,
            C_GenerateKeyPair,
            e.keeper,
            Mech::new(m).p(),
            pr.as_mut_ptr(),
            pr.len() as CK_ULONG,
            sr.as_mut_ptr(),
            sr.len() as CK_ULONG,
            &mut hp,
            &mut hs
        ),
        "signing pair",
    );
    (hp, hs)
}

/// The key a mechanism of that value uses for `func` (by family).
pub(crate) fn key_for(
    e: &Env,
    k: &MoreKeys,
    m: CK_MECHANISM_TYPE,
    func: &str,
) -> Option<CK_OBJECT_HANDLE> {
    let public = matches!(func, "C_EncryptInit" | "C_VerifyInit" | "C_WrapKey");
    let pick = |(p, s): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)| if public { p } else { s };
    if m == CKM_EDDSA {
        return Some(pick(k.ed25519));
    }
    if (CKM_ML_DSA..=CKM_HASH_ML_DSA_SHAKE256).contains(&m) {
        return Some(pick(k.ml_dsa));
    }
    if m == CKM_AES_ECB_ENCRYPT_DATA || m == CKM_AES_CBC_ENCRYPT_DATA {
        return Some(e.aes);
    }
    let ec = (CKM_EC_KEY_PAIR_GEN..=CKM_ECDH1_COFACTOR_DERIVE).contains(&m)
        || (CKM_ECDSA_SHA224..=CKM_ECDSA_SHA512).contains(&m);
    let hmac_512_t = (CKM_SHA512_224..=CKM_SHA512_256_HMAC_GENERAL).contains(&m);
    let rsa = m < CKM_MD2 && m != CKM_RSA_PKCS_KEY_PAIR_GEN && !hmac_512_t
        || m == CKM_RSA_AES_KEY_WRAP
        || (CKM_SHA3_256_RSA_PKCS..=CKM_SHA3_224_RSA_PKCS_PSS).contains(&m);
    let secret = (CKM_MD2..CKM_AES_KEY_GEN).contains(&m) && m != CKM_GENERIC_SECRET_KEY_GEN
        || hmac_512_t
        || (CKM_HKDF_DERIVE..=CKM_HKDF_DATA).contains(&m);
    Some(if ec {
        if public {
            e.ec_pub
        } else {
            e.ec_priv
        }
    } else if rsa {
        if public {
            k.rsa_pub
        } else {
            k.rsa_priv
        }
    } else if secret {
        k.secret
    } else {
        e.aes
    })
}

/// Every mechanism the slot lists (`C_GetMechanismList`), through every
/// function its `CKF_*` flags name, with a parameter of the wrong size: for a
/// mechanism with a parameter of `n` bytes, lengths 0 (unless it may be left
/// out), 1 and `n + 1`, and a null `pParameter` with length `n`; for one without,
/// 1 byte and a null pointer with length 1. All `CKR_MECHANISM_PARAM_INVALID`
/// (PKCS#11 3.0 §5.1). The message-based `*Init` functions take no parameter
/// of their own (each message brings one; those are in the tables above).
#[test]
fn mechanism_parameters_of_the_wrong_size() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let keys = std::rc::Rc::new(more_keys(&e));
    let mut n = 0;
    ok(
        c!(e, C_GetMechanismList, e.slot, null_mut(), &mut n),
        "mechanism count",
    );
    let mut mechs = vec![0; n as usize];
    ok(
        c!(e, C_GetMechanismList, e.slot, mechs.as_mut_ptr(), &mut n),
        "mechanism list",
    );
    let by_flag = [
        (CKF_ENCRYPT, "C_EncryptInit"),
        (CKF_DECRYPT, "C_DecryptInit"),
        (CKF_SIGN, "C_SignInit"),
        (CKF_VERIFY, "C_VerifyInit"),
        (CKF_DIGEST, "C_DigestInit"),
        (CKF_GENERATE, "C_GenerateKey"),
        (CKF_GENERATE_KEY_PAIR, "C_GenerateKeyPair"),
        (CKF_WRAP, "C_WrapKey"),
        (CKF_UNWRAP, "C_UnwrapKey"),
        (CKF_DERIVE, "C_DeriveKey"),
    ];
    let mut t = Table::default();
    let mut with_params = 0;
    const PI: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID];
    for m in mechs {
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        ok(
            c!(e, C_GetMechanismInfo, e.slot, m, &mut info),
            "mechanism info",
        );
        let size = param_size(m);
        with_params += usize::from(size.is_some());
        // (length, null pointer)
        let lens: Vec<(usize, bool)> = match size {
            Some((n, optional)) => {
                let mut v = vec![(1, false), (n + 1, false), (n, true)];
                if !optional {
                    v.push((0, false));
                }
                v
            }
            None => vec![(1, false), (1, true)],
        };
        let mut any = false;
        for (flag, func) in by_flag {
            if info.flags & flag == 0 {
                continue;
            }
            any = true;
            for &(len, null) in &lens {
                let keys = keys.clone();
                t.case(
                    func,
                    if null {
                        "null pParameter, non-zero length"
                    } else {
                        "parameter of the wrong size"
                    },
                    PI,
                    move |e, s| {
                        let p = if null {
                            Mech::new(m).with_len(len as CK_ULONG)
                        } else {
                            Mech::with_bytes(m, &vec![0u8; len])
                        };
                        let rv = with_mech(e, s, func, p, key_for(e, &keys, m, func));
                        if rv != CKR_MECHANISM_PARAM_INVALID {
                            eprintln!(
                                "mechanism 0x{m:x}, {func}, length {len}, null {null}: 0x{rv:x}"
                            );
                        }
                        rv
                    },
                );
            }
        }
        // C_EncapsulateKey and C_DecapsulateKey are PKCS#11 3.2 functions,
        // outside the 3.0 table this suite drives: tests/mech_pq.rs gives
        // CKM_ML_KEM its parameter cases.
        let elsewhere =
            CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_ENCAPSULATE | CKF_DECAPSULATE;
        assert!(
            any || info.flags & elsewhere != 0,
            "mechanism 0x{m:x} names no function (flags 0x{:x})",
            info.flags
        );
    }
    let cased = [
        "C_EncryptInit",
        "C_DecryptInit",
        "C_SignInit",
        "C_VerifyInit",
        "C_DigestInit",
        "C_GenerateKey",
        "C_GenerateKeyPair",
        "C_WrapKey",
        "C_UnwrapKey",
        "C_DeriveKey",
    ];
    t.unsupported()
        .na(
            &["C_MessageEncryptInit", "C_MessageDecryptInit"],
            "the parameter comes with each message (see the NULL and ULONG_MAX tables)",
        )
        .na(
            &others(
                &[
                    &cased[..],
                    &["C_MessageEncryptInit", "C_MessageDecryptInit"],
                ]
                .concat(),
            ),
            "no mechanism argument",
        );
    eprintln!("mechanisms listed: {n}, with a parameter: {with_params}");
    t.run(&e, "mechanism parameters of the wrong size");
}
