//! The four JPKI profiles: built, checked by openssl and pkilint, decoded back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use honnin_core::{Era, PersonName, Sex};
use honnin_pki::*;
use jiff::civil::date;

struct Set {
    sign_ca: Vec<u8>,
    auth_ca: Vec<u8>,
    sign_ee: Vec<u8>,
    auth_ee: Vec<u8>,
}

fn rsa_set() -> Set {
    let sign_ca = ca(CaKind::Signature, sign_ca_key());
    let auth_ca = ca(CaKind::Authentication, auth_ca_key());
    let sign_ee = sign_ee(&sign_ca, sign_ca_key(), &facts());
    let auth_ee = auth_ee(&auth_ca, auth_ca_key());
    Set {
        sign_ca,
        auth_ca,
        sign_ee,
        auth_ee,
    }
}

fn p256_set() -> Set {
    let sign_ca = ca(CaKind::Signature, p256_ca_key());
    let auth_ca = ca(CaKind::Authentication, p256_ca_key());
    let sign_ee = sign_ee(&sign_ca, p256_ca_key(), &facts());
    let auth_ee = auth_ee(&auth_ca, p256_ca_key());
    Set {
        sign_ca,
        auth_ca,
        sign_ee,
        auth_ee,
    }
}

fn openssl_verify(set: &Set) {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let at = attime(issued_at() + jiff::SignedDuration::from_hours(24));
    for (ca_der, ee_der, n) in [
        (&set.sign_ca, &set.sign_ee, "sign"),
        (&set.auth_ca, &set.auth_ee, "auth"),
    ] {
        let ca = write_pem(dir.path(), &format!("{n}_ca.pem"), ca_der);
        let ee = write_pem(dir.path(), &format!("{n}_ee.pem"), ee_der);
        let out = run(Command::new(&openssl)
            .args(["verify", "-x509_strict", "-attime", &at, "-CAfile"])
            .arg(&ca)
            .arg(&ee));
        assert!(out.status.success(), "openssl verify {n}: {}", text(&out));
    }
}

#[test]
fn openssl_verifies_both_end_entities_rsa() {
    openssl_verify(&rsa_set());
}

#[test]
fn openssl_verifies_both_end_entities_p256_ca() {
    openssl_verify(&p256_set());
}

#[test]
fn openssl_text_shows_jpki_oids() {
    let Some(openssl) = openssl() else { return };
    let mut f = facts();
    f.alias = Some(PersonName::parse("ヤマダ　タロウ").unwrap());
    let set = rsa_set();
    let sign_ee = sign_ee(&set.sign_ca, sign_ca_key(), &f);
    let dir = tempfile::tempdir().unwrap();
    let sign = write_pem(dir.path(), "sign.pem", &sign_ee);
    let auth = write_pem(dir.path(), "auth.pem", &set.auth_ee);
    let out = run(Command::new(&openssl)
        .args(["x509", "-text", "-noout", "-in"])
        .arg(&sign));
    assert!(out.status.success());
    let t = text(&out);
    for n in 1..=6 {
        assert!(
            t.contains(&format!("1.2.392.200149.8.5.5.{n}")),
            "otherName .{n} missing:\n{t}"
        );
    }
    assert!(t.contains("pseudonym"), "alias (pseudonym) missing:\n{t}");
    assert!(t.contains("1.2.392.200149.8.5.1.1.20"), "{t}");
    assert!(t.contains("Digital Signature, Non Repudiation"), "{t}");
    assert!(
        t.contains("C = JP, L = Chiyoda-ku, CN = HN0123456789ABCDEF"),
        "{t}"
    );
    assert!(t.contains("OCSP - URI:http://honnin.test/ocsp"), "{t}");
    assert!(
        t.contains("URI:http://honnin.test/crl/sign-0001.crl"),
        "{t}"
    );
    assert!(!t.contains("CA:TRUE"), "{t}");

    let out = run(Command::new(&openssl)
        .args(["x509", "-text", "-noout", "-in"])
        .arg(&auth));
    let t = text(&out);
    assert!(t.contains("1.2.392.200149.8.5.1.3.30"), "{t}");
    assert!(!t.contains("1.2.392.200149.8.5.5."), "{t}");
    assert!(
        t.contains("Subject: C = JP, CN = HN0123456789ABCDEF"),
        "{t}"
    );
}

