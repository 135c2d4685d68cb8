//! SQLite through rusqlite, on the calling thread.
//!
//! SQLite is a library, not a server: a statement on a page already in memory takes microseconds.
//! A driver that hands every statement to a thread of its own and waits for the answer (as sqlx
//! does) spends more on the hand-over — a wake-up and two context switches — than SQLite spends on
//! the work; measured in `bench/floor`, the same batched durable inserts ran 3.2 times as fast on
//! rusqlite without the hand-over. So statements run where they are called. Only what may wait
//! leaves the async runtime's threads: a batch's `BEGIN IMMEDIATE` (another process may hold the
//! lock) and its `COMMIT` (the fsync) run on a blocking thread ([`run_off_thread`]).
//!
//! Readers come from a small pool of read-only connections; the one writer connection belongs to
//! the group commit in [`crate::db`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags, Statement};

use crate::StoreError;
use crate::db::Value;

/// Idle read-only connections kept at most; more are opened when more threads read at once.
const IDLE_READERS: usize = 8;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;
/// How long a statement waits for a lock held by another process (a CLI command, a backup).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database file of a `sqlite://` URL (`sqlite:///abs/path.db`, `sqlite://./rel.db`); any
/// `?…` options are SQLite's defaults here and ignored.
pub(crate) fn path_of(url: &str) -> Result<PathBuf, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Unavailable("invalid SQLite URL".into()))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(StoreError::Unavailable(
            "invalid SQLite URL: it names no file".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// The writer: creates the file if missing; WAL with `synchronous=FULL`, so that a commit is on
/// disk before it is acknowledged.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unreachable)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         -- Savepoints' sub-journals and sorts in memory, not in temporary files.
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(unreachable)?;
    prepare(&conn)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unreachable)?;
    conn.execute_batch("PRAGMA temp_store = MEMORY;")
        .map_err(unreachable)?;
    prepare(&conn)?;
    Ok(conn)
}

fn prepare(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unreachable)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Read-only connections, each used by one thread for one statement at a time.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// Opens one connection at once, so that a wrong path fails at start, not at the first read.
    pub(crate) fn open(path: &Path) -> Result<ReadPool, StoreError> {
        let first = open_reader(path)?;
        Ok(ReadPool {
            path: path.to_owned(),
            idle: Mutex::new(vec![first]),
        })
    }

    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(conn);
        }
        result
    }

    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// A row read into owned values, with its statement's column names.
pub struct SqliteRow {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl SqliteRow {
    fn value(&self, col: &str) -> Result<&SqlValue, StoreError> {
        self.columns
            .iter()
            .position(|c| c == col)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| StoreError::Decode(format!("column {col}: no such column")))
    }

    pub(crate) fn opt_i64(&self, col: &str) -> Result<Option<i64>, StoreError> {
        match self.value(col)? {
            SqlValue::Null => Ok(None),
            SqlValue::Integer(i) => Ok(Some(*i)),
            other => Err(mismatch(col, "an integer", other)),
        }
    }

    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        match self.value(col)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(s) => Ok(Some(s.clone())),
            other => Err(mismatch(col, "text", other)),
        }
    }

    pub(crate) fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.value(col)? {
            SqlValue::Null => Ok(None),
            SqlValue::Blob(b) => Ok(Some(b.clone())),
            SqlValue::Text(s) => Ok(Some(s.clone().into_bytes())),
            other => Err(mismatch(col, "bytes", other)),
        }
    }

    pub(crate) fn bool(&self, col: &str) -> Result<bool, StoreError> {
        required(col, self.opt_i64(col)?).map(|i| i != 0)
    }

    pub(crate) fn i64(&self, col: &str) -> Result<i64, StoreError> {
        required(col, self.opt_i64(col)?)
    }

    pub(crate) fn text(&self, col: &str) -> Result<String, StoreError> {
        required(col, self.opt_text(col)?)
    }

    pub(crate) fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        required(col, self.opt_bytes(col)?)
    }
}

fn required<T>(col: &str, value: Option<T>) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Decode(format!("column {col}: unexpected NULL")))
}

fn mismatch(col: &str, wanted: &str, found: &SqlValue) -> StoreError {
    StoreError::Decode(format!(
        "column {col}: {wanted} expected, found {:?}",
        found.data_type()
    ))
}

