//! Elliptic-curve mechanisms (PKCS#11 3.0 Current Mechanisms §2.3): key pair
//! generation, ECDSA (raw and hash-and-sign) and ECDH1 derivation on P-256,
//! P-384, P-521 and secp256k1; EdDSA on Ed25519 ([`edwards`]); X25519 key pairs
//! ([`montgomery`]) and ECDH1 derivation with them.
//!
//! - `CKM_EC_KEY_PAIR_GEN` reads the curve from `CKA_EC_PARAMS`: the DER OID,
//!   or the PrintableString/UTF8String name PKCS#11 3.0 allows (`prime256v1`,
//!   `P-256`, `secp384r1`, `P-384`, `secp521r1`, `P-521`, `secp256k1`).
//! - `CKM_ECDSA` takes the hash (any length; ECDSA keeps its leftmost bits as
//!   the order's size, a shorter one is the same integer); single-part only
//!   (`CKR_FUNCTION_NOT_SUPPORTED` for `Update`/`Final`). The `CKM_ECDSA_SHA*`
//!   variants work on every curve, single- and multi-part.
//! - Signatures are `r || s`, twice the field size (64, 96, 132 bytes); another
//!   length on verify is `CKR_SIGNATURE_LEN_RANGE`.
//! - `CKM_ECDH1_DERIVE` on `CKK_EC` (not secp256k1: as in AWS KMS those keys
//!   only sign, and derivation with one is `CKR_KEY_TYPE_INCONSISTENT`, the key
//!   not being of a type the mechanism can use) and on `CKK_EC_MONTGOMERY`
//!   (X25519). KDFs: `CKD_NULL` (shared data must be empty), the ANSI X9.63 KDF
//!   (`CKD_SHA*_KDF`) and the SP 800-56C one-step KDF (`CKD_SHA*_KDF_SP800`),
//!   with SHA-1 and SHA-2; the other party's point raw or in a DER OCTET STRING;
//!   a point not on the curve is `CKR_MECHANISM_PARAM_INVALID`. With `CKD_NULL`
//!   the result is the x-coordinate (the X25519 output), truncated to the
//!   requested length; a longer request is `CKR_KEY_SIZE_RANGE`; a KDF needs a
//!   length (`CKR_TEMPLATE_INCOMPLETE` for `CKA_VALUE_LEN` otherwise).

pub(crate) mod edwards;
pub(crate) mod montgomery;

use crate::crypto::ec::{
    der_octet_string, sp800_56c_kdf, x963_kdf, Curve, EcPrivateKey, EcPublicKey,
};
use crate::crypto::rsa::{HashAlg, Hasher};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::digest::NO_FUNCTIONS;
use crate::mechanism::keys::{ec_private, ec_private_template, ec_public, tmpl_get, x_private};
use crate::mechanism::{
    Functions, Generated, KeyLookup, Mechanism, MechanismDef, Param, ParamKind, SignOp, VerifyOp,
};
use crate::object::attr::{Attribute, Template};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

const EC: &[CK_KEY_TYPE] = &[CKK_EC];
const EDWARDS: &[CK_KEY_TYPE] = &[CKK_EC_EDWARDS];
const ECDH_KEYS: &[CK_KEY_TYPE] = &[CKK_EC, CKK_EC_MONTGOMERY];
/// Smallest and largest curve size (order bits) of the short Weierstrass curves.
const MIN_BITS: CK_ULONG = 256;
const MAX_BITS: CK_ULONG = 521;
/// The size of Ed25519 and X25519 keys in bits as `C_GetMechanismInfo` gives
/// it (the field is GF(2^255 - 19); OpenSC reports such keys as 255 bits).
const X_BITS: CK_ULONG = 255;
/// What `C_GetMechanismInfo` says about our EC support: prime fields, named
/// curves given by OID (or name), uncompressed points.
const EC_FLAGS: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_OID | CKF_EC_UNCOMPRESS;
/// Edwards and Montgomery curves: given by OID or by name.
const ECX_FLAGS: CK_FLAGS = CKF_EC_OID | CKF_EC_CURVENAME;

const SIGN_VERIFY: Functions = Functions {
    sign: Some(sign_init),
    verify: Some(verify_init),
    ..NO_FUNCTIONS
};

const KEY_PAIR_GEN: Functions = Functions {
    generate_key_pair: Some(generate_key_pair),
    ..NO_FUNCTIONS
};

const DERIVE: Functions = Functions {
    derive: Some(derive),
    ..NO_FUNCTIONS
};

const EDDSA: Functions = Functions {
    sign: Some(edwards::sign_init),
    verify: Some(edwards::verify_init),
    ..NO_FUNCTIONS
};

const EDWARDS_KEY_PAIR_GEN: Functions = Functions {
    generate_key_pair: Some(edwards::generate_key_pair),
    ..NO_FUNCTIONS
};

const MONTGOMERY_KEY_PAIR_GEN: Functions = Functions {
    generate_key_pair: Some(montgomery::generate_key_pair),
    ..NO_FUNCTIONS
};

