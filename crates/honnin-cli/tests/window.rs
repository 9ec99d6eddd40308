//! The municipal window end to end through the real `honnin` binary: `honnin serve` as
//! a child process; `honnin card …`, `honnin window issue` and `honnin ca …` driving it;
//! the issued certificates checked with `openssl verify`, `openssl x509 -text` and
//! pkilint; the same flow onto a SoftHSM2 "card"; refusals and the PIN lock; and CA
//! keys kept in a SoftHSM2 token.
//!
//! External tools (openssl; pkilint's `lint_pkix_cert`, found in `$HONNIN_PKILINT_BIN`
//! or on `PATH`; SoftHSM2's module, `$HONNIN_PKCS11_MODULE` or
//! `/usr/lib/softhsm/libsofthsm2.so`, and `softhsm2-util`): when one is missing a note is
//! printed and the checks needing it are skipped, unless `HONNIN_REQUIRE_TOOLS=1`, which
//! makes a missing tool a failure. SoftHSM2 reads `SOFTHSM2_CONF` from its process's
//! environment, so every child that touches a token gets its own via `Command::env`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use honnin_pki::{Certificate, Profile, SignatureCertificate};
use serde_json::Value;

mod common;
use common::*;

/// The JPKI otherNames of the signature certificate (name … address flags).
const FACT_OIDS: [&str; 6] = [
    "1.2.392.200149.8.5.5.1",
    "1.2.392.200149.8.5.5.2",
    "1.2.392.200149.8.5.5.3",
    "1.2.392.200149.8.5.5.4",
    "1.2.392.200149.8.5.5.5",
    "1.2.392.200149.8.5.5.6",
];
const POLICY_SIGN: &str = "1.2.392.200149.8.5.1.1.20";
const POLICY_AUTH: &str = "1.2.392.200149.8.5.1.3.30";

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

fn pkilint() -> Option<PathBuf> {
    let p = std::env::var_os("HONNIN_PKILINT_BIN")
        .map(|d| Path::new(&d).join("lint_pkix_cert"))
        .filter(|p| p.is_file())
        .or_else(|| on_path("lint_pkix_cert"));
    if p.is_none() {
        missing("pkilint's lint_pkix_cert (HONNIN_PKILINT_BIN)");
    }
    p
}

/// SoftHSM2: its PKCS#11 module and `softhsm2-util` (to make tokens).
struct SoftHsm {
    module: PathBuf,
    util: PathBuf,
    /// Holds the configuration and the token directory.
    dir: tempfile::TempDir,
}

