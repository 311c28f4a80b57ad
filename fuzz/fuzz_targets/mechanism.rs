//! Mechanism parameters through the real C entry points: an input picks an
//! operation, a mechanism, a key and a parameter struct (built here the way a C
//! caller would, with every pointer holding the length stated beside it, or
//! null), then runs the operation to its end. The module may refuse anything; it
//! must not panic, report an internal error, or touch memory it was not given.
//! Some lengths are huge on purpose (`Opt::Huge`, `ParamIn::HugeBytes`, a huge
//! `ulTagBits`): a small real buffer with a stated size beyond every limit the
//! module sets, which it must refuse before it reads or allocates by that size
//! (issue 12: such sizes used to abort the host).
#![no_main]
#![allow(unsafe_code)]

use arbitrary::Arbitrary;
use cryptoki_sys::*;
use libfuzzer_sys::fuzz_target;
use softkms::abi::{
    CK_SOFTKMS_ENVELOPE_PARAMS, CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS, CKM_SOFTKMS_ENVELOPE,
    CKM_SOFTKMS_GENERATE_DATA_KEY,
};
use softkms::internals::mechanism::ParamKind;
use softkms_fuzz::{build, call, check, p11, AttrIn, P11};
use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::null_mut;

#[derive(Arbitrary, Debug)]
enum Op {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    Digest,
    Derive,
    Wrap,
    Unwrap,
    Generate,
    MessageEncrypt,
    MessageDecrypt,
}

#[derive(Arbitrary, Debug)]
enum MechSel {
    Known(u8),
    Raw(u64),
}

#[derive(Arbitrary, Debug)]
enum ParamIn {
    None,
    /// A null pointer with this length.
    Null(u16),
    /// Raw bytes (skipped when their size is that of a struct with pointers).
    Bytes(Vec<u8>),
    /// Raw bytes with a huge `ulParameterLen` (one of [`HUGE`]): refused before
    /// they are read.
    HugeBytes(Vec<u8>, u8),
    Ulong(u64),
    Gcm { iv: Opt, aad: Opt, tag_bits: u64 },
    Ctr { bits: u64, cb: [u8; 16] },
    Pss { hash: u64, mgf: u64, salt: u64 },
    Oaep { hash: u64, mgf: u64, source: u8, label: Opt },
    RsaAesKw { bits: u64, oaep: Option<(u64, u64, u8, Opt)> },
    Ecdh { kdf: u8, shared: Opt, public: Opt },
    Hkdf { extract: bool, expand: bool, prf: u64, salt_type: u8, salt: Opt, salt_key: u8, info: Opt },
    GcmMessage { iv: Opt, fixed_bits: u64, generator: u8, tag_bits: TagBits },
    Envelope(Opt),
    DataKey { context: Opt, capacity: Option<u16> },
}

/// Bytes, or a null pointer with a length, or a real buffer with a huge length.
#[derive(Arbitrary, Debug, Clone)]
enum Opt {
    Bytes(Vec<u8>),
    Null(u8),
    /// A small real buffer whose stated length is one of [`HUGE`] (picked by
    /// the `u8`): beyond every limit the module sets on a parameter field, so it
    /// must be refused before the module reads or allocates by it (issue 12).
    Huge(Vec<u8>, u8),
}

/// Sizes no parameter field may have. The largest limit the module sets on a
/// field is 64 MiB (`MAX_PARAM_DATA_LEN` in `ffi/marshal/mechanism.rs`); each of
/// these is above it, so the module refuses them without touching the buffer,
/// and a read past the buffer would be a real bug (AddressSanitizer reports it).
const HUGE: [u64; 8] = [
    1 << 27,
    1 << 32,
    (1 << 32) - 1,
    1 << 40,
    1 << 61,
    1 << 62,
    1 << 63,
    u64::MAX,
];

/// One of [`HUGE`] by an input's choice.
fn huge(i: u8) -> CK_ULONG {
    HUGE[usize::from(i) % HUGE.len()] as CK_ULONG
}

/// `ulTagBits` of a per-message parameter: any value, or one of [`HUGE`].
#[derive(Arbitrary, Debug, Clone, Copy)]
enum TagBits {
    Any(u64),
    Huge(u8),
}

