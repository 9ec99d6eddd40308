//! Certificate revocation lists (RFC 5280 §5): building and reading v2 CRLs
//! and ARLs in the JPKI profile (see docs/pki-profiles.md).
//!
//! A CRL may hold millions of entries (every revoked, unexpired certificate of
//! a CA). Both directions therefore work on the DER directly: [`build_crl`]
//! computes every length first and writes one output buffer; [`Crl::from_der`]
//! walks the entry list without building an ASN.1 tree. Only the few CRL
//! extensions are decoded with `x509-cert`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use der::Decode;
use jiff::Timestamp;
use x509_cert::ext::pkix::AuthorityKeyIdentifier;
use x509_cert::ext::pkix::crl::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

use crate::PkiError;
use crate::cert::Certificate;
use crate::derw::{self, Reader, ctx_cons, ctx_prim};
use crate::issue;
use crate::keys::{self, SignatureAlgorithm, Signer};
use crate::oids;

const WHAT: &str = "CRL";

// ---------------------------------------------------------------------------
// Reasons
// ---------------------------------------------------------------------------

/// Why a certificate was revoked: the RFC 5280 `CRLReason` values used by JPKI
/// (see DOMAIN.md, "What revokes what").
///
/// Serialised (serde) as the strings of [`RevocationReason::as_str`], which are
/// also what the database stores. `removeFromCRL`, `privilegeWithdrawn` and
/// `aACompromise` are not part of the JPKI profile and are refused everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RevocationReason {
    /// `unspecified` (0). Never written as a reasonCode (RFC 5280 §5.3.1: the
    /// extension SHOULD be absent instead).
    #[serde(rename = "unspecified")]
    Unspecified,
    /// `keyCompromise` (1): the card or its key was lost or exposed.
    #[serde(rename = "keyCompromise")]
    KeyCompromise,
    /// `cACompromise` (2).
    #[serde(rename = "cACompromise")]
    CaCompromise,
    /// `affiliationChanged` (3): the 4 facts in the certificate changed.
    #[serde(rename = "affiliationChanged")]
    AffiliationChanged,
    /// `superseded` (4): renewed.
    #[serde(rename = "superseded")]
    Superseded,
    /// `cessationOfOperation` (5): no longer needed (death, moving abroad).
    #[serde(rename = "cessationOfOperation")]
    CessationOfOperation,
    /// `certificateHold` (6): suspended; JPKI never releases a hold.
    #[serde(rename = "certificateHold")]
    CertificateHold,
}

impl RevocationReason {
    /// All reasons of the JPKI profile, in code order.
    pub const ALL: [RevocationReason; 7] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
    ];

    /// The RFC 5280 `CRLReason` code (0–6).
    pub fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
            RevocationReason::CertificateHold => 6,
        }
    }

    /// The RFC 5280 ASN.1 name (`unspecified`, `keyCompromise`, `cACompromise`,
    /// `affiliationChanged`, `superseded`, `cessationOfOperation`,
    /// `certificateHold`): the string stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
        }
    }

    /// The inverse of [`as_str`](Self::as_str) (exact, case-sensitive). The
    /// RFC 5280 reasons outside the JPKI profile (`removeFromCRL`,
    /// `privilegeWithdrawn`, `aACompromise`) and anything else are
    /// [`PkiError::Profile`].
    pub fn parse(s: &str) -> Result<Self, PkiError> {
        if let Some(r) = Self::ALL.into_iter().find(|r| r.as_str() == s) {
            return Ok(r);
        }
        Err(match s {
            "removeFromCRL" | "privilegeWithdrawn" | "aACompromise" => {
                PkiError::profile(format!("revocation reason {s} is not used by JPKI"))
            }
            _ => PkiError::profile(format!("unknown revocation reason {s:?}")),
        })
    }

    /// From an RFC 5280 `CRLReason` code: 0–6; 8 (removeFromCRL), 9, 10 and
    /// anything else are [`PkiError::Profile`].
    pub fn from_code(code: u8) -> Result<Self, PkiError> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| PkiError::profile(format!("CRL reason code {code} is not used by JPKI")))
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, PkiError> {
        Self::parse(s)
    }
}

