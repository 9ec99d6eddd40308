//! Signing with the card and verifying e-applications, through the real `honnin`
//! binary against a running `honnin serve`: a resident's card issued at the window
//! signs a form (`honnin sign`), an agency verifies it (`honnin verify`, and
//! `POST /api/v1/verify`), the resident moves, and the old and new signatures are
//! judged as ETSI EN 319 102-1 would have it. `openssl cms -verify` accepts what
//! the card signed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::{Value, json};

const NAME: &str = "署名\u{3000}花子";

fn sign(srv: &Served, card: &str, input: &Path, out: &Path, extra: &[&str]) {
    let o = honnin()
        .args(["sign", "--card", card, "--sign-pin", SIGN_PIN, "--out"])
        .arg(out)
        .args(extra)
        .arg(input)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "sign: {}\n{}", text_of(&o), srv.log());
}

fn verify(p7s: &Path, roots: &Path, extra: &[&str]) -> (Output, Value) {
    let o = honnin()
        .arg("verify")
        .arg(p7s)
        .arg("--trust")
        .arg(roots)
        .args(["--format", "json"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}): {}", text_of(&o)));
    (o, v)
}

fn indication(v: &Value) -> (String, String) {
    (
        v["indication"].as_str().unwrap_or("").to_string(),
        v["sub_indication"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn card_signature_verifies_then_revocation_is_judged_by_proof_of_existence() {
    let srv = Served::start();
    let a = srv.holder("a", NAME, "ショメイ\u{3000}ハナコ");
    let roots = srv.roots();
    let card = srv.path("a.card");
    let card = card.to_str().unwrap();
    let form = srv.path("form.txt");
    std::fs::write(&form, "転入届\n氏名: 署名 花子\n".as_bytes()).unwrap();
    let old = srv.path("old.p7s");
    sign(&srv, card, &form, &old, &[]);
    let detached = srv.path("detached.p7s");
    sign(&srv, card, &form, &detached, &["--detached"]);

    // Valid, all four facts matching (written as a clerk would: half-width
    // digits, an ASCII space).
    let facts = [
        "--expect-name",
        "署名 花子",
        "--expect-address",
        "東京都千代田区千代田１番１号",
        "--expect-birth",
        "1985-05-05",
        "--expect-sex",
        "female",
    ];
    let (o, v) = verify(&old, &roots, &facts);
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert_eq!(v["indication"], "TOTAL_PASSED", "{v:#}");
    let fields = v["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 4);
    assert!(fields.iter().all(|f| f["result"] == "match"), "{v:#}");
    assert_eq!(v["chain"].as_array().unwrap().len(), 2, "{v:#}");
    assert_eq!(v["revocation"][0]["status"], "good");
    assert_eq!(v["revocation"][0]["source"], "ocsp");
    assert_eq!(v["validation_time_source"], "now");
    // The text report for a clerk.
    let o = honnin()
        .arg("verify")
        .arg(&old)
        .arg("--trust")
        .arg(&roots)
        .args(facts)
        .output()
        .unwrap();
    let t = text(&o.stdout);
    assert!(t.contains("TOTAL_PASSED") && t.contains("match"), "{t}");

    // A form that says something else.
    let (o, v) = verify(&old, &roots, &["--expect-name", "別人 太郎"]);
    assert_eq!(o.status.code(), Some(1), "{v:#}");
    assert_eq!(v["indication"], "TOTAL_PASSED");
    assert_eq!(v["fields"][0]["result"], "mismatch");

    // Detached: the content is needed, and must be the signed one.
    let (o, v) = verify(&detached, &roots, &[]);
    assert_eq!(o.status.code(), Some(3), "{v:#}");
    assert_eq!(indication(&v).1, "SIGNED_DATA_NOT_FOUND");
    let (o, v) = verify(&detached, &roots, &["--content", form.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    let other = srv.path("other.txt");
    std::fs::write(&other, "転出届").unwrap();
    let (o, v) = verify(&detached, &roots, &["--content", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{v:#}");
    assert_eq!(
        indication(&v),
        ("TOTAL_FAILED".into(), "HASH_FAILURE".into())
    );

    // OpenSSL accepts the card's signatures, attached and detached.
    if let Some(openssl) = openssl() {
        for (p7s, content) in [(&old, None), (&detached, Some(&form))] {
            let mut cmd = std::process::Command::new(&openssl);
            cmd.args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
                .arg(p7s)
                .arg("-CAfile")
                .arg(roots.join("sign-g1.pem"))
                .arg("-out")
                .arg(srv.path("openssl-out.txt"));
            if let Some(c) = content {
                cmd.arg("-content").arg(c);
            }
            let o = cmd.output().unwrap();
            assert!(o.status.success(), "openssl cms -verify: {}", text_of(&o));
            assert_eq!(
                std::fs::read(srv.path("openssl-out.txt")).unwrap(),
                std::fs::read(&form).unwrap()
            );
        }
    }

    // The agency records when it received the application.
    let received_at = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_millis(1100));

    // The resident moves: the signature certificate is revoked.
    srv.change(
        &a.my_number,
        &[
            "--kind",
            "address-change",
            "--address",
            "東京都千代田区丸の内一丁目9番9号",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let v = loop {
        let (_, v) = verify(&old, &roots, &[]);
        if v["revocation"][0]["status"] == "revoked" {
            break v;
        }
        assert!(Instant::now() < deadline, "never revoked: {v:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // The old signature claims a time before the revocation, but a claim is no
    // proof.
    assert_eq!(
        indication(&v),
        ("INDETERMINATE".into(), "REVOKED_NO_POE".into()),
        "{v:#}"
    );
    assert_eq!(v["revocation"][0]["reason"], "affiliationChanged");
    let (o, _) = verify(&old, &roots, &[]);
    assert_eq!(o.status.code(), Some(3));
    // With the recorded receipt time as proof of existence, it passes.
    let (o, v) = verify(&old, &roots, &["--received-at", &received_at.to_string()]);
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert_eq!(v["indication"], "TOTAL_PASSED", "{v:#}");
    assert_eq!(v["validation_time_source"], "received_at");
    // A new signature with the revoked certificate fails.
    let new = srv.path("new.p7s");
    sign(&srv, card, &form, &new, &[]);
    let (o, v) = verify(&new, &roots, &[]);
    assert_eq!(o.status.code(), Some(1), "{v:#}");
    assert_eq!(
        indication(&v),
        ("TOTAL_FAILED".into(), "REVOKED".into()),
        "{v:#}"
    );

    // Offline, with the CRL given on the command line: the same conclusion.
    srv.ok(&["ca", "publish-crls"]);
    let full = http(&srv.addr, "GET", "/crl/sign-g1/full.crl", &[], b"");
    assert_eq!(full.status, 200);
    let crl = srv.path("full.crl");
    std::fs::write(&crl, &full.body).unwrap();
    let (o, v) = verify(&new, &roots, &["--offline", "--crl", crl.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{v:#}");
    assert_eq!(indication(&v).1, "REVOKED", "{v:#}");
    assert_eq!(v["revocation"][0]["source"], "crl", "{v:#}");
    // Offline without a CRL: hard-fail says TRY_LATER, soft-fail passes and says why.
    let (o, v) = verify(&new, &roots, &["--offline"]);
    assert_eq!(o.status.code(), Some(3), "{v:#}");
    assert_eq!(indication(&v).1, "TRY_LATER", "{v:#}");
    let (o, v) = verify(&new, &roots, &["--offline", "--revocation", "soft"]);
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert_eq!(v["revocation"][0]["status"], "unknown", "{v:#}");

    // The agency API: the same report.
    let agency = srv.token("agency-nenkin");
    let b64 =
        |p: &Path| base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).unwrap());
    let r = post_json(
        &srv.addr,
        "/api/v1/verify",
        Some(&agency),
        &json!({ "signed": b64(&old), "expected": { "name": "署名 花子" } }),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let v = r.json();
    assert_eq!(indication(&v).1, "REVOKED_NO_POE", "{v:#}");
    assert_eq!(v["fields"][0]["result"], "match");
    let r = post_json(
        &srv.addr,
        "/api/v1/verify",
        Some(&agency),
        &json!({ "signed": b64(&old), "received_at": received_at.to_string() }),
    );
    assert_eq!(r.json()["indication"], "TOTAL_PASSED", "{}", text(&r.body));
    let r = post_json(
        &srv.addr,
        "/api/v1/verify",
        Some(&agency),
        &json!({ "signed": b64(&new) }),
    );
    assert_eq!(indication(&r.json()).1, "REVOKED");
    // Each verification through the API is in the resident's access log: who,
    // which certificate, what it concluded.
    let log = get_json(
        &srv.addr,
        "/api/v1/audit?kind=signature-verification&limit=100",
        &srv.admin(),
    );
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{log:#}");
    assert!(
        entries
            .iter()
            .all(|e| e["subject"] == a.my_number.as_str() && e["operator"] == "agency-nenkin"),
        "{log:#}"
    );
    let outcomes: Vec<_> = entries
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "INDETERMINATE/REVOKED_NO_POE",
            "TOTAL_PASSED",
            "TOTAL_FAILED/REVOKED"
        ]
    );
    // Refusals: no token, bad base64, a receipt time in the future.
    let r = post_json(&srv.addr, "/api/v1/verify", None, &json!({ "signed": "" }));
    assert_eq!(r.status, 401);
    let r = post_json(
        &srv.addr,
        "/api/v1/verify",
        Some(&agency),
        &json!({ "signed": "***" }),
    );
    assert_eq!(r.status, 400, "{}", text(&r.body));
    assert_eq!(r.json()["error"]["field"], "signed");
    let r = post_json(
        &srv.addr,
        "/api/v1/verify",
        Some(&agency),
        &json!({ "signed": b64(&old), "received_at": "2099-01-01T00:00:00Z" }),
    );
    assert_eq!(r.status, 400, "{}", text(&r.body));
    // Garbage is a report, not an error.
    let r = post_json(
        &srv.addr,
        "/api/v1/verify",
        Some(&agency),
        &json!({ "signed": "aGVsbG8=" }),
    );
    assert_eq!(r.status, 200);
    assert_eq!(indication(&r.json()).1, "FORMAT_FAILURE");
}

#[test]
fn verify_usage_errors_exit_2_and_bad_input_is_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.p7s");
    std::fs::write(&junk, b"\x30\x80\x30\x80").unwrap();
    // No such trust file.
    let o = honnin()
        .arg("verify")
        .arg(&junk)
        .args(["--trust", "/nonexistent/roots"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    // --trust missing altogether: clap's usage error.
    let o = honnin().arg("verify").arg(&junk).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    // A trust file that holds no certificate.
    let o = honnin()
        .arg("verify")
        .arg(&junk)
        .arg("--trust")
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    // Signing with a card file that does not exist: an error, nothing written.
    let out = dir.path().join("x.p7s");
    let o = honnin()
        .args([
            "sign",
            "--card",
            "/nonexistent.card",
            "--sign-pin",
            SIGN_PIN,
            "--out",
        ])
        .arg(&out)
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!out.exists());
}
