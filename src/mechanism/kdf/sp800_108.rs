//! The NIST SP 800-108 KDFs (PKCS#11 3.0 current mechanisms §2.42):
//! `CKM_SP800_108_COUNTER_KDF` and `CKM_SP800_108_DOUBLE_PIPELINE_KDF` with a
//! `CK_SP800_108_KDF_PARAMS`, `CKM_SP800_108_FEEDBACK_KDF` with a
//! `CK_SP800_108_FEEDBACK_KDF_PARAMS` (and its optional IV).
//!
//! - PRFs: `CKM_SHA_1_HMAC`, `CKM_SHA224_HMAC` … `CKM_SHA512_HMAC`,
//!   `CKM_SHA3_224_HMAC` … `CKM_SHA3_512_HMAC` (base key `CKK_GENERIC_SECRET`
//!   or an HMAC key type) and `CKM_AES_CMAC` (base key `CKK_AES`, 16, 24 or 32
//!   bytes). Another PRF is `CKR_MECHANISM_PARAM_INVALID`, a base key of
//!   another type `CKR_KEY_TYPE_INCONSISTENT`.
//! - The PRF input is the concatenation of the `CK_PRF_DATA_PARAM`s in order
//!   (§2.42.9). Their rules (§2.42.3–2.42.5), each broken one
//!   `CKR_MECHANISM_PARAM_INVALID`: exactly one iteration variable, which in
//!   counter mode carries a `CK_SP800_108_COUNTER_FORMAT` and elsewhere none
//!   (it is K(i-1) in feedback mode, A(i) in double-pipeline mode); no
//!   `CK_SP800_108_COUNTER` in counter mode, at most one elsewhere; at most one
//!   `CK_SP800_108_DKM_LENGTH`; byte arrays non-empty. Counters are 8, 16, 24
//!   or 32 bits wide, DKM lengths 8 to 64 bits in whole bytes; a method other
//!   than `SUM_OF_KEYS`/`SUM_OF_SEGMENTS` is refused. `CK_SP800_108_KEY_HANDLE`
//!   (PKCS#11 3.1) is not taken.
//! - Keys: the template's key first, then the additional keys
//!   (`CK_DERIVED_KEY`) in order, each from its own whole PRF outputs
//!   ("segments", §2.42.7). Every key needs a length (`CKA_VALUE_LEN`, else
//!   `CKR_TEMPLATE_INCOMPLETE`). The DKM length L is the sum of the keys
//!   (`SUM_OF_KEYS`) or of their segments (`SUM_OF_SEGMENTS`), in bits; an L
//!   that does not fit its width, or more iterations than the counter counts
//!   (2^r - 1; r = 32 without a counter), is `CKR_MECHANISM_PARAM_INVALID`.
//! - The module makes every key or none and writes the additional keys'
//!   handles back ([`AdditionalKey::handle`]); derived keys follow
//!   [`crate::mechanism::DerivedAttrs::FromBase`] (§2.42.8).

use crate::crypto::aes::Cmac;
use crate::crypto::hash::{HashAlg, Hmac};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::aes::aes_key;
use crate::mechanism::mac::{key_value, MAX_KEY};
use crate::mechanism::{KeyLookup, Mechanism, Param};
use crate::object::attr::Template;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The most additional keys one call may derive.
pub(crate) const MAX_ADDITIONAL_KEYS: usize = 64;

/// The most `CK_PRF_DATA_PARAM`s one call may give.
pub(crate) const MAX_DATA_PARAMS: usize = 256;

/// `CK_SP800_108_COUNTER_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CounterFormat {
    /// `bLittleEndian`.
    pub little_endian: bool,
    /// `ulWidthInBits`.
    pub bits: CK_ULONG,
}

/// `CK_SP800_108_DKM_LENGTH_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DkmFormat {
    /// `dkmLengthMethod`.
    pub method: CK_ULONG,
    /// `bLittleEndian`.
    pub little_endian: bool,
    /// `ulWidthInBits`.
    pub bits: CK_ULONG,
}

