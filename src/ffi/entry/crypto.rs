//! The cryptographic entry points (PKCS#11 3.0 §5.8–§5.20, the message-based
//! functions of §5.9, §5.11, §5.14 and §5.16 included): same rules and safety
//! contract as the parent module.

#![allow(non_snake_case)]

use super::{not_supported, with_module};
use crate::error::{Error, Result};
use crate::ffi::marshal;
use crate::module::{Module, Operation};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::ffi::c_void;

// ---------------------------------------------------------------- §5.8, §5.10, §5.12–5.17 cryptography

/// Defines `C_xxxInit(h, pMechanism, hKey)`.
macro_rules! init_with_key {
    ($(#[$doc:meta])* $name:ident => $method:ident) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(
            h: CK_SESSION_HANDLE,
            p_mechanism: *mut CK_MECHANISM,
            key: CK_OBJECT_HANDLE,
        ) -> CK_RV {
            with_module(stringify!($name), |m| {
                // SAFETY: pMechanism is a CK_MECHANISM whose parameter holds ulParameterLen bytes.
                let mech = unsafe { marshal::mechanism(p_mechanism) }?;
                m.$method(h, &mech, key)
            })
        }
    };
}

/// Defines `C_xxx(h, pIn, ulInLen, pOut, pulOutLen)` with the output length rules.
macro_rules! in_out {
    ($(#[$doc:meta])* $name:ident => $method:ident, $op:ident) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(
            h: CK_SESSION_HANDLE,
            p_in: *mut CK_BYTE,
            in_len: CK_ULONG,
            p_out: *mut CK_BYTE,
            pul_out_len: *mut CK_ULONG,
        ) -> CK_RV {
            with_module(stringify!($name), |m| {
                let run = |d: &[u8], o: &mut OutBuf<'_>| m.$method(h, d, o);
                // SAFETY: pIn holds ulInLen bytes; pOut holds *pulOutLen bytes or is null.
                let r = unsafe { marshal::in_out(p_in, in_len, p_out, pul_out_len, run) };
                ended_by(m, h, Operation::$op, r)
            })
        }
    };
}

/// A call's `CKR_ARGUMENTS_BAD` found here, before the module saw the call (a
/// null pointer), ends the operation as every error but
/// `CKR_BUFFER_TOO_SMALL` does (PKCS#11 3.0 §5.2, §5.8–§5.15).
pub(super) fn ended_by(
    m: &Module,
    h: CK_SESSION_HANDLE,
    op: Operation,
    r: Result<()>,
) -> Result<()> {
    if matches!(r, Err(Error::ArgumentsBad)) {
        m.end_operation(h, op);
    }
    r
}

/// Defines `C_xxxFinal(h, pOut, pulOutLen)`.
macro_rules! final_out {
    ($(#[$doc:meta])* $name:ident => $method:ident, $op:ident) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(h: CK_SESSION_HANDLE, p_out: *mut CK_BYTE, pul_out_len: *mut CK_ULONG) -> CK_RV {
            with_module(stringify!($name), |m| {
                let run = |o: &mut OutBuf<'_>| m.$method(h, o);
                // SAFETY: pOut holds *pulOutLen bytes or is null.
                let r = unsafe { marshal::out(p_out, pul_out_len, run) };
                ended_by(m, h, Operation::$op, r)
            })
        }
    };
}

/// Defines `C_xxx(h, pData, ulDataLen)` (update functions without output).
macro_rules! data_in {
    ($(#[$doc:meta])* $name:ident => $method:ident, $op:ident) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(h: CK_SESSION_HANDLE, p_data: *mut CK_BYTE, len: CK_ULONG) -> CK_RV {
            with_module(stringify!($name), |m| {
                // SAFETY: pData holds ulDataLen bytes.
                let data = match unsafe { marshal::bytes(p_data, len) } {
                    Ok(d) => d,
                    Err(e) => return ended_by(m, h, Operation::$op, Err(e)),
                };
                m.$method(h, data)
            })
        }
    };
    ($(#[$doc:meta])* $name:ident => $method:ident) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(h: CK_SESSION_HANDLE, p_data: *mut CK_BYTE, len: CK_ULONG) -> CK_RV {
            with_module(stringify!($name), |m| {
                // SAFETY: pData holds ulDataLen bytes.
                let data = unsafe { marshal::bytes(p_data, len) }?;
                m.$method(h, data)
            })
        }
    };
}

