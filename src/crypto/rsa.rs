//! RSA over the `rsa` crate: key generation and import, PKCS#1 v1.5 (raw
//! DigestInfo signatures and type-2 encryption), PSS, OAEP, PKCS#8/SPKI
//! encoding, plus the SHA-1/SHA-2 hashing and the AES key wrap with padding
//! (RFC 5649) that the RSA mechanisms need.
//!
//! Errors are already the PKCS#11 ones a caller of the operation expects
//! (`DataLenRange`, `EncryptedDataInvalid`, `SignatureInvalid`, …); the
//! mechanism layer remaps them where the function differs (wrap, unwrap).
//!
//! PKCS#1 v1.5 decryption uses the crate's implicit rejection: a ciphertext with
//! bad padding decrypts to deterministic synthetic bytes instead of an error, so
//! the operation is no padding oracle (the caller must authenticate the result).

use crate::error::{Error, Result};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign, Pss};
use zeroize::Zeroizing;

/// A hash function of the SHA-1/SHA-2 family, as the RSA and EC mechanisms name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// Runs `$body` with the type alias `$d` bound to the hash type of `$alg`.
macro_rules! with_hash {
    ($alg:expr, $d:ident => $body:expr) => {
        match $alg {
            HashAlg::Sha1 => {
                type $d = sha1::Sha1;
                $body
            }
            HashAlg::Sha224 => {
                type $d = sha2::Sha224;
                $body
            }
            HashAlg::Sha256 => {
                type $d = sha2::Sha256;
                $body
            }
            HashAlg::Sha384 => {
                type $d = sha2::Sha384;
                $body
            }
            HashAlg::Sha512 => {
                type $d = sha2::Sha512;
                $body
            }
        }
    };
}

impl HashAlg {
    /// Output length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub(crate) fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The DER `DigestInfo` prefix of PKCS#1 v1.5 signatures (RFC 8017 §9.2 note 1).
    pub(crate) fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlg::Sha224 => &[
                0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x04, 0x05, 0x00, 0x04, 0x1c,
            ],
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// The same algorithm as [`crate::crypto::hash`] names it.
    pub(crate) fn general(self) -> crate::crypto::hash::HashAlg {
        use crate::crypto::hash::HashAlg as G;
        match self {
            HashAlg::Sha1 => G::Sha1,
            HashAlg::Sha224 => G::Sha224,
            HashAlg::Sha256 => G::Sha256,
            HashAlg::Sha384 => G::Sha384,
            HashAlg::Sha512 => G::Sha512,
        }
    }

    /// A fresh incremental hasher.
    pub(crate) fn hasher(self) -> Hasher {
        Hasher::new(self.general())
    }

    /// The hash of the concatenation of `parts`.
    pub(crate) fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut h = self.hasher();
        for p in parts {
            h.update(p);
        }
        h.finalize()
    }
}

/// An incremental SHA-1/SHA-2 hash (for the multi-part hash-and-sign
/// mechanisms): the one of [`crate::crypto::hash`], so it has the same backend.
pub(crate) type Hasher = crate::crypto::hash::Hasher;

/// The components of an RSA private key, big-endian without leading zeros
/// (the form of the PKCS#11 attributes).
pub(crate) struct RsaComponents {
    /// `CKA_MODULUS`.
    pub n: Vec<u8>,
    /// `CKA_PUBLIC_EXPONENT`.
    pub e: Vec<u8>,
    /// `CKA_PRIVATE_EXPONENT`.
    pub d: Zeroizing<Vec<u8>>,
    /// `CKA_PRIME_1`.
    pub p: Zeroizing<Vec<u8>>,
    /// `CKA_PRIME_2`.
    pub q: Zeroizing<Vec<u8>>,
    /// `CKA_EXPONENT_1` (d mod p-1).
    pub dp: Zeroizing<Vec<u8>>,
    /// `CKA_EXPONENT_2` (d mod q-1).
    pub dq: Zeroizing<Vec<u8>>,
    /// `CKA_COEFFICIENT` (q⁻¹ mod p).
    pub qinv: Zeroizing<Vec<u8>>,
}

