//! The HTTP face of honnin: a JSON API (documented in `openapi.json`, served at
//! `/openapi.json`), `/healthz`, authentication of every call, and start-up of the
//! services on SQLite or PostgreSQL with first-start bootstrap (admin token, demo data).
//!
//! Handlers only translate between HTTP and the services; rules live in the services.

mod api;
mod demo;
mod error;
mod verify;

pub use verify::HttpFetcher;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use honnin_auth::Auth;
use honnin_ca::{CaConfig, CaService, KeyStore, KeyStoreConfig};
use honnin_registry::Registry;
use honnin_store::audit::AuditLog;
use honnin_store::{Clock, OpenOptions, Store, StoreError, SystemClock};
use serde::{Deserialize, Serialize};

pub use api::router;
pub use error::ApiError;

/// The OpenAPI description of the API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Everything a handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub registry: Registry,
    pub auth: Auth,
    pub ca: CaService,
    pub clock: Arc<dyn Clock>,
}

/// Server settings (flags, `HONNIN_*` environment, optional TOML file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `postgres://…`; when absent, embedded SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// Interactive sessions lock after this many idle minutes.
    pub session_idle_minutes: i64,
    /// Create demo agencies, operators and residents on first start.
    pub demo: bool,
    /// How many synthetic residents the demo data holds.
    pub demo_residents: usize,
    /// Database connections in the pool.
    pub max_connections: u32,
    /// Base URL written into certificates for CRLs and OCSP (default: `http://LISTEN`).
    pub public_url: Option<String>,
    /// Algorithm of new CA keys: `rsa2048` (default), `rsa3072`, `rsa4096`, `ecdsa-p256`.
    pub ca_algorithm: String,
    /// CA keys in a PKCS#11 token instead of encrypted files: the module's path…
    pub pkcs11_module: Option<PathBuf>,
    /// …and the token's label (its user PIN comes from `HONNIN_PKCS11_PIN`).
    pub pkcs11_token: Option<String>,
    /// `all` (every role in one process) or `ocsp` (only OCSP and CRL serving, stateless
    /// over the database, for scaling out behind a cache).
    pub role: String,
    /// Seconds between scheduled CRL publications.
    pub crl_interval_secs: u64,
    /// Milliseconds a kept OCSP response is served from memory without a database read
    /// (0 to 1000, default 750; 0: always read). Revocations made by this process are
    /// answered at once; those made by another process (an `all` beside `--role ocsp`
    /// ones) within this time.
    pub ocsp_cache_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("honnin-data"),
            database_url: None,
            session_idle_minutes: 15,
            demo: true,
            demo_residents: 1000,
            max_connections: 16,
            public_url: None,
            ca_algorithm: "rsa2048".into(),
            pkcs11_module: None,
            pkcs11_token: None,
            role: "all".into(),
            crl_interval_secs: 3600,
            ocsp_cache_ms: 750,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("bootstrap: {0}")]
    Bootstrap(String),
    #[error("CA: {0}")]
    Ca(#[from] honnin_ca::CaError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The started services, ready to be served.
#[derive(Debug)]
pub struct App {
    pub state: AppState,
    pub config: ServerConfig,
}

/// Writes a secret file readable by the owner only.
pub fn write_secret(path: &Path, contents: &str) -> Result<(), StartError> {
    use std::io::Write;
    let io = |source| StartError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

impl App {
    /// Opens the database (applying migrations), starts the audit writer, and on first
    /// start creates the admin (token in `DATA_DIR/admin.token`, mode 0600) and demo data.
    pub async fn start(config: ServerConfig) -> Result<App, StartError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<App, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::Io {
            path: config.data_dir.clone(),
            source,
        })?;
        let opts = OpenOptions {
            max_connections: config.max_connections,
            ..OpenOptions::default()
        };
        let store = match &config.database_url {
            Some(url) => Store::open(url, opts).await?,
            None => Store::open_sqlite_dir(&config.data_dir, opts).await?,
        };
        let audit = AuditLog::spawn(store.clone(), clock.clone());
        let registry = Registry::new(store.clone(), clock.clone(), audit.clone());
        let auth = Auth::new(
            store.clone(),
            clock.clone(),
            audit,
            jiff::SignedDuration::from_mins(config.session_idle_minutes),
        );
        let ca = CaService::new(
            store.clone(),
            clock.clone(),
            open_keystore(&config)?,
            ca_config(&config)?,
        );
        let state = AppState {
            store,
            registry,
            auth,
            ca,
            clock,
        };
        if !matches!(config.role.as_str(), "all" | "ocsp") {
            return Err(StartError::Config(format!(
                "role {:?}: use all or ocsp",
                config.role
            )));
        }
        if config.role == "ocsp" {
            // Serving only: the CAs, responders and CRLs are made by an `all` process.
            return Ok(App { state, config });
        }
        if state.ca.ensure_initialized().await? {
            tracing::info!("created the signature and user-authentication CAs");
        }
        state.ca.ensure_responders().await?;
        state.ca.publish_crls().await?;
        if let Some((token, created, password)) = state
            .auth
            .bootstrap_admin()
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
        {
            write_secret(&config.data_dir.join("admin.token"), &format!("{token}\n"))?;
            write_secret(
                &config.data_dir.join("admin.credentials"),
                &format!(
                    "operator = \"admin\"\npassword = \"{password}\"\ntotp_secret = \"{}\"\ntotp_uri = \"{}\"\n",
                    created.totp_secret, created.totp_uri
                ),
            )?;
            tracing::info!(path = %config.data_dir.join("admin.token").display(), "created the first admin; token written");
            if config.demo {
                demo::create(&state, &config).await?;
            }
        }
        Ok(App { state, config })
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let jobs = if self.config.role == "ocsp" {
            Vec::new()
        } else {
            vec![
                spawn_retention(self.state.registry.clone()),
                spawn_revocation(self.state.ca.clone()),
                spawn_crls(self.state.ca.clone(), self.config.crl_interval_secs),
            ]
        };
        let app = if self.config.role == "ocsp" {
            api::ocsp_router(self.state.clone())
        } else {
            router(self.state.clone())
        };
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        for j in jobs {
            j.abort();
        }
        self.state.store.close().await;
        result
    }
}

