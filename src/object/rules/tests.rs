//! Unit tests of the attribute rules: defaults, create/copy/modify checks, templates.

use super::*;
use crate::object::attr::{encode_template, encode_ulongs};

const UID: &str = "uid-1";

fn b(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Attribute {
    Attribute::bool(ty, v)
}
fn u(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Attribute {
    Attribute::ulong(ty, v)
}
fn raw(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attribute {
    Attribute::new(ty, v.to_vec())
}
fn with(mut t: Template, extra: &[Attribute]) -> Template {
    t.extend(extra.iter().cloned());
    t
}
fn create(t: &Template) -> Result<AttrMap> {
    new_object(t, Origin::Create, &vec![], UID, false)
}
fn object(map: AttrMap) -> Object {
    Object::new(1, None, map)
}
fn get_bool(m: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> bool {
    decode_bool(ty, &m[&ty]).unwrap()
}
fn get_ulong(m: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
    decode_ulong(ty, &m[&ty]).unwrap()
}

fn aes_template() -> Template {
    vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, CKK_AES),
        raw(CKA_VALUE, &[0x11; 32]),
    ]
}
fn aes_key(extra: &[Attribute]) -> Object {
    object(create(&with(aes_template(), extra)).unwrap())
}
fn modulus() -> Vec<u8> {
    let mut m = vec![0xC5; 256];
    m[255] = 0x01;
    m
}
fn rsa_private_template() -> Template {
    vec![
        u(CKA_CLASS, CKO_PRIVATE_KEY),
        u(CKA_KEY_TYPE, CKK_RSA),
        raw(CKA_MODULUS, &modulus()),
        raw(CKA_PUBLIC_EXPONENT, &[1, 0, 1]),
        raw(CKA_PRIVATE_EXPONENT, &[0x42; 256]),
        raw(CKA_PRIME_1, &[0x43; 128]),
        raw(CKA_PRIME_2, &[0x44; 128]),
        raw(CKA_EXPONENT_1, &[0x45; 128]),
        raw(CKA_EXPONENT_2, &[0x46; 128]),
        raw(CKA_COEFFICIENT, &[0x47; 128]),
    ]
}
fn cert_template() -> Template {
    vec![
        u(CKA_CLASS, CKO_CERTIFICATE),
        u(CKA_CERTIFICATE_TYPE, CKC_X_509),
        raw(CKA_SUBJECT, b"\x30\x00"),
        raw(CKA_VALUE, b"\x30\x03\x02\x01\x01"),
    ]
}

#[test]
fn create_secret_key_fills_defaults() {
    let m = create(&aes_template()).unwrap();
    for (ty, v) in [
        (CKA_TOKEN, false),
        (CKA_PRIVATE, true),
        (CKA_MODIFIABLE, true),
        (CKA_COPYABLE, true),
        (CKA_DESTROYABLE, true),
        (CKA_DERIVE, false),
        (CKA_ENCRYPT, true),
        (CKA_DECRYPT, true),
        (CKA_SIGN, true),
        (CKA_VERIFY, true),
        (CKA_WRAP, true),
        (CKA_UNWRAP, true),
        (CKA_SENSITIVE, false),
        (CKA_EXTRACTABLE, true),
        (CKA_LOCAL, false),
        (CKA_ALWAYS_SENSITIVE, false),
        (CKA_NEVER_EXTRACTABLE, false),
        (CKA_WRAP_WITH_TRUSTED, false),
        (CKA_TRUSTED, false),
    ] {
        assert_eq!(get_bool(&m, ty), v, "attribute 0x{ty:x}");
    }
    for ty in [CKA_LABEL, CKA_ID, CKA_START_DATE, CKA_END_DATE] {
        assert!(m[&ty].is_empty(), "attribute 0x{ty:x}");
    }
    assert_eq!(
        get_ulong(&m, CKA_KEY_GEN_MECHANISM),
        CK_UNAVAILABLE_INFORMATION
    );
    assert_eq!(get_ulong(&m, CKA_VALUE_LEN), 32);
    assert_eq!(m[&CKA_UNIQUE_ID].as_slice(), UID.as_bytes());
    assert!(
        !m.contains_key(&CKA_SIGN_RECOVER),
        "secret keys have no CKA_SIGN_RECOVER"
    );
    assert!(!m.contains_key(&CKA_ALLOWED_MECHANISMS));
}

#[test]
fn template_values_override_defaults() {
    let m = create(&with(
        aes_template(),
        &[
            b(CKA_TOKEN, true),
            raw(CKA_LABEL, b"my key"),
            b(CKA_ENCRYPT, false),
            raw(CKA_START_DATE, b"20240229"),
        ],
    ))
    .unwrap();
    assert!(get_bool(&m, CKA_TOKEN));
    assert!(!get_bool(&m, CKA_ENCRYPT));
    assert_eq!(m[&CKA_LABEL].as_slice(), b"my key");
    assert_eq!(m[&CKA_START_DATE].as_slice(), b"20240229");
}

#[test]
fn booleans_are_stored_canonically() {
    let m = create(&with(aes_template(), &[raw(CKA_TOKEN, &[0x7f])])).unwrap();
    assert_eq!(m[&CKA_TOKEN].as_slice(), &[CK_TRUE]);
}

#[test]
fn duplicate_attribute_is_inconsistent() {
    let t = with(
        aes_template(),
        &[raw(CKA_LABEL, b"a"), raw(CKA_LABEL, b"a")],
    );
    assert!(matches!(create(&t), Err(Error::TemplateInconsistent(_))));
}

#[test]
fn missing_required_attributes() {
    let no_class = vec![u(CKA_KEY_TYPE, CKK_AES), raw(CKA_VALUE, &[0; 16])];
    assert_eq!(
        create(&no_class),
        Err(Error::TemplateIncomplete { missing: CKA_CLASS })
    );
    let no_type = vec![u(CKA_CLASS, CKO_SECRET_KEY), raw(CKA_VALUE, &[0; 16])];
    assert_eq!(
        create(&no_type),
        Err(Error::TemplateIncomplete {
            missing: CKA_KEY_TYPE
        })
    );
    let no_value = vec![u(CKA_CLASS, CKO_SECRET_KEY), u(CKA_KEY_TYPE, CKK_AES)];
    assert_eq!(
        create(&no_value),
        Err(Error::TemplateIncomplete { missing: CKA_VALUE })
    );
    let no_cert_type = vec![u(CKA_CLASS, CKO_CERTIFICATE), raw(CKA_VALUE, b"x")];
    assert_eq!(
        create(&no_cert_type),
        Err(Error::TemplateIncomplete {
            missing: CKA_CERTIFICATE_TYPE
        })
    );
    let mut no_subject = cert_template();
    no_subject.retain(|a| a.ty != CKA_SUBJECT);
    assert_eq!(
        create(&no_subject),
        Err(Error::TemplateIncomplete {
            missing: CKA_SUBJECT
        })
    );
    let mut no_pub_exp = rsa_private_template();
    no_pub_exp.retain(|a| a.ty != CKA_PUBLIC_EXPONENT);
    assert_eq!(
        create(&no_pub_exp),
        Err(Error::TemplateIncomplete {
            missing: CKA_PUBLIC_EXPONENT
        })
    );
    let ec_pub = vec![
        u(CKA_CLASS, CKO_PUBLIC_KEY),
        u(CKA_KEY_TYPE, CKK_EC),
        raw(CKA_EC_PARAMS, b"\x06\x08"),
    ];
    assert_eq!(
        create(&ec_pub),
        Err(Error::TemplateIncomplete {
            missing: CKA_EC_POINT
        })
    );
}

#[test]
fn attributes_not_of_the_class_are_invalid() {
    let t = with(aes_template(), &[raw(CKA_MODULUS, &[1])]);
    assert_eq!(create(&t), Err(Error::AttributeTypeInvalid(CKA_MODULUS)));
    let t = with(aes_template(), &[b(CKA_SIGN_RECOVER, true)]);
    assert_eq!(
        create(&t),
        Err(Error::AttributeTypeInvalid(CKA_SIGN_RECOVER))
    );
    let vendor = CKA_VENDOR_DEFINED | 0x534B_0000 | 0x7F; // not a SoftKMS attribute
    let t = with(aes_template(), &[raw(vendor, &[1])]);
    assert_eq!(create(&t), Err(Error::AttributeTypeInvalid(vendor)));
    let t = with(cert_template(), &[b(CKA_SENSITIVE, true)]);
    assert_eq!(create(&t), Err(Error::AttributeTypeInvalid(CKA_SENSITIVE)));
}

#[test]
fn malformed_values_are_invalid() {
    let cases: Vec<(Attribute, CK_ATTRIBUTE_TYPE)> = vec![
        (raw(CKA_TOKEN, &[1, 0]), CKA_TOKEN),
        (raw(CKA_TOKEN, &[]), CKA_TOKEN),
        (raw(CKA_START_DATE, b"20241301"), CKA_START_DATE),
        (raw(CKA_START_DATE, b"20240100"), CKA_START_DATE),
        (raw(CKA_END_DATE, b"2024010"), CKA_END_DATE),
        (raw(CKA_END_DATE, b"2024-1-1"), CKA_END_DATE),
        (raw(CKA_LABEL, &[0xff, 0xfe]), CKA_LABEL),
        (raw(CKA_ALLOWED_MECHANISMS, &[0; 9]), CKA_ALLOWED_MECHANISMS),
        (raw(CKA_WRAP_TEMPLATE, &[1, 2, 3]), CKA_WRAP_TEMPLATE),
    ];
    for (a, ty) in cases {
        assert_eq!(
            create(&with(aes_template(), &[a])),
            Err(Error::AttributeValueInvalid(ty))
        );
    }
    // A nested template with a duplicate is malformed too.
    let nested = encode_template(&[b(CKA_SENSITIVE, true), b(CKA_SENSITIVE, true)]);
    let t = with(aes_template(), &[raw(CKA_UNWRAP_TEMPLATE, &nested)]);
    assert_eq!(
        create(&t),
        Err(Error::AttributeValueInvalid(CKA_UNWRAP_TEMPLATE))
    );
    // CKA_CLASS of the wrong size, unknown class, key type, certificate type.
    let t = vec![raw(CKA_CLASS, &[4, 0, 0, 0]), u(CKA_KEY_TYPE, CKK_AES)];
    assert_eq!(create(&t), Err(Error::AttributeValueInvalid(CKA_CLASS)));
    let t = vec![u(CKA_CLASS, 0x1234)];
    assert_eq!(create(&t), Err(Error::AttributeValueInvalid(CKA_CLASS)));
    let t = vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, 0x9999),
        raw(CKA_VALUE, &[0; 16]),
    ];
    assert_eq!(create(&t), Err(Error::AttributeValueInvalid(CKA_KEY_TYPE)));
    let t = vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, CKK_RSA),
        raw(CKA_VALUE, &[0; 16]),
    ];
    assert_eq!(create(&t), Err(Error::AttributeValueInvalid(CKA_KEY_TYPE)));
    let mut t = cert_template();
    t[1] = u(CKA_CERTIFICATE_TYPE, CKC_WTLS);
    assert_eq!(
        create(&t),
        Err(Error::AttributeValueInvalid(CKA_CERTIFICATE_TYPE))
    );
    let t = with(cert_template(), &[u(CKA_CERTIFICATE_CATEGORY, 4)]);
    assert_eq!(
        create(&t),
        Err(Error::AttributeValueInvalid(CKA_CERTIFICATE_CATEGORY))
    );
}

