//! Ed25519 (RFC 8032): keys, and signatures in its three forms: pure
//! Ed25519, Ed25519ctx (with a context) and Ed25519ph (SHA-512 prehash, with an
//! optional context).
//!
//! Backends: pure Ed25519 goes to `aws-lc-rs` with the `aws-lc` feature and to
//! `ed25519-dalek` in the pure-Rust build; Ed25519ph goes to `ed25519-dalek` in
//! both (aws-lc-rs has no prehash form); Ed25519ctx, which neither crate offers,
//! is built here from the RFC's steps over `curve25519-dalek`'s group and scalar
//! arithmetic (§5.1.6 and §5.1.7 with `dom2(0, context)`), and checked against
//! the RFC's Ed25519ctx vectors.
//!
//! Ed448 is not built in: no crate fit for a release offers it (aws-lc-rs has
//! none, RustCrypto's `ed448-goldilocks` is a pre-release), so its curve is
//! `CKR_CURVE_NOT_SUPPORTED` at key generation and creation.

use crate::crypto::ec::der_single;
use crate::error::{Error, Result};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// DER of the object identifier id-Ed25519 (1.3.101.112).
pub(crate) const ED25519_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER of the object identifier id-Ed448 (1.3.101.113).
const ED448_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];

/// Length of a key (seed or public) in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// Length of a signature in bytes.
pub(crate) const SIG_LEN: usize = 64;
/// The longest context RFC 8032 allows.
pub(crate) const MAX_CONTEXT: usize = 255;

/// Reads the `CKA_EC_PARAMS` of an Edwards key (PKCS#11 3.0 §2.3.5): the DER
/// OID id-Ed25519 or the PrintableString (or UTF8String) `edwards25519`
/// (`ed25519` is accepted too). Ed448 and anything else well-formed is
/// `CurveNotSupported`; bytes that are not one DER element `DomainParamsInvalid`.
pub(crate) fn check_params(params: &[u8]) -> Result<()> {
    let (tag, body) = der_single(params).ok_or(Error::DomainParamsInvalid)?;
    let ok = match tag {
        0x06 => params == ED25519_OID_DER,
        0x13 | 0x0c => {
            body.eq_ignore_ascii_case(b"edwards25519") || body.eq_ignore_ascii_case(b"ed25519")
        }
        _ => false,
    };
    let _ = ED448_OID_DER;
    if ok {
        Ok(())
    } else {
        Err(Error::CurveNotSupported)
    }
}

/// Which of RFC 8032's Ed25519 forms a signature takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form<'a> {
    /// Ed25519 (no context).
    Pure,
    /// Ed25519ctx with this (non-empty) context.
    Ctx(&'a [u8]),
    /// Ed25519ph with this (possibly empty) context; the message is hashed
    /// with SHA-512 first.
    Ph(&'a [u8]),
}

impl Form<'_> {
    fn context(self) -> Result<()> {
        match self {
            Form::Ctx(c) | Form::Ph(c) if c.len() > MAX_CONTEXT => {
                Err(Error::MechanismParamInvalid)
            }
            Form::Ctx([]) => Err(Error::MechanismParamInvalid),
            _ => Ok(()),
        }
    }
}

/// `dom2(0, context)` of RFC 8032 §2, for Ed25519ctx.
fn dom2_ctx(h: &mut Sha512, context: &[u8]) {
    h.update(b"SigEd25519 no Ed25519 collisions");
    h.update([0u8]);
    h.update([u8::try_from(context.len()).unwrap_or(u8::MAX)]);
    h.update(context);
}

/// SHA-512 reduced mod L.
fn hash_scalar(h: Sha512) -> Scalar {
    let d: [u8; 64] = h.finalize().into();
    Scalar::from_bytes_mod_order_wide(&d)
}

/// An Ed25519 public key (a valid point encoding).
#[derive(Clone)]
pub(crate) struct Ed25519Public {
    key: ed25519_dalek::VerifyingKey,
}

impl std::fmt::Debug for Ed25519Public {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Public")
    }
}

/// The 32 bytes of an Edwards or Montgomery point as `CKA_EC_POINT` or
/// `pPublicData` carry it: raw (PKCS#11 3.1 and later, and what SoftKMS writes)
/// or in a DER OCTET STRING (PKCS#11 3.0 tokens such as SoftHSMv2). The length
/// tells them apart; anything else is `None`.
pub(crate) fn raw_point(bytes: &[u8]) -> Option<[u8; KEY_LEN]> {
    if let Ok(b) = <[u8; KEY_LEN]>::try_from(bytes) {
        return Some(b);
    }
    match der_single(bytes) {
        Some((0x04, inner)) => <[u8; KEY_LEN]>::try_from(inner).ok(),
        _ => None,
    }
}

