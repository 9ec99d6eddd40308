//! Group commit of issuance records: concurrent issuances are written in one transaction
//! (one fsync), and each caller gets its certificates only after that commit. A batch that
//! fails is retried item by item, so one bad issuance cannot fail its neighbours.

use std::sync::Arc;

use honnin_store::audit::{self, AuditEntry};
use honnin_store::ca::{self as repo, CertificateRow};
use honnin_store::{Clock, Conn, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::CaError;

/// One issuance's records.
pub(crate) struct Pending {
    pub my_number: String,
    pub records: Vec<CertificateRow>,
    /// Serials to replace (renewal, re-issue after loss).
    pub supersede: Vec<String>,
    pub reason: Reason,
    pub operator: String,
}

/// Why certificates are being issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Issuance,
    /// The old pair is superseded.
    Renewal,
    /// The old pair is revoked as keyCompromise: the card is out of the holder's hands.
    Loss,
}

type Job = (Pending, oneshot::Sender<Result<Vec<String>, CaError>>);

#[derive(Clone, Debug)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Job>,
}

const MAX_BATCH: usize = 256;

impl Committer {
    pub fn spawn(store: Store, clock: Arc<dyn Clock>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(MAX_BATCH * 4);
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
            while let Some(job) = rx.recv().await {
                batch.push(job);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                let now = clock.now();
                let items: Vec<&Pending> = batch.iter().map(|(p, _)| p).collect();
                match write(&store, now, &items).await {
                    Ok(results) => {
                        for ((_, reply), r) in batch.drain(..).zip(results) {
                            let _ = reply.send(Ok(r));
                        }
                    }
                    Err(_) if batch.len() > 1 => {
                        for (p, reply) in batch.drain(..) {
                            let r = write(&store, now, &[&p])
                                .await
                                .map(|mut v| v.pop().unwrap_or_default());
                            let _ = reply.send(r);
                        }
                    }
                    Err(e) => {
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(clone_err(&e)));
                        }
                    }
                }
            }
        });
        Committer { tx }
    }

    /// Writes one issuance's records; returns the serials it superseded.
    pub async fn commit(&self, p: Pending) -> Result<Vec<String>, CaError> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((p, reply)).await.map_err(|_| {
            CaError::Store(StoreError::AuditUnavailable(
                "issuance writer stopped".into(),
            ))
        })?;
        wait.await.map_err(|_| {
            CaError::Store(StoreError::AuditUnavailable(
                "issuance writer stopped".into(),
            ))
        })?
    }
}

fn clone_err(e: &CaError) -> CaError {
    match e {
        CaError::Conflict(m) => CaError::Conflict(m.clone()),
        other => CaError::Store(StoreError::Io(other.to_string())),
    }
}

async fn write_one(
    conn: &mut Conn,
    now: jiff::Timestamp,
    p: &Pending,
) -> Result<(Vec<String>, AuditEntry), CaError> {
    repo::expire_lapsed(conn, &p.my_number, now).await?;
    let mut superseded = Vec::new();
    let revocation = if p.reason == Reason::Loss {
        "keyCompromise"
    } else {
        "superseded"
    };
    for serial in &p.supersede {
        if repo::revoke_certificate(conn, serial, revocation, now).await? {
            repo::delete_ocsp(conn, serial).await?;
            superseded.push(serial.clone());
        }
    }
    for r in &p.records {
        repo::insert_certificate(conn, r).await.map_err(|e| {
            if e.is_unique_violation() {
                CaError::Conflict("the resident already holds valid certificates".into())
            } else {
                CaError::Store(e)
            }
        })?;
    }
    let kind = match p.reason {
        Reason::Issuance => "issuance",
        Reason::Renewal => "renewal",
        Reason::Loss => "reissue",
    };
    let entry = AuditEntry::new(kind, &p.operator, "ok")
        .subject(p.my_number.as_str())
        .items(
            p.records
                .iter()
                .map(|r| r.kind.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
        .detail(format!(
            "issued {}{}",
            p.records
                .iter()
                .map(|r| r.serial.as_str())
                .collect::<Vec<_>>()
                .join(","),
            if superseded.is_empty() {
                String::new()
            } else {
                format!("; superseded {}", superseded.join(","))
            }
        ));
    Ok((superseded, entry))
}

async fn write(
    store: &Store,
    now: jiff::Timestamp,
    items: &[&Pending],
) -> Result<Vec<Vec<String>>, CaError> {
    let mut tx = store.begin().await?;
    let mut results = Vec::with_capacity(items.len());
    let mut entries = Vec::with_capacity(items.len());
    for p in items {
        let (superseded, entry) = write_one(&mut tx, now, p).await?;
        results.push(superseded);
        entries.push(entry);
    }
    audit::append_in_tx(&mut tx, now, &entries).await?;
    honnin_store::commit(tx).await?;
    Ok(results)
}
