//! Triple-DES (PKCS#11 3.0 current mechanisms, "Triple-DES" and "General
//! block cipher" sections), offered only with `legacy_mechanisms = true` in
//! the configuration: every row here is marked legacy, so without the option
//! the registry hides them (`C_GetMechanismList` leaves them out,
//! `C_GetMechanismInfo` and every `Init` answer `CKR_MECHANISM_INVALID`) and
//! the module refuses `CKK_DES3` objects.
//!
//! | mechanism | parameter | input rules |
//! | --- | --- | --- |
//! | `CKM_DES3_KEY_GEN` | none | a 24-byte `CKA_VALUE` with odd parity in every byte |
//! | `CKM_DES3_ECB`, `CKM_DES3_CBC` | none / 8-byte IV | multiple of 8: `CKR_DATA_LEN_RANGE` on encryption, `CKR_ENCRYPTED_DATA_LEN_RANGE` on decryption |
//! | `CKM_DES3_CBC_PAD` | 8-byte IV | PKCS#7 padding to 8 bytes; bad padding is `CKR_ENCRYPTED_DATA_INVALID` |
//!
//! All three modes encrypt, decrypt (single and multi-part), wrap and unwrap,
//! as the standard's mechanism table flags them. Wrapping with ECB and CBC
//! pads the key value with zeros to a multiple of 8 (the standard's rule for
//! the block-cipher wrap mechanisms); the object layer truncates an unwrapped
//! value to `CKA_VALUE_LEN` or the key type's size.
//!
//! Parity: the standard asks that DES3 keys always have their parity bits
//! set (FIPS 46-3) and that creating or unwrapping one with wrong parity
//! fails; key generation sets them, and the object rules refuse a `CKA_VALUE`
//! with a wrong parity bit (`CKR_ATTRIBUTE_VALUE_INVALID`).
//!
//! The block cipher is the RustCrypto `des` crate in both builds
//! (`crate::crypto::des`).

use crate::crypto::des::{set_odd_parity, TdesKey, DES_BLOCK, TDES_KEY_LEN};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::block::{self, BlockCipher, BlockMode};
use crate::mechanism::digest::{no_param, NO_FUNCTIONS};
use crate::mechanism::{CipherOp, Functions, Generated, Mechanism, MechanismDef, ParamKind};
use crate::object::attr::{Attribute, Template};
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The expanded key of a granted DES3 key; `size_err` when its value is not
/// 24 bytes long.
fn tdes_key(key: &Granted, size_err: Error) -> Result<Arc<TdesKey>> {
    if key.secret()?.len() != TDES_KEY_LEN {
        return Err(size_err);
    }
    key.parsed(|v| TdesKey::from_bytes(v).ok_or(Error::KeySizeRange))
}

impl BlockCipher<DES_BLOCK> for TdesKey {
    fn encrypt_blocks(&self, data: &mut [u8]) {
        TdesKey::encrypt_blocks(self, data);
    }
    fn decrypt_blocks(&self, data: &mut [u8]) {
        TdesKey::decrypt_blocks(self, data);
    }
    fn cbc_encrypt(&self, iv: &mut [u8; DES_BLOCK], data: &mut [u8]) {
        TdesKey::cbc_encrypt(self, iv, data);
    }
    fn cbc_decrypt(&self, iv: &mut [u8; DES_BLOCK], data: &mut [u8]) {
        TdesKey::cbc_decrypt(self, iv, data);
    }
}

/// Builds the cipher operation for `mech` under `key`.
fn cipher(mech: &Mechanism, key: Arc<TdesKey>, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    let (mode, iv) = match mech.mech {
        CKM_DES3_ECB => {
            no_param(mech)?;
            (BlockMode::Ecb, [0; DES_BLOCK])
        }
        CKM_DES3_CBC => (BlockMode::Cbc, block::iv(mech)?),
        CKM_DES3_CBC_PAD => (BlockMode::CbcPad, block::iv(mech)?),
        _ => return Err(Error::MechanismInvalid),
    };
    Ok(block::op(key, mode, encrypt, iv))
}

fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    cipher(mech, tdes_key(key, Error::KeySizeRange)?, true)
}

fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    cipher(mech, tdes_key(key, Error::KeySizeRange)?, false)
}

fn wrap(mech: &Mechanism, wrapping_key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = tdes_key(wrapping_key, Error::WrappingKeySizeRange)?;
    let mut op = cipher(mech, key, true)?;
    let zero_pad = matches!(mech.mech, CKM_DES3_ECB | CKM_DES3_CBC);
    block::wrap_with(op.as_mut(), zero_pad, DES_BLOCK, key_bytes)
}

fn unwrap(
    mech: &Mechanism,
    unwrapping_key: &Granted,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = tdes_key(unwrapping_key, Error::UnwrappingKeySizeRange)?;
    let mut op = cipher(mech, key, false)?;
    block::unwrap_with(op.as_mut(), wrapped)
}

/// `CKM_DES3_KEY_GEN`: 24 random bytes with odd parity in every byte.
fn key_gen(mech: &Mechanism, _template: &Template) -> Result<Generated> {
    no_param(mech)?;
    // Three distinct keys (equal neighbours would be single DES; the object
    // rules refuse them): drawn again in the 2^-55 case.
    let value = loop {
        let mut v = crate::crypto::random_vec(TDES_KEY_LEN)
            .map_err(|e| Error::General(format!("random: {e}")))?;
        set_odd_parity(&mut v);
        if v[..8] != v[8..16] && v[8..16] != v[16..] {
            break v;
        }
    };
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_DES3),
        Attribute::new(CKA_VALUE, value.to_vec()),
    ])
}

const DES3_KEYS: &[CK_KEY_TYPE] = &[CKK_DES3];

const KEY_GEN: Functions = Functions {
    generate_key: Some(key_gen),
    ..NO_FUNCTIONS
};

const CIPHER_WRAP: Functions = Functions {
    encrypt: Some(encrypt_init),
    decrypt: Some(decrypt_init),
    wrap: Some(wrap),
    unwrap: Some(unwrap),
    ..NO_FUNCTIONS
};

/// The mechanisms of this family, all legacy. Key sizes in bytes (24, parity
/// bits included), as SoftHSMv2 reports them. The caller chooses the IV (or
/// the bare block cipher) in every mode.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_DES3_KEY_GEN, "CKM_DES3_KEY_GEN", ParamKind::None, KEY_GEN).sizes(24, 24).legacy(),
    MechanismDef::new(CKM_DES3_ECB, "CKM_DES3_ECB", ParamKind::None, CIPHER_WRAP).keys(DES3_KEYS, 24, 24).caller_iv().legacy(),
    MechanismDef::new(CKM_DES3_CBC, "CKM_DES3_CBC", ParamKind::Bytes, CIPHER_WRAP).keys(DES3_KEYS, 24, 24).caller_iv().legacy(),
    MechanismDef::new(CKM_DES3_CBC_PAD, "CKM_DES3_CBC_PAD", ParamKind::Bytes, CIPHER_WRAP).keys(DES3_KEYS, 24, 24).caller_iv().legacy(),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mechanism::Param;

    #[test]
    fn rows_are_legacy() {
        assert!(MECHANISMS.iter().all(|d| d.legacy));
        let flags = |m| MECHANISMS.iter().find(|d| d.mech == m).unwrap().flags();
        for m in [CKM_DES3_ECB, CKM_DES3_CBC, CKM_DES3_CBC_PAD] {
            assert_eq!(flags(m), CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP);
        }
        assert_eq!(flags(CKM_DES3_KEY_GEN), CKF_GENERATE);
    }

    #[test]
    fn generated_keys_have_parity() {
        let m = Mechanism {
            mech: CKM_DES3_KEY_GEN,
            param: Param::None,
        };
        let g = key_gen(&m, &vec![]).unwrap();
        let v = &g.iter().find(|a| a.ty == CKA_VALUE).unwrap().value;
        assert_eq!(v.len(), 24);
        assert!(crate::crypto::des::has_odd_parity(v));
    }
}
