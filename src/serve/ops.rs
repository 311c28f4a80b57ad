//! The operations of the AWS KMS API, each on the safe API of a session that
//! acts for the request's principal (so every key use passes the key gate,
//! its policy and its audit, exactly as through PKCS#11). `docs/aws-api.md`
//! lists them with what differs from AWS.

use super::aws_policy;
use super::ecdsa_der;
use super::errors::AwsError;
use super::grants;
use super::input::{b64, constraint, Input};
use super::names::{aws_key_id, Naming};
use crate::api::{
    message_key_id, ErrorKind, KeyId, KeyMetadata, KeyOptions, KeyPolicy, KeyRef, KeySpec,
    KeyState, KeyUsage, MacAlgorithm, MessageType, Principal, SigningAlgorithm, Token,
};
use serde_json::{json, Value};

/// The most bytes of plaintext `Encrypt` takes (as AWS).
const MAX_PLAINTEXT: usize = 4096;
/// The most bytes of a ciphertext blob (as AWS).
const MAX_CIPHERTEXT: usize = 6144;
/// The most bytes of a message to sign or MAC (as AWS).
const MAX_MESSAGE: usize = 4096;
/// The most bytes of a signature or MAC.
const MAX_SIGNATURE: usize = 6144;
/// The longest key id parameter (as AWS).
const MAX_KEY_ID: usize = 2048;
/// The longest key policy (as AWS).
const MAX_POLICY: usize = 32_768;

/// One request being answered.
pub(crate) struct Call<'a> {
    /// The session acting for the request's principal.
    pub token: &'a Token,
    /// The principal.
    pub principal: &'a Principal,
    /// Region and account.
    pub naming: &'a Naming,
    /// The key the request was about, once known (for the audit record).
    pub key: Option<KeyId>,
    /// The alias the request named the key by, if it did (for the audit
    /// record of a request refused before the key was known).
    pub alias: Option<String>,
    /// Serializes the read-modify-writes of key policies.
    pub policy_writes: &'a parking_lot::Mutex<()>,
}

/// The operations this server answers, by their `X-Amz-Target` name.
pub(crate) const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
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
    "GetPublicKey",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
    "Verify",
    "VerifyMac",
];

/// Seconds since the epoch as AWS's JSON timestamps have them.
fn time(t: Option<crate::api::Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.unix()))
}

/// The bytes of each half of a raw ECDSA signature with a key of `spec`
/// (`None`: not an ECDSA key).
fn ecdsa_half(spec: Option<KeySpec>) -> Option<usize> {
    match spec? {
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => Some(32),
        KeySpec::EccNistP384 => Some(48),
        KeySpec::EccNistP521 => Some(66),
        _ => None,
    }
}

/// The signing algorithms a key of `spec` offers.
fn signing_algorithms(spec: KeySpec) -> Vec<&'static str> {
    use SigningAlgorithm as S;
    let list: &[S] = match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => &[
            S::RsassaPssSha256,
            S::RsassaPssSha384,
            S::RsassaPssSha512,
            S::RsassaPkcs1V15Sha256,
            S::RsassaPkcs1V15Sha384,
            S::RsassaPkcs1V15Sha512,
        ],
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => &[S::EcdsaSha256],
        KeySpec::EccNistP384 => &[S::EcdsaSha384],
        KeySpec::EccNistP521 => &[S::EcdsaSha512],
        KeySpec::Ed25519 => &[S::Ed25519Sha512],
        KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => &[S::MlDsaShake256],
        _ => &[],
    };
    list.iter().map(|a| a.aws_name()).collect()
}

const MAC_ALGORITHMS: [MacAlgorithm; 4] = [
    MacAlgorithm::HmacSha224,
    MacAlgorithm::HmacSha256,
    MacAlgorithm::HmacSha384,
    MacAlgorithm::HmacSha512,
];

/// The AWS spec name of a key (SoftKMS's name for specs AWS has not).
fn spec_name(m: &KeyMetadata) -> String {
    m.spec
        .and_then(KeySpec::aws_name)
        .map_or_else(|| m.spec_name.to_ascii_uppercase(), str::to_string)
}

/// The usage AWS shows: the key's first.
fn usage_name(m: &KeyMetadata) -> &'static str {
    m.usages.first().map_or("ENCRYPT_DECRYPT", |u| u.aws_name())
}

