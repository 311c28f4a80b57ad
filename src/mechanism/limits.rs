//! Limits on what a caller may hand the module in one call: the sizes of
//! attribute values, templates and mechanism parameters. The C interface
//! (`ffi/marshal.rs`) checks them before it reads or copies a caller's
//! bytes, and the remote protocol's server (`remote::check`) checks the same
//! limits on what a client sends, so that a mechanism sees the same inputs
//! whichever way a call arrived.

use cryptoki_sys::CK_ULONG;

/// Largest attribute value accepted from a caller (64 MiB): anything larger is
/// `CKR_ATTRIBUTE_VALUE_INVALID` rather than an allocation the host may not survive.
pub(crate) const MAX_VALUE_LEN: usize = 64 << 20;

/// Most attributes accepted in one template (nested ones included in their own
/// count): far more than there are attribute types, so only a template no
/// application writes is refused, and with `CKR_ARGUMENTS_BAD`, before any
/// attribute is read (a count beyond the caller's real array cannot be detected
/// otherwise).
pub(crate) const MAX_TEMPLATE_ATTRS: usize = 4096;

/// Most value bytes copied from one template, nested templates included: twice
/// [`MAX_VALUE_LEN`], so one largest value and its companions fit. Without it,
/// 4096 attributes of 64 MiB each (all pointing at one buffer) would be 256 GiB
/// of copies. The attribute whose value crosses it is
/// `CKR_ATTRIBUTE_VALUE_INVALID`, the code PKCS#11 3.0 §5.1.6 defines for an
/// invalid value (the object functions of §5.7 return it).
pub(crate) const MAX_TEMPLATE_BYTES: usize = 2 * MAX_VALUE_LEN;

// Limits on the sizes inside parameters. Each is checked before anything is
// read or allocated by the size it bounds, and a size beyond it is
// `CKR_MECHANISM_PARAM_INVALID` (PKCS#11 3.0 §5.1.6: "invalid parameters were
// specified to the mechanism"). They belong in the mechanisms' registry rows
// (STYLE.md 15); until the registry carries them, they live here, named.

/// Longest IV a parameter may carry: `CK_GCM_PARAMS.ulIvLen`,
/// `CK_GCM_MESSAGE_PARAMS.ulIvLen` and the byte-string parameters (every one
/// registered is an IV: CBC 16 bytes, KW 8, KWP 4). GCM takes any length of at
/// least one byte (NIST SP 800-38D §5.2.1.1; PKCS#11 allows up to 2^32 - 1),
/// 12 being the efficient one; 1 KiB is far beyond any use, and the
/// message-based IV generator walks the IV bit by bit.
pub(crate) const MAX_IV_LEN: usize = 1024;

/// Largest GCM tag, in bits (NIST SP 800-38D §5.2.1.2): `ulTagBits` above it is
/// refused before a tag buffer of `ulTagBits / 8` bytes is read or copied.
pub(crate) const GCM_MAX_TAG_BITS: CK_ULONG = 128;

/// Longest EC point in `CK_ECDH1_DERIVE_PARAMS.pPublicData`: an uncompressed
/// P-521 point (133 bytes) in a DER OCTET STRING (3 more), with room to spare.
pub(crate) const MAX_EC_POINT_LEN: usize = 256;
/// The longest EdDSA context (RFC 8032: 255 bytes); a longer one is
/// `CKR_MECHANISM_PARAM_INVALID` before anything is copied.
pub(crate) const MAX_EDDSA_CONTEXT_LEN: usize = 255;

/// Longest byte string of any other parameter field: GCM AAD, an OAEP label,
/// ECDH shared data, HKDF salt and info, a SoftKMS encryption context. The
/// mechanisms only hash or authenticate these, so any length works; the limit
/// is that of an attribute value, 64 MiB.
pub(crate) const MAX_PARAM_DATA_LEN: usize = MAX_VALUE_LEN;

/// Most bytes the byte arrays and the IV of one SP 800-108 parameter may
/// hold together. The PRF input is built from them on every iteration, so
/// they are bounded as a whole, not each on its own; fixed input data is a
/// label and a context, far below this.
pub(crate) const MAX_KBKDF_INPUT: usize = 64 * 1024;

/// Longest context string of `CK_SIGN_ADDITIONAL_CONTEXT` and
/// `CK_HASH_SIGN_ADDITIONAL_CONTEXT` (FIPS 204: one length byte). A longer
/// `ulContextLen` is `CKR_MECHANISM_PARAM_INVALID`, before anything is read.
pub(crate) const MAX_SIGN_CONTEXT_LEN: usize = 255;
