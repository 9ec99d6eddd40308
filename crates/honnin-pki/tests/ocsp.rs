//! OCSP: the delegated responder's certificate, requests made by openssl,
//! responses checked by openssl and pkilint, malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use honnin_pki::*;
use jiff::{SignedDuration, Timestamp};

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

fn responder_rsa_key() -> &'static SoftwareKey {
    key(6, KeyAlgorithm::Rsa2048)
}
fn responder_p256_key() -> &'static SoftwareKey {
    key(7, KeyAlgorithm::EcdsaP256)
}

/// When responses are produced (openssl is pointed at this time).
fn produced_at() -> Timestamp {
    ts("2026-06-01T00:00:00Z")
}
fn responder_not_before() -> Timestamp {
    ts("2026-05-15T00:00:00Z")
}
fn responder_not_after() -> Timestamp {
    ts("2026-08-15T14:59:59Z")
}

struct Fixture {
    ca: Vec<u8>,
    responder: Vec<u8>,
    responder_key: &'static SoftwareKey,
    good: Vec<u8>,
    revoked: Vec<u8>,
}

fn fixture(responder_key: &'static SoftwareKey) -> Fixture {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let responder = build_ocsp_responder_certificate(
        &ca,
        sign_ca_key(),
        &responder_key.public_key_der(),
        random_serial(),
        responder_not_before(),
        responder_not_after(),
    )
    .unwrap();
    let good = sign_ee(&ca, sign_ca_key(), &facts());
    let revoked = sign_ee(&ca, sign_ca_key(), &facts());
    Fixture {
        ca,
        responder,
        responder_key,
        good,
        revoked,
    }
}

fn revoked_at() -> Timestamp {
    ts("2026-05-20T03:00:00Z")
}

/// The status honnin's responder would give: the fixture's revoked
/// certificate is revoked (affiliationChanged), the good one is good, and
/// anything else is unknown.
fn answer(f: &Fixture, id: &CertId) -> SingleResponse {
    let serial_good = serial_of(&f.good);
    let serial_revoked = serial_of(&f.revoked);
    let status = if id.serial == serial_good {
        CertStatus::Good
    } else if id.serial == serial_revoked {
        CertStatus::Revoked {
            at: revoked_at(),
            reason: Some(RevocationReason::AffiliationChanged),
        }
    } else {
        CertStatus::Unknown
    };
    SingleResponse {
        cert_id: id.clone(),
        status,
        this_update: produced_at() - hours(1),
        next_update: Some(produced_at() + hours(23)),
    }
}

fn respond(f: &Fixture, req: &OcspRequest) -> Vec<u8> {
    let answers: Vec<SingleResponse> = req.cert_ids.iter().map(|id| answer(f, id)).collect();
    build_ocsp_response(
        &f.responder,
        f.responder_key,
        &answers,
        produced_at(),
        req.nonce.as_deref(),
    )
    .unwrap()
}

fn write(dir: &Path, name: &str, der: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, der).unwrap();
    p
}

/// `openssl ocsp -issuer ca -cert <each> -reqout req.der [extra]`.
fn openssl_request(openssl: &Path, dir: &Path, certs: &[&Path], extra: &[&str]) -> Vec<u8> {
    let ca = dir.join("ca.pem");
    let req = dir.join("req.der");
    let mut cmd = Command::new(openssl);
    // The digest option must come before -cert.
    cmd.arg("ocsp").arg("-issuer").arg(&ca).args(extra);
    for c in certs {
        cmd.arg("-cert").arg(c);
    }
    cmd.arg("-reqout").arg(&req);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::read(&req).unwrap()
}

/// `openssl ocsp -respin … -resp_text` verifying against the CA with the
/// time set to `produced_at`; returns (success, output). Unless `extra`
/// gives the request (`-reqin`), openssl makes up a request from `-cert` /
/// `-serial`, whose nonce is turned off (it could not match).
fn openssl_check(
    openssl: &Path,
    dir: &Path,
    resp: &[u8],
    certs: &[&Path],
    extra: &[&str],
) -> (bool, String) {
    let resp = write(dir, "resp.der", resp);
    let mut cmd = Command::new(openssl);
    cmd.arg("ocsp")
        .arg("-respin")
        .arg(&resp)
        .arg("-issuer")
        .arg(dir.join("ca.pem"))
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .args(["-resp_text", "-attime", &attime(produced_at())])
        // Status times are checked against the wall clock: allow any.
        .args(["-validity_period", "1000000000"]);
    for c in certs {
        cmd.arg("-cert").arg(c);
    }
    if !extra.contains(&"-reqin") {
        cmd.arg("-no_nonce");
    }
    cmd.args(extra);
    let out = run(&mut cmd);
    (out.status.success(), text(&out))
}

