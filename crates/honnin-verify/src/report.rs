//! The validation report, in the spirit of ETSI EN 319 102-1: a main
//! indication, a sub-indication saying why, and what the conclusion rests on
//! (the chain, the revocation evidence, the time used, the field comparison).

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::facts::{FieldComparison, FieldResult};

/// The main indication (EN 319 102-1 §5.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Indication {
    /// Every check passed.
    TotalPassed,
    /// The signature is not valid and more information will not change that.
    TotalFailed,
    /// The checks do not allow a conclusion (yet).
    Indeterminate,
}

impl Indication {
    /// `TOTAL_PASSED`, `TOTAL_FAILED`, `INDETERMINATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Indication::TotalPassed => "TOTAL_PASSED",
            Indication::TotalFailed => "TOTAL_FAILED",
            Indication::Indeterminate => "INDETERMINATE",
        }
    }
}

/// The sub-indications honnin reports (EN 319 102-1 Table 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum SubIndication {
    /// TOTAL_FAILED: not a well-formed signed message.
    FormatFailure,
    /// TOTAL_FAILED: the content does not match the signed digest.
    HashFailure,
    /// TOTAL_FAILED: the signature value does not verify.
    SigCryptoFailure,
    /// TOTAL_FAILED: the signer's certificate was revoked before the signature
    /// was made (by its own claim).
    Revoked,
    /// TOTAL_FAILED: the signer's certificate had expired when the signature was
    /// made (by its own claim).
    Expired,
    /// TOTAL_FAILED: the signature claims a time before the certificate's notBefore.
    NotYetValid,
    /// INDETERMINATE: revoked, and nothing proves the signature existed before.
    RevokedNoPoe,
    /// INDETERMINATE: a CA certificate of the chain was revoked, no proof of
    /// existence before.
    RevokedCaNoPoe,
    /// INDETERMINATE: outside the certificate's validity, no proof of existence
    /// within it.
    OutOfBoundsNoPoe,
    /// INDETERMINATE: no path to a trust anchor.
    NoCertificateChainFound,
    /// INDETERMINATE: the signer's certificate is not in the message.
    NoSigningCertificateFound,
    /// INDETERMINATE: the chain breaks a constraint (basic constraints, key
    /// usage, policies, name constraints, critical extensions).
    ChainConstraintsFailure,
    /// INDETERMINATE: an algorithm or key size below the accepted ones.
    CryptoConstraintsFailure,
    /// INDETERMINATE: revocation status not available (hard-fail policy).
    TryLater,
    /// INDETERMINATE: detached signature and no content given.
    SignedDataNotFound,
}

/// One certificate of the validated chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEntry {
    /// `signer`, `ca`, `trust anchor`.
    pub role: String,
    /// Subject, RFC 4514 style.
    pub subject: String,
    /// Serial number, upper-case hex.
    pub serial: String,
    /// notBefore.
    pub not_before: Timestamp,
    /// notAfter.
    pub not_after: Timestamp,
}

/// What the revocation information says about one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationState {
    /// Not revoked.
    Good,
    /// Revoked (see the time and reason).
    Revoked,
    /// No usable information (see the note).
    Unknown,
}

impl RevocationState {
    /// `good`, `revoked`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationState::Good => "good",
            RevocationState::Revoked => "revoked",
            RevocationState::Unknown => "unknown",
        }
    }
}

/// The revocation information one certificate was checked with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationEvidence {
    /// Serial number of the certificate checked.
    pub serial: String,
    /// The status.
    pub status: RevocationState,
    /// revocationTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// revocationReason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `ocsp`, `crl`, `delta crl`.
    pub source: String,
    /// Where it came from: the OCSP responder or CRL distribution point URL
    /// (absent for CRLs given by the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// thisUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub this_update: Option<Timestamp>,
    /// nextUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update: Option<Timestamp>,
    /// Why there is no status, when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where the validation time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The verifier's recorded receipt time: a proof of existence.
    ReceivedAt,
    /// The current time.
    Now,
    /// A time the caller asked for (`--at`), not a proof of existence.
    Given,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// The main indication.
    pub indication: Indication,
    /// Why, unless TOTAL_PASSED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    /// One sentence for a person.
    pub message: String,
    /// The time the certificates were validated at.
    pub validation_time: Timestamp,
    /// Where that time came from.
    pub validation_time_source: TimeSource,
    /// The signing-time attribute: the signer's claim, not a proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_signing_time: Option<Timestamp>,
    /// Digest algorithm and the content's digest (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
    /// The chain, signer first.
    pub chain: Vec<ChainEntry>,
    /// Revocation evidence, signer first.
    pub revocation: Vec<RevocationEvidence>,
    /// Certificate facts vs form fields.
    pub fields: Vec<FieldComparison>,
}

