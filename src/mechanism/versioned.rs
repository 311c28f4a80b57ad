//! Standard mechanisms on a rotated managed key: encryption uses the current
//! version; decryption and unwrapping with the authenticated mechanisms (GCM,
//! KW, KWP) try the versions newest first, so ciphertexts made before a rotation
//! still open. The unauthenticated modes cannot tell a wrong key from a right
//! one and use the current version only.

use crate::error::{Error, Result};
use crate::mechanism::CipherOp;
use crate::outbuf::OutBuf;

/// True for the errors that mean "not this key".
fn wrong_key(e: &Error) -> bool {
    matches!(
        e,
        Error::EncryptedDataInvalid | Error::WrappedKeyInvalid | Error::AeadDecryptFailed
    )
}

/// Decrypts with whichever version opens the input, newest first.
pub(crate) struct VersionedCipher {
    ops: Vec<Box<dyn CipherOp>>,
}

impl VersionedCipher {
    /// One operation per version, newest first.
    pub(crate) fn new(ops: Vec<Box<dyn CipherOp>>) -> Self {
        VersionedCipher { ops }
    }
}

impl CipherOp for VersionedCipher {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let mut last = Err(Error::EncryptedDataInvalid);
        for op in &mut self.ops {
            match op.one_shot(input, out) {
                Err(e) if wrong_key(&e) => last = Err(e),
                r => return r,
            }
        }
        last
    }

    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        // The authenticated modes release nothing before the tag is checked, so
        // every version sees the same input and the first answers the caller.
        let (first, rest) = self
            .ops
            .split_first_mut()
            .ok_or(Error::OperationNotInitialized)?;
        first.update(input, out)?;
        if out.is_query() {
            return Ok(());
        }
        let mut scratch = vec![0u8; out.len().max(input.len()) + 64];
        for op in rest {
            op.update(input, &mut OutBuf::new(Some(&mut scratch)))?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let mut last = Err(Error::EncryptedDataInvalid);
        for op in &mut self.ops {
            match op.finish(out) {
                Err(e) if wrong_key(&e) => last = Err(e),
                r => return r,
            }
        }
        last
    }
}
