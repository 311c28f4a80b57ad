//! Elliptic curves over the `p256` crate: named-curve parameters, points, ECDSA
//! on a prehashed input, ECDH and the ANSI X9.63 KDF.
//!
//! Only P-256 is built in. [`Curve`] names the curve everywhere, so adding P-384
//! or P-521 means one more variant and one more arm per function.
//!
//! With the `aws-lc` feature, ECDSA signing and verification, ECDH and key
//! generation go to `aws-lc-rs`. Its ECDSA nonces are random (hedged with the
//! key and the digest), so signatures differ from call to call; the pure-Rust
//! build signs deterministically (RFC 6979, HMAC-SHA-256), so the RFC 6979
//! vectors match it exactly. Both are valid ECDSA signatures of the same key.
//! The `aws-lc-rs` key objects are built once per parsed key, on first use,
//! and cached with it.

use crate::crypto::rsa::HashAlg;
use crate::error::{Error, Result};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::elliptic_curve::sec1::ToSec1Point;
use zeroize::Zeroizing;

/// DER of the object identifier `prime256v1` (1.2.840.10045.3.1.7).
pub(crate) const P256_OID_DER: &[u8] =
    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A supported named curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
}

impl Curve {
    /// Reads `CKA_EC_PARAMS`: the DER OID of a named curve, or the DER
    /// PrintableString (or UTF8String) of its name. A well-formed but unknown
    /// curve (or explicit parameters) is `CurveNotSupported`; bytes that are not
    /// one DER element are `DomainParamsInvalid`.
    pub(crate) fn from_ec_params(params: &[u8]) -> Result<Curve> {
        let (tag, body) = der_single(params).ok_or(Error::DomainParamsInvalid)?;
        match tag {
            0x06 => {
                if params == P256_OID_DER {
                    Ok(Curve::P256)
                } else {
                    Err(Error::CurveNotSupported)
                }
            }
            0x13 | 0x0c => match body {
                b"prime256v1" | b"P-256" | b"secp256r1" => Ok(Curve::P256),
                _ => Err(Error::CurveNotSupported),
            },
            _ => Err(Error::CurveNotSupported),
        }
    }

    /// The DER OID of the curve (the canonical `CKA_EC_PARAMS`).
    pub(crate) fn oid_der(self) -> &'static [u8] {
        match self {
            Curve::P256 => P256_OID_DER,
        }
    }

    /// Size of the field (and of a scalar, and of each half of a signature) in bytes.
    pub(crate) fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
        }
    }
}

/// Parses one DER element with a short or long definite length and nothing after
/// it: `(tag, contents)`.
pub(crate) fn der_single(b: &[u8]) -> Option<(u8, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (lb, rest) = rest.split_at(n);
        if lb[0] == 0 {
            return None;
        }
        let len = lb
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        if len < 0x80 {
            return None;
        }
        (len, rest)
    };
    if rest.len() != len {
        return None;
    }
    Some((tag, rest))
}

/// DER OCTET STRING of `content` (how `CKA_EC_POINT` holds a point).
pub(crate) fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let lead = bytes
            .iter()
            .position(|&x| x != 0)
            .unwrap_or(bytes.len() - 1);
        let n = bytes.len() - lead;
        out.push(0x80 | u8::try_from(n).unwrap_or(0));
        out.extend_from_slice(&bytes[lead..]);
    }
    out.extend_from_slice(content);
    out
}

/// An EC public key (a point on the curve, not the identity).
#[derive(Clone)]
pub(crate) struct EcPublicKey {
    curve: Curve,
    key: p256::PublicKey,
    /// The `aws-lc-rs` ECDSA verification key, parsed on first use.
    #[cfg(feature = "aws-lc")]
    lc: std::sync::OnceLock<Option<aws_lc_rs::signature::ParsedPublicKey>>,
}

impl std::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcPublicKey({:?})", self.curve)
    }
}

impl EcPublicKey {
    fn new(curve: Curve, key: p256::PublicKey) -> Self {
        EcPublicKey {
            curve,
            key,
            #[cfg(feature = "aws-lc")]
            lc: std::sync::OnceLock::new(),
        }
    }

