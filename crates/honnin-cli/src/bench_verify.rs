//! `honnin bench verify`: signed applications verified per second in-process (CMS
//! signature, the signer's path, revocation answered from cache, the 4 facts
//! compared), as a ratio to the raw RSA-2048 verification rate measured in the same
//! run on the same cores. Last line: `verify ratio=R`.
//!
//! With `--files DIR` it also writes the documents, the CA certificate and a CRL
//! for the whole-process comparison with `openssl cms -verify`
//! (`scripts/bench-verify.sh`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use honnin_core::{Address, BasicFacts, KanaName, PersonName, Sex, SubstituteFlags};
use honnin_pki::{
    CaKind, CaParams, CertStatus, CmsSignRequest, CrlParams, EndEntityParams, KeyAlgorithm,
    SignatureAlgorithm, Signer, SingleResponse, SoftwareKey, build_ca_certificate, build_crl,
    build_ocsp_response, issue_signature_certificate, random_serial, verify_signature,
};
use honnin_verify::{
    ExpectedFacts, FetchFuture, Fetcher, RevocationMode, TrustStore, Verifier, VerifierConfig,
    VerifyRequest,
};
use jiff::{SignedDuration, Timestamp};

const NAME: &str = "検証　一郎";
const ADDRESS: &str = "東京都千代田区霞が関二丁目1番2号";

/// Answers OCSP for the bench CA (signed by the CA itself, good, valid a day).
struct CaResponder {
    ca: Vec<u8>,
    key: Arc<SoftwareKey>,
    now: Timestamp,
}

impl Fetcher for CaResponder {
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move { Err(format!("{url}: no CRLs in this bench")) })
    }

    fn post_ocsp<'a>(&'a self, _url: &'a str, request: Vec<u8>) -> FetchFuture<'a> {
        Box::pin(async move {
            let req = honnin_pki::parse_ocsp_request(&request).map_err(|e| e.to_string())?;
            let responses: Vec<SingleResponse> = req
                .cert_ids
                .into_iter()
                .map(|cert_id| SingleResponse {
                    cert_id,
                    status: CertStatus::Good,
                    this_update: self.now,
                    next_update: Some(self.now + SignedDuration::from_hours(24)),
                })
                .collect();
            build_ocsp_response(&self.ca, self.key.as_ref(), &responses, self.now, None)
                .map_err(|e| e.to_string())
        })
    }
}

fn facts() -> Result<BasicFacts> {
    Ok(BasicFacts {
        name: PersonName::parse(NAME)?,
        name_kana: KanaName::parse("ケンショウ　イチロウ")?,
        alias: None,
        birth_date: jiff::civil::date(1980, 4, 1),
        sex: Sex::Male,
        address: Address::parse(ADDRESS)?,
        name_flags: SubstituteFlags::none_for(NAME),
        address_flags: SubstituteFlags::none_for(ADDRESS),
    })
}

/// Raw RSA-2048 PKCS#1 v1.5 SHA-256 verifications per second on all cores.
fn raw_verify_rate(secs: f64) -> Result<f64> {
    let key = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
    let spki = key.public_key_der();
    let msg = vec![0x5au8; 2048];
    let sig = key.sign(&msg)?;
    crate::bench::per_second_on_all_cores(secs, move || {
        verify_signature(&spki, SignatureAlgorithm::RsaPkcs1Sha256, &msg, &sig).is_ok()
    })
}

