//! `honnin bench registry`: bulk import, lookups through the HTTP API (load from this
//! process against a `honnin serve` child process), and logged provisions. Each figure is
//! printed with its target; the last line is machine-readable.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Subcommand;
use honnin_core::Actor;
use honnin_registry::synth::Generator;
use honnin_registry::{ImportRow, Registry};
use honnin_store::audit::AuditLog;
use honnin_store::{OpenOptions, Store, SystemClock};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use indicatif::ProgressBar;
use rand::Rng;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Import, lookup and provision figures of the registry.
    Registry {
        /// Residents to import.
        #[arg(long, default_value_t = 1_000_000)]
        count: usize,
        /// Also measure import into this PostgreSQL database.
        #[arg(long, env = "HONNIN_BENCH_PG_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Seconds of load for each HTTP phase.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent HTTP connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Working directory (default: a fresh temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Issuance throughput at the window API against the raw RSA-2048 signing rate.
    Issue {
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent HTTP connections.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Residents available for issuance (one issuance each).
        #[arg(long, default_value_t = 40_000)]
        residents: usize,
        /// CA keys in this PKCS#11 module's token (PIN from HONNIN_PKCS11_PIN).
        #[arg(long)]
        pkcs11_module: Option<PathBuf>,
        /// Label of that token.
        #[arg(long)]
        token: Option<String>,
    },
    /// Revocation: OCSP responses/s from kept responses, CRL generation, and registry
    /// notices turned into revocations per second.
    Ocsp {
        /// Seconds of OCSP load.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent HTTP connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Residents issued through the API for the OCSP phase (two certificates each).
        #[arg(long, default_value_t = 1000)]
        residents: usize,
        /// Revoke every n-th of those certificates (0: none).
        #[arg(long, default_value_t = 10)]
        revoke_every: usize,
        /// Revoked serials in the CRL generation phase (0: skip the phase).
        #[arg(long, default_value_t = 1_000_000)]
        crl_entries: usize,
        /// Residents (both certificates each) whose address changes are turned into
        /// revocations in the notice-processing phase (0: skip the phase).
        #[arg(long, default_value_t = 20_000)]
        notice_residents: usize,
        /// CertIDs hashed with SHA-256 instead of SHA-1 (what most clients send).
        #[arg(long)]
        sha256: bool,
        /// Keep the server's data in DIR/data and write the certificates, CA
        /// certificates and OCSP requests there (for scripts/bench-ocsp.sh).
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Signed applications verified per second in-process (signature, path,
    /// OCSP from cache, the 4 facts) against the raw RSA-2048 verification rate.
    Verify {
        /// Seconds of each phase.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Distinct signed documents.
        #[arg(long, default_value_t = 1000)]
        documents: usize,
        /// Also write the documents, ca.pem and ca.crl here (for scripts/bench-verify.sh).
        #[arg(long)]
        files: Option<PathBuf>,
    },
}

pub async fn run(cmd: BenchCmd) -> Result<std::process::ExitCode> {
    match cmd {
        BenchCmd::Verify {
            duration,
            documents,
            files,
        } => {
            crate::bench_verify::verify(Duration::from_secs(duration), documents.max(1), files)
                .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCmd::Issue {
            duration,
            connections,
            residents,
            pkcs11_module,
            token,
        } => {
            crate::bench_issue::issue(
                Duration::from_secs(duration),
                connections,
                residents,
                pkcs11_module,
                token,
            )
            .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCmd::Ocsp {
            duration,
            connections,
            residents,
            revoke_every,
            crl_entries,
            notice_residents,
            sha256,
            export,
        } => {
            crate::bench_ocsp::ocsp(crate::bench_ocsp::OcspOpts {
                duration: Duration::from_secs(duration),
                connections,
                residents,
                revoke_every,
                crl_entries,
                notice_residents,
                sha256,
                export,
            })
            .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCmd::Registry {
            count,
            database_url,
            duration,
            connections,
            dir,
        } => {
            let tmp = tempfile::tempdir().context("temporary directory")?;
            let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
            registry(
                count,
                database_url,
                Duration::from_secs(duration),
                connections,
                &dir,
            )
            .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

fn synth_rows(count: usize, seed: u64) -> Vec<ImportRow> {
    let mut g = Generator::new(seed, honnin_core::today_jst(jiff::Timestamp::now()));
    (0..count)
        .map(|_| ImportRow::from_synthetic(&g.next_resident()))
        .collect()
}

/// Imports `rows` in-process; returns residents/s and the issued numbers.
async fn import_into(store: Store, rows: &[ImportRow], label: &str) -> Result<(f64, Vec<String>)> {
    let clock = Arc::new(SystemClock);
    let registry = Registry::new(store.clone(), clock.clone(), AuditLog::spawn(store, clock));
    let admin = Actor::system();
    let pb = ProgressBar::new(rows.len() as u64);
    pb.set_message(label.to_string());
    let start = Instant::now();
    let mut numbers = Vec::with_capacity(rows.len());
    for (i, chunk) in rows.chunks(50_000).enumerate() {
        let r = registry
            .import(&admin, chunk, i * 50_000 + 1)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        numbers.extend(r.my_numbers);
        pb.inc(chunk.len() as u64);
    }
    let secs = start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    Ok((rows.len() as f64 / secs, numbers))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets target" } else { "BELOW target" }
}

async fn registry(
    count: usize,
    pg: Option<String>,
    duration: Duration,
    connections: usize,
    dir: &Path,
) -> Result<()> {
    println!(
        "== honnin bench registry: {count} residents, {connections} connections, {}s per phase",
        duration.as_secs()
    );
    let t = Instant::now();
    let rows = synth_rows(count, 7);
    println!(
        "generated {count} synthetic rows in {:.1}s (not timed)",
        t.elapsed().as_secs_f64()
    );

    let store = Store::open_sqlite_dir(dir, OpenOptions::default()).await?;
    let (sqlite_rate, numbers) = import_into(store.clone(), &rows, "sqlite import").await?;
    store.close().await;
    println!(
        "import  sqlite      {:>10.0} residents/s   target >= 200000   ratio {:.2}  {}",
        sqlite_rate,
        sqlite_rate / 200_000.0,
        verdict(sqlite_rate >= 200_000.0)
    );
    if let Some(url) = &pg {
        let store = Store::open(url, OpenOptions::default()).await?;
        let (pg_rate, _) = import_into(store.clone(), &rows, "postgres import").await?;
        store.close().await;
        println!(
            "import  postgresql  {:>10.0} residents/s   (reported; no target)",
            pg_rate
        );
    }
    drop(rows);

    // The server as a separate process over the imported SQLite database.
    let port = free_port()?;
    let exe = std::env::current_exe().context("locating the honnin binary")?;
    let mut child = tokio::process::Command::new(exe)
        .args([
            "serve",
            "--no-demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("HONNIN_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting honnin serve")?;
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await?;
    let admin = std::fs::read_to_string(dir.join("admin.token"))
        .context("admin token")?
        .trim()
        .to_string();

    let http = HyperClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http::<Full<Bytes>>();
    let numbers = Arc::new(numbers);
    // Reference in the same run: the server's HTTP floor (`/healthz`: routing, a pooled
    // connection and `SELECT 1`; no authentication, no audit entry).
    let floor = load(
        &http,
        &base,
        &admin,
        duration,
        connections,
        |_: &mut rand::rngs::ThreadRng| (hyper::Method::GET, "/healthz".to_string(), None),
    )
    .await?;
    println!(
        "reference http floor {:>9.0} requests/s    (GET /healthz, same server and connections; p99 {:.2} ms)",
        floor.rate, floor.p99_ms
    );
    let lookups = load(&http, &base, &admin, duration, connections, {
        let numbers = numbers.clone();
        move |rng: &mut rand::rngs::ThreadRng| {
            let n = &numbers[rng.random_range(0..numbers.len())];
            (hyper::Method::GET, format!("/api/v1/residents/{n}"), None)
        }
    })
    .await?;
    println!(
        "lookup  http        {:>10.0} lookups/s     target >= 20000    ratio {:.2}  {}",
        lookups.rate,
        lookups.rate / 20_000.0,
        verdict(lookups.rate >= 20_000.0)
    );
    println!(
        "lookup  vs floor    {:.2} of the HTTP floor (the rest is authentication, the query and the durable audit entry)",
        lookups.rate / floor.rate
    );
    println!(
        "lookup  latency     p50 {:.2} ms  p99 {:.2} ms   target p99 < 2 ms  {}   ({} requests, {} errors)",
        lookups.p50_ms,
        lookups.p99_ms,
        verdict(lookups.p99_ms < 2.0),
        lookups.ok,
        lookups.errors
    );

    // Provisions: an agency with a basis, logged durably per request.
    let c = crate::client::Client::new(&base, Some(admin.clone()))?;
    let _: Value = c
        .put(
            "/api/v1/agencies/bench",
            &json!({ "name": "bench agency", "bases": [{ "code": "B-1", "description": "bench", "items": ["name", "address", "birth_date", "sex"] }] }),
        )
        .await?;
    let pw = format!("bench-{}", rand::rng().random::<u64>());
    let _: Value = c
        .post("/api/v1/operators", &json!({ "id": "bench-agency", "display_name": "bench", "role": "agency", "agency": "bench", "password": pw }))
        .await?;
    let tok: Value = c
        .post(
            "/api/v1/operators/bench-agency/tokens",
            &json!({ "label": "bench" }),
        )
        .await?;
    let agency_token = tok["token"].as_str().context("token")?.to_string();
    let provisions = load(&http, &base, &agency_token, duration, connections, {
        let numbers = numbers.clone();
        move |rng: &mut rand::rngs::ThreadRng| {
            let n = &numbers[rng.random_range(0..numbers.len())];
            let body = json!({ "basis": "B-1", "query": { "my_number": n } }).to_string();
            (
                hyper::Method::POST,
                "/api/v1/provisions".to_string(),
                Some(body),
            )
        }
    })
    .await?;
    let verify: Value = c.get("/api/v1/audit/verify").await?;
    let intact = verify["ok"].as_bool() == Some(true);
    println!(
        "provide http        {:>10.0} provisions/s  target >= 5000     ratio {:.2}  {}   (p99 {:.2} ms, chain {} over {} entries)",
        provisions.rate,
        provisions.rate / 5_000.0,
        verdict(provisions.rate >= 5_000.0 && intact),
        provisions.p99_ms,
        if intact { "intact" } else { "BROKEN" },
        verify["entries"]
    );
    let _ = child.start_kill();
    let _ = child.wait().await;
    if !intact {
        bail!("the audit chain did not verify after the provision load");
    }
    println!(
        "registry import_per_s={:.0} lookup_p99_ms={:.2} lookups_per_s={:.0} provisions_per_s={:.0}",
        sqlite_rate, lookups.p99_ms, lookups.rate, provisions.rate
    );
    Ok(())
}

/// The machine's cores (the benches' thread count).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The reference measurement of every bench: `op` run in a loop on every core for
/// `secs` seconds; successful operations per second over all cores.
pub(crate) fn per_second_on_all_cores<F>(secs: f64, op: F) -> Result<f64>
where
    F: Fn() -> bool + Send + Sync + 'static,
{
    let op = std::sync::Arc::new(op);
    let start = Instant::now();
    let handles: Vec<_> = (0..cores())
        .map(|_| {
            let op = op.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed().as_secs_f64() < secs {
                    if op() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let mut total = 0u64;
    for h in handles {
        total += h
            .join()
            .map_err(|_| anyhow::anyhow!("a reference thread panicked"))?;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

pub(crate) fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

pub(crate) async fn wait_healthy(base: &str) -> Result<()> {
    let c = crate::client::Client::new(base, None)?;
    for _ in 0..600 {
        if c.get::<Value>("/healthz").await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become healthy")
}

pub(crate) struct LoadResult {
    pub(crate) rate: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) ok: usize,
    pub(crate) errors: usize,
}

type Make = (hyper::Method, String, Option<String>);

async fn load<F>(
    http: &HyperClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    base: &str,
    token: &str,
    duration: Duration,
    connections: usize,
    make: F,
) -> Result<LoadResult>
where
    F: Fn(&mut rand::rngs::ThreadRng) -> Make + Send + Sync + Clone + 'static,
{
    let auth = format!("Bearer {token}");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let http = http.clone();
        let make = make.clone();
        let auth = auth.clone();
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(100_000);
            let mut errors = 0usize;
            while start.elapsed() < duration {
                let (method, path, body) = {
                    let mut rng = rand::rng();
                    make(&mut rng)
                };
                let mut b = hyper::Request::builder()
                    .method(method)
                    .uri(format!("{base}{path}"))
                    .header("authorization", &auth);
                if body.is_some() {
                    b = b.header("content-type", "application/json");
                }
                let Ok(req) = b.body(Full::new(Bytes::from(body.unwrap_or_default()))) else {
                    errors += 1;
                    continue;
                };
                let t = Instant::now();
                match http.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        if ok {
                            lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
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

/// Joins the load tasks (each returning its latencies in µs and its error count) and
/// sums them up: rate over the whole run, p50 and p99.
pub(crate) async fn collect(
    tasks: Vec<tokio::task::JoinHandle<(Vec<u32>, usize)>>,
    start: Instant,
) -> Result<LoadResult> {
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.context("load task")?;
        all.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i] as f64 / 1000.0
    };
    Ok(LoadResult {
        rate: all.len() as f64 / secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        ok: all.len(),
        errors,
    })
}
