//! CMS `SignedData` (RFC 5652): what a resident's card signs, and what an
//! agency checks.
//!
//! Building is split in two so that any signer fits, a card included (which
//! signs a DigestInfo inside its chip with a PIN): [`CmsSignRequest::new`]
//! prepares the signed attributes, the caller signs
//! [`CmsSignRequest::to_be_signed`], and [`CmsSignRequest::finish`] checks the
//! signature against the certificate and wraps everything up.
//!
//! Signed attributes: content type, message digest, signing time (a claim of
//! the signer, not a proof) and ESS signingCertificateV2 (binds the signer's
//! certificate). Reading accepts BER (indefinite lengths, segmented content) as
//! streaming encoders make it; signed attributes must be DER, as RFC 5652 says.

use const_oid::ObjectIdentifier as Oid;
use jiff::Timestamp;

use crate::ber;
use crate::derw::{self, Reader, SEQUENCE, SET};
use crate::keys::{PublicKey, parse_spki};
use crate::{Certificate, PkiError, oids};

/// The largest signed message read (64 MiB): content plus certificates.
pub const CMS_MAX_LEN: usize = 64 * 1024 * 1024;
/// The most certificates a message may carry.
pub const CMS_MAX_CERTIFICATES: usize = 32;

/// Why a signed message was refused. Each maps to one ETSI EN 319 102-1
/// sub-indication in the verifier's report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// Not a well-formed CMS SignedData (or a required part is missing).
    #[error("malformed signed message: {0}")]
    Format(String),
    /// An algorithm honnin does not verify (or refuses as too weak).
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The content's digest differs from the signed messageDigest attribute.
    #[error("the content does not match the signed digest (changed after signing?)")]
    HashFailure,
    /// The signature over the signed attributes does not verify with the
    /// signer's key.
    #[error("the signature does not verify with the signer's public key")]
    SignatureFailure,
    /// The signer's certificate is neither in the message nor given.
    #[error("the signer's certificate is not in the message")]
    NoSignerCertificate,
    /// The signed signingCertificateV2 attribute names another certificate.
    #[error("the signed attributes name a different signer certificate")]
    SignerCertificateMismatch,
    /// Detached signature and no content given (or content given twice, differently).
    #[error("{0}")]
    Content(String),
}

fn format(msg: impl Into<String>) -> CmsError {
    CmsError::Format(msg.into())
}

impl From<PkiError> for CmsError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::UnsupportedAlgorithm { oid } => CmsError::UnsupportedAlgorithm(oid),
            PkiError::WeakKey { bits } => {
                CmsError::UnsupportedAlgorithm(format!("RSA key of {bits} bits"))
            }
            PkiError::UnsupportedKeySize { bits } => {
                CmsError::UnsupportedAlgorithm(format!("RSA key of {bits} bits"))
            }
            other => CmsError::Format(other.to_string()),
        }
    }
}

/// A message digest algorithm allowed in signed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm's object identifier.
    pub fn oid(self) -> Oid {
        match self {
            DigestAlgorithm::Sha256 => oids::SHA256,
            DigestAlgorithm::Sha384 => oids::SHA384,
            DigestAlgorithm::Sha512 => oids::SHA512,
        }
    }

    /// `sha256`, `sha384`, `sha512`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    fn aws(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            DigestAlgorithm::Sha256 => &aws_lc_rs::digest::SHA256,
            DigestAlgorithm::Sha384 => &aws_lc_rs::digest::SHA384,
            DigestAlgorithm::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.aws(), data)
            .as_ref()
            .to_vec()
    }

    fn from_oid(o: &Oid) -> Result<Self, CmsError> {
        [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ]
        .into_iter()
        .find(|d| d.oid() == *o)
        .ok_or_else(|| {
            if *o == oids::SHA1 {
                CmsError::UnsupportedAlgorithm("SHA-1 digests are refused (too weak)".into())
            } else {
                CmsError::UnsupportedAlgorithm(format!("digest algorithm {o}"))
            }
        })
    }
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

/// A signed message being made: the signed attributes are fixed, the signature
/// is still to come.
#[derive(Debug, Clone)]
pub struct CmsSignRequest {
    content: Option<Vec<u8>>,
    signer_cert: Vec<u8>,
    signer_spki: Vec<u8>,
    issuer_and_serial: Vec<u8>,
    certificates: Vec<Vec<u8>>,
    signed_attrs: Vec<u8>,
    signature_algorithm: crate::SignatureAlgorithm,
}

