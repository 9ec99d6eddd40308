//! `honnin bench issue`: certificates issued per second through the window API (PKCS#10
//! checked, signed with the CA key, records durably stored) as a ratio to the raw RSA-2048
//! signing rate of this machine measured in the same run. Last line: `issue ratio=R`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use honnin_pki::{KeyAlgorithm, Signer, SoftwareKey, build_csr};
use honnin_registry::ImportRow;
use honnin_registry::synth::Generator;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::bench::{free_port, per_second_on_all_cores, wait_healthy};

/// Raw RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on all cores (the reference).
fn raw_signing_rate(secs: f64) -> Result<f64> {
    let key = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
    let msg = vec![0x5au8; 1200];
    per_second_on_all_cores(secs, move || key.sign(&msg).is_ok())
}

pub async fn issue(
    duration: Duration,
    connections: usize,
    residents: usize,
    pkcs11_module: Option<PathBuf>,
    token: Option<String>,
) -> Result<()> {
    let hsm = pkcs11_module.is_some();
    println!(
        "== honnin bench issue: {}s, {connections} connections, CA key in {}",
        duration.as_secs(),
        if hsm {
            "PKCS#11"
        } else {
            "an encrypted PKCS#8 file (in memory once loaded)"
        }
    );
    let raw = raw_signing_rate(3.0)?;
    println!(
        "reference: raw RSA-2048 signing {raw:.0} signatures/s on all cores (aws-lc-rs, same process)"
    );

    let tmp = tempfile::tempdir().context("temporary directory")?;
    let port = free_port()?;
    let exe = std::env::current_exe().context("locating the honnin binary")?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args([
        "serve",
        "--no-demo",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(tmp.path())
    .env("HONNIN_LOG", "warn")
    .kill_on_drop(true);
    if let (Some(m), Some(t)) = (&pkcs11_module, &token) {
        cmd.arg("--pkcs11-module").arg(m).arg("--token").arg(t);
    } else if hsm {
        bail!("--pkcs11-module needs --token");
    }
    let mut child = cmd.spawn().context("starting honnin serve")?;
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await?;
    let admin = std::fs::read_to_string(tmp.path().join("admin.token"))
        .context("admin token")?
        .trim()
        .to_string();
    let c = crate::client::Client::new(&base, Some(admin.clone()))?;

    // Adults (≥ 16) so that every issuance yields both certificates.
    let today = honnin_core::today_jst(jiff::Timestamp::now());
    let mut g = Generator::new(11, today);
    let mut rows = Vec::with_capacity(residents);
    while rows.len() < residents {
        let s = g.next_resident();
        if (today.year() - s.birth_date.year()) > 16 {
            rows.push(ImportRow::from_synthetic(&s));
        }
    }
    let mut people: Vec<(String, ImportRow)> = Vec::with_capacity(residents);
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
    // Card keys: a few pairs, generated before timing (a card makes one pair per person).
    let mut csrs = Vec::new();
    for _ in 0..4 {
        let a = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
        let s = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
        csrs.push((
            B64.encode(build_csr("bench", &a)?),
            B64.encode(build_csr("bench", &s)?),
        ));
    }
    let bodies: Arc<Vec<String>> = Arc::new(
        people
            .iter()
            .enumerate()
            .map(|(i, (n, r))| {
                let (a, s) = &csrs[i % csrs.len()];
                let sex = r.sex.parse::<honnin_core::Sex>().map(|x| x.as_str()).unwrap_or("unknown");
                json!({
                    "my_number": n,
                    "application": { "name": r.name, "birth_date": r.birth_date, "sex": sex, "address": r.address },
                    "auth_csr": a, "sign_csr": s,
                })
                .to_string()
            })
            .collect(),
    );

    let http = HyperClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http::<Full<Bytes>>();
    let next = Arc::new(AtomicUsize::new(0));
    let auth = format!("Bearer {admin}");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, next, bodies, auth, base) = (
            http.clone(),
            next.clone(),
            bodies.clone(),
            auth.clone(),
            base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut certs, mut errors) = (0usize, 0usize);
            while start.elapsed() < duration {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let Ok(req) = hyper::Request::post(format!("{base}/api/v1/window/issue"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.clone())))
                else {
                    errors += 1;
                    continue;
                };
                let t = Instant::now();
                match http.request(req).await {
                    Ok(resp) if resp.status().is_success() => {
                        let b = resp
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                        certs += 1 + usize::from(v["sign_certificate"].is_string());
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    _ => errors += 1,
                }
            }
            (lat, certs, errors)
        }));
    }
    let (mut lat, mut certs, mut errors) = (Vec::new(), 0, 0);
    for t in tasks {
        let (l, c, e) = t.await.context("load task")?;
        lat.extend(l);
        certs += c;
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|v| *v as f64 / 1000.0)
            .unwrap_or(f64::NAN)
    };
    let issuances = lat.len() as f64 / secs;
    let cert_rate = certs as f64 / secs;
    let ratio = cert_rate / raw;
    println!(
        "issue   http   {issuances:>8.0} issuances/s  {cert_rate:>8.0} certificates/s  p50 {:.1} ms  p99 {:.1} ms  ({} ok, {errors} errors)",
        pct(0.5),
        pct(0.99),
        lat.len()
    );
    println!(
        "ratio   certificates/s ÷ raw signatures/s = {ratio:.2}   target >= 0.7   {}",
        if ratio >= 0.7 {
            "meets target"
        } else {
            "BELOW target"
        }
    );
    let _ = child.start_kill();
    let _ = child.wait().await;
    println!("issue ratio={ratio:.2}");
    Ok(())
}
