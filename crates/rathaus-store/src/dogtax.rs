//! The dog-tax register (Hundesteuerregister): Satzung versions, households, dogs, tax tags, the
//! register's history and the notices issued from it.
//!
//! Everything personal — the holder's name and address, bank details, every fact about a dog — is
//! sealed under the tenant's data key with its row bound as associated data. Plain columns hold
//! only ids, tag numbers, payment references, states and dates of issue. Every read is scoped by
//! the tenant.
//!
//! Reads take an optional transaction: the decision flow reads what it wrote earlier in the same
//! transaction, previews and exports read committed data through the pool.

use serde_json::Value;
use time::OffsetDateTime;

use crate::db::{Row, Tx};
use crate::keyring::Place;
use crate::{Store, StoreError, args};

/// One stored version of a Satzung: the file as the municipality maintains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStatute {
    pub valid_from: String,
    /// Setting the same `valid_from` again adds a revision; the highest one is in force.
    pub revision: i64,
    pub statute: String,
    pub created_at_ms: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    pub id: String,
    pub tenant_key: String,
    pub kassenzeichen: String,
    /// `debit` or `transfer`.
    pub payment_method: String,
    pub holder: Value,
    pub payment: Value,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub version: i64,
}

#[derive(Clone, Copy)]
pub struct NewHousehold<'a> {
    pub id: &'a str,
    pub tenant_key: &'a str,
    pub kassenzeichen: &'a str,
    pub payment_method: &'a str,
    pub holder: &'a Value,
    /// A keyed hash identifying the holder (see the migration `dogtax_holder_index`).
    pub holder_index: &'a str,
    pub payment: &'a Value,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dog {
    pub id: String,
    pub household_id: String,
    /// `active` or `ended`.
    pub status: String,
    pub facts: Value,
    /// The tag currently valid for the dog, if any.
    pub tag: Option<String>,
    pub created_at_ms: i64,
    pub version: i64,
}

#[derive(Clone, Copy)]
pub struct NewDog<'a> {
    pub id: &'a str,
    /// The dog's number within the household; `None`: the next one. Bulk writers that know it
    /// pass it, which spares a lookup per row.
    pub entry_no: Option<i64>,
    pub tenant_key: &'a str,
    pub household_id: &'a str,
    /// `active`, or `ended` for a dog taken over from an earlier register as already gone.
    pub status: &'a str,
    pub facts: &'a Value,
    pub now: OffsetDateTime,
}

/// A tax tag and the dog it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub tag_number: String,
    pub dog_id: String,
    pub household_id: String,
    pub issued_at_ms: i64,
    pub invalidated_at_ms: Option<i64>,
    pub invalidated_reason: Option<String>,
}

#[derive(Clone, Copy)]
pub struct NewRegisterEvent<'a> {
    /// The event's number within the household; `None`: the next one.
    pub seq: Option<i64>,
    pub tenant_key: &'a str,
    pub household_id: &'a str,
    pub dog_id: Option<&'a str>,
    pub actor: &'a str,
    /// e.g. `registered`, `ended`, `tag_replaced`, `holder_changed`, `imported`.
    pub kind: &'a str,
    pub case_id: Option<&'a str>,
    /// The entry after the change.
    pub snapshot: &'a Value,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegisterEvent {
    pub seq: i64,
    pub dog_id: Option<String>,
    pub at_ms: i64,
    pub actor: String,
    pub kind: String,
    pub case_id: Option<String>,
    pub snapshot: Value,
}

#[derive(Clone, Copy)]
pub struct NewNotice<'a> {
    pub id: &'a str,
    /// The notice's number within the household; `None`: the next one.
    pub seq: Option<i64>,
    pub tenant_key: &'a str,
    pub household_id: &'a str,
    pub year: i32,
    /// `tax`, `change` or `fee`.
    pub kind: &'a str,
    pub case_id: Option<&'a str>,
    pub issued_on: &'a str,
    pub content: &'a Value,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: String,
    pub household_id: String,
    pub seq: i64,
    pub year: i32,
    pub kind: String,
    pub case_id: Option<String>,
    pub issued_at_ms: i64,
    pub issued_on: String,
    pub content: Value,
}

