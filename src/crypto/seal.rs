//! AES-256-GCM sealing of stored secrets, and the keys derived from the token
//! master key (TMK).
//!
//! Key hierarchy (DESIGN.md §3): the [`Tmk`] is 32 random bytes made at
//! `C_InitToken`. It is never used directly to encrypt or MAC: HKDF-SHA256 derives
//! one subkey for sealing objects ([`Sealer`]) and one for MACing public objects
//! ([`MacKey`]). The TMK itself is stored only wrapped, under a key derived from a
//! principal's PIN ([`wrap_key`]/[`unwrap_key`]).
//!
//! A sealed blob is `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16
//! bytes)`, AES-256-GCM with a fresh random 96-bit nonce per seal and the caller's
//! AAD. The version byte is also authenticated (it is prepended to the AAD).

use crate::error::{Error, Result};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Version byte of the blob format made by [`Sealer::seal`] and [`wrap_key`].
pub(crate) const BLOB_VERSION: u8 = 1;
/// Length of the AES-GCM nonce in a blob.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag in a blob.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a blob adds to its plaintext (version, nonce, tag).
pub(crate) const BLOB_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// Length of a TMK and of every key derived from it.
pub(crate) const KEY_LEN: usize = 32;
/// Length of a MAC made by [`MacKey::mac`].
pub(crate) const MAC_LEN: usize = 32;

const INFO_SEAL: &[u8] = b"softkms/v1/tmk/seal-objects";
const INFO_MAC: &[u8] = b"softkms/v1/tmk/mac-public-objects";

/// The token master key: 32 bytes, wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Tmk {
    bytes: [u8; KEY_LEN],
}

impl fmt::Debug for Tmk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tmk(..)")
    }
}

impl Tmk {
    /// A new random TMK from the operating system's random source.
    pub fn generate() -> Result<Tmk> {
        let mut t = Tmk {
            bytes: [0u8; KEY_LEN],
        };
        crate::crypto::random(&mut t.bytes)
            .map_err(|e| Error::General(format!("random source failed: {e}")))?;
        Ok(t)
    }

    /// A TMK from its raw bytes (as unwrapped from storage); any length but 32 is
    /// `CKR_WRAPPED_KEY_INVALID`.
    pub fn from_slice(b: &[u8]) -> Result<Tmk> {
        let bytes: [u8; KEY_LEN] = b.try_into().map_err(|_| Error::WrappedKeyInvalid)?;
        Ok(Tmk { bytes })
    }

    /// The sealing subkey (HKDF-SHA256, info `softkms/v1/tmk/seal-objects`).
    pub fn sealer(&self) -> Result<Sealer> {
        let k = self.derive(INFO_SEAL)?;
        Sealer::new(&k)
    }

    /// The MAC subkey for public objects (HKDF-SHA256, info
    /// `softkms/v1/tmk/mac-public-objects`).
    pub fn mac_key(&self) -> Result<MacKey> {
        Ok(MacKey {
            key: *self.derive(INFO_MAC)?,
        })
    }

    /// A service secret: HMAC-SHA256 over the length-prefixed `parts` under
    /// the subkey HKDF-SHA256 derives with info `softkms/v1/tmk/service/LABEL`.
    pub fn service_secret(&self, label: &str, parts: &[&[u8]]) -> Result<Zeroizing<[u8; 32]>> {
        let mut info = b"softkms/v1/tmk/service/".to_vec();
        info.extend_from_slice(label.as_bytes());
        let key = MacKey {
            key: *self.derive(&info)?,
        };
        Ok(Zeroizing::new(key.mac(parts)?))
    }

    fn derive(&self, info: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        let hk = Hkdf::<Sha256>::new(None, &self.bytes);
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        hk.expand(info, okm.as_mut())
            .map_err(|_| Error::General("HKDF output length".into()))?;
        Ok(okm)
    }
}

