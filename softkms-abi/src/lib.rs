//! The values of `include/softkms.h` (the SoftKMS vendor ABI,
//! `docs/vendor-abi.md`), as a PKCS#11 client uses them: written down once for
//! `softkms-cryptoki` and for SoftKMS's test harness (`p11-testkit`). A test
//! reads the header and checks that it defines exactly these values (the
//! module's own copy, `softkms::abi`, is checked against the same header).

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE, CK_OBJECT_CLASS, CK_ULONG};

/// `CKM_VENDOR_DEFINED | 0x534B0000`: the block every SoftKMS value lives in.
pub const SOFTKMS_VENDOR_BASE: CK_ULONG = 0xD34B_0000;

/// `CK_ULONG`, one of the `SOFTKMS_KEY_STATE_*` values: whether the key may be used.
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

/// UTF-8: the `CKA_UNIQUE_ID` of the key an alias points at (alias objects;
/// writable to re-point the alias).
pub const CKA_SOFTKMS_ALIAS_TARGET: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x13;
/// UTF-8, 0..=8192 bytes: a key's description.
pub const CKA_SOFTKMS_DESCRIPTION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x14;
/// UTF-8 JSON object of strings: a key's tags (stored sorted, without spaces).
pub const CKA_SOFTKMS_TAGS: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x15;

/// The object class of a named principal (`docs/policy.md`).
pub const CKO_SOFTKMS_PRINCIPAL: CK_OBJECT_CLASS = SOFTKMS_VENDOR_BASE + 0x01;
/// The object class of a key alias: `CKA_LABEL` = `alias/NAME`, unique on the
/// token (`docs/vendor-abi.md`, "Aliases").
pub const CKO_SOFTKMS_ALIAS: CK_OBJECT_CLASS = SOFTKMS_VENDOR_BASE + 0x02;

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
/// `C_UnwrapKey`); parameter `CK_SOFTKMS_ENVELOPE_PARAMS`.
pub const CKM_SOFTKMS_ENVELOPE: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x01;
/// `C_DeriveKey` on a managed key: a data key and its envelope message;
/// parameter `CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS`.
pub const CKM_SOFTKMS_GENERATE_DATA_KEY: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x02;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every `#define` of include/softkms.h with its value: `NAME NUMUL`
    /// or `NAME (SOFTKMS_VENDOR_BASE + 0xNN)`.
    fn header() -> BTreeMap<String, CK_ULONG> {
        let text = include_str!("../../include/softkms.h");
        let number = |s: &str| {
            let s = s.trim().trim_end_matches("UL");
            match s.strip_prefix("0x") {
                Some(hex) => CK_ULONG::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        };
        let mut defs = BTreeMap::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let Some(name) = words.next() else { continue };
            let rest = words.collect::<Vec<_>>().join(" ");
            let value = rest.split("/*").next().unwrap_or("").trim();
            let v = match value
                .strip_prefix("(SOFTKMS_VENDOR_BASE +")
                .and_then(|s| s.strip_suffix(')'))
            {
                Some(offset) => number(offset).map(|o| 0xD34B_0000 + o),
                None => number(value),
            };
            if let Some(v) = v {
                defs.insert(name.to_string(), v);
            }
        }
        defs
    }

    /// Every value against the header, and every value of the header here.
    #[test]
    fn the_values_are_the_headers() {
        let ours: BTreeMap<String, CK_ULONG> = [
            ("SOFTKMS_VENDOR_BASE", SOFTKMS_VENDOR_BASE),
            ("CKA_SOFTKMS_KEY_STATE", CKA_SOFTKMS_KEY_STATE),
            ("CKA_SOFTKMS_CURRENT_VERSION", CKA_SOFTKMS_CURRENT_VERSION),
            (
                "CKA_SOFTKMS_MIN_DECRYPT_VERSION",
                CKA_SOFTKMS_MIN_DECRYPT_VERSION,
            ),
            ("CKA_SOFTKMS_ROTATION_PERIOD", CKA_SOFTKMS_ROTATION_PERIOD),
            ("CKA_SOFTKMS_NEXT_ROTATION", CKA_SOFTKMS_NEXT_ROTATION),
            ("CKA_SOFTKMS_ROTATE", CKA_SOFTKMS_ROTATE),
            ("CKA_SOFTKMS_PENDING_WINDOW", CKA_SOFTKMS_PENDING_WINDOW),
            ("CKA_SOFTKMS_DELETION_TIME", CKA_SOFTKMS_DELETION_TIME),
            ("CKA_SOFTKMS_VALID_TO", CKA_SOFTKMS_VALID_TO),
            ("CKA_SOFTKMS_ORIGIN", CKA_SOFTKMS_ORIGIN),
            ("CKA_SOFTKMS_VERSION_TIMES", CKA_SOFTKMS_VERSION_TIMES),
            ("CKA_SOFTKMS_POLICY", CKA_SOFTKMS_POLICY),
            ("CKA_SOFTKMS_IMPORT_FROM", CKA_SOFTKMS_IMPORT_FROM),
            ("CKA_SOFTKMS_CREATOR", CKA_SOFTKMS_CREATOR),
            ("CKA_SOFTKMS_POLICY_FORCE", CKA_SOFTKMS_POLICY_FORCE),
            ("CKA_SOFTKMS_PRINCIPAL_PIN", CKA_SOFTKMS_PRINCIPAL_PIN),
            ("CKA_SOFTKMS_ALIAS_TARGET", CKA_SOFTKMS_ALIAS_TARGET),
            ("CKA_SOFTKMS_DESCRIPTION", CKA_SOFTKMS_DESCRIPTION),
            ("CKA_SOFTKMS_TAGS", CKA_SOFTKMS_TAGS),
            ("CKO_SOFTKMS_PRINCIPAL", CKO_SOFTKMS_PRINCIPAL),
            ("CKO_SOFTKMS_ALIAS", CKO_SOFTKMS_ALIAS),
            ("SOFTKMS_KEY_STATE_ENABLED", SOFTKMS_KEY_STATE_ENABLED),
            ("SOFTKMS_KEY_STATE_DISABLED", SOFTKMS_KEY_STATE_DISABLED),
            (
                "SOFTKMS_KEY_STATE_PENDING_DELETION",
                SOFTKMS_KEY_STATE_PENDING_DELETION,
            ),
            (
                "SOFTKMS_KEY_STATE_PENDING_IMPORT",
                SOFTKMS_KEY_STATE_PENDING_IMPORT,
            ),
            ("SOFTKMS_ORIGIN_SOFTKMS", SOFTKMS_ORIGIN_SOFTKMS),
            ("SOFTKMS_ORIGIN_EXTERNAL", SOFTKMS_ORIGIN_EXTERNAL),
            ("CKM_SOFTKMS_ENVELOPE", CKM_SOFTKMS_ENVELOPE),
            (
                "CKM_SOFTKMS_GENERATE_DATA_KEY",
                CKM_SOFTKMS_GENERATE_DATA_KEY,
            ),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
        assert_eq!(
            ours,
            header(),
            "softkms-cryptoki's values and include/softkms.h"
        );
    }
}
