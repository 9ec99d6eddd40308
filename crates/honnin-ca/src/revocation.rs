//! Revocation: registry notices (異動等通知) turned into revocations exactly once, revocation
//! at the window, CRLs (full, sharded by serial, and an ARL per CA generation), and the OCSP
//! responder with its kept responses.
//!
//! Rules (公的個人認証法 §12, DOMAIN.md "What revokes what"):
//! - address change, name change, correction of name/birth/sex/address (or their flags,
//!   or the 通称), move-in of a known resident, move-out (abroad or to another
//!   municipality): the signature certificate, `affiliationChanged`;
//! - death: both certificates, `cessationOfOperation` (J-LIS's code for death is not public;
//!   the holder no longer needs them);
//! - birth, first registration and bulk import: nothing.

use std::sync::Arc;

use honnin_core::{Actor, Role};
use honnin_pki::{
    CertId, CertStatus, Certificate, CrlParams, HashAlgorithm, OcspResponseStatus,
    RevocationReason, RevokedEntry, Signer, SingleResponse, build_crl,
    build_ocsp_responder_certificate, build_ocsp_response, ocsp_error_response, parse_ocsp_request,
    random_serial,
};
use honnin_store::audit::{self, AuditEntry};
use honnin_store::ca::{self as repo, CrlRow, OcspRow, ResponderRow};
use honnin_store::registry as registry_repo;
use honnin_store::{StoreError, outbox};
use serde::{Deserialize, Serialize};

use crate::{CaError, CaService};

/// The outbox consumer name of the CA.
pub const CONSUMER: &str = "ca.revocation";
/// The registry's topic of 異動等 notices.
pub const CHANGE_TOPIC: &str = "registry.change";
/// Shards of the end-entity CRL, by the first octet of the serial.
pub const CRL_SHARDS: u8 = 16;

/// The shard of a serial (hex).
pub fn shard_of(serial_hex: &str) -> u8 {
    u8::from_str_radix(serial_hex.get(..2).unwrap_or("00"), 16).unwrap_or(0) % CRL_SHARDS
}

/// Which certificates a notice revokes, and why.
pub fn rule_for(
    kind: &str,
    changed: &[String],
) -> Option<(&'static [&'static str], RevocationReason)> {
    const FACTS: &[&str] = &[
        "name",
        "name_flags",
        "birth_date",
        "sex",
        "address",
        "address_flags",
        "alias",
        "all",
    ];
    match kind {
        "address_change" | "name_change" | "move_out" | "move_in" => {
            Some((&["sign"], RevocationReason::AffiliationChanged))
        }
        "correction" if changed.iter().any(|c| FACTS.contains(&c.as_str())) => {
            Some((&["sign"], RevocationReason::AffiliationChanged))
        }
        "death" => Some((&["sign", "auth"], RevocationReason::CessationOfOperation)),
        _ => None,
    }
}

/// What one pass of the consumer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeReport {
    pub notices: usize,
    pub revoked: Vec<String>,
    pub last_seq: i64,
}

/// Reasons a window clerk or admin may give (the others come from the registry).
const MANUAL_REASONS: &[RevocationReason] = &[
    RevocationReason::Unspecified,
    RevocationReason::KeyCompromise,
    RevocationReason::CertificateHold,
    RevocationReason::CessationOfOperation,
];

impl CaService {
    pub(crate) fn shard_crl_url(&self, ca_id: &str, serial: &[u8; 20]) -> String {
        format!(
            "{}/crl/{ca_id}/{}.crl",
            self.config.public_url.trim_end_matches('/'),
            serial[0] % CRL_SHARDS
        )
    }

