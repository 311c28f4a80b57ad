//! ML-DSA and ML-KEM key objects (PKCS#11 3.2 §6.67, §6.68): from attributes
//! to parsed keys and back, the checks `C_CreateObject` runs, and the
//! attributes the module completes (the expanded private key of a key given
//! by its seed, `CKA_PUBLIC_KEY_INFO`).
//!
//! - `CKA_PARAMETER_SET`: `CKP_ML_DSA_44/65/87`, `CKP_ML_KEM_512/768/1024`;
//!   another value is `CKR_ATTRIBUTE_VALUE_INVALID`.
//! - Public key `CKA_VALUE`: the encoded key of that set's length.
//! - Private key: `CKA_SEED` (ξ, 32 bytes; `d || z`, 64 bytes) and/or
//!   `CKA_VALUE` (the expanded private key). Given both, they must be one key
//!   (`CKR_TEMPLATE_INCONSISTENT`); given neither, `CKR_TEMPLATE_INCOMPLETE`.

use crate::crypto::ml_dsa::{MlDsaPrivateKey, MlDsaPublicKey, MlDsaSet};
use crate::crypto::ml_kem::{MlKemPrivateKey, MlKemPublicKey, MlKemSet};
use crate::error::{Error, Result};
use crate::object::attr::{decode_ulong, Attribute, Template};
use crate::object::{AttrMap, Object};
use cryptoki_sys::*;
use std::sync::Arc;

/// The ML-DSA parameter set a `CKA_PARAMETER_SET` value names.
pub(crate) fn ml_dsa_set(v: CK_ULONG) -> Result<MlDsaSet> {
    match v {
        CKP_ML_DSA_44 => Ok(MlDsaSet::P44),
        CKP_ML_DSA_65 => Ok(MlDsaSet::P65),
        CKP_ML_DSA_87 => Ok(MlDsaSet::P87),
        _ => Err(Error::AttributeValueInvalid(CKA_PARAMETER_SET)),
    }
}

/// The ML-KEM parameter set a `CKA_PARAMETER_SET` value names.
pub(crate) fn ml_kem_set(v: CK_ULONG) -> Result<MlKemSet> {
    match v {
        CKP_ML_KEM_512 => Ok(MlKemSet::P512),
        CKP_ML_KEM_768 => Ok(MlKemSet::P768),
        CKP_ML_KEM_1024 => Ok(MlKemSet::P1024),
        _ => Err(Error::AttributeValueInvalid(CKA_PARAMETER_SET)),
    }
}

/// The `CKA_PARAMETER_SET` value of an ML-DSA set.
pub(crate) fn ml_dsa_ckp(set: MlDsaSet) -> CK_ULONG {
    match set {
        MlDsaSet::P44 => CKP_ML_DSA_44,
        MlDsaSet::P65 => CKP_ML_DSA_65,
        MlDsaSet::P87 => CKP_ML_DSA_87,
    }
}

/// The `CKA_PARAMETER_SET` value of an ML-KEM set.
pub(crate) fn ml_kem_ckp(set: MlKemSet) -> CK_ULONG {
    match set {
        MlKemSet::P512 => CKP_ML_KEM_512,
        MlKemSet::P768 => CKP_ML_KEM_768,
        MlKemSet::P1024 => CKP_ML_KEM_1024,
    }
}

fn opt(attrs: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
    attrs
        .get(&ty)
        .map(|v| v.as_slice())
        .filter(|v| !v.is_empty())
}

fn param_set(attrs: &AttrMap) -> Result<CK_ULONG> {
    let v = attrs
        .get(&CKA_PARAMETER_SET)
        .ok_or(Error::TemplateIncomplete {
            missing: CKA_PARAMETER_SET,
        })?;
    decode_ulong(CKA_PARAMETER_SET, v)
}

fn ulong(attrs: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
    attrs.get(&ty).and_then(|v| decode_ulong(ty, v).ok())
}

fn value(attrs: &AttrMap) -> Result<&[u8]> {
    opt(attrs, CKA_VALUE).ok_or(Error::TemplateIncomplete { missing: CKA_VALUE })
}

/// An ML-DSA private key from its attributes (seed first, else the expanded key).
pub(crate) fn ml_dsa_private_from_attrs(attrs: &AttrMap) -> Result<MlDsaPrivateKey> {
    let set = ml_dsa_set(param_set(attrs)?)?;
    let key = match (opt(attrs, CKA_SEED), opt(attrs, CKA_VALUE)) {
        (Some(seed), v) => {
            let k = MlDsaPrivateKey::from_seed(set, seed)
                .map_err(|_| Error::AttributeValueInvalid(CKA_SEED))?;
            if v.is_some_and(|v| !crate::crypto::hash::ct_eq(v, k.expanded())) {
                return Err(Error::TemplateInconsistent(
                    "CKA_SEED and CKA_VALUE are not one ML-DSA key",
                ));
            }
            k
        }
        (None, Some(v)) => MlDsaPrivateKey::from_expanded(set, v)
            .map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))?,
        (None, None) => return Err(Error::TemplateIncomplete { missing: CKA_VALUE }),
    };
    Ok(key)
}

