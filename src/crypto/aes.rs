//! AES and its modes, all over one expanded key ([`AesKey`], the `aes` crate:
//! AES-NI when the CPU has it), so an object's key schedule is expanded once
//! and cached.
//!
//! Which code does what (docs/mechanisms.md, "AES modes"):
//! - ECB: the `aes` crate's block functions.
//! - CBC: the `cbc` crate, one call per update with the chaining value
//!   carried between updates by the caller.
//! - CTR: the `ctr` crate's 128-bit big-endian counter; the PKCS#11 counter
//!   width (1 to 128 bits) and the refusal to wrap are checked here, before
//!   the crate runs, so the crate never carries out of the counter bits.
//! - CMAC: the `cmac` crate.
//! - KW and KWP with the default IV/ICV: the `aes-kw` crate.
//! - Our own code, because no crate offers it: GCM with an IV of any length
//!   chosen at run time, tags of 4 to 16 bytes and multi-part decryption that
//!   releases nothing before the tag is checked (over `ghash` and the `ctr`
//!   crate's 32-bit counter; the one-shot 96-bit-IV case goes to `aws-lc-rs`
//!   in the default build), and KW/KWP with an IV or ICV given by the caller
//!   (`aes-kw` fixes them). The unit tests cross-check both against the
//!   crates where their parameters overlap.

use aes::cipher::common::InnerInit;
use aes::cipher::consts::U16;
use aes::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
    IvState, KeyInit, StreamCipherCore,
};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use zeroize::{Zeroize, Zeroizing};

/// The AES block size in bytes.
pub const BLOCK: usize = 16;

type Blk = Array<u8, U16>;

/// An expanded AES key of any of the three sizes (wiped on drop by the `aes`
/// crate's `zeroize` feature).
#[derive(Clone)]
pub enum AesKey {
    /// AES-128.
    A128(aes::Aes128),
    /// AES-192.
    A192(aes::Aes192),
    /// AES-256.
    A256(aes::Aes256),
}

/// Runs `$body` with `$k` bound to the expanded cipher of `$key`, whatever its size.
macro_rules! with_cipher {
    ($key:expr, $k:ident => $body:expr) => {
        match $key {
            AesKey::A128($k) => $body,
            AesKey::A192($k) => $body,
            AesKey::A256($k) => $body,
        }
    };
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey({} bytes)", self.key_len())
    }
}

impl AesKey {
    /// Expands a 16, 24 or 32 byte key; `None` for any other length.
    pub fn new(key: &[u8]) -> Option<Self> {
        Some(match key.len() {
            16 => AesKey::A128(aes::Aes128::new_from_slice(key).ok()?),
            24 => AesKey::A192(aes::Aes192::new_from_slice(key).ok()?),
            32 => AesKey::A256(aes::Aes256::new_from_slice(key).ok()?),
            _ => return None,
        })
    }
    /// The key length in bytes.
    pub fn key_len(&self) -> usize {
        match self {
            AesKey::A128(_) => 16,
            AesKey::A192(_) => 24,
            AesKey::A256(_) => 32,
        }
    }
    /// Encrypts one block in place.
    pub fn encrypt_block(&self, b: &mut [u8; BLOCK]) {
        let blk: &mut Blk = b.into();
        with_cipher!(self, k => k.encrypt_block(blk))
    }
    /// Decrypts one block in place.
    pub fn decrypt_block(&self, b: &mut [u8; BLOCK]) {
        let blk: &mut Blk = b.into();
        with_cipher!(self, k => k.decrypt_block(blk))
    }
    /// Encrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub fn encrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        with_cipher!(self, k => k.encrypt_blocks(blocks))
    }
    /// Decrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub fn decrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        with_cipher!(self, k => k.decrypt_blocks(blocks))
    }
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// CBC encryption of whole blocks in place (the `cbc` crate); `iv` becomes
/// the last ciphertext block. A trailing partial block is left alone.
pub fn cbc_encrypt(key: &AesKey, iv: &mut [u8; BLOCK], data: &mut [u8]) {
    let (blocks, _) = Blk::slice_as_chunks_mut(data);
    if blocks.is_empty() {
        return;
    }
    with_cipher!(key, k => {
        let mut mode = cbc::Encryptor::<&_>::inner_iv_init(k, (&*iv).into());
        mode.encrypt_blocks(blocks);
        iv.copy_from_slice(&mode.iv_state());
    })
}

/// CBC decryption of whole blocks in place (the `cbc` crate); `iv` becomes
/// the last ciphertext block. A trailing partial block is left alone.
pub fn cbc_decrypt(key: &AesKey, iv: &mut [u8; BLOCK], data: &mut [u8]) {
    let (blocks, _) = Blk::slice_as_chunks_mut(data);
    if blocks.is_empty() {
        return;
    }
    with_cipher!(key, k => {
        let mut mode = cbc::Decryptor::<&_>::inner_iv_init(k, (&*iv).into());
        mode.decrypt_blocks(blocks);
        iv.copy_from_slice(&mode.iv_state());
    })
}

