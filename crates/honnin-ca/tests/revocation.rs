//! Revocation on every backend (SQLite; PostgreSQL when `HONNIN_TEST_PG_URL` is set):
//! registry notices revoke what 公的個人認証法 §12 says, each exactly once (also with two
//! consumers racing); revocation at the window and its refusals (nothing changes); OCSP
//! answers, refusals, nonces and kept responses; CRLs full, by shard and the ARL.
//!
//! The outside world's view (openssl, pkilint, HTTP, a consumer killed mid-stream) is in
//! `crates/honnin-cli/tests/revocation.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use honnin_ca::revocation::{CONSUMER, CRL_SHARDS, shard_of};
use honnin_ca::{
    Application, CaConfig, CaError, CaService, IssueRequest, Issued, KeyStore, KeyStoreConfig,
};
use honnin_core::{Actor, Address, BasicFacts, MyNumber, PersonName, Sex};
use honnin_pki::{
    CertId, CertStatus, Certificate, Crl, HashAlgorithm, KeyAlgorithm, OcspResponse,
    OcspResponseStatus, RevocationReason, SoftwareKey, Zeroizing, build_csr, build_ocsp_request,
    cert_id_for,
};
use honnin_registry::{Change, ChangeRequest, Registry};
use honnin_store::ca as repo;
use honnin_store::{Clock, FixedClock, Store, outbox};
use honnin_testkit as tk;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// Card keys, made once (RSA generation is slow in debug builds); residents share them.
fn card_key(slot: usize) -> &'static SoftwareKey {
    static KEYS: [OnceLock<SoftwareKey>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    KEYS[slot].get_or_init(|| SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap())
}

fn csr(slot: usize) -> Vec<u8> {
    static CSRS: [OnceLock<Vec<u8>>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    CSRS[slot]
        .get_or_init(|| build_csr("JPKI card key", card_key(slot)).unwrap())
        .clone()
}

const PUBLIC_URL: &str = "http://honnin.test";

fn config() -> CaConfig {
    CaConfig {
        public_url: PUBLIC_URL.into(),
        ..CaConfig::default()
    }
}

fn keystore(dir: &Path) -> KeyStore {
    KeyStore::open(KeyStoreConfig::File {
        dir: dir.to_path_buf(),
        passphrase: Zeroizing::new("test-ca-passphrase".to_string()),
    })
    .unwrap()
}

fn application(f: &BasicFacts) -> Application {
    Application {
        name: f.name.as_str().to_string(),
        birth_date: f.birth_date,
        sex: f.sex,
        address: f.address.as_str().to_string(),
    }
}

fn address(s: &str) -> Address {
    Address::parse(s).unwrap()
}

fn one_second() -> jiff::SignedDuration {
    jiff::SignedDuration::from_secs(1)
}

/// A resident holding both certificates.
#[derive(Debug, Clone)]
struct Holder {
    n: MyNumber,
    facts: BasicFacts,
    issued: Issued,
    sign: String,
    auth: String,
}

/// One backend with a registry and a CA (both generations' responders made).
struct Env {
    db: tk::TestDb,
    clock: FixedClock,
    keys: tempfile::TempDir,
    registry: Registry,
    ca: CaService,
}

impl Env {
    async fn new(db: tk::TestDb) -> Env {
        let clock = tk::fixed_clock();
        let keys = tempfile::tempdir().unwrap();
        let registry = tk::registry(&db.store, &clock);
        let ca = CaService::new(
            db.store.clone(),
            Arc::new(clock.clone()),
            keystore(keys.path()),
            config(),
        );
        ca.init(&tk::admin()).await.unwrap();
        ca.ensure_responders().await.unwrap();
        Env {
            db,
            clock,
            keys,
            registry,
            ca,
        }
    }

    async fn all() -> Vec<Env> {
        let mut out = Vec::new();
        for db in tk::backends().await {
            out.push(Env::new(db).await);
        }
        out
    }

    /// Another CA service on the same database and keys, as a second process would be.
    async fn second_service(&self) -> CaService {
        let store = self.db.reopen().await.unwrap();
        CaService::new(
            store,
            Arc::new(self.clock.clone()),
            keystore(self.keys.path()),
            config(),
        )
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    fn name(&self) -> &'static str {
        self.db.name
    }

    /// Registers a resident of Chiyoda and issues both certificates, a second later
    /// (the registration's own notice predates the certificates).
    async fn holder(&self, facts: BasicFacts) -> Holder {
        let n = self
            .registry
            .register(&tk::admin(), tk::new_resident(tk::CHIYODA, facts.clone()))
            .await
            .unwrap()
            .my_number;
        self.clock.advance(one_second());
        let issued = self
            .ca
            .issue(
                &tk::window_clerk(tk::CHIYODA),
                IssueRequest {
                    my_number: n.clone(),
                    application: application(&facts),
                    auth_csr: csr(0),
                    sign_csr: Some(csr(1)),
                    card_expiry: None,
                    renew: false,
                    lost: false,
                },
            )
            .await
            .unwrap();
        let serial = |der: &[u8]| {
            Certificate::from_der(der)
                .unwrap()
                .serial_hex()
                .to_lowercase()
        };
        Holder {
            sign: serial(issued.sign_certificate.as_deref().unwrap()),
            auth: serial(&issued.auth_certificate),
            n,
            facts,
            issued,
        }
    }

    async fn change(&self, n: &MyNumber, change: Change) {
        self.registry
            .change(
                &tk::admin(),
                n,
                ChangeRequest {
                    change,
                    effective_date: tk::today(),
                    reason: "test".into(),
                },
            )
            .await
            .unwrap();
    }

    async fn cert(&self, serial: &str) -> repo::CertificateRow {
        let mut conn = self.store().conn().await.unwrap();
        repo::get_certificate(&mut conn, serial)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no certificate {serial}"))
    }

    /// (status, reason) of a certificate.
    async fn status(&self, serial: &str) -> (String, Option<String>) {
        let c = self.cert(serial).await;
        (c.status, c.revocation_reason)
    }

    async fn offset(&self) -> i64 {
        let mut conn = self.store().conn().await.unwrap();
        outbox::offset(&mut conn, CONSUMER).await.unwrap()
    }

    async fn last_notice(&self) -> i64 {
        tk::outbox_events(self.store(), "registry.change")
            .await
            .last()
            .map_or(0, |e| e.seq)
    }

    /// Everything revocation touches: every certificate's status, the audit entries, and
    /// the kept OCSP responses.
    async fn snapshot(&self) -> (Vec<(String, String, Option<String>)>, i64, i64) {
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT serial, status, revocation_reason FROM certificates ORDER BY serial",
        )
        .fetch_all(self.store().pool())
        .await
        .unwrap();
        (
            rows,
            tk::count_rows(self.store(), "audit_log").await,
            tk::count_rows(self.store(), "ocsp_responses").await,
        )
    }

    async fn ca_der(&self, id: &str) -> Vec<u8> {
        let mut conn = self.store().conn().await.unwrap();
        repo::list_ca_keys(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.id == id)
            .unwrap()
            .cert_der
    }

    /// Asks the responder about one certificate (SHA-1 CertID, no nonce).
    async fn ocsp(&self, cert: &[u8], ca: &[u8]) -> OcspResponse {
        let req = build_ocsp_request(&[cert_id_for(cert, ca, HashAlgorithm::Sha1).unwrap()], None);
        OcspResponse::from_der(&self.ca.ocsp_respond(&req).await).unwrap()
    }
}

