//! Unknown attribute types and duplicate attributes.

use crate::prelude::*;

/// Attribute types no standard or SoftKMS attribute uses: one below the vendor
/// range and one inside it (`CKA_VENDOR_DEFINED | 0xbad`, outside SoftKMS's block).
pub(crate) const UNKNOWN_ATTRS: [CK_ATTRIBUTE_TYPE; 2] =
    [UNKNOWN_ATTR, CKA_VENDOR_DEFINED | 0x0bad];

pub(crate) fn with_type(t: Template, ty: CK_ATTRIBUTE_TYPE) -> Template {
    t.bytes(ty, b"?")
}

/// Templates with attribute types nobody defined. `C_GetAttributeValue` sets
/// that entry's `ulValueLen` to `CK_UNAVAILABLE_INFORMATION`, fills the others
/// and returns `CKR_ATTRIBUTE_TYPE_INVALID` (PKCS#11 3.0 §5.7.5, rule 3);
/// templates that make or change objects are `CKR_ATTRIBUTE_TYPE_INVALID`
/// (§4.1, §5.7.1); `C_FindObjectsInit` may refuse with
/// `CKR_ATTRIBUTE_TYPE_INVALID` (it is in §5.7.7's list) or search, in which
/// case no object has the attribute and nothing is found.
#[test]
fn unknown_attribute_types() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(&others(TEMPLATE_FNS), "no template argument");
    const TI: &[CK_RV] = &[CKR_ATTRIBUTE_TYPE_INVALID];
    for ty in UNKNOWN_ATTRS {
        t.case(
            "C_GetAttributeValue",
            "unknown type among known ones: the others are filled",
            &[CKR_OK],
            move |e, s| {
                let mut class = [0u8; 8];
                let mut unknown = [0u8; 8];
                let mut label = [0u8; 16];
                let mut a = [
                    CK_ATTRIBUTE {
                        type_: CKA_CLASS,
                        pValue: class.as_mut_ptr().cast(),
                        ulValueLen: 8,
                    },
                    CK_ATTRIBUTE {
                        type_: ty,
                        pValue: unknown.as_mut_ptr().cast(),
                        ulValueLen: 8,
                    },
                    CK_ATTRIBUTE {
                        type_: CKA_LABEL,
                        pValue: label.as_mut_ptr().cast(),
                        ulValueLen: 16,
                    },
                ];
                let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 3);
                let good = rv == CKR_ATTRIBUTE_TYPE_INVALID
                    && a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION
                    && a[0].ulValueLen == 8
                    && class == CKO_DATA.to_ne_bytes()
                    && a[2].ulValueLen == 7
                    && &label[..7] == b"hostile";
                verdict(good, rv)
            },
        )
        .case(
            "C_GetAttributeValue",
            "unknown type, length query",
            &[CKR_OK],
            move |e, s| {
                let mut a = [
                    CK_ATTRIBUTE {
                        type_: ty,
                        pValue: null_mut(),
                        ulValueLen: 0,
                    },
                    CK_ATTRIBUTE {
                        type_: CKA_LABEL,
                        pValue: null_mut(),
                        ulValueLen: 0,
                    },
                ];
                let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 2);
                verdict(
                    rv == CKR_ATTRIBUTE_TYPE_INVALID
                        && a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION
                        && a[1].ulValueLen == 7,
                    rv,
                )
            },
        )
        .case("C_CreateObject", "unknown type", TI, move |e, s| {
            create(e, s, with_type(data_tpl(), ty))
        })
        .case("C_CopyObject", "unknown type", TI, move |e, s| {
            copy(e, s, e.data, with_type(label_tpl(), ty))
        })
        .case("C_SetAttributeValue", "unknown type", TI, move |e, s| {
            set_attrs(e, s, e.data, with_type(label_tpl(), ty))
        })
        .case(
            "C_FindObjectsInit",
            "unknown type: refused, or nothing found",
            &[CKR_OK],
            move |e, s| {
                let (rv, n) = find(e, s, with_type(Template::new(), ty));
                let (rv2, n2) = find(
                    e,
                    s,
                    with_type(Template::new().ulong(CKA_CLASS, CKO_DATA), ty),
                );
                verdict(
                    (rv == CKR_ATTRIBUTE_TYPE_INVALID || (rv == CKR_OK && n == 0))
                        && (rv2 == CKR_ATTRIBUTE_TYPE_INVALID || (rv2 == CKR_OK && n2 == 0)),
                    rv,
                )
            },
        )
        .case("C_GenerateKey", "unknown type", TI, move |e, s| {
            gen_key(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_GEN)),
                Some(with_type(aes_tpl(), ty)),
                None,
                true,
            )
        })
        .case(
            "C_GenerateKeyPair",
            "unknown type in the public template",
            TI,
            move |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
                    Some(with_type(ec_pub_tpl(), ty)),
                    Some(ec_priv_tpl()),
                    (None, None),
                    (true, true),
                )
            },
        )
        .case(
            "C_GenerateKeyPair",
            "unknown type in the private template",
            TI,
            move |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
                    Some(ec_pub_tpl()),
                    Some(with_type(ec_priv_tpl(), ty)),
                    (None, None),
                    (true, true),
                )
            },
        )
        .case("C_UnwrapKey", "unknown type", TI, move |e, s| {
            unwrap(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_WRAP)),
                e.aes,
                None,
                Some(with_type(unwrap_tpl(), ty)),
                None,
                true,
            )
        })
        .case("C_DeriveKey", "unknown type", TI, move |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e)),
                e.ec_priv,
                Some(with_type(derive_tpl(), ty)),
                None,
                true,
            )
        });
    }
    t.run(&e, "unknown attribute types");
}

