//! The SoftKMS mechanisms (`docs/vendor-abi.md`): envelope encryption of data
//! (`C_Encrypt*`/`C_Decrypt*`) and of keys (`C_WrapKey`/`C_UnwrapKey`) under a
//! managed key's current version, and `C_DeriveKey` that makes a data key and
//! returns it wrapped. The message format is `kms::envelope`.

use crate::abi::{CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY};
use crate::error::{Error, Result};
use crate::gate::Granted;
use crate::kms::envelope::{
    self, DataKey, Decryptor, Encryptor, Header, DEFAULT_FRAME_SIZE, DEK_LEN,
};
use crate::mechanism::digest::NO_FUNCTIONS;
use crate::mechanism::{CipherOp, Functions, KeyLookup, Mechanism, MechanismDef, Param, ParamKind};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Longest data key `CKM_SOFTKMS_GENERATE_DATA_KEY` makes (bytes), as AWS KMS.
pub(crate) const MAX_DATA_KEY: usize = 1024;

/// The mechanisms of this family.
pub(crate) static MECHANISMS: &[MechanismDef] = &[
    MechanismDef::new(
        CKM_SOFTKMS_ENVELOPE,
        "CKM_SOFTKMS_ENVELOPE",
        ParamKind::Envelope,
        Functions {
            encrypt: Some(encrypt),
            decrypt: Some(decrypt),
            wrap: Some(wrap),
            unwrap: Some(unwrap),
            ..NO_FUNCTIONS
        },
    )
    .keys(&[CKK_AES], 32, 32),
    MechanismDef::new(
        CKM_SOFTKMS_GENERATE_DATA_KEY,
        "CKM_SOFTKMS_GENERATE_DATA_KEY",
        ParamKind::GenerateDataKey,
        Functions {
            derive: Some(generate_data_key),
            ..NO_FUNCTIONS
        },
    )
    .keys(&[CKK_AES], 32, 32),
];

/// The current version's material of a master key: 32 bytes (AES-256).
fn master(key: &Granted) -> Result<[u8; 32]> {
    key.secret()
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or(Error::KeySizeRange)
}

/// A fresh data key.
fn fresh_dek() -> Result<DataKey> {
    let mut dek: DataKey = Zeroizing::new([0u8; DEK_LEN]);
    crate::crypto::random(&mut dek[..]).map_err(|_| Error::FunctionFailed)?;
    Ok(dek)
}

/// An encryptor for one message under the key's current version.
fn encryptor(mech: &Mechanism, key: &Granted) -> Result<Encryptor> {
    let mut m = Zeroizing::new(master(key)?);
    let version = key.current_version();
    let dek = fresh_dek()?;
    let ctx = mech.param.context();
    let wrapped = envelope::wrap_data_key(&m, key.key_id(), version, ctx, &dek)?;
    m.fill(0);
    Encryptor::new(
        key.key_id(),
        version,
        &dek,
        wrapped,
        ctx,
        DEFAULT_FRAME_SIZE,
    )
}

/// A decryptor that finds the data key under whichever version of `key` the
/// message names (only versions the gate let this use take).
fn decryptor(mech: &Mechanism, key: &Granted) -> Result<Decryptor> {
    let key = key.clone();
    let ctx = mech.param.context().to_vec();
    let source = move |h: &Header| -> Result<DataKey> {
        if h.key_id != key.key_id() {
            log::info!("envelope names key {:?}, not this key", h.key_id);
            return Err(Error::EncryptedDataInvalid);
        }
        match key.version(h.key_version) {
            Some(v) => {
                let m = master(&v).map_err(|_| Error::EncryptedDataInvalid)?;
                let m = Zeroizing::new(m);
                envelope::unwrap_data_key(&m, &h.key_id, h.key_version, &ctx, &h.wrapped_dek)
            }
            None if h.key_version >= 1 && h.key_version <= key.current_version() => {
                Err(Error::KeyFunctionNotPermitted(format!(
                    "version {} of the key is retired",
                    h.key_version
                )))
            }
            None => Err(Error::EncryptedDataInvalid),
        }
    };
    Ok(Decryptor::new(mech.param.context(), Box::new(source)))
}

struct Encrypt(Encryptor);

impl CipherOp for Encrypt {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        self.0.one_shot(input, out)
    }
    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        self.0.update(input, out)
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        self.0.finish(out)
    }
}

struct Decrypt(Decryptor);

impl CipherOp for Decrypt {
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        self.0.one_shot(input, out)
    }
    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()> {
        self.0.update(input, out)
    }
    fn finish(&mut self, out: &mut OutBuf) -> Result<()> {
        self.0.finish(out)
    }
}

fn encrypt(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    Ok(Box::new(Encrypt(encryptor(mech, key)?)))
}

fn decrypt(mech: &Mechanism, key: &Granted) -> Result<Box<dyn CipherOp>> {
    Ok(Box::new(Decrypt(decryptor(mech, key)?)))
}

/// Runs a one-shot operation into a new buffer.
fn collect(mut f: impl FnMut(&mut OutBuf) -> Result<()>) -> Result<Zeroizing<Vec<u8>>> {
    let mut q = OutBuf::query();
    f(&mut q)?;
    let mut out = Zeroizing::new(vec![0u8; q.len()]);
    let n = {
        let mut o = OutBuf::new(Some(&mut out[..]));
        f(&mut o)?;
        o.len()
    };
    out.truncate(n);
    Ok(out)
}

fn wrap(mech: &Mechanism, key: &Granted, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut e = encryptor(mech, key)?;
    collect(|o| e.one_shot(bytes, o)).map(|v| v.to_vec())
}

fn unwrap(mech: &Mechanism, key: &Granted, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut d = decryptor(mech, key)?;
    collect(|o| d.one_shot(wrapped, o)).map_err(|e| match e {
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        other => other,
    })
}

/// `C_DeriveKey` with `CKM_SOFTKMS_GENERATE_DATA_KEY`: a random data key of the
/// template's length (32 bytes by default) becomes the new object, and its
/// envelope-encrypted form goes to the parameter's output. When the caller's
/// buffer is missing or too small nothing is made: `CKR_BUFFER_TOO_SMALL` with
/// the needed length in `ulWrappedKeyLen`.
fn generate_data_key(
    mech: &mut Mechanism,
    base: &Granted,
    value_len: Option<usize>,
    _keys: &dyn KeyLookup,
) -> Result<Zeroizing<Vec<u8>>> {
    let len = value_len.unwrap_or(32);
    if len == 0 || len > MAX_DATA_KEY {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    let mut e = encryptor(mech, base)?;
    let mut q = OutBuf::query();
    e.one_shot(&vec![0u8; len], &mut q)?;
    let needed_len = q.len();
    let Param::GenerateDataKey {
        capacity,
        wrapped,
        needed,
        ..
    } = &mut mech.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    *needed = needed_len;
    if capacity.is_none_or(|c| c < needed_len) {
        return Err(Error::BufferTooSmall);
    }
    let data_key = crate::crypto::random_vec(len).map_err(|_| Error::FunctionFailed)?;
    *wrapped = collect(|o| e.one_shot(&data_key, o))?.to_vec();
    Ok(data_key)
}