/// The reason to encode: `Unspecified` is written as no reasonCode
/// (RFC 5280 §5.3.1).
pub(crate) fn encoded_reason(r: Option<RevocationReason>) -> Option<u8> {
    r.filter(|r| *r != RevocationReason::Unspecified)
        .map(RevocationReason::code)
}

// ---------------------------------------------------------------------------
// Entries and parameters
// ---------------------------------------------------------------------------

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RevokedEntry {
    /// The serial number, big-endian magnitude (as stored: the hex-decoded 20
    /// octets). Leading zero octets are ignored; entries read from a CRL have
    /// none.
    pub serial: Vec<u8>,
    /// When it was revoked (`revocationDate`).
    pub revoked_at: Timestamp,
    /// Why (`reasonCode`); `Unspecified` is written as no reasonCode, so it
    /// reads back as `None`.
    pub reason: Option<RevocationReason>,
    /// When the key is known or suspected to have become invalid
    /// (`invalidityDate`); not after `revoked_at`.
    pub invalidity_date: Option<Timestamp>,
}

/// What a CRL covers and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlParams<'a> {
    /// `cRLNumber`: monotonically increasing per CA and per scope (each
    /// shard and the ARL count on their own, or share one counter).
    pub crl_number: u64,
    /// `thisUpdate`: when the CRL was made (no entry may be revoked after it).
    pub this_update: Timestamp,
    /// `nextUpdate`: the next CRL comes before this.
    pub next_update: Timestamp,
    /// Partitioned CRLs (Boulder-style shards): the URL of this shard, written
    /// as the issuingDistributionPoint's fullName. It must equal the
    /// cRLDistributionPoints URL of every certificate the shard covers.
    /// `None`: the complete CRL, with no distribution point name (and no
    /// issuingDistributionPoint at all unless `only_user_certs` or
    /// `only_ca_certs` is set).
    pub distribution_point: Option<&'a str>,
    /// `onlyContainsUserCerts`: an end-entity CRL.
    pub only_user_certs: bool,
    /// `onlyContainsCACerts`: an authority revocation list (ARL), listing CA
    /// and link certificates.
    pub only_ca_certs: bool,
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

/// Serial order: numeric on magnitudes without leading zeros.
pub(crate) fn cmp_serial(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `SEQUENCE { 2.5.29.21, OCTET STRING { ENUMERATED } }`: 12 octets.
const REASON_EXT_LEN: usize = 12;
/// `SEQUENCE { 2.5.29.24, OCTET STRING { GeneralizedTime } }`: 26 octets.
const INVALIDITY_EXT_LEN: usize = 26;

struct Planned<'a> {
    serial: &'a [u8],
    entry: &'a RevokedEntry,
    reason: Option<u8>,
}

impl Planned<'_> {
    fn extensions_len(&self) -> usize {
        let n = self.reason.map_or(0, |_| REASON_EXT_LEN)
            + self.entry.invalidity_date.map_or(0, |_| INVALIDITY_EXT_LEN);
        if n == 0 { 0 } else { 2 + n }
    }

    /// Content length of the entry SEQUENCE; always below 128 (at most
    /// 22 + 17 + 2 + 12 + 26 = 79), so its header is two octets.
    fn content_len(&self) -> usize {
        2 + derw::uint_content_len(self.serial)
            + derw::time_len(self.entry.revoked_at)
            + self.extensions_len()
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), PkiError> {
        out.push(derw::SEQUENCE);
        out.push(self.content_len() as u8);
        derw::write_uint(out, self.serial);
        derw::write_time(out, self.entry.revoked_at)?;
        let ext = self.extensions_len();
        if ext > 0 {
            out.push(derw::SEQUENCE);
            out.push((ext - 2) as u8);
            if let Some(code) = self.reason {
                // 30 0a 06 03 55 1d 15 04 03 0a 01 <code>
                out.extend_from_slice(&[
                    0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, code,
                ]);
            }
            if let Some(t) = self.entry.invalidity_date {
                // 30 18 06 03 55 1d 18 04 11 <GeneralizedTime>
                out.extend_from_slice(&[0x30, 0x18, 0x06, 0x03, 0x55, 0x1d, 0x18, 0x04, 0x11]);
                derw::write_generalized_time(out, t)?;
            }
        }
        Ok(())
    }
}

