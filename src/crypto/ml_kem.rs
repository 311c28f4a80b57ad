//! ML-KEM (FIPS 203). Keys are expanded from their 64-byte seed `d || z` with
//! the RustCrypto `ml-kem` crate in both builds (aws-lc-rs 1.19 generates keys
//! but neither takes nor returns the seed, which PKCS#11 3.2 keeps as
//! `CKA_SEED`); encapsulation and decapsulation run in aws-lc-rs in the default
//! build and in `ml-kem` in the pure-Rust build.

use crate::error::{Error, Result};
#[allow(deprecated)]
use ml_kem::ExpandedKeyEncoding;
use ml_kem::{
    Ciphertext, Decapsulate, DecapsulationKey, EncapsulationKey, Key, KeyExport, MlKem1024,
    MlKem512, MlKem768, B32,
};

/// Runs `$body` with `$P` the `ml-kem` type of the parameter set (the crate's
/// parameter trait is private, so the code is written once per type).
macro_rules! with_set {
    ($set:expr, $P:ident => $body:expr) => {
        match $set {
            MlKemSet::P512 => {
                type $P = MlKem512;
                $body
            }
            MlKemSet::P768 => {
                type $P = MlKem768;
                $body
            }
            MlKemSet::P1024 => {
                type $P = MlKem1024;
                $body
            }
        }
    };
}
use zeroize::{Zeroize, Zeroizing};

/// The three parameter sets of FIPS 203.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MlKemSet {
    /// ML-KEM-512.
    P512,
    /// ML-KEM-768.
    P768,
    /// ML-KEM-1024.
    P1024,
}

/// Length of the seed `d || z`.
pub(crate) const SEED_LEN: usize = 64;
/// Length of the shared secret.
pub(crate) const SHARED_LEN: usize = 32;

impl MlKemSet {
    /// Encapsulation key length (FIPS 203 §8).
    pub(crate) fn public_len(self) -> usize {
        match self {
            MlKemSet::P512 => 800,
            MlKemSet::P768 => 1184,
            MlKemSet::P1024 => 1568,
        }
    }
    /// Decapsulation key length.
    pub(crate) fn private_len(self) -> usize {
        match self {
            MlKemSet::P512 => 1632,
            MlKemSet::P768 => 2400,
            MlKemSet::P1024 => 3168,
        }
    }
    /// Ciphertext length.
    pub(crate) fn ciphertext_len(self) -> usize {
        match self {
            MlKemSet::P512 => 768,
            MlKemSet::P768 => 1088,
            MlKemSet::P1024 => 1568,
        }
    }
}

/// A decapsulation key in its encodings: the seed when known, the expanded
/// decapsulation key and the encapsulation key.
pub(crate) struct MlKemPrivateKey {
    set: MlKemSet,
    seed: Option<Zeroizing<Vec<u8>>>,
    expanded: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
}

impl std::fmt::Debug for MlKemPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlKemPrivateKey({:?}, ..)", self.set)
    }
}

/// An encapsulation key, checked (FIPS 203 §7.2 input check).
#[derive(Debug, Clone)]
pub(crate) struct MlKemPublicKey {
    set: MlKemSet,
    public: Vec<u8>,
}

#[allow(deprecated)]
fn expand_seed(set: MlKemSet, seed: &[u8; SEED_LEN]) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
    with_set!(set, P => {
        let dk = DecapsulationKey::<P>::from_seed((*seed).into());
        let mut bytes = dk.to_expanded_bytes();
        let expanded = Zeroizing::new(bytes.to_vec());
        bytes.zeroize();
        let public = dk.encapsulation_key().to_bytes().to_vec();
        (expanded, public)
    })
}

#[allow(deprecated)]
fn check_expanded(set: MlKemSet, bytes: &[u8]) -> Result<Vec<u8>> {
    with_set!(set, P => {
        let mut enc = ml_kem::ExpandedDecapsulationKey::<P>::try_from(bytes)
            .map_err(|_| Error::KeyTypeInconsistent)?;
        let dk = DecapsulationKey::<P>::from_expanded(&enc);
        enc.zeroize();
        let dk = dk.map_err(|_| Error::KeyTypeInconsistent)?;
        Ok(dk.encapsulation_key().to_bytes().to_vec())
    })
}

