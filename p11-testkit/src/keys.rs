//! `cryptoki`-level helpers that several black-box tests share: managed keys
//! made with a plain template (as any client would), vendor attributes, the
//! envelope mechanism and data keys.

use crate::sys::{CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE, CK_ULONG};
use crate::vendor::{
    EnvelopeParams, GdkParams, CKA_SOFTKMS_POLICY, CKM_SOFTKMS_ENVELOPE,
    CKM_SOFTKMS_GENERATE_DATA_KEY,
};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use std::cell::UnsafeCell;

/// A vendor attribute with raw bytes.
pub fn vendor_attr(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attribute {
    Attribute::VendorDefined((AttributeType::VendorDefined(ty), v.to_vec()))
}

/// A `CK_ULONG` vendor attribute.
pub fn vendor_ulong(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Attribute {
    vendor_attr(ty, &v.to_ne_bytes())
}

/// A `CK_BBOOL` vendor attribute.
pub fn vendor_bool(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Attribute {
    vendor_attr(ty, &[u8::from(v)])
}

/// A vendor mechanism pointing at `params`, which must outlive every use of it.
pub fn vendor_mechanism<T>(ty: CK_MECHANISM_TYPE, params: &T) -> Mechanism<'_> {
    let ty = MechanismType::new_vendor_defined(ty).expect("a vendor mechanism type");
    Mechanism::VendorDefined(VendorDefinedMechanism::new(ty, Some(params)))
}

/// `CKM_SOFTKMS_ENVELOPE` with `params`.
pub fn envelope(params: &EnvelopeParams) -> Mechanism<'_> {
    vendor_mechanism(CKM_SOFTKMS_ENVELOPE, params)
}

/// A managed key (docs/kms.md): a token AES-256 key generated with a plain
/// template, sensitive and not extractable, for encryption and decryption
/// (envelope encryption included). The options cover what the tests need:
///
/// ```ignore
/// let k = ManagedKey::new("orders").all_usages().generate(&session);
/// let k = ManagedKey::new("hr").policy(POLICY).generate(&session);
/// ```
#[derive(Clone, Debug)]
pub struct ManagedKey {
    template: Vec<Attribute>,
}

impl ManagedKey {
    /// Token, `label`, 32 bytes, sensitive, not extractable, encrypt, decrypt.
    pub fn new(label: &str) -> ManagedKey {
        ManagedKey {
            template: vec![
                Attribute::Token(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::ValueLen(32.into()),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        }
    }

    /// Also wrap, unwrap and derive (data keys, `C_WrapKey`/`C_UnwrapKey`).
    pub fn all_usages(mut self) -> ManagedKey {
        self.template.extend([
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Derive(true),
        ]);
        self
    }

    /// With a key policy (`CKA_SOFTKMS_POLICY`, docs/policy.md).
    pub fn policy(self, json: &str) -> ManagedKey {
        self.with(&[vendor_attr(CKA_SOFTKMS_POLICY, json.as_bytes())])
    }

    /// With more attributes, appended as given.
    pub fn with(mut self, extra: &[Attribute]) -> ManagedKey {
        self.template.extend_from_slice(extra);
        self
    }

    /// The template `C_GenerateKey` gets.
    pub fn template(&self) -> &[Attribute] {
        &self.template
    }

    /// `C_GenerateKey` with `CKM_AES_KEY_GEN`; panics when the module refuses.
    pub fn generate(&self, s: &Session) -> ObjectHandle {
        s.generate_key(&Mechanism::AesKeyGen, &self.template)
            .expect("generate a managed key")
    }
}

/// `CKM_SOFTKMS_GENERATE_DATA_KEY` (`C_DeriveKey`) on the managed key `k` with
/// the encryption context `context`: the data key made from `template`, the
/// wrapped form (an envelope message) and the length the module reported in
/// `ulWrappedKeyLen`. `cap` is the size of the output buffer; `None` passes a
/// null pointer (the length query).
pub fn generate_data_key(
    s: &Session,
    k: ObjectHandle,
    context: &[u8],
    cap: Option<usize>,
    template: &[Attribute],
) -> (cryptoki::error::Result<ObjectHandle>, Vec<u8>, usize) {
    let mut buf = vec![0u8; cap.unwrap_or(0)];
    let params = UnsafeCell::new(GdkParams {
        p_context: context.as_ptr(),
        ul_context_len: crate::ulen(context.len()),
        p_wrapped: if cap.is_some() {
            buf.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        },
        ul_wrapped_len: crate::ulen(buf.len()),
    });
    // The module writes the output length through the parameter pointer, so
    // the parameter lives in an `UnsafeCell`.
    let mech = vendor_mechanism(CKM_SOFTKMS_GENERATE_DATA_KEY, &params);
    let r = s.derive_key(&mech, k, template);
    // SAFETY: the module wrote the output length into the struct during the
    // call; no reference to it is alive now.
    let len = usize::try_from(unsafe { (*params.get()).ul_wrapped_len }).expect("a length");
    buf.truncate(len.min(buf.len()));
    (r, buf, len)
}
