//! Key policies in AWS's words (issue 17; `docs/policy.md`, "Key policies").
//!
//! `PutKeyPolicy`, `CreateKey` and `GetKeyPolicy` speak AWS's policy grammar;
//! the token stores SoftKMS's own (`CKA_SOFTKMS_POLICY`, parsed by
//! `kms::policy`). [`from_aws`] translates the subset of AWS's grammar that
//! maps onto SoftKMS's model and refuses everything else with a
//! [`PolicyError`] naming the construct; [`to_aws`] renders a stored policy
//! back; [`default_aws`] renders the default policy of a key without one.
//!
//! # The rule
//!
//! A translation never lets anybody do more than the AWS document lets them
//! do. Where SoftKMS has one action for several AWS actions, a statement must
//! allow all of them or none; otherwise it is refused, never silently widened
//! nor silently narrowed.
//!
//! # The subset accepted
//!
//! - `Version` `"2012-10-17"` (or absent), `Id` (any string), `Statement` (an
//!   object or a list). No other element. At most [`MAX_POLICY_LEN`] bytes;
//!   at most [`MAX_STATEMENTS`] statements after translation. Duplicate keys
//!   in any JSON object are refused (JSON parsers disagree on which wins).
//! - A statement: `Sid` (becomes `sid`; one starting with `grant:` is refused:
//!   SoftKMS stores grants as statements with that prefix), `Effect: "Allow"`,
//!   `Principal`, `Action`, `Resource` (all three required), `Condition`.
//!   `NotPrincipal`, `NotAction`, `NotResource` and `Deny` are refused.
//! - `Principal`: `"*"`, `{"AWS": "*"}`, or `{"AWS": P}` with `P` one or a list
//!   of `arn:PARTITION:iam::ACCOUNT:root` (SoftKMS's `"user"`, the token
//!   owner), `arn:PARTITION:iam::ACCOUNT:user/NAME` (the named principal
//!   `NAME`: 1 to 32 of `[A-Za-z0-9._@-]`, starting with a letter or a digit,
//!   not `so` nor `user`, no IAM path) or the bare account id (= root), of the
//!   configured partition and account only. Roles, assumed roles, other
//!   accounts, `Service`, `Federated`, `CanonicalUser` are refused.
//!   AWS's root principal stands for the whole account (it delegates to IAM
//!   policies); SoftKMS has no IAM, so it becomes the token owner alone: a
//!   narrowing, never a widening.
//! - `Resource`: `"*"` or the key's own ARN, alone or in a list.
//! - `Condition`: only `StringEquals` on `kms:EncryptionContext:KEY` keys
//!   (prefix case-insensitive, as IAM's condition keys are), each with one
//!   string value (or a one-element list); several keys allowed. See
//!   "Encryption context conditions" below.
//! - `Action`: one or a list of `kms:NAME`, `softkms:NAME` or `"*"`. Names are
//!   case-insensitive, as in IAM, and may hold IAM's wildcards `*` and `?`,
//!   expanded against [`AWS_KMS_ACTIONS`] (for `kms:`) or SoftKMS's actions
//!   (for `softkms:`). A name or pattern that matches nothing is refused.
//!
//! # Actions
//!
//! | AWS actions | SoftKMS |
//! | --- | --- |
//! | `kms:Encrypt` | `Encrypt` |
//! | `kms:Decrypt` | `Decrypt` |
//! | `kms:GenerateDataKey`, `…WithoutPlaintext`, `…Pair`, `…PairWithoutPlaintext` (all four) | `GenerateDataKey` |
//! | `kms:ReEncryptFrom`, `kms:ReEncryptTo` | only beside `Encrypt` and `Decrypt` (SoftKMS's `ReEncrypt` is both) |
//! | `kms:Sign` or `kms:GenerateMac` | `Sign` |
//! | `kms:Verify` or `kms:VerifyMac` | `Verify` |
//! | the 13 of [`MANAGE_KEY`] (all of them) | `ManageKey` |
//! | `kms:PutKeyPolicy`, `kms:CreateGrant`, `kms:RevokeGrant` (all three) | `SetPolicy` (grants are statements of the policy) |
//! | every other `kms:` action | accepted and dropped: SoftKMS does not gate it (`DescribeKey`, `Get*`, `List*`, `RetireGrant`, `GenerateRandom`, …) or offers no such operation (custom key stores, multi-Region keys, `CreateKey`, `DeriveSharedSecret`), so no policy can make it do more |
//! | `softkms:ACTION` | `ACTION` (any SoftKMS action by its own name: `softkms:WrapKey`, `softkms:ExportKey`, `softkms:ReadAudit`, …) |
//! | `softkms:*`, `"*"` | `"*"` (every SoftKMS action, today's and future ones) |
//!
//! `kms:Sign` alone becomes `Sign`, which on an HMAC key also allows
//! `GenerateMac`: a key has one type, so a statement naming one member of the
//! pair means the operation the key has.
//!
//! **`kms:*`** is every AWS KMS action, hence `Encrypt`, `Decrypt`,
//! `GenerateDataKey`, `Sign`, `Verify`, `ManageKey` and `SetPolicy`, and *not*
//! SoftKMS's own `WrapKey`, `UnwrapKey`, `DeriveKey`, `ReadAudit` and
//! `ExportKey`. An AWS user writing `kms:*` means "everything on the key", but
//! everything AWS KMS can do: no AWS KMS key ever lets its material leave
//! (`ExportKey`), nor wraps, unwraps or derives PKCS#11 keys. Granting those
//! because of `kms:*` would widen the document (AWS's default policy gives
//! `kms:*` to the account, and `"Principal": "*"` with `kms:*` is common in
//! examples). Write `softkms:*` (or `"*"`) for everything, or name the actions.
//!
//! # Encryption context conditions
//!
//! SoftKMS's `condition.encryption_context` needs every pair to be in the
//! call's encryption context with an equal string value; extra pairs do not
//! hurt. AWS's `StringEquals` on `kms:EncryptionContext:KEY` is the same for
//! one key: the key must be present with that value (an absent key fails), and
//! several keys in one `StringEquals` must all hold. Differences, all
//! narrowings: AWS compares the KEY part case-insensitively, SoftKMS exactly;
//! multi-valued lists (any of the values), `…IfExists`, other operators,
//! policy variables (`${…}`) and other condition keys are refused. A condition
//! never holds for a call without an encryption context (key management,
//! policy writes), in both.
//!
//! # Back to AWS
//!
//! [`to_aws`] writes one statement per SoftKMS statement (skipping the grants,
//! whose `sid` starts with [`GRANT_SID_PREFIX`]: `ListGrants` shows them),
//! each SoftKMS action as its whole AWS group (sorted), `kms:*` when all
//! seven AWS-expressible actions are there, `softkms:NAME` for the rest and
//! `["kms:*", "softkms:*"]` for `"*"`. `kms:ReEncryptFrom` and
//! `kms:ReEncryptTo` are added to a statement that allows both `Encrypt` and
//! `Decrypt` (SoftKMS lets such a principal re-encrypt). [`from_aws`] of the
//! result gives a policy with the same meaning.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The largest policy document accepted, in bytes (AWS KMS's key policy
/// quota, and SoftKMS's own limit).
pub const MAX_POLICY_LEN: usize = 32 * 1024;
/// The most statements in a policy (SoftKMS's limit).
pub const MAX_STATEMENTS: usize = 64;
/// The only policy language version accepted and written.
pub const POLICY_VERSION: &str = "2012-10-17";
/// The `sid` prefix of the statements that hold grants: refused in a policy
/// document, left out of [`to_aws`].
pub const GRANT_SID_PREFIX: &str = "grant:";

/// The longest principal name (`docs/policy.md`, "Principals").
const MAX_NAME: usize = 32;

/// Where SoftKMS's principals live in AWS's namespace: `arn:PARTITION:iam::ACCOUNT:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// The ARN partition, `"aws"` unless configured otherwise.
    pub partition: String,
    /// The account id, 12 digits, from the configuration.
    pub account: String,
}

/// A policy refused, with the reason (naming the construct) as its message.
///
/// For `PutKeyPolicy` and `CreateKey` this is AWS's
/// `MalformedPolicyDocumentException` (HTTP 400), "the specified policy is not
/// syntactically or semantically correct" ([`PolicyError::AWS_TYPE`]). From
/// [`to_aws`] it means a stored policy that cannot be read: an internal error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(String);

impl PolicyError {
    /// The AWS error type of a refused policy document.
    pub const AWS_TYPE: &'static str = "MalformedPolicyDocumentException";

    /// The reason, for the error response's `message`.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

fn refuse<T>(why: String) -> Result<T, PolicyError> {
    Err(PolicyError(why))
}

// ---------------------------------------------------------------------------
// SoftKMS's actions (`kms::policy::Action`, by their names in policies).

use crate::kms::policy::Action as Sk;

/// Every SoftKMS action with its name, in `kms::policy`'s order.
fn sk_actions() -> impl Iterator<Item = (Sk, &'static str)> {
    Sk::all().map(|a| (a, a.name()))
}

/// The SoftKMS actions that `kms:*` means (see the module notes).
const KMS_STAR: [Sk; 7] = [
    Sk::Encrypt,
    Sk::Decrypt,
    Sk::GenerateDataKey,
    Sk::Sign,
    Sk::Verify,
    Sk::ManageKey,
    Sk::SetPolicy,
];

// ---------------------------------------------------------------------------
// AWS KMS's actions.

/// What an AWS KMS action is to SoftKMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Part of this SoftKMS action, which needs all its AWS actions.
    All(Sk),
    /// Part of this SoftKMS action, which any of its AWS actions gives.
    Any(Sk),
    /// `kms:ReEncryptFrom`, `kms:ReEncryptTo`: only beside Encrypt and Decrypt.
    ReEncrypt,
    /// Not gated by SoftKMS, or no such operation: accepted and dropped.
    Ungated,
}

/// The AWS KMS actions (IAM's names, without `kms:`), as listed by the
/// Service Authorization Reference ("Actions defined by AWS Key Management
/// Service") and the KMS API reference: what `kms:` wildcards expand against.
pub const AWS_KMS_ACTIONS: [&str; 55] = [
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncryptFrom",
    "ReEncryptTo",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "SynchronizeMultiRegionKey",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// The AWS actions that make SoftKMS's `ManageKey` (`docs/policy.md`:
/// attribute writes other than the policy: state, rotation, deletion,
/// label/aliases, description, tags). A statement allows all or none.
/// `kms:ImportKeyMaterial` and `kms:DeleteImportedKeyMaterial` are not among
/// them: the server offers no import (the CLI imports in library mode, one
/// trust domain), so they are dropped like the custom key store actions, and
/// the console's key-administrator statement, which lacks them, is accepted.
pub const MANAGE_KEY: [&str; 13] = [
    "CancelKeyDeletion",
    "CreateAlias",
    "DeleteAlias",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
];

fn role(action: &str) -> Role {
    if MANAGE_KEY.contains(&action) {
        return Role::All(Sk::ManageKey);
    }
    match action {
        "Encrypt" => Role::All(Sk::Encrypt),
        "Decrypt" => Role::All(Sk::Decrypt),
        "GenerateDataKey"
        | "GenerateDataKeyWithoutPlaintext"
        | "GenerateDataKeyPair"
        | "GenerateDataKeyPairWithoutPlaintext" => Role::All(Sk::GenerateDataKey),
        "ReEncryptFrom" | "ReEncryptTo" => Role::ReEncrypt,
        "Sign" | "GenerateMac" => Role::Any(Sk::Sign),
        "Verify" | "VerifyMac" => Role::Any(Sk::Verify),
        "PutKeyPolicy" | "CreateGrant" | "RevokeGrant" => Role::All(Sk::SetPolicy),
        _ => Role::Ungated,
    }
}

/// The AWS actions that make `sk` (empty for SoftKMS's own actions), sorted.
fn members(sk: Sk) -> Vec<&'static str> {
    AWS_KMS_ACTIONS
        .iter()
        .copied()
        .filter(|a| matches!(role(a), Role::All(x) | Role::Any(x) if x == sk))
        .collect()
}