#[test]
fn aes_key_length_must_be_16_24_or_32() {
    for len in [0usize, 1, 15, 17, 31, 33, 64] {
        let t = vec![
            u(CKA_CLASS, CKO_SECRET_KEY),
            u(CKA_KEY_TYPE, CKK_AES),
            raw(CKA_VALUE, &vec![1; len]),
        ];
        assert_eq!(
            create(&t),
            Err(Error::AttributeValueInvalid(CKA_VALUE)),
            "length {len}"
        );
    }
    for len in [16usize, 24, 32] {
        let t = vec![
            u(CKA_CLASS, CKO_SECRET_KEY),
            u(CKA_KEY_TYPE, CKK_AES),
            raw(CKA_VALUE, &vec![1; len]),
        ];
        assert_eq!(
            get_ulong(&create(&t).unwrap(), CKA_VALUE_LEN),
            CK_ULONG::try_from(len).unwrap()
        );
    }
    // Generic secrets and HMAC keys take any length.
    for kt in [CKK_GENERIC_SECRET, CKK_SHA256_HMAC] {
        let t = vec![
            u(CKA_CLASS, CKO_SECRET_KEY),
            u(CKA_KEY_TYPE, kt),
            raw(CKA_VALUE, &[9; 5]),
        ];
        assert_eq!(get_ulong(&create(&t).unwrap(), CKA_VALUE_LEN), 5);
    }
}

