#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Reads, provision to agencies and disclosure: who may see what, and that every request,
//! granted or refused, is in the hash-chained log.

use honnin_core::{MyNumber, Sex};
use honnin_registry::{
    Agency, LegalBasis, ProvisionQuery, ProvisionRequest, Registry, RegistryError,
};
use honnin_store::Store;
use honnin_store::audit::AuditRecord;
use honnin_store::registry::Resident;
use honnin_testkit::{
    CHIYODA, SAPPORO, admin, agency, assert_chain_ok, audit_entries, auditor, backends, clerk,
    counts, date, fixed_clock, my_number, new_resident, registry, sample_facts, window_clerk,
};

const NTA: &str = "nta";
const CITY: &str = "city-welfare";

async fn setup(reg: &Registry) -> Resident {
    reg.configure_agency(
        &admin(),
        Agency {
            id: NTA.into(),
            name: "国税庁".into(),
        },
        vec![
            LegalBasis {
                agency: NTA.into(),
                code: "B1".into(),
                description: "住基法別表第一 1の項".into(),
                items: vec!["name".into(), "address".into(), "birth_date".into()],
            },
            LegalBasis {
                agency: NTA.into(),
                code: "B2".into(),
                description: "住基法別表第一 2の項".into(),
                items: vec!["my_number".into(), "name".into(), "status".into()],
            },
        ],
    )
    .await
    .unwrap();
    reg.configure_agency(
        &admin(),
        Agency {
            id: CITY.into(),
            name: "福祉課".into(),
        },
        vec![],
    )
    .await
    .unwrap();
    reg.register(&clerk(CHIYODA), new_resident(CHIYODA, sample_facts()))
        .await
        .unwrap()
}

fn by_number(basis: &str, n: &MyNumber, items: &[&str]) -> ProvisionRequest {
    ProvisionRequest {
        basis: basis.into(),
        query: ProvisionQuery::MyNumber(n.clone()),
        items: items.iter().map(|s| s.to_string()).collect(),
    }
}

fn by_facts(name: &str, birth: &str, sex: Sex, address: &str, items: &[&str]) -> ProvisionRequest {
    ProvisionRequest {
        basis: "B1".into(),
        query: ProvisionQuery::Facts {
            name: name.into(),
            birth_date: date(birth),
            sex,
            address: address.into(),
        },
        items: items.iter().map(|s| s.to_string()).collect(),
    }
}

