//! Thin wrappers over the crypto crates. This is the only module that imports
//! `aes-gcm`, `rsa`, `p256`, `sha2`, `aws-lc-rs` and friends, so that another
//! backend for one algorithm can be swapped in without touching the layers above.
//!
//! Two builds (docs/mechanisms.md, "Crypto backends"): with the default
//! `aws-lc` feature, each function here hands the cases that `aws-lc-rs` covers
//! exactly as PKCS#11 asks (AES-GCM one-shot with a 96-bit IV and a full tag,
//! RSA with a standard hash, SHA-1/SHA-2, HMAC, ...) to it and keeps the
//! RustCrypto code for everything else; with `--no-default-features --features
//! pure-rust` only the RustCrypto code is built.

#[cfg(all(feature = "aws-lc", feature = "pure-rust"))]
compile_error!(
    "the `aws-lc` and `pure-rust` features exclude each other: build the pure-Rust \
     module with `--no-default-features --features pure-rust`"
);

pub(crate) mod aead;
pub(crate) mod aes;
pub(crate) mod des;
pub(crate) mod ec;
pub(crate) mod edwards;
pub(crate) mod hash;
pub(crate) mod ml_dsa;
pub(crate) mod ml_kem;
pub(crate) mod montgomery;
pub(crate) mod pinkdf;
pub(crate) mod rsa;
pub(crate) mod seal;
#[cfg(test)]
pub(crate) mod test_vectors;

/// Fills `buf` with bytes from the operating system's random source.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// `n` random bytes in a buffer that is wiped on drop.
pub(crate) fn random_vec(n: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, getrandom::Error> {
    let mut v = zeroize::Zeroizing::new(vec![0u8; n]);
    random(&mut v)?;
    Ok(v)
}
