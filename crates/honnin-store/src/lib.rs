//! Persistence for honnin: one schema and one SQL dialect over embedded SQLite (the default)
//! and PostgreSQL, migrations applied on open, transactions, the durable outbox and the
//! append-only, hash-chained audit log.
//!
//! All SQL of the project lives here. Times are stored as `BIGINT` microseconds since the
//! Unix epoch, identifiers and hashes as `TEXT`, so that the same statements (with `$1`
//! placeholders) run unchanged on both backends through `sqlx::Any`.

pub mod audit;
pub mod ca;
pub mod clock;
mod error;
mod migrations;
pub mod outbox;
pub mod registry;
pub mod security;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::StoreError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// A database transaction on either backend.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
/// A connection (or transaction, through `&mut *tx`) on either backend.
pub type Conn = sqlx::AnyConnection;

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle to the database: cheap to clone, shared by all services.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Options for opening a [`Store`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// `synchronous=FULL` on SQLite (durable against power loss). Tests may relax it.
    pub durable: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            durable: true,
        }
    }
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database `honnin.sqlite` in `dir`.
    pub async fn open_sqlite_dir(dir: &Path, opts: OpenOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
        let file = dir.join("honnin.sqlite");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        Self::open(&url, opts).await
    }

    /// Opens a database by URL: `sqlite://PATH?mode=rwc`, `sqlite::memory:` or `postgres://…`.
    pub async fn open(url: &str, opts: OpenOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database URL (use sqlite:// or postgres://): {}",
                redact_url(url)
            )));
        };
        let connect = AnyConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad database URL: {e}")))?;
        let durable = opts.durable;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut pool = AnyPoolOptions::new()
            .max_connections(if memory { 1 } else { opts.max_connections })
            .min_connections(if memory { 1 } else { 0 })
            .acquire_timeout(Duration::from_secs(30));
        if memory {
            // An in-memory SQLite database lives as long as its one connection.
            pool = pool.idle_timeout(None).max_lifetime(None);
        }
        if backend == Backend::Sqlite {
            pool = pool.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    let sync = if durable { "FULL" } else { "NORMAL" };
                    let pragmas = format!(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; \
                         PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; \
                         PRAGMA cache_size=-131072; PRAGMA temp_store=MEMORY; \
                         PRAGMA wal_autocheckpoint=10000;"
                    );
                    conn.execute(dsql(&pragmas)).await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(connect).await?;
        let store = Store { pool, backend };
        migrations::apply(&store).await?;
        Ok(store)
    }

    /// A fresh in-memory SQLite store, for tests.
    pub async fn memory() -> Result<Self, StoreError> {
        Self::open("sqlite::memory:", OpenOptions::default()).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a (writing) transaction. On SQLite the write lock is taken at once
    /// (`BEGIN IMMEDIATE`, waiting up to the busy timeout): a deferred transaction that
    /// reads first and writes later fails with `SQLITE_BUSY` instead of waiting whenever
    /// another writer committed in between, which the read-then-write services do.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Acquires a plain connection for reads.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Hides the password in a database URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Builds `($1,$2,…),($k,…)` for a multi-row insert of `rows` rows of `cols` columns.
///
/// On SQLite it builds anonymous `?` placeholders instead: binding a numbered parameter
/// costs SQLite a linear scan of the statement's parameter names, which makes a statement
/// with thousands of `$n` parameters quadratic (measured: 8k rows/s instead of >200k/s).
pub(crate) fn values_placeholders(conn: &Conn, rows: usize, cols: usize) -> String {
    let anonymous = is_sqlite(conn);
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            if anonymous {
                s.push('?');
            } else {
                s.push('$');
                s.push_str(&n.to_string());
            }
            n += 1;
        }
        s.push(')');
    }
    s
}

/// A list `p, p, …` of `n` placeholders for `IN (…)`, anonymous on SQLite as above.
pub(crate) fn list_placeholders(conn: &Conn, n: usize) -> String {
    if is_sqlite(conn) {
        vec!["?"; n].join(",")
    } else {
        (1..=n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub(crate) fn is_sqlite(conn: &Conn) -> bool {
    conn.backend_name() == "SQLite"
}

/// Marks a statement built from this crate's constants and `$n` placeholders (never from
/// input) as safe for sqlx.
pub(crate) fn dsql(s: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(s.to_owned())
}

/// Commits a transaction, mapping the error into the store's.
pub async fn commit(tx: Tx) -> Result<(), StoreError> {
    Ok(tx.commit().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_url("postgres://u:secret@localhost/db"),
            "postgres://u:***@localhost/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[tokio::test]
    async fn placeholders_are_anonymous_on_sqlite() -> Result<(), StoreError> {
        let store = Store::memory().await?;
        let conn = store.conn().await?;
        assert_eq!(values_placeholders(&conn, 2, 3), "(?,?,?),(?,?,?)");
        assert_eq!(list_placeholders(&conn, 3), "?,?,?");
        Ok(())
    }
}
