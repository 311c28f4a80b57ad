//! RSA mechanisms (PKCS#11 3.0 Current Mechanisms §2.1): key pair generation,
//! PKCS#1 v1.5, PSS, OAEP, the hash-and-sign forms and `CKM_RSA_AES_KEY_WRAP`.
//!
//! Lengths (k = modulus bytes):
//! - `CKM_RSA_PKCS`: encrypt/sign input ≤ k-11 (`CKR_DATA_LEN_RANGE`), output k;
//!   decrypt input = k (`CKR_ENCRYPTED_DATA_LEN_RANGE`); verify signature = k
//!   (`CKR_SIGNATURE_LEN_RANGE`). Sign takes the caller's DigestInfo as is.
//! - `CKM_RSA_PKCS_PSS`: input is the hash, exactly hLen bytes.
//! - `CKM_RSA_PKCS_OAEP`: input ≤ k-2-2hLen.
//! - A modulus too small for the hash of OAEP/PSS is `CKR_KEY_SIZE_RANGE` at init.
//!
//! The single-part-only mechanisms (`CKM_RSA_PKCS`, `CKM_RSA_PKCS_PSS`, OAEP)
//! answer `C_*Update`/`C_*Final` with `CKR_FUNCTION_NOT_SUPPORTED`.
//! The PSS MGF must be MGF1 with the PSS hash (`CKR_MECHANISM_PARAM_INVALID`
//! otherwise); OAEP takes any MGF1 hash.

use crate::crypto::rsa::{
    check_public_exponent, kwp_unwrap, kwp_wrap, oaep_max_len, HashAlg, Hasher,
};
use crate::crypto::rsa::{RsaPrivateKey, RsaPublicKey};
use crate::error::{Error, Result};
use crate::mechanism::keys::{
    hash_from_mech, hash_from_mgf, rsa_private, rsa_private_template, rsa_public,
};
use crate::mechanism::keys::{tmpl_get, tmpl_ulong};
use crate::mechanism::{
    CipherOp, Functions, Generated, Mechanism, MechanismDef, Param, ParamKind, SignOp, VerifyOp,
};
use crate::object::attr::{Attribute, Template};
use crate::object::Object;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

const RSA: &[CK_KEY_TYPE] = &[CKK_RSA];
/// Smallest modulus for use, in bits.
const MIN_USE: CK_ULONG = 1024;
/// Smallest modulus `CKM_RSA_PKCS_KEY_PAIR_GEN` makes.
const MIN_GEN: CK_ULONG = 2048;
/// Largest modulus.
const MAX_BITS: CK_ULONG = 8192;

const fn def(
    mech: CK_MECHANISM_TYPE,
    name: &'static str,
    param: ParamKind,
    functions: Functions,
) -> MechanismDef {
    MechanismDef {
        mech,
        name,
        key_types: RSA,
        min_key: MIN_USE,
        max_key: MAX_BITS,
        extra_flags: 0,
        param,
        functions,
    }
}

const SIGN_VERIFY: Functions = Functions {
    encrypt: None,
    decrypt: None,
    digest: None,
    sign: Some(sign_init),
    verify: Some(verify_init),
    message_encrypt: None,
    message_decrypt: None,
    generate_key: None,
    generate_key_pair: None,
    wrap: None,
    unwrap: None,
    derive: None,
};

const CIPHER_WRAP: Functions = Functions {
    encrypt: Some(encrypt_init),
    decrypt: Some(decrypt_init),
    wrap: Some(wrap),
    unwrap: Some(unwrap),
    ..SIGN_VERIFY_NONE
};

const SIGN_VERIFY_NONE: Functions = Functions {
    sign: None,
    verify: None,
    ..SIGN_VERIFY
};

