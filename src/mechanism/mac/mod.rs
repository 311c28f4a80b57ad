//! MACs: HMAC (PKCS#11 3.0 current mechanisms, the `CKM_SHA*_HMAC` and
//! `CKM_SHA*_HMAC_GENERAL` mechanisms of §2.20–2.25), AES-CMAC (§2.19) and
//! generic secret key generation (`CKM_GENERIC_SECRET_KEY_GEN`).
//!
//! - The plain forms take no parameter and output the full hash length; the
//!   `_GENERAL` forms take a `CK_MAC_GENERAL_PARAMS` (a `CK_ULONG`) output
//!   length in `1..=hash length`, anything else is `CKR_MECHANISM_PARAM_INVALID`.
//! - Hashes: SHA-1, SHA-224/256/384/512, SHA-512/224, SHA-512/256 and
//!   SHA3-224/256/384/512.
//! - Keys: `CKK_GENERIC_SECRET` or the matching `CKK_SHA*_HMAC`, 1 to
//!   [`MAX_KEY`] bytes (`ulMinKeySize`/`ulMaxKeySize` in bytes).
//! - `CKM_SHA_1_KEY_GEN`, `CKM_SHA224_KEY_GEN` … `CKM_SHA3_512_KEY_GEN` make
//!   keys of the matching `CKK_SHA*_HMAC` type, `CKA_VALUE_LEN` bytes (needed,
//!   1 to [`MAX_KEY`]; mechanism info in bytes).
//! - Verification compares in constant time; a signature of the wrong length is
//!   `CKR_SIGNATURE_LEN_RANGE`, a mismatch `CKR_SIGNATURE_INVALID`.
//! - `CKM_GENERIC_SECRET_KEY_GEN` needs `CKA_VALUE_LEN` (bytes) in the template;
//!   its mechanism info is in bits, as the standard says for this mechanism. A
//!   length outside `1..=MAX_KEY` is `CKR_ATTRIBUTE_VALUE_INVALID` on
//!   `CKA_VALUE_LEN` (the value of the template attribute is what is wrong).
//! - `CKM_AES_CMAC` takes no parameter and outputs 16 bytes;
//!   `CKM_AES_CMAC_GENERAL` takes a `CK_MAC_GENERAL_PARAMS` length in `1..=16`.
//!   Keys: `CKK_AES`, 16, 24 or 32 bytes.
//!
//! One file per MAC (`hmac`, `cmac`); this one holds the helpers the secret-key
//! families share and the registry rows.

mod cmac;
mod hmac;

use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::digest::NO_FUNCTIONS;
use crate::mechanism::{Functions, MechanismDef, ParamKind};
use crate::object::attr::Template;
use cryptoki_sys::*;

/// The largest HMAC / generic secret key, in bytes.
pub(crate) const MAX_KEY: usize = 4096;

/// The key's `CKA_VALUE`, checked against `min..=max` bytes (`CKR_KEY_SIZE_RANGE`).
pub(crate) fn key_value(key: &Granted, min: usize, max: usize) -> Result<&[u8]> {
    let v = key.secret()?;
    if v.len() < min || v.len() > max {
        return Err(Error::KeySizeRange);
    }
    Ok(v)
}

/// `CKA_VALUE_LEN` from a key generation template, in bytes.
pub(crate) fn template_value_len(t: &Template) -> Result<usize> {
    let a = t
        .iter()
        .find(|a| a.ty == CKA_VALUE_LEN)
        .ok_or(Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN,
        })?;
    let v = a.as_ulong()?;
    usize::try_from(v).map_err(|_| Error::AttributeValueInvalid(CKA_VALUE_LEN))
}

/// [`MAX_KEY`] as a `CK_ULONG`, for the rows.
const MAX_KEY_LEN: CK_ULONG = MAX_KEY as CK_ULONG;

const SHA1_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA_1_HMAC];
const SHA224_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA224_HMAC];
const SHA256_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA256_HMAC];
const SHA384_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA384_HMAC];
const SHA512_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA512_HMAC];
const SHA512_224_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA512_224_HMAC];
const SHA512_256_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA512_256_HMAC];
const SHA3_224_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA3_224_HMAC];
const SHA3_256_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA3_256_HMAC];
const SHA3_384_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA3_384_HMAC];
const SHA3_512_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA3_512_HMAC];