pub async fn verify(duration: Duration, documents: usize, files: Option<PathBuf>) -> Result<()> {
    let now = Timestamp::now();
    let ca_key = Arc::new(SoftwareKey::generate(KeyAlgorithm::Rsa2048)?);
    let ee_key = SoftwareKey::generate(KeyAlgorithm::Rsa2048)?;
    let ca = build_ca_certificate(
        &CaParams {
            kind: CaKind::Signature,
            serial: random_serial(),
            not_before: now - SignedDuration::from_hours(24),
            not_after: now + SignedDuration::from_hours(24 * 365),
            crl_url: "http://bench.invalid/arl.crl",
        },
        ca_key.as_ref(),
    )?;
    let spki = ee_key.public_key_der();
    let ee = issue_signature_certificate(
        &ca,
        ca_key.as_ref(),
        &EndEntityParams {
            serial: random_serial(),
            not_before: now - SignedDuration::from_hours(1),
            not_after: now + SignedDuration::from_hours(24 * 300),
            subject_id: "HNBENCH0000000001",
            municipality_romaji: "Chiyoda-ku",
            subject_public_key_der: &spki,
            crl_url: "http://bench.invalid/sign.crl",
            ocsp_url: "http://bench.invalid/ocsp",
        },
        &facts()?,
    )?;

    eprintln!("signing {documents} applications…");
    let mut docs = Vec::with_capacity(documents);
    for i in 0..documents {
        let content = format!(
            "<application id=\"{i}\"><kind>転居届</kind><name>{NAME}</name><address>{ADDRESS}</address>{}</application>",
            "x".repeat(1500)
        )
        .into_bytes();
        let req = CmsSignRequest::new(&content, false, &ee, std::slice::from_ref(&ca), now)?;
        let sig = ee_key.sign(req.to_be_signed())?;
        docs.push(req.finish(&sig)?);
    }
    if let Some(dir) = &files {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (i, d) in docs.iter().enumerate() {
            std::fs::write(dir.join(format!("app-{i:05}.p7s")), d)?;
        }
        std::fs::write(
            dir.join("ca.pem"),
            honnin_pki::pem::encode("CERTIFICATE", &ca),
        )?;
        let crl = build_crl(
            &ca,
            ca_key.as_ref(),
            &CrlParams {
                crl_number: 1,
                this_update: now,
                next_update: now + SignedDuration::from_hours(24),
                distribution_point: None,
                only_user_certs: false,
                only_ca_certs: false,
            },
            &[],
        )?;
        std::fs::write(dir.join("ca.crl"), crl)?;
        eprintln!(
            "wrote {documents} documents, ca.pem and ca.crl to {}",
            dir.display()
        );
    }

    let mut trust = TrustStore::default();
    trust.add(ca.clone());
    let verifier = Arc::new(Verifier::new(VerifierConfig {
        trust,
        revocation: RevocationMode::HardFail,
        offline_crls: Vec::new(),
        fetcher: Some(Arc::new(CaResponder {
            ca: ca.clone(),
            key: ca_key.clone(),
            now,
        })),
        max_cache_age: None,
    }));
    let expected = ExpectedFacts {
        name: Some("検証 一郎".into()),
        address: Some(ADDRESS.into()),
        birth_date: Some("1980-04-01".into()),
        sex: Some("male".into()),
    };
    // Warm the revocation cache and check that every document passes.
    let first = verifier
        .verify(
            &VerifyRequest {
                signed: docs[0].clone(),
                expected: expected.clone(),
                ..Default::default()
            },
            now,
        )
        .await?;
    if !first.accepted() {
        return Err(anyhow!(
            "the bench document does not verify:\n{}",
            first.to_text()
        ));
    }

    let threads = crate::bench::cores();
    let secs = duration.as_secs_f64();
    let raw = raw_verify_rate(secs)?;
    println!("raw RSA-2048 verify: {raw:.0}/s on {threads} threads");

    let docs = Arc::new(docs);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (verifier, docs, expected) = (verifier.clone(), docs.clone(), expected.clone());
            std::thread::spawn(move || -> Result<u64> {
                let rt = tokio::runtime::Builder::new_current_thread().build()?;
                let mut n = 0u64;
                let mut i = t;
                while start.elapsed().as_secs_f64() < secs {
                    let req = VerifyRequest {
                        signed: docs[i % docs.len()].clone(),
                        expected: expected.clone(),
                        ..Default::default()
                    };
                    let r = rt.block_on(verifier.verify(&req, now))?;
                    if !r.accepted() {
                        return Err(anyhow!("document {i} failed:\n{}", r.to_text()));
                    }
                    n += 1;
                    i += threads;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0u64;
    for h in handles {
        total += h.join().map_err(|_| anyhow!("verify thread panicked"))??;
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    println!(
        "signed applications verified: {rate:.0}/s on {threads} threads ({total} in {secs:.0} s; signature, path, OCSP from cache, 4 facts)"
    );
    println!("verify ratio={:.2}", rate / raw);
    Ok(())
}
