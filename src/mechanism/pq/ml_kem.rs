//! ML-KEM key pair generation and `CKM_ML_KEM` (PKCS#11 3.2 §6.68).
//!
//! - `CKM_ML_KEM_KEY_PAIR_GEN`: the parameter set from `CKA_PARAMETER_SET` of
//!   the public template, as for ML-DSA.
//! - `C_EncapsulateKey` with the public key: the ciphertext follows the length
//!   rules of §5.2 (a null buffer asks for its length, a short one is
//!   `CKR_BUFFER_TOO_SMALL`; neither makes a key); the 32-byte shared secret
//!   becomes the new key's `CKA_VALUE`.
//! - `C_DecapsulateKey` with the private key: a ciphertext of another length
//!   than the parameter set's is `CKR_ENCRYPTED_DATA_LEN_RANGE`; a ciphertext of
//!   the right length that was not made for this key decapsulates to an
//!   unrelated secret (FIPS 203 implicit rejection), so it succeeds and the
//!   keys of the two sides differ.

use super::keys::{ml_kem_private, ml_kem_public, ml_kem_set, ml_kem_templates};
use crate::crypto::ml_kem::MlKemPrivateKey;
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::keys::tmpl_ulong;
use crate::mechanism::{Generated, Mechanism};
use crate::object::attr::Template;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// `CKM_ML_KEM_KEY_PAIR_GEN`.
pub(super) fn generate_key_pair(
    _mech: &Mechanism,
    public: &Template,
    private: &Template,
) -> Result<(Generated, Generated)> {
    let ckp = tmpl_ulong(public, CKA_PARAMETER_SET)?.ok_or(Error::TemplateIncomplete {
        missing: CKA_PARAMETER_SET,
    })?;
    if tmpl_ulong(private, CKA_PARAMETER_SET)?.is_some_and(|p| p != ckp) {
        return Err(Error::TemplateInconsistent(
            "the private template names another parameter set",
        ));
    }
    let key = MlKemPrivateKey::generate(ml_kem_set(ckp)?)?;
    Ok(ml_kem_templates(&key))
}

/// `C_EncapsulateKey` with `CKM_ML_KEM`.
pub(super) fn encapsulate(
    _mech: &Mechanism,
    key: &Granted,
    out: &mut OutBuf,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let key = ml_kem_public(key.key())?;
    let Some(buf) = out.reserve(key.set().ciphertext_len())? else {
        return Ok(None);
    };
    let (ct, ss) = key.encapsulate()?;
    if ct.len() != buf.len() {
        return Err(Error::General(
            "ML-KEM ciphertext of unexpected length".into(),
        ));
    }
    buf.copy_from_slice(&ct);
    Ok(Some(ss))
}

/// `C_DecapsulateKey` with `CKM_ML_KEM`.
pub(super) fn decapsulate(
    _mech: &Mechanism,
    key: &Granted,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    ml_kem_private(key.key())?.decapsulate(ciphertext)
}