/// The issuingDistributionPoint value, or `None` when the CRL needs none.
fn issuing_distribution_point(p: &CrlParams<'_>) -> Result<Option<Vec<u8>>, PkiError> {
    let mut parts = Vec::new();
    if let Some(url) = p.distribution_point {
        issue::check_url(url, "distribution_point")?;
        // [0] DistributionPointName { [0] fullName { URI } }
        let full_name = derw::tlv(ctx_cons(0), &issue::uri(url));
        parts.push(derw::tlv(ctx_cons(0), &full_name));
    }
    if p.only_user_certs {
        parts.push(derw::tlv(ctx_prim(1), &[0xff]));
    }
    if p.only_ca_certs {
        parts.push(derw::tlv(ctx_prim(2), &[0xff]));
    }
    Ok((!parts.is_empty()).then(|| derw::seq(&parts)))
}

/// Checks that `ca_cert_der` is a CA allowed to sign CRLs (basicConstraints
/// CA, keyUsage cRLSign if present) and that `signer` holds its key.
pub(crate) fn crl_issuer(ca_cert_der: &[u8], signer: &dyn Signer) -> Result<Certificate, PkiError> {
    use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
    let ca = Certificate::from_der(ca_cert_der)?;
    if !ca.is_ca() {
        return Err(PkiError::WrongProfile {
            expected: "CA",
            found: ca.profile().to_string(),
        });
    }
    let ku = ca
        .inner()
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .map_err(|e| PkiError::malformed("certificate", e))?;
    if let Some((_, ku)) = ku
        && !ku.0.contains(KeyUsages::CRLSign)
    {
        return Err(PkiError::profile(
            "the CA certificate lacks keyUsage cRLSign",
        ));
    }
    let signer_key = keys::parse_spki(&signer.public_key_der())?;
    if !issue::same_key(
        &signer_key,
        &keys::parse_spki(&ca.subject_public_key_der())?,
    ) {
        return Err(PkiError::profile(
            "the signer's key is not the key of the CA certificate",
        ));
    }
    Ok(ca)
}

