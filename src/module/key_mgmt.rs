//! Key management (PKCS#11 3.0 §5.18) and random numbers (§5.19):
//! generate, wrap, unwrap, derive.

use super::key_use::SessionKeys;
use super::{random_uid, Module};
use crate::error::{Error, Result};
use crate::gate::{self, Granted, Request, Use};
use crate::mechanism::{keys, registry, DeriveFn, DerivedAttrs, Mechanism, Param};
use crate::object::attr::{Attribute, Template};
use crate::object::rules::{self, Origin};
use crate::object::{AttrMap, Object};
use crate::outbuf::OutBuf;
use crate::session::Session;
use crate::token::Token;
use cryptoki_sys::*;

impl Module {
    /// `C_GenerateKey` (§5.18.1).
    pub fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if let Some(r) = self.remote(h) {
            return r.generate_key(h, mech, template);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = self.mechanism(mech.mech)?;
        let gen = def.functions.generate_key.ok_or(Error::MechanismInvalid)?;
        let generated = gen(mech, template)?;
        let origin = Origin::Generate {
            mechanism: mech.mech,
        };
        let attrs =
            rules::new_object(template, origin, &generated, &random_uid()?, Self::is_so(t))?;
        self.add_object("C_GenerateKey", &s, t, attrs)
    }

    /// `C_GenerateKeyPair` (§5.18.2): (public, private).
    pub fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        public: &Template,
        private: &Template,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        if let Some(r) = self.remote(h) {
            return r.generate_key_pair(h, mech, public, private);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = self.mechanism(mech.mech)?;
        let gen = def
            .functions
            .generate_key_pair
            .ok_or(Error::MechanismInvalid)?;
        def.check_requested_size(public, private)?;
        let (gpub, gpriv) = gen(mech, public, private)?;
        let origin = Origin::Generate {
            mechanism: mech.mech,
        };
        let so = Self::is_so(t);
        let pub_attrs = rules::new_object(public, origin, &gpub, &random_uid()?, so)?;
        let priv_attrs = rules::new_object(private, origin, &gpriv, &random_uid()?, so)?;
        let hpub = self.add_object("C_GenerateKeyPair", &s, t, pub_attrs)?;
        match self.add_object("C_GenerateKeyPair", &s, t, priv_attrs) {
            Ok(hpriv) => Ok((hpub, hpriv)),
            Err(e) => {
                // Keep the pair whole: undo the public half.
                if let Ok(o) = self.object(t, hpub, Error::ObjectHandleInvalid) {
                    if o.is_token() {
                        let _ = t.unpersist(
                            &o,
                            &self
                                .rec(t, "C_GenerateKeyPair", h)
                                .with_reason("undone: the private half failed"),
                        );
                    } else {
                        t.state.write().objects.remove(hpub);
                    }
                }
                Err(e)
            }
        }
    }