/// One `CK_PRF_DATA_PARAM`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PrfData {
    /// `CK_SP800_108_ITERATION_VARIABLE` (with a counter format in counter mode).
    Iteration(Option<CounterFormat>),
    /// `CK_SP800_108_COUNTER`.
    Counter(CounterFormat),
    /// `CK_SP800_108_DKM_LENGTH`.
    DkmLength(DkmFormat),
    /// `CK_SP800_108_BYTE_ARRAY`.
    Bytes(Vec<u8>),
}

/// Derived key bytes carried in a parameter; `Debug` does not print them.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub Zeroizing<Vec<u8>>);

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBytes(..)")
    }
}

/// One `CK_DERIVED_KEY`: its template on the way in; the module fills the
/// rest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdditionalKey {
    /// `pTemplate`.
    pub template: Template,
    /// Its length (`CKA_VALUE_LEN`), from the template as the module merged it
    /// (never taken from a remote client).
    #[serde(skip)]
    pub len: Option<usize>,
    /// The derived bytes, set by the mechanism (never sent to a remote client).
    #[serde(skip)]
    pub value: Option<KeyBytes>,
    /// The new key's handle, written to `phKey` (`CK_INVALID_HANDLE` unless
    /// every key was made).
    pub handle: CK_OBJECT_HANDLE,
}

/// `CK_SP800_108_KDF_PARAMS` / `CK_SP800_108_FEEDBACK_KDF_PARAMS`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KbkdfParams {
    /// `prfType`.
    pub prf: CK_MECHANISM_TYPE,
    /// `pDataParams`.
    pub data: Vec<PrfData>,
    /// `pIV` of the feedback mode (empty without one).
    pub iv: Vec<u8>,
    /// `pAdditionalDerivedKeys`.
    pub additional: Vec<AdditionalKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Counter,
    Feedback,
    Pipeline,
}

/// The PRF, keyed once and cloned per invocation. One per derivation, so
/// the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Prf {
    Hmac(Hmac, usize),
    Cmac(Cmac),
}

impl Prf {
    fn new(prf: CK_MECHANISM_TYPE, key: &Granted) -> Result<Self> {
        let alg = match prf {
            CKM_AES_CMAC => {
                if key.key().key_type() != Some(CKK_AES) {
                    return Err(Error::KeyTypeInconsistent);
                }
                let k = aes_key(key, Error::KeySizeRange)?;
                return Ok(Prf::Cmac(Cmac::new(k.aes())));
            }
            CKM_SHA_1_HMAC => (HashAlg::Sha1, CKK_SHA_1_HMAC),
            CKM_SHA224_HMAC => (HashAlg::Sha224, CKK_SHA224_HMAC),
            CKM_SHA256_HMAC => (HashAlg::Sha256, CKK_SHA256_HMAC),
            CKM_SHA384_HMAC => (HashAlg::Sha384, CKK_SHA384_HMAC),
            CKM_SHA512_HMAC => (HashAlg::Sha512, CKK_SHA512_HMAC),
            CKM_SHA3_224_HMAC => (HashAlg::Sha3_224, CKK_SHA3_224_HMAC),
            CKM_SHA3_256_HMAC => (HashAlg::Sha3_256, CKK_SHA3_256_HMAC),
            CKM_SHA3_384_HMAC => (HashAlg::Sha3_384, CKK_SHA3_384_HMAC),
            CKM_SHA3_512_HMAC => (HashAlg::Sha3_512, CKK_SHA3_512_HMAC),
            _ => return Err(Error::MechanismParamInvalid),
        };
        let (alg, hmac_type) = alg;
        let kt = key.key().key_type();
        if kt != Some(CKK_GENERIC_SECRET) && kt != Some(hmac_type) {
            return Err(Error::KeyTypeInconsistent);
        }
        let v = key_value(key, 1, MAX_KEY)?;
        Ok(Prf::Hmac(Hmac::new(alg, v), alg.output_len()))
    }

