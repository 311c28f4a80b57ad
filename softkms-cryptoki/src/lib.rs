//! SoftKMS's vendor extensions for Rust programs that use the
//! [`cryptoki`] crate (0.12) with `libsoftkms.so`.
//!
//! `cryptoki` passes vendor mechanisms and attributes as raw values; this crate
//! gives them types and does the calls KMS users make, over a
//! [`cryptoki::session::Session`]:
//!
//! - envelope encryption ([`envelope_encrypt`], [`envelope_decrypt`]: the
//!   message names its key, so decryption finds it by `CKA_UNIQUE_ID`; and for
//!   any length in bounded memory [`envelope_encrypt_stream`],
//!   [`envelope_decrypt_stream`]);
//! - data keys ([`generate_data_key`], [`generate_data_key_without_plaintext`],
//!   [`decrypt_data_key`], [`unwrap_data_key`], [`re_encrypt_data_key`]);
//! - a key's lifecycle ([`rotate`], [`enable`], [`disable`],
//!   [`schedule_deletion`], [`cancel_deletion`], [`set_rotation_period`],
//!   [`set_min_decrypt_version`], [`set_policy`], [`KeyInfo::read`]);
//! - named principals ([`create_principal`], [`principals`]);
//! - the pieces underneath: the constants of `include/softkms.h` ([`abi`]),
//!   the parameter structs with their C layout ([`EnvelopeParams`],
//!   [`GenerateDataKeyParams`]), attribute builders ([`attrs`]) and the
//!   [`EncryptionContext`] with the exact bytes the module binds.
//!
//! No vendor attribute is needed to make a key: a managed key is an AES-256
//! token key, sensitive and not extractable (`docs/vendor-abi.md`), made with
//! a plain `cryptoki` template. The pages behind each call are
//! `docs/vendor-abi.md`, `docs/envelope-format.md`, `docs/kms.md` and
//! `docs/policy.md`; `docs/examples/rust-cryptoki.md` walks through a program.
//!
//! ```
//! # let token = p11_testkit::throwaway::Token::new(); // a token in a temp dir
//! # let (pkcs11, slot) = (token.pkcs11.clone(), token.slot);
//! use cryptoki::mechanism::Mechanism;
//! use cryptoki::object::Attribute;
//! use cryptoki::session::UserType;
//! use cryptoki::types::AuthPin;
//! use softkms_cryptoki::{decrypt_data_key, envelope_decrypt, envelope_encrypt};
//! use softkms_cryptoki::{generate_data_key, rotate, EncryptionContext};
//!
//! // `pkcs11` is a cryptoki::context::Pkcs11 on libsoftkms.so, initialized.
//! let session = pkcs11.open_rw_session(slot)?;
//! session.login(UserType::User, Some(&AuthPin::new("user-pin-5678".into())))?;
//!
//! // A managed key: a plain template, nothing vendor-specific.
//! let key = session.generate_key(
//!     &Mechanism::AesKeyGen,
//!     &[
//!         Attribute::Token(true),
//!         Attribute::Label(b"payments".to_vec()),
//!         Attribute::ValueLen(32.into()),
//!         Attribute::Sensitive(true),
//!         Attribute::Extractable(false),
//!         Attribute::Encrypt(true),
//!         Attribute::Decrypt(true),
//!         Attribute::Derive(true), // for data keys
//!     ],
//! )?;
//!
//! let context = EncryptionContext::new().with("tenant", "7");
//! let message = envelope_encrypt(&session, key, b"hello", &context)?;
//! let (data_key, blob) = generate_data_key(&session, key, 32, &context)?;
//!
//! rotate(&session, key)?; // old messages still open
//! assert_eq!(&envelope_decrypt(&session, &message, &context)?[..], b"hello");
//! assert_eq!(decrypt_data_key(&session, &blob, &context)?, data_key);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors are [`Error`]; [`Error::rv`] gives the module's `CKR_*`, and
//! `SOFTKMS_LOG=info` makes the module log why it refused a call.

pub mod abi;
pub mod attrs;
mod context;
mod datakey;
mod envelope;
mod error;
mod lifecycle;
mod params;
mod principal;
mod stream;

pub use attrs::KeyState;
pub use context::EncryptionContext;
pub use datakey::{
    decrypt_data_key, generate_data_key, generate_data_key_without_plaintext, re_encrypt_data_key,
    unwrap_data_key, MAX_DATA_KEY_BYTES,
};
pub use envelope::{
    envelope_decrypt, envelope_encrypt, find_key_by_id, find_key_by_label, message_key,
    MessageHeader,
};
pub use error::{Error, Result};
pub use lifecycle::{
    cancel_deletion, disable, enable, rotate, schedule_deletion, set_min_decrypt_version,
    set_policy, set_rotation_period, KeyInfo,
};
pub use params::{EnvelopeParams, GenerateDataKeyParams};
pub use principal::{create_principal, principal_template, principals, set_principal_pin};
pub use stream::{envelope_decrypt_stream, envelope_encrypt_stream};
