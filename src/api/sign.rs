//! Signatures and MACs with asymmetric and HMAC keys, and public keys
//! (AWS KMS's `Sign`, `Verify`, `GenerateMac`, `VerifyMac`, `GetPublicKey`).

use super::envelope::MAX_ONE_SHOT_BYTES;
use super::error::{Error, ErrorKind, Result};
use super::keys::{KeyRef, KeySpec};
use super::session::{call, Token};
use super::types::check_len;
use super::words::{self, Need};
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Attribute;
use cryptoki_sys::*;
use std::fmt;

/// How [`Token::sign`] signs a message (the message itself, which the
/// module hashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsassaPkcs1V15Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsassaPkcs1V15Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RsassaPkcs1V15Sha512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, a 32-byte salt.
    RsassaPssSha256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, a 48-byte salt.
    RsassaPssSha384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, a 64-byte salt.
    RsassaPssSha512,
    /// ECDSA with SHA-256. The signature is PKCS#11's: `r` and `s`, each
    /// as long as the curve's order (64 bytes for P-256), not DER.
    EcdsaSha256,
    /// ECDSA with SHA-384 (PKCS#11's `r || s`).
    EcdsaSha384,
    /// ECDSA with SHA-512 (PKCS#11's `r || s`).
    EcdsaSha512,
    /// Ed25519 (RFC 8032, pure: the message itself, hashed with SHA-512 by
    /// the algorithm).
    Ed25519Sha512,
    /// ML-DSA (FIPS 204, pure, hedged, empty context); the parameter set is
    /// the key's.
    MlDsaShake256,
}

const SIGNING: [SigningAlgorithm; 11] = [
    SigningAlgorithm::RsassaPkcs1V15Sha256,
    SigningAlgorithm::RsassaPkcs1V15Sha384,
    SigningAlgorithm::RsassaPkcs1V15Sha512,
    SigningAlgorithm::RsassaPssSha256,
    SigningAlgorithm::RsassaPssSha384,
    SigningAlgorithm::RsassaPssSha512,
    SigningAlgorithm::EcdsaSha256,
    SigningAlgorithm::EcdsaSha384,
    SigningAlgorithm::EcdsaSha512,
    SigningAlgorithm::Ed25519Sha512,
    SigningAlgorithm::MlDsaShake256,
];

/// What [`Token::sign_as`] and [`Token::verify_as`] are given: the message
/// itself, or its digest (AWS KMS's `MessageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageType {
    /// The message; the module hashes it.
    #[default]
    Raw,
    /// The message's digest under the algorithm's hash (RSA and ECDSA only).
    Digest,
}

impl SigningAlgorithm {
    /// Every algorithm.
    pub fn all() -> impl Iterator<Item = SigningAlgorithm> {
        SIGNING.into_iter()
    }

