//! Object identifiers used by the JPKI profiles.

use const_oid::ObjectIdentifier as Oid;

// Algorithms.
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
pub const PRIME256V1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");

// Name attributes.
pub const AT_COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
pub const AT_ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
pub const AT_ORG_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
pub const AT_LOCALITY: Oid = Oid::new_unwrap("2.5.4.7");
pub const AT_COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");

// Extensions.
pub const EXT_SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
pub const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
pub const EXT_SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
pub const EXT_ISSUER_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.18");
pub const EXT_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
pub const EXT_CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");
pub const EXT_CERTIFICATE_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
pub const EXT_AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
pub const EXT_AUTHORITY_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");
pub const AD_OCSP: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1");
pub const EXT_EXTENDED_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
/// `id-kp-OCSPSigning`.
pub const KP_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");

// CRLs (RFC 5280 §5).
pub const EXT_CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
pub const EXT_CRL_REASON: Oid = Oid::new_unwrap("2.5.29.21");
pub const EXT_INVALIDITY_DATE: Oid = Oid::new_unwrap("2.5.29.24");
pub const EXT_DELTA_CRL_INDICATOR: Oid = Oid::new_unwrap("2.5.29.27");
pub const EXT_ISSUING_DISTRIBUTION_POINT: Oid = Oid::new_unwrap("2.5.29.28");

// OCSP (RFC 6960).
/// `id-pkix-ocsp-basic`.
pub const OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// `id-pkix-ocsp-nonce`.
pub const OCSP_NONCE: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// `id-pkix-ocsp-nocheck`.
pub const OCSP_NOCHECK: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.5");
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");

/// JPKI certificate policy of the signature certificate (署名用電子証明書).
pub const POLICY_SIGNATURE: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.1.20");
/// JPKI certificate policy of the user-authentication certificate (利用者証明用電子証明書).
pub const POLICY_AUTHENTICATION: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.3.30");

/// otherName 氏名 (name, surname and given name separated by U+3000).
pub const OTHER_NAME_NAME: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.1");
/// otherName 氏名代替文字 flags.
pub const OTHER_NAME_NAME_FLAGS: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.2");
/// otherName 性別 (1 male, 2 female, 3 unknown).
pub const OTHER_NAME_SEX: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.3");
/// otherName 生年月日 `EYYYYMMDD`.
pub const OTHER_NAME_BIRTH_DATE: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.4");
/// otherName 住所.
pub const OTHER_NAME_ADDRESS: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.5");
/// otherName 住所代替文字 flags.
pub const OTHER_NAME_ADDRESS_FLAGS: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.6");

/// X.520 `pseudonym`: carries the 通称 (alias) in a subjectAltName
/// directoryName (see docs/pki-profiles.md).
pub const AT_PSEUDONYM: Oid = Oid::new_unwrap("2.5.4.65");

// CMS (RFC 5652) and ESS (RFC 5035).
/// `id-data`.
pub const CMS_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// `id-signedData`.
pub const CMS_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// `id-contentType` signed attribute.
pub const ATTR_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest` signed attribute.
pub const ATTR_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// `id-signingTime` signed attribute.
pub const ATTR_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// `id-aa-signingCertificateV2` (ESS, RFC 5035).
pub const ATTR_SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// `id-aa-signingCertificate` (ESS v1, SHA-1 certificate hash).
pub const ATTR_SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// SHA-384.
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512.
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// `sha384WithRSAEncryption`.
pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption`.
pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
/// `ecdsa-with-SHA384`.
pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
/// `id-RSASSA-PSS`.
pub const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
