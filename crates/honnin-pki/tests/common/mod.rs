//! Shared fixtures of the integration tests: keys, facts, CAs, and the external
//! tools (openssl, pkilint).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use honnin_core::{Address, BasicFacts, KanaName, PersonName, Sex, SubstituteFlags};
use honnin_pki::*;
use jiff::Timestamp;
use jiff::civil::date;

pub const CRL_URL_SIGN_CA: &str = "http://honnin.test/arl/sign.crl";
pub const CRL_URL_AUTH_CA: &str = "http://honnin.test/arl/auth.crl";
pub const CRL_URL_EE: &str = "http://honnin.test/crl/sign-0001.crl";
pub const OCSP_URL: &str = "http://honnin.test/ocsp";

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// CA validity: like J-LIS, ending at 23:59:59 JST.
pub fn ca_not_before() -> Timestamp {
    ts("2026-01-05T00:50:27Z")
}
pub fn ca_not_after() -> Timestamp {
    ts("2036-01-04T14:59:59Z")
}
/// When the end-entity certificates are issued.
pub fn issued_at() -> Timestamp {
    ts("2026-04-01T01:00:00Z")
}

/// A cached key: RSA generation is slow in debug builds.
pub fn key(slot: usize, alg: KeyAlgorithm) -> &'static SoftwareKey {
    static KEYS: [OnceLock<SoftwareKey>; 8] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let k = KEYS[slot].get_or_init(|| SoftwareKey::generate(alg).unwrap());
    assert_eq!(
        k.key_algorithm(),
        alg,
        "key slot {slot} reused for another algorithm"
    );
    k
}

pub fn sign_ca_key() -> &'static SoftwareKey {
    key(0, KeyAlgorithm::Rsa2048)
}
pub fn auth_ca_key() -> &'static SoftwareKey {
    key(1, KeyAlgorithm::Rsa2048)
}
pub fn card_sign_key() -> &'static SoftwareKey {
    key(2, KeyAlgorithm::Rsa2048)
}
pub fn card_auth_key() -> &'static SoftwareKey {
    key(3, KeyAlgorithm::Rsa2048)
}
pub fn p256_ca_key() -> &'static SoftwareKey {
    key(4, KeyAlgorithm::EcdsaP256)
}
pub fn new_sign_ca_key() -> &'static SoftwareKey {
    key(5, KeyAlgorithm::Rsa2048)
}

pub fn facts() -> BasicFacts {
    let name = "山田　太郎";
    let address = "東京都千代田区丸の内一丁目2番3号";
    BasicFacts {
        name: PersonName::parse(name).unwrap(),
        name_kana: KanaName::parse("ヤマダ　タロウ").unwrap(),
        alias: None,
        birth_date: date(1990, 5, 14),
        sex: Sex::Male,
        address: Address::parse(address).unwrap(),
        name_flags: SubstituteFlags::parse_for("01000", name, "name_flags").unwrap(),
        address_flags: SubstituteFlags::none_for(address),
    }
}

pub fn ca(kind: CaKind, signer: &dyn Signer) -> Vec<u8> {
    build_ca_certificate(
        &CaParams {
            kind,
            serial: random_serial(),
            not_before: ca_not_before(),
            not_after: ca_not_after(),
            crl_url: match kind {
                CaKind::Signature => CRL_URL_SIGN_CA,
                CaKind::Authentication => CRL_URL_AUTH_CA,
            },
        },
        signer,
    )
    .unwrap()
}

pub fn ee_params<'a>(spki: &'a [u8]) -> EndEntityParams<'a> {
    EndEntityParams {
        serial: random_serial(),
        not_before: issued_at(),
        not_after: validity_end(issued_at(), date(1990, 5, 14), None).unwrap(),
        subject_id: "HN0123456789ABCDEF",
        municipality_romaji: "Chiyoda-ku",
        subject_public_key_der: spki,
        crl_url: CRL_URL_EE,
        ocsp_url: OCSP_URL,
    }
}

