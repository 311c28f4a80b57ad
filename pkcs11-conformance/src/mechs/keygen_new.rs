//! Key generations of PKCS#11 3.0 current mechanisms ("cm") and 3.2: the
//! HMAC key generations (cm §2.20-§2.28), Edwards and Montgomery key pairs (cm
//! §2.3) with X25519 ECDH (RFC 7748 §6.1), P-521 and secp256k1 ECDSA key
//! pairs, ML-DSA (3.2 §6.67) and ML-KEM (3.2 §6.68) key pairs.

use super::sig_new::{ml_dsa_pair, ED25519_OID};
use super::*;

/// id-X25519 (1.3.101.110), id-X448 (1.3.101.111), id-Ed448 (1.3.101.113).
const X25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x6e];
const X448_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x6f];
const ED448_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x71];
/// PrintableString "edwards25519" (cm §2.3.6: a curve name is allowed).
const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";
/// RFC 7748 §6.1: Alice's private key, Bob's public key, their shared secret.
const X25519_ALICE_SK: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const X25519_BOB_PK: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const X25519_SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

fn skip_all(r: &mut Runner, ids: &[String], sec: &str, why: &str) {
    for id in ids {
        r.record(id, sec, Outcome::Skip(why.into()));
    }
}

fn ids(name: &str, cases: &[&str]) -> Vec<String> {
    cases.iter().map(|c| format!("mech.{name}.{c}")).collect()
}

fn pair_tpls(params: Option<&[u8]>, derive: bool) -> (Template, Template) {
    let p = Template::new()
        .flag(CKA_TOKEN, false)
        .flag(CKA_VERIFY, !derive);
    let p = match params {
        Some(b) => p.bytes(CKA_EC_PARAMS, b),
        None => p,
    };
    let q = Template::new()
        .flag(CKA_TOKEN, false)
        .flag(CKA_PRIVATE, true)
        .flag(CKA_SENSITIVE, true);
    let q = if derive {
        q.flag(CKA_DERIVE, true)
    } else {
        q.flag(CKA_SIGN, true)
    };
    (p, q)
}

/// The generation cases.
pub(super) fn keygen_new(r: &mut Runner, env: &Env) {
    hmac_keygen(r, env);
    edwards(r, env);
    montgomery(r, env);
    curves(r, env);
    ml_dsa(r, env);
    ml_kem(r, env);
}

