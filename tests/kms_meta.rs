//! A key's description and tags through the built module with stock
//! `cryptoki` calls: `CKA_SOFTKMS_DESCRIPTION` and `CKA_SOFTKMS_TAGS`
//! (docs/vendor-abi.md): written and read, their limits, the canonical form
//! of tags, the policy they need, copies, and the file at rest.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use p11_testkit::keys::{vendor_attr, ManagedKey};
use p11_testkit::vendor::{
    CKA_SOFTKMS_DESCRIPTION as DESCRIPTION, CKA_SOFTKMS_POLICY as POLICY, CKA_SOFTKMS_TAGS as TAGS,
};

fn read(s: &Session, k: ObjectHandle, ty: cryptoki_sys::CK_ULONG) -> Vec<u8> {
    match &s
        .get_attributes(k, &[AttributeType::VendorDefined(ty)])
        .unwrap()[..]
    {
        [Attribute::VendorDefined((_, v))] => v.clone(),
        other => panic!("{other:?}"),
    }
}

fn set(s: &Session, k: ObjectHandle, ty: cryptoki_sys::CK_ULONG, v: &[u8]) -> Result<(), RvError> {
    s.update_attributes(k, &[vendor_attr(ty, v)])
        .map_err(|e| rv(Err::<(), _>(e)))
}

/// A P-256 token key pair (private key first) with `extra` on the private key.
fn ec_pair(s: &Session, label: &str, extra: &[Attribute]) -> (ObjectHandle, ObjectHandle) {
    let oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let public = [
        Attribute::EcParams(oid),
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    private.extend_from_slice(extra);
    let (p, k) = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .unwrap();
    (k, p)
}

#[test]
fn descriptions_and_tags_are_written_checked_and_read() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = ManagedKey::new("meta").all_usages().generate(&s);
    set(&s, k, DESCRIPTION, "orders of the shop".as_bytes()).unwrap();
    assert_eq!(read(&s, k, DESCRIPTION), b"orders of the shop");
    // Tags are kept in one form: sorted keys, no spaces.
    set(&s, k, TAGS, br#" { "team" : "shop", "env":"prod" } "#).unwrap();
    assert_eq!(read(&s, k, TAGS), br#"{"env":"prod","team":"shop"}"#);

    // Out of the rules: CKR_ATTRIBUTE_VALUE_INVALID, nothing changed.
    let long = vec![b'd'; 8193];
    assert_eq!(
        set(&s, k, DESCRIPTION, &long),
        Err(RvError::AttributeValueInvalid)
    );
    assert!(set(&s, k, DESCRIPTION, &[0xff, 0xfe]).is_err());
    assert!(set(&s, k, DESCRIPTION, &[b'd'; 8192]).is_ok());
    let fifty_one: Vec<String> = (0..51).map(|i| format!("\"k{i}\":\"\"")).collect();
    for bad in [
        br#"{"a":"1","a":"2"}"#.to_vec(),
        br#"{"aws:created-by":"x"}"#.to_vec(),
        br#"{"":"x"}"#.to_vec(),
        br#"{"a":1}"#.to_vec(),
        br#"["a"]"#.to_vec(),
        format!("{{\"{}\":\"\"}}", "k".repeat(129)).into_bytes(),
        format!("{{\"k\":\"{}\"}}", "v".repeat(257)).into_bytes(),
        format!("{{{}}}", fifty_one.join(",")).into_bytes(),
    ] {
        assert_eq!(
            set(&s, k, TAGS, &bad),
            Err(RvError::AttributeValueInvalid),
            "{}",
            String::from_utf8_lossy(&bad)
        );
    }
    assert_eq!(read(&s, k, TAGS), br#"{"env":"prod","team":"shop"}"#);

    // At creation too, on any key.
    let (private, _) = ec_pair(
        &s,
        "signer",
        &[
            vendor_attr(DESCRIPTION, b"signs invoices"),
            vendor_attr(TAGS, br#"{"b":"2","a":"1"}"#),
        ],
    );
    assert_eq!(read(&s, private, DESCRIPTION), b"signs invoices");
    assert_eq!(read(&s, private, TAGS), br#"{"a":"1","b":"2"}"#);
    let bad = ManagedKey::new("bad")
        .all_usages()
        .with(&[vendor_attr(TAGS, br#"{"aws:x":"y"}"#)]);
    let r = s.generate_key(&Mechanism::AesKeyGen, bad.template());
    assert_eq!(rv(r), RvError::AttributeValueInvalid);
}

#[test]
fn writes_need_manage_key_and_copies_keep_them() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let (private, _) = ec_pair(
        &s,
        "signer",
        &[
            vendor_attr(DESCRIPTION, b"kept"),
            vendor_attr(TAGS, br#"{"a":"1"}"#),
        ],
    );
    // A copy keeps them, and may not name them.
    let copy = s
        .copy_object(private, &[Attribute::Label(b"copy".to_vec())])
        .unwrap();
    assert_eq!(read(&s, copy, DESCRIPTION), b"kept");
    assert_eq!(read(&s, copy, TAGS), br#"{"a":"1"}"#);
    for ty in [DESCRIPTION, TAGS] {
        let r = s.copy_object(private, &[vendor_attr(ty, b"{}")]);
        assert_eq!(rv(r), RvError::AttributeReadOnly);
    }

    // A policy without ManageKey: neither may be written.
    let only = br#"{"statements": [{"principals": ["user"], "allow": ["SetPolicy", "Sign"]}]}"#;
    s.update_attributes(private, &[vendor_attr(POLICY, only)])
        .unwrap();
    assert_eq!(
        set(&s, private, DESCRIPTION, b"changed"),
        Err(RvError::KeyFunctionNotPermitted)
    );
    assert_eq!(
        set(&s, private, TAGS, br#"{"b":"2"}"#),
        Err(RvError::KeyFunctionNotPermitted)
    );
    assert_eq!(read(&s, private, DESCRIPTION), b"kept");
    assert_eq!(read(&s, private, TAGS), br#"{"a":"1"}"#);
}

#[test]
fn a_private_keys_description_is_sealed() {
    const SECRET: &[u8] = b"description-that-must-not-leak";
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        ec_pair(
            &s,
            "sealed",
            &[
                vendor_attr(DESCRIPTION, SECRET),
                vendor_attr(TAGS, br#"{"tag-that-must-not-leak":"x"}"#),
            ],
        );
    }
    ctx.restart();
    let path = ctx.token_path(0);
    let mut bytes = std::fs::read(&path).unwrap();
    for ext in ["-wal", "-journal"] {
        if let Ok(b) = std::fs::read(format!("{}{ext}", path.display())) {
            bytes.extend(b);
        }
    }
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(SECRET));
    assert!(!has(b"tag-that-must-not-leak"));
    // The public key's label is in clear: the scan can find what is there.
    assert!(has(b"sealed"));
}
