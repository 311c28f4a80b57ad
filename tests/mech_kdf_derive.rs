//! SP 800-108 KBKDF (PKCS#11 3.0 §2.42) and the simple derivations
//! (concatenation, XOR, extraction, AES ENCRYPT_DATA) through the built
//! module: NIST CAVP counter-mode vectors (AES-CMAC and HMAC PRFs), the
//! feedback mode against RFC 5869 (HKDF-Expand is a feedback KDF), additional
//! derived keys (all or none), the parameter rules, the sensitivity and
//! extractability of derived keys, and the key gate on the other key of
//! `CKM_CONCATENATE_BASE_AND_KEY`.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/gate.rs"]
mod gate;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::kbkdf::{
    DerivedKey, Endianness, KbkdfCounterFormat, KbkdfDkmLengthFormat, KbkdfDkmLengthMethod,
    KbkdfFeedbackParams, KbkdfParams, PrfDataParam, PrfDataParamType,
};
use cryptoki::mechanism::misc::{ExtractParams, KeyDerivationStringData};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use gate::{policy, policy_attr, ACTIONS, DISABLED, KEY_STATE};
use mech_common::*;
use std::num::NonZeroUsize;

/// An extractable generic secret of `len` bytes (session object).
fn tmpl(len: usize) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::ValueLen(u64::try_from(len).unwrap().into()),
    ]
}

fn bool_attr(s: &Session, k: ObjectHandle, ty: AttributeType) -> bool {
    match s.get_attributes(k, &[ty]).unwrap().pop() {
        Some(
            Attribute::Sensitive(b)
            | Attribute::Extractable(b)
            | Attribute::AlwaysSensitive(b)
            | Attribute::NeverExtractable(b)
            | Attribute::Encrypt(b)
            | Attribute::Sign(b),
        ) => b,
        other => panic!("{ty:?}: {other:?}"),
    }
}

fn width(bits: usize) -> NonZeroUsize {
    NonZeroUsize::new(bits).unwrap()
}

/// One case of `kdf-kbkdf-ctr-cavp.txt`.
struct Cavp {
    prf: String,
    location: String,
    rlen: usize,
    l: usize,
    ki: Vec<u8>,
    before: Vec<u8>,
    after: Vec<u8>,
    ko: Vec<u8>,
}

fn cavp() -> Vec<Cavp> {
    let path = format!(
        "{}/tests/vectors/kdf-kbkdf-ctr-cavp.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let (mut prf, mut location, mut rlen) = (String::new(), String::new(), 0);
    let mut out = Vec::new();
    let mut cur: Option<Cavp> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(v) = line.strip_prefix("[PRF=") {
            prf = v.trim_end_matches(']').to_string();
        } else if let Some(v) = line.strip_prefix("[CTRLOCATION=") {
            location = v.trim_end_matches(']').to_string();
        } else if let Some(v) = line.strip_prefix("[RLEN=") {
            rlen = v.trim_end_matches("_BITS]").parse().unwrap();
        } else if let Some((k, v)) = line.split_once(" = ") {
            match k {
                "COUNT" => {
                    out.extend(cur.take());
                    cur = Some(Cavp {
                        prf: prf.clone(),
                        location: location.clone(),
                        rlen,
                        l: 0,
                        ki: Vec::new(),
                        before: Vec::new(),
                        after: Vec::new(),
                        ko: Vec::new(),
                    });
                }
                "L" => cur.as_mut().unwrap().l = v.parse().unwrap(),
                "KI" => cur.as_mut().unwrap().ki = h(v),
                "FixedInputData" | "DataBeforeCtrData" => cur.as_mut().unwrap().before = h(v),
                "DataAfterCtrData" => cur.as_mut().unwrap().after = h(v),
                "KO" => cur.as_mut().unwrap().ko = h(v),
                other => panic!("{other}"),
            }
        }
    }
    out.extend(cur);
    out
}

