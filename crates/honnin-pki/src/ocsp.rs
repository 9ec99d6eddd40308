//! OCSP (RFC 6960): requests, responses signed by a delegated responder, and
//! the responder's certificate (see docs/pki-profiles.md).
//!
//! The ASN.1 is read and written by hand with strict DER: requests come from
//! the network, and the `CertID` of every request must come back in the
//! response exactly as the client encoded it (clients compare fields, so
//! refusing non-minimal encodings keeps both sides identical).

use std::fmt;

use jiff::Timestamp;

use crate::PkiError;
use crate::cert::Certificate;
use crate::crl::{RevocationReason, encoded_reason, parse_extensions, parse_reason};
use crate::derw::{self, Reader, ctx_cons, ctx_prim};
use crate::issue::{self, Tbs};
use crate::keys::{self, SignatureAlgorithm, Signer};
use crate::oids;

const REQ: &str = "OCSP request";
const RESP: &str = "OCSP response";

/// Largest request [`parse_ocsp_request`] reads (64 KiB).
pub const OCSP_MAX_REQUEST_LEN: usize = 64 * 1024;
/// Most certificates one request may ask about.
pub const OCSP_MAX_CERT_IDS: usize = 100;
/// Longest validity of a delegated responder certificate, in days: it
/// carries `id-pkix-ocsp-nocheck` and so cannot be revoked in practice.
pub const OCSP_RESPONDER_MAX_VALIDITY_DAYS: i64 = 100;
/// The CN appended to the CA's name to form the responder's subject.
pub const OCSP_RESPONDER_CN: &str = "OCSP Responder";

// ---------------------------------------------------------------------------
// CertID
// ---------------------------------------------------------------------------

/// The hash of a `CertID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1 (what OpenSSL and most clients send by default).
    Sha1,
    /// SHA-256.
    Sha256,
}

impl HashAlgorithm {
    /// The algorithm's object identifier.
    pub fn oid(self) -> const_oid::ObjectIdentifier {
        match self {
            HashAlgorithm::Sha1 => oids::SHA1,
            HashAlgorithm::Sha256 => oids::SHA256,
        }
    }

    /// Digest length in octets (20 or 32).
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            HashAlgorithm::Sha1 => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => &aws_lc_rs::digest::SHA256,
        };
        aws_lc_rs::digest::digest(alg, data).as_ref().to_vec()
    }

    fn from_oid_bytes(b: &[u8]) -> Option<Self> {
        [HashAlgorithm::Sha1, HashAlgorithm::Sha256]
            .into_iter()
            .find(|h| h.oid().as_bytes() == b)
    }
}

/// Which certificate an OCSP request or response is about (RFC 6960 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertId {
    /// The hash of the two issuer fields.
    pub hash_algorithm: HashAlgorithm,
    /// Hash of the issuer's name (DER), as in the certificate's issuer field.
    pub issuer_name_hash: Vec<u8>,
    /// Hash of the issuer's public key (the subjectPublicKey BIT STRING value).
    pub issuer_key_hash: Vec<u8>,
    /// Serial number, big-endian magnitude without leading zeros.
    pub serial: Vec<u8>,
}

impl CertId {
    /// The DER `CertID`: the hash AlgorithmIdentifier always has NULL
    /// parameters (as OpenSSL writes it).
    pub fn to_der(&self) -> Vec<u8> {
        derw::seq(&[
            derw::seq(&[derw::oid(&self.hash_algorithm.oid()), derw::null()]),
            derw::octets(&self.issuer_name_hash),
            derw::octets(&self.issuer_key_hash),
            derw::uint(&self.serial),
        ])
    }

    /// The serial in upper-case hex (as `Certificate::serial_hex`).
    pub fn serial_hex(&self) -> String {
        derw::hex_upper(derw::strip_zeros(&self.serial))
    }

    fn parse(tlv: &derw::Tlv<'_>, what: &'static str) -> Result<Self, PkiError> {
        let mut r = Reader::new(tlv.content, what);
        let alg = r.expect(derw::SEQUENCE, "hashAlgorithm")?;
        let mut ar = Reader::new(alg.content, what);
        let oid = ar.expect(derw::OID, "hash algorithm")?.content;
        let hash_algorithm =
            HashAlgorithm::from_oid_bytes(oid).ok_or_else(|| PkiError::UnsupportedAlgorithm {
                oid: const_oid::ObjectIdentifier::from_bytes(oid)
                    .map(|o| format!("CertID hash {o}"))
                    .unwrap_or_else(|_| "CertID hash (invalid OID)".to_owned()),
            })?;
        if let Some(p) = ar.optional(derw::NULL, "hash parameters")?
            && !p.content.is_empty()
        {
            return Err(PkiError::malformed(what, "bad NULL"));
        }
        ar.finish("hash algorithm")?;
        let issuer_name_hash = r.expect(derw::OCTET_STRING, "issuerNameHash")?.content;
        let issuer_key_hash = r.expect(derw::OCTET_STRING, "issuerKeyHash")?.content;
        let n = hash_algorithm.output_len();
        if issuer_name_hash.len() != n || issuer_key_hash.len() != n {
            return Err(PkiError::malformed(
                what,
                "CertID hashes do not have the hash's length",
            ));
        }
        let serial = r.expect(derw::INTEGER, "serialNumber")?;
        let serial = derw::parse_uint(serial.content)
            .map_err(|e| PkiError::malformed(what, format!("serialNumber: {e}")))?;
        if serial.is_empty() {
            return Err(PkiError::malformed(what, "serial number zero"));
        }
        r.finish("CertID")?;
        Ok(CertId {
            hash_algorithm,
            issuer_name_hash: issuer_name_hash.to_vec(),
            issuer_key_hash: issuer_key_hash.to_vec(),
            serial: serial.to_vec(),
        })
    }
}

