//! RSA, EC, Edwards and Montgomery key objects: from attributes to parsed keys
//! and back, PKCS#8 for wrapping private keys, SubjectPublicKeyInfo for
//! `CKA_PUBLIC_KEY_INFO`, and the consistency checks `C_CreateObject` runs on
//! their templates.
//!
//! Attribute conventions (PKCS#11 3.0 §2.1, §2.3):
//! - RSA big integers are big-endian; leading zeros are accepted on input and
//!   never produced on output.
//! - `CKA_EC_PARAMS` is the DER OID of a named curve (a PrintableString name is
//!   accepted, see [`Curve::from_ec_params`]); `CKA_EC_POINT` is a DER OCTET
//!   STRING around the SEC 1 point (a bare point is accepted on input).
//! - Edwards (`CKK_EC_EDWARDS`, Ed25519) and Montgomery (`CKK_EC_MONTGOMERY`,
//!   X25519) keys: `CKA_EC_PARAMS` is the curve's OID or its PrintableString
//!   name (`edwards25519`, `curve25519`); `CKA_VALUE` is the 32 key bytes of
//!   RFC 8032 / RFC 7748; `CKA_EC_POINT` is the 32 public key bytes, raw, as
//!   PKCS#11 3.1 and 3.2 say (a DER OCTET STRING around them, the 3.0 reading
//!   SoftHSMv2 uses, is accepted on input). Their PKCS#8 and SPKI forms are
//!   RFC 8410's.
//! - An RSA private key object must carry `CKA_PUBLIC_EXPONENT` (the standard
//!   leaves it optional; without it `C_CreateObject` is `CKR_TEMPLATE_INCOMPLETE`).
//!   Its primes may be missing: they are recovered from `n`, `e`, `d`.

use crate::crypto::ec::{der_octet_string, Curve, EcPrivateKey, EcPublicKey};
use crate::crypto::edwards::{self, Ed25519Private, Ed25519Public, ED25519_OID_DER};
use crate::crypto::montgomery::{self, X25519Private, X25519_OID_DER};
use crate::crypto::rsa::{HashAlg, RsaPrivateKey, RsaPublicKey};
use crate::error::{Error, Result};
use crate::object::attr::{decode_ulong, Attribute, Template};
use crate::object::{AttrMap, Object};
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// OID rsaEncryption (1.2.840.113549.1.1.1).
const OID_RSA: &str = "1.2.840.113549.1.1.1";
/// OID id-ecPublicKey (1.2.840.10045.2.1).
const OID_EC: &str = "1.2.840.10045.2.1";
/// OID id-Ed25519 (RFC 8410).
const OID_ED25519: &str = "1.3.101.112";
/// OID id-X25519 (RFC 8410).
const OID_X25519: &str = "1.3.101.110";
/// OID id-Ed448 (RFC 8410), not supported.
const OID_ED448: &str = "1.3.101.113";
/// OID id-X448 (RFC 8410), not supported.
const OID_X448: &str = "1.3.101.111";

/// The first value of `ty` in a template.
pub(crate) fn tmpl_get(t: &Template, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
    t.iter().find(|a| a.ty == ty).map(|a| a.value.as_slice())
}

/// A `CK_ULONG` from a template, if present (malformed → `AttributeValueInvalid`).
pub(crate) fn tmpl_ulong(t: &Template, ty: CK_ATTRIBUTE_TYPE) -> Result<Option<CK_ULONG>> {
    tmpl_get(t, ty).map(|v| decode_ulong(ty, v)).transpose()
}

