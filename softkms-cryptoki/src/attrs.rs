//! Typed builders for the `CKA_SOFTKMS_*` attributes, for templates and
//! `Session::update_attributes` (`docs/vendor-abi.md`, "Attributes").
//!
//! ```
//! use cryptoki::object::Attribute;
//! use softkms_cryptoki::{attrs, KeyState};
//! // A managed key made disabled, rotating yearly, with a 7-day pending window.
//! let extra: Vec<Attribute> = vec![
//!     attrs::key_state(KeyState::Disabled),
//!     attrs::rotation_period(365),
//!     attrs::pending_window(7),
//! ];
//! # assert_eq!(extra.len(), 3);
//! ```

use crate::abi::*;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_ULONG};

/// A vendor attribute with raw bytes.
pub fn bytes(ty: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Attribute {
    Attribute::VendorDefined((AttributeType::VendorDefined(ty), value.to_vec()))
}

/// A `CK_ULONG` vendor attribute.
pub fn ulong(ty: CK_ATTRIBUTE_TYPE, value: CK_ULONG) -> Attribute {
    bytes(ty, &value.to_ne_bytes())
}

/// A `CK_BBOOL` vendor attribute.
pub fn bool(ty: CK_ATTRIBUTE_TYPE, value: bool) -> Attribute {
    bytes(ty, &[u8::from(value)])
}

/// A key's lifecycle state (`CKA_SOFTKMS_KEY_STATE`, `docs/vendor-abi.md`,
/// "Key states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// The key can be used.
    Enabled,
    /// Every use fails (`CKR_KEY_FUNCTION_NOT_PERMITTED`) until it is enabled again.
    Disabled,
    /// Scheduled for deletion at `CKA_SOFTKMS_DELETION_TIME`; unusable;
    /// cancelling returns it to Disabled.
    PendingDeletion,
    /// Imported material expired (or was never imported); set by the module only.
    PendingImport,
}

impl KeyState {
    /// The `SOFTKMS_KEY_STATE_*` value.
    pub fn value(self) -> CK_ULONG {
        match self {
            KeyState::Enabled => SOFTKMS_KEY_STATE_ENABLED,
            KeyState::Disabled => SOFTKMS_KEY_STATE_DISABLED,
            KeyState::PendingDeletion => SOFTKMS_KEY_STATE_PENDING_DELETION,
            KeyState::PendingImport => SOFTKMS_KEY_STATE_PENDING_IMPORT,
        }
    }

    /// The state of a `SOFTKMS_KEY_STATE_*` value.
    pub fn from_value(v: CK_ULONG) -> Option<KeyState> {
        [
            KeyState::Enabled,
            KeyState::Disabled,
            KeyState::PendingDeletion,
            KeyState::PendingImport,
        ]
        .into_iter()
        .find(|s| s.value() == v)
    }
}

/// `CKA_SOFTKMS_KEY_STATE`: at creation Enabled (the default) or Disabled;
/// later the transitions of `docs/vendor-abi.md`.
pub fn key_state(state: KeyState) -> Attribute {
    ulong(CKA_SOFTKMS_KEY_STATE, state.value())
}

/// `CKA_SOFTKMS_ROTATION_PERIOD`: days between automatic rotations, 0 (off)
/// or 90..=2560 (managed keys with SoftKMS-made material).
pub fn rotation_period(days: u32) -> Attribute {
    ulong(CKA_SOFTKMS_ROTATION_PERIOD, CK_ULONG::from(days))
}

/// `CKA_SOFTKMS_ROTATE = CK_TRUE`: rotate the (Enabled, managed) key now.
pub fn rotate() -> Attribute {
    bool(CKA_SOFTKMS_ROTATE, true)
}

/// `CKA_SOFTKMS_PENDING_WINDOW`: days a scheduled deletion waits, 7..=30.
pub fn pending_window(days: u32) -> Attribute {
    ulong(CKA_SOFTKMS_PENDING_WINDOW, CK_ULONG::from(days))
}

/// `CKA_SOFTKMS_MIN_DECRYPT_VERSION`: raise it to retire (destroy) the older
/// versions for good.
pub fn min_decrypt_version(version: u32) -> Attribute {
    ulong(CKA_SOFTKMS_MIN_DECRYPT_VERSION, CK_ULONG::from(version))
}

/// `CKA_SOFTKMS_VALID_TO`: when imported material expires (Unix seconds, 0 = never).
pub fn valid_to(unix_seconds: CK_ULONG) -> Attribute {
    ulong(CKA_SOFTKMS_VALID_TO, unix_seconds)
}

