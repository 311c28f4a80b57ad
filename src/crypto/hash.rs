//! Hashes, HMAC and HKDF, selected at run time by [`HashAlg`]. With the
//! `aws-lc` feature SHA-1 and SHA-2 (hash and HMAC) come from `aws-lc-rs`,
//! but for SHA-512/224 (which aws-lc-rs does not offer) and HMAC with
//! SHA-512/224 or SHA-512/256; SHA-3, those, and everything in the pure-Rust
//! build, from the RustCrypto crates (`sha1`, `sha2`, `sha3`, `hmac`).
//!
//! HKDF (RFC 5869) is written here over [`Hmac`] rather than through the `hkdf`
//! crate, because PKCS#11 lets the caller hand in a pseudorandom key of any
//! length for the expand step, which that crate refuses below the hash length.

use digest::Digest;
use hmac::{KeyInit, Mac};
use zeroize::Zeroizing;

/// A hash algorithm.
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
    /// SHA-512/224.
    Sha512_224,
    /// SHA-512/256.
    Sha512_256,
    /// SHA3-224.
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
}

impl HashAlg {
    /// The `aws-lc-rs` digest of the SHA-1/SHA-2 algorithms (`None` for SHA-3).
    #[cfg(feature = "aws-lc")]
    pub(crate) fn aws_lc(self) -> Option<&'static aws_lc_rs::digest::Algorithm> {
        use aws_lc_rs::digest as d;
        match self {
            HashAlg::Sha1 => Some(&d::SHA1_FOR_LEGACY_USE_ONLY),
            HashAlg::Sha224 => Some(&d::SHA224),
            HashAlg::Sha256 => Some(&d::SHA256),
            HashAlg::Sha384 => Some(&d::SHA384),
            HashAlg::Sha512 => Some(&d::SHA512),
            HashAlg::Sha512_256 => Some(&d::SHA512_256),
            HashAlg::Sha512_224
            | HashAlg::Sha3_224
            | HashAlg::Sha3_256
            | HashAlg::Sha3_384
            | HashAlg::Sha3_512 => None,
        }
    }

    #[cfg(feature = "aws-lc")]
    fn aws_lc_hmac(self) -> Option<aws_lc_rs::hmac::Algorithm> {
        use aws_lc_rs::hmac as h;
        match self {
            HashAlg::Sha1 => Some(h::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            HashAlg::Sha224 => Some(h::HMAC_SHA224),
            HashAlg::Sha256 => Some(h::HMAC_SHA256),
            HashAlg::Sha384 => Some(h::HMAC_SHA384),
            HashAlg::Sha512 => Some(h::HMAC_SHA512),
            HashAlg::Sha512_224
            | HashAlg::Sha512_256
            | HashAlg::Sha3_224
            | HashAlg::Sha3_256
            | HashAlg::Sha3_384
            | HashAlg::Sha3_512 => None,
        }
    }

    /// Output length in bytes.
    pub(crate) fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 | HashAlg::Sha512_224 | HashAlg::Sha3_224 => 28,
            HashAlg::Sha256 | HashAlg::Sha512_256 | HashAlg::Sha3_256 => 32,
            HashAlg::Sha384 | HashAlg::Sha3_384 => 48,
            HashAlg::Sha512 | HashAlg::Sha3_512 => 64,
        }
    }
}

