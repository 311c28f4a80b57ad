//! GCM (NIST SP 800-38D) with what PKCS#11 asks and no crate offers: an IV
//! of any length chosen at run time, tags of 4 to 16 bytes, and multi-part
//! operation in both directions, decryption releasing nothing before the tag
//! is checked. Built over `ghash` and the `ctr` crate's 32-bit counter
//! ([`Ctr`]); [`GcmKey::seal`] and [`GcmKey::open`] hand the one-shot
//! 96-bit-IV case to `aws-lc-rs` in the default build.

use super::{xor_into, AesKey, Blk, Ctr, BLOCK};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use zeroize::Zeroize;

/// An AES key prepared for every mode: the expanded key, the GHASH key `H`
/// and, with the `aws-lc` feature, the `aws-lc-rs` GCM key for the one-shot
/// 96-bit-IV case ([`GcmKey::seal`], [`GcmKey::open`]).
#[derive(Clone)]
pub(crate) struct GcmKey {
    aes: AesKey,
    ghash: GHash,
    #[cfg(feature = "aws-lc")]
    lc: Option<std::sync::Arc<aws_lc_rs::aead::LessSafeKey>>,
}

impl std::fmt::Debug for GcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GcmKey({} bytes)", self.aes.key_len())
    }
}

impl GcmKey {
    /// Prepares `aes` for GCM (our own GCM only; see [`GcmKey::from_bytes`]).
    pub(crate) fn new(aes: AesKey) -> Self {
        let mut h = [0u8; BLOCK];
        aes.encrypt_block(&mut h);
        let ghash = GHash::new(&Blk::from(h));
        h.zeroize();
        GcmKey {
            aes,
            ghash,
            #[cfg(feature = "aws-lc")]
            lc: None,
        }
    }

    /// Expands a 16, 24 or 32 byte key for every mode; `None` for any other
    /// length. With the `aws-lc` feature the `aws-lc-rs` GCM key is built too.
    pub(crate) fn from_bytes(key: &[u8]) -> Option<Self> {
        #[allow(unused_mut)]
        let mut k = Self::new(AesKey::new(key)?);
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::aead;
            let alg = match key.len() {
                16 => &aead::AES_128_GCM,
                24 => &aead::AES_192_GCM,
                _ => &aead::AES_256_GCM,
            };
            k.lc = aead::UnboundKey::new(alg, key)
                .ok()
                .map(|u| std::sync::Arc::new(aead::LessSafeKey::new(u)));
        }
        Some(k)
    }

    /// One-shot GCM encryption of `data` in place; the full 16-byte tag
    /// (truncate as the caller's tag length says). The caller checks the length
    /// against [`GCM_MAX_DATA`]. With `aws-lc`, a 96-bit IV goes to `aws-lc-rs`.
    pub(crate) fn seal(
        &self,
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
    ) -> crate::error::Result<[u8; BLOCK]> {
        #[cfg(feature = "aws-lc")]
        if let (Some(lc), Ok(nonce)) = (
            &self.lc,
            aws_lc_rs::aead::Nonce::try_assume_unique_for_key(iv),
        ) {
            let tag = lc
                .seal_in_place_separate_tag(nonce, aws_lc_rs::aead::Aad::from(aad), data)
                .map_err(|_| crate::error::Error::DataLenRange)?;
            return <[u8; BLOCK]>::try_from(tag.as_ref())
                .map_err(|_| crate::error::Error::General("aws-lc: GCM tag length".into()));
        }
        let mut g = Gcm::new(self, iv, aad);
        g.encrypt(data);
        Ok(g.tag())
    }

    /// One-shot GCM decryption: checks `tag` (4 to 16 bytes) over `ct` and
    /// only then writes the plaintext to `dst` (as long as `ct`). `false` on a
    /// bad tag, with no plaintext in `dst` (wiped by the `aws-lc-rs` path,
    /// untouched by ours). With `aws-lc`, a 96-bit IV with a full tag goes to
    /// `aws-lc-rs`.
    pub(crate) fn open(
        &self,
        iv: &[u8],
        aad: &[u8],
        ct: &[u8],
        tag: &[u8],
        dst: &mut [u8],
    ) -> bool {
        if dst.len() != ct.len() {
            return false;
        }
        #[cfg(feature = "aws-lc")]
        if let (Some(lc), Ok(nonce), BLOCK) = (
            &self.lc,
            aws_lc_rs::aead::Nonce::try_assume_unique_for_key(iv),
            tag.len(),
        ) {
            let ok = lc
                .open_separate_gather(nonce, aws_lc_rs::aead::Aad::from(aad), ct, tag, dst)
                .is_ok();
            if !ok {
                dst.zeroize();
            }
            return ok;
        }
        Gcm::new(self, iv, aad).open(ct, tag, dst)
    }
    /// The expanded AES key.
    pub(crate) fn aes(&self) -> &AesKey {
        &self.aes
    }
}

