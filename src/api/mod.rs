//! The SoftKMS Rust API: key management the way a cloud KMS offers it, on the
//! tokens of this machine.
//!
//! This is the one supported way for Rust programs to use SoftKMS. The
//! `softkms` command is built on it, and so is `softkms serve` (the AWS KMS
//! API; a service logs in as the token owner and makes each request's
//! session act for its caller: [`Token::act_as`]). PKCS#11 clients in any language use `libsoftkms.so` instead;
//! both reach the same module, so a key made here is a PKCS#11 key object
//! and the other way round.
//!
//! # The model
//!
//! - [`Softkms`] is SoftKMS opened in this process, with the slots of its
//!   configuration (`docs/configuration.md`); each slot holds one token, one
//!   SQLite file whose secrets are sealed.
//! - A [`Token`] is a session on one slot's token. [`Token::login`] logs a
//!   [`Principal`] in with its [`Pin`]: the security officer, the token's
//!   owner ("user") or a named principal the SO made
//!   ([`Token::add_principal`]).
//! - Keys are named by a [`KeyRef`]: their [`KeyId`], their label, or an
//!   alias (`alias/NAME`, [`Token::create_alias`]) that points at them. A key
//!   has a [`KeySpec`] (AES-256 is a *managed key*: versions, rotation,
//!   envelope encryption, data keys), a [`KeyState`] in its lifecycle, and a
//!   [`KeyPolicy`] saying which principal may do what with it
//!   (`docs/policy.md`). [`Token::describe_key`] tells everything about a key
//!   in a [`KeyMetadata`].
//! - Data is encrypted into self-describing envelope messages bound to an
//!   [`EncryptionContext`] (`docs/envelope-format.md`); the message names its
//!   key and version, so rotation never breaks decryption.
//! - Every use and change of a key passes the module's key gate (usage,
//!   lifecycle, policy with the encryption context) and is recorded in the
//!   token's hash-chained audit log, which [`Token::audit_records`] reads and
//!   [`Token::verify_audit`] checks (`docs/audit.md`).
//! - Errors are [`Error`]s with an [`ErrorKind`] to match on
//!   ([`ErrorKind::NotFound`], [`ErrorKind::Disabled`],
//!   [`ErrorKind::AccessDenied`], [`ErrorKind::InvalidCiphertext`] …), a
//!   message, and the PKCS#11 code when the module refused the call.
//! - Secrets handed in or out ([`Pin`], [`SecretBytes`]) are wiped from
//!   memory when dropped and never shown by `Debug`.
//!
//! # Example
//!
//! ```no_run
//! use softkms::api::{
//!     EncryptionContext, ErrorKind, KeyOptions, KeyRef, KeySpec, Pin, Principal, Softkms,
//! };
//!
//! # fn main() -> Result<(), softkms::api::Error> {
//! // The configuration comes from SOFTKMS_CONF (or the defaults).
//! let kms = Softkms::open()?;
//! let token = kms.token(0)?;
//! token.login(&Principal::User, &Pin::from("my user PIN"))?;
//!
//! // A managed AES-256 key that rotates every 90 days.
//! let key = token.create_key(
//!     KeySpec::Aes256,
//!     &KeyOptions {
//!         label: Some("billing".into()),
//!         rotation_period_days: Some(90),
//!         ..KeyOptions::default()
//!     },
//! )?;
//! let key = KeyRef::from(&key.id);
//!
//! // Envelope encryption, bound to a context.
//! let ctx = EncryptionContext::new().with("app", "billing");
//! let message = token.encrypt(&key, b"the quarterly numbers", &ctx)?;
//!
//! // After a rotation the old message still decrypts.
//! token.rotate_key(&key)?;
//! let back = token.decrypt(&message, &ctx)?;
//! assert_eq!(back.plaintext.as_bytes(), b"the quarterly numbers");
//! assert_eq!(back.key_version, 1);
//!
//! // Another context is refused.
//! let other = EncryptionContext::new().with("app", "other");
//! let err = token.decrypt(&message, &other).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidCiphertext);
//!
//! // A data key: use the plaintext, store the blob.
//! let dk = token.generate_data_key(&key, 32, &ctx)?;
//! let again = token.decrypt(&dk.ciphertext_blob, &ctx)?;
//! assert_eq!(again.plaintext, dk.plaintext);
//!
//! // The audit chain verifies.
//! assert!(token.verify_audit()?.ok());
//! # Ok(())
//! # }
//! ```
//!
//! # What maps to what
//!
//! | AWS KMS | SoftKMS API |
//! | --- | --- |
//! | CreateKey | [`Token::create_key`] |
//! | DescribeKey, ListKeys | [`Token::describe_key`], [`Token::list_keys`] |
//! | EnableKey, DisableKey | [`Token::enable_key`], [`Token::disable_key`] |
//! | ScheduleKeyDeletion, CancelKeyDeletion | [`Token::schedule_key_deletion`], [`Token::cancel_key_deletion`] |
//! | RotateKeyOnDemand, ListKeyRotations | [`Token::rotate_key`], [`Token::list_key_versions`] |
//! | EnableKeyRotation, DisableKeyRotation | [`Token::set_rotation_period`] |
//! | PutKeyPolicy, GetKeyPolicy | [`Token::put_key_policy`], [`Token::get_key_policy`] |
//! | Encrypt, Decrypt | [`Token::encrypt`], [`Token::decrypt`] (and the `_stream` forms) |
//! | GenerateDataKey(WithoutPlaintext) | [`Token::generate_data_key`], [`Token::generate_data_key_without_plaintext`] |
//! | GenerateDataKeyPair(WithoutPlaintext) | [`Token::generate_data_key_pair`] |
//! | ReEncrypt | [`Token::re_encrypt`] (data key blobs), [`Token::re_encrypt_message`] (any message) |
//! | UpdateKeyDescription, TagResource, UntagResource | [`Token::update_key_description`], [`Token::tag_key`], [`Token::untag_key`] |
//! | (minimum decryption version) | [`Token::set_min_decrypt_version`] |
//! | ImportKeyMaterial | [`Token::import_key_material`] |
//! | Sign, Verify, GetPublicKey | [`Token::sign`], [`Token::verify`], [`Token::get_public_key`] |
//! | GenerateMac, VerifyMac | [`Token::generate_mac`], [`Token::verify_mac`] |
//! | GenerateRandom | [`Token::generate_random`] |
//! | CreateAlias, UpdateAlias | [`Token::create_alias`], [`Token::update_alias`] |
//! | DeleteAlias, ListAliases | [`Token::delete_alias`], [`Token::list_aliases`] |
//! | CloudTrail | [`Token::audit_records`], [`Token::verify_audit`], [`Token::audit_head`] |

