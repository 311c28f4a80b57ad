//! RSA (PKCS#11 3.0 §2.1) through the built module: a Wycheproof key imported
//! with C_CreateObject, PKCS#1 v1.5 decryption (Wycheproof) and signature
//! known answers (made by OpenSSL), PSS and OAEP answers made elsewhere,
//! Wycheproof signature verification, round trips checked by a second
//! mechanism, key-pair generation, wrapping an AES key with RSA-PKCS, OAEP
//! and CKM_RSA_AES_KEY_WRAP, and a private key wrapped as PKCS#8 under AES-KWP.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

/// The Wycheproof RSA-2048 key: (private, public) handles.
fn import_key(s: &Session) -> (ObjectHandle, ObjectHandle) {
    let v = json("so-wycheproof-rsa-pkcs1-2048-decrypt.json");
    let k = &v["privateKey"];
    let f = |n: &str| strip(h(js(k, n)));
    let usage = [
        Attribute::Extractable(true),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
        Attribute::Unwrap(true),
    ];
    let private = s
        .create_object(&rsa_private_template(k, &usage))
        .expect("import RSA private key");
    let public = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
            Attribute::Modulus(f("modulus")),
            Attribute::PublicExponent(f("publicExponent")),
        ])
        .expect("import RSA public key");
    (private, public)
}

fn hash_of(name: &str) -> (MechanismType, PkcsMgfType, usize) {
    match name {
        "SHA_1" => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1, 20),
        "SHA224" => (MechanismType::SHA224, PkcsMgfType::MGF1_SHA224, 28),
        "SHA256" => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32),
        "SHA384" => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 48),
        "SHA512" => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64),
        o => panic!("{o}"),
    }
}

fn sig_mech(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "SHA_1" => CKM_SHA1_RSA_PKCS,
        "SHA224" => CKM_SHA224_RSA_PKCS,
        "SHA256" => CKM_SHA256_RSA_PKCS,
        "SHA384" => CKM_SHA384_RSA_PKCS,
        "SHA512" => CKM_SHA512_RSA_PKCS,
        o => panic!("{o}"),
    }
}

fn pss_mech(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "SHA_1" => CKM_SHA1_RSA_PKCS_PSS,
        "SHA224" => CKM_SHA224_RSA_PKCS_PSS,
        "SHA256" => CKM_SHA256_RSA_PKCS_PSS,
        "SHA384" => CKM_SHA384_RSA_PKCS_PSS,
        "SHA512" => CKM_SHA512_RSA_PKCS_PSS,
        o => panic!("{o}"),
    }
}

