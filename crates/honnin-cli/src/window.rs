//! The municipal window (窓口) and the card: `honnin card …`, `honnin window issue|renew`
//! and `honnin ca …`. The window keeps no personal data: the application's facts go to
//! the server and nothing is written locally but the card.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Subcommand};
use honnin_card::{JpkiCard, KeyRef, Pkcs11Card, SoftwareCard};
use honnin_pki::{
    Certificate, PkiError, SignatureAlgorithm, Signer, build_csr, digest_info_sha256,
};
use serde_json::{Value, json};

use crate::client::Client;

#[derive(Subcommand, Debug)]
pub enum CardCmd {
    /// Create a software card file (PINs prompted when not given).
    New {
        #[arg(long)]
        out: PathBuf,
        /// 4 digits.
        #[arg(long, env = "HONNIN_AUTH_PIN", hide_env_values = true)]
        auth_pin: Option<String>,
        /// 6–16 upper-case letters and digits.
        #[arg(long, env = "HONNIN_SIGN_PIN", hide_env_values = true)]
        sign_pin: Option<String>,
    },
    /// Show a card: token, PIN tries, certificates.
    Show {
        #[command(flatten)]
        card: CardArgs,
    },
    /// Write a certificate from the card as PEM (the signature certificate needs its PIN).
    ExportCert {
        #[command(flatten)]
        card: CardArgs,
        #[arg(long, value_parser = ["sign", "auth"])]
        which: String,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, env = "HONNIN_SIGN_PIN", hide_env_values = true)]
        sign_pin: Option<String>,
    },
}

/// Which card: a software card file, or a PKCS#11 token pair.
#[derive(Args, Debug, Clone)]
pub struct CardArgs {
    /// A software card file (positional or --card).
    #[arg(long = "card", value_name = "FILE")]
    pub card_file: Option<PathBuf>,
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so, or OpenSC's for a real card).
    #[arg(long)]
    pub pkcs11_module: Option<PathBuf>,
    /// Token label prefix (tokens `<label>-auth` and `<label>-sign`).
    #[arg(long = "pkcs11-token", value_name = "LABEL")]
    pub pkcs11_token: Option<String>,
}

