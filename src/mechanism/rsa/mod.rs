//! RSA mechanisms (PKCS#11 3.0 Current Mechanisms §2.1): key pair generation,
//! PKCS#1 v1.5, PSS, OAEP, the hash-and-sign forms and `CKM_RSA_AES_KEY_WRAP`.
//!
//! Lengths (k = modulus bytes):
//! - `CKM_RSA_PKCS`: encrypt/sign input ≤ k-11 (`CKR_DATA_LEN_RANGE`), output k;
//!   decrypt input = k (`CKR_ENCRYPTED_DATA_LEN_RANGE`); verify signature = k
//!   (`CKR_SIGNATURE_LEN_RANGE`). Sign takes the caller's DigestInfo as is.
//! - `CKM_RSA_PKCS_PSS`: input is the hash, exactly hLen bytes.
//! - `CKM_RSA_PKCS_OAEP`: input ≤ k-2-2hLen.
//! - A modulus too small for the hash of OAEP/PSS is `CKR_KEY_SIZE_RANGE` at init.
//!
//! The single-part-only mechanisms (`CKM_RSA_PKCS`, `CKM_RSA_PKCS_PSS`, OAEP)
//! answer `C_*Update`/`C_*Final` with `CKR_FUNCTION_NOT_SUPPORTED`.
//! The PSS MGF must be MGF1 with the PSS hash (`CKR_MECHANISM_PARAM_INVALID`
//! otherwise); OAEP takes any MGF1 hash.
//!
//! One file per kind of operation, since each serves several schemes:
//! `sign` (PKCS#1 v1.5, raw and hash-and-sign, and PSS), `cipher` (PKCS#1 v1.5
//! and OAEP encryption, decryption, wrapping and unwrapping), `aes_wrap`
//! (`CKM_RSA_AES_KEY_WRAP`), `keygen` (`CKM_RSA_PKCS_KEY_PAIR_GEN`). This file
//! holds the registry rows and what they share.

mod aes_wrap;
mod cipher;
mod keygen;
mod sign;

use crate::crypto::rsa::{RsaPrivateKey, RsaPublicKey};
use crate::error::{Error, Result};
use crate::mechanism::digest::NO_FUNCTIONS;
use crate::mechanism::keys::{rsa_private, rsa_public};
use crate::mechanism::{Functions, MechanismDef, ParamKind};
use crate::object::Object;
use cryptoki_sys::*;
use std::sync::Arc;

const RSA: &[CK_KEY_TYPE] = &[CKK_RSA];
/// Smallest modulus for use, in bits.
const MIN_USE: CK_ULONG = 1024;
/// Smallest modulus `CKM_RSA_PKCS_KEY_PAIR_GEN` makes by default; the
/// configuration's `min_rsa_bits` (at least [`MIN_USE`]) replaces it.
const MIN_GEN: CK_ULONG = 2048;
/// Largest modulus.
const MAX_BITS: CK_ULONG = 8192;

const SIGN_VERIFY: Functions = Functions {
    sign: Some(sign::sign_init),
    verify: Some(sign::verify_init),
    ..NO_FUNCTIONS
};

const CIPHER_WRAP: Functions = Functions {
    encrypt: Some(cipher::encrypt_init),
    decrypt: Some(cipher::decrypt_init),
    wrap: Some(cipher::wrap),
    unwrap: Some(cipher::unwrap),
    ..NO_FUNCTIONS
};

const CIPHER_WRAP_SIGN_VERIFY: Functions = Functions {
    sign: Some(sign::sign_init),
    verify: Some(sign::verify_init),
    ..CIPHER_WRAP
};

const AES_WRAP: Functions = Functions {
    wrap: Some(aes_wrap::aes_wrap),
    unwrap: Some(aes_wrap::aes_unwrap),
    ..NO_FUNCTIONS
};

const KEY_PAIR_GEN: Functions = Functions {
    generate_key_pair: Some(keygen::generate_key_pair),
    ..NO_FUNCTIONS
};

/// The mechanisms of this family.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN", ParamKind::None, KEY_PAIR_GEN)
        .sizes(MIN_GEN, MAX_BITS)
        .configured_min(keygen::min_bits)
        .requested_size(keygen::requested_bits),
    MechanismDef::new(CKM_RSA_PKCS, "CKM_RSA_PKCS", ParamKind::None, CIPHER_WRAP_SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", ParamKind::Pss, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP", ParamKind::Oaep, CIPHER_WRAP).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA1_RSA_PKCS, "CKM_SHA1_RSA_PKCS", ParamKind::None, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA224_RSA_PKCS, "CKM_SHA224_RSA_PKCS", ParamKind::None, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS", ParamKind::None, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS", ParamKind::None, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS", ParamKind::None, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA1_RSA_PKCS_PSS, "CKM_SHA1_RSA_PKCS_PSS", ParamKind::Pss, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA224_RSA_PKCS_PSS, "CKM_SHA224_RSA_PKCS_PSS", ParamKind::Pss, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS", ParamKind::Pss, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA384_RSA_PKCS_PSS, "CKM_SHA384_RSA_PKCS_PSS", ParamKind::Pss, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_SHA512_RSA_PKCS_PSS, "CKM_SHA512_RSA_PKCS_PSS", ParamKind::Pss, SIGN_VERIFY).keys(RSA, MIN_USE, MAX_BITS),
    MechanismDef::new(CKM_RSA_AES_KEY_WRAP, "CKM_RSA_AES_KEY_WRAP", ParamKind::RsaAesKeyWrap, AES_WRAP).keys(RSA, MIN_USE, MAX_BITS),
];

/// The answer of the single-part-only mechanisms to `C_*Update`/`C_*Final`.
fn single_part_only() -> Error {
    Error::FunctionNotSupported
}

/// The public key of a wrapping key, with the errors `C_WrapKey` names.
fn wrapping_key(key: &Object) -> Result<Arc<RsaPublicKey>> {
    rsa_public(key).map_err(|e| match e {
        Error::KeyTypeInconsistent => Error::WrappingKeyTypeInconsistent,
        Error::KeySizeRange => Error::WrappingKeySizeRange,
        other => other,
    })
}

/// The private key of an unwrapping key, with the errors `C_UnwrapKey` names.
fn unwrapping_key(key: &Object) -> Result<Arc<RsaPrivateKey>> {
    rsa_private(key).map_err(|e| match e {
        Error::KeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
        Error::KeySizeRange => Error::UnwrappingKeySizeRange,
        other => other,
    })
}

/// A decryption error as `C_UnwrapKey` reports it.
fn unwrap_err(e: Error) -> Error {
    match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
