#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use honnin_pki::*;
use jiff::{SignedDuration, Timestamp};

fn main() {
    let out = std::path::Path::new("/tmp/crlscratch");
    std::fs::create_dir_all(out).unwrap();
    let key = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let rkey = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
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
    let tu: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let entries: Vec<RevokedEntry> = (0..7u32)
        .map(|i| RevokedEntry {
            serial: random_serial().to_vec(),
            revoked_at: tu - SignedDuration::from_secs(i64::from(i)),
            reason: Some(RevocationReason::ALL[i as usize]),
            invalidity_date: (i % 2 == 0).then(|| tu - SignedDuration::from_secs(3600)),
        })
        .collect();
    let base = CrlParams {
        crl_number: 1,
        this_update: tu,
        next_update: tu + SignedDuration::from_hours(24),
        distribution_point: None,
        only_user_certs: false,
        only_ca_certs: false,
    };
    for (name, p) in [
        ("full", base),
        (
            "part",
            CrlParams {
                distribution_point: Some("http://honnin.test/crl/1.crl"),
                ..base
            },
        ),
        (
            "user",
            CrlParams {
                only_user_certs: true,
                ..base
            },
        ),
        (
            "arl",
            CrlParams {
                only_ca_certs: true,
                distribution_point: Some("http://honnin.test/arl/sign.crl"),
                ..base
            },
        ),
        (
            "arlnodp",
            CrlParams {
                only_ca_certs: true,
                ..base
            },
        ),
    ] {
        std::fs::write(
            out.join(format!("{name}.der")),
            build_crl(&ca, &key, &p, &entries).unwrap(),
        )
        .unwrap();
    }
    let r = build_ocsp_responder_certificate(
        &ca,
        &key,
        &rkey.public_key_der(),
        random_serial(),
        tu - SignedDuration::from_hours(24),
        tu + SignedDuration::from_hours(24 * 60),
    )
    .unwrap();
    std::fs::write(
        out.join("responder.pem"),
        Certificate::from_der(&r).unwrap().to_pem(),
    )
    .unwrap();
    std::fs::write(
        out.join("ca.pem"),
        Certificate::from_der(&ca).unwrap().to_pem(),
    )
    .unwrap();
    let id = CertId {
        hash_algorithm: HashAlgorithm::Sha1,
        issuer_name_hash: vec![1; 20],
        issuer_key_hash: vec![2; 20],
        serial: vec![5; 20],
    };
    let rs = vec![
        SingleResponse {
            cert_id: id.clone(),
            status: CertStatus::Good,
            this_update: tu,
            next_update: Some(tu + SignedDuration::from_hours(24)),
        },
        SingleResponse {
            cert_id: CertId {
                serial: vec![6; 20],
                ..id.clone()
            },
            status: CertStatus::Revoked {
                at: tu,
                reason: Some(RevocationReason::KeyCompromise),
            },
            this_update: tu,
            next_update: None,
        },
        SingleResponse {
            cert_id: CertId {
                serial: vec![7; 20],
                ..id.clone()
            },
            status: CertStatus::Unknown,
            this_update: tu,
            next_update: Some(tu + SignedDuration::from_hours(24)),
        },
    ];
    std::fs::write(
        out.join("resp.der"),
        build_ocsp_response(&r, &rkey, &rs, tu, Some(&[1; 16])).unwrap(),
    )
    .unwrap();
    std::fs::write(
        out.join("err.der"),
        ocsp_error_response(OcspResponseStatus::MalformedRequest),
    )
    .unwrap();
}
