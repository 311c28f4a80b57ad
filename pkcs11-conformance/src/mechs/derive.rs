//! The key derivations of PKCS#11 3.0 current mechanisms ("cm"): the simple
//! derivations (cm §2.43: concatenation, XOR, extraction), key derivation by
//! AES encryption of data (cm §2.16) and the SP 800-108 KDFs (cm §2.42),
//! checked against published values, the standard's own examples, or the
//! module's HMAC.

use super::params::{aes_cbc_data, sp800_108, sp800_108_feedback, string_data, Prf};
use super::*;

/// A secret key that derives (and signs, for the SP 800-108 cross-checks).
fn base(
    m: &Module,
    s: CK_SESSION_HANDLE,
    kt: CK_KEY_TYPE,
    value: &[u8],
    sensitive: bool,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, kt)
            .flag(CKA_TOKEN, false)
            .flag(CKA_SENSITIVE, sensitive)
            .flag(CKA_EXTRACTABLE, true)
            .flag(CKA_DERIVE, true)
            .flag(CKA_SIGN, true)
            .bytes(CKA_VALUE, value),
    )
}

/// The template of a derived generic secret, with a length or without.
fn out(len: Option<CK_ULONG>) -> Template {
    let t = Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .flag(CKA_TOKEN, false)
        .flag(CKA_EXTRACTABLE, true);
    match len {
        Some(n) => t.ulong(CKA_VALUE_LEN, n),
        None => t,
    }
}

/// The value of a derived key (derived non-sensitive).
fn derive_value(
    m: &Module,
    s: CK_SESSION_HANDLE,
    mech: &Mech,
    b: CK_OBJECT_HANDLE,
    len: Option<CK_ULONG>,
) -> Result<Vec<u8>, String> {
    let k = m
        .derive(s, mech, b, &out(len).flag(CKA_SENSITIVE, false))
        .map_err(|rv| format!("C_DeriveKey: {}", rv_name(rv)))?;
    m.get(s, k, CKA_VALUE)
        .map_err(|rv| format!("CKA_VALUE: {}", rv_name(rv)))
}

fn rv_of_derive(
    m: &Module,
    s: CK_SESSION_HANDLE,
    mech: &Mech,
    b: CK_OBJECT_HANDLE,
    t: &Template,
) -> CK_RV {
    crate::rv_of(&m.derive(s, mech, b, t))
}

const TOO_LONG: [CK_RV; 3] = [
    CKR_TEMPLATE_INCONSISTENT,
    CKR_KEY_SIZE_RANGE,
    CKR_ATTRIBUTE_VALUE_INVALID,
];

/// Records every id as skipped unless `ty` is advertised.
fn gate(r: &mut Runner, env: &Env, ids: &[String], sec: &str, ty: CK_MECHANISM_TYPE) -> bool {
    if env.mechs.contains(&ty) {
        return true;
    }
    for id in ids {
        let name = id.split('.').nth(1).unwrap_or_default();
        r.record(
            id,
            sec,
            Outcome::Skip(format!("CKM_{name} not supported (not advertised)")),
        );
    }
    false
}

fn ids(name: &str, cases: &[&str]) -> Vec<String> {
    cases.iter().map(|c| format!("mech.{name}.{c}")).collect()
}

/// The derivation cases.
pub(super) fn derive(r: &mut Runner, env: &Env) {
    simple(r, env);
    encrypt_data(r, env);
    kbkdf(r, env);
}

const B16: [u8; 16] = [0x11; 16];
const D8: [u8; 8] = [0x22; 8];

