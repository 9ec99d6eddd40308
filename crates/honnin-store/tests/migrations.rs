#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Migrations: applied once, idempotent on reopen, safe when several processes open the
//! same database at once.

use honnin_store::audit::{self, AuditEntry};
use honnin_store::{Backend, outbox};
use honnin_testkit::{backends, count_rows, empty_backends, now};

/// How many migrations there are: one `.sql` file each.
fn migrations() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let n = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    i64::try_from(n).unwrap()
}

/// The counters the migrations seed: `outbox` (0001) and `crl` (0003).
const COUNTERS: i64 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_on_reopen() {
    for db in backends().await {
        let name = db.name;
        let store = &db.store;
        assert_eq!(
            count_rows(store, "schema_migrations").await,
            migrations(),
            "{name}"
        );
        assert_eq!(count_rows(store, "counters").await, COUNTERS, "{name}");
        assert_eq!(count_rows(store, "audit_state").await, 1, "{name}");

        // Some data before the reopen, which must survive it.
        let mut tx = store.begin().await.unwrap();
        audit::append_in_tx(&mut tx, now(), &[AuditEntry::new("test", "op", "ok")])
            .await
            .unwrap();
        outbox::publish(&mut tx, now(), "t", "k", &serde_json::json!({}))
            .await
            .unwrap();
        honnin_store::commit(tx).await.unwrap();

        for _ in 0..2 {
            let again = db.reopen().await.unwrap();
            assert_eq!(again.backend(), store.backend());
            assert_eq!(
                count_rows(&again, "schema_migrations").await,
                migrations(),
                "{name}: migration applied twice"
            );
            // The seed rows of the migration were not inserted again.
            assert_eq!(count_rows(&again, "counters").await, COUNTERS, "{name}");
            assert_eq!(count_rows(&again, "audit_state").await, 1, "{name}");
            assert_eq!(
                count_rows(&again, "audit_log").await,
                1,
                "{name}: data lost on reopen"
            );
            let mut conn = again.conn().await.unwrap();
            assert_eq!(outbox::head(&mut conn).await.unwrap(), 1, "{name}");
            drop(conn);
            assert!(audit::verify(&again).await.unwrap().ok, "{name}");
            again.close().await;
        }
        if db.backend() == Backend::Sqlite {
            assert!(db.sqlite_dir().unwrap().join("honnin.sqlite").exists());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_apply_migrations_once() {
    for db in empty_backends().await {
        let name = db.name;
        // Four processes starting at once against one new, empty database.
        let (a, b, c, d) = tokio::join!(db.open(), db.open(), db.open(), db.open());
        for s in [a, b, c, d] {
            let s = s.unwrap_or_else(|e| panic!("{name}: concurrent first open failed: {e}"));
            assert_eq!(
                count_rows(&s, "schema_migrations").await,
                migrations(),
                "{name}"
            );
            assert_eq!(count_rows(&s, "counters").await, COUNTERS, "{name}");
            assert_eq!(count_rows(&s, "audit_state").await, 1, "{name}");
            s.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_unknown_url_schemes() {
    let err = honnin_store::Store::open("mysql://u:secret@h/db", Default::default())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unsupported"), "{msg}");
    assert!(
        !msg.contains("secret"),
        "password leaked into the error: {msg}"
    );
}