/// The mechanisms of this family.
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef {
        mech: CKM_RSA_PKCS_KEY_PAIR_GEN,
        name: "CKM_RSA_PKCS_KEY_PAIR_GEN",
        key_types: &[],
        min_key: MIN_GEN,
        max_key: MAX_BITS,
        extra_flags: 0,
        param: ParamKind::None,
        functions: Functions {
            generate_key_pair: Some(generate_key_pair),
            ..SIGN_VERIFY_NONE
        },
    },
    def(
        CKM_RSA_PKCS,
        "CKM_RSA_PKCS",
        ParamKind::None,
        Functions {
            sign: Some(sign_init),
            verify: Some(verify_init),
            ..CIPHER_WRAP
        },
    ),
    def(
        CKM_RSA_PKCS_PSS,
        "CKM_RSA_PKCS_PSS",
        ParamKind::Pss,
        SIGN_VERIFY,
    ),
    def(
        CKM_RSA_PKCS_OAEP,
        "CKM_RSA_PKCS_OAEP",
        ParamKind::Oaep,
        CIPHER_WRAP,
    ),
    def(
        CKM_SHA1_RSA_PKCS,
        "CKM_SHA1_RSA_PKCS",
        ParamKind::None,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA224_RSA_PKCS,
        "CKM_SHA224_RSA_PKCS",
        ParamKind::None,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA256_RSA_PKCS,
        "CKM_SHA256_RSA_PKCS",
        ParamKind::None,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA384_RSA_PKCS,
        "CKM_SHA384_RSA_PKCS",
        ParamKind::None,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA512_RSA_PKCS,
        "CKM_SHA512_RSA_PKCS",
        ParamKind::None,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA1_RSA_PKCS_PSS,
        "CKM_SHA1_RSA_PKCS_PSS",
        ParamKind::Pss,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA224_RSA_PKCS_PSS,
        "CKM_SHA224_RSA_PKCS_PSS",
        ParamKind::Pss,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA256_RSA_PKCS_PSS,
        "CKM_SHA256_RSA_PKCS_PSS",
        ParamKind::Pss,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA384_RSA_PKCS_PSS,
        "CKM_SHA384_RSA_PKCS_PSS",
        ParamKind::Pss,
        SIGN_VERIFY,
    ),
    def(
        CKM_SHA512_RSA_PKCS_PSS,
        "CKM_SHA512_RSA_PKCS_PSS",
        ParamKind::Pss,
        SIGN_VERIFY,
    ),
    def(
        CKM_RSA_AES_KEY_WRAP,
        "CKM_RSA_AES_KEY_WRAP",
        ParamKind::RsaAesKeyWrap,
        Functions {
            wrap: Some(aes_wrap),
            unwrap: Some(aes_unwrap),
            ..SIGN_VERIFY_NONE
        },
    ),
];

// ---------------------------------------------------------------- parameters

/// What a signature mechanism does with its input.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    /// `CKM_RSA_PKCS`: the input is the encoded DigestInfo.
    Raw,
    /// PKCS#1 v1.5 over a hash: the DigestInfo of this hash.
    Pkcs1(HashAlg),
    /// PSS with this hash (MGF1 with the same) and salt length.
    Pss(HashAlg, usize),
}

/// The scheme and, for the hash-and-sign forms, the hash applied to the data.
fn scheme(mech: &Mechanism, k: usize) -> Result<(Scheme, Option<HashAlg>)> {
    let fixed = match mech.mech {
        CKM_RSA_PKCS => return Ok((Scheme::Raw, None)),
        CKM_SHA1_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha1), Some(HashAlg::Sha1))),
        CKM_SHA224_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha224), Some(HashAlg::Sha224))),
        CKM_SHA256_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha256), Some(HashAlg::Sha256))),
        CKM_SHA384_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha384), Some(HashAlg::Sha384))),
        CKM_SHA512_RSA_PKCS => return Ok((Scheme::Pkcs1(HashAlg::Sha512), Some(HashAlg::Sha512))),
        CKM_RSA_PKCS_PSS => None,
        CKM_SHA1_RSA_PKCS_PSS => Some(HashAlg::Sha1),
        CKM_SHA224_RSA_PKCS_PSS => Some(HashAlg::Sha224),
        CKM_SHA256_RSA_PKCS_PSS => Some(HashAlg::Sha256),
        CKM_SHA384_RSA_PKCS_PSS => Some(HashAlg::Sha384),
        CKM_SHA512_RSA_PKCS_PSS => Some(HashAlg::Sha512),
        _ => return Err(Error::MechanismInvalid),
    };
    let Param::Pss {
        hash,
        mgf,
        salt_len,
    } = mech.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let h = hash_from_mech(hash).ok_or(Error::MechanismParamInvalid)?;
    if fixed.is_some_and(|f| f != h) || hash_from_mgf(mgf) != Some(h) {
        return Err(Error::MechanismParamInvalid);
    }
    let salt = usize::try_from(salt_len).map_err(|_| Error::MechanismParamInvalid)?;
    // RFC 8017 §9.1.1: emLen ≥ hLen + sLen + 2 (emLen is k, or k-1 when modBits-1
    // is a multiple of 8; use the smaller to be safe at init).
    let em_len = k.saturating_sub(1);
    if em_len < h.len() + 2 {
        return Err(Error::KeySizeRange);
    }
    if salt > em_len - h.len() - 2 {
        return Err(Error::MechanismParamInvalid);
    }
    Ok((Scheme::Pss(h, salt), fixed))
}

