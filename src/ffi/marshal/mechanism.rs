//! Mechanisms and their parameter structs: `CK_MECHANISM` → [`Mechanism`], one
//! typed decoder per [`ParamKind`], and the per-message `CK_GCM_MESSAGE_PARAMS`
//! of the message-based functions. Same contract as the parent module.

use super::plain::{self, PlainData};
use super::{bytes_or, fallible_copy, out_ptr, to_ulong, to_usize};
use crate::abi::{CK_SOFTKMS_ENVELOPE_PARAMS, CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS};
use crate::error::{Error, Result};
use crate::kms::envelope::MAX_CONTEXT_LEN;
use crate::mechanism::kdf::sp800_108::{
    AdditionalKey, CounterFormat, DkmFormat, KbkdfParams, PrfData, MAX_ADDITIONAL_KEYS,
    MAX_DATA_PARAMS,
};
use crate::mechanism::{registry, Mechanism, Param, ParamKind};
use cryptoki_sys::*;
use std::ffi::c_void;
use std::mem::size_of;

pub(in crate::ffi) use crate::mechanism::limits::{
    GCM_MAX_TAG_BITS, MAX_EC_POINT_LEN, MAX_EDDSA_CONTEXT_LEN, MAX_IV_LEN, MAX_KBKDF_INPUT,
    MAX_PARAM_DATA_LEN, MAX_SIGN_CONTEXT_LEN,
};

/// `CK_MECHANISM_PTR` → [`Mechanism`]: null is `CKR_ARGUMENTS_BAD`, an unknown
/// type `CKR_MECHANISM_INVALID`; the parameter is decoded by the registered
/// [`ParamKind`].
pub(in crate::ffi) unsafe fn mechanism(p: *const CK_MECHANISM) -> Result<Mechanism> {
    let m = out_ptr(p.cast_mut())?;
    // SAFETY: non-null; a CK_MECHANISM by contract.
    let raw = unsafe { plain::read(m.0.cast_const()) };
    let def = registry::get(raw.mechanism)?;
    // SAFETY: pParameter holds ulParameterLen bytes by contract.
    let param = unsafe { param(def.param, raw.pParameter, raw.ulParameterLen) }?;
    Ok(Mechanism {
        mech: raw.mechanism,
        param,
    })
}

/// The mechanism of `C_MessageEncryptInit`/`C_MessageDecryptInit`: the type is
/// checked against the registry; the parameter is ignored (the per-message
/// parameter comes with each message), so `param` is [`Param::None`].
pub(in crate::ffi) unsafe fn message_mechanism(p: *const CK_MECHANISM) -> Result<Mechanism> {
    let m = out_ptr(p.cast_mut())?;
    // SAFETY: non-null; a CK_MECHANISM by contract.
    let raw = unsafe { plain::read(m.0.cast_const()) };
    registry::get(raw.mechanism)?;
    Ok(Mechanism {
        mech: raw.mechanism,
        param: Param::None,
    })
}

/// A parameter's bytes, at most `max` of them: a longer length, or a null
/// pointer with a non-zero length, is `CKR_MECHANISM_PARAM_INVALID`. The length
/// is compared with `max` before the bytes are read or copied.
unsafe fn pbytes(p: *const u8, len: CK_ULONG, max: usize) -> Result<Vec<u8>> {
    // SAFETY: same contract as ours.
    unsafe { bytes_max(p, len, max, Error::MechanismParamInvalid) }
}

/// A copy of `len` bytes at `p`, `err` when `len` is beyond `max` (checked
/// first) or `p` is null with `len > 0`.
unsafe fn bytes_max(p: *const u8, len: CK_ULONG, max: usize, err: Error) -> Result<Vec<u8>> {
    if to_usize(len, &err)? > max {
        return Err(err);
    }
    // SAFETY: same contract as ours; `len` is within `max`.
    fallible_copy(unsafe { bytes_or(p, len, err) }?)
}

