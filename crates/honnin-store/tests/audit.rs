#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The hash-chained audit log: appends in a transaction and through the group writer,
//! tamper detection by `verify`, and retention purges that keep the chain verifiable.

use std::collections::BTreeSet;
use std::sync::Arc;

use honnin_store::audit::{self, AuditEntry, AuditLog, GENESIS};
use honnin_store::{Clock, Store};
use honnin_testkit::{backends, count_rows, fixed_clock, now};

fn entry(i: usize) -> AuditEntry {
    AuditEntry::new("read", &format!("op-{i}"), "ok")
        .subject(format!("subject-{}", i % 3))
        .items("record")
        .detail(format!("entry {i}"))
}

async fn append(store: &Store, at: jiff::Timestamp, entries: &[AuditEntry]) -> Vec<i64> {
    let mut tx = store.begin().await.unwrap();
    let seqs = audit::append_in_tx(&mut tx, at, entries).await.unwrap();
    honnin_store::commit(tx).await.unwrap();
    seqs
}

async fn all(store: &Store) -> Vec<audit::AuditRecord> {
    let mut conn = store.conn().await.unwrap();
    audit::page(&mut conn, 0, None, 100_000).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_in_tx_chains_entries() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let empty = audit::verify(store).await.unwrap();
        assert!(empty.ok && empty.entries == 0, "{name}: {empty:?}");

        let first = append(store, now(), &[entry(0), entry(1), entry(2)]).await;
        assert_eq!(first, [1, 2, 3], "{name}");
        let more = append(store, now(), &[entry(3)]).await;
        assert_eq!(more, [4], "{name}");
        assert!(append(store, now(), &[]).await.is_empty());

        let rows = all(store).await;
        assert_eq!(rows.len(), 4, "{name}");
        assert_eq!(rows[0].prev_hash, GENESIS, "{name}");
        for w in rows.windows(2) {
            assert_eq!(w[1].prev_hash, w[0].hash, "{name}: chain link broken");
        }
        assert_eq!(rows[1].entry, entry(1), "{name}: entry not stored as given");
        assert_eq!(rows[1].at, now(), "{name}");
        assert_eq!(
            rows[2].hash,
            audit::entry_hash(
                3,
                now().as_microsecond(),
                &rows[2].entry,
                &rows[2].prev_hash
            )
        );

        let report = audit::verify(store).await.unwrap();
        assert!(report.ok, "{name}: {report:?}");
        assert_eq!(
            (report.entries, report.first_seq, report.head_seq),
            (4, 1, 4),
            "{name}"
        );

        // Times never go backwards along the chain, even if the caller's clock does.
        let back = now()
            .checked_sub(jiff::SignedDuration::from_hours(1))
            .unwrap();
        let s = append(store, back, &[entry(4)]).await;
        let rows = all(store).await;
        assert_eq!(rows.last().unwrap().seq, s[0]);
        assert_eq!(
            rows.last().unwrap().at,
            now(),
            "{name}: time went backwards"
        );

        let mut conn = store.conn().await.unwrap();
        let about = audit::for_subject(&mut conn, "subject-1", 100)
            .await
            .unwrap();
        assert_eq!(
            about.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [2, 5],
            "{name}"
        );
        let reads = audit::page(&mut conn, 2, Some("read"), 2).await.unwrap();
        assert_eq!(
            reads.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [3, 4],
            "{name}"
        );
        assert!(
            audit::page(&mut conn, 0, Some("login"), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_writer_serves_200_concurrent_appends() {
    for db in backends().await {
        let name = db.name;
        let clock: Arc<dyn Clock> = Arc::new(fixed_clock());
        let log = AuditLog::spawn(db.store.clone(), clock);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move { log.append(entry(i)).await }));
        }
        // Appends in callers' transactions interleave with the writer's batches.
        let mut tx_tasks = Vec::new();
        for i in 200..220 {
            let store = db.store.clone();
            tx_tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await?;
                let seqs = audit::append_in_tx(&mut tx, now(), &[entry(i)]).await?;
                honnin_store::commit(tx).await?;
                Ok::<_, honnin_store::StoreError>(seqs[0])
            }));
        }
        let mut seqs = BTreeSet::new();
        for t in tasks {
            let seq = t
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: append failed: {e}"));
            assert!(seqs.insert(seq), "{name}: seq {seq} given twice");
        }
        for t in tx_tasks {
            let seq = t
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: append_in_tx failed: {e}"));
            assert!(seqs.insert(seq), "{name}: seq {seq} given twice");
        }
        assert_eq!(seqs, (1..=220).collect::<BTreeSet<i64>>(), "{name}");
        assert_eq!(count_rows(&db.store, "audit_log").await, 220, "{name}");
        // Each caller's entry is stored under the seq it was told.
        let rows = all(&db.store).await;
        let details: BTreeSet<&str> = rows.iter().map(|r| r.entry.detail.as_str()).collect();
        assert_eq!(details.len(), 220, "{name}");
        let report = audit::verify(&db.store).await.unwrap();
        assert!(report.ok, "{name}: {report:?}");
        assert_eq!(report.entries, 220, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_writer_reports_the_seq_of_each_entry() {
    for db in backends().await {
        let clock: Arc<dyn Clock> = Arc::new(fixed_clock());
        let log = AuditLog::spawn(db.store.clone(), clock);
        let seq = log
            .append(AuditEntry::new("login", "alice", "ok"))
            .await
            .unwrap();
        let seq2 = log
            .append(AuditEntry::new("logout", "alice", "ok"))
            .await
            .unwrap();
        assert_eq!((seq, seq2), (1, 2), "{}", db.name);
        let mut conn = db.store.conn().await.unwrap();
        let rows = audit::page(&mut conn, 1, None, 10).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].entry.kind, "logout", "{}", db.name);
        assert_eq!(rows[0].at, now());
    }
}

