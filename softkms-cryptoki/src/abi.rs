//! The values of `include/softkms.h` (the SoftKMS vendor ABI,
//! `docs/vendor-abi.md`), as a client uses them. A test checks each one
//! against the module's own (`softkms::abi`).

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE, CK_OBJECT_CLASS, CK_ULONG};

/// `CKM_VENDOR_DEFINED | 0x534B0000`: the block every SoftKMS value lives in.
pub const SOFTKMS_VENDOR_BASE: CK_ULONG = 0xD34B_0000;

/// `CK_ULONG`, a [`KeyState`](crate::KeyState): whether the key may be used.
pub const CKA_SOFTKMS_KEY_STATE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x01;
/// `CK_ULONG`, read-only: the version new encryptions use (managed keys).
pub const CKA_SOFTKMS_CURRENT_VERSION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x02;
/// `CK_ULONG`: the oldest version that still decrypts; raise only.
pub const CKA_SOFTKMS_MIN_DECRYPT_VERSION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x03;
/// `CK_ULONG` days between automatic rotations: 0 (off) or 90..=2560.
pub const CKA_SOFTKMS_ROTATION_PERIOD: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x04;
/// `CK_ULONG`, read-only: when the next automatic rotation is due (Unix seconds, 0 = none).
pub const CKA_SOFTKMS_NEXT_ROTATION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x05;
/// `CK_BBOOL`: write `CK_TRUE` to rotate now.
pub const CKA_SOFTKMS_ROTATE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x06;
/// `CK_ULONG` days a scheduled deletion waits: 7..=30 (default 30).
pub const CKA_SOFTKMS_PENDING_WINDOW: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x07;
/// `CK_ULONG`, read-only: when a scheduled deletion happens (Unix seconds, 0 = none).
pub const CKA_SOFTKMS_DELETION_TIME: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x08;
/// `CK_ULONG`: when imported material expires (Unix seconds, 0 = never).
pub const CKA_SOFTKMS_VALID_TO: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x09;
/// `CK_ULONG`, read-only: where the material came from ([`SOFTKMS_ORIGIN_SOFTKMS`], [`SOFTKMS_ORIGIN_EXTERNAL`]).
pub const CKA_SOFTKMS_ORIGIN: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0A;
/// Read-only `CK_ULONG` pairs (version, creation time), oldest first.
pub const CKA_SOFTKMS_VERSION_TIMES: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0B;
/// UTF-8 JSON key policy (`docs/policy.md`).
pub const CKA_SOFTKMS_POLICY: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0C;
/// `CK_OBJECT_HANDLE`, write-only: re-import the same material into a PendingImport key.
pub const CKA_SOFTKMS_IMPORT_FROM: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0D;
/// UTF-8, read-only: who created the key.
pub const CKA_SOFTKMS_CREATOR: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x10;
/// `CK_BBOOL`, write-only, with [`CKA_SOFTKMS_POLICY`]: accept a policy that
/// leaves nobody able to change it.
pub const CKA_SOFTKMS_POLICY_FORCE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x11;
/// UTF-8, write-only: a principal's PIN (principal objects only).
pub const CKA_SOFTKMS_PRINCIPAL_PIN: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x12;

/// The object class of a named principal (`docs/policy.md`).
pub const CKO_SOFTKMS_PRINCIPAL: CK_OBJECT_CLASS = SOFTKMS_VENDOR_BASE + 0x01;

/// `CKA_SOFTKMS_KEY_STATE`: the key can be used.
pub const SOFTKMS_KEY_STATE_ENABLED: CK_ULONG = 1;
/// `CKA_SOFTKMS_KEY_STATE`: every use fails until it is enabled again.
pub const SOFTKMS_KEY_STATE_DISABLED: CK_ULONG = 2;
/// `CKA_SOFTKMS_KEY_STATE`: scheduled for deletion; unusable.
pub const SOFTKMS_KEY_STATE_PENDING_DELETION: CK_ULONG = 3;
/// `CKA_SOFTKMS_KEY_STATE`: imported material expired or not yet imported.
pub const SOFTKMS_KEY_STATE_PENDING_IMPORT: CK_ULONG = 4;

/// `CKA_SOFTKMS_ORIGIN`: material made by SoftKMS.
pub const SOFTKMS_ORIGIN_SOFTKMS: CK_ULONG = 1;
/// `CKA_SOFTKMS_ORIGIN`: material imported from outside.
pub const SOFTKMS_ORIGIN_EXTERNAL: CK_ULONG = 2;

