//! Envelope encryption of streams: any length in bounded memory
//! (`C_EncryptUpdate`/`C_DecryptUpdate`, the same message format as the
//! one-shot calls).

use crate::{EncryptionContext, EnvelopeParams, Error, MessageHeader, Result};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// Bytes read per part.
const PART: usize = 1 << 20;

/// Reads until `buf` is full or the input ends; the number of bytes read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(n)
}

/// Encrypts everything `input` yields under `key` into one envelope message
/// written to `output` (the same message [`envelope_encrypt`](crate::envelope_encrypt)
/// makes), reading a mebibyte at a time. Returns the plaintext length.
///
/// ```
/// # let token = p11_testkit::throwaway::Token::new();
/// # let session = token.user_session();
/// # let key = token.managed_key(&session, "files");
/// use softkms_cryptoki::{envelope_decrypt_stream, envelope_encrypt_stream, EncryptionContext};
/// let context = EncryptionContext::new().with("file", "big.bin");
/// let data = vec![7u8; 3 << 20];
/// let mut message = Vec::new();
/// envelope_encrypt_stream(&session, key, &context, &data[..], &mut message)?;
/// let mut back = Vec::new();
/// envelope_decrypt_stream(&session, &context, &message[..], &mut back)?;
/// assert_eq!(back, data);
/// # Ok::<(), softkms_cryptoki::Error>(())
/// ```
///
/// # Errors
///
/// As [`envelope_encrypt`](crate::envelope_encrypt); [`Error::Io`] from the
/// input or output (the operation is then ended).
pub fn envelope_encrypt_stream(
    session: &Session,
    key: ObjectHandle,
    context: &EncryptionContext,
    mut input: impl Read,
    mut output: impl Write,
) -> Result<u64> {
    let context = context.to_bytes();
    let params = EnvelopeParams::new(&context)?;
    session.encrypt_init(&params.mechanism(), key)?;
    let mut buf = Zeroizing::new(vec![0u8; PART]);
    let mut total = 0u64;
    let run = (|| -> Result<()> {
        loop {
            let n = fill(&mut input, &mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            output
                .write_all(&session.encrypt_update(&buf[..n])?)
                .map_err(Error::Io)?;
        }
        output
            .write_all(&session.encrypt_final()?)
            .map_err(Error::Io)?;
        output.flush().map_err(Error::Io)
    })();
    if run.is_err() {
        // A failed module call has ended the operation already; after an
        // I/O error it is still active, and a final call (output dropped)
        // ends it, so that the session can start another.
        let _ = session.encrypt_final();
    }
    run.map(|()| total)
}

/// Decrypts an envelope message read from `input` into `output`, a frame at a
/// time: the key is the one the header names. Returns the plaintext length.
///
/// The module releases a frame only after its tag checked, but a message cut
/// short or changed later is only found at the end: until this returns `Ok`,
/// treat what was written as unauthenticated (write to a temporary file and
/// rename it on success, for example).
///
/// # Errors
///
/// As [`envelope_decrypt`](crate::envelope_decrypt); [`Error::Io`].
pub fn envelope_decrypt_stream(
    session: &Session,
    context: &EncryptionContext,
    mut input: impl Read,
    mut output: impl Write,
) -> Result<u64> {
    let mut buf = vec![0u8; PART];
    let mut n = fill(&mut input, &mut buf)?;
    let header = MessageHeader::parse(&buf[..n])?;
    let key = crate::find_key_by_id(session, &header.key_id)?.ok_or(Error::KeyNotFound {
        key_id: header.key_id,
    })?;
    let context = context.to_bytes();
    let params = EnvelopeParams::new(&context)?;
    session.decrypt_init(&params.mechanism(), key)?;
    let mut total = 0u64;
    let run = (|| -> Result<()> {
        while n > 0 {
            let part = Zeroizing::new(session.decrypt_update(&buf[..n])?);
            total += part.len() as u64;
            output.write_all(&part).map_err(Error::Io)?;
            n = fill(&mut input, &mut buf)?;
        }
        let last = Zeroizing::new(session.decrypt_final()?);
        total += last.len() as u64;
        output.write_all(&last).map_err(Error::Io)?;
        output.flush().map_err(Error::Io)
    })();
    if run.is_err() {
        // As for encryption: end an operation an I/O error left active.
        let _ = session.decrypt_final();
    }
    run.map(|()| total)
}
