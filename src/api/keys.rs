//! How keys are named, specified and described.

use super::error::{Error, Result};
use super::types::{SecretBytes, Timestamp};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A key's id: its `CKA_UNIQUE_ID`, fixed when the key is made, unique on the
/// token. Envelope messages name their key by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// A key id from its text.
    pub fn new(id: impl Into<String>) -> KeyId {
        KeyId(id.into())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a call names a key: by id, by label (`CKA_LABEL`; the private key of
/// a pair, which carries the same label as its public key), by alias, or by
/// what a user typed ([`KeyRef::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// By [`KeyId`].
    Id(KeyId),
    /// By label; a label that names no key is [`ErrorKind::NotFound`],
    /// one that names several [`ErrorKind::Ambiguous`].
    ///
    /// [`ErrorKind::NotFound`]: super::ErrorKind::NotFound
    /// [`ErrorKind::Ambiguous`]: super::ErrorKind::Ambiguous
    Label(String),
    /// By alias, `alias/NAME` ([`Token::create_alias`](super::Token::create_alias)):
    /// the key the alias points at now. No such alias, or an alias whose key
    /// is gone, is [`ErrorKind::NotFound`](super::ErrorKind::NotFound).
    Alias(String),
    /// A key id, or else a label (what a command-line user types): 32
    /// lower-case hex digits name the key whose id they are (and nothing
    /// else: a label of that form is never taken), anything else the key it
    /// labels, by the rules of [`KeyRef::Label`].
    Name(String),
}

impl KeyRef {
    /// The key labelled `label`.
    pub fn label(label: impl Into<String>) -> KeyRef {
        KeyRef::Label(label.into())
    }

    /// What a user typed: `alias/…` is a [`KeyRef::Alias`], anything else a
    /// [`KeyRef::Name`] (a key id, or else a label).
    pub fn parse(s: &str) -> KeyRef {
        if s.starts_with(crate::kms::aliases::PREFIX) {
            KeyRef::Alias(s.to_string())
        } else {
            KeyRef::Name(s.to_string())
        }
    }
}

impl FromStr for KeyRef {
    type Err = Error;

    /// [`KeyRef::parse`]; only an empty string is refused
    /// ([`ErrorKind::InvalidInput`](super::ErrorKind::InvalidInput)).
    fn from_str(s: &str) -> Result<KeyRef> {
        if s.is_empty() {
            return Err(Error::invalid(
                "no key named: name a key by its id, its label or alias/NAME",
            ));
        }
        Ok(KeyRef::parse(s))
    }
}

impl fmt::Display for KeyRef {
    /// The id, label or alias as given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Id(id) => f.write_str(id.as_str()),
            KeyRef::Label(s) | KeyRef::Alias(s) | KeyRef::Name(s) => f.write_str(s),
        }
    }
}

impl From<KeyId> for KeyRef {
    fn from(id: KeyId) -> KeyRef {
        KeyRef::Id(id)
    }
}

impl From<&KeyId> for KeyRef {
    fn from(id: &KeyId) -> KeyRef {
        KeyRef::Id(id.clone())
    }
}

/// What kind of key to make ([`Token::create_key`](super::Token::create_key)),
/// the key specs of AWS KMS (`docs/kms.md`, "Key specs").
///
/// AES keys are managed keys (versions, rotation, envelope encryption); the
/// others have the same state, policy and audit, and never rotate (as in AWS
/// KMS). A spec whose mechanism the module lacks is refused by the module when
/// the key is made (`CKR_MECHANISM_INVALID`, [`ErrorKind::Unsupported`](crate::api::ErrorKind::Unsupported)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySpec {
    /// AES-256: a managed key (versions, rotation, envelope encryption and
    /// data keys). AWS KMS's `SYMMETRIC_DEFAULT`.
    Aes256,
    /// AES-128, also a managed key.
    Aes128,
    /// An HMAC key of 224 bits.
    Hmac224,
    /// An HMAC key of 256 bits.
    Hmac256,
    /// An HMAC key of 384 bits.
    Hmac384,
    /// An HMAC key of 512 bits.
    Hmac512,
    /// An EC key pair on NIST P-256.
    EccNistP256,
    /// An EC key pair on NIST P-384.
    EccNistP384,
    /// An EC key pair on NIST P-521.
    EccNistP521,
    /// An EC key pair on SECG secp256k1 (signing only, as in AWS KMS).
    EccSecgP256k1,
    /// An Ed25519 key pair (EdDSA signing).
    Ed25519,
    /// An ML-DSA-44 key pair (FIPS 204).
    MlDsa44,
    /// An ML-DSA-65 key pair (FIPS 204).
    MlDsa65,
    /// An ML-DSA-87 key pair (FIPS 204).
    MlDsa87,
    /// An RSA key pair of 2048 bits.
    Rsa2048,
    /// An RSA key pair of 3072 bits.
    Rsa3072,
    /// An RSA key pair of 4096 bits.
    Rsa4096,
}

