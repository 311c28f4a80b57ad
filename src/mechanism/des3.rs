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
use crate::mechanism::digest::{no_param, NO_FUNCTIONS};
use crate::mechanism::{CipherOp, Functions, Generated, Mechanism, MechanismDef, Param, ParamKind};
use crate::object::attr::{Attribute, Template};
use crate::outbuf::OutBuf;
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

/// The 8-byte IV of CBC and CBC_PAD.
fn iv8(mech: &Mechanism) -> Result<[u8; DES_BLOCK]> {
    match &mech.param {
        Param::Bytes(iv) => iv
            .as_slice()
            .try_into()
            .map_err(|_| Error::MechanismParamInvalid),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Appends PKCS#7 padding to a multiple of 8 bytes.
fn pad(data: &mut Zeroizing<Vec<u8>>) {
    let n = DES_BLOCK - data.len() % DES_BLOCK;
    let total = data.len() + n;
    data.resize(total, u8::try_from(n).unwrap_or(0));
}

/// The length of `block` (the last decrypted block) without its padding.
fn unpad_len(block: &[u8]) -> Result<usize> {
    let last = *block.last().ok_or(Error::EncryptedDataInvalid)?;
    let n = usize::from(last);
    if n == 0 || n > DES_BLOCK || n > block.len() {
        return Err(Error::EncryptedDataInvalid);
    }
    let bad = block[block.len() - n..]
        .iter()
        .fold(0u8, |acc, b| acc | (b ^ last));
    if bad != 0 {
        return Err(Error::EncryptedDataInvalid);
    }
    Ok(block.len() - n)
}

/// Which of the three modes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ecb,
    Cbc,
    CbcPad,
}

/// ECB, CBC and CBC_PAD, both directions, single and multi-part.
struct Des3Op {
    key: Arc<TdesKey>,
    mode: Mode,
    encrypt: bool,
    iv: [u8; DES_BLOCK],
    /// Input not yet released (less than a block, or the last block of a
    /// CBC_PAD decryption, which carries the padding).
    buf: Zeroizing<Vec<u8>>,
}

impl Des3Op {
    fn len_err(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// Processes whole blocks in place, chaining through `iv`.
    fn process(&self, iv: &mut [u8; DES_BLOCK], data: &mut [u8]) {
        match (self.mode, self.encrypt) {
            (Mode::Ecb, true) => self.key.encrypt_blocks(data),
            (Mode::Ecb, false) => self.key.decrypt_blocks(data),
            (_, true) => self.key.cbc_encrypt(iv, data),
            (_, false) => self.key.cbc_decrypt(iv, data),
        }
    }

    /// Bytes an update may release when `total` bytes are pending.
    fn releasable(&self, total: usize) -> usize {
        if self.mode == Mode::CbcPad && !self.encrypt {
            total.saturating_sub(1) / DES_BLOCK * DES_BLOCK
        } else {
            total / DES_BLOCK * DES_BLOCK
        }
    }
}

impl CipherOp for Des3Op {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let mut iv = self.iv;
        match (self.mode, self.encrypt) {
            (Mode::CbcPad, true) => {
                let n = (input.len() / DES_BLOCK + 1) * DES_BLOCK;
                if let Some(dst) = out.reserve(n)? {
                    let mut tmp = Zeroizing::new(input.to_vec());
                    pad(&mut tmp);
                    dst.copy_from_slice(&tmp);
                    self.process(&mut iv, dst);
                }
                Ok(())
            }
            (Mode::CbcPad, false) => {
                if input.is_empty() || !input.len().is_multiple_of(DES_BLOCK) {
                    return Err(Error::EncryptedDataLenRange);
                }
                if out.is_query() {
                    // An upper bound; the real call reports the exact length.
                    out.reserve(input.len())?;
                    return Ok(());
                }
                let mut tmp = Zeroizing::new(input.to_vec());
                self.process(&mut iv, &mut tmp);
                let n = unpad_len(&tmp)?;
                out.write(&tmp[..n])?;
                Ok(())
            }
            _ => {
                if !input.len().is_multiple_of(DES_BLOCK) {
                    return Err(self.len_err());
                }
                if let Some(dst) = out.reserve(input.len())? {
                    dst.copy_from_slice(input);
                    self.process(&mut iv, dst);
                }
                Ok(())
            }
        }
    }

    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        let total = self
            .buf
            .len()
            .checked_add(input.len())
            .ok_or(Error::DataLenRange)?;
        let n = self.releasable(total);
        let Some(dst) = out.reserve(n)? else {
            return Ok(());
        };
        let from_buf = self.buf.len().min(n);
        dst[..from_buf].copy_from_slice(&self.buf[..from_buf]);
        dst[from_buf..].copy_from_slice(&input[..n - from_buf]);
        let mut iv = self.iv;
        self.process(&mut iv, dst);
        self.iv = iv;
        let mut rest = Zeroizing::new(Vec::with_capacity(total - n));
        rest.extend_from_slice(&self.buf[from_buf..]);
        rest.extend_from_slice(&input[n - from_buf..]);
        self.buf = rest;
        Ok(())
    }

    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        let mut iv = self.iv;
        match (self.mode, self.encrypt) {
            (Mode::CbcPad, true) => {
                if let Some(dst) = out.reserve(DES_BLOCK)? {
                    let mut tmp = self.buf.clone();
                    pad(&mut tmp);
                    dst.copy_from_slice(&tmp);
                    self.process(&mut iv, dst);
                }
                Ok(())
            }
            (Mode::CbcPad, false) => {
                if self.buf.len() != DES_BLOCK {
                    return Err(Error::EncryptedDataLenRange);
                }
                let mut tmp = self.buf.clone();
                self.process(&mut iv, &mut tmp);
                let n = unpad_len(&tmp)?;
                out.write(&tmp[..n])?;
                Ok(())
            }
            _ => {
                if !self.buf.is_empty() {
                    return Err(self.len_err());
                }
                out.reserve(0)?;
                Ok(())
            }
        }
    }
}

