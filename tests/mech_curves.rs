//! Every curve beyond P-256 through the built module (PKCS#11 3.0 §2.3):
//! Wycheproof ECDSA verification on P-384, P-521 and secp256k1, Wycheproof
//! ECDH on P-384 and P-521, RFC 8032 Ed25519 (pure, ctx, ph), Wycheproof
//! X25519, generated pairs of every kind with sign/verify and derive round
//! trips, wrapping, and the parameter and key-type errors.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

const P384_OID: &str = "06052b81040022";
const P521_OID: &str = "06052b81040023";
const K256_OID: &str = "06052b8104000a";
const ED25519_OID: &str = "06032b6570";
const X25519_OID: &str = "06032b656e";

/// A DER PrintableString (a curve name in `CKA_EC_PARAMS`).
fn name(n: &str) -> Vec<u8> {
    [
        &[0x13, u8::try_from(n.len()).expect("len")][..],
        n.as_bytes(),
    ]
    .concat()
}

/// The point as CKA_EC_POINT of a `CKK_EC` key holds it: a DER OCTET STRING.
fn octet(point: &[u8]) -> Vec<u8> {
    let n = point.len();
    let mut v = if n < 0x80 {
        vec![0x04, u8::try_from(n).expect("len")]
    } else {
        vec![0x04, 0x81, u8::try_from(n).expect("len")]
    };
    v.extend_from_slice(point);
    v
}

fn public_key(
    s: &Session,
    kt: KeyType,
    params: &[u8],
    point: &[u8],
) -> Result<ObjectHandle, RvError> {
    s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(kt),
        Attribute::Token(false),
        Attribute::Verify(true),
        Attribute::EcParams(params.to_vec()),
        Attribute::EcPoint(point.to_vec()),
    ])
    .map_err(|e| match e {
        cryptoki::error::Error::Pkcs11(r, _) => r,
        e => panic!("{e}"),
    })
}

fn private_key(
    s: &Session,
    kt: KeyType,
    params: &[u8],
    value: &[u8],
) -> Result<ObjectHandle, RvError> {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(kt),
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Derive(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::EcParams(params.to_vec()),
        Attribute::Value(value.to_vec()),
    ])
    .map_err(|e| match e {
        cryptoki::error::Error::Pkcs11(r, _) => r,
        e => panic!("{e}"),
    })
}

fn derive_template(len: Option<u64>) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    if let Some(n) = len {
        t.push(Attribute::ValueLen(n.into()));
    }
    t
}

fn ecdsa_mech(sha: &str) -> Mechanism<'static> {
    match sha {
        "SHA-256" => Mechanism::EcdsaSha256,
        "SHA-384" => Mechanism::EcdsaSha384,
        "SHA-512" => Mechanism::EcdsaSha512,
        other => panic!("{other}"),
    }
}

fn digest_mech(sha: &str) -> Mechanism<'static> {
    match sha {
        "SHA-256" => Mechanism::Sha256,
        "SHA-384" => Mechanism::Sha384,
        "SHA-512" => Mechanism::Sha512,
        other => panic!("{other}"),
    }
}

#[test]
fn wycheproof_ecdsa_verify_p384_p521_secp256k1() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let files = [
        ("asym-wycheproof-ecdsa-p384-sha384.json", h(P384_OID)),
        ("asym-wycheproof-ecdsa-p521-sha512.json", name("secp521r1")),
        ("asym-wycheproof-ecdsa-secp256k1-sha256.json", h(K256_OID)),
    ];
    for (file, params) in files {
        let v = json(file);
        let sha = js(&v, "sha");
        let public = public_key(&s, KeyType::EC, &params, &octet(&h(js(&v, "publicKey"))))
            .expect("public key");
        let info = s
            .get_attributes(public, &[AttributeType::PublicKeyInfo])
            .expect("spki");
        assert_eq!(
            info,
            vec![Attribute::PublicKeyInfo(h(js(&v, "publicKeyDer")))],
            "{file}"
        );
        let (mut ok, mut bad) = (0, 0);
        for t in v["tests"].as_array().expect("tests") {
            let (msg, sig) = (h(js(t, "msg")), h(js(t, "sig")));
            let r = s.verify(&ecdsa_mech(sha), public, &msg, &sig);
            if js(t, "result") == "valid" {
                r.unwrap_or_else(|e| panic!("{file} tcId {}: {e}", t["tcId"]));
                let d = s.digest(&digest_mech(sha), &msg).expect("digest");
                s.verify(&Mechanism::Ecdsa, public, &d, &sig)
                    .unwrap_or_else(|e| panic!("{file} tcId {} raw: {e}", t["tcId"]));
                ok += 1;
            } else {
                let e = rv(r);
                assert!(
                    matches!(e, RvError::SignatureInvalid | RvError::SignatureLenRange),
                    "{file} tcId {}: {e:?}",
                    t["tcId"]
                );
                bad += 1;
            }
        }
        assert!(ok >= 20 && bad >= 20, "{file}: {ok} valid, {bad} invalid");
    }
}