/// One row of the spec table: the spec, its `softkms` name, its AWS KMS name
/// and the usages a key of it can have.
struct SpecRow {
    spec: KeySpec,
    name: &'static str,
    aws: Option<&'static str>,
    usages: &'static [KeyUsage],
}

const ENCRYPT: &[KeyUsage] = &[KeyUsage::EncryptDecrypt];
const MAC: &[KeyUsage] = &[KeyUsage::GenerateVerifyMac];
const SIGN: &[KeyUsage] = &[KeyUsage::SignVerify];
const SIGN_AGREE: &[KeyUsage] = &[KeyUsage::SignVerify, KeyUsage::KeyAgreement];
const SIGN_ENCRYPT: &[KeyUsage] = &[KeyUsage::SignVerify, KeyUsage::EncryptDecrypt];

/// Every spec, in the order `softkms key create --help` and the docs list them.
#[rustfmt::skip]
const SPECS: [SpecRow; 17] = [
    SpecRow { spec: KeySpec::Aes256, name: "aes256", aws: Some("SYMMETRIC_DEFAULT"), usages: ENCRYPT },
    SpecRow { spec: KeySpec::Aes128, name: "aes128", aws: None, usages: ENCRYPT },
    SpecRow { spec: KeySpec::Hmac224, name: "hmac224", aws: Some("HMAC_224"), usages: MAC },
    SpecRow { spec: KeySpec::Hmac256, name: "hmac256", aws: Some("HMAC_256"), usages: MAC },
    SpecRow { spec: KeySpec::Hmac384, name: "hmac384", aws: Some("HMAC_384"), usages: MAC },
    SpecRow { spec: KeySpec::Hmac512, name: "hmac512", aws: Some("HMAC_512"), usages: MAC },
    SpecRow { spec: KeySpec::EccNistP256, name: "p256", aws: Some("ECC_NIST_P256"), usages: SIGN_AGREE },
    SpecRow { spec: KeySpec::EccNistP384, name: "p384", aws: Some("ECC_NIST_P384"), usages: SIGN_AGREE },
    SpecRow { spec: KeySpec::EccNistP521, name: "p521", aws: Some("ECC_NIST_P521"), usages: SIGN_AGREE },
    SpecRow { spec: KeySpec::EccSecgP256k1, name: "secp256k1", aws: Some("ECC_SECG_P256K1"), usages: SIGN },
    SpecRow { spec: KeySpec::Ed25519, name: "ed25519", aws: Some("ECC_NIST_EDWARDS25519"), usages: SIGN },
    SpecRow { spec: KeySpec::MlDsa44, name: "ml-dsa-44", aws: Some("ML_DSA_44"), usages: SIGN },
    SpecRow { spec: KeySpec::MlDsa65, name: "ml-dsa-65", aws: Some("ML_DSA_65"), usages: SIGN },
    SpecRow { spec: KeySpec::MlDsa87, name: "ml-dsa-87", aws: Some("ML_DSA_87"), usages: SIGN },
    SpecRow { spec: KeySpec::Rsa2048, name: "rsa2048", aws: Some("RSA_2048"), usages: SIGN_ENCRYPT },
    SpecRow { spec: KeySpec::Rsa3072, name: "rsa3072", aws: Some("RSA_3072"), usages: SIGN_ENCRYPT },
    SpecRow { spec: KeySpec::Rsa4096, name: "rsa4096", aws: Some("RSA_4096"), usages: SIGN_ENCRYPT },
];

impl KeySpec {
    /// Every spec.
    pub fn all() -> impl Iterator<Item = KeySpec> {
        SPECS.iter().map(|r| r.spec)
    }

