//! A thin layer over the two database backends, so that the storage code is written once.
//!
//! SQL is shared between SQLite and PostgreSQL wherever both speak the same dialect (`$1`
//! placeholders, `ON CONFLICT`, `RETURNING` are common to both); where they differ the caller asks
//! [`Dialect`]. Each backend keeps its own migrations. Values are bound through [`Value`], which
//! carries the type even of a NULL, because PostgreSQL needs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row as _, SqlSafeStr};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::StoreError;
use crate::sqlite::{self, ReadPool, SqliteRow};

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

/// `$first, $first+1, …` for `n` values bound in a statement built at run time (an `IN (…)`
/// list, the rows of a multi-row `VALUES`).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

type PgQuery<'a> = sqlx::query::Query<'a, Postgres, <Postgres as sqlx::Database>::Arguments>;

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
                Row::Sqlite(r) => r.$name(col),
                Row::Postgres(r) => r
                    .try_get::<$t, _>(col)
                    .map_err(|e| StoreError::Decode(format!("column {col}: {e}"))),
            }
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

/// How many write transactions may wait for their turn before new ones are refused with
/// [`StoreError::Overloaded`]: a full queue answers at once instead of letting requests pile up.
pub const DEFAULT_WRITE_QUEUE_LIMIT: usize = 2_048;

/// Connections to PostgreSQL per process.
pub const POSTGRES_CONNECTIONS: u32 = 16;

/// Units of work committed together at most; bounds the wait of the first unit in a batch.
const MAX_BATCH: usize = 512;

/// Write transactions waiting for their turn (both backends), bounded.
pub(crate) struct WriteQueue {
    waiting: AtomicUsize,
    limit: AtomicUsize,
}

impl WriteQueue {
    fn new() -> WriteQueue {
        WriteQueue {
            waiting: AtomicUsize::new(0),
            limit: AtomicUsize::new(DEFAULT_WRITE_QUEUE_LIMIT),
        }
    }

    /// Takes a place in the queue, or refuses when it is full (`0` means unbounded).
    fn enter(&self) -> Result<QueuePlace<'_>, StoreError> {
        let limit = self.limit.load(Ordering::Relaxed);
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        if limit > 0 && before >= limit {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(StoreError::Overloaded);
        }
        Ok(QueuePlace(self))
    }

    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    fn is_full(&self) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        limit > 0 && self.waiting() >= limit
    }
}

/// A place in the write queue, given up when the transaction starts (or gives up).
struct QueuePlace<'a>(&'a WriteQueue);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// SQLite's one writer connection, with group commit.
///
/// Each [`Tx`] is a unit of work inside a savepoint of a shared transaction (a batch). A unit
/// that finishes while others wait for the connection releases its savepoint and hands the
/// connection on, leaving the batch open; the last unit in line commits the batch (one fsync for
/// all of them) and wakes the others. Nobody is answered before their batch is on disk, and a
/// unit that fails rolls back only its own savepoint. Under light load every batch has one unit,
/// which is a plain commit.
pub(crate) struct Writer {
    conn: Arc<Mutex<WriterConn>>,
    queue: WriteQueue,
    acquire_timeout: Duration,
    /// Units rolled back on top of other units' work that is not yet committed. Their callers
    /// may go on to read what they saw there, so reads wait until that batch is settled.
    unsettled: watch::Sender<usize>,
    stats: Arc<WriteStats>,
}

/// Counters of the write path since start, for metrics and tests.
#[derive(Default)]
pub(crate) struct WriteStats {
    pub(crate) units: std::sync::atomic::AtomicU64,
    pub(crate) commits: std::sync::atomic::AtomicU64,
}

struct WriterConn {
    /// Used only by the holder of the writer (the async mutex around this); the inner lock lets
    /// a batch's COMMIT run on a blocking thread.
    conn: Arc<std::sync::Mutex<rusqlite::Connection>>,
    batch: Option<Batch>,
    /// A unit was dropped without commit: its savepoint must be rolled back before anything else.
    unit_left_open: bool,
    /// A unit alone in its batch was dropped without commit: the batch must be rolled back.
    alone_left_open: bool,
    /// Dropped units counted in [`Writer::unsettled`] until the current batch ends.
    owed_settles: usize,
    unsettled: watch::Sender<usize>,
    stats: Arc<WriteStats>,
    /// The audit chain's head as this batch has moved it (read once per batch).
    audit_head: Option<AuditHead>,
    /// `audit_head` moved and is written to the database just before the batch commits.
    audit_head_moved: bool,
    /// The two above as the current unit found them, restored if it rolls back.
    audit_head_at_unit_start: (Option<AuditHead>, bool),
}