impl TagBits {
    fn get(self) -> u64 {
        match self {
            TagBits::Any(v) => v,
            TagBits::Huge(i) => HUGE[usize::from(i) % HUGE.len()],
        }
    }
}

/// Pointer and length of a copy kept in `keep` (the module may write into
/// some of these, e.g. a generated IV).
fn raw(o: &Opt, keep: &mut Vec<Vec<u8>>) -> (*mut u8, CK_ULONG) {
    match o {
        Opt::Bytes(v) if v.is_empty() => (null_mut(), 0),
        Opt::Bytes(v) => {
            let mut c = v.clone();
            let r = (c.as_mut_ptr(), c.len() as CK_ULONG);
            keep.push(c);
            r
        }
        Opt::Null(n) => (null_mut(), CK_ULONG::from(*n)),
        Opt::Huge(v, i) => {
            let mut c = v.clone();
            c.push(0);
            let r = (c.as_mut_ptr(), huge(*i));
            keep.push(c);
            r
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    op: Op,
    mech: MechSel,
    param: ParamIn,
    key: u8,
    other_key: u8,
    data: Vec<u8>,
    /// Output buffer size; `None`: ask for the length first.
    out: Option<u16>,
    /// Feed the data in parts of this size (multi-part when set).
    parts: Option<u8>,
    template: Vec<AttrIn>,
    template2: Vec<AttrIn>,
}

const MECHS: &[CK_MECHANISM_TYPE] = &[
    CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM, CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD, CKM_AES_CMAC, CKM_AES_CMAC_GENERAL,
    CKM_AES_ECB_ENCRYPT_DATA, CKM_AES_CBC_ENCRYPT_DATA, CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN,
    CKM_SHA_1, CKM_SHA256, CKM_SHA512, CKM_SHA3_256, CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL,
    CKM_SHA_1_HMAC_GENERAL, CKM_SHA512_HMAC_GENERAL, CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_OAEP,
    CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA1_RSA_PKCS_PSS,
    CKM_RSA_AES_KEY_WRAP, CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE,
    CKM_HKDF_DERIVE, CKM_HKDF_DATA, CKM_HKDF_KEY_GEN, CKM_EC_KEY_PAIR_GEN, CKM_SHA256_KEY_DERIVATION,
    CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY,
];

/// Sizes of the parameter structs that hold pointers: raw bytes of these sizes
/// would be pointers the caller does not own.
/// Every struct the module reads a pointer from is here (`src/ffi/marshal/
/// mechanism.rs`): one left out let raw bytes pose as its pointers, a crash of
/// the harness's making (the smoke run of 2026-12-06 found the ML-DSA and
/// EdDSA context structs missing).
fn pointer_struct_sizes() -> [usize; 16] {
    [
        size_of::<CK_GCM_PARAMS>(),
        size_of::<CK_RSA_PKCS_OAEP_PARAMS>(),
        size_of::<CK_RSA_AES_KEY_WRAP_PARAMS>(),
        size_of::<CK_ECDH1_DERIVE_PARAMS>(),
        size_of::<CK_HKDF_PARAMS>(),
        size_of::<CK_GCM_MESSAGE_PARAMS>(),
        size_of::<CK_SOFTKMS_ENVELOPE_PARAMS>(),
        size_of::<CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS>(),
        size_of::<CK_SIGN_ADDITIONAL_CONTEXT>(),
        size_of::<CK_HASH_SIGN_ADDITIONAL_CONTEXT>(),
        size_of::<CK_EDDSA_PARAMS>(),
        size_of::<CK_KEY_DERIVATION_STRING_DATA>(),
        size_of::<CK_AES_CBC_ENCRYPT_DATA_PARAMS>(),
        size_of::<CK_SP800_108_KDF_PARAMS>(),
        size_of::<CK_SP800_108_FEEDBACK_KDF_PARAMS>(),
        size_of::<CK_AES_CTR_PARAMS>(),
    ]
}

/// A parameter and everything its pointers point into.
struct Param {
    bytes: Vec<u8>,
    null_len: Option<CK_ULONG>,
    /// `ulParameterLen` in place of the bytes' length (a huge one).
    huge_len: Option<CK_ULONG>,
    _keep: Vec<Vec<u8>>,
    _oaep: Option<Box<CK_RSA_PKCS_OAEP_PARAMS>>,
}

fn as_bytes<T>(v: &T) -> Vec<u8> {
    let mut b = vec![0u8; size_of::<T>()];
    // SAFETY: `b` has room for a copy of `v`'s bytes.
    unsafe { std::ptr::copy_nonoverlapping((v as *const T).cast::<u8>(), b.as_mut_ptr(), b.len()) };
    b
}

/// The tag buffer of a `CK_GCM_MESSAGE_PARAMS` with `ulTagBits = bits`: that
/// many bytes when they are few; for a huge `bits` (2^63 aborted the host before
/// issue 12) a 16-byte buffer, which the module must refuse to read or copy by
/// the stated size (no GCM tag is longer than 128 bits).
fn tag_buf(bits: u64) -> Vec<u8> {
    let n = usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX);
    if n <= 4096 {
        vec![0u8; n]
    } else {
        vec![0u8; 16]
    }
}

fn param(p: &ParamIn) -> Option<Param> {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    let mut oaep_box = None;
    let bytes = match p {
        ParamIn::None => Vec::new(),
        ParamIn::Null(n) => {
            return Some(Param {
                bytes: Vec::new(),
                null_len: Some(CK_ULONG::from(*n)),
                huge_len: None,
                _keep: keep,
                _oaep: None,
            })
        }
        ParamIn::HugeBytes(b, i) => {
            let mut bytes = b.clone();
            bytes.push(0);
            return Some(Param { bytes, null_len: None, huge_len: Some(huge(*i)), _keep: keep, _oaep: None });
        }
        ParamIn::Bytes(b) => {
            if pointer_struct_sizes().contains(&b.len()) {
                return None;
            }
            b.clone()
        }
        ParamIn::Ulong(v) => as_bytes(&(*v as CK_ULONG)),
        ParamIn::Gcm { iv, aad, tag_bits } => {
            let (pi, li) = raw(iv, &mut keep);
            let (pa, la) = raw(aad, &mut keep);
            as_bytes(&CK_GCM_PARAMS {
                pIv: pi,
                ulIvLen: li,
                ulIvBits: li.saturating_mul(8),
                pAAD: pa,
                ulAADLen: la,
                ulTagBits: *tag_bits as CK_ULONG,
            })
        }
        ParamIn::Ctr { bits, cb } => as_bytes(&CK_AES_CTR_PARAMS { ulCounterBits: *bits as CK_ULONG, cb: *cb }),
        ParamIn::Pss { hash, mgf, salt } => as_bytes(&CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: *hash as CK_ULONG,
            mgf: *mgf as CK_ULONG,
            sLen: *salt as CK_ULONG,
        }),
        ParamIn::Oaep { hash, mgf, source, label } => {
            let (pl, ll) = raw(label, &mut keep);
            as_bytes(&CK_RSA_PKCS_OAEP_PARAMS {
                hashAlg: *hash as CK_ULONG,
                mgf: *mgf as CK_ULONG,
                source: CK_ULONG::from(*source % 3),
                pSourceData: pl.cast(),
                ulSourceDataLen: ll,
            })
        }
        ParamIn::RsaAesKw { bits, oaep } => {
            let inner = oaep.as_ref().map(|(hash, mgf, source, label)| {
                let (pl, ll) = raw(label, &mut keep);
                Box::new(CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: *hash as CK_ULONG,
                    mgf: *mgf as CK_ULONG,
                    source: CK_ULONG::from(*source % 3),
                    pSourceData: pl.cast(),
                    ulSourceDataLen: ll,
                })
            });
            let po = inner.as_ref().map_or(null_mut(), |b| (&**b as *const CK_RSA_PKCS_OAEP_PARAMS).cast_mut());
            oaep_box = inner;
            as_bytes(&CK_RSA_AES_KEY_WRAP_PARAMS { ulAESKeyBits: *bits as CK_ULONG, pOAEPParams: po })
        }
        ParamIn::Ecdh { kdf, shared, public } => {
            let (ps, ls) = raw(shared, &mut keep);
            let (pp, lp) = raw(public, &mut keep);
            as_bytes(&CK_ECDH1_DERIVE_PARAMS {
                kdf: CK_ULONG::from(*kdf % 12),
                ulSharedDataLen: ls,
                pSharedData: ps,
                ulPublicDataLen: lp,
                pPublicData: pp,
            })
        }
        ParamIn::Hkdf { extract, expand, prf, salt_type, salt, salt_key, info } => {
            let (ps, ls) = raw(salt, &mut keep);
            let (pi, li) = raw(info, &mut keep);
            as_bytes(&CK_HKDF_PARAMS {
                bExtract: u8::from(*extract),
                bExpand: u8::from(*expand),
                prfHashMechanism: *prf as CK_ULONG,
                ulSaltType: CK_ULONG::from(*salt_type % 5),
                pSalt: ps,
                ulSaltLen: ls,
                hSaltKey: p11().key(*salt_key),
                pInfo: pi,
                ulInfoLen: li,
            })
        }
        ParamIn::GcmMessage { iv, fixed_bits, generator, tag_bits } => {
            let (pi, li) = raw(iv, &mut keep);
            let tag_bits = tag_bits.get();
            let tag = tag_buf(tag_bits);
            let pt = if tag.is_empty() { null_mut() } else { tag.as_ptr().cast_mut() };
            keep.push(tag);
            as_bytes(&CK_GCM_MESSAGE_PARAMS {
                pIv: pi,
                ulIvLen: li,
                ulIvFixedBits: *fixed_bits as CK_ULONG,
                ivGenerator: CK_ULONG::from(*generator % 6),
                pTag: pt,
                ulTagBits: tag_bits as CK_ULONG,
            })
        }
        ParamIn::Envelope(c) => {
            let (pc, lc) = raw(c, &mut keep);
            as_bytes(&CK_SOFTKMS_ENVELOPE_PARAMS { pContext: pc, ulContextLen: lc })
        }
        ParamIn::DataKey { context, capacity } => {
            let (pc, lc) = raw(context, &mut keep);
            let (pw, lw) = match capacity {
                Some(n) => {
                    let b = vec![0u8; usize::from(*n)];
                    let r = (b.as_ptr().cast_mut(), CK_ULONG::from(*n));
                    keep.push(b);
                    if *n == 0 { (null_mut(), 0) } else { r }
                }
                None => (null_mut(), 0),
            };
            as_bytes(&CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS {
                pContext: pc,
                ulContextLen: lc,
                pWrappedKey: pw,
                ulWrappedKeyLen: lw,
            })
        }
    };
    Some(Param { bytes, null_len: None, huge_len: None, _keep: keep, _oaep: oaep_box })
}

