//! Cryptographic functions (§5.8 encryption, §5.10 decryption, §5.12 digesting,
//! §5.13 signing and MACing, §5.15 verifying, §5.18 key generation and
//! derivation) for every mechanism of a catalogue: cases for a mechanism the
//! token does not advertise are skipped; a mechanism it advertises must work.
//!
//! Per mechanism: `info` (C_GetMechanismInfo flags), `round-trip`,
//! `known-answer` (published vectors, or OpenSSL-made ones in `vectors.rs`),
//! `multi-part` (== single-part), `buffer-too-small` (CKR_BUFFER_TOO_SMALL keeps
//! the operation, §5.2), `operation-active`, `param-invalid`,
//! `key-type-inconsistent`, `bad-input` (data length / bad signature).

use crate::vectors as v;
use crate::{check, ensure, expect_rv, ok, t, Env, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{rv_name, Mech, Module, Op, Template};

/// Hex to bytes (vectors are well-formed).
pub fn hx(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fam {
    Digest,
    Mac,
    Cipher,
    RsaSign,
    RsaEnc,
    Ecdsa,
}

/// The key a case needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyKind {
    None,
    Aes,
    Generic,
    Rsa,
    Ec,
}

#[derive(Clone)]
struct Kat {
    /// Key bytes for secret-key vectors (None: the family's default key).
    key: Option<Vec<u8>>,
    mech: fn() -> Mech,
    op: Op,
    input: Vec<u8>,
    /// Expected output; for Verify the signature.
    output: Vec<u8>,
}

struct Spec {
    name: &'static str,
    ty: CK_MECHANISM_TYPE,
    fam: Fam,
    mech: fn() -> Mech,
    bad_param: Option<fn() -> Mech>,
    multipart: bool,
    deterministic: bool,
    input_len: usize,
    kat: Option<Kat>,
}

const SP800_38A_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172a";
const IV16: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const DIGEST_INFO_SHA256: &str = "3031300d060960864801650304020105000420";
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

macro_rules! m {
    ($e:expr) => {{
        fn f() -> Mech {
            $e
        }
        f as fn() -> Mech
    }};
}

fn catalogue() -> Vec<Spec> {
    let mut v = Vec::new();
    // --- digests (§5.12), vectors: FIPS 180-4 / FIPS 202 "abc"
    let digests: [(&str, CK_MECHANISM_TYPE, &str); 10] = [
        ("MD5", CKM_MD5, "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA_1", CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("SHA224", CKM_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
        ("SHA256", CKM_SHA256, ABC_SHA256),
        ("SHA384", CKM_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        ("SHA512", CKM_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        ("SHA3_224", CKM_SHA3_224, "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"),
        ("SHA3_256", CKM_SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
        ("SHA3_384", CKM_SHA3_384, "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25"),
        ("SHA3_512", CKM_SHA3_512, "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"),
    ];
    for (name, ty, out) in digests {
        v.push(Spec {
            name,
            ty,
            fam: Fam::Digest,
            mech: digest_mech(ty),
            bad_param: None,
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: digest_mech(ty),
                op: Op::Digest,
                input: b"abc".to_vec(),
                output: hx(out),
            }),
        });
    }
    // --- HMAC (§5.13), vectors: RFC 2202 / RFC 4231 test case 6 (a key longer than
    // the block, so that no module's ulMinKeySize refuses it)
    const HMAC_DATA: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";
    let hmacs: [(&str, CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, usize, &str); 5] = [
        ("SHA_1_HMAC", CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, 80, "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        ("SHA224_HMAC", CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, 131, "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e"),
        ("SHA256_HMAC", CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, 131, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ("SHA384_HMAC", CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, 131, "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"),
        ("SHA512_HMAC", CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, 131, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
    ];
    for (name, ty, general, key_len, out) in hmacs {
        let key = Some(vec![0xaa; key_len]);
        v.push(Spec {
            name,
            ty,
            fam: Fam::Mac,
            mech: digest_mech(ty),
            bad_param: None,
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key: key.clone(),
                mech: digest_mech(ty),
                op: Op::Sign,
                input: HMAC_DATA.to_vec(),
                output: hx(out),
            }),
        });
        let gname: &'static str = Box::leak(format!("{name}_GENERAL").into_boxed_str());
        v.push(Spec {
            name: gname,
            ty: general,
            fam: Fam::Mac,
            mech: general_mech(general, 12),
            bad_param: Some(general_mech(general, 1000)),
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key,
                mech: general_mech(general, 12),
                op: Op::Sign,
                input: HMAC_DATA.to_vec(),
                output: hx(out)[..12].to_vec(),
            }),
        });
    }
    // --- AES (§5.8/§5.10), vectors: NIST SP 800-38A, RFC 4493, GCM spec test case 2
    v.push(Spec {
        name: "AES_ECB",
        ty: CKM_AES_ECB,
        fam: Fam::Cipher,
        mech: m!(Mech::new(CKM_AES_ECB)),
        bad_param: None,
        multipart: true,
        deterministic: true,
        input_len: 64,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::new(CKM_AES_ECB)),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            output: hx("3ad77bb40d7a3660a89ecaf32466ef97"),
        }),
    });
    v.push(Spec {
        name: "AES_CBC",
        ty: CKM_AES_CBC,
        fam: Fam::Cipher,
        mech: m!(Mech::with_bytes(CKM_AES_CBC, &IV16)),
        bad_param: Some(m!(Mech::with_bytes(CKM_AES_CBC, &IV16[..8]))),
        multipart: true,
        deterministic: true,
        input_len: 64,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::with_bytes(CKM_AES_CBC, &IV16)),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            output: hx("7649abac8119b246cee98e9b12e9197d"),
        }),
    });
    v.push(Spec {
        name: "AES_CBC_PAD",
        ty: CKM_AES_CBC_PAD,
        fam: Fam::Cipher,
        mech: m!(Mech::with_bytes(CKM_AES_CBC_PAD, &IV16)),
        bad_param: Some(m!(Mech::with_bytes(CKM_AES_CBC_PAD, &IV16[..8]))),
        multipart: true,
        deterministic: true,
        input_len: 61,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::with_bytes(CKM_AES_CBC_PAD, &IV16)),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            // The SP 800-38A block, then a full block of PKCS#7 padding (0x10 * 16).
            output: hx("7649abac8119b246cee98e9b12e9197d8964e0b149c10b7b682e6e39aaeb731c"),
        }),
    });
    v.push(Spec {
        name: "AES_CTR",
        ty: CKM_AES_CTR,
        fam: Fam::Cipher,
        mech: m!(Mech::ctr(
            128,
            [
                0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
                0xfe, 0xff
            ]
        )),
        bad_param: Some(m!(Mech::ctr(129, [0; 16]))),
        multipart: true,
        deterministic: true,
        input_len: 61,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::ctr(
                128,
                [
                    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc,
                    0xfd, 0xfe, 0xff
                ]
            )),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            output: hx("874d6191b620e3261bef6864990db6ce"),
        }),
    });
    v.push(Spec {
        name: "AES_GCM",
        ty: CKM_AES_GCM,
        fam: Fam::Cipher,
        mech: m!(Mech::gcm(&[7u8; 12], b"header", 128)),
        bad_param: Some(m!(Mech::gcm(&[7u8; 12], b"", 200))),
        multipart: true,
        deterministic: true,
        input_len: 61,
        kat: Some(Kat {
            key: Some(vec![0u8; 16]),
            mech: m!(Mech::gcm(&[0u8; 12], b"", 128)),
            op: Op::Encrypt,
            input: vec![0u8; 16],
            output: hx("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"),
        }),
    });
    v.push(Spec {
        name: "AES_CMAC",
        ty: CKM_AES_CMAC,
        fam: Fam::Mac,
        mech: m!(Mech::new(CKM_AES_CMAC)),
        bad_param: None,
        multipart: true,
        deterministic: true,
        input_len: 100,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::new(CKM_AES_CMAC)),
            op: Op::Sign,
            input: hx(SP800_38A_PT),
            output: hx("070a16b46b4d4144f79bdd9dd04a287c"),
        }),
    });
    v.push(Spec {
        name: "AES_CMAC_GENERAL",
        ty: CKM_AES_CMAC_GENERAL,
        fam: Fam::Mac,
        mech: general_mech(CKM_AES_CMAC_GENERAL, 8),
        bad_param: Some(general_mech(CKM_AES_CMAC_GENERAL, 17)),
        multipart: true,
        deterministic: true,
        input_len: 100,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: general_mech(CKM_AES_CMAC_GENERAL, 8),
            op: Op::Sign,
            input: hx(SP800_38A_PT),
            output: hx("070a16b46b4d4144"),
        }),
    });
    // --- RSA (§5.13/§5.15, §5.8/§5.10), vectors made by OpenSSL with the key in vectors.rs
    v.push(Spec {
        name: "RSA_PKCS",
        ty: CKM_RSA_PKCS,
        fam: Fam::RsaSign,
        mech: m!(Mech::new(CKM_RSA_PKCS)),
        bad_param: None,
        multipart: false,
        deterministic: true,
        input_len: 51,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_RSA_PKCS)),
            op: Op::Sign,
            input: [hx(DIGEST_INFO_SHA256), hx(ABC_SHA256)].concat(),
            output: hx(v::RSA_PKCS1_SHA256),
        }),
    });
    v.push(Spec {
        name: "RSA_PKCS(encrypt)",
        ty: CKM_RSA_PKCS,
        fam: Fam::RsaEnc,
        mech: m!(Mech::new(CKM_RSA_PKCS)),
        bad_param: None,
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_RSA_PKCS)),
            op: Op::Decrypt,
            input: hx(v::RSA_PKCS1_CT),
            output: b"abc".to_vec(),
        }),
    });
    v.push(Spec {
        name: "RSA_PKCS_OAEP",
        ty: CKM_RSA_PKCS_OAEP,
        fam: Fam::RsaEnc,
        mech: m!(Mech::oaep(CKM_SHA_1, CKG_MGF1_SHA1)),
        bad_param: Some(m!(Mech::oaep(CKM_SHA_1, 0x99))),
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::oaep(CKM_SHA_1, CKG_MGF1_SHA1)),
            op: Op::Decrypt,
            input: hx(v::RSA_OAEP_SHA1_CT),
            output: b"abc".to_vec(),
        }),
    });
    v.push(Spec {
        name: "RSA_PKCS_PSS",
        ty: CKM_RSA_PKCS_PSS,
        fam: Fam::RsaSign,
        mech: m!(Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32)),
        bad_param: Some(m!(Mech::new(CKM_RSA_PKCS_PSS))),
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32)),
            op: Op::Verify,
            input: hx(ABC_SHA256),
            output: hx(v::RSA_PSS_SHA256),
        }),
    });
    let hashed: [(&str, CK_MECHANISM_TYPE, &str, &str, &str); 5] = [
        (
            "SHA1",
            CKM_SHA1_RSA_PKCS,
            v::RSA_PKCS1_SHA1,
            v::RSA_PSS_SHA1,
            v::ECDSA_SHA1,
        ),
        (
            "SHA224",
            CKM_SHA224_RSA_PKCS,
            v::RSA_PKCS1_SHA224,
            v::RSA_PSS_SHA224,
            v::ECDSA_SHA224,
        ),
        (
            "SHA256",
            CKM_SHA256_RSA_PKCS,
            v::RSA_PKCS1_SHA256,
            v::RSA_PSS_SHA256,
            v::ECDSA_SHA256,
        ),
        (
            "SHA384",
            CKM_SHA384_RSA_PKCS,
            v::RSA_PKCS1_SHA384,
            v::RSA_PSS_SHA384,
            v::ECDSA_SHA384,
        ),
        (
            "SHA512",
            CKM_SHA512_RSA_PKCS,
            v::RSA_PKCS1_SHA512,
            v::RSA_PSS_SHA512,
            v::ECDSA_SHA512,
        ),
    ];
    for (h, pkcs, pkcs_sig, pss_sig, ecdsa_sig) in hashed {
        let (pss, ecdsa) = match pkcs {
            CKM_SHA1_RSA_PKCS => (CKM_SHA1_RSA_PKCS_PSS, CKM_ECDSA_SHA1),
            CKM_SHA224_RSA_PKCS => (CKM_SHA224_RSA_PKCS_PSS, CKM_ECDSA_SHA224),
            CKM_SHA256_RSA_PKCS => (CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256),
            CKM_SHA384_RSA_PKCS => (CKM_SHA384_RSA_PKCS_PSS, CKM_ECDSA_SHA384),
            _ => (CKM_SHA512_RSA_PKCS_PSS, CKM_ECDSA_SHA512),
        };
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        v.push(Spec {
            name: leak(format!("{h}_RSA_PKCS")),
            ty: pkcs,
            fam: Fam::RsaSign,
            mech: simple(pkcs),
            bad_param: None,
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: simple(pkcs),
                op: Op::Sign,
                input: b"abc".to_vec(),
                output: hx(pkcs_sig),
            }),
        });
        v.push(Spec {
            name: leak(format!("{h}_RSA_PKCS_PSS")),
            ty: pss,
            fam: Fam::RsaSign,
            mech: pss_mech(pss),
            bad_param: Some(pss_wrong_hash(pss)),
            multipart: true,
            deterministic: false,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: pss_mech(pss),
                op: Op::Verify,
                input: b"abc".to_vec(),
                output: hx(pss_sig),
            }),
        });
        v.push(Spec {
            name: leak(format!("ECDSA_{h}")),
            ty: ecdsa,
            fam: Fam::Ecdsa,
            mech: simple(ecdsa),
            bad_param: None,
            multipart: true,
            deterministic: false,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: simple(ecdsa),
                op: Op::Verify,
                input: b"abc".to_vec(),
                output: hx(ecdsa_sig),
            }),
        });
    }
    v.push(Spec {
        name: "ECDSA",
        ty: CKM_ECDSA,
        fam: Fam::Ecdsa,
        mech: m!(Mech::new(CKM_ECDSA)),
        bad_param: None,
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_ECDSA)),
            op: Op::Verify,
            input: hx(ABC_SHA256),
            output: hx(v::ECDSA_SHA256),
        }),
    });
    v
}

