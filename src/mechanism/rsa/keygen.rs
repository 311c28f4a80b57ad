//! `CKM_RSA_PKCS_KEY_PAIR_GEN` (PKCS#11 3.0 current mechanisms §2.1.4).

use super::{MAX_BITS, MIN_GEN, MIN_USE};
use crate::crypto::rsa::{check_public_exponent, RsaPrivateKey};
use crate::error::{Error, Result};
use crate::mechanism::keys::{rsa_private_template, tmpl_get, tmpl_ulong};
use crate::mechanism::{Generated, Mechanism, MechanismSettings};
use crate::object::attr::{Attribute, Template};
use cryptoki_sys::*;

/// The smallest modulus key generation makes under `settings`
/// (`min_rsa_bits`), never below [`MIN_USE`].
pub(super) fn min_bits(settings: &MechanismSettings) -> CK_ULONG {
    CK_ULONG::try_from(settings.min_rsa_bits)
        .unwrap_or(MIN_GEN)
        .max(MIN_USE)
}

/// The modulus size a request asks for (`CKA_MODULUS_BITS` of the public
/// template), checked by the module against the row in force (`min_rsa_bits`).
pub(super) fn requested_bits(public: &Template, _private: &Template) -> Result<Option<CK_ULONG>> {
    tmpl_ulong(public, CKA_MODULUS_BITS)
}

/// `CKM_RSA_PKCS_KEY_PAIR_GEN` (§2.1.4): `CKA_MODULUS_BITS` from the public
/// template (1024..=8192 here; the module has already refused sizes below the
/// configured `min_rsa_bits`, 2048 by default, with `CKR_KEY_SIZE_RANGE`),
/// `CKA_PUBLIC_EXPONENT` optional (default 65537; even, below 3 or above
/// 2^33-1 → `CKR_ATTRIBUTE_VALUE_INVALID`).
pub(super) fn generate_key_pair(
    _mech: &Mechanism,
    public: &Template,
    _private: &Template,
) -> Result<(Generated, Generated)> {
    let bits = tmpl_ulong(public, CKA_MODULUS_BITS)?.ok_or(Error::TemplateIncomplete {
        missing: CKA_MODULUS_BITS,
    })?;
    if !(MIN_USE..=MAX_BITS).contains(&bits) {
        return Err(Error::KeySizeRange);
    }
    let bits = usize::try_from(bits).map_err(|_| Error::KeySizeRange)?;
    let e = match tmpl_get(public, CKA_PUBLIC_EXPONENT) {
        Some(v) => check_public_exponent(v)?,
        None => 65537,
    };
    let key = RsaPrivateKey::generate(bits, e)?;
    let private = rsa_private_template(&key)?;
    let pick = |ty| {
        private
            .iter()
            .find(|a| a.ty == ty)
            .map(|a| a.value.to_vec())
            .unwrap_or_default()
    };
    let public = vec![
        Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
        Attribute::new(CKA_MODULUS, pick(CKA_MODULUS)),
        Attribute::new(CKA_PUBLIC_EXPONENT, pick(CKA_PUBLIC_EXPONENT)),
    ];
    Ok((public, private))
}
