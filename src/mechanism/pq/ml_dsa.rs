//! ML-DSA key pair generation, signing and verification (PKCS#11 3.2 §6.67).
//!
//! - `CKM_ML_DSA_KEY_PAIR_GEN`: the parameter set from `CKA_PARAMETER_SET` of
//!   the public template (missing → `CKR_TEMPLATE_INCOMPLETE`, unknown →
//!   `CKR_ATTRIBUTE_VALUE_INVALID`; a different value in the private template
//!   → `CKR_TEMPLATE_INCONSISTENT`).
//! - `CKM_ML_DSA` (pure ML-DSA, FIPS 204 Algorithm 2/3) and
//!   `CKM_HASH_ML_DSA_<hash>` (HashML-DSA, Algorithm 4/5, the token hashes):
//!   single and multi-part; the optional `CK_SIGN_ADDITIONAL_CONTEXT` gives the
//!   hedging variant and a context string of at most 255 bytes.
//! - `CKM_HASH_ML_DSA`: the input is the hash named in
//!   `CK_HASH_SIGN_ADDITIONAL_CONTEXT` (its length, else `CKR_DATA_LEN_RANGE`);
//!   single-part only: `C_SignUpdate`/`C_VerifyUpdate` are
//!   `CKR_OPERATION_NOT_INITIALIZED` and end the operation, as SoftHSMv2 and
//!   Kryoptic do.
//! - Hedging: `CKH_HEDGE_PREFERRED` and `CKH_HEDGE_REQUIRED` sign hedged (fresh
//!   32-byte `rnd`), `CKH_DETERMINISTIC_REQUIRED` with `rnd` all zero; another
//!   value is `CKR_MECHANISM_PARAM_INVALID`. Verification ignores it.
//! - A signature of the wrong length is `CKR_SIGNATURE_LEN_RANGE`, a wrong one
//!   `CKR_SIGNATURE_INVALID`.

use super::keys::{ml_dsa_private, ml_dsa_public, ml_dsa_set, ml_dsa_templates};
use crate::crypto::ml_dsa::{MlDsaPrivateKey, MlDsaPublicKey, MuHasher, PreHash, PreHasher};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::keys::tmpl_ulong;
use crate::mechanism::{Generated, Mechanism, Param, SignOp, VerifyOp};
use crate::object::attr::Template;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;

/// `CKM_ML_DSA_KEY_PAIR_GEN`.
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
    let key = MlDsaPrivateKey::generate(ml_dsa_set(ckp)?)?;
    Ok(ml_dsa_templates(&key))
}

/// How the message becomes `M′`.
#[derive(Clone, Copy)]
enum Input {
    /// Pure ML-DSA: `M′ = 0 || |ctx| || ctx || M`.
    Pure,
    /// HashML-DSA, the token hashes the data.
    Hash(PreHash),
    /// HashML-DSA, the data is the hash (`CKM_HASH_ML_DSA`).
    Prehashed(PreHash),
}

/// What the mechanism and its parameter ask for.
struct Settings {
    input: Input,
    context: Vec<u8>,
    deterministic: bool,
}

fn pre_hash_of_mech(mech: CK_MECHANISM_TYPE) -> Option<PreHash> {
    Some(match mech {
        CKM_HASH_ML_DSA_SHA224 | CKM_SHA224 => PreHash::Sha224,
        CKM_HASH_ML_DSA_SHA256 | CKM_SHA256 => PreHash::Sha256,
        CKM_HASH_ML_DSA_SHA384 | CKM_SHA384 => PreHash::Sha384,
        CKM_HASH_ML_DSA_SHA512 | CKM_SHA512 => PreHash::Sha512,
        CKM_HASH_ML_DSA_SHA3_224 | CKM_SHA3_224 => PreHash::Sha3_224,
        CKM_HASH_ML_DSA_SHA3_256 | CKM_SHA3_256 => PreHash::Sha3_256,
        CKM_HASH_ML_DSA_SHA3_384 | CKM_SHA3_384 => PreHash::Sha3_384,
        CKM_HASH_ML_DSA_SHA3_512 | CKM_SHA3_512 => PreHash::Sha3_512,
        CKM_HASH_ML_DSA_SHAKE128 => PreHash::Shake128,
        CKM_HASH_ML_DSA_SHAKE256 => PreHash::Shake256,
        _ => return None,
    })
}

fn deterministic(hedge: CK_ULONG) -> Result<bool> {
    match hedge {
        CKH_HEDGE_PREFERRED | CKH_HEDGE_REQUIRED => Ok(false),
        CKH_DETERMINISTIC_REQUIRED => Ok(true),
        _ => Err(Error::MechanismParamInvalid),
    }
}