/// The end of the audit chain: its last entry's number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuditHead {
    pub(crate) seq: i64,
    pub(crate) hash: [u8; 32],
}

struct Batch {
    units: usize,
    /// `None` while open; the batch's outcome once committed or rolled back.
    outcome: watch::Sender<Option<Result<(), String>>>,
}

impl Writer {
    fn open(path: &std::path::Path, acquire_timeout: Duration) -> Result<Arc<Writer>, StoreError> {
        let conn = Arc::new(std::sync::Mutex::new(sqlite::open_writer(path)?));
        let unsettled = watch::channel(0).0;
        let stats = Arc::new(WriteStats::default());
        Ok(Arc::new(Writer {
            conn: Arc::new(Mutex::new(WriterConn {
                conn,
                batch: None,
                unit_left_open: false,
                alone_left_open: false,
                owed_settles: 0,
                unsettled: unsettled.clone(),
                stats: stats.clone(),
                audit_head: None,
                audit_head_moved: false,
                audit_head_at_unit_start: (None, false),
            })),
            queue: WriteQueue::new(),
            acquire_timeout,
            unsettled,
            stats,
        }))
    }

    /// Waits until no rolled-back unit's view of uncommitted work is pending (see `unsettled`);
    /// free when there is none, which is nearly always.
    async fn settled(&self) {
        if *self.unsettled.borrow() == 0 {
            return;
        }
        let mut rx = self.unsettled.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// A unit of work; `alone`: one that is the only unit of its batch and runs without a
    /// savepoint (see [`crate::Store::begin_bulk`]).
    async fn begin(self: &Arc<Self>, alone: bool) -> Result<SqliteUnit, StoreError> {
        let place = self.queue.enter()?;
        let lock = tokio::time::timeout(self.acquire_timeout, self.conn.clone().lock_owned()).await;
        drop(place);
        let Ok(mut guard) = lock else {
            // Whoever held the connection may have left a batch open for us.
            self.schedule_flush();
            return Err(StoreError::Unavailable(
                "timed out waiting for the database writer".into(),
            ));
        };
        guard.settle().await?;
        if alone && guard.batch.is_some() {
            // The units before have their batch to themselves.
            guard.commit_batch().await?;
        }
        if guard.batch.is_none() {
            // Another process may have written since the last batch.
            guard.audit_head = None;
            guard.audit_head_moved = false;
            // Recorded before the wait, so that if this request is dropped while BEGIN runs
            // on, the next unit finds the batch open rather than beginning a second one.
            guard.batch = Some(Batch {
                units: 0,
                outcome: watch::channel(None).0,
            });
            if let Err(e) = sqlite::run_off_thread(guard.conn.clone(), "BEGIN IMMEDIATE").await {
                guard.batch = None;
                return Err(e);
            }
        }
        if !alone && let Err(e) = guard.run("SAVEPOINT unit") {
            guard.abort_batch(&e.to_string()).await;
            return Err(e);
        }
        guard.audit_head_at_unit_start = (guard.audit_head, guard.audit_head_moved);
        Ok(SqliteUnit {
            guard: Some(guard),
            writer: self.clone(),
            alone,
        })
    }

    /// Commits a batch left open by a unit that expected a successor which never came (it was
    /// dropped or gave up waiting).
    fn schedule_flush(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let writer = self.clone();
        runtime.spawn(async move {
            let mut guard = writer.conn.clone().lock_owned().await;
            if guard.settle().await.is_ok() && guard.batch.is_some() && writer.queue.waiting() == 0
            {
                let _ = guard.commit_batch().await;
            }
        });
    }

    async fn close(&self) {
        let mut guard = self.conn.lock().await;
        if guard.settle().await.is_ok() && guard.batch.is_some() {
            let _ = guard.commit_batch().await;
        }
    }
}

impl WriterConn {
    fn conn(&self) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Database("the writer connection was poisoned".into()))
    }

    fn run(&self, sql: &str) -> Result<(), StoreError> {
        sqlite::script(&*self.conn()?, sql)
    }

    /// Rolls back the savepoint of a unit that was dropped without commit; the batch's other
    /// units stay. If even that fails, the batch is lost and its units are told so. A unit
    /// alone in its batch takes the batch with it.
    async fn settle(&mut self) -> Result<(), StoreError> {
        if std::mem::take(&mut self.alone_left_open) {
            let _ = self.run("ROLLBACK");
            self.batch = None;
            self.audit_head = None;
            self.audit_head_moved = false;
            return Ok(());
        }
        if !self.unit_left_open {
            return Ok(());
        }
        self.unit_left_open = false;
        let undone = self
            .run("ROLLBACK TO unit")
            .and_then(|()| self.run("RELEASE unit"));
        if let Err(e) = undone {
            self.abort_batch(&e.to_string()).await;
            return Err(e);
        }
        (self.audit_head, self.audit_head_moved) = self.audit_head_at_unit_start;
        Ok(())
    }

    async fn commit_batch(&mut self) -> Result<(), StoreError> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let result = match self.write_audit_head() {
            Ok(()) => sqlite::run_off_thread(self.conn.clone(), "COMMIT").await,
            Err(e) => Err(e),
        };
        self.audit_head = None;
        self.audit_head_moved = false;
        if result.is_ok() {
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            self.stats
                .units
                .fetch_add(batch.units as u64, Ordering::Relaxed);
        } else {
            let _ = self.run("ROLLBACK");
        }
        batch.outcome.send_replace(Some(
            result.as_ref().map(|_| ()).map_err(ToString::to_string),
        ));
        self.pay_settles();
        result
    }

    fn pay_settles(&mut self) {
        let owed = std::mem::take(&mut self.owed_settles);
        if owed > 0 {
            self.unsettled.send_modify(|n| *n = n.saturating_sub(owed));
        }
    }

    /// The chain's head, once for the whole batch.
    fn write_audit_head(&self) -> Result<(), StoreError> {
        let Some(head) = self.audit_head.filter(|_| self.audit_head_moved) else {
            return Ok(());
        };
        sqlite::execute(
            &*self.conn()?,
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
            &[Value::I64(head.seq), Value::Bytes(head.hash.to_vec())],
        )
        .map(|_| ())
    }

    async fn abort_batch(&mut self, why: &str) {
        self.audit_head = None;
        self.audit_head_moved = false;
        let _ = self.run("ROLLBACK");
        if let Some(batch) = self.batch.take() {
            batch
                .outcome
                .send_replace(Some(Err(format!("the write was rolled back: {why}"))));
        }
        self.pay_settles();
    }
}