#[test]
fn token_computed_attributes_cannot_be_created() {
    for a in [
        b(CKA_LOCAL, true),
        b(CKA_ALWAYS_SENSITIVE, true),
        b(CKA_NEVER_EXTRACTABLE, true),
        u(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN),
        raw(CKA_UNIQUE_ID, b"mine"),
        u(CKA_VALUE_LEN, 32),
    ] {
        let ty = a.ty;
        assert_eq!(
            create(&with(aes_template(), &[a])),
            Err(Error::AttributeReadOnly(ty))
        );
    }
    let t = vec![
        u(CKA_CLASS, CKO_PUBLIC_KEY),
        u(CKA_KEY_TYPE, CKK_RSA),
        raw(CKA_MODULUS, &modulus()),
        raw(CKA_PUBLIC_EXPONENT, &[3]),
        u(CKA_MODULUS_BITS, 2048),
    ];
    assert_eq!(create(&t), Err(Error::AttributeReadOnly(CKA_MODULUS_BITS)));
}

#[test]
fn only_the_so_may_create_trusted_objects() {
    let t = with(aes_template(), &[b(CKA_TRUSTED, true)]);
    assert_eq!(create(&t), Err(Error::AttributeReadOnly(CKA_TRUSTED)));
    let m = new_object(&t, Origin::Create, &vec![], UID, true).unwrap();
    assert!(get_bool(&m, CKA_TRUSTED));
    // FALSE may be given by anyone.
    assert!(create(&with(aes_template(), &[b(CKA_TRUSTED, false)])).is_ok());
}

fn aes_gen() -> Origin {
    Origin::Generate {
        mechanism: CKM_AES_KEY_GEN,
    }
}
fn aes_generated() -> Template {
    vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, CKK_AES),
        raw(CKA_VALUE, &[3; 32]),
    ]
}

#[test]
fn generated_key_attributes() {
    let t = vec![
        u(CKA_VALUE_LEN, 32),
        b(CKA_SENSITIVE, true),
        b(CKA_EXTRACTABLE, false),
    ];
    let m = new_object(&t, aes_gen(), &aes_generated(), UID, false).unwrap();
    assert!(get_bool(&m, CKA_LOCAL));
    assert_eq!(get_ulong(&m, CKA_KEY_GEN_MECHANISM), CKM_AES_KEY_GEN);
    assert!(get_bool(&m, CKA_ALWAYS_SENSITIVE));
    assert!(get_bool(&m, CKA_NEVER_EXTRACTABLE));
    assert_eq!(m[&CKA_VALUE].as_slice(), &[3; 32]);
    // Without the flags: not sensitive (the standard's default), but
    // unextractable (a KMS's), so never extractable and still hidden.
    let m = new_object(
        &vec![u(CKA_VALUE_LEN, 32)],
        aes_gen(),
        &aes_generated(),
        UID,
        false,
    )
    .unwrap();
    assert!(!get_bool(&m, CKA_ALWAYS_SENSITIVE));
    assert!(!get_bool(&m, CKA_EXTRACTABLE));
    assert!(get_bool(&m, CKA_NEVER_EXTRACTABLE));
    assert!(hides_secrets(&m));
    // Asking for an extractable key is honoured, and recorded.
    let m = new_object(
        &vec![u(CKA_VALUE_LEN, 32), b(CKA_EXTRACTABLE, true)],
        aes_gen(),
        &aes_generated(),
        UID,
        false,
    )
    .unwrap();
    assert!(get_bool(&m, CKA_EXTRACTABLE));
    assert!(!get_bool(&m, CKA_NEVER_EXTRACTABLE));
    assert!(!hides_secrets(&m));
    // CKA_CLASS / CKA_KEY_TYPE may repeat what the mechanism makes.
    let t = vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, CKK_AES),
        u(CKA_VALUE_LEN, 32),
    ];
    assert!(new_object(&t, aes_gen(), &aes_generated(), UID, false).is_ok());
}

