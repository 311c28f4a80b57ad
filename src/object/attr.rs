//! Attribute values as the layers below `ffi` see them.
//!
//! A value is the attribute's bytes exactly as PKCS#11 lays them out on this
//! platform: `CK_BBOOL` is one byte, `CK_ULONG` is `size_of::<CK_ULONG>()` bytes in
//! native order, byte arrays are themselves. Attributes whose type carries
//! `CKF_ARRAY_ATTRIBUTE` (`CKA_WRAP_TEMPLATE`, …) hold a nested template, kept in the
//! canonical encoding of [`encode_template`]; `ffi/marshal.rs` converts between that
//! and the caller's `CK_ATTRIBUTE` arrays.

use crate::error::{Error, Result};
use cryptoki_sys::*;
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Size of a `CK_ULONG` value on this platform.
pub const ULONG_SIZE: usize = std::mem::size_of::<CK_ULONG>();

/// One attribute: its type and its raw value. The value is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The `CKA_*` type.
    pub ty: CK_ATTRIBUTE_TYPE,
    /// The raw value bytes.
    pub value: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print values: some are key material.
        write!(f, "Attribute(0x{:x}, {} bytes)", self.ty, self.value.len())
    }
}

impl serde::Serialize for Attribute {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.ty)?;
        t.serialize_element(serde_bytes::Bytes::new(&self.value))?;
        t.end()
    }
}

impl<'de> serde::Deserialize<'de> for Attribute {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (ty, value): (CK_ATTRIBUTE_TYPE, serde_bytes::ByteBuf) =
            serde::Deserialize::deserialize(d)?;
        Ok(Attribute {
            ty,
            value: Zeroizing::new(value.into_vec()),
        })
    }
}

impl Attribute {
    /// An attribute with raw bytes.
    pub fn new(ty: CK_ATTRIBUTE_TYPE, value: Vec<u8>) -> Self {
        Attribute {
            ty,
            value: Zeroizing::new(value),
        }
    }
    /// A `CK_BBOOL` attribute.
    pub fn bool(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Self {
        Self::new(ty, vec![if v { CK_TRUE } else { CK_FALSE }])
    }
    /// A `CK_ULONG` attribute.
    pub fn ulong(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Self {
        Self::new(ty, v.to_ne_bytes().to_vec())
    }
    /// The value as a `CK_BBOOL`, if it has the right size.
    pub fn as_bool(&self) -> Result<bool> {
        decode_bool(self.ty, &self.value)
    }
    /// The value as a `CK_ULONG`, if it has the right size.
    pub fn as_ulong(&self) -> Result<CK_ULONG> {
        decode_ulong(self.ty, &self.value)
    }
}

/// A template: attributes in the caller's order (duplicates are kept so that the
/// validators can refuse them).
pub type Template = Vec<Attribute>;

/// Decodes a `CK_BBOOL` value; any other length is `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn decode_bool(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<bool> {
    match v {
        [b] => Ok(*b != CK_FALSE),
        _ => Err(Error::AttributeValueInvalid(ty)),
    }
}

/// Decodes a `CK_ULONG` value; any other length is `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn decode_ulong(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<CK_ULONG> {
    let arr: [u8; ULONG_SIZE] = v.try_into().map_err(|_| Error::AttributeValueInvalid(ty))?;
    Ok(CK_ULONG::from_ne_bytes(arr))
}

