//! CTR mode with a counter of any width (NIST SP 800-38A, PKCS#11
//! `CK_AES_CTR_PARAMS`), and GCM's 32-bit counter.

use super::{xor_into, AesKey, Blk, BLOCK};
use aes::cipher::consts::U16;
use aes::cipher::{BlockCipherEncrypt, InnerIvInit, IvState, StreamCipherCore};
use zeroize::Zeroize;

/// Counter-mode keystream over a counter block whose low `counter_bits` bits
/// count. The counter never wraps: [`Ctr::apply`] refuses input that would
/// need it to. The keystream comes from `aws-lc-rs` (default build) or the
/// `ctr` crate, both counting over all 128 bits: that gives the same blocks as
/// the narrower counter as long as the narrower one does not wrap, which is
/// checked here first. GCM's own counter ([`super::Gcm`]) is the `ctr`
/// crate's 32-bit one, which wraps within its 32 bits as GCM's `inc32` does.
#[derive(Clone)]
pub(crate) struct Ctr {
    /// The next counter block.
    next: [u8; BLOCK],
    /// GCM's `inc32` rather than the 128-bit counter limited by `blocks_left`.
    inc32: bool,
    /// Counter values not yet turned into keystream (saturates at `u128::MAX`).
    blocks_left: u128,
    /// Keystream of the last partial block and how much of it is used.
    ks: [u8; BLOCK],
    ks_pos: usize,
}

impl Drop for Ctr {
    fn drop(&mut self) {
        self.ks.zeroize();
    }
}

/// Applies the keystream of the `ctr` crate's counter flavour `F`, starting
/// at `next`, to `blocks`; `next` becomes the counter block after the last
/// one used.
fn crate_keystream<C, F>(cipher: &C, next: &mut [u8; BLOCK], blocks: &mut [Blk])
where
    C: BlockCipherEncrypt<BlockSize = U16>,
    F: ctr::CtrFlavor<U16>,
{
    let mut core = ctr::CtrCore::<&C, F>::inner_iv_init(cipher, (&*next).into());
    core.apply_keystream_blocks(blocks);
    next.copy_from_slice(&core.iv_state());
}

