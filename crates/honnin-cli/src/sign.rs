//! `honnin sign` (with the card) and `honnin verify` (as a relying party).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use honnin_card::KeyRef;
use honnin_verify::{
    ExpectedFacts, RevocationMode, TrustStore, Verifier, VerifierConfig, VerifyRequest,
};
use jiff::Timestamp;

use crate::window::CardArgs;

#[derive(Args, Debug)]
pub struct SignArgs {
    /// The file to sign.
    pub input: PathBuf,
    /// A software card file.
    #[arg(long = "card", value_name = "FILE")]
    pub card: Option<PathBuf>,
    /// PKCS#11 module (SoftHSM2, or OpenSC's for a real card).
    #[arg(long)]
    pub pkcs11_module: Option<PathBuf>,
    /// Token label prefix (tokens `<label>-auth` and `<label>-sign`).
    #[arg(long = "pkcs11-token", value_name = "LABEL")]
    pub pkcs11_token: Option<String>,
    /// Leave the content out of the signature (verify with --content).
    #[arg(long)]
    pub detached: bool,
    /// `sign`: the signature key (署名用, for documents); `auth`: the
    /// authentication key (利用者証明用, for login challenges).
    #[arg(long, default_value = "sign", value_parser = ["sign", "auth"])]
    pub key: String,
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// PEM instead of DER.
    #[arg(long)]
    pub pem: bool,
    #[arg(long, env = "HONNIN_SIGN_PIN", hide_env_values = true)]
    pub sign_pin: Option<String>,
    #[arg(long, env = "HONNIN_AUTH_PIN", hide_env_values = true)]
    pub auth_pin: Option<String>,
}

pub fn sign(a: &SignArgs) -> Result<ExitCode> {
    let content =
        std::fs::read(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
    let card_args = CardArgs {
        card_file: a.card.clone(),
        file: None,
        pkcs11_module: a.pkcs11_module.clone(),
        pkcs11_token: a.pkcs11_token.clone(),
    };
    let mut card = card_args.open()?;
    let (which, pin) = if a.key == "auth" {
        (
            KeyRef::Auth,
            match &a.auth_pin {
                Some(p) => p.clone(),
                None => crate::prompt("authentication PIN: ")?,
            },
        )
    } else {
        (
            KeyRef::Sign,
            match &a.sign_pin {
                Some(p) => p.clone(),
                None => crate::prompt("signature PIN: ")?,
            },
        )
    };
    card.verify_pin(which, &pin)?;
    let cert = card
        .read_certificate(which)?
        .ok_or_else(|| anyhow!("the card holds no {} certificate", which.as_str()))?;
    let ca = card.read_ca_certificate(which)?;
    let req = honnin_pki::CmsSignRequest::new(
        &content,
        a.detached,
        &cert,
        &ca.into_iter().collect::<Vec<_>>(),
        Timestamp::now(),
    )?;
    let digest_info = honnin_pki::digest_info_sha256(req.to_be_signed());
    let signature = card.sign_digest_info(which, &digest_info)?;
    let p7s = req.finish(&signature)?;
    let out = if a.pem {
        honnin_pki::pem::encode("CMS", &p7s).into_bytes()
    } else {
        p7s
    };
    match &a.out {
        Some(p) => std::fs::write(p, &out).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(&out)
            .context("writing the signature")?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The signed message (CMS SignedData: DER, BER or PEM).
    pub input: PathBuf,
    /// The signed content, for a detached signature.
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Trust anchors: files or directories of CA certificates (PEM/DER); link
    /// certificates found there are used as intermediates.
    #[arg(long, required = true)]
    pub trust: Vec<PathBuf>,
    /// More CA certificates to build the path with.
    #[arg(long)]
    pub intermediate: Vec<PathBuf>,
    /// CRLs to use (offline, or in addition to fetched ones).
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// Fetch nothing: revocation only from --crl.
    #[arg(long)]
    pub offline: bool,
    /// `hard`: no revocation status is INDETERMINATE (TRY_LATER); `soft`: it
    /// passes and the report says so; `off`: not checked.
    #[arg(long, default_value = "hard", value_parser = ["hard", "soft", "off"])]
    pub revocation: String,
    /// The agency's recorded receipt time (RFC 3339): proof that the signature
    /// existed then; the path is validated at this time.
    #[arg(long)]
    pub received_at: Option<Timestamp>,
    /// Validate at this time (RFC 3339) instead of now; not a proof of existence.
    #[arg(long)]
    pub at: Option<Timestamp>,
    /// 氏名 on the form.
    #[arg(long)]
    pub expect_name: Option<String>,
    /// 住所 on the form.
    #[arg(long)]
    pub expect_address: Option<String>,
    /// 生年月日 on the form (YYYY-MM-DD).
    #[arg(long)]
    pub expect_birth: Option<String>,
    /// 性別 on the form (male/female/unknown or 1/2/3).
    #[arg(long)]
    pub expect_sex: Option<String>,
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Exit codes: 0 TOTAL_PASSED with no field mismatching, 1 TOTAL_FAILED or a
/// field mismatch, 3 INDETERMINATE, 2 the request itself is wrong.
pub async fn verify(a: &VerifyArgs) -> ExitCode {
    match verify_inner(a).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn verify_inner(a: &VerifyArgs) -> Result<ExitCode> {
    let mut trust = TrustStore::from_paths(&a.trust)?;
    for p in &a.intermediate {
        for der in honnin_verify::read_certificates(p)? {
            trust.intermediates.push(der);
        }
    }
    let mut crls = Vec::new();
    for p in &a.crl {
        crls.extend(honnin_verify::read_crls(p)?);
    }
    let revocation = match a.revocation.as_str() {
        "off" => RevocationMode::Off,
        "soft" => RevocationMode::SoftFail,
        _ => RevocationMode::HardFail,
    };
    let fetcher: Option<Arc<dyn honnin_verify::Fetcher>> = if a.offline {
        None
    } else {
        Some(Arc::new(
            honnin_server::HttpFetcher::new().map_err(|e| anyhow!(e))?,
        ))
    };
    let verifier = Verifier::new(VerifierConfig {
        trust,
        revocation,
        offline_crls: crls,
        fetcher,
        max_cache_age: None,
    });
    let signed =
        std::fs::read(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
    let content = match &a.content {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let req = VerifyRequest {
        signed,
        content,
        received_at: a.received_at,
        at: a.at,
        expected: ExpectedFacts {
            name: a.expect_name.clone(),
            address: a.expect_address.clone(),
            birth_date: a.expect_birth.clone(),
            sex: a.expect_sex.clone(),
        },
    };
    let report = verifier.verify(&req, Timestamp::now()).await?;
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(ExitCode::from(report.exit_code()))
}