/// The hash a `CKM_SHA*` mechanism value names.
pub(crate) fn hash_from_mech(mech: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    match mech {
        CKM_SHA_1 => Some(HashAlg::Sha1),
        CKM_SHA224 => Some(HashAlg::Sha224),
        CKM_SHA256 => Some(HashAlg::Sha256),
        CKM_SHA384 => Some(HashAlg::Sha384),
        CKM_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// The hash a `CKG_MGF1_*` value names.
pub(crate) fn hash_from_mgf(mgf: CK_ULONG) -> Option<HashAlg> {
    match mgf {
        CKG_MGF1_SHA1 => Some(HashAlg::Sha1),
        CKG_MGF1_SHA224 => Some(HashAlg::Sha224),
        CKG_MGF1_SHA256 => Some(HashAlg::Sha256),
        CKG_MGF1_SHA384 => Some(HashAlg::Sha384),
        CKG_MGF1_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

fn attr(attrs: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    attrs
        .get(&ty)
        .map(|v| v.as_slice())
        .filter(|v| !v.is_empty())
        .ok_or(Error::TemplateIncomplete { missing: ty })
}

fn opt_attr(attrs: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
    attrs
        .get(&ty)
        .map(|v| v.as_slice())
        .filter(|v| !v.is_empty())
}

fn ulong_attr(attrs: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
    attrs.get(&ty).and_then(|v| decode_ulong(ty, v).ok())
}

/// An RSA public key from `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT`.
pub(crate) fn rsa_public_from_attrs(attrs: &AttrMap) -> Result<RsaPublicKey> {
    RsaPublicKey::from_components(attr(attrs, CKA_MODULUS)?, attr(attrs, CKA_PUBLIC_EXPONENT)?)
}

/// An RSA private key from its attributes (primes recovered when absent).
pub(crate) fn rsa_private_from_attrs(attrs: &AttrMap) -> Result<RsaPrivateKey> {
    let n = attr(attrs, CKA_MODULUS)?;
    let e = attr(attrs, CKA_PUBLIC_EXPONENT)?;
    let d = attr(attrs, CKA_PRIVATE_EXPONENT)?;
    let primes = match (opt_attr(attrs, CKA_PRIME_1), opt_attr(attrs, CKA_PRIME_2)) {
        (Some(p), Some(q)) => Some((p, q)),
        (None, None) => None,
        _ => {
            return Err(Error::TemplateInconsistent(
                "only one of CKA_PRIME_1, CKA_PRIME_2",
            ))
        }
    };
    RsaPrivateKey::from_components(n, e, d, primes)
}

/// The curve of an EC key object.
pub(crate) fn ec_curve(attrs: &AttrMap) -> Result<Curve> {
    Curve::from_ec_params(attr(attrs, CKA_EC_PARAMS)?)
}

/// An EC public key from `CKA_EC_PARAMS` and `CKA_EC_POINT`.
pub(crate) fn ec_public_from_attrs(attrs: &AttrMap) -> Result<EcPublicKey> {
    let curve = ec_curve(attrs)?;
    EcPublicKey::from_point(curve, attr(attrs, CKA_EC_POINT)?)
        .map_err(|_| Error::AttributeValueInvalid(CKA_EC_POINT))
}

/// An EC private key from `CKA_EC_PARAMS` and `CKA_VALUE`.
pub(crate) fn ec_private_from_attrs(attrs: &AttrMap) -> Result<EcPrivateKey> {
    let curve = ec_curve(attrs)?;
    EcPrivateKey::from_scalar(curve, attr(attrs, CKA_VALUE)?)
}

/// An Ed25519 private key from `CKA_EC_PARAMS` and `CKA_VALUE`.
fn ed_private_from_attrs(attrs: &AttrMap) -> Result<Ed25519Private> {
    edwards::check_params(attr(attrs, CKA_EC_PARAMS)?)?;
    Ed25519Private::from_seed(attr(attrs, CKA_VALUE)?)
}

/// An Ed25519 public key from `CKA_EC_PARAMS` and `CKA_EC_POINT`.
fn ed_public_from_attrs(attrs: &AttrMap) -> Result<Ed25519Public> {
    edwards::check_params(attr(attrs, CKA_EC_PARAMS)?)?;
    Ed25519Public::from_point(attr(attrs, CKA_EC_POINT)?)
        .map_err(|_| Error::AttributeValueInvalid(CKA_EC_POINT))
}

/// An X25519 private key from `CKA_EC_PARAMS` and `CKA_VALUE`.
fn x_private_from_attrs(attrs: &AttrMap) -> Result<X25519Private> {
    montgomery::check_params(attr(attrs, CKA_EC_PARAMS)?)?;
    X25519Private::from_bytes(attr(attrs, CKA_VALUE)?)
}

/// An X25519 public key (its 32 bytes) from `CKA_EC_PARAMS` and `CKA_EC_POINT`.
fn x_public_from_attrs(attrs: &AttrMap) -> Result<[u8; edwards::KEY_LEN]> {
    montgomery::check_params(attr(attrs, CKA_EC_PARAMS)?)?;
    edwards::raw_point(attr(attrs, CKA_EC_POINT)?).ok_or(Error::AttributeValueInvalid(CKA_EC_POINT))
}

fn check_kind(obj: &Object, class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) -> Result<()> {
    if obj.class() != Some(class) || obj.key_type() != Some(key_type) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(())
}

/// The parsed RSA private key of an object (cached in the object).
/// Not an RSA private key → `KeyTypeInconsistent`.
pub(crate) fn rsa_private(obj: &Object) -> Result<Arc<RsaPrivateKey>> {
    check_kind(obj, CKO_PRIVATE_KEY, CKK_RSA)?;
    obj.parsed(|o| rsa_private_from_attrs(o.attrs()))
}

/// The parsed RSA public key of an object (cached).
pub(crate) fn rsa_public(obj: &Object) -> Result<Arc<RsaPublicKey>> {
    check_kind(obj, CKO_PUBLIC_KEY, CKK_RSA)?;
    obj.parsed(|o| rsa_public_from_attrs(o.attrs()))
}

/// The parsed EC private key of an object (cached).
pub(crate) fn ec_private(obj: &Object) -> Result<Arc<EcPrivateKey>> {
    check_kind(obj, CKO_PRIVATE_KEY, CKK_EC)?;
    obj.parsed(|o| ec_private_from_attrs(o.attrs()))
}

/// The parsed EC public key of an object (cached).
pub(crate) fn ec_public(obj: &Object) -> Result<Arc<EcPublicKey>> {
    check_kind(obj, CKO_PUBLIC_KEY, CKK_EC)?;
    obj.parsed(|o| ec_public_from_attrs(o.attrs()))
}

/// The parsed Ed25519 private key of an object (cached).
pub(crate) fn ed_private(obj: &Object) -> Result<Arc<Ed25519Private>> {
    check_kind(obj, CKO_PRIVATE_KEY, CKK_EC_EDWARDS)?;
    obj.parsed(|o| ed_private_from_attrs(o.attrs()))
}

/// The parsed Ed25519 public key of an object (cached).
pub(crate) fn ed_public(obj: &Object) -> Result<Arc<Ed25519Public>> {
    check_kind(obj, CKO_PUBLIC_KEY, CKK_EC_EDWARDS)?;
    obj.parsed(|o| ed_public_from_attrs(o.attrs()))
}

/// The parsed X25519 private key of an object (cached).
pub(crate) fn x_private(obj: &Object) -> Result<Arc<X25519Private>> {
    check_kind(obj, CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY)?;
    obj.parsed(|o| x_private_from_attrs(o.attrs()))
}

/// The attributes of an Ed25519 private key: class, type, `CKA_EC_PARAMS` (as
/// given, or the OID) and `CKA_VALUE` (the seed).
pub(crate) fn ed_private_template(key: &Ed25519Private, params: Option<&[u8]>) -> Template {
    vec![
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS),
        Attribute::new(CKA_EC_PARAMS, params.unwrap_or(ED25519_OID_DER).to_vec()),
        Attribute::new(CKA_VALUE, key.seed().to_vec()),
    ]
}

/// The attributes of an X25519 private key: class, type, `CKA_EC_PARAMS` (as
/// given, or the OID) and `CKA_VALUE`.
pub(crate) fn x_private_template(key: &X25519Private, params: Option<&[u8]>) -> Template {
    vec![
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_EC_MONTGOMERY),
        Attribute::new(CKA_EC_PARAMS, params.unwrap_or(X25519_OID_DER).to_vec()),
        Attribute::new(CKA_VALUE, key.bytes().to_vec()),
    ]
}

/// The attributes of a generated or imported RSA private key (class, type and
/// all components).
pub(crate) fn rsa_private_template(key: &RsaPrivateKey) -> Result<Template> {
    let c = key.components()?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
        Attribute::new(CKA_MODULUS, c.n.clone()),
        Attribute::new(CKA_PUBLIC_EXPONENT, c.e.clone()),
        Attribute::new(CKA_PRIVATE_EXPONENT, c.d.to_vec()),
        Attribute::new(CKA_PRIME_1, c.p.to_vec()),
        Attribute::new(CKA_PRIME_2, c.q.to_vec()),
        Attribute::new(CKA_EXPONENT_1, c.dp.to_vec()),
        Attribute::new(CKA_EXPONENT_2, c.dq.to_vec()),
        Attribute::new(CKA_COEFFICIENT, c.qinv.to_vec()),
    ])
}