impl Ed25519Public {
    /// From `CKA_EC_POINT` (see [`raw_point`]); not a point → `PublicKeyInvalid`.
    pub(crate) fn from_point(bytes: &[u8]) -> Result<Self> {
        let b = raw_point(bytes).ok_or(Error::PublicKeyInvalid)?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&b).map_err(|_| Error::PublicKeyInvalid)?;
        Ok(Ed25519Public { key })
    }

    /// The 32-byte encoding.
    pub(crate) fn bytes(&self) -> [u8; KEY_LEN] {
        self.key.to_bytes()
    }

    /// Verifies `sig` over `msg` in `form`. A signature of the wrong length is
    /// `SignatureLenRange`, any other failure `SignatureInvalid`.
    pub(crate) fn verify(&self, form: Form<'_>, msg: &[u8], sig: &[u8]) -> Result<()> {
        form.context()?;
        let sig: [u8; SIG_LEN] = sig.try_into().map_err(|_| Error::SignatureLenRange)?;
        let bad = |_| Error::SignatureInvalid;
        match form {
            Form::Pure => self.verify_pure(msg, &sig),
            Form::Ph(ctx) => self
                .key
                .verify_prehashed_strict(
                    Sha512::new().chain_update(msg),
                    Some(ctx),
                    &ed25519_dalek::Signature::from_bytes(&sig),
                )
                .map_err(bad),
            Form::Ctx(ctx) => verify_ctx(&self.bytes(), ctx, msg, &sig),
        }
    }

    /// Pure Ed25519 verification with `aws-lc-rs`.
    #[cfg(feature = "aws-lc")]
    fn verify_pure(&self, msg: &[u8], sig: &[u8; SIG_LEN]) -> Result<()> {
        use aws_lc_rs::signature::{UnparsedPublicKey, ED25519};
        UnparsedPublicKey::new(&ED25519, self.bytes())
            .verify(msg, sig)
            .map_err(|_| Error::SignatureInvalid)
    }

    /// Pure Ed25519 verification with `ed25519-dalek`.
    #[cfg(not(feature = "aws-lc"))]
    fn verify_pure(&self, msg: &[u8], sig: &[u8; SIG_LEN]) -> Result<()> {
        self.key
            .verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .map_err(|_| Error::SignatureInvalid)
    }
}

/// Ed25519ctx verification (RFC 8032 §5.1.7 with `dom2(0, ctx)`): `S` below
/// L, `R` and `A` valid encodings, `A` not of small order, and
/// `[S]B = R + [k]A`.
fn verify_ctx(a: &[u8; KEY_LEN], ctx: &[u8], msg: &[u8], sig: &[u8; SIG_LEN]) -> Result<()> {
    let (r_bytes, s_bytes) = sig.split_at(32);
    let r_enc: [u8; 32] = r_bytes.try_into().map_err(|_| Error::SignatureInvalid)?;
    let s_enc: [u8; 32] = s_bytes.try_into().map_err(|_| Error::SignatureInvalid)?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_enc))
        .ok_or(Error::SignatureInvalid)?;
    let a_point = CompressedEdwardsY(*a)
        .decompress()
        .ok_or(Error::SignatureInvalid)?;
    let r_point = CompressedEdwardsY(r_enc)
        .decompress()
        .ok_or(Error::SignatureInvalid)?;
    if a_point.is_small_order() || r_point.is_small_order() {
        return Err(Error::SignatureInvalid);
    }
    let mut h = Sha512::new();
    dom2_ctx(&mut h, ctx);
    h.update(r_enc);
    h.update(a);
    h.update(msg);
    let k = hash_scalar(h);
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &(-a_point), &s);
    if check.compress().as_bytes() == &r_enc {
        Ok(())
    } else {
        Err(Error::SignatureInvalid)
    }
}

/// An Ed25519 private key: the 32-byte seed of RFC 8032 (`CKA_VALUE`).
pub(crate) struct Ed25519Private {
    key: ed25519_dalek::SigningKey,
    /// The `aws-lc-rs` key for pure Ed25519, built on first use.
    #[cfg(feature = "aws-lc")]
    lc: std::sync::OnceLock<Option<aws_lc_rs::signature::Ed25519KeyPair>>,
}