#[test]
fn kbkdf_counter_mode_cavp_vectors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let cases = cavp();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    for c in &cases {
        let (prf, base) = match c.prf.as_str() {
            "CMAC_AES128" | "CMAC_AES192" | "CMAC_AES256" => {
                (MechanismType::AES_CMAC, aes_key(&s, &c.ki))
            }
            "HMAC_SHA1" => (MechanismType::SHA1_HMAC, generic_key(&s, &c.ki)),
            "HMAC_SHA224" => (MechanismType::SHA224_HMAC, generic_key(&s, &c.ki)),
            "HMAC_SHA256" => (MechanismType::SHA256_HMAC, generic_key(&s, &c.ki)),
            "HMAC_SHA384" => (MechanismType::SHA384_HMAC, generic_key(&s, &c.ki)),
            "HMAC_SHA512" => (MechanismType::SHA512_HMAC, generic_key(&s, &c.ki)),
            other => panic!("{other}"),
        };
        let ctr = KbkdfCounterFormat::new(Endianness::Big, width(c.rlen));
        let it = PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&ctr)));
        let before = PrfDataParam::new(PrfDataParamType::ByteArray(&c.before));
        let after = PrfDataParam::new(PrfDataParamType::ByteArray(&c.after));
        let data = match c.location.as_str() {
            "BEFORE_FIXED" => vec![it, before],
            "AFTER_FIXED" => vec![before, it],
            "MIDDLE_FIXED" => vec![before, it, after],
            other => panic!("{other}"),
        };
        let m = Mechanism::KbkdfCounter(KbkdfParams::new(prf, &data, None));
        let k = s
            .derive_key(&m, base, &tmpl(c.l / 8))
            .unwrap_or_else(|e| panic!("{} {} r={}: {e}", c.prf, c.location, c.rlen));
        assert_eq!(
            hx(&value_of(&s, k)),
            hx(&c.ko),
            "{} {} r={} L={}",
            c.prf,
            c.location,
            c.rlen,
            c.l
        );
    }
}

#[test]
fn kbkdf_feedback_mode_is_hkdf_expand() {
    // RFC 5869: T(i) = HMAC(PRK, T(i-1) | info | i), T(0) empty: the feedback
    // KDF with no IV, the info and an 8-bit counter after it.
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let rows = table("so-hkdf.txt");
    // The PRKs of RFC 5869 A.1-A.3.
    let prks = [
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
        "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
    ];
    assert_eq!(rows.len(), prks.len());
    for (r, prk) in rows.iter().zip(prks) {
        let (info, prk, okm) = (hd(&r[3]), h(prk), h(&r[5]));
        let len: usize = r[4].parse().unwrap();
        let base = generic_key(&s, &prk);
        let ctr = KbkdfCounterFormat::new(Endianness::Big, width(8));
        let mut data = vec![PrfDataParam::new(PrfDataParamType::IterationVariable(None))];
        if !info.is_empty() {
            data.push(PrfDataParam::new(PrfDataParamType::ByteArray(&info)));
        }
        data.push(PrfDataParam::new(PrfDataParamType::Counter(&ctr)));
        let m = Mechanism::KbkdfFeedback(KbkdfFeedbackParams::new(
            MechanismType::SHA256_HMAC,
            &data,
            None,
            None,
        ));
        let k = s.derive_key(&m, base, &tmpl(len)).expect("feedback");
        assert_eq!(hx(&value_of(&s, k)), hx(&okm), "RFC 5869 OKM of {}", r[1]);
    }
}