fn simple(r: &mut Runner, env: &Env) {
    // --- CONCATENATE_BASE_AND_KEY (cm §2.43): base || other; without a length or
    // type a generic secret of the sum of both lengths; longer is an error; a
    // sensitive original makes a sensitive key.
    let sec = "cm §2.43";
    let i = ids(
        "CONCATENATE_BASE_AND_KEY",
        &[
            "known-answer",
            "param-invalid",
            "value-len-too-long",
            "sensitive-follows",
        ],
    );
    if gate(r, env, &i, sec, CKM_CONCATENATE_BASE_AND_KEY) {
        let handle_mech =
            |h: CK_OBJECT_HANDLE| Mech::with_bytes(CKM_CONCATENATE_BASE_AND_KEY, &h.to_ne_bytes());
        r.case(&i[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &B16, false), "base key");
            let o = t!(base(m, s, CKK_GENERIC_SECRET, &D8, false), "other key");
            let v = match derive_value(m, s, &handle_mech(o), b, None) {
                Ok(v) => v,
                Err(f) => return Outcome::Fail(f),
            };
            let want = [B16.to_vec(), D8.to_vec()].concat();
            check(v == want, || {
                format!("expected {}, got {}", hex(&want), hex(&v))
            })
        });
        r.case(&i[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &B16, false), "base key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                rv_of_derive(
                    m,
                    s,
                    &Mech::with_bytes(CKM_CONCATENATE_BASE_AND_KEY, &[1, 2, 3]),
                    b,
                    &out(None),
                ),
            )
        });
        r.case(&i[2], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &B16, false), "base key");
            let o = t!(base(m, s, CKK_GENERIC_SECRET, &D8, false), "other key");
            expect_rv(
                &TOO_LONG,
                rv_of_derive(m, s, &handle_mech(o), b, &out(Some(25))),
            )
        });
        r.case(&i[3], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &B16, false), "base key");
            let o = t!(
                base(m, s, CKK_GENERIC_SECRET, &D8, true),
                "other key (sensitive)"
            );
            let k = t!(m.derive(s, &handle_mech(o), b, &out(None)), "C_DeriveKey");
            let sens = t!(m.get_bool(s, k, CKA_SENSITIVE), "CKA_SENSITIVE");
            check(sens, || {
                "expected CKA_SENSITIVE TRUE (the other key is sensitive)".into()
            })
        });
    }
    // --- BASE_AND_DATA, DATA_AND_BASE, XOR_BASE_AND_DATA (cm §2.43): CK_KEY_DERIVATION_STRING_DATA.
    for (name, ty) in [
        ("CONCATENATE_BASE_AND_DATA", CKM_CONCATENATE_BASE_AND_DATA),
        ("CONCATENATE_DATA_AND_BASE", CKM_CONCATENATE_DATA_AND_BASE),
        ("XOR_BASE_AND_DATA", CKM_XOR_BASE_AND_DATA),
    ] {
        let i = ids(
            name,
            &[
                "known-answer",
                "param-invalid",
                "value-len-too-long",
                "sensitive-follows",
            ],
        );
        if !gate(r, env, &i, sec, ty) {
            continue;
        }
        // XOR: as long as the shorter of the two; the concatenations: the sum.
        let (want, longest) = match ty {
            CKM_CONCATENATE_BASE_AND_DATA => ([B16.to_vec(), D8.to_vec()].concat(), 24),
            CKM_CONCATENATE_DATA_AND_BASE => ([D8.to_vec(), B16.to_vec()].concat(), 24),
            _ => (B16.iter().zip(D8).map(|(a, b)| a ^ b).collect(), 8),
        };
        r.case(&i[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &B16, false), "base key");
            let v = match derive_value(m, s, &string_data(ty, &D8), b, None) {
                Ok(v) => v,
                Err(f) => return Outcome::Fail(f),
            };
            check(v == want, || {
                format!("expected {}, got {}", hex(&want), hex(&v))
            })
        });
        r.case(&i[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &B16, false), "base key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                rv_of_derive(m, s, &Mech::new(ty), b, &out(None)),
            )
        });
        r.case(&i[2], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &B16, false), "base key");
            expect_rv(
                &TOO_LONG,
                rv_of_derive(m, s, &string_data(ty, &D8), b, &out(Some(longest + 1))),
            )
        });
        r.case(&i[3], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(
                base(m, s, CKK_GENERIC_SECRET, &B16, true),
                "base key (sensitive)"
            );
            // Data as long as the key: the XOR keeps all of the key's bits
            // (a module may refuse to put part of a sensitive key into a
            // new one; SoftKMS does).
            let k = t!(
                m.derive(s, &string_data(ty, &[0x22; 16]), b, &out(None)),
                "C_DeriveKey"
            );
            let sens = t!(m.get_bool(s, k, CKA_SENSITIVE), "CKA_SENSITIVE");
            check(sens, || {
                "expected CKA_SENSITIVE TRUE (the base key is sensitive)".into()
            })
        });
    }
    // --- EXTRACT_KEY_FROM_KEY (cm §2.43): the standard's example, 0x329F84A9 from
    // bit 21, two bytes: 0x9526. A generic secret needs CKA_VALUE_LEN; more bytes
    // than the base key has is an error.
    let i = ids(
        "EXTRACT_KEY_FROM_KEY",
        &[
            "known-answer",
            "param-invalid",
            "template-incomplete",
            "value-len-too-long",
        ],
    );
    if gate(r, env, &i, sec, CKM_EXTRACT_KEY_FROM_KEY) {
        let ex = |bit: CK_ULONG| Mech::with_ulong(CKM_EXTRACT_KEY_FROM_KEY, bit);
        let val = [0x32, 0x9f, 0x84, 0xa9];
        r.case(&i[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &val, false), "base key");
            let v = match derive_value(m, s, &ex(21), b, Some(2)) {
                Ok(v) => v,
                Err(f) => return Outcome::Fail(f),
            };
            check(v == [0x95, 0x26], || {
                format!("expected 9526 (the standard's example), got {}", hex(&v))
            })
        });
        r.case(&i[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &val, false), "base key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                rv_of_derive(m, s, &Mech::new(CKM_EXTRACT_KEY_FROM_KEY), b, &out(Some(2))),
            )
        });
        r.case(&i[2], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &val, false), "base key");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                rv_of_derive(m, s, &ex(21), b, &out(None)),
            )
        });
        r.case(&i[3], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &val, false), "base key");
            expect_rv(&TOO_LONG, rv_of_derive(m, s, &ex(21), b, &out(Some(5))))
        });
    }
}

