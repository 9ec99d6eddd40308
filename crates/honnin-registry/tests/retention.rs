#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Retention: provision records are kept 7 years; older log entries are purged, the purge
//! is itself logged, and the remaining chain still verifies.

use honnin_core::Sex;
use honnin_registry::{Agency, LegalBasis, ProvisionQuery, ProvisionRequest, RegistryError};
use honnin_testkit::{
    CHIYODA, admin, agency, assert_chain_ok, audit_entries, auditor, backends, clerk, count_rows,
    date, fixed_clock, new_resident, now, registry, sample_facts,
};

fn years_after(t: jiff::Timestamp, years: i64) -> jiff::Timestamp {
    t.to_zoned(jiff::tz::TimeZone::UTC)
        .checked_add(jiff::Span::new().years(years))
        .unwrap()
        .timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_older_than_seven_years_are_purged_and_the_purge_is_recorded() {
    for db in backends().await {
        let name = db.name;
        let clock = fixed_clock();
        let reg = registry(&db.store, &clock);
        reg.configure_agency(
            &admin(),
            Agency {
                id: "nta".into(),
                name: "国税庁".into(),
            },
            vec![LegalBasis {
                agency: "nta".into(),
                code: "B1".into(),
                description: String::new(),
                items: vec!["name".into()],
            }],
        )
        .await
        .unwrap();
        let r = reg
            .register(&clerk(CHIYODA), new_resident(CHIYODA, sample_facts()))
            .await
            .unwrap();
        reg.get(&clerk(CHIYODA), &r.my_number).await.unwrap();
        let ask = ProvisionRequest {
            basis: "B1".into(),
            query: ProvisionQuery::MyNumber(r.my_number.clone()),
            items: vec!["name".into()],
        };
        reg.provide(&agency("nta"), ask.clone()).await.unwrap();
        reg.provide(
            &agency("nta"),
            ProvisionRequest {
                basis: "B0".into(),
                ..ask.clone()
            },
        )
        .await
        .unwrap_err();
        let old = count_rows(&db.store, "audit_log").await;
        assert_eq!(
            old, 5,
            "{name}: configure, register, read, granted, refused"
        );

        // Nothing is 7 years old yet.
        let none = reg.purge_expired_log(&admin()).await.unwrap();
        assert_eq!(none.purged, 0, "{name}");
        assert_eq!(
            count_rows(&db.store, "audit_log").await,
            old,
            "{name}: an empty purge wrote"
        );

        // Six years on, still nothing; entries made then are recent.
        clock.set(years_after(now(), 6));
        assert_eq!(
            reg.purge_expired_log(&admin()).await.unwrap().purged,
            0,
            "{name}"
        );
        reg.get(&clerk(CHIYODA), &r.my_number).await.unwrap();

        // Eight years after the first entries: those go, the six-year-old read stays.
        clock.set(years_after(now(), 8));
        let report = reg.purge_expired_log(&admin()).await.unwrap();
        assert_eq!(report.purged, old, "{name}: {report:?}");
        assert_eq!(
            (report.first_purged, report.last_purged),
            (Some(1), Some(old)),
            "{name}"
        );
        let left = audit_entries(&db.store, None).await;
        let kinds: Vec<(&str, &str)> = left
            .iter()
            .map(|e| (e.entry.kind.as_str(), e.entry.result.as_str()))
            .collect();
        assert_eq!(kinds, [("read", "ok"), ("retention-purge", "ok")], "{name}");
        let purge = &left[1];
        assert_eq!(Some(purge.seq), report.record_seq);
        assert_eq!(purge.entry.operator, "admin-1");
        assert_eq!(purge.at, years_after(now(), 8), "{name}");
        assert!(
            purge
                .entry
                .detail
                .contains(&format!("purged {old} entries")),
            "{}",
            purge.entry.detail
        );
        assert!(
            left[0].at >= years_after(now(), 1),
            "{name}: a 7-year-old entry survived"
        );

        let v = assert_chain_ok(&db.store).await;
        assert_eq!((v.first_seq, v.entries), (old + 1, 2), "{name}");
        assert_eq!(reg.verify_log(&auditor()).await.unwrap(), v, "{name}");

        // The resident's record itself is not touched by log retention.
        let d = reg.disclose(&admin(), &r.my_number).await.unwrap();
        assert_eq!(d.history.len(), 1, "{name}");
        assert_eq!(d.record.facts.sex, Sex::Male);
        assert_eq!(d.history[0].effective_date, date("2026-11-20"));

        // Only an admin purges.
        for who in [clerk(CHIYODA), auditor(), agency("nta")] {
            let err = reg.purge_expired_log(&who).await.unwrap_err();
            assert!(
                matches!(err, RegistryError::Forbidden { .. }),
                "{name}: {}: {err:?}",
                who.operator
            );
        }
        assert_chain_ok(&db.store).await;
    }
}
