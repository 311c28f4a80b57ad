//! MACs: HMAC (PKCS#11 3.0 current mechanisms, the `CKM_SHA*_HMAC` and
//! `CKM_SHA*_HMAC_GENERAL` mechanisms of §2.20–2.25), AES-CMAC (§2.19) and
//! generic secret key generation (`CKM_GENERIC_SECRET_KEY_GEN`).
//!
//! - The plain forms take no parameter and output the full hash length; the
//!   `_GENERAL` forms take a `CK_MAC_GENERAL_PARAMS` (a `CK_ULONG`) output
//!   length in `1..=hash length`, anything else is `CKR_MECHANISM_PARAM_INVALID`.
//! - Keys: `CKK_GENERIC_SECRET` or the matching `CKK_SHA*_HMAC`, 1 to
//!   [`MAX_KEY`] bytes (`ulMinKeySize`/`ulMaxKeySize` in bytes).
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
use crate::mechanism::digest::NO_FUNCTIONS;
use crate::mechanism::{Functions, MechanismDef, ParamKind};
use crate::object::attr::Template;
use crate::object::Object;
use cryptoki_sys::*;

/// The largest HMAC / generic secret key, in bytes.
pub const MAX_KEY: usize = 4096;

/// The key's `CKA_VALUE`, checked against `min..=max` bytes (`CKR_KEY_SIZE_RANGE`).
pub(crate) fn key_value(obj: &Object, min: usize, max: usize) -> Result<&[u8]> {
    let v = obj
        .get(CKA_VALUE)
        .ok_or_else(|| Error::General("secret key object without CKA_VALUE".into()))?;
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

const fn def(
    mech: CK_MECHANISM_TYPE,
    name: &'static str,
    key_types: &'static [CK_KEY_TYPE],
    general: bool,
) -> MechanismDef {
    MechanismDef {
        mech,
        name,
        key_types,
        min_key: 1,
        max_key: MAX_KEY as CK_ULONG,
        extra_flags: 0,
        param: if general {
            ParamKind::Ulong
        } else {
            ParamKind::None
        },
        functions: Functions {
            sign: Some(hmac::sign_init),
            verify: Some(hmac::verify_init),
            ..NO_FUNCTIONS
        },
    }
}

/// A CMAC row: AES keys of 16 to 32 bytes.
const fn cmac_def(
    mech: CK_MECHANISM_TYPE,
    name: &'static str,
    param: ParamKind,
    functions: Functions,
) -> MechanismDef {
    MechanismDef {
        mech,
        name,
        key_types: &[CKK_AES],
        min_key: 16,
        max_key: 32,
        extra_flags: 0,
        param,
        functions,
    }
}

const SHA1_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA_1_HMAC];
const SHA224_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA224_HMAC];
const SHA256_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA256_HMAC];
const SHA384_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA384_HMAC];
const SHA512_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA512_HMAC];

/// The mechanisms of this family.
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    def(CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC", SHA1_KEYS, false),
    def(
        CKM_SHA_1_HMAC_GENERAL,
        "CKM_SHA_1_HMAC_GENERAL",
        SHA1_KEYS,
        true,
    ),
    def(CKM_SHA224_HMAC, "CKM_SHA224_HMAC", SHA224_KEYS, false),
    def(
        CKM_SHA224_HMAC_GENERAL,
        "CKM_SHA224_HMAC_GENERAL",
        SHA224_KEYS,
        true,
    ),
    def(CKM_SHA256_HMAC, "CKM_SHA256_HMAC", SHA256_KEYS, false),
    def(
        CKM_SHA256_HMAC_GENERAL,
        "CKM_SHA256_HMAC_GENERAL",
        SHA256_KEYS,
        true,
    ),
    def(CKM_SHA384_HMAC, "CKM_SHA384_HMAC", SHA384_KEYS, false),
    def(
        CKM_SHA384_HMAC_GENERAL,
        "CKM_SHA384_HMAC_GENERAL",
        SHA384_KEYS,
        true,
    ),
    def(CKM_SHA512_HMAC, "CKM_SHA512_HMAC", SHA512_KEYS, false),
    def(
        CKM_SHA512_HMAC_GENERAL,
        "CKM_SHA512_HMAC_GENERAL",
        SHA512_KEYS,
        true,
    ),
    MechanismDef {
        mech: CKM_GENERIC_SECRET_KEY_GEN,
        name: "CKM_GENERIC_SECRET_KEY_GEN",
        key_types: &[],
        // In bits, as the standard says for this mechanism.
        min_key: 8,
        max_key: (MAX_KEY * 8) as CK_ULONG,
        extra_flags: 0,
        param: ParamKind::None,
        functions: Functions {
            generate_key: Some(hmac::generic_secret_key_gen),
            ..NO_FUNCTIONS
        },
    },
    cmac_def(
        CKM_AES_CMAC,
        "CKM_AES_CMAC",
        ParamKind::None,
        Functions {
            sign: Some(cmac::cmac_sign),
            verify: Some(cmac::cmac_verify),
            ..NO_FUNCTIONS
        },
    ),
    cmac_def(
        CKM_AES_CMAC_GENERAL,
        "CKM_AES_CMAC_GENERAL",
        ParamKind::Ulong,
        Functions {
            sign: Some(cmac::cmac_sign),
            verify: Some(cmac::cmac_verify),
            ..NO_FUNCTIONS
        },
    ),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests;
