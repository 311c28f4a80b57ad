//! Elliptic curves (PKCS#11 3.0 §2.3) through the built module, P-256:
//! Wycheproof ECDSA verification, RFC 6979 deterministic signatures with an
//! imported key, ECDH1 derivation against the Wycheproof ECDH subset, and the
//! attributes of a generated key pair.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use mech_common::*;

/// DER of the P-256 named curve OID (CKA_EC_PARAMS).
const P256: &str = "06082a8648ce3d030107";

/// The point as CKA_EC_POINT holds it: a DER OCTET STRING.
fn octet(point: &[u8]) -> Vec<u8> {
    [
        vec![0x04, u8::try_from(point.len()).expect("len")],
        point.to_vec(),
    ]
    .concat()
}

fn ec_public(s: &Session, point: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::Token(false),
        Attribute::Verify(true),
        Attribute::EcParams(h(P256)),
        Attribute::EcPoint(octet(point)),
    ])
    .expect("EC public key")
}

fn ec_private(s: &Session, d: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Derive(true),
        Attribute::EcParams(h(P256)),
        Attribute::Value(d.to_vec()),
    ])
    .expect("EC private key")
}

#[test]
fn wycheproof_ecdsa_verify() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("asym-wycheproof-ecdsa-p256-sha256.json");
    let public = ec_public(&s, &h(js(&v, "publicKey")));
    let (mut ok, mut bad) = (0, 0);
    for t in v["tests"].as_array().expect("tests") {
        let (msg, sig) = (h(js(t, "msg")), h(js(t, "sig")));
        let r = s.verify(&Mechanism::EcdsaSha256, public, &msg, &sig);
        if js(t, "result") == "valid" {
            r.unwrap_or_else(|e| panic!("tcId {}: {e}", t["tcId"]));
            // CKM_ECDSA over the SHA-256 digest: the same answer.
            let d = s.digest(&Mechanism::Sha256, &msg).expect("digest");
            s.verify(&Mechanism::Ecdsa, public, &d, &sig)
                .expect("raw ECDSA verify");
            ok += 1;
        } else {
            let e = rv(r);
            assert!(
                matches!(e, RvError::SignatureInvalid | RvError::SignatureLenRange),
                "tcId {}: {e:?}",
                t["tcId"]
            );
            bad += 1;
        }
    }
    assert!(ok >= 1 && bad >= 5, "{ok} valid, {bad} invalid");
}

#[test]
fn rfc6979_deterministic_signatures() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    for r in table("so-ecdsa-p256-rfc6979.txt") {
        let (d, q, msg, want) = (h(&r[0]), h(&r[1]), h(&r[2]), h(&r[3]));
        let private = ec_private(&s, &d);
        let public = ec_public(&s, &q);
        let sig = s
            .sign(&Mechanism::EcdsaSha256, private, &msg)
            .expect("sign");
        // The pure-Rust build signs per RFC 6979; the aws-lc build uses hedged
        // random nonces, so there each signature is checked with the RFC's
        // public key instead (and two signatures must differ).
        let exact = !cfg!(feature = "aws-lc");
        if exact {
            assert_eq!(hx(&sig), hx(&want), "RFC 6979 {}", r[2]);
        }
        s.verify(&Mechanism::EcdsaSha256, public, &msg, &sig)
            .expect("verify");
        s.verify(&Mechanism::EcdsaSha256, public, &msg, &want)
            .expect("verify the RFC's signature");
        // Multi-part gives the same signature (a valid one, with aws-lc).
        s.sign_init(&Mechanism::EcdsaSha256, private).expect("init");
        for c in msg.chunks(1) {
            s.sign_update(c).expect("update");
        }
        let multi = s.sign_final().expect("final");
        if exact {
            assert_eq!(multi, want);
        } else {
            assert_ne!(multi, sig, "random nonces");
            s.verify(&Mechanism::EcdsaSha256, public, &msg, &multi)
                .expect("verify multi-part");
        }
        let mut bad = want.clone();
        bad[10] ^= 1;
        assert_eq!(
            rv(s.verify(&Mechanism::EcdsaSha256, public, &msg, &bad)),
            RvError::SignatureInvalid
        );
        assert_eq!(
            rv(s.verify(&Mechanism::EcdsaSha256, public, &msg, &want[..63])),
            RvError::SignatureLenRange
        );
        // The private key reports its public point.
        let attrs = s
            .get_attributes(private, &[AttributeType::EcPoint])
            .expect("point");
        assert_eq!(attrs, vec![Attribute::EcPoint(octet(&q))]);
    }
}

