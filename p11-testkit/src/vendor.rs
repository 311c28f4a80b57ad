//! The SoftKMS vendor extensions as a client sees them: the values of
//! `include/softkms.h` (docs/vendor-abi.md explains each one) from the
//! `softkms-abi` crate, which `softkms-cryptoki` shares and whose own test
//! checks them against the header, plus the internal values and the raw
//! parameter structs the tests, the conformance runner, the fuzz targets and the
//! benchmarks use.
//!
//! These are a *client's* copy on purpose: the black-box tests check the module
//! against the header, not against the module's own constants (the module's
//! `abi` is checked against the header by its own test).

pub use softkms_abi::*;

use crate::sys::{CK_ATTRIBUTE_TYPE, CK_ULONG};

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
