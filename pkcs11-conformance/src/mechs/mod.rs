//! Cryptographic functions (§5.8 encryption, §5.10 decryption, §5.12 digesting,
//! §5.13 signing and MACing, §5.15 verifying, §5.18 key generation and
//! derivation) for every mechanism of a catalogue: cases for a mechanism the
//! token does not advertise are skipped; a mechanism it advertises must work.
//!
//! Per mechanism: `info` (C_GetMechanismInfo flags), `round-trip`,
//! `known-answer` (published vectors, or OpenSSL-made ones in `vectors.rs`),
//! `multi-part` (== single-part), `buffer-too-small` (CKR_BUFFER_TOO_SMALL keeps
//! the operation, §5.2), `operation-active`, `param-invalid`,
//! `key-type-inconsistent`, `bad-input` (data length / bad signature).
//!
//! The catalogue is written by family (`digest_mac`, `aes`, `asym` for RSA and
//! ECDSA, `sig_new` for EdDSA, P-384 ECDSA and ML-DSA); the cases by group:
//! `mechanism` (the per-mechanism cases above), `common` (rules every mechanism
//! shares), `advertised` (what the token lists), `refuse` (key usage), `kdf`
//! (HKDF), `derive` (simple, AES-data and SP 800-108 derivations), `keygen` and
//! `keygen_new` (generation, ECDH); `keys` makes the keys they use, `params`
//! the newer mechanism parameters.

use crate::vectors as v;
use crate::{check, ensure, expect_rv, ok, t, Env, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{rv_name, Mech, Module, Op, Template};

/// Hex to bytes (vectors are well-formed).
pub fn hx(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fam {
    Digest,
    Mac,
    Cipher,
    RsaSign,
    RsaEnc,
    Ecdsa,
    /// EdDSA (3.0 current mechanisms §2.3.14).
    EdDsa,
    /// ML-DSA (3.2 §6.67).
    MlDsa,
}

/// The key a case needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyKind {
    None,
    Aes,
    Generic,
    Rsa,
    Ec,
    /// A Triple-DES key (the SP 800-67 example key).
    Des3,
    /// The RFC 8032 test 1 Ed25519 key.
    Ed25519,
    /// A generated ML-DSA-44 key pair.
    MlDsa,
    /// A generated P-384 key pair.
    EcP384,
}

#[derive(Clone)]
struct Kat {
    /// Key bytes for secret-key vectors (None: the family's default key).
    key: Option<Vec<u8>>,
    mech: fn() -> Mech,
    op: Op,
    input: Vec<u8>,
    /// Expected output; for Verify the signature.
    output: Vec<u8>,
}

struct Spec {
    name: &'static str,
    ty: CK_MECHANISM_TYPE,
    fam: Fam,
    mech: fn() -> Mech,
    bad_param: Option<fn() -> Mech>,
    multipart: bool,
    deterministic: bool,
    input_len: usize,
    kat: Option<Kat>,
}

const SP800_38A_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172a";
const IV16: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const DIGEST_INFO_SHA256: &str = "3031300d060960864801650304020105000420";
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

macro_rules! m {
    ($e:expr) => {{
        fn f() -> Mech {
            $e
        }
        f as fn() -> Mech
    }};
}

mod advertised;
mod aes;
mod asym;
mod common;
mod derive;
mod des3;
mod digest_mac;
mod kdf;
mod keygen;
mod keygen_new;
mod keys;
mod mechanism;
mod ml_dsa_vectors;
mod params;
mod refuse;
mod sig_new;

use advertised::*;
use common::*;
use digest_mac::general_mech;
use kdf::*;
use keygen::*;
pub use keys::*;
use mechanism::*;
use refuse::*;

/// Every mechanism this runner has cases for, family by family.
fn catalogue() -> Vec<Spec> {
    let mut v = Vec::new();
    digest_mac::specs(&mut v);
    aes::specs(&mut v);
    des3::specs(&mut v);
    asym::specs(&mut v);
    sig_new::specs(&mut v);
    v
}

fn simple(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    digest_mech(ty)
}

/// A parameterless mechanism as a `fn() -> Mech` (one per type, no captures).
fn digest_mech(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    macro_rules! pick {
        ($($c:ident),*) => {
            match ty {
                $($c => m!(Mech::new($c)),)*
                _ => m!(Mech::new(CK_UNAVAILABLE_INFORMATION)),
            }
        };
    }
    pick!(
        CKM_MD5,
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
        CKM_SHA3_224,
        CKM_SHA3_256,
        CKM_SHA3_384,
        CKM_SHA3_512,
        CKM_SHA512_224,
        CKM_SHA512_256,
        CKM_SHA512_224_HMAC,
        CKM_SHA512_256_HMAC,
        CKM_SHA3_224_HMAC,
        CKM_SHA3_256_HMAC,
        CKM_SHA3_384_HMAC,
        CKM_SHA3_512_HMAC,
        CKM_HASH_ML_DSA_SHA224,
        CKM_HASH_ML_DSA_SHA256,
        CKM_HASH_ML_DSA_SHA384,
        CKM_HASH_ML_DSA_SHA512,
        CKM_HASH_ML_DSA_SHA3_224,
        CKM_HASH_ML_DSA_SHA3_256,
        CKM_HASH_ML_DSA_SHA3_384,
        CKM_HASH_ML_DSA_SHA3_512,
        CKM_HASH_ML_DSA_SHAKE128,
        CKM_HASH_ML_DSA_SHAKE256,
        CKM_SHA_1_HMAC,
        CKM_SHA224_HMAC,
        CKM_SHA256_HMAC,
        CKM_SHA384_HMAC,
        CKM_SHA512_HMAC,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512
    )
}

fn key_kind(spec: &Spec) -> KeyKind {
    match spec.fam {
        Fam::Digest => KeyKind::None,
        Fam::Mac if spec.name.starts_with("AES") => KeyKind::Aes,
        Fam::Mac => KeyKind::Generic,
        Fam::Cipher if spec.name.starts_with("DES3") => KeyKind::Des3,
        Fam::Cipher => KeyKind::Aes,
        Fam::RsaSign | Fam::RsaEnc => KeyKind::Rsa,
        Fam::Ecdsa if spec.name.contains("P-384") => KeyKind::EcP384,
        Fam::Ecdsa => KeyKind::Ec,
        Fam::EdDsa => KeyKind::Ed25519,
        Fam::MlDsa => KeyKind::MlDsa,
    }
}

/// (forward key, inverse key) of the family's default key.
fn keys(
    m: &Module,
    s: CK_SESSION_HANDLE,
    kind: KeyKind,
    mech_min: CK_ULONG,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    Ok(match kind {
        KeyKind::None => (0, 0),
        KeyKind::Aes => {
            let k = secret(m, s, CKK_AES, &hx(SP800_38A_KEY))?;
            (k, k)
        }
        KeyKind::Des3 => {
            let k = secret(m, s, CKK_DES3, &hx(des3::SP800_67_KEY))?;
            (k, k)
        }
        KeyKind::Generic => {
            let len = (mech_min as usize).clamp(32, 128);
            let k = secret(m, s, CKK_GENERIC_SECRET, &vec![0x5a; len])?;
            (k, k)
        }
        KeyKind::Rsa => {
            let (p, q) = rsa_pair(m, s)?;
            (q, p)
        }
        KeyKind::Ec => {
            let (p, q) = ec_pair(m, s)?;
            (q, p)
        }
        KeyKind::Ed25519 => {
            let (p, q) = sig_new::ed25519_pair(m, s)?;
            (q, p)
        }
        KeyKind::MlDsa => {
            let (p, q) = sig_new::ml_dsa_pair(m, s, CKP_ML_DSA_44)?;
            (q, p)
        }
        KeyKind::EcP384 => {
            let (p, q) = sig_new::p384_pair(m, s)?;
            (q, p)
        }
    })
}

fn ops(fam: Fam) -> (Op, Op) {
    match fam {
        Fam::Digest => (Op::Digest, Op::Digest),
        Fam::Mac | Fam::RsaSign | Fam::Ecdsa | Fam::EdDsa | Fam::MlDsa => (Op::Sign, Op::Verify),
        Fam::Cipher => (Op::Encrypt, Op::Decrypt),
        Fam::RsaEnc => {
            // Encrypt with the public key, decrypt with the private key (swapped in `run_keys`).
            (Op::Encrypt, Op::Decrypt)
        }
    }
}

fn user(m: &Module, e: &Env) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let s = m.open(e.slot, true)?;
    let rv = m.login(s, CKU_USER, &e.pin);
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(s)
}

