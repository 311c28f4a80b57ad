//! Message digests (PKCS#11 3.0 current mechanisms §2.20–2.26, §2.28 SHA-3):
//! `CKM_SHA_1`, `CKM_SHA224`, `CKM_SHA256`, `CKM_SHA384`, `CKM_SHA512`,
//! `CKM_SHA512_224`, `CKM_SHA512_256`, `CKM_SHA3_224`, `CKM_SHA3_256`,
//! `CKM_SHA3_384`, `CKM_SHA3_512`. No parameter; single and
//! multi-part; a size query or a short buffer at the end keeps the state.
//!
//! Also home of the small helpers the symmetric families share.

use crate::crypto::hash::{HashAlg, Hasher};
use crate::error::{Error, Result};
use crate::mechanism::{DigestOp, Functions, Mechanism, MechanismDef, Param, ParamKind};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;

/// A [`Functions`] with nothing set, to build the `static` tables from.
pub(crate) const NO_FUNCTIONS: Functions = Functions {
    encrypt: None,
    decrypt: None,
    digest: None,
    sign: None,
    verify: None,
    message_encrypt: None,
    message_decrypt: None,
    generate_key: None,
    generate_key_pair: None,
    wrap: None,
    unwrap: None,
    derive: None,
    encapsulate: None,
    decapsulate: None,
};

/// The hash algorithm of a digest mechanism (`CKM_SHA256` …), as HKDF's
/// `prfHashMechanism` and the HMAC mechanisms name it.
pub(crate) fn hash_alg(mech: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    Some(match mech {
        CKM_SHA_1 => HashAlg::Sha1,
        CKM_SHA224 => HashAlg::Sha224,
        CKM_SHA256 => HashAlg::Sha256,
        CKM_SHA384 => HashAlg::Sha384,
        CKM_SHA512 => HashAlg::Sha512,
        CKM_SHA512_224 => HashAlg::Sha512_224,
        CKM_SHA512_256 => HashAlg::Sha512_256,
        CKM_SHA3_224 => HashAlg::Sha3_224,
        CKM_SHA3_256 => HashAlg::Sha3_256,
        CKM_SHA3_384 => HashAlg::Sha3_384,
        CKM_SHA3_512 => HashAlg::Sha3_512,
        _ => return None,
    })
}

/// Refuses any parameter (`CKR_MECHANISM_PARAM_INVALID`).
pub(crate) fn no_param(mech: &Mechanism) -> Result<()> {
    match mech.param {
        Param::None => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

struct Digest {
    h: Hasher,
}

impl DigestOp for Digest {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.h.update(data);
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let len = self.h.alg().output_len();
        if let Some(dst) = out.reserve(len)? {
            dst.copy_from_slice(&self.h.clone().finalize());
        }
        Ok(())
    }
}

fn digest_init(mech: &Mechanism) -> Result<Box<dyn DigestOp>> {
    no_param(mech)?;
    let alg = hash_alg(mech.mech).ok_or(Error::MechanismInvalid)?;
    Ok(Box::new(Digest {
        h: Hasher::new(alg),
    }))
}

const DIGEST: Functions = Functions {
    digest: Some(digest_init),
    ..NO_FUNCTIONS
};

/// The mechanisms of this family.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_SHA_1, "CKM_SHA_1", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA224, "CKM_SHA224", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA256, "CKM_SHA256", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA384, "CKM_SHA384", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA512, "CKM_SHA512", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA512_224, "CKM_SHA512_224", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA512_256, "CKM_SHA512_256", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA3_224, "CKM_SHA3_224", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA3_256, "CKM_SHA3_256", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA3_384, "CKM_SHA3_384", ParamKind::None, DIGEST),
    MechanismDef::new(CKM_SHA3_512, "CKM_SHA3_512", ParamKind::None, DIGEST),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// Hex to bytes (whitespace ignored).
    pub(crate) fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn run(mech: CK_MECHANISM_TYPE, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut op = digest_init(&Mechanism {
            mech,
            param: Param::None,
        })
        .unwrap();
        if chunk == 0 {
            op.update(data).unwrap();
        } else {
            for c in data.chunks(chunk) {
                op.update(c).unwrap();
            }
        }
        // Size query and a short buffer keep the state.
        let mut q = OutBuf::query();
        op.finish(&mut q).unwrap();
        let n = q.len();
        let mut small = vec![0u8; n - 1];
        assert_eq!(
            op.finish(&mut OutBuf::new(Some(&mut small))),
            Err(Error::BufferTooSmall)
        );
        let mut buf = vec![0u8; n + 3];
        let mut o = OutBuf::new(Some(&mut buf));
        op.finish(&mut o).unwrap();
        assert_eq!(o.len(), n);
        buf.truncate(n);
        buf
    }

    #[test]
    fn published_vectors() {
        let abc = b"abc".as_slice();
        let two = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".as_slice();
        let empty = b"".as_slice();
        // FIPS 180-2 appendices, FIPS 202 / NIST SHA-3 examples.
        let cases: &[(CK_MECHANISM_TYPE, &[u8], &str)] = &[
            (CKM_SHA_1, abc, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (CKM_SHA_1, two, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            (CKM_SHA224, abc, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
            (CKM_SHA256, abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (CKM_SHA256, two, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            (CKM_SHA384, abc, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
            (CKM_SHA512, abc, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
            (CKM_SHA512_224, abc, "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa"),
            (CKM_SHA512_224, two, "e5302d6d54bb242275d1e7622d68df6eb02dedd13f564c13dbda2174"),
            (CKM_SHA512_256, abc, "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"),
            (CKM_SHA512_256, two, "bde8e1f9f19bb9fd3406c90ec6bc47bd36d8ada9f11880dbc8a22a7078b6a461"),
            (CKM_SHA3_224, abc, "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"),
            (CKM_SHA3_256, abc, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
            (CKM_SHA3_256, empty, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"),
            (CKM_SHA3_384, abc, "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25"),
            (CKM_SHA3_512, abc, "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"),
        ];
        for (mech, data, want) in cases {
            for chunk in [0, 1, 15, 17, 4097] {
                assert_eq!(
                    run(*mech, data, chunk),
                    h(want),
                    "mech {mech:#x} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn multipart_matches_single_on_long_input() {
        let data: Vec<u8> = (0..10_000u32)
            .map(|i| u8::try_from(i * 7 % 256).unwrap())
            .collect();
        for def in MECHANISMS {
            let one = run(def.mech, &data, 0);
            for chunk in [1, 15, 17, 4097] {
                assert_eq!(run(def.mech, &data, chunk), one, "{}", def.name);
            }
        }
    }

    #[test]
    fn refuses_parameters() {
        let m = Mechanism {
            mech: CKM_SHA256,
            param: Param::Bytes(vec![1]),
        };
        assert!(matches!(digest_init(&m), Err(Error::MechanismParamInvalid)));
    }
}
