//! The verifier: signature, path, revocation, facts, and the report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use honnin_pki::path::{
    KeyUsageBit, PathError, PathErrorKind, PathOptions, RevocationMode, RevocationSource,
    RevocationStatus,
};
use honnin_pki::{CmsError, SignatureCertificate, SignedMessage, VerifiedSignature};
use jiff::{SignedDuration, Timestamp};

use crate::facts::{ExpectedFacts, FieldComparison, FieldResult, compare_facts};
use crate::report::{
    ChainEntry, Indication, RevocationEvidence, RevocationState, SubIndication, TimeSource,
    ValidationReport,
};
use crate::revocation::{Evidence, Fetcher, RevocationCache};
use crate::{TrustStore, VerifyError};

/// How much a receipt time may lie ahead of the verifier's clock.
const RECEIPT_SKEW: SignedDuration = SignedDuration::from_secs(300);

/// What a verifier is set up with.
#[derive(Clone)]
pub struct VerifierConfig {
    /// Trust anchors and known CA certificates.
    pub trust: TrustStore,
    /// Off, soft-fail (a missing status passes, and the report says so) or
    /// hard-fail (a missing status is INDETERMINATE / TRY_LATER). Always the
    /// caller's choice.
    pub revocation: RevocationMode,
    /// CRLs given by the caller (offline mode, or in addition).
    pub offline_crls: Vec<Vec<u8>>,
    /// Where to fetch OCSP/CRLs from; `None` = offline.
    pub fetcher: Option<Arc<dyn Fetcher>>,
    /// Longest time fetched revocation data and validated chains are reused
    /// (`None`: until their nextUpdate). A server next to its own CA sets zero.
    pub max_cache_age: Option<SignedDuration>,
}

/// One verification to do.
#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    /// The CMS SignedData (DER, BER or PEM).
    pub signed: Vec<u8>,
    /// The content of a detached signature.
    pub content: Option<Vec<u8>>,
    /// The agency's recorded receipt time: a proof that the signature existed
    /// then. Validation happens at this time.
    pub received_at: Option<Timestamp>,
    /// Validate at this time instead of now (no proof of existence).
    pub at: Option<Timestamp>,
    /// The form's fields to compare with the certificate.
    pub expected: ExpectedFacts,
}

/// A validated chain kept for later documents by the same signer, while all
/// its revocation answers said good and are fresh.
#[derive(Clone)]
struct CachedPath {
    entries: Vec<ChainEntry>,
    evidence: Vec<RevocationEvidence>,
    not_before: Timestamp,
    not_after: Timestamp,
    fresh_until: Timestamp,
}

/// What a signer's certificate says, decoded once per certificate.
struct SignerFacts {
    /// The 4 facts (`None`: not a JPKI signature certificate).
    facts: Option<honnin_pki::SignatureFacts>,
}

/// Verifies signed applications. Cheap to share (`Arc`); caches revocation
/// data, validated chains and decoded signer certificates.
pub struct Verifier {
    cfg: VerifierConfig,
    cache: RevocationCache,
    paths: Mutex<HashMap<Vec<u8>, Arc<CachedPath>>>,
    signers: Mutex<HashMap<Vec<u8>, Arc<SignerFacts>>>,
}

