//! The SoftKMS vendor extensions as a client sees them: the values and
//! parameter structs of `include/softkms.h` (docs/vendor-abi.md explains each
//! one), written down once for every test, the conformance runner, the fuzz
//! targets and the benchmarks.
//!
//! These are a *client's* copy on purpose: the black-box tests check the module
//! against the header, not against the module's own constants (the module's
//! `kms::abi` is checked against the header by its own test).

use crate::sys::{CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE, CK_OBJECT_CLASS, CK_ULONG};

/// `SOFTKMS_VENDOR_BASE`: `CKM_VENDOR_DEFINED | 0x534B0000`, the one block every
/// SoftKMS `CKA_`, `CKM_`, `CKK_`, `CKO_` and `CKR_` value lives in.
pub const SOFTKMS_VENDOR_BASE: CK_ULONG = 0xD34B_0000;

// ---------------------------------------------------------------- attributes

/// `CK_ULONG`, one of the `SOFTKMS_KEY_STATE_*` values.
pub const CKA_SOFTKMS_KEY_STATE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x01;
/// Read-only: the version new encryptions use.
pub const CKA_SOFTKMS_CURRENT_VERSION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x02;
/// The oldest version that may still decrypt.
pub const CKA_SOFTKMS_MIN_DECRYPT_VERSION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x03;
/// Days between automatic rotations: 0 or 90..2560.
pub const CKA_SOFTKMS_ROTATION_PERIOD: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x04;
/// Read-only, Unix seconds, 0 = none.
pub const CKA_SOFTKMS_NEXT_ROTATION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x05;
/// `CK_BBOOL`: write `CK_TRUE` to rotate now.
pub const CKA_SOFTKMS_ROTATE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x06;
/// Days before a scheduled deletion happens: 7..30.
pub const CKA_SOFTKMS_PENDING_WINDOW: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x07;
/// Read-only, Unix seconds, 0 = none.
pub const CKA_SOFTKMS_DELETION_TIME: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x08;
/// Unix seconds, 0 = no expiry (imported material).
pub const CKA_SOFTKMS_VALID_TO: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x09;
/// Read-only, one of the `SOFTKMS_ORIGIN_*` values.
pub const CKA_SOFTKMS_ORIGIN: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0A;
/// Read-only, `CK_ULONG` pairs (version, creation time).
pub const CKA_SOFTKMS_VERSION_TIMES: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0B;
/// UTF-8 JSON key policy (docs/policy.md).
pub const CKA_SOFTKMS_POLICY: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0C;
/// `CK_OBJECT_HANDLE`: write to re-import the same material.
pub const CKA_SOFTKMS_IMPORT_FROM: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x0D;
/// UTF-8, read-only: who created the key.
pub const CKA_SOFTKMS_CREATOR: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x10;
/// `CK_BBOOL`, write-only with `CKA_SOFTKMS_POLICY`: accept a policy that
/// leaves nobody able to change it.
pub const CKA_SOFTKMS_POLICY_FORCE: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x11;
/// UTF-8, write-only: a principal's PIN (principal objects only).
pub const CKA_SOFTKMS_PRINCIPAL_PIN: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x12;
/// UTF-8: the `CKA_UNIQUE_ID` of the key an alias points at (alias objects only).
pub const CKA_SOFTKMS_ALIAS_TARGET: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x13;
/// UTF-8, 0..=8192 bytes: a key's description.
pub const CKA_SOFTKMS_DESCRIPTION: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x14;
/// UTF-8 JSON object of strings: a key's tags (stored sorted, without spaces).
pub const CKA_SOFTKMS_TAGS: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x15;

/// Internal, never readable, not in the header: every version of a managed
/// key. A client may still name it (the fuzz targets do).
pub const CKA_SOFTKMS_VERSIONS: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x80;
/// Internal, never readable, not in the header: SHA-256 of imported material.
pub const CKA_SOFTKMS_MATERIAL_DIGEST: CK_ATTRIBUTE_TYPE = SOFTKMS_VENDOR_BASE + 0x81;

