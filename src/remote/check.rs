//! What the server checks on a client's mechanisms and templates before the
//! module sees them: the same limits the C interface applies while it reads
//! a caller's structures (`ffi/marshal.rs`), so that a mechanism gets the
//! same inputs whichever way a call arrived. A remote client is as hostile
//! as any caller.

use crate::error::{Error, Result};
use crate::kms::envelope::MAX_CONTEXT_LEN;
use crate::mechanism::kdf::sp800_108::{PrfData, MAX_ADDITIONAL_KEYS, MAX_DATA_PARAMS};
use crate::mechanism::limits::*;
use crate::mechanism::{registry, Mechanism, Param, ParamKind};
use crate::object::attr::{self, Template};

/// Most levels of templates inside templates (as `ffi/marshal.rs`).
const MAX_NESTING: usize = 1;

/// A template: at most `MAX_TEMPLATE_ATTRS` attributes and
/// `MAX_TEMPLATE_BYTES` of values, nested templates well formed and one
/// level deep at most.
pub fn template(t: &Template) -> Result<()> {
    let mut budget = MAX_TEMPLATE_BYTES;
    template_at(t, 0, &mut budget)
}

fn template_at(t: &Template, depth: usize, budget: &mut usize) -> Result<()> {
    if t.len() > MAX_TEMPLATE_ATTRS {
        return Err(Error::ArgumentsBad);
    }
    for a in t {
        if a.value.len() > MAX_VALUE_LEN || a.value.len() > *budget {
            return Err(Error::AttributeValueInvalid(a.ty));
        }
        *budget -= a.value.len();
        if attr::is_template_attribute(a.ty) {
            if depth >= MAX_NESTING {
                return Err(Error::AttributeValueInvalid(a.ty));
            }
            let inner =
                attr::decode_template(&a.value).ok_or(Error::AttributeValueInvalid(a.ty))?;
            template_at(&inner, depth + 1, budget)?;
        }
    }
    Ok(())
}

/// A mechanism of a remote call: a registered type, and a parameter of the
/// form its registry row reads, within the limits of `ffi/marshal.rs`.
pub fn mechanism(m: &Mechanism) -> Result<()> {
    let def = registry::get(m.mech)?;
    param(def.param, &m.param)
}

