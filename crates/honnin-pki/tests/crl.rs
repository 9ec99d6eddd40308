//! CRLs and ARLs: built, checked by openssl and pkilint, decoded back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use honnin_pki::*;
use jiff::{SignedDuration, Timestamp};

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// When the revocation happens, the CRL is made, and openssl looks.
fn revoked_at() -> Timestamp {
    issued_at() + hours(6)
}
fn this_update() -> Timestamp {
    issued_at() + hours(12)
}
fn next_update() -> Timestamp {
    this_update() + hours(24 * 7)
}
fn check_time() -> String {
    attime(issued_at() + hours(24))
}

struct Fixture {
    ca: Vec<u8>,
    good: Vec<u8>,
    revoked: Vec<u8>,
}

fn fixture(ca_key: &SoftwareKey) -> Fixture {
    let ca = ca(CaKind::Signature, ca_key);
    let good = sign_ee(&ca, ca_key, &facts());
    let revoked = sign_ee(&ca, ca_key, &facts());
    assert_ne!(serial_of(&good), serial_of(&revoked));
    Fixture { ca, good, revoked }
}

fn params(dp: Option<&str>) -> CrlParams<'_> {
    CrlParams {
        crl_number: 42,
        this_update: this_update(),
        next_update: next_update(),
        distribution_point: dp,
        only_user_certs: false,
        only_ca_certs: false,
    }
}

/// The revoked end entity plus one synthetic entry per reason (and one with
/// no reason), in shuffled order.
fn entries(f: &Fixture) -> Vec<RevokedEntry> {
    let mut v = Vec::new();
    for (i, r) in RevocationReason::ALL.into_iter().enumerate() {
        let mut serial = vec![0x10; 20];
        serial[19] = 0xf0 - i as u8;
        v.push(RevokedEntry {
            serial,
            revoked_at: revoked_at() - hours(i as i64),
            reason: Some(r),
            invalidity_date: None,
        });
    }
    v.push(RevokedEntry {
        serial: vec![0x01, 0x02, 0x03],
        revoked_at: revoked_at(),
        reason: None,
        invalidity_date: None,
    });
    v.push(RevokedEntry {
        serial: serial_of(&f.revoked),
        revoked_at: revoked_at(),
        reason: Some(RevocationReason::AffiliationChanged),
        invalidity_date: Some(revoked_at() - hours(2)),
    });
    v
}

fn write_der(dir: &Path, name: &str, der: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, der).unwrap();
    p
}

#[test]
fn round_trip() {
    let f = fixture(sign_ca_key());
    let given = entries(&f);
    let der = build_crl(&f.ca, sign_ca_key(), &params(None), &given).unwrap();
    let crl = Crl::from_der(&der).unwrap();
    let ca = Certificate::from_der(&f.ca).unwrap();

    crl.verify_signed_by(&ca.subject_public_key_der()).unwrap();
    let other = card_sign_key().public_key_der();
    assert!(matches!(
        crl.verify_signed_by(&other),
        Err(PkiError::BadSignature { .. })
    ));
    assert_eq!(crl.issuer_name_der(), ca.subject_name_der());
    assert_eq!(crl.crl_number(), 42);
    assert_eq!(crl.this_update(), this_update());
    assert_eq!(crl.next_update(), Some(next_update()));
    assert_eq!(crl.authority_key_id(), ca.subject_key_id().as_deref());
    assert_eq!(
        crl.signature_algorithm(),
        Some(SignatureAlgorithm::RsaPkcs1Sha256)
    );
    assert!(!crl.has_issuing_distribution_point());
    assert!(!crl.is_partitioned());
    assert_eq!(crl.idp_url(), None);

    // Sorted by serial; Unspecified is written as no reason.
    assert_eq!(crl.entries().len(), given.len());
    assert!(
        crl.entries()
            .windows(2)
            .all(|w| (w[0].serial.len(), &w[0].serial) < (w[1].serial.len(), &w[1].serial))
    );
    for g in &given {
        let e = crl.find(&g.serial).unwrap();
        let mut want = g.clone();
        if want.reason == Some(RevocationReason::Unspecified) {
            want.reason = None;
        }
        assert_eq!(*e, want);
    }
    // Leading zeros do not matter; an unknown serial is not found.
    let mut padded = vec![0, 0];
    padded.extend_from_slice(&serial_of(&f.revoked));
    assert!(crl.find(&padded).is_some());
    assert!(crl.find(&serial_of(&f.good)).is_none());
    assert!(crl.find(&[]).is_none());

    let pem = crl.to_pem();
    assert!(pem.starts_with("-----BEGIN X509 CRL-----\n"));
    assert_eq!(Crl::from_pem(&pem).unwrap(), crl);
    assert_eq!(crl.der(), &der[..]);
}