/// Smallest modulus accepted for use, in bits.
pub(crate) const MIN_BITS: usize = 1024;
/// Largest modulus accepted, in bits.
pub(crate) const MAX_BITS: usize = 8192;
/// Largest public exponent accepted (the `rsa` crate's bound, 2^33 - 1).
pub(crate) const MAX_PUBLIC_EXPONENT: u64 = rsa::PublicKey::MAX_PUB_EXPONENT;

/// Strips leading zero bytes (keeps one byte for zero).
pub(crate) fn trim_be(b: &[u8]) -> &[u8] {
    let first = b
        .iter()
        .position(|&x| x != 0)
        .unwrap_or(b.len().saturating_sub(1));
    &b[first..]
}

fn trimmed(u: &BoxedUint) -> Zeroizing<Vec<u8>> {
    let full = Zeroizing::new(u.to_be_bytes());
    Zeroizing::new(trim_be(&full).to_vec())
}

fn bits_of(bytes: &[u8]) -> Result<u32> {
    let n = u32::try_from(bytes.len()).map_err(|_| Error::KeySizeRange)?;
    n.checked_mul(8).ok_or(Error::KeySizeRange)
}

fn uint(bytes: &[u8], bits: u32) -> Result<BoxedUint> {
    BoxedUint::from_be_slice(bytes, bits).map_err(|_| Error::KeySizeRange)
}

/// Parses and checks a public exponent: odd, at least 3, at most [`MAX_PUBLIC_EXPONENT`].
pub(crate) fn check_public_exponent(e: &[u8]) -> Result<u64> {
    let e = trim_be(e);
    if e.len() > 8 {
        return Err(Error::AttributeValueInvalid(
            cryptoki_sys::CKA_PUBLIC_EXPONENT,
        ));
    }
    let v = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if v < 3 || v % 2 == 0 || v > MAX_PUBLIC_EXPONENT {
        return Err(Error::AttributeValueInvalid(
            cryptoki_sys::CKA_PUBLIC_EXPONENT,
        ));
    }
    Ok(v)
}

fn map_sign_err(e: rsa::Error) -> Error {
    match e {
        rsa::Error::MessageTooLong | rsa::Error::InputNotHashed => Error::DataLenRange,
        rsa::Error::Internal | rsa::Error::InvalidPadLen => Error::KeySizeRange,
        other => Error::General(format!("rsa: {other}")),
    }
}

fn map_encrypt_err(e: rsa::Error) -> Error {
    match e {
        rsa::Error::MessageTooLong => Error::DataLenRange,
        rsa::Error::LabelTooLong => Error::MechanismParamInvalid,
        other => Error::General(format!("rsa: {other}")),
    }
}

/// An RSA public key. With the `aws-lc` feature it also holds the
/// `aws-lc-rs` forms of the key (one verification key per algorithm, the
/// encryption key), each parsed on first use and cached with it.
pub(crate) struct RsaPublicKey {
    key: rsa::PublicKey,
    #[cfg(feature = "aws-lc")]
    lc: LcPublic,
}

/// The verification algorithms `aws-lc-rs` serves, in the order of
/// [`LcPublic::verify`]: PKCS#1 v1.5 with SHA-1/256/384/512, then PSS with
/// SHA-256/384/512 (MGF1 of the same hash, salt as long as the hash).
#[cfg(feature = "aws-lc")]
const LC_VERIFY: [(
    &aws_lc_rs::signature::RsaParameters,
    &aws_lc_rs::digest::Algorithm,
); 7] = {
    use aws_lc_rs::{digest as d, signature as s};
    [
        (
            &s::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            &d::SHA1_FOR_LEGACY_USE_ONLY,
        ),
        (&s::RSA_PKCS1_2048_8192_SHA256, &d::SHA256),
        (&s::RSA_PKCS1_2048_8192_SHA384, &d::SHA384),
        (&s::RSA_PKCS1_2048_8192_SHA512, &d::SHA512),
        (&s::RSA_PSS_2048_8192_SHA256, &d::SHA256),
        (&s::RSA_PSS_2048_8192_SHA384, &d::SHA384),
        (&s::RSA_PSS_2048_8192_SHA512, &d::SHA512),
    ]
};

