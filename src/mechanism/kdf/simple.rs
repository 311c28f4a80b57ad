//! The simple key derivations (PKCS#11 3.0 current mechanisms §2.43.x,
//! "Miscellaneous simple key derivation mechanisms", and §2.16.x, "Key
//! derivation by data encryption"):
//!
//! - `CKM_CONCATENATE_BASE_AND_KEY` (a `CK_OBJECT_HANDLE`: the other key, which
//!   passes the key gate as a derivation key), `CKM_CONCATENATE_BASE_AND_DATA`,
//!   `CKM_CONCATENATE_DATA_AND_BASE` (a `CK_KEY_DERIVATION_STRING_DATA`): the
//!   derived value is taken from the front of the concatenation; without
//!   `CKA_VALUE_LEN` it is all of it.
//! - `CKM_XOR_BASE_AND_DATA`: base XOR data, as long as the shorter of the two
//!   unless `CKA_VALUE_LEN` asks for less.
//! - `CKM_EXTRACT_KEY_FROM_KEY` (a `CK_EXTRACT_PARAMS`, the first bit): bits
//!   `b(i)`, `b(i+1)` … of the base key, bit 0 being the most significant bit of
//!   its first byte, wrapping around its end; `CKA_VALUE_LEN` is required and at
//!   most the base key's length.
//! - `CKM_AES_ECB_ENCRYPT_DATA` (a `CK_KEY_DERIVATION_STRING_DATA`),
//!   `CKM_AES_CBC_ENCRYPT_DATA` (a `CK_AES_CBC_ENCRYPT_DATA_PARAMS`): the
//!   encryption of the data (a non-zero multiple of 16 bytes, else
//!   `CKR_MECHANISM_PARAM_INVALID`) under the AES base key; the derived value
//!   is its first `CKA_VALUE_LEN` bytes (all of it without one), and more than
//!   the data gives is `CKR_DATA_LEN_RANGE` (§2.16.x: "If the data is too short
//!   to make the requested key then the mechanism returns
//!   CKR_DATA_LEN_RANGE").
//!
//! A length beyond what the inputs give is `CKR_ATTRIBUTE_VALUE_INVALID` on
//! `CKA_VALUE_LEN`. The derived keys of all of these follow
//! [`crate::mechanism::DerivedAttrs::Contained`].
//!
//! Two rules of SoftKMS beyond the standard close the old attack on these
//! mechanisms (a new key made of one byte of a sensitive key, then found by
//! trying its 256 values through its uses): a concatenation, XOR or
//! extraction whose input key is sensitive or unextractable must copy all of
//! that key's bits (else `CKR_KEY_FUNCTION_NOT_PERMITTED`), and the key
//! gate's policy action for them is `ExportKey` (their new key is a copy of
//! the key's bits without its policy, state or expiry); for the ENCRYPT_DATA
//! derivations it is `Encrypt`, under the IV rule (`crate::gate`).

use super::out_len;
use crate::crypto::aes::{cbc_encrypt, BLOCK};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::aes::aes_key;
use crate::mechanism::mac::{key_value, MAX_KEY};
use crate::mechanism::{KeyLookup, Mechanism, Param};
use cryptoki_sys::*;
use zeroize::Zeroizing;

type Out = Result<Zeroizing<Vec<u8>>>;

/// The byte string of a `CK_KEY_DERIVATION_STRING_DATA` parameter.
fn data(mech: &Mechanism) -> Result<&[u8]> {
    match &mech.param {
        Param::Bytes(d) => Ok(d),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// The first `n` bytes of `parts` concatenated.
fn front(parts: &[&[u8]], n: usize) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(n));
    for p in parts {
        let take = (n - v.len()).min(p.len());
        v.extend_from_slice(&p[..take]);
    }
    v
}

