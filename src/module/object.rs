//! Object management (PKCS#11 3.0 §5.7): create, copy, destroy, attributes,
//! search; and how a new key object is completed and stored.

use super::{random_uid, Module};
use crate::abi::{CKA_SOFTKMS_IMPORT_FROM, CKO_SOFTKMS_PRINCIPAL};
use crate::clock;
use crate::error::{Error, Result};
use crate::gate::{self, Request, Use};
use crate::kms::lifecycle;
use crate::kms::{aliases, policy, principals};
use crate::mechanism::keys;
use crate::object::attr::{decode_ulong, Attribute, Template};
use crate::object::rules::{self, AttrRead, Origin};
use crate::object::{AttrMap, Object};
use crate::session::{FindState, Session};
use crate::store::MAX_CONFLICT_RETRIES;
use crate::token::{new_object_handle, protect_key_material, Login, Token};
use cryptoki_sys::*;
use std::sync::Arc;

impl Module {
    /// Policy checks and bookkeeping for a new key object: its creator, and a
    /// policy given at creation (validated, lock-out check, force stripped).
    pub(super) fn prepare_key_attrs(
        &self,
        tok: &Token,
        h: CK_SESSION_HANDLE,
        attrs: &mut AttrMap,
    ) -> Result<()> {
        let class = attrs
            .get(&CKA_CLASS)
            .and_then(|v| decode_ulong(CKA_CLASS, v).ok());
        if !matches!(
            class,
            Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
        ) {
            return Ok(());
        }
        let force = attrs
            .remove(&crate::abi::CKA_SOFTKMS_POLICY_FORCE)
            .is_some_and(|v| v.first().is_some_and(|b| *b != 0));
        if let Some(p) = attrs.get(&crate::abi::CKA_SOFTKMS_POLICY) {
            if !p.is_empty() {
                policy::check_set(&policy::parse(p)?, force)?;
            }
        }
        if let std::collections::btree_map::Entry::Vacant(e) =
            attrs.entry(crate::abi::CKA_SOFTKMS_CREATOR)
        {
            let creator = tok.state.read().principal(h).to_string();
            e.insert(zeroize::Zeroizing::new(creator.into_bytes()));
        }
        Ok(())
    }

    /// Stores a new object made by the rules: a token object in the file, a
    /// session object in memory. Checks the session may create it.
    pub(super) fn add_object(
        &self,
        function: &str,
        s: &Session,
        tok: &Token,
        mut attrs: AttrMap,
    ) -> Result<CK_OBJECT_HANDLE> {
        if !self.settings.legacy && rules::is_legacy_key(&attrs) {
            // Triple-DES keys exist only with `legacy_mechanisms = true`;
            // otherwise their key type is one the module does not support.
            return Err(Error::AttributeValueInvalid(CKA_KEY_TYPE));
        }
        lifecycle::on_create(&mut attrs, clock::now_unix())?;
        complete_key(&mut attrs)?;
        self.prepare_key_attrs(tok, s.handle, &mut attrs)?;
        let obj = Object::new(0, None, attrs);
        let login = tok.state.read().login.clone();
        if obj.is_token() && !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if obj.is_private() && !matches!(login, Login::User(_)) {
            return Err(Error::UserNotLoggedIn);
        }
        let h = new_object_handle();
        if obj.is_token() {
            tok.persist(h, obj.attrs().clone(), &self.rec(tok, function, s.handle))?;
        } else {
            self.session_object_room(tok, rules::object_size(&obj), None)?;
            let o = Arc::new(Object::new(h, Some(s.handle), obj.attrs().clone()));
            protect_key_material(o.attrs());
            tok.state.write().objects.insert(o);
        }
        Ok(h)
    }

