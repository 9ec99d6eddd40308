//! `honnin pki validate`: RFC 5280 path validation of a certificate.
//!
//! Exit codes: 0 valid, 1 invalid (the failing certificate and check are
//! printed), 2 usage errors and unreadable input files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use honnin_pki::path::{self, CrlSet, Oid, PathOptions, RevocationChecker, RevocationMode};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `honnin pki validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The certificate to validate (DER or PEM; the first certificate of a PEM file).
    pub cert: PathBuf,
    /// Trust anchor certificates (DER or PEM, several per PEM file allowed).
    #[arg(long = "trust", required = true, num_args = 1..)]
    pub trust: Vec<PathBuf>,
    /// Untrusted intermediate certificates.
    #[arg(long = "intermediate", num_args = 1..)]
    pub intermediate: Vec<PathBuf>,
    /// CRLs (DER or PEM); given any, revocation is checked hard-fail.
    #[arg(long = "crl", num_args = 1..)]
    pub crl: Vec<PathBuf>,
    /// Validation time (RFC 3339); default now.
    #[arg(long = "at")]
    pub at: Option<String>,
    /// Acceptable policy OIDs (user-initial-policy-set); default anyPolicy.
    #[arg(long = "policy", num_args = 1..)]
    pub policy: Vec<String>,
    /// initial-explicit-policy.
    #[arg(long)]
    pub require_explicit_policy: bool,
    /// initial-policy-mapping-inhibit.
    #[arg(long)]
    pub inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit.
    #[arg(long)]
    pub inhibit_any_policy: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// A usage error: exit code 2 with a message.
fn usage(msg: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("error: {msg}");
    Ok(ExitCode::from(2))
}

/// Runs the command.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let leaf = match honnin_verify::read_certificates(&args.cert) {
        Ok(mut v) if !v.is_empty() => v.swap_remove(0),
        Ok(_) => return usage(format!("{}: no certificate", args.cert.display())),
        Err(e) => return usage(e),
    };
    let mut anchors = Vec::new();
    for p in &args.trust {
        match honnin_verify::read_certificates(p) {
            Ok(v) => anchors.extend(v),
            Err(e) => return usage(e),
        }
    }
    let mut inters = Vec::new();
    for p in &args.intermediate {
        match honnin_verify::read_certificates(p) {
            Ok(v) => inters.extend(v),
            Err(e) => return usage(e),
        }
    }
    let mut crls = Vec::new();
    for p in &args.crl {
        match honnin_verify::read_crls(p) {
            Ok(v) => crls.extend(v),
            Err(e) => return usage(e),
        }
    }
    let time = match &args.at {
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => t,
            Err(e) => return usage(format!("--at {s:?}: {e}")),
        },
        None => jiff::Timestamp::now(),
    };
    let mut opts = PathOptions::new(time);
    for p in &args.policy {
        match p.parse::<Oid>() {
            Ok(o) => opts.initial_policy_set.push(o),
            Err(e) => return usage(format!("--policy {p:?}: {e}")),
        }
    }
    opts.require_explicit_policy = args.require_explicit_policy;
    opts.inhibit_policy_mapping = args.inhibit_policy_mapping;
    opts.inhibit_any_policy = args.inhibit_any_policy;
    let set;
    let checker: Option<&dyn RevocationChecker> = if crls.is_empty() {
        None
    } else {
        opts.revocation = RevocationMode::HardFail;
        set = CrlSet::new(crls).with_crl_signers(&inters);
        Some(&set)
    };
    let result = path::validate(&leaf, &anchors, &inters, &opts, checker);
    match args.format {
        Format::Text => match &result {
            Ok(v) => {
                println!("valid: chain of {} certificates", v.chain.len());
                for (i, s) in v.subjects().iter().enumerate() {
                    println!("  {i}: {s}");
                }
                if !v.valid_policies.is_empty() {
                    let p: Vec<String> = v.valid_policies.iter().map(Oid::to_string).collect();
                    println!("policies: {}", p.join(", "));
                }
                for (i, r) in v.revocation.iter().enumerate() {
                    println!("revocation {i}: {}", revocation_text(r));
                }
            }
            Err(e) => println!("invalid: {e}"),
        },
        Format::Json => {
            let value = match &result {
                Ok(v) => serde_json::json!({
                    "valid": true,
                    "chain": v.subjects(),
                    "error": null,
                    "policies": v.valid_policies.iter().map(Oid::to_string).collect::<Vec<_>>(),
                    "revocation": v.revocation.iter().map(revocation_text).collect::<Vec<_>>(),
                }),
                Err(e) => serde_json::json!({
                    "valid": false,
                    "chain": [],
                    "error": {
                        "kind": e.kind.code(),
                        "cert_index": e.cert_index,
                        "subject": e.subject,
                        "message": e.to_string(),
                    },
                    "policies": [],
                    "revocation": [],
                }),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&value).context("encoding JSON")?
            );
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn revocation_text(r: &path::RevocationStatus) -> String {
    match r {
        path::RevocationStatus::Good { .. } => "good".into(),
        path::RevocationStatus::Revoked { at, reason, .. } => match reason {
            Some(x) => format!("revoked at {at} ({x})"),
            None => format!("revoked at {at}"),
        },
        path::RevocationStatus::Unknown { why } => format!("unknown: {why}"),
    }
}
