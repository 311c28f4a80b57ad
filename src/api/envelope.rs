//! Envelope encryption and data keys under managed keys: `CKM_SOFTKMS_ENVELOPE`
//! and `CKM_SOFTKMS_GENERATE_DATA_KEY` (`docs/kms.md`, `docs/envelope-format.md`).

use super::error::{Error, ErrorKind, Result};
use super::keys::{DataKey, Decrypted, KeyId, KeyRef, ReEncrypted};
use super::session::{call, Token};
use super::types::{check_len, EncryptionContext, SecretBytes};
use super::words::{self, Need};
use crate::abi::{CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY};
use crate::kms::envelope::Header;
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Attribute;
use cryptoki_sys::*;
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// The longest data key [`Token::generate_data_key`] makes (as the module).
pub const MAX_DATA_KEY_BYTES: usize = 1024;

/// The largest message the one-shot calls ([`Token::encrypt`],
/// [`Token::decrypt`]) take; larger ones stream
/// ([`Token::encrypt_stream`], [`Token::decrypt_stream`]).
pub const MAX_ONE_SHOT_BYTES: usize = 64 << 20;

/// Bytes read per part when streaming.
const PART: usize = 1 << 20;

/// A capacity for the wrapped data key the module returns.
const WRAPPED_CAPACITY: usize = 64 * 1024;

/// `CKM_SOFTKMS_ENVELOPE` with the context.
pub(super) fn envelope(ctx: &EncryptionContext) -> Mechanism {
    Mechanism {
        mech: CKM_SOFTKMS_ENVELOPE,
        param: Param::Envelope {
            context: ctx.to_bytes(),
        },
    }
}

fn not_envelope() -> Error {
    Error::new(
        ErrorKind::InvalidCiphertext,
        "the input is not a SoftKMS envelope message",
    )
}

/// The header of an envelope message (or of its first bytes).
fn header(message: &[u8]) -> Result<Header> {
    match Header::parse(message) {
        Ok(Some((h, _))) => Ok(h),
        _ => Err(not_envelope()),
    }
}

/// A data key object's template: a session generic secret of `bytes`.
fn data_key_template(bytes: usize, plaintext: bool) -> Result<Vec<Attribute>> {
    let len = CK_ULONG::try_from(bytes).map_err(|_| Error::invalid("too many bytes"))?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        Attribute::bool(CKA_TOKEN, false),
        Attribute::ulong(CKA_VALUE_LEN, len),
        Attribute::bool(CKA_SENSITIVE, !plaintext),
        Attribute::bool(CKA_EXTRACTABLE, plaintext),
    ])
}