/// A `KeyMetadata` structure.
fn metadata(m: &KeyMetadata, naming: &Naming) -> Value {
    let mut v = json!({
        "AWSAccountId": naming.account,
        "KeyId": aws_key_id(&m.id),
        "Arn": naming.key_arn(&m.id),
        "CreationDate": time(m.creation_date()),
        "Enabled": m.state == Some(KeyState::Enabled),
        "Description": m.description.clone().unwrap_or_default(),
        "KeyUsage": usage_name(m),
        "KeyState": m.state.map_or("Enabled", KeyState::name),
        "Origin": match m.origin {
            crate::api::KeyOrigin::External => "EXTERNAL",
            _ => "AWS_KMS",
        },
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": spec_name(m),
        "KeySpec": spec_name(m),
        "MultiRegion": false,
    });
    let obj = v.as_object_mut();
    let Some(obj) = obj else { return v };
    if let Some(t) = m.deletion_time {
        obj.insert("DeletionDate".into(), json!(t.unix()));
    }
    if let Some(t) = m.valid_to {
        obj.insert("ValidTo".into(), json!(t.unix()));
        obj.insert("ExpirationModel".into(), json!("KEY_MATERIAL_EXPIRES"));
    }
    if m.managed {
        obj.insert("EncryptionAlgorithms".into(), json!(["SYMMETRIC_DEFAULT"]));
        if let Some(v) = m.current_version {
            obj.insert("CurrentKeyMaterialId".into(), json!(format!("{v}")));
        }
    }
    if let Some(spec) = m.spec {
        let algs = signing_algorithms(spec);
        if m.usages.contains(&KeyUsage::SignVerify) && !algs.is_empty() {
            obj.insert("SigningAlgorithms".into(), json!(algs));
        }
        if let Some(mac) = MacAlgorithm::default_for(spec) {
            obj.insert("MacAlgorithms".into(), json!([mac.aws_name()]));
        }
    }
    if m.usages.contains(&KeyUsage::KeyAgreement) {
        obj.insert("KeyAgreementAlgorithms".into(), json!(["ECDH"]));
    }
    v
}