fn hmac_keygen(r: &mut Runner, env: &Env) {
    // cm §2.20-§2.28 "<hash> key generation": CKA_VALUE_LEN required; the key type
    // is the hash's HMAC key type; the key MACs with <hash>_HMAC.
    let sec = "cm §2.20";
    let rows: [(&str, CK_MECHANISM_TYPE, CK_KEY_TYPE, CK_MECHANISM_TYPE); 11] = [
        (
            "SHA_1_KEY_GEN",
            CKM_SHA_1_KEY_GEN,
            CKK_SHA_1_HMAC,
            CKM_SHA_1_HMAC,
        ),
        (
            "SHA224_KEY_GEN",
            CKM_SHA224_KEY_GEN,
            CKK_SHA224_HMAC,
            CKM_SHA224_HMAC,
        ),
        (
            "SHA256_KEY_GEN",
            CKM_SHA256_KEY_GEN,
            CKK_SHA256_HMAC,
            CKM_SHA256_HMAC,
        ),
        (
            "SHA384_KEY_GEN",
            CKM_SHA384_KEY_GEN,
            CKK_SHA384_HMAC,
            CKM_SHA384_HMAC,
        ),
        (
            "SHA512_KEY_GEN",
            CKM_SHA512_KEY_GEN,
            CKK_SHA512_HMAC,
            CKM_SHA512_HMAC,
        ),
        (
            "SHA512_224_KEY_GEN",
            CKM_SHA512_224_KEY_GEN,
            CKK_SHA512_224_HMAC,
            CKM_SHA512_224_HMAC,
        ),
        (
            "SHA512_256_KEY_GEN",
            CKM_SHA512_256_KEY_GEN,
            CKK_SHA512_256_HMAC,
            CKM_SHA512_256_HMAC,
        ),
        (
            "SHA3_224_KEY_GEN",
            CKM_SHA3_224_KEY_GEN,
            CKK_SHA3_224_HMAC,
            CKM_SHA3_224_HMAC,
        ),
        (
            "SHA3_256_KEY_GEN",
            CKM_SHA3_256_KEY_GEN,
            CKK_SHA3_256_HMAC,
            CKM_SHA3_256_HMAC,
        ),
        (
            "SHA3_384_KEY_GEN",
            CKM_SHA3_384_KEY_GEN,
            CKK_SHA3_384_HMAC,
            CKM_SHA3_384_HMAC,
        ),
        (
            "SHA3_512_KEY_GEN",
            CKM_SHA3_512_KEY_GEN,
            CKK_SHA3_512_HMAC,
            CKM_SHA3_512_HMAC,
        ),
    ];
    for (name, ty, kt, hmac) in rows {
        let i = ids(name, &["generate", "template-incomplete", "usable"]);
        if !env.mechs.contains(&ty) {
            skip_all(
                r,
                &i,
                sec,
                &format!("CKM_{name} not supported (not advertised)"),
            );
            continue;
        }
        let tpl = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_SIGN, true)
                .flag(CKA_VERIFY, true)
        };
        r.case(&i[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(
                m.generate_key(s, &Mech::new(ty), &tpl().ulong(CKA_VALUE_LEN, 32)),
                "C_GenerateKey"
            );
            let got = t!(m.get_ulong(s, k, CKA_KEY_TYPE), "CKA_KEY_TYPE");
            let len = t!(m.get_ulong(s, k, CKA_VALUE_LEN), "CKA_VALUE_LEN");
            let local = t!(m.get_bool(s, k, CKA_LOCAL), "CKA_LOCAL");
            check(got == kt && len == 32 && local, || {
                format!(
                    "expected key type 0x{kt:x}, 32 bytes, LOCAL; got 0x{got:x}, {len}, {local}"
                )
            })
        });
        r.case(&i[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_key(s, &Mech::new(ty), &tpl())),
            )
        });
        r.case(&i[2], sec, env, |m, e| {
            if !e.mechs.contains(&hmac) {
                return Outcome::Skip("its HMAC is not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = t!(
                m.generate_key(s, &Mech::new(ty), &tpl().ulong(CKA_VALUE_LEN, 32)),
                "C_GenerateKey"
            );
            let mac = t!(m.run(Op::Sign, s, &Mech::new(hmac), k, b"abc"), "C_Sign");
            expect_rv(
                &[CKR_OK],
                m.run_verify(s, &Mech::new(hmac), k, b"abc", &mac),
            )
        });
    }
}