impl Token {
    /// The key an envelope message names, as this session sees it.
    fn message_key(&self, h: &Header) -> Result<(KeyId, CK_OBJECT_HANDLE)> {
        let id = KeyId::new(h.key_id.clone());
        match self.handle_by_id(&id)? {
            Some(k) => Ok((id, k)),
            None => Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "the key {} that the message names is not on this token",
                    h.key_id
                ),
            )),
        }
    }

    /// Encrypts `plaintext` under the managed key (AWS KMS's `Encrypt`, for
    /// any size up to [`MAX_ONE_SHOT_BYTES`]): one self-describing envelope
    /// message, bound to `context`, naming the key and its current version.
    pub fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        check_len("plaintext", plaintext.len(), MAX_ONE_SHOT_BYTES)?;
        let _g = self.take();
        self.encrypt_taken(key, plaintext, context)
            .inspect_err(|e| words::failed(&format!("encrypt under {key:?}"), e))
    }

    /// [`Token::encrypt`]; the caller holds `take`.
    fn encrypt_taken(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let k = self.key_handle(key)?;
        self.expect_key(k, Need::Encryption)?;
        let (m, h) = (self.m(), self.h());
        m.encrypt_init(h, &envelope(context), k)
            .map_err(|e| self.refine(k, e.into()))?;
        call(|ob| m.encrypt(h, plaintext, ob)).map_err(|e| self.refine(k, e))
    }

    /// Decrypts an envelope message (AWS KMS's `Decrypt`): the message names
    /// its key and version. A wrong context or a changed message is
    /// [`ErrorKind::InvalidCiphertext`].
    pub fn decrypt(&self, ciphertext: &[u8], context: &EncryptionContext) -> Result<Decrypted> {
        let _g = self.take();
        self.decrypt_taken(ciphertext, context)
            .inspect_err(|e| words::failed("decrypt a message", e))
    }

    /// [`Token::decrypt`]; the caller holds `take`.
    fn decrypt_taken(&self, ciphertext: &[u8], context: &EncryptionContext) -> Result<Decrypted> {
        check_len("ciphertext", ciphertext.len(), MAX_ONE_SHOT_BYTES)?;
        let hd = header(ciphertext)?;
        let (key_id, k) = self.message_key(&hd)?;
        let (m, h) = (self.m(), self.h());
        m.decrypt_init(h, &envelope(context), k)
            .map_err(|e| self.refine(k, e.into()))?;
        let plaintext =
            Zeroizing::new(call(|ob| m.decrypt(h, ciphertext, ob)).map_err(|e| self.refine(k, e))?);
        Ok(Decrypted {
            key_id,
            key_version: hd.key_version,
            plaintext: plaintext.into(),
        })
    }

    /// [`encrypt`](Token::encrypt) of any size in bounded memory: reads
    /// `input` to its end, 1 MiB at a time, and writes the message to
    /// `output`. `progress` is told the plaintext bytes done after each part.
    /// Returns the plaintext's length.
    pub fn encrypt_stream(
        &self,
        key: &KeyRef,
        context: &EncryptionContext,
        input: &mut dyn Read,
        output: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let _g = self.take();
        let k = self.key_handle(key)?;
        self.expect_key(k, Need::Encryption)
            .and_then(|()| {
                self.m()
                    .encrypt_init(self.h(), &envelope(context), k)
                    .map_err(|e| self.refine(k, e.into()))
            })
            .and_then(|()| {
                self.stream(true, Vec::new(), input, output, progress)
                    .map_err(|e| self.refine(k, e))
            })
            .inspect_err(|e| words::failed(&format!("encrypt a stream under {key:?}"), e))
    }

    /// [`decrypt`](Token::decrypt) of any size in bounded memory: reads the
    /// message from `input`, writes the plaintext to `output` as it is
    /// authenticated, part by part. A message cut short or changed fails, but
    /// the parts before the damage may have been written: treat the output as
    /// valid only when this returns `Ok`. Returns the key that decrypted it.
    pub fn decrypt_stream(
        &self,
        context: &EncryptionContext,
        input: &mut dyn Read,
        output: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<KeyId> {
        // The header names the key: read enough of it to find the key.
        let mut head = Vec::new();
        let hd = loop {
            let mut b = [0u8; 4096];
            let n = input.read(&mut b).map_err(|e| Error::io(&e))?;
            head.extend_from_slice(&b[..n]);
            match Header::parse(&head) {
                Ok(Some((hd, _))) => break hd,
                Ok(None) if n > 0 => continue,
                _ => return Err(not_envelope()),
            }
        };
        let _g = self.take();
        let (key_id, k) = self.message_key(&hd)?;
        self.m()
            .decrypt_init(self.h(), &envelope(context), k)
            .map_err(|e| self.refine(k, e.into()))
            .and_then(|()| {
                self.stream(false, head, input, output, progress)
                    .map_err(|e| self.refine(k, e))
            })
            .inspect_err(|e| words::failed("decrypt a stream", e))?;
        Ok(key_id)
    }

    /// Runs the started multi-part operation over `first` and the rest of
    /// `input`.
    fn stream(
        &self,
        encrypting: bool,
        first: Vec<u8>,
        input: &mut dyn Read,
        output: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let (m, h) = (self.m(), self.h());
        let mut buf = Zeroizing::new(first);
        let mut chunk = Zeroizing::new(vec![0u8; PART]);
        let mut done: u64 = 0;
        let result = (|| {
            loop {
                let n = input.read(&mut chunk).map_err(|e| Error::io(&e))?;
                buf.extend_from_slice(&chunk[..n]);
                if !buf.is_empty() {
                    let res = Zeroizing::new(call(|ob| {
                        if encrypting {
                            m.encrypt_update(h, &buf, ob)
                        } else {
                            m.decrypt_update(h, &buf, ob)
                        }
                    })?);
                    output.write_all(&res).map_err(|e| Error::io(&e))?;
                    done += u64::try_from(buf.len()).unwrap_or(0);
                    buf.clear();
                    progress(done);
                }
                if n == 0 {
                    break;
                }
            }
            let res = Zeroizing::new(call(|ob| {
                if encrypting {
                    m.encrypt_final(h, ob)
                } else {
                    m.decrypt_final(h, ob)
                }
            })?);
            output.write_all(&res).map_err(|e| Error::io(&e))?;
            output.flush().map_err(|e| Error::io(&e))?;
            Ok(done)
        })();
        if result.is_err() {
            // An I/O error leaves the operation running: end it.
            let _ = m.session_cancel(h, if encrypting { CKF_ENCRYPT } else { CKF_DECRYPT });
        }
        result
    }

    /// A fresh data key of `bytes` bytes (1–1024; AWS KMS's
    /// `GenerateDataKey`): its plaintext, and its ciphertext blob under the
    /// managed key, bound to `context`.
    pub fn generate_data_key(
        &self,
        key: &KeyRef,
        bytes: usize,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let (key_id, plaintext, blob) = self.data_key(key, bytes, context, true)?;
        Ok(DataKey {
            key_id,
            plaintext: plaintext.unwrap_or_else(|| SecretBytes::new(Vec::new())),
            ciphertext_blob: blob,
        })
    }

    /// A fresh data key's ciphertext blob only: its plaintext is never out of
    /// the module (AWS KMS's `GenerateDataKeyWithoutPlaintext`).
    pub fn generate_data_key_without_plaintext(
        &self,
        key: &KeyRef,
        bytes: usize,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        Ok(self.data_key(key, bytes, context, false)?.2)
    }

    fn data_key(
        &self,
        key: &KeyRef,
        bytes: usize,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<(KeyId, Option<SecretBytes>, Vec<u8>)> {
        self.data_key_unlogged(key, bytes, context, with_plaintext)
            .inspect_err(|e| words::failed(&format!("generate a data key under {key:?}"), e))
    }

    fn data_key_unlogged(
        &self,
        key: &KeyRef,
        bytes: usize,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<(KeyId, Option<SecretBytes>, Vec<u8>)> {
        words::check_data_key_len(bytes)?;
        let template = data_key_template(bytes, with_plaintext)?;
        let _g = self.take();
        let k = self.key_handle(key)?;
        self.expect_key(k, Need::Encryption)?;
        let (m, h) = (self.m(), self.h());
        let mut mech = Mechanism {
            mech: CKM_SOFTKMS_GENERATE_DATA_KEY,
            param: Param::GenerateDataKey {
                context: context.to_bytes(),
                capacity: Some(WRAPPED_CAPACITY),
                wrapped: Vec::new(),
                needed: 0,
            },
        };
        let dk = m
            .derive_key(h, &mut mech, k, &template)
            .map_err(|e| self.refine(k, e.into()))?;
        let plaintext = if with_plaintext {
            let read = m.get_attributes(h, dk, &[CKA_VALUE]).map(|mut v| v.pop());
            match read {
                Ok(Some(crate::object::rules::AttrRead::Value(v))) => Some(SecretBytes::from(v)),
                Ok(_) => {
                    let _ = m.destroy_object(h, dk);
                    return Err(Error::new(
                        ErrorKind::Internal,
                        "the data key's value is unreadable",
                    ));
                }
                Err(e) => {
                    let _ = m.destroy_object(h, dk);
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        let _ = m.destroy_object(h, dk);
        let Param::GenerateDataKey { wrapped, .. } = mech.param else {
            return Err(Error::new(ErrorKind::Internal, "no wrapped key returned"));
        };
        let key_id = KeyId::new(self.text(k, CKA_UNIQUE_ID).unwrap_or_default());
        Ok((key_id, plaintext, wrapped))
    }

    /// The data key of `blob` under another managed key (AWS KMS's
    /// `ReEncrypt`), without its plaintext leaving the module: unwrapped
    /// under the key the blob names into a sensitive session key, wrapped
    /// under `to`. Needs `Decrypt` on the source and `Encrypt` on `to`.
    pub fn re_encrypt(
        &self,
        blob: &[u8],
        source_context: &EncryptionContext,
        to: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<ReEncrypted> {
        self.re_encrypt_unlogged(blob, source_context, to, context)
            .inspect_err(|e| words::failed(&format!("re-encrypt a data key under {to:?}"), e))
    }

    fn re_encrypt_unlogged(
        &self,
        blob: &[u8],
        source_context: &EncryptionContext,
        to: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<ReEncrypted> {
        check_len("ciphertext", blob.len(), MAX_ONE_SHOT_BYTES)?;
        let hd = header(blob)?;
        let _g = self.take();
        let (source_key_id, from) = self.message_key(&hd)?;
        let to = self.key_handle(to)?;
        self.expect_key(to, Need::Encryption)?;
        let (m, h) = (self.m(), self.h());
        let template = vec![
            Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
            Attribute::bool(CKA_TOKEN, false),
            Attribute::bool(CKA_SENSITIVE, true),
            Attribute::bool(CKA_EXTRACTABLE, true),
        ];
        let tmp = m
            .unwrap_key(h, &envelope(source_context), from, blob, &template)
            .map_err(|e| self.refine(from, e.into()))?;
        let res = call(|ob| m.wrap_key(h, &envelope(context), to, tmp, ob));
        let _ = m.destroy_object(h, tmp);
        let ciphertext_blob = res.map_err(|e| self.refine(to, e))?;
        Ok(ReEncrypted {
            source_key_id,
            key_id: KeyId::new(self.text(to, CKA_UNIQUE_ID).unwrap_or_default()),
            ciphertext_blob,
        })
    }
}

impl Token {
    /// Re-encrypts any envelope message (AWS KMS's `ReEncrypt`, up to
    /// [`MAX_ONE_SHOT_BYTES`]): decrypted under the key it names with
    /// `source_context`, encrypted under `to` with `context`; the plaintext
    /// is wiped from memory. Needs `Decrypt` on the source key and `Encrypt`
    /// on `to`, each through the module's key gate and audited.
    pub fn re_encrypt_message(
        &self,
        message: &[u8],
        source_context: &EncryptionContext,
        to: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<ReEncrypted> {
        let _g = self.take();
        let r = (|| {
            let plain = self.decrypt_taken(message, source_context)?;
            let ciphertext_blob = self.encrypt_taken(to, plain.plaintext.as_bytes(), context)?;
            // The key that encrypted it, as the new message names it (`to`
            // may have been re-pointed since).
            let key_id = KeyId::new(header(&ciphertext_blob)?.key_id);
            Ok(ReEncrypted {
                source_key_id: plain.key_id,
                key_id,
                ciphertext_blob,
            })
        })();
        r.inspect_err(|e| words::failed(&format!("re-encrypt a message under {to:?}"), e))
    }
}

/// The key and key version an envelope message (or a data key's ciphertext
/// blob) names, read from its header without decrypting anything.
/// [`ErrorKind::InvalidCiphertext`] when it is not an envelope message.
pub fn message_key_id(message: &[u8]) -> Result<(KeyId, u32)> {
    let h = header(message)?;
    Ok((KeyId::new(h.key_id), h.key_version))
}
