//! PKCS#10: built by our keys, verified by us and by openssl; hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use honnin_pki::*;

const RSA1024_CSR: &[u8] = include_bytes!("data/rsa1024.csr.der");
const P384_CSR: &[u8] = include_bytes!("data/p384.csr.der");

#[test]
fn our_requests_verify() {
    for (key, bits) in [(card_sign_key(), Some(2048)), (p256_ca_key(), None)] {
        let der = build_csr("card-0001", key).unwrap();
        let info = parse_and_verify_csr(&der).unwrap();
        assert_eq!(info.subject_public_key_der, key.public_key_der());
        assert_eq!(info.algorithm, key.algorithm());
        assert_eq!(info.rsa_bits, bits);
        assert_eq!(info.subject_cn.as_deref(), Some("card-0001"));
        assert_eq!(csr_from_pem(&csr_to_pem(&der)).unwrap(), der);
    }
}

#[test]
fn openssl_accepts_our_requests() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (i, key) in [card_sign_key(), p256_ca_key()].into_iter().enumerate() {
        let der = build_csr("card-0001", key).unwrap();
        let path = dir.path().join(format!("req{i}.pem"));
        std::fs::write(&path, csr_to_pem(&der)).unwrap();
        let out = run(Command::new(&openssl)
            .args(["req", "-verify", "-noout", "-in"])
            .arg(&path));
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("verify OK"), "{}", text(&out));
    }
}

#[test]
fn weak_and_foreign_keys_are_refused() {
    assert!(matches!(
        parse_and_verify_csr(RSA1024_CSR),
        Err(PkiError::WeakKey { bits: 1024 })
    ));
    match parse_and_verify_csr(P384_CSR) {
        Err(PkiError::UnsupportedAlgorithm { oid }) => assert_eq!(oid, "1.3.132.0.34"),
        other => panic!("P-384 accepted or wrong error: {other:?}"),
    }
}

#[test]
fn tampered_requests_fail_the_signature() {
    let der = build_csr("card-0001", card_sign_key()).unwrap();
    // Last octet of the signature.
    let mut t = der.clone();
    let n = t.len();
    t[n - 1] ^= 0x01;
    assert!(matches!(
        parse_and_verify_csr(&t),
        Err(PkiError::BadSignature { .. })
    ));
    // A changed subject (signed part).
    let mut t = der.clone();
    let pos = t.windows(9).position(|w| w == b"card-0001").unwrap();
    t[pos] = b'x';
    assert!(matches!(
        parse_and_verify_csr(&t),
        Err(PkiError::BadSignature { .. })
    ));
    // Someone else's key under a valid signature of ours.
    let other = build_csr("card-0001", card_auth_key()).unwrap();
    let mut swapped = der.clone();
    let ours = card_sign_key().public_key_der();
    let theirs = card_auth_key().public_key_der();
    let pos = swapped
        .windows(ours.len())
        .position(|w| w == ours.as_slice())
        .unwrap();
    swapped[pos..pos + ours.len()].copy_from_slice(&theirs);
    assert!(matches!(
        parse_and_verify_csr(&swapped),
        Err(PkiError::BadSignature { .. })
    ));
    assert!(parse_and_verify_csr(&other).is_ok());
}

#[test]
fn garbage_is_malformed_and_never_panics() {
    let der = build_csr("card-0001", card_sign_key()).unwrap();
    for bad in [
        &[][..],
        &[0u8][..],
        &[0x30, 0x80][..],
        &[0xff; 64][..],
        b"hello",
    ] {
        assert!(
            matches!(parse_and_verify_csr(bad), Err(PkiError::Malformed { .. })),
            "{bad:?}"
        );
    }
    for cut in 0..der.len() {
        assert!(parse_and_verify_csr(&der[..cut]).is_err());
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(matches!(
        parse_and_verify_csr(&trailing),
        Err(PkiError::Malformed { .. })
    ));
    // Every single-byte corruption: an error or (rarely) still valid, never a panic.
    for i in 0..der.len() {
        let mut t = der.clone();
        t[i] ^= 0x80;
        let _ = parse_and_verify_csr(&t);
    }
}

#[test]
fn signatures_verify_by_spki() {
    let key = card_sign_key();
    let msg = b"application form";
    let sig = key.sign(msg).unwrap();
    verify_signature(
        &key.public_key_der(),
        SignatureAlgorithm::RsaPkcs1Sha256,
        msg,
        &sig,
    )
    .unwrap();
    assert!(matches!(
        verify_signature(
            &key.public_key_der(),
            SignatureAlgorithm::RsaPkcs1Sha256,
            b"other",
            &sig
        ),
        Err(PkiError::BadSignature { .. })
    ));
    assert!(
        verify_signature(
            &key.public_key_der(),
            SignatureAlgorithm::EcdsaP256Sha256,
            msg,
            &sig
        )
        .is_err()
    );
    assert_eq!(digest_info_sha256(msg).len(), 51);
    assert_eq!(rsa_modulus_bits(&key.public_key_der()).unwrap(), Some(2048));
    assert_eq!(
        rsa_modulus_bits(&p256_ca_key().public_key_der()).unwrap(),
        None
    );
}