fn edwards(r: &mut Runner, env: &Env) {
    // cm §2.3.6 Edwards key pair generation: CKA_EC_PARAMS (OID or curve name)
    // required; an unsupported curve is CKR_CURVE_NOT_SUPPORTED (§5.1.6).
    let sec = "cm §2.3.6";
    let i = ids(
        "EC_EDWARDS_KEY_PAIR_GEN",
        &[
            "attributes",
            "curve-name",
            "template-incomplete",
            "curve-not-supported",
            "usable",
        ],
    );
    if !env.mechs.contains(&CKM_EC_EDWARDS_KEY_PAIR_GEN) {
        return skip_all(
            r,
            &i,
            sec,
            "CKM_EC_EDWARDS_KEY_PAIR_GEN not supported (not advertised)",
        );
    }
    let mech = || Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN);
    r.case(&i[0], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(Some(&ED25519_OID), false);
        let (p, q) = t!(m.generate_pair(s, &mech(), &p, &q), "C_GenerateKeyPair");
        let kt = t!(m.get_ulong(s, q, CKA_KEY_TYPE), "CKA_KEY_TYPE");
        let pt = t!(m.get(s, p, CKA_EC_POINT), "CKA_EC_POINT");
        let kgm = t!(m.get_ulong(s, q, CKA_KEY_GEN_MECHANISM), "CKA_KEY_GEN_MECHANISM");
        check(kt == CKK_EC_EDWARDS && (pt.len() == 32 || pt.len() == 34) && kgm == CKM_EC_EDWARDS_KEY_PAIR_GEN, || {
            format!("expected CKK_EC_EDWARDS, a 32-byte point (DER or raw), KEY_GEN_MECHANISM; got 0x{kt:x}, {} bytes, 0x{kgm:x}", pt.len())
        })
    });
    r.case(&i[1], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(Some(ED25519_NAME), false);
        expect_rv(
            &[CKR_OK],
            crate::rv_of(&m.generate_pair(s, &mech(), &p, &q)),
        )
    });
    r.case(&i[2], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(None, false);
        expect_rv(
            &[CKR_TEMPLATE_INCOMPLETE],
            crate::rv_of(&m.generate_pair(s, &mech(), &p, &q)),
        )
    });
    r.case(&i[3], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(Some(&ED448_OID), false);
        match m.generate_pair(s, &mech(), &p, &q) {
            Ok(_) => Outcome::Skip("the module supports Ed448".into()),
            Err(rv) => expect_rv(&[CKR_CURVE_NOT_SUPPORTED], rv),
        }
    });
    r.case(&i[4], sec, env, |m, e| {
        if !e.mechs.contains(&CKM_EDDSA) {
            return Outcome::Skip("CKM_EDDSA not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(Some(&ED25519_OID), false);
        let (p, q) = t!(m.generate_pair(s, &mech(), &p, &q), "C_GenerateKeyPair");
        let sig = t!(
            m.run(Op::Sign, s, &Mech::new(CKM_EDDSA), q, b"abc"),
            "C_Sign"
        );
        expect_rv(
            &[CKR_OK],
            m.run_verify(s, &Mech::new(CKM_EDDSA), p, b"abc", &sig),
        )
    });
}

/// The raw 32-byte public value of a Montgomery CKA_EC_POINT (DER or raw).
fn raw_point(pt: &[u8]) -> Vec<u8> {
    if pt.len() == 34 && pt[0] == 4 && pt[1] == 32 {
        pt[2..].to_vec()
    } else {
        pt.to_vec()
    }
}

fn montgomery(r: &mut Runner, env: &Env) {
    // cm §2.3.7 Montgomery key pair generation, §2.3.15 ECDH with X25519
    // (CKM_ECDH1_DERIVE, CKD_NULL, the peer's raw public value).
    let sec = "cm §2.3.7";
    let i = ids(
        "EC_MONTGOMERY_KEY_PAIR_GEN",
        &[
            "attributes",
            "template-incomplete",
            "curve-not-supported",
            "agreement",
        ],
    );
    let k = ids("ECDH1_DERIVE", &["x25519-known-answer"]);
    if !env.mechs.contains(&CKM_EC_MONTGOMERY_KEY_PAIR_GEN) {
        skip_all(
            r,
            &i,
            sec,
            "CKM_EC_MONTGOMERY_KEY_PAIR_GEN not supported (not advertised)",
        );
        return skip_all(
            r,
            &k,
            "cm §2.3.15",
            "CKM_EC_MONTGOMERY_KEY_PAIR_GEN not supported (not advertised)",
        );
    }
    let mech = || Mech::new(CKM_EC_MONTGOMERY_KEY_PAIR_GEN);
    let secret_tpl = || {
        Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .flag(CKA_TOKEN, false)
            .flag(CKA_SENSITIVE, false)
            .flag(CKA_EXTRACTABLE, true)
            .ulong(CKA_VALUE_LEN, 32)
    };
    r.case(&i[0], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(Some(&X25519_OID), true);
        let (p, q) = t!(m.generate_pair(s, &mech(), &p, &q), "C_GenerateKeyPair");
        let kt = t!(m.get_ulong(s, q, CKA_KEY_TYPE), "CKA_KEY_TYPE");
        let pt = t!(m.get(s, p, CKA_EC_POINT), "CKA_EC_POINT");
        check(kt == CKK_EC_MONTGOMERY && (pt.len() == 32 || pt.len() == 34), || {
            format!("expected CKK_EC_MONTGOMERY and a 32-byte point (DER or raw); got 0x{kt:x}, {} bytes", pt.len())
        })
    });
    r.case(&i[1], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(None, true);
        expect_rv(
            &[CKR_TEMPLATE_INCOMPLETE],
            crate::rv_of(&m.generate_pair(s, &mech(), &p, &q)),
        )
    });
    r.case(&i[2], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(Some(&X448_OID), true);
        match m.generate_pair(s, &mech(), &p, &q) {
            Ok(_) => Outcome::Skip("the module supports X448".into()),
            Err(rv) => expect_rv(&[CKR_CURVE_NOT_SUPPORTED], rv),
        }
    });
    r.case(&i[3], "cm §2.3.15", env, |m, e| {
        if !e.mechs.contains(&CKM_ECDH1_DERIVE) {
            return Outcome::Skip("CKM_ECDH1_DERIVE not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        let (p, q) = pair_tpls(Some(&X25519_OID), true);
        let (pa, qa) = t!(m.generate_pair(s, &mech(), &p, &q), "C_GenerateKeyPair (A)");
        let (pb, qb) = t!(m.generate_pair(s, &mech(), &p, &q), "C_GenerateKeyPair (B)");
        let a = raw_point(&t!(m.get(s, pa, CKA_EC_POINT), "CKA_EC_POINT (A)"));
        let b = raw_point(&t!(m.get(s, pb, CKA_EC_POINT), "CKA_EC_POINT (B)"));
        let ka = t!(
            m.derive(s, &Mech::ecdh(&b), qa, &secret_tpl()),
            "C_DeriveKey (A)"
        );
        let kb = t!(
            m.derive(s, &Mech::ecdh(&a), qb, &secret_tpl()),
            "C_DeriveKey (B)"
        );
        let za = t!(m.get(s, ka, CKA_VALUE), "CKA_VALUE (A)");
        let zb = t!(m.get(s, kb, CKA_VALUE), "CKA_VALUE (B)");
        check(za == zb && za.len() == 32, || {
            "expected both sides to derive the same 32 bytes".into()
        })
    });
    r.case(&k[0], "cm §2.3.15", env, |m, e| {
        if !e.mechs.contains(&CKM_ECDH1_DERIVE) {
            return Outcome::Skip("CKM_ECDH1_DERIVE not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        let q = t!(
            m.create(
                s,
                &Template::new()
                    .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_EC_MONTGOMERY)
                    .flag(CKA_TOKEN, false)
                    .flag(CKA_PRIVATE, true)
                    .flag(CKA_SENSITIVE, true)
                    .flag(CKA_DERIVE, true)
                    .bytes(CKA_EC_PARAMS, &X25519_OID)
                    .bytes(CKA_VALUE, &hx(X25519_ALICE_SK))
            ),
            "C_CreateObject(RFC 7748 Alice)"
        );
        let k = t!(
            m.derive(s, &Mech::ecdh(&hx(X25519_BOB_PK)), q, &secret_tpl()),
            "C_DeriveKey"
        );
        let z = t!(m.get(s, k, CKA_VALUE), "CKA_VALUE");
        check(z == hx(X25519_SHARED), || {
            format!("expected {X25519_SHARED}, got {}", hex(&z))
        })
    });
}

fn curves(r: &mut Runner, env: &Env) {
    // cm §2.3.3 EC key pair generation on P-521 and secp256k1, signed and verified
    // with ECDSA; a module without the curve says CKR_CURVE_NOT_SUPPORTED (skipped).
    let sec = "cm §2.3.3";
    let rows: [(&str, &[u8], CK_MECHANISM_TYPE); 2] = [
        (
            "P-521",
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
            CKM_ECDSA_SHA512,
        ),
        (
            "secp256k1",
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
            CKM_ECDSA_SHA256,
        ),
    ];
    for (curve, oid, sig_mech) in rows {
        let id = format!("mech.EC_KEY_PAIR_GEN.{curve}.usable");
        if !env.mechs.contains(&CKM_EC_KEY_PAIR_GEN) {
            r.record(
                &id,
                sec,
                Outcome::Skip("CKM_EC_KEY_PAIR_GEN not supported (not advertised)".into()),
            );
            continue;
        }
        r.case(&id, sec, env, |m, e| {
            let mech = if e.mechs.contains(&sig_mech) {
                Mech::new(sig_mech)
            } else {
                Mech::new(CKM_ECDSA)
            };
            let data: &[u8] = if mech.ty == CKM_ECDSA {
                &[7u8; 32]
            } else {
                b"abc"
            };
            let s = t!(user(m, e), "open+login");
            let (p, q) = pair_tpls(Some(oid), false);
            let (p, q) = match m.generate_pair(s, &Mech::new(CKM_EC_KEY_PAIR_GEN), &p, &q) {
                Ok(k) => k,
                Err(CKR_CURVE_NOT_SUPPORTED) => {
                    return Outcome::Skip(format!("{curve}: CKR_CURVE_NOT_SUPPORTED"))
                }
                Err(rv) => return Outcome::Fail(format!("C_GenerateKeyPair: {}", rv_name(rv))),
            };
            let sig = t!(m.run(Op::Sign, s, &mech, q, data), "C_Sign");
            expect_rv(&[CKR_OK], m.run_verify(s, &mech, p, data, &sig))
        });
    }
}

fn ml_dsa(r: &mut Runner, env: &Env) {
    // 3.2 §6.67 ML-DSA key pair generation: CKA_PARAMETER_SET in the public
    // template (missing: CKR_TEMPLATE_INCOMPLETE; unknown: invalid value); both
    // halves carry it; FIPS 204 public key sizes.
    let sec = "3.2 §6.67";
    let i = ids(
        "ML_DSA_KEY_PAIR_GEN",
        &[
            "ML-DSA-44",
            "ML-DSA-65",
            "ML-DSA-87",
            "template-incomplete",
            "parameter-set-invalid",
        ],
    );
    if !env.mechs.contains(&CKM_ML_DSA_KEY_PAIR_GEN) {
        return skip_all(
            r,
            &i,
            sec,
            "CKM_ML_DSA_KEY_PAIR_GEN not supported (not advertised)",
        );
    }
    for (n, (set, pk_len)) in [
        (CKP_ML_DSA_44, 1312),
        (CKP_ML_DSA_65, 1952),
        (CKP_ML_DSA_87, 2592),
    ]
    .into_iter()
    .enumerate()
    {
        r.case(&i[n], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(ml_dsa_pair(m, s, set), "C_GenerateKeyPair");
            let kt = t!(m.get_ulong(s, q, CKA_KEY_TYPE), "CKA_KEY_TYPE");
            let ps = t!(m.get_ulong(s, q, CKA_PARAMETER_SET), "CKA_PARAMETER_SET (private)");
            let v = t!(m.get(s, p, CKA_VALUE), "CKA_VALUE (public)");
            ensure!(
                kt == CKK_ML_DSA && ps == set && v.len() == pk_len,
                "expected CKK_ML_DSA, CKA_PARAMETER_SET {set}, a {pk_len}-byte public key; got 0x{kt:x}, {ps}, {}",
                v.len()
            );
            if !e.mechs.contains(&CKM_ML_DSA) {
                return Outcome::Pass;
            }
            let sig = t!(m.run(Op::Sign, s, &Mech::new(CKM_ML_DSA), q, b"abc"), "C_Sign(CKM_ML_DSA)");
            expect_rv(&[CKR_OK], m.run_verify(s, &Mech::new(CKM_ML_DSA), p, b"abc", &sig))
        });
    }
    let tpl = |set: Option<CK_ULONG>| {
        let t = Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true);
        match set {
            Some(v) => t.ulong(CKA_PARAMETER_SET, v),
            None => t,
        }
    };
    let private = || Template::new().flag(CKA_TOKEN, false).flag(CKA_SIGN, true);
    r.case(&i[3], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(
            &[CKR_TEMPLATE_INCOMPLETE],
            crate::rv_of(&m.generate_pair(
                s,
                &Mech::new(CKM_ML_DSA_KEY_PAIR_GEN),
                &tpl(None),
                &private(),
            )),
        )
    });
    r.case(&i[4], sec, env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
            crate::rv_of(&m.generate_pair(
                s,
                &Mech::new(CKM_ML_DSA_KEY_PAIR_GEN),
                &tpl(Some(0x7fff)),
                &private(),
            )),
        )
    });
}

