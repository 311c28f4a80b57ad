//! AES-CMAC (`CKM_AES_CMAC`, `CKM_AES_CMAC_GENERAL`, PKCS#11 3.0 current
//! mechanisms §2.19; SP 800-38B): no parameter, or a `CK_MAC_GENERAL_PARAMS`
//! output length in `1..=16`.

use crate::crypto::aes::{Cmac, BLOCK};
use crate::crypto::hash::ct_eq;
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::aes::aes_key;
use crate::mechanism::{Mechanism, Param, SignOp, VerifyOp};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;

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

fn cmac_setup(mech: &Mechanism, key: &Granted) -> Result<CmacOp> {
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

pub(super) fn cmac_sign(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    Ok(Box::new(cmac_setup(mech, key)?))
}

pub(super) fn cmac_verify(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    Ok(Box::new(cmac_setup(mech, key)?))
}
