//! Verifying signed e-applications (電子申請) as a relying party: an agency's
//! server, a private business, a clerk at a terminal.
//!
//! [`Verifier::verify`] checks a CMS signature made with a My Number card (or
//! any signer), validates the signer's certificate path at the earliest proven
//! time (the agency's recorded receipt time when given, otherwise now), checks
//! revocation (OCSP, then CRLs from the certificate's distribution points, or
//! CRLs given offline, fetched through a [`Fetcher`]: `honnin_server` has one
//! over HTTP and one answering from its own CA; soft- or hard-fail as the caller chooses, never
//! silently), compares the certificate's 4 facts with the form's fields, and
//! returns a [`ValidationReport`] in the manner of ETSI EN 319 102-1
//! (TOTAL_PASSED / TOTAL_FAILED / INDETERMINATE with a sub-indication, the
//! chain, the revocation evidence and the field comparison), readable as text
//! or JSON.
//!
//! The signing-time attribute is the signer's claim: it decides between
//! REVOKED (signed after the revocation, by the signer's own word) and
//! REVOKED_NO_POE (claims an earlier time, which nothing proves), never
//! between passing and failing.

mod facts;
mod report;
mod revocation;
mod trust;
mod verifier;

pub use facts::{ExpectedFacts, FieldComparison, FieldResult, compare_facts};
pub use honnin_pki::path::RevocationMode;
pub use report::{
    ChainEntry, Indication, RevocationEvidence, RevocationState, SubIndication, TimeSource,
    ValidationReport,
};
pub use revocation::{Evidence, FetchFuture, Fetcher, RevocationCache};
pub use trust::{TrustStore, read_certificates, read_crls};
pub use verifier::{Verifier, VerifierConfig, VerifyRequest};

/// A request that cannot be carried out (as opposed to a signature that does
/// not verify, which is a report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Bad arguments: unreadable trust files, a receipt time in the future…
    #[error("{0}")]
    Usage(String),
}