fn public_key_bits(spki_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| PkiError::malformed("SubjectPublicKeyInfo", e))?;
    Ok(spki.subject_public_key.raw_bytes().to_vec())
}

/// The `CertID` of `cert_der` issued by `issuer_cert_der`. The certificate's
/// issuer name must be the issuer certificate's subject.
pub fn cert_id_for(
    cert_der: &[u8],
    issuer_cert_der: &[u8],
    alg: HashAlgorithm,
) -> Result<CertId, PkiError> {
    let cert = Certificate::from_der(cert_der)?;
    let issuer = Certificate::from_der(issuer_cert_der)?;
    let name = cert.issuer_name_der();
    if name != issuer.subject_name_der() {
        return Err(PkiError::profile(
            "the certificate's issuer is not the subject of the issuer certificate",
        ));
    }
    let key = public_key_bits(&issuer.subject_public_key_der())?;
    let serial = cert.inner().tbs_certificate().serial_number().as_bytes();
    Ok(CertId {
        hash_algorithm: alg,
        issuer_name_hash: alg.digest(&name),
        issuer_key_hash: alg.digest(&key),
        serial: derw::strip_zeros(serial).to_vec(),
    })
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// A decoded OCSP request: what it asks about and its nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequest {
    /// One `CertID` per `Request`, in order (1 to [`OCSP_MAX_CERT_IDS`]).
    pub cert_ids: Vec<CertId>,
    /// The nonce (RFC 8954: the octets of the `Nonce` OCTET STRING inside the
    /// extension value, 1 to 32 of them).
    pub nonce: Option<Vec<u8>>,
}

/// Decodes the nonce extension's value: `OCTET STRING (SIZE(1..32))`.
fn parse_nonce(value: &[u8], what: &'static str, max: usize) -> Result<Vec<u8>, PkiError> {
    let t = derw::split_tlv(value)
        .filter(|t| t.tag == derw::OCTET_STRING && t.rest.is_empty())
        .ok_or_else(|| PkiError::malformed(what, "nonce is not an OCTET STRING"))?;
    if t.content.is_empty() || t.content.len() > max {
        return Err(PkiError::malformed(
            what,
            format!("nonce must have 1 to {max} octets"),
        ));
    }
    Ok(t.content.to_vec())
}

/// Decodes a DER `OCSPRequest` (RFC 6960 §4.1.1). Refused ([`PkiError`]):
/// more than [`OCSP_MAX_REQUEST_LEN`] octets, anything but strict DER, trailing
/// data, a version other than v1, no `Request` or more than
/// [`OCSP_MAX_CERT_IDS`], a `CertID` hash other than SHA-1/SHA-256 or with
/// hashes of the wrong length, a zero or negative serial, a nonce that is not
/// an OCTET STRING of 1–32 octets, duplicate extensions, and any critical
/// extension other than the nonce. `requestorName` and a request signature
/// are skipped (honnin answers unsigned requests). Never panics.
pub fn parse_ocsp_request(der: &[u8]) -> Result<OcspRequest, PkiError> {
    if der.len() > OCSP_MAX_REQUEST_LEN {
        return Err(PkiError::malformed(REQ, "larger than 64 KiB"));
    }
    let outer =
        derw::split_tlv(der).ok_or_else(|| PkiError::malformed(REQ, "bad outer encoding"))?;
    if outer.tag != derw::SEQUENCE || !outer.rest.is_empty() {
        return Err(PkiError::malformed(REQ, "not a single SEQUENCE"));
    }
    let mut r = Reader::new(outer.content, REQ);
    let tbs = r.expect(derw::SEQUENCE, "tbsRequest")?;
    // optionalSignature [0] EXPLICIT Signature: not verified.
    if let Some(sig) = r.optional(ctx_cons(0), "optionalSignature")? {
        Reader::new(sig.content, REQ).expect(derw::SEQUENCE, "Signature")?;
    }
    r.finish("OCSPRequest")?;

    let mut t = Reader::new(tbs.content, REQ);
    if let Some(v) = t.optional(ctx_cons(0), "version")? {
        let i = derw::split_tlv(v.content)
            .filter(|i| i.tag == derw::INTEGER && i.rest.is_empty())
            .ok_or_else(|| PkiError::malformed(REQ, "bad version"))?;
        if i.content != [0] {
            return Err(PkiError::malformed(REQ, "version is not v1"));
        }
    }
    t.optional(ctx_cons(1), "requestorName")?;
    let list = t.expect(derw::SEQUENCE, "requestList")?;
    let mut nonce = None;
    if let Some(exts) = t.optional(ctx_cons(2), "requestExtensions")? {
        let inner = Reader::new(exts.content, REQ).expect(derw::SEQUENCE, "Extensions")?;
        if !inner.rest.is_empty() {
            return Err(PkiError::malformed(REQ, "data after requestExtensions"));
        }
        for e in parse_extensions(inner.content, REQ)? {
            if e.oid == oids::OCSP_NONCE.as_bytes() {
                nonce = Some(parse_nonce(e.value, REQ, 32)?);
            } else if e.critical {
                return Err(PkiError::malformed(
                    REQ,
                    "unsupported critical request extension",
                ));
            }
        }
    }
    t.finish("tbsRequest")?;

    let mut cert_ids = Vec::new();
    let mut lr = Reader::new(list.content, REQ);
    while !lr.is_empty() {
        if cert_ids.len() == OCSP_MAX_CERT_IDS {
            return Err(PkiError::malformed(
                REQ,
                format!("more than {OCSP_MAX_CERT_IDS} requests"),
            ));
        }
        let req = lr.expect(derw::SEQUENCE, "Request")?;
        let mut rr = Reader::new(req.content, REQ);
        let cert_id = CertId::parse(&rr.expect(derw::SEQUENCE, "reqCert")?, REQ)?;
        if let Some(exts) = rr.optional(ctx_cons(0), "singleRequestExtensions")? {
            let inner = Reader::new(exts.content, REQ).expect(derw::SEQUENCE, "Extensions")?;
            if !inner.rest.is_empty() {
                return Err(PkiError::malformed(
                    REQ,
                    "data after singleRequestExtensions",
                ));
            }
            if parse_extensions(inner.content, REQ)?
                .iter()
                .any(|e| e.critical)
            {
                return Err(PkiError::malformed(
                    REQ,
                    "unsupported critical single request extension",
                ));
            }
        }
        rr.finish("Request")?;
        cert_ids.push(cert_id);
    }
    if cert_ids.is_empty() {
        return Err(PkiError::malformed(REQ, "no certificate is asked about"));
    }
    Ok(OcspRequest { cert_ids, nonce })
}