    fn row(self) -> &'static SpecRow {
        // Every variant has a row (a unit test checks it).
        SPECS.iter().find(|r| r.spec == self).unwrap_or(&SPECS[0])
    }

    /// The name the `softkms` command uses: `aes256`, `hmac384`, `p384`,
    /// `secp256k1`, `ed25519`, `ml-dsa-65`, `rsa2048` ….
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// AWS KMS's name of the spec (`SYMMETRIC_DEFAULT`, `RSA_2048`,
    /// `ECC_NIST_P384`, `ECC_SECG_P256K1`, `ML_DSA_65`, `HMAC_256` …);
    /// AES-128 has none.
    pub fn aws_name(self) -> Option<&'static str> {
        self.row().aws
    }

    /// Whether keys of this spec are managed keys (versions, rotation,
    /// envelope encryption; `docs/kms.md`). Only they rotate.
    pub fn is_managed(self) -> bool {
        matches!(self, KeySpec::Aes256 | KeySpec::Aes128)
    }

    /// Whether keys of this spec are key pairs.
    pub fn is_pair(self) -> bool {
        !matches!(
            self,
            KeySpec::Aes256
                | KeySpec::Aes128
                | KeySpec::Hmac224
                | KeySpec::Hmac256
                | KeySpec::Hmac384
                | KeySpec::Hmac512
        )
    }

    /// The usages a key of this spec can have. [`KeyOptions::usage`] picks
    /// one of them; without it a key gets all of them.
    pub fn usages(self) -> &'static [KeyUsage] {
        self.row().usages
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeySpec {
    type Err = Error;

    /// Either name: [`KeySpec::name`] or [`KeySpec::aws_name`].
    fn from_str(s: &str) -> Result<KeySpec> {
        KeySpec::all()
            .find(|k| k.name() == s || k.aws_name() == Some(s))
            .ok_or_else(|| Error::invalid(format!("unknown spec {s}")))
    }
}

/// What a key is for (AWS KMS's `KeyUsage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyUsage {
    /// Encrypt and decrypt (and, for managed keys, data keys and
    /// re-encryption; for RSA, wrap and unwrap).
    EncryptDecrypt,
    /// Sign and verify.
    SignVerify,
    /// Make and check MACs.
    GenerateVerifyMac,
    /// Derive shared secrets (ECDH).
    KeyAgreement,
}

impl KeyUsage {
    /// AWS KMS's name: `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, `GENERATE_VERIFY_MAC`,
    /// `KEY_AGREEMENT`.
    pub fn aws_name(self) -> &'static str {
        match self {
            KeyUsage::EncryptDecrypt => "ENCRYPT_DECRYPT",
            KeyUsage::SignVerify => "SIGN_VERIFY",
            KeyUsage::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
            KeyUsage::KeyAgreement => "KEY_AGREEMENT",
        }
    }
}

/// A key's lifecycle state (`docs/kms.md`, "Lifecycle").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Usable as its attributes and policy allow.
    Enabled,
    /// Unusable until enabled again.
    Disabled,
    /// Unusable; destroyed at its deletion time unless the deletion is
    /// cancelled.
    PendingDeletion,
    /// Its imported material expired or was never imported: unusable until
    /// the same material is imported again.
    PendingImport,
}

impl KeyState {
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a key's material came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// Made by SoftKMS.
    Softkms,
    /// Imported ([`Token::import_key_material`](super::Token::import_key_material)).
    External,
}

impl KeyOrigin {
    /// `softkms` or `external`.
    pub fn name(self) -> &'static str {
        match self {
            KeyOrigin::Softkms => "softkms",
            KeyOrigin::External => "external",
        }
    }
}

/// One version of a managed key's material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyVersion {
    /// The version number, 1, 2, ….
    pub version: u64,
    /// When it was made (rotation time), if known.
    pub created: Option<Timestamp>,
}

