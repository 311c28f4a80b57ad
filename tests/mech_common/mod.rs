//! Shared helpers for the `mech_*` black-box tests: hex, vector files, and key
//! import through `C_CreateObject`. The raw path to the module's function list
//! (for what `cryptoki` 0.12's typed API does not expose) is
//! `p11_testkit::session`, re-exported here; [`raw`] opens it on the module
//! under test.

#![allow(dead_code)]

use crate::common;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
#[allow(unused_imports)] // each test binary uses some of them
pub use p11_testkit::session::{attr, mech, plain, Raw, Rv};

/// The raw path on the module under test (already loaded and initialized by `cryptoki`).
pub fn raw() -> Raw {
    Raw::new(common::module_path())
}

/// Lower-case hex to bytes.
pub fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Bytes to lower-case hex.
pub fn hx(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A JSON vector file under `tests/vectors/`.
pub fn json(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("vector file");
    serde_json::from_str(&text).expect("vector json")
}

/// A string field of a JSON object.
pub fn js<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("field {k} in {v}"))
}

/// A big-endian integer without leading zero bytes (Wycheproof pads some).
pub fn strip(v: Vec<u8>) -> Vec<u8> {
    let i = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    v[i..].to_vec()
}

/// The template of a session RSA private key from a Wycheproof `privateKey`
/// object (all CRT parts), with the usage attributes in `usage`.
pub fn rsa_private_template(k: &serde_json::Value, usage: &[Attribute]) -> Vec<Attribute> {
    let f = |n: &str| strip(h(js(k, n)));
    let mut t = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Modulus(f("modulus")),
        Attribute::PublicExponent(f("publicExponent")),
        Attribute::PrivateExponent(f("privateExponent")),
        Attribute::Prime1(f("prime1")),
        Attribute::Prime2(f("prime2")),
        Attribute::Exponent1(f("exponent1")),
        Attribute::Exponent2(f("exponent2")),
        Attribute::Coefficient(f("coefficient")),
    ];
    t.extend_from_slice(usage);
    t
}

/// Imports a secret key with a known value; `extra` overrides or adds attributes.
pub fn secret_key(s: &Session, kt: KeyType, value: &[u8], extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(kt),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
    ];
    for a in extra {
        t.retain(|x| x.attribute_type() != a.attribute_type());
        t.push(a.clone());
    }
    for (ty, on) in [
        (AttributeTypeSel::Encrypt, true),
        (AttributeTypeSel::Decrypt, true),
        (AttributeTypeSel::Sign, true),
        (AttributeTypeSel::Verify, true),
        (AttributeTypeSel::Wrap, true),
        (AttributeTypeSel::Unwrap, true),
        (AttributeTypeSel::Derive, true),
    ] {
        let a = ty.attr(on);
        if !t.iter().any(|x| x.attribute_type() == a.attribute_type()) {
            t.push(a);
        }
    }
    s.create_object(&t).expect("create secret key")
}

/// An AES key with every usage allowed.
pub fn aes_key(s: &Session, value: &[u8]) -> ObjectHandle {
    secret_key(s, KeyType::AES, value, &[])
}

/// A generic secret (HMAC, HKDF) with every usage allowed.
pub fn generic_key(s: &Session, value: &[u8]) -> ObjectHandle {
    secret_key(s, KeyType::GENERIC_SECRET, value, &[])
}

#[derive(Clone, Copy)]
enum AttributeTypeSel {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    Wrap,
    Unwrap,
    Derive,
}

impl AttributeTypeSel {
    fn attr(self, on: bool) -> Attribute {
        match self {
            Self::Encrypt => Attribute::Encrypt(on),
            Self::Decrypt => Attribute::Decrypt(on),
            Self::Sign => Attribute::Sign(on),
            Self::Verify => Attribute::Verify(on),
            Self::Wrap => Attribute::Wrap(on),
            Self::Unwrap => Attribute::Unwrap(on),
            Self::Derive => Attribute::Derive(on),
        }
    }
}

