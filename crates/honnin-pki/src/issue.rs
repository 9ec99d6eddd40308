//! Building certificates in the JPKI profiles (see docs/pki-profiles.md).

use const_oid::ObjectIdentifier as Oid;
use honnin_core::{BasicFacts, Wareki, today_jst};
use jiff::Timestamp;

use crate::PkiError;
use crate::cert::{Certificate, Profile};
use crate::derw::{self, ctx_cons, ctx_prim};
use crate::keys::{self, PublicKey, Signer};
use crate::oids;

/// Which of the two JPKI certification authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaKind {
    /// 署名用認証局: issues signature certificates (署名用電子証明書).
    Signature,
    /// 利用者証明用認証局: issues user-authentication certificates (利用者証明用電子証明書).
    Authentication,
}

impl CaKind {
    /// The second-level OU of the CA's name: `JPKI for digital signature` or
    /// `JPKI for user authentication`.
    pub fn organizational_unit(self) -> &'static str {
        match self {
            CaKind::Signature => "JPKI for digital signature",
            CaKind::Authentication => "JPKI for user authentication",
        }
    }

    /// The OU of the CA's Japanese name (in its subjectAltName):
    /// `公的個人認証サービス署名用` or `公的個人認証サービス利用者証明用`.
    pub fn japanese_organizational_unit(self) -> &'static str {
        match self {
            CaKind::Signature => "公的個人認証サービス署名用",
            CaKind::Authentication => "公的個人認証サービス利用者証明用",
        }
    }

    /// `signature` or `authentication`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaKind::Signature => "signature",
            CaKind::Authentication => "authentication",
        }
    }
}

/// The operator's name in the CA names (the J-LIS profile's, kept verbatim).
pub const CA_OPERATOR_OU: &str = "Japan Agency for Local Authority Information Systems";
/// The organisation of the CA names.
pub const CA_ORGANIZATION: &str = "JPKI";
/// The organisation of the CA's Japanese name.
pub const JAPANESE_ORGANIZATION: &str = "公的個人認証サービス";
/// The operator in the CA's Japanese name.
pub const JAPANESE_OPERATOR_OU: &str = "地方公共団体情報システム機構";

/// Parameters of a self-signed CA certificate.
#[derive(Debug, Clone)]
pub struct CaParams<'a> {
    /// Which CA.
    pub kind: CaKind,
    /// Serial number (big-endian magnitude; see [`crate::random_serial`]).
    pub serial: [u8; 20],
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity (the J-LIS CAs end at 23:59:59 JST, see
    /// [`honnin_core::end_of_day_jst`]).
    pub not_after: Timestamp,
    /// Where the authority revocation list (ARL) of this CA is published.
    pub crl_url: &'a str,
}

/// Parameters of an end-entity certificate.
#[derive(Debug, Clone)]
pub struct EndEntityParams<'a> {
    /// Serial number (big-endian magnitude; see [`crate::random_serial`]).
    pub serial: [u8; 20],
    /// Start of validity (the issuance time).
    pub not_before: Timestamp,
    /// End of validity (see [`crate::validity_end`]).
    pub not_after: Timestamp,
    /// The opaque CN: no personal data.
    pub subject_id: &'a str,
    /// `L=` of the signature certificate: the municipality in romaji. Ignored for
    /// the user-authentication certificate.
    pub municipality_romaji: &'a str,
    /// The card key's SubjectPublicKeyInfo, DER (from its PKCS#10).
    pub subject_public_key_der: &'a [u8],
    /// Where the CRL covering this certificate is published.
    pub crl_url: &'a str,
    /// The OCSP responder for this certificate.
    pub ocsp_url: &'a str,
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