/// The mechanisms of this family.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", ParamKind::None, KEY_PAIR_GEN).sizes(MIN_BITS, MAX_BITS).with_flags(EC_FLAGS),
    MechanismDef::new(CKM_ECDSA, "CKM_ECDSA", ParamKind::None, SIGN_VERIFY).keys(EC, MIN_BITS, MAX_BITS).with_flags(EC_FLAGS),
    MechanismDef::new(CKM_ECDSA_SHA1, "CKM_ECDSA_SHA1", ParamKind::None, SIGN_VERIFY).keys(EC, MIN_BITS, MAX_BITS).with_flags(EC_FLAGS),
    MechanismDef::new(CKM_ECDSA_SHA224, "CKM_ECDSA_SHA224", ParamKind::None, SIGN_VERIFY).keys(EC, MIN_BITS, MAX_BITS).with_flags(EC_FLAGS),
    MechanismDef::new(CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256", ParamKind::None, SIGN_VERIFY).keys(EC, MIN_BITS, MAX_BITS).with_flags(EC_FLAGS),
    MechanismDef::new(CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384", ParamKind::None, SIGN_VERIFY).keys(EC, MIN_BITS, MAX_BITS).with_flags(EC_FLAGS),
    MechanismDef::new(CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512", ParamKind::None, SIGN_VERIFY).keys(EC, MIN_BITS, MAX_BITS).with_flags(EC_FLAGS),
    MechanismDef::new(CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE", ParamKind::Ecdh1, DERIVE).keys(ECDH_KEYS, X_BITS, MAX_BITS).with_flags(EC_FLAGS | CKF_EC_CURVENAME),
    MechanismDef::new(CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN", ParamKind::None, EDWARDS_KEY_PAIR_GEN).sizes(X_BITS, X_BITS).with_flags(ECX_FLAGS),
    MechanismDef::new(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, "CKM_EC_MONTGOMERY_KEY_PAIR_GEN", ParamKind::None, MONTGOMERY_KEY_PAIR_GEN).sizes(X_BITS, X_BITS).with_flags(ECX_FLAGS),
    MechanismDef::new(CKM_EDDSA, "CKM_EDDSA", ParamKind::Eddsa, EDDSA).keys(EDWARDS, X_BITS, X_BITS).with_flags(ECX_FLAGS),
];

/// The hash a hash-and-sign ECDSA mechanism applies (`None` for `CKM_ECDSA`).
fn ecdsa_hash(mech: CK_MECHANISM_TYPE) -> Result<Option<HashAlg>> {
    Ok(match mech {
        CKM_ECDSA => None,
        CKM_ECDSA_SHA1 => Some(HashAlg::Sha1),
        CKM_ECDSA_SHA224 => Some(HashAlg::Sha224),
        CKM_ECDSA_SHA256 => Some(HashAlg::Sha256),
        CKM_ECDSA_SHA384 => Some(HashAlg::Sha384),
        CKM_ECDSA_SHA512 => Some(HashAlg::Sha512),
        _ => return Err(Error::MechanismInvalid),
    })
}

fn single_part_only() -> Error {
    Error::FunctionNotSupported
}

struct EcdsaSign {
    key: Arc<EcPrivateKey>,
    hash: Option<HashAlg>,
    hasher: Option<Hasher>,
}

impl EcdsaSign {
    fn sign_into(&self, digest: &[u8], out: &mut OutBuf) -> Result<()> {
        let len = 2 * self.key.curve().field_len();
        let Some(buf) = out.reserve(len)? else {
            return Ok(());
        };
        let sig = self.key.sign_prehash(digest)?;
        if sig.len() != len {
            return Err(Error::General(
                "ECDSA signature of unexpected length".into(),
            ));
        }
        buf.copy_from_slice(&sig);
        Ok(())
    }
}

impl SignOp for EcdsaSign {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        match self.hash {
            Some(h) => self.sign_into(&h.digest(&[data]), out),
            None => self.sign_into(data, out),
        }
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        self.hasher.get_or_insert_with(|| h.hasher()).update(data);
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        if out.reserve(2 * self.key.curve().field_len())?.is_none() {
            return Ok(());
        }
        let digest = self.hasher.take().unwrap_or_else(|| h.hasher()).finalize();
        self.sign_into(&digest, out)
    }
}

fn sign_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let key = key.key();
    let hash = ecdsa_hash(mech.mech)?;
    let key = ec_private(key)?;
    Ok(Box::new(EcdsaSign {
        key,
        hash,
        hasher: None,
    }))
}

struct EcdsaVerify {
    key: Arc<EcPublicKey>,
    hash: Option<HashAlg>,
    hasher: Option<Hasher>,
}

impl VerifyOp for EcdsaVerify {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        match self.hash {
            Some(h) => self.key.verify_prehash(&h.digest(&[data]), signature),
            None => self.key.verify_prehash(data, signature),
        }
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        self.hasher.get_or_insert_with(|| h.hasher()).update(data);
        Ok(())
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        let digest = self.hasher.take().unwrap_or_else(|| h.hasher()).finalize();
        self.key.verify_prehash(&digest, signature)
    }
}

fn verify_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let key = key.key();
    let hash = ecdsa_hash(mech.mech)?;
    let key = ec_public(key)?;
    Ok(Box::new(EcdsaVerify {
        key,
        hash,
        hasher: None,
    }))
}