/// A unit of work on SQLite's writer: a savepoint inside the current batch.
pub struct SqliteUnit {
    guard: Option<OwnedMutexGuard<WriterConn>>,
    writer: Arc<Writer>,
    /// Alone in its batch, without a savepoint.
    alone: bool,
}

impl SqliteUnit {
    fn conn(&self) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>, StoreError> {
        self.guard
            .as_ref()
            .ok_or_else(|| StoreError::Database("the transaction has ended".into()))?
            .conn()
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        let Some(mut guard) = self.guard.take() else {
            return Err(StoreError::Database("the transaction has ended".into()));
        };
        if !self.alone
            && let Err(e) = guard.run("RELEASE unit")
        {
            guard.abort_batch(&e.to_string()).await;
            return Err(e);
        }
        let Some(batch) = guard.batch.as_mut() else {
            return Err(StoreError::Database("the batch was lost".into()));
        };
        batch.units += 1;
        if self.alone {
            return guard.commit_batch().await;
        }
        if self.writer.queue.waiting() > 0 && batch.units < MAX_BATCH {
            // Someone is waiting: they continue this batch, and the last one commits it.
            let mut outcome = batch.outcome.subscribe();
            drop(guard);
            let result = outcome
                .wait_for(Option::is_some)
                .await
                .map_err(|_| StoreError::Unavailable("the write batch was lost".into()))?
                .clone();
            return match result {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(StoreError::Unavailable(e)),
                None => Err(StoreError::Unavailable("the write batch was lost".into())),
            };
        }
        guard.commit_batch().await
    }
}