#[test]
fn wycheproof_ecdh_derive() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("asym-wycheproof-ecdh-p256.json");
    let mut n = 0;
    for t in v["tests"].as_array().expect("tests") {
        let private = ec_private(&s, &h(js(t, "private")));
        let public = h(js(t, "public"));
        let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &public));
        let tmpl = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::ValueLen(32.into()),
        ];
        let r = s.derive_key(&m, private, &tmpl);
        match js(t, "result") {
            "valid" => {
                let k = r.unwrap_or_else(|e| panic!("tcId {}: {e}", t["tcId"]));
                assert_eq!(hx(&value_of(&s, k)), js(t, "shared"), "tcId {}", t["tcId"]);
                let a = s.get_attributes(k, &[AttributeType::Local]).expect("local");
                assert_eq!(
                    a,
                    vec![Attribute::Local(false)],
                    "derived keys are not local"
                );
                n += 1;
            }
            // A compressed point: either supported with the right answer or refused.
            "acceptable" => {
                if let Ok(k) = r {
                    assert_eq!(hx(&value_of(&s, k)), js(t, "shared"));
                }
            }
            _ => assert!(
                r.is_err(),
                "tcId {}: a point off the curve must fail",
                t["tcId"]
            ),
        }
    }
    assert!(n >= 8);
}

#[test]
fn generated_pair_attributes() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(h(P256)),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(false),
                Attribute::Sign(true),
                Attribute::Derive(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ],
        )
        .expect("generate P-256");
    let pa = s
        .get_attributes(
            public,
            &[
                AttributeType::EcParams,
                AttributeType::EcPoint,
                AttributeType::Local,
                AttributeType::KeyGenMechanism,
            ],
        )
        .expect("public attrs");
    assert_eq!(pa[0], Attribute::EcParams(h(P256)));
    match &pa[1] {
        Attribute::EcPoint(p) => {
            assert_eq!(p.len(), 67, "OCTET STRING of a 65-byte point");
            assert_eq!(&p[..3], &[0x04, 0x41, 0x04]);
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(pa[2], Attribute::Local(true));
    assert_eq!(
        pa[3],
        Attribute::KeyGenMechanism(MechanismType::ECC_KEY_PAIR_GEN)
    );
    let qa = s
        .get_attributes(
            private,
            &[
                AttributeType::EcParams,
                AttributeType::Local,
                AttributeType::KeyGenMechanism,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .expect("private attrs");
    assert_eq!(
        qa,
        vec![
            Attribute::EcParams(h(P256)),
            Attribute::Local(true),
            Attribute::KeyGenMechanism(MechanismType::ECC_KEY_PAIR_GEN),
            Attribute::AlwaysSensitive(true),
            Attribute::NeverExtractable(true),
        ]
    );
    // The value of a sensitive key is not readable.
    if let Ok(v) = s.get_attributes(private, &[AttributeType::Value]) {
        assert!(!v.iter().any(|a| matches!(a, Attribute::Value(_))), "{v:?}");
    }
    let sig = s
        .sign(&Mechanism::EcdsaSha256, private, b"m")
        .expect("sign");
    assert_eq!(sig.len(), 64);
    s.verify(&Mechanism::EcdsaSha256, public, b"m", &sig)
        .expect("verify");
    // ECDH between two generated pairs agrees.
    let (pub2, priv2) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(false), Attribute::EcParams(h(P256))],
            &[Attribute::Token(false), Attribute::Derive(true)],
        )
        .expect("second pair");
    let point = |k| match s
        .get_attributes(k, &[AttributeType::EcPoint])
        .expect("p")
        .pop()
    {
        Some(Attribute::EcPoint(p)) => p[2..].to_vec(),
        o => panic!("{o:?}"),
    };
    let (p1, p2) = (point(public), point(pub2));
    let tmpl = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::ValueLen(32.into()),
    ];
    let a = s
        .derive_key(
            &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &p2)),
            private,
            &tmpl,
        )
        .expect("a");
    let b = s
        .derive_key(
            &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &p1)),
            priv2,
            &tmpl,
        )
        .expect("b");
    assert_eq!(value_of(&s, a), value_of(&s, b));
}