impl Param {
    fn mechanism(&mut self, mech: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        let (p, l) = match self.null_len {
            Some(n) => (null_mut(), n),
            None if self.huge_len.is_some() => {
                (self.bytes.as_mut_ptr().cast::<c_void>(), self.huge_len.unwrap_or(0))
            }
            None if self.bytes.is_empty() => (null_mut(), 0),
            None => (self.bytes.as_mut_ptr().cast::<c_void>(), self.bytes.len() as CK_ULONG),
        };
        CK_MECHANISM { mechanism: mech, pParameter: p, ulParameterLen: l }
    }
}

/// Output buffer per the input's choice; runs `f(ptr, &mut len)`, asking for
/// the length first when the input says so.
fn with_out(out: Option<u16>, mut f: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV, what: &str) -> CK_RV {
    let cap = match out {
        Some(n) => usize::from(n),
        None => {
            let mut len: CK_ULONG = 0;
            let rv = f(null_mut(), &mut len);
            check(rv, what);
            if rv != CKR_OK {
                return rv;
            }
            // Bounded: a length query may report an upper bound.
            usize::try_from(len).unwrap_or(usize::MAX).min(1 << 20)
        }
    };
    let mut buf = vec![0u8; cap];
    let mut len = cap as CK_ULONG;
    let p = if cap == 0 { null_mut() } else { buf.as_mut_ptr() };
    let rv = if cap == 0 {
        // A zero-length, non-null buffer.
        let mut one = [0u8; 1];
        f(one.as_mut_ptr(), &mut len)
    } else {
        f(p, &mut len)
    };
    check(rv, what);
    if rv == CKR_OK {
        assert!(usize::try_from(len).unwrap_or(usize::MAX) <= cap, "{what}: length beyond the buffer");
    }
    rv
}