pub fn sign_ee(ca_der: &[u8], ca_key: &dyn Signer, facts: &BasicFacts) -> Vec<u8> {
    let spki = card_sign_key().public_key_der();
    issue_signature_certificate(ca_der, ca_key, &ee_params(&spki), facts).unwrap()
}

pub fn auth_ee(ca_der: &[u8], ca_key: &dyn Signer) -> Vec<u8> {
    let spki = card_auth_key().public_key_der();
    issue_auth_certificate(ca_der, ca_key, &ee_params(&spki)).unwrap()
}

// ---------------------------------------------------------------------------
// External tools
// ---------------------------------------------------------------------------

fn required() -> bool {
    std::env::var("HONNIN_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The tool, or `None` after printing a note (the only allowed skip). Panics
/// when `HONNIN_REQUIRE_TOOLS=1` and the tool is missing.
fn tool(name: &str, dir_env: Option<&str>) -> Option<PathBuf> {
    if let Some(var) = dir_env
        && let Some(dir) = std::env::var_os(var)
    {
        let p = Path::new(&dir).join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    if let Some(p) = on_path(name) {
        return Some(p);
    }
    if required() {
        panic!("{name} not found (HONNIN_REQUIRE_TOOLS=1)");
    }
    eprintln!("note: {name} not found; skipping the checks that need it");
    None
}

pub fn openssl() -> Option<PathBuf> {
    tool("openssl", None)
}

pub fn pkilint() -> Option<PathBuf> {
    tool("lint_pkix_cert", Some("HONNIN_PKILINT_BIN"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn write_pem(dir: &Path, name: &str, der: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, Certificate::from_der(der).unwrap().to_pem()).unwrap();
    p
}

/// pkilint's issuer/subject chain linter, beside `lint_pkix_cert`.
pub fn pkilint_chain(pkilint: &Path) -> PathBuf {
    pkilint.with_file_name("lint_pkix_signer_signee_cert_chain")
}

/// Runs the chain linter at WARNING on an issuer and a subject PEM file.
pub fn lint_chain(pkilint: &Path, issuer: &Path, subject: &Path) -> (bool, String) {
    let out = run(Command::new(pkilint_chain(pkilint))
        .args(["lint", "-s", "WARNING"])
        .arg(issuer)
        .arg(subject));
    (out.status.success(), text(&out))
}

/// Runs pkilint at WARNING on a PEM file; returns (success, output).
pub fn lint(pkilint: &Path, file: &Path) -> (bool, String) {
    let out = run(Command::new(pkilint)
        .args(["lint", "-s", "WARNING"])
        .arg(file));
    (out.status.success(), text(&out))
}

pub fn attime(t: Timestamp) -> String {
    t.as_second().to_string()
}

/// Runs pkilint's CRL linter (`lint_crl`, beside `lint_pkix_cert`) at WARNING
/// with the PKIX profile; `kind` is `CRL` or `ARL`.
pub fn lint_crl(pkilint: &Path, file: &Path, kind: &str) -> (bool, String) {
    let out = run(Command::new(pkilint.with_file_name("lint_crl"))
        .args(["lint", "-t", kind, "-p", "PKIX", "-s", "WARNING"])
        .arg(file));
    (out.status.success(), text(&out))
}

/// Runs pkilint's OCSP response linter at WARNING.
pub fn lint_ocsp(pkilint: &Path, file: &Path) -> (bool, String) {
    let out = run(Command::new(pkilint.with_file_name("lint_ocsp_response"))
        .args(["lint", "-s", "WARNING"])
        .arg(file));
    (out.status.success(), text(&out))
}

/// The serial number of a certificate, big-endian magnitude.
pub fn serial_of(der: &[u8]) -> Vec<u8> {
    let c = Certificate::from_der(der).unwrap();
    let b = c.inner().tbs_certificate().serial_number().as_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count();
    b[skip..].to_vec()
}