impl CmsSignRequest {
    /// Prepares a SHA-256 signed message over `content` by the holder of
    /// `signer_cert_der`, carrying that certificate and `extra_certs` (its CA
    /// certificate). `detached` leaves the content out of the message.
    pub fn new(
        content: &[u8],
        detached: bool,
        signer_cert_der: &[u8],
        extra_certs: &[Vec<u8>],
        signing_time: Timestamp,
    ) -> Result<Self, PkiError> {
        let cert = Certificate::from_der(signer_cert_der)?;
        let tbs = cert.inner().tbs_certificate();
        let signer_spki = cert.subject_public_key_der();
        let signature_algorithm = match parse_spki(&signer_spki)? {
            PublicKey::Rsa { .. } => crate::SignatureAlgorithm::RsaPkcs1Sha256,
            PublicKey::P256 { .. } => crate::SignatureAlgorithm::EcdsaP256Sha256,
        };
        let issuer_and_serial = derw::seq(&[
            cert.issuer_name_der(),
            derw::tlv(derw::INTEGER, tbs.serial_number().as_bytes()),
        ]);
        let digest = DigestAlgorithm::Sha256.digest(content);
        let cert_hash = DigestAlgorithm::Sha256.digest(signer_cert_der);
        let mut attrs = vec![
            attribute(&oids::ATTR_CONTENT_TYPE, derw::oid(&oids::CMS_DATA)),
            attribute(&oids::ATTR_SIGNING_TIME, derw::time(signing_time)?),
            attribute(&oids::ATTR_MESSAGE_DIGEST, derw::octets(&digest)),
            // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash } }
            // (hashAlgorithm sha256 is the DEFAULT, so absent).
            attribute(
                &oids::ATTR_SIGNING_CERTIFICATE_V2,
                derw::seq(&[derw::seq(&[derw::seq(&[derw::octets(&cert_hash)])])]),
            ),
        ];
        sort_set(&mut attrs);
        let signed_attrs = derw::cons(SET, &attrs);
        let mut certificates = vec![signer_cert_der.to_vec()];
        for c in extra_certs {
            Certificate::from_der(c)?;
            if !certificates.contains(c) {
                certificates.push(c.clone());
            }
        }
        Ok(CmsSignRequest {
            content: (!detached).then(|| content.to_vec()),
            signer_cert: signer_cert_der.to_vec(),
            signer_spki,
            issuer_and_serial,
            certificates,
            signed_attrs,
            signature_algorithm,
        })
    }

    /// What the signer signs (with SHA-256): the DER of the signed attributes.
    /// A JPKI card is given `digest_info_sha256(this)`.
    pub fn to_be_signed(&self) -> &[u8] {
        &self.signed_attrs
    }

    /// The signer certificate this request was made for.
    pub fn signer_certificate(&self) -> &[u8] {
        &self.signer_cert
    }

    /// The DER `ContentInfo`. The signature is checked against the signer's
    /// certificate first, so a wrong card or key never yields a message.
    pub fn finish(self, signature: &[u8]) -> Result<Vec<u8>, PkiError> {
        crate::verify_signature(
            &self.signer_spki,
            self.signature_algorithm,
            &self.signed_attrs,
            signature,
        )
        .map_err(|_| PkiError::BadSignature {
            what: "signed attributes (is it the key of this certificate?)",
        })?;
        let sha256 = derw::seq(&[derw::oid(&oids::SHA256)]);
        let mut encap = vec![derw::oid(&oids::CMS_DATA)];
        if let Some(c) = &self.content {
            encap.push(derw::tlv(derw::ctx_cons(0), &derw::octets(c)));
        }
        // [0] IMPLICIT SignedAttributes: the SET's content under tag A0.
        let attrs_content = derw::split_tlv(&self.signed_attrs)
            .map(|t| t.content.to_vec())
            .unwrap_or_default();
        let signer_info = derw::seq(&[
            derw::small_uint(1),
            self.issuer_and_serial.clone(),
            sha256.clone(),
            derw::tlv(derw::ctx_cons(0), &attrs_content),
            self.signature_algorithm.algorithm_identifier_der(),
            derw::octets(signature),
        ]);
        let mut certs = self.certificates.clone();
        sort_set(&mut certs);
        let signed_data = derw::seq(&[
            derw::small_uint(1),
            derw::cons(SET, &[sha256]),
            derw::seq(&encap),
            derw::cons(derw::ctx_cons(0), &certs),
            derw::cons(SET, &[signer_info]),
        ]);
        Ok(derw::seq(&[
            derw::oid(&oids::CMS_SIGNED_DATA),
            derw::tlv(derw::ctx_cons(0), &signed_data),
        ]))
    }
}

