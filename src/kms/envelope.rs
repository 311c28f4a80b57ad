//! The SoftKMS envelope format: one self-describing message per encryption,
//! specified byte by byte in `docs/envelope-format.md`.
//!
//! A message is a header (naming the master key and its version, carrying the
//! wrapped data key, a random salt and a key commitment) followed by frames of
//! AES-256-GCM. Frame keys come from the data key and the salt through HKDF; each
//! frame's nonce holds its index and a final-frame flag, and its AAD holds the
//! header's hash and the encryption context's hash. So any size streams in
//! bounded memory, and truncation, reordering, frames moved between messages, a
//! wrong context and any bit flip are all detected; the commitment means one
//! message cannot open under two data keys.

use crate::crypto::aead::{Aes256GcmKey, NONCE_LEN, TAG_LEN};
use crate::crypto::hash::{ct_eq, digest, hkdf_expand, hkdf_extract, HashAlg};
use crate::error::{Error, Result};
use crate::outbuf::OutBuf;
use zeroize::Zeroizing;

/// The first four bytes of every message.
pub const MAGIC: [u8; 4] = *b"SKMS";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Suite 1: AES-256-GCM frames, HKDF-SHA256, 32-byte commitment.
pub const SUITE_1: u8 = 1;
/// Plaintext bytes per frame unless the caller asks otherwise.
pub const DEFAULT_FRAME_SIZE: u32 = 64 * 1024;
/// Largest frame size accepted (bounds the memory a reader needs).
pub const MAX_FRAME_SIZE: u32 = 16 * 1024 * 1024;
/// Longest key id.
pub const MAX_KEY_ID: usize = 128;
/// Longest wrapped data key.
pub const MAX_WRAPPED_DEK: usize = 1024;
/// Longest encryption context (bytes) the SoftKMS mechanisms take, as AWS KMS
/// (8,192 characters): it goes into the data key's AAD and every audit record.
pub const MAX_CONTEXT_LEN: usize = 8192;
/// Length of a data key.
pub const DEK_LEN: usize = 32;

const INFO_FRAME_KEY: &[u8] = b"softkms envelope v1 frame key";
const INFO_COMMITMENT: &[u8] = b"softkms envelope v1 commitment";
const DEK_WRAP_DOMAIN: &[u8] = b"softkms envelope v1 data key";

/// A data key (wiped on drop).
pub type DataKey = Zeroizing<[u8; DEK_LEN]>;

/// The header of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The master key's `CKA_UNIQUE_ID`.
    pub key_id: String,
    /// The master key version that wrapped the data key.
    pub key_version: u32,
    /// Plaintext bytes per frame (the final frame may hold fewer).
    pub frame_size: u32,
    /// The data key, wrapped by [`wrap_data_key`].
    pub wrapped_dek: Vec<u8>,
    /// Random salt of this message.
    pub salt: [u8; 32],
    /// HKDF commitment to the data key.
    pub commitment: [u8; 32],
}