#[test]
fn imported_key_known_answers() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let (private, public) = import_key(&s);
    // Wycheproof RSAES-PKCS1-v1_5 decryption.
    let v = json("so-wycheproof-rsa-pkcs1-2048-decrypt.json");
    for t in v["tests"].as_array().expect("tests") {
        let pt = s
            .decrypt(&Mechanism::RsaPkcs, private, &h(js(t, "ct")))
            .expect("decrypt");
        assert_eq!(pt, h(js(t, "msg")), "tcId {}", t["tcId"]);
    }
    let (mut sigs, mut pss, mut oaep) = (0, 0, 0);
    for r in table("so-rsa-2048.txt") {
        match r[0].as_str() {
            "SIG" => {
                let (msg, want) = (hd(&r[2]), h(&r[3]));
                let m = plain(sig_mech(&r[1]));
                assert_eq!(
                    raw.sign(&s, &m, private, &msg).expect("sign"),
                    want,
                    "{} {}",
                    r[1],
                    r[2]
                );
                raw.verify(&s, &m, public, &msg, &want).expect("verify");
                let mut bad = want.clone();
                bad[100] ^= 1;
                assert_eq!(
                    raw.verify(&s, &m, public, &msg, &bad),
                    Err(CKR_SIGNATURE_INVALID)
                );
                assert_eq!(
                    raw.verify(&s, &m, public, &msg, &want[1..]),
                    Err(CKR_SIGNATURE_LEN_RANGE)
                );
                sigs += 1;
            }
            "PSS" => {
                let (msg, sig) = (h(&r[2]), h(&r[3]));
                let (hash, mgf, n) = hash_of(&r[1]);
                let p = CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: *hash,
                    mgf: *mgf,
                    sLen: n as CK_ULONG,
                };
                let m = mech(pss_mech(&r[1]), Some(&p));
                raw.verify(&s, &m, public, &msg, &sig).expect("verify PSS");
                // Our own PSS signature verifies through CKM_RSA_PKCS_PSS over the digest.
                let mine = raw.sign(&s, &m, private, &msg).expect("sign PSS");
                let digest = raw.digest(&s, &plain(*hash), &msg).expect("digest");
                let m2 = mech(CKM_RSA_PKCS_PSS, Some(&p));
                raw.verify(&s, &m2, public, &digest, &mine)
                    .expect("verify by CKM_RSA_PKCS_PSS");
                let mut bad = mine.clone();
                bad[0] ^= 0x40;
                assert_eq!(
                    raw.verify(&s, &m, public, &msg, &bad),
                    Err(CKR_SIGNATURE_INVALID)
                );
                pss += 1;
            }
            "OAEP" => {
                let (label, msg, ct) = (hd(&r[2]), h(&r[3]), h(&r[4]));
                let (hash, mgf, _) = hash_of(&r[1]);
                let src = if label.is_empty() {
                    PkcsOaepSource::empty()
                } else {
                    PkcsOaepSource::data_specified(&label)
                };
                let m = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, src));
                assert_eq!(s.decrypt(&m, private, &ct).expect("OAEP decrypt"), msg);
                let again = s.encrypt(&m, public, &msg).expect("OAEP encrypt");
                assert_ne!(again, ct, "OAEP is randomized");
                assert_eq!(s.decrypt(&m, private, &again).expect("decrypt"), msg);
                let mut bad = ct.clone();
                bad[5] ^= 1;
                assert!(s.decrypt(&m, private, &bad).is_err());
                oaep += 1;
            }
            o => panic!("{o}"),
        }
    }
    assert_eq!((sigs, pss, oaep), (15, 5, 4));
    // CKM_RSA_PKCS sign of a DigestInfo equals CKM_SHA256_RSA_PKCS.
    let di = [
        h("3031300d060960864801650304020105000420"),
        raw.digest(&s, &plain(CKM_SHA256), b"abc").expect("d"),
    ]
    .concat();
    assert_eq!(
        s.sign(&Mechanism::RsaPkcs, private, &di).expect("sign"),
        s.sign(&Mechanism::Sha256RsaPkcs, private, b"abc")
            .expect("sign")
    );
}

#[test]
fn wycheproof_pkcs1_verify() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("asym-wycheproof-rsa-pkcs1-2048-sha256.json");
    let public = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::Modulus(strip(h(js(&v, "modulus")))),
            Attribute::PublicExponent(h(js(&v, "publicExponent"))),
        ])
        .expect("public key");
    let (mut ok, mut bad) = (0, 0);
    for t in v["tests"].as_array().expect("tests") {
        let r = s.verify(
            &Mechanism::Sha256RsaPkcs,
            public,
            &h(js(t, "msg")),
            &h(js(t, "sig")),
        );
        if js(t, "result") == "valid" {
            r.unwrap_or_else(|e| panic!("tcId {}: {e}", t["tcId"]));
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
    assert!(ok >= 1 && ok + bad >= 10, "{ok} valid, {bad} invalid");
}

fn gen_pair(s: &Session) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
        ],
        &[
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
            Attribute::Unwrap(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
        ],
    )
    .expect("generate RSA-2048")
}

