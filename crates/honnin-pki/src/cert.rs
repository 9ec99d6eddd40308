//! Decoding certificates into typed values.

use std::fmt;
use std::ops::Deref;

use const_oid::ObjectIdentifier as Oid;
use der::referenced::OwnedToRef;
use der::{Decode, Encode, Tagged};
use honnin_core::{Era, Sex};
use jiff::Timestamp;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, KeyUsage, SubjectAltName, SubjectKeyIdentifier,
};

use crate::PkiError;
use crate::derw;
use crate::issue::CaKind;
use crate::keys::{self, SignatureAlgorithm};
use crate::oids;

const WHAT: &str = "certificate";

/// Which JPKI profile a certificate follows, as far as its extensions tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// A JPKI CA certificate (basicConstraints CA:TRUE and the CA's OU).
    Ca(CaKind),
    /// A signature certificate (policy `1.2.392.200149.8.5.1.1.20`).
    Signature,
    /// A user-authentication certificate (policy `1.2.392.200149.8.5.1.3.30`).
    Authentication,
    /// Anything else.
    Other,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Profile::Ca(CaKind::Signature) => f.write_str("signature CA"),
            Profile::Ca(CaKind::Authentication) => f.write_str("authentication CA"),
            Profile::Signature => f.write_str("signature"),
            Profile::Authentication => f.write_str("user authentication"),
            Profile::Other => f.write_str("non-JPKI"),
        }
    }
}

/// A decoded X.509 certificate with its DER. The extensions this crate reads
/// (SKI, AKI, basicConstraints, certificatePolicies, keyUsage) are checked when
/// it is decoded, so the accessors cannot fail.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    inner: x509_cert::Certificate,
    signature_algorithm: Option<SignatureAlgorithm>,
    ski: Option<Vec<u8>>,
    aki: Option<Vec<u8>>,
    is_ca: bool,
    policies: Vec<Oid>,
    key_usage: Option<KeyUsage>,
    profile: Profile,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The subject may hold an opaque id only, but the SAN holds personal data:
        // print neither.
        f.debug_struct("Certificate")
            .field("serial", &self.serial_hex())
            .field("profile", &self.profile)
            .field("not_after", &self.not_after())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Certificate {}

fn ext_err(name: &str, e: impl fmt::Display) -> PkiError {
    PkiError::malformed(WHAT, format!("{name} extension: {e}"))
}

impl Certificate {
    /// Decodes DER. Rejects trailing data, duplicate extensions, mismatched
    /// signature algorithms and malformed SKI/AKI/basicConstraints/
    /// certificatePolicies/keyUsage extensions. Never panics.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let inner =
            x509_cert::Certificate::from_der(der).map_err(|e| PkiError::malformed(WHAT, e))?;
        let tbs_der = derw::signed_part(der, WHAT)?;
        let tbs = inner.tbs_certificate();
        if tbs.signature() != inner.signature_algorithm() {
            return Err(PkiError::malformed(
                WHAT,
                "signatureAlgorithm differs from tbsCertificate.signature",
            ));
        }
        let signature_algorithm =
            SignatureAlgorithm::from_identifier(&inner.signature_algorithm().owned_to_ref()).ok();