fn lint_all(set: &Set, with_alias: bool) {
    let Some(pkilint) = pkilint() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![
        ("sign_ca", set.sign_ca.clone()),
        ("auth_ca", set.auth_ca.clone()),
        ("sign_ee", set.sign_ee.clone()),
        ("auth_ee", set.auth_ee.clone()),
    ];
    if with_alias {
        let mut f = facts();
        f.alias = Some(PersonName::parse("ヤマダ　タロウ").unwrap());
        files.push(("sign_ee_alias", sign_ee(&set.sign_ca, sign_ca_key(), &f)));
    }
    let mut failures = Vec::new();
    for (name, der) in files {
        let p = write_pem(dir.path(), &format!("{name}.pem"), &der);
        let (ok, out) = lint(&pkilint, &p);
        if !ok {
            failures.push(format!("== {name}\n{out}"));
        }
    }
    // Issuer/subject pairs: names, key identifiers, algorithms line up.
    for (issuer, subject) in [
        ("sign_ca", "sign_ee"),
        ("auth_ca", "auth_ee"),
        ("sign_ca", "sign_ca"),
    ] {
        let (ok, out) = lint_chain(
            &pkilint,
            &dir.path().join(format!("{issuer}.pem")),
            &dir.path().join(format!("{subject}.pem")),
        );
        if !ok {
            failures.push(format!("== chain {issuer} -> {subject}\n{out}"));
        }
    }
    assert!(
        failures.is_empty(),
        "pkilint findings:\n{}",
        failures.join("\n")
    );
}

#[test]
fn pkilint_is_clean_rsa() {
    lint_all(&rsa_set(), true);
}

#[test]
fn pkilint_is_clean_p256_ca() {
    lint_all(&p256_set(), false);
}

#[test]
fn the_real_jlis_cas_decode_as_ca_profiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/jpki/ca");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(
            std::env::var("HONNIN_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{} not present",
            dir.display()
        );
        eprintln!("note: {} not present; skipping", dir.display());
        return;
    };
    let mut seen = 0;
    for e in entries {
        let path = e.unwrap().path();
        let pem = std::fs::read_to_string(&path).unwrap();
        let c = Certificate::from_pem(&pem).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let want = if name.starts_with("sign") {
            CaKind::Signature
        } else {
            CaKind::Authentication
        };
        assert_eq!(c.profile(), Profile::Ca(want), "{name}");
        assert!(c.is_self_signed(), "{name}");
        c.verify_signed_by(&c.subject_public_key_der()).unwrap();
        assert_eq!(
            c.subject_name_der(),
            ca_name_der(want),
            "{name}: CA name differs from ours"
        );
        assert_eq!(
            rsa_modulus_bits(&c.subject_public_key_der()).unwrap(),
            Some(2048)
        );
        seen += 1;
    }
    assert_eq!(seen, 4);
}

#[test]
fn our_ca_copies_the_jlis_profile() {
    let set = rsa_set();
    let c = Certificate::from_der(&set.sign_ca).unwrap();
    assert_eq!(c.profile(), Profile::Ca(CaKind::Signature));
    assert!(c.is_ca() && c.is_self_signed());
    assert_eq!(c.subject_key_id(), c.authority_key_id());
    assert_eq!(c.subject_key_id().unwrap().len(), 20);
    assert_eq!(c.crl_urls(), vec![CRL_URL_SIGN_CA.to_string()]);
    assert_eq!(c.not_after(), ca_not_after());
    // Same extension OIDs, order and criticality as the J-LIS 2023 CA, plus AKI.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/jpki/ca");
    if let Ok(pem) = std::fs::read_to_string(dir.join("sign_ca_2023.pem")) {
        let real = Certificate::from_pem(&pem).unwrap();
        let shape = |c: &Certificate| -> Vec<(String, bool)> {
            c.inner()
                .tbs_certificate()
                .extensions()
                .unwrap()
                .iter()
                .map(|e| (e.extn_id.to_string(), e.critical))
                .collect()
        };
        let mut want = shape(&real);
        want.push(("2.5.29.35".into(), false));
        assert_eq!(shape(&c), want);
        // The Japanese name in subjectAltName is byte-for-byte the J-LIS one.
        let san = const_oid::ObjectIdentifier::new_unwrap("2.5.29.17");
        assert_eq!(c.extension_value(&san), real.extension_value(&san));
    }
}

#[test]
fn signature_facts_round_trip() {
    let set = rsa_set();
    for alias in [None, Some("ジョン・スミス")] {
        let mut f = facts();
        f.sex = Sex::Female;
        f.alias = alias.map(|a| PersonName::parse(a).unwrap());
        let der = sign_ee(&set.sign_ca, sign_ca_key(), &f);
        let cert = SignatureCertificate::from_der(&der).unwrap();
        let got = cert.basic_facts().unwrap();
        assert_eq!(
            got,
            SignatureFacts {
                name: "山田\u{3000}太郎".into(),
                name_flags: "01000".into(),
                sex: Sex::Female,
                birth_date: Some(date(1990, 5, 14)),
                birth_era: Some(Era::Heisei),
                address: "東京都千代田区丸の内一丁目2番3号".into(),
                address_flags: "0".repeat(17),
                alias: alias.map(String::from),
            }
        );
        assert_eq!(
            cert.subject_common_name().as_deref(),
            Some("HN0123456789ABCDEF")
        );
        assert_eq!(cert.ocsp_urls(), vec![OCSP_URL.to_string()]);
        assert_eq!(cert.crl_urls(), vec![CRL_URL_EE.to_string()]);
        let ca = Certificate::from_der(&set.sign_ca).unwrap();
        cert.verify_signed_by(&ca.subject_public_key_der()).unwrap();
        assert_eq!(cert.authority_key_id(), ca.subject_key_id());
        assert_eq!(
            cert.subject_public_key_der(),
            card_sign_key().public_key_der()
        );
        // Facts are not in Debug output.
        assert!(!format!("{cert:?}").contains("山田"));
    }
}

