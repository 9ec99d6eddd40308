//! The public-key infrastructure of honnin: JPKI (公的個人認証サービス)
//! certificates, keys and requests. Pure: no database, no HTTP, no files and no
//! clock reads — every time is passed in.
//!
//! - Keys and signing: [`Signer`] (anything that signs: a [`SoftwareKey`], a
//!   PKCS#11 key, a card), [`verify_signature`], [`digest_info_sha256`] (what a
//!   JPKI card signs), encrypted PKCS#8 ([`SoftwareKey::to_encrypted_pkcs8_pem`]).
//!   All cryptography is aws-lc-rs; RSA below 2048 bits is refused
//!   ([`PkiError::WeakKey`]), the only curve is P-256.
//! - Building: [`build_ca_certificate`], [`build_link_certificate`],
//!   [`issue_signature_certificate`] (署名用電子証明書, with the 4 facts),
//!   [`issue_auth_certificate`] (利用者証明用電子証明書, without them),
//!   [`build_csr`].
//! - Reading: [`Certificate`] with its [`Profile`], [`SignatureCertificate`]
//!   and its [`SignatureFacts`], [`AuthenticationCertificate`],
//!   [`parse_and_verify_csr`].
//! - Signed messages: CMS SignedData ([`CmsSignRequest`] to make one with any
//!   signer, a card included; [`parse_signed_message`] and
//!   [`SignedMessage::verify`] to check one; BER input is re-encoded).
//! - Rules of time: [`validity_end`], [`may_hold_signature_certificate`].
//! - Revocation: [`build_crl`] / [`Crl`] (v2 CRLs, partitioned CRLs and
//!   ARLs, with [`RevocationReason`]s), OCSP ([`parse_ocsp_request`],
//!   [`build_ocsp_response`], [`OcspResponse`], [`ocsp_error_response`]) and
//!   the delegated responder's certificate
//!   ([`build_ocsp_responder_certificate`]).
//! - Path validation: [`path::validate`] (RFC 5280 §6 with path building,
//!   policies, name constraints and CRL revocation via [`path::CrlSet`]; an
//!   optional CA/Browser Forum profile), judged by x509-limbo (`docs/limbo.md`).
//!
//! The profiles are described field by field in `docs/pki-profiles.md` (repository
//! root). Choices made where the real system is not public:
//!
//! - **CA names** are the J-LIS names verbatim (`C=JP, O=JPKI, OU=JPKI for
//!   digital signature|user authentication, OU=Japan Agency for Local Authority
//!   Information Systems`): honnin implements the operator's system, and
//!   middleware and verifiers match on these names. A honnin CA is told apart
//!   from the real one by its key (SKI), never by its name; test CAs must not be
//!   shown to people as J-LIS.
//! - **CA extensions** copy the J-LIS certificates (same order and string
//!   types) and add an HTTP URL to the CRL distribution point and an
//!   authorityKeyIdentifier equal to the SKI.
//! - **通称 (alias)** is a subjectAltName directoryName holding one X.520
//!   `pseudonym` (2.5.4.65, UTF8String) after the six JPKI otherNames: standard
//!   OIDs only, so every X.509 parser and linter reads it, and J-LIS-aware
//!   verifiers that look only at the otherNames are not disturbed.
//! - **Revocation data**: a full CRL has no issuingDistributionPoint; shards
//!   and the ARL name their URL in one; `unspecified` is written as no reason
//!   code (CRL and OCSP alike). The OCSP responder is delegated, named
//!   `<CA name>, CN=OCSP Responder`, valid at most 100 days, with
//!   `id-pkix-ocsp-nocheck`; responses are signed by it, responderID byKey.
//! - **Feb 29 birthdays**: expiry on 28 Feb in common years, age counted from
//!   1 Mar (see [`validity_end`]).

mod ber;
mod cert;
mod cms;
mod crl;
mod csr;
mod derw;
mod error;
mod issue;
mod keys;
mod ocsp;
pub mod oids;
pub mod path;
pub mod pem;
mod pkcs8enc;
mod validity;

pub use cert::{
    AuthenticationCertificate, Certificate, Profile, SignatureCertificate, SignatureFacts,
};
pub use cms::{
    CMS_MAX_CERTIFICATES, CMS_MAX_LEN, CmsError, CmsSignRequest, CmsSignerInfo, DigestAlgorithm,
    SignedAttributes, SignedMessage, SignerIdentifier, SigningCertHash, VerifiedSignature,
    parse_signed_message,
};
pub use crl::{Crl, CrlParams, RevocationReason, RevokedEntry, build_crl};
pub use csr::{CsrInfo, build_csr, csr_from_pem, csr_to_pem, parse_and_verify_csr};
pub use error::PkiError;
pub use issue::{
    CA_OPERATOR_OU, CA_ORGANIZATION, CaKind, CaParams, EndEntityParams, JAPANESE_OPERATOR_OU,
    JAPANESE_ORGANIZATION, build_ca_certificate, build_link_certificate, ca_name_der,
    issue_auth_certificate, issue_signature_certificate,
};
pub use keys::{
    KeyAlgorithm, SignatureAlgorithm, Signer, SoftwareKey, digest_info_sha256, random_serial,
    rsa_modulus_bits, rsa_spki_der, verify_signature,
};
pub use ocsp::{
    CertId, CertStatus, HashAlgorithm, OCSP_MAX_CERT_IDS, OCSP_MAX_REQUEST_LEN, OCSP_RESPONDER_CN,
    OCSP_RESPONDER_MAX_VALIDITY_DAYS, OcspAnswer, OcspRequest, OcspResponse, OcspResponseStatus,
    ResponderId, SingleResponse, build_ocsp_request, build_ocsp_responder_certificate,
    build_ocsp_response, cert_id_for, check_ocsp_response, ocsp_error_response, parse_ocsp_request,
};
pub use validity::{may_hold_signature_certificate, validity_end};
pub use zeroize::Zeroizing;