        let exts = tbs.extensions().map(|e| e.as_slice()).unwrap_or(&[]);
        for (i, e) in exts.iter().enumerate() {
            if exts.iter().skip(i + 1).any(|o| o.extn_id == e.extn_id) {
                return Err(PkiError::malformed(
                    WHAT,
                    format!("extension {} appears twice", e.extn_id),
                ));
            }
        }
        let ski = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|e| ext_err("subjectKeyIdentifier", e))?
            .map(|(_, s)| s.0.as_bytes().to_vec());
        let aki = tbs
            .get_extension::<AuthorityKeyIdentifier>()
            .map_err(|e| ext_err("authorityKeyIdentifier", e))?
            .and_then(|(_, a)| a.key_identifier.map(|k| k.as_bytes().to_vec()));
        let is_ca = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| ext_err("basicConstraints", e))?
            .is_some_and(|(_, b)| b.ca);
        let policies = tbs
            .get_extension::<CertificatePolicies>()
            .map_err(|e| ext_err("certificatePolicies", e))?
            .map(|(_, p)| p.0.into_iter().map(|i| i.policy_identifier).collect())
            .unwrap_or_default();
        let key_usage = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| ext_err("keyUsage", e))?
            .map(|(_, k)| k);

        let mut cert = Certificate {
            der: der.to_vec(),
            tbs_der,
            inner,
            signature_algorithm,
            ski,
            aki,
            is_ca,
            policies,
            key_usage,
            profile: Profile::Other,
        };
        cert.profile = cert.detect_profile();
        Ok(cert)
    }

    /// Decodes the first `CERTIFICATE` PEM block of `pem`.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        Self::from_der(&crate::pem::decode(pem, "CERTIFICATE", WHAT)?)
    }

    /// PEM text (`-----BEGIN CERTIFICATE-----`, LF line endings).
    pub fn to_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.der)
    }

    /// The DER as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The decoded `x509-cert` value, for anything not exposed here.
    pub fn inner(&self) -> &x509_cert::Certificate {
        &self.inner
    }

    /// The serial number in upper-case hex, without the DER sign octet
    /// (as `openssl x509 -serial` prints it).
    pub fn serial_hex(&self) -> String {
        let b = self.inner.tbs_certificate().serial_number().as_bytes();
        let b = match b {
            [0, rest @ ..] if !rest.is_empty() => rest,
            other => other,
        };
        derw::hex_upper(b)
    }

    /// Start of validity.
    pub fn not_before(&self) -> Timestamp {
        to_timestamp(self.inner.tbs_certificate().validity().not_before)
    }

    /// End of validity (inclusive, as RFC 5280 defines).
    pub fn not_after(&self) -> Timestamp {
        to_timestamp(self.inner.tbs_certificate().validity().not_after)
    }

    /// Whether `at` lies within notBefore..=notAfter.
    pub fn is_valid_at(&self, at: Timestamp) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// The SubjectPublicKeyInfo, DER.
    pub fn subject_public_key_der(&self) -> Vec<u8> {
        self.inner
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap_or_default()
    }

    /// The subject name, DER.
    pub fn subject_name_der(&self) -> Vec<u8> {
        self.inner
            .tbs_certificate()
            .subject()
            .to_der()
            .unwrap_or_default()
    }

    /// The issuer name, DER.
    pub fn issuer_name_der(&self) -> Vec<u8> {
        self.inner
            .tbs_certificate()
            .issuer()
            .to_der()
            .unwrap_or_default()
    }

    /// The subject's common name (the opaque id of a JPKI end-entity), if any.
    pub fn subject_common_name(&self) -> Option<String> {
        self.inner
            .tbs_certificate()
            .subject()
            .common_name()
            .ok()
            .flatten()
            .map(String::from)
    }

    /// The subjectKeyIdentifier.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        self.ski.clone()
    }

    /// The keyIdentifier of the authorityKeyIdentifier.
    pub fn authority_key_id(&self) -> Option<Vec<u8>> {
        self.aki.clone()
    }

    /// Whether basicConstraints says CA:TRUE.
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// The certificate policy OIDs.
    pub fn policies(&self) -> &[Oid] {
        &self.policies
    }

    /// The signature algorithm, if it is one this crate verifies.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.signature_algorithm
    }

    /// The value (inside the OCTET STRING) of the extension `oid`, if present.
    pub fn extension_value(&self, oid: &Oid) -> Option<Vec<u8>> {
        self.inner
            .tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| e.extn_id == *oid)
            .map(|e| e.extn_value.as_bytes().to_vec())
    }

    /// HTTP(S)/LDAP URLs of the CRL distribution points (fullName URIs).
    pub fn crl_urls(&self) -> Vec<String> {
        let Ok(Some((_, dps))) = self
            .inner
            .tbs_certificate()
            .get_extension::<CrlDistributionPoints>()
        else {
            return Vec::new();
        };
        dps.0
            .iter()
            .filter_map(|dp| match &dp.distribution_point {
                Some(DistributionPointName::FullName(names)) => Some(names),
                _ => None,
            })
            .flatten()
            .filter_map(uri_of)
            .collect()
    }

    /// OCSP responder URLs from authorityInfoAccess.
    pub fn ocsp_urls(&self) -> Vec<String> {
        let Ok(Some((_, aia))) = self
            .inner
            .tbs_certificate()
            .get_extension::<AuthorityInfoAccessSyntax>()
        else {
            return Vec::new();
        };
        aia.0
            .iter()
            .filter(|a| a.access_method == oids::AD_OCSP)
            .filter_map(|a| uri_of(&a.access_location))
            .collect()
    }

    /// Verifies this certificate's signature with the issuer's
    /// SubjectPublicKeyInfo (DER). Checks nothing else (no dates, no names).
    pub fn verify_signed_by(&self, issuer_spki_der: &[u8]) -> Result<(), PkiError> {
        let alg =
            SignatureAlgorithm::from_identifier(&self.inner.signature_algorithm().owned_to_ref())?;
        let sig = self
            .inner
            .signature()
            .as_bytes()
            .ok_or_else(|| PkiError::malformed(WHAT, "signature BIT STRING has unused bits"))?;
        let pk = keys::parse_spki(issuer_spki_der)?;
        keys::verify_parsed(&pk, alg, &self.tbs_der, sig, WHAT)
    }

    /// Whether this certificate verifies with its own key and names itself as issuer.
    pub fn is_self_signed(&self) -> bool {
        self.subject_name_der() == self.issuer_name_der()
            && self
                .verify_signed_by(&self.subject_public_key_der())
                .is_ok()
    }

    /// The JPKI profile, judged from basicConstraints, the CA's OU and the
    /// certificate policies.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    fn detect_profile(&self) -> Profile {
        if self.is_ca {
            let subject = self.inner.tbs_certificate().subject();
            let ous: Vec<String> = subject
                .iter()
                .filter(|a| a.oid == oids::AT_ORG_UNIT)
                .filter_map(|a| directory_string(&a.value))
                .collect();
            for kind in [CaKind::Signature, CaKind::Authentication] {
                if ous.iter().any(|o| o == kind.organizational_unit()) {
                    return Profile::Ca(kind);
                }
            }
            return Profile::Other;
        }
        let sig = self.policies.contains(&oids::POLICY_SIGNATURE);
        let auth = self.policies.contains(&oids::POLICY_AUTHENTICATION);
        match (sig, auth) {
            (true, false) => Profile::Signature,
            (false, true) => Profile::Authentication,
            _ => Profile::Other,
        }
    }

    fn has_key_usage(&self, bits: &[x509_cert::ext::pkix::KeyUsages]) -> bool {
        self.key_usage
            .as_ref()
            .is_some_and(|k| bits.iter().all(|b| k.0.contains(*b)))
    }
}

