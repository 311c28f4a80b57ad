//! HMAC (PKCS#11 3.0 current mechanisms, the `CKM_SHA*_HMAC` and
//! `CKM_SHA*_HMAC_GENERAL` mechanisms of §2.20–2.25) and generic secret key
//! generation (`CKM_GENERIC_SECRET_KEY_GEN`).
//!
//! - The plain forms take no parameter and output the full hash length; the
//!   `_GENERAL` forms take a `CK_MAC_GENERAL_PARAMS` (a `CK_ULONG`) output
//!   length in `1..=hash length`, anything else is `CKR_MECHANISM_PARAM_INVALID`.
//! - Keys: `CKK_GENERIC_SECRET` or the matching `CKK_SHA*_HMAC`, 1 to
//!   [`MAX_KEY`] bytes (`ulMinKeySize`/`ulMaxKeySize` in bytes).
//! - Verification compares in constant time; a signature of the wrong length is
//!   `CKR_SIGNATURE_LEN_RANGE`, a mismatch `CKR_SIGNATURE_INVALID`.
//! - `CKM_GENERIC_SECRET_KEY_GEN` needs `CKA_VALUE_LEN` (bytes) in the template;
//!   its mechanism info is in bits, as the standard says for this mechanism. A
//!   length outside `1..=MAX_KEY` is `CKR_ATTRIBUTE_VALUE_INVALID` on
//!   `CKA_VALUE_LEN` (the value of the template attribute is what is wrong).

use crate::crypto::hash::{ct_eq, HashAlg, Hmac};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::digest::{hash_alg, no_param, NO_FUNCTIONS};
use crate::mechanism::{
    Functions, Generated, Mechanism, MechanismDef, Param, ParamKind, SignOp, VerifyOp,
};
use crate::object::attr::{Attribute, Template};
use crate::object::Object;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;

/// The largest HMAC / generic secret key, in bytes.
pub const MAX_KEY: usize = 4096;

/// The key's `CKA_VALUE`, checked against `min..=max` bytes (`CKR_KEY_SIZE_RANGE`).
pub(crate) fn key_value(obj: &Object, min: usize, max: usize) -> Result<&[u8]> {
    let v = obj
        .get(CKA_VALUE)
        .ok_or_else(|| Error::General("secret key object without CKA_VALUE".into()))?;
    if v.len() < min || v.len() > max {
        return Err(Error::KeySizeRange);
    }
    Ok(v)
}

/// `CKA_VALUE_LEN` from a key generation template, in bytes.
pub(crate) fn template_value_len(t: &Template) -> Result<usize> {
    let a = t
        .iter()
        .find(|a| a.ty == CKA_VALUE_LEN)
        .ok_or(Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN,
        })?;
    let v = a.as_ulong()?;
    usize::try_from(v).map_err(|_| Error::AttributeValueInvalid(CKA_VALUE_LEN))
}

/// Which HMAC a mechanism is, and whether it is the `_GENERAL` form.
fn hmac_kind(mech: CK_MECHANISM_TYPE) -> Option<(HashAlg, bool)> {
    let (hash, general) = match mech {
        CKM_SHA_1_HMAC => (CKM_SHA_1, false),
        CKM_SHA_1_HMAC_GENERAL => (CKM_SHA_1, true),
        CKM_SHA224_HMAC => (CKM_SHA224, false),
        CKM_SHA224_HMAC_GENERAL => (CKM_SHA224, true),
        CKM_SHA256_HMAC => (CKM_SHA256, false),
        CKM_SHA256_HMAC_GENERAL => (CKM_SHA256, true),
        CKM_SHA384_HMAC => (CKM_SHA384, false),
        CKM_SHA384_HMAC_GENERAL => (CKM_SHA384, true),
        CKM_SHA512_HMAC => (CKM_SHA512, false),
        CKM_SHA512_HMAC_GENERAL => (CKM_SHA512, true),
        _ => return None,
    };
    Some((hash_alg(hash)?, general))
}

/// The keyed HMAC and the output length, from the mechanism and the key.
fn setup(mech: &Mechanism, key: &Object) -> Result<(Hmac, usize)> {
    let (alg, general) = hmac_kind(mech.mech).ok_or(Error::MechanismInvalid)?;
    let full = alg.output_len();
    let out_len = if general {
        match mech.param {
            Param::Ulong(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=full).contains(n))
                .ok_or(Error::MechanismParamInvalid)?,
            _ => return Err(Error::MechanismParamInvalid),
        }
    } else {
        no_param(mech)?;
        full
    };
    let value = key_value(key, 1, MAX_KEY)?;
    Ok((Hmac::new(alg, value), out_len))
}

struct HmacSign {
    mac: Hmac,
    out_len: usize,
}

