//! Thin wrappers over the crypto crates. This is the only module that imports
//! `aes-gcm`, `rsa`, `p256`, `sha2` and friends, so that another backend for one
//! algorithm can be swapped in without touching the layers above.

pub mod aead;
pub mod aes;
pub mod ec;
pub mod hash;
pub mod pinkdf;
pub mod rsa;
pub mod seal;

/// Fills `buf` with bytes from the operating system's random source.
pub fn random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// `n` random bytes in a buffer that is wiped on drop.
pub fn random_vec(n: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, getrandom::Error> {
    let mut v = zeroize::Zeroizing::new(vec![0u8; n]);
    random(&mut v)?;
    Ok(v)
}
