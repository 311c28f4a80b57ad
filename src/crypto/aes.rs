//! AES and its modes over the `aes` block cipher (AES-NI when the CPU has it)
//! and `ghash` (CLMUL): ECB, CBC, CTR with a counter of any width, GCM with any
//! IV length and streaming in both directions, key wrap (SP 800-38F KW = RFC
//! 3394, KWP = RFC 5649) with caller IVs, and CMAC (SP 800-38B / RFC 4493).
//!
//! The modes are written here over the block cipher rather than through the
//! `cbc`, `ctr`, `aes-gcm`, `aes-kw` and `cmac` crates because PKCS#11 needs
//! what those crates fix at compile time: GCM IVs of any length chosen at run
//! time, multi-part GCM decryption that releases nothing before the tag is
//! checked, CTR counters narrower than 128 bits that must not wrap, and
//! key-wrap IVs given by the caller. One expanded key ([`AesKey`]) serves every
//! mode, so an object's key schedule is expanded once and cached.

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use zeroize::{Zeroize, Zeroizing};

/// The AES block size in bytes.
pub const BLOCK: usize = 16;

type Blk = Array<u8, aes::cipher::consts::U16>;

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
        match self {
            AesKey::A128(k) => k.encrypt_block(blk),
            AesKey::A192(k) => k.encrypt_block(blk),
            AesKey::A256(k) => k.encrypt_block(blk),
        }
    }
    /// Decrypts one block in place.
    pub fn decrypt_block(&self, b: &mut [u8; BLOCK]) {
        let blk: &mut Blk = b.into();
        match self {
            AesKey::A128(k) => k.decrypt_block(blk),
            AesKey::A192(k) => k.decrypt_block(blk),
            AesKey::A256(k) => k.decrypt_block(blk),
        }
    }
    /// Encrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub fn encrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        match self {
            AesKey::A128(k) => k.encrypt_blocks(blocks),
            AesKey::A192(k) => k.encrypt_blocks(blocks),
            AesKey::A256(k) => k.encrypt_blocks(blocks),
        }
    }
    /// Decrypts whole blocks in place (ECB); a trailing partial block is left alone.
    pub fn decrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Blk::slice_as_chunks_mut(data);
        match self {
            AesKey::A128(k) => k.decrypt_blocks(blocks),
            AesKey::A192(k) => k.decrypt_blocks(blocks),
            AesKey::A256(k) => k.decrypt_blocks(blocks),
        }
    }
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// CBC encryption of whole blocks in place; `iv` becomes the last ciphertext block.
pub fn cbc_encrypt(key: &AesKey, iv: &mut [u8; BLOCK], data: &mut [u8]) {
    for chunk in data.chunks_exact_mut(BLOCK) {
        xor_into(iv, chunk);
        key.encrypt_block(iv);
        chunk.copy_from_slice(iv);
    }
}

/// CBC decryption of whole blocks in place; `iv` becomes the last ciphertext block.
pub fn cbc_decrypt(key: &AesKey, iv: &mut [u8; BLOCK], data: &mut [u8]) {
    let n = data.len() - data.len() % BLOCK;
    if n == 0 {
        return;
    }
    let data = &mut data[..n];
    let mut prev = Zeroizing::new(Vec::with_capacity(n));
    prev.extend_from_slice(iv);
    prev.extend_from_slice(&data[..n - BLOCK]);
    iv.copy_from_slice(&data[n - BLOCK..]);
    key.decrypt_blocks(data);
    xor_into(data, &prev);
}

/// Counter-mode keystream over a counter block whose low `counter_bits` bits
/// count (NIST SP 800-38A, PKCS#11 `CK_AES_CTR_PARAMS`). The counter never
/// wraps: [`Ctr::apply`] refuses input that would need it to.
#[derive(Clone)]
pub struct Ctr {
    block: u128,
    mask: u128,
    /// Counter values not yet turned into keystream (saturates at `u128::MAX`).
    blocks_left: u128,
    ks: [u8; BLOCK],
    ks_pos: usize,
}

impl Drop for Ctr {
    fn drop(&mut self) {
        self.ks.zeroize();
    }
}