async fn last_entry(store: &Store) -> AuditRecord {
    audit_entries(store, None).await.pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_scoped_and_logged() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let r = setup(&reg).await;
        let n = &r.my_number;

        let got = reg.get(&clerk(CHIYODA), n).await.unwrap();
        assert_eq!(got, r, "{name}");
        let e = last_entry(&db.store).await;
        assert_eq!(
            (
                e.entry.kind.as_str(),
                e.entry.result.as_str(),
                e.entry.operator.as_str()
            ),
            ("read", "ok", "clerk-131016"),
            "{name}"
        );
        assert_eq!(e.entry.subject.as_deref(), Some(n.as_str()));

        // Window clerks of the municipality and admins read too.
        assert_eq!(reg.get(&window_clerk(CHIYODA), n).await.unwrap(), r);
        assert_eq!(reg.get(&admin(), n).await.unwrap(), r);

        // Another municipality's clerk: refused, and the refusal is logged.
        let before = audit_entries(&db.store, Some("read")).await.len();
        let err = reg.get(&clerk(SAPPORO), n).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err:?}"
        );
        let e = last_entry(&db.store).await;
        assert_eq!(
            (e.entry.kind.as_str(), e.entry.result.as_str()),
            ("read", "refused"),
            "{name}"
        );
        assert_eq!(e.entry.operator, "clerk-011002");
        assert_eq!(e.entry.subject.as_deref(), Some(n.as_str()));
        assert!(
            !e.entry.detail.is_empty(),
            "{name}: refusal reason not logged"
        );

        // The auditor sees the log, never resident data.
        let err = reg.get(&auditor(), n).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err:?}"
        );
        let e = last_entry(&db.store).await;
        assert_eq!(
            (e.entry.result.as_str(), e.entry.operator.as_str()),
            ("refused", "auditor-1"),
            "{name}"
        );

        // Agencies go through provision, not reads.
        let err = reg.get(&agency(NTA), n).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err:?}"
        );

        // Unknown resident.
        let unknown = my_number("123456789018");
        let err = reg.get(&clerk(CHIYODA), &unknown).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{name}: {err:?}"
        );
        let e = last_entry(&db.store).await;
        assert_eq!(
            (e.entry.result.as_str(), e.entry.subject.as_deref()),
            ("not-found", Some(unknown.as_str()))
        );

        assert_eq!(
            audit_entries(&db.store, Some("read")).await.len(),
            before + 4,
            "{name}"
        );
        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_grants_exactly_the_requested_items_and_logs_every_request() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let r = setup(&reg).await;
        let n = &r.my_number;
        let nta = agency(NTA);

        // By 個人番号, two of the basis's three items.
        let resp = reg
            .provide(&nta, by_number("B1", n, &["name", "address"]))
            .await
            .unwrap();
        assert_eq!(resp.basis, "B1");
        let keys: Vec<&str> = resp.items.keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["address", "name"], "{name}: {keys:?}");
        assert_eq!(resp.items["name"], "山田\u{3000}太郎");
        assert_eq!(resp.items["address"], "東京都千代田区丸の内一丁目2番3号");
        let log = audit_entries(&db.store, Some("provision")).await;
        let e = log.iter().find(|e| e.seq == resp.log_seq).unwrap();
        assert_eq!(e.entry.result, "granted", "{name}");
        assert_eq!(e.entry.agency.as_deref(), Some(NTA));
        assert_eq!(e.entry.basis.as_deref(), Some("B1"));
        assert_eq!(e.entry.items, "name,address");
        assert_eq!(e.entry.subject.as_deref(), Some(n.as_str()));
        assert_eq!(e.entry.operator, "op-nta");

        // No items named: everything the basis allows.
        let resp = reg.provide(&nta, by_number("B2", n, &[])).await.unwrap();
        let mut keys: Vec<&str> = resp.items.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["my_number", "name", "status"], "{name}");
        assert_eq!(resp.items["my_number"], n.as_str());
        assert_eq!(resp.items["status"], "resident");

        // By the four facts, written as a form would: widths and spaces vary.
        let variants = [
            ("山田 太郎", "東京都千代田区丸の内一丁目2番3号"),
            ("山田太郎", "東京都千代田区丸の内一丁目２番３号"),
            ("山田\u{3000}太郎", "東京都千代田区 丸の内 一丁目 ２番３号"),
            ("山田  太郎", "東京都千代田区丸の内一丁目2番3号 "),
        ];
        for (form_name, form_addr) in variants {
            let resp = reg
                .provide(
                    &nta,
                    by_facts(
                        form_name,
                        "1980-04-01",
                        Sex::Male,
                        form_addr,
                        &["birth_date", "name"],
                    ),
                )
                .await
                .unwrap_or_else(|e| panic!("{name}: {form_name:?} / {form_addr:?} not found: {e}"));
            assert_eq!(resp.items["birth_date"], "1980-04-01", "{name}");
            assert_eq!(
                resp.items["name"], "山田\u{3000}太郎",
                "{name}: the registry's spelling is returned"
            );
            let e = last_entry(&db.store).await;
            assert_eq!((e.seq, e.entry.result.as_str()), (resp.log_seq, "granted"));
            assert_eq!(
                e.entry.subject.as_deref(),
                Some(n.as_str()),
                "{name}: the subject is logged"
            );
        }

        // The other facts must still match exactly.
        let err = reg
            .provide(
                &nta,
                by_facts(
                    "山田 太郎",
                    "1980-04-02",
                    Sex::Male,
                    "東京都千代田区丸の内一丁目2番3号",
                    &[],
                ),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{name}: {err:?}"
        );
        assert_eq!(last_entry(&db.store).await.entry.result, "not-found");
        let err = reg
            .provide(
                &nta,
                by_facts(
                    "山田 太郎",
                    "1980-04-01",
                    Sex::Female,
                    "東京都千代田区丸の内一丁目2番3号",
                    &[],
                ),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{name}: {err:?}"
        );
        let err = reg
            .provide(
                &nta,
                by_facts(
                    "山田 次郎",
                    "1980-04-01",
                    Sex::Male,
                    "東京都千代田区丸の内一丁目2番3号",
                    &[],
                ),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{name}: {err:?}"
        );

        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_provisions_are_logged_and_provide_nothing() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let r = setup(&reg).await;
        let n = &r.my_number;
        let nta = agency(NTA);
        let unknown = my_number("123456789018");

        struct Case {
            what: &'static str,
            result: Result<honnin_registry::ProvisionResponse, RegistryError>,
            logged_result: &'static str,
            subject: Option<String>,
        }
        let mut cases = Vec::new();
        cases.push(Case {
            what: "unknown basis",
            result: reg.provide(&nta, by_number("B9", n, &["name"])).await,
            logged_result: "refused",
            subject: Some(n.to_string()),
        });
        cases.push(Case {
            what: "another agency's basis",
            result: reg
                .provide(&agency(CITY), by_number("B1", n, &["name"]))
                .await,
            logged_result: "refused",
            subject: Some(n.to_string()),
        });
        cases.push(Case {
            what: "item outside the basis",
            result: reg
                .provide(&nta, by_number("B1", n, &["name", "resident_code"]))
                .await,
            logged_result: "refused",
            subject: Some(n.to_string()),
        });
        cases.push(Case {
            what: "unknown item",
            result: reg.provide(&nta, by_number("B1", n, &["shoe_size"])).await,
            logged_result: "refused",
            subject: Some(n.to_string()),
        });
        cases.push(Case {
            what: "unknown resident",
            result: reg
                .provide(&nta, by_number("B1", &unknown, &["name"]))
                .await,
            logged_result: "not-found",
            subject: Some(unknown.to_string()),
        });
        cases.push(Case {
            what: "unknown four facts",
            result: reg
                .provide(
                    &nta,
                    by_facts(
                        "田中 一郎",
                        "1980-04-01",
                        Sex::Male,
                        "東京都千代田区丸の内一丁目2番3号",
                        &[],
                    ),
                )
                .await,
            logged_result: "not-found",
            subject: None,
        });
        cases.push(Case {
            what: "empty name",
            result: reg
                .provide(&nta, by_facts(" ", "1980-04-01", Sex::Male, "東京都", &[]))
                .await,
            logged_result: "refused",
            subject: None,
        });
        cases.push(Case {
            what: "registry clerk",
            result: reg
                .provide(&clerk(CHIYODA), by_number("B1", n, &["name"]))
                .await,
            logged_result: "refused",
            subject: Some(n.to_string()),
        });
        cases.push(Case {
            what: "admin",
            result: reg.provide(&admin(), by_number("B1", n, &["name"])).await,
            logged_result: "refused",
            subject: Some(n.to_string()),
        });
        cases.push(Case {
            what: "auditor",
            result: reg.provide(&auditor(), by_number("B1", n, &["name"])).await,
            logged_result: "refused",
            subject: Some(n.to_string()),
        });

        let log = audit_entries(&db.store, Some("provision")).await;
        assert_eq!(log.len(), cases.len(), "{name}: one log entry per request");
        for (case, e) in cases.iter().zip(&log) {
            let what = case.what;
            let err = case
                .result
                .as_ref()
                .err()
                .unwrap_or_else(|| panic!("{name}: {what}: granted"));
            let right = match what {
                "unknown resident" | "unknown four facts" => {
                    matches!(err, RegistryError::NotFound { .. })
                }
                "unknown item" => err.field_name() == Some("items"),
                "empty name" => err.field_name().is_some(),
                _ => matches!(err, RegistryError::Forbidden { .. }),
            };
            assert!(right, "{name}: {what}: wrong error {err:?}");
            assert_eq!(e.entry.result, case.logged_result, "{name}: {what}: {e:?}");
            assert_eq!(e.entry.subject, case.subject, "{name}: {what}");
            assert!(
                !e.entry.detail.is_empty(),
                "{name}: {what}: no reason logged"
            );
        }
        let e = &log[0];
        assert_eq!(e.entry.agency.as_deref(), Some(NTA), "{name}");
        assert_eq!(e.entry.basis.as_deref(), Some("B9"), "{name}");
        assert_eq!(e.entry.items, "name");
        assert_eq!(log[1].entry.agency.as_deref(), Some(CITY), "{name}");
        assert_eq!(
            log[2].entry.items, "name,resident_code",
            "{name}: refused items logged"
        );
        assert_eq!(log[7].entry.operator, "clerk-131016", "{name}");

        // The refusals are part of the verified chain.
        let report = assert_chain_ok(&db.store).await;
        assert!(report.entries as usize > cases.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_four_facts_are_refused() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let first = setup(&reg).await;
        // A second record with the same four facts (e.g. a data-entry duplicate).
        let second = reg
            .register(&clerk(CHIYODA), new_resident(CHIYODA, sample_facts()))
            .await
            .unwrap();
        assert_ne!(first.my_number, second.my_number);
        let err = reg
            .provide(
                &agency(NTA),
                by_facts(
                    "山田 太郎",
                    "1980-04-01",
                    Sex::Male,
                    "東京都千代田区丸の内一丁目2番3号",
                    &["name"],
                ),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Conflict { .. }),
            "{name}: {err:?}"
        );
        let e = last_entry(&db.store).await;
        assert_eq!(
            (e.entry.kind.as_str(), e.entry.result.as_str()),
            ("provision", "ambiguous"),
            "{name}"
        );
        // By 個人番号 it is answered.
        reg.provide(&agency(NTA), by_number("B1", &second.my_number, &["name"]))
            .await
            .unwrap();
        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disclosure_shows_record_history_and_every_access() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        let r = setup(&reg).await;
        let other = reg
            .register(&clerk(CHIYODA), new_resident(SAPPORO, sample_facts()))
            .await;
        assert!(
            other.is_err(),
            "{name}: a Chiyoda clerk registered in Sapporo"
        );
        let other = reg
            .register(&admin(), new_resident(SAPPORO, sample_facts()))
            .await
            .unwrap();
        let n = &r.my_number;
        let nta = agency(NTA);

        reg.get(&clerk(CHIYODA), n).await.unwrap();
        let granted = reg
            .provide(&nta, by_number("B1", n, &["name"]))
            .await
            .unwrap();
        let refused = reg
            .provide(&nta, by_number("B1", n, &["resident_code"]))
            .await
            .unwrap_err();
        assert!(matches!(refused, RegistryError::Forbidden { .. }));
        reg.get(&clerk(SAPPORO), n).await.unwrap_err();
        // Accesses to someone else must not show up.
        reg.get(&admin(), &other.my_number).await.unwrap();
        reg.provide(&nta, by_number("B1", &other.my_number, &["name"]))
            .await
            .unwrap();

        let before = counts(&db.store).await;
        let d = reg.disclose(&clerk(CHIYODA), n).await.unwrap();
        assert_eq!(d.record, r, "{name}");
        assert_eq!(d.history.len(), 1, "{name}");
        assert_eq!(d.history[0].kind, "move_in");
        assert!(d.corrections.is_empty());
        assert!(
            d.access_log
                .iter()
                .all(|e| e.entry.subject.as_deref() == Some(n.as_str())),
            "{name}: someone else's entries disclosed"
        );
        let seen: Vec<(&str, &str)> = d
            .access_log
            .iter()
            .map(|e| (e.entry.kind.as_str(), e.entry.result.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("change", "ok"),
                ("read", "ok"),
                ("provision", "granted"),
                ("provision", "refused"),
                ("read", "refused")
            ],
            "{name}"
        );
        let g = d
            .access_log
            .iter()
            .find(|e| e.seq == granted.log_seq)
            .unwrap();
        assert_eq!(
            (g.entry.agency.as_deref(), g.entry.basis.as_deref()),
            (Some(NTA), Some("B1"))
        );
        let rf = &d.access_log[3];
        assert_eq!(
            rf.entry.agency.as_deref(),
            Some(NTA),
            "{name}: refused provision shows the agency"
        );
        assert_eq!(rf.entry.items, "resident_code");

        // The disclosure itself is logged (and shows in the next disclosure).
        let after = counts(&db.store).await;
        assert_eq!(after.audit_log, before.audit_log + 1, "{name}");
        let e = last_entry(&db.store).await;
        assert_eq!(
            (e.entry.kind.as_str(), e.entry.result.as_str()),
            ("disclosure", "ok"),
            "{name}"
        );
        assert_eq!(e.entry.subject.as_deref(), Some(n.as_str()));
        assert_eq!(e.entry.operator, "clerk-131016");
        let d2 = reg.disclose(&admin(), n).await.unwrap();
        assert_eq!(
            d2.access_log.last().unwrap().entry.kind,
            "disclosure",
            "{name}"
        );
        assert_eq!(d2.access_log.len(), d.access_log.len() + 1);

        // Only the resident's municipality (or an admin) discloses.
        for who in [
            clerk(SAPPORO),
            auditor(),
            agency(NTA),
            window_clerk(CHIYODA),
        ] {
            let err = reg.disclose(&who, n).await.unwrap_err();
            assert!(
                matches!(err, RegistryError::Forbidden { .. }),
                "{name}: {}: {err:?}",
                who.operator
            );
        }
        let err = reg
            .disclose(&clerk(CHIYODA), &my_number("123456789018"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{name}: {err:?}"
        );
        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agencies_see_only_their_own_configuration() {
    for db in backends().await {
        let name = db.name;
        let reg = registry(&db.store, &fixed_clock());
        setup(&reg).await;
        let all = reg.agencies(&admin()).await.unwrap();
        let ids: Vec<&str> = all.iter().map(|(a, _)| a.id.as_str()).collect();
        assert_eq!(ids, [CITY, NTA], "{name}");
        let mine = reg.agencies(&agency(NTA)).await.unwrap();
        assert_eq!(mine.len(), 1, "{name}");
        assert_eq!(
            mine[0]
                .1
                .iter()
                .map(|b| b.code.as_str())
                .collect::<Vec<_>>(),
            ["B1", "B2"]
        );
        assert_eq!(mine[0].1[0].items, ["name", "address", "birth_date"]);

        let bad = reg
            .configure_agency(
                &admin(),
                Agency {
                    id: "x".into(),
                    name: "x".into(),
                },
                vec![LegalBasis {
                    agency: "x".into(),
                    code: "B".into(),
                    description: String::new(),
                    items: vec!["blood_type".into()],
                }],
            )
            .await
            .unwrap_err();
        assert_eq!(bad.field_name(), Some("items"), "{name}");
        let err = reg
            .configure_agency(
                &clerk(CHIYODA),
                Agency {
                    id: "y".into(),
                    name: "y".into(),
                },
                vec![],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, RegistryError::Forbidden { .. }), "{name}");
        assert_eq!(
            reg.agencies(&admin()).await.unwrap().len(),
            2,
            "{name}: a refused configuration was stored"
        );
    }
}