/// Counter-mode keystream over a counter block whose low `counter_bits` bits
/// count (NIST SP 800-38A, PKCS#11 `CK_AES_CTR_PARAMS`). The counter never
/// wraps: [`Ctr::apply`] refuses input that would need it to. The keystream
/// comes from the `ctr` crate: its 128-bit counter gives the same blocks as
/// a narrower one as long as the narrower one does not wrap, which is checked
/// here first. GCM's own counter ([`Gcm`]) is the crate's 32-bit one, which
/// wraps within its 32 bits as GCM's `inc32` does.
#[derive(Clone)]
pub struct Ctr {
    /// The next counter block.
    next: [u8; BLOCK],
    /// GCM's `inc32` (the `ctr` crate's 32-bit flavour) rather than the
    /// 128-bit counter limited by `blocks_left`.
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

/// Applies the keystream of the `F` counter flavour, starting at `next`, to
/// `blocks`, then writes the keystream of the following block to `tail` if
/// asked; `next` becomes the counter block after the last one used.
fn ctr_run<C, F>(cipher: &C, next: &mut [u8; BLOCK], blocks: &mut [Blk], tail: Option<&mut Blk>)
where
    C: BlockCipherEncrypt<BlockSize = U16>,
    F: ctr::CtrFlavor<U16>,
{
    let mut core = ctr::CtrCore::<&C, F>::inner_iv_init(cipher, (&*next).into());
    core.apply_keystream_blocks(blocks);
    if let Some(t) = tail {
        core.write_keystream_block(t);
    }
    next.copy_from_slice(&core.iv_state());
}

impl Ctr {
    /// A keystream starting at `cb`; `None` unless `1 <= counter_bits <= 128`.
    pub fn new(cb: [u8; BLOCK], counter_bits: u32) -> Option<Self> {
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
    fn gcm(first: [u8; BLOCK]) -> Self {
        Ctr {
            next: first,
            inc32: true,
            blocks_left: u128::MAX,
            ks: [0; BLOCK],
            ks_pos: BLOCK,
        }
    }
    /// True when `len` more bytes can be processed without wrapping the counter.
    pub fn fits(&self, len: usize) -> bool {
        let buffered = BLOCK - self.ks_pos;
        if len <= buffered {
            return true;
        }
        let need = (len - buffered).div_ceil(BLOCK);
        u128::try_from(need)
            .map(|n| n <= self.blocks_left)
            .unwrap_or(false)
    }
    /// XORs the keystream into `data`; `false` (and nothing done) when the
    /// counter would wrap.
    pub fn apply(&mut self, key: &AesKey, data: &mut [u8]) -> bool {
        if !self.fits(data.len()) {
            return false;
        }
        // Use up buffered keystream.
        let take = data.len().min(BLOCK - self.ks_pos);
        let (head, rest) = data.split_at_mut(take);
        xor_into(head, &self.ks[self.ks_pos..self.ks_pos + take]);
        self.ks_pos += take;
        if rest.is_empty() {
            return true;
        }
        let (blocks, tail) = Blk::slice_as_chunks_mut(rest);
        let used = blocks.len() + usize::from(!tail.is_empty());
        let ks: Option<&mut Blk> = if tail.is_empty() {
            None
        } else {
            Some((&mut self.ks).into())
        };
        let next = &mut self.next;
        with_cipher!(key, k => if self.inc32 {
            ctr_run::<_, ctr::flavors::Ctr32BE>(k, next, blocks, ks)
        } else {
            ctr_run::<_, ctr::flavors::Ctr128BE>(k, next, blocks, ks)
        });
        self.blocks_left = self
            .blocks_left
            .saturating_sub(u128::try_from(used).unwrap_or(u128::MAX));
        if !tail.is_empty() {
            xor_into(tail, &self.ks);
            self.ks_pos = tail.len();
        }
        true
    }
}

/// An AES key prepared for every mode: the expanded key, the GHASH key `H`
/// and, with the `aws-lc` feature, the `aws-lc-rs` GCM key for the one-shot
/// 96-bit-IV case ([`GcmKey::seal`], [`GcmKey::open`]).
#[derive(Clone)]
pub struct GcmKey {
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
    pub fn new(aes: AesKey) -> Self {
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
    pub fn from_bytes(key: &[u8]) -> Option<Self> {
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
    pub fn seal(
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
    pub fn open(&self, iv: &[u8], aad: &[u8], ct: &[u8], tag: &[u8], dst: &mut [u8]) -> bool {
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
    pub fn aes(&self) -> &AesKey {
        &self.aes
    }
}

/// Largest GCM plaintext (NIST SP 800-38D: 2^39 - 256 bits).
pub const GCM_MAX_DATA: u64 = (1 << 36) - 32;

/// One GCM message in progress (NIST SP 800-38D). The keystream and the
/// authentication run separately so that a decryptor can authenticate the
/// whole ciphertext before it releases any plaintext.
#[derive(Clone)]
pub struct Gcm {
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
    pub fn new(key: &GcmKey, iv: &[u8], aad: &[u8]) -> Self {
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
    pub fn fits(&self, more: usize) -> bool {
        u64::try_from(more)
            .ok()
            .and_then(|m| self.ct_len.checked_add(m))
            .is_some_and(|t| t <= GCM_MAX_DATA)
    }
    /// XORs the keystream into `data` (encrypts or decrypts), without authenticating.
    pub fn keystream(&mut self, data: &mut [u8]) {
        self.ctr.apply(&self.aes, data);
    }
    /// Authenticates ciphertext bytes.
    pub fn authenticate(&mut self, mut ct: &[u8]) {
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
    pub fn encrypt(&mut self, data: &mut [u8]) {
        self.keystream(data);
        self.authenticate(data);
    }
    /// Authenticates all of `ct` and checks `tag` (its first `tag.len()`
    /// bytes); only if it matches is the plaintext written to `dst` (as long
    /// as `ct`). `false` on a bad tag or length, with `dst` untouched.
    pub fn open(mut self, ct: &[u8], tag: &[u8], dst: &mut [u8]) -> bool {
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
    pub fn tag(mut self) -> [u8; BLOCK] {
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

/// The default IV of KW (RFC 3394 §2.2.3.1).
pub const KW_DEFAULT_IV: [u8; 8] = [0xa6; 8];
/// The default ICV of KWP (RFC 5649 §3).
pub const KWP_DEFAULT_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

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
pub fn kw_wrap(key: &AesKey, iv: [u8; 8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 16 || data.len() % 8 != 0 {
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
pub fn kw_unwrap(key: &AesKey, iv: [u8; 8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
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
pub fn kwp_wrap(key: &AesKey, icv: [u8; 4], data: &[u8]) -> Option<Vec<u8>> {
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
pub fn kwp_unwrap(key: &AesKey, icv: [u8; 4], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 16 || wrapped.len() % 8 != 0 {
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

/// CMAC (NIST SP 800-38B, RFC 4493), multi-part: the `cmac` crate over a
/// copy of the expanded key (its state is wiped on drop by the crate's
/// `zeroize` feature).
#[derive(Clone)]
pub struct Cmac(CmacInner);

#[derive(Clone)]
enum CmacInner {
    A128(cmac::Cmac<aes::Aes128>),
    A192(cmac::Cmac<aes::Aes192>),
    A256(cmac::Cmac<aes::Aes256>),
}

impl Cmac {
    /// A new CMAC under `key`.
    pub fn new(key: &AesKey) -> Self {
        Cmac(match key {
            AesKey::A128(k) => CmacInner::A128(cmac::Cmac::inner_init(k.clone())),
            AesKey::A192(k) => CmacInner::A192(cmac::Cmac::inner_init(k.clone())),
            AesKey::A256(k) => CmacInner::A256(cmac::Cmac::inner_init(k.clone())),
        })
    }
    /// Adds data.
    pub fn update(&mut self, data: &[u8]) {
        use cmac::Mac;
        match &mut self.0 {
            CmacInner::A128(m) => m.update(data),
            CmacInner::A192(m) => m.update(data),
            CmacInner::A256(m) => m.update(data),
        }
    }
    /// The full 16-byte MAC.
    pub fn finalize(self) -> [u8; BLOCK] {
        use cmac::Mac;
        let tag = match self.0 {
            CmacInner::A128(m) => m.finalize().into_bytes(),
            CmacInner::A192(m) => m.finalize().into_bytes(),
            CmacInner::A256(m) => m.finalize().into_bytes(),
        };
        tag.into()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

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

    /// Deterministic test bytes (xorshift), different for each `seed`.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
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

    const KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const PT4: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51
                       30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

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
    fn ctr_narrow_counters_up_to_their_end() {
        // The crate's 128-bit counter gives the narrow counter's blocks right
        // up to the last value the narrow counter has.
        let k = AesKey::new(&h(KEY128)).unwrap();
        for (bits, low) in [
            (8u32, 0xf0u128),
            (16, 0xfffa),
            (33, 0x1_ffff_fff8),
            (128, u128::MAX - 9),
        ] {
            let mask = if bits == 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            };
            let cb = (!mask | low).to_be_bytes();
            let blocks = usize::try_from(mask - low + 1).unwrap();
            let want = ctr_reference(&k, cb, bits, blocks);
            let mut c = Ctr::new(cb, bits).unwrap();
            let mut got = vec![0u8; want.len()];
            let (a, b) = got.split_at_mut(21);
            assert!(c.apply(&k, a));
            assert!(c.apply(&k, b));
            assert_eq!(got, want, "{bits} bits");
            assert!(!c.apply(&k, &mut [0u8; 1]));
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

    #[test]
    fn cmac_rfc4493() {
        let k = AesKey::new(&h(KEY128)).unwrap();
        let msg = h(PT4);
        for (len, tag) in [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ] {
            let mut m = Cmac::new(&k);
            m.update(&msg[..len / 3]);
            let copy = m.clone();
            m.update(&msg[len / 3..len]);
            assert_eq!(m.finalize().to_vec(), h(tag), "{len}");
            let mut m = copy;
            m.update(&msg[len / 3..len]);
            assert_eq!(m.finalize().to_vec(), h(tag), "{len} (clone)");
        }
    }

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
