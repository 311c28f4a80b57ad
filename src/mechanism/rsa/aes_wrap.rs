//! `CKM_RSA_AES_KEY_WRAP` (PKCS#11 3.0 current mechanisms §2.1.21).

use super::cipher::oaep;
use super::{unwrap_err, unwrapping_key, wrapping_key};
use crate::crypto::rsa::{kwp_unwrap, kwp_wrap, oaep_max_len, HashAlg};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::{Mechanism, Param};
use zeroize::Zeroizing;

/// (AES key bytes, OAEP hash, MGF1 hash, label) of a `CK_RSA_AES_KEY_WRAP_PARAMS`.
fn aes_wrap_params(param: &Param) -> Result<(usize, HashAlg, HashAlg, Vec<u8>)> {
    let Param::RsaAesKeyWrap {
        aes_key_bits,
        hash,
        mgf,
        label,
    } = param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let bytes = match aes_key_bits {
        128 => 16,
        192 => 24,
        256 => 32,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let (h, m, label) = oaep(&Param::Oaep {
        hash: *hash,
        mgf: *mgf,
        label: label.clone(),
    })?;
    Ok((bytes, h, m, label))
}

/// `CKM_RSA_AES_KEY_WRAP` (§2.1.21): a fresh AES key, OAEP-encrypted under the
/// RSA key, followed by the target wrapped with it by AES key wrap with padding.
pub(super) fn aes_wrap(mech: &Mechanism, key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = key.key();
    let key = wrapping_key(key)?;
    let (n, h, m, label) = aes_wrap_params(&mech.param)?;
    if oaep_max_len(key.size(), h).is_none_or(|max| max < n) {
        return Err(Error::WrappingKeySizeRange);
    }
    let tmp =
        crate::crypto::random_vec(n).map_err(|e| Error::General(format!("random source: {e}")))?;
    let mut out = key.encrypt_oaep(h, m, &label, &tmp)?;
    out.extend_from_slice(&kwp_wrap(&tmp, key_bytes).map_err(|_| Error::KeySizeRange)?);
    Ok(out)
}

pub(super) fn aes_unwrap(
    mech: &Mechanism,
    key: &Granted,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = key.key();
    let key = unwrapping_key(key)?;
    let (n, h, m, label) = aes_wrap_params(&mech.param)?;
    let k = key.size();
    if wrapped.len() < k + 16 || !(wrapped.len() - k).is_multiple_of(8) {
        return Err(Error::WrappedKeyLenRange);
    }
    let (c1, c2) = wrapped.split_at(k);
    let tmp = key.decrypt_oaep(h, m, &label, c1).map_err(unwrap_err)?;
    if tmp.len() != n {
        return Err(Error::WrappedKeyInvalid);
    }
    kwp_unwrap(&tmp, c2).map_err(|e| match e {
        Error::WrappedKeyLenRange => Error::WrappedKeyLenRange,
        _ => Error::WrappedKeyInvalid,
    })
}
