//! `honnin bench ocsp`: the revocation figures, each printed with its target.
//!
//! 1. CRL generation: a CRL of `--crl-entries` revoked serials built in-process over a
//!    software CA key, parsed back, and parsed by `openssl crl` (timed too).
//! 2. Revocation processing: `--notice-residents` residents with both certificates
//!    (in-process CA and registry on a temporary SQLite store), an address change recorded
//!    for each, then `CaService::apply_notices(1000)` timed until drained → notices/s.
//! 3. OCSP serving: a `honnin serve` child process, certificates issued and some revoked
//!    through the API, OCSP requests (no nonce) for all of them, the kept responses warmed
//!    and checked, then POST /ocsp/{kind} loaded from this process with many connections.
//!
//! The last line is machine-readable: `ocsp responses_per_s=N p99_ms=M`.
//! `--export DIR` keeps the server's data and writes the certificates, CA certificates
//! and requests for `scripts/bench-ocsp.sh` (which compares with cfssl and openssl).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use honnin_ca::{Application, CaConfig, CaService, IssueRequest, KeyStore, KeyStoreConfig};
use honnin_core::{Actor, Address, MyNumber, Role};
use honnin_pki::{
    CaKind, CaParams, CertId, CertStatus, Certificate, Crl, CrlParams, HashAlgorithm, KeyAlgorithm,
    OcspResponse, RevocationReason, RevokedEntry, Signer, SoftwareKey, Zeroizing,
    build_ca_certificate, build_crl, build_csr, build_ocsp_request, cert_id_for, random_serial,
};
use honnin_registry::synth::Generator;
use honnin_registry::{Change, ChangeRequest, ImportRow, Registry};
use honnin_store::audit::AuditLog;
use honnin_store::{Clock, OpenOptions, Store, SystemClock};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::bench::{free_port, wait_healthy};

/// Options of `honnin bench ocsp`.
#[derive(Debug, Clone)]
pub struct OcspOpts {
    pub duration: Duration,
    pub connections: usize,
    /// Residents issued through the API (two certificates each).
    pub residents: usize,
    /// Every n-th certificate is revoked (0: none).
    pub revoke_every: usize,
    /// Revoked serials in the CRL phase (0: skip).
    pub crl_entries: usize,
    /// Residents of the revocation-processing phase (0: skip).
    pub notice_residents: usize,
    /// CertID hash: SHA-1 (what most clients send) or SHA-256.
    pub sha256: bool,
    /// Keep the data and write certificates and requests here.
    pub export: Option<PathBuf>,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets target" } else { "BELOW target" }
}

pub async fn ocsp(o: OcspOpts) -> Result<()> {
    println!(
        "== honnin bench ocsp: {} cores; OCSP {}s with {} connections over {} certificates (every {}th revoked); CRL of {} entries; {} residents' notices",
        crate::bench::cores(),
        o.duration.as_secs(),
        o.connections,
        o.residents * 2,
        o.revoke_every,
        o.crl_entries,
        o.notice_residents,
    );
    if o.crl_entries > 0 {
        crl_phase(o.crl_entries)?;
    }
    if o.notice_residents > 0 {
        notices_phase(o.notice_residents).await?;
    }
    let (rate, p99) = ocsp_phase(&o).await?;
    println!("ocsp responses_per_s={rate:.0} p99_ms={p99:.2}");
    Ok(())
}

// ---------------------------------------------------------------------------
// CRL generation
// ---------------------------------------------------------------------------