fn settings(mech: &Mechanism) -> Result<Settings> {
    let (hedge, context) = match &mech.param {
        Param::None => (CKH_HEDGE_PREFERRED, Vec::new()),
        Param::SignContext { hedge, context } | Param::HashSignContext { hedge, context, .. } => {
            (*hedge, context.clone())
        }
        _ => return Err(Error::MechanismParamInvalid),
    };
    if context.len() > 255 {
        return Err(Error::MechanismParamInvalid);
    }
    let input = match (mech.mech, &mech.param) {
        (CKM_ML_DSA, _) => Input::Pure,
        (CKM_HASH_ML_DSA, Param::HashSignContext { hash, .. }) => {
            Input::Prehashed(pre_hash_of_mech(*hash).ok_or(Error::MechanismParamInvalid)?)
        }
        (CKM_HASH_ML_DSA, _) => return Err(Error::MechanismParamInvalid),
        (m, _) => Input::Hash(pre_hash_of_mech(m).ok_or(Error::MechanismInvalid)?),
    };
    Ok(Settings {
        input,
        context,
        deterministic: deterministic(hedge)?,
    })
}

/// The message side of an operation: `μ` built as the data comes.
struct Message {
    settings: Settings,
    /// The μ hasher, `tr || M′` so far (pure ML-DSA).
    mu: MuHasher,
    /// The pre-hash so far (hash-and-sign).
    pre: Option<PreHasher>,
}

impl Message {
    fn new(settings: Settings, mut mu: MuHasher) -> Self {
        let pre = match settings.input {
            Input::Pure => {
                mu.update(&[0, ctx_len(&settings.context)]);
                mu.update(&settings.context);
                None
            }
            Input::Hash(h) => Some(h.hasher()),
            Input::Prehashed(_) => None,
        };
        Message { settings, mu, pre }
    }

    fn update(&mut self, data: &[u8]) -> Result<()> {
        match self.settings.input {
            Input::Pure => self.mu.update(data),
            Input::Hash(_) => {
                if let Some(p) = self.pre.as_mut() {
                    p.update(data);
                }
            }
            Input::Prehashed(_) => return Err(Error::OperationNotInitialized),
        }
        Ok(())
    }

    /// μ of the message given so far, plus `last` (the data of a single-part
    /// call, or empty). The state is kept (cloned), so that a length query
    /// before the signature changes nothing.
    fn mu(&self, last: &[u8]) -> Result<[u8; 64]> {
        let mut mu = self.mu.clone();
        let prehash = |h: PreHash, digest: &[u8], mu: &mut MuHasher| {
            mu.update(&[1, ctx_len(&self.settings.context)]);
            mu.update(&self.settings.context);
            mu.update(&h.oid_der());
            mu.update(digest);
        };
        match self.settings.input {
            Input::Pure => mu.update(last),
            Input::Hash(h) => {
                let mut p = self.pre.clone().unwrap_or_else(|| h.hasher());
                p.update(last);
                prehash(h, &p.finish(), &mut mu);
            }
            Input::Prehashed(h) => {
                if last.len() != h.len() {
                    return Err(Error::DataLenRange);
                }
                prehash(h, last, &mut mu);
            }
        }
        Ok(mu.finish())
    }
}

fn ctx_len(ctx: &[u8]) -> u8 {
    u8::try_from(ctx.len()).unwrap_or(u8::MAX)
}

struct MlDsaSign {
    key: Arc<MlDsaPrivateKey>,
    msg: Message,
}

impl MlDsaSign {
    fn sign_into(&self, last: &[u8], out: &mut OutBuf) -> Result<()> {
        let len = self.key.set().signature_len();
        let Some(buf) = out.reserve(len)? else {
            return Ok(());
        };
        let mu = self.msg.mu(last)?;
        let sig = self.key.sign_mu(&mu, self.msg.settings.deterministic)?;
        if sig.len() != len {
            return Err(Error::General(
                "ML-DSA signature of unexpected length".into(),
            ));
        }
        buf.copy_from_slice(&sig);
        Ok(())
    }
}

impl SignOp for MlDsaSign {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        self.sign_into(data, out)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.msg.update(data)
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        if let Input::Prehashed(_) = self.msg.settings.input {
            return Err(Error::OperationNotInitialized);
        }
        self.sign_into(&[], out)
    }
}

/// `C_SignInit` with `CKM_ML_DSA` and the HashML-DSA mechanisms.
pub(super) fn sign_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let settings = settings(mech)?;
    let key = ml_dsa_private(key.key())?;
    let msg = Message::new(settings, key.mu_hasher());
    Ok(Box::new(MlDsaSign { key, msg }))
}

struct MlDsaVerify {
    key: Arc<MlDsaPublicKey>,
    msg: Message,
}

impl MlDsaVerify {
    fn check(&self, last: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != self.key.set().signature_len() {
            return Err(Error::SignatureLenRange);
        }
        let mu = self.msg.mu(last)?;
        if self.key.verify_mu(&mu, signature) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

impl VerifyOp for MlDsaVerify {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        self.check(data, signature)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.msg.update(data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        if let Input::Prehashed(_) = self.msg.settings.input {
            return Err(Error::OperationNotInitialized);
        }
        self.check(&[], signature)
    }
}

/// `C_VerifyInit` with `CKM_ML_DSA` and the HashML-DSA mechanisms.
pub(super) fn verify_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let settings = settings(mech)?;
    let key = ml_dsa_public(key.key())?;
    let msg = Message::new(settings, key.mu_hasher());
    Ok(Box::new(MlDsaVerify { key, msg }))
}
