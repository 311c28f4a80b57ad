//! Grants (AWS KMS's `CreateGrant`, `ListGrants`, `ListRetirableGrants`,
//! `RetireGrant`, `RevokeGrant`): a grant is a statement of the key's policy
//! that names one grantee, carries a `grant` record (id, name, retiring
//! principal, issuer, time, the operations as given) and a Sid
//! `grant:<id>`. So the key gate enforces grants as it enforces any
//! statement, a grant is as tamper-evident as the policy, and `GetKeyPolicy`
//! leaves them out (`docs/aws-api.md`, "Grants").
//!
//! Making or revoking a grant is a policy write: it needs `SetPolicy` (AWS's
//! `kms:CreateGrant`/`kms:RevokeGrant`, which the policy translation maps
//! there). Retiring one needs nothing but being its grantee or retiring
//! principal (`kms::policy::retires_only`, checked by the module).

use super::aws_policy::{self, GRANT_SID_PREFIX};
use super::errors::AwsError;
use super::input::{constraint, Input};
use super::names::{aws_key_id, key_id_of};
use super::ops::{page_result, paginate, Call};
use crate::api::{KeyId, KeyMetadata, KeyPolicy, KeyRef, KeyUsage, Timestamp};
use serde_json::{json, Value};

/// The most statements a policy holds (grants included).
const MAX_STATEMENTS: usize = 64;
/// The operations a grant may name (AWS's list).
const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// The statements of a stored policy (empty for none).
fn statements(policy: Option<&KeyPolicy>) -> Vec<Value> {
    policy
        .and_then(|p| serde_json::from_str::<Value>(p.as_str()).ok())
        .and_then(|v| v.get("statements").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

fn is_grant(s: &Value) -> bool {
    s.get("grant").is_some()
        && s.get("sid")
            .and_then(Value::as_str)
            .is_some_and(|sid| sid.starts_with(GRANT_SID_PREFIX))
}

/// A policy from its statements.
fn policy_of(statements: Vec<Value>) -> Result<KeyPolicy, AwsError> {
    if statements.len() > MAX_STATEMENTS {
        return Err(AwsError::new(
            "LimitExceededException",
            format!("a key's policy and grants hold at most {MAX_STATEMENTS} statements together"),
        ));
    }
    let text = serde_json::to_string(&json!({ "statements": statements }))
        .map_err(|e| AwsError::internal(e.to_string()))?;
    KeyPolicy::parse(text.as_bytes())
        .map_err(|e| AwsError::new("MalformedPolicyDocumentException", e.message()))
}

/// `ours` (a translated `PutKeyPolicy` document) with the grant statements of
/// the policy it replaces appended: a new policy keeps the key's grants.
pub(crate) fn keep_grants(
    ours: &KeyPolicy,
    old: Option<&KeyPolicy>,
) -> Result<KeyPolicy, AwsError> {
    let mut all = statements(Some(ours));
    all.extend(statements(old).into_iter().filter(is_grant));
    policy_of(all)
}

/// The explicit statements of a key: its policy's, or those of its default
/// policy (its creator and the token owner may do everything).
fn explicit_statements(m: &KeyMetadata) -> Vec<Value> {
    match &m.policy {
        Some(p) => statements(Some(p)),
        None => {
            let mut who = vec!["user".to_string()];
            if let Some(c) = m
                .creator
                .as_deref()
                .filter(|c| *c != "user" && !c.is_empty())
            {
                who.push(c.to_string());
            }
            vec![json!({ "principals": who, "allow": ["*"] })]
        }
    }
}

/// A fresh grant id: 64 hex digits.
fn new_grant_id() -> Result<String, AwsError> {
    let mut b = [0u8; 32];
    crate::crypto::random(&mut b).map_err(|_| AwsError::internal("random source failed"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The grant token of a grant: the key id and the grant id (a token names
/// the grant on its own, as AWS's do).
fn grant_token(key: &KeyId, grant: &str) -> String {
    format!("{}{grant}", key.as_str())
}

/// The key id and grant id of a grant token.
fn parse_token(token: &str) -> Option<(KeyId, String)> {
    let key = key_id_of(token.get(..32)?)?;
    let grant = token.get(32..)?;
    let ok = grant.len() == 64 && grant.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| (key, grant.to_ascii_lowercase()))
}

fn grant_id_of(s: &Value) -> Option<&str> {
    s.get("grant")?.get("id")?.as_str()
}

/// Runs a grant operation.
pub(crate) fn run(call: &mut Call<'_>, op: &str, input: &Input) -> Result<Value, AwsError> {
    if let Some(tokens) = input.opt_strings("GrantTokens", 10)? {
        if tokens.iter().any(|t| t.is_empty() || t.len() > 8192) {
            return Err(constraint(
                "GrantTokens",
                "Member must have length between 1 and 8192",
            ));
        }
    }
    match op {
        "CreateGrant" => create(call, input),
        "ListGrants" => list(call, input),
        "ListRetirableGrants" => list_retirable(call, input),
        "RetireGrant" => retire(call, input, true),
        _ => retire(call, input, false),
    }
}

fn create(call: &mut Call<'_>, input: &Input) -> Result<Value, AwsError> {
    let key = call.naming.key_ref(input.str("KeyId", 2048)?)?;
    if matches!(key, KeyRef::Alias(_)) {
        return Err(AwsError::validation(
            "CreateGrant takes a key id or key ARN, not an alias",
        ));
    }
    let m = call.token.describe_key(&key)?;
    call.key = Some(m.id.clone());
    let naming = call.policy_naming();
    let grantee_arn = input.str("GranteePrincipal", 256)?;
    let grantee = aws_policy::principal_from_arn(grantee_arn, &naming)
        .map_err(|e| AwsError::validation(e.to_string()))?;
    if grantee == "*" {
        return Err(AwsError::validation("a grant names one principal, not *"));
    }
    let retiring = match input.opt_str("RetiringPrincipal")? {
        Some(arn) => Some(
            aws_policy::principal_from_arn(arn, &naming)
                .map_err(|e| AwsError::validation(e.to_string()))?,
        ),
        None => None,
    };
    let ops = input
        .opt_strings("Operations", GRANT_OPERATIONS.len())?
        .ok_or_else(|| constraint("Operations", "Member must not be null"))?;
    if ops.is_empty() {
        return Err(constraint(
            "Operations",
            "Member must have length greater than or equal to 1",
        ));
    }
    if let Some(bad) = ops.iter().find(|o| !GRANT_OPERATIONS.contains(&o.as_str())) {
        return Err(constraint(
            "Operations",
            &format!("Member must satisfy enum value set: {GRANT_OPERATIONS:?}, not {bad}"),
        ));
    }
    // Each operation must fit the key, as AWS has it: a MAC grant on a
    // signing key would otherwise become a signing grant.
    let usage = |u: KeyUsage| m.usages.contains(&u);
    for op in &ops {
        let fits = match op.as_str() {
            "Sign" | "Verify" => usage(KeyUsage::SignVerify),
            "GenerateMac" | "VerifyMac" => usage(KeyUsage::GenerateVerifyMac),
            "DeriveSharedSecret" => usage(KeyUsage::KeyAgreement),
            "Encrypt"
            | "Decrypt"
            | "ReEncryptFrom"
            | "ReEncryptTo"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateDataKeyPair"
            | "GenerateDataKeyPairWithoutPlaintext" => m.managed,
            _ => true,
        };
        if !fits {
            return Err(AwsError::validation(format!(
                "grant operation {op} does not fit key {} (usage {})",
                aws_key_id(&m.id),
                m.usages.first().map_or("none", |u| u.aws_name())
            )));
        }
    }
    let mut condition = serde_json::Map::new();
    if let Some(c) = input.opt_object("Constraints")? {
        if let Some(other) = c.keys().find(|k| *k != "EncryptionContextSubset") {
            return Err(AwsError::validation(
                if other == "EncryptionContextEquals" {
                    "EncryptionContextEquals is not offered here: SoftKMS's conditions are subsets \
                 (use EncryptionContextSubset)"
                        .to_string()
                } else {
                    format!("unknown grant constraint {other}")
                },
            ));
        }
        let pairs = c.opt_map("EncryptionContextSubset")?.unwrap_or_default();
        if pairs.is_empty() {
            return Err(AwsError::validation(
                "EncryptionContextSubset is empty: leave Constraints out instead",
            ));
        }
        for (k, v) in pairs {
            condition.insert(format!("kms:EncryptionContext:{k}"), json!(v));
        }
    }
    if input.opt_bool("DryRun")? == Some(true) {
        return Err(AwsError {
            status: 412,
            ..AwsError::new(
                "DryRunOperationException",
                "the request would have succeeded",
            )
        });
    }
    // The grant's operations through the policy translation: the same
    // mapping, and the same refusals of what would widen them.
    let mut doc = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": aws_policy::principal_arn(&grantee, &naming) },
            "Action": ops.iter().map(|o| format!("kms:{o}")).collect::<Vec<_>>(),
            "Resource": "*",
        }],
    });
    if !condition.is_empty() {
        doc["Statement"][0]["Condition"] = json!({ "StringEquals": condition });
    }
    let translated = aws_policy::from_aws(&doc.to_string(), &naming, "")
        .map_err(|e| AwsError::validation(format!("grant operations: {e}")))?;
    let mut statement = statements(Some(&KeyPolicy::parse(translated.as_bytes())?))
        .into_iter()
        .next()
        .ok_or_else(|| {
            AwsError::validation(format!(
                "{ops:?} grant nothing SoftKMS gates (describing a key and reading its public \
                 key need no grant here)"
            ))
        })?;
    let _writes = call.policy_writes.lock();
    let m = call.token.describe_key(&KeyRef::Id(m.id.clone()))?;
    let id = new_grant_id()?;
    let mut record = json!({
        "id": id,
        "issuer": call.principal.name(),
        "created": Timestamp::now().unix(),
        "operations": ops,
    });
    if let Some(n) = input.opt_str("Name")? {
        record["name"] = json!(n);
    }
    if let Some(r) = &retiring {
        record["retiring_principal"] = json!(r);
    }
    statement["sid"] = json!(format!("{GRANT_SID_PREFIX}{id}"));
    statement["grant"] = record;
    let mut all = explicit_statements(&m);
    all.push(statement);
    let policy = policy_of(all)?;
    call.token
        .put_key_policy(&KeyRef::Id(m.id.clone()), &policy, false)?;
    Ok(json!({ "GrantToken": grant_token(&m.id, &id), "GrantId": id }))
}

/// A grant as `ListGrants` shows it.
fn grant_json(call: &Call<'_>, key: &KeyId, s: &Value) -> Option<Value> {
    let g = s.get("grant")?;
    let naming = call.policy_naming();
    let grantee = s.get("principals")?.get(0)?.as_str()?;
    let mut out = json!({
        "KeyId": call.naming.key_arn(key),
        "GrantId": g.get("id")?,
        "CreationDate": g.get("created")?,
        "GranteePrincipal": aws_policy::principal_arn(grantee, &naming),
        "IssuingAccount": format!("arn:aws:iam::{}:root", call.naming.account),
        "Operations": g.get("operations")?,
    });
    if let Some(n) = g.get("name") {
        out["Name"] = n.clone();
    }
    if let Some(r) = g.get("retiring_principal").and_then(Value::as_str) {
        out["RetiringPrincipal"] = json!(aws_policy::principal_arn(r, &naming));
    }
    if let Some(ctx) = s.get("condition").and_then(|c| c.get("encryption_context")) {
        out["Constraints"] = json!({ "EncryptionContextSubset": ctx });
    }
    Some(out)
}

fn list(call: &mut Call<'_>, input: &Input) -> Result<Value, AwsError> {
    let key = call.naming.key_ref(input.str("KeyId", 2048)?)?;
    let limit = input.opt_int("Limit", 1, 100)?.unwrap_or(50);
    let marker = input.opt_str("Marker")?.unwrap_or("");
    let only_id = input.opt_str("GrantId")?;
    let only_grantee = match input.opt_str("GranteePrincipal")? {
        Some(arn) => Some(
            aws_policy::principal_from_arn(arn, &call.policy_naming())
                .map_err(|e| AwsError::validation(e.to_string()))?,
        ),
        None => None,
    };
    let m = call.token.describe_key(&key)?;
    call.key = Some(m.id.clone());
    let grants: Vec<Value> = statements(m.policy.as_ref())
        .into_iter()
        .filter(is_grant)
        .filter(|s| only_id.is_none_or(|id| grant_id_of(s) == Some(id)))
        .filter(|s| {
            only_grantee.as_deref().is_none_or(|g| {
                s.get("principals")
                    .and_then(|p| p.get(0))
                    .and_then(Value::as_str)
                    == Some(g)
            })
        })
        .collect();
    let (page, next) = paginate(
        grants.into_iter(),
        |s| grant_id_of(s).unwrap_or("").to_string(),
        marker,
        limit,
    );
    let list = page
        .iter()
        .filter_map(|s| grant_json(call, &m.id, s))
        .collect();
    Ok(page_result("Grants", list, next))
}

fn list_retirable(call: &mut Call<'_>, input: &Input) -> Result<Value, AwsError> {
    let naming = call.policy_naming();
    let who = aws_policy::principal_from_arn(input.str("RetiringPrincipal", 256)?, &naming)
        .map_err(|e| AwsError::validation(e.to_string()))?;
    let limit = input.opt_int("Limit", 1, 100)?.unwrap_or(50);
    let marker = input.opt_str("Marker")?.unwrap_or("");
    let mut found: Vec<(String, Value)> = Vec::new();
    for m in call.token.list_keys()? {
        for s in statements(m.policy.as_ref()).into_iter().filter(is_grant) {
            let retiring = s
                .get("grant")
                .and_then(|g| g.get("retiring_principal"))
                .and_then(Value::as_str);
            if retiring == Some(who.as_str()) {
                if let Some(g) = grant_json(call, &m.id, &s) {
                    let sort = format!("{}{}", m.id.as_str(), grant_id_of(&s).unwrap_or(""));
                    found.push((sort, g));
                }
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = paginate(found.into_iter(), |(k, _)| k.clone(), marker, limit);
    let list = page.into_iter().map(|(_, g)| g).collect();
    Ok(page_result("Grants", list, next))
}

/// RetireGrant (`retire`) or RevokeGrant: the key's policy without the grant.
fn retire(call: &mut Call<'_>, input: &Input, retire: bool) -> Result<Value, AwsError> {
    let (key, grant) = match (input.opt_str("GrantToken")?, input.opt_str("GrantId")?) {
        (Some(token), _) if retire => parse_token(token)
            .map(|(k, g)| (KeyRef::Id(k), g))
            .ok_or_else(|| {
                AwsError::new("InvalidGrantTokenException", "the grant token is not valid")
            })?,
        (_, Some(id)) => (
            call.naming.key_ref(input.str("KeyId", 2048)?)?,
            id.to_ascii_lowercase(),
        ),
        _ => {
            return Err(AwsError::validation(if retire {
                "give a GrantToken, or a KeyId and a GrantId"
            } else {
                "give a KeyId and a GrantId"
            }))
        }
    };
    let _writes = call.policy_writes.lock();
    let m = call.token.describe_key(&key)?;
    call.key = Some(m.id.clone());
    let all = statements(m.policy.as_ref());
    let before = all.len();
    let kept: Vec<Value> = all
        .into_iter()
        .filter(|s| !(is_grant(s) && grant_id_of(s) == Some(grant.as_str())))
        .collect();
    if kept.len() == before {
        return Err(AwsError::new(
            "NotFoundException",
            format!("no grant {grant} on key {}", aws_key_id(&m.id)),
        ));
    }
    let policy = policy_of(kept)?;
    // Only grants go: a policy that passed the lock-out check still does.
    let force = policy.locks_out();
    call.token
        .put_key_policy(&KeyRef::Id(m.id.clone()), &policy, force)?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_tokens_name_key_and_grant() {
        let key = KeyId::new("1234abcd12ab34cd56ef1234567890ab");
        let id = "a".repeat(64);
        let t = grant_token(&key, &id);
        assert_eq!(parse_token(&t), Some((key, id)));
        assert_eq!(parse_token("short"), None);
        assert_eq!(parse_token(&format!("{}zz", t)), None);
        assert_eq!(parse_token(&"g".repeat(96)), None);
    }

    #[test]
    fn new_policies_keep_the_grants() {
        let old = KeyPolicy::parse(
            serde_json::to_vec(&json!({"statements": [
                {"principals": ["user"], "allow": ["*"]},
                {"sid": format!("grant:{}", "b".repeat(64)), "principals": ["bob"], "allow": ["Decrypt"],
                 "grant": {"id": "b".repeat(64), "issuer": "user", "created": 1, "operations": ["Decrypt"]}},
            ]}))
            .unwrap_or_default(),
        )
        .ok();
        let ours =
            KeyPolicy::parse(br#"{"statements":[{"principals":["alice"],"allow":["*"]}]}"#).ok();
        let merged = ours
            .as_ref()
            .map(|o| keep_grants(o, old.as_ref()))
            .and_then(Result::ok)
            .map(|p| statements(Some(&p)))
            .unwrap_or_default();
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0]["principals"][0], "alice");
        assert!(is_grant(&merged[1]));
    }
}