fn nonce_extensions(tag: u8, nonce: &[u8]) -> Vec<u8> {
    let ext = issue::extension(&oids::OCSP_NONCE, false, &derw::octets(nonce));
    derw::tlv(tag, &derw::seq(&[ext]))
}

/// An unsigned v1 `OCSPRequest` for `cert_ids` with an optional nonce (for
/// tests and clients). Infallible: whatever is given is encoded, so an empty
/// list gives a request [`parse_ocsp_request`] refuses.
pub fn build_ocsp_request(cert_ids: &[CertId], nonce: Option<&[u8]>) -> Vec<u8> {
    let list: Vec<Vec<u8>> = cert_ids.iter().map(|c| derw::seq(&[c.to_der()])).collect();
    let mut tbs = vec![derw::seq(&list)];
    if let Some(n) = nonce {
        tbs.push(nonce_extensions(ctx_cons(2), n));
    }
    derw::seq(&[derw::seq(&tbs)])
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// The status of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertStatus {
    /// Not revoked (RFC 6960: "not revoked", not "valid").
    Good,
    /// Revoked at `at`; `Unspecified` is written without a reason, as on CRLs.
    Revoked {
        /// revocationTime.
        at: Timestamp,
        /// revocationReason.
        reason: Option<RevocationReason>,
    },
    /// Not a certificate this responder knows.
    Unknown,
}

/// One answer of a response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SingleResponse {
    /// The `CertID` as the client asked.
    pub cert_id: CertId,
    /// Its status.
    pub status: CertStatus,
    /// When the status was known to be correct.
    pub this_update: Timestamp,
    /// When newer information will be available.
    pub next_update: Option<Timestamp>,
}

/// An unsuccessful `OCSPResponseStatus` (the response carries no body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcspResponseStatus {
    /// 1: the request does not decode or breaks the rules.
    MalformedRequest,
    /// 2: the responder failed.
    InternalError,
    /// 3: try again later.
    TryLater,
    /// 5: the request must be signed.
    SigRequired,
    /// 6: the responder does not answer for this CA.
    Unauthorized,
}

impl OcspResponseStatus {
    /// The ENUMERATED value.
    pub fn code(self) -> u8 {
        match self {
            OcspResponseStatus::MalformedRequest => 1,
            OcspResponseStatus::InternalError => 2,
            OcspResponseStatus::TryLater => 3,
            OcspResponseStatus::SigRequired => 5,
            OcspResponseStatus::Unauthorized => 6,
        }
    }

    /// From the ENUMERATED value (0, successful, and 4 are not errors).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => OcspResponseStatus::MalformedRequest,
            2 => OcspResponseStatus::InternalError,
            3 => OcspResponseStatus::TryLater,
            5 => OcspResponseStatus::SigRequired,
            6 => OcspResponseStatus::Unauthorized,
            _ => return None,
        })
    }

    /// The RFC 6960 name, e.g. `malformedRequest`.
    pub fn as_str(self) -> &'static str {
        match self {
            OcspResponseStatus::MalformedRequest => "malformedRequest",
            OcspResponseStatus::InternalError => "internalError",
            OcspResponseStatus::TryLater => "tryLater",
            OcspResponseStatus::SigRequired => "sigRequired",
            OcspResponseStatus::Unauthorized => "unauthorized",
        }
    }
}

