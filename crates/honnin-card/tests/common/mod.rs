//! Scenarios every [`JpkiCard`] must pass, written once against the trait.
//!
//! Each scenario takes a fresh card whose PINs are [`AUTH_PIN`] and [`SIGN_PIN`],
//! with no keys and no certificates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    UnparsedPublicKey,
};
use honnin_card::{CardError, DigestAlgorithm, JpkiCard, KeyRef};

pub const AUTH_PIN: &str = "1234";
pub const SIGN_PIN: &str = "ABC123";

/// What differs between implementations.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// The card counts wrong PINs down and locks (SoftHSM2 does not).
    pub enforces_tries: bool,
}

pub fn pin_of(which: KeyRef) -> &'static str {
    match which {
        KeyRef::Auth => AUTH_PIN,
        KeyRef::Sign => SIGN_PIN,
    }
}

fn wrong_pin_of(which: KeyRef) -> &'static str {
    match which {
        KeyRef::Auth => "9999",
        KeyRef::Sign => "WRONG99",
    }
}

// ---------------------------------------------------------------- tiny DER builder

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, (len & 0xff) as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn name(cn: &str) -> Vec<u8> {
    let cn_oid = tlv(0x06, &[0x55, 0x04, 0x03]);
    let atv = seq(&[cn_oid, tlv(0x0c, cn.as_bytes())]);
    seq(&[tlv(0x31, &atv)])
}

/// A DER structure shaped like an X.509 certificate (not validly signed: the card only
/// checks the shape).
pub fn fake_cert(subject: &str, issuer: &str, serial: u8, spki: &[u8]) -> Vec<u8> {
    let alg = seq(&[
        tlv(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        ),
        vec![0x05, 0x00],
    ]);
    let validity = seq(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"300101145959Z")]);
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[serial]),
        alg.clone(),
        name(issuer),
        validity,
        name(subject),
        spki.to_vec(),
    ]);
    let mut sig = vec![0u8];
    sig.extend_from_slice(&[0x5a; 256]);
    seq(&[tbs, alg, tlv(0x03, &sig)])
}

// ---------------------------------------------------------------- helpers

pub fn verify_signature(spki: &[u8], alg: DigestAlgorithm, message: &[u8], signature: &[u8]) {
    let params = match alg {
        DigestAlgorithm::Sha256 => &RSA_PKCS1_2048_8192_SHA256,
        DigestAlgorithm::Sha384 => &RSA_PKCS1_2048_8192_SHA384,
        DigestAlgorithm::Sha512 => &RSA_PKCS1_2048_8192_SHA512,
    };
    UnparsedPublicKey::new(params, spki)
        .verify(message, signature)
        .unwrap_or_else(|_| panic!("{alg:?} signature does not verify"));
}

pub fn assert_rsa2048(spki: &[u8]) {
    let public = aws_lc_rs::rsa::PublicKey::from_der(spki).expect("SPKI of an RSA key");
    assert_eq!(public.modulus_len(), 256, "RSA-2048");
    assert_eq!(
        public.exponent().big_endian_without_leading_zero(),
        &[1, 0, 1]
    );
    // SubjectPublicKeyInfo, not a bare RSAPublicKey: starts SEQUENCE { SEQUENCE { OID rsaEncryption
    let rsa_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    assert!(
        spki.windows(rsa_oid.len()).take(12).any(|w| w == rsa_oid),
        "SPKI carries rsaEncryption"
    );
}

pub fn is_pin_required(r: Result<impl std::fmt::Debug, CardError>, which: KeyRef) {
    match r {
        Err(CardError::PinRequired { which: w }) => assert_eq!(w, which),
        other => panic!("expected PinRequired({which:?}), got {other:?}"),
    }
}

fn generate(card: &mut dyn JpkiCard, which: KeyRef) -> Vec<u8> {
    card.verify_pin(which, pin_of(which)).unwrap();
    card.generate_key_pair(which).unwrap()
}

// ---------------------------------------------------------------- scenarios

