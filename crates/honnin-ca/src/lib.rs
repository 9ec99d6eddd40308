//! The JPKI certification authority (公的個人認証サービス): two CAs like J-LIS (digital
//! signature; user authentication), their key generations and link certificates, and
//! issuance at the municipal window — identity checked against the registry (実在性確認),
//! proof of possession checked on the card's PKCS#10 requests, both certificates issued,
//! and every certificate recorded with its resident in the issuing transaction.

mod commit;
mod keystore;
pub mod revocation;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use honnin_core::{Actor, LocalGovCode, MyNumber, Role, normalize_for_match};
use honnin_pki::{
    CaKind, CaParams, Certificate, EndEntityParams, KeyAlgorithm, PkiError, Signer,
    build_ca_certificate, build_link_certificate, issue_auth_certificate,
    issue_signature_certificate, may_hold_signature_certificate, parse_and_verify_csr,
    random_serial, validity_end,
};
use honnin_store::audit::{self, AuditEntry};
use honnin_store::ca::{self as repo, CaKeyRow, CaLinkRow, CertificateRow};
use honnin_store::registry::{self as registry_repo, ResidentStatus};
use honnin_store::{Clock, Store, StoreError};
use serde::{Deserialize, Serialize};

pub use keystore::{KeyStore, KeyStoreConfig};

/// Why a CA operation was refused or failed. All but `Store`/`KeyStore` are the caller's
/// doing (4xx) and leave nothing behind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The application's facts differ from the registry (実在性確認 failed).
    #[error("the application does not match the registry in: {}", fields.join(", "))]
    FactsMismatch { fields: Vec<String> },
    #[error("{field}: {source}")]
    Request {
        field: &'static str,
        source: PkiError,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("key store: {0}")]
    KeyStore(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// CA settings.
#[derive(Debug, Clone)]
pub struct CaConfig {
    /// Base URL under which CRLs (`/crl/…`) and OCSP (`/ocsp/…`) are published.
    pub public_url: String,
    /// Algorithm of new CA keys.
    pub algorithm: KeyAlgorithm,
    /// CA certificate lifetime in years (J-LIS: about 10).
    pub ca_years: i16,
    /// nextUpdate of a CRL, seconds after its thisUpdate.
    pub crl_validity_secs: i64,
    /// nextUpdate of an OCSP response, seconds after its thisUpdate; kept responses are
    /// signed again after half of it.
    pub ocsp_validity_secs: i64,
    /// How long a kept OCSP response may be served from memory without reading the
    /// database again (at most [`revocation::OCSP_MEMORY_MAX_TTL`], 1 s; zero: never).
    /// Revocations through this service drop them at once; a revocation made by another
    /// process is answered within this time.
    pub ocsp_memory_ttl: std::time::Duration,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            public_url: "http://127.0.0.1:8080".into(),
            algorithm: KeyAlgorithm::Rsa2048,
            ca_years: 10,
            crl_validity_secs: 25 * 3600,
            ocsp_validity_secs: 4 * 3600,
            ocsp_memory_ttl: std::time::Duration::ZERO,
        }
    }
}

/// `sign` or `auth`, as stored.
pub fn kind_str(kind: CaKind) -> &'static str {
    match kind {
        CaKind::Signature => "sign",
        CaKind::Authentication => "auth",
    }
}

fn kind_of(s: &str) -> Result<CaKind, CaError> {
    match s {
        "sign" => Ok(CaKind::Signature),
        "auth" => Ok(CaKind::Authentication),
        other => Err(CaError::Store(StoreError::Corrupt(format!(
            "CA kind {other:?}"
        )))),
    }
}

/// What the applicant wrote on the form, checked against the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    pub birth_date: jiff::civil::Date,
    pub sex: honnin_core::Sex,
    pub address: String,
}

