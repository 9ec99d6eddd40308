#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! PKCS#11 cards on SoftHSM2: the shared scenarios, plus the two-token layout.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` when the module is initialised, once per process,
//! and the workspace forbids `unsafe` (so no `std::env::set_var`). The test therefore
//! runs the scenarios in a child process of this test binary, started with its own
//! `SOFTHSM2_CONF` pointing at a fresh token directory. Each scenario gets its own
//! card (its own pair of tokens).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{AUTH_PIN, Caps, SIGN_PIN};
use honnin_card::pkcs11::softhsm_module_path;
use honnin_card::{CardError, DigestAlgorithm, JpkiCard, KeyRef, Pkcs11Card, init_softhsm_card};

const CHILD_ENV: &str = "HONNIN_CARD_PKCS11_CHILD";
const SO_PIN: &str = "SO-PIN-5678";
/// SoftHSM2 keeps no try counter (see the pkcs11 module documentation).
const CAPS: Caps = Caps {
    enforces_tries: false,
};
const DONE_MARKER: &str = "honnin-card pkcs11 scenarios passed:";

fn module_or_skip() -> Option<PathBuf> {
    match softhsm_module_path() {
        Some(p) => Some(p),
        None => {
            assert!(
                std::env::var("HONNIN_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "HONNIN_REQUIRE_TOOLS=1 but no PKCS#11 module: install softhsm2 or set \
                 HONNIN_PKCS11_MODULE"
            );
            eprintln!(
                "note: SoftHSM2 not found (apt-get install softhsm2, or set \
                 HONNIN_PKCS11_MODULE): PKCS#11 card tests skipped"
            );
            None
        }
    }
}

#[test]
fn pkcs11_cards_on_softhsm2() {
    let Some(module) = module_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = honnin_card::pkcs11::write_softhsm_config(dir.path()).unwrap();
    let tokens = dir.path().join("tokens");
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["pkcs11_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", &conf)
        .env("HONNIN_PKCS11_MODULE", &module)
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- child stdout ---\n{stdout}\n--- child stderr ---\n{stderr}");
    assert!(output.status.success(), "PKCS#11 scenarios failed");
    let expected = format!("{DONE_MARKER} {}", common::SCENARIOS.len() + 3);
    assert!(
        stdout.contains(&expected),
        "the scenarios really ran: {expected}"
    );
    // The tokens were really written to the test's token directory.
    assert!(std::fs::read_dir(&tokens).unwrap().count() >= 2);
}

/// The scenarios, run by `pkcs11_cards_on_softhsm2` in a child process.
#[test]
fn pkcs11_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let module = softhsm_module_path().expect("module");
    let mut ran = 0;
    for (i, name) in common::SCENARIOS.iter().enumerate() {
        let label = format!("card{i}");
        init_softhsm_card(&module, &label, SO_PIN, AUTH_PIN, SIGN_PIN).unwrap();
        let mut card = Pkcs11Card::open(&module, &label).unwrap();
        assert!(!card.is_read_only());
        card.set_so_pin(SO_PIN);
        println!("scenario {name} on tokens {label}-auth/{label}-sign");
        common::run_scenario(name, &mut card, CAPS);
        ran += 1;
    }
    layout_and_reopen(&module);
    ran += 1;
    init_errors(&module);
    ran += 1;
    unblock_needs_so_pin(&module);
    ran += 1;
    println!("{DONE_MARKER} {ran}");
}

/// Keys and certificates live on the tokens: a new handle sees them, needs the PIN
/// again, and finds the objects where the documented layout puts them.
fn layout_and_reopen(module: &Path) {
    init_softhsm_card(module, "layout", SO_PIN, AUTH_PIN, SIGN_PIN).unwrap();
    let mut card = Pkcs11Card::open(module, "layout").unwrap();
    card.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
    let spki = card.generate_key_pair(KeyRef::Sign).unwrap();
    let cert = common::fake_cert("SIGN1", "CA", 3, &spki);
    let ca = common::fake_cert("CA", "CA", 1, &spki);
    card.write_certificates(KeyRef::Sign, &cert, &ca).unwrap();
    drop(card);

    let mut again = Pkcs11Card::open(module, "layout").unwrap();
    assert_eq!(again.public_key(KeyRef::Sign).unwrap(), Some(spki.clone()));
    assert_eq!(again.public_key(KeyRef::Auth).unwrap(), None);
    assert_eq!(again.read_ca_certificate(KeyRef::Sign).unwrap(), Some(ca));
    common::is_pin_required(again.read_certificate(KeyRef::Sign), KeyRef::Sign);
    common::is_pin_required(
        again.sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        KeyRef::Sign,
    );
    again.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
    assert_eq!(again.read_certificate(KeyRef::Sign).unwrap(), Some(cert));
    let sig = again
        .sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m"))
        .unwrap();
    common::verify_signature(&spki, DigestAlgorithm::Sha256, b"m", &sig);
    // Verifying again while verified is fine (a re-VERIFY).
    again.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
    assert_eq!(again.token_string(), "JPKIAPICCTOKEN2");

    // A second handle in this process: a PKCS#11 login belongs to the application,
    // so logging in through it works while the first is logged in, and its logout
    // ends the first handle's verification too.
    let mut other = Pkcs11Card::open(module, "layout").unwrap();
    common::is_pin_required(
        other.sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        KeyRef::Sign,
    );
    other.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
    other
        .sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m"))
        .unwrap();
    other.reset_security_state();
    common::is_pin_required(
        again.sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        KeyRef::Sign,
    );
    common::is_pin_required(again.read_certificate(KeyRef::Sign), KeyRef::Sign);
    drop((again, other));
    key_attributes(module, "layout-sign", &spki);
}

