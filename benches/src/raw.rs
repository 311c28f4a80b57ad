//! The raw backends: the same primitives as the PKCS#11 workloads, called directly on
//! `aws-lc-rs` and on the RustCrypto crates SoftKMS uses (same versions), so the cost of
//! going through a PKCS#11 module shows as a ratio.
//!
//! Each operation does what the module has to do for one call at least: copy the input
//! into a fresh output buffer and run the primitive. Key parsing and setup are done once,
//! as a module that caches parsed keys does.

use crate::workloads::{bulk, Op, MSG};

/// One prepared operation: runs it once.
pub type Runner = Box<dyn FnMut() -> Result<(), String> + Send>;

/// A raw crypto library measured without PKCS#11.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `aws-lc-rs` 1.19 (AWS-LC, assembly).
    AwsLc,
    /// The RustCrypto crates of SoftKMS's pure-Rust build (`aes-gcm`, `cbc`, `sha2`,
    /// `hmac`, `rsa`, `p256`, `argon2`).
    RustCrypto,
}

impl Backend {
    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::AwsLc => "raw aws-lc-rs",
            Backend::RustCrypto => "raw RustCrypto",
        }
    }

    /// The operation `op` on this backend, ready to run; `None` if it is not measured
    /// raw (token writes, searches, vendor mechanisms) or the library has no such call.
    pub fn prepare(self, op: Op) -> Option<Result<Runner, String>> {
        match self {
            Backend::AwsLc => aws::prepare(op),
            Backend::RustCrypto => rc::prepare(op),
        }
    }
}

/// `MSG` hashed with SHA-256, the input of the prehash signatures.
fn msg_hash() -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(MSG).into()
}

/// A 12-byte counter nonce.
fn nonce(counter: &mut u64) -> [u8; 12] {
    *counter += 1;
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

fn check(got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("output length {got}, expected {want}"))
    }
}

fn boxed<F: FnMut() -> Result<(), String> + Send + 'static>(
    f: F,
) -> Option<Result<Runner, String>> {
    Some(Ok(Box::new(f)))
}

mod aws {
    use super::*;
    use aws_lc_rs::{aead, agreement, cipher, digest, hmac, rand, rsa, signature};
    use signature::KeyPair as _;

    fn e(what: &'static str) -> impl Fn(aws_lc_rs::error::Unspecified) -> String {
        move |_| format!("aws-lc-rs: {what} failed")
    }