    fn len(&self) -> usize {
        match self {
            Prf::Hmac(_, n) => *n,
            Prf::Cmac(_) => 16,
        }
    }

    fn run(&self, input: &[u8]) -> Zeroizing<Vec<u8>> {
        match self {
            Prf::Hmac(h, _) => {
                let mut h = h.clone();
                h.update(input);
                h.finalize()
            }
            Prf::Cmac(c) => {
                let mut c = c.clone();
                c.update(input);
                Zeroizing::new(c.finalize().to_vec())
            }
        }
    }
}

/// Checks the data parameters against the mode's rules (module docs); returns
/// the counter's width r.
fn check_data(mode: Mode, data: &[PrfData]) -> Result<u32> {
    let bad = Error::MechanismParamInvalid;
    let count = |f: fn(&PrfData) -> bool| data.iter().filter(|d| f(d)).count();
    if count(|d| matches!(d, PrfData::Iteration(_))) != 1
        || count(|d| matches!(d, PrfData::DkmLength(_))) > 1
        || count(|d| matches!(d, PrfData::Counter(_))) > 1
    {
        return Err(bad);
    }
    let mut r = 32;
    for d in data {
        match (mode, d) {
            (Mode::Counter, PrfData::Iteration(Some(f))) | (_, PrfData::Counter(f)) => {
                if mode == Mode::Counter && matches!(d, PrfData::Counter(_)) {
                    return Err(bad);
                }
                if !matches!(f.bits, 8 | 16 | 24 | 32) {
                    return Err(bad);
                }
                r = u32::try_from(f.bits).map_err(|_| Error::MechanismParamInvalid)?;
            }
            (Mode::Counter, PrfData::Iteration(None)) | (_, PrfData::Iteration(Some(_))) => {
                return Err(bad)
            }
            (_, PrfData::DkmLength(f)) => {
                let method_ok = matches!(
                    f.method,
                    CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS | CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS
                );
                if !method_ok || f.bits == 0 || f.bits > 64 || f.bits % 8 != 0 {
                    return Err(bad);
                }
            }
            (_, PrfData::Bytes(b)) if b.is_empty() => return Err(bad),
            (_, PrfData::Iteration(None) | PrfData::Bytes(_)) => {}
        }
    }
    Ok(r)
}

