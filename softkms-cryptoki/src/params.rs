//! The parameter structs of the vendor mechanisms, with the exact C layout of
//! `include/softkms.h` (`#[repr(C)]`, pointers and `CK_ULONG`s), built with
//! safe code. A parameter borrows what it points at, so it cannot outlive it.

use crate::abi::{CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY};
use crate::Error;
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki_sys::{CK_MECHANISM_TYPE, CK_ULONG};
use std::cell::Cell;
use std::marker::PhantomData;

/// A length as a `CK_ULONG`.
fn ulong(n: usize) -> Result<CK_ULONG, Error> {
    CK_ULONG::try_from(n).map_err(|_| Error::TooLong)
}

/// A pointer to `bytes`, or null for none (the header's "may be NULL").
fn ptr_or_null(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() {
        std::ptr::null()
    } else {
        bytes.as_ptr()
    }
}

/// A vendor mechanism whose parameter is `params`.
fn vendor<T>(ty: CK_MECHANISM_TYPE, params: &T) -> Mechanism<'_> {
    // Every SoftKMS value is above CKM_VENDOR_DEFINED, so this cannot fail;
    // the fallback keeps the code free of panics all the same.
    let ty = MechanismType::new_vendor_defined(ty).unwrap_or(MechanismType::AES_GCM);
    Mechanism::VendorDefined(VendorDefinedMechanism::new(ty, Some(params)))
}

/// `CK_SOFTKMS_ENVELOPE_PARAMS`: the encryption context of
/// [`CKM_SOFTKMS_ENVELOPE`] (`docs/vendor-abi.md`).
///
/// ```
/// use softkms_cryptoki::{EncryptionContext, EnvelopeParams};
/// let context = EncryptionContext::new().with("tenant", "7").to_bytes();
/// let params = EnvelopeParams::new(&context)?;
/// let mechanism = params.mechanism(); // for C_EncryptInit, C_DecryptInit, C_WrapKey, C_UnwrapKey
/// # let _ = mechanism;
/// # Ok::<(), softkms_cryptoki::Error>(())
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct EnvelopeParams<'a> {
    /// `pContext`: null for the empty context.
    p_context: *const u8,
    /// `ulContextLen`.
    ul_context_len: CK_ULONG,
    _context: PhantomData<&'a [u8]>,
}

impl<'a> EnvelopeParams<'a> {
    /// The parameter for `context` (the bytes the module binds: see
    /// [`EncryptionContext::to_bytes`](crate::EncryptionContext::to_bytes)).
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] when the length does not fit a `CK_ULONG`.
    pub fn new(context: &'a [u8]) -> Result<EnvelopeParams<'a>, Error> {
        Ok(EnvelopeParams {
            p_context: ptr_or_null(context),
            ul_context_len: ulong(context.len())?,
            _context: PhantomData,
        })
    }

    /// `CKM_SOFTKMS_ENVELOPE` with this parameter.
    pub fn mechanism(&self) -> Mechanism<'_> {
        vendor(CKM_SOFTKMS_ENVELOPE, self)
    }
}

/// `CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS`: the encryption context and the
/// buffer that receives the data key as an envelope message, for
/// `C_DeriveKey` with [`CKM_SOFTKMS_GENERATE_DATA_KEY`].
///
/// The module writes the message into the buffer and its length into the
/// parameter ([`wrapped_key_len`](Self::wrapped_key_len)). Without a buffer,
/// or with one too small, the call fails with `CKR_BUFFER_TOO_SMALL`, creates
/// nothing, and `wrapped_key_len` is the length needed.
/// [`generate_data_key`](crate::generate_data_key) does all of this.
#[repr(C)]
#[derive(Debug)]
pub struct GenerateDataKeyParams<'a> {
    /// `pContext`: null for the empty context.
    p_context: *const u8,
    /// `ulContextLen`.
    ul_context_len: CK_ULONG,
    /// `pWrappedKey`: out; null to ask for the length.
    p_wrapped_key: *mut u8,
    /// `ulWrappedKeyLen`: in, the buffer's size; out, the message's length.
    /// The module writes it through the pointer `cryptoki` passes, hence the `Cell`.
    ul_wrapped_key_len: Cell<CK_ULONG>,
    _borrows: PhantomData<(&'a [u8], &'a mut [u8])>,
}

