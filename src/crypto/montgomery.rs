//! X25519 (RFC 7748): keys and the Diffie-Hellman function, for
//! `CKK_EC_MONTGOMERY` keys and `CKM_ECDH1_DERIVE`.
//!
//! Backends: `aws-lc-rs` computes X25519 with the `aws-lc` feature,
//! `x25519-dalek` in the pure-Rust build. A shared secret of all zeros (the
//! other party sent a point of small order, RFC 7748 §6.1) is refused in both.
//! X448 is not built in (`CKR_CURVE_NOT_SUPPORTED`), for the reason Ed448 is not
//! (see `crypto::edwards`).

use crate::crypto::ec::der_single;
use crate::crypto::edwards::{raw_point, KEY_LEN};
use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// DER of the object identifier id-X25519 (1.3.101.110).
pub(crate) const X25519_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

/// Reads the `CKA_EC_PARAMS` of a Montgomery key (PKCS#11 3.0 §2.3.7): the DER
/// OID id-X25519 or the PrintableString (or UTF8String) `curve25519` (`x25519`
/// is accepted too). X448 and anything else well-formed is `CurveNotSupported`;
/// bytes that are not one DER element `DomainParamsInvalid`.
pub(crate) fn check_params(params: &[u8]) -> Result<()> {
    let (tag, body) = der_single(params).ok_or(Error::DomainParamsInvalid)?;
    let ok = match tag {
        0x06 => params == X25519_OID_DER,
        0x13 | 0x0c => {
            body.eq_ignore_ascii_case(b"curve25519") || body.eq_ignore_ascii_case(b"x25519")
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::CurveNotSupported)
    }
}

/// An X25519 private key: 32 bytes as RFC 7748 gives them (`CKA_VALUE`,
/// unclamped as stored; clamping is part of the function).
pub(crate) struct X25519Private {
    secret: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for X25519Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("X25519Private")
    }
}

impl X25519Private {
    /// From `CKA_VALUE` (exactly 32 bytes, else `AttributeValueInvalid(CKA_VALUE)`).
    pub(crate) fn from_bytes(value: &[u8]) -> Result<Self> {
        let secret = Zeroizing::new(
            <[u8; KEY_LEN]>::try_from(value)
                .map_err(|_| Error::AttributeValueInvalid(cryptoki_sys::CKA_VALUE))?,
        );
        Ok(X25519Private { secret })
    }

    /// A fresh key: 32 bytes from the operating system's random source.
    pub(crate) fn generate() -> Result<Self> {
        let v = crate::crypto::random_vec(KEY_LEN)
            .map_err(|e| Error::General(format!("random source: {e}")))?;
        Self::from_bytes(&v)
    }

    /// The key bytes.
    pub(crate) fn bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.secret.to_vec())
    }

    /// The public key `X25519(k, 9)`.
    pub(crate) fn public(&self) -> [u8; KEY_LEN] {
        x25519_dalek::x25519(*self.secret, x25519_dalek::X25519_BASEPOINT_BYTES)
    }

    /// The shared secret with the other party's public key (raw 32 bytes or a
    /// DER OCTET STRING around them; anything else `MechanismParamInvalid`). An
    /// all-zero result is `MechanismParamInvalid` too.
    pub(crate) fn ecdh(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let peer = raw_point(peer).ok_or(Error::MechanismParamInvalid)?;
        let z = self.agree(&peer)?;
        // RFC 7748 §6.1: the check must not tell which byte is non-zero.
        if z.iter().fold(0u8, |acc, b| acc | b) == 0 {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(z)
    }

    #[cfg(feature = "aws-lc")]
    fn agree(&self, peer: &[u8; KEY_LEN]) -> Result<Zeroizing<Vec<u8>>> {
        use aws_lc_rs::agreement::{agree, PrivateKey, UnparsedPublicKey, X25519};
        let key = PrivateKey::from_private_key(&X25519, &*self.secret)
            .map_err(|_| Error::FunctionFailed)?;
        agree(
            &key,
            UnparsedPublicKey::new(&X25519, peer),
            Error::MechanismParamInvalid,
            |z| Ok(Zeroizing::new(z.to_vec())),
        )
    }

    #[cfg(not(feature = "aws-lc"))]
    fn agree(&self, peer: &[u8; KEY_LEN]) -> Result<Zeroizing<Vec<u8>>> {
        let z = Zeroizing::new(x25519_dalek::x25519(*self.secret, *peer));
        Ok(Zeroizing::new(z.to_vec()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::test_vectors::hex as unhex;

    #[test]
    fn rfc7748_section_6_1() {
        let a = X25519Private::from_bytes(&unhex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ))
        .unwrap();
        let b = X25519Private::from_bytes(&unhex(
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        ))
        .unwrap();
        assert_eq!(
            a.public().to_vec(),
            unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        let k = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(a.ecdh(&b.public()).unwrap().to_vec(), k);
        let der = crate::crypto::ec::der_octet_string(&a.public());
        assert_eq!(b.ecdh(&der).unwrap().to_vec(), k);
        // A point of small order gives zero: refused.
        assert!(a.ecdh(&[0; 32]).is_err());
        assert!(a.ecdh(&[1; 31]).is_err());
        check_params(X25519_OID_DER).unwrap();
        check_params(b"\x13\x0acurve25519").unwrap();
        assert!(matches!(
            check_params(&[0x06, 0x03, 0x2b, 0x65, 0x6f]),
            Err(Error::CurveNotSupported)
        ));
    }
}