/// (hash, MGF1 hash, label) of a `CK_RSA_PKCS_OAEP_PARAMS`.
fn oaep(param: &Param) -> Result<(HashAlg, HashAlg, Vec<u8>)> {
    let Param::Oaep { hash, mgf, label } = param else {
        return Err(Error::MechanismParamInvalid);
    };
    let h = hash_from_mech(*hash).ok_or(Error::MechanismParamInvalid)?;
    let m = hash_from_mgf(*mgf).ok_or(Error::MechanismParamInvalid)?;
    Ok((h, m, label.clone()))
}

/// How an encryption mechanism pads.
#[derive(Clone)]
enum Padding {
    Pkcs1,
    Oaep(HashAlg, HashAlg, Vec<u8>),
}

fn padding(mech: &Mechanism, k: usize) -> Result<Padding> {
    match mech.mech {
        CKM_RSA_PKCS => Ok(Padding::Pkcs1),
        CKM_RSA_PKCS_OAEP => {
            let (h, m, label) = oaep(&mech.param)?;
            if oaep_max_len(k, h).is_none() {
                return Err(Error::KeySizeRange);
            }
            Ok(Padding::Oaep(h, m, label))
        }
        _ => Err(Error::MechanismInvalid),
    }
}

impl Padding {
    fn max_plain(&self, k: usize) -> usize {
        match self {
            Padding::Pkcs1 => k.saturating_sub(11),
            Padding::Oaep(h, _, _) => oaep_max_len(k, *h).unwrap_or(0),
        }
    }
    fn encrypt(&self, key: &RsaPublicKey, msg: &[u8]) -> Result<Vec<u8>> {
        match self {
            Padding::Pkcs1 => key.encrypt_pkcs1v15(msg),
            Padding::Oaep(h, m, label) => key.encrypt_oaep(*h, *m, label, msg),
        }
    }
    fn decrypt(&self, key: &RsaPrivateKey, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Padding::Pkcs1 => key.decrypt_pkcs1v15(ct),
            Padding::Oaep(h, m, label) => key.decrypt_oaep(*h, *m, label, ct),
        }
    }
}

// ---------------------------------------------------------------- signatures

fn single_part_only() -> Error {
    Error::FunctionNotSupported
}

/// The message representative the scheme signs: the DigestInfo for PKCS#1 over a
/// hash, the input itself otherwise.
fn encode(scheme: Scheme, input: &[u8]) -> Zeroizing<Vec<u8>> {
    match scheme {
        Scheme::Pkcs1(h) => {
            let mut v = Zeroizing::new(h.digest_info_prefix().to_vec());
            v.extend_from_slice(input);
            v
        }
        _ => Zeroizing::new(input.to_vec()),
    }
}

/// Checks the length of the input of a single-part, not hashing mechanism.
fn check_input(scheme: Scheme, k: usize, input: &[u8]) -> Result<()> {
    let ok = match scheme {
        Scheme::Raw => input.len() + 11 <= k,
        Scheme::Pss(h, _) => input.len() == h.len(),
        Scheme::Pkcs1(_) => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::DataLenRange)
    }
}

struct RsaSign {
    key: Arc<RsaPrivateKey>,
    scheme: Scheme,
    hash: Option<HashAlg>,
    hasher: Option<Hasher>,
}

impl RsaSign {
    fn sign_into(&self, rep: &[u8], out: &mut OutBuf) -> Result<()> {
        let k = self.key.size();
        let Some(buf) = out.reserve(k)? else {
            return Ok(());
        };
        let sig = match self.scheme {
            Scheme::Raw | Scheme::Pkcs1(_) => {
                self.key.sign_pkcs1v15_raw(&encode(self.scheme, rep))?
            }
            Scheme::Pss(h, salt) => self.key.sign_pss(h, rep, salt)?,
        };
        if sig.len() != k {
            return Err(Error::General("RSA signature of unexpected length".into()));
        }
        buf.copy_from_slice(&sig);
        Ok(())
    }
}

impl SignOp for RsaSign {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        match self.hash {
            Some(h) => self.sign_into(&h.digest(&[data]), out),
            None => {
                check_input(self.scheme, self.key.size(), data)?;
                self.sign_into(data, out)
            }
        }
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        self.hasher.get_or_insert_with(|| h.hasher()).update(data);
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        if out.reserve(self.key.size())?.is_none() {
            return Ok(());
        }
        let digest = self.hasher.take().unwrap_or_else(|| h.hasher()).finalize();
        self.sign_into(&digest, out)
    }
}