impl<'a> GenerateDataKeyParams<'a> {
    /// The parameter for `context`, with `out` (or none: a length query) for
    /// the wrapped data key.
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] when a length does not fit a `CK_ULONG`.
    pub fn new(
        context: &'a [u8],
        out: Option<&'a mut [u8]>,
    ) -> Result<GenerateDataKeyParams<'a>, Error> {
        let (p_wrapped_key, len) = match out {
            Some(buf) => (buf.as_mut_ptr(), buf.len()),
            None => (std::ptr::null_mut(), 0),
        };
        Ok(GenerateDataKeyParams {
            p_context: ptr_or_null(context),
            ul_context_len: ulong(context.len())?,
            p_wrapped_key,
            ul_wrapped_key_len: Cell::new(ulong(len)?),
            _borrows: PhantomData,
        })
    }

    /// `ulWrappedKeyLen` as the module left it: after a success the length of
    /// the message in the buffer; after `CKR_BUFFER_TOO_SMALL` the length
    /// needed.
    pub fn wrapped_key_len(&self) -> usize {
        usize::try_from(self.ul_wrapped_key_len.get()).unwrap_or(usize::MAX)
    }

    /// `CKM_SOFTKMS_GENERATE_DATA_KEY` with this parameter.
    pub fn mechanism(&self) -> Mechanism<'_> {
        vendor(CKM_SOFTKMS_GENERATE_DATA_KEY, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// The structs of include/softkms.h, field for field, as a C compiler
    /// lays them out (`#[repr(C)]` with the header's field types).
    #[allow(non_snake_case, dead_code)]
    #[repr(C)]
    struct E {
        pContext: cryptoki_sys::CK_BYTE_PTR,
        ulContextLen: CK_ULONG,
    }
    #[allow(non_snake_case, dead_code)]
    #[repr(C)]
    struct G {
        pContext: cryptoki_sys::CK_BYTE_PTR,
        ulContextLen: CK_ULONG,
        pWrappedKey: cryptoki_sys::CK_BYTE_PTR,
        ulWrappedKeyLen: CK_ULONG,
    }

    /// The header's struct declarations, so that the test fails if they grow.
    #[test]
    fn the_header_declares_these_fields() {
        let text = include_str!("../../include/softkms.h");
        let fields = |name: &str| -> Vec<String> {
            let body = text
                .split(&format!("typedef struct {name} {{"))
                .nth(1)
                .and_then(|b| b.split('}').next())
                .unwrap_or("");
            body.lines()
                .filter_map(|l| l.split(';').next())
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect()
        };
        assert_eq!(
            fields("CK_SOFTKMS_ENVELOPE_PARAMS"),
            ["CK_BYTE_PTR pContext", "CK_ULONG ulContextLen"]
        );
        assert_eq!(
            fields("CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS"),
            [
                "CK_BYTE_PTR pContext",
                "CK_ULONG ulContextLen",
                "CK_BYTE_PTR pWrappedKey",
                "CK_ULONG ulWrappedKeyLen"
            ]
        );
    }

    /// The same size, alignment and field offsets as the header's structs.
    #[test]
    fn the_layouts_are_the_headers() {
        assert_eq!(size_of::<EnvelopeParams<'_>>(), size_of::<E>());
        assert_eq!(align_of::<EnvelopeParams<'_>>(), align_of::<E>());
        assert_eq!(
            offset_of!(EnvelopeParams<'_>, p_context),
            offset_of!(E, pContext)
        );
        assert_eq!(
            offset_of!(EnvelopeParams<'_>, ul_context_len),
            offset_of!(E, ulContextLen)
        );
        assert_eq!(size_of::<GenerateDataKeyParams<'_>>(), size_of::<G>());
        assert_eq!(align_of::<GenerateDataKeyParams<'_>>(), align_of::<G>());
        assert_eq!(
            offset_of!(GenerateDataKeyParams<'_>, p_context),
            offset_of!(G, pContext)
        );
        assert_eq!(
            offset_of!(GenerateDataKeyParams<'_>, ul_context_len),
            offset_of!(G, ulContextLen)
        );
        assert_eq!(
            offset_of!(GenerateDataKeyParams<'_>, p_wrapped_key),
            offset_of!(G, pWrappedKey)
        );
        assert_eq!(
            offset_of!(GenerateDataKeyParams<'_>, ul_wrapped_key_len),
            offset_of!(G, ulWrappedKeyLen)
        );
    }

    /// The mechanism points at the parameter, with its size; an empty
    /// context is a null pointer.
    #[test]
    fn the_mechanism_points_at_the_parameter() {
        let ctx = b"{\"a\":\"1\"}";
        let p = EnvelopeParams::new(ctx).expect("params");
        let m: cryptoki_sys::CK_MECHANISM = (&p.mechanism()).into();
        assert_eq!(m.mechanism, CKM_SOFTKMS_ENVELOPE);
        assert_eq!(m.pParameter as usize, std::ptr::from_ref(&p) as usize);
        assert_eq!(
            usize::try_from(m.ulParameterLen).ok(),
            Some(size_of::<EnvelopeParams<'_>>())
        );
        assert_eq!(p.p_context, ctx.as_ptr());
        assert_eq!(p.ul_context_len, 9);
        assert!(EnvelopeParams::new(b"")
            .expect("params")
            .p_context
            .is_null());

        let mut out = [0u8; 7];
        let g = GenerateDataKeyParams::new(b"", Some(&mut out)).expect("params");
        assert_eq!(g.wrapped_key_len(), 7);
        let m: cryptoki_sys::CK_MECHANISM = (&g.mechanism()).into();
        assert_eq!(m.mechanism, CKM_SOFTKMS_GENERATE_DATA_KEY);
        assert_eq!(
            usize::try_from(m.ulParameterLen).ok(),
            Some(size_of::<GenerateDataKeyParams<'_>>())
        );
        let q = GenerateDataKeyParams::new(b"", None).expect("params");
        assert!(q.p_wrapped_key.is_null());
        assert_eq!(q.wrapped_key_len(), 0);
    }
}
