//! The signature mechanisms of PKCS#11 3.0 current mechanisms and 3.2 in the
//! catalogue: EdDSA on Ed25519 (§2.3.14, RFC 8032 test 1 key), ECDSA on P-384
//! (a key pair generated per case), ML-DSA-44 (3.2 §6.67, a key pair generated
//! per case) with `CKM_ML_DSA`, `CKM_HASH_ML_DSA` and every
//! `CKM_HASH_ML_DSA_<hash>`.

use super::params::{hash_sign_ctx, sign_ctx};
use super::*;

/// RFC 8032 §7.1 test 1: secret key, public key, signature of the empty message.
pub(super) const ED25519_SK: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
pub(super) const ED25519_PK: &str =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const ED25519_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/// id-Ed25519 (1.3.101.112), CKA_EC_PARAMS.
pub(super) const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// secp384r1 (1.3.132.0.34), CKA_EC_PARAMS.
pub(super) const P384_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// Wycheproof ECDSA P-384/SHA-384 (P1363): the public point and tcId 1's signature of "123400".
const WYCHEPROOF_P384_PUBLIC: &str = "042da57dda1089276a543f9ffdac0bff0d976cad71eb7280e7d9bfd9fee4bdb2f20f47ff888274389772d98cc5752138aa4b6d054d69dcf3e25ec49df870715e34883b1836197d76f8ad962e78f6571bbc7407b0d6091f9e4d88f014274406174f";
const WYCHEPROOF_P384_SIG: &str = "12b30abef6b5476fe6b612ae557c0425661e26b44b1bfe19daf2ca28e3113083ba8e4ae4cc45a0320abd3394f1c548d71840da9fc1d2f8f8900cf485d5413b8c2574ee3a8d4ca03995ca30240e09513805bf6209b58ac7aa9cff54eecd82b9f1";
/// The context the `CKM_ML_DSA` row signs with (deterministic variant).
const CTX: &[u8] = b"pkcs11-conformance";

/// The hashes of `CKM_HASH_ML_DSA_<hash>` with their digest lengths.
pub(super) const HASH_ML_DSA: [(&str, CK_MECHANISM_TYPE); 10] = [
    ("HASH_ML_DSA_SHA224", CKM_HASH_ML_DSA_SHA224),
    ("HASH_ML_DSA_SHA256", CKM_HASH_ML_DSA_SHA256),
    ("HASH_ML_DSA_SHA384", CKM_HASH_ML_DSA_SHA384),
    ("HASH_ML_DSA_SHA512", CKM_HASH_ML_DSA_SHA512),
    ("HASH_ML_DSA_SHA3_224", CKM_HASH_ML_DSA_SHA3_224),
    ("HASH_ML_DSA_SHA3_256", CKM_HASH_ML_DSA_SHA3_256),
    ("HASH_ML_DSA_SHA3_384", CKM_HASH_ML_DSA_SHA3_384),
    ("HASH_ML_DSA_SHA3_512", CKM_HASH_ML_DSA_SHA3_512),
    ("HASH_ML_DSA_SHAKE128", CKM_HASH_ML_DSA_SHAKE128),
    ("HASH_ML_DSA_SHAKE256", CKM_HASH_ML_DSA_SHAKE256),
];

/// A context of 256 bytes, one more than FIPS 204 allows (`CKR_MECHANISM_PARAM_INVALID`).
fn long_ctx(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    macro_rules! pick {
        ($($c:ident),*) => {
            match ty {
                $($c => m!(sign_ctx($c, CKH_HEDGE_PREFERRED, &[0x55; 256])),)*
                _ => m!(Mech::new(CK_UNAVAILABLE_INFORMATION)),
            }
        };
    }
    pick!(
        CKM_ML_DSA,
        CKM_HASH_ML_DSA_SHA224,
        CKM_HASH_ML_DSA_SHA256,
        CKM_HASH_ML_DSA_SHA384,
        CKM_HASH_ML_DSA_SHA512,
        CKM_HASH_ML_DSA_SHA3_224,
        CKM_HASH_ML_DSA_SHA3_256,
        CKM_HASH_ML_DSA_SHA3_384,
        CKM_HASH_ML_DSA_SHA3_512,
        CKM_HASH_ML_DSA_SHAKE128,
        CKM_HASH_ML_DSA_SHAKE256
    )
}

