//! Errors in words: the rules the API checks before it asks the module, so
//! that a refusal says which rule was broken and how to fix it ("the rotation
//! period must be 0 (off) or 90 to 2560 days"), and the `log::debug!` line of
//! every failed call (what was asked and why it failed; never a secret).

use super::error::{Error, ErrorKind, Result};
use super::keys::{KeyMetadata, KeySpec};
use super::session::Token;
use super::types::Pin;
use crate::kms::{lifecycle, meta};
use cryptoki_sys::*;
use std::collections::BTreeMap;

/// Logs a failed call at `debug` (`SOFTKMS_LOG=debug`): what was asked, the
/// error's kind and code, and its message.
pub(super) fn failed(what: &str, e: &Error) {
    log::debug!(
        "api: {what} failed: {:?} ({}): {}",
        e.kind(),
        e.code_name(),
        e.message()
    );
}

/// How a message names a key: `"label"`, or its id when it has no label.
pub(super) fn key_name(meta: &KeyMetadata) -> String {
    match &meta.label {
        Some(l) if !l.is_empty() => format!("{l:?}"),
        _ => meta.id.to_string(),
    }
}

/// A spec's name as people write it: `P-256`, `RSA 2048`, `AES-256`,
/// `HMAC-256`, `Ed25519`, `ML-DSA-65`.
fn spec_words(spec_name: &str) -> String {
    let num = |p: &str| spec_name.strip_prefix(p).map(str::to_string);
    if let Some(n) = num("aes") {
        return format!("AES-{n}");
    }
    if let Some(n) = num("hmac") {
        return format!("HMAC-{n}");
    }
    if let Some(n) = num("rsa") {
        return format!("RSA {n}");
    }
    if let Some(n) = num("ml-dsa-") {
        return format!("ML-DSA-{n}");
    }
    match spec_name {
        "p256" => "P-256".into(),
        "p384" => "P-384".into(),
        "p521" => "P-521".into(),
        "ed25519" => "Ed25519".into(),
        other => other.into(),
    }
}

/// `key "x" is a P-256 key (SIGN_VERIFY)`.
pub(super) fn key_is(meta: &KeyMetadata) -> String {
    let usages: Vec<&str> = meta.usages.iter().map(|u| u.aws_name()).collect();
    let usages = if usages.is_empty() {
        "no usage".to_string()
    } else {
        usages.join(", ")
    };
    let what = spec_words(&meta.spec_name);
    // "an AES", "an HMAC", "an RSA", "an Ed25519", "an ML-DSA"; "a P-256".
    let article = if what.starts_with(['A', 'E', 'H', 'R', 'M']) {
        "an"
    } else {
        "a"
    };
    format!("key {} is {article} {what} key ({usages})", key_name(meta))
}

/// What an operation needs of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// Envelope encryption, decryption and data keys: a symmetric key.
    Encryption,
    /// Signing and verifying: a key pair that signs.
    Signing,
    /// MACs: an HMAC key.
    Mac,
}

impl Token {
    /// Refuses, in words, a key whose type cannot do what `need` asks
    /// (checked before the module is asked, which would only say
    /// `CKR_KEY_TYPE_INCONSISTENT`). The caller holds `take`.
    pub(super) fn expect_key(&self, k: CK_OBJECT_HANDLE, need: Need) -> Result<()> {
        let class = self.ulong(k, CKA_CLASS);
        let key_type = self.ulong(k, CKA_KEY_TYPE);
        let fits = match need {
            Need::Encryption => class == Some(CKO_SECRET_KEY) && key_type == Some(CKK_AES),
            Need::Signing => {
                matches!(class, Some(CKO_PRIVATE_KEY | CKO_PUBLIC_KEY))
                    && matches!(
                        key_type,
                        Some(CKK_RSA | CKK_EC | CKK_EC_EDWARDS | CKK_ML_DSA)
                    )
            }
            Need::Mac => {
                class == Some(CKO_SECRET_KEY) && !matches!(key_type, Some(CKK_AES | CKK_DES3))
            }
        };
        let meta = if fits {
            // A private key that may not sign: say so before the module
            // refuses it as a use it does not permit.
            let signs = self
                .attrs(k, &[CKA_SIGN])
                .pop()
                .flatten()
                .is_some_and(|v| v.first() == Some(&CK_TRUE));
            if need != Need::Signing || class != Some(CKO_PRIVATE_KEY) || signs {
                return Ok(());
            }
            let meta = self.describe(k);
            return Err(Error::new(
                ErrorKind::InvalidKeyUsage,
                format!(
                    "{}: signing needs a key made with the usage SIGN_VERIFY",
                    key_is(&meta)
                ),
            )
            .with_code("CKR_KEY_FUNCTION_NOT_PERMITTED"));
        } else {
            self.describe(k)
        };
        let (doing, wanted) = match need {
            Need::Encryption => ("encryption", "a symmetric key (aes256)"),
            Need::Signing => (
                "signing",
                "a signing key pair (rsa2048, p256, ed25519, ml-dsa-65 …)",
            ),
            Need::Mac => ("a MAC", "an HMAC key (hmac224, hmac256, hmac384, hmac512)"),
        };
        Err(Error::new(
            ErrorKind::InvalidKeyUsage,
            format!("{}: {doing} needs {wanted}", key_is(&meta)),
        )
        .with_code("CKR_KEY_TYPE_INCONSISTENT"))
    }

