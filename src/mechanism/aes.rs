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
    cbc_decrypt, cbc_encrypt, kw_unwrap, kw_wrap, kwp_unwrap, kwp_wrap, AesKey, Cmac, Ctr, Gcm, GcmKey, BLOCK,
    GCM_MAX_DATA, KWP_DEFAULT_IV, KW_DEFAULT_IV,
};
use crate::crypto::hash::ct_eq;
use crate::error::{Error, Result};
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
use zeroize::Zeroizing;

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
        AesKey::new(v).map(GcmKey::new).ok_or(Error::KeySizeRange)
    })
}

fn iv16(mech: &Mechanism) -> Result<[u8; BLOCK]> {
    match &mech.param {
        Param::Bytes(iv) => iv.as_slice().try_into().map_err(|_| Error::MechanismParamInvalid),
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
    let bad = block[block.len() - n..].iter().fold(0u8, |acc, b| acc | (b ^ block[block.len() - 1]));
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
        let total = self.buf.len().checked_add(input.len()).ok_or(Error::DataLenRange)?;
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

/// Decrypts GCM `ct` into `out` after checking `tag`; `fail` is the error for a
/// bad tag. Nothing is written unless the tag is right.
fn gcm_open(g: Gcm, ct: &[u8], tag: &[u8], out: &mut OutBuf, fail: Error) -> Result<()> {
    let Some(dst) = out.reserve(ct.len())? else {
        return Ok(());
    };
    let mut g = g;
    g.authenticate(ct);
    let mut ks = g.clone();
    let full = g.tag();
    if !ct_eq(&full[..tag.len()], tag) {
        return Err(fail);
    }
    dst.copy_from_slice(ct);
    ks.keystream(dst);
    Ok(())
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
        gcm_open(self.start(), ct, tag, out, Error::EncryptedDataInvalid)
    }
}

impl CipherOp for GcmOp {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        if !self.encrypt {
            return self.decrypt_all(input, out);
        }
        let g = self.start();
        if !g.fits(input.len()) {
            return Err(Error::DataLenRange);
        }
        let n = input.len();
        let Some(dst) = out.reserve(n + self.tag_len)? else {
            return Ok(());
        };
        let mut g = g;
        dst[..n].copy_from_slice(input);
        g.encrypt(&mut dst[..n]);
        dst[n..].copy_from_slice(&g.tag()[..self.tag_len]);
        Ok(())
    }

    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        if !self.encrypt {
            let total = self.buf.len().saturating_add(input.len());
            let max = usize::try_from(GCM_MAX_DATA).unwrap_or(usize::MAX).saturating_add(self.tag_len);
            if total > max {
                return Err(Error::EncryptedDataLenRange);
            }
            if out.reserve(0)?.is_some() {
                self.buf.extend_from_slice(input);
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
                WrapKind::Kw(_) if input.len() < 16 || input.len() % 8 != 0 => return Err(Error::DataLenRange),
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
            self.buf.extend_from_slice(input);
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
        Box::new(BlockOp { key: Arc::clone(&key), mode, encrypt, iv, buf: Zeroizing::new(Vec::new()) })
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
                let bits = u32::try_from(*counter_bits).map_err(|_| Error::MechanismParamInvalid)?;
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
        CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP => {
            Box::new(KwOp { key, kind: wrap_kind(mech)?, encrypt, buf: Zeroizing::new(Vec::new()) })
        }
        _ => return Err(Error::MechanismInvalid),
    })
}

fn encrypt_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn CipherOp>> {
    cipher(mech, aes_key(key, Error::KeySizeRange)?, true)
}