    /// `C_CreateObject` (§5.7).
    pub fn create_object(
        &self,
        h: CK_SESSION_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if let Some(r) = self.remote(h) {
            return r.create_object(h, template);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        t.refresh()?;
        let principal = template
            .iter()
            .any(|a| a.ty == CKA_CLASS && a.as_ulong().ok() == Some(CKO_SOFTKMS_PRINCIPAL));
        if principal {
            return self.create_principal(&s, t, template);
        }
        let alias = template
            .iter()
            .any(|a| a.ty == CKA_CLASS && a.as_ulong().ok() == Some(crate::abi::CKO_SOFTKMS_ALIAS));
        if alias {
            return self.create_alias(&s, t, template);
        }
        let attrs = rules::new_object(
            template,
            Origin::Create,
            &Vec::new(),
            &random_uid()?,
            Self::is_so(t),
        )?;
        self.add_object("C_CreateObject", &s, t, attrs)
    }

    /// `C_CreateObject` of class `CKO_SOFTKMS_PRINCIPAL`: the SO makes a named
    /// principal with its own PIN (`docs/policy.md`). The object itself holds the
    /// name only; the PIN wraps the token master key in the store.
    pub(super) fn create_principal(
        &self,
        s: &Session,
        t: &Token,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if !Self::is_so(t) {
            return Err(Error::UserNotLoggedIn);
        }
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        let p = principals::parse_create(template)?;
        t.check_pin_len(&p.pin)?;
        let rec = self
            .rec(t, "C_CreateObject", s.handle)
            .with_reason(&format!("principal {}", p.name));
        t.add_principal(&p.name, &p.pin, &rec)?;
        let made = rules::new_object(
            &principals::stored_template(&p.name),
            Origin::Create,
            &Vec::new(),
            &random_uid()?,
            true,
        )
        .and_then(|attrs| self.add_object("C_CreateObject", s, t, attrs));
        if made.is_err() {
            let _ = t.remove_principal(&p.name, &rec.clone().with_reason("undone"));
        }
        made
    }

    /// `C_CopyObject` (§5.7). A copy of a key is a use of it (the key gate,
    /// `Use::Copy`: `ManageKey`, and an Enabled key); it keeps every KMS
    /// attribute of its source, so that nothing about a copy is wider than its
    /// source: the template may not name them (`CKR_ATTRIBUTE_READ_ONLY`), but
    /// for a policy, which also needs `SetPolicy`. A managed key, whose versions
    /// and rotation belong to one key, is not copied (`CKR_ACTION_PROHIBITED`).
    pub fn copy_object(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if let Some(r) = self.remote(h) {
            return r.copy_object(h, obj, template);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let src = self.object(t, obj, Error::ObjectHandleInvalid)?;
        if src.class() == Some(CKO_SOFTKMS_PRINCIPAL) {
            return Err(Error::ActionProhibited);
        }
        if aliases::is_alias(&src) {
            log::info!("C_CopyObject: a copy of an alias would be a second alias of its name");
            return Err(Error::ActionProhibited);
        }
        let is_key = matches!(
            src.class(),
            Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
        );
        if !is_key {
            let attrs = rules::copy_object(&src, template, &random_uid()?)?;
            return self.add_object("C_CopyObject", &s, t, attrs);
        }
        let refuse = |e: Error| {
            gate::record_use(
                t,
                h,
                "C_CopyObject",
                0,
                &[],
                src.unique_id(),
                None,
                Some(&e),
            );
            Err(e)
        };
        if src.get(crate::abi::CKA_SOFTKMS_VERSIONS).is_some() {
            log::info!("key {}: a managed key is not copied", src.unique_id());
            return refuse(Error::ActionProhibited);
        }
        if let Some(a) = template.iter().find(|a| {
            crate::abi::is_vendor(a.ty)
                && a.ty != crate::abi::CKA_SOFTKMS_POLICY
                && a.ty != crate::abi::CKA_SOFTKMS_POLICY_FORCE
        }) {
            log::info!(
                "C_CopyObject: the copy keeps its source's {}",
                crate::object::table::name_of(a.ty).unwrap_or("vendor attribute")
            );
            return refuse(Error::AttributeReadOnly(a.ty));
        }
        let req = Request {
            handle: obj,
            what: Use::Copy,
            mech: 0,
            key_types: &[],
            context: &[],
            caller_iv: false,
            invalid: Error::ObjectHandleInvalid,
        };
        gate::using(t, h, "C_CopyObject", std::slice::from_ref(&req), |_| {
            let new_policy = template
                .iter()
                .any(|a| a.ty == crate::abi::CKA_SOFTKMS_POLICY);
            if new_policy {
                self.check_policy(t, h, &src, policy::Action::SetPolicy)?;
            }
            let attrs = rules::copy_object(&src, template, &random_uid()?)?;
            self.add_object("C_CopyObject", &s, t, attrs)
        })
    }

    /// `C_DestroyObject` (§5.7).
    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.destroy_object(h, obj);
        }
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        if o.is_token() && !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if !o.flag(CKA_DESTROYABLE, true) {
            return Err(Error::ActionProhibited);
        }
        if aliases::is_alias(&o) {
            // Checked against the alias as it is, deleted only if it is still
            // that alias: one re-pointed meanwhile is checked again.
            let mut o = o;
            for _ in 0..MAX_CONFLICT_RETRIES {
                match self.destroy_alias(&s, t, &o) {
                    Err(Error::Conflict) => o = self.object(t, obj, Error::ObjectHandleInvalid)?,
                    r => return r,
                }
            }
            log::warn!("C_DestroyObject: the alias kept changing under us; giving up");
            return Err(Error::Conflict);
        }
        if o.class() == Some(CKO_SOFTKMS_PRINCIPAL) {
            if !Self::is_so(t) {
                return Err(Error::UserNotLoggedIn);
            }
            let name = String::from_utf8_lossy(o.get(CKA_LABEL).unwrap_or_default()).into_owned();
            t.remove_principal(
                &name,
                &self
                    .rec(t, "C_DestroyObject", h)
                    .with_reason(&format!("principal {name}")),
            )?;
        } else {
            self.check_policy(t, h, &o, policy::Action::ManageKey)
                .inspect_err(|e| self.audit_denial(t, "C_DestroyObject", h, &o, e))?;
        }
        if o.is_token() {
            t.unpersist(&o, &self.rec(t, "C_DestroyObject", h))
        } else {
            t.state.write().objects.remove(o.handle);
            Ok(())
        }
    }

