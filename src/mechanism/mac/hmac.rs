//! HMAC (the `CKM_SHA*_HMAC` and `CKM_SHA*_HMAC_GENERAL` mechanisms) and
//! generic secret key generation (`CKM_GENERIC_SECRET_KEY_GEN`).

use super::{key_value, template_value_len, MAX_KEY};
use crate::crypto::hash::{ct_eq, HashAlg, Hmac};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::digest::{hash_alg, no_param};
use crate::mechanism::{Generated, Mechanism, Param, SignOp, VerifyOp};
use crate::object::attr::{Attribute, Template};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;

/// Which HMAC a mechanism is, and whether it is the `_GENERAL` form.
fn hmac_kind(mech: CK_MECHANISM_TYPE) -> Option<(HashAlg, bool)> {
    let (hash, general) = match mech {
        CKM_SHA_1_HMAC => (CKM_SHA_1, false),
        CKM_SHA_1_HMAC_GENERAL => (CKM_SHA_1, true),
        CKM_SHA224_HMAC => (CKM_SHA224, false),
        CKM_SHA224_HMAC_GENERAL => (CKM_SHA224, true),
        CKM_SHA256_HMAC => (CKM_SHA256, false),
        CKM_SHA256_HMAC_GENERAL => (CKM_SHA256, true),
        CKM_SHA384_HMAC => (CKM_SHA384, false),
        CKM_SHA384_HMAC_GENERAL => (CKM_SHA384, true),
        CKM_SHA512_HMAC => (CKM_SHA512, false),
        CKM_SHA512_HMAC_GENERAL => (CKM_SHA512, true),
        CKM_SHA512_224_HMAC => (CKM_SHA512_224, false),
        CKM_SHA512_224_HMAC_GENERAL => (CKM_SHA512_224, true),
        CKM_SHA512_256_HMAC => (CKM_SHA512_256, false),
        CKM_SHA512_256_HMAC_GENERAL => (CKM_SHA512_256, true),
        CKM_SHA3_224_HMAC => (CKM_SHA3_224, false),
        CKM_SHA3_224_HMAC_GENERAL => (CKM_SHA3_224, true),
        CKM_SHA3_256_HMAC => (CKM_SHA3_256, false),
        CKM_SHA3_256_HMAC_GENERAL => (CKM_SHA3_256, true),
        CKM_SHA3_384_HMAC => (CKM_SHA3_384, false),
        CKM_SHA3_384_HMAC_GENERAL => (CKM_SHA3_384, true),
        CKM_SHA3_512_HMAC => (CKM_SHA3_512, false),
        CKM_SHA3_512_HMAC_GENERAL => (CKM_SHA3_512, true),
        _ => return None,
    };
    Some((hash_alg(hash)?, general))
}

/// The keyed HMAC and the output length, from the mechanism and the key.
fn setup(mech: &Mechanism, key: &Granted) -> Result<(Hmac, usize)> {
    let (alg, general) = hmac_kind(mech.mech).ok_or(Error::MechanismInvalid)?;
    let full = alg.output_len();
    let out_len = if general {
        match mech.param {
            Param::Ulong(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=full).contains(n))
                .ok_or(Error::MechanismParamInvalid)?,
            _ => return Err(Error::MechanismParamInvalid),
        }
    } else {
        no_param(mech)?;
        full
    };
    let value = key_value(key, 1, MAX_KEY)?;
    Ok((Hmac::new(alg, value), out_len))
}

struct HmacSign {
    mac: Hmac,
    out_len: usize,
}

impl HmacSign {
    fn emit(mac: Hmac, out_len: usize, out: &mut OutBuf) -> Result<()> {
        if let Some(dst) = out.reserve(out_len)? {
            dst.copy_from_slice(&mac.finalize()[..out_len]);
        }
        Ok(())
    }
}

impl SignOp for HmacSign {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        if out.reserve(self.out_len)?.is_none() {
            return Ok(());
        }
        let mut m = self.mac.clone();
        m.update(data);
        Self::emit(m, self.out_len, out)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.mac.update(data);
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        if out.reserve(self.out_len)?.is_none() {
            return Ok(());
        }
        Self::emit(self.mac.clone(), self.out_len, out)
    }
}

impl VerifyOp for HmacSign {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        VerifyOp::update(self, data)?;
        VerifyOp::finish(self, signature)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.mac.update(data);
        Ok(())
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        if signature.len() != self.out_len {
            return Err(Error::SignatureLenRange);
        }
        let full = self.mac.clone().finalize();
        if ct_eq(&full[..self.out_len], signature) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

pub(super) fn sign_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let (mac, out_len) = setup(mech, key)?;
    Ok(Box::new(HmacSign { mac, out_len }))
}

pub(super) fn verify_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let (mac, out_len) = setup(mech, key)?;
    Ok(Box::new(HmacSign { mac, out_len }))
}

pub(super) fn generic_secret_key_gen(mech: &Mechanism, template: &Template) -> Result<Generated> {
    secret_key_gen(mech, template, CKK_GENERIC_SECRET)
}

/// The key type an HMAC key generation mechanism makes (`CKM_SHA256_KEY_GEN`
/// makes `CKK_SHA256_HMAC` keys …).
fn hmac_key_type(mech: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
    Some(match mech {
        CKM_SHA_1_KEY_GEN => CKK_SHA_1_HMAC,
        CKM_SHA224_KEY_GEN => CKK_SHA224_HMAC,
        CKM_SHA256_KEY_GEN => CKK_SHA256_HMAC,
        CKM_SHA384_KEY_GEN => CKK_SHA384_HMAC,
        CKM_SHA512_KEY_GEN => CKK_SHA512_HMAC,
        CKM_SHA512_224_KEY_GEN => CKK_SHA512_224_HMAC,
        CKM_SHA512_256_KEY_GEN => CKK_SHA512_256_HMAC,
        CKM_SHA3_224_KEY_GEN => CKK_SHA3_224_HMAC,
        CKM_SHA3_256_KEY_GEN => CKK_SHA3_256_HMAC,
        CKM_SHA3_384_KEY_GEN => CKK_SHA3_384_HMAC,
        CKM_SHA3_512_KEY_GEN => CKK_SHA3_512_HMAC,
        _ => return None,
    })
}

/// `CKM_SHA_1_KEY_GEN`, `CKM_SHA224_KEY_GEN` … (PKCS#11 3.0 current
/// mechanisms, the "key generation" section of each hash): a random key of
/// `CKA_VALUE_LEN` bytes of the hash's HMAC key type.
pub(super) fn hmac_key_gen(mech: &Mechanism, template: &Template) -> Result<Generated> {
    let kt = hmac_key_type(mech.mech).ok_or(Error::MechanismInvalid)?;
    secret_key_gen(mech, template, kt)
}

fn secret_key_gen(
    mech: &Mechanism,
    template: &Template,
    key_type: CK_KEY_TYPE,
) -> Result<Generated> {
    no_param(mech)?;
    let len = template_value_len(template)?;
    if !(1..=MAX_KEY).contains(&len) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let value =
        crate::crypto::random_vec(len).map_err(|e| Error::General(format!("random: {e}")))?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, key_type),
        Attribute::new(CKA_VALUE, value.to_vec()),
    ])
}
