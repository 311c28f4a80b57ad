//! AES-256-GCM with caller-chosen 96-bit nonces, for formats that derive their
//! nonces (the envelope format's frame counters): `aws-lc-rs` with the `aws-lc`
//! feature, the `aes-gcm` crate in the pure-Rust build (and as the fallback).

// In the pure-Rust build the key has one form only, so the matches below that
// pick the form have one arm.
#![cfg_attr(not(feature = "aws-lc"), allow(clippy::infallible_destructuring_match))]

use crate::error::{Error, Result};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use std::fmt;

/// Length of a GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a nonce.
pub(crate) const NONCE_LEN: usize = 12;

/// An AES-256-GCM key (its schedule is wiped on drop by `aes-gcm`'s `zeroize`
/// or by aws-lc).
pub(crate) struct Aes256GcmKey(Inner);

enum Inner {
    #[cfg(feature = "aws-lc")]
    Lc(aws_lc_rs::aead::LessSafeKey),
    Rc(Box<Aes256Gcm>),
}

impl fmt::Debug for Aes256GcmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Aes256GcmKey(..)")
    }
}

impl Aes256GcmKey {
    /// A key from 32 bytes.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::aead;
            if let Ok(k) = aead::UnboundKey::new(&aead::AES_256_GCM, key) {
                return Aes256GcmKey(Inner::Lc(aead::LessSafeKey::new(k)));
            }
        }
        Aes256GcmKey(Inner::Rc(Box::new(Aes256Gcm::new(key.into()))))
    }

    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let k = match &self.0 {
            #[cfg(feature = "aws-lc")]
            Inner::Lc(k) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                let tag = k
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(*nonce),
                        Aad::from(aad),
                        buf,
                    )
                    .map_err(|_| Error::DataLenRange)?;
                return <[u8; TAG_LEN]>::try_from(tag.as_ref()).map_err(|_| Error::DataLenRange);
            }
            Inner::Rc(k) => k,
        };
        let tag = k
            .encrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into())
            .map_err(|_| Error::DataLenRange)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_slice());
        Ok(out)
    }

    /// Checks the tag and decrypts `buf` in place; on a bad tag `buf` is left
    /// unusable and `CKR_ENCRYPTED_DATA_INVALID` is returned.
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<()> {
        let k = match &self.0 {
            #[cfg(feature = "aws-lc")]
            Inner::Lc(k) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                if tag.len() != TAG_LEN {
                    return Err(Error::EncryptedDataInvalid);
                }
                return k
                    .open_in_place_separate_tag(
                        Nonce::assume_unique_for_key(*nonce),
                        Aad::from(aad),
                        tag,
                        buf,
                    )
                    .map(|_| ())
                    .map_err(|_| Error::EncryptedDataInvalid);
            }
            Inner::Rc(k) => k,
        };
        let tag = Tag::try_from(tag).map_err(|_| Error::EncryptedDataInvalid)?;
        k.decrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into(), &tag)
            .map_err(|_| Error::EncryptedDataInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn mcgrew_viega_test_case_16() {
        // The GCM spec's test case 16 (AES-256, 96-bit IV, with AAD).
        let key: [u8; 32] = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
            .try_into()
            .unwrap();
        let iv: [u8; 12] = hex("cafebabefacedbaddecaf888").try_into().unwrap();
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let pt = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        let ct = hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662");
        let tag = hex("76fc6ece0f4e1768cddf8853bb2d551b");
        let k = Aes256GcmKey::new(&key);
        let mut buf = pt.clone();
        assert_eq!(k.seal(&iv, &aad, &mut buf).unwrap().to_vec(), tag);
        assert_eq!(buf, ct);
        k.open(&iv, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt);
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            k.open(&iv, &aad, &mut bad, &tag),
            Err(Error::EncryptedDataInvalid)
        );
    }
}
