//! Key policies (DESIGN §4 "Principals and policy", `docs/policy.md`).
//!
//! A policy is the UTF-8 JSON value of `CKA_SOFTKMS_POLICY`:
//!
//! ```json
//! {"statements": [
//!   {"principals": ["alice", "*"], "allow": ["Encrypt", "Decrypt"],
//!    "condition": {"encryption_context": {"app": "billing"}}}
//! ]}
//! ```
//!
//! Statements only allow; what no statement allows is denied. This file is pure:
//! it parses and validates a policy ([`parse`]), refuses one that would lock
//! everybody out of the key ([`check_set`]), decides a use ([`allows`]) and maps
//! PKCS#11 operations to [`Action`]s ([`action_for`], [`actions_for_set`]). The
//! module calls it before every use of a key.

use crate::abi::{CKA_SOFTKMS_POLICY, CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY};
use crate::error::{Error, Result};
use crate::kms::principals;
use crate::object::Object;
use cryptoki_sys::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::abi::CKA_SOFTKMS_CREATOR;
pub use crate::abi::CKA_SOFTKMS_POLICY_FORCE;

/// The largest policy accepted, in bytes (as AWS KMS: 32 KiB).
pub const MAX_POLICY_LEN: usize = 32 * 1024;
/// The most statements in one policy.
pub const MAX_STATEMENTS: usize = 64;
/// The name that matches every principal in a statement.
pub const ANY: &str = "*";
/// The principal name of a session nobody logged in to; it matches only `"*"`.
pub const ANONYMOUS: &str = "";

/// What a principal does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// `C_Encrypt*` (and the envelope `C_WrapKey` of a data key).
    Encrypt,
    /// `C_Decrypt*` (and the envelope `C_UnwrapKey` of a data key).
    Decrypt,
    /// `C_DeriveKey` with `CKM_SOFTKMS_GENERATE_DATA_KEY`.
    GenerateDataKey,
    /// Shorthand granting both `Encrypt` and `Decrypt`: a re-encryption is an
    /// envelope unwrap under one key and an envelope wrap under another.
    ReEncrypt,
    /// `C_Sign*`, `C_SignRecover`.
    Sign,
    /// `C_Verify*`, `C_VerifyRecover`.
    Verify,
    /// `C_WrapKey` with the key as wrapping key (other than the envelope).
    WrapKey,
    /// `C_UnwrapKey` with the key as unwrapping key (other than the envelope).
    UnwrapKey,
    /// `C_DeriveKey` with another mechanism.
    DeriveKey,
    /// Attribute writes other than the policy (lifecycle: rotate, enable,
    /// disable, deletion, import, rotation period, label …) and `C_DestroyObject`.
    ManageKey,
    /// A write of `CKA_SOFTKMS_POLICY`.
    SetPolicy,
    /// Reading the key's audit records.
    ReadAudit,
    /// `C_WrapKey` with the key as the key being wrapped: its material leaves
    /// the token (wrapped).
    ExportKey,
}

/// Every action with its name in policies.
const ACTIONS: &[(Action, &str)] = &[
    (Action::Encrypt, "Encrypt"),
    (Action::Decrypt, "Decrypt"),
    (Action::GenerateDataKey, "GenerateDataKey"),
    (Action::ReEncrypt, "ReEncrypt"),
    (Action::Sign, "Sign"),
    (Action::Verify, "Verify"),
    (Action::WrapKey, "WrapKey"),
    (Action::UnwrapKey, "UnwrapKey"),
    (Action::DeriveKey, "DeriveKey"),
    (Action::ManageKey, "ManageKey"),
    (Action::SetPolicy, "SetPolicy"),
    (Action::ReadAudit, "ReadAudit"),
    (Action::ExportKey, "ExportKey"),
];

impl Action {
    /// The action a policy names (case-sensitive, as written in `docs/policy.md`).
    pub fn from_name(name: &str) -> Option<Action> {
        ACTIONS.iter().find(|(_, n)| *n == name).map(|(a, _)| *a)
    }

    /// Its name in policies.
    pub fn name(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("?", |(_, n)| n)
    }

    /// Every action.
    pub fn all() -> impl Iterator<Item = Action> {
        ACTIONS.iter().map(|(a, _)| *a)
    }

    /// True when a grant of `self` permits `wanted`.
    fn grants(self, wanted: Action) -> bool {
        self == wanted
            || (self == Action::ReEncrypt && matches!(wanted, Action::Encrypt | Action::Decrypt))
    }
}

/// Who a statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Every principal, including sessions nobody logged in to.
    Any,
    /// One principal by name ("user" is the token owner).
    Named(String),
}

/// The sid prefix of a grant statement (`grant:` and the grant's id).
pub const GRANT_SID: &str = "grant:";

