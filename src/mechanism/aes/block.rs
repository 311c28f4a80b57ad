//! ECB, CBC and CBC_PAD (PKCS#11 3.0 current mechanisms §2.12 ff.), both
//! directions, single and multi-part.

use crate::crypto::aes::{cbc_decrypt, cbc_encrypt, GcmKey, BLOCK};
use crate::error::{Error, Result};
use crate::mechanism::{CipherOp, Mechanism, Param};
use crate::outbuf::OutBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The 16-byte IV of CBC and CBC_PAD.
pub(super) fn iv16(mech: &Mechanism) -> Result<[u8; BLOCK]> {
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

/// Which of the three modes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BlockMode {
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
                if input.is_empty() || !input.len().is_multiple_of(BLOCK) {
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
                if !input.len().is_multiple_of(BLOCK) {
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

/// The operation for `mode` under `key`, starting from `iv` (zeros for ECB).
pub(super) fn op(
    key: Arc<GcmKey>,
    mode: BlockMode,
    encrypt: bool,
    iv: [u8; BLOCK],
) -> Box<dyn CipherOp> {
    Box::new(BlockOp {
        key,
        mode,
        encrypt,
        iv,
        buf: Zeroizing::new(Vec::new()),
    })
}
