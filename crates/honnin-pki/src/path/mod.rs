//! Certification path validation (RFC 5280 §6), with path building,
//! certificate policies, name constraints and revocation.
//!
//! [`validate`] builds candidate paths from the leaf up to a trust anchor
//! (depth-first, issuers ordered by AKI/SKI match, trust and validity, so
//! link certificates between CA generations and cross-certificates are found),
//! verifies every signature once (results memoized) and runs the full RFC 5280
//! algorithm on each complete candidate until one passes. Work is bounded
//! (signature checks, candidate expansions, policy tree size, name-constraint
//! comparisons), so crafted inputs cannot make it slow.
//!
//! Two profiles: [`ValidationProfile::Rfc5280`] (what JPKI needs) and
//! [`ValidationProfile::WebPki`], which adds the CA/Browser Forum rules used by
//! TLS clients (and by the x509-limbo suite, see `docs/limbo.md`).

mod crl;
mod names;
mod parse;
mod policy;
mod sig;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use jiff::Timestamp;

use crate::RevocationReason;

pub use const_oid::ObjectIdentifier as Oid;
pub use crl::CrlSet;
pub use parse::{CertInfo, GeneralName, Name};
pub use policy::ANY_POLICY;

use parse::{KU_KEY_CERT_SIGN, NameConstraints};

/// `id-kp-serverAuth`.
pub const EKU_SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
/// `id-kp-clientAuth`.
pub const EKU_CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
/// `id-kp-codeSigning`.
pub const EKU_CODE_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.3");
/// `id-kp-emailProtection`.
pub const EKU_EMAIL_PROTECTION: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
/// `id-kp-timeStamping`.
pub const EKU_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
/// `id-kp-OCSPSigning`.
pub const EKU_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");
/// `anyExtendedKeyUsage`.
pub const EKU_ANY: Oid = Oid::new_unwrap("2.5.29.37.0");

/// Longest chain considered (leaf and anchor included).
const MAX_CHAIN_LEN: usize = 16;
/// Most signature verifications per [`validate`] call.
const MAX_SIGNATURE_CHECKS: usize = 256;
/// Most issuer candidates tried per [`validate`] call.
const MAX_EXPANSIONS: usize = 2048;

/// A keyUsage bit (RFC 5280 §4.2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsageBit {
    /// digitalSignature (0)
    DigitalSignature,
    /// nonRepudiation / contentCommitment (1)
    NonRepudiation,
    /// keyEncipherment (2)
    KeyEncipherment,
    /// dataEncipherment (3)
    DataEncipherment,
    /// keyAgreement (4)
    KeyAgreement,
    /// keyCertSign (5)
    KeyCertSign,
    /// cRLSign (6)
    CrlSign,
    /// encipherOnly (7)
    EncipherOnly,
    /// decipherOnly (8)
    DecipherOnly,
}

impl KeyUsageBit {
    /// The bit number.
    pub fn bit(self) -> u8 {
        self as u8
    }

    fn mask(self) -> u16 {
        1 << self.bit()
    }

    /// The RFC 5280 name (`digitalSignature`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUsageBit::DigitalSignature => "digitalSignature",
            KeyUsageBit::NonRepudiation => "nonRepudiation",
            KeyUsageBit::KeyEncipherment => "keyEncipherment",
            KeyUsageBit::DataEncipherment => "dataEncipherment",
            KeyUsageBit::KeyAgreement => "keyAgreement",
            KeyUsageBit::KeyCertSign => "keyCertSign",
            KeyUsageBit::CrlSign => "cRLSign",
            KeyUsageBit::EncipherOnly => "encipherOnly",
            KeyUsageBit::DecipherOnly => "decipherOnly",
        }
    }

    /// From the RFC 5280 name (`contentCommitment` is accepted for bit 1).
    pub fn parse(s: &str) -> Option<Self> {
        use KeyUsageBit::*;
        [
            DigitalSignature,
            NonRepudiation,
            KeyEncipherment,
            DataEncipherment,
            KeyAgreement,
            KeyCertSign,
            CrlSign,
            EncipherOnly,
            DecipherOnly,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
        .or((s == "contentCommitment").then_some(NonRepudiation))
    }
}

/// A name the leaf must carry in its subjectAltName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerName {
    /// A DNS host name (matched per RFC 6125, wildcards in the leftmost label).
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
    /// An rfc822Name mailbox.
    Email(String),
}

impl fmt::Display for PeerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerName::Dns(d) => write!(f, "DNS:{d}"),
            PeerName::Ip(i) => write!(f, "IP:{i}"),
            PeerName::Email(e) => write!(f, "email:{e}"),
        }
    }
}

/// Which rules apply on top of the RFC 5280 algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValidationProfile {
    /// Plain RFC 5280 (JPKI): RSA keys of at least 2048 bits, SHA-1 still
    /// accepted, CA certificates in leaf position allowed.
    #[default]
    Rfc5280,
    /// RFC 5280 plus the CA/Browser Forum baseline requirements as TLS clients
    /// apply them: v3 only, AKI/SKI present, no SHA-1, RSA ≥ 2048 and a
    /// multiple of 8 or ECDSA P-256/384/521, leaf not a CA, CN copied from the
    /// SAN, serial numbers positive and ≤ 20 octets, …
    WebPki,
}

