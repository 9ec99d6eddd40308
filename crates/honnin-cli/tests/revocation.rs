//! Revocation as the outside world sees it, through the real `honnin` binary:
//!
//! - `openssl ocsp` follows registry changes (good → revoked `affiliationChanged` after
//!   an address change for the signature certificate only; both `cessationOfOperation`
//!   after death), `openssl verify -crl_check` with the CRL shard a certificate names and
//!   with the full CRL, and pkilint on CRLs, the ARL and OCSP responses;
//! - the HTTP side: refused revocations (404/409/400/403/401, nothing changes), OCSP bad
//!   input, nonces and kept responses, CRL `ETag`/304, and `serve --role ocsp`;
//! - exactly-once application of registry notices when the consumer (`honnin ca
//!   apply-notices`, a child process) is SIGKILLed mid-stream and restarted;
//! - `scripts/revocation-check.sh` against a running server.
//!
//! External tools (openssl; pkilint's `lint_crl` and `lint_ocsp_response`, found in
//! `$HONNIN_PKILINT_BIN` or on `PATH`; curl for the script): when one is missing a note
//! is printed and the checks needing it are skipped, unless `HONNIN_REQUIRE_TOOLS=1`,
//! which makes a missing tool a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use honnin_pki::{
    CertId, CertStatus, Certificate, Crl, HashAlgorithm, OcspResponse, OcspResponseStatus,
    RevocationReason, build_ocsp_request, cert_id_for, parse_ocsp_request,
};
use serde_json::{Value, json};

mod common;
use common::*;

// ---------------------------------------------------------------------------
// openssl
// ---------------------------------------------------------------------------

