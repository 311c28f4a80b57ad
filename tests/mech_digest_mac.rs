//! Digests (PKCS#11 3.0 §2.16–2.19, SHA-3 §6.x), HMAC (§2.20–2.25) and AES-CMAC
//! (§2.11.3) through the built module: published vectors from
//! `tests/vectors/so-digest.txt` and `so-mac.txt`, one loop per table, single
//! and multi-part, `C_DigestKey`, and the verification errors.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::KeyType;
use cryptoki_sys::*;
use mech_common::*;

#[test]
fn digest_vectors_single_and_multi_part() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let rows = table("so-digest.txt");
    assert!(rows.len() >= 32);
    for r in &rows {
        let (m, msg, want) = (plain(ckm(&r[0])), h(&r[1]), h(&r[2]));
        assert_eq!(
            raw.digest(&s, &m, &msg).expect("digest"),
            want,
            "{} {}",
            r[0],
            r[1]
        );
        for n in [1, 3, 64] {
            raw.digest_init(&s, &m).expect("init");
            for c in msg.chunks(n) {
                raw.digest_update(&s, c).expect("update");
            }
            assert_eq!(
                raw.digest_final(&s).expect("final"),
                want,
                "{} multi {n}",
                r[0]
            );
        }
    }
    // The typed cryptoki API agrees on the SHA-2 rows.
    let abc = b"abc";
    let d = s.digest(&Mechanism::Sha256, abc).expect("digest");
    assert_eq!(
        hx(&d),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn digest_key_hashes_the_key_value() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let rows = table("so-digest.txt");
    // C_DigestKey on a secret key whose value is the message: same digest as the data.
    for r in rows.iter().filter(|r| !r[1].is_empty()) {
        let (m, msg, want) = (plain(ckm(&r[0])), h(&r[1]), h(&r[2]));
        let k = generic_key(&s, &msg);
        raw.digest_init(&s, &m).expect("init");
        raw.digest_key(&s, k).expect("digest key");
        assert_eq!(raw.digest_final(&s).expect("final"), want, "{}", r[0]);
        // Data, then key, then data: the concatenation.
        raw.digest_init(&s, &m).expect("init");
        raw.digest_update(&s, b"x").expect("update");
        raw.digest_key(&s, k).expect("key");
        raw.digest_update(&s, b"y").expect("update");
        let both = [b"x".as_slice(), &msg, b"y"].concat();
        assert_eq!(
            raw.digest_final(&s).expect("final"),
            raw.digest(&s, &m, &both).expect("digest"),
        );
    }
    // The typed API: digest_key exists in cryptoki 0.12.
    let k = generic_key(&s, b"abc");
    s.digest_init(&Mechanism::Sha256).expect("init");
    s.digest_key(k).expect("digest key");
    assert_eq!(
        hx(&s.digest_final().expect("final")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

fn mac_mech(name: &str, len: &CK_ULONG) -> CK_MECHANISM {
    if name.ends_with("_GENERAL") {
        mech(ckm(name), Some(len))
    } else {
        plain(ckm(name))
    }
}

#[test]
fn mac_vectors_sign_verify_and_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let rows = table("so-mac.txt");
    assert!(rows.len() >= 35);
    for r in &rows {
        let name = r[0].as_str();
        let (key, msg, want) = (h(&r[1]), h(&r[2]), h(&r[4]));
        let len: CK_ULONG = r[3].parse().expect("len");
        let kt = if name.starts_with("AES") {
            KeyType::AES
        } else {
            KeyType::GENERIC_SECRET
        };
        let k = secret_key(&s, kt, &key, &[]);
        let m = mac_mech(name, &len);
        assert_eq!(
            raw.sign(&s, &m, k, &msg).expect("sign"),
            want,
            "{name} {}",
            r[2]
        );
        for n in [1, 7, 64] {
            raw.sign_init(&s, &m, k).expect("init");
            for c in msg.chunks(n) {
                raw.sign_update(&s, c).expect("update");
            }
            assert_eq!(raw.sign_final(&s).expect("final"), want, "{name} multi {n}");
        }
        raw.verify(&s, &m, k, &msg, &want).expect("verify");
        raw.verify_init(&s, &m, k).expect("init");
        for c in msg.chunks(5) {
            raw.verify_update(&s, c).expect("update");
        }
        raw.verify_final(&s, &want).expect("verify final");
        let mut bad = want.clone();
        bad[0] ^= 1;
        assert_eq!(
            raw.verify(&s, &m, k, &msg, &bad),
            Err(CKR_SIGNATURE_INVALID),
            "{name}"
        );
        assert_eq!(
            raw.verify(&s, &m, k, &msg, &want[..want.len() - 1]),
            Err(CKR_SIGNATURE_LEN_RANGE),
            "{name} short"
        );
        let long = [want.as_slice(), &[0]].concat();
        assert_eq!(
            raw.verify(&s, &m, k, &msg, &long),
            Err(CKR_SIGNATURE_LEN_RANGE),
            "{name} long"
        );
    }
}

#[test]
fn mac_typed_api_and_general_length_limits() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    // RFC 4231 case 2 through cryptoki's typed mechanisms.
    let k = generic_key(&s, b"Jefe");
    let mac = s
        .sign(&Mechanism::Sha256Hmac, k, b"what do ya want for nothing?")
        .expect("sign");
    assert_eq!(
        hx(&mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    s.verify(
        &Mechanism::Sha256Hmac,
        k,
        b"what do ya want for nothing?",
        &mac,
    )
    .expect("verify");
    assert_eq!(
        rv(s.verify(
            &Mechanism::Sha256Hmac,
            k,
            b"what do ya want for nothing!",
            &mac
        )),
        RvError::SignatureInvalid
    );
    // _GENERAL lengths: 0 and more than the hash are bad parameters.
    for (name, max) in [("SHA256_HMAC_GENERAL", 32), ("AES_CMAC_GENERAL", 16)] {
        let key = if name.starts_with("AES") {
            aes_key(&s, &[7; 16])
        } else {
            k
        };
        for bad in [0, max + 1] {
            let len: CK_ULONG = bad;
            let m = mech(ckm(name), Some(&len));
            assert_eq!(
                raw.sign_init(&s, &m, key),
                Err(CKR_MECHANISM_PARAM_INVALID),
                "{name} {bad}"
            );
        }
        let len: CK_ULONG = max;
        let m = mech(ckm(name), Some(&len));
        assert_eq!(
            raw.sign(&s, &m, key, b"m").expect("sign").len(),
            32.min(usize::try_from(max).expect("n"))
        );
    }
    let cm = s
        .sign(
            &Mechanism::AesCMac,
            aes_key(&s, &h("2b7e151628aed2a6abf7158809cf4f3c")),
            &[],
        )
        .expect("cmac");
    assert_eq!(hx(&cm), "bb1d6929e95937287fa37d129b756746");
}

/// `CKM_SHA_1_KEY_GEN` … `CKM_SHA512_KEY_GEN` make keys of the matching
/// `CKK_SHA*_HMAC` type; the HMAC mechanisms take that type or a generic
/// secret, and refuse another HMAC type.
#[test]
fn hmac_key_generation_and_key_types() {
    use cryptoki::object::{Attribute, AttributeType};
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let gens = [
        (
            Mechanism::Sha1KeyGen,
            KeyType::SHA_1_HMAC,
            Mechanism::Sha1Hmac,
        ),
        (
            Mechanism::Sha224KeyGen,
            KeyType::SHA224_HMAC,
            Mechanism::Sha224Hmac,
        ),
        (
            Mechanism::Sha256KeyGen,
            KeyType::SHA256_HMAC,
            Mechanism::Sha256Hmac,
        ),
        (
            Mechanism::Sha384KeyGen,
            KeyType::SHA384_HMAC,
            Mechanism::Sha384Hmac,
        ),
        (
            Mechanism::Sha512KeyGen,
            KeyType::SHA512_HMAC,
            Mechanism::Sha512Hmac,
        ),
    ];
    let t = [
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::ValueLen(48.into()),
    ];
    for (i, (gen, kt, hmac)) in gens.iter().enumerate() {
        let k = s.generate_key(gen, &t).expect("generate");
        let got = s
            .get_attributes(k, &[AttributeType::KeyType, AttributeType::ValueLen])
            .expect("attributes");
        assert_eq!(
            got,
            vec![Attribute::KeyType(*kt), Attribute::ValueLen(48.into())]
        );
        let mac = s.sign(hmac, k, b"data").expect("sign");
        s.verify(hmac, k, b"data", &mac).expect("verify");
        // Another hash's HMAC refuses this key type.
        let other = &gens[(i + 1) % gens.len()].2;
        assert_eq!(rv(s.sign(other, k, b"data")), RvError::KeyTypeInconsistent);
        // No length: the template is incomplete.
        assert_eq!(
            rv(s.generate_key(gen, &t[..3])),
            RvError::TemplateIncomplete
        );
    }
    // The other key generations (no typed cryptoki mechanism): listed for
    // C_GenerateKey in bytes, each key of its HMAC's type and usable by it.
    let raw = raw();
    for (m, hmac) in [
        (CKM_SHA512_224_KEY_GEN, CKM_SHA512_224_HMAC),
        (CKM_SHA512_256_KEY_GEN, CKM_SHA512_256_HMAC),
        (CKM_SHA3_224_KEY_GEN, CKM_SHA3_224_HMAC),
        (CKM_SHA3_256_KEY_GEN, CKM_SHA3_256_HMAC),
        (CKM_SHA3_384_KEY_GEN, CKM_SHA3_384_HMAC),
        (CKM_SHA3_512_KEY_GEN, CKM_SHA3_512_HMAC),
    ] {
        let i = raw
            .mechanism_info(ctx.slot(0).id(), m)
            .expect("mechanism info");
        assert_ne!(i.flags & CKF_GENERATE, 0, "{m:#x}");
        assert_eq!((i.ulMinKeySize, i.ulMaxKeySize), (1, 4096), "{m:#x}");
        let k = raw.generate_secret(&s, &plain(m), 40).expect("generate");
        // (cryptoki 0.12 cannot read these key types back: the HMAC of the
        // key type works and another HMAC refuses it.)
        assert_eq!(
            s.get_attributes(k, &[AttributeType::ValueLen])
                .expect("attributes"),
            vec![Attribute::ValueLen(40.into())],
            "{m:#x}"
        );
        let mac = raw.sign(&s, &plain(hmac), k, b"data").expect("sign");
        raw.verify(&s, &plain(hmac), k, b"data", &mac)
            .expect("verify");
        assert_eq!(
            raw.sign(&s, &plain(CKM_SHA256_HMAC), k, b"data").err(),
            Some(CKR_KEY_TYPE_INCONSISTENT),
            "{m:#x}"
        );
    }
}
