//! The resident registry (住民基本台帳ネットワーク): residents and their append-only
//! history, change events (異動) with their outbox notices (異動等通知), provision of
//! 本人確認情報 to agencies under a legal basis with a hash-chained log of every request,
//! disclosure of a resident's own record and log, and correction requests (申出).
//!
//! The service takes its [`Store`], [`Clock`] and [`AuditLog`] as values. Authorisation
//! is decided here, from the [`Actor`]: a clerk acts only in their municipality, an agency
//! only under its configured bases, an auditor sees the log and no resident data.

mod change;
mod error;
mod import;
mod provision;
pub mod synth;

use std::sync::Arc;

use honnin_core::{Actor, LocalGovCode, MyNumber, Role};
use honnin_store::audit::{AuditEntry, AuditLog};
use honnin_store::registry::{self as repo, CorrectionRequest, Resident, ResidentEvent};
use honnin_store::{Clock, Store, audit};
use serde::{Deserialize, Serialize};

pub use change::{Change, ChangeRequest, NewResident, RegistrationKind};
pub use error::{RegistryError, RowError};
pub use honnin_store::registry::{Agency, LegalBasis, ResidentStatus};
pub use import::{ImportReport, ImportRow};
pub use provision::{PROVISION_ITEMS, ProvisionQuery, ProvisionRequest, ProvisionResponse};

/// The topic of 異動等 notices in the outbox.
pub const CHANGE_TOPIC: &str = "registry.change";

/// The registry service.
#[derive(Clone, Debug)]
pub struct Registry {
    store: Store,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
}

/// What a resident (through a clerk) is shown about themself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disclosure {
    pub record: Resident,
    pub history: Vec<ResidentEvent>,
    /// Every logged request that concerned this resident: provisions (granted or refused),
    /// reads by clerks, earlier disclosures.
    pub access_log: Vec<audit::AuditRecord>,
    pub corrections: Vec<CorrectionRequest>,
}

/// The status a correction request may move to.
pub const CORRECTION_STATUSES: &[&str] = &["received", "investigating", "corrected", "rejected"];