/// SP 800-108 §4.3: A(0) is the fixed input, A(i) = PRF(K, A(i-1)) and
/// K(i) = PRF(K, A(i) || [i] || fixed); the expected bytes are made with
/// `CKM_SHA256_HMAC` signatures under the same key, two blocks, the second
/// truncated.
#[test]
fn kbkdf_double_pipeline_mode_is_the_two_hmac_chains() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let base = generic_key(&s, &pattern(32));
    let fixed = b"label\x00context";
    let ctr = KbkdfCounterFormat::new(Endianness::Big, width(8));
    let data = [
        PrfDataParam::new(PrfDataParamType::IterationVariable(None)),
        PrfDataParam::new(PrfDataParamType::Counter(&ctr)),
        PrfDataParam::new(PrfDataParamType::ByteArray(fixed)),
    ];
    let m =
        Mechanism::KbkdfDoublePipeline(KbkdfParams::new(MechanismType::SHA256_HMAC, &data, None));
    let k = s.derive_key(&m, base, &tmpl(40)).expect("double pipeline");
    let hmac = |msg: &[u8]| s.sign(&Mechanism::Sha256Hmac, base, msg).expect("hmac");
    let a1 = hmac(fixed);
    let a2 = hmac(&a1);
    let mut want = hmac(&[a1.as_slice(), &[1], fixed].concat());
    want.extend(hmac(&[a2.as_slice(), &[2], fixed].concat()));
    want.truncate(40);
    assert_eq!(hx(&value_of(&s, k)), hx(&want));
    // A counter format on the iteration variable is for counter mode only.
    let bad = [
        PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&ctr))),
        PrfDataParam::new(PrfDataParamType::ByteArray(fixed)),
    ];
    let m =
        Mechanism::KbkdfDoublePipeline(KbkdfParams::new(MechanismType::SHA256_HMAC, &bad, None));
    assert_eq!(
        rv(s.derive_key(&m, base, &tmpl(32))),
        RvError::MechanismParamInvalid
    );
}

#[test]
fn kbkdf_additional_keys_are_made_all_or_none() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let base = aes_key(&s, &h("000102030405060708090a0b0c0d0e0f1011121314151617"));
    let ctr = KbkdfCounterFormat::new(Endianness::Little, width(32));
    let dkm =
        KbkdfDkmLengthFormat::new(KbkdfDkmLengthMethod::SumOfKeys, Endianness::Big, width(16));
    let data = [
        PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&ctr))),
        PrfDataParam::new(PrfDataParamType::ByteArray(b"label")),
        PrfDataParam::new(PrfDataParamType::DkmLength(&dkm)),
    ];
    // One 32-byte key = two 16-byte keys: the same two AES-CMAC segments, the
    // same L (256 bits).
    let one = s
        .derive_key(
            &Mechanism::KbkdfCounter(KbkdfParams::new(MechanismType::AES_CMAC, &data, None)),
            base,
            &tmpl(32),
        )
        .unwrap();
    let whole = value_of(&s, one);
    // cryptoki's DerivedKey points into the template: keep each alive.
    let (t16, t5) = (tmpl(16), tmpl(5));
    let mut extra = vec![DerivedKey::new(&t16)];
    let first = s
        .derive_key(
            &Mechanism::KbkdfCounter(KbkdfParams::new(
                MechanismType::AES_CMAC,
                &data,
                Some(&mut extra),
            )),
            base,
            &tmpl(16),
        )
        .unwrap();
    let second = extra[0].handle().expect("the additional key's handle");
    assert_eq!(value_of(&s, first), whole[..16]);
    assert_eq!(value_of(&s, second), whole[16..]);

    // A key of 20 bytes takes two whole segments; the next key starts on the third.
    let mut extra = vec![DerivedKey::new(&t5)];
    let first = s
        .derive_key(
            &Mechanism::KbkdfCounter(KbkdfParams::new(
                MechanismType::AES_CMAC,
                &data,
                Some(&mut extra),
            )),
            base,
            &tmpl(20),
        )
        .unwrap();
    assert_eq!(value_of(&s, first).len(), 20);
    assert_eq!(value_of(&s, extra[0].handle().unwrap()).len(), 5);

    // A bad template among the additional keys: nothing is made, every phKey
    // says CK_INVALID_HANDLE.
    let before = s.find_objects(&[]).unwrap().len();
    let bad = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(16.into()),
        Attribute::ModulusBits(2048.into()),
    ];
    let mut extra = vec![DerivedKey::new(&t16), DerivedKey::new(&bad)];
    let r = s.derive_key(
        &Mechanism::KbkdfCounter(KbkdfParams::new(
            MechanismType::AES_CMAC,
            &data,
            Some(&mut extra),
        )),
        base,
        &tmpl(16),
    );
    assert_eq!(rv(r), RvError::AttributeTypeInvalid);
    assert!(extra.iter().all(|k| k.handle().is_none()));
    assert_eq!(s.find_objects(&[]).unwrap().len(), before);

    // A key of the template without a length.
    let mut no_len = tmpl(16);
    no_len.pop();
    let mut extra = vec![DerivedKey::new(&no_len)];
    let r = s.derive_key(
        &Mechanism::KbkdfCounter(KbkdfParams::new(
            MechanismType::AES_CMAC,
            &data,
            Some(&mut extra),
        )),
        base,
        &tmpl(16),
    );
    assert_eq!(rv(r), RvError::TemplateIncomplete);
    assert_eq!(s.find_objects(&[]).unwrap().len(), before);
}