fn attribute(oid: &Oid, value: Vec<u8>) -> Vec<u8> {
    derw::seq(&[derw::oid(oid), derw::cons(SET, &[value])])
}

/// DER order of a SET OF: by encoding, the shorter padded with zeros.
fn sort_set(items: &mut [Vec<u8>]) {
    items.sort_by(|a, b| {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| {
                a.get(i)
                    .copied()
                    .unwrap_or(0)
                    .cmp(&b.get(i).copied().unwrap_or(0))
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// How a SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerIdentifier {
    /// issuer Name (DER) and serialNumber (INTEGER content octets).
    IssuerAndSerial {
        /// The issuer's Name, DER.
        issuer: Vec<u8>,
        /// The serial number's content octets.
        serial: Vec<u8>,
    },
    /// subjectKeyIdentifier.
    SubjectKeyId(Vec<u8>),
}

/// The signed attributes honnin reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAttributes {
    /// Their DER with the SET tag: what was signed.
    pub der: Vec<u8>,
    /// contentType.
    pub content_type: Oid,
    /// messageDigest.
    pub message_digest: Vec<u8>,
    /// signingTime: the signer's claim (not a proof of existence).
    pub signing_time: Option<Timestamp>,
    /// signingCertificateV2 (or v1): the hash of the signer's certificate.
    pub signing_certificate: Option<(SigningCertHash, Vec<u8>)>,
}

/// The hash in an ESS signing-certificate attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningCertHash {
    /// signingCertificate (v1).
    Sha1,
    /// signingCertificateV2.
    Digest(DigestAlgorithm),
}

/// One signer of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmsSignerInfo {
    /// Which certificate.
    pub sid: SignerIdentifier,
    /// The digest algorithm of the content.
    pub digest_algorithm: DigestAlgorithm,
    /// The signed attributes (required by honnin).
    pub signed_attributes: SignedAttributes,
    /// signatureAlgorithm OID.
    pub signature_algorithm: Oid,
    /// The signatureAlgorithm AlgorithmIdentifier's content (OID and parameters).
    pub signature_algorithm_content: Vec<u8>,
    /// The signature octets.
    pub signature: Vec<u8>,
}

/// A decoded SignedData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    /// eContentType.
    pub content_type: Oid,
    /// The content when attached.
    pub content: Option<Vec<u8>>,
    /// The certificates carried (DER), in message order.
    pub certificates: Vec<Vec<u8>>,
    /// The CRLs carried (DER).
    pub crls: Vec<Vec<u8>>,
    /// Exactly one signer.
    pub signer: CmsSignerInfo,
    /// True when the input was BER and was re-encoded to read it.
    pub was_ber: bool,
}

/// What [`SignedMessage::verify`] proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The signer's certificate (DER).
    pub signer_certificate: Vec<u8>,
    /// Its SHA-256 (a cache key for callers).
    pub signer_certificate_sha256: Vec<u8>,
    /// The signing-time attribute (a claim).
    pub signing_time: Option<Timestamp>,
    /// The digest algorithm used.
    pub digest_algorithm: DigestAlgorithm,
    /// The content's digest.
    pub content_digest: Vec<u8>,
}

/// Reads a CMS `ContentInfo` holding `SignedData` with exactly one signer.
/// PEM (`-----BEGIN CMS-----` or `PKCS7`) is accepted too. Never panics.
pub fn parse_signed_message(input: &[u8]) -> Result<SignedMessage, CmsError> {
    if input.len() > CMS_MAX_LEN {
        return Err(format(format!(
            "{} octets is more than the {} allowed",
            input.len(),
            CMS_MAX_LEN
        )));
    }
    let pem_der;
    let input = if input.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(input).map_err(|_| format("PEM is not text"))?;
        pem_der = crate::pem::decode(text, "CMS", "CMS")
            .or_else(|_| crate::pem::decode(text, "PKCS7", "CMS"))
            .map_err(|e| format(e.to_string()))?;
        &pem_der[..]
    } else {
        input
    };
    let der = ber::ber_to_der(input).map_err(|e| format(format!("encoding: {e}")))?;
    let was_ber = der != input;
    let mut msg = parse_der(&der)?;
    msg.was_ber = was_ber;
    Ok(msg)
}