pub fn token_string(card: &mut dyn JpkiCard) {
    assert_eq!(card.token_string(), "JPKIAPICCTOKEN2");
}

/// Malformed PINs are refused before they reach the counter.
pub fn pin_format_rules(card: &mut dyn JpkiCard) {
    for bad in ["123", "12345", "12a4", "", "ABCD"] {
        match card.verify_pin(KeyRef::Auth, bad) {
            Err(CardError::PinFormat {
                which: KeyRef::Auth,
                reason,
            }) => assert!(!reason.contains(bad) || bad.is_empty()),
            other => panic!("auth {bad:?}: {other:?}"),
        }
    }
    for bad in ["ABC12", "abc123", "ABCDEFGHIJ1234567", "ABC 123", "ABC-123"] {
        assert!(
            matches!(
                card.verify_pin(KeyRef::Sign, bad),
                Err(CardError::PinFormat {
                    which: KeyRef::Sign,
                    ..
                })
            ),
            "sign {bad:?}"
        );
    }
    for which in KeyRef::ALL {
        let st = card.pin_status(which).unwrap();
        assert_eq!(st.tries_left, which.max_tries(), "no try used");
        assert_eq!(st.max_tries, which.max_tries());
        assert!(!st.locked);
    }
    // Changing to or unblocking with a malformed PIN is refused too.
    assert!(matches!(
        card.change_pin(KeyRef::Auth, AUTH_PIN, "12345"),
        Err(CardError::PinFormat { .. })
    ));
    assert!(matches!(
        card.change_pin(KeyRef::Sign, SIGN_PIN, "abc123"),
        Err(CardError::PinFormat { .. })
    ));
    assert!(matches!(
        card.unblock_pin(KeyRef::Auth, "12a4"),
        Err(CardError::PinFormat { .. })
    ));
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    card.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
}

