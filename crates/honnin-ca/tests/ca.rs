//! The CA service on every backend (SQLite; PostgreSQL when `HONNIN_TEST_PG_URL` is
//! set): initialisation, issuance at the window with its refusals (nothing written),
//! renewal, key rollover with link certificates (checked by `openssl verify` too),
//! restart from the encrypted key files, and CA keys in a PKCS#11 token (SoftHSM2).
//!
//! External tools (openssl; SoftHSM2's module): when missing, a note is printed and the
//! check is skipped, unless `HONNIN_REQUIRE_TOOLS=1`, which makes a missing tool fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use honnin_ca::{
    Application, CaConfig, CaError, CaService, IssueRequest, Issued, KeyStore, KeyStoreConfig,
};
use honnin_core::{Actor, BasicFacts, MyNumber, Sex};
use honnin_pki::{
    CaKind, Certificate, KeyAlgorithm, PkiError, Profile, SignatureCertificate, Signer,
    SoftwareKey, Zeroizing, build_csr,
};
use honnin_registry::{Change, ChangeRequest, Registry};
use honnin_store::ca as repo;
use honnin_store::{Clock, FixedClock, Store};
use honnin_testkit as tk;

const PASSPHRASE: &str = "test-ca-passphrase";

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// Card keys, made once: RSA generation is slow in debug builds. The CA does not care
/// that different residents' cards share a key.
fn card_key(slot: usize) -> &'static SoftwareKey {
    static KEYS: [OnceLock<SoftwareKey>; 6] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    KEYS[slot].get_or_init(|| SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap())
}

fn csr(slot: usize) -> Vec<u8> {
    build_csr("JPKI card key", card_key(slot)).unwrap()
}

fn config() -> CaConfig {
    CaConfig {
        public_url: "http://honnin.test".into(),
        ..CaConfig::default()
    }
}

fn file_keystore(dir: &Path, passphrase: &str) -> KeyStore {
    KeyStore::open(KeyStoreConfig::File {
        dir: dir.to_path_buf(),
        passphrase: Zeroizing::new(passphrase.to_string()),
    })
    .unwrap()
}

fn service(store: &Store, clock: &FixedClock, keys: KeyStore) -> CaService {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    CaService::new(store.clone(), clock, keys, config())
}

/// 14 years old at the test clock (2026-11-22).
fn child_facts() -> BasicFacts {
    tk::facts(
        "鈴木\u{3000}一郎",
        "スズキ\u{3000}イチロウ",
        "2012-06-01",
        Sex::Male,
        "東京都千代田区神田神保町二丁目5番8号",
    )
}

fn other_adult_facts() -> BasicFacts {
    tk::facts(
        "高橋\u{3000}美咲",
        "タカハシ\u{3000}ミサキ",
        "1991-09-30",
        Sex::Female,
        "東京都千代田区九段南一丁目1番",
    )
}

fn application(f: &BasicFacts) -> Application {
    Application {
        name: f.name.as_str().to_string(),
        birth_date: f.birth_date,
        sex: f.sex,
        address: f.address.as_str().to_string(),
    }
}

fn request(n: &MyNumber, f: &BasicFacts, auth: usize, sign: usize) -> IssueRequest {
    IssueRequest {
        my_number: n.clone(),
        application: application(f),
        auth_csr: csr(auth),
        sign_csr: Some(csr(sign)),
        card_expiry: None,
        renew: false,
        lost: false,
    }
}

/// One backend with a registry, a CA and its key directory.
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
        let ca = service(&db.store, &clock, file_keystore(keys.path(), PASSPHRASE));
        Env {
            db,
            clock,
            keys,
            registry,
            ca,
        }
    }

    /// A new environment per backend, its CAs initialised.
    async fn all() -> Vec<Env> {
        let mut out = Vec::new();
        for db in tk::backends().await {
            let env = Env::new(db).await;
            env.ca.init(&tk::admin()).await.unwrap();
            out.push(env);
        }
        out
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    fn name(&self) -> &'static str {
        self.db.name
    }

    async fn register(&self, municipality: &str, facts: BasicFacts) -> MyNumber {
        self.registry
            .register(&tk::admin(), tk::new_resident(municipality, facts))
            .await
            .unwrap()
            .my_number
    }

    /// (certificates, CA audit entries, revoked certificates): what issuance writes.
    async fn written(&self) -> (i64, usize, i64) {
        let certs = tk::count_rows(self.store(), "certificates").await;
        let audit = tk::audit_entries(self.store(), None)
            .await
            .into_iter()
            .filter(|e| ["issuance", "renewal"].contains(&e.entry.kind.as_str()))
            .count();
        let revoked: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE status = 'revoked'")
                .fetch_one(self.store().pool())
                .await
                .unwrap();
        (certs, audit, revoked)
    }

    async fn ca_rows(&self) -> Vec<repo::CaKeyRow> {
        let mut conn = self.store().conn().await.unwrap();
        repo::list_ca_keys(&mut conn).await.unwrap()
    }

    async fn ca_cert(&self, id: &str) -> Certificate {
        let row = self
            .ca_rows()
            .await
            .into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no CA {id}"));
        Certificate::from_der(&row.cert_der).unwrap()
    }

    async fn certificates_of(&self, n: &MyNumber) -> Vec<repo::CertificateRow> {
        let mut conn = self.store().conn().await.unwrap();
        repo::certificates_for(&mut conn, n.as_str()).await.unwrap()
    }
}

/// Which [`PkiError`] a bad request must give.
type PkiCheck = fn(&PkiError) -> bool;