/// The value of an extractable secret key.
pub fn value_of(s: &Session, key: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(key, &[cryptoki::object::AttributeType::Value])
        .expect("get CKA_VALUE")
        .pop()
    {
        Some(Attribute::Value(v)) => v,
        other => panic!("CKA_VALUE: {other:?}"),
    }
}

/// Feeds `data` in chunks of `n` through `f`, concatenating the outputs.
pub fn chunked(data: &[u8], n: usize, mut f: impl FnMut(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(n.max(1)) {
        out.extend(f(c));
    }
    out
}

/// `n` bytes of a fixed pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| u8::try_from((i * 7 + 3) % 251).expect("byte"))
        .collect()
}

/// A `CKM_*` value from the short name the vector files use.
pub fn ckm(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "SHA_1" => CKM_SHA_1,
        "SHA224" => CKM_SHA224,
        "SHA256" => CKM_SHA256,
        "SHA384" => CKM_SHA384,
        "SHA512" => CKM_SHA512,
        "SHA512_224" => CKM_SHA512_224,
        "SHA512_256" => CKM_SHA512_256,
        "SHA3_224" => CKM_SHA3_224,
        "SHA3_256" => CKM_SHA3_256,
        "SHA3_384" => CKM_SHA3_384,
        "SHA3_512" => CKM_SHA3_512,
        "SHA_1_HMAC" => CKM_SHA_1_HMAC,
        "SHA_1_HMAC_GENERAL" => CKM_SHA_1_HMAC_GENERAL,
        "SHA224_HMAC" => CKM_SHA224_HMAC,
        "SHA224_HMAC_GENERAL" => CKM_SHA224_HMAC_GENERAL,
        "SHA256_HMAC" => CKM_SHA256_HMAC,
        "SHA256_HMAC_GENERAL" => CKM_SHA256_HMAC_GENERAL,
        "SHA384_HMAC" => CKM_SHA384_HMAC,
        "SHA384_HMAC_GENERAL" => CKM_SHA384_HMAC_GENERAL,
        "SHA512_HMAC" => CKM_SHA512_HMAC,
        "SHA512_HMAC_GENERAL" => CKM_SHA512_HMAC_GENERAL,
        "SHA512_224_HMAC" => CKM_SHA512_224_HMAC,
        "SHA512_224_HMAC_GENERAL" => CKM_SHA512_224_HMAC_GENERAL,
        "SHA512_256_HMAC" => CKM_SHA512_256_HMAC,
        "SHA512_256_HMAC_GENERAL" => CKM_SHA512_256_HMAC_GENERAL,
        "SHA3_224_HMAC" => CKM_SHA3_224_HMAC,
        "SHA3_224_HMAC_GENERAL" => CKM_SHA3_224_HMAC_GENERAL,
        "SHA3_256_HMAC" => CKM_SHA3_256_HMAC,
        "SHA3_256_HMAC_GENERAL" => CKM_SHA3_256_HMAC_GENERAL,
        "SHA3_384_HMAC" => CKM_SHA3_384_HMAC,
        "SHA3_384_HMAC_GENERAL" => CKM_SHA3_384_HMAC_GENERAL,
        "SHA3_512_HMAC" => CKM_SHA3_512_HMAC,
        "SHA3_512_HMAC_GENERAL" => CKM_SHA3_512_HMAC_GENERAL,
        "AES_CMAC" => CKM_AES_CMAC,
        "AES_CMAC_GENERAL" => CKM_AES_CMAC_GENERAL,
        other => panic!("unknown mechanism name {other}"),
    }
}

/// The lines of a `|`-separated vector file, comments skipped.
pub fn table(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .expect("vector file")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// Hex, with `-` for empty.
pub fn hd(s: &str) -> Vec<u8> {
    if s == "-" {
        Vec::new()
    } else {
        h(s)
    }
}