#[test]
fn generate_errors() {
    let gen = |t: &Template| new_object(t, aes_gen(), &aes_generated(), UID, false);
    assert_eq!(
        gen(&vec![]),
        Err(Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN
        })
    );
    assert_eq!(
        gen(&vec![u(CKA_VALUE_LEN, 32), raw(CKA_VALUE, &[3; 32])]),
        Err(Error::AttributeReadOnly(CKA_VALUE))
    );
    assert_eq!(
        gen(&vec![u(CKA_VALUE_LEN, 32), b(CKA_LOCAL, true)]),
        Err(Error::AttributeReadOnly(CKA_LOCAL))
    );
    let t = vec![u(CKA_KEY_TYPE, CKK_GENERIC_SECRET), u(CKA_VALUE_LEN, 32)];
    assert!(matches!(gen(&t), Err(Error::TemplateInconsistent(_))));
    let t = vec![u(CKA_CLASS, CKO_DATA), u(CKA_VALUE_LEN, 32)];
    assert!(matches!(gen(&t), Err(Error::TemplateInconsistent(_))));
    let t = vec![u(CKA_VALUE_LEN, 16)];
    assert!(matches!(gen(&t), Err(Error::TemplateInconsistent(_))));
}

#[test]
fn generated_rsa_key_pair() {
    let origin = Origin::Generate {
        mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN,
    };
    let public_made = vec![
        u(CKA_CLASS, CKO_PUBLIC_KEY),
        u(CKA_KEY_TYPE, CKK_RSA),
        raw(CKA_MODULUS, &modulus()),
        raw(CKA_PUBLIC_EXPONENT, &[1, 0, 1]),
    ];
    let t = vec![u(CKA_MODULUS_BITS, 2048), b(CKA_TOKEN, true)];
    let m = new_object(&t, origin, &public_made, UID, false).unwrap();
    assert_eq!(get_ulong(&m, CKA_MODULUS_BITS), 2048);
    assert!(!get_bool(&m, CKA_PRIVATE));
    assert!(get_bool(&m, CKA_VERIFY) && get_bool(&m, CKA_VERIFY_RECOVER));
    assert!(get_bool(&m, CKA_LOCAL));
    assert_eq!(
        new_object(&vec![], origin, &public_made, UID, false),
        Err(Error::TemplateIncomplete {
            missing: CKA_MODULUS_BITS
        })
    );
    assert!(matches!(
        new_object(
            &vec![u(CKA_MODULUS_BITS, 3072)],
            origin,
            &public_made,
            UID,
            false
        ),
        Err(Error::TemplateInconsistent(_))
    ));
    let mut private_made = rsa_private_template();
    private_made.retain(|a| a.ty != CKA_CLASS);
    private_made.push(u(CKA_CLASS, CKO_PRIVATE_KEY));
    let m = new_object(
        &vec![b(CKA_SENSITIVE, true)],
        origin,
        &private_made,
        UID,
        false,
    )
    .unwrap();
    assert_eq!(get_ulong(&m, CKA_MODULUS_BITS), 2048);
    assert!(get_bool(&m, CKA_ALWAYS_SENSITIVE) && get_bool(&m, CKA_SIGN_RECOVER));
    // The private half stays in the token unless the template says otherwise.
    assert!(!get_bool(&m, CKA_EXTRACTABLE) && get_bool(&m, CKA_NEVER_EXTRACTABLE));
    assert_eq!(
        new_object(
            &vec![raw(CKA_MODULUS, &modulus())],
            origin,
            &private_made,
            UID,
            false
        ),
        Err(Error::AttributeReadOnly(CKA_MODULUS))
    );
}

#[test]
fn created_rsa_public_key_gets_modulus_bits() {
    let mut m = modulus();
    m[0] = 0x00;
    m[1] = 0x01; // leading zero byte, then 249 bits left in the rest.
    let t = vec![
        u(CKA_CLASS, CKO_PUBLIC_KEY),
        u(CKA_KEY_TYPE, CKK_RSA),
        raw(CKA_MODULUS, &m),
        raw(CKA_PUBLIC_EXPONENT, &[3]),
    ];
    assert_eq!(get_ulong(&create(&t).unwrap(), CKA_MODULUS_BITS), 2033);
    assert_eq!(bit_length(&[0, 0, 0x80]), 8);
    assert_eq!(bit_length(&[0]), 0);
}

#[test]
fn created_ec_keys() {
    let params = b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07";
    let t = vec![
        u(CKA_CLASS, CKO_PUBLIC_KEY),
        u(CKA_KEY_TYPE, CKK_EC),
        raw(CKA_EC_PARAMS, params),
        raw(CKA_EC_POINT, &[4; 67]),
    ];
    assert!(create(&t).is_ok());
    let t = vec![
        u(CKA_CLASS, CKO_PRIVATE_KEY),
        u(CKA_KEY_TYPE, CKK_EC),
        raw(CKA_EC_PARAMS, params),
        raw(CKA_VALUE, &[]),
    ];
    assert_eq!(create(&t), Err(Error::AttributeValueInvalid(CKA_VALUE)));
    let t = vec![
        u(CKA_CLASS, CKO_PRIVATE_KEY),
        u(CKA_KEY_TYPE, CKK_EC),
        raw(CKA_EC_PARAMS, params),
        raw(CKA_VALUE, &[5; 32]),
    ];
    let m = create(&t).unwrap();
    assert!(
        get_bool(&m, CKA_PRIVATE)
            && !get_bool(&m, CKA_SENSITIVE)
            && !get_bool(&m, CKA_ALWAYS_AUTHENTICATE)
    );
}

