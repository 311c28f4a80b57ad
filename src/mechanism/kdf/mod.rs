//! Key derivation: HKDF (PKCS#11 3.0 current mechanisms §2.43, `hkdf`), the
//! SP 800-108 KDFs (§2.42, `sp800_108`), and the simple derivations of
//! §2.43.x / §2.16.x: concatenation, XOR, extraction and AES encryption of data
//! (`simple`).
//!
//! Every derive function gets the base key and the keys its parameter names as
//! the key gate granted them; the module makes the key objects (all or none)
//! and applies each row's [`DerivedAttrs`] rule.

mod hkdf;
mod simple;
pub(crate) mod sp800_108;

use crate::mechanism::digest::NO_FUNCTIONS;
use crate::mechanism::{DerivedAttrs, Functions, MechanismDef, ParamKind};
use cryptoki_sys::*;

const HKDF_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_HKDF];

/// The secret key types the simple derivations and the SP 800-108 KDFs take
/// as base keys (the PRF checks its own key type further): every stored one.
const SECRET_KEYS: &[CK_KEY_TYPE] = crate::object::table::SECRET_TYPES;

const fn derive(f: crate::mechanism::DeriveFn) -> Functions {
    Functions {
        derive: Some(f),
        ..NO_FUNCTIONS
    }
}

const HKDF_DERIVE: Functions = derive(hkdf::derive);
const KBKDF: Functions = derive(sp800_108::derive);
const CONCAT_KEY: Functions = derive(simple::concatenate_base_and_key);
const CONCAT_BASE_DATA: Functions = derive(simple::concatenate_base_and_data);
const CONCAT_DATA_BASE: Functions = derive(simple::concatenate_data_and_base);
const XOR: Functions = derive(simple::xor_base_and_data);
const EXTRACT: Functions = derive(simple::extract_key_from_key);
const AES_ECB_DATA: Functions = derive(simple::aes_ecb_encrypt_data);
const AES_CBC_DATA: Functions = derive(simple::aes_cbc_encrypt_data);

const KEY_GEN: Functions = Functions {
    generate_key: Some(hkdf::hkdf_key_gen),
    ..NO_FUNCTIONS
};

/// [`hkdf::MAX_LEN`] as a `CK_ULONG`, for the rows.
const MAX_KEY_LEN: CK_ULONG = hkdf::MAX_LEN as CK_ULONG;

/// The longest base key of the simple derivations and the SP 800-108 KDFs
/// (bytes), as the HMAC mechanisms.
const MAX_SECRET: CK_ULONG = crate::mechanism::mac::MAX_KEY as CK_ULONG;

use DerivedAttrs::{Contained, FromBase};

/// The mechanisms of this family.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_HKDF_DERIVE, "CKM_HKDF_DERIVE", ParamKind::Hkdf, HKDF_DERIVE).keys(HKDF_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_HKDF_DATA, "CKM_HKDF_DATA", ParamKind::Hkdf, HKDF_DERIVE).keys(HKDF_KEYS, 1, MAX_KEY_LEN),
    MechanismDef::new(CKM_HKDF_KEY_GEN, "CKM_HKDF_KEY_GEN", ParamKind::None, KEY_GEN).sizes(1, MAX_KEY_LEN),
    // SP 800-108: ulMinKeySize/ulMaxKeySize in bits (§2.42).
    MechanismDef::new(CKM_SP800_108_COUNTER_KDF, "CKM_SP800_108_COUNTER_KDF", ParamKind::Sp800108, KBKDF).keys(SECRET_KEYS, 8, MAX_SECRET * 8).derived_attrs(FromBase),
    MechanismDef::new(CKM_SP800_108_FEEDBACK_KDF, "CKM_SP800_108_FEEDBACK_KDF", ParamKind::Sp800108Feedback, KBKDF).keys(SECRET_KEYS, 8, MAX_SECRET * 8).derived_attrs(FromBase),
    MechanismDef::new(CKM_SP800_108_DOUBLE_PIPELINE_KDF, "CKM_SP800_108_DOUBLE_PIPELINE_KDF", ParamKind::Sp800108, KBKDF).keys(SECRET_KEYS, 8, MAX_SECRET * 8).derived_attrs(FromBase),
    // The simple derivations: key sizes in bytes.
    MechanismDef::new(CKM_CONCATENATE_BASE_AND_KEY, "CKM_CONCATENATE_BASE_AND_KEY", ParamKind::ObjectHandle, CONCAT_KEY).keys(SECRET_KEYS, 1, MAX_SECRET).derived_attrs(Contained),
    MechanismDef::new(CKM_CONCATENATE_BASE_AND_DATA, "CKM_CONCATENATE_BASE_AND_DATA", ParamKind::StringData, CONCAT_BASE_DATA).keys(SECRET_KEYS, 1, MAX_SECRET).derived_attrs(Contained),
    MechanismDef::new(CKM_CONCATENATE_DATA_AND_BASE, "CKM_CONCATENATE_DATA_AND_BASE", ParamKind::StringData, CONCAT_DATA_BASE).keys(SECRET_KEYS, 1, MAX_SECRET).derived_attrs(Contained),
    MechanismDef::new(CKM_XOR_BASE_AND_DATA, "CKM_XOR_BASE_AND_DATA", ParamKind::StringData, XOR).keys(SECRET_KEYS, 1, MAX_SECRET).derived_attrs(Contained),
    MechanismDef::new(CKM_EXTRACT_KEY_FROM_KEY, "CKM_EXTRACT_KEY_FROM_KEY", ParamKind::Ulong, EXTRACT).keys(SECRET_KEYS, 1, MAX_SECRET).derived_attrs(Contained),
    MechanismDef::new(CKM_AES_ECB_ENCRYPT_DATA, "CKM_AES_ECB_ENCRYPT_DATA", ParamKind::StringData, AES_ECB_DATA).keys(&[CKK_AES], 16, 32).derived_attrs(Contained).caller_iv(),
    MechanismDef::new(CKM_AES_CBC_ENCRYPT_DATA, "CKM_AES_CBC_ENCRYPT_DATA", ParamKind::AesCbcEncryptData, AES_CBC_DATA).keys(&[CKK_AES], 16, 32).derived_attrs(Contained).caller_iv(),
];

/// The length a derived key takes: `CKA_VALUE_LEN` when the template gives
/// it (`want`), else `natural`; more than `available` bytes is
/// `CKR_ATTRIBUTE_VALUE_INVALID` on `CKA_VALUE_LEN` ("If the requested type of
/// key requires more bytes than are available … an error is generated").
fn out_len(want: Option<usize>, natural: usize, available: usize) -> crate::error::Result<usize> {
    let n = want.unwrap_or(natural);
    if n == 0 || n > available {
        return Err(crate::error::Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    // No secret key is longer than the registry's rows say (4,096 bytes).
    if n > crate::mechanism::mac::MAX_KEY {
        return Err(crate::error::Error::KeySizeRange);
    }
    Ok(n)
}