#[test]
fn profiles_are_told_apart() {
    let set = rsa_set();
    let p = |d: &[u8]| Certificate::from_der(d).unwrap().profile();
    assert_eq!(p(&set.sign_ca), Profile::Ca(CaKind::Signature));
    assert_eq!(p(&set.auth_ca), Profile::Ca(CaKind::Authentication));
    assert_eq!(p(&set.sign_ee), Profile::Signature);
    assert_eq!(p(&set.auth_ee), Profile::Authentication);

    assert!(matches!(
        AuthenticationCertificate::from_der(&set.sign_ee),
        Err(PkiError::WrongProfile { .. })
    ));
    assert!(matches!(
        SignatureCertificate::from_der(&set.auth_ee),
        Err(PkiError::WrongProfile { .. })
    ));
    assert!(matches!(
        SignatureCertificate::from_der(&set.sign_ca),
        Err(PkiError::WrongProfile { .. })
    ));
    let auth = AuthenticationCertificate::from_der(&set.auth_ee).unwrap();
    assert!(
        auth.extension_value(&const_oid::ObjectIdentifier::new_unwrap("2.5.29.17"))
            .is_none()
    );
    assert_eq!(
        auth.subject_common_name().as_deref(),
        Some("HN0123456789ABCDEF")
    );
}

#[test]
fn issuance_checks_its_inputs() {
    let set = rsa_set();
    let spki = card_sign_key().public_key_der();
    // Wrong CA kind.
    let err = issue_signature_certificate(&set.auth_ca, auth_ca_key(), &ee_params(&spki), &facts())
        .unwrap_err();
    assert!(matches!(err, PkiError::WrongProfile { .. }), "{err}");
    // Signer does not hold the CA key.
    let err = issue_auth_certificate(&set.auth_ca, sign_ca_key(), &ee_params(&spki)).unwrap_err();
    assert!(matches!(err, PkiError::Profile { .. }), "{err}");
    // Validity beyond the CA.
    let mut p = ee_params(&spki);
    p.not_after = ca_not_after() + jiff::SignedDuration::from_secs(1);
    assert!(matches!(
        issue_auth_certificate(&set.auth_ca, auth_ca_key(), &p),
        Err(PkiError::Validity { .. })
    ));
    // Empty CN, bad URL.
    let mut p = ee_params(&spki);
    p.subject_id = "";
    assert!(issue_auth_certificate(&set.auth_ca, auth_ca_key(), &p).is_err());
    let mut p = ee_params(&spki);
    p.ocsp_url = "not a url";
    assert!(issue_auth_certificate(&set.auth_ca, auth_ca_key(), &p).is_err());
    // Flags that do not fit the name.
    let mut f = facts();
    f.name_flags = honnin_core::SubstituteFlags::parse("0").unwrap();
    assert!(matches!(
        issue_signature_certificate(&set.sign_ca, sign_ca_key(), &ee_params(&spki), &f),
        Err(PkiError::Profile { .. })
    ));
    // Garbage subject key.
    let mut p = ee_params(&spki);
    p.subject_public_key_der = b"\x30\x00";
    assert!(matches!(
        issue_auth_certificate(&set.auth_ca, auth_ca_key(), &p),
        Err(PkiError::Malformed { .. })
    ));
}

#[test]
fn pem_round_trip_and_serials() {
    let set = rsa_set();
    let c = Certificate::from_der(&set.sign_ee).unwrap();
    let back = Certificate::from_pem(&c.to_pem()).unwrap();
    assert_eq!(back.der(), c.der());
    assert_eq!(c.serial_hex().len(), 40);
    assert!(
        c.serial_hex()
            .chars()
            .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_lowercase())
    );
    assert!(
        Certificate::from_pem(
            "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"
        )
        .is_err()
    );
}

#[test]
fn garbage_certificates_are_malformed() {
    let set = rsa_set();
    for bad in [
        &[][..],
        &[0x30][..],
        &[0x30, 0x00][..],
        &set.sign_ee[..set.sign_ee.len() - 1],
    ] {
        assert!(matches!(
            Certificate::from_der(bad),
            Err(PkiError::Malformed { .. })
        ));
    }
    let mut trailing = set.sign_ee.clone();
    trailing.push(0);
    assert!(Certificate::from_der(&trailing).is_err());
    // A flipped bit in the signature: decodes, does not verify.
    let mut flipped = set.sign_ee.clone();
    let n = flipped.len();
    flipped[n - 5] ^= 1;
    let c = Certificate::from_der(&flipped).unwrap();
    let ca = Certificate::from_der(&set.sign_ca).unwrap();
    assert!(matches!(
        c.verify_signed_by(&ca.subject_public_key_der()),
        Err(PkiError::BadSignature { .. })
    ));
}