#[test]
fn wycheproof_ecdh_p384_p521() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    for (file, params, len) in [
        ("asym-wycheproof-ecdh-p384.json", name("P-384"), 48u64),
        ("asym-wycheproof-ecdh-p521.json", h(P521_OID), 66),
    ] {
        let v = json(file);
        let (mut ok, mut bad) = (0, 0);
        for t in v["tests"].as_array().expect("tests") {
            let private =
                private_key(&s, KeyType::EC, &params, &h(js(t, "private"))).expect("private key");
            let public = h(js(t, "public"));
            let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &public));
            let r = s.derive_key(&m, private, &derive_template(Some(len)));
            match js(t, "result") {
                "valid" => {
                    let k = r.unwrap_or_else(|e| panic!("{file} tcId {}: {e}", t["tcId"]));
                    assert_eq!(hx(&value_of(&s, k)), js(t, "shared"), "tcId {}", t["tcId"]);
                    // The DER form of the point gives the same secret.
                    let der = octet(&public);
                    let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &der));
                    let k = s
                        .derive_key(&m, private, &derive_template(Some(len)))
                        .expect("der");
                    assert_eq!(hx(&value_of(&s, k)), js(t, "shared"));
                    ok += 1;
                }
                "acceptable" => {
                    if let Ok(k) = r {
                        assert_eq!(hx(&value_of(&s, k)), js(t, "shared"));
                    }
                }
                _ => {
                    assert!(r.is_err(), "{file} tcId {}: must fail", t["tcId"]);
                    bad += 1;
                }
            }
        }
        assert!(ok >= 20 && bad >= 10, "{file}: {ok} valid, {bad} invalid");
    }
}

#[test]
fn rfc8032_ed25519_pure_ctx_ph() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("asym-rfc8032-ed25519.json");
    let mut forms = std::collections::BTreeSet::new();
    for (i, t) in v["tests"].as_array().expect("tests").iter().enumerate() {
        let (sk, pk, msg, c, want) = (
            h(js(t, "sk")),
            h(js(t, "pk")),
            h(js(t, "msg")),
            h(js(t, "ctx")),
            h(js(t, "sig")),
        );
        // Alternate the CKA_EC_PARAMS forms and the CKA_EC_POINT encodings.
        let params = if i % 2 == 0 {
            h(ED25519_OID)
        } else {
            name("edwards25519")
        };
        let point = if i % 2 == 0 { pk.clone() } else { octet(&pk) };
        let private = private_key(&s, KeyType::EC_EDWARDS, &params, &sk).expect("private");
        let public = public_key(&s, KeyType::EC_EDWARDS, &params, &point).expect("public");
        // The module writes the point raw (PKCS#11 3.1) on the private key;
        // the public key keeps the form it was given.
        for (k, want) in [(private, &pk), (public, &point)] {
            let a = s
                .get_attributes(k, &[AttributeType::EcPoint])
                .expect("point");
            assert_eq!(a, vec![Attribute::EcPoint(want.clone())]);
        }
        let form = js(t, "form");
        forms.insert(form.to_string());
        let scheme = match form {
            "pure" => EddsaSignatureScheme::Pure,
            "ctx" => EddsaSignatureScheme::Ed25519ctx(&c),
            "ph" => EddsaSignatureScheme::Ed25519ph(&c),
            f => panic!("{f}"),
        };
        let m = Mechanism::Eddsa(EddsaParams::new(scheme));
        let sig = s.sign(&m, private, &msg).expect("sign");
        assert_eq!(hx(&sig), hx(&want), "RFC 8032 vector {i} ({form})");
        s.verify(&m, public, &msg, &want).expect("verify");
        // Multi-part gives the same signature.
        s.sign_init(&m, private).expect("init");
        for part in msg.chunks(7) {
            s.sign_update(part).expect("update");
        }
        assert_eq!(s.sign_final().expect("final"), want);
        let mut bad = want.clone();
        bad[5] ^= 0x10;
        assert_eq!(
            rv(s.verify(&m, public, &msg, &bad)),
            RvError::SignatureInvalid
        );
        assert_eq!(
            rv(s.verify(&m, public, &msg, &want[..63])),
            RvError::SignatureLenRange
        );
        // Another form does not verify it.
        let other = Mechanism::Eddsa(EddsaParams::new(if form == "ph" {
            EddsaSignatureScheme::Pure
        } else {
            EddsaSignatureScheme::Ed25519ph(&c)
        }));
        assert_eq!(
            rv(s.verify(&other, public, &msg, &want)),
            RvError::SignatureInvalid
        );
    }
    assert_eq!(forms.len(), 3, "pure, ctx and ph vectors");
}

