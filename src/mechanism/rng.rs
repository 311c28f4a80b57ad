//! Random numbers from the operating system (`C_GenerateRandom`).

use crate::error::{Error, Result};

/// Fills `buf` from the OS random source.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    crate::crypto::random(buf).map_err(|_| Error::FunctionFailed)
}