    /// AWS KMS's name (`RSASSA_PSS_SHA_256`, `ECDSA_SHA_256` …).
    pub fn aws_name(self) -> &'static str {
        match self {
            SigningAlgorithm::RsassaPkcs1V15Sha256 => "RSASSA_PKCS1_V1_5_SHA_256",
            SigningAlgorithm::RsassaPkcs1V15Sha384 => "RSASSA_PKCS1_V1_5_SHA_384",
            SigningAlgorithm::RsassaPkcs1V15Sha512 => "RSASSA_PKCS1_V1_5_SHA_512",
            SigningAlgorithm::RsassaPssSha256 => "RSASSA_PSS_SHA_256",
            SigningAlgorithm::RsassaPssSha384 => "RSASSA_PSS_SHA_384",
            SigningAlgorithm::RsassaPssSha512 => "RSASSA_PSS_SHA_512",
            SigningAlgorithm::EcdsaSha256 => "ECDSA_SHA_256",
            SigningAlgorithm::EcdsaSha384 => "ECDSA_SHA_384",
            SigningAlgorithm::EcdsaSha512 => "ECDSA_SHA_512",
            SigningAlgorithm::Ed25519Sha512 => "ED25519_SHA_512",
            SigningAlgorithm::MlDsaShake256 => "ML_DSA_SHAKE_256",
        }
    }

    /// The algorithm a key of `spec` signs with when none is named: the
    /// curve's own hash for ECDSA, PSS with SHA-256 for RSA.
    pub fn default_for(spec: KeySpec) -> Option<SigningAlgorithm> {
        Some(match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                SigningAlgorithm::RsassaPssSha256
            }
            KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => SigningAlgorithm::EcdsaSha256,
            KeySpec::EccNistP384 => SigningAlgorithm::EcdsaSha384,
            KeySpec::EccNistP521 => SigningAlgorithm::EcdsaSha512,
            KeySpec::Ed25519 => SigningAlgorithm::Ed25519Sha512,
            KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => {
                SigningAlgorithm::MlDsaShake256
            }
            _ => return None,
        })
    }

    /// The key type this algorithm signs with.
    fn key_type(self) -> CK_KEY_TYPE {
        match self {
            SigningAlgorithm::RsassaPkcs1V15Sha256
            | SigningAlgorithm::RsassaPkcs1V15Sha384
            | SigningAlgorithm::RsassaPkcs1V15Sha512
            | SigningAlgorithm::RsassaPssSha256
            | SigningAlgorithm::RsassaPssSha384
            | SigningAlgorithm::RsassaPssSha512 => CKK_RSA,
            SigningAlgorithm::EcdsaSha256
            | SigningAlgorithm::EcdsaSha384
            | SigningAlgorithm::EcdsaSha512 => CKK_EC,
            SigningAlgorithm::Ed25519Sha512 => CKK_EC_EDWARDS,
            SigningAlgorithm::MlDsaShake256 => CKK_ML_DSA,
        }
    }

    /// The mechanism that signs a digest, and the digest's length and
    /// DigestInfo prefix (PKCS#1 v1.5 only).
    fn digest_mechanism(self) -> Result<(Mechanism, usize, &'static [u8])> {
        let plain = |mech| Mechanism {
            mech,
            param: Param::None,
        };
        let pss = |hash, mgf, salt_len| Mechanism {
            mech: CKM_RSA_PKCS_PSS,
            param: Param::Pss {
                hash,
                mgf,
                salt_len,
            },
        };
        // DER DigestInfo prefixes (RFC 8017 §9.2, note 1).
        const SHA256_INFO: &[u8] = &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        const SHA384_INFO: &[u8] = &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ];
        const SHA512_INFO: &[u8] = &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ];
        Ok(match self {
            SigningAlgorithm::RsassaPkcs1V15Sha256 => (plain(CKM_RSA_PKCS), 32, SHA256_INFO),
            SigningAlgorithm::RsassaPkcs1V15Sha384 => (plain(CKM_RSA_PKCS), 48, SHA384_INFO),
            SigningAlgorithm::RsassaPkcs1V15Sha512 => (plain(CKM_RSA_PKCS), 64, SHA512_INFO),
            SigningAlgorithm::RsassaPssSha256 => (pss(CKM_SHA256, CKG_MGF1_SHA256, 32), 32, &[]),
            SigningAlgorithm::RsassaPssSha384 => (pss(CKM_SHA384, CKG_MGF1_SHA384, 48), 48, &[]),
            SigningAlgorithm::RsassaPssSha512 => (pss(CKM_SHA512, CKG_MGF1_SHA512, 64), 64, &[]),
            SigningAlgorithm::EcdsaSha256 => (plain(CKM_ECDSA), 32, &[]),
            SigningAlgorithm::EcdsaSha384 => (plain(CKM_ECDSA), 48, &[]),
            SigningAlgorithm::EcdsaSha512 => (plain(CKM_ECDSA), 64, &[]),
            SigningAlgorithm::Ed25519Sha512 | SigningAlgorithm::MlDsaShake256 => {
                return Err(Error::invalid(format!(
                    "{self} signs the message itself: use the message type raw"
                )))
            }
        })
    }

    /// The mechanism and the bytes it signs for `message` of `kind`.
    fn prepare(
        self,
        message: &[u8],
        kind: MessageType,
    ) -> Result<(Mechanism, std::borrow::Cow<'_, [u8]>)> {
        match kind {
            MessageType::Raw => {
                check_len("message", message.len(), MAX_ONE_SHOT_BYTES)?;
                Ok((self.mechanism(), std::borrow::Cow::Borrowed(message)))
            }
            MessageType::Digest => {
                let (mech, len, prefix) = self.digest_mechanism()?;
                if message.len() != len {
                    return Err(Error::invalid(format!(
                        "{self} with the message type digest takes a {len}-byte digest, not {} bytes",
                        message.len()
                    )));
                }
                Ok((mech, std::borrow::Cow::Owned([prefix, message].concat())))
            }
        }
    }

    fn mechanism(self) -> Mechanism {
        let pss = |mech, hash, mgf, salt_len| Mechanism {
            mech,
            param: Param::Pss {
                hash,
                mgf,
                salt_len,
            },
        };
        let plain = |mech| Mechanism {
            mech,
            param: Param::None,
        };
        match self {
            SigningAlgorithm::RsassaPkcs1V15Sha256 => plain(CKM_SHA256_RSA_PKCS),
            SigningAlgorithm::RsassaPkcs1V15Sha384 => plain(CKM_SHA384_RSA_PKCS),
            SigningAlgorithm::RsassaPkcs1V15Sha512 => plain(CKM_SHA512_RSA_PKCS),
            SigningAlgorithm::RsassaPssSha256 => {
                pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32)
            }
            SigningAlgorithm::RsassaPssSha384 => {
                pss(CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48)
            }
            SigningAlgorithm::RsassaPssSha512 => {
                pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64)
            }
            SigningAlgorithm::EcdsaSha256 => plain(CKM_ECDSA_SHA256),
            SigningAlgorithm::EcdsaSha384 => plain(CKM_ECDSA_SHA384),
            SigningAlgorithm::EcdsaSha512 => plain(CKM_ECDSA_SHA512),
            SigningAlgorithm::Ed25519Sha512 => plain(CKM_EDDSA),
            SigningAlgorithm::MlDsaShake256 => plain(CKM_ML_DSA),
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.aws_name())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = Error;

    /// AWS KMS's name.
    fn from_str(s: &str) -> Result<SigningAlgorithm> {
        SigningAlgorithm::all()
            .find(|a| a.aws_name() == s)
            .ok_or_else(|| Error::invalid(format!("unknown signing algorithm {s}")))
    }
}