/// Builds the cipher operation for `mech` under `key`.
fn cipher(mech: &Mechanism, key: Arc<TdesKey>, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    let (mode, iv) = match mech.mech {
        CKM_DES3_ECB => {
            no_param(mech)?;
            (Mode::Ecb, [0; DES_BLOCK])
        }
        CKM_DES3_CBC => (Mode::Cbc, iv8(mech)?),
        CKM_DES3_CBC_PAD => (Mode::CbcPad, iv8(mech)?),
        _ => return Err(Error::MechanismInvalid),
    };
    Ok(Box::new(Des3Op {
        key,
        mode,
        encrypt,
        iv,
        buf: Zeroizing::new(Vec::new()),
    }))
}

fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    cipher(mech, tdes_key(key, Error::KeySizeRange)?, true)
}

fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    cipher(mech, tdes_key(key, Error::KeySizeRange)?, false)
}

/// Runs a single-part operation into a fresh buffer.
fn run_to_vec(op: &mut dyn CipherOp, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut q = OutBuf::query();
    op.one_shot(input, &mut q)?;
    let mut v = Zeroizing::new(vec![0u8; q.len()]);
    let mut o = OutBuf::new(Some(&mut v));
    op.one_shot(input, &mut o)?;
    let n = o.len();
    v.truncate(n);
    Ok(v)
}

fn wrap(mech: &Mechanism, wrapping_key: &Granted, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let key = tdes_key(wrapping_key, Error::WrappingKeySizeRange)?;
    let mut op = cipher(mech, key, true)?;
    let mut input = Zeroizing::new(key_bytes.to_vec());
    if matches!(mech.mech, CKM_DES3_ECB | CKM_DES3_CBC) {
        // Zero padding to the block size, as the standard says for these modes.
        let n = input.len().div_ceil(DES_BLOCK) * DES_BLOCK;
        input.resize(n, 0);
    }
    if input.is_empty() {
        return Err(Error::KeySizeRange);
    }
    let out = run_to_vec(op.as_mut(), &input).map_err(|e| match e {
        Error::DataLenRange => Error::KeySizeRange,
        e => e,
    })?;
    Ok(out.to_vec())
}

fn unwrap(
    mech: &Mechanism,
    unwrapping_key: &Granted,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = tdes_key(unwrapping_key, Error::UnwrappingKeySizeRange)?;
    let mut op = cipher(mech, key, false)?;
    if wrapped.is_empty() {
        return Err(Error::WrappedKeyLenRange);
    }
    run_to_vec(op.as_mut(), wrapped).map_err(|e| match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        e => e,
    })
}

/// `CKM_DES3_KEY_GEN`: 24 random bytes with odd parity in every byte.
fn key_gen(mech: &Mechanism, _template: &Template) -> Result<Generated> {
    no_param(mech)?;
    let mut value = crate::crypto::random_vec(TDES_KEY_LEN)
        .map_err(|e| Error::General(format!("random: {e}")))?;
    set_odd_parity(&mut value);
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

    #[test]
    fn padding() {
        let mut d = Zeroizing::new(b"abc".to_vec());
        pad(&mut d);
        assert_eq!(d.as_slice(), b"abc\x05\x05\x05\x05\x05");
        assert_eq!(unpad_len(&d).unwrap(), 3);
        let mut e = Zeroizing::new(vec![1u8; 8]);
        pad(&mut e);
        assert_eq!(e.len(), 16);
        assert_eq!(unpad_len(&e[8..]).unwrap(), 0);
        assert_eq!(
            unpad_len(&[1, 2, 3, 4, 5, 6, 7, 0]),
            Err(Error::EncryptedDataInvalid)
        );
        assert_eq!(
            unpad_len(&[1, 2, 3, 4, 5, 6, 7, 9]),
            Err(Error::EncryptedDataInvalid)
        );
        assert_eq!(
            unpad_len(&[1, 2, 3, 4, 5, 6, 3, 2]),
            Err(Error::EncryptedDataInvalid)
        );
    }

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
