//! Small value types of the API: secrets, principals, time, encryption
//! contexts.

use super::error::{Error, ErrorKind, Result};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// A PIN. Wiped from memory when dropped; its `Debug` shows no digit of it.
#[derive(Clone)]
pub struct Pin(Zeroizing<Vec<u8>>);

impl Pin {
    /// A PIN from its bytes (the buffer is moved in, not copied).
    pub fn new(pin: impl Into<Vec<u8>>) -> Pin {
        Pin(Zeroizing::new(pin.into()))
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for Pin {
    fn from(s: String) -> Pin {
        Pin::new(s.into_bytes())
    }
}

impl From<&str> for Pin {
    fn from(s: &str) -> Pin {
        Pin::new(s.as_bytes().to_vec())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// Secret bytes handed out by the API (a plaintext, a data key): wiped from
/// memory when dropped; `Debug` shows the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(z: Zeroizing<Vec<u8>>) -> SecretBytes {
        SecretBytes(z)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

/// Who logs in ([`Token::login`](super::Token::login)); see `docs/policy.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The security officer: initializes the token, manages principals and
    /// the user PIN, reads the audit log. Not a key user.
    SecurityOfficer,
    /// The default user, the token's owner (`C_Login(CKU_USER)`).
    User,
    /// A named principal (`C_LoginUser(CKU_USER, pin, name)`). The name is
    /// not checked here: an unknown or malformed name fails as a wrong PIN
    /// would, so that nobody learns which names exist.
    Named(String),
}

impl Principal {
    /// The name the key policies and the audit log use: `so`, `user`, or the
    /// principal's name.
    pub fn name(&self) -> &str {
        match self {
            Principal::SecurityOfficer => "so",
            Principal::User => "user",
            Principal::Named(n) => n,
        }
    }
}

/// A valid name for a new principal: 1 to 32 bytes of ASCII letters, digits,
/// `.`, `_`, `-`, `@`, starting with a letter or a digit; not `so` or `user`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrincipalName(String);

impl PrincipalName {
    /// Checks `name`; the error ([`ErrorKind::InvalidInput`]) says what is wrong.
    pub fn new(name: &str) -> Result<PrincipalName> {
        crate::kms::principals::check_name(name).map_err(Error::invalid)?;
        Ok(PrincipalName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point in time, in whole seconds since the Unix epoch (UTC), as the key
/// lifecycle attributes keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From seconds since the Unix epoch.
    pub fn from_unix(seconds: i64) -> Timestamp {
        Timestamp(seconds)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// Now, on the module's clock.
    pub fn now() -> Timestamp {
        Timestamp(crate::clock::now_unix())
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp> {
        crate::clock::parse_rfc3339(s)
            .map(Timestamp)
            .ok_or_else(|| Error::invalid(format!("not an RFC 3339 time: {s:?}")))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn to_rfc3339(self) -> String {
        crate::clock::rfc3339(self.0)
    }

    /// A value of a time attribute: 0 means "none".
    pub(super) fn from_attr(v: Option<u64>) -> Option<Timestamp> {
        v.and_then(|v| i64::try_from(v).ok())
            .filter(|v| *v > 0)
            .map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// An encryption context: string pairs bound to a ciphertext, which must be
/// given again, the same, to decrypt it (AWS KMS's `EncryptionContext`). Key
/// policies may require pairs of it (`docs/policy.md`). It is not secret: the
/// audit log records it.
///
/// It reaches the module as a JSON object with sorted keys (`{"app":"x"}`),
/// or as nothing when it is empty, the same bytes the `softkms` command sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> EncryptionContext {
        EncryptionContext::default()
    }

    /// The context with `key` set to `value`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> EncryptionContext {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// The pairs, by key.
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Whether it has no pair.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes the module binds: a JSON object with sorted keys, or nothing.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&self.0).unwrap_or_default()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> EncryptionContext {
        EncryptionContext(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// The kind of an object on a token ([`Token::list_objects`](super::Token::list_objects)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectClass {
    /// A data object.
    Data,
    /// A certificate.
    Certificate,
    /// The public half of a key pair.
    PublicKey,
    /// The private half of a key pair.
    PrivateKey,
    /// A secret (symmetric) key.
    SecretKey,
    /// A key alias ([`Token::create_alias`](super::Token::create_alias)).
    Alias,
    /// Anything else (a principal, a vendor class).
    Other,
}

impl ObjectClass {
    /// `data`, `certificate`, `public-key`, `private-key`, `secret-key`,
    /// `alias`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            ObjectClass::Data => "data",
            ObjectClass::Certificate => "certificate",
            ObjectClass::PublicKey => "public-key",
            ObjectClass::PrivateKey => "private-key",
            ObjectClass::SecretKey => "secret-key",
            ObjectClass::Alias => "alias",
            ObjectClass::Other => "other",
        }
    }

    pub(super) fn from_class(c: Option<u64>) -> ObjectClass {
        use cryptoki_sys::*;
        match c {
            Some(CKO_DATA) => ObjectClass::Data,
            Some(CKO_CERTIFICATE) => ObjectClass::Certificate,
            Some(CKO_PUBLIC_KEY) => ObjectClass::PublicKey,
            Some(CKO_PRIVATE_KEY) => ObjectClass::PrivateKey,
            Some(CKO_SECRET_KEY) => ObjectClass::SecretKey,
            Some(crate::abi::CKO_SOFTKMS_ALIAS) => ObjectClass::Alias,
            _ => ObjectClass::Other,
        }
    }
}

/// One object a session sees ([`Token::list_objects`](super::Token::list_objects)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSummary {
    /// Its label (`CKA_LABEL`), when it has one.
    pub label: Option<String>,
    /// Its class.
    pub class: ObjectClass,
    /// Its unique id (`CKA_UNIQUE_ID`).
    pub id: String,
}

/// A token as [`Softkms::token_status`](super::Softkms::token_status) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenStatus {
    /// The slot.
    pub slot: u64,
    /// The token file, as the configuration names it.
    pub path: Option<std::path::PathBuf>,
    /// Whether the token is initialized.
    pub initialized: bool,
    /// The token's label.
    pub label: String,
    /// The token's serial number.
    pub serial: String,
    /// Whether the user PIN is set.
    pub user_pin_initialized: bool,
    /// Sessions open on it in this process.
    pub sessions: u64,
}

/// One mechanism the module offers ([`Softkms::mechanisms`](super::Softkms::mechanisms)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MechanismInfo {
    /// Its PKCS#11 name, e.g. `CKM_AES_GCM`.
    pub name: &'static str,
    /// Smallest key size (bytes or bits, as PKCS#11 counts for the mechanism).
    pub min_key_size: u64,
    /// Largest key size (0: no key).
    pub max_key_size: u64,
    /// What it does: `encrypt`, `decrypt`, `sign`, `wrap`, `derive` …, in
    /// the standard's order.
    pub functions: Vec<&'static str>,
    /// The same as PKCS#11 `CKF_*` bits (`CK_MECHANISM_INFO.flags`), for
    /// tools that print them.
    pub pkcs11_flags: u64,
}

/// Fails with [`ErrorKind::InvalidInput`] when `n` is above `max`.
pub(super) fn check_len(what: &str, n: usize, max: usize) -> Result<()> {
    if n > max {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{what}: at most {max} bytes, not {n}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug() {
        assert_eq!(format!("{:?}", Pin::from("1234")), "Pin(..)");
        assert_eq!(
            format!("{:?}", SecretBytes::new(vec![1, 2, 3])),
            "SecretBytes(3 bytes)"
        );
    }

    #[test]
    fn a_context_is_sorted_json_or_nothing() {
        assert!(EncryptionContext::new().to_bytes().is_empty());
        let c = EncryptionContext::new().with("b", "2").with("a", "1");
        assert_eq!(c.to_bytes(), br#"{"a":"1","b":"2"}"#);
    }

    #[test]
    fn times_print_and_parse() {
        let t = Timestamp::parse_rfc3339("2099-01-01T00:00:00Z").unwrap_or(Timestamp(0));
        assert_eq!(t.to_rfc3339(), "2099-01-01T00:00:00Z");
        assert!(Timestamp::parse_rfc3339("soon").is_err());
        assert_eq!(Timestamp::from_attr(Some(0)), None);
    }
}
