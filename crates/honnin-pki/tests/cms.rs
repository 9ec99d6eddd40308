//! CMS SignedData: made with a JPKI signature key, read back, checked by
//! OpenSSL, and OpenSSL's own signatures read by us. Bad input never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use honnin_pki::*;

struct Signed {
    ca: Vec<u8>,
    ee: Vec<u8>,
}

fn fixture() -> Signed {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let ee = sign_ee(&ca, sign_ca_key(), &facts());
    Signed { ca, ee }
}

fn sign(f: &Signed, content: &[u8], detached: bool) -> Vec<u8> {
    let req = CmsSignRequest::new(
        content,
        detached,
        &f.ee,
        std::slice::from_ref(&f.ca),
        ts("2026-05-01T03:00:00Z"),
    )
    .unwrap();
    let sig = card_sign_key().sign(req.to_be_signed()).unwrap();
    req.finish(&sig).unwrap()
}

const FORM: &[u8] = "申請書: 転入届 / 氏名 テスト太郎\n".as_bytes();

#[test]
fn attached_and_detached_round_trip() {
    let f = fixture();
    for detached in [false, true] {
        let p7s = sign(&f, FORM, detached);
        let msg = parse_signed_message(&p7s).unwrap();
        assert!(!msg.was_ber);
        assert_eq!(msg.content.is_none(), detached);
        assert_eq!(msg.certificates.len(), 2);
        assert_eq!(msg.content_type, oids::CMS_DATA);
        let given = detached.then_some(FORM);
        let v = msg.verify(given, &[]).unwrap();
        assert_eq!(v.signer_certificate, f.ee);
        assert_eq!(v.signing_time, Some(ts("2026-05-01T03:00:00Z")));
        assert_eq!(v.digest_algorithm, DigestAlgorithm::Sha256);
        assert!(
            msg.signer.signed_attributes.signing_certificate.is_some(),
            "signingCertificateV2 is signed"
        );
    }
}

#[test]
fn tampering_is_told_apart() {
    let f = fixture();
    // Detached: other content.
    let p7s = sign(&f, FORM, true);
    let msg = parse_signed_message(&p7s).unwrap();
    assert_eq!(
        msg.verify(Some(b"other content"), &[]),
        Err(CmsError::HashFailure)
    );
    assert!(matches!(msg.verify(None, &[]), Err(CmsError::Content(_))));

    // Attached: flip a content byte inside the message.
    let p7s = sign(&f, FORM, false);
    let pos = p7s.windows(FORM.len()).position(|w| w == FORM).unwrap();
    let mut bad = p7s.clone();
    bad[pos] ^= 1;
    let msg = parse_signed_message(&bad).unwrap();
    assert_eq!(msg.verify(None, &[]), Err(CmsError::HashFailure));

    // The signature octets (the last 256 bytes of the message).
    let mut bad = p7s.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x40;
    let msg = parse_signed_message(&bad).unwrap();
    assert_eq!(msg.verify(None, &[]), Err(CmsError::SignatureFailure));

    // Certificates stripped: the signer cannot be found unless given.
    let msg = parse_signed_message(&p7s).unwrap();
    let stripped = SignedMessage {
        certificates: vec![],
        ..msg
    };
    assert_eq!(
        stripped.verify(None, &[]),
        Err(CmsError::NoSignerCertificate)
    );
    assert!(stripped.verify(None, std::slice::from_ref(&f.ee)).is_ok());
    // Another certificate with the same issuer and serial is refused by the
    // signed signingCertificateV2 attribute, before the key is even tried.
    let other = sign_ee(&f.ca, sign_ca_key(), &facts());
    let mut msg2 = parse_signed_message(&p7s).unwrap();
    msg2.certificates = vec![other.clone()];
    if let SignerIdentifier::IssuerAndSerial { serial, .. } = &mut msg2.signer.sid {
        *serial = Certificate::from_der(&other)
            .unwrap()
            .inner()
            .tbs_certificate()
            .serial_number()
            .as_bytes()
            .to_vec();
    }
    assert_eq!(
        msg2.verify(None, &[]),
        Err(CmsError::SignerCertificateMismatch)
    );
}

#[test]
fn a_signature_by_another_key_never_becomes_a_message() {
    let f = fixture();
    let req = CmsSignRequest::new(FORM, false, &f.ee, &[], ts("2026-05-01T03:00:00Z")).unwrap();
    let wrong = card_auth_key().sign(req.to_be_signed()).unwrap();
    assert!(matches!(
        req.finish(&wrong),
        Err(PkiError::BadSignature { .. })
    ));
}

#[test]
fn every_truncation_and_garbage_is_a_format_error() {
    let f = fixture();
    let p7s = sign(&f, FORM, false);
    for n in 0..p7s.len() {
        let r = parse_signed_message(&p7s[..n]);
        assert!(
            matches!(r, Err(CmsError::Format(_))),
            "prefix of {n} octets: {r:?}"
        );
    }
    for junk in [
        &b""[..],
        b"\x30\x80",
        b"\x30\x03\x06\x01\x00",
        b"hello world",
    ] {
        assert!(matches!(
            parse_signed_message(junk),
            Err(CmsError::Format(_))
        ));
    }
    // 10,000 nested indefinite SEQUENCEs: refused quickly, no stack overflow.
    let mut deep = b"\x30\x80".repeat(10_000);
    deep.extend(b"\x00\x00".repeat(10_000));
    let e = parse_signed_message(&deep).unwrap_err();
    assert!(e.to_string().contains("nesting"), "{e}");
}