#[test]
fn wycheproof_x25519() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("asym-wycheproof-x25519.json");
    let (mut ok, mut refused) = (0, 0);
    for (i, t) in v["tests"].as_array().expect("tests").iter().enumerate() {
        let params = if i % 2 == 0 {
            h(X25519_OID)
        } else {
            name("curve25519")
        };
        let private = private_key(&s, KeyType::EC_MONTGOMERY, &params, &h(js(t, "private")))
            .expect("private");
        let public = h(js(t, "public"));
        let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &public));
        let r = s.derive_key(&m, private, &derive_template(Some(32)));
        let shared = js(t, "shared");
        let zero = shared.bytes().all(|b| b == b'0');
        match (js(t, "result"), r) {
            ("valid", r) => {
                let k = r.unwrap_or_else(|e| panic!("tcId {}: {e}", t["tcId"]));
                assert_eq!(hx(&value_of(&s, k)), shared, "tcId {}", t["tcId"]);
                ok += 1;
            }
            // A point of small order gives an all-zero secret: refused.
            (_, Err(_)) if zero => refused += 1,
            (_, Ok(_)) if zero => panic!("tcId {}: an all-zero secret was accepted", t["tcId"]),
            (_, Ok(k)) => assert_eq!(hx(&value_of(&s, k)), shared, "tcId {}", t["tcId"]),
            (_, Err(e)) => panic!("tcId {}: {e}", t["tcId"]),
        }
    }
    assert!(ok >= 30 && refused >= 1, "{ok} valid, {refused} refused");
}