fn directory_string(any: &der::asn1::Any) -> Option<String> {
    let tag = any.tag();
    match tag {
        der::Tag::Utf8String | der::Tag::PrintableString | der::Tag::Ia5String => {
            std::str::from_utf8(any.value()).ok().map(str::to_owned)
        }
        _ => None,
    }
}

fn to_timestamp(t: x509_cert::time::Time) -> Timestamp {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_second(secs).unwrap_or(Timestamp::MAX)
}

fn uri_of(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::UniformResourceIdentifier(u) => Some(u.as_str().to_owned()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Signature certificate
// ---------------------------------------------------------------------------

/// The facts a 署名用電子証明書 carries, decoded from its subjectAltName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFacts {
    /// 氏名 (surname and given name separated by U+3000).
    pub name: String,
    /// 代替文字 flags of the name.
    pub name_flags: String,
    /// 性別.
    pub sex: Sex,
    /// 生年月日; `None` if the certificate says the date is unknown (era digit
    /// 0 with no valid date).
    pub birth_date: Option<jiff::civil::Date>,
    /// The era of the birth date; `None` for era digit 0 (unknown).
    pub birth_era: Option<Era>,
    /// 住所.
    pub address: String,
    /// 代替文字 flags of the address.
    pub address_flags: String,
    /// 通称 (alias; a `pseudonym` in a subjectAltName directoryName, see
    /// docs/pki-profiles.md), if present.
    pub alias: Option<String>,
}

/// A certificate in the signature-certificate profile (署名用電子証明書).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCertificate(Certificate);

impl SignatureCertificate {
    /// Decodes DER and checks that it is a signature certificate: not a CA,
    /// policy `1.2.392.200149.8.5.1.1.20`, keyUsage digitalSignature and
    /// nonRepudiation.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        Self::try_from(Certificate::from_der(der)?)
    }

    /// The decoded certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.0
    }

    /// The certificate.
    pub fn into_certificate(self) -> Certificate {
        self.0
    }

    /// The 4 facts (and flags, 通称) from the subjectAltName. Each of the six JPKI
    /// otherNames must appear exactly once, as a UTF8String; the 通称 at most once.
    pub fn basic_facts(&self) -> Result<SignatureFacts, PkiError> {
        const WHAT: &str = "signature certificate subjectAltName";
        let san = self
            .0
            .extension_value(&oids::EXT_SUBJECT_ALT_NAME)
            .ok_or_else(|| PkiError::malformed(WHAT, "missing"))?;
        let san = san_contents(&san, WHAT)?;
        let need = |oid: &Oid, label: &str| -> Result<String, PkiError> {
            let mut it = san.other_names.iter().filter(|(o, _)| o == oid);
            let first = it
                .next()
                .map(|(_, v)| v.clone())
                .ok_or_else(|| PkiError::malformed(WHAT, format!("{label} is missing")))?;
            if it.next().is_some() {
                return Err(PkiError::malformed(WHAT, format!("{label} appears twice")));
            }
            Ok(first)
        };
        let name = need(&oids::OTHER_NAME_NAME, "name")?;
        let name_flags = need(&oids::OTHER_NAME_NAME_FLAGS, "name flags")?;
        let sex_code = need(&oids::OTHER_NAME_SEX, "sex")?;
        let birth = need(&oids::OTHER_NAME_BIRTH_DATE, "birth date")?;
        let address = need(&oids::OTHER_NAME_ADDRESS, "address")?;
        let address_flags = need(&oids::OTHER_NAME_ADDRESS_FLAGS, "address flags")?;
        if san.pseudonyms.len() > 1 {
            return Err(PkiError::malformed(WHAT, "more than one alias (pseudonym)"));
        }
        let alias = san.pseudonyms.into_iter().next();

        let sex = match sex_code.as_str() {
            "1" => Sex::Male,
            "2" => Sex::Female,
            "3" => Sex::Unknown,
            _ => return Err(PkiError::malformed(WHAT, "sex code is not 1, 2 or 3")),
        };
        let (birth_era, birth_date) = match honnin_core::parse_jpki_date(&birth) {
            Ok((era, d)) => (era, Some(d)),
            // Era 0 means unknown; the digits after it may not form a date.
            Err(_)
                if birth.len() == 9
                    && birth.starts_with('0')
                    && birth.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (None, None)
            }
            Err(e) => return Err(PkiError::malformed(WHAT, format!("birth date: {e}"))),
        };
        Ok(SignatureFacts {
            name,
            name_flags,
            sex,
            birth_date,
            birth_era,
            address,
            address_flags,
            alias,
        })
    }
}