/// IAM's wildcard match (`*` any run, `?` one character) of ASCII-lowercased
/// strings; linear in practice, `O(len(pattern) * len(name))` at worst.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = name.get(n) {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&q) if q == b'?' || q == c => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).unwrap_or(&[]).iter().all(|&c| c == b'*')
}

/// What one statement's `Action` allows, before mapping.
#[derive(Default)]
struct Allowed {
    /// `"*"` or `softkms:*`.
    all: bool,
    /// AWS KMS actions, by name.
    aws: BTreeSet<&'static str>,
    /// SoftKMS actions named with `softkms:`.
    native: BTreeSet<Sk>,
}

/// Adds the actions `pattern` names (`"*"`, `kms:…`, `softkms:…`).
fn add_action(at: &str, pattern: &str, out: &mut Allowed) -> Result<(), PolicyError> {
    let lower = pattern.to_ascii_lowercase();
    let wild = lower.contains(['*', '?']);
    if lower == "*" {
        out.all = true;
        return Ok(());
    }
    if let Some(rest) = lower.strip_prefix("kms:") {
        let mut any = false;
        for a in AWS_KMS_ACTIONS {
            if glob(rest.as_bytes(), a.to_ascii_lowercase().as_bytes()) {
                out.aws.insert(a);
                any = true;
            }
        }
        if !any {
            return refuse(if wild {
                format!("{at}.Action {pattern:?} matches no AWS KMS action")
            } else {
                format!("{at}.Action {pattern:?} is not an AWS KMS action")
            });
        }
        return Ok(());
    }
    if let Some(rest) = lower.strip_prefix("softkms:") {
        if rest == "*" {
            out.all = true;
            return Ok(());
        }
        let mut any = false;
        for (sk, name) in sk_actions() {
            if glob(rest.as_bytes(), name.to_ascii_lowercase().as_bytes()) {
                out.native.insert(sk);
                any = true;
            }
        }
        if !any {
            return refuse(format!(
                "{at}.Action {pattern:?} is not a SoftKMS action (see docs/policy.md, \"Actions\")"
            ));
        }
        return Ok(());
    }
    refuse(format!(
        "{at}.Action {pattern:?}: only kms: actions (and softkms: for SoftKMS's own) apply to a key"
    ))
}

fn kms_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("kms:{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SoftKMS actions of a statement, in `kms::policy`'s order (`["*"]` for
/// all), or the reason it cannot be translated without widening it.
fn resolve(at: &str, a: &Allowed) -> Result<Vec<&'static str>, PolicyError> {
    if a.all {
        return Ok(vec!["*"]);
    }
    let mut set = a.native.clone();
    if set.remove(&Sk::ReEncrypt) {
        set.insert(Sk::Encrypt);
        set.insert(Sk::Decrypt);
    }
    for (sk, _) in sk_actions() {
        let all = members(sk);
        let have: Vec<&str> = all.iter().copied().filter(|m| a.aws.contains(m)).collect();
        if have.is_empty() {
            continue;
        }
        let any = matches!(all.first().map(|m| role(m)), Some(Role::Any(_)));
        if any || have.len() == all.len() {
            set.insert(sk);
            continue;
        }
        if set.contains(&sk) {
            continue; // softkms:NAME gives the whole action anyway
        }
        let missing: Vec<&str> = all.iter().copied().filter(|m| !a.aws.contains(m)).collect();
        let hint = match sk {
            Sk::GenerateDataKey => "allow all four (\"kms:GenerateDataKey*\") or none",
            Sk::ManageKey => {
                "allow all of them or none (AWS's key-administrator statement needs the \
                 missing ones added)"
            }
            Sk::SetPolicy => {
                "allow all three or none (SoftKMS keeps grants in the key policy, so \
                 whoever may create or revoke grants may change the policy)"
            }
            _ => "allow all of them or none",
        };
        return refuse(format!(
            "{at}.Action allows {} but not {}: SoftKMS grants them only together, \
             as its {} action; {hint}",
            kms_list(&have),
            kms_list(&missing),
            sk.name()
        ));
    }
    let re = a.aws.contains("ReEncryptFrom") || a.aws.contains("ReEncryptTo");
    if re && !(set.contains(&Sk::Encrypt) && set.contains(&Sk::Decrypt)) {
        return refuse(format!(
            "{at}.Action allows kms:ReEncrypt* without both kms:Encrypt and kms:Decrypt: \
             SoftKMS cannot re-encrypt without decrypting and encrypting, so its ReEncrypt \
             grants both; allow kms:Encrypt and kms:Decrypt too, or drop kms:ReEncrypt*"
        ));
    }
    Ok(sk_actions()
        .filter(|(sk, _)| set.contains(sk))
        .map(|(_, n)| n)
        .collect())
}

// ---------------------------------------------------------------------------
// Principals.

/// The SoftKMS rule for principal names (`kms::principals::check_name`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "so"
        && name != "user"
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// The AWS principal of a SoftKMS principal: `"user"` (the token owner) is
/// the account's root, `NAME` the IAM user `NAME`, `"*"` stays `"*"`.
pub fn principal_arn(name: &str, naming: &Naming) -> String {
    match name {
        "*" => "*".to_string(),
        "user" => format!("arn:{}:iam::{}:root", naming.partition, naming.account),
        _ => format!(
            "arn:{}:iam::{}:user/{name}",
            naming.partition, naming.account
        ),
    }
}

/// The SoftKMS principal of an AWS principal: the account's root (its ARN or
/// the bare account id) is `"user"`, `arn:…:iam::ACCOUNT:user/NAME` is `NAME`,
/// `"*"` is `"*"`. Anything else (other accounts or partitions, roles, assumed
/// roles, IAM paths, names SoftKMS does not allow) is refused, saying why.
pub fn principal_from_arn(arn: &str, naming: &Naming) -> Result<String, PolicyError> {
    if arn == "*" {
        return Ok("*".to_string());
    }
    if !arn.is_empty() && arn.bytes().all(|b| b.is_ascii_digit()) {
        return if arn == naming.account {
            Ok("user".to_string())
        } else {
            refuse(format!(
                "{arn:?} is another AWS account; SoftKMS knows only account {}",
                naming.account
            ))
        };
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, region, account, resource] = parts.as_slice() else {
        return refuse(format!(
            "{arn:?} is not a principal (\"*\", an account id, or an IAM ARN)"
        ));
    };
    if *arn_ != "arn" {
        return refuse(format!(
            "{arn:?} is not a principal (\"*\", an account id, or an IAM ARN)"
        ));
    }
    if *partition != naming.partition {
        return refuse(format!(
            "{arn:?} is in partition {partition:?}; SoftKMS's is {:?}",
            naming.partition
        ));
    }
    if *service == "sts" {
        return refuse(format!(
            "{arn:?}: assumed roles and federated sessions are not SoftKMS principals; \
             name IAM users (arn:{}:iam::{}:user/NAME)",
            naming.partition, naming.account
        ));
    }
    if *service != "iam" || !region.is_empty() {
        return refuse(format!(
            "{arn:?} is not an IAM principal (arn:{}:iam::{}:user/NAME or :root)",
            naming.partition, naming.account
        ));
    }
    if *account != naming.account {
        return refuse(format!(
            "{arn:?} is in another AWS account; SoftKMS knows only account {}",
            naming.account
        ));
    }
    if *resource == "root" {
        return Ok("user".to_string());
    }
    if let Some(name) = resource.strip_prefix("user/") {
        if valid_name(name) {
            return Ok(name.to_string());
        }
        return refuse(format!(
            "{arn:?}: {name:?} is not a SoftKMS principal name (1 to {MAX_NAME} of \
             A-Z a-z 0-9 . _ @ -, starting with a letter or a digit, not \"so\" nor \"user\", \
             no IAM path)"
        ));
    }
    if resource.starts_with("role/") {
        return refuse(format!(
            "{arn:?}: IAM roles are not SoftKMS principals; name IAM users \
             (arn:{}:iam::{}:user/NAME)",
            naming.partition, naming.account
        ));
    }
    refuse(format!(
        "{arn:?} is not a SoftKMS principal (the account's root or an IAM user)"
    ))
}

// ---------------------------------------------------------------------------
// JSON with duplicate keys refused and objects kept in order.

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool,
    Number,
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool => "a boolean",
            Json::Number => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "a list",
            Json::Obj(_) => "an object",
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Json, E> {
        Ok(Json::Bool)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Arr(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out: Vec<(String, Json)> = Vec::new();
        let mut seen = BTreeSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format_args!("duplicate key {k:?}")));
            }
            let v = map.next_value()?;
            out.push((k, v));
        }
        Ok(Json::Obj(out))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// One string or a non-empty list of strings (IAM's "string or list").
fn strings(at: &str, v: Json) -> Result<Vec<String>, PolicyError> {
    match v {
        Json::Str(s) => Ok(vec![s]),
        Json::Arr(items) if items.is_empty() => refuse(format!("{at} is an empty list")),
        Json::Arr(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, x)| match x {
                Json::Str(s) => Ok(s),
                other => refuse(format!("{at}[{i}] is {}, not a string", other.kind())),
            })
            .collect(),
        other => refuse(format!(
            "{at} is {}, not a string or a list of strings",
            other.kind()
        )),
    }
}