#[test]
fn unwrapped_key_attributes() {
    let made = vec![raw(CKA_VALUE, &[8; 16])];
    let unwrap = |t: &Template| new_object(t, Origin::Unwrap, &made, UID, false);
    let t = vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, CKK_AES),
        b(CKA_SENSITIVE, true),
    ];
    let m = unwrap(&t).unwrap();
    assert!(!get_bool(&m, CKA_LOCAL));
    assert!(!get_bool(&m, CKA_ALWAYS_SENSITIVE));
    // Unextractable by default; never "never extractable" (C_UnwrapKey).
    assert!(!get_bool(&m, CKA_EXTRACTABLE));
    assert!(!get_bool(&m, CKA_NEVER_EXTRACTABLE));
    let m = unwrap(&with(t.clone(), &[b(CKA_EXTRACTABLE, true)])).unwrap();
    assert!(get_bool(&m, CKA_EXTRACTABLE) && !get_bool(&m, CKA_NEVER_EXTRACTABLE));
    assert_eq!(
        get_ulong(&m, CKA_KEY_GEN_MECHANISM),
        CK_UNAVAILABLE_INFORMATION
    );
    assert_eq!(get_ulong(&m, CKA_VALUE_LEN), 16);
    assert!(unwrap(&with(t.clone(), &[u(CKA_VALUE_LEN, 16)])).is_ok());
    assert!(matches!(
        unwrap(&with(t.clone(), &[u(CKA_VALUE_LEN, 32)])),
        Err(Error::TemplateInconsistent(_))
    ));
    assert_eq!(
        unwrap(&with(t, &[raw(CKA_VALUE, &[8; 16])])),
        Err(Error::AttributeReadOnly(CKA_VALUE))
    );
    let t = vec![u(CKA_CLASS, CKO_SECRET_KEY)];
    assert_eq!(
        unwrap(&t),
        Err(Error::TemplateIncomplete {
            missing: CKA_KEY_TYPE
        })
    );
}

#[test]
fn derived_key_takes_the_mechanisms_history() {
    let t = vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, CKK_AES),
        u(CKA_VALUE_LEN, 16),
    ];
    let made = vec![
        raw(CKA_VALUE, &[8; 16]),
        b(CKA_ALWAYS_SENSITIVE, true),
        b(CKA_NEVER_EXTRACTABLE, true),
    ];
    let m = new_object(&t, Origin::Derive, &made, UID, false).unwrap();
    assert!(get_bool(&m, CKA_ALWAYS_SENSITIVE) && get_bool(&m, CKA_NEVER_EXTRACTABLE));
    assert!(!get_bool(&m, CKA_LOCAL));
    let m = new_object(
        &t,
        Origin::Derive,
        &vec![raw(CKA_VALUE, &[8; 16])],
        UID,
        false,
    )
    .unwrap();
    assert!(!get_bool(&m, CKA_ALWAYS_SENSITIVE));
    // A derived key keeps the extractable default (docs/mechanisms.md).
    assert!(get_bool(&m, CKA_EXTRACTABLE));
    let t = with(t, &[b(CKA_ALWAYS_SENSITIVE, true)]);
    assert_eq!(
        new_object(&t, Origin::Derive, &made, UID, false),
        Err(Error::AttributeReadOnly(CKA_ALWAYS_SENSITIVE))
    );
}

#[test]
fn certificate_and_data_defaults() {
    let m = create(&cert_template()).unwrap();
    assert_eq!(get_ulong(&m, CKA_CERTIFICATE_CATEGORY), 0);
    assert!(!get_bool(&m, CKA_PRIVATE) && !get_bool(&m, CKA_TRUSTED));
    for ty in [CKA_ID, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_URL, CKA_LABEL] {
        assert!(m[&ty].is_empty());
    }
    let m = create(&vec![u(CKA_CLASS, CKO_DATA)]).unwrap();
    for ty in [CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE] {
        assert!(m[&ty].is_empty());
    }
    assert!(!get_bool(&m, CKA_PRIVATE));
    assert!(!m.contains_key(&CKA_KEY_TYPE));
    // An empty certificate value needs a URL.
    let mut t = cert_template();
    t[3] = raw(CKA_VALUE, b"");
    assert_eq!(create(&t), Err(Error::AttributeValueInvalid(CKA_VALUE)));
    assert!(create(&with(t, &[raw(CKA_URL, b"https://example.com/c.der")])).is_ok());
}

#[test]
fn check_value_from_the_module_must_match_the_callers() {
    let t = with(cert_template(), &[raw(CKA_CHECK_VALUE, &[1, 2, 3])]);
    let made = vec![raw(CKA_CHECK_VALUE, &[1, 2, 4])];
    assert_eq!(
        new_object(&t, Origin::Create, &made, UID, false),
        Err(Error::AttributeValueInvalid(CKA_CHECK_VALUE))
    );
    let m = new_object(&cert_template(), Origin::Create, &made, UID, false).unwrap();
    assert_eq!(m[&CKA_CHECK_VALUE].as_slice(), &[1, 2, 4]);
}