fn simple(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    digest_mech(ty)
}

/// A parameterless mechanism as a `fn() -> Mech` (one per type, no captures).
fn digest_mech(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    macro_rules! pick {
        ($($c:ident),*) => {
            match ty {
                $($c => m!(Mech::new($c)),)*
                _ => m!(Mech::new(CK_UNAVAILABLE_INFORMATION)),
            }
        };
    }
    pick!(
        CKM_MD5,
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
        CKM_SHA3_224,
        CKM_SHA3_256,
        CKM_SHA3_384,
        CKM_SHA3_512,
        CKM_SHA_1_HMAC,
        CKM_SHA224_HMAC,
        CKM_SHA256_HMAC,
        CKM_SHA384_HMAC,
        CKM_SHA512_HMAC,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512
    )
}

fn general_mech(ty: CK_MECHANISM_TYPE, len: CK_ULONG) -> fn() -> Mech {
    macro_rules! pick {
        ($($c:ident),*) => {
            match (ty, len) {
                $(($c, 12) => m!(Mech::with_ulong($c, 12)),
                  ($c, 8) => m!(Mech::with_ulong($c, 8)),
                  ($c, 17) => m!(Mech::with_ulong($c, 17)),
                  ($c, _) => m!(Mech::with_ulong($c, 1000)),)*
                _ => m!(Mech::new(CK_UNAVAILABLE_INFORMATION)),
            }
        };
    }
    pick!(
        CKM_SHA_1_HMAC_GENERAL,
        CKM_SHA224_HMAC_GENERAL,
        CKM_SHA256_HMAC_GENERAL,
        CKM_SHA384_HMAC_GENERAL,
        CKM_SHA512_HMAC_GENERAL,
        CKM_AES_CMAC_GENERAL
    )
}

fn pss_mech(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    match ty {
        CKM_SHA1_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA1_RSA_PKCS_PSS,
            CKM_SHA_1,
            CKG_MGF1_SHA1,
            20
        )),
        CKM_SHA224_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA224_RSA_PKCS_PSS,
            CKM_SHA224,
            CKG_MGF1_SHA224,
            28
        )),
        CKM_SHA256_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            32
        )),
        CKM_SHA384_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA384,
            CKG_MGF1_SHA384,
            48
        )),
        _ => m!(Mech::pss(
            CKM_SHA512_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            64
        )),
    }
}

/// A PSS parameter whose hashAlg is not the mechanism's hash (§2.1.15 of the mechanisms spec).
fn pss_wrong_hash(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    match ty {
        CKM_SHA1_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA1_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            20
        )),
        CKM_SHA224_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA224_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            28
        )),
        CKM_SHA256_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            32
        )),
        CKM_SHA384_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            48
        )),
        _ => m!(Mech::pss(
            CKM_SHA512_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            64
        )),
    }
}

/// The DER of the P-256 OID (CKA_EC_PARAMS).
pub const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Secret key with a value, usable for everything.
pub fn secret(
    m: &Module,
    s: CK_SESSION_HANDLE,
    ktype: CK_KEY_TYPE,
    value: &[u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, ktype)
            .flag(CKA_TOKEN, false)
            .flag(CKA_SENSITIVE, false)
            .flag(CKA_EXTRACTABLE, true)
            .flag(CKA_ENCRYPT, true)
            .flag(CKA_DECRYPT, true)
            .flag(CKA_SIGN, true)
            .flag(CKA_VERIFY, true)
            .flag(CKA_WRAP, true)
            .flag(CKA_UNWRAP, true)
            .bytes(CKA_VALUE, value),
    )
}

/// The RSA key of vectors.rs: (public, private).
pub fn rsa_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    rsa_pair_with(m, s, false)
}

/// The RSA key of vectors.rs, the private half with CKA_ALWAYS_AUTHENTICATE as given.
pub fn rsa_pair_with(
    m: &Module,
    s: CK_SESSION_HANDLE,
    always_auth: bool,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let public = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_RSA)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .flag(CKA_ENCRYPT, true)
            .flag(CKA_WRAP, true)
            .bytes(CKA_MODULUS, &hx(v::RSA_N))
            .bytes(CKA_PUBLIC_EXPONENT, &hx(v::RSA_E)),
    )?;
    let private = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_RSA)
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SENSITIVE, true)
            .flag(CKA_SIGN, true)
            .flag(CKA_DECRYPT, true)
            .flag(CKA_UNWRAP, true)
            .flag(CKA_ALWAYS_AUTHENTICATE, always_auth)
            .bytes(CKA_MODULUS, &hx(v::RSA_N))
            .bytes(CKA_PUBLIC_EXPONENT, &hx(v::RSA_E))
            .bytes(CKA_PRIVATE_EXPONENT, &hx(v::RSA_D))
            .bytes(CKA_PRIME_1, &hx(v::RSA_P))
            .bytes(CKA_PRIME_2, &hx(v::RSA_Q))
            .bytes(CKA_EXPONENT_1, &hx(v::RSA_DP))
            .bytes(CKA_EXPONENT_2, &hx(v::RSA_DQ))
            .bytes(CKA_COEFFICIENT, &hx(v::RSA_QINV)),
    )?;
    Ok((public, private))
}