/// The attributes of an EC private key: class, type, `CKA_EC_PARAMS` (as given,
/// or the curve's OID) and `CKA_VALUE`.
pub(crate) fn ec_private_template(key: &EcPrivateKey, params: Option<&[u8]>) -> Template {
    let params = params.unwrap_or(key.curve().oid_der()).to_vec();
    vec![
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_EC),
        Attribute::new(CKA_EC_PARAMS, params),
        Attribute::new(CKA_VALUE, key.scalar().to_vec()),
    ]
}

/// A private key object (RSA or EC) as a DER PKCS#8 `PrivateKeyInfo`, for
/// `C_WrapKey`. EC keys carry the namedCurve OID and their public key. Another
/// class or key type is `KeyNotWrappable`.
pub(crate) fn private_key_to_pkcs8(key: &Object) -> Result<Zeroizing<Vec<u8>>> {
    if key.class() != Some(CKO_PRIVATE_KEY) {
        return Err(Error::KeyNotWrappable);
    }
    match key.key_type() {
        Some(CKK_RSA) => rsa_private(key)?.to_pkcs8_der(),
        Some(CKK_EC) => ec_private(key)?.to_pkcs8_der(),
        Some(CKK_EC_EDWARDS) => {
            let seed = ed_private(key)?.seed();
            let seed: &[u8; edwards::KEY_LEN] = seed
                .as_slice()
                .try_into()
                .map_err(|_| Error::KeyNotWrappable)?;
            Ok(edwards::pkcs8_of(ED25519_OID_DER, seed))
        }
        Some(CKK_EC_MONTGOMERY) => {
            let k = x_private(key)?.bytes();
            let k: &[u8; edwards::KEY_LEN] = k
                .as_slice()
                .try_into()
                .map_err(|_| Error::KeyNotWrappable)?;
            Ok(edwards::pkcs8_of(X25519_OID_DER, k))
        }
        _ => Err(Error::KeyNotWrappable),
    }
}