impl HmacSign {
    fn emit(mac: Hmac, out_len: usize, out: &mut OutBuf) -> Result<()> {
        if let Some(dst) = out.reserve(out_len)? {
            dst.copy_from_slice(&mac.finalize()[..out_len]);
        }
        Ok(())
    }
}

impl SignOp for HmacSign {
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()> {
        if out.reserve(self.out_len)?.is_none() {
            return Ok(());
        }
        let mut m = self.mac.clone();
        m.update(data);
        Self::emit(m, self.out_len, out)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.mac.update(data);
        Ok(())
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        if out.reserve(self.out_len)?.is_none() {
            return Ok(());
        }
        Self::emit(self.mac.clone(), self.out_len, out)
    }
}

impl VerifyOp for HmacSign {
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        VerifyOp::update(self, data)?;
        VerifyOp::finish(self, signature)
    }
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.mac.update(data);
        Ok(())
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        if signature.len() != self.out_len {
            return Err(Error::SignatureLenRange);
        }
        let full = self.mac.clone().finalize();
        if ct_eq(&full[..self.out_len], signature) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

fn sign_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn SignOp>> {
    let key = key.key();
    let (mac, out_len) = setup(mech, key)?;
    Ok(Box::new(HmacSign { mac, out_len }))
}

fn verify_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn VerifyOp>> {
    let key = key.key();
    let (mac, out_len) = setup(mech, key)?;
    Ok(Box::new(HmacSign { mac, out_len }))
}

fn generic_secret_key_gen(mech: &Mechanism, template: &Template) -> Result<Generated> {
    no_param(mech)?;
    let len = template_value_len(template)?;
    if !(1..=MAX_KEY).contains(&len) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let value =
        crate::crypto::random_vec(len).map_err(|e| Error::General(format!("random: {e}")))?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        Attribute::new(CKA_VALUE, value.to_vec()),
    ])
}

const fn def(
    mech: CK_MECHANISM_TYPE,
    name: &'static str,
    key_types: &'static [CK_KEY_TYPE],
    general: bool,
) -> MechanismDef {
    MechanismDef {
        mech,
        name,
        key_types,
        min_key: 1,
        max_key: MAX_KEY as CK_ULONG,
        extra_flags: 0,
        param: if general {
            ParamKind::Ulong
        } else {
            ParamKind::None
        },
        functions: Functions {
            sign: Some(sign_init),
            verify: Some(verify_init),
            ..NO_FUNCTIONS
        },
    }
}

const SHA1_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA_1_HMAC];
const SHA224_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA224_HMAC];
const SHA256_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA256_HMAC];
const SHA384_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA384_HMAC];
const SHA512_KEYS: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_SHA512_HMAC];

/// The mechanisms of this family.
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    def(CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC", SHA1_KEYS, false),
    def(
        CKM_SHA_1_HMAC_GENERAL,
        "CKM_SHA_1_HMAC_GENERAL",
        SHA1_KEYS,
        true,
    ),
    def(CKM_SHA224_HMAC, "CKM_SHA224_HMAC", SHA224_KEYS, false),
    def(
        CKM_SHA224_HMAC_GENERAL,
        "CKM_SHA224_HMAC_GENERAL",
        SHA224_KEYS,
        true,
    ),
    def(CKM_SHA256_HMAC, "CKM_SHA256_HMAC", SHA256_KEYS, false),
    def(
        CKM_SHA256_HMAC_GENERAL,
        "CKM_SHA256_HMAC_GENERAL",
        SHA256_KEYS,
        true,
    ),
    def(CKM_SHA384_HMAC, "CKM_SHA384_HMAC", SHA384_KEYS, false),
    def(
        CKM_SHA384_HMAC_GENERAL,
        "CKM_SHA384_HMAC_GENERAL",
        SHA384_KEYS,
        true,
    ),
    def(CKM_SHA512_HMAC, "CKM_SHA512_HMAC", SHA512_KEYS, false),
    def(
        CKM_SHA512_HMAC_GENERAL,
        "CKM_SHA512_HMAC_GENERAL",
        SHA512_KEYS,
        true,
    ),
    MechanismDef {
        mech: CKM_GENERIC_SECRET_KEY_GEN,
        name: "CKM_GENERIC_SECRET_KEY_GEN",
        key_types: &[],
        // In bits, as the standard says for this mechanism.
        min_key: 8,
        max_key: (MAX_KEY * 8) as CK_ULONG,
        extra_flags: 0,
        param: ParamKind::None,
        functions: Functions {
            generate_key: Some(generic_secret_key_gen),
            ..NO_FUNCTIONS
        },
    },
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::mechanism::digest::tests::h;
    use crate::object::AttrMap;
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

    fn sign(
        mech: CK_MECHANISM_TYPE,
        param: Param,
        key: &[u8],
        data: &[u8],
        chunk: usize,
    ) -> Vec<u8> {
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
}
