//! SoftKMS: a PKCS#11 3.0 module with the key management of a cloud KMS.
//!
//! Layers (data flows one way): C caller → [`ffi`] → [`module`] → ([`session`],
//! [`object`], [`mechanism`], [`kms`]) → [`store`] → [`crypto`]. Nothing below
//! `ffi` sees a raw pointer, and only `ffi` may step outside
//! the compiler's memory-safety checks (`Cargo.toml` denies it everywhere else).

pub mod api;
pub mod config;
pub mod crypto;
pub mod error;
pub mod ffi;
pub mod gate;
pub mod kms;
pub mod log;
pub mod mechanism;
pub mod module;
pub mod object;
pub mod outbuf;
pub mod session;
pub mod store;
pub mod token;

pub use api::{
    EncryptionContext, Error, ErrorKind, KeyId, KeyMetadata, KeyOptions, KeyRef, KeySpec, KeyState,
    Pin, Principal, Softkms, Token,
};