fn check_public(set: MlKemSet, bytes: &[u8]) -> Result<()> {
    with_set!(set, P => {
        let key =
            Key::<EncapsulationKey<P>>::try_from(bytes).map_err(|_| Error::KeyTypeInconsistent)?;
        EncapsulationKey::<P>::new(&key).map_err(|_| Error::KeyTypeInconsistent)?;
        Ok(())
    })
}

impl MlKemPrivateKey {
    /// A new key from a fresh random seed (FIPS 203 Algorithm 19).
    pub(crate) fn generate(set: MlKemSet) -> Result<Self> {
        let seed = super::random_vec(SEED_LEN).map_err(|_| Error::FunctionFailed)?;
        Self::from_seed(set, &seed)
    }

    /// The key of seed `d || z` (FIPS 203 Algorithm 16); another length is
    /// `KeyTypeInconsistent`.
    pub(crate) fn from_seed(set: MlKemSet, seed: &[u8]) -> Result<Self> {
        let s: &[u8; SEED_LEN] = seed.try_into().map_err(|_| Error::KeyTypeInconsistent)?;
        let (expanded, public) = expand_seed(set, s);
        Ok(MlKemPrivateKey {
            set,
            seed: Some(Zeroizing::new(seed.to_vec())),
            expanded,
            public,
        })
    }

    /// The key of an expanded decapsulation key, with the checks of FIPS 203
    /// §7.3 (length, the hash of the encapsulation key it holds).
    pub(crate) fn from_expanded(set: MlKemSet, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != set.private_len() {
            return Err(Error::KeyTypeInconsistent);
        }
        let public = check_expanded(set, bytes)?;
        Ok(MlKemPrivateKey {
            set,
            seed: None,
            expanded: Zeroizing::new(bytes.to_vec()),
            public,
        })
    }

    /// Its parameter set.
    pub(crate) fn set(&self) -> MlKemSet {
        self.set
    }

    /// The seed, when the key was made from one.
    pub(crate) fn seed(&self) -> Option<&[u8]> {
        self.seed.as_ref().map(|s| s.as_slice())
    }

    /// The expanded decapsulation key.
    pub(crate) fn expanded(&self) -> &[u8] {
        &self.expanded
    }

    /// The encapsulation key.
    pub(crate) fn public(&self) -> &[u8] {
        &self.public
    }

    /// ML-KEM.Decaps (FIPS 203 Algorithm 21): a ciphertext of the wrong length
    /// is `EncryptedDataLenRange`; any other gives a shared secret (a wrong one
    /// by implicit rejection when the ciphertext was not made for this key).
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.set.ciphertext_len() {
            return Err(Error::EncryptedDataLenRange);
        }
        let ss = backend::decapsulate(self.set, &self.expanded, ciphertext)?;
        if ss.len() != SHARED_LEN {
            return Err(Error::FunctionFailed);
        }
        Ok(ss)
    }
}

impl MlKemPublicKey {
    /// An encapsulation key, with the modulus check of FIPS 203 §7.2
    /// (`KeyTypeInconsistent` when it fails or the length is wrong).
    pub(crate) fn from_bytes(set: MlKemSet, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != set.public_len() {
            return Err(Error::KeyTypeInconsistent);
        }
        check_public(set, bytes)?;
        Ok(MlKemPublicKey {
            set,
            public: bytes.to_vec(),
        })
    }

    /// Its parameter set.
    pub(crate) fn set(&self) -> MlKemSet {
        self.set
    }

    /// ML-KEM.Encaps (FIPS 203 Algorithm 20): (ciphertext, shared secret).
    pub(crate) fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let (ct, ss) = backend::encapsulate(self.set, &self.public)?;
        if ct.len() != self.set.ciphertext_len() || ss.len() != SHARED_LEN {
            return Err(Error::FunctionFailed);
        }
        Ok((ct, ss))
    }
}

