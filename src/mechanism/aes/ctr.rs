//! CTR (PKCS#11 3.0 current mechanisms §2.14), both directions; the counter
//! never wraps.

use crate::crypto::aes::{Ctr, GcmKey};
use crate::error::{Error, Result};
use crate::mechanism::{CipherOp, Mechanism, Param};
use crate::outbuf::OutBuf;
use std::sync::Arc;

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

/// The operation for `mech` (its `CK_AES_CTR_PARAMS`) under `key`.
pub(super) fn op(mech: &Mechanism, key: Arc<GcmKey>) -> Result<Box<dyn CipherOp>> {
    match &mech.param {
        Param::Ctr { counter_bits, cb } => {
            let bits = u32::try_from(*counter_bits).map_err(|_| Error::MechanismParamInvalid)?;
            let ctr = Ctr::new(*cb, bits).ok_or(Error::MechanismParamInvalid)?;
            Ok(Box::new(CtrOp { key, ctr }))
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}
