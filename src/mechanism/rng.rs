//! Random numbers (`C_GenerateRandom`, `C_SeedRandom`).
//!
//! The bytes come from the operating system's generator. `C_SeedRandom` does
//! not replace or reseed it (an application cannot): it folds the caller's
//! seed into a pool, and from then on every `C_GenerateRandom` output is the
//! operating system's bytes XORed with a SHA-256 stream keyed by the pool and a
//! call counter. A stream fixed before the OS bytes are drawn and independent of
//! them cannot make them less random, so a seed, however poor or hostile, never
//! weakens the output; a good one adds its entropy. Key generation draws from
//! the operating system directly and never sees the pool.

use crate::crypto::rsa::HashAlg;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use zeroize::Zeroizing;

/// The seed pool: the SHA-256 of every seed given so far (`None`: no seed yet),
/// and how many outputs it has keyed.
static POOL: Mutex<Option<(Zeroizing<Vec<u8>>, u64)>> = Mutex::new(None);

/// Folds a caller's seed into the pool (`C_SeedRandom`). Any length; nothing is
/// allocated by its size.
pub(crate) fn seed(bytes: &[u8]) {
    let mut pool = POOL.lock();
    let before = pool.as_ref().map(|(p, _)| p.as_slice()).unwrap_or(&[]);
    let next = Zeroizing::new(HashAlg::Sha256.digest(&[b"softkms seed", before, bytes]));
    let count = pool.as_ref().map_or(0, |(_, c)| *c);
    *pool = Some((next, count));
}

/// Fills `buf` from the OS random source, mixed with the seed pool when a
/// caller has seeded it.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    crate::crypto::random(buf).map_err(|_| Error::FunctionFailed)?;
    let key = {
        let mut pool = POOL.lock();
        let Some((p, count)) = pool.as_mut() else {
            return Ok(());
        };
        *count = count.wrapping_add(1);
        Zeroizing::new(HashAlg::Sha256.digest(&[p.as_slice(), &count.to_be_bytes()]))
    };
    for (i, chunk) in buf.chunks_mut(32).enumerate() {
        let block = Zeroizing::new(
            HashAlg::Sha256.digest(&[&key, &u64::try_from(i).unwrap_or(u64::MAX).to_be_bytes()]),
        );
        for (b, k) in chunk.iter_mut().zip(block.iter()) {
            *b ^= k;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_output_is_still_random_and_differs_per_call() {
        seed(&[0u8; 32]);
        seed(b"");
        let mut a = [0u8; 100];
        let mut b = [0u8; 100];
        fill(&mut a).unwrap_or_else(|e| panic!("{e:?}"));
        fill(&mut b).unwrap_or_else(|e| panic!("{e:?}"));
        assert_ne!(a, b);
        assert!(a.iter().any(|&x| x != 0));
        assert_ne!(a[..32], a[32..64]);
    }
}