#[test]
fn kbkdf_parameter_and_key_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let aes = aes_key(&s, &[3; 32]);
    let generic = generic_key(&s, &[3; 32]);
    let ctr = KbkdfCounterFormat::new(Endianness::Big, width(16));
    let odd = KbkdfCounterFormat::new(Endianness::Big, width(12));
    let wide_dkm =
        KbkdfDkmLengthFormat::new(KbkdfDkmLengthMethod::SumOfKeys, Endianness::Big, width(72));
    let it = PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&ctr)));
    let derive = |prf, data: &[PrfDataParam], base| {
        rv(s.derive_key(
            &Mechanism::KbkdfCounter(KbkdfParams::new(prf, data, None)),
            base,
            &tmpl(16),
        ))
    };
    let invalid = RvError::MechanismParamInvalid;
    // A digest is not a PRF; AES-CMAC needs an AES key.
    assert_eq!(derive(MechanismType::SHA256, &[it], generic), invalid);
    assert_eq!(
        derive(MechanismType::AES_CMAC, &[it], generic),
        RvError::KeyTypeInconsistent
    );
    // Counter widths of 8, 16, 24, 32 bits; DKM lengths up to 64 bits.
    let odd_it = PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&odd)));
    assert_eq!(derive(MechanismType::AES_CMAC, &[odd_it], aes), invalid);
    let dkm = PrfDataParam::new(PrfDataParamType::DkmLength(&wide_dkm));
    assert_eq!(derive(MechanismType::AES_CMAC, &[it, dkm], aes), invalid);
    // The feedback mode: no format on its iteration variable, one counter at most.
    let fb = |data: &[PrfDataParam], iv: Option<&[u8]>| {
        rv(s.derive_key(
            &Mechanism::KbkdfFeedback(KbkdfFeedbackParams::new(
                MechanismType::SHA256_HMAC,
                data,
                iv,
                None,
            )),
            generic,
            &tmpl(16),
        ))
    };
    let fb_it = PrfDataParam::new(PrfDataParamType::IterationVariable(None));
    let c = PrfDataParam::new(PrfDataParamType::Counter(&ctr));
    assert_eq!(fb(&[it], None), invalid);
    assert_eq!(fb(&[fb_it, c, c], None), invalid);
    // With an IV, it is K(0): different output than without.
    let a = s
        .derive_key(
            &Mechanism::KbkdfFeedback(KbkdfFeedbackParams::new(
                MechanismType::SHA256_HMAC,
                &[fb_it, c],
                Some(b"iv"),
                None,
            )),
            generic,
            &tmpl(40),
        )
        .unwrap();
    let b = s
        .derive_key(
            &Mechanism::KbkdfFeedback(KbkdfFeedbackParams::new(
                MechanismType::SHA256_HMAC,
                &[fb_it, c],
                None,
                None,
            )),
            generic,
            &tmpl(40),
        )
        .unwrap();
    assert_ne!(value_of(&s, a), value_of(&s, b));
    // The base key needs CKA_DERIVE.
    let no_derive = secret_key(&s, KeyType::AES, &[3; 16], &[Attribute::Derive(false)]);
    assert_eq!(
        derive(MechanismType::AES_CMAC, &[it], no_derive),
        RvError::KeyFunctionNotPermitted
    );
}

