//! The verifier as a library: OpenSSL-made signatures with a certificate from a
//! honnin CA, tampered, revoked (offline CRL, and OCSP through a fetcher) and with
//! a foreign chain; bad input of every kind gives a report, never a panic.
//!
//! openssl must be on PATH (HONNIN_REQUIRE_TOOLS=1 makes its absence a failure).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use honnin_core::{Address, BasicFacts, KanaName, PersonName, Sex, SubstituteFlags};
use honnin_pki::*;
use honnin_verify::*;
use jiff::{SignedDuration, Timestamp};

/// 髙 (not in the certificate's character set) written as 高, flagged as a substitute.
const NAME: &str = "高橋　一郎";
const ADDRESS: &str = "大阪府大阪市北区中之島一丁目3番20号";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// When the certificates were issued, signed, received and revoked.
fn issued() -> Timestamp {
    ts("2026-04-01T00:00:00Z")
}
fn signed_at() -> Timestamp {
    ts("2026-05-01T00:00:00Z")
}
fn revoked_at() -> Timestamp {
    ts("2026-06-01T00:00:00Z")
}
fn now() -> Timestamp {
    ts("2026-07-01T00:00:00Z")
}

struct Pki {
    ca_key: SoftwareKey,
    ee_key: SoftwareKey,
    ca: Vec<u8>,
    ee: Vec<u8>,
}

fn pki() -> &'static Pki {
    static P: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let ca_key = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
        let ee_key = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
        let ca = build_ca_certificate(
            &CaParams {
                kind: CaKind::Signature,
                serial: random_serial(),
                not_before: ts("2026-01-01T00:00:00Z"),
                not_after: ts("2036-01-01T00:00:00Z"),
                crl_url: "http://honnin.test/arl/sign.crl",
            },
            &ca_key,
        )
        .unwrap();
        let spki = ee_key.public_key_der();
        let facts = BasicFacts {
            name: PersonName::parse(NAME).unwrap(),
            name_kana: KanaName::parse("タカハシ　イチロウ").unwrap(),
            alias: None,
            birth_date: jiff::civil::date(1970, 2, 3),
            sex: Sex::Male,
            address: Address::parse(ADDRESS).unwrap(),
            // 髙 is a substitute character in the certificate.
            name_flags: SubstituteFlags::parse_for("10000", NAME, "name_flags").unwrap(),
            address_flags: SubstituteFlags::none_for(ADDRESS),
        };
        let ee = issue_signature_certificate(
            &ca,
            &ca_key,
            &EndEntityParams {
                serial: random_serial(),
                not_before: issued(),
                not_after: ts("2031-02-03T14:59:59Z"),
                subject_id: "HNTEST0000000001",
                municipality_romaji: "Osaka-shi Kita-ku",
                subject_public_key_der: &spki,
                crl_url: "http://honnin.test/crl/sign-0.crl",
                ocsp_url: "http://honnin.test/ocsp/sign",
            },
            &facts,
        )
        .unwrap();
        Pki {
            ca_key,
            ee_key,
            ca,
            ee,
        }
    })
}

fn crl(revoked: bool) -> Vec<u8> {
    let p = pki();
    let entries = if revoked {
        let serial = Certificate::from_der(&p.ee)
            .unwrap()
            .inner()
            .tbs_certificate()
            .serial_number()
            .as_bytes()
            .to_vec();
        vec![RevokedEntry {
            serial,
            revoked_at: revoked_at(),
            reason: Some(RevocationReason::AffiliationChanged),
            invalidity_date: None,
        }]
    } else {
        vec![]
    };
    build_crl(
        &p.ca,
        &p.ca_key,
        &CrlParams {
            crl_number: 7,
            this_update: now() - SignedDuration::from_hours(1),
            next_update: now() + SignedDuration::from_hours(24),
            distribution_point: None,
            only_user_certs: false,
            only_ca_certs: false,
        },
        &entries,
    )
    .unwrap()
}

fn verifier(anchor: &[u8], crls: Vec<Vec<u8>>, mode: RevocationMode) -> Verifier {
    let mut trust = TrustStore::default();
    trust.add(anchor.to_vec());
    Verifier::new(VerifierConfig {
        trust,
        revocation: mode,
        offline_crls: crls,
        fetcher: None,
        max_cache_age: None,
    })
}

fn run(v: &Verifier, req: VerifyRequest) -> ValidationReport {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(v.verify(&req, now()))
        .unwrap()
}

