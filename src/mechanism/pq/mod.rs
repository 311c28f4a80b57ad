//! Post-quantum mechanisms of PKCS#11 3.2: ML-DSA (§6.67: key pair
//! generation, `CKM_ML_DSA`, `CKM_HASH_ML_DSA` and the `CKM_HASH_ML_DSA_*`
//! hash-and-sign variants) and ML-KEM (§6.68: key pair generation and
//! `CKM_ML_KEM` with `C_EncapsulateKey`/`C_DecapsulateKey`).
//!
//! `ulMinKeySize`/`ulMaxKeySize` of these rows are the parameter sets
//! (`CKP_ML_DSA_44`..`CKP_ML_DSA_87`, `CKP_ML_KEM_512`..`CKP_ML_KEM_1024`, 1 to
//! 3), as Kryoptic reports them: the keys have no single size in bits.

pub(crate) mod keys;
mod ml_dsa;
mod ml_kem;

use crate::mechanism::digest::NO_FUNCTIONS;
use crate::mechanism::{Functions, MechanismDef, ParamKind};
use cryptoki_sys::*;

const ML_DSA: &[CK_KEY_TYPE] = &[CKK_ML_DSA];
const ML_KEM: &[CK_KEY_TYPE] = &[CKK_ML_KEM];
const DSA_MIN: CK_ULONG = CKP_ML_DSA_44;
const DSA_MAX: CK_ULONG = CKP_ML_DSA_87;
const KEM_MIN: CK_ULONG = CKP_ML_KEM_512;
const KEM_MAX: CK_ULONG = CKP_ML_KEM_1024;

const DSA_KEY_PAIR_GEN: Functions = Functions {
    generate_key_pair: Some(ml_dsa::generate_key_pair),
    ..NO_FUNCTIONS
};

const DSA_SIGN_VERIFY: Functions = Functions {
    sign: Some(ml_dsa::sign_init),
    verify: Some(ml_dsa::verify_init),
    ..NO_FUNCTIONS
};

const KEM_KEY_PAIR_GEN: Functions = Functions {
    generate_key_pair: Some(ml_kem::generate_key_pair),
    ..NO_FUNCTIONS
};

const KEM: Functions = Functions {
    encapsulate: Some(ml_kem::encapsulate),
    decapsulate: Some(ml_kem::decapsulate),
    ..NO_FUNCTIONS
};

/// The mechanisms of this family.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_ML_KEM_KEY_PAIR_GEN, "CKM_ML_KEM_KEY_PAIR_GEN", ParamKind::None, KEM_KEY_PAIR_GEN).sizes(KEM_MIN, KEM_MAX),
    MechanismDef::new(CKM_ML_KEM, "CKM_ML_KEM", ParamKind::None, KEM).keys(ML_KEM, KEM_MIN, KEM_MAX),
    MechanismDef::new(CKM_ML_DSA_KEY_PAIR_GEN, "CKM_ML_DSA_KEY_PAIR_GEN", ParamKind::None, DSA_KEY_PAIR_GEN).sizes(DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_ML_DSA, "CKM_ML_DSA", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA, "CKM_HASH_ML_DSA", ParamKind::HashSignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA224, "CKM_HASH_ML_DSA_SHA224", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA256, "CKM_HASH_ML_DSA_SHA256", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA384, "CKM_HASH_ML_DSA_SHA384", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA512, "CKM_HASH_ML_DSA_SHA512", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA3_224, "CKM_HASH_ML_DSA_SHA3_224", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA3_256, "CKM_HASH_ML_DSA_SHA3_256", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA3_384, "CKM_HASH_ML_DSA_SHA3_384", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHA3_512, "CKM_HASH_ML_DSA_SHA3_512", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHAKE128, "CKM_HASH_ML_DSA_SHAKE128", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
    MechanismDef::new(CKM_HASH_ML_DSA_SHAKE256, "CKM_HASH_ML_DSA_SHAKE256", ParamKind::SignContext, DSA_SIGN_VERIFY).keys(ML_DSA, DSA_MIN, DSA_MAX),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
