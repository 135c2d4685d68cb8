//! Signed checkpoints of the audit chain's head: ECDSA over P-256 with SHA-256 (BSI TR-02102-1).
//!
//! The hash chain shows any change inside the log, but whoever can write the database can cut
//! entries off its end and set the head to match, or build a new chain altogether. A checkpoint
//! is the head (sequence number and hash) at a moment, signed with a key kept apart from the data
//! and written outside the database: a log that no longer holds a checkpointed head was cut or
//! rewritten, whatever its own chain says.
//!
//! A checkpoint is a short text file, one `name: value` line each:
//!
//! ```text
//! format: rathaus-audit-checkpoint/1
//! seq: 1234
//! hash: <64 hex digits>
//! at_ms: 1796300000000
//! key: <16 hex digits: the start of the SHA-256 of the public key>
//! signature: <the fixed-length signature, hex>
//! ```

use data_encoding::{BASE64, HEXLOWER};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use sha2::{Digest, Sha256};

use crate::audit::Hash;

const FORMAT: &str = "rathaus-audit-checkpoint/1";
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not an audit signing key (expected a PKCS#8 P-256 private key in PEM form)")]
    BadKey,
    #[error("the system's random number generator failed")]
    Random,
    #[error("not a checkpoint: {0}")]
    Malformed(String),
    #[error("signed with another key ({0}), not this installation's audit key")]
    OtherKey(String),
    #[error("its signature does not match its content (altered or forged)")]
    BadSignature,
}

/// The private key that signs checkpoints.
pub struct CheckpointKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl CheckpointKey {
    /// A new key and its PKCS#8 PEM text, to be stored (readable by the owner only).
    pub fn generate() -> Result<(CheckpointKey, String), CheckpointError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| CheckpointError::Random)?;
        let key = CheckpointKey::from_der(document.as_ref())?;
        let body = BASE64.encode(document.as_ref());
        let mut pem = String::from(PEM_BEGIN);
        pem.push('\n');
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        Ok((key, pem))
    }

    /// The key from its PKCS#8 PEM text.
    pub fn from_pem(pem: &str) -> Result<CheckpointKey, CheckpointError> {
        let body: String = pem
            .trim()
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.strip_suffix(PEM_END))
            .ok_or(CheckpointError::BadKey)?
            .split_whitespace()
            .collect();
        let der = BASE64
            .decode(body.as_bytes())
            .map_err(|_| CheckpointError::BadKey)?;
        CheckpointKey::from_der(&der)
    }

    fn from_der(der: &[u8]) -> Result<CheckpointKey, CheckpointError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| CheckpointError::BadKey)?;
        Ok(CheckpointKey { pair, rng })
    }

    /// The public key (an uncompressed P-256 point), which verifies this key's checkpoints.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// A short name for the key, written into each checkpoint.
    pub fn key_id(&self) -> String {
        key_id(self.public_key())
    }

    pub fn sign(&self, seq: i64, hash: &Hash, at_ms: i64) -> Result<Checkpoint, CheckpointError> {
        let signature = self
            .pair
            .sign(&self.rng, &message(seq, hash, at_ms))
            .map_err(|_| CheckpointError::Random)?;
        Ok(Checkpoint {
            seq,
            hash: *hash,
            at_ms,
            key_id: self.key_id(),
            signature: signature.as_ref().to_vec(),
        })
    }
}

fn key_id(public_key: &[u8]) -> String {
    HEXLOWER.encode(&Sha256::digest(public_key)[..8])
}

/// What is signed: the format's name, then sequence number, hash and time, fixed-length.
fn message(seq: i64, hash: &Hash, at_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(FORMAT.len() + 48);
    out.extend_from_slice(FORMAT.as_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(&at_ms.to_be_bytes());
    out
}

/// The audit chain's head at a moment, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: Hash,
    /// When it was made, milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    pub key_id: String,
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// Checks that the key with this public key signed exactly this content.
    pub fn verify(&self, public_key: &[u8]) -> Result<(), CheckpointError> {
        let expected = key_id(public_key);
        if self.key_id != expected {
            return Err(CheckpointError::OtherKey(self.key_id.clone()));
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
            .verify(&message(self.seq, &self.hash, self.at_ms), &self.signature)
            .map_err(|_| CheckpointError::BadSignature)
    }

    pub fn to_text(&self) -> String {
        format!(
            "format: {FORMAT}\nseq: {}\nhash: {}\nat_ms: {}\nkey: {}\nsignature: {}\n",
            self.seq,
            HEXLOWER.encode(&self.hash),
            self.at_ms,
            self.key_id,
            HEXLOWER.encode(&self.signature)
        )
    }

    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let malformed = |what: &str| CheckpointError::Malformed(what.to_owned());
        let mut fields = std::collections::HashMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| malformed("a line without a name"))?;
            if fields.insert(name.trim(), value.trim()).is_some() {
                return Err(malformed("a field given twice"));
            }
        }
        let field = |name: &str| {
            fields
                .get(name)
                .copied()
                .ok_or_else(|| CheckpointError::Malformed(format!("no {name}")))
        };
        if field("format")? != FORMAT {
            return Err(malformed("unknown format"));
        }
        let hex = |name: &str| {
            HEXLOWER
                .decode(field(name)?.as_bytes())
                .map_err(|_| CheckpointError::Malformed(format!("{name} is not hexadecimal")))
        };
        Ok(Checkpoint {
            seq: field("seq")?
                .parse()
                .map_err(|_| malformed("seq is not a number"))?,
            hash: hex("hash")?
                .try_into()
                .map_err(|_| malformed("hash has the wrong length"))?,
            at_ms: field("at_ms")?
                .parse()
                .map_err(|_| malformed("at_ms is not a number"))?,
            key_id: field("key")?.to_owned(),
            signature: hex("signature")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_under_its_key_only_and_as_written() {
        let (key, pem) = CheckpointKey::generate().unwrap();
        let again = CheckpointKey::from_pem(&pem).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(key.public_key().len(), 65);

        let cp = key.sign(42, &[7u8; 32], 1_796_300_000_000).unwrap();
        let parsed = Checkpoint::parse(&cp.to_text()).unwrap();
        assert_eq!(parsed, cp);
        parsed.verify(key.public_key()).unwrap();

        // Another sequence number, hash or time under the same signature is refused.
        for altered in [
            Checkpoint {
                seq: 41,
                ..cp.clone()
            },
            Checkpoint {
                hash: [8u8; 32],
                ..cp.clone()
            },
            Checkpoint {
                at_ms: cp.at_ms + 1,
                ..cp.clone()
            },
        ] {
            assert_eq!(
                altered.verify(key.public_key()),
                Err(CheckpointError::BadSignature)
            );
        }
        // Another installation's key, even when the file claims this key's name.
        let (other, _) = CheckpointKey::generate().unwrap();
        let forged = other.sign(42, &[7u8; 32], cp.at_ms).unwrap();
        assert!(matches!(
            forged.verify(key.public_key()),
            Err(CheckpointError::OtherKey(_))
        ));
        let disguised = Checkpoint {
            key_id: key.key_id(),
            ..forged
        };
        assert_eq!(
            disguised.verify(key.public_key()),
            Err(CheckpointError::BadSignature)
        );

        assert!(matches!(
            Checkpoint::parse("format: something-else\n"),
            Err(CheckpointError::Malformed(_))
        ));
        assert_eq!(
            CheckpointKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .err(),
            Some(CheckpointError::BadKey)
        );
    }
}