fn ours(content: &[u8], detached: bool) -> Vec<u8> {
    let p = pki();
    let req = CmsSignRequest::new(
        content,
        detached,
        &p.ee,
        std::slice::from_ref(&p.ca),
        signed_at(),
    )
    .unwrap();
    let sig = p.ee_key.sign(req.to_be_signed()).unwrap();
    req.finish(&sig).unwrap()
}

fn sub(r: &ValidationReport) -> (Indication, Option<SubIndication>) {
    (r.indication, r.sub_indication)
}

fn openssl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("openssl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("HONNIN_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "openssl not found and HONNIN_REQUIRE_TOOLS=1"
        );
        eprintln!("note: openssl not found; skipping");
    }
    found
}

/// `openssl cms -sign` with the end entity's key; `-attime`-free, so the
/// signing time is the real now (after the test's revocation time: a claim the
/// tests below use).
fn openssl_sign(openssl: &Path, dir: &Path, content: &[u8], detached: bool) -> Vec<u8> {
    let p = pki();
    let cert = dir.join("ee.pem");
    std::fs::write(&cert, pem::encode("CERTIFICATE", &p.ee)).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem::encode("CERTIFICATE", &p.ca)).unwrap();
    let key = dir.join("ee.key");
    std::fs::write(&key, p.ee_key.to_encrypted_pkcs8_pem(b"pw").unwrap()).unwrap();
    let input = dir.join("in.txt");
    std::fs::write(&input, content).unwrap();
    let out = dir.join("out.p7s");
    let mut cmd = Command::new(openssl);
    cmd.args([
        "cms", "-sign", "-binary", "-outform", "DER", "-passin", "pass:pw",
    ])
    .arg("-signer")
    .arg(&cert)
    .arg("-certfile")
    .arg(&ca)
    .arg("-inkey")
    .arg(&key)
    .arg("-in")
    .arg(&input)
    .arg("-out")
    .arg(&out);
    if !detached {
        cmd.arg("-nodetach");
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).unwrap()
}

#[test]
fn openssl_signatures_pass_and_tampered_revoked_foreign_fail() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = pki();
    let content = "申請書 (OpenSSL)".as_bytes();
    let v = verifier(&p.ca, vec![crl(false)], RevocationMode::HardFail);
    for detached in [false, true] {
        let p7s = openssl_sign(&openssl, dir.path(), content, detached);
        let r = run(
            &v,
            VerifyRequest {
                signed: p7s.clone(),
                content: detached.then(|| content.to_vec()),
                ..Default::default()
            },
        );
        assert_eq!(r.indication, Indication::TotalPassed, "{}", r.to_text());
        assert_eq!(r.revocation[0].status, RevocationState::Good);
        assert_eq!(r.revocation[0].source, "crl");
        // Tampered: one content byte.
        let mut bad = p7s.clone();
        let mut tampered = content.to_vec();
        if detached {
            tampered[0] ^= 1;
        } else {
            let i = bad
                .windows(content.len())
                .position(|w| w == content)
                .unwrap();
            bad[i] ^= 1;
        }
        let r = run(
            &v,
            VerifyRequest {
                signed: bad,
                content: detached.then_some(tampered),
                ..Default::default()
            },
        );
        assert_eq!(
            sub(&r),
            (Indication::TotalFailed, Some(SubIndication::HashFailure)),
            "{}",
            r.to_text()
        );
    }
    // Revoked (the CRL says so): OpenSSL's signing time is after the revocation
    // time used here, by its own claim.
    let p7s = openssl_sign(&openssl, dir.path(), content, false);
    let revoked = verifier(&p.ca, vec![crl(true)], RevocationMode::HardFail);
    let r = run(
        &revoked,
        VerifyRequest {
            signed: p7s.clone(),
            ..Default::default()
        },
    );
    assert_eq!(
        sub(&r),
        (Indication::TotalFailed, Some(SubIndication::Revoked)),
        "{}",
        r.to_text()
    );
    assert_eq!(r.revocation[0].status, RevocationState::Revoked);
    assert_eq!(
        r.revocation[0].reason.as_deref(),
        Some("affiliationChanged")
    );
    // A foreign chain: another CA is trusted.
    let other_key = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let other = build_ca_certificate(
        &CaParams {
            kind: CaKind::Signature,
            serial: random_serial(),
            not_before: ts("2026-01-01T00:00:00Z"),
            not_after: ts("2036-01-01T00:00:00Z"),
            crl_url: "http://other.test/arl.crl",
        },
        &other_key,
    )
    .unwrap();
    let foreign = verifier(&other, vec![], RevocationMode::HardFail);
    let r = run(
        &foreign,
        VerifyRequest {
            signed: p7s,
            ..Default::default()
        },
    );
    assert_eq!(
        sub(&r),
        (
            Indication::Indeterminate,
            Some(SubIndication::NoCertificateChainFound)
        ),
        "{}",
        r.to_text()
    );
}

