#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Registration and change events (異動): each writes a history entry with the snapshot,
//! updates the current record, publishes a notice and logs the change, atomically; every
//! refused change writes nothing.

use honnin_core::{Address, KanaName, MyNumber, PersonName, ResidentCode, Sex};
use honnin_registry::{
    CHANGE_TOPIC, Change, ChangeRequest, Registry, RegistryError, ResidentStatus,
};
use honnin_store::Store;
use honnin_store::registry::{self as repo, Resident};
use honnin_testkit::{
    CHIYODA, SAPPORO, SHINJUKU, admin, assert_chain_ok, audit_entries, auditor, backends, birth,
    clerk, counts, date, fixed_clock, muni, my_number, new_resident, newborn_facts, outbox_events,
    registry, sample_facts, window_clerk,
};

fn req(change: Change, effective: &str) -> ChangeRequest {
    ChangeRequest {
        change,
        effective_date: date(effective),
        reason: "test".into(),
    }
}

fn address(s: &str) -> Address {
    Address::parse(s).unwrap()
}

async fn history(store: &Store, n: &MyNumber) -> Vec<repo::ResidentEvent> {
    let mut conn = store.conn().await.unwrap();
    repo::events_for(&mut conn, n).await.unwrap()
}

async fn current(store: &Store, n: &MyNumber) -> Resident {
    let mut conn = store.conn().await.unwrap();
    repo::get_resident(&mut conn, n).await.unwrap().unwrap()
}