impl TryFrom<Certificate> for SignatureCertificate {
    type Error = PkiError;

    fn try_from(c: Certificate) -> Result<Self, PkiError> {
        use x509_cert::ext::pkix::KeyUsages::{DigitalSignature, NonRepudiation};
        if c.profile() != Profile::Signature {
            return Err(PkiError::WrongProfile {
                expected: "signature",
                found: c.profile().to_string(),
            });
        }
        if !c.has_key_usage(&[DigitalSignature, NonRepudiation]) {
            return Err(PkiError::profile(
                "a signature certificate needs keyUsage digitalSignature and nonRepudiation",
            ));
        }
        Ok(SignatureCertificate(c))
    }
}

impl Deref for SignatureCertificate {
    type Target = Certificate;
    fn deref(&self) -> &Certificate {
        &self.0
    }
}

/// What a subjectAltName holds that this crate reads: the otherNames with
/// UTF8String values, and the pseudonyms of directoryNames.
struct SanContents {
    other_names: Vec<(Oid, String)>,
    pseudonyms: Vec<String>,
}

fn san_contents(general_names: &[u8], what: &'static str) -> Result<SanContents, PkiError> {
    let san = SubjectAltName::from_der(general_names).map_err(|e| PkiError::malformed(what, e))?;
    let mut out = SanContents {
        other_names: Vec::new(),
        pseudonyms: Vec::new(),
    };
    for gn in san.0 {
        match gn {
            GeneralName::OtherName(o) => {
                if o.value.tag() == der::Tag::Utf8String {
                    let s = std::str::from_utf8(o.value.value())
                        .map_err(|_| PkiError::malformed(what, "UTF8String is not UTF-8"))?;
                    out.other_names.push((o.type_id, s.to_owned()));
                } else if is_jpki_other_name(&o.type_id) {
                    return Err(PkiError::malformed(
                        what,
                        format!("otherName {} is not a UTF8String", o.type_id),
                    ));
                }
            }
            GeneralName::DirectoryName(n) => {
                for atv in n.iter().filter(|a| a.oid == oids::AT_PSEUDONYM) {
                    let s = directory_string(&atv.value).ok_or_else(|| {
                        PkiError::malformed(what, "pseudonym is not a UTF8String")
                    })?;
                    out.pseudonyms.push(s);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn is_jpki_other_name(oid: &Oid) -> bool {
    oid.parent() == oids::OTHER_NAME_NAME.parent()
}

// ---------------------------------------------------------------------------
// Authentication certificate
// ---------------------------------------------------------------------------

/// A certificate in the user-authentication profile (利用者証明用電子証明書).
/// It carries no facts: it proves "the holder of this card".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationCertificate(Certificate);

impl AuthenticationCertificate {
    /// Decodes DER and checks that it is a user-authentication certificate: not
    /// a CA, policy `1.2.392.200149.8.5.1.3.30`, keyUsage digitalSignature, and
    /// none of the JPKI fact otherNames.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        Self::try_from(Certificate::from_der(der)?)
    }

    /// The decoded certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.0
    }

    /// The certificate.
    pub fn into_certificate(self) -> Certificate {
        self.0
    }
}

impl TryFrom<Certificate> for AuthenticationCertificate {
    type Error = PkiError;

    fn try_from(c: Certificate) -> Result<Self, PkiError> {
        use x509_cert::ext::pkix::KeyUsages::DigitalSignature;
        if c.profile() != Profile::Authentication {
            return Err(PkiError::WrongProfile {
                expected: "user authentication",
                found: c.profile().to_string(),
            });
        }
        if !c.has_key_usage(&[DigitalSignature]) {
            return Err(PkiError::profile(
                "a user-authentication certificate needs keyUsage digitalSignature",
            ));
        }
        if let Some(san) = c.extension_value(&oids::EXT_SUBJECT_ALT_NAME) {
            let san = san_contents(&san, "user-authentication certificate subjectAltName")?;
            if !san.pseudonyms.is_empty()
                || san.other_names.iter().any(|(o, _)| is_jpki_other_name(o))
            {
                return Err(PkiError::profile(
                    "a user-authentication certificate must carry none of the 4 facts",
                ));
            }
        }
        Ok(AuthenticationCertificate(c))
    }
}

impl Deref for AuthenticationCertificate {
    type Target = Certificate;
    fn deref(&self) -> &Certificate {
        &self.0
    }
}
