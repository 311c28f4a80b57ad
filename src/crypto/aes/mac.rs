//! CMAC (NIST SP 800-38B, RFC 4493): `aws-lc-rs` in the default build, the
//! `cmac` crate in the pure-Rust build (and as the fallback).

use super::{AesKey, Rc, BLOCK};
use aes::cipher::common::InnerInit;

/// CMAC, multi-part. The `cmac` crate runs over a copy of the expanded key
/// (its state is wiped on drop by the crate's `zeroize` feature); the
/// `aws-lc-rs` context over the key's own `aws-lc-rs` CMAC key.
#[derive(Clone)]
pub(crate) struct Cmac(Inner);

#[derive(Clone)]
enum Inner {
    #[cfg(feature = "aws-lc")]
    Lc(aws_lc_rs::cmac::Context),
    A128(cmac::Cmac<aes::Aes128>),
    A192(cmac::Cmac<aes::Aes192>),
    A256(cmac::Cmac<aes::Aes256>),
}

/// `aws-lc-rs` reports a failure of `CMAC_Update` or `CMAC_Final`, which for
/// AES can only come from a broken library. There is no MAC to give then; the
/// panic becomes `CKR_GENERAL_ERROR` at the C boundary (src/ffi), rather than a
/// wrong MAC.
#[cfg(feature = "aws-lc")]
#[cold]
fn lc_failed() -> ! {
    panic!("aws-lc-rs: CMAC failed")
}

impl Cmac {
    /// A new CMAC under `key`.
    pub(crate) fn new(key: &AesKey) -> Self {
        #[cfg(feature = "aws-lc")]
        if let Some(c) = key.lc.cmac() {
            return Cmac(Inner::Lc(c));
        }
        Cmac(match &key.rc {
            Rc::A128(k) => Inner::A128(cmac::Cmac::inner_init(k.clone())),
            Rc::A192(k) => Inner::A192(cmac::Cmac::inner_init(k.clone())),
            Rc::A256(k) => Inner::A256(cmac::Cmac::inner_init(k.clone())),
        })
    }
    /// Adds data.
    pub(crate) fn update(&mut self, data: &[u8]) {
        use cmac::Mac;
        match &mut self.0 {
            #[cfg(feature = "aws-lc")]
            Inner::Lc(c) => {
                if c.update(data).is_err() {
                    lc_failed()
                }
            }
            Inner::A128(m) => m.update(data),
            Inner::A192(m) => m.update(data),
            Inner::A256(m) => m.update(data),
        }
    }
    /// The full 16-byte MAC.
    pub(crate) fn finalize(self) -> [u8; BLOCK] {
        use cmac::Mac;
        match self.0 {
            #[cfg(feature = "aws-lc")]
            Inner::Lc(c) => match c.sign().map(|t| <[u8; BLOCK]>::try_from(t.as_ref())) {
                Ok(Ok(t)) => t,
                _ => lc_failed(),
            },
            Inner::A128(m) => m.finalize().into_bytes().into(),
            Inner::A192(m) => m.finalize().into_bytes().into(),
            Inner::A256(m) => m.finalize().into_bytes().into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_util::{bytes, h, KEY128, PT4};
    use super::*;

    #[test]
    fn cmac_rfc4493() {
        let k = AesKey::new(&h(KEY128)).unwrap();
        let msg = h(PT4);
        for (len, tag) in [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ] {
            let mut m = Cmac::new(&k);
            m.update(&msg[..len / 3]);
            let copy = m.clone();
            m.update(&msg[len / 3..len]);
            assert_eq!(m.finalize().to_vec(), h(tag), "{len}");
            let mut m = copy;
            m.update(&msg[len / 3..len]);
            assert_eq!(m.finalize().to_vec(), h(tag), "{len} (clone)");
        }
    }

    #[test]
    fn cmac_matches_the_cmac_crate() {
        // Whatever the backend (aws-lc-rs in the default build), the MAC is
        // the cmac crate's, every key size, fed in pieces.
        use cmac::{KeyInit, Mac};
        for (i, klen) in [16usize, 24, 32].into_iter().enumerate() {
            let seed = u64::try_from(i).unwrap();
            let key = bytes(seed, klen);
            let k = AesKey::new(&key).unwrap();
            for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
                let msg = bytes(seed + 50, len);
                let want = match klen {
                    16 => cmac::Cmac::<aes::Aes128>::new_from_slice(&key)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                    24 => cmac::Cmac::<aes::Aes192>::new_from_slice(&key)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                    _ => cmac::Cmac::<aes::Aes256>::new_from_slice(&key)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                };
                let mut m = Cmac::new(&k);
                m.update(&msg[..len / 2]);
                m.update(&msg[len / 2..]);
                assert_eq!(m.finalize().to_vec(), want, "{klen}/{len}");
            }
        }
    }
}
