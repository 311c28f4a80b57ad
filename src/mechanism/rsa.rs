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
use crate::gate::Granted;
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

/// The scheme and, for the hash-and-sign forms, the hash applied to the data, for a
/// key with a modulus of `mod_bits` bits.
fn scheme(mech: &Mechanism, mod_bits: usize) -> Result<(Scheme, Option<HashAlg>)> {
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
    // RFC 8017 §8.1.1, §9.1.1: emLen = ⌈(modBits − 1)/8⌉ ≥ hLen + sLen + 2.
    let em_len = mod_bits.saturating_sub(1).div_ceil(8);
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

fn sign_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let key = key.key();
    let key = rsa_private(key)?;
    let (scheme, hash) = scheme(mech, key.bits())?;
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

fn verify_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let key = key.key();
    let key = rsa_public(key)?;
    let (scheme, hash) = scheme(mech, key.bits())?;
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

fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    let key = key.key();
    let key = rsa_public(key)?;
    let padding = padding(mech, key.size())?;
    Ok(Box::new(RsaEncrypt { key, padding }))
}

fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    let key = key.key();
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

fn wrap(mech: &Mechanism, key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = key.key();
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

fn unwrap(mech: &Mechanism, key: &Granted, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = key.key();
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
fn aes_wrap(mech: &Mechanism, key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = key.key();
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

fn aes_unwrap(mech: &Mechanism, key: &Granted, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = key.key();
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mechanism::keys::test_util::*;
    use crate::mechanism::keys::{
        check_key_attributes, private_key_from_pkcs8, private_key_to_pkcs8,
    };
    use once_cell::sync::Lazy;

    struct Pair {
        public: Arc<Object>,
        private: Arc<Object>,
    }

    /// One 2048-bit key for the whole module (generation is slow in debug builds).
    static KEY: Lazy<Pair> = Lazy::new(|| {
        let m = Mechanism {
            mech: CKM_RSA_PKCS_KEY_PAIR_GEN,
            param: Param::None,
        };
        let t = vec![Attribute::ulong(CKA_MODULUS_BITS, 2048)];
        let (public, private) = generate_key_pair(&m, &t, &vec![]).unwrap();
        Pair {
            public: obj(&public),
            private: obj(&private),
        }
    });

    fn mech(mech: CK_MECHANISM_TYPE, param: Param) -> Mechanism {
        Mechanism { mech, param }
    }

    fn pss(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, salt_len: CK_ULONG) -> Param {
        Param::Pss {
            hash,
            mgf,
            salt_len,
        }
    }

    fn sign(m: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
        let mut op = sign_init(m, &Granted::for_tests(&KEY.private))?;
        let mut buf = vec![0u8; 512];
        let mut out = OutBuf::new(Some(&mut buf));
        op.one_shot(data, &mut out)?;
        let n = out.len();
        buf.truncate(n);
        Ok(buf)
    }

    fn verify(m: &Mechanism, data: &[u8], sig: &[u8]) -> Result<()> {
        verify_init(m, &Granted::for_tests(&KEY.public))?.one_shot(data, sig)
    }

    const HASHES: [(
        CK_MECHANISM_TYPE,
        CK_MECHANISM_TYPE,
        CK_MECHANISM_TYPE,
        CK_ULONG,
    ); 5] = [
        (
            CKM_SHA1_RSA_PKCS,
            CKM_SHA1_RSA_PKCS_PSS,
            CKM_SHA_1,
            CKG_MGF1_SHA1,
        ),
        (
            CKM_SHA224_RSA_PKCS,
            CKM_SHA224_RSA_PKCS_PSS,
            CKM_SHA224,
            CKG_MGF1_SHA224,
        ),
        (
            CKM_SHA256_RSA_PKCS,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
        ),
        (
            CKM_SHA384_RSA_PKCS,
            CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA384,
            CKG_MGF1_SHA384,
        ),
        (
            CKM_SHA512_RSA_PKCS,
            CKM_SHA512_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
        ),
    ];

    #[test]
    fn generated_key_is_consistent() {
        check_key_attributes(KEY.private.attrs()).unwrap();
        check_key_attributes(KEY.public.attrs()).unwrap();
        assert_eq!(KEY.public.get(CKA_MODULUS).unwrap().len(), 256);
        assert_eq!(KEY.public.get(CKA_PUBLIC_EXPONENT).unwrap(), &[1, 0, 1]);
        for ty in [
            CKA_PRIME_1,
            CKA_PRIME_2,
            CKA_EXPONENT_1,
            CKA_EXPONENT_2,
            CKA_COEFFICIENT,
        ] {
            assert_ne!(KEY.private.get(ty).unwrap()[0], 0, "no leading zero");
        }
    }

    #[test]
    fn digest_info_prefixes_match_the_rsa_crate() {
        use rsa::Pkcs1v15Sign;
        let want = [
            Pkcs1v15Sign::new::<sha1::Sha1>().prefix,
            Pkcs1v15Sign::new::<sha2::Sha224>().prefix,
            Pkcs1v15Sign::new::<sha2::Sha256>().prefix,
            Pkcs1v15Sign::new::<sha2::Sha384>().prefix,
            Pkcs1v15Sign::new::<sha2::Sha512>().prefix,
        ];
        let got = [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ];
        for (w, g) in want.iter().zip(got) {
            assert_eq!(&w[..], g.digest_info_prefix());
        }
    }

    #[test]
    fn wycheproof_pkcs1_sha256_verify() {
        let v = vectors("asym-wycheproof-rsa-pkcs1-2048-sha256.json");
        let key = obj(&[
            Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
            Attribute::new(CKA_MODULUS, hex(v["modulus"].as_str().unwrap())),
            Attribute::new(
                CKA_PUBLIC_EXPONENT,
                hex(v["publicExponent"].as_str().unwrap()),
            ),
        ]);
        let m = mech(CKM_SHA256_RSA_PKCS, Param::None);
        let mut checked = 0;
        for t in v["tests"].as_array().unwrap() {
            let msg = hex(t["msg"].as_str().unwrap());
            let sig = hex(t["sig"].as_str().unwrap());
            let got = verify_init(&m, &Granted::for_tests(&key))
                .unwrap()
                .one_shot(&msg, &sig);
            match t["result"].as_str().unwrap() {
                "valid" => assert_eq!(got, Ok(()), "tcId {}", t["tcId"]),
                "invalid" => assert!(got.is_err(), "tcId {}", t["tcId"]),
                _ => continue,
            }
            checked += 1;
        }
        assert!(checked >= 10);
    }

    #[test]
    fn raw_pkcs1_sign_equals_hash_and_sign() {
        let data = b"message";
        let mut info = HashAlg::Sha256.digest_info_prefix().to_vec();
        info.extend_from_slice(&HashAlg::Sha256.digest(&[data]));
        let raw = sign(&mech(CKM_RSA_PKCS, Param::None), &info).unwrap();
        let hashed = sign(&mech(CKM_SHA256_RSA_PKCS, Param::None), data).unwrap();
        assert_eq!(raw, hashed, "PKCS#1 v1.5 is deterministic");
        verify(&mech(CKM_RSA_PKCS, Param::None), &info, &raw).unwrap();
        assert_eq!(
            verify(&mech(CKM_RSA_PKCS, Param::None), b"other", &raw),
            Err(Error::SignatureInvalid)
        );
        assert_eq!(
            verify(&mech(CKM_RSA_PKCS, Param::None), &info, &raw[1..]),
            Err(Error::SignatureLenRange)
        );
        assert_eq!(
            sign(&mech(CKM_RSA_PKCS, Param::None), &[0; 246]),
            Err(Error::DataLenRange)
        );
        assert_eq!(
            sign(&mech(CKM_RSA_PKCS, Param::None), &[0; 245]).map(|s| s.len()),
            Ok(256)
        );
    }

    #[test]
    fn every_signature_mechanism_round_trips_and_multipart_matches() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        for (pkcs, pss_mech, hash, mgf) in HASHES {
            let h = hash_from_mech(hash).unwrap();
            for m in [mech(pkcs, Param::None), mech(pss_mech, pss(hash, mgf, 20))] {
                let single = sign(&m, &data).unwrap();
                verify(&m, &data, &single).unwrap();
                for chunk in [1usize, 15, 17, 4097] {
                    let mut op = sign_init(&m, &Granted::for_tests(&KEY.private)).unwrap();
                    for c in data.chunks(chunk) {
                        op.update(c).unwrap();
                    }
                    let mut buf = vec![0u8; 256];
                    op.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
                    if m.mech == pkcs {
                        assert_eq!(buf, single, "chunk {chunk}");
                    }
                    let mut v = verify_init(&m, &Granted::for_tests(&KEY.public)).unwrap();
                    for c in data.chunks(chunk) {
                        v.update(c).unwrap();
                    }
                    v.finish(&buf).unwrap();
                }
                let mut bad = single.clone();
                bad[10] ^= 1;
                assert_eq!(verify(&m, &data, &bad), Err(Error::SignatureInvalid));
            }
            // Raw PSS over the hash, salt lengths 0 and hLen.
            for salt in [0, h.len() as CK_ULONG] {
                let m = mech(CKM_RSA_PKCS_PSS, pss(hash, mgf, salt));
                let digest = h.digest(&[&data]);
                let sig = sign(&m, &digest).unwrap();
                verify(&m, &digest, &sig).unwrap();
                // the hash-and-sign form verifies the same signature
                verify(&mech(pss_mech, pss(hash, mgf, salt)), &data, &sig).unwrap();
                assert_eq!(sign(&m, &digest[1..]), Err(Error::DataLenRange));
            }
        }
    }

    #[test]
    fn pss_takes_the_largest_salt_rfc_8017_allows() {
        // 2048-bit modulus: emLen = ⌈2047/8⌉ = 256, so sLen ≤ 256 − 32 − 2 = 222
        // (what OpenSSL asks for with rsa_pss_saltlen:max, the default when signing).
        let digest = HashAlg::Sha256.digest(&[b"max salt"]);
        let m = mech(CKM_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA256, 222));
        let sig = sign(&m, &digest).unwrap();
        verify(&m, &digest, &sig).unwrap();
        let over = mech(CKM_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA256, 223));
        assert_eq!(
            sign_init(&over, &Granted::for_tests(&KEY.private)).err(),
            Some(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn pss_parameters_are_checked() {
        let bad = [
            mech(CKM_SHA256_RSA_PKCS_PSS, pss(CKM_SHA_1, CKG_MGF1_SHA1, 20)),
            mech(CKM_SHA256_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA1, 32)),
            mech(CKM_RSA_PKCS_PSS, pss(CKM_MD5, CKG_MGF1_SHA1, 0)),
            mech(CKM_RSA_PKCS_PSS, pss(CKM_SHA512, CKG_MGF1_SHA512, 200)),
            mech(CKM_RSA_PKCS_PSS, Param::None),
        ];
        for m in bad {
            assert_eq!(
                sign_init(&m, &Granted::for_tests(&KEY.private)).err(),
                Some(Error::MechanismParamInvalid),
                "{m:?}"
            );
        }
    }

    #[test]
    fn size_query_and_short_buffer_keep_the_state() {
        let m = mech(CKM_SHA256_RSA_PKCS, Param::None);
        let mut op = sign_init(&m, &Granted::for_tests(&KEY.private)).unwrap();
        op.update(b"abc").unwrap();
        let mut q = OutBuf::query();
        op.finish(&mut q).unwrap();
        assert_eq!(q.len(), 256);
        let mut small = [0u8; 10];
        let mut o = OutBuf::new(Some(&mut small));
        assert_eq!(op.finish(&mut o), Err(Error::BufferTooSmall));
        assert_eq!(o.len(), 256);
        let mut buf = [0u8; 256];
        op.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
        assert_eq!(buf.to_vec(), sign(&m, b"abc").unwrap());

        let mut op = sign_init(
            &mech(CKM_RSA_PKCS, Param::None),
            &Granted::for_tests(&KEY.private),
        )
        .unwrap();
        let mut q = OutBuf::query();
        op.one_shot(b"x", &mut q).unwrap();
        assert_eq!(q.len(), 256);
        assert_eq!(op.update(b"x"), Err(Error::FunctionNotSupported));
    }

    fn oaep_param(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, label: &[u8]) -> Param {
        Param::Oaep {
            hash,
            mgf,
            label: label.to_vec(),
        }
    }

    fn encrypt(m: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; 256];
        let mut out = OutBuf::new(Some(&mut buf));
        encrypt_init(m, &Granted::for_tests(&KEY.public))?.one_shot(data, &mut out)?;
        Ok(buf)
    }

    fn decrypt(m: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
        let mut op = decrypt_init(m, &Granted::for_tests(&KEY.private))?;
        let mut q = OutBuf::query();
        op.one_shot(data, &mut q)?;
        let mut buf = vec![0u8; q.len()];
        let mut out = OutBuf::new(Some(&mut buf));
        op.one_shot(data, &mut out)?;
        let n = out.len();
        buf.truncate(n);
        Ok(buf)
    }

    #[test]
    fn encrypt_decrypt_round_trips() {
        let ms = [
            mech(CKM_RSA_PKCS, Param::None),
            mech(CKM_RSA_PKCS_OAEP, oaep_param(CKM_SHA_1, CKG_MGF1_SHA1, b"")),
            mech(
                CKM_RSA_PKCS_OAEP,
                oaep_param(CKM_SHA256, CKG_MGF1_SHA1, b"label"),
            ),
            mech(
                CKM_RSA_PKCS_OAEP,
                oaep_param(CKM_SHA512, CKG_MGF1_SHA384, b""),
            ),
        ];
        for m in &ms {
            let max = if m.mech == CKM_RSA_PKCS {
                245
            } else {
                256 - 2 - 2 * oaep(&m.param).unwrap().0.len()
            };
            for len in [0, 1, max] {
                let pt: Vec<u8> = (0..len).map(|i| u8::try_from(i % 256).unwrap()).collect();
                let ct = encrypt(m, &pt).unwrap();
                assert_eq!(decrypt(m, &ct).unwrap(), pt, "{m:?} {len}");
            }
            assert_eq!(encrypt(m, &vec![0; max + 1]), Err(Error::DataLenRange));
            assert_eq!(decrypt(m, &[1; 255]), Err(Error::EncryptedDataLenRange));
        }
        // OAEP: a wrong label or a flipped byte fails
        let ct = encrypt(&ms[2], b"secret").unwrap();
        let other = mech(
            CKM_RSA_PKCS_OAEP,
            oaep_param(CKM_SHA256, CKG_MGF1_SHA1, b"label2"),
        );
        assert_eq!(decrypt(&other, &ct), Err(Error::EncryptedDataInvalid));
        let mut bad = ct.clone();
        bad[100] ^= 1;
        assert_eq!(decrypt(&ms[2], &bad), Err(Error::EncryptedDataInvalid));
        let bad_param = mech(CKM_RSA_PKCS_OAEP, oaep_param(CKM_SHA256, 0x99, b""));
        assert_eq!(
            encrypt_init(&bad_param, &Granted::for_tests(&KEY.public)).err(),
            Some(Error::MechanismParamInvalid)
        );
        // wrong key class
        assert_eq!(
            encrypt_init(&ms[0], &Granted::for_tests(&KEY.private)).err(),
            Some(Error::KeyTypeInconsistent)
        );
    }

    #[test]
    fn wrap_unwrap_round_trips() {
        let secret = [7u8; 32];
        let ms = [
            mech(CKM_RSA_PKCS, Param::None),
            mech(
                CKM_RSA_PKCS_OAEP,
                oaep_param(CKM_SHA256, CKG_MGF1_SHA256, b""),
            ),
        ];
        for m in &ms {
            let w = wrap(m, &Granted::for_tests(&KEY.public), &secret).unwrap();
            assert_eq!(
                unwrap(m, &Granted::for_tests(&KEY.private), &w)
                    .unwrap()
                    .as_slice(),
                &secret
            );
            assert_eq!(
                unwrap(m, &Granted::for_tests(&KEY.private), &w[1..]).err(),
                Some(Error::WrappedKeyLenRange)
            );
            assert_eq!(
                wrap(m, &Granted::for_tests(&KEY.private), &secret).err(),
                Some(Error::WrappingKeyTypeInconsistent)
            );
        }
        // RSA-AES key wrap of a whole private key (PKCS#8), every AES size.
        let pkcs8 = private_key_to_pkcs8(&KEY.private).unwrap();
        for bits in [128, 192, 256] {
            let m = mech(
                CKM_RSA_AES_KEY_WRAP,
                Param::RsaAesKeyWrap {
                    aes_key_bits: bits,
                    oaep: Box::new(oaep_param(CKM_SHA256, CKG_MGF1_SHA256, b"")),
                },
            );
            let w = aes_wrap(&m, &Granted::for_tests(&KEY.public), &pkcs8).unwrap();
            assert_eq!(w.len(), 256 + pkcs8.len().div_ceil(8) * 8 + 8);
            let back = aes_unwrap(&m, &Granted::for_tests(&KEY.private), &w).unwrap();
            assert_eq!(back.as_slice(), pkcs8.as_slice());
            let mut bad = w.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(
                aes_unwrap(&m, &Granted::for_tests(&KEY.private), &bad).err(),
                Some(Error::WrappedKeyInvalid)
            );
            assert_eq!(
                aes_unwrap(&m, &Granted::for_tests(&KEY.private), &w[..200]).err(),
                Some(Error::WrappedKeyLenRange)
            );
        }
        let m = mech(
            CKM_RSA_AES_KEY_WRAP,
            Param::RsaAesKeyWrap {
                aes_key_bits: 100,
                oaep: Box::new(oaep_param(CKM_SHA256, CKG_MGF1_SHA256, b"")),
            },
        );
        assert_eq!(
            aes_wrap(&m, &Granted::for_tests(&KEY.public), &secret).err(),
            Some(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn pkcs8_round_trip_and_prime_recovery() {
        let der = private_key_to_pkcs8(&KEY.private).unwrap();
        let t = private_key_from_pkcs8(&der).unwrap();
        assert_eq!(&map(&t), KEY.private.attrs());
        // Without the primes and CRT values the key is rebuilt from n, e, d.
        let partial: Vec<Attribute> = t
            .iter()
            .filter(|a| {
                [
                    CKA_CLASS,
                    CKA_KEY_TYPE,
                    CKA_MODULUS,
                    CKA_PUBLIC_EXPONENT,
                    CKA_PRIVATE_EXPONENT,
                ]
                .contains(&a.ty)
            })
            .cloned()
            .collect();
        let o = obj(&partial);
        let m = mech(CKM_SHA256_RSA_PKCS, Param::None);
        let mut buf = vec![0u8; 256];
        sign_init(&m, &Granted::for_tests(&o))
            .unwrap()
            .one_shot(b"abc", &mut OutBuf::new(Some(&mut buf)))
            .unwrap();
        assert_eq!(buf, sign(&m, b"abc").unwrap());
        // a wrong CRT value is refused on creation
        let mut wrong = t.clone();
        for a in wrong.iter_mut().filter(|a| a.ty == CKA_COEFFICIENT) {
            a.value[5] ^= 1;
        }
        assert!(matches!(
            check_key_attributes(&map(&wrong)),
            Err(Error::TemplateInconsistent(_))
        ));
    }

    #[test]
    fn key_generation_checks_its_template() {
        let m = mech(CKM_RSA_PKCS_KEY_PAIR_GEN, Param::None);
        assert_eq!(
            generate_key_pair(&m, &vec![], &vec![]).err(),
            Some(Error::TemplateIncomplete {
                missing: CKA_MODULUS_BITS
            })
        );
        let t = vec![Attribute::ulong(CKA_MODULUS_BITS, 1024)];
        assert_eq!(
            generate_key_pair(&m, &t, &vec![]).err(),
            Some(Error::KeySizeRange)
        );
        for e in [
            vec![1, 0, 0],
            vec![1],
            vec![2],
            vec![1, 0, 0, 0, 0, 0, 0, 0, 1],
        ] {
            let t = vec![
                Attribute::ulong(CKA_MODULUS_BITS, 2048),
                Attribute::new(CKA_PUBLIC_EXPONENT, e),
            ];
            assert_eq!(
                generate_key_pair(&m, &t, &vec![]).err(),
                Some(Error::AttributeValueInvalid(CKA_PUBLIC_EXPONENT))
            );
        }
    }

    #[test]
    fn registry_flags() {
        let f = |m| MECHANISMS.iter().find(|d| d.mech == m).unwrap().flags();
        assert_eq!(
            f(CKM_RSA_PKCS),
            CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN | CKF_VERIFY | CKF_WRAP | CKF_UNWRAP
        );
        assert_eq!(
            f(CKM_RSA_PKCS_OAEP),
            CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP
        );
        assert_eq!(f(CKM_SHA256_RSA_PKCS_PSS), CKF_SIGN | CKF_VERIFY);
        assert_eq!(f(CKM_RSA_AES_KEY_WRAP), CKF_WRAP | CKF_UNWRAP);
        assert_eq!(f(CKM_RSA_PKCS_KEY_PAIR_GEN), CKF_GENERATE_KEY_PAIR);
    }
}