/// Asserts a refused issuance wrote nothing.
async fn refused_writes_nothing(
    env: &Env,
    actor: &Actor,
    req: IssueRequest,
    check: impl FnOnce(&CaError) -> bool,
) {
    let before = env.written().await;
    let e = env.ca.issue(actor, req).await.unwrap_err();
    assert!(check(&e), "[{}] unexpected error: {e:?}", env.name());
    assert_eq!(
        env.written().await,
        before,
        "[{}] a refused issuance wrote something ({e})",
        env.name()
    );
}

// ---------------------------------------------------------------------------
// External tools
// ---------------------------------------------------------------------------

fn tools_required() -> bool {
    std::env::var("HONNIN_REQUIRE_TOOLS").is_ok_and(|v| v.trim() == "1")
}

fn missing_tool(what: &str) {
    assert!(
        !tools_required(),
        "{what} not found and HONNIN_REQUIRE_TOOLS=1"
    );
    eprintln!("note: {what} not found; skipping the checks that need it");
}

fn openssl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("openssl"))
        .find(|p| p.is_file());
    if found.is_none() {
        missing_tool("openssl");
    }
    found
}

fn softhsm_module() -> Option<PathBuf> {
    let p = honnin_card::pkcs11::softhsm_module_path();
    if p.is_none() {
        missing_tool("the SoftHSM2 PKCS#11 module (HONNIN_PKCS11_MODULE)");
    }
    p
}

fn write_pem(dir: &Path, name: &str, der: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, Certificate::from_der(der).unwrap().to_pem()).unwrap();
    p
}

/// `openssl verify -attime T -CAfile trust [-untrusted link] ee`.
fn openssl_verify(
    openssl: &Path,
    at: jiff::Timestamp,
    trust: &Path,
    untrusted: Option<&Path>,
    ee: &Path,
) -> (bool, String) {
    let mut cmd = Command::new(openssl);
    cmd.args(["verify", "-attime", &at.as_second().to_string(), "-CAfile"])
        .arg(trust);
    if let Some(u) = untrusted {
        cmd.arg("-untrusted").arg(u);
    }
    let out = cmd.arg(ee).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The issued certificates verify against the CA certificates they came with.
fn check_chain(issued: &Issued) {
    let auth_ca = Certificate::from_der(&issued.auth_ca_certificate).unwrap();
    let auth = Certificate::from_der(&issued.auth_certificate).unwrap();
    assert_eq!(auth.profile(), Profile::Authentication);
    auth.verify_signed_by(&auth_ca.subject_public_key_der())
        .unwrap();
    assert_eq!(auth.issuer_name_der(), auth_ca.subject_name_der());
    assert_eq!(auth.authority_key_id(), auth_ca.subject_key_id());
    if let Some(sign) = &issued.sign_certificate {
        let sign_ca =
            Certificate::from_der(issued.sign_ca_certificate.as_deref().unwrap()).unwrap();
        let sign = Certificate::from_der(sign).unwrap();
        assert_eq!(sign.profile(), Profile::Signature);
        sign.verify_signed_by(&sign_ca.subject_public_key_der())
            .unwrap();
        assert_eq!(sign.authority_key_id(), sign_ca.subject_key_id());
        // Not by the other CA.
        assert!(
            sign.verify_signed_by(&auth_ca.subject_public_key_der())
                .is_err()
        );
    }
}

// ---------------------------------------------------------------------------
// Initialisation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn init_creates_both_cas_once() {
    for db in tk::backends().await {
        let env = Env::new(db).await;
        let name = env.name();
        // Only an admin initialises.
        assert!(matches!(
            env.ca.init(&tk::window_clerk(tk::CHIYODA)).await,
            Err(CaError::Forbidden(_))
        ));
        assert!(env.ca_rows().await.is_empty());
        let ids = env.ca.init(&tk::admin()).await.unwrap();
        assert_eq!(ids, ["sign-g1", "auth-g1"], "[{name}]");
        let rows = env.ca_rows().await;
        assert_eq!(rows.len(), 2);
        for r in &rows {
            assert!(r.active && r.generation == 1, "[{name}] {r:?}");
            assert_eq!(r.key_store, "file");
            assert_eq!(r.algorithm, "rsa2048");
            assert_eq!(r.key_ref, format!("{}.key.pem", r.id));
            let cert = Certificate::from_der(&r.cert_der).unwrap();
            let kind = if r.kind == "sign" {
                CaKind::Signature
            } else {
                CaKind::Authentication
            };
            assert_eq!(cert.profile(), Profile::Ca(kind), "[{name}] {}", r.id);
            assert!(cert.is_self_signed());
            assert_eq!(cert.not_after(), r.not_after);
            // The key lives encrypted in its own owner-only file.
            let file = env.keys.path().join(&r.key_ref);
            let pem = std::fs::read_to_string(&file).unwrap();
            assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"), "{pem}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
        }
        // Published for relying parties: both CA certificates, no links yet.
        let published = env.ca.published().await.unwrap();
        let ids: Vec<&str> = published.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"sign-g1") && ids.contains(&"auth-g1"));
        for p in &published {
            assert!(p.active && p.issuer.is_none() && p.generation == 1);
            assert!(Certificate::from_pem(&p.pem).unwrap().is_self_signed());
        }
        // The creation is in the audit log.
        let entries = tk::audit_entries(env.store(), Some("ca-generation")).await;
        assert_eq!(entries.len(), 1);
        assert!(entries[0].entry.detail.contains("sign-g1"));

        // A second init is refused and changes nothing; ensure_initialized is a no-op.
        assert!(matches!(
            env.ca.init(&tk::admin()).await,
            Err(CaError::Conflict(_))
        ));
        assert!(!env.ca.ensure_initialized().await.unwrap());
        assert_eq!(env.ca_rows().await, rows, "[{name}]");
        tk::assert_chain_ok(env.store()).await;
    }
}