impl Verifier {
    /// A verifier with empty caches.
    pub fn new(cfg: VerifierConfig) -> Self {
        Verifier {
            cache: RevocationCache::new(cfg.max_cache_age),
            cfg,
            paths: Mutex::new(HashMap::new()),
            signers: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.cfg
    }

    /// Verifies `req` as of `now`. `Err` only for a request that cannot be
    /// asked (a receipt time in the future); everything about the signature
    /// is in the report.
    pub async fn verify(
        &self,
        req: &VerifyRequest,
        now: Timestamp,
    ) -> Result<ValidationReport, VerifyError> {
        let (time, source) = match (req.received_at, req.at) {
            (Some(r), _) => {
                if r > now + RECEIPT_SKEW {
                    return Err(VerifyError::Usage(format!(
                        "the receipt time {r} is in the future"
                    )));
                }
                (r, TimeSource::ReceivedAt)
            }
            (None, Some(a)) => (a, TimeSource::Given),
            (None, None) => (now, TimeSource::Now),
        };
        let mut report = ValidationReport {
            indication: Indication::TotalPassed,
            sub_indication: None,
            message: String::new(),
            validation_time: time,
            validation_time_source: source,
            claimed_signing_time: None,
            content_digest: None,
            chain: Vec::new(),
            revocation: Vec::new(),
            fields: Vec::new(),
        };

        // 1. The signature itself.
        let msg = match honnin_pki::parse_signed_message(&req.signed) {
            Ok(m) => m,
            Err(e) => return Ok(fail_cms(report, &e)),
        };
        report.claimed_signing_time = msg.signer.signed_attributes.signing_time;
        let verified = match msg.verify(req.content.as_deref(), &self.cfg.trust.intermediates) {
            Ok(v) => v,
            Err(e) => return Ok(fail_cms(report, &e)),
        };
        report.content_digest = Some(format!(
            "{}:{}",
            verified.digest_algorithm.as_str(),
            hex::encode(&verified.content_digest)
        ));
        let signer = self.signer_facts(&verified);
        report.fields = fields(signer.facts.as_ref(), &req.expected);

        // 2. The signer's path, at the validation time, with revocation.
        match self.path(&msg, &verified, time, now).await {
            Ok((entries, evidence)) => {
                report.chain = entries;
                report.revocation = evidence;
                report.message = match source {
                    TimeSource::ReceivedAt => format!(
                        "the signature is valid and its certificate was valid and not revoked at the receipt time {time}"
                    ),
                    _ => "the signature is valid and its certificate is valid and not revoked"
                        .to_owned(),
                };
                Ok(report)
            }
            Err((e, chain, evidence)) => {
                report.chain = chain_entries(&chain);
                report.revocation = evidence;
                Ok(self.path_failure(report, &e, &verified))
            }
        }
    }

    fn signer_facts(&self, v: &VerifiedSignature) -> Arc<SignerFacts> {
        let key = &v.signer_certificate_sha256;
        if let Some(f) = self.signers.lock().ok().and_then(|m| m.get(key).cloned()) {
            return f;
        }
        let f = Arc::new(SignerFacts {
            facts: SignatureCertificate::from_der(&v.signer_certificate)
                .and_then(|c| c.basic_facts())
                .ok(),
        });
        if let Ok(mut m) = self.signers.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(key.clone(), f.clone());
        }
        f
    }

    /// Builds and validates the signer's path; gathers revocation evidence for
    /// it. On failure: the error, the chain attempted, the evidence.
    #[allow(clippy::type_complexity)]
    async fn path(
        &self,
        msg: &SignedMessage,
        v: &VerifiedSignature,
        time: Timestamp,
        now: Timestamp,
    ) -> Result<
        (Vec<ChainEntry>, Vec<RevocationEvidence>),
        (PathError, Vec<Vec<u8>>, Vec<RevocationEvidence>),
    > {
        let leaf = &v.signer_certificate;
        let key = v.signer_certificate_sha256.clone();
        if let Some(c) = self.cached(&key, time, now) {
            return Ok((c.entries.clone(), c.evidence.clone()));
        }
        let mut intermediates = self.cfg.trust.intermediates.clone();
        for c in &msg.certificates {
            if c != leaf && !intermediates.contains(c) {
                intermediates.push(c.clone());
            }
        }
        let mut opts = PathOptions::new(time);
        opts.revocation = RevocationMode::Off;
        // A certificate that cannot sign documents (a CA's, say) made no application.
        opts.leaf_key_usage_any = vec![KeyUsageBit::DigitalSignature, KeyUsageBit::NonRepudiation];
        let anchors = &self.cfg.trust.anchors;
        // Phase 1: the chain, without revocation.
        let first = honnin_pki::path::validate(leaf, anchors, &intermediates, &opts, None)
            .map_err(|e| (e, vec![leaf.clone()], Vec::new()))?;
        if self.cfg.revocation == RevocationMode::Off {
            return Ok((chain_entries(&first.chain), Vec::new()));
        }
        // Phase 2: revocation evidence for every certificate but the anchor.
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = first
            .chain
            .windows(2)
            .map(|w| (w[0].clone(), w[1].clone()))
            .collect();
        let ev = self
            .cache
            .gather(
                &pairs,
                self.cfg.fetcher.as_deref(),
                &self.cfg.offline_crls,
                now,
            )
            .await;
        let evidence = describe(&pairs, &ev, &opts);
        // Phase 3: validate again, with it.
        opts.revocation = self.cfg.revocation;
        match honnin_pki::path::validate(leaf, anchors, &intermediates, &opts, Some(&ev)) {
            Ok(p) => {
                let entries = chain_entries(&p.chain);
                self.remember(key, &entries, &evidence, now);
                Ok((entries, evidence))
            }
            Err(e) => Err((e, first.chain, evidence)),
        }
    }