fn files(f: &Fixture, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    write_pem(dir, "ca.pem", &f.ca);
    write_pem(dir, "responder.pem", &f.responder);
    (
        write_pem(dir, "good.pem", &f.good),
        write_pem(dir, "revoked.pem", &f.revoked),
        dir.join("responder.pem"),
    )
}

// ---------------------------------------------------------------------------
// Responder certificate
// ---------------------------------------------------------------------------

#[test]
fn responder_certificate_profile() {
    for k in [responder_rsa_key(), responder_p256_key()] {
        let f = fixture(k);
        let c = Certificate::from_der(&f.responder).unwrap();
        let ca = Certificate::from_der(&f.ca).unwrap();
        c.verify_signed_by(&ca.subject_public_key_der()).unwrap();
        assert_eq!(c.issuer_name_der(), ca.subject_name_der());
        assert_eq!(c.authority_key_id(), ca.subject_key_id());
        assert!(!c.is_ca());
        assert_eq!(c.profile(), Profile::Other);
        assert_eq!(c.subject_common_name().as_deref(), Some(OCSP_RESPONDER_CN));
        assert_eq!(c.subject_public_key_der(), k.public_key_der());
        assert!(c.crl_urls().is_empty() && c.ocsp_urls().is_empty());
    }

    let Some(openssl) = openssl() else { return };
    let f = fixture(responder_rsa_key());
    let dir = tempfile::tempdir().unwrap();
    let (_, _, responder) = files(&f, dir.path());
    let out = run(Command::new(&openssl)
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&responder));
    let t = text(&out);
    for want in [
        "Subject: C = JP, O = JPKI, OU = JPKI for digital signature, \
         OU = Japan Agency for Local Authority Information Systems, CN = OCSP Responder",
        "X509v3 Key Usage: critical",
        "Digital Signature",
        "OCSP Signing",
        "OCSP No Check",
        "X509v3 Authority Key Identifier",
        "X509v3 Subject Key Identifier",
    ] {
        assert!(t.contains(want), "{want} missing:\n{t}");
    }
    let out = run(Command::new(&openssl)
        .args([
            "verify",
            "-x509_strict",
            "-purpose",
            "ocsphelper",
            "-attime",
        ])
        .arg(attime(produced_at()))
        .arg("-CAfile")
        .arg(dir.path().join("ca.pem"))
        .arg(&responder));
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn pkilint_accepts_the_responder_certificate() {
    let Some(pkilint) = pkilint() else { return };
    let mut failures = Vec::new();
    for (name, k) in [("rsa", responder_rsa_key()), ("p256", responder_p256_key())] {
        let f = fixture(k);
        let dir = tempfile::tempdir().unwrap();
        let ca = write_pem(dir.path(), "ca.pem", &f.ca);
        let r = write_pem(dir.path(), "responder.pem", &f.responder);
        let (ok, out) = lint(&pkilint, &r);
        if !ok {
            failures.push(format!("== {name}\n{out}"));
        }
        let (ok, out) = lint_chain(&pkilint, &ca, &r);
        if !ok {
            failures.push(format!("== {name} chain\n{out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn responder_certificate_refusals() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let spki = responder_rsa_key().public_key_der();
    let nb = responder_not_before();
    let build = |ca: &[u8], signer: &dyn Signer, spki: &[u8], nb: Timestamp, na: Timestamp| {
        build_ocsp_responder_certificate(ca, signer, spki, random_serial(), nb, na)
    };
    assert!(build(&ca, sign_ca_key(), &spki, nb, nb + hours(24 * 100)).is_ok());
    assert!(matches!(
        build(&ca, sign_ca_key(), &spki, nb, nb + hours(24 * 100 + 1)),
        Err(PkiError::Validity { .. })
    ));
    assert!(build(&ca, sign_ca_key(), &spki, nb, nb).is_err());
    assert!(build(&ca, sign_ca_key(), &spki, ca_not_before() - hours(1), nb).is_err());
    assert!(build(&ca, new_sign_ca_key(), &spki, nb, nb + hours(24)).is_err());
    let ee = sign_ee(&ca, sign_ca_key(), &facts());
    assert!(matches!(
        build(&ee, card_sign_key(), &spki, nb, nb + hours(24)),
        Err(PkiError::WrongProfile { .. })
    ));
    assert!(build(&ca, sign_ca_key(), b"junk", nb, nb + hours(24)).is_err());
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

#[test]
fn parses_openssl_requests() {
    let Some(openssl) = openssl() else { return };
    let f = fixture(responder_rsa_key());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (good, revoked, _) = files(&f, d);

    let der = openssl_request(&openssl, d, &[&good], &["-no_nonce"]);
    let req = parse_ocsp_request(&der).unwrap();
    assert_eq!(
        req.cert_ids,
        vec![cert_id_for(&f.good, &f.ca, HashAlgorithm::Sha1).unwrap()]
    );
    assert_eq!(req.nonce, None);
    // What we build for the same question is what openssl sends.
    assert_eq!(build_ocsp_request(&req.cert_ids, None), der);

    let der = openssl_request(&openssl, d, &[&good, &revoked], &["-sha256"]);
    let req = parse_ocsp_request(&der).unwrap();
    assert_eq!(
        req.cert_ids,
        vec![
            cert_id_for(&f.good, &f.ca, HashAlgorithm::Sha256).unwrap(),
            cert_id_for(&f.revoked, &f.ca, HashAlgorithm::Sha256).unwrap(),
        ]
    );
    let nonce = req.nonce.clone().unwrap();
    assert_eq!(nonce.len(), 16);
    assert_eq!(build_ocsp_request(&req.cert_ids, Some(&nonce)), der);
}

#[test]
fn malformed_requests_are_errors() {
    let f = fixture(responder_rsa_key());
    let id = cert_id_for(&f.good, &f.ca, HashAlgorithm::Sha1).unwrap();
    let real = build_ocsp_request(std::slice::from_ref(&id), Some(&[0x5a; 16]));
    assert!(parse_ocsp_request(&real).is_ok());

    assert!(parse_ocsp_request(&[]).is_err());
    for cut in 0..real.len() {
        assert!(parse_ocsp_request(&real[..cut]).is_err(), "prefix {cut}");
    }
    let mut trailing = real.clone();
    trailing.push(0);
    assert!(parse_ocsp_request(&trailing).is_err());
    let mut wrong_tag = real.clone();
    wrong_tag[0] = 0x31;
    assert!(parse_ocsp_request(&wrong_tag).is_err());
    // A length far beyond the input, and lengths in non-minimal form.
    assert!(parse_ocsp_request(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00]).is_err());
    assert!(parse_ocsp_request(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]).is_err());
    assert!(parse_ocsp_request(&[0x30, 0x80, 0x00, 0x00]).is_err()); // indefinite
    assert!(parse_ocsp_request(&[0x30, 0x81, 0x02, 0x30, 0x00]).is_err());
    // Larger than 64 KiB (even if it were well-formed).
    let mut huge = vec![0x30, 0x83, 0x01, 0x00, 0x04];
    huge.resize(0x1_0004 + 1, 0);
    assert!(parse_ocsp_request(&huge).is_err());
    // An unknown hash OID (SHA-1 1.3.14.3.2.26 → 1.3.14.3.2.27).
    let sha1 = [0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a];
    let at = real.windows(7).position(|w| w == sha1).unwrap();
    let mut other_hash = real.clone();
    other_hash[at + 6] = 0x1b;
    assert!(matches!(
        parse_ocsp_request(&other_hash),
        Err(PkiError::UnsupportedAlgorithm { .. })
    ));
    // A hash of the wrong length for its algorithm.
    let short = CertId {
        issuer_name_hash: vec![1; 19],
        ..id.clone()
    };
    assert!(parse_ocsp_request(&build_ocsp_request(&[short], None)).is_err());
    // A negative serial (flip the sign of the INTEGER's first octet).
    let neg = CertId {
        serial: vec![0x7f, 1],
        ..id.clone()
    };
    let mut neg_der = build_ocsp_request(&[neg], None);
    let p = neg_der
        .windows(4)
        .position(|w| w == [0x02, 0x02, 0x7f, 0x01])
        .unwrap();
    neg_der[p + 2] = 0xff;
    assert!(parse_ocsp_request(&neg_der).is_err());
    // Zero, and more than 100, certificates.
    assert!(parse_ocsp_request(&build_ocsp_request(&[], None)).is_err());
    let many = vec![id.clone(); OCSP_MAX_CERT_IDS + 1];
    assert!(parse_ocsp_request(&build_ocsp_request(&many, None)).is_err());
    assert!(parse_ocsp_request(&build_ocsp_request(&many[1..], None)).is_ok());

    // An unknown critical request extension; the same non-critical is ignored.
    let with_ext = |critical: bool| {
        let mut ext = vec![0x06, 0x03, 0x2a, 0x03, 0x04];
        if critical {
            ext.extend_from_slice(&[0x01, 0x01, 0xff]);
        }
        ext.extend_from_slice(&[0x04, 0x02, 0x05, 0x00]);
        let ext = der_tlv(0x30, &ext);
        let exts = der_tlv(0xa2, &der_tlv(0x30, &ext));
        let list = der_tlv(0x30, &der_tlv(0x30, &id.to_der()));
        let mut tbs = list;
        tbs.extend_from_slice(&exts);
        der_tlv(0x30, &der_tlv(0x30, &tbs))
    };
    assert!(parse_ocsp_request(&with_ext(false)).is_ok());
    assert!(parse_ocsp_request(&with_ext(true)).is_err());
    // Nonces outside 1..=32 octets.
    assert!(parse_ocsp_request(&build_ocsp_request(std::slice::from_ref(&id), Some(&[]))).is_err());
    assert!(
        parse_ocsp_request(&build_ocsp_request(
            std::slice::from_ref(&id),
            Some(&[1; 33])
        ))
        .is_err()
    );
    assert!(
        parse_ocsp_request(&build_ocsp_request(
            std::slice::from_ref(&id),
            Some(&[1; 32])
        ))
        .is_ok()
    );
    // Every single-octet change of a real request: an error or a request.
    for i in 0..real.len() {
        for bit in [0x01u8, 0x80] {
            let mut m = real.clone();
            m[i] ^= bit;
            let _ = parse_ocsp_request(&m);
        }
    }
}

/// A DER TLV for the short lengths used in these tests.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128);
    let mut v = vec![tag, content.len() as u8];
    v.extend_from_slice(content);
    v
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

#[test]
fn responses_round_trip() {
    let f = fixture(responder_p256_key());
    let ids: Vec<CertId> = [&f.good, &f.revoked]
        .iter()
        .map(|c| cert_id_for(c, &f.ca, HashAlgorithm::Sha256).unwrap())
        .chain([CertId {
            serial: vec![0x12, 0x34],
            ..cert_id_for(&f.good, &f.ca, HashAlgorithm::Sha1).unwrap()
        }])
        .collect();
    let req = OcspRequest {
        cert_ids: ids.clone(),
        nonce: Some(vec![9; 20]),
    };
    let der = respond(&f, &req);
    let r = OcspResponse::from_der(&der).unwrap();
    assert!(r.is_successful());
    assert_eq!(r.error_status(), None);
    assert_eq!(r.produced_at(), Some(produced_at()));
    assert_eq!(r.nonce(), Some(&[9u8; 20][..]));
    assert_eq!(r.responses().len(), 3);
    assert_eq!(r.find(&ids[0]).unwrap().status, CertStatus::Good);
    assert_eq!(
        r.find(&ids[1]).unwrap().status,
        CertStatus::Revoked {
            at: revoked_at(),
            reason: Some(RevocationReason::AffiliationChanged)
        }
    );
    assert_eq!(r.find(&ids[2]).unwrap().status, CertStatus::Unknown);
    assert_eq!(
        r.find(&ids[0]).unwrap().next_update,
        Some(produced_at() + hours(23))
    );
    let responder = Certificate::from_der(&f.responder).unwrap();
    assert_eq!(r.certs(), std::slice::from_ref(&f.responder));
    assert_eq!(r.responder_certificate().as_ref(), Some(&responder));
    assert_eq!(
        r.responder_id(),
        Some(&ResponderId::ByKey(responder.subject_key_id().unwrap()))
    );
    assert_eq!(
        r.signature_algorithm(),
        Some(SignatureAlgorithm::EcdsaP256Sha256)
    );
    r.verify_signed_by(&responder.subject_public_key_der())
        .unwrap();
    let ca = Certificate::from_der(&f.ca).unwrap();
    assert!(r.verify_signed_by(&ca.subject_public_key_der()).is_err());

    // Without a nonce, none is echoed; Unspecified is written as no reason.
    let single = SingleResponse {
        cert_id: ids[1].clone(),
        status: CertStatus::Revoked {
            at: revoked_at(),
            reason: Some(RevocationReason::Unspecified),
        },
        this_update: produced_at(),
        next_update: None,
    };
    let der = build_ocsp_response(
        &f.responder,
        f.responder_key,
        std::slice::from_ref(&single),
        produced_at(),
        None,
    )
    .unwrap();
    let r = OcspResponse::from_der(&der).unwrap();
    assert_eq!(r.nonce(), None);
    assert_eq!(
        r.responses()[0].status,
        CertStatus::Revoked {
            at: revoked_at(),
            reason: None
        }
    );
    assert_eq!(r.responses()[0].next_update, None);
    // Truncations are errors.
    for cut in 0..der.len() {
        assert!(OcspResponse::from_der(&der[..cut]).is_err(), "prefix {cut}");
    }
}

#[test]
fn response_refusals() {
    let f = fixture(responder_rsa_key());
    let id = cert_id_for(&f.good, &f.ca, HashAlgorithm::Sha1).unwrap();
    let good = SingleResponse {
        cert_id: id.clone(),
        status: CertStatus::Good,
        this_update: produced_at(),
        next_update: Some(produced_at() + hours(1)),
    };
    let build =
        |cert: &[u8], k: &dyn Signer, rs: &[SingleResponse], at: Timestamp, n: Option<&[u8]>| {
            build_ocsp_response(cert, k, rs, at, n)
        };
    let k = responder_rsa_key();
    let one = std::slice::from_ref(&good);
    assert!(build(&f.responder, k, one, produced_at(), Some(&[1; 32])).is_ok());
    // No answers; a nonce of 0 or 33 octets.
    assert!(build(&f.responder, k, &[], produced_at(), None).is_err());
    assert!(build(&f.responder, k, one, produced_at(), Some(&[])).is_err());
    assert!(build(&f.responder, k, one, produced_at(), Some(&[1; 33])).is_err());
    // The wrong key; a certificate that may not sign OCSP responses.
    assert!(build(&f.responder, responder_p256_key(), one, produced_at(), None).is_err());
    assert!(build(&f.good, card_sign_key(), one, produced_at(), None).is_err());
    // The CA itself may answer.
    assert!(build(&f.ca, sign_ca_key(), one, produced_at(), None).is_ok());
    // Outside the responder certificate's validity.
    assert!(matches!(
        build(&f.responder, k, one, responder_not_after() + hours(1), None),
        Err(PkiError::Validity { .. })
    ));
    // nextUpdate before thisUpdate; revoked after thisUpdate.
    let bad = SingleResponse {
        next_update: Some(produced_at() - hours(1)),
        ..good.clone()
    };
    assert!(build(&f.responder, k, &[bad], produced_at(), None).is_err());
    let bad = SingleResponse {
        status: CertStatus::Revoked {
            at: produced_at() + hours(1),
            reason: None,
        },
        ..good.clone()
    };
    assert!(build(&f.responder, k, &[bad], produced_at(), None).is_err());
}

#[test]
fn openssl_accepts_responses() {
    let Some(openssl) = openssl() else { return };
    for k in [responder_rsa_key(), responder_p256_key()] {
        let f = fixture(k);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (good, revoked, responder) = files(&f, d);

        // Good and revoked in one request with a nonce; unknown below.
        let req_der = openssl_request(&openssl, d, &[&good, &revoked], &[]);
        let req = parse_ocsp_request(&req_der).unwrap();
        let resp = respond(&f, &req);
        let (ok, out) = openssl_check(&openssl, d, &resp, &[&good, &revoked], &[]);
        assert!(ok, "{out}");
        for want in [
            "Response verify OK",
            "good.pem: good",
            "revoked.pem: revoked",
            "Reason: affiliationChanged",
            "Revocation Time: May 20 03:00:00 2026 GMT",
            "Responder Id: ",
            "OCSP Nonce",
        ] {
            assert!(out.contains(want), "{want} missing:\n{out}");
        }
        // The same with the responder named explicitly (-VAfile).
        let resp_file = write(d, "resp.der", &resp);
        let out = run(Command::new(&openssl)
            .arg("ocsp")
            .arg("-respin")
            .arg(&resp_file)
            .arg("-VAfile")
            .arg(&responder)
            .arg("-issuer")
            .arg(d.join("ca.pem"))
            .arg("-cert")
            .arg(&good)
            .arg("-no_nonce")
            .args(["-attime", &attime(produced_at())])
            .args(["-validity_period", "1000000000"]));
        assert!(
            out.status.success() && text(&out).contains("Response verify OK"),
            "{}",
            text(&out)
        );

        // openssl checks the nonce when given the request: echoed → no
        // complaint; missing → a warning; different → an error.
        let req_file = write(d, "req.der", &req_der);
        let reqin = ["-reqin", req_file.to_str().unwrap()];
        let (ok, out) = openssl_check(&openssl, d, &resp, &[], &reqin);
        assert!(
            ok && !out.to_lowercase().contains("nonce verify error"),
            "{out}"
        );
        assert!(!out.contains("WARNING: no nonce"), "{out}");
        let no_nonce = build_ocsp_response(
            &f.responder,
            k,
            &req.cert_ids
                .iter()
                .map(|i| answer(&f, i))
                .collect::<Vec<_>>(),
            produced_at(),
            None,
        )
        .unwrap();
        let (_, out) = openssl_check(&openssl, d, &no_nonce, &[], &reqin);
        assert!(out.contains("WARNING: no nonce in response"), "{out}");
        let other_nonce = build_ocsp_response(
            &f.responder,
            k,
            &req.cert_ids
                .iter()
                .map(|i| answer(&f, i))
                .collect::<Vec<_>>(),
            produced_at(),
            Some(&[0; 16]),
        )
        .unwrap();
        let (ok, out) = openssl_check(&openssl, d, &other_nonce, &[], &reqin);
        assert!(!ok && out.contains("Nonce Verify error"), "{out}");

        // Unknown: a serial this CA never issued.
        let mut unknown = cert_id_for(&f.good, &f.ca, HashAlgorithm::Sha1).unwrap();
        unknown.serial = vec![0x0f, 0xed, 0xcb];
        let resp = respond(
            &f,
            &OcspRequest {
                cert_ids: vec![unknown],
                nonce: None,
            },
        );
        let (ok, out) = openssl_check(&openssl, d, &resp, &[], &["-serial", "0x0FEDCB"]);
        assert!(ok && out.contains("0x0FEDCB: unknown"), "{out}");
    }
}

#[test]
fn pkilint_accepts_responses() {
    let Some(pkilint) = pkilint() else { return };
    let mut failures = Vec::new();
    for (name, k) in [("rsa", responder_rsa_key()), ("p256", responder_p256_key())] {
        let f = fixture(k);
        let ids: Vec<CertId> = [&f.good, &f.revoked]
            .iter()
            .map(|c| cert_id_for(c, &f.ca, HashAlgorithm::Sha1).unwrap())
            .collect();
        let mut unknown = ids[0].clone();
        unknown.serial = vec![1, 2, 3];
        let cases = [
            ("good", vec![ids[0].clone()], Some(vec![3u8; 16])),
            ("revoked", vec![ids[1].clone()], None),
            ("unknown", vec![unknown.clone()], None),
            (
                "all",
                vec![ids[0].clone(), ids[1].clone(), unknown],
                Some(vec![4; 32]),
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (case, cert_ids, nonce) in cases {
            let der = respond(&f, &OcspRequest { cert_ids, nonce });
            let p = write(dir.path(), &format!("{case}.der"), &der);
            let (ok, out) = lint_ocsp(&pkilint, &p);
            if !ok {
                failures.push(format!("== {name} {case}\n{out}"));
            }
        }
        let p = write(
            dir.path(),
            "error.der",
            &ocsp_error_response(OcspResponseStatus::MalformedRequest),
        );
        let (ok, out) = lint_ocsp(&pkilint, &p);
        if !ok {
            failures.push(format!("== error\n{out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_responses() {
    for s in [
        OcspResponseStatus::MalformedRequest,
        OcspResponseStatus::InternalError,
        OcspResponseStatus::TryLater,
        OcspResponseStatus::SigRequired,
        OcspResponseStatus::Unauthorized,
    ] {
        let der = ocsp_error_response(s);
        assert_eq!(der, [0x30, 0x03, 0x0a, 0x01, s.code()]);
        let r = OcspResponse::from_der(&der).unwrap();
        assert_eq!(r.error_status(), Some(s));
        assert!(r.responses().is_empty() && r.produced_at().is_none());
    }
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "err.der",
        &ocsp_error_response(OcspResponseStatus::MalformedRequest),
    );
    let out = run(Command::new(&openssl)
        .args(["ocsp", "-resp_text", "-respin"])
        .arg(&p));
    let t = text(&out);
    assert!(t.to_lowercase().contains("malformedrequest"), "{t}");
}