#[tokio::test]
async fn ensure_initialized_creates_the_cas_on_first_start() {
    let env = Env::new(tk::sqlite().await).await;
    assert!(env.ca.ensure_initialized().await.unwrap());
    assert_eq!(env.ca_rows().await.len(), 2);
    assert!(!env.ca.ensure_initialized().await.unwrap());
    assert_eq!(env.ca_rows().await.len(), 2);
}

// ---------------------------------------------------------------------------
// Issuance
// ---------------------------------------------------------------------------

#[tokio::test]
async fn issuance_for_an_adult_and_renewal() {
    for env in Env::all().await {
        let name = env.name();
        let facts = tk::sample_facts();
        let n = env.register(tk::CHIYODA, facts.clone()).await;
        let window = tk::window_clerk(tk::CHIYODA);

        // The form may differ from the registry in spacing only.
        let mut req = request(&n, &facts, 0, 1);
        req.application.name = "山田 太郎".into();
        let issued = env.ca.issue(&window, req).await.unwrap();
        assert!(issued.sign_refused.is_none(), "[{name}]");
        assert!(issued.superseded.is_empty());
        check_chain(&issued);
        assert_eq!(
            issued.auth_ca_certificate,
            env.ca_cert("auth-g1").await.der()
        );
        assert_eq!(
            issued.sign_ca_certificate.as_deref(),
            Some(env.ca_cert("sign-g1").await.der())
        );
        let sign_der = issued.sign_certificate.clone().unwrap();
        let sign = SignatureCertificate::from_der(&sign_der).unwrap();
        // The keys are the card's.
        assert_eq!(
            sign.subject_public_key_der(),
            card_key(1).public_key_der(),
            "[{name}]"
        );
        let auth = Certificate::from_der(&issued.auth_certificate).unwrap();
        assert_eq!(auth.subject_public_key_der(), card_key(0).public_key_der());
        // The signature certificate carries the registry's facts, not the form's.
        let f = sign.basic_facts().unwrap();
        assert_eq!(f.name, facts.name.as_str());
        assert_eq!(f.name_flags, facts.name_flags.as_str());
        assert_eq!(f.sex, facts.sex);
        assert_eq!(f.birth_date, Some(facts.birth_date));
        assert_eq!(f.address, facts.address.as_str());
        assert_eq!(f.address_flags, facts.address_flags.as_str());
        assert_eq!(f.alias, None);
        // Validity: from now to the 5th birthday after issuance, 23:59:59 JST.
        let expected_end: jiff::Timestamp = "2031-04-01T14:59:59Z".parse().unwrap();
        assert_eq!(sign.not_before(), tk::now());
        assert_eq!(sign.not_after(), expected_end, "[{name}]");
        assert_eq!(auth.not_after(), expected_end);
        // The CN is opaque: no personal data in the subject.
        let cn = sign.subject_common_name().unwrap();
        assert!(cn.chars().all(|c| c.is_ascii_hexdigit()), "{cn}");
        assert!(!cn.contains(n.as_str()));

        // The records: one per certificate, with the resident.
        let rows = env.certificates_of(&n).await;
        assert_eq!(rows.len(), 2, "[{name}]");
        for r in &rows {
            assert_eq!(r.my_number, n.as_str());
            assert_eq!(r.status, "valid");
            assert_eq!(r.operator, "window-131016");
            assert!(r.revoked_at.is_none() && r.revocation_reason.is_none());
            assert_eq!(r.not_after, expected_end);
            let cert = Certificate::from_der(&r.der).unwrap();
            assert_eq!(cert.serial_hex().to_lowercase(), r.serial);
            assert_eq!(
                cert.subject_common_name().as_deref(),
                Some(r.subject_id.as_str())
            );
        }
        let sign_row = rows.iter().find(|r| r.kind == "sign").unwrap();
        assert_eq!(sign_row.der, sign_der);
        assert_eq!(sign_row.ca_id, "sign-g1");
        assert_eq!(sign_row.facts["name"], facts.name.as_str());
        let auth_row = rows.iter().find(|r| r.kind == "auth").unwrap();
        assert_eq!(auth_row.der, issued.auth_certificate);
        assert_eq!(auth_row.ca_id, "auth-g1");
        assert_eq!(auth_row.facts, serde_json::json!({}));
        // The same list through the service (window clerk of the municipality).
        let listed = env.ca.certificates_of(&window, &n).await.unwrap();
        assert_eq!(listed, rows);
        assert!(matches!(
            env.ca
                .certificates_of(&tk::window_clerk(tk::SAPPORO), &n)
                .await,
            Err(CaError::Forbidden(_))
        ));
        assert!(matches!(
            env.ca.certificates_of(&tk::clerk(tk::CHIYODA), &n).await,
            Err(CaError::Forbidden(_))
        ));
        // The audit entry.
        let entries = tk::audit_entries(env.store(), Some("issuance")).await;
        assert_eq!(entries.len(), 1, "[{name}]");
        let e = &entries[0].entry;
        assert_eq!(e.subject.as_deref(), Some(n.as_str()));
        assert_eq!(e.operator, "window-131016");
        assert_eq!(e.result, "ok");
        assert!(e.detail.contains(&sign_row.serial) && e.detail.contains(&auth_row.serial));

        // A second issuance without renewal: refused, nothing written.
        refused_writes_nothing(
            &env,
            &window,
            request(&n, &facts, 2, 3),
            |e| matches!(e, CaError::Conflict(m) if m.contains("already holds")),
        )
        .await;
        // Renewal right after issuance: the window opens 3 months before expiry.
        let mut renew = request(&n, &facts, 2, 3);
        renew.renew = true;
        refused_writes_nothing(
            &env,
            &window,
            renew.clone(),
            |e| matches!(e, CaError::Conflict(m) if m.contains("3 months")),
        )
        .await;
        // Two months before expiry: renewed; the old pair is superseded.
        let renewal_time = expected_end - jiff::SignedDuration::from_hours(24 * 60);
        env.clock.set(renewal_time);
        let renewed = env.ca.issue(&window, renew).await.unwrap();
        check_chain(&renewed);
        let mut superseded = renewed.superseded.clone();
        superseded.sort();
        let mut old = vec![sign_row.serial.clone(), auth_row.serial.clone()];
        old.sort();
        assert_eq!(superseded, old, "[{name}]");
        let rows = env.certificates_of(&n).await;
        assert_eq!(rows.len(), 4);
        for r in &rows {
            if old.contains(&r.serial) {
                assert_eq!(r.status, "revoked", "[{name}] {r:?}");
                assert_eq!(r.revocation_reason.as_deref(), Some("superseded"));
                assert_eq!(r.revoked_at, Some(renewal_time));
            } else {
                assert_eq!(r.status, "valid", "[{name}] {r:?}");
                assert_eq!(r.issued_at, renewal_time);
                // The 5th birthday after the renewal (2031-04-01 is the 1st).
                assert_eq!(r.not_after, "2035-04-01T14:59:59Z".parse().unwrap());
            }
        }
        let new_sign = Certificate::from_der(renewed.sign_certificate.as_deref().unwrap()).unwrap();
        assert_eq!(
            new_sign.subject_public_key_der(),
            card_key(3).public_key_der()
        );
        let entries = tk::audit_entries(env.store(), Some("renewal")).await;
        assert_eq!(entries.len(), 1);
        assert!(entries[0].entry.detail.contains("superseded"));
        tk::assert_chain_ok(env.store()).await;
    }
}

