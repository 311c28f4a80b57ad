//! AES mechanisms (PKCS#11 3.0 current mechanisms §2.12–2.16 and the
//! message-based functions of the base spec §5.13–5.14).
//!
//! | mechanism | parameter | input rules |
//! | --- | --- | --- |
//! | `CKM_AES_KEY_GEN` | none | `CKA_VALUE_LEN` 16, 24 or 32 (else `CKR_ATTRIBUTE_VALUE_INVALID`) |
//! | `CKM_AES_ECB`, `CKM_AES_CBC` | none / 16-byte IV | multiple of 16: `CKR_DATA_LEN_RANGE` on encryption, `CKR_ENCRYPTED_DATA_LEN_RANGE` on decryption |
//! | `CKM_AES_CBC_PAD` | 16-byte IV | PKCS#7 padding; bad padding is `CKR_ENCRYPTED_DATA_INVALID` |
//! | `CKM_AES_CTR` | `CK_AES_CTR_PARAMS`, 1..=128 counter bits | the counter never wraps: `CKR_DATA_LEN_RANGE` |
//! | `CKM_AES_GCM` | `CK_GCM_PARAMS`: IV ≥ 1 byte, tag 32..=128 bits in steps of 8 | a bad tag is `CKR_ENCRYPTED_DATA_INVALID` |
//! | `CKM_AES_KEY_WRAP` | optional 8-byte IV | SP 800-38F KW (RFC 3394) |
//! | `CKM_AES_KEY_WRAP_KWP` | optional 4-byte IV | SP 800-38F KWP (RFC 5649) |
//! | `CKM_AES_CMAC`, `_GENERAL` | none / `CK_MAC_GENERAL_PARAMS` 1..=16 | — |
//!
//! Error codes for a failed GCM tag: `C_Decrypt` returns
//! `CKR_ENCRYPTED_DATA_INVALID` (the code the 3.0 `C_Decrypt` description names
//! for bad ciphertext, and what SoftHSMv2, OpenSC and opencryptoki clients
//! expect); the message-based `C_DecryptMessage*` functions, for which 3.0
//! introduced it, return `CKR_AEAD_DECRYPT_FAILED`. Multi-part GCM decryption
//! buffers the ciphertext and releases plaintext only from `C_DecryptFinal`,
//! after the tag has been checked.
//!
//! Wrapping: ECB and CBC pad the key value with zeros to a multiple of 16 (the
//! standard's rule); on unwrap they return the padded value, which the object
//! layer truncates to `CKA_VALUE_LEN` or the key type's size. KW needs a key
//! value that is a multiple of 8 bytes and at least 16 (`CKR_KEY_SIZE_RANGE`).
//!
//! An AES key object's expanded key schedule (and GHASH key) is cached in the
//! object's `parsed()` slot as a [`GcmKey`], so no operation re-expands it.

use crate::crypto::aes::{
    cbc_decrypt, cbc_encrypt, kw_unwrap, kw_wrap, kwp_unwrap, kwp_wrap, Cmac, Ctr, Gcm, GcmKey,
    BLOCK, GCM_MAX_DATA, KWP_DEFAULT_IV, KW_DEFAULT_IV,
};
use crate::crypto::hash::ct_eq;
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::digest::{no_param, NO_FUNCTIONS};
use crate::mechanism::hmac::template_value_len;
use crate::mechanism::{
    CipherOp, Functions, Generated, Mechanism, MechanismDef, Param, ParamKind, SignOp, VerifyOp,
};
use crate::object::attr::{Attribute, Template};
use crate::object::Object;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// The expanded key of an AES key object; `size_err` when its value is not 16,
/// 24 or 32 bytes long.
fn aes_key(obj: &Object, size_err: Error) -> Result<Arc<GcmKey>> {
    let v = obj
        .get(CKA_VALUE)
        .ok_or_else(|| Error::General("AES key object without CKA_VALUE".into()))?;
    if !matches!(v.len(), 16 | 24 | 32) {
        return Err(size_err);
    }
    obj.parsed(|o| {
        let v = o.get(CKA_VALUE).unwrap_or_default();
        GcmKey::from_bytes(v).ok_or(Error::KeySizeRange)
    })
}

fn iv16(mech: &Mechanism) -> Result<[u8; BLOCK]> {
    match &mech.param {
        Param::Bytes(iv) => iv
            .as_slice()
            .try_into()
            .map_err(|_| Error::MechanismParamInvalid),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Appends PKCS#7 padding.
fn pad(data: &mut Zeroizing<Vec<u8>>) {
    let n = BLOCK - data.len() % BLOCK;
    let total = data.len() + n;
    data.resize(total, u8::try_from(n).unwrap_or(0));
}

/// The length of `block` (the last decrypted block) without its PKCS#7 padding.
fn unpad_len(block: &[u8]) -> Result<usize> {
    let n = usize::from(*block.last().ok_or(Error::EncryptedDataInvalid)?);
    if n == 0 || n > BLOCK || n > block.len() {
        return Err(Error::EncryptedDataInvalid);
    }
    let bad = block[block.len() - n..]
        .iter()
        .fold(0u8, |acc, b| acc | (b ^ block[block.len() - 1]));
    if bad != 0 {
        return Err(Error::EncryptedDataInvalid);
    }
    Ok(block.len() - n)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockMode {
    Ecb,
    Cbc,
    CbcPad,
}

/// ECB, CBC and CBC_PAD, both directions.
struct BlockOp {
    key: Arc<GcmKey>,
    mode: BlockMode,
    encrypt: bool,
    iv: [u8; BLOCK],
    buf: Zeroizing<Vec<u8>>,
}

impl BlockOp {
    fn len_err(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }
    /// Processes whole blocks in place, chaining through `iv`.
    fn process(&self, iv: &mut [u8; BLOCK], data: &mut [u8]) {
        let k = self.key.aes();
        match (self.mode, self.encrypt) {
            (BlockMode::Ecb, true) => k.encrypt_blocks(data),
            (BlockMode::Ecb, false) => k.decrypt_blocks(data),
            (_, true) => cbc_encrypt(k, iv, data),
            (_, false) => cbc_decrypt(k, iv, data),
        }
    }
    /// Bytes an update may release when `total` bytes are pending.
    fn releasable(&self, total: usize) -> usize {
        if self.mode == BlockMode::CbcPad && !self.encrypt {
            // Keep the last block back: it carries the padding.
            total.saturating_sub(1) / BLOCK * BLOCK
        } else {
            total / BLOCK * BLOCK
        }
    }
}

impl CipherOp for BlockOp {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let mut iv = self.iv;
        match (self.mode, self.encrypt) {
            (BlockMode::CbcPad, true) => {
                let n = (input.len() / BLOCK + 1) * BLOCK;
                if let Some(dst) = out.reserve(n)? {
                    let mut tmp = Zeroizing::new(input.to_vec());
                    pad(&mut tmp);
                    dst.copy_from_slice(&tmp);
                    self.process(&mut iv, dst);
                }
                Ok(())
            }
            (BlockMode::CbcPad, false) => {
                if input.is_empty() || input.len() % BLOCK != 0 {
                    return Err(Error::EncryptedDataLenRange);
                }
                if out.is_query() {
                    // An upper bound; the real call reports the exact length.
                    out.reserve(input.len())?;
                    return Ok(());
                }
                let mut tmp = Zeroizing::new(input.to_vec());
                self.process(&mut iv, &mut tmp);
                let n = unpad_len(&tmp)?;
                out.write(&tmp[..n])?;
                Ok(())
            }
            _ => {
                if input.len() % BLOCK != 0 {
                    return Err(self.len_err());
                }
                if let Some(dst) = out.reserve(input.len())? {
                    dst.copy_from_slice(input);
                    self.process(&mut iv, dst);
                }
                Ok(())
            }
        }
    }

    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let total = self
            .buf
            .len()
            .checked_add(input.len())
            .ok_or(Error::DataLenRange)?;
        let n = self.releasable(total);
        let Some(dst) = out.reserve(n)? else {
            return Ok(());
        };
        let from_buf = self.buf.len().min(n);
        dst[..from_buf].copy_from_slice(&self.buf[..from_buf]);
        dst[from_buf..].copy_from_slice(&input[..n - from_buf]);
        let mut iv = self.iv;
        self.process(&mut iv, dst);
        self.iv = iv;
        let mut rest = Zeroizing::new(Vec::with_capacity(total - n));
        rest.extend_from_slice(&self.buf[from_buf..]);
        rest.extend_from_slice(&input[n - from_buf..]);
        self.buf = rest;
        Ok(())
    }

    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let mut iv = self.iv;
        match (self.mode, self.encrypt) {
            (BlockMode::CbcPad, true) => {
                if let Some(dst) = out.reserve(BLOCK)? {
                    let mut tmp = self.buf.clone();
                    pad(&mut tmp);
                    dst.copy_from_slice(&tmp);
                    self.process(&mut iv, dst);
                }
                Ok(())
            }
            (BlockMode::CbcPad, false) => {
                if self.buf.len() != BLOCK {
                    return Err(Error::EncryptedDataLenRange);
                }
                let mut tmp = self.buf.clone();
                self.process(&mut iv, &mut tmp);
                let n = unpad_len(&tmp)?;
                out.write(&tmp[..n])?;
                Ok(())
            }
            _ => {
                if !self.buf.is_empty() {
                    return Err(self.len_err());
                }
                out.reserve(0)?;
                Ok(())
            }
        }
    }
}