fn sign_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn SignOp>> {
    let key = rsa_private(key)?;
    let (scheme, hash) = scheme(mech, key.size())?;
    Ok(Box::new(RsaSign {
        key,
        scheme,
        hash,
        hasher: None,
    }))
}

struct RsaVerify {
    key: Arc<RsaPublicKey>,
    scheme: Scheme,
    hash: Option<HashAlg>,
    hasher: Option<Hasher>,
}

impl RsaVerify {
    fn check(&self, rep: &[u8], sig: &[u8]) -> Result<()> {
        if sig.len() != self.key.size() {
            return Err(Error::SignatureLenRange);
        }
        match self.scheme {
            Scheme::Raw | Scheme::Pkcs1(_) => {
                self.key.verify_pkcs1v15_raw(&encode(self.scheme, rep), sig)
            }
            Scheme::Pss(h, salt) => self.key.verify_pss(h, rep, salt, sig),
        }
    }
}

impl VerifyOp for RsaVerify {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        match self.hash {
            Some(h) => self.check(&h.digest(&[data]), signature),
            None => {
                check_input(self.scheme, self.key.size(), data)?;
                self.check(data, signature)
            }
        }
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        self.hasher.get_or_insert_with(|| h.hasher()).update(data);
        Ok(())
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let h = self.hash.ok_or_else(single_part_only)?;
        let digest = self.hasher.take().unwrap_or_else(|| h.hasher()).finalize();
        self.check(&digest, signature)
    }
}

fn verify_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn VerifyOp>> {
    let key = rsa_public(key)?;
    let (scheme, hash) = scheme(mech, key.size())?;
    Ok(Box::new(RsaVerify {
        key,
        scheme,
        hash,
        hasher: None,
    }))
}

// ---------------------------------------------------------------- encryption

struct RsaEncrypt {
    key: Arc<RsaPublicKey>,
    padding: Padding,
}

impl CipherOp for RsaEncrypt {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let k = self.key.size();
        if input.len() > self.padding.max_plain(k) {
            return Err(Error::DataLenRange);
        }
        let Some(buf) = out.reserve(k)? else {
            return Ok(());
        };
        let ct = self.padding.encrypt(&self.key, input)?;
        if ct.len() != k {
            return Err(Error::General("RSA ciphertext of unexpected length".into()));
        }
        buf.copy_from_slice(&ct);
        Ok(())
    }
    fn update(&mut self, _input: &[u8], _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
    fn finish(&mut self, _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
}

struct RsaDecrypt {
    key: Arc<RsaPrivateKey>,
    padding: Padding,
}

impl CipherOp for RsaDecrypt {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let k = self.key.size();
        if input.len() != k {
            return Err(Error::EncryptedDataLenRange);
        }
        if out.is_query() {
            // The longest possible plaintext; the real length comes with the data.
            out.reserve(self.padding.max_plain(k))?;
            return Ok(());
        }
        let pt = self.padding.decrypt(&self.key, input)?;
        out.write(&pt)?;
        Ok(())
    }
    fn update(&mut self, _input: &[u8], _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
    fn finish(&mut self, _out: &mut OutBuf) -> Result<()> {
        Err(single_part_only())
    }
}

fn encrypt_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn CipherOp>> {
    let key = rsa_public(key)?;
    let padding = padding(mech, key.size())?;
    Ok(Box::new(RsaEncrypt { key, padding }))
}

fn decrypt_init(mech: &Mechanism, key: &Arc<Object>) -> Result<Box<dyn CipherOp>> {
    let key = rsa_private(key)?;
    let padding = padding(mech, key.size())?;
    Ok(Box::new(RsaDecrypt { key, padding }))
}

// ---------------------------------------------------------------- wrapping

fn wrapping_key(key: &Object) -> Result<Arc<RsaPublicKey>> {
    rsa_public(key).map_err(|e| match e {
        Error::KeyTypeInconsistent => Error::WrappingKeyTypeInconsistent,
        Error::KeySizeRange => Error::WrappingKeySizeRange,
        other => other,
    })
}

fn unwrapping_key(key: &Object) -> Result<Arc<RsaPrivateKey>> {
    rsa_private(key).map_err(|e| match e {
        Error::KeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
        Error::KeySizeRange => Error::UnwrappingKeySizeRange,
        other => other,
    })
}

fn unwrap_err(e: Error) -> Error {
    match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        other => other,
    }
}