#[test]
fn generated_pair_and_key_wrapping() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let (public, private) = gen_pair(&s);
    let attrs = s
        .get_attributes(
            private,
            &[AttributeType::Local, AttributeType::KeyGenMechanism],
        )
        .expect("attrs");
    assert!(attrs.contains(&Attribute::Local(true)), "{attrs:?}");
    assert!(
        attrs.contains(&Attribute::KeyGenMechanism(
            MechanismType::RSA_PKCS_KEY_PAIR_GEN
        )),
        "{attrs:?}"
    );
    match &s
        .get_attributes(public, &[AttributeType::Modulus])
        .expect("n")[0]
    {
        Attribute::Modulus(n) => assert_eq!(n.len(), 256),
        o => panic!("{o:?}"),
    }
    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, private, b"msg")
        .expect("sign");
    s.verify(&Mechanism::Sha256RsaPkcs, public, b"msg", &sig)
        .expect("verify");
    let pss = PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    };
    let sig = s
        .sign(&Mechanism::Sha256RsaPkcsPss(pss), private, b"msg")
        .expect("pss");
    s.verify(&Mechanism::Sha256RsaPkcsPss(pss), public, b"msg", &sig)
        .expect("pss verify");

    // An AES key wrapped by RSA-PKCS, RSA-OAEP and CKM_RSA_AES_KEY_WRAP comes back with its value.
    let aes_value = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let aes = secret_key(
        &s,
        KeyType::AES,
        &aes_value,
        &[Attribute::Extractable(true), Attribute::Sensitive(false)],
    );
    let tmpl = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Extractable(true),
        Attribute::Sensitive(false),
        Attribute::Encrypt(true),
    ];
    let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ));
    for m in [Mechanism::RsaPkcs, oaep] {
        let w = s.wrap_key(&m, public, aes).expect("wrap");
        assert_eq!(w.len(), 256);
        let u = s.unwrap_key(&m, private, &w, &tmpl).expect("unwrap");
        assert_eq!(value_of(&s, u), aes_value);
        let attrs = s.get_attributes(u, &[AttributeType::Local]).expect("local");
        assert_eq!(
            attrs,
            vec![Attribute::Local(false)],
            "unwrapped keys are not local"
        );
    }
    let mut op = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: std::ptr::null_mut(),
        ulSourceDataLen: 0,
    };
    let kw = CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: 256,
        pOAEPParams: &mut op,
    };
    let m = mech(CKM_RSA_AES_KEY_WRAP, Some(&kw));
    let w = raw.wrap_key(&s, &m, public, aes).expect("RSA AES key wrap");
    assert_eq!(w.len(), 256 + 40, "OAEP block, then KWP of a 32-byte key");
    let u = raw
        .unwrap_secret(&s, &m, private, &w, CKK_AES)
        .expect("unwrap");
    assert_eq!(value_of(&s, u), aes_value);
    let mut bad = w.clone();
    bad[300 - 5] ^= 1;
    assert!(raw.unwrap_secret(&s, &m, private, &bad, CKK_AES).is_err());
}

#[test]
fn pkcs8_private_key_under_kwp() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let (private, public) = import_key(&s);
    let kek = aes_key(&s, &[0x42; 32]);
    let m = plain(CKM_AES_KEY_WRAP_KWP);
    let wrapped = raw
        .wrap_key(&s, &m, kek, private)
        .expect("wrap private key");
    // KWP output is a multiple of 8, longer than an RSA-2048 PKCS#8 (~1.2 KB).
    assert!(
        wrapped.len() > 1100 && wrapped.len().is_multiple_of(8),
        "{}",
        wrapped.len()
    );
    let d = raw
        .decrypt(&s, &m, kek, &wrapped)
        .expect("KWP decrypt of the wrapping");
    assert_eq!(d[0], 0x30, "PKCS#8 is a DER SEQUENCE");
    // cryptoki 0.12 has no CKM_AES_KEY_WRAP_KWP: unwrap through the raw path.
    let u = unwrap_private(&raw, &s, kek, &wrapped);
    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, u, b"pkcs8")
        .expect("sign with unwrapped key");
    s.verify(&Mechanism::Sha256RsaPkcs, public, b"pkcs8", &sig)
        .expect("verify with the original public key");
    assert_eq!(
        sig,
        s.sign(&Mechanism::Sha256RsaPkcs, private, b"pkcs8")
            .expect("sign")
    );
    let attrs = s
        .get_attributes(u, &[AttributeType::Local, AttributeType::Modulus])
        .expect("attrs");
    assert!(attrs.contains(&Attribute::Local(false)), "{attrs:?}");
}

fn unwrap_private(raw: &Raw, s: &Session, kek: ObjectHandle, wrapped: &[u8]) -> ObjectHandle {
    raw.unwrap_private(s, &plain(CKM_AES_KEY_WRAP_KWP), kek, wrapped, CKK_RSA)
        .expect("unwrap PKCS#8")
}