/// Everything about a key that is not secret ([`Token::describe_key`](super::Token::describe_key)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyMetadata {
    /// The key's id.
    pub id: KeyId,
    /// Its label, when it has one.
    pub label: Option<String>,
    /// Its spec, when it is one of [`KeySpec`] (keys made through PKCS#11 may
    /// be of other sizes).
    pub spec: Option<KeySpec>,
    /// The spec's name: [`KeySpec::name`], or a name of the same form for
    /// other sizes (`aes192`), or `other`.
    pub spec_name: String,
    /// What it may be used for, by its PKCS#11 usage attributes.
    pub usages: Vec<KeyUsage>,
    /// Whether it is a managed key (versions, rotation, envelope encryption).
    pub managed: bool,
    /// Its lifecycle state (`None` for an object without one).
    pub state: Option<KeyState>,
    /// Where its material came from.
    pub origin: KeyOrigin,
    /// The version new encryptions use (managed keys).
    pub current_version: Option<u64>,
    /// The oldest version that still decrypts (managed keys).
    pub min_decrypt_version: Option<u64>,
    /// Its versions, oldest first (managed keys).
    pub versions: Vec<KeyVersion>,
    /// The automatic rotation period in days; `None` when off.
    pub rotation_period_days: Option<u64>,
    /// When the next automatic rotation is due.
    pub next_rotation: Option<Timestamp>,
    /// When a scheduled deletion happens.
    pub deletion_time: Option<Timestamp>,
    /// When imported material expires.
    pub valid_to: Option<Timestamp>,
    /// Its key policy; `None`: the default policy (its creator and the token
    /// owner may do everything).
    pub policy: Option<KeyPolicy>,
    /// Its description (`CKA_SOFTKMS_DESCRIPTION`); `None` when it has none
    /// or an empty one.
    pub description: Option<String>,
    /// Its tags (`CKA_SOFTKMS_TAGS`), by key.
    pub tags: BTreeMap<String, String>,
    /// The principal that made it (`user`, a named principal; `None` for
    /// keys made before SoftKMS recorded creators): with the token owner,
    /// the one its default policy lets do everything.
    pub creator: Option<String>,
}

impl KeyMetadata {
    /// When the key was made, as far as its versions tell (managed keys).
    pub fn creation_date(&self) -> Option<Timestamp> {
        self.versions.first().and_then(|v| v.created)
    }

    /// Whether the key's policy lets `who` do `action` (a policy action
    /// name, `docs/policy.md`: `ManageKey`, `SetPolicy`, `ReadAudit`, …)
    /// without an encryption context, as the key gate would decide it now;
    /// for showing what may be done (the gate still decides each use).
    /// Grants are not counted; an unknown action is `false`.
    pub fn allows(&self, who: &super::Principal, action: &str) -> bool {
        use crate::kms::policy;
        let Some(action) = policy::Action::from_name(action) else {
            return false;
        };
        let parsed = match &self.policy {
            Some(p) => match policy::explain(p.as_str().as_bytes()) {
                Ok(p) => Some(p),
                Err(_) => return false,
            },
            None => None,
        };
        let name = who.name();
        let creator = self.creator.as_deref().unwrap_or(crate::principal::USER);
        policy::allows(parsed.as_ref(), creator, name, action, &[]).is_ok()
    }
}

/// A key policy: a JSON document of statements (`docs/policy.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy(String);

impl KeyPolicy {
    /// Checks a policy document; the error ([`ErrorKind::InvalidInput`])
    /// says what is wrong with it.
    ///
    /// [`ErrorKind::InvalidInput`]: super::ErrorKind::InvalidInput
    pub fn parse(json: impl AsRef<[u8]>) -> Result<KeyPolicy> {
        let json = json.as_ref();
        crate::kms::policy::explain(json).map_err(Error::invalid)?;
        let text =
            std::str::from_utf8(json).map_err(|_| Error::invalid("a policy is UTF-8 text"))?;
        Ok(KeyPolicy(text.to_string()))
    }

    /// A policy as a key holds it (already checked by the module when set).
    pub(super) fn stored(bytes: &[u8]) -> KeyPolicy {
        KeyPolicy(String::from_utf8_lossy(bytes).into_owned())
    }

    /// Whether nobody could change this policy again: no statement grants
    /// `SetPolicy` without a condition. Setting such a policy needs
    /// `bypass_policy_lockout_safety_check`.
    pub fn locks_out(&self) -> bool {
        match crate::kms::policy::explain(self.0.as_bytes()) {
            Ok(p) => crate::kms::policy::check_set(&p, false).is_err(),
            Err(_) => true,
        }
    }

    /// The document's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document as JSON (its text as a JSON string, should it not be JSON).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or_else(|_| serde_json::Value::String(self.0.clone()))
    }
}

