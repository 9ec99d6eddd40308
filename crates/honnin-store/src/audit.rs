//! The audit log: every read or provision of personal data, every change and every
//! refusal, in one append-only table where each entry's hash commits to the previous
//! entry's hash. Altering, inserting or deleting a row in the middle breaks the chain, and
//! [`verify`] names the first entry where it breaks.
//!
//! Appends either join the caller's transaction ([`append_in_tx`], for changes that must be
//! logged atomically with the data) or go through the [`AuditLog`] group-commit writer,
//! which batches concurrent appends into one durable transaction and answers each caller
//! only after the commit: nothing is served before its log entry is on disk.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use crate::clock::{Clock, from_micros, micros};
use crate::{Conn, Store, StoreError, values_placeholders};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, to be logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// e.g. `provision`, `read`, `change`, `disclosure`, `login`, `retention-purge`.
    pub kind: String,
    /// The operator who acted (or `system`).
    pub operator: String,
    /// The receiving agency, for provisions.
    pub agency: Option<String>,
    /// The legal basis cited, for provisions.
    pub basis: Option<String>,
    /// The resident concerned (個人番号), when there is one.
    pub subject: Option<String>,
    /// The data items concerned, comma-separated.
    pub items: String,
    /// `granted`, `refused`, `not-found`, `ok`, …
    pub result: String,
    /// Free text: why refused, what changed.
    pub detail: String,
}

impl AuditEntry {
    pub fn new(kind: &str, operator: &str, result: &str) -> Self {
        AuditEntry {
            kind: kind.into(),
            operator: operator.into(),
            agency: None,
            basis: None,
            subject: None,
            items: String::new(),
            result: result.into(),
            detail: String::new(),
        }
    }
    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = Some(s.into());
        self
    }
    pub fn items(mut self, s: impl Into<String>) -> Self {
        self.items = s.into();
        self
    }
    pub fn detail(mut self, s: impl Into<String>) -> Self {
        self.detail = s.into();
        self
    }
    pub fn agency(mut self, agency: impl Into<String>, basis: Option<String>) -> Self {
        self.agency = Some(agency.into());
        self.basis = basis;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: jiff::Timestamp,
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

fn put(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn put_opt(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            put(h, s);
        }
    }
}

/// The hash of an entry: SHA-256 over its sequence number, time, every field
/// (length-prefixed, so no two entries encode alike) and the previous hash.
pub fn entry_hash(seq: i64, at_micros: i64, e: &AuditEntry, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"honnin-audit-v1");
    h.update(seq.to_be_bytes());
    h.update(at_micros.to_be_bytes());
    put(&mut h, &e.kind);
    put(&mut h, &e.operator);
    put_opt(&mut h, e.agency.as_deref());
    put_opt(&mut h, e.basis.as_deref());
    put_opt(&mut h, e.subject.as_deref());
    put(&mut h, &e.items);
    put(&mut h, &e.result);
    put(&mut h, &e.detail);
    put(&mut h, prev_hash);
    hex::encode(h.finalize())
}

const COLS: usize = 12;
const CHUNK: usize = 400;

/// Appends entries inside the caller's transaction and returns their sequence numbers.
/// Takes the chain-head lock first (a no-op UPDATE), so concurrent appenders, in this
/// process or another, serialise on the head row.
pub async fn append_in_tx(
    conn: &mut Conn,
    now: jiff::Timestamp,
    entries: &[AuditEntry],
) -> Result<Vec<i64>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    // Locks the head row (serialising appenders across processes) and reads it at once.
    let row = sqlx::query(
        "UPDATE audit_state SET head_seq = head_seq WHERE id = 1 RETURNING head_seq, head_hash, head_at",
    )
    .fetch_one(&mut *conn)
        .await?;
    let mut seq: i64 = row.try_get(0)?;
    let mut hash: String = row.try_get(1)?;
    let head_at: i64 = row.try_get(2)?;
    // Times never go backwards along the chain, so retention purges a prefix.
    let at = micros(now).max(head_at);
    let mut seqs = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO audit_log (seq, at, kind, operator, agency, basis, subject, items, result, detail, prev_hash, hash) VALUES {}",
            values_placeholders(conn, chunk.len(), COLS)
        );
        let mut q = sqlx::query(crate::dsql(&sql));
        for e in chunk {
            seq += 1;
            let next = entry_hash(seq, at, e, &hash);
            q = q
                .bind(seq)
                .bind(at)
                .bind(e.kind.clone())
                .bind(e.operator.clone())
                .bind(e.agency.clone())
                .bind(e.basis.clone())
                .bind(e.subject.clone())
                .bind(e.items.clone())
                .bind(e.result.clone())
                .bind(e.detail.clone())
                .bind(std::mem::replace(&mut hash, next.clone()))
                .bind(next);
            seqs.push(seq);
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_state SET head_seq = $1, head_hash = $2, head_at = $3 WHERE id = 1")
        .bind(seq)
        .bind(hash)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(seqs)
}

