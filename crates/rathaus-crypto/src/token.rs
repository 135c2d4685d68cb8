//! Secret tokens carried in links (status pages, draft resumption, enrolment).
//!
//! A token has 256 random bits, far above the 128 the threat model asks for, and is stored only
//! as its SHA-256 hash: a copy of the database does not open anybody's links.

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};

use crate::CryptoError;
use crate::random::{RandomSource, random_array};

/// Length of the text form of a token: 32 bytes in unpadded base64url.
pub const TOKEN_LEN: usize = 43;

pub fn new_token(rng: &dyn RandomSource) -> Result<String, CryptoError> {
    let bytes: [u8; 32] = random_array(rng)?;
    Ok(BASE64URL_NOPAD.encode(&bytes))
}

/// True for strings that can be tokens; lets handlers reject garbage before touching storage.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == TOKEN_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The form in which a token is stored and looked up.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A random identifier for records (not a secret): 128 bits as 26 lower-case base32 characters.
pub fn new_record_id(rng: &dyn RandomSource) -> Result<String, CryptoError> {
    let bytes: [u8; 16] = random_array(rng)?;
    Ok(data_encoding::BASE32_NOPAD
        .encode(&bytes)
        .to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn tokens_have_the_documented_shape() {
        let rng = SeededRandom::new(7);
        let t = new_token(&rng).unwrap();
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(looks_like_token(&t));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}!", &t[1..])));
        assert_ne!(new_token(&rng).unwrap(), t);
        assert_eq!(token_hash(&t).len(), 32);
        assert_eq!(new_record_id(&rng).unwrap().len(), 26);
    }
}