fn encrypt_data(r: &mut Runner, env: &Env) {
    // --- AES_ECB_ENCRYPT_DATA / AES_CBC_ENCRYPT_DATA (cm §2.16): the encryption of
    // the data under the AES base key (SP 800-38A F.1.1 / F.2.1 first block); data
    // too short for the key is CKR_DATA_LEN_RANGE; the base key must be AES.
    let sec = "cm §2.16";
    let key = hx(SP800_38A_KEY);
    let pt = hx(SP800_38A_PT);
    for (name, ty, ct) in [
        (
            "AES_ECB_ENCRYPT_DATA",
            CKM_AES_ECB_ENCRYPT_DATA,
            "3ad77bb40d7a3660a89ecaf32466ef97",
        ),
        (
            "AES_CBC_ENCRYPT_DATA",
            CKM_AES_CBC_ENCRYPT_DATA,
            "7649abac8119b246cee98e9b12e9197d",
        ),
    ] {
        let i = ids(
            name,
            &[
                "known-answer",
                "param-invalid",
                "key-type-inconsistent",
                "data-too-short",
            ],
        );
        if !gate(r, env, &i, sec, ty) {
            continue;
        }
        let mech = {
            let pt = pt.clone();
            move || {
                if ty == CKM_AES_ECB_ENCRYPT_DATA {
                    string_data(ty, &pt)
                } else {
                    aes_cbc_data(IV16, &pt)
                }
            }
        };
        let ct = hx(ct);
        r.case(&i[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_AES, &key, false), "AES base key");
            let v = match derive_value(m, s, &mech(), b, Some(16)) {
                Ok(v) => v,
                Err(f) => return Outcome::Fail(f),
            };
            check(v == ct, || {
                format!("expected {}, got {}", hex(&ct), hex(&v))
            })
        });
        r.case(&i[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_AES, &key, false), "AES base key");
            let bad = if ty == CKM_AES_ECB_ENCRYPT_DATA {
                Mech::new(ty)
            } else {
                Mech::with_bytes(ty, &[0u8; 8])
            };
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                rv_of_derive(m, s, &bad, b, &out(Some(16))),
            )
        });
        r.case(&i[2], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(
                base(m, s, CKK_GENERIC_SECRET, &key, false),
                "generic base key"
            );
            expect_rv(
                &[CKR_KEY_TYPE_INCONSISTENT],
                rv_of_derive(m, s, &mech(), b, &out(Some(16))),
            )
        });
        r.case(&i[3], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_AES, &key, false), "AES base key");
            expect_rv(
                &[CKR_DATA_LEN_RANGE],
                rv_of_derive(m, s, &mech(), b, &out(Some(32))),
            )
        });
    }
}