/// The `aws-lc-rs` forms of one RSA public key, each parsed on first use
/// (`None`: refused, e.g. below 2048 bits; the `rsa` crate serves it then).
#[cfg(feature = "aws-lc")]
#[derive(Default)]
struct LcPublic {
    verify: [std::sync::OnceLock<Option<aws_lc_rs::signature::ParsedPublicKey>>; 7],
    encrypt: std::sync::OnceLock<Option<aws_lc_rs::rsa::PublicEncryptingKey>>,
}

#[cfg(feature = "aws-lc")]
impl RsaPublicKey {
    fn lc_usable(&self) -> bool {
        (2048..=8192).contains(&self.bits())
    }

    /// Verifies `sig` over `digest` with the algorithm at `idx` of [`LC_VERIFY`];
    /// `None` when `aws-lc-rs` cannot take this key.
    fn lc_verify(&self, idx: usize, digest: &[u8], sig: &[u8]) -> Option<Result<()>> {
        if !self.lc_usable() {
            return None;
        }
        let (params, alg) = LC_VERIFY.get(idx)?;
        let key = self.lc.verify.get(idx)?.get_or_init(|| {
            let der = self.to_spki_der().ok()?;
            aws_lc_rs::signature::ParsedPublicKey::new(*params, der).ok()
        });
        let key = key.as_ref()?;
        let d = aws_lc_rs::digest::Digest::import_less_safe(digest, alg).ok()?;
        Some(
            key.verify_digest_sig(&d, sig)
                .map_err(|_| Error::SignatureInvalid),
        )
    }

    /// The `aws-lc-rs` encryption key, or `None`.
    fn lc_encrypt(&self) -> Option<&aws_lc_rs::rsa::PublicEncryptingKey> {
        if !self.lc_usable() {
            return None;
        }
        self.lc
            .encrypt
            .get_or_init(|| {
                let der = self.to_spki_der().ok()?;
                aws_lc_rs::rsa::PublicEncryptingKey::from_der(&der).ok()
            })
            .as_ref()
    }
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.bits())
    }
}