/// Reads a parameter struct: null or `len != size_of::<T>()` is `err`. `T` is
/// [`PlainData`], so the caller's bytes are always a valid `T`.
unsafe fn read_struct<T: PlainData>(p: *const c_void, len: CK_ULONG, err: Error) -> Result<T> {
    if p.is_null() || usize::try_from(len) != Ok(size_of::<T>()) {
        return Err(err);
    }
    // SAFETY: non-null, `size_of::<T>()` readable bytes by contract.
    Ok(unsafe { plain::read(p.cast::<T>()) })
}

/// Decodes a mechanism parameter by its kind. Wrong struct sizes and null inner
/// pointers with non-zero lengths are `CKR_MECHANISM_PARAM_INVALID`.
pub(in crate::ffi) unsafe fn param(
    kind: ParamKind,
    p: *const c_void,
    len: CK_ULONG,
) -> Result<Param> {
    let bad = || Error::MechanismParamInvalid;
    // SAFETY: `p` holds `len` bytes by contract, and the
    // inner pointers of the struct hold their stated lengths.
    unsafe {
        match kind {
            ParamKind::None if len == 0 => Ok(Param::None),
            ParamKind::None => Err(bad()),
            ParamKind::OptionalBytes if len == 0 => Ok(Param::None),
            ParamKind::Bytes | ParamKind::OptionalBytes => {
                Ok(Param::Bytes(pbytes(p.cast(), len, MAX_IV_LEN)?))
            }
            ParamKind::Ulong => Ok(Param::Ulong(read_struct::<CK_MAC_GENERAL_PARAMS>(
                p,
                len,
                bad(),
            )?)),
            ParamKind::Gcm => {
                let s: CK_GCM_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::Gcm {
                    iv: pbytes(s.pIv, s.ulIvLen, MAX_IV_LEN)?,
                    aad: pbytes(s.pAAD, s.ulAADLen, MAX_PARAM_DATA_LEN)?,
                    tag_bits: s.ulTagBits,
                })
            }
            ParamKind::Ctr => {
                let s: CK_AES_CTR_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::Ctr {
                    counter_bits: s.ulCounterBits,
                    cb: s.cb,
                })
            }
            ParamKind::Pss => {
                let s: CK_RSA_PKCS_PSS_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::Pss {
                    hash: s.hashAlg,
                    mgf: s.mgf,
                    salt_len: s.sLen,
                })
            }
            ParamKind::Oaep => oaep(&read_struct(p, len, bad())?),
            ParamKind::RsaAesKeyWrap => {
                let s: CK_RSA_AES_KEY_WRAP_PARAMS = read_struct(p, len, bad())?;
                let inner = read_struct(
                    s.pOAEPParams.cast(),
                    to_ulong(size_of::<CK_RSA_PKCS_OAEP_PARAMS>())?,
                    bad(),
                )?;
                let Param::Oaep { hash, mgf, label } = oaep(&inner)? else {
                    return Err(bad());
                };
                Ok(Param::RsaAesKeyWrap {
                    aes_key_bits: s.ulAESKeyBits,
                    hash,
                    mgf,
                    label,
                })
            }
            ParamKind::Ecdh1 => {
                let s: CK_ECDH1_DERIVE_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::Ecdh1 {
                    kdf: s.kdf,
                    shared_data: pbytes(s.pSharedData, s.ulSharedDataLen, MAX_PARAM_DATA_LEN)?,
                    public_data: pbytes(s.pPublicData, s.ulPublicDataLen, MAX_EC_POINT_LEN)?,
                })
            }
            ParamKind::Eddsa if p.is_null() && len == 0 => Ok(Param::None),
            ParamKind::Eddsa => {
                let s: CK_EDDSA_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::Eddsa {
                    ph: s.phFlag != CK_FALSE,
                    context: pbytes(s.pContextData, s.ulContextDataLen, MAX_EDDSA_CONTEXT_LEN)?,
                })
            }
            ParamKind::Hkdf => {
                let s: CK_HKDF_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::Hkdf {
                    extract: s.bExtract != CK_FALSE,
                    expand: s.bExpand != CK_FALSE,
                    prf_hash: s.prfHashMechanism,
                    salt_type: s.ulSaltType,
                    salt: pbytes(s.pSalt, s.ulSaltLen, MAX_PARAM_DATA_LEN)?,
                    salt_key: s.hSaltKey,
                    info: pbytes(s.pInfo, s.ulInfoLen, MAX_PARAM_DATA_LEN)?,
                })
            }
            ParamKind::StringData => {
                let s: CK_KEY_DERIVATION_STRING_DATA = read_struct(p, len, bad())?;
                Ok(Param::Bytes(pbytes(s.pData, s.ulLen, MAX_PARAM_DATA_LEN)?))
            }
            ParamKind::ObjectHandle => {
                Ok(Param::Key(read_struct::<CK_OBJECT_HANDLE>(p, len, bad())?))
            }
            ParamKind::AesCbcEncryptData => {
                let s: CK_AES_CBC_ENCRYPT_DATA_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::AesCbcEncryptData {
                    iv: s.iv,
                    data: pbytes(s.pData, s.length, MAX_PARAM_DATA_LEN)?,
                })
            }
            ParamKind::Sp800108 => {
                let s: CK_SP800_108_KDF_PARAMS = read_struct(p, len, bad())?;
                kbkdf(
                    s.prfType,
                    (s.pDataParams, s.ulNumberOfDataParams),
                    Vec::new(),
                    (s.pAdditionalDerivedKeys, s.ulAdditionalDerivedKeys),
                )
            }
            ParamKind::Sp800108Feedback => {
                let s: CK_SP800_108_FEEDBACK_KDF_PARAMS = read_struct(p, len, bad())?;
                // §2.42.2: a null pIV goes with ulIVLen 0, and only with it.
                if s.pIV.is_null() != (s.ulIVLen == 0) {
                    return Err(bad());
                }
                kbkdf(
                    s.prfType,
                    (s.pDataParams, s.ulNumberOfDataParams),
                    pbytes(s.pIV, s.ulIVLen, MAX_KBKDF_INPUT)?,
                    (s.pAdditionalDerivedKeys, s.ulAdditionalDerivedKeys),
                )
            }
            ParamKind::GcmMessage => {
                let s: CK_GCM_MESSAGE_PARAMS = read_struct(p, len, bad())?;
                gcm_message(&s, false, bad())
            }
            ParamKind::Envelope if p.is_null() && len == 0 => Ok(Param::Envelope {
                context: Vec::new(),
            }),
            // The encryption context goes into every audit record of the call:
            // at most `kms::envelope::MAX_CONTEXT_LEN` (8 KiB, as AWS KMS).
            ParamKind::Envelope => {
                let s: CK_SOFTKMS_ENVELOPE_PARAMS = read_struct(p, len, bad())?;
                Ok(Param::Envelope {
                    context: pbytes(s.pContext, s.ulContextLen, MAX_CONTEXT_LEN)?,
                })
            }
            ParamKind::SignContext if p.is_null() && len == 0 => Ok(Param::None),
            ParamKind::SignContext => {
                let s: CK_SIGN_ADDITIONAL_CONTEXT = read_struct(p, len, bad())?;
                Ok(Param::SignContext {
                    hedge: s.hedgeVariant,
                    context: pbytes(s.pContext, s.ulContextLen, MAX_SIGN_CONTEXT_LEN)?,
                })
            }
            ParamKind::HashSignContext => {
                let s: CK_HASH_SIGN_ADDITIONAL_CONTEXT = read_struct(p, len, bad())?;
                Ok(Param::HashSignContext {
                    hedge: s.hedgeVariant,
                    context: pbytes(s.pContext, s.ulContextLen, MAX_SIGN_CONTEXT_LEN)?,
                    hash: s.hash,
                })
            }
            ParamKind::GenerateDataKey => {
                let s: CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS = read_struct(p, len, bad())?;
                let capacity = if s.pWrappedKey.is_null() {
                    None
                } else {
                    Some(to_usize(s.ulWrappedKeyLen, &bad())?)
                };
                // `ulWrappedKeyLen` is the size of the caller's output buffer: never
                // allocated, only compared with the wrapped key's length.
                Ok(Param::GenerateDataKey {
                    context: pbytes(s.pContext, s.ulContextLen, MAX_CONTEXT_LEN)?,
                    capacity,
                    wrapped: Vec::new(),
                    needed: 0,
                })
            }
        }
    }
}