    fn cached(&self, key: &[u8], time: Timestamp, now: Timestamp) -> Option<Arc<CachedPath>> {
        let m = self.paths.lock().ok()?;
        m.get(key)
            .filter(|c| c.not_before <= time && time <= c.not_after && now < c.fresh_until)
            .cloned()
    }

    /// Keeps a chain whose every certificate was answered `good` (so it holds
    /// for any validation time up to now) until the first nextUpdate.
    fn remember(
        &self,
        key: Vec<u8>,
        entries: &[ChainEntry],
        evidence: &[RevocationEvidence],
        now: Timestamp,
    ) {
        if self.cfg.revocation == RevocationMode::Off
            || evidence.is_empty()
            || evidence.iter().any(|e| e.status != RevocationState::Good)
        {
            return;
        }
        let Some(mut fresh_until) = evidence.iter().filter_map(|e| e.next_update).min() else {
            return;
        };
        if let Some(max) = self.cfg.max_cache_age {
            if max.is_zero() {
                return;
            }
            fresh_until = fresh_until.min(now + max);
        }
        let (Some(not_before), Some(not_after)) = (
            entries.iter().map(|c| c.not_before).max(),
            entries.iter().map(|c| c.not_after).min(),
        ) else {
            return;
        };
        if let Ok(mut m) = self.paths.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(
                key,
                Arc::new(CachedPath {
                    entries: entries.to_vec(),
                    evidence: evidence.to_vec(),
                    not_before,
                    not_after,
                    fresh_until,
                }),
            );
        }
    }

    fn path_failure(
        &self,
        report: ValidationReport,
        e: &PathError,
        v: &VerifiedSignature,
    ) -> ValidationReport {
        let claim = v.signing_time;
        let msg = e.to_string();
        use Indication::{Indeterminate, TotalFailed};
        match &e.kind {
            PathErrorKind::Revoked { at, .. } => {
                let is_signer = e.cert_index.unwrap_or(0) == 0;
                let signed_before = claim.is_some_and(|c| c < *at);
                match (is_signer, signed_before) {
                    (true, false) => conclude(
                        report,
                        TotalFailed,
                        SubIndication::Revoked,
                        format!("{msg}; the signature claims to be made after the revocation"),
                    ),
                    (true, true) => conclude(
                        report,
                        Indeterminate,
                        SubIndication::RevokedNoPoe,
                        format!(
                            "{msg}; the signature claims an earlier signing time, but that is only a claim: supply the recorded receipt time (--received-at) as proof of existence"
                        ),
                    ),
                    (false, _) => {
                        conclude(report, Indeterminate, SubIndication::RevokedCaNoPoe, msg)
                    }
                }
            }
            PathErrorKind::Expired { not_after } => {
                if claim.is_some_and(|c| c > *not_after) && e.cert_index.unwrap_or(0) == 0 {
                    conclude(report, TotalFailed, SubIndication::Expired, msg)
                } else {
                    conclude(
                        report,
                        Indeterminate,
                        SubIndication::OutOfBoundsNoPoe,
                        format!("{msg}; nothing proves the signature was made while it was valid"),
                    )
                }
            }
            PathErrorKind::NotYetValid { .. } => {
                conclude(report, TotalFailed, SubIndication::NotYetValid, msg)
            }
            PathErrorKind::RevocationUnknown(_) => {
                conclude(report, Indeterminate, SubIndication::TryLater, msg)
            }
            PathErrorKind::WeakKey(_) | PathErrorKind::UnsupportedAlgorithm(_) => conclude(
                report,
                Indeterminate,
                SubIndication::CryptoConstraintsFailure,
                msg,
            ),
            PathErrorKind::NoPathFound(_)
            | PathErrorKind::BadSignature
            | PathErrorKind::Malformed(_) => conclude(
                report,
                Indeterminate,
                SubIndication::NoCertificateChainFound,
                msg,
            ),
            _ => conclude(
                report,
                Indeterminate,
                SubIndication::ChainConstraintsFailure,
                msg,
            ),
        }
    }
}

