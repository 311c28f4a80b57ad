//! Canonical byte encodings used by the store: attribute maps, and the
//! length-prefixed concatenations that form AADs and MAC inputs.
//!
//! An attribute map is `u32 count`, then per attribute in increasing type order
//! `u64 type`, `u32 length`, value bytes (all little endian), the same layout as
//! [`crate::object::attr::encode_template`]. Decoding is strict: types must be
//! strictly increasing and nothing may follow the last value, so one map has
//! exactly one encoding.

use super::AttrMap;
use cryptoki_sys::CK_ATTRIBUTE_TYPE;
use zeroize::Zeroizing;

/// Encodes an attribute map; the buffer is wiped when dropped.
pub(crate) fn encode_attrs(m: &AttrMap) -> Zeroizing<Vec<u8>> {
    let size = 4 + m.values().map(|v| 12 + v.len()).sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.extend_from_slice(&u32::try_from(m.len()).unwrap_or(u32::MAX).to_le_bytes());
    for (ty, v) in m {
        // CK_ULONG is u64 on LP64 platforms but u32 elsewhere.
        #[allow(clippy::useless_conversion)]
        let ty = u64::from(*ty);
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&u32::try_from(v.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(v);
    }
    out
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Some(h)
}

/// Decodes [`encode_attrs`]'s output; anything malformed or non-canonical is `None`.
pub(crate) fn decode_attrs(mut b: &[u8]) -> Option<AttrMap> {
    let count = u32::from_le_bytes(take(&mut b, 4)?.try_into().ok()?);
    let mut out = AttrMap::new();
    let mut last: Option<CK_ATTRIBUTE_TYPE> = None;
    for _ in 0..count {
        let ty = u64::from_le_bytes(take(&mut b, 8)?.try_into().ok()?);
        let ty = CK_ATTRIBUTE_TYPE::try_from(ty).ok()?;
        if last.is_some_and(|l| l >= ty) {
            return None;
        }
        last = Some(ty);
        let len = u32::from_le_bytes(take(&mut b, 4)?.try_into().ok()?);
        let v = take(&mut b, usize::try_from(len).ok()?)?;
        out.insert(ty, Zeroizing::new(v.to_vec()));
    }
    if !b.is_empty() {
        return None;
    }
    Some(out)
}

/// The length-prefixed concatenation of `parts` (u32 big-endian length before each),
/// so that no two different part lists give the same bytes.
pub(crate) fn lp(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| 4 + p.len()).sum());
    for p in parts {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(entries: &[(CK_ATTRIBUTE_TYPE, &[u8])]) -> AttrMap {
        entries
            .iter()
            .map(|(t, v)| (*t, Zeroizing::new(v.to_vec())))
            .collect()
    }

    #[test]
    fn roundtrip() {
        for m in [
            map(&[]),
            map(&[(0, b"")]),
            map(&[(0, b"\x01"), (3, b"label"), (0x8000_0001, b"xyz")]),
        ] {
            let e = encode_attrs(&m);
            assert_eq!(decode_attrs(&e).unwrap(), m);
        }
    }

    #[test]
    fn same_layout_as_encode_template() {
        let m = map(&[(1, b"a"), (2, b"bc")]);
        let t: crate::object::attr::Template = m
            .iter()
            .map(|(t, v)| crate::object::attr::Attribute::new(*t, v.to_vec()))
            .collect();
        assert_eq!(*encode_attrs(&m), *crate::object::attr::encode_template(&t));
    }

    #[test]
    fn malformed_is_refused() {
        let good = encode_attrs(&map(&[(1, b"a"), (2, b"bc")]));
        assert!(decode_attrs(&good[..good.len() - 1]).is_none(), "truncated");
        let mut long = good.to_vec();
        long.push(0);
        assert!(decode_attrs(&long).is_none(), "trailing bytes");
        assert!(decode_attrs(&[]).is_none());
        assert!(
            decode_attrs(&[0xff, 0xff, 0xff, 0xff]).is_none(),
            "huge count"
        );
        // Out of order / duplicate types are not canonical.
        let mut dup = Vec::new();
        dup.extend_from_slice(&2u32.to_le_bytes());
        for _ in 0..2 {
            dup.extend_from_slice(&5u64.to_le_bytes());
            dup.extend_from_slice(&0u32.to_le_bytes());
        }
        assert!(decode_attrs(&dup).is_none());
        // A length that runs past the end.
        let mut big = Vec::new();
        big.extend_from_slice(&1u32.to_le_bytes());
        big.extend_from_slice(&5u64.to_le_bytes());
        big.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_attrs(&big).is_none());
    }

    #[test]
    fn lp_is_unambiguous() {
        assert_ne!(lp(&[b"ab", b"c"]), lp(&[b"a", b"bc"]));
        assert_ne!(lp(&[b"", b"a"]), lp(&[b"a", b""]));
    }
}