#[test]
fn simple_derivations_values_and_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let base = generic_key(&s, &h("329F84A9"));
    let other = generic_key(&s, &h("0102"));
    let data = KeyDerivationStringData::new(b"\x89\xab");
    let v = |m: &Mechanism, t: &[Attribute]| value_of(&s, s.derive_key(m, base, t).unwrap());
    let no_len = &tmpl(0)[..5];
    assert_eq!(
        hx(&v(&Mechanism::ConcatenateBaseAndKey(other), no_len)),
        "329f84a90102"
    );
    assert_eq!(
        hx(&v(&Mechanism::ConcatenateBaseAndData(data), &tmpl(5))),
        "329f84a989"
    );
    assert_eq!(
        hx(&v(&Mechanism::ConcatenateDataAndBase(data), no_len)),
        "89ab329f84a9"
    );
    assert_eq!(hx(&v(&Mechanism::XorBaseAndData(data), no_len)), "bb34");
    // §2.43.x's example: bit 21 of 0x329F84A9, two bytes: 0x9526.
    let ex = Mechanism::ExtractKeyFromKey(ExtractParams::new(21));
    assert_eq!(hx(&v(&ex, &tmpl(2))), "9526");
    // Lengths: the extraction needs one, nothing may be longer than its inputs.
    assert_eq!(
        rv(s.derive_key(&ex, base, no_len)),
        RvError::TemplateIncomplete
    );
    assert_eq!(
        rv(s.derive_key(&ex, base, &tmpl(5))),
        RvError::AttributeValueInvalid
    );
    assert_eq!(
        rv(s.derive_key(&Mechanism::XorBaseAndData(data), base, &tmpl(3))),
        RvError::AttributeValueInvalid
    );
    // An AES key of the concatenation must be 16, 24 or 32 bytes.
    let mut aes = tmpl(0);
    aes.truncate(5);
    aes[1] = Attribute::KeyType(KeyType::AES);
    assert!(s
        .derive_key(&Mechanism::ConcatenateBaseAndKey(other), base, &aes)
        .is_err());
    // CKM_AES_CBC_ENCRYPT_DATA: SP 800-38A F.2.3 (CBC-AES192), and F.1.3
    // (ECB-AES192) through CKM_AES_ECB_ENCRYPT_DATA.
    let k192 = aes_key(&s, &h("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"));
    let pt = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    let cbc = Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new(
        h("000102030405060708090a0b0c0d0e0f").try_into().unwrap(),
        &pt,
    ));
    let k = s.derive_key(&cbc, k192, &tmpl(32)).unwrap();
    assert_eq!(
        hx(&value_of(&s, k)),
        "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
    );
    let raw = raw();
    let sd = CK_KEY_DERIVATION_STRING_DATA {
        pData: pt.as_ptr().cast_mut(),
        ulLen: 32,
    };
    let m = mech(CKM_AES_ECB_ENCRYPT_DATA, Some(&sd));
    let k = raw
        .derive_secret(&s, &m, k192, CKK_AES, Some(24))
        .expect("ECB_ENCRYPT_DATA");
    assert_eq!(
        hx(&value_of(&s, k)),
        "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad"
    );
    // Whole blocks only; no more than the data gives.
    let short = AesCbcDeriveParams::new([0; 16], &pt[..15]);
    assert_eq!(
        rv(s.derive_key(&Mechanism::AesCbcEncryptData(short), k192, &tmpl(15))),
        RvError::MechanismParamInvalid
    );
    assert_eq!(
        rv(s.derive_key(&cbc, k192, &tmpl(33))),
        RvError::DataLenRange
    );
}

