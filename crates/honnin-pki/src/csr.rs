//! PKCS#10 certification requests: the card's proof of possession.

use der::referenced::OwnedToRef;
use der::{Decode, Encode};

use crate::PkiError;
use crate::derw;
use crate::keys::{self, PublicKey, SignatureAlgorithm, Signer};
use crate::oids;

const WHAT: &str = "PKCS#10 request";

/// Builds a PKCS#10 request (RFC 2986) for `signer`'s key with subject
/// `CN=<subject_cn>` (UTF8String) and no attributes, signed by `signer`.
pub fn build_csr(subject_cn: &str, signer: &dyn Signer) -> Result<Vec<u8>, PkiError> {
    let n = subject_cn.chars().count();
    if n == 0 || n > 64 || subject_cn.chars().any(char::is_control) {
        return Err(PkiError::profile(
            "the request's CN must have 1 to 64 characters and no control characters",
        ));
    }
    let spki = signer.public_key_der();
    keys::parse_spki(&spki)?;
    let subject = derw::seq(&[derw::cons(
        derw::SET,
        &[derw::seq(&[
            derw::oid(&oids::AT_COMMON_NAME),
            derw::utf8(subject_cn),
        ])],
    )]);
    let info = derw::seq(&[
        derw::small_uint(0),
        subject,
        spki,
        derw::tlv(derw::ctx_cons(0), &[]),
    ]);
    let alg = signer.algorithm();
    let sig = signer.sign(&info)?;
    Ok(derw::seq(&[
        info,
        alg.algorithm_identifier_der(),
        derw::bit_string(&sig),
    ]))
}

/// What a verified PKCS#10 request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// The key to certify, SubjectPublicKeyInfo DER.
    pub subject_public_key_der: Vec<u8>,
    /// The algorithm the request was signed with (and the key's kind).
    pub algorithm: SignatureAlgorithm,
    /// The RSA modulus size; `None` for P-256.
    pub rsa_bits: Option<usize>,
    /// The subject's CN, if any.
    pub subject_cn: Option<String>,
}

/// Parses a DER PKCS#10 request, checks its self-signature (proof of
/// possession) and the key: RSA below 2048 bits is [`PkiError::WeakKey`],
/// curves other than P-256 and other key types are
/// [`PkiError::UnsupportedAlgorithm`], a signature that does not verify is
/// [`PkiError::BadSignature`], anything undecodable is [`PkiError::Malformed`].
/// Never panics on any input.
pub fn parse_and_verify_csr(der: &[u8]) -> Result<CsrInfo, PkiError> {
    let req =
        x509_cert::request::CertReq::from_der(der).map_err(|e| PkiError::malformed(WHAT, e))?;
    let signed = derw::signed_part(der, WHAT)?;
    let spki = req
        .info
        .public_key
        .to_der()
        .map_err(|e| PkiError::malformed(WHAT, e))?;
    let pk = keys::parse_spki(&spki)?;
    keys::check_key_strength(&pk)?;
    let alg = SignatureAlgorithm::from_identifier(&req.algorithm.owned_to_ref())?;
    let sig = req
        .signature
        .as_bytes()
        .ok_or_else(|| PkiError::malformed(WHAT, "signature BIT STRING has unused bits"))?;
    keys::verify_parsed(&pk, alg, &signed, sig, WHAT)?;
    let rsa_bits = match pk {
        PublicKey::Rsa { bits, .. } => Some(bits),
        PublicKey::P256 { .. } => None,
    };
    let subject_cn = req
        .info
        .subject
        .common_name()
        .ok()
        .flatten()
        .map(String::from);
    Ok(CsrInfo {
        subject_public_key_der: spki,
        algorithm: alg,
        rsa_bits,
        subject_cn,
    })
}

/// Decodes a `CERTIFICATE REQUEST` PEM block to DER.
pub fn csr_from_pem(pem: &str) -> Result<Vec<u8>, PkiError> {
    crate::pem::decode(pem, "CERTIFICATE REQUEST", WHAT)
}

/// PEM text of a DER PKCS#10 request.
pub fn csr_to_pem(der: &[u8]) -> String {
    crate::pem::encode("CERTIFICATE REQUEST", der)
}