/// An ML-DSA public key from its attributes.
pub(crate) fn ml_dsa_public_from_attrs(attrs: &AttrMap) -> Result<MlDsaPublicKey> {
    let set = ml_dsa_set(param_set(attrs)?)?;
    MlDsaPublicKey::from_bytes(set, value(attrs)?)
        .map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))
}

/// An ML-KEM private key from its attributes (seed first, else the expanded key).
pub(crate) fn ml_kem_private_from_attrs(attrs: &AttrMap) -> Result<MlKemPrivateKey> {
    let set = ml_kem_set(param_set(attrs)?)?;
    let key = match (opt(attrs, CKA_SEED), opt(attrs, CKA_VALUE)) {
        (Some(seed), v) => {
            let k = MlKemPrivateKey::from_seed(set, seed)
                .map_err(|_| Error::AttributeValueInvalid(CKA_SEED))?;
            if v.is_some_and(|v| !crate::crypto::hash::ct_eq(v, k.expanded())) {
                return Err(Error::TemplateInconsistent(
                    "CKA_SEED and CKA_VALUE are not one ML-KEM key",
                ));
            }
            k
        }
        (None, Some(v)) => MlKemPrivateKey::from_expanded(set, v)
            .map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))?,
        (None, None) => return Err(Error::TemplateIncomplete { missing: CKA_VALUE }),
    };
    Ok(key)
}

/// An ML-KEM public key from its attributes.
pub(crate) fn ml_kem_public_from_attrs(attrs: &AttrMap) -> Result<MlKemPublicKey> {
    let set = ml_kem_set(param_set(attrs)?)?;
    MlKemPublicKey::from_bytes(set, value(attrs)?)
        .map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))
}

fn check_kind(obj: &Object, class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) -> Result<()> {
    if obj.class() != Some(class) || obj.key_type() != Some(key_type) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(())
}

/// The parsed ML-DSA private key of an object (cached in the object).
pub(crate) fn ml_dsa_private(obj: &Object) -> Result<Arc<MlDsaPrivateKey>> {
    check_kind(obj, CKO_PRIVATE_KEY, CKK_ML_DSA)?;
    obj.parsed(|o| ml_dsa_private_from_attrs(o.attrs()))
}

/// The parsed ML-DSA public key of an object (cached).
pub(crate) fn ml_dsa_public(obj: &Object) -> Result<Arc<MlDsaPublicKey>> {
    check_kind(obj, CKO_PUBLIC_KEY, CKK_ML_DSA)?;
    obj.parsed(|o| ml_dsa_public_from_attrs(o.attrs()))
}

/// The parsed ML-KEM private key of an object (cached).
pub(crate) fn ml_kem_private(obj: &Object) -> Result<Arc<MlKemPrivateKey>> {
    check_kind(obj, CKO_PRIVATE_KEY, CKK_ML_KEM)?;
    obj.parsed(|o| ml_kem_private_from_attrs(o.attrs()))
}

/// The parsed ML-KEM public key of an object (cached).
pub(crate) fn ml_kem_public(obj: &Object) -> Result<Arc<MlKemPublicKey>> {
    check_kind(obj, CKO_PUBLIC_KEY, CKK_ML_KEM)?;
    obj.parsed(|o| ml_kem_public_from_attrs(o.attrs()))
}

/// The attributes of a generated ML-DSA key pair: (public, private).
pub(crate) fn ml_dsa_templates(key: &MlDsaPrivateKey) -> (Template, Template) {
    let set = ml_dsa_ckp(key.set());
    let public = vec![
        Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_ML_DSA),
        Attribute::ulong(CKA_PARAMETER_SET, set),
        Attribute::new(CKA_VALUE, key.public().to_vec()),
    ];
    let mut private = vec![
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_ML_DSA),
        Attribute::ulong(CKA_PARAMETER_SET, set),
        Attribute::new(CKA_VALUE, key.expanded().to_vec()),
    ];
    if let Some(seed) = key.seed() {
        private.push(Attribute::new(CKA_SEED, seed.to_vec()));
    }
    (public, private)
}

/// The attributes of a generated ML-KEM key pair: (public, private).
pub(crate) fn ml_kem_templates(key: &MlKemPrivateKey) -> (Template, Template) {
    let set = ml_kem_ckp(key.set());
    let public = vec![
        Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_ML_KEM),
        Attribute::ulong(CKA_PARAMETER_SET, set),
        Attribute::new(CKA_VALUE, key.public().to_vec()),
    ];
    let mut private = vec![
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_ML_KEM),
        Attribute::ulong(CKA_PARAMETER_SET, set),
        Attribute::new(CKA_VALUE, key.expanded().to_vec()),
    ];
    if let Some(seed) = key.seed() {
        private.push(Attribute::new(CKA_SEED, seed.to_vec()));
    }
    (public, private)
}