#[test]
fn derived_keys_are_never_weaker_than_what_they_reveal() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let open = generic_key(&s, &[1; 16]);
    let sensitive = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &[2; 16],
        &[Attribute::Sensitive(true)],
    );
    let unextractable = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &[3; 16],
        &[Attribute::Extractable(false)],
    );
    let data = KeyDerivationStringData::new(b"data");
    // The template asks for a readable key; the inputs decide.
    let ask = tmpl(20);
    let d = |m: &Mechanism, base| s.derive_key(m, base, &ask).unwrap();
    let k = d(&Mechanism::ConcatenateBaseAndData(data), sensitive);
    assert!(bool_attr(&s, k, AttributeType::Sensitive));
    let k = d(&Mechanism::ConcatenateBaseAndData(data), unextractable);
    assert!(!bool_attr(&s, k, AttributeType::Extractable));
    // cryptoki leaves out what the module refuses to reveal.
    assert_eq!(
        s.get_attributes(k, &[AttributeType::Value]).unwrap(),
        vec![]
    );
    // Either key of CONCATENATE_BASE_AND_KEY.
    let mut t32 = tmpl(32);
    t32.pop();
    let k = s
        .derive_key(&Mechanism::ConcatenateBaseAndKey(unextractable), open, &t32)
        .unwrap();
    assert!(!bool_attr(&s, k, AttributeType::Extractable));
    let k = s
        .derive_key(&Mechanism::ConcatenateBaseAndKey(sensitive), open, &t32)
        .unwrap();
    assert!(bool_attr(&s, k, AttributeType::Sensitive));
    assert!(!bool_attr(&s, k, AttributeType::AlwaysSensitive));
    // XOR and extraction the same; from such a key they copy all of its bits
    // or none (a piece of it could be searched for through the new key's
    // uses).
    let data16 = KeyDerivationStringData::new(&[9; 16]);
    let k = s
        .derive_key(&Mechanism::XorBaseAndData(data16), unextractable, &tmpl(16))
        .unwrap();
    assert!(!bool_attr(&s, k, AttributeType::Extractable));
    let extract = Mechanism::ExtractKeyFromKey(ExtractParams::new(3));
    let k = s.derive_key(&extract, sensitive, &tmpl(16)).unwrap();
    assert!(bool_attr(&s, k, AttributeType::Sensitive));
    for (m, base, len) in [
        (&Mechanism::XorBaseAndData(data), unextractable, 4),
        (&extract, sensitive, 1),
        (&Mechanism::ConcatenateBaseAndData(data), sensitive, 8),
    ] {
        assert_eq!(
            rv(s.derive_key(m, base, &tmpl(len))),
            RvError::KeyFunctionNotPermitted
        );
    }
    // The same cuts of a readable key are made.
    s.derive_key(&extract, open, &tmpl(1)).unwrap();
    // A generated, never-extractable AES key: ENCRYPT_DATA keeps its history.
    let gen = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(24.into()),
                Attribute::Derive(true),
                Attribute::Sensitive(true),
            ],
        )
        .unwrap();
    let cbc = Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &[5; 32]));
    let k = s.derive_key(&cbc, gen, &tmpl(16)).unwrap();
    assert!(bool_attr(&s, k, AttributeType::Sensitive));
    assert!(!bool_attr(&s, k, AttributeType::Extractable));
    assert!(bool_attr(&s, k, AttributeType::AlwaysSensitive));
    assert!(bool_attr(&s, k, AttributeType::NeverExtractable));
    // SP 800-108 (§2.42.8): what the template leaves out comes from the base
    // key; what it says holds.
    let ctr = KbkdfCounterFormat::new(Endianness::Big, width(16));
    let data = [PrfDataParam::new(PrfDataParamType::IterationVariable(
        Some(&ctr),
    ))];
    let kb = Mechanism::KbkdfCounter(KbkdfParams::new(MechanismType::AES_CMAC, &data, None));
    let quiet = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::ValueLen(16.into()),
    ];
    let k = s.derive_key(&kb, gen, &quiet).unwrap();
    assert!(bool_attr(&s, k, AttributeType::Sensitive));
    assert!(!bool_attr(&s, k, AttributeType::Extractable));
    assert!(bool_attr(&s, k, AttributeType::NeverExtractable));
    // Usages only as the template names them.
    assert!(!bool_attr(&s, k, AttributeType::Encrypt));
    let k = s.derive_key(&kb, gen, &tmpl(16)).unwrap();
    assert!(bool_attr(&s, k, AttributeType::Extractable));
    assert!(!bool_attr(&s, k, AttributeType::NeverExtractable));
    assert!(!bool_attr(&s, k, AttributeType::AlwaysSensitive));
}

