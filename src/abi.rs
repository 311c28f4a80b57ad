//! The vendor ABI: the values and parameter structs of `include/softkms.h`
//! (see `docs/vendor-abi.md`). A test checks that the header says the same.

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_BYTE_PTR, CK_MECHANISM_TYPE, CK_ULONG};

/// `CKM_VENDOR_DEFINED | 0x534B0000`: the base of every SoftKMS value.
pub const SOFTKMS_VENDOR_BASE: CK_ULONG = 0xD34B_0000;

/// Lifecycle state of a key (`SOFTKMS_KEY_STATE_*`).
pub const CKA_SOFTKMS_KEY_STATE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x01;
/// The version new encryptions use (read-only).
pub const CKA_SOFTKMS_CURRENT_VERSION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x02;
/// The oldest version that still decrypts.
pub const CKA_SOFTKMS_MIN_DECRYPT_VERSION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x03;
/// Automatic rotation period in days (0 = off, else 90..=2560).
pub const CKA_SOFTKMS_ROTATION_PERIOD: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x04;
/// When the next automatic rotation is due (Unix seconds, 0 = none; read-only).
pub const CKA_SOFTKMS_NEXT_ROTATION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x05;
/// Write `CK_TRUE` to rotate now.
pub const CKA_SOFTKMS_ROTATE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x06;
/// Days a scheduled deletion waits (7..=30).
pub const CKA_SOFTKMS_PENDING_WINDOW: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x07;
/// When a scheduled deletion happens (Unix seconds, 0 = none; read-only).
pub const CKA_SOFTKMS_DELETION_TIME: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x08;
/// When imported material expires (Unix seconds, 0 = never).
pub const CKA_SOFTKMS_VALID_TO: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x09;
/// Where the material came from (`SOFTKMS_ORIGIN_*`; read-only).
pub const CKA_SOFTKMS_ORIGIN: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0A;
/// (version, creation time) pairs as `CK_ULONG`s (read-only).
pub const CKA_SOFTKMS_VERSION_TIMES: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0B;
/// The key policy (UTF-8 JSON).
pub const CKA_SOFTKMS_POLICY: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0C;

/// Write-only: the handle of a secret key holding the same material a
/// PendingImport key had; the material is imported again (see `docs/vendor-abi.md`).
pub const CKA_SOFTKMS_IMPORT_FROM: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0D;

/// The object class of a named principal (created, listed and removed by the SO).
pub const CKO_SOFTKMS_PRINCIPAL: CK_ULONG = SOFTKMS_VENDOR_BASE + 0x01;
/// Who created a key (read-only; the default policy gives the creator every action).
pub const CKA_SOFTKMS_CREATOR: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x10;
/// Write-only, with `CKA_SOFTKMS_POLICY`: accept a policy that leaves nobody able to change it.
pub const CKA_SOFTKMS_POLICY_FORCE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x11;
/// Write-only: a principal's PIN (principal objects only; never stored in the object).
pub const CKA_SOFTKMS_PRINCIPAL_PIN: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x12;
/// UTF-8: the `CKA_UNIQUE_ID` of the key an alias points at (alias objects
/// only; required at creation, modifiable to re-point the alias).
pub const CKA_SOFTKMS_ALIAS_TARGET: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x13;
/// The object class of a key alias (`CKA_LABEL` = `alias/NAME`, unique on the
/// token; see `docs/vendor-abi.md`, "Aliases").
pub const CKO_SOFTKMS_ALIAS: CK_ULONG = SOFTKMS_VENDOR_BASE + 0x02;
/// A key's description (UTF-8, 0..=8192 bytes; needs `ManageKey` to change).
pub const CKA_SOFTKMS_DESCRIPTION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x14;
/// A key's tags: a UTF-8 JSON object of strings, stored in canonical form
/// (sorted keys, no spaces; at most 50 tags; needs `ManageKey` to change).
pub const CKA_SOFTKMS_TAGS: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x15;

/// Internal, never readable: every version of a managed key (see
/// `kms::versions`). Not part of the header.
pub const CKA_SOFTKMS_VERSIONS: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x80;
/// Internal, never readable: SHA-256 of imported material, so that only the
/// same material can be imported again. Not part of the header.
pub const CKA_SOFTKMS_MATERIAL_DIGEST: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x81;

/// The key can be used.
pub const SOFTKMS_KEY_STATE_ENABLED: CK_ULONG = 1;
/// Every use fails until it is enabled again.
pub const SOFTKMS_KEY_STATE_DISABLED: CK_ULONG = 2;
/// Scheduled for deletion; unusable; can be cancelled (back to Disabled).
pub const SOFTKMS_KEY_STATE_PENDING_DELETION: CK_ULONG = 3;
/// Imported material expired or not yet imported.
pub const SOFTKMS_KEY_STATE_PENDING_IMPORT: CK_ULONG = 4;