/// How [`Token::generate_mac`] makes a MAC with an HMAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacAlgorithm {
    /// HMAC with SHA-224.
    HmacSha224,
    /// HMAC with SHA-256.
    HmacSha256,
    /// HMAC with SHA-384.
    HmacSha384,
    /// HMAC with SHA-512.
    HmacSha512,
}

impl MacAlgorithm {
    /// The algorithm of an HMAC key of `spec` (its own hash).
    pub fn default_for(spec: KeySpec) -> Option<MacAlgorithm> {
        Some(match spec {
            KeySpec::Hmac224 => MacAlgorithm::HmacSha224,
            KeySpec::Hmac256 => MacAlgorithm::HmacSha256,
            KeySpec::Hmac384 => MacAlgorithm::HmacSha384,
            KeySpec::Hmac512 => MacAlgorithm::HmacSha512,
            _ => return None,
        })
    }

    /// AWS KMS's name (`HMAC_SHA_256` …).
    pub fn aws_name(self) -> &'static str {
        match self {
            MacAlgorithm::HmacSha224 => "HMAC_SHA_224",
            MacAlgorithm::HmacSha256 => "HMAC_SHA_256",
            MacAlgorithm::HmacSha384 => "HMAC_SHA_384",
            MacAlgorithm::HmacSha512 => "HMAC_SHA_512",
        }
    }

    fn mechanism(self) -> Mechanism {
        Mechanism {
            mech: match self {
                MacAlgorithm::HmacSha224 => CKM_SHA224_HMAC,
                MacAlgorithm::HmacSha256 => CKM_SHA256_HMAC,
                MacAlgorithm::HmacSha384 => CKM_SHA384_HMAC,
                MacAlgorithm::HmacSha512 => CKM_SHA512_HMAC,
            },
            param: Param::None,
        }
    }
}

impl std::str::FromStr for MacAlgorithm {
    type Err = Error;

    /// AWS KMS's name.
    fn from_str(s: &str) -> Result<MacAlgorithm> {
        [
            MacAlgorithm::HmacSha224,
            MacAlgorithm::HmacSha256,
            MacAlgorithm::HmacSha384,
            MacAlgorithm::HmacSha512,
        ]
        .into_iter()
        .find(|a| a.aws_name() == s)
        .ok_or_else(|| Error::invalid(format!("unknown MAC algorithm {s}")))
    }
}