/// Templates that give an attribute twice, with the same or another value:
/// the standard lets a module refuse or pick one (PKCS#11 3.0 §4.1: "the
/// function can return CKR_TEMPLATE_INCONSISTENT"); SoftKMS refuses
/// everything that makes or changes an object. Reading an attribute twice fills
/// both entries; searching with a conflicting pair finds nothing.
#[test]
fn duplicate_attributes() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(&others(TEMPLATE_FNS), "no template argument");
    const TI: &[CK_RV] = &[CKR_TEMPLATE_INCONSISTENT];
    t.case(
        "C_GetAttributeValue",
        "the same type twice: both filled",
        &[CKR_OK],
        |e, s| {
            let mut l1 = [0u8; 16];
            let mut l2 = [0u8; 16];
            let mut a = [
                CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: l1.as_mut_ptr().cast(),
                    ulValueLen: 16,
                },
                CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: l2.as_mut_ptr().cast(),
                    ulValueLen: 16,
                },
            ];
            let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 2);
            verdict(
                rv == CKR_OK
                    && a[0].ulValueLen == 7
                    && a[1].ulValueLen == 7
                    && &l1[..7] == b"hostile"
                    && l1 == l2,
                rv,
            )
        },
    )
    .case(
        "C_FindObjectsInit",
        "the same type with two values: refused, or nothing found",
        &[CKR_OK],
        |e, s| {
            let (rv, n) = find(
                e,
                s,
                with_duplicate(Template::new().ulong(CKA_CLASS, CKO_DATA), true),
            );
            verdict(
                rv == CKR_TEMPLATE_INCONSISTENT || (rv == CKR_OK && n == 0),
                rv,
            )
        },
    );
    for differ in [false, true] {
        let what = if differ {
            "first attribute again, another value"
        } else {
            "first attribute again, same value"
        };
        t.case("C_CreateObject", what, TI, move |e, s| {
            create(e, s, with_duplicate(data_tpl(), differ))
        })
        .case("C_CopyObject", what, TI, move |e, s| {
            copy(e, s, e.data, with_duplicate(label_tpl(), differ))
        })
        .case("C_SetAttributeValue", what, TI, move |e, s| {
            set_attrs(e, s, e.data, with_duplicate(label_tpl(), differ))
        })
        .case("C_GenerateKey", what, TI, move |e, s| {
            gen_key(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_GEN)),
                Some(with_duplicate(aes_tpl(), differ)),
                None,
                true,
            )
        })
        .case("C_GenerateKeyPair", what, TI, move |e, s| {
            gen_pair(
                e,
                s,
                Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
                Some(with_duplicate(ec_pub_tpl(), differ)),
                Some(ec_priv_tpl()),
                (None, None),
                (true, true),
            )
        })
        .case("C_GenerateKeyPair", what, TI, move |e, s| {
            gen_pair(
                e,
                s,
                Some(Mech::new(CKM_EC_KEY_PAIR_GEN)),
                Some(ec_pub_tpl()),
                Some(with_duplicate(ec_priv_tpl(), differ)),
                (None, None),
                (true, true),
            )
        })
        .case("C_UnwrapKey", what, TI, move |e, s| {
            unwrap(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_WRAP)),
                e.aes,
                None,
                Some(with_duplicate(unwrap_tpl(), differ)),
                None,
                true,
            )
        })
        .case("C_DeriveKey", what, TI, move |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e)),
                e.ec_priv,
                Some(with_duplicate(derive_tpl(), differ)),
                None,
                true,
            )
        });
    }
    t.run(&e, "duplicate attributes");
}