impl SoftHsm {
    fn find() -> Option<SoftHsm> {
        let Some(module) = honnin_card::pkcs11::softhsm_module_path() else {
            missing("the SoftHSM2 PKCS#11 module (HONNIN_PKCS11_MODULE)");
            return None;
        };
        let Some(util) = on_path("softhsm2-util") else {
            missing("softhsm2-util");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        honnin_card::pkcs11::write_softhsm_config(dir.path()).unwrap();
        Some(SoftHsm { module, util, dir })
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    fn module(&self) -> &str {
        self.module.to_str().unwrap()
    }

    /// `softhsm2-util --init-token --free …` in a child with this configuration.
    fn init_token(&self, label: &str, pin: &str) {
        let out = Command::new(&self.util)
            .args(["--init-token", "--free", "--label", label, "--pin", pin])
            .args(["--so-pin", "12345678"])
            .env("SOFTHSM2_CONF", self.conf())
            .output()
            .unwrap();
        assert!(out.status.success(), "softhsm2-util: {}", text_of(&out));
    }
}

fn run_tool(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn x509_text(openssl: &Path, pem: &Path) -> String {
    let out = run_tool(
        Command::new(openssl)
            .args(["x509", "-noout", "-text", "-in"])
            .arg(pem),
    );
    assert!(out.status.success(), "{}", text_of(&out));
    text(&out.stdout)
}

fn verify(openssl: &Path, trust: &Path, untrusted: Option<&Path>, ee: &Path) -> (bool, String) {
    let mut cmd = Command::new(openssl);
    cmd.arg("verify").arg("-CAfile").arg(trust);
    if let Some(u) = untrusted {
        cmd.arg("-untrusted").arg(u);
    }
    let out = run_tool(cmd.arg(ee));
    (out.status.success(), text_of(&out))
}

fn lint(pkilint: &Path, pem: &Path) {
    let out = run_tool(
        Command::new(pkilint)
            .args(["lint", "-s", "WARNING"])
            .arg(pem),
    );
    assert!(
        out.status.success(),
        "pkilint {}: {}",
        pem.display(),
        text_of(&out)
    );
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// `honnin serve` in a temporary directory; killed when dropped.
struct Served {
    _child: Guard,
    server: String,
    dir: tempfile::TempDir,
    /// Environment for every child (SoftHSM2 configuration, PKCS#11 PIN).
    env: Vec<(String, String)>,
}

impl Served {
    fn start() -> Served {
        Self::start_with(tempfile::tempdir().unwrap(), &[], Vec::new())
    }

    /// Starts `honnin serve --data-dir DIR/data <extra>` with `env`.
    fn start_with(dir: tempfile::TempDir, extra: &[&str], env: Vec<(String, String)>) -> Served {
        let (child, addr) = spawn_serve_env(
            &dir.path().join("data"),
            &dir.path().join("serve.log"),
            extra,
            &env,
        );
        Served {
            _child: child,
            server: format!("http://{addr}"),
            dir,
            env,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn token(&self, operator: &str) -> String {
        let ops: Value = serde_json::from_str(
            &std::fs::read_to_string(self.data_dir().join("demo-operators.json")).unwrap(),
        )
        .unwrap();
        ops[operator]["token"].as_str().unwrap().to_string()
    }

    /// `honnin <args…>` with this server's environment, without `--server`.
    fn local(&self, args: &[&str]) -> Output {
        let mut cmd = honnin();
        cmd.args(args).stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// `honnin <args…> --server … --data-dir …` (admin token unless `--token`).
    fn run(&self, args: &[&str]) -> Output {
        let mut a: Vec<&str> = args.to_vec();
        let server = self.server.clone();
        let data = self.data_dir();
        a.extend(["--server", &server, "--data-dir", data.to_str().unwrap()]);
        self.local(&a)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "honnin {args:?} failed ({}):\n{}\nserver log:\n{}",
            out.status,
            text_of(&out),
            self.log()
        );
        text(&out.stdout)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("honnin {args:?}: {e}: {out}"))
    }

    /// `honnin card …` (no server).
    fn card(&self, args: &[&str]) -> Output {
        let mut a = vec!["card"];
        a.extend(args);
        self.local(&a)
    }

    fn card_ok(&self, args: &[&str]) -> String {
        let out = self.card(args);
        assert!(
            out.status.success(),
            "honnin card {args:?}: {}",
            text_of(&out)
        );
        text(&out.stdout)
    }

    fn card_show(&self, card: &[&str]) -> Value {
        let mut a = vec!["show"];
        a.extend(card);
        a.push("--json");
        serde_json::from_str(&self.card_ok(&a)).unwrap()
    }

    /// `honnin window issue` for `resident` onto `card` as window-chiyoda.
    fn issue(&self, card: &[&str], resident: &Resident, auth_pin: &str) -> Output {
        let token = self.token("window-chiyoda");
        let mut a = vec!["window", "issue", "--token", &token];
        a.extend(card);
        a.extend([
            "--my-number",
            &resident.my_number,
            "--name",
            &resident.name,
            "--birth-date",
            &resident.birth_date,
            "--sex",
            &resident.sex,
            "--address",
            &resident.address,
            "--auth-pin",
            auth_pin,
            "--sign-pin",
            SIGN_PIN,
        ]);
        self.run(&a)
    }

    fn issue_ok(&self, card: &[&str], resident: &Resident) -> String {
        let out = self.issue(card, resident, AUTH_PIN);
        assert!(
            out.status.success(),
            "window issue: {}\nserver log:\n{}",
            text_of(&out),
            self.log()
        );
        text(&out.stdout)
    }

    /// A new software card file with the test PINs.
    fn new_card(&self, name: &str) -> String {
        let path = self.path(name);
        let p = path.to_str().unwrap().to_string();
        let out = self.card_ok(&[
            "new",
            "--out",
            &p,
            "--auth-pin",
            AUTH_PIN,
            "--sign-pin",
            SIGN_PIN,
        ]);
        assert!(out.contains("created software card"), "{out}");
        p
    }

    /// Exports the card's certificate `which` to `<name>.pem`.
    fn export(&self, card: &[&str], which: &str, name: &str) -> PathBuf {
        let out = self.path(&format!("{name}.pem"));
        let mut a = vec!["export-cert"];
        a.extend(card);
        a.extend(["--which", which, "--out", out.to_str().unwrap()]);
        if which == "sign" {
            a.extend(["--sign-pin", SIGN_PIN]);
        }
        self.card_ok(&a);
        out
    }

    /// `honnin ca export-roots --out DIR`.
    fn export_roots(&self, name: &str) -> PathBuf {
        let dir = self.path(name);
        let out = self.ok(&["ca", "export-roots", "--out", dir.to_str().unwrap()]);
        assert!(out.contains("certificate(s)"), "{out}");
        dir
    }

    /// Registers a person in Chiyoda as its 住基 clerk.
    fn register(
        &self,
        name: &str,
        kana: &str,
        birth_date: &str,
        sex: &str,
        address: &str,
    ) -> Resident {
        let clerk = self.token("clerk-chiyoda");
        let today = today().to_string();
        let v = self.json(&[
            "registry",
            "register",
            "--token",
            &clerk,
            "--kind",
            "move-in",
            "--municipality",
            CHIYODA,
            "--name",
            name,
            "--name-kana",
            kana,
            "--birth-date",
            birth_date,
            "--sex",
            sex,
            "--address",
            address,
            "--effective-date",
            &today,
            "--reason",
            "転入届",
        ]);
        Resident::from_json(&v)
    }

    /// Adults (20+) of Chiyoda from `honnin registry list --municipality 131016 --json`.
    fn chiyoda_adults(&self) -> Vec<Resident> {
        let v = self.json(&[
            "registry",
            "list",
            "--municipality",
            CHIYODA,
            "--limit",
            "50",
        ]);
        let limit = today()
            .saturating_sub(jiff::Span::new().years(20))
            .to_string();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "resident" && r["municipality"] == CHIYODA)
            .filter(|r| r["birth_date"].as_str().unwrap() <= limit.as_str())
            .map(Resident::from_json)
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Resident {
    my_number: String,
    name: String,
    birth_date: String,
    sex: String,
    address: String,
}

impl Resident {
    fn from_json(v: &Value) -> Resident {
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("{k} in {v}"))
                .to_string()
        };
        Resident {
            my_number: s("my_number"),
            name: s("name"),
            birth_date: s("birth_date"),
            sex: s("sex"),
            address: s("address"),
        }
    }
}

fn card_file(path: &str) -> Vec<&str> {
    vec!["--card", path]
}

fn der_of(pem: &Path) -> Vec<u8> {
    Certificate::from_pem(&std::fs::read_to_string(pem).unwrap())
        .unwrap()
        .der()
        .to_vec()
}

/// `openssl x509 -text` with what must differ between two cards' certificates masked:
/// serial, notBefore (the issuance instant), CN, public key, SKI, signature, and the
/// CRL shard in the distribution point (it follows the serial).
fn structure(x509_text: &str) -> String {
    let mut out = Vec::new();
    let mut skip_block = false;
    let mut mask_next = false;
    for line in x509_text.lines() {
        let t = line.trim();
        if mask_next {
            out.push("<masked>".to_string());
            mask_next = false;
            continue;
        }
        if skip_block {
            if t.starts_with("Exponent:") {
                skip_block = false;
                out.push(line.to_string());
            }
            continue;
        }
        if t.starts_with("Serial Number:") || t.starts_with("X509v3 Subject Key Identifier:") {
            out.push(line.to_string());
            mask_next = true;
        } else if t.starts_with("Modulus:") {
            out.push(line.to_string());
            skip_block = true;
        } else if t.starts_with("Signature Value:") {
            out.push(line.to_string());
            break;
        } else if t.starts_with("URI:") && t.contains("/crl/") && t.ends_with(".crl") {
            // The CRL shard follows the serial.
            let masked = match line.rsplit_once('/') {
                Some((head, _)) => format!("{head}/<shard>.crl"),
                None => line.to_string(),
            };
            out.push(masked);
        } else if t.starts_with("Not Before:") {
            out.push("Not Before: <masked>".to_string());
        } else if t.starts_with("Subject:") {
            let masked = match line.rsplit_once("CN = ") {
                Some((head, _)) => format!("{head}CN = <masked>"),
                None => line.to_string(),
            };
            out.push(masked);
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// Issuance onto a software card and onto a SoftHSM2 card: certificates that verify,
/// carry the JPKI OIDs, lint clean, and have the same structure on both cards.
#[test]
fn window_issue_onto_software_and_softhsm_cards() {
    let srv = Served::start();
    let adults = srv.chiyoda_adults();
    assert!(adults.len() >= 2, "too few Chiyoda adults: {adults:?}");
    let holder = &adults[0];

    // The software card.
    let card = srv.new_card("card.json");
    let show = srv.card_show(&[&card]);
    assert_eq!(show["token"], "JPKIAPICCTOKEN2");
    assert_eq!(show["auth"]["key"], false);
    let out = srv.issue_ok(&card_file(&card), holder);
    assert!(out.contains("authentication certificate: serial"), "{out}");
    assert!(out.contains("signature certificate:      serial"), "{out}");
    let show = srv.card_show(&[&card]);
    assert_eq!(show["auth"]["key"], true, "{show}");
    assert_eq!(show["sign"]["key"], true, "{show}");
    assert!(
        show["auth"]["certificate"]
            .as_str()
            .unwrap()
            .starts_with("serial ")
    );
    let sign_pem = srv.export(&card_file(&card), "sign", "sign");
    let auth_pem = srv.export(&card_file(&card), "auth", "auth");
    // Standard output works too.
    let stdout_pem = srv.card_ok(&["export-cert", &card, "--which", "auth"]);
    assert_eq!(
        der_of(&auth_pem),
        Certificate::from_pem(&stdout_pem).unwrap().der()
    );
    // The signature certificate needs its PIN.
    let out = srv.card(&[
        "export-cert",
        &card,
        "--which",
        "sign",
        "--sign-pin",
        "WRONG99",
    ]);
    assert!(!out.status.success());
    let roots = srv.export_roots("roots");
    let sign_ca = roots.join("sign-g1.pem");
    let auth_ca = roots.join("auth-g1.pem");
    assert!(sign_ca.is_file() && auth_ca.is_file());

    // The certificates as honnin reads them: the resident's facts, the CA's signature.
    let sign = SignatureCertificate::from_der(&der_of(&sign_pem)).unwrap();
    let facts = sign.basic_facts().unwrap();
    assert_eq!(facts.name, holder.name);
    assert_eq!(facts.address, holder.address);
    assert_eq!(facts.birth_date.unwrap().to_string(), holder.birth_date);
    sign.verify_signed_by(
        &Certificate::from_der(&der_of(&sign_ca))
            .unwrap()
            .subject_public_key_der(),
    )
    .unwrap();
    let auth = Certificate::from_der(&der_of(&auth_pem)).unwrap();
    assert_eq!(auth.profile(), Profile::Authentication);

    if let Some(openssl) = openssl() {
        let (ok, out) = verify(&openssl, &sign_ca, None, &sign_pem);
        assert!(ok, "sign: {out}");
        let (ok, out) = verify(&openssl, &auth_ca, None, &auth_pem);
        assert!(ok, "auth: {out}");
        // Not by the other CA.
        let (ok, _) = verify(&openssl, &auth_ca, None, &sign_pem);
        assert!(!ok);
        let sign_text = x509_text(&openssl, &sign_pem);
        for oid in FACT_OIDS {
            assert!(
                sign_text.contains(&format!("othername: {oid}::")),
                "{oid}:\n{sign_text}"
            );
        }
        assert!(
            sign_text.contains(&format!("Policy: {POLICY_SIGN}")),
            "{sign_text}"
        );
        assert!(sign_text.contains(&holder.name), "{sign_text}");
        assert!(
            sign_text.contains("Digital Signature, Non Repudiation"),
            "{sign_text}"
        );
        let auth_text = x509_text(&openssl, &auth_pem);
        assert!(
            auth_text.contains(&format!("Policy: {POLICY_AUTH}")),
            "{auth_text}"
        );
        // The user-authentication certificate carries none of the 4 facts.
        assert!(!auth_text.contains("1.2.392.200149.8.5.5."), "{auth_text}");
        assert!(!auth_text.contains(&holder.name), "{auth_text}");
    }
    if let Some(pkilint) = pkilint() {
        for pem in [&sign_ca, &auth_ca, &sign_pem, &auth_pem] {
            lint(&pkilint, pem);
        }
    }

    // A second issuance onto the same card is refused by the window.
    let out = srv.issue(&card_file(&card), holder, AUTH_PIN);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("renew"), "{}", text_of(&out));

    // The same flow onto a SoftHSM2 card: two tokens LABEL-auth / LABEL-sign. The holder
    // is a second person registered with the same 4 facts, so that the certificates
    // may be compared field by field.
    let Some(hsm) = SoftHsm::find() else {
        return;
    };
    let mut srv = srv;
    srv.env = vec![(
        "SOFTHSM2_CONF".to_string(),
        hsm.conf().to_str().unwrap().to_string(),
    )];
    let twin = srv.register(
        &holder.name,
        "テスト　タロウ",
        &holder.birth_date,
        &holder.sex,
        &holder.address,
    );
    assert_ne!(twin.my_number, holder.my_number);
    hsm.init_token("window-auth", AUTH_PIN);
    hsm.init_token("window-sign", SIGN_PIN);
    let p11 = ["--pkcs11-module", hsm.module(), "--pkcs11-token", "window"];
    let show = srv.card_show(&p11);
    assert_eq!(show["token"], "JPKIAPICCTOKEN2");
    assert_eq!(show["auth"]["key"], false, "{show}");
    let out = srv.issue_ok(&p11, &twin);
    assert!(out.contains("signature certificate:      serial"), "{out}");
    let show = srv.card_show(&p11);
    assert_eq!(show["auth"]["key"], true, "{show}");
    assert_eq!(show["sign"]["key"], true, "{show}");
    let hsm_sign_pem = srv.export(&p11, "sign", "hsm-sign");
    let hsm_auth_pem = srv.export(&p11, "auth", "hsm-auth");

    // The SoftHSM2 card signs documents (signature key) and login challenges
    // (authentication key, its own PIN); `honnin verify` accepts both, with the
    // signer certificate the token holds.
    let form = srv.path("hsm-form.txt");
    std::fs::write(&form, "転居届".as_bytes()).unwrap();
    for (key, pin_flag, pin, pem) in [
        ("sign", "--sign-pin", SIGN_PIN, &hsm_sign_pem),
        ("auth", "--auth-pin", AUTH_PIN, &hsm_auth_pem),
    ] {
        let p7s = srv.path(&format!("hsm-{key}.p7s"));
        let mut a = vec!["sign", "--key", key, pin_flag, pin, "--out"];
        a.push(p7s.to_str().unwrap());
        a.extend(p11);
        a.push(form.to_str().unwrap());
        let out = srv.local(&a);
        assert!(out.status.success(), "sign --key {key}: {}", text_of(&out));
        let out = srv.local(&[
            "verify",
            p7s.to_str().unwrap(),
            "--trust",
            roots.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text_of(&out)));
        assert_eq!(report["indication"], "TOTAL_PASSED", "{report:#}");
        assert_eq!(out.status.code(), Some(0));
        let chain_serial = report["chain"][0]["serial"].as_str().unwrap().to_string();
        assert_eq!(
            chain_serial,
            Certificate::from_der(&der_of(pem)).unwrap().serial_hex()
        );
    }
    // A wrong signature PIN signs nothing.
    let bad = srv.path("hsm-bad.p7s");
    let mut a = vec![
        "sign",
        "--sign-pin",
        "WRONG9",
        "--out",
        bad.to_str().unwrap(),
    ];
    a.extend(p11);
    a.push(form.to_str().unwrap());
    assert!(!srv.local(&a).status.success());
    assert!(!bad.exists());

    let a = Certificate::from_der(&der_of(&sign_pem)).unwrap();
    let b = Certificate::from_der(&der_of(&hsm_sign_pem)).unwrap();
    b.verify_signed_by(
        &Certificate::from_der(&der_of(&sign_ca))
            .unwrap()
            .subject_public_key_der(),
    )
    .unwrap();
    assert_eq!(a.issuer_name_der(), b.issuer_name_der());
    assert_eq!(a.authority_key_id(), b.authority_key_id());
    assert_eq!(a.policies(), b.policies());
    assert_eq!(a.profile(), b.profile());
    assert_eq!(a.not_after(), b.not_after());
    // Each names the CRL shard of its serial (first octet mod 16), of the same CA.
    for c in [&a, &b] {
        let urls = c.crl_urls();
        assert_eq!(urls.len(), 1, "{urls:?}");
        let first = u8::from_str_radix(&c.serial_hex()[..2], 16).unwrap();
        assert!(
            urls[0].ends_with(&format!("/crl/sign-g1/{}.crl", first % 16)),
            "{urls:?}"
        );
    }
    assert_eq!(a.ocsp_urls(), b.ocsp_urls());
    assert_eq!(
        SignatureCertificate::try_from(a.clone())
            .unwrap()
            .basic_facts()
            .unwrap(),
        SignatureCertificate::try_from(b.clone())
            .unwrap()
            .basic_facts()
            .unwrap()
    );
    // What must differ does.
    assert_ne!(a.serial_hex(), b.serial_hex());
    assert_ne!(a.subject_public_key_der(), b.subject_public_key_der());
    assert_ne!(a.subject_common_name(), b.subject_common_name());
    assert_ne!(a.subject_key_id(), b.subject_key_id());

    if let Some(openssl) = openssl() {
        let (ok, out) = verify(&openssl, &sign_ca, None, &hsm_sign_pem);
        assert!(ok, "SoftHSM sign: {out}");
        let (ok, out) = verify(&openssl, &auth_ca, None, &hsm_auth_pem);
        assert!(ok, "SoftHSM auth: {out}");
        // Everything else — version, algorithms, issuer, notAfter, subject apart from
        // the CN, the key's type and size, every extension in order with its
        // criticality and value — is identical.
        let sa = structure(&x509_text(&openssl, &sign_pem));
        let sb = structure(&x509_text(&openssl, &hsm_sign_pem));
        assert_eq!(sa, sb, "software card vs SoftHSM2 signature certificates");
        for needle in [
            "critical",
            "Subject Alternative Name",
            "Certificate Policies",
            "<masked>",
        ] {
            assert!(sa.contains(needle), "{needle}:\n{sa}");
        }
        let aa = structure(&x509_text(&openssl, &auth_pem));
        let ab = structure(&x509_text(&openssl, &hsm_auth_pem));
        assert_eq!(
            aa, ab,
            "software card vs SoftHSM2 authentication certificates"
        );
    }
    if let Some(pkilint) = pkilint() {
        for pem in [&hsm_sign_pem, &hsm_auth_pem] {
            lint(&pkilint, pem);
        }
    }
}

/// Refusals at the window leave the card empty; a holder under 15 gets only the
/// authentication certificate; three wrong PINs lock the authentication PIN.
#[test]
fn window_refusals_minors_and_pin_lock() {
    let srv = Served::start();

    // A deceased resident: refused by the CA, and the card holds no key afterwards.
    let dead = srv.register(
        "森　和夫",
        "モリ　カズオ",
        "1950-03-03",
        "male",
        "東京都千代田区麹町二丁目3番",
    );
    let clerk = srv.token("clerk-chiyoda");
    let today_s = today().to_string();
    srv.ok(&[
        "registry",
        "change",
        "--token",
        &clerk,
        "--my-number",
        &dead.my_number,
        "--kind",
        "death",
        "--effective-date",
        &today_s,
    ]);
    let card = srv.new_card("dead.json");
    let out = srv.issue(&card_file(&card), &dead, AUTH_PIN);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let err = text(&out.stderr);
    assert!(err.contains("409") && err.contains("deceased"), "{err}");
    let show = srv.card_show(&[&card]);
    for slot in ["auth", "sign"] {
        assert_eq!(show[slot]["key"], false, "{slot}: {show}");
        assert_eq!(show[slot]["certificate"], Value::Null, "{slot}: {show}");
    }

    // Facts that do not match the registry: 422, fields named, the card left empty.
    let living = srv.register(
        "森　花子",
        "モリ　ハナコ",
        "1952-04-04",
        "female",
        "東京都千代田区麹町二丁目3番",
    );
    let wrong = Resident {
        address: "東京都千代田区麹町二丁目4番".into(),
        ..living.clone()
    };
    let out = srv.issue(&card_file(&card), &wrong, AUTH_PIN);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("422") && err.contains("address"), "{err}");
    assert_eq!(srv.card_show(&[&card])["sign"]["key"], false);
    // A 住基 clerk (of another municipality, too) may not issue: 403.
    let out = {
        let token = srv.token("clerk-sapporo");
        srv.run(&[
            "window",
            "issue",
            "--token",
            &token,
            "--card",
            &card,
            "--my-number",
            &living.my_number,
            "--name",
            &living.name,
            "--birth-date",
            &living.birth_date,
            "--sex",
            &living.sex,
            "--address",
            &living.address,
            "--auth-pin",
            AUTH_PIN,
            "--sign-pin",
            SIGN_PIN,
        ])
    };
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("403"), "{}", text_of(&out));
    assert_eq!(srv.card_show(&[&card])["auth"]["key"], false);

    // 14 years old: only the authentication certificate.
    let born = today()
        .saturating_sub(jiff::Span::new().years(14))
        .to_string();
    let minor = srv.register(
        "森　蒼",
        "モリ　アオイ",
        &born,
        "male",
        "東京都千代田区麹町二丁目3番",
    );
    let kid_card = srv.new_card("kid.json");
    let out = srv.issue_ok(&card_file(&kid_card), &minor);
    assert!(out.contains("authentication certificate: serial"), "{out}");
    assert!(
        out.contains("signature certificate:      none (holders under 15"),
        "{out}"
    );
    let show = srv.card_show(&[&kid_card]);
    assert_eq!(show["auth"]["key"], true, "{show}");
    assert_eq!(show["sign"]["key"], false, "{show}");
    let out = srv.card(&[
        "export-cert",
        &kid_card,
        "--which",
        "sign",
        "--sign-pin",
        SIGN_PIN,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no sign certificate"),
        "{}",
        text_of(&out)
    );
    let auth_pem = srv.export(&card_file(&kid_card), "auth", "kid-auth");
    let roots = srv.export_roots("roots");
    if let Some(openssl) = openssl() {
        let (ok, out) = verify(&openssl, &roots.join("auth-g1.pem"), None, &auth_pem);
        assert!(ok, "{out}");
    }

    // Three wrong authentication PINs lock it; the right one no longer helps.
    let lock_card = srv.new_card("lock.json");
    for left in ["2 tries left", "1 try left"] {
        let out = srv.issue(&card_file(&lock_card), &living, "9999");
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains(left), "{}", text_of(&out));
    }
    let out = srv.issue(&card_file(&lock_card), &living, "9999");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("locked"), "{}", text_of(&out));
    let show = srv.card_show(&[&lock_card]);
    assert_eq!(show["auth"]["locked"], true, "{show}");
    assert_eq!(show["auth"]["tries_left"], 0, "{show}");
    assert_eq!(show["sign"]["locked"], false, "{show}");
    let text_show = srv.card_ok(&["show", &lock_card]);
    assert!(text_show.contains("LOCKED"), "{text_show}");
    let out = srv.issue(&card_file(&lock_card), &living, AUTH_PIN);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("locked"), "{}", text_of(&out));
    assert_eq!(srv.card_show(&[&lock_card])["auth"]["key"], false);
    // The resident was never issued for: a fresh card still works.
    let good = srv.new_card("good.json");
    srv.issue_ok(&card_file(&good), &living);
}

/// CA keys in a SoftHSM2 token: `honnin ca init` and `honnin serve` with
/// `--pkcs11-module/--token`, issuance, verification against the exported roots, a
/// rollover, and no key file anywhere under the data directory.
#[test]
fn ca_keys_in_a_pkcs11_token() {
    let Some(hsm) = SoftHsm::find() else {
        return;
    };
    hsm.init_token("honnin-ca", "ca-pin-2468");
    let env = vec![
        (
            "SOFTHSM2_CONF".to_string(),
            hsm.conf().to_str().unwrap().to_string(),
        ),
        ("HONNIN_PKCS11_PIN".to_string(), "ca-pin-2468".to_string()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca_flags = ["--pkcs11-module", hsm.module(), "--token", "honnin-ca"];
    let init = |extra_env: &[(String, String)]| {
        let mut cmd = honnin();
        cmd.args(["ca", "init", "--data-dir"])
            .arg(&data)
            .args(ca_flags);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // Without the PIN: refused, naming the variable.
    let out = init(&env[..1]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("HONNIN_PKCS11_PIN"),
        "{}",
        text_of(&out)
    );
    let out = init(&env);
    assert!(out.status.success(), "ca init: {}", text_of(&out));
    assert!(
        text(&out.stdout).contains("created sign-g1, auth-g1"),
        "{}",
        text_of(&out)
    );
    // A second init is refused.
    let out = init(&env);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exist"),
        "{}",
        text_of(&out)
    );

    let srv = Served::start_with(dir, &ca_flags, env);
    let holder = srv.chiyoda_adults().remove(0);
    let card = srv.new_card("card.json");
    srv.issue_ok(&card_file(&card), &holder);
    let sign_pem = srv.export(&card_file(&card), "sign", "sign");
    let auth_pem = srv.export(&card_file(&card), "auth", "auth");
    let roots = srv.export_roots("roots");
    let sign_ca = Certificate::from_der(&der_of(&roots.join("sign-g1.pem"))).unwrap();
    let auth_ca = Certificate::from_der(&der_of(&roots.join("auth-g1.pem"))).unwrap();
    Certificate::from_der(&der_of(&sign_pem))
        .unwrap()
        .verify_signed_by(&sign_ca.subject_public_key_der())
        .unwrap();
    Certificate::from_der(&der_of(&auth_pem))
        .unwrap()
        .verify_signed_by(&auth_ca.subject_public_key_der())
        .unwrap();

    // Rollover as admin: generation 2 and the links, published.
    let out = srv.ok(&["ca", "rollover"]);
    assert!(out.contains("sign-g2") && out.contains("auth-g2"), "{out}");
    let roots2 = srv.export_roots("roots2");
    for id in [
        "sign-g1",
        "sign-g2",
        "auth-g1",
        "auth-g2",
        "sign-g2-by-sign-g1",
        "sign-g1-by-sign-g2",
        "auth-g2-by-auth-g1",
        "auth-g1-by-auth-g2",
    ] {
        assert!(roots2.join(format!("{id}.pem")).is_file(), "{id}");
    }
    let twin = srv.chiyoda_adults().remove(1);
    let card2 = srv.new_card("card2.json");
    srv.issue_ok(&card_file(&card2), &twin);
    let sign2_pem = srv.export(&card_file(&card2), "sign", "sign2");
    if let Some(openssl) = openssl() {
        let (ok, out) = verify(&openssl, &roots.join("sign-g1.pem"), None, &sign_pem);
        assert!(ok, "{out}");
        let (ok, out) = verify(&openssl, &roots.join("auth-g1.pem"), None, &auth_pem);
        assert!(ok, "{out}");
        // Old trust anchor + link reaches the new generation; new anchor + link the old.
        let (ok, out) = verify(
            &openssl,
            &roots2.join("sign-g1.pem"),
            Some(&roots2.join("sign-g2-by-sign-g1.pem")),
            &sign2_pem,
        );
        assert!(ok, "{out}");
        let (ok, out) = verify(
            &openssl,
            &roots2.join("sign-g2.pem"),
            Some(&roots2.join("sign-g1-by-sign-g2.pem")),
            &sign_pem,
        );
        assert!(ok, "{out}");
    }
    if let Some(pkilint) = pkilint() {
        for id in ["sign-g2", "sign-g2-by-sign-g1", "auth-g1-by-auth-g2"] {
            lint(&pkilint, &roots2.join(format!("{id}.pem")));
        }
        lint(&pkilint, &sign2_pem);
    }

    // No CA key on disk: no key directory with key files, no PEM private key anywhere.
    let mut stack = vec![srv.data_dir()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            assert!(!name.ends_with(".key.pem"), "key file {}", p.display());
            if !name.starts_with("honnin.sqlite") {
                let body = std::fs::read(&p).unwrap();
                assert!(
                    !String::from_utf8_lossy(&body).contains("PRIVATE KEY"),
                    "{}",
                    p.display()
                );
            }
        }
    }
    let ca_dir = srv.data_dir().join("ca");
    assert!(
        !ca_dir.exists() || std::fs::read_dir(&ca_dir).unwrap().next().is_none(),
        "{} holds files",
        ca_dir.display()
    );
}