/// An issuance (or renewal) request from the window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueRequest {
    pub my_number: MyNumber,
    pub application: Application,
    /// PKCS#10 made by the card's authentication key, DER.
    #[serde(with = "b64")]
    pub auth_csr: Vec<u8>,
    /// PKCS#10 made by the card's signature key, DER (absent for holders under 15).
    #[serde(default, with = "b64opt")]
    pub sign_csr: Option<Vec<u8>>,
    /// The card's expiry date, which caps the certificates.
    #[serde(default)]
    pub card_expiry: Option<jiff::civil::Date>,
    /// Renewal: supersede the valid certificates (allowed from 3 months before expiry).
    #[serde(default)]
    pub renew: bool,
    /// Re-issue after the card was lost: the valid certificates are revoked
    /// (keyCompromise) and replaced, whenever it happens.
    #[serde(default)]
    pub lost: bool,
}

/// What the window writes to the card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Issued {
    #[serde(with = "b64")]
    pub auth_certificate: Vec<u8>,
    #[serde(with = "b64")]
    pub auth_ca_certificate: Vec<u8>,
    #[serde(default, with = "b64opt")]
    pub sign_certificate: Option<Vec<u8>>,
    #[serde(default, with = "b64opt")]
    pub sign_ca_certificate: Option<Vec<u8>>,
    /// Why no signature certificate was issued, if none was.
    pub sign_refused: Option<String>,
    /// Serials of the certificates this issuance superseded.
    pub superseded: Vec<String>,
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s.trim()).map_err(serde::de::Error::custom)
    }
}

mod b64opt {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => STANDARD
                .decode(s.trim())
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// A CA certificate (or link) as published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishedCa {
    pub id: String,
    /// `sign` or `auth`.
    pub kind: String,
    pub generation: i64,
    pub active: bool,
    /// For links: the generation whose key signed this certificate.
    pub issuer: Option<String>,
    pub pem: String,
}

/// The CA service.
#[derive(Clone)]
pub struct CaService {
    store: Store,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyStore>,
    config: CaConfig,
    signers: Arc<RwLock<HashMap<String, Arc<dyn Signer>>>>,
    /// CA generations, cached briefly: issuance reads them twice per request.
    key_cache: Arc<RwLock<Option<KeyCache>>>,
    committer: Arc<std::sync::OnceLock<commit::Committer>>,
    /// Signalled when a revocation makes the CRLs stale.
    pub(crate) crl_dirty: Arc<tokio::sync::Notify>,
    responder_cache: Arc<RwLock<Option<ResponderCache>>>,
    /// Kept OCSP responses in memory (see `CaConfig::ocsp_memory_ttl`).
    pub(crate) ocsp_memory: Arc<revocation::OcspMemory>,
}

type ResponderCache = (std::time::Instant, Arc<Vec<revocation::Responder>>);

impl std::fmt::Debug for CaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaService")
            .field("keys", &self.keys)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// CA generations as read at an instant.
type KeyCache = (std::time::Instant, Vec<CaKeyRow>);

/// How long the CA generations are cached (another process may roll over).
pub(crate) const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The three-month renewal window before expiry.
const RENEWAL_WINDOW_DAYS: i64 = 92;

impl CaService {
    pub fn new(store: Store, clock: Arc<dyn Clock>, keys: KeyStore, config: CaConfig) -> Self {
        CaService {
            store,
            clock,
            keys: Arc::new(keys),
            config,
            signers: Arc::new(RwLock::new(HashMap::new())),
            key_cache: Arc::new(RwLock::new(None)),
            committer: Arc::new(std::sync::OnceLock::new()),
            crl_dirty: Arc::new(tokio::sync::Notify::new()),
            responder_cache: Arc::new(RwLock::new(None)),
            ocsp_memory: Arc::new(revocation::OcspMemory::default()),
        }
    }

    pub fn config(&self) -> &CaConfig {
        &self.config
    }

