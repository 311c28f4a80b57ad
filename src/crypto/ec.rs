//! Elliptic curves in short Weierstrass form over the RustCrypto curve crates
//! (`p256`, `p384`, `p521`, `k256`): named-curve parameters, points, ECDSA on a
//! prehashed input, ECDH and the ANSI X9.63 and SP 800-56C one-step KDFs.
//!
//! [`Curve`] names the curve everywhere: P-256, P-384, P-521 and secp256k1.
//! Adding a curve means one more variant, one more arm in the `by_curve!` and
//! `each_key!` macros and one more row in each small table below.
//!
//! With the `aws-lc` feature, ECDSA signing and verification, ECDH and key
//! generation go to `aws-lc-rs` (which has no ECDH and no key agreement type on
//! secp256k1: there the key is made and used by `k256`, and ECDSA goes to
//! `aws-lc-rs`). Its ECDSA nonces are random (hedged with the key and the
//! digest), so signatures differ from call to call; the pure-Rust build signs
//! deterministically (RFC 6979, with the HMAC hash the curve crate pairs with the
//! curve), so the RFC 6979 vectors match it exactly. Both are valid ECDSA
//! signatures of the same key. The `aws-lc-rs` key objects are built once per
//! parsed key, on first use, and cached with it.

use crate::crypto::rsa::HashAlg;
use crate::error::{Error, Result};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::elliptic_curve::sec1::ToSec1Point;
use zeroize::Zeroizing;

/// DER of the object identifier `prime256v1` (1.2.840.10045.3.1.7).
pub(crate) const P256_OID_DER: &[u8] =
    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the object identifier `secp384r1` (1.3.132.0.34).
pub(crate) const P384_OID_DER: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER of the object identifier `secp521r1` (1.3.132.0.35).
pub(crate) const P521_OID_DER: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// DER of the object identifier `secp256k1` (1.3.132.0.10).
pub(crate) const K256_OID_DER: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// A supported named curve in short Weierstrass form (`CKK_EC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// SECG secp256k1 (signing only, as in AWS KMS).
    Secp256k1,
}

/// Every curve, with its OID and the names `CKA_EC_PARAMS` may carry as a
/// PrintableString or UTF8String (compared without regard to ASCII case).
const CURVES: &[(Curve, &[u8], &[&str])] = &[
    (
        Curve::P256,
        P256_OID_DER,
        &["prime256v1", "P-256", "secp256r1", "nistp256"],
    ),
    (
        Curve::P384,
        P384_OID_DER,
        &["secp384r1", "P-384", "nistp384"],
    ),
    (
        Curve::P521,
        P521_OID_DER,
        &["secp521r1", "P-521", "nistp521"],
    ),
    (Curve::Secp256k1, K256_OID_DER, &["secp256k1"]),
];

impl Curve {
    /// Reads `CKA_EC_PARAMS`: the DER OID of a named curve, or the DER
    /// PrintableString (or UTF8String) of its name. A well-formed but unknown
    /// curve (or explicit parameters) is `CurveNotSupported`; bytes that are not
    /// one DER element are `DomainParamsInvalid`.
    pub(crate) fn from_ec_params(params: &[u8]) -> Result<Curve> {
        let (tag, body) = der_single(params).ok_or(Error::DomainParamsInvalid)?;
        let found = match tag {
            0x06 => CURVES.iter().find(|(_, oid, _)| *oid == params),
            0x13 | 0x0c => CURVES.iter().find(|(_, _, names)| {
                names
                    .iter()
                    .any(|n| n.as_bytes().eq_ignore_ascii_case(body))
            }),
            _ => None,
        };
        found.map(|(c, _, _)| *c).ok_or(Error::CurveNotSupported)
    }

    /// The DER OID of the curve (the canonical `CKA_EC_PARAMS`).
    pub(crate) fn oid_der(self) -> &'static [u8] {
        match self {
            Curve::P256 => P256_OID_DER,
            Curve::P384 => P384_OID_DER,
            Curve::P521 => P521_OID_DER,
            Curve::Secp256k1 => K256_OID_DER,
        }
    }

    /// Size of the field (and of a scalar, and of each half of a signature) in bytes.
    pub(crate) fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Size of the group order in bits (what `C_GetMechanismInfo` counts).
    pub(crate) fn order_bits(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// Whether ECDH is offered on the curve: not on secp256k1, which AWS KMS
    /// (and so SoftKMS) keeps for signing.
    pub(crate) fn allows_ecdh(self) -> bool {
        !matches!(self, Curve::Secp256k1)
    }
}