    /// Applies the next `limit` registry notices in one transaction, advancing the
    /// consumer offset in it: a crash anywhere applies all of them or none.
    pub async fn apply_notices(&self, limit: i64) -> Result<NoticeReport, CaError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let from = outbox::offset(&mut tx, CONSUMER).await?;
        let events = outbox::fetch_after(&mut tx, from, Some(CHANGE_TOPIC), limit).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            honnin_store::commit(tx).await?;
            return Ok(NoticeReport {
                last_seq: from,
                ..Default::default()
            });
        };
        // Set-based: one read of every affected resident's valid certificates, then one
        // UPDATE per reason and one DELETE of kept OCSP answers for the whole batch.
        let ruled: Vec<(
            &honnin_store::outbox::OutboxEvent,
            &'static [&'static str],
            RevocationReason,
        )> = events
            .iter()
            .filter_map(|e| {
                let kind = e.payload["kind"].as_str().unwrap_or_default();
                let changed: Vec<String> = e.payload["changed"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                rule_for(kind, &changed).map(|(kinds, reason)| (e, kinds, reason))
            })
            .collect();
        let mut people: Vec<String> = ruled.iter().map(|(e, _, _)| e.key.clone()).collect();
        people.sort();
        people.dedup();
        let mut valid: std::collections::HashMap<String, Vec<repo::ValidCert>> =
            std::collections::HashMap::new();
        for c in repo::valid_certificates_of_many(&mut tx, &people).await? {
            valid.entry(c.my_number.clone()).or_default().push(c);
        }
        let mut revoked = Vec::new();
        let mut by_reason: std::collections::BTreeMap<&'static str, Vec<String>> =
            std::collections::BTreeMap::new();
        let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut entries = Vec::new();
        for (e, kinds, reason) in &ruled {
            let kind = e.payload["kind"].as_str().unwrap_or_default();
            let mut these = Vec::new();
            for c in valid.get(&e.key).map(Vec::as_slice).unwrap_or_default() {
                // A certificate issued after the change (a re-issue at the window while
                // this consumer lagged or was down) already carries the new facts.
                if c.issued_at <= e.created_at
                    && kinds.contains(&c.kind.as_str())
                    && done.insert(c.serial.clone())
                {
                    by_reason
                        .entry(reason.as_str())
                        .or_default()
                        .push(c.serial.clone());
                    these.push(c.serial.clone());
                }
            }
            if !these.is_empty() {
                entries.push(
                    AuditEntry::new("revocation", "system", "ok")
                        .subject(e.key.as_str())
                        .items(kinds.join(","))
                        .detail(format!(
                            "notice {} ({kind}): {} {}",
                            e.seq,
                            reason.as_str(),
                            these.join(",")
                        )),
                );
                revoked.extend(these);
            }
        }
        for (reason, serials) in &by_reason {
            let n = repo::revoke_many(&mut tx, serials, reason, now).await?;
            if n != serials.len() as u64 {
                // Someone revoked one of them meanwhile: roll back and let the next pass
                // see the current state.
                return Err(CaError::Store(StoreError::Concurrent(
                    "certificates revoked concurrently".into(),
                )));
            }
        }
        repo::delete_ocsp_many(&mut tx, &revoked).await?;
        audit::append_in_tx(&mut tx, now, &entries).await?;
        outbox::advance(&mut tx, CONSUMER, from, last).await?;
        honnin_store::commit(tx).await?;
        if !revoked.is_empty() {
            self.ocsp_memory.forget(&revoked);
            self.crl_dirty.notify_one();
        }
        Ok(NoticeReport {
            notices: events.len(),
            revoked,
            last_seq: last,
        })
    }

    /// Revocation at the window or by an admin: lost card (keyCompromise), suspension
    /// (certificateHold, never released), no longer needed (cessationOfOperation).
    pub async fn revoke(&self, actor: &Actor, serial: &str, reason: &str) -> Result<(), CaError> {
        if !matches!(actor.role, Role::Admin | Role::WindowClerk) {
            return Err(CaError::Forbidden(format!(
                "role {} may not revoke certificates",
                actor.role
            )));
        }
        let reason = RevocationReason::parse(reason).map_err(|e| CaError::Field {
            field: "reason",
            reason: e.to_string(),
        })?;
        if !MANUAL_REASONS.contains(&reason) {
            return Err(CaError::Field {
                field: "reason",
                reason: format!(
                    "{} follows from the registry; at the window use keyCompromise, certificateHold, cessationOfOperation or unspecified",
                    reason.as_str()
                ),
            });
        }
        let serial = serial.trim().to_ascii_lowercase();
        if serial.is_empty() || serial.len() > 40 || !serial.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(CaError::Field {
                field: "serial",
                reason: "a serial number in hex (up to 20 octets)".into(),
            });
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(cert) = repo::get_certificate(&mut tx, &serial).await? else {
            return Err(CaError::NotFound {
                what: format!("certificate {serial}"),
            });
        };
        if actor.role == Role::WindowClerk {
            let n = honnin_core::MyNumber::parse(&cert.my_number)
                .map_err(|e| CaError::Store(StoreError::Corrupt(e.to_string())))?;
            let resident = registry_repo::get_resident(&mut tx, &n).await?;
            if !resident.is_some_and(|r| actor.may_act_in(&r.municipality)) {
                return Err(CaError::Forbidden(format!(
                    "operator {} may not act outside their municipality",
                    actor.operator
                )));
            }
        }
        if !repo::revoke_certificate(&mut tx, &serial, reason.as_str(), now).await? {
            return Err(CaError::Conflict(format!(
                "certificate {serial} is not valid (status {})",
                cert.status
            )));
        }
        repo::delete_ocsp(&mut tx, &serial).await?;
        audit::append_in_tx(
            &mut tx,
            now,
            &[AuditEntry::new("revocation", &actor.operator, "ok")
                .subject(cert.my_number.as_str())
                .items(cert.kind.as_str())
                .detail(format!("{} {serial}", reason.as_str()))],
        )
        .await?;
        honnin_store::commit(tx).await?;
        self.ocsp_memory.forget(std::slice::from_ref(&serial));
        self.crl_dirty.notify_one();
        Ok(())
    }

    /// Builds and stores every CRL: per CA generation the full CRL, one per shard, and
    /// the ARL. Returns how many were published.
    pub async fn publish_crls(&self) -> Result<usize, CaError> {
        let now = self.clock.now();
        let next = now
            .checked_add(jiff::SignedDuration::from_secs(
                self.config.crl_validity_secs,
            ))
            .map_err(|e| CaError::Field {
                field: "crl_validity_secs",
                reason: e.to_string(),
            })?;
        let keys = self.keys().await?;
        let mut published = 0;
        for k in keys.iter().filter(|k| k.not_after > now) {
            let signer = self.signer(k)?;
            // One transaction per CA generation, the CRL numbers taken before the revoked
            // certificates are read: the counter row stays locked until commit, so a
            // concurrent publisher (another process, or `POST /api/v1/ca/crls` beside the
            // scheduled job) waits, reads at least as much, and writes higher numbers last.
            // A CRL with a higher number never lists less than one with a lower number.
            let mut tx = self.store.begin().await?;
            let mut numbers = Vec::with_capacity(usize::from(CRL_SHARDS) + 2);
            for _ in 0..usize::from(CRL_SHARDS) + 2 {
                numbers.push(repo::next_crl_number(&mut tx).await?);
            }
            let revoked = repo::revoked_of_ca(&mut tx, &k.id).await?;
            let entries: Vec<RevokedEntry> = revoked
                .iter()
                .filter_map(|r| {
                    Some(RevokedEntry {
                        serial: hex::decode(&r.serial).ok()?,
                        revoked_at: r.revoked_at,
                        reason: r
                            .reason
                            .as_deref()
                            .and_then(|s| RevocationReason::parse(s).ok()),
                        invalidity_date: None,
                    })
                })
                .collect();
            let base = format!(
                "{}/crl/{}",
                self.config.public_url.trim_end_matches('/'),
                k.id
            );
            let mut scopes: Vec<(String, Option<String>, bool, Vec<RevokedEntry>)> = Vec::new();
            scopes.push(("full".into(), None, false, entries.clone()));
            for shard in 0..CRL_SHARDS {
                let part: Vec<RevokedEntry> = entries
                    .iter()
                    .filter(|e| e.serial.first().copied().unwrap_or(0) % CRL_SHARDS == shard)
                    .cloned()
                    .collect();
                scopes.push((
                    shard.to_string(),
                    Some(format!("{base}/{shard}.crl")),
                    false,
                    part,
                ));
            }
            scopes.push((
                "arl".into(),
                Some(format!("{base}/arl.crl")),
                true,
                Vec::new(),
            ));
            for ((scope, url, arl, list), number) in scopes.into_iter().zip(numbers) {
                let der = build_crl(
                    &k.cert_der,
                    signer.as_ref(),
                    &CrlParams {
                        crl_number: u64::try_from(number).unwrap_or(0),
                        this_update: now,
                        next_update: next,
                        distribution_point: url.as_deref(),
                        only_user_certs: !arl && url.is_some(),
                        only_ca_certs: arl,
                    },
                    &list,
                )?;
                repo::put_crl(
                    &mut tx,
                    &CrlRow {
                        ca_id: k.id.clone(),
                        scope,
                        crl_number: number,
                        this_update: now,
                        next_update: next,
                        der,
                    },
                )
                .await?;
                published += 1;
            }
            honnin_store::commit(tx).await?;
        }
        Ok(published)
    }

    /// A published CRL (`full`, `arl` or a shard number) of a CA generation.
    pub async fn crl(&self, ca_id: &str, scope: &str) -> Result<CrlRow, CaError> {
        let mut conn = self.store.conn().await?;
        repo::get_crl(&mut conn, ca_id, scope)
            .await?
            .ok_or_else(|| CaError::NotFound {
                what: format!("CRL {ca_id}/{scope}"),
            })
    }

    /// Makes sure every CA generation has a delegated responder with a current certificate.
    pub async fn ensure_responders(&self) -> Result<(), CaError> {
        let now = self.clock.now();
        let keys = self.keys().await?;
        let mut conn = self.store.conn().await?;
        let existing = repo::list_responders(&mut conn).await?;
        drop(conn);
        for k in keys.iter().filter(|k| k.not_after > now) {
            let current = existing.iter().find(|r| r.ca_id == k.id);
            let fresh_enough = current.is_some_and(|r| {
                r.not_after.duration_since(now)
                    > jiff::SignedDuration::from_hours(24 * RESPONDER_RENEW_DAYS)
            });
            if fresh_enough {
                continue;
            }
            let id = format!("ocsp-{}-{}", k.id, now.as_second());
            let (signer, key_ref) = self.keys.generate(&id, honnin_pki::KeyAlgorithm::Rsa2048)?;
            let not_after = now
                .checked_add(jiff::SignedDuration::from_hours(24 * RESPONDER_DAYS))
                .map_err(|e| CaError::Field {
                    field: "responder",
                    reason: e.to_string(),
                })?
                .min(k.not_after);
            let ca_signer = self.signer(k)?;
            let cert = build_ocsp_responder_certificate(
                &k.cert_der,
                ca_signer.as_ref(),
                &signer.public_key_der(),
                random_serial(),
                now,
                not_after,
            )?;
            let mut tx = self.store.begin().await?;
            repo::put_responder(
                &mut tx,
                &ResponderRow {
                    ca_id: k.id.clone(),
                    key_ref,
                    cert_der: cert,
                    not_after,
                    created_at: now,
                },
            )
            .await?;
            audit::append_in_tx(
                &mut tx,
                now,
                &[AuditEntry::new("ocsp-responder", "system", "ok")
                    .detail(format!("responder for {}", k.id))],
            )
            .await?;
            honnin_store::commit(tx).await?;
            if let Ok(mut m) = self.signers.write() {
                m.insert(id, signer);
            }
        }
        if let Ok(mut c) = self.responder_cache.write() {
            *c = None;
        }
        Ok(())
    }

    async fn responders(&self) -> Result<Arc<Vec<Responder>>, CaError> {
        if let Some(r) = self.responder_cache.read().ok().and_then(|c| {
            c.as_ref()
                .filter(|(at, _)| at.elapsed() < crate::KEY_CACHE_TTL)
                .map(|(_, r)| r.clone())
        }) {
            return Ok(r);
        }
        let keys = self.keys().await?;
        let mut conn = self.store.conn().await?;
        let rows = repo::list_responders(&mut conn).await?;
        drop(conn);
        let mut out = Vec::new();
        for r in rows {
            let Some(ca) = keys.iter().find(|k| k.id == r.ca_id) else {
                continue;
            };
            let ca_cert = Certificate::from_der(&ca.cert_der)?;
            let signer = match self
                .signers
                .read()
                .ok()
                .and_then(|m| m.get(&r.key_ref).cloned())
            {
                Some(s) => s,
                None => {
                    let s = self.keys.load(&r.key_ref)?;
                    if let Ok(mut m) = self.signers.write() {
                        m.insert(r.key_ref.clone(), s.clone());
                    }
                    s
                }
            };
            out.push(Responder {
                ca_id: r.ca_id,
                cert_der: r.cert_der,
                signer,
                sha1: issuer_hashes(&ca_cert, HashAlgorithm::Sha1),
                sha256: issuer_hashes(&ca_cert, HashAlgorithm::Sha256),
            });
        }
        let out = Arc::new(out);
        if let Ok(mut c) = self.responder_cache.write() {
            *c = Some((std::time::Instant::now(), out.clone()));
        }
        Ok(out)
    }

    /// Answers an OCSP request (DER). Always returns a DER OCSPResponse: malformed
    /// requests get `malformedRequest`, unknown issuers `unauthorized`, failures
    /// `internalError`. Requests without a nonce reuse a kept response while it is fresh.
    pub async fn ocsp_respond(&self, request: &[u8]) -> Vec<u8> {
        match self.ocsp_inner(request).await {
            Ok(der) => der,
            Err(OcspFailure::Status(s)) => ocsp_error_response(s),
            Err(OcspFailure::Internal(e)) => {
                tracing::error!(error = %e, "OCSP failure");
                ocsp_error_response(OcspResponseStatus::InternalError)
            }
        }
    }

    async fn ocsp_inner(&self, request: &[u8]) -> Result<Vec<u8>, OcspFailure> {
        let req = parse_ocsp_request(request)
            .map_err(|_| OcspFailure::Status(OcspResponseStatus::MalformedRequest))?;
        let responders = self.responders().await?;
        let now = self.clock.now();
        let find = |id: &CertId| {
            responders.iter().find(|r| {
                let (name, key) = match id.hash_algorithm {
                    HashAlgorithm::Sha1 => &r.sha1,
                    HashAlgorithm::Sha256 => &r.sha256,
                };
                *name == id.issuer_name_hash && *key == id.issuer_key_hash
            })
        };
        let first = req
            .cert_ids
            .first()
            .ok_or(OcspFailure::Status(OcspResponseStatus::MalformedRequest))?;
        let responder = find(first).ok_or(OcspFailure::Status(OcspResponseStatus::Unauthorized))?;
        if req
            .cert_ids
            .iter()
            .any(|id| find(id).map(|r| &r.ca_id) != Some(&responder.ca_id))
        {
            return Err(OcspFailure::Status(OcspResponseStatus::Unauthorized));
        }
        let alg = match first.hash_algorithm {
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
        };
        let cacheable = req.nonce.is_none() && req.cert_ids.len() == 1;
        let first_serial = hex::encode(&first.serial);
        // Kept responses in memory: taken before anything is read, so that what is
        // remembered is never older than the TTL and never outlives a revocation here.
        let memory = (cacheable && !self.config.ocsp_memory_ttl.is_zero())
            .then(|| (std::time::Instant::now(), self.ocsp_memory.generation()));
        if memory.is_some()
            && let Some(der) = self.ocsp_memory.get(
                &first_serial,
                alg,
                &responder.ca_id,
                now,
                self.config.ocsp_memory_ttl,
            )
        {
            return Ok(der);
        }
        if cacheable {
            let mut conn = self.store.conn().await?;
            if let Some(kept) = repo::get_ocsp(&mut conn, &first_serial, alg).await? {
                let half = kept.next_update.duration_since(kept.this_update) / 2;
                if kept.ca_id == responder.ca_id
                    && now < kept.next_update
                    && now.duration_since(kept.this_update) < half
                    && still_true(&mut conn, &kept).await?
                {
                    if let Some((read_at, generation)) = memory {
                        self.ocsp_memory.remember(generation, read_at, &kept);
                    }
                    return Ok(kept.der);
                }
            }
        }
        let next = now
            .checked_add(jiff::SignedDuration::from_secs(
                self.config.ocsp_validity_secs,
            ))
            .map_err(|e| OcspFailure::Internal(e.to_string()))?;
        let mut answers = Vec::with_capacity(req.cert_ids.len());
        let mut conn = self.store.conn().await?;
        for id in &req.cert_ids {
            let serial = hex::encode(&id.serial);
            let status = match repo::get_certificate(&mut conn, &serial).await? {
                Some(c) if c.ca_id == responder.ca_id => match c.status.as_str() {
                    "revoked" => CertStatus::Revoked {
                        at: c.revoked_at.unwrap_or(now),
                        reason: c
                            .revocation_reason
                            .as_deref()
                            .and_then(|r| RevocationReason::parse(r).ok()),
                    },
                    _ => CertStatus::Good,
                },
                _ => CertStatus::Unknown,
            };
            answers.push(SingleResponse {
                cert_id: id.clone(),
                status,
                this_update: now,
                next_update: Some(next),
            });
        }
        drop(conn);
        let der = build_ocsp_response(
            &responder.cert_der,
            responder.signer.as_ref(),
            &answers,
            now,
            req.nonce.as_deref(),
        )?;
        if cacheable
            && answers
                .first()
                .is_some_and(|a| a.status != CertStatus::Unknown)
        {
            let mut conn = self.store.conn().await?;
            let row = OcspRow {
                serial: first_serial,
                hash_alg: alg.into(),
                ca_id: responder.ca_id.clone(),
                der: der.clone(),
                this_update: now,
                next_update: next,
            };
            repo::put_ocsp(&mut conn, &row).await?;
            if let Some((read_at, generation)) = memory {
                self.ocsp_memory.remember(generation, read_at, &row);
            }
        }
        Ok(der)
    }
}