/// CTR, both directions.
struct CtrOp {
    key: Arc<GcmKey>,
    ctr: Ctr,
}

impl CtrOp {
    fn run(&self, ctr: &mut Ctr, input: &[u8], out: &mut OutBuf) -> Result<bool> {
        if !ctr.fits(input.len()) {
            return Err(Error::DataLenRange);
        }
        let Some(dst) = out.reserve(input.len())? else {
            return Ok(false);
        };
        dst.copy_from_slice(input);
        ctr.apply(self.key.aes(), dst);
        Ok(true)
    }
}

impl CipherOp for CtrOp {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let mut c = self.ctr.clone();
        self.run(&mut c, input, out).map(|_| ())
    }
    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let mut c = self.ctr.clone();
        if self.run(&mut c, input, out)? {
            self.ctr = c;
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        out.reserve(0)?;
        Ok(())
    }
}

/// Checks a GCM tag length in bits and returns it in bytes.
fn tag_len(tag_bits: CK_ULONG) -> Result<usize> {
    usize::try_from(tag_bits)
        .ok()
        .filter(|b| (32..=128).contains(b) && b % 8 == 0)
        .map(|b| b / 8)
        .ok_or(Error::MechanismParamInvalid)
}

/// Decrypts `ct_len` bytes of GCM ciphertext into `out` with `open` (which
/// checks the tag before it releases any plaintext, see [`GcmKey::open`]);
/// `fail` is the error for a bad tag.
fn gcm_open(
    ct_len: usize,
    out: &mut OutBuf,
    fail: Error,
    open: impl FnOnce(&mut [u8]) -> bool,
) -> Result<()> {
    let Some(dst) = out.reserve(ct_len)? else {
        return Ok(());
    };
    if open(dst) {
        Ok(())
    } else {
        Err(fail)
    }
}

/// True when `n` bytes fit in one GCM message.
/// The most input a multi-part operation holds back until its end (GCM and
/// message-based GCM decryption, which release nothing before the tag is
/// checked; key wrap, which works on the whole input): 1 GiB. More is refused
/// with `too_long` rather than grown without bound.
const MAX_BUFFERED: usize = 1 << 30;

/// Appends `input` to a held-back buffer within [`MAX_BUFFERED`], without
/// aborting when memory runs out (`CKR_HOST_MEMORY`).
fn hold_back(buf: &mut Zeroizing<Vec<u8>>, input: &[u8], too_long: Error) -> Result<()> {
    let total = buf.len().saturating_add(input.len());
    if total > MAX_BUFFERED {
        return Err(too_long);
    }
    if total > buf.capacity() {
        // Grow into a new buffer so that the old one is wiped when dropped,
        // never left behind by a reallocation.
        let mut grown = Zeroizing::new(Vec::new());
        grown
            .try_reserve_exact(
                total
                    .max(buf.capacity().saturating_mul(2))
                    .min(MAX_BUFFERED),
            )
            .map_err(|_| Error::HostMemory)?;
        grown.extend_from_slice(buf);
        *buf = grown;
    }
    buf.extend_from_slice(input);
    Ok(())
}

fn gcm_fits(n: usize) -> bool {
    u64::try_from(n).is_ok_and(|n| n <= GCM_MAX_DATA)
}

/// GCM through `C_Encrypt*`/`C_Decrypt*`: the tag follows the ciphertext.
struct GcmOp {
    key: Arc<GcmKey>,
    iv: Vec<u8>,
    aad: Vec<u8>,
    tag_len: usize,
    encrypt: bool,
    /// Multi-part encryption state.
    state: Option<Gcm>,
    /// Multi-part decryption: the ciphertext so far.
    buf: Zeroizing<Vec<u8>>,
}

impl GcmOp {
    fn start(&self) -> Gcm {
        Gcm::new(&self.key, &self.iv, &self.aad)
    }
    fn decrypt_all(&self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        if input.len() < self.tag_len {
            return Err(Error::EncryptedDataLenRange);
        }
        let (ct, tag) = input.split_at(input.len() - self.tag_len);
        if !gcm_fits(ct.len()) {
            return Err(Error::EncryptedDataLenRange);
        }
        gcm_open(ct.len(), out, Error::EncryptedDataInvalid, |dst| {
            self.key.open(&self.iv, &self.aad, ct, tag, dst)
        })
    }
}

impl CipherOp for GcmOp {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        if !self.encrypt {
            return self.decrypt_all(input, out);
        }
        if !gcm_fits(input.len()) {
            return Err(Error::DataLenRange);
        }
        let n = input.len();
        let Some(dst) = out.reserve(n + self.tag_len)? else {
            return Ok(());
        };
        dst[..n].copy_from_slice(input);
        let tag = self
            .key
            .seal(&self.iv, &self.aad, &mut dst[..n])
            .inspect_err(|_| dst.zeroize())?;
        dst[n..].copy_from_slice(&tag[..self.tag_len]);
        Ok(())
    }

    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        if !self.encrypt {
            let total = self.buf.len().saturating_add(input.len());
            let max = usize::try_from(GCM_MAX_DATA)
                .unwrap_or(usize::MAX)
                .saturating_add(self.tag_len);
            if total > max {
                return Err(Error::EncryptedDataLenRange);
            }
            if out.reserve(0)?.is_some() {
                hold_back(&mut self.buf, input, Error::EncryptedDataLenRange)?;
            }
            return Ok(());
        }
        let mut g = match self.state.take() {
            Some(g) => g,
            None => self.start(),
        };
        let res = (|| {
            if !g.fits(input.len()) {
                return Err(Error::DataLenRange);
            }
            if let Some(dst) = out.reserve(input.len())? {
                dst.copy_from_slice(input);
                g.encrypt(dst);
            }
            Ok(())
        })();
        self.state = Some(g);
        res
    }

    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        if !self.encrypt {
            let buf = std::mem::take(&mut self.buf);
            let res = self.decrypt_all(&buf, out);
            self.buf = buf;
            return res;
        }
        if let Some(dst) = out.reserve(self.tag_len)? {
            let g = self.state.clone().unwrap_or_else(|| self.start());
            dst.copy_from_slice(&g.tag()[..self.tag_len]);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WrapKind {
    Kw([u8; 8]),
    Kwp([u8; 4]),
}

/// KW and KWP through `C_Encrypt*`/`C_Decrypt*` (multi-part input is
/// collected and processed at the end).
struct KwOp {
    key: Arc<GcmKey>,
    kind: WrapKind,
    encrypt: bool,
    buf: Zeroizing<Vec<u8>>,
}

impl KwOp {
    fn run(&self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let k = self.key.aes();
        if self.encrypt {
            let n = match self.kind {
                WrapKind::Kw(_) if input.len() < 16 || input.len() % 8 != 0 => {
                    return Err(Error::DataLenRange)
                }
                WrapKind::Kw(_) => input.len() + 8,
                WrapKind::Kwp(_) if input.is_empty() || u32::try_from(input.len()).is_err() => {
                    return Err(Error::DataLenRange)
                }
                WrapKind::Kwp(_) => input.len().div_ceil(8) * 8 + 8,
            };
            if let Some(dst) = out.reserve(n)? {
                let w = match self.kind {
                    WrapKind::Kw(iv) => kw_wrap(k, iv, input),
                    WrapKind::Kwp(icv) => kwp_wrap(k, icv, input),
                };
                dst.copy_from_slice(&w.ok_or(Error::DataLenRange)?);
            }
            return Ok(());
        }
        let min = match self.kind {
            WrapKind::Kw(_) => 24,
            WrapKind::Kwp(_) => 16,
        };
        if input.len() < min || input.len() % 8 != 0 {
            return Err(Error::EncryptedDataLenRange);
        }
        if out.is_query() {
            out.reserve(input.len() - 8)?;
            return Ok(());
        }
        let plain = match self.kind {
            WrapKind::Kw(iv) => kw_unwrap(k, iv, input),
            WrapKind::Kwp(icv) => kwp_unwrap(k, icv, input),
        }
        .ok_or(Error::EncryptedDataInvalid)?;
        out.write(&plain)?;
        Ok(())
    }
}

impl CipherOp for KwOp {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        self.run(input, out)
    }
    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        if out.reserve(0)?.is_some() {
            let too_long = if self.encrypt {
                Error::DataLenRange
            } else {
                Error::EncryptedDataLenRange
            };
            hold_back(&mut self.buf, input, too_long)?;
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let res = self.run(&buf, out);
        self.buf = buf;
        res
    }
}