/// Runs `$body` with `$m` naming the curve crate of `$curve` and wraps the
/// result in `$wrap::<variant>`.
macro_rules! by_curve {
    ($curve:expr, $m:ident, $wrap:ident => $body:expr) => {
        match $curve {
            Curve::P256 => {
                use p256 as $m;
                $wrap::P256($body)
            }
            Curve::P384 => {
                use p384 as $m;
                $wrap::P384($body)
            }
            Curve::P521 => {
                use p521 as $m;
                $wrap::P521($body)
            }
            Curve::Secp256k1 => {
                use k256 as $m;
                $wrap::K256($body)
            }
        }
    };
}

/// Runs `$body` with `$k` bound to the curve crate's key inside `$key` (a
/// [`PubKey`] or [`SecKey`], named by `$ty`) and `$m` naming its crate.
macro_rules! each_key {
    ($key:expr, $ty:ident, $k:ident, $m:ident => $body:expr) => {
        match $key {
            $ty::P256($k) => {
                #[allow(unused_imports)]
                use p256 as $m;
                $body
            }
            $ty::P384($k) => {
                #[allow(unused_imports)]
                use p384 as $m;
                $body
            }
            $ty::P521($k) => {
                #[allow(unused_imports)]
                use p521 as $m;
                $body
            }
            $ty::K256($k) => {
                #[allow(unused_imports)]
                use k256 as $m;
                $body
            }
        }
    };
}

/// A public key of one of the curve crates.
#[derive(Clone)]
enum PubKey {
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    P521(p521::PublicKey),
    K256(k256::PublicKey),
}

/// A secret key of one of the curve crates (each wipes itself on drop).
enum SecKey {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
    K256(k256::SecretKey),
}

/// The `aws-lc-rs` algorithms of each curve.
#[cfg(feature = "aws-lc")]
mod lc {
    use super::Curve;
    use aws_lc_rs::{agreement, digest, signature};

    /// The ECDH algorithm (none on secp256k1).
    pub(super) fn agreement(c: Curve) -> Option<&'static agreement::Algorithm> {
        match c {
            Curve::P256 => Some(&agreement::ECDH_P256),
            Curve::P384 => Some(&agreement::ECDH_P384),
            Curve::P521 => Some(&agreement::ECDH_P521),
            Curve::Secp256k1 => None,
        }
    }

    /// The fixed-length (`r || s`) ECDSA signing algorithm.
    pub(super) fn signing(c: Curve) -> &'static signature::EcdsaSigningAlgorithm {
        match c {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
        }
    }

    /// The fixed-length ECDSA verification algorithm.
    pub(super) fn verification(c: Curve) -> &'static signature::EcdsaVerificationAlgorithm {
        match c {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
            Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED,
        }
    }

    /// The digest the algorithms above are paired with.
    fn digest_alg(c: Curve) -> &'static digest::Algorithm {
        match c {
            Curve::P256 | Curve::Secp256k1 => &digest::SHA256,
            Curve::P384 => &digest::SHA384,
            Curve::P521 => &digest::SHA512,
        }
    }

    /// The ECDSA integer `e` (`field_len` bytes) as a digest of the paired
    /// hash, which `aws-lc` takes unchanged: its length is the order's size on
    /// P-256, P-384 and secp256k1; on P-521 (64-byte SHA-512 against a 66-byte
    /// field) only when the two leading bytes are zero, which holds for every
    /// hash of 64 bytes or less. `None` otherwise (the RustCrypto code signs).
    pub(super) fn digest(c: Curve, e: &[u8]) -> Option<digest::Digest> {
        let alg = digest_alg(c);
        let n = alg.output_len();
        let (high, low) = e.split_at(e.len().checked_sub(n)?);
        if high.iter().any(|&b| b != 0) {
            return None;
        }
        digest::Digest::import_less_safe(low, alg).ok()
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
    key: PubKey,
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
    fn new(curve: Curve, key: PubKey) -> Self {
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
                    lc::verification(self.curve),
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
        let key = by_curve!(curve, m, PubKey => m::PublicKey::from_sec1_bytes(bytes)
            .map_err(|_| Error::PublicKeyInvalid)?);
        Ok(Self::new(curve, key))
    }

    /// The uncompressed SEC 1 encoding `04 || x || y`.
    pub(crate) fn uncompressed(&self) -> Vec<u8> {
        each_key!(&self.key, PubKey, k, m => k.to_sec1_point(false).as_bytes().to_vec())
    }

    /// The DER SubjectPublicKeyInfo (id-ecPublicKey with the namedCurve OID).
    pub(crate) fn to_spki_der(&self) -> Result<Vec<u8>> {
        use pkcs8::EncodePublicKey;
        let doc = each_key!(&self.key, PubKey, k, m => k.to_public_key_der())
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
        let e = ecdsa_integer(self.curve, hash);
        #[cfg(feature = "aws-lc")]
        if let (Some(key), Some(d)) = (self.lc(), lc::digest(self.curve, &e)) {
            return key
                .verify_digest_sig(&d, sig)
                .map_err(|_| Error::SignatureInvalid);
        }
        each_key!(&self.key, PubKey, k, m => {
            let sig = m::ecdsa::Signature::from_slice(sig).map_err(|_| Error::SignatureInvalid)?;
            // ECDSA accepts (r, s) and (r, n - s) alike; k256 alone insists
            // on the low form, so both are checked in it.
            let sig = sig.normalize_s();
            m::ecdsa::VerifyingKey::from(k)
                .verify_prehash(&e, &sig)
                .map_err(|_| Error::SignatureInvalid)
        })
    }
}

