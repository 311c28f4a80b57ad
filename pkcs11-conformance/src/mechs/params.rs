//! Parameters of the mechanisms added with PKCS#11 3.0 current mechanisms and
//! 3.2: EdDSA, ML-DSA sign contexts, the simple key derivations and SP 800-108.

use super::*;
use p11_testkit::struct_bytes;
use std::ffi::c_void;
use std::ptr;

fn ptr_of(v: &mut [u8]) -> *mut u8 {
    if v.is_empty() {
        ptr::null_mut()
    } else {
        v.as_mut_ptr()
    }
}

/// `CK_SIGN_ADDITIONAL_CONTEXT` (3.2 §6.67): hedging variant and context.
pub(super) fn sign_ctx(ty: CK_MECHANISM_TYPE, hedge: CK_ULONG, ctx: &[u8]) -> Mech {
    let mut c = ctx.to_vec();
    let p = CK_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: hedge,
        pContext: ptr_of(&mut c),
        ulContextLen: c.len() as CK_ULONG,
    };
    Mech::with_parts(ty, struct_bytes(&p), vec![c])
}

/// `CK_HASH_SIGN_ADDITIONAL_CONTEXT` (3.2 §6.67) for `CKM_HASH_ML_DSA`.
pub(super) fn hash_sign_ctx(hedge: CK_ULONG, ctx: &[u8], hash: CK_MECHANISM_TYPE) -> Mech {
    let mut c = ctx.to_vec();
    let p = CK_HASH_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: hedge,
        pContext: ptr_of(&mut c),
        ulContextLen: c.len() as CK_ULONG,
        hash,
    };
    Mech::with_parts(CKM_HASH_ML_DSA, struct_bytes(&p), vec![c])
}

/// `CK_KEY_DERIVATION_STRING_DATA` (the simple derivations, AES_ECB_ENCRYPT_DATA).
pub(super) fn string_data(ty: CK_MECHANISM_TYPE, data: &[u8]) -> Mech {
    let mut d = data.to_vec();
    let p = CK_KEY_DERIVATION_STRING_DATA {
        pData: ptr_of(&mut d),
        ulLen: d.len() as CK_ULONG,
    };
    Mech::with_parts(ty, struct_bytes(&p), vec![d])
}

/// `CK_AES_CBC_ENCRYPT_DATA_PARAMS`.
pub(super) fn aes_cbc_data(iv: [u8; 16], data: &[u8]) -> Mech {
    let mut d = data.to_vec();
    let p = CK_AES_CBC_ENCRYPT_DATA_PARAMS {
        iv,
        pData: ptr_of(&mut d),
        length: d.len() as CK_ULONG,
    };
    Mech::with_parts(CKM_AES_CBC_ENCRYPT_DATA, struct_bytes(&p), vec![d])
}

/// One `CK_PRF_DATA_PARAM` of an SP 800-108 KDF.
pub(super) enum Prf {
    /// The iteration variable, a counter of this width (big-endian) or none.
    Iter(Option<CK_ULONG>),
    /// A byte array.
    Bytes(Vec<u8>),
}

/// The `CK_PRF_DATA_PARAM` array's bytes and the buffers it points at.
fn prf_params(data: &[Prf]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut keep = Vec::new();
    let mut arr = Vec::new();
    for d in data {
        let (ty, mut value) = match d {
            Prf::Iter(Some(bits)) => (
                CK_SP800_108_ITERATION_VARIABLE,
                struct_bytes(&CK_SP800_108_COUNTER_FORMAT {
                    bLittleEndian: CK_FALSE,
                    ulWidthInBits: *bits,
                }),
            ),
            Prf::Iter(None) => (CK_SP800_108_ITERATION_VARIABLE, Vec::new()),
            Prf::Bytes(b) => (CK_SP800_108_BYTE_ARRAY, b.clone()),
        };
        let p = CK_PRF_DATA_PARAM {
            type_: ty,
            pValue: ptr_of(&mut value) as *mut c_void,
            ulValueLen: value.len() as CK_ULONG,
        };
        arr.extend_from_slice(&struct_bytes(&p));
        keep.push(value);
    }
    (arr, keep)
}

/// `CK_SP800_108_KDF_PARAMS` (counter and double-pipeline modes), no additional keys.
pub(super) fn sp800_108(ty: CK_MECHANISM_TYPE, prf: CK_MECHANISM_TYPE, data: &[Prf]) -> Mech {
    let (mut arr, mut keep) = prf_params(data);
    let p = CK_SP800_108_KDF_PARAMS {
        prfType: prf,
        ulNumberOfDataParams: data.len() as CK_ULONG,
        pDataParams: ptr_of(&mut arr) as *mut CK_PRF_DATA_PARAM,
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: ptr::null_mut(),
    };
    keep.push(arr);
    Mech::with_parts(ty, struct_bytes(&p), keep)
}

/// `CK_SP800_108_FEEDBACK_KDF_PARAMS`, no additional keys.
pub(super) fn sp800_108_feedback(prf: CK_MECHANISM_TYPE, data: &[Prf], iv: &[u8]) -> Mech {
    let (mut arr, mut keep) = prf_params(data);
    let mut iv = iv.to_vec();
    let p = CK_SP800_108_FEEDBACK_KDF_PARAMS {
        prfType: prf,
        ulNumberOfDataParams: data.len() as CK_ULONG,
        pDataParams: ptr_of(&mut arr) as *mut CK_PRF_DATA_PARAM,
        ulIVLen: iv.len() as CK_ULONG,
        pIV: ptr_of(&mut iv),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: ptr::null_mut(),
    };
    keep.push(arr);
    keep.push(iv);
    Mech::with_parts(CKM_SP800_108_FEEDBACK_KDF, struct_bytes(&p), keep)
}
