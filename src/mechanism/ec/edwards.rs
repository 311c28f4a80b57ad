//! EdDSA on Ed25519 (PKCS#11 3.0 §2.3.5, §2.3.6, §2.3.14):
//! `CKM_EC_EDWARDS_KEY_PAIR_GEN` and `CKM_EDDSA`.
//!
//! - The curve comes from `CKA_EC_PARAMS` of the public template: the OID
//!   1.3.101.112 or the PrintableString `edwards25519` (`ed25519` too). Ed448
//!   (`edwards448`, 1.3.101.113) is `CKR_CURVE_NOT_SUPPORTED`: no crate fit for a
//!   release offers it (see `crypto::edwards`).
//! - `CKM_EDDSA` without a parameter, or with a `CK_EDDSA_PARAMS` whose
//!   `phFlag` is false and whose context is empty, is pure Ed25519; `phFlag`
//!   false with a context is Ed25519ctx; `phFlag` true is Ed25519ph (the token
//!   hashes the data with SHA-512) with the context, empty or not. A context
//!   longer than 255 bytes is `CKR_MECHANISM_PARAM_INVALID`.
//! - The data is the message: single-part and multi-part (the parts are
//!   gathered, since EdDSA reads the message twice), at most
//!   [`MAX_MESSAGE`] bytes (`CKR_DATA_LEN_RANGE` beyond).
//! - Signatures are 64 bytes; another length on verify is
//!   `CKR_SIGNATURE_LEN_RANGE`.

use crate::crypto::edwards::{self, Ed25519Private, Ed25519Public, Form, SIG_LEN};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::keys::{ed_private, ed_private_template, ed_public};
use crate::mechanism::{Generated, Mechanism, Param, SignOp, VerifyOp};
use crate::object::attr::Template;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The longest message `CKM_EDDSA` takes in parts (bytes).
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

/// The form of EdDSA a mechanism parameter asks for, with its context.
#[derive(Clone)]
struct Scheme {
    ph: bool,
    context: Vec<u8>,
}

impl Scheme {
    fn from_param(param: &Param) -> Result<Scheme> {
        let s = match param {
            Param::None => Scheme {
                ph: false,
                context: Vec::new(),
            },
            Param::Eddsa { ph, context } => Scheme {
                ph: *ph,
                context: context.clone(),
            },
            _ => return Err(Error::MechanismParamInvalid),
        };
        if s.context.len() > edwards::MAX_CONTEXT {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(s)
    }

    fn form(&self) -> Form<'_> {
        match (self.ph, self.context.is_empty()) {
            (true, _) => Form::Ph(&self.context),
            (false, true) => Form::Pure,
            (false, false) => Form::Ctx(&self.context),
        }
    }
}

/// The message gathered by `Update`.
struct Message(Zeroizing<Vec<u8>>);

impl Message {
    fn add(&mut self, data: &[u8]) -> Result<()> {
        if self.0.len().saturating_add(data.len()) > MAX_MESSAGE {
            return Err(Error::DataLenRange);
        }
        self.0.extend_from_slice(data);
        Ok(())
    }
}

struct EddsaSign {
    key: Arc<Ed25519Private>,
    scheme: Scheme,
    data: Message,
}

impl EddsaSign {
    fn sign_into(&self, msg: &[u8], out: &mut OutBuf) -> Result<()> {
        let Some(buf) = out.reserve(SIG_LEN)? else {
            return Ok(());
        };
        let sig = self.key.sign(self.scheme.form(), msg)?;
        buf.copy_from_slice(&sig);
        Ok(())
    }
}

impl SignOp for EddsaSign {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        self.sign_into(data, out)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.data.add(data)
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let msg = std::mem::take(&mut self.data.0);
        let r = self.sign_into(&msg, out);
        // A size query or a short buffer keeps the message for the next call.
        self.data.0 = msg;
        r
    }
}

/// `C_SignInit` with `CKM_EDDSA`.
pub(super) fn sign_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let scheme = Scheme::from_param(&mech.param)?;
    let key = ed_private(key.key())?;
    Ok(Box::new(EddsaSign {
        key,
        scheme,
        data: Message(Zeroizing::new(Vec::new())),
    }))
}

struct EddsaVerify {
    key: Arc<Ed25519Public>,
    scheme: Scheme,
    data: Message,
}

impl VerifyOp for EddsaVerify {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        self.key.verify(self.scheme.form(), data, signature)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.data.add(data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        self.key.verify(self.scheme.form(), &self.data.0, signature)
    }
}

/// `C_VerifyInit` with `CKM_EDDSA`.
pub(super) fn verify_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let scheme = Scheme::from_param(&mech.param)?;
    let key = ed_public(key.key())?;
    Ok(Box::new(EddsaVerify {
        key,
        scheme,
        data: Message(Zeroizing::new(Vec::new())),
    }))
}

/// `CKM_EC_EDWARDS_KEY_PAIR_GEN` (§2.3.11): the curve from `CKA_EC_PARAMS` of
/// the public template (missing → `CKR_TEMPLATE_INCOMPLETE`, not Ed25519 →
/// `CKR_CURVE_NOT_SUPPORTED`). `CKA_EC_POINT` is the raw 32-byte public key.
pub(super) fn generate_key_pair(
    _mech: &Mechanism,
    public: &Template,
    _private: &Template,
) -> Result<(Generated, Generated)> {
    let params = super::pair_params(public)?;
    edwards::check_params(params)?;
    let key = Ed25519Private::generate()?;
    let point = key.public().bytes().to_vec();
    Ok((
        super::public_key(CKK_EC_EDWARDS, params, point),
        ed_private_template(&key, Some(params)),
    ))
}