    /// `C_GetObjectSize` (§5.7).
    pub fn object_size(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<CK_ULONG> {
        if let Some(r) = self.remote(h) {
            return r.object_size(h, obj);
        }
        let (_, t) = self.session(h)?;
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        Ok(CK_ULONG::try_from(rules::object_size(&o)).unwrap_or(CK_UNAVAILABLE_INFORMATION))
    }

    /// `C_GetAttributeValue` (§5.7): one answer per asked type, in order; `ffi`
    /// applies the length rules and picks the return value.
    pub fn get_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrRead>> {
        if let Some(r) = self.remote(h) {
            return r.get_attributes(h, obj, types);
        }
        let (_, t) = self.session(h)?;
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        let mut out: Vec<AttrRead> = types
            .iter()
            .map(|ty| rules::read_attribute(&o, *ty))
            .collect();
        // A key's material in clear (a non-sensitive key's CKA_VALUE …) leaves
        // the token: a use of the key, through the key gate (`ExportKey`, an
        // Enabled key). Refused, it reads as sensitive (§5.7.5).
        if matches!(o.class(), Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)) {
            let material = rules::key_material_types(o.attrs());
            let reveals = |(ty, r): (&CK_ATTRIBUTE_TYPE, &AttrRead)| {
                material.contains(ty) && matches!(r, AttrRead::Value(_))
            };
            if types.iter().zip(out.iter()).any(reveals) {
                let read = gate::admit(
                    t,
                    h,
                    "C_GetAttributeValue",
                    &Request {
                        handle: obj,
                        what: Use::Read,
                        mech: 0,
                        key_types: &[],
                        context: &[],
                        caller_iv: false,
                        invalid: Error::ObjectHandleInvalid,
                    },
                );
                if read.is_err() {
                    for (ty, r) in types.iter().zip(out.iter_mut()) {
                        if material.contains(ty) {
                            *r = AttrRead::Sensitive;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// `C_SetAttributeValue` (§5.7). A read-modify-write of the object: when
    /// another writer (thread or process) changed it between the read and the
    /// write, the conditional write refuses, and the change is made again on the
    /// object as it is now, so that neither writer's change is lost (two
    /// rotations make two versions).
    pub fn set_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.set_attributes(h, obj, template);
        }
        for _ in 0..MAX_CONFLICT_RETRIES {
            match self.set_attributes_once(h, obj, template) {
                Err(Error::Conflict) => continue,
                r => return r,
            }
        }
        log::warn!("C_SetAttributeValue: the object kept changing under us; giving up");
        Err(Error::Conflict)
    }

    pub(super) fn set_attributes_once(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<()> {
        let (s, t) = self.session(h)?;
        let s = s.lock();
        let o = self.object(t, obj, Error::ObjectHandleInvalid)?;
        if o.is_token() && !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if aliases::is_alias(&o) {
            return self.set_alias(&s, t, &o, template);
        }
        if o.class() == Some(CKO_SOFTKMS_PRINCIPAL) {
            // A principal's PIN, reset by the SO; nothing is stored in the object.
            if !Self::is_so(t) {
                return Err(Error::UserNotLoggedIn);
            }
            let pin = principals::parse_set_pin(template)?;
            let name = String::from_utf8_lossy(o.get(CKA_LABEL).unwrap_or_default()).into_owned();
            return t.set_principal_pin(
                &name,
                &pin,
                &self
                    .rec(t, "C_SetAttributeValue", h)
                    .with_reason("principal PIN"),
            );
        }
        let types: Vec<CK_ATTRIBUTE_TYPE> = template.iter().map(|a| a.ty).collect();
        // Retiring one's own grants needs no SetPolicy (AWS's RetireGrant).
        let written: Vec<_> = template
            .iter()
            .filter(|a| a.ty != crate::abi::CKA_SOFTKMS_POLICY_FORCE)
            .collect();
        let retiring = match written.as_slice() {
            [a] if a.ty == crate::abi::CKA_SOFTKMS_POLICY => policy::retires_only(
                o.get(crate::abi::CKA_SOFTKMS_POLICY).unwrap_or_default(),
                &a.value,
                t.state.read().principal(h),
            ),
            _ => false,
        };
        for action in policy::actions_for_set(&types) {
            if retiring && action == policy::Action::SetPolicy {
                continue;
            }
            self.check_policy(t, h, &o, action)
                .inspect_err(|e| self.audit_denial(t, "C_SetAttributeValue", h, &o, e))?;
        }
        let mut attrs = rules::set_attributes(&o, template, Self::is_so(t))?;
        let force = attrs
            .remove(&crate::abi::CKA_SOFTKMS_POLICY_FORCE)
            .is_some_and(|v| v.first().is_some_and(|b| *b != 0));
        if let Some(a) = template
            .iter()
            .find(|a| a.ty == crate::abi::CKA_SOFTKMS_POLICY)
        {
            if !a.value.is_empty() {
                policy::check_set(&policy::parse(&a.value)?, force)?;
            }
        }
        if let Some(a) = template.iter().find(|a| a.ty == CKA_SOFTKMS_IMPORT_FROM) {
            // The source's material is copied into this key: a use of the
            // source, through the key gate like a copy.
            let src = gate::admit(
                t,
                h,
                "C_SetAttributeValue",
                &Request {
                    handle: a.as_ulong()?,
                    what: Use::Copy,
                    mech: 0,
                    key_types: &[],
                    context: &[],
                    caller_iv: false,
                    invalid: Error::AttributeValueInvalid(CKA_SOFTKMS_IMPORT_FROM),
                },
            )?;
            let src = src.key();
            let material = match (src.class(), src.get(CKA_VALUE)) {
                (Some(CKO_SECRET_KEY), Some(v)) => zeroize::Zeroizing::new(v.to_vec()),
                _ => return Err(Error::AttributeValueInvalid(CKA_SOFTKMS_IMPORT_FROM)),
            };
            lifecycle::reimport(&o, &mut attrs, &material)?;
        }
        lifecycle::on_set(&o, &mut attrs, template, clock::now_unix())?;
        let new = Object::new(o.handle, o.session, attrs);
        if new.is_private() && !matches!(t.state.read().login, Login::User(_)) {
            return Err(Error::UserNotLoggedIn);
        }
        if o.is_token() {
            t.update(
                &o,
                new.attrs().clone(),
                &self
                    .rec(t, "C_SetAttributeValue", h)
                    .with_reason(&describe_change(template)),
            )?;
        } else {
            self.session_object_room(t, rules::object_size(&new), Some(rules::object_size(&o)))?;
            protect_key_material(new.attrs());
            t.state.write().objects.insert(Arc::new(new));
        }
        Ok(())
    }

    /// `C_FindObjectsInit` (§5.7).
    pub fn find_init(&self, h: CK_SESSION_HANDLE, template: &Template) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.find_init(h, template);
        }
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        if s.ops.find.is_some() {
            return Err(Error::OperationActive);
        }
        t.refresh()?;
        let st = t.state.read();
        let login = st.login.clone();
        let mut pending = st.objects.find(template, |o| gate::visible(&login, o));
        pending.reverse();
        s.ops.find = Some(FindState { pending });
        Ok(())
    }

    /// `C_FindObjects` (§5.7): up to `max` more handles.
    pub fn find(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        if let Some(r) = self.remote(h) {
            return r.find(h, max);
        }
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        let f = s.ops.find.as_mut().ok_or(Error::OperationNotInitialized)?;
        let n = max.min(f.pending.len());
        let at = f.pending.len() - n;
        let mut out = f.pending.split_off(at);
        out.reverse();
        Ok(out)
    }

    /// `C_FindObjectsFinal` (§5.7).
    pub fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.find_final(h);
        }
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        s.ops
            .find
            .take()
            .map(|_| ())
            .ok_or(Error::OperationNotInitialized)
    }
}

/// Checks an RSA or EC key's material and adds what clients look for beside it:
/// `CKA_PUBLIC_KEY_INFO` on public and private keys, `CKA_EC_POINT` on EC
/// private keys. Values the caller gave are kept.
fn complete_key(attrs: &mut AttrMap) -> Result<()> {
    keys::check_key_attributes(attrs)?;
    let mut extra = keys::public_attributes_of_private(attrs);
    let class = attrs
        .get(&CKA_CLASS)
        .and_then(|v| decode_ulong(CKA_CLASS, v).ok());
    if class == Some(CKO_PUBLIC_KEY) {
        if let Some(spki) = keys::public_key_info(attrs) {
            extra.push(Attribute::new(CKA_PUBLIC_KEY_INFO, spki));
        }
    }
    for a in extra {
        let absent = attrs.get(&a.ty).is_none_or(|v| v.is_empty());
        if absent {
            attrs.insert(a.ty, a.value);
        }
    }
    Ok(())
}

/// Which attributes a `C_SetAttributeValue` changed, by name where they are
/// SoftKMS's own (never their values).
fn describe_change(template: &Template) -> String {
    let names: Vec<String> = template
        .iter()
        .map(|a| match a.ty {
            crate::abi::CKA_SOFTKMS_KEY_STATE => "key state".to_string(),
            crate::abi::CKA_SOFTKMS_ROTATE => "rotate".to_string(),
            crate::abi::CKA_SOFTKMS_ROTATION_PERIOD => "rotation period".to_string(),
            crate::abi::CKA_SOFTKMS_MIN_DECRYPT_VERSION => "minimum decryption version".to_string(),
            crate::abi::CKA_SOFTKMS_IMPORT_FROM => "re-import".to_string(),
            crate::abi::CKA_SOFTKMS_POLICY => "policy".to_string(),
            crate::abi::CKA_SOFTKMS_DESCRIPTION => "description".to_string(),
            crate::abi::CKA_SOFTKMS_TAGS => "tags".to_string(),
            ty => crate::object::table::name_of(ty)
                .map_or_else(|| format!("0x{ty:x}"), str::to_string),
        })
        .collect();
    names.join(", ")
}
