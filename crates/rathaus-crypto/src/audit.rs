//! The audit log's hash chain.
//!
//! Entry n's hash is SHA-256 over entry n-1's hash and the canonical bytes of entry n (its
//! sequence number, time, actor, tenant, action, object and outcome). Changing, deleting or
//! reordering any entry breaks every hash from that point on.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The hash that the first entry chains from.
pub const GENESIS: Hash = [0u8; 32];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    /// Milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    pub actor: String,
    pub tenant: Option<String>,
    pub action: String,
    pub object: String,
    pub outcome: String,
}

impl AuditRecord {
    /// Unambiguous encoding: every field length-prefixed, absent tenant distinct from empty.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"rathaus/audit/v1");
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at_ms.to_be_bytes());
        let tenant = self.tenant.as_deref();
        out.push(u8::from(tenant.is_some()));
        for part in [
            self.actor.as_str(),
            tenant.unwrap_or(""),
            &self.action,
            &self.object,
            &self.outcome,
        ] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }

    pub fn chain_hash(&self, prev: &Hash) -> Hash {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.canonical_bytes());
        h.finalize().into()
    }
}

/// An entry as read back from storage, with the hashes stored beside it.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub record: AuditRecord,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq} is broken: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Walks entries in storage order and checks sequence, links and hashes. Returns the number of
/// entries verified and the last hash, or the first broken entry.
pub struct ChainVerifier {
    expected_seq: i64,
    prev: Hash,
    count: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev: GENESIS,
            count: 0,
        }
    }
}

impl ChainVerifier {
    pub fn check(&mut self, entry: &StoredEntry) -> Result<(), ChainBreak> {
        let seq = entry.record.seq;
        if seq != self.expected_seq {
            let reason = if seq > self.expected_seq {
                format!("entries {} to {} are missing", self.expected_seq, seq - 1)
            } else {
                format!("out of order, expected entry {}", self.expected_seq)
            };
            return Err(ChainBreak { seq, reason });
        }
        if entry.prev_hash.as_slice() != self.prev.as_slice() {
            return Err(ChainBreak {
                seq,
                reason: "its link to the previous entry does not match".into(),
            });
        }
        let computed = entry.record.chain_hash(&self.prev);
        if entry.hash.as_slice() != computed.as_slice() {
            return Err(ChainBreak {
                seq,
                reason: "its content does not match its hash (altered)".into(),
            });
        }
        self.prev = computed;
        self.expected_seq += 1;
        self.count += 1;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn last_hash(&self) -> Hash {
        self.prev
    }

    pub fn last_seq(&self) -> i64 {
        self.expected_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredEntry> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let record = AuditRecord {
                    seq,
                    at_ms: 1_700_000_000_000 + seq,
                    actor: "system".into(),
                    tenant: (seq % 2 == 0).then(|| "12060181".into()),
                    action: "tenant.enable".into(),
                    object: format!("tenant:{seq}"),
                    outcome: "ok".into(),
                };
                let hash = record.chain_hash(&prev);
                let e = StoredEntry {
                    record,
                    prev_hash: prev.to_vec(),
                    hash: hash.to_vec(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(entries: &[StoredEntry]) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for e in entries {
            v.check(e)?;
        }
        Ok(v.count())
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn edits_deletions_and_reordering_are_found() {
        let mut edited = chain(5);
        edited[2].record.outcome = "denied".into();
        assert_eq!(verify(&edited).unwrap_err().seq, 3);

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(verify(&deleted).unwrap_err().seq, 3);

        let mut swapped = chain(5);
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped).unwrap_err().seq, 3);

        // Renumbering after a deletion still breaks the links.
        let mut renumbered = chain(5);
        renumbered.remove(1);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.record.seq = i as i64 + 1;
        }
        assert_eq!(verify(&renumbered).unwrap_err().seq, 2);
    }

    #[test]
    fn absent_tenant_differs_from_empty_tenant() {
        let a = AuditRecord {
            seq: 1,
            at_ms: 0,
            actor: "a".into(),
            tenant: None,
            action: "x".into(),
            object: "o".into(),
            outcome: "ok".into(),
        };
        let b = AuditRecord {
            tenant: Some(String::new()),
            ..a.clone()
        };
        assert_ne!(a.chain_hash(&GENESIS), b.chain_hash(&GENESIS));
    }
}