impl fmt::Display for OcspResponseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `OCSPResponse { responseStatus }` without responseBytes (5 octets).
pub fn ocsp_error_response(status: OcspResponseStatus) -> Vec<u8> {
    vec![derw::SEQUENCE, 3, 0x0a, 1, status.code()]
}

fn has_ocsp_signing(cert: &Certificate) -> Result<bool, PkiError> {
    use x509_cert::ext::pkix::ExtendedKeyUsage;
    let eku = cert
        .inner()
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .map_err(|e| PkiError::malformed("certificate", format!("extendedKeyUsage: {e}")))?;
    Ok(eku.is_some_and(|(_, e)| e.0.contains(&oids::KP_OCSP_SIGNING)))
}

fn single_response(s: &SingleResponse) -> Result<Vec<u8>, PkiError> {
    if let Some(n) = s.next_update
        && n <= s.this_update
    {
        return Err(PkiError::Validity {
            reason: format!("nextUpdate {n} is not after thisUpdate {}", s.this_update),
        });
    }
    let status = match s.status {
        CertStatus::Good => derw::tlv(ctx_prim(0), &[]),
        CertStatus::Revoked { at, reason } => {
            if at > s.this_update {
                return Err(PkiError::Validity {
                    reason: format!("revoked at {at}, after thisUpdate {}", s.this_update),
                });
            }
            let mut info = derw::generalized_time(at)?;
            if let Some(code) = encoded_reason(reason) {
                info.extend_from_slice(&derw::tlv(ctx_cons(0), &[0x0a, 1, code]));
            }
            derw::tlv(ctx_cons(1), &info)
        }
        CertStatus::Unknown => derw::tlv(ctx_prim(2), &[]),
    };
    let mut parts = vec![
        s.cert_id.to_der(),
        status,
        derw::generalized_time(s.this_update)?,
    ];
    if let Some(n) = s.next_update {
        parts.push(derw::tlv(ctx_cons(0), &derw::generalized_time(n)?));
    }
    Ok(derw::seq(&parts))
}

/// A successful `OCSPResponse` holding a `BasicOCSPResponse` signed by the
/// delegated responder (see docs/pki-profiles.md): responderID byKey (SHA-1 of the
/// responder's key), producedAt, one SingleResponse per entry of
/// `responses` (the CertIDs echoed), the nonce echoed in the response
/// extensions when given, and the responder certificate in `certs`.
///
/// Refused: no responses; a responder certificate without
/// `id-kp-OCSPSigning` that is not a CA; a signer without the certificate's
/// key; `produced_at` outside the responder certificate's validity; a
/// nextUpdate not after thisUpdate; a revocation after thisUpdate; a nonce
/// not of 1–32 octets.
pub fn build_ocsp_response(
    responder_cert_der: &[u8],
    responder_signer: &dyn Signer,
    responses: &[SingleResponse],
    produced_at: Timestamp,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, PkiError> {
    let cert = Certificate::from_der(responder_cert_der)?;
    if !cert.is_ca() && !has_ocsp_signing(&cert)? {
        return Err(PkiError::profile(
            "the responder certificate lacks extendedKeyUsage id-kp-OCSPSigning",
        ));
    }
    let spki = cert.subject_public_key_der();
    if !issue::same_key(
        &keys::parse_spki(&responder_signer.public_key_der())?,
        &keys::parse_spki(&spki)?,
    ) {
        return Err(PkiError::profile(
            "the signer's key is not the key of the responder certificate",
        ));
    }
    if !cert.is_valid_at(produced_at) {
        return Err(PkiError::Validity {
            reason: format!(
                "producedAt {produced_at} is outside the responder certificate's validity"
            ),
        });
    }
    if responses.is_empty() {
        return Err(PkiError::profile(
            "an OCSP response needs at least one answer",
        ));
    }
    if let Some(n) = nonce
        && (n.is_empty() || n.len() > 32)
    {
        return Err(PkiError::profile("a nonce has 1 to 32 octets"));
    }

    let key_hash = keys::key_identifier(&spki)?;
    let singles = responses
        .iter()
        .map(single_response)
        .collect::<Result<Vec<_>, _>>()?;
    let mut data = vec![
        derw::tlv(ctx_cons(2), &derw::octets(&key_hash)),
        derw::generalized_time(produced_at)?,
        derw::seq(&singles),
    ];
    if let Some(n) = nonce {
        data.push(nonce_extensions(ctx_cons(1), n));
    }
    let tbs = derw::seq(&data);

    let alg = responder_signer.algorithm();
    let sig = responder_signer.sign(&tbs)?;
    keys::verify_signature(&spki, alg, &tbs, &sig).map_err(|e| {
        PkiError::Crypto(format!(
            "the signer produced a signature that does not verify: {e}"
        ))
    })?;
    let basic = derw::seq(&[
        tbs,
        alg.algorithm_identifier_der(),
        derw::bit_string(&sig),
        derw::tlv(ctx_cons(0), &derw::seq(&[responder_cert_der.to_vec()])),
    ]);
    let der = derw::seq(&[
        vec![0x0a, 1, 0],
        derw::tlv(
            ctx_cons(0),
            &derw::seq(&[derw::oid(&oids::OCSP_BASIC), derw::octets(&basic)]),
        ),
    ]);
    OcspResponse::from_der(&der)
        .map_err(|e| PkiError::Crypto(format!("built OCSP response does not decode: {e}")))?;
    Ok(der)
}

/// How a response names its signer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponderId {
    /// `byName`: the responder's subject name, DER.
    ByName(Vec<u8>),
    /// `byKey`: SHA-1 of the responder's public key (BIT STRING value).
    ByKey(Vec<u8>),
}