/// What to do about revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevocationMode {
    /// No revocation checking.
    #[default]
    Off,
    /// Revoked fails; an unknown status passes (and is recorded).
    SoftFail,
    /// Revoked fails; an unknown status fails too.
    HardFail,
}

/// Inputs of RFC 5280 §6.1.1 and the application's own requirements.
#[derive(Debug, Clone)]
pub struct PathOptions {
    /// Validation time (compared at one-second granularity, floored).
    pub time: Timestamp,
    /// user-initial-policy-set; empty = {anyPolicy}.
    pub initial_policy_set: Vec<Oid>,
    /// initial-explicit-policy.
    pub require_explicit_policy: bool,
    /// initial-policy-mapping-inhibit.
    pub inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit.
    pub inhibit_any_policy: bool,
    /// An extended key usage the leaf must allow (when it has the extension;
    /// intermediates with the extension must allow it too).
    pub required_eku: Option<Oid>,
    /// keyUsage bits the leaf must have (when it has the extension).
    pub required_key_usage: Vec<KeyUsageBit>,
    /// keyUsage bits of which the leaf must have at least one (when it has the
    /// extension), e.g. digitalSignature or nonRepudiation for a document signer.
    pub leaf_key_usage_any: Vec<KeyUsageBit>,
    /// Most intermediates (self-issued ones not counted) between leaf and anchor.
    pub max_chain_depth: Option<usize>,
    /// Names the leaf's subjectAltName must contain.
    pub peer_names: Vec<PeerName>,
    /// Extra rules.
    pub profile: ValidationProfile,
    /// Revocation checking.
    pub revocation: RevocationMode,
    /// WebPki only: also require the leaf's subject CN to be a copy of a SAN
    /// entry (CABF BR 7.1.4.3). Off by default: TLS clients do not enforce it
    /// and BetterTLS expects them not to.
    pub cabf_common_name: bool,
}

impl PathOptions {
    /// RFC 5280 defaults at `time`: any policy, nothing inhibited, no EKU /
    /// key usage / name requirement, revocation off.
    pub fn new(time: Timestamp) -> Self {
        PathOptions {
            time,
            initial_policy_set: Vec::new(),
            require_explicit_policy: false,
            inhibit_policy_mapping: false,
            inhibit_any_policy: false,
            required_eku: None,
            required_key_usage: Vec::new(),
            leaf_key_usage_any: Vec::new(),
            max_chain_depth: None,
            peer_names: Vec::new(),
            profile: ValidationProfile::Rfc5280,
            revocation: RevocationMode::Off,
            cabf_common_name: false,
        }
    }
}

/// Where a revocation status came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationSource {
    /// A CRL (and possibly a delta CRL on top of it).
    Crl {
        /// The CRL issuer, as text.
        issuer: String,
        /// cRLNumber (of the delta CRL when `delta`).
        number: Option<u64>,
        /// thisUpdate.
        this_update: Timestamp,
        /// nextUpdate.
        next_update: Option<Timestamp>,
        /// The deciding CRL was a delta CRL.
        delta: bool,
    },
    /// An OCSP response.
    Ocsp {
        /// producedAt.
        produced_at: Timestamp,
        /// thisUpdate of the SingleResponse.
        this_update: Timestamp,
        /// nextUpdate of the SingleResponse.
        next_update: Option<Timestamp>,
    },
}

/// The revocation status of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Not revoked.
    Good {
        /// Evidence.
        source: RevocationSource,
    },
    /// Revoked at `at` (the validator compares `at` with the validation time).
    Revoked {
        /// revocationDate.
        at: Timestamp,
        /// reasonCode, if any (and within the JPKI set).
        reason: Option<RevocationReason>,
        /// Evidence.
        source: RevocationSource,
    },
    /// No usable revocation information.
    Unknown {
        /// Why.
        why: String,
    },
}

/// A source of revocation status (CRLs: [`CrlSet`]; OCSP: elsewhere).
pub trait RevocationChecker {
    /// Status of `cert` (issued by the certificate `issuer_der`) as known now;
    /// the validator decides by comparing a revocation time with `opts.time`.
    fn status(
        &self,
        cert: &CertInfo,
        cert_der: &[u8],
        issuer_der: &[u8],
        opts: &PathOptions,
    ) -> RevocationStatus;
}

/// A validated path.
#[derive(Debug, Clone)]
pub struct ValidatedPath {
    /// DER, leaf first, trust anchor last.
    pub chain: Vec<Vec<u8>>,
    /// The user-constrained policy set at the leaf (empty if none or only
    /// anyPolicy).
    pub valid_policies: Vec<Oid>,
    /// One per non-anchor certificate (leaf first); empty when revocation is off.
    pub revocation: Vec<RevocationStatus>,
}