/// ML-KEM.Encaps_internal with a given `m` (FIPS 203 Algorithm 17): the
/// pure-Rust build's encapsulation (with a random `m`) and the known-answer
/// tests'.
#[cfg_attr(all(feature = "aws-lc", not(test)), allow(dead_code))]
pub(crate) fn encapsulate_with(
    set: MlKemSet,
    public: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    with_set!(set, P => {
        let key =
            Key::<EncapsulationKey<P>>::try_from(public).map_err(|_| Error::KeyTypeInconsistent)?;
        let ek = EncapsulationKey::<P>::new(&key).map_err(|_| Error::KeyTypeInconsistent)?;
        let (ct, k) = ek.encapsulate_deterministic(&B32::from(*m));
        Ok((ct.to_vec(), Zeroizing::new(k.to_vec())))
    })
}

/// ML-KEM.Decaps in `ml-kem` (the pure-Rust build's).
#[cfg_attr(feature = "aws-lc", allow(dead_code))]
#[allow(deprecated)]
fn rc_decapsulate(set: MlKemSet, expanded: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    with_set!(set, P => {
        let mut enc = ml_kem::ExpandedDecapsulationKey::<P>::try_from(expanded)
            .map_err(|_| Error::KeyTypeInconsistent)?;
        let dk = DecapsulationKey::<P>::from_expanded(&enc);
        enc.zeroize();
        let dk = dk.map_err(|_| Error::KeyTypeInconsistent)?;
        let ct = Ciphertext::<P>::try_from(ciphertext).map_err(|_| Error::EncryptedDataLenRange)?;
        let mut shared = dk.decapsulate(&ct);
        let out = Zeroizing::new(shared.to_vec());
        shared.zeroize();
        Ok(out)
    })
}

#[cfg(feature = "aws-lc")]
mod backend {
    use super::MlKemSet;
    use crate::error::{Error, Result};
    use aws_lc_rs::kem::{
        Algorithm, AlgorithmId, Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_1024,
        ML_KEM_512, ML_KEM_768,
    };
    use zeroize::Zeroizing;

    fn alg(set: MlKemSet) -> &'static Algorithm<AlgorithmId> {
        match set {
            MlKemSet::P512 => &ML_KEM_512,
            MlKemSet::P768 => &ML_KEM_768,
            MlKemSet::P1024 => &ML_KEM_1024,
        }
    }

    pub(super) fn encapsulate(
        set: MlKemSet,
        public: &[u8],
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let ek = EncapsulationKey::new(alg(set), public).map_err(|_| Error::KeyTypeInconsistent)?;
        let (ct, ss) = ek.encapsulate().map_err(|_| Error::FunctionFailed)?;
        Ok((ct.as_ref().to_vec(), Zeroizing::new(ss.as_ref().to_vec())))
    }

    pub(super) fn decapsulate(
        set: MlKemSet,
        expanded: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let dk =
            DecapsulationKey::new(alg(set), expanded).map_err(|_| Error::KeyTypeInconsistent)?;
        let ss = dk
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| Error::FunctionFailed)?;
        Ok(Zeroizing::new(ss.as_ref().to_vec()))
    }
}

#[cfg(not(feature = "aws-lc"))]
mod backend {
    use super::{encapsulate_with, rc_decapsulate, MlKemSet};
    use crate::error::{Error, Result};
    use zeroize::Zeroizing;

    pub(super) fn encapsulate(
        set: MlKemSet,
        public: &[u8],
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let mut m = Zeroizing::new([0u8; 32]);
        crate::crypto::random(&mut m[..]).map_err(|_| Error::FunctionFailed)?;
        encapsulate_with(set, public, &m)
    }

    pub(super) fn decapsulate(
        set: MlKemSet,
        expanded: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        rc_decapsulate(set, expanded, ciphertext)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