/// Looks at the sign token with cryptoki directly: the private key is a token object,
/// private, sensitive, never extractable, labelled and identified as documented.
fn key_attributes(module: &Path, token_label: &str, spki: &[u8]) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;

    let ctx = Pkcs11::new(module).unwrap();
    // Already initialised in this process by honnin-card: that answer is fine.
    let _ = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == token_label)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    // Without login the private key is invisible.
    assert!(
        session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .unwrap()
            .is_empty()
    );
    session
        .login(UserType::User, Some(&SIGN_PIN.to_owned().into()))
        .unwrap();
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert_eq!(keys.len(), 1);
    let attrs = session
        .get_attributes(
            keys[0],
            &[
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Sign,
                AttributeType::Decrypt,
                AttributeType::Label,
                AttributeType::Id,
                AttributeType::Modulus,
            ],
        )
        .unwrap();
    let public = aws_lc_rs::rsa::PublicKey::from_der(spki).unwrap();
    let n = public.modulus().big_endian_without_leading_zero().to_vec();
    let mut seen = 0;
    for attr in attrs {
        match attr {
            Attribute::Token(v) | Attribute::Private(v) | Attribute::Sensitive(v) => {
                assert!(v);
                seen += 1;
            }
            Attribute::NeverExtractable(v) | Attribute::Sign(v) => {
                assert!(v);
                seen += 1;
            }
            Attribute::Extractable(v) | Attribute::Decrypt(v) => {
                assert!(!v);
                seen += 1;
            }
            Attribute::Label(v) => {
                assert_eq!(v, b"JPKI sign key");
                seen += 1;
            }
            Attribute::Id(v) => {
                assert_eq!(v, [2]);
                seen += 1;
            }
            Attribute::Modulus(v) => {
                assert_eq!(v, n, "the private key belongs to the public key returned");
                seen += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, 10);
    // The private exponent cannot be read.
    assert!(
        session
            .get_attributes(keys[0], &[AttributeType::PrivateExponent])
            .map(|a| a.is_empty())
            .unwrap_or(true)
    );
    let certs = session
        .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
        .unwrap();
    let mut labels: Vec<String> = certs
        .iter()
        .map(
            |c| match &session.get_attributes(*c, &[AttributeType::Label]).unwrap()[0] {
                Attribute::Label(l) => String::from_utf8(l.clone()).unwrap(),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    labels.sort();
    assert_eq!(labels, ["JPKI sign CA cert", "JPKI sign cert"]);
    session.logout().unwrap();
}

fn init_errors(module: &Path) {
    assert!(matches!(
        init_softhsm_card(module, "bad", SO_PIN, "12345", SIGN_PIN),
        Err(CardError::PinFormat {
            which: KeyRef::Auth,
            ..
        })
    ));
    init_softhsm_card(module, "twice", SO_PIN, AUTH_PIN, SIGN_PIN).unwrap();
    assert!(matches!(
        init_softhsm_card(module, "twice", SO_PIN, AUTH_PIN, SIGN_PIN),
        Err(CardError::Pkcs11(_))
    ));
    assert!(matches!(
        init_softhsm_card(module, &"x".repeat(30), SO_PIN, AUTH_PIN, SIGN_PIN),
        Err(CardError::Pkcs11(_))
    ));
    match Pkcs11Card::open(module, "no-such-card") {
        Err(CardError::Pkcs11(msg)) => assert!(msg.contains("no-such-card"), "{msg}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Pkcs11Card::open(Path::new("/nonexistent/libnothing.so"), "twice"),
        Err(CardError::Pkcs11(_))
    ));
}

fn unblock_needs_so_pin(module: &Path) {
    init_softhsm_card(module, "noso", SO_PIN, AUTH_PIN, SIGN_PIN).unwrap();
    let mut card = Pkcs11Card::open(module, "noso").unwrap();
    assert!(matches!(
        card.unblock_pin(KeyRef::Auth, "1111"),
        Err(CardError::Unsupported(_))
    ));
    card.set_so_pin("WRONG-SO");
    assert!(matches!(
        card.unblock_pin(KeyRef::Auth, "1111"),
        Err(CardError::Pkcs11(_))
    ));
    // The PIN is unchanged.
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
}