impl CardArgs {
    pub fn open(&self) -> Result<Box<dyn JpkiCard>> {
        match (
            self.card_file.as_ref().or(self.file.as_ref()),
            &self.pkcs11_module,
            &self.pkcs11_token,
        ) {
            (Some(path), None, None) => {
                Ok(Box::new(SoftwareCard::open(path).with_context(|| {
                    format!("opening the card {}", path.display())
                })?))
            }
            (None, Some(module), Some(token)) => Ok(Box::new(
                Pkcs11Card::open(module, token)
                    .with_context(|| format!("opening PKCS#11 token {token}"))?,
            )),
            _ => bail!("give a card file, or --pkcs11-module with --pkcs11-token"),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum WindowCmd {
    /// Issue both certificates onto a card (keys generated on the card).
    Issue(IssueArgs),
    /// Renew: new keys and certificates; the old pair is superseded.
    Renew(IssueArgs),
    /// Re-issue after a lost card onto a new card: the old pair is revoked (keyCompromise).
    Reissue(IssueArgs),
}

#[derive(Args, Debug)]
pub struct IssueArgs {
    #[command(flatten)]
    pub card: CardArgs,
    #[arg(long)]
    pub my_number: String,
    /// The application form's facts (実在性確認 against the registry).
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub birth_date: String,
    #[arg(long)]
    pub sex: String,
    #[arg(long)]
    pub address: String,
    /// The card's expiry date (caps the certificates).
    #[arg(long)]
    pub card_expiry: Option<String>,
    #[arg(long, env = "HONNIN_AUTH_PIN", hide_env_values = true)]
    pub auth_pin: Option<String>,
    #[arg(long, env = "HONNIN_SIGN_PIN", hide_env_values = true)]
    pub sign_pin: Option<String>,
}

fn pin(given: &Option<String>, label: &str) -> Result<String> {
    match given {
        Some(p) => Ok(p.clone()),
        None => crate::prompt(label),
    }
}

pub fn card(cmd: CardCmd, as_json: bool) -> Result<ExitCode> {
    match cmd {
        CardCmd::New {
            out,
            auth_pin,
            sign_pin,
        } => {
            let a = pin(&auth_pin, "new authentication PIN (4 digits): ")?;
            let s = pin(&sign_pin, "new signature PIN (6-16 of A-Z, 0-9): ")?;
            SoftwareCard::create(&out, &a, &s)?;
            println!("created software card {}", out.display());
        }
        CardCmd::Show { card } => {
            let c = card.open()?;
            let mut v = json!({ "token": c.token_string() });
            for which in [KeyRef::Auth, KeyRef::Sign] {
                let st = c.pin_status(which)?;
                let key = c.public_key(which)?.is_some();
                let cert = match which {
                    KeyRef::Auth => c.read_certificate(which)?.map(|d| describe(&d)),
                    KeyRef::Sign => None,
                };
                v[which.as_str()] = json!({
                    "tries_left": st.tries_left, "max_tries": st.max_tries, "locked": st.locked,
                    "key": key, "certificate": cert,
                });
            }
            if as_json {
                crate::print_json(&v);
            } else {
                println!("token: {}", v["token"].as_str().unwrap_or(""));
                for which in ["auth", "sign"] {
                    let s = &v[which];
                    println!(
                        "{which}: PIN tries {}/{}{}, key: {}, certificate: {}",
                        s["tries_left"],
                        s["max_tries"],
                        if s["locked"].as_bool() == Some(true) {
                            " LOCKED"
                        } else {
                            ""
                        },
                        if s["key"].as_bool() == Some(true) {
                            "yes"
                        } else {
                            "no"
                        },
                        if which == "sign" {
                            "(needs the signature PIN)".to_string()
                        } else {
                            crate::display(&s["certificate"])
                        }
                    );
                }
            }
        }
        CardCmd::ExportCert {
            card,
            which,
            out,
            sign_pin,
        } => {
            let mut c = card.open()?;
            let k = if which == "sign" {
                KeyRef::Sign
            } else {
                KeyRef::Auth
            };
            if k == KeyRef::Sign {
                c.verify_pin(KeyRef::Sign, &pin(&sign_pin, "signature PIN: ")?)?;
            }
            let der = c
                .read_certificate(k)?
                .ok_or_else(|| anyhow!("the card holds no {which} certificate"))?;
            let pem = Certificate::from_der(&der)?.to_pem();
            match out {
                Some(p) => {
                    std::fs::write(&p, pem).with_context(|| format!("writing {}", p.display()))?
                }
                None => print!("{pem}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(der: &[u8]) -> String {
    match Certificate::from_der(der) {
        Ok(c) => format!("serial {} valid until {}", c.serial_hex(), c.not_after()),
        Err(e) => format!("unreadable ({e})"),
    }
}

/// A card key as a [`Signer`]: the card signs the DigestInfo, the key never leaves it.
struct CardSigner<'a> {
    card: Mutex<&'a mut dyn JpkiCard>,
    which: KeyRef,
    spki: Vec<u8>,
}

impl Signer for CardSigner<'_> {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1Sha256
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let mut card = self
            .card
            .lock()
            .map_err(|_| PkiError::Crypto("card lock poisoned".into()))?;
        card.sign_digest_info(self.which, &digest_info_sha256(message))
            .map_err(|e| PkiError::Crypto(format!("card: {e}")))
    }
}

fn csr_for(card: &mut dyn JpkiCard, which: KeyRef) -> Result<Vec<u8>> {
    let spki = card
        .generate_key_pair(which)
        .with_context(|| format!("generating the {which} key on the card"))?;
    let signer = CardSigner {
        card: Mutex::new(card),
        which,
        spki,
    };
    Ok(build_csr("JPKI card key", &signer)?)
}

pub async fn window(client: &Client, cmd: WindowCmd, as_json: bool) -> Result<ExitCode> {
    let (args, renew, lost) = match cmd {
        WindowCmd::Issue(a) => (a, false, false),
        WindowCmd::Renew(a) => (a, true, false),
        WindowCmd::Reissue(a) => (a, false, true),
    };
    let mut card = args.card.open()?;
    let auth_pin = pin(&args.auth_pin, "authentication PIN: ")?;
    let sign_pin = pin(&args.sign_pin, "signature PIN: ")?;
    card.verify_pin(KeyRef::Auth, &auth_pin)?;
    card.verify_pin(KeyRef::Sign, &sign_pin)?;
    let holds =
        card.public_key(KeyRef::Auth)?.is_some() || card.public_key(KeyRef::Sign)?.is_some();
    if holds && !renew {
        bail!(
            "the card already holds keys or certificates; use `honnin window renew` (or re-issue after revocation)"
        );
    }
    if renew {
        for k in [KeyRef::Auth, KeyRef::Sign] {
            card.clear_slot(k)?;
        }
    }
    let auth_csr = csr_for(card.as_mut(), KeyRef::Auth)?;
    let sign_csr = csr_for(card.as_mut(), KeyRef::Sign)?;
    let body = json!({
        "my_number": args.my_number,
        "application": { "name": args.name, "birth_date": args.birth_date, "sex": args.sex, "address": args.address },
        "auth_csr": B64.encode(&auth_csr),
        "sign_csr": B64.encode(&sign_csr),
        "card_expiry": args.card_expiry,
        "renew": renew,
        "lost": lost,
    });
    let issued: Value = match client.post("/api/v1/window/issue", &body).await {
        Ok(v) => v,
        Err(e) => {
            // Nothing was issued: leave the card as it was before keys were made.
            for k in [KeyRef::Auth, KeyRef::Sign] {
                let _ = card.clear_slot(k);
            }
            return Err(e);
        }
    };
    let decode = |k: &str| -> Result<Option<Vec<u8>>> {
        match issued[k].as_str() {
            Some(s) => Ok(Some(
                B64.decode(s).with_context(|| format!("decoding {k}"))?,
            )),
            None => Ok(None),
        }
    };
    let auth_cert =
        decode("auth_certificate")?.context("no authentication certificate in the answer")?;
    let auth_ca = decode("auth_ca_certificate")?.context("no authentication CA in the answer")?;
    card.write_certificates(KeyRef::Auth, &auth_cert, &auth_ca)?;
    match (decode("sign_certificate")?, decode("sign_ca_certificate")?) {
        (Some(cert), Some(ca)) => card.write_certificates(KeyRef::Sign, &cert, &ca)?,
        _ => card.clear_slot(KeyRef::Sign)?,
    }
    card.reset_security_state();
    if as_json {
        crate::print_json(&json!({
            "auth": describe(&auth_cert),
            "sign": decode("sign_certificate")?.map(|d| describe(&d)),
            "sign_refused": issued["sign_refused"],
            "superseded": issued["superseded"],
        }));
    } else {
        println!("authentication certificate: {}", describe(&auth_cert));
        match decode("sign_certificate")? {
            Some(d) => println!("signature certificate:      {}", describe(&d)),
            None => println!(
                "signature certificate:      none ({})",
                crate::display(&issued["sign_refused"])
            ),
        }
        if let Some(s) = issued["superseded"].as_array().filter(|a| !a.is_empty()) {
            println!(
                "superseded: {}",
                s.iter().map(crate::display).collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
pub enum CaCmd {
    /// Create both CAs now (serve does this on first start), on the local data directory.
    Init(CaInitArgs),
    /// A new generation of both CAs with link certificates (via the server, admin).
    Rollover {
        #[command(flatten)]
        conn: crate::Conn,
    },
    /// Revoke a certificate: keyCompromise (lost card), certificateHold (suspension),
    /// cessationOfOperation (no longer needed) or unspecified.
    Revoke {
        #[command(flatten)]
        conn: crate::Conn,
        #[arg(long)]
        serial: String,
        #[arg(long, value_parser = ["keyCompromise", "certificateHold", "cessationOfOperation", "unspecified"])]
        reason: String,
    },
    /// Publish every CRL now (they are also published hourly and after revocations).
    PublishCrls {
        #[command(flatten)]
        conn: crate::Conn,
    },
    /// Apply pending registry notices to the certificates on the local database, as
    /// `serve` does in the background (operations and crash tests). Prints one JSON line
    /// per batch; stops when caught up (or after one batch with --once).
    #[command(hide = true)]
    ApplyNotices(ApplyNoticesArgs),
    /// Write every CA and link certificate as PEM into DIR.
    ExportRoots {
        #[command(flatten)]
        conn: crate::Conn,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct CaInitArgs {
    #[arg(long, env = "HONNIN_DATA_DIR", default_value = "honnin-data")]
    pub data_dir: PathBuf,
    #[arg(long, env = "HONNIN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[arg(long, default_value = "rsa2048")]
    pub algorithm: String,
    /// PKCS#11 module for CA keys (user PIN from HONNIN_PKCS11_PIN).
    #[arg(long)]
    pub pkcs11_module: Option<PathBuf>,
    /// PKCS#11 token label for CA keys.
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long, env = "HONNIN_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct ApplyNoticesArgs {
    #[arg(long, env = "HONNIN_DATA_DIR", default_value = "honnin-data")]
    pub data_dir: PathBuf,
    #[arg(long, env = "HONNIN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Notices per transaction.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub batch: i64,
    /// Apply one batch only.
    #[arg(long)]
    pub once: bool,
}

/// The CA service over the local database and key store (no server).
async fn local_ca(config: &honnin_server::ServerConfig) -> Result<honnin_ca::CaService> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = match &config.database_url {
        Some(u) => honnin_store::Store::open(u, Default::default()).await?,
        None => honnin_store::Store::open_sqlite_dir(&config.data_dir, Default::default()).await?,
    };
    Ok(honnin_ca::CaService::new(
        store,
        std::sync::Arc::new(honnin_store::SystemClock),
        honnin_server::open_keystore(config)?,
        honnin_server::ca_config(config)?,
    ))
}

async fn apply_notices(a: ApplyNoticesArgs) -> Result<()> {
    use std::io::Write as _;
    let ca = local_ca(&honnin_server::ServerConfig {
        data_dir: a.data_dir,
        database_url: a.database_url,
        ..Default::default()
    })
    .await?;
    let (mut notices, mut revoked) = (0usize, 0usize);
    loop {
        let r = match ca.apply_notices(a.batch).await {
            Ok(r) => r,
            // Another consumer moved the offset first; its work stands.
            Err(honnin_ca::CaError::Store(honnin_store::StoreError::Concurrent(_))) => continue,
            Err(e) => return Err(e.into()),
        };
        notices += r.notices;
        revoked += r.revoked.len();
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}",
            json!({ "notices": r.notices, "revoked": r.revoked.len(), "last_seq": r.last_seq })
        )?;
        out.flush()?;
        if a.once || r.notices == 0 {
            break;
        }
    }
    eprintln!("applied {notices} notice(s), revoked {revoked} certificate(s)");
    Ok(())
}

pub async fn ca(cmd: CaCmd) -> Result<ExitCode> {
    match cmd {
        CaCmd::Init(a) => {
            let config = honnin_server::ServerConfig {
                data_dir: a.data_dir.clone(),
                database_url: a.database_url,
                ca_algorithm: a.algorithm,
                pkcs11_module: a.pkcs11_module,
                pkcs11_token: a.token,
                public_url: a.public_url,
                ..Default::default()
            };
            let ca = local_ca(&config).await?;
            let ids = ca.init(&honnin_core::Actor::system()).await?;
            println!("created {}", ids.join(", "));
        }
        CaCmd::ApplyNotices(a) => apply_notices(a).await?,
        CaCmd::Rollover { conn } => {
            let v: Value = conn
                .client()?
                .post("/api/v1/ca/rollover", &json!({}))
                .await?;
            println!("created {}", crate::display(&v["created"]));
        }
        CaCmd::Revoke {
            conn,
            serial,
            reason,
        } => {
            let _: Value = conn
                .client()?
                .post(
                    &format!("/api/v1/certificates/{}/revoke", crate::path_seg(&serial)),
                    &json!({ "reason": reason }),
                )
                .await?;
            println!("revoked {serial} ({reason})");
        }
        CaCmd::PublishCrls { conn } => {
            let v: Value = conn.client()?.post("/api/v1/ca/crls", &json!({})).await?;
            println!("published {} CRL(s)", v["published"]);
        }
        CaCmd::ExportRoots { conn, out } => export_roots(&conn.client()?, &out).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn export_roots(c: &Client, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let v: Value = c.get("/ca/certificates").await?;
    let mut n = 0;
    for ca in v.as_array().into_iter().flatten() {
        let id = ca["id"].as_str().unwrap_or("ca");
        if !id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_".contains(ch))
        {
            bail!("unexpected CA id {id:?}");
        }
        let pem = ca["pem"].as_str().context("pem")?;
        std::fs::write(out.join(format!("{id}.pem")), pem)?;
        n += 1;
    }
    println!("wrote {n} certificate(s) to {}", out.display());
    Ok(())
}
