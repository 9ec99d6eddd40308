#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Bulk import (移行): a valid batch is written whole, with a history entry per resident;
//! a batch with any bad row is refused whole, naming the row and field, and writes nothing.

use std::collections::BTreeSet;

use honnin_registry::synth::Generator;
use honnin_registry::{ImportRow, RegistryError, RowError};
use honnin_store::registry as repo;
use honnin_testkit::{
    CHIYODA, SAPPORO, admin, assert_chain_ok, audit_entries, backends, clerk, count_rows, counts,
    fixed_clock, my_number, registry, today,
};

fn synthetic(seed: u64, n: usize) -> Vec<ImportRow> {
    let mut g = Generator::new(seed, today());
    (0..n)
        .map(|_| ImportRow::from_synthetic(&g.next_resident()))
        .collect()
}

fn chiyoda_rows(seed: u64, n: usize) -> Vec<ImportRow> {
    let mut g = Generator::new(seed, today());
    (0..n)
        .map(|_| ImportRow::from_synthetic(&g.next_in(CHIYODA).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_batch_of_2000_is_imported_whole() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let rows = synthetic(42, 2000);
        // The generator spreads residents over several municipalities.
        let munis: BTreeSet<&str> = rows.iter().map(|r| r.municipality.as_str()).collect();
        assert!(munis.len() > 3, "{munis:?}");

        let report = reg.import(&admin(), &rows, 1).await.unwrap();
        assert_eq!(report.imported, 2000, "{name}");
        assert_eq!(report.my_numbers.len(), 2000);
        let distinct: BTreeSet<&String> = report.my_numbers.iter().collect();
        assert_eq!(distinct.len(), 2000, "{name}: issued numbers repeat");

        assert_eq!(reg.count().await.unwrap(), 2000, "{name}");
        assert_eq!(
            count_rows(&db.store, "resident_events").await,
            2000,
            "{name}"
        );
        let v1_imports: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM resident_events WHERE version = 1 AND kind = 'import'",
        )
        .fetch_one(db.store.pool())
        .await
        .unwrap();
        assert_eq!(
            v1_imports, 2000,
            "{name}: every resident has history version 1 kind import"
        );
        let distinct_codes: i64 =
            sqlx::query_scalar("SELECT COUNT(DISTINCT resident_code) FROM residents")
                .fetch_one(db.store.pool())
                .await
                .unwrap();
        assert_eq!(distinct_codes, 2000, "{name}");

        // Rows land as given, in order, each with its snapshot.
        let mut conn = db.store.conn().await.unwrap();
        for i in [0usize, 1, 999, 1999] {
            let n = my_number(&report.my_numbers[i]);
            let r = repo::get_resident(&mut conn, &n).await.unwrap().unwrap();
            assert_eq!(r.facts.name.as_str(), rows[i].name, "{name}: row {i}");
            assert_eq!(r.facts.address.as_str(), rows[i].address);
            assert_eq!(r.facts.birth_date.to_string(), rows[i].birth_date);
            assert_eq!(r.municipality.as_str(), rows[i].municipality);
            assert_eq!(r.version, 1);
            let h = repo::events_for(&mut conn, &n).await.unwrap();
            assert_eq!(h.len(), 1, "{name}");
            assert_eq!((h[0].kind.as_str(), h[0].version), ("import", 1));
            assert_eq!(h[0].snapshot, serde_json::to_value(&r).unwrap());
            assert_eq!(h[0].operator, "admin-1");
        }
        drop(conn);

        let log = audit_entries(&db.store, Some("import")).await;
        assert_eq!(log.len(), 1, "{name}");
        assert!(
            log[0].entry.detail.contains("imported 2000"),
            "{}",
            log[0].entry.detail
        );
        assert!(
            log[0].entry.detail.contains("rows 1..=2000"),
            "{}",
            log[0].entry.detail
        );
        assert_chain_ok(&db.store).await;

        // A second batch with given numbers continues the numbering of the report.
        let mut more = synthetic(7, 3);
        more[0].my_number = Some("621498320257".into());
        more[1].my_number = Some("123456789018".into());
        let report = reg.import(&admin(), &more, 2001).await.unwrap();
        assert_eq!(
            &report.my_numbers[..2],
            ["621498320257", "123456789018"],
            "{name}"
        );
        assert_eq!(reg.count().await.unwrap(), 2003, "{name}");
    }
}

/// One invalid row and what the report must name.
struct Bad {
    what: &'static str,
    index: usize,
    field: &'static str,
    edit: fn(&mut Vec<ImportRow>, usize),
}