impl RsaPublicKey {
    /// From the modulus and public exponent (big-endian). A modulus outside
    /// [`MIN_BITS`]..=[`MAX_BITS`] is `KeySizeRange`; a malformed key `KeyTypeInconsistent`.
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let n = trim_be(n);
        let e = trim_be(e);
        let nbits = usize::try_from(bits_of(n)?).map_err(|_| Error::KeySizeRange)?;
        if nbits < MIN_BITS.saturating_sub(7) || nbits > MAX_BITS + 7 {
            return Err(Error::KeySizeRange);
        }
        let key =
            rsa::PublicKey::new(uint(n, bits_of(n)?)?, uint(e, bits_of(e)?)?).map_err(|err| {
                match err {
                    rsa::Error::ModulusTooSmall | rsa::Error::ModulusTooLarge => {
                        Error::KeySizeRange
                    }
                    _ => Error::KeyTypeInconsistent,
                }
            })?;
        Ok(Self::new(key))
    }

    fn new(key: rsa::PublicKey) -> Self {
        RsaPublicKey {
            key,
            #[cfg(feature = "aws-lc")]
            lc: LcPublic::default(),
        }
    }

    /// `k`: the modulus length in bytes (the length of signatures and ciphertexts).
    pub(crate) fn size(&self) -> usize {
        self.key.size()
    }

    /// The modulus length in bits.
    pub(crate) fn bits(&self) -> usize {
        usize::try_from(self.key.n().bit_width_vartime()).unwrap_or(usize::MAX)
    }

    /// The DER SubjectPublicKeyInfo.
    pub(crate) fn to_spki_der(&self) -> Result<Vec<u8>> {
        use rsa::pkcs8::EncodePublicKey;
        let doc = self
            .key
            .to_public_key_der()
            .map_err(|e| Error::General(format!("spki: {e}")))?;
        Ok(doc.as_bytes().to_vec())
    }

    /// Verifies a PKCS#1 v1.5 signature over `data` taken as the encoded
    /// DigestInfo (no hashing here).
    pub(crate) fn verify_pkcs1v15_raw(&self, data: &[u8], sig: &[u8]) -> Result<()> {
        if sig.len() != self.size() {
            return Err(Error::SignatureLenRange);
        }
        if data.len() + 11 > self.size() {
            return Err(Error::DataLenRange);
        }
        // A DigestInfo of SHA-1/256/384/512 goes to aws-lc, which rebuilds the
        // same DER DigestInfo from the hash and compares the whole encoded
        // message, as the `rsa` crate does with the caller's bytes.
        #[cfg(feature = "aws-lc")]
        for (idx, h) in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ]
        .into_iter()
        .enumerate()
        {
            let prefix = h.digest_info_prefix();
            if data.len() == prefix.len() + h.len() && data.starts_with(prefix) {
                if let Some(r) = self.lc_verify(idx, &data[prefix.len()..], sig) {
                    return r;
                }
            }
        }
        self.key
            .verify(Pkcs1v15Sign::new_unprefixed(), data, sig)
            .map_err(|_| Error::SignatureInvalid)
    }

    /// Verifies an RSASSA-PSS signature over the hash `digest` (MGF1 with the same hash).
    pub(crate) fn verify_pss(
        &self,
        hash: HashAlg,
        digest: &[u8],
        salt_len: usize,
        sig: &[u8],
    ) -> Result<()> {
        if sig.len() != self.size() {
            return Err(Error::SignatureLenRange);
        }
        if digest.len() != hash.len() {
            return Err(Error::DataLenRange);
        }
        // aws-lc verifies PSS with MGF1 of the same hash and a salt exactly as
        // long as the hash (RSA_PSS_SALTLEN_DIGEST), the `rsa` crate's check
        // for that salt length.
        #[cfg(feature = "aws-lc")]
        if salt_len == hash.len() {
            let idx = match hash {
                HashAlg::Sha256 => Some(4),
                HashAlg::Sha384 => Some(5),
                HashAlg::Sha512 => Some(6),
                HashAlg::Sha1 | HashAlg::Sha224 => None,
            };
            if let Some(r) = idx.and_then(|i| self.lc_verify(i, digest, sig)) {
                return r;
            }
        }
        with_hash!(hash, D => self
            .key
            .verify(Pss::<D>::new_with_salt(salt_len), digest, sig)
            .map_err(|_| Error::SignatureInvalid))
    }

    /// PKCS#1 v1.5 (type 2) encryption; input at most `k - 11` bytes.
    pub(crate) fn encrypt_pkcs1v15(&self, msg: &[u8]) -> Result<Vec<u8>> {
        if msg.len() + 11 > self.size() {
            return Err(Error::DataLenRange);
        }
        #[cfg(feature = "aws-lc")]
        if let Some(pk) = self.lc_encrypt() {
            let key = aws_lc_rs::rsa::Pkcs1PublicEncryptingKey::new(pk.clone())
                .map_err(|_| Error::General("aws-lc: rsa encryption key".into()))?;
            let mut out = vec![0u8; self.size()];
            let n = key
                .encrypt(msg, &mut out)
                .map_err(|_| Error::General("aws-lc: rsa encryption".into()))?
                .len();
            out.truncate(n);
            return Ok(out);
        }
        self.key
            .encrypt(&mut getrandom::SysRng, Pkcs1v15Encrypt, msg)
            .map_err(map_encrypt_err)
    }

    /// RSAES-OAEP encryption; input at most `k - 2 hLen - 2` bytes.
    pub(crate) fn encrypt_oaep(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        let max = oaep_max_len(self.size(), hash).ok_or(Error::KeySizeRange)?;
        if msg.len() > max {
            return Err(Error::DataLenRange);
        }
        #[cfg(feature = "aws-lc")]
        if let (Some(alg), Some(pk)) = (lc_oaep_alg(hash, mgf), self.lc_encrypt()) {
            let key = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(pk.clone())
                .map_err(|_| Error::General("aws-lc: rsa encryption key".into()))?;
            let mut out = vec![0u8; self.size()];
            let label = (!label.is_empty()).then_some(label);
            let n = key
                .encrypt(alg, msg, &mut out, label)
                .map_err(|_| Error::General("aws-lc: rsa encryption".into()))?
                .len();
            out.truncate(n);
            return Ok(out);
        }
        let label: Box<[u8]> = label.into();
        with_hash!(hash, D => with_hash!(mgf, M => self
            .key
            .encrypt(&mut getrandom::SysRng, Oaep::<D, M>::new_with_mgf_hash_and_label(label), msg)
            .map_err(map_encrypt_err)))
    }
}

