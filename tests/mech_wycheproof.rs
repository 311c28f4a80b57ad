//! Wycheproof subsets (C2SP/wycheproof `testvectors_v1`) through the built
//! module, for the mechanisms the other `mech_*` files cover only with
//! known answers: AES-KW and AES-KWP through C_UnwrapKey/C_WrapKey
//! (PKCS#11 3.0 §2.14), AES-CMAC and CMAC-GENERAL through C_Sign/C_Verify
//! (§2.11), RSASSA-PSS verification with SHA-256/MGF1-SHA-256/sLen 32 and
//! RSAES-OAEP decryption with SHA-256/MGF1-SHA-256 (§2.1).
//!
//! Each loop counts its cases; a test asserts that every `valid` case passes,
//! every `invalid` case is refused with the return value the standard names,
//! and that `acceptable` cases (Wycheproof's "either is fine") are consistent
//! when accepted. The vector files keep Wycheproof's tcId, so a failure names
//! the published case.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

/// Counts of one vector file's cases.
#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    skipped: usize,
    extra: usize,
}

fn tests_of(v: &serde_json::Value) -> &Vec<serde_json::Value> {
    v["tests"].as_array().expect("tests")
}

/// A generic secret holding `value`, extractable, allowed to be wrapped.
fn secret(s: &Session, value: &[u8]) -> Result<ObjectHandle, RvError> {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ])
    .map_err(|e| match e {
        cryptoki::error::Error::Pkcs11(rv, _) => rv,
        other => panic!("create: {other}"),
    })
}

/// KW or KWP: unwrap every case, wrap the valid ones.
fn key_wrap_file(file: &str, ty: CK_MECHANISM_TYPE) -> Tally {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let m = plain(ty);
    let v = json(file);
    let mut n = Tally::default();
    for t in tests_of(&v) {
        let id = &t["tcId"];
        let (key, msg, ct) = (h(js(t, "key")), h(js(t, "msg")), h(js(t, "ct")));
        let kek = aes_key(&s, &key);
        let unwrapped = raw.unwrap_secret(&s, &m, kek, &ct, CKK_GENERIC_SECRET);
        match js(t, "result") {
            "valid" => {
                let k = unwrapped.unwrap_or_else(|e| panic!("{file} tcId {id}: unwrap rv {e:#x}"));
                assert_eq!(
                    hx(&value_of(&s, k)),
                    hx(&msg),
                    "{file} tcId {id}: unwrapped value"
                );
                // Wrapping is deterministic: the same key gives the vector's ciphertext.
                let plainkey = secret(&s, &msg).expect("import the plain key");
                let w = raw
                    .wrap_key(&s, &m, kek, plainkey)
                    .unwrap_or_else(|e| panic!("{file} tcId {id}: wrap rv {e:#x}"));
                assert_eq!(hx(&w), hx(&ct), "{file} tcId {id}: wrapped");
                n.valid += 1;
            }
            "acceptable" => {
                if let Ok(k) = unwrapped {
                    assert_eq!(
                        value_of(&s, k),
                        msg,
                        "{file} tcId {id}: accepted, wrong value"
                    );
                }
                n.acceptable += 1;
            }
            _ => {
                let e = unwrapped.expect_err(&format!("{file} tcId {id}: invalid ct unwrapped"));
                assert!(
                    e == CKR_WRAPPED_KEY_INVALID || e == CKR_WRAPPED_KEY_LEN_RANGE,
                    "{file} tcId {id}: rv {e:#x}"
                );
                // A key of a size the mode cannot wrap is refused when wrapping too.
                if ct.is_empty() && !msg.is_empty() {
                    if let Ok(k) = secret(&s, &msg) {
                        let r = raw.wrap_key(&s, &m, kek, k);
                        assert!(
                            r.is_err(),
                            "{file} tcId {id}: wrapped a {}-byte key",
                            msg.len()
                        );
                        n.extra += 1;
                    }
                }
                n.invalid += 1;
            }
        }
    }
    n
}