fn pki(e: PkiError) -> CmsError {
    match e {
        PkiError::Malformed { reason, .. } => CmsError::Format(reason),
        other => CmsError::Format(other.to_string()),
    }
}

fn read_oid(content: &[u8]) -> Result<Oid, CmsError> {
    Oid::from_bytes(content).map_err(|e| format(format!("object identifier: {e}")))
}

/// An AlgorithmIdentifier's OID (parameters: NULL or absent, ignored).
fn algorithm(tlv_content: &[u8], field: &str) -> Result<Oid, CmsError> {
    let mut r = Reader::new(tlv_content, "CMS");
    let oid = r.expect(derw::OID, field).map_err(pki)?;
    let oid = read_oid(oid.content)?;
    if let Some(p) = r.optional(derw::NULL, field).map_err(pki)?
        && !p.content.is_empty()
    {
        return Err(format(format!("{field}: bad NULL parameters")));
    }
    if !r.is_empty() && oid != oids::RSASSA_PSS {
        return Err(format(format!("{field}: unexpected parameters")));
    }
    Ok(oid)
}

fn parse_der(der: &[u8]) -> Result<SignedMessage, CmsError> {
    let outer = derw::split_tlv(der).ok_or_else(|| format("not a DER ContentInfo"))?;
    if outer.tag != SEQUENCE || !outer.rest.is_empty() {
        return Err(format("not a single ContentInfo SEQUENCE"));
    }
    let mut ci = Reader::new(outer.content, "CMS");
    let ct = read_oid(ci.expect(derw::OID, "contentType").map_err(pki)?.content)?;
    if ct != oids::CMS_SIGNED_DATA {
        return Err(format(format!("content type {ct} is not signedData")));
    }
    let explicit = ci.expect(derw::ctx_cons(0), "content").map_err(pki)?;
    ci.finish("content").map_err(pki)?;
    let sd_tlv = derw::split_tlv(explicit.content).ok_or_else(|| format("SignedData"))?;
    if sd_tlv.tag != SEQUENCE || !sd_tlv.rest.is_empty() {
        return Err(format("SignedData is not a SEQUENCE"));
    }
    let mut sd = Reader::new(sd_tlv.content, "CMS");
    let version = sd.expect(derw::INTEGER, "version").map_err(pki)?;
    if !matches!(version.content, [1] | [3] | [4] | [5]) {
        return Err(format("SignedData version is not 1, 3, 4 or 5"));
    }
    let digest_algs = sd.expect(SET, "digestAlgorithms").map_err(pki)?;
    let mut dr = Reader::new(digest_algs.content, "CMS");
    while !dr.is_empty() {
        let a = dr.expect(SEQUENCE, "digestAlgorithm").map_err(pki)?;
        algorithm(a.content, "digestAlgorithm")?;
    }
    let encap = sd.expect(SEQUENCE, "encapContentInfo").map_err(pki)?;
    let mut er = Reader::new(encap.content, "CMS");
    let content_type = read_oid(er.expect(derw::OID, "eContentType").map_err(pki)?.content)?;
    let content = match er.optional(derw::ctx_cons(0), "eContent").map_err(pki)? {
        Some(e) => {
            let mut r = Reader::new(e.content, "CMS");
            let o = r.expect(derw::OCTET_STRING, "eContent").map_err(pki)?;
            r.finish("eContent").map_err(pki)?;
            Some(o.content.to_vec())
        }
        None => None,
    };
    er.finish("encapContentInfo").map_err(pki)?;

    let mut certificates = Vec::new();
    if let Some(c) = sd
        .optional(derw::ctx_cons(0), "certificates")
        .map_err(pki)?
    {
        let mut r = Reader::new(c.content, "CMS");
        while !r.is_empty() {
            let t = r.any("certificate").map_err(pki)?;
            // Other CertificateChoices (attribute certificates...) are skipped.
            if t.tag == SEQUENCE {
                if certificates.len() == CMS_MAX_CERTIFICATES {
                    return Err(format(format!(
                        "more than {CMS_MAX_CERTIFICATES} certificates"
                    )));
                }
                certificates.push(t.whole.to_vec());
            }
        }
    }
    let mut crls = Vec::new();
    if let Some(c) = sd.optional(derw::ctx_cons(1), "crls").map_err(pki)? {
        let mut r = Reader::new(c.content, "CMS");
        while !r.is_empty() {
            let t = r.any("crl").map_err(pki)?;
            if t.tag == SEQUENCE {
                crls.push(t.whole.to_vec());
            }
        }
    }
    let signer_infos = sd.expect(SET, "signerInfos").map_err(pki)?;
    sd.finish("signerInfos").map_err(pki)?;
    let mut sr = Reader::new(signer_infos.content, "CMS");
    let first = sr.expect(SEQUENCE, "signerInfo").map_err(pki)?;
    if !sr.is_empty() {
        return Err(format(
            "more than one signer: honnin verifies single-signer applications",
        ));
    }
    let signer = signer_info(first.content)?;
    if signer.signed_attributes.content_type != content_type {
        return Err(format(
            "the signed contentType attribute differs from eContentType",
        ));
    }
    Ok(SignedMessage {
        content_type,
        content,
        certificates,
        crls,
        signer,
        was_ber: false,
    })
}