#[tokio::test]
async fn a_holder_under_15_gets_only_the_authentication_certificate() {
    for env in Env::all().await {
        let facts = child_facts();
        let n = env.register(tk::CHIYODA, facts.clone()).await;
        let issued = env
            .ca
            .issue(&tk::window_clerk(tk::CHIYODA), request(&n, &facts, 0, 1))
            .await
            .unwrap();
        assert!(issued.sign_certificate.is_none() && issued.sign_ca_certificate.is_none());
        assert!(
            issued.sign_refused.as_deref().unwrap().contains("under 15"),
            "{:?}",
            issued.sign_refused
        );
        check_chain(&issued);
        let rows = env.certificates_of(&n).await;
        assert_eq!(rows.len(), 1, "[{}]", env.name());
        assert_eq!(rows[0].kind, "auth");
        let entries = tk::audit_entries(env.store(), Some("issuance")).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].entry.items, "auth");
    }
}

#[tokio::test]
async fn refused_issuances_write_nothing() {
    let rsa1024 = include_bytes!("../../honnin-pki/tests/data/rsa1024.csr.der").to_vec();
    for env in Env::all().await {
        let name = env.name();
        let window = tk::window_clerk(tk::CHIYODA);
        let facts = other_adult_facts();

        // Deceased.
        let dead = env.register(tk::CHIYODA, tk::sample_facts()).await;
        env.registry
            .change(
                &tk::admin(),
                &dead,
                ChangeRequest {
                    change: Change::Death,
                    effective_date: tk::date("2026-11-21"),
                    reason: "死亡届".into(),
                },
            )
            .await
            .unwrap();
        refused_writes_nothing(
            &env,
            &window,
            request(&dead, &tk::sample_facts(), 0, 1),
            |e| matches!(e, CaError::Conflict(m) if m.contains("deceased")),
        )
        .await;
        // Moved out.
        let gone = env.register(tk::CHIYODA, facts.clone()).await;
        env.registry
            .change(
                &tk::admin(),
                &gone,
                ChangeRequest {
                    change: Change::MoveOut {
                        destination: "大阪府大阪市".into(),
                        abroad: false,
                    },
                    effective_date: tk::date("2026-11-21"),
                    reason: "転出届".into(),
                },
            )
            .await
            .unwrap();
        refused_writes_nothing(
            &env,
            &window,
            request(&gone, &facts, 0, 1),
            |e| matches!(e, CaError::Conflict(m) if m.contains("moved_out")),
        )
        .await;

        // A living resident for the rest.
        let n = env.register(tk::CHIYODA, facts.clone()).await;
        // Facts that do not match the registry, named.
        let mut req = request(&n, &facts, 0, 1);
        req.application.name = "高橋\u{3000}美沙".into();
        req.application.address = "東京都千代田区九段南一丁目2番".into();
        refused_writes_nothing(
            &env,
            &window,
            req,
            |e| matches!(e, CaError::FactsMismatch { fields } if fields == &["name", "address"]),
        )
        .await;
        let mut req = request(&n, &facts, 0, 1);
        req.application.birth_date = tk::date("1991-09-29");
        req.application.sex = Sex::Male;
        refused_writes_nothing(&env, &window, req, |e| {
            matches!(e, CaError::FactsMismatch { fields } if fields == &["birth_date", "sex"])
                && e.to_string().contains("birth_date, sex")
        })
        .await;
        // The window clerk of another municipality.
        refused_writes_nothing(
            &env,
            &tk::window_clerk(tk::SAPPORO),
            request(&n, &facts, 0, 1),
            |e| matches!(e, CaError::Forbidden(_)),
        )
        .await;
        // Roles that do not issue.
        for actor in [tk::clerk(tk::CHIYODA), tk::agency("nenkin"), tk::auditor()] {
            refused_writes_nothing(&env, &actor, request(&n, &facts, 0, 1), |e| {
                matches!(e, CaError::Forbidden(_))
            })
            .await;
        }
        // An unknown resident.
        refused_writes_nothing(
            &env,
            &window,
            request(&tk::my_number("621498320257"), &facts, 0, 1),
            |e| matches!(e, CaError::NotFound { .. }),
        )
        .await;

        // Bad requests, for each of the two CSRs.
        let mut bad_sig = csr(0);
        let last = bad_sig.len() - 1;
        bad_sig[last] ^= 0x01;
        let cases: [(&str, Vec<u8>, PkiCheck); 4] = [
            ("garbage", b"not a certification request".to_vec(), |p| {
                matches!(p, PkiError::Malformed { .. })
            }),
            ("empty", Vec::new(), |p| {
                matches!(p, PkiError::Malformed { .. })
            }),
            ("bad signature", bad_sig, |p| {
                matches!(p, PkiError::BadSignature { .. })
            }),
            ("RSA-1024", rsa1024.clone(), |p| {
                matches!(p, PkiError::WeakKey { bits: 1024 })
            }),
        ];
        for (what, bytes, is) in cases {
            let mut req = request(&n, &facts, 0, 1);
            req.auth_csr = bytes.clone();
            refused_writes_nothing(
                &env,
                &window,
                req,
                |e| matches!(e, CaError::Request { field: "auth_csr", source } if is(source)),
            )
            .await;
            let mut req = request(&n, &facts, 0, 1);
            req.sign_csr = Some(bytes);
            refused_writes_nothing(
                &env,
                &window,
                req,
                |e| matches!(e, CaError::Request { field: "sign_csr", source } if is(source)),
            )
            .await;
            eprintln!("[{name}] {what} CSR refused");
        }
        // The same key for both certificates.
        refused_writes_nothing(&env, &window, request(&n, &facts, 0, 0), |e| {
            matches!(
                e,
                CaError::Field {
                    field: "sign_csr",
                    ..
                }
            )
        })
        .await;

        // After all that, the resident can still be issued for, once.
        let issued = env
            .ca
            .issue(&window, request(&n, &facts, 0, 1))
            .await
            .unwrap();
        check_chain(&issued);
        assert_eq!(env.written().await.0, 2, "[{name}]");
        tk::assert_chain_ok(env.store()).await;
    }
}