/// `value` in `bits` bits (a multiple of 8), big or little endian.
fn encode(value: u64, bits: CK_ULONG, little_endian: bool) -> Result<Vec<u8>> {
    let n = usize::try_from(bits / 8).map_err(|_| Error::MechanismParamInvalid)?;
    if bits < 64 && value >> bits != 0 {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(if little_endian {
        value.to_le_bytes()[..n].to_vec()
    } else {
        value.to_be_bytes()[8 - n..].to_vec()
    })
}

/// The PRF input of one iteration: the data parameters in order, the
/// iteration variable being `chain` (or the counter in counter mode), the
/// counter `i`, the DKM length `l` (bits). With `for_iv` (the double-pipeline
/// mode's A chain) the iteration variable and the counter are left out.
fn input(
    data: &[PrfData],
    chain: &[u8],
    i: u64,
    l: u64,
    for_iv: bool,
) -> Result<Zeroizing<Vec<u8>>> {
    // The chaining value of the feedback and double-pipeline modes is key
    // material: the buffer is wiped.
    let mut v = Zeroizing::new(Vec::new());
    for d in data {
        match d {
            PrfData::Iteration(Some(f)) if !for_iv => {
                v.extend(encode(i, f.bits, f.little_endian)?);
            }
            PrfData::Iteration(None) if !for_iv => v.extend_from_slice(chain),
            PrfData::Counter(f) if !for_iv => v.extend(encode(i, f.bits, f.little_endian)?),
            PrfData::Iteration(_) | PrfData::Counter(_) => {}
            PrfData::DkmLength(f) => v.extend(encode(l, f.bits, f.little_endian)?),
            PrfData::Bytes(b) => v.extend_from_slice(b),
        }
    }
    Ok(v)
}

/// Runs the KDF in `mode` for `lens` keys (bytes each): one byte string per
/// key, each from its own segments.
fn kdf(mode: Mode, prf: &Prf, p: &KbkdfParams, lens: &[usize]) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    let r = check_data(mode, &p.data)?;
    let h = prf.len();
    let segments: Vec<usize> = lens.iter().map(|n| n.div_ceil(h)).collect();
    let n: usize = segments.iter().sum();
    let keys: usize = lens.iter().sum();
    if u64::try_from(n).map_err(|_| Error::MechanismParamInvalid)? >= 1u64 << r {
        return Err(Error::MechanismParamInvalid);
    }
    let bits = |bytes: usize| {
        u64::try_from(bytes)
            .ok()
            .and_then(|b| b.checked_mul(8))
            .ok_or(Error::MechanismParamInvalid)
    };
    let l = match p.data.iter().find_map(|d| match d {
        PrfData::DkmLength(f) => Some(f.method),
        _ => None,
    }) {
        Some(CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS) => bits(n * h)?,
        _ => bits(keys)?,
    };
    let mut stream = Zeroizing::new(Vec::with_capacity(n * h));
    let mut chain = Zeroizing::new(p.iv.clone());
    let mut a = Zeroizing::new(Vec::new());
    if mode == Mode::Pipeline {
        a = prf.run(&input(&p.data, &[], 0, l, true)?);
    }
    for i in 1..=n {
        let i = u64::try_from(i).map_err(|_| Error::MechanismParamInvalid)?;
        let k = match mode {
            Mode::Counter => prf.run(&input(&p.data, &[], i, l, false)?),
            Mode::Feedback => prf.run(&input(&p.data, &chain, i, l, false)?),
            Mode::Pipeline => {
                if i > 1 {
                    a = prf.run(&a);
                }
                prf.run(&input(&p.data, &a, i, l, false)?)
            }
        };
        stream.extend_from_slice(&k);
        chain = k;
    }
    let mut out = Vec::with_capacity(lens.len());
    let mut at = 0;
    for (len, segs) in lens.iter().zip(&segments) {
        out.push(Zeroizing::new(stream[at..at + len].to_vec()));
        at += segs * h;
    }
    Ok(out)
}

/// `C_DeriveKey` with an SP 800-108 KDF: the template's key is returned, the
/// additional keys' bytes go into the parameter.
pub(super) fn derive(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Result<Zeroizing<Vec<u8>>> {
    let mode = match mech.mech {
        CKM_SP800_108_COUNTER_KDF => Mode::Counter,
        CKM_SP800_108_FEEDBACK_KDF => Mode::Feedback,
        CKM_SP800_108_DOUBLE_PIPELINE_KDF => Mode::Pipeline,
        _ => return Err(Error::MechanismInvalid),
    };
    let Param::Kbkdf(p) = &mut mech.param else {
        return Err(Error::MechanismParamInvalid);
    };
    let missing = Error::TemplateIncomplete {
        missing: CKA_VALUE_LEN,
    };
    let mut lens = vec![value_len.ok_or(missing.clone())?];
    for a in &p.additional {
        lens.push(a.len.ok_or(missing.clone())?);
    }
    if lens.contains(&0) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let prf = Prf::new(p.prf, base)?;
    let mut keys = kdf(mode, &prf, p, &lens)?.into_iter();
    let first = keys
        .next()
        .ok_or(Error::General("KBKDF made no key".into()))?;
    for (a, k) in p.additional.iter_mut().zip(keys) {
        a.value = Some(KeyBytes(k));
    }
    Ok(first)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
