//! The relying party's HTTP fetcher against a real HTTP server: an OCSP
//! responder that fails sends the verifier to the certificate's CRL, which is
//! fetched once and then answered from cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use honnin_core::{Address, BasicFacts, KanaName, PersonName, Sex, SubstituteFlags};
use honnin_pki::*;
use honnin_server::HttpFetcher;
use honnin_verify::*;
use jiff::{SignedDuration, Timestamp};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}
fn issued() -> Timestamp {
    ts("2026-04-01T00:00:00Z")
}
fn signed_at() -> Timestamp {
    ts("2026-05-01T00:00:00Z")
}
fn now() -> Timestamp {
    ts("2026-07-01T00:00:00Z")
}

fn facts() -> BasicFacts {
    let name = "高橋　一郎";
    let address = "大阪府大阪市北区中之島一丁目3番20号";
    BasicFacts {
        name: PersonName::parse(name).unwrap(),
        name_kana: KanaName::parse("タカハシ　イチロウ").unwrap(),
        alias: None,
        birth_date: jiff::civil::date(1970, 2, 3),
        sex: Sex::Male,
        address: Address::parse(address).unwrap(),
        name_flags: SubstituteFlags::none_for(name),
        address_flags: SubstituteFlags::none_for(address),
    }
}

struct Pki {
    ca_key: SoftwareKey,
    ee_key: SoftwareKey,
    ca: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
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
        Pki { ca_key, ee_key, ca }
    }

    fn empty_crl(&self) -> Vec<u8> {
        build_crl(
            &self.ca,
            &self.ca_key,
            &CrlParams {
                crl_number: 7,
                this_update: now() - SignedDuration::from_hours(1),
                next_update: now() + SignedDuration::from_hours(24),
                distribution_point: None,
                only_user_certs: false,
                only_ca_certs: false,
            },
            &[],
        )
        .unwrap()
    }
}

#[test]
fn over_http_a_failing_ocsp_responder_falls_back_to_the_crl_fetched_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let p = Pki::new();
    let crl_der = p.empty_crl();
    let crl_hits = Arc::new(AtomicUsize::new(0));
    let ocsp_hits = Arc::new(AtomicUsize::new(0));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = {
        let (crl_hits, ocsp_hits) = (crl_hits.clone(), ocsp_hits.clone());
        axum::Router::new()
            .route(
                "/crl/sign-0.crl",
                axum::routing::get(move || {
                    crl_hits.fetch_add(1, Ordering::SeqCst);
                    let body = crl_der.clone();
                    async move { body }
                }),
            )
            .route(
                "/ocsp/sign",
                axum::routing::post(move || {
                    ocsp_hits.fetch_add(1, Ordering::SeqCst);
                    async { axum::http::StatusCode::SERVICE_UNAVAILABLE }
                }),
            )
    };
    rt.spawn(async move { axum::serve(listener, app).await });

    // A certificate naming this server for OCSP and its CRL.
    let crl_url = format!("http://{addr}/crl/sign-0.crl");
    let ocsp_url = format!("http://{addr}/ocsp/sign");
    let spki = p.ee_key.public_key_der();
    let ee = issue_signature_certificate(
        &p.ca,
        &p.ca_key,
        &EndEntityParams {
            serial: random_serial(),
            not_before: issued(),
            not_after: ts("2031-02-03T14:59:59Z"),
            subject_id: "HNTEST0000000002",
            municipality_romaji: "Osaka-shi Kita-ku",
            subject_public_key_der: &spki,
            crl_url: &crl_url,
            ocsp_url: &ocsp_url,
        },
        &facts(),
    )
    .unwrap();
    let mut trust = TrustStore::default();
    trust.add(p.ca.clone());
    let v = Verifier::new(VerifierConfig {
        trust,
        revocation: RevocationMode::HardFail,
        offline_crls: vec![],
        fetcher: Some(Arc::new(HttpFetcher::new().unwrap())),
        max_cache_age: None,
    });
    for i in 0..3 {
        let req = CmsSignRequest::new(format!("doc {i}").as_bytes(), false, &ee, &[], signed_at())
            .unwrap();
        let sig = p.ee_key.sign(req.to_be_signed()).unwrap();
        let signed = req.finish(&sig).unwrap();
        let r = rt
            .block_on(v.verify(
                &VerifyRequest {
                    signed,
                    ..Default::default()
                },
                now(),
            ))
            .unwrap();
        assert_eq!(r.indication, Indication::TotalPassed, "{}", r.to_text());
        assert_eq!(r.revocation[0].source, "crl", "{}", r.to_text());
        assert_eq!(r.revocation[0].location.as_deref(), Some(crl_url.as_str()));
        assert_eq!(r.chain.len(), 2);
    }
    assert_eq!(
        crl_hits.load(Ordering::SeqCst),
        1,
        "the CRL is cached until nextUpdate"
    );
    assert!(
        ocsp_hits.load(Ordering::SeqCst) >= 1,
        "OCSP was tried first"
    );
}