#[test]
fn always_authenticate_needs_a_private_object() {
    let t = with(
        rsa_private_template(),
        &[b(CKA_ALWAYS_AUTHENTICATE, true), b(CKA_PRIVATE, false)],
    );
    assert!(matches!(create(&t), Err(Error::TemplateInconsistent(_))));
    assert!(create(&with(
        rsa_private_template(),
        &[b(CKA_ALWAYS_AUTHENTICATE, true)]
    ))
    .is_ok());
}

#[test]
fn set_attribute_rules() {
    let key = aes_key(&[]);
    let m = set_attributes(
        &key,
        &vec![raw(CKA_LABEL, b"new"), b(CKA_ENCRYPT, false)],
        false,
    )
    .unwrap();
    assert_eq!(m[&CKA_LABEL].as_slice(), b"new");
    assert!(!get_bool(&m, CKA_ENCRYPT));
    // The first error wins and nothing of the template is applied.
    assert_eq!(
        set_attributes(
            &key,
            &vec![raw(CKA_LABEL, b"new"), u(CKA_CLASS, CKO_SECRET_KEY)],
            false
        ),
        Err(Error::AttributeReadOnly(CKA_CLASS))
    );
    assert_eq!(key.get(CKA_LABEL), Some(&b""[..]));
    for a in [
        raw(CKA_VALUE, &[0; 32]),
        u(CKA_KEY_TYPE, CKK_AES),
        b(CKA_PRIVATE, false),
        b(CKA_TOKEN, true),
        b(CKA_LOCAL, true),
    ] {
        let ty = a.ty;
        assert_eq!(
            set_attributes(&key, &vec![a], false),
            Err(Error::AttributeReadOnly(ty))
        );
    }
    assert_eq!(
        set_attributes(&key, &vec![raw(CKA_MODULUS, &[1])], false),
        Err(Error::AttributeTypeInvalid(CKA_MODULUS))
    );
    assert_eq!(
        set_attributes(&key, &vec![raw(CKA_LABEL, &[0xc0])], false),
        Err(Error::AttributeValueInvalid(CKA_LABEL))
    );
    assert_eq!(
        set_attributes(&key, &vec![raw(CKA_ENCRYPT, &[])], false),
        Err(Error::AttributeValueInvalid(CKA_ENCRYPT))
    );
    assert!(matches!(
        set_attributes(
            &key,
            &vec![raw(CKA_LABEL, b"a"), raw(CKA_LABEL, b"b")],
            false
        ),
        Err(Error::TemplateInconsistent(_))
    ));
    let fixed = aes_key(&[b(CKA_MODIFIABLE, false)]);
    assert_eq!(
        set_attributes(&fixed, &vec![raw(CKA_LABEL, b"x")], false),
        Err(Error::ActionProhibited)
    );
}

#[test]
fn direction_rules_on_set() {
    let key = aes_key(&[]);
    let m = set_attributes(
        &key,
        &vec![b(CKA_SENSITIVE, true), b(CKA_EXTRACTABLE, false)],
        false,
    )
    .unwrap();
    assert!(get_bool(&m, CKA_SENSITIVE) && !get_bool(&m, CKA_EXTRACTABLE));
    assert!(
        !get_bool(&m, CKA_ALWAYS_SENSITIVE),
        "a key made sensitive later was not always sensitive"
    );
    let locked = object(m);
    for a in [
        b(CKA_SENSITIVE, false),
        b(CKA_SENSITIVE, true),
        b(CKA_EXTRACTABLE, true),
        b(CKA_EXTRACTABLE, false),
    ] {
        let ty = a.ty;
        assert_eq!(
            set_attributes(&locked, &vec![a], false),
            Err(Error::AttributeReadOnly(ty))
        );
    }
    let m = set_attributes(&key, &vec![b(CKA_WRAP_WITH_TRUSTED, true)], false).unwrap();
    assert_eq!(
        set_attributes(&object(m), &vec![b(CKA_WRAP_WITH_TRUSTED, false)], false),
        Err(Error::AttributeReadOnly(CKA_WRAP_WITH_TRUSTED))
    );
    let m = set_attributes(&key, &vec![b(CKA_COPYABLE, false)], false).unwrap();
    assert_eq!(
        set_attributes(&object(m), &vec![b(CKA_COPYABLE, true)], false),
        Err(Error::AttributeReadOnly(CKA_COPYABLE))
    );
    assert_eq!(
        set_attributes(&key, &vec![b(CKA_TRUSTED, true)], false),
        Err(Error::AttributeReadOnly(CKA_TRUSTED))
    );
    assert!(get_bool(
        &set_attributes(&key, &vec![b(CKA_TRUSTED, true)], true).unwrap(),
        CKA_TRUSTED
    ));
}

#[test]
fn certificate_modification() {
    let cert = object(create(&cert_template()).unwrap());
    assert!(set_attributes(
        &cert,
        &vec![
            raw(CKA_ID, b"1"),
            raw(CKA_ISSUER, b"i"),
            raw(CKA_SERIAL_NUMBER, b"s")
        ],
        false
    )
    .is_ok());
    for ty in [CKA_SUBJECT, CKA_VALUE, CKA_START_DATE] {
        assert_eq!(
            set_attributes(&cert, &vec![raw(ty, b"")], false),
            Err(Error::AttributeReadOnly(ty))
        );
    }
    assert_eq!(
        set_attributes(&cert, &vec![u(CKA_CERTIFICATE_CATEGORY, 1)], false),
        Err(Error::AttributeReadOnly(CKA_CERTIFICATE_CATEGORY))
    );
    let trusted = object(
        new_object(
            &with(cert_template(), &[b(CKA_TRUSTED, true)]),
            Origin::Create,
            &vec![],
            UID,
            true,
        )
        .unwrap(),
    );
    assert_eq!(
        set_attributes(&trusted, &vec![raw(CKA_ID, b"1")], true),
        Err(Error::ActionProhibited)
    );
}

