//! HKDF (PKCS#11 3.0 §2.43) through the built module: RFC 5869 A.1–A.3 into
//! extractable generic secrets, salt as data or as a key, extract-only and
//! expand-only.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::Ctx;
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use mech_common::*;

fn tmpl(len: usize) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::ValueLen(u64::try_from(len).expect("len").into()),
    ]
}

#[test]
fn rfc5869_vectors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let rows = table("so-hkdf.txt");
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r[0], "SHA256");
        let (ikm, salt, info, okm) = (h(&r[1]), hd(&r[2]), hd(&r[3]), h(&r[5]));
        let len: usize = r[4].parse().expect("L");
        let base = generic_key(&s, &ikm);
        let salt_p = if salt.is_empty() {
            HkdfSalt::Null
        } else {
            HkdfSalt::Data(&salt)
        };
        let m = Mechanism::HkdfDerive(HkdfParams::new(
            MechanismType::SHA256,
            Some(salt_p),
            Some(&info),
        ));
        let k = s.derive_key(&m, base, &tmpl(len)).expect("derive");
        assert_eq!(hx(&value_of(&s, k)), hx(&okm), "OKM for IKM {}", r[1]);
        let a = s.get_attributes(k, &[AttributeType::Local]).expect("local");
        assert_eq!(a, vec![Attribute::Local(false)]);
        // Salt as a key object: the same OKM.
        if !salt.is_empty() {
            let sk = generic_key(&s, &salt);
            let m = Mechanism::HkdfDerive(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Key(sk)),
                Some(&info),
            ));
            let k = s
                .derive_key(&m, base, &tmpl(len))
                .expect("derive, salt key");
            assert_eq!(value_of(&s, k), okm);
        }
        // Extract only gives PRK; expand only from PRK gives OKM again.
        let m = Mechanism::HkdfDerive(HkdfParams::new(MechanismType::SHA256, Some(salt_p), None));
        let mut t = tmpl(32);
        t.push(Attribute::Derive(true));
        let prk = s.derive_key(&m, base, &t).expect("extract");
        let m = Mechanism::HkdfDerive(HkdfParams::new(MechanismType::SHA256, None, Some(&info)));
        let k = s.derive_key(&m, prk, &tmpl(len)).expect("expand");
        assert_eq!(value_of(&s, k), okm, "expand(extract) = OKM");
    }
    // RFC 5869 A.1's PRK.
    let base = generic_key(&s, &h(&rows[0][1]));
    let salt = h(&rows[0][2]);
    let m = Mechanism::HkdfDerive(HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Data(&salt)),
        None,
    ));
    let prk = s.derive_key(&m, base, &tmpl(32)).expect("extract");
    assert_eq!(
        hx(&value_of(&s, prk)),
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    );
}

/// CKM_HKDF_DATA (PKCS#11 3.0 §2.43.3): identical to HKDF derive except that
/// the output is a CKO_DATA object whose CKA_VALUE is the derived bytes. The
/// base is still a key (CKK_HKDF or generic secret); RFC 5869 A.1's OKM.
#[test]
fn hkdf_data_makes_a_data_object() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let rows = table("so-hkdf.txt");
    let r = &rows[0];
    let (ikm, salt, info, okm) = (h(&r[1]), hd(&r[2]), hd(&r[3]), h(&r[5]));
    let len: usize = r[4].parse().expect("L");
    let base = generic_key(&s, &ikm);
    let m = Mechanism::HkdfData(HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Data(&salt)),
        Some(&info),
    ));
    let t = vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(false),
        Attribute::ValueLen(u64::try_from(len).expect("len").into()),
    ];
    let d = s.derive_key(&m, base, &t).expect("HKDF data");
    let a = s
        .get_attributes(d, &[AttributeType::Class, AttributeType::Value])
        .expect("attributes");
    assert_eq!(a[0], Attribute::Class(ObjectClass::DATA));
    assert_eq!(a[1], Attribute::Value(okm.clone()), "the data is the OKM");
    // Without a length the expand step has none: CKR_TEMPLATE_INCOMPLETE.
    let t = vec![Attribute::Class(ObjectClass::DATA), Attribute::Token(false)];
    assert_eq!(
        common::rv(s.derive_key(&m, base, &t)),
        cryptoki::error::RvError::TemplateIncomplete
    );
}

/// CKM_HKDF_KEY_GEN (PKCS#11 3.0 §2.43.4): C_GenerateKey makes a CKK_HKDF key
/// of CKA_VALUE_LEN bytes, local, usable as the base of CKM_HKDF_DERIVE; the
/// derived key is the same as from a generic secret holding the same value.
#[test]
fn hkdf_key_gen_makes_a_derivable_key() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = s
        .generate_key(
            &Mechanism::HkdfKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::HKDF),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Derive(true),
                Attribute::ValueLen(32.into()),
            ],
        )
        .expect("generate HKDF key");
    let a = s
        .get_attributes(k, &[AttributeType::KeyType, AttributeType::Local])
        .expect("attributes");
    assert_eq!(
        a,
        vec![Attribute::KeyType(KeyType::HKDF), Attribute::Local(true)]
    );
    let value = value_of(&s, k);
    assert_eq!(value.len(), 32);
    let info = b"softkms hkdf key gen".to_vec();
    let m = Mechanism::HkdfDerive(HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Null),
        Some(&info),
    ));
    let okm = value_of(&s, s.derive_key(&m, k, &tmpl(42)).expect("derive"));
    let twin = generic_key(&s, &value);
    let again = value_of(&s, s.derive_key(&m, twin, &tmpl(42)).expect("derive"));
    assert_eq!(okm.len(), 42);
    assert_eq!(okm, again, "same IKM, same OKM");
    // Without a length there is nothing to generate.
    assert_eq!(
        common::rv(s.generate_key(
            &Mechanism::HkdfKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::HKDF),
                Attribute::Token(false),
            ],
        )),
        cryptoki::error::RvError::TemplateIncomplete
    );
}