fn wrap(mech: &Mechanism, key: &Arc<Object>, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = wrapping_key(key)?;
    let padding = padding(mech, key.size()).map_err(|e| match e {
        Error::KeySizeRange => Error::WrappingKeySizeRange,
        other => other,
    })?;
    if key_bytes.len() > padding.max_plain(key.size()) {
        return Err(Error::KeySizeRange);
    }
    padding.encrypt(&key, key_bytes)
}

fn unwrap(mech: &Mechanism, key: &Arc<Object>, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = unwrapping_key(key)?;
    let padding = padding(mech, key.size()).map_err(|e| match e {
        Error::KeySizeRange => Error::UnwrappingKeySizeRange,
        other => other,
    })?;
    padding.decrypt(&key, wrapped).map_err(unwrap_err)
}

/// (AES key bytes, OAEP hash, MGF1 hash, label) of a `CK_RSA_AES_KEY_WRAP_PARAMS`.
fn aes_wrap_params(param: &Param) -> Result<(usize, HashAlg, HashAlg, Vec<u8>)> {
    let Param::RsaAesKeyWrap {
        aes_key_bits,
        oaep: o,
    } = param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let bytes = match aes_key_bits {
        128 => 16,
        192 => 24,
        256 => 32,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let (h, m, label) = oaep(o)?;
    Ok((bytes, h, m, label))
}

/// `CKM_RSA_AES_KEY_WRAP` (§2.1.21): a fresh AES key, OAEP-encrypted under the
/// RSA key, followed by the target wrapped with it by AES key wrap with padding.
fn aes_wrap(mech: &Mechanism, key: &Arc<Object>, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = wrapping_key(key)?;
    let (n, h, m, label) = aes_wrap_params(&mech.param)?;
    if oaep_max_len(key.size(), h).is_none_or(|max| max < n) {
        return Err(Error::WrappingKeySizeRange);
    }
    let tmp =
        crate::crypto::random_vec(n).map_err(|e| Error::General(format!("random source: {e}")))?;
    let mut out = key.encrypt_oaep(h, m, &label, &tmp)?;
    out.extend_from_slice(&kwp_wrap(&tmp, key_bytes).map_err(|_| Error::KeySizeRange)?);
    Ok(out)
}

fn aes_unwrap(mech: &Mechanism, key: &Arc<Object>, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = unwrapping_key(key)?;
    let (n, h, m, label) = aes_wrap_params(&mech.param)?;
    let k = key.size();
    if wrapped.len() < k + 16 || (wrapped.len() - k) % 8 != 0 {
        return Err(Error::WrappedKeyLenRange);
    }
    let (c1, c2) = wrapped.split_at(k);
    let tmp = key.decrypt_oaep(h, m, &label, c1).map_err(unwrap_err)?;
    if tmp.len() != n {
        return Err(Error::WrappedKeyInvalid);
    }
    kwp_unwrap(&tmp, c2).map_err(|e| match e {
        Error::WrappedKeyLenRange => Error::WrappedKeyLenRange,
        _ => Error::WrappedKeyInvalid,
    })
}

// ---------------------------------------------------------------- generation

/// `CKM_RSA_PKCS_KEY_PAIR_GEN` (§2.1.4): `CKA_MODULUS_BITS` from the public
/// template (2048..=8192), `CKA_PUBLIC_EXPONENT` optional (default 65537; even,
/// below 3 or above 2^33-1 → `CKR_ATTRIBUTE_VALUE_INVALID`).
fn generate_key_pair(
    _mech: &Mechanism,
    public: &Template,
    _private: &Template,
) -> Result<(Generated, Generated)> {
    let bits = tmpl_ulong(public, CKA_MODULUS_BITS)?.ok_or(Error::TemplateIncomplete {
        missing: CKA_MODULUS_BITS,
    })?;
    if !(MIN_GEN..=MAX_BITS).contains(&bits) {
        return Err(Error::KeySizeRange);
    }
    let bits = usize::try_from(bits).map_err(|_| Error::KeySizeRange)?;
    let e = match tmpl_get(public, CKA_PUBLIC_EXPONENT) {
        Some(v) => check_public_exponent(v)?,
        None => 65537,
    };
    let key = RsaPrivateKey::generate(bits, e)?;
    let private = rsa_private_template(&key)?;
    let pick = |ty| {
        private
            .iter()
            .find(|a| a.ty == ty)
            .map(|a| a.value.to_vec())
            .unwrap_or_default()
    };
    let public = vec![
        Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
        Attribute::new(CKA_MODULUS, pick(CKA_MODULUS)),
        Attribute::new(CKA_PUBLIC_EXPONENT, pick(CKA_PUBLIC_EXPONENT)),
    ];
    Ok((public, private))
}

#[cfg(test)]
mod tests {}