    /// Where a CA certificate's revocation is published: its ARL.
    fn crl_url(&self, ca_id: &str) -> String {
        format!(
            "{}/crl/{ca_id}/arl.crl",
            self.config.public_url.trim_end_matches('/')
        )
    }

    /// Waits until a revocation has made the CRLs stale (for the publishing job).
    pub async fn crl_changed(&self) {
        self.crl_dirty.notified().await;
    }

    fn ocsp_url(&self, kind: &str) -> String {
        format!(
            "{}/ocsp/{kind}",
            self.config.public_url.trim_end_matches('/')
        )
    }

    pub(crate) fn signer(&self, row: &CaKeyRow) -> Result<Arc<dyn Signer>, CaError> {
        if let Some(s) = self
            .signers
            .read()
            .ok()
            .and_then(|m| m.get(&row.id).cloned())
        {
            return Ok(s);
        }
        let s = self.keys.load(&row.key_ref)?;
        let cert = Certificate::from_der(&row.cert_der)?;
        if cert.subject_public_key_der() != s.public_key_der() {
            return Err(CaError::KeyStore(format!(
                "the key of {} does not match its certificate",
                row.id
            )));
        }
        if let Ok(mut map) = self.signers.write() {
            map.insert(row.id.clone(), s.clone());
        }
        Ok(s)
    }

    pub(crate) async fn keys(&self) -> Result<Vec<CaKeyRow>, CaError> {
        let mut conn = self.store.conn().await?;
        Ok(repo::list_ca_keys(&mut conn).await?)
    }

    async fn active(&self, kind: CaKind) -> Result<CaKeyRow, CaError> {
        let cached = self.key_cache.read().ok().and_then(|c| {
            c.as_ref()
                .filter(|(at, _)| at.elapsed() < KEY_CACHE_TTL)
                .map(|(_, k)| k.clone())
        });
        let keys = match cached {
            Some(k) => k,
            None => {
                let k = self.keys().await?;
                if let Ok(mut c) = self.key_cache.write() {
                    *c = Some((std::time::Instant::now(), k.clone()));
                }
                k
            }
        };
        keys.into_iter()
            .find(|k| k.active && k.kind == kind_str(kind))
            .ok_or_else(|| CaError::NotFound {
                what: format!("active {} CA (run `honnin ca init`)", kind_str(kind)),
            })
    }

    /// Creates both CAs if there are none yet; returns whether it created them.
    pub async fn ensure_initialized(&self) -> Result<bool, CaError> {
        if !self.keys().await?.is_empty() {
            return Ok(false);
        }
        self.new_generation(&Actor::system(), 1).await?;
        Ok(true)
    }