/// Whether a kept response still tells the truth. Revocation deletes the kept responses
/// in its transaction, but a response signed from a read just before that commit can be
/// stored just after it; so a kept response is served only if it says `revoked` or the
/// certificate is still not revoked (revocation is never undone).
async fn still_true(conn: &mut honnin_store::Conn, kept: &OcspRow) -> Result<bool, OcspFailure> {
    let Some(cert) = repo::get_certificate(conn, &kept.serial).await? else {
        return Ok(false);
    };
    if cert.status != "revoked" {
        return Ok(true);
    }
    Ok(
        honnin_pki::OcspResponse::from_der(&kept.der).is_ok_and(|r| {
            r.responses()
                .first()
                .is_some_and(|a| matches!(a.status, CertStatus::Revoked { .. }))
        }),
    )
}

/// The longest a kept response is served from memory: a revocation is answered within 1 s
/// even by a process that did not make it.
pub const OCSP_MEMORY_MAX_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Kept responses held in memory at most (about 2 KB each).
const OCSP_MEMORY_MAX_ENTRIES: usize = 16_384;

/// Kept OCSP responses in memory, by serial (hex) and CertID hash, each with the instant
/// before the database read it came from. Served while younger than the TTL and fresh by
/// the same rules as the kept rows; revocations through this service remove their serials
/// and bump the generation, so that a response read before a revocation and remembered
/// after it is dropped rather than kept.
#[derive(Default)]
pub(crate) struct OcspMemory {
    entries: std::sync::RwLock<std::collections::HashMap<String, [Option<Remembered>; 2]>>,
    generation: std::sync::atomic::AtomicU64,
}