impl ValidatedPath {
    /// Subjects of the chain (leaf first), as text.
    pub fn subjects(&self) -> Vec<String> {
        self.chain
            .iter()
            .map(|d| {
                CertInfo::parse(d)
                    .map(|c| c.subject_text())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Why a path check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathErrorKind {
    /// A certificate could not be parsed.
    Malformed(String),
    /// No chain to a trust anchor.
    NoPathFound(String),
    /// Expired at the validation time.
    Expired {
        /// notAfter.
        not_after: Timestamp,
    },
    /// Not yet valid at the validation time.
    NotYetValid {
        /// notBefore.
        not_before: Timestamp,
    },
    /// The signature does not verify with the issuer's key.
    BadSignature,
    /// Signature or key algorithm not supported / not allowed.
    UnsupportedAlgorithm(String),
    /// Key too weak.
    WeakKey(String),
    /// Not a CA / path length exceeded / CA as leaf.
    BasicConstraints(String),
    /// keyUsage does not allow the use.
    KeyUsage(String),
    /// extKeyUsage does not allow the use.
    ExtendedKeyUsage(String),
    /// Name constraints violated.
    NameConstraints(String),
    /// Certificate policy processing failed.
    Policy(String),
    /// A critical extension is not understood.
    UnknownCriticalExtension(String),
    /// The peer name is not in the leaf.
    NameMismatch(String),
    /// Revoked at or before the validation time.
    Revoked {
        /// revocationDate.
        at: Timestamp,
        /// reasonCode.
        reason: Option<RevocationReason>,
    },
    /// Hard-fail revocation checking found no status.
    RevocationUnknown(String),
    /// More intermediates than `max_chain_depth`.
    DepthExceeded(usize),
    /// A profile (CABF / RFC 5280 conformance) rule is broken.
    Profile(String),
}

impl PathErrorKind {
    /// A short stable identifier (`expired`, `bad_signature`, …).
    pub fn code(&self) -> &'static str {
        match self {
            PathErrorKind::Malformed(_) => "malformed",
            PathErrorKind::NoPathFound(_) => "no_path_found",
            PathErrorKind::Expired { .. } => "expired",
            PathErrorKind::NotYetValid { .. } => "not_yet_valid",
            PathErrorKind::BadSignature => "bad_signature",
            PathErrorKind::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            PathErrorKind::WeakKey(_) => "weak_key",
            PathErrorKind::BasicConstraints(_) => "basic_constraints",
            PathErrorKind::KeyUsage(_) => "key_usage",
            PathErrorKind::ExtendedKeyUsage(_) => "extended_key_usage",
            PathErrorKind::NameConstraints(_) => "name_constraints",
            PathErrorKind::Policy(_) => "policy",
            PathErrorKind::UnknownCriticalExtension(_) => "unknown_critical_extension",
            PathErrorKind::NameMismatch(_) => "name_mismatch",
            PathErrorKind::Revoked { .. } => "revoked",
            PathErrorKind::RevocationUnknown(_) => "revocation_unknown",
            PathErrorKind::DepthExceeded(_) => "depth_exceeded",
            PathErrorKind::Profile(_) => "profile",
        }
    }
}

impl fmt::Display for PathErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathErrorKind::Malformed(s) => write!(f, "malformed certificate: {s}"),
            PathErrorKind::NoPathFound(s) => write!(f, "no path to a trust anchor: {s}"),
            PathErrorKind::Expired { not_after } => write!(f, "expired at {not_after}"),
            PathErrorKind::NotYetValid { not_before } => {
                write!(f, "not valid before {not_before}")
            }
            PathErrorKind::BadSignature => {
                write!(f, "the signature does not verify with the issuer's key")
            }
            PathErrorKind::UnsupportedAlgorithm(s) => write!(f, "unsupported algorithm: {s}"),
            PathErrorKind::WeakKey(s) => write!(f, "weak key: {s}"),
            PathErrorKind::BasicConstraints(s) => write!(f, "basic constraints: {s}"),
            PathErrorKind::KeyUsage(s) => write!(f, "key usage: {s}"),
            PathErrorKind::ExtendedKeyUsage(s) => write!(f, "extended key usage: {s}"),
            PathErrorKind::NameConstraints(s) => write!(f, "name constraints: {s}"),
            PathErrorKind::Policy(s) => write!(f, "certificate policy: {s}"),
            PathErrorKind::UnknownCriticalExtension(s) => {
                write!(f, "unknown critical extension {s}")
            }
            PathErrorKind::NameMismatch(s) => write!(f, "name mismatch: {s}"),
            PathErrorKind::Revoked { at, reason } => match reason {
                Some(r) => write!(f, "revoked at {at} ({r})"),
                None => write!(f, "revoked at {at}"),
            },
            PathErrorKind::RevocationUnknown(s) => write!(f, "revocation status unknown: {s}"),
            PathErrorKind::DepthExceeded(d) => {
                write!(f, "more than {d} intermediate certificates")
            }
            PathErrorKind::Profile(s) => write!(f, "profile violation: {s}"),
        }
    }
}

/// A failed validation: which certificate failed which check.
#[derive(Debug, Clone, thiserror::Error)]
pub struct PathError {
    /// What failed.
    pub kind: PathErrorKind,
    /// Position in the attempted chain (0 = leaf).
    pub cert_index: Option<usize>,
    /// Subject of the failing certificate.
    pub subject: Option<String>,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.cert_index, &self.subject) {
            (Some(i), Some(s)) => write!(f, "certificate {i} ({s}): {}", self.kind),
            (Some(i), None) => write!(f, "certificate {i}: {}", self.kind),
            (None, _) => write!(f, "{}", self.kind),
        }
    }
}