/// `CKA_SOFTKMS_POLICY`: a JSON key policy (`docs/policy.md`).
pub fn policy(json: &str) -> Attribute {
    bytes(CKA_SOFTKMS_POLICY, json.as_bytes())
}

/// `CKA_SOFTKMS_POLICY_FORCE = CK_TRUE`, beside [`policy`]: accept a policy
/// that leaves nobody able to change it.
pub fn policy_force() -> Attribute {
    bool(CKA_SOFTKMS_POLICY_FORCE, true)
}

/// `CKA_SOFTKMS_IMPORT_FROM`: re-import the material of `source` (a secret key
/// holding the same material) into a PendingImport key.
pub fn import_from(source: ObjectHandle) -> Attribute {
    ulong(CKA_SOFTKMS_IMPORT_FROM, source.handle())
}

/// `CKA_SOFTKMS_PRINCIPAL_PIN`: a principal's PIN (write-only).
pub fn principal_pin(pin: &str) -> Attribute {
    bytes(CKA_SOFTKMS_PRINCIPAL_PIN, pin.as_bytes())
}

/// `CKA_CLASS = CKO_SOFTKMS_PRINCIPAL` (`cryptoki`'s `ObjectClass` has no
/// vendor classes, so the class goes as raw bytes).
pub fn principal_class() -> Attribute {
    ulong(cryptoki_sys::CKA_CLASS, CKO_SOFTKMS_PRINCIPAL)
}

/// `CKA_SOFTKMS_DESCRIPTION`: a key's description (up to 8192 bytes).
pub fn description(text: &str) -> Attribute {
    bytes(CKA_SOFTKMS_DESCRIPTION, text.as_bytes())
}

/// `CKA_SOFTKMS_TAGS`: a key's tags, as the JSON object the module takes
/// (at most 50; keys 1..=128 characters, values up to 256, no `aws:` prefix).
pub fn tags(tags: &std::collections::BTreeMap<String, String>) -> Attribute {
    // A map of strings always serializes.
    bytes(
        CKA_SOFTKMS_TAGS,
        &serde_json::to_vec(tags).unwrap_or_default(),
    )
}

/// The template of a key alias: `CKO_SOFTKMS_ALIAS` named `alias/NAME`,
/// pointing at the key whose `CKA_UNIQUE_ID` is `target`, a private token
/// object. `C_CreateObject` makes it; a write of
/// `CKA_SOFTKMS_ALIAS_TARGET` ([`alias_target`]) re-points it.
pub fn alias_template(name: &str, target: &str) -> Vec<Attribute> {
    vec![
        ulong(cryptoki_sys::CKA_CLASS, CKO_SOFTKMS_ALIAS),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(name.as_bytes().to_vec()),
        alias_target(target),
    ]
}

/// `CKA_SOFTKMS_ALIAS_TARGET`: the key (its `CKA_UNIQUE_ID`) an alias names.
pub fn alias_target(target: &str) -> Attribute {
    bytes(CKA_SOFTKMS_ALIAS_TARGET, target.as_bytes())
}

/// The attribute types [`KeyInfo`](crate::KeyInfo) reads.
pub(crate) fn vendor_type(ty: CK_ATTRIBUTE_TYPE) -> AttributeType {
    AttributeType::VendorDefined(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for v in 1..=4 {
            assert_eq!(KeyState::from_value(v).map(KeyState::value), Some(v));
        }
        assert_eq!(KeyState::from_value(0), None);
        assert_eq!(KeyState::from_value(5), None);
    }

    #[test]
    fn values_are_native_ulongs_and_bbools() {
        let a = rotation_period(90);
        assert_eq!(
            a.attribute_type(),
            AttributeType::VendorDefined(CKA_SOFTKMS_ROTATION_PERIOD)
        );
        let raw: cryptoki_sys::CK_ATTRIBUTE = (&a).into();
        assert_eq!(raw.type_, CKA_SOFTKMS_ROTATION_PERIOD);
        assert_eq!(
            usize::try_from(raw.ulValueLen).ok(),
            Some(std::mem::size_of::<CK_ULONG>())
        );
        let r: cryptoki_sys::CK_ATTRIBUTE = (&rotate()).into();
        assert_eq!(r.ulValueLen, 1);
        let c: cryptoki_sys::CK_ATTRIBUTE = (&principal_class()).into();
        assert_eq!(c.type_, cryptoki_sys::CKA_CLASS);
    }
}
