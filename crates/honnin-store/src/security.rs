//! Operators, their API tokens and interactive sessions. Only hashes of secrets are stored.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_micros, micros};
use crate::{Conn, StoreError};

/// An operator account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRow {
    pub id: String,
    pub display_name: String,
    pub role: String,
    pub municipality: Option<String>,
    pub agency: Option<String>,
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    #[serde(skip_serializing)]
    pub totp_secret: Option<String>,
    pub disabled: bool,
    pub created_at: jiff::Timestamp,
}

const OP_COLS: &str = "id, display_name, role, municipality, agency, password_hash, totp_secret, disabled, created_at";

fn op_from_row(r: &AnyRow) -> Result<OperatorRow, StoreError> {
    Ok(OperatorRow {
        id: r.try_get(0)?,
        display_name: r.try_get(1)?,
        role: r.try_get(2)?,
        municipality: r.try_get(3)?,
        agency: r.try_get(4)?,
        password_hash: r.try_get(5)?,
        totp_secret: r.try_get(6)?,
        disabled: r.try_get::<i64, _>(7)? != 0,
        created_at: from_micros(r.try_get(8)?),
    })
}

pub async fn insert_operator(conn: &mut Conn, o: &OperatorRow) -> Result<(), StoreError> {
    sqlx::query(crate::dsql(&format!(
        "INSERT INTO operators ({OP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
    )))
    .bind(o.id.clone())
    .bind(o.display_name.clone())
    .bind(o.role.clone())
    .bind(o.municipality.clone())
    .bind(o.agency.clone())
    .bind(o.password_hash.clone())
    .bind(o.totp_secret.clone())
    .bind(i64::from(o.disabled))
    .bind(micros(o.created_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("operator {} already exists", o.id))
        }
        _ => StoreError::Db(e),
    })?;
    Ok(())
}

pub async fn get_operator(conn: &mut Conn, id: &str) -> Result<Option<OperatorRow>, StoreError> {
    let row = sqlx::query(crate::dsql(&format!(
        "SELECT {OP_COLS} FROM operators WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(op_from_row).transpose()
}

pub async fn list_operators(conn: &mut Conn) -> Result<Vec<OperatorRow>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "SELECT {OP_COLS} FROM operators ORDER BY id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(op_from_row).collect()
}

pub async fn count_operators(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM operators")
        .fetch_one(&mut *conn)
        .await?)
}

pub async fn set_disabled(conn: &mut Conn, id: &str, disabled: bool) -> Result<bool, StoreError> {
    let n = sqlx::query("UPDATE operators SET disabled = $1 WHERE id = $2")
        .bind(i64::from(disabled))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn insert_token(
    conn: &mut Conn,
    token_hash: &str,
    operator: &str,
    label: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO api_tokens (token_hash, operator, label, created_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)")
        .bind(token_hash.to_string())
        .bind(operator.to_string())
        .bind(label.to_string())
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The operator a live (unrevoked) token belongs to.
pub async fn token_operator(
    conn: &mut Conn,
    token_hash: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT operator FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(token_hash.to_string())
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn revoke_tokens_of(
    conn: &mut Conn,
    operator: &str,
    now: jiff::Timestamp,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE operator = $2 AND revoked_at IS NULL",
    )
    .bind(micros(now))
    .bind(operator.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// An interactive session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub operator: String,
    pub created_at: jiff::Timestamp,
    pub last_seen: jiff::Timestamp,
    pub ended: bool,
}

pub async fn insert_session(
    conn: &mut Conn,
    token_hash: &str,
    operator: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO sessions (token_hash, operator, created_at, last_seen, ended_at) VALUES ($1, $2, $3, $3, NULL)")
        .bind(token_hash.to_string())
        .bind(operator.to_string())
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn get_session(
    conn: &mut Conn,
    token_hash: &str,
) -> Result<Option<SessionRow>, StoreError> {
    let row = sqlx::query(
        "SELECT operator, created_at, last_seen, ended_at FROM sessions WHERE token_hash = $1",
    )
    .bind(token_hash.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            operator: r.try_get(0)?,
            created_at: from_micros(r.try_get(1)?),
            last_seen: from_micros(r.try_get(2)?),
            ended: r.try_get::<Option<i64>, _>(3)?.is_some(),
        })
    })
    .transpose()
}

pub async fn touch_session(
    conn: &mut Conn,
    token_hash: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2 AND ended_at IS NULL")
        .bind(micros(now))
        .bind(token_hash.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn end_session(
    conn: &mut Conn,
    token_hash: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL")
        .bind(micros(now))
        .bind(token_hash.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