fn decrypt_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn CipherOp>> {
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

fn wrap(mech: &Mechanism, wrapping_key: &Arc<Object>, key_bytes: &[u8]) -> Result<Vec<u8>> {
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

fn unwrap(mech: &Mechanism, unwrapping_key: &Arc<Object>, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = aes_key(unwrapping_key, Error::UnwrappingKeySizeRange)?;
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
    Ok(CmacOp { mac: Cmac::new(k.aes()), out_len })
}

fn cmac_sign(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn SignOp>> {
    Ok(Box::new(cmac_setup(mech, key)?))
}

fn cmac_verify(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn VerifyOp>> {
    Ok(Box::new(cmac_setup(mech, key)?))
}

fn aes_key_gen(mech: &Mechanism, template: &Template) -> Result<Generated> {
    no_param(mech)?;
    let len = template_value_len(template)?;
    if !matches!(len, 16 | 24 | 32) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let value = crate::crypto::random_vec(len).map_err(|e| Error::General(format!("random: {e}")))?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_AES),
        Attribute::new(CKA_VALUE, value.to_vec()),
    ])
}

/// Message-based AES-GCM (`C_MessageEncryptInit` … base spec §5.13–5.14).
mod message {
    use super::{aes_key, gcm_open, tag_len};
    use crate::crypto::aes::{Gcm, GcmKey};
    use crate::error::{Error, Result};
    use crate::mechanism::{Mechanism, MessageOp, Param};
    use crate::object::Object;
    use crate::outbuf::OutBuf;
    use cryptoki_sys::*;
    use std::sync::Arc;
    use zeroize::Zeroizing;

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
        /// `CKG_GENERATE_COUNTER`: the next counter value.
        counter: u64,
        pending: Option<Pending>,
    }

    /// The per-message parameter: (iv, fixed bits, generator, tag length in bytes).
    fn fields(param: &Param) -> Result<(&[u8], usize, CK_ULONG, usize)> {
        match param {
            Param::GcmMessage { iv, iv_fixed_bits, iv_generator, tag_bits, .. } => {
                let fixed = usize::try_from(*iv_fixed_bits).map_err(|_| Error::MechanismParamInvalid)?;
                if iv.is_empty() || fixed > iv.len() * 8 {
                    return Err(Error::MechanismParamInvalid);
                }
                Ok((iv, fixed, *iv_generator, tag_len(*tag_bits)?))
            }
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    impl GcmMessages {
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
                CKG_NO_GENERATE => {}
                CKG_GENERATE | CKG_GENERATE_RANDOM => {
                    if free_bits == 0 {
                        return Err(Error::MechanismParamInvalid);
                    }
                    let mut r = Zeroizing::new(vec![0u8; iv.len()]);
                    crate::crypto::random(&mut r).map_err(|e| Error::General(format!("random: {e}")))?;
                    fill(&mut iv, &|k| r[r.len() - 1 - k / 8] & (1 << (k % 8)) != 0);
                }
                CKG_GENERATE_COUNTER => {
                    let c = self.counter;
                    if free_bits == 0 {
                        return Err(Error::MechanismParamInvalid);
                    }
                    if free_bits < 64 && c >> free_bits != 0 {
                        // The counter field is used up: refuse rather than repeat an IV.
                        return Err(Error::DataLenRange);
                    }
                    fill(&mut iv, &|k| k < 64 && (c >> k) & 1 == 1);
                    self.counter = c.checked_add(1).ok_or(Error::DataLenRange)?;
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
        fn one_shot(&mut self, param: &mut Param, aad: &[u8], input: &[u8], out: &mut OutBuf) -> Result<()> {
            if self.pending.is_some() {
                return Err(Error::OperationActive);
            }
            let tlen = self.prepare(param, false)?;
            if !self.encrypt {
                let tag = get_tag(param, tlen)?.to_vec();
                let g = Gcm::new(&self.key, iv_of(param), aad);
                if !g.fits(input.len()) {
                    return Err(Error::EncryptedDataLenRange);
                }
                return gcm_open(g, input, &tag, out, Error::AeadDecryptFailed);
            }
            if out.reserve(input.len())?.is_none() {
                return Ok(());
            }
            // The buffer is large enough: now the IV may be generated.
            self.prepare(param, true)?;
            let mut g = Gcm::new(&self.key, iv_of(param), aad);
            if !g.fits(input.len()) {
                return Err(Error::DataLenRange);
            }
            if let Some(dst) = out.reserve(input.len())? {
                dst.copy_from_slice(input);
                g.encrypt(dst);
            }
            set_tag(param, &g.tag()[..tlen]);
            Ok(())
        }

        fn begin(&mut self, param: &mut Param, aad: &[u8]) -> Result<()> {
            if self.pending.is_some() {
                return Err(Error::OperationActive);
            }
            let tlen = self.prepare(param, true)?;
            let gcm = Gcm::new(&self.key, iv_of(param), aad);
            self.pending = Some(Pending { gcm, tag_len: tlen, buf: Zeroizing::new(Vec::new()) });
            Ok(())
        }

        fn next(&mut self, param: &mut Param, input: &[u8], last: bool, out: &mut OutBuf) -> Result<()> {
            let p = self.pending.as_mut().ok_or(Error::OperationNotInitialized)?;
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
                    p.buf.extend_from_slice(input);
                }
                return Ok(());
            }
            let tag = get_tag(param, p.tag_len)?.to_vec();
            let mut all = Zeroizing::new(Vec::with_capacity(p.buf.len() + input.len()));
            all.extend_from_slice(&p.buf);
            all.extend_from_slice(input);
            gcm_open(p.gcm.clone(), &all, &tag, out, Error::AeadDecryptFailed)?;
            if !out.is_query() {
                self.pending = None;
            }
            Ok(())
        }
    }

    fn init(mech: &Mechanism, key: &Arc<Object>, encrypt: bool) -> Result<Box<dyn MessageOp>> {
        match mech.param {
            Param::None | Param::GcmMessage { .. } => {}
            _ => return Err(Error::MechanismParamInvalid),
        }
        let key = aes_key(key, Error::KeySizeRange)?;
        Ok(Box::new(GcmMessages { key, encrypt, counter: 0, pending: None }))
    }

    /// `C_MessageEncryptInit` with `CKM_AES_GCM`.
    pub(super) fn encrypt_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn MessageOp>> {
        init(mech, key, true)
    }

    /// `C_MessageDecryptInit` with `CKM_AES_GCM`.
    pub(super) fn decrypt_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn MessageOp>> {
        init(mech, key, false)
    }
}

const AES_KEYS: &[CK_KEY_TYPE] = &[CKK_AES];

const fn def(mech: CK_MECHANISM_TYPE, name: &'static str, param: ParamKind, functions: Functions) -> MechanismDef {
    MechanismDef { mech, name, key_types: AES_KEYS, min_key: 16, max_key: 32, extra_flags: 0, param, functions }
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
        functions: Functions { generate_key: Some(aes_key_gen), ..NO_FUNCTIONS },
    },
    def(CKM_AES_ECB, "CKM_AES_ECB", ParamKind::None, CIPHER_WRAP),
    def(CKM_AES_CBC, "CKM_AES_CBC", ParamKind::Bytes, CIPHER_WRAP),
    def(CKM_AES_CBC_PAD, "CKM_AES_CBC_PAD", ParamKind::Bytes, CIPHER_WRAP),
    def(
        CKM_AES_CTR,
        "CKM_AES_CTR",
        ParamKind::Ctr,
        Functions { encrypt: Some(encrypt_init), decrypt: Some(decrypt_init), ..NO_FUNCTIONS },
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
    def(CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP", ParamKind::OptionalBytes, CIPHER_WRAP),
    def(CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP", ParamKind::OptionalBytes, CIPHER_WRAP),
    def(
        CKM_AES_CMAC,
        "CKM_AES_CMAC",
        ParamKind::None,
        Functions { sign: Some(cmac_sign), verify: Some(cmac_verify), ..NO_FUNCTIONS },
    ),
    def(
        CKM_AES_CMAC_GENERAL,
        "CKM_AES_CMAC_GENERAL",
        ParamKind::Ulong,
        Functions { sign: Some(cmac_sign), verify: Some(cmac_verify), ..NO_FUNCTIONS },
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
}
