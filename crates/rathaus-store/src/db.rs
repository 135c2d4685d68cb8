//! A thin layer over the two database backends, so that the storage code is written once.
//!
//! SQL is shared between SQLite and PostgreSQL wherever both speak the same dialect (`$1`
//! placeholders, `ON CONFLICT`, `RETURNING` are common to both); where they differ the caller asks
//! [`Dialect`]. Each backend keeps its own migrations. Values are bound through [`Value`], which
//! carries the type even of a NULL, because PostgreSQL needs it.

use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Postgres, Row as _, SqlSafeStr, Sqlite};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Row lock for read-modify-write; SQLite needs none because it has one writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// A bind parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    I64(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    NullI64,
    NullText,
    NullBytes,
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::NullI64, Value::I64)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::NullText, Value::Text)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Value::NullText, |s| Value::Text(s.to_owned()))
    }
}
impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        v.map_or(Value::NullBytes, Value::Bytes)
    }
}

/// Builds a `Vec<Value>` from anything convertible: `args![tenant, 5_i64, None::<String>]`.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Value::from($v)),*] };
}

type SqliteQuery<'a> = sqlx::query::Query<'a, Sqlite, <Sqlite as sqlx::Database>::Arguments>;
type PgQuery<'a> = sqlx::query::Query<'a, Postgres, <Postgres as sqlx::Database>::Arguments>;

