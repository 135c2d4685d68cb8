//! The floor: the least a server can do on this machine, to measure rathaus against.
//!
//!     rathaus-bench-floor <listen address> [sqlite://<file> | postgres://<url>]
//!
//! `GET /hello` answers a constant text (what axum and tokio cost on their own). `POST /insert`
//! stores the request body as a row and answers 201 only once the row is committed: one writer
//! takes whatever requests are waiting, inserts them all in one transaction and commits once
//! (group commit), which is the most durable inserts per second one database file (SQLite WAL,
//! synchronous=FULL) or one PostgreSQL connection allows. Prints `listening on http://<addr>`.
//!
//! `POST /insert-direct` (SQLite only) does the same with another driver: rusqlite on one dedicated
//! thread that runs each batch in one go, where sqlx hands every statement to its connection's
//! worker thread and waits for the answer. The two rates side by side measure what that hand-over
//! per statement costs (the rows go to a second file beside the first, `<file>-direct`).

use std::process::ExitCode;
use std::str::FromStr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor};
use tokio::sync::{mpsc, oneshot};

/// Rows one commit takes at most; more waiting requests go into the next commit.
const MAX_BATCH: usize = 512;

struct Job {
    body: String,
    done: oneshot::Sender<Result<i64, String>>,
}

enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Db {
    async fn open(url: &str) -> Result<Db, sqlx::Error> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            let mut c = SqliteConnection::connect_with(&options).await?;
            c.execute(
                "CREATE TABLE IF NOT EXISTS floor_submissions (id INTEGER PRIMARY KEY, \
                 body TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
            )
            .await?;
            Ok(Db::Sqlite(c))
        } else {
            let mut c = PgConnection::connect(url).await?;
            c.execute(
                "CREATE TABLE IF NOT EXISTS floor_submissions (id BIGSERIAL PRIMARY KEY, \
                 body TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await?;
            Ok(Db::Postgres(c))
        }
    }

    /// Inserts every job's body in one transaction; the ids in the jobs' order.
    async fn insert_all(&mut self, jobs: &[Job]) -> Result<Vec<i64>, sqlx::Error> {
        let mut ids = Vec::with_capacity(jobs.len());
        match self {
            Db::Sqlite(c) => {
                let mut tx = c.begin().await?;
                for job in jobs {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO floor_submissions (body) VALUES (?) RETURNING id",
                    )
                    .bind(&job.body)
                    .fetch_one(&mut *tx)
                    .await?;
                    ids.push(id);
                }
                tx.commit().await?;
            }
            Db::Postgres(c) => {
                let mut tx = c.begin().await?;
                for job in jobs {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO floor_submissions (body) VALUES ($1) RETURNING id",
                    )
                    .bind(&job.body)
                    .fetch_one(&mut *tx)
                    .await?;
                    ids.push(id);
                }
                tx.commit().await?;
            }
        }
        Ok(ids)
    }
}

/// The same single writer on rusqlite and a thread of its own: no hand-over per statement.
fn direct_writer(path: &str, queue: std::sync::mpsc::Receiver<Job>) -> Result<(), String> {
    let mut db = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE IF NOT EXISTS floor_submissions (id INTEGER PRIMARY KEY, \
         body TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Ok(first) = queue.recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH
                && let Ok(next) = queue.try_recv()
            {
                batch.push(next);
            }
            let stored = (|| -> rusqlite::Result<Vec<i64>> {
                let tx = db.transaction()?;
                let mut ids = Vec::with_capacity(batch.len());
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO floor_submissions (body) VALUES (?1) RETURNING id",
                    )?;
                    for job in &batch {
                        ids.push(insert.query_row([&job.body], |row| row.get(0))?);
                    }
                }
                tx.commit()?;
                Ok(ids)
            })();
            answer(&mut batch, stored.map_err(|e| e.to_string()));
        }
    });
    Ok(())
}

/// The single writer: waits for one request, takes every other one waiting, commits them together.
async fn writer(mut db: Db, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let stored = db.insert_all(&batch).await.map_err(|e| e.to_string());
        answer(&mut batch, stored);
    }
}

/// Tells every job of a batch its row's id, or why the batch failed; empties the batch.
fn answer(batch: &mut Vec<Job>, stored: Result<Vec<i64>, String>) {
    match stored {
        Ok(ids) => {
            for (job, id) in batch.drain(..).zip(ids) {
                let _ = job.done.send(Ok(id));
            }
        }
        Err(e) => {
            for job in batch.drain(..) {
                let _ = job.done.send(Err(e.clone()));
            }
        }
    }
}

#[derive(Clone)]
struct AppState {
    queue: Option<mpsc::Sender<Job>>,
    direct: Option<std::sync::mpsc::SyncSender<Job>>,
}

async fn hello() -> &'static str {
    "Hello, World!"
}

async fn insert(State(state): State<AppState>, body: String) -> Response {
    let Some(queue) = state.queue else {
        return (StatusCode::NOT_FOUND, "no database given").into_response();
    };
    let (done, answer) = oneshot::channel();
    if queue.send(Job { body, done }).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    created(answer).await
}

async fn insert_direct(State(state): State<AppState>, body: String) -> Response {
    let Some(queue) = state.direct else {
        return (StatusCode::NOT_FOUND, "no SQLite database given").into_response();
    };
    let (done, answer) = oneshot::channel();
    // A full queue refuses at once rather than block the runtime's thread.
    if queue.try_send(Job { body, done }).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    created(answer).await
}

async fn created(answer: oneshot::Receiver<Result<i64, String>>) -> Response {
    match answer.await {
        Ok(Ok(id)) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"reference":"FL-{id:06}","status_url":"/floor/{id}"}}"#),
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(listen) = args.first() else {
        eprintln!(
            "usage: rathaus-bench-floor <listen address> [sqlite://<file> | postgres://<url>]"
        );
        return ExitCode::from(2);
    };
    let queue = match args.get(1) {
        Some(url) => match Db::open(url).await {
            Ok(db) => {
                let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(writer(db, rx));
                Some(tx)
            }
            Err(e) => {
                eprintln!("error: cannot open {url}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let direct = match args.get(1).and_then(|url| url.strip_prefix("sqlite://")) {
        Some(path) => {
            let (tx, rx) = std::sync::mpsc::sync_channel(4 * MAX_BATCH);
            if let Err(e) = direct_writer(&format!("{path}-direct"), rx) {
                eprintln!("error: cannot open {path}-direct: {e}");
                return ExitCode::FAILURE;
            }
            Some(tx)
        }
        None => None,
    };
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/insert", post(insert))
        .route("/insert-direct", post(insert_direct))
        .with_state(AppState { queue, direct });
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