/// A decoded `OCSPResponse`. Error responses decode too: see
/// [`OcspResponse::error_status`].
#[derive(Clone)]
pub struct OcspResponse {
    der: Vec<u8>,
    error: Option<OcspResponseStatus>,
    tbs: Vec<u8>,
    signature_algorithm: Option<SignatureAlgorithm>,
    signature: Vec<u8>,
    responder_id: Option<ResponderId>,
    produced_at: Option<Timestamp>,
    responses: Vec<SingleResponse>,
    nonce: Option<Vec<u8>>,
    certs: Vec<Vec<u8>>,
}

impl fmt::Debug for OcspResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcspResponse")
            .field("error", &self.error)
            .field("produced_at", &self.produced_at)
            .field("responses", &self.responses)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl PartialEq for OcspResponse {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for OcspResponse {}

fn rbad(reason: impl fmt::Display) -> PkiError {
    PkiError::malformed(RESP, reason)
}

fn gtime(t: &derw::Tlv<'_>, field: &str) -> Result<Timestamp, PkiError> {
    if t.tag != derw::GENERALIZED_TIME {
        return Err(rbad(format!("{field} is not a GeneralizedTime")));
    }
    derw::parse_time(t.tag, t.content).map_err(|e| rbad(format!("{field}: {e}")))
}

fn explicit_one<'a>(t: &derw::Tlv<'a>, field: &str) -> Result<derw::Tlv<'a>, PkiError> {
    derw::split_tlv(t.content)
        .filter(|i| i.rest.is_empty())
        .ok_or_else(|| rbad(format!("{field}: bad explicit tagging")))
}

fn parse_single(content: &[u8]) -> Result<SingleResponse, PkiError> {
    let mut r = Reader::new(content, RESP);
    let cert_id = CertId::parse(&r.expect(derw::SEQUENCE, "certID")?, RESP)?;
    let st = r.any("certStatus")?;
    let this_update = gtime(&r.any("thisUpdate")?, "thisUpdate")?;
    let status = match st.tag {
        0x80 if st.content.is_empty() => CertStatus::Good,
        0x82 if st.content.is_empty() => CertStatus::Unknown,
        0xa1 => {
            let mut ir = Reader::new(st.content, RESP);
            let at = gtime(&ir.any("revocationTime")?, "revocationTime")?;
            let reason = match ir.optional(ctx_cons(0), "revocationReason")? {
                Some(x) => Some(parse_reason(x.content, RESP)?),
                None => None,
            };
            ir.finish("RevokedInfo")?;
            CertStatus::Revoked { at, reason }
        }
        _ => return Err(rbad("bad certStatus")),
    };
    let next_update = match r.optional(ctx_cons(0), "nextUpdate")? {
        Some(n) => Some(gtime(&explicit_one(&n, "nextUpdate")?, "nextUpdate")?),
        None => None,
    };
    if let Some(exts) = r.optional(ctx_cons(1), "singleExtensions")? {
        let inner = explicit_one(&exts, "singleExtensions")?;
        if inner.tag != derw::SEQUENCE {
            return Err(rbad("singleExtensions is not a SEQUENCE"));
        }
        if parse_extensions(inner.content, RESP)?
            .iter()
            .any(|e| e.critical)
        {
            return Err(rbad("unsupported critical single extension"));
        }
    }
    r.finish("SingleResponse")?;
    Ok(SingleResponse {
        cert_id,
        status,
        this_update,
        next_update,
    })
}

impl OcspResponse {
    /// Decodes a DER `OCSPResponse`: an error status (no body), or a
    /// successful `BasicOCSPResponse`. Strict DER; refuses other response
    /// types, unknown status codes, a body on an error, CertIDs with other
    /// hashes, reasons outside JPKI, unknown critical extensions. Does not
    /// verify the signature (see [`verify_signed_by`](Self::verify_signed_by)).
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let outer = derw::split_tlv(der).ok_or_else(|| rbad("bad outer encoding"))?;
        if outer.tag != derw::SEQUENCE || !outer.rest.is_empty() {
            return Err(rbad("not a single SEQUENCE"));
        }
        let mut r = Reader::new(outer.content, RESP);
        let status = r.expect(0x0a, "responseStatus")?;
        let code = match status.content {
            [c] => *c,
            _ => return Err(rbad("bad responseStatus")),
        };
        let mut out = OcspResponse {
            der: der.to_vec(),
            error: None,
            tbs: Vec::new(),
            signature_algorithm: None,
            signature: Vec::new(),
            responder_id: None,
            produced_at: None,
            responses: Vec::new(),
            nonce: None,
            certs: Vec::new(),
        };
        if code != 0 {
            out.error = Some(
                OcspResponseStatus::from_code(code)
                    .ok_or_else(|| rbad(format!("unknown responseStatus {code}")))?,
            );
            r.finish("an error status")?;
            return Ok(out);
        }
        let rb = r.expect(ctx_cons(0), "responseBytes")?;
        r.finish("responseBytes")?;
        let rb = explicit_one(&rb, "responseBytes")?;
        if rb.tag != derw::SEQUENCE {
            return Err(rbad("responseBytes is not a SEQUENCE"));
        }
        let mut br = Reader::new(rb.content, RESP);
        let ty = br.expect(derw::OID, "responseType")?;
        if ty.content != oids::OCSP_BASIC.as_bytes() {
            return Err(PkiError::UnsupportedAlgorithm {
                oid: "OCSP response type other than id-pkix-ocsp-basic".to_owned(),
            });
        }
        let basic = br.expect(derw::OCTET_STRING, "response")?;
        br.finish("response")?;
        let basic = derw::split_tlv(basic.content)
            .filter(|b| b.tag == derw::SEQUENCE && b.rest.is_empty())
            .ok_or_else(|| rbad("BasicOCSPResponse is not one SEQUENCE"))?;