/// `CKM_EC_KEY_PAIR_GEN` (§2.3.7): the curve from `CKA_EC_PARAMS` of the public
/// template (missing → `CKR_TEMPLATE_INCOMPLETE`, unknown → `CKR_CURVE_NOT_SUPPORTED`).
fn generate_key_pair(
    _mech: &Mechanism,
    public: &Template,
    _private: &Template,
) -> Result<(Generated, Generated)> {
    let params = pair_params(public)?;
    let curve = Curve::from_ec_params(params)?;
    let key = EcPrivateKey::generate(curve)?;
    let point = der_octet_string(&key.public_point());
    Ok((
        public_key(CKK_EC, params, point),
        ec_private_template(&key, Some(params)),
    ))
}

/// `CKA_EC_PARAMS` of a curve key pair generation's public template
/// (missing → `CKR_TEMPLATE_INCOMPLETE`).
fn pair_params(public: &Template) -> Result<&[u8]> {
    tmpl_get(public, CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete {
        missing: CKA_EC_PARAMS,
    })
}

/// The public key object of a generated curve key pair.
fn public_key(key_type: CK_KEY_TYPE, params: &[u8], point: Vec<u8>) -> Generated {
    vec![
        Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attribute::ulong(CKA_KEY_TYPE, key_type),
        Attribute::new(CKA_EC_PARAMS, params.to_vec()),
        Attribute::new(CKA_EC_POINT, point),
    ]
}

/// The KDF of `CK_ECDH1_DERIVE_PARAMS.kdf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kdf {
    /// `CKD_NULL`.
    Null,
    /// `CKD_SHA*_KDF`: ANSI X9.63.
    X963(HashAlg),
    /// `CKD_SHA*_KDF_SP800`: SP 800-56C one-step.
    Sp800(HashAlg),
}

/// `CKD_*` → the KDF (an unknown one is `MechanismParamInvalid`).
fn kdf_of(kdf: CK_ULONG) -> Result<Kdf> {
    Ok(match kdf {
        CKD_NULL => Kdf::Null,
        CKD_SHA1_KDF => Kdf::X963(HashAlg::Sha1),
        CKD_SHA224_KDF => Kdf::X963(HashAlg::Sha224),
        CKD_SHA256_KDF => Kdf::X963(HashAlg::Sha256),
        CKD_SHA384_KDF => Kdf::X963(HashAlg::Sha384),
        CKD_SHA512_KDF => Kdf::X963(HashAlg::Sha512),
        CKD_SHA1_KDF_SP800 => Kdf::Sp800(HashAlg::Sha1),
        CKD_SHA224_KDF_SP800 => Kdf::Sp800(HashAlg::Sha224),
        CKD_SHA256_KDF_SP800 => Kdf::Sp800(HashAlg::Sha256),
        CKD_SHA384_KDF_SP800 => Kdf::Sp800(HashAlg::Sha384),
        CKD_SHA512_KDF_SP800 => Kdf::Sp800(HashAlg::Sha512),
        _ => return Err(Error::MechanismParamInvalid),
    })
}

/// `CKM_ECDH1_DERIVE` (§2.3.15) on an EC or Montgomery private key.
fn derive(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _lookup: &dyn KeyLookup,
) -> Result<Zeroizing<Vec<u8>>> {
    let base = base.key();
    let Param::Ecdh1 {
        kdf,
        shared_data,
        public_data,
    } = &mech.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let kdf = kdf_of(*kdf)?;
    if kdf == Kdf::Null && !shared_data.is_empty() {
        return Err(Error::MechanismParamInvalid);
    }
    let z = if base.key_type() == Some(CKK_EC_MONTGOMERY) {
        x_private(base)?.ecdh(public_data)?
    } else {
        let key = ec_private(base)?;
        if !key.curve().allows_ecdh() {
            return Err(Error::KeyTypeInconsistent);
        }
        let peer = EcPublicKey::from_point(key.curve(), public_data)
            .map_err(|_| Error::MechanismParamInvalid)?;
        key.ecdh(&peer)?
    };
    let needs_len = || {
        value_len.ok_or(Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN,
        })
    };
    match kdf {
        Kdf::Null => {
            let len = value_len.unwrap_or(z.len());
            if len > z.len() || len == 0 {
                return Err(Error::KeySizeRange);
            }
            Ok(Zeroizing::new(z[..len].to_vec()))
        }
        Kdf::X963(h) | Kdf::Sp800(h) => {
            let len = needs_len()?;
            if len == 0 || len > crate::mechanism::MAX_DERIVED_LEN {
                return Err(Error::KeySizeRange);
            }
            if matches!(kdf, Kdf::X963(_)) {
                x963_kdf(h, &z, shared_data, len)
            } else {
                sp800_56c_kdf(h, &z, shared_data, len)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