macro_rules! by_alg {
    ($( $alg:ident => $ty:ty ),* $(,)?) => {
        /// A running hash of the RustCrypto crates.
        #[derive(Clone)]
        struct RcHasher(HasherInner);

        #[derive(Clone)]
        enum HasherInner {
            $( $alg($ty), )*
        }

        impl RcHasher {
            /// A new hash of `alg`.
            fn new(alg: HashAlg) -> Self {
                RcHasher(match alg {
                    $( HashAlg::$alg => HasherInner::$alg(<$ty as Digest>::new()), )*
                })
            }
            /// The algorithm.
            fn alg(&self) -> HashAlg {
                match &self.0 {
                    $( HasherInner::$alg(_) => HashAlg::$alg, )*
                }
            }
            /// Adds data.
            fn update(&mut self, data: &[u8]) {
                match &mut self.0 {
                    $( HasherInner::$alg(h) => Digest::update(h, data), )*
                }
            }
            /// The digest.
            fn finalize(self) -> Vec<u8> {
                match self.0 {
                    $( HasherInner::$alg(h) => h.finalize().to_vec(), )*
                }
            }
        }

        /// A running HMAC of the RustCrypto crates.
        #[derive(Clone)]
        struct RcHmac(HmacInner);

        #[derive(Clone)]
        enum HmacInner {
            $( $alg(hmac::SimpleHmac<$ty>), )*
        }

        impl RcHmac {
            /// A new HMAC of `alg` with `key` (any length; long keys are hashed
            /// as RFC 2104 says).
            fn new(alg: HashAlg, key: &[u8]) -> Self {
                RcHmac(match alg {
                    $( HashAlg::$alg => HmacInner::$alg(
                        <hmac::SimpleHmac<$ty> as KeyInit>::new_from_slice(key)
                            .unwrap_or_else(|_| <hmac::SimpleHmac<$ty> as KeyInit>::new(&Default::default())),
                    ), )*
                })
            }
            /// Adds data.
            fn update(&mut self, data: &[u8]) {
                match &mut self.0 {
                    $( HmacInner::$alg(h) => Mac::update(h, data), )*
                }
            }
            /// The full-length MAC.
            fn finalize(self) -> Zeroizing<Vec<u8>> {
                match self.0 {
                    $( HmacInner::$alg(h) => Zeroizing::new(h.finalize().into_bytes().to_vec()), )*
                }
            }
        }
    };
}

by_alg! {
    Sha1 => sha1::Sha1,
    Sha224 => sha2::Sha224,
    Sha256 => sha2::Sha256,
    Sha384 => sha2::Sha384,
    Sha512 => sha2::Sha512,
    Sha512_224 => sha2::Sha512_224,
    Sha512_256 => sha2::Sha512_256,
    Sha3_224 => sha3::Sha3_224,
    Sha3_256 => sha3::Sha3_256,
    Sha3_384 => sha3::Sha3_384,
    Sha3_512 => sha3::Sha3_512,
}

/// A running hash.
#[derive(Clone)]
pub(crate) struct Hasher(HasherImpl);

#[derive(Clone)]
enum HasherImpl {
    #[cfg(feature = "aws-lc")]
    AwsLc(HashAlg, aws_lc_rs::digest::Context),
    Rc(RcHasher),
}

impl Hasher {
    /// A new hash of `alg`.
    pub(crate) fn new(alg: HashAlg) -> Self {
        #[cfg(feature = "aws-lc")]
        if let Some(a) = alg.aws_lc() {
            return Hasher(HasherImpl::AwsLc(alg, aws_lc_rs::digest::Context::new(a)));
        }
        Hasher(HasherImpl::Rc(RcHasher::new(alg)))
    }
    /// The algorithm.
    pub(crate) fn alg(&self) -> HashAlg {
        match &self.0 {
            #[cfg(feature = "aws-lc")]
            HasherImpl::AwsLc(alg, _) => *alg,
            HasherImpl::Rc(h) => h.alg(),
        }
    }
    /// Adds data.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            #[cfg(feature = "aws-lc")]
            HasherImpl::AwsLc(_, h) => h.update(data),
            HasherImpl::Rc(h) => h.update(data),
        }
    }
    /// The digest.
    pub(crate) fn finalize(self) -> Vec<u8> {
        match self.0 {
            #[cfg(feature = "aws-lc")]
            HasherImpl::AwsLc(_, h) => h.finish().as_ref().to_vec(),
            HasherImpl::Rc(h) => h.finalize(),
        }
    }
}

/// A running HMAC. Its key schedule (the inner and outer padded key states)
/// lives inside, so the type is not `Debug`.
#[derive(Clone)]
pub(crate) struct Hmac(HmacImpl);