#[test]
fn proof_of_existence_decides_between_revoked_and_passed() {
    let p = pki();
    let doc = ours(b"form", false);
    let v = verifier(&p.ca, vec![crl(true)], RevocationMode::HardFail);
    // Signed (by its claim) before the revocation, no proof: REVOKED_NO_POE.
    let r = run(
        &v,
        VerifyRequest {
            signed: doc.clone(),
            ..Default::default()
        },
    );
    assert_eq!(
        sub(&r),
        (Indication::Indeterminate, Some(SubIndication::RevokedNoPoe)),
        "{}",
        r.to_text()
    );
    assert_eq!(r.claimed_signing_time, Some(signed_at()));
    // Received (recorded by the agency) before the revocation: passes.
    let r = run(
        &v,
        VerifyRequest {
            signed: doc.clone(),
            received_at: Some(signed_at() + SignedDuration::from_hours(1)),
            ..Default::default()
        },
    );
    assert_eq!(r.indication, Indication::TotalPassed, "{}", r.to_text());
    assert_eq!(r.validation_time_source, TimeSource::ReceivedAt);
    // Received after the revocation: the receipt proves nothing useful.
    let r = run(
        &v,
        VerifyRequest {
            signed: doc.clone(),
            received_at: Some(revoked_at() + SignedDuration::from_hours(1)),
            ..Default::default()
        },
    );
    assert_eq!(r.sub_indication, Some(SubIndication::RevokedNoPoe));
    // A receipt time in the future is a bad request.
    let e = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(v.verify(
            &VerifyRequest {
                signed: doc,
                received_at: Some(now() + SignedDuration::from_hours(1)),
                ..Default::default()
            },
            now(),
        ));
    assert!(matches!(e, Err(VerifyError::Usage(_))));
}

#[test]
fn facts_are_compared_with_substitutes_reported() {
    let p = pki();
    let v = verifier(&p.ca, vec![], RevocationMode::Off);
    let r = run(
        &v,
        VerifyRequest {
            signed: ours(b"form", false),
            expected: ExpectedFacts {
                name: Some("髙橋 一郎".into()),
                address: Some("大阪府大阪市北区中之島１丁目３番２０号".into()),
                birth_date: Some("1970-02-03".into()),
                sex: Some("1".into()),
            },
            ..Default::default()
        },
    );
    assert_eq!(r.indication, Indication::TotalPassed, "{}", r.to_text());
    let res: Vec<_> = r
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.result))
        .collect();
    assert_eq!(
        res,
        vec![
            ("name", FieldResult::Substituted),
            // 一丁目 vs １丁目: kanji numerals are not folded, so a mismatch.
            ("address", FieldResult::Mismatch),
            ("birth_date", FieldResult::Match),
            ("sex", FieldResult::Match),
        ]
    );
    assert!(!r.accepted());
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn revocation_through_a_fetcher_is_cached_until_next_update() {
    struct Counting {
        calls: Mutex<usize>,
        status: CertStatus,
    }
    impl Fetcher for Counting {
        fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
            Box::pin(async move { Err(format!("{url}: unreachable")) })
        }
        fn post_ocsp<'a>(&'a self, _url: &'a str, request: Vec<u8>) -> FetchFuture<'a> {
            Box::pin(async move {
                *self.calls.lock().unwrap() += 1;
                let p = pki();
                let req = parse_ocsp_request(&request).map_err(|e| e.to_string())?;
                let responses: Vec<_> = req
                    .cert_ids
                    .into_iter()
                    .map(|cert_id| SingleResponse {
                        cert_id,
                        status: self.status,
                        this_update: now() - SignedDuration::from_hours(1),
                        next_update: Some(now() + SignedDuration::from_hours(1)),
                    })
                    .collect();
                build_ocsp_response(&p.ca, &p.ca_key, &responses, now(), None)
                    .map_err(|e| e.to_string())
            })
        }
    }
    let p = pki();
    let fetcher = Arc::new(Counting {
        calls: Mutex::new(0),
        status: CertStatus::Good,
    });
    let mut trust = TrustStore::default();
    trust.add(p.ca.clone());
    let v = Verifier::new(VerifierConfig {
        trust: trust.clone(),
        revocation: RevocationMode::HardFail,
        offline_crls: vec![],
        fetcher: Some(fetcher.clone()),
        max_cache_age: None,
    });
    for i in 0..3 {
        let r = run(
            &v,
            VerifyRequest {
                signed: ours(format!("doc {i}").as_bytes(), false),
                ..Default::default()
            },
        );
        assert_eq!(r.indication, Indication::TotalPassed, "{}", r.to_text());
        assert_eq!(r.revocation[0].source, "ocsp");
        assert_eq!(
            r.revocation[0].location.as_deref(),
            Some("http://honnin.test/ocsp/sign")
        );
    }
    assert_eq!(*fetcher.calls.lock().unwrap(), 1, "answered from cache");
    // With caching off, every verification asks; a revoked answer is REVOKED_NO_POE.
    let revoked = Arc::new(Counting {
        calls: Mutex::new(0),
        status: CertStatus::Revoked {
            at: revoked_at(),
            reason: Some(RevocationReason::KeyCompromise),
        },
    });
    let v = Verifier::new(VerifierConfig {
        trust,
        revocation: RevocationMode::HardFail,
        offline_crls: vec![],
        fetcher: Some(revoked.clone()),
        max_cache_age: Some(SignedDuration::ZERO),
    });
    for _ in 0..2 {
        let r = run(
            &v,
            VerifyRequest {
                signed: ours(b"x", false),
                ..Default::default()
            },
        );
        assert_eq!(r.sub_indication, Some(SubIndication::RevokedNoPoe));
        assert_eq!(r.revocation[0].reason.as_deref(), Some("keyCompromise"));
    }
    assert_eq!(*revoked.calls.lock().unwrap(), 2);
}