/// What `openssl ocsp -issuer CA -cert CERT -url URL` said: its text, the request it
/// sent and the response it got (`-reqout`/`-respout`).
struct OpensslOcsp {
    out: String,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl OpensslOcsp {
    /// `good`, `revoked`, `unknown` for `cert`, checking that the response verified.
    fn status(&self, cert: &Path) -> &str {
        assert!(
            self.out.contains("Response verify OK"),
            "openssl could not verify the response:\n{}",
            self.out
        );
        let prefix = format!("{}: ", cert.display());
        let line = self
            .out
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no status for {}:\n{}", cert.display(), self.out));
        line.trim()
    }

    fn reason(&self) -> Option<&str> {
        self.out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Reason: "))
            .map(str::trim)
    }
}

fn openssl_ocsp(openssl: &Path, dir: &Path, ca: &Path, cert: &Path, url: &str) -> OpensslOcsp {
    let req = dir.join("ocsp-req.der");
    let resp = dir.join("ocsp-resp.der");
    let _ = std::fs::remove_file(&resp);
    let out = Command::new(openssl)
        .arg("ocsp")
        .arg("-issuer")
        .arg(ca)
        .arg("-cert")
        .arg(cert)
        .args(["-url", url])
        .arg("-CAfile")
        .arg(ca)
        .arg("-reqout")
        .arg(&req)
        .arg("-respout")
        .arg(&resp)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl ocsp: {}", text_of(&out));
    OpensslOcsp {
        out: text_of(&out),
        request: std::fs::read(&req).unwrap(),
        response: std::fs::read(&resp).unwrap(),
    }
}

/// Asks `openssl ocsp` until `cert`'s status is `want` (the background consumer polls
/// every 200 ms; the bound is generous for loaded CI machines).
fn await_ocsp(
    openssl: &Path,
    dir: &Path,
    ca: &Path,
    cert: &Path,
    url: &str,
    want: &str,
) -> OpensslOcsp {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = openssl_ocsp(openssl, dir, ca, cert, url);
        if r.status(cert) == want {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{} still {} (wanted {want}):\n{}",
            cert.display(),
            r.status(cert),
            r.out
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `openssl verify -crl_check -CRLfile CRL -CAfile CA CERT` → (success, output).
fn verify_with_crl(openssl: &Path, ca: &Path, crl_pem: &Path, cert: &Path) -> (bool, String) {
    let out = Command::new(openssl)
        .args(["verify", "-crl_check", "-CRLfile"])
        .arg(crl_pem)
        .arg("-CAfile")
        .arg(ca)
        .arg(cert)
        .output()
        .unwrap();
    (out.status.success(), text_of(&out))
}

/// Downloads a CRL over HTTP; writes `<name>.der` and `<name>.pem`.
fn fetch_crl(addr: &str, path: &str, dir: &Path, name: &str) -> (Crl, PathBuf, PathBuf) {
    let r = http(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "GET {path}: {}", text(&r.body));
    assert_eq!(r.header("content-type"), Some("application/pkix-crl"));
    let crl = Crl::from_der(&r.body).unwrap();
    let der = dir.join(format!("{name}.der"));
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&der, &r.body).unwrap();
    std::fs::write(&pem, crl.to_pem()).unwrap();
    (crl, der, pem)
}

fn lint_crl(lint: &Path, file: &Path, kind: &str) {
    let out = Command::new(lint)
        .args(["lint", "-t", kind, "-p", "PKIX", "-s", "WARNING"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lint_crl -t {kind} {}: {}",
        file.display(),
        text_of(&out)
    );
}

fn lint_ocsp(lint: &Path, dir: &Path, name: &str, der: &[u8]) {
    let file = dir.join(format!("{name}.ocsp.der"));
    std::fs::write(&file, der).unwrap();
    let out = Command::new(lint)
        .args(["lint", "-s", "WARNING"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lint_ocsp_response ({name}): {}",
        text_of(&out)
    );
}

// ---------------------------------------------------------------------------
// openssl and pkilint follow the registry
// ---------------------------------------------------------------------------

#[test]
fn openssl_and_pkilint_follow_registry_changes() {
    let srv = Served::start();
    let a = srv.holder("a", "検証\u{3000}花子", "ケンショウ\u{3000}ハナコ");
    let b = srv.holder("b", "検証\u{3000}桜", "ケンショウ\u{3000}サクラ");
    let roots = srv.roots();
    let sign_ca = roots.join("sign-g1.pem");
    let auth_ca = roots.join("auth-g1.pem");
    let dir = srv.path("work");
    std::fs::create_dir_all(&dir).unwrap();
    // The certificates name this server for OCSP and their CRL shard.
    let a_sign = Certificate::from_der(&a.sign).unwrap();
    let ocsp_sign = a_sign.ocsp_urls()[0].clone();
    let ocsp_auth = Certificate::from_der(&a.auth).unwrap().ocsp_urls()[0].clone();
    assert_eq!(ocsp_sign, format!("{}/ocsp/sign", srv.server()));
    assert_eq!(ocsp_auth, format!("{}/ocsp/auth", srv.server()));

    let Some(openssl) = openssl() else { return };
    // Good, with openssl's nonce echoed.
    let mut good_auth = Vec::new();
    for (ca, pem, url) in [
        (&sign_ca, &a.sign_pem, &ocsp_sign),
        (&auth_ca, &a.auth_pem, &ocsp_auth),
        (&sign_ca, &b.sign_pem, &ocsp_sign),
        (&auth_ca, &b.auth_pem, &ocsp_auth),
    ] {
        let r = openssl_ocsp(&openssl, &dir, ca, pem, url);
        assert_eq!(r.status(pem), "good", "{}", r.out);
        let nonce = parse_ocsp_request(&r.request).unwrap().nonce;
        assert!(nonce.is_some(), "openssl sends a nonce");
        assert_eq!(
            OcspResponse::from_der(&r.response).unwrap().nonce(),
            nonce.as_deref()
        );
        if pem == &a.auth_pem {
            good_auth = r.response;
        }
    }

    // An address change: the signature certificate goes, affiliationChanged.
    srv.change(
        &a.my_number,
        &[
            "--kind",
            "address-change",
            "--address",
            "東京都千代田区丸の内一丁目9番9号",
        ],
    );
    let revoked = await_ocsp(&openssl, &dir, &sign_ca, &a.sign_pem, &ocsp_sign, "revoked");
    assert_eq!(
        revoked.reason(),
        Some("affiliationChanged"),
        "{}",
        revoked.out
    );
    let revoked_sign = revoked.response.clone();
    let r = openssl_ocsp(&openssl, &dir, &auth_ca, &a.auth_pem, &ocsp_auth);
    assert_eq!(r.status(&a.auth_pem), "good", "{}", r.out);

    // Death: both, cessationOfOperation.
    srv.change(&b.my_number, &["--kind", "death"]);
    for (ca, pem, url) in [
        (&sign_ca, &b.sign_pem, &ocsp_sign),
        (&auth_ca, &b.auth_pem, &ocsp_auth),
    ] {
        let r = await_ocsp(&openssl, &dir, ca, pem, url, "revoked");
        assert_eq!(r.reason(), Some("cessationOfOperation"), "{}", r.out);
    }
    // And the first resident's death: the authentication certificate goes too.
    srv.change(&a.my_number, &["--kind", "death"]);
    let r = await_ocsp(&openssl, &dir, &auth_ca, &a.auth_pem, &ocsp_auth, "revoked");
    assert_eq!(r.reason(), Some("cessationOfOperation"), "{}", r.out);
    let r = openssl_ocsp(&openssl, &dir, &sign_ca, &a.sign_pem, &ocsp_sign);
    assert_eq!(r.reason(), Some("affiliationChanged"), "{}", r.out);

    // CRLs, published now (they also follow revocations by themselves).
    let out = srv.ok(&["ca", "publish-crls"]);
    assert!(out.contains("published 36 CRL(s)"), "{out}");
    let a_sign_shard = path_of(&a_sign.crl_urls()[0]);
    let (crl, _, sign_shard_pem) = fetch_crl(&srv.addr, &a_sign_shard, &dir, "sign-shard");
    assert!(crl.find(&unhex(&serial(&a.sign))).is_some());
    let (ok, out) = verify_with_crl(&openssl, &sign_ca, &sign_shard_pem, &a.sign_pem);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (_, _, sign_full_pem) = fetch_crl(&srv.addr, "/crl/sign-g1/full.crl", &dir, "sign-full");
    for pem in [&a.sign_pem, &b.sign_pem] {
        let (ok, out) = verify_with_crl(&openssl, &sign_ca, &sign_full_pem, pem);
        assert!(!ok && out.contains("certificate revoked"), "{out}");
    }
    // A good certificate passes with the shard its distribution point names, and with
    // the full CRL: a third resident's.
    let c = srv.holder("c", "検証\u{3000}楓", "ケンショウ\u{3000}カエデ");
    srv.ok(&["ca", "publish-crls"]);
    for (pem, der, ca, kind) in [
        (&c.sign_pem, &c.sign, &sign_ca, "sign"),
        (&c.auth_pem, &c.auth, &auth_ca, "auth"),
    ] {
        let shard = path_of(&Certificate::from_der(der).unwrap().crl_urls()[0]);
        let (_, _, shard_pem) = fetch_crl(&srv.addr, &shard, &dir, &format!("{kind}-c-shard"));
        let (ok, out) = verify_with_crl(&openssl, ca, &shard_pem, pem);
        assert!(ok, "{kind} shard {shard}: {out}");
        let (_, _, full) = fetch_crl(
            &srv.addr,
            &format!("/crl/{kind}-g1/full.crl"),
            &dir,
            &format!("{kind}-full"),
        );
        let (ok, out) = verify_with_crl(&openssl, ca, &full, pem);
        assert!(ok, "{kind} full: {out}");
    }
    // The revoked authentication certificates fail with their shard.
    let b_auth_shard = path_of(&Certificate::from_der(&b.auth).unwrap().crl_urls()[0]);
    let (_, _, shard_pem) = fetch_crl(&srv.addr, &b_auth_shard, &dir, "auth-b-shard");
    let (ok, out) = verify_with_crl(&openssl, &auth_ca, &shard_pem, &b.auth_pem);
    assert!(!ok && out.contains("certificate revoked"), "{out}");

    // pkilint: full and shard CRLs, the ARLs, and good/revoked/unknown responses.
    if let Some(lint) = pkilint("lint_crl") {
        // The shard listing the revoked signature certificate.
        lint_crl(&lint, &dir.join("sign-shard.der"), "CRL");
        for ca_id in ["sign-g1", "auth-g1"] {
            let mut files = Vec::new();
            for scope in ["full", "0", "7", "15"] {
                let (_, der, _) = fetch_crl(
                    &srv.addr,
                    &format!("/crl/{ca_id}/{scope}.crl"),
                    &dir,
                    &format!("lint-{ca_id}-{scope}"),
                );
                files.push(der);
            }
            for f in &files {
                lint_crl(&lint, f, "CRL");
            }
            let (arl, der, _) = fetch_crl(
                &srv.addr,
                &format!("/crl/{ca_id}/arl.crl"),
                &dir,
                &format!("{ca_id}-arl"),
            );
            assert!(arl.only_ca_certs());
            lint_crl(&lint, &der, "ARL");
        }
    }
    if let Some(lint) = pkilint("lint_ocsp_response") {
        let ca = pem_der(&sign_ca);
        let unknown = CertId {
            serial: vec![0x55; 20],
            ..cert_id_for(&a.sign, &ca, HashAlgorithm::Sha1).unwrap()
        };
        let r = ocsp_post(
            &srv.addr,
            "/ocsp/sign",
            &build_ocsp_request(&[unknown], None),
        );
        let resp = r.ocsp();
        assert_eq!(resp.responses()[0].status, CertStatus::Unknown);
        for (name, der) in [
            ("good", good_auth.as_slice()),
            ("revoked", revoked_sign.as_slice()),
            ("unknown", r.body.as_slice()),
        ] {
            lint_ocsp(&lint, &dir, name, der);
        }
    }
    let out = srv.ok(&["audit", "verify"]);
    assert!(out.contains("audit chain intact"), "{out}");
}

// ---------------------------------------------------------------------------
// HTTP: refusals, OCSP input, kept responses, CRL caching, the OCSP role
// ---------------------------------------------------------------------------

/// A refused revocation over HTTP: token, serial, body, then the status, error code and
/// field of the answer.
type RevokeCase<'a> = (
    Option<&'a str>,
    String,
    Value,
    u16,
    &'static str,
    Option<&'static str>,
);

#[test]
fn http_refusals_ocsp_input_crl_caching_and_the_ocsp_role() {
    let srv = Served::start();
    let addr = srv.addr.clone();
    let x = srv.holder("x", "検証\u{3000}花子", "ケンショウ\u{3000}ハナコ");
    let admin = srv.admin();
    let window = srv.token("window-chiyoda");
    let clerk = srv.token("clerk-chiyoda");
    // A window clerk of another municipality.
    let r = post_json(
        &addr,
        "/api/v1/operators",
        Some(&admin),
        &json!({ "id": "window-sapporo", "display_name": "札幌市 窓口", "role": "window-clerk",
                 "municipality": SAPPORO, "password": "a-long-enough-password" }),
    );
    assert_eq!(r.status, 201, "{}", text(&r.body));
    let r = post_json(
        &addr,
        "/api/v1/operators/window-sapporo/tokens",
        Some(&admin),
        &json!({ "label": "test" }),
    );
    assert_eq!(r.status, 201, "{}", text(&r.body));
    let sapporo = r.json()["token"].as_str().unwrap().to_string();

    let sign_serial = serial(&x.sign);
    let auth_serial = serial(&x.auth);
    let state = || {
        (
            get_json(
                &addr,
                &format!("/api/v1/residents/{}/certificates", x.my_number),
                &admin,
            ),
            get_json(&addr, "/api/v1/audit?kind=revocation&limit=1000", &admin)
                .as_array()
                .unwrap()
                .len(),
        )
    };
    let before = state();
    let revoke_path = |s: &str| format!("/api/v1/certificates/{s}/revoke");
    let cases: Vec<RevokeCase> = vec![
        (
            Some(window.as_str()),
            "7f".repeat(20),
            json!({"reason": "keyCompromise"}),
            404,
            "not-found",
            None,
        ),
        (
            Some(window.as_str()),
            sign_serial.clone(),
            json!({"reason": "affiliationChanged"}),
            400,
            "invalid",
            Some("reason"),
        ),
        (
            Some(window.as_str()),
            sign_serial.clone(),
            json!({"reason": "removeFromCRL"}),
            400,
            "invalid",
            Some("reason"),
        ),
        (
            Some(window.as_str()),
            sign_serial.clone(),
            json!({"reason": "bogus"}),
            400,
            "invalid",
            Some("reason"),
        ),
        (
            Some(window.as_str()),
            sign_serial.clone(),
            json!({}),
            400,
            "invalid",
            Some("reason"),
        ),
        (
            Some(window.as_str()),
            "zz".into(),
            json!({"reason": "keyCompromise"}),
            400,
            "invalid",
            Some("serial"),
        ),
        (
            Some(sapporo.as_str()),
            sign_serial.clone(),
            json!({"reason": "keyCompromise"}),
            403,
            "forbidden",
            None,
        ),
        (
            Some(clerk.as_str()),
            sign_serial.clone(),
            json!({"reason": "keyCompromise"}),
            403,
            "forbidden",
            None,
        ),
        (
            None,
            sign_serial.clone(),
            json!({"reason": "keyCompromise"}),
            401,
            "unauthenticated",
            None,
        ),
    ];
    for (token, s, body, status, code, field) in &cases {
        let r = post_json(&addr, &revoke_path(s), *token, body);
        assert_eq!(r.status, *status, "{s} {body}: {}", text(&r.body));
        let v = r.json();
        assert_eq!(v["error"]["code"], *code, "{v}");
        if let Some(f) = field {
            assert_eq!(v["error"]["field"], *f, "{v}");
        }
        assert_eq!(state(), before, "{s} {body}: something changed");
    }
    // The CLI refuses reasons outside the window's before asking the server.
    let out = srv.run(&[
        "ca",
        "revoke",
        "--token",
        &window,
        "--serial",
        &sign_serial,
        "--reason",
        "affiliationChanged",
    ]);
    assert!(!out.status.success());
    assert_eq!(state(), before);
    // Revocation at the window (lost card), through the CLI.
    let out = srv.ok(&[
        "ca",
        "revoke",
        "--token",
        &window,
        "--serial",
        &sign_serial,
        "--reason",
        "keyCompromise",
    ]);
    assert!(
        out.contains(&format!("revoked {sign_serial} (keyCompromise)")),
        "{out}"
    );
    let after = state();
    assert_eq!(after.1, before.1 + 1);
    // Already revoked: 409, nothing changes.
    let r = post_json(
        &addr,
        &revoke_path(&sign_serial),
        Some(&window),
        &json!({"reason": "certificateHold"}),
    );
    assert_eq!(r.status, 409, "{}", text(&r.body));
    assert_eq!(r.json()["error"]["code"], "conflict");
    assert_eq!(state(), after);

    // OCSP over HTTP.
    let roots = srv.roots();
    let sign_ca = pem_der(&roots.join("sign-g1.pem"));
    let auth_ca = pem_der(&roots.join("auth-g1.pem"));
    let sign_id = cert_id_for(&x.sign, &sign_ca, HashAlgorithm::Sha1).unwrap();
    let auth_id = cert_id_for(&x.auth, &auth_ca, HashAlgorithm::Sha1).unwrap();
    let status = |r: &Resp| r.ocsp().responses()[0].status;
    let r = ocsp_post(
        &addr,
        "/ocsp/sign",
        &build_ocsp_request(std::slice::from_ref(&sign_id), None),
    );
    assert!(
        matches!(
            status(&r),
            CertStatus::Revoked {
                reason: Some(RevocationReason::KeyCompromise),
                ..
            }
        ),
        "{:?}",
        r.ocsp()
    );
    // Kept: two nonce-less requests in a row give the same octets, also over GET
    // (base64, URL-encoded) and at /ocsp.
    let auth_req = build_ocsp_request(std::slice::from_ref(&auth_id), None);
    let first = ocsp_post(&addr, "/ocsp/auth", &auth_req);
    assert_eq!(status(&first), CertStatus::Good);
    let second = ocsp_post(&addr, "/ocsp/auth", &auth_req);
    assert_eq!(first.body, second.body, "kept response not reused");
    assert_eq!(ocsp_post(&addr, "/ocsp", &auth_req).body, first.body);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&auth_req);
    let encoded: String = b64
        .chars()
        .map(|c| match c {
            '/' => "%2F".to_string(),
            '+' => "%2B".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    let got = http(&addr, "GET", &format!("/ocsp/auth/{encoded}"), &[], b"");
    assert_eq!(got.body, first.body, "GET differs from POST");
    // A nonce is answered with that nonce.
    let with_nonce = ocsp_post(
        &addr,
        "/ocsp/auth",
        &build_ocsp_request(std::slice::from_ref(&auth_id), Some(b"honnin-test-nonce")),
    );
    assert_eq!(with_nonce.ocsp().nonce(), Some(&b"honnin-test-nonce"[..]));
    assert_eq!(status(&with_nonce), CertStatus::Good);
    // Bad input.
    let error = |r: &Resp| r.ocsp().error_status();
    let malformed = Some(OcspResponseStatus::MalformedRequest);
    assert_eq!(error(&ocsp_post(&addr, "/ocsp", b"")), malformed);
    assert_eq!(
        error(&ocsp_post(
            &addr,
            "/ocsp/sign",
            &auth_req[..auth_req.len() - 3]
        )),
        malformed
    );
    assert_eq!(
        error(&ocsp_post(&addr, "/ocsp/sign", b"\x00\x01garbage\xff")),
        malformed
    );
    assert_eq!(
        error(&http(&addr, "GET", "/ocsp/sign/!!not-base64!!", &[], b"")),
        malformed
    );
    let big = ocsp_post(&addr, "/ocsp/sign", &vec![0x30; 64 * 1024 + 1]);
    assert_eq!(big.status, 413, "{}", text(&big.body));
    assert!(big.json()["error"]["code"].is_string());
    let stranger = CertId {
        issuer_name_hash: vec![0x11; 20],
        issuer_key_hash: vec![0x22; 20],
        ..sign_id.clone()
    };
    assert_eq!(
        error(&ocsp_post(
            &addr,
            "/ocsp/sign",
            &build_ocsp_request(&[stranger], None)
        )),
        Some(OcspResponseStatus::Unauthorized)
    );
    let unknown = CertId {
        serial: vec![0x33; 20],
        ..sign_id.clone()
    };
    let r = ocsp_post(&addr, "/ocsp/sign", &build_ocsp_request(&[unknown], None));
    assert_eq!(status(&r), CertStatus::Unknown);
    let r = http(&addr, "GET", "/ocsp", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"]["code"], "method-not-allowed");

    // CRLs over HTTP: ETag, Cache-Control, 304, publication on demand (admin only).
    // The server republishes by itself shortly after revocations: a new ETag between
    // two requests means that happened, and the checks start over.
    let crl_path = "/crl/sign-g1/full.crl";
    let mut attempts = 0;
    let (etag, number) = loop {
        attempts += 1;
        assert!(attempts < 10, "the CRLs never stood still");
        let r = http(&addr, "GET", crl_path, &[], b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/pkix-crl"));
        let etag = r.header("etag").unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let cache = r.header("cache-control").unwrap();
        assert!(cache.starts_with("public, max-age="), "{cache}");
        let number = Crl::from_der(&r.body).unwrap().crl_number();
        // As a client sends it, and as a cache in front may (a list, weak).
        let list = format!("\"x\", W/{etag}");
        let mut unchanged = true;
        for tag in [etag.as_str(), list.as_str()] {
            let same = http(&addr, "GET", crl_path, &[("If-None-Match", tag)], b"");
            if same.status == 200 {
                assert_ne!(same.header("etag"), Some(etag.as_str()), "{tag}");
                unchanged = false;
                break;
            }
            assert_eq!(same.status, 304, "{tag}");
            assert!(same.body.is_empty());
            assert_eq!(same.header("etag"), Some(etag.as_str()));
        }
        if unchanged {
            break (etag, number);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let r = http(&addr, "GET", crl_path, &[("If-None-Match", "\"x\"")], b"");
    assert_eq!(r.status, 200);
    let r = post_json(&addr, "/api/v1/ca/crls", Some(&window), &json!({}));
    assert_eq!(r.status, 403);
    let r = post_json(&addr, "/api/v1/ca/crls", Some(&admin), &json!({}));
    assert_eq!(r.status, 200, "{}", text(&r.body));
    assert_eq!(r.json()["published"], 36);
    let fresh = http(&addr, "GET", crl_path, &[("If-None-Match", &etag)], b"");
    assert_eq!(fresh.status, 200);
    assert_ne!(fresh.header("etag"), Some(etag.as_str()));
    let crl = Crl::from_der(&fresh.body).unwrap();
    assert!(crl.crl_number() > number);
    assert!(crl.find(&unhex(&sign_serial)).is_some());
    for bad in [
        "/crl/sign-g1/16.crl",
        "/crl/sign-g1/full",
        "/crl/sign-g9/full.crl",
        "/crl/sign-g1/../x.crl",
    ] {
        let r = http(&addr, "GET", bad, &[], b"");
        assert_eq!(r.status, 404, "{bad}");
    }

    // `serve --role ocsp` beside it, on the same data: OCSP and CRLs only.
    let (_ocsp_child, ocsp_addr) =
        spawn_serve(&srv.data_dir(), &srv.path("ocsp.log"), &["--role", "ocsp"]);
    let r = ocsp_post(&ocsp_addr, "/ocsp/auth", &auth_req);
    assert_eq!(status(&r), CertStatus::Good);
    assert_eq!(
        r.body, first.body,
        "the kept response is shared through the database"
    );
    let r = ocsp_post(
        &ocsp_addr,
        "/ocsp/sign",
        &build_ocsp_request(std::slice::from_ref(&sign_id), None),
    );
    assert!(matches!(status(&r), CertStatus::Revoked { .. }));
    // The same CRLs (or newer ones: the main process republishes after revocations).
    let r = http(&ocsp_addr, "GET", "/crl/sign-g1/full.crl", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/pkix-crl"));
    let served = Crl::from_der(&r.body).unwrap();
    assert!(served.crl_number() >= crl.crl_number());
    assert!(served.find(&unhex(&sign_serial)).is_some());
    for (method, path) in [
        ("GET", "/api/v1/whoami"),
        ("GET", "/api/v1/residents"),
        ("POST", "/api/v1/ca/crls"),
        ("GET", "/ca/certificates"),
        ("GET", "/openapi.json"),
    ] {
        let auth = format!("Bearer {admin}");
        let r = http(&ocsp_addr, method, path, &[("Authorization", &auth)], b"{}");
        assert_eq!(
            r.status,
            404,
            "{method} {path} on the OCSP role: {}",
            text(&r.body)
        );
        assert_eq!(r.json()["error"]["code"], "not-found");
    }
    // A revocation made by the main process shows at the OCSP role.
    let r = post_json(
        &addr,
        &revoke_path(&auth_serial),
        Some(&window),
        &json!({"reason": "certificateHold"}),
    );
    assert_eq!(r.status, 204, "{}", text(&r.body));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = ocsp_post(&ocsp_addr, "/ocsp/auth", &auth_req);
        if let CertStatus::Revoked { reason, .. } = status(&r) {
            assert_eq!(reason, Some(RevocationReason::CertificateHold));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the OCSP role never saw the revocation"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // And at the main process at once.
    let r = ocsp_post(&addr, "/ocsp/auth", &auth_req);
    assert!(matches!(status(&r), CertStatus::Revoked { .. }));
}

// ---------------------------------------------------------------------------
// Exactly once, across SIGKILLs
// ---------------------------------------------------------------------------

fn admin_actor() -> honnin_core::Actor {
    honnin_core::Actor::system()
}

/// The notice sequence number in a `revocation` audit entry's detail
/// (`notice 12 (address_change): …`).
fn notice_of(detail: &str) -> i64 {
    detail
        .strip_prefix("notice ")
        .and_then(|d| d.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a notice's revocation: {detail}"))
}

/// Checks the invariant at a crash point: the notices up to the consumer's offset are
/// applied, each once, and none after it.
async fn check_applied(
    store: &honnin_store::Store,
    revoking: &BTreeMap<i64, Vec<String>>,
) -> (i64, usize) {
    let mut conn = store.conn().await.unwrap();
    let offset = honnin_store::outbox::offset(&mut conn, "ca.revocation")
        .await
        .unwrap();
    let entries = honnin_store::audit::page(&mut conn, 0, Some("revocation"), 1_000_000)
        .await
        .unwrap();
    drop(conn);
    let mut per_notice: BTreeMap<i64, usize> = BTreeMap::new();
    let mut per_serial: BTreeMap<String, usize> = BTreeMap::new();
    for e in &entries {
        *per_notice.entry(notice_of(&e.entry.detail)).or_default() += 1;
        let serials = e.entry.detail.rsplit(' ').next().unwrap();
        for s in serials.split(',') {
            *per_serial.entry(s.to_string()).or_default() += 1;
        }
    }
    let want: BTreeMap<i64, usize> = revoking
        .keys()
        .filter(|s| **s <= offset)
        .map(|s| (*s, 1))
        .collect();
    assert_eq!(
        per_notice, want,
        "at offset {offset}: revocation entries per notice"
    );
    assert!(
        per_serial.values().all(|n| *n == 1),
        "a certificate was revoked twice: {per_serial:?}"
    );
    let revoked: BTreeSet<String> =
        sqlx::query_scalar::<_, String>("SELECT serial FROM certificates WHERE status = 'revoked'")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    let expected: BTreeSet<String> = revoking
        .range(..=offset)
        .flat_map(|(_, s)| s.iter().cloned())
        .collect();
    assert_eq!(
        revoked, expected,
        "at offset {offset}: revoked certificates"
    );
    (offset, entries.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_killed_mid_stream_applies_every_notice_exactly_once() {
    use honnin_core::{Address, BasicFacts, KanaName, PersonName, Sex, SubstituteFlags};
    use honnin_registry::{Change, ChangeRequest, NewResident, RegistrationKind, Registry};
    use honnin_store::{Clock, OpenOptions, Store, SystemClock};

    const RESIDENTS: usize = 400;
    const DEATHS: usize = 100;
    const ROUNDS: usize = 5;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = honnin_server::ServerConfig {
        data_dir: data.clone(),
        demo: false,
        ..Default::default()
    };
    std::fs::create_dir_all(&data).unwrap();
    let store = Store::open_sqlite_dir(
        &data,
        OpenOptions {
            max_connections: 8,
            durable: false,
        },
    )
    .await
    .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = Registry::new(
        store.clone(),
        clock.clone(),
        honnin_store::audit::AuditLog::spawn(store.clone(), clock.clone()),
    );
    let ca = honnin_ca::CaService::new(
        store.clone(),
        clock.clone(),
        honnin_server::open_keystore(&config).unwrap(),
        honnin_server::ca_config(&config).unwrap(),
    );
    ca.init(&admin_actor()).await.unwrap();
    // Cheap shared card keys: the CA does not care that cards share a key.
    let auth_key = honnin_pki::SoftwareKey::generate(honnin_pki::KeyAlgorithm::Rsa2048).unwrap();
    let sign_key = honnin_pki::SoftwareKey::generate(honnin_pki::KeyAlgorithm::Rsa2048).unwrap();
    let auth_csr = honnin_pki::build_csr("JPKI card key", &auth_key).unwrap();
    let sign_csr = honnin_pki::build_csr("JPKI card key", &sign_key).unwrap();
    let today = honnin_core::today_jst(clock.now());
    let name = PersonName::parse("山田\u{3000}太郎").unwrap();
    let mut holders = Vec::new();
    for i in 0..RESIDENTS {
        let address = Address::parse(&format!("東京都千代田区丸の内一丁目{i}番1号")).unwrap();
        let facts = BasicFacts {
            name_flags: SubstituteFlags::none_for(name.as_str()),
            address_flags: SubstituteFlags::none_for(address.as_str()),
            name: name.clone(),
            name_kana: KanaName::parse("ヤマダ\u{3000}タロウ").unwrap(),
            alias: None,
            birth_date: jiff::civil::date(1980, 4, 1),
            sex: Sex::Male,
            address,
        };
        let r = registry
            .register(
                &admin_actor(),
                NewResident {
                    kind: RegistrationKind::MoveIn,
                    municipality: honnin_core::LocalGovCode::parse(CHIYODA).unwrap(),
                    facts: facts.clone(),
                    effective_date: today,
                    reason: "転入 (test)".into(),
                },
            )
            .await
            .unwrap();
        let issued = ca
            .issue(
                &admin_actor(),
                honnin_ca::IssueRequest {
                    my_number: r.my_number.clone(),
                    application: honnin_ca::Application {
                        name: facts.name.as_str().to_string(),
                        birth_date: facts.birth_date,
                        sex: facts.sex,
                        address: facts.address.as_str().to_string(),
                    },
                    auth_csr: auth_csr.clone(),
                    sign_csr: Some(sign_csr.clone()),
                    card_expiry: None,
                    renew: false,
                    lost: false,
                },
            )
            .await
            .unwrap();
        holders.push((
            r.my_number,
            serial(issued.sign_certificate.as_deref().unwrap()),
            serial(&issued.auth_certificate),
        ));
    }
    // The registrations' notices are applied first (they revoke nothing).
    let r = ca.apply_notices(10_000).await.unwrap();
    assert!(r.revoked.is_empty());
    let start = r.last_seq;
    // 2000 notices: five rounds over every resident. The first address change revokes
    // the signature certificate; later ones find nothing; the last round's deaths revoke
    // the authentication certificate.
    let mut revoking: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for round in 1..=ROUNDS {
        for (i, (n, sign, auth)) in holders.iter().enumerate() {
            let change = if round == ROUNDS && i < DEATHS {
                Change::Death
            } else {
                Change::AddressChange {
                    address: Address::parse(&format!("東京都千代田区神田{round}丁目{i}番2号"))
                        .unwrap(),
                    address_flags: None,
                }
            };
            let death = matches!(change, Change::Death);
            registry
                .change(
                    &admin_actor(),
                    n,
                    ChangeRequest {
                        change,
                        effective_date: today,
                        reason: "test".into(),
                    },
                )
                .await
                .unwrap();
            let seq = honnin_store::outbox::head(&mut store.conn().await.unwrap())
                .await
                .unwrap();
            if round == 1 {
                revoking.insert(seq, vec![sign.clone()]);
            } else if death {
                revoking.insert(seq, vec![auth.clone()]);
            }
        }
    }
    let last = honnin_store::outbox::head(&mut store.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(last - start, i64::try_from(RESIDENTS * ROUNDS).unwrap());
    assert_eq!(revoking.len(), RESIDENTS + DEATHS);
    check_applied(&store, &revoking).await;

    // The consumer as a child process, SIGKILLed after a few batches (mid-stream: it is
    // in the middle of its next batch), restarted, until it finishes by itself.
    let log = dir.path().join("consumer.log");
    let mut kills = 0;
    let mut runs = 0;
    let mut offsets = Vec::new();
    loop {
        runs += 1;
        assert!(runs < 200, "the consumer never finished");
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = honnin()
            .args(["ca", "apply-notices", "--batch", "25", "--data-dir"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(logf)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let kill_after = if kills < 8 {
            rand::random_range(1..8usize)
        } else {
            usize::MAX
        };
        let mut seen = 0;
        let mut finished = false;
        while seen < kill_after {
            match lines.next() {
                Some(Ok(line)) => {
                    let v: Value = serde_json::from_str(&line).unwrap();
                    assert!(v["last_seq"].as_i64().unwrap() <= last, "{line}");
                    seen += 1;
                }
                _ => {
                    finished = true;
                    break;
                }
            }
        }
        if finished {
            let status = child.wait().unwrap();
            assert!(
                status.success(),
                "consumer failed ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            break;
        }
        std::thread::sleep(Duration::from_micros(rand::random_range(0..20_000u64)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        drop(lines);
        if status.success() {
            // It finished just before the signal.
            break;
        }
        kills += 1;
        // Whatever instant the kill hit, the invariant holds.
        let (offset, _) = check_applied(&store, &revoking).await;
        offsets.push(offset);
    }
    assert!(kills >= 3, "only {kills} kill(s) happened");
    assert!(
        offsets.iter().any(|o| *o > start && *o < last),
        "no kill landed mid-stream: {offsets:?}"
    );
    let (offset, entries) = check_applied(&store, &revoking).await;
    assert_eq!(offset, last, "notices left unapplied");
    assert_eq!(entries, RESIDENTS + DEATHS);
    let revoked: Vec<(String, String)> = sqlx::query_as(
        "SELECT serial, revocation_reason FROM certificates WHERE status = 'revoked'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let reasons: BTreeMap<String, String> = revoked.into_iter().collect();
    for (i, (_, sign, auth)) in holders.iter().enumerate() {
        assert_eq!(
            reasons.get(sign).map(String::as_str),
            Some("affiliationChanged")
        );
        let want = (i < DEATHS).then_some("cessationOfOperation");
        assert_eq!(reasons.get(auth).map(String::as_str), want, "holder {i}");
    }
    let report = honnin_store::audit::verify(&store).await.unwrap();
    assert!(report.ok, "audit chain broken: {report:?}");
    eprintln!("{kills} kill(s) at offsets {offsets:?}, {runs} run(s)");
}

// ---------------------------------------------------------------------------
// scripts/revocation-check.sh
// ---------------------------------------------------------------------------

#[test]
fn the_revocation_check_script_passes_against_a_server() {
    if openssl().is_none() {
        return;
    }
    if on_path("curl").is_none() {
        missing("curl");
        return;
    }
    let Some(bash) = on_path("bash") else {
        missing("bash");
        return;
    };
    let srv = Served::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/revocation-check.sh");
    let mut cmd = Command::new(bash);
    for (k, _) in std::env::vars() {
        if k.starts_with("HONNIN_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg(&script)
        .arg(srv.server())
        .arg(srv.data_dir())
        .env("HONNIN_BIN", BIN)
        .env("TMPDIR", srv.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let printed = text_of(&out);
    assert!(
        out.status.success(),
        "revocation-check.sh failed ({}):\n{printed}\nserver log:\n{}",
        out.status,
        srv.log()
    );
    assert!(
        printed.contains("all revocation checks passed"),
        "{printed}"
    );
    assert!(!printed.contains("FAIL"), "{printed}");
    assert!(printed.matches("PASS").count() >= 12, "{printed}");
    // With the server gone, it fails (and says so) rather than passing vacuously.
    let server = srv.server();
    let data = srv.data_dir();
    drop(srv);
    let out = Command::new("bash")
        .arg(&script)
        .arg(&server)
        .arg(&data)
        .env("HONNIN_BIN", BIN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text_of(&out).contains("FAIL"), "{}", text_of(&out));
}