impl std::fmt::Debug for Ed25519Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Private")
    }
}

impl Ed25519Private {
    /// From the seed (`CKA_VALUE`, exactly 32 bytes, else
    /// `AttributeValueInvalid(CKA_VALUE)`).
    pub(crate) fn from_seed(seed: &[u8]) -> Result<Self> {
        let seed = Zeroizing::new(
            <[u8; KEY_LEN]>::try_from(seed)
                .map_err(|_| Error::AttributeValueInvalid(cryptoki_sys::CKA_VALUE))?,
        );
        Ok(Ed25519Private {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
            #[cfg(feature = "aws-lc")]
            lc: std::sync::OnceLock::new(),
        })
    }

    /// A fresh key: 32 bytes from the operating system's random source.
    pub(crate) fn generate() -> Result<Self> {
        let seed = crate::crypto::random_vec(KEY_LEN)
            .map_err(|e| Error::General(format!("random source: {e}")))?;
        Self::from_seed(&seed)
    }

    /// The seed.
    pub(crate) fn seed(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.key.to_bytes().to_vec())
    }

    /// The public key.
    pub(crate) fn public(&self) -> Ed25519Public {
        Ed25519Public {
            key: self.key.verifying_key(),
        }
    }

    /// A 64-byte signature of `msg` in `form` (a context longer than 255 bytes,
    /// or an empty one for Ed25519ctx, is `MechanismParamInvalid`).
    pub(crate) fn sign(&self, form: Form<'_>, msg: &[u8]) -> Result<Vec<u8>> {
        form.context()?;
        match form {
            Form::Pure => {
                #[cfg(feature = "aws-lc")]
                if let Some(kp) = self
                    .lc
                    .get_or_init(|| {
                        aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&self.seed()).ok()
                    })
                    .as_ref()
                {
                    return Ok(kp.sign(msg).as_ref().to_vec());
                }
                use ed25519_dalek::Signer;
                Ok(self.key.sign(msg).to_bytes().to_vec())
            }
            Form::Ph(ctx) => {
                let sig = self
                    .key
                    .sign_prehashed(Sha512::new().chain_update(msg), Some(ctx))
                    .map_err(|_| Error::MechanismParamInvalid)?;
                Ok(sig.to_bytes().to_vec())
            }
            Form::Ctx(ctx) => Ok(self.sign_ctx(ctx, msg)),
        }
    }

    /// Ed25519ctx signing (RFC 8032 §5.1.6 with `dom2(0, ctx)`).
    fn sign_ctx(&self, ctx: &[u8], msg: &[u8]) -> Vec<u8> {
        let h = Zeroizing::new(<[u8; 64]>::from(Sha512::digest(self.key.as_bytes())));
        let mut lower = Zeroizing::new([0u8; 32]);
        lower.copy_from_slice(&h[..32]);
        let s = Scalar::from_bytes_mod_order(clamp_integer(*lower));
        let a = self.key.verifying_key().to_bytes();
        let mut hr = Sha512::new();
        dom2_ctx(&mut hr, ctx);
        hr.update(&h[32..]);
        hr.update(msg);
        let r = hash_scalar(hr);
        let r_enc = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let mut hk = Sha512::new();
        dom2_ctx(&mut hk, ctx);
        hk.update(r_enc);
        hk.update(a);
        hk.update(msg);
        let k = hash_scalar(hk);
        let big_s = r + k * s;
        // The secret scalar and the nonce are wiped (Scalar is Zeroize).
        let (mut s, mut r) = (s, r);
        zeroize::Zeroize::zeroize(&mut s);
        zeroize::Zeroize::zeroize(&mut r);
        let mut out = Vec::with_capacity(SIG_LEN);
        out.extend_from_slice(&r_enc);
        out.extend_from_slice(big_s.as_bytes());
        out
    }
}

/// The DER PKCS#8 `PrivateKeyInfo` of an Ed25519 or X25519 key (RFC 8410 §7):
/// version 0, the algorithm OID with no parameters, and the 32 key bytes in an
/// OCTET STRING inside the privateKey OCTET STRING.
pub(crate) fn pkcs8_of(oid_der: &[u8], key: &[u8; KEY_LEN]) -> Zeroizing<Vec<u8>> {
    let mut alg = vec![0x30, u8::try_from(oid_der.len()).unwrap_or(0)];
    alg.extend_from_slice(oid_der);
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(&alg);
    body.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
    body.extend_from_slice(key);
    let mut out = Zeroizing::new(vec![0x30, u8::try_from(body.len()).unwrap_or(0)]);
    out.extend_from_slice(&body);
    body.iter_mut().for_each(|b| *b = 0);
    out
}