/// Three wrong auth PINs: 2 left, 1 left, then locked, and the right PIN no longer
/// works. Where the token does not count, a wrong PIN is still refused and the right
/// one still works.
pub fn wrong_pin_locks(card: &mut dyn JpkiCard, caps: Caps) {
    if caps.enforces_tries {
        for expected in [2u8, 1] {
            match card.verify_pin(KeyRef::Auth, "9999") {
                Err(CardError::WrongPin {
                    which: KeyRef::Auth,
                    tries_left,
                }) => assert_eq!(tries_left, expected),
                other => panic!("expected WrongPin({expected}), got {other:?}"),
            }
            assert_eq!(card.pin_status(KeyRef::Auth).unwrap().tries_left, expected);
        }
        let e = card.verify_pin(KeyRef::Auth, "9999").unwrap_err();
        assert!(
            matches!(
                e,
                CardError::Locked {
                    which: KeyRef::Auth
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("municipal window"), "{e}");
        let st = card.pin_status(KeyRef::Auth).unwrap();
        assert!(st.locked);
        assert_eq!(st.tries_left, 0);
        assert!(matches!(
            card.verify_pin(KeyRef::Auth, AUTH_PIN),
            Err(CardError::Locked {
                which: KeyRef::Auth
            })
        ));
        is_pin_required(card.generate_key_pair(KeyRef::Auth), KeyRef::Auth);
        // The other PIN is unaffected.
        assert_eq!(card.pin_status(KeyRef::Sign).unwrap().tries_left, 5);
        card.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
        // Sign PIN: 5 tries.
        for expected in [4u8, 3, 2, 1] {
            assert!(matches!(
                card.verify_pin(KeyRef::Sign, "WRONG99"),
                Err(CardError::WrongPin { tries_left, .. }) if tries_left == expected
            ));
        }
        assert!(matches!(
            card.verify_pin(KeyRef::Sign, "WRONG99"),
            Err(CardError::Locked {
                which: KeyRef::Sign
            })
        ));
    } else {
        for _ in 0..3 {
            match card.verify_pin(KeyRef::Auth, "9999") {
                Err(CardError::WrongPin {
                    which: KeyRef::Auth,
                    tries_left,
                }) => assert!((1..3).contains(&tries_left), "{tries_left}"),
                other => panic!("expected WrongPin, got {other:?}"),
            }
        }
        let st = card.pin_status(KeyRef::Auth).unwrap();
        assert!(
            st.tries_left < st.max_tries,
            "{st:?}: the token flags a wrong PIN"
        );
        card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    }
}

/// A wrong PIN uses a try, a right one restores them all; a wrong PIN also forgets
/// an earlier verification.
pub fn success_resets_counter(card: &mut dyn JpkiCard, caps: Caps) {
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    assert!(matches!(
        card.verify_pin(KeyRef::Auth, wrong_pin_of(KeyRef::Auth)),
        Err(CardError::WrongPin { .. })
    ));
    is_pin_required(card.generate_key_pair(KeyRef::Auth), KeyRef::Auth);
    if caps.enforces_tries {
        assert!(matches!(
            card.verify_pin(KeyRef::Auth, "8888"),
            Err(CardError::WrongPin { tries_left: 1, .. })
        ));
    }
    assert!(card.pin_status(KeyRef::Auth).unwrap().tries_left < 3);
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    let st = card.pin_status(KeyRef::Auth).unwrap();
    assert_eq!((st.tries_left, st.max_tries, st.locked), (3, 3, false));
    if caps.enforces_tries {
        // After the reset the full three tries are there again.
        assert!(matches!(
            card.verify_pin(KeyRef::Auth, "9999"),
            Err(CardError::WrongPin { tries_left: 2, .. })
        ));
        card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    }
}

/// Keys are generated on the card under the PIN; signatures over a DigestInfo verify as
/// ordinary RSA PKCS#1 v1.5 signatures of the message.
pub fn keys_and_signing(card: &mut dyn JpkiCard) {
    for which in KeyRef::ALL {
        assert_eq!(card.public_key(which).unwrap(), None);
        is_pin_required(card.generate_key_pair(which), which);
    }
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    // The auth PIN does not open the sign slot.
    is_pin_required(card.generate_key_pair(KeyRef::Sign), KeyRef::Sign);
    assert!(matches!(
        card.sign_digest_info(KeyRef::Auth, &DigestAlgorithm::Sha256.digest_info_of(b"x")),
        Err(CardError::NoKey {
            which: KeyRef::Auth
        })
    ));
    let auth_spki = card.generate_key_pair(KeyRef::Auth).unwrap();
    assert_rsa2048(&auth_spki);
    assert!(matches!(
        card.generate_key_pair(KeyRef::Auth),
        Err(CardError::KeyExists {
            which: KeyRef::Auth
        })
    ));
    assert_eq!(
        card.public_key(KeyRef::Auth).unwrap(),
        Some(auth_spki.clone())
    );
    assert_eq!(card.public_key(KeyRef::Sign).unwrap(), None);

    let message = "電子申請: 転入届 2025-04-01".as_bytes();
    for alg in [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ] {
        let sig = card
            .sign_digest_info(KeyRef::Auth, &alg.digest_info_of(message))
            .unwrap();
        assert_eq!(sig.len(), 256);
        verify_signature(&auth_spki, alg, message, &sig);
    }

    // Without the PIN: PinRequired, also after a re-SELECT.
    card.reset_security_state();
    is_pin_required(
        card.sign_digest_info(
            KeyRef::Auth,
            &DigestAlgorithm::Sha256.digest_info_of(message),
        ),
        KeyRef::Auth,
    );

    let sign_spki = generate(card, KeyRef::Sign);
    assert_rsa2048(&sign_spki);
    assert_ne!(sign_spki, auth_spki, "two different keys");
    let sig = card
        .sign_digest_info(
            KeyRef::Sign,
            &DigestAlgorithm::Sha256.digest_info_of(message),
        )
        .unwrap();
    verify_signature(&sign_spki, DigestAlgorithm::Sha256, message, &sig);
    // A signature by the sign key does not verify under the auth key.
    assert!(
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &auth_spki)
            .verify(message, &sig)
            .is_err()
    );
    is_pin_required(
        card.sign_digest_info(
            KeyRef::Auth,
            &DigestAlgorithm::Sha256.digest_info_of(message),
        ),
        KeyRef::Auth,
    );
    card.reset_security_state();
    is_pin_required(
        card.sign_digest_info(
            KeyRef::Sign,
            &DigestAlgorithm::Sha256.digest_info_of(message),
        ),
        KeyRef::Sign,
    );
}

/// Garbage instead of a DigestInfo is Malformed, never a panic and never a signature.
pub fn garbage_digest_info(card: &mut dyn JpkiCard) {
    let spki = generate(card, KeyRef::Auth);
    let good = DigestAlgorithm::Sha256.digest_info_of(b"m");
    let mut candidates: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0x30],
        vec![0; 256],
        vec![0xff; 300],
        good[19..].to_vec(), // a bare digest
        good[..good.len() - 1].to_vec(),
        [good.as_slice(), &[0]].concat(),
        b"not a digest info".to_vec(),
    ];
    // SHA-1 DigestInfo
    let mut sha1 = vec![
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    sha1.extend_from_slice(&[7; 20]);
    candidates.push(sha1);
    // SHA-256 without the NULL parameters
    let mut no_null = vec![
        0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x04, 0x20,
    ];
    no_null.extend_from_slice(&[7; 32]);
    candidates.push(no_null);
    // Pseudo-random bytes of many lengths, and single-byte mutations of a good one.
    let mut x = 0x9e37_79b9_u32;
    for len in 0..80 {
        let bytes = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        candidates.push(bytes);
    }
    for i in 0..19 {
        let mut m = good.clone();
        m[i] ^= 0x01;
        candidates.push(m);
    }
    for bad in candidates {
        match card.sign_digest_info(KeyRef::Auth, &bad) {
            Err(CardError::Malformed(_)) => {}
            other => panic!("{} bytes {bad:02x?}: {other:?}", bad.len()),
        }
    }
    // The card still works.
    let sig = card.sign_digest_info(KeyRef::Auth, &good).unwrap();
    verify_signature(&spki, DigestAlgorithm::Sha256, b"m", &sig);
}

