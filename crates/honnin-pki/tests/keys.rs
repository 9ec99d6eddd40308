//! Key storage (PKCS#8, encrypted PKCS#8) and the card's DigestInfo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use honnin_pki::*;

#[test]
fn pkcs8_round_trip_all_algorithms() {
    for alg in KeyAlgorithm::ALL {
        let key = if alg == KeyAlgorithm::Rsa2048 {
            card_sign_key()
        } else if alg == KeyAlgorithm::EcdsaP256 {
            p256_ca_key()
        } else {
            // 3072/4096: generated once here.
            &*Box::leak(Box::new(SoftwareKey::generate(alg).unwrap()))
        };
        let der = key.to_pkcs8_der().unwrap();
        let back = SoftwareKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(back.key_algorithm(), alg);
        assert_eq!(back.public_key_der(), key.public_key_der());
        let sig = back.sign(b"m").unwrap();
        verify_signature(&key.public_key_der(), alg.signature_algorithm(), b"m", &sig).unwrap();
        if alg != KeyAlgorithm::EcdsaP256 {
            assert_eq!(
                rsa_modulus_bits(&key.public_key_der()).unwrap(),
                Some(match alg {
                    KeyAlgorithm::Rsa2048 => 2048,
                    KeyAlgorithm::Rsa3072 => 3072,
                    _ => 4096,
                })
            );
        }
    }
    assert!(matches!(
        SoftwareKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00"),
        Err(PkiError::Malformed { .. })
    ));
}

#[test]
fn encrypted_pkcs8_round_trip_and_wrong_passphrase() {
    for key in [card_sign_key(), p256_ca_key()] {
        let pem = key.to_encrypted_pkcs8_pem(b"correct horse").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        let back = SoftwareKey::from_encrypted_pkcs8_pem(&pem, b"correct horse").unwrap();
        assert_eq!(back.public_key_der(), key.public_key_der());
        assert!(matches!(
            SoftwareKey::from_encrypted_pkcs8_pem(&pem, b"wrong horse"),
            Err(PkiError::WrongPassphrase)
        ));
        assert!(matches!(
            SoftwareKey::from_encrypted_pkcs8_pem(&pem, b""),
            Err(PkiError::WrongPassphrase)
        ));
        // Two encryptions differ (fresh salt and IV).
        assert_ne!(pem, key.to_encrypted_pkcs8_pem(b"correct horse").unwrap());
    }
    assert!(matches!(
        SoftwareKey::from_encrypted_pkcs8_pem("not pem", b"x"),
        Err(PkiError::Malformed { .. })
    ));
}

#[test]
fn openssl_reads_our_encrypted_keys_and_we_read_its() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (i, key) in [card_sign_key(), p256_ca_key()].into_iter().enumerate() {
        let path = dir.path().join(format!("key{i}.pem"));
        std::fs::write(&path, key.to_encrypted_pkcs8_pem(b"s3cret").unwrap()).unwrap();
        let out = run(Command::new(&openssl)
            .args(["pkey", "-passin", "pass:s3cret", "-noout", "-in"])
            .arg(&path));
        assert!(out.status.success(), "{}", text(&out));
        let out = run(Command::new(&openssl)
            .args(["pkey", "-passin", "pass:nope", "-noout", "-in"])
            .arg(&path));
        assert!(!out.status.success());
        // The public key openssl derives is ours.
        let out = run(Command::new(&openssl)
            .args([
                "pkey",
                "-passin",
                "pass:s3cret",
                "-pubout",
                "-outform",
                "DER",
                "-in",
            ])
            .arg(&path));
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(out.stdout, key.public_key_der());

        // And openssl's own PBES2 output (AES-128, HMAC-SHA1 or SHA-256 PRFs) reads back.
        let plain = dir.path().join(format!("plain{i}.pem"));
        std::fs::write(
            &plain,
            honnin_pki::pem::encode("PRIVATE KEY", &key.to_pkcs8_der().unwrap()),
        )
        .unwrap();
        for (cipher, prf) in [
            ("aes-128-cbc", "hmacWithSHA1"),
            ("aes-256-cbc", "hmacWithSHA512"),
        ] {
            let enc = dir.path().join(format!("enc{i}-{cipher}.pem"));
            let out = run(Command::new(&openssl)
                .args([
                    "pkcs8", "-topk8", "-v2", cipher, "-v2prf", prf, "-passout", "pass:pw", "-in",
                ])
                .arg(&plain)
                .arg("-out")
                .arg(&enc));
            assert!(out.status.success(), "{}", text(&out));
            let pem = std::fs::read_to_string(&enc).unwrap();
            let back = SoftwareKey::from_encrypted_pkcs8_pem(&pem, b"pw").unwrap();
            assert_eq!(back.public_key_der(), key.public_key_der());
        }
        // scrypt is refused with a typed error, not a panic.
        let enc = dir.path().join(format!("scrypt{i}.pem"));
        let out = run(Command::new(&openssl)
            .args(["pkcs8", "-topk8", "-scrypt", "-passout", "pass:pw", "-in"])
            .arg(&plain)
            .arg("-out")
            .arg(&enc));
        if out.status.success() {
            let pem = std::fs::read_to_string(&enc).unwrap();
            assert!(matches!(
                SoftwareKey::from_encrypted_pkcs8_pem(&pem, b"pw"),
                Err(PkiError::UnsupportedAlgorithm { .. })
            ));
        }
    }
}

#[test]
fn digest_info_is_what_a_card_signs() {
    // A JPKI card applies raw PKCS#1 v1.5 to the DigestInfo it is sent; that
    // must equal an ordinary RSA-SHA256 signature (PKCS#1 v1.5 is deterministic).
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = card_sign_key();
    let keyfile = dir.path().join("card.pem");
    std::fs::write(
        &keyfile,
        honnin_pki::pem::encode("PRIVATE KEY", &key.to_pkcs8_der().unwrap()),
    )
    .unwrap();
    let msg = b"e-application form";
    let di = dir.path().join("digestinfo.bin");
    std::fs::write(&di, digest_info_sha256(msg)).unwrap();
    let out = run(Command::new(&openssl)
        .args([
            "pkeyutl",
            "-sign",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(&keyfile)
        .arg("-in")
        .arg(&di));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(out.stdout, key.sign(msg).unwrap());
}

#[test]
fn debug_output_hides_key_material() {
    let s = format!("{:?}", card_sign_key());
    assert_eq!(s, "SoftwareKey { algorithm: Rsa2048, .. }");
}
