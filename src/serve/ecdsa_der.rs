//! ECDSA signatures as AWS KMS has them: DER `Ecdsa-Sig-Value`
//! (`SEQUENCE { r INTEGER, s INTEGER }`, RFC 3279 §2.2.3), where PKCS#11
//! (and so the safe API) has the raw `r || s` of two field-size halves.

/// The DER form of a raw `r || s` signature (`None` for an odd length).
pub(crate) fn to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend(body);
    Some(out)
}

/// The raw `r || s` (each `half` bytes) of a DER signature; `None` when it
/// is not strict DER of two positive integers that fit.
pub(crate) fn from_der(der: &[u8], half: usize) -> Option<Vec<u8>> {
    let (tag, body, rest) = tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (r, body) = positive(body, half)?;
    let (s, body) = positive(body, half)?;
    if !body.is_empty() {
        return None;
    }
    let mut out = vec![0u8; 2 * half];
    out[half - r.len()..half].copy_from_slice(r);
    out[2 * half - s.len()..].copy_from_slice(s);
    Some(out)
}

/// A DER INTEGER of the unsigned big-endian `v`.
fn integer(v: &[u8]) -> Vec<u8> {
    let first = v
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(v.len().saturating_sub(1));
    let v = v.get(first..).unwrap_or(&[0]);
    let v = if v.is_empty() { &[0u8][..] } else { v };
    let pad = v.first().is_some_and(|b| b & 0x80 != 0);
    let mut out = vec![0x02];
    push_len(&mut out, v.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
    out
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        // Signatures stay far below 256 bytes of content.
        out.push(0x81);
        out.push(u8::try_from(len).unwrap_or(0xff));
    }
}

/// One tag-length-value with a short or one-byte long length, minimal.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l, b) = b.split_first()?;
    let (len, b) = match l {
        0..=0x7f => (usize::from(l), b),
        0x81 => {
            let (&n, b) = b.split_first()?;
            if n < 0x80 {
                return None;
            }
            (usize::from(n), b)
        }
        _ => return None,
    };
    if b.len() < len {
        return None;
    }
    let (v, rest) = b.split_at(len);
    Some((tag, v, rest))
}

/// A minimal positive INTEGER of at most `half` bytes (without its sign
/// byte), and what follows it.
fn positive(b: &[u8], half: usize) -> Option<(&[u8], &[u8])> {
    let (tag, v, rest) = tlv(b)?;
    let (&first, tail) = v.split_first()?;
    if tag != 0x02 || first & 0x80 != 0 {
        return None;
    }
    let v = if first == 0 {
        // A leading zero only before a byte with its high bit set.
        match tail.first() {
            Some(b) if b & 0x80 != 0 => tail,
            _ if tail.is_empty() => v,
            _ => return None,
        }
    } else {
        v
    };
    (v.len() <= half).then_some((v, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_minimal_forms() {
        // r with its high bit set takes a zero byte; s with leading zeros loses them.
        let mut raw = vec![0x80; 32];
        raw.extend([0u8; 31]);
        raw.push(0x05);
        let der = to_der(&raw).unwrap_or_default();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert_eq!(from_der(&der, 32), Some(raw.clone()));
        // P-521: 66-byte halves need the long length form.
        let raw = vec![0xff; 132];
        let der = to_der(&raw).unwrap_or_default();
        assert_eq!(&der[..3], &[0x30, 0x81, 0x8a]);
        assert_eq!(from_der(&der, 66), Some(raw));
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let raw = [7u8; 64];
        let der = to_der(&raw).unwrap_or_default();
        assert_eq!(from_der(&der, 32), Some(raw.to_vec()));
        // Too large for the curve, trailing bytes, truncation, a negative
        // integer, a non-minimal zero, the raw form itself.
        assert_eq!(from_der(&der, 31), None);
        let mut long = der.clone();
        long.push(0);
        assert_eq!(from_der(&long, 32), None);
        for n in 0..der.len() {
            assert_eq!(from_der(&der[..n], 32), None, "{n}");
        }
        assert_eq!(
            from_der(&[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01], 32),
            None
        );
        assert_eq!(
            from_der(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01], 32),
            None
        );
        assert_eq!(from_der(&raw, 32), None);
        assert_eq!(to_der(&[1, 2, 3]), None);
        assert_eq!(from_der(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0], 32), None);
    }
}