    /// `C_WrapKey` (§5.18.3). Both keys pass the key gate: the wrapping key for
    /// `CKA_WRAP`, the wrapped key as an export of its material.
    pub fn wrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        wrapping_key: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        out: &mut OutBuf,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.wrap_key(h, mech, wrapping_key, key, out);
        }
        let (_s, t) = self.session(h)?;
        let def = self.mechanism(mech.mech)?;
        let wrap = def.functions.wrap.ok_or(Error::MechanismInvalid)?;
        // Under the envelope, a key the module generated in a session is a
        // fresh data key (pair): GenerateDataKey suffices (`gate::Use`).
        let generated = mech.mech == crate::abi::CKM_SOFTKMS_ENVELOPE
            && gate::lookup(t, key, Error::KeyHandleInvalid)
                .is_ok_and(|k| !k.is_token() && k.flag(CKA_LOCAL, false));
        let reqs = [
            Request {
                handle: wrapping_key,
                what: if generated {
                    Use::WrapGenerated
                } else {
                    Use::Wrap
                },
                mech: mech.mech,
                key_types: def.key_types,
                context: mech.param.context(),
                caller_iv: registry::caller_chooses_iv(mech.mech),
                invalid: Error::WrappingKeyHandleInvalid,
            },
            Request {
                handle: key,
                what: Use::Export,
                mech: mech.mech,
                key_types: &[],
                context: mech.param.context(),
                caller_iv: false,
                invalid: Error::KeyHandleInvalid,
            },
        ];
        gate::using(t, h, "C_WrapKey", &reqs, |both| {
            let [wk, k] = both else {
                return Err(Error::General(
                    "the gate granted another number of keys".into(),
                ));
            };
            let k = k.key();
            rules::check_wrappable(wk.key(), k)?;
            let bytes = match k.class() {
                Some(CKO_SECRET_KEY) => zeroize::Zeroizing::new(
                    k.get(CKA_VALUE).ok_or(Error::KeyNotWrappable)?.to_vec(),
                ),
                Some(CKO_PRIVATE_KEY) => keys::private_key_to_pkcs8(k)?,
                _ => return Err(Error::KeyNotWrappable),
            };
            let wrapped = wrap(mech, wk, &bytes)?;
            out.write(&wrapped).map(|_| ())
        })
    }

    /// `C_UnwrapKey` (§5.18.4).
    pub fn unwrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        unwrapping_key: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if let Some(r) = self.remote(h) {
            return r.unwrap_key(h, mech, unwrapping_key, wrapped, template);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = self.mechanism(mech.mech)?;
        let unwrap = def.functions.unwrap.ok_or(Error::MechanismInvalid)?;
        let invalid = Error::UnwrappingKeyHandleInvalid;
        self.use_key(
            t,
            h,
            "C_UnwrapKey",
            &def,
            mech,
            unwrapping_key,
            Use::Unwrap,
            invalid,
            |uk| {
                let template = rules::apply_unwrap_template(uk.key(), template)?;
                let class = template
                    .iter()
                    .find(|a| a.ty == CKA_CLASS)
                    .ok_or(Error::TemplateIncomplete { missing: CKA_CLASS })?
                    .as_ulong()?;
                let bytes = if registry::tries_versions(mech.mech) {
                    let mut result = Err(Error::WrappedKeyInvalid);
                    for k in uk.each_version() {
                        result = unwrap(mech, &k, wrapped);
                        if result.is_ok() {
                            break;
                        }
                    }
                    result?
                } else {
                    unwrap(mech, uk, wrapped)?
                };
                let generated = match class {
                    CKO_SECRET_KEY => vec![Attribute::new(CKA_VALUE, bytes.to_vec())],
                    CKO_PRIVATE_KEY => keys::private_key_from_pkcs8(&bytes)?,
                    _ => {
                        return Err(Error::TemplateInconsistent(
                            "only secret and private keys unwrap",
                        ))
                    }
                };
                let attrs = rules::new_object(
                    &template,
                    Origin::Unwrap,
                    &generated,
                    &random_uid()?,
                    Self::is_so(t),
                )?;
                self.add_object("C_UnwrapKey", &s, t, attrs)
            },
        )
    }

    /// `C_DeriveKey` (§5.18.5). `mech` may carry output fields (vendor mechanisms).
    pub fn derive_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &mut Mechanism,
        base_key: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if let Some(r) = self.remote(h) {
            return r.derive_key(h, mech, base_key, template);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = self.mechanism(mech.mech)?;
        let derive = def.functions.derive.ok_or(Error::MechanismInvalid)?;
        self.derive_with(t, h, &def, mech, base_key, |mech, base, lookup| {
            if mech.mech == CKM_HKDF_DATA {
                self.derive_data(&s, t, mech, derive, base, lookup, template)
            } else {
                let rule = def.derived_attrs;
                self.derive_object(&s, t, rule, mech, derive, base, lookup, template)
            }
        })
    }

    /// `C_DeriveKey` of key objects from a base key the gate granted: the
    /// template's key, and the additional keys a parameter asks for (the SP
    /// 800-108 KDFs). Every key is made or none; the additional keys' handles
    /// go back into the parameter. The derived keys' sensitivity and
    /// extractability follow the row's [`DerivedAttrs`] rule, over the base key
    /// and every key the parameter named.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn derive_object(
        &self,
        s: &Session,
        t: &Token,
        rule: DerivedAttrs,
        mech: &mut Mechanism,
        derive: DeriveFn,
        base: &Granted,
        lookup: &SessionKeys,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let template = rules::apply_derive_template(base.key(), template)?;
        let value_len = template_len(&template)?;
        if let Param::Kbkdf(p) = &mut mech.param {
            for a in &mut p.additional {
                a.template = rules::apply_derive_template(base.key(), &a.template)?;
                a.len = template_len(&a.template)?;
            }
        }
        let bytes = derive(mech, base, value_len, lookup)?;
        let inputs: Vec<&Object> = std::iter::once(base.key().as_ref())
            .chain(lookup.granted.iter().map(|(_, g)| g.key().as_ref()))
            .collect();
        let so = Self::is_so(t);
        let mut all = vec![derived_object(rule, &inputs, &template, &bytes, so)?];
        if let Param::Kbkdf(p) = &mut mech.param {
            for a in &mut p.additional {
                let v = a
                    .value
                    .take()
                    .ok_or(Error::General("KBKDF left an additional key out".into()))?;
                all.push(derived_object(rule, &inputs, &a.template, &v.0, so)?);
            }
        }
        let handles = self.add_objects_or_none(s, t, all)?;
        if let Param::Kbkdf(p) = &mut mech.param {
            for (a, h) in p.additional.iter_mut().zip(handles.iter().skip(1)) {
                a.handle = *h;
            }
        }
        handles
            .first()
            .copied()
            .ok_or(Error::General("no derived key".into()))
    }

    /// Adds `objects` in order; when one fails, those already added are taken
    /// out again (token objects unpersisted with an audit record), so that
    /// either all exist or none.
    fn add_objects_or_none(
        &self,
        s: &Session,
        t: &Token,
        objects: Vec<AttrMap>,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let mut made = Vec::with_capacity(objects.len());
        for attrs in objects {
            match self.add_object("C_DeriveKey", s, t, attrs) {
                Ok(h) => made.push(h),
                Err(e) => {
                    for h in made {
                        if let Ok(o) = self.object(t, h, Error::ObjectHandleInvalid) {
                            if o.is_token() {
                                let _ = t.unpersist(
                                    &o,
                                    &self
                                        .rec(t, "C_DeriveKey", s.handle)
                                        .with_reason("undone: another derived key failed"),
                                );
                            } else {
                                t.state.write().objects.remove(h);
                            }
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(made)
    }

    /// CKM_HKDF_DATA (PKCS#11 3.0 §2.43.3): HKDF derive whose output is a
    /// CKO_DATA object holding the derived bytes. The template names the
    /// length with CKA_VALUE_LEN, which a data object does not have, so it is
    /// taken out; CKA_CLASS defaults to CKO_DATA and no other class is allowed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn derive_data(
        &self,
        s: &Session,
        t: &Token,
        mech: &mut Mechanism,
        derive: DeriveFn,
        base: &Granted,
        lookup: &SessionKeys,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let mut template = template.clone();
        let mut value_len = None;
        if let Some(i) = template.iter().position(|a| a.ty == CKA_VALUE_LEN) {
            let a = template.remove(i);
            value_len = Some(derived_len(a.as_ulong()?)?);
        }
        match template.iter().find(|a| a.ty == CKA_CLASS) {
            Some(a) if a.as_ulong()? != CKO_DATA => {
                return Err(Error::TemplateInconsistent(
                    "CKM_HKDF_DATA makes a CKO_DATA object",
                ))
            }
            Some(_) => {}
            None => template.push(Attribute::ulong(CKA_CLASS, CKO_DATA)),
        }
        let bytes = derive(mech, base, value_len, lookup)?;
        let generated = vec![Attribute::new(CKA_VALUE, bytes.to_vec())];
        let attrs = rules::new_object(
            &template,
            Origin::Derive,
            &generated,
            &random_uid()?,
            Self::is_so(t),
        )?;
        self.add_object("C_DeriveKey", s, t, attrs)
    }

    /// `C_EncapsulateKey` (PKCS#11 3.2 §5.18.7): encapsulates with the public
    /// key `public` (through the key gate, `CKA_ENCAPSULATE`), writes the
    /// ciphertext to `out` and makes the shared secret a key object from
    /// `template`. A size query or a short buffer makes no key (`Ok(None)`, or
    /// `CKR_BUFFER_TOO_SMALL`).
    pub fn encapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        public: CK_OBJECT_HANDLE,
        template: &Template,
        out: &mut OutBuf,
    ) -> Result<Option<CK_OBJECT_HANDLE>> {
        if let Some(r) = self.remote(h) {
            return r.encapsulate_key(h, mech, public, template, out);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = &self.mechanism(mech.mech)?;
        let encapsulate = def.functions.encapsulate.ok_or(Error::MechanismInvalid)?;
        let invalid = Error::KeyHandleInvalid;
        self.use_key(
            t,
            h,
            "C_EncapsulateKey",
            def,
            mech,
            public,
            Use::Encapsulate,
            invalid,
            |k| {
                let value_len = shared_key_len(template)?;
                let Some(secret) = encapsulate(mech, k, out)? else {
                    return Ok(None);
                };
                let h = self.shared_key_object(
                    &s,
                    t,
                    "C_EncapsulateKey",
                    k,
                    &secret,
                    value_len,
                    template,
                )?;
                Ok(Some(h))
            },
        )
    }

    /// `C_DecapsulateKey` (PKCS#11 3.2 §5.18.8): decapsulates `ciphertext` with
    /// the private key `private` (through the key gate, `CKA_DECAPSULATE`) and
    /// makes the shared secret a key object from `template`.
    pub fn decapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        private: CK_OBJECT_HANDLE,
        template: &Template,
        ciphertext: &[u8],
    ) -> Result<CK_OBJECT_HANDLE> {
        if let Some(r) = self.remote(h) {
            return r.decapsulate_key(h, mech, private, template, ciphertext);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let def = &self.mechanism(mech.mech)?;
        let decapsulate = def.functions.decapsulate.ok_or(Error::MechanismInvalid)?;
        let invalid = Error::KeyHandleInvalid;
        self.use_key(
            t,
            h,
            "C_DecapsulateKey",
            def,
            mech,
            private,
            Use::Decapsulate,
            invalid,
            |k| {
                let value_len = shared_key_len(template)?;
                let secret = decapsulate(mech, k, ciphertext)?;
                self.shared_key_object(&s, t, "C_DecapsulateKey", k, &secret, value_len, template)
            },
        )
    }

    /// The secret key object of an encapsulation's shared secret: its first
    /// `value_len` bytes (the template's `CKA_VALUE_LEN`) or all of it, with
    /// the object rules of a derived key. `CKA_ALWAYS_SENSITIVE` and
    /// `CKA_NEVER_EXTRACTABLE` follow the key pair's key as for a derivation
    /// (FALSE from a public key).
    #[allow(clippy::too_many_arguments)]
    fn shared_key_object(
        &self,
        s: &Session,
        t: &Token,
        function: &'static str,
        key: &Granted,
        secret: &[u8],
        value_len: Option<usize>,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let value = match value_len {
            Some(n) if n == 0 || n > secret.len() => return Err(Error::KeySizeRange),
            Some(n) => &secret[..n],
            None => secret,
        };
        let flag = |ty| {
            template
                .iter()
                .find(|a| a.ty == ty)
                .and_then(|a| a.as_bool().ok())
        };
        let key = key.key();
        let generated = vec![
            Attribute::new(CKA_VALUE, value.to_vec()),
            Attribute::bool(
                CKA_ALWAYS_SENSITIVE,
                key.flag(CKA_ALWAYS_SENSITIVE, false) && flag(CKA_SENSITIVE).unwrap_or(false),
            ),
            Attribute::bool(
                CKA_NEVER_EXTRACTABLE,
                key.flag(CKA_NEVER_EXTRACTABLE, false) && !flag(CKA_EXTRACTABLE).unwrap_or(true),
            ),
        ];
        let attrs = rules::new_object(
            template,
            Origin::Derive,
            &generated,
            &random_uid()?,
            Self::is_so(t),
        )?;
        self.add_object(function, s, t, attrs)
    }

    /// `C_SeedRandom` (§5.19.1): the seed is folded into the pool that
    /// `C_GenerateRandom` mixes into the OS generator's bytes
    /// (`mechanism::rng`).
    pub fn seed_random(&self, h: CK_SESSION_HANDLE, seed: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.seed_random(h, seed);
        }
        self.session(h)?;
        crate::mechanism::rng::seed(seed);
        Ok(())
    }

    /// `C_GenerateRandom` (§5.19.2).
    pub fn generate_random(&self, h: CK_SESSION_HANDLE, buf: &mut [u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.generate_random(h, buf);
        }
        self.session(h)?;
        crate::mechanism::rng::fill(buf)
    }
}

/// The length the template asks of a shared-secret key (`CKA_VALUE_LEN`).
fn shared_key_len(template: &Template) -> Result<Option<usize>> {
    match template.iter().find(|a| a.ty == CKA_VALUE_LEN) {
        Some(a) => Ok(Some(derived_len(a.as_ulong()?)?)),
        None => Ok(None),
    }
}

/// A derived key's length from the template (`CKA_VALUE_LEN`), checked against
/// the longest key any derive mechanism makes before anything is allocated.
fn derived_len(v: CK_ULONG) -> Result<usize> {
    usize::try_from(v)
        .ok()
        .filter(|n| *n <= crate::mechanism::MAX_DERIVED_LEN)
        .ok_or(Error::AttributeValueInvalid(CKA_VALUE_LEN))
}

/// The usage attributes of a secret key.
const USAGES: [CK_ATTRIBUTE_TYPE; 6] = [
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
];

/// A derived key's length from its template (`CKA_VALUE_LEN`, checked against
/// the longest key any derive mechanism makes), `None` without one.
fn template_len(template: &Template) -> Result<Option<usize>> {
    match template.iter().find(|a| a.ty == CKA_VALUE_LEN) {
        Some(a) => Ok(Some(derived_len(a.as_ulong()?)?)),
        None => Ok(None),
    }
}

/// The boolean a template gives `ty`, if it does (a malformed one is
/// `CKR_ATTRIBUTE_VALUE_INVALID`).
fn template_bool(template: &Template, ty: CK_ATTRIBUTE_TYPE) -> Result<Option<bool>> {
    template
        .iter()
        .find(|a| a.ty == ty)
        .map(|a| a.as_bool().map_err(|_| Error::AttributeValueInvalid(ty)))
        .transpose()
}

/// The attributes of one derived key: the template (with `CKA_CLASS` and
/// `CKA_KEY_TYPE` defaulting to a generic secret key, §2.43.x), the value,
/// and `CKA_SENSITIVE`, `CKA_EXTRACTABLE`, `CKA_ALWAYS_SENSITIVE`,
/// `CKA_NEVER_EXTRACTABLE` by `rule` over the `inputs` (the base key first).
fn derived_object(
    rule: DerivedAttrs,
    inputs: &[&Object],
    template: &Template,
    value: &[u8],
    so: bool,
) -> Result<AttrMap> {
    let base = inputs
        .first()
        .ok_or(Error::General("a derivation without a base key".into()))?;
    let any = |ty, default| inputs.iter().any(|k| k.flag(ty, default));
    let all = |ty, default| inputs.iter().all(|k| k.flag(ty, default));
    let asked_sensitive = template_bool(template, CKA_SENSITIVE)?;
    let asked_extractable = template_bool(template, CKA_EXTRACTABLE)?;
    let (sensitive, extractable) = match rule {
        // The token's defaults for a derived key: not sensitive, extractable
        // (docs/mechanisms.md, "Defaults of new keys").
        DerivedAttrs::Template => (
            asked_sensitive.unwrap_or(false),
            asked_extractable.unwrap_or(true),
        ),
        DerivedAttrs::FromBase => (
            asked_sensitive.unwrap_or_else(|| base.flag(CKA_SENSITIVE, false)),
            asked_extractable.unwrap_or_else(|| base.flag(CKA_EXTRACTABLE, false)),
        ),
        DerivedAttrs::Contained => (
            any(CKA_SENSITIVE, false) || asked_sensitive.unwrap_or(false),
            all(CKA_EXTRACTABLE, false) && asked_extractable.unwrap_or(true),
        ),
    };
    let template: Template = template
        .iter()
        .filter(|a| a.ty != CKA_SENSITIVE && a.ty != CKA_EXTRACTABLE)
        .cloned()
        .collect();
    let mut generated = vec![
        Attribute::new(CKA_VALUE, value.to_vec()),
        Attribute::bool(CKA_SENSITIVE, sensitive),
        Attribute::bool(CKA_EXTRACTABLE, extractable),
        Attribute::bool(
            CKA_ALWAYS_SENSITIVE,
            all(CKA_ALWAYS_SENSITIVE, false) && sensitive,
        ),
        Attribute::bool(
            CKA_NEVER_EXTRACTABLE,
            all(CKA_NEVER_EXTRACTABLE, false) && !extractable,
        ),
    ];
    if rule != DerivedAttrs::Template {
        // These derivations make keys for the uses their template names, and
        // no other (footnote 9 leaves the default to the token).
        for ty in USAGES {
            if !template.iter().any(|a| a.ty == ty) {
                generated.push(Attribute::bool(ty, false));
            }
        }
    }
    if !template.iter().any(|a| a.ty == CKA_CLASS) {
        generated.push(Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY));
    }
    if !template.iter().any(|a| a.ty == CKA_KEY_TYPE) {
        generated.push(Attribute::ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET));
    }
    rules::new_object(&template, Origin::Derive, &generated, &random_uid()?, so)
}
