//! HKDF (PKCS#11 3.0 current mechanisms §2.43): `CKM_HKDF_DERIVE`,
//! `CKM_HKDF_DATA` and `CKM_HKDF_KEY_GEN`.
//!
//! The parameter is a `CK_HKDF_PARAMS`: `bExtract` and/or `bExpand` (at least
//! one), `prfHashMechanism` (`CKM_SHA_1`, `CKM_SHA224` … `CKM_SHA3_512`), the salt
//! (`CKF_HKDF_SALT_NULL`, `_DATA` with a non-empty byte string, or `_KEY` naming
//! a secret key whose value is the salt) and the expand step's info.
//!
//! Output length: with expand, the caller's length (`CKA_VALUE_LEN` or the key
//! type's size), 1 to 255 × hash length, else `CKR_ATTRIBUTE_VALUE_INVALID` on
//! `CKA_VALUE_LEN`; none given is `CKR_TEMPLATE_INCOMPLETE`. Extract only: the
//! pseudorandom key, exactly the hash length (a different length asked for is
//! `CKR_ATTRIBUTE_VALUE_INVALID`). Without extract, the base key is the PRK.

use crate::crypto::hash::{hkdf_expand, hkdf_extract};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::digest::{hash_alg, no_param};
use crate::mechanism::mac::{key_value, template_value_len};
use crate::mechanism::{Generated, KeyLookup, Mechanism, Param};
use crate::object::attr::{Attribute, Template};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The largest HKDF output (255 × 64 bytes), and so the largest base key taken.
pub(super) const MAX_LEN: usize = 255 * 64;