/// The integer ECDSA signs for `hash` (X9.62, SEC 1 §4.1.3 step 5): the hash's
/// leftmost bits, as many as the order has, as `field_len` big-endian bytes
/// (a shorter hash is the same integer, left-padded with zeros).
fn ecdsa_integer(curve: Curve, hash: &[u8]) -> Vec<u8> {
    let n = curve.field_len();
    let bits = curve.order_bits();
    if hash.len() * 8 <= bits {
        let mut v = vec![0u8; n - hash.len()];
        v.extend_from_slice(hash);
        return v;
    }
    let mut v = hash[..n].to_vec();
    let shift = u32::try_from(n * 8 - bits).unwrap_or(0);
    if shift > 0 {
        for i in (0..n).rev() {
            let carry = if i > 0 { v[i - 1] << (8 - shift) } else { 0 };
            v[i] = (v[i] >> shift) | carry;
        }
    }
    v
}

/// An EC private key.
pub(crate) struct EcPrivateKey {
    curve: Curve,
    key: SecKey,
    /// The `aws-lc-rs` forms of the key, built on first use (`None` if
    /// `aws-lc-rs` refused the key, which then stays on the curve crate).
    #[cfg(feature = "aws-lc")]
    lc: std::sync::OnceLock<Option<LcEcPrivate>>,
}

/// The `aws-lc-rs` forms of one EC private key.
#[cfg(feature = "aws-lc")]
struct LcEcPrivate {
    /// The ECDH key (none on secp256k1).
    ecdh: Option<aws_lc_rs::agreement::PrivateKey>,
    /// The signing key, built on the first signature.
    ecdsa: std::sync::OnceLock<Option<aws_lc_rs::signature::EcdsaKeyPair>>,
    /// The public point, uncompressed.
    point: Vec<u8>,
}

#[cfg(feature = "aws-lc")]
impl LcEcPrivate {
    /// From the scalar (`field_len` bytes); `None` when `aws-lc-rs` refuses it.
    /// `point` computes the public point where `aws-lc-rs` has no ECDH key.
    fn from_scalar(curve: Curve, scalar: &[u8], point: impl FnOnce() -> Vec<u8>) -> Option<Self> {
        match lc::agreement(curve) {
            Some(alg) => {
                let ecdh = aws_lc_rs::agreement::PrivateKey::from_private_key(alg, scalar).ok()?;
                Self::from_ecdh(ecdh)
            }
            None => Some(LcEcPrivate {
                ecdh: None,
                ecdsa: std::sync::OnceLock::new(),
                point: point(),
            }),
        }
    }