/// The attributes of the private key in a DER PKCS#8 `PrivateKeyInfo` (for
/// `C_UnwrapKey`): `CKA_CLASS`, `CKA_KEY_TYPE` and the key's components (RSA:
/// modulus, exponents, primes, CRT values; EC: `CKA_EC_PARAMS` as the OID and
/// `CKA_VALUE`). Malformed → `WrappedKeyInvalid`; an EC key on a curve we do not
/// support → `CurveNotSupported`.
pub(crate) fn private_key_from_pkcs8(der: &[u8]) -> Result<Template> {
    use pkcs8::der::Decode;
    let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|_| Error::WrappedKeyInvalid)?;
    let oid = info.algorithm.oid.to_string();
    if oid == OID_RSA {
        let key = RsaPrivateKey::from_pkcs8_der(der)?;
        rsa_private_template(&key)
    } else if oid == OID_EC {
        let curve_oid = info
            .algorithm
            .parameters_oid()
            .map_err(|_| Error::WrappedKeyInvalid)?;
        let curve_der =
            pkcs8::der::Encode::to_der(&curve_oid).map_err(|_| Error::WrappedKeyInvalid)?;
        let curve = Curve::from_ec_params(&curve_der)?;
        let key = EcPrivateKey::from_pkcs8_der(curve, der)?;
        Ok(ec_private_template(&key, None))
    } else if oid == OID_ED25519 {
        let seed = edwards::key_from_pkcs8(ED25519_OID_DER, der)?;
        Ok(ed_private_template(
            &Ed25519Private::from_seed(&seed)?,
            None,
        ))
    } else if oid == OID_X25519 {
        let k = edwards::key_from_pkcs8(X25519_OID_DER, der)?;
        Ok(x_private_template(&X25519Private::from_bytes(&k)?, None))
    } else if oid == OID_ED448 || oid == OID_X448 {
        Err(Error::CurveNotSupported)
    } else {
        Err(Error::WrappedKeyInvalid)
    }
}