/// This family's rows of the catalogue.
pub(super) fn specs(v: &mut Vec<Spec>) {
    // --- EdDSA (3.0 current mechanisms §2.3.14): pure Ed25519 without a parameter;
    // a parameter of the wrong size is CKR_MECHANISM_PARAM_INVALID.
    v.push(Spec {
        name: "EDDSA",
        ty: CKM_EDDSA,
        fam: Fam::EdDsa,
        mech: m!(Mech::new(CKM_EDDSA)),
        bad_param: Some(m!(Mech::with_bytes(CKM_EDDSA, &[0u8; 3]))),
        multipart: true,
        deterministic: true,
        input_len: 100,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_EDDSA)),
            op: Op::Verify,
            input: Vec::new(),
            output: hx(ED25519_SIG),
        }),
    });
    // --- ECDSA on P-384 (§2.3): the same mechanisms with a 384-bit key.
    v.push(Spec {
        name: "ECDSA(P-384)",
        ty: CKM_ECDSA,
        fam: Fam::Ecdsa,
        mech: m!(Mech::new(CKM_ECDSA)),
        bad_param: None,
        multipart: false,
        deterministic: false,
        input_len: 48,
        // The same Wycheproof signature over SHA-384("123400").
        kat: Some(Kat {
            key: Some(hx(WYCHEPROOF_P384_PUBLIC)),
            mech: m!(Mech::new(CKM_ECDSA)),
            op: Op::Verify,
            input: hx("f9b127f0d81ebcd17b7ba0ea131c660d340b05ce557c82160e0f793de07d38179023942871acb7002dfafdfffc8deace"),
            output: hx(WYCHEPROOF_P384_SIG),
        }),
    });
    // Wycheproof ecdsa_secp384r1_sha384_p1363_test.json tcId 1 (valid).
    v.push(Spec {
        name: "ECDSA_SHA384(P-384)",
        ty: CKM_ECDSA_SHA384,
        fam: Fam::Ecdsa,
        mech: m!(Mech::new(CKM_ECDSA_SHA384)),
        bad_param: None,
        multipart: true,
        deterministic: false,
        input_len: 100,
        kat: Some(Kat {
            key: Some(hx(WYCHEPROOF_P384_PUBLIC)),
            mech: m!(Mech::new(CKM_ECDSA_SHA384)),
            op: Op::Verify,
            input: hx("313233343030"),
            output: hx(WYCHEPROOF_P384_SIG),
        }),
    });
    // --- ML-DSA (3.2 §6.67) with an ML-DSA-44 key. CKM_ML_DSA signs with a context
    // and CKH_DETERMINISTIC_REQUIRED, so its output repeats.
    v.push(Spec {
        name: "ML_DSA",
        ty: CKM_ML_DSA,
        fam: Fam::MlDsa,
        mech: m!(sign_ctx(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, CTX)),
        bad_param: Some(long_ctx(CKM_ML_DSA)),
        multipart: true,
        deterministic: true,
        input_len: 100,
        kat: None,
    });
    // CKM_HASH_ML_DSA signs a hash the caller made: single-part, the hash named in
    // the parameter (a mechanism that is no hash is CKR_MECHANISM_PARAM_INVALID).
    v.push(Spec {
        name: "HASH_ML_DSA",
        ty: CKM_HASH_ML_DSA,
        fam: Fam::MlDsa,
        mech: m!(hash_sign_ctx(CKH_HEDGE_PREFERRED, b"", CKM_SHA256)),
        bad_param: Some(m!(hash_sign_ctx(CKH_HEDGE_PREFERRED, b"", CKM_AES_ECB))),
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: None,
    });
    for (name, ty) in HASH_ML_DSA {
        v.push(Spec {
            name,
            ty,
            fam: Fam::MlDsa,
            mech: simple(ty),
            bad_param: Some(long_ctx(ty)),
            multipart: true,
            deterministic: false,
            input_len: 100,
            kat: None,
        });
    }
}