/// AES-256-GCM under one key, making and opening sealed blobs.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer under a raw 256-bit key.
    pub fn new(key: &[u8; KEY_LEN]) -> Result<Sealer> {
        let cipher = Aes256Gcm::new_from_slice(key)
            .map_err(|_| Error::General("AES-256-GCM key length".into()))?;
        Ok(Sealer { cipher })
    }

    /// Seals `plaintext` with a fresh random nonce; `aad` is authenticated, not stored.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::crypto::random(&mut nonce)
            .map_err(|e| Error::General(format!("random source failed: {e}")))?;
        self.seal_with_nonce(&nonce, aad, plaintext)
    }

    fn seal_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let full_aad = versioned_aad(aad);
        let mut out = Vec::with_capacity(BLOB_OVERHEAD + plaintext.len());
        out.push(BLOB_VERSION);
        out.extend_from_slice(nonce);
        let body = out.len();
        out.extend_from_slice(plaintext);
        let tag = match self.cipher.encrypt_inout_detached(
            &Nonce::from(*nonce),
            &full_aad,
            out[body..].as_mut().into(),
        ) {
            Ok(tag) => tag,
            Err(_) => {
                // The buffer may still hold (part of) the plaintext.
                out.zeroize();
                return Err(Error::General("AES-GCM seal failed".into()));
            }
        };
        out.extend_from_slice(tag.as_slice());
        Ok(out)
    }

    /// Opens a blob made by [`Sealer::seal`] with the same `aad`. Any change to the
    /// blob or the AAD, a wrong key or a malformed blob is `CKR_ENCRYPTED_DATA_INVALID`.
    pub fn open(&self, aad: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if blob.len() < BLOB_OVERHEAD || blob[0] != BLOB_VERSION {
            return Err(Error::EncryptedDataInvalid);
        }
        let (head, rest) = blob.split_at(1 + NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = head[1..]
            .try_into()
            .map_err(|_| Error::EncryptedDataInvalid)?;
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        let tag = Tag::try_from(tag).map_err(|_| Error::EncryptedDataInvalid)?;
        let full_aad = versioned_aad(aad);
        let mut buf = Zeroizing::new(ct.to_vec());
        self.cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &full_aad,
                buf.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| Error::EncryptedDataInvalid)?;
        Ok(buf)
    }
}

fn versioned_aad(aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + aad.len());
    v.push(BLOB_VERSION);
    v.extend_from_slice(aad);
    v
}

/// HMAC-SHA256 under the TMK's MAC subkey.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MacKey {
    key: [u8; KEY_LEN],
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(..)")
    }
}