// ---------------------------------------------------------------------------
// Rollover
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rollover_links_the_generations_both_ways() {
    let openssl = openssl();
    for env in Env::all().await {
        let name = env.name();
        let window = tk::window_clerk(tk::CHIYODA);
        let old_facts = tk::sample_facts();
        let old_holder = env.register(tk::CHIYODA, old_facts.clone()).await;
        let before = env
            .ca
            .issue(&window, request(&old_holder, &old_facts, 0, 1))
            .await
            .unwrap();

        // Only an admin rolls over.
        assert!(matches!(
            env.ca.rollover(&window).await,
            Err(CaError::Forbidden(_))
        ));
        let ids = env.ca.rollover(&tk::admin()).await.unwrap();
        assert_eq!(ids, ["sign-g2", "auth-g2"], "[{name}]");
        let rows = env.ca_rows().await;
        assert_eq!(rows.len(), 4);
        for r in &rows {
            assert_eq!(r.active, r.generation == 2, "[{name}] {}", r.id);
        }
        let published = env.ca.published().await.unwrap();
        assert_eq!(published.len(), 8, "[{name}] 4 CAs + 4 links");
        for kind in ["sign", "auth"] {
            let links: Vec<_> = published
                .iter()
                .filter(|p| p.kind == kind && p.issuer.is_some())
                .collect();
            assert_eq!(links.len(), 2, "[{name}] {kind} links");
            let old = env.ca_cert(&format!("{kind}-g1")).await;
            let new = env.ca_cert(&format!("{kind}-g2")).await;
            let new_by_old = links
                .iter()
                .find(|l| l.id == format!("{kind}-g2-by-{kind}-g1"))
                .unwrap();
            let old_by_new = links
                .iter()
                .find(|l| l.id == format!("{kind}-g1-by-{kind}-g2"))
                .unwrap();
            assert_eq!(
                new_by_old.issuer.as_deref(),
                Some(format!("{kind}-g1").as_str())
            );
            assert_eq!(
                old_by_new.issuer.as_deref(),
                Some(format!("{kind}-g2").as_str())
            );
            let new_by_old = Certificate::from_pem(&new_by_old.pem).unwrap();
            let old_by_new = Certificate::from_pem(&old_by_new.pem).unwrap();
            // new-by-old: the new key, signed with the old key.
            new_by_old
                .verify_signed_by(&old.subject_public_key_der())
                .unwrap();
            assert_eq!(
                new_by_old.subject_public_key_der(),
                new.subject_public_key_der()
            );
            assert!(
                new_by_old
                    .verify_signed_by(&new.subject_public_key_der())
                    .is_err()
            );
            old_by_new
                .verify_signed_by(&new.subject_public_key_der())
                .unwrap();
            assert_eq!(
                old_by_new.subject_public_key_der(),
                old.subject_public_key_der()
            );
            assert!(!new_by_old.is_self_signed() && !old_by_new.is_self_signed());
        }

        // Issued now: by generation 2.
        let new_facts = other_adult_facts();
        let new_holder = env.register(tk::CHIYODA, new_facts.clone()).await;
        let after = env
            .ca
            .issue(&window, request(&new_holder, &new_facts, 2, 3))
            .await
            .unwrap();
        check_chain(&after);
        let sign_g1 = env.ca_cert("sign-g1").await;
        let sign_g2 = env.ca_cert("sign-g2").await;
        assert_eq!(after.sign_ca_certificate.as_deref(), Some(sign_g2.der()));
        let ee_new = Certificate::from_der(after.sign_certificate.as_deref().unwrap()).unwrap();
        let ee_old = Certificate::from_der(before.sign_certificate.as_deref().unwrap()).unwrap();
        let link_new_by_old = published
            .iter()
            .find(|p| p.id == "sign-g2-by-sign-g1")
            .map(|p| Certificate::from_pem(&p.pem).unwrap())
            .unwrap();
        let link_old_by_new = published
            .iter()
            .find(|p| p.id == "sign-g1-by-sign-g2")
            .map(|p| Certificate::from_pem(&p.pem).unwrap())
            .unwrap();
        // Old trust anchor → link → certificate of the new generation.
        link_new_by_old
            .verify_signed_by(&sign_g1.subject_public_key_der())
            .unwrap();
        ee_new
            .verify_signed_by(&link_new_by_old.subject_public_key_der())
            .unwrap();
        assert!(
            ee_new
                .verify_signed_by(&sign_g1.subject_public_key_der())
                .is_err()
        );
        // New trust anchor → link → certificate of the old generation.
        link_old_by_new
            .verify_signed_by(&sign_g2.subject_public_key_der())
            .unwrap();
        ee_old
            .verify_signed_by(&link_old_by_new.subject_public_key_der())
            .unwrap();
        let rows = env.certificates_of(&new_holder).await;
        assert!(rows.iter().all(|r| r.ca_id.ends_with("-g2")), "{rows:?}");
        // Old certificates stay valid.
        assert!(
            env.certificates_of(&old_holder)
                .await
                .iter()
                .all(|r| r.status == "valid" && r.ca_id.ends_with("-g1"))
        );

        if let Some(openssl) = &openssl {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let at = tk::now() + jiff::SignedDuration::from_hours(1);
            let old_pem = write_pem(d, "old.pem", sign_g1.der());
            let new_pem = write_pem(d, "new.pem", sign_g2.der());
            let nbo = write_pem(d, "new-by-old.pem", link_new_by_old.der());
            let obn = write_pem(d, "old-by-new.pem", link_old_by_new.der());
            let ee_new = write_pem(d, "ee-new.pem", ee_new.der());
            let ee_old = write_pem(d, "ee-old.pem", ee_old.der());
            let (ok, out) = openssl_verify(openssl, at, &old_pem, None, &ee_new);
            assert!(!ok, "[{name}] verified without the link: {out}");
            let (ok, out) = openssl_verify(openssl, at, &old_pem, Some(&nbo), &ee_new);
            assert!(ok, "[{name}] old trust + new-by-old link: {out}");
            let (ok, out) = openssl_verify(openssl, at, &new_pem, Some(&obn), &ee_old);
            assert!(ok, "[{name}] new trust + old-by-new link: {out}");
            // The authentication CA's links work the same way.
            let auth_g1 = env.ca_cert("auth-g1").await;
            let auth_link = published
                .iter()
                .find(|p| p.id == "auth-g2-by-auth-g1")
                .unwrap();
            let auth_old = write_pem(d, "auth-old.pem", auth_g1.der());
            let auth_link_pem = d.join("auth-link.pem");
            std::fs::write(&auth_link_pem, &auth_link.pem).unwrap();
            let auth_ee = write_pem(d, "auth-ee.pem", &after.auth_certificate);
            let (ok, out) = openssl_verify(openssl, at, &auth_old, Some(&auth_link_pem), &auth_ee);
            assert!(ok, "[{name}] auth: old trust + link: {out}");
        }

        // A second rollover: generation 3, linked to 2.
        let ids = env.ca.rollover(&tk::admin()).await.unwrap();
        assert_eq!(ids, ["sign-g3", "auth-g3"]);
        let published = env.ca.published().await.unwrap();
        assert!(published.iter().any(|p| p.id == "sign-g3-by-sign-g2"));
        assert_eq!(env.ca_rows().await.iter().filter(|r| r.active).count(), 2);
        tk::assert_chain_ok(env.store()).await;
    }
}