const HMAC: Functions = Functions {
    sign: Some(hmac::sign_init),
    verify: Some(hmac::verify_init),
    ..NO_FUNCTIONS
};

const HMAC_KEY_GEN: Functions = Functions {
    generate_key: Some(hmac::hmac_key_gen),
    ..NO_FUNCTIONS
};

const CMAC: Functions = Functions {
    sign: Some(cmac::cmac_sign),
    verify: Some(cmac::cmac_verify),
    ..NO_FUNCTIONS
};

const GENERIC_KEY_GEN: Functions = Functions {
    generate_key: Some(hmac::generic_secret_key_gen),
    ..NO_FUNCTIONS
};

/// The mechanisms of this family.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC", ParamKind::None, HMAC).keys(SHA1_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA_1_HMAC_GENERAL, "CKM_SHA_1_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA1_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA224_HMAC, "CKM_SHA224_HMAC", ParamKind::None, HMAC).keys(SHA224_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA224_HMAC_GENERAL, "CKM_SHA224_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA224_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA256_HMAC, "CKM_SHA256_HMAC", ParamKind::None, HMAC).keys(SHA256_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA256_HMAC_GENERAL, "CKM_SHA256_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA256_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA384_HMAC, "CKM_SHA384_HMAC", ParamKind::None, HMAC).keys(SHA384_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA384_HMAC_GENERAL, "CKM_SHA384_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA384_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_HMAC, "CKM_SHA512_HMAC", ParamKind::None, HMAC).keys(SHA512_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_HMAC_GENERAL, "CKM_SHA512_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA512_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_224_HMAC, "CKM_SHA512_224_HMAC", ParamKind::None, HMAC).keys(SHA512_224_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_224_HMAC_GENERAL, "CKM_SHA512_224_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA512_224_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_256_HMAC, "CKM_SHA512_256_HMAC", ParamKind::None, HMAC).keys(SHA512_256_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_256_HMAC_GENERAL, "CKM_SHA512_256_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA512_256_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_224_HMAC, "CKM_SHA3_224_HMAC", ParamKind::None, HMAC).keys(SHA3_224_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_224_HMAC_GENERAL, "CKM_SHA3_224_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA3_224_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_256_HMAC, "CKM_SHA3_256_HMAC", ParamKind::None, HMAC).keys(SHA3_256_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_256_HMAC_GENERAL, "CKM_SHA3_256_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA3_256_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_384_HMAC, "CKM_SHA3_384_HMAC", ParamKind::None, HMAC).keys(SHA3_384_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_384_HMAC_GENERAL, "CKM_SHA3_384_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA3_384_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_512_HMAC, "CKM_SHA3_512_HMAC", ParamKind::None, HMAC).keys(SHA3_512_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_512_HMAC_GENERAL, "CKM_SHA3_512_HMAC_GENERAL", ParamKind::Ulong, HMAC).keys(SHA3_512_KEYS, 1, MAX_KEY_LEN),
    // HMAC key generation: sizes in bytes.
    MechanismDef::new(CKM_SHA_1_KEY_GEN, "CKM_SHA_1_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA224_KEY_GEN, "CKM_SHA224_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA256_KEY_GEN, "CKM_SHA256_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA384_KEY_GEN, "CKM_SHA384_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_KEY_GEN, "CKM_SHA512_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_224_KEY_GEN, "CKM_SHA512_224_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA512_256_KEY_GEN, "CKM_SHA512_256_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_224_KEY_GEN, "CKM_SHA3_224_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_256_KEY_GEN, "CKM_SHA3_256_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_384_KEY_GEN, "CKM_SHA3_384_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    MechanismDef::new(CKM_SHA3_512_KEY_GEN, "CKM_SHA3_512_KEY_GEN", ParamKind::None, HMAC_KEY_GEN).sizes(1, MAX_KEY_LEN),
    // In bits, as the standard says for this mechanism.
    MechanismDef::new(CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN", ParamKind::None, GENERIC_KEY_GEN).sizes(8, MAX_KEY_LEN * 8),
    MechanismDef::new(CKM_AES_CMAC, "CKM_AES_CMAC", ParamKind::None, CMAC).keys(&[CKK_AES], 16, 32),
    MechanismDef::new(CKM_AES_CMAC_GENERAL, "CKM_AES_CMAC_GENERAL", ParamKind::Ulong, CMAC).keys(&[CKK_AES], 16, 32),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests;