fn signer_info(content: &[u8]) -> Result<CmsSignerInfo, CmsError> {
    let mut r = Reader::new(content, "CMS");
    let version = r.expect(derw::INTEGER, "signerInfo version").map_err(pki)?;
    let sid = match r.peek_tag() {
        Some(SEQUENCE) => {
            let t = r.any("sid").map_err(pki)?;
            let mut ir = Reader::new(t.content, "CMS");
            let issuer = ir.expect(SEQUENCE, "sid issuer").map_err(pki)?;
            let serial = ir.expect(derw::INTEGER, "sid serial").map_err(pki)?;
            ir.finish("sid").map_err(pki)?;
            if version.content != [1] {
                return Err(format(
                    "signerInfo version must be 1 with issuerAndSerialNumber",
                ));
            }
            SignerIdentifier::IssuerAndSerial {
                issuer: issuer.whole.to_vec(),
                serial: serial.content.to_vec(),
            }
        }
        Some(t) if t == derw::ctx_prim(0) => {
            let t = r.any("sid").map_err(pki)?;
            if version.content != [3] {
                return Err(format(
                    "signerInfo version must be 3 with subjectKeyIdentifier",
                ));
            }
            SignerIdentifier::SubjectKeyId(t.content.to_vec())
        }
        _ => return Err(format("signerInfo sid: missing or wrong tag")),
    };
    let da = r.expect(SEQUENCE, "digestAlgorithm").map_err(pki)?;
    let digest_algorithm = DigestAlgorithm::from_oid(&algorithm(da.content, "digestAlgorithm")?)?;
    let attrs = r
        .optional(derw::ctx_cons(0), "signedAttrs")
        .map_err(pki)?
        .ok_or_else(|| {
            format("no signed attributes: honnin requires content type, message digest and signing time to be signed")
        })?;
    let signed_attributes = signed_attributes(attrs.content)?;
    let sa = r.expect(SEQUENCE, "signatureAlgorithm").map_err(pki)?;
    let signature_algorithm = algorithm(sa.content, "signatureAlgorithm")?;
    let signature_algorithm_content = sa.content.to_vec();
    let signature = r.expect(derw::OCTET_STRING, "signature").map_err(pki)?;
    // unsignedAttrs [1] (e.g. a timestamp token) may follow.
    r.optional(derw::ctx_cons(1), "unsignedAttrs")
        .map_err(pki)?;
    r.finish("signerInfo").map_err(pki)?;
    Ok(CmsSignerInfo {
        sid,
        digest_algorithm,
        signed_attributes,
        signature_algorithm,
        signature_algorithm_content,
        signature: signature.content.to_vec(),
    })
}