#[test]
fn missing_signed_attributes_and_unknown_algorithms_are_refused() {
    let f = fixture();
    let p7s = sign(&f, FORM, false);
    // Replace the SHA-256 digest OIDs (2.16.840.1.101.3.4.2.1) by MD5's arc
    // length-equivalent 2.16.840.1.101.3.4.2.9 (unassigned).
    let sha256 = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    let mut odd = p7s.clone();
    let mut i = 0;
    while let Some(p) = odd[i..].windows(sha256.len()).position(|w| w == sha256) {
        odd[i + p + 10] = 0x09;
        i += p + 1;
    }
    assert!(matches!(
        parse_signed_message(&odd),
        Err(CmsError::UnsupportedAlgorithm(_))
    ));
    // An OpenSSL signature without signed attributes.
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key, content) = openssl_files(d, &f);
    let out = run(Command::new(&openssl)
        .args([
            "cms",
            "-sign",
            "-binary",
            "-noattr",
            "-nodetach",
            "-outform",
            "DER",
        ])
        .args(["-passin", "pass:pw", "-signer"])
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .arg("-in")
        .arg(&content)
        .arg("-out")
        .arg(d.join("noattr.p7s")));
    assert!(out.status.success(), "{}", text(&out));
    let e = parse_signed_message(&std::fs::read(d.join("noattr.p7s")).unwrap()).unwrap_err();
    assert!(e.to_string().contains("no signed attributes"), "{e}");
}

fn openssl_files(
    d: &std::path::Path,
    f: &Signed,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let cert = write_pem(d, "ee.pem", &f.ee);
    let key = d.join("ee.key");
    std::fs::write(&key, card_sign_key().to_encrypted_pkcs8_pem(b"pw").unwrap()).unwrap();
    let content = d.join("form.txt");
    std::fs::write(&content, FORM).unwrap();
    (cert, key, content)
}

#[test]
fn openssl_verifies_ours_attached_and_detached() {
    let Some(openssl) = openssl() else { return };
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = write_pem(d, "ca.pem", &f.ca);
    let (_, _, content) = openssl_files(d, &f);
    for detached in [false, true] {
        let p7s = d.join(format!("ours-{detached}.p7s"));
        std::fs::write(&p7s, sign(&f, FORM, detached)).unwrap();
        let mut cmd = Command::new(&openssl);
        cmd.args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
            .arg(&p7s)
            .arg("-CAfile")
            .arg(&ca)
            .args([
                "-attime",
                &attime(issued_at() + jiff::SignedDuration::from_hours(2)),
            ])
            .arg("-out")
            .arg(d.join("out.txt"));
        if detached {
            cmd.arg("-content").arg(&content);
        }
        let out = run(&mut cmd);
        assert!(out.status.success(), "detached={detached}: {}", text(&out));
        assert_eq!(std::fs::read(d.join("out.txt")).unwrap(), FORM);
        // And a changed content is refused by OpenSSL too.
        if detached {
            let other = d.join("other.txt");
            std::fs::write(&other, b"changed").unwrap();
            let out = run(Command::new(&openssl)
                .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
                .arg(&p7s)
                .arg("-CAfile")
                .arg(&ca)
                .args([
                    "-attime",
                    &attime(issued_at() + jiff::SignedDuration::from_hours(2)),
                ])
                .arg("-content")
                .arg(&other));
            assert!(!out.status.success());
        }
    }
}

#[test]
fn we_verify_openssls_signatures_der_pem_and_streamed_ber() {
    let Some(openssl) = openssl() else { return };
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key, content) = openssl_files(d, &f);
    let ca = write_pem(d, "ca.pem", &f.ca);
    let cases: [(&str, &[&str]); 4] = [
        ("attached.der", &["-nodetach", "-outform", "DER"]),
        ("detached.der", &["-outform", "DER"]),
        ("attached.pem", &["-nodetach", "-outform", "PEM"]),
        // -stream makes indefinite-length BER.
        ("streamed.ber", &["-nodetach", "-stream", "-outform", "DER"]),
    ];
    for (name, opts) in cases {
        let out_path = d.join(name);
        let out = run(Command::new(&openssl)
            .args(["cms", "-sign", "-binary", "-md", "sha256"])
            .args(opts)
            .args(["-passin", "pass:pw", "-signer"])
            .arg(&cert)
            .arg("-certfile")
            .arg(&ca)
            .arg("-inkey")
            .arg(&key)
            .arg("-in")
            .arg(&content)
            .arg("-out")
            .arg(&out_path));
        assert!(out.status.success(), "{name}: {}", text(&out));
        let bytes = std::fs::read(&out_path).unwrap();
        let msg = parse_signed_message(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name == "streamed.ber" {
            assert!(msg.was_ber, "openssl -stream output is BER");
        }
        let detached = name.starts_with("detached");
        let v = msg
            .verify(detached.then_some(FORM), &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.signer_certificate, f.ee);
        assert!(v.signing_time.is_some());
        if detached {
            assert_eq!(
                msg.verify(Some(b"tampered"), &[]),
                Err(CmsError::HashFailure)
            );
        }
    }
}