/// The RFC 8032 test 1 key as (public, private) CKK_EC_EDWARDS objects.
pub fn ed25519_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let public = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &ED25519_OID)
            .bytes(CKA_EC_POINT, &ec_point_der(ED25519_PK)),
    )?;
    let private = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SENSITIVE, true)
            .flag(CKA_SIGN, true)
            .bytes(CKA_EC_PARAMS, &ED25519_OID)
            .bytes(CKA_VALUE, &hx(ED25519_SK)),
    )?;
    Ok((public, private))
}

/// A generated P-384 pair (public, private).
pub fn p384_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    m.generate_pair(
        s,
        &Mech::new(CKM_EC_KEY_PAIR_GEN),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &P384_OID),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SIGN, true),
    )
}

/// A P-384 public key with this uncompressed point.
pub fn p384_public(
    m: &Module,
    s: CK_SESSION_HANDLE,
    point: &[u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &P384_OID)
            .bytes(
                CKA_EC_POINT,
                &[vec![0x04, point.len() as u8], point.to_vec()].concat(),
            ),
    )
}

/// A generated ML-DSA pair of the parameter set (public, private).
pub fn ml_dsa_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
    set: CK_ULONG,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    m.generate_pair(
        s,
        &Mech::new(CKM_ML_DSA_KEY_PAIR_GEN),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .ulong(CKA_PARAMETER_SET, set),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SIGN, true),
    )
}

/// `CK_EDDSA_PARAMS` (cm §2.3.14).
fn eddsa(ph: bool, ctx: &[u8]) -> Mech {
    let mut c = ctx.to_vec();
    let p = CK_EDDSA_PARAMS {
        phFlag: if ph { CK_TRUE } else { CK_FALSE },
        ulContextDataLen: c.len() as CK_ULONG,
        pContextData: if c.is_empty() {
            std::ptr::null_mut()
        } else {
            c.as_mut_ptr()
        },
    };
    Mech::with_parts(CKM_EDDSA, p11_testkit::struct_bytes(&p), vec![c])
}

/// Sign with `sign`, then verify with `verify`: the verification's return code.
fn sign_then_verify(
    m: &Module,
    s: CK_SESSION_HANDLE,
    (public, private): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    sign: &Mech,
    verify: &Mech,
    data: &[u8],
) -> Result<CK_RV, Outcome> {
    let sig = m
        .run(Op::Sign, s, sign, private, data)
        .map_err(|rv| Outcome::Fail(format!("C_Sign: {}", rv_name(rv))))?;
    Ok(m.run_verify(s, verify, public, data, &sig))
}