impl Call<'_> {
    /// The key a member names, remembered for the audit record when it is an id.
    fn key_ref(&mut self, input: &Input, name: &str) -> Result<KeyRef, AwsError> {
        let k = self.naming.key_ref(input.str(name, MAX_KEY_ID)?)?;
        match &k {
            KeyRef::Id(id) => self.key = Some(id.clone()),
            KeyRef::Alias(a) => self.alias = Some(a.clone()),
            _ => {}
        }
        Ok(k)
    }

    /// The key's metadata (also fixes the key for the audit record).
    fn describe(&mut self, k: &KeyRef) -> Result<KeyMetadata, AwsError> {
        let m = self.token.describe_key(k)?;
        self.key = Some(m.id.clone());
        Ok(m)
    }

    fn arn(&self, id: &KeyId) -> String {
        self.naming.key_arn(id)
    }

    /// Runs operation `op`.
    pub(crate) fn run(&mut self, op: &str, input: &Input) -> Result<Value, AwsError> {
        match op {
            "CreateKey" => self.create_key(input),
            "DescribeKey" => {
                let k = self.key_ref(input, "KeyId")?;
                let m = self.describe(&k)?;
                Ok(json!({ "KeyMetadata": metadata(&m, self.naming) }))
            }
            "ListKeys" => self.list_keys(input),
            "Encrypt" => self.encrypt(input),
            "Decrypt" => self.decrypt(input),
            "ReEncrypt" => self.re_encrypt(input),
            "GenerateDataKey" => self.generate_data_key(input, true),
            "GenerateDataKeyWithoutPlaintext" => self.generate_data_key(input, false),
            "GenerateDataKeyPair" => self.generate_data_key_pair(input, true),
            "GenerateDataKeyPairWithoutPlaintext" => self.generate_data_key_pair(input, false),
            "GenerateRandom" => {
                let n = input
                    .opt_int("NumberOfBytes", 1, 1024)?
                    .ok_or_else(|| constraint("NumberOfBytes", "Member must not be null"))?;
                if input.has("CustomKeyStoreId") || input.has("Recipient") {
                    return Err(AwsError::new(
                        "UnsupportedOperationException",
                        "GenerateRandom takes neither CustomKeyStoreId nor Recipient here",
                    ));
                }
                let bytes = self
                    .token
                    .generate_random(usize::try_from(n).unwrap_or(1024))?;
                Ok(json!({ "Plaintext": b64(&bytes) }))
            }
            "Sign" => self.sign(input),
            "Verify" => self.verify(input),
            "GetPublicKey" => self.get_public_key(input),
            "GenerateMac" | "VerifyMac" => self.mac(op, input),
            "EnableKey" | "DisableKey" | "CancelKeyDeletion" | "RotateKeyOnDemand"
            | "DisableKeyRotation" => self.lifecycle(op, input),
            "ScheduleKeyDeletion" => {
                let k = self.key_ref(input, "KeyId")?;
                let days = input.opt_int("PendingWindowInDays", 7, 30)?.unwrap_or(30);
                let m = self.token.schedule_key_deletion(&k, Some(days))?;
                self.key = Some(m.id.clone());
                Ok(json!({
                    "KeyId": self.arn(&m.id),
                    "DeletionDate": time(m.deletion_time),
                    "KeyState": "PendingDeletion",
                    "PendingWindowInDays": days,
                }))
            }
            "EnableKeyRotation" => {
                let k = self.key_ref(input, "KeyId")?;
                self.expect_enabled(&k)?;
                let days = input
                    .opt_int("RotationPeriodInDays", 90, 2560)?
                    .unwrap_or(365);
                let m = self.token.set_rotation_period(&k, Some(days))?;
                self.key = Some(m.id);
                Ok(json!({}))
            }
            "GetKeyRotationStatus" => self.rotation_status(input),
            "ListKeyRotations" => self.list_rotations(input),
            "CreateAlias" | "UpdateAlias" => self.put_alias(op, input),
            "DeleteAlias" => {
                let name = self.naming.alias_name(input.str("AliasName", 256)?)?;
                self.token.delete_alias(&name)?;
                Ok(json!({}))
            }
            "ListAliases" => self.list_aliases(input),
            "GetKeyPolicy" => self.get_key_policy(input),
            "PutKeyPolicy" => self.put_key_policy(input),
            "ListKeyPolicies" => {
                let k = self.key_ref(input, "KeyId")?;
                self.describe(&k)?;
                Ok(json!({ "PolicyNames": ["default"], "Truncated": false }))
            }
            "TagResource" => {
                let k = self.key_ref(input, "KeyId")?;
                let tags = input
                    .opt_tags("Tags")?
                    .ok_or_else(|| constraint("Tags", "Member must not be null"))?;
                self.token.tag_key(&k, &tags).map_err(tag_error)?;
                Ok(json!({}))
            }
            "UntagResource" => {
                let k = self.key_ref(input, "KeyId")?;
                let keys = input
                    .opt_strings("TagKeys", 50)?
                    .ok_or_else(|| constraint("TagKeys", "Member must not be null"))?;
                self.token.untag_key(&k, &keys).map_err(tag_error)?;
                Ok(json!({}))
            }
            "ListResourceTags" => {
                let k = self.key_ref(input, "KeyId")?;
                let m = self.describe(&k)?;
                let tags: Vec<Value> = m
                    .tags
                    .iter()
                    .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
                    .collect();
                Ok(json!({ "Tags": tags, "Truncated": false }))
            }
            "UpdateKeyDescription" => {
                let k = self.key_ref(input, "KeyId")?;
                let d = input
                    .opt_str("Description")?
                    .ok_or_else(|| constraint("Description", "Member must not be null"))?;
                let m = self.token.update_key_description(&k, d)?;
                self.key = Some(m.id);
                Ok(json!({}))
            }
            "CreateGrant"
            | "ListGrants"
            | "ListRetirableGrants"
            | "RetireGrant"
            | "RevokeGrant" => grants::run(self, op, input),
            _ => Err(AwsError::new(
                "UnknownOperationException",
                format!("{op} is not an operation of this server"),
            )),
        }
    }

    fn create_key(&mut self, input: &Input) -> Result<Value, AwsError> {
        let spec_text = match (
            input.opt_str("KeySpec")?,
            input.opt_str("CustomerMasterKeySpec")?,
        ) {
            (Some(a), Some(b)) if a != b => {
                return Err(AwsError::validation(
                    "KeySpec and CustomerMasterKeySpec differ: give one",
                ))
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => "SYMMETRIC_DEFAULT",
        };
        let spec = KeySpec::all()
            .find(|s| s.aws_name() == Some(spec_text))
            .ok_or_else(|| {
                constraint(
                    "KeySpec",
                    &format!("Member must satisfy enum value set: {}", aws_specs()),
                )
            })?;
        let usage = match input.opt_str("KeyUsage")? {
            None if spec == KeySpec::Aes256 => KeyUsage::EncryptDecrypt,
            None if MacAlgorithm::default_for(spec).is_some() || !spec.is_pair() => {
                return Err(AwsError::validation(format!(
                    "You must specify a KeyUsage value for a {spec_text} key: {}",
                    usage_list(spec)
                )))
            }
            None => {
                return Err(AwsError::validation(format!(
                    "You must specify a KeyUsage value for a {spec_text} key: {}",
                    usage_list(spec)
                )))
            }
            Some(u) => spec
                .usages()
                .iter()
                .copied()
                .find(|x| x.aws_name() == u)
                .ok_or_else(|| {
                    AwsError::validation(format!(
                        "KeyUsage {u} is not valid for a {spec_text} key: {}",
                        usage_list(spec)
                    ))
                })?,
        };
        match input.opt_str("Origin")? {
            None | Some("AWS_KMS") => {}
            Some(o) => {
                return Err(AwsError::new(
                    "UnsupportedOperationException",
                    format!("Origin {o} is not offered here; keys are made by SoftKMS (AWS_KMS)"),
                ))
            }
        }
        if input.opt_bool("MultiRegion")? == Some(true) {
            return Err(AwsError::new(
                "UnsupportedOperationException",
                "multi-Region keys are not offered here",
            ));
        }
        if input.has("CustomKeyStoreId") || input.has("XksKeyId") {
            return Err(AwsError::new(
                "UnsupportedOperationException",
                "custom key stores are other slots of the configuration here",
            ));
        }
        let bypass = input
            .opt_bool("BypassPolicyLockoutSafetyCheck")?
            .unwrap_or(false);
        let policy = match input.opt_str("Policy")? {
            Some(p) => Some(self.policy_from_aws(p, "")?),
            None => None,
        };
        let options = KeyOptions {
            usage: Some(usage),
            policy,
            bypass_policy_lockout_safety_check: bypass,
            description: input.opt_str("Description")?.map(str::to_string),
            tags: input.opt_tags("Tags")?.unwrap_or_default(),
            ..KeyOptions::default()
        };
        let m = self.token.create_key(spec, &options).map_err(tag_error)?;
        self.key = Some(m.id.clone());
        Ok(json!({ "KeyMetadata": metadata(&m, self.naming) }))
    }

    pub(crate) fn policy_from_aws(&self, doc: &str, key_arn: &str) -> Result<KeyPolicy, AwsError> {
        if doc.len() > MAX_POLICY {
            return Err(constraint(
                "Policy",
                &format!("Member must have length less than or equal to {MAX_POLICY}"),
            ));
        }
        let ours = aws_policy::from_aws(doc, &self.policy_naming(), key_arn)
            .map_err(|e| AwsError::new("MalformedPolicyDocumentException", e.to_string()))?;
        KeyPolicy::parse(ours.as_bytes())
            .map_err(|e| AwsError::new("MalformedPolicyDocumentException", e.message()))
    }

    pub(super) fn policy_naming(&self) -> aws_policy::Naming {
        aws_policy::Naming {
            partition: "aws".into(),
            account: self.naming.account.clone(),
        }
    }

    fn list_keys(&mut self, input: &Input) -> Result<Value, AwsError> {
        let limit = input.opt_int("Limit", 1, 1000)?.unwrap_or(100);
        let marker = input.opt_str("Marker")?.unwrap_or("");
        let mut keys = self.token.list_keys()?;
        keys.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        let (page, next) = paginate(
            keys.into_iter().map(|m| m.id),
            |id| id.as_str().to_string(),
            marker,
            limit,
        );
        let list: Vec<Value> = page
            .iter()
            .map(|id| json!({ "KeyId": aws_key_id(id), "KeyArn": self.arn(id) }))
            .collect();
        Ok(page_result("Keys", list, next))
    }

    fn check_symmetric_algorithm(input: &Input, name: &str) -> Result<(), AwsError> {
        match input.opt_str(name)? {
            None | Some("SYMMETRIC_DEFAULT") => Ok(()),
            Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => {
                Err(AwsError::new(
                    "UnsupportedOperationException",
                    format!("{a}: only SYMMETRIC_DEFAULT encryption is offered by this server"),
                ))
            }
            Some(a) => Err(constraint(
                name,
                &format!("Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE], not {a}"),
            )),
        }
    }

    fn encrypt(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let plaintext = zeroize::Zeroizing::new(input.blob("Plaintext", MAX_PLAINTEXT)?);
        let ctx = input.context("EncryptionContext")?;
        Self::check_symmetric_algorithm(input, "EncryptionAlgorithm")?;
        let blob = self.token.encrypt(&k, &plaintext, &ctx)?;
        let (id, _) = message_key_id(&blob)?;
        self.key = Some(id.clone());
        Ok(json!({
            "CiphertextBlob": b64(&blob),
            "KeyId": self.arn(&id),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }))
    }

    /// The key a ciphertext names, checked against a `KeyId` member when
    /// there is one (`IncorrectKeyException` when they differ).
    fn ciphertext_key(
        &mut self,
        input: &Input,
        blob: &[u8],
        member: &str,
    ) -> Result<KeyId, AwsError> {
        let (id, _) = message_key_id(blob).map_err(|e| match e.kind() {
            ErrorKind::InvalidInput => AwsError::new("InvalidCiphertextException", e.message()),
            _ => AwsError::from(e),
        })?;
        self.key = Some(id.clone());
        if input.has(member) {
            let k = self.naming.key_ref(input.str(member, MAX_KEY_ID)?)?;
            let named = match k {
                KeyRef::Id(named) => named,
                other => self.token.describe_key(&other)?.id,
            };
            if named != id {
                return Err(AwsError::new(
                    "IncorrectKeyException",
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
        }
        Ok(id)
    }

    fn decrypt(&mut self, input: &Input) -> Result<Value, AwsError> {
        let blob = input.blob("CiphertextBlob", MAX_CIPHERTEXT)?;
        let ctx = input.context("EncryptionContext")?;
        Self::check_symmetric_algorithm(input, "EncryptionAlgorithm")?;
        if input.has("Recipient") {
            return Err(AwsError::new(
                "UnsupportedOperationException",
                "Decrypt for a Nitro enclave recipient is not offered here",
            ));
        }
        self.ciphertext_key(input, &blob, "KeyId")?;
        let d = self.token.decrypt(&blob, &ctx)?;
        Ok(json!({
            "KeyId": self.arn(&d.key_id),
            "Plaintext": b64(d.plaintext.as_bytes()),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }))
    }

    fn re_encrypt(&mut self, input: &Input) -> Result<Value, AwsError> {
        let blob = input.blob("CiphertextBlob", MAX_CIPHERTEXT)?;
        let src_ctx = input.context("SourceEncryptionContext")?;
        let dst_ctx = input.context("DestinationEncryptionContext")?;
        Self::check_symmetric_algorithm(input, "SourceEncryptionAlgorithm")?;
        Self::check_symmetric_algorithm(input, "DestinationEncryptionAlgorithm")?;
        self.ciphertext_key(input, &blob, "SourceKeyId")?;
        let to = self
            .naming
            .key_ref(input.str("DestinationKeyId", MAX_KEY_ID)?)?;
        let r = self
            .token
            .re_encrypt_message(&blob, &src_ctx, &to, &dst_ctx)?;
        Ok(json!({
            "CiphertextBlob": b64(&r.ciphertext_blob),
            "SourceKeyId": self.arn(&r.source_key_id),
            "KeyId": self.arn(&r.key_id),
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }))
    }

    fn generate_data_key(
        &mut self,
        input: &Input,
        with_plaintext: bool,
    ) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let ctx = input.context("EncryptionContext")?;
        let bytes = match (
            input.opt_str("KeySpec")?,
            input.opt_int("NumberOfBytes", 1, 1024)?,
        ) {
            (Some(_), Some(_)) => {
                return Err(AwsError::validation(
                    "Please specify either number of bytes or key spec, not both.",
                ))
            }
            (None, None) => {
                return Err(AwsError::validation(
                    "Please specify either number of bytes or key spec.",
                ))
            }
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(s), None) => {
                return Err(constraint(
                    "KeySpec",
                    &format!("Member must satisfy enum value set: [AES_256, AES_128], not {s}"),
                ))
            }
            (None, Some(n)) => usize::try_from(n).unwrap_or(1024),
        };
        if with_plaintext {
            let dk = self.token.generate_data_key(&k, bytes, &ctx)?;
            self.key = Some(dk.key_id.clone());
            Ok(json!({
                "CiphertextBlob": b64(&dk.ciphertext_blob),
                "Plaintext": b64(dk.plaintext.as_bytes()),
                "KeyId": self.arn(&dk.key_id),
            }))
        } else {
            let blob = self
                .token
                .generate_data_key_without_plaintext(&k, bytes, &ctx)?;
            let (id, _) = message_key_id(&blob)?;
            self.key = Some(id.clone());
            Ok(json!({ "CiphertextBlob": b64(&blob), "KeyId": self.arn(&id) }))
        }
    }

    fn generate_data_key_pair(
        &mut self,
        input: &Input,
        with_plaintext: bool,
    ) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let ctx = input.context("EncryptionContext")?;
        let spec_text = input.str("KeyPairSpec", 64)?;
        let spec = KeySpec::all()
            .find(|s| s.is_pair() && s.aws_name() == Some(spec_text))
            .ok_or_else(|| {
                constraint(
                    "KeyPairSpec",
                    &format!(
                        "Member must satisfy enum value set: a key pair spec, not {spec_text}"
                    ),
                )
            })?;
        let p = self
            .token
            .generate_data_key_pair(&k, spec, &ctx, with_plaintext)?;
        self.key = Some(p.key_id.clone());
        let mut out = json!({
            "PrivateKeyCiphertextBlob": b64(&p.private_key_ciphertext_blob),
            "PublicKey": b64(&p.public_key),
            "KeyId": self.arn(&p.key_id),
            "KeyPairSpec": spec_text,
        });
        if let (Some(pt), Some(obj)) = (&p.private_key_plaintext, out.as_object_mut()) {
            obj.insert("PrivateKeyPlaintext".into(), json!(b64(pt.as_bytes())));
        }
        Ok(out)
    }

    fn signing(&self, input: &Input) -> Result<(SigningAlgorithm, MessageType), AwsError> {
        let name = input.str("SigningAlgorithm", 64)?;
        let alg = SigningAlgorithm::all()
            .find(|a| a.aws_name() == name)
            .ok_or_else(|| {
                constraint(
                    "SigningAlgorithm",
                    &format!("Member must satisfy enum value set, not {name}"),
                )
            })?;
        let kind = match input.opt_str("MessageType")? {
            None | Some("RAW") => MessageType::Raw,
            Some("DIGEST") => MessageType::Digest,
            Some(other) => {
                return Err(constraint(
                    "MessageType",
                    &format!("Member must satisfy enum value set: [RAW, DIGEST], not {other}"),
                ))
            }
        };
        Ok((alg, kind))
    }

    fn sign(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let message = input.blob("Message", MAX_MESSAGE)?;
        let (alg, kind) = self.signing(input)?;
        let m = self.describe(&k)?;
        let mut sig = self
            .token
            .sign_as(&KeyRef::Id(m.id.clone()), &message, alg, kind)?;
        if ecdsa_half(m.spec).is_some() {
            // AWS returns ECDSA signatures in DER; PKCS#11 makes r || s.
            sig = ecdsa_der::to_der(&sig)
                .ok_or_else(|| AwsError::internal("an ECDSA signature of odd length"))?;
        }
        Ok(json!({
            "KeyId": self.arn(&m.id),
            "Signature": b64(&sig),
            "SigningAlgorithm": alg.aws_name(),
        }))
    }

    fn verify(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let message = input.blob("Message", MAX_MESSAGE)?;
        let signature = input.blob("Signature", MAX_SIGNATURE)?;
        let (alg, kind) = self.signing(input)?;
        let m = self.describe(&k)?;
        let signature = match ecdsa_half(m.spec) {
            Some(half) => ecdsa_der::from_der(&signature, half).ok_or_else(|| {
                AwsError::new(
                    "KMSInvalidSignatureException",
                    "the signature is not a DER-encoded ECDSA signature for this key",
                )
            })?,
            None => signature,
        };
        self.token
            .verify_as(&KeyRef::Id(m.id.clone()), &message, &signature, alg, kind)?;
        Ok(json!({
            "KeyId": self.arn(&m.id),
            "SignatureValid": true,
            "SigningAlgorithm": alg.aws_name(),
        }))
    }

    fn get_public_key(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let m = self.describe(&k)?;
        if !m.spec.is_some_and(KeySpec::is_pair) {
            return Err(AwsError::new(
                "UnsupportedOperationException",
                format!(
                    "{} is not an asymmetric key: it has no public key",
                    self.arn(&m.id)
                ),
            ));
        }
        let der = self.token.get_public_key(&KeyRef::Id(m.id.clone()))?;
        let mut out = json!({
            "KeyId": self.arn(&m.id),
            "PublicKey": b64(&der),
            "KeySpec": spec_name(&m),
            "CustomerMasterKeySpec": spec_name(&m),
            "KeyUsage": usage_name(&m),
        });
        if let Some(obj) = out.as_object_mut() {
            match usage_name(&m) {
                "SIGN_VERIFY" => {
                    let algs = m.spec.map(signing_algorithms).unwrap_or_default();
                    obj.insert("SigningAlgorithms".into(), json!(algs));
                }
                "KEY_AGREEMENT" => {
                    obj.insert("KeyAgreementAlgorithms".into(), json!(["ECDH"]));
                }
                _ => {
                    obj.insert(
                        "EncryptionAlgorithms".into(),
                        json!(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]),
                    );
                }
            }
        }
        Ok(out)
    }

    fn mac(&mut self, op: &str, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let message = input.blob("Message", MAX_MESSAGE)?;
        let name = input.str("MacAlgorithm", 64)?;
        let alg = MAC_ALGORITHMS
            .into_iter()
            .find(|a| a.aws_name() == name)
            .ok_or_else(|| {
                constraint(
                    "MacAlgorithm",
                    &format!("Member must satisfy enum value set: [HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512], not {name}"),
                )
            })?;
        let m = self.describe(&k)?;
        let key = KeyRef::Id(m.id.clone());
        if op == "GenerateMac" {
            let mac = self.token.generate_mac(&key, &message, alg)?;
            Ok(json!({ "Mac": b64(&mac), "MacAlgorithm": name, "KeyId": self.arn(&m.id) }))
        } else {
            let mac = input.blob("Mac", 64)?;
            match self.token.verify_mac(&key, &message, &mac, alg) {
                Ok(()) => {
                    Ok(json!({ "KeyId": self.arn(&m.id), "MacValid": true, "MacAlgorithm": name }))
                }
                Err(e) if e.kind() == ErrorKind::InvalidSignature => Err(AwsError::new(
                    "KMSInvalidMacException",
                    "The MAC in the request is not valid for the message and key",
                )),
                Err(e) => Err(e.into()),
            }
        }
    }

    /// A key that is not Enabled cannot change its rotation (as AWS):
    /// `DisabledException`, or `KMSInvalidStateException` in the other states.
    fn expect_enabled(&mut self, k: &KeyRef) -> Result<(), AwsError> {
        let m = self.describe(k)?;
        let what = match m.state {
            Some(KeyState::Disabled) => {
                return Err(AwsError::new(
                    "DisabledException",
                    format!("{} is disabled.", self.arn(&m.id)),
                ))
            }
            Some(KeyState::PendingImport) => "pending import",
            Some(KeyState::PendingDeletion) => "pending deletion",
            _ => return Ok(()),
        };
        Err(AwsError::new(
            "KMSInvalidStateException",
            format!("{} is {what}.", self.arn(&m.id)),
        ))
    }

    fn lifecycle(&mut self, op: &str, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        if matches!(op, "DisableKeyRotation" | "RotateKeyOnDemand") {
            self.expect_enabled(&k)?;
        }
        let m = match op {
            "EnableKey" => self.token.enable_key(&k)?,
            "DisableKey" => self.token.disable_key(&k)?,
            "CancelKeyDeletion" => self.token.cancel_key_deletion(&k)?,
            "DisableKeyRotation" => self.token.set_rotation_period(&k, None)?,
            _ => self.token.rotate_key(&k)?,
        };
        self.key = Some(m.id.clone());
        Ok(match op {
            "CancelKeyDeletion" | "RotateKeyOnDemand" => json!({ "KeyId": self.arn(&m.id) }),
            _ => json!({}),
        })
    }

    fn rotation_status(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let m = self.describe(&k)?;
        if !m.managed {
            return Err(AwsError::new(
                "UnsupportedOperationException",
                format!(
                    "{} does not rotate: only symmetric encryption keys do",
                    self.arn(&m.id)
                ),
            ));
        }
        let mut out = json!({
            "KeyRotationEnabled": m.rotation_period_days.is_some(),
            "KeyId": self.arn(&m.id),
        });
        if let (Some(d), Some(obj)) = (m.rotation_period_days, out.as_object_mut()) {
            obj.insert("RotationPeriodInDays".into(), json!(d));
            obj.insert("NextRotationDate".into(), time(m.next_rotation));
        }
        Ok(out)
    }

    fn list_rotations(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        let limit = input.opt_int("Limit", 1, 1000)?.unwrap_or(100);
        let marker = input.opt_str("Marker")?.unwrap_or("");
        let m = self.describe(&k)?;
        if !m.managed {
            return Err(AwsError::new(
                "UnsupportedOperationException",
                format!(
                    "{} does not rotate: only symmetric encryption keys do",
                    self.arn(&m.id)
                ),
            ));
        }
        let arn = self.arn(&m.id);
        let (page, next) = paginate(
            m.versions.into_iter().skip(1),
            |v| format!("{:020}", v.version),
            marker,
            limit,
        );
        let list: Vec<Value> = page
            .iter()
            .map(|v| json!({ "KeyId": arn, "RotationDate": time(v.created), "KeyMaterialId": format!("{}", v.version) }))
            .collect();
        Ok(page_result("Rotations", list, next))
    }

    fn put_alias(&mut self, op: &str, input: &Input) -> Result<Value, AwsError> {
        let name = self.naming.alias_name(input.str("AliasName", 256)?)?;
        let target = input.str("TargetKeyId", MAX_KEY_ID)?;
        let k = self.naming.key_ref(target)?;
        if matches!(k, KeyRef::Alias(_)) {
            return Err(AwsError::validation(
                "TargetKeyId must be a key id or key ARN, not an alias",
            ));
        }
        if let KeyRef::Id(id) = &k {
            self.key = Some(id.clone());
        }
        let exists = self
            .token
            .list_aliases(None)?
            .iter()
            .any(|a| a.name == name);
        let r = if op == "CreateAlias" {
            if exists {
                return Err(AwsError::new(
                    "AlreadyExistsException",
                    format!(
                        "An alias with the name {} already exists",
                        self.naming.alias_arn(&name)
                    ),
                ));
            }
            self.token.create_alias(&name, &k)
        } else {
            if !exists {
                return Err(AwsError::not_found(format!(
                    "Alias {} is not found.",
                    self.naming.alias_arn(&name)
                )));
            }
            self.token.update_alias(&name, &k)
        };
        r.map_err(|e| match e.kind() {
            ErrorKind::InvalidInput if e.message().contains("alias names") => {
                AwsError::new("InvalidAliasNameException", e.message())
            }
            _ => AwsError::from(e),
        })?;
        Ok(json!({}))
    }

    fn list_aliases(&mut self, input: &Input) -> Result<Value, AwsError> {
        let key = match input.opt_str("KeyId")? {
            Some(p) => Some(self.naming.key_ref(p)?),
            None => None,
        };
        let limit = input.opt_int("Limit", 1, 100)?.unwrap_or(50);
        let marker = input.opt_str("Marker")?.unwrap_or("");
        let aliases = self.token.list_aliases(key.as_ref())?;
        let (page, next) = paginate(aliases.into_iter(), |a| a.name.clone(), marker, limit);
        let list: Vec<Value> = page
            .iter()
            .map(|a| {
                json!({
                    "AliasName": a.name,
                    "AliasArn": self.naming.alias_arn(&a.name),
                    "TargetKeyId": aws_key_id(&a.target_key_id),
                })
            })
            .collect();
        Ok(page_result("Aliases", list, next))
    }

    fn get_key_policy(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        check_policy_name(input)?;
        let m = self.describe(&k)?;
        let naming = self.policy_naming();
        let text = match &m.policy {
            Some(p) => aws_policy::to_aws(p.as_str(), &naming)
                .map_err(|e| AwsError::internal(format!("the stored policy: {e}")))?,
            None => aws_policy::default_aws(m.creator.as_deref().unwrap_or("user"), &naming),
        };
        Ok(json!({ "Policy": text, "PolicyName": "default" }))
    }

    fn put_key_policy(&mut self, input: &Input) -> Result<Value, AwsError> {
        let k = self.key_ref(input, "KeyId")?;
        check_policy_name(input)?;
        let doc = input.str("Policy", MAX_POLICY)?;
        let bypass = input
            .opt_bool("BypassPolicyLockoutSafetyCheck")?
            .unwrap_or(false);
        let _writes = self.policy_writes.lock();
        let m = self.describe(&k)?;
        let arn = self.arn(&m.id);
        let ours = self.policy_from_aws(doc, &arn)?;
        // Grants live in the policy's grant statements: they stay.
        let merged = grants::keep_grants(&ours, m.policy.as_ref())?;
        self.token
            .put_key_policy(&KeyRef::Id(m.id.clone()), &merged, bypass)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidInput => {
                    AwsError::new("MalformedPolicyDocumentException", e.message())
                }
                _ => AwsError::from(e),
            })?;
        Ok(json!({}))
    }
}