#[test]
fn the_other_key_of_concatenate_passes_the_key_gate() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let base = generic_key(&s, &[1; 8]);
    let mut t = tmpl(0);
    t.pop();
    let cat = |other| rv(s.derive_key(&Mechanism::ConcatenateBaseAndKey(other), base, &t));
    // Without CKA_DERIVE.
    let no_derive = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &[2; 8],
        &[Attribute::Derive(false)],
    );
    assert_eq!(cat(no_derive), RvError::KeyFunctionNotPermitted);
    // Its policy does not let the owner export it: the concatenation copies
    // its bits into a new key, so the policy action is ExportKey, and
    // DeriveKey with every other action is not enough.
    let rest: Vec<&str> = ACTIONS
        .iter()
        .copied()
        .filter(|a| *a != "ExportKey")
        .collect();
    let denied = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &[3; 8],
        &[
            Attribute::Token(true),
            policy_attr(&policy(&[(&["user"], &rest, None)])),
        ],
    );
    assert_eq!(cat(denied), RvError::KeyFunctionNotPermitted);
    // Disabled.
    let disabled = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &[4; 8],
        &[Attribute::Token(true)],
    );
    s.update_attributes(
        disabled,
        &[p11_testkit::keys::vendor_ulong(KEY_STATE, DISABLED)],
    )
    .unwrap();
    assert_eq!(cat(disabled), RvError::KeyFunctionNotPermitted);
    // A key that is gone.
    let gone = generic_key(&s, &[6; 8]);
    s.destroy_object(gone).unwrap();
    assert_eq!(cat(gone), RvError::KeyHandleInvalid);
    // With a key it may use, it works.
    let fine = generic_key(&s, &[5; 8]);
    let k = s
        .derive_key(&Mechanism::ConcatenateBaseAndKey(fine), base, &t)
        .unwrap();
    assert_eq!(value_of(&s, k), [[1; 8], [5; 8]].concat());
}

