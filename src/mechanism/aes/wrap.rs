//! AES key wrap: KW (SP 800-38F, RFC 3394) and KWP (RFC 5649) through
//! `C_Encrypt*`/`C_Decrypt*` (PKCS#11 3.0 current mechanisms §2.16).

use super::hold_back;
use crate::crypto::aes::{
    kw_unwrap, kw_wrap, kwp_unwrap, kwp_wrap, GcmKey, KWP_DEFAULT_IV, KW_DEFAULT_IV,
};
use crate::error::{Error, Result};
use crate::mechanism::{CipherOp, Mechanism, Param};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

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
                WrapKind::Kw(_) if input.len() < 16 || !input.len().is_multiple_of(8) => {
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
        if input.len() < min || !input.len().is_multiple_of(8) {
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

/// The operation for `mech` (KW or KWP, with its optional IV) under `key`.
pub(super) fn op(mech: &Mechanism, key: Arc<GcmKey>, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    Ok(Box::new(KwOp {
        key,
        kind: wrap_kind(mech)?,
        encrypt,
        buf: Zeroizing::new(Vec::new()),
    }))
}
