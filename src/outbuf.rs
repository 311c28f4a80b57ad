//! Output buffers and the PKCS#11 length rules (PKCS#11 3.0 §5.2).
//!
//! A caller passes a buffer and its length, or a null buffer to ask for the
//! length. [`OutBuf`] is the safe form `ffi/marshal.rs` builds from that pair.
//! An operation either knows its output length beforehand and calls
//! [`OutBuf::reserve`], or computes its output and calls [`OutBuf::write`].
//! In both cases a size query or a buffer that is too small leaves the
//! operation's state as it was: the operation must not consume input before the
//! buffer is known to be large enough.

use crate::error::{Error, Result};

/// Where an operation writes its output.
#[derive(Debug)]
pub struct OutBuf<'a> {
    buf: Option<&'a mut [u8]>,
    /// The length to report back to the caller (bytes written, or bytes needed).
    len: usize,
}

impl<'a> OutBuf<'a> {
    /// A caller buffer, or `None` for a size query.
    pub fn new(buf: Option<&'a mut [u8]>) -> Self {
        OutBuf { buf, len: 0 }
    }
    /// A size query (no buffer).
    pub fn query() -> Self {
        OutBuf { buf: None, len: 0 }
    }
    /// True when the caller only asked for the length.
    pub fn is_query(&self) -> bool {
        self.buf.is_none()
    }
    /// The size of the caller's buffer (`None` for a size query).
    pub fn capacity(&self) -> Option<usize> {
        self.buf.as_ref().map(|b| b.len())
    }
    /// The length to report back: bytes written, or bytes needed.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing was written or needed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Asks for `needed` bytes. Returns the space to write into, `Ok(None)` for a
    /// size query (the needed length is recorded), or `BufferTooSmall`.
    /// After writing fewer bytes than reserved, call [`OutBuf::set_written`].
    pub fn reserve(&mut self, needed: usize) -> Result<Option<&mut [u8]>> {
        self.len = needed;
        match self.buf.as_deref_mut() {
            None => Ok(None),
            Some(b) if b.len() < needed => Err(Error::BufferTooSmall),
            Some(b) => Ok(Some(&mut b[..needed])),
        }
    }
    /// Copies `data` out: `Ok(true)` when written, `Ok(false)` for a size query,
    /// `BufferTooSmall` when it does not fit.
    pub fn write(&mut self, data: &[u8]) -> Result<bool> {
        match self.reserve(data.len())? {
            None => Ok(false),
            Some(dst) => {
                dst.copy_from_slice(data);
                Ok(true)
            }
        }
    }
    /// Records how many of the reserved bytes were really written.
    pub fn set_written(&mut self, n: usize) {
        self.len = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules() {
        let mut q = OutBuf::query();
        assert!(!q.write(b"abc").unwrap());
        assert_eq!(q.len(), 3);

        let mut small = [0u8; 2];
        let mut o = OutBuf::new(Some(&mut small));
        assert_eq!(o.write(b"abc"), Err(Error::BufferTooSmall));
        assert_eq!(o.len(), 3);

        let mut big = [0u8; 8];
        let mut o = OutBuf::new(Some(&mut big));
        assert!(o.write(b"abc").unwrap());
        assert_eq!(o.len(), 3);
        assert_eq!(&big[..3], b"abc");
    }
}
