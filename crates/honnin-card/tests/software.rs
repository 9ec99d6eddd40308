#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The software card: the shared scenarios, plus what only a card file can show
//! (durability, encryption at rest, corrupt files).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{AUTH_PIN, Caps, SIGN_PIN};
use honnin_card::{CardError, DigestAlgorithm, JpkiCard, KdfParams, KeyRef, SoftwareCard};

const CAPS: Caps = Caps {
    enforces_tries: true,
};

fn new_card(dir: &Path) -> (SoftwareCard, PathBuf) {
    let path = dir.join("card.json");
    let card = SoftwareCard::create_with_params(
        &path,
        AUTH_PIN,
        SIGN_PIN,
        KdfParams::insecure_for_tests(),
    )
    .unwrap();
    (card, path)
}

fn scenario(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = new_card(dir.path());
    common::run_scenario(name, &mut card, CAPS);
    // Whatever the scenario did, the file still opens.
    SoftwareCard::open(&path).unwrap();
}

#[test]
fn all_scenarios_are_listed() {
    assert_eq!(common::SCENARIOS.len(), 10);
}

#[test]
fn token_string() {
    scenario("token_string");
}

#[test]
fn pin_format_rules() {
    scenario("pin_format_rules");
}

#[test]
fn wrong_pin_locks() {
    scenario("wrong_pin_locks");
}

#[test]
fn success_resets_counter() {
    scenario("success_resets_counter");
}

#[test]
fn keys_and_signing() {
    scenario("keys_and_signing");
}

#[test]
fn garbage_digest_info() {
    scenario("garbage_digest_info");
}

#[test]
fn certificates() {
    scenario("certificates");
}

#[test]
fn clear_slot() {
    scenario("clear_slot");
}

#[test]
fn change_pin() {
    scenario("change_pin");
}

#[test]
fn unblock_pin() {
    scenario("unblock_pin");
}

#[test]
fn create_validates_pins_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let fast = KdfParams::insecure_for_tests();
    assert!(matches!(
        SoftwareCard::create_with_params(&path, "123", SIGN_PIN, fast),
        Err(CardError::PinFormat {
            which: KeyRef::Auth,
            ..
        })
    ));
    assert!(matches!(
        SoftwareCard::create_with_params(&path, AUTH_PIN, "abc123", fast),
        Err(CardError::PinFormat {
            which: KeyRef::Sign,
            ..
        })
    ));
    assert!(!path.exists());
    let mut card = SoftwareCard::create_with_params(&path, AUTH_PIN, SIGN_PIN, fast).unwrap();
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    let spki = card.generate_key_pair(KeyRef::Auth).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        SoftwareCard::create_with_params(&path, AUTH_PIN, SIGN_PIN, fast),
        Err(CardError::Io(_))
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before, "untouched");
    assert_eq!(
        SoftwareCard::open(&path)
            .unwrap()
            .public_key(KeyRef::Auth)
            .unwrap(),
        Some(spki)
    );
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "card file is private: {mode:o}");
    }
    assert!(matches!(
        SoftwareCard::open(dir.path().join("missing.json")),
        Err(CardError::Io(_))
    ));
}

#[test]
fn default_kdf_cost_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut card = SoftwareCard::create(&path, AUTH_PIN, SIGN_PIN).unwrap();
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"memory_kib\": 19456"), "{text}");
}

/// A try used through one handle is on disk at once: a freshly opened handle (as after
/// a crash) sees it.
#[test]
fn wrong_pin_is_durable_across_handles() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, path) = new_card(dir.path());
    assert!(matches!(
        first.verify_pin(KeyRef::Auth, "9999"),
        Err(CardError::WrongPin { tries_left: 2, .. })
    ));
    // The first handle is simply dropped, as a killed process would be.
    drop(first);
    let mut second = SoftwareCard::open(&path).unwrap();
    assert_eq!(second.pin_status(KeyRef::Auth).unwrap().tries_left, 2);
    // Two live handles agree too.
    let mut third = SoftwareCard::open(&path).unwrap();
    assert!(matches!(
        second.verify_pin(KeyRef::Auth, "9999"),
        Err(CardError::WrongPin { tries_left: 1, .. })
    ));
    assert!(matches!(
        third.verify_pin(KeyRef::Auth, "9999"),
        Err(CardError::Locked { .. })
    ));
    assert!(second.pin_status(KeyRef::Auth).unwrap().locked);
    assert!(matches!(
        second.verify_pin(KeyRef::Auth, AUTH_PIN),
        Err(CardError::Locked { .. })
    ));
}

