//! `honnin`: the server and its command-line client.

mod bench;
mod bench_issue;
mod bench_ocsp;
mod bench_verify;
mod client;
mod pki_validate;
mod sign;
mod window;

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use honnin_registry::ImportRow;
use honnin_registry::synth::Generator;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use client::{Client, ServerError, resolve_token};

#[derive(Parser, Debug)]
#[command(
    name = "honnin",
    version,
    about = "An open implementation of Japan's My Number identity system"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct Conn {
    /// Server URL.
    #[arg(
        long,
        env = "HONNIN_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    server: String,
    /// API or session token (default: DATA_DIR/admin.token).
    #[arg(long, env = "HONNIN_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Where `serve` keeps its data (used to find admin.token).
    #[arg(
        long,
        env = "HONNIN_DATA_DIR",
        default_value = "honnin-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

impl Conn {
    pub(crate) fn client(&self) -> Result<Client> {
        Client::new(
            &self.server,
            resolve_token(self.token.clone(), &self.data_dir),
        )
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (every role in one process).
    Serve(ServeArgs),
    /// Sign a file with the card (CMS SignedData; signature PIN asked).
    Sign(sign::SignArgs),
    /// Verify a signed application: signature, path, revocation, the form's facts.
    Verify(sign::VerifyArgs),
    /// Certificate tools for operators and external suites.
    Pki {
        #[command(subcommand)]
        cmd: PkiCmd,
    },
    /// The resident registry (住基).
    Registry {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: RegistryCmd,
    },
    /// The audit log.
    Audit {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Operators and their tokens.
    Operator {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: OperatorCmd,
    },
    /// Agencies and their legal bases.
    Agency {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: AgencyCmd,
    },
    /// Interactive login (password + TOTP); prints a session token for HONNIN_TOKEN.
    Login {
        #[command(flatten)]
        conn: Conn,
        #[arg(long)]
        operator: String,
        /// TOTP code (prompted when absent).
        #[arg(long)]
        totp: Option<String>,
    },
    /// The certification authority.
    Ca {
        #[command(subcommand)]
        cmd: window::CaCmd,
    },
    /// The IC card (software card file or PKCS#11 token).
    Card {
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        cmd: window::CardCmd,
    },
    /// The municipal window: certificates onto a card.
    Window {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: window::WindowCmd,
    },
    /// Benchmarks that print each figure with its target.
    Bench {
        #[command(subcommand)]
        cmd: bench::BenchCmd,
    },
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HONNIN_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory (SQLite database, admin token).
    #[arg(long, env = "HONNIN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL; embedded SQLite when absent.
    #[arg(long, env = "HONNIN_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Optional TOML configuration file.
    #[arg(long, env = "HONNIN_CONFIG")]
    config: Option<PathBuf>,
    /// Do not create demo data on first start.
    #[arg(long)]
    no_demo: bool,
    /// Keep the CA keys in this PKCS#11 module's token (user PIN from HONNIN_PKCS11_PIN).
    #[arg(long, env = "HONNIN_PKCS11_MODULE")]
    pkcs11_module: Option<PathBuf>,
    /// Label of that PKCS#11 token.
    #[arg(long = "token", env = "HONNIN_PKCS11_TOKEN")]
    pkcs11_token: Option<String>,
    /// Base URL written into certificates for CRLs and OCSP.
    #[arg(long, env = "HONNIN_PUBLIC_URL")]
    public_url: Option<String>,
    /// `all` (every role) or `ocsp` (only OCSP/CRL serving, stateless over the database).
    #[arg(long, env = "HONNIN_ROLE", value_parser = ["all", "ocsp"])]
    role: Option<String>,
    /// Log format.
    #[arg(long, env = "HONNIN_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

#[derive(Subcommand, Debug)]
enum PkiCmd {
    /// RFC 5280 path validation in the manner of `openssl verify`: exit 0 valid, 1 not
    /// valid (the reason printed), 2 usage errors.
    Validate(pki_validate::ValidateArgs),
}

#[derive(Subcommand, Debug)]
enum RegistryCmd {
    /// Create N synthetic residents (realistic names, kana, addresses).
    Seed {
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only this municipality (6-digit code).
        #[arg(long)]
        municipality: Option<String>,
        #[arg(long, default_value_t = 5000)]
        batch_size: usize,
    },
    /// Bulk-import residents from a CSV file (columns in the README).
    Import {
        file: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        batch_size: usize,
        /// Go on with later batches after a refused one.
        #[arg(long)]
        keep_going: bool,
    },
    /// List residents.
    List {
        #[arg(long)]
        municipality: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one resident.
    Show {
        #[arg(long)]
        my_number: String,
    },
    /// Register a new person (birth or move-in from outside the registry).
    Register {
        #[arg(long, value_parser = ["birth", "move-in"])]
        kind: String,
        #[command(flatten)]
        facts: FactsArgs,
        #[arg(long)]
        municipality: String,
        #[arg(long)]
        effective_date: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Record a change event (異動).
    Change(ChangeArgs),
    /// Ask for 本人確認情報 as an agency.
    Provide {
        /// Legal-basis code.
        #[arg(long)]
        basis: String,
        #[arg(long)]
        my_number: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        birth_date: Option<String>,
        #[arg(long)]
        sex: Option<String>,
        #[arg(long)]
        address: Option<String>,
        /// Items wanted, comma-separated (default: all the basis allows).
        #[arg(long, value_delimiter = ',')]
        items: Vec<String>,
    },
    /// Disclose a resident's record, history and access log (for the resident).
    Disclose {
        #[arg(long)]
        my_number: String,
    },
    /// Record a correction request (申出) or move one on.
    Correction {
        #[command(subcommand)]
        cmd: CorrectionCmd,
    },
}

#[derive(Subcommand, Debug)]
enum CorrectionCmd {
    Request {
        #[arg(long)]
        my_number: String,
        #[arg(long, value_delimiter = ',', required = true)]
        fields: Vec<String>,
        #[arg(long)]
        detail: String,
    },
    Update {
        #[arg(long)]
        id: String,
        #[arg(long, value_parser = ["investigating", "corrected", "rejected"])]
        status: String,
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Args, Debug, Clone)]
struct FactsArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    name_kana: String,
    #[arg(long)]
    alias: Option<String>,
    #[arg(long)]
    birth_date: String,
    #[arg(long)]
    sex: String,
    #[arg(long)]
    address: String,
    #[arg(long)]
    name_flags: Option<String>,
    #[arg(long)]
    address_flags: Option<String>,
}

#[derive(Args, Debug)]
struct ChangeArgs {
    #[arg(long)]
    my_number: String,
    #[arg(long, value_parser = ["move-in", "move-out", "address-change", "name-change", "correction", "death"])]
    kind: String,
    #[arg(long)]
    effective_date: String,
    #[arg(long, default_value = "")]
    reason: String,
    #[arg(long)]
    municipality: Option<String>,
    #[arg(long)]
    destination: Option<String>,
    #[arg(long)]
    abroad: bool,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    name_kana: Option<String>,
    #[arg(long)]
    alias: Option<String>,
    #[arg(long)]
    birth_date: Option<String>,
    #[arg(long)]
    sex: Option<String>,
    #[arg(long)]
    address: Option<String>,
    #[arg(long)]
    name_flags: Option<String>,
    #[arg(long)]
    address_flags: Option<String>,
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Check the hash chain; names the first broken entry.
    Verify,
    /// List entries.
    List {
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Purge entries past the 7-year retention period (recorded in the log).
    Purge,
}

#[derive(Subcommand, Debug)]
enum OperatorCmd {
    /// Create an operator; prints the TOTP secret once. Password from HONNIN_NEW_PASSWORD or prompted.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "registry-clerk", "window-clerk", "agency", "auditor"])]
        role: String,
        #[arg(long)]
        municipality: Option<String>,
        #[arg(long)]
        agency: Option<String>,
        #[arg(long, env = "HONNIN_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    List,
    /// Issue an API token for an operator.
    Token {
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "cli")]
        label: String,
    },
    Disable {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum AgencyCmd {
    List,
    /// Create or update an agency with one legal basis.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        basis: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, value_delimiter = ',', required = true)]
        items: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            if let Some(se) = e.downcast_ref::<ServerError>() {
                eprintln!("error: {se}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Sign(a) => sign::sign(&a),
        Command::Verify(a) => Ok(sign::verify(&a).await),
        Command::Pki {
            cmd: PkiCmd::Validate(a),
        } => pki_validate::run(&a),
        Command::Registry { conn, cmd } => registry(conn, cmd).await,
        Command::Audit { conn, cmd } => audit(conn, cmd).await,
        Command::Operator { conn, cmd } => operator(conn, cmd).await,
        Command::Agency { conn, cmd } => agency(conn, cmd).await,
        Command::Login {
            conn,
            operator,
            totp,
        } => {
            let password = prompt("password: ")?;
            let totp = match totp {
                Some(t) => t,
                None => prompt("TOTP code: ")?,
            };
            let c = Client::new(&conn.server, None)?;
            let v: Value = c
                .post(
                    "/api/v1/session/login",
                    &json!({ "operator": operator, "password": password, "totp": totp }),
                )
                .await?;
            println!("{}", v["token"].as_str().unwrap_or(""));
            eprintln!(
                "session locks after {} idle seconds",
                v["idle_timeout_seconds"]
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { cmd } => bench::run(cmd).await,
        Command::Ca { cmd } => window::ca(cmd).await,
        Command::Card { json, cmd } => window::card(cmd, json),
        Command::Window { conn, cmd } => window::window(&conn.client()?, cmd, conn.json).await,
    }
}

pub(crate) fn prompt(label: &str) -> Result<String> {
    eprint!("{label}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading from the terminal")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn serve(a: ServeArgs) -> Result<ExitCode> {
    init_logs(&a.log_format);
    let mut fig = Figment::from(Serialized::defaults(honnin_server::ServerConfig::default()));
    if let Some(path) = &a.config {
        if !path.exists() {
            bail!("config file {} not found", path.display());
        }
        fig = fig.merge(Toml::file(path));
    }
    // HONNIN_LISTEN, HONNIN_DATA_DIR, HONNIN_DATABASE_URL, HONNIN_SESSION_IDLE_MINUTES, …
    fig = fig.merge(Env::prefixed("HONNIN_").ignore(&["server", "token", "config", "log_format"]));
    let mut config: honnin_server::ServerConfig = fig.extract().context("configuration")?;
    if let Some(l) = a.listen {
        config.listen = l;
    }
    if let Some(d) = a.data_dir {
        config.data_dir = d;
    }
    if let Some(u) = a.database_url {
        config.database_url = Some(u);
    }
    if a.no_demo {
        config.demo = false;
    }
    if a.pkcs11_module.is_some() {
        config.pkcs11_module = a.pkcs11_module;
    }
    if a.pkcs11_token.is_some() {
        config.pkcs11_token = a.pkcs11_token;
    }
    if a.public_url.is_some() {
        config.public_url = a.public_url;
    }
    if let Some(r) = a.role {
        config.role = r;
    }
    let listen = config.listen;
    let db = config
        .database_url
        .as_deref()
        .map(honnin_store::redact_url)
        .unwrap_or_else(|| format!("sqlite in {}", config.data_dir.display()));
    let app = honnin_server::App::start(config)
        .await
        .context("starting")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(%listen, database = %db, "honnin serving");
    eprintln!("honnin listening on http://{listen} ({db})");
    app.serve(listener, honnin_server::shutdown_signal())
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HONNIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

pub(crate) fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn resident_line(r: &Value) -> String {
    format!(
        "{}  {}  {}  {}  {}  {}  {}  [{}]",
        r["my_number"].as_str().unwrap_or(""),
        r["municipality"].as_str().unwrap_or(""),
        r["name"].as_str().unwrap_or(""),
        r["name_kana"].as_str().unwrap_or(""),
        r["birth_date"].as_str().unwrap_or(""),
        r["sex"].as_str().unwrap_or(""),
        r["address"].as_str().unwrap_or(""),
        r["status"].as_str().unwrap_or("")
    )
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
    )) {
        pb.set_style(style);
    }
    pb
}

fn facts_json(f: &FactsArgs) -> Value {
    json!({
        "name": f.name, "name_kana": f.name_kana, "alias": f.alias, "birth_date": f.birth_date,
        "sex": f.sex, "address": f.address,
        "name_flags": f.name_flags.clone().unwrap_or_else(|| "0".repeat(f.name.chars().count())),
        "address_flags": f.address_flags.clone().unwrap_or_else(|| "0".repeat(f.address.chars().count())),
    })
}

async fn registry(conn: Conn, cmd: RegistryCmd) -> Result<ExitCode> {
    let c = conn.client()?;
    match cmd {
        RegistryCmd::Seed {
            count,
            seed,
            municipality,
            batch_size,
        } => {
            let today = honnin_core::today_jst(jiff::Timestamp::now());
            let mut g = Generator::new(seed, today);
            let pb = bar(count as u64, "seeding");
            let mut done = 0usize;
            let mut numbers = Vec::new();
            while done < count {
                let n = batch_size.clamp(1, 50_000).min(count - done);
                let mut rows = Vec::with_capacity(n);
                for _ in 0..n {
                    let s = match &municipality {
                        Some(m) => g
                            .next_in(m)
                            .with_context(|| format!("unknown municipality {m}"))?,
                        None => g.next_resident(),
                    };
                    rows.push(ImportRow::from_synthetic(&s));
                }
                let v: Value = c
                    .post(
                        "/api/v1/residents/import",
                        &json!({ "first_row": done + 1, "rows": rows }),
                    )
                    .await?;
                if let Some(a) = v["my_numbers"].as_array() {
                    numbers.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)));
                }
                done += n;
                pb.set_position(done as u64);
            }
            pb.finish_and_clear();
            if conn.json {
                print_json(&json!({ "created": done, "my_numbers": numbers }));
            } else {
                println!(
                    "created {done} residents; e.g. {}",
                    numbers
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        RegistryCmd::Import {
            file,
            batch_size,
            keep_going,
        } => {
            return import_csv(
                &c,
                &file,
                batch_size.clamp(1, 50_000),
                keep_going,
                conn.json,
            )
            .await;
        }
        RegistryCmd::List {
            municipality,
            limit,
            after,
        } => {
            let mut q = format!("/api/v1/residents?limit={limit}");
            if let Some(m) = municipality {
                q.push_str(&format!("&municipality={m}"));
            }
            if let Some(a) = after {
                q.push_str(&format!("&after={a}"));
            }
            let v: Value = c.get(&q).await?;
            if conn.json {
                print_json(&v);
            } else {
                for r in v.as_array().into_iter().flatten() {
                    println!("{}", resident_line(r));
                }
            }
        }
        RegistryCmd::Show { my_number } => {
            let v: Value = c
                .get(&format!("/api/v1/residents/{}", path_seg(&my_number)))
                .await?;
            if conn.json {
                print_json(&v);
            } else {
                for k in [
                    "my_number",
                    "resident_code",
                    "municipality",
                    "status",
                    "name",
                    "name_kana",
                    "alias",
                    "birth_date",
                    "sex",
                    "address",
                    "version",
                ] {
                    println!("{k:14} {}", display(&v[k]));
                }
            }
        }
        RegistryCmd::Register {
            kind,
            facts,
            municipality,
            effective_date,
            reason,
        } => {
            let mut body = facts_json(&facts);
            body["kind"] = json!(kind.replace('-', "_"));
            body["municipality"] = json!(municipality);
            body["effective_date"] = json!(effective_date);
            body["reason"] = json!(reason);
            let v: Value = c.post("/api/v1/residents", &body).await?;
            if conn.json {
                print_json(&v);
            } else {
                println!("registered {}", resident_line(&v));
            }
        }
        RegistryCmd::Change(a) => {
            let mut body = json!({ "kind": a.kind.replace('-', "_"), "effective_date": a.effective_date, "reason": a.reason });
            let fields = [
                ("municipality", &a.municipality),
                ("destination", &a.destination),
                ("name", &a.name),
                ("name_kana", &a.name_kana),
                ("alias", &a.alias),
                ("birth_date", &a.birth_date),
                ("sex", &a.sex),
                ("address", &a.address),
                ("name_flags", &a.name_flags),
                ("address_flags", &a.address_flags),
            ];
            for (k, v) in fields {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if a.abroad {
                body["abroad"] = json!(true);
            }
            let v: Value = c
                .post(
                    &format!("/api/v1/residents/{}/changes", path_seg(&a.my_number)),
                    &body,
                )
                .await?;
            if conn.json {
                print_json(&v);
            } else {
                println!(
                    "recorded {} (version {}): {}",
                    a.kind,
                    v["version"],
                    resident_line(&v)
                );
            }
        }
        RegistryCmd::Provide {
            basis,
            my_number,
            name,
            birth_date,
            sex,
            address,
            items,
        } => {
            let query = match (my_number, name, birth_date, sex, address) {
                (Some(n), None, None, None, None) => json!({ "my_number": n }),
                (None, Some(name), Some(b), Some(s), Some(a)) => {
                    json!({ "facts": { "name": name, "birth_date": b, "sex": s, "address": a } })
                }
                _ => {
                    bail!("give either --my-number, or all of --name --birth-date --sex --address")
                }
            };
            let v: Value = c
                .post(
                    "/api/v1/provisions",
                    &json!({ "basis": basis, "query": query, "items": items }),
                )
                .await?;
            if conn.json {
                print_json(&v);
            } else {
                println!(
                    "provided under {} (log entry {}):",
                    v["basis"].as_str().unwrap_or(""),
                    v["log_seq"]
                );
                if let Some(m) = v["items"].as_object() {
                    for (k, val) in m {
                        println!("  {k:14} {}", display(val));
                    }
                }
            }
        }
        RegistryCmd::Disclose { my_number } => {
            let v: Value = c
                .get(&format!(
                    "/api/v1/residents/{}/disclosure",
                    path_seg(&my_number)
                ))
                .await?;
            if conn.json {
                print_json(&v);
            } else {
                println!("record:  {}", resident_line(&v["record"]));
                println!("history:");
                for e in v["history"].as_array().into_iter().flatten() {
                    println!(
                        "  v{} {} effective {} by {} {}",
                        e["version"],
                        display(&e["kind"]),
                        display(&e["effective_date"]),
                        display(&e["operator"]),
                        display(&e["reason"])
                    );
                }
                println!("who looked at this record:");
                for e in v["access_log"].as_array().into_iter().flatten() {
                    println!(
                        "  #{} {} {} by {} {} {} [{}] {}",
                        e["seq"],
                        display(&e["at"]),
                        display(&e["kind"]),
                        display(&e["operator"]),
                        display(&e["agency"]),
                        display(&e["basis"]),
                        display(&e["result"]),
                        display(&e["items"])
                    );
                }
                println!("correction requests:");
                for e in v["corrections"].as_array().into_iter().flatten() {
                    println!(
                        "  {} {} [{}] {}",
                        display(&e["id"]),
                        display(&e["fields"]),
                        display(&e["status"]),
                        display(&e["detail"])
                    );
                }
            }
        }
        RegistryCmd::Correction { cmd } => {
            let v: Value = match cmd {
                CorrectionCmd::Request {
                    my_number,
                    fields,
                    detail,
                } => {
                    c.post(
                        &format!("/api/v1/residents/{}/corrections", path_seg(&my_number)),
                        &json!({ "fields": fields, "detail": detail }),
                    )
                    .await?
                }
                CorrectionCmd::Update { id, status, note } => {
                    c.post(
                        &format!("/api/v1/corrections/{}", path_seg(&id)),
                        &json!({ "status": status, "note": note }),
                    )
                    .await?
                }
            };
            if conn.json {
                print_json(&v);
            } else {
                println!("{} [{}]", display(&v["id"]), display(&v["status"]));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Keeps user input from changing the path (a `/` or `?` in an argument).
pub(crate) fn path_seg(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32 & 0xff)
            }
        })
        .collect()
}

pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(display).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

async fn import_csv(
    c: &Client,
    file: &PathBuf,
    batch: usize,
    keep_going: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let total = {
        let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        std::io::BufReader::new(f).lines().count().saturating_sub(1)
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let headers = rdr.headers().context("reading the CSV header")?.clone();
    for required in [
        "municipality",
        "name",
        "name_kana",
        "birth_date",
        "sex",
        "address",
    ] {
        if !headers.iter().any(|h| h == required) {
            bail!("CSV header lacks the column {required:?} (see README: import columns)");
        }
    }
    let pb = bar(total as u64, "importing");
    let mut imported = 0usize;
    let mut failed_batches = 0usize;
    let mut report: Vec<Value> = Vec::new();
    let mut rows: Vec<ImportRow> = Vec::with_capacity(batch);
    let mut parse_errors: Vec<Value> = Vec::new();
    let mut first_row = 1usize;
    let mut row_no = 0usize;
    let mut records = rdr.deserialize::<ImportRow>();
    loop {
        let next = records.next();
        let done = next.is_none();
        if let Some(rec) = next {
            row_no += 1;
            match rec {
                Ok(r) => rows.push(r),
                Err(e) => {
                    rows.push(ImportRow::default());
                    parse_errors
                        .push(json!({ "row": row_no, "field": "csv", "message": e.to_string() }));
                }
            }
        }
        if rows.len() == batch || (done && !rows.is_empty()) {
            let n = rows.len();
            if !parse_errors.is_empty() {
                failed_batches += 1;
                report.append(&mut parse_errors);
            } else {
                match c
                    .post::<_, Value>(
                        "/api/v1/residents/import",
                        &json!({ "first_row": first_row, "rows": rows }),
                    )
                    .await
                {
                    Ok(v) => imported += v["imported"].as_u64().unwrap_or(0) as usize,
                    Err(e) => match e.downcast::<ServerError>() {
                        Ok(se) => {
                            failed_batches += 1;
                            match se.body["error"]["rows"].as_array() {
                                Some(rs) => report.extend(rs.iter().cloned()),
                                None => report.push(json!({ "row": first_row, "field": "batch", "message": se.to_string() })),
                            }
                        }
                        Err(e) => return Err(e),
                    },
                }
            }
            parse_errors.clear();
            rows.clear();
            first_row += n;
            pb.set_position((first_row - 1) as u64);
            if failed_batches > 0 && !keep_going {
                break;
            }
        }
        if done {
            break;
        }
    }
    pb.finish_and_clear();
    if as_json {
        print_json(
            &json!({ "imported": imported, "failed_batches": failed_batches, "errors": report }),
        );
    } else {
        println!("imported {imported} residents; {failed_batches} batch(es) refused");
        for r in &report {
            println!(
                "  row {}: {}: {}",
                r["row"],
                display(&r["field"]),
                display(&r["message"])
            );
        }
    }
    Ok(if failed_batches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn audit(conn: Conn, cmd: AuditCmd) -> Result<ExitCode> {
    let c = conn.client()?;
    match cmd {
        AuditCmd::Verify => {
            let v: Value = c.get("/api/v1/audit/verify").await?;
            if conn.json {
                print_json(&v);
            }
            if v["ok"].as_bool() == Some(true) {
                if !conn.json {
                    println!(
                        "audit chain intact: {} entries (seq {}..={})",
                        v["entries"], v["first_seq"], v["head_seq"]
                    );
                }
                Ok(ExitCode::SUCCESS)
            } else {
                if !conn.json {
                    println!(
                        "audit chain BROKEN at entry {}: {}",
                        v["first_broken"]["seq"],
                        display(&v["first_broken"]["reason"])
                    );
                }
                Ok(ExitCode::from(1))
            }
        }
        AuditCmd::List { after, kind, limit } => {
            let mut q = format!("/api/v1/audit?after={after}&limit={limit}");
            if let Some(k) = kind {
                q.push_str(&format!("&kind={}", path_seg(&k)));
            }
            let v: Value = c.get(&q).await?;
            if conn.json {
                print_json(&v);
            } else {
                for e in v.as_array().into_iter().flatten() {
                    println!(
                        "#{} {} {} by {} subject={} agency={} basis={} [{}] {} {}",
                        e["seq"],
                        display(&e["at"]),
                        display(&e["kind"]),
                        display(&e["operator"]),
                        display(&e["subject"]),
                        display(&e["agency"]),
                        display(&e["basis"]),
                        display(&e["result"]),
                        display(&e["items"]),
                        display(&e["detail"])
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Purge => {
            let v: Value = c.post("/api/v1/audit/purge", &json!({})).await?;
            if conn.json {
                print_json(&v);
            } else {
                println!("purged {} entries", v["purged"]);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn operator(conn: Conn, cmd: OperatorCmd) -> Result<ExitCode> {
    let c = conn.client()?;
    let v: Value = match cmd {
        OperatorCmd::Add {
            id,
            name,
            role,
            municipality,
            agency,
            password,
        } => {
            let password = match password {
                Some(p) => p,
                None => prompt("new operator's password (12+ characters): ")?,
            };
            c.post(
                "/api/v1/operators",
                &json!({ "id": id, "display_name": name, "role": role, "municipality": municipality, "agency": agency, "password": password }),
            )
            .await?
        }
        OperatorCmd::List => c.get("/api/v1/operators").await?,
        OperatorCmd::Token { id, label } => {
            c.post(
                &format!("/api/v1/operators/{}/tokens", path_seg(&id)),
                &json!({ "label": label }),
            )
            .await?
        }
        OperatorCmd::Disable { id } => {
            c.post::<_, Value>(
                &format!("/api/v1/operators/{}/disable", path_seg(&id)),
                &json!({}),
            )
            .await?;
            json!({ "disabled": id })
        }
    };
    print_json(&v);
    Ok(ExitCode::SUCCESS)
}

async fn agency(conn: Conn, cmd: AgencyCmd) -> Result<ExitCode> {
    let c = conn.client()?;
    match cmd {
        AgencyCmd::List => {
            let v: Value = c.get("/api/v1/agencies").await?;
            print_json(&v);
        }
        AgencyCmd::Add {
            id,
            name,
            basis,
            description,
            items,
        } => {
            let _: Value = c
                .put(
                    &format!("/api/v1/agencies/{}", path_seg(&id)),
                    &json!({ "name": name, "bases": [{ "code": basis, "description": description, "items": items }] }),
                )
                .await?;
            println!("agency {id} configured with basis {basis}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
