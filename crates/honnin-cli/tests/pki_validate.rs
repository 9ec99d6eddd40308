//! `honnin pki validate` through the built binary, with certificates and a
//! CRL made by the openssl CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// root → intermediate → leaf (with a certificate policy), plus a revoked
/// second leaf and a CRL from the intermediate listing it.
struct Pki {
    dir: tempfile::TempDir,
}

const EXT: &str = "\
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ica]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 1.2.3.4, 1.2.3.5
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:leaf.example
certificatePolicies = 1.2.3.4
";

const CA_CONF: &str = "\
[ca]
default_ca = ica
[ica]
database = index.txt
crlnumber = crlnumber
certificate = ica.pem
private_key = ica.key
default_md = sha256
default_crl_days = 30
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid
";

fn make_pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ext.cnf"), EXT).unwrap();
    std::fs::write(d.join("ca.cnf"), CA_CONF).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut root = vec!["req", "-x509", "-subj", "/CN=Test Root", "-days", "3650"];
    root.extend(ec);
    root.extend([
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-config",
        "ext.cnf",
        "-extensions",
        "root",
    ]);
    openssl(d, &root);
    for (name, cn, issuer, ext) in [
        ("ica", "/CN=Test Intermediate", "root", "ica"),
        ("leaf", "/CN=leaf.example", "ica", "leaf"),
        ("revoked", "/CN=revoked.example", "ica", "leaf"),
    ] {
        let mut req = vec!["req", "-new", "-subj", cn];
        req.extend(ec);
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        req.extend(["-keyout", &key, "-out", &csr]);
        openssl(d, &req);
        let ca = format!("{issuer}.pem");
        let cakey = format!("{issuer}.key");
        let out = format!("{name}.pem");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &cakey,
                "-CAcreateserial",
                "-days",
                "365",
                "-extfile",
                "ext.cnf",
                "-extensions",
                ext,
                "-out",
                &out,
            ],
        );
    }
    // A CRL from the intermediate revoking `revoked`.
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("crlnumber"), "01\n").unwrap();
    openssl(
        d,
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-revoke",
            "revoked.pem",
            "-crl_reason",
            "keyCompromise",
        ],
    );
    openssl(
        d,
        &["ca", "-config", "ca.cnf", "-gencrl", "-out", "ica.crl"],
    );
    // DER copies and a PEM bundle.
    openssl(
        d,
        &[
            "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
        ],
    );
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(d.join("ica.pem")).unwrap(),
        std::fs::read_to_string(d.join("root.pem")).unwrap()
    );
    std::fs::write(d.join("bundle.pem"), bundle).unwrap();
    Pki { dir }
}

fn honnin(args: &[&str], pki: &Pki) -> Output {
    Command::new(env!("CARGO_BIN_EXE_honnin"))
        .current_dir(pki.dir.path())
        .arg("pki")
        .arg("validate")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_valid_chain_exits_zero() {
    let pki = make_pki();
    let o = honnin(
        &[
            "leaf.pem",
            "--trust",
            "root.der",
            "--intermediate",
            "ica.pem",
        ],
        &pki,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let s = stdout(&o);
    assert!(s.starts_with("valid: chain of 3 certificates"), "{s}");
    assert!(s.contains("CN=Test Intermediate"), "{s}");
    assert!(s.contains("policies: 1.2.3.4"), "{s}");
}

#[test]
fn json_output_and_policies() {
    let pki = make_pki();
    let o = honnin(
        &[
            "leaf.pem",
            "--trust",
            "root.pem",
            "--intermediate",
            "ica.pem",
            "--policy",
            "1.2.3.4",
            "--require-explicit-policy",
            "--format",
            "json",
        ],
        &pki,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["chain"].as_array().unwrap().len(), 3);
    assert_eq!(v["policies"][0], "1.2.3.4");

    // 1.2.3.5 is allowed by the intermediate but not asserted by the leaf.
    let o = honnin(
        &[
            "leaf.pem",
            "--trust",
            "root.pem",
            "--intermediate",
            "ica.pem",
            "--policy",
            "1.2.3.5",
            "--require-explicit-policy",
            "--format",
            "json",
        ],
        &pki,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"]["kind"], "policy");
    assert_eq!(v["error"]["cert_index"], 0);
}

#[test]
fn an_invalid_chain_names_the_certificate_and_check() {
    let pki = make_pki();
    // Far in the future everything has expired; the leaf is reported.
    let o = honnin(
        &[
            "leaf.pem",
            "--trust",
            "bundle.pem",
            "--at",
            "2199-01-01T00:00:00Z",
            "--format",
            "json",
        ],
        &pki,
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["kind"], "expired");
    assert_eq!(v["error"]["cert_index"], 0);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CN=leaf.example")
    );

    // Without the intermediate there is no path.
    let o = honnin(&["leaf.pem", "--trust", "root.pem"], &pki);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("invalid: certificate 0 (CN=leaf.example)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn crls_are_checked_hard_fail() {
    let pki = make_pki();
    let args = [
        "--trust",
        "root.pem",
        "--intermediate",
        "ica.pem",
        "--crl",
        "ica.crl",
    ];
    let mut a = vec!["leaf.pem"];
    a.extend(args);
    let o = honnin(&a, &pki);
    // The intermediate has no CRL of its own from the root: unknown, hard fail.
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("revocation status unknown"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("certificate 1 (CN=Test Intermediate)"),
        "{}",
        stdout(&o)
    );

    // Trusting the intermediate directly, the leaf is good and `revoked` is revoked.
    let o = honnin(
        &["leaf.pem", "--trust", "ica.pem", "--crl", "ica.crl"],
        &pki,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("revocation 0: good"), "{}", stdout(&o));
    let o = honnin(
        &["revoked.pem", "--trust", "ica.pem", "--crl", "ica.crl"],
        &pki,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("revoked at"), "{}", stdout(&o));
    assert!(stdout(&o).contains("keyCompromise"), "{}", stdout(&o));
}

#[test]
fn usage_errors_exit_two() {
    let pki = make_pki();
    let o = honnin(&["missing.pem", "--trust", "root.pem"], &pki);
    assert_eq!(o.status.code(), Some(2));
    let o = honnin(&["leaf.pem", "--trust", "ext.cnf"], &pki);
    assert_eq!(o.status.code(), Some(2));
    let o = honnin(
        &["leaf.pem", "--trust", "root.pem", "--at", "yesterday"],
        &pki,
    );
    assert_eq!(o.status.code(), Some(2));
    let o = honnin(&["leaf.pem"], &pki);
    assert_eq!(o.status.code(), Some(2));
}
