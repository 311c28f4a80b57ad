//! Message-based AES-GCM (`C_MessageEncryptInit` … base spec §5.9 and §5.11).

use super::gcm::{gcm_fits, gcm_open, tag_len};
use super::{aes_key, hold_back};
use crate::crypto::aes::{Gcm, GcmKey};
use crate::error::{Error, Result};
use crate::gate::{Granted, IvSource};
use crate::mechanism::{Mechanism, MessageOp, Param};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// A message begun with `C_*MessageBegin`.
struct Pending {
    gcm: Gcm,
    tag_len: usize,
    /// Decryption: the ciphertext so far (released at the end of the message).
    buf: Zeroizing<Vec<u8>>,
}

/// The operation: one key, any number of messages.
pub(super) struct GcmMessages {
    key: Arc<GcmKey>,
    encrypt: bool,
    /// The principal may give its own IV (`CKG_NO_GENERATE`): the key gate
    /// decided (`crate::gate`, the IV rule).
    may_choose_iv: bool,
    /// Generated counters: reserved in blocks from the key's counter, which
    /// never repeats a value across inits, sessions and processes.
    ivs: Option<Arc<dyn IvSource>>,
    /// The next counter value of the reserved block, and its end.
    block: (u64, u64),
    /// How many values the next reservation takes (doubles up to a bound).
    next_block: u64,
    pending: Option<Pending>,
}

/// The largest block of counter values one reservation takes.
const MAX_BLOCK: u64 = 4096;