pub(crate) fn place<'a>(table: &'a str, record: &'a str, field: &'a str) -> Place<'a> {
    Place {
        table,
        record,
        field,
    }
}

pub(crate) fn to_bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn decode(bytes: &[u8]) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}

/// A dog with the tag it wears now, if any.
pub(crate) const DOG_COLUMNS: &str = "SELECT d.id, d.household_id, d.status, d.facts, d.created_at, d.version, t.tag_number AS tag
     FROM dogtax_dogs d
     LEFT JOIN dogtax_tags t ON t.dog_id = d.id AND t.tenant_key = d.tenant_key AND t.invalidated_at IS NULL";

pub(crate) const NOTICE_COLUMNS: &str = "SELECT id, household_id, seq, year, kind, case_id, issued_at, issued_on, content FROM dogtax_notices";

pub(crate) const HOUSEHOLD_COLUMNS: &str = "SELECT id, tenant_key, kassenzeichen, payment_method, holder, payment, created_at, updated_at, version FROM dogtax_households";

impl Store {
    async fn dogtax_rows(
        &self,
        tx: Option<&mut Tx>,
        sql: &'static str,
        args: Vec<crate::Value>,
    ) -> Result<Vec<Row>, StoreError> {
        match tx {
            Some(tx) => tx.fetch_all(sql, args).await,
            None => self.pool().fetch_all(sql, args).await,
        }
    }

    pub(crate) async fn dogtax_rows_dynamic(
        &self,
        tx: Option<&mut Tx>,
        sql: String,
        args: Vec<crate::Value>,
    ) -> Result<Vec<Row>, StoreError> {
        match tx {
            Some(tx) => tx.fetch_all(sqlx::AssertSqlSafe(sql), args).await,
            None => self.pool().fetch_all(sqlx::AssertSqlSafe(sql), args).await,
        }
    }

    /// Adds a Satzung version (or a new revision of one) in the caller's transaction and returns
    /// its revision number.
    pub async fn insert_dogtax_statute(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        valid_from: &str,
        statute: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        tx.changes_catalogue().await?;
        let row = tx
            .fetch_one(
                "SELECT COALESCE(MAX(revision), 0) AS last FROM dogtax_statutes WHERE tenant_key = $1 AND valid_from = $2",
                args![tenant_key, valid_from],
            )
            .await?;
        let revision = row.i64("last")? + 1;
        tx.execute(
            "INSERT INTO dogtax_statutes (tenant_key, valid_from, revision, statute, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![tenant_key, valid_from, revision, statute, crate::now_ms(now), actor],
        )
        .await?;
        Ok(revision)
    }