#[test]
fn copy_rules() {
    let key = object(
        new_object(
            &vec![
                u(CKA_VALUE_LEN, 32),
                b(CKA_SENSITIVE, false),
                b(CKA_EXTRACTABLE, true),
            ],
            aes_gen(),
            &aes_generated(),
            UID,
            false,
        )
        .unwrap(),
    );
    let t = vec![
        b(CKA_TOKEN, true),
        b(CKA_PRIVATE, false),
        b(CKA_MODIFIABLE, false),
        b(CKA_DESTROYABLE, false),
        raw(CKA_LABEL, b"copy"),
    ];
    let m = copy_object(&key, &t, "uid-2").unwrap();
    assert!(get_bool(&m, CKA_TOKEN) && !get_bool(&m, CKA_PRIVATE) && !get_bool(&m, CKA_MODIFIABLE));
    assert_eq!(m[&CKA_UNIQUE_ID].as_slice(), b"uid-2");
    assert!(get_bool(&m, CKA_LOCAL), "a copy of a local key is local");
    assert_eq!(get_ulong(&m, CKA_KEY_GEN_MECHANISM), CKM_AES_KEY_GEN);
    let m = copy_object(
        &key,
        &vec![b(CKA_SENSITIVE, true), b(CKA_EXTRACTABLE, false)],
        "uid-3",
    )
    .unwrap();
    assert!(get_bool(&m, CKA_SENSITIVE) && !get_bool(&m, CKA_ALWAYS_SENSITIVE));
    assert!(!get_bool(&m, CKA_NEVER_EXTRACTABLE));
    let locked = object(m);
    assert_eq!(
        copy_object(&locked, &vec![b(CKA_EXTRACTABLE, true)], "u"),
        Err(Error::AttributeReadOnly(CKA_EXTRACTABLE))
    );
    assert_eq!(
        copy_object(&locked, &vec![b(CKA_SENSITIVE, false)], "u"),
        Err(Error::AttributeReadOnly(CKA_SENSITIVE))
    );
    for a in [
        u(CKA_CLASS, CKO_SECRET_KEY),
        raw(CKA_VALUE, &[0; 32]),
        raw(CKA_UNIQUE_ID, b"x"),
        b(CKA_LOCAL, false),
    ] {
        let ty = a.ty;
        assert_eq!(
            copy_object(&key, &vec![a], "u"),
            Err(Error::AttributeReadOnly(ty))
        );
    }
    assert_eq!(
        copy_object(&key, &vec![raw(CKA_MODULUS, &[1])], "u"),
        Err(Error::AttributeTypeInvalid(CKA_MODULUS))
    );
    assert_eq!(
        copy_object(&key, &vec![b(CKA_TRUSTED, true)], "u"),
        Err(Error::AttributeReadOnly(CKA_TRUSTED))
    );
    let uncopyable = aes_key(&[b(CKA_COPYABLE, false)]);
    assert_eq!(
        copy_object(&uncopyable, &vec![], "u"),
        Err(Error::ActionProhibited)
    );
}

#[test]
fn sensitive_reads() {
    let value = |r: AttrRead| match r {
        AttrRead::Value(v) => Some(v.to_vec()),
        _ => None,
    };
    let plain = aes_key(&[]);
    assert_eq!(
        value(read_attribute(&plain, CKA_VALUE)),
        Some(vec![0x11; 32])
    );
    for key in [
        aes_key(&[b(CKA_SENSITIVE, true)]),
        aes_key(&[b(CKA_EXTRACTABLE, false)]),
    ] {
        assert!(matches!(
            read_attribute(&key, CKA_VALUE),
            AttrRead::Sensitive
        ));
        assert_eq!(
            value(read_attribute(&key, CKA_VALUE_LEN)),
            Some(32usize.to_ne_bytes().to_vec())
        );
        assert!(value(read_attribute(&key, CKA_LABEL)).is_some());
    }
    assert!(!format!("{:?}", read_attribute(&plain, CKA_VALUE)).contains("17"));
    assert!(matches!(
        read_attribute(&plain, CKA_MODULUS),
        AttrRead::Invalid
    ));
    assert!(matches!(
        read_attribute(&plain, CKA_ALLOWED_MECHANISMS),
        AttrRead::Invalid
    ));
    let rsa = object(create(&with(rsa_private_template(), &[b(CKA_SENSITIVE, true)])).unwrap());
    for ty in [
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
    ] {
        assert!(matches!(read_attribute(&rsa, ty), AttrRead::Sensitive));
    }
    assert_eq!(value(read_attribute(&rsa, CKA_MODULUS)), Some(modulus()));
    assert!(value(read_attribute(&rsa, CKA_PUBLIC_EXPONENT)).is_some());
}

#[test]
fn key_material_and_size() {
    let aes = create(&aes_template()).unwrap();
    assert_eq!(key_material_types(&aes), vec![CKA_VALUE]);
    let mut rsa = key_material_types(&create(&rsa_private_template()).unwrap());
    rsa.sort_unstable();
    let mut want = vec![
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
    ];
    want.sort_unstable();
    assert_eq!(rsa, want);
    assert!(key_material_types(&create(&cert_template()).unwrap()).is_empty());
    assert!(key_material_types(&create(&vec![u(CKA_CLASS, CKO_DATA)]).unwrap()).is_empty());
    let obj = object(aes);
    let values: usize = obj.attrs().values().map(|v| v.len()).sum();
    assert!(object_size(&obj) > values);
}

