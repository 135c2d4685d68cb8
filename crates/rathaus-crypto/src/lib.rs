//! Cryptography of rathaus, kept in one place so that it can be reviewed in one sitting.
//!
//! - [`envelope`]: personal data is sealed with AES-256-GCM under a data key per tenant; the data keys
//!   are wrapped by one master key. Each ciphertext names its key and binds the tenant and the record
//!   it belongs to as associated data. Keyed indexes over sealed data use index keys, wrapped by the
//!   master key like the data keys, so that they survive a rotation of the master key.
//! - [`audit`]: the canonical form of an audit entry and the hash chain over all entries.
//! - [`random`]: randomness behind a trait, so that tests can make it deterministic.
//! - [`token`]: secret tokens for links (at least 128 random bits) and their stored hashes.
//! - [`password`]: rules for staff passwords and Argon2id hashing; [`totp`]: the second factor.

pub mod audit;
pub mod checkpoint;
pub mod envelope;
pub mod password;
pub mod random;
pub mod token;
pub mod totp;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("decryption failed: wrong key, or the data was altered or moved to another record")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("a keyed hash could not be computed")]
    Mac,
    #[error("malformed ciphertext: {0}")]
    Format(&'static str),
    #[error("malformed master key file: {0}")]
    KeyFile(String),
}