/// Encodes a list of `CK_ULONG` (e.g. `CKA_ALLOWED_MECHANISMS`).
pub fn encode_ulongs(v: &[CK_ULONG]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// Decodes a list of `CK_ULONG`; a length that is not a multiple is invalid.
pub fn decode_ulongs(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<Vec<CK_ULONG>> {
    if !v.len().is_multiple_of(ULONG_SIZE) {
        return Err(Error::AttributeValueInvalid(ty));
    }
    Ok(v.chunks_exact(ULONG_SIZE)
        .map(|c| {
            let mut a = [0u8; ULONG_SIZE];
            a.copy_from_slice(c);
            CK_ULONG::from_ne_bytes(a)
        })
        .collect())
}

/// True when the attribute type holds a nested template (`CKF_ARRAY_ATTRIBUTE`).
/// Only the standard's three template types count: vendor-defined types have
/// bit 31 set and may have bit 30 too (SoftKMS's `0xD34B….` block does), and an
/// unknown type with bit 30 set is still unknown: its value is not decoded, so
/// the template is refused with `CKR_ATTRIBUTE_TYPE_INVALID` (PKCS#11 3.0
/// §5.7.1), not judged by a value nobody defined.
pub fn is_template_attribute(ty: CK_ATTRIBUTE_TYPE) -> bool {
    matches!(
        ty,
        CKA_WRAP_TEMPLATE | CKA_UNWRAP_TEMPLATE | CKA_DERIVE_TEMPLATE
    )
}

/// Canonical encoding of a template, used for nested templates and for storage:
/// `u32 count`, then per attribute `u64 type`, `u32 length`, bytes (all little endian).
pub fn encode_template(t: &[Attribute]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        4 + t.iter().map(|a| 12 + a.value.len()).sum::<usize>(),
    ));
    out.extend_from_slice(&u32::try_from(t.len()).unwrap_or(u32::MAX).to_le_bytes());
    for a in t {
        out.extend_from_slice(&a.ty.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(a.value.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(&a.value);
    }
    out
}

/// Decodes [`encode_template`]'s output; anything malformed is `None`.
pub fn decode_template(mut b: &[u8]) -> Option<Template> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Some(h)
    }
    let count = u32::from_le_bytes(take(&mut b, 4)?.try_into().ok()?);
    let mut out = Vec::new();
    for _ in 0..count {
        let ty = u64::from_le_bytes(take(&mut b, 8)?.try_into().ok()?);
        let len = u32::from_le_bytes(take(&mut b, 4)?.try_into().ok()?);
        let v = take(&mut b, usize::try_from(len).ok()?)?;
        out.push(Attribute::new(
            CK_ATTRIBUTE_TYPE::try_from(ty).ok()?,
            v.to_vec(),
        ));
    }
    if !b.is_empty() {
        return None;
    }
    Some(out)
}

/// Wipes a vector of attributes explicitly (they also wipe on drop).
pub fn wipe(t: &mut Template) {
    for a in t.iter_mut() {
        a.value.zeroize();
    }
    t.clear();
}

/// serde for `Zeroizing<Vec<u8>>` as a byte string.
pub mod zeroizing_bytes {
    use serde::{Deserializer, Serializer};
    use zeroize::Zeroizing;

    /// Serializes the bytes.
    pub fn serialize<S: Serializer>(v: &Zeroizing<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    /// Deserializes into a wiped-on-drop buffer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
        let b: serde_bytes::ByteBuf = serde::Deserialize::deserialize(d)?;
        Ok(Zeroizing::new(b.into_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_encoding_round_trips() {
        let t = vec![
            Attribute::bool(CKA_TOKEN, true),
            Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
            Attribute::new(CKA_LABEL, b"k".to_vec()),
        ];
        let enc = encode_template(&t);
        assert_eq!(decode_template(&enc).unwrap(), t);
        assert!(decode_template(&enc[..enc.len() - 1]).is_none());
        let mut longer = enc.to_vec();
        longer.push(0);
        assert!(decode_template(&longer).is_none());
    }

    #[test]
    fn scalar_decoding_checks_length() {
        assert!(decode_bool(CKA_TOKEN, &[1, 0]).is_err());
        assert_eq!(decode_ulong(CKA_CLASS, &5u64.to_ne_bytes()).unwrap(), 5);
        assert!(decode_ulong(CKA_CLASS, &[0; 4]).is_err());
        assert!(decode_ulongs(CKA_ALLOWED_MECHANISMS, &[0; 9]).is_err());
    }

    #[test]
    fn debug_hides_values() {
        let a = Attribute::new(CKA_VALUE, b"secret".to_vec());
        assert!(!format!("{a:?}").contains("secret"));
    }
}
