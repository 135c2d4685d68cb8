//! Schema migrations, embedded in the binary, one list per backend.
//!
//! Each migration runs in its own transaction and is recorded with a checksum; an applied
//! migration whose file later changed is reported rather than silently ignored.

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

use crate::db::{Dialect, Pool};
use crate::{Store, StoreError, args};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "services_and_cases",
        sql: include_str!("../migrations/sqlite/0002_services_and_cases.sql"),
    },
    Migration {
        version: 3,
        name: "staff",
        sql: include_str!("../migrations/sqlite/0003_staff.sql"),
    },
    Migration {
        version: 4,
        name: "casework",
        sql: include_str!("../migrations/sqlite/0004_casework.sql"),
    },
    Migration {
        version: 5,
        name: "dogtax",
        sql: include_str!("../migrations/sqlite/0005_dogtax.sql"),
    },
    Migration {
        version: 6,
        name: "dogtax_holder_index",
        sql: include_str!("../migrations/sqlite/0006_dogtax_holder_index.sql"),
    },
    Migration {
        version: 7,
        name: "index_keys",
        sql: include_str!("../migrations/sqlite/0007_index_keys.sql"),
    },
    Migration {
        version: 8,
        name: "bank_changes",
        sql: include_str!("../migrations/sqlite/0008_bank_changes.sql"),
    },
    Migration {
        version: 9,
        name: "dogtax_export_ledger",
        sql: include_str!("../migrations/sqlite/0009_dogtax_export_ledger.sql"),
    },
    Migration {
        version: 10,
        name: "submission_keys",
        sql: include_str!("../migrations/sqlite/0010_submission_keys.sql"),
    },
    Migration {
        version: 11,
        name: "dogtax_bulk",
        sql: include_str!("../migrations/sqlite/0011_dogtax_bulk.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "services_and_cases",
        sql: include_str!("../migrations/postgres/0002_services_and_cases.sql"),
    },
    Migration {
        version: 3,
        name: "staff",
        sql: include_str!("../migrations/postgres/0003_staff.sql"),
    },
    Migration {
        version: 4,
        name: "casework",
        sql: include_str!("../migrations/postgres/0004_casework.sql"),
    },
    Migration {
        version: 5,
        name: "dogtax",
        sql: include_str!("../migrations/postgres/0005_dogtax.sql"),
    },
    Migration {
        version: 6,
        name: "dogtax_holder_index",
        sql: include_str!("../migrations/postgres/0006_dogtax_holder_index.sql"),
    },
    Migration {
        version: 7,
        name: "index_keys",
        sql: include_str!("../migrations/postgres/0007_index_keys.sql"),
    },
    Migration {
        version: 8,
        name: "bank_changes",
        sql: include_str!("../migrations/postgres/0008_bank_changes.sql"),
    },
    Migration {
        version: 9,
        name: "dogtax_export_ledger",
        sql: include_str!("../migrations/postgres/0009_dogtax_export_ledger.sql"),
    },
    Migration {
        version: 10,
        name: "submission_keys",
        sql: include_str!("../migrations/postgres/0010_submission_keys.sql"),
    },
    Migration {
        version: 11,
        name: "dogtax_bulk",
        sql: include_str!("../migrations/postgres/0011_dogtax_bulk.sql"),
    },
];

fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    }
}

fn checksum(sql: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(sql.as_bytes()))
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: Vec<i64>,
    pub pending: Vec<(i64, &'static str)>,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
    }
}

async fn applied(pool: &Pool) -> Result<Vec<(i64, String)>, StoreError> {
    let exists = match pool.dialect() {
        Dialect::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        }
        Dialect::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        }
    };
    let n = match pool.fetch_optional(exists, vec![]).await? {
        Some(row) => row.i64("n")?,
        None => 0,
    };
    if n == 0 {
        return Ok(Vec::new());
    }
    let rows = pool
        .fetch_all(
            "SELECT version, checksum FROM schema_migrations ORDER BY version",
            vec![],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.i64("version")?, r.text("checksum")?)))
        .collect()
}

impl Store {
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let done = applied(self.pool()).await?;
        let all = migrations(self.dialect());
        for (version, sum) in &done {
            match all.iter().find(|m| m.version == *version) {
                None => {
                    return Err(StoreError::Migration(format!(
                        "the database has migration {version}, which this version of rathaus does not know; \
                         it was written by a newer version"
                    )));
                }
                Some(m) if checksum(m.sql) != *sum => {
                    return Err(StoreError::Migration(format!(
                        "migration {version} ({}) differs from the one applied to this database",
                        m.name
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(MigrationStatus {
            applied: done.iter().map(|(v, _)| *v).collect(),
            pending: all
                .iter()
                .filter(|m| !done.iter().any(|(v, _)| *v == m.version))
                .map(|m| (m.version, m.name))
                .collect(),
        })
    }

    /// Applies pending migrations; returns the versions applied.
    pub async fn migrate(&self, now: time::OffsetDateTime) -> Result<Vec<i64>, StoreError> {
        let mut done = Vec::new();
        {
            let mut tx = self.begin().await?;
            tx.execute(CREATE_TABLE, vec![]).await?;
            tx.commit().await?;
        }
        for m in migrations(self.dialect()) {
            let mut tx = self.begin().await?;
            if self.dialect() == Dialect::Postgres {
                // Two nodes starting at once: one migrates, the other waits and then finds it done.
                tx.execute("SELECT pg_advisory_xact_lock(7311984501)", vec![])
                    .await?;
            }
            let already = tx
                .fetch_optional(
                    "SELECT checksum FROM schema_migrations WHERE version = $1",
                    args![m.version],
                )
                .await?;
            if already.is_some() {
                continue;
            }
            tx.execute_script(m.sql).await.map_err(|e| {
                StoreError::Migration(format!("migration {} ({}) failed: {e}", m.version, m.name))
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                args![m.version, m.name, checksum(m.sql), crate::now_ms(now)],
            )
            .await?;
            tx.commit().await?;
            done.push(m.version);
        }
        self.migration_status().await?;
        Ok(done)
    }
}