async fn ten_entries(store: &Store) {
    let entries: Vec<AuditEntry> = (0..10).map(entry).collect();
    assert_eq!(
        append(store, now(), &entries).await,
        (1..=10).collect::<Vec<i64>>()
    );
    assert!(audit::verify(store).await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_an_altered_row() {
    for db in backends().await {
        let name = db.name;
        ten_entries(&db.store).await;
        let n = sqlx::query("UPDATE audit_log SET result = 'granted' WHERE seq = 6")
            .execute(db.store.pool())
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1);
        let report = audit::verify(&db.store).await.unwrap();
        assert!(!report.ok, "{name}: altered row not detected");
        let broken = report.first_broken.unwrap();
        assert_eq!(broken.seq, 6, "{name}: {broken:?}");
        assert!(broken.reason.contains("altered"), "{name}: {broken:?}");
        assert_eq!(report.entries, 5, "{name}: entries before the break");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_a_deleted_middle_row() {
    for db in backends().await {
        let name = db.name;
        ten_entries(&db.store).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = 4")
            .execute(db.store.pool())
            .await
            .unwrap();
        let report = audit::verify(&db.store).await.unwrap();
        assert!(!report.ok, "{name}: deletion not detected");
        let broken = report.first_broken.unwrap();
        assert_eq!(broken.seq, 4, "{name}: {broken:?}");
        assert!(broken.reason.contains("missing"), "{name}: {broken:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_a_deleted_last_row() {
    for db in backends().await {
        let name = db.name;
        ten_entries(&db.store).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = 10")
            .execute(db.store.pool())
            .await
            .unwrap();
        let report = audit::verify(&db.store).await.unwrap();
        assert!(!report.ok, "{name}: truncation not detected");
        assert_eq!(report.first_broken.unwrap().seq, 10, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_a_rehashed_row_with_a_broken_link() {
    for db in backends().await {
        let name = db.name;
        ten_entries(&db.store).await;
        // A forger rewrites entry 7 and recomputes its hash over a made-up prev_hash, so
        // the row is self-consistent but no longer linked to entry 6.
        let rows = all(&db.store).await;
        let row = rows.iter().find(|r| r.seq == 7).unwrap();
        let mut forged = row.entry.clone();
        forged.result = "granted".into();
        let fake_prev = rows[2].hash.clone();
        let hash = audit::entry_hash(7, row.at.as_microsecond(), &forged, &fake_prev);
        assert_eq!(
            audit::entry_hash(7, row.at.as_microsecond(), &forged, &fake_prev),
            hash,
            "hash is deterministic"
        );
        let n = sqlx::query(
            "UPDATE audit_log SET result = $1, prev_hash = $2, hash = $3 WHERE seq = 7",
        )
        .bind("granted")
        .bind(fake_prev)
        .bind(hash)
        .execute(db.store.pool())
        .await
        .unwrap()
        .rows_affected();
        assert_eq!(n, 1);
        let report = audit::verify(&db.store).await.unwrap();
        assert!(!report.ok, "{name}: forged link not detected");
        let broken = report.first_broken.unwrap();
        assert_eq!(broken.seq, 7, "{name}: {broken:?}");
        assert!(broken.reason.contains("prev_hash"), "{name}: {broken:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_a_prefix_and_keeps_the_chain_verifiable() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let t0 = now();
        let t1 = t0
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap();
        let t2 = t1
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap();
        append(store, t0, &(0..5).map(entry).collect::<Vec<_>>()).await;
        append(store, t1, &(5..8).map(entry).collect::<Vec<_>>()).await;

        // Nothing is older than t0.
        let none = audit::purge_before(store, t1, t0, "admin-1").await.unwrap();
        assert_eq!((none.purged, none.record_seq), (0, None), "{name}");
        assert_eq!(
            count_rows(store, "audit_log").await,
            8,
            "{name}: an empty purge wrote"
        );

        let before = all(store).await;
        let report = audit::purge_before(store, t2, t1, "admin-1").await.unwrap();
        assert_eq!(report.purged, 5, "{name}: {report:?}");
        assert_eq!(
            (report.first_purged, report.last_purged),
            (Some(1), Some(5)),
            "{name}"
        );
        assert_eq!(report.record_seq, Some(9), "{name}");

        let rows = all(store).await;
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [6, 7, 8, 9],
            "{name}"
        );
        assert!(
            rows.iter().all(|r| r.at >= t1),
            "{name}: an old entry survived"
        );
        let rec = &rows[3];
        assert_eq!(rec.entry.kind, "retention-purge", "{name}");
        assert_eq!(rec.entry.operator, "admin-1");
        assert_eq!(rec.at, t2);
        assert!(
            rec.entry.detail.contains("purged 5 entries 1..=5"),
            "{name}: {}",
            rec.entry.detail
        );
        assert!(
            rec.entry.detail.contains(&before[4].hash),
            "{name}: last purged hash not recorded"
        );

        let v = audit::verify(store).await.unwrap();
        assert!(v.ok, "{name}: {v:?}");
        assert_eq!((v.first_seq, v.head_seq, v.entries), (6, 9, 4), "{name}");

        // Tampering with the first retained entry is still caught after the purge.
        sqlx::query("UPDATE audit_log SET detail = 'x' WHERE seq = 6")
            .execute(store.pool())
            .await
            .unwrap();
        let v = audit::verify(store).await.unwrap();
        assert_eq!(v.first_broken.map(|b| b.seq), Some(6), "{name}");
        sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = 6")
            .bind(before[5].entry.detail.clone())
            .execute(store.pool())
            .await
            .unwrap();
        assert!(audit::verify(store).await.unwrap().ok, "{name}");

        // A second purge continues from where the first stopped, including its record.
        let t3 = t2.checked_add(jiff::SignedDuration::from_hours(1)).unwrap();
        let second = audit::purge_before(store, t3, t3, "system").await.unwrap();
        assert_eq!(second.purged, 4, "{name}: {second:?}");
        assert_eq!(
            (second.first_purged, second.last_purged),
            (Some(6), Some(9)),
            "{name}"
        );
        assert_eq!(second.record_seq, Some(10));
        let v = audit::verify(store).await.unwrap();
        assert!(v.ok, "{name}: {v:?}");
        assert_eq!((v.first_seq, v.head_seq, v.entries), (10, 10, 1), "{name}");

        // Appends continue the chain after purges.
        append(store, t3, &[entry(99)]).await;
        let v = audit::verify(store).await.unwrap();
        assert!(v.ok && v.head_seq == 11, "{name}: {v:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_catches_rows_left_before_the_retained_start() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let t0 = now();
        let t1 = t0
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap();
        append(store, t0, &[entry(0), entry(1)]).await;
        append(store, t1, &[entry(2)]).await;
        let rows = all(store).await;
        audit::purge_before(store, t1, t1, "admin-1").await.unwrap();
        // Someone restores a purged row.
        let r = &rows[0];
        sqlx::query(
            "INSERT INTO audit_log (seq, at, kind, operator, agency, basis, subject, items, result, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, NULL, NULL, $5, $6, $7, $8, $9, $10)",
        )
        .bind(r.seq)
        .bind(r.at.as_microsecond())
        .bind(r.entry.kind.clone())
        .bind(r.entry.operator.clone())
        .bind(r.entry.subject.clone())
        .bind(r.entry.items.clone())
        .bind(r.entry.result.clone())
        .bind(r.entry.detail.clone())
        .bind(r.prev_hash.clone())
        .bind(r.hash.clone())
        .execute(store.pool())
        .await
        .unwrap();
        let v = audit::verify(store).await.unwrap();
        assert!(!v.ok, "{name}: stray row not detected");
        assert_eq!(v.first_broken.unwrap().seq, 1, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_transaction_leaves_no_audit_or_outbox_rows() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let mut tx = store.begin().await.unwrap();
        let seqs = audit::append_in_tx(&mut tx, now(), &[entry(0), entry(1)])
            .await
            .unwrap();
        assert_eq!(seqs, [1, 2]);
        honnin_store::outbox::publish(&mut tx, now(), "t", "k", &serde_json::json!({}))
            .await
            .unwrap();
        tx.rollback().await.unwrap();

        // A transaction dropped without commit rolls back too.
        {
            let mut tx = store.begin().await.unwrap();
            audit::append_in_tx(&mut tx, now(), &[entry(2)])
                .await
                .unwrap();
            honnin_store::outbox::publish(&mut tx, now(), "t", "k2", &serde_json::json!({}))
                .await
                .unwrap();
        }

        assert_eq!(count_rows(store, "audit_log").await, 0, "{name}");
        assert_eq!(count_rows(store, "outbox").await, 0, "{name}");
        let mut conn = store.conn().await.unwrap();
        assert_eq!(
            honnin_store::outbox::head(&mut conn).await.unwrap(),
            0,
            "{name}"
        );
        drop(conn);
        let v = audit::verify(store).await.unwrap();
        assert!(v.ok && v.head_seq == 0, "{name}: {v:?}");

        // The chain head was not advanced by the rolled-back appends.
        assert_eq!(append(store, now(), &[entry(3)]).await, [1], "{name}");
        let rows = all(store).await;
        assert_eq!(rows[0].prev_hash, GENESIS, "{name}");
        assert!(audit::verify(store).await.unwrap().ok, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_span_several_insert_statements() {
    for db in backends().await {
        let name = db.name;
        // More than one 400-row chunk in one call.
        let entries: Vec<AuditEntry> = (0..1000).map(entry).collect();
        let seqs = append(&db.store, now(), &entries).await;
        assert_eq!(seqs, (1..=1000).collect::<Vec<i64>>(), "{name}");
        let v = audit::verify(&db.store).await.unwrap();
        assert!(v.ok && v.entries == 1000, "{name}: {v:?}");
    }
}