fn run(p: &P11, s: CK_SESSION_HANDLE, inp: &Input) {
    let mech = match inp.mech {
        MechSel::Known(i) => MECHS[usize::from(i) % MECHS.len()],
        MechSel::Raw(v) => v as CK_MECHANISM_TYPE,
    };
    if mech == CKM_RSA_PKCS_KEY_PAIR_GEN {
        return; // slow, and not about parameters
    }
    // A struct with pointers goes only with a mechanism that reads that struct: a
    // caller who passes another struct of the same size breaks the contract in a
    // way no module can detect.
    let kind = softkms::internals::mechanism::registry::get(mech).map(|d| d.param).ok();
    let wants = match inp.param {
        ParamIn::Gcm { .. } => Some(ParamKind::Gcm),
        ParamIn::Oaep { .. } => Some(ParamKind::Oaep),
        ParamIn::RsaAesKw { .. } => Some(ParamKind::RsaAesKeyWrap),
        ParamIn::Ecdh { .. } => Some(ParamKind::Ecdh1),
        ParamIn::Hkdf { .. } => Some(ParamKind::Hkdf),
        ParamIn::GcmMessage { .. } => Some(ParamKind::GcmMessage),
        ParamIn::Envelope(_) => Some(ParamKind::Envelope),
        ParamIn::DataKey { .. } => Some(ParamKind::GenerateDataKey),
        _ => None,
    };
    let message = matches!(inp.op, Op::MessageEncrypt | Op::MessageDecrypt);
    if let (Some(w), Some(k)) = (wants, kind) {
        if w != k && !(message && w == ParamKind::GcmMessage) {
            return;
        }
    }
    if message && wants.is_some() && wants != Some(ParamKind::GcmMessage) {
        return;
    }
    let Some(mut param) = param(&inp.param) else { return };
    // Bytes of a pointer struct's size, built as something else (raw bytes, a
    // CTR or PSS struct, a ulong) and given to a mechanism that reads a struct
    // with pointers: those "pointers" would be garbage the caller passes, a
    // broken contract no module can detect.
    let reads_pointers = kind.is_some_and(|k| {
        !matches!(
            k,
            ParamKind::None
                | ParamKind::Bytes
                | ParamKind::OptionalBytes
                | ParamKind::Ulong
                | ParamKind::Ctr
                | ParamKind::Pss
                | ParamKind::ObjectHandle
        )
    });
    let same_kind = wants == kind || (message && wants == Some(ParamKind::GcmMessage));
    if reads_pointers
        && !same_kind
        && param.null_len.is_none()
        && param.huge_len.is_none()
        && pointer_struct_sizes().contains(&param.bytes.len())
    {
        return;
    }
    let mut m = param.mechanism(mech);
    let key = p.key(inp.key);
    let data = &inp.data;
    let (dp, dl) = (data.as_ptr().cast_mut(), data.len() as CK_ULONG);
    let mut t = build(&inp.template);
    let (tp, tl) = t.raw();
    match inp.op {
        Op::Encrypt | Op::Decrypt | Op::Sign | Op::Digest => {
            let rv = match inp.op {
                Op::Encrypt => call!(p, C_EncryptInit, s, &mut m, key),
                Op::Decrypt => call!(p, C_DecryptInit, s, &mut m, key),
                Op::Sign => call!(p, C_SignInit, s, &mut m, key),
                _ => call!(p, C_DigestInit, s, &mut m),
            };
            check(rv, "init");
            if rv != CKR_OK {
                return;
            }
            match inp.parts {
                None => {
                    with_out(
                        inp.out,
                        |o, l| match inp.op {
                            Op::Encrypt => call!(p, C_Encrypt, s, dp, dl, o, l),
                            Op::Decrypt => call!(p, C_Decrypt, s, dp, dl, o, l),
                            Op::Sign => call!(p, C_Sign, s, dp, dl, o, l),
                            _ => call!(p, C_Digest, s, dp, dl, o, l),
                        },
                        "one-shot",
                    );
                }
                Some(n) => {
                    for c in data.chunks(usize::from(n).max(1)) {
                        let (cp, cl) = (c.as_ptr().cast_mut(), c.len() as CK_ULONG);
                        let rv = match inp.op {
                            Op::Sign => call!(p, C_SignUpdate, s, cp, cl),
                            Op::Digest => call!(p, C_DigestUpdate, s, cp, cl),
                            _ => with_out(
                                inp.out,
                                |o, l| {
                                    if matches!(inp.op, Op::Encrypt) {
                                        call!(p, C_EncryptUpdate, s, cp, cl, o, l)
                                    } else {
                                        call!(p, C_DecryptUpdate, s, cp, cl, o, l)
                                    }
                                },
                                "update",
                            ),
                        };
                        check(rv, "update");
                        if rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL {
                            return;
                        }
                    }
                    with_out(
                        inp.out,
                        |o, l| match inp.op {
                            Op::Encrypt => call!(p, C_EncryptFinal, s, o, l),
                            Op::Decrypt => call!(p, C_DecryptFinal, s, o, l),
                            Op::Sign => call!(p, C_SignFinal, s, o, l),
                            _ => call!(p, C_DigestFinal, s, o, l),
                        },
                        "final",
                    );
                }
            }
        }
        Op::Verify => {
            let rv = call!(p, C_VerifyInit, s, &mut m, key);
            check(rv, "C_VerifyInit");
            if rv != CKR_OK {
                return;
            }
            let half = data.len() / 2;
            let (msg, sig) = data.split_at(half);
            let rv = call!(
                p,
                C_Verify,
                s,
                msg.as_ptr().cast_mut(),
                msg.len() as CK_ULONG,
                sig.as_ptr().cast_mut(),
                sig.len() as CK_ULONG
            );
            check(rv, "C_Verify");
        }
        Op::Derive | Op::Generate => {
            let mut h = 0;
            let rv = if matches!(inp.op, Op::Derive) {
                call!(p, C_DeriveKey, s, &mut m, key, tp, tl, &mut h)
            } else {
                call!(p, C_GenerateKey, s, &mut m, tp, tl, &mut h)
            };
            check(rv, "derive/generate");
            if rv == CKR_OK {
                p.destroy(s, h);
            }
        }
        Op::Wrap => {
            let wrapped = p.key(inp.other_key);
            with_out(inp.out, |o, l| call!(p, C_WrapKey, s, &mut m, key, wrapped, o, l), "C_WrapKey");
        }
        Op::Unwrap => {
            let mut h = 0;
            let rv = call!(p, C_UnwrapKey, s, &mut m, key, dp, dl, tp, tl, &mut h);
            check(rv, "C_UnwrapKey");
            if rv == CKR_OK {
                p.destroy(s, h);
            }
        }
        Op::MessageEncrypt | Op::MessageDecrypt => {
            let enc = matches!(inp.op, Op::MessageEncrypt);
            let rv = if enc {
                call!(p, C_MessageEncryptInit, s, &mut m, key)
            } else {
                call!(p, C_MessageDecryptInit, s, &mut m, key)
            };
            check(rv, "message init");
            if rv != CKR_OK {
                return;
            }
            // The per-message parameter comes from the second template's slot:
            // reuse the same parameter bytes.
            let (pp, pl) = (m.pParameter, m.ulParameterLen);
            let aad = &inp.template2.len().to_ne_bytes();
            with_out(
                inp.out,
                |o, l| {
                    if enc {
                        call!(p, C_EncryptMessage, s, pp, pl, aad.as_ptr().cast_mut(), 8, dp, dl, o, l)
                    } else {
                        call!(p, C_DecryptMessage, s, pp, pl, aad.as_ptr().cast_mut(), 8, dp, dl, o, l)
                    }
                },
                "message",
            );
        }
    }
}

fuzz_target!(|inp: Input| {
    let p = p11();
    let s = p.session();
    run(p, s, &inp);
    p.close(s);
});