fn input(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

/// Runs the forward operation; for RSA encryption the public key encrypts.
struct Ctx {
    s: CK_SESSION_HANDLE,
    fwd_key: CK_OBJECT_HANDLE,
    inv_key: CK_OBJECT_HANDLE,
    fwd: Op,
    inv: Op,
}

fn setup(m: &Module, e: &Env, spec: &Spec) -> Result<Ctx, Outcome> {
    let s = user(m, e).map_err(|rv| Outcome::Fail(format!("open+login: {}", rv_name(rv))))?;
    let min = m
        .mech_info(e.slot, spec.ty)
        .map(|i| i.ulMinKeySize)
        .unwrap_or(0);
    let (a, b) = keys(m, s, key_kind(spec), min)
        .map_err(|rv| Outcome::Fail(format!("creating the key: {}", rv_name(rv))))?;
    let (fwd, inv) = ops(spec.fam);
    let (fwd_key, inv_key) = if spec.fam == Fam::RsaEnc {
        (b, a)
    } else {
        (a, b)
    };
    Ok(Ctx {
        s,
        fwd_key,
        inv_key,
        fwd,
        inv,
    })
}

/// Checks that `out` is a valid result of the forward operation on `data`.
fn inverse_ok(m: &Module, spec: &Spec, c: &Ctx, data: &[u8], out: &[u8]) -> Outcome {
    let mech = (spec.mech)();
    match c.inv {
        Op::Verify => expect_rv(&[CKR_OK], m.run_verify(c.s, &mech, c.inv_key, data, out)),
        Op::Decrypt => match m.run(Op::Decrypt, c.s, &mech, c.inv_key, out) {
            Ok(p) => check(p == data, || {
                "expected decryption to give the plaintext back".into()
            }),
            Err(rv) => Outcome::Fail(format!("C_Decrypt: {}", rv_name(rv))),
        },
        _ => match m.run(Op::Digest, c.s, &mech, 0, data) {
            Ok(d) => check(d == out, || "expected the same digest twice".into()),
            Err(rv) => Outcome::Fail(format!("C_Digest: {}", rv_name(rv))),
        },
    }
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    let specs = catalogue();
    r.group("mechanisms", |r, env| {
        advertised(r, env, &specs);
        for spec in &specs {
            mechanism(r, env, spec);
        }
        common(r, env);
        keygen(r, env);
        keygen_new::keygen_new(r, env);
        sig_new::params_cases(r, env);
        hkdf(r, env);
        derive::derive(r, env);
        refuse(r, env);
    });
}