/// The window writes certificates; the auth certificate is public, the signature
/// certificate needs the sign PIN; CA certificates are public.
pub fn certificates(card: &mut dyn JpkiCard) {
    let dummy = fake_cert("x", "y", 1, &[0x30, 0x00]);
    for which in KeyRef::ALL {
        is_pin_required(card.write_certificates(which, &dummy, &dummy), which);
    }
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    assert!(matches!(
        card.write_certificates(KeyRef::Auth, &dummy, &dummy),
        Err(CardError::NoKey {
            which: KeyRef::Auth
        })
    ));
    let auth_spki = card.generate_key_pair(KeyRef::Auth).unwrap();
    let sign_spki = generate(card, KeyRef::Sign);
    let auth_cert = fake_cert("AUTH0001", "JPKI for user authentication", 10, &auth_spki);
    let auth_ca = fake_cert(
        "JPKI for user authentication",
        "JPKI for user authentication",
        1,
        &auth_spki,
    );
    let sign_cert = fake_cert("SIGN0001", "JPKI for digital signature", 11, &sign_spki);
    let sign_ca = fake_cert(
        "JPKI for digital signature",
        "JPKI for digital signature",
        2,
        &sign_spki,
    );

    for garbage in [
        Vec::new(),
        vec![0x30, 0x03, 1, 2, 3],
        b"-----BEGIN CERTIFICATE-----".to_vec(),
    ] {
        assert!(matches!(
            card.write_certificates(KeyRef::Auth, &garbage, &auth_ca),
            Err(CardError::Malformed(_))
        ));
        assert!(matches!(
            card.write_certificates(KeyRef::Auth, &auth_cert, &garbage),
            Err(CardError::Malformed(_))
        ));
    }
    assert_eq!(card.read_certificate(KeyRef::Auth).unwrap(), None);
    card.write_certificates(KeyRef::Auth, &auth_cert, &auth_ca)
        .unwrap();
    card.write_certificates(KeyRef::Sign, &sign_cert, &sign_ca)
        .unwrap();

    card.reset_security_state();
    assert_eq!(
        card.read_certificate(KeyRef::Auth).unwrap(),
        Some(auth_cert.clone())
    );
    assert_eq!(
        card.read_ca_certificate(KeyRef::Auth).unwrap(),
        Some(auth_ca.clone())
    );
    assert_eq!(
        card.read_ca_certificate(KeyRef::Sign).unwrap(),
        Some(sign_ca.clone())
    );
    is_pin_required(card.read_certificate(KeyRef::Sign), KeyRef::Sign);
    // The auth PIN does not open the signature certificate.
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    is_pin_required(card.read_certificate(KeyRef::Sign), KeyRef::Sign);
    card.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
    assert_eq!(
        card.read_certificate(KeyRef::Sign).unwrap(),
        Some(sign_cert.clone())
    );

    // Writing again replaces.
    let auth_cert2 = fake_cert("AUTH0002", "JPKI for user authentication", 12, &auth_spki);
    card.write_certificates(KeyRef::Auth, &auth_cert2, &auth_ca)
        .unwrap();
    assert_eq!(
        card.read_certificate(KeyRef::Auth).unwrap(),
        Some(auth_cert2)
    );
    assert_eq!(
        card.read_certificate(KeyRef::Sign).unwrap(),
        Some(sign_cert)
    );
}