#[test]
fn wycheproof_aes_kw() {
    let n = key_wrap_file("so-wycheproof-aes-kw.json", CKM_AES_KEY_WRAP);
    eprintln!("aes_kw: {n:?}");
    assert_eq!(n.valid + n.invalid + n.acceptable, 72, "{n:?}");
    assert!(n.valid >= 20 && n.invalid >= 40, "{n:?}");
}

#[test]
fn wycheproof_aes_kwp() {
    let n = key_wrap_file("so-wycheproof-aes-kwp.json", CKM_AES_KEY_WRAP_KWP);
    eprintln!("aes_kwp: {n:?}");
    assert_eq!(n.valid + n.invalid + n.acceptable, 62, "{n:?}");
    assert!(n.valid >= 30 && n.invalid >= 30, "{n:?}");
}

#[test]
fn wycheproof_aes_cmac() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let v = json("so-wycheproof-aes-cmac.json");
    let full = plain(CKM_AES_CMAC);
    let eight: CK_ULONG = 8;
    let general = mech(CKM_AES_CMAC_GENERAL, Some(&eight));
    let mut n = Tally::default();
    for t in tests_of(&v) {
        let id = &t["tcId"];
        let (key, msg, tag) = (h(js(t, "key")), h(js(t, "msg")), h(js(t, "tag")));
        if ![16, 24, 32].contains(&key.len()) {
            // Not an AES key size: the key cannot be made, or cannot be used.
            assert_eq!(js(t, "result"), "invalid");
            let made = s.create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Value(key.clone()),
                Attribute::Token(false),
                Attribute::Sign(true),
            ]);
            if let Ok(k) = made {
                let e = raw
                    .sign_init(&s, &full, k)
                    .expect_err("CMAC with a bad key size");
                assert_eq!(e, CKR_KEY_SIZE_RANGE, "tcId {id}");
            }
            n.skipped += 1;
            continue;
        }
        let k = aes_key(&s, &key);
        if js(t, "result") == "valid" {
            assert_eq!(
                hx(&raw.sign(&s, &full, k, &msg).expect("sign")),
                hx(&tag),
                "tcId {id}: tag"
            );
            raw.verify(&s, &full, k, &msg, &tag)
                .unwrap_or_else(|e| panic!("tcId {id}: verify rv {e:#x}"));
            // CMAC-GENERAL: the leftmost bytes (SP 800-38B §6.2 MSB_Tlen).
            assert_eq!(raw.sign(&s, &general, k, &msg).expect("sign 8"), tag[..8]);
            raw.verify(&s, &general, k, &msg, &tag[..8])
                .unwrap_or_else(|e| panic!("tcId {id}: verify 8 rv {e:#x}"));
            let mut bad = tag[..8].to_vec();
            bad[7] ^= 1;
            assert_eq!(
                raw.verify(&s, &general, k, &msg, &bad),
                Err(CKR_SIGNATURE_INVALID),
                "tcId {id}: truncated tag with a flipped bit"
            );
            // The full tag is the wrong length for an 8-byte CMAC-GENERAL.
            assert_eq!(
                raw.verify(&s, &general, k, &msg, &tag),
                Err(CKR_SIGNATURE_LEN_RANGE),
                "tcId {id}: 16-byte tag for an 8-byte MAC"
            );
            n.extra += 1;
            n.valid += 1;
        } else {
            assert_eq!(
                raw.verify(&s, &full, k, &msg, &tag),
                Err(CKR_SIGNATURE_INVALID),
                "tcId {id}: modified tag"
            );
            n.invalid += 1;
        }
    }
    eprintln!("aes_cmac: {n:?}");
    assert_eq!(n.valid + n.invalid + n.skipped, 70, "{n:?}");
    assert!(n.valid >= 25 && n.invalid >= 35 && n.skipped == 5, "{n:?}");
}

