//! Envelope encryption (`CKM_SOFTKMS_ENVELOPE`, `docs/envelope-format.md`)
//! and finding the keys messages name.

use crate::{EncryptionContext, EnvelopeParams, Error, Result};
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use zeroize::Zeroizing;

/// The longest key id a header may carry.
const MAX_KEY_ID: usize = 128;
/// The largest frame size a header may name.
const MAX_FRAME_SIZE: u32 = 16 << 20;

/// What the header of an envelope message names (read without decrypting
/// anything).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageHeader {
    /// The key's `CKA_UNIQUE_ID`.
    pub key_id: String,
    /// The key version the message was made with.
    pub key_version: u32,
    /// Plaintext bytes per frame.
    pub frame_size: u32,
}

impl MessageHeader {
    /// Reads the start of an envelope message (format version 1, suite 1:
    /// `docs/envelope-format.md`, "Header").
    ///
    /// # Errors
    ///
    /// [`Error::NotAnEnvelope`] when the bytes do not start as one.
    pub fn parse(message: &[u8]) -> Result<MessageHeader> {
        let fixed = message.get(..11).ok_or(Error::NotAnEnvelope)?;
        if fixed[..6] != *b"SKMS\x01\x01" {
            return Err(Error::NotAnEnvelope);
        }
        let frame_size = u32::from_be_bytes([fixed[6], fixed[7], fixed[8], fixed[9]]);
        let id_len = usize::from(fixed[10]);
        if frame_size == 0 || frame_size > MAX_FRAME_SIZE || id_len == 0 || id_len > MAX_KEY_ID {
            return Err(Error::NotAnEnvelope);
        }
        let id = message.get(11..11 + id_len).ok_or(Error::NotAnEnvelope)?;
        let key_id = std::str::from_utf8(id).map_err(|_| Error::NotAnEnvelope)?;
        let v = message
            .get(11 + id_len..15 + id_len)
            .ok_or(Error::NotAnEnvelope)?;
        Ok(MessageHeader {
            key_id: key_id.to_string(),
            key_version: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
            frame_size,
        })
    }
}

/// The key with this `CKA_UNIQUE_ID`, if the session sees one.
///
/// # Errors
///
/// A failed `C_FindObjects*`.
pub fn find_key_by_id(session: &Session, unique_id: &str) -> Result<Option<ObjectHandle>> {
    let found = session.find_objects(&[Attribute::UniqueId(unique_id.as_bytes().to_vec())])?;
    Ok(found.first().copied())
}

/// The secret key labelled `label`, if the session sees one (private keys
/// need a login).
///
/// # Errors
///
/// [`Error::AmbiguousLabel`] when several secret keys have the label (PKCS#11
/// does not make labels unique); a failed `C_FindObjects*`.
pub fn find_key_by_label(session: &Session, label: &str) -> Result<Option<ObjectHandle>> {
    let found = session.find_objects(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ])?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(Error::AmbiguousLabel {
            label: label.to_string(),
        }),
    }
}

/// The key an envelope message (or a data key's blob) names.
///
/// # Errors
///
/// [`Error::NotAnEnvelope`], [`Error::KeyNotFound`], a failed search.
pub fn message_key(session: &Session, message: &[u8]) -> Result<(MessageHeader, ObjectHandle)> {
    let header = MessageHeader::parse(message)?;
    match find_key_by_id(session, &header.key_id)? {
        Some(key) => Ok((header, key)),
        None => Err(Error::KeyNotFound {
            key_id: header.key_id,
        }),
    }
}

/// Encrypts `plaintext` under `key` (a managed key, or any AES-256 key with
/// `CKA_ENCRYPT`) into one self-describing envelope message bound to
/// `context`: AWS KMS's `Encrypt`, for any length the process can hold.
///
/// ```
/// # let token = p11_testkit::throwaway::Token::new();
/// # let session = token.user_session();
/// # token.managed_key(&session, "payments");
/// use softkms_cryptoki::{envelope_decrypt, envelope_encrypt, find_key_by_label, EncryptionContext};
///
/// let key = find_key_by_label(&session, "payments")?.expect("the key");
/// let context = EncryptionContext::new().with("tenant", "7");
/// let message = envelope_encrypt(&session, key, b"card 4111", &context)?;
/// // The message names its key: decryption finds it by CKA_UNIQUE_ID.
/// assert_eq!(&envelope_decrypt(&session, &message, &context)?[..], b"card 4111");
/// // Another context does not open it.
/// let wrong = EncryptionContext::new().with("tenant", "8");
/// assert!(envelope_decrypt(&session, &message, &wrong).is_err());
/// # Ok::<(), softkms_cryptoki::Error>(())
/// ```
///
/// # Errors
///
/// The module's refusal (a disabled key: `CKR_KEY_FUNCTION_NOT_PERMITTED`; a
/// key that is not AES-256: `CKR_KEY_TYPE_INCONSISTENT` or `CKR_KEY_SIZE_RANGE`).
pub fn envelope_encrypt(
    session: &Session,
    key: ObjectHandle,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Vec<u8>> {
    let context = context.to_bytes();
    let params = EnvelopeParams::new(&context)?;
    Ok(session.encrypt(&params.mechanism(), key, plaintext)?)
}

/// Decrypts an envelope message: the key is the one its header names (found
/// by `CKA_UNIQUE_ID`), the version the one it was made with, so rotation
/// never breaks decryption.
///
/// # Errors
///
/// [`Error::NotAnEnvelope`], [`Error::KeyNotFound`]; a changed or cut
/// message, or another context: `CKR_ENCRYPTED_DATA_INVALID`; a retired
/// version or a disabled key: `CKR_KEY_FUNCTION_NOT_PERMITTED`.
pub fn envelope_decrypt(
    session: &Session,
    message: &[u8],
    context: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>> {
    let (_, key) = message_key(session, message)?;
    let context = context.to_bytes();
    let params = EnvelopeParams::new(&context)?;
    Ok(Zeroizing::new(session.decrypt(
        &params.mechanism(),
        key,
        message,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published vector's header (docs/envelope-format.md, test vector 1)
    /// names its inputs; cut or changed starts are refused.
    #[test]
    fn the_vector_header_names_its_key() {
        let hex = include_str!("../../docs/envelope-vector-1.hex");
        let hex: String = hex.split_whitespace().collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        let h = MessageHeader::parse(&bytes).expect("a header");
        assert_eq!(h.key_id, "0123456789abcdef0123456789abcdef");
        assert_eq!((h.key_version, h.frame_size), (1, 16));
        assert!(MessageHeader::parse(&bytes[..40]).is_err());
        let mut bad = bytes.clone();
        bad[4] = 2;
        assert!(MessageHeader::parse(&bad).is_err());
        assert!(MessageHeader::parse(b"not an envelope at all").is_err());
    }
}