fn wrap_kind(mech: &Mechanism) -> Result<WrapKind> {
    let iv = match &mech.param {
        Param::None => None,
        Param::Bytes(b) if b.is_empty() => None,
        Param::Bytes(b) => Some(b.as_slice()),
        _ => return Err(Error::MechanismParamInvalid),
    };
    if mech.mech == CKM_AES_KEY_WRAP {
        Ok(WrapKind::Kw(match iv {
            None => KW_DEFAULT_IV,
            Some(b) => b.try_into().map_err(|_| Error::MechanismParamInvalid)?,
        }))
    } else {
        Ok(WrapKind::Kwp(match iv {
            None => KWP_DEFAULT_IV,
            Some(b) => b.try_into().map_err(|_| Error::MechanismParamInvalid)?,
        }))
    }
}

/// Builds the cipher operation for `mech` under `key`.
fn cipher(mech: &Mechanism, key: Arc<GcmKey>, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    let block = |mode, iv| -> Box<dyn CipherOp> {
        Box::new(BlockOp {
            key: Arc::clone(&key),
            mode,
            encrypt,
            iv,
            buf: Zeroizing::new(Vec::new()),
        })
    };
    Ok(match mech.mech {
        CKM_AES_ECB => {
            no_param(mech)?;
            block(BlockMode::Ecb, [0; BLOCK])
        }
        CKM_AES_CBC => block(BlockMode::Cbc, iv16(mech)?),
        CKM_AES_CBC_PAD => block(BlockMode::CbcPad, iv16(mech)?),
        CKM_AES_CTR => match &mech.param {
            Param::Ctr { counter_bits, cb } => {
                let bits =
                    u32::try_from(*counter_bits).map_err(|_| Error::MechanismParamInvalid)?;
                let ctr = Ctr::new(*cb, bits).ok_or(Error::MechanismParamInvalid)?;
                Box::new(CtrOp { key, ctr })
            }
            _ => return Err(Error::MechanismParamInvalid),
        },
        CKM_AES_GCM => match &mech.param {
            Param::Gcm { iv, aad, tag_bits } => {
                if iv.is_empty() {
                    return Err(Error::MechanismParamInvalid);
                }
                Box::new(GcmOp {
                    key,
                    iv: iv.clone(),
                    aad: aad.clone(),
                    tag_len: tag_len(*tag_bits)?,
                    encrypt,
                    state: None,
                    buf: Zeroizing::new(Vec::new()),
                })
            }
            _ => return Err(Error::MechanismParamInvalid),
        },
        CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP => Box::new(KwOp {
            key,
            kind: wrap_kind(mech)?,
            encrypt,
            buf: Zeroizing::new(Vec::new()),
        }),
        _ => return Err(Error::MechanismInvalid),
    })
}

fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    let key = key.key();
    cipher(mech, aes_key(key, Error::KeySizeRange)?, true)
}

fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    let key = key.key();
    cipher(mech, aes_key(key, Error::KeySizeRange)?, false)
}

/// Runs a single-part operation into a fresh buffer.
fn run_to_vec(op: &mut dyn CipherOp, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut q = OutBuf::query();
    op.one_shot(input, &mut q)?;
    let mut v = Zeroizing::new(vec![0u8; q.len()]);
    let mut o = OutBuf::new(Some(&mut v));
    op.one_shot(input, &mut o)?;
    let n = o.len();
    v.truncate(n);
    Ok(v)
}

fn wrap(mech: &Mechanism, wrapping_key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let wrapping_key = wrapping_key.key();
    let key = aes_key(wrapping_key, Error::WrappingKeySizeRange)?;
    let mut op = cipher(mech, key, true)?;
    let mut input = Zeroizing::new(key_bytes.to_vec());
    if matches!(mech.mech, CKM_AES_ECB | CKM_AES_CBC) {
        // Zero padding to the block size, as the standard says for these modes.
        let n = input.len().div_ceil(BLOCK) * BLOCK;
        input.resize(n, 0);
    }
    if input.is_empty() {
        return Err(Error::KeySizeRange);
    }
    let out = run_to_vec(op.as_mut(), &input).map_err(|e| match e {
        Error::DataLenRange => Error::KeySizeRange,
        e => e,
    })?;
    Ok(out.to_vec())
}

fn unwrap(
    mech: &Mechanism,
    unwrapping_key: &Granted,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = aes_key(unwrapping_key.key(), Error::UnwrappingKeySizeRange)?;
    let mut op = cipher(mech, key, false)?;
    if wrapped.is_empty() {
        return Err(Error::WrappedKeyLenRange);
    }
    run_to_vec(op.as_mut(), wrapped).map_err(|e| match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        e => e,
    })
}

/// CMAC sign and verify.
struct CmacOp {
    mac: Cmac,
    out_len: usize,
}

impl SignOp for CmacOp {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        if let Some(dst) = out.reserve(self.out_len)? {
            let mut m = self.mac.clone();
            m.update(data);
            dst.copy_from_slice(&m.finalize()[..self.out_len]);
        }
        Ok(())
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.mac.update(data);
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        if let Some(dst) = out.reserve(self.out_len)? {
            dst.copy_from_slice(&self.mac.clone().finalize()[..self.out_len]);
        }
        Ok(())
    }
}

impl VerifyOp for CmacOp {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        VerifyOp::update(self, data)?;
        VerifyOp::finish(self, signature)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.mac.update(data);
        Ok(())
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        if signature.len() != self.out_len {
            return Err(Error::SignatureLenRange);
        }
        let t = self.mac.clone().finalize();
        if ct_eq(&t[..self.out_len], signature) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

fn cmac_setup(mech: &Mechanism, key: &Object) -> Result<CmacOp> {
    let out_len = match (mech.mech, &mech.param) {
        (CKM_AES_CMAC, Param::None) => BLOCK,
        (CKM_AES_CMAC_GENERAL, Param::Ulong(n)) => usize::try_from(*n)
            .ok()
            .filter(|n| (1..=BLOCK).contains(n))
            .ok_or(Error::MechanismParamInvalid)?,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let k = aes_key(key, Error::KeySizeRange)?;
    Ok(CmacOp {
        mac: Cmac::new(k.aes()),
        out_len,
    })
}

fn cmac_sign(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let key = key.key();
    Ok(Box::new(cmac_setup(mech, key)?))
}

fn cmac_verify(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let key = key.key();
    Ok(Box::new(cmac_setup(mech, key)?))
}

fn aes_key_gen(mech: &Mechanism, template: &Template) -> Result<Generated> {
    no_param(mech)?;
    let len = template_value_len(template)?;
    if !matches!(len, 16 | 24 | 32) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let value =
        crate::crypto::random_vec(len).map_err(|e| Error::General(format!("random: {e}")))?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_AES),
        Attribute::new(CKA_VALUE, value.to_vec()),
    ])
}

/// Message-based AES-GCM (`C_MessageEncryptInit` … base spec §5.13–5.14).
mod message {
    use super::{aes_key, gcm_fits, gcm_open, hold_back, tag_len};
    use crate::crypto::aes::{Gcm, GcmKey};
    use crate::error::{Error, Result};
    use crate::gate::{Granted, IvSource};
    use crate::mechanism::{Mechanism, MessageOp, Param};
    use crate::outbuf::OutBuf;
    use cryptoki_sys::*;
    use std::sync::Arc;
    use zeroize::{Zeroize, Zeroizing};

    /// A message begun with `C_*MessageBegin`.
    struct Pending {
        gcm: Gcm,
        tag_len: usize,
        /// Decryption: the ciphertext so far (released at the end of the message).
        buf: Zeroizing<Vec<u8>>,
    }

    /// The operation: one key, any number of messages.
    pub(super) struct GcmMessages {
        key: Arc<GcmKey>,
        encrypt: bool,
        /// The principal may give its own IV (`CKG_NO_GENERATE`): the key gate
        /// decided (`crate::gate`, the IV rule).
        may_choose_iv: bool,
        /// Generated counters: reserved in blocks from the key's counter, which
        /// never repeats a value across inits, sessions and processes.
        ivs: Option<Arc<dyn IvSource>>,
        /// The next counter value of the reserved block, and its end.
        block: (u64, u64),
        /// How many values the next reservation takes (doubles up to a bound).
        next_block: u64,
        pending: Option<Pending>,
    }

    /// The largest block of counter values one reservation takes.
    const MAX_BLOCK: u64 = 4096;