#[test]
fn wycheproof_rsa_pss_2048_sha256() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let v = json("so-wycheproof-rsa-pss-2048-sha256.json");
    assert_eq!(v["sLen"], 32);
    let k = &v["publicKey"];
    let public = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::Modulus(strip(h(js(k, "modulus")))),
            Attribute::PublicExponent(h(js(k, "publicExponent"))),
        ])
        .expect("public key");
    let params = PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    };
    let m = Mechanism::Sha256RsaPkcsPss(params);
    let raw_pss = Mechanism::RsaPkcsPss(params);
    let mut n = Tally::default();
    for t in tests_of(&v) {
        let id = &t["tcId"];
        let (msg, sig) = (h(js(t, "msg")), h(js(t, "sig")));
        let r = s.verify(&m, public, &msg, &sig);
        // The same check on a digest made by the module (CKM_RSA_PKCS_PSS).
        let digest = raw.digest(&s, &plain(CKM_SHA256), &msg).expect("digest");
        let r2 = s.verify(&raw_pss, public, &digest, &sig);
        match js(t, "result") {
            "valid" => {
                r.unwrap_or_else(|e| panic!("tcId {id}: {e}"));
                r2.unwrap_or_else(|e| panic!("tcId {id} (CKM_RSA_PKCS_PSS): {e}"));
                n.valid += 1;
            }
            "acceptable" => {
                assert_eq!(r.is_ok(), r2.is_ok(), "tcId {id}");
                n.acceptable += 1;
            }
            _ => {
                assert!(
                    r.is_err() && r2.is_err(),
                    "tcId {id}: invalid signature accepted"
                );
                for (e, which) in [(rv(r), "SHA256_RSA_PKCS_PSS"), (rv(r2), "RSA_PKCS_PSS")] {
                    assert!(
                        matches!(e, RvError::SignatureInvalid | RvError::SignatureLenRange),
                        "tcId {id} ({which}): {e:?}"
                    );
                }
                n.invalid += 1;
            }
        }
    }
    eprintln!("rsa_pss: {n:?}");
    assert_eq!(n.valid + n.invalid + n.acceptable, 30, "{n:?}");
    assert!(n.valid >= 15 && n.invalid >= 15, "{n:?}");
}

#[test]
fn wycheproof_rsa_oaep_2048_sha256() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("so-wycheproof-rsa-oaep-2048-sha256.json");
    let k = &v["privateKey"];
    let private = s
        .create_object(&rsa_private_template(k, &[Attribute::Decrypt(true)]))
        .expect("import RSA private key");
    let mut n = Tally::default();
    for t in tests_of(&v) {
        let id = &t["tcId"];
        let (msg, ct, label) = (h(js(t, "msg")), h(js(t, "ct")), h(js(t, "label")));
        let src = if label.is_empty() {
            PkcsOaepSource::empty()
        } else {
            PkcsOaepSource::data_specified(&label)
        };
        let m = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            src,
        ));
        let r = s.decrypt(&m, private, &ct);
        match js(t, "result") {
            "valid" => {
                let out = r.unwrap_or_else(|e| panic!("tcId {id}: {e}"));
                assert_eq!(hx(&out), hx(&msg), "tcId {id}");
                n.valid += 1;
            }
            "acceptable" => {
                if let Ok(out) = r {
                    assert_eq!(out, msg, "tcId {id}");
                }
                n.acceptable += 1;
            }
            _ => {
                assert!(r.is_err(), "tcId {id}: invalid ciphertext decrypted");
                let e = rv(r);
                assert!(
                    matches!(
                        e,
                        RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange
                    ),
                    "tcId {id}: {e:?}"
                );
                n.invalid += 1;
            }
        }
    }
    eprintln!("rsa_oaep: {n:?}");
    assert_eq!(n.valid + n.invalid + n.acceptable, 27, "{n:?}");
    assert!(n.valid >= 13 && n.invalid >= 14, "{n:?}");
}