/// The `aws-lc-rs` OAEP algorithm of a hash and MGF1 hash, when it has one
/// (MGF1 of the same hash, SHA-1/256/384/512).
#[cfg(feature = "aws-lc")]
fn lc_oaep_alg(hash: HashAlg, mgf: HashAlg) -> Option<&'static aws_lc_rs::rsa::OaepAlgorithm> {
    use aws_lc_rs::rsa as r;
    match (hash, mgf) {
        (HashAlg::Sha1, HashAlg::Sha1) => Some(&r::OAEP_SHA1_MGF1SHA1),
        (HashAlg::Sha256, HashAlg::Sha256) => Some(&r::OAEP_SHA256_MGF1SHA256),
        (HashAlg::Sha384, HashAlg::Sha384) => Some(&r::OAEP_SHA384_MGF1SHA384),
        (HashAlg::Sha512, HashAlg::Sha512) => Some(&r::OAEP_SHA512_MGF1SHA512),
        _ => None,
    }
}

/// The longest OAEP plaintext for a modulus of `k` bytes, or `None` when the
/// modulus is too small for the hash.
pub(crate) fn oaep_max_len(k: usize, hash: HashAlg) -> Option<usize> {
    k.checked_sub(2 * hash.len() + 2)
}

/// An RSA private key (with its CRT values precomputed). With the `aws-lc`
/// feature it also holds the `aws-lc-rs` keys, each built from the same
/// components on first use and cached with it (so an object's cached key is
/// never re-parsed per operation, and a key that is only generated and
/// stored is never converted); keys `aws-lc-rs` refuses (below 2048 bits)
/// have none and use the `rsa` crate throughout.
pub(crate) struct RsaPrivateKey {
    key: rsa::PrivateKey,
    /// The signing key.
    #[cfg(feature = "aws-lc")]
    lc_sign: std::sync::OnceLock<Option<aws_lc_rs::rsa::KeyPair>>,
    /// The OAEP decryption key.
    #[cfg(feature = "aws-lc")]
    lc_oaep: std::sync::OnceLock<Option<aws_lc_rs::rsa::OaepPrivateDecryptingKey>>,
}

#[cfg(feature = "aws-lc")]
impl RsaPrivateKey {
    /// Builds an `aws-lc-rs` key from this key's PKCS#8 DER (wiped after).
    fn lc_build<T>(&self, f: impl FnOnce(&[u8]) -> Option<T>) -> Option<T> {
        use rsa::pkcs8::EncodePrivateKey;
        if self.bits() < 2048 {
            return None;
        }
        // The DER is a `SecretDocument`, wiped on drop.
        let der = self.key.to_pkcs8_der().ok()?;
        f(der.as_bytes())
    }

    fn lc_sign(&self) -> Option<&aws_lc_rs::rsa::KeyPair> {
        self.lc_sign
            .get_or_init(|| self.lc_build(|der| aws_lc_rs::rsa::KeyPair::from_pkcs8(der).ok()))
            .as_ref()
    }

    fn lc_oaep(&self) -> Option<&aws_lc_rs::rsa::OaepPrivateDecryptingKey> {
        self.lc_oaep
            .get_or_init(|| {
                self.lc_build(|der| {
                    let dec = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(der).ok()?;
                    aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(dec).ok()
                })
            })
            .as_ref()
    }

    /// A PKCS#1 v1.5 or PSS signature over `digest` with `enc`, or `None`.
    fn lc_sign_digest(
        &self,
        enc: &'static aws_lc_rs::signature::RsaSignatureEncoding,
        alg: &'static aws_lc_rs::digest::Algorithm,
        digest: &[u8],
    ) -> Option<Vec<u8>> {
        let kp = self.lc_sign()?;
        let d = aws_lc_rs::digest::Digest::import_less_safe(digest, alg).ok()?;
        let mut sig = vec![0u8; kp.public_modulus_len()];
        kp.sign_digest(enc, &d, &mut sig).ok()?;
        Some(sig)
    }
}

impl std::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPrivateKey({} bits)", self.public().bits())
    }
}