// One running HMAC per operation, never in bulk: boxing the larger variant
// would only add an allocation per operation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum HmacImpl {
    #[cfg(feature = "aws-lc")]
    AwsLc(aws_lc_rs::hmac::Context),
    Rc(RcHmac),
}

impl Hmac {
    /// A new HMAC of `alg` with `key` (any length; long keys are hashed as
    /// RFC 2104 says).
    pub(crate) fn new(alg: HashAlg, key: &[u8]) -> Self {
        #[cfg(feature = "aws-lc")]
        if let Some(a) = alg.aws_lc_hmac() {
            let k = aws_lc_rs::hmac::Key::new(a, key);
            return Hmac(HmacImpl::AwsLc(aws_lc_rs::hmac::Context::with_key(&k)));
        }
        Hmac(HmacImpl::Rc(RcHmac::new(alg, key)))
    }
    /// Adds data.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            #[cfg(feature = "aws-lc")]
            HmacImpl::AwsLc(h) => h.update(data),
            HmacImpl::Rc(h) => h.update(data),
        }
    }
    /// The full-length MAC.
    pub(crate) fn finalize(self) -> Zeroizing<Vec<u8>> {
        match self.0 {
            #[cfg(feature = "aws-lc")]
            HmacImpl::AwsLc(h) => Zeroizing::new(h.sign().as_ref().to_vec()),
            HmacImpl::Rc(h) => h.finalize(),
        }
    }
}

/// One-shot digest.
pub(crate) fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finalize()
}

/// One-shot HMAC.
pub(crate) fn hmac(alg: HashAlg, key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut m = Hmac::new(alg, key);
    m.update(data);
    m.finalize()
}

/// HKDF-Extract (RFC 5869 §2.2): `PRK = HMAC(salt, IKM)`. An empty salt is the
/// RFC's "not provided" (HMAC pads it to zeros, the same as `HashLen` zeros).
pub(crate) fn hkdf_extract(alg: HashAlg, salt: &[u8], ikm: &[u8]) -> Zeroizing<Vec<u8>> {
    hmac(alg, salt, ikm)
}

/// HKDF-Expand (RFC 5869 §2.3): `len` bytes of output keying material from
/// `prk` and `info`. `None` when `len` is more than 255 times the hash length.
pub(crate) fn hkdf_expand(
    alg: HashAlg,
    prk: &[u8],
    info: &[u8],
    len: usize,
) -> Option<Zeroizing<Vec<u8>>> {
    let hl = alg.output_len();
    if len > 255 * hl {
        return None;
    }
    let keyed = Hmac::new(alg, prk);
    let mut okm = Zeroizing::new(Vec::with_capacity(len + hl));
    let mut prev: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut counter: u8 = 1;
    while okm.len() < len {
        let mut m = keyed.clone();
        m.update(&prev);
        m.update(info);
        m.update(&[counter]);
        prev = m.finalize();
        okm.extend_from_slice(&prev);
        counter = counter.wrapping_add(1);
    }
    okm.truncate(len);
    Some(okm)
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn abc_vectors() {
        // FIPS 180-2 / FIPS 202 examples ("abc").
        let cases = [
            (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlg::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                HashAlg::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashAlg::Sha3_256,
                "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
            ),
        ];
        for (alg, want) in cases {
            assert_eq!(digest(alg, b"abc"), h(want), "{alg:?}");
            assert_eq!(digest(alg, b"abc").len(), alg.output_len());
        }
    }

    #[test]
    fn hkdf_rfc5869_a1() {
        let ikm = [0x0bu8; 22];
        let salt = h("000102030405060708090a0b0c");
        let info = h("f0f1f2f3f4f5f6f7f8f9");
        let prk = hkdf_extract(HashAlg::Sha256, &salt, &ikm);
        assert_eq!(
            *prk,
            h("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let okm = hkdf_expand(HashAlg::Sha256, &prk, &info, 42).unwrap();
        assert_eq!(
            *okm,
            h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
        assert!(hkdf_expand(HashAlg::Sha256, &prk, &info, 255 * 32 + 1).is_none());
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
