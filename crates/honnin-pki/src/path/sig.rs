//! Signature verification (aws-lc-rs) and key-strength rules.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use super::parse::{CertInfo, Curve, Hash, KeyKind, SigAlg};
use super::{PathErrorKind, ValidationProfile};

/// Checks that `key` is acceptable under `profile` (as a signing key of a CA
/// or as a subscriber key).
pub(crate) fn check_key(key: &KeyKind, profile: ValidationProfile) -> Result<(), PathErrorKind> {
    match key {
        KeyKind::Rsa { bits } => {
            if *bits < 2048 {
                return Err(PathErrorKind::WeakKey(format!(
                    "RSA key of {bits} bits (at least 2048 required)"
                )));
            }
            if *bits > 8192 {
                return Err(PathErrorKind::UnsupportedAlgorithm(format!(
                    "RSA key of {bits} bits"
                )));
            }
            if profile == ValidationProfile::WebPki && bits % 8 != 0 {
                return Err(PathErrorKind::WeakKey(format!(
                    "RSA modulus of {bits} bits is not a multiple of 8 (CABF 6.1.5)"
                )));
            }
            Ok(())
        }
        KeyKind::Ec(_) => Ok(()),
        KeyKind::Ed25519 => {
            if profile == ValidationProfile::WebPki {
                Err(PathErrorKind::UnsupportedAlgorithm(
                    "Ed25519 keys are not allowed by the CABF baseline requirements".into(),
                ))
            } else {
                Ok(())
            }
        }
        KeyKind::Other(why) => Err(PathErrorKind::UnsupportedAlgorithm(why.clone())),
    }
}

/// Verifies the signature on `child` with `issuer`'s key.
pub(crate) fn verify(
    child: &CertInfo,
    issuer: &CertInfo,
    profile: ValidationProfile,
) -> Result<(), PathErrorKind> {
    verify_raw(
        &child.sig_alg,
        child.tbs_bytes(),
        &child.signature,
        issuer,
        profile,
    )
}

/// Verifies `signature` over `message` made with `alg` by `issuer`'s key.
pub(crate) fn verify_raw(
    alg: &SigAlg,
    message: &[u8],
    sig: &[u8],
    issuer: &CertInfo,
    profile: ValidationProfile,
) -> Result<(), PathErrorKind> {
    verify_with_key(alg, message, sig, &issuer.key, &issuer.public_key, profile)
}

/// Verifies `signature` over `message` made with `alg` by the key `public_key`
/// (the subjectPublicKey bits) of kind `key`.
pub(crate) fn verify_with_key(
    alg: &SigAlg,
    message: &[u8],
    sig: &[u8],
    key: &KeyKind,
    public_key: &[u8],
    profile: ValidationProfile,
) -> Result<(), PathErrorKind> {
    check_key(key, profile)?;
    let unsupported = |s: &str| Err(PathErrorKind::UnsupportedAlgorithm(s.to_owned()));
    if profile == ValidationProfile::WebPki
        && matches!(
            alg,
            SigAlg::RsaPkcs1(Hash::Sha1) | SigAlg::Ecdsa(Hash::Sha1) | SigAlg::RsaPss(Hash::Sha1)
        )
    {
        return unsupported("SHA-1 signatures are not accepted");
    }
    let algo: &'static dyn VerificationAlgorithm = match (alg, key) {
        (SigAlg::RsaPkcs1(h), KeyKind::Rsa { .. }) => match h {
            Hash::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        },
        (SigAlg::RsaPss(h), KeyKind::Rsa { .. }) => match h {
            Hash::Sha256 => &signature::RSA_PSS_2048_8192_SHA256,
            Hash::Sha384 => &signature::RSA_PSS_2048_8192_SHA384,
            Hash::Sha512 => &signature::RSA_PSS_2048_8192_SHA512,
            Hash::Sha1 => return unsupported("RSASSA-PSS with SHA-1"),
        },
        (SigAlg::Ecdsa(h), KeyKind::Ec(c)) => match (c, h) {
            (Curve::P256, Hash::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
            (Curve::P256, Hash::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
            (Curve::P256, Hash::Sha512) => &signature::ECDSA_P256_SHA512_ASN1,
            (Curve::P256, Hash::Sha1) => &signature::ECDSA_P256_SHA1_ASN1,
            (Curve::P384, Hash::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
            (Curve::P384, Hash::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
            (Curve::P384, Hash::Sha512) => &signature::ECDSA_P384_SHA512_ASN1,
            (Curve::P521, Hash::Sha256) => &signature::ECDSA_P521_SHA256_ASN1,
            (Curve::P521, Hash::Sha384) => &signature::ECDSA_P521_SHA384_ASN1,
            (Curve::P521, Hash::Sha512) => &signature::ECDSA_P521_SHA512_ASN1,
            (Curve::P521, Hash::Sha1) => &signature::ECDSA_P521_SHA1_ASN1,
            (Curve::P384, Hash::Sha1) => return unsupported("ECDSA P-384 with SHA-1"),
        },
        (SigAlg::Ed25519, KeyKind::Ed25519) => &signature::ED25519,
        (SigAlg::Unsupported(s), _) => return unsupported(s),
        (a, k) => {
            return Err(PathErrorKind::UnsupportedAlgorithm(format!(
                "signature algorithm {a:?} does not fit the issuer's key {k:?}"
            )));
        }
    };
    UnparsedPublicKey::new(algo, public_key)
        .verify(message, sig)
        .map_err(|_| PathErrorKind::BadSignature)
}
