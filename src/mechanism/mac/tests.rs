//! Unit tests of HMAC (RFC 4231, RFC 2202), AES-CMAC (RFC 4493) and generic
//! secret key generation.

use super::cmac::{cmac_sign, cmac_verify};
use super::hmac::{generic_secret_key_gen, sign_init, verify_init};
use super::*;
use crate::gate::Granted;
use crate::mechanism::digest::tests::h;
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Attribute;
use crate::object::AttrMap;
use crate::object::Object;
use crate::outbuf::OutBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A secret key object for tests.
pub(crate) fn key_obj(key_type: CK_KEY_TYPE, value: &[u8]) -> Arc<Object> {
    let mut attrs = AttrMap::new();
    attrs.insert(
        CKA_CLASS,
        Zeroizing::new(CKO_SECRET_KEY.to_ne_bytes().to_vec()),
    );
    attrs.insert(
        CKA_KEY_TYPE,
        Zeroizing::new(key_type.to_ne_bytes().to_vec()),
    );
    attrs.insert(CKA_VALUE, Zeroizing::new(value.to_vec()));
    Arc::new(Object::new(1, None, attrs))
}

fn sign(mech: CK_MECHANISM_TYPE, param: Param, key: &[u8], data: &[u8], chunk: usize) -> Vec<u8> {
    let m = Mechanism { mech, param };
    let k = key_obj(CKK_GENERIC_SECRET, key);
    let mut op = sign_init(&m, &Granted::for_tests(&k)).unwrap();
    let mut q = OutBuf::query();
    let mut buf = vec![0u8; 64];
    if chunk == 0 {
        op.one_shot(data, &mut q).unwrap();
        let mut small = vec![0u8; q.len() - 1];
        assert_eq!(
            op.one_shot(data, &mut OutBuf::new(Some(&mut small))),
            Err(Error::BufferTooSmall)
        );
        let mut o = OutBuf::new(Some(&mut buf));
        op.one_shot(data, &mut o).unwrap();
        let n = o.len();
        buf.truncate(n);
    } else {
        for c in data.chunks(chunk) {
            op.update(c).unwrap();
        }
        op.finish(&mut q).unwrap();
        let mut small = vec![0u8; q.len() - 1];
        assert_eq!(
            op.finish(&mut OutBuf::new(Some(&mut small))),
            Err(Error::BufferTooSmall)
        );
        let mut o = OutBuf::new(Some(&mut buf));
        op.finish(&mut o).unwrap();
        let n = o.len();
        buf.truncate(n);
    }
    // Verification agrees, single and multi-part.
    let mut v = verify_init(&m, &Granted::for_tests(&k)).unwrap();
    v.one_shot(data, &buf).unwrap();
    let mut v = verify_init(&m, &Granted::for_tests(&k)).unwrap();
    for c in data.chunks(chunk.max(1)) {
        v.update(c).unwrap();
    }
    v.finish(&buf).unwrap();
    buf
}