/// DER SubjectPublicKeyInfo of an RSA or EC public or private key, from its
/// attributes (for `CKA_PUBLIC_KEY_INFO`); `None` when the attributes do not
/// make a key we know.
pub(crate) fn public_key_info(attrs: &AttrMap) -> Option<Vec<u8>> {
    let class = ulong_attr(attrs, CKA_CLASS)?;
    if class != CKO_PUBLIC_KEY && class != CKO_PRIVATE_KEY {
        return None;
    }
    match ulong_attr(attrs, CKA_KEY_TYPE)? {
        CKK_RSA => rsa_public_from_attrs(attrs).ok()?.to_spki_der().ok(),
        CKK_EC if class == CKO_PUBLIC_KEY => ec_public_from_attrs(attrs).ok()?.to_spki_der().ok(),
        CKK_EC => ec_private_from_attrs(attrs)
            .ok()?
            .public()
            .to_spki_der()
            .ok(),
        CKK_EC_EDWARDS if class == CKO_PUBLIC_KEY => Some(edwards::spki_of(
            ED25519_OID_DER,
            &ed_public_from_attrs(attrs).ok()?.bytes(),
        )),
        CKK_EC_EDWARDS => Some(edwards::spki_of(
            ED25519_OID_DER,
            &ed_private_from_attrs(attrs).ok()?.public().bytes(),
        )),
        CKK_EC_MONTGOMERY if class == CKO_PUBLIC_KEY => Some(edwards::spki_of(
            X25519_OID_DER,
            &x_public_from_attrs(attrs).ok()?,
        )),
        CKK_EC_MONTGOMERY => Some(edwards::spki_of(
            X25519_OID_DER,
            &x_private_from_attrs(attrs).ok()?.public(),
        )),
        CKK_ML_DSA | CKK_ML_KEM => super::pq::keys::public_key_info(attrs),
        _ => None,
    }
}

/// Public attributes the module adds to a private key object: for both RSA and
/// EC `CKA_PUBLIC_KEY_INFO`; for EC also `CKA_EC_POINT` (DER OCTET STRING of the
/// uncompressed point). `CKA_EC_POINT` is not a private-key attribute in the
/// standard, but OpenSSL's PKCS#11 provider and libp11 look for it on the private
/// key to learn the public key when no public key object is found, as SoftHSM and
/// Kryoptic provide it.
pub(crate) fn public_attributes_of_private(attrs: &AttrMap) -> Template {
    let mut out = Template::new();
    if ulong_attr(attrs, CKA_CLASS) != Some(CKO_PRIVATE_KEY) {
        return out;
    }
    let point = match ulong_attr(attrs, CKA_KEY_TYPE) {
        Some(CKK_EC) => ec_private_from_attrs(attrs)
            .ok()
            .map(|k| der_octet_string(&k.public().uncompressed())),
        Some(CKK_EC_EDWARDS) => ed_private_from_attrs(attrs)
            .ok()
            .map(|k| k.public().bytes().to_vec()),
        Some(CKK_EC_MONTGOMERY) => x_private_from_attrs(attrs)
            .ok()
            .map(|k| k.public().to_vec()),
        _ => None,
    };
    if let Some(p) = point {
        out.push(Attribute::new(CKA_EC_POINT, p));
    }
    if let Some(spki) = public_key_info(attrs) {
        out.push(Attribute::new(CKA_PUBLIC_KEY_INFO, spki));
    }
    // ML-DSA and ML-KEM keys given by their seed alone get their expanded key.
    out.extend(super::pq::keys::completed_private(attrs));
    out
}