    pub(super) fn prepare(op: Op) -> Option<Result<Runner, String>> {
        match op {
            Op::GcmEncrypt(n) => Some(gcm(n)),
            Op::CbcPadEncrypt(n) => Some(cbc(n)),
            Op::Sha256(n) => {
                boxed(move || check(digest::digest(&digest::SHA256, bulk(n)).as_ref().len(), 32))
            }
            Op::HmacSha256(n) => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, &[0x42; 32]);
                boxed(move || check(hmac::sign(&key, bulk(n)).as_ref().len(), 32))
            }
            Op::RsaPkcsSign | Op::RsaPssSign | Op::RsaPkcsVerify => Some(rsa_sig(op)),
            Op::RsaOaepDecrypt => Some(oaep()),
            Op::EcdsaSign | Op::EcdsaVerify => Some(ecdsa(op)),
            Op::Ecdh => Some(ecdh()),
            Op::P384Sign | Op::P384Verify => Some(p384(op)),
            Op::Ed25519Sign | Op::Ed25519Verify => Some(ed25519(op)),
            Op::MlDsaSign | Op::MlDsaVerify => Some(ml_dsa(op)),
            Op::MlKemEncapsulate | Op::MlKemDecapsulate => Some(ml_kem(op)),
            _ => None,
        }
    }

    fn gcm(n: usize) -> Result<Runner, String> {
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, &[0x42; 32]).map_err(e("AES key"))?;
        let key = aead::LessSafeKey::new(key);
        let mut counter = 0u64;
        Ok(Box::new(move || {
            let mut buf = Vec::with_capacity(n + 16);
            buf.extend_from_slice(bulk(n));
            let nonce = aead::Nonce::assume_unique_for_key(nonce(&mut counter));
            key.seal_in_place_append_tag(nonce, aead::Aad::empty(), &mut buf)
                .map_err(e("AES-GCM seal"))?;
            check(buf.len(), n + 16)
        }))
    }

    fn cbc(n: usize) -> Result<Runner, String> {
        let key =
            cipher::UnboundCipherKey::new(&cipher::AES_256, &[0x42; 32]).map_err(e("AES key"))?;
        let key = cipher::PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(e("CBC key"))?;
        Ok(Box::new(move || {
            let mut buf = Vec::with_capacity(n + 16);
            buf.extend_from_slice(bulk(n));
            let iv = cipher::EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from([7u8; 16]));
            key.less_safe_encrypt(&mut buf, iv)
                .map_err(e("CBC encrypt"))?;
            check(buf.len(), n / 16 * 16 + 16)
        }))
    }

    fn rsa_sig(op: Op) -> Result<Runner, String> {
        let rng = rand::SystemRandom::new();
        let kp = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).map_err(e("RSA key generation"))?;
        let padding: &'static dyn signature::RsaEncoding = if op == Op::RsaPssSign {
            &signature::RSA_PSS_SHA256
        } else {
            &signature::RSA_PKCS1_SHA256
        };
        if op == Op::RsaPkcsVerify {
            let mut sig = vec![0u8; kp.public_modulus_len()];
            kp.sign(padding, &rng, MSG, &mut sig)
                .map_err(e("RSA sign"))?;
            let public = kp.public_key().as_ref().to_vec();
            return Ok(Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public)
                    .verify(MSG, &sig)
                    .map_err(e("RSA verify"))
            }));
        }
        Ok(Box::new(move || {
            let mut sig = vec![0u8; kp.public_modulus_len()];
            kp.sign(padding, &rng, MSG, &mut sig)
                .map_err(e("RSA sign"))?;
            check(sig.len(), 256)
        }))
    }

    fn oaep() -> Result<Runner, String> {
        let private = rsa::PrivateDecryptingKey::generate(rsa::KeySize::Rsa2048)
            .map_err(e("RSA key generation"))?;
        let public =
            rsa::OaepPublicEncryptingKey::new(private.public_key()).map_err(e("OAEP key"))?;
        let mut ct = vec![0u8; public.ciphertext_size()];
        public
            .encrypt(&rsa::OAEP_SHA1_MGF1SHA1, MSG, &mut ct, None)
            .map_err(e("OAEP encrypt"))?;
        let private = rsa::OaepPrivateDecryptingKey::new(private).map_err(e("OAEP key"))?;
        Ok(Box::new(move || {
            let mut out = vec![0u8; 256];
            let pt = private
                .decrypt(&rsa::OAEP_SHA1_MGF1SHA1, &ct, &mut out, None)
                .map_err(e("OAEP decrypt"))?;
            check(pt.len(), MSG.len())
        }))
    }

    fn ecdsa(op: Op) -> Result<Runner, String> {
        let rng = rand::SystemRandom::new();
        let kp = signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(e("P-256 key generation"))?;
        if op == Op::EcdsaVerify {
            let sig = kp
                .sign(&rng, MSG)
                .map_err(e("ECDSA sign"))?
                .as_ref()
                .to_vec();
            let public = kp.public_key().as_ref().to_vec();
            return Ok(Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &public)
                    .verify(MSG, &sig)
                    .map_err(e("ECDSA verify"))
            }));
        }
        Ok(Box::new(move || {
            let sig = kp.sign(&rng, MSG).map_err(e("ECDSA sign"))?;
            check(sig.as_ref().len(), 64)
        }))
    }

    fn p384(op: Op) -> Result<Runner, String> {
        let rng = rand::SystemRandom::new();
        let kp = signature::EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
            .map_err(e("P-384 key generation"))?;
        if op == Op::P384Verify {
            let sig = kp
                .sign(&rng, MSG)
                .map_err(e("ECDSA sign"))?
                .as_ref()
                .to_vec();
            let public = kp.public_key().as_ref().to_vec();
            return Ok(Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, &public)
                    .verify(MSG, &sig)
                    .map_err(e("ECDSA verify"))
            }));
        }
        Ok(Box::new(move || {
            let sig = kp.sign(&rng, MSG).map_err(e("ECDSA sign"))?;
            check(sig.as_ref().len(), 96)
        }))
    }

    fn ed25519(op: Op) -> Result<Runner, String> {
        let kp = signature::Ed25519KeyPair::generate().map_err(e("Ed25519 key generation"))?;
        if op == Op::Ed25519Verify {
            let sig = kp.sign(MSG).as_ref().to_vec();
            let public = kp.public_key().as_ref().to_vec();
            return Ok(Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::ED25519, &public)
                    .verify(MSG, &sig)
                    .map_err(e("Ed25519 verify"))
            }));
        }
        Ok(Box::new(move || check(kp.sign(MSG).as_ref().len(), 64)))
    }

    /// ML-DSA-65 in AWS-LC (hedged, empty context; SoftKMS signs ML-DSA with
    /// the RustCrypto crate in both builds, docs/mechanisms.md).
    fn ml_dsa(op: Op) -> Result<Runner, String> {
        let kp = signature::PqdsaKeyPair::generate(&signature::ML_DSA_65_SIGNING)
            .map_err(e("ML-DSA-65 key generation"))?;
        let mut sig = vec![0u8; 3309];
        kp.sign(MSG, &mut sig).map_err(e("ML-DSA sign"))?;
        if op == Op::MlDsaVerify {
            let public = kp.public_key().as_ref().to_vec();
            return Ok(Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::ML_DSA_65, &public)
                    .verify(MSG, &sig)
                    .map_err(e("ML-DSA verify"))
            }));
        }
        Ok(Box::new(move || {
            let mut out = vec![0u8; 3309];
            let n = kp.sign(MSG, &mut out).map_err(e("ML-DSA sign"))?;
            check(n, 3309)
        }))
    }

    /// ML-KEM-768 in AWS-LC.
    fn ml_kem(op: Op) -> Result<Runner, String> {
        use aws_lc_rs::kem;
        let dk = kem::DecapsulationKey::generate(&kem::ML_KEM_768).map_err(e("ML-KEM key"))?;
        let ek = dk.encapsulation_key().map_err(e("ML-KEM public key"))?;
        if op == Op::MlKemEncapsulate {
            return Ok(Box::new(move || {
                let (ct, ss) = ek.encapsulate().map_err(e("ML-KEM encapsulate"))?;
                check(ct.as_ref().len() + ss.as_ref().len(), 1088 + 32)
            }));
        }
        let (ct, _) = ek.encapsulate().map_err(e("ML-KEM encapsulate"))?;
        let ct = ct.as_ref().to_vec();
        Ok(Box::new(move || {
            let ss = dk
                .decapsulate(kem::Ciphertext::from(ct.as_slice()))
                .map_err(e("ML-KEM decapsulate"))?;
            check(ss.as_ref().len(), 32)
        }))
    }

    fn ecdh() -> Result<Runner, String> {
        let mine =
            agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(e("P-256 key"))?;
        let peer =
            agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(e("P-256 key"))?;
        let peer = peer
            .compute_public_key()
            .map_err(e("P-256 public key"))?
            .as_ref()
            .to_vec();
        Ok(Box::new(move || {
            let public = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &peer);
            agreement::agree(&mine, public, "aws-lc-rs: ECDH failed".to_string(), |z| {
                check(z.len(), 32)
            })
        }))
    }
}