fn crl_phase(n: usize) -> Result<()> {
    let key = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
    let now = jiff::Timestamp::now();
    let ca = build_ca_certificate(
        &CaParams {
            kind: CaKind::Signature,
            serial: random_serial(),
            not_before: now - jiff::SignedDuration::from_hours(1),
            not_after: now + jiff::SignedDuration::from_hours(24 * 365),
            crl_url: "http://127.0.0.1/crl/bench/arl.crl",
        },
        &key,
    )?;
    let reasons = [
        Some(RevocationReason::AffiliationChanged),
        Some(RevocationReason::KeyCompromise),
        Some(RevocationReason::CessationOfOperation),
        Some(RevocationReason::Superseded),
        None,
    ];
    let t = Instant::now();
    let since = now - jiff::SignedDuration::from_hours(24 * 365);
    let entries: Vec<RevokedEntry> = (0..n)
        .map(|i| RevokedEntry {
            serial: random_serial().to_vec(),
            revoked_at: since + jiff::SignedDuration::from_secs((i % 31_000_000) as i64),
            reason: reasons[i % reasons.len()],
            invalidity_date: None,
        })
        .collect();
    println!(
        "made {n} revoked entries (random 20-octet serials) in {:.1}s (not timed)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let der = build_crl(
        &ca,
        &key,
        &CrlParams {
            crl_number: 1,
            this_update: now,
            next_update: now + jiff::SignedDuration::from_hours(25),
            distribution_point: None,
            only_user_certs: false,
            only_ca_certs: false,
        },
        &entries,
    )?;
    let build = t.elapsed().as_secs_f64();
    drop(entries);
    let t = Instant::now();
    let crl = Crl::from_der(&der)?;
    let parse = t.elapsed().as_secs_f64();
    if crl.entries().len() != n {
        bail!(
            "the CRL read back has {} entries, not {n}",
            crl.entries().len()
        );
    }
    let t = Instant::now();
    crl.verify_signed_by(&key.public_key_der())?;
    let verify = t.elapsed().as_secs_f64();
    drop(crl);
    println!(
        "crl     build  {n} entries, {:.1} MB DER in {build:.2}s   target < 10 s   {}",
        der.len() as f64 / 1e6,
        verdict(build < 10.0)
    );
    println!("crl     parse  honnin_pki::Crl::from_der {parse:.2}s, signature check {verify:.2}s");
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let file = tmp.path().join("bench.crl");
    std::fs::write(&file, &der).context("writing the CRL")?;
    let t = Instant::now();
    let out = std::process::Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-in"])
        .arg(&file)
        .output();
    let openssl = t.elapsed().as_secs_f64();
    let openssl_s = match out {
        Ok(o) if o.status.success() => {
            println!("crl     parse  `openssl crl -inform DER -noout` {openssl:.2}s (ok)");
            format!("{openssl:.2}")
        }
        Ok(o) => bail!(
            "openssl crl refused the CRL: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            println!("crl     parse  openssl not run ({e}); install openssl to time it");
            "NaN".into()
        }
    };
    println!("crl entries={n} build_s={build:.2} parse_s={parse:.2} openssl_s={openssl_s}");
    Ok(())
}

// ---------------------------------------------------------------------------
// Revocation processing (registry notices → revocations)
// ---------------------------------------------------------------------------

/// Adults (so that every issuance yields both certificates).
fn adult_rows(n: usize, seed: u64) -> Vec<ImportRow> {
    let today = honnin_core::today_jst(jiff::Timestamp::now());
    let mut g = Generator::new(seed, today);
    let mut rows = Vec::with_capacity(n);
    while rows.len() < n {
        let s = g.next_resident();
        if (today.year() - s.birth_date.year()) > 16 {
            rows.push(ImportRow::from_synthetic(&s));
        }
    }
    rows
}

/// A few card key pairs' PKCS#10 requests (DER), made before any timing.
fn csr_pairs(n: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let a = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
        let s = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
        out.push((build_csr("bench", &a)?, build_csr("bench", &s)?));
    }
    Ok(out)
}

fn sex_of(row: &ImportRow) -> Result<honnin_core::Sex> {
    row.sex
        .parse::<honnin_core::Sex>()
        .map_err(|e| anyhow::anyhow!("sex {:?}: {e}", row.sex))
}

/// Runs `f(i)` for `i` in `0..n` on `workers` tasks; returns the failures.
async fn for_each<F, Fut>(n: usize, workers: usize, f: F) -> Result<usize>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0usize;
            let mut first: Option<anyhow::Error> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if let Err(e) = f(i).await {
                    failed += 1;
                    first.get_or_insert(e);
                }
            }
            (failed, first)
        }));
    }
    let mut failed = 0;
    for t in tasks {
        let (n, e) = t.await.context("worker")?;
        failed += n;
        if let Some(e) = e {
            eprintln!("warning: {e:#}");
        }
    }
    Ok(failed)
}

