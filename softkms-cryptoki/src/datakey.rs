//! Data keys (`CKM_SOFTKMS_GENERATE_DATA_KEY`, AWS KMS's GenerateDataKey):
//! a fresh key for local encryption, and the same key as an envelope message
//! (the "blob") under a managed key, to store beside the data.

use crate::envelope::message_key;
use crate::Result;
use crate::{envelope_decrypt, EncryptionContext, EnvelopeParams, Error, GenerateDataKeyParams};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use zeroize::Zeroizing;

/// The longest data key the module makes (bytes).
pub const MAX_DATA_KEY_BYTES: usize = 1024;

/// The blob's length for a data key of `bytes` under the longest key id (128
/// bytes): header (81 + key id + 60-byte wrapped key) and one frame with its
/// tag. One buffer of this size is enough for every data key the module makes.
fn blob_capacity(bytes: usize) -> usize {
    81 + 128 + 60 + bytes + 16
}

/// The template of the data key object: a session generic secret of `bytes`,
/// readable or not.
fn template(bytes: usize, readable: bool) -> Result<Vec<Attribute>> {
    if bytes == 0 || bytes > MAX_DATA_KEY_BYTES {
        return Err(Error::TooLong);
    }
    Ok(vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::ValueLen(u64::try_from(bytes).map_err(|_| Error::TooLong)?.into()),
        Attribute::Sensitive(!readable),
        Attribute::Extractable(readable),
    ])
}

/// `C_DeriveKey` with `CKM_SOFTKMS_GENERATE_DATA_KEY`: the new object and the
/// blob. The blob buffer is sized for the longest key id; should the module
/// ever need more, its length query (`CKR_BUFFER_TOO_SMALL`, nothing
/// created) says how much and the call is made again.
fn derive(
    session: &Session,
    key: ObjectHandle,
    context: &EncryptionContext,
    template: &[Attribute],
    capacity: usize,
) -> Result<(ObjectHandle, Vec<u8>)> {
    let context = context.to_bytes();
    let mut blob = vec![0u8; capacity];
    for _ in 0..2 {
        let (result, len) = {
            let params = GenerateDataKeyParams::new(&context, Some(&mut blob))?;
            let r = session.derive_key(&params.mechanism(), key, template);
            (r, params.wrapped_key_len())
        };
        match result {
            Ok(handle) => {
                blob.truncate(len);
                return Ok((handle, blob));
            }
            Err(CkError::Pkcs11(RvError::BufferTooSmall, _))
                if len > blob.len() && len <= 1 << 20 =>
            {
                blob = vec![0u8; len];
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::TooLong)
}

/// A data key of `bytes` (1..=1024; 32 for AES-256) under the managed key
/// `key` (`CKA_DERIVE = TRUE`): its plaintext, to use and forget, and its
/// blob, to store beside the data. [`decrypt_data_key`] gives the plaintext
/// back from the blob and the same `context`.
///
/// ```
/// # let token = p11_testkit::throwaway::Token::new();
/// # let session = token.user_session();
/// # let key = token.managed_key(&session, "payments");
/// use softkms_cryptoki::{decrypt_data_key, generate_data_key, EncryptionContext};
///
/// let context = EncryptionContext::new().with("file", "report.pdf");
/// let (plaintext, blob) = generate_data_key(&session, key, 32, &context)?;
/// assert_eq!(plaintext.len(), 32);
/// // ... encrypt locally with `plaintext`, store `blob`, drop `plaintext` ...
/// assert_eq!(decrypt_data_key(&session, &blob, &context)?, plaintext);
/// # Ok::<(), softkms_cryptoki::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooLong`] for a size outside 1..=1024; the module's refusal (a
/// key without `CKA_DERIVE`, disabled, or denied by its policy:
/// `CKR_KEY_FUNCTION_NOT_PERMITTED`).
pub fn generate_data_key(
    session: &Session,
    key: ObjectHandle,
    bytes: usize,
    context: &EncryptionContext,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let (object, blob) = derive(
        session,
        key,
        context,
        &template(bytes, true)?,
        blob_capacity(bytes),
    )?;
    let value = session.get_attributes(object, &[AttributeType::Value]);
    // The session object has served its purpose either way.
    let destroyed = session.destroy_object(object);
    let plaintext = match value?.into_iter().next() {
        Some(Attribute::Value(v)) => Zeroizing::new(v),
        _ => return Err(Error::BadAttribute("CKA_VALUE of the data key")),
    };
    destroyed?;
    if plaintext.len() != bytes {
        return Err(Error::BadAttribute("CKA_VALUE of the data key"));
    }
    Ok((plaintext, blob))
}

/// AWS KMS's GenerateDataKeyWithoutPlaintext: only the blob of a new data key
/// of `bytes` under `key`; its plaintext never leaves the module. Whoever may
/// decrypt under `key` gets it later with [`decrypt_data_key`].
///
/// # Errors
///
/// As [`generate_data_key`].
pub fn generate_data_key_without_plaintext(
    session: &Session,
    key: ObjectHandle,
    bytes: usize,
    context: &EncryptionContext,
) -> Result<Vec<u8>> {
    let (object, blob) = derive(
        session,
        key,
        context,
        &template(bytes, false)?,
        blob_capacity(bytes),
    )?;
    session.destroy_object(object)?;
    Ok(blob)
}

/// The plaintext of a data key from its blob and the context it was made
/// with (AWS KMS's Decrypt of a data key): the same as [`envelope_decrypt`].
///
/// # Errors
///
/// As [`envelope_decrypt`].
pub fn decrypt_data_key(
    session: &Session,
    blob: &[u8],
    context: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>> {
    envelope_decrypt(session, blob, context)
}

/// A data key's blob unwrapped into a key object (`C_UnwrapKey` with
/// `CKM_SOFTKMS_ENVELOPE` under the key the blob names), made from
/// `template` (for example an AES key with `CKA_ENCRYPT`, sensitive, so that
/// the plaintext never reaches the program).
///
/// # Errors
///
/// [`Error::NotAnEnvelope`], [`Error::KeyNotFound`]; a wrong context or a
/// changed blob: `CKR_WRAPPED_KEY_INVALID`.
pub fn unwrap_data_key(
    session: &Session,
    blob: &[u8],
    context: &EncryptionContext,
    template: &[Attribute],
) -> Result<ObjectHandle> {
    let (_, key) = message_key(session, blob)?;
    let context = context.to_bytes();
    let params = EnvelopeParams::new(&context)?;
    Ok(session.unwrap_key(&params.mechanism(), key, blob, template)?)
}

/// Re-encrypts a data key's blob under another key (AWS KMS's ReEncrypt),
/// without the plaintext ever leaving the module: the blob is unwrapped into
/// a sensitive session key under the key it names, which is wrapped under
/// `destination` with `destination_context`, then destroyed.
///
/// # Errors
///
/// As [`unwrap_data_key`]; the destination key's refusal.
pub fn re_encrypt_data_key(
    session: &Session,
    blob: &[u8],
    context: &EncryptionContext,
    destination: ObjectHandle,
    destination_context: &EncryptionContext,
) -> Result<Vec<u8>> {
    let object = unwrap_data_key(
        session,
        blob,
        context,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
        ],
    )?;
    let dest = destination_context.to_bytes();
    let wrapped = EnvelopeParams::new(&dest)
        .and_then(|p| Ok(session.wrap_key(&p.mechanism(), destination, object)?));
    let destroyed = session.destroy_object(object);
    let wrapped = wrapped?;
    destroyed?;
    Ok(wrapped)
}