#[test]
fn hostile_kbkdf_parameters_are_refused_before_they_are_read() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let base = aes_key(&s, &[4; 16]);
    let mut fmt = CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: CK_FALSE,
        ulWidthInBits: 16,
    };
    let mut data = [CK_PRF_DATA_PARAM {
        type_: CK_SP800_108_ITERATION_VARIABLE,
        pValue: std::ptr::addr_of_mut!(fmt).cast(),
        ulValueLen: CK_ULONG::try_from(std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>()).unwrap(),
    }];
    let good = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_AES_CMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    let derive = |p: &CK_SP800_108_KDF_PARAMS| {
        raw.derive_secret(
            &s,
            &mech(CKM_SP800_108_COUNTER_KDF, Some(p)),
            base,
            CKK_GENERIC_SECRET,
            Some(16),
        )
        .err()
    };
    assert_eq!(derive(&good), None);
    let invalid = Some(CKR_MECHANISM_PARAM_INVALID);
    // An impossible count, a null array, an array with a zero count.
    let mut p = good;
    p.ulNumberOfDataParams = 1 << 40;
    assert_eq!(derive(&p), invalid);
    let mut p = good;
    p.pDataParams = std::ptr::null_mut();
    assert_eq!(derive(&p), invalid);
    let mut p = good;
    p.ulNumberOfDataParams = 0;
    assert_eq!(derive(&p), invalid);
    // Additional keys: a count without an array, a key without phKey.
    let mut p = good;
    p.ulAdditionalDerivedKeys = 3;
    assert_eq!(derive(&p), invalid);
    let mut keys = [CK_DERIVED_KEY {
        pTemplate: std::ptr::null_mut(),
        ulAttributeCount: 0,
        phKey: std::ptr::null_mut(),
    }];
    let mut p = good;
    p.ulAdditionalDerivedKeys = 1;
    p.pAdditionalDerivedKeys = keys.as_mut_ptr();
    assert_eq!(derive(&p), invalid);
    // A data parameter whose value is not the size of its struct, a bad
    // CK_BBOOL, an unknown type: each in arrays of their own.
    let fmt_len = CK_ULONG::try_from(std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>()).unwrap();
    let mut odd_bool = CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: 7,
        ulWidthInBits: 16,
    };
    let mut fine = CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: CK_TRUE,
        ulWidthInBits: 16,
    };
    let cases = [
        (
            CK_SP800_108_ITERATION_VARIABLE,
            std::ptr::addr_of_mut!(fine),
            3,
        ),
        (
            CK_SP800_108_ITERATION_VARIABLE,
            std::ptr::addr_of_mut!(odd_bool),
            fmt_len,
        ),
        (99, std::ptr::addr_of_mut!(fine), fmt_len),
    ];
    for (ty, value, len) in cases {
        let mut one = [CK_PRF_DATA_PARAM {
            type_: ty,
            pValue: value.cast(),
            ulValueLen: len,
        }];
        let mut p = good;
        p.pDataParams = one.as_mut_ptr();
        assert_eq!(derive(&p), invalid, "type {ty} len {len}");
    }
    // Byte arrays that one by one are allowed but together pass the 64 KiB
    // the parameter's fixed input may hold (one buffer named many times).
    let mut big = vec![0x5au8; 40 * 1024];
    let array = CK_PRF_DATA_PARAM {
        type_: CK_SP800_108_BYTE_ARRAY,
        pValue: big.as_mut_ptr().cast(),
        ulValueLen: CK_ULONG::try_from(big.len()).unwrap(),
    };
    for (n, want) in [(1, None), (2, invalid)] {
        let mut many = vec![data[0]];
        many.extend(std::iter::repeat_n(array, n));
        let mut p = good;
        p.pDataParams = many.as_mut_ptr();
        p.ulNumberOfDataParams = CK_ULONG::try_from(many.len()).unwrap();
        assert_eq!(derive(&p), want, "{n} arrays of 40 KiB");
    }
    // The feedback IV: a length without a pointer.
    let fb = CK_SP800_108_FEEDBACK_KDF_PARAMS {
        prfType: CKM_AES_CMAC,
        ulNumberOfDataParams: 0,
        pDataParams: std::ptr::null_mut(),
        ulIVLen: 16,
        pIV: std::ptr::null_mut(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    let r = raw.derive_secret(
        &s,
        &mech(CKM_SP800_108_FEEDBACK_KDF, Some(&fb)),
        base,
        CKK_GENERIC_SECRET,
        Some(16),
    );
    assert_eq!(r.err(), invalid);
    // A parameter of the wrong size.
    let short: CK_ULONG = 5;
    let r = raw.derive_secret(
        &s,
        &mech(CKM_SP800_108_COUNTER_KDF, Some(&short)),
        base,
        CKK_GENERIC_SECRET,
        Some(16),
    );
    assert_eq!(r.err(), invalid);
}

/// The policy actions of the derivations that reveal a key: the copying
/// ones (concatenation, XOR, extraction) are `ExportKey`, since their new key
/// carries the key's bits without its policy; the AES ENCRYPT_DATA ones (CBC
/// here: cryptoki 0.12 has no typed ECB one) are
/// `Encrypt`, under the IV rule (whoever may encrypt but not decrypt uses no
/// bare block cipher). `DeriveKey` alone allows neither.
#[test]
fn revealing_derivations_need_the_actions_they_amount_to() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    // (SetPolicy too: a policy that locks everyone out of it is refused.)
    let key = |kt: KeyType, allow: &[&str]| {
        let allow = [allow, &["SetPolicy"]].concat();
        secret_key(
            &s,
            kt,
            &[7; 16],
            &[
                Attribute::Token(true),
                policy_attr(&policy(&[(&["user"], &allow, None)])),
            ],
        )
    };
    let data = KeyDerivationStringData::new(&[1; 16]);
    let copying = [
        Mechanism::XorBaseAndData(data),
        Mechanism::ConcatenateBaseAndData(data),
        Mechanism::ExtractKeyFromKey(ExtractParams::new(0)),
    ];
    let derive_only = key(KeyType::GENERIC_SECRET, &["DeriveKey"]);
    let exportable = key(KeyType::GENERIC_SECRET, &["ExportKey"]);
    for m in &copying {
        assert_eq!(
            rv(s.derive_key(m, derive_only, &tmpl(16))),
            RvError::KeyFunctionNotPermitted
        );
        s.derive_key(m, exportable, &tmpl(16)).unwrap();
    }
    let cbc = Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &[1; 16]));
    for (allow, ok) in [
        (&["DeriveKey"][..], false),
        (&["Encrypt"][..], false),
        (&["Encrypt", "Decrypt"][..], true),
    ] {
        let k = key(KeyType::AES, allow);
        let r = s.derive_key(&cbc, k, &tmpl(16));
        if ok {
            r.unwrap();
        } else {
            assert_eq!(rv(r), RvError::KeyFunctionNotPermitted, "{allow:?}");
        }
    }
}