/// A PIN changed through another handle makes this handle's verification stale.
#[test]
fn pin_change_elsewhere_requires_verification_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, path) = new_card(dir.path());
    a.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
    a.generate_key_pair(KeyRef::Sign).unwrap();
    let mut b = SoftwareCard::open(&path).unwrap();
    b.change_pin(KeyRef::Sign, SIGN_PIN, "ZZZ999").unwrap();
    common::is_pin_required(
        a.sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        KeyRef::Sign,
    );
    a.verify_pin(KeyRef::Sign, "ZZZ999").unwrap();
    a.sign_digest_info(KeyRef::Sign, &DigestAlgorithm::Sha256.digest_info_of(b"m"))
        .unwrap();
}

/// The private key is not in the file in the clear, and a freshly opened card cannot
/// sign without the PIN.
#[test]
fn private_key_is_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = new_card(dir.path());
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    let spki = card.generate_key_pair(KeyRef::Auth).unwrap();
    drop(card);

    // A plaintext PKCS#8 RSA key contains the modulus; the file may hold it only once,
    // inside the public key.
    let public = aws_lc_rs::rsa::PublicKey::from_der(&spki).unwrap();
    let n_hex = hex_lower(public.modulus().big_endian_without_leading_zero());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches(&n_hex).count(),
        1,
        "modulus only in the public key"
    );
    let raw = std::fs::read(&path).unwrap();
    let n = public.modulus().big_endian_without_leading_zero().to_vec();
    assert!(
        !raw.windows(n.len()).any(|w| w == n.as_slice()),
        "no raw DER"
    );
    assert!(text.contains("encrypted_pkcs8"));

    let mut reopened = SoftwareCard::open(&path).unwrap();
    common::is_pin_required(
        reopened.sign_digest_info(KeyRef::Auth, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        KeyRef::Auth,
    );
    // The sign PIN does not unlock the auth key.
    reopened.verify_pin(KeyRef::Sign, SIGN_PIN).unwrap();
    common::is_pin_required(
        reopened.sign_digest_info(KeyRef::Auth, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        KeyRef::Auth,
    );
    reopened.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    let sig = reopened
        .sign_digest_info(KeyRef::Auth, &DigestAlgorithm::Sha256.digest_info_of(b"m"))
        .unwrap();
    common::verify_signature(&spki, DigestAlgorithm::Sha256, b"m", &sig);
}

/// Moving the auth key's ciphertext into the sign slot, or flipping a bit of it, is
/// detected (AES-GCM with the slot and public key as associated data).
#[test]
fn tampered_key_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = new_card(dir.path());
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    card.generate_key_pair(KeyRef::Auth).unwrap();
    drop(card);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let ct = json["auth"]["key"]["encrypted_pkcs8"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        if ct.starts_with('0') { '1' } else { '0' },
        &ct[1..]
    );
    json["auth"]["key"]["encrypted_pkcs8"] = serde_json::Value::String(flipped);
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let mut card = SoftwareCard::open(&path).unwrap();
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    assert!(matches!(
        card.sign_digest_info(KeyRef::Auth, &DigestAlgorithm::Sha256.digest_info_of(b"m")),
        Err(CardError::Malformed(_))
    ));
}