/// What a grant may allow: uses of the key, never its management, its
/// policy, its audit or its material leaving the token.
const GRANTABLE: &[Action] = &[
    Action::Encrypt,
    Action::Decrypt,
    Action::GenerateDataKey,
    Action::ReEncrypt,
    Action::Sign,
    Action::Verify,
];

/// One statement: these principals may do these actions, maybe only with this
/// encryption context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Its label.
    pub sid: Option<String>,
    /// Who it applies to.
    pub principals: Vec<Who>,
    /// What it allows.
    pub allow: Vec<Action>,
    /// Pairs that must be in the encryption context (empty: no condition).
    pub context: BTreeMap<String, String>,
    /// When the statement is a grant (AWS KMS's `CreateGrant`): what
    /// `ListGrants` shows of it. Enforced like any statement.
    pub grant: Option<GrantInfo>,
}

/// What a grant statement records beyond what it allows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrantInfo {
    /// The grant id: 64 lower-case hex digits.
    pub id: String,
    /// Its name, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A principal that may retire it besides its grantee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// Who made it.
    pub issuer: String,
    /// When, in seconds since the epoch.
    pub created: i64,
    /// The AWS operations it grants, as given.
    pub operations: Vec<String>,
}

/// A parsed and validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Its statements, in order.
    pub statements: Vec<Statement>,
}

// The wire shape; unknown fields are refused so that a typo ("alow") does not
// silently grant nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    statements: Vec<RawStatement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    #[serde(default)]
    sid: Option<String>,
    principals: Vec<String>,
    allow: Vec<String>,
    #[serde(default)]
    condition: Option<RawCondition>,
    #[serde(default)]
    grant: Option<GrantInfo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    encryption_context: BTreeMap<String, String>,
}

/// The error (and log line) for a malformed policy.
pub(crate) fn invalid(what: String) -> Error {
    log::info!("CKA_SOFTKMS_POLICY refused: {what}");
    Error::AttributeValueInvalid(CKA_SOFTKMS_POLICY)
}

/// Parses and validates a policy. Anything malformed is
/// `Error::AttributeValueInvalid(CKA_SOFTKMS_POLICY)`, with a `log::info!` line
/// saying what is wrong.
pub fn parse(json: &[u8]) -> Result<Policy> {
    explain(json).map_err(invalid)
}

/// [`parse`], with the reason a policy is refused (for the CLI, which checks a
/// policy before it sends it).
pub fn explain(json: &[u8]) -> std::result::Result<Policy, String> {
    if json.len() > MAX_POLICY_LEN {
        return Err(format!(
            "{} bytes; a policy has at most {MAX_POLICY_LEN}",
            json.len()
        ));
    }
    let raw: RawPolicy =
        serde_json::from_slice(json).map_err(|e| format!("not a policy document: {e}"))?;
    if raw.statements.len() > MAX_STATEMENTS {
        return Err(format!(
            "{} statements; at most {MAX_STATEMENTS}",
            raw.statements.len()
        ));
    }
    let mut statements = Vec::with_capacity(raw.statements.len());
    for (i, s) in raw.statements.into_iter().enumerate() {
        let at = match &s.sid {
            Some(sid) => format!("statement {i} ({sid:?})"),
            None => format!("statement {i}"),
        };
        if s.principals.is_empty() {
            return Err(format!("{at}: \"principals\" is empty"));
        }
        if s.allow.is_empty() {
            return Err(format!("{at}: \"allow\" is empty"));
        }
        let mut principals = Vec::with_capacity(s.principals.len());
        for p in s.principals {
            if p == ANY {
                principals.push(Who::Any);
            } else if p == crate::principal::USER || principals::check_name(&p).is_ok() {
                principals.push(Who::Named(p));
            } else {
                return Err(format!(
                    "{at}: {p:?} is not a principal name (see docs/policy.md) nor \"*\""
                ));
            }
        }
        let mut allow = Vec::with_capacity(s.allow.len());
        for a in s.allow {
            if a == ANY {
                allow.extend(Action::all());
                continue;
            }
            match Action::from_name(&a) {
                Some(x) => allow.push(x),
                None => return Err(format!("{at}: unknown action {a:?}")),
            }
        }
        let context = match s.condition {
            None => BTreeMap::new(),
            Some(c) if c.encryption_context.is_empty() => {
                return Err(format!(
                    "{at}: \"encryption_context\" is empty (leave the condition out instead)"
                ))
            }
            Some(c) => c.encryption_context,
        };
        let grant_sid = s.sid.as_deref().and_then(|sid| sid.strip_prefix(GRANT_SID));
        match (&s.grant, grant_sid) {
            (Some(g), Some(id)) if id == g.id => {
                let id_ok = g.id.len() == 64
                    && g.id
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !id_ok {
                    return Err(format!("{at}: a grant id is 64 lower-case hex digits"));
                }
                if !matches!(principals.as_slice(), [Who::Named(_)]) {
                    return Err(format!("{at}: a grant names exactly one principal"));
                }
                if let Some(a) = allow.iter().find(|a| !GRANTABLE.contains(a)) {
                    return Err(format!(
                        "{at}: a grant allows only uses of the key, not {}",
                        a.name()
                    ));
                }
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "{at}: a grant has the sid \"{GRANT_SID}\" and its id, and only a grant has it"
                ))
            }
        }
        statements.push(Statement {
            sid: s.sid,
            principals,
            allow,
            context,
            grant: s.grant,
        });
    }
    Ok(Policy { statements })
}

