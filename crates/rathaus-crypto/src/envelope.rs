//! Envelope encryption: personal data is sealed under a per-tenant data key, and the data keys are
//! wrapped by the installation's master key.
//!
//! Sealed format (version 1):
//!
//! ```text
//! [0x01][key id length: u8][key id: ASCII][nonce: 12 bytes][AES-256-GCM ciphertext + 16-byte tag]
//! ```
//!
//! The associated data binds the format version, the key id, the tenant and the record (table, id
//! and field), so a ciphertext copied into another row, field or tenant no longer decrypts.
//! Rotating the master key re-wraps the data keys; the sealed data stays untouched.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};

use data_encoding::{BASE64, HEXLOWER};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::CryptoError;
use crate::random::{RandomSource, random_array};

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const KEY_FILE_PREFIX: &str = "rathaus-master-key-v1:";

/// Where a sealed value belongs. Binding it as associated data is what makes a moved ciphertext fail.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub tenant: &'a str,
    /// Table, record id and field, e.g. `("case", "k3x…", "data")`.
    pub table: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

impl Aad<'_> {
    fn bytes(&self, key_id: &str) -> Vec<u8> {
        // Length-prefixed so that no two different contexts encode to the same bytes.
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"rathaus/sealed/v1");
        for part in [key_id, self.tenant, self.table, self.record, self.field] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

fn cipher(key: &[u8; 32]) -> Result<Aes256Gcm, CryptoError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Encrypt)
}

fn nonce(bytes: &[u8]) -> Result<Nonce<Aes256Gcm>, CryptoError> {
    Nonce::<Aes256Gcm>::try_from(bytes).map_err(|_| CryptoError::Format("nonce length"))
}

/// The installation's root key. Never stored in the database.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn generate(rng: &dyn RandomSource) -> Result<MasterKey, CryptoError> {
        Ok(MasterKey(random_array(rng)?))
    }

    /// A public fingerprint of the key: lets the server tell a wrong key from a right one without
    /// trying to decrypt anything.
    pub fn id(&self) -> String {
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(b"rathaus master key id v1");
        let tag = mac.finalize().into_bytes();
        format!("mk-{}", HEXLOWER.encode(&tag[..8]))
    }

    /// A secret for another purpose (e.g. CSRF tokens), derived so that every node of an
    /// installation computes the same one and no further secret needs storing.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return [0u8; 32],
        };
        mac.update(b"rathaus derived secret v1|");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The text stored in the key file.
    pub fn to_file_contents(&self) -> String {
        format!("{KEY_FILE_PREFIX}{}\n", BASE64.encode(&self.0))
    }

    pub fn from_file_contents(text: &str) -> Result<MasterKey, CryptoError> {
        let body = text.trim().strip_prefix(KEY_FILE_PREFIX).ok_or_else(|| {
            CryptoError::KeyFile(format!("it must start with {KEY_FILE_PREFIX:?}"))
        })?;
        let mut bytes = BASE64
            .decode(body.as_bytes())
            .map_err(|_| CryptoError::KeyFile("the key is not valid base64".into()))?;
        let result = <[u8; 32]>::try_from(bytes.as_slice())
            .map(MasterKey)
            .map_err(|_| {
                CryptoError::KeyFile(format!("the key has {} bytes instead of 32", bytes.len()))
            });
        bytes.zeroize();
        result
    }

    /// Wraps a tenant's data key; the tenant and key id are bound so a wrapped key cannot be
    /// swapped between tenants.
    pub fn wrap(
        &self,
        rng: &dyn RandomSource,
        tenant: &str,
        key: &DataKey,
    ) -> Result<Vec<u8>, CryptoError> {
        let n: [u8; NONCE_LEN] = random_array(rng)?;
        let aad = wrap_aad(tenant, &key.id);
        let ct = cipher(&self.0)?
            .encrypt(
                &nonce(&n)?,
                Payload {
                    msg: &key.secret,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&n);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn unwrap_key(
        &self,
        tenant: &str,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, CryptoError> {
        if wrapped.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Format("wrapped key too short"));
        }
        let (n, ct) = wrapped.split_at(NONCE_LEN);
        let aad = wrap_aad(tenant, key_id);
        let mut plain = cipher(&self.0)?
            .decrypt(&nonce(n)?, Payload { msg: ct, aad: &aad })
            .map_err(|_| CryptoError::Decrypt)?;
        let secret = <[u8; 32]>::try_from(plain.as_slice())
            .map_err(|_| CryptoError::Format("data key length"));
        plain.zeroize();
        Ok(DataKey {
            id: key_id.to_owned(),
            secret: secret?,
        })
    }
}

fn wrap_aad(tenant: &str, key_id: &str) -> Vec<u8> {
    format!("rathaus/tenant-key/v1|{}|{tenant}|{key_id}", tenant.len()).into_bytes()
}

/// A tenant's data key. Its id travels with every ciphertext made with it.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey {
    #[zeroize(skip)]
    id: String,
    secret: [u8; 32],
}

impl DataKey {
    pub fn generate(rng: &dyn RandomSource) -> Result<DataKey, CryptoError> {
        let id_bytes: [u8; 8] = random_array(rng)?;
        Ok(DataKey {
            id: format!("dk-{}", HEXLOWER.encode(&id_bytes)),
            secret: random_array(rng)?,
        })
    }