    /// The per-message parameter: (iv, fixed bits, generator, tag length in bytes).
    fn fields(param: &Param) -> Result<(&[u8], usize, CK_ULONG, usize)> {
        match param {
            Param::GcmMessage {
                iv,
                iv_fixed_bits,
                iv_generator,
                tag_bits,
                ..
            } => {
                let fixed =
                    usize::try_from(*iv_fixed_bits).map_err(|_| Error::MechanismParamInvalid)?;
                if iv.is_empty() || fixed > iv.len() * 8 {
                    return Err(Error::MechanismParamInvalid);
                }
                Ok((iv, fixed, *iv_generator, tag_len(*tag_bits)?))
            }
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    impl GcmMessages {
        /// The next IV counter value of this key.
        fn next_counter(&mut self) -> Result<u64> {
            if self.block.0 == self.block.1 {
                let src = self.ivs.as_ref().ok_or_else(|| {
                    Error::General("no IV counter for this key (token file unavailable)".into())
                })?;
                let n = self.next_block;
                let first = src.reserve(n)?;
                self.block = (first, first.checked_add(n).ok_or(Error::DataLenRange)?);
                self.next_block = (n * 2).min(MAX_BLOCK);
            }
            let c = self.block.0;
            self.block.0 += 1;
            Ok(c)
        }

        /// Checks the parameter and, for encryption, makes the IV as
        /// `iv_generator` says (writing it into `param`). Returns the tag length.
        fn prepare(&mut self, param: &mut Param, make_iv: bool) -> Result<usize> {
            let (iv, fixed, generator, tlen) = fields(param)?;
            if !self.encrypt || !make_iv {
                return Ok(tlen);
            }
            let mut iv = iv.to_vec();
            let total_bits = iv.len() * 8;
            let free_bits = total_bits - fixed;
            // Sets every bit after the fixed prefix (bit 0 is the IV's first, most
            // significant bit) from `bit(distance from the last bit)`.
            let fill = |iv: &mut [u8], bit: &dyn Fn(usize) -> bool| {
                for i in fixed..total_bits {
                    let m = 0x80u8 >> (i % 8);
                    if bit(total_bits - 1 - i) {
                        iv[i / 8] |= m;
                    } else {
                        iv[i / 8] &= !m;
                    }
                }
            };
            match generator {
                CKG_NO_GENERATE if !self.may_choose_iv => {
                    return Err(Error::KeyFunctionNotPermitted(
                        "this principal may encrypt but not decrypt with this key, so it cannot \
                         choose the IV: use CKG_GENERATE_COUNTER, CKG_GENERATE or \
                         CKG_GENERATE_RANDOM"
                            .into(),
                    ));
                }
                CKG_NO_GENERATE => {}
                CKG_GENERATE_RANDOM => {
                    if free_bits == 0 {
                        return Err(Error::MechanismParamInvalid);
                    }
                    let mut r = Zeroizing::new(vec![0u8; iv.len()]);
                    crate::crypto::random(&mut r)
                        .map_err(|e| Error::General(format!("random: {e}")))?;
                    fill(&mut iv, &|k| r[r.len() - 1 - k / 8] & (1 << (k % 8)) != 0);
                }
                CKG_GENERATE_COUNTER | CKG_GENERATE => {
                    if free_bits == 0 {
                        return Err(Error::MechanismParamInvalid);
                    }
                    let c = self.next_counter()?;
                    if free_bits < 64 && c >> free_bits != 0 {
                        // The counter field is used up: refuse rather than repeat an IV.
                        return Err(Error::DataLenRange);
                    }
                    fill(&mut iv, &|k| k < 64 && (c >> k) & 1 == 1);
                }
                _ => return Err(Error::MechanismParamInvalid),
            }
            if let Param::GcmMessage { iv: out, .. } = param {
                *out = iv;
            }
            Ok(tlen)
        }
    }

    fn set_tag(param: &mut Param, t: &[u8]) {
        if let Param::GcmMessage { tag, .. } = param {
            *tag = t.to_vec();
        }
    }

    fn get_tag(param: &Param, tlen: usize) -> Result<&[u8]> {
        match param {
            Param::GcmMessage { tag, .. } if tag.len() == tlen => Ok(tag),
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    fn iv_of(param: &Param) -> &[u8] {
        match param {
            Param::GcmMessage { iv, .. } => iv,
            _ => &[],
        }
    }

    impl MessageOp for GcmMessages {
        fn one_shot(
            &mut self,
            param: &mut Param,
            aad: &[u8],
            input: &[u8],
            out: &mut OutBuf,
        ) -> Result<()> {
            if self.pending.is_some() {
                return Err(Error::OperationActive);
            }
            let tlen = self.prepare(param, false)?;
            if !self.encrypt {
                let tag = get_tag(param, tlen)?.to_vec();
                if !gcm_fits(input.len()) {
                    return Err(Error::EncryptedDataLenRange);
                }
                let iv = iv_of(param);
                return gcm_open(input.len(), out, Error::AeadDecryptFailed, |dst| {
                    self.key.open(iv, aad, input, &tag, dst)
                });
            }
            if out.reserve(input.len())?.is_none() {
                return Ok(());
            }
            // The buffer is large enough: now the IV may be generated.
            self.prepare(param, true)?;
            if !gcm_fits(input.len()) {
                return Err(Error::DataLenRange);
            }
            if let Some(dst) = out.reserve(input.len())? {
                dst.copy_from_slice(input);
                let tag = self
                    .key
                    .seal(iv_of(param), aad, dst)
                    .inspect_err(|_| dst.zeroize())?;
                set_tag(param, &tag[..tlen]);
            }
            Ok(())
        }

        fn begin(&mut self, param: &mut Param, aad: &[u8]) -> Result<()> {
            if self.pending.is_some() {
                return Err(Error::OperationActive);
            }
            let tlen = self.prepare(param, true)?;
            let gcm = Gcm::new(&self.key, iv_of(param), aad);
            self.pending = Some(Pending {
                gcm,
                tag_len: tlen,
                buf: Zeroizing::new(Vec::new()),
            });
            Ok(())
        }

        fn next(
            &mut self,
            param: &mut Param,
            input: &[u8],
            last: bool,
            out: &mut OutBuf,
        ) -> Result<()> {
            let p = self
                .pending
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?;
            if self.encrypt {
                if !p.gcm.fits(input.len()) {
                    return Err(Error::DataLenRange);
                }
                let Some(dst) = out.reserve(input.len())? else {
                    return Ok(());
                };
                dst.copy_from_slice(input);
                p.gcm.encrypt(dst);
                if last {
                    let tlen = p.tag_len;
                    let tag = p.gcm.clone().tag();
                    set_tag(param, &tag[..tlen]);
                    self.pending = None;
                }
                return Ok(());
            }
            if !p.gcm.fits(p.buf.len().saturating_add(input.len())) {
                return Err(Error::EncryptedDataLenRange);
            }
            if !last {
                if out.reserve(0)?.is_some() {
                    hold_back(&mut p.buf, input, Error::EncryptedDataLenRange)?;
                }
                return Ok(());
            }
            let tag = get_tag(param, p.tag_len)?.to_vec();
            let mut all = Zeroizing::new(Vec::new());
            hold_back(&mut all, &p.buf, Error::EncryptedDataLenRange)?;
            hold_back(&mut all, input, Error::EncryptedDataLenRange)?;
            let g = p.gcm.clone();
            gcm_open(all.len(), out, Error::AeadDecryptFailed, |dst| {
                g.open(&all, &tag, dst)
            })?;
            if !out.is_query() {
                self.pending = None;
            }
            Ok(())
        }
    }

    fn init(mech: &Mechanism, g: &Granted, encrypt: bool) -> Result<Box<dyn MessageOp>> {
        match mech.param {
            Param::None | Param::GcmMessage { .. } => {}
            _ => return Err(Error::MechanismParamInvalid),
        }
        let key = aes_key(g.key(), Error::KeySizeRange)?;
        Ok(Box::new(GcmMessages {
            key,
            encrypt,
            may_choose_iv: g.may_choose_iv(),
            ivs: g.iv_source().cloned(),
            block: (0, 0),
            next_block: 16,
            pending: None,
        }))
    }

    /// `C_MessageEncryptInit` with `CKM_AES_GCM`.
    pub(super) fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn MessageOp>> {
        init(mech, key, true)
    }

    /// `C_MessageDecryptInit` with `CKM_AES_GCM`.
    pub(super) fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn MessageOp>> {
        init(mech, key, false)
    }
}

const AES_KEYS: &[CK_KEY_TYPE] = &[CKK_AES];

const fn def(
    mech: CK_MECHANISM_TYPE,
    name: &'static str,
    param: ParamKind,
    functions: Functions,
) -> MechanismDef {
    MechanismDef {
        mech,
        name,
        key_types: AES_KEYS,
        min_key: 16,
        max_key: 32,
        extra_flags: 0,
        param,
        functions,
    }
}

const CIPHER_WRAP: Functions = Functions {
    encrypt: Some(encrypt_init),
    decrypt: Some(decrypt_init),
    wrap: Some(wrap),
    unwrap: Some(unwrap),
    ..NO_FUNCTIONS
};

/// The mechanisms of this family.
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef {
        mech: CKM_AES_KEY_GEN,
        name: "CKM_AES_KEY_GEN",
        key_types: &[],
        min_key: 16,
        max_key: 32,
        extra_flags: 0,
        param: ParamKind::None,
        functions: Functions {
            generate_key: Some(aes_key_gen),
            ..NO_FUNCTIONS
        },
    },
    def(CKM_AES_ECB, "CKM_AES_ECB", ParamKind::None, CIPHER_WRAP),
    def(CKM_AES_CBC, "CKM_AES_CBC", ParamKind::Bytes, CIPHER_WRAP),
    def(
        CKM_AES_CBC_PAD,
        "CKM_AES_CBC_PAD",
        ParamKind::Bytes,
        CIPHER_WRAP,
    ),
    def(
        CKM_AES_CTR,
        "CKM_AES_CTR",
        ParamKind::Ctr,
        Functions {
            encrypt: Some(encrypt_init),
            decrypt: Some(decrypt_init),
            ..NO_FUNCTIONS
        },
    ),
    def(
        CKM_AES_GCM,
        "CKM_AES_GCM",
        ParamKind::Gcm,
        Functions {
            message_encrypt: Some(message::encrypt_init),
            message_decrypt: Some(message::decrypt_init),
            ..CIPHER_WRAP
        },
    ),
    def(
        CKM_AES_KEY_WRAP,
        "CKM_AES_KEY_WRAP",
        ParamKind::OptionalBytes,
        CIPHER_WRAP,
    ),
    def(
        CKM_AES_KEY_WRAP_KWP,
        "CKM_AES_KEY_WRAP_KWP",
        ParamKind::OptionalBytes,
        CIPHER_WRAP,
    ),
    def(
        CKM_AES_CMAC,
        "CKM_AES_CMAC",
        ParamKind::None,
        Functions {
            sign: Some(cmac_sign),
            verify: Some(cmac_verify),
            ..NO_FUNCTIONS
        },
    ),
    def(
        CKM_AES_CMAC_GENERAL,
        "CKM_AES_CMAC_GENERAL",
        ParamKind::Ulong,
        Functions {
            sign: Some(cmac_sign),
            verify: Some(cmac_verify),
            ..NO_FUNCTIONS
        },
    ),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mechanism::digest::tests::h;
    use crate::mechanism::hmac::tests::key_obj;

    const VECTORS: &str = include_str!("../../tests/vectors/sym-aes.txt");

    fn mech_of(name: &str, param: &str) -> Mechanism {
        let (mech, param) = match name {
            "ECB" => (CKM_AES_ECB, Param::None),
            "CBC" => (CKM_AES_CBC, Param::Bytes(h(param))),
            "CBC_PAD" => (CKM_AES_CBC_PAD, Param::Bytes(h(param))),
            "CTR" => (
                CKM_AES_CTR,
                Param::Ctr {
                    counter_bits: 128,
                    cb: h(param).try_into().unwrap(),
                },
            ),
            "GCM" => {
                let f: Vec<&str> = param.split(';').collect();
                (
                    CKM_AES_GCM,
                    Param::Gcm {
                        iv: h(f[0]),
                        aad: h(f[1]),
                        tag_bits: f[2].parse().unwrap(),
                    },
                )
            }
            "KW" | "KWP" => {
                let m = if name == "KW" {
                    CKM_AES_KEY_WRAP
                } else {
                    CKM_AES_KEY_WRAP_KWP
                };
                (
                    m,
                    if param == "-" {
                        Param::None
                    } else {
                        Param::Bytes(h(param))
                    },
                )
            }
            _ => panic!("unknown {name}"),
        };
        Mechanism { mech, param }
    }

    fn op(m: &Mechanism, key: &Arc<Object>, encrypt: bool) -> Box<dyn CipherOp> {
        let key = &Granted::for_tests(key);
        if encrypt {
            encrypt_init(m, key).unwrap()
        } else {
            decrypt_init(m, key).unwrap()
        }
    }

    /// Single-part with a size query and a short buffer first.
    fn single(op: &mut dyn CipherOp, input: &[u8]) -> Result<Vec<u8>> {
        let mut q = OutBuf::query();
        op.one_shot(input, &mut q)?;
        let n = q.len();
        if n > 0 {
            let mut small = vec![0u8; n - 1];
            let mut o = OutBuf::new(Some(&mut small));
            // Too small, unless the query gave an upper bound.
            let _ = op.one_shot(input, &mut o);
        }
        let mut buf = vec![0u8; n];
        let mut o = OutBuf::new(Some(&mut buf));
        op.one_shot(input, &mut o)?;
        let n = o.len();
        buf.truncate(n);
        Ok(buf)
    }

    /// Multi-part in `chunk`-sized pieces, each with a size query and a short buffer first.
    fn multi(op: &mut dyn CipherOp, input: &[u8], chunk: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            let mut q = OutBuf::query();
            op.update(c, &mut q)?;
            let n = q.len();
            if n > 0 {
                let mut small = vec![0u8; n - 1];
                assert_eq!(
                    op.update(c, &mut OutBuf::new(Some(&mut small))),
                    Err(Error::BufferTooSmall)
                );
            }
            let mut buf = vec![0u8; n];
            let mut o = OutBuf::new(Some(&mut buf));
            op.update(c, &mut o)?;
            let n = o.len();
            out.extend_from_slice(&buf[..n]);
        }
        let mut q = OutBuf::query();
        op.finish(&mut q)?;
        let n = q.len();
        let mut buf = vec![0u8; n];
        let mut o = OutBuf::new(Some(&mut buf));
        op.finish(&mut o)?;
        let n = o.len();
        out.extend_from_slice(&buf[..n]);
        Ok(out)
    }

    fn both_ways(m: &Mechanism, key: &Arc<Object>, pt: &[u8], ct: &[u8]) {
        let name = format!("{:#x}", m.mech);
        assert_eq!(
            single(op(m, key, true).as_mut(), pt).unwrap(),
            ct,
            "{name} encrypt"
        );
        assert_eq!(
            single(op(m, key, false).as_mut(), ct).unwrap(),
            pt,
            "{name} decrypt"
        );
        for chunk in [1, 15, 17, 4097] {
            assert_eq!(
                multi(op(m, key, true).as_mut(), pt, chunk).unwrap(),
                ct,
                "{name} encrypt /{chunk}"
            );
            assert_eq!(
                multi(op(m, key, false).as_mut(), ct, chunk).unwrap(),
                pt,
                "{name} decrypt /{chunk}"
            );
        }
    }

    #[test]
    fn known_answers() {
        let mut count = 0;
        for line in VECTORS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let f: Vec<&str> = line.split('|').collect();
            let m = mech_of(f[0], f[2]);
            let key = key_obj(CKK_AES, &h(f[1]));
            let (pt, ct) = (h(f[3]), h(f[4]));
            both_ways(&m, &key, &pt, &ct);
            if matches!(f[0], "ECB" | "KW" | "KWP") || f[0] == "GCM" {
                // Wrapping gives the same bytes.
                assert_eq!(
                    wrap(&m, &Granted::for_tests(&key), &pt).unwrap(),
                    ct,
                    "{line}"
                );
                assert_eq!(
                    *unwrap(&m, &Granted::for_tests(&key), &ct).unwrap(),
                    pt,
                    "{line}"
                );
            }
            count += 1;
        }
        assert_eq!(count, 20);
    }

    fn long_data(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| u8::try_from((i * 31 + i / 7) % 256).unwrap())
            .collect()
    }