/// A mechanism of `C_MessageEncryptInit`/`C_MessageDecryptInit`: the
/// parameter comes with each message.
pub fn message_mechanism(m: &Mechanism) -> Result<()> {
    registry::get(m.mech)?;
    match m.param {
        Param::None => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// The per-message parameter of the message functions.
pub fn message_param(p: &Param) -> Result<()> {
    match p {
        Param::GcmMessage {
            iv, tag_bits, tag, ..
        } if iv.len() <= MAX_IV_LEN && *tag_bits <= GCM_MAX_TAG_BITS && tag.len() <= 16 => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

fn within(b: &[u8], max: usize) -> Result<()> {
    if b.len() > max {
        Err(Error::MechanismParamInvalid)
    } else {
        Ok(())
    }
}

fn param(kind: ParamKind, p: &Param) -> Result<()> {
    let bad = Err(Error::MechanismParamInvalid);
    match (kind, p) {
        (ParamKind::None, Param::None) | (ParamKind::OptionalBytes, Param::None) => Ok(()),
        (ParamKind::Bytes | ParamKind::OptionalBytes, Param::Bytes(b)) => within(b, MAX_IV_LEN),
        (ParamKind::Ulong, Param::Ulong(_)) => Ok(()),
        (ParamKind::Gcm, Param::Gcm { iv, aad, .. }) => {
            within(iv, MAX_IV_LEN)?;
            within(aad, MAX_PARAM_DATA_LEN)
        }
        (ParamKind::Ctr, Param::Ctr { .. }) | (ParamKind::Pss, Param::Pss { .. }) => Ok(()),
        (ParamKind::Oaep, p @ Param::Oaep { .. }) => oaep(p),
        (ParamKind::RsaAesKeyWrap, Param::RsaAesKeyWrap { label, .. }) => {
            within(label, MAX_PARAM_DATA_LEN)
        }
        (
            ParamKind::Ecdh1,
            Param::Ecdh1 {
                shared_data,
                public_data,
                ..
            },
        ) => {
            within(shared_data, MAX_PARAM_DATA_LEN)?;
            within(public_data, MAX_EC_POINT_LEN)
        }
        (ParamKind::Eddsa, Param::None) => Ok(()),
        (ParamKind::Eddsa, Param::Eddsa { context, .. }) => within(context, MAX_EDDSA_CONTEXT_LEN),
        (ParamKind::Hkdf, Param::Hkdf { salt, info, .. }) => {
            within(salt, MAX_PARAM_DATA_LEN)?;
            within(info, MAX_PARAM_DATA_LEN)
        }
        (ParamKind::StringData, Param::Bytes(b)) => within(b, MAX_PARAM_DATA_LEN),
        (ParamKind::ObjectHandle, Param::Key(_)) => Ok(()),
        (ParamKind::AesCbcEncryptData, Param::AesCbcEncryptData { data, .. }) => {
            within(data, MAX_PARAM_DATA_LEN)
        }
        (ParamKind::Sp800108 | ParamKind::Sp800108Feedback, Param::Kbkdf(k)) => {
            if kind == ParamKind::Sp800108 && !k.iv.is_empty() {
                return bad;
            }
            if k.data.len() > MAX_DATA_PARAMS || k.additional.len() > MAX_ADDITIONAL_KEYS {
                return bad;
            }
            let mut budget = MAX_KBKDF_INPUT;
            let bytes = k.data.iter().map(|d| match d {
                PrfData::Bytes(b) if b.is_empty() => usize::MAX,
                PrfData::Bytes(b) => b.len(),
                _ => 0,
            });
            for n in std::iter::once(k.iv.len()).chain(bytes) {
                budget = budget.checked_sub(n).ok_or(Error::MechanismParamInvalid)?;
            }
            let mut template_budget = MAX_TEMPLATE_BYTES;
            for a in &k.additional {
                template_at(&a.template, 0, &mut template_budget)?;
            }
            Ok(())
        }
        (ParamKind::GcmMessage, p) => message_param(p),
        (ParamKind::Envelope, Param::Envelope { context }) => within(context, MAX_CONTEXT_LEN),
        (ParamKind::SignContext, Param::None) => Ok(()),
        (ParamKind::SignContext, Param::SignContext { context, .. })
        | (ParamKind::HashSignContext, Param::HashSignContext { context, .. }) => {
            within(context, MAX_SIGN_CONTEXT_LEN)
        }
        (
            ParamKind::GenerateDataKey,
            Param::GenerateDataKey {
                context,
                wrapped,
                needed,
                ..
            },
        ) if wrapped.is_empty() && *needed == 0 => within(context, MAX_CONTEXT_LEN),
        _ => bad,
    }
}

fn oaep(p: &Param) -> Result<()> {
    match p {
        Param::Oaep { label, .. } => within(label, MAX_PARAM_DATA_LEN),
        _ => Err(Error::MechanismParamInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::attr::Attribute;
    use cryptoki_sys::*;

    fn m(mech: CK_MECHANISM_TYPE, param: Param) -> Mechanism {
        Mechanism { mech, param }
    }

    #[test]
    fn parameters_must_fit_the_registry_and_the_limits() {
        let gcm = |iv: usize| Param::Gcm {
            iv: vec![0; iv],
            aad: Vec::new(),
            tag_bits: 128,
        };
        assert!(mechanism(&m(CKM_AES_GCM, gcm(12))).is_ok());
        assert_eq!(
            mechanism(&m(CKM_AES_GCM, gcm(MAX_IV_LEN + 1))),
            Err(Error::MechanismParamInvalid)
        );
        // A parameter of another form than the row reads.
        assert_eq!(
            mechanism(&m(CKM_AES_GCM, Param::Bytes(vec![0; 16]))),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            mechanism(&m(CKM_SHA256, Param::Ulong(3))),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            mechanism(&m(0xdead_beef, Param::None)),
            Err(Error::MechanismInvalid)
        );
        let ed = |n: usize| Param::Eddsa {
            ph: false,
            context: vec![0; n],
        };
        assert!(mechanism(&m(CKM_EDDSA, ed(255))).is_ok());
        assert!(mechanism(&m(CKM_EDDSA, ed(256))).is_err());
        // Output fields of the data-key parameter must come empty.
        let gdk = Param::GenerateDataKey {
            context: Vec::new(),
            capacity: Some(10),
            wrapped: vec![1],
            needed: 0,
        };
        assert!(mechanism(&m(crate::abi::CKM_SOFTKMS_GENERATE_DATA_KEY, gdk)).is_err());
    }

    #[test]
    fn templates_are_bounded_and_nested_once() {
        let inner = attr::encode_template(&[Attribute::bool(CKA_ENCRYPT, true)]);
        let ok = vec![Attribute::new(CKA_WRAP_TEMPLATE, inner.to_vec())];
        assert!(template(&ok).is_ok());
        let deeper = attr::encode_template(&[Attribute::new(CKA_WRAP_TEMPLATE, inner.to_vec())]);
        assert!(template(&vec![Attribute::new(CKA_WRAP_TEMPLATE, deeper.to_vec())]).is_err());
        assert!(template(&vec![Attribute::new(CKA_WRAP_TEMPLATE, vec![1, 2, 3])]).is_err());
        let many = vec![Attribute::bool(CKA_TOKEN, true); MAX_TEMPLATE_ATTRS + 1];
        assert_eq!(template(&many), Err(Error::ArgumentsBad));
    }
}