/// Binds the arguments: `$N` in the SQL is the N-th argument, wherever and however often it
/// appears (SQLite numbers parameters in order of first appearance, so `$2` may come first).
fn bind(stmt: &mut Statement<'_>, args: &[Value]) -> Result<(), StoreError> {
    for index in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(index);
        let Some(arg) = args.get(n - 1) else {
            return Err(StoreError::Database(format!(
                "statement parameter ${n} has no argument"
            )));
        };
        let bound = match arg {
            Value::I64(v) => stmt.raw_bind_parameter(index, v),
            Value::Text(v) => stmt.raw_bind_parameter(index, v.as_str()),
            Value::Bytes(v) => stmt.raw_bind_parameter(index, v.as_slice()),
            Value::Bool(v) => stmt.raw_bind_parameter(index, i64::from(*v)),
            Value::NullI64 | Value::NullText | Value::NullBytes => {
                stmt.raw_bind_parameter(index, rusqlite::types::Null)
            }
        };
        bound.map_err(map_err)?;
    }
    Ok(())
}

/// Runs a statement; the rows it changed.
pub(crate) fn execute(conn: &Connection, sql: &str, args: &[Value]) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    bind(&mut stmt, args)?;
    if stmt.column_count() == 0 {
        let changed = stmt.raw_execute().map_err(map_err)?;
        return Ok(changed as u64);
    }
    // A statement with results (`… RETURNING`, a pragma) runs to its end; the results are not
    // wanted here.
    let mut rows = stmt.raw_query();
    while rows.next().map_err(map_err)?.is_some() {}
    drop(rows);
    Ok(conn.changes())
}

/// Runs a statement and reads at most `limit` rows of its result.
pub(crate) fn fetch(
    conn: &Connection,
    sql: &str,
    args: &[Value],
    limit: Option<usize>,
) -> Result<Vec<SqliteRow>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    bind(&mut stmt, args)?;
    let columns: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while limit.is_none_or(|l| out.len() < l) {
        let Some(row) = rows.next().map_err(map_err)? else {
            break;
        };
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(match row.get_ref(i).map_err(map_err)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(v) => SqlValue::Integer(v),
                ValueRef::Real(v) => SqlValue::Real(v),
                ValueRef::Text(t) => SqlValue::Text(
                    std::str::from_utf8(t)
                        .map_err(|e| StoreError::Decode(format!("column {}: {e}", columns[i])))?
                        .to_owned(),
                ),
                ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            });
        }
        out.push(SqliteRow {
            columns: columns.clone(),
            values,
        });
    }
    Ok(out)
}

/// Runs a script of several statements (migrations, transaction control).
pub(crate) fn script(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.execute_batch(sql).map_err(map_err)
}

/// Runs a statement that may wait — `BEGIN IMMEDIATE` for a lock another process holds (a CLI
/// command, a backup; up to the busy timeout), `COMMIT` for its fsync — on a blocking thread:
/// the async runtime's few threads stay free for requests. The caller holds the writer, so
/// nothing else uses the connection meanwhile.
pub(crate) async fn run_off_thread(
    conn: Arc<Mutex<Connection>>,
    sql: &'static str,
) -> Result<(), StoreError> {
    tokio::task::spawn_blocking(move || {
        let conn = conn
            .lock()
            .map_err(|_| StoreError::Database("the writer connection was poisoned".into()))?;
        script(&conn, sql)
    })
    .await
    .map_err(|e| StoreError::Database(format!("{sql} did not finish: {e}")))?
}

fn unreachable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot reach the SQLite database: {e}"))
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match &e {
        rusqlite::Error::SqliteFailure(err, message)
            if err.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || err.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(message.clone().unwrap_or_else(|| e.to_string()))
        }
        rusqlite::Error::SqliteFailure(err, _)
            if matches!(
                err.code,
                ffi::ErrorCode::CannotOpen
                    | ffi::ErrorCode::SystemIoFailure
                    | ffi::ErrorCode::DiskFull
                    | ffi::ErrorCode::DatabaseBusy
                    | ffi::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(first_line(&e))
        }
        _ => StoreError::Database(first_line(&e)),
    }
}

fn first_line(e: &rusqlite::Error) -> String {
    e.to_string().lines().next().unwrap_or("").to_owned()
}