    /// The Satzung versions in force for a tenant: the newest revision of each `valid_from`,
    /// oldest version first (from memory; see [`crate::catalogue`]).
    pub async fn dogtax_statutes(
        &self,
        tenant_key: &str,
    ) -> Result<Vec<StoredStatute>, StoreError> {
        self.catalogue.refresh(self.pool()).await?;
        let epoch = match self.catalogue.dogtax_statutes(tenant_key) {
            crate::catalogue::Cached::Hit(s) => return Ok(s),
            crate::catalogue::Cached::Miss(epoch) => epoch,
        };
        let rows = self
            .pool()
            .fetch_all(
                "SELECT s.valid_from, s.revision, s.statute, s.created_at, s.created_by FROM dogtax_statutes s
                 WHERE s.tenant_key = $1 AND s.revision = (
                     SELECT MAX(x.revision) FROM dogtax_statutes x
                     WHERE x.tenant_key = s.tenant_key AND x.valid_from = s.valid_from)
                 ORDER BY s.valid_from",
                args![tenant_key],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredStatute {
                    valid_from: r.text("valid_from")?,
                    revision: r.i64("revision")?,
                    statute: r.text("statute")?,
                    created_at_ms: r.i64("created_at")?,
                    created_by: r.text("created_by")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .inspect(|statutes| {
                self.catalogue
                    .keep_dogtax_statutes(epoch, tenant_key, statutes)
            })
    }

    /// Serialises the register changes of one municipality until the transaction ends, so that two
    /// decisions for the same household at once cannot both find it missing and create it twice.
    /// SQLite has a single writer already; PostgreSQL takes a transaction-scoped advisory lock
    /// keyed by the tenant.
    pub async fn lock_dogtax_register(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
    ) -> Result<(), StoreError> {
        if tx.dialect() == crate::Dialect::Postgres {
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('dogtax-register:' || $1, 0))",
                args![tenant_key],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn insert_dogtax_household(
        &self,
        tx: &mut Tx,
        h: &NewHousehold<'_>,
    ) -> Result<(), StoreError> {
        self.insert_dogtax_households(tx, std::slice::from_ref(h))
            .await
    }

    /// Replaces a household's holder and payment data (the previous state stays in the register's
    /// history, which the caller appends to).
    #[allow(clippy::too_many_arguments)]
    pub async fn update_dogtax_household(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        id: &str,
        payment_method: &str,
        holder: &Value,
        holder_index: &str,
        payment: &Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let holder = self
            .seal(
                tenant_key,
                place("dogtax_household", id, "holder"),
                &to_bytes(holder),
            )
            .await?;
        let payment = self
            .seal(
                tenant_key,
                place("dogtax_household", id, "payment"),
                &to_bytes(payment),
            )
            .await?;
        let n = tx
            .execute(
                "UPDATE dogtax_households SET payment_method = $3, holder = $4, payment = $5, updated_at = $6, version = version + 1, holder_index = $7
                 WHERE id = $1 AND tenant_key = $2",
                args![id, tenant_key, payment_method, holder, payment, crate::now_ms(now), holder_index],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn household_from_row(&self, row: &Row) -> Result<Household, StoreError> {
        let id = row.text("id")?;
        let tenant_key = row.text("tenant_key")?;
        let holder = self
            .open(
                &tenant_key,
                place("dogtax_household", &id, "holder"),
                &row.bytes("holder")?,
            )
            .await?;
        let payment = self
            .open(
                &tenant_key,
                place("dogtax_household", &id, "payment"),
                &row.bytes("payment")?,
            )
            .await?;
        Ok(Household {
            kassenzeichen: row.text("kassenzeichen")?,
            payment_method: row.text("payment_method")?,
            holder: decode(&holder)?,
            payment: decode(&payment)?,
            created_at_ms: row.i64("created_at")?,
            updated_at_ms: row.i64("updated_at")?,
            version: row.i64("version")?,
            id,
            tenant_key,
        })
    }

    /// Every household of a tenant, oldest first.
    pub async fn dogtax_households(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
    ) -> Result<Vec<Household>, StoreError> {
        let sql =
            format!("{HOUSEHOLD_COLUMNS} WHERE tenant_key = $1 ORDER BY created_at, kassenzeichen");
        let rows = self.dogtax_rows_dynamic(tx, sql, args![tenant_key]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.household_from_row(row).await?);
        }
        Ok(out)
    }

    /// The households whose holder has this index, and those from before the index (which the
    /// caller compares by their sealed data), oldest first.
    pub async fn dogtax_households_by_holder(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        holder_index: &str,
    ) -> Result<Vec<Household>, StoreError> {
        let sql = format!(
            "{HOUSEHOLD_COLUMNS} WHERE tenant_key = $1 AND (holder_index = $2 OR holder_index IS NULL)
             ORDER BY created_at, kassenzeichen"
        );
        let rows = self
            .dogtax_rows_dynamic(tx, sql, args![tenant_key, holder_index])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.household_from_row(row).await?);
        }
        Ok(out)
    }

    pub async fn dogtax_household(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        id: &str,
    ) -> Result<Option<Household>, StoreError> {
        let sql = format!("{HOUSEHOLD_COLUMNS} WHERE tenant_key = $1 AND id = $2");
        let rows = self
            .dogtax_rows_dynamic(tx, sql, args![tenant_key, id])
            .await?;
        match rows.first() {
            Some(row) => Ok(Some(self.household_from_row(row).await?)),
            None => Ok(None),
        }
    }

    pub async fn dogtax_household_by_kassenzeichen(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        kassenzeichen: &str,
    ) -> Result<Option<Household>, StoreError> {
        let sql = format!("{HOUSEHOLD_COLUMNS} WHERE tenant_key = $1 AND kassenzeichen = $2");
        let rows = self
            .dogtax_rows_dynamic(tx, sql, args![tenant_key, kassenzeichen])
            .await?;
        match rows.first() {
            Some(row) => Ok(Some(self.household_from_row(row).await?)),
            None => Ok(None),
        }
    }

    pub async fn insert_dogtax_dog(&self, tx: &mut Tx, d: &NewDog<'_>) -> Result<(), StoreError> {
        let entry_no = match d.entry_no {
            Some(n) => n,
            None => {
                tx.fetch_one(
                    "SELECT COALESCE(MAX(entry_no), 0) AS last FROM dogtax_dogs WHERE household_id = $1 AND tenant_key = $2",
                    args![d.household_id, d.tenant_key],
                )
                .await?
                .i64("last")?
                    + 1
            }
        };
        let dog = NewDog {
            entry_no: Some(entry_no),
            ..*d
        };
        self.insert_dogtax_dogs(tx, d.tenant_key, std::slice::from_ref(&dog))
            .await
    }

    /// Replaces a dog's facts and status; `expected_version` guards against a concurrent change
    /// (`Conflict`). `NotFound` for a dog of another tenant.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_dogtax_dog(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        id: &str,
        status: &str,
        facts: &Value,
        expected_version: i64,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let facts = self
            .seal(
                tenant_key,
                place("dogtax_dog", id, "facts"),
                &to_bytes(facts),
            )
            .await?;
        let n = tx
            .execute(
                "UPDATE dogtax_dogs SET status = $3, facts = $4, updated_at = $5, version = version + 1
                 WHERE id = $1 AND tenant_key = $2 AND version = $6",
                args![id, tenant_key, status, facts, crate::now_ms(now), expected_version],
            )
            .await?;
        if n == 0 {
            tx.fetch_optional(
                "SELECT id FROM dogtax_dogs WHERE id = $1 AND tenant_key = $2",
                args![id, tenant_key],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
            return Err(StoreError::Conflict(
                "the register entry was changed meanwhile".into(),
            ));
        }
        Ok(())
    }

    /// The dogs of a tenant (of one household when given), by household in the order they were
    /// entered.
    pub async fn dogtax_dogs(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        household_id: Option<&str>,
    ) -> Result<Vec<Dog>, StoreError> {
        let rows = self
            .dogtax_rows_dynamic(
                tx,
                format!(
                    "{DOG_COLUMNS} WHERE d.tenant_key = $1 AND ($2 IS NULL OR d.household_id = $2)
                     ORDER BY d.household_id, d.entry_no"
                ),
                args![tenant_key, household_id],
            )
            .await?;
        self.dogs_from_rows(tenant_key, &rows).await
    }

    pub(crate) async fn dogs_from_rows(
        &self,
        tenant_key: &str,
        rows: &[Row],
    ) -> Result<Vec<Dog>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.dog_from_row(tenant_key, row).await?);
        }
        Ok(out)
    }

    pub(crate) async fn notices_from_rows(
        &self,
        tenant_key: &str,
        rows: &[Row],
    ) -> Result<Vec<Notice>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.notice_from_row(tenant_key, row).await?);
        }
        Ok(out)
    }

    /// A dog as selected by [`DOG_COLUMNS`].
    async fn dog_from_row(&self, tenant_key: &str, row: &Row) -> Result<Dog, StoreError> {
        let id = row.text("id")?;
        let facts = self
            .open(
                tenant_key,
                place("dogtax_dog", &id, "facts"),
                &row.bytes("facts")?,
            )
            .await?;
        Ok(Dog {
            household_id: row.text("household_id")?,
            status: row.text("status")?,
            facts: decode(&facts)?,
            tag: row.opt_text("tag")?,
            created_at_ms: row.i64("created_at")?,
            version: row.i64("version")?,
            id,
        })
    }

    /// Issues a tag for a dog of the tenant (`NotFound` otherwise).
    pub async fn insert_dogtax_tag(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        tag_number: &str,
        dog_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.insert_dogtax_tags(tx, tenant_key, &[(tag_number, dog_id)], now)
            .await
    }

    /// Marks a tag invalid; false when it was not valid (unknown or already invalidated).
    pub async fn invalidate_dogtax_tag(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        tag_number: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = tx
            .execute(
                "UPDATE dogtax_tags SET invalidated_at = $3, invalidated_reason = $4
                 WHERE tenant_key = $1 AND tag_number = $2 AND invalidated_at IS NULL",
                args![tenant_key, tag_number, crate::now_ms(now), reason],
            )
            .await?;
        Ok(n > 0)
    }

    /// A tag of the tenant, valid or not, with the dog and household it belongs to.
    pub async fn dogtax_tag(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        tag_number: &str,
    ) -> Result<Option<Tag>, StoreError> {
        let rows = self
            .dogtax_rows(
                tx,
                "SELECT t.tag_number, t.dog_id, d.household_id, t.issued_at, t.invalidated_at, t.invalidated_reason
                 FROM dogtax_tags t JOIN dogtax_dogs d ON d.id = t.dog_id AND d.tenant_key = t.tenant_key
                 WHERE t.tenant_key = $1 AND t.tag_number = $2",
                args![tenant_key, tag_number],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(Tag {
            tag_number: r.text("tag_number")?,
            dog_id: r.text("dog_id")?,
            household_id: r.text("household_id")?,
            issued_at_ms: r.i64("issued_at")?,
            invalidated_at_ms: r.opt_i64("invalidated_at")?,
            invalidated_reason: r.opt_text("invalidated_reason")?,
        }))
    }

    /// Appends to the register history of a household of the tenant (`NotFound` otherwise);
    /// returns the event's number.
    pub async fn append_dogtax_event(
        &self,
        tx: &mut Tx,
        e: &NewRegisterEvent<'_>,
    ) -> Result<i64, StoreError> {
        let seq = match e.seq {
            Some(n) => n,
            None => {
                tx.fetch_optional(
                    "SELECT (SELECT COALESCE(MAX(e.seq), 0) FROM dogtax_register_events e WHERE e.household_id = h.id) AS last
                     FROM dogtax_households h WHERE h.id = $1 AND h.tenant_key = $2",
                    args![e.household_id, e.tenant_key],
                )
                .await?
                .ok_or(StoreError::NotFound)?
                .i64("last")?
                    + 1
            }
        };
        let event = NewRegisterEvent {
            seq: Some(seq),
            ..*e
        };
        self.append_dogtax_events(tx, e.tenant_key, std::slice::from_ref(&event))
            .await?;
        Ok(seq)
    }

    /// A household's register history, oldest first.
    pub async fn dogtax_events(
        &self,
        tenant_key: &str,
        household_id: &str,
    ) -> Result<Vec<RegisterEvent>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT seq, dog_id, at, actor, kind, case_id, snapshot FROM dogtax_register_events
                 WHERE tenant_key = $1 AND household_id = $2 ORDER BY seq",
                args![tenant_key, household_id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let seq = r.i64("seq")?;
            let record = format!("{household_id}:{seq}");
            let snapshot = self
                .open(
                    tenant_key,
                    place("dogtax_event", &record, "snapshot"),
                    &r.bytes("snapshot")?,
                )
                .await?;
            out.push(RegisterEvent {
                seq,
                dog_id: r.opt_text("dog_id")?,
                at_ms: r.i64("at")?,
                actor: r.text("actor")?,
                kind: r.text("kind")?,
                case_id: r.opt_text("case_id")?,
                snapshot: decode(&snapshot)?,
            });
        }
        Ok(out)
    }

    /// Records a notice to a household of the tenant (`NotFound` otherwise); returns its number
    /// within the household.
    pub async fn insert_dogtax_notice(
        &self,
        tx: &mut Tx,
        n: &NewNotice<'_>,
    ) -> Result<i64, StoreError> {
        let seq = match n.seq {
            Some(seq) => seq,
            None => {
                tx.fetch_optional(
                    "SELECT (SELECT COALESCE(MAX(x.seq), 0) FROM dogtax_notices x WHERE x.household_id = h.id) AS last
                     FROM dogtax_households h WHERE h.id = $1 AND h.tenant_key = $2",
                    args![n.household_id, n.tenant_key],
                )
                .await?
                .ok_or(StoreError::NotFound)?
                .i64("last")?
                    + 1
            }
        };
        let notice = NewNotice {
            seq: Some(seq),
            ..*n
        };
        self.insert_dogtax_notices(tx, n.tenant_key, std::slice::from_ref(&notice))
            .await?;
        Ok(seq)
    }

    /// Notices of a tenant, optionally of one household and one year, in the order of issue.
    pub async fn dogtax_notices(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        household_id: Option<&str>,
        year: Option<i32>,
    ) -> Result<Vec<Notice>, StoreError> {
        let rows = self
            .dogtax_rows(
                tx,
                "SELECT id, household_id, seq, year, kind, case_id, issued_at, issued_on, content FROM dogtax_notices
                 WHERE tenant_key = $1 AND ($2 IS NULL OR household_id = $2) AND ($3 IS NULL OR year = $3)
                 ORDER BY household_id, seq",
                args![tenant_key, household_id, year.map(i64::from)],
            )
            .await?;
        self.notices_from_rows(tenant_key, &rows).await
    }

    /// One notice by id, within the tenant only.
    pub async fn dogtax_notice(
        &self,
        tenant_key: &str,
        id: &str,
    ) -> Result<Option<Notice>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT id, household_id, seq, year, kind, case_id, issued_at, issued_on, content FROM dogtax_notices
                 WHERE tenant_key = $1 AND id = $2",
                args![tenant_key, id],
            )
            .await?;
        match row {
            Some(r) => Ok(Some(self.notice_from_row(tenant_key, &r).await?)),
            None => Ok(None),
        }
    }

    async fn notice_from_row(&self, tenant_key: &str, r: &Row) -> Result<Notice, StoreError> {
        let id = r.text("id")?;
        let content = self
            .open(
                tenant_key,
                place("dogtax_notice", &id, "content"),
                &r.bytes("content")?,
            )
            .await?;
        Ok(Notice {
            household_id: r.text("household_id")?,
            seq: r.i64("seq")?,
            year: i32::try_from(r.i64("year")?)
                .map_err(|e| StoreError::Decode(format!("notice year: {e}")))?,
            kind: r.text("kind")?,
            case_id: r.opt_text("case_id")?,
            issued_at_ms: r.i64("issued_at")?,
            issued_on: r.text("issued_on")?,
            content: decode(&content)?,
            id,
        })
    }

    /// The draft a case was submitted from (its id seeds values shown before submission, such as
    /// the SEPA mandate reference).
    pub async fn dogtax_case_draft_id(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = tx
            .fetch_optional(
                "SELECT draft_id FROM cases WHERE id = $1 AND tenant_key = $2",
                args![case_id, tenant_key],
            )
            .await?;
        match row {
            Some(r) => r.opt_text("draft_id"),
            None => Ok(None),
        }
    }

    /// Refreshes the planner's statistics after a bulk change (an import, an annual run):
    /// PostgreSQL otherwise plans the next reads for the tiny tables it last saw, and a join of
    /// 10,000 dogs with their tags turns quadratic. SQLite needs nothing.
    pub async fn dogtax_refresh_statistics(&self) -> Result<(), StoreError> {
        if self.dialect() == crate::Dialect::Postgres {
            let mut tx = self.begin().await?;
            tx.execute(
                "ANALYZE dogtax_households, dogtax_dogs, dogtax_tags, dogtax_register_events, dogtax_notices, dogtax_export_items",
                vec![],
            )
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// How many households and active dogs a tenant's register holds.
    pub async fn dogtax_register_counts(&self, tenant_key: &str) -> Result<(i64, i64), StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT (SELECT COUNT(*) FROM dogtax_households WHERE tenant_key = $1) AS households,
                        (SELECT COUNT(*) FROM dogtax_dogs WHERE tenant_key = $1 AND status = 'active') AS dogs",
                args![tenant_key],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((row.i64("households")?, row.i64("dogs")?))
    }
}