    /// A key derived for a short-lived purpose and never stored (e.g. the search terms of one
    /// staff session): its secret comes from the caller's key derivation.
    pub fn derived(id: &str, secret: [u8; 32]) -> DataKey {
        DataKey {
            id: id.to_owned(),
            secret,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn seal(
        &self,
        rng: &dyn RandomSource,
        aad: Aad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let id = self.id.as_bytes();
        let id_len = u8::try_from(id.len()).map_err(|_| CryptoError::Format("key id too long"))?;
        let n: [u8; NONCE_LEN] = random_array(rng)?;
        let ct = cipher(&self.secret)?
            .encrypt(
                &nonce(&n)?,
                Payload {
                    msg: plaintext,
                    aad: &aad.bytes(&self.id),
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.push(id_len);
        out.extend_from_slice(id);
        out.extend_from_slice(&n);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, aad: Aad<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let parts = SealedParts::parse(sealed)?;
        if parts.key_id != self.id {
            return Err(CryptoError::Decrypt);
        }
        cipher(&self.secret)?
            .decrypt(
                &nonce(parts.nonce)?,
                Payload {
                    msg: parts.ciphertext,
                    aad: &aad.bytes(&self.id),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }
}

struct SealedParts<'a> {
    key_id: &'a str,
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> SealedParts<'a> {
    fn parse(sealed: &'a [u8]) -> Result<SealedParts<'a>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Format("empty"))?;
        if version != FORMAT_V1 {
            return Err(CryptoError::Format("unknown format version"));
        }
        let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Format("truncated"))?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + 16 {
            return Err(CryptoError::Format("truncated"));
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key_id =
            std::str::from_utf8(id).map_err(|_| CryptoError::Format("key id not ASCII"))?;
        Ok(SealedParts {
            key_id,
            nonce,
            ciphertext,
        })
    }
}

/// The id of the key a sealed value was made with, so the caller can fetch the right key.
pub fn sealed_key_id(sealed: &[u8]) -> Result<&str, CryptoError> {
    SealedParts::parse(sealed).map(|p| p.key_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn aad<'a>(tenant: &'a str, record: &'a str) -> Aad<'a> {
        Aad {
            tenant,
            table: "case",
            record,
            field: "data",
        }
    }

    #[test]
    fn sealed_data_opens_only_in_its_own_place() {
        let rng = SeededRandom::new(1);
        let key = DataKey::generate(&rng).unwrap();
        let sealed = key
            .seal(&rng, aad("12060181", "r1"), b"Erika Mustermann")
            .unwrap();
        assert_eq!(
            key.open(aad("12060181", "r1"), &sealed).unwrap(),
            b"Erika Mustermann"
        );
        assert_eq!(sealed_key_id(&sealed).unwrap(), key.id());
        // Another record, another tenant, another field: all refused.
        assert!(key.open(aad("12060181", "r2"), &sealed).is_err());
        assert!(key.open(aad("12069020", "r1"), &sealed).is_err());
        assert!(
            key.open(
                Aad {
                    field: "name",
                    ..aad("12060181", "r1")
                },
                &sealed
            )
            .is_err()
        );
        // A flipped bit anywhere is refused.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                key.open(aad("12060181", "r1"), &bad).is_err(),
                "bit flip at {i} accepted"
            );
        }
        // The same plaintext never gives the same ciphertext twice.
        assert_ne!(
            key.seal(&rng, aad("12060181", "r1"), b"Erika Mustermann")
                .unwrap(),
            sealed
        );
    }

    #[test]
    fn data_keys_survive_master_key_rotation_without_resealing() {
        let rng = SeededRandom::new(2);
        let old = MasterKey::generate(&rng).unwrap();
        let new = MasterKey::generate(&rng).unwrap();
        let key = DataKey::generate(&rng).unwrap();
        let sealed = key.seal(&rng, aad("t", "r"), b"secret").unwrap();
        let wrapped_old = old.wrap(&rng, "t", &key).unwrap();
        let rewrapped = new
            .wrap(
                &rng,
                "t",
                &old.unwrap_key("t", key.id(), &wrapped_old).unwrap(),
            )
            .unwrap();
        let restored = new.unwrap_key("t", key.id(), &rewrapped).unwrap();
        assert_eq!(restored.open(aad("t", "r"), &sealed).unwrap(), b"secret");
        assert!(old.unwrap_key("t", key.id(), &rewrapped).is_err());
        assert!(
            new.unwrap_key("other-tenant", key.id(), &rewrapped)
                .is_err()
        );
    }

    #[test]
    fn key_file_round_trips_and_ids_differ() {
        let rng = SeededRandom::new(3);
        let k = MasterKey::generate(&rng).unwrap();
        let text = k.to_file_contents();
        let back = MasterKey::from_file_contents(&text).unwrap();
        assert_eq!(k.id(), back.id());
        assert_ne!(k.id(), MasterKey::generate(&rng).unwrap().id());
        assert!(MasterKey::from_file_contents("nonsense").is_err());
        assert!(MasterKey::from_file_contents("rathaus-master-key-v1:AAAA").is_err());
    }
}
