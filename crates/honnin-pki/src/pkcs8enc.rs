//! Encrypted PKCS#8 (RFC 5958 `EncryptedPrivateKeyInfo`, RFC 8018 PBES2).
//!
//! Written as PBES2 with PBKDF2-HMAC-SHA256 (600,000 iterations, 16-octet salt)
//! and AES-256-CBC: what `openssl pkcs8 -topk8 -v2 aes-256-cbc` produces and
//! `openssl pkey` reads. Read: PBES2 with PBKDF2 (HMAC-SHA1/256/384/512) and
//! AES-128/192/256-CBC. The ASN.1 types come from `pkcs5`; the cryptography from
//! aws-lc-rs.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::pbkdf2;
use der::{Decode, Encode};
use pkcs8::pkcs5::{self, pbes2};
use zeroize::Zeroizing;

use crate::{PkiError, SoftwareKey};

const LABEL: &str = "ENCRYPTED PRIVATE KEY";
const WHAT: &str = "encrypted PKCS#8 private key";
/// OWASP's recommendation for PBKDF2-HMAC-SHA256 (2023).
const ITERATIONS: u32 = 600_000;
/// Refuse more than this when reading, so a hostile file cannot stall us.
const MAX_ITERATIONS: u32 = 10_000_000;

impl SoftwareKey {
    /// The key as an encrypted PKCS#8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`),
    /// PBES2: PBKDF2-HMAC-SHA256 with 600,000 iterations + AES-256-CBC. Readable by
    /// `openssl pkey -in f -passin pass:…`.
    pub fn to_encrypted_pkcs8_pem(&self, passphrase: &[u8]) -> Result<String, PkiError> {
        let plain = self.to_pkcs8_der()?;
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| PkiError::Crypto("random salt".into()))?;
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| PkiError::Crypto("random IV".into()))?;

        let iterations = NonZeroU32::new(ITERATIONS)
            .ok_or_else(|| PkiError::Crypto("iteration count".into()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            passphrase,
            &mut key[..],
        );
        let cipher = UnboundCipherKey::new(&AES_256, &key[..])
            .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
            .map_err(|_| PkiError::Crypto("AES key setup".into()))?;
        let mut data: Vec<u8> = plain.to_vec();
        cipher
            .less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| PkiError::Crypto("AES-CBC encryption".into()))?;

        let kdf = pbes2::Pbkdf2Params::hmac_sha256(ITERATIONS, &salt)
            .map_err(|e| PkiError::Crypto(format!("PBKDF2 parameters: {e}")))?;
        let params = pbes2::Parameters {
            kdf: kdf.into(),
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv },
        };
        let info = pkcs8::EncryptedPrivateKeyInfoRef {
            encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(params),
            encrypted_data: der::asn1::OctetStringRef::new(&data)
                .map_err(|e| PkiError::Crypto(format!("encoding: {e}")))?,
        };
        let der = info
            .to_der()
            .map_err(|e| PkiError::Crypto(format!("encoding: {e}")))?;
        Ok(crate::pem::encode(LABEL, &der))
    }

    /// Reads an encrypted PKCS#8 PEM. A wrong passphrase gives
    /// [`PkiError::WrongPassphrase`]; schemes other than PBES2/PBKDF2/AES-CBC give
    /// [`PkiError::UnsupportedAlgorithm`].
    pub fn from_encrypted_pkcs8_pem(pem: &str, passphrase: &[u8]) -> Result<Self, PkiError> {
        let der = crate::pem::decode(pem, LABEL, WHAT)?;
        Self::from_encrypted_pkcs8_der(&der, passphrase)
    }

    /// As [`SoftwareKey::from_encrypted_pkcs8_pem`], from DER.
    pub fn from_encrypted_pkcs8_der(der: &[u8], passphrase: &[u8]) -> Result<Self, PkiError> {
        let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der)
            .map_err(|e| PkiError::malformed(WHAT, e))?;
        let params = match &info.encryption_algorithm {
            pkcs5::EncryptionScheme::Pbes2(p) => p,
            pkcs5::EncryptionScheme::Pbes1(a) => {
                return Err(PkiError::UnsupportedAlgorithm {
                    oid: format!("PBES1 {}", a.oid()),
                });
            }
            _ => {
                return Err(PkiError::UnsupportedAlgorithm {
                    oid: "unknown PKCS#5 scheme".into(),
                });
            }
        };
        let (cipher_alg, key_len, iv) = match params.encryption {
            pbes2::EncryptionScheme::Aes128Cbc { iv } => (&AES_128, 16usize, iv),
            pbes2::EncryptionScheme::Aes192Cbc { iv } => (&AES_192, 24, iv),
            pbes2::EncryptionScheme::Aes256Cbc { iv } => (&AES_256, 32, iv),
            other => {
                return Err(PkiError::UnsupportedAlgorithm {
                    oid: other.oid().to_string(),
                });
            }
        };
        let kdf = match &params.kdf {
            pbes2::Kdf::Pbkdf2(k) => k,
            other => {
                return Err(PkiError::UnsupportedAlgorithm {
                    oid: other.oid().to_string(),
                });
            }
        };
        let prf = match kdf.prf {
            pbes2::Pbkdf2Prf::HmacWithSha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            pbes2::Pbkdf2Prf::HmacWithSha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            pbes2::Pbkdf2Prf::HmacWithSha384 => pbkdf2::PBKDF2_HMAC_SHA384,
            pbes2::Pbkdf2Prf::HmacWithSha512 => pbkdf2::PBKDF2_HMAC_SHA512,
            other => {
                return Err(PkiError::UnsupportedAlgorithm {
                    oid: other.oid().to_string(),
                });
            }
        };
        if let Some(len) = kdf.key_length
            && usize::from(len) != key_len
        {
            return Err(PkiError::malformed(
                WHAT,
                "PBKDF2 key length does not fit the cipher",
            ));
        }
        if kdf.iteration_count > MAX_ITERATIONS {
            return Err(PkiError::malformed(
                WHAT,
                format!("PBKDF2 iteration count above {MAX_ITERATIONS}"),
            ));
        }
        let iterations = NonZeroU32::new(kdf.iteration_count)
            .ok_or_else(|| PkiError::malformed(WHAT, "PBKDF2 iteration count is zero"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        let key = &mut key[..key_len];
        pbkdf2::derive(prf, iterations, kdf.salt.as_bytes(), passphrase, key);

        let cipher = UnboundCipherKey::new(cipher_alg, key)
            .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
            .map_err(|_| PkiError::Crypto("AES key setup".into()))?;
        let mut buf = Zeroizing::new(info.encrypted_data.as_bytes().to_vec());
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(PkiError::malformed(
                WHAT,
                "ciphertext is not whole AES blocks",
            ));
        }
        let plain = cipher
            .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| PkiError::WrongPassphrase)?;
        // Padding that happens to check out under a wrong key leaves garbage.
        SoftwareKey::from_pkcs8_der(plain).map_err(|e| match e {
            PkiError::Malformed { .. } => PkiError::WrongPassphrase,
            other => other,
        })
    }
}