/// CKA_EC_POINT: the DER OCTET STRING of the uncompressed point.
pub fn ec_point_der(point_hex: &str) -> Vec<u8> {
    let p = hx(point_hex);
    [vec![0x04, p.len() as u8], p].concat()
}

/// The P-256 key of vectors.rs: (public, private).
pub fn ec_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let public = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &P256_PARAMS)
            .bytes(CKA_EC_POINT, &ec_point_der(v::EC_POINT)),
    )?;
    let private = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SENSITIVE, true)
            .flag(CKA_SIGN, true)
            .flag(CKA_DERIVE, true)
            .bytes(CKA_EC_PARAMS, &P256_PARAMS)
            .bytes(CKA_VALUE, &hx(v::EC_D)),
    )?;
    Ok((public, private))
}

fn key_kind(spec: &Spec) -> KeyKind {
    match spec.fam {
        Fam::Digest => KeyKind::None,
        Fam::Mac if spec.name.starts_with("AES") => KeyKind::Aes,
        Fam::Mac => KeyKind::Generic,
        Fam::Cipher => KeyKind::Aes,
        Fam::RsaSign | Fam::RsaEnc => KeyKind::Rsa,
        Fam::Ecdsa => KeyKind::Ec,
    }
}

/// (forward key, inverse key) of the family's default key.
fn keys(
    m: &Module,
    s: CK_SESSION_HANDLE,
    kind: KeyKind,
    mech_min: CK_ULONG,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    Ok(match kind {
        KeyKind::None => (0, 0),
        KeyKind::Aes => {
            let k = secret(m, s, CKK_AES, &hx(SP800_38A_KEY))?;
            (k, k)
        }
        KeyKind::Generic => {
            let len = (mech_min as usize).clamp(32, 128);
            let k = secret(m, s, CKK_GENERIC_SECRET, &vec![0x5a; len])?;
            (k, k)
        }
        KeyKind::Rsa => {
            let (p, q) = rsa_pair(m, s)?;
            (q, p)
        }
        KeyKind::Ec => {
            let (p, q) = ec_pair(m, s)?;
            (q, p)
        }
    })
}

fn ops(fam: Fam) -> (Op, Op) {
    match fam {
        Fam::Digest => (Op::Digest, Op::Digest),
        Fam::Mac | Fam::RsaSign | Fam::Ecdsa => (Op::Sign, Op::Verify),
        Fam::Cipher => (Op::Encrypt, Op::Decrypt),
        Fam::RsaEnc => {
            // Encrypt with the public key, decrypt with the private key (swapped in `run_keys`).
            (Op::Encrypt, Op::Decrypt)
        }
    }
}

fn user(m: &Module, e: &Env) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let s = m.open(e.slot, true)?;
    let rv = m.login(s, CKU_USER, &e.pin);
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(s)
}

fn input(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

/// Runs the forward operation; for RSA encryption the public key encrypts.
struct Ctx {
    s: CK_SESSION_HANDLE,
    fwd_key: CK_OBJECT_HANDLE,
    inv_key: CK_OBJECT_HANDLE,
    fwd: Op,
    inv: Op,
}

fn setup(m: &Module, e: &Env, spec: &Spec) -> Result<Ctx, Outcome> {
    let s = user(m, e).map_err(|rv| Outcome::Fail(format!("open+login: {}", rv_name(rv))))?;
    let min = m
        .mech_info(e.slot, spec.ty)
        .map(|i| i.ulMinKeySize)
        .unwrap_or(0);
    let (a, b) = keys(m, s, key_kind(spec), min)
        .map_err(|rv| Outcome::Fail(format!("creating the key: {}", rv_name(rv))))?;
    let (fwd, inv) = ops(spec.fam);
    let (fwd_key, inv_key) = if spec.fam == Fam::RsaEnc {
        (b, a)
    } else {
        (a, b)
    };
    Ok(Ctx {
        s,
        fwd_key,
        inv_key,
        fwd,
        inv,
    })
}

/// Checks that `out` is a valid result of the forward operation on `data`.
fn inverse_ok(m: &Module, spec: &Spec, c: &Ctx, data: &[u8], out: &[u8]) -> Outcome {
    let mech = (spec.mech)();
    match c.inv {
        Op::Verify => expect_rv(&[CKR_OK], m.run_verify(c.s, &mech, c.inv_key, data, out)),
        Op::Decrypt => match m.run(Op::Decrypt, c.s, &mech, c.inv_key, out) {
            Ok(p) => check(p == data, || {
                "expected decryption to give the plaintext back".into()
            }),
            Err(rv) => Outcome::Fail(format!("C_Decrypt: {}", rv_name(rv))),
        },
        _ => match m.run(Op::Digest, c.s, &mech, 0, data) {
            Ok(d) => check(d == out, || "expected the same digest twice".into()),
            Err(rv) => Outcome::Fail(format!("C_Digest: {}", rv_name(rv))),
        },
    }
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    let specs = catalogue();
    r.group("mechanisms", |r, env| {
        advertised(r, env, &specs);
        for spec in &specs {
            mechanism(r, env, spec);
        }
        common(r, env);
        keygen(r, env);
        hkdf(r, env);
        refuse(r, env);
    });
}

/// What a module must refuse with keys (§4.8–§4.10 key usage attributes,
/// §5.6.10 private objects after logout, §4.9 CKA_ALWAYS_AUTHENTICATE).
fn refuse(r: &mut Runner, env: &Env) {
    let rsa = env.mechs.contains(&CKM_SHA256_RSA_PKCS);
    let gate = |r: &mut Runner, id: &str, sec: &str, ok: bool, what: &str| -> bool {
        if !ok {
            r.record(
                id,
                sec,
                Outcome::Skip(format!("{what} not supported (not advertised)")),
            );
        }
        ok
    };
    let mech = || Mech::new(CKM_SHA256_RSA_PKCS);
    if gate(
        r,
        "refuse.sign-with-public-key",
        "§5.13",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.sign-with-public-key", "§5.13", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, _) = t!(rsa_pair(m, s), "importing the RSA key");
            expect_rv(
                &[CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Sign, s, &mech(), p),
            )
        });
    }
    if gate(
        r,
        "refuse.sign-without-CKA_SIGN",
        "§4.9",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.sign-without-CKA_SIGN", "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(rsa_pair(m, s), "importing the RSA key");
            ok!(
                m.set(s, q, &Template::new().flag(CKA_SIGN, false)),
                "C_SetAttributeValue(CKA_SIGN=FALSE)"
            );
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Sign, s, &mech(), q),
            )
        });
    }
    if gate(
        r,
        "refuse.verify-without-CKA_VERIFY",
        "§4.8",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.verify-without-CKA_VERIFY", "§4.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, _) = t!(rsa_pair(m, s), "importing the RSA key");
            ok!(
                m.set(s, p, &Template::new().flag(CKA_VERIFY, false)),
                "C_SetAttributeValue(CKA_VERIFY=FALSE)"
            );
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Verify, s, &mech(), p),
            )
        });
    }
    let ecb = env.mechs.contains(&CKM_AES_ECB);
    if gate(
        r,
        "refuse.decrypt-without-CKA_DECRYPT",
        "§4.10",
        ecb,
        "CKM_AES_ECB",
    ) {
        r.case(
            "refuse.decrypt-without-CKA_DECRYPT",
            "§4.10",
            env,
            |m, e| {
                let s = t!(user(m, e), "open+login");
                let k = t!(secret(m, s, CKK_AES, &[5u8; 16]), "C_CreateObject");
                ok!(
                    m.set(s, k, &Template::new().flag(CKA_DECRYPT, false)),
                    "C_SetAttributeValue(CKA_DECRYPT=FALSE)"
                );
                expect_rv(
                    &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                    m.op_init(Op::Decrypt, s, &Mech::new(CKM_AES_ECB), k),
                )
            },
        );
    }
    let dh = env.mechs.contains(&CKM_ECDH1_DERIVE);
    if gate(
        r,
        "refuse.derive-without-CKA_DERIVE",
        "§4.9",
        dh,
        "CKM_ECDH1_DERIVE",
    ) {
        r.case("refuse.derive-without-CKA_DERIVE", "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            ok!(
                m.set(s, q, &Template::new().flag(CKA_DERIVE, false)),
                "C_SetAttributeValue(CKA_DERIVE=FALSE)"
            );
            let tpl = Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .flag(CKA_TOKEN, false)
                .ulong(CKA_VALUE_LEN, 32);
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                crate::rv_of(&m.derive(s, &Mech::ecdh(&hx(v::EC2_POINT)), q, &tpl)),
            )
        });
    }
    r.case(
        "refuse.rsa-private-parts-sensitive",
        "§4.9",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = match rsa_pair(m, s) {
                Ok(k) => k,
                Err(rv) => {
                    return Outcome::Skip(format!("cannot import an RSA key: {}", rv_name(rv)))
                }
            };
            for (a, n) in [
                (CKA_PRIVATE_EXPONENT, "CKA_PRIVATE_EXPONENT"),
                (CKA_PRIME_1, "CKA_PRIME_1"),
                (CKA_COEFFICIENT, "CKA_COEFFICIENT"),
            ] {
                let rv = m.get(s, q, a).err().unwrap_or(CKR_OK);
                ensure!(
                    rv == CKR_ATTRIBUTE_SENSITIVE,
                    "{n}: expected CKR_ATTRIBUTE_SENSITIVE, got {}",
                    rv_name(rv)
                );
            }
            let n = t!(m.get(s, q, CKA_MODULUS), "CKA_MODULUS of the private key");
            check(n == hx(v::RSA_N), || {
                "expected the public CKA_MODULUS readable on the private key".into()
            })
        },
    );
    r.case("refuse.ec-private-value-sensitive", "§4.9", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (_, q) = match ec_pair(m, s) {
            Ok(k) => k,
            Err(rv) => return Outcome::Skip(format!("cannot import an EC key: {}", rv_name(rv))),
        };
        expect_rv(
            &[CKR_ATTRIBUTE_SENSITIVE],
            m.get(s, q, CKA_VALUE).err().unwrap_or(CKR_OK),
        )
    });
    r.case("refuse.set-private-exponent", "§4.9", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (_, q) = match rsa_pair(m, s) {
            Ok(k) => k,
            Err(rv) => return Outcome::Skip(format!("cannot import an RSA key: {}", rv_name(rv))),
        };
        expect_rv(
            &[CKR_ATTRIBUTE_READ_ONLY],
            m.set(
                s,
                q,
                &Template::new().bytes(CKA_PRIVATE_EXPONENT, &[1, 2, 3]),
            ),
        )
    });
    r.case(
        "refuse.public-key-with-private-exponent",
        "§4.8",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let t = Template::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_RSA)
                .flag(CKA_TOKEN, false)
                .bytes(CKA_MODULUS, &hx(v::RSA_N))
                .bytes(CKA_PUBLIC_EXPONENT, &hx(v::RSA_E))
                .bytes(CKA_PRIVATE_EXPONENT, &hx(v::RSA_D));
            expect_rv(
                &[CKR_ATTRIBUTE_TYPE_INVALID, CKR_TEMPLATE_INCONSISTENT],
                crate::rv_of(&m.create(s, &t)),
            )
        },
    );
    if gate(
        r,
        "refuse.private-key-after-logout",
        "§5.6.10",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case(
            "refuse.private-key-after-logout",
            "§5.6.10",
            env,
            |m, e| {
                let s = t!(user(m, e), "open+login");
                let (_, q) = t!(rsa_pair(m, s), "importing the RSA key");
                ok!(m.logout(s), "C_Logout");
                expect_rv(
                    &[
                        CKR_KEY_HANDLE_INVALID,
                        CKR_OBJECT_HANDLE_INVALID,
                        CKR_USER_NOT_LOGGED_IN,
                    ],
                    m.op_init(Op::Sign, s, &mech(), q),
                )
            },
        );
    }
    if gate(
        r,
        "refuse.always-authenticate",
        "§5.6.8",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.always-authenticate", "§5.6.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, aa) = t!(rsa_pair_with(m, s, true), "importing the RSA key with CKA_ALWAYS_AUTHENTICATE");
            ok!(m.op_init(Op::Sign, s, &mech(), aa), "C_SignInit");
            let rv = m.op_single(Op::Sign, s, b"abc").err().unwrap_or(CKR_OK);
            ensure!(rv == CKR_USER_NOT_LOGGED_IN, "C_Sign without the context-specific login: expected CKR_USER_NOT_LOGGED_IN, got {}", rv_name(rv));
            ok!(m.op_init(Op::Sign, s, &mech(), aa), "C_SignInit (again)");
            ok!(m.login(s, CKU_CONTEXT_SPECIFIC, &e.pin), "C_Login(CKU_CONTEXT_SPECIFIC)");
            let sig = t!(m.op_single(Op::Sign, s, b"abc"), "C_Sign after the context-specific login");
            expect_rv(&[CKR_OK], m.run_verify(s, &mech(), p, b"abc", &sig))
        });
    }
}