struct Remembered {
    ca_id: String,
    der: Vec<u8>,
    this_update: jiff::Timestamp,
    next_update: jiff::Timestamp,
    read_at: std::time::Instant,
}

fn alg_slot(alg: &str) -> usize {
    usize::from(alg != "sha1")
}

impl OcspMemory {
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A remembered response for `serial`, if it is younger than `ttl` (capped at
    /// [`OCSP_MEMORY_MAX_TTL`]), of this responder's CA, and fresh at `now` like a kept
    /// row (before nextUpdate, within the first half of its validity).
    fn get(
        &self,
        serial: &str,
        alg: &str,
        ca_id: &str,
        now: jiff::Timestamp,
        ttl: std::time::Duration,
    ) -> Option<Vec<u8>> {
        let ttl = ttl.min(OCSP_MEMORY_MAX_TTL);
        let map = self.entries.read().ok()?;
        let r = map.get(serial)?[alg_slot(alg)].as_ref()?;
        let half = r.next_update.duration_since(r.this_update) / 2;
        (r.read_at.elapsed() < ttl
            && r.ca_id == ca_id
            && now < r.next_update
            && now.duration_since(r.this_update) < half)
            .then(|| r.der.clone())
    }

    /// Remembers a kept response read (or signed from a status read) after `read_at`,
    /// unless a revocation came through this service since `generation` was taken.
    fn remember(&self, generation: u64, read_at: std::time::Instant, row: &OcspRow) {
        let Ok(mut map) = self.entries.write() else {
            return;
        };
        if self.generation() != generation {
            return;
        }
        if map.len() >= OCSP_MEMORY_MAX_ENTRIES && !map.contains_key(&row.serial) {
            map.retain(|_, slots| {
                slots
                    .iter()
                    .flatten()
                    .any(|r| r.read_at.elapsed() < OCSP_MEMORY_MAX_TTL)
            });
            if map.len() >= OCSP_MEMORY_MAX_ENTRIES {
                map.clear();
            }
        }
        let slots = map.entry(row.serial.clone()).or_default();
        slots[alg_slot(&row.hash_alg)] = Some(Remembered {
            ca_id: row.ca_id.clone(),
            der: row.der.clone(),
            this_update: row.this_update,
            next_update: row.next_update,
            read_at,
        });
    }

    /// Drops what is remembered of `serials` (just revoked) and of any response being
    /// remembered concurrently.
    pub(crate) fn forget(&self, serials: &[String]) {
        match self.entries.write() {
            Ok(mut map) => {
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                for s in serials {
                    map.remove(s.as_str());
                }
            }
            Err(_) => {
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            }
        }
    }
}

/// Responder certificates are renewed when fewer than this many days remain.
const RESPONDER_RENEW_DAYS: i64 = 30;
/// Lifetime of a responder certificate.
const RESPONDER_DAYS: i64 = 90;

/// A delegated responder ready to sign.
pub(crate) struct Responder {
    ca_id: String,
    cert_der: Vec<u8>,
    signer: Arc<dyn Signer>,
    sha1: (Vec<u8>, Vec<u8>),
    sha256: (Vec<u8>, Vec<u8>),
}

/// The CA's name and key hashes as OCSP requests carry them (a self-signed CA is its own
/// issuer, so its own CertId has them).
fn issuer_hashes(ca: &Certificate, alg: HashAlgorithm) -> (Vec<u8>, Vec<u8>) {
    match honnin_pki::cert_id_for(ca.der(), ca.der(), alg) {
        Ok(id) => (id.issuer_name_hash, id.issuer_key_hash),
        Err(_) => (Vec::new(), Vec::new()),
    }
}

enum OcspFailure {
    Status(OcspResponseStatus),
    Internal(String),
}

impl From<CaError> for OcspFailure {
    fn from(e: CaError) -> Self {
        OcspFailure::Internal(e.to_string())
    }
}

impl From<StoreError> for OcspFailure {
    fn from(e: StoreError) -> Self {
        OcspFailure::Internal(e.to_string())
    }
}

impl From<honnin_pki::PkiError> for OcspFailure {
    fn from(e: honnin_pki::PkiError) -> Self {
        OcspFailure::Internal(e.to_string())
    }
}