    /// Creates generation `generation` of both CAs, activates it, and when an older one
    /// exists, the link certificates both ways. One transaction for the records.
    async fn new_generation(&self, actor: &Actor, generation: i64) -> Result<Vec<String>, CaError> {
        let now = self.clock.now();
        let not_after = honnin_core::end_of_day_jst(
            honnin_core::today_jst(now)
                .checked_add(jiff::Span::new().years(self.config.ca_years))
                .map_err(|e| CaError::Field {
                    field: "ca_years",
                    reason: e.to_string(),
                })?,
        )
        .map_err(|e| CaError::Field {
            field: "ca_years",
            reason: e.to_string(),
        })?;
        let existing = self.keys().await?;
        let mut rows = Vec::new();
        let mut links = Vec::new();
        let mut ids = Vec::new();
        for kind in [CaKind::Signature, CaKind::Authentication] {
            let id = format!("{}-g{generation}", kind_str(kind));
            let (signer, key_ref) = self.keys.generate(&id, self.config.algorithm)?;
            let crl = self.crl_url(&id);
            let cert = build_ca_certificate(
                &CaParams {
                    kind,
                    serial: random_serial(),
                    not_before: now,
                    not_after,
                    crl_url: &crl,
                },
                signer.as_ref(),
            )?;
            if let Some(old) = existing
                .iter()
                .find(|k| k.active && k.kind == kind_str(kind))
            {
                let old_signer = self.signer(old)?;
                // Old key certifies the new, new certifies the old: either trust anchor
                // reaches certificates of the other generation.
                let old_to_new = build_link_certificate(
                    &cert,
                    &old.cert_der,
                    old_signer.as_ref(),
                    random_serial(),
                    now,
                    old.not_after,
                )?;
                let new_to_old = build_link_certificate(
                    &old.cert_der,
                    &cert,
                    signer.as_ref(),
                    random_serial(),
                    now,
                    old.not_after,
                )?;
                links.push(CaLinkRow {
                    id: format!("{}-by-{}", id, old.id),
                    kind: kind_str(kind).into(),
                    issuer_id: old.id.clone(),
                    subject_id: id.clone(),
                    cert_der: old_to_new,
                    created_at: now,
                });
                links.push(CaLinkRow {
                    id: format!("{}-by-{}", old.id, id),
                    kind: kind_str(kind).into(),
                    issuer_id: id.clone(),
                    subject_id: old.id.clone(),
                    cert_der: new_to_old,
                    created_at: now,
                });
            }
            if let Ok(mut map) = self.signers.write() {
                map.insert(id.clone(), signer.clone());
            }
            rows.push(CaKeyRow {
                id: id.clone(),
                kind: kind_str(kind).into(),
                generation,
                algorithm: self.config.algorithm.as_str().into(),
                key_store: self.keys.kind().into(),
                key_ref,
                cert_der: cert,
                not_after,
                active: true,
                created_at: now,
            });
            ids.push(id);
        }
        let mut tx = self.store.begin().await?;
        for r in &rows {
            repo::insert_ca_key(
                &mut tx,
                &CaKeyRow {
                    active: false,
                    ..r.clone()
                },
            )
            .await?;
            repo::activate_ca_key(&mut tx, &r.kind, &r.id).await?;
        }
        for l in &links {
            repo::insert_link(&mut tx, l).await?;
        }
        audit::append_in_tx(
            &mut tx,
            now,
            &[AuditEntry::new("ca-generation", &actor.operator, "ok")
                .detail(format!("created {}", ids.join(", ")))],
        )
        .await?;
        honnin_store::commit(tx).await?;
        if let Ok(mut c) = self.key_cache.write() {
            *c = None;
        }
        tracing::info!(generation, "CA generation created");
        Ok(ids)
    }

    /// Explicit initialisation (`honnin ca init`): refuses if CAs exist.
    pub async fn init(&self, actor: &Actor) -> Result<Vec<String>, CaError> {
        if actor.role != Role::Admin {
            return Err(CaError::Forbidden(
                "only an admin may initialise the CA".into(),
            ));
        }
        if !self.keys().await?.is_empty() {
            return Err(CaError::Conflict(
                "the CAs already exist; use rollover for a new generation".into(),
            ));
        }
        self.new_generation(actor, 1).await
    }

    /// Key rollover: a new generation of both CAs with link certificates both ways.
    pub async fn rollover(&self, actor: &Actor) -> Result<Vec<String>, CaError> {
        if actor.role != Role::Admin {
            return Err(CaError::Forbidden(
                "only an admin may roll the CA keys over".into(),
            ));
        }
        let next = self
            .keys()
            .await?
            .iter()
            .map(|k| k.generation)
            .max()
            .unwrap_or(0)
            + 1;
        self.new_generation(actor, next).await
    }

    /// Every CA certificate and link certificate, for relying parties.
    pub async fn published(&self) -> Result<Vec<PublishedCa>, CaError> {
        let mut conn = self.store.conn().await?;
        let keys = repo::list_ca_keys(&mut conn).await?;
        let links = repo::list_links(&mut conn).await?;
        let mut out = Vec::new();
        for k in keys {
            out.push(PublishedCa {
                pem: Certificate::from_der(&k.cert_der)?.to_pem(),
                id: k.id,
                kind: k.kind,
                generation: k.generation,
                active: k.active,
                issuer: None,
            });
        }
        for l in links {
            out.push(PublishedCa {
                pem: Certificate::from_der(&l.cert_der)?.to_pem(),
                generation: 0,
                active: false,
                id: l.id,
                kind: l.kind,
                issuer: Some(l.issuer_id),
            });
        }
        Ok(out)
    }