/// Every generator, by OID and by name: the pair signs and verifies (or
/// derives), its attributes agree, and the private key wraps and unwraps.
#[test]
fn generated_pairs_of_every_curve() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let wrapping = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
            ],
        )
        .expect("wrapping key");
    let pub_t = |params: Vec<u8>| {
        vec![
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::Derive(true),
            Attribute::EcParams(params),
        ]
    };
    let priv_t = vec![
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Derive(true),
        Attribute::Extractable(true),
    ];
    let weierstrass: [(Vec<u8>, usize, CK_KEY_TYPE); 5] = [
        (h(P384_OID), 48, CKK_EC),
        (name("P-384"), 48, CKK_EC),
        (name("secp521r1"), 66, CKK_EC),
        (h(K256_OID), 32, CKK_EC),
        (name("prime256v1"), 32, CKK_EC),
    ];
    for (params, n, kt) in weierstrass {
        let (public, private) = s
            .generate_key_pair(&Mechanism::EccKeyPairGen, &pub_t(params.clone()), &priv_t)
            .expect("generate");
        for m in [
            Mechanism::EcdsaSha1,
            Mechanism::EcdsaSha224,
            Mechanism::EcdsaSha256,
            Mechanism::EcdsaSha384,
            Mechanism::EcdsaSha512,
        ] {
            let sig = s.sign(&m, private, b"round trip").expect("sign");
            assert_eq!(sig.len(), 2 * n);
            s.verify(&m, public, b"round trip", &sig).expect("verify");
        }
        let a = s
            .get_attributes(
                public,
                &[AttributeType::EcPoint, AttributeType::PublicKeyInfo],
            )
            .expect("attrs");
        let b = s
            .get_attributes(
                private,
                &[AttributeType::EcPoint, AttributeType::PublicKeyInfo],
            )
            .expect("attrs");
        assert_eq!(a, b);
        // Wrapped as PKCS#8 and unwrapped, the key signs for the same public key.
        let kwp = plain(CKM_AES_KEY_WRAP_KWP);
        let wrapped = raw.wrap_key(&s, &kwp, wrapping, private).expect("wrap");
        let back = raw
            .unwrap_private(&s, &kwp, wrapping, &wrapped, kt)
            .expect("unwrap");
        let sig = s.sign(&Mechanism::EcdsaSha256, back, b"x").expect("sign");
        s.verify(&Mechanism::EcdsaSha256, public, b"x", &sig)
            .expect("verify");
        let p = s
            .get_attributes(back, &[AttributeType::EcParams])
            .expect("params");
        assert!(matches!(&p[0], Attribute::EcParams(_)));
    }
    // Ed25519, by OID and by both names.
    for params in [h(ED25519_OID), name("edwards25519"), name("ed25519")] {
        let (public, private) = s
            .generate_key_pair(
                &Mechanism::EccEdwardsKeyPairGen,
                &pub_t(params.clone()),
                &priv_t,
            )
            .expect("generate");
        let a = s
            .get_attributes(
                public,
                &[
                    AttributeType::EcPoint,
                    AttributeType::EcParams,
                    AttributeType::KeyType,
                ],
            )
            .expect("attrs");
        let Attribute::EcPoint(point) = &a[0] else {
            panic!()
        };
        assert_eq!(point.len(), 32);
        assert_eq!(a[1], Attribute::EcParams(params.clone()));
        assert_eq!(a[2], Attribute::KeyType(KeyType::EC_EDWARDS));
        let m = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let sig = s.sign(&m, private, b"ed").expect("sign");
        s.verify(&m, public, b"ed", &sig).expect("verify");
        let kwp = plain(CKM_AES_KEY_WRAP_KWP);
        let wrapped = raw.wrap_key(&s, &kwp, wrapping, private).expect("wrap");
        let back = raw
            .unwrap_private(&s, &kwp, wrapping, &wrapped, CKK_EC_EDWARDS)
            .expect("unwrap");
        // Ed25519 is deterministic: the unwrapped key signs the same bytes.
        assert_eq!(s.sign(&m, back, b"ed").expect("sign"), sig);
    }
    // X25519: two pairs agree, with every KDF family.
    let pair = |params: Vec<u8>| {
        s.generate_key_pair(&Mechanism::EccMontgomeryKeyPairGen, &pub_t(params), &priv_t)
            .expect("generate")
    };
    let (a_pub, a_priv) = pair(h(X25519_OID));
    let (b_pub, b_priv) = pair(name("curve25519"));
    let point = |k| {
        let a = s
            .get_attributes(k, &[AttributeType::EcPoint])
            .expect("point");
        let Attribute::EcPoint(p) = &a[0] else {
            panic!()
        };
        p.clone()
    };
    let (pa, pb) = (point(a_pub), point(b_pub));
    assert_eq!(pa.len(), 32);
    for kdf in [
        EcKdf::null(),
        EcKdf::sha256(b"info"),
        EcKdf::sha512_sp800(b"info"),
        EcKdf::sha1_sp800(b""),
    ] {
        let len = Some(24);
        let ka = s
            .derive_key(
                &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(kdf, &pb)),
                a_priv,
                &derive_template(len),
            )
            .expect("derive a");
        let kb = s
            .derive_key(
                &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(kdf, &pa)),
                b_priv,
                &derive_template(len),
            )
            .expect("derive b");
        assert_eq!(value_of(&s, ka), value_of(&s, kb));
    }
    let kwp = plain(CKM_AES_KEY_WRAP_KWP);
    let wrapped = raw
        .wrap_key(&s, &kwp, wrapping, a_priv)
        .expect("wrap x25519");
    raw.unwrap_private(&s, &kwp, wrapping, &wrapped, CKK_EC_MONTGOMERY)
        .expect("unwrap x25519");
}

