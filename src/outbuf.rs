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
use zeroize::Zeroizing;

/// Where an operation writes its output.
#[derive(Debug)]
pub struct OutBuf<'a> {
    buf: Target<'a>,
    /// The length to report back to the caller (bytes written, or bytes needed).
    len: usize,
}

/// The space behind an [`OutBuf`].
#[derive(Debug)]
enum Target<'a> {
    /// A size query.
    Query,
    /// The caller's buffer.
    Slice(&'a mut [u8]),
    /// A buffer of at most `cap` bytes, allocated only as large as the
    /// output (the server of the remote protocol: a client announces its
    /// buffer's size, which must not decide what the server allocates).
    Grow {
        bytes: Zeroizing<Vec<u8>>,
        cap: usize,
    },
}

impl<'a> OutBuf<'a> {
    /// A caller buffer, or `None` for a size query.
    pub fn new(buf: Option<&'a mut [u8]>) -> Self {
        let buf = match buf {
            Some(b) => Target::Slice(b),
            None => Target::Query,
        };
        OutBuf { buf, len: 0 }
    }
    /// A size query (no buffer).
    pub fn query() -> Self {
        OutBuf {
            buf: Target::Query,
            len: 0,
        }
    }
    /// A buffer that behaves as one of `cap` bytes but holds only what is
    /// written; [`OutBuf::into_bytes`] takes the output.
    pub fn growable(cap: usize) -> OutBuf<'static> {
        OutBuf {
            buf: Target::Grow {
                bytes: Zeroizing::new(Vec::new()),
                cap,
            },
            len: 0,
        }
    }
    /// True when the caller only asked for the length.
    pub fn is_query(&self) -> bool {
        matches!(self.buf, Target::Query)
    }
    /// The size of the caller's buffer (`None` for a size query).
    pub fn capacity(&self) -> Option<usize> {
        match &self.buf {
            Target::Query => None,
            Target::Slice(b) => Some(b.len()),
            Target::Grow { cap, .. } => Some(*cap),
        }
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
        match &mut self.buf {
            Target::Query => Ok(None),
            Target::Slice(b) if b.len() < needed => Err(Error::BufferTooSmall),
            Target::Slice(b) => Ok(Some(&mut b[..needed])),
            Target::Grow { cap, .. } if *cap < needed => Err(Error::BufferTooSmall),
            Target::Grow { bytes, .. } => {
                if bytes.len() < needed {
                    // A fresh allocation: growing in place could leave a copy
                    // of earlier bytes behind, unwiped.
                    let mut v = Zeroizing::new(vec![0u8; needed]);
                    v[..bytes.len()].copy_from_slice(bytes);
                    *bytes = v;
                }
                Ok(Some(&mut bytes[..needed]))
            }
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
    /// The bytes written to a [`OutBuf::growable`] buffer (empty for the
    /// other kinds).
    pub fn into_bytes(self) -> Zeroizing<Vec<u8>> {
        match self.buf {
            Target::Grow { mut bytes, .. } => {
                let n = self.len.min(bytes.len());
                bytes.truncate(n);
                bytes
            }
            _ => Zeroizing::new(Vec::new()),
        }
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

    #[test]
    fn a_growable_buffer_holds_only_what_is_written() {
        let mut g = OutBuf::growable(usize::MAX);
        assert_eq!(g.capacity(), Some(usize::MAX));
        assert!(g.write(b"abc").unwrap());
        assert_eq!(g.into_bytes().as_slice(), b"abc");
        let mut g = OutBuf::growable(2);
        assert_eq!(g.write(b"abc"), Err(Error::BufferTooSmall));
        assert_eq!(g.len(), 3);
        let mut g = OutBuf::growable(16);
        g.reserve(8).unwrap().unwrap()[..2].copy_from_slice(b"xy");
        g.set_written(2);
        assert_eq!(g.into_bytes().as_slice(), b"xy");
    }
}