// ---------------------------------------------------------------------------
// SoftKMS's policy document (`docs/policy.md`).

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkPolicy {
    statements: Vec<SkStatement>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkStatement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    principals: Vec<String>,
    allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    condition: Option<SkCondition>,
    /// A grant's record (statements with a `grant:` Sid); kept as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grant: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkCondition {
    encryption_context: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------
// AWS → SoftKMS.

const CONTEXT_KEY: &str = "kms:encryptioncontext:";

fn principals(at: &str, v: Json, naming: &Naming) -> Result<Vec<String>, PolicyError> {
    let list = match v {
        Json::Str(s) if s == "*" => return Ok(vec!["*".to_string()]),
        Json::Obj(fields) => {
            let mut aws = None;
            for (k, v) in fields {
                if k == "AWS" {
                    aws = Some(v);
                } else {
                    return refuse(format!(
                        "{at}.Principal.{k}: only AWS principals (IAM users of account {}, \
                         its root, or \"*\") are SoftKMS principals",
                        naming.account
                    ));
                }
            }
            let Some(aws) = aws else {
                return refuse(format!("{at}.Principal is an empty object"));
            };
            strings(&format!("{at}.Principal.AWS"), aws)?
        }
        other => {
            return refuse(format!(
                "{at}.Principal is {}; it is \"*\" or {{\"AWS\": …}}",
                match &other {
                    Json::Str(s) => format!("{s:?}"),
                    o => o.kind().to_string(),
                }
            ))
        }
    };
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for p in list {
        let name = principal_from_arn(&p, naming)
            .map_err(|e| PolicyError(format!("{at}.Principal.AWS: {}", e.0)))?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn resources(at: &str, v: Json, key_arn: &str) -> Result<(), PolicyError> {
    for r in strings(&format!("{at}.Resource"), v)? {
        if r != "*" && r != key_arn {
            return refuse(format!(
                "{at}.Resource {r:?}: a key policy applies to its key only: \"*\" or {key_arn:?}"
            ));
        }
    }
    Ok(())
}

fn condition(at: &str, v: Json) -> Result<BTreeMap<String, String>, PolicyError> {
    let Json::Obj(ops) = v else {
        return refuse(format!("{at}.Condition is {}, not an object", v.kind()));
    };
    let mut out = BTreeMap::new();
    for (op, body) in ops {
        if op != "StringEquals" {
            return refuse(format!(
                "{at}.Condition.{op}: SoftKMS supports only StringEquals on \
                 kms:EncryptionContext:KEY"
            ));
        }
        let Json::Obj(pairs) = body else {
            return refuse(format!(
                "{at}.Condition.StringEquals is {}, not an object",
                body.kind()
            ));
        };
        for (k, v) in pairs {
            let key = match k.get(..CONTEXT_KEY.len()) {
                Some(prefix) if prefix.eq_ignore_ascii_case(CONTEXT_KEY) => {
                    k.get(CONTEXT_KEY.len()..).unwrap_or("")
                }
                _ => "",
            };
            if key.is_empty() {
                return refuse(format!(
                    "{at}.Condition.StringEquals {k:?}: SoftKMS supports only \
                     kms:EncryptionContext:KEY condition keys"
                ));
            }
            let value = match v {
                Json::Str(s) => s,
                Json::Arr(mut items) if items.len() == 1 => match items.pop() {
                    Some(Json::Str(s)) => s,
                    _ => {
                        return refuse(format!(
                            "{at}.Condition.StringEquals {k:?}: the value is not a string"
                        ))
                    }
                },
                Json::Arr(items) => {
                    return refuse(format!(
                        "{at}.Condition.StringEquals {k:?}: {} values; SoftKMS needs exactly one \
                         (a list means any of them)",
                        items.len()
                    ))
                }
                other => {
                    return refuse(format!(
                        "{at}.Condition.StringEquals {k:?} is {}, not a string",
                        other.kind()
                    ))
                }
            };
            let Some(value) = unescape(&value) else {
                return refuse(format!(
                    "{at}.Condition.StringEquals {k:?}: policy variables (${{…}}) are not supported \
                     (write a literal $ as ${{$}})"
                ));
            };
            if out.get(key).is_some_and(|old| *old != value) {
                return refuse(format!(
                    "{at}.Condition.StringEquals: encryption context key {key:?} is given \
                     twice with different values"
                ));
            }
            out.insert(key.to_string(), value);
        }
    }
    Ok(out)
}

/// A condition value with IAM's escapes `${$}`, `${*}`, `${?}` undone;
/// `None` when it holds a policy variable (any other `${…}`).
fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        out.push_str(rest.get(..i)?);
        let after = rest.get(i + 2..)?;
        let c = match after.get(..2)? {
            "$}" => '$',
            "*}" => '*',
            "?}" => '?',
            _ => return None,
        };
        out.push(c);
        rest = after.get(2..)?;
    }
    out.push_str(rest);
    Some(out)
}

/// The escape of a literal value for a condition: every `$` as `${$}`, so
/// that AWS reads no policy variable in it.
fn escape(value: &str) -> String {
    value.replace('$', "${$}")
}

/// One AWS statement → one SoftKMS statement (`None`: it allows nothing
/// SoftKMS gates).
fn statement(
    at: &str,
    s: Json,
    naming: &Naming,
    key_arn: &str,
) -> Result<Option<SkStatement>, PolicyError> {
    let Json::Obj(fields) = s else {
        return refuse(format!("{at} is {}, not an object", s.kind()));
    };
    let (mut sid, mut effect, mut principal, mut action, mut resource, mut cond) =
        (None, None, None, None, None, None);
    for (k, v) in fields {
        match k.as_str() {
            "Sid" => sid = Some(v),
            "Effect" => effect = Some(v),
            "Principal" => principal = Some(v),
            "Action" => action = Some(v),
            "Resource" => resource = Some(v),
            "Condition" => cond = Some(v),
            "NotPrincipal" | "NotAction" | "NotResource" => {
                return refuse(format!(
                    "{at}.{k}: SoftKMS policies name what they allow; use {}",
                    k.trim_start_matches("Not")
                ))
            }
            _ => {
                return refuse(format!(
                    "{at}.{k}: unknown statement element (a statement has Sid, Effect, Principal, \
                     Action, Resource and Condition)"
                ))
            }
        }
    }
    let sid = match sid {
        None => None,
        Some(Json::Str(s)) if s.starts_with(GRANT_SID_PREFIX) => {
            return refuse(format!(
                "{at}.Sid {s:?}: Sids starting with {GRANT_SID_PREFIX:?} are reserved for grants"
            ))
        }
        Some(Json::Str(s)) => Some(s),
        Some(other) => return refuse(format!("{at}.Sid is {}, not a string", other.kind())),
    };
    match effect {
        Some(Json::Str(e)) if e == "Allow" => {}
        Some(Json::Str(e)) if e == "Deny" => {
            return refuse(format!("{at}.Effect \"Deny\": SoftKMS policies only allow"))
        }
        Some(Json::Str(e)) => return refuse(format!("{at}.Effect {e:?}: must be \"Allow\"")),
        Some(other) => return refuse(format!("{at}.Effect is {}, not \"Allow\"", other.kind())),
        None => return refuse(format!("{at}: Effect is missing")),
    }
    let Some(principal) = principal else {
        return refuse(format!("{at}: Principal is missing"));
    };
    let principals = principals(at, principal, naming)?;
    let Some(resource) = resource else {
        return refuse(format!(
            "{at}: Resource is missing (\"*\" or the key's ARN)"
        ));
    };
    resources(at, resource, key_arn)?;
    let context = match cond {
        None => BTreeMap::new(),
        Some(c) => condition(at, c)?,
    };
    let Some(action) = action else {
        return refuse(format!("{at}: Action is missing"));
    };
    let mut allowed = Allowed::default();
    for a in strings(&format!("{at}.Action"), action)? {
        add_action(at, &a, &mut allowed)?;
    }
    let allow = resolve(at, &allowed)?;
    if allow.is_empty() {
        return Ok(None);
    }
    Ok(Some(SkStatement {
        sid,
        principals,
        allow: allow.into_iter().map(str::to_string).collect(),
        condition: (!context.is_empty()).then_some(SkCondition {
            encryption_context: context,
        }),
        grant: None,
    }))
}

/// Translates an AWS key policy document (`PutKeyPolicy`, `CreateKey`) for
/// the key `key_arn` into SoftKMS's policy JSON (`docs/policy.md`), or refuses
/// it naming the construct SoftKMS cannot honour (see the module notes).
///
/// Statements that allow only actions SoftKMS does not gate are dropped; a
/// document left with none gives `{"statements":[]}`. The caller still runs
/// SoftKMS's lock-out check (`kms::policy::check_set`) and appends the key's
/// grant statements.
pub fn from_aws(doc: &str, naming: &Naming, key_arn: &str) -> Result<String, PolicyError> {
    if doc.len() > MAX_POLICY_LEN {
        return refuse(format!(
            "the policy has {} bytes; at most {MAX_POLICY_LEN}",
            doc.len()
        ));
    }
    let json: Json = serde_json::from_str(doc)
        .map_err(|e| PolicyError(format!("the policy is not valid JSON: {e}")))?;
    let Json::Obj(top) = json else {
        return refuse(format!("the policy is {}, not a JSON object", json.kind()));
    };
    let mut statement_json = None;
    for (k, v) in top {
        match k.as_str() {
            "Version" => match v {
                Json::Str(s) if s == POLICY_VERSION => {}
                Json::Str(s) => {
                    return refuse(format!(
                        "Version {s:?}: SoftKMS reads only {POLICY_VERSION:?}"
                    ))
                }
                other => return refuse(format!("Version is {}, not a string", other.kind())),
            },
            "Id" => {
                if !matches!(v, Json::Str(_)) {
                    return refuse(format!("Id is {}, not a string", v.kind()));
                }
            }
            "Statement" => statement_json = Some(v),
            _ => {
                return refuse(format!(
                    "{k:?}: unknown policy element (a key policy has Version, Id and Statement)"
                ))
            }
        }
    }
    let list: Vec<(String, Json)> = match statement_json {
        None => return refuse("Statement is missing".to_string()),
        Some(Json::Arr(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("Statement[{i}]"), s))
            .collect(),
        Some(s @ Json::Obj(_)) => vec![("Statement".to_string(), s)],
        Some(other) => {
            return refuse(format!(
                "Statement is {}, not an object or a list",
                other.kind()
            ))
        }
    };
    let mut statements = Vec::new();
    for (at, s) in list {
        if let Some(st) = statement(&at, s, naming, key_arn)? {
            statements.push(st);
        }
    }
    if statements.len() > MAX_STATEMENTS {
        return refuse(format!(
            "{} statements; SoftKMS keeps at most {MAX_STATEMENTS}",
            statements.len()
        ));
    }
    let out = serde_json::to_string(&SkPolicy { statements })
        .map_err(|e| PolicyError(format!("cannot write the policy: {e}")))?;
    if out.len() > MAX_POLICY_LEN {
        return refuse(format!(
            "the policy takes {} bytes in SoftKMS's form; at most {MAX_POLICY_LEN}",
            out.len()
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// SoftKMS → AWS.

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AwsDoc {
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    statement: Vec<AwsStatement>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AwsStatement {
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    effect: &'static str,
    principal: AwsPrincipal,
    action: Vec<String>,
    resource: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<AwsCondition>,
}

enum AwsPrincipal {
    Any,
    Aws(Vec<String>),
}

impl Serialize for AwsPrincipal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AwsPrincipal::Any => s.serialize_str("*"),
            AwsPrincipal::Aws(arns) => {
                let mut m = BTreeMap::new();
                m.insert("AWS", arns);
                m.serialize(s)
            }
        }
    }
}

#[derive(Serialize)]
struct AwsCondition {
    #[serde(rename = "StringEquals")]
    string_equals: BTreeMap<String, String>,
}

/// The AWS actions of a set of SoftKMS actions (`None`: all), sorted.
fn aws_actions(set: Option<&BTreeSet<Sk>>) -> Vec<String> {
    let Some(set) = set else {
        return vec!["kms:*".to_string(), "softkms:*".to_string()];
    };
    let mut set = set.clone();
    if set.remove(&Sk::ReEncrypt) {
        set.insert(Sk::Encrypt);
        set.insert(Sk::Decrypt);
    }
    let mut out = BTreeSet::new();
    let star = KMS_STAR.iter().all(|sk| set.contains(sk));
    if star {
        out.insert("kms:*".to_string());
    }
    for sk in &set {
        let m = members(*sk);
        if m.is_empty() {
            out.insert(format!("softkms:{}", sk.name()));
        } else if !star {
            out.extend(m.iter().map(|a| format!("kms:{a}")));
        }
    }
    if !star && set.contains(&Sk::Encrypt) && set.contains(&Sk::Decrypt) {
        out.insert("kms:ReEncryptFrom".to_string());
        out.insert("kms:ReEncryptTo".to_string());
    }
    out.into_iter().collect()
}

/// Renders a SoftKMS policy (the JSON of `CKA_SOFTKMS_POLICY`) as an AWS key
/// policy document for `GetKeyPolicy`: pretty JSON, `"Version": "2012-10-17"`,
/// one statement per SoftKMS statement except the grants, `Resource: "*"`.
/// The same input always gives the same output. An error means the stored
/// policy is not a valid SoftKMS policy (an internal error, not the caller's).
///
/// The rendition is larger than the stored policy (each action is spelt as
/// its AWS group, pretty-printed): a large policy can render past
/// [`MAX_POLICY_LEN`], and [`from_aws`] then refuses it as AWS would. It is
/// still rendered, so that `GetKeyPolicy` never fails on a stored policy.
pub fn to_aws(softkms: &str, naming: &Naming) -> Result<String, PolicyError> {
    if softkms.len() > MAX_POLICY_LEN {
        return refuse(format!(
            "the stored policy has {} bytes; at most {MAX_POLICY_LEN}",
            softkms.len()
        ));
    }
    let p: SkPolicy = serde_json::from_str(softkms)
        .map_err(|e| PolicyError(format!("the stored policy is not a SoftKMS policy: {e}")))?;
    if p.statements.len() > MAX_STATEMENTS {
        return refuse(format!(
            "the stored policy has {} statements; at most {MAX_STATEMENTS}",
            p.statements.len()
        ));
    }
    let mut statement = Vec::with_capacity(p.statements.len());
    for (i, s) in p.statements.into_iter().enumerate() {
        if s.sid
            .as_deref()
            .is_some_and(|x| x.starts_with(GRANT_SID_PREFIX))
        {
            continue;
        }
        if s.principals.is_empty() || s.allow.is_empty() {
            return refuse(format!(
                "stored statement {i}: empty \"principals\" or \"allow\""
            ));
        }
        let principal = if s.principals.iter().any(|p| p == "*") {
            AwsPrincipal::Any
        } else {
            let mut arns = Vec::with_capacity(s.principals.len());
            for p in &s.principals {
                if p != "user" && !valid_name(p) {
                    return refuse(format!("stored statement {i}: {p:?} is not a principal"));
                }
                let arn = principal_arn(p, naming);
                if !arns.contains(&arn) {
                    arns.push(arn);
                }
            }
            AwsPrincipal::Aws(arns)
        };
        let mut set = BTreeSet::new();
        let mut all = false;
        for a in &s.allow {
            if a == "*" {
                all = true;
            } else if let Some(sk) = Sk::from_name(a) {
                set.insert(sk);
            } else {
                return refuse(format!("stored statement {i}: unknown action {a:?}"));
            }
        }
        let condition = match s.condition {
            None => None,
            Some(c) if c.encryption_context.is_empty() => {
                return refuse(format!(
                    "stored statement {i}: empty \"encryption_context\""
                ))
            }
            Some(c) => Some(AwsCondition {
                string_equals: c
                    .encryption_context
                    .into_iter()
                    .map(|(k, v)| (format!("kms:EncryptionContext:{k}"), escape(&v)))
                    .collect(),
            }),
        };
        statement.push(AwsStatement {
            sid: s.sid,
            effect: "Allow",
            principal,
            action: aws_actions((!all).then_some(&set)),
            resource: "*",
            condition,
        });
    }
    serde_json::to_string_pretty(&AwsDoc {
        version: POLICY_VERSION,
        id: None,
        statement,
    })
    .map_err(|e| PolicyError(format!("cannot write the policy: {e}")))
}

/// The AWS rendition of the default policy of a key without
/// `CKA_SOFTKMS_POLICY`: its creator and the token owner may do everything
/// (`docs/policy.md`, "The default policy"). A `creator` that is `"user"` or
/// not a principal name (keys older than `CKA_SOFTKMS_CREATOR`) leaves the
/// token owner alone. [`from_aws`] of it gives the same rights as an explicit
/// policy (the default's leniency to the SO and anonymous sessions, which
/// PKCS#11 confines anyway, has no AWS form).
pub fn default_aws(creator: &str, naming: &Naming) -> String {
    let mut arns = vec![principal_arn("user", naming)];
    if valid_name(creator) {
        arns.push(principal_arn(creator, naming));
    }
    let doc = AwsDoc {
        version: POLICY_VERSION,
        id: Some("softkms-default"),
        statement: vec![AwsStatement {
            sid: Some("The key's creator and the token owner may do everything".to_string()),
            effect: "Allow",
            principal: AwsPrincipal::Aws(arns),
            action: aws_actions(None),
            resource: "*",
            condition: None,
        }],
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const ACCOUNT: &str = "111122223333";
    const KEY: &str = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn naming() -> Naming {
        Naming {
            partition: "aws".into(),
            account: ACCOUNT.into(),
        }
    }

    fn root() -> String {
        format!("arn:aws:iam::{ACCOUNT}:root")
    }

    fn user(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:user/{name}")
    }

    /// `from_aws` of a document, parsed.
    fn ok(doc: &Value) -> Value {
        let text = doc.to_string();
        let out = from_aws(&text, &naming(), KEY).unwrap_or_else(|e| panic!("{text}: {e}"));
        serde_json::from_str(&out).unwrap()
    }

    /// `from_aws`'s refusal of a document.
    fn no(doc: &Value) -> String {
        let text = doc.to_string();
        match from_aws(&text, &naming(), KEY) {
            Ok(out) => panic!("{text} accepted as {out}"),
            Err(e) => e.message().to_string(),
        }
    }

    fn doc(statements: Vec<Value>) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    /// A statement for alice allowing `action`.
    fn allow(action: Value) -> Value {
        json!({"Effect": "Allow", "Principal": {"AWS": user("alice")}, "Action": action, "Resource": "*"})
    }

    /// The SoftKMS actions one statement of alice's gets from `action`.
    fn actions_of(action: Value) -> Value {
        let out = ok(&doc(vec![allow(action)]));
        out["statements"][0]["allow"].clone()
    }

    fn assert_refused(doc: &Value, needle: &str) {
        let why = no(doc);
        assert!(why.contains(needle), "{why:?} does not say {needle:?}");
    }

    fn expand(pattern: &str) -> Vec<&'static str> {
        let mut a = Allowed::default();
        add_action("S", pattern, &mut a).unwrap();
        a.aws.into_iter().collect()
    }

    // --- the tables --------------------------------------------------------

    #[test]
    fn tables_are_consistent() {
        let mut sorted = AWS_KMS_ACTIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, AWS_KMS_ACTIONS.to_vec(), "sorted, no duplicates");
        for m in MANAGE_KEY {
            assert!(AWS_KMS_ACTIONS.contains(&m), "{m}");
        }
        assert_eq!(members(Sk::ManageKey), MANAGE_KEY.to_vec());
        assert_eq!(
            members(Sk::GenerateDataKey),
            [
                "GenerateDataKey",
                "GenerateDataKeyPair",
                "GenerateDataKeyPairWithoutPlaintext",
                "GenerateDataKeyWithoutPlaintext"
            ]
        );
        assert_eq!(
            members(Sk::SetPolicy),
            ["CreateGrant", "PutKeyPolicy", "RevokeGrant"]
        );
        assert_eq!(members(Sk::Sign), ["GenerateMac", "Sign"]);
        assert_eq!(members(Sk::Verify), ["Verify", "VerifyMac"]);
        assert_eq!(members(Sk::Encrypt), ["Encrypt"]);
        assert_eq!(members(Sk::Decrypt), ["Decrypt"]);
        for sk in [
            Sk::ReEncrypt,
            Sk::WrapKey,
            Sk::UnwrapKey,
            Sk::DeriveKey,
            Sk::ReadAudit,
            Sk::ExportKey,
        ] {
            assert!(members(sk).is_empty(), "{sk:?}");
        }
        let gated = AWS_KMS_ACTIONS
            .iter()
            .filter(|a| role(a) != Role::Ungated)
            .count();
        assert_eq!(gated, 28, "28 AWS actions map onto SoftKMS, 27 are dropped");
        for (sk, name) in sk_actions() {
            assert_eq!(Sk::from_name(name), Some(sk));
            assert_eq!(sk.name(), name);
        }
    }

    #[test]
    fn error_type_is_awss() {
        assert_eq!(PolicyError::AWS_TYPE, "MalformedPolicyDocumentException");
        let e = PolicyError("x".into());
        assert_eq!(e.to_string(), "x");
    }

    // --- AWS's own documents -------------------------------------------------

    #[test]
    fn aws_default_key_policy() {
        // The key policy AWS KMS gives a key created through the API.
        let aws = json!({
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [{
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": root()},
                "Action": "kms:*",
                "Resource": "*"
            }]
        });
        assert_eq!(
            ok(&aws),
            json!({"statements": [{
                "sid": "Enable IAM User Permissions",
                "principals": ["user"],
                "allow": ["Encrypt", "Decrypt", "GenerateDataKey", "Sign", "Verify", "ManageKey", "SetPolicy"]
            }]})
        );
    }

    fn key_admin_actions() -> Value {
        // The console's key-administrator statement.
        json!([
            "kms:Create*",
            "kms:Describe*",
            "kms:Enable*",
            "kms:List*",
            "kms:Put*",
            "kms:Update*",
            "kms:Revoke*",
            "kms:Disable*",
            "kms:Get*",
            "kms:Delete*",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:ScheduleKeyDeletion",
            "kms:CancelKeyDeletion",
            "kms:RotateKeyOnDemand"
        ])
    }

    #[test]
    fn console_key_administrators() {
        let admin = json!({
            "Sid": "Allow access for Key Administrators",
            "Effect": "Allow",
            "Principal": {"AWS": user("KMSAdmin")},
            "Action": key_admin_actions(),
            "Resource": "*"
        });
        // Without kms:RotateKeyOnDemand (older consoles) it is a partial ManageKey.
        let mut old = admin.clone();
        old["Action"]
            .as_array_mut()
            .unwrap()
            .retain(|a| a != "kms:RotateKeyOnDemand");
        let why = no(&doc(vec![old]));
        assert!(why.contains("but not kms:RotateKeyOnDemand"), "{why}");
        assert!(why.contains("ManageKey"), "{why}");
        // As the console writes it now, administrators manage the key and its
        // policy, and use nothing.
        let fixed = admin;
        assert_eq!(
            ok(&doc(vec![fixed])),
            json!({"statements": [{
                "sid": "Allow access for Key Administrators",
                "principals": ["KMSAdmin"],
                "allow": ["ManageKey", "SetPolicy"]
            }]})
        );
    }

    #[test]
    fn console_key_users() {
        let users = json!({
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": {"AWS": [user("alice"), user("bob")]},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*"
        });
        assert_eq!(
            ok(&doc(vec![users.clone()])),
            json!({"statements": [{
                "sid": "Allow use of the key",
                "principals": ["alice", "bob"],
                "allow": ["Encrypt", "Decrypt", "GenerateDataKey"]
            }]})
        );
        // The console's third statement (grants for AWS services) is refused
        // for its condition.
        let persistent = json!({
            "Sid": "Allow attachment of persistent resources",
            "Effect": "Allow",
            "Principal": {"AWS": user("alice")},
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}
        });
        assert_refused(
            &doc(vec![users, persistent]),
            "Statement[1].Condition.Bool: SoftKMS supports only StringEquals",
        );
        // The asymmetric and HMAC key users' statements.
        assert_eq!(
            actions_of(json!([
                "kms:DescribeKey",
                "kms:GetPublicKey",
                "kms:Sign",
                "kms:Verify"
            ])),
            json!(["Sign", "Verify"])
        );
        assert_eq!(
            actions_of(json!([
                "kms:DescribeKey",
                "kms:GenerateMac",
                "kms:VerifyMac"
            ])),
            json!(["Sign", "Verify"])
        );
    }

    // --- actions -----------------------------------------------------------

    #[test]
    fn wildcards_expand_against_the_aws_list() {
        assert_eq!(expand("kms:*").len(), 55);
        assert_eq!(
            expand("kms:Get*"),
            [
                "GetKeyPolicy",
                "GetKeyRotationStatus",
                "GetParametersForImport",
                "GetPublicKey"
            ]
        );
        assert_eq!(expand("kms:ReEncrypt*"), ["ReEncryptFrom", "ReEncryptTo"]);
        assert_eq!(expand("kms:GenerateDataKey*").len(), 4);
        assert_eq!(
            expand("kms:*Key"),
            [
                "CreateKey",
                "DescribeKey",
                "DisableKey",
                "EnableKey",
                "GenerateDataKey",
                "GetPublicKey",
                "ReplicateKey",
                "SynchronizeMultiRegionKey"
            ]
        );
        assert_eq!(expand("kms:?ncrypt"), ["Encrypt"]);
        assert_eq!(expand("kms:*crypt"), ["Decrypt", "Encrypt"]);
        assert_eq!(expand("kms:Verify*"), ["Verify", "VerifyMac"]);
        assert_eq!(expand("kms:*Mac"), ["GenerateMac", "VerifyMac"]);
        assert_eq!(expand("kms:**Encrypt*To"), ["ReEncryptTo"]);
        assert_eq!(expand("kms:Sign"), ["Sign"]);
        assert!(glob(b"a*b*c", b"aXbYc"));
        assert!(!glob(b"a*b*c", b"aXbY"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"?", b""));
        assert!(!glob(b"", b"a"));
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(actions_of(json!("KMS:ENCRYPT")), json!(["Encrypt"]));
        assert_eq!(actions_of(json!("kms:decrypt")), json!(["Decrypt"]));
        assert_eq!(
            actions_of(json!("Kms:generatedatakey*")),
            json!(["GenerateDataKey"])
        );
        assert_eq!(actions_of(json!("SoftKMS:wrapkey")), json!(["WrapKey"]));
        assert_eq!(actions_of(json!("SOFTKMS:*")), json!(["*"]));
        // Condition keys too (their prefix).
        let mut s = allow(json!("kms:Decrypt"));
        s["Condition"] = json!({"StringEquals": {"KMS:encryptioncontext:App": "billing"}});
        assert_eq!(
            ok(&doc(vec![s]))["statements"][0]["condition"],
            json!({"encryption_context": {"App": "billing"}})
        );
    }

    #[test]
    fn action_mapping() {
        assert_eq!(actions_of(json!("kms:Encrypt")), json!(["Encrypt"]));
        assert_eq!(actions_of(json!(["kms:Decrypt"])), json!(["Decrypt"]));
        assert_eq!(
            actions_of(json!("kms:GenerateDataKey*")),
            json!(["GenerateDataKey"])
        );
        assert_eq!(actions_of(json!("kms:Sign")), json!(["Sign"]));
        assert_eq!(actions_of(json!("kms:GenerateMac")), json!(["Sign"]));
        assert_eq!(actions_of(json!("kms:Verify")), json!(["Verify"]));
        assert_eq!(actions_of(json!("kms:VerifyMac")), json!(["Verify"]));
        assert_eq!(
            actions_of(json!([
                "kms:PutKeyPolicy",
                "kms:CreateGrant",
                "kms:RevokeGrant"
            ])),
            json!(["SetPolicy"])
        );
        let manage: Vec<String> = MANAGE_KEY.iter().map(|a| format!("kms:{a}")).collect();
        assert_eq!(actions_of(json!(manage)), json!(["ManageKey"]));
        assert_eq!(
            actions_of(json!(["kms:ReEncrypt*", "kms:Encrypt", "kms:Decrypt"])),
            json!(["Encrypt", "Decrypt"])
        );
        // kms:* is everything AWS KMS can do, not SoftKMS's own actions.
        assert_eq!(
            actions_of(json!("kms:*")),
            json!([
                "Encrypt",
                "Decrypt",
                "GenerateDataKey",
                "Sign",
                "Verify",
                "ManageKey",
                "SetPolicy"
            ])
        );
        assert_eq!(actions_of(json!("*")), json!(["*"]));
        assert_eq!(actions_of(json!(["kms:Encrypt", "*"])), json!(["*"]));
        assert_eq!(actions_of(json!("softkms:*")), json!(["*"]));
        assert_eq!(
            actions_of(json!([
                "softkms:ExportKey",
                "softkms:ReadAudit",
                "softkms:DeriveKey",
                "softkms:WrapKey",
                "softkms:UnwrapKey"
            ])),
            json!([
                "WrapKey",
                "UnwrapKey",
                "DeriveKey",
                "ReadAudit",
                "ExportKey"
            ])
        );
        assert_eq!(
            actions_of(json!("softkms:*Key")),
            json!([
                "GenerateDataKey",
                "WrapKey",
                "UnwrapKey",
                "DeriveKey",
                "ManageKey",
                "ExportKey"
            ])
        );
        assert_eq!(
            actions_of(json!("softkms:ReEncrypt")),
            json!(["Encrypt", "Decrypt"])
        );
        // A softkms: name covers a partial AWS group and kms:ReEncrypt*.
        assert_eq!(
            actions_of(json!(["kms:GenerateDataKey", "softkms:GenerateDataKey"])),
            json!(["GenerateDataKey"])
        );
        assert_eq!(
            actions_of(json!(["kms:ReEncryptFrom", "softkms:ReEncrypt"])),
            json!(["Encrypt", "Decrypt"])
        );
        assert_eq!(
            actions_of(json!(["kms:EnableKey", "softkms:ManageKey"])),
            json!(["ManageKey"])
        );
    }

    #[test]
    fn ungated_actions_are_dropped() {
        let read = json!([
            "kms:Describe*",
            "kms:Get*",
            "kms:List*",
            "kms:RetireGrant",
            "kms:GenerateRandom",
            "kms:CreateKey",
            "kms:ReplicateKey",
            "kms:DeriveSharedSecret",
            "kms:UpdatePrimaryRegion"
        ]);
        // A statement left with nothing is dropped; a document left with none is fine.
        assert_eq!(
            ok(&doc(vec![allow(read.clone())])),
            json!({"statements": []})
        );
        let out = ok(&doc(vec![
            allow(read),
            allow(json!(["kms:Encrypt", "kms:DescribeKey"])),
        ]));
        assert_eq!(out["statements"].as_array().unwrap().len(), 1);
        assert_eq!(out["statements"][0]["allow"], json!(["Encrypt"]));
        assert_eq!(ok(&doc(vec![])), json!({"statements": []}));
    }

    #[test]
    fn partial_groups_are_refused() {
        let why = no(&doc(vec![allow(json!([
            "kms:GenerateDataKey",
            "kms:Encrypt"
        ]))]));
        assert!(why.contains("Statement[0].Action allows kms:GenerateDataKey but not kms:GenerateDataKeyPair, kms:GenerateDataKeyPairWithoutPlaintext, kms:GenerateDataKeyWithoutPlaintext"), "{why}");
        assert!(why.contains("\"kms:GenerateDataKey*\""), "{why}");
        let why = no(&doc(vec![allow(json!([
            "kms:CreateGrant",
            "kms:ListGrants"
        ]))]));
        assert!(
            why.contains("but not kms:PutKeyPolicy, kms:RevokeGrant"),
            "{why}"
        );
        assert!(why.contains("SetPolicy"), "{why}");
        assert_refused(
            &doc(vec![allow(json!("kms:*Key"))]),
            "allows kms:GenerateDataKey but not kms:GenerateDataKeyPair",
        );
        assert_refused(
            &doc(vec![allow(json!(["kms:*Key", "kms:GenerateDataKey*"]))]),
            "allows kms:DisableKey, kms:EnableKey but not kms:CancelKeyDeletion",
        );
        // AWS's PowerUser-style alias and tag management.
        assert_refused(
            &doc(vec![allow(json!([
                "kms:CreateAlias",
                "kms:DeleteAlias",
                "kms:TagResource",
                "kms:UntagResource"
            ]))]),
            "as its ManageKey action",
        );
    }

    #[test]
    fn reencrypt_needs_encrypt_and_decrypt() {
        for action in [
            json!("kms:ReEncrypt*"),
            json!(["kms:ReEncryptFrom", "kms:Decrypt"]),
            json!(["kms:ReEncryptTo", "kms:Encrypt"]),
            json!(["kms:ReEncrypt*", "kms:Encrypt", "kms:GenerateDataKey*"]),
        ] {
            assert_refused(
                &doc(vec![allow(action)]),
                "SoftKMS cannot re-encrypt without decrypting",
            );
        }
        // Encrypt and Decrypt from two statements do not count.
        assert_refused(
            &doc(vec![
                allow(json!("kms:Encrypt")),
                allow(json!(["kms:Decrypt", "kms:ReEncryptFrom"])),
            ]),
            "Statement[1].Action allows kms:ReEncrypt*",
        );
    }

    #[test]
    fn unknown_actions_are_refused() {
        assert_refused(
            &doc(vec![allow(json!("kms:Frobnicate"))]),
            "\"kms:Frobnicate\" is not an AWS KMS action",
        );
        assert_refused(
            &doc(vec![allow(json!("kms:Foo*"))]),
            "\"kms:Foo*\" matches no AWS KMS action",
        );
        assert_refused(&doc(vec![allow(json!("kms:"))]), "is not an AWS KMS action");
        assert_refused(
            &doc(vec![allow(json!("s3:GetObject"))]),
            "\"s3:GetObject\": only kms: actions",
        );
        assert_refused(
            &doc(vec![allow(json!("Encrypt"))]),
            "\"Encrypt\": only kms: actions",
        );
        assert_refused(
            &doc(vec![allow(json!("softkms:Fly"))]),
            "\"softkms:Fly\" is not a SoftKMS action",
        );
        assert_refused(
            &doc(vec![allow(json!(["kms:Encrypt", "kms:Decrypt2"]))]),
            "\"kms:Decrypt2\"",
        );
        assert_refused(
            &doc(vec![allow(json!([]))]),
            "Statement[0].Action is an empty list",
        );
        assert_refused(
            &doc(vec![allow(json!(7))]),
            "Statement[0].Action is a number",
        );
        assert_refused(
            &doc(vec![allow(json!(["kms:Encrypt", null]))]),
            "Statement[0].Action[1] is null",
        );
    }

    // --- principals, resources, conditions -----------------------------------

    #[test]
    fn principals() {
        let p = |principal: Value| {
            let mut s = allow(json!("kms:Encrypt"));
            s["Principal"] = principal;
            doc(vec![s])
        };
        let names = |principal: Value| ok(&p(principal))["statements"][0]["principals"].clone();
        assert_eq!(names(json!("*")), json!(["*"]));
        assert_eq!(names(json!({"AWS": "*"})), json!(["*"]));
        assert_eq!(names(json!({"AWS": ["*"]})), json!(["*"]));
        assert_eq!(names(json!({"AWS": root()})), json!(["user"]));
        assert_eq!(names(json!({"AWS": ACCOUNT})), json!(["user"]));
        assert_eq!(
            names(
                json!({"AWS": [user("alice"), root(), user("a.b_c-d@e"), user("alice"), ACCOUNT]})
            ),
            json!(["alice", "user", "a.b_c-d@e"])
        );
        let refusals = [
            (
                json!({"AWS": "arn:aws:iam::444455556666:root"}),
                "another AWS account",
            ),
            (json!({"AWS": "444455556666"}), "another AWS account"),
            (
                json!({"AWS": "arn:aws:iam::444455556666:user/alice"}),
                "another AWS account",
            ),
            (
                json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:role/Admin")}),
                "IAM roles are not SoftKMS principals",
            ),
            (
                json!({"AWS": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/s")}),
                "assumed roles",
            ),
            (
                json!({"AWS": format!("arn:aws-cn:iam::{ACCOUNT}:root")}),
                "partition \"aws-cn\"",
            ),
            (
                json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:user/team/alice")}),
                "no IAM path",
            ),
            (json!({"AWS": user("user")}), "not a SoftKMS principal name"),
            (json!({"AWS": user("so")}), "not a SoftKMS principal name"),
            (json!({"AWS": user("-x")}), "not a SoftKMS principal name"),
            (
                json!({"AWS": user(&"a".repeat(33))}),
                "not a SoftKMS principal name",
            ),
            (
                json!({"AWS": user("al+ice")}),
                "not a SoftKMS principal name",
            ),
            (json!({"AWS": user("")}), "not a SoftKMS principal name"),
            (
                json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:group/Admins")}),
                "not a SoftKMS principal",
            ),
            (
                json!({"AWS": format!("arn:aws:iam:us-east-1:{ACCOUNT}:root")}),
                "not an IAM principal",
            ),
            (json!({"AWS": "AIDACKCEVSQ6C2EXAMPLE"}), "not a principal"),
            (json!({"AWS": "arn:aws:iam"}), "not a principal"),
            (json!({"AWS": ""}), "not a principal"),
            (
                json!({"Service": "logs.amazonaws.com"}),
                "Statement[0].Principal.Service: only AWS principals",
            ),
            (
                json!({"Federated": "cognito-identity.amazonaws.com"}),
                "Principal.Federated",
            ),
            (
                json!({"CanonicalUser": "79a59df9"}),
                "Principal.CanonicalUser",
            ),
            (
                json!({"AWS": root(), "Service": "s3.amazonaws.com"}),
                "Principal.Service",
            ),
            (json!({}), "Principal is an empty object"),
            (json!({"AWS": []}), "Principal.AWS is an empty list"),
            (json!({"AWS": 5}), "Principal.AWS is a number"),
            (json!(root()), "it is \"*\" or {\"AWS\": …}"),
            (json!(["*"]), "Principal is a list"),
            (json!(null), "Principal is null"),
        ];
        for (principal, needle) in refusals {
            assert_refused(&p(principal), needle);
        }
        let mut s = allow(json!("kms:Encrypt"));
        s.as_object_mut().unwrap().remove("Principal");
        assert_refused(&doc(vec![s.clone()]), "Statement[0]: Principal is missing");
        s["NotPrincipal"] = json!({"AWS": root()});
        assert_refused(
            &doc(vec![s]),
            "Statement[0].NotPrincipal: SoftKMS policies name what they allow",
        );
    }

    #[test]
    fn principal_arns() {
        let n = naming();
        assert_eq!(principal_arn("user", &n), root());
        assert_eq!(principal_arn("alice", &n), user("alice"));
        assert_eq!(principal_arn("*", &n), "*");
        for name in ["user", "alice", "*", "x.y@z"] {
            assert_eq!(
                principal_from_arn(&principal_arn(name, &n), &n).unwrap(),
                name
            );
        }
        assert_eq!(principal_from_arn(ACCOUNT, &n).unwrap(), "user");
        assert!(principal_from_arn("arn:aws:iam::111122223333:role/x", &n).is_err());
        let cn = Naming {
            partition: "aws-cn".into(),
            account: ACCOUNT.into(),
        };
        assert_eq!(
            principal_arn("bob", &cn),
            format!("arn:aws-cn:iam::{ACCOUNT}:user/bob")
        );
        assert_eq!(
            principal_from_arn(&principal_arn("bob", &cn), &cn).unwrap(),
            "bob"
        );
    }

    #[test]
    fn resources() {
        let r = |resource: Value| {
            let mut s = allow(json!("kms:Encrypt"));
            s["Resource"] = resource;
            doc(vec![s])
        };
        for good in [json!("*"), json!(KEY), json!([KEY]), json!(["*", KEY])] {
            ok(&r(good));
        }
        let other = "arn:aws:kms:us-east-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
        assert_refused(&r(json!(other)), "a key policy applies to its key only");
        assert_refused(
            &r(json!([KEY, other])),
            "a key policy applies to its key only",
        );
        assert_refused(
            &r(json!("arn:aws:kms:*:111122223333:key/*")),
            "applies to its key only",
        );
        assert_refused(
            &r(json!("arn:aws:kms:us-east-2:111122223333:alias/x")),
            "applies to its key only",
        );
        assert_refused(&r(json!([])), "Resource is an empty list");
        assert_refused(&r(json!({"a": 1})), "Resource is an object");
        let mut s = allow(json!("kms:Encrypt"));
        s.as_object_mut().unwrap().remove("Resource");
        assert_refused(&doc(vec![s.clone()]), "Statement[0]: Resource is missing");
        s["NotResource"] = json!("*");
        assert_refused(&doc(vec![s]), "Statement[0].NotResource");
    }

    #[test]
    fn conditions() {
        let c = |condition: Value| {
            let mut s = allow(json!("kms:Decrypt"));
            s["Condition"] = condition;
            doc(vec![s])
        };
        let context = |condition: Value| ok(&c(condition))["statements"][0]["condition"].clone();
        assert_eq!(
            context(json!({"StringEquals": {"kms:EncryptionContext:app": "billing"}})),
            json!({"encryption_context": {"app": "billing"}})
        );
        assert_eq!(
            context(json!({"StringEquals": {
                "kms:EncryptionContext:app": ["billing"],
                "kms:EncryptionContext:Dept": "it",
                "kms:EncryptionContext:a:b c": "x\"y"
            }})),
            json!({"encryption_context": {"app": "billing", "Dept": "it", "a:b c": "x\"y"}})
        );
        // IAM's escapes are literal characters.
        assert_eq!(
            context(json!({"StringEquals": {"kms:EncryptionContext:k": "a${$}{b}${*}${?}$"}})),
            json!({"encryption_context": {"k": "a${b}*?$"}})
        );
        // The same key twice (prefix spelt two ways): equal values are one pair,
        // different ones are refused (AWS could never satisfy both).
        assert_eq!(
            context(
                json!({"StringEquals": {"kms:EncryptionContext:k": "v", "KMS:ENCRYPTIONCONTEXT:k": "v"}})
            ),
            json!({"encryption_context": {"k": "v"}})
        );
        assert_refused(
            &c(
                json!({"StringEquals": {"kms:EncryptionContext:k": "v", "kms:encryptioncontext:k": "w"}}),
            ),
            "given twice with different values",
        );
        // An empty condition is no condition.
        assert_eq!(context(json!({})), Value::Null);
        assert_eq!(context(json!({"StringEquals": {}})), Value::Null);
        let refusals = [
            (
                json!({"StringLike": {"kms:EncryptionContext:app": "bill*"}}),
                "Statement[0].Condition.StringLike: SoftKMS supports only StringEquals",
            ),
            (
                json!({"StringEqualsIfExists": {"kms:EncryptionContext:app": "b"}}),
                "Condition.StringEqualsIfExists",
            ),
            (
                json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["a"]}}),
                "Condition.ForAllValues:StringEquals",
            ),
            (
                json!({"Bool": {"kms:GrantIsForAWSResource": "true"}}),
                "Condition.Bool",
            ),
            (
                json!({"StringEquals": {"kms:CallerAccount": ACCOUNT}}),
                "\"kms:CallerAccount\": SoftKMS supports only kms:EncryptionContext:KEY",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContextKeys": "app"}}),
                "\"kms:EncryptionContextKeys\"",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:": "x"}}),
                "\"kms:EncryptionContext:\"",
            ),
            (
                json!({"StringEquals": {"aws:PrincipalArn": root()}}),
                "\"aws:PrincipalArn\"",
            ),
            (
                json!({"StringEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com"}}),
                "\"kms:ViaService\"",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:app": ["a", "b"]}}),
                "2 values; SoftKMS needs exactly one",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:app": []}}),
                "0 values",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:app": 1}}),
                "is a number, not a string",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:app": true}}),
                "is a boolean",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:app": [1]}}),
                "the value is not a string",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}),
                "policy variables",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:user": "a${"}}),
                "policy variables",
            ),
            (
                json!({"StringEquals": {"kms:EncryptionContext:user": "${$"}}),
                "policy variables",
            ),
            (
                json!({"StringEquals": "x"}),
                "Condition.StringEquals is a string, not an object",
            ),
            (json!([]), "Condition is a list, not an object"),
        ];
        for (condition, needle) in refusals {
            assert_refused(&c(condition), needle);
        }
    }

    // --- statements and documents --------------------------------------------

    #[test]
    fn statement_elements() {
        let mut s = allow(json!("kms:Encrypt"));
        s["Effect"] = json!("Deny");
        assert_refused(
            &doc(vec![
                allow(json!("kms:Decrypt")),
                allow(json!("kms:Decrypt")),
                s.clone(),
            ]),
            "Statement[2].Effect \"Deny\": SoftKMS policies only allow",
        );
        s["Effect"] = json!("allow");
        assert_refused(
            &doc(vec![s.clone()]),
            "Statement[0].Effect \"allow\": must be \"Allow\"",
        );
        s["Effect"] = json!(true);
        assert_refused(&doc(vec![s.clone()]), "Statement[0].Effect is a boolean");
        s.as_object_mut().unwrap().remove("Effect");
        assert_refused(&doc(vec![s]), "Statement[0]: Effect is missing");

        let mut s = allow(json!("kms:Encrypt"));
        s["NotAction"] = json!("kms:Decrypt");
        assert_refused(
            &doc(vec![s]),
            "Statement[0].NotAction: SoftKMS policies name what they allow; use Action",
        );
        let mut s = allow(json!("kms:Encrypt"));
        s.as_object_mut().unwrap().remove("Action");
        assert_refused(&doc(vec![s]), "Statement[0]: Action is missing");
        let mut s = allow(json!("kms:Encrypt"));
        s["Actions"] = json!("kms:Decrypt");
        assert_refused(
            &doc(vec![s]),
            "Statement[0].Actions: unknown statement element",
        );

        let mut s = allow(json!("kms:Encrypt"));
        s["Sid"] = json!("grant:1234");
        assert_refused(
            &doc(vec![s.clone()]),
            "Statement[0].Sid \"grant:1234\": Sids starting with \"grant:\" are reserved",
        );
        s["Sid"] = json!(12);
        assert_refused(&doc(vec![s.clone()]), "Statement[0].Sid is a number");
        s["Sid"] = json!("Grant:x and spaces é");
        assert_eq!(
            ok(&doc(vec![s]))["statements"][0]["sid"],
            json!("Grant:x and spaces é")
        );
    }

    #[test]
    fn document_elements() {
        let s = allow(json!("kms:Encrypt"));
        // Statement as a single object; Version absent; Id kept out.
        let out = ok(&json!({"Id": "x", "Statement": s.clone()}));
        assert_eq!(out["statements"][0]["allow"], json!(["Encrypt"]));
        let mut one = s.clone();
        one["Effect"] = json!("Deny");
        assert_refused(&json!({"Statement": one}), "Statement.Effect \"Deny\"");
        assert_refused(
            &json!({"Version": "2008-10-17", "Statement": [s.clone()]}),
            "Version \"2008-10-17\": SoftKMS reads only \"2012-10-17\"",
        );
        assert_refused(
            &json!({"Version": 2012, "Statement": [s.clone()]}),
            "Version is a number",
        );
        assert_refused(
            &json!({"Id": ["x"], "Statement": [s.clone()]}),
            "Id is a list",
        );
        assert_refused(&json!({"Version": "2012-10-17"}), "Statement is missing");
        assert_refused(
            &json!({"Statement": "x"}),
            "Statement is a string, not an object or a list",
        );
        assert_refused(
            &json!({"Statement": [s.clone()], "statement": []}),
            "\"statement\": unknown policy element",
        );
        assert_refused(
            &json!({"Statement": [1]}),
            "Statement[0] is a number, not an object",
        );
        assert_refused(&json!([s]), "the policy is a list, not a JSON object");
        assert_refused(&json!("x"), "the policy is a string");
    }

    #[test]
    fn malformed_json() {
        let n = naming();
        for text in [
            "",
            "{",
            "{\"Statement\": [}",
            "{\"Statement\": []} x",
            "nul",
            "{\"Statement\": [], \"Statement\": []}",
            "{\"Statement\": [{\"Effect\": \"Deny\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"}]}",
            "{\"Statement\": [{\"Condition\": {\"StringEquals\": {\"kms:EncryptionContext:a\": \"1\", \"kms:EncryptionContext:a\": \"2\"}}}]}",
            "\u{feff}{\"Statement\": []}",
            "{'Statement': []}",
        ] {
            let e = from_aws(text, &n, KEY).unwrap_err();
            assert!(e.message().starts_with("the policy is not valid JSON"), "{text:?}: {e}");
        }
        let dup = from_aws("{\"Statement\": [], \"Statement\": []}", &n, KEY).unwrap_err();
        assert!(
            dup.message().contains("duplicate key \"Statement\""),
            "{dup}"
        );
        // Deep nesting is an error, not a stack overflow.
        let deep = format!(
            "{{\"Statement\": {}{}}}",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(from_aws(&deep, &n, KEY).is_err());
    }

    #[test]
    fn limits() {
        let n = naming();
        // 33 KiB is refused before parsing.
        let mut big = allow(json!("kms:Encrypt"));
        big["Sid"] = json!("x".repeat(33 * 1024));
        let e = no(&doc(vec![big]));
        assert!(e.contains("bytes; at most 32768"), "{e}");
        // 64 statements pass, 65 do not.
        let st = |i: usize| {
            let mut s = allow(json!("kms:Encrypt"));
            s["Sid"] = json!(format!("s{i}"));
            s
        };
        let out = ok(&doc((0..64).map(st).collect()));
        assert_eq!(out["statements"].as_array().unwrap().len(), 64);
        assert_refused(
            &doc((0..65).map(st).collect()),
            "65 statements; SoftKMS keeps at most 64",
        );
        // Statements dropped for want of a gated action do not count.
        let mut many: Vec<Value> = (0..64).map(st).collect();
        many.extend((0..10).map(|_| allow(json!("kms:DescribeKey"))));
        ok(&doc(many));
        // A document under 32 KiB whose translation is over it.
        let wide = |i: usize| {
            let mut s = allow(json!("kms:*"));
            s["Sid"] = json!(format!("{i:03}{}", "y".repeat(420)));
            s["Principal"] = json!("*");
            s
        };
        let d = doc((0..64).map(wide).collect());
        assert!(d.to_string().len() < MAX_POLICY_LEN);
        assert_refused(&d, "bytes in SoftKMS's form; at most 32768");
        // to_aws too.
        let e = to_aws(&" ".repeat(MAX_POLICY_LEN + 1), &n).unwrap_err();
        assert!(e.message().contains("at most 32768"), "{e}");
    }

    // --- SoftKMS → AWS ---------------------------------------------------------

    #[test]
    fn to_aws_shape() {
        let n = naming();
        let p = json!({"statements": [
            {"sid": "enc", "principals": ["alice", "user"], "allow": ["Encrypt", "GenerateDataKey"]},
            {"principals": ["bob"], "allow": ["Decrypt"], "condition": {"encryption_context": {"b": "2", "a": "1"}}},
            {"sid": "grant:abc", "principals": ["carol"], "allow": ["Decrypt"]},
            {"principals": ["user", "*"], "allow": ["*"]},
            {"principals": ["admin"], "allow": ["ManageKey", "SetPolicy", "ReadAudit", "ExportKey"]},
            {"principals": ["x"], "allow": ["ReEncrypt", "Sign", "Verify"]}
        ]})
        .to_string();
        let out = to_aws(&p, &n).unwrap();
        assert_eq!(to_aws(&p, &n).unwrap(), out, "deterministic");
        let v: Value = serde_json::from_str(&out).unwrap();
        let manage: Vec<String> = MANAGE_KEY.iter().map(|a| format!("kms:{a}")).collect();
        let mut admin: Vec<String> = manage.clone();
        admin.extend(
            [
                "kms:CreateGrant",
                "kms:PutKeyPolicy",
                "kms:RevokeGrant",
                "softkms:ExportKey",
                "softkms:ReadAudit",
            ]
            .map(String::from),
        );
        admin.sort();
        assert_eq!(
            v,
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "enc", "Effect": "Allow", "Principal": {"AWS": [user("alice"), root()]},
                     "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
                                "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext"],
                     "Resource": "*"},
                    {"Effect": "Allow", "Principal": {"AWS": [user("bob")]}, "Action": ["kms:Decrypt"], "Resource": "*",
                     "Condition": {"StringEquals": {"kms:EncryptionContext:a": "1", "kms:EncryptionContext:b": "2"}}},
                    {"Effect": "Allow", "Principal": "*", "Action": ["kms:*", "softkms:*"], "Resource": "*"},
                    {"Effect": "Allow", "Principal": {"AWS": [user("admin")]}, "Action": admin, "Resource": "*"},
                    {"Effect": "Allow", "Principal": {"AWS": [user("x")]},
                     "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateMac", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                                "kms:Sign", "kms:Verify", "kms:VerifyMac"],
                     "Resource": "*"}
                ]
            })
        );
        assert!(
            out.starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": ["),
            "{out}"
        );
        // All seven AWS-expressible actions are kms:*.
        let all7 = json!({"statements": [{"principals": ["user"], "allow":
            ["SetPolicy", "Verify", "Sign", "GenerateDataKey", "Decrypt", "Encrypt", "ManageKey", "WrapKey"]}]});
        let v: Value = serde_json::from_str(&to_aws(&all7.to_string(), &n).unwrap()).unwrap();
        assert_eq!(
            v["Statement"][0]["Action"],
            json!(["kms:*", "softkms:WrapKey"])
        );
    }

    #[test]
    fn a_large_policy_renders_past_the_limit() {
        let n = naming();
        let st = json!({"principals": ["admin"], "allow": ["ManageKey", "SetPolicy"]});
        let p = json!({"statements": vec![st; 64]}).to_string();
        assert!(p.len() < MAX_POLICY_LEN);
        let aws = to_aws(&p, &n).unwrap();
        assert!(aws.len() > MAX_POLICY_LEN, "{}", aws.len());
        let why = from_aws(&aws, &n, KEY).unwrap_err();
        assert!(why.message().contains("at most 32768"), "{why}");
        // Half of it goes back and forth.
        let st = json!({"principals": ["admin"], "allow": ["ManageKey", "SetPolicy"]});
        round_trip(&json!({"statements": vec![st; 32]}).to_string());
    }

    #[test]
    fn to_aws_escapes_dollars() {
        let n = naming();
        let p = json!({"statements": [{"principals": ["a"], "allow": ["Decrypt"],
                                        "condition": {"encryption_context": {"k": "a$b${c}"}}}]});
        let aws = to_aws(&p.to_string(), &n).unwrap();
        let v: Value = serde_json::from_str(&aws).unwrap();
        assert_eq!(
            v["Statement"][0]["Condition"],
            json!({"StringEquals": {"kms:EncryptionContext:k": "a${$}b${$}{c}"}})
        );
        let back: Value = serde_json::from_str(&from_aws(&aws, &n, KEY).unwrap()).unwrap();
        assert_eq!(
            back["statements"][0]["condition"]["encryption_context"]["k"],
            json!("a$b${c}")
        );
        assert_eq!(unescape("${$}${*}${?}"), Some("$*?".to_string()));
        assert_eq!(unescape("${aws:username}"), None);
        assert_eq!(unescape("x${"), None);
        assert_eq!(unescape("$ {}"), Some("$ {}".to_string()));
    }

    #[test]
    fn to_aws_refuses_what_softkms_refuses() {
        let n = naming();
        for bad in [
            "",
            "{}",
            "[]",
            "{\"statements\": {}}",
            "{\"statements\": [], \"x\": 1}",
            "{\"statements\": [{\"principals\": [], \"allow\": [\"Encrypt\"]}]}",
            "{\"statements\": [{\"principals\": [\"a\"], \"allow\": []}]}",
            "{\"statements\": [{\"principals\": [\"a\"], \"allow\": [\"encrypt\"]}]}",
            "{\"statements\": [{\"principals\": [\"so\"], \"allow\": [\"Encrypt\"]}]}",
            "{\"statements\": [{\"principals\": [\"a b\"], \"allow\": [\"Encrypt\"]}]}",
            "{\"statements\": [{\"principals\": [\"a\"], \"allow\": [\"Encrypt\"], \"alow\": []}]}",
            "{\"statements\": [{\"principals\": [\"a\"], \"allow\": [\"Encrypt\"], \"condition\": {}}]}",
            "{\"statements\": [{\"principals\": [\"a\"], \"allow\": [\"Encrypt\"], \"condition\": {\"encryption_context\": {}}}]}",
            "{\"statements\": [{\"principals\": [\"a\"], \"allow\": [\"Encrypt\"], \"condition\": {\"encryption_context\": {\"k\": 1}}}]}",
            "{\"statements\": [{\"principals\": \"a\", \"allow\": [\"Encrypt\"]}]}",
            "{\"statements\": [{\"sid\": 1, \"principals\": [\"a\"], \"allow\": [\"Encrypt\"]}]}",
        ] {
            assert!(to_aws(bad, &n).is_err(), "{bad:?} accepted");
        }
        let many =
            json!({"statements": vec![json!({"principals": ["a"], "allow": ["Encrypt"]}); 65]});
        assert!(to_aws(&many.to_string(), &n).is_err());
        // Grant statements are skipped even when they are all there is.
        let grants =
            json!({"statements": [{"sid": "grant:1", "principals": ["a"], "allow": ["Decrypt"]}]});
        let v: Value = serde_json::from_str(&to_aws(&grants.to_string(), &n).unwrap()).unwrap();
        assert_eq!(v, json!({"Version": "2012-10-17", "Statement": []}));
    }

    #[test]
    fn default_policy() {
        let n = naming();
        let d = default_aws("alice", &n);
        assert_eq!(d, default_aws("alice", &n));
        let v: Value = serde_json::from_str(&d).unwrap();
        assert_eq!(
            v["Statement"][0]["Principal"],
            json!({"AWS": [root(), user("alice")]})
        );
        assert_eq!(v["Statement"][0]["Action"], json!(["kms:*", "softkms:*"]));
        assert_eq!(v["Version"], json!("2012-10-17"));
        let p = ok(&v);
        assert_eq!(p["statements"][0]["principals"], json!(["user", "alice"]));
        assert_eq!(p["statements"][0]["allow"], json!(["*"]));
        for creator in ["user", "", "so", "bad name"] {
            let v: Value = serde_json::from_str(&default_aws(creator, &n)).unwrap();
            assert_eq!(
                v["Statement"][0]["Principal"],
                json!({"AWS": [root()]}),
                "{creator:?}"
            );
        }
    }

    // --- round trips -----------------------------------------------------------

    /// What a SoftKMS policy means: per statement (grants left out), its sid,
    /// principals, actions (`None`: all; ReEncrypt as Encrypt and Decrypt) and
    /// context.
    #[allow(clippy::type_complexity)]
    fn meaning(
        p: &str,
    ) -> Vec<(
        Option<String>,
        BTreeSet<String>,
        Option<BTreeSet<Sk>>,
        BTreeMap<String, String>,
    )> {
        let p: SkPolicy = serde_json::from_str(p).unwrap();
        p.statements
            .into_iter()
            .filter(|s| !s.sid.as_deref().unwrap_or("").starts_with(GRANT_SID_PREFIX))
            .map(|s| {
                let principals: BTreeSet<String> = if s.principals.iter().any(|p| p == "*") {
                    ["*".to_string()].into()
                } else {
                    s.principals.into_iter().collect()
                };
                let actions = if s.allow.iter().any(|a| a == "*") {
                    None
                } else {
                    let mut set: BTreeSet<Sk> =
                        s.allow.iter().map(|a| Sk::from_name(a).unwrap()).collect();
                    if set.remove(&Sk::ReEncrypt) {
                        set.insert(Sk::Encrypt);
                        set.insert(Sk::Decrypt);
                    }
                    Some(set)
                };
                let context = s
                    .condition
                    .map(|c| c.encryption_context)
                    .unwrap_or_default();
                (s.sid, principals, actions, context)
            })
            .collect()
    }

    fn round_trip(p: &str) {
        let n = naming();
        let aws = to_aws(p, &n).unwrap_or_else(|e| panic!("{p}: {e}"));
        let back = from_aws(&aws, &n, KEY).unwrap_or_else(|e| panic!("{p} → {aws}: {e}"));
        assert_eq!(meaning(&back), meaning(p), "{p} → {aws} → {back}");
        // And the translation is a fixed point from there on.
        let again = from_aws(&to_aws(&back, &n).unwrap(), &n, KEY).unwrap();
        assert_eq!(again, back);
    }

    #[test]
    fn round_trip_every_action_set() {
        let all: Vec<(Sk, &str)> = sk_actions().collect();
        for bits in 0u32..(1 << all.len()) {
            let allow: Vec<&str> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, (_, n))| *n)
                .collect();
            if allow.is_empty() {
                continue;
            }
            round_trip(
                &json!({"statements": [{"principals": ["alice"], "allow": allow}]}).to_string(),
            );
        }
        round_trip(&json!({"statements": [{"principals": ["alice"], "allow": ["*"]}]}).to_string());
        round_trip(
            &json!({"statements": [{"principals": ["alice"], "allow": ["Encrypt", "*"]}]})
                .to_string(),
        );
        round_trip(&json!({"statements": []}).to_string());
    }

    /// A small deterministic generator (xorshift64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    #[test]
    fn round_trip_random_policies() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let principals = ["user", "alice", "bob.x", "*", "c@d-e_f", "Z9"];
        let keys = [
            "app",
            "App",
            "a:b",
            "ключ",
            "with \"quote\"",
            " ",
            "kms:EncryptionContext:x",
        ];
        let values = ["billing", "", "é", "${x}", "a\\b", "1"];
        let sids = [
            "one",
            "grant:g1",
            "Enable IAM User Permissions",
            "",
            "grant:",
            "Grant:x",
        ];
        for _ in 0..3000 {
            let mut statements = Vec::new();
            for _ in 0..rng.below(7) {
                let mut s = serde_json::Map::new();
                if rng.below(2) == 0 {
                    s.insert("sid".into(), json!(rng.pick(&sids)));
                }
                let ps: Vec<&str> = (0..=rng.below(3)).map(|_| rng.pick(&principals)).collect();
                s.insert("principals".into(), json!(ps));
                let allow: Vec<&str> = if rng.below(10) == 0 {
                    vec!["*"]
                } else {
                    (0..=rng.below(6))
                        .map(|_| {
                            let all: Vec<(Sk, &str)> = sk_actions().collect();
                            all[rng.below(all.len())].1
                        })
                        .collect()
                };
                s.insert("allow".into(), json!(allow));
                let pairs = rng.below(4);
                if pairs > 0 {
                    let ctx: BTreeMap<&str, &str> = (0..pairs)
                        .map(|_| (rng.pick(&keys), rng.pick(&values)))
                        .collect();
                    s.insert("condition".into(), json!({"encryption_context": ctx}));
                }
                statements.push(Value::Object(s));
            }
            round_trip(&json!({"statements": statements}).to_string());
        }
    }

    #[test]
    fn aws_documents_are_a_fixed_point_after_one_translation() {
        let n = naming();
        let mut admin = key_admin_actions();
        admin
            .as_array_mut()
            .unwrap()
            .push(json!("kms:ImportKeyMaterial"));
        let docs = [
            doc(vec![
                json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": root()}, "Action": "kms:*", "Resource": "*"}),
            ]),
            doc(vec![
                allow(admin),
                allow(json!([
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*"
                ])),
            ]),
            doc(vec![
                allow(json!(["softkms:*"])),
                allow(json!(["kms:Sign", "softkms:DeriveKey"])),
            ]),
        ];
        for d in docs {
            let once = from_aws(&d.to_string(), &n, KEY).unwrap();
            let twice = from_aws(&to_aws(&once, &n).unwrap(), &n, KEY).unwrap();
            assert_eq!(once, twice, "{d}");
        }
    }

    // --- hostile input: no panic anywhere ---------------------------------------

    /// Every way of replacing one value of `v` (or removing one member).
    fn mutations(v: &Value) -> Vec<Value> {
        let replacements = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1.5),
            json!(""),
            json!("*"),
            json!("kms:*"),
            json!([]),
            json!({}),
            json!([null]),
            json!({"AWS": 1}),
            json!(["*", 2]),
        ];
        let mut out = Vec::new();
        for r in &replacements {
            out.push(r.clone());
        }
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let mut without = m.clone();
                    without.remove(k);
                    out.push(Value::Object(without));
                    for c in mutations(child) {
                        let mut with = m.clone();
                        with.insert(k.clone(), c);
                        out.push(Value::Object(with));
                    }
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    let mut without = a.clone();
                    without.remove(i);
                    out.push(Value::Array(without));
                    for c in mutations(child) {
                        let mut with = a.clone();
                        with[i] = c;
                        out.push(Value::Array(with));
                    }
                }
            }
            _ => {}
        }
        out
    }

    #[test]
    fn wrong_types_everywhere_never_panic() {
        let n = naming();
        let base = doc(vec![
            json!({"Sid": "a", "Effect": "Allow", "Principal": {"AWS": [root(), user("alice")]},
                   "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": [KEY],
                   "Condition": {"StringEquals": {"kms:EncryptionContext:k": ["v"]}}}),
            json!({"Effect": "Allow", "Principal": "*", "Action": "kms:GenerateDataKey*", "Resource": "*"}),
        ]);
        let all = mutations(&base);
        assert!(all.len() > 300, "{}", all.len());
        let mut accepted = 0;
        for m in &all {
            if let Ok(p) = from_aws(&m.to_string(), &n, KEY) {
                accepted += 1;
                // Whatever is accepted is a SoftKMS policy that renders back.
                to_aws(&p, &n).unwrap();
            }
        }
        assert!(accepted > 0 && accepted < all.len());
        let sk = json!({"statements": [{"sid": "s", "principals": ["alice", "user"], "allow": ["Encrypt", "*"],
                                         "condition": {"encryption_context": {"a": "b"}}}]});
        for m in mutations(&sk) {
            let _ = to_aws(&m.to_string(), &n);
        }
        // Every prefix of a valid document.
        let text = base.to_string();
        for (i, _) in text.char_indices() {
            assert!(from_aws(&text[..i], &n, KEY).is_err());
        }
        let text = to_aws(&from_aws(&base.to_string(), &n, KEY).unwrap(), &n).unwrap();
        for (i, _) in text.char_indices() {
            assert!(from_aws(&text[..i], &n, KEY).is_err());
        }
    }

    #[test]
    fn long_wildcards_stay_cheap() {
        // A pattern of thousands of stars and letters must finish quickly.
        let pattern = format!("kms:{}x", "*a".repeat(8000));
        assert_refused(
            &doc(vec![allow(json!(pattern))]),
            "matches no AWS KMS action",
        );
    }
}
