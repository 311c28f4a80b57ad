//! AES mechanisms (PKCS#11 3.0 current mechanisms §2.12–2.16 and the
//! message-based functions of the base spec §5.9 and §5.11).
//!
//! | mechanism | parameter | input rules |
//! | --- | --- | --- |
//! | `CKM_AES_KEY_GEN` | none | `CKA_VALUE_LEN` 16, 24 or 32 (else `CKR_ATTRIBUTE_VALUE_INVALID`) |
//! | `CKM_AES_ECB`, `CKM_AES_CBC` | none / 16-byte IV | multiple of 16: `CKR_DATA_LEN_RANGE` on encryption, `CKR_ENCRYPTED_DATA_LEN_RANGE` on decryption |
//! | `CKM_AES_CBC_PAD` | 16-byte IV | PKCS#7 padding; bad padding is `CKR_ENCRYPTED_DATA_INVALID` |
//! | `CKM_AES_CTR` | `CK_AES_CTR_PARAMS`, 1..=128 counter bits | the counter never wraps: `CKR_DATA_LEN_RANGE` |
//! | `CKM_AES_GCM` | `CK_GCM_PARAMS`: IV ≥ 1 byte, tag 32..=128 bits in steps of 8 | a bad tag is `CKR_ENCRYPTED_DATA_INVALID` |
//! | `CKM_AES_KEY_WRAP` | optional 8-byte IV | SP 800-38F KW (RFC 3394) |
//! | `CKM_AES_KEY_WRAP_KWP` | optional 4-byte IV | SP 800-38F KWP (RFC 5649) |
//!
//! Error codes for a failed GCM tag: `C_Decrypt` returns
//! `CKR_ENCRYPTED_DATA_INVALID` (the code the 3.0 `C_Decrypt` description names
//! for bad ciphertext, and what SoftHSMv2, OpenSC and opencryptoki clients
//! expect); the message-based `C_DecryptMessage*` functions, for which 3.0
//! introduced it, return `CKR_AEAD_DECRYPT_FAILED`. Multi-part GCM decryption
//! buffers the ciphertext and releases plaintext only from `C_DecryptFinal`,
//! after the tag has been checked.
//!
//! Wrapping: ECB and CBC pad the key value with zeros to a multiple of 16 (the
//! standard's rule); on unwrap they return the padded value, which the object
//! layer truncates to `CKA_VALUE_LEN` or the key type's size. KW needs a key
//! value that is a multiple of 8 bytes and at least 16 (`CKR_KEY_SIZE_RANGE`).
//!
//! An AES key object's expanded key schedule (and GHASH key) is cached in the
//! object's `parsed()` slot as a [`GcmKey`], so no operation re-expands it.
//!
//! One file per mode: `ecb_cbc` (ECB, CBC, CBC_PAD: AES under the block modes
//! of `mechanism::block`, which Triple-DES shares), `ctr`, `gcm` and `message`
//! (message-based GCM), `wrap` (KW, KWP); AES-CMAC is with the other MACs in
//! `mechanism::mac`. This file holds what the modes share: the key, the
//! dispatch, wrapping and unwrapping through any mode, key generation and the
//! registry rows.

mod ctr;
mod ecb_cbc;
mod gcm;
mod message;
mod wrap;

use crate::crypto::aes::{GcmKey, BLOCK};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::mechanism::block::{self, BlockMode};
use crate::mechanism::digest::{no_param, NO_FUNCTIONS};
use crate::mechanism::mac::template_value_len;
use crate::mechanism::{CipherOp, Functions, Generated, Mechanism, MechanismDef, ParamKind};
use crate::object::attr::{Attribute, Template};
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The expanded key of a granted AES key; `size_err` when its value is not
/// 16, 24 or 32 bytes long.
pub(crate) fn aes_key(key: &Granted, size_err: Error) -> Result<Arc<GcmKey>> {
    if !matches!(key.secret()?.len(), 16 | 24 | 32) {
        return Err(size_err);
    }
    key.parsed(|v| GcmKey::from_bytes(v).ok_or(Error::KeySizeRange))
}

/// The most input a multi-part operation holds back until its end (GCM and
/// message-based GCM decryption, which release nothing before the tag is
/// checked; key wrap, which works on the whole input): 1 GiB. More is refused
/// with `too_long` rather than grown without bound.
const MAX_BUFFERED: usize = 1 << 30;

/// Appends `input` to a held-back buffer within [`MAX_BUFFERED`], without
/// aborting when memory runs out (`CKR_HOST_MEMORY`).
fn hold_back(buf: &mut Zeroizing<Vec<u8>>, input: &[u8], too_long: Error) -> Result<()> {
    let total = buf.len().saturating_add(input.len());
    if total > MAX_BUFFERED {
        return Err(too_long);
    }
    if total > buf.capacity() {
        // Grow into a new buffer so that the old one is wiped when dropped,
        // never left behind by a reallocation.
        let mut grown = Zeroizing::new(Vec::new());
        grown
            .try_reserve_exact(
                total
                    .max(buf.capacity().saturating_mul(2))
                    .min(MAX_BUFFERED),
            )
            .map_err(|_| Error::HostMemory)?;
        grown.extend_from_slice(buf);
        *buf = grown;
    }
    buf.extend_from_slice(input);
    Ok(())
}