/// `PolicyName` is `default` (the only one AWS has), or absent.
fn check_policy_name(input: &Input) -> Result<(), AwsError> {
    match input.opt_str("PolicyName")? {
        None | Some("default") => Ok(()),
        Some(_) => Err(AwsError::not_found("No such policy exists")),
    }
}

fn aws_specs() -> String {
    let names: Vec<&str> = KeySpec::all().filter_map(KeySpec::aws_name).collect();
    format!("[{}]", names.join(", "))
}

fn usage_list(spec: KeySpec) -> String {
    let names: Vec<&str> = spec.usages().iter().map(|u| u.aws_name()).collect();
    format!("one of {}", names.join(", "))
}

/// A tag problem is a `TagException`, as AWS has it.
fn tag_error(e: crate::api::Error) -> AwsError {
    if e.kind() == ErrorKind::InvalidInput && e.message().contains("tag") {
        AwsError::new("TagException", e.message())
    } else {
        AwsError::from(e)
    }
}

/// One page of `items` (sorted by `key`) after `marker`, and the marker of
/// the next page when there is one.
pub(crate) fn paginate<T>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> String,
    marker: &str,
    limit: u64,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut page: Vec<T> = Vec::new();
    let mut more = false;
    for item in items.filter(|i| marker.is_empty() || key(i).as_str() > marker) {
        if page.len() == limit {
            more = true;
            break;
        }
        page.push(item);
    }
    let next = if more { page.last().map(&key) } else { None };
    (page, next)
}

