//! AES and its modes, all over one expanded key ([`AesKey`], the `aes` crate:
//! AES-NI when the CPU has it), so an object's key schedule is expanded once
//! and cached with the object.
//!
//! Which code does what (docs/mechanisms.md, "AES modes"):
//! - ECB: the `aes` crate's block functions.
//! - CBC ([`cbc_encrypt`], [`cbc_decrypt`]): `aws-lc-rs` in the default build,
//!   the `cbc` crate in the pure-Rust build; the caller carries the chaining
//!   value from one update to the next.
//! - CTR ([`Ctr`]): `aws-lc-rs` in the default build, the `ctr` crate in the
//!   pure-Rust build, both with a 128-bit counter; the PKCS#11 counter width
//!   (1 to 128 bits) and the refusal to wrap are checked here first, so the
//!   counter never carries out of its bits.
//! - CMAC ([`Cmac`]): `aws-lc-rs` in the default build, the `cmac` crate in
//!   the pure-Rust build.
//! - KW and KWP with the default IV/ICV ([`kw_wrap`], [`kwp_wrap`], ...): the
//!   `aes-kw` crate in both builds.
//! - Our own code, because no crate offers it: GCM with an IV of any length
//!   chosen at run time, tags of 4 to 16 bytes and multi-part decryption that
//!   releases nothing before the tag is checked ([`Gcm`], over `ghash` and the
//!   `ctr` crate's 32-bit counter; [`GcmKey`] hands the one-shot 96-bit-IV
//!   case to `aws-lc-rs` in the default build), and KW/KWP with an IV or ICV
//!   given by the caller (`aes-kw` fixes them). Unit tests cross-check both
//!   against the crates where their parameters overlap.

use aes::cipher::consts::U16;
use aes::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
    IvState, KeyInit,
};

/// The AES block size in bytes.
pub(crate) const BLOCK: usize = 16;

type Blk = Array<u8, U16>;

/// The expanded key in the form of the `aes` crate.
#[derive(Clone)]
enum Rc {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

/// Runs `$body` with `$k` bound to the `aes` crate's expanded cipher of the
/// [`AesKey`] `$key`, whatever its size.
macro_rules! with_cipher {
    ($key:expr, $k:ident => $body:expr) => {
        match &$key.rc {
            crate::crypto::aes::Rc::A128($k) => $body,
            crate::crypto::aes::Rc::A192($k) => $body,
            crate::crypto::aes::Rc::A256($k) => $body,
        }
    };
}

mod counter;
mod gcm;
#[cfg(feature = "aws-lc")]
mod lc;
mod mac;
mod wrap;

pub(crate) use counter::Ctr;
pub(crate) use gcm::{Gcm, GcmKey, GCM_MAX_DATA};
pub(crate) use mac::Cmac;
pub(crate) use wrap::{kw_unwrap, kw_wrap, kwp_unwrap, kwp_wrap, KWP_DEFAULT_IV, KW_DEFAULT_IV};

/// An expanded AES key of any of the three sizes (the `aes` crate's schedule,
/// wiped on drop by its `zeroize` feature) and, with the `aws-lc` feature, the
/// `aws-lc-rs` keys for CBC, CTR and CMAC, made on first use. Clones share
/// the `aws-lc-rs` keys.
#[derive(Clone)]
pub(crate) struct AesKey {
    rc: Rc,
    #[cfg(feature = "aws-lc")]
    lc: std::sync::Arc<lc::LcKeys>,
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey({} bytes)", self.key_len())
    }
}

impl AesKey {
    /// Expands a 16, 24 or 32 byte key; `None` for any other length.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        let rc = match key.len() {
            16 => Rc::A128(aes::Aes128::new_from_slice(key).ok()?),
            24 => Rc::A192(aes::Aes192::new_from_slice(key).ok()?),
            32 => Rc::A256(aes::Aes256::new_from_slice(key).ok()?),
            _ => return None,
        };
        Some(AesKey {
            rc,
            #[cfg(feature = "aws-lc")]
            lc: std::sync::Arc::new(lc::LcKeys::new(key)),
        })
    }
    /// The key length in bytes.
    pub(crate) fn key_len(&self) -> usize {
        match self.rc {
            Rc::A128(_) => 16,
            Rc::A192(_) => 24,
            Rc::A256(_) => 32,
        }
    }
    /// Encrypts one block in place.
    pub(crate) fn encrypt_block(&self, b: &mut [u8; BLOCK]) {
        let blk: &mut Blk = b.into();
        with_cipher!(self, k => k.encrypt_block(blk))
    }
    /// Decrypts one block in place.
    pub(crate) fn decrypt_block(&self, b: &mut [u8; BLOCK]) {
        let blk: &mut Blk = b.into();
        with_cipher!(self, k => k.decrypt_block(blk))
    }
    /// Encrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub(crate) fn encrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        with_cipher!(self, k => k.encrypt_blocks(blocks))
    }
    /// Decrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub(crate) fn decrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        with_cipher!(self, k => k.decrypt_blocks(blocks))
    }
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// CBC encryption of whole blocks in place (`aws-lc-rs` with the `aws-lc`
/// feature, else the `cbc` crate); `iv` becomes the last ciphertext block. A
/// trailing partial block is left alone.
pub(crate) fn cbc_encrypt(key: &AesKey, iv: &mut [u8; BLOCK], data: &mut [u8]) {
    let n = data.len() / BLOCK * BLOCK;
    if n == 0 {
        return;
    }
    let data = &mut data[..n];
    #[cfg(feature = "aws-lc")]
    if key.lc.cbc_encrypt(iv, data) {
        iv.copy_from_slice(&data[n - BLOCK..]);
        return;
    }
    let (blocks, _) = Blk::slice_as_chunks_mut(data);
    with_cipher!(key, k => {
        let mut mode = cbc::Encryptor::<&_>::inner_iv_init(k, (&*iv).into());
        mode.encrypt_blocks(blocks);
        iv.copy_from_slice(&mode.iv_state());
    })
}

