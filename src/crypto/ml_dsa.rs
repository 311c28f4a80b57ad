//! ML-DSA (FIPS 204) in both builds, over the RustCrypto `ml-dsa` crate.
//!
//! aws-lc-rs (1.19) signs ML-DSA only hedged and only with an empty context
//! string; PKCS#11 3.2 (`CKM_ML_DSA`, `CK_SIGN_ADDITIONAL_CONTEXT`) needs
//! context strings and the deterministic variant, and the pre-hash variants
//! (HashML-DSA) besides, so both builds use the RustCrypto code here
//! (docs/mechanisms.md, "Post-quantum").
//!
//! Signing and verification work on μ (FIPS 204 Algorithm 7 step 6:
//! `μ = H(tr || M′)`), which [`MuHasher`] computes a piece at a time, so that
//! multi-part operations stream instead of buffering the message.

use crate::error::{Error, Result};
use hybrid_array::Array;
use ml_dsa::{
    EncodedSignature, EncodedVerifyingKey, ExpandedSigningKey, ExpandedSigningKeyBytes, MlDsa44,
    MlDsa65, MlDsa87, MlDsaParams, Signature, SigningKey, VerifyingKey, B32,
};
use shake::{ExtendableOutput, Update, XofReader};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The three parameter sets of FIPS 204.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MlDsaSet {
    /// ML-DSA-44 (category 2).
    P44,
    /// ML-DSA-65 (category 3).
    P65,
    /// ML-DSA-87 (category 5).
    P87,
}

/// Length of the seed ξ (FIPS 204 Algorithm 1).
pub(crate) const SEED_LEN: usize = 32;
/// Length of μ.
pub(crate) const MU_LEN: usize = 64;
/// Length of `tr = H(pk, 64)`.
const TR_LEN: usize = 64;

impl MlDsaSet {
    /// Encoded public key length (FIPS 204 Table 2).
    pub(crate) fn public_len(self) -> usize {
        match self {
            MlDsaSet::P44 => 1312,
            MlDsaSet::P65 => 1952,
            MlDsaSet::P87 => 2592,
        }
    }
    /// Encoded (expanded) private key length.
    pub(crate) fn private_len(self) -> usize {
        match self {
            MlDsaSet::P44 => 2560,
            MlDsaSet::P65 => 4032,
            MlDsaSet::P87 => 4896,
        }
    }
    /// Signature length.
    pub(crate) fn signature_len(self) -> usize {
        match self {
            MlDsaSet::P44 => 2420,
            MlDsaSet::P65 => 3309,
            MlDsaSet::P87 => 4627,
        }
    }
    /// (k, l, bits per packed s1/s2 coefficient, η).
    fn shape(self) -> (usize, usize, usize, u32) {
        match self {
            MlDsaSet::P44 => (4, 4, 3, 2),
            MlDsaSet::P65 => (6, 5, 4, 4),
            MlDsaSet::P87 => (8, 7, 3, 2),
        }
    }
}

/// A parsed ML-DSA private key (with its public key).
pub(crate) enum MlDsaPrivateKey {
    /// ML-DSA-44.
    P44(Box<PrivInner<MlDsa44>>),
    /// ML-DSA-65.
    P65(Box<PrivInner<MlDsa65>>),
    /// ML-DSA-87.
    P87(Box<PrivInner<MlDsa87>>),
}

/// The key of one parameter set.
pub(crate) struct PrivInner<P: MlDsaParams> {
    sk: ExpandedSigningKey<P>,
    seed: Option<Zeroizing<[u8; SEED_LEN]>>,
    expanded: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
    tr: [u8; TR_LEN],
}

/// A parsed ML-DSA public key.
pub(crate) enum MlDsaPublicKey {
    /// ML-DSA-44.
    P44(Box<PubInner<MlDsa44>>),
    /// ML-DSA-65.
    P65(Box<PubInner<MlDsa65>>),
    /// ML-DSA-87.
    P87(Box<PubInner<MlDsa87>>),
}