fn ml_kem(r: &mut Runner, env: &Env) {
    // 3.2 §6.68 ML-KEM key pair generation (as ML-DSA's), and CKM_ML_KEM's
    // information. C_EncapsulateKey/C_DecapsulateKey are in the 3.2 function list,
    // which this runner does not drive: encapsulation has no case here.
    let sec = "3.2 §6.68";
    let i = ids(
        "ML_KEM_KEY_PAIR_GEN",
        &[
            "ML-KEM-512",
            "ML-KEM-768",
            "ML-KEM-1024",
            "template-incomplete",
            "parameter-set-invalid",
        ],
    );
    if !env.mechs.contains(&CKM_ML_KEM_KEY_PAIR_GEN) {
        skip_all(
            r,
            &i,
            sec,
            "CKM_ML_KEM_KEY_PAIR_GEN not supported (not advertised)",
        );
    } else {
        let mech = || Mech::new(CKM_ML_KEM_KEY_PAIR_GEN);
        let tpl = |set: Option<CK_ULONG>| {
            let t = Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_ENCAPSULATE, true);
            match set {
                Some(v) => t.ulong(CKA_PARAMETER_SET, v),
                None => t,
            }
        };
        let private = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_PRIVATE, true)
                .flag(CKA_DECAPSULATE, true)
        };
        for (n, (set, pk_len)) in [
            (CKP_ML_KEM_512, 800),
            (CKP_ML_KEM_768, 1184),
            (CKP_ML_KEM_1024, 1568),
        ]
        .into_iter()
        .enumerate()
        {
            r.case(&i[n], sec, env, |m, e| {
                let s = t!(user(m, e), "open+login");
                let (p, q) = t!(m.generate_pair(s, &mech(), &tpl(Some(set)), &private()), "C_GenerateKeyPair");
                let kt = t!(m.get_ulong(s, q, CKA_KEY_TYPE), "CKA_KEY_TYPE");
                let ps = t!(m.get_ulong(s, q, CKA_PARAMETER_SET), "CKA_PARAMETER_SET (private)");
                let v = t!(m.get(s, p, CKA_VALUE), "CKA_VALUE (public)");
                check(kt == CKK_ML_KEM && ps == set && v.len() == pk_len, || {
                    format!("expected CKK_ML_KEM, CKA_PARAMETER_SET {set}, a {pk_len}-byte public key; got 0x{kt:x}, {ps}, {}", v.len())
                })
            });
        }
        r.case(&i[3], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_pair(s, &mech(), &tpl(None), &private())),
            )
        });
        r.case(&i[4], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
                crate::rv_of(&m.generate_pair(s, &mech(), &tpl(Some(0x7fff)), &private())),
            )
        });
    }
    let id = "mech.ML_KEM.info";
    if !env.mechs.contains(&CKM_ML_KEM) {
        r.record(
            id,
            sec,
            Outcome::Skip("CKM_ML_KEM not supported (not advertised)".into()),
        );
        return;
    }
    r.case(id, "3.2 §5.5.6", env, |m, e| {
        let i = t!(m.mech_info(e.slot, CKM_ML_KEM), "C_GetMechanismInfo");
        let need = CKF_ENCAPSULATE | CKF_DECAPSULATE;
        check(i.flags & need == need, || {
            format!(
                "expected CKF_ENCAPSULATE|CKF_DECAPSULATE in 0x{:x}",
                i.flags
            )
        })
    });
}