impl Header {
    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(90 + self.key_id.len() + self.wrapped_dek.len());
        h.extend_from_slice(&MAGIC);
        h.push(FORMAT_VERSION);
        h.push(SUITE_1);
        h.extend_from_slice(&self.frame_size.to_be_bytes());
        // Lengths were checked when the header was made or parsed.
        h.push(u8::try_from(self.key_id.len()).unwrap_or(u8::MAX));
        h.extend_from_slice(self.key_id.as_bytes());
        h.extend_from_slice(&self.key_version.to_be_bytes());
        h.extend_from_slice(
            &u16::try_from(self.wrapped_dek.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        h.extend_from_slice(&self.wrapped_dek);
        h.extend_from_slice(&self.salt);
        h.extend_from_slice(&self.commitment);
        h
    }

    /// Parses a header at the start of `b`: `Ok(None)` when more bytes are
    /// needed, else the header and its length. Anything malformed is
    /// `CKR_ENCRYPTED_DATA_INVALID`.
    pub fn parse(b: &[u8]) -> Result<Option<(Header, usize)>> {
        let mut r = Reader { b, pos: 0 };
        let Some(fixed) = r.take(10) else {
            return Ok(None);
        };
        if fixed[..4] != MAGIC || fixed[4] != FORMAT_VERSION || fixed[5] != SUITE_1 {
            return Err(Error::EncryptedDataInvalid);
        }
        let frame_size = u32::from_be_bytes([fixed[6], fixed[7], fixed[8], fixed[9]]);
        if frame_size == 0 || frame_size > MAX_FRAME_SIZE {
            return Err(Error::EncryptedDataInvalid);
        }
        let Some(&[id_len]) = r.take(1) else {
            return Ok(None);
        };
        let id_len = usize::from(id_len);
        if id_len == 0 || id_len > MAX_KEY_ID {
            return Err(Error::EncryptedDataInvalid);
        }
        let Some(id) = r.take(id_len) else {
            return Ok(None);
        };
        let key_id = std::str::from_utf8(id)
            .map_err(|_| Error::EncryptedDataInvalid)?
            .to_string();
        let Some(v) = r.take(4) else { return Ok(None) };
        let key_version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        let Some(w) = r.take(2) else { return Ok(None) };
        let wlen = usize::from(u16::from_be_bytes([w[0], w[1]]));
        if wlen == 0 || wlen > MAX_WRAPPED_DEK {
            return Err(Error::EncryptedDataInvalid);
        }
        let Some(wrapped) = r.take(wlen) else {
            return Ok(None);
        };
        let wrapped_dek = wrapped.to_vec();
        let Some(salt) = r.take(32) else {
            return Ok(None);
        };
        let salt: [u8; 32] = salt.try_into().map_err(|_| Error::EncryptedDataInvalid)?;
        let Some(c) = r.take(32) else { return Ok(None) };
        let commitment: [u8; 32] = c.try_into().map_err(|_| Error::EncryptedDataInvalid)?;
        Ok(Some((
            Header {
                key_id,
                key_version,
                frame_size,
                wrapped_dek,
                salt,
                commitment,
            },
            r.pos,
        )))
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
}

/// SHA-256 of the encryption context (the context itself is never stored).
pub fn context_hash(context: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&digest(HashAlg::Sha256, context));
    out
}

fn dek_aad(key_id: &str, version: u32, context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DEK_WRAP_DOMAIN.len() + 1 + key_id.len() + 36);
    aad.extend_from_slice(DEK_WRAP_DOMAIN);
    aad.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(&context_hash(context));
    aad
}

/// Wraps a data key under one version of a master key: AES-256-GCM with a
/// random nonce, the key id, version and context hash as AAD. Output:
/// nonce (12) ‖ encrypted key (32) ‖ tag (16).
pub fn wrap_data_key(
    master: &[u8; 32],
    key_id: &str,
    version: u32,
    context: &[u8],
    dek: &[u8; DEK_LEN],
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::crypto::random(&mut nonce).map_err(|_| Error::FunctionFailed)?;
    wrap_data_key_with_nonce(master, key_id, version, context, dek, &nonce)
}