/// Whether a key's value must not be read: it is sensitive or not
/// extractable. A derivation that copies its bits must then copy all of them:
/// a new key holding a few of them (a byte, say) could be searched for
/// through its own uses, which would reveal the key a piece at a time.
fn guarded(key: &Granted) -> bool {
    let k = key.key();
    k.flag(CKA_SENSITIVE, false) || !k.flag(CKA_EXTRACTABLE, false)
}

/// The refusal of a derived key that would hold part of a guarded key.
fn partial_copy() -> Error {
    Error::KeyFunctionNotPermitted(
        "the new key would hold only part of a sensitive or unextractable key".into(),
    )
}

fn concatenate(first: &[u8], second: &[u8], value_len: Option<usize>, whole: bool) -> Out {
    let total = first.len() + second.len();
    let n = out_len(value_len, total, total)?;
    if whole && n != total {
        return Err(partial_copy());
    }
    Ok(front(&[first, second], n))
}

pub(super) fn concatenate_base_and_key(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    keys: &dyn KeyLookup,
) -> Out {
    let Param::Key(handle) = mech.param else {
        return Err(Error::MechanismParamInvalid);
    };
    // The other key passed the key gate as a derivation key.
    let other = keys.key(handle)?;
    if other.key().class() != Some(CKO_SECRET_KEY) {
        return Err(Error::KeyTypeInconsistent);
    }
    concatenate(
        key_value(base, 1, MAX_KEY)?,
        key_value(&other, 1, MAX_KEY)?,
        value_len,
        guarded(base) || guarded(&other),
    )
}