#[test]
fn openssl_reads_verifies_and_applies_the_crl() {
    let Some(openssl) = openssl() else { return };
    for (label, ca_key) in [("rsa", sign_ca_key()), ("p256", p256_ca_key())] {
        let f = fixture(ca_key);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let der = build_crl(&f.ca, ca_key, &params(None), &entries(&f)).unwrap();
        let crl_der = write_der(d, "crl.der", &der);
        let crl_pem = d.join("crl.pem");
        std::fs::write(&crl_pem, Crl::from_der(&der).unwrap().to_pem()).unwrap();
        let ca = write_pem(d, "ca.pem", &f.ca);
        let good = write_pem(d, "good.pem", &f.good);
        let revoked = write_pem(d, "revoked.pem", &f.revoked);

        let out = run(Command::new(&openssl)
            .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&crl_der));
        assert!(out.status.success(), "[{label}] {}", text(&out));
        let t = text(&out);
        let revoked_hex = Certificate::from_der(&f.revoked).unwrap().serial_hex();
        for want in [
            "Version 2 (0x1)",
            "X509v3 CRL Number",
            "42",
            "X509v3 Authority Key Identifier",
            &revoked_hex,
            "Affiliation Changed",
            "Key Compromise",
            "CA Compromise",
            "Superseded",
            "Cessation Of Operation",
            "Certificate Hold",
            "Invalidity Date",
            "Next Update",
        ] {
            assert!(t.contains(want), "[{label}] {want} missing:\n{t}");
        }
        assert!(!t.contains("Unspecified"), "[{label}] {t}");

        let out = run(Command::new(&openssl)
            .args(["crl", "-inform", "DER", "-noout", "-verify", "-in"])
            .arg(&crl_der)
            .arg("-CAfile")
            .arg(&ca));
        assert!(
            out.status.success() && text(&out).contains("verify OK"),
            "[{label}] {}",
            text(&out)
        );

        let verify = |cert: &Path| {
            run(Command::new(&openssl)
                .args(["verify", "-x509_strict", "-crl_check", "-attime"])
                .arg(check_time())
                .arg("-CRLfile")
                .arg(&crl_pem)
                .arg("-CAfile")
                .arg(&ca)
                .arg(cert))
        };
        let out = verify(&good);
        assert!(out.status.success(), "[{label}] good: {}", text(&out));
        let out = verify(&revoked);
        assert!(!out.status.success(), "[{label}] revoked passed");
        assert!(
            text(&out).contains("certificate revoked"),
            "[{label}] {}",
            text(&out)
        );
    }
}

#[test]
fn partitioned_crl_applies_only_to_its_shard() {
    let f = fixture(sign_ca_key());
    let ours = build_crl(
        &f.ca,
        sign_ca_key(),
        &params(Some(CRL_URL_EE)),
        &entries(&f),
    )
    .unwrap();
    let other_url = "http://honnin.test/crl/sign-0002.crl";
    let theirs = build_crl(&f.ca, sign_ca_key(), &params(Some(other_url)), &entries(&f)).unwrap();
    let c = Crl::from_der(&ours).unwrap();
    assert!(c.is_partitioned() && c.has_issuing_distribution_point());
    assert_eq!(c.idp_url(), Some(CRL_URL_EE));
    assert!(!c.only_user_certs() && !c.only_ca_certs());
    assert_eq!(Crl::from_der(&theirs).unwrap().idp_url(), Some(other_url));

    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = write_pem(d, "ca.pem", &f.ca);
    let good = write_pem(d, "good.pem", &f.good);
    let revoked = write_pem(d, "revoked.pem", &f.revoked);
    let verify = |crl: &[u8], cert: &Path| {
        let p = d.join("shard.pem");
        std::fs::write(&p, Crl::from_der(crl).unwrap().to_pem()).unwrap();
        run(Command::new(&openssl)
            .args(["verify", "-crl_check", "-attime"])
            .arg(check_time())
            .arg("-CRLfile")
            .arg(&p)
            .arg("-CAfile")
            .arg(&ca)
            .arg(cert))
    };
    // The shard named in the certificates' CRL distribution point applies.
    let out = verify(&ours, &good);
    assert!(out.status.success(), "{}", text(&out));
    let out = verify(&ours, &revoked);
    assert!(text(&out).contains("certificate revoked"), "{}", text(&out));
    // Another shard does not cover them: no CRL for the certificate.
    let out = verify(&theirs, &good);
    assert!(!out.status.success());
    assert!(text(&out).contains("different CRL scope"), "{}", text(&out));
}