    /// Every CA generation's certificate and the link certificates between them,
    /// DER: what a relying party of this CA trusts and builds paths with.
    pub async fn relying_party_certificates(&self) -> Result<Vec<Vec<u8>>, CaError> {
        let mut conn = self.store.conn().await?;
        let keys = repo::list_ca_keys(&mut conn).await?;
        let links = repo::list_links(&mut conn).await?;
        Ok(keys
            .into_iter()
            .map(|k| k.cert_der)
            .chain(links.into_iter().map(|l| l.cert_der))
            .collect())
    }

    /// Logs that `actor` verified a signature made with the certificate `serial`
    /// (hex) and what the verification concluded, against the resident it was
    /// issued to, so the resident can see who checked their signatures. Durable
    /// before it returns: the caller answers only after. A serial this CA did not
    /// issue is logged without a resident.
    pub async fn log_verification(
        &self,
        actor: &Actor,
        serial_hex: &str,
        outcome: &str,
    ) -> Result<(), CaError> {
        let serial = serial_hex.to_ascii_lowercase();
        let mut tx = self.store.begin().await?;
        let cert = repo::get_certificate(&mut tx, &serial).await?;
        let mut entry = AuditEntry::new("signature-verification", &actor.operator, outcome)
            .items("signature certificate")
            .detail(format!("certificate {serial}"));
        if let Some(agency) = &actor.agency {
            entry = entry.agency(agency.clone(), None);
        }
        if let Some(c) = cert {
            entry = entry.subject(c.my_number);
        }
        audit::append_in_tx(&mut tx, self.clock.now(), &[entry]).await?;
        honnin_store::commit(tx).await?;
        Ok(())
    }

    /// A resident's certificates (window clerk of their municipality, or admin).
    pub async fn certificates_of(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
    ) -> Result<Vec<CertificateRow>, CaError> {
        if !matches!(actor.role, Role::Admin | Role::WindowClerk) {
            return Err(CaError::Forbidden(format!(
                "role {} may not list certificates",
                actor.role
            )));
        }
        let mut conn = self.store.conn().await?;
        let Some(resident) = registry_repo::get_resident(&mut conn, my_number).await? else {
            return Err(CaError::NotFound {
                what: "resident".into(),
            });
        };
        if !actor.may_act_in(&resident.municipality) {
            return Err(CaError::Forbidden(format!(
                "operator {} may not act outside their municipality",
                actor.operator
            )));
        }
        Ok(repo::certificates_for(&mut conn, my_number.as_str()).await?)
    }