/// Checks everything one event must have written: the returned record is the stored one,
/// the last history entry is `kind` at `version` with the record as its snapshot, the last
/// notice has the right kind and carries none of the four facts, and a change is logged.
async fn assert_event(reg: &Registry, r: &Resident, kind: &str, version: i64, operator: &str) {
    let store = reg.store();
    assert_eq!(r.version, version);
    assert_eq!(
        &current(store, &r.my_number).await,
        r,
        "stored record differs from the returned one"
    );
    let h = history(store, &r.my_number).await;
    assert_eq!(h.len() as i64, version, "one history entry per event");
    let last = h.last().unwrap();
    assert_eq!((last.kind.as_str(), last.version), (kind, version));
    assert_eq!(
        last.snapshot,
        serde_json::to_value(r).unwrap(),
        "snapshot is not the record after the event"
    );
    assert_eq!(last.municipality, r.municipality);
    assert_eq!(last.operator, operator);
    let versions: Vec<i64> = h.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=version).collect::<Vec<_>>());

    let notices = outbox_events(store, CHANGE_TOPIC).await;
    let n = notices.last().unwrap();
    assert_eq!(n.key, r.my_number.as_str());
    assert_eq!(n.payload["kind"], kind);
    assert_eq!(n.payload["my_number"], r.my_number.as_str());
    assert_eq!(n.payload["version"], version);
    assert_eq!(n.payload["status"], r.status.as_str());
    assert_eq!(n.payload["municipality"], r.municipality.as_str());
    for fact in ["name", "name_kana", "birth_date", "sex", "address", "alias"] {
        assert!(
            n.payload.get(fact).is_none(),
            "notice carries {fact}: {}",
            n.payload
        );
    }
    let text = n.payload.to_string();
    assert!(
        !text.contains(r.facts.name.as_str()),
        "notice carries the name"
    );
    assert!(
        !text.contains(r.facts.address.as_str()),
        "notice carries the address"
    );

    let changes = audit_entries(store, Some("change")).await;
    let a = changes.last().unwrap();
    assert_eq!(a.entry.subject.as_deref(), Some(r.my_number.as_str()));
    assert_eq!(a.entry.operator, operator);
    assert_eq!(a.entry.result, "ok");
    assert!(a.entry.detail.contains(kind), "{}", a.entry.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn birth_issues_numbers_and_writes_history_notice_and_log() {
    for db in backends().await {
        let name = db.name;
        let clock = fixed_clock();
        let reg = registry(&db.store, &clock);
        let c = clerk(CHIYODA);
        let r = reg
            .register(&c, birth(CHIYODA, newborn_facts()))
            .await
            .unwrap();

        // The issued identifiers are valid.
        MyNumber::parse(r.my_number.as_str())
            .unwrap_or_else(|e| panic!("{name}: bad 個人番号: {e}"));
        ResidentCode::parse(r.resident_code.as_str()).unwrap();
        assert_eq!(r.resident_code.as_str().len(), 11);
        assert_eq!(r.status, ResidentStatus::Resident);
        assert_eq!(r.facts, newborn_facts());
        assert_eq!(r.municipality, muni(CHIYODA));
        assert_eq!(r.created_at, honnin_testkit::now());

        assert_event(&reg, &r, "birth", 1, "clerk-131016").await;
        let h = history(&db.store, &r.my_number).await;
        assert_eq!(h[0].effective_date, date("2026-11-01"), "{name}");
        assert_eq!(
            outbox_events(&db.store, CHANGE_TOPIC).await.len(),
            1,
            "{name}"
        );
        assert_eq!(
            audit_entries(&db.store, Some("change")).await.len(),
            1,
            "{name}"
        );
        let c2 = counts(&db.store).await;
        assert_eq!(
            (c2.residents, c2.resident_events, c2.outbox),
            (1, 1, 1),
            "{name}"
        );

        // A second registration draws different numbers.
        let r2 = reg
            .register(&admin(), new_resident(SAPPORO, sample_facts()))
            .await
            .unwrap();
        assert_ne!(r2.my_number, r.my_number);
        assert_ne!(r2.resident_code, r.resident_code);
        assert_event(&reg, &r2, "move_in", 1, "admin-1").await;
        assert_eq!(reg.count().await.unwrap(), 2, "{name}");
        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_kind_appends_history_and_publishes_its_notice() {
    for db in backends().await {
        let name = db.name;
        let clock = fixed_clock();
        let reg = registry(&db.store, &clock);
        let chiyoda = clerk(CHIYODA);
        let shinjuku = clerk(SHINJUKU);
        let r = reg
            .register(&chiyoda, new_resident(CHIYODA, sample_facts()))
            .await
            .unwrap();
        let n = r.my_number.clone();
        assert_event(&reg, &r, "move_in", 1, "clerk-131016").await;

        // 転居
        let new_addr = address("東京都千代田区丸の内二丁目7番1号");
        let r = reg
            .change(
                &chiyoda,
                &n,
                req(
                    Change::AddressChange {
                        address: new_addr.clone(),
                        address_flags: None,
                    },
                    "2026-11-21",
                ),
            )
            .await
            .unwrap();
        assert_eq!(r.facts.address, new_addr, "{name}");
        assert_eq!(r.facts.address_flags.len(), new_addr.char_count());
        assert_event(&reg, &r, "address_change", 2, "clerk-131016").await;

        // 氏名の変更
        let new_name = PersonName::parse("鈴木\u{3000}太郎").unwrap();
        let r = reg
            .change(
                &chiyoda,
                &n,
                req(
                    Change::NameChange {
                        name: new_name.clone(),
                        name_kana: KanaName::parse("スズキ\u{3000}タロウ").unwrap(),
                        name_flags: None,
                        alias: None,
                    },
                    "2026-11-21",
                ),
            )
            .await
            .unwrap();
        assert_eq!(r.facts.name, new_name, "{name}");
        assert_eq!(r.facts.name_kana.as_str(), "スズキ\u{3000}タロウ");
        assert_event(&reg, &r, "name_change", 3, "clerk-131016").await;

        // 職権修正 of the birth date and sex.
        let r = reg
            .change(
                &chiyoda,
                &n,
                req(
                    Change::Correction {
                        name: None,
                        name_kana: None,
                        name_flags: None,
                        alias: None,
                        birth_date: Some(date("1980-04-02")),
                        sex: Some(Sex::Unknown),
                        address: None,
                        address_flags: None,
                    },
                    "2026-11-22",
                ),
            )
            .await
            .unwrap();
        assert_eq!(r.facts.birth_date, date("1980-04-02"), "{name}");
        assert_eq!(r.facts.sex, Sex::Unknown);
        assert_eq!(r.facts.name, new_name, "a correction kept the other fields");
        assert_event(&reg, &r, "correction", 4, "clerk-131016").await;
        let last = outbox_events(&db.store, CHANGE_TOPIC).await.pop().unwrap();
        assert_eq!(
            last.payload["changed"],
            serde_json::json!(["birth_date", "sex"]),
            "{name}"
        );

        // 転出 to 新宿区: kept as a removed record.
        let r = reg
            .change(
                &chiyoda,
                &n,
                req(
                    Change::MoveOut {
                        destination: "東京都新宿区".into(),
                        abroad: false,
                    },
                    "2026-11-22",
                ),
            )
            .await
            .unwrap();
        assert_eq!(r.status, ResidentStatus::MovedOut, "{name}");
        assert_eq!(r.municipality, muni(CHIYODA));
        assert_event(&reg, &r, "move_out", 5, "clerk-131016").await;
        let last = outbox_events(&db.store, CHANGE_TOPIC).await.pop().unwrap();
        assert_eq!(
            last.payload["extra"]["destination"], "東京都新宿区",
            "{name}"
        );

        // 転入 recorded by the clerk of 新宿区: same 個人番号 and 住民票コード.
        let shinjuku_addr = address("東京都新宿区西新宿二丁目8番1号");
        let r = reg
            .change(
                &shinjuku,
                &n,
                req(
                    Change::MoveIn {
                        municipality: muni(SHINJUKU),
                        address: shinjuku_addr.clone(),
                        address_flags: None,
                    },
                    "2026-11-22",
                ),
            )
            .await
            .unwrap();
        assert_eq!(r.my_number, n, "{name}: 転入 changed the 個人番号");
        assert_eq!(r.resident_code, current(&db.store, &n).await.resident_code);
        assert_eq!(r.municipality, muni(SHINJUKU), "{name}");
        assert_eq!(r.status, ResidentStatus::Resident);
        assert_eq!(r.facts.address, shinjuku_addr);
        assert_event(&reg, &r, "move_in", 6, "clerk-131041").await;

        // Now the record belongs to 新宿区: 千代田区's clerk may no longer change it.
        let err = reg
            .change(&chiyoda, &n, req(Change::Death, "2026-11-22"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::Forbidden { .. }),
            "{name}: {err}"
        );

        // 死亡
        let r = reg
            .change(&shinjuku, &n, req(Change::Death, "2026-11-22"))
            .await
            .unwrap();
        assert_eq!(r.status, ResidentStatus::Deceased, "{name}");
        assert_event(&reg, &r, "death", 7, "clerk-131041").await;

        let hist = history(&db.store, &n).await;
        let kinds: Vec<&str> = hist.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "move_in",
                "address_change",
                "name_change",
                "correction",
                "move_out",
                "move_in",
                "death"
            ],
            "{name}"
        );
        // Each snapshot is the record as it stood then, not as it stands now.
        assert_eq!(
            hist[0].snapshot["address"], "東京都千代田区丸の内一丁目2番3号",
            "{name}"
        );
        assert_eq!(hist[1].snapshot["name"], "山田\u{3000}太郎", "{name}");
        assert_eq!(hist[2].snapshot["name"], "鈴木\u{3000}太郎");
        assert_eq!(hist[4].snapshot["status"], "moved_out");
        assert_eq!(hist[5].snapshot["municipality"], SHINJUKU);
        assert_eq!(
            outbox_events(&db.store, CHANGE_TOPIC).await.len(),
            7,
            "{name}"
        );
        assert_eq!(
            audit_entries(&db.store, Some("change"))
                .await
                .iter()
                .filter(|e| e.entry.result == "ok")
                .count(),
            7,
            "{name}"
        );
        assert_chain_ok(&db.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_changes_write_nothing() {
    for db in backends().await {
        let name = db.name;
        let clock = fixed_clock();
        let reg = registry(&db.store, &clock);
        let chiyoda = clerk(CHIYODA);
        let alive = reg
            .register(&chiyoda, new_resident(CHIYODA, sample_facts()))
            .await
            .unwrap();
        let dead = reg
            .register(&chiyoda, birth(CHIYODA, newborn_facts()))
            .await
            .unwrap();
        reg.change(&chiyoda, &dead.my_number, req(Change::Death, "2026-11-21"))
            .await
            .unwrap();
        let n = alive.my_number.clone();
        let addr_change = |a: &str| Change::AddressChange {
            address: address(a),
            address_flags: None,
        };
        let before = counts(&db.store).await;
        let mut refusals = 0i64;
        let record_before = current(&db.store, &n).await;

        let cases: Vec<(&str, Result<Resident, RegistryError>)> = vec![
            (
                "clerk of another municipality",
                reg.change(
                    &clerk(SAPPORO),
                    &n,
                    req(addr_change("東京都千代田区一番町1番"), "2026-11-21"),
                )
                .await,
            ),
            (
                "move-in by a clerk of another municipality than the destination",
                reg.change(
                    &clerk(SAPPORO),
                    &n,
                    req(
                        Change::MoveIn {
                            municipality: muni(SHINJUKU),
                            address: address("東京都新宿区西新宿1番"),
                            address_flags: None,
                        },
                        "2026-11-21",
                    ),
                )
                .await,
            ),
            (
                "window clerk",
                reg.change(&window_clerk(CHIYODA), &n, req(Change::Death, "2026-11-21"))
                    .await,
            ),
            (
                "auditor",
                reg.change(&auditor(), &n, req(Change::Death, "2026-11-21"))
                    .await,
            ),
            (
                "death of a deceased",
                reg.change(&chiyoda, &dead.my_number, req(Change::Death, "2026-11-21"))
                    .await,
            ),
            (
                "address change of a deceased",
                reg.change(
                    &chiyoda,
                    &dead.my_number,
                    req(addr_change("東京都千代田区一番町1番"), "2026-11-21"),
                )
                .await,
            ),
            (
                "move-in of a resident who has not moved out",
                reg.change(
                    &chiyoda,
                    &n,
                    req(
                        Change::MoveIn {
                            municipality: muni(CHIYODA),
                            address: address("東京都千代田区一番町1番"),
                            address_flags: None,
                        },
                        "2026-11-21",
                    ),
                )
                .await,
            ),
            (
                "address change to the same address",
                reg.change(
                    &chiyoda,
                    &n,
                    req(
                        addr_change("東京都千代田区丸の内一丁目2番3号"),
                        "2026-11-21",
                    ),
                )
                .await,
            ),
            (
                "future effective date",
                reg.change(
                    &chiyoda,
                    &n,
                    req(addr_change("東京都千代田区一番町1番"), "2026-11-23"),
                )
                .await,
            ),
            (
                "unknown resident",
                reg.change(
                    &chiyoda,
                    &my_number("123456789018"),
                    req(Change::Death, "2026-11-21"),
                )
                .await,
            ),
            (
                "flags of the wrong length",
                reg.change(
                    &chiyoda,
                    &n,
                    req(
                        Change::AddressChange {
                            address: address("東京都千代田区一番町1番"),
                            address_flags: Some(honnin_core::SubstituteFlags::parse("01").unwrap()),
                        },
                        "2026-11-21",
                    ),
                )
                .await,
            ),
            (
                "empty correction",
                reg.change(
                    &chiyoda,
                    &n,
                    req(
                        Change::Correction {
                            name: None,
                            name_kana: None,
                            name_flags: None,
                            alias: None,
                            birth_date: None,
                            sex: None,
                            address: None,
                            address_flags: None,
                        },
                        "2026-11-21",
                    ),
                )
                .await,
            ),
            (
                "correction to a future birth date",
                reg.change(
                    &chiyoda,
                    &n,
                    req(
                        Change::Correction {
                            name: None,
                            name_kana: None,
                            name_flags: None,
                            alias: None,
                            birth_date: Some(date("2027-01-01")),
                            sex: None,
                            address: None,
                            address_flags: None,
                        },
                        "2026-11-21",
                    ),
                )
                .await,
            ),
            (
                "empty move-out destination",
                reg.change(
                    &chiyoda,
                    &n,
                    req(
                        Change::MoveOut {
                            destination: " ".into(),
                            abroad: true,
                        },
                        "2026-11-21",
                    ),
                )
                .await,
            ),
        ];
        for (case, result) in cases {
            let err = result
                .err()
                .unwrap_or_else(|| panic!("{name}: {case}: accepted"));
            let ok = match case {
                "clerk of another municipality"
                | "move-in by a clerk of another municipality than the destination"
                | "window clerk"
                | "auditor" => matches!(err, RegistryError::Forbidden { .. }),
                "death of a deceased"
                | "address change of a deceased"
                | "move-in of a resident who has not moved out" => {
                    matches!(err, RegistryError::Conflict { .. })
                }
                "address change to the same address" => err.field_name() == Some("address"),
                "future effective date" => err.field_name() == Some("effective_date"),
                "unknown resident" => matches!(err, RegistryError::NotFound { .. }),
                "flags of the wrong length" => err.field_name() == Some("address_flags"),
                "empty correction" => err.field_name().is_some(),
                "correction to a future birth date" => err.field_name() == Some("birth_date"),
                "empty move-out destination" => err.field_name() == Some("destination"),
                _ => false,
            };
            assert!(ok, "{name}: {case}: wrong error {err:?}");
            let after = counts(&db.store).await;
            assert_eq!(
                (
                    after.residents,
                    after.resident_events,
                    after.outbox,
                    after.outbox_head
                ),
                (
                    before.residents,
                    before.resident_events,
                    before.outbox,
                    before.outbox_head
                ),
                "{name}: {case} wrote something"
            );
            if matches!(
                err,
                RegistryError::Forbidden { .. } | RegistryError::NotFound { .. }
            ) {
                refusals += 1;
            }
        }
        // Access refusals are logged as refused/not-found; nothing is logged as done.
        let new_entries = audit_entries(&db.store, None).await;
        let new_entries = &new_entries
            [new_entries.len() - (counts(&db.store).await.audit_log - before.audit_log) as usize..];
        assert_eq!(new_entries.len() as i64, refusals, "{name}: audit entries");
        assert!(
            new_entries
                .iter()
                .all(|e| e.entry.kind == "change" && e.entry.result != "ok"),
            "{name}: {new_entries:?}"
        );
        assert_eq!(
            current(&db.store, &n).await,
            record_before,
            "{name}: the record changed"
        );
        assert_eq!(
            current(&db.store, &dead.my_number).await.version,
            2,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_registrations_write_nothing() {
    for db in backends().await {
        let name = db.name;
        let clock = fixed_clock();
        let reg = registry(&db.store, &clock);
        let before = counts(&db.store).await;

        let mut future_birth = birth(CHIYODA, newborn_facts());
        future_birth.facts.birth_date = date("2026-11-30");
        future_birth.effective_date = date("2026-11-22");
        let mut early = birth(CHIYODA, newborn_facts());
        early.effective_date = date("2026-10-01");
        let mut future_effective = new_resident(CHIYODA, sample_facts());
        future_effective.effective_date = date("2026-11-23");
        let mut bad_flags = new_resident(CHIYODA, sample_facts());
        bad_flags.facts.name_flags = honnin_core::SubstituteFlags::parse("1").unwrap();

        let cases = [
            (
                "clerk of another municipality",
                reg.register(&clerk(SAPPORO), new_resident(CHIYODA, sample_facts()))
                    .await,
                None,
            ),
            (
                "agency",
                reg.register(
                    &honnin_testkit::agency("nta"),
                    new_resident(CHIYODA, sample_facts()),
                )
                .await,
                None,
            ),
            (
                "future birth",
                reg.register(&admin(), future_birth).await,
                Some("birth_date"),
            ),
            (
                "birth registered before it happened",
                reg.register(&admin(), early).await,
                Some("effective_date"),
            ),
            (
                "future effective date",
                reg.register(&admin(), future_effective).await,
                Some("effective_date"),
            ),
            (
                "flags of the wrong length",
                reg.register(&admin(), bad_flags).await,
                Some("name_flags"),
            ),
        ];
        for (case, result, field) in cases {
            let err = result
                .err()
                .unwrap_or_else(|| panic!("{name}: {case}: accepted"));
            match field {
                None => assert!(
                    matches!(err, RegistryError::Forbidden { .. }),
                    "{name}: {case}: {err:?}"
                ),
                Some(f) => assert_eq!(err.field_name(), Some(f), "{name}: {case}: {err:?}"),
            }
        }
        let after = counts(&db.store).await;
        assert_eq!(
            (
                after.residents,
                after.resident_events,
                after.outbox,
                after.outbox_head
            ),
            (
                before.residents,
                before.resident_events,
                before.outbox,
                before.outbox_head
            ),
            "{name}: a refused registration wrote something"
        );
        // The two access refusals (other municipality, agency) are logged, nothing else.
        assert_eq!(after.audit_log - before.audit_log, 2, "{name}");
    }
}

/// Concurrent changes to different residents, interleaved with logged reads, all succeed
/// (on SQLite, read-then-write transactions must not fail with SQLITE_BUSY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_and_reads_all_succeed() {
    for db in backends().await {
        let name = db.name;
        let clock = fixed_clock();
        let reg = registry(&db.store, &clock);
        let c = clerk(CHIYODA);
        let mut people = Vec::new();
        for i in 0..12 {
            let mut f = sample_facts();
            f.address = address(&format!("東京都千代田区丸の内一丁目{}番1号", i + 1));
            f.address_flags = honnin_core::SubstituteFlags::none_for(f.address.as_str());
            people.push(
                reg.register(&c, new_resident(CHIYODA, f))
                    .await
                    .unwrap()
                    .my_number,
            );
        }
        let mut tasks = Vec::new();
        for (i, n) in people.iter().enumerate() {
            for step in 0..3 {
                let (reg, c, n) = (reg.clone(), c.clone(), n.clone());
                tasks.push(tokio::spawn(async move {
                    reg.get(&c, &n).await?;
                    reg.change(
                        &c,
                        &n,
                        req(
                            Change::AddressChange {
                                address: address(&format!(
                                    "東京都千代田区神田{}丁目{}番",
                                    i + 1,
                                    step + 10
                                )),
                                address_flags: None,
                            },
                            "2026-11-21",
                        ),
                    )
                    .await
                }));
            }
        }
        let mut failures = Vec::new();
        for t in tasks {
            if let Err(e) = t.await.unwrap() {
                failures.push(e.to_string());
            }
        }
        // Changes of one resident race on its version; those may be refused as
        // concurrent, but nothing else may fail.
        assert!(
            failures.iter().all(|f| f.contains("concurrent")),
            "{name}: unexpected failures: {failures:?}"
        );
        let mut conn = db.store.conn().await.unwrap();
        let mut total = 0;
        for n in &people {
            let r = repo::get_resident(&mut conn, n).await.unwrap().unwrap();
            let h = repo::events_for(&mut conn, n).await.unwrap();
            assert_eq!(h.len() as i64, r.version, "{name}");
            assert_eq!(
                h.last().unwrap().snapshot,
                serde_json::to_value(&r).unwrap(),
                "{name}"
            );
            total += h.len();
        }
        drop(conn);
        assert_eq!(total + failures.len(), 12 * 4, "{name}");
        assert_eq!(
            outbox_events(&db.store, CHANGE_TOPIC).await.len(),
            total,
            "{name}"
        );
        assert_chain_ok(&db.store).await;
    }
}