/// Cases on the parameters of EdDSA and ML-DSA beyond the catalogue's: the
/// context binds the signature, limits on the context and hedging variant,
/// the hash length of `CKM_HASH_ML_DSA`.
pub(super) fn params_cases(r: &mut Runner, env: &Env) {
    let sec = "cm §2.3.14";
    let ed = [
        "mech.EDDSA.context-round-trip",
        "mech.EDDSA.context-binds",
        "mech.EDDSA.ph-round-trip",
        "mech.EDDSA.context-too-long",
    ];
    if env.mechs.contains(&CKM_EDDSA) {
        r.case(ed[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            let rv = match sign_then_verify(
                m,
                s,
                k,
                &eddsa(false, b"foo"),
                &eddsa(false, b"foo"),
                b"abc",
            ) {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            expect_rv(&[CKR_OK], rv)
        });
        r.case(ed[1], sec, env, |m, e| {
            // Ed25519ctx with context "foo" does not verify as "bar", nor as pure Ed25519.
            let s = t!(user(m, e), "open+login");
            let k = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            let rv = match sign_then_verify(
                m,
                s,
                k,
                &eddsa(false, b"foo"),
                &eddsa(false, b"bar"),
                b"abc",
            ) {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            ensure!(
                rv == CKR_SIGNATURE_INVALID,
                "context \"bar\": expected CKR_SIGNATURE_INVALID, got {}",
                rv_name(rv)
            );
            let rv = match sign_then_verify(
                m,
                s,
                k,
                &eddsa(false, b"foo"),
                &Mech::new(CKM_EDDSA),
                b"abc",
            ) {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            expect_rv(&[CKR_SIGNATURE_INVALID], rv)
        });
        r.case(ed[2], sec, env, |m, e| {
            // Ed25519ph (phFlag TRUE) verifies as Ed25519ph and not as pure Ed25519.
            let s = t!(user(m, e), "open+login");
            let k = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            let rv = match sign_then_verify(m, s, k, &eddsa(true, b""), &eddsa(true, b""), b"abc") {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            ensure!(
                rv == CKR_OK,
                "Ed25519ph: expected CKR_OK, got {}",
                rv_name(rv)
            );
            let rv =
                match sign_then_verify(m, s, k, &eddsa(true, b""), &Mech::new(CKM_EDDSA), b"abc") {
                    Ok(rv) => rv,
                    Err(o) => return o,
                };
            expect_rv(&[CKR_SIGNATURE_INVALID], rv)
        });
        r.case(ed[3], sec, env, |m, e| {
            // RFC 8032 §5.1: a context is at most 255 bytes.
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                m.op_init(Op::Sign, s, &eddsa(false, &[7; 256]), q),
            )
        });
    } else {
        for id in ed {
            r.record(
                id,
                sec,
                Outcome::Skip("CKM_EDDSA not supported (not advertised)".into()),
            );
        }
    }
    let sec = "3.2 §6.67";
    let ml = [
        "mech.ML_DSA.context-binds",
        "mech.ML_DSA.hedge-invalid",
        "mech.ML_DSA.deterministic-repeats",
    ];
    if env.mechs.contains(&CKM_ML_DSA) {
        r.case(ml[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            let a = sign_ctx(CKM_ML_DSA, CKH_HEDGE_PREFERRED, b"context A");
            let b = sign_ctx(CKM_ML_DSA, CKH_HEDGE_PREFERRED, b"context B");
            let rv = match sign_then_verify(m, s, k, &a, &b, b"abc") {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            ensure!(
                rv == CKR_SIGNATURE_INVALID,
                "other context: expected CKR_SIGNATURE_INVALID, got {}",
                rv_name(rv)
            );
            let rv = match sign_then_verify(m, s, k, &a, &Mech::new(CKM_ML_DSA), b"abc") {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            expect_rv(&[CKR_SIGNATURE_INVALID], rv)
        });
        r.case(ml[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                m.op_init(Op::Sign, s, &sign_ctx(CKM_ML_DSA, 0x99, b""), q),
            )
        });
        r.case(ml[2], sec, env, |m, e| {
            // CKH_DETERMINISTIC_REQUIRED: the same signature twice; hedged: two different ones.
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            let det = sign_ctx(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, b"");
            let a = t!(
                m.run(Op::Sign, s, &det, q, b"abc"),
                "C_Sign (deterministic)"
            );
            let b = t!(
                m.run(Op::Sign, s, &det, q, b"abc"),
                "C_Sign (deterministic, again)"
            );
            ensure!(a == b, "expected the same deterministic signature twice");
            let hedged = sign_ctx(CKM_ML_DSA, CKH_HEDGE_REQUIRED, b"");
            let c = t!(m.run(Op::Sign, s, &hedged, q, b"abc"), "C_Sign (hedged)");
            let d = t!(
                m.run(Op::Sign, s, &hedged, q, b"abc"),
                "C_Sign (hedged, again)"
            );
            check(c != d && c.len() == 2420, || {
                "expected two different 2420-byte hedged signatures".into()
            })
        });
    } else {
        for id in ml {
            r.record(
                id,
                sec,
                Outcome::Skip("CKM_ML_DSA not supported (not advertised)".into()),
            );
        }
    }
    let id = "mech.HASH_ML_DSA.data-len-range";
    if env.mechs.contains(&CKM_HASH_ML_DSA) {
        r.case(id, sec, env, |m, e| {
            // The data is the SHA-256 hash named in the parameter: 31 bytes is not one.
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            let mech = hash_sign_ctx(CKH_HEDGE_PREFERRED, b"", CKM_SHA256);
            expect_rv(
                &[CKR_DATA_LEN_RANGE],
                m.run(Op::Sign, s, &mech, q, &[1; 31])
                    .err()
                    .unwrap_or(CKR_OK),
            )
        });
    } else {
        r.record(
            id,
            sec,
            Outcome::Skip("CKM_HASH_ML_DSA not supported (not advertised)".into()),
        );
    }
}