async fn notices_phase(k: usize) -> Result<()> {
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let store = Store::open_sqlite_dir(tmp.path(), OpenOptions::default()).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = Registry::new(
        store.clone(),
        clock.clone(),
        AuditLog::spawn(store.clone(), clock.clone()),
    );
    let admin = Actor::system();
    let t = Instant::now();
    let rows = adult_rows(k, 23);
    let mut numbers = Vec::with_capacity(k);
    for (i, chunk) in rows.chunks(50_000).enumerate() {
        let r = registry
            .import(&admin, chunk, i * 50_000 + 1)
            .await
            .map_err(|e| anyhow::anyhow!("import: {e}"))?;
        numbers.extend(r.my_numbers);
    }
    let keys = KeyStore::open(KeyStoreConfig::File {
        dir: tmp.path().join("ca"),
        passphrase: Zeroizing::new("bench-ca-passphrase".to_string()),
    })
    .map_err(|e| anyhow::anyhow!("key store: {e}"))?;
    let ca = CaService::new(store.clone(), clock.clone(), keys, CaConfig::default());
    ca.ensure_initialized()
        .await
        .map_err(|e| anyhow::anyhow!("CA: {e}"))?;
    let csrs = Arc::new(csr_pairs(4)?);
    let people: Arc<Vec<(MyNumber, ImportRow)>> = Arc::new(
        numbers
            .iter()
            .zip(rows)
            .map(|(n, r)| Ok((MyNumber::parse(n)?, r)))
            .collect::<Result<_, honnin_core::CoreError>>()?,
    );
    let clerk = Actor {
        operator: "bench".into(),
        role: Role::Admin,
        municipality: None,
        agency: None,
    };
    let failed = for_each(k, 32, {
        let (ca, people, csrs, clerk) = (ca.clone(), people.clone(), csrs.clone(), clerk.clone());
        move |i| {
            let (ca, people, csrs, clerk) =
                (ca.clone(), people.clone(), csrs.clone(), clerk.clone());
            async move {
                let (n, r) = &people[i];
                let (a, s) = &csrs[i % csrs.len()];
                ca.issue(
                    &clerk,
                    IssueRequest {
                        my_number: n.clone(),
                        application: Application {
                            name: r.name.clone(),
                            birth_date: r.birth_date.parse()?,
                            sex: sex_of(r)?,
                            address: r.address.clone(),
                        },
                        auth_csr: a.clone(),
                        sign_csr: Some(s.clone()),
                        card_expiry: None,
                        renew: false,
                        lost: false,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("issue: {e}"))?;
                Ok(())
            }
        }
    })
    .await?;
    if failed > 0 {
        bail!("{failed} of {k} issuances failed");
    }
    // Notices from before (none revoke anything) are drained first.
    loop {
        let r = ca
            .apply_notices(1000)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if r.notices == 0 {
            break;
        }
    }
    println!(
        "set up {k} residents with both certificates in {:.1}s (not timed)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let today = honnin_core::today_jst(jiff::Timestamp::now());
    let failed = for_each(k, 16, {
        let (registry, people) = (registry.clone(), people.clone());
        move |i| {
            let (registry, people) = (registry.clone(), people.clone());
            async move {
                let (n, r) = &people[i];
                registry
                    .change(
                        &Actor::system(),
                        n,
                        ChangeRequest {
                            change: Change::AddressChange {
                                address: Address::parse(&format!("{}の2", r.address))?,
                                address_flags: None,
                            },
                            effective_date: today,
                            reason: "転居 (bench)".into(),
                        },
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("change: {e}"))?;
                Ok(())
            }
        }
    })
    .await?;
    if failed > 0 {
        bail!("{failed} of {k} address changes failed");
    }
    println!(
        "recorded {k} address changes (転居) in {:.1}s (not timed)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let (mut notices, mut revoked, mut passes) = (0usize, 0usize, 0usize);
    loop {
        let r = ca
            .apply_notices(1000)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if r.notices == 0 {
            break;
        }
        notices += r.notices;
        revoked += r.revoked.len();
        passes += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = notices as f64 / secs;
    let in_store = count_revoked(&store).await?;
    store.close().await;
    println!(
        "notices apply  {rate:>8.0} notices/s   ({notices} notices → {revoked} signature certificates revoked in {passes} transactions, {secs:.2}s)   target >= 10000   {}",
        verdict(rate >= 10_000.0 && revoked == k && in_store == k)
    );
    if revoked != k || in_store != k {
        bail!("expected {k} revocations, got {revoked} ({in_store} revoked in the store)");
    }
    println!("notices notices_per_s={rate:.0} revoked={revoked}");
    Ok(())
}

/// Revoked certificates in the store, over every CA generation.
async fn count_revoked(store: &Store) -> Result<usize> {
    let mut conn = store.conn().await?;
    let mut n = 0;
    for k in honnin_store::ca::list_ca_keys(&mut conn).await? {
        n += honnin_store::ca::revoked_of_ca(&mut conn, &k.id)
            .await?
            .len();
    }
    Ok(n)
}

// ---------------------------------------------------------------------------
// OCSP serving
// ---------------------------------------------------------------------------

/// One certificate under test.
struct Target {
    kind: &'static str,
    ca_id: String,
    cert_der: Vec<u8>,
    id: CertId,
    request: Bytes,
    revoked: Option<jiff::Timestamp>,
}

type Http = HyperClient<HttpConnector, Full<Bytes>>;

/// Certificates issued during set-up: (`auth`/`sign`, DER).
type IssuedCerts = Arc<std::sync::Mutex<Vec<(&'static str, Vec<u8>)>>>;

/// Whether a DER OCSPResponse says `successful` (without decoding the rest).
fn ocsp_successful(b: &[u8]) -> bool {
    if b.first() != Some(&0x30) {
        return false;
    }
    let Some(&l) = b.get(1) else { return false };
    let skip = if l & 0x80 == 0 {
        2
    } else {
        2 + usize::from(l & 0x7f)
    };
    b.get(skip..skip + 3) == Some(&[0x0a, 0x01, 0x00][..])
}

async fn post_ocsp(http: &Http, base: &str, path: &str, body: Bytes) -> Result<Bytes> {
    let req = hyper::Request::post(format!("{base}{path}"))
        .header("content-type", "application/ocsp-request")
        .body(Full::new(body))?;
    let resp = http.request(req).await?;
    if !resp.status().is_success() {
        bail!("HTTP {}", resp.status());
    }
    Ok(resp.into_body().collect().await?.to_bytes())
}

/// The status the responder gave for `t`, checked against what it should be.
async fn check(http: &Http, base: &str, t: &Target) -> Result<CertStatus> {
    let der = post_ocsp(http, base, &format!("/ocsp/{}", t.kind), t.request.clone()).await?;
    let r = OcspResponse::from_der(&der)?;
    if !r.is_successful() {
        bail!("unsuccessful OCSP response {:?}", r.error_status());
    }
    Ok(r.find(&t.id).context("no answer for the CertID")?.status)
}

async fn ocsp_phase(o: &OcspOpts) -> Result<(f64, f64)> {
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let data = match &o.export {
        Some(d) => {
            if d.join("data").exists() {
                bail!(
                    "{} already holds data; give an empty directory",
                    d.display()
                );
            }
            d.join("data")
        }
        None => tmp.path().to_path_buf(),
    };
    std::fs::create_dir_all(&data).context("data directory")?;
    let (mut child, base) = serve(&data, "all").await?;
    let admin = std::fs::read_to_string(data.join("admin.token"))
        .context("admin token")?
        .trim()
        .to_string();
    let c = crate::client::Client::new(&base, Some(admin))?;

    // Residents, then issuance through the window API with precomputed CSRs.
    let t = Instant::now();
    let rows = adult_rows(o.residents, 31);
    let mut people: Vec<(String, ImportRow)> = Vec::with_capacity(o.residents);
    for (i, chunk) in rows.chunks(20_000).enumerate() {
        let v: Value = c
            .post(
                "/api/v1/residents/import",
                &json!({ "first_row": i * 20_000 + 1, "rows": chunk }),
            )
            .await?;
        let numbers = v["my_numbers"].as_array().context("my_numbers")?;
        for (n, row) in numbers.iter().zip(chunk) {
            people.push((n.as_str().unwrap_or_default().to_string(), row.clone()));
        }
    }
    let csrs: Vec<(String, String)> = csr_pairs(4)?
        .into_iter()
        .map(|(a, s)| (B64.encode(a), B64.encode(s)))
        .collect();
    let bodies: Arc<Vec<Value>> = Arc::new(
        people
            .iter()
            .enumerate()
            .map(|(i, (n, r))| {
                let (a, s) = &csrs[i % csrs.len()];
                let sex = sex_of(r).map(|x| x.as_str()).unwrap_or("unknown");
                json!({
                    "my_number": n,
                    "application": { "name": r.name, "birth_date": r.birth_date, "sex": sex, "address": r.address },
                    "auth_csr": a, "sign_csr": s,
                })
            })
            .collect(),
    );
    let issued: IssuedCerts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let failed = for_each(bodies.len(), 16, {
        let (c, bodies, issued) = (c.clone(), bodies.clone(), issued.clone());
        move |i| {
            let (c, bodies, issued) = (c.clone(), bodies.clone(), issued.clone());
            async move {
                let v: Value = c.post("/api/v1/window/issue", &bodies[i]).await?;
                let auth = B64.decode(v["auth_certificate"].as_str().context("auth")?)?;
                let sign = B64.decode(v["sign_certificate"].as_str().context("sign")?)?;
                if let Ok(mut m) = issued.lock() {
                    m.push(("auth", auth));
                    m.push(("sign", sign));
                }
                Ok(())
            }
        }
    })
    .await?;
    if failed > 0 {
        bail!("{failed} issuances failed");
    }
    let issued = std::mem::take(
        &mut *issued
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned lock"))?,
    );

    // The CA certificates as relying parties get them.
    let published: Vec<Value> = c.get("/ca/certificates").await?;
    let cas: Vec<(String, Vec<u8>)> = published
        .iter()
        .filter(|p| p["issuer"].is_null())
        .filter_map(|p| {
            let cert = Certificate::from_pem(p["pem"].as_str()?).ok()?;
            Some((p["id"].as_str()?.to_string(), cert.der().to_vec()))
        })
        .collect();
    let alg = if o.sha256 {
        HashAlgorithm::Sha256
    } else {
        HashAlgorithm::Sha1
    };
    let mut targets = Vec::with_capacity(issued.len());
    for (kind, der) in issued {
        let Some((ca_id, id)) = cas
            .iter()
            .find_map(|(ca_id, ca)| Some((ca_id.clone(), cert_id_for(&der, ca, alg).ok()?)))
        else {
            bail!("no published CA issued a {kind} certificate");
        };
        let request = Bytes::from(build_ocsp_request(std::slice::from_ref(&id), None));
        targets.push(Target {
            kind,
            ca_id,
            cert_der: der,
            id,
            request,
            revoked: None,
        });
    }
    // Revoke every n-th (lost cards at the window).
    if o.revoke_every > 0 {
        for t in targets.iter_mut().step_by(o.revoke_every) {
            let _: Value = c
                .post(
                    &format!("/api/v1/certificates/{}/revoke", t.id.serial_hex()),
                    &json!({ "reason": "keyCompromise" }),
                )
                .await?;
            t.revoked = Some(jiff::Timestamp::now());
        }
    }
    let revoked = targets.iter().filter(|t| t.revoked.is_some()).count();
    println!(
        "issued {} certificates for {} residents, revoked {revoked}, in {:.1}s (not timed)",
        targets.len(),
        o.residents,
        t.elapsed().as_secs_f64()
    );

    // Warm the kept responses, checking every answer.
    let http = HyperClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(o.connections.max(16))
        .build_http::<Full<Bytes>>();
    let targets = Arc::new(targets);
    let t = Instant::now();
    let wrong = Arc::new(AtomicUsize::new(0));
    let failed = for_each(targets.len(), 8, {
        let (http, base, targets, wrong) =
            (http.clone(), base.clone(), targets.clone(), wrong.clone());
        move |i| {
            let (http, base, targets, wrong) =
                (http.clone(), base.clone(), targets.clone(), wrong.clone());
            async move {
                let t = &targets[i];
                let status = check(&http, &base, t).await?;
                let ok = match (status, t.revoked) {
                    (CertStatus::Good, None) => true,
                    (CertStatus::Revoked { reason, .. }, Some(_)) => {
                        reason == Some(RevocationReason::KeyCompromise)
                    }
                    _ => false,
                };
                if !ok {
                    wrong.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
        }
    })
    .await?;
    let wrong = wrong.load(Ordering::Relaxed);
    if failed > 0 || wrong > 0 {
        bail!("warming: {failed} requests failed, {wrong} answers wrong");
    }
    println!(
        "warmed and checked {} kept responses ({} good, {revoked} revoked) in {:.1}s (not timed)",
        targets.len(),
        targets.len() - revoked,
        t.elapsed().as_secs_f64()
    );

    let load = load(&http, &base, targets.clone(), o.duration, o.connections).await?;
    println!(
        "ocsp    http   {:>8.0} responses/s   p50 {:.2} ms  p99 {:.2} ms  ({} ok, {} errors)   target >= 30000 on 2 cores   ratio {:.2}  {}",
        load.rate,
        load.p50_ms,
        load.p99_ms,
        load.ok,
        load.errors,
        load.rate / 30_000.0,
        verdict(load.rate >= 30_000.0 && load.errors == 0)
    );

    // A revocation is answered within 1 s: by this server (which made it) and by a
    // `serve --role ocsp` process over the same database (which holds the good answer in
    // memory and learns of the revocation only from the database).
    let mut late = None;
    if let Some((i, t)) = targets
        .iter()
        .enumerate()
        .find(|(_, t)| t.revoked.is_none())
    {
        let (mut responder, other) = serve(&data, "ocsp").await?;
        for b in [&base, &other] {
            if !matches!(check(&http, b, t).await?, CertStatus::Good) {
                bail!("a good certificate was not answered as good before its revocation");
            }
        }
        let start = Instant::now();
        let _: Value = c
            .post(
                &format!("/api/v1/certificates/{}/revoke", t.id.serial_hex()),
                &json!({ "reason": "keyCompromise" }),
            )
            .await?;
        let after_call = start.elapsed();
        late = Some((i, jiff::Timestamp::now()));
        let mut seen = [None, None];
        while start.elapsed() < Duration::from_secs(5) && seen.iter().any(Option::is_none) {
            for (k, b) in [&base, &other].into_iter().enumerate() {
                if seen[k].is_none()
                    && matches!(check(&http, b, t).await?, CertStatus::Revoked { .. })
                {
                    seen[k] = Some(start.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = responder.start_kill();
        let _ = responder.wait().await;
        let ms = |d: Option<Duration>| {
            d.map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| "not within 5 s".into())
        };
        let ok = seen
            .iter()
            .all(|d| d.is_some_and(|d| d <= Duration::from_secs(1)));
        println!(
            "ocsp    fresh  revoked at the window (call {:.0} ms); answered revoked after: same process {}, `serve --role ocsp` process {}   target <= 1000 ms   {}",
            after_call.as_secs_f64() * 1000.0,
            ms(seen[0]),
            ms(seen[1]),
            verdict(ok)
        );
        if seen.iter().any(Option::is_none) {
            bail!("a revocation was not answered as revoked within 5 s");
        }
    }

    if let Some(dir) = &o.export {
        export(dir, &targets, &cas, late)?;
        println!(
            "exported the certificates, CA certificates and requests to {}",
            dir.display()
        );
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    Ok((load.rate, load.p99_ms))
}

/// Starts `honnin serve --role ROLE` (no demo) over `data` on a free loopback port.
async fn serve(data: &Path, role: &str) -> Result<(tokio::process::Child, String)> {
    let port = free_port()?;
    let exe = std::env::current_exe().context("locating the honnin binary")?;
    let child = tokio::process::Command::new(exe)
        .args([
            "serve",
            "--no-demo",
            "--role",
            role,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("HONNIN_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting honnin serve")?;
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await?;
    Ok((child, base))
}

/// `YYMMDDHHMMSSZ` as openssl's index file wants it.
fn index_time(t: jiff::Timestamp) -> String {
    t.strftime("%y%m%d%H%M%SZ").to_string()
}

/// Writes, for `scripts/bench-ocsp.sh`: `ca/<id>.pem`, `ca.pem` (all), `certs/<serial>.pem`,
/// `requests/<serial>.der`, and `certs.tsv` (serial in upper-case hex, kind, CA id,
/// `good`/`revoked`, revocation time, expiry).
fn export(
    dir: &Path,
    targets: &[Target],
    cas: &[(String, Vec<u8>)],
    late: Option<(usize, jiff::Timestamp)>,
) -> Result<()> {
    for sub in ["ca", "certs", "requests"] {
        std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {sub}"))?;
    }
    let mut all = String::new();
    for (id, der) in cas {
        let pem = Certificate::from_der(der)?.to_pem();
        std::fs::write(dir.join("ca").join(format!("{id}.pem")), &pem)?;
        all.push_str(&pem);
    }
    std::fs::write(dir.join("ca.pem"), all)?;
    let mut tsv = std::fs::File::create(dir.join("certs.tsv")).context("certs.tsv")?;
    for (i, t) in targets.iter().enumerate() {
        let revoked = t
            .revoked
            .or(late.and_then(|(j, at)| (i == j).then_some(at)));
        let serial = t.id.serial_hex();
        let cert = Certificate::from_der(&t.cert_der)?;
        std::fs::write(
            dir.join("certs").join(format!("{serial}.pem")),
            cert.to_pem(),
        )?;
        std::fs::write(
            dir.join("requests").join(format!("{serial}.der")),
            &t.request,
        )?;
        writeln!(
            tsv,
            "{serial}\t{}\t{}\t{}\t{}\t{}",
            t.kind,
            t.ca_id,
            if revoked.is_some() { "revoked" } else { "good" },
            revoked.map(index_time).unwrap_or_else(|| "-".into()),
            index_time(cert.not_after()),
        )?;
    }
    Ok(())
}

async fn load(
    http: &Http,
    base: &str,
    targets: Arc<Vec<Target>>,
    duration: Duration,
    connections: usize,
) -> Result<crate::bench::LoadResult> {
    let uris: Arc<Vec<hyper::Uri>> = Arc::new(
        ["auth", "sign"]
            .iter()
            .map(|k| format!("{base}/ocsp/{k}").parse())
            .collect::<Result<_, _>>()?,
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..connections {
        let (http, targets, uris) = (http.clone(), targets.clone(), uris.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(200_000);
            let mut errors = 0usize;
            let n = targets.len().max(1);
            let mut i = w * n / connections.max(1);
            while start.elapsed() < duration {
                let Some(t) = targets.get(i % n) else { break };
                i += 1;
                let uri = uris[usize::from(t.kind == "sign")].clone();
                let Ok(req) = hyper::Request::post(uri)
                    .header("content-type", "application/ocsp-request")
                    .body(Full::new(t.request.clone()))
                else {
                    errors += 1;
                    continue;
                };
                let at = Instant::now();
                match http.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let good = match resp.into_body().collect().await {
                            Ok(b) => ok && ocsp_successful(&b.to_bytes()),
                            Err(_) => false,
                        };
                        if good {
                            lat.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    crate::bench::collect(tasks, start).await
}