impl RsaPrivateKey {
    /// Wraps a key of the `rsa` crate (its `aws-lc-rs` forms are built on
    /// first use).
    fn with_backend(key: rsa::PrivateKey) -> Self {
        RsaPrivateKey {
            key,
            #[cfg(feature = "aws-lc")]
            lc_sign: std::sync::OnceLock::new(),
            #[cfg(feature = "aws-lc")]
            lc_oaep: std::sync::OnceLock::new(),
        }
    }

    /// Generates a key of `bits` bits with public exponent `e`. With `aws-lc`,
    /// the sizes and exponent it generates (2048, 3072, 4096, 8192 bits; e =
    /// 65537) come from `aws-lc-rs`; the new key is parsed once (by the `rsa`
    /// crate, for its components), and its `aws-lc-rs` forms are only built
    /// if this value is used to sign or decrypt.
    pub(crate) fn generate(bits: usize, e: u64) -> Result<Self> {
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::KeySizeRange);
        }
        #[cfg(feature = "aws-lc")]
        if let (65537, Some(size)) = (
            e,
            match bits {
                2048 => Some(aws_lc_rs::rsa::KeySize::Rsa2048),
                3072 => Some(aws_lc_rs::rsa::KeySize::Rsa3072),
                4096 => Some(aws_lc_rs::rsa::KeySize::Rsa4096),
                8192 => Some(aws_lc_rs::rsa::KeySize::Rsa8192),
                _ => None,
            },
        ) {
            use aws_lc_rs::encoding::AsDer;
            // The DER is an aws-lc-rs buffer, wiped on drop.
            let der = aws_lc_rs::rsa::KeyPair::generate(size)
                .and_then(|kp| kp.as_der())
                .map_err(|_| Error::General("aws-lc: rsa key generation".into()))?;
            return Self::from_pkcs8_der(der.as_ref());
        }
        let key = rsa::PrivateKey::new_with_exp(&mut getrandom::SysRng, bits, BoxedUint::from(e))
            .map_err(|err| Error::General(format!("rsa key generation: {err}")))?;
        Ok(Self::with_backend(key))
    }

    /// From the components: `n`, `e`, `d` and, when known, the primes. Without the
    /// primes they are recovered from `n`, `e`, `d` (NIST SP 800-56B App. C); a
    /// key that does not add up is `KeyTypeInconsistent`.
    pub(crate) fn from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        primes: Option<(&[u8], &[u8])>,
    ) -> Result<Self> {
        let n = trim_be(n);
        let e = trim_be(e);
        let nbits = bits_of(n)?;
        let nb = usize::try_from(nbits).map_err(|_| Error::KeySizeRange)?;
        if nb < MIN_BITS.saturating_sub(7) || nb > MAX_BITS + 7 {
            return Err(Error::KeySizeRange);
        }
        let ps = match primes {
            Some((p, q)) => vec![uint(trim_be(p), nbits)?, uint(trim_be(q), nbits)?],
            None => Vec::new(),
        };
        let key = rsa::PrivateKey::from_components(
            uint(n, nbits)?,
            uint(e, bits_of(e)?)?,
            uint(trim_be(d), nbits)?,
            ps,
        )
        .map_err(|err| match err {
            rsa::Error::ModulusTooSmall | rsa::Error::ModulusTooLarge => Error::KeySizeRange,
            _ => Error::KeyTypeInconsistent,
        })?;
        Ok(Self::with_backend(key))
    }

    /// From a DER PKCS#8 `PrivateKeyInfo`; anything malformed is `WrappedKeyInvalid`.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::PrivateKey::from_pkcs8_der(der).map_err(|_| Error::WrappedKeyInvalid)?;
        Ok(Self::with_backend(key))
    }

    /// The DER PKCS#8 `PrivateKeyInfo`.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        use rsa::pkcs8::EncodePrivateKey;
        let doc = self
            .key
            .to_pkcs8_der()
            .map_err(|e| Error::General(format!("pkcs8: {e}")))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// All components, big-endian without leading zeros.
    pub(crate) fn components(&self) -> Result<RsaComponents> {
        let k = &self.key;
        let primes = k.primes();
        let (p, q) = match primes {
            [p, q] => (p.as_ref(), q.as_ref()),
            _ => return Err(Error::General("multi-prime RSA key".into())),
        };
        let dp = k
            .dp()
            .ok_or_else(|| Error::General("rsa: no CRT values".into()))?;
        let dq = k
            .dq()
            .ok_or_else(|| Error::General("rsa: no CRT values".into()))?;
        let qinv = k
            .crt_coefficient()
            .ok_or_else(|| Error::General("rsa: no CRT coefficient".into()))?;
        let qinv = Zeroizing::new(qinv);
        Ok(RsaComponents {
            n: trim_be(&k.n_bytes()).to_vec(),
            e: trim_be(&k.e_bytes()).to_vec(),
            d: trimmed(k.d()),
            p: trimmed(p),
            q: trimmed(q),
            dp: trimmed(dp),
            dq: trimmed(dq),
            qinv: trimmed(&qinv),
        })
    }

    /// `k`: the modulus length in bytes.
    pub(crate) fn size(&self) -> usize {
        self.key.size()
    }

    /// The modulus length in bits.
    pub(crate) fn bits(&self) -> usize {
        usize::try_from(self.key.n().bit_width_vartime()).unwrap_or(usize::MAX)
    }

    /// The public half.
    pub(crate) fn public(&self) -> RsaPublicKey {
        RsaPublicKey::new(self.key.to_public_key())
    }

    /// PKCS#1 v1.5 signature over `data` taken as the encoded DigestInfo
    /// (`CKM_RSA_PKCS`): at most `k - 11` bytes; deterministic; blinded.
    pub(crate) fn sign_pkcs1v15_raw(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() + 11 > self.size() {
            return Err(Error::DataLenRange);
        }
        // A DigestInfo of SHA-256/384/512 is signed by aws-lc (blinded too);
        // the signature is the same, PKCS#1 v1.5 being deterministic.
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::{digest as d, signature as s};
            let algs: [(
                HashAlg,
                &'static s::RsaSignatureEncoding,
                &'static d::Algorithm,
            ); 3] = [
                (HashAlg::Sha256, &s::RSA_PKCS1_SHA256, &d::SHA256),
                (HashAlg::Sha384, &s::RSA_PKCS1_SHA384, &d::SHA384),
                (HashAlg::Sha512, &s::RSA_PKCS1_SHA512, &d::SHA512),
            ];
            for (h, enc, alg) in algs {
                let prefix = h.digest_info_prefix();
                if data.len() == prefix.len() + h.len() && data.starts_with(prefix) {
                    if let Some(sig) = self.lc_sign_digest(enc, alg, &data[prefix.len()..]) {
                        return Ok(sig);
                    }
                }
            }
        }
        // Blinded (a fresh random blinding factor per private-key operation).
        self.key
            .sign_with_rng(&mut getrandom::SysRng, Pkcs1v15Sign::new_unprefixed(), data)
            .map_err(map_sign_err)
    }

    /// RSASSA-PSS signature over the hash `digest` with MGF1 of the same hash.
    pub(crate) fn sign_pss(
        &self,
        hash: HashAlg,
        digest: &[u8],
        salt_len: usize,
    ) -> Result<Vec<u8>> {
        if digest.len() != hash.len() {
            return Err(Error::DataLenRange);
        }
        // aws-lc signs PSS with MGF1 of the same hash and a salt as long as the hash.
        #[cfg(feature = "aws-lc")]
        if salt_len == hash.len() {
            use aws_lc_rs::{digest as d, signature as s};
            let enc: Option<(&'static s::RsaSignatureEncoding, &'static d::Algorithm)> = match hash
            {
                HashAlg::Sha256 => Some((&s::RSA_PSS_SHA256, &d::SHA256)),
                HashAlg::Sha384 => Some((&s::RSA_PSS_SHA384, &d::SHA384)),
                HashAlg::Sha512 => Some((&s::RSA_PSS_SHA512, &d::SHA512)),
                HashAlg::Sha1 | HashAlg::Sha224 => None,
            };
            if let Some(sig) = enc.and_then(|(enc, alg)| self.lc_sign_digest(enc, alg, digest)) {
                return Ok(sig);
            }
        }
        with_hash!(hash, D => self
            .key
            .sign_with_rng(&mut getrandom::SysRng, Pss::<D>::new_with_salt(salt_len), digest)
            .map_err(map_sign_err))
    }

    /// PKCS#1 v1.5 (type 2) decryption with implicit rejection (see the module docs).
    pub(crate) fn decrypt_pkcs1v15(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ct.len() != self.size() {
            return Err(Error::EncryptedDataLenRange);
        }
        self.key
            .decrypt_blinded(&mut getrandom::SysRng, Pkcs1v15Encrypt, ct)
            .map(Zeroizing::new)
            .map_err(|_| Error::EncryptedDataInvalid)
    }

    /// RSAES-OAEP decryption. Every failure is the same `EncryptedDataInvalid`.
    pub(crate) fn decrypt_oaep(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if ct.len() != self.size() {
            return Err(Error::EncryptedDataLenRange);
        }
        if oaep_max_len(self.size(), hash).is_none() {
            return Err(Error::KeySizeRange);
        }
        // aws-lc decrypts OAEP with MGF1 of the same hash (blinded, constant
        // time, and checking Y as RFC 8017 says); every failure is the same error.
        #[cfg(feature = "aws-lc")]
        if let Some(alg) = lc_oaep_alg(hash, mgf) {
            if let Some(oaep) = self.lc_oaep() {
                let mut buf = Zeroizing::new(vec![0u8; self.size()]);
                let label = (!label.is_empty()).then_some(label);
                let n = oaep
                    .decrypt(alg, ct, &mut buf, label)
                    .map_err(|_| Error::EncryptedDataInvalid)?
                    .len();
                buf.truncate(n);
                return Ok(buf);
            }
        }
        // RFC 8017 §7.1.2 step 3g: "if Y is nonzero, output 'decryption error'".
        // The rsa crate (0.10.0) checks lHash, PS and the 0x01 separator but not
        // Y, the first octet of EM, so EM is recovered here with the same
        // primitive and Y checked; both steps always run and every failure is
        // the same error.
        let y_bits = u32::try_from(8 * (self.size() - 1)).map_err(|_| Error::KeySizeRange)?;
        let y_is_zero = BoxedUint::from_be_slice(ct, self.key.n_bits_precision())
            .ok()
            .and_then(|c| {
                rsa::hazmat::rsa_decrypt_and_check(&self.key, Some(&mut getrandom::SysRng), &c).ok()
            })
            .is_some_and(|em| em.bit_width() <= y_bits);
        let label: Box<[u8]> = label.into();
        let out = with_hash!(hash, D => with_hash!(mgf, M => self
            .key
            .decrypt_blinded(&mut getrandom::SysRng, Oaep::<D, M>::new_with_mgf_hash_and_label(label), ct)
            .map(Zeroizing::new)
            .map_err(|_| Error::EncryptedDataInvalid)));
        match out {
            Ok(m) if y_is_zero => Ok(m),
            _ => Err(Error::EncryptedDataInvalid),
        }
    }
}