/// The public key of one parameter set.
pub(crate) struct PubInner<P: MlDsaParams> {
    vk: VerifyingKey<P>,
    encoded: Vec<u8>,
    tr: [u8; TR_LEN],
}

impl std::fmt::Debug for MlDsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlDsaPrivateKey({:?}, ..)", self.set())
    }
}

impl std::fmt::Debug for MlDsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlDsaPublicKey({:?})", self.set())
    }
}

fn tr_of(public: &[u8]) -> [u8; TR_LEN] {
    let mut h = shake::Shake256::default();
    h.update(public);
    let mut out = [0u8; TR_LEN];
    h.finalize_xof().read(&mut out);
    out
}

fn priv_from_seed<P: MlDsaParams>(seed: &[u8; SEED_LEN]) -> PrivInner<P> {
    let mut xi = B32::from(*seed);
    let kp = SigningKey::<P>::from_seed(&xi);
    xi.zeroize();
    let sk = kp.expanded_key().clone();
    let public = sk.verifying_key().encode().to_vec();
    #[allow(deprecated)]
    let mut bytes = sk.to_expanded();
    let expanded = Zeroizing::new(bytes.to_vec());
    bytes.zeroize();
    PrivInner {
        tr: tr_of(&public),
        sk,
        seed: Some(Zeroizing::new(*seed)),
        expanded,
        public,
    }
}

/// True when every packed coefficient of s1 and s2 is at most 2η (FIPS 204
/// Algorithm 25 `skDecode` rejects nothing, but values above 2η are not a key
/// the key generation can make, and the decoder is not meant for them).
fn s1_s2_in_range(set: MlDsaSet, sk: &[u8]) -> bool {
    let (k, l, bits, eta) = set.shape();
    let start = 32 + 32 + TR_LEN;
    let count = (k + l) * 256;
    let Some(packed) = sk.get(start..start + count * bits / 8) else {
        return false;
    };
    (0..count).all(|i| {
        let bit = i * bits;
        let (byte, shift) = (bit / 8, bit % 8);
        let lo = u32::from(packed[byte]);
        let hi = packed.get(byte + 1).map_or(0, |b| u32::from(*b));
        let v = ((lo | (hi << 8)) >> shift) & ((1 << bits) - 1);
        v <= 2 * eta
    })
}