    #[test]
    fn multipart_equals_single_part_everywhere() {
        let key = key_obj(
            CKK_AES,
            &h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
        );
        let iv = h("0f0e0d0c0b0a09080706050403020100");
        let mechs = [
            Mechanism {
                mech: CKM_AES_ECB,
                param: Param::None,
            },
            Mechanism {
                mech: CKM_AES_CBC,
                param: Param::Bytes(iv.clone()),
            },
            Mechanism {
                mech: CKM_AES_CBC_PAD,
                param: Param::Bytes(iv.clone()),
            },
            Mechanism {
                mech: CKM_AES_CTR,
                param: Param::Ctr {
                    counter_bits: 32,
                    cb: [7; 16],
                },
            },
            Mechanism {
                mech: CKM_AES_GCM,
                param: Param::Gcm {
                    iv: vec![1; 12],
                    aad: vec![2; 20],
                    tag_bits: 128,
                },
            },
            Mechanism {
                mech: CKM_AES_GCM,
                param: Param::Gcm {
                    iv: vec![1; 1],
                    aad: vec![],
                    tag_bits: 32,
                },
            },
            Mechanism {
                mech: CKM_AES_KEY_WRAP,
                param: Param::None,
            },
            Mechanism {
                mech: CKM_AES_KEY_WRAP_KWP,
                param: Param::None,
            },
        ];
        for m in &mechs {
            for len in [16, 10_000] {
                let pt = long_data(len);
                let ct = single(op(m, &key, true).as_mut(), &pt).unwrap();
                both_ways(m, &key, &pt, &ct);
            }
        }
        // Lengths that are not block multiples, for the modes that take them.
        for m in &mechs[2..] {
            if m.mech == CKM_AES_KEY_WRAP {
                continue;
            }
            for len in [1, 15, 17, 33, 4097] {
                let pt = long_data(len);
                let ct = single(op(m, &key, true).as_mut(), &pt).unwrap();
                both_ways(m, &key, &pt, &ct);
            }
        }
        // CBC_PAD of an empty message is one block of padding.
        let m = &mechs[2];
        assert_eq!(single(op(m, &key, true).as_mut(), &[]).unwrap().len(), 16);
    }