/// NIST CAVP KBKDF counter mode (CAVS 14.4, nist-800-108-KBKDF-CTR.txt), counter
/// before the fixed data, 8-bit counter, COUNT = 30 (L = 320: five or three PRF
/// blocks): (case, PRF, base key type, KI, FixedInputData, KO).
const CAVP_KBKDF_CTR: [(&str, CK_MECHANISM_TYPE, CK_KEY_TYPE, &str, &str, &str); 2] = [
    (
        "known-answer-hmac-sha256",
        CKM_SHA256_HMAC,
        CKK_GENERIC_SECRET,
        "63a657fb6c5bacb9a124d3e7db8bbb7d42bfdfaf8f04cb6359cd888c70669652",
        "2697b6ec112cab4d6f1714c991c17d44fb36a0b6ef0b0f5451619ab248950f56f403215c78711aa563683ced05be7246f32574fa294f162dbbeb3dee",
        "1992e75756fa64734d5caecc5f6420fcb28b8b90421eee97dc8b6140ce18518405688bea489d2aaa",
    ),
    (
        "known-answer-aes-cmac",
        CKM_AES_CMAC,
        CKK_AES,
        "e91e0d06ab23a4e495bbcc430efddcaf",
        "24acb8e9227b180f2ccebea48051cbdbcd1be2bf94400d1e92945fe9b887585a295f46c469036107697813a3e12c45ae2ffde9a940f8f8c181018a93",
        "e81ef2483729d4165aaa4866c17f26496e6c6924e2fe34f608efef0c35835f86df29a1e19ce166a8",
    ),
];

