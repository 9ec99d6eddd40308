//! The one error type of the crate.

/// What went wrong, with enough context to tell the caller which input was bad.
///
/// Messages never repeat personal data (names, addresses) from the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The input is not valid DER / PEM / PKCS#8 / X.509 for what it claims to be.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded, e.g. `"certificate"`, `"PKCS#10 request"`.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },

    /// A signature did not verify.
    #[error("the signature on the {what} does not verify")]
    BadSignature {
        /// What carried the signature.
        what: &'static str,
    },

    /// An RSA key below 2048 bits (the legal minimum for JPKI).
    #[error("RSA key of {bits} bits is too weak: at least 2048 bits are required")]
    WeakKey {
        /// Modulus size in bits.
        bits: usize,
    },

    /// An RSA key size this crate does not handle (above 8192 bits, or not one of
    /// 2048/3072/4096 for a [`crate::SoftwareKey`]).
    #[error("RSA key size of {bits} bits is not supported")]
    UnsupportedKeySize {
        /// Modulus size in bits.
        bits: usize,
    },

    /// A key, curve or signature algorithm other than RSA (PKCS#1 v1.5, SHA-256)
    /// and ECDSA P-256 (SHA-256), or a PBES2 scheme not supported.
    #[error("unsupported algorithm {oid}")]
    UnsupportedAlgorithm {
        /// The object identifier in dotted form (or a short description).
        oid: String,
    },

    /// The input is well-formed but breaks the JPKI profile (or a requested
    /// certificate would).
    #[error("JPKI profile violation: {reason}")]
    Profile {
        /// Which rule was broken.
        reason: String,
    },

    /// A certificate was expected to have one profile and has another.
    #[error("expected a {expected} certificate, found {found}")]
    WrongProfile {
        /// The profile asked for.
        expected: &'static str,
        /// The profile found (see [`crate::Profile`]).
        found: String,
    },

    /// Validity computation failed (dates out of order or out of range).
    #[error("validity: {reason}")]
    Validity {
        /// What was wrong.
        reason: String,
    },

    /// An encrypted private key could not be decrypted with the passphrase given.
    #[error("wrong passphrase, or the encrypted private key is corrupted")]
    WrongPassphrase,

    /// The cryptographic library failed (should not happen with valid input).
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
}

impl PkiError {
    pub(crate) fn malformed(what: &'static str, reason: impl std::fmt::Display) -> Self {
        PkiError::Malformed {
            what,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn profile(reason: impl Into<String>) -> Self {
        PkiError::Profile {
            reason: reason.into(),
        }
    }
}
