//! The block-cipher modes ECB, CBC and CBC_PAD (PKCS#11 3.0 current
//! mechanisms, "General block cipher"), both directions, single and
//! multi-part, over any cipher of an `N`-byte block: AES (`N` = 16) and
//! Triple-DES (`N` = 8). Also the wrap and unwrap of a key value with these
//! modes, which the standard defines the same way for every block cipher.

use crate::error::{Error, Result};
use crate::mechanism::{CipherOp, Mechanism, Param};
use crate::outbuf::OutBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A block cipher of `N`-byte blocks under one key.
pub(crate) trait BlockCipher<const N: usize>: Send + Sync + 'static {
    /// Encrypts whole blocks in place.
    fn encrypt_blocks(&self, data: &mut [u8]);
    /// Decrypts whole blocks in place.
    fn decrypt_blocks(&self, data: &mut [u8]);
    /// CBC-encrypts whole blocks in place; `iv` becomes the last block.
    fn cbc_encrypt(&self, iv: &mut [u8; N], data: &mut [u8]);
    /// CBC-decrypts whole blocks in place; `iv` becomes the last input block.
    fn cbc_decrypt(&self, iv: &mut [u8; N], data: &mut [u8]);
}

/// The `N`-byte IV of CBC and CBC_PAD; another length is
/// `CKR_MECHANISM_PARAM_INVALID`.
pub(crate) fn iv<const N: usize>(mech: &Mechanism) -> Result<[u8; N]> {
    match &mech.param {
        Param::Bytes(iv) => iv
            .as_slice()
            .try_into()
            .map_err(|_| Error::MechanismParamInvalid),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Appends PKCS#7 padding to a multiple of `n` bytes.
fn pad(data: &mut Zeroizing<Vec<u8>>, n: usize) {
    let k = n - data.len() % n;
    let total = data.len() + k;
    data.resize(total, u8::try_from(k).unwrap_or(0));
}

/// The length of `block` (the last decrypted block) without its PKCS#7
/// padding to `n` bytes; bad padding is `CKR_ENCRYPTED_DATA_INVALID`.
fn unpad_len(block: &[u8], n: usize) -> Result<usize> {
    let last = *block.last().ok_or(Error::EncryptedDataInvalid)?;
    let k = usize::from(last);
    if k == 0 || k > n || k > block.len() {
        return Err(Error::EncryptedDataInvalid);
    }
    let bad = block[block.len() - k..]
        .iter()
        .fold(0u8, |acc, b| acc | (b ^ last));
    if bad != 0 {
        return Err(Error::EncryptedDataInvalid);
    }
    Ok(block.len() - k)
}

/// Which of the three modes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockMode {
    /// ECB: no parameter, whole blocks.
    Ecb,
    /// CBC: an IV, whole blocks.
    Cbc,
    /// CBC with PKCS#7 padding.
    CbcPad,
}

/// ECB, CBC and CBC_PAD, both directions.
struct BlockOp<C: BlockCipher<N>, const N: usize> {
    key: Arc<C>,
    mode: BlockMode,
    encrypt: bool,
    iv: [u8; N],
    /// Input not yet released (less than a block, or the last block of a
    /// CBC_PAD decryption, which carries the padding).
    buf: Zeroizing<Vec<u8>>,
}

impl<C: BlockCipher<N>, const N: usize> BlockOp<C, N> {
    fn len_err(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// Processes whole blocks in place, chaining through `iv`.
    fn process(&self, iv: &mut [u8; N], data: &mut [u8]) {
        match (self.mode, self.encrypt) {
            (BlockMode::Ecb, true) => self.key.encrypt_blocks(data),
            (BlockMode::Ecb, false) => self.key.decrypt_blocks(data),
            (_, true) => self.key.cbc_encrypt(iv, data),
            (_, false) => self.key.cbc_decrypt(iv, data),
        }
    }

    /// Bytes an update may release when `total` bytes are pending.
    fn releasable(&self, total: usize) -> usize {
        if self.mode == BlockMode::CbcPad && !self.encrypt {
            // Keep the last block back: it carries the padding.
            total.saturating_sub(1) / N * N
        } else {
            total / N * N
        }
    }

    /// Pads and encrypts the final `data` (CBC_PAD) into `out`.
    fn pad_out(&self, iv: &mut [u8; N], data: &[u8], out: &mut OutBuf) -> Result<()> {
        let n = (data.len() / N + 1) * N;
        if let Some(dst) = out.reserve(n)? {
            let mut tmp = Zeroizing::new(data.to_vec());
            pad(&mut tmp, N);
            dst.copy_from_slice(&tmp);
            self.process(iv, dst);
        }
        Ok(())
    }

    /// Decrypts the final `data` (CBC_PAD) and writes it without its padding.
    fn unpad_out(&self, iv: &mut [u8; N], data: &[u8], out: &mut OutBuf) -> Result<()> {
        let mut tmp = Zeroizing::new(data.to_vec());
        self.process(iv, &mut tmp);
        let n = unpad_len(&tmp, N)?;
        out.write(&tmp[..n])?;
        Ok(())
    }
}

impl<C: BlockCipher<N>, const N: usize> CipherOp for BlockOp<C, N> {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let mut iv = self.iv;
        match (self.mode, self.encrypt) {
            (BlockMode::CbcPad, true) => self.pad_out(&mut iv, input, out),
            (BlockMode::CbcPad, false) => {
                if input.is_empty() || !input.len().is_multiple_of(N) {
                    return Err(Error::EncryptedDataLenRange);
                }
                if out.is_query() {
                    // An upper bound; the real call reports the exact length.
                    out.reserve(input.len())?;
                    return Ok(());
                }
                self.unpad_out(&mut iv, input, out)
            }
            _ => {
                if !input.len().is_multiple_of(N) {
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
        let buf = self.buf.clone();
        match (self.mode, self.encrypt) {
            (BlockMode::CbcPad, true) => self.pad_out(&mut iv, &buf, out),
            (BlockMode::CbcPad, false) => {
                if buf.len() != N {
                    return Err(Error::EncryptedDataLenRange);
                }
                self.unpad_out(&mut iv, &buf, out)
            }
            _ => {
                if !buf.is_empty() {
                    return Err(self.len_err());
                }
                out.reserve(0)?;
                Ok(())
            }
        }
    }
}

/// The operation for `mode` under `key`, starting from `iv` (zeros for ECB).
pub(crate) fn op<C: BlockCipher<N>, const N: usize>(
    key: Arc<C>,
    mode: BlockMode,
    encrypt: bool,
    iv: [u8; N],
) -> Box<dyn CipherOp> {
    Box::new(BlockOp {
        key,
        mode,
        encrypt,
        iv,
        buf: Zeroizing::new(Vec::new()),
    })
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

/// `C_WrapKey` of `key_bytes` with an encrypting `op`. ECB and CBC
/// (`zero_pad`) pad the value with zeros to a multiple of `block`, as the
/// standard says for these modes; an empty value is `CKR_KEY_SIZE_RANGE`.
pub(crate) fn wrap_with(
    op: &mut dyn CipherOp,
    zero_pad: bool,
    block: usize,
    key_bytes: &[u8],
) -> Result<Vec<u8>> {
    let mut input = Zeroizing::new(key_bytes.to_vec());
    if zero_pad {
        let n = input.len().div_ceil(block) * block;
        input.resize(n, 0);
    }
    if input.is_empty() {
        return Err(Error::KeySizeRange);
    }
    let out = run_to_vec(op, &input).map_err(|e| match e {
        Error::DataLenRange => Error::KeySizeRange,
        e => e,
    })?;
    Ok(out.to_vec())
}

/// `C_UnwrapKey` of `wrapped` with a decrypting `op`; the length and padding
/// errors become the wrapped-key ones.
pub(crate) fn unwrap_with(op: &mut dyn CipherOp, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if wrapped.is_empty() {
        return Err(Error::WrappedKeyLenRange);
    }
    run_to_vec(op, wrapped).map_err(|e| match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        e => e,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn padding_to_8_and_16() {
        let mut d = Zeroizing::new(b"abc".to_vec());
        pad(&mut d, 8);
        assert_eq!(d.as_slice(), b"abc\x05\x05\x05\x05\x05");
        assert_eq!(unpad_len(&d, 8).unwrap(), 3);
        let mut e = Zeroizing::new(vec![1u8; 8]);
        pad(&mut e, 8);
        assert_eq!(e.len(), 16);
        assert_eq!(unpad_len(&e[8..], 8).unwrap(), 0);
        let mut f = Zeroizing::new(vec![1u8; 16]);
        pad(&mut f, 16);
        assert_eq!(f.len(), 32);
        assert_eq!(unpad_len(&f, 16).unwrap(), 16);
        // A pad byte of 9 fits a 16-byte block, not an 8-byte one.
        let nine = [7u8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9];
        assert_eq!(unpad_len(&nine, 16).unwrap(), 7);
        assert_eq!(unpad_len(&nine[8..], 8), Err(Error::EncryptedDataInvalid));
        for bad in [[1u8, 2, 3, 4, 5, 6, 7, 0], [1, 2, 3, 4, 5, 6, 3, 2]] {
            assert_eq!(unpad_len(&bad, 8), Err(Error::EncryptedDataInvalid));
        }
    }
}
