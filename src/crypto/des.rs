//! Triple-DES (TDEA with three keys, NIST SP 800-67): the RustCrypto `des`
//! crate in both builds, since `aws-lc-rs` offers no DES. Only the block
//! functions and CBC chaining live here; the PKCS#11 modes are in
//! `mechanism::des3`. Offered only with `legacy_mechanisms = true`.

use des::cipher::consts::U8;
use des::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

/// The DES block size in bytes.
pub(crate) const DES_BLOCK: usize = 8;
/// The length of a three-key Triple-DES key in bytes (parity bits included).
pub(crate) const TDES_KEY_LEN: usize = 24;

type Blk = Array<u8, U8>;

/// An expanded three-key Triple-DES key (EDE); the schedule is wiped on drop
/// (the `des` crate's `zeroize` feature).
#[derive(Clone)]
pub(crate) struct TdesKey(des::TdesEde3);

impl std::fmt::Debug for TdesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TdesKey(..)")
    }
}

impl TdesKey {
    /// The key schedule of a 24-byte key, or `None` for another length.
    /// Parity bits are ignored here (the object rules check them).
    pub(crate) fn from_bytes(key: &[u8]) -> Option<TdesKey> {
        des::TdesEde3::new_from_slice(key).ok().map(TdesKey)
    }

    /// Encrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub(crate) fn encrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        self.0.encrypt_blocks(blocks);
    }

    /// Decrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub(crate) fn decrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        self.0.decrypt_blocks(blocks);
    }

    /// CBC encryption of whole blocks in place; `iv` becomes the last
    /// ciphertext block (the chaining value of the next call).
    pub(crate) fn cbc_encrypt(&self, iv: &mut [u8; DES_BLOCK], data: &mut [u8]) {
        for block in data.chunks_exact_mut(DES_BLOCK) {
            for (b, v) in block.iter_mut().zip(iv.iter()) {
                *b ^= v;
            }
            self.encrypt_blocks(block);
            iv.copy_from_slice(block);
        }
    }

    /// CBC decryption of whole blocks in place; `iv` becomes the last
    /// ciphertext block.
    pub(crate) fn cbc_decrypt(&self, iv: &mut [u8; DES_BLOCK], data: &mut [u8]) {
        for block in data.chunks_exact_mut(DES_BLOCK) {
            let mut next = [0u8; DES_BLOCK];
            next.copy_from_slice(block);
            self.decrypt_blocks(block);
            for (b, v) in block.iter_mut().zip(iv.iter()) {
                *b ^= v;
            }
            *iv = next;
        }
    }
}

/// Sets the parity bit (the low bit) of every byte so that each byte has an
/// odd number of set bits (FIPS 46-3), as DES key generation must.
pub(crate) fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        let high = *b & 0xfe;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
}

/// True when every byte has odd parity (FIPS 46-3).
#[cfg(test)]
pub(crate) fn has_odd_parity(key: &[u8]) -> bool {
    key.iter().all(|b| b.count_ones() % 2 == 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::test_vectors::hex;

    /// NIST SP 800-67 Rev. 2, Appendix B (TDEA ECB example, three keys).
    #[test]
    fn sp800_67_example() {
        let k =
            TdesKey::from_bytes(&hex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")).unwrap();
        let mut d = b"The qufck brown fox jump".to_vec();
        k.encrypt_blocks(&mut d);
        assert_eq!(d, hex("A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900"));
        k.decrypt_blocks(&mut d);
        assert_eq!(d, b"The qufck brown fox jump");
    }

    /// NIST's TDES CBC example (Cryptographic Standards and Guidelines,
    /// "TDES_CBC"): the SP 800-38A plaintext under the SP 800-67 keys.
    #[test]
    fn nist_cbc_example() {
        let k =
            TdesKey::from_bytes(&hex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")).unwrap();
        let pt = hex("6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51");
        let ct = hex("2079C3D53AA763E193B79E2569AB5262516570481F25B50F73C0BDA85C8E0DA7");
        let iv: [u8; 8] = hex("F69F2445DF4F9B17").try_into().unwrap();
        let mut d = pt.clone();
        let mut v = iv;
        k.cbc_encrypt(&mut v, &mut d);
        assert_eq!(d, ct);
        assert_eq!(v.as_slice(), &ct[24..]);
        let mut v = iv;
        k.cbc_decrypt(&mut v, &mut d);
        assert_eq!(d, pt);
    }

    #[test]
    fn parity() {
        let mut k = vec![0u8, 1, 2, 3, 0xfe, 0xff];
        assert!(!has_odd_parity(&k));
        set_odd_parity(&mut k);
        assert_eq!(k, [0x01, 0x01, 0x02, 0x02, 0xfe, 0xfe]);
        assert!(has_odd_parity(&k));
        assert!(TdesKey::from_bytes(&[0; 16]).is_none());
    }
}
