//! AES key wrap: KW (SP 800-38F, RFC 3394) and KWP (RFC 5649). The default
//! IV and ICV go to the `aes-kw` crate; an IV or ICV given by the caller
//! (PKCS#11 allows one in the mechanism parameter) to our own W and W⁻¹,
//! since `aes-kw` fixes them.

use super::{xor_into, AesKey, BLOCK};
use aes::cipher::common::InnerInit;
use zeroize::{Zeroize, Zeroizing};

/// The default IV of KW (RFC 3394 §2.2.3.1).
pub(crate) const KW_DEFAULT_IV: [u8; 8] = [0xa6; 8];
/// The default ICV of KWP (RFC 5649 §3).
pub(crate) const KWP_DEFAULT_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

/// The wrapping function W of SP 800-38F (RFC 3394 §2.2.1) with initial value
/// `a`; `data` is `n >= 2` semiblocks. Ours: `aes-kw` fixes the initial value.
fn w(key: &AesKey, a: [u8; 8], data: &[u8]) -> Vec<u8> {
    let n = data.len() / 8;
    let mut out = vec![0u8; 8 + data.len()];
    out[..8].copy_from_slice(&a);
    out[8..].copy_from_slice(data);
    let mut b = [0u8; BLOCK];
    let mut t: u64 = 0;
    for _ in 0..6 {
        for i in 1..=n {
            t += 1;
            b[..8].copy_from_slice(&out[..8]);
            b[8..].copy_from_slice(&out[8 * i..8 * i + 8]);
            key.encrypt_block(&mut b);
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[..8]);
            xor_into(&mut a, &t.to_be_bytes());
            out[..8].copy_from_slice(&a);
            out[8 * i..8 * i + 8].copy_from_slice(&b[8..]);
        }
    }
    b.zeroize();
    out
}

/// The unwrapping function W⁻¹: the recovered initial value and the data.
fn w_inv(key: &AesKey, wrapped: &[u8]) -> ([u8; 8], Zeroizing<Vec<u8>>) {
    let n = wrapped.len() / 8 - 1;
    let mut a = [0u8; 8];
    a.copy_from_slice(&wrapped[..8]);
    let mut r = Zeroizing::new(wrapped[8..].to_vec());
    let mut b = [0u8; BLOCK];
    let mut t = 6 * u64::try_from(n).unwrap_or(u64::MAX);
    for _ in 0..6 {
        for i in (1..=n).rev() {
            let mut x = a;
            xor_into(&mut x, &t.to_be_bytes());
            b[..8].copy_from_slice(&x);
            b[8..].copy_from_slice(&r[8 * (i - 1)..8 * i]);
            key.decrypt_block(&mut b);
            a.copy_from_slice(&b[..8]);
            r[8 * (i - 1)..8 * i].copy_from_slice(&b[8..]);
            t -= 1;
        }
    }
    b.zeroize();
    (a, r)
}