/// A resident's facts with a distinct address (`i`).
fn facts(i: usize) -> BasicFacts {
    tk::facts(
        "山田\u{3000}太郎",
        "ヤマダ\u{3000}タロウ",
        "1980-04-01",
        Sex::Male,
        &format!("東京都千代田区丸の内一丁目{i}番1号"),
    )
}

fn moved(i: usize, round: usize) -> Change {
    Change::AddressChange {
        address: address(&format!("東京都千代田区神田{round}丁目{i}番2号")),
        address_flags: None,
    }
}

fn status_of(resp: &OcspResponse) -> CertStatus {
    assert!(resp.is_successful(), "{resp:?}");
    assert_eq!(resp.responses().len(), 1, "{resp:?}");
    resp.responses()[0].status
}

fn revoked_with(resp: &OcspResponse) -> Option<RevocationReason> {
    match status_of(resp) {
        CertStatus::Revoked { reason, .. } => reason,
        other => panic!("not revoked: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Registry notices
// ---------------------------------------------------------------------------

#[tokio::test]
async fn notices_revoke_what_the_law_says_exactly_once() {
    for env in Env::all().await {
        let name = env.name();
        // Registrations' notices revoke nothing (there is nothing yet).
        let r = env.ca.apply_notices(1000).await.unwrap();
        assert!(r.revoked.is_empty(), "[{name}] {r:?}");

        let mut h = Vec::new();
        for i in 0..8 {
            h.push(env.holder(facts(i)).await);
        }
        // Consumed before the changes: the registrations predate the certificates.
        let r = env.ca.apply_notices(1000).await.unwrap();
        assert!(r.revoked.is_empty(), "[{name}] {r:?}");
        env.clock.advance(one_second());
        let before_changes = env.last_notice().await;

        env.change(&h[0].n, moved(0, 1)).await;
        env.change(
            &h[1].n,
            Change::NameChange {
                name: PersonName::parse("山田\u{3000}次郎").unwrap(),
                name_kana: honnin_core::KanaName::parse("ヤマダ\u{3000}ジロウ").unwrap(),
                name_flags: None,
                alias: None,
            },
        )
        .await;
        // A correction of the reading only: the kana is in no certificate.
        env.change(
            &h[2].n,
            Change::Correction {
                name: None,
                name_kana: Some(honnin_core::KanaName::parse("ヤマダ\u{3000}タロ").unwrap()),
                name_flags: None,
                alias: None,
                birth_date: None,
                sex: None,
                address: None,
                address_flags: None,
            },
        )
        .await;
        env.change(
            &h[3].n,
            Change::Correction {
                name: None,
                name_kana: None,
                name_flags: None,
                alias: None,
                birth_date: None,
                sex: Some(Sex::Female),
                address: None,
                address_flags: None,
            },
        )
        .await;
        env.change(&h[4].n, Change::Death).await;
        env.change(
            &h[5].n,
            Change::MoveOut {
                destination: "大阪府大阪市".into(),
                abroad: false,
            },
        )
        .await;
        // The substitute-character flags of the address are in the certificate too.
        let flags = "1".to_string() + &"0".repeat(h[6].facts.address.char_count() - 1);
        env.change(
            &h[6].n,
            Change::Correction {
                name: None,
                name_kana: None,
                name_flags: None,
                alias: None,
                birth_date: None,
                sex: None,
                address: None,
                address_flags: Some(honnin_core::SubstituteFlags::parse(&flags).unwrap()),
            },
        )
        .await;
        // h[7]: no change.
        let last = env.last_notice().await;
        assert_eq!(last - before_changes, 7, "[{name}]");

        // Nothing happens before the consumer runs.
        for x in &h {
            assert_eq!(env.status(&x.sign).await.0, "valid");
        }
        let r = env.ca.apply_notices(1000).await.unwrap();
        assert_eq!(r.notices, 7, "[{name}] {r:?}");
        assert_eq!(r.last_seq, last);
        assert_eq!(env.offset().await, last, "[{name}]");

        let affiliation = (
            "revoked".to_string(),
            Some("affiliationChanged".to_string()),
        );
        let cessation = (
            "revoked".to_string(),
            Some("cessationOfOperation".to_string()),
        );
        let valid = ("valid".to_string(), None);
        let expect = [
            (&h[0], &affiliation, &valid),
            (&h[1], &affiliation, &valid),
            (&h[2], &valid, &valid),
            (&h[3], &affiliation, &valid),
            (&h[4], &cessation, &cessation),
            (&h[5], &affiliation, &valid),
            (&h[6], &affiliation, &valid),
            (&h[7], &valid, &valid),
        ];
        for (i, (x, sign, auth)) in expect.iter().enumerate() {
            assert_eq!(
                &env.status(&x.sign).await,
                *sign,
                "[{name}] holder {i} sign"
            );
            assert_eq!(
                &env.status(&x.auth).await,
                *auth,
                "[{name}] holder {i} auth"
            );
        }
        let mut want: Vec<String> = [0, 1, 3, 5, 6].iter().map(|&i| h[i].sign.clone()).collect();
        want.extend([h[4].sign.clone(), h[4].auth.clone()]);
        let mut got = r.revoked.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "[{name}]");

        // One audit entry per revoking notice, naming the notice and the serials.
        let entries = tk::audit_entries(env.store(), Some("revocation")).await;
        assert_eq!(entries.len(), 6, "[{name}] {entries:?}");
        let notices = tk::outbox_events(env.store(), "registry.change").await;
        for e in &entries {
            let subject = e.entry.subject.clone().unwrap();
            let notice = notices.iter().rev().find(|n| n.key == subject).unwrap();
            assert!(
                e.entry.detail.contains(&format!("notice {} ", notice.seq)),
                "[{name}] {e:?}"
            );
            assert_eq!(e.entry.operator, "system");
            let holder = h.iter().find(|x| x.n.as_str() == subject).unwrap();
            assert!(e.entry.detail.contains(&holder.sign), "{e:?}");
        }

        // Applied once: again, nothing; a later address change of a holder whose
        // signature certificate is already revoked revokes nothing and logs nothing.
        let snap = env.snapshot().await;
        let r = env.ca.apply_notices(1000).await.unwrap();
        assert_eq!((r.notices, r.last_seq), (0, last), "[{name}]");
        assert_eq!(env.snapshot().await, snap);
        env.change(&h[0].n, moved(0, 2)).await;
        let r = env.ca.apply_notices(1000).await.unwrap();
        assert_eq!(r.notices, 1);
        assert!(r.revoked.is_empty());
        assert_eq!(
            tk::audit_entries(env.store(), Some("revocation"))
                .await
                .len(),
            6
        );
        assert_eq!(env.offset().await, env.last_notice().await);
        tk::assert_chain_ok(env.store()).await;
    }
}

/// Small batches: each transaction takes at most `limit` notices and the offset walks
/// through the stream; events of other topics are skipped.
#[tokio::test]
async fn notices_are_consumed_in_batches() {
    for env in Env::all().await {
        let name = env.name();
        let mut h = Vec::new();
        for i in 0..5 {
            h.push(env.holder(facts(i)).await);
        }
        env.ca.apply_notices(1000).await.unwrap();
        env.clock.advance(one_second());
        for (i, x) in h.iter().enumerate() {
            env.change(&x.n, moved(i, 1)).await;
        }
        let mut seen = Vec::new();
        loop {
            let r = env.ca.apply_notices(2).await.unwrap();
            if r.notices == 0 {
                break;
            }
            assert!(r.notices <= 2, "[{name}] {r:?}");
            assert_eq!(env.offset().await, r.last_seq);
            seen.extend(r.revoked);
        }
        seen.sort();
        let mut want: Vec<String> = h.iter().map(|x| x.sign.clone()).collect();
        want.sort();
        assert_eq!(seen, want, "[{name}]");
        assert_eq!(env.offset().await, env.last_notice().await);
    }
}

/// A notice applied late (the consumer lagged or was down) spares certificates issued
/// after the change: they already carry the new facts.
#[tokio::test]
async fn a_late_notice_spares_certificates_issued_after_the_change() {
    for env in Env::all().await {
        let name = env.name();
        let x = env.holder(facts(1)).await;
        env.ca.apply_notices(1000).await.unwrap();
        env.clock.advance(one_second());
        env.change(&x.n, moved(1, 1)).await;
        // The card is lost the same day; the window re-issues before the notice is
        // applied (the old pair goes as keyCompromise).
        env.clock.advance(one_second());
        let mut f = x.facts.clone();
        f.address = address("東京都千代田区神田1丁目1番2号");
        f.address_flags = honnin_core::SubstituteFlags::none_for(f.address.as_str());
        let again = env
            .ca
            .issue(
                &tk::window_clerk(tk::CHIYODA),
                IssueRequest {
                    my_number: x.n.clone(),
                    application: application(&f),
                    auth_csr: csr(2),
                    sign_csr: Some(csr(3)),
                    card_expiry: None,
                    renew: false,
                    lost: true,
                },
            )
            .await
            .unwrap();
        let new_sign = Certificate::from_der(again.sign_certificate.as_deref().unwrap())
            .unwrap()
            .serial_hex()
            .to_lowercase();
        let r = env.ca.apply_notices(1000).await.unwrap();
        assert!(r.revoked.is_empty(), "[{name}] {r:?}");
        assert_eq!(env.status(&new_sign).await.0, "valid", "[{name}]");
        assert_eq!(
            env.status(&x.sign).await.1.as_deref(),
            Some("keyCompromise")
        );
    }
}

/// Two consumers (two processes) race over the same stream: every notice is applied
/// by exactly one of them.
#[tokio::test]
async fn racing_consumers_apply_each_notice_once() {
    for env in Env::all().await {
        let name = env.name();
        let mut h = Vec::new();
        for i in 0..24 {
            h.push(env.holder(facts(i)).await);
        }
        env.ca.apply_notices(1000).await.unwrap();
        env.clock.advance(one_second());
        for (i, x) in h.iter().enumerate() {
            if i % 6 == 5 {
                env.change(&x.n, Change::Death).await;
            } else {
                env.change(&x.n, moved(i, 1)).await;
            }
        }
        let last = env.last_notice().await;
        let other = env.second_service().await;
        let run = |ca: CaService| {
            tokio::spawn(async move {
                let mut revoked = Vec::new();
                let mut conflicts = 0;
                loop {
                    match ca.apply_notices(3).await {
                        Ok(r) if r.notices == 0 => break,
                        Ok(r) => revoked.extend(r.revoked),
                        Err(CaError::Store(honnin_store::StoreError::Concurrent(_))) => {
                            conflicts += 1
                        }
                        // SQLite: a writer that waited past the busy timeout. Retry.
                        Err(CaError::Store(honnin_store::StoreError::Db(e)))
                            if e.to_string().contains("locked") =>
                        {
                            conflicts += 1
                        }
                        Err(e) => panic!("consumer failed: {e}"),
                    }
                }
                (revoked, conflicts)
            })
        };
        let a = run(env.ca.clone());
        let b = run(other);
        let (ra, _) = a.await.unwrap();
        let (rb, _) = b.await.unwrap();
        let mut all = ra.clone();
        all.extend(rb.iter().cloned());
        let unique: BTreeSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "[{name}] revoked twice: {all:?}");
        let mut want: Vec<String> = h.iter().map(|x| x.sign.clone()).collect();
        want.extend(h.iter().skip(5).step_by(6).map(|x| x.auth.clone()));
        want.sort();
        all.sort();
        assert_eq!(all, want, "[{name}]");
        let entries = tk::audit_entries(env.store(), Some("revocation")).await;
        assert_eq!(
            entries.len(),
            h.len(),
            "[{name}] one entry per revoking notice"
        );
        assert_eq!(env.offset().await, last);
        tk::assert_chain_ok(env.store()).await;
    }
}

// ---------------------------------------------------------------------------
// Revocation at the window
// ---------------------------------------------------------------------------

#[tokio::test]
async fn revocation_at_the_window_and_its_refusals() {
    for env in Env::all().await {
        let name = env.name();
        let x = env.holder(facts(1)).await;
        let sign_ca = env.ca_der("sign-g1").await;
        let sign_der = x.issued.sign_certificate.clone().unwrap();
        // A kept response exists (a refusal must not drop it either).
        assert_eq!(
            status_of(&env.ocsp(&sign_der, &sign_ca).await),
            CertStatus::Good
        );
        let window = tk::window_clerk(tk::CHIYODA);
        let before = env.snapshot().await;
        let field = |f: &'static str| Want::Field(f);
        let refusals: Vec<(Actor, String, &str, Want)> = vec![
            (
                window.clone(),
                "7f".repeat(20),
                "keyCompromise",
                Want::NotFound,
            ),
            (
                window.clone(),
                "not-hex".into(),
                "keyCompromise",
                field("serial"),
            ),
            (
                window.clone(),
                "ab".repeat(21),
                "keyCompromise",
                field("serial"),
            ),
            (
                window.clone(),
                String::new(),
                "keyCompromise",
                field("serial"),
            ),
            (
                window.clone(),
                x.sign.clone(),
                "affiliationChanged",
                field("reason"),
            ),
            (
                window.clone(),
                x.sign.clone(),
                "superseded",
                field("reason"),
            ),
            (
                window.clone(),
                x.sign.clone(),
                "cACompromise",
                field("reason"),
            ),
            (
                window.clone(),
                x.sign.clone(),
                "removeFromCRL",
                field("reason"),
            ),
            (
                window.clone(),
                x.sign.clone(),
                "privilegeWithdrawn",
                field("reason"),
            ),
            (
                window.clone(),
                x.sign.clone(),
                "KEYCOMPROMISE",
                field("reason"),
            ),
            (window.clone(), x.sign.clone(), "bogus", field("reason")),
            (window.clone(), x.sign.clone(), "", field("reason")),
            (
                tk::window_clerk(tk::SAPPORO),
                x.sign.clone(),
                "keyCompromise",
                Want::Forbidden,
            ),
            (
                tk::clerk(tk::CHIYODA),
                x.sign.clone(),
                "keyCompromise",
                Want::Forbidden,
            ),
            (
                tk::agency("nenkin"),
                x.sign.clone(),
                "keyCompromise",
                Want::Forbidden,
            ),
            (
                tk::auditor(),
                x.sign.clone(),
                "keyCompromise",
                Want::Forbidden,
            ),
        ];
        for (actor, serial, reason, want) in &refusals {
            let e = env.ca.revoke(actor, serial, reason).await.unwrap_err();
            let ok = match want {
                Want::NotFound => matches!(e, CaError::NotFound { .. }),
                Want::Forbidden => matches!(e, CaError::Forbidden(_)),
                Want::Field(f) => matches!(&e, CaError::Field { field, .. } if field == f),
            };
            assert!(
                ok,
                "[{name}] {} {serial:?} {reason:?}: {e:?}",
                actor.operator
            );
            assert_eq!(env.snapshot().await, before, "[{name}] {reason}: changed");
        }

        // The clerk of the holder's municipality: lost card. Upper-case hex is fine.
        env.ca
            .revoke(&window, &x.sign.to_uppercase(), "keyCompromise")
            .await
            .unwrap();
        assert_eq!(
            env.status(&x.sign).await,
            ("revoked".into(), Some("keyCompromise".into()))
        );
        let entries = tk::audit_entries(env.store(), Some("revocation")).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].entry.operator, window.operator);
        assert_eq!(entries[0].entry.subject.as_deref(), Some(x.n.as_str()));
        assert!(entries[0].entry.detail.contains(&x.sign));
        // OCSP says so at once (the kept good response went with the revocation).
        assert_eq!(
            revoked_with(&env.ocsp(&sign_der, &sign_ca).await),
            Some(RevocationReason::KeyCompromise)
        );
        // Already revoked: a conflict, nothing changes.
        let before = env.snapshot().await;
        let e = env
            .ca
            .revoke(&window, &x.sign, "certificateHold")
            .await
            .unwrap_err();
        assert!(matches!(e, CaError::Conflict(_)), "[{name}] {e:?}");
        assert_eq!(env.snapshot().await, before);
        // An admin suspends the authentication certificate.
        env.ca
            .revoke(&tk::admin(), &x.auth, "certificateHold")
            .await
            .unwrap();
        let auth_ca = env.ca_der("auth-g1").await;
        assert_eq!(
            revoked_with(&env.ocsp(&x.issued.auth_certificate, &auth_ca).await),
            Some(RevocationReason::CertificateHold)
        );
        // A registry notice later finds nothing left to revoke.
        env.clock.advance(one_second());
        env.change(&x.n, Change::Death).await;
        let r = env.ca.apply_notices(1000).await.unwrap();
        assert!(r.revoked.is_empty(), "[{name}] {r:?}");
        assert_eq!(
            tk::audit_entries(env.store(), Some("revocation"))
                .await
                .len(),
            2
        );
        tk::assert_chain_ok(env.store()).await;
    }
}