/// Builds a v2 CRL (or ARL) signed by the CA; see docs/pki-profiles.md.
///
/// - issuer = the CA's subject; signature algorithm = the signer's.
/// - thisUpdate / nextUpdate and revocation dates: UTCTime through 2049,
///   GeneralizedTime from 2050; invalidityDate: GeneralizedTime.
/// - Entries in ascending serial order, each with a reasonCode (unless
///   `None` or `Unspecified`) and an invalidityDate when given. No
///   `revokedCertificates` at all when `entries` is empty.
/// - CRL extensions: authorityKeyIdentifier (= the CA's SKI), cRLNumber,
///   issuingDistributionPoint (critical) when `p` asks for one.
///
/// Refused: duplicate or zero serials, serials above 20 octets, an entry
/// revoked after `this_update`, an invalidity date after its revocation,
/// `next_update` not after `this_update`, both `only_*` flags, a signer that
/// does not hold the CA's key.
///
/// Fast: lengths are computed first and the DER is written into one buffer
/// (a million entries take well under a second plus one signature).
pub fn build_crl(
    ca_cert_der: &[u8],
    ca_signer: &dyn Signer,
    p: &CrlParams<'_>,
    entries: &[RevokedEntry],
) -> Result<Vec<u8>, PkiError> {
    let ca = crl_issuer(ca_cert_der, ca_signer)?;
    if p.next_update <= p.this_update {
        return Err(PkiError::Validity {
            reason: format!(
                "nextUpdate {} is not after thisUpdate {}",
                p.next_update, p.this_update
            ),
        });
    }
    if p.only_user_certs && p.only_ca_certs {
        return Err(PkiError::profile(
            "a CRL cannot be both user-only and CA-only",
        ));
    }

    let mut planned: Vec<Planned<'_>> = Vec::with_capacity(entries.len());
    for e in entries {
        let serial = derw::strip_zeros(&e.serial);
        if serial.is_empty() {
            return Err(PkiError::profile(
                "a revoked serial number must not be zero",
            ));
        }
        if derw::uint_content_len(serial) > 20 {
            return Err(PkiError::profile(format!(
                "serial {} is longer than 20 octets",
                derw::hex_upper(serial)
            )));
        }
        if e.revoked_at > p.this_update {
            return Err(PkiError::Validity {
                reason: format!(
                    "serial {} is revoked at {}, after thisUpdate {}",
                    derw::hex_upper(serial),
                    e.revoked_at,
                    p.this_update
                ),
            });
        }
        if let Some(inv) = e.invalidity_date
            && inv > e.revoked_at
        {
            return Err(PkiError::Validity {
                reason: format!(
                    "serial {}: invalidity date {inv} is after the revocation {}",
                    derw::hex_upper(serial),
                    e.revoked_at
                ),
            });
        }
        planned.push(Planned {
            serial,
            entry: e,
            reason: encoded_reason(e.reason),
        });
    }
    planned.sort_unstable_by(|a, b| cmp_serial(a.serial, b.serial));
    if let Some(w) = planned.windows(2).find(|w| w[0].serial == w[1].serial) {
        return Err(PkiError::profile(format!(
            "serial {} is listed twice",
            derw::hex_upper(w[0].serial)
        )));
    }

    // Everything but the entry list is small: build it the ordinary way.
    let alg = ca_signer.algorithm();
    let alg_der = alg.algorithm_identifier_der();
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(&[derw::INTEGER, 1, 1]); // v2
    head.extend_from_slice(&alg_der);
    head.extend_from_slice(&ca.subject_name_der());
    derw::write_time(&mut head, p.this_update)?;
    derw::write_time(&mut head, p.next_update)?;

    let aki = match ca.subject_key_id() {
        Some(k) => k,
        None => keys::key_identifier(&ca.subject_public_key_der())?,
    };
    let mut exts = vec![
        issue::authority_key_id(&aki),
        issue::extension(
            &oids::EXT_CRL_NUMBER,
            false,
            &derw::uint(&p.crl_number.to_be_bytes()),
        ),
    ];
    if let Some(idp) = issuing_distribution_point(p)? {
        exts.push(issue::extension(
            &oids::EXT_ISSUING_DISTRIBUTION_POINT,
            true,
            &idp,
        ));
    }
    let tail = derw::tlv(ctx_cons(0), &derw::seq(&exts));

    // Lengths, then one buffer. Some room is left in front for the outer
    // SEQUENCE header, which depends on the signature's length.
    let list_content: usize = planned.iter().map(|e| 2 + e.content_len()).sum();
    let list_len = if planned.is_empty() {
        0
    } else {
        derw::header_len(list_content) + list_content
    };
    let tbs_content = head.len() + list_len + tail.len();
    let tbs_len = derw::header_len(tbs_content) + tbs_content;
    const ROOM: usize = 8;
    let sig_room = 16 + alg_der.len() + 1024;
    let mut buf = Vec::with_capacity(ROOM + tbs_len + sig_room);
    buf.resize(ROOM, 0);
    derw::write_header(&mut buf, derw::SEQUENCE, tbs_content);
    buf.extend_from_slice(&head);
    if !planned.is_empty() {
        derw::write_header(&mut buf, derw::SEQUENCE, list_content);
        for e in &planned {
            e.write(&mut buf)?;
        }
    }
    buf.extend_from_slice(&tail);
    if buf.len() != ROOM + tbs_len {
        return Err(PkiError::Crypto(format!(
            "CRL length computation is off: {} != {}",
            buf.len() - ROOM,
            tbs_len
        )));
    }

    let tbs = &buf[ROOM..];
    let sig = ca_signer.sign(tbs)?;
    keys::verify_signature(&ca_signer.public_key_der(), alg, tbs, &sig).map_err(|e| {
        PkiError::Crypto(format!(
            "the signer produced a signature that does not verify: {e}"
        ))
    })?;
    buf.extend_from_slice(&alg_der);
    derw::write_header(&mut buf, derw::BIT_STRING, sig.len() + 1);
    buf.push(0);
    buf.extend_from_slice(&sig);

    let content = buf.len() - ROOM;
    let mut header = Vec::with_capacity(ROOM);
    derw::write_header(&mut header, derw::SEQUENCE, content);
    let start = ROOM - header.len();
    buf[start..ROOM].copy_from_slice(&header);
    buf.drain(..start);
    Ok(buf)
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// A decoded CRL: its DER, the fields honnin uses, and the entries in
/// ascending serial order (so [`Crl::find`] is a binary search).
#[derive(Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs_start: usize,
    tbs_end: usize,
    signature_algorithm: Option<SignatureAlgorithm>,
    signature: Vec<u8>,
    issuer_der: Vec<u8>,
    crl_number: u64,
    this_update: Timestamp,
    next_update: Option<Timestamp>,
    entries: Vec<RevokedEntry>,
    authority_key_id: Option<Vec<u8>>,
    idp_url: Option<String>,
    has_idp: bool,
    is_partitioned: bool,
    only_user_certs: bool,
    only_ca_certs: bool,
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl")
            .field("crl_number", &self.crl_number)
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("entries", &self.entries.len())
            .field("idp_url", &self.idp_url)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Crl {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Crl {}

fn bad(reason: impl fmt::Display) -> PkiError {
    PkiError::malformed(WHAT, reason)
}

fn oid_is(content: &[u8], oid: &const_oid::ObjectIdentifier) -> bool {
    content == oid.as_bytes()
}

/// One decoded `Extension`: (OID content octets, critical, extnValue content).
pub(crate) struct Ext<'a> {
    pub oid: &'a [u8],
    pub critical: bool,
    pub value: &'a [u8],
}

/// Most extensions one `Extensions` may hold when read (the duplicate check
/// is quadratic; real lists have a handful).
const MAX_EXTENSIONS: usize = 64;

/// Decodes `Extensions ::= SEQUENCE OF Extension` (the content of the
/// SEQUENCE). Duplicate OIDs and more than 64 extensions are refused.
pub(crate) fn parse_extensions<'a>(
    content: &'a [u8],
    what: &'static str,
) -> Result<Vec<Ext<'a>>, PkiError> {
    let mut r = Reader::new(content, what);
    let mut out: Vec<Ext<'a>> = Vec::new();
    while !r.is_empty() {
        if out.len() == MAX_EXTENSIONS {
            return Err(PkiError::malformed(what, "too many extensions"));
        }
        let e = r.expect(derw::SEQUENCE, "extension")?;
        let mut er = Reader::new(e.content, what);
        let oid = er.expect(derw::OID, "extension id")?.content;
        let critical = match er.optional(derw::BOOLEAN, "critical")? {
            Some(b) => match b.content {
                [0xff] => true,
                [0x00] => false,
                _ => return Err(PkiError::malformed(what, "bad BOOLEAN")),
            },
            None => false,
        };
        let value = er.expect(derw::OCTET_STRING, "extnValue")?.content;
        er.finish("extension")?;
        if out.iter().any(|x| x.oid == oid) {
            return Err(PkiError::malformed(what, "an extension appears twice"));
        }
        out.push(Ext {
            oid,
            critical,
            value,
        });
    }
    Ok(out)
}