/// Material made by SoftKMS.
pub const SOFTKMS_ORIGIN_SOFTKMS: CK_ULONG = 1;
/// Material imported from outside.
pub const SOFTKMS_ORIGIN_EXTERNAL: CK_ULONG = 2;

/// Envelope encryption, wrapping and unwrapping of data keys.
pub const CKM_SOFTKMS_ENVELOPE: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x01;
/// `C_DeriveKey` on a managed key: a data key and its envelope-wrapped form.
pub const CKM_SOFTKMS_GENERATE_DATA_KEY: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x02;

/// `CK_SOFTKMS_ENVELOPE_PARAMS`.
#[allow(non_camel_case_types, non_snake_case)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CK_SOFTKMS_ENVELOPE_PARAMS {
    /// The encryption context (may be null).
    pub pContext: CK_BYTE_PTR,
    /// Its length.
    pub ulContextLen: CK_ULONG,
}

/// `CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS`.
#[allow(non_camel_case_types, non_snake_case)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS {
    /// The encryption context (may be null).
    pub pContext: CK_BYTE_PTR,
    /// Its length.
    pub ulContextLen: CK_ULONG,
    /// Out: the wrapped data key (null to ask for the length).
    pub pWrappedKey: CK_BYTE_PTR,
    /// In: the size of `pWrappedKey`; out: the length of the wrapped key.
    pub ulWrappedKeyLen: CK_ULONG,
}

/// Whether an attribute type is one of SoftKMS's own (`CKA_SOFTKMS_*`).
pub fn is_vendor(ty: CK_ATTRIBUTE_TYPE) -> bool {
    ty & !0xFFFF == SOFTKMS_VENDOR_BASE
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Reads `#define NAME (SOFTKMS_VENDOR_BASE + 0xNN)` / `NAME NNUL` lines.
    fn header_values() -> HashMap<String, u64> {
        let text = include_str!("../include/softkms.h");
        let mut out = HashMap::new();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            if w.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(rest)) = (w.next(), w.next()) else {
                continue;
            };
            let value = if rest == "(SOFTKMS_VENDOR_BASE" {
                let off = w
                    .nth(1)
                    .and_then(|s| s.strip_prefix("0x"))
                    .and_then(|s| s.strip_suffix(')'));
                off.and_then(|o| u64::from_str_radix(o, 16).ok())
                    .map(|o| 0xD34B_0000 + o)
            } else if let Some(h) = rest.strip_prefix("0x") {
                u64::from_str_radix(h.trim_end_matches("UL"), 16).ok()
            } else {
                rest.trim_end_matches("UL").parse().ok()
            };
            if let Some(v) = value {
                out.insert(name.to_string(), v);
            }
        }
        out
    }

    #[test]
    fn header_and_rust_agree() {
        let h = header_values();
        let ours: &[(&str, CK_ULONG)] = &[
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
            ("CKO_SOFTKMS_PRINCIPAL", CKO_SOFTKMS_PRINCIPAL),
            ("CKA_SOFTKMS_CREATOR", CKA_SOFTKMS_CREATOR),
            ("CKA_SOFTKMS_POLICY_FORCE", CKA_SOFTKMS_POLICY_FORCE),
            ("CKA_SOFTKMS_PRINCIPAL_PIN", CKA_SOFTKMS_PRINCIPAL_PIN),
            ("CKA_SOFTKMS_ALIAS_TARGET", CKA_SOFTKMS_ALIAS_TARGET),
            ("CKO_SOFTKMS_ALIAS", CKO_SOFTKMS_ALIAS),
            ("CKA_SOFTKMS_DESCRIPTION", CKA_SOFTKMS_DESCRIPTION),
            ("CKA_SOFTKMS_TAGS", CKA_SOFTKMS_TAGS),
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
        ];
        for (name, value) in ours {
            assert_eq!(h.get(*name), Some(value), "{name}");
        }
        assert_eq!(
            h.len(),
            ours.len(),
            "the header defines values Rust does not know"
        );
    }

    #[test]
    fn struct_layouts_match_the_c_abi() {
        use std::mem::{offset_of, size_of};
        let p = size_of::<*mut u8>();
        let u = size_of::<CK_ULONG>();
        assert_eq!(size_of::<CK_SOFTKMS_ENVELOPE_PARAMS>(), p + u);
        assert_eq!(offset_of!(CK_SOFTKMS_ENVELOPE_PARAMS, ulContextLen), p);
        assert_eq!(
            size_of::<CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS>(),
            2 * (p + u)
        );
        assert_eq!(
            offset_of!(CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS, ulContextLen),
            p
        );
        assert_eq!(
            offset_of!(CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS, pWrappedKey),
            p + u
        );
        assert_eq!(
            offset_of!(CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS, ulWrappedKeyLen),
            2 * p + u
        );
    }
}