/// Types this runner has functional cases for outside the catalogue.
const COVERED_ELSEWHERE: &[CK_MECHANISM_TYPE] = &[
    CKM_AES_KEY_GEN,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDH1_DERIVE,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_HKDF_DERIVE,
    CKM_HKDF_DATA,
];

/// Names of mechanisms outside the catalogue, for case ids.
const NAMES: &[(CK_MECHANISM_TYPE, &str)] = &[
    (CKM_AES_KEY_GEN, "AES_KEY_GEN"),
    (CKM_GENERIC_SECRET_KEY_GEN, "GENERIC_SECRET_KEY_GEN"),
    (CKM_RSA_PKCS_KEY_PAIR_GEN, "RSA_PKCS_KEY_PAIR_GEN"),
    (CKM_EC_KEY_PAIR_GEN, "EC_KEY_PAIR_GEN"),
    (CKM_ECDH1_DERIVE, "ECDH1_DERIVE"),
    (CKM_AES_KEY_WRAP, "AES_KEY_WRAP"),
    (CKM_AES_KEY_WRAP_KWP, "AES_KEY_WRAP_KWP"),
    (CKM_AES_KEY_WRAP_PAD, "AES_KEY_WRAP_PAD"),
    (CKM_HKDF_DERIVE, "HKDF_DERIVE"),
    (CKM_HKDF_DATA, "HKDF_DATA"),
    (CKM_HKDF_KEY_GEN, "HKDF_KEY_GEN"),
    (CKM_RSA_AES_KEY_WRAP, "RSA_AES_KEY_WRAP"),
    (CKM_RSA_X_509, "RSA_X_509"),
    (CKM_MD5_HMAC, "MD5_HMAC"),
    (CKM_MD5_RSA_PKCS, "MD5_RSA_PKCS"),
    (CKM_AES_ECB_ENCRYPT_DATA, "AES_ECB_ENCRYPT_DATA"),
    (CKM_AES_CBC_ENCRYPT_DATA, "AES_CBC_ENCRYPT_DATA"),
    (CKM_DES_KEY_GEN, "DES_KEY_GEN"),
    (CKM_DES2_KEY_GEN, "DES2_KEY_GEN"),
    (CKM_DES3_KEY_GEN, "DES3_KEY_GEN"),
    (CKM_DES_ECB, "DES_ECB"),
    (CKM_DES_CBC, "DES_CBC"),
    (CKM_DES_CBC_PAD, "DES_CBC_PAD"),
    (CKM_DES3_ECB, "DES3_ECB"),
    (CKM_DES3_CBC, "DES3_CBC"),
    (CKM_DES3_CBC_PAD, "DES3_CBC_PAD"),
    (CKM_DES3_CMAC, "DES3_CMAC"),
    (CKM_DES_ECB_ENCRYPT_DATA, "DES_ECB_ENCRYPT_DATA"),
    (CKM_DES_CBC_ENCRYPT_DATA, "DES_CBC_ENCRYPT_DATA"),
    (CKM_DES3_ECB_ENCRYPT_DATA, "DES3_ECB_ENCRYPT_DATA"),
    (CKM_DES3_CBC_ENCRYPT_DATA, "DES3_CBC_ENCRYPT_DATA"),
    (CKM_DH_PKCS_KEY_PAIR_GEN, "DH_PKCS_KEY_PAIR_GEN"),
    (CKM_DH_PKCS_PARAMETER_GEN, "DH_PKCS_PARAMETER_GEN"),
    (CKM_DH_PKCS_DERIVE, "DH_PKCS_DERIVE"),
    (CKM_DSA, "DSA"),
    (CKM_DSA_KEY_PAIR_GEN, "DSA_KEY_PAIR_GEN"),
    (CKM_DSA_PARAMETER_GEN, "DSA_PARAMETER_GEN"),
    (CKM_DSA_SHA1, "DSA_SHA1"),
    (CKM_DSA_SHA224, "DSA_SHA224"),
    (CKM_DSA_SHA256, "DSA_SHA256"),
    (CKM_DSA_SHA384, "DSA_SHA384"),
    (CKM_DSA_SHA512, "DSA_SHA512"),
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, "EC_EDWARDS_KEY_PAIR_GEN"),
    (CKM_EDDSA, "EDDSA"),
];

/// Every flag C_GetMechanismInfo may set (§3.5 CK_MECHANISM_INFO, 3.0).
const KNOWN_FLAGS: CK_FLAGS = CKF_HW
    | CKF_MESSAGE_ENCRYPT
    | CKF_MESSAGE_DECRYPT
    | CKF_MESSAGE_SIGN
    | CKF_MESSAGE_VERIFY
    | CKF_MULTI_MESSAGE
    | CKF_FIND_OBJECTS
    | CKF_ENCRYPT
    | CKF_DECRYPT
    | CKF_DIGEST
    | CKF_SIGN
    | CKF_SIGN_RECOVER
    | CKF_VERIFY
    | CKF_VERIFY_RECOVER
    | CKF_GENERATE
    | CKF_GENERATE_KEY_PAIR
    | CKF_WRAP
    | CKF_UNWRAP
    | CKF_DERIVE
    | CKF_EC_F_P
    | CKF_EC_F_2M
    | CKF_EC_ECPARAMETERS
    | CKF_EC_OID
    | CKF_EC_UNCOMPRESS
    | CKF_EC_COMPRESS
    | CKF_EC_CURVENAME
    | CKF_EXTENSION;