/// The errors of the standard: unsupported curves, wrong key types, secp256k1
/// derivation, bad `CK_EDDSA_PARAMS`, short buffers.
#[test]
fn curve_parameter_and_key_type_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let gen = |m: &Mechanism, params: Vec<u8>| {
        s.generate_key_pair(
            m,
            &[Attribute::Token(false), Attribute::EcParams(params)],
            &[Attribute::Token(false)],
        )
    };
    // Ed448 / X448 and curves of the wrong family.
    for p in [name("edwards448"), h("06032b6571"), h(P384_OID)] {
        assert_eq!(
            rv(gen(&Mechanism::EccEdwardsKeyPairGen, p)),
            RvError::CurveNotSupported
        );
    }
    for p in [name("curve448"), h("06032b656f"), name("edwards25519")] {
        assert_eq!(
            rv(gen(&Mechanism::EccMontgomeryKeyPairGen, p)),
            RvError::CurveNotSupported
        );
    }
    assert_eq!(
        rv(gen(&Mechanism::EccKeyPairGen, name("secp224r1"))),
        RvError::CurveNotSupported
    );
    assert_eq!(
        private_key(&s, KeyType::EC_EDWARDS, &name("edwards448"), &[1; 57]).err(),
        Some(RvError::CurveNotSupported)
    );
    // An Ed25519 seed is 32 bytes.
    assert_eq!(
        private_key(&s, KeyType::EC_EDWARDS, &h(ED25519_OID), &[1; 31]).err(),
        Some(RvError::AttributeValueInvalid)
    );

    // secp256k1 signs but does not derive.
    let (k_pub, k_priv) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(name("secp256k1")),
            ],
            &[Attribute::Token(false), Attribute::Derive(true)],
        )
        .expect("secp256k1");
    let p = s
        .get_attributes(k_pub, &[AttributeType::EcPoint])
        .expect("point");
    let Attribute::EcPoint(p) = &p[0] else {
        panic!()
    };
    let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), p));
    assert_eq!(
        rv(s.derive_key(&m, k_priv, &derive_template(Some(32)))),
        RvError::KeyTypeInconsistent
    );

    // Wrong key types, both ways.
    let (e_pub, e_priv) = s
        .generate_key_pair(
            &Mechanism::EccEdwardsKeyPairGen,
            &[Attribute::Token(false), Attribute::EcParams(h(ED25519_OID))],
            &[Attribute::Token(false), Attribute::Derive(true)],
        )
        .expect("ed25519");
    let eddsa = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
    assert_eq!(
        rv(s.sign(&eddsa, k_priv, b"x")),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.sign(&Mechanism::EcdsaSha256, e_priv, b"x")),
        RvError::KeyTypeInconsistent
    );
    let ep = s
        .get_attributes(e_pub, &[AttributeType::EcPoint])
        .expect("point");
    let Attribute::EcPoint(ep) = &ep[0] else {
        panic!()
    };
    let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), ep));
    assert_eq!(
        rv(s.derive_key(&m, e_priv, &derive_template(Some(32)))),
        RvError::KeyTypeInconsistent
    );

    // CK_EDDSA_PARAMS: a context over 255 bytes, a struct of the wrong size.
    let long = [7u8; 256];
    let m = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed25519ctx(&long)));
    assert_eq!(rv(s.sign(&m, e_priv, b"x")), RvError::MechanismParamInvalid);
    let short: CK_ULONG = 1;
    assert_eq!(
        raw.sign_init(&s, &mech(CKM_EDDSA, Some(&short)), e_priv),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    let params = CK_EDDSA_PARAMS {
        phFlag: CK_FALSE,
        ulContextDataLen: 4,
        pContextData: std::ptr::null_mut(),
    };
    assert_eq!(
        raw.sign_init(&s, &mech(CKM_EDDSA, Some(&params)), e_priv),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );

    // Buffers: a size query, a short buffer (the operation lives on), then the signature.
    raw.sign_init(&s, &plain(CKM_EDDSA), e_priv).expect("init");
    let (r, n, _) = raw.sign_into(&s, b"x", 10);
    assert_eq!((r, n), (CKR_BUFFER_TOO_SMALL, 64));
    let (r, n, sig) = raw.sign_into(&s, b"x", 64);
    assert_eq!((r, n), (CKR_OK, 64));
    s.verify(&eddsa, e_pub, b"x", &sig).expect("verify");
    let (p5_pub, p5_priv) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(false), Attribute::EcParams(h(P521_OID))],
            &[Attribute::Token(false)],
        )
        .expect("p521");
    raw.sign_init(&s, &plain(CKM_ECDSA_SHA512), p5_priv)
        .expect("init");
    let (r, n, _) = raw.sign_into(&s, b"x", 131);
    assert_eq!((r, n), (CKR_BUFFER_TOO_SMALL, 132));
    let (r, _, sig) = raw.sign_into(&s, b"x", 200);
    assert_eq!(r, CKR_OK);
    s.verify(&Mechanism::EcdsaSha512, p5_pub, b"x", &sig)
        .expect("verify");
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha512, p5_pub, b"x", &sig[..64])),
        RvError::SignatureLenRange
    );

    // The mechanism list and sizes.
    let info = raw
        .mechanism_info(ctx.slot(0).id(), CKM_ECDSA)
        .expect("info");
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (256, 521));
    let info = raw
        .mechanism_info(ctx.slot(0).id(), CKM_EDDSA)
        .expect("info");
    assert_ne!(info.flags & CKF_SIGN, 0);
}
