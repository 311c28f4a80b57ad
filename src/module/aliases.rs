//! Key aliases through the object functions (PKCS#11 3.0 §5.7 on the vendor
//! class `CKO_SOFTKMS_ALIAS`; `docs/vendor-abi.md`, "Aliases").
//!
//! `C_CreateObject` makes an alias, `C_SetAttributeValue` of
//! `CKA_SOFTKMS_ALIAS_TARGET` re-points it, `C_DestroyObject` removes it;
//! `C_FindObjects` and `C_GetAttributeValue` work as on any object. Each
//! change is a management of the key the alias points at: it needs the
//! policy action `ManageKey` on that key (on the old and the new key of a
//! re-pointing; nothing on a key that is gone), and is audited under that
//! key's id, refused or done. An alias write never touches the key itself.

use super::Module;
use crate::abi::SOFTKMS_KEY_STATE_PENDING_DELETION;
use crate::error::{Error, Result};
use crate::gate;
use crate::kms::aliases::{self, CKA_SOFTKMS_ALIAS_TARGET};
use crate::kms::policy::Action;
use crate::object::attr::Template;
use crate::object::rules::{self, Origin};
use crate::object::Object;
use crate::session::Session;
use crate::token::{new_object_handle, Login, Token};
use cryptoki_sys::*;
use std::sync::Arc;

impl Module {
    /// `C_CreateObject` of class `CKO_SOFTKMS_ALIAS`.
    pub(super) fn create_alias(
        &self,
        s: &Session,
        t: &Token,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if !matches!(t.state.read().login, Login::User(_)) {
            return Err(Error::UserNotLoggedIn);
        }
        let alias = aliases::parse_create(template)?;
        let key = alias_target(t, &alias.target)?;
        let function = "C_CreateObject";
        // Audit records name an alias by its uid: the name is sealed like any
        // private object's label, the audit log is not.
        let uid = t.alias_uid(&alias.name)?;
        self.may_point_at(t, s.handle, function, &key, &uid)?;
        if t.state.read().objects.handle_of(&uid).is_some() {
            return Err(exists(&alias.name));
        }
        let attrs = rules::new_object(
            &aliases::stored_template(&alias),
            Origin::Create,
            &Vec::new(),
            &uid,
            false,
        )?;
        let rec = self
            .rec(t, function, s.handle)
            .with_key(key.unique_id(), None)
            .with_reason(&format!("alias {uid} created"));
        t.persist_guarded(
            new_object_handle(),
            attrs,
            None,
            &[key.unique_id()],
            Error::AttributeValueInvalid(CKA_LABEL),
            Error::AttributeValueInvalid(CKA_SOFTKMS_ALIAS_TARGET),
            &rec,
        )
        .map(|o| o.handle)
        .map_err(|e| explain(e, &alias.name))
    }

    /// `C_SetAttributeValue` on an alias: re-points it (one try; the caller
    /// retries on `Error::Conflict`).
    pub(super) fn set_alias(
        &self,
        s: &Session,
        t: &Token,
        alias: &Arc<Object>,
        template: &Template,
    ) -> Result<()> {
        if !matches!(t.state.read().login, Login::User(_)) {
            return Err(Error::UserNotLoggedIn);
        }
        let target = aliases::parse_set(template)?;
        let name = aliases::name_of(alias);
        let uid = alias.unique_id();
        let function = "C_SetAttributeValue";
        let new = alias_target(t, &target)?;
        let old = aliases::target_of(alias).and_then(|uid| key_by_uid(t, uid));
        if let Some(old) = &old {
            self.may_manage(t, s.handle, function, old, uid)?;
        }
        self.may_point_at(t, s.handle, function, &new, uid)?;
        let mut attrs = alias.attrs().clone();
        attrs.insert(
            CKA_SOFTKMS_ALIAS_TARGET,
            zeroize::Zeroizing::new(target.into_bytes()),
        );
        let was = aliases::target_of(alias).unwrap_or("nothing");
        let rec = self
            .rec(t, function, s.handle)
            .with_key(new.unique_id(), None)
            .with_reason(&format!("alias {uid} re-pointed (was key {was})"));
        t.persist_guarded(
            alias.handle,
            attrs,
            Some(alias),
            &[new.unique_id()],
            Error::Conflict,
            Error::AttributeValueInvalid(CKA_SOFTKMS_ALIAS_TARGET),
            &rec,
        )
        .map_err(|e| explain(e, &name))?;
        // The key the alias left hears of it too: whoever reads that key's
        // records sees its alias go.
        if let Some(old) = old.filter(|o| o.unique_id() != new.unique_id()) {
            let left = self
                .rec(t, function, s.handle)
                .with_key(old.unique_id(), None)
                .with_reason(&format!(
                    "alias {uid} re-pointed to key {}",
                    new.unique_id()
                ));
            if let Err(err) = t
                .store()
                .and_then(|store| t.auditor.management(&store, &[left]))
            {
                log::error!("audit: cannot record alias {uid} leaving its key: {err}");
            }
        }
        Ok(())
    }