fn sqlite_query<'a>(sql: impl SqlSafeStr, args: Vec<Value>) -> SqliteQuery<'a> {
    let mut q = sqlx::query::<Sqlite>(sql);
    for v in args {
        q = match v {
            Value::I64(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Bytes(v) => q.bind(v),
            Value::Bool(v) => q.bind(v),
            Value::NullI64 => q.bind(None::<i64>),
            Value::NullText => q.bind(None::<String>),
            Value::NullBytes => q.bind(None::<Vec<u8>>),
        };
    }
    q
}

fn pg_query<'a>(sql: impl SqlSafeStr, args: Vec<Value>) -> PgQuery<'a> {
    let mut q = sqlx::query::<Postgres>(sql);
    for v in args {
        q = match v {
            Value::I64(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Bytes(v) => q.bind(v),
            Value::Bool(v) => q.bind(v),
            Value::NullI64 => q.bind(None::<i64>),
            Value::NullText => q.bind(None::<String>),
            Value::NullBytes => q.bind(None::<Vec<u8>>),
        };
    }
    q
}

/// A result row with typed accessors by column name.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

macro_rules! getter {
    ($name:ident, $t:ty) => {
        pub fn $name(&self, col: &str) -> Result<$t, StoreError> {
            match self {
                Row::Sqlite(r) => r.try_get::<$t, _>(col),
                Row::Postgres(r) => r.try_get::<$t, _>(col),
            }
            .map_err(|e| StoreError::Decode(format!("column {col}: {e}")))
        }
    };
}

impl Row {
    getter!(i64, i64);
    getter!(opt_i64, Option<i64>);
    getter!(text, String);
    getter!(opt_text, Option<String>);
    getter!(bytes, Vec<u8>);
    getter!(opt_bytes, Option<Vec<u8>>);
    getter!(bool, bool);
}

#[derive(Clone)]
pub(crate) enum Pool {
    /// One connection writes, so writers queue in the pool rather than fail on SQLITE_BUSY.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

impl Pool {
    pub(crate) async fn connect(url: &str, acquire_timeout: Duration) -> Result<Pool, StoreError> {
        if url.starts_with("sqlite:") {
            let base: SqliteConnectOptions = url
                .parse()
                .map_err(|e| StoreError::Unavailable(format!("invalid SQLite URL: {e}")))?;
            let base = base
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before it is acknowledged, also in WAL mode.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(acquire_timeout)
                .connect_with(base.clone())
                .await
                .map_err(|e| unavailable("SQLite", &e))?;
            let reader = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(acquire_timeout)
                .connect_with(base.read_only(true))
                .await
                .map_err(|e| unavailable("SQLite", &e))?;
            Ok(Pool::Sqlite { writer, reader })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(acquire_timeout)
                .connect(url)
                .await
                .map_err(|e| unavailable("PostgreSQL", &e))?;
            Ok(Pool::Postgres(pool))
        } else {
            Err(StoreError::Unavailable(
                "the database URL must start with sqlite:// or postgres://".to_owned(),
            ))
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite { .. } => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        match self {
            Pool::Sqlite { writer, .. } => Ok(Tx::Sqlite(writer.begin().await.map_err(map_err)?)),
            Pool::Postgres(p) => Ok(Tx::Postgres(p.begin().await.map_err(map_err)?)),
        }
    }

    pub(crate) async fn fetch_all(
        &self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Pool::Sqlite { reader, .. } => Ok(sqlite_query(sql, args)
                .fetch_all(reader)
                .await
                .map_err(map_err)?
                .into_iter()
                .map(Row::Sqlite)
                .collect()),
            Pool::Postgres(p) => Ok(pg_query(sql, args)
                .fetch_all(p)
                .await
                .map_err(map_err)?
                .into_iter()
                .map(Row::Postgres)
                .collect()),
        }
    }

    pub(crate) async fn fetch_optional(
        &self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<Option<Row>, StoreError> {
        match self {
            Pool::Sqlite { reader, .. } => Ok(sqlite_query(sql, args)
                .fetch_optional(reader)
                .await
                .map_err(map_err)?
                .map(Row::Sqlite)),
            Pool::Postgres(p) => Ok(pg_query(sql, args)
                .fetch_optional(p)
                .await
                .map_err(map_err)?
                .map(Row::Postgres)),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn execute(
        &mut self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(tx) => Ok(sqlite_query(sql, args)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?
                .rows_affected()),
            Tx::Postgres(tx) => Ok(pg_query(sql, args)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?
                .rows_affected()),
        }
    }

    /// Runs a script of several statements (migrations).
    pub(crate) async fn execute_script(&mut self, sql: impl SqlSafeStr) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => sqlx::raw_sql(sql)
                .execute(&mut **tx)
                .await
                .map(|_| ())
                .map_err(map_err),
            Tx::Postgres(tx) => sqlx::raw_sql(sql)
                .execute(&mut **tx)
                .await
                .map(|_| ())
                .map_err(map_err),
        }
    }

    pub async fn fetch_all(
        &mut self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Tx::Sqlite(tx) => Ok(sqlite_query(sql, args)
                .fetch_all(&mut **tx)
                .await
                .map_err(map_err)?
                .into_iter()
                .map(Row::Sqlite)
                .collect()),
            Tx::Postgres(tx) => Ok(pg_query(sql, args)
                .fetch_all(&mut **tx)
                .await
                .map_err(map_err)?
                .into_iter()
                .map(Row::Postgres)
                .collect()),
        }
    }

    pub async fn fetch_optional(
        &mut self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<Option<Row>, StoreError> {
        match self {
            Tx::Sqlite(tx) => Ok(sqlite_query(sql, args)
                .fetch_optional(&mut **tx)
                .await
                .map_err(map_err)?
                .map(Row::Sqlite)),
            Tx::Postgres(tx) => Ok(pg_query(sql, args)
                .fetch_optional(&mut **tx)
                .await
                .map_err(map_err)?
                .map(Row::Postgres)),
        }
    }

    pub async fn fetch_one(
        &mut self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<Row, StoreError> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await.map_err(map_err),
            Tx::Postgres(tx) => tx.commit().await.map_err(map_err),
        }
    }
}

fn unavailable(what: &str, e: &sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot reach the {what} database: {}",
        first_line(e)
    ))
}

fn first_line(e: &sqlx::Error) -> String {
    e.to_string().lines().next().unwrap_or("").to_owned()
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if is_unique_violation(db.as_ref()) => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(first_line(&e))
        }
        _ => StoreError::Database(first_line(&e)),
    }
}

fn is_unique_violation(db: &dyn DatabaseError) -> bool {
    db.is_unique_violation()
}