impl Ctr {
    /// A keystream starting at `cb`; `None` unless `1 <= counter_bits <= 128`.
    pub fn new(cb: [u8; BLOCK], counter_bits: u32) -> Option<Self> {
        if !(1..=128).contains(&counter_bits) {
            return None;
        }
        let block = u128::from_be_bytes(cb);
        let mask = if counter_bits == 128 {
            u128::MAX
        } else {
            (1u128 << counter_bits) - 1
        };
        let start = block & mask;
        // 2^bits - start values remain, computed without overflow.
        let blocks_left = (mask - start).saturating_add(1);
        Some(Ctr {
            block,
            mask,
            blocks_left,
            ks: [0; BLOCK],
            ks_pos: BLOCK,
        })
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
    fn next_block(&mut self) -> [u8; BLOCK] {
        let out = self.block.to_be_bytes();
        self.block = (self.block & !self.mask) | (self.block.wrapping_add(1) & self.mask);
        self.blocks_left = self.blocks_left.saturating_sub(1);
        out
    }
    /// XORs the keystream into `data`; `false` (and nothing done) when the
    /// counter would wrap.
    pub fn apply(&mut self, key: &AesKey, data: &mut [u8]) -> bool {
        if !self.fits(data.len()) {
            return false;
        }
        let mut rest = data;
        // Use up buffered keystream.
        let take = rest.len().min(BLOCK - self.ks_pos);
        let (head, tail) = rest.split_at_mut(take);
        xor_into(head, &self.ks[self.ks_pos..self.ks_pos + take]);
        self.ks_pos += take;
        rest = tail;
        // Whole blocks, several at a time so that AES-NI pipelines.
        const BATCH: usize = 8;
        let mut ks = [0u8; BLOCK * BATCH];
        while rest.len() >= BLOCK {
            let nb = (rest.len() / BLOCK).min(BATCH);
            for i in 0..nb {
                let b = self.next_block();
                ks[i * BLOCK..(i + 1) * BLOCK].copy_from_slice(&b);
            }
            key.encrypt_blocks(&mut ks[..nb * BLOCK]);
            let (head, tail) = rest.split_at_mut(nb * BLOCK);
            xor_into(head, &ks[..nb * BLOCK]);
            rest = tail;
        }
        ks.zeroize();
        if !rest.is_empty() {
            self.ks = self.next_block();
            key.encrypt_block(&mut self.ks);
            xor_into(rest, &self.ks);
            self.ks_pos = rest.len();
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
    /// bad tag, with `dst` all zeros. With `aws-lc`, a 96-bit IV with a full tag
    /// goes to `aws-lc-rs`.
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
        let ctr = Ctr {
            block: next,
            mask: 0xffff_ffff,
            blocks_left: u128::MAX,
            ks: [0; BLOCK],
            ks_pos: BLOCK,
        };
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
/// `a`; `data` is `n >= 2` semiblocks.
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
pub fn kw_wrap(key: &AesKey, iv: [u8; 8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 16 || data.len() % 8 != 0 {
        return None;
    }
    Some(w(key, iv, data))
}

/// KW unwrap (RFC 3394): `None` on a bad length or a failed integrity check.
pub fn kw_unwrap(key: &AesKey, iv: [u8; 8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
        return None;
    }
    let (a, r) = w_inv(key, wrapped);
    crate::crypto::hash::ct_eq(&a, &iv).then_some(r)
}

/// KWP wrap (RFC 5649): any length from 1 to 2^32 - 1 bytes.
pub fn kwp_wrap(key: &AesKey, icv: [u8; 4], data: &[u8]) -> Option<Vec<u8>> {
    let mli = u32::try_from(data.len()).ok()?;
    if mli == 0 {
        return None;
    }
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
pub fn kwp_unwrap(key: &AesKey, icv: [u8; 4], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 16 || wrapped.len() % 8 != 0 {
        return None;
    }
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

/// CMAC (NIST SP 800-38B, RFC 4493), multi-part.
#[derive(Clone)]
pub struct Cmac {
    key: AesKey,
    k1: [u8; BLOCK],
    k2: [u8; BLOCK],
    state: [u8; BLOCK],
    buf: [u8; BLOCK],
    buf_len: usize,
}

impl Drop for Cmac {
    fn drop(&mut self) {
        self.k1.zeroize();
        self.k2.zeroize();
        self.state.zeroize();
        self.buf.zeroize();
    }
}

fn dbl(b: &[u8; BLOCK]) -> [u8; BLOCK] {
    let v = u128::from_be_bytes(*b);
    let r = (v << 1) ^ if v >> 127 == 1 { 0x87 } else { 0 };
    r.to_be_bytes()
}

impl Cmac {
    /// A new CMAC under `key`.
    pub fn new(key: &AesKey) -> Self {
        let mut l = [0u8; BLOCK];
        key.encrypt_block(&mut l);
        let k1 = dbl(&l);
        let k2 = dbl(&k1);
        l.zeroize();
        Cmac {
            key: key.clone(),
            k1,
            k2,
            state: [0; BLOCK],
            buf: [0; BLOCK],
            buf_len: 0,
        }
    }
    /// Adds data. The last block is held back until [`Cmac::finalize`].
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.buf_len == BLOCK {
                xor_into(&mut self.state, &self.buf);
                self.key.encrypt_block(&mut self.state);
                self.buf_len = 0;
            }
            let take = data.len().min(BLOCK - self.buf_len);
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
        }
    }
    /// The full 16-byte MAC.
    pub fn finalize(mut self) -> [u8; BLOCK] {
        let mut last = [0u8; BLOCK];
        if self.buf_len == BLOCK {
            last = self.buf;
            xor_into(&mut last, &self.k1);
        } else {
            last[..self.buf_len].copy_from_slice(&self.buf[..self.buf_len]);
            last[self.buf_len] = 0x80;
            xor_into(&mut last, &self.k2);
        }
        xor_into(&mut self.state, &last);
        let mut t = self.state;
        self.key.encrypt_block(&mut t);
        t
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
    fn cmac_subkeys_rfc4493() {
        let k = AesKey::new(&h("2b7e151628aed2a6abf7158809cf4f3c")).unwrap();
        let c = Cmac::new(&k);
        assert_eq!(c.k1.to_vec(), h("fbeed618357133667c85e08f7236a8de"));
        assert_eq!(c.k2.to_vec(), h("f7ddac306ae266ccf90bc11ee46d513b"));
    }
}
