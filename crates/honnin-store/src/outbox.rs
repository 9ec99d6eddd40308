//! The durable outbox: events written in the same transaction as the change that caused
//! them, numbered without gaps, and consumed exactly once.
//!
//! Sequence numbers come from the `outbox` counter row, which each publishing transaction
//! locks until it commits, so numbers become visible in order and a consumer that has seen
//! `n` will never later find an uncommitted `n-1`. A consumer applies an event and advances
//! its offset in one transaction ([`advance`] checks the offset it read), so a crash at any
//! point either applies and records the event, or does neither.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::clock::{from_micros, micros};
use crate::{Conn, StoreError};

/// One event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    pub seq: i64,
    pub topic: String,
    /// What the event is about (e.g. the resident's 個人番号), for routing and matching.
    pub key: String,
    pub payload: serde_json::Value,
    pub created_at: jiff::Timestamp,
}

/// Publishes an event inside the caller's transaction; returns its sequence number.
pub async fn publish(
    conn: &mut Conn,
    now: jiff::Timestamp,
    topic: &str,
    key: &str,
    payload: &serde_json::Value,
) -> Result<i64, StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE counters SET value = value + 1 WHERE name = 'outbox' RETURNING value",
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO outbox (seq, topic, event_key, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(seq)
        .bind(topic.to_string())
        .bind(key.to_string())
        .bind(payload.to_string())
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

/// The last sequence number `consumer` has applied (0 if none).
pub async fn offset(conn: &mut Conn, consumer: &str) -> Result<i64, StoreError> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT last_seq FROM outbox_offsets WHERE consumer = $1")
            .bind(consumer.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(v.unwrap_or(0))
}

/// Events after `after`, oldest first, optionally of one topic.
pub async fn fetch_after(
    conn: &mut Conn,
    after: i64,
    topic: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let rows = match topic {
        Some(t) => sqlx::query(
            "SELECT seq, topic, event_key, payload, created_at FROM outbox WHERE seq > $1 AND topic = $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(t.to_string())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?,
        None => sqlx::query(
            "SELECT seq, topic, event_key, payload, created_at FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?,
    };
    rows.iter()
        .map(|r| {
            let payload: String = r.try_get(3)?;
            Ok(OutboxEvent {
                seq: r.try_get(0)?,
                topic: r.try_get(1)?,
                key: r.try_get(2)?,
                payload: serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("outbox payload: {e}")))?,
                created_at: from_micros(r.try_get(4)?),
            })
        })
        .collect()
}

/// Moves `consumer`'s offset from `from` to `to` inside the consumer's transaction.
/// Fails with [`StoreError::Concurrent`] if another consumer instance moved it first, so
/// the caller's transaction (and its effects) roll back and nothing is applied twice.
pub async fn advance(
    conn: &mut Conn,
    consumer: &str,
    from: i64,
    to: i64,
) -> Result<(), StoreError> {
    let n = if from == 0 {
        // First advance: the row may not exist yet.
        let inserted = sqlx::query(
            "INSERT INTO outbox_offsets (consumer, last_seq) VALUES ($1, $2) ON CONFLICT (consumer) DO NOTHING",
        )
        .bind(consumer.to_string())
        .bind(to)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 1 {
            1
        } else {
            update_offset(conn, consumer, from, to).await?
        }
    } else {
        update_offset(conn, consumer, from, to).await?
    };
    if n != 1 {
        return Err(StoreError::Concurrent(format!(
            "outbox offset of {consumer}"
        )));
    }
    Ok(())
}

async fn update_offset(
    conn: &mut Conn,
    consumer: &str,
    from: i64,
    to: i64,
) -> Result<u64, StoreError> {
    Ok(
        sqlx::query(
            "UPDATE outbox_offsets SET last_seq = $1 WHERE consumer = $2 AND last_seq = $3",
        )
        .bind(to)
        .bind(consumer.to_string())
        .bind(from)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    )
}

/// The highest published sequence number.
pub async fn head(conn: &mut Conn) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT value FROM counters WHERE name = 'outbox'")
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}