/// Checks the key material of an RSA or EC key object (`C_CreateObject`,
/// `C_UnwrapKey`): required components present (`TemplateIncomplete`), a
/// modulus in 1024..=8192 bits (`KeySizeRange`), RSA private components that
/// form one key and match their CRT values (`TemplateInconsistent`), a known
/// curve (`CurveNotSupported`), a point on it (`AttributeValueInvalid(CKA_EC_POINT)`),
/// a scalar in range (`AttributeValueInvalid(CKA_VALUE)`). Other objects pass.
pub(crate) fn check_key_attributes(attrs: &AttrMap) -> Result<()> {
    if super::pq::keys::check(attrs)? {
        return Ok(());
    }
    let class = ulong_attr(attrs, CKA_CLASS);
    let key_type = ulong_attr(attrs, CKA_KEY_TYPE);
    match (class, key_type) {
        (Some(CKO_PUBLIC_KEY), Some(CKK_RSA)) => {
            rsa_public_from_attrs(attrs).map_err(|e| match e {
                Error::KeyTypeInconsistent => Error::AttributeValueInvalid(CKA_MODULUS),
                other => other,
            })?;
            Ok(())
        }
        (Some(CKO_PRIVATE_KEY), Some(CKK_RSA)) => {
            let key = rsa_private_from_attrs(attrs).map_err(|e| match e {
                Error::KeyTypeInconsistent => {
                    Error::TemplateInconsistent("RSA components do not form a key")
                }
                other => other,
            })?;
            let c = key.components()?;
            let given = [
                (CKA_PRIME_1, c.p.as_slice()),
                (CKA_PRIME_2, c.q.as_slice()),
                (CKA_EXPONENT_1, c.dp.as_slice()),
                (CKA_EXPONENT_2, c.dq.as_slice()),
                (CKA_COEFFICIENT, c.qinv.as_slice()),
            ];
            for (ty, want) in given {
                if let Some(v) = opt_attr(attrs, ty) {
                    if crate::crypto::rsa::trim_be(v) != want {
                        return Err(Error::TemplateInconsistent(
                            "RSA CRT component does not match the key",
                        ));
                    }
                }
            }
            Ok(())
        }
        (Some(CKO_PUBLIC_KEY), Some(CKK_EC)) => {
            ec_public_from_attrs(attrs)?;
            Ok(())
        }
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC)) => {
            let curve = ec_curve(attrs)?;
            // Leading zero bytes are accepted (Wycheproof pads some scalars);
            // the value itself must be below the order.
            EcPrivateKey::from_scalar(curve, attr(attrs, CKA_VALUE)?)?;
            Ok(())
        }
        (Some(CKO_PUBLIC_KEY), Some(CKK_EC_EDWARDS)) => ed_public_from_attrs(attrs).map(|_| ()),
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC_EDWARDS)) => ed_private_from_attrs(attrs).map(|_| ()),
        (Some(CKO_PUBLIC_KEY), Some(CKK_EC_MONTGOMERY)) => x_public_from_attrs(attrs).map(|_| ()),
        (Some(CKO_PRIVATE_KEY), Some(CKK_EC_MONTGOMERY)) => x_private_from_attrs(attrs).map(|_| ()),
        _ => Ok(()),
    }
}