    /// The `aws-lc-rs` verification key (parsed once, on first use).
    #[cfg(feature = "aws-lc")]
    fn lc(&self) -> Option<&aws_lc_rs::signature::ParsedPublicKey> {
        self.lc
            .get_or_init(|| {
                aws_lc_rs::signature::ParsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                    self.uncompressed(),
                )
                .ok()
            })
            .as_ref()
    }

    /// From a point as `CKA_EC_POINT` or `CK_ECDH1_DERIVE_PARAMS.pPublicData`
    /// carry it: a DER OCTET STRING around the SEC 1 encoding, or the bare SEC 1
    /// encoding (compressed or uncompressed). Not a point of the curve →
    /// `PublicKeyInvalid`.
    pub(crate) fn from_point(curve: Curve, bytes: &[u8]) -> Result<Self> {
        if let Some((0x04, inner)) = der_single(bytes) {
            if let Ok(k) = Self::from_sec1(curve, inner) {
                return Ok(k);
            }
        }
        Self::from_sec1(curve, bytes)
    }

    fn from_sec1(curve: Curve, bytes: &[u8]) -> Result<Self> {
        match curve {
            Curve::P256 => {
                let key =
                    p256::PublicKey::from_sec1_bytes(bytes).map_err(|_| Error::PublicKeyInvalid)?;
                Ok(Self::new(curve, key))
            }
        }
    }

    /// The uncompressed SEC 1 encoding `04 || x || y`.
    pub(crate) fn uncompressed(&self) -> Vec<u8> {
        self.key.to_sec1_point(false).as_bytes().to_vec()
    }

    /// The DER SubjectPublicKeyInfo (id-ecPublicKey with the namedCurve OID).
    pub(crate) fn to_spki_der(&self) -> Result<Vec<u8>> {
        use p256::pkcs8::EncodePublicKey;
        let doc = self
            .key
            .to_public_key_der()
            .map_err(|e| Error::General(format!("spki: {e}")))?;
        Ok(doc.as_bytes().to_vec())
    }

    /// Verifies a raw `r || s` ECDSA signature over `hash` (any length; the
    /// leftmost bits of the order's size are used, ECDSA's rule). A signature of
    /// the wrong length is `SignatureLenRange`, any other failure `SignatureInvalid`.
    pub(crate) fn verify_prehash(&self, hash: &[u8], sig: &[u8]) -> Result<()> {
        if sig.len() != 2 * self.curve.field_len() {
            return Err(Error::SignatureLenRange);
        }
        let e = truncate_hash(self.curve, hash);
        // The truncated hash is exactly 32 bytes, the integer ECDSA uses: as a
        // "SHA-256 digest" aws-lc takes it unchanged.
        #[cfg(feature = "aws-lc")]
        if let Some(lc) = self.lc() {
            let d = aws_lc_rs::digest::Digest::import_less_safe(&e, &aws_lc_rs::digest::SHA256)
                .map_err(|_| Error::SignatureInvalid)?;
            return lc
                .verify_digest_sig(&d, sig)
                .map_err(|_| Error::SignatureInvalid);
        }
        let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|_| Error::SignatureInvalid)?;
        let vk = p256::ecdsa::VerifyingKey::from(&self.key);
        vk.verify_prehash(&e, &sig)
            .map_err(|_| Error::SignatureInvalid)
    }
}

/// The hash as ECDSA uses it: its leftmost `field_len` bytes, left-padded with
/// zeros when shorter (the same integer).
fn truncate_hash(curve: Curve, hash: &[u8]) -> Vec<u8> {
    let n = curve.field_len();
    if hash.len() >= n {
        hash[..n].to_vec()
    } else {
        let mut v = vec![0u8; n - hash.len()];
        v.extend_from_slice(hash);
        v
    }
}

/// An EC private key.
pub(crate) struct EcPrivateKey {
    curve: Curve,
    key: p256::SecretKey,
    /// The `aws-lc-rs` forms of the key, built on first use (`None` if
    /// `aws-lc-rs` refused the key, which then stays on `p256`).
    #[cfg(feature = "aws-lc")]
    lc: std::sync::OnceLock<Option<LcEcPrivate>>,
}

/// The `aws-lc-rs` forms of one EC private key.
#[cfg(feature = "aws-lc")]
struct LcEcPrivate {
    ecdh: aws_lc_rs::agreement::PrivateKey,
    /// The signing key, built on the first signature.
    ecdsa: std::sync::OnceLock<Option<aws_lc_rs::signature::EcdsaKeyPair>>,
    /// The public point, uncompressed.
    point: Vec<u8>,
}