// ---------------------------------------------------------------------------
// Restart and key files
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_restarted_service_loads_the_encrypted_keys() {
    for env in Env::all().await {
        let name = env.name();
        let facts = tk::sample_facts();
        let first = env.register(tk::CHIYODA, facts.clone()).await;
        let window = tk::window_clerk(tk::CHIYODA);
        env.ca
            .issue(&window, request(&first, &facts, 0, 1))
            .await
            .unwrap();

        // A new service on a new connection pool, the same database and key directory.
        let store = env.db.reopen().await.unwrap();
        let restarted = service(
            &store,
            &env.clock,
            file_keystore(env.keys.path(), PASSPHRASE),
        );
        assert!(!restarted.ensure_initialized().await.unwrap());
        let facts2 = other_adult_facts();
        let second = env.register(tk::CHIYODA, facts2.clone()).await;
        let issued = restarted
            .issue(&window, request(&second, &facts2, 2, 3))
            .await
            .unwrap();
        check_chain(&issued);
        let sign_ca = env.ca_cert("sign-g1").await;
        Certificate::from_der(issued.sign_certificate.as_deref().unwrap())
            .unwrap()
            .verify_signed_by(&sign_ca.subject_public_key_der())
            .unwrap();

        // A wrong passphrase: nothing can be signed, nothing is written.
        let facts3 = child_facts();
        let third = env.register(tk::CHIYODA, facts3.clone()).await;
        let wrong = service(&store, &env.clock, file_keystore(env.keys.path(), "wrong"));
        refused_on(&env, &wrong, &window, request(&third, &facts3, 4, 5), |e| {
            matches!(e, CaError::Pki(PkiError::WrongPassphrase))
        })
        .await;

        // A key file that does not belong to the certificate (the signature CA's key
        // in the authentication CA's file): refused.
        let swapped = tempfile::tempdir().unwrap();
        for f in ["sign-g1.key.pem", "auth-g1.key.pem"] {
            std::fs::copy(
                env.keys.path().join("sign-g1.key.pem"),
                swapped.path().join(f),
            )
            .unwrap();
        }
        let mismatched = service(
            &store,
            &env.clock,
            file_keystore(swapped.path(), PASSPHRASE),
        );
        refused_on(
            &env,
            &mismatched,
            &window,
            request(&third, &facts3, 4, 5),
            |e| matches!(e, CaError::KeyStore(m) if m.contains("does not match")),
        )
        .await;
        // A missing key file.
        let empty = tempfile::tempdir().unwrap();
        let missing = service(&store, &env.clock, file_keystore(empty.path(), PASSPHRASE));
        refused_on(
            &env,
            &missing,
            &window,
            request(&third, &facts3, 4, 5),
            |e| matches!(e, CaError::KeyStore(m) if m.contains("auth-g1.key.pem")),
        )
        .await;
        // Key files are never overwritten: a second CA over the same directory cannot
        // create generation 1 again.
        let other_db = tk::sqlite().await;
        let clash = service(
            &other_db.store,
            &env.clock,
            file_keystore(env.keys.path(), PASSPHRASE),
        );
        assert!(
            matches!(clash.init(&tk::admin()).await, Err(CaError::KeyStore(_))),
            "[{name}]"
        );
        let pem = std::fs::read_to_string(env.keys.path().join("sign-g1.key.pem")).unwrap();
        SoftwareKey::from_encrypted_pkcs8_pem(&pem, PASSPHRASE.as_bytes()).unwrap();
        store.close().await;
    }
}