/// Largest GCM plaintext (NIST SP 800-38D: 2^39 - 256 bits).
pub(crate) const GCM_MAX_DATA: u64 = (1 << 36) - 32;

/// One GCM message in progress (NIST SP 800-38D). The keystream and the
/// authentication run separately so that a decryptor can authenticate the
/// whole ciphertext before it releases any plaintext.
#[derive(Clone)]
pub(crate) struct Gcm {
    aes: AesKey,
    ghash: GHash,
    ctr: Ctr,
    tag_mask: [u8; BLOCK],
    aad_len: u64,
    ct_len: u64,
    partial: [u8; BLOCK],
    partial_len: usize,
}

impl Drop for Gcm {
    fn drop(&mut self) {
        self.tag_mask.zeroize();
        self.partial.zeroize();
    }
}

impl Gcm {
    /// Starts a message with `iv` (any non-empty length) and `aad`.
    pub(crate) fn new(key: &GcmKey, iv: &[u8], aad: &[u8]) -> Self {
        let mut j0 = [0u8; BLOCK];
        if iv.len() == 12 {
            j0[..12].copy_from_slice(iv);
            j0[15] = 1;
        } else {
            let mut g = key.ghash.clone();
            g.update_padded(iv);
            let mut lens = [0u8; BLOCK];
            let bits = u64::try_from(iv.len()).unwrap_or(u64::MAX).wrapping_mul(8);
            lens[8..].copy_from_slice(&bits.to_be_bytes());
            g.update(&[Blk::from(lens)]);
            j0.copy_from_slice(g.finalize().as_slice());
        }
        let mut tag_mask = j0;
        key.aes.encrypt_block(&mut tag_mask);
        // inc32(J0): the payload counter is the low 32 bits.
        let start = u128::from_be_bytes(j0);
        let next = (start & !0xffff_ffffu128) | (start.wrapping_add(1) & 0xffff_ffff);
        let ctr = Ctr::gcm(next.to_be_bytes());
        let mut ghash = key.ghash.clone();
        ghash.update_padded(aad);
        Gcm {
            aes: key.aes.clone(),
            ghash,
            ctr,
            tag_mask,
            aad_len: u64::try_from(aad.len()).unwrap_or(u64::MAX),
            ct_len: 0,
            partial: [0; BLOCK],
            partial_len: 0,
        }
    }
    /// True when `more` bytes can still be added to this message.
    pub(crate) fn fits(&self, more: usize) -> bool {
        u64::try_from(more)
            .ok()
            .and_then(|m| self.ct_len.checked_add(m))
            .is_some_and(|t| t <= GCM_MAX_DATA)
    }
    /// XORs the keystream into `data` (encrypts or decrypts), without authenticating.
    pub(crate) fn keystream(&mut self, data: &mut [u8]) {
        self.ctr.apply(&self.aes, data);
    }
    /// Authenticates ciphertext bytes.
    pub(crate) fn authenticate(&mut self, mut ct: &[u8]) {
        self.ct_len = self
            .ct_len
            .saturating_add(u64::try_from(ct.len()).unwrap_or(u64::MAX));
        if self.partial_len > 0 {
            let take = ct.len().min(BLOCK - self.partial_len);
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&ct[..take]);
            self.partial_len += take;
            ct = &ct[take..];
            if self.partial_len < BLOCK {
                return;
            }
            self.ghash.update(&[Blk::from(self.partial)]);
            self.partial_len = 0;
        }
        let (blocks, rest) = Blk::slice_as_chunks(ct);
        self.ghash.update(blocks);
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
    }
    /// Encrypts `data` in place and authenticates the result.
    pub(crate) fn encrypt(&mut self, data: &mut [u8]) {
        self.keystream(data);
        self.authenticate(data);
    }
    /// Authenticates all of `ct` and checks `tag` (its first `tag.len()`
    /// bytes); only if it matches is the plaintext written to `dst` (as long
    /// as `ct`). `false` on a bad tag or length, with `dst` untouched.
    pub(crate) fn open(mut self, ct: &[u8], tag: &[u8], dst: &mut [u8]) -> bool {
        if dst.len() != ct.len() || tag.is_empty() || tag.len() > BLOCK {
            return false;
        }
        self.authenticate(ct);
        let mut ks = self.clone();
        let full = self.tag();
        if !crate::crypto::hash::ct_eq(&full[..tag.len()], tag) {
            return false;
        }
        dst.copy_from_slice(ct);
        ks.keystream(dst);
        true
    }

    /// The full 16-byte tag (truncate as the caller's tag length says).
    pub(crate) fn tag(mut self) -> [u8; BLOCK] {
        if self.partial_len > 0 {
            let p = self.partial;
            self.ghash.update_padded(&p[..self.partial_len]);
        }
        let mut lens = [0u8; BLOCK];
        lens[..8].copy_from_slice(&self.aad_len.wrapping_mul(8).to_be_bytes());
        lens[8..].copy_from_slice(&self.ct_len.wrapping_mul(8).to_be_bytes());
        let mut g = self.ghash.clone();
        g.update(&[Blk::from(lens)]);
        let mut t = [0u8; BLOCK];
        t.copy_from_slice(g.finalize().as_slice());
        xor_into(&mut t, &self.tag_mask);
        t
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_util::bytes;
    use super::*;
    use aes::cipher::KeyInit;

    /// Our GCM (any IV length, multi-part) over `pt`, fed in two parts.
    fn own_gcm(k: &GcmKey, iv: &[u8], aad: &[u8], pt: &[u8], cut: usize) -> (Vec<u8>, [u8; 16]) {
        let mut g = Gcm::new(k, iv, aad);
        let mut ct = pt.to_vec();
        let (a, b) = ct.split_at_mut(cut.min(pt.len()));
        g.encrypt(a);
        g.encrypt(b);
        (ct, g.tag())
    }

    #[test]
    fn gcm_cross_checked_with_aes_gcm() {
        use aes_gcm::aead::consts::{U12, U13, U16 as N16};
        use aes_gcm::aead::AeadInOut;
        use aes_gcm::AesGcm;
        for (i, len) in [0usize, 1, 15, 16, 17, 63, 64, 65, 200, 1000]
            .into_iter()
            .enumerate()
        {
            let seed = u64::try_from(i).unwrap();
            let key = bytes(seed, 32);
            let k = GcmKey::from_bytes(&key).unwrap();
            let rc = aes::Aes256::new_from_slice(&key).unwrap();
            let aad = bytes(seed + 100, len % 37);
            let pt = bytes(seed + 200, len);
            // 96-bit IV, full tag: the common case, also what aws-lc serves.
            let iv = bytes(seed + 300, 12);
            let (ct, tag) = own_gcm(&k, &iv, &aad, &pt, len / 3);
            let mut buf = pt.clone();
            let want = AesGcm::<aes::Aes256, U12>::from(rc.clone())
                .encrypt_inout_detached(
                    iv.as_slice().try_into().unwrap(),
                    &aad,
                    buf.as_mut_slice().into(),
                )
                .unwrap();
            assert_eq!((&ct, &tag[..]), (&buf, want.as_slice()), "len {len}");
            // A 128-bit IV (J0 through GHASH) and a 13-byte tag.
            let iv = bytes(seed + 400, 16);
            let (ct, tag) = own_gcm(&k, &iv, &aad, &pt, len / 2);
            let mut buf = pt.clone();
            let want = AesGcm::<aes::Aes256, N16, U13>::from(rc)
                .encrypt_inout_detached(
                    iv.as_slice().try_into().unwrap(),
                    &aad,
                    buf.as_mut_slice().into(),
                )
                .unwrap();
            assert_eq!((&ct, &tag[..13]), (&buf, want.as_slice()), "len {len}");
            // Our one-shot decryption takes the crate's truncated tag.
            let mut out = vec![0u8; ct.len()];
            assert!(Gcm::new(&k, &iv, &aad).open(&ct, &want, &mut out));
            assert_eq!(out, pt);
        }
    }

    #[test]
    fn gcm_key_one_shot_matches_own_gcm() {
        // GcmKey::seal/open (aws-lc-rs for a 96-bit IV in the default build)
        // against our multi-part GCM, every key size, full and short tags.
        for (i, klen) in [16usize, 24, 32].into_iter().enumerate() {
            let seed = u64::try_from(i).unwrap();
            let k = GcmKey::from_bytes(&bytes(seed, klen)).unwrap();
            for ivlen in [12usize, 1, 16] {
                let iv = bytes(seed + 10, ivlen);
                let aad = bytes(seed + 20, 20);
                let pt = bytes(seed + 30, 77);
                let (ct, tag) = own_gcm(&k, &iv, &aad, &pt, 40);
                let mut buf = pt.clone();
                assert_eq!(k.seal(&iv, &aad, &mut buf).unwrap(), tag);
                assert_eq!(buf, ct);
                for tl in [16usize, 12, 4] {
                    let mut out = vec![0u8; ct.len()];
                    assert!(k.open(&iv, &aad, &ct, &tag[..tl], &mut out));
                    assert_eq!(out, pt);
                    let mut bad = tag;
                    bad[0] ^= 1;
                    out.fill(0);
                    assert!(!k.open(&iv, &aad, &ct, &bad[..tl], &mut out));
                    assert!(out.iter().all(|&b| b == 0), "nothing released");
                }
            }
        }
    }
}