/// [`wrap_data_key`] with a given nonce (for published test vectors only).
pub(crate) fn wrap_data_key_with_nonce(
    master: &[u8; 32],
    key_id: &str,
    version: u32,
    context: &[u8],
    dek: &[u8; DEK_LEN],
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    let mut buf = dek.to_vec();
    let tag =
        Aes256GcmKey::new(master).seal(nonce, &dek_aad(key_id, version, context), &mut buf)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Unwraps what [`wrap_data_key`] made; any mismatch is `CKR_ENCRYPTED_DATA_INVALID`.
pub fn unwrap_data_key(
    master: &[u8; 32],
    key_id: &str,
    version: u32,
    context: &[u8],
    wrapped: &[u8],
) -> Result<DataKey> {
    if wrapped.len() != NONCE_LEN + DEK_LEN + TAG_LEN {
        return Err(Error::EncryptedDataInvalid);
    }
    let (nonce, rest) = wrapped.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(DEK_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::EncryptedDataInvalid)?;
    let mut dek: DataKey = Zeroizing::new([0u8; DEK_LEN]);
    dek.copy_from_slice(ct);
    Aes256GcmKey::new(master).open(
        &nonce,
        &dek_aad(key_id, version, context),
        &mut dek[..],
        tag,
    )?;
    Ok(dek)
}

/// The per-message keys.
struct FrameKeys {
    key: Aes256GcmKey,
    aad: [u8; 64],
}

/// Derives the frame key and the commitment from a data key and a salt.
fn derive(dek: &[u8; DEK_LEN], salt: &[u8; 32]) -> Result<(Zeroizing<[u8; 32]>, [u8; 32])> {
    let prk = hkdf_extract(HashAlg::Sha256, salt, dek);
    let fk = hkdf_expand(HashAlg::Sha256, &prk, INFO_FRAME_KEY, 32).ok_or(Error::FunctionFailed)?;
    let cm =
        hkdf_expand(HashAlg::Sha256, &prk, INFO_COMMITMENT, 32).ok_or(Error::FunctionFailed)?;
    let mut frame_key = Zeroizing::new([0u8; 32]);
    frame_key.copy_from_slice(&fk);
    let mut commitment = [0u8; 32];
    commitment.copy_from_slice(&cm);
    Ok((frame_key, commitment))
}

impl FrameKeys {
    fn new(frame_key: &[u8; 32], header: &[u8], context: &[u8]) -> FrameKeys {
        let mut aad = [0u8; 64];
        aad[..32].copy_from_slice(&digest(HashAlg::Sha256, header));
        aad[32..].copy_from_slice(&context_hash(context));
        FrameKeys {
            key: Aes256GcmKey::new(frame_key),
            aad,
        }
    }

    fn nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n[..4].copy_from_slice(&u32::from(last).to_be_bytes());
        n[4..].copy_from_slice(&index.to_be_bytes());
        n
    }

    /// Seals `pt` into `dst` (`pt.len() + 16` bytes).
    fn seal(&self, index: u64, last: bool, pt: &[u8], dst: &mut [u8]) -> Result<()> {
        let (body, tag) = dst.split_at_mut(pt.len());
        body.copy_from_slice(pt);
        tag.copy_from_slice(&self.key.seal(&Self::nonce(index, last), &self.aad, body)?);
        Ok(())
    }

    /// Opens a frame (ciphertext and tag) into `dst` (`frame.len() - 16` bytes).
    fn open(&self, index: u64, last: bool, frame: &[u8], dst: &mut [u8]) -> Result<()> {
        let (ct, tag) = frame.split_at(frame.len() - TAG_LEN);
        dst.copy_from_slice(ct);
        let r = self
            .key
            .open(&Self::nonce(index, last), &self.aad, dst, tag);
        if r.is_err() {
            dst.fill(0);
        }
        r
    }
}

fn frame_size_usize(f: u32) -> usize {
    usize::try_from(f).unwrap_or(usize::MAX)
}

/// Encrypts one message, in one call or in parts.
pub struct Encryptor {
    header: Vec<u8>,
    header_sent: bool,
    keys: FrameKeys,
    frame: usize,
    index: u64,
    buf: Zeroizing<Vec<u8>>,
}

impl Encryptor {
    /// Starts a message under `key_id` version `key_version`, with a fresh data
    /// key `dek` that the caller has wrapped as `wrapped_dek`.
    pub fn new(
        key_id: &str,
        key_version: u32,
        dek: &[u8; DEK_LEN],
        wrapped_dek: Vec<u8>,
        context: &[u8],
        frame_size: u32,
    ) -> Result<Encryptor> {
        let mut salt = [0u8; 32];
        crate::crypto::random(&mut salt).map_err(|_| Error::FunctionFailed)?;
        Self::with_salt(
            key_id,
            key_version,
            dek,
            wrapped_dek,
            context,
            frame_size,
            salt,
        )
    }

    /// [`Encryptor::new`] with a given salt (for published test vectors only).
    pub(crate) fn with_salt(
        key_id: &str,
        key_version: u32,
        dek: &[u8; DEK_LEN],
        wrapped_dek: Vec<u8>,
        context: &[u8],
        frame_size: u32,
        salt: [u8; 32],
    ) -> Result<Encryptor> {
        if key_id.is_empty()
            || key_id.len() > MAX_KEY_ID
            || wrapped_dek.is_empty()
            || wrapped_dek.len() > MAX_WRAPPED_DEK
        {
            return Err(Error::ArgumentsBad);
        }
        if frame_size == 0 || frame_size > MAX_FRAME_SIZE {
            return Err(Error::MechanismParamInvalid);
        }
        let (frame_key, commitment) = derive(dek, &salt)?;
        let header = Header {
            key_id: key_id.to_string(),
            key_version,
            frame_size,
            wrapped_dek,
            salt,
            commitment,
        }
        .encode();
        let keys = FrameKeys::new(&frame_key, &header, context);
        Ok(Encryptor {
            header,
            header_sent: false,
            keys,
            frame: frame_size_usize(frame_size),
            index: 0,
            buf: Zeroizing::new(Vec::new()),
        })
    }