/// The CA's settings from the server's.
pub fn ca_config(config: &ServerConfig) -> Result<CaConfig, StartError> {
    Ok(CaConfig {
        public_url: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen)),
        algorithm: config
            .ca_algorithm
            .parse()
            .map_err(|e| StartError::Config(format!("ca_algorithm: {e}")))?,
        ocsp_memory_ttl: {
            let ttl = std::time::Duration::from_millis(config.ocsp_cache_ms);
            if ttl > honnin_ca::revocation::OCSP_MEMORY_MAX_TTL {
                return Err(StartError::Config(format!(
                    "ocsp_cache_ms {}: at most 1000 (revocations are answered within 1 s)",
                    config.ocsp_cache_ms
                )));
            }
            ttl
        },
        ..CaConfig::default()
    })
}

/// Opens the CA key store: a PKCS#11 token when configured, else encrypted files in
/// `DATA_DIR/ca/` under `HONNIN_CA_PASSPHRASE` or a passphrase generated on first start
/// (`DATA_DIR/ca/passphrase`, mode 0600).
pub fn open_keystore(config: &ServerConfig) -> Result<KeyStore, StartError> {
    let ks = match (&config.pkcs11_module, &config.pkcs11_token) {
        (Some(module), Some(token)) => {
            let pin = std::env::var("HONNIN_PKCS11_PIN").map_err(|_| {
                StartError::Config("HONNIN_PKCS11_PIN must hold the token's user PIN".into())
            })?;
            KeyStoreConfig::Pkcs11 {
                module: module.clone(),
                token_label: token.clone(),
                pin: pin.into(),
            }
        }
        (None, None) => {
            let dir = config.data_dir.join("ca");
            std::fs::create_dir_all(&dir).map_err(|source| StartError::Io {
                path: dir.clone(),
                source,
            })?;
            let passphrase = match std::env::var("HONNIN_CA_PASSPHRASE") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    let file = dir.join("passphrase");
                    match std::fs::read_to_string(&file) {
                        Ok(p) => p.trim().to_string(),
                        Err(_) => {
                            use rand::Rng;
                            let b: [u8; 24] = rand::rng().random();
                            let p: String = b.iter().map(|x| format!("{x:02x}")).collect();
                            write_secret(&file, &format!("{p}\n"))?;
                            p
                        }
                    }
                }
            };
            KeyStoreConfig::File {
                dir,
                passphrase: passphrase.into(),
            }
        }
        _ => {
            return Err(StartError::Config(
                "give both pkcs11_module and pkcs11_token, or neither".into(),
            ));
        }
    };
    Ok(KeyStore::open(ks)?)
}

/// Runs the 7-year retention purge of the audit log once a day.
fn spawn_retention(registry: Registry) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
        loop {
            tick.tick().await;
            match registry
                .purge_expired_log(&honnin_core::Actor::system())
                .await
            {
                Ok(r) if r.purged > 0 => tracing::info!(purged = r.purged, "retention purge"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention purge failed"),
            }
        }
    })
}

/// Applies registry notices to certificates as they arrive (polled every 200 ms), so a
/// revocation shows in OCSP well within a second of the registry change.
fn spawn_revocation(ca: CaService) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match ca.apply_notices(1000).await {
                Ok(r) if r.notices == 1000 => continue,
                Ok(r) if !r.revoked.is_empty() => tracing::info!(
                    revoked = r.revoked.len(),
                    "revocations from registry notices"
                ),
                Ok(_) => {}
                // Another process advanced the offset first; its work stands, try again.
                Err(honnin_ca::CaError::Store(StoreError::Concurrent(_))) => {}
                Err(e) => tracing::error!(error = %e, "applying registry notices failed; retrying"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
}

/// Publishes the CRLs on a schedule and shortly after revocations (debounced).
fn spawn_crls(ca: CaService, interval_secs: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(interval_secs.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {},
                _ = ca.crl_changed() => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            }
            if let Err(e) = ca.publish_crls().await {
                tracing::error!(error = %e, "CRL publication failed");
            }
            if let Err(e) = ca.ensure_responders().await {
                tracing::error!(error = %e, "OCSP responder renewal failed");
            }
        }
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