pub(crate) enum Str<'a> {
    Printable(&'a str),
    Utf8(&'a str),
}

pub(crate) fn name(attrs: &[(Oid, Str<'_>)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(oid, v)| {
            let value = match v {
                Str::Printable(s) => derw::tlv(derw::PRINTABLE_STRING, s.as_bytes()),
                Str::Utf8(s) => derw::utf8(s),
            };
            derw::cons(derw::SET, &[derw::seq(&[derw::oid(oid), value])])
        })
        .collect();
    derw::seq(&rdns)
}

/// `C=JP, O=JPKI, OU=JPKI for …, OU=Japan Agency for Local Authority Information Systems`.
pub(crate) fn ca_name(kind: CaKind) -> Vec<u8> {
    name(&[
        (oids::AT_COUNTRY, Str::Printable("JP")),
        (oids::AT_ORGANIZATION, Str::Utf8(CA_ORGANIZATION)),
        (oids::AT_ORG_UNIT, Str::Utf8(kind.organizational_unit())),
        (oids::AT_ORG_UNIT, Str::Utf8(CA_OPERATOR_OU)),
    ])
}

/// `C=JP, O=公的個人認証サービス, OU=公的個人認証サービス署名用|利用者証明用, OU=地方公共団体情報システム機構`.
fn japanese_ca_name(kind: CaKind) -> Vec<u8> {
    name(&[
        (oids::AT_COUNTRY, Str::Printable("JP")),
        (oids::AT_ORGANIZATION, Str::Utf8(JAPANESE_ORGANIZATION)),
        (
            oids::AT_ORG_UNIT,
            Str::Utf8(kind.japanese_organizational_unit()),
        ),
        (oids::AT_ORG_UNIT, Str::Utf8(JAPANESE_OPERATOR_OU)),
    ])
}

fn check_label(value: &str, field: &str, max_chars: usize) -> Result<(), PkiError> {
    let n = value.chars().count();
    if n == 0 || n > max_chars {
        return Err(PkiError::profile(format!(
            "{field} must have 1 to {max_chars} characters, has {n}"
        )));
    }
    if value.chars().any(|c| c.is_control()) || value.trim() != value {
        return Err(PkiError::profile(format!(
            "{field} has control characters or surrounding whitespace"
        )));
    }
    Ok(())
}

pub(crate) fn check_url(url: &str, field: &str) -> Result<(), PkiError> {
    let ok_scheme = ["http://", "https://", "ldap://"].iter().any(|s| {
        url.len() > s.len()
            && url
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
    });
    if !ok_scheme || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PkiError::profile(format!(
            "{field} must be an http, https or ldap URL of printable ASCII characters"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Extensions
// ---------------------------------------------------------------------------

pub(crate) fn extension(oid: &Oid, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![derw::oid(oid)];
    if critical {
        parts.push(derw::boolean_true());
    }
    parts.push(derw::octets(value));
    derw::seq(&parts)
}

/// keyCertSign + cRLSign: `03 02 01 06`.
const KU_CA: [u8; 2] = [0x01, 0x06];
/// digitalSignature + nonRepudiation: `03 02 06 C0`.
const KU_SIGNATURE: [u8; 2] = [0x06, 0xc0];
/// digitalSignature: `03 02 07 80`.
pub(crate) const KU_AUTHENTICATION: [u8; 2] = [0x07, 0x80];

pub(crate) fn key_usage(bits: [u8; 2]) -> Vec<u8> {
    extension(
        &oids::EXT_KEY_USAGE,
        true,
        &derw::tlv(derw::BIT_STRING, &bits),
    )
}

fn basic_constraints_ca() -> Vec<u8> {
    extension(
        &oids::EXT_BASIC_CONSTRAINTS,
        true,
        &derw::seq(&[derw::boolean_true()]),
    )
}

fn dir_name(name_der: &[u8]) -> Vec<u8> {
    derw::tlv(ctx_cons(4), name_der)
}

pub(crate) fn uri(url: &str) -> Vec<u8> {
    derw::tlv(ctx_prim(6), url.as_bytes())
}

pub(crate) fn subject_key_id(ski: &[u8]) -> Vec<u8> {
    extension(&oids::EXT_SUBJECT_KEY_ID, false, &derw::octets(ski))
}

pub(crate) fn authority_key_id(key_id: &[u8]) -> Vec<u8> {
    extension(
        &oids::EXT_AUTHORITY_KEY_ID,
        false,
        &derw::seq(&[derw::tlv(ctx_prim(0), key_id)]),
    )
}

/// One distribution point whose fullName lists the HTTP URL and the directory
/// name (the latter as in the J-LIS certificates).
fn crl_distribution_points(url: &str, directory_name: &[u8]) -> Vec<u8> {
    let full_name = derw::cons(ctx_cons(0), &[uri(url), dir_name(directory_name)]);
    let dp_name = derw::tlv(ctx_cons(0), &full_name);
    extension(
        &oids::EXT_CRL_DISTRIBUTION_POINTS,
        false,
        &derw::seq(&[derw::seq(&[dp_name])]),
    )
}

fn authority_info_access_ocsp(url: &str) -> Vec<u8> {
    extension(
        &oids::EXT_AUTHORITY_INFO_ACCESS,
        false,
        &derw::seq(&[derw::seq(&[derw::oid(&oids::AD_OCSP), uri(url)])]),
    )
}

fn certificate_policies(policy: &Oid) -> Vec<u8> {
    extension(
        &oids::EXT_CERTIFICATE_POLICIES,
        false,
        &derw::seq(&[derw::seq(&[derw::oid(policy)])]),
    )
}

fn other_name(type_id: &Oid, value: &str) -> Vec<u8> {
    derw::cons(
        ctx_cons(0),
        &[
            derw::oid(type_id),
            derw::tlv(ctx_cons(0), &derw::utf8(value)),
        ],
    )
}

// ---------------------------------------------------------------------------
// Assembly
// ---------------------------------------------------------------------------

pub(crate) struct Tbs<'a> {
    pub serial: &'a [u8; 20],
    pub alg: keys::SignatureAlgorithm,
    pub issuer: &'a [u8],
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub subject: &'a [u8],
    pub spki: &'a [u8],
    pub extensions: Vec<Vec<u8>>,
}

pub(crate) fn check_validity(not_before: Timestamp, not_after: Timestamp) -> Result<(), PkiError> {
    if not_after <= not_before {
        return Err(PkiError::Validity {
            reason: format!("notAfter {not_after} is not after notBefore {not_before}"),
        });
    }
    Ok(())
}

fn encode_tbs(t: &Tbs<'_>) -> Result<Vec<u8>, PkiError> {
    check_validity(t.not_before, t.not_after)?;
    let serial = derw::positive_integer(t.serial)?;
    if serial.len() > 22 {
        return Err(PkiError::profile(
            "serial number must be at most 20 octets: clear the top bit of the first octet",
        ));
    }
    Ok(derw::seq(&[
        derw::tlv(ctx_cons(0), &derw::small_uint(2)),
        serial,
        t.alg.algorithm_identifier_der(),
        t.issuer.to_vec(),
        derw::seq(&[derw::time(t.not_before)?, derw::time(t.not_after)?]),
        t.subject.to_vec(),
        t.spki.to_vec(),
        derw::tlv(ctx_cons(3), &derw::seq(&t.extensions)),
    ]))
}

/// Signs the TBS, checks the signature with the signer's own public key (a card
/// or HSM that signs with another key is caught here) and decodes the result.
pub(crate) fn sign_and_wrap(tbs: &Tbs<'_>, signer: &dyn Signer) -> Result<Vec<u8>, PkiError> {
    let tbs_der = encode_tbs(tbs)?;
    let sig = signer.sign(&tbs_der)?;
    keys::verify_signature(&signer.public_key_der(), tbs.alg, &tbs_der, &sig).map_err(|e| {
        PkiError::Crypto(format!(
            "the signer produced a signature that does not verify: {e}"
        ))
    })?;
    let der = derw::seq(&[
        tbs_der,
        tbs.alg.algorithm_identifier_der(),
        derw::bit_string(&sig),
    ]);
    Certificate::from_der(&der)
        .map_err(|e| PkiError::Crypto(format!("built certificate does not decode: {e}")))?;
    Ok(der)
}

pub(crate) fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    match (a, b) {
        (
            PublicKey::Rsa {
                rsa_public_key: x, ..
            },
            PublicKey::Rsa {
                rsa_public_key: y, ..
            },
        ) => x == y,
        (PublicKey::P256 { point: x }, PublicKey::P256 { point: y }) => x == y,
        _ => false,
    }
}

/// Parses the issuing CA's certificate and checks that `signer` holds its key.
pub(crate) fn issuing_ca(
    ca_cert_der: &[u8],
    signer: &dyn Signer,
    kind: CaKind,
) -> Result<Certificate, PkiError> {
    let ca = Certificate::from_der(ca_cert_der)?;
    if ca.profile() != Profile::Ca(kind) {
        return Err(PkiError::WrongProfile {
            expected: match kind {
                CaKind::Signature => "signature CA",
                CaKind::Authentication => "authentication CA",
            },
            found: ca.profile().to_string(),
        });
    }
    let signer_key = keys::parse_spki(&signer.public_key_der())?;
    if !same_key(
        &signer_key,
        &keys::parse_spki(&ca.subject_public_key_der())?,
    ) {
        return Err(PkiError::profile(
            "the signer's key is not the key of the CA certificate",
        ));
    }
    Ok(ca)
}

/// Builds a self-signed CA certificate in the J-LIS profile (see docs/pki-profiles.md):
/// subject = issuer `C=JP, O=JPKI, OU=JPKI for …, OU=Japan Agency for Local
/// Authority Information Systems`; keyUsage keyCertSign+cRLSign (critical);
/// subjectAltName with the Japanese name; basicConstraints CA:TRUE (critical);
/// CRL distribution point with `crl_url` and the CA's own name; SKI; AKI = SKI.
pub fn build_ca_certificate(p: &CaParams<'_>, signer: &dyn Signer) -> Result<Vec<u8>, PkiError> {
    check_url(p.crl_url, "crl_url")?;
    let spki = signer.public_key_der();
    keys::check_key_strength(&keys::parse_spki(&spki)?)?;
    let ski = keys::key_identifier(&spki)?;
    let name = ca_name(p.kind);
    let san = derw::seq(&[dir_name(&japanese_ca_name(p.kind))]);
    let tbs = Tbs {
        serial: &p.serial,
        alg: signer.algorithm(),
        issuer: &name,
        not_before: p.not_before,
        not_after: p.not_after,
        subject: &name,
        spki: &spki,
        extensions: vec![
            key_usage(KU_CA),
            extension(&oids::EXT_SUBJECT_ALT_NAME, false, &san),
            basic_constraints_ca(),
            crl_distribution_points(p.crl_url, &name),
            subject_key_id(&ski),
            authority_key_id(&ski),
        ],
    };
    sign_and_wrap(&tbs, signer)
}

/// Builds a link (key-rollover) certificate: `subject_ca`'s name, key, SKI and
/// subjectAltName, certified by `issuer_ca`'s key, with AKI = the issuer's SKI
/// and the issuer's CRL distribution point. With the new CA as subject and the
/// old as issuer it lets verifiers that trust only the old CA accept
/// certificates issued by the new one (and vice versa). Both must be CA
/// certificates of the same kind; `issuer_signer` must hold `issuer_ca`'s key.
pub fn build_link_certificate(
    subject_ca_der: &[u8],
    issuer_ca_der: &[u8],
    issuer_signer: &dyn Signer,
    serial: [u8; 20],
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<Vec<u8>, PkiError> {
    let subject = Certificate::from_der(subject_ca_der)?;
    let Profile::Ca(kind) = subject.profile() else {
        return Err(PkiError::WrongProfile {
            expected: "CA",
            found: subject.profile().to_string(),
        });
    };
    let issuer = issuing_ca(issuer_ca_der, issuer_signer, kind)?;
    let subject_spki = subject.subject_public_key_der();
    let issuer_spki = issuer.subject_public_key_der();
    if same_key(
        &keys::parse_spki(&subject_spki)?,
        &keys::parse_spki(&issuer_spki)?,
    ) {
        return Err(PkiError::profile(
            "a link certificate needs two different CA keys",
        ));
    }
    let ski = match subject.subject_key_id() {
        Some(k) => k,
        None => keys::key_identifier(&subject_spki)?,
    };
    let aki = match issuer.subject_key_id() {
        Some(k) => k,
        None => keys::key_identifier(&issuer_spki)?,
    };
    let mut extensions = vec![key_usage(KU_CA)];
    if let Some(san) = subject.extension_value(&oids::EXT_SUBJECT_ALT_NAME) {
        extensions.push(extension(&oids::EXT_SUBJECT_ALT_NAME, false, &san));
    }
    extensions.push(basic_constraints_ca());
    if let Some(dp) = issuer.extension_value(&oids::EXT_CRL_DISTRIBUTION_POINTS) {
        extensions.push(extension(&oids::EXT_CRL_DISTRIBUTION_POINTS, false, &dp));
    }
    extensions.push(subject_key_id(&ski));
    extensions.push(authority_key_id(&aki));
    let tbs = Tbs {
        serial: &serial,
        alg: issuer_signer.algorithm(),
        issuer: &issuer.subject_name_der(),
        not_before,
        not_after,
        subject: &subject.subject_name_der(),
        spki: &subject_spki,
        extensions,
    };
    sign_and_wrap(&tbs, issuer_signer)
}

struct EeCommon {
    ca: Certificate,
    spki: Vec<u8>,
}

fn ee_common(
    ca_cert_der: &[u8],
    ca_signer: &dyn Signer,
    p: &EndEntityParams<'_>,
    kind: CaKind,
) -> Result<EeCommon, PkiError> {
    let ca = issuing_ca(ca_cert_der, ca_signer, kind)?;
    check_label(p.subject_id, "subject_id", 64)?;
    check_url(p.crl_url, "crl_url")?;
    check_url(p.ocsp_url, "ocsp_url")?;
    check_validity(p.not_before, p.not_after)?;
    if p.not_before < ca.not_before() || p.not_after > ca.not_after() {
        return Err(PkiError::Validity {
            reason: format!(
                "the certificate's validity {}..{} must lie within the CA's {}..{}",
                p.not_before,
                p.not_after,
                ca.not_before(),
                ca.not_after()
            ),
        });
    }
    let pk = keys::parse_spki(p.subject_public_key_der)?;
    keys::check_key_strength(&pk)?;
    // Re-encode nothing: the SPKI goes in as given, after it parsed cleanly.
    Ok(EeCommon {
        ca,
        spki: p.subject_public_key_der.to_vec(),
    })
}

fn ee_tail(
    ca: &Certificate,
    spki: &[u8],
    p: &EndEntityParams<'_>,
) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut v = Vec::new();
    // issuerAltName: the CA's Japanese name, copied from its subjectAltName.
    if let Some(ian) = ca.extension_value(&oids::EXT_SUBJECT_ALT_NAME) {
        v.push(extension(&oids::EXT_ISSUER_ALT_NAME, false, &ian));
    }
    v.push(crl_distribution_points(p.crl_url, &ca.subject_name_der()));
    v.push(authority_info_access_ocsp(p.ocsp_url));
    let aki = match ca.subject_key_id() {
        Some(k) => k,
        None => keys::key_identifier(&ca.subject_public_key_der())?,
    };
    v.push(authority_key_id(&aki));
    v.push(subject_key_id(&keys::key_identifier(spki)?));
    Ok(v)
}

/// Issues a 署名用電子証明書 (signature certificate) carrying the 4 facts (and
/// 通称) in subjectAltName otherNames; see docs/pki-profiles.md. The facts are checked
/// with [`BasicFacts::validate`] as of the issuance date. Policy checks (age,
/// validity end) belong to the caller: see [`crate::may_hold_signature_certificate`]
/// and [`crate::validity_end`].
pub fn issue_signature_certificate(
    ca_cert_der: &[u8],
    ca_signer: &dyn Signer,
    p: &EndEntityParams<'_>,
    facts: &BasicFacts,
) -> Result<Vec<u8>, PkiError> {
    let EeCommon { ca, spki } = ee_common(ca_cert_der, ca_signer, p, CaKind::Signature)?;
    check_label(p.municipality_romaji, "municipality_romaji", 128)?;
    facts
        .validate(today_jst(p.not_before))
        .map_err(|e| PkiError::profile(format!("basic facts: {e}")))?;
    let birth = Wareki::from_date(facts.birth_date)
        .map_err(|e| PkiError::profile(format!("birth date: {e}")))?
        .jpki_string();
    let sex = facts.sex.code().to_string();
    let mut names = vec![
        other_name(&oids::OTHER_NAME_NAME, facts.name.as_str()),
        other_name(&oids::OTHER_NAME_NAME_FLAGS, facts.name_flags.as_str()),
        other_name(&oids::OTHER_NAME_SEX, &sex),
        other_name(&oids::OTHER_NAME_BIRTH_DATE, &birth),
        other_name(&oids::OTHER_NAME_ADDRESS, facts.address.as_str()),
        other_name(
            &oids::OTHER_NAME_ADDRESS_FLAGS,
            facts.address_flags.as_str(),
        ),
    ];
    if let Some(alias) = &facts.alias {
        names.push(dir_name(&name(&[(
            oids::AT_PSEUDONYM,
            Str::Utf8(alias.as_str()),
        )])));
    }
    let subject = name(&[
        (oids::AT_COUNTRY, Str::Printable("JP")),
        (oids::AT_LOCALITY, Str::Utf8(p.municipality_romaji)),
        (oids::AT_COMMON_NAME, Str::Utf8(p.subject_id)),
    ]);
    let mut extensions = vec![
        key_usage(KU_SIGNATURE),
        certificate_policies(&oids::POLICY_SIGNATURE),
        extension(&oids::EXT_SUBJECT_ALT_NAME, false, &derw::seq(&names)),
    ];
    extensions.extend(ee_tail(&ca, &spki, p)?);
    let tbs = Tbs {
        serial: &p.serial,
        alg: ca_signer.algorithm(),
        issuer: &ca.subject_name_der(),
        not_before: p.not_before,
        not_after: p.not_after,
        subject: &subject,
        spki: &spki,
        extensions,
    };
    sign_and_wrap(&tbs, ca_signer)
}

/// Issues a 利用者証明用電子証明書 (user-authentication certificate): subject
/// `C=JP, CN=<id>`, none of the 4 facts; see docs/pki-profiles.md.
pub fn issue_auth_certificate(
    ca_cert_der: &[u8],
    ca_signer: &dyn Signer,
    p: &EndEntityParams<'_>,
) -> Result<Vec<u8>, PkiError> {
    let EeCommon { ca, spki } = ee_common(ca_cert_der, ca_signer, p, CaKind::Authentication)?;
    let subject = name(&[
        (oids::AT_COUNTRY, Str::Printable("JP")),
        (oids::AT_COMMON_NAME, Str::Utf8(p.subject_id)),
    ]);
    let mut extensions = vec![
        key_usage(KU_AUTHENTICATION),
        certificate_policies(&oids::POLICY_AUTHENTICATION),
    ];
    extensions.extend(ee_tail(&ca, &spki, p)?);
    let tbs = Tbs {
        serial: &p.serial,
        alg: ca_signer.algorithm(),
        issuer: &ca.subject_name_der(),
        not_before: p.not_before,
        not_after: p.not_after,
        subject: &subject,
        spki: &spki,
        extensions,
    };
    sign_and_wrap(&tbs, ca_signer)
}

/// The CA name for `kind`, DER (for CRL issuers and tests).
pub fn ca_name_der(kind: CaKind) -> Vec<u8> {
    ca_name(kind)
}