/// A list response with AWS's paging members.
pub(crate) fn page_result(member: &str, list: Vec<Value>, next: Option<String>) -> Value {
    let mut out = serde_json::Map::new();
    out.insert(member.into(), Value::Array(list));
    out.insert("Truncated".into(), json!(next.is_some()));
    if let Some(n) = next {
        out.insert("NextMarker".into(), json!(n));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_markers() {
        let items = ["a", "b", "c", "d", "e"];
        let (p, next) = paginate(items.iter(), |s| (**s).to_string(), "", 2);
        assert_eq!(p, vec![&"a", &"b"]);
        assert_eq!(next.as_deref(), Some("b"));
        let (p, next) = paginate(items.iter(), |s| (**s).to_string(), "b", 2);
        assert_eq!(p, vec![&"c", &"d"]);
        let (p, last) = paginate(
            items.iter(),
            |s| (**s).to_string(),
            next.as_deref().unwrap_or(""),
            2,
        );
        assert_eq!(p, vec![&"e"]);
        assert_eq!(last, None);
        let v = page_result("Keys", vec![], Some("x".into()));
        assert_eq!(v["Truncated"], true);
        assert_eq!(v["NextMarker"], "x");
    }

    #[test]
    fn every_signing_key_spec_has_algorithms() {
        for s in KeySpec::all().filter(|s| s.usages().contains(&KeyUsage::SignVerify)) {
            assert!(!signing_algorithms(s).is_empty(), "{s}");
            if let Some(d) = SigningAlgorithm::default_for(s) {
                assert!(signing_algorithms(s).contains(&d.aws_name()), "{s}");
            }
        }
    }
}