impl PathError {
    fn at(kind: PathErrorKind, index: usize, cert: &CertInfo) -> Self {
        PathError {
            kind,
            cert_index: Some(index),
            subject: Some(cert.subject_text()),
        }
    }
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

struct PoolCert {
    cert: CertInfo,
    trusted: bool,
    subject_key: Vec<u8>,
}

const LEAF: usize = usize::MAX;

struct Builder<'a> {
    leaf: &'a CertInfo,
    pool: &'a [PoolCert],
    by_subject: HashMap<Vec<u8>, Vec<usize>>,
    opts: &'a PathOptions,
    revocation: Option<&'a dyn RevocationChecker>,
    sig_memo: HashMap<(usize, usize), Result<(), PathErrorKind>>,
    sig_checks: usize,
    expansions: usize,
    best: Option<(u8, PathError)>,
}

impl Builder<'_> {
    fn cert(&self, id: usize) -> &CertInfo {
        if id == LEAF {
            self.leaf
        } else {
            &self.pool[id].cert
        }
    }

    fn record(&mut self, prio: u8, err: PathError) {
        if self.best.as_ref().is_none_or(|(p, _)| prio > *p) {
            self.best = Some((prio, err));
        }
    }

    fn signature(&mut self, child: usize, issuer: usize) -> Result<(), PathErrorKind> {
        if let Some(r) = self.sig_memo.get(&(child, issuer)) {
            return r.clone();
        }
        if self.sig_checks >= MAX_SIGNATURE_CHECKS {
            return Err(PathErrorKind::NoPathFound(
                "too many signature checks (limit on work)".into(),
            ));
        }
        self.sig_checks += 1;
        let r = sig::verify(self.cert(child), self.cert(issuer), self.opts.profile);
        self.sig_memo.insert((child, issuer), r.clone());
        r
    }

    fn extend(&mut self, chain: &mut Vec<usize>) -> Option<ValidatedPath> {
        let cur_id = chain.last().copied().unwrap_or(LEAF);
        let pos = chain.len();
        let cur = self.cert(cur_id);
        if pos + 1 >= MAX_CHAIN_LEN {
            let e = PathError::at(
                PathErrorKind::NoPathFound("the chain is too long".into()),
                pos,
                cur,
            );
            self.record(1, e);
            return None;
        }
        let issuer_key = cur.issuer.key();
        let aki = cur.authority_key_id().map(<[u8]>::to_vec);
        let now = self.opts.time;
        let mut cands: Vec<usize> = self
            .by_subject
            .get(&issuer_key)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                !chain.contains(c) && {
                    let cc = &self.pool[*c].cert;
                    // No certificate for the same subject and key twice.
                    cc.der != self.leaf.der
                        && !chain.iter().any(|x| {
                            let xc = &self.pool[*x].cert;
                            xc.subject == cc.subject && xc.spki == cc.spki
                        })
                }
            })
            .collect();
        if cands.is_empty() {
            let e = PathError::at(
                PathErrorKind::NoPathFound(format!(
                    "no certificate among the trust anchors and intermediates is named as \
                     its issuer ({})",
                    cur.issuer_text()
                )),
                pos,
                cur,
            );
            self.record(1, e);
            return None;
        }
        cands.sort_by_key(|c| {
            let p = &self.pool[*c];
            let aki_mismatch = match (&aki, p.cert.subject_key_id()) {
                (Some(a), Some(s)) => a.as_slice() != s,
                _ => false,
            };
            let valid = p.cert.not_before <= now && now <= p.cert.not_after;
            (aki_mismatch, !valid, !p.trusted)
        });
        for c in cands {
            if self.expansions >= MAX_EXPANSIONS {
                let e = PathError::at(
                    PathErrorKind::NoPathFound("too many candidate issuers (limit on work)".into()),
                    pos,
                    self.cert(cur_id),
                );
                self.record(1, e);
                return None;
            }
            self.expansions += 1;
            if let Err(kind) = self.signature(cur_id, c) {
                let prio = if matches!(kind, PathErrorKind::NoPathFound(_)) {
                    1
                } else {
                    2
                };
                let e = PathError::at(kind, pos, self.cert(cur_id));
                self.record(prio, e);
                if prio == 1 {
                    return None;
                }
                continue;
            }
            chain.push(c);
            if self.pool[c].trusted {
                match self.check_path(chain) {
                    Ok(v) => return Some(v),
                    Err(e) => self.record(3, e),
                }
            } else if let Some(v) = self.extend(chain) {
                return Some(v);
            }
            chain.pop();
        }
        None
    }

    fn check_path(&self, chain: &[usize]) -> Result<ValidatedPath, PathError> {
        let mut certs: Vec<&CertInfo> = vec![self.leaf];
        certs.extend(chain.iter().map(|i| &self.pool[*i].cert));
        let (policies, _) = check_chain(&certs, self.opts)?;
        let revocation = check_revocation(&certs, self.opts, self.revocation)?;
        Ok(ValidatedPath {
            chain: certs.iter().map(|c| c.der.clone()).collect(),
            valid_policies: policies,
            revocation,
        })
    }
}