fn signed_attributes(content: &[u8]) -> Result<SignedAttributes, CmsError> {
    let der = derw::tlv(SET, content);
    let mut content_type = None;
    let mut message_digest = None;
    let mut signing_time = None;
    let mut signing_certificate = None;
    let mut seen: Vec<Oid> = Vec::new();
    let mut r = Reader::new(content, "CMS");
    while !r.is_empty() {
        let a = r.expect(SEQUENCE, "attribute").map_err(pki)?;
        let mut ar = Reader::new(a.content, "CMS");
        let oid = read_oid(ar.expect(derw::OID, "attribute type").map_err(pki)?.content)?;
        let values = ar.expect(SET, "attribute values").map_err(pki)?;
        ar.finish("attribute").map_err(pki)?;
        if seen.contains(&oid) {
            return Err(format(format!("signed attribute {oid} appears twice")));
        }
        seen.push(oid);
        let mut vr = Reader::new(values.content, "CMS");
        let v = vr.any("attribute value").map_err(pki)?;
        let single = vr.is_empty();
        let need_single = |name: &str| {
            if single {
                Ok(())
            } else {
                Err(format(format!("{name} must have exactly one value")))
            }
        };
        if oid == oids::ATTR_CONTENT_TYPE {
            need_single("contentType")?;
            if v.tag != derw::OID {
                return Err(format("contentType is not an OID"));
            }
            content_type = Some(read_oid(v.content)?);
        } else if oid == oids::ATTR_MESSAGE_DIGEST {
            need_single("messageDigest")?;
            if v.tag != derw::OCTET_STRING {
                return Err(format("messageDigest is not an OCTET STRING"));
            }
            message_digest = Some(v.content.to_vec());
        } else if oid == oids::ATTR_SIGNING_TIME {
            need_single("signingTime")?;
            signing_time = Some(
                derw::parse_time(v.tag, v.content)
                    .map_err(|e| format(format!("signingTime: {e}")))?,
            );
        } else if oid == oids::ATTR_SIGNING_CERTIFICATE_V2 || oid == oids::ATTR_SIGNING_CERTIFICATE
        {
            signing_certificate = Some(ess_first_cert_hash(
                v.content,
                oid == oids::ATTR_SIGNING_CERTIFICATE_V2,
            )?);
        }
    }
    Ok(SignedAttributes {
        der,
        content_type: content_type.ok_or_else(|| format("no signed contentType attribute"))?,
        message_digest: message_digest
            .ok_or_else(|| format("no signed messageDigest attribute"))?,
        signing_time,
        signing_certificate,
    })
}

/// The first ESSCertID(v2)'s hash: `SigningCertificate(V2) ::= SEQUENCE {
/// certs SEQUENCE OF ESSCertID(v2), policies OPTIONAL }`.
fn ess_first_cert_hash(content: &[u8], v2: bool) -> Result<(SigningCertHash, Vec<u8>), CmsError> {
    let mut r = Reader::new(content, "CMS");
    let certs = r
        .expect(SEQUENCE, "signingCertificate certs")
        .map_err(pki)?;
    let mut cr = Reader::new(certs.content, "CMS");
    let first = cr.expect(SEQUENCE, "ESSCertID").map_err(pki)?;
    let mut fr = Reader::new(first.content, "CMS");
    let alg = if v2 && fr.peek_tag() == Some(SEQUENCE) {
        let a = fr.any("ESSCertIDv2 hashAlgorithm").map_err(pki)?;
        SigningCertHash::Digest(DigestAlgorithm::from_oid(&algorithm(
            a.content,
            "ESSCertIDv2 hashAlgorithm",
        )?)?)
    } else if v2 {
        SigningCertHash::Digest(DigestAlgorithm::Sha256)
    } else {
        SigningCertHash::Sha1
    };
    let hash = fr.expect(derw::OCTET_STRING, "certHash").map_err(pki)?;
    Ok((alg, hash.content.to_vec()))
}

impl SignedMessage {
    /// The signer's certificate among those carried (or `extra`), matched by the
    /// SignerIdentifier.
    pub fn find_signer_certificate<'a>(&'a self, extra: &'a [Vec<u8>]) -> Option<&'a [u8]> {
        self.certificates
            .iter()
            .chain(extra.iter())
            .find(|c| self.matches_sid(c))
            .map(|c| c.as_slice())
    }

