//! Randomness as an injected dependency.

use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::CryptoError;

pub trait RandomSource: Send + Sync {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError>;

    fn bytes<const N: usize>(&self) -> Result<[u8; N], CryptoError>
    where
        Self: Sized,
    {
        let mut out = [0u8; N];
        self.fill(&mut out)?;
        Ok(out)
    }
}

/// Fills a fixed-size array from any source, including trait objects.
pub fn random_array<const N: usize>(rng: &dyn RandomSource) -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    rng.fill(&mut out)?;
    Ok(out)
}

/// The operating system's cryptographically secure generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        getrandom::fill(buf).map_err(|e| CryptoError::Random(e.to_string()))
    }
}

/// A deterministic stream for tests: SHA-256 of the seed and a counter. Never use it in production.
pub struct SeededRandom {
    seed: [u8; 32],
    state: Mutex<(u64, Vec<u8>)>,
}

impl SeededRandom {
    pub fn new(seed: u64) -> SeededRandom {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        SeededRandom {
            seed: s,
            state: Mutex::new((0, Vec::new())),
        }
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| CryptoError::Random("poisoned".into()))?;
        let (counter, pool) = &mut *guard;
        for byte in buf.iter_mut() {
            if pool.is_empty() {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(counter.to_le_bytes());
                *counter += 1;
                pool.extend(h.finalize().iter().rev());
            }
            *byte = pool.pop().unwrap_or(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_is_reproducible_and_seed_dependent() {
        let a: [u8; 40] = SeededRandom::new(1).bytes().unwrap();
        let b: [u8; 40] = SeededRandom::new(1).bytes().unwrap();
        let c: [u8; 40] = SeededRandom::new(2).bytes().unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn os_random_differs_between_draws() {
        let a: [u8; 16] = OsRandom.bytes().unwrap();
        let b: [u8; 16] = OsRandom.bytes().unwrap();
        assert_ne!(a, b);
    }
}