/// Whether replacing policy `old` by `new` only retires grants that
/// `principal` may retire (it is their grantee or their retiring principal):
/// such a write needs no `SetPolicy` (AWS KMS's `RetireGrant`). At least one
/// grant must go, and every other statement must stay as it was, in order.
pub fn retires_only(old: &[u8], new: &[u8], principal: &str) -> bool {
    let (Ok(old), Ok(new)) = (explain(old), explain(new)) else {
        return false;
    };
    let retirable = |s: &Statement| {
        s.grant.as_ref().is_some_and(|g| {
            principal != ANONYMOUS
                && (g.retiring_principal.as_deref() == Some(principal)
                    || matches!(s.principals.as_slice(), [Who::Named(n)] if n == principal))
        })
    };
    let mut kept = new.statements.iter().peekable();
    let mut removed = 0;
    for s in &old.statements {
        if kept.peek() == Some(&s) {
            kept.next();
        } else if retirable(s) {
            removed += 1;
        } else {
            return false;
        }
    }
    kept.next().is_none() && removed > 0
}

/// The lock-out safety check before a policy replaces another (or is set at
/// creation): some principal must keep `SetPolicy` without a condition (a
/// policy write has no encryption context), or nobody could ever change the
/// policy again. `force` skips it (`CKA_SOFTKMS_POLICY_FORCE`).
pub fn check_set(new: &Policy, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let someone = new
        .statements
        .iter()
        .any(|s| s.context.is_empty() && s.allow.iter().any(|a| a.grants(Action::SetPolicy)));
    if someone {
        Ok(())
    } else {
        Err(invalid(
            "no principal could change this policy again (no unconditional SetPolicy); \
             give CKA_SOFTKMS_POLICY_FORCE = CK_TRUE to set it anyway"
                .into(),
        ))
    }
}

/// True when the context holds every pair of `want`. The context is the JSON
/// object the CLI writes; anything else (empty, not JSON, not an object) holds
/// no pair, and only string values match.
fn context_has(context: &[u8], want: &BTreeMap<String, String>) -> bool {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(context)
    else {
        return false;
    };
    want.iter()
        .all(|(k, v)| map.get(k).and_then(|x| x.as_str()) == Some(v.as_str()))
}

fn names(who: &[Who], principal: &str) -> bool {
    who.iter().any(|w| match w {
        Who::Any => true,
        Who::Named(n) => principal != ANONYMOUS && n == principal,
    })
}

/// May `principal` do `action` with a key whose policy is `policy` (`None`: no
/// `CKA_SOFTKMS_POLICY`) and which `creator` created, with this encryption
/// `context`? `Err` holds the reason, for the log and the audit record.
///
/// Without a policy (the default), the creator and the token owner ("user") may
/// do everything and other named principals nothing; sessions nobody logged in
/// to ([`ANONYMOUS`]) and the SO ("so") are not restricted, as PKCS#11's own
/// rules already keep them to public objects.
pub fn allows(
    policy: Option<&Policy>,
    creator: &str,
    principal: &str,
    action: Action,
    context: &[u8],
) -> std::result::Result<(), String> {
    let Some(policy) = policy else {
        let owner = principal == crate::principal::USER
            || principal == crate::principal::SO
            || principal == ANONYMOUS
            || principal == creator;
        return if owner {
            Ok(())
        } else {
            Err(format!(
                "{}: the key has no policy; only its creator ({creator:?}) and the token owner may use it",
                action.name()
            ))
        };
    };
    let mut needs_context = false;
    for s in &policy.statements {
        if !names(&s.principals, principal) || !s.allow.iter().any(|a| a.grants(action)) {
            continue;
        }
        if s.context.is_empty() || context_has(context, &s.context) {
            return Ok(());
        }
        needs_context = true;
    }
    let who = if principal == ANONYMOUS {
        "an anonymous session".to_string()
    } else {
        format!("principal {principal:?}")
    };
    Err(if needs_context {
        format!(
            "{}: the policy allows it to {who} only with an encryption context it was not given",
            action.name()
        )
    } else {
        format!("{}: the policy does not allow it to {who}", action.name())
    })
}