    /// Checks a PIN's length against the token's limits (`C_GetTokenInfo`'s
    /// `ulMinPinLen`, `ulMaxPinLen`).
    pub(super) fn check_pin(&self, pin: &Pin) -> Result<()> {
        check_pin_len(self.m(), self.slot(), pin)
    }
}

/// Checks a PIN's length against the limits of the token in `slot`.
pub(super) fn check_pin_len(m: &crate::module::Module, slot: u64, pin: &Pin) -> Result<()> {
    let Ok(info) = m.token_info(slot) else {
        return Ok(()); // the module will say what is wrong
    };
    let (min, max) = (info.min_pin_len, info.max_pin_len);
    let n = u64::try_from(pin.bytes().len()).unwrap_or(u64::MAX);
    if n < min || n > max {
        let e = Error::new(
            ErrorKind::InvalidInput,
            format!("the PIN must be {min} to {max} characters long (bytes of UTF-8)"),
        )
        .with_code("CKR_PIN_LEN_RANGE");
        failed("check a PIN", &e);
        return Err(e);
    }
    Ok(())
}

/// An `InvalidInput` error whose message states the rule, logged.
fn rule(message: String, code: &'static str) -> Error {
    let e = Error::new(ErrorKind::InvalidInput, message).with_code(code);
    failed("check the arguments", &e);
    e
}

/// A rotation period: 0 (off) or 90 to 2560 days.
pub(super) fn check_rotation_days(days: u64) -> Result<()> {
    if days == 0 || lifecycle::ROTATION_DAYS.contains(&days) {
        return Ok(());
    }
    Err(rule(
        format!(
            "the rotation period must be 0 (off) or {} to {} days, not {days}",
            lifecycle::ROTATION_DAYS.start(),
            lifecycle::ROTATION_DAYS.end()
        ),
        "CKR_ATTRIBUTE_VALUE_INVALID",
    ))
}

/// A deletion window: 7 to 30 days.
pub(super) fn check_deletion_window(days: u64) -> Result<()> {
    if lifecycle::PENDING_WINDOW_DAYS.contains(&days) {
        return Ok(());
    }
    Err(rule(
        format!(
            "the deletion window must be {} to {} days, not {days}",
            lifecycle::PENDING_WINDOW_DAYS.start(),
            lifecycle::PENDING_WINDOW_DAYS.end()
        ),
        "CKR_ATTRIBUTE_VALUE_INVALID",
    ))
}

/// A data key's length: 1 to 1024 bytes.
pub(super) fn check_data_key_len(bytes: usize) -> Result<()> {
    let max = super::envelope::MAX_DATA_KEY_BYTES;
    if (1..=max).contains(&bytes) {
        return Ok(());
    }
    Err(rule(
        format!("a data key is 1 to {max} bytes, not {bytes}"),
        "CKR_ATTRIBUTE_VALUE_INVALID",
    ))
}

/// A description: at most 8192 bytes.
pub(super) fn check_description(d: &str) -> Result<()> {
    if d.len() <= meta::MAX_DESCRIPTION {
        return Ok(());
    }
    Err(rule(
        format!(
            "a description has at most {} bytes, not {}",
            meta::MAX_DESCRIPTION,
            d.len()
        ),
        "CKR_ATTRIBUTE_VALUE_INVALID",
    ))
}

/// A set of tags, by the rules of `kms::meta`.
pub(super) fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    meta::check_tag_set(tags).map_err(|why| rule(why, "CKR_ATTRIBUTE_VALUE_INVALID"))
}

/// Refuses a policy that would leave nobody able to change it, unless the
/// caller says so (`bypass_policy_lockout_safety_check`).
pub(super) fn check_lockout(policy: &super::keys::KeyPolicy) -> Result<()> {
    if !policy.locks_out() {
        return Ok(());
    }
    Err(rule(
        "this policy would leave nobody able to change it again: add a statement that allows \
         SetPolicy without a condition, or bypass the lock-out safety check"
            .into(),
        "CKR_ATTRIBUTE_VALUE_INVALID",
    ))
}

/// The spec names a data key pair may have, for messages.
pub(super) fn pair_spec_names(specs: &[KeySpec]) -> String {
    specs
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