/// The per-message parameter: (iv, fixed bits, generator, tag length in bytes).
fn fields(param: &Param) -> Result<(&[u8], usize, CK_ULONG, usize)> {
    match param {
        Param::GcmMessage {
            iv,
            iv_fixed_bits,
            iv_generator,
            tag_bits,
            ..
        } => {
            let fixed =
                usize::try_from(*iv_fixed_bits).map_err(|_| Error::MechanismParamInvalid)?;
            if iv.is_empty() || fixed > iv.len() * 8 {
                return Err(Error::MechanismParamInvalid);
            }
            Ok((iv, fixed, *iv_generator, tag_len(*tag_bits)?))
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}

impl GcmMessages {
    /// The next IV counter value of this key.
    fn next_counter(&mut self) -> Result<u64> {
        if self.block.0 == self.block.1 {
            let src = self.ivs.as_ref().ok_or_else(|| {
                Error::General("no IV counter for this key (token file unavailable)".into())
            })?;
            let n = self.next_block;
            let first = src.reserve(n)?;
            self.block = (first, first.checked_add(n).ok_or(Error::DataLenRange)?);
            self.next_block = (n * 2).min(MAX_BLOCK);
        }
        let c = self.block.0;
        self.block.0 += 1;
        Ok(c)
    }

    /// Checks the parameter and, for encryption, makes the IV as
    /// `iv_generator` says (writing it into `param`). Returns the tag length.
    fn prepare(&mut self, param: &mut Param, make_iv: bool) -> Result<usize> {
        let (iv, fixed, generator, tlen) = fields(param)?;
        if !self.encrypt || !make_iv {
            return Ok(tlen);
        }
        let mut iv = iv.to_vec();
        let total_bits = iv.len() * 8;
        let free_bits = total_bits - fixed;
        // Sets every bit after the fixed prefix (bit 0 is the IV's first, most
        // significant bit) from `bit(distance from the last bit)`.
        let fill = |iv: &mut [u8], bit: &dyn Fn(usize) -> bool| {
            for i in fixed..total_bits {
                let m = 0x80u8 >> (i % 8);
                if bit(total_bits - 1 - i) {
                    iv[i / 8] |= m;
                } else {
                    iv[i / 8] &= !m;
                }
            }
        };
        match generator {
            CKG_NO_GENERATE if !self.may_choose_iv => {
                return Err(Error::KeyFunctionNotPermitted(
                    "this principal may encrypt but not decrypt with this key, so it cannot \
                     choose the IV: use CKG_GENERATE_COUNTER, CKG_GENERATE or \
                     CKG_GENERATE_RANDOM"
                        .into(),
                ));
            }
            CKG_NO_GENERATE => {}
            CKG_GENERATE_RANDOM => {
                if free_bits == 0 {
                    return Err(Error::MechanismParamInvalid);
                }
                let mut r = Zeroizing::new(vec![0u8; iv.len()]);
                crate::crypto::random(&mut r)
                    .map_err(|e| Error::General(format!("random: {e}")))?;
                fill(&mut iv, &|k| r[r.len() - 1 - k / 8] & (1 << (k % 8)) != 0);
            }
            CKG_GENERATE_COUNTER | CKG_GENERATE => {
                if free_bits == 0 {
                    return Err(Error::MechanismParamInvalid);
                }
                let c = self.next_counter()?;
                if free_bits < 64 && c >> free_bits != 0 {
                    // The counter field is used up: refuse rather than repeat an IV.
                    return Err(Error::DataLenRange);
                }
                fill(&mut iv, &|k| k < 64 && (c >> k) & 1 == 1);
            }
            _ => return Err(Error::MechanismParamInvalid),
        }
        if let Param::GcmMessage { iv: out, .. } = param {
            *out = iv;
        }
        Ok(tlen)
    }
}

fn set_tag(param: &mut Param, t: &[u8]) {
    if let Param::GcmMessage { tag, .. } = param {
        *tag = t.to_vec();
    }
}

fn get_tag(param: &Param, tlen: usize) -> Result<&[u8]> {
    match param {
        Param::GcmMessage { tag, .. } if tag.len() == tlen => Ok(tag),
        _ => Err(Error::MechanismParamInvalid),
    }
}

fn iv_of(param: &Param) -> &[u8] {
    match param {
        Param::GcmMessage { iv, .. } => iv,
        _ => &[],
    }
}

impl MessageOp for GcmMessages {
    fn one_shot(
        &mut self,
        param: &mut Param,
        aad: &[u8],
        input: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        if self.pending.is_some() {
            return Err(Error::OperationActive);
        }
        let tlen = self.prepare(param, false)?;
        if !self.encrypt {
            let tag = get_tag(param, tlen)?.to_vec();
            if !gcm_fits(input.len()) {
                return Err(Error::EncryptedDataLenRange);
            }
            let iv = iv_of(param);
            return gcm_open(input.len(), out, Error::AeadDecryptFailed, |dst| {
                self.key.open(iv, aad, input, &tag, dst)
            });
        }
        if out.reserve(input.len())?.is_none() {
            return Ok(());
        }
        // The buffer is large enough: now the IV may be generated.
        self.prepare(param, true)?;
        if !gcm_fits(input.len()) {
            return Err(Error::DataLenRange);
        }
        if let Some(dst) = out.reserve(input.len())? {
            dst.copy_from_slice(input);
            let tag = self
                .key
                .seal(iv_of(param), aad, dst)
                .inspect_err(|_| dst.zeroize())?;
            set_tag(param, &tag[..tlen]);
        }
        Ok(())
    }

    fn begin(&mut self, param: &mut Param, aad: &[u8]) -> Result<()> {
        if self.pending.is_some() {
            return Err(Error::OperationActive);
        }
        let tlen = self.prepare(param, true)?;
        let gcm = Gcm::new(&self.key, iv_of(param), aad);
        self.pending = Some(Pending {
            gcm,
            tag_len: tlen,
            buf: Zeroizing::new(Vec::new()),
        });
        Ok(())
    }

    fn next(
        &mut self,
        param: &mut Param,
        input: &[u8],
        last: bool,
        out: &mut OutBuf,
    ) -> Result<()> {
        let p = self
            .pending
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?;
        if self.encrypt {
            if !p.gcm.fits(input.len()) {
                return Err(Error::DataLenRange);
            }
            let Some(dst) = out.reserve(input.len())? else {
                return Ok(());
            };
            dst.copy_from_slice(input);
            p.gcm.encrypt(dst);
            if last {
                let tlen = p.tag_len;
                let tag = p.gcm.clone().tag();
                set_tag(param, &tag[..tlen]);
                self.pending = None;
            }
            return Ok(());
        }
        if !p.gcm.fits(p.buf.len().saturating_add(input.len())) {
            return Err(Error::EncryptedDataLenRange);
        }
        if !last {
            if out.reserve(0)?.is_some() {
                hold_back(&mut p.buf, input, Error::EncryptedDataLenRange)?;
            }
            return Ok(());
        }
        let tag = get_tag(param, p.tag_len)?.to_vec();
        let mut all = Zeroizing::new(Vec::new());
        hold_back(&mut all, &p.buf, Error::EncryptedDataLenRange)?;
        hold_back(&mut all, input, Error::EncryptedDataLenRange)?;
        let g = p.gcm.clone();
        gcm_open(all.len(), out, Error::AeadDecryptFailed, |dst| {
            g.open(&all, &tag, dst)
        })?;
        if !out.is_query() {
            self.pending = None;
        }
        Ok(())
    }
}

fn init(mech: &Mechanism, g: &Granted, encrypt: bool) -> Result<Box<dyn MessageOp>> {
    match mech.param {
        Param::None | Param::GcmMessage { .. } => {}
        _ => return Err(Error::MechanismParamInvalid),
    }
    let key = aes_key(g, Error::KeySizeRange)?;
    Ok(Box::new(GcmMessages {
        key,
        encrypt,
        may_choose_iv: g.may_choose_iv(),
        ivs: g.iv_source().cloned(),
        block: (0, 0),
        next_block: 16,
        pending: None,
    }))
}

/// `C_MessageEncryptInit` with `CKM_AES_GCM`.
pub(super) fn encrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn MessageOp>> {
    init(mech, key, true)
}

/// `C_MessageDecryptInit` with `CKM_AES_GCM`.
pub(super) fn decrypt_init(mech: &Mechanism, key: &Granted) -> Result<Box<dyn MessageOp>> {
    init(mech, key, false)
}