#[test]
fn bad_input_gives_a_report_with_the_right_indication() {
    let p = pki();
    let v = verifier(&p.ca, vec![], RevocationMode::Off);
    let doc = ours(b"form", false);
    let cases: Vec<(Vec<u8>, Indication, SubIndication)> = vec![
        (
            vec![],
            Indication::TotalFailed,
            SubIndication::FormatFailure,
        ),
        (
            doc[..doc.len() / 2].to_vec(),
            Indication::TotalFailed,
            SubIndication::FormatFailure,
        ),
        (
            b"\x30\x80".repeat(5000),
            Indication::TotalFailed,
            SubIndication::FormatFailure,
        ),
        (
            ours(b"form", true),
            Indication::Indeterminate,
            SubIndication::SignedDataNotFound,
        ),
    ];
    for (input, i, s) in cases {
        let r = run(
            &v,
            VerifyRequest {
                signed: input,
                ..Default::default()
            },
        );
        assert_eq!(sub(&r), (i, Some(s)), "{}", r.to_text());
    }
    // Signature octets changed.
    let mut bad = doc.clone();
    let n = bad.len();
    bad[n - 3] ^= 0x10;
    let r = run(
        &v,
        VerifyRequest {
            signed: bad,
            ..Default::default()
        },
    );
    assert_eq!(
        sub(&r),
        (
            Indication::TotalFailed,
            Some(SubIndication::SigCryptoFailure)
        )
    );
    // Signed with the CA's own key and certificate: a certificate that cannot
    // sign documents (keyCertSign, cRLSign only).
    let p = pki();
    let req = CmsSignRequest::new(b"form", false, &p.ca, &[], signed_at()).unwrap();
    let sig = p.ca_key.sign(req.to_be_signed()).unwrap();
    let r = run(
        &v,
        VerifyRequest {
            signed: req.finish(&sig).unwrap(),
            ..Default::default()
        },
    );
    assert_eq!(
        sub(&r),
        (
            Indication::Indeterminate,
            Some(SubIndication::ChainConstraintsFailure)
        ),
        "{}",
        r.to_text()
    );
    assert!(r.message.contains("keyUsage"), "{}", r.message);
    // Outside the certificate's validity: expired before the validation time,
    // with no proof of existence within it.
    let r = run(
        &v,
        VerifyRequest {
            signed: doc.clone(),
            at: Some(ts("2032-01-01T00:00:00Z")),
            ..Default::default()
        },
    );
    assert_eq!(
        sub(&r),
        (
            Indication::Indeterminate,
            Some(SubIndication::OutOfBoundsNoPoe)
        ),
        "{}",
        r.to_text()
    );
    // Before the certificate existed.
    let r = run(
        &v,
        VerifyRequest {
            signed: doc,
            at: Some(ts("2026-03-01T00:00:00Z")),
            ..Default::default()
        },
    );
    assert_eq!(
        sub(&r),
        (Indication::TotalFailed, Some(SubIndication::NotYetValid)),
        "{}",
        r.to_text()
    );
}
