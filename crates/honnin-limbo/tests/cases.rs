//! Runs the harness over a handful of x509-limbo cases (copied from the suite into
//! `tests/data/cases.json`, so these tests need nothing outside the repository; the
//! whole suite is `scripts/limbo.sh`), and checks the harness output shape on an
//! embedded case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honnin_limbo::{Testcase, run_case, run_suite};

fn load_suite() -> serde_json::Value {
    serde_json::from_str(include_str!("data/cases.json")).unwrap()
}

#[test]
fn selected_cases_agree_with_the_suite() {
    let suite = load_suite();
    let wanted = [
        "bettertls::nameconstraints::tc0",
        "bettertls::nameconstraints::tc5000",
        "rfc5280::nc::excluded-dns-match",
        "rfc5280::nc::permitted-dn-mismatch",
        "rfc5280::nc::nc-permits-email-domain",
        "rfc5280::validity::notafter-fractional",
        "rfc5280::validity::notbefore-fractional",
        "pathlen::self-issued-certs-pathlen",
        "pathlen::intermediate-violates-pathlen-0",
        "pathological::multiple-chains-expired-intermediate",
        "pathological::pathological-chain-same-subject-same-key",
        "cve::cve-2024-0567",
        "crl::revoked-certificate-with-crl",
        "crl::certificate-not-on-crl",
        "crl::crlnumber-missing",
        "crl::issuer-missing-crlsign",
        "webpki::forbidden-weak-rsa-key-in-root",
        "online::google.com",
    ];
    let now = jiff::Timestamp::now();
    let mut seen = 0;
    for t in suite["testcases"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        if !wanted.contains(&id) {
            continue;
        }
        seen += 1;
        let tc: Testcase = serde_json::from_value(t.clone()).unwrap();
        let r = run_case(&tc, now);
        assert_eq!(r.actual_result, tc.expected_result, "{id}: {:?}", r.context);
    }
    assert_eq!(seen, wanted.len());
}

#[test]
fn revoked_case_names_the_leaf() {
    let suite = load_suite();
    let t = suite["testcases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "crl::revoked-certificate-with-crl")
        .unwrap();
    let tc: Testcase = serde_json::from_value(t.clone()).unwrap();
    let r = run_case(&tc, jiff::Timestamp::now());
    let ctx = r.context.unwrap();
    assert!(ctx.starts_with("certificate 0 ("), "{ctx}");
    assert!(ctx.contains("revoked at"), "{ctx}");
}

#[test]
fn harness_output_shape() {
    // A case with an unreadable peer certificate and one with a conflict skip.
    let json = r#"{"version": 1, "testcases": [
      {"id": "x::bad-pem", "features": [], "validation_kind": "SERVER",
       "trusted_certs": [], "untrusted_intermediates": [],
       "peer_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
       "validation_time": null, "signature_algorithms": [], "key_usage": [],
       "extended_key_usage": [], "expected_result": "FAILURE",
       "expected_peer_name": {"kind": "DNS", "value": "example.com"},
       "expected_peer_names": [], "max_chain_depth": null, "crls": []},
      {"id": "rfc5280::ca-as-leaf", "features": [], "validation_kind": "SERVER",
       "trusted_certs": [], "untrusted_intermediates": [], "peer_certificate": "",
       "validation_time": null, "expected_result": "SUCCESS",
       "expected_peer_name": null, "max_chain_depth": null}
    ]}"#;
    let out = run_suite(json, jiff::Timestamp::now()).unwrap();
    assert_eq!(out.version, 1);
    assert_eq!(out.results.len(), 2);
    assert_eq!(out.results[0].actual_result, "FAILURE");
    assert_eq!(out.results[1].actual_result, "SKIPPED");
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["results"][0]["id"], "x::bad-pem");
    assert!(
        v["results"][1]["context"]
            .as_str()
            .unwrap()
            .contains("webpki::ca-as-leaf")
    );
}
