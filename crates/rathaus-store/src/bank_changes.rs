//! Changes of a municipality's bank details (account and SEPA creditor id) that wait for a second
//! person's confirmation. One change at a time may wait per municipality; deciding it is a single
//! conditional update, so that two people deciding at once cannot both succeed.
//!
//! The details are the municipality's own, published on every notice; they are not personal data
//! and are stored as plain JSON like the rest of the profile.

use rathaus_domain::tenant::BankAccount;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::db::{Row, Tx};
use crate::{Store, StoreError, args};

/// The bank details of a profile: what a change replaces as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankDetails {
    pub bank: Option<BankAccount>,
    pub creditor_id: Option<String>,
}

/// A change waiting for confirmation (or, once decided, how it was decided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankChange {
    pub id: String,
    pub tenant_key: String,
    /// The staff account that proposed it.
    pub proposed_by: String,
    pub proposed_at_ms: i64,
    pub details: BankDetails,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Confirmed,
    Rejected,
}

impl Decision {
    fn code(self) -> &'static str {
        match self {
            Decision::Confirmed => "confirmed",
            Decision::Rejected => "rejected",
        }
    }
}

fn change(row: &Row) -> Result<BankChange, StoreError> {
    Ok(BankChange {
        id: row.text("id")?,
        tenant_key: row.text("tenant_key")?,
        proposed_by: row.text("proposed_by")?,
        proposed_at_ms: row.i64("proposed_at")?,
        details: serde_json::from_str(&row.text("details")?)
            .map_err(|e| StoreError::Decode(format!("bank change details: {e}")))?,
    })
}

/// Records a proposed change. [`StoreError::Conflict`] when one is already waiting for this
/// municipality.
pub async fn propose(
    tx: &mut Tx,
    id: &str,
    tenant_key: &str,
    proposed_by: &str,
    details: &BankDetails,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(details).map_err(|e| StoreError::Decode(e.to_string()))?;
    tx.execute(
        "INSERT INTO bank_changes (id, tenant_key, proposed_by, proposed_at, details, status)
         VALUES ($1, $2, $3, $4, $5, 'pending')",
        args![id, tenant_key, proposed_by, crate::now_ms(now), json],
    )
    .await?;
    Ok(())
}

/// Decides the waiting change `id` of `tenant_key` and returns it; `None` when there is no such
/// change waiting (decided meanwhile, or never there). A confirmation by the person who proposed
/// the change finds nothing either: the rule is kept here, where no race can slip past it.
pub async fn decide(
    tx: &mut Tx,
    tenant_key: &str,
    id: &str,
    decision: Decision,
    decided_by: &str,
    now: OffsetDateTime,
) -> Result<Option<BankChange>, StoreError> {
    let sql = match decision {
        Decision::Confirmed => {
            "UPDATE bank_changes SET status = $3, decided_by = $4, decided_at = $5
             WHERE id = $1 AND tenant_key = $2 AND status = 'pending' AND proposed_by <> $4
             RETURNING id, tenant_key, proposed_by, proposed_at, details"
        }
        Decision::Rejected => {
            "UPDATE bank_changes SET status = $3, decided_by = $4, decided_at = $5
             WHERE id = $1 AND tenant_key = $2 AND status = 'pending'
             RETURNING id, tenant_key, proposed_by, proposed_at, details"
        }
    };
    tx.fetch_optional(
        sql,
        args![
            id,
            tenant_key,
            decision.code(),
            decided_by,
            crate::now_ms(now)
        ],
    )
    .await?
    .as_ref()
    .map(change)
    .transpose()
}

impl Store {
    /// The change waiting for confirmation in a municipality, if any.
    pub async fn pending_bank_change(
        &self,
        tenant_key: &str,
    ) -> Result<Option<BankChange>, StoreError> {
        const SQL: &str = "SELECT id, tenant_key, proposed_by, proposed_at, details
            FROM bank_changes WHERE tenant_key = $1 AND status = 'pending'";
        self.pool()
            .fetch_optional(SQL, args![tenant_key])
            .await?
            .as_ref()
            .map(change)
            .transpose()
    }
}