#[cfg(feature = "aws-lc")]
impl LcEcPrivate {
    /// From the scalar (`field_len` bytes); `None` when `aws-lc-rs` refuses it.
    fn from_scalar(curve: Curve, scalar: &[u8]) -> Option<Self> {
        match curve {
            Curve::P256 => {
                let ecdh = aws_lc_rs::agreement::PrivateKey::from_private_key(
                    &aws_lc_rs::agreement::ECDH_P256,
                    scalar,
                )
                .ok()?;
                Self::from_ecdh(curve, ecdh)
            }
        }
    }

    /// From the ECDH key (which computed the public point already).
    fn from_ecdh(curve: Curve, ecdh: aws_lc_rs::agreement::PrivateKey) -> Option<Self> {
        match curve {
            Curve::P256 => {
                let point = ecdh.compute_public_key().ok()?.as_ref().to_vec();
                Some(LcEcPrivate {
                    ecdh,
                    ecdsa: std::sync::OnceLock::new(),
                    point,
                })
            }
        }
    }

    /// The ECDSA key, built once from `scalar()` (this key's scalar).
    fn ecdsa(
        &self,
        curve: Curve,
        scalar: impl FnOnce() -> Zeroizing<Vec<u8>>,
    ) -> Option<&aws_lc_rs::signature::EcdsaKeyPair> {
        self.ecdsa
            .get_or_init(|| match curve {
                Curve::P256 => aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &scalar(),
                    &self.point,
                )
                .ok(),
            })
            .as_ref()
    }
}

impl std::fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcPrivateKey({:?})", self.curve)
    }
}

impl EcPrivateKey {
    fn new(curve: Curve, key: p256::SecretKey) -> Self {
        EcPrivateKey {
            curve,
            key,
            #[cfg(feature = "aws-lc")]
            lc: std::sync::OnceLock::new(),
        }
    }

    /// The `aws-lc-rs` forms (built once, on first use).
    #[cfg(feature = "aws-lc")]
    fn lc(&self) -> Option<&LcEcPrivate> {
        self.lc
            .get_or_init(|| LcEcPrivate::from_scalar(self.curve, &self.scalar()))
            .as_ref()
    }