    fn pending_header(&self) -> usize {
        if self.header_sent {
            0
        } else {
            self.header.len()
        }
    }

    /// Frames that `more` bytes of input complete, keeping the last 1..=frame
    /// bytes back (the final frame is written by `finish`).
    fn full_frames(&self, more: usize) -> usize {
        let total = self.buf.len() + more;
        if total == 0 {
            0
        } else {
            (total - 1) / self.frame
        }
    }

    /// Writes the header and the frames `input` completes into `dst`.
    fn emit(&mut self, input: &[u8], dst: &mut [u8]) -> Result<usize> {
        let n = self.full_frames(input.len());
        let mut at = 0;
        if !self.header_sent {
            dst[..self.header.len()].copy_from_slice(&self.header);
            at = self.header.len();
            self.header_sent = true;
        }
        self.buf.extend_from_slice(input);
        for i in 0..n {
            let pt = &self.buf[i * self.frame..(i + 1) * self.frame];
            self.keys.seal(
                self.index,
                false,
                pt,
                &mut dst[at..at + self.frame + TAG_LEN],
            )?;
            self.index += 1;
            at += self.frame + TAG_LEN;
        }
        self.buf.drain(..n * self.frame);
        Ok(at)
    }

    fn emit_final(&mut self, dst: &mut [u8]) -> Result<usize> {
        let len = self.buf.len();
        self.keys
            .seal(self.index, true, &self.buf, &mut dst[..len + TAG_LEN])?;
        self.buf.clear();
        Ok(len + TAG_LEN)
    }

    /// `C_EncryptUpdate`.
    pub fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let n = self.full_frames(input.len());
        let needed = self.pending_header() + n * (self.frame + TAG_LEN);
        if let Some(dst) = out.reserve(needed)? {
            self.emit(input, dst)?;
        }
        Ok(())
    }

    /// `C_EncryptFinal`.
    pub fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let needed = self.pending_header() + self.buf.len() + TAG_LEN;
        if let Some(dst) = out.reserve(needed)? {
            let at = self.emit(&[], dst)?;
            self.emit_final(&mut dst[at..])?;
        }
        Ok(())
    }

    /// `C_Encrypt`: the whole message.
    pub fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let n = self.full_frames(input.len());
        let rest = self.buf.len() + input.len() - n * self.frame;
        let needed = self.pending_header() + n * (self.frame + TAG_LEN) + rest + TAG_LEN;
        if let Some(dst) = out.reserve(needed)? {
            let at = self.emit(input, dst)?;
            self.emit_final(&mut dst[at..])?;
        }
        Ok(())
    }
}

/// Finds the data key of a message: given its header, returns the unwrapped
/// data key (or the error to report).
pub type DataKeySource = Box<dyn FnMut(&Header) -> Result<DataKey> + Send>;

struct Opened {
    keys: FrameKeys,
    frame: usize,
}

/// Decrypts one message, in one call or in parts. Plaintext of a frame is
/// released only after that frame's tag checked; the end of the message is
/// only accepted after its final frame checked.
pub struct Decryptor {
    source: DataKeySource,
    context: Vec<u8>,
    opened: Option<Opened>,
    index: u64,
    buf: Vec<u8>,
}

impl Decryptor {
    /// A decryptor for messages made under `context`.
    pub fn new(context: &[u8], source: DataKeySource) -> Decryptor {
        Decryptor {
            source,
            context: context.to_vec(),
            opened: None,
            index: 0,
            buf: Vec::new(),
        }
    }

    /// Parses the header at the start of `data` and opens the data key.
    fn open_header(&mut self, data: &[u8]) -> Result<Option<(Opened, usize)>> {
        let Some((header, len)) = Header::parse(data)? else {
            return Ok(None);
        };
        let dek = (self.source)(&header)?;
        let (frame_key, commitment) = derive(&dek, &header.salt)?;
        if !ct_eq(&commitment, &header.commitment) {
            return Err(Error::EncryptedDataInvalid);
        }
        let keys = FrameKeys::new(&frame_key, &data[..len], &self.context);
        Ok(Some((
            Opened {
                keys,
                frame: frame_size_usize(header.frame_size),
            },
            len,
        )))
    }