#[test]
fn key_use() {
    let key = aes_key(&[b(CKA_DECRYPT, false)]);
    assert!(check_key_use(&key, CKA_ENCRYPT, CKM_AES_GCM).is_ok());
    assert!(matches!(
        check_key_use(&key, CKA_DECRYPT, CKM_AES_GCM),
        Err(Error::KeyFunctionNotPermitted(_))
    ));
    assert!(matches!(
        check_key_use(&key, CKA_DERIVE, CKM_AES_GCM),
        Err(Error::KeyFunctionNotPermitted(_))
    ));
    assert!(matches!(
        check_key_use(&key, CKA_LABEL, CKM_AES_GCM),
        Err(Error::KeyFunctionNotPermitted(_))
    ));
    let limited = aes_key(&[raw(
        CKA_ALLOWED_MECHANISMS,
        &encode_ulongs(&[CKM_AES_GCM, CKM_AES_KEY_WRAP]),
    )]);
    assert!(check_key_use(&limited, CKA_ENCRYPT, CKM_AES_GCM).is_ok());
    assert!(matches!(
        check_key_use(&limited, CKA_ENCRYPT, CKM_AES_CBC),
        Err(Error::KeyFunctionNotPermitted(_))
    ));
    let open = aes_key(&[raw(CKA_ALLOWED_MECHANISMS, &[])]);
    assert!(check_key_use(&open, CKA_ENCRYPT, CKM_AES_CBC).is_ok());
}

#[test]
fn wrapping_checks() {
    let wrapper = aes_key(&[]);
    assert!(check_wrappable(&wrapper, &aes_key(&[])).is_ok());
    assert_eq!(
        check_wrappable(&wrapper, &aes_key(&[b(CKA_EXTRACTABLE, false)])),
        Err(Error::KeyUnextractable)
    );
    let needs_trust = aes_key(&[b(CKA_WRAP_WITH_TRUSTED, true)]);
    assert_eq!(
        check_wrappable(&wrapper, &needs_trust),
        Err(Error::KeyNotWrappable)
    );
    let trusted = object(
        new_object(
            &with(aes_template(), &[b(CKA_TRUSTED, true)]),
            Origin::Create,
            &vec![],
            UID,
            true,
        )
        .unwrap(),
    );
    assert!(check_wrappable(&trusted, &needs_trust).is_ok());
    let wt = encode_template(&[b(CKA_SENSITIVE, true), u(CKA_KEY_TYPE, CKK_AES)]);
    let picky = aes_key(&[raw(CKA_WRAP_TEMPLATE, &wt)]);
    assert_eq!(
        check_wrappable(&picky, &aes_key(&[])),
        Err(Error::KeyNotWrappable)
    );
    assert!(check_wrappable(&picky, &aes_key(&[b(CKA_SENSITIVE, true)])).is_ok());
    // Public keys carry no CKA_EXTRACTABLE and can always be wrapped.
    let public = object(
        create(&vec![
            u(CKA_CLASS, CKO_PUBLIC_KEY),
            u(CKA_KEY_TYPE, CKK_EC),
            raw(CKA_EC_PARAMS, b"\x06\x01\x00"),
            raw(CKA_EC_POINT, &[4; 65]),
        ])
        .unwrap(),
    );
    assert!(check_wrappable(&wrapper, &public).is_ok());
}

#[test]
fn unwrap_and_derive_templates_merge() {
    let ut = encode_template(&[b(CKA_SENSITIVE, true), b(CKA_EXTRACTABLE, false)]);
    let dt = encode_template(&[b(CKA_ENCRYPT, false)]);
    let key = aes_key(&[raw(CKA_UNWRAP_TEMPLATE, &ut), raw(CKA_DERIVE_TEMPLATE, &dt)]);
    let t = vec![
        u(CKA_CLASS, CKO_SECRET_KEY),
        u(CKA_KEY_TYPE, CKK_AES),
        b(CKA_SENSITIVE, true),
    ];
    let merged = apply_unwrap_template(&key, &t).unwrap();
    assert_eq!(merged.len(), 4);
    assert!(has_duplicates(&merged).is_none());
    assert!(merged.contains(&b(CKA_EXTRACTABLE, false)));
    let conflict = vec![b(CKA_EXTRACTABLE, true)];
    assert!(matches!(
        apply_unwrap_template(&key, &conflict),
        Err(Error::TemplateInconsistent(_))
    ));
    let merged = apply_derive_template(&key, &t).unwrap();
    assert!(merged.contains(&b(CKA_ENCRYPT, false)) && merged.len() == 4);
    assert!(matches!(
        apply_derive_template(&key, &vec![b(CKA_ENCRYPT, true)]),
        Err(Error::TemplateInconsistent(_))
    ));
    // Without a stored template the caller's is returned as is.
    assert_eq!(apply_unwrap_template(&aes_key(&[]), &t).unwrap(), t);
    // The merged template makes a valid unwrapped key.
    let merged = apply_unwrap_template(&key, &t).unwrap();
    let m = new_object(
        &merged,
        Origin::Unwrap,
        &vec![raw(CKA_VALUE, &[1; 16])],
        UID,
        false,
    )
    .unwrap();
    assert!(!get_bool(&m, CKA_EXTRACTABLE));
}