init_with_key!(/** `C_EncryptInit` (§5.8.1). */ C_EncryptInit => encrypt_init);
in_out!(/** `C_Encrypt` (§5.8.2). */ C_Encrypt => encrypt, Encrypt);
in_out!(/** `C_EncryptUpdate` (§5.8.3). */ C_EncryptUpdate => encrypt_update, Encrypt);
final_out!(/** `C_EncryptFinal` (§5.8.4). */ C_EncryptFinal => encrypt_final, Encrypt);

init_with_key!(/** `C_DecryptInit` (§5.10.1). */ C_DecryptInit => decrypt_init);
in_out!(/** `C_Decrypt` (§5.10.2). */ C_Decrypt => decrypt, Decrypt);
in_out!(/** `C_DecryptUpdate` (§5.10.3). */ C_DecryptUpdate => decrypt_update, Decrypt);
final_out!(/** `C_DecryptFinal` (§5.10.4). */ C_DecryptFinal => decrypt_final, Decrypt);

/// `C_DigestInit` (§5.12.1).
pub(in crate::ffi) unsafe extern "C" fn C_DigestInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
) -> CK_RV {
    with_module("C_DigestInit", |m| {
        // SAFETY: pMechanism is a CK_MECHANISM (§5.12.1).
        let mech = unsafe { marshal::mechanism(p_mechanism) }?;
        m.digest_init(h, &mech)
    })
}
in_out!(/** `C_Digest` (§5.12.2). */ C_Digest => digest, Digest);
data_in!(/** `C_DigestUpdate` (§5.12.3). */ C_DigestUpdate => digest_update, Digest);
/// `C_DigestKey` (§5.12.4).
pub(in crate::ffi) unsafe extern "C" fn C_DigestKey(
    h: CK_SESSION_HANDLE,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_DigestKey", |m| m.digest_key(h, key))
}
final_out!(/** `C_DigestFinal` (§5.12.5). */ C_DigestFinal => digest_final, Digest);

init_with_key!(/** `C_SignInit` (§5.13.1). */ C_SignInit => sign_init);
in_out!(/** `C_Sign` (§5.13.2). */ C_Sign => sign, Sign);
data_in!(/** `C_SignUpdate` (§5.13.3). */ C_SignUpdate => sign_update, Sign);
final_out!(/** `C_SignFinal` (§5.13.4). */ C_SignFinal => sign_final, Sign);

init_with_key!(/** `C_VerifyInit` (§5.15.1). */ C_VerifyInit => verify_init);
/// `C_Verify` (§5.15.2).
pub(in crate::ffi) unsafe extern "C" fn C_Verify(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_sig: *mut CK_BYTE,
    sig_len: CK_ULONG,
) -> CK_RV {
    with_module("C_Verify", |m| {
        // SAFETY: pData and pSignature hold their lengths in bytes (§5.15.2).
        let read = unsafe {
            marshal::bytes(p_data, data_len).and_then(|d| Ok((d, marshal::bytes(p_sig, sig_len)?)))
        };
        let (data, sig) = match read {
            Ok(v) => v,
            Err(e) => return ended_by(m, h, Operation::Verify, Err(e)),
        };
        m.verify(h, data, sig)
    })
}
data_in!(/** `C_VerifyUpdate` (§5.15.3). */ C_VerifyUpdate => verify_update, Verify);
data_in!(/** `C_VerifyFinal` (§5.15.4): the signature. */ C_VerifyFinal => verify_final, Verify);