        let mut b = Reader::new(basic.content, RESP);
        let tbs = b.expect(derw::SEQUENCE, "tbsResponseData")?;
        let alg = b.expect(derw::SEQUENCE, "signatureAlgorithm")?;
        let sig = b.expect(derw::BIT_STRING, "signature")?;
        if let Some(certs) = b.optional(ctx_cons(0), "certs")? {
            let seq = explicit_one(&certs, "certs")?;
            if seq.tag != derw::SEQUENCE {
                return Err(rbad("certs is not a SEQUENCE"));
            }
            let mut cr = Reader::new(seq.content, RESP);
            while !cr.is_empty() {
                out.certs
                    .push(cr.expect(derw::SEQUENCE, "certificate")?.whole.to_vec());
            }
        }
        b.finish("BasicOCSPResponse")?;
        out.signature = match sig.content {
            [0, rest @ ..] => rest.to_vec(),
            _ => return Err(rbad("signature BIT STRING has unused bits")),
        };
        out.signature_algorithm = {
            use der::Decode;
            spki::AlgorithmIdentifierRef::from_der(alg.whole)
                .ok()
                .and_then(|a| SignatureAlgorithm::from_identifier(&a).ok())
        };
        out.tbs = tbs.whole.to_vec();

        let mut t = Reader::new(tbs.content, RESP);
        if let Some(v) = t.optional(ctx_cons(0), "version")? {
            let i = explicit_one(&v, "version")?;
            if i.tag != derw::INTEGER || i.content != [0] {
                return Err(rbad("version is not v1"));
            }
        }
        let rid = t.any("responderID")?;
        let rid_inner = explicit_one(&rid, "responderID")?;
        out.responder_id = Some(match (rid.tag, rid_inner.tag) {
            (0xa1, derw::SEQUENCE) => ResponderId::ByName(rid_inner.whole.to_vec()),
            (0xa2, derw::OCTET_STRING) => ResponderId::ByKey(rid_inner.content.to_vec()),
            _ => return Err(rbad("bad responderID")),
        });
        out.produced_at = Some(gtime(&t.any("producedAt")?, "producedAt")?);
        let list = t.expect(derw::SEQUENCE, "responses")?;
        if let Some(exts) = t.optional(ctx_cons(1), "responseExtensions")? {
            let inner = explicit_one(&exts, "responseExtensions")?;
            if inner.tag != derw::SEQUENCE {
                return Err(rbad("responseExtensions is not a SEQUENCE"));
            }
            for e in parse_extensions(inner.content, RESP)? {
                if e.oid == oids::OCSP_NONCE.as_bytes() {
                    out.nonce = Some(parse_nonce(e.value, RESP, OCSP_MAX_REQUEST_LEN)?);
                } else if e.critical {
                    return Err(rbad("unsupported critical response extension"));
                }
            }
        }
        t.finish("tbsResponseData")?;
        let mut lr = Reader::new(list.content, RESP);
        while !lr.is_empty() {
            out.responses.push(parse_single(
                lr.expect(derw::SEQUENCE, "SingleResponse")?.content,
            )?);
        }
        Ok(out)
    }

    /// The DER as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether responseStatus is `successful`.
    pub fn is_successful(&self) -> bool {
        self.error.is_none()
    }

    /// The error status of an unsuccessful response; `None` when successful.
    pub fn error_status(&self) -> Option<OcspResponseStatus> {
        self.error
    }

    /// The answers (empty for an error response).
    pub fn responses(&self) -> &[SingleResponse] {
        &self.responses
    }

    /// The answer about `id`, if any.
    pub fn find(&self, id: &CertId) -> Option<&SingleResponse> {
        self.responses.iter().find(|r| r.cert_id == *id)
    }

    /// producedAt (`None` for an error response).
    pub fn produced_at(&self) -> Option<Timestamp> {
        self.produced_at
    }

    /// The echoed nonce.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    /// The responderID (`None` for an error response).
    pub fn responder_id(&self) -> Option<&ResponderId> {
        self.responder_id.as_ref()
    }

    /// The certificates in `certs`, DER, as included.
    pub fn certs(&self) -> &[Vec<u8>] {
        &self.certs
    }

    /// The certificate among `certs` that the responderID names.
    pub fn responder_certificate(&self) -> Option<Certificate> {
        let rid = self.responder_id.as_ref()?;
        self.certs
            .iter()
            .filter_map(|d| Certificate::from_der(d).ok())
            .find(|c| match rid {
                ResponderId::ByName(n) => c.subject_name_der() == *n,
                ResponderId::ByKey(k) => {
                    keys::key_identifier(&c.subject_public_key_der()).is_ok_and(|h| h == *k)
                }
            })
    }

    /// The signature algorithm, if it is one this crate verifies.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.signature_algorithm
    }

    /// Verifies the signature over tbsResponseData with a SubjectPublicKeyInfo
    /// (DER). Checks nothing else: the caller checks that the key belongs to
    /// the CA or to a responder certificate the CA issued for OCSP signing.
    pub fn verify_signed_by(&self, spki_der: &[u8]) -> Result<(), PkiError> {
        if self.error.is_some() {
            return Err(rbad("an error response carries no signature"));
        }
        let alg = self
            .signature_algorithm
            .ok_or_else(|| PkiError::UnsupportedAlgorithm {
                oid: "OCSP response signature algorithm".to_owned(),
            })?;
        let pk = keys::parse_spki(spki_der)?;
        keys::verify_parsed(&pk, alg, &self.tbs, &self.signature, RESP)
    }
}

