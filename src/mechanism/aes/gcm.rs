//! GCM through `C_Encrypt*`/`C_Decrypt*` (PKCS#11 3.0 current mechanisms
//! §2.15), and the pieces message-based GCM (`message`) shares with it.

use super::hold_back;
use crate::crypto::aes::{Gcm, GcmKey, GCM_MAX_DATA};
use crate::error::{Error, Result};
use crate::mechanism::{CipherOp, Mechanism, Param};
use crate::outbuf::OutBuf;
use cryptoki_sys::CK_ULONG;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// Checks a GCM tag length in bits and returns it in bytes.
pub(super) fn tag_len(tag_bits: CK_ULONG) -> Result<usize> {
    usize::try_from(tag_bits)
        .ok()
        .filter(|b| (32..=128).contains(b) && b % 8 == 0)
        .map(|b| b / 8)
        .ok_or(Error::MechanismParamInvalid)
}

/// Decrypts `ct_len` bytes of GCM ciphertext into `out` with `open` (which
/// checks the tag before it releases any plaintext, see [`GcmKey::open`]);
/// `fail` is the error for a bad tag.
pub(super) fn gcm_open(
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
pub(super) fn gcm_fits(n: usize) -> bool {
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

/// The operation for `mech` (its `CK_GCM_PARAMS`) under `key`.
pub(super) fn op(mech: &Mechanism, key: Arc<GcmKey>, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    match &mech.param {
        Param::Gcm { iv, aad, tag_bits } => {
            if iv.is_empty() {
                return Err(Error::MechanismParamInvalid);
            }
            Ok(Box::new(GcmOp {
                key,
                iv: iv.clone(),
                aad: aad.clone(),
                tag_len: tag_len(*tag_bits)?,
                encrypt,
                state: None,
                buf: Zeroizing::new(Vec::new()),
            }))
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}