fn fields(
    facts: Option<&honnin_pki::SignatureFacts>,
    expected: &ExpectedFacts,
) -> Vec<FieldComparison> {
    if expected.is_empty() {
        return Vec::new();
    }
    if let Some(f) = facts {
        return compare_facts(f, expected);
    }
    let no = |field: &str, form: &Option<String>| {
        form.as_ref().map(|f| FieldComparison {
            field: field.to_owned(),
            form: f.clone(),
            certificate: String::new(),
            result: FieldResult::Mismatch,
            note: Some(
                "the certificate carries no 4 facts (not a JPKI signature certificate)".into(),
            ),
        })
    };
    [
        no("name", &expected.name),
        no("address", &expected.address),
        no("birth_date", &expected.birth_date),
        no("sex", &expected.sex),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn conclude(
    mut r: ValidationReport,
    i: Indication,
    s: SubIndication,
    message: impl Into<String>,
) -> ValidationReport {
    r.indication = i;
    r.sub_indication = Some(s);
    r.message = message.into();
    r
}

fn fail_cms(r: ValidationReport, e: &CmsError) -> ValidationReport {
    use Indication::{Indeterminate, TotalFailed};
    let (i, s) = match e {
        CmsError::Format(_) => (TotalFailed, SubIndication::FormatFailure),
        CmsError::HashFailure => (TotalFailed, SubIndication::HashFailure),
        CmsError::SignatureFailure => (TotalFailed, SubIndication::SigCryptoFailure),
        CmsError::UnsupportedAlgorithm(_) => {
            (Indeterminate, SubIndication::CryptoConstraintsFailure)
        }
        CmsError::NoSignerCertificate | CmsError::SignerCertificateMismatch => {
            (Indeterminate, SubIndication::NoSigningCertificateFound)
        }
        CmsError::Content(_) => (Indeterminate, SubIndication::SignedDataNotFound),
        _ => (TotalFailed, SubIndication::FormatFailure),
    };
    conclude(r, i, s, e.to_string())
}

fn chain_entries(chain: &[Vec<u8>]) -> Vec<ChainEntry> {
    let n = chain.len();
    chain
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let c = honnin_pki::Certificate::from_der(d).ok()?;
            let role = if i == 0 {
                "signer"
            } else if i + 1 == n && c.is_self_signed() {
                "trust anchor"
            } else {
                "ca"
            };
            Some(ChainEntry {
                role: role.to_owned(),
                subject: subject_text(&c),
                serial: c.serial_hex(),
                not_before: c.not_before(),
                not_after: c.not_after(),
            })
        })
        .collect()
}

fn subject_text(c: &honnin_pki::Certificate) -> String {
    c.inner().tbs_certificate().subject().to_string()
}

fn describe(
    pairs: &[(Vec<u8>, Vec<u8>)],
    ev: &Evidence,
    opts: &PathOptions,
) -> Vec<RevocationEvidence> {
    use honnin_pki::path::RevocationChecker as _;
    pairs
        .iter()
        .map(|(cert, issuer)| {
            let serial = honnin_pki::Certificate::from_der(cert)
                .map(|c| c.serial_hex())
                .unwrap_or_default();
            let status = match honnin_pki::path::CertInfo::parse(cert) {
                Ok(info) => ev.status(&info, cert, issuer, opts),
                Err(e) => RevocationStatus::Unknown { why: e },
            };
            let mut e = RevocationEvidence {
                serial,
                status: RevocationState::Unknown,
                revoked_at: None,
                reason: None,
                source: String::new(),
                location: None,
                this_update: None,
                next_update: None,
                note: None,
            };
            let source = match &status {
                RevocationStatus::Good { source } => {
                    e.status = RevocationState::Good;
                    Some(source)
                }
                RevocationStatus::Revoked { at, reason, source } => {
                    e.status = RevocationState::Revoked;
                    e.revoked_at = Some(*at);
                    e.reason = reason.map(|r| r.as_str().to_owned());
                    Some(source)
                }
                RevocationStatus::Unknown { why } => {
                    e.status = RevocationState::Unknown;
                    e.source = "none".into();
                    let mut note = why.clone();
                    if !ev.problems.is_empty() {
                        note = format!("{note}; {}", ev.problems.join("; "));
                    }
                    e.note = Some(note);
                    None
                }
            };
            match source {
                Some(RevocationSource::Ocsp {
                    this_update,
                    next_update,
                    ..
                }) => {
                    e.source = "ocsp".into();
                    e.location = ev.ocsp_location(cert).map(str::to_owned);
                    e.this_update = Some(*this_update);
                    e.next_update = *next_update;
                }
                Some(RevocationSource::Crl {
                    this_update,
                    next_update,
                    delta,
                    ..
                }) => {
                    e.source = if *delta { "delta crl" } else { "crl" }.into();
                    e.location = ev.crl_location(cert).map(str::to_owned);
                    e.this_update = Some(*this_update);
                    e.next_update = *next_update;
                }
                None => {}
            }
            e
        })
        .collect()
}