mod rc {
    use super::*;
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
    use hmac::Mac;
    use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use p256::elliptic_curve::Generate;

    /// The DER DigestInfo prefix of a SHA-256 PKCS#1 v1.5 signature (RFC 8017 §9.2).
    const SHA256_PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];

    pub(super) fn prepare(op: Op) -> Option<Result<Runner, String>> {
        match op {
            Op::GcmEncrypt(n) => {
                let key = aes_gcm::Aes256Gcm::new(&[0x42; 32].into());
                let mut counter = 0u64;
                boxed(move || {
                    let mut buf = bulk(n).to_vec();
                    let nonce = aes_gcm::Nonce::from(nonce(&mut counter));
                    let tag = key
                        .encrypt_inout_detached(&nonce, &[], buf.as_mut_slice().into())
                        .map_err(|_| "aes-gcm: seal failed".to_string())?;
                    buf.extend_from_slice(tag.as_slice());
                    check(buf.len(), n + 16)
                })
            }
            Op::CbcPadEncrypt(n) => boxed(move || {
                let mut buf = vec![0u8; n + 16];
                buf[..n].copy_from_slice(bulk(n));
                let enc = cbc::Encryptor::<aes::Aes256>::new(&[0x42; 32].into(), &[7; 16].into());
                let out = enc
                    .encrypt_padded::<cbc::cipher::block_padding::Pkcs7>(&mut buf, n)
                    .map_err(|_| "cbc: padding failed".to_string())?;
                check(out.len(), n / 16 * 16 + 16)
            }),
            Op::Sha256(n) => boxed(move || {
                use sha2::Digest;
                check(sha2::Sha256::digest(bulk(n)).len(), 32)
            }),
            Op::HmacSha256(n) => boxed(move || {
                let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&[0x42; 32])
                    .map_err(|_| "hmac: bad key".to_string())?;
                mac.update(bulk(n));
                check(mac.finalize().into_bytes().len(), 32)
            }),
            Op::RsaPkcsSign | Op::RsaPssSign | Op::RsaPkcsVerify | Op::RsaOaepDecrypt => {
                Some(rsa_op(op))
            }
            Op::EcdsaSign | Op::EcdsaVerify | Op::Ecdh => Some(ec_op(op)),
            Op::P384Sign | Op::P384Verify => Some(p384_op(op)),
            Op::Ed25519Sign | Op::Ed25519Verify => Some(ed25519_op(op)),
            Op::MlDsaSign | Op::MlDsaVerify => Some(ml_dsa(op)),
            Op::MlKemEncapsulate | Op::MlKemDecapsulate => Some(ml_kem(op)),
            Op::Kdf => boxed(|| {
                let mut out = [0u8; 32];
                crate::workloads::argon2_default(b"bench-user-pin", &[9; 16], &mut out)
            }),
            _ => None,
        }
    }

    fn rsa_op(op: Op) -> Result<Runner, String> {
        let key = rsa::PrivateKey::new_with_exp(
            &mut getrandom::SysRng,
            2048,
            rsa::BoxedUint::from(65537u64),
        )
        .map_err(|e| format!("rsa: key generation: {e}"))?;
        let hash = msg_hash();
        let mut digest_info = SHA256_PREFIX.to_vec();
        digest_info.extend_from_slice(&hash);
        match op {
            Op::RsaPkcsSign => Ok(Box::new(move || {
                use sha2::Digest;
                // The module hashes the message too (CKM_SHA256_RSA_PKCS).
                let mut di = SHA256_PREFIX.to_vec();
                di.extend_from_slice(&sha2::Sha256::digest(MSG));
                let sig = key
                    .sign_with_rng(
                        &mut getrandom::SysRng,
                        rsa::Pkcs1v15Sign::new_unprefixed(),
                        &di,
                    )
                    .map_err(|e| format!("rsa: sign: {e}"))?;
                check(sig.len(), 256)
            })),
            Op::RsaPssSign => Ok(Box::new(move || {
                use sha2::Digest;
                let h = sha2::Sha256::digest(MSG);
                let sig = key
                    .sign_with_rng(
                        &mut getrandom::SysRng,
                        rsa::Pss::<sha2::Sha256>::new_with_salt(32),
                        &h,
                    )
                    .map_err(|e| format!("rsa: PSS sign: {e}"))?;
                check(sig.len(), 256)
            })),
            Op::RsaPkcsVerify => {
                let sig = key
                    .sign_with_rng(
                        &mut getrandom::SysRng,
                        rsa::Pkcs1v15Sign::new_unprefixed(),
                        &digest_info,
                    )
                    .map_err(|e| format!("rsa: sign: {e}"))?;
                let public = key.to_public_key();
                Ok(Box::new(move || {
                    use sha2::Digest;
                    let mut di = SHA256_PREFIX.to_vec();
                    di.extend_from_slice(&sha2::Sha256::digest(MSG));
                    public
                        .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &sig)
                        .map_err(|e| format!("rsa: verify: {e}"))
                }))
            }
            _ => {
                let public = key.to_public_key();
                let ct = public
                    .encrypt(&mut getrandom::SysRng, rsa::Oaep::<sha1::Sha1>::new(), MSG)
                    .map_err(|e| format!("rsa: OAEP encrypt: {e}"))?;
                Ok(Box::new(move || {
                    let pt = key
                        .decrypt_blinded(
                            &mut getrandom::SysRng,
                            rsa::Oaep::<sha1::Sha1>::new(),
                            &ct,
                        )
                        .map_err(|e| format!("rsa: OAEP decrypt: {e}"))?;
                    check(pt.len(), MSG.len())
                }))
            }
        }
    }

    fn p384_op(op: Op) -> Result<Runner, String> {
        let secret =
            p384::SecretKey::try_generate().map_err(|e| format!("p384: key generation: {e}"))?;
        let sk = p384::ecdsa::SigningKey::from(&secret);
        let hash = msg_hash();
        let sig: p384::ecdsa::Signature = sk
            .sign_prehash(&hash)
            .map_err(|e| format!("p384: sign: {e}"))?;
        if op == Op::P384Verify {
            let vk = *sk.verifying_key();
            return Ok(Box::new(move || {
                vk.verify_prehash(&hash, &sig)
                    .map_err(|e| format!("p384: verify: {e}"))
            }));
        }
        Ok(Box::new(move || {
            let sig: p384::ecdsa::Signature = sk
                .sign_prehash(&hash)
                .map_err(|e| format!("p384: sign: {e}"))?;
            check(sig.to_bytes().len(), 96)
        }))
    }

    fn ed25519_op(op: Op) -> Result<Runner, String> {
        use ed25519_dalek::{Signer, Verifier};
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("random: {e}"))?;
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        if op == Op::Ed25519Verify {
            let sig = sk.sign(MSG);
            let vk = sk.verifying_key();
            return Ok(Box::new(move || {
                vk.verify(MSG, &sig)
                    .map_err(|e| format!("ed25519: verify: {e}"))
            }));
        }
        Ok(Box::new(move || check(sk.sign(MSG).to_bytes().len(), 64)))
    }

    fn ec_op(op: Op) -> Result<Runner, String> {
        let secret =
            p256::SecretKey::try_generate().map_err(|e| format!("p256: key generation: {e}"))?;
        let sk = p256::ecdsa::SigningKey::from(&secret);
        let hash = msg_hash();
        match op {
            Op::EcdsaSign => Ok(Box::new(move || {
                let sig: p256::ecdsa::Signature = sk
                    .sign_prehash(&hash)
                    .map_err(|e| format!("p256: sign: {e}"))?;
                check(sig.to_bytes().len(), 64)
            })),
            Op::EcdsaVerify => {
                let sig: p256::ecdsa::Signature = sk
                    .sign_prehash(&hash)
                    .map_err(|e| format!("p256: sign: {e}"))?;
                let vk = *sk.verifying_key();
                Ok(Box::new(move || {
                    vk.verify_prehash(&hash, &sig)
                        .map_err(|e| format!("p256: verify: {e}"))
                }))
            }
            _ => {
                let peer = p256::SecretKey::try_generate()
                    .map_err(|e| format!("p256: key generation: {e}"))?
                    .public_key();
                Ok(Box::new(move || {
                    let z = secret.diffie_hellman(&peer);
                    check(z.raw_secret_bytes().len(), 32)
                }))
            }
        }
    }

    /// ML-DSA-65 in the `ml-dsa` crate, as SoftKMS signs (hedged, empty context).
    fn ml_dsa(op: Op) -> Result<Runner, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("getrandom: {e}"))?;
        let kp = ml_dsa::SigningKey::<ml_dsa::MlDsa65>::from_seed(&seed.into());
        let sk = kp.expanded_key().clone();
        let sig = sk
            .sign_randomized(MSG, &[], &mut getrandom::SysRng)
            .map_err(|e| format!("ml-dsa: sign: {e}"))?;
        if op == Op::MlDsaVerify {
            let vk = sk.verifying_key();
            return Ok(Box::new(move || {
                if vk.verify_with_context(MSG, &[], &sig) {
                    Ok(())
                } else {
                    Err("ml-dsa: verify failed".into())
                }
            }));
        }
        Ok(Box::new(move || {
            let sig = sk
                .sign_randomized(MSG, &[], &mut getrandom::SysRng)
                .map_err(|e| format!("ml-dsa: sign: {e}"))?;
            check(sig.encode().len(), 3309)
        }))
    }

    /// ML-KEM-768 in the `ml-kem` crate.
    fn ml_kem(op: Op) -> Result<Runner, String> {
        use ml_kem::{Decapsulate, KeyExport};
        let mut seed = [0u8; 64];
        getrandom::fill(&mut seed).map_err(|e| format!("getrandom: {e}"))?;
        let dk = ml_kem::DecapsulationKey::<ml_kem::MlKem768>::from_seed(seed.into());
        let ek = dk.encapsulation_key().clone();
        check(ek.to_bytes().len(), 1184)?;
        let encapsulate = move || -> Result<_, String> {
            let mut m = [0u8; 32];
            getrandom::fill(&mut m).map_err(|e| format!("getrandom: {e}"))?;
            Ok(ek.encapsulate_deterministic(&m.into()))
        };
        if op == Op::MlKemEncapsulate {
            return Ok(Box::new(move || {
                let (ct, ss) = encapsulate()?;
                check(ct.len() + ss.len(), 1088 + 32)
            }));
        }
        let (ct, _) = encapsulate()?;
        Ok(Box::new(move || check(dk.decapsulate(&ct).len(), 32)))
    }
}