fn priv_from_expanded<P: MlDsaParams>(set: MlDsaSet, bytes: &[u8]) -> Result<PrivInner<P>> {
    if bytes.len() != set.private_len() || !s1_s2_in_range(set, bytes) {
        return Err(Error::KeyTypeInconsistent);
    }
    let mut enc =
        ExpandedSigningKeyBytes::<P>::try_from(bytes).map_err(|_| Error::KeyTypeInconsistent)?;
    #[allow(deprecated)]
    let sk = ExpandedSigningKey::<P>::from_expanded(&enc);
    enc.zeroize();
    let public = sk.verifying_key().encode().to_vec();
    let tr = tr_of(&public);
    // tr is part of the encoding: it must be the hash of the public key that
    // s1 and s2 make, else the bytes are not one key.
    #[allow(deprecated)]
    let mut again = sk.to_expanded();
    let same = bytes[64..128] == tr[..] && bool::from(again.as_slice().ct_eq(bytes));
    again.zeroize();
    if !same {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(PrivInner {
        sk,
        seed: None,
        expanded: Zeroizing::new(bytes.to_vec()),
        public,
        tr,
    })
}

fn pub_from_bytes<P: MlDsaParams>(set: MlDsaSet, bytes: &[u8]) -> Result<PubInner<P>> {
    if bytes.len() != set.public_len() {
        return Err(Error::KeyTypeInconsistent);
    }
    let enc = EncodedVerifyingKey::<P>::try_from(bytes).map_err(|_| Error::KeyTypeInconsistent)?;
    let vk = VerifyingKey::<P>::decode(&enc);
    Ok(PubInner {
        vk,
        encoded: bytes.to_vec(),
        tr: tr_of(bytes),
    })
}

fn mu_array(mu: &[u8; MU_LEN]) -> Array<u8, hybrid_array::sizes::U64> {
    Array::from(*mu)
}

impl<P: MlDsaParams> PrivInner<P> {
    fn sign(&self, mu: &[u8; MU_LEN], deterministic: bool) -> Result<Vec<u8>> {
        let mu = mu_array(mu);
        let sig = if deterministic {
            self.sk.sign_mu_deterministic(&mu)
        } else {
            self.sk
                .sign_mu_randomized(&mu, &mut getrandom::SysRng)
                .map_err(|_| Error::FunctionFailed)?
        };
        Ok(sig.encode().to_vec())
    }
}

impl<P: MlDsaParams> PubInner<P> {
    fn verify(&self, mu: &[u8; MU_LEN], signature: &[u8]) -> bool {
        let Ok(enc) = EncodedSignature::<P>::try_from(signature) else {
            return false;
        };
        let Some(sig) = Signature::<P>::decode(&enc) else {
            return false;
        };
        self.vk.verify_mu(&mu_array(mu), &sig)
    }
}

macro_rules! each {
    ($e:expr, $k:ident => $body:expr) => {
        match $e {
            Self::P44($k) => $body,
            Self::P65($k) => $body,
            Self::P87($k) => $body,
        }
    };
}

impl MlDsaPrivateKey {
    /// A new key from a fresh random seed (FIPS 204 Algorithm 1).
    pub(crate) fn generate(set: MlDsaSet) -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        super::random(&mut seed[..]).map_err(|_| Error::FunctionFailed)?;
        Self::from_seed(set, &seed[..])
    }

    /// The key of seed ξ (FIPS 204 Algorithm 6); a seed of another length is
    /// `KeyTypeInconsistent`.
    pub(crate) fn from_seed(set: MlDsaSet, seed: &[u8]) -> Result<Self> {
        let seed: &[u8; SEED_LEN] = seed.try_into().map_err(|_| Error::KeyTypeInconsistent)?;
        Ok(match set {
            MlDsaSet::P44 => Self::P44(Box::new(priv_from_seed(seed))),
            MlDsaSet::P65 => Self::P65(Box::new(priv_from_seed(seed))),
            MlDsaSet::P87 => Self::P87(Box::new(priv_from_seed(seed))),
        })
    }

    /// The key of an expanded private key encoding (FIPS 204 Algorithm 25),
    /// checked to be one key (`KeyTypeInconsistent` otherwise).
    pub(crate) fn from_expanded(set: MlDsaSet, bytes: &[u8]) -> Result<Self> {
        Ok(match set {
            MlDsaSet::P44 => Self::P44(Box::new(priv_from_expanded(set, bytes)?)),
            MlDsaSet::P65 => Self::P65(Box::new(priv_from_expanded(set, bytes)?)),
            MlDsaSet::P87 => Self::P87(Box::new(priv_from_expanded(set, bytes)?)),
        })
    }

    /// Its parameter set.
    pub(crate) fn set(&self) -> MlDsaSet {
        match self {
            Self::P44(_) => MlDsaSet::P44,
            Self::P65(_) => MlDsaSet::P65,
            Self::P87(_) => MlDsaSet::P87,
        }
    }

    /// The seed, when the key was made from one.
    pub(crate) fn seed(&self) -> Option<&[u8]> {
        each!(self, k => k.seed.as_ref().map(|s| &s[..]))
    }

    /// The expanded private key encoding.
    pub(crate) fn expanded(&self) -> &[u8] {
        each!(self, k => &k.expanded)
    }

    /// The encoded public key.
    pub(crate) fn public(&self) -> &[u8] {
        each!(self, k => &k.public)
    }

    /// A μ hasher for this key's `tr`.
    pub(crate) fn mu_hasher(&self) -> MuHasher {
        each!(self, k => MuHasher::new(&k.tr))
    }

    /// Signs μ (FIPS 204 Algorithm 7 from step 7): hedged with fresh
    /// randomness, or with the all-zero `rnd` when `deterministic`.
    pub(crate) fn sign_mu(&self, mu: &[u8; MU_LEN], deterministic: bool) -> Result<Vec<u8>> {
        each!(self, k => k.sign(mu, deterministic))
    }
}