/// What a refused revocation must fail with.
enum Want {
    NotFound,
    Forbidden,
    Field(&'static str),
}

/// Renewal and re-issue after loss revoke the old pair in the issuing transaction:
/// OCSP answers `revoked` for them at once, though good answers were kept.
#[tokio::test]
async fn reissue_after_loss_shows_in_ocsp_at_once() {
    for env in Env::all().await {
        let x = env.holder(facts(1)).await;
        let sign_ca = env.ca_der("sign-g1").await;
        let auth_ca = env.ca_der("auth-g1").await;
        let sign_der = x.issued.sign_certificate.clone().unwrap();
        assert_eq!(
            status_of(&env.ocsp(&sign_der, &sign_ca).await),
            CertStatus::Good
        );
        assert_eq!(
            status_of(&env.ocsp(&x.issued.auth_certificate, &auth_ca).await),
            CertStatus::Good
        );
        env.clock.advance(one_second());
        env.ca
            .issue(
                &tk::window_clerk(tk::CHIYODA),
                IssueRequest {
                    my_number: x.n.clone(),
                    application: application(&x.facts),
                    auth_csr: csr(2),
                    sign_csr: Some(csr(3)),
                    card_expiry: None,
                    renew: false,
                    lost: true,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            revoked_with(&env.ocsp(&sign_der, &sign_ca).await),
            Some(RevocationReason::KeyCompromise),
            "[{}]",
            env.name()
        );
        assert_eq!(
            revoked_with(&env.ocsp(&x.issued.auth_certificate, &auth_ca).await),
            Some(RevocationReason::KeyCompromise)
        );
    }
}

// ---------------------------------------------------------------------------
// OCSP
// ---------------------------------------------------------------------------

#[tokio::test]
async fn ocsp_answers_refuses_and_keeps_responses() {
    for env in Env::all().await {
        let name = env.name();
        let x = env.holder(facts(1)).await;
        let y = env.holder(facts(2)).await;
        env.ca.apply_notices(1000).await.unwrap();
        let sign_ca = env.ca_der("sign-g1").await;
        let auth_ca = env.ca_der("auth-g1").await;
        let sign_der = x.issued.sign_certificate.clone().unwrap();
        let id = cert_id_for(&sign_der, &sign_ca, HashAlgorithm::Sha1).unwrap();

        // Good, signed by the delegated responder, whose certificate the CA signed.
        let first = env
            .ca
            .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id), None))
            .await;
        let resp = OcspResponse::from_der(&first).unwrap();
        assert_eq!(status_of(&resp), CertStatus::Good, "[{name}]");
        assert_eq!(resp.responses()[0].cert_id, id);
        assert!(resp.nonce().is_none());
        let responder = resp.responder_certificate().unwrap();
        resp.verify_signed_by(&responder.subject_public_key_der())
            .unwrap();
        responder
            .verify_signed_by(
                &Certificate::from_der(&sign_ca)
                    .unwrap()
                    .subject_public_key_der(),
            )
            .unwrap();
        assert!(resp.responses()[0].next_update.is_some());
        // Kept: the same request again gives the same octets.
        let second = env
            .ca
            .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id), None))
            .await;
        assert_eq!(first, second, "[{name}] not kept");
        assert_eq!(tk::count_rows(env.store(), "ocsp_responses").await, 1);
        // SHA-256 CertIDs work and are kept apart.
        let id256 = cert_id_for(&sign_der, &sign_ca, HashAlgorithm::Sha256).unwrap();
        let resp = OcspResponse::from_der(
            &env.ca
                .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id256), None))
                .await,
        )
        .unwrap();
        assert_eq!(status_of(&resp), CertStatus::Good);
        assert_eq!(resp.responses()[0].cert_id, id256);

        // A nonce is answered with that nonce, and never from the kept responses.
        let nonce = b"0123456789abcdef";
        let with_nonce = env
            .ca
            .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id), Some(nonce)))
            .await;
        let resp = OcspResponse::from_der(&with_nonce).unwrap();
        assert_eq!(resp.nonce(), Some(&nonce[..]), "[{name}]");
        assert_eq!(status_of(&resp), CertStatus::Good);
        assert_ne!(with_nonce, first);

        // Two certificates of one CA in one request.
        let y_sign = y.issued.sign_certificate.clone().unwrap();
        let y_id = cert_id_for(&y_sign, &sign_ca, HashAlgorithm::Sha1).unwrap();
        let resp = OcspResponse::from_der(
            &env.ca
                .ocsp_respond(&build_ocsp_request(&[id.clone(), y_id.clone()], None))
                .await,
        )
        .unwrap();
        assert_eq!(resp.responses().len(), 2);
        assert!(
            resp.responses()
                .iter()
                .all(|r| r.status == CertStatus::Good)
        );

        // An unknown serial under a known issuer: unknown (and not kept).
        let kept = tk::count_rows(env.store(), "ocsp_responses").await;
        let unknown = CertId {
            serial: vec![0x42; 20],
            ..id.clone()
        };
        let resp = OcspResponse::from_der(
            &env.ca
                .ocsp_respond(&build_ocsp_request(&[unknown], None))
                .await,
        )
        .unwrap();
        assert_eq!(status_of(&resp), CertStatus::Unknown, "[{name}]");
        assert_eq!(tk::count_rows(env.store(), "ocsp_responses").await, kept);
        // A user-authentication serial asked of the signature CA: unknown to it, even
        // though a good answer for it is kept under the other CA.
        let auth_id =
            cert_id_for(&x.issued.auth_certificate, &auth_ca, HashAlgorithm::Sha1).unwrap();
        let good = env
            .ca
            .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&auth_id), None))
            .await;
        assert_eq!(
            status_of(&OcspResponse::from_der(&good).unwrap()),
            CertStatus::Good
        );
        let crossed = CertId {
            serial: auth_id.serial.clone(),
            ..id.clone()
        };
        let resp = OcspResponse::from_der(
            &env.ca
                .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&crossed), None))
                .await,
        )
        .unwrap();
        assert_eq!(status_of(&resp), CertStatus::Unknown, "[{name}]");
        assert_eq!(resp.responses()[0].cert_id, crossed);

        // Refusals: unknown issuer; two CAs in one request; bad input.
        let stranger = CertId {
            issuer_name_hash: rand::random::<[u8; 20]>().to_vec(),
            issuer_key_hash: rand::random::<[u8; 20]>().to_vec(),
            ..id.clone()
        };
        let error = |der: Vec<u8>| OcspResponse::from_der(&der).unwrap().error_status();
        assert_eq!(
            error(
                env.ca
                    .ocsp_respond(&build_ocsp_request(&[stranger], None))
                    .await
            ),
            Some(OcspResponseStatus::Unauthorized),
            "[{name}]"
        );
        assert_eq!(
            error(
                env.ca
                    .ocsp_respond(&build_ocsp_request(&[id.clone(), auth_id.clone()], None))
                    .await
            ),
            Some(OcspResponseStatus::Unauthorized)
        );
        let valid_req = build_ocsp_request(std::slice::from_ref(&id), None);
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("truncated", valid_req[..valid_req.len() / 2].to_vec()),
            ("one octet short", valid_req[..valid_req.len() - 1].to_vec()),
            ("trailing data", [valid_req.clone(), vec![0]].concat()),
            ("garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
            ("random", rand::random::<[u8; 32]>().to_vec()),
            ("over 64 KiB", vec![0x30; 64 * 1024 + 1]),
            ("a certificate", sign_der.clone()),
        ];
        for (what, der) in bad {
            assert_eq!(
                error(env.ca.ocsp_respond(&der).await),
                Some(OcspResponseStatus::MalformedRequest),
                "[{name}] {what}"
            );
        }

        // Revocation: the very next answer says so, with the reason.
        env.clock.advance(one_second());
        env.change(&x.n, moved(1, 1)).await;
        let stale = first.clone();
        env.ca.apply_notices(1000).await.unwrap();
        let after = env
            .ca
            .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id), None))
            .await;
        let resp = OcspResponse::from_der(&after).unwrap();
        assert_eq!(
            revoked_with(&resp),
            Some(RevocationReason::AffiliationChanged),
            "[{name}]"
        );
        // The authentication certificate stays good.
        assert_eq!(
            status_of(
                &OcspResponse::from_der(
                    &env.ca
                        .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&auth_id), None))
                        .await
                )
                .unwrap()
            ),
            CertStatus::Good
        );
        // A good answer signed from a read just before the revocation committed and
        // stored just after it is never served.
        {
            let mut conn = env.store().conn().await.unwrap();
            repo::put_ocsp(
                &mut conn,
                &repo::OcspRow {
                    serial: x.sign.clone(),
                    hash_alg: "sha1".into(),
                    ca_id: "sign-g1".into(),
                    der: stale,
                    this_update: env.clock.now(),
                    next_update: env.clock.now() + jiff::SignedDuration::from_hours(4),
                },
            )
            .await
            .unwrap();
        }
        let resp = OcspResponse::from_der(
            &env.ca
                .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id), None))
                .await,
        )
        .unwrap();
        assert_eq!(
            revoked_with(&resp),
            Some(RevocationReason::AffiliationChanged),
            "[{name}] a stale good answer was served"
        );
        // The revoked answer is kept in turn.
        let again = env
            .ca
            .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id), None))
            .await;
        assert_eq!(again, resp.der(), "[{name}]");

        // Kept answers are signed again after half their validity.
        env.clock.advance(jiff::SignedDuration::from_secs(
            config().ocsp_validity_secs / 2 + 1,
        ));
        let fresh = env
            .ca
            .ocsp_respond(&build_ocsp_request(std::slice::from_ref(&id), None))
            .await;
        assert_ne!(fresh, again, "[{name}] a stale kept answer was served");
        let fresh = OcspResponse::from_der(&fresh).unwrap();
        assert_eq!(fresh.produced_at(), Some(env.clock.now()));
        assert_eq!(
            revoked_with(&fresh),
            Some(RevocationReason::AffiliationChanged)
        );
    }
}