/// The derivations whose new key is made of the base key's (or another
/// input key's) own bits (PKCS#11 3.0 §2.43.x): their policy action is
/// `ExportKey`, not `DeriveKey`, since the copy they make carries none of the
/// key's policy, state or expiry.
pub fn reveals_key_bits(mechanism: CK_MECHANISM_TYPE) -> bool {
    matches!(
        mechanism,
        CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
            | CKM_EXTRACT_KEY_FROM_KEY
    )
}

/// The action of using a key for `usage` (`CKA_ENCRYPT`, `CKA_DECRYPT`,
/// `CKA_SIGN`, `CKA_VERIFY`, `CKA_WRAP`, `CKA_UNWRAP`, `CKA_DERIVE`, … the
/// attribute `Module::key` checks) with `mechanism`.
///
/// With `CKM_SOFTKMS_ENVELOPE` the key acts as a KMS key: wrapping a data key
/// under it is `Encrypt` and unwrapping one is `Decrypt` (KMS's Decrypt of a
/// data key); `CKM_SOFTKMS_GENERATE_DATA_KEY` is `GenerateDataKey`. A usage
/// that is not a key use (none today) is `ManageKey`, the strictest. The
/// derivations that copy key bits ([`reveals_key_bits`]) are `ExportKey`,
/// the AES ENCRYPT_DATA derivations `Encrypt`.
pub fn action_for(usage: CK_ATTRIBUTE_TYPE, mechanism: CK_MECHANISM_TYPE) -> Action {
    let envelope = mechanism == CKM_SOFTKMS_ENVELOPE;
    match usage {
        CKA_ENCRYPT => Action::Encrypt,
        CKA_DECRYPT => Action::Decrypt,
        CKA_SIGN | CKA_SIGN_RECOVER => Action::Sign,
        CKA_VERIFY | CKA_VERIFY_RECOVER => Action::Verify,
        CKA_WRAP if envelope => Action::Encrypt,
        CKA_WRAP => Action::WrapKey,
        CKA_UNWRAP if envelope => Action::Decrypt,
        CKA_UNWRAP => Action::UnwrapKey,
        CKA_DERIVE if mechanism == CKM_SOFTKMS_GENERATE_DATA_KEY => Action::GenerateDataKey,
        // The new key holds the key's own bits: an export into a new object.
        CKA_DERIVE if reveals_key_bits(mechanism) => Action::ExportKey,
        // The new key is the key's encryption of caller data.
        CKA_DERIVE
            if matches!(
                mechanism,
                CKM_AES_ECB_ENCRYPT_DATA | CKM_AES_CBC_ENCRYPT_DATA
            ) =>
        {
            Action::Encrypt
        }
        CKA_DERIVE => Action::DeriveKey,
        _ => Action::ManageKey,
    }
}

/// The actions a `C_SetAttributeValue` template needs: `SetPolicy` for
/// `CKA_SOFTKMS_POLICY` (and its force flag), `ManageKey` for anything else.
/// Sorted, without duplicates.
pub fn actions_for_set(types: &[CK_ATTRIBUTE_TYPE]) -> Vec<Action> {
    let mut out: Vec<Action> = types
        .iter()
        .map(|t| match *t {
            CKA_SOFTKMS_POLICY | CKA_SOFTKMS_POLICY_FORCE => Action::SetPolicy,
            _ => Action::ManageKey,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;

/// A key's policy as parsed once and kept with its object ([`of`]).
pub struct KeyPolicy(Arc<std::result::Result<Option<Policy>, String>>);

impl KeyPolicy {
    /// The policy; `None` when the key has none (the default policy applies).
    pub fn get(&self) -> Option<&Policy> {
        self.0.as_ref().as_ref().ok().and_then(Option::as_ref)
    }
}

/// The key policy of `key` (`CKA_SOFTKMS_POLICY`; none when absent or empty),
/// parsed on first use and kept with the object. A malformed policy is refused
/// as [`parse`] refuses it, at every use.
pub fn of(key: &Object) -> Result<KeyPolicy> {
    let parsed = key.kms_memo(|o| match o.get(CKA_SOFTKMS_POLICY) {
        Some(v) if !v.is_empty() => explain(v).map(Some),
        _ => Ok(None),
    })?;
    match parsed.as_ref() {
        Ok(_) => Ok(KeyPolicy(parsed)),
        Err(why) => Err(invalid(why.clone())),
    }
}