/// Every advertised mechanism (§5.5.5/§5.5.6): its information is consistent,
/// and it is either covered by cases of this runner or reported as uncovered.
fn advertised(r: &mut Runner, env: &Env, specs: &[Spec]) {
    for &ty in &env.mechs {
        let name = specs
            .iter()
            .find(|s| s.ty == ty)
            .map(|s| s.name.trim_end_matches("(encrypt)").to_string())
            .or_else(|| {
                NAMES
                    .iter()
                    .find(|(t, _)| *t == ty)
                    .map(|(_, n)| n.to_string())
            })
            .unwrap_or_else(|| format!("0x{ty:08X}"));
        r.case(
            &format!("advertised.{name}.flags"),
            "§5.5.6",
            env,
            |m, e| {
                let i = t!(m.mech_info(e.slot, ty), "C_GetMechanismInfo");
                let funcs = CKF_ENCRYPT
                    | CKF_DECRYPT
                    | CKF_DIGEST
                    | CKF_SIGN
                    | CKF_SIGN_RECOVER
                    | CKF_VERIFY
                    | CKF_VERIFY_RECOVER
                    | CKF_GENERATE
                    | CKF_GENERATE_KEY_PAIR
                    | CKF_WRAP
                    | CKF_UNWRAP
                    | CKF_DERIVE
                    | CKF_MESSAGE_ENCRYPT
                    | CKF_MESSAGE_DECRYPT
                    | CKF_MESSAGE_SIGN
                    | CKF_MESSAGE_VERIFY;
                ensure!(
                    i.flags & funcs != 0,
                    "expected at least one function flag, got 0x{:x}",
                    i.flags
                );
                check(i.flags & !KNOWN_FLAGS == 0, || {
                    format!("expected only defined flags, got 0x{:x}", i.flags)
                })
            },
        );
        let covered = specs.iter().any(|s| s.ty == ty) || COVERED_ELSEWHERE.contains(&ty);
        r.record(
            &format!("advertised.{name}.covered"),
            "§5.5.5",
            if covered {
                Outcome::Pass
            } else {
                Outcome::Skip("advertised, but this runner has no functional cases for it".into())
            },
        );
    }
}

/// HKDF (§5.18.5 C_DeriveKey with CKM_HKDF_DERIVE), RFC 5869 test case 1.
fn hkdf(r: &mut Runner, env: &Env) {
    let ids = [
        "mech.HKDF_DERIVE.known-answer",
        "mech.HKDF_DERIVE.param-invalid",
        "mech.HKDF_DERIVE.derived-attributes",
    ];
    if !env.mechs.contains(&CKM_HKDF_DERIVE) {
        for id in ids {
            r.record(
                id,
                "§5.18.5",
                Outcome::Skip("CKM_HKDF_DERIVE not supported (not advertised)".into()),
            );
        }
        return;
    }
    let ikm = vec![0x0bu8; 22];
    let salt = hx("000102030405060708090a0b0c");
    let info = hx("f0f1f2f3f4f5f6f7f8f9");
    let okm =
        hx("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    let tpl = || {
        Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .flag(CKA_TOKEN, false)
            .flag(CKA_SENSITIVE, false)
            .flag(CKA_EXTRACTABLE, true)
            .ulong(CKA_VALUE_LEN, 42)
    };
    let base = |m: &Module, s| {
        m.create(
            s,
            &Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .flag(CKA_TOKEN, false)
                .flag(CKA_DERIVE, true)
                .bytes(CKA_VALUE, &ikm),
        )
    };
    r.case(ids[0], "§5.18.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let b = t!(base(m, s), "C_CreateObject(IKM)");
        let k = t!(
            m.derive(
                s,
                &Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, &salt, &info),
                b,
                &tpl()
            ),
            "C_DeriveKey"
        );
        let v = t!(m.get(s, k, CKA_VALUE), "CKA_VALUE");
        check(v == okm, || {
            format!("expected the RFC 5869 test case 1 OKM, got {}", hex(&v))
        })
    });
    r.case(ids[1], "§5.18.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let b = t!(base(m, s), "C_CreateObject(IKM)");
        expect_rv(
            &[CKR_MECHANISM_PARAM_INVALID],
            crate::rv_of(&m.derive(s, &Mech::new(CKM_HKDF_DERIVE), b, &tpl())),
        )
    });
    r.case(ids[2], "§5.18.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let b = t!(base(m, s), "C_CreateObject(IKM)");
        let k = t!(
            m.derive(
                s,
                &Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, &salt, &info),
                b,
                &tpl()
            ),
            "C_DeriveKey"
        );
        let local = t!(m.get_bool(s, k, CKA_LOCAL), "CKA_LOCAL");
        let len = t!(m.get_ulong(s, k, CKA_VALUE_LEN), "CKA_VALUE_LEN");
        check(!local && len == 42, || {
            format!("expected LOCAL=FALSE and CKA_VALUE_LEN 42, got {local} {len}")
        })
    });
}

fn flags_for(fam: Fam) -> (CK_FLAGS, &'static str) {
    match fam {
        Fam::Digest => (CKF_DIGEST, "CKF_DIGEST"),
        Fam::Mac | Fam::RsaSign | Fam::Ecdsa => (CKF_SIGN | CKF_VERIFY, "CKF_SIGN|CKF_VERIFY"),
        Fam::Cipher | Fam::RsaEnc => (CKF_ENCRYPT | CKF_DECRYPT, "CKF_ENCRYPT|CKF_DECRYPT"),
    }
}

