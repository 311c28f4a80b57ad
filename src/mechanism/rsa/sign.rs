//! RSA signatures: PKCS#1 v1.5 (`CKM_RSA_PKCS` over the caller's DigestInfo,
//! and the `CKM_SHA*_RSA_PKCS` hash-and-sign forms) and PSS (`CKM_RSA_PKCS_PSS`
//! over the caller's hash, and the `CKM_SHA*_RSA_PKCS_PSS` forms).

use super::single_part_only;
use crate::crypto::rsa::{HashAlg, Hasher, RsaPrivateKey, RsaPublicKey};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::keys::{hash_from_mech, hash_from_mgf, rsa_private, rsa_public};
use crate::mechanism::{Mechanism, Param, SignOp, VerifyOp};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What a signature mechanism does with its input.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    /// `CKM_RSA_PKCS`: the input is the encoded DigestInfo.
    Raw,
    /// PKCS#1 v1.5 over a hash: the DigestInfo of this hash.
    Pkcs1(HashAlg),
    /// PSS with this hash (MGF1 with the same) and salt length.
    Pss(HashAlg, usize),
}

/// The scheme and, for the hash-and-sign forms, the hash applied to the data, for a
/// key with a modulus of `mod_bits` bits.
fn scheme(mech: &Mechanism, mod_bits: usize) -> Result<(Scheme, Option<HashAlg>)> {
    let fixed = match mech.mech {
        CKM_RSA_PKCS => return Ok((Scheme::Raw, None)),
        CKM_SHA1_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha1), Some(HashAlg::Sha1))),
        CKM_SHA224_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha224), Some(HashAlg::Sha224))),
        CKM_SHA256_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha256), Some(HashAlg::Sha256))),
        CKM_SHA384_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha384), Some(HashAlg::Sha384))),
        CKM_SHA512_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha512), Some(HashAlg::Sha512))),
        CKM_RSA_PKCS_PSS => None,
        CKM_SHA1_RSA_PKCS_PSS => Some(HashAlg::Sha1),
        CKM_SHA224_RSA_PKCS_PSS => Some(HashAlg::Sha224),
        CKM_SHA256_RSA_PKCS_PSS => Some(HashAlg::Sha256),
        CKM_SHA384_RSA_PKCS_PSS => Some(HashAlg::Sha384),
        CKM_SHA512_RSA_PKCS_PSS => Some(HashAlg::Sha512),
        _ => return Err(Error::MechanismInvalid),
    };
    let Param::Pss {
        hash,
        mgf,
        salt_len,
    } = mech.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let h = hash_from_mech(hash).ok_or(Error::MechanismParamInvalid)?;
    if fixed.is_some_and(|f| f != h) || hash_from_mgf(mgf) != Some(h) {
        return Err(Error::MechanismParamInvalid);
    }
    let salt = usize::try_from(salt_len).map_err(|_| Error::MechanismParamInvalid)?;
    // RFC 8017 §8.1.1, §9.1.1: emLen = ⌈(modBits − 1)/8⌉ ≥ hLen + sLen + 2.
    let em_len = mod_bits.saturating_sub(1).div_ceil(8);
    if em_len < h.len() + 2 {
        return Err(Error::KeySizeRange);
    }
    if salt > em_len - h.len() - 2 {
        return Err(Error::MechanismParamInvalid);
    }
    Ok((Scheme::Pss(h, salt), fixed))
}

/// The message representative the scheme signs: the DigestInfo for PKCS#1 over a
/// hash, the input itself otherwise.
fn encode(scheme: Scheme, input: &[u8]) -> Zeroizing<Vec<u8>> {
    match scheme {
        Scheme::Pkcs1(h) => {
            let mut v = Zeroizing::new(h.digest_info_prefix().to_vec());
            v.extend_from_slice(input);
            v
        }
        _ => Zeroizing::new(input.to_vec()),
    }
}

/// Checks the length of the input of a single-part, not hashing mechanism.
fn check_input(scheme: Scheme, k: usize, input: &[u8]) -> Result<()> {
    let ok = match scheme {
        Scheme::Raw => input.len() + 11 <= k,
        Scheme::Pss(h, _) => input.len() == h.len(),
        Scheme::Pkcs1(_) => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::DataLenRange)
    }
}

struct RsaSign {
    key: Arc<RsaPrivateKey>,
    scheme: Scheme,
    hash: Option<HashAlg>,
    hasher: Option<Hasher>,
}

impl RsaSign {
    fn sign_into(&self, rep: &[u8], out: &mut OutBuf) -> Result<()> {
        let k = self.key.size();
        let Some(buf) = out.reserve(k)? else {
            return Ok(());
        };
        let sig = match self.scheme {
            Scheme::Raw | Scheme::Pkcs1(_) => {
                self.key.sign_pkcs1v15_raw(&encode(self.scheme, rep))?
            }
            Scheme::Pss(h, salt) => self.key.sign_pss(h, rep, salt)?,
        };
        if sig.len() != k {
            return Err(Error::General("RSA signature of unexpected length".into()));
        }
        buf.copy_from_slice(&sig);
        Ok(())
    }
}

impl SignOp for RsaSign {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        match self.hash {
            Some(h) => self.sign_into(&h.digest(&[data]), out),
            None => {
                check_input(self.scheme, self.key.size(), data)?;
                self.sign_into(data, out)
            }
        }
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        self.hasher.get_or_insert_with(|| h.hasher()).update(data);
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        if out.reserve(self.key.size())?.is_none() {
            return Ok(());
        }
        let digest = self.hasher.take().unwrap_or_else(|| h.hasher()).finalize();
        self.sign_into(&digest, out)
    }
}

pub(super) fn sign_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let key = key.key();
    let key = rsa_private(key)?;
    let (scheme, hash) = scheme(mech, key.bits())?;
    Ok(Box::new(RsaSign {
        key,
        scheme,
        hash,
        hasher: None,
    }))
}

struct RsaVerify {
    key: Arc<RsaPublicKey>,
    scheme: Scheme,
    hash: Option<HashAlg>,
    hasher: Option<Hasher>,
}

impl RsaVerify {
    fn check(&self, rep: &[u8], sig: &[u8]) -> Result<()> {
        if sig.len() != self.key.size() {
            return Err(Error::SignatureLenRange);
        }
        match self.scheme {
            Scheme::Raw | Scheme::Pkcs1(_) => {
                self.key.verify_pkcs1v15_raw(&encode(self.scheme, rep), sig)
            }
            Scheme::Pss(h, salt) => self.key.verify_pss(h, rep, salt, sig),
        }
    }
}

impl VerifyOp for RsaVerify {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        match self.hash {
            Some(h) => self.check(&h.digest(&[data]), signature),
            None => {
                check_input(self.scheme, self.key.size(), data)?;
                self.check(data, signature)
            }
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
        self.check(&digest, signature)
    }
}

pub(super) fn verify_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let key = key.key();
    let key = rsa_public(key)?;
    let (scheme, hash) = scheme(mech, key.bits())?;
    Ok(Box::new(RsaVerify {
        key,
        scheme,
        hash,
        hasher: None,
    }))
}