impl MlDsaPublicKey {
    /// The key of a public key encoding (FIPS 204 Algorithm 23); another length
    /// is `KeyTypeInconsistent`.
    pub(crate) fn from_bytes(set: MlDsaSet, bytes: &[u8]) -> Result<Self> {
        Ok(match set {
            MlDsaSet::P44 => Self::P44(Box::new(pub_from_bytes(set, bytes)?)),
            MlDsaSet::P65 => Self::P65(Box::new(pub_from_bytes(set, bytes)?)),
            MlDsaSet::P87 => Self::P87(Box::new(pub_from_bytes(set, bytes)?)),
        })
    }

    /// Its parameter set.
    pub(crate) fn set(&self) -> MlDsaSet {
        match self {
            Self::P44(_) => MlDsaSet::P44,
            Self::P65(_) => MlDsaSet::P65,
            Self::P87(_) => MlDsaSet::P87,
        }
    }

    /// The encoded public key.
    pub(crate) fn encoded(&self) -> &[u8] {
        each!(self, k => &k.encoded)
    }

    /// A μ hasher for this key's `tr`.
    pub(crate) fn mu_hasher(&self) -> MuHasher {
        each!(self, k => MuHasher::new(&k.tr))
    }

    /// Checks a signature of μ (FIPS 204 Algorithm 8 from step 7).
    pub(crate) fn verify_mu(&self, mu: &[u8; MU_LEN], signature: &[u8]) -> bool {
        each!(self, k => k.verify(mu, signature))
    }
}

/// `μ = H(tr || M′, 64)`, fed a piece at a time (FIPS 204 Algorithms 2–5 build
/// `M′`; the caller adds its pieces).
#[derive(Clone)]
pub(crate) struct MuHasher(shake::Shake256);

impl MuHasher {
    fn new(tr: &[u8; TR_LEN]) -> Self {
        let mut h = shake::Shake256::default();
        h.update(tr);
        MuHasher(h)
    }

    /// Adds a piece of `M′`.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// μ.
    pub(crate) fn finish(self) -> [u8; MU_LEN] {
        let mut out = [0u8; MU_LEN];
        self.0.finalize_xof().read(&mut out);
        out
    }
}

/// The hash of HashML-DSA (FIPS 204 §5.4): which function, its output length
/// and its OID as `M′` carries it (DER, tag and length included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreHash {
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA3-224.
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
    /// SHAKE128 with 256 bits of output.
    Shake128,
    /// SHAKE256 with 512 bits of output.
    Shake256,
}

impl PreHash {
    /// The digest length in bytes.
    pub(crate) fn len(self) -> usize {
        match self {
            PreHash::Sha224 | PreHash::Sha3_224 => 28,
            PreHash::Sha256 | PreHash::Sha3_256 | PreHash::Shake128 => 32,
            PreHash::Sha384 | PreHash::Sha3_384 => 48,
            PreHash::Sha512 | PreHash::Sha3_512 | PreHash::Shake256 => 64,
        }
    }