const BAD: &[Bad] = &[
    Bad {
        what: "bad check digit in my_number",
        index: 17,
        field: "my_number",
        edit: |rows, i| rows[i].my_number = Some("621498320258".into()),
    },
    Bad {
        what: "impossible date",
        index: 0,
        field: "birth_date",
        edit: |rows, i| rows[i].birth_date = "2023-02-29".into(),
    },
    Bad {
        what: "bad municipality check digit",
        index: 49,
        field: "municipality",
        edit: |rows, i| rows[i].municipality = "131017".into(),
    },
    Bad {
        what: "duplicate my_number within the batch",
        index: 30,
        field: "my_number",
        edit: |rows, i| {
            rows[3].my_number = Some("987654321093".into());
            rows[i].my_number = Some("987654321093".into());
        },
    },
    Bad {
        what: "my_number already registered",
        index: 5,
        field: "my_number",
        edit: |rows, i| rows[i].my_number = Some("111111111118".into()),
    },
    Bad {
        what: "half-width space in the name",
        index: 8,
        field: "name",
        edit: |rows, i| rows[i].name = "山田 太郎".into(),
    },
    Bad {
        what: "hiragana reading",
        index: 9,
        field: "name_kana",
        edit: |rows, i| rows[i].name_kana = "やまだ\u{3000}たろう".into(),
    },
    Bad {
        what: "unknown sex",
        index: 10,
        field: "sex",
        edit: |rows, i| rows[i].sex = "x".into(),
    },
    Bad {
        what: "future birth date",
        index: 11,
        field: "birth_date",
        edit: |rows, i| rows[i].birth_date = "2026-11-23".into(),
    },
    Bad {
        what: "flags of the wrong length",
        index: 12,
        field: "address_flags",
        edit: |rows, i| rows[i].address_flags = Some("0".into()),
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_one_bad_row_is_refused_whole() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        // 111111111118 is registered before the batches.
        let mut first = synthetic(1, 1);
        first[0].my_number = Some("111111111118".into());
        reg.import(&admin(), &first, 1).await.unwrap();

        for bad in BAD {
            let before = counts(&db.store).await;
            let mut rows = synthetic(99, 50);
            (bad.edit)(&mut rows, bad.index);
            let first_row = 2;
            let err = reg.import(&admin(), &rows, first_row).await.unwrap_err();
            let RegistryError::Import { errors } = err else {
                panic!("{name}: {}: not an import refusal: {err:?}", bad.what);
            };
            assert_eq!(errors.len(), 1, "{name}: {}: {errors:?}", bad.what);
            let RowError {
                row,
                field,
                message,
            } = &errors[0];
            assert_eq!(
                *row,
                first_row + bad.index,
                "{name}: {}: wrong row: {message}",
                bad.what
            );
            assert_eq!(field, bad.field, "{name}: {}: {message}", bad.what);
            assert!(!message.is_empty());
            assert_eq!(
                counts(&db.store).await,
                before,
                "{name}: {}: a refused batch wrote something",
                bad.what
            );
        }
        assert_eq!(reg.count().await.unwrap(), 1, "{name}");

        // Several bad rows are all reported, in row order.
        let mut rows = synthetic(5, 20);
        rows[15].birth_date = "2023-02-29".into();
        rows[2].municipality = "131017".into();
        let err = reg.import(&admin(), &rows, 1).await.unwrap_err();
        let RegistryError::Import { errors } = err else {
            panic!("{name}: {err:?}")
        };
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(got, [(3, "municipality"), (16, "birth_date")], "{name}");
        assert_eq!(reg.count().await.unwrap(), 1, "{name}");
        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_imports_only_into_their_municipality() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let c = clerk(CHIYODA);
        let mut rows = chiyoda_rows(3, 10);
        let report = reg.import(&c, &rows, 1).await.unwrap();
        assert_eq!(report.imported, 10, "{name}");

        rows = chiyoda_rows(4, 10);
        rows[6].municipality = SAPPORO.into();
        let before = counts(&db.store).await;
        let err = reg.import(&c, &rows, 1).await.unwrap_err();
        let RegistryError::Import { errors } = err else {
            panic!("{name}: {err:?}")
        };
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        assert_eq!(errors[0].row, 7, "{name}");
        assert_eq!(counts(&db.store).await, before, "{name}");

        let err = reg
            .import(&honnin_testkit::auditor(), &rows, 1)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err:?}"
        );
        let err = reg.import(&admin(), &[], 1).await.unwrap_err();
        assert_eq!(err.field_name(), Some("rows"), "{name}");
        assert_eq!(counts(&db.store).await, before, "{name}");
    }
}