/// Checks the material of an ML-DSA or ML-KEM key object (`C_CreateObject`);
/// `Ok(false)` for any other object.
pub(crate) fn check(attrs: &AttrMap) -> Result<bool> {
    match (ulong(attrs, CKA_CLASS), ulong(attrs, CKA_KEY_TYPE)) {
        (Some(CKO_PUBLIC_KEY), Some(CKK_ML_DSA)) => ml_dsa_public_from_attrs(attrs).map(|_| true),
        (Some(CKO_PRIVATE_KEY), Some(CKK_ML_DSA)) => ml_dsa_private_from_attrs(attrs).map(|_| true),
        (Some(CKO_PUBLIC_KEY), Some(CKK_ML_KEM)) => ml_kem_public_from_attrs(attrs).map(|_| true),
        (Some(CKO_PRIVATE_KEY), Some(CKK_ML_KEM)) => ml_kem_private_from_attrs(attrs).map(|_| true),
        _ => Ok(false),
    }
}

/// DER length octets.
fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![u8::try_from(n).unwrap_or(0)],
        0x80..=0xff => vec![0x81, u8::try_from(n).unwrap_or(0)],
        _ => {
            let [_, _, _, _, _, _, hi, lo] = u64::try_from(n).unwrap_or(0).to_be_bytes();
            vec![0x82, hi, lo]
        }
    }
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(body.len()));
    out.extend_from_slice(body);
    out
}

/// `SubjectPublicKeyInfo` with an algorithm of no parameters (RFC 9881 for
/// ML-DSA, RFC 9935 for ML-KEM): the OID in the NIST arc
/// 2.16.840.1.101.3.4.`arc`.`n`.
fn spki(arc: u8, n: u8, public: &[u8]) -> Vec<u8> {
    let oid = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, arc, n];
    let alg = der(0x30, &oid);
    let mut bits = vec![0u8];
    bits.extend_from_slice(public);
    let mut body = alg;
    body.extend(der(0x03, &bits));
    der(0x30, &body)
}

/// `CKA_PUBLIC_KEY_INFO` of an ML-DSA or ML-KEM public or private key.
pub(crate) fn public_key_info(attrs: &AttrMap) -> Option<Vec<u8>> {
    let class = ulong(attrs, CKA_CLASS)?;
    match (class, ulong(attrs, CKA_KEY_TYPE)?) {
        (CKO_PUBLIC_KEY, CKK_ML_DSA) => {
            let k = ml_dsa_public_from_attrs(attrs).ok()?;
            Some(spki(3, dsa_oid(k.set()), k.encoded()))
        }
        (CKO_PRIVATE_KEY, CKK_ML_DSA) => {
            let k = ml_dsa_private_from_attrs(attrs).ok()?;
            Some(spki(3, dsa_oid(k.set()), k.public()))
        }
        (CKO_PUBLIC_KEY, CKK_ML_KEM) => {
            let set = ml_kem_set(param_set(attrs).ok()?).ok()?;
            let k = ml_kem_public_from_attrs(attrs).ok()?;
            debug_assert_eq!(k.set(), set);
            Some(spki(4, kem_oid(set), value(attrs).ok()?))
        }
        (CKO_PRIVATE_KEY, CKK_ML_KEM) => {
            let k = ml_kem_private_from_attrs(attrs).ok()?;
            Some(spki(4, kem_oid(k.set()), k.public()))
        }
        _ => None,
    }
}

fn dsa_oid(set: MlDsaSet) -> u8 {
    match set {
        MlDsaSet::P44 => 17,
        MlDsaSet::P65 => 18,
        MlDsaSet::P87 => 19,
    }
}

fn kem_oid(set: MlKemSet) -> u8 {
    match set {
        MlKemSet::P512 => 1,
        MlKemSet::P768 => 2,
        MlKemSet::P1024 => 3,
    }
}

/// What `C_CreateObject` adds to an ML-DSA or ML-KEM private key given by its
/// seed alone: the expanded private key (`CKA_VALUE`), so that every private
/// key object holds both forms as a generated one does.
pub(crate) fn completed_private(attrs: &AttrMap) -> Template {
    let mut out = Template::new();
    if ulong(attrs, CKA_CLASS) != Some(CKO_PRIVATE_KEY) || opt(attrs, CKA_VALUE).is_some() {
        return out;
    }
    let expanded = match ulong(attrs, CKA_KEY_TYPE) {
        Some(CKK_ML_DSA) => ml_dsa_private_from_attrs(attrs)
            .ok()
            .map(|k| k.expanded().to_vec()),
        Some(CKK_ML_KEM) => ml_kem_private_from_attrs(attrs)
            .ok()
            .map(|k| k.expanded().to_vec()),
        _ => None,
    };
    if let Some(v) = expanded {
        out.push(Attribute::new(CKA_VALUE, v));
    }
    out
}