pub(super) fn derive(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    keys: &dyn KeyLookup,
) -> Result<Zeroizing<Vec<u8>>> {
    let Param::Hkdf {
        extract,
        expand,
        prf_hash,
        salt_type,
        salt,
        salt_key,
        info,
    } = &mech.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    if !extract && !expand {
        return Err(Error::MechanismParamInvalid);
    }
    let alg = hash_alg(*prf_hash).ok_or(Error::MechanismParamInvalid)?;
    let ikm = key_value(base, 1, MAX_LEN)?;
    let prk = if *extract {
        let salt: Zeroizing<Vec<u8>> = match *salt_type {
            CKF_HKDF_SALT_NULL => Zeroizing::new(vec![0u8; alg.output_len()]),
            CKF_HKDF_SALT_DATA if !salt.is_empty() => Zeroizing::new(salt.clone()),
            CKF_HKDF_SALT_KEY => {
                // The salt key passes the key gate as a derivation key.
                let k = keys.key(*salt_key)?;
                if k.key().class() != Some(CKO_SECRET_KEY) {
                    return Err(Error::MechanismParamInvalid);
                }
                Zeroizing::new(
                    k.secret()
                        .map_err(|_| Error::MechanismParamInvalid)?
                        .to_vec(),
                )
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        hkdf_extract(alg, &salt, ikm)
    } else {
        Zeroizing::new(ikm.to_vec())
    };
    if !*expand {
        return match value_len {
            None => Ok(prk),
            Some(n) if n == prk.len() => Ok(prk),
            Some(_) => Err(Error::AttributeValueInvalid(CKA_VALUE_LEN)),
        };
    }
    let len = value_len.ok_or(Error::TemplateIncomplete {
        missing: CKA_VALUE_LEN,
    })?;
    if len == 0 {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    hkdf_expand(alg, &prk, info, len).ok_or(Error::AttributeValueInvalid(CKA_VALUE_LEN))
}

pub(super) fn hkdf_key_gen(mech: &Mechanism, template: &Template) -> Result<Generated> {
    no_param(mech)?;
    let len = template_value_len(template)?;
    if !(1..=MAX_LEN).contains(&len) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let value =
        crate::crypto::random_vec(len).map_err(|e| Error::General(format!("random: {e}")))?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_HKDF),
        Attribute::new(CKA_VALUE, value.to_vec()),
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mechanism::digest::tests::h;
    use crate::mechanism::mac::tests::key_obj;
    use crate::object::Object;
    use std::sync::Arc;

    struct Keys(Vec<Arc<Object>>);
    impl KeyLookup for Keys {
        fn key(&self, handle: CK_OBJECT_HANDLE) -> Result<Granted> {
            self.0
                .iter()
                .find(|o| o.handle == handle)
                .map(Granted::for_tests)
                .ok_or(Error::KeyHandleInvalid)
        }
    }

    fn params(
        extract: bool,
        expand: bool,
        salt_type: CK_ULONG,
        salt: &[u8],
        info: &[u8],
    ) -> Mechanism {
        Mechanism {
            mech: CKM_HKDF_DERIVE,
            param: Param::Hkdf {
                extract,
                expand,
                prf_hash: CKM_SHA256,
                salt_type,
                salt: salt.to_vec(),
                salt_key: 0,
                info: info.to_vec(),
            },
        }
    }

    #[test]
    fn rfc5869() {
        // (IKM, salt, info, L, PRK, OKM): RFC 5869 A.1, A.2, A.3 (SHA-256).
        let long_ikm: String = (0x00..=0x4f).map(|b: u8| format!("{b:02x}")).collect();
        let long_salt: String = (0x60..=0xaf).map(|b: u8| format!("{b:02x}")).collect();
        let long_info: String = (0xb0..=0xff).map(|b: u8| format!("{b:02x}")).collect();
        let cases = [
            (
                "0b".repeat(22),
                "000102030405060708090a0b0c".to_string(),
                "f0f1f2f3f4f5f6f7f8f9".to_string(),
                42,
                "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            ),
            (
                long_ikm,
                long_salt,
                long_info,
                82,
                "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
            ),
            (
                "0b".repeat(22),
                String::new(),
                String::new(),
                42,
                "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            ),
        ];
        let none = Keys(vec![]);
        for (ikm, salt, info, l, prk, okm) in cases {
            let base = key_obj(CKK_GENERIC_SECRET, &h(&ikm));
            let st = if salt.is_empty() {
                CKF_HKDF_SALT_NULL
            } else {
                CKF_HKDF_SALT_DATA
            };
            // Extract and expand.
            let m = params(true, true, st, &h(&salt), &h(&info));
            assert_eq!(
                *derive(&mut m.clone(), &Granted::for_tests(&base), Some(l), &none).unwrap(),
                h(okm)
            );
            // Extract only.
            let m = params(true, false, st, &h(&salt), &[]);
            assert_eq!(
                *derive(&mut m.clone(), &Granted::for_tests(&base), None, &none).unwrap(),
                h(prk)
            );
            // Expand only, from the PRK.
            let prk_key = key_obj(CKK_GENERIC_SECRET, &h(prk));
            let m = params(false, true, CKF_HKDF_SALT_NULL, &[], &h(&info));
            assert_eq!(
                *derive(
                    &mut m.clone(),
                    &Granted::for_tests(&prk_key),
                    Some(l),
                    &none
                )
                .unwrap(),
                h(okm)
            );
        }
        // A salt from a key object gives the same result as the salt bytes.
        let salt_key = {
            let mut attrs = crate::object::AttrMap::new();
            attrs.insert(
                CKA_CLASS,
                Zeroizing::new(CKO_SECRET_KEY.to_ne_bytes().to_vec()),
            );
            attrs.insert(
                CKA_KEY_TYPE,
                Zeroizing::new(CKK_GENERIC_SECRET.to_ne_bytes().to_vec()),
            );
            attrs.insert(CKA_VALUE, Zeroizing::new(h("000102030405060708090a0b0c")));
            Arc::new(Object::new(7, None, attrs))
        };
        let keys = Keys(vec![salt_key]);
        let base = key_obj(CKK_GENERIC_SECRET, &h(&"0b".repeat(22)));
        let mut m = params(
            true,
            true,
            CKF_HKDF_SALT_KEY,
            &[],
            &h("f0f1f2f3f4f5f6f7f8f9"),
        );
        if let Param::Hkdf { salt_key, .. } = &mut m.param {
            *salt_key = 7;
        }
        assert_eq!(
            *derive(&mut m.clone(), &Granted::for_tests(&base), Some(42), &keys).unwrap(),
            h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
        if let Param::Hkdf { salt_key, .. } = &mut m.param {
            *salt_key = 8;
        }
        assert_eq!(
            derive(&mut m.clone(), &Granted::for_tests(&base), Some(42), &keys).unwrap_err(),
            Error::KeyHandleInvalid
        );
    }

    #[test]
    fn parameter_errors() {
        let base = key_obj(CKK_GENERIC_SECRET, b"ikm");
        let none = Keys(vec![]);
        let m = params(false, false, CKF_HKDF_SALT_NULL, &[], &[]);
        assert_eq!(
            derive(&mut m.clone(), &Granted::for_tests(&base), Some(16), &none).unwrap_err(),
            Error::MechanismParamInvalid
        );
        let m = params(true, true, CKF_HKDF_SALT_DATA, &[], &[]);
        assert_eq!(
            derive(&mut m.clone(), &Granted::for_tests(&base), Some(16), &none).unwrap_err(),
            Error::MechanismParamInvalid
        );
        let m = params(true, true, 0x99, b"s", &[]);
        assert_eq!(
            derive(&mut m.clone(), &Granted::for_tests(&base), Some(16), &none).unwrap_err(),
            Error::MechanismParamInvalid
        );
        let mut m = params(true, true, CKF_HKDF_SALT_NULL, &[], &[]);
        if let Param::Hkdf { prf_hash, .. } = &mut m.param {
            *prf_hash = CKM_AES_ECB;
        }
        assert_eq!(
            derive(&mut m.clone(), &Granted::for_tests(&base), Some(16), &none).unwrap_err(),
            Error::MechanismParamInvalid
        );
        let m = params(true, true, CKF_HKDF_SALT_NULL, &[], &[]);
        assert_eq!(
            derive(&mut m.clone(), &Granted::for_tests(&base), None, &none).unwrap_err(),
            Error::TemplateIncomplete {
                missing: CKA_VALUE_LEN
            }
        );
        assert_eq!(
            derive(
                &mut m.clone(),
                &Granted::for_tests(&base),
                Some(255 * 32 + 1),
                &none
            )
            .unwrap_err(),
            Error::AttributeValueInvalid(CKA_VALUE_LEN)
        );
        assert_eq!(
            derive(
                &mut m.clone(),
                &Granted::for_tests(&base),
                Some(255 * 32),
                &none
            )
            .unwrap()
            .len(),
            255 * 32
        );
        let m = params(true, false, CKF_HKDF_SALT_NULL, &[], &[]);
        assert_eq!(
            derive(&mut m.clone(), &Granted::for_tests(&base), Some(16), &none).unwrap_err(),
            Error::AttributeValueInvalid(CKA_VALUE_LEN)
        );
    }

    #[test]
    fn key_gen() {
        let m = Mechanism {
            mech: CKM_HKDF_KEY_GEN,
            param: Param::None,
        };
        let g = hkdf_key_gen(&m, &vec![Attribute::ulong(CKA_VALUE_LEN, 32)]).unwrap();
        assert_eq!(
            g.iter().find(|a| a.ty == CKA_VALUE).unwrap().value.len(),
            32
        );
        assert_eq!(
            g.iter()
                .find(|a| a.ty == CKA_KEY_TYPE)
                .unwrap()
                .as_ulong()
                .unwrap(),
            CKK_HKDF
        );
    }
}