    /// Issuance at the window: 実在性確認 against the registry, PKCS#10 checks, both
    /// certificates signed, and all records written in one transaction.
    pub async fn issue(&self, actor: &Actor, req: IssueRequest) -> Result<Issued, CaError> {
        if !matches!(actor.role, Role::Admin | Role::WindowClerk) {
            return Err(CaError::Forbidden(format!(
                "role {} may not issue certificates",
                actor.role
            )));
        }
        let now = self.clock.now();
        // Proof of possession first: bad requests are refused before any lookup.
        let auth_csr = parse_and_verify_csr(&req.auth_csr).map_err(|source| CaError::Request {
            field: "auth_csr",
            source,
        })?;
        let sign_csr = req
            .sign_csr
            .as_deref()
            .map(parse_and_verify_csr)
            .transpose()
            .map_err(|source| CaError::Request {
                field: "sign_csr",
                source,
            })?;
        if sign_csr
            .as_ref()
            .is_some_and(|s| s.subject_public_key_der == auth_csr.subject_public_key_der)
        {
            return Err(CaError::Field {
                field: "sign_csr",
                reason: "the signature key must differ from the authentication key".into(),
            });
        }
        let mut conn = self.store.conn().await?;
        let resident = registry_repo::get_resident(&mut conn, &req.my_number).await?;
        let existing = repo::certificates_for(&mut conn, req.my_number.as_str()).await?;
        drop(conn);
        let Some(resident) = resident else {
            return Err(CaError::NotFound {
                what: "resident".into(),
            });
        };
        if !actor.may_act_in(&resident.municipality) {
            return Err(CaError::Forbidden(format!(
                "operator {} may not issue outside their municipality",
                actor.operator
            )));
        }
        if resident.status != ResidentStatus::Resident {
            return Err(CaError::Conflict(format!(
                "the resident's status is {}; nothing can be issued",
                resident.status.as_str()
            )));
        }
        let mut mismatch = Vec::new();
        if normalize_for_match(&req.application.name)
            != normalize_for_match(resident.facts.name.as_str())
        {
            mismatch.push("name".to_string());
        }
        if req.application.birth_date != resident.facts.birth_date {
            mismatch.push("birth_date".to_string());
        }
        if req.application.sex != resident.facts.sex {
            mismatch.push("sex".to_string());
        }
        if normalize_for_match(&req.application.address)
            != normalize_for_match(resident.facts.address.as_str())
        {
            mismatch.push("address".to_string());
        }
        if !mismatch.is_empty() {
            return Err(CaError::FactsMismatch { fields: mismatch });
        }
        let valid: Vec<&CertificateRow> = existing
            .iter()
            .filter(|c| c.status == "valid" && c.not_after > now)
            .collect();
        if req.renew && req.lost {
            return Err(CaError::Field {
                field: "lost",
                reason: "a request is either a renewal or a re-issue after loss".into(),
            });
        }
        if !valid.is_empty() && !req.lost {
            if !req.renew {
                return Err(CaError::Conflict(
                    "the resident already holds valid certificates (renew, or revoke them first after a loss)".into(),
                ));
            }
            let opens = valid.iter().map(|c| c.not_after).min().and_then(|t| {
                t.checked_sub(jiff::SignedDuration::from_hours(24 * RENEWAL_WINDOW_DAYS))
                    .ok()
            });
            if opens.is_some_and(|o| now < o) {
                return Err(CaError::Conflict(
                    "renewal opens 3 months before the certificates expire".into(),
                ));
            }
        }
        let not_after =
            validity_end(now, resident.facts.birth_date, req.card_expiry).map_err(|source| {
                CaError::Request {
                    field: "card_expiry",
                    source,
                }
            })?;
        let romaji = municipality_romaji(&resident.municipality);
        let auth_ca = self.active(CaKind::Authentication).await?;
        let auth_signer = self.signer(&auth_ca)?;
        let auth_id = opaque_id();
        let auth_serial = random_serial();
        let auth_crl = self.shard_crl_url(&auth_ca.id, &auth_serial);
        let auth_ocsp = self.ocsp_url("auth");
        let auth_cert = issue_auth_certificate(
            &auth_ca.cert_der,
            auth_signer.as_ref(),
            &EndEntityParams {
                serial: auth_serial,
                not_before: now,
                not_after,
                subject_id: &auth_id,
                municipality_romaji: &romaji,
                subject_public_key_der: &auth_csr.subject_public_key_der,
                crl_url: &auth_crl,
                ocsp_url: &auth_ocsp,
            },
        )?;
        let mut records = vec![CertificateRow {
            serial: hex::encode(auth_serial),
            ca_id: auth_ca.id.clone(),
            kind: "auth".into(),
            my_number: req.my_number.as_str().to_string(),
            subject_id: auth_id,
            facts: serde_json::json!({}),
            not_before: now,
            not_after,
            issued_at: now,
            operator: actor.operator.clone(),
            status: "valid".into(),
            revoked_at: None,
            revocation_reason: None,
            der: auth_cert.clone(),
        }];
        let mut sign_refused = None;
        let mut sign = None;
        match sign_csr {
            None => sign_refused = Some("no signature key request was given".to_string()),
            Some(_) if !may_hold_signature_certificate(resident.facts.birth_date, now) => {
                sign_refused = Some("holders under 15 get no signature certificate".to_string());
            }
            Some(csr) => {
                let sign_ca = self.active(CaKind::Signature).await?;
                let sign_signer = self.signer(&sign_ca)?;
                let sign_id = opaque_id();
                let serial = random_serial();
                let crl = self.shard_crl_url(&sign_ca.id, &serial);
                let ocsp = self.ocsp_url("sign");
                let cert = issue_signature_certificate(
                    &sign_ca.cert_der,
                    sign_signer.as_ref(),
                    &EndEntityParams {
                        serial,
                        not_before: now,
                        not_after,
                        subject_id: &sign_id,
                        municipality_romaji: &romaji,
                        subject_public_key_der: &csr.subject_public_key_der,
                        crl_url: &crl,
                        ocsp_url: &ocsp,
                    },
                    &resident.facts,
                )?;
                records.push(CertificateRow {
                    serial: hex::encode(serial),
                    ca_id: sign_ca.id.clone(),
                    kind: "sign".into(),
                    my_number: req.my_number.as_str().to_string(),
                    subject_id: sign_id,
                    facts: serde_json::to_value(&resident.facts).unwrap_or(serde_json::Value::Null),
                    not_before: now,
                    not_after,
                    issued_at: now,
                    operator: actor.operator.clone(),
                    status: "valid".into(),
                    revoked_at: None,
                    revocation_reason: None,
                    der: cert.clone(),
                });
                sign = Some((cert, sign_ca.cert_der.clone()));
            }
        }
        // Records, supersession and the audit entry in one transaction (grouped with
        // concurrent issuances): no certificate leaves the CA without its record.
        let committer = self
            .committer
            .get_or_init(|| commit::Committer::spawn(self.store.clone(), self.clock.clone()));
        let superseded = committer
            .commit(commit::Pending {
                my_number: req.my_number.as_str().to_string(),
                records,
                supersede: if req.renew || req.lost {
                    valid.iter().map(|c| c.serial.clone()).collect()
                } else {
                    Vec::new()
                },
                reason: if req.lost {
                    commit::Reason::Loss
                } else if req.renew {
                    commit::Reason::Renewal
                } else {
                    commit::Reason::Issuance
                },
                operator: actor.operator.clone(),
            })
            .await?;
        if !superseded.is_empty() {
            // Superseded (renewal) or keyCompromise (loss): the CRLs are stale.
            self.ocsp_memory.forget(&superseded);
            self.crl_dirty.notify_one();
        }
        Ok(Issued {
            auth_certificate: auth_cert,
            auth_ca_certificate: auth_ca.cert_der,
            sign_certificate: sign.as_ref().map(|s| s.0.clone()),
            sign_ca_certificate: sign.map(|s| s.1),
            sign_refused,
            superseded,
        })
    }
}

/// An opaque subject CN: no personal data.
fn opaque_id() -> String {
    use rand::Rng;
    let b: [u8; 10] = rand::rng().random();
    hex::encode_upper(b)
}

/// The municipality's name in romaji for `L=`; falls back to the code.
fn municipality_romaji(code: &LocalGovCode) -> String {
    honnin_registry::synth::municipality(code.as_str())
        .map(|m| m.romaji.to_string())
        .unwrap_or_else(|| code.to_string())
}

impl CaService {
    /// Parses a stored kind (exposed for the revocation service).
    pub fn parse_kind(s: &str) -> Result<CaKind, CaError> {
        kind_of(s)
    }
}