    /// A fresh random key (from `aws-lc-rs` with the `aws-lc` feature, which
    /// also computes the public point once for [`Self::public_point`]).
    pub(crate) fn generate(curve: Curve) -> Result<Self> {
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::encoding::AsBigEndian;
            let Curve::P256 = curve;
            let ecdh = aws_lc_rs::agreement::PrivateKey::generate(&aws_lc_rs::agreement::ECDH_P256)
                .map_err(|_| Error::General("aws-lc: ec key generation".into()))?;
            // The big-endian scalar is an aws-lc-rs buffer, wiped on drop.
            let be: aws_lc_rs::encoding::EcPrivateKeyBin<'static> = ecdh
                .as_be_bytes()
                .map_err(|_| Error::General("aws-lc: ec key generation".into()))?;
            let scalar = Zeroizing::new(be.as_ref().to_vec());
            let key = p256::SecretKey::from_slice(&scalar)
                .map_err(|_| Error::General("aws-lc: ec key generation".into()))?;
            let out = Self::new(curve, key);
            if let Some(lc) = LcEcPrivate::from_ecdh(curve, ecdh) {
                let _ = out.lc.set(Some(lc));
            }
            Ok(out)
        }
        #[cfg(not(feature = "aws-lc"))]
        match curve {
            Curve::P256 => {
                use p256::elliptic_curve::Generate;
                let key = p256::SecretKey::try_generate()
                    .map_err(|e| Error::General(format!("random source: {e}")))?;
                Ok(Self::new(curve, key))
            }
        }
    }

    /// From the scalar (`CKA_VALUE`, big-endian). Leading zeros may be missing;
    /// zero or a value not below the order is `AttributeValueInvalid(CKA_VALUE)`.
    pub(crate) fn from_scalar(curve: Curve, value: &[u8]) -> Result<Self> {
        let n = curve.field_len();
        let v = crate::crypto::rsa::trim_be(value);
        if v.len() > n {
            return Err(Error::AttributeValueInvalid(cryptoki_sys::CKA_VALUE));
        }
        let mut buf = Zeroizing::new(vec![0u8; n]);
        buf[n - v.len()..].copy_from_slice(v);
        match curve {
            Curve::P256 => {
                let key = p256::SecretKey::from_slice(&buf)
                    .map_err(|_| Error::AttributeValueInvalid(cryptoki_sys::CKA_VALUE))?;
                Ok(Self::new(curve, key))
            }
        }
    }

    /// From a DER PKCS#8 `PrivateKeyInfo` of a P-256 key; anything else is
    /// `WrappedKeyInvalid`.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::SecretKey::from_pkcs8_der(der).map_err(|_| Error::WrappedKeyInvalid)?;
        Ok(Self::new(Curve::P256, key))
    }

    /// The DER PKCS#8 `PrivateKeyInfo`: id-ecPublicKey with the namedCurve OID,
    /// an `ECPrivateKey` that includes the public key.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        use p256::pkcs8::EncodePrivateKey;
        let doc = self
            .key
            .to_pkcs8_der()
            .map_err(|e| Error::General(format!("pkcs8: {e}")))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The curve.
    pub(crate) fn curve(&self) -> Curve {
        self.curve
    }

    /// The scalar, `field_len` bytes big-endian.
    pub(crate) fn scalar(&self) -> Zeroizing<Vec<u8>> {
        let b = Zeroizing::new(self.key.to_bytes());
        Zeroizing::new(b.to_vec())
    }

    /// The public key.
    pub(crate) fn public(&self) -> EcPublicKey {
        EcPublicKey::new(self.curve, self.key.public_key())
    }

    /// The public point, uncompressed (`04 || x || y`); with `aws-lc`, the one
    /// computed when the `aws-lc-rs` key was built.
    pub(crate) fn public_point(&self) -> Vec<u8> {
        #[cfg(feature = "aws-lc")]
        if let Some(lc) = self.lc() {
            return lc.point.clone();
        }
        self.public().uncompressed()
    }

    /// A raw `r || s` ECDSA signature over `hash` (any length, truncated as
    /// ECDSA says). `k` per RFC 6979 in the pure-Rust build; a hedged random
    /// nonce with `aws-lc` (see the module docs).
    pub(crate) fn sign_prehash(&self, hash: &[u8]) -> Result<Vec<u8>> {
        let e = truncate_hash(self.curve, hash);
        // The truncated (or zero-padded) hash is exactly 32 bytes, the integer
        // ECDSA signs: as a "SHA-256 digest" aws-lc takes it unchanged.
        #[cfg(feature = "aws-lc")]
        if let Some(kp) = self
            .lc()
            .and_then(|lc| lc.ecdsa(self.curve, || self.scalar()))
        {
            let d = aws_lc_rs::digest::Digest::import_less_safe(&e, &aws_lc_rs::digest::SHA256)
                .map_err(|_| Error::FunctionFailed)?;
            let sig = kp.sign_digest(&d).map_err(|_| Error::FunctionFailed)?;
            return Ok(sig.as_ref().to_vec());
        }
        let sk = p256::ecdsa::SigningKey::from(&self.key);
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&e).map_err(|_| Error::FunctionFailed)?;
        Ok(sig.to_bytes().to_vec())
    }

    /// ECDH: the x-coordinate of `d · Q` (`field_len` bytes).
    pub(crate) fn ecdh(&self, peer: &EcPublicKey) -> Result<Zeroizing<Vec<u8>>> {
        if peer.curve != self.curve {
            return Err(Error::MechanismParamInvalid);
        }
        #[cfg(feature = "aws-lc")]
        if let Some(lc) = self.lc() {
            let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(
                &aws_lc_rs::agreement::ECDH_P256,
                peer.uncompressed(),
            );
            return aws_lc_rs::agreement::agree(&lc.ecdh, peer, Error::FunctionFailed, |z| {
                Ok(Zeroizing::new(z.to_vec()))
            });
        }
        let shared = self.key.diffie_hellman(&peer.key);
        Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    }
}

/// The ANSI X9.63 KDF (SEC 1 §3.6.1): `H(Z || counter || shared_info)` for counter
/// 1, 2, …, concatenated and cut to `len` bytes.
pub(crate) fn x963_kdf(
    hash: HashAlg,
    z: &[u8],
    shared_info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let blocks = len.div_ceil(hash.len());
    if u32::try_from(blocks).is_err() {
        return Err(Error::KeySizeRange);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(blocks * hash.len()));
    let mut counter: u32 = 1;
    while out.len() < len {
        let block = Zeroizing::new(hash.digest(&[z, &counter.to_be_bytes(), shared_info]));
        out.extend_from_slice(&block);
        counter = counter.checked_add(1).ok_or(Error::KeySizeRange)?;
    }
    out.truncate(len);
    Ok(out)
}