/// Like [`refused_writes_nothing`], with another service over the same store.
async fn refused_on(
    env: &Env,
    ca: &CaService,
    actor: &Actor,
    req: IssueRequest,
    check: impl FnOnce(&CaError) -> bool,
) {
    let before = env.written().await;
    let e = ca.issue(actor, req).await.unwrap_err();
    assert!(check(&e), "[{}] unexpected error: {e:?}", env.name());
    assert_eq!(env.written().await, before, "[{}] {e}", env.name());
}

// ---------------------------------------------------------------------------
// PKCS#11 (SoftHSM2)
// ---------------------------------------------------------------------------

const CHILD_ENV: &str = "HONNIN_CA_PKCS11_CHILD";
const CHILD_DONE: &str = "honnin-ca pkcs11 scenario passed";
const TOKEN: &str = "honnin-ca";
const USER_PIN: &str = "ca-user-pin-1234";
const SO_PIN: &str = "ca-so-pin-5678";

/// SoftHSM2 reads `SOFTHSM2_CONF` once per process and `unsafe` (set_var) is
/// forbidden: the scenario runs in a child process of this test binary with its own
/// configuration and token directory.
#[test]
fn pkcs11_ca_keys_on_softhsm2() {
    let Some(module) = softhsm_module() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = honnin_card::pkcs11::write_softhsm_config(dir.path()).unwrap();
    let tokens = dir.path().join("tokens");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["pkcs11_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", &conf)
        .env("HONNIN_PKCS11_MODULE", &module)
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(CHILD_DONE),
        "PKCS#11 CA scenario failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // The token directory holds the keys; nothing else was written beside it.
    assert!(std::fs::read_dir(&tokens).unwrap().count() >= 1);
}

/// Initialises a token labelled [`TOKEN`] in a free slot, with [`USER_PIN`].
fn init_token(ctx: &cryptoki::context::Pkcs11) {
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let free = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| !ctx.get_token_info(*s).unwrap().token_initialized())
        .expect("a free SoftHSM2 slot");
    ctx.init_token(free, &AuthPin::from(SO_PIN.to_string()), TOKEN)
        .unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == TOKEN)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::So, Some(&AuthPin::from(SO_PIN.to_string())))
        .unwrap();
    session
        .init_pin(&AuthPin::from(USER_PIN.to_string()))
        .unwrap();
    session.logout().unwrap();
}

fn pkcs11_keystore(module: &Path, pin: &str) -> Result<KeyStore, CaError> {
    KeyStore::open(KeyStoreConfig::Pkcs11 {
        module: module.to_path_buf(),
        token_label: TOKEN.into(),
        pin: Zeroizing::new(pin.to_string()),
    })
}

