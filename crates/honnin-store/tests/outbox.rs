#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The outbox: gap-free ordered numbering, topic filtering, and the offset CAS that makes
//! consumers exactly-once.

use std::collections::BTreeSet;

use honnin_store::{StoreError, outbox};
use honnin_testkit::{backends, count_rows, now};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_include_postgres_when_configured() {
    let dbs = backends().await;
    let names: Vec<&str> = dbs.iter().map(|d| d.name).collect();
    let pg = std::env::var(honnin_testkit::PG_URL_ENV).is_ok_and(|u| !u.trim().is_empty());
    if pg || honnin_testkit::pg_required() {
        assert_eq!(names, ["sqlite", "postgres"]);
    } else {
        assert_eq!(names, ["sqlite"]);
    }
    for db in &dbs {
        db.store.ping().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_numbers_are_gap_free_and_ordered() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let mut seqs = Vec::new();
        for i in 0..30 {
            let topic = if i % 3 == 0 { "b" } else { "a" };
            let mut tx = store.begin().await.unwrap();
            let seq = outbox::publish(&mut tx, now(), topic, &format!("k{i}"), &json!({ "i": i }))
                .await
                .unwrap();
            honnin_store::commit(tx).await.unwrap();
            seqs.push(seq);
        }
        assert_eq!(seqs, (1..=30).collect::<Vec<i64>>(), "{name}");

        // Several events in one transaction take consecutive numbers.
        let mut tx = store.begin().await.unwrap();
        let a = outbox::publish(&mut tx, now(), "a", "x", &json!(1))
            .await
            .unwrap();
        let b = outbox::publish(&mut tx, now(), "a", "y", &json!(2))
            .await
            .unwrap();
        honnin_store::commit(tx).await.unwrap();
        assert_eq!((a, b), (31, 32), "{name}");

        // A rolled-back publish leaves no gap: the number is reused.
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            outbox::publish(&mut tx, now(), "a", "gone", &json!(0))
                .await
                .unwrap(),
            33
        );
        tx.rollback().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            outbox::publish(&mut tx, now(), "a", "z", &json!(3))
                .await
                .unwrap(),
            33,
            "{name}"
        );
        honnin_store::commit(tx).await.unwrap();

        let mut conn = store.conn().await.unwrap();
        assert_eq!(outbox::head(&mut conn).await.unwrap(), 33, "{name}");
        let all = outbox::fetch_after(&mut conn, 0, None, 1000).await.unwrap();
        let got: Vec<i64> = all.iter().map(|e| e.seq).collect();
        assert_eq!(got, (1..=33).collect::<Vec<i64>>(), "{name}");
        assert!(
            all.iter().all(|e| e.key != "gone"),
            "{name}: rolled-back event visible"
        );
        assert_eq!(all[4].payload, json!({ "i": 4 }), "{name}");
        assert_eq!(all[4].key, "k4");
        assert_eq!(all[4].created_at, now(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_get_distinct_contiguous_numbers() {
    for db in backends().await {
        let name = db.name;
        let mut tasks = Vec::new();
        for t in 0..16 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for i in 0..5 {
                    let mut tx = store.begin().await?;
                    let seq =
                        outbox::publish(&mut tx, now(), "c", &format!("{t}-{i}"), &json!([t, i]))
                            .await?;
                    honnin_store::commit(tx).await?;
                    mine.push(seq);
                }
                Ok::<_, StoreError>(mine)
            }));
        }
        let mut all = BTreeSet::new();
        for task in tasks {
            let mine = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: publish failed: {e}"));
            // Each publisher sees its own numbers increase.
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{name}: {mine:?}");
            for s in mine {
                assert!(all.insert(s), "{name}: number {s} handed out twice");
            }
        }
        assert_eq!(all, (1..=80).collect::<BTreeSet<i64>>(), "{name}");
        assert_eq!(count_rows(&db.store, "outbox").await, 80, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_after_filters_by_topic_and_pages() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let mut tx = store.begin().await.unwrap();
        for i in 1..=10 {
            let topic = if i % 2 == 0 {
                "registry.change"
            } else {
                "card.issue"
            };
            outbox::publish(&mut tx, now(), topic, &format!("k{i}"), &json!({ "n": i }))
                .await
                .unwrap();
        }
        honnin_store::commit(tx).await.unwrap();

        let mut conn = store.conn().await.unwrap();
        let changes = outbox::fetch_after(&mut conn, 0, Some("registry.change"), 100)
            .await
            .unwrap();
        assert_eq!(
            changes.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [2, 4, 6, 8, 10],
            "{name}"
        );
        assert!(changes.iter().all(|e| e.topic == "registry.change"));
        let page = outbox::fetch_after(&mut conn, 4, Some("registry.change"), 2)
            .await
            .unwrap();
        assert_eq!(
            page.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [6, 8],
            "{name}"
        );
        let any = outbox::fetch_after(&mut conn, 7, None, 100).await.unwrap();
        assert_eq!(
            any.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [8, 9, 10],
            "{name}"
        );
        assert_eq!(any[1].topic, "card.issue");
        assert_eq!(any[1].payload, json!({ "n": 9 }));
        assert!(
            outbox::fetch_after(&mut conn, 10, None, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            outbox::fetch_after(&mut conn, 0, Some("nope"), 100)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_refuses_a_stale_offset() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let mut conn = store.conn().await.unwrap();
        assert_eq!(outbox::offset(&mut conn, "mailer").await.unwrap(), 0);
        drop(conn);

        // First advance creates the row.
        let mut tx = store.begin().await.unwrap();
        outbox::advance(&mut tx, "mailer", 0, 3).await.unwrap();
        honnin_store::commit(tx).await.unwrap();

        // A second instance that also read 0 must not apply events 1..=3 again.
        let mut tx = store.begin().await.unwrap();
        let err = outbox::advance(&mut tx, "mailer", 0, 2).await.unwrap_err();
        assert!(matches!(err, StoreError::Concurrent(_)), "{name}: {err}");
        drop(tx);

        let mut tx = store.begin().await.unwrap();
        outbox::advance(&mut tx, "mailer", 3, 5).await.unwrap();
        honnin_store::commit(tx).await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let err = outbox::advance(&mut tx, "mailer", 3, 6).await.unwrap_err();
        assert!(matches!(err, StoreError::Concurrent(_)), "{name}: {err}");
        drop(tx);

        // Offsets are per consumer.
        let mut tx = store.begin().await.unwrap();
        outbox::advance(&mut tx, "indexer", 0, 1).await.unwrap();
        honnin_store::commit(tx).await.unwrap();

        let mut conn = store.conn().await.unwrap();
        assert_eq!(
            outbox::offset(&mut conn, "mailer").await.unwrap(),
            5,
            "{name}"
        );
        assert_eq!(
            outbox::offset(&mut conn, "indexer").await.unwrap(),
            1,
            "{name}"
        );
    }
}

/// The exactly-once pattern: a consumer applies an event and advances its offset in one
/// transaction; a stale consumer's advance fails and its effect rolls back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_advance_rolls_back_the_consumers_effect() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        let mut tx = store.begin().await.unwrap();
        let seq = outbox::publish(&mut tx, now(), "t", "k", &json!({}))
            .await
            .unwrap();
        honnin_store::commit(tx).await.unwrap();

        // Consumer A applies event 1 (its "effect" is an event on another topic).
        let mut tx = store.begin().await.unwrap();
        outbox::publish(&mut tx, now(), "effect", "by-a", &json!({}))
            .await
            .unwrap();
        outbox::advance(&mut tx, "c", 0, seq).await.unwrap();
        honnin_store::commit(tx).await.unwrap();

        // Consumer B read offset 0 before A committed and tries the same.
        let mut tx = store.begin().await.unwrap();
        outbox::publish(&mut tx, now(), "effect", "by-b", &json!({}))
            .await
            .unwrap();
        let err = outbox::advance(&mut tx, "c", 0, seq).await.unwrap_err();
        assert!(matches!(err, StoreError::Concurrent(_)), "{name}: {err}");
        tx.rollback().await.unwrap();

        let mut conn = store.conn().await.unwrap();
        let effects = outbox::fetch_after(&mut conn, 0, Some("effect"), 10)
            .await
            .unwrap();
        assert_eq!(
            effects.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["by-a"],
            "{name}"
        );
        assert_eq!(outbox::offset(&mut conn, "c").await.unwrap(), seq);
    }
}