/// A `CK_BBOOL` that must be `CK_TRUE` or `CK_FALSE`.
fn strict_bool(b: CK_BBOOL) -> Result<bool> {
    match b {
        CK_FALSE => Ok(false),
        CK_TRUE => Ok(true),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// An array of `count` `T`s at `p` for a mechanism parameter: more than `max`,
/// or a null pointer with a non-zero count, or a pointer with a zero count, is
/// `CKR_MECHANISM_PARAM_INVALID`. Returns the count.
fn param_array<T>(p: *const T, count: CK_ULONG, max: usize) -> Result<usize> {
    let n = to_usize(count, &Error::MechanismParamInvalid)?;
    if n > max || p.is_null() != (n == 0) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(n)
}

/// One `CK_PRF_DATA_PARAM` (PKCS#11 3.0 §2.42.2): its `pValue` must be the
/// struct its type names, or the non-empty byte array; the iteration variable
/// may have no value (feedback and double-pipeline modes). Anything else is
/// `CKR_MECHANISM_PARAM_INVALID`; the mode's rules are the mechanism's.
unsafe fn prf_data(d: &CK_PRF_DATA_PARAM, budget: &mut usize) -> Result<PrfData> {
    let bad = || Error::MechanismParamInvalid;
    let counter = |d: &CK_PRF_DATA_PARAM| -> Result<CounterFormat> {
        // SAFETY: pValue holds ulValueLen bytes by contract, and `read_struct`
        // checks that this is the struct's size.
        let f: CK_SP800_108_COUNTER_FORMAT =
            unsafe { read_struct(d.pValue.cast_const(), d.ulValueLen, bad()) }?;
        Ok(CounterFormat {
            little_endian: strict_bool(f.bLittleEndian)?,
            bits: f.ulWidthInBits,
        })
    };
    Ok(match d.type_ {
        CK_SP800_108_ITERATION_VARIABLE if d.pValue.is_null() && d.ulValueLen == 0 => {
            PrfData::Iteration(None)
        }
        CK_SP800_108_ITERATION_VARIABLE => PrfData::Iteration(Some(counter(d)?)),
        CK_SP800_108_COUNTER => PrfData::Counter(counter(d)?),
        CK_SP800_108_DKM_LENGTH => {
            // SAFETY: as for the counter format.
            let f: CK_SP800_108_DKM_LENGTH_FORMAT =
                unsafe { read_struct(d.pValue.cast_const(), d.ulValueLen, bad()) }?;
            PrfData::DkmLength(DkmFormat {
                method: f.dkmLengthMethod,
                little_endian: strict_bool(f.bLittleEndian)?,
                bits: f.ulWidthInBits,
            })
        }
        CK_SP800_108_BYTE_ARRAY if d.ulValueLen > 0 => {
            // SAFETY: pValue holds ulValueLen bytes by contract; at most what
            // is left of the budget is copied.
            let b = unsafe { pbytes(d.pValue.cast_const().cast(), d.ulValueLen, *budget) }?;
            *budget -= b.len();
            PrfData::Bytes(b)
        }
        _ => return Err(bad()),
    })
}

/// The common part of `CK_SP800_108_KDF_PARAMS` and
/// `CK_SP800_108_FEEDBACK_KDF_PARAMS`: the data parameters (at most
/// [`MAX_DATA_PARAMS`]) and the additional keys (at most
/// [`MAX_ADDITIONAL_KEYS`], each with a non-null `phKey` and a template).
unsafe fn kbkdf(
    prf: CK_MECHANISM_TYPE,
    (pd, nd): (*mut CK_PRF_DATA_PARAM, CK_ULONG),
    iv: Vec<u8>,
    (pk, nk): (*mut CK_DERIVED_KEY, CK_ULONG),
) -> Result<Param> {
    let nd = param_array(pd, nd, MAX_DATA_PARAMS)?;
    let mut data = Vec::with_capacity(nd);
    let mut budget = MAX_KBKDF_INPUT
        .checked_sub(iv.len())
        .ok_or(Error::MechanismParamInvalid)?;
    for i in 0..nd {
        // SAFETY: pDataParams holds ulNumberOfDataParams (= nd) structs by contract.
        let d = unsafe { plain::read(pd.add(i)) };
        // SAFETY: the struct's pValue holds ulValueLen bytes by contract.
        data.push(unsafe { prf_data(&d, &mut budget) }?);
    }
    let nk = param_array(pk, nk, MAX_ADDITIONAL_KEYS)?;
    let mut additional = Vec::with_capacity(nk);
    // The additional keys' templates share one template's byte budget.
    let mut template_budget = super::MAX_TEMPLATE_BYTES;
    for i in 0..nk {
        // SAFETY: pAdditionalDerivedKeys holds ulAdditionalDerivedKeys (= nk)
        // structs by contract.
        let k = unsafe { plain::read(pk.add(i)) };
        if k.phKey.is_null() {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: pTemplate holds ulAttributeCount attributes by contract.
        let template = unsafe {
            super::template_with_budget(k.pTemplate, k.ulAttributeCount, &mut template_budget)
        }?;
        additional.push(AdditionalKey {
            template,
            len: None,
            value: None,
            handle: CK_INVALID_HANDLE,
        });
    }
    Ok(Param::Kbkdf(Box::new(KbkdfParams {
        prf,
        data,
        iv,
        additional,
    })))
}

/// `CK_RSA_PKCS_OAEP_PARAMS`: the source is `CKZ_DATA_SPECIFIED` (the label is
/// `pSourceData`), or 0 with no data.
unsafe fn oaep(s: &CK_RSA_PKCS_OAEP_PARAMS) -> Result<Param> {
    let label = match s.source {
        CKZ_DATA_SPECIFIED => {
            // SAFETY: pSourceData holds ulSourceDataLen bytes by contract.
            unsafe { pbytes(s.pSourceData.cast(), s.ulSourceDataLen, MAX_PARAM_DATA_LEN) }?
        }
        0 if s.ulSourceDataLen == 0 => Vec::new(),
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(Param::Oaep {
        hash: s.hashAlg,
        mgf: s.mgf,
        label,
    })
}

/// Tag length in bytes for a tag length in bits.
fn tag_bytes(bits: CK_ULONG, err: &Error) -> Result<usize> {
    to_usize(bits.div_ceil(8), err)
}

/// Checks the sizes of a `CK_GCM_MESSAGE_PARAMS` against their limits:
/// `ulIvLen` beyond [`MAX_IV_LEN`] or `ulTagBits` beyond [`GCM_MAX_TAG_BITS`]
/// is `CKR_MECHANISM_PARAM_INVALID`, before either buffer is read. (Issue 12:
/// `ulTagBits = 2^63` used to become a copy of 2^60 bytes, which aborts the host.)
fn gcm_message_sizes(s: &CK_GCM_MESSAGE_PARAMS) -> Result<()> {
    let iv_ok = usize::try_from(s.ulIvLen).is_ok_and(|n| n <= MAX_IV_LEN);
    if !iv_ok || s.ulTagBits > GCM_MAX_TAG_BITS {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(())
}

/// `CK_GCM_MESSAGE_PARAMS` → [`Param::GcmMessage`]. The IV is always read (with
/// `CKG_GENERATE_COUNTER` its fixed bits are input); the tag is read only when
/// `read_tag` (decryption). Sizes beyond their limits are
/// `CKR_MECHANISM_PARAM_INVALID` ([`gcm_message_sizes`]); null pointers with
/// non-zero lengths are `err`.
unsafe fn gcm_message(s: &CK_GCM_MESSAGE_PARAMS, read_tag: bool, err: Error) -> Result<Param> {
    gcm_message_sizes(s)?;
    // SAFETY: pIv holds ulIvLen (<= MAX_IV_LEN) bytes by contract.
    let iv = unsafe { bytes_max(s.pIv, s.ulIvLen, MAX_IV_LEN, err.clone()) }?;
    let tag = if read_tag {
        let n = tag_bytes(s.ulTagBits, &err)?;
        // SAFETY: pTag holds ulTagBits / 8 (<= 16) bytes by contract.
        unsafe { bytes_max(s.pTag, to_ulong(n)?, n, err) }?
    } else {
        Vec::new()
    };
    Ok(Param::GcmMessage {
        iv,
        iv_fixed_bits: s.ulIvFixedBits,
        iv_generator: s.ivGenerator,
        tag_bits: s.ulTagBits,
        tag,
    })
}

/// The caller's per-message `CK_GCM_MESSAGE_PARAMS` (`C_EncryptMessage` …):
/// decoded on the way in, generated IV and tag written back on the way out.
pub(in crate::ffi) struct MessageParam {
    s: CK_GCM_MESSAGE_PARAMS,
    encrypt: bool,
    /// The decoded parameter the module reads and fills.
    pub(in crate::ffi) param: Param,
}

/// Decodes a per-message parameter. Its size must be that of
/// `CK_GCM_MESSAGE_PARAMS`, and its pointers must be non-null where their
/// lengths are not zero (an encryption's `pTag` must be there to receive the
/// tag); otherwise `CKR_ARGUMENTS_BAD`, the code the message functions list for
/// bad arguments (PKCS#11 3.0 §5.9.2, §5.11.2). An IV or tag length beyond its
/// limit is `CKR_MECHANISM_PARAM_INVALID`, as the mechanism answers for a tag
/// length it does not take.
pub(in crate::ffi) unsafe fn message_param(
    p: *mut c_void,
    len: CK_ULONG,
    encrypt: bool,
) -> Result<MessageParam> {
    // SAFETY: pParameter holds ulParameterLen bytes by contract.
    let s: CK_GCM_MESSAGE_PARAMS = unsafe { read_struct(p, len, Error::ArgumentsBad) }?;
    gcm_message_sizes(&s)?;
    if encrypt && s.pTag.is_null() && tag_bytes(s.ulTagBits, &Error::ArgumentsBad)? > 0 {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: the struct's pointers hold their stated lengths by contract.
    let param = unsafe { gcm_message(&s, !encrypt, Error::ArgumentsBad) }?;
    Ok(MessageParam { s, encrypt, param })
}

impl MessageParam {
    /// After a successful call: copies a generated IV into `pIv` and, for
    /// encryption, a produced tag into `pTag`. An IV whose length changed, or a
    /// tag longer than `ulTagBits`, is an internal error.
    pub(in crate::ffi) unsafe fn write_back(&self) -> Result<()> {
        let Param::GcmMessage { iv, tag, .. } = &self.param else {
            return Err(Error::General("message parameter changed its kind".into()));
        };
        if self.s.ivGenerator != CKG_NO_GENERATE && !iv.is_empty() {
            if to_ulong(iv.len())? != self.s.ulIvLen || self.s.pIv.is_null() {
                return Err(Error::General(
                    "generated IV does not fit the caller's buffer".into(),
                ));
            }
            // SAFETY: pIv holds ulIvLen == iv.len() writable bytes by contract; our
            // vector is disjoint from it.
            unsafe { std::ptr::copy_nonoverlapping(iv.as_ptr(), self.s.pIv, iv.len()) };
        }
        if self.encrypt && !tag.is_empty() {
            if tag.len() > tag_bytes(self.s.ulTagBits, &Error::ArgumentsBad)?
                || self.s.pTag.is_null()
            {
                return Err(Error::General(
                    "tag does not fit the caller's buffer".into(),
                ));
            }
            // SAFETY: pTag holds ulTagBits / 8 >= tag.len() writable bytes by contract.
            unsafe { std::ptr::copy_nonoverlapping(tag.as_ptr(), self.s.pTag, tag.len()) };
        }
        Ok(())
    }
}

/// After `C_DeriveKey` (whatever its outcome, `ok` telling which): writes
/// the output fields of a parameter that has them.
/// `CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS`: the wrapped key and its length, or
/// just the needed length after `CKR_BUFFER_TOO_SMALL` (nothing after another
/// error). The SP 800-108 parameters: each additional key's handle into its
/// `phKey`, `CK_INVALID_HANDLE` when the call failed (PKCS#11 3.0 §2.42.7:
/// all keys are made or none).
pub(in crate::ffi) unsafe fn write_back_derive(
    p: *const CK_MECHANISM,
    param: &Param,
    ok: bool,
    too_small: bool,
) -> Result<()> {
    if let Param::Kbkdf(k) = param {
        // SAFETY: same contract as ours.
        return unsafe { write_back_kbkdf(p, k, ok) };
    }
    if !ok && !too_small {
        return Ok(());
    }
    let Param::GenerateDataKey {
        capacity,
        wrapped,
        needed,
        ..
    } = param
    else {
        return Ok(());
    };
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: pMechanism is a CK_MECHANISM (checked when it was decoded).
    let m = unsafe { plain::read(p) };
    let sp = m.pParameter.cast::<CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS>();
    if sp.is_null() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: the parameter was read as this struct, so it is that many bytes.
    let mut s = unsafe { plain::read(sp.cast_const()) };
    if !wrapped.is_empty()
        && capacity.is_some_and(|c| c >= wrapped.len())
        && !s.pWrappedKey.is_null()
    {
        // SAFETY: pWrappedKey holds ulWrappedKeyLen (= capacity) bytes by contract.
        unsafe { std::ptr::copy_nonoverlapping(wrapped.as_ptr(), s.pWrappedKey, wrapped.len()) };
    }
    s.ulWrappedKeyLen = to_ulong(*needed)?;
    // SAFETY: as above; the caller's struct is writable (it holds outputs).
    unsafe { sp.write_unaligned(s) };
    Ok(())
}

/// The handles of the additional keys an SP 800-108 derivation made (none
/// for another parameter).
pub(in crate::ffi) fn additional_handles(param: &Param) -> Vec<CK_OBJECT_HANDLE> {
    match param {
        Param::Kbkdf(k) => k
            .additional
            .iter()
            .map(|a| a.handle)
            .filter(|h| *h != CK_INVALID_HANDLE)
            .collect(),
        _ => Vec::new(),
    }
}

/// The handles of the additional keys of an SP 800-108 derivation, written to
/// the `phKey` of each `CK_DERIVED_KEY` the parameter held when it was read.
unsafe fn write_back_kbkdf(p: *const CK_MECHANISM, k: &KbkdfParams, ok: bool) -> Result<()> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: pMechanism is a CK_MECHANISM (checked when it was decoded).
    let m = unsafe { plain::read(p) };
    let def = registry::get(m.mechanism)?;
    let (pk, nk) = match def.param {
        ParamKind::Sp800108 => {
            // SAFETY: the parameter was read as this struct, so it is that many bytes.
            let s: CK_SP800_108_KDF_PARAMS = unsafe { plain::read(m.pParameter.cast()) };
            (s.pAdditionalDerivedKeys, s.ulAdditionalDerivedKeys)
        }
        ParamKind::Sp800108Feedback => {
            // SAFETY: as above.
            let s: CK_SP800_108_FEEDBACK_KDF_PARAMS = unsafe { plain::read(m.pParameter.cast()) };
            (s.pAdditionalDerivedKeys, s.ulAdditionalDerivedKeys)
        }
        _ => return Err(Error::General("KBKDF output for another mechanism".into())),
    };
    if to_usize(nk, &Error::MechanismParamInvalid)? != k.additional.len() {
        return Err(Error::General(
            "the additional keys changed under the call".into(),
        ));
    }
    for (i, a) in k.additional.iter().enumerate() {
        // SAFETY: pAdditionalDerivedKeys holds ulAdditionalDerivedKeys structs
        // (checked when decoded, and the count is the same).
        let d = unsafe { plain::read(pk.add(i)) };
        if d.phKey.is_null() {
            return Err(Error::MechanismParamInvalid);
        }
        let h = if ok { a.handle } else { CK_INVALID_HANDLE };
        // SAFETY: phKey is a writable CK_OBJECT_HANDLE by contract (non-null, checked).
        unsafe { d.phKey.write_unaligned(h) };
    }
    Ok(())
}
