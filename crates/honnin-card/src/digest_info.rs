//! The DER `DigestInfo` (RFC 8017 §9.2) that the card signs.
//!
//! The card does not hash: middleware hashes the message and sends
//! `DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }`.
//! Only SHA-256, SHA-384 and SHA-512 with the NULL parameters that RFC 8017 writes are
//! accepted, byte for byte, so what is signed is exactly what a verifier rebuilds.

use crate::CardError;

/// A hash algorithm the card accepts in a `DigestInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256 (the algorithm JPKI uses).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_PREFIX: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const SHA512_PREFIX: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

impl DigestAlgorithm {
    /// Length of the digest in bytes.
    #[must_use]
    pub fn output_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha384 => 48,
            DigestAlgorithm::Sha512 => 64,
        }
    }

    fn prefix(self) -> &'static [u8; 19] {
        match self {
            DigestAlgorithm::Sha256 => &SHA256_PREFIX,
            DigestAlgorithm::Sha384 => &SHA384_PREFIX,
            DigestAlgorithm::Sha512 => &SHA512_PREFIX,
        }
    }

    pub(crate) fn aws_digest(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            DigestAlgorithm::Sha256 => &aws_lc_rs::digest::SHA256,
            DigestAlgorithm::Sha384 => &aws_lc_rs::digest::SHA384,
            DigestAlgorithm::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    pub(crate) fn aws_pkcs1(self) -> &'static aws_lc_rs::signature::RsaSignatureEncoding {
        match self {
            DigestAlgorithm::Sha256 => &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            DigestAlgorithm::Sha384 => &aws_lc_rs::signature::RSA_PKCS1_SHA384,
            DigestAlgorithm::Sha512 => &aws_lc_rs::signature::RSA_PKCS1_SHA512,
        }
    }

    /// Hashes `message` and returns its DER `DigestInfo`, what
    /// [`JpkiCard::sign_digest_info`](crate::JpkiCard::sign_digest_info) takes.
    #[must_use]
    pub fn digest_info_of(self, message: &[u8]) -> Vec<u8> {
        let digest = aws_lc_rs::digest::digest(self.aws_digest(), message);
        let mut out = Vec::with_capacity(19 + self.output_len());
        out.extend_from_slice(self.prefix());
        out.extend_from_slice(digest.as_ref());
        out
    }
}

/// Splits a DER `DigestInfo` into its algorithm and digest.
///
/// # Errors
/// [`CardError::Malformed`] unless `digest_info` is exactly the RFC 8017 encoding for
/// SHA-256, SHA-384 or SHA-512 followed by a digest of that length.
pub fn parse_digest_info(digest_info: &[u8]) -> Result<(DigestAlgorithm, &[u8]), CardError> {
    for alg in [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ] {
        if let Some(digest) = digest_info.strip_prefix(alg.prefix().as_slice()) {
            if digest.len() == alg.output_len() {
                return Ok((alg, digest));
            }
            return Err(CardError::Malformed(format!(
                "DigestInfo for {alg:?} carries {} digest bytes, not {}",
                digest.len(),
                alg.output_len()
            )));
        }
    }
    Err(CardError::Malformed(format!(
        "not a DER DigestInfo for SHA-256, SHA-384 or SHA-512 ({} bytes)",
        digest_info.len()
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for alg in [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ] {
            let di = alg.digest_info_of(b"hello");
            let (a, d) = parse_digest_info(&di).unwrap();
            assert_eq!(a, alg);
            assert_eq!(
                d,
                aws_lc_rs::digest::digest(alg.aws_digest(), b"hello").as_ref()
            );
        }
    }

    #[test]
    fn rejects_others() {
        let good = DigestAlgorithm::Sha256.digest_info_of(b"x");
        for bad in [
            Vec::new(),
            vec![0x30],
            good[..good.len() - 1].to_vec(),
            [good.as_slice(), &[0]].concat(),
            good[19..].to_vec(),
            // SHA-1 DigestInfo
            [
                &[
                    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
                    0x04, 0x14,
                ][..],
                &[0u8; 20][..],
            ]
            .concat(),
        ] {
            assert!(matches!(
                parse_digest_info(&bad),
                Err(CardError::Malformed(_))
            ));
        }
    }
}