fn unsupported_critical(e: &Ext<'_>, what: &'static str) -> PkiError {
    let oid = const_oid::ObjectIdentifier::from_bytes(e.oid)
        .map(|o| o.to_string())
        .unwrap_or_else(|_| "(invalid OID)".to_owned());
    PkiError::malformed(what, format!("unsupported critical extension {oid}"))
}

/// Decodes a single ENUMERATED reason code.
pub(crate) fn parse_reason(value: &[u8], what: &'static str) -> Result<RevocationReason, PkiError> {
    let t = derw::split_tlv(value)
        .filter(|t| t.tag == 0x0a && t.rest.is_empty())
        .ok_or_else(|| PkiError::malformed(what, "reason code is not an ENUMERATED"))?;
    match t.content {
        [code] => RevocationReason::from_code(*code),
        _ => Err(PkiError::malformed(what, "reason code out of range")),
    }
}

fn time_of(t: &derw::Tlv<'_>, field: &str) -> Result<Timestamp, PkiError> {
    derw::parse_time(t.tag, t.content).map_err(|e| bad(format!("{field}: {e}")))
}

fn parse_entry(content: &[u8]) -> Result<RevokedEntry, PkiError> {
    let mut r = Reader::new(content, WHAT);
    let serial = r.expect(derw::INTEGER, "userCertificate")?;
    let serial = derw::parse_uint(serial.content).map_err(|e| bad(format!("serial: {e}")))?;
    if serial.is_empty() {
        return Err(bad("serial number zero"));
    }
    let t = r.any("revocationDate")?;
    let revoked_at = time_of(&t, "revocationDate")?;
    let mut entry = RevokedEntry {
        serial: serial.to_vec(),
        revoked_at,
        reason: None,
        invalidity_date: None,
    };
    if let Some(exts) = r.optional(derw::SEQUENCE, "crlEntryExtensions")? {
        for e in parse_extensions(exts.content, WHAT)? {
            if oid_is(e.oid, &oids::EXT_CRL_REASON) {
                entry.reason = Some(parse_reason(e.value, WHAT)?);
            } else if oid_is(e.oid, &oids::EXT_INVALIDITY_DATE) {
                let t = derw::split_tlv(e.value)
                    .filter(|t| t.tag == derw::GENERALIZED_TIME && t.rest.is_empty())
                    .ok_or_else(|| bad("invalidityDate is not a GeneralizedTime"))?;
                entry.invalidity_date = Some(time_of(&t, "invalidityDate")?);
            } else if e.critical {
                // e.g. certificateIssuer of an indirect CRL.
                return Err(unsupported_critical(&e, WHAT));
            }
        }
    }
    r.finish("CRL entry")?;
    Ok(entry)
}

