//! The `aws-lc-rs` keys of the default build for CBC, CTR and CMAC. Each is
//! made from the raw key the first time its mode is used (an AES key object
//! used only for GCM never builds them) and then kept with the [`AesKey`].
//!
//! [`AesKey`]: super::AesKey

use super::BLOCK;
use aws_lc_rs::cipher::{
    Algorithm, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext,
    UnboundCipherKey, AES_128, AES_192, AES_256,
};
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The raw key and the `aws-lc-rs` keys made from it so far.
pub(super) struct LcKeys {
    raw: Zeroizing<Vec<u8>>,
    cbc_enc: OnceLock<Option<EncryptingKey>>,
    cbc_dec: OnceLock<Option<DecryptingKey>>,
    ctr: OnceLock<Option<EncryptingKey>>,
    cmac: OnceLock<Option<aws_lc_rs::cmac::Key>>,
}

impl LcKeys {
    /// Keeps `raw` (16, 24 or 32 bytes, checked by the caller) for later.
    pub(super) fn new(raw: &[u8]) -> Self {
        LcKeys {
            raw: Zeroizing::new(raw.to_vec()),
            cbc_enc: OnceLock::new(),
            cbc_dec: OnceLock::new(),
            ctr: OnceLock::new(),
            cmac: OnceLock::new(),
        }
    }

    fn unbound(&self) -> Option<UnboundCipherKey> {
        let alg: &'static Algorithm = match self.raw.len() {
            16 => &AES_128,
            24 => &AES_192,
            _ => &AES_256,
        };
        UnboundCipherKey::new(alg, &self.raw).ok()
    }

    /// CBC-encrypts `data` (whole blocks) from `iv`; `false`, with `data`
    /// untouched, when `aws-lc-rs` cannot (the caller then uses the crate).
    pub(super) fn cbc_encrypt(&self, iv: &[u8; BLOCK], data: &mut [u8]) -> bool {
        let key = self
            .cbc_enc
            .get_or_init(|| EncryptingKey::cbc(self.unbound()?).ok());
        key.as_ref().is_some_and(|k| {
            k.less_safe_encrypt(data, EncryptionContext::Iv128((*iv).into()))
                .is_ok()
        })
    }

    /// CBC-decrypts `data` (whole blocks) from `iv`; `false` as for
    /// [`LcKeys::cbc_encrypt`].
    pub(super) fn cbc_decrypt(&self, iv: &[u8; BLOCK], data: &mut [u8]) -> bool {
        let key = self
            .cbc_dec
            .get_or_init(|| DecryptingKey::cbc(self.unbound()?).ok());
        key.as_ref().is_some_and(|k| {
            k.decrypt(data, DecryptionContext::Iv128((*iv).into()))
                .is_ok()
        })
    }

    /// XORs the keystream of a 128-bit big-endian counter starting at `cb`
    /// into `data` (whole blocks); `false` as for [`LcKeys::cbc_encrypt`].
    pub(super) fn ctr(&self, cb: &[u8; BLOCK], data: &mut [u8]) -> bool {
        let key = self
            .ctr
            .get_or_init(|| EncryptingKey::ctr(self.unbound()?).ok());
        key.as_ref().is_some_and(|k| {
            k.less_safe_encrypt(data, EncryptionContext::Iv128((*cb).into()))
                .is_ok()
        })
    }

    /// A fresh CMAC computation, or `None` when `aws-lc-rs` cannot make the key.
    pub(super) fn cmac(&self) -> Option<aws_lc_rs::cmac::Context> {
        use aws_lc_rs::cmac;
        let key = self.cmac.get_or_init(|| {
            let alg = match self.raw.len() {
                16 => cmac::AES_128,
                24 => cmac::AES_192,
                _ => cmac::AES_256,
            };
            cmac::Key::new(alg, &self.raw).ok()
        });
        key.as_ref().map(cmac::Context::with_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_size_is_served() {
        // The callers fall back to the RustCrypto crates when these say no;
        // make sure they do not, so the default build really runs aws-lc-rs.
        for klen in [16usize, 24, 32] {
            let k = LcKeys::new(&vec![7u8; klen]);
            let mut data = [1u8; 48];
            assert!(k.cbc_encrypt(&[2; BLOCK], &mut data), "{klen}");
            assert!(k.cbc_decrypt(&[2; BLOCK], &mut data), "{klen}");
            assert_eq!(data, [1u8; 48]);
            assert!(k.ctr(&[3; BLOCK], &mut data), "{klen}");
            assert!(k.cmac().is_some(), "{klen}");
        }
    }
}