/// CBC decryption of whole blocks in place (`aws-lc-rs` with the `aws-lc`
/// feature, else the `cbc` crate); `iv` becomes the last ciphertext block. A
/// trailing partial block is left alone.
pub(crate) fn cbc_decrypt(key: &AesKey, iv: &mut [u8; BLOCK], data: &mut [u8]) {
    let n = data.len() / BLOCK * BLOCK;
    if n == 0 {
        return;
    }
    let data = &mut data[..n];
    #[cfg(feature = "aws-lc")]
    {
        let mut last = [0u8; BLOCK];
        last.copy_from_slice(&data[n - BLOCK..]);
        if key.lc.cbc_decrypt(iv, data) {
            *iv = last;
            return;
        }
    }
    let (blocks, _) = Blk::slice_as_chunks_mut(data);
    with_cipher!(key, k => {
        let mut mode = cbc::Decryptor::<&_>::inner_iv_init(k, (&*iv).into());
        mode.decrypt_blocks(blocks);
        iv.copy_from_slice(&mode.iv_state());
    })
}

/// Helpers for the unit tests of this module and its children.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test_util {
    /// Hex to bytes, whitespace ignored.
    pub(super) fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Deterministic test bytes (xorshift), different for each `seed`.
    pub(super) fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    /// The AES-128 key of NIST SP 800-38A F.1-F.5 and RFC 4493.
    pub(super) const KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    /// The four plaintext blocks of SP 800-38A (the 64-byte message of RFC 4493).
    pub(super) const PT4: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51
         30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::test_util::{bytes, h, KEY128, PT4};
    use super::*;

    #[test]
    fn fips197_block() {
        let k = AesKey::new(&h("000102030405060708090a0b0c0d0e0f")).unwrap();
        let mut b: [u8; 16] = h("00112233445566778899aabbccddeeff").try_into().unwrap();
        k.encrypt_block(&mut b);
        assert_eq!(b.to_vec(), h("69c4e0d86a7b0430d8cdb78070b4c55a"));
        k.decrypt_block(&mut b);
        assert_eq!(b.to_vec(), h("00112233445566778899aabbccddeeff"));
        assert!(AesKey::new(&[0; 20]).is_none());
    }

    #[test]
    fn cbc_sp800_38a_in_pieces() {
        // SP 800-38A F.2.1/F.2.2, fed in uneven runs of whole blocks.
        let k = AesKey::new(&h(KEY128)).unwrap();
        let ct = h(
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2
                    73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
        );
        let iv0: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let mut data = h(PT4);
        let mut iv = iv0;
        cbc_encrypt(&k, &mut iv, &mut data[..16]);
        cbc_encrypt(&k, &mut iv, &mut data[16..]);
        assert_eq!(data, ct);
        assert_eq!(iv.to_vec(), ct[48..]);
        let mut iv = iv0;
        cbc_decrypt(&k, &mut iv, &mut data[..48]);
        cbc_decrypt(&k, &mut iv, &mut data[48..]);
        assert_eq!(data, h(PT4));
        // A trailing partial block is left alone.
        let mut iv = iv0;
        let mut short = [7u8; 15];
        cbc_encrypt(&k, &mut iv, &mut short);
        assert_eq!((short, iv), ([7u8; 15], iv0));
    }

    #[test]
    fn cbc_matches_the_cbc_crate() {
        // Whatever the backend (aws-lc-rs in the default build), CBC is the
        // cbc crate's, every key size, in runs of whole blocks.
        for (i, klen) in [16usize, 24, 32].into_iter().enumerate() {
            let seed = u64::try_from(i).unwrap();
            let key = bytes(seed, klen);
            let k = AesKey::new(&key).unwrap();
            let iv0: [u8; 16] = bytes(seed + 1, 16).try_into().unwrap();
            let pt = bytes(seed + 2, 16 * 37);
            let mut want = pt.clone();
            let (blocks, _) = Blk::slice_as_chunks_mut(&mut want);
            with_cipher!(k, c => cbc::Encryptor::<&_>::inner_iv_init(c, (&iv0).into())
                .encrypt_blocks(blocks));
            let mut got = pt.clone();
            let mut iv = iv0;
            let mut at = 0;
            for n in [1usize, 0, 7, 16, 13] {
                cbc_encrypt(&k, &mut iv, &mut got[at..at + 16 * n]);
                at += 16 * n;
            }
            assert_eq!(got, want, "{klen}");
            assert_eq!(iv.to_vec(), want[want.len() - 16..]);
            let mut iv = iv0;
            cbc_decrypt(&k, &mut iv, &mut got[..16 * 20]);
            cbc_decrypt(&k, &mut iv, &mut got[16 * 20..]);
            assert_eq!(got, pt, "{klen}");
            assert_eq!(iv.to_vec(), want[want.len() - 16..]);
        }
    }
}