impl Token {
    /// The public key object of the key `k` (itself when it is one).
    fn public_half(&self, k: CK_OBJECT_HANDLE) -> Result<CK_OBJECT_HANDLE> {
        if self.ulong(k, CKA_CLASS) == Some(CKO_PUBLIC_KEY) {
            return Ok(k);
        }
        let spki = self.attrs(k, &[CKA_PUBLIC_KEY_INFO]).pop().flatten();
        let Some(spki) = spki.filter(|s| !s.is_empty()) else {
            return Err(Error::new(
                ErrorKind::InvalidKeyUsage,
                "the key has no public key",
            ));
        };
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attribute::new(CKA_PUBLIC_KEY_INFO, spki.to_vec()),
        ];
        self.find(&t, 1)?.first().copied().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "the key's public key is not on this token",
            )
        })
    }

    /// Signs `message` with a key pair's private key (needs `Sign`).
    pub fn sign(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        self.sign_as(key, message, algorithm, MessageType::Raw)
    }

    /// Signs a message or its digest (AWS KMS's `Sign` with its
    /// `MessageType`). A digest must be the algorithm's hash of the message:
    /// the signature is then the one [`Token::sign`] makes of the message.
    pub fn sign_as(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: SigningAlgorithm,
        kind: MessageType,
    ) -> Result<Vec<u8>> {
        let (mech, data) = algorithm.prepare(message, kind)?;
        self.sign_with(key, &data, &mech, Need::Signing, Some(algorithm))
    }

    /// Verifies a signature with the key pair's public key (`key` may name
    /// either half). A signature that does not verify is
    /// [`ErrorKind::InvalidSignature`].
    pub fn verify(
        &self,
        key: &KeyRef,
        message: &[u8],
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<()> {
        self.verify_as(key, message, signature, algorithm, MessageType::Raw)
    }

    /// Verifies a signature of a message or of its digest ([`Token::sign_as`]).
    pub fn verify_as(
        &self,
        key: &KeyRef,
        message: &[u8],
        signature: &[u8],
        algorithm: SigningAlgorithm,
        kind: MessageType,
    ) -> Result<()> {
        let (mech, data) = algorithm.prepare(message, kind)?;
        let _g = self.take();
        let r = (|| {
            let k = self.key_handle(key)?;
            self.expect_key(k, Need::Signing)?;
            self.expect_algorithm(k, algorithm)?;
            let public = self.public_half(k)?;
            self.verify_with(public, &data, signature, &mech)
        })();
        r.inspect_err(|e| words::failed(&format!("verify with {key:?}"), e))
    }

    /// The MAC of `message` under an HMAC key (needs `Sign`).
    pub fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        self.sign_with(key, message, &algorithm.mechanism(), Need::Mac, None)
    }

    /// Checks a MAC (needs `Verify`); one that does not match is
    /// [`ErrorKind::InvalidSignature`].
    pub fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<()> {
        check_len("message", message.len(), MAX_ONE_SHOT_BYTES)?;
        let _g = self.take();
        let r = (|| {
            let k = self.key_handle(key)?;
            self.expect_key(k, Need::Mac)?;
            self.verify_with(k, message, mac, &algorithm.mechanism())
        })();
        r.inspect_err(|e| words::failed(&format!("verify a MAC with {key:?}"), e))
    }

    /// The public key of a key pair, as a DER `SubjectPublicKeyInfo`.
    pub fn get_public_key(&self, key: &KeyRef) -> Result<Vec<u8>> {
        let _g = self.take();
        let k = self.key_handle(key)?;
        match self.attrs(k, &[CKA_PUBLIC_KEY_INFO]).pop().flatten() {
            Some(spki) if !spki.is_empty() => Ok(spki.to_vec()),
            _ => {
                let meta = self.describe(k);
                let e = Error::new(
                    ErrorKind::InvalidKeyUsage,
                    format!(
                        "key {} ({}) has no public key: only key pairs do",
                        words::key_name(&meta),
                        meta.spec_name
                    ),
                )
                .with_code("CKR_KEY_TYPE_INCONSISTENT");
                words::failed(&format!("get the public key of {key:?}"), &e);
                Err(e)
            }
        }
    }

    fn sign_with(
        &self,
        key: &KeyRef,
        message: &[u8],
        mech: &Mechanism,
        need: Need,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Vec<u8>> {
        check_len("message", message.len(), MAX_ONE_SHOT_BYTES)?;
        let _g = self.take();
        let r = (|| {
            let k = self.key_handle(key)?;
            self.expect_key(k, need)?;
            if let Some(a) = algorithm {
                self.expect_algorithm(k, a)?;
            }
            let (m, h) = (self.m(), self.h());
            m.sign_init(h, mech, k)
                .map_err(|e| self.refine(k, e.into()))?;
            call(|ob| m.sign(h, message, ob)).map_err(|e| self.refine(k, e))
        })();
        r.inspect_err(|e| words::failed(&format!("sign with {key:?}"), e))
    }

    /// Refuses, in words, an algorithm of another key type than `k`'s
    /// (ECDSA with an RSA key), naming the algorithms that fit.
    fn expect_algorithm(&self, k: CK_OBJECT_HANDLE, algorithm: SigningAlgorithm) -> Result<()> {
        let key_type = self.ulong(k, CKA_KEY_TYPE);
        if key_type == Some(algorithm.key_type()) {
            return Ok(());
        }
        let fitting: Vec<&str> = SigningAlgorithm::all()
            .filter(|a| Some(a.key_type()) == key_type)
            .map(SigningAlgorithm::aws_name)
            .collect();
        let meta = self.describe(k);
        Err(Error::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "{}: it does not sign with {algorithm}; use {}",
                words::key_is(&meta),
                fitting.join(", ")
            ),
        )
        .with_code("CKR_KEY_TYPE_INCONSISTENT"))
    }

    fn verify_with(
        &self,
        k: CK_OBJECT_HANDLE,
        message: &[u8],
        signature: &[u8],
        mech: &Mechanism,
    ) -> Result<()> {
        let (m, h) = (self.m(), self.h());
        m.verify_init(h, mech, k)
            .map_err(|e| self.refine(k, e.into()))?;
        m.verify(h, message, signature)
            .map_err(|e| self.refine(k, e.into()))
    }
}