impl MacKey {
    fn hmac(&self, parts: &[&[u8]]) -> Result<Hmac<Sha256>> {
        let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.key)
            .map_err(|_| Error::General("HMAC key length".into()))?;
        for p in parts {
            // Each part is length-prefixed so that the concatenation is unambiguous.
            m.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
            m.update(p);
        }
        Ok(m)
    }

    /// The MAC of the length-prefixed concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> Result<[u8; MAC_LEN]> {
        let out = self.hmac(parts)?.finalize().into_bytes();
        let mut a = [0u8; MAC_LEN];
        a.copy_from_slice(out.as_slice());
        Ok(a)
    }

    /// Checks a MAC made by [`MacKey::mac`] in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        match self.hmac(parts) {
            Ok(m) => m.verify_slice(tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// Wraps a TMK under a key-encryption key (e.g. from a PIN) with AES-256-GCM; the
/// result has the blob format of [`Sealer::seal`].
pub(crate) fn wrap_key(kek: &[u8; KEY_LEN], aad: &[u8], tmk: &Tmk) -> Result<Vec<u8>> {
    Sealer::new(kek)?.seal(aad, &tmk.bytes)
}

/// Unwraps a TMK wrapped by [`wrap_key`]. A wrong KEK (wrong PIN), a changed AAD or a
/// damaged blob all fail the same way, with `CKR_ENCRYPTED_DATA_INVALID`; the tag
/// comparison is constant-time.
pub(crate) fn unwrap_key(kek: &[u8; KEY_LEN], aad: &[u8], blob: &[u8]) -> Result<Tmk> {
    let pt = Sealer::new(kek)?.open(aad, blob)?;
    Tmk::from_slice(&pt)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// AES-256-GCM test cases 13-16 from McGrew & Viega, "The Galois/Counter Mode
    /// of Operation (GCM)", Appendix B (also in NIST's GCM test set):
    /// (key, iv, plaintext, aad, ciphertext, tag).
    const MV_VECTORS: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            "000000000000000000000000",
            "",
            "",
            "",
            "530f8afbc74536b9a963b4f1c4cb738b",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            "000000000000000000000000",
            "00000000000000000000000000000000",
            "",
            "cea7403d4d606b6e074ec5d3baf39d18",
            "d0d1c8a799996bf0265b98b5d48ab919",
        ),
        (
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            "cafebabefacedbaddecaf888",
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
            "",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
            "b094dac5d93471bdec1a502270e3cc6c",
        ),
        (
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            "cafebabefacedbaddecaf888",
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
    ];

    #[test]
    fn aes256gcm_known_answers() {
        for (i, (k, iv, p, a, c, t)) in MV_VECTORS.iter().enumerate() {
            let key: [u8; 32] = hex(k).try_into().unwrap();
            let cipher = Aes256Gcm::new_from_slice(&key).unwrap();
            let nonce: [u8; 12] = hex(iv).try_into().unwrap();
            let mut buf = hex(p);
            let tag = cipher
                .encrypt_inout_detached(&Nonce::from(nonce), &hex(a), buf.as_mut_slice().into())
                .unwrap();
            assert_eq!(buf, hex(c), "ciphertext of vector {i}");
            assert_eq!(tag.as_slice(), hex(t).as_slice(), "tag of vector {i}");
            let tag = Tag::try_from(hex(t).as_slice()).unwrap();
            cipher
                .decrypt_inout_detached(
                    &Nonce::from(nonce),
                    &hex(a),
                    buf.as_mut_slice().into(),
                    &tag,
                )
                .unwrap();
            assert_eq!(buf, hex(p), "plaintext of vector {i}");
        }
    }

    #[test]
    fn blob_layout_uses_the_gcm_core() {
        // The blob body is plain AES-GCM with the version byte prepended to the AAD.
        let (k, iv, p, a, _, _) = MV_VECTORS[3];
        let key: [u8; 32] = hex(k).try_into().unwrap();
        let s = Sealer::new(&key).unwrap();
        let nonce: [u8; 12] = hex(iv).try_into().unwrap();
        let blob = s.seal_with_nonce(&nonce, &hex(a), &hex(p)).unwrap();
        assert_eq!(blob[0], BLOB_VERSION);
        assert_eq!(&blob[1..13], &nonce);
        assert_eq!(blob.len(), BLOB_OVERHEAD + hex(p).len());
        assert_eq!(
            s.open(&hex(a), &blob).unwrap().as_slice(),
            hex(p).as_slice()
        );
    }

    #[test]
    fn seal_open_roundtrip_and_fresh_nonces() {
        let tmk = Tmk::generate().unwrap();
        let s = tmk.sealer().unwrap();
        let b1 = s.seal(b"aad", b"secret").unwrap();
        let b2 = s.seal(b"aad", b"secret").unwrap();
        assert_ne!(b1, b2, "each seal uses a new nonce");
        assert_eq!(s.open(b"aad", &b1).unwrap().as_slice(), b"secret");
        assert_eq!(s.open(b"aad", &b2).unwrap().as_slice(), b"secret");
        let empty = s.seal(b"", b"").unwrap();
        assert_eq!(empty.len(), BLOB_OVERHEAD);
        assert!(s.open(b"", &empty).unwrap().is_empty());
    }

    #[test]
    fn tampering_is_detected() {
        let tmk = Tmk::generate().unwrap();
        let s = tmk.sealer().unwrap();
        let blob = s.seal(b"row-1", b"key material").unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                s.open(b"row-1", &bad).unwrap_err(),
                Error::EncryptedDataInvalid,
                "byte {i}"
            );
        }
        assert!(s.open(b"row-2", &blob).is_err(), "AAD is bound");
        assert!(
            s.open(b"row-1", &blob[..blob.len() - 1]).is_err(),
            "truncated"
        );
        assert!(s.open(b"row-1", &blob[..5]).is_err(), "too short");
        assert!(s.open(b"row-1", &[]).is_err(), "empty");
        let other = Tmk::generate().unwrap().sealer().unwrap();
        assert!(other.open(b"row-1", &blob).is_err(), "other key");
    }

    #[test]
    fn subkeys_are_distinct_and_deterministic() {
        let tmk = Tmk::from_slice(&[7u8; 32]).unwrap();
        let blob = tmk.sealer().unwrap().seal(b"", b"x").unwrap();
        // The same TMK gives the same sealing key.
        let again = Tmk::from_slice(&[7u8; 32]).unwrap();
        assert_eq!(
            again.sealer().unwrap().open(b"", &blob).unwrap().as_slice(),
            b"x"
        );
        // The sealing key is neither the TMK itself nor the MAC key.
        assert!(Sealer::new(&[7u8; 32]).unwrap().open(b"", &blob).is_err());
        let mk = tmk.mac_key().unwrap();
        assert!(Sealer::new(&mk.key).unwrap().open(b"", &blob).is_err());
        assert_ne!(mk.key, [7u8; 32]);
    }

    #[test]
    fn mac_verifies_and_is_unambiguous() {
        let mk = Tmk::generate().unwrap().mac_key().unwrap();
        let t = mk.mac(&[b"ab", b"c"]).unwrap();
        assert!(mk.verify(&[b"ab", b"c"], &t));
        assert!(!mk.verify(&[b"a", b"bc"], &t), "part boundaries count");
        let mut bad = t;
        bad[31] ^= 0x80;
        assert!(!mk.verify(&[b"ab", b"c"], &bad));
        assert!(!mk.verify(&[b"ab", b"c"], &t[..16]));
        let other = Tmk::generate().unwrap().mac_key().unwrap();
        assert!(!other.verify(&[b"ab", b"c"], &t));
    }

    #[test]
    fn wrap_unwrap() {
        let tmk = Tmk::generate().unwrap();
        let kek = [3u8; 32];
        let w = wrap_key(&kek, b"so", &tmk).unwrap();
        let back = unwrap_key(&kek, b"so", &w).unwrap();
        assert_eq!(back.bytes, tmk.bytes);
        assert!(unwrap_key(&[4u8; 32], b"so", &w).is_err());
        assert!(unwrap_key(&kek, b"user", &w).is_err());
        assert_eq!(format!("{tmk:?}"), "Tmk(..)");
    }
}