/// KW wrap (RFC 3394): `data` must be a multiple of 8 bytes and at least 16.
/// The default IV goes to the `aes-kw` crate, any other to our own W.
pub(crate) fn kw_wrap(key: &AesKey, iv: [u8; 8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 16 || !data.len().is_multiple_of(8) {
        return None;
    }
    if iv != KW_DEFAULT_IV {
        return Some(w(key, iv, data));
    }
    let mut out = vec![0u8; data.len() + 8];
    with_cipher!(key, k => aes_kw::AesKw::<&_>::inner_init(k).wrap_key(data, &mut out).ok()?);
    Some(out)
}

/// KW unwrap (RFC 3394): `None` on a bad length or a failed integrity check.
/// The default IV goes to the `aes-kw` crate, any other to our own W⁻¹.
pub(crate) fn kw_unwrap(key: &AesKey, iv: [u8; 8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return None;
    }
    if iv != KW_DEFAULT_IV {
        return kw_unwrap_own(key, iv, wrapped);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    with_cipher!(key, k => aes_kw::AesKw::<&_>::inner_init(k).unwrap_key(wrapped, &mut out).ok()?);
    Some(out)
}

/// Our own KW unwrap, for an IV `aes-kw` cannot take (lengths checked by the caller).
fn kw_unwrap_own(key: &AesKey, iv: [u8; 8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (a, r) = w_inv(key, wrapped);
    crate::crypto::hash::ct_eq(&a, &iv).then_some(r)
}

/// KWP wrap (RFC 5649): any length from 1 to 2^32 - 1 bytes. The default ICV
/// goes to the `aes-kw` crate, any other to our own code.
pub(crate) fn kwp_wrap(key: &AesKey, icv: [u8; 4], data: &[u8]) -> Option<Vec<u8>> {
    if data.is_empty() || u32::try_from(data.len()).is_err() {
        return None;
    }
    if icv != KWP_DEFAULT_IV {
        return kwp_wrap_own(key, icv, data);
    }
    let mut out = vec![0u8; data.len().div_ceil(8) * 8 + 8];
    with_cipher!(key, k => aes_kw::AesKwp::<&_>::inner_init(k).wrap_key(data, &mut out).ok()?);
    Some(out)
}

/// Our own KWP wrap, for an ICV `aes-kw` cannot take (lengths checked by the caller).
fn kwp_wrap_own(key: &AesKey, icv: [u8; 4], data: &[u8]) -> Option<Vec<u8>> {
    let mli = u32::try_from(data.len()).ok()?;
    let mut a = [0u8; 8];
    a[..4].copy_from_slice(&icv);
    a[4..].copy_from_slice(&mli.to_be_bytes());
    let padded_len = data.len().div_ceil(8) * 8;
    let mut p = Zeroizing::new(vec![0u8; padded_len]);
    p[..data.len()].copy_from_slice(data);
    if padded_len == 8 {
        let mut b = [0u8; BLOCK];
        b[..8].copy_from_slice(&a);
        b[8..].copy_from_slice(&p);
        key.encrypt_block(&mut b);
        let out = b.to_vec();
        b.zeroize();
        return Some(out);
    }
    Some(w(key, a, &p))
}

/// KWP unwrap (RFC 5649): `None` on a bad length or a failed integrity check.
/// The default ICV goes to the `aes-kw` crate, any other to our own code.
pub(crate) fn kwp_unwrap(key: &AesKey, icv: [u8; 4], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) {
        return None;
    }
    if icv != KWP_DEFAULT_IV {
        return kwp_unwrap_own(key, icv, wrapped);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    let n = with_cipher!(key, k => aes_kw::AesKwp::<&_>::inner_init(k)
        .unwrap_key(wrapped, &mut out)
        .ok()?
        .len());
    out.truncate(n);
    Some(out)
}

/// Our own KWP unwrap, for an ICV `aes-kw` cannot take (lengths checked by the caller).
fn kwp_unwrap_own(key: &AesKey, icv: [u8; 4], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (a, mut p) = if wrapped.len() == 16 {
        let mut b = [0u8; BLOCK];
        b.copy_from_slice(wrapped);
        key.decrypt_block(&mut b);
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        let p = Zeroizing::new(b[8..].to_vec());
        b.zeroize();
        (a, p)
    } else {
        w_inv(key, wrapped)
    };
    let icv_ok = crate::crypto::hash::ct_eq(&a[..4], &icv);
    let mut m = [0u8; 4];
    m.copy_from_slice(&a[4..]);
    let mli = usize::try_from(u32::from_be_bytes(m)).ok()?;
    let n8 = p.len();
    let len_ok = mli > n8.saturating_sub(8) && mli <= n8;
    if !(icv_ok && len_ok) {
        return None;
    }
    let pad_ok = p[mli..].iter().fold(0u8, |acc, b| acc | b) == 0;
    if !pad_ok {
        return None;
    }
    p.truncate(mli);
    Some(p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_util::bytes;
    use super::*;

    #[test]
    fn kw_own_code_cross_checked_with_aes_kw() {
        // Our W and W⁻¹ (kept for caller IVs) with the default IV against the
        // aes-kw crate, every key size.
        for (i, klen) in [16usize, 24, 32].into_iter().enumerate() {
            let seed = u64::try_from(i).unwrap();
            let k = AesKey::new(&bytes(seed, klen)).unwrap();
            for len in (16..=72).step_by(8) {
                let data = bytes(seed + 7, len);
                let crate_w = kw_wrap(&k, KW_DEFAULT_IV, &data).unwrap();
                assert_eq!(w(&k, KW_DEFAULT_IV, &data), crate_w, "{klen}/{len}");
                let own = kw_unwrap_own(&k, KW_DEFAULT_IV, &crate_w).unwrap();
                assert_eq!(*own, data);
                assert_eq!(*kw_unwrap(&k, KW_DEFAULT_IV, &crate_w).unwrap(), data);
                let mut bad = crate_w.clone();
                bad[len / 2] ^= 0x80;
                assert!(kw_unwrap_own(&k, KW_DEFAULT_IV, &bad).is_none());
                assert!(kw_unwrap(&k, KW_DEFAULT_IV, &bad).is_none());
                // A caller IV: round trip, and the wrong IV fails.
                let iv = [1, 2, 3, 4, 5, 6, 7, u8::try_from(len).unwrap()];
                let c = kw_wrap(&k, iv, &data).unwrap();
                assert_eq!(*kw_unwrap(&k, iv, &c).unwrap(), data);
                assert!(kw_unwrap(&k, KW_DEFAULT_IV, &c).is_none());
            }
            assert!(kw_wrap(&k, KW_DEFAULT_IV, &[0; 8]).is_none());
            assert!(kw_wrap(&k, KW_DEFAULT_IV, &[0; 17]).is_none());
            assert!(kw_unwrap(&k, KW_DEFAULT_IV, &[0; 16]).is_none());
        }
    }

    #[test]
    fn kwp_own_code_cross_checked_with_aes_kw() {
        for (i, klen) in [16usize, 24, 32].into_iter().enumerate() {
            let seed = u64::try_from(i).unwrap();
            let k = AesKey::new(&bytes(seed, klen)).unwrap();
            for len in 1..=41 {
                let data = bytes(seed + 11, len);
                let crate_w = kwp_wrap(&k, KWP_DEFAULT_IV, &data).unwrap();
                assert_eq!(
                    kwp_wrap_own(&k, KWP_DEFAULT_IV, &data).unwrap(),
                    crate_w,
                    "{klen}/{len}"
                );
                let own = kwp_unwrap_own(&k, KWP_DEFAULT_IV, &crate_w).unwrap();
                assert_eq!(*own, data);
                assert_eq!(*kwp_unwrap(&k, KWP_DEFAULT_IV, &crate_w).unwrap(), data);
                let mut bad = crate_w.clone();
                bad[3] ^= 1;
                assert!(kwp_unwrap_own(&k, KWP_DEFAULT_IV, &bad).is_none());
                assert!(kwp_unwrap(&k, KWP_DEFAULT_IV, &bad).is_none());
                let icv = [9, 8, 7, u8::try_from(len).unwrap()];
                let c = kwp_wrap(&k, icv, &data).unwrap();
                assert_eq!(*kwp_unwrap(&k, icv, &c).unwrap(), data);
                assert!(kwp_unwrap(&k, KWP_DEFAULT_IV, &c).is_none());
            }
            assert!(kwp_wrap(&k, KWP_DEFAULT_IV, &[]).is_none());
            assert!(kwp_unwrap(&k, KWP_DEFAULT_IV, &[0; 8]).is_none());
        }
    }
}