/// The window clears a slot for re-issue: key and certificates go, the PIN stays, and
/// a new key can be made.
pub fn clear_slot(card: &mut dyn JpkiCard) {
    let old = generate(card, KeyRef::Auth);
    let cert = fake_cert("AUTH0001", "CA", 1, &old);
    card.write_certificates(KeyRef::Auth, &cert, &cert).unwrap();
    let sign_spki = generate(card, KeyRef::Sign);
    card.reset_security_state();
    is_pin_required(card.clear_slot(KeyRef::Auth), KeyRef::Auth);
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    card.clear_slot(KeyRef::Auth).unwrap();
    assert_eq!(card.public_key(KeyRef::Auth).unwrap(), None);
    assert_eq!(card.read_certificate(KeyRef::Auth).unwrap(), None);
    assert_eq!(card.read_ca_certificate(KeyRef::Auth).unwrap(), None);
    assert!(matches!(
        card.sign_digest_info(KeyRef::Auth, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        Err(CardError::NoKey {
            which: KeyRef::Auth
        })
    ));
    // The other slot is untouched.
    assert_eq!(card.public_key(KeyRef::Sign).unwrap(), Some(sign_spki));
    // Re-issue.
    let new = card.generate_key_pair(KeyRef::Auth).unwrap();
    assert_rsa2048(&new);
    assert_ne!(new, old);
    let sig = card
        .sign_digest_info(KeyRef::Auth, &DigestAlgorithm::Sha256.digest_info_of(b"m"))
        .unwrap();
    verify_signature(&new, DigestAlgorithm::Sha256, b"m", &sig);
}

/// Changing a PIN: the old one is checked (a wrong one uses a try), the key survives,
/// the old PIN stops working and the new one works.
pub fn change_pin(card: &mut dyn JpkiCard, caps: Caps) {
    let spki = generate(card, KeyRef::Sign);
    card.reset_security_state();
    match card.change_pin(KeyRef::Sign, "WRONG99", "NEWPIN42") {
        Err(CardError::WrongPin {
            which: KeyRef::Sign,
            tries_left,
        }) => {
            if caps.enforces_tries {
                assert_eq!(tries_left, 4);
            }
        }
        other => panic!("{other:?}"),
    }
    card.change_pin(KeyRef::Sign, SIGN_PIN, "NEWPIN42").unwrap();
    assert_eq!(card.pin_status(KeyRef::Sign).unwrap().tries_left, 5);
    // Verified by the change.
    let sig = card
        .sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m"))
        .unwrap();
    verify_signature(&spki, DigestAlgorithm::Sha256, b"m", &sig);
    card.reset_security_state();
    assert!(matches!(
        card.verify_pin(KeyRef::Sign, SIGN_PIN),
        Err(CardError::WrongPin { .. })
    ));
    card.verify_pin(KeyRef::Sign, "NEWPIN42").unwrap();
    let sig = card
        .sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m2"))
        .unwrap();
    verify_signature(&spki, DigestAlgorithm::Sha256, b"m2", &sig);
    assert_eq!(card.public_key(KeyRef::Sign).unwrap(), Some(spki));
    // The auth PIN can change too.
    card.change_pin(KeyRef::Auth, AUTH_PIN, "0042").unwrap();
    card.reset_security_state();
    card.verify_pin(KeyRef::Auth, "0042").unwrap();
}

/// Unblocking at the window: new PIN, all tries back, slot emptied for re-issue.
pub fn unblock_pin(card: &mut dyn JpkiCard, caps: Caps) {
    let spki = generate(card, KeyRef::Auth);
    let cert = fake_cert("AUTH0001", "CA", 1, &spki);
    card.write_certificates(KeyRef::Auth, &cert, &cert).unwrap();
    let sign_spki = generate(card, KeyRef::Sign);
    card.reset_security_state();
    if caps.enforces_tries {
        for _ in 0..3 {
            let _ = card.verify_pin(KeyRef::Auth, "9999");
        }
        assert!(card.pin_status(KeyRef::Auth).unwrap().locked);
    } else {
        let _ = card.verify_pin(KeyRef::Auth, "9999");
    }
    card.unblock_pin(KeyRef::Auth, "5678").unwrap();
    let st = card.pin_status(KeyRef::Auth).unwrap();
    assert_eq!((st.tries_left, st.locked), (3, false));
    // Unverified after the unblock.
    is_pin_required(card.generate_key_pair(KeyRef::Auth), KeyRef::Auth);
    assert!(matches!(
        card.verify_pin(KeyRef::Auth, AUTH_PIN),
        Err(CardError::WrongPin { .. })
    ));
    card.verify_pin(KeyRef::Auth, "5678").unwrap();
    // The slot is empty: the window issues anew.
    assert_eq!(card.public_key(KeyRef::Auth).unwrap(), None);
    assert_eq!(card.read_certificate(KeyRef::Auth).unwrap(), None);
    assert_eq!(card.read_ca_certificate(KeyRef::Auth).unwrap(), None);
    let new = card.generate_key_pair(KeyRef::Auth).unwrap();
    assert_ne!(new, spki);
    // The sign slot is untouched.
    assert_eq!(card.public_key(KeyRef::Sign).unwrap(), Some(sign_spki));
    card.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
}

/// Every scenario, by name, for implementations that run them in one place.
pub const SCENARIOS: [&str; 10] = [
    "token_string",
    "pin_format_rules",
    "wrong_pin_locks",
    "success_resets_counter",
    "keys_and_signing",
    "garbage_digest_info",
    "certificates",
    "clear_slot",
    "change_pin",
    "unblock_pin",
];

pub fn run_scenario(name: &str, card: &mut dyn JpkiCard, caps: Caps) {
    match name {
        "token_string" => token_string(card),
        "pin_format_rules" => pin_format_rules(card),
        "wrong_pin_locks" => wrong_pin_locks(card, caps),
        "success_resets_counter" => success_resets_counter(card, caps),
        "keys_and_signing" => keys_and_signing(card),
        "garbage_digest_info" => garbage_digest_info(card),
        "certificates" => certificates(card),
        "clear_slot" => clear_slot(card),
        "change_pin" => change_pin(card, caps),
        "unblock_pin" => unblock_pin(card, caps),
        other => panic!("no scenario {other}"),
    }
}