impl Registry {
    pub fn new(store: Store, clock: Arc<dyn Clock>, audit: AuditLog) -> Self {
        Registry {
            store,
            clock,
            audit,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    pub fn today(&self) -> jiff::civil::Date {
        honnin_core::today_jst(self.clock.now())
    }

    fn require_role(actor: &Actor, roles: &[Role], what: &str) -> Result<(), RegistryError> {
        if roles.contains(&actor.role) {
            Ok(())
        } else {
            Err(RegistryError::forbidden(format!(
                "role {} may not {what}",
                actor.role
            )))
        }
    }

    fn require_scope(actor: &Actor, municipality: &LocalGovCode) -> Result<(), RegistryError> {
        if actor.may_act_in(municipality) {
            Ok(())
        } else {
            // Names the operator's own scope, never the record's municipality: a clerk
            // refused a record must not learn where the person lives.
            Err(RegistryError::forbidden(match &actor.municipality {
                Some(own) => format!(
                    "operator {} may act only for municipality {own}",
                    actor.operator
                ),
                None => format!("operator {} may not act for a municipality", actor.operator),
            }))
        }
    }

    /// Logs a refused request with its `result` (`refused`, `not-found`, …), then returns
    /// the refusal.
    async fn refuse<T>(
        &self,
        entry: AuditEntry,
        result: &str,
        err: RegistryError,
    ) -> Result<T, RegistryError> {
        let entry = AuditEntry {
            result: result.into(),
            ..entry
        }
        .detail(err.to_string());
        self.audit.append(entry).await?;
        Err(err)
    }

    /// Reads one resident's record (a clerk of their municipality, or an admin). The read
    /// is logged, and the record is returned only once the log entry is durable.
    pub async fn get(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
    ) -> Result<Resident, RegistryError> {
        let entry = AuditEntry::new("read", &actor.operator, "ok")
            .subject(my_number.as_str())
            .items("record");
        if !matches!(
            actor.role,
            Role::Admin | Role::RegistryClerk | Role::WindowClerk
        ) {
            let err = RegistryError::forbidden(format!(
                "role {} may not read resident records",
                actor.role
            ));
            return self.refuse(entry, "refused", err).await;
        }
        let mut conn = self.store.conn().await?;
        let found = repo::get_resident(&mut conn, my_number).await?;
        drop(conn);
        let Some(resident) = found else {
            let err = RegistryError::NotFound {
                what: "resident".into(),
            };
            return self.refuse(entry, "not-found", err).await;
        };
        if let Err(err) = Self::require_scope(actor, &resident.municipality) {
            return self.refuse(entry, "refused", err).await;
        }
        self.audit.append(entry).await?;
        Ok(resident)
    }

    /// Lists records, oldest 個人番号 first. A clerk sees only their municipality.
    pub async fn list(
        &self,
        actor: &Actor,
        municipality: Option<&LocalGovCode>,
        after: Option<&MyNumber>,
        limit: i64,
    ) -> Result<Vec<Resident>, RegistryError> {
        Self::require_role(
            actor,
            &[Role::Admin, Role::RegistryClerk, Role::WindowClerk],
            "list residents",
        )?;
        let municipality = match (actor.role, municipality) {
            (Role::Admin, m) => m.cloned(),
            (_, Some(m)) => {
                Self::require_scope(actor, m)?;
                Some(m.clone())
            }
            (_, None) => actor.municipality.clone(),
        };
        if !(1..=1000).contains(&limit) {
            return Err(RegistryError::field("limit", "must be between 1 and 1000"));
        }
        let mut conn = self.store.conn().await?;
        let rows = repo::list_residents(&mut conn, municipality.as_ref(), after, limit).await?;
        drop(conn);
        let subjects: Vec<&str> = rows.iter().map(|r| r.my_number.as_str()).collect();
        self.audit
            .append(
                AuditEntry::new("read", &actor.operator, "ok")
                    .items("list")
                    .detail(format!(
                        "listed {} record(s): {}",
                        rows.len(),
                        subjects.join(",")
                    )),
            )
            .await?;
        Ok(rows)
    }

    /// Disclosure (本人開示) of a resident's record, history, access log and correction
    /// requests, for a clerk acting for the resident.
    async fn disclose_inner(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
    ) -> Result<Disclosure, RegistryError> {
        Self::require_role(
            actor,
            &[Role::Admin, Role::RegistryClerk],
            "disclose records",
        )?;
        let mut conn = self.store.conn().await?;
        let Some(record) = repo::get_resident(&mut conn, my_number).await? else {
            return Err(RegistryError::NotFound {
                what: "resident".into(),
            });
        };
        Self::require_scope(actor, &record.municipality)?;
        let history = repo::events_for(&mut conn, my_number).await?;
        let access_log = audit::for_subject(&mut conn, my_number.as_str(), 10_000).await?;
        let corrections = repo::corrections_for(&mut conn, my_number).await?;
        drop(conn);
        self.audit
            .append(
                AuditEntry::new("disclosure", &actor.operator, "ok")
                    .subject(my_number.as_str())
                    .items("record,history,access_log,corrections"),
            )
            .await?;
        Ok(Disclosure {
            record,
            history,
            access_log,
            corrections,
        })
    }

    /// Records a correction request (申出) from the resident.
    async fn request_correction_inner(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
        fields: Vec<String>,
        detail: String,
    ) -> Result<CorrectionRequest, RegistryError> {
        Self::require_role(
            actor,
            &[Role::Admin, Role::RegistryClerk],
            "record correction requests",
        )?;
        const FIELDS: &[&str] = &["name", "name_kana", "alias", "birth_date", "sex", "address"];
        if fields.is_empty() {
            return Err(RegistryError::field(
                "fields",
                "name at least one field to correct",
            ));
        }
        if let Some(f) = fields.iter().find(|f| !FIELDS.contains(&f.as_str())) {
            return Err(RegistryError::field(
                "fields",
                format!("unknown field {f:?}; use {}", FIELDS.join(", ")),
            ));
        }
        if detail.trim().is_empty() || detail.chars().count() > 2000 {
            return Err(RegistryError::field(
                "detail",
                "must be 1 to 2000 characters",
            ));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(record) = repo::get_resident(&mut tx, my_number).await? else {
            return Err(RegistryError::NotFound {
                what: "resident".into(),
            });
        };
        Self::require_scope(actor, &record.municipality)?;
        let req = CorrectionRequest {
            id: new_id("cr"),
            my_number: my_number.clone(),
            fields,
            detail,
            status: "received".into(),
            note: String::new(),
            operator: actor.operator.clone(),
            created_at: now,
            updated_at: now,
        };
        repo::insert_correction(&mut tx, &req).await?;
        audit::append_in_tx(
            &mut tx,
            now,
            &[
                AuditEntry::new("correction-request", &actor.operator, "received")
                    .subject(my_number.as_str())
                    .items(req.fields.join(","))
                    .detail(format!("request {}", req.id)),
            ],
        )
        .await?;
        honnin_store::commit(tx).await?;
        Ok(req)
    }

    /// Moves a correction request on: received → investigating → corrected | rejected.
    async fn update_correction_inner(
        &self,
        actor: &Actor,
        id: &str,
        status: &str,
        note: String,
    ) -> Result<CorrectionRequest, RegistryError> {
        Self::require_role(
            actor,
            &[Role::Admin, Role::RegistryClerk],
            "update correction requests",
        )?;
        if !CORRECTION_STATUSES.contains(&status) {
            return Err(RegistryError::field(
                "status",
                format!("must be one of {}", CORRECTION_STATUSES.join(", ")),
            ));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(req) = repo::get_correction(&mut tx, id).await? else {
            return Err(RegistryError::NotFound {
                what: format!("correction request {id}"),
            });
        };
        let Some(record) = repo::get_resident(&mut tx, &req.my_number).await? else {
            return Err(RegistryError::NotFound {
                what: "resident".into(),
            });
        };
        Self::require_scope(actor, &record.municipality)?;
        let allowed = match req.status.as_str() {
            "received" => ["investigating", "corrected", "rejected"].contains(&status),
            "investigating" => ["corrected", "rejected"].contains(&status),
            _ => false,
        };
        if !allowed {
            return Err(RegistryError::conflict(format!(
                "a request that is {} cannot become {status}",
                req.status
            )));
        }
        repo::update_correction_status(
            &mut tx,
            id,
            &req.status,
            status,
            &note,
            &actor.operator,
            now,
        )
        .await?;
        audit::append_in_tx(
            &mut tx,
            now,
            &[
                AuditEntry::new("correction-request", &actor.operator, status)
                    .subject(req.my_number.as_str())
                    .detail(format!("request {id}: {} -> {status}", req.status)),
            ],
        )
        .await?;
        honnin_store::commit(tx).await?;
        Ok(CorrectionRequest {
            status: status.into(),
            note,
            operator: actor.operator.clone(),
            updated_at: now,
            ..req
        })
    }

    /// Logs an access-control refusal (forbidden, not found) of a write or disclosure, so
    /// that attempts on other municipalities' residents show in the log; validation errors
    /// touch no data and are only returned.
    async fn logged<T>(
        &self,
        actor: &Actor,
        kind: &str,
        subject: Option<&MyNumber>,
        result: Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        if let Err(e) = &result {
            let outcome = match e {
                RegistryError::Forbidden { .. } => "refused",
                RegistryError::NotFound { .. } => "not-found",
                _ => return result,
            };
            let mut entry = AuditEntry::new(kind, &actor.operator, outcome).detail(e.to_string());
            entry.subject = subject.map(|s| s.as_str().to_string());
            self.audit.append(entry).await?;
        }
        result
    }

    /// Disclosure (本人開示) of a resident's record, history, access log and correction
    /// requests, for a clerk acting for the resident.
    pub async fn disclose(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
    ) -> Result<Disclosure, RegistryError> {
        let r = self.disclose_inner(actor, my_number).await;
        self.logged(actor, "disclosure", Some(my_number), r).await
    }

    /// Records a correction request (申出) from the resident.
    pub async fn request_correction(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
        fields: Vec<String>,
        detail: String,
    ) -> Result<CorrectionRequest, RegistryError> {
        let r = self
            .request_correction_inner(actor, my_number, fields, detail)
            .await;
        self.logged(actor, "correction-request", Some(my_number), r)
            .await
    }

    /// Moves a correction request on: received → investigating → corrected | rejected.
    pub async fn update_correction(
        &self,
        actor: &Actor,
        id: &str,
        status: &str,
        note: String,
    ) -> Result<CorrectionRequest, RegistryError> {
        let r = self.update_correction_inner(actor, id, status, note).await;
        self.logged(actor, "correction-request", None, r).await
    }

    /// Configures an agency and the legal bases it may cite (admin).
    pub async fn configure_agency(
        &self,
        actor: &Actor,
        agency: Agency,
        bases: Vec<LegalBasis>,
    ) -> Result<(), RegistryError> {
        Self::require_role(actor, &[Role::Admin], "configure agencies")?;
        if agency.id.is_empty()
            || !agency
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(RegistryError::field(
                "id",
                "agency id must be ASCII letters, digits, - or _",
            ));
        }
        for b in &bases {
            if b.agency != agency.id {
                return Err(RegistryError::field(
                    "bases",
                    "every basis must belong to the agency",
                ));
            }
            if b.code.trim().is_empty() {
                return Err(RegistryError::field("bases", "a basis needs a code"));
            }
            if let Some(i) = b
                .items
                .iter()
                .find(|i| !PROVISION_ITEMS.contains(&i.as_str()))
            {
                return Err(RegistryError::field("items", format!("unknown item {i:?}")));
            }
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        repo::upsert_agency(&mut tx, &agency).await?;
        for b in &bases {
            repo::upsert_basis(&mut tx, b).await?;
        }
        audit::append_in_tx(
            &mut tx,
            now,
            &[
                AuditEntry::new("configure-agency", &actor.operator, "ok").detail(format!(
                    "agency {} bases {}",
                    agency.id,
                    bases
                        .iter()
                        .map(|b| b.code.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )),
            ],
        )
        .await?;
        honnin_store::commit(tx).await?;
        Ok(())
    }

    /// Agencies and their bases.
    pub async fn agencies(
        &self,
        actor: &Actor,
    ) -> Result<Vec<(Agency, Vec<LegalBasis>)>, RegistryError> {
        let mut conn = self.store.conn().await?;
        let mut out = Vec::new();
        for a in repo::list_agencies(&mut conn).await? {
            if actor.role == Role::Agency && actor.agency.as_deref() != Some(a.id.as_str()) {
                continue;
            }
            let bases = repo::list_bases(&mut conn, &a.id).await?;
            out.push((a, bases));
        }
        Ok(out)
    }

    /// Deletes audit entries older than the 7-year retention period and records the purge.
    pub async fn purge_expired_log(
        &self,
        actor: &Actor,
    ) -> Result<audit::PurgeReport, RegistryError> {
        Self::require_role(actor, &[Role::Admin], "purge the log")?;
        let now = self.now();
        let cutoff = now
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_sub(jiff::Span::new().years(7))
            .map_err(|e| RegistryError::field("now", e.to_string()))?
            .timestamp();
        Ok(audit::purge_before(&self.store, now, cutoff, &actor.operator).await?)
    }

    pub async fn count(&self) -> Result<i64, RegistryError> {
        let mut conn = self.store.conn().await?;
        Ok(repo::count_residents(&mut conn).await?)
    }
}

/// A random identifier with a readable prefix.
pub(crate) fn new_id(prefix: &str) -> String {
    use rand::Rng;
    let bytes: [u8; 12] = rand::rng().random();
    format!("{prefix}_{}", hex::encode(bytes))
}

impl Registry {
    /// A page of the audit log (auditor or admin).
    pub async fn audit_page(
        &self,
        actor: &Actor,
        after: i64,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<audit::AuditRecord>, RegistryError> {
        Self::require_role(actor, &[Role::Admin, Role::Auditor], "read the audit log")?;
        if !(1..=10_000).contains(&limit) {
            return Err(RegistryError::field("limit", "must be between 1 and 10000"));
        }
        let mut conn = self.store.conn().await?;
        Ok(audit::page(&mut conn, after, kind, limit).await?)
    }

    /// Checks the audit chain (auditor or admin).
    pub async fn verify_log(&self, actor: &Actor) -> Result<audit::VerifyReport, RegistryError> {
        Self::require_role(actor, &[Role::Admin, Role::Auditor], "verify the audit log")?;
        Ok(audit::verify(&self.store).await?)
    }

    /// A page of the outbox (admin; consumers such as the CA read it in-process).
    pub async fn outbox_page(
        &self,
        actor: &Actor,
        after: i64,
        topic: Option<&str>,
        limit: i64,
    ) -> Result<Vec<honnin_store::outbox::OutboxEvent>, RegistryError> {
        Self::require_role(actor, &[Role::Admin], "read the outbox")?;
        if !(1..=10_000).contains(&limit) {
            return Err(RegistryError::field("limit", "must be between 1 and 10000"));
        }
        let mut conn = self.store.conn().await?;
        Ok(honnin_store::outbox::fetch_after(&mut conn, after, topic, limit).await?)
    }
}