/// Corrupt card files are Malformed (or Io), never a panic.
#[test]
fn corrupt_file_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = new_card(dir.path());
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    card.generate_key_pair(KeyRef::Auth).unwrap();
    drop(card);
    let good = std::fs::read(&path).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&good).unwrap();

    let mut variants: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("garbage".into(), b"\x00\x01garbage".to_vec()),
        ("truncated".into(), good[..good.len() / 2].to_vec()),
        ("array".into(), b"[]".to_vec()),
    ];
    let mut edit = |label: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let mut j = json.clone();
        f(&mut j);
        variants.push((label.into(), serde_json::to_vec(&j).unwrap()));
    };
    edit("version", &|j| j["version"] = 2.into());
    edit("format", &|j| j["format"] = "other".into());
    edit("token", &|j| j["token_string"] = "X".into());
    edit("tries > max", &|j| j["auth"]["tries_left"] = 9.into());
    edit("max_tries", &|j| j["auth"]["max_tries"] = 10.into());
    edit("tries negative", &|j| j["auth"]["tries_left"] = (-1).into());
    edit("missing verifier", &|j| {
        j["sign"].as_object_mut().unwrap().remove("pin_verifier");
    });
    edit("short verifier", &|j| {
        j["sign"]["pin_verifier"] = "00".into()
    });
    edit("not hex", &|j| j["sign"]["pin_verifier"] = "zz".into());
    edit("nonce", &|j| j["auth"]["key"]["nonce"] = "0011".into());
    edit("spki", &|j| {
        j["auth"]["key"]["public_key_spki"] = "3000".into()
    });
    edit("kdf", &|j| j["auth"]["kdf"]["algorithm"] = "pbkdf2".into());
    edit("kdf params", &|j| j["auth"]["kdf"]["memory_kib"] = 0.into());
    edit("unknown field", &|j| j["extra"] = 1.into());
    edit("cert garbage", &|j| {
        j["auth"]["certificate"] = "3003010203".into()
    });
    edit("missing slot", &|j| {
        j.as_object_mut().unwrap().remove("sign");
    });
    // Plus every truncation of the first 200 bytes.
    for cut in (0..200).step_by(7) {
        variants.push((format!("cut {cut}"), good[..cut].to_vec()));
    }
    for (label, bytes) in variants {
        std::fs::write(&path, &bytes).unwrap();
        match SoftwareCard::open(&path) {
            Err(CardError::Malformed(_)) => {}
            other => panic!("{label}: {other:?}"),
        }
    }
    // A card that goes bad after opening answers Malformed as well.
    std::fs::write(&path, &good).unwrap();
    let mut card = SoftwareCard::open(&path).unwrap();
    std::fs::write(&path, b"{").unwrap();
    assert!(matches!(
        card.pin_status(KeyRef::Auth),
        Err(CardError::Malformed(_))
    ));
    assert!(matches!(
        card.verify_pin(KeyRef::Auth, AUTH_PIN),
        Err(CardError::Malformed(_))
    ));
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------- kill safety

const KILL_ENV: &str = "HONNIN_CARD_KILL_CHILD_CARD";

/// Run by `killed_mid_verify_still_counts_the_try` in a child process: verifies the
/// right auth PIN (slowly, the card's KDF being expensive) until killed.
#[test]
fn kill_child_verifies() {
    let Some(path) = std::env::var_os(KILL_ENV) else {
        return;
    };
    let mut card = SoftwareCard::open(PathBuf::from(path)).unwrap();
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    // Reaching here means the parent was too slow; it detects that.
}

fn auth_tries_on_disk(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json["auth"]["tries_left"].as_u64()
}

/// A process killed while checking a PIN, even the right one, has used the try: the
/// counter goes down on disk before the PIN is looked at.
#[test]
fn killed_mid_verify_still_counts_the_try() {
    let dir = tempfile::tempdir().unwrap();
    // Find a KDF cost that takes a while here (debug or release build alike).
    let mut params = KdfParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    };
    let mut attempt = 0;
    let path = loop {
        attempt += 1;
        let path = dir.path().join(format!("card{attempt}.json"));
        let start = Instant::now();
        SoftwareCard::create_with_params(&path, AUTH_PIN, SIGN_PIN, params).unwrap();
        // create derives twice (one per slot).
        if start.elapsed() >= Duration::from_millis(1500) || attempt >= 8 {
            break path;
        }
        params.iterations *= 4;
    };

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["kill_child_verifies", "--exact", "--nocapture"])
        .env(KILL_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if auth_tries_on_disk(&path) == Some(2) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "child ended before the try was written"
        );
        assert!(Instant::now() < deadline, "child never decremented");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed mid-verify");

    let mut card = SoftwareCard::open(&path).unwrap();
    assert_eq!(
        card.pin_status(KeyRef::Auth).unwrap().tries_left,
        2,
        "the killed verification used a try"
    );
    card.verify_pin(KeyRef::Auth, AUTH_PIN).unwrap();
    assert_eq!(card.pin_status(KeyRef::Auth).unwrap().tries_left, 3);
}
