#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Correction requests (申出): received → investigating → corrected | rejected, nothing
//! else, and every step logged.

use honnin_registry::RegistryError;
use honnin_store::registry as repo;
use honnin_testkit::{
    CHIYODA, SAPPORO, admin, assert_chain_ok, audit_entries, auditor, backends, clerk, counts,
    fixed_clock, my_number, new_resident, registry, sample_facts,
};

fn fields(f: &[&str]) -> Vec<String> {
    f.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_moves_through_its_states_and_is_logged() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let c = clerk(CHIYODA);
        let r = reg
            .register(&c, new_resident(CHIYODA, sample_facts()))
            .await
            .unwrap();
        let n = &r.my_number;

        let req = reg
            .request_correction(
                &c,
                n,
                fields(&["name", "address"]),
                "旧字体の「髙」が正しい".into(),
            )
            .await
            .unwrap();
        assert_eq!(req.status, "received", "{name}");
        assert_eq!(req.fields, ["name", "address"]);
        assert_eq!(req.my_number, *n);
        assert!(req.id.starts_with("cr_"), "{}", req.id);

        let inv = reg
            .update_correction(&c, &req.id, "investigating", "原本確認中".into())
            .await
            .unwrap();
        assert_eq!(inv.status, "investigating", "{name}");
        assert_eq!(inv.note, "原本確認中");
        let done = reg
            .update_correction(&admin(), &req.id, "corrected", "修正済".into())
            .await
            .unwrap();
        assert_eq!(done.status, "corrected", "{name}");
        assert_eq!(done.operator, "admin-1");

        // The stored request agrees with what was returned.
        let mut conn = db.store.conn().await.unwrap();
        let stored = repo::get_correction(&mut conn, &req.id)
            .await
            .unwrap()
            .unwrap();
        drop(conn);
        assert_eq!(stored, done, "{name}");

        // Each step is in the log, about the resident.
        let log = audit_entries(&db.store, Some("correction-request")).await;
        let results: Vec<&str> = log.iter().map(|e| e.entry.result.as_str()).collect();
        assert_eq!(
            results,
            ["received", "investigating", "corrected"],
            "{name}"
        );
        assert!(
            log.iter()
                .all(|e| e.entry.subject.as_deref() == Some(n.as_str()))
        );
        assert!(
            log[1].entry.detail.contains("received -> investigating"),
            "{}",
            log[1].entry.detail
        );

        // The resident sees the request in a disclosure.
        let d = reg.disclose(&c, n).await.unwrap();
        assert_eq!(d.corrections, std::slice::from_ref(&done), "{name}");

        // A second request may be rejected straight away.
        let second = reg
            .request_correction(&c, n, fields(&["sex"]), "性別".into())
            .await
            .unwrap();
        let rej = reg
            .update_correction(&c, &second.id, "rejected", "根拠なし".into())
            .await
            .unwrap();
        assert_eq!(rej.status, "rejected", "{name}");
        assert_eq!(
            reg.disclose(&c, n).await.unwrap().corrections.len(),
            2,
            "{name}"
        );
        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_transitions_and_bad_requests_change_nothing() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let c = clerk(CHIYODA);
        let r = reg
            .register(&c, new_resident(CHIYODA, sample_facts()))
            .await
            .unwrap();
        let n = &r.my_number;
        let req = reg
            .request_correction(&c, n, fields(&["name"]), "誤字".into())
            .await
            .unwrap();
        reg.update_correction(&c, &req.id, "corrected", String::new())
            .await
            .unwrap();
        let before = counts(&db.store).await;

        let err = reg
            .update_correction(&c, &req.id, "investigating", String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Conflict { .. }),
            "{name}: {err:?}"
        );
        let err = reg
            .update_correction(&c, &req.id, "received", String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Conflict { .. }),
            "{name}: {err:?}"
        );
        let err = reg
            .update_correction(&c, &req.id, "corrected", String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Conflict { .. }),
            "{name}: corrected twice: {err:?}"
        );
        let err = reg
            .update_correction(&c, &req.id, "done", String::new())
            .await
            .unwrap_err();
        assert_eq!(err.field_name(), Some("status"), "{name}: {err:?}");
        let err = reg
            .update_correction(&c, "cr_nope", "investigating", String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{name}: {err:?}"
        );
        let err = reg
            .update_correction(&clerk(SAPPORO), &req.id, "rejected", String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err:?}"
        );

        let err = reg
            .request_correction(&c, n, fields(&["shoe_size"]), "x".into())
            .await
            .unwrap_err();
        assert_eq!(err.field_name(), Some("fields"), "{name}: {err:?}");
        let err = reg
            .request_correction(&c, n, fields(&[]), "x".into())
            .await
            .unwrap_err();
        assert_eq!(err.field_name(), Some("fields"), "{name}: {err:?}");
        let err = reg
            .request_correction(&c, n, fields(&["name"]), "  ".into())
            .await
            .unwrap_err();
        assert_eq!(err.field_name(), Some("detail"), "{name}: {err:?}");
        let err = reg
            .request_correction(
                &c,
                &my_number("123456789018"),
                fields(&["name"]),
                "x".into(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{name}: {err:?}"
        );
        let err = reg
            .request_correction(&clerk(SAPPORO), n, fields(&["name"]), "x".into())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err:?}"
        );
        let err = reg
            .request_correction(&auditor(), n, fields(&["name"]), "x".into())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err:?}"
        );

        let after = counts(&db.store).await;
        assert_eq!(
            (after.correction_requests, after.residents, after.outbox),
            (before.correction_requests, before.residents, before.outbox),
            "{name}: a refused request wrote something"
        );
        // The five access refusals (two not found, three forbidden) are logged.
        assert_eq!(after.audit_log - before.audit_log, 5, "{name}");
        let mut conn = db.store.conn().await.unwrap();
        let stored = repo::get_correction(&mut conn, &req.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, "corrected", "{name}");
    }
}