pub(super) fn concatenate_base_and_data(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Out {
    concatenate(
        key_value(base, 1, MAX_KEY)?,
        data(mech)?,
        value_len,
        guarded(base),
    )
}

pub(super) fn concatenate_data_and_base(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Out {
    concatenate(
        data(mech)?,
        key_value(base, 1, MAX_KEY)?,
        value_len,
        guarded(base),
    )
}

pub(super) fn xor_base_and_data(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Out {
    let k = key_value(base, 1, MAX_KEY)?;
    let d = data(mech)?;
    let shorter = k.len().min(d.len());
    let n = out_len(value_len, shorter, shorter)?;
    if guarded(base) && n != k.len() {
        return Err(partial_copy());
    }
    Ok(Zeroizing::new(
        k.iter().zip(d).take(n).map(|(a, b)| a ^ b).collect(),
    ))
}

pub(super) fn extract_key_from_key(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Out {
    let Param::Ulong(first) = mech.param else {
        return Err(Error::MechanismParamInvalid);
    };
    let k = key_value(base, 1, MAX_KEY)?;
    let n = value_len.ok_or(Error::TemplateIncomplete {
        missing: CKA_VALUE_LEN,
    })?;
    let n = out_len(Some(n), n, k.len())?;
    if guarded(base) && n != k.len() {
        return Err(partial_copy());
    }
    let bits = k.len() * 8;
    // `first` may be any CK_ULONG: only its position modulo the key's bits counts.
    let start = usize::try_from(first % CK_ULONG::try_from(bits).map_err(|_| Error::KeySizeRange)?)
        .map_err(|_| Error::MechanismParamInvalid)?;
    let bit = |i: usize| (k[i / 8] >> (7 - i % 8)) & 1;
    let mut out = Zeroizing::new(vec![0u8; n]);
    for (j, byte) in out.iter_mut().enumerate() {
        for b in 0..8 {
            *byte = (*byte << 1) | bit((start + j * 8 + b) % bits);
        }
    }
    Ok(out)
}

/// The AES encryption of `data` (whole blocks) under the base key, CBC with
/// `iv` or ECB without, cut to the length asked for.
fn encrypt_data(
    base: &Granted,
    iv: Option<[u8; BLOCK]>,
    d: &[u8],
    value_len: Option<usize>,
) -> Out {
    if d.is_empty() || !d.len().is_multiple_of(BLOCK) {
        return Err(Error::MechanismParamInvalid);
    }
    let key = aes_key(base, Error::KeySizeRange)?;
    let n = value_len.unwrap_or(d.len());
    if n == 0 {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    if n > d.len() {
        return Err(Error::DataLenRange);
    }
    if n > MAX_KEY {
        return Err(Error::KeySizeRange);
    }
    let mut buf = Zeroizing::new(d.to_vec());
    match iv {
        Some(mut iv) => cbc_encrypt(key.aes(), &mut iv, &mut buf),
        None => key.aes().encrypt_blocks(&mut buf),
    }
    buf.truncate(n);
    Ok(buf)
}

pub(super) fn aes_ecb_encrypt_data(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Out {
    encrypt_data(base, None, data(mech)?, value_len)
}

pub(super) fn aes_cbc_encrypt_data(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Out {
    let Param::AesCbcEncryptData { iv, data } = &mech.param else {
        return Err(Error::MechanismParamInvalid);
    };
    encrypt_data(base, Some(*iv), data, value_len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mechanism::digest::tests::h;
    use crate::mechanism::mac::tests::key_obj;
    use crate::object::Object;

    struct NoKeys;
    impl KeyLookup for NoKeys {
        fn key(&self, _: CK_OBJECT_HANDLE) -> Result<Granted> {
            Err(Error::KeyHandleInvalid)
        }
    }

    /// A key object of `key_type` and value `value`, extractable or not
    /// (never sensitive).
    fn key(key_type: CK_KEY_TYPE, value: &[u8], extractable: bool) -> std::sync::Arc<Object> {
        let k = key_obj(key_type, value);
        let mut attrs = k.attrs().clone();
        attrs.insert(CKA_EXTRACTABLE, Zeroizing::new(vec![u8::from(extractable)]));
        std::sync::Arc::new(Object::new(1, None, attrs))
    }

    fn run_on(
        f: crate::mechanism::DeriveFn,
        param: Param,
        base: &[u8],
        extractable: bool,
        len: Option<usize>,
    ) -> Out {
        let k = key(CKK_GENERIC_SECRET, base, extractable);
        let mut m = Mechanism { mech: 0, param };
        f(&mut m, &Granted::for_tests(&k), len, &NoKeys)
    }

    fn run(
        f: crate::mechanism::DeriveFn,
        param: Param,
        base: &[u8],
        key_type: CK_KEY_TYPE,
        len: Option<usize>,
    ) -> Out {
        let k = key(key_type, base, true);
        let mut m = Mechanism { mech: 0, param };
        f(&mut m, &Granted::for_tests(&k), len, &NoKeys)
    }

    /// A key that is unextractable (or sensitive) gives its bits only
    /// whole: a piece of it is refused, all of it is not.
    #[test]
    fn guarded_keys_are_copied_whole_or_not_at_all() {
        let k = h("01234567");
        let d = || Param::Bytes(h("89ABCDEF"));
        let refused = |r: Out| {
            assert!(matches!(r, Err(Error::KeyFunctionNotPermitted(_))), "{r:?}");
        };
        refused(run_on(
            extract_key_from_key,
            Param::Ulong(8),
            &k,
            false,
            Some(1),
        ));
        refused(run_on(concatenate_base_and_data, d(), &k, false, Some(2)));
        refused(run_on(concatenate_data_and_base, d(), &k, false, Some(6)));
        refused(run_on(xor_base_and_data, d(), &k, false, Some(3)));
        refused(run_on(
            xor_base_and_data,
            Param::Bytes(h("ff")),
            &k,
            false,
            None,
        ));
        // Whole copies, and the same cuts of an extractable key, are made.
        assert_eq!(
            *run_on(extract_key_from_key, Param::Ulong(8), &k, false, Some(4)).unwrap(),
            h("23456701")
        );
        assert_eq!(
            *run_on(concatenate_data_and_base, d(), &k, false, None).unwrap(),
            h("89ABCDEF01234567")
        );
        assert_eq!(
            *run_on(xor_base_and_data, d(), &k, false, None).unwrap(),
            h("88888888")
        );
        assert_eq!(
            *run_on(extract_key_from_key, Param::Ulong(8), &k, true, Some(1)).unwrap(),
            h("23")
        );
    }

    #[test]
    fn extract_matches_the_standards_example() {
        // §2.43.x: 0x329F84A9 from bit 21, two bytes: 0x9526.
        let got = run(
            extract_key_from_key,
            Param::Ulong(21),
            &h("329F84A9"),
            CKK_GENERIC_SECRET,
            Some(2),
        )
        .unwrap();
        assert_eq!(*got, h("9526"));
        // Wraps around; the index counts modulo the key's bits.
        let got = run(
            extract_key_from_key,
            Param::Ulong(21 + 32 * 5),
            &h("329F84A9"),
            CKK_GENERIC_SECRET,
            Some(4),
        )
        .unwrap();
        assert_eq!(*got, h("9526 53f0"));
        for len in [None, Some(5), Some(0)] {
            assert!(run(
                extract_key_from_key,
                Param::Ulong(0),
                &h("329F84A9"),
                CKK_GENERIC_SECRET,
                len
            )
            .is_err());
        }
    }

    #[test]
    fn concatenate_xor_and_lengths() {
        let d = Param::Bytes(h("89ABCDEF"));
        let k = h("01234567");
        let g = CKK_GENERIC_SECRET;
        let f = concatenate_base_and_data;
        assert_eq!(
            *run(f, d.clone(), &k, g, None).unwrap(),
            h("0123456789ABCDEF")
        );
        assert_eq!(*run(f, d.clone(), &k, g, Some(5)).unwrap(), h("0123456789"));
        let f = concatenate_data_and_base;
        assert_eq!(
            *run(f, d.clone(), &k, g, None).unwrap(),
            h("89ABCDEF01234567")
        );
        assert_eq!(
            run(f, d.clone(), &k, g, Some(9)).unwrap_err(),
            Error::AttributeValueInvalid(CKA_VALUE_LEN)
        );
        let f = xor_base_and_data;
        assert_eq!(
            *run(f, Param::Bytes(h("ff00")), &k, g, None).unwrap(),
            h("fe23")
        );
        assert_eq!(*run(f, d.clone(), &k, g, Some(1)).unwrap(), h("88"));
        assert!(run(f, d, &k, g, Some(5)).is_err());
    }

    #[test]
    fn aes_encrypt_data() {
        // FIPS 197 C.1-C.3: one block under AES-128, -192, -256.
        let pt = h("00112233445566778899aabbccddeeff");
        let cases = [
            (
                "000102030405060708090a0b0c0d0e0f",
                "69c4e0d86a7b0430d8cdb78070b4c55a",
            ),
            (
                "000102030405060708090a0b0c0d0e0f1011121314151617",
                "dda97ca4864cdfe06eaf70a0ec0d7191",
            ),
            (
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "8ea2b7ca516745bfeafc49904b496089",
            ),
        ];
        for (key, ct) in &cases {
            let got = run(
                aes_ecb_encrypt_data,
                Param::Bytes(pt.clone()),
                &h(key),
                CKK_AES,
                None,
            )
            .unwrap();
            assert_eq!(*got, h(ct));
        }
        // CBC with a zero IV equals ECB on the first block.
        let p = Param::AesCbcEncryptData {
            iv: [0; 16],
            data: pt.clone(),
        };
        let got = run(aes_cbc_encrypt_data, p, &h(cases[1].0), CKK_AES, Some(8)).unwrap();
        assert_eq!(*got, h(&cases[1].1[..16]));
        // Not whole blocks; more than the data gives.
        let k = h(cases[0].0);
        assert_eq!(
            run(
                aes_ecb_encrypt_data,
                Param::Bytes(vec![0; 15]),
                &k,
                CKK_AES,
                None
            )
            .unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            run(
                aes_ecb_encrypt_data,
                Param::Bytes(pt),
                &k,
                CKK_AES,
                Some(17)
            )
            .unwrap_err(),
            Error::DataLenRange
        );
    }
}