    /// `C_DestroyObject` of an alias: needs `ManageKey` on its key, when the
    /// key still exists (one try: `Error::Conflict` when the alias changed
    /// since it was read, and the caller tries again).
    pub(super) fn destroy_alias(&self, s: &Session, t: &Token, alias: &Arc<Object>) -> Result<()> {
        if !matches!(t.state.read().login, Login::User(_)) {
            return Err(Error::UserNotLoggedIn);
        }
        let uid = alias.unique_id();
        let function = "C_DestroyObject";
        let target = aliases::target_of(alias).unwrap_or_default().to_string();
        let key = key_by_uid(t, &target);
        if let Some(key) = &key {
            self.may_manage(t, s.handle, function, key, uid)?;
        }
        let mut rec = self
            .rec(t, function, s.handle)
            .with_reason(&format!("alias {uid} deleted"));
        if !target.is_empty() {
            rec = rec.with_key(&target, None);
        }
        t.unpersist_if_current(alias, &rec)
    }

    /// `ManageKey` on `key`, for a change of the alias whose uid is `name`
    /// (audit records never hold an alias's name); a refusal is audited under
    /// the key with its reason.
    fn may_manage(
        &self,
        t: &Token,
        h: CK_SESSION_HANDLE,
        function: &str,
        key: &Object,
        name: &str,
    ) -> Result<()> {
        self.check_policy(t, h, key, Action::ManageKey)
            .inspect_err(|e| self.audit_alias_refusal(t, function, h, key, name, e))
    }

    /// [`Module::may_manage`], and a key that is not pending deletion (as AWS
    /// KMS refuses an alias to a key pending deletion).
    fn may_point_at(
        &self,
        t: &Token,
        h: CK_SESSION_HANDLE,
        function: &str,
        key: &Object,
        name: &str,
    ) -> Result<()> {
        self.may_manage(t, h, function, key, name)?;
        if key.get_ulong(crate::abi::CKA_SOFTKMS_KEY_STATE)
            == Some(SOFTKMS_KEY_STATE_PENDING_DELETION)
        {
            let e = Error::KeyFunctionNotPermitted(format!(
                "key {} is pending deletion: an alias cannot point at it",
                key.unique_id()
            ));
            log::info!("alias {name}: {e}");
            self.audit_alias_refusal(t, function, h, key, name, &e);
            return Err(e);
        }
        Ok(())
    }

    /// Records a refused alias change under the key it concerns.
    fn audit_alias_refusal(
        &self,
        t: &Token,
        function: &str,
        h: CK_SESSION_HANDLE,
        key: &Object,
        name: &str,
        e: &Error,
    ) {
        if let Ok(store) = t.store() {
            let rec = self
                .rec(t, function, h)
                .with_key(key.unique_id(), None)
                .with_rv(e.rv())
                .with_reason(&format!("alias {name}: {e}"));
            if let Err(err) = t.auditor.management(&store, &[rec]) {
                log::error!("audit: cannot record a refused {function}: {err}");
            }
        }
    }
}

/// The key object whose unique id is `uid`, if this process has it.
fn key_by_uid(t: &Token, uid: &str) -> Option<Arc<Object>> {
    let st = t.state.read();
    let o = st.objects.handle_of(uid).and_then(|h| st.objects.get(h))?;
    matches!(o.class(), Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)).then(|| Arc::clone(o))
}

/// The key an alias may point at: a token key (a secret key, or the private
/// key of a pair) this session sees, by its unique id.
fn alias_target(t: &Token, uid: &str) -> Result<Arc<Object>> {
    t.refresh()?;
    let st = t.state.read();
    let found = st
        .objects
        .handle_of(uid)
        .and_then(|h| st.objects.get(h))
        .filter(|o| {
            gate::visible(&st.login, o)
                && o.is_token()
                && matches!(o.class(), Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY))
        });
    match found {
        Some(o) => Ok(Arc::clone(o)),
        None => {
            log::info!(
                "alias target {uid:?} is not a token key this session sees: an alias points at \
                 a secret key or at the private key of a pair, by its CKA_UNIQUE_ID"
            );
            Err(Error::AttributeValueInvalid(CKA_SOFTKMS_ALIAS_TARGET))
        }
    }
}

/// The refusal of a second alias named `name`.
fn exists(name: &str) -> Error {
    log::info!("{name} already exists: re-point it (CKA_SOFTKMS_ALIAS_TARGET) instead");
    Error::AttributeValueInvalid(CKA_LABEL)
}

/// Logs why the store refused an alias write.
fn explain(e: Error, name: &str) -> Error {
    match &e {
        Error::AttributeValueInvalid(CKA_LABEL) => exists(name),
        Error::AttributeValueInvalid(CKA_SOFTKMS_ALIAS_TARGET) => {
            log::info!("alias {name}: its key was deleted meanwhile");
            e
        }
        _ => e,
    }
}
