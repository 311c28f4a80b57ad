//! RSA encryption, decryption, wrapping and unwrapping with PKCS#1 v1.5
//! (`CKM_RSA_PKCS`) and OAEP (`CKM_RSA_PKCS_OAEP`): single-part only.

use super::{single_part_only, unwrap_err, unwrapping_key, wrapping_key};
use crate::crypto::rsa::{oaep_max_len, HashAlg, RsaPrivateKey, RsaPublicKey};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::keys::{hash_from_mech, hash_from_mgf, rsa_private, rsa_public};
use crate::mechanism::{CipherOp, Mechanism, Param};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// (hash, MGF1 hash, label) of a `CK_RSA_PKCS_OAEP_PARAMS`.
pub(super) fn oaep(param: &Param) -> Result<(HashAlg, HashAlg, Vec<u8>)> {
    let Param::Oaep { hash, mgf, label } = param else {
        return Err(Error::MechanismParamInvalid);
    };
    let h = hash_from_mech(*hash).ok_or(Error::MechanismParamInvalid)?;
    let m = hash_from_mgf(*mgf).ok_or(Error::MechanismParamInvalid)?;
    Ok((h, m, label.clone()))
}

/// How an encryption mechanism pads.
#[derive(Clone)]
enum Padding {
    Pkcs1,
    Oaep(HashAlg, HashAlg, Vec<u8>),
}

fn padding(mech: &Mechanism, k: usize) -> Result<Padding> {
    match mech.mech {
        CKM_RSA_PKCS => Ok(Padding::Pkcs1),
        CKM_RSA_PKCS_OAEP => {
            let (h, m, label) = oaep(&mech.param)?;
            if oaep_max_len(k, h).is_none() {
                return Err(Error::KeySizeRange);
            }
            Ok(Padding::Oaep(h, m, label))
        }
        _ => Err(Error::MechanismInvalid),
    }
}

impl Padding {
    fn max_plain(&self, k: usize) -> usize {
        match self {
            Padding::Pkcs1 => k.saturating_sub(11),
            Padding::Oaep(h, _, _) => oaep_max_len(k, *h).unwrap_or(0),
        }
    }
    fn encrypt(&self, key: &RsaPublicKey, msg: &[u8]) -> Result<Vec<u8>> {
        match self {
            Padding::Pkcs1 => key.encrypt_pkcs1v15(msg),
            Padding::Oaep(h, m, label) => key.encrypt_oaep(*h, *m, label, msg),
        }
    }
    fn decrypt(&self, key: &RsaPrivateKey, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Padding::Pkcs1 => key.decrypt_pkcs1v15(ct),
            Padding::Oaep(h, m, label) => key.decrypt_oaep(*h, *m, label, ct),
        }
    }
}

struct RsaEncrypt {
    key: Arc<RsaPublicKey>,
    padding: Padding,
}

impl CipherOp for RsaEncrypt {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let k = self.key.size();
        if input.len() > self.padding.max_plain(k) {
            return Err(Error::DataLenRange);
        }
        let Some(buf) = out.reserve(k)? else {
            return Ok(());
        };
        let ct = self.padding.encrypt(&self.key, input)?;
        if ct.len() != k {
            return Err(Error::General("RSA ciphertext of unexpected length".into()));
        }
        buf.copy_from_slice(&ct);
        Ok(())
    }
    fn update(&mut self, _input: &[u8], _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
    fn finish(&mut self, _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
}

struct RsaDecrypt {
    key: Arc<RsaPrivateKey>,
    padding: Padding,
}

impl CipherOp for RsaDecrypt {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let k = self.key.size();
        if input.len() != k {
            return Err(Error::EncryptedDataLenRange);
        }
        if out.is_query() {
            // The longest possible plaintext; the real length comes with the data.
            out.reserve(self.padding.max_plain(k))?;
            return Ok(());
        }
        let pt = self.padding.decrypt(&self.key, input)?;
        out.write(&pt)?;
        Ok(())
    }
    fn update(&mut self, _input: &[u8], _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
    fn finish(&mut self, _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
}

pub(super) fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    let key = key.key();
    let key = rsa_public(key)?;
    let padding = padding(mech, key.size())?;
    Ok(Box::new(RsaEncrypt { key, padding }))
}

pub(super) fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    let key = key.key();
    let key = rsa_private(key)?;
    let padding = padding(mech, key.size())?;
    Ok(Box::new(RsaDecrypt { key, padding }))
}

pub(super) fn wrap(mech: &Mechanism, key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = key.key();
    let key = wrapping_key(key)?;
    let padding = padding(mech, key.size()).map_err(|e| match e {
        Error::KeySizeRange => Error::WrappingKeySizeRange,
        other => other,
    })?;
    if key_bytes.len() > padding.max_plain(key.size()) {
        return Err(Error::KeySizeRange);
    }
    padding.encrypt(&key, key_bytes)
}

pub(super) fn unwrap(
    mech: &Mechanism,
    key: &Granted,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = key.key();
    let key = unwrapping_key(key)?;
    let padding = padding(mech, key.size()).map_err(|e| match e {
        Error::KeySizeRange => Error::UnwrappingKeySizeRange,
        other => other,
    })?;
    padding.decrypt(&key, wrapped).map_err(unwrap_err)
}