// ---------------------------------------------------------------------------
// Responder certificate
// ---------------------------------------------------------------------------

/// Issues a delegated OCSP responder certificate (see docs/pki-profiles.md): subject =
/// the CA's name + `CN=OCSP Responder`; keyUsage digitalSignature (critical);
/// extendedKeyUsage id-kp-OCSPSigning; id-pkix-ocsp-nocheck; AKI = the CA's
/// SKI; SKI. Validity within the CA's and at most
/// [`OCSP_RESPONDER_MAX_VALIDITY_DAYS`] days. The CA must be a JPKI CA and
/// `ca_signer` must hold its key.
pub fn build_ocsp_responder_certificate(
    ca_cert_der: &[u8],
    ca_signer: &dyn Signer,
    responder_spki_der: &[u8],
    serial: [u8; 20],
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<Vec<u8>, PkiError> {
    let probe = Certificate::from_der(ca_cert_der)?;
    let crate::Profile::Ca(kind) = probe.profile() else {
        return Err(PkiError::WrongProfile {
            expected: "CA",
            found: probe.profile().to_string(),
        });
    };
    let ca = issue::issuing_ca(ca_cert_der, ca_signer, kind)?;
    issue::check_validity(not_before, not_after)?;
    if not_before < ca.not_before() || not_after > ca.not_after() {
        return Err(PkiError::Validity {
            reason: "the responder's validity must lie within the CA's".to_owned(),
        });
    }
    let max = jiff::SignedDuration::from_hours(24 * OCSP_RESPONDER_MAX_VALIDITY_DAYS);
    if not_after.duration_since(not_before) > max {
        return Err(PkiError::Validity {
            reason: format!(
                "an OCSP responder certificate is valid for at most \
                 {OCSP_RESPONDER_MAX_VALIDITY_DAYS} days"
            ),
        });
    }
    keys::check_key_strength(&keys::parse_spki(responder_spki_der)?)?;

    // Subject: the CA's RDNs, then CN=OCSP Responder.
    let ca_name = ca.subject_name_der();
    let rdns = derw::split_tlv(&ca_name)
        .ok_or_else(|| PkiError::malformed("certificate", "CA name"))?
        .content
        .to_vec();
    let cn = derw::cons(
        derw::SET,
        &[derw::seq(&[
            derw::oid(&oids::AT_COMMON_NAME),
            derw::utf8(OCSP_RESPONDER_CN),
        ])],
    );
    let subject = derw::seq(&[rdns, cn]);

    let aki = match ca.subject_key_id() {
        Some(k) => k,
        None => keys::key_identifier(&ca.subject_public_key_der())?,
    };
    let extensions = vec![
        issue::key_usage(issue::KU_AUTHENTICATION),
        issue::extension(
            &oids::EXT_EXTENDED_KEY_USAGE,
            false,
            &derw::seq(&[derw::oid(&oids::KP_OCSP_SIGNING)]),
        ),
        issue::extension(&oids::OCSP_NOCHECK, false, &derw::null()),
        issue::authority_key_id(&aki),
        issue::subject_key_id(&keys::key_identifier(responder_spki_der)?),
    ];
    let tbs = Tbs {
        serial: &serial,
        alg: ca_signer.algorithm(),
        issuer: &ca_name,
        not_before,
        not_after,
        subject: &subject,
        spki: responder_spki_der,
        extensions,
    };
    issue::sign_and_wrap(&tbs, ca_signer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn id() -> CertId {
        CertId {
            hash_algorithm: HashAlgorithm::Sha1,
            issuer_name_hash: vec![1; 20],
            issuer_key_hash: vec![2; 20],
            serial: vec![0x80, 1, 2],
        }
    }

    #[test]
    fn request_round_trip() {
        let der = build_ocsp_request(&[id()], Some(&[7; 16]));
        let r = parse_ocsp_request(&der).unwrap();
        assert_eq!(r.cert_ids, vec![id()]);
        assert_eq!(r.nonce.as_deref(), Some(&[7u8; 16][..]));
        for cut in 0..der.len() {
            assert!(parse_ocsp_request(&der[..cut]).is_err(), "{cut}");
        }
        assert!(parse_ocsp_request(&build_ocsp_request(&[], None)).is_err());
        assert!(parse_ocsp_request(&build_ocsp_request(&[id()], Some(&[]))).is_err());
        assert!(parse_ocsp_request(&build_ocsp_request(&[id()], Some(&[0; 33]))).is_err());
        let many: Vec<CertId> = (0..101).map(|_| id()).collect();
        assert!(parse_ocsp_request(&build_ocsp_request(&many, None)).is_err());
        assert!(parse_ocsp_request(&build_ocsp_request(&many[..100], None)).is_ok());
    }

    #[test]
    fn error_responses() {
        for s in [
            OcspResponseStatus::MalformedRequest,
            OcspResponseStatus::InternalError,
            OcspResponseStatus::TryLater,
            OcspResponseStatus::SigRequired,
            OcspResponseStatus::Unauthorized,
        ] {
            let r = OcspResponse::from_der(&ocsp_error_response(s)).unwrap();
            assert_eq!(r.error_status(), Some(s));
            assert!(!r.is_successful());
            assert!(r.verify_signed_by(&[]).is_err());
        }
        assert!(OcspResponse::from_der(&[0x30, 3, 0x0a, 1, 4]).is_err());
    }
}

// ---------------------------------------------------------------------------
// Relying party: checking a response
// ---------------------------------------------------------------------------

/// What a checked OCSP response says about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspAnswer {
    /// The status.
    pub status: CertStatus,
    /// producedAt.
    pub produced_at: Timestamp,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Option<Timestamp>,
}

/// Clock skew tolerated on thisUpdate (responder ahead of us).
const OCSP_SKEW_SECONDS: i64 = 300;

/// Checks an OCSP response about `cert_der` (issued by `issuer_der`) as a
/// relying party would (RFC 6960 §3.2): a successful basic response; signed
/// by the issuer itself or by a responder certificate the issuer issued with
/// id-kp-OCSPSigning and valid at `now`; an answer whose CertID is this
/// certificate's; thisUpdate not in the future (5 minutes of skew) and
/// nextUpdate, when present, not in the past; the nonce echoed when one was
/// sent and the response carries one.
pub fn check_ocsp_response(
    response_der: &[u8],
    cert_der: &[u8],
    issuer_der: &[u8],
    now: Timestamp,
    nonce: Option<&[u8]>,
) -> Result<OcspAnswer, PkiError> {
    let resp = OcspResponse::from_der(response_der)?;
    if let Some(e) = resp.error_status() {
        return Err(PkiError::profile(format!(
            "the OCSP responder answered {e}"
        )));
    }
    let issuer = Certificate::from_der(issuer_der)?;
    let issuer_spki = issuer.subject_public_key_der();
    let signer_spki = match resp.responder_certificate() {
        Some(r) if r.der() != issuer_der => {
            r.verify_signed_by(&issuer_spki).map_err(|_| {
                PkiError::profile("the OCSP responder certificate was not issued by the CA")
            })?;
            if r.issuer_name_der() != issuer.subject_name_der() {
                return Err(PkiError::profile(
                    "the OCSP responder certificate names another issuer",
                ));
            }
            if !has_ocsp_signing(&r)? {
                return Err(PkiError::profile(
                    "the OCSP responder certificate lacks id-kp-OCSPSigning",
                ));
            }
            if !r.is_valid_at(now) {
                return Err(PkiError::profile(
                    "the OCSP responder certificate is not valid now",
                ));
            }
            r.subject_public_key_der()
        }
        _ => issuer_spki,
    };
    resp.verify_signed_by(&signer_spki)
        .map_err(|_| PkiError::BadSignature {
            what: "OCSP response",
        })?;
    if let (Some(sent), Some(got)) = (nonce, resp.nonce())
        && sent != got
    {
        return Err(PkiError::profile("the OCSP response echoes another nonce"));
    }
    let single = [HashAlgorithm::Sha1, HashAlgorithm::Sha256]
        .into_iter()
        .filter_map(|alg| cert_id_for(cert_der, issuer_der, alg).ok())
        .find_map(|id| resp.find(&id))
        .ok_or_else(|| PkiError::profile("the OCSP response is about other certificates"))?;
    let skew = jiff::SignedDuration::from_secs(OCSP_SKEW_SECONDS);
    if single.this_update > now + skew {
        return Err(PkiError::Validity {
            reason: format!("OCSP thisUpdate {} is in the future", single.this_update),
        });
    }
    if let Some(n) = single.next_update
        && n < now
    {
        return Err(PkiError::Validity {
            reason: format!("OCSP response is stale (nextUpdate {n})"),
        });
    }
    Ok(OcspAnswer {
        status: single.status,
        produced_at: resp.produced_at().unwrap_or(single.this_update),
        this_update: single.this_update,
        next_update: single.next_update,
    })
}