#[test]
fn rfc4231() {
    // (key, data, SHA-224, SHA-256, SHA-384, SHA-512) from RFC 4231 §4.2–4.8.
    let cases: &[(&str, &str, [&str; 4])] = &[
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "4869205468657265",
            [
                "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ],
        ),
        (
            "4a656665",
            "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
            [
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ],
        ),
        (
            // Test case 6: a key longer than the block size.
            &"aa".repeat(131),
            "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
            [
                "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ],
        ),
    ];
    let mechs = [
        CKM_SHA224_HMAC,
        CKM_SHA256_HMAC,
        CKM_SHA384_HMAC,
        CKM_SHA512_HMAC,
    ];
    for (key, data, wants) in cases {
        for (mech, want) in mechs.iter().zip(wants) {
            for chunk in [0, 1, 15, 17, 4097] {
                assert_eq!(
                    sign(*mech, Param::None, &h(key), &h(data), chunk),
                    h(want),
                    "{mech:#x}"
                );
            }
        }
    }
    // Test case 5: truncation to 128 bits through the _GENERAL form.
    let key = h(&"0c".repeat(20));
    let data = h("546573742057697468205472756e636174696f6e");
    let got = sign(CKM_SHA256_HMAC_GENERAL, Param::Ulong(16), &key, &data, 0);
    assert_eq!(got, h("a3b6167473100ee06e0c796c2955552b"));
    // SHA-1 (RFC 2202 test case 2).
    let got = sign(
        CKM_SHA_1_HMAC,
        Param::None,
        b"Jefe",
        b"what do ya want for nothing?",
        17,
    );
    assert_eq!(got, h("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));
}

#[test]
fn verify_errors() {
    let k = key_obj(CKK_GENERIC_SECRET, b"key");
    let m = Mechanism {
        mech: CKM_SHA256_HMAC,
        param: Param::None,
    };
    let good = sign(CKM_SHA256_HMAC, Param::None, b"key", b"msg", 0);
    let mut v = verify_init(&m, &Granted::for_tests(&k)).unwrap();
    assert_eq!(
        v.one_shot(b"msg", &good[..31]),
        Err(Error::SignatureLenRange)
    );
    let mut bad = good.clone();
    bad[5] ^= 1;
    let mut v = verify_init(&m, &Granted::for_tests(&k)).unwrap();
    assert_eq!(v.one_shot(b"msg", &bad), Err(Error::SignatureInvalid));
}

#[test]
fn parameter_and_key_checks() {
    let k = key_obj(CKK_GENERIC_SECRET, b"key");
    for p in [Param::Ulong(0), Param::Ulong(33), Param::None] {
        let m = Mechanism {
            mech: CKM_SHA256_HMAC_GENERAL,
            param: p,
        };
        assert!(matches!(
            sign_init(&m, &Granted::for_tests(&k)),
            Err(Error::MechanismParamInvalid)
        ));
    }
    let m = Mechanism {
        mech: CKM_SHA256_HMAC,
        param: Param::Ulong(16),
    };
    assert!(matches!(
        sign_init(&m, &Granted::for_tests(&k)),
        Err(Error::MechanismParamInvalid)
    ));
    let empty = key_obj(CKK_GENERIC_SECRET, b"");
    let m = Mechanism {
        mech: CKM_SHA256_HMAC,
        param: Param::None,
    };
    assert!(matches!(
        sign_init(&m, &Granted::for_tests(&empty)),
        Err(Error::KeySizeRange)
    ));
}

#[test]
fn generic_secret_generation() {
    let m = Mechanism {
        mech: CKM_GENERIC_SECRET_KEY_GEN,
        param: Param::None,
    };
    assert_eq!(
        generic_secret_key_gen(&m, &vec![]).unwrap_err(),
        Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN
        }
    );
    for bad in [0, MAX_KEY as CK_ULONG + 1] {
        let t = vec![Attribute::ulong(CKA_VALUE_LEN, bad)];
        assert_eq!(
            generic_secret_key_gen(&m, &t).unwrap_err(),
            Error::AttributeValueInvalid(CKA_VALUE_LEN)
        );
    }
    let g = generic_secret_key_gen(&m, &vec![Attribute::ulong(CKA_VALUE_LEN, 40)]).unwrap();
    let get = |ty| g.iter().find(|a| a.ty == ty).unwrap();
    assert_eq!(get(CKA_CLASS).as_ulong().unwrap(), CKO_SECRET_KEY);
    assert_eq!(get(CKA_KEY_TYPE).as_ulong().unwrap(), CKK_GENERIC_SECRET);
    assert_eq!(get(CKA_VALUE).value.len(), 40);
}

#[test]
fn cmac_rfc4493() {
    let key = key_obj(CKK_AES, &h("2b7e151628aed2a6abf7158809cf4f3c"));
    let msg = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
    let cases = [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ];
    let m = Mechanism {
        mech: CKM_AES_CMAC,
        param: Param::None,
    };
    for (len, want) in cases {
        let data = &msg[..len];
        let mut s = cmac_sign(&m, &Granted::for_tests(&key)).unwrap();
        let mut buf = [0u8; 16];
        s.one_shot(data, &mut OutBuf::new(Some(&mut buf))).unwrap();
        assert_eq!(buf.to_vec(), h(want), "len {len}");
        for chunk in [1, 15, 17, 4097] {
            let mut s = cmac_sign(&m, &Granted::for_tests(&key)).unwrap();
            for c in data.chunks(chunk) {
                s.update(c).unwrap();
            }
            let mut q = OutBuf::query();
            s.finish(&mut q).unwrap();
            assert_eq!(q.len(), 16);
            let mut small = [0u8; 15];
            assert_eq!(
                s.finish(&mut OutBuf::new(Some(&mut small))),
                Err(Error::BufferTooSmall)
            );
            let mut buf = [0u8; 16];
            s.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
            assert_eq!(buf.to_vec(), h(want), "len {len} chunk {chunk}");
            let mut v = cmac_verify(&m, &Granted::for_tests(&key)).unwrap();
            for c in data.chunks(chunk) {
                v.update(c).unwrap();
            }
            v.finish(&buf).unwrap();
        }
        let mut v = cmac_verify(&m, &Granted::for_tests(&key)).unwrap();
        let mut bad = h(want);
        bad[0] ^= 1;
        assert_eq!(v.one_shot(data, &bad), Err(Error::SignatureInvalid));
        let mut v = cmac_verify(&m, &Granted::for_tests(&key)).unwrap();
        assert_eq!(
            v.one_shot(data, &h(want)[..8]),
            Err(Error::SignatureLenRange)
        );
    }
    // The general form truncates.
    let g = Mechanism {
        mech: CKM_AES_CMAC_GENERAL,
        param: Param::Ulong(4),
    };
    let mut s = cmac_sign(&g, &Granted::for_tests(&key)).unwrap();
    let mut buf = [0u8; 4];
    s.one_shot(&msg[..16], &mut OutBuf::new(Some(&mut buf)))
        .unwrap();
    assert_eq!(buf.to_vec(), h("070a16b4"));
    cmac_verify(&g, &Granted::for_tests(&key))
        .unwrap()
        .one_shot(&msg[..16], &buf)
        .unwrap();
    for p in [Param::Ulong(0), Param::Ulong(17), Param::None] {
        let g = Mechanism {
            mech: CKM_AES_CMAC_GENERAL,
            param: p,
        };
        assert!(matches!(
            cmac_sign(&g, &Granted::for_tests(&key)),
            Err(Error::MechanismParamInvalid)
        ));
    }
}

#[test]
fn registry_flags() {
    let get = |m| MECHANISMS.iter().find(|d| d.mech == m).unwrap().flags();
    assert_eq!(get(CKM_AES_CMAC), CKF_SIGN | CKF_VERIFY);
}