mod aliases;
mod audit;
mod data_key_pair;
mod envelope;
mod error;
mod keymeta;
mod keys;
mod manage;
mod principals;
mod service;
mod session;
mod sign;
mod types;
mod words;

pub use aliases::AliasInfo;
pub use audit::{
    AuditCategory, AuditProblem, AuditQuery, AuditRecord, AuditVerification, ChainPoint,
};
pub use envelope::{message_key_id, MAX_DATA_KEY_BYTES, MAX_ONE_SHOT_BYTES};
pub use error::{Error, ErrorKind, Result};
pub use keys::{
    DataKey, DataKeyPair, Decrypted, KeyId, KeyMetadata, KeyOptions, KeyOrigin, KeyPolicy, KeyRef,
    KeySpec, KeyState, KeyUsage, KeyVersion, ReEncrypted,
};
pub use manage::IMPORT_KEY_LABEL;
pub use service::{
    is_access_key_id, AccessKeyInfo, NewAccessKey, PinStatus, ACCESS_KEY_APPLICATION,
    ACCESS_KEY_ID_LEN, MAX_ACCESS_KEYS,
};
pub use session::{Softkms, Token, MAX_RANDOM_BYTES};
pub use sign::{MacAlgorithm, MessageType, SigningAlgorithm};
pub use types::{
    EncryptionContext, MechanismInfo, ObjectClass, ObjectSummary, Pin, Principal, PrincipalName,
    SecretBytes, Timestamp, TokenStatus,
};
