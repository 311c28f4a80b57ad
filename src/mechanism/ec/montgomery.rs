//! X25519 key pairs (PKCS#11 3.0 §2.3.7, §2.3.8, §2.3.12):
//! `CKM_EC_MONTGOMERY_KEY_PAIR_GEN`. The keys derive with `CKM_ECDH1_DERIVE`
//! (in `super`).
//!
//! The curve comes from `CKA_EC_PARAMS` of the public template: the OID
//! 1.3.101.110 or the PrintableString `curve25519` (`x25519` too); X448 is
//! `CKR_CURVE_NOT_SUPPORTED`. `CKA_EC_POINT` is the raw 32-byte public key.

use crate::crypto::montgomery::{self, X25519Private};
use crate::error::Result;
use crate::mechanism::keys::x_private_template;
use crate::mechanism::{Generated, Mechanism};
use crate::object::attr::Template;
use cryptoki_sys::*;

/// `CKM_EC_MONTGOMERY_KEY_PAIR_GEN`.
pub(super) fn generate_key_pair(
    _mech: &Mechanism,
    public: &Template,
    _private: &Template,
) -> Result<(Generated, Generated)> {
    let params = super::pair_params(public)?;
    montgomery::check_params(params)?;
    let key = X25519Private::generate()?;
    Ok((
        super::public_key(CKK_EC_MONTGOMERY, params, key.public().to_vec()),
        x_private_template(&key, Some(params)),
    ))
}
