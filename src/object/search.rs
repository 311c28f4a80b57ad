//! Template matching for `C_FindObjects` (§5.7) and for `CKA_WRAP_TEMPLATE`.

use crate::object::attr::{decode_bool, Template};
use crate::object::rules::{hides_secrets, shape_of};
use crate::object::table::{self, Kind, SECRET};
use crate::object::Object;
use cryptoki_sys::*;
use subtle::ConstantTimeEq;

/// True when two values of attribute `ty` are equal. Booleans compare by truth
/// (any non-zero byte is `CK_TRUE`), everything else byte for byte.
pub(crate) fn same_value(ty: CK_ATTRIBUTE_TYPE, a: &[u8], b: &[u8]) -> bool {
    if table::kind_of(ty) == Some(Kind::Bool) {
        if let (Ok(x), Ok(y)) = (decode_bool(ty, a), decode_bool(ty, b)) {
            return x == y;
        }
    }
    // Values may be key material: compare in constant time.
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// True when every attribute of `template` is present in `obj` with an equal
/// value (exact bytes; booleans by truth). An attribute the object lacks never
/// matches. A secret attribute (footnote 7) of a sensitive or unextractable key
/// never matches either, so that a search cannot be used to guess key material.
pub(crate) fn matches(obj: &Object, template: &Template) -> bool {
    let hidden = hides_secrets(obj.attrs());
    let shape = shape_of(obj.attrs());
    template.iter().all(|a| {
        if hidden {
            let secret = shape
                .and_then(|s| s.def(a.ty))
                .is_some_and(|d| d.flags.any(SECRET));
            if secret {
                return false;
            }
        }
        obj.get(a.ty).is_some_and(|v| same_value(a.ty, v, &a.value))
    })
}

/// Like [`matches`] but for the module's own checks (`CKA_WRAP_TEMPLATE`): secret
/// attributes are compared too.
pub(crate) fn matches_plain(obj: &Object, template: &Template) -> bool {
    template
        .iter()
        .all(|a| obj.get(a.ty).is_some_and(|v| same_value(a.ty, v, &a.value)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::object::attr::Attribute;
    use crate::object::AttrMap;
    use zeroize::Zeroizing;

    fn obj(attrs: &[Attribute]) -> Object {
        let map: AttrMap = attrs
            .iter()
            .map(|a| (a.ty, Zeroizing::new(a.value.to_vec())))
            .collect();
        Object::new(1, None, map)
    }

    fn aes(sensitive: bool) -> Object {
        obj(&[
            Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_AES),
            Attribute::bool(CKA_SENSITIVE, sensitive),
            Attribute::bool(CKA_EXTRACTABLE, true),
            Attribute::new(CKA_LABEL, b"k1".to_vec()),
            Attribute::new(CKA_VALUE, vec![7; 16]),
        ])
    }

    #[test]
    fn exact_match_per_attribute() {
        let o = aes(false);
        assert!(matches(&o, &vec![]));
        assert!(matches(
            &o,
            &vec![Attribute::new(CKA_LABEL, b"k1".to_vec())]
        ));
        assert!(!matches(
            &o,
            &vec![Attribute::new(CKA_LABEL, b"k".to_vec())]
        ));
        assert!(!matches(
            &o,
            &vec![Attribute::new(CKA_LABEL, b"k1\0".to_vec())]
        ));
        assert!(matches(
            &o,
            &vec![
                Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
                Attribute::ulong(CKA_KEY_TYPE, CKK_AES)
            ]
        ));
        assert!(!matches(
            &o,
            &vec![Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY)]
        ));
    }

    #[test]
    fn missing_attribute_never_matches() {
        let o = aes(false);
        assert!(!matches(&o, &vec![Attribute::new(CKA_ID, vec![])]));
        assert!(!matches(&o, &vec![Attribute::new(CKA_MODULUS, vec![1])]));
    }

    #[test]
    fn booleans_compare_by_truth() {
        let o = aes(false);
        assert!(matches(&o, &vec![Attribute::new(CKA_EXTRACTABLE, vec![2])]));
        assert!(!matches(&o, &vec![Attribute::bool(CKA_SENSITIVE, true)]));
    }

    #[test]
    fn secret_values_of_sensitive_keys_never_match() {
        let value = vec![Attribute::new(CKA_VALUE, vec![7; 16])];
        assert!(matches(&aes(false), &value));
        assert!(!matches(&aes(true), &value));
        assert!(matches_plain(&aes(true), &value));
    }
}
