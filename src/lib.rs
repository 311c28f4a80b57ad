//! SoftKMS: a PKCS#11 3.0 module with the key management of a cloud KMS.
//!
//! Layers (data flows one way): C caller → [`ffi`] → [`module`] → ([`session`],
//! [`object`], [`mechanism`], [`kms`]) → [`store`] → [`crypto`]. Nothing below
//! `ffi` sees a raw pointer. Beside `ffi` sits `sys`, a leaf that any layer may
//! call: the operating system's calls (memory locking, the coarse clock, the
//! process id, the exit handler). Only `ffi` and `sys` may step outside the
//! compiler's memory-safety checks (`Cargo.toml` denies it everywhere else).

pub mod abi;
pub mod api;
pub mod clock;
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
pub mod principal;
pub mod session;
pub mod store;
mod sys;
pub mod token;

pub use api::{
    EncryptionContext, Error, ErrorKind, KeyId, KeyMetadata, KeyOptions, KeyRef, KeySpec, KeyState,
    Pin, Principal, Softkms, Token,
};