type Job = (AuditEntry, oneshot::Sender<Result<i64, String>>);

/// Handle to the group-commit audit writer.
#[derive(Clone, Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
}

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 4096;

impl AuditLog {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Store, clock: Arc<dyn Clock>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(MAX_BATCH * 4);
        tokio::spawn(async move {
            let mut entries: Vec<AuditEntry> = Vec::with_capacity(MAX_BATCH);
            let mut replies = Vec::with_capacity(MAX_BATCH);
            while let Some((entry, reply)) = rx.recv().await {
                entries.push(entry);
                replies.push(reply);
                while entries.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok((e, r)) => {
                            entries.push(e);
                            replies.push(r);
                        }
                        Err(_) => break,
                    }
                }
                let result = write_batch(&store, clock.now(), &entries).await;
                entries.clear();
                match result {
                    Ok(seqs) => {
                        for (reply, seq) in replies.drain(..).zip(seqs) {
                            let _ = reply.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "audit batch failed; requests refused");
                        let msg = e.to_string();
                        for reply in replies.drain(..) {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        AuditLog { tx }
    }

    /// Appends one entry and waits until it is durably committed.
    pub async fn append(&self, entry: AuditEntry) -> Result<i64, StoreError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((entry, reply))
            .await
            .map_err(|_| StoreError::AuditUnavailable("writer stopped".into()))?;
        match wait.await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(msg)) => Err(StoreError::AuditUnavailable(msg)),
            Err(_) => Err(StoreError::AuditUnavailable("writer stopped".into())),
        }
    }
}

async fn write_batch(
    store: &Store,
    now: jiff::Timestamp,
    entries: &[AuditEntry],
) -> Result<Vec<i64>, StoreError> {
    let mut tx = store.begin().await?;
    let seqs = append_in_tx(&mut tx, now, entries).await?;
    tx.commit().await?;
    Ok(seqs)
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: from_micros(row.try_get("at")?),
        entry: AuditEntry {
            kind: row.try_get("kind")?,
            operator: row.try_get("operator")?,
            agency: row.try_get("agency")?,
            basis: row.try_get("basis")?,
            subject: row.try_get("subject")?,
            items: row.try_get("items")?,
            result: row.try_get("result")?,
            detail: row.try_get("detail")?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

const SELECT: &str = "SELECT seq, at, kind, operator, agency, basis, subject, items, result, detail, prev_hash, hash FROM audit_log";

/// Entries about one resident, oldest first.
pub async fn for_subject(
    conn: &mut Conn,
    subject: &str,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "{SELECT} WHERE subject = $1 ORDER BY seq LIMIT $2"
    )))
    .bind(subject.to_string())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(record_from_row).collect()
}