    fn matches_sid(&self, der: &[u8]) -> bool {
        match &self.signer.sid {
            // The common case, without decoding the whole certificate.
            SignerIdentifier::IssuerAndSerial { issuer, serial } => {
                tbs_fields(der).is_some_and(|f| f.issuer == &issuer[..] && f.serial == &serial[..])
            }
            SignerIdentifier::SubjectKeyId(k) => Certificate::from_der(der)
                .is_ok_and(|c| c.subject_key_id().as_deref() == Some(&k[..])),
        }
    }

    /// Verifies the signer's signature over `detached` (or the attached content):
    /// the content's digest against messageDigest, the signingCertificate
    /// attribute against the certificate, and the signature over the signed
    /// attributes with the certificate's key. Says nothing about the
    /// certificate's validity (that is path validation).
    pub fn verify(
        &self,
        detached: Option<&[u8]>,
        extra_certs: &[Vec<u8>],
    ) -> Result<VerifiedSignature, CmsError> {
        let content = match (&self.content, detached) {
            (Some(c), None) => c.as_slice(),
            (None, Some(d)) => d,
            (Some(c), Some(d)) if c == d => c.as_slice(),
            (Some(_), Some(_)) => {
                return Err(CmsError::Content(
                    "the content given differs from the content inside the signed message".into(),
                ));
            }
            (None, None) => {
                return Err(CmsError::Content(
                    "detached signature: the signed content must be given (--content)".into(),
                ));
            }
        };
        let signer_cert = self
            .find_signer_certificate(extra_certs)
            .ok_or(CmsError::NoSignerCertificate)?
            .to_vec();
        let si = &self.signer;
        let attrs = &si.signed_attributes;
        let signer_sha256 = DigestAlgorithm::Sha256.digest(&signer_cert);
        if let Some((alg, hash)) = &attrs.signing_certificate {
            let actual = match alg {
                SigningCertHash::Digest(DigestAlgorithm::Sha256) => signer_sha256.clone(),
                SigningCertHash::Digest(d) => d.digest(&signer_cert),
                SigningCertHash::Sha1 => crate::HashAlgorithm::Sha1.digest(&signer_cert),
            };
            if actual != *hash {
                return Err(CmsError::SignerCertificateMismatch);
            }
        }
        let content_digest = si.digest_algorithm.digest(content);
        if content_digest != attrs.message_digest {
            return Err(CmsError::HashFailure);
        }
        let spki = tbs_fields(&signer_cert)
            .ok_or_else(|| format("the signer's certificate is malformed"))?
            .spki;
        crate::path::verify_with_spki(
            &si.signature_algorithm_content,
            si.digest_algorithm,
            spki,
            &attrs.der,
            &si.signature,
        )
        .map_err(|e| match e {
            crate::path::PathErrorKind::BadSignature => CmsError::SignatureFailure,
            crate::path::PathErrorKind::Malformed(m) => CmsError::Format(m),
            other => CmsError::UnsupportedAlgorithm(other.to_string()),
        })?;
        Ok(VerifiedSignature {
            signer_certificate: signer_cert,
            signer_certificate_sha256: signer_sha256,
            signing_time: attrs.signing_time,
            digest_algorithm: si.digest_algorithm,
            content_digest,
        })
    }
}

/// The parts of a certificate that name and key it, read without decoding the
/// rest: tbsCertificate { [0] version, serialNumber, signature, issuer, validity,
/// subject, subjectPublicKeyInfo, … }.
struct TbsFields<'a> {
    serial: &'a [u8],
    issuer: &'a [u8],
    spki: &'a [u8],
}

fn tbs_fields(der: &[u8]) -> Option<TbsFields<'_>> {
    let outer = derw::split_tlv(der).filter(|t| t.tag == SEQUENCE)?;
    let tbs = derw::split_tlv(outer.content).filter(|t| t.tag == SEQUENCE)?;
    let mut r = Reader::new(tbs.content, "certificate");
    r.optional(derw::ctx_cons(0), "version").ok()?;
    let serial = r.expect(derw::INTEGER, "serialNumber").ok()?.content;
    r.expect(SEQUENCE, "signature").ok()?;
    let issuer = r.expect(SEQUENCE, "issuer").ok()?.whole;
    r.expect(SEQUENCE, "validity").ok()?;
    r.expect(SEQUENCE, "subject").ok()?;
    let spki = r.expect(SEQUENCE, "subjectPublicKeyInfo").ok()?.whole;
    Some(TbsFields {
        serial,
        issuer,
        spki,
    })
}