/// A CA service that never made responders (a fresh `serve --role ocsp` before the main
/// process ran) answers `unauthorized`, not an error.
#[tokio::test]
async fn without_responders_ocsp_is_unauthorized() {
    let db = tk::sqlite().await;
    let clock = tk::fixed_clock();
    let keys = tempfile::tempdir().unwrap();
    let ca = CaService::new(
        db.store.clone(),
        Arc::new(clock.clone()),
        keystore(keys.path()),
        config(),
    );
    ca.init(&tk::admin()).await.unwrap();
    let mut conn = db.store.conn().await.unwrap();
    let sign_ca = repo::list_ca_keys(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.id == "sign-g1")
        .unwrap()
        .cert_der;
    drop(conn);
    // The CA's own CertID (any serial under its name and key).
    let id = cert_id_for(&sign_ca, &sign_ca, HashAlgorithm::Sha1).unwrap();
    let resp =
        OcspResponse::from_der(&ca.ocsp_respond(&build_ocsp_request(&[id], None)).await).unwrap();
    assert_eq!(resp.error_status(), Some(OcspResponseStatus::Unauthorized));
}

// ---------------------------------------------------------------------------
// CRLs
// ---------------------------------------------------------------------------

#[tokio::test]
async fn crls_full_by_shard_and_the_arl() {
    for env in Env::all().await {
        let name = env.name();
        let mut h = Vec::new();
        for i in 0..40 {
            h.push(env.holder(facts(i)).await);
        }
        env.ca.apply_notices(1000).await.unwrap();
        env.clock.advance(one_second());
        // Revocations of every kind: notices, the window, an admin.
        for (i, x) in h.iter().enumerate() {
            match i % 5 {
                0 | 1 => env.change(&x.n, moved(i, 1)).await,
                2 if i % 10 == 2 => env.change(&x.n, Change::Death).await,
                _ => {}
            }
        }
        env.ca.apply_notices(1000).await.unwrap();
        env.ca
            .revoke(&tk::window_clerk(tk::CHIYODA), &h[3].auth, "keyCompromise")
            .await
            .unwrap();
        env.ca
            .revoke(&tk::admin(), &h[4].sign, "unspecified")
            .await
            .unwrap();
        let revoked: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT serial, ca_id, revocation_reason, kind FROM certificates WHERE status = 'revoked'",
        )
        .fetch_all(env.store().pool())
        .await
        .unwrap();
        assert_eq!(revoked.len(), 16 + 2 * 4 + 2, "[{name}]");

        assert_eq!(env.ca.publish_crls().await.unwrap(), 2 * 18, "[{name}]");
        let mut numbers = BTreeMap::new();
        for ca_id in ["sign-g1", "auth-g1"] {
            let ca_cert = Certificate::from_der(&env.ca_der(ca_id).await).unwrap();
            let spki = ca_cert.subject_public_key_der();
            let mine: BTreeMap<String, String> = revoked
                .iter()
                .filter(|r| r.1 == ca_id)
                .map(|r| (r.0.clone(), r.2.clone()))
                .collect();
            let listed = |crl: &Crl| -> BTreeMap<String, String> {
                crl.entries()
                    .iter()
                    .map(|e| {
                        (
                            hex::encode(&e.serial),
                            e.reason
                                .map_or("unspecified".to_string(), |r| r.as_str().to_string()),
                        )
                    })
                    .collect()
            };
            // The full CRL: everything, with reasons, no issuingDistributionPoint.
            let row = env.ca.crl(ca_id, "full").await.unwrap();
            let full = Crl::from_der(&row.der).unwrap();
            full.verify_signed_by(&spki).unwrap();
            assert_eq!(full.issuer_name_der(), ca_cert.subject_name_der());
            assert!(!full.has_issuing_distribution_point(), "[{name}]");
            assert_eq!(listed(&full), mine, "[{name}] {ca_id} full");
            assert_eq!(full.crl_number(), u64::try_from(row.crl_number).unwrap());
            assert_eq!(full.this_update(), env.clock.now());
            assert_eq!(
                full.next_update(),
                Some(env.clock.now() + jiff::SignedDuration::from_secs(config().crl_validity_secs))
            );
            numbers.insert((ca_id, "full".to_string()), full.crl_number());
            // Shards: exactly the serials whose first octet mod 16 is the shard.
            let mut union = BTreeMap::new();
            for shard in 0..CRL_SHARDS {
                let row = env.ca.crl(ca_id, &shard.to_string()).await.unwrap();
                let crl = Crl::from_der(&row.der).unwrap();
                crl.verify_signed_by(&spki).unwrap();
                assert!(crl.only_user_certs() && !crl.only_ca_certs());
                assert_eq!(
                    crl.idp_url(),
                    Some(format!("{PUBLIC_URL}/crl/{ca_id}/{shard}.crl").as_str())
                );
                let got = listed(&crl);
                let want: BTreeMap<String, String> = mine
                    .iter()
                    .filter(|(s, _)| {
                        hex::decode(s.as_str()).unwrap()[0] % CRL_SHARDS == shard
                            && shard_of(s) == shard
                    })
                    .map(|(s, r)| (s.clone(), r.clone()))
                    .collect();
                assert_eq!(got, want, "[{name}] {ca_id} shard {shard}");
                union.extend(got);
                numbers.insert((ca_id, shard.to_string()), crl.crl_number());
            }
            assert_eq!(
                union, mine,
                "[{name}] {ca_id}: the shards cover the full CRL"
            );
            // The ARL: CA certificates only; none revoked.
            let arl = Crl::from_der(&env.ca.crl(ca_id, "arl").await.unwrap().der).unwrap();
            arl.verify_signed_by(&spki).unwrap();
            assert!(arl.only_ca_certs() && !arl.only_user_certs());
            assert!(arl.entries().is_empty());
            assert_eq!(
                arl.idp_url(),
                Some(format!("{PUBLIC_URL}/crl/{ca_id}/arl.crl").as_str())
            );
            numbers.insert((ca_id, "arl".to_string()), arl.crl_number());
            // Unknown scopes and CAs.
            assert!(matches!(
                env.ca.crl(ca_id, "16").await,
                Err(CaError::NotFound { .. })
            ));
        }
        assert!(matches!(
            env.ca.crl("sign-g9", "full").await,
            Err(CaError::NotFound { .. })
        ));
        // Every certificate names the shard that lists it.
        for x in &h {
            for (der, ca_id) in [
                (x.issued.sign_certificate.clone().unwrap(), "sign-g1"),
                (x.issued.auth_certificate.clone(), "auth-g1"),
            ] {
                let c = Certificate::from_der(&der).unwrap();
                let shard = shard_of(&c.serial_hex());
                assert_eq!(
                    c.crl_urls(),
                    [format!("{PUBLIC_URL}/crl/{ca_id}/{shard}.crl")],
                    "[{name}]"
                );
            }
        }
        let distinct: BTreeSet<u64> = numbers.values().copied().collect();
        assert_eq!(distinct.len(), numbers.len(), "[{name}] CRL numbers repeat");

        // Published again (twice at once, as the scheduled job beside an admin's
        // request): every number grows, and the CRL with the higher number wins.
        env.clock.advance(one_second());
        let other = env.second_service().await;
        let (a, b) = tokio::join!(env.ca.publish_crls(), other.publish_crls());
        assert_eq!((a.unwrap(), b.unwrap()), (36, 36));
        let stored: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT ca_id, scope, crl_number FROM crls")
                .fetch_all(env.store().pool())
                .await
                .unwrap();
        assert_eq!(stored.len(), 36);
        let max: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'crl'")
            .fetch_one(env.store().pool())
            .await
            .unwrap();
        for (ca_id, scope, number) in stored {
            let before = numbers[&(ca_id.as_str(), scope.clone())];
            let number = u64::try_from(number).unwrap();
            assert!(
                number > before + 18,
                "[{name}] {ca_id}/{scope}: {number} after {before}"
            );
            let crl = Crl::from_der(&env.ca.crl(&ca_id, &scope).await.unwrap().der).unwrap();
            assert_eq!(crl.crl_number(), number);
            assert!(number <= u64::try_from(max).unwrap());
        }
    }
}
