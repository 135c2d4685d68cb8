//! Writing many register rows at once (taking over a register, the annual run): on PostgreSQL a
//! statement carries hundreds of rows, so a page of households costs a handful of round trips
//! instead of thousands. The single-row writers of [`crate::dogtax`] go through the same functions.
//!
//! Every row is of the tenant named: a child row (a dog, a tag, an event, a notice) is written
//! only when all of its parents are the tenant's, checked in the same transaction, and
//! otherwise nothing of the call is written (`NotFound`).

use crate::db::{Tx, Value, placeholders};
use crate::dogtax::{NewDog, NewHousehold, NewNotice, NewRegisterEvent, place, to_bytes};
use crate::{Store, StoreError, args};

/// Values a statement binds at most (both backends allow far more; this keeps statements small).
const VALUES_PER_STATEMENT: usize = 4_000;

/// `NotFound` unless every one of `ids` names a row of `table` of the tenant. The ids pick the
/// rows (see [`crate::dogtax_pages`] for why the tenant is compared as an expression).
pub(crate) async fn all_of_tenant(
    tx: &mut Tx,
    table: &str,
    tenant_key: &str,
    ids: &[&str],
) -> Result<(), StoreError> {
    let mut distinct: Vec<&str> = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for chunk in distinct.chunks(VALUES_PER_STATEMENT) {
        let list = placeholders(2, chunk.len());
        let mut values = args![tenant_key];
        values.extend(chunk.iter().map(|id| Value::from(*id)));
        let row = tx
            .fetch_one(
                sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) AS n FROM {table} WHERE tenant_key || '' = $1 AND id IN ({list})"
                )),
                values,
            )
            .await?;
        if usize::try_from(row.i64("n")?).ok() != Some(chunk.len()) {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// `INSERT INTO table (columns) VALUES (…), (…)`: on PostgreSQL, a round trip away, as many
/// rows a statement as fit; on SQLite, in the process, one row a statement, which is one cached
/// statement run again and again (faster there than compiling large ones).
pub(crate) async fn insert_rows(
    tx: &mut Tx,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    let per_statement = match tx.dialect() {
        crate::Dialect::Sqlite => 1,
        crate::Dialect::Postgres => (VALUES_PER_STATEMENT / columns.len().max(1)).max(1),
    };
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut values = Vec::new();
        for (r, row) in rows.by_ref().take(per_statement).enumerate() {
            if row.len() != columns.len() {
                return Err(StoreError::Database(format!(
                    "{table}: a row of {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&placeholders(values.len() + 1, row.len()));
            sql.push(')');
            values.extend(row);
        }
        tx.execute(sqlx::AssertSqlSafe(sql), values).await?;
    }
    Ok(())
}

fn numbered(what: &str, n: Option<i64>) -> Result<i64, StoreError> {
    n.ok_or_else(|| StoreError::Database(format!("a bulk write needs the {what} of every row")))
}

impl Store {
    /// New households, each of the tenant it names.
    pub async fn insert_dogtax_households(
        &self,
        tx: &mut Tx,
        households: &[NewHousehold<'_>],
    ) -> Result<(), StoreError> {
        let mut rows = Vec::with_capacity(households.len());
        for h in households {
            let holder = self
                .seal(
                    h.tenant_key,
                    place("dogtax_household", h.id, "holder"),
                    &to_bytes(h.holder),
                )
                .await?;
            let payment = self
                .seal(
                    h.tenant_key,
                    place("dogtax_household", h.id, "payment"),
                    &to_bytes(h.payment),
                )
                .await?;
            let now = crate::now_ms(h.now);
            rows.push(args![
                h.id,
                h.tenant_key,
                h.kassenzeichen,
                h.payment_method,
                holder,
                payment,
                now,
                now,
                1_i64,
                h.holder_index
            ]);
        }
        insert_rows(
            tx,
            "dogtax_households",
            &[
                "id",
                "tenant_key",
                "kassenzeichen",
                "payment_method",
                "holder",
                "payment",
                "created_at",
                "updated_at",
                "version",
                "holder_index",
            ],
            rows,
        )
        .await
    }

    /// Dogs of the tenant's households; each needs its `entry_no`.
    pub async fn insert_dogtax_dogs(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        dogs: &[NewDog<'_>],
    ) -> Result<(), StoreError> {
        let parents: Vec<&str> = dogs.iter().map(|d| d.household_id).collect();
        all_of_tenant(tx, "dogtax_households", tenant_key, &parents).await?;
        let mut rows = Vec::with_capacity(dogs.len());
        for d in dogs {
            let facts = self
                .seal(
                    tenant_key,
                    place("dogtax_dog", d.id, "facts"),
                    &to_bytes(d.facts),
                )
                .await?;
            let now = crate::now_ms(d.now);
            rows.push(args![
                d.id,
                tenant_key,
                d.household_id,
                numbered("entry number", d.entry_no)?,
                d.status,
                facts,
                now,
                now,
                1_i64
            ]);
        }
        insert_rows(
            tx,
            "dogtax_dogs",
            &[
                "id",
                "tenant_key",
                "household_id",
                "entry_no",
                "status",
                "facts",
                "created_at",
                "updated_at",
                "version",
            ],
            rows,
        )
        .await
    }

    /// Tags (tag number, dog id) issued for dogs of the tenant.
    pub async fn insert_dogtax_tags(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        tags: &[(&str, &str)],
        now: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let parents: Vec<&str> = tags.iter().map(|(_, dog)| *dog).collect();
        all_of_tenant(tx, "dogtax_dogs", tenant_key, &parents).await?;
        let now = crate::now_ms(now);
        let rows = tags
            .iter()
            .map(|(tag, dog)| args![tenant_key, *tag, *dog, now])
            .collect();
        insert_rows(
            tx,
            "dogtax_tags",
            &["tenant_key", "tag_number", "dog_id", "issued_at"],
            rows,
        )
        .await
    }

    /// Events of the register history of the tenant's households; each needs its `seq`.
    pub async fn append_dogtax_events(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        events: &[NewRegisterEvent<'_>],
    ) -> Result<(), StoreError> {
        let parents: Vec<&str> = events.iter().map(|e| e.household_id).collect();
        all_of_tenant(tx, "dogtax_households", tenant_key, &parents).await?;
        let mut rows = Vec::with_capacity(events.len());
        for e in events {
            let seq = numbered("event number", e.seq)?;
            // The sealed snapshot is bound to its number.
            let record = format!("{}:{seq}", e.household_id);
            let snapshot = self
                .seal(
                    tenant_key,
                    place("dogtax_event", &record, "snapshot"),
                    &to_bytes(e.snapshot),
                )
                .await?;
            rows.push(args![
                e.household_id,
                seq,
                tenant_key,
                e.dog_id,
                crate::now_ms(e.now),
                e.actor,
                e.kind,
                e.case_id,
                snapshot
            ]);
        }
        insert_rows(
            tx,
            "dogtax_register_events",
            &[
                "household_id",
                "seq",
                "tenant_key",
                "dog_id",
                "at",
                "actor",
                "kind",
                "case_id",
                "snapshot",
            ],
            rows,
        )
        .await
    }

    /// Notices to the tenant's households; each needs its `seq`.
    pub async fn insert_dogtax_notices(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        notices: &[NewNotice<'_>],
    ) -> Result<(), StoreError> {
        let parents: Vec<&str> = notices.iter().map(|n| n.household_id).collect();
        all_of_tenant(tx, "dogtax_households", tenant_key, &parents).await?;
        let mut rows = Vec::with_capacity(notices.len());
        for n in notices {
            let content = self
                .seal(
                    tenant_key,
                    place("dogtax_notice", n.id, "content"),
                    &to_bytes(n.content),
                )
                .await?;
            rows.push(args![
                n.id,
                tenant_key,
                n.household_id,
                numbered("notice number", n.seq)?,
                i64::from(n.year),
                n.kind,
                n.case_id,
                crate::now_ms(n.now),
                n.issued_on,
                content
            ]);
        }
        insert_rows(
            tx,
            "dogtax_notices",
            &[
                "id",
                "tenant_key",
                "household_id",
                "seq",
                "year",
                "kind",
                "case_id",
                "issued_at",
                "issued_on",
                "content",
            ],
            rows,
        )
        .await
    }
}