/// Validates `leaf_der` up to one of `trust_anchors` (DER certificates),
/// using `intermediates` (DER, untrusted, any order) to build the path.
pub fn validate(
    leaf_der: &[u8],
    trust_anchors: &[Vec<u8>],
    intermediates: &[Vec<u8>],
    opts: &PathOptions,
    revocation: Option<&dyn RevocationChecker>,
) -> Result<ValidatedPath, PathError> {
    let leaf = CertInfo::parse(leaf_der).map_err(|e| PathError {
        kind: PathErrorKind::Malformed(e),
        cert_index: Some(0),
        subject: None,
    })?;
    check_leaf(&leaf, opts).map_err(|k| PathError::at(k, 0, &leaf))?;

    // A trust anchor asked about itself is valid as configured (RFC 5280: the
    // anchor is an input, not part of the path), within its validity; as
    // `openssl verify` does. The CABF profile never has a CA as its leaf.
    if opts.profile == ValidationProfile::Rfc5280 && trust_anchors.iter().any(|a| a == leaf_der) {
        check_validity(&leaf, opts.time).map_err(|k| PathError::at(k, 0, &leaf))?;
        return Ok(ValidatedPath {
            chain: vec![leaf_der.to_vec()],
            valid_policies: Vec::new(),
            revocation: Vec::new(),
        });
    }

    let mut pool: Vec<PoolCert> = Vec::new();
    for (der, trusted) in trust_anchors
        .iter()
        .map(|d| (d, true))
        .chain(intermediates.iter().map(|d| (d, false)))
    {
        if pool.iter().any(|p| p.cert.der == *der) {
            continue;
        }
        // Unparseable extra certificates are ignored: they cannot be on a path.
        if let Ok(cert) = CertInfo::parse(der) {
            let subject_key = cert.subject.key();
            pool.push(PoolCert {
                cert,
                trusted,
                subject_key,
            });
        }
    }
    let mut by_subject: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for (i, p) in pool.iter().enumerate() {
        by_subject.entry(p.subject_key.clone()).or_default().push(i);
    }
    let mut b = Builder {
        leaf: &leaf,
        pool: &pool,
        by_subject,
        opts,
        revocation,
        sig_memo: HashMap::new(),
        sig_checks: 0,
        expansions: 0,
        best: None,
    };
    let mut chain = Vec::new();
    if let Some(v) = b.extend(&mut chain) {
        return Ok(v);
    }
    Err(b.best.map(|(_, e)| e).unwrap_or(PathError {
        kind: PathErrorKind::NoPathFound("no trust anchor".into()),
        cert_index: Some(0),
        subject: Some(leaf.subject_text()),
    }))
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn floor_time(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

fn check_validity(c: &CertInfo, time: Timestamp) -> Result<(), PathErrorKind> {
    let t = floor_time(time);
    if t < c.not_before {
        return Err(PathErrorKind::NotYetValid {
            not_before: c.not_before,
        });
    }
    if t > c.not_after {
        return Err(PathErrorKind::Expired {
            not_after: c.not_after,
        });
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Leaf,
    Intermediate,
    Anchor,
}

/// Rules on one certificate that do not depend on the rest of the path.
fn check_cert(c: &CertInfo, role: Role, profile: ValidationProfile) -> Result<(), PathErrorKind> {
    let web = profile == ValidationProfile::WebPki;
    if let Some(o) = c.exts.unknown_critical.first() {
        return Err(PathErrorKind::UnknownCriticalExtension(o.to_string()));
    }
    if c.issuer.is_empty() {
        return Err(PathErrorKind::Profile("the issuer name is empty".into()));
    }
    let is_ca = c.is_ca();
    if (is_ca || role != Role::Leaf) && c.subject.is_empty() {
        return Err(PathErrorKind::Profile(
            "a CA certificate has an empty subject".into(),
        ));
    }
    if c.exts.aki.as_ref().is_some_and(|a| a.0) {
        return Err(PathErrorKind::Profile(
            "authorityKeyIdentifier is marked critical".into(),
        ));
    }
    if c.exts.ski.as_ref().is_some_and(|a| a.0) {
        return Err(PathErrorKind::Profile(
            "subjectKeyIdentifier is marked critical".into(),
        ));
    }
    if c.exts.aia_critical == Some(true) {
        return Err(PathErrorKind::Profile(
            "authorityInfoAccess is marked critical".into(),
        ));
    }
    if c.exts.policy_constraints.as_ref().is_some_and(|p| !p.0) {
        return Err(PathErrorKind::Profile(
            "policyConstraints is not marked critical".into(),
        ));
    }
    if let Some(nc) = &c.exts.name_constraints {
        if !is_ca {
            return Err(PathErrorKind::NameConstraints(
                "nameConstraints in a certificate that is not a CA".into(),
            ));
        }
        if !nc.critical && !web {
            return Err(PathErrorKind::NameConstraints(
                "nameConstraints is not marked critical".into(),
            ));
        }
    }
    if c.subject.is_empty() {
        match &c.exts.san {
            None => {
                return Err(PathErrorKind::Profile(
                    "empty subject and no subjectAltName".into(),
                ));
            }
            Some((false, _)) => {
                return Err(PathErrorKind::Profile(
                    "empty subject and a non-critical subjectAltName".into(),
                ));
            }
            _ => {}
        }
    }
    let ku = c.key_usage();
    if let Some((_, ca, pl)) = c.exts.basic_constraints {
        if !ca && ku.is_some_and(|k| k & KU_KEY_CERT_SIGN != 0) {
            return Err(PathErrorKind::BasicConstraints(
                "keyCertSign is set but basicConstraints cA is not".into(),
            ));
        }
        if pl.is_some() && !ca {
            return Err(PathErrorKind::BasicConstraints(
                "pathLenConstraint without cA".into(),
            ));
        }
    } else if ku.is_some_and(|k| k & KU_KEY_CERT_SIGN != 0) && c.version == 2 {
        return Err(PathErrorKind::BasicConstraints(
            "keyCertSign is set but there is no basicConstraints".into(),
        ));
    }
    if !web {
        return Ok(());
    }
    // CA/Browser Forum rules.
    if c.version != 2 {
        return Err(PathErrorKind::Profile("not a v3 certificate".into()));
    }
    let serial = &c.serial;
    if role == Role::Anchor {
        // Trust anchors are trusted as configured (old roots have serial 0).
    } else if serial.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(PathErrorKind::Profile("negative serial number".into()));
    } else if serial.iter().all(|b| *b == 0) {
        return Err(PathErrorKind::Profile("serial number zero".into()));
    } else if serial.len() > 21 || (serial.len() == 21 && serial[0] != 0) {
        return Err(PathErrorKind::Profile(
            "serial number longer than 20 octets".into(),
        ));
    }
    sig::check_key(&c.key, profile)?;
    // Trust anchors are exempt: a root may be cross-signed elsewhere (its
    // issuer then differs) and still be trusted as configured.
    if role != Role::Anchor && c.authority_key_id().is_none() {
        return Err(PathErrorKind::Profile(
            "no authorityKeyIdentifier keyIdentifier".into(),
        ));
    }
    if role != Role::Leaf {
        if c.subject_key_id().is_none() {
            return Err(PathErrorKind::Profile(
                "a CA certificate without subjectKeyIdentifier".into(),
            ));
        }
        if c.exts.basic_constraints.is_some_and(|b| !b.0) {
            return Err(PathErrorKind::Profile(
                "basicConstraints of a CA is not marked critical".into(),
            ));
        }
    }
    if role == Role::Anchor && c.self_issued {
        if let Some((_, kid, iss, ser)) = &c.exts.aki {
            if *iss || *ser {
                return Err(PathErrorKind::Profile(
                    "root authorityKeyIdentifier has authorityCertIssuer or serial".into(),
                ));
            }
            if kid.is_none() {
                return Err(PathErrorKind::Profile(
                    "root authorityKeyIdentifier without keyIdentifier".into(),
                ));
            }
            if kid.as_deref() != c.subject_key_id() {
                return Err(PathErrorKind::Profile(
                    "root authorityKeyIdentifier differs from its subjectKeyIdentifier".into(),
                ));
            }
        }
        if c.exts.eku.is_some() {
            return Err(PathErrorKind::Profile(
                "a root certificate has extKeyUsage".into(),
            ));
        }
    }
    Ok(())
}

/// Path-independent checks of the leaf.
fn check_leaf(leaf: &CertInfo, opts: &PathOptions) -> Result<(), PathErrorKind> {
    let web = opts.profile == ValidationProfile::WebPki;
    check_validity(leaf, opts.time)?;
    check_cert(leaf, Role::Leaf, opts.profile)?;
    if web {
        if leaf.is_ca() {
            return Err(PathErrorKind::BasicConstraints(
                "the leaf is a CA certificate".into(),
            ));
        }
        if leaf.key_usage().is_some_and(|k| k & KU_KEY_CERT_SIGN != 0) {
            return Err(PathErrorKind::KeyUsage("the leaf has keyCertSign".into()));
        }
        if leaf.exts.san.as_ref().is_some_and(|s| s.0) && !leaf.subject.is_empty() {
            return Err(PathErrorKind::Profile(
                "subjectAltName is critical although the subject is not empty".into(),
            ));
        }
        for n in leaf.subject_alt_names() {
            if let GeneralName::Dns(d) = n
                && !names::valid_dns(&d.to_ascii_lowercase(), true)
            {
                return Err(PathErrorKind::Profile(format!(
                    "subjectAltName dNSName {d:?} is not a valid host name"
                )));
            }
            if let GeneralName::Ip(ip) = n
                && ip.len() != 4
                && ip.len() != 16
            {
                return Err(PathErrorKind::Profile(
                    "subjectAltName iPAddress is not 4 or 16 octets".into(),
                ));
            }
        }
        if opts.cabf_common_name {
            names::check_cn_in_san(leaf)?;
        }
    }
    if let Some(want) = &opts.required_eku
        && let Some((critical, ekus)) = &leaf.exts.eku
    {
        if web && *critical {
            return Err(PathErrorKind::ExtendedKeyUsage(
                "extKeyUsage is marked critical".into(),
            ));
        }
        if web && ekus.contains(&EKU_ANY) {
            return Err(PathErrorKind::ExtendedKeyUsage(
                "anyExtendedKeyUsage in a subscriber certificate (CABF 7.1.2.7.10)".into(),
            ));
        }
        let any_ok = !web && ekus.contains(&EKU_ANY);
        if !ekus.contains(want) && !any_ok {
            return Err(PathErrorKind::ExtendedKeyUsage(format!(
                "the leaf's extKeyUsage does not include {want}"
            )));
        }
    }
    if let Some(ku) = leaf.key_usage() {
        for b in &opts.required_key_usage {
            if ku & b.mask() == 0 {
                return Err(PathErrorKind::KeyUsage(format!(
                    "the leaf's keyUsage lacks {}",
                    b.as_str()
                )));
            }
        }
        let any = &opts.leaf_key_usage_any;
        if !any.is_empty() && !any.iter().any(|b| ku & b.mask() != 0) {
            let names: Vec<_> = any.iter().map(|b| b.as_str()).collect();
            return Err(PathErrorKind::KeyUsage(format!(
                "the leaf's keyUsage has none of {}",
                names.join(", ")
            )));
        }
    }
    names::check_peer_names(leaf, &opts.peer_names)?;
    Ok(())
}

/// The RFC 5280 §6.1 algorithm over `certs` (leaf first, anchor last).
/// Returns the valid policies.
fn check_chain(certs: &[&CertInfo], opts: &PathOptions) -> Result<(Vec<Oid>, ()), PathError> {
    let n = certs.len() - 1;
    let anchor = certs[n];
    let err = |k: PathErrorKind, i: usize| PathError::at(k, i, certs[i]);
    let profile = opts.profile;

    // The trust anchor.
    check_validity(anchor, opts.time).map_err(|k| err(k, n))?;
    check_cert(anchor, Role::Anchor, profile).map_err(|k| err(k, n))?;
    check_ca(anchor, opts).map_err(|k| err(k, n))?;

    let m = n; // certificates after the anchor
    let mut max_path_len = m;
    if let Some((_, _, Some(p))) = anchor.exts.basic_constraints {
        max_path_len = max_path_len.min(usize::try_from(p).unwrap_or(usize::MAX));
    }
    let init = |inhibit: bool| if inhibit { 0 } else { m + 1 };
    let mut explicit_policy = init(opts.require_explicit_policy);
    let mut policy_mapping = init(opts.inhibit_policy_mapping);
    let mut inhibit_any = init(opts.inhibit_any_policy);
    let mut constraints: Vec<&NameConstraints> = Vec::new();
    if let Some(nc) = &anchor.exts.name_constraints {
        names::check_constraint_syntax(nc).map_err(|k| err(k, n))?;
        constraints.push(nc);
    }
    let mut tree = policy::PolicyTree::new();
    let mut budget = names::MAX_NC_COMPARISONS;
    let mut depth_count = 0usize;
    let mut valid_policies = Vec::new();

    for k in (0..n).rev() {
        let c = certs[k];
        let i = n - k;
        let last = k == 0;
        if !last {
            check_validity(c, opts.time).map_err(|e| err(e, k))?;
            check_cert(c, Role::Intermediate, profile).map_err(|e| err(e, k))?;
        }
        // (b)-(c) names.
        if last || !c.self_issued {
            for nc in &constraints {
                names::check_names(c, nc, &mut budget, profile).map_err(|e| err(e, k))?;
            }
        }
        // (d)-(f) policies.
        tree.process_cert(c, i, inhibit_any, last)
            .map_err(|e| err(e, k))?;
        if explicit_policy == 0 && tree.is_null() {
            return Err(err(
                PathErrorKind::Policy("no valid policy and an explicit policy is required".into()),
                k,
            ));
        }
        if !last {
            // §6.1.4.
            tree.apply_mappings(c, i, policy_mapping)
                .map_err(|e| err(e, k))?;
            if let Some(nc) = &c.exts.name_constraints {
                names::check_constraint_syntax(nc).map_err(|e| err(e, k))?;
                constraints.push(nc);
            }
            if !c.self_issued {
                explicit_policy = explicit_policy.saturating_sub(1);
                policy_mapping = policy_mapping.saturating_sub(1);
                inhibit_any = inhibit_any.saturating_sub(1);
            }
            if let Some((_, req, inh)) = c.exts.policy_constraints {
                if let Some(r) = req {
                    explicit_policy = explicit_policy.min(usize::try_from(r).unwrap_or(usize::MAX));
                }
                if let Some(h) = inh {
                    policy_mapping = policy_mapping.min(usize::try_from(h).unwrap_or(usize::MAX));
                }
            }
            if let Some(s) = c.exts.inhibit_any_policy {
                inhibit_any = inhibit_any.min(usize::try_from(s).unwrap_or(usize::MAX));
            }
            check_ca(c, opts).map_err(|e| err(e, k))?;
            if !c.self_issued {
                if max_path_len == 0 {
                    return Err(err(
                        PathErrorKind::BasicConstraints(
                            "the path length constraint of an issuer is exceeded".into(),
                        ),
                        k,
                    ));
                }
                max_path_len -= 1;
                depth_count += 1;
                if let Some(d) = opts.max_chain_depth
                    && depth_count > d
                {
                    return Err(err(PathErrorKind::DepthExceeded(d), k));
                }
            }
            if let Some((_, _, Some(p))) = c.exts.basic_constraints {
                max_path_len = max_path_len.min(usize::try_from(p).unwrap_or(usize::MAX));
            }
        } else {
            // §6.1.5 wrap-up.
            explicit_policy = explicit_policy.saturating_sub(1);
            if let Some((_, Some(0), _)) = c.exts.policy_constraints {
                explicit_policy = 0;
            }
            valid_policies = tree.finish(i, &opts.initial_policy_set);
            if explicit_policy == 0 && tree.is_null() {
                return Err(err(
                    PathErrorKind::Policy(
                        "no acceptable policy and an explicit policy is required".into(),
                    ),
                    k,
                ));
            }
        }
    }
    Ok((valid_policies, ()))
}

/// A certificate that issues the next one: basic constraints, key usage,
/// extended key usage chaining.
fn check_ca(c: &CertInfo, opts: &PathOptions) -> Result<(), PathErrorKind> {
    match c.exts.basic_constraints {
        Some((_, true, _)) => {}
        Some(_) => {
            return Err(PathErrorKind::BasicConstraints(
                "issuer is not a CA (cA is false)".into(),
            ));
        }
        None => {
            if c.version == 2 || opts.profile == ValidationProfile::WebPki {
                return Err(PathErrorKind::BasicConstraints(
                    "issuer has no basicConstraints".into(),
                ));
            }
        }
    }
    if c.key_usage().is_some_and(|k| k & KU_KEY_CERT_SIGN == 0) {
        return Err(PathErrorKind::KeyUsage(
            "issuer's keyUsage lacks keyCertSign".into(),
        ));
    }
    if let (Some(want), Some((_, ekus))) = (&opts.required_eku, &c.exts.eku)
        && !ekus.contains(want)
        && !ekus.contains(&EKU_ANY)
    {
        return Err(PathErrorKind::ExtendedKeyUsage(format!(
            "issuer's extKeyUsage does not include {want}"
        )));
    }
    Ok(())
}

fn check_revocation(
    certs: &[&CertInfo],
    opts: &PathOptions,
    checker: Option<&dyn RevocationChecker>,
) -> Result<Vec<RevocationStatus>, PathError> {
    if opts.revocation == RevocationMode::Off {
        return Ok(Vec::new());
    }
    let n = certs.len() - 1;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let c = certs[k];
        let status = match checker {
            Some(ch) => ch.status(c, &c.der, &certs[k + 1].der, opts),
            None => RevocationStatus::Unknown {
                why: "no revocation checker was given".into(),
            },
        };
        match &status {
            RevocationStatus::Revoked { at, reason, .. } if *at <= opts.time => {
                return Err(PathError::at(
                    PathErrorKind::Revoked {
                        at: *at,
                        reason: *reason,
                    },
                    k,
                    c,
                ));
            }
            RevocationStatus::Unknown { why } if opts.revocation == RevocationMode::HardFail => {
                return Err(PathError::at(
                    PathErrorKind::RevocationUnknown(why.clone()),
                    k,
                    c,
                ));
            }
            _ => {}
        }
        out.push(status);
    }
    Ok(out)
}

/// Verifies `signature` over `message` with the key of the SubjectPublicKeyInfo
/// `spki_der` under the AlgorithmIdentifier whose content is `alg_content`, with
/// the validator's algorithms and key rules (RFC 5280 profile). A bare
/// `rsaEncryption` identifier, as CMS signers write it, means PKCS#1 v1.5 with
/// `bare_rsa_hash`. For signatures that are not on certificates (CMS).
pub(crate) fn verify_with_spki(
    alg_content: &[u8],
    bare_rsa_hash: crate::DigestAlgorithm,
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), PathErrorKind> {
    let spki = parse::single(spki_der, parse::SEQ, "SubjectPublicKeyInfo")
        .map_err(PathErrorKind::Malformed)?;
    let (key, public_key) = parse::parse_spki(spki.content).map_err(PathErrorKind::Malformed)?;
    let bare_rsa = parse::Der::new(alg_content)
        .expect(parse::OID, "algorithm")
        .is_ok_and(|o| o.content == crate::oids::RSA_ENCRYPTION.as_bytes());
    let alg = if bare_rsa {
        parse::SigAlg::RsaPkcs1(match bare_rsa_hash {
            crate::DigestAlgorithm::Sha256 => parse::Hash::Sha256,
            crate::DigestAlgorithm::Sha384 => parse::Hash::Sha384,
            crate::DigestAlgorithm::Sha512 => parse::Hash::Sha512,
        })
    } else {
        parse::parse_sig_alg(alg_content).map_err(PathErrorKind::Malformed)?
    };
    sig::verify_with_key(
        &alg,
        message,
        signature,
        &key,
        public_key,
        ValidationProfile::Rfc5280,
    )
}

/// Parses a certificate for inspection (the same reader the validator uses).
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, PathError> {
    CertInfo::parse(der).map_err(|e| PathError {
        kind: PathErrorKind::Malformed(e),
        cert_index: None,
        subject: None,
    })
}