    /// The DER OID (NIST hash algorithms arc 2.16.840.1.101.3.4.2.n).
    pub(crate) fn oid_der(self) -> [u8; 11] {
        let n = match self {
            PreHash::Sha256 => 1,
            PreHash::Sha384 => 2,
            PreHash::Sha512 => 3,
            PreHash::Sha224 => 4,
            PreHash::Sha3_224 => 7,
            PreHash::Sha3_256 => 8,
            PreHash::Sha3_384 => 9,
            PreHash::Sha3_512 => 10,
            PreHash::Shake128 => 11,
            PreHash::Shake256 => 12,
        };
        [
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n,
        ]
    }

    /// A running hash.
    pub(crate) fn hasher(self) -> PreHasher {
        use sha2::Digest as _;
        match self {
            PreHash::Sha224 => PreHasher::Sha224(sha2::Sha224::new()),
            PreHash::Sha256 => PreHasher::Sha256(sha2::Sha256::new()),
            PreHash::Sha384 => PreHasher::Sha384(sha2::Sha384::new()),
            PreHash::Sha512 => PreHasher::Sha512(sha2::Sha512::new()),
            PreHash::Sha3_224 => PreHasher::Sha3_224(sha3::Sha3_224::new()),
            PreHash::Sha3_256 => PreHasher::Sha3_256(sha3::Sha3_256::new()),
            PreHash::Sha3_384 => PreHasher::Sha3_384(sha3::Sha3_384::new()),
            PreHash::Sha3_512 => PreHasher::Sha3_512(sha3::Sha3_512::new()),
            PreHash::Shake128 => PreHasher::Shake128(shake::Shake128::default()),
            PreHash::Shake256 => PreHasher::Shake256(shake::Shake256::default()),
        }
    }
}

/// A running HashML-DSA pre-hash.
#[derive(Clone)]
pub(crate) enum PreHasher {
    /// SHA-224.
    Sha224(sha2::Sha224),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-384.
    Sha384(sha2::Sha384),
    /// SHA-512.
    Sha512(sha2::Sha512),
    /// SHA3-224.
    Sha3_224(sha3::Sha3_224),
    /// SHA3-256.
    Sha3_256(sha3::Sha3_256),
    /// SHA3-384.
    Sha3_384(sha3::Sha3_384),
    /// SHA3-512.
    Sha3_512(sha3::Sha3_512),
    /// SHAKE128.
    Shake128(shake::Shake128),
    /// SHAKE256.
    Shake256(shake::Shake256),
}

impl PreHasher {
    /// Adds data.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            PreHasher::Sha224(h) => Update::update(h, data),
            PreHasher::Sha256(h) => Update::update(h, data),
            PreHasher::Sha384(h) => Update::update(h, data),
            PreHasher::Sha512(h) => Update::update(h, data),
            PreHasher::Sha3_224(h) => Update::update(h, data),
            PreHasher::Sha3_256(h) => Update::update(h, data),
            PreHasher::Sha3_384(h) => Update::update(h, data),
            PreHasher::Sha3_512(h) => Update::update(h, data),
            PreHasher::Shake128(h) => Update::update(h, data),
            PreHasher::Shake256(h) => Update::update(h, data),
        }
    }

    /// The digest.
    pub(crate) fn finish(self) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            PreHasher::Sha224(h) => h.finalize().to_vec(),
            PreHasher::Sha256(h) => h.finalize().to_vec(),
            PreHasher::Sha384(h) => h.finalize().to_vec(),
            PreHasher::Sha512(h) => h.finalize().to_vec(),
            PreHasher::Sha3_224(h) => h.finalize().to_vec(),
            PreHasher::Sha3_256(h) => h.finalize().to_vec(),
            PreHasher::Sha3_384(h) => h.finalize().to_vec(),
            PreHasher::Sha3_512(h) => h.finalize().to_vec(),
            PreHasher::Shake128(h) => {
                let mut out = vec![0u8; 32];
                h.finalize_xof().read(&mut out);
                out
            }
            PreHasher::Shake256(h) => {
                let mut out = vec![0u8; 64];
                h.finalize_xof().read(&mut out);
                out
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
