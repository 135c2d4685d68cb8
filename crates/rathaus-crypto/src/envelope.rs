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
    pub fn id(&self) -> Result<String, CryptoError> {
        let tag = hmac_sha256(&self.0, &[b"rathaus master key id v1"])?;
        Ok(format!("mk-{}", HEXLOWER.encode(&tag[..8])))
    }

    /// A secret for another purpose (e.g. CSRF tokens), derived so that every node of an
    /// installation computes the same one and no further secret needs storing. It changes with
    /// every rotation of the master key: nothing stored may depend on it (keyed indexes use an
    /// [`IndexKey`]).
    pub fn derive(&self, label: &str) -> Result<[u8; 32], CryptoError> {
        hmac_sha256(&self.0, &[b"rathaus derived secret v1|", label.as_bytes()])
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
        self.wrap_secret(rng, &wrap_aad(tenant, &key.id), &key.secret)
    }

    pub fn unwrap_key(
        &self,
        tenant: &str,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, CryptoError> {
        Ok(DataKey {
            id: key_id.to_owned(),
            secret: self.unwrap_secret(&wrap_aad(tenant, key_id), wrapped)?,
        })
    }

    /// Wraps the index key of `scope` (a tenant, or the installation) for `purpose`. Scope and
    /// purpose are bound, and the associated data differs from a data key's, so a wrapped index
    /// key can neither change places nor pass for a data key.
    pub fn wrap_index_key(
        &self,
        rng: &dyn RandomSource,
        scope: &str,
        purpose: &str,
        key: &IndexKey,
    ) -> Result<Vec<u8>, CryptoError> {
        self.wrap_secret(rng, &index_wrap_aad(scope, purpose), &key.0)
    }

    pub fn unwrap_index_key(
        &self,
        scope: &str,
        purpose: &str,
        wrapped: &[u8],
    ) -> Result<IndexKey, CryptoError> {
        self.unwrap_secret(&index_wrap_aad(scope, purpose), wrapped)
            .map(IndexKey)
    }

    fn wrap_secret(
        &self,
        rng: &dyn RandomSource,
        aad: &[u8],
        secret: &[u8; 32],
    ) -> Result<Vec<u8>, CryptoError> {
        let n: [u8; NONCE_LEN] = random_array(rng)?;
        let ct = cipher(&self.0)?
            .encrypt(&nonce(&n)?, Payload { msg: secret, aad })
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&n);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn unwrap_secret(&self, aad: &[u8], wrapped: &[u8]) -> Result<[u8; 32], CryptoError> {
        if wrapped.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Format("wrapped key too short"));
        }
        let (n, ct) = wrapped.split_at(NONCE_LEN);
        let mut plain = cipher(&self.0)?
            .decrypt(&nonce(n)?, Payload { msg: ct, aad })
            .map_err(|_| CryptoError::Decrypt)?;
        let secret =
            <[u8; 32]>::try_from(plain.as_slice()).map_err(|_| CryptoError::Format("key length"));
        plain.zeroize();
        secret
    }
}

fn wrap_aad(tenant: &str, key_id: &str) -> Vec<u8> {
    format!("rathaus/tenant-key/v1|{}|{tenant}|{key_id}", tenant.len()).into_bytes()
}

fn index_wrap_aad(scope: &str, purpose: &str) -> Vec<u8> {
    format!("rathaus/index-key/v1|{}|{scope}|{purpose}", scope.len()).into_bytes()
}

/// HMAC-SHA-256 over the concatenated parts.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| CryptoError::Mac)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// The key of a keyed index over sealed data (the blind index of names, the dog-tax holder index,
/// the lookup hash of staff e-mail addresses): stored values are HMACs under it, so it must stay
/// the same as long as they are stored. It is therefore random and stored wrapped by the master
/// key, re-wrapped on rotation like a data key, never derived from the master key itself.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct IndexKey([u8; 32]);

impl IndexKey {
    pub fn generate(rng: &dyn RandomSource) -> Result<IndexKey, CryptoError> {
        Ok(IndexKey(random_array(rng)?))
    }

    /// An index key with a secret that existed before, so that index values computed with it
    /// stay valid (an installation whose indexes were keyed by a secret derived from the master
    /// key keeps that secret as its first index key).
    pub fn from_secret(secret: [u8; 32]) -> IndexKey {
        IndexKey(secret)
    }

    /// The key for an HMAC; callers bind the tenant and the kind of value into the input.
    pub fn secret(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA-256 of the concatenated parts under this key.
    pub fn mac(&self, parts: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        hmac_sha256(&self.0, parts)
    }
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
        assert_eq!(k.id().unwrap(), back.id().unwrap());
        assert_ne!(
            k.id().unwrap(),
            MasterKey::generate(&rng).unwrap().id().unwrap()
        );
        assert!(MasterKey::from_file_contents("nonsense").is_err());
        assert!(MasterKey::from_file_contents("rathaus-master-key-v1:AAAA").is_err());
    }

    #[test]
    fn ids_and_derived_secrets_are_sound() {
        let rng = SeededRandom::new(4);
        let k = MasterKey::generate(&rng).unwrap();
        let id = k.id().unwrap();
        assert!(id.starts_with("mk-"), "{id}");
        assert_eq!(id.len(), 3 + 16);
        assert!(id[3..].bytes().all(|b| b.is_ascii_hexdigit()));
        let csrf = k.derive("csrf").unwrap();
        assert_eq!(
            csrf,
            k.derive("csrf").unwrap(),
            "every node derives the same"
        );
        assert_ne!(
            csrf,
            k.derive("staff-throttle").unwrap(),
            "one secret per label"
        );
        assert_ne!(csrf, [0u8; 32]);
        assert_ne!(
            csrf,
            MasterKey::generate(&rng).unwrap().derive("csrf").unwrap(),
            "another key, another secret"
        );
    }

    #[test]
    fn index_keys_survive_rotation_and_stay_in_their_place() {
        let rng = SeededRandom::new(5);
        let old = MasterKey::generate(&rng).unwrap();
        let new = MasterKey::generate(&rng).unwrap();
        let key = IndexKey::generate(&rng).unwrap();
        let mac = key.mac(&[b"12060181", b"mueller"]).unwrap();
        let wrapped = old
            .wrap_index_key(&rng, "12060181", "case-names", &key)
            .unwrap();
        let rewrapped = new
            .wrap_index_key(
                &rng,
                "12060181",
                "case-names",
                &old.unwrap_index_key("12060181", "case-names", &wrapped)
                    .unwrap(),
            )
            .unwrap();
        let restored = new
            .unwrap_index_key("12060181", "case-names", &rewrapped)
            .unwrap();
        assert_eq!(restored.secret(), key.secret());
        assert_eq!(restored.mac(&[b"12060181", b"mueller"]).unwrap(), mac);
        // Another scope, another purpose, the old master key, or unwrapped as a data key: refused.
        assert!(
            new.unwrap_index_key("12069020", "case-names", &rewrapped)
                .is_err()
        );
        assert!(
            new.unwrap_index_key("12060181", "dogtax-holders", &rewrapped)
                .is_err()
        );
        assert!(
            old.unwrap_index_key("12060181", "case-names", &rewrapped)
                .is_err()
        );
        assert!(
            new.unwrap_key("12060181", "case-names", &rewrapped)
                .is_err()
        );
        // A secret adopted from before keeps its values.
        let adopted = IndexKey::from_secret(old.derive("blind-index").unwrap());
        assert_eq!(adopted.secret(), &old.derive("blind-index").unwrap());
    }
}