impl Crl {
    /// Decodes a DER CRL. Strict DER; refuses trailing data, versions other
    /// than v1/v2 (v1 without extensions), a tbsCertList signature algorithm
    /// different from the outer one, a missing cRLNumber or one above
    /// 2^64 − 1, duplicate extensions, unknown critical extensions (including
    /// deltaCRLIndicator and indirect-CRL entries), reason codes outside JPKI,
    /// zero or negative serials. Never panics.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let outer = derw::split_tlv(der).ok_or_else(|| bad("bad outer encoding"))?;
        if outer.tag != derw::SEQUENCE || !outer.rest.is_empty() {
            return Err(bad("not a single SEQUENCE"));
        }
        let mut r = Reader::new(outer.content, WHAT);
        let tbs = r.expect(derw::SEQUENCE, "tbsCertList")?;
        let outer_alg = r.expect(derw::SEQUENCE, "signatureAlgorithm")?;
        let sig = r.expect(derw::BIT_STRING, "signature")?;
        r.finish("signature")?;
        let signature = match sig.content {
            [0, rest @ ..] => rest.to_vec(),
            _ => return Err(bad("signature BIT STRING has unused bits")),
        };
        let signature_algorithm = spki::AlgorithmIdentifierRef::from_der(outer_alg.whole)
            .ok()
            .and_then(|a| SignatureAlgorithm::from_identifier(&a).ok());
        // Offsets of the tbsCertList inside `der` (kept instead of a copy).
        let tbs_start = der.len() - outer.content.len();
        let tbs_end = tbs_start + tbs.whole.len();

