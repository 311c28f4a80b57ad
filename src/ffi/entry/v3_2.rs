//! The functions PKCS#11 3.2 added to the function table (section numbers of
//! the 3.2 base specification): key encapsulation (§5.18), verification with
//! the signature first (§5.15), and the others, which SoftKMS does not
//! implement (`CKR_FUNCTION_NOT_SUPPORTED` once initialized): session
//! validation flags, the asynchronous functions and authenticated wrapping.

use super::{not_supported, with_module};
use crate::ffi::marshal;
use crate::module::Operation;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;

/// `C_EncapsulateKey` (3.2 §5.18.7): the ciphertext with the length rules of
/// §5.2; `phKey` gets the new key (it may be null only with a null
/// `pCiphertext`, a length query, which makes no key).
pub(in crate::ffi) unsafe extern "C" fn C_EncapsulateKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    public_key: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    p_ciphertext: *mut CK_BYTE,
    pul_ciphertext_len: *mut CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_EncapsulateKey", |m| {
        let dst = if p_ciphertext.is_null() {
            None
        } else {
            Some(marshal::out_ptr(ph_key)?)
        };
        // SAFETY: pMechanism is a CK_MECHANISM, pTemplate holds ulAttributeCount
        // attributes (3.2 §5.18.7).
        let (mech, t) = unsafe {
            (
                marshal::mechanism(p_mechanism)?,
                marshal::template(p_template, count)?,
            )
        };
        let mut made = None;
        let run = |o: &mut OutBuf<'_>| {
            made = m.encapsulate_key(h, &mech, public_key, &t, o)?;
            Ok(())
        };
        // SAFETY: pCiphertext holds *pulCiphertextLen bytes or is null (3.2 §5.18.7).
        unsafe { marshal::out(p_ciphertext, pul_ciphertext_len, run) }?;
        if let (Some(dst), Some(key)) = (dst, made) {
            // SAFETY: checked non-null.
            unsafe { dst.set(key) };
        }
        Ok(())
    })
}

/// `C_DecapsulateKey` (3.2 §5.18.8).
pub(in crate::ffi) unsafe extern "C" fn C_DecapsulateKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    private_key: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    p_ciphertext: *mut CK_BYTE,
    ciphertext_len: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_DecapsulateKey", |m| {
        let dst = marshal::out_ptr(ph_key)?;
        // SAFETY: pMechanism is a CK_MECHANISM, pTemplate holds ulAttributeCount
        // attributes, pCiphertext ulCiphertextLen bytes (3.2 §5.18.8).
        let (mech, t, ct) = unsafe {
            (
                marshal::mechanism(p_mechanism)?,
                marshal::template(p_template, count)?,
                marshal::bytes(p_ciphertext, ciphertext_len)?,
            )
        };
        let key = m.decapsulate_key(h, &mech, private_key, &t, ct)?;
        // SAFETY: checked non-null.
        unsafe { dst.set(key) };
        Ok(())
    })
}

/// `C_VerifySignatureInit` (3.2 §5.15.7): the signature comes first.
pub(in crate::ffi) unsafe extern "C" fn C_VerifySignatureInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    p_signature: *mut CK_BYTE,
    signature_len: CK_ULONG,
) -> CK_RV {
    with_module("C_VerifySignatureInit", |m| {
        // SAFETY: pMechanism is a CK_MECHANISM, pSignature holds ulSignatureLen
        // bytes (3.2 §5.15.7).
        let (mech, sig) = unsafe {
            (
                marshal::mechanism(p_mechanism)?,
                marshal::bytes(p_signature, signature_len)?,
            )
        };
        m.verify_signature_init(h, &mech, key, sig)
    })
}

/// `C_VerifySignature` (3.2 §5.15.8).
pub(in crate::ffi) unsafe extern "C" fn C_VerifySignature(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
) -> CK_RV {
    with_module("C_VerifySignature", |m| {
        // SAFETY: pData holds ulDataLen bytes (3.2 §5.15.8).
        let data = unsafe { marshal::bytes(p_data, data_len) };
        let r = data.and_then(|d| m.verify_signature(h, d));
        super::crypto::ended_by(m, h, Operation::VerifySignature, r)
    })
}

/// `C_VerifySignatureUpdate` (3.2 §5.15.9).
pub(in crate::ffi) unsafe extern "C" fn C_VerifySignatureUpdate(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
) -> CK_RV {
    with_module("C_VerifySignatureUpdate", |m| {
        // SAFETY: pPart holds ulPartLen bytes (3.2 §5.15.9).
        let data = unsafe { marshal::bytes(p_data, data_len) };
        let r = data.and_then(|d| m.verify_signature_update(h, d));
        super::crypto::ended_by(m, h, Operation::VerifySignature, r)
    })
}

/// `C_VerifySignatureFinal` (3.2 §5.15.10).
pub(in crate::ffi) unsafe extern "C" fn C_VerifySignatureFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_VerifySignatureFinal", |m| m.verify_signature_final(h))
}

/// Functions of the 3.2 table SoftKMS does not implement.
macro_rules! unsupported_3_2 {
    ($( $(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* ); )*) => {
        $(
            $(#[$doc])*
            pub(in crate::ffi) unsafe extern "C" fn $name($($arg: $ty),*) -> CK_RV {
                $( let _ = $arg; )*
                not_supported(stringify!($name))
            }
        )*
    };
}

unsupported_3_2! {
    /// `C_GetSessionValidationFlags` (3.2 §5.6.9): not supported.
    C_GetSessionValidationFlags(h: CK_SESSION_HANDLE, t: CK_SESSION_VALIDATION_FLAGS_TYPE, f: *mut CK_FLAGS);
    /// `C_AsyncComplete` (3.2 §5.20.1): not supported.
    C_AsyncComplete(h: CK_SESSION_HANDLE, n: *mut CK_UTF8CHAR, d: *mut CK_ASYNC_DATA);
    /// `C_AsyncGetID` (3.2 §5.20.2): not supported.
    C_AsyncGetID(h: CK_SESSION_HANDLE, n: *mut CK_UTF8CHAR, id: *mut CK_ULONG);
    /// `C_AsyncJoin` (3.2 §5.20.3): not supported.
    C_AsyncJoin(h: CK_SESSION_HANDLE, n: *mut CK_UTF8CHAR, id: CK_ULONG, d: *mut CK_BYTE, dl: CK_ULONG);
    /// `C_WrapKeyAuthenticated` (3.2 §5.18.9): not supported.
    C_WrapKeyAuthenticated(h: CK_SESSION_HANDLE, p: *mut CK_MECHANISM, wk: CK_OBJECT_HANDLE, k: CK_OBJECT_HANDLE, a: *mut CK_BYTE, al: CK_ULONG, w: *mut CK_BYTE, wl: *mut CK_ULONG);
    /// `C_UnwrapKeyAuthenticated` (3.2 §5.18.10): not supported.
    C_UnwrapKeyAuthenticated(h: CK_SESSION_HANDLE, p: *mut CK_MECHANISM, uk: CK_OBJECT_HANDLE, w: *mut CK_BYTE, wl: CK_ULONG, t: *mut CK_ATTRIBUTE, c: CK_ULONG, a: *mut CK_BYTE, al: CK_ULONG, k: *mut CK_OBJECT_HANDLE);
}