#[tokio::test]
async fn pkcs11_child() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    if std::env::var(CHILD_ENV).as_deref() != Ok("1") {
        eprintln!("note: pkcs11_child only runs inside pkcs11_ca_keys_on_softhsm2");
        return;
    }
    let module = PathBuf::from(std::env::var("HONNIN_PKCS11_MODULE").unwrap());
    let ctx = Pkcs11::new(&module).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    init_token(&ctx);

    // A wrong PIN or an unknown token: the key store does not open.
    let e = pkcs11_keystore(&module, "wrong-pin").unwrap_err();
    assert!(e.to_string().contains("login"), "{e}");
    let e = KeyStore::open(KeyStoreConfig::Pkcs11 {
        module: module.clone(),
        token_label: "no-such-token".into(),
        pin: Zeroizing::new(USER_PIN.to_string()),
    })
    .unwrap_err();
    assert!(e.to_string().contains("no-such-token"), "{e}");

    let db = tk::sqlite().await;
    let clock = tk::fixed_clock();
    let registry = tk::registry(&db.store, &clock);
    let ca = service(
        &db.store,
        &clock,
        pkcs11_keystore(&module, USER_PIN).unwrap(),
    );
    assert_eq!(ca.init(&tk::admin()).await.unwrap(), ["sign-g1", "auth-g1"]);
    let rows = {
        let mut conn = db.store.conn().await.unwrap();
        repo::list_ca_keys(&mut conn).await.unwrap()
    };
    for r in &rows {
        assert_eq!(r.key_store, "pkcs11");
        assert_eq!(r.key_ref, r.id, "the key's label on the token");
        assert!(Certificate::from_der(&r.cert_der).unwrap().is_self_signed());
    }

    // The keys are on the token: private, sensitive, not extractable.
    {
        let slot = ctx
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == TOKEN)
            .unwrap();
        let session = ctx.open_ro_session(slot).unwrap();
        for id in ["sign-g1", "auth-g1"] {
            let keys = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Label(id.as_bytes().to_vec()),
                ])
                .unwrap();
            assert_eq!(keys.len(), 1, "{id}");
            let attrs = session
                .get_attributes(
                    keys[0],
                    &[AttributeType::Extractable, AttributeType::Sensitive],
                )
                .unwrap();
            for a in attrs {
                match a {
                    Attribute::Extractable(x) => assert!(!x, "{id} extractable"),
                    Attribute::Sensitive(x) => assert!(x, "{id} not sensitive"),
                    _ => {}
                }
            }
        }
    }

    // Issue: both certificates, signed by the token's keys.
    let facts = tk::sample_facts();
    let n = registry
        .register(&tk::admin(), tk::new_resident(tk::CHIYODA, facts.clone()))
        .await
        .unwrap()
        .my_number;
    let window = tk::window_clerk(tk::CHIYODA);
    let issued = ca.issue(&window, request(&n, &facts, 0, 1)).await.unwrap();
    check_chain(&issued);
    let sign_ca = rows.iter().find(|r| r.id == "sign-g1").unwrap();
    assert_eq!(
        issued.sign_ca_certificate.as_deref(),
        Some(&sign_ca.cert_der[..])
    );

    // Restart: a new key store and service on the same token and database.
    let restarted = service(
        &db.store,
        &clock,
        pkcs11_keystore(&module, USER_PIN).unwrap(),
    );
    drop(ca);
    let facts2 = other_adult_facts();
    let n2 = registry
        .register(&tk::admin(), tk::new_resident(tk::CHIYODA, facts2.clone()))
        .await
        .unwrap()
        .my_number;
    let issued = restarted
        .issue(&window, request(&n2, &facts2, 2, 3))
        .await
        .unwrap();
    check_chain(&issued);

    // Rollover on the token: generation 2 with links.
    assert_eq!(
        restarted.rollover(&tk::admin()).await.unwrap(),
        ["sign-g2", "auth-g2"]
    );
    let published = restarted.published().await.unwrap();
    let old = Certificate::from_der(&sign_ca.cert_der).unwrap();
    let link = published
        .iter()
        .find(|p| p.id == "sign-g2-by-sign-g1")
        .map(|p| Certificate::from_pem(&p.pem).unwrap())
        .unwrap();
    link.verify_signed_by(&old.subject_public_key_der())
        .unwrap();
    let facts3 = child_facts();
    let n3 = registry
        .register(&tk::admin(), tk::new_resident(tk::CHIYODA, facts3.clone()))
        .await
        .unwrap()
        .my_number;
    let issued = restarted
        .issue(&window, request(&n3, &facts3, 4, 5))
        .await
        .unwrap();
    check_chain(&issued);
    let auth_link = published
        .iter()
        .find(|p| p.id == "auth-g2-by-auth-g1")
        .map(|p| Certificate::from_pem(&p.pem).unwrap())
        .unwrap();
    Certificate::from_der(&issued.auth_certificate)
        .unwrap()
        .verify_signed_by(&auth_link.subject_public_key_der())
        .unwrap();
    println!("{CHILD_DONE}");
}

#[tokio::test]
async fn reissue_after_loss_revokes_the_old_pair_at_once() {
    for env in Env::all().await {
        let facts = other_adult_facts();
        let n = env.register(tk::CHIYODA, facts.clone()).await;
        let window = tk::window_clerk(tk::CHIYODA);
        let first = env
            .ca
            .issue(&window, request(&n, &facts, 0, 1))
            .await
            .unwrap();
        let old: Vec<String> = env
            .certificates_of(&n)
            .await
            .into_iter()
            .map(|r| r.serial)
            .collect();
        assert_eq!(old.len(), 2, "[{}]", env.name());

        // Renewal and loss at once is not a request that makes sense.
        let mut both = request(&n, &facts, 2, 3);
        both.renew = true;
        both.lost = true;
        let err = env.ca.issue(&window, both).await.unwrap_err();
        assert!(
            matches!(err, CaError::Field { field: "lost", .. }),
            "{err:?}"
        );

        // Long before the renewal window: a lost card is replaced straight away.
        let mut lost = request(&n, &facts, 2, 3);
        lost.lost = true;
        let again = env.ca.issue(&window, lost).await.unwrap();
        check_chain(&again);
        let mut superseded = again.superseded.clone();
        superseded.sort();
        let mut expected = old.clone();
        expected.sort();
        assert_eq!(superseded, expected, "[{}]", env.name());
        assert_ne!(again.auth_certificate, first.auth_certificate);
        for r in env.certificates_of(&n).await {
            if old.contains(&r.serial) {
                assert_eq!(r.status, "revoked", "[{}] {}", env.name(), r.serial);
                assert_eq!(r.revocation_reason.as_deref(), Some("keyCompromise"));
            } else {
                assert_eq!(r.status, "valid");
            }
        }
        let entries = tk::audit_entries(env.store(), Some("reissue")).await;
        assert_eq!(entries.len(), 1, "[{}]", env.name());
        assert_eq!(entries[0].entry.subject.as_deref(), Some(n.as_str()));
    }
}