impl Drop for SqliteUnit {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            if self.alone {
                guard.alone_left_open = true;
                drop(guard);
                return;
            }
            guard.unit_left_open = true;
            if guard.batch.as_ref().is_some_and(|b| b.units > 0) {
                guard.owed_settles += 1;
                guard.unsettled.send_modify(|n| *n += 1);
            }
            drop(guard);
            self.writer.schedule_flush();
        }
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite {
        writer: Arc<Writer>,
        reader: Arc<ReadPool>,
    },
    Postgres {
        pool: PgPool,
        queue: Arc<WriteQueue>,
    },
}

impl Pool {
    pub(crate) async fn connect(url: &str, acquire_timeout: Duration) -> Result<Pool, StoreError> {
        if url.starts_with("sqlite:") {
            let path = sqlite::path_of(url)?;
            // The writer first: it creates the file and switches it to WAL.
            let writer = Writer::open(&path, acquire_timeout)?;
            let reader = Arc::new(ReadPool::open(&path)?);
            Ok(Pool::Sqlite { writer, reader })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Concurrent commits on several connections share PostgreSQL's WAL flushes (its own
            // group commit), so each write transaction simply takes a connection.
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_CONNECTIONS)
                .acquire_timeout(acquire_timeout)
                .connect(url)
                .await
                .map_err(|e| unavailable("PostgreSQL", &e))?;
            Ok(Pool::Postgres {
                pool,
                queue: Arc::new(WriteQueue::new()),
            })
        } else {
            Err(StoreError::Unavailable(
                "the database URL must start with sqlite:// or postgres://".to_owned(),
            ))
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite { .. } => Dialect::Sqlite,
            Pool::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Bounds the write queue (`0`: unbounded).
    pub(crate) fn set_write_queue_limit(&self, limit: usize) {
        self.queue().limit.store(limit, Ordering::Relaxed);
    }

    /// Write transactions waiting for their turn now.
    pub(crate) fn write_queue_depth(&self) -> usize {
        self.queue().waiting()
    }

    pub(crate) fn write_queue_full(&self) -> bool {
        self.queue().is_full()
    }

    /// Counts `n` writes as waiting for their turn until the returned guard is dropped (tests).
    pub(crate) fn occupy_write_queue(&self, n: usize) -> WriteQueueHold {
        self.queue().waiting.fetch_add(n, Ordering::AcqRel);
        WriteQueueHold {
            pool: self.clone(),
            n,
        }
    }

    /// Units of work and commits on SQLite's writer since start (`None` on PostgreSQL, where each
    /// transaction commits on its own connection).
    pub(crate) fn write_stats(&self) -> Option<(u64, u64)> {
        match self {
            Pool::Sqlite { writer, .. } => Some((
                writer.stats.units.load(Ordering::Relaxed),
                writer.stats.commits.load(Ordering::Relaxed),
            )),
            Pool::Postgres { .. } => None,
        }
    }

    fn queue(&self) -> &WriteQueue {
        match self {
            Pool::Sqlite { writer, .. } => &writer.queue,
            Pool::Postgres { queue, .. } => queue,
        }
    }

    pub(crate) async fn begin(&self, alone: bool) -> Result<Tx, StoreError> {
        match self {
            Pool::Sqlite { writer, .. } => Ok(Tx::new(TxInner::Sqlite(writer.begin(alone).await?))),
            Pool::Postgres { pool, queue } => {
                let place = queue.enter()?;
                let tx = pool.begin().await.map_err(map_err)?;
                drop(place);
                Ok(Tx::new(TxInner::Postgres(tx)))
            }
        }
    }

    pub(crate) async fn fetch_all(
        &self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Pool::Sqlite { reader, writer } => {
                writer.settled().await;
                let sql = sql.into_sql_str();
                let rows = reader.with(|c| sqlite::fetch(c, sql.as_str(), &args, None))?;
                Ok(rows.into_iter().map(Row::Sqlite).collect())
            }
            Pool::Postgres { pool, .. } => Ok(pg_query(sql, args)
                .fetch_all(pool)
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
            Pool::Sqlite { reader, writer } => {
                writer.settled().await;
                let sql = sql.into_sql_str();
                let rows = reader.with(|c| sqlite::fetch(c, sql.as_str(), &args, Some(1)))?;
                Ok(rows.into_iter().next().map(Row::Sqlite))
            }
            Pool::Postgres { pool, .. } => Ok(pg_query(sql, args)
                .fetch_optional(pool)
                .await
                .map_err(map_err)?
                .map(Row::Postgres)),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite { writer, reader } => {
                reader.close();
                writer.close().await;
            }
            Pool::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// Places in the write queue taken by [`Pool::occupy_write_queue`], given up on drop.
pub struct WriteQueueHold {
    pool: Pool,
    n: usize,
}

impl Drop for WriteQueueHold {
    fn drop(&mut self) {
        self.pool
            .queue()
            .waiting
            .fetch_sub(self.n, Ordering::AcqRel);
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back. On SQLite it is a unit of
/// a group commit ([`Writer`]); [`Tx::commit`] returns once its batch is durable.
pub struct Tx {
    inner: TxInner,
    /// Tenants, offers or definitions were changed: caches are dropped once this commits.
    changes_catalogue: bool,
}

enum TxInner {
    Sqlite(SqliteUnit),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    fn new(inner: TxInner) -> Tx {
        Tx {
            inner,
            changes_catalogue: false,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            TxInner::Sqlite(_) => Dialect::Sqlite,
            TxInner::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn execute(
        &mut self,
        sql: impl SqlSafeStr,
        args: Vec<Value>,
    ) -> Result<u64, StoreError> {
        match &mut self.inner {
            TxInner::Sqlite(unit) => {
                sqlite::execute(&*unit.conn()?, sql.into_sql_str().as_str(), &args)
            }
            TxInner::Postgres(tx) => Ok(pg_query(sql, args)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?
                .rows_affected()),
        }
    }

    /// Runs a script of several statements (migrations).
    pub(crate) async fn execute_script(&mut self, sql: impl SqlSafeStr) -> Result<(), StoreError> {
        match &mut self.inner {
            TxInner::Sqlite(unit) => sqlite::script(&*unit.conn()?, sql.into_sql_str().as_str()),
            TxInner::Postgres(tx) => sqlx::raw_sql(sql)
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
        match &mut self.inner {
            TxInner::Sqlite(unit) => {
                let rows = sqlite::fetch(&*unit.conn()?, sql.into_sql_str().as_str(), &args, None)?;
                Ok(rows.into_iter().map(Row::Sqlite).collect())
            }
            TxInner::Postgres(tx) => Ok(pg_query(sql, args)
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
        match &mut self.inner {
            TxInner::Sqlite(unit) => {
                let rows =
                    sqlite::fetch(&*unit.conn()?, sql.into_sql_str().as_str(), &args, Some(1))?;
                Ok(rows.into_iter().next().map(Row::Sqlite))
            }
            TxInner::Postgres(tx) => Ok(pg_query(sql, args)
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
        match self.inner {
            TxInner::Sqlite(unit) => unit.commit().await,
            TxInner::Postgres(tx) => tx.commit().await.map_err(map_err),
        }?;
        if self.changes_catalogue {
            crate::catalogue::changed_here();
        }
        Ok(())
    }

    /// The audit chain's head as the current batch left it, if this backend keeps it in memory
    /// (SQLite's group commit); otherwise the caller reads it from the database.
    pub(crate) fn audit_head(&self) -> Option<AuditHead> {
        match &self.inner {
            TxInner::Sqlite(unit) => unit.guard.as_ref().and_then(|g| g.audit_head),
            TxInner::Postgres(_) => None,
        }
    }

    /// Moves the audit chain's head. On SQLite it is written once per batch, just before the
    /// batch commits; returns false when the caller must write it now (PostgreSQL).
    pub(crate) fn defer_audit_head(&mut self, head: AuditHead) -> bool {
        match &mut self.inner {
            TxInner::Sqlite(unit) => match unit.guard.as_mut() {
                Some(g) => {
                    g.audit_head = Some(head);
                    g.audit_head_moved = true;
                    true
                }
                None => false,
            },
            TxInner::Postgres(_) => false,
        }
    }

    /// Records that this transaction changes tenants, offers or service definitions, so that
    /// every process's cached copies are dropped once it commits (this one's at once, others'
    /// within [`crate::catalogue::RECHECK`]).
    pub(crate) async fn changes_catalogue(&mut self) -> Result<(), StoreError> {
        if !self.changes_catalogue {
            crate::catalogue::bump_generation(self).await?;
            self.changes_catalogue = true;
        }
        Ok(())
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