/// Helpers shared by the RSA and EC mechanism tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_util {
    use super::*;

    /// Hex to bytes (test data only).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2), "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An object made of these attributes.
    pub(crate) fn obj(t: &[Attribute]) -> Arc<Object> {
        let map: AttrMap = t.iter().map(|a| (a.ty, a.value.clone())).collect();
        Arc::new(Object::new(1, None, map))
    }

    /// The attributes of a template as a map.
    pub(crate) fn map(t: &[Attribute]) -> AttrMap {
        t.iter().map(|a| (a.ty, a.value.clone())).collect()
    }

    /// A vector file under `tests/vectors/`.
    pub(crate) fn vectors(name: &str) -> serde_json::Value {
        let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::test_util::*;
    use super::*;

    fn ec_private_attrs(scalar: &str) -> Template {
        vec![
            Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_EC),
            Attribute::new(CKA_EC_PARAMS, crate::crypto::ec::P256_OID_DER.to_vec()),
            Attribute::new(CKA_VALUE, hex(scalar)),
        ]
    }

    #[test]
    fn spki_matches_wycheproof_keys() {
        let v = vectors("asym-wycheproof-ecdsa-p256-sha256.json");
        let point = hex(v["publicKey"].as_str().unwrap());
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_EC),
            Attribute::new(CKA_EC_PARAMS, crate::crypto::ec::P256_OID_DER.to_vec()),
            Attribute::new(CKA_EC_POINT, der_octet_string(&point)),
        ];
        check_key_attributes(&map(&t)).unwrap();
        assert_eq!(
            public_key_info(&map(&t)).unwrap(),
            hex(v["publicKeyDer"].as_str().unwrap())
        );

        let v = vectors("asym-wycheproof-rsa-pkcs1-2048-sha256.json");
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
            Attribute::new(CKA_MODULUS, hex(v["modulus"].as_str().unwrap())),
            Attribute::new(
                CKA_PUBLIC_EXPONENT,
                hex(v["publicExponent"].as_str().unwrap()),
            ),
        ];
        check_key_attributes(&map(&t)).unwrap();
        assert_eq!(
            public_key_info(&map(&t)).unwrap(),
            hex(v["publicKeyDer"].as_str().unwrap())
        );
    }

    #[test]
    fn ec_pkcs8_round_trip_and_public_attributes() {
        let t =
            ec_private_attrs("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        check_key_attributes(&map(&t)).unwrap();
        let der = private_key_to_pkcs8(&obj(&t)).unwrap();
        let back = private_key_from_pkcs8(&der).unwrap();
        assert_eq!(map(&back), map(&t));
        let extra = public_attributes_of_private(&map(&t));
        let point = extra.iter().find(|a| a.ty == CKA_EC_POINT).unwrap();
        // RFC 6979 A.2.5 public key.
        let want = hex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
        assert_eq!(point.value.as_slice(), der_octet_string(&want).as_slice());
        assert!(extra.iter().any(|a| a.ty == CKA_PUBLIC_KEY_INFO));
    }

    #[test]
    fn bad_pkcs8_and_bad_keys_are_refused() {
        assert_eq!(
            private_key_from_pkcs8(b"\x30\x03\x02\x01\x00"),
            Err(Error::WrappedKeyInvalid)
        );
        assert_eq!(private_key_from_pkcs8(&[]), Err(Error::WrappedKeyInvalid));
        // scalar = order n is out of range
        let t =
            ec_private_attrs("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        assert_eq!(
            check_key_attributes(&map(&t)),
            Err(Error::AttributeValueInvalid(CKA_VALUE))
        );
        // secp224r1 is not offered.
        let mut t = ec_private_attrs("01");
        t[2] = Attribute::new(
            CKA_EC_PARAMS,
            vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21],
        );
        assert_eq!(
            check_key_attributes(&map(&t)),
            Err(Error::CurveNotSupported)
        );
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_EC),
            Attribute::new(CKA_EC_PARAMS, crate::crypto::ec::P256_OID_DER.to_vec()),
            Attribute::new(CKA_EC_POINT, der_octet_string(&[4; 65])),
        ];
        assert_eq!(
            check_key_attributes(&map(&t)),
            Err(Error::AttributeValueInvalid(CKA_EC_POINT))
        );
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
            Attribute::new(CKA_MODULUS, vec![0xff; 64]),
            Attribute::new(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
        ];
        assert_eq!(check_key_attributes(&map(&t)), Err(Error::KeySizeRange));
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
        ];
        assert_eq!(
            check_key_attributes(&map(&t)),
            Err(Error::TemplateIncomplete {
                missing: CKA_MODULUS
            })
        );
    }
}