/// AES key wrap with padding (RFC 5649, default ICV) of `data` under `kek`
/// (16, 24 or 32 bytes), for `CKM_RSA_AES_KEY_WRAP`: the one KWP of
/// [`crate::crypto::aes::kwp_wrap`].
pub(crate) fn kwp_wrap(kek: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    use crate::crypto::aes::{AesKey, KWP_DEFAULT_IV};
    if data.is_empty() || u32::try_from(data.len()).is_err() {
        return Err(Error::DataLenRange);
    }
    let k = AesKey::new(kek).ok_or(Error::KeySizeRange)?;
    crate::crypto::aes::kwp_wrap(&k, KWP_DEFAULT_IV, data)
        .ok_or_else(|| Error::General("kwp: wrap failed".into()))
}

/// Reverses [`kwp_wrap`]; an integrity failure or a bad length is `WrappedKeyInvalid`.
pub(crate) fn kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    use crate::crypto::aes::{AesKey, KWP_DEFAULT_IV};
    if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) {
        return Err(Error::WrappedKeyLenRange);
    }
    let k = AesKey::new(kek).ok_or(Error::KeySizeRange)?;
    crate::crypto::aes::kwp_unwrap(&k, KWP_DEFAULT_IV, wrapped).ok_or(Error::WrappedKeyInvalid)
}
