//! Schema migrations, applied in order on open. One DDL text serves both backends; the
//! only substitutions are the integer primary key and SQLite's clustered tables.

use crate::{Backend, Store, StoreError};

/// Each migration is applied once, in a transaction, and recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_ca.sql")),
    (3, include_str!("../migrations/0003_revocation.sql")),
];

fn dialect(sql: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => sql
            .replace("{INT_PK}", "INTEGER PRIMARY KEY")
            .replace("{CLUSTERED}", "WITHOUT ROWID"),
        Backend::Postgres => sql
            .replace("{INT_PK}", "BIGINT PRIMARY KEY")
            .replace("{CLUSTERED}", ""),
    }
}

/// Removes `--` comments (to the end of each line) so that a `;` inside a comment does
/// not split a statement. The migrations hold no string literal containing `--`.
fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.find("--").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) async fn apply(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        // Several processes may start at once against one PostgreSQL; serialise them.
        sqlx::query("SELECT pg_advisory_xact_lock(4242424242)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for (version, sql) in MIGRATIONS {
        if applied.iter().any(|(v,)| v == version) {
            continue;
        }
        let sql = strip_comments(&dialect(sql, store.backend()));
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(crate::dsql(stmt))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::Config(format!("migration {version} failed at `{stmt}`: {e}"))
                })?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(jiff::Timestamp::now().as_microsecond())
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied migration");
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_in_comments_do_not_split_statements() {
        let sql = strip_comments("-- a; b\nCREATE TABLE t (x BIGINT); -- c; d\nSELECT 1");
        let stmts: Vec<&str> = sql
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(stmts, vec!["CREATE TABLE t (x BIGINT)", "SELECT 1"]);
    }
}
