//! Reading the audit log (`docs/audit.md`, "Who may read it"): a policy-checked
//! call of the logged-in principal, which the CLI uses; nobody reads the log by
//! opening the token file behind the module's back.
//!
//! - The SO and the token owner ("user") read every record, verify the chain and
//!   read its head.
//! - A named principal reads the records of the keys whose policy grants it
//!   `ReadAudit`, and nothing else (not the token's management records, not the
//!   chain as a whole). One with no such key is refused.
//! - A session nobody logged in to reads nothing.
//!
//! A refusal is itself recorded, with its reason.

use super::Module;
use crate::error::{Error, Result};
use crate::gate;
use crate::kms::audit::{AuditRecord, ChainPoint};
use crate::kms::policy::Action;
use crate::store::audit::Verification;
use crate::token::{Login, Token};
use cryptoki_sys::*;
use std::collections::BTreeSet;

/// What of the audit log a principal may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    /// Every record (the SO, the token owner).
    All,
    /// The records of these keys (by `CKA_UNIQUE_ID`).
    Keys(BTreeSet<String>),
}

impl AuditScope {
    fn admits(&self, r: &AuditRecord) -> bool {
        match self {
            AuditScope::All => true,
            AuditScope::Keys(uids) => r.key_uid.as_ref().is_some_and(|k| uids.contains(k)),
        }
    }
}

/// A filter on the records read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only records whose last event is at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only records of this key (`CKA_UNIQUE_ID`).
    pub key_uid: Option<String>,
}

impl Module {
    /// What the principal logged in to session `h` may read of the audit log
    /// (`ReadAudit`); a refusal is recorded and is
    /// `CKR_KEY_FUNCTION_NOT_PERMITTED` (`CKR_USER_NOT_LOGGED_IN` without a login).
    pub fn audit_scope(&self, h: CK_SESSION_HANDLE) -> Result<AuditScope> {
        let (_, t) = self.session(h)?;
        t.refresh()?;
        let r = scope_of(t, h);
        if let Err(e) = &r {
            self.audit_refusal(t, h, "ReadAudit", e);
        }
        r
    }

    /// The audit records the principal of session `h` may read, oldest first,
    /// that pass `filter`.
    pub fn read_audit(
        &self,
        h: CK_SESSION_HANDLE,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditRecord>> {
        let scope = self.audit_scope(h)?;
        let (_, t) = self.session(h)?;
        let store = t.store()?;
        t.auditor.flush_all(&store);
        let mut rows = Vec::new();
        store.for_each_audit(|r| {
            let time_ok = filter.since_ms.is_none_or(|s| r.last_ms >= s);
            let key_ok = filter
                .key_uid
                .as_ref()
                .is_none_or(|k| r.key_uid.as_ref() == Some(k));
            if time_ok && key_ok && scope.admits(r) {
                rows.push(r.clone());
            }
            Ok(())
        })?;
        Ok(rows)
    }

    /// Verifies the whole chain (the SO and the token owner only).
    pub fn verify_audit(&self, h: CK_SESSION_HANDLE) -> Result<Verification> {
        let t = self.whole_log_reader(h, "VerifyAudit")?;
        let store = t.store()?;
        t.auditor.flush_all(&store);
        store.verify_audit()
    }

    /// The chain's head, for anchoring elsewhere (the SO and the token owner only).
    pub fn audit_head(&self, h: CK_SESSION_HANDLE) -> Result<ChainPoint> {
        let t = self.whole_log_reader(h, "AuditHead")?;
        let store = t.store()?;
        t.auditor.flush_all(&store);
        store.audit_head()
    }

    /// The token of session `h` when its principal may read the whole log.
    fn whole_log_reader(&self, h: CK_SESSION_HANDLE, function: &str) -> Result<&Token> {
        let (_, t) = self.session(h)?;
        match scope_of(t, h) {
            Ok(AuditScope::All) => Ok(t),
            Ok(AuditScope::Keys(_)) => {
                let e = Error::KeyFunctionNotPermitted(
                    "only the SO and the token owner read the whole audit log".into(),
                );
                self.audit_refusal(t, h, function, &e);
                Err(e)
            }
            Err(e) => {
                self.audit_refusal(t, h, function, &e);
                Err(e)
            }
        }
    }

    /// Records one request a service ran for session `h`'s principal
    /// (`softkms serve`): a management record named `function` with the key
    /// it was about, its result code and `reason` (who, from where, the
    /// error), written at once in the token's hash chain.
    /// `principal` overrides the session's (for a request that was not
    /// authenticated: "").
    pub fn record_service_request(
        &self,
        h: CK_SESSION_HANDLE,
        function: &str,
        principal: Option<&str>,
        key_uid: Option<&str>,
        rv: CK_RV,
        reason: &str,
    ) -> Result<()> {
        let (_, t) = self.session(h)?;
        let rec = match principal {
            Some(p) => AuditRecord::management(function, p, h),
            None => self.rec(t, function, h),
        };
        let mut rec = rec.with_rv(rv).with_reason(reason);
        if let Some(uid) = key_uid {
            rec = rec.with_key(uid, None);
        }
        let store = t.store()?;
        t.auditor.session_records(&store, h, &[rec])
    }

    /// Records a refused read of the log.
    fn audit_refusal(&self, t: &Token, h: CK_SESSION_HANDLE, function: &str, e: &Error) {
        if let Ok(store) = t.store() {
            let rec = self
                .rec(t, function, h)
                .with_rv(e.rv())
                .with_reason(&e.to_string());
            if let Err(err) = t.auditor.management(&store, &[rec]) {
                log::error!("audit: cannot record a refused {function}: {err}");
            }
        }
    }
}

/// The scope of whoever is logged in to `t`.
fn scope_of(t: &Token, h: CK_SESSION_HANDLE) -> Result<AuditScope> {
    let st = t.state.read();
    let name = match &st.login {
        Login::Public => return Err(Error::UserNotLoggedIn),
        Login::So => return Ok(AuditScope::All),
        Login::User(_) if st.principal(h) == crate::token::USER => return Ok(AuditScope::All),
        Login::User(_) => st.principal(h).to_string(),
    };
    let uids: BTreeSet<String> = st
        .objects
        .iter()
        .filter(|o| {
            matches!(
                o.class(),
                Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
            ) && gate::check_policy(o, &name, Action::ReadAudit, &[]).is_ok()
        })
        .map(|o| o.unique_id().to_string())
        .collect();
    if uids.is_empty() {
        log::info!("principal {name:?} may read no key's audit records");
        return Err(Error::KeyFunctionNotPermitted(format!(
            "{name:?} may read no key's audit records (no key policy grants it ReadAudit)"
        )));
    }
    Ok(AuditScope::Keys(uids))
}

/// A record as one CloudTrail-like JSON object (`docs/audit.md`), mechanisms
/// named as the registry names them.
pub(crate) fn audit_json(r: &AuditRecord) -> serde_json::Value {
    crate::kms::audit::to_json(r, &crate::mechanism::registry::display_name)
}