    #[test]
    fn size_query_and_short_buffer_keep_state() {
        let key = key_obj(CKK_AES, &[3; 16]);
        let m = Mechanism {
            mech: CKM_AES_CBC,
            param: Param::Bytes(vec![0; 16]),
        };
        let pt = long_data(64);
        let want = single(op(&m, &key, true).as_mut(), &pt).unwrap();
        let mut e = op(&m, &key, true);
        let mut small = [0u8; 31];
        assert_eq!(
            e.update(&pt[..40], &mut OutBuf::new(Some(&mut small))),
            Err(Error::BufferTooSmall)
        );
        let mut q = OutBuf::query();
        e.update(&pt[..40], &mut q).unwrap();
        assert_eq!(q.len(), 32);
        let mut buf = [0u8; 64];
        let mut o = OutBuf::new(Some(&mut buf));
        e.update(&pt[..40], &mut o).unwrap();
        assert_eq!(o.len(), 32);
        let mut o2 = [0u8; 32];
        let mut o = OutBuf::new(Some(&mut o2));
        e.update(&pt[40..], &mut o).unwrap();
        assert_eq!(&buf[..32], &want[..32]);
        assert_eq!(&o2[..], &want[32..]);
    }

    #[test]
    fn length_rules() {
        let key = key_obj(CKK_AES, &[3; 16]);
        for mech in [CKM_AES_ECB, CKM_AES_CBC] {
            let param = if mech == CKM_AES_ECB {
                Param::None
            } else {
                Param::Bytes(vec![0; 16])
            };
            let m = Mechanism { mech, param };
            assert_eq!(
                single(op(&m, &key, true).as_mut(), &[0; 15]).unwrap_err(),
                Error::DataLenRange
            );
            assert_eq!(
                single(op(&m, &key, false).as_mut(), &[0; 17]).unwrap_err(),
                Error::EncryptedDataLenRange
            );
            assert_eq!(
                multi(op(&m, &key, true).as_mut(), &[0; 20], 7).unwrap_err(),
                Error::DataLenRange
            );
            assert_eq!(
                multi(op(&m, &key, false).as_mut(), &[0; 20], 7).unwrap_err(),
                Error::EncryptedDataLenRange
            );
        }
        let m = Mechanism {
            mech: CKM_AES_CBC_PAD,
            param: Param::Bytes(vec![0; 16]),
        };
        assert_eq!(
            single(op(&m, &key, false).as_mut(), &[]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        assert_eq!(
            single(op(&m, &key, false).as_mut(), &[0; 20]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        // Bad parameters.
        for param in [Param::None, Param::Bytes(vec![0; 15])] {
            let m = Mechanism {
                mech: CKM_AES_CBC,
                param,
            };
            assert!(matches!(
                encrypt_init(&m, &Granted::for_tests(&key)),
                Err(Error::MechanismParamInvalid)
            ));
        }
        for (iv, bits) in [
            (vec![], 128),
            (vec![0; 12], 24),
            (vec![0; 12], 100),
            (vec![0; 12], 136),
        ] {
            let m = Mechanism {
                mech: CKM_AES_GCM,
                param: Param::Gcm {
                    iv,
                    aad: vec![],
                    tag_bits: bits,
                },
            };
            assert!(matches!(
                encrypt_init(&m, &Granted::for_tests(&key)),
                Err(Error::MechanismParamInvalid)
            ));
        }
        for bits in [0, 129] {
            let m = Mechanism {
                mech: CKM_AES_CTR,
                param: Param::Ctr {
                    counter_bits: bits,
                    cb: [0; 16],
                },
            };
            assert!(matches!(
                encrypt_init(&m, &Granted::for_tests(&key)),
                Err(Error::MechanismParamInvalid)
            ));
        }
        let m = Mechanism {
            mech: CKM_AES_KEY_WRAP,
            param: Param::Bytes(vec![0; 4]),
        };
        assert!(matches!(
            encrypt_init(&m, &Granted::for_tests(&key)),
            Err(Error::MechanismParamInvalid)
        ));
        let m = Mechanism {
            mech: CKM_AES_KEY_WRAP_KWP,
            param: Param::Bytes(vec![0; 8]),
        };
        assert!(matches!(
            encrypt_init(&m, &Granted::for_tests(&key)),
            Err(Error::MechanismParamInvalid)
        ));
        // A key of the wrong size.
        let bad = key_obj(CKK_AES, &[0; 20]);
        let m = Mechanism {
            mech: CKM_AES_ECB,
            param: Param::None,
        };
        assert!(matches!(
            encrypt_init(&m, &Granted::for_tests(&bad)),
            Err(Error::KeySizeRange)
        ));
        assert_eq!(
            wrap(&m, &Granted::for_tests(&bad), &[0; 16]).unwrap_err(),
            Error::WrappingKeySizeRange
        );
        assert_eq!(
            unwrap(&m, &Granted::for_tests(&bad), &[0; 16]).unwrap_err(),
            Error::UnwrappingKeySizeRange
        );
    }

    #[test]
    fn ctr_counter_does_not_wrap() {
        let key = key_obj(CKK_AES, &[3; 16]);
        let mut cb = [0u8; 16];
        cb[15] = 0xfe;
        let m = Mechanism {
            mech: CKM_AES_CTR,
            param: Param::Ctr {
                counter_bits: 8,
                cb,
            },
        };
        assert_eq!(
            single(op(&m, &key, true).as_mut(), &[0; 32]).unwrap().len(),
            32
        );
        assert_eq!(
            single(op(&m, &key, true).as_mut(), &[0; 33]).unwrap_err(),
            Error::DataLenRange
        );
        let mut e = op(&m, &key, true);
        let mut buf = [0u8; 32];
        e.update(&[0; 20], &mut OutBuf::new(Some(&mut buf)))
            .unwrap();
        assert_eq!(
            e.update(&[0; 13], &mut OutBuf::new(Some(&mut buf))),
            Err(Error::DataLenRange)
        );
        e.update(&[0; 12], &mut OutBuf::new(Some(&mut buf)))
            .unwrap();
    }

    #[test]
    fn tampering_is_detected() {
        let key = key_obj(CKK_AES, &[9; 32]);
        let pt = long_data(100);
        let gcm = Mechanism {
            mech: CKM_AES_GCM,
            param: Param::Gcm {
                iv: vec![4; 12],
                aad: b"aad".to_vec(),
                tag_bits: 128,
            },
        };
        let ct = single(op(&gcm, &key, true).as_mut(), &pt).unwrap();
        for i in [0, 50, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                single(op(&gcm, &key, false).as_mut(), &bad).unwrap_err(),
                Error::EncryptedDataInvalid
            );
            // Multi-part: nothing is released before the end, and the end fails.
            let mut d = op(&gcm, &key, false);
            let mut buf = vec![0u8; 200];
            let mut o = OutBuf::new(Some(&mut buf));
            d.update(&bad, &mut o).unwrap();
            assert_eq!(o.len(), 0);
            assert_eq!(
                d.finish(&mut OutBuf::new(Some(&mut buf))),
                Err(Error::EncryptedDataInvalid)
            );
            assert_eq!(
                unwrap(&gcm, &Granted::for_tests(&key), &bad).unwrap_err(),
                Error::WrappedKeyInvalid
            );
        }
        assert_eq!(
            single(op(&gcm, &key, false).as_mut(), &ct[..15]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        // Other AAD fails.
        let other = Mechanism {
            mech: CKM_AES_GCM,
            param: Param::Gcm {
                iv: vec![4; 12],
                aad: b"aaD".to_vec(),
                tag_bits: 128,
            },
        };
        assert_eq!(
            single(op(&other, &key, false).as_mut(), &ct).unwrap_err(),
            Error::EncryptedDataInvalid
        );

        for mech in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP] {
            let m = Mechanism {
                mech,
                param: Param::None,
            };
            let w = wrap(&m, &Granted::for_tests(&key), &[5; 32]).unwrap();
            for i in [0, 8, w.len() - 1] {
                let mut bad = w.clone();
                bad[i] ^= 1;
                assert_eq!(
                    unwrap(&m, &Granted::for_tests(&key), &bad).unwrap_err(),
                    Error::WrappedKeyInvalid
                );
                assert_eq!(
                    single(op(&m, &key, false).as_mut(), &bad).unwrap_err(),
                    Error::EncryptedDataInvalid
                );
            }
            assert_eq!(
                unwrap(&m, &Granted::for_tests(&key), &w[..w.len() - 1]).unwrap_err(),
                Error::WrappedKeyLenRange
            );
            assert_eq!(
                unwrap(&m, &Granted::for_tests(&key), &w[..8]).unwrap_err(),
                Error::WrappedKeyLenRange
            );
            // A caller IV other than the one used fails.
            let iv = if mech == CKM_AES_KEY_WRAP {
                vec![1; 8]
            } else {
                vec![1; 4]
            };
            let m2 = Mechanism {
                mech,
                param: Param::Bytes(iv),
            };
            assert_eq!(
                unwrap(&m2, &Granted::for_tests(&key), &w).unwrap_err(),
                Error::WrappedKeyInvalid
            );
            let w2 = wrap(&m2, &Granted::for_tests(&key), &[5; 32]).unwrap();
            assert_eq!(
                *unwrap(&m2, &Granted::for_tests(&key), &w2).unwrap(),
                vec![5; 32]
            );
        }
        // KW takes only multiples of 8 of at least 16 bytes.
        let kw = Mechanism {
            mech: CKM_AES_KEY_WRAP,
            param: Param::None,
        };
        assert_eq!(
            wrap(&kw, &Granted::for_tests(&key), &[1; 12]).unwrap_err(),
            Error::KeySizeRange
        );
        assert_eq!(
            wrap(&kw, &Granted::for_tests(&key), &[1; 8]).unwrap_err(),
            Error::KeySizeRange
        );
        assert_eq!(
            single(op(&kw, &key, true).as_mut(), &[1; 20]).unwrap_err(),
            Error::DataLenRange
        );

        let pad = Mechanism {
            mech: CKM_AES_CBC_PAD,
            param: Param::Bytes(vec![0; 16]),
        };
        let ecb = Mechanism {
            mech: CKM_AES_ECB,
            param: Param::None,
        };
        // Blocks whose decryption ends in bad padding: encrypt raw blocks with CBC.
        let raw = Mechanism {
            mech: CKM_AES_CBC,
            param: Param::Bytes(vec![0; 16]),
        };
        for last in [[0u8; 16], [17u8; 16], {
            let mut b = [3u8; 16];
            b[14] = 2;
            b
        }] {
            let ct = single(op(&raw, &key, true).as_mut(), &last).unwrap();
            assert_eq!(
                single(op(&pad, &key, false).as_mut(), &ct).unwrap_err(),
                Error::EncryptedDataInvalid
            );
            assert_eq!(
                multi(op(&pad, &key, false).as_mut(), &ct, 5).unwrap_err(),
                Error::EncryptedDataInvalid
            );
            assert_eq!(
                unwrap(&pad, &Granted::for_tests(&key), &ct).unwrap_err(),
                Error::WrappedKeyInvalid
            );
        }
        // CBC_PAD wraps any length; ECB pads with zeros.
        let w = wrap(&pad, &Granted::for_tests(&key), &[7; 21]).unwrap();
        assert_eq!(
            *unwrap(&pad, &Granted::for_tests(&key), &w).unwrap(),
            vec![7; 21]
        );
        let w = wrap(&ecb, &Granted::for_tests(&key), &[7; 21]).unwrap();
        assert_eq!(w.len(), 32);
        let mut want = vec![7; 21];
        want.resize(32, 0);
        assert_eq!(*unwrap(&ecb, &Granted::for_tests(&key), &w).unwrap(), want);
        assert_eq!(
            unwrap(&ecb, &Granted::for_tests(&key), &w[..20]).unwrap_err(),
            Error::WrappedKeyLenRange
        );
    }

    #[test]
    fn cmac_rfc4493() {
        let key = key_obj(CKK_AES, &h("2b7e151628aed2a6abf7158809cf4f3c"));
        let msg = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
        let cases = [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ];
        let m = Mechanism {
            mech: CKM_AES_CMAC,
            param: Param::None,
        };
        for (len, want) in cases {
            let data = &msg[..len];
            let mut s = cmac_sign(&m, &Granted::for_tests(&key)).unwrap();
            let mut buf = [0u8; 16];
            s.one_shot(data, &mut OutBuf::new(Some(&mut buf))).unwrap();
            assert_eq!(buf.to_vec(), h(want), "len {len}");
            for chunk in [1, 15, 17, 4097] {
                let mut s = cmac_sign(&m, &Granted::for_tests(&key)).unwrap();
                for c in data.chunks(chunk) {
                    s.update(c).unwrap();
                }
                let mut q = OutBuf::query();
                s.finish(&mut q).unwrap();
                assert_eq!(q.len(), 16);
                let mut small = [0u8; 15];
                assert_eq!(
                    s.finish(&mut OutBuf::new(Some(&mut small))),
                    Err(Error::BufferTooSmall)
                );
                let mut buf = [0u8; 16];
                s.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
                assert_eq!(buf.to_vec(), h(want), "len {len} chunk {chunk}");
                let mut v = cmac_verify(&m, &Granted::for_tests(&key)).unwrap();
                for c in data.chunks(chunk) {
                    v.update(c).unwrap();
                }
                v.finish(&buf).unwrap();
            }
            let mut v = cmac_verify(&m, &Granted::for_tests(&key)).unwrap();
            let mut bad = h(want);
            bad[0] ^= 1;
            assert_eq!(v.one_shot(data, &bad), Err(Error::SignatureInvalid));
            let mut v = cmac_verify(&m, &Granted::for_tests(&key)).unwrap();
            assert_eq!(
                v.one_shot(data, &h(want)[..8]),
                Err(Error::SignatureLenRange)
            );
        }
        // The general form truncates.
        let g = Mechanism {
            mech: CKM_AES_CMAC_GENERAL,
            param: Param::Ulong(4),
        };
        let mut s = cmac_sign(&g, &Granted::for_tests(&key)).unwrap();
        let mut buf = [0u8; 4];
        s.one_shot(&msg[..16], &mut OutBuf::new(Some(&mut buf)))
            .unwrap();
        assert_eq!(buf.to_vec(), h("070a16b4"));
        cmac_verify(&g, &Granted::for_tests(&key))
            .unwrap()
            .one_shot(&msg[..16], &buf)
            .unwrap();
        for p in [Param::Ulong(0), Param::Ulong(17), Param::None] {
            let g = Mechanism {
                mech: CKM_AES_CMAC_GENERAL,
                param: p,
            };
            assert!(matches!(
                cmac_sign(&g, &Granted::for_tests(&key)),
                Err(Error::MechanismParamInvalid)
            ));
        }
    }

    #[test]
    fn key_generation() {
        let m = Mechanism {
            mech: CKM_AES_KEY_GEN,
            param: Param::None,
        };
        for len in [16, 24, 32] {
            let g = aes_key_gen(&m, &vec![Attribute::ulong(CKA_VALUE_LEN, len)]).unwrap();
            let get = |ty| g.iter().find(|a| a.ty == ty).unwrap();
            assert_eq!(get(CKA_VALUE).value.len(), usize::try_from(len).unwrap());
            assert_eq!(get(CKA_KEY_TYPE).as_ulong().unwrap(), CKK_AES);
            assert_eq!(get(CKA_CLASS).as_ulong().unwrap(), CKO_SECRET_KEY);
        }
        assert_eq!(
            aes_key_gen(&m, &vec![]).unwrap_err(),
            Error::TemplateIncomplete {
                missing: CKA_VALUE_LEN
            }
        );
        for bad in [0, 8, 20, 64] {
            let t = vec![Attribute::ulong(CKA_VALUE_LEN, bad)];
            assert_eq!(
                aes_key_gen(&m, &t).unwrap_err(),
                Error::AttributeValueInvalid(CKA_VALUE_LEN)
            );
        }
    }

    fn msg_param(
        iv: Vec<u8>,
        fixed: CK_ULONG,
        generator: CK_ULONG,
        tag_bits: CK_ULONG,
        tag: Vec<u8>,
    ) -> Param {
        Param::GcmMessage {
            iv,
            iv_fixed_bits: fixed,
            iv_generator: generator,
            tag_bits,
            tag,
        }
    }

    #[test]
    fn message_gcm() {
        // McGrew-Viega test case 4 through the message functions.
        let key = key_obj(CKK_AES, &h("feffe9928665731c6d6a8f9467308308"));
        let iv = h("cafebabefacedbaddecaf888");
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let pt = h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        let ct = h("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091");
        let tag = h("5bc94fbc3221a5db94fae95ae7121a47");
        let m = Mechanism {
            mech: CKM_AES_GCM,
            param: Param::None,
        };
        let mut enc = message::encrypt_init(&m, &Granted::for_tests(&key)).unwrap();
        let mut dec = message::decrypt_init(&m, &Granted::for_tests(&key)).unwrap();

        let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, vec![]);
        let mut q = OutBuf::query();
        enc.one_shot(&mut p, &aad, &pt, &mut q).unwrap();
        assert_eq!(q.len(), pt.len());
        let mut buf = vec![0u8; pt.len()];
        enc.one_shot(&mut p, &aad, &pt, &mut OutBuf::new(Some(&mut buf)))
            .unwrap();
        assert_eq!(buf, ct);
        assert!(matches!(&p, Param::GcmMessage { tag: t, .. } if *t == tag));

        let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, tag.clone());
        let mut out = vec![0u8; ct.len()];
        dec.one_shot(&mut p, &aad, &ct, &mut OutBuf::new(Some(&mut out)))
            .unwrap();
        assert_eq!(out, pt);
        let mut bad = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, {
            let mut t = tag.clone();
            t[3] ^= 1;
            t
        });
        assert_eq!(
            dec.one_shot(&mut bad, &aad, &ct, &mut OutBuf::new(Some(&mut out))),
            Err(Error::AeadDecryptFailed)
        );
        // A truncated tag of the wrong length for tag_bits is refused.
        let mut short = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, tag[..12].to_vec());
        assert_eq!(
            dec.one_shot(&mut short, &aad, &ct, &mut OutBuf::new(Some(&mut out))),
            Err(Error::MechanismParamInvalid)
        );

        // Begin / next in pieces.
        for chunk in [1, 15, 17, 4097] {
            let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 96, vec![]);
            enc.begin(&mut p, &aad).unwrap();
            assert_eq!(enc.begin(&mut p, &aad), Err(Error::OperationActive));
            let mut got = Vec::new();
            let pieces: Vec<&[u8]> = pt.chunks(chunk).collect();
            for (i, c) in pieces.iter().enumerate() {
                let last = i + 1 == pieces.len();
                let mut q = OutBuf::query();
                enc.next(&mut p, c, last, &mut q).unwrap();
                let mut b = vec![0u8; q.len()];
                let mut o = OutBuf::new(Some(&mut b));
                enc.next(&mut p, c, last, &mut o).unwrap();
                let n = o.len();
                got.extend_from_slice(&b[..n]);
            }
            assert_eq!(got, ct);
            assert!(matches!(&p, Param::GcmMessage { tag: t, .. } if *t == tag[..12]));

            let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 96, tag[..12].to_vec());
            dec.begin(&mut p, &aad).unwrap();
            let mut got = Vec::new();
            let pieces: Vec<&[u8]> = ct.chunks(chunk).collect();
            for (i, c) in pieces.iter().enumerate() {
                let last = i + 1 == pieces.len();
                let mut q = OutBuf::query();
                dec.next(&mut p, c, last, &mut q).unwrap();
                let mut b = vec![0u8; q.len()];
                let mut o = OutBuf::new(Some(&mut b));
                dec.next(&mut p, c, last, &mut o).unwrap();
                if !last {
                    assert_eq!(o.len(), 0);
                }
                let n = o.len();
                got.extend_from_slice(&b[..n]);
            }
            assert_eq!(got, pt);
        }
        let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, vec![]);
        assert_eq!(
            enc.next(&mut p, &pt, true, &mut OutBuf::query()),
            Err(Error::OperationNotInitialized)
        );
    }

    #[test]
    fn message_gcm_iv_generation() {
        let key = key_obj(CKK_AES, &[1; 16]);
        let m = Mechanism {
            mech: CKM_AES_GCM,
            param: Param::None,
        };
        let mut enc = message::encrypt_init(&m, &Granted::for_tests(&key)).unwrap();
        let mut dec = message::decrypt_init(&m, &Granted::for_tests(&key)).unwrap();
        let fixed = vec![
            0xab, 0xcd, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        // Counter: the 32 fixed bits stay, the rest counts from 0.
        let mut ivs = Vec::new();
        for _ in 0..3 {
            let mut p = msg_param(fixed.clone(), 32, CKG_GENERATE_COUNTER, 128, vec![]);
            // A size query does not use up a counter value.
            enc.one_shot(&mut p, b"", b"hello", &mut OutBuf::query())
                .unwrap();
            let mut b = [0u8; 5];
            enc.one_shot(&mut p, b"", b"hello", &mut OutBuf::new(Some(&mut b)))
                .unwrap();
            let Param::GcmMessage { iv, tag, .. } = &p else {
                panic!()
            };
            ivs.push(iv.clone());
            // It decrypts with the IV handed back.
            let mut dp = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, tag.clone());
            let mut out = [0u8; 5];
            dec.one_shot(&mut dp, b"", &b, &mut OutBuf::new(Some(&mut out)))
                .unwrap();
            assert_eq!(&out, b"hello");
        }
        assert_eq!(ivs[0], h("abcdefff0000000000000000"));
        assert_eq!(ivs[1], h("abcdefff0000000000000001"));
        assert_eq!(ivs[2], h("abcdefff0000000000000002"));
        // Random: the fixed bits stay (here 12 bits), two IVs differ.
        let mut got = Vec::new();
        for _ in 0..2 {
            let mut p = msg_param(fixed.clone(), 12, CKG_GENERATE_RANDOM, 128, vec![]);
            let mut b = [0u8; 5];
            enc.one_shot(&mut p, b"", b"hello", &mut OutBuf::new(Some(&mut b)))
                .unwrap();
            let Param::GcmMessage { iv, .. } = &p else {
                panic!()
            };
            assert_eq!(iv[0], 0xab);
            assert_eq!(iv[1] & 0xf0, 0xc0);
            got.push(iv.clone());
        }
        assert_ne!(got[0], got[1]);
        // The counter goes on across inits of the same key: never an IV twice.
        let mut again = message::encrypt_init(&m, &Granted::for_tests(&key)).unwrap();
        let mut p = msg_param(fixed.clone(), 32, CKG_GENERATE_COUNTER, 128, vec![]);
        again
            .one_shot(&mut p, b"", b"hello", &mut OutBuf::new(Some(&mut [0u8; 5])))
            .unwrap();
        let Param::GcmMessage { iv, .. } = &p else {
            panic!()
        };
        assert!(!ivs.contains(iv), "an IV came back after a new init");
        // A counter field that is used up is refused (a key of its own, whose
        // counter starts at 0).
        let mut other = (*key).attrs().clone();
        other.insert(CKA_UNIQUE_ID, Zeroizing::new(b"used-up".to_vec()));
        let other = Arc::new(Object::new(2, None, other));
        let mut p = msg_param(vec![0; 12], 95, CKG_GENERATE_COUNTER, 128, vec![]);
        let mut enc = message::encrypt_init(&m, &Granted::for_tests(&other)).unwrap();
        let mut b = [0u8; 1];
        enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b)))
            .unwrap();
        enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b)))
            .unwrap();
        assert_eq!(
            enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b))),
            Err(Error::DataLenRange)
        );
        // Bad parameters.
        for p in [
            msg_param(vec![], 0, CKG_NO_GENERATE, 128, vec![]),
            msg_param(vec![0; 12], 97, CKG_GENERATE_RANDOM, 128, vec![]),
            msg_param(vec![0; 12], 0, CKG_GENERATE_COUNTER_XOR, 128, vec![]),
            msg_param(vec![0; 12], 0, CKG_NO_GENERATE, 20, vec![]),
        ] {
            let mut p = p;
            assert_eq!(
                enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b))),
                Err(Error::MechanismParamInvalid)
            );
        }
    }

    #[test]
    fn registry_flags() {
        let get = |m| MECHANISMS.iter().find(|d| d.mech == m).unwrap().flags();
        assert_eq!(
            get(CKM_AES_GCM),
            CKF_ENCRYPT
                | CKF_DECRYPT
                | CKF_WRAP
                | CKF_UNWRAP
                | CKF_MESSAGE_ENCRYPT
                | CKF_MESSAGE_DECRYPT
        );
        assert_eq!(get(CKM_AES_CTR), CKF_ENCRYPT | CKF_DECRYPT);
        assert_eq!(get(CKM_AES_CMAC), CKF_SIGN | CKF_VERIFY);
        assert_eq!(get(CKM_AES_KEY_GEN), CKF_GENERATE);
    }
}