/// The key bytes of an RFC 8410 `PrivateKeyInfo` for the algorithm `oid_der`
/// (v1 or v2; attributes and the public key of v2 are ignored). Anything else is
/// `WrappedKeyInvalid`.
pub(crate) fn key_from_pkcs8(oid_der: &[u8], der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    use pkcs8::der::Decode;
    let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|_| Error::WrappedKeyInvalid)?;
    let oid =
        pkcs8::der::Encode::to_der(&info.algorithm.oid).map_err(|_| Error::WrappedKeyInvalid)?;
    if oid != oid_der || info.algorithm.parameters.is_some() {
        return Err(Error::WrappedKeyInvalid);
    }
    match der_single(info.private_key.as_bytes()) {
        Some((0x04, k)) if k.len() == KEY_LEN => Ok(Zeroizing::new(k.to_vec())),
        _ => Err(Error::WrappedKeyInvalid),
    }
}

/// The DER SubjectPublicKeyInfo of an Ed25519 or X25519 public key (RFC 8410 §4).
pub(crate) fn spki_of(oid_der: &[u8], key: &[u8; KEY_LEN]) -> Vec<u8> {
    let mut alg = vec![0x30, u8::try_from(oid_der.len()).unwrap_or(0)];
    alg.extend_from_slice(oid_der);
    let mut body = alg;
    body.extend_from_slice(&[0x03, 0x21, 0x00]);
    body.extend_from_slice(key);
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap_or(0)];
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::test_vectors::hex as unhex;

    #[test]
    fn params_forms() {
        check_params(ED25519_OID_DER).unwrap();
        check_params(b"\x13\x0cedwards25519").unwrap();
        check_params(b"\x0c\x07ed25519").unwrap();
        assert!(matches!(
            check_params(ED448_OID_DER),
            Err(Error::CurveNotSupported)
        ));
        assert!(matches!(
            check_params(b"\x13\x0aedwards448"),
            Err(Error::CurveNotSupported)
        ));
        assert!(matches!(
            check_params(b"\x13\x0c"),
            Err(Error::DomainParamsInvalid)
        ));
    }

    #[test]
    fn every_form_round_trips_and_forms_differ() {
        let k = Ed25519Private::generate().unwrap();
        let p = k.public();
        let mut sigs = Vec::new();
        for f in [Form::Pure, Form::Ctx(b"c"), Form::Ph(b""), Form::Ph(b"c")] {
            let s = k.sign(f, b"msg").unwrap();
            p.verify(f, b"msg", &s).unwrap();
            assert!(p.verify(f, b"msh", &s).is_err());
            sigs.push(s);
        }
        for i in 0..sigs.len() {
            for j in i + 1..sigs.len() {
                assert_ne!(sigs[i], sigs[j]);
            }
        }
        assert!(matches!(
            k.sign(Form::Ctx(b""), b"m"),
            Err(Error::MechanismParamInvalid)
        ));
        assert!(matches!(
            k.sign(Form::Ph(&[0; 256]), b"m"),
            Err(Error::MechanismParamInvalid)
        ));
        assert!(matches!(
            p.verify(Form::Pure, b"m", &[0; 63]),
            Err(Error::SignatureLenRange)
        ));
    }

    #[test]
    fn pkcs8_and_spki() {
        let k = Ed25519Private::from_seed(&[7; 32]).unwrap();
        let der = pkcs8_of(ED25519_OID_DER, &[7; 32]);
        assert_eq!(der.len(), 48);
        assert_eq!(&*key_from_pkcs8(ED25519_OID_DER, &der).unwrap(), &[7u8; 32]);
        assert_eq!(spki_of(ED25519_OID_DER, &k.public().bytes()).len(), 44);
        assert!(key_from_pkcs8(&[0x06, 0x03, 0x2b, 0x65, 0x6e], &der).is_err());
        // RFC 8410 §10.3's example private key.
        let ex = unhex("302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
        assert_eq!(
            key_from_pkcs8(ED25519_OID_DER, &ex).unwrap().to_vec(),
            unhex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842")
        );
    }
}