/// Two consumer instances racing for the same batch: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_consumers_apply_each_event_once() {
    for db in backends().await {
        let name = db.name;
        let mut tx = db.store.begin().await.unwrap();
        for i in 0..20 {
            outbox::publish(&mut tx, now(), "work", &format!("w{i}"), &json!(i))
                .await
                .unwrap();
        }
        honnin_store::commit(tx).await.unwrap();

        let mut tasks = Vec::new();
        for worker in 0..4 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut applied = 0;
                for _ in 0..200 {
                    let mut tx = store.begin().await?;
                    let from = outbox::offset(&mut tx, "worker").await?;
                    let events = outbox::fetch_after(&mut tx, from, Some("work"), 3).await?;
                    let Some(last) = events.last() else {
                        break;
                    };
                    let to = last.seq;
                    for e in &events {
                        outbox::publish(&mut tx, now(), "done", &e.key, &json!(worker)).await?;
                    }
                    match outbox::advance(&mut tx, "worker", from, to).await {
                        Ok(()) => {
                            honnin_store::commit(tx).await?;
                            applied += events.len();
                        }
                        // Lost the race (or, on SQLite, the snapshot was stale): retry.
                        Err(_) => {
                            let _ = tx.rollback().await;
                        }
                    }
                }
                Ok::<_, StoreError>(applied)
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: consumer failed: {e}"));
        }
        assert_eq!(total, 20, "{name}");
        let mut conn = db.store.conn().await.unwrap();
        let done = outbox::fetch_after(&mut conn, 0, Some("done"), 1000)
            .await
            .unwrap();
        let keys: BTreeSet<&str> = done.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(done.len(), 20, "{name}: some event applied twice or never");
        assert_eq!(keys.len(), 20, "{name}");
        assert_eq!(
            outbox::offset(&mut conn, "worker").await.unwrap(),
            20,
            "{name}"
        );
    }
}