fn mechanism(r: &mut Runner, env: &Env, spec: &Spec) {
    let id = |c: &str| format!("mech.{}.{c}", spec.name);
    let sec = match spec.fam {
        Fam::Digest => "§5.12",
        Fam::Mac | Fam::RsaSign | Fam::Ecdsa => "§5.13",
        Fam::Cipher | Fam::RsaEnc => "§5.8",
    };
    let advertised = env.mechs.contains(&spec.ty);
    let (need, need_name) = flags_for(spec.fam);
    let info = r.m.mech_info(env.slot, spec.ty).ok();
    // RSA_PKCS is one mechanism with two uses: each use is advertised by its flag.
    let usable = advertised && info.is_some_and(|i| i.flags & need == need);
    let cases = [
        "info",
        "round-trip",
        "known-answer",
        "multi-part",
        "buffer-too-small",
        "final-buffer-too-small",
        "operation-active",
        "param-invalid",
        "key-type-inconsistent",
        "bad-input",
    ];
    if !advertised {
        for c in cases {
            r.record(
                &id(c),
                sec,
                Outcome::Skip(format!("CKM_{} not supported (not advertised)", spec.name)),
            );
        }
        return;
    }
    r.case(&id("info"), "§5.5.6", env, |_, _| match info {
        Some(i) => check(
            i.flags & need == need && i.ulMinKeySize <= i.ulMaxKeySize,
            || {
                format!(
                    "expected {need_name} in flags 0x{:x} and min <= max ({} / {})",
                    i.flags, i.ulMinKeySize, i.ulMaxKeySize
                )
            },
        ),
        None => Outcome::Fail("C_GetMechanismInfo failed for an advertised mechanism".into()),
    });
    if !usable {
        for c in &cases[1..] {
            r.record(
                &id(c),
                sec,
                Outcome::Skip(format!("CKM_{} advertised without {need_name}", spec.name)),
            );
        }
        return;
    }
    let data = input(spec.input_len);
    r.case(&id("round-trip"), sec, env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let out = t!(
            m.run(c.fwd, c.s, &(spec.mech)(), c.fwd_key, &data),
            format!("C_{:?}", c.fwd)
        );
        if spec.deterministic && c.fwd != Op::Digest {
            let again = t!(
                m.run(c.fwd, c.s, &(spec.mech)(), c.fwd_key, &data),
                format!("C_{:?} (again)", c.fwd)
            );
            ensure!(
                again == out,
                "expected the same output twice for a deterministic mechanism"
            );
        }
        inverse_ok(m, spec, &c, &data, &out)
    });
    r.case(&id("known-answer"), sec, env, |m, e| {
        let Some(kat) = &spec.kat else {
            return Outcome::Skip("no vector".into());
        };
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let key = match &kat.key {
            Some(bytes) => {
                let kt = if key_kind(spec) == KeyKind::Generic {
                    CKK_GENERIC_SECRET
                } else {
                    CKK_AES
                };
                if let Ok(i) = m.mech_info(e.slot, spec.ty) {
                    if kt == CKK_GENERIC_SECRET && (bytes.len() as CK_ULONG) < i.ulMinKeySize {
                        return Outcome::Skip(format!(
                            "vector key ({} bytes) below ulMinKeySize {}",
                            bytes.len(),
                            i.ulMinKeySize
                        ));
                    }
                }
                t!(secret(m, c.s, kt, bytes), "C_CreateObject(vector key)")
            }
            None => match kat.op {
                Op::Sign | Op::Decrypt => {
                    if spec.fam == Fam::RsaEnc {
                        c.inv_key
                    } else {
                        c.fwd_key
                    }
                }
                _ => c.inv_key,
            },
        };
        let mech = (kat.mech)();
        if kat.op == Op::Verify {
            return expect_rv(
                &[CKR_OK],
                m.run_verify(c.s, &mech, key, &kat.input, &kat.output),
            );
        }
        let out = t!(
            m.run(kat.op, c.s, &mech, key, &kat.input),
            format!("C_{:?}", kat.op)
        );
        check(out == kat.output, || {
            format!("expected {}, got {}", hex(&kat.output), hex(&out))
        })
    });
    r.case(&id("multi-part"), sec, env, |m, e| {
        if !spec.multipart {
            return Outcome::Skip("single-part mechanism".into());
        }
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let mech = (spec.mech)();
        let single = t!(
            m.run(c.fwd, c.s, &mech, c.fwd_key, &data),
            format!("C_{:?}", c.fwd)
        );
        let multi = t!(
            m.run_multi(c.fwd, c.s, &mech, c.fwd_key, &data, 7, &[]),
            format!("C_{:?}Update/Final", c.fwd)
        );
        if spec.deterministic {
            ensure!(
                multi == single,
                "expected multi-part output == single-part output"
            );
        }
        match c.inv {
            Op::Verify => expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.run_multi(Op::Verify, c.s, &mech, c.inv_key, &data, 5, &multi)),
            ),
            Op::Decrypt => {
                let p = t!(
                    m.run_multi(Op::Decrypt, c.s, &mech, c.inv_key, &multi, 5, &[]),
                    "C_DecryptUpdate/Final"
                );
                check(p == data, || {
                    "expected multi-part decryption to give the plaintext".into()
                })
            }
            _ => Outcome::Pass,
        }
    });
    r.case(&id("buffer-too-small"), "§5.2", env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        ok!(
            m.op_init(c.fwd, c.s, &(spec.mech)(), c.fwd_key),
            format!("C_{:?}Init", c.fwd)
        );
        let mut one = [0u8; 1];
        let mut len: CK_ULONG = 1;
        let rv = m.op_single_raw(c.fwd, c.s, &data, Some(&mut one), &mut len);
        ensure!(
            rv == CKR_BUFFER_TOO_SMALL,
            "expected CKR_BUFFER_TOO_SMALL, got {}",
            rv_name(rv)
        );
        ensure!(len > 1, "expected the needed length in *pulLen, got {len}");
        let out = t!(
            m.op_single(c.fwd, c.s, &data),
            "the same operation after CKR_BUFFER_TOO_SMALL"
        );
        inverse_ok(m, spec, &c, &data, &out)
    });
    r.case(&id("final-buffer-too-small"), "§5.2", env, |m, e| {
        if !spec.multipart {
            return Outcome::Skip("single-part mechanism".into());
        }
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let mech = (spec.mech)();
        ok!(
            m.op_init(c.fwd, c.s, &mech, c.fwd_key),
            format!("C_{:?}Init", c.fwd)
        );
        let head = t!(
            m.op_update(c.fwd, c.s, &data),
            format!("C_{:?}Update", c.fwd)
        );
        let mut n: CK_ULONG = 0;
        ok!(
            m.op_final_raw(c.fwd, c.s, None, &mut n),
            format!("C_{:?}Final(NULL)", c.fwd)
        );
        if n <= 1 {
            return Outcome::Skip(format!("the final call returns {n} bytes here"));
        }
        let need = n;
        let mut one = [0u8; 1];
        let mut len: CK_ULONG = 1;
        let rv = m.op_final_raw(c.fwd, c.s, Some(&mut one), &mut len);
        ensure!(
            rv == CKR_BUFFER_TOO_SMALL,
            "expected CKR_BUFFER_TOO_SMALL, got {}",
            rv_name(rv)
        );
        let mut out = vec![0u8; need as usize];
        let mut len = need;
        ok!(
            m.op_final_raw(c.fwd, c.s, Some(&mut out), &mut len),
            format!("C_{:?}Final after CKR_BUFFER_TOO_SMALL", c.fwd)
        );
        out.truncate(len as usize);
        let whole = [head, out].concat();
        inverse_ok(m, spec, &c, &data, &whole)
    });
    r.case(&id("operation-active"), sec, env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        ok!(
            m.op_init(c.fwd, c.s, &(spec.mech)(), c.fwd_key),
            format!("C_{:?}Init", c.fwd)
        );
        let rv = m.op_init(c.fwd, c.s, &(spec.mech)(), c.fwd_key);
        ensure!(
            rv == CKR_OPERATION_ACTIVE,
            "expected CKR_OPERATION_ACTIVE, got {}",
            rv_name(rv)
        );
        // The first operation is still there.
        let out = t!(m.op_single(c.fwd, c.s, &data), "the first operation");
        inverse_ok(m, spec, &c, &data, &out)
    });
    r.case(&id("param-invalid"), sec, env, |m, e| {
        let Some(bad) = spec.bad_param else {
            return Outcome::Skip("mechanism takes no parameter".into());
        };
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        expect_rv(
            &[CKR_MECHANISM_PARAM_INVALID],
            m.op_init(c.fwd, c.s, &bad(), c.fwd_key),
        )
    });
    r.case(&id("key-type-inconsistent"), sec, env, |m, e| {
        let wrong = match key_kind(spec) {
            KeyKind::None => return Outcome::Skip("mechanism takes no key".into()),
            KeyKind::Aes => KeyKind::Generic,
            KeyKind::Generic => KeyKind::Aes,
            KeyKind::Rsa => KeyKind::Ec,
            KeyKind::Ec => KeyKind::Rsa,
        };
        let s = t!(user(m, e), "open+login");
        let (a, b) = t!(keys(m, s, wrong, 32), "creating the other key");
        let fwd = ops(spec.fam).0;
        // Use the private half for Sign/Decrypt and the public half for Encrypt.
        let k = if spec.fam == Fam::RsaEnc && wrong == KeyKind::Ec {
            b
        } else {
            a
        };
        if spec.fam == Fam::RsaEnc && wrong == KeyKind::Ec {
            // EC public keys cannot encrypt at all: the key function check may come first.
            return expect_rv(
                &[CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(fwd, s, &(spec.mech)(), k),
            );
        }
        expect_rv(
            &[CKR_KEY_TYPE_INCONSISTENT],
            m.op_init(fwd, s, &(spec.mech)(), k),
        )
    });
    r.case(&id("bad-input"), sec, env, |m, e| {
        let c = match setup(m, e, spec) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let mech = (spec.mech)();
        match spec.fam {
            Fam::Digest => Outcome::Skip("every input is valid".into()),
            Fam::Mac | Fam::RsaSign | Fam::Ecdsa => {
                let sig = t!(m.run(Op::Sign, c.s, &mech, c.fwd_key, &data), "C_Sign");
                let mut bad = sig.clone();
                bad[0] ^= 1;
                let rv = m.run_verify(c.s, &mech, c.inv_key, &data, &bad);
                ensure!(
                    rv == CKR_SIGNATURE_INVALID,
                    "tampered signature: expected CKR_SIGNATURE_INVALID, got {}",
                    rv_name(rv)
                );
                let rv = m.run_verify(c.s, &mech, c.inv_key, &data, &sig[..sig.len() - 1]);
                expect_rv(&[CKR_SIGNATURE_LEN_RANGE, CKR_SIGNATURE_INVALID], rv)
            }
            Fam::Cipher => match spec.ty {
                CKM_AES_ECB | CKM_AES_CBC => expect_rv(
                    &[CKR_DATA_LEN_RANGE],
                    m.run(Op::Encrypt, c.s, &mech, c.fwd_key, &data[..15])
                        .err()
                        .unwrap_or(CKR_OK),
                ),
                CKM_AES_CBC_PAD => expect_rv(
                    &[CKR_ENCRYPTED_DATA_LEN_RANGE],
                    m.run(Op::Decrypt, c.s, &mech, c.inv_key, &data[..15])
                        .err()
                        .unwrap_or(CKR_OK),
                ),
                CKM_AES_GCM => {
                    let mut ct = t!(
                        m.run(Op::Encrypt, c.s, &mech, c.fwd_key, &data),
                        "C_Encrypt"
                    );
                    ct[0] ^= 1;
                    expect_rv(
                        &[CKR_ENCRYPTED_DATA_INVALID],
                        m.run(Op::Decrypt, c.s, &mech, c.inv_key, &ct)
                            .err()
                            .unwrap_or(CKR_OK),
                    )
                }
                _ => Outcome::Skip("stream mode: every length is valid".into()),
            },
            Fam::RsaEnc => {
                let long = input(300);
                expect_rv(
                    &[CKR_DATA_LEN_RANGE],
                    m.run(Op::Encrypt, c.s, &mech, c.fwd_key, &long)
                        .err()
                        .unwrap_or(CKR_OK),
                )
            }
        }
    });
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Operation rules common to every mechanism (§5.8–§5.15), run with the first
/// advertised mechanism that fits.
fn common(r: &mut Runner, env: &Env) {
    let has = |t| env.mechs.contains(&t);
    let skip = |r: &mut Runner, id: &str, sec: &str, why: &str| {
        r.record(id, sec, Outcome::Skip(why.into()))
    };
    for (op, name, sec) in [
        (Op::Encrypt, "C_Encrypt", "§5.8"),
        (Op::Decrypt, "C_Decrypt", "§5.10"),
        (Op::Sign, "C_Sign", "§5.13"),
        (Op::Digest, "C_Digest", "§5.12"),
    ] {
        r.case(&format!("ops.{name}.not-initialized"), sec, env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                m.op_single(op, s, b"data").err().unwrap_or(CKR_OK),
            )
        });
        r.case(
            &format!("ops.{name}Final.not-initialized"),
            sec,
            env,
            |m, e| {
                let s = t!(m.open(e.slot, false), "C_OpenSession");
                let mut n: CK_ULONG = 0;
                expect_rv(
                    &[CKR_OPERATION_NOT_INITIALIZED],
                    m.op_final_raw(op, s, None, &mut n),
                )
            },
        );
    }
    r.case("ops.C_Verify.not-initialized", "§5.15", env, |m, e| {
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        expect_rv(
            &[CKR_OPERATION_NOT_INITIALIZED],
            m.verify(s, b"data", b"sig"),
        )
    });
    r.case("ops.invalid-mechanism", "§5.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
        expect_rv(
            &[CKR_MECHANISM_INVALID],
            m.op_init(Op::Encrypt, s, &Mech::new(0x7FFF_0000), k),
        )
    });
    r.case("ops.invalid-key-handle", "§5.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let mech = if has(CKM_AES_CBC_PAD) {
            Mech::with_bytes(CKM_AES_CBC_PAD, &IV16)
        } else {
            Mech::new(CKM_AES_ECB)
        };
        expect_rv(
            &[CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID],
            m.op_init(Op::Encrypt, s, &mech, 0x7FFF_FFF0),
        )
    });
    if has(CKM_AES_CBC_PAD) {
        let mech = || Mech::with_bytes(CKM_AES_CBC_PAD, &IV16);
        r.case("ops.key-function-not-permitted", "§5.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(
                m.set(s, k, &Template::new().flag(CKA_ENCRYPT, false)),
                "C_SetAttributeValue(CKA_ENCRYPT=FALSE)"
            );
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Encrypt, s, &mech(), k),
            )
        });
        r.case("ops.error-ends-operation", "§5.8", env, |m, e| {
            // A call that fails for a reason other than CKR_BUFFER_TOO_SMALL ends the operation.
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(m.op_init(Op::Decrypt, s, &mech(), k), "C_DecryptInit");
            let rv = crate::rv_of(&m.op_single(Op::Decrypt, s, &[0u8; 15]));
            ensure!(
                rv != CKR_OK,
                "expected decrypting 15 bytes with CBC-PAD to fail"
            );
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                m.op_single(Op::Decrypt, s, &[0u8; 16])
                    .err()
                    .unwrap_or(CKR_OK),
            )
        });
        r.case("ops.single-part-ends-operation", "§5.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            t!(m.run(Op::Encrypt, s, &mech(), k, b"data"), "C_Encrypt");
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                m.op_single(Op::Encrypt, s, b"data").err().unwrap_or(CKR_OK),
            )
        });
        r.case("ops.length-query-keeps-operation", "§5.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(m.op_init(Op::Encrypt, s, &mech(), k), "C_EncryptInit");
            let mut n: CK_ULONG = 0;
            ok!(
                m.op_single_raw(Op::Encrypt, s, b"data", None, &mut n),
                "C_Encrypt(NULL)"
            );
            ensure!(n >= 16, "expected a length of at least 16, got {n}");
            let mut out = vec![0u8; n as usize];
            ok!(
                m.op_single_raw(Op::Encrypt, s, b"data", Some(&mut out), &mut n),
                "C_Encrypt after the length query"
            );
            check(n == 16, || format!("expected 16 bytes, got {n}"))
        });
        r.case("ops.different-operations-coexist", "§5.12", env, |m, e| {
            // A session may hold one operation of each kind (digest and encrypt here).
            if !e.mechs.contains(&CKM_SHA256) {
                return Outcome::Skip("CKM_SHA256 not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(m.op_init(Op::Encrypt, s, &mech(), k), "C_EncryptInit");
            let rv = m.op_init(Op::Digest, s, &Mech::new(CKM_SHA256), 0);
            expect_rv(&[CKR_OK, CKR_OPERATION_ACTIVE], rv)
        });
    } else {
        for id in [
            "ops.key-function-not-permitted",
            "ops.error-ends-operation",
            "ops.single-part-ends-operation",
            "ops.length-query-keeps-operation",
            "ops.different-operations-coexist",
        ] {
            skip(r, id, "§5.8", "CKM_AES_CBC_PAD not advertised");
        }
    }
    r.case("ops.digest-key", "§5.12", env, |m, e| {
        if !e.mechs.contains(&CKM_SHA256) {
            return Outcome::Skip("CKM_SHA256 not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        let k = t!(secret(m, s, CKK_GENERIC_SECRET, b"abc"), "C_CreateObject");
        ok!(
            m.op_init(Op::Digest, s, &Mech::new(CKM_SHA256), 0),
            "C_DigestInit"
        );
        let rv = p11_testkit::call!(m.f, C_DigestKey, s, k);
        if rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_KEY_INDIGESTIBLE {
            return Outcome::Skip(format!("C_DigestKey: {}", rv_name(rv)));
        }
        ensure!(
            rv == CKR_OK,
            "C_DigestKey: expected CKR_OK, got {}",
            rv_name(rv)
        );
        let mut n: CK_ULONG = 32;
        let mut out = [0u8; 32];
        ok!(
            m.op_final_raw(Op::Digest, s, Some(&mut out), &mut n),
            "C_DigestFinal"
        );
        check(out.to_vec() == hx(ABC_SHA256), || {
            "expected SHA-256 of the key value".into()
        })
    });
}

/// Key and key-pair generation (§5.18.1, §5.18.2) and ECDH derivation (§5.18.5).
fn keygen(r: &mut Runner, env: &Env) {
    let has = |t| env.mechs.contains(&t);
    let gate = |r: &mut Runner, ids: &[&str], sec: &str, ty, name: &str| -> bool {
        if has(ty) {
            return true;
        }
        for id in ids {
            r.record(
                id,
                sec,
                Outcome::Skip(format!("{name} not supported (not advertised)")),
            );
        }
        false
    };
    let aes_ids = [
        "mech.AES_KEY_GEN.generate",
        "mech.AES_KEY_GEN.attributes",
        "mech.AES_KEY_GEN.template-incomplete",
        "mech.AES_KEY_GEN.key-size-range",
        "mech.AES_KEY_GEN.value-in-template",
        "mech.AES_KEY_GEN.class-inconsistent",
        "mech.AES_KEY_GEN.usable",
    ];
    if gate(r, &aes_ids, "§5.18.1", CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN") {
        let base = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_ENCRYPT, true)
                .flag(CKA_DECRYPT, true)
        };
        let mech = || Mech::new(CKM_AES_KEY_GEN);
        r.case(aes_ids[0], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 32))),
            )
        });
        r.case(aes_ids[1], "§4.10", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 32).flag(CKA_SENSITIVE, true)), "C_GenerateKey");
            let local = t!(m.get_bool(s, k, CKA_LOCAL), "CKA_LOCAL");
            let kgm = t!(m.get_ulong(s, k, CKA_KEY_GEN_MECHANISM), "CKA_KEY_GEN_MECHANISM");
            let asens = t!(m.get_bool(s, k, CKA_ALWAYS_SENSITIVE), "CKA_ALWAYS_SENSITIVE");
            let class = t!(m.get_ulong(s, k, CKA_CLASS), "CKA_CLASS");
            let kt = t!(m.get_ulong(s, k, CKA_KEY_TYPE), "CKA_KEY_TYPE");
            let len = t!(m.get_ulong(s, k, CKA_VALUE_LEN), "CKA_VALUE_LEN");
            check(local && kgm == CKM_AES_KEY_GEN && asens && class == CKO_SECRET_KEY && kt == CKK_AES && len == 32, || {
                format!("expected LOCAL, KEY_GEN_MECHANISM=AES_KEY_GEN, ALWAYS_SENSITIVE, SECRET_KEY, AES, 32; got {local} 0x{kgm:x} {asens} {class} {kt} {len}")
            })
        });
        r.case(aes_ids[2], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_key(s, &mech(), &base())),
            )
        });
        r.case(aes_ids[3], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_KEY_SIZE_RANGE, CKR_ATTRIBUTE_VALUE_INVALID],
                crate::rv_of(&m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 17))),
            )
        });
        r.case(aes_ids[4], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
                crate::rv_of(&m.generate_key(
                    s,
                    &mech(),
                    &base().ulong(CKA_VALUE_LEN, 16).bytes(CKA_VALUE, &[0u8; 16]),
                )),
            )
        });
        r.case(aes_ids[5], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_VALUE_INVALID],
                crate::rv_of(
                    &m.generate_key(
                        s,
                        &mech(),
                        &base()
                            .ulong(CKA_VALUE_LEN, 16)
                            .ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                    ),
                ),
            )
        });
        r.case(aes_ids[6], "§5.18.1", env, |m, e| {
            if !e.mechs.contains(&CKM_AES_ECB) {
                return Outcome::Skip("CKM_AES_ECB not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = t!(
                m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 16)),
                "C_GenerateKey"
            );
            let ct = t!(
                m.run(Op::Encrypt, s, &Mech::new(CKM_AES_ECB), k, &[9u8; 32]),
                "C_Encrypt"
            );
            let pt = t!(
                m.run(Op::Decrypt, s, &Mech::new(CKM_AES_ECB), k, &ct),
                "C_Decrypt"
            );
            check(pt == [9u8; 32], || {
                "expected a round trip with the generated key".into()
            })
        });
    }
    let gen_ids = [
        "mech.GENERIC_SECRET_KEY_GEN.generate",
        "mech.GENERIC_SECRET_KEY_GEN.template-incomplete",
    ];
    if gate(
        r,
        &gen_ids,
        "§5.18.1",
        CKM_GENERIC_SECRET_KEY_GEN,
        "CKM_GENERIC_SECRET_KEY_GEN",
    ) {
        let mech = || Mech::new(CKM_GENERIC_SECRET_KEY_GEN);
        r.case(gen_ids[0], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(
                m.generate_key(
                    s,
                    &mech(),
                    &Template::new()
                        .flag(CKA_TOKEN, false)
                        .flag(CKA_SIGN, true)
                        .ulong(CKA_VALUE_LEN, 32)
                ),
                "C_GenerateKey"
            );
            let kt = t!(m.get_ulong(s, k, CKA_KEY_TYPE), "CKA_KEY_TYPE");
            check(kt == CKK_GENERIC_SECRET, || {
                format!("expected CKK_GENERIC_SECRET, got {kt}")
            })
        });
        r.case(gen_ids[1], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_key(s, &mech(), &Template::new().flag(CKA_TOKEN, false))),
            )
        });
    }
    let rsa_ids = [
        "mech.RSA_PKCS_KEY_PAIR_GEN.generate",
        "mech.RSA_PKCS_KEY_PAIR_GEN.attributes",
        "mech.RSA_PKCS_KEY_PAIR_GEN.template-incomplete",
        "mech.RSA_PKCS_KEY_PAIR_GEN.key-size-range",
        "mech.RSA_PKCS_KEY_PAIR_GEN.usable",
    ];
    if gate(
        r,
        &rsa_ids,
        "§5.18.2",
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        "CKM_RSA_PKCS_KEY_PAIR_GEN",
    ) {
        let mech = || Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN);
        let public = |bits: Option<CK_ULONG>| {
            let t = Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_VERIFY, true)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]);
            match bits {
                Some(b) => t.ulong(CKA_MODULUS_BITS, b),
                None => t,
            }
        };
        let private = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_PRIVATE, true)
                .flag(CKA_SIGN, true)
                .flag(CKA_SENSITIVE, true)
        };
        r.case(rsa_ids[0], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(2048)), &private())),
            )
        });
        r.case(rsa_ids[1], "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(m.generate_pair(s, &mech(), &public(Some(2048)), &private()), "C_GenerateKeyPair");
            let n = t!(m.get(s, p, CKA_MODULUS), "CKA_MODULUS");
            let lp = t!(m.get_bool(s, p, CKA_LOCAL), "CKA_LOCAL(public)");
            let lq = t!(m.get_bool(s, q, CKA_LOCAL), "CKA_LOCAL(private)");
            let kgm = t!(m.get_ulong(s, q, CKA_KEY_GEN_MECHANISM), "CKA_KEY_GEN_MECHANISM");
            let cp = t!(m.get_ulong(s, p, CKA_CLASS), "CKA_CLASS");
            let cq = t!(m.get_ulong(s, q, CKA_CLASS), "CKA_CLASS");
            check(n.len() == 256 && lp && lq && kgm == CKM_RSA_PKCS_KEY_PAIR_GEN && cp == CKO_PUBLIC_KEY && cq == CKO_PRIVATE_KEY, || {
                format!("expected a 256-byte modulus, LOCAL on both, KEY_GEN_MECHANISM, classes; got {} {lp} {lq} 0x{kgm:x} {cp} {cq}", n.len())
            })
        });
        r.case(rsa_ids[2], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(None), &private())),
            )
        });
        r.case(rsa_ids[3], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_KEY_SIZE_RANGE, CKR_ATTRIBUTE_VALUE_INVALID],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(128)), &private())),
            )
        });
        r.case(rsa_ids[4], "§5.18.2", env, |m, e| {
            if !e.mechs.contains(&CKM_SHA256_RSA_PKCS) {
                return Outcome::Skip("CKM_SHA256_RSA_PKCS not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(
                m.generate_pair(s, &mech(), &public(Some(2048)), &private()),
                "C_GenerateKeyPair"
            );
            let mech = Mech::new(CKM_SHA256_RSA_PKCS);
            let sig = t!(m.run(Op::Sign, s, &mech, q, b"abc"), "C_Sign");
            expect_rv(&[CKR_OK], m.run_verify(s, &mech, p, b"abc", &sig))
        });
    }
    let ec_ids = [
        "mech.EC_KEY_PAIR_GEN.generate",
        "mech.EC_KEY_PAIR_GEN.attributes",
        "mech.EC_KEY_PAIR_GEN.template-incomplete",
        "mech.EC_KEY_PAIR_GEN.curve-not-supported",
        "mech.EC_KEY_PAIR_GEN.usable",
    ];
    if gate(
        r,
        &ec_ids,
        "§5.18.2",
        CKM_EC_KEY_PAIR_GEN,
        "CKM_EC_KEY_PAIR_GEN",
    ) {
        let mech = || Mech::new(CKM_EC_KEY_PAIR_GEN);
        let public = |params: Option<&[u8]>| {
            let t = Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_VERIFY, true);
            match params {
                Some(p) => t.bytes(CKA_EC_PARAMS, p),
                None => t,
            }
        };
        let private = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_PRIVATE, true)
                .flag(CKA_SIGN, true)
                .flag(CKA_DERIVE, true)
        };
        r.case(ec_ids[0], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(&P256_PARAMS)), &private())),
            )
        });
        r.case(ec_ids[1], "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(m.generate_pair(s, &mech(), &public(Some(&P256_PARAMS)), &private()), "C_GenerateKeyPair");
            let pt = t!(m.get(s, p, CKA_EC_POINT), "CKA_EC_POINT");
            let lq = t!(m.get_bool(s, q, CKA_LOCAL), "CKA_LOCAL");
            let params = t!(m.get(s, q, CKA_EC_PARAMS), "CKA_EC_PARAMS(private)");
            check((pt.len() == 67 && pt[0] == 4 && pt[2] == 4) && lq && params == P256_PARAMS, || {
                format!("expected a DER OCTET STRING point of 67 bytes, LOCAL, EC_PARAMS copied; got {} bytes, {lq}", pt.len())
            })
        });
        r.case(ec_ids[2], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(None), &private())),
            )
        });
        r.case(ec_ids[3], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            // secp112r1: a curve no one should support.
            let oid = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x06];
            expect_rv(
                &[
                    CKR_CURVE_NOT_SUPPORTED,
                    CKR_DOMAIN_PARAMS_INVALID,
                    CKR_ATTRIBUTE_VALUE_INVALID,
                    CKR_TEMPLATE_INCONSISTENT,
                ],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(&oid)), &private())),
            )
        });
        r.case(ec_ids[4], "§5.18.2", env, |m, e| {
            if !e.mechs.contains(&CKM_ECDSA_SHA256) && !e.mechs.contains(&CKM_ECDSA) {
                return Outcome::Skip("no ECDSA mechanism advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(
                m.generate_pair(s, &mech(), &public(Some(&P256_PARAMS)), &private()),
                "C_GenerateKeyPair"
            );
            let mech = Mech::new(CKM_ECDSA);
            let h = hx(ABC_SHA256);
            let sig = t!(m.run(Op::Sign, s, &mech, q, &h), "C_Sign");
            expect_rv(&[CKR_OK], m.run_verify(s, &mech, p, &h, &sig))
        });
    }
    let dh_ids = [
        "mech.ECDH1_DERIVE.known-answer",
        "mech.ECDH1_DERIVE.param-invalid",
        "mech.ECDH1_DERIVE.derived-attributes",
    ];
    if gate(r, &dh_ids, "§5.18.5", CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE") {
        let tpl = || {
            Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .flag(CKA_TOKEN, false)
                .flag(CKA_SENSITIVE, false)
                .flag(CKA_EXTRACTABLE, true)
                .ulong(CKA_VALUE_LEN, 32)
        };
        r.case(dh_ids[0], "§5.18.5", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            let k = t!(
                m.derive(s, &Mech::ecdh(&hx(v::EC2_POINT)), q, &tpl()),
                "C_DeriveKey"
            );
            let z = t!(m.get(s, k, CKA_VALUE), "CKA_VALUE");
            check(z == hx(v::ECDH_SHARED), || {
                format!("expected {}, got {}", v::ECDH_SHARED, hex(&z))
            })
        });
        r.case(dh_ids[1], "§5.18.5", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                crate::rv_of(&m.derive(s, &Mech::new(CKM_ECDH1_DERIVE), q, &tpl())),
            )
        });
        r.case(dh_ids[2], "§5.18.5", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            let k = t!(m.derive(s, &Mech::ecdh(&hx(v::EC2_POINT)), q, &tpl().flag(CKA_SENSITIVE, true)), "C_DeriveKey");
            let local = t!(m.get_bool(s, k, CKA_LOCAL), "CKA_LOCAL");
            // The base key is sensitive: ALWAYS_SENSITIVE follows the base key's (FALSE: imported).
            let asens = t!(m.get_bool(s, k, CKA_ALWAYS_SENSITIVE), "CKA_ALWAYS_SENSITIVE");
            check(!local && !asens, || format!("expected a derived key with LOCAL=FALSE and ALWAYS_SENSITIVE=FALSE (imported base), got {local} {asens}"))
        });
    }
}