impl Ctr {
    /// A keystream starting at `cb`; `None` unless `1 <= counter_bits <= 128`.
    pub(crate) fn new(cb: [u8; BLOCK], counter_bits: u32) -> Option<Self> {
        if !(1..=128).contains(&counter_bits) {
            return None;
        }
        let mask = if counter_bits == 128 {
            u128::MAX
        } else {
            (1u128 << counter_bits) - 1
        };
        let start = u128::from_be_bytes(cb) & mask;
        // 2^bits - start values remain, computed without overflow.
        let blocks_left = (mask - start).saturating_add(1);
        Some(Ctr {
            next: cb,
            inc32: false,
            blocks_left,
            ks: [0; BLOCK],
            ks_pos: BLOCK,
        })
    }
    /// GCM's payload keystream from the counter block `first` (`inc32(J0)`).
    pub(super) fn gcm(first: [u8; BLOCK]) -> Self {
        Ctr {
            next: first,
            inc32: true,
            blocks_left: u128::MAX,
            ks: [0; BLOCK],
            ks_pos: BLOCK,
        }
    }
    /// True when `len` more bytes can be processed without wrapping the counter.
    pub(crate) fn fits(&self, len: usize) -> bool {
        let buffered = BLOCK - self.ks_pos;
        if len <= buffered {
            return true;
        }
        let need = (len - buffered).div_ceil(BLOCK);
        u128::try_from(need)
            .map(|n| n <= self.blocks_left)
            .unwrap_or(false)
    }
    /// XORs the keystream of the next counter blocks into `data` (whole
    /// blocks), moving the counter on.
    fn keystream(&mut self, key: &AesKey, data: &mut [u8]) {
        let n = data.len() / BLOCK;
        if n == 0 {
            return;
        }
        self.blocks_left = self
            .blocks_left
            .saturating_sub(u128::try_from(n).unwrap_or(u128::MAX));
        #[cfg(feature = "aws-lc")]
        if !self.inc32 && key.lc.ctr(&self.next, data) {
            let next =
                u128::from_be_bytes(self.next).wrapping_add(u128::try_from(n).unwrap_or(u128::MAX));
            self.next = next.to_be_bytes();
            return;
        }
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        let next = &mut self.next;
        let inc32 = self.inc32;
        with_cipher!(key, k => if inc32 {
            crate_keystream::<_, ctr::flavors::Ctr32BE>(k, next, blocks)
        } else {
            crate_keystream::<_, ctr::flavors::Ctr128BE>(k, next, blocks)
        });
    }
    /// XORs the keystream into `data`; `false` (and nothing done) when the
    /// counter would wrap.
    pub(crate) fn apply(&mut self, key: &AesKey, data: &mut [u8]) -> bool {
        if !self.fits(data.len()) {
            return false;
        }
        // Use up buffered keystream.
        let take = data.len().min(BLOCK - self.ks_pos);
        let (head, rest) = data.split_at_mut(take);
        xor_into(head, &self.ks[self.ks_pos..self.ks_pos + take]);
        self.ks_pos += take;
        let whole = rest.len() / BLOCK * BLOCK;
        let (blocks, tail) = rest.split_at_mut(whole);
        self.keystream(key, blocks);
        if !tail.is_empty() {
            let mut ks = [0u8; BLOCK];
            self.keystream(key, &mut ks);
            xor_into(tail, &ks);
            self.ks = ks;
            ks.zeroize();
            self.ks_pos = tail.len();
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_util::{bytes, h, KEY128, PT4};
    use super::*;

    #[test]
    fn ctr_sp800_38a_in_pieces() {
        // SP 800-38A F.5.1, fed in runs that cut blocks.
        let k = AesKey::new(&h(KEY128)).unwrap();
        let ct = h(
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff
                    5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
        );
        let cb: [u8; 16] = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().unwrap();
        for cuts in [&[64][..], &[1, 15, 16, 32], &[5, 17, 3, 39], &[33, 0, 31]] {
            let mut c = Ctr::new(cb, 128).unwrap();
            let mut data = h(PT4);
            let mut at = 0;
            for n in cuts {
                assert!(c.apply(&k, &mut data[at..at + n]));
                at += n;
            }
            assert_eq!(data, ct, "{cuts:?}");
        }
    }

    /// The keystream of a counter whose low `bits` bits count, block by block.
    fn ctr_reference(k: &AesKey, cb: [u8; 16], bits: u32, blocks: usize) -> Vec<u8> {
        let mask = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        let mut v = u128::from_be_bytes(cb);
        let mut out = Vec::new();
        for _ in 0..blocks {
            let mut b = v.to_be_bytes();
            k.encrypt_block(&mut b);
            out.extend_from_slice(&b);
            v = (v & !mask) | (v.wrapping_add(1) & mask);
        }
        out
    }

    #[test]
    fn ctr_narrow_counters_match_a_masked_reference() {
        // The backends count over all 128 bits; a narrower counter gets the
        // same blocks as long as it does not wrap: up to its last value, and
        // across carries out of the low 32 and 64 bits.
        let k = AesKey::new(&h(KEY128)).unwrap();
        for (bits, low, blocks, at_end) in [
            (8u32, 0xf0u128, 16usize, true),
            (16, 0xfffa, 6, true),
            (33, 0x1_ffff_fff8, 8, true),
            (128, u128::MAX - 9, 10, true),
            (64, 0xffff_fffd, 7, false),
            (128, 0xffff_ffff_ffff_fffe, 5, false),
        ] {
            let mask = if bits == 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            };
            let cb = (!mask | low).to_be_bytes();
            let want = ctr_reference(&k, cb, bits, blocks);
            let mut c = Ctr::new(cb, bits).unwrap();
            let mut got = vec![0u8; want.len()];
            let (a, b) = got.split_at_mut(21);
            assert!(c.apply(&k, a));
            assert!(c.apply(&k, b));
            assert_eq!(got, want, "{bits} bits from {low:#x}");
            assert_eq!(c.apply(&k, &mut [0u8; 1]), !at_end, "{bits} bits");
        }
    }

    #[test]
    fn ctr_matches_the_ctr_crate() {
        // Whatever the backend (aws-lc-rs in the default build), the
        // keystream is the ctr crate's, in pieces of any size.
        use aes::cipher::{KeyIvInit, StreamCipher};
        for (i, klen) in [16usize, 24, 32].into_iter().enumerate() {
            let seed = u64::try_from(i).unwrap();
            let key = bytes(seed, klen);
            let k = AesKey::new(&key).unwrap();
            let cb: [u8; 16] = bytes(seed + 1, 16).try_into().unwrap();
            let data = bytes(seed + 2, 1000);
            let mut want = data.clone();
            match klen {
                16 => ctr::Ctr128BE::<aes::Aes128>::new_from_slices(&key, &cb)
                    .unwrap()
                    .apply_keystream(&mut want),
                24 => ctr::Ctr128BE::<aes::Aes192>::new_from_slices(&key, &cb)
                    .unwrap()
                    .apply_keystream(&mut want),
                _ => ctr::Ctr128BE::<aes::Aes256>::new_from_slices(&key, &cb)
                    .unwrap()
                    .apply_keystream(&mut want),
            }
            let mut c = Ctr::new(cb, 128).unwrap();
            let mut got = data.clone();
            let mut at = 0;
            for n in [3usize, 16, 29, 200, 0, 1, 751] {
                assert!(c.apply(&k, &mut got[at..at + n]));
                at += n;
            }
            assert_eq!(got, want, "{klen}");
        }
    }

    #[test]
    fn ctr_refuses_to_wrap() {
        let k = AesKey::new(&[0; 16]).unwrap();
        let mut cb = [0u8; 16];
        cb[15] = 0xfe;
        let mut c = Ctr::new(cb, 8).unwrap();
        assert!(c.fits(32));
        assert!(!c.fits(33));
        let mut d = [0u8; 33];
        assert!(!c.apply(&k, &mut d));
        assert!(c.apply(&k, &mut d[..20]));
        assert!(c.apply(&k, &mut d[..12]));
        assert!(!c.apply(&k, &mut d[..1]));
        assert!(Ctr::new(cb, 0).is_none());
        assert!(Ctr::new(cb, 129).is_none());
        // A full-width counter at zero never runs out.
        assert!(Ctr::new([0; 16], 128).unwrap().fits(usize::MAX));
    }
}
