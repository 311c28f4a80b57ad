//! SoftKMS: a PKCS#11 3.0 module with the key management of a cloud KMS.
//!
//! The crate is two things:
//!
//! - **`libsoftkms.so`**, a PKCS#11 module for C callers (OpenSSL, `pkcs11-tool`,
//!   Java, Python, Rust through `cryptoki`). Its vendor values are in [`abi`],
//!   the Rust form of `include/softkms.h`.
//! - **A safe Rust API**, [`api`] (its main types are also at the crate root):
//!   open the module, log in to a token, create and rotate managed keys, encrypt
//!   with an encryption context, make data keys, manage principals and policies,
//!   read and verify the audit log. The `softkms` command is built on it.
//!
//! Everything else is internal; `docs/architecture.md` shows its layers. Only the
//! C boundary (`ffi`) and the OS calls (`sys`) step outside the compiler's
//! memory-safety checks (`Cargo.toml` denies it everywhere else).

pub mod abi;
pub mod api;
mod clock;
mod config;
mod crypto;
mod error;
mod ffi;
mod gate;
mod info;
mod kms;
mod log;
mod mechanism;
mod module;
mod object;
mod outbuf;
mod principal;
mod remote;
#[cfg(feature = "serve")]
pub mod serve;
mod session;
mod store;
mod sys;
mod token;

pub use api::{
    EncryptionContext, Error, ErrorKind, KeyId, KeyMetadata, KeyOptions, KeyRef, KeySpec, KeyState,
    Pin, Principal, Softkms, Token,
};

/// Not part of the API: what this repository's own black-box tests and fuzz
/// targets reach below [`api`] (the store's rows, parsers, the module's
/// in-process surface). Nothing here is stable.
#[doc(hidden)]
pub mod internals {
    pub use crate::config::{Config, MechanismSettings, SlotConfig};
    pub use crate::error::{Error, Result};
    pub use crate::ffi::C_GetInterface;
    pub use crate::outbuf::OutBuf;

    /// The in-process PKCS#11 surface.
    pub mod module {
        pub use crate::module::{finalize, get, initialize, InitArgs, Module};
    }
    /// The remote protocol: messages, framing and the server's checks (for
    /// the fuzz target and the black-box tests).
    pub mod remote {
        pub use crate::remote::{
            check, decode, encode, proto, read_frame, read_frame_max, write_frame,
        };
        /// The server side of one connection.
        #[cfg(feature = "serve")]
        pub use crate::serve::pkcs11_serve_stream as serve_stream;
    }
    /// Mechanisms and their parameters.
    pub mod mechanism {
        pub use crate::mechanism::{registry, Mechanism, Param, ParamKind};
    }
    /// Attributes and templates.
    pub mod object {
        pub use crate::object::attr;
    }
    /// The KMS model's parsers and the audit record.
    pub mod kms {
        pub use crate::kms::{envelope, policy, versions};
        /// Audit records.
        pub mod audit {
            pub use crate::kms::audit::{rfc3339_ms, rv_name, to_json};
            pub use crate::store::audit::{now_ms, AuditRecord, Category, Retention};
        }
    }
    /// The token file.
    pub mod store {
        pub use crate::store::{fuzzing, Store, StoredObject};
        /// The audit chain in the file.
        pub mod audit {
            pub use crate::store::audit::{
                render_context, verify_chain, AuditRecord, Category, ChainPoint, Problem,
            };
        }
    }
}