    /// Opens the header if needed; returns the offset in `data` where frames start.
    fn ensure_open(&mut self, data: &[u8]) -> Result<Option<usize>> {
        if self.opened.is_some() {
            return Ok(Some(0));
        }
        match self.open_header(data)? {
            Some((o, len)) => {
                self.opened = Some(o);
                Ok(Some(len))
            }
            None => Ok(None),
        }
    }

    /// Decrypts the non-final frames of `data[at..]` into `dst`; returns the
    /// bytes of `data` used and of `dst` written.
    fn frames(
        &mut self,
        data: &[u8],
        at: usize,
        n: usize,
        dst: &mut [u8],
    ) -> Result<(usize, usize)> {
        let o = self.opened.as_ref().ok_or(Error::EncryptedDataInvalid)?;
        let unit = o.frame + TAG_LEN;
        for i in 0..n {
            let f = &data[at + i * unit..at + (i + 1) * unit];
            o.keys.open(
                self.index + u64::try_from(i).unwrap_or(u64::MAX),
                false,
                f,
                &mut dst[i * o.frame..(i + 1) * o.frame],
            )?;
        }
        self.index += u64::try_from(n).unwrap_or(u64::MAX);
        Ok((at + n * unit, n * o.frame))
    }

    fn frame_unit(&self) -> usize {
        self.opened.as_ref().map_or(0, |o| o.frame + TAG_LEN)
    }

    /// `C_DecryptUpdate`: releases the frames that are complete and followed by
    /// more data. A size query reports an upper bound (as PKCS#11 §5.2 allows).
    pub fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        if out.is_query() {
            out.reserve(self.buf.len() + input.len())?;
            return Ok(());
        }
        let mut data = std::mem::take(&mut self.buf);
        data.extend_from_slice(input);
        let was_open = self.opened.is_some();
        let Some(at) = self.ensure_open(&data)? else {
            self.buf = data;
            out.reserve(0)?;
            return Ok(());
        };
        let unit = self.frame_unit();
        let n = (data.len() - at).saturating_sub(1) / unit;
        let o_frame = unit - TAG_LEN;
        match out.reserve(n * o_frame) {
            Ok(Some(dst)) => {
                let (used, _) = self.frames(&data, at, n, dst)?;
                data.drain(..used);
                self.buf = data;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                // Nothing consumed: the caller tries again with a larger buffer.
                if !was_open {
                    self.opened = None;
                }
                data.truncate(data.len() - input.len());
                self.buf = data;
                Err(e)
            }
        }
    }

    /// Length of the plaintext in a complete message, from lengths alone.
    fn plaintext_len(header_len: usize, frame: usize, total: usize) -> Result<usize> {
        let rest = total
            .checked_sub(header_len)
            .ok_or(Error::EncryptedDataInvalid)?;
        let unit = frame + TAG_LEN;
        let n = rest.saturating_sub(1) / unit;
        let last = rest - n * unit;
        if last < TAG_LEN {
            return Err(Error::EncryptedDataInvalid);
        }
        Ok(n * frame + last - TAG_LEN)
    }

    /// `C_DecryptFinal`: the final frame.
    pub fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let unit = self.frame_unit();
        if unit == 0 || self.buf.len() < TAG_LEN || self.buf.len() > unit {
            return Err(Error::EncryptedDataInvalid);
        }
        let len = self.buf.len() - TAG_LEN;
        if let Some(dst) = out.reserve(len)? {
            let o = self.opened.as_ref().ok_or(Error::EncryptedDataInvalid)?;
            o.keys.open(self.index, true, &self.buf, dst)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// `C_Decrypt`: a whole message; nothing is released unless all of it checks.
    pub fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let Some((header, hlen)) = Header::parse(input)? else {
            return Err(Error::EncryptedDataInvalid);
        };
        let frame = frame_size_usize(header.frame_size);
        let len = Self::plaintext_len(hlen, frame, input.len())?;
        let Some(dst) = out.reserve(len)? else {
            return Ok(());
        };
        let at = self
            .ensure_open(input)?
            .ok_or(Error::EncryptedDataInvalid)?;
        let unit = frame + TAG_LEN;
        let n = (input.len() - at).saturating_sub(1) / unit;
        let r = self.frames(input, at, n, dst).and_then(|(used, written)| {
            let o = self.opened.as_ref().ok_or(Error::EncryptedDataInvalid)?;
            o.keys
                .open(self.index, true, &input[used..], &mut dst[written..])
        });
        if r.is_err() {
            dst.fill(0);
        }
        r
    }
}

#[cfg(test)]
mod tests;