/// Defines functions that SoftKMS does not implement: `CKR_FUNCTION_NOT_SUPPORTED`
/// after the initialized check.
macro_rules! unsupported {
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

unsupported! {
    /// `C_SignRecoverInit` (§5.13.5): not supported.
    C_SignRecoverInit(h: CK_SESSION_HANDLE, p: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    /// `C_SignRecover` (§5.13.6): not supported.
    C_SignRecover(h: CK_SESSION_HANDLE, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_VerifyRecoverInit` (§5.15.5): not supported.
    C_VerifyRecoverInit(h: CK_SESSION_HANDLE, p: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    /// `C_VerifyRecover` (§5.15.6): not supported.
    C_VerifyRecover(h: CK_SESSION_HANDLE, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_DigestEncryptUpdate` (§5.17.1): not supported.
    C_DigestEncryptUpdate(h: CK_SESSION_HANDLE, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_DecryptDigestUpdate` (§5.17.2): not supported.
    C_DecryptDigestUpdate(h: CK_SESSION_HANDLE, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_SignEncryptUpdate` (§5.17.3): not supported.
    C_SignEncryptUpdate(h: CK_SESSION_HANDLE, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_DecryptVerifyUpdate` (§5.17.4): not supported.
    C_DecryptVerifyUpdate(h: CK_SESSION_HANDLE, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_MessageSignInit` (§5.14.1): not supported.
    C_MessageSignInit(h: CK_SESSION_HANDLE, p: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    /// `C_SignMessage` (§5.14.2): not supported.
    C_SignMessage(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_SignMessageBegin` (§5.14.3): not supported.
    C_SignMessageBegin(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG);
    /// `C_SignMessageNext` (§5.14.4): not supported.
    C_SignMessageNext(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: *mut CK_ULONG);
    /// `C_MessageSignFinal` (§5.14.5): not supported.
    C_MessageSignFinal(h: CK_SESSION_HANDLE);
    /// `C_MessageVerifyInit` (§5.16.1): not supported.
    C_MessageVerifyInit(h: CK_SESSION_HANDLE, p: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    /// `C_VerifyMessage` (§5.16.2): not supported.
    C_VerifyMessage(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: CK_ULONG);
    /// `C_VerifyMessageBegin` (§5.16.3): not supported.
    C_VerifyMessageBegin(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG);
    /// `C_VerifyMessageNext` (§5.16.4): not supported.
    C_VerifyMessageNext(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut CK_BYTE, al: CK_ULONG, b: *mut CK_BYTE, bl: CK_ULONG);
    /// `C_MessageVerifyFinal` (§5.16.5): not supported.
    C_MessageVerifyFinal(h: CK_SESSION_HANDLE);
}

// ---------------------------------------------------------------- §5.18 keys

/// `C_GenerateKey` (§5.18.1).
pub(in crate::ffi) unsafe extern "C" fn C_GenerateKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_GenerateKey", |m| {
        let dst = marshal::out_ptr(ph_key)?;
        // SAFETY: pMechanism is a CK_MECHANISM; pTemplate holds ulCount attributes (§5.18.1).
        let (mech, t) = unsafe {
            (
                marshal::mechanism(p_mechanism)?,
                marshal::template(p_template, count)?,
            )
        };
        let key = m.generate_key(h, &mech, &t)?;
        // SAFETY: checked non-null.
        unsafe { dst.set(key) };
        Ok(())
    })
}

/// `C_GenerateKeyPair` (§5.18.2).
pub(in crate::ffi) unsafe extern "C" fn C_GenerateKeyPair(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    p_public: *mut CK_ATTRIBUTE,
    public_count: CK_ULONG,
    p_private: *mut CK_ATTRIBUTE,
    private_count: CK_ULONG,
    ph_public: *mut CK_OBJECT_HANDLE,
    ph_private: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_GenerateKeyPair", |m| {
        let (dst_pub, dst_priv) = (marshal::out_ptr(ph_public)?, marshal::out_ptr(ph_private)?);
        // SAFETY: pMechanism is a CK_MECHANISM; each template holds its count of attributes (§5.18.2).
        let (mech, public, private) = unsafe {
            (
                marshal::mechanism(p_mechanism)?,
                marshal::template(p_public, public_count)?,
                marshal::template(p_private, private_count)?,
            )
        };
        let (hp, hs) = m.generate_key_pair(h, &mech, &public, &private)?;
        // SAFETY: both checked non-null.
        unsafe {
            dst_pub.set(hp);
            dst_priv.set(hs);
        }
        Ok(())
    })
}

/// `C_WrapKey` (§5.18.3), with the output length rules.
pub(in crate::ffi) unsafe extern "C" fn C_WrapKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    wrapping_key: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    p_wrapped: *mut CK_BYTE,
    pul_wrapped_len: *mut CK_ULONG,
) -> CK_RV {
    with_module("C_WrapKey", |m| {
        // SAFETY: pMechanism is a CK_MECHANISM (§5.18.3).
        let mech = unsafe { marshal::mechanism(p_mechanism) }?;
        let run = |o: &mut OutBuf<'_>| m.wrap_key(h, &mech, wrapping_key, key, o);
        // SAFETY: pWrappedKey holds *pulWrappedKeyLen bytes or is null (§5.18.3).
        unsafe { marshal::out(p_wrapped, pul_wrapped_len, run) }
    })
}

/// `C_UnwrapKey` (§5.18.4).
pub(in crate::ffi) unsafe extern "C" fn C_UnwrapKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    unwrapping_key: CK_OBJECT_HANDLE,
    p_wrapped: *mut CK_BYTE,
    wrapped_len: CK_ULONG,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_UnwrapKey", |m| {
        let dst = marshal::out_ptr(ph_key)?;
        // SAFETY: pMechanism is a CK_MECHANISM, pWrappedKey holds ulWrappedKeyLen
        // bytes, pTemplate ulAttributeCount attributes (§5.18.4).
        let (mech, wrapped, t) = unsafe {
            (
                marshal::mechanism(p_mechanism)?,
                marshal::bytes(p_wrapped, wrapped_len)?,
                marshal::template(p_template, count)?,
            )
        };
        let key = m.unwrap_key(h, &mech, unwrapping_key, wrapped, &t)?;
        // SAFETY: checked non-null.
        unsafe { dst.set(key) };
        Ok(())
    })
}

/// `C_DeriveKey` (§5.18.5). Parameters with output fields (the SoftKMS data
/// key, the SP 800-108 additional keys' handles) are written back after the
/// call.
pub(in crate::ffi) unsafe extern "C" fn C_DeriveKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    base_key: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_DeriveKey", |m| {
        let dst = marshal::out_ptr(ph_key)?;
        // SAFETY: pMechanism is a CK_MECHANISM; pTemplate holds ulAttributeCount attributes (§5.18.5).
        let (mut mech, t) = unsafe {
            (
                marshal::mechanism(p_mechanism)?,
                marshal::template(p_template, count)?,
            )
        };
        let r = m.derive_key(h, &mut mech, base_key, &t);
        let (ok, too_small) = (r.is_ok(), matches!(r, Err(Error::BufferTooSmall)));
        // SAFETY: pMechanism was decoded above; output fields go back to it.
        let written =
            unsafe { marshal::write_back_derive(p_mechanism, &mech.param, ok, too_small) };
        if let (Err(e), Ok(key)) = (&written, &r) {
            // The caller changed its parameter during the call, so it cannot
            // learn every new handle: no key is left behind (all or none,
            // §2.42.7).
            for k in std::iter::once(*key).chain(marshal::additional_handles(&mech.param)) {
                if let Err(d) = m.destroy_object(h, k) {
                    log::warn!("C_DeriveKey: undoing key {k}: {d}");
                }
            }
            return Err(e.clone());
        }
        let key = r?;
        // SAFETY: checked non-null.
        unsafe { dst.set(key) };
        Ok(())
    })
}

// ---------------------------------------------------------------- §5.19 random

data_in!(/** `C_SeedRandom` (§5.19.1). */ C_SeedRandom => seed_random);

/// `C_GenerateRandom` (§5.19.2): a null buffer is fine with length 0.
pub(in crate::ffi) unsafe extern "C" fn C_GenerateRandom(
    h: CK_SESSION_HANDLE,
    p_out: *mut CK_BYTE,
    len: CK_ULONG,
) -> CK_RV {
    with_module("C_GenerateRandom", |m| {
        // SAFETY: pRandomData holds ulRandomLen writable bytes (§5.19.2).
        let buf = unsafe { marshal::bytes_mut(p_out, len) }?;
        m.generate_random(h, buf)
    })
}

// ---------------------------------------------------------------- §5.20 parallel (legacy)

/// `C_GetFunctionStatus` (§5.20.1): legacy, always `CKR_FUNCTION_NOT_PARALLEL`.
pub(in crate::ffi) unsafe extern "C" fn C_GetFunctionStatus(_h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_GetFunctionStatus", |_| Err(Error::FunctionNotParallel))
}

/// `C_CancelFunction` (§5.20.2): legacy, always `CKR_FUNCTION_NOT_PARALLEL`.
pub(in crate::ffi) unsafe extern "C" fn C_CancelFunction(_h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_CancelFunction", |_| Err(Error::FunctionNotParallel))
}

// ---------------------------------------------------------------- §5.9, §5.11 message-based

/// `C_MessageEncryptInit` (§5.9.1): the
/// mechanism's parameter is ignored; each message brings its own.
pub(in crate::ffi) unsafe extern "C" fn C_MessageEncryptInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_MessageEncryptInit", |m| {
        // SAFETY: pMechanism is a CK_MECHANISM.
        let mech = unsafe { marshal::message_mechanism(p_mechanism) }?;
        m.message_encrypt_init(h, &mech, key)
    })
}

/// `C_MessageDecryptInit` (§5.11.1): as [`C_MessageEncryptInit`].
pub(in crate::ffi) unsafe extern "C" fn C_MessageDecryptInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    with_module("C_MessageDecryptInit", |m| {
        // SAFETY: pMechanism is a CK_MECHANISM.
        let mech = unsafe { marshal::message_mechanism(p_mechanism) }?;
        m.message_decrypt_init(h, &mech, key)
    })
}

/// Defines `C_EncryptMessage`/`C_DecryptMessage` (§5.9.2, §5.11.2): one whole
/// message; the IV (when generated) and the tag (encryption) go back into the
/// caller's `CK_GCM_MESSAGE_PARAMS`.
macro_rules! message_one_shot {
    ($(#[$doc:meta])* $name:ident => $method:ident, encrypt = $enc:expr) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(
            h: CK_SESSION_HANDLE,
            p_param: *mut c_void,
            param_len: CK_ULONG,
            p_aad: *mut CK_BYTE,
            aad_len: CK_ULONG,
            p_in: *mut CK_BYTE,
            in_len: CK_ULONG,
            p_out: *mut CK_BYTE,
            pul_out_len: *mut CK_ULONG,
        ) -> CK_RV {
            with_module(stringify!($name), |m| {
                // SAFETY: pParameter holds ulParameterLen bytes.
                let mut mp = unsafe { marshal::message_param(p_param, param_len, $enc) }?;
                let run = |[aad, data]: [&[u8]; 2], o: &mut OutBuf<'_>| {
                    m.$method(h, &mut mp.param, aad, data, o)
                };
                // SAFETY: pAssociatedData and the input hold their lengths, the
                // output *pulLen bytes or is null.
                unsafe { marshal::with_output([(p_aad, aad_len), (p_in, in_len)], p_out, pul_out_len, run) }?;
                // SAFETY: the parameter's pIv and pTag hold their lengths.
                unsafe { mp.write_back() }
            })
        }
    };
}

/// Defines `C_EncryptMessageBegin`/`C_DecryptMessageBegin` (§5.9.3, §5.11.3).
macro_rules! message_begin {
    ($(#[$doc:meta])* $name:ident => $method:ident, encrypt = $enc:expr) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(
            h: CK_SESSION_HANDLE,
            p_param: *mut c_void,
            param_len: CK_ULONG,
            p_aad: *mut CK_BYTE,
            aad_len: CK_ULONG,
        ) -> CK_RV {
            with_module(stringify!($name), |m| {
                // SAFETY: pParameter holds ulParameterLen bytes, pAssociatedData its length.
                let (mut mp, aad) = unsafe {
                    (
                        marshal::message_param(p_param, param_len, $enc)?,
                        marshal::bytes(p_aad, aad_len)?,
                    )
                };
                m.$method(h, &mut mp.param, aad)?;
                // SAFETY: the parameter's pIv and pTag hold their lengths.
                unsafe { mp.write_back() }
            })
        }
    };
}

/// Defines `C_EncryptMessageNext`/`C_DecryptMessageNext` (§5.9.4, §5.11.4);
/// `CKF_END_OF_MESSAGE` in `flags` is the last part.
macro_rules! message_next {
    ($(#[$doc:meta])* $name:ident => $method:ident, encrypt = $enc:expr) => {
        $(#[$doc])*
        pub(in crate::ffi) unsafe extern "C" fn $name(
            h: CK_SESSION_HANDLE,
            p_param: *mut c_void,
            param_len: CK_ULONG,
            p_in: *mut CK_BYTE,
            in_len: CK_ULONG,
            p_out: *mut CK_BYTE,
            pul_out_len: *mut CK_ULONG,
            flags: CK_FLAGS,
        ) -> CK_RV {
            with_module(stringify!($name), |m| {
                let last = flags & CKF_END_OF_MESSAGE != 0;
                // SAFETY: pParameter holds ulParameterLen bytes.
                let mut mp = unsafe { marshal::message_param(p_param, param_len, $enc) }?;
                let run = |d: &[u8], o: &mut OutBuf<'_>| m.$method(h, &mut mp.param, d, last, o);
                // SAFETY: the input holds its length, the output *pulLen bytes or is null.
                unsafe { marshal::in_out(p_in, in_len, p_out, pul_out_len, run) }?;
                // SAFETY: the parameter's pIv and pTag hold their lengths.
                unsafe { mp.write_back() }
            })
        }
    };
}

message_one_shot!(/** `C_EncryptMessage` (§5.9.2). */ C_EncryptMessage => encrypt_message, encrypt = true);
message_begin!(/** `C_EncryptMessageBegin` (§5.9.3). */ C_EncryptMessageBegin => encrypt_message_begin, encrypt = true);
message_next!(/** `C_EncryptMessageNext` (§5.9.4). */ C_EncryptMessageNext => encrypt_message_next, encrypt = true);
message_one_shot!(/** `C_DecryptMessage` (§5.11.2). */ C_DecryptMessage => decrypt_message, encrypt = false);
message_begin!(/** `C_DecryptMessageBegin` (§5.11.3). */ C_DecryptMessageBegin => decrypt_message_begin, encrypt = false);
message_next!(/** `C_DecryptMessageNext` (§5.11.4). */ C_DecryptMessageNext => decrypt_message_next, encrypt = false);

/// `C_MessageEncryptFinal` (§5.9.5).
pub(in crate::ffi) unsafe extern "C" fn C_MessageEncryptFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_MessageEncryptFinal", |m| m.message_encrypt_final(h))
}

/// `C_MessageDecryptFinal` (§5.11.5).
pub(in crate::ffi) unsafe extern "C" fn C_MessageDecryptFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    with_module("C_MessageDecryptFinal", |m| m.message_decrypt_final(h))
}
