#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use honnin_pki::*;
use jiff::{SignedDuration, Timestamp};
use std::time::Instant;

fn main() {
    let out = std::path::Path::new("/tmp/crlscratch");
    std::fs::create_dir_all(out).unwrap();
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1_000_000);
    let key = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let t0: Timestamp = "2026-01-05T00:00:00Z".parse().unwrap();
    let ca = build_ca_certificate(
        &CaParams {
            kind: CaKind::Signature,
            serial: random_serial(),
            not_before: t0,
            not_after: "2036-01-04T14:59:59Z".parse().unwrap(),
            crl_url: "http://honnin.test/arl/sign.crl",
        },
        &key,
    )
    .unwrap();
    std::fs::write(
        out.join("ca.pem"),
        Certificate::from_der(&ca).unwrap().to_pem(),
    )
    .unwrap();
    let tu: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let entries: Vec<RevokedEntry> = (0..n)
        .map(|i| {
            let s = random_serial();
            RevokedEntry {
                serial: s.to_vec(),
                revoked_at: tu - SignedDuration::from_secs(i64::from(i)),
                reason: Some(RevocationReason::ALL[(i % 7) as usize]),
                invalidity_date: (i % 10 == 0)
                    .then(|| tu - SignedDuration::from_secs(i64::from(i) + 3600)),
            }
        })
        .collect();
    let p = CrlParams {
        crl_number: 1,
        this_update: tu,
        next_update: tu + SignedDuration::from_hours(24),
        distribution_point: None,
        only_user_certs: false,
        only_ca_certs: false,
    };
    let t = Instant::now();
    let der = build_crl(&ca, &key, &p, &entries).unwrap();
    let build = t.elapsed();
    let t = Instant::now();
    let crl = Crl::from_der(&der).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    crl.verify_signed_by(&Certificate::from_der(&ca).unwrap().subject_public_key_der())
        .unwrap();
    let verify = t.elapsed();
    let t = Instant::now();
    let mut found = 0;
    for e in entries.iter().step_by(10) {
        if crl.find(&e.serial).is_some() {
            found += 1;
        }
    }
    let find = t.elapsed();
    println!(
        "n={n} size={} MB build={build:?} parse={parse:?} verify={verify:?} find(n/10)={find:?} found={found}",
        der.len() as f64 / 1e6
    );
    std::fs::write(out.join("big.der"), &der).unwrap();
}