/// Entries after `after_seq`, oldest first, optionally of one kind.
pub async fn page(
    conn: &mut Conn,
    after_seq: i64,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    let rows = match kind {
        Some(k) => {
            sqlx::query(crate::dsql(&format!(
                "{SELECT} WHERE seq > $1 AND kind = $2 ORDER BY seq LIMIT $3"
            )))
            .bind(after_seq)
            .bind(k.to_string())
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(crate::dsql(&format!(
                "{SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2"
            )))
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter().map(record_from_row).collect()
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Entries checked.
    pub entries: u64,
    pub first_seq: i64,
    pub head_seq: i64,
    /// The first entry where the chain breaks, and why.
    pub first_broken: Option<BrokenEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenEntry {
    pub seq: i64,
    pub reason: String,
}

/// Recomputes every retained entry's hash and checks the links, the sequence and the head.
pub async fn verify(store: &Store) -> Result<VerifyReport, StoreError> {
    let mut conn = store.conn().await?;
    let state = sqlx::query(
        "SELECT head_seq, head_hash, first_seq, first_prev_hash FROM audit_state WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    let head_seq: i64 = state.try_get(0)?;
    let head_hash: String = state.try_get(1)?;
    let first_seq: i64 = state.try_get(2)?;
    let mut prev: String = state.try_get(3)?;
    let mut expect = first_seq;
    let mut checked = 0u64;
    let report = |seq: i64, reason: String, checked: u64| VerifyReport {
        ok: false,
        entries: checked,
        first_seq,
        head_seq,
        first_broken: Some(BrokenEntry { seq, reason }),
    };
    let mut after = first_seq - 1;
    // Rows before the retained start would mean a purge that left rows behind.
    let stray: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log")
        .fetch_one(&mut *conn)
        .await?;
    if let Some(min) = stray
        && min < first_seq
    {
        return Ok(report(
            min,
            format!("entry precedes the retained start {first_seq}"),
            0,
        ));
    }
    loop {
        let rows = sqlx::query(crate::dsql(&format!(
            "{SELECT} WHERE seq > $1 ORDER BY seq LIMIT 10000"
        )))
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let r = record_from_row(row)?;
            if r.seq != expect {
                return Ok(report(
                    expect,
                    format!("entry {expect} is missing (next found: {})", r.seq),
                    checked,
                ));
            }
            if r.prev_hash != prev {
                return Ok(report(
                    r.seq,
                    "prev_hash does not match the previous entry's hash".into(),
                    checked,
                ));
            }
            let computed = entry_hash(r.seq, micros(r.at), &r.entry, &r.prev_hash);
            if computed != r.hash {
                return Ok(report(
                    r.seq,
                    "content does not match its hash (altered)".into(),
                    checked,
                ));
            }
            prev = r.hash;
            expect += 1;
            checked += 1;
            after = r.seq;
        }
    }
    if expect - 1 != head_seq || prev != head_hash {
        return Ok(report(
            expect,
            format!(
                "chain ends at {} but the recorded head is {head_seq}",
                expect - 1
            ),
            checked,
        ));
    }
    Ok(VerifyReport {
        ok: true,
        entries: checked,
        first_seq,
        head_seq,
        first_broken: None,
    })
}

/// What a retention purge removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    pub purged: i64,
    pub first_purged: Option<i64>,
    pub last_purged: Option<i64>,
    /// The sequence number of the entry recording the purge.
    pub record_seq: Option<i64>,
}

/// Deletes the entries older than `cutoff` (a prefix of the chain) and appends an entry
/// recording what was purged and the hash of the last purged entry, in one transaction.
/// The retained chain then starts from that hash, so [`verify`] still checks every link.
pub async fn purge_before(
    store: &Store,
    now: jiff::Timestamp,
    cutoff: jiff::Timestamp,
    operator: &str,
) -> Result<PurgeReport, StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query("UPDATE audit_state SET head_seq = head_seq WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    let first_seq: i64 = sqlx::query_scalar("SELECT first_seq FROM audit_state WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log WHERE at < $1")
        .bind(micros(cutoff))
        .fetch_one(&mut *tx)
        .await?;
    let Some(last) = last else {
        tx.commit().await?;
        return Ok(PurgeReport {
            purged: 0,
            first_purged: None,
            last_purged: None,
            record_seq: None,
        });
    };
    let last_hash: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(last)
        .fetch_one(&mut *tx)
        .await?;
    let purged = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
    sqlx::query("UPDATE audit_state SET first_seq = $1, first_prev_hash = $2 WHERE id = 1")
        .bind(last + 1)
        .bind(last_hash.clone())
        .execute(&mut *tx)
        .await?;
    let entry = AuditEntry::new("retention-purge", operator, "ok").detail(format!(
        "purged {purged} entries {first_seq}..={last} older than {cutoff}; last purged hash {last_hash}"
    ));
    let seqs = append_in_tx(&mut tx, now, &[entry]).await?;
    tx.commit().await?;
    Ok(PurgeReport {
        purged,
        first_purged: Some(first_seq),
        last_purged: Some(last),
        record_seq: seqs.first().copied(),
    })
}