fn kbkdf(r: &mut Runner, env: &Env) {
    let sec = "cm §2.42";
    let i: Vec<String> = CAVP_KBKDF_CTR
        .iter()
        .map(|v| format!("mech.SP800_108_COUNTER_KDF.{}", v.0))
        .collect();
    if gate(r, env, &i, sec, CKM_SP800_108_COUNTER_KDF) {
        for (n, (_, prf, kt, ki, fixed, ko)) in CAVP_KBKDF_CTR.into_iter().enumerate() {
            r.case(&i[n], sec, env, |m, e| {
                let s = t!(user(m, e), "open+login");
                let b = t!(base(m, s, kt, &hx(ki), false), "base key (KI)");
                let mech = sp800_108(
                    CKM_SP800_108_COUNTER_KDF,
                    prf,
                    &[Prf::Iter(Some(8)), Prf::Bytes(hx(fixed))],
                );
                let v = match derive_value(m, s, &mech, b, Some(40)) {
                    Ok(v) => v,
                    Err(f) => return Outcome::Fail(f),
                };
                check(v == hx(ko), || format!("expected KO {ko}, got {}", hex(&v)))
            });
        }
    }
    // --- SP 800-108 (cm §2.42) with the HMAC-SHA256 PRF, one 32-byte key (one PRF
    // block), checked against C_Sign(CKM_SHA256_HMAC) of the PRF input the standard
    // defines: counter mode [i]_32 || label; feedback mode IV || label; double
    // pipeline A(1) = PRF(label), K(1) = PRF(A(1) || label).
    let label = b"pkcs11-conformance label".to_vec();
    let iv = [0x5au8; 32];
    let key = [0x0bu8; 32];
    for (name, ty) in [
        ("SP800_108_COUNTER_KDF", CKM_SP800_108_COUNTER_KDF),
        ("SP800_108_FEEDBACK_KDF", CKM_SP800_108_FEEDBACK_KDF),
        (
            "SP800_108_DOUBLE_PIPELINE_KDF",
            CKM_SP800_108_DOUBLE_PIPELINE_KDF,
        ),
    ] {
        let i = ids(
            name,
            &[
                "consistency",
                "param-invalid",
                "param-two-iteration-variables",
                "key-type-inconsistent",
                "template-incomplete",
            ],
        );
        if !gate(r, env, &i, sec, ty) {
            continue;
        }
        let iter = if ty == CKM_SP800_108_COUNTER_KDF {
            Some(32)
        } else {
            None
        };
        let label2 = label.clone();
        let mech = move |data: &[Prf]| match ty {
            CKM_SP800_108_FEEDBACK_KDF => sp800_108_feedback(CKM_SHA256_HMAC, data, &iv),
            _ => sp800_108(ty, CKM_SHA256_HMAC, data),
        };
        let good = move || mech(&[Prf::Iter(iter), Prf::Bytes(label2.clone())]);
        r.case(&i[0], sec, env, |m, e| {
            if !e.mechs.contains(&CKM_SHA256_HMAC) {
                return Outcome::Skip("CKM_SHA256_HMAC not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &key, false), "base key");
            let v = match derive_value(m, s, &good(), b, Some(32)) {
                Ok(v) => v,
                Err(f) => return Outcome::Fail(f),
            };
            let hmac = |d: &[u8]| m.run(Op::Sign, s, &Mech::new(CKM_SHA256_HMAC), b, d);
            let want = match ty {
                CKM_SP800_108_COUNTER_KDF => hmac(&[vec![0, 0, 0, 1], label.clone()].concat()),
                CKM_SP800_108_FEEDBACK_KDF => hmac(&[iv.to_vec(), label.clone()].concat()),
                _ => hmac(&label).and_then(|a| hmac(&[a, label.clone()].concat())),
            };
            let want = t!(want, "C_Sign(CKM_SHA256_HMAC)");
            check(v == want, || {
                format!(
                    "expected {} (the PRF by C_Sign), got {}",
                    hex(&want),
                    hex(&v)
                )
            })
        });
        r.case(&i[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &key, false), "base key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                rv_of_derive(m, s, &Mech::new(ty), b, &out(Some(32))),
            )
        });
        r.case(&i[2], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &key, false), "base key");
            let two = mech(&[Prf::Iter(iter), Prf::Iter(iter), Prf::Bytes(b"x".to_vec())]);
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                rv_of_derive(m, s, &two, b, &out(Some(32))),
            )
        });
        r.case(&i[3], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_AES, &key, false), "AES base key");
            expect_rv(
                &[CKR_KEY_TYPE_INCONSISTENT],
                rv_of_derive(m, s, &good(), b, &out(Some(32))),
            )
        });
        r.case(&i[4], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let b = t!(base(m, s, CKK_GENERIC_SECRET, &key, false), "base key");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                rv_of_derive(m, s, &good(), b, &out(None)),
            )
        });
    }
}