/// Options of [`Token::create_key`](super::Token::create_key); `Default` is a
/// key with no label, the spec's default usage, no automatic rotation and the
/// default policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// The key's label (how the `softkms` command names keys).
    pub label: Option<String>,
    /// What the key is for, one of [`KeySpec::usages`]. `None`: every usage
    /// of the spec (an RSA key signs and decrypts, a P-256 key signs and
    /// derives).
    pub usage: Option<KeyUsage>,
    /// Automatic rotation every this many days (90–2560; managed keys).
    pub rotation_period_days: Option<u64>,
    /// A key policy instead of the default one (on the private key, for a
    /// key pair).
    pub policy: Option<KeyPolicy>,
    /// Accept a policy that nobody could change again ([`KeyPolicy::locks_out`]).
    pub bypass_policy_lockout_safety_check: bool,
    /// A description of the key (at most 8192 bytes; AWS KMS's
    /// `Description`). On a key pair, the private key holds it.
    pub description: Option<String>,
    /// Tags (at most 50; keys of 1 to 128 characters not starting with
    /// `aws:`, values of at most 256 characters; AWS KMS's `Tags`).
    pub tags: BTreeMap<String, String>,
}

/// A data key ([`Token::generate_data_key`](super::Token::generate_data_key)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DataKey {
    /// The key under which the blob is encrypted.
    pub key_id: KeyId,
    /// The data key itself, to use and forget.
    pub plaintext: SecretBytes,
    /// The data key encrypted under the key: keep it beside the data and
    /// decrypt it when the data is needed again.
    pub ciphertext_blob: Vec<u8>,
}

/// A data key pair ([`Token::generate_data_key_pair`](super::Token::generate_data_key_pair);
/// AWS KMS's `GenerateDataKeyPair`): a fresh key pair made in the module, its
/// private key encrypted under a managed key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DataKeyPair {
    /// The managed key under which the private key is encrypted.
    pub key_id: KeyId,
    /// The pair's spec.
    pub spec: KeySpec,
    /// The public key, a DER `SubjectPublicKeyInfo` (as
    /// [`Token::get_public_key`](super::Token::get_public_key) returns).
    pub public_key: Vec<u8>,
    /// The private key, a DER PKCS#8 `PrivateKeyInfo`; `None` when asked
    /// without it (AWS KMS's `GenerateDataKeyPairWithoutPlaintext`).
    pub private_key_plaintext: Option<SecretBytes>,
    /// The private key as an envelope message under the managed key, bound
    /// to the encryption context: [`Token::decrypt`](super::Token::decrypt)
    /// of it gives the PKCS#8 DER.
    pub private_key_ciphertext_blob: Vec<u8>,
}

/// The result of a decryption ([`Token::decrypt`](super::Token::decrypt)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Decrypted {
    /// The key that decrypted it (as the message names it).
    pub key_id: KeyId,
    /// The key version that had encrypted it.
    pub key_version: u32,
    /// The plaintext.
    pub plaintext: SecretBytes,
}

/// The result of a re-encryption ([`Token::re_encrypt`](super::Token::re_encrypt)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReEncrypted {
    /// The key the ciphertext was under.
    pub source_key_id: KeyId,
    /// The key it is under now.
    pub key_id: KeyId,
    /// The new ciphertext.
    pub ciphertext_blob: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_parse_as_a_user_types_them() {
        assert_eq!(KeyRef::parse("alias/x"), KeyRef::Alias("alias/x".into()));
        assert_eq!(KeyRef::parse("payments"), KeyRef::Name("payments".into()));
        assert_eq!(KeyRef::parse("aliasx"), KeyRef::Name("aliasx".into()));
        assert_eq!(
            "alias/a/b".parse::<KeyRef>().ok(),
            Some(KeyRef::Alias("alias/a/b".into()))
        );
        assert_eq!(
            "".parse::<KeyRef>().map_err(|e| e.kind()),
            Err(super::super::ErrorKind::InvalidInput)
        );
        assert_eq!(KeyRef::parse("alias/x").to_string(), "alias/x");
    }

    #[test]
    fn specs_parse_by_either_name() {
        for s in KeySpec::all() {
            assert_eq!(s.name().parse::<KeySpec>().ok(), Some(s));
            if let Some(aws) = s.aws_name() {
                assert_eq!(aws.parse::<KeySpec>().ok(), Some(s));
            }
        }
        assert!("rsa1234".parse::<KeySpec>().is_err());
    }
}