/// Builds the cipher operation for `mech` under `key`.
fn cipher(mech: &Mechanism, key: Arc<GcmKey>, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    Ok(match mech.mech {
        CKM_AES_ECB => {
            no_param(mech)?;
            block::op(key, BlockMode::Ecb, encrypt, [0; BLOCK])
        }
        CKM_AES_CBC => block::op(key, BlockMode::Cbc, encrypt, block::iv(mech)?),
        CKM_AES_CBC_PAD => block::op(key, BlockMode::CbcPad, encrypt, block::iv(mech)?),
        CKM_AES_CTR => ctr::op(mech, key)?,
        CKM_AES_GCM => gcm::op(mech, key, encrypt)?,
        CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP => wrap::op(mech, key, encrypt)?,
        _ => return Err(Error::MechanismInvalid),
    })
}

fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    cipher(mech, aes_key(key, Error::KeySizeRange)?, true)
}

fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    cipher(mech, aes_key(key, Error::KeySizeRange)?, false)
}

fn wrap(mech: &Mechanism, wrapping_key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = aes_key(wrapping_key, Error::WrappingKeySizeRange)?;
    let mut op = cipher(mech, key, true)?;
    let zero_pad = matches!(mech.mech, CKM_AES_ECB | CKM_AES_CBC);
    block::wrap_with(op.as_mut(), zero_pad, BLOCK, key_bytes)
}

fn unwrap(
    mech: &Mechanism,
    unwrapping_key: &Granted,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = aes_key(unwrapping_key, Error::UnwrappingKeySizeRange)?;
    let mut op = cipher(mech, key, false)?;
    block::unwrap_with(op.as_mut(), wrapped)
}

fn aes_key_gen(mech: &Mechanism, template: &Template) -> Result<Generated> {
    no_param(mech)?;
    let len = template_value_len(template)?;
    if !matches!(len, 16 | 24 | 32) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let value =
        crate::crypto::random_vec(len).map_err(|e| Error::General(format!("random: {e}")))?;
    Ok(vec![
        Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_AES),
        Attribute::new(CKA_VALUE, value.to_vec()),
    ])
}

const AES_KEYS: &[CK_KEY_TYPE] = &[CKK_AES];

const KEY_GEN: Functions = Functions {
    generate_key: Some(aes_key_gen),
    ..NO_FUNCTIONS
};

const CIPHER: Functions = Functions {
    encrypt: Some(encrypt_init),
    decrypt: Some(decrypt_init),
    ..NO_FUNCTIONS
};

const CIPHER_WRAP: Functions = Functions {
    wrap: Some(wrap),
    unwrap: Some(unwrap),
    ..CIPHER
};

const GCM: Functions = Functions {
    message_encrypt: Some(message::encrypt_init),
    message_decrypt: Some(message::decrypt_init),
    ..CIPHER_WRAP
};

/// The mechanisms of this family. Authenticated: GCM, KW and KWP. The caller
/// chooses the IV (or the bare block cipher): ECB, CBC, CBC_PAD, CTR, GCM.
#[rustfmt::skip]
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", ParamKind::None, KEY_GEN).sizes(16, 32),
    MechanismDef::new(CKM_AES_ECB, "CKM_AES_ECB", ParamKind::None, CIPHER_WRAP).keys(AES_KEYS, 16, 32).caller_iv(),
    MechanismDef::new(CKM_AES_CBC, "CKM_AES_CBC", ParamKind::Bytes, CIPHER_WRAP).keys(AES_KEYS, 16, 32).caller_iv(),
    MechanismDef::new(CKM_AES_CBC_PAD, "CKM_AES_CBC_PAD", ParamKind::Bytes, CIPHER_WRAP).keys(AES_KEYS, 16, 32).caller_iv(),
    MechanismDef::new(CKM_AES_CTR, "CKM_AES_CTR", ParamKind::Ctr, CIPHER).keys(AES_KEYS, 16, 32).caller_iv(),
    MechanismDef::new(CKM_AES_GCM, "CKM_AES_GCM", ParamKind::Gcm, GCM).keys(AES_KEYS, 16, 32).authenticated().caller_iv(),
    MechanismDef::new(CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP", ParamKind::OptionalBytes, CIPHER_WRAP).keys(AES_KEYS, 16, 32).authenticated(),
    MechanismDef::new(CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP", ParamKind::OptionalBytes, CIPHER_WRAP).keys(AES_KEYS, 16, 32).authenticated(),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