    /// From the ECDH key (which computed the public point already).
    fn from_ecdh(ecdh: aws_lc_rs::agreement::PrivateKey) -> Option<Self> {
        let point = ecdh.compute_public_key().ok()?.as_ref().to_vec();
        Some(LcEcPrivate {
            ecdh: Some(ecdh),
            ecdsa: std::sync::OnceLock::new(),
            point,
        })
    }

    /// The ECDSA key, built once from `scalar()` (this key's scalar).
    fn ecdsa(
        &self,
        curve: Curve,
        scalar: impl FnOnce() -> Zeroizing<Vec<u8>>,
    ) -> Option<&aws_lc_rs::signature::EcdsaKeyPair> {
        self.ecdsa
            .get_or_init(|| {
                aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
                    lc::signing(curve),
                    &scalar(),
                    &self.point,
                )
                .ok()
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
    fn new(curve: Curve, key: SecKey) -> Self {
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
            .get_or_init(|| {
                LcEcPrivate::from_scalar(self.curve, &self.scalar(), || {
                    self.public().uncompressed()
                })
            })
            .as_ref()
    }

    /// A fresh random key (from `aws-lc-rs` with the `aws-lc` feature where it
    /// has the curve's ECDH, which also computes the public point once for
    /// [`Self::public_point`]; from the curve crate otherwise).
    pub(crate) fn generate(curve: Curve) -> Result<Self> {
        #[cfg(feature = "aws-lc")]
        if let Some(alg) = lc::agreement(curve) {
            use aws_lc_rs::encoding::AsBigEndian;
            let fail = || Error::General("aws-lc: ec key generation".into());
            let ecdh = aws_lc_rs::agreement::PrivateKey::generate(alg).map_err(|_| fail())?;
            // The big-endian scalar is an aws-lc-rs buffer, wiped on drop.
            let be: aws_lc_rs::encoding::EcPrivateKeyBin<'static> =
                ecdh.as_be_bytes().map_err(|_| fail())?;
            let out = Self::from_scalar(curve, be.as_ref()).map_err(|_| fail())?;
            if let Some(lc) = LcEcPrivate::from_ecdh(ecdh) {
                let _ = out.lc.set(Some(lc));
            }
            return Ok(out);
        }
        use p256::elliptic_curve::Generate;
        let key = by_curve!(curve, m, SecKey => m::SecretKey::try_generate()
            .map_err(|e| Error::General(format!("random source: {e}")))?);
        Ok(Self::new(curve, key))
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
        let key = by_curve!(curve, m, SecKey => m::SecretKey::from_slice(&buf)
            .map_err(|_| Error::AttributeValueInvalid(cryptoki_sys::CKA_VALUE))?);
        Ok(Self::new(curve, key))
    }

    /// From a DER PKCS#8 `PrivateKeyInfo` of a key on `curve`; anything else is
    /// `WrappedKeyInvalid`.
    pub(crate) fn from_pkcs8_der(curve: Curve, der: &[u8]) -> Result<Self> {
        use pkcs8::DecodePrivateKey;
        let key = by_curve!(curve, m, SecKey => m::SecretKey::from_pkcs8_der(der)
            .map_err(|_| Error::WrappedKeyInvalid)?);
        Ok(Self::new(curve, key))
    }

    /// The DER PKCS#8 `PrivateKeyInfo`: id-ecPublicKey with the namedCurve OID,
    /// an `ECPrivateKey` that includes the public key.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        use pkcs8::EncodePrivateKey;
        let doc = each_key!(&self.key, SecKey, k, m => k.to_pkcs8_der())
            .map_err(|e| Error::General(format!("pkcs8: {e}")))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The curve.
    pub(crate) fn curve(&self) -> Curve {
        self.curve
    }

    /// The scalar, `field_len` bytes big-endian.
    pub(crate) fn scalar(&self) -> Zeroizing<Vec<u8>> {
        each_key!(&self.key, SecKey, k, m => {
            let b = Zeroizing::new(k.to_bytes());
            Zeroizing::new(b.to_vec())
        })
    }

    /// The public key.
    pub(crate) fn public(&self) -> EcPublicKey {
        let key = match &self.key {
            SecKey::P256(k) => PubKey::P256(k.public_key()),
            SecKey::P384(k) => PubKey::P384(k.public_key()),
            SecKey::P521(k) => PubKey::P521(k.public_key()),
            SecKey::K256(k) => PubKey::K256(k.public_key()),
        };
        EcPublicKey::new(self.curve, key)
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
        let e = ecdsa_integer(self.curve, hash);
        #[cfg(feature = "aws-lc")]
        if let Some(d) = lc::digest(self.curve, &e) {
            if let Some(kp) = self
                .lc()
                .and_then(|lc| lc.ecdsa(self.curve, || self.scalar()))
            {
                let sig = kp.sign_digest(&d).map_err(|_| Error::FunctionFailed)?;
                return Ok(sig.as_ref().to_vec());
            }
        }
        each_key!(&self.key, SecKey, k, m => {
            let sk = m::ecdsa::SigningKey::from(k);
            let sig: m::ecdsa::Signature = sk.sign_prehash(&e).map_err(|_| Error::FunctionFailed)?;
            Ok(sig.to_bytes().to_vec())
        })
    }

    /// ECDH: the x-coordinate of `d · Q` (`field_len` bytes). A peer on another
    /// curve is `MechanismParamInvalid`; a curve without ECDH (secp256k1) is
    /// `KeyTypeInconsistent`.
    pub(crate) fn ecdh(&self, peer: &EcPublicKey) -> Result<Zeroizing<Vec<u8>>> {
        if !self.curve.allows_ecdh() {
            return Err(Error::KeyTypeInconsistent);
        }
        if peer.curve != self.curve {
            return Err(Error::MechanismParamInvalid);
        }
        #[cfg(feature = "aws-lc")]
        if let (Some(key), Some(alg)) = (
            self.lc().and_then(|lc| lc.ecdh.as_ref()),
            lc::agreement(self.curve),
        ) {
            let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(alg, peer.uncompressed());
            return aws_lc_rs::agreement::agree(key, peer, Error::FunctionFailed, |z| {
                Ok(Zeroizing::new(z.to_vec()))
            });
        }
        macro_rules! dh {
            ($s:expr, $p:expr) => {
                Ok(Zeroizing::new(
                    $s.diffie_hellman($p).raw_secret_bytes().to_vec(),
                ))
            };
        }
        match (&self.key, &peer.key) {
            (SecKey::P256(s), PubKey::P256(p)) => dh!(s, p),
            (SecKey::P384(s), PubKey::P384(p)) => dh!(s, p),
            (SecKey::P521(s), PubKey::P521(p)) => dh!(s, p),
            _ => Err(Error::MechanismParamInvalid),
        }
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
    counter_kdf(hash, z, shared_info, len, false)
}

/// The one-step KDF of NIST SP 800-56C rev. 2 §4.1 with a hash (option 1):
/// `H(counter || Z || fixed_info)` for counter 1, 2, …, concatenated and cut to
/// `len` bytes (the `CKD_SHA*_KDF_SP800` functions of `CK_ECDH1_DERIVE_PARAMS`).
pub(crate) fn sp800_56c_kdf(
    hash: HashAlg,
    z: &[u8],
    fixed_info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    counter_kdf(hash, z, fixed_info, len, true)
}

/// The two KDFs above: a 32-bit big-endian counter from 1, after `Z` (X9.63) or
/// before it (SP 800-56C).
fn counter_kdf(
    hash: HashAlg,
    z: &[u8],
    info: &[u8],
    len: usize,
    counter_first: bool,
) -> Result<Zeroizing<Vec<u8>>> {
    let blocks = len.div_ceil(hash.len());
    if u32::try_from(blocks).is_err() {
        return Err(Error::KeySizeRange);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(blocks * hash.len()));
    let mut counter: u32 = 1;
    while out.len() < len {
        let c = counter.to_be_bytes();
        let parts: [&[u8]; 3] = if counter_first {
            [&c, z, info]
        } else {
            [z, &c, info]
        };
        let block = Zeroizing::new(hash.digest(&parts));
        out.extend_from_slice(&block);
        counter = counter.checked_add(1).ok_or(Error::KeySizeRange)?;
    }
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn curve_names_and_oids() {
        for (c, oid, names) in CURVES {
            assert_eq!(Curve::from_ec_params(oid).unwrap(), *c);
            assert_eq!(c.oid_der(), *oid);
            for n in *names {
                let mut p = vec![0x13, u8::try_from(n.len()).unwrap()];
                p.extend_from_slice(n.as_bytes());
                assert_eq!(Curve::from_ec_params(&p).unwrap(), *c, "{n}");
                p[0] = 0x0c;
                assert_eq!(Curve::from_ec_params(&p).unwrap(), *c, "{n}");
            }
        }
        assert!(matches!(
            Curve::from_ec_params(b"\x13\x09secp224r1"),
            Err(Error::CurveNotSupported)
        ));
        assert!(matches!(
            Curve::from_ec_params(b"\x06\x05\x2b\x81\x04\x00"),
            Err(Error::DomainParamsInvalid)
        ));
    }

    #[test]
    fn ecdsa_integer_takes_the_leftmost_order_bits() {
        // P-521: 66 bytes of 0xff are 528 bits; the leftmost 521 are 0x01ff..ff.
        let e = ecdsa_integer(Curve::P521, &[0xff; 70]);
        assert_eq!(e.len(), 66);
        assert_eq!(e[0], 0x01);
        assert!(e[1..].iter().all(|&b| b == 0xff));
        // A SHA-512 hash on P-521 is the same integer, padded.
        let e = ecdsa_integer(Curve::P521, &[0xab; 64]);
        assert_eq!(&e[..2], &[0, 0]);
        assert_eq!(&e[2..], &[0xab; 64]);
        // P-384 keeps the first 48 bytes of a longer hash.
        let h: Vec<u8> = (0u8..64).collect();
        assert_eq!(ecdsa_integer(Curve::P384, &h), h[..48].to_vec());
    }

    #[test]
    fn sign_verify_every_curve() {
        for c in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
            let k = EcPrivateKey::generate(c).unwrap();
            let again = EcPrivateKey::from_scalar(c, &k.scalar()).unwrap();
            assert_eq!(again.public_point(), k.public_point());
            let p = EcPublicKey::from_point(c, &k.public_point()).unwrap();
            for h in [
                &[7u8; 20][..],
                &[9u8; 32],
                &[1u8; 48],
                &[3u8; 64],
                &[5u8; 80],
            ] {
                let sig = k.sign_prehash(h).unwrap();
                assert_eq!(sig.len(), 2 * c.field_len());
                p.verify_prehash(h, &sig).unwrap();
                let mut bad = sig.clone();
                bad[3] ^= 1;
                assert!(p.verify_prehash(h, &bad).is_err());
            }
            let pk8 = k.to_pkcs8_der().unwrap();
            let back = EcPrivateKey::from_pkcs8_der(c, &pk8).unwrap();
            assert_eq!(back.scalar(), k.scalar());
            if c.allows_ecdh() {
                let other = EcPrivateKey::generate(c).unwrap();
                let z1 = k.ecdh(&other.public()).unwrap();
                let z2 = other.ecdh(&k.public()).unwrap();
                assert_eq!(z1, z2);
                assert_eq!(z1.len(), c.field_len());
            } else {
                assert!(matches!(
                    k.ecdh(&k.public()),
                    Err(Error::KeyTypeInconsistent)
                ));
            }
        }
    }

    #[test]
    fn kdf_counter_positions() {
        let z = [1u8; 4];
        let a = x963_kdf(HashAlg::Sha256, &z, b"x", 40).unwrap();
        let b = sp800_56c_kdf(HashAlg::Sha256, &z, b"x", 40).unwrap();
        assert_eq!(
            a[..32],
            HashAlg::Sha256.digest(&[&z, &[0, 0, 0, 1], b"x"])[..]
        );
        assert_eq!(
            b[..32],
            HashAlg::Sha256.digest(&[&[0, 0, 0, 1], &z, b"x"])[..]
        );
        assert_eq!(
            b[32..],
            HashAlg::Sha256.digest(&[&[0, 0, 0, 2], &z, b"x"])[..8]
        );
    }
}