impl ValidationReport {
    /// TOTAL_PASSED and no field mismatching.
    pub fn accepted(&self) -> bool {
        self.indication == Indication::TotalPassed && !self.has_mismatch()
    }

    /// Some form field differs from the certificate.
    pub fn has_mismatch(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.result == FieldResult::Mismatch)
    }

    /// Process exit code for the CLI: 0 accepted, 1 TOTAL_FAILED or a field
    /// mismatch, 3 INDETERMINATE.
    pub fn exit_code(&self) -> u8 {
        match self.indication {
            Indication::TotalPassed if !self.has_mismatch() => 0,
            Indication::Indeterminate => 3,
            _ => 1,
        }
    }

    /// The sub-indication's name, e.g. `REVOKED_NO_POE`.
    pub fn sub_indication_str(&self) -> Option<String> {
        self.sub_indication.map(|s| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
    }

    /// The report as text for a clerk.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "Result:          {}", self.indication.as_str());
        if let Some(sub) = self.sub_indication_str() {
            let _ = write!(s, " / {sub}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "                 {}", self.message);
        let src = match self.validation_time_source {
            TimeSource::ReceivedAt => "receipt time recorded by the agency (proof of existence)",
            TimeSource::Now => "now",
            TimeSource::Given => "given by the caller (not a proof of existence)",
        };
        let _ = writeln!(s, "Validated at:    {} ({src})", self.validation_time);
        if let Some(t) = self.claimed_signing_time {
            let _ = writeln!(s, "Signing time:    {t} (claimed by the signer)");
        }
        if let Some(d) = &self.content_digest {
            let _ = writeln!(s, "Content digest:  {d}");
        }
        if !self.chain.is_empty() {
            let _ = writeln!(s, "Chain:");
            for c in &self.chain {
                let _ = writeln!(
                    s,
                    "  {:<13} {}  serial {}  valid {} .. {}",
                    c.role, c.subject, c.serial, c.not_before, c.not_after
                );
            }
        }
        if !self.revocation.is_empty() {
            let _ = writeln!(s, "Revocation:");
            for r in &self.revocation {
                let _ = write!(s, "  serial {}: {}", r.serial, r.status.as_str());
                if let Some(t) = r.revoked_at {
                    let _ = write!(s, " at {t}");
                }
                if let Some(reason) = &r.reason {
                    let _ = write!(s, " ({reason})");
                }
                let _ = write!(s, " — {}", r.source);
                if let Some(l) = &r.location {
                    let _ = write!(s, " {l}");
                }
                if let Some(t) = r.this_update {
                    let _ = write!(s, ", thisUpdate {t}");
                }
                if let Some(t) = r.next_update {
                    let _ = write!(s, ", nextUpdate {t}");
                }
                if let Some(n) = &r.note {
                    let _ = write!(s, " ({n})");
                }
                let _ = writeln!(s);
            }
        }
        if !self.fields.is_empty() {
            let _ = writeln!(s, "Form vs certificate:");
            for f in &self.fields {
                let _ = write!(
                    s,
                    "  {:<11} {:<11} form 「{}」 / certificate 「{}」",
                    f.field,
                    f.result.as_str(),
                    f.form,
                    f.certificate
                );
                if let Some(n) = &f.note {
                    let _ = write!(s, " — {n}");
                }
                let _ = writeln!(s);
            }
        }
        s
    }
}