/// Every `CKA_SOFTKMS_*` value, the header's and the internal ones.
pub const CKA_SOFTKMS_ALL: [CK_ATTRIBUTE_TYPE; 21] = [
    CKA_SOFTKMS_KEY_STATE,
    CKA_SOFTKMS_CURRENT_VERSION,
    CKA_SOFTKMS_MIN_DECRYPT_VERSION,
    CKA_SOFTKMS_ROTATION_PERIOD,
    CKA_SOFTKMS_NEXT_ROTATION,
    CKA_SOFTKMS_ROTATE,
    CKA_SOFTKMS_PENDING_WINDOW,
    CKA_SOFTKMS_DELETION_TIME,
    CKA_SOFTKMS_VALID_TO,
    CKA_SOFTKMS_ORIGIN,
    CKA_SOFTKMS_VERSION_TIMES,
    CKA_SOFTKMS_POLICY,
    CKA_SOFTKMS_IMPORT_FROM,
    CKA_SOFTKMS_CREATOR,
    CKA_SOFTKMS_POLICY_FORCE,
    CKA_SOFTKMS_PRINCIPAL_PIN,
    CKA_SOFTKMS_ALIAS_TARGET,
    CKA_SOFTKMS_DESCRIPTION,
    CKA_SOFTKMS_TAGS,
    CKA_SOFTKMS_VERSIONS,
    CKA_SOFTKMS_MATERIAL_DIGEST,
];

// ---------------------------------------------------------------- object classes

/// A named principal (docs/policy.md).
pub const CKO_SOFTKMS_PRINCIPAL: CK_OBJECT_CLASS = SOFTKMS_VENDOR_BASE + 0x01;
/// A key alias: `CKA_LABEL` "alias/NAME", unique on the token (docs/vendor-abi.md).
pub const CKO_SOFTKMS_ALIAS: CK_OBJECT_CLASS = SOFTKMS_VENDOR_BASE + 0x02;

// ---------------------------------------------------------------- values

/// `CKA_SOFTKMS_KEY_STATE`: the key can be used.
pub const SOFTKMS_KEY_STATE_ENABLED: CK_ULONG = 1;
/// `CKA_SOFTKMS_KEY_STATE`: every use fails until it is enabled again.
pub const SOFTKMS_KEY_STATE_DISABLED: CK_ULONG = 2;
/// `CKA_SOFTKMS_KEY_STATE`: scheduled for deletion.
pub const SOFTKMS_KEY_STATE_PENDING_DELETION: CK_ULONG = 3;
/// `CKA_SOFTKMS_KEY_STATE`: made without material, waiting for an import.
pub const SOFTKMS_KEY_STATE_PENDING_IMPORT: CK_ULONG = 4;
/// `CKA_SOFTKMS_ORIGIN`: material made by SoftKMS.
pub const SOFTKMS_ORIGIN_SOFTKMS: CK_ULONG = 1;
/// `CKA_SOFTKMS_ORIGIN`: imported material.
pub const SOFTKMS_ORIGIN_EXTERNAL: CK_ULONG = 2;

// ---------------------------------------------------------------- mechanisms

/// Envelope encryption with a managed key (docs/envelope-format.md);
/// parameter [`EnvelopeParams`].
pub const CKM_SOFTKMS_ENVELOPE: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x01;
/// `C_DeriveKey`: a data key and its wrapped form; parameter [`GdkParams`].
pub const CKM_SOFTKMS_GENERATE_DATA_KEY: CK_MECHANISM_TYPE = SOFTKMS_VENDOR_BASE + 0x02;

// ---------------------------------------------------------------- parameter structs

/// `CK_SOFTKMS_ENVELOPE_PARAMS`: the encryption context (authenticated, not
/// stored); may be null.
#[repr(C)]
#[derive(Debug)]
pub struct EnvelopeParams {
    /// `pContext`.
    pub p_context: *const u8,
    /// `ulContextLen`.
    pub ul_context_len: CK_ULONG,
}