        let mut t = Reader::new(tbs.content, WHAT);
        let version = match t.optional(derw::INTEGER, "version")? {
            Some(v) if v.content == [1] => 2,
            Some(_) => return Err(bad("version is not v2")),
            None => 1,
        };
        let inner_alg = t.expect(derw::SEQUENCE, "signature")?;
        if inner_alg.whole != outer_alg.whole {
            return Err(bad("signatureAlgorithm differs from tbsCertList.signature"));
        }
        let issuer = t.expect(derw::SEQUENCE, "issuer")?;
        x509_cert::name::Name::from_der(issuer.whole).map_err(|e| bad(format!("issuer: {e}")))?;
        let this_update = time_of(&t.any("thisUpdate")?, "thisUpdate")?;
        let next_update = match t.peek_tag() {
            Some(derw::UTC_TIME | derw::GENERALIZED_TIME) => {
                Some(time_of(&t.any("nextUpdate")?, "nextUpdate")?)
            }
            _ => None,
        };
        let mut entries = Vec::new();
        if let Some(list) = t.optional(derw::SEQUENCE, "revokedCertificates")? {
            let mut lr = Reader::new(list.content, WHAT);
            entries.reserve(list.content.len() / 40);
            while !lr.is_empty() {
                let e = lr.expect(derw::SEQUENCE, "revokedCertificate")?;
                let entry = parse_entry(e.content)?;
                if version == 1 && (entry.reason.is_some() || entry.invalidity_date.is_some()) {
                    return Err(bad("a v1 CRL entry has extensions"));
                }
                entries.push(entry);
            }
        }
        let mut crl = Crl {
            der: Vec::new(),
            tbs_start,
            tbs_end,
            signature_algorithm,
            signature,
            issuer_der: issuer.whole.to_vec(),
            crl_number: 0,
            this_update,
            next_update,
            entries: Vec::new(),
            authority_key_id: None,
            idp_url: None,
            has_idp: false,
            is_partitioned: false,
            only_user_certs: false,
            only_ca_certs: false,
        };
        let mut crl_number = None;
        if let Some(exts) = t.optional(ctx_cons(0), "crlExtensions")? {
            if version == 1 {
                return Err(bad("a v1 CRL has extensions"));
            }
            let inner = derw::split_tlv(exts.content)
                .filter(|x| x.tag == derw::SEQUENCE && x.rest.is_empty())
                .ok_or_else(|| bad("crlExtensions is not one SEQUENCE"))?;
            for e in parse_extensions(inner.content, WHAT)? {
                if oid_is(e.oid, &oids::EXT_CRL_NUMBER) {
                    let n = derw::split_tlv(e.value)
                        .filter(|x| x.tag == derw::INTEGER && x.rest.is_empty())
                        .ok_or_else(|| bad("cRLNumber is not an INTEGER"))?;
                    let m =
                        derw::parse_uint(n.content).map_err(|e| bad(format!("cRLNumber: {e}")))?;
                    if m.len() > 8 {
                        return Err(bad("cRLNumber above 2^64 - 1 is not supported"));
                    }
                    crl_number = Some(m.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)));
                } else if oid_is(e.oid, &oids::EXT_AUTHORITY_KEY_ID) {
                    let aki = AuthorityKeyIdentifier::from_der(e.value)
                        .map_err(|x| bad(format!("authorityKeyIdentifier: {x}")))?;
                    crl.authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
                } else if oid_is(e.oid, &oids::EXT_ISSUING_DISTRIBUTION_POINT) {
                    crl.read_idp(e.value)?;
                } else if e.critical {
                    return Err(unsupported_critical(&e, WHAT));
                }
            }
        }
        t.finish("tbsCertList")?;
        crl.crl_number = crl_number.ok_or_else(|| bad("cRLNumber is missing"))?;

        // Keep the entries sorted for binary search (ours already are).
        if !entries
            .windows(2)
            .all(|w| cmp_serial(&w[0].serial, &w[1].serial) != Ordering::Greater)
        {
            entries.sort_by(|a, b| cmp_serial(&a.serial, &b.serial));
        }
        crl.entries = entries;
        crl.der = der.to_vec();
        Ok(crl)
    }

    fn read_idp(&mut self, value: &[u8]) -> Result<(), PkiError> {
        let idp = IssuingDistributionPoint::from_der(value)
            .map_err(|e| bad(format!("issuingDistributionPoint: {e}")))?;
        if idp.only_some_reasons.is_some() || idp.indirect_crl || idp.only_contains_attribute_certs
        {
            return Err(bad(
                "issuingDistributionPoint with onlySomeReasons, indirectCRL or attribute \
                 certificates is not supported",
            ));
        }
        self.has_idp = true;
        self.only_user_certs = idp.only_contains_user_certs;
        self.only_ca_certs = idp.only_contains_ca_certs;
        if self.only_user_certs && self.only_ca_certs {
            return Err(bad(
                "issuingDistributionPoint is both user-only and CA-only",
            ));
        }
        if let Some(dp) = idp.distribution_point {
            self.is_partitioned = true;
            if let DistributionPointName::FullName(names) = dp {
                self.idp_url = names.iter().find_map(|n| match n {
                    GeneralName::UniformResourceIdentifier(u) => Some(u.as_str().to_owned()),
                    _ => None,
                });
            }
        }
        Ok(())
    }

    /// Decodes the first `X509 CRL` PEM block of `pem`.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        Self::from_der(&crate::pem::decode(pem, "X509 CRL", WHAT)?)
    }

    /// PEM text (`-----BEGIN X509 CRL-----`, LF line endings).
    pub fn to_pem(&self) -> String {
        crate::pem::encode("X509 CRL", &self.der)
    }

    /// The DER as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The issuer name, DER.
    pub fn issuer_name_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// The cRLNumber.
    pub fn crl_number(&self) -> u64 {
        self.crl_number
    }

    /// thisUpdate.
    pub fn this_update(&self) -> Timestamp {
        self.this_update
    }

    /// nextUpdate (RFC 5280 requires it of CAs, ASN.1 makes it optional).
    pub fn next_update(&self) -> Option<Timestamp> {
        self.next_update
    }

    /// The revoked certificates, in ascending serial order.
    pub fn entries(&self) -> &[RevokedEntry] {
        &self.entries
    }

    /// The keyIdentifier of the authorityKeyIdentifier (the CA's SKI).
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key_id.as_deref()
    }

    /// The signature algorithm, if it is one this crate verifies.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.signature_algorithm
    }

    /// The first URI of the issuingDistributionPoint's fullName.
    pub fn idp_url(&self) -> Option<&str> {
        self.idp_url.as_deref()
    }

    /// Whether an issuingDistributionPoint extension is present.
    pub fn has_issuing_distribution_point(&self) -> bool {
        self.has_idp
    }

    /// Whether this is one partition (shard) of the CA's revocations: its
    /// issuingDistributionPoint names a distribution point.
    pub fn is_partitioned(&self) -> bool {
        self.is_partitioned
    }

    /// `onlyContainsUserCerts`.
    pub fn only_user_certs(&self) -> bool {
        self.only_user_certs
    }

    /// `onlyContainsCACerts`: an ARL.
    pub fn only_ca_certs(&self) -> bool {
        self.only_ca_certs
    }

    /// The entry for `serial` (big-endian magnitude; leading zeros ignored).
    pub fn find(&self, serial: &[u8]) -> Option<&RevokedEntry> {
        let s = derw::strip_zeros(serial);
        self.entries
            .binary_search_by(|e| cmp_serial(&e.serial, s))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// Verifies the signature with the issuer's SubjectPublicKeyInfo (DER).
    /// Checks nothing else (no dates, no names).
    pub fn verify_signed_by(&self, issuer_spki_der: &[u8]) -> Result<(), PkiError> {
        let alg = self
            .signature_algorithm
            .ok_or_else(|| PkiError::UnsupportedAlgorithm {
                oid: "CRL signature algorithm".to_owned(),
            })?;
        let tbs = self
            .der
            .get(self.tbs_start..self.tbs_end)
            .ok_or_else(|| bad("tbsCertList offsets"))?;
        let pk = keys::parse_spki(issuer_spki_der)?;
        keys::verify_parsed(&pk, alg, tbs, &self.signature, WHAT)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn reasons() {
        for (i, r) in RevocationReason::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(r.code()), i);
            assert_eq!(RevocationReason::from_code(r.code()).unwrap(), r);
            assert_eq!(RevocationReason::parse(r.as_str()).unwrap(), r);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<RevocationReason>(&json).unwrap(), r);
        }
        for c in [7u8, 8, 9, 10, 11, 255] {
            assert!(RevocationReason::from_code(c).is_err());
        }
        for s in [
            "removeFromCRL",
            "privilegeWithdrawn",
            "aACompromise",
            "KeyCompromise",
            "",
        ] {
            assert!(RevocationReason::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn serial_order() {
        assert_eq!(cmp_serial(&[0x7f], &[0x01, 0x00]), Ordering::Less);
        assert_eq!(cmp_serial(&[0x02], &[0x01]), Ordering::Greater);
        assert_eq!(cmp_serial(&[1, 2], &[1, 2]), Ordering::Equal);
    }
}