#[test]
fn pkilint_accepts_full_partitioned_user_only_empty_crls_and_the_arl() {
    let Some(pkilint) = pkilint() else { return };
    let f = fixture(sign_ca_key());
    let link_serial = random_serial();
    let arl_entries = vec![RevokedEntry {
        serial: link_serial.to_vec(),
        revoked_at: revoked_at(),
        reason: Some(RevocationReason::Superseded),
        invalidity_date: None,
    }];
    let user_only = CrlParams {
        only_user_certs: true,
        ..params(None)
    };
    let shard_user_only = CrlParams {
        only_user_certs: true,
        ..params(Some(CRL_URL_EE))
    };
    let arl = CrlParams {
        only_ca_certs: true,
        ..params(Some(CRL_URL_SIGN_CA))
    };
    let arl_no_dp = CrlParams {
        only_ca_certs: true,
        ..params(None)
    };
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "full",
            "CRL",
            build_crl(&f.ca, sign_ca_key(), &params(None), &entries(&f)).unwrap(),
        ),
        (
            "full-empty",
            "CRL",
            build_crl(&f.ca, sign_ca_key(), &params(None), &[]).unwrap(),
        ),
        (
            "partitioned",
            "CRL",
            build_crl(
                &f.ca,
                sign_ca_key(),
                &params(Some(CRL_URL_EE)),
                &entries(&f),
            )
            .unwrap(),
        ),
        (
            "user-only",
            "CRL",
            build_crl(&f.ca, sign_ca_key(), &user_only, &entries(&f)).unwrap(),
        ),
        (
            "partitioned-user-only",
            "CRL",
            build_crl(&f.ca, sign_ca_key(), &shard_user_only, &entries(&f)).unwrap(),
        ),
        (
            "arl",
            "ARL",
            build_crl(&f.ca, sign_ca_key(), &arl, &arl_entries).unwrap(),
        ),
        (
            "arl-empty",
            "ARL",
            build_crl(&f.ca, sign_ca_key(), &arl, &[]).unwrap(),
        ),
        (
            "arl-no-dp",
            "ARL",
            build_crl(&f.ca, sign_ca_key(), &arl_no_dp, &arl_entries).unwrap(),
        ),
        ("p256-full", "CRL", {
            let g = fixture(p256_ca_key());
            build_crl(&g.ca, p256_ca_key(), &params(None), &entries(&g)).unwrap()
        }),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, kind, der) in cases {
        let c = Crl::from_der(&der).unwrap();
        assert_eq!(c.only_ca_certs(), kind == "ARL", "{name}");
        let p = write_der(dir.path(), &format!("{name}.der"), &der);
        let (ok, out) = lint_crl(&pkilint, &p, kind);
        if !ok {
            failures.push(format!("== {name} ({kind})\n{out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn empty_crl_has_no_revoked_certificates_field() {
    let f = fixture(sign_ca_key());
    let der = build_crl(&f.ca, sign_ca_key(), &params(None), &[]).unwrap();
    let c = Crl::from_der(&der).unwrap();
    assert!(c.entries().is_empty());
    // x509-cert agrees: no revokedCertificates at all (not an empty SEQUENCE).
    use der::Decode;
    let parsed: x509_cert::crl::CertificateList =
        x509_cert::crl::CertificateList::from_der(&der).unwrap();
    assert!(parsed.tbs_cert_list.revoked_certificates.is_none());
}

#[test]
fn x509_cert_decodes_what_we_build() {
    use der::Decode;
    let f = fixture(sign_ca_key());
    let der = build_crl(
        &f.ca,
        sign_ca_key(),
        &params(Some(CRL_URL_EE)),
        &entries(&f),
    )
    .unwrap();
    let parsed: x509_cert::crl::CertificateList =
        x509_cert::crl::CertificateList::from_der(&der).unwrap();
    let revoked = parsed.tbs_cert_list.revoked_certificates.unwrap();
    assert_eq!(revoked.len(), entries(&f).len());
}

#[test]
fn refusals() {
    let f = fixture(sign_ca_key());
    let e = entries(&f);
    let ok = |p: &CrlParams<'_>, e: &[RevokedEntry]| build_crl(&f.ca, sign_ca_key(), p, e);
    assert!(ok(&params(None), &e).is_ok());

    // Duplicate serial (also with a leading zero).
    let mut dup = e.clone();
    let mut z = vec![0];
    z.extend_from_slice(&e[0].serial);
    dup.push(RevokedEntry {
        serial: z,
        ..e[0].clone()
    });
    assert!(matches!(
        ok(&params(None), &dup),
        Err(PkiError::Profile { .. })
    ));
    // Zero and over-long serials.
    for serial in [vec![], vec![0, 0], vec![0x80; 20], vec![1; 21]] {
        let bad = vec![RevokedEntry {
            serial,
            ..e[0].clone()
        }];
        assert!(ok(&params(None), &bad).is_err());
    }
    // A 20-octet serial with the top bit clear is fine.
    let fine = vec![RevokedEntry {
        serial: vec![0x7f; 20],
        ..e[0].clone()
    }];
    assert!(ok(&params(None), &fine).is_ok());
    // Revoked after thisUpdate; invalidity after revocation.
    let late = vec![RevokedEntry {
        revoked_at: this_update() + hours(1),
        ..e[0].clone()
    }];
    assert!(matches!(
        ok(&params(None), &late),
        Err(PkiError::Validity { .. })
    ));
    let inv = vec![RevokedEntry {
        invalidity_date: Some(e[0].revoked_at + hours(1)),
        ..e[0].clone()
    }];
    assert!(matches!(
        ok(&params(None), &inv),
        Err(PkiError::Validity { .. })
    ));
    // Times.
    let backwards = CrlParams {
        next_update: this_update(),
        ..params(None)
    };
    assert!(matches!(ok(&backwards, &e), Err(PkiError::Validity { .. })));
    // Both scopes.
    let both = CrlParams {
        only_user_certs: true,
        only_ca_certs: true,
        ..params(None)
    };
    assert!(ok(&both, &e).is_err());
    // A bad URL.
    assert!(ok(&params(Some("file:///etc/passwd")), &e).is_err());
    assert!(ok(&params(Some("http://a b")), &e).is_err());
    // The wrong signer; an end entity as the issuer.
    assert!(build_crl(&f.ca, new_sign_ca_key(), &params(None), &e).is_err());
    assert!(matches!(
        build_crl(&f.good, card_sign_key(), &params(None), &e),
        Err(PkiError::WrongProfile { .. })
    ));
}

#[test]
fn times_after_2049_are_generalized() {
    let key = sign_ca_key();
    let ca = build_ca_certificate(
        &CaParams {
            kind: CaKind::Signature,
            serial: random_serial(),
            not_before: ca_not_before(),
            not_after: ts("2060-01-01T00:00:00Z"),
            crl_url: CRL_URL_SIGN_CA,
        },
        key,
    )
    .unwrap();
    let p = CrlParams {
        this_update: ts("2050-03-01T00:00:00Z"),
        next_update: ts("2050-03-08T00:00:00Z"),
        ..params(None)
    };
    let e = vec![RevokedEntry {
        serial: vec![9],
        revoked_at: ts("2050-02-01T00:00:00Z"),
        reason: Some(RevocationReason::KeyCompromise),
        invalidity_date: Some(ts("2049-12-31T00:00:00Z")),
    }];
    let der = build_crl(&ca, key, &p, &e).unwrap();
    let c = Crl::from_der(&der).unwrap();
    assert_eq!(c.entries(), &e[..]);
    assert_eq!(c.this_update(), p.this_update);
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let f = write_der(dir.path(), "crl.der", &der);
    let out = run(Command::new(&openssl)
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&f));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2050 GMT"), "{}", text(&out));
}

#[test]
fn large_crl_builds_and_parses() {
    let f = fixture(sign_ca_key());
    let n = 100_000u32;
    let entries: Vec<RevokedEntry> = (0..n)
        .map(|i| {
            let mut serial = [0u8; 20];
            serial[0] = 0x40;
            // A scrambled order so that sorting is exercised.
            serial[16..].copy_from_slice(&(i.wrapping_mul(2_654_435_761)).to_be_bytes());
            RevokedEntry {
                serial: serial.to_vec(),
                revoked_at: revoked_at() - SignedDuration::from_secs(i64::from(i)),
                reason: Some(RevocationReason::ALL[(i % 7) as usize]),
                invalidity_date: (i % 3 == 0)
                    .then(|| revoked_at() - SignedDuration::from_secs(i64::from(i) + 60)),
            }
        })
        .collect();
    let der = build_crl(&f.ca, sign_ca_key(), &params(None), &entries).unwrap();
    let crl = Crl::from_der(&der).unwrap();
    assert_eq!(crl.entries().len(), n as usize);
    crl.verify_signed_by(
        &Certificate::from_der(&f.ca)
            .unwrap()
            .subject_public_key_der(),
    )
    .unwrap();
    for e in entries.iter().step_by(997) {
        let got = crl.find(&e.serial).unwrap();
        assert_eq!(got.revoked_at, e.revoked_at);
        assert_eq!(got.invalidity_date, e.invalidity_date);
    }
}

#[test]
fn malformed_crls_are_errors() {
    let f = fixture(sign_ca_key());
    let der = build_crl(
        &f.ca,
        sign_ca_key(),
        &params(Some(CRL_URL_EE)),
        &entries(&f),
    )
    .unwrap();
    for cut in 0..der.len() {
        assert!(Crl::from_der(&der[..cut]).is_err(), "prefix {cut}");
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(Crl::from_der(&trailing).is_err());
    // Every single-octet change either fails to decode or fails to verify.
    let spki = Certificate::from_der(&f.ca)
        .unwrap()
        .subject_public_key_der();
    for i in (0..der.len()).step_by(7) {
        let mut m = der.clone();
        m[i] ^= 0x01;
        if let Ok(c) = Crl::from_der(&m) {
            assert!(c.verify_signed_by(&spki).is_err(), "octet {i}");
        }
    }
    assert!(Crl::from_der(&[]).is_err());
    assert!(Crl::from_der(&f.ca).is_err());
}

#[test]
fn parses_crls_made_by_openssl() {
    let Some(openssl) = openssl() else { return };
    // An openssl-made CRL from a throwaway CA: v2, a reason, a CRL number.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("crlnumber"), "1000\n").unwrap();
    let conf = format!(
        "[ca]\ndefault_ca=c\n[c]\ndatabase={db}\ncrlnumber={num}\ndefault_md=sha256\n\
         default_crl_days=7\n[ext]\nauthorityKeyIdentifier=keyid\n",
        db = d.join("index.txt").display(),
        num = d.join("crlnumber").display()
    );
    std::fs::write(d.join("ca.cnf"), conf).unwrap();
    let out = run(Command::new(&openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=t", "-days", "2",
        ])
        .arg("-keyout")
        .arg(d.join("k.pem"))
        .arg("-out")
        .arg(d.join("c.pem")));
    assert!(out.status.success(), "{}", text(&out));
    let out = run(Command::new(&openssl)
        .args(["ca", "-batch", "-gencrl", "-crlexts", "ext", "-config"])
        .arg(d.join("ca.cnf"))
        .arg("-keyfile")
        .arg(d.join("k.pem"))
        .arg("-cert")
        .arg(d.join("c.pem"))
        .arg("-out")
        .arg(d.join("crl.pem")));
    assert!(out.status.success(), "{}", text(&out));
    let pem = std::fs::read_to_string(d.join("crl.pem")).unwrap();
    let c = Crl::from_pem(&pem).unwrap();
    assert_eq!(c.crl_number(), 0x1000);
    assert!(c.entries().is_empty());
    let ca = Certificate::from_pem(&std::fs::read_to_string(d.join("c.pem")).unwrap()).unwrap();
    c.verify_signed_by(&ca.subject_public_key_der()).unwrap();
}