impl EnvelopeParams {
    /// The parameter for `context`, which must outlive every use of it.
    pub fn new(context: &[u8]) -> EnvelopeParams {
        EnvelopeParams {
            p_context: context.as_ptr(),
            ul_context_len: crate::ulen(context.len()),
        }
    }
}

/// `CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS`: the context and the buffer that
/// receives the wrapped data key (an envelope message).
#[repr(C)]
#[derive(Debug)]
pub struct GdkParams {
    /// `pContext`; may be null.
    pub p_context: *const u8,
    /// `ulContextLen`.
    pub ul_context_len: CK_ULONG,
    /// `pWrappedKey`: out; null to ask for the length.
    pub p_wrapped: *mut u8,
    /// `ulWrappedKeyLen`: in, the size of `p_wrapped`; out, the message's length.
    pub ul_wrapped_len: CK_ULONG,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every `#define` of include/softkms.h with its value.
    fn header() -> BTreeMap<String, CK_ULONG> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/softkms.h");
        let text = std::fs::read_to_string(path).expect("include/softkms.h");
        let mut defs = BTreeMap::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), rest) = (words.next(), words.collect::<Vec<_>>().join(" ")) else {
                continue;
            };
            let value = rest.split("/*").next().unwrap_or("").trim();
            let number = |s: &str| {
                let s = s.trim().trim_end_matches("UL");
                match s.strip_prefix("0x") {
                    Some(hex) => CK_ULONG::from_str_radix(hex, 16).ok(),
                    None => s.parse().ok(),
                }
            };
            let v = if let Some(off) = value
                .strip_prefix("(SOFTKMS_VENDOR_BASE +")
                .and_then(|s| s.strip_suffix(')'))
            {
                number(off).map(|o| defs["SOFTKMS_VENDOR_BASE"] + o)
            } else {
                number(value)
            };
            if let Some(v) = v {
                defs.insert(name.to_string(), v);
            }
        }
        defs
    }

    /// The kit's copy of every value the header defines, by the header's name.
    #[test]
    fn the_constants_match_include_softkms_h() {
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
            ("CKA_SOFTKMS_CREATOR", CKA_SOFTKMS_CREATOR),
            ("CKA_SOFTKMS_POLICY_FORCE", CKA_SOFTKMS_POLICY_FORCE),
            ("CKA_SOFTKMS_PRINCIPAL_PIN", CKA_SOFTKMS_PRINCIPAL_PIN),
            ("CKA_SOFTKMS_DESCRIPTION", CKA_SOFTKMS_DESCRIPTION),
            ("CKA_SOFTKMS_TAGS", CKA_SOFTKMS_TAGS),
            ("CKO_SOFTKMS_PRINCIPAL", CKO_SOFTKMS_PRINCIPAL),
            ("CKA_SOFTKMS_ALIAS_TARGET", CKA_SOFTKMS_ALIAS_TARGET),
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
        ];
        let header = header();
        let ours: BTreeMap<String, CK_ULONG> =
            ours.iter().map(|(n, v)| ((*n).to_string(), *v)).collect();
        assert_eq!(
            ours, header,
            "p11-testkit's vendor values and include/softkms.h"
        );
    }

    /// The parameter structs have the header's layout (pointers and `CK_ULONG`s).
    #[test]
    fn the_parameter_structs_have_the_header_layout() {
        use std::mem::{offset_of, size_of};
        let w = size_of::<CK_ULONG>();
        assert_eq!(size_of::<EnvelopeParams>(), 2 * w);
        assert_eq!(offset_of!(EnvelopeParams, ul_context_len), w);
        assert_eq!(size_of::<GdkParams>(), 4 * w);
        assert_eq!(offset_of!(GdkParams, p_wrapped), 2 * w);
        assert_eq!(offset_of!(GdkParams, ul_wrapped_len), 3 * w);
    }
}
