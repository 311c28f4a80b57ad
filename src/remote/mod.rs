//! The remote protocol: `libsoftkms.so` in client mode forwards the calls of
//! a remote slot to `softkms serve`, which runs them on a module of its own
//! (`docs/remote-protocol.md`).
//!
//! A connection is a byte stream (a Unix socket, or TLS with client
//! certificates). The client sends [`proto::MAGIC`] and a [`proto::Hello`];
//! the server answers a [`proto::Welcome`]; then each [`proto::Request`] gets
//! one [`proto::Reply`], in order. Every message is a frame: a 4-byte
//! big-endian length, at most [`proto::MAX_FRAME`], then the postcard
//! encoding. The length is checked before anything is allocated, and frame
//! buffers are wiped after use (they may carry PINs and plaintext).

pub mod check;
pub(crate) mod client;
pub mod proto;

use proto::MAX_FRAME;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, Read, Write};
use zeroize::Zeroizing;

/// Encodes `msg` as one frame, or `None` when it is beyond [`MAX_FRAME`].
/// The size is counted first, so nothing beyond the limit is built and the
/// frame is written into one allocation of its exact size (growing one
/// would leave unwiped copies of PINs and data behind).
pub fn encode<T: Serialize>(msg: &T) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    let invalid = |e: postcard::Error| io::Error::new(io::ErrorKind::InvalidData, e);
    let size = postcard::serialize_with_flavor(msg, postcard::ser_flavors::Size::default())
        .map_err(invalid)?;
    if size > MAX_FRAME {
        return Ok(None);
    }
    let n = u32::try_from(size).map_err(|_| io::ErrorKind::InvalidData)?;
    let mut frame = Zeroizing::new(Vec::with_capacity(4 + size));
    frame.extend_from_slice(&n.to_be_bytes());
    let v = postcard::to_extend(msg, std::mem::take(&mut *frame)).map_err(invalid)?;
    *frame = v;
    if frame.len() != 4 + size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "size changed while encoding",
        ));
    }
    Ok(Some(frame))
}

/// Writes one encoded frame and flushes.
pub fn write_frame(w: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    w.write_all(frame)?;
    w.flush()
}

/// Reads one frame and decodes it. `Ok(None)` when the peer closed the
/// stream before the frame began; a frame beyond [`MAX_FRAME`], a short
/// frame or bytes that are not a `T` are errors.
pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> io::Result<Option<T>> {
    read_frame_max(r, MAX_FRAME)
}

/// [`read_frame`] with a smaller limit than [`MAX_FRAME`] (the handshake's
/// hello).
pub fn read_frame_max<T: DeserializeOwned>(r: &mut impl Read, max: usize) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > max.min(MAX_FRAME) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {n} bytes is beyond the limit"),
        ));
    }
    let mut buf = Zeroizing::new(vec![0u8; n]);
    r.read_exact(&mut buf)?;
    decode(&buf).map(Some)
}

/// Decodes one frame's body; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(buf: &[u8]) -> io::Result<T> {
    let (v, rest) = postcard::take_from_bytes(buf)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if !rest.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "trailing bytes after a message",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::proto::{Request, Secret};
    use super::*;

    #[test]
    fn frames_round_trip_and_limits_hold() {
        let req = Request::SetPin {
            h: 1,
            old: Secret::new(b"old"),
            new: Secret::new(b"new"),
        };
        let f = encode(&req).unwrap().unwrap();
        let back: Request = read_frame(&mut &f[..]).unwrap().unwrap();
        assert_eq!(back, req);
        // Empty stream: a clean end.
        assert!(read_frame::<Request>(&mut &[][..]).unwrap().is_none());
        // A length beyond the limit is refused before anything is read.
        let big = u32::try_from(MAX_FRAME + 1).unwrap().to_be_bytes();
        assert!(read_frame::<Request>(&mut &big[..]).is_err());
        // Truncated body.
        assert!(read_frame::<Request>(&mut &f[..f.len() - 1]).is_err());
        // Trailing bytes inside a frame.
        let mut t = f.to_vec();
        t.push(0);
        let n = u32::try_from(t.len() - 4).unwrap();
        t[..4].copy_from_slice(&n.to_be_bytes());
        assert!(read_frame::<Request>(&mut &t[..]).is_err());
        // A request beyond the limit is not encoded.
        let huge = Request::SeedRandom {
            h: 1,
            seed: vec![0; MAX_FRAME + 1],
        };
        assert!(encode(&huge).unwrap().is_none());
    }
}