/// Envelope encryption (`C_Encrypt*`, `C_Decrypt*`, `C_WrapKey`,
/// `C_UnwrapKey`); parameter [`EnvelopeParams`](crate::EnvelopeParams).
pub const CKM_SOFTKMS_ENVELOPE: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x01;
/// `C_DeriveKey` on a managed key: a data key and its envelope message;
/// parameter [`GenerateDataKeyParams`](crate::GenerateDataKeyParams).
pub const CKM_SOFTKMS_GENERATE_DATA_KEY: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x02;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value against the module's own, which its unit test checks
    /// against the header.
    #[test]
    fn the_values_are_the_modules() {
        use softkms::abi as m;
        let pairs: &[(&str, CK_ULONG, CK_ULONG)] = &[
            ("base", SOFTKMS_VENDOR_BASE, m::SOFTKMS_VENDOR_BASE),
            ("state", CKA_SOFTKMS_KEY_STATE, m::CKA_SOFTKMS_KEY_STATE),
            (
                "current",
                CKA_SOFTKMS_CURRENT_VERSION,
                m::CKA_SOFTKMS_CURRENT_VERSION,
            ),
            (
                "min decrypt",
                CKA_SOFTKMS_MIN_DECRYPT_VERSION,
                m::CKA_SOFTKMS_MIN_DECRYPT_VERSION,
            ),
            (
                "period",
                CKA_SOFTKMS_ROTATION_PERIOD,
                m::CKA_SOFTKMS_ROTATION_PERIOD,
            ),
            (
                "next",
                CKA_SOFTKMS_NEXT_ROTATION,
                m::CKA_SOFTKMS_NEXT_ROTATION,
            ),
            ("rotate", CKA_SOFTKMS_ROTATE, m::CKA_SOFTKMS_ROTATE),
            (
                "window",
                CKA_SOFTKMS_PENDING_WINDOW,
                m::CKA_SOFTKMS_PENDING_WINDOW,
            ),
            (
                "deletion",
                CKA_SOFTKMS_DELETION_TIME,
                m::CKA_SOFTKMS_DELETION_TIME,
            ),
            ("valid to", CKA_SOFTKMS_VALID_TO, m::CKA_SOFTKMS_VALID_TO),
            ("origin", CKA_SOFTKMS_ORIGIN, m::CKA_SOFTKMS_ORIGIN),
            (
                "times",
                CKA_SOFTKMS_VERSION_TIMES,
                m::CKA_SOFTKMS_VERSION_TIMES,
            ),
            ("policy", CKA_SOFTKMS_POLICY, m::CKA_SOFTKMS_POLICY),
            (
                "import",
                CKA_SOFTKMS_IMPORT_FROM,
                m::CKA_SOFTKMS_IMPORT_FROM,
            ),
            ("creator", CKA_SOFTKMS_CREATOR, m::CKA_SOFTKMS_CREATOR),
            (
                "force",
                CKA_SOFTKMS_POLICY_FORCE,
                m::CKA_SOFTKMS_POLICY_FORCE,
            ),
            (
                "pin",
                CKA_SOFTKMS_PRINCIPAL_PIN,
                m::CKA_SOFTKMS_PRINCIPAL_PIN,
            ),
            ("principal", CKO_SOFTKMS_PRINCIPAL, m::CKO_SOFTKMS_PRINCIPAL),
            (
                "enabled",
                SOFTKMS_KEY_STATE_ENABLED,
                m::SOFTKMS_KEY_STATE_ENABLED,
            ),
            (
                "disabled",
                SOFTKMS_KEY_STATE_DISABLED,
                m::SOFTKMS_KEY_STATE_DISABLED,
            ),
            (
                "pending deletion",
                SOFTKMS_KEY_STATE_PENDING_DELETION,
                m::SOFTKMS_KEY_STATE_PENDING_DELETION,
            ),
            (
                "pending import",
                SOFTKMS_KEY_STATE_PENDING_IMPORT,
                m::SOFTKMS_KEY_STATE_PENDING_IMPORT,
            ),
            ("softkms", SOFTKMS_ORIGIN_SOFTKMS, m::SOFTKMS_ORIGIN_SOFTKMS),
            (
                "external",
                SOFTKMS_ORIGIN_EXTERNAL,
                m::SOFTKMS_ORIGIN_EXTERNAL,
            ),
            ("envelope", CKM_SOFTKMS_ENVELOPE, m::CKM_SOFTKMS_ENVELOPE),
            (
                "data key",
                CKM_SOFTKMS_GENERATE_DATA_KEY,
                m::CKM_SOFTKMS_GENERATE_DATA_KEY,
            ),
        ];
        for (what, ours, module) in pairs {
            assert_eq!(ours, module, "{what}");
        }
        // 16 attributes, one class, four states, two origins, two mechanisms
        // and the base: every value of the header.
        assert_eq!(pairs.len(), 26);
    }
}
