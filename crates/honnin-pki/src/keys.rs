//! Keys, signers and signature verification (aws-lc-rs).

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey};
use der::Decode;
use der::asn1::UintRef;
use zeroize::Zeroizing;

use crate::PkiError;
use crate::derw;
use crate::oids;

/// The kind of key to generate or hold.
///
/// Serialised as `"rsa2048"`, `"rsa3072"`, `"rsa4096"`, `"ecdsa-p256"` (the same
/// strings as [`KeyAlgorithm::as_str`] and [`FromStr`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyAlgorithm {
    /// RSA, 2048-bit modulus, e = 65537 (what JPKI cards hold).
    #[serde(rename = "rsa2048")]
    Rsa2048,
    /// RSA, 3072-bit modulus.
    #[serde(rename = "rsa3072")]
    Rsa3072,
    /// RSA, 4096-bit modulus.
    #[serde(rename = "rsa4096")]
    Rsa4096,
    /// ECDSA on NIST P-256 (secp256r1).
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
}

impl KeyAlgorithm {
    /// All supported algorithms.
    pub const ALL: [KeyAlgorithm; 4] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcdsaP256,
    ];

    /// `rsa2048`, `rsa3072`, `rsa4096` or `ecdsa-p256`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "rsa2048",
            KeyAlgorithm::Rsa3072 => "rsa3072",
            KeyAlgorithm::Rsa4096 => "rsa4096",
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
        }
    }

    /// The signature algorithm a key of this kind signs with.
    pub fn signature_algorithm(self) -> SignatureAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256 => SignatureAlgorithm::EcdsaP256Sha256,
            _ => SignatureAlgorithm::RsaPkcs1Sha256,
        }
    }

    fn from_rsa_bits(bits: usize) -> Result<Self, PkiError> {
        match bits {
            2048 => Ok(KeyAlgorithm::Rsa2048),
            3072 => Ok(KeyAlgorithm::Rsa3072),
            4096 => Ok(KeyAlgorithm::Rsa4096),
            b if b < 2048 => Err(PkiError::WeakKey { bits: b }),
            b => Err(PkiError::UnsupportedKeySize { bits: b }),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| PkiError::UnsupportedAlgorithm {
                oid: format!(
                    "key algorithm {s:?} (expected rsa2048, rsa3072, rsa4096 or ecdsa-p256)"
                ),
            })
    }
}

/// How a [`Signer`] signs: always over SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`sha256WithRSAEncryption`), what JPKI uses.
    RsaPkcs1Sha256,
    /// ECDSA P-256 with SHA-256 (`ecdsa-with-SHA256`), signature DER-encoded.
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// The signature algorithm's object identifier.
    pub fn oid(self) -> const_oid::ObjectIdentifier {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256 => oids::SHA256_WITH_RSA,
            SignatureAlgorithm::EcdsaP256Sha256 => oids::ECDSA_WITH_SHA256,
        }
    }

    /// The DER `AlgorithmIdentifier`: NULL parameters for RSA (RFC 4055), none
    /// for ECDSA (RFC 5758).
    pub fn algorithm_identifier_der(self) -> Vec<u8> {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256 => {
                derw::seq(&[derw::oid(&oids::SHA256_WITH_RSA), derw::null()])
            }
            SignatureAlgorithm::EcdsaP256Sha256 => {
                derw::seq(&[derw::oid(&oids::ECDSA_WITH_SHA256)])
            }
        }
    }

    /// From an `AlgorithmIdentifier` as found in a certificate or request.
    /// Parameters must be exactly as RFC 4055 / RFC 5758 require (NULL or absent
    /// for RSA, absent for ECDSA).
    pub(crate) fn from_identifier(
        alg: &spki::AlgorithmIdentifierRef<'_>,
    ) -> Result<Self, PkiError> {
        if alg.oid == oids::SHA256_WITH_RSA {
            match alg.parameters {
                None => Ok(SignatureAlgorithm::RsaPkcs1Sha256),
                Some(p) if p.is_null() => Ok(SignatureAlgorithm::RsaPkcs1Sha256),
                Some(_) => Err(PkiError::malformed(
                    "signature algorithm",
                    "sha256WithRSAEncryption must have NULL parameters",
                )),
            }
        } else if alg.oid == oids::ECDSA_WITH_SHA256 {
            match alg.parameters {
                None => Ok(SignatureAlgorithm::EcdsaP256Sha256),
                Some(_) => Err(PkiError::malformed(
                    "signature algorithm",
                    "ecdsa-with-SHA256 must have no parameters",
                )),
            }
        } else {
            Err(PkiError::UnsupportedAlgorithm {
                oid: alg.oid.to_string(),
            })
        }
    }
}

/// Anything that can sign: a software key, a PKCS#11 key, a card.
pub trait Signer: Send + Sync {
    /// The signature algorithm.
    fn algorithm(&self) -> SignatureAlgorithm;
    /// SubjectPublicKeyInfo, DER.
    fn public_key_der(&self) -> Vec<u8>;
    /// Signs `message` (the signer hashes it with SHA-256). RSA: the PKCS#1 v1.5
    /// signature, as long as the modulus. ECDSA: the DER `Ecdsa-Sig-Value`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError>;
}

impl<T: Signer + ?Sized> Signer for &T {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }
    fn public_key_der(&self) -> Vec<u8> {
        (**self).public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        (**self).sign(message)
    }
}

impl<T: Signer + ?Sized> Signer for Box<T> {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }
    fn public_key_der(&self) -> Vec<u8> {
        (**self).public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        (**self).sign(message)
    }
}

impl<T: Signer + ?Sized> Signer for std::sync::Arc<T> {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }
    fn public_key_der(&self) -> Vec<u8> {
        (**self).public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        (**self).sign(message)
    }
}

enum KeyInner {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// An in-memory private key (aws-lc-rs): for CAs in development, software cards
/// and tests. `Debug` shows the algorithm only, never key material.
pub struct SoftwareKey {
    algorithm: KeyAlgorithm,
    inner: KeyInner,
    spki: Vec<u8>,
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn crypto(what: &str) -> impl FnOnce(aws_lc_rs::error::Unspecified) -> PkiError + '_ {
    move |_| PkiError::Crypto(what.to_owned())
}

impl SoftwareKey {
    /// Generates a fresh key.
    pub fn generate(alg: KeyAlgorithm) -> Result<Self, PkiError> {
        let inner = match alg {
            KeyAlgorithm::Rsa2048 => KeyInner::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(crypto("RSA key generation"))?,
            ),
            KeyAlgorithm::Rsa3072 => KeyInner::Rsa(
                RsaKeyPair::generate(KeySize::Rsa3072).map_err(crypto("RSA key generation"))?,
            ),
            KeyAlgorithm::Rsa4096 => KeyInner::Rsa(
                RsaKeyPair::generate(KeySize::Rsa4096).map_err(crypto("RSA key generation"))?,
            ),
            KeyAlgorithm::EcdsaP256 => KeyInner::Ecdsa(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(crypto("ECDSA key generation"))?,
            ),
        };
        Self::from_inner(alg, inner)
    }

    fn from_inner(algorithm: KeyAlgorithm, inner: KeyInner) -> Result<Self, PkiError> {
        let spki = match &inner {
            KeyInner::Rsa(k) => k
                .public_key()
                .as_der()
                .map_err(crypto("RSA public key encoding"))?
                .as_ref()
                .to_vec(),
            KeyInner::Ecdsa(k) => k
                .public_key()
                .as_der()
                .map_err(crypto("EC public key encoding"))?
                .as_ref()
                .to_vec(),
        };
        Ok(SoftwareKey {
            algorithm,
            inner,
            spki,
        })
    }

    /// Reads an unencrypted PKCS#8 `PrivateKeyInfo` (v1 or v2) holding an RSA
    /// key of 2048, 3072 or 4096 bits or a P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, PkiError> {
        const WHAT: &str = "PKCS#8 private key";
        let info =
            pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| PkiError::malformed(WHAT, e))?;
        let alg_oid = info.algorithm.oid;
        if alg_oid == oids::RSA_ENCRYPTION {
            let key = RsaKeyPair::from_pkcs8(der).map_err(|e| PkiError::malformed(WHAT, e))?;
            let bits = key.public_modulus_len() * 8;
            let alg = KeyAlgorithm::from_rsa_bits(bits)?;
            Self::from_inner(alg, KeyInner::Rsa(key))
        } else if alg_oid == oids::EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| PkiError::malformed(WHAT, e))?;
            if curve != oids::PRIME256V1 {
                return Err(PkiError::UnsupportedAlgorithm {
                    oid: curve.to_string(),
                });
            }
            let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der)
                .map_err(|e| PkiError::malformed(WHAT, e))?;
            Self::from_inner(KeyAlgorithm::EcdsaP256, KeyInner::Ecdsa(key))
        } else {
            Err(PkiError::UnsupportedAlgorithm {
                oid: alg_oid.to_string(),
            })
        }
    }

    /// The unencrypted PKCS#8 v1 `PrivateKeyInfo`, wiped from memory on drop.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, PkiError> {
        let der = match &self.inner {
            KeyInner::Rsa(k) => {
                let d = k.as_der().map_err(crypto("PKCS#8 encoding"))?;
                Zeroizing::new(d.as_ref().to_vec())
            }
            KeyInner::Ecdsa(k) => {
                let d = k.to_pkcs8v1().map_err(crypto("PKCS#8 encoding"))?;
                Zeroizing::new(d.as_ref().to_vec())
            }
        };
        Ok(der)
    }

    /// The kind of key.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }
}

impl Signer for SoftwareKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm.signature_algorithm()
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let rng = SystemRandom::new();
        match &self.inner {
            KeyInner::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(crypto("RSA signing"))?;
                Ok(sig)
            }
            KeyInner::Ecdsa(k) => {
                let sig = k.sign(&rng, message).map_err(crypto("ECDSA signing"))?;
                Ok(sig.as_ref().to_vec())
            }
        }
    }
}

/// DigestInfo(SHA-256, H(message)) DER — what a JPKI card signs with raw
/// PKCS#1 v1.5 (the card's `80 2A 00 80` command takes it as its data field).
pub fn digest_info_sha256(message: &[u8]) -> Vec<u8> {
    // SEQUENCE { SEQUENCE { sha256, NULL }, OCTET STRING (32) }
    const PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    let mut out = Vec::with_capacity(PREFIX.len() + 32);
    out.extend_from_slice(&PREFIX);
    out.extend_from_slice(hash.as_ref());
    out
}

/// A public key taken apart from its SubjectPublicKeyInfo.
#[derive(Debug, Clone)]
pub(crate) enum PublicKey {
    /// `RSAPublicKey` DER and the modulus size.
    Rsa {
        rsa_public_key: Vec<u8>,
        bits: usize,
    },
    /// The encoded P-256 point.
    P256 { point: Vec<u8> },
}

#[derive(der::Sequence)]
struct RsaPublicKeyAsn1<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// Parses a SubjectPublicKeyInfo holding an RSA or a P-256 key.
pub(crate) fn parse_spki(spki_der: &[u8]) -> Result<PublicKey, PkiError> {
    const WHAT: &str = "SubjectPublicKeyInfo";
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| PkiError::malformed(WHAT, e))?;
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| PkiError::malformed(WHAT, "public key BIT STRING has unused bits"))?;
    if spki.algorithm.oid == oids::RSA_ENCRYPTION {
        if let Some(p) = spki.algorithm.parameters
            && !p.is_null()
        {
            return Err(PkiError::malformed(
                WHAT,
                "rsaEncryption parameters must be NULL",
            ));
        }
        let rsa = RsaPublicKeyAsn1::from_der(key_bytes)
            .map_err(|e| PkiError::malformed(WHAT, format!("RSAPublicKey: {e}")))?;
        let n = rsa.modulus.as_bytes();
        let e = rsa.public_exponent.as_bytes();
        let Some(first) = n.first() else {
            return Err(PkiError::malformed(WHAT, "RSA modulus is zero"));
        };
        if e.is_empty() || e == [1] || e.last().is_some_and(|b| b & 1 == 0) {
            return Err(PkiError::malformed(
                WHAT,
                "RSA public exponent is not an odd number > 1",
            ));
        }
        let bits = n.len() * 8 - first.leading_zeros() as usize;
        Ok(PublicKey::Rsa {
            rsa_public_key: key_bytes.to_vec(),
            bits,
        })
    } else if spki.algorithm.oid == oids::EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|e| PkiError::malformed(WHAT, format!("EC parameters: {e}")))?;
        if curve != oids::PRIME256V1 {
            return Err(PkiError::UnsupportedAlgorithm {
                oid: curve.to_string(),
            });
        }
        let ok_len = match key_bytes.first() {
            Some(0x04) => key_bytes.len() == 65,
            Some(0x02 | 0x03) => key_bytes.len() == 33,
            _ => false,
        };
        if !ok_len {
            return Err(PkiError::malformed(WHAT, "not an encoded P-256 point"));
        }
        Ok(PublicKey::P256 {
            point: key_bytes.to_vec(),
        })
    } else {
        Err(PkiError::UnsupportedAlgorithm {
            oid: spki.algorithm.oid.to_string(),
        })
    }
}

/// Refuses RSA below 2048 bits (WeakKey) and above 8192 bits.
pub(crate) fn check_key_strength(pk: &PublicKey) -> Result<(), PkiError> {
    if let PublicKey::Rsa { bits, .. } = pk {
        if *bits < 2048 {
            return Err(PkiError::WeakKey { bits: *bits });
        }
        if *bits > 8192 {
            return Err(PkiError::UnsupportedKeySize { bits: *bits });
        }
    }
    Ok(())
}

pub(crate) fn verify_parsed(
    pk: &PublicKey,
    alg: SignatureAlgorithm,
    message: &[u8],
    sig: &[u8],
    what: &'static str,
) -> Result<(), PkiError> {
    check_key_strength(pk)?;
    let ok = match (pk, alg) {
        (PublicKey::Rsa { rsa_public_key, .. }, SignatureAlgorithm::RsaPkcs1Sha256) => {
            UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, rsa_public_key)
                .verify(message, sig)
                .is_ok()
        }
        (PublicKey::P256 { point }, SignatureAlgorithm::EcdsaP256Sha256) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point)
                .verify(message, sig)
                .is_ok()
        }
        (PublicKey::Rsa { .. }, SignatureAlgorithm::EcdsaP256Sha256) => {
            return Err(PkiError::profile(format!(
                "the {what} is signed with ECDSA but the key is RSA"
            )));
        }
        (PublicKey::P256 { .. }, SignatureAlgorithm::RsaPkcs1Sha256) => {
            return Err(PkiError::profile(format!(
                "the {what} is signed with RSA but the key is ECDSA P-256"
            )));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(PkiError::BadSignature { what })
    }
}

/// Verifies `signature` over `message` by the key in a SubjectPublicKeyInfo.
/// RSA keys must have 2048–8192 bits; the algorithm must fit the key type.
pub fn verify_signature(
    spki_der: &[u8],
    alg: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), PkiError> {
    let pk = parse_spki(spki_der)?;
    verify_parsed(&pk, alg, message, signature, "message")
}

/// The RSA modulus size in bits, or `None` for a P-256 key. Other key types are
/// [`PkiError::UnsupportedAlgorithm`].
pub fn rsa_modulus_bits(spki_der: &[u8]) -> Result<Option<usize>, PkiError> {
    match parse_spki(spki_der)? {
        PublicKey::Rsa { bits, .. } => Ok(Some(bits)),
        PublicKey::P256 { .. } => Ok(None),
    }
}

/// A random certificate serial number of 20 octets: positive (top bit clear)
/// with a non-zero first octet, so it encodes as exactly 20 octets (the RFC 5280
/// maximum) and carries more than 150 random bits.
pub fn random_serial() -> [u8; 20] {
    let mut b = [0u8; 20];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // aws-lc aborts rather than fail; fall back to the thread CSPRNG anyway.
        rand::Rng::fill(&mut rand::rng(), &mut b[..]);
    }
    b[0] = (b[0] & 0x7f).max(1);
    b
}

/// Key identifier, RFC 5280 §4.2.1.2 method (1): SHA-1 of the BIT STRING value
/// of subjectPublicKey (as the J-LIS CA certificates use).
pub(crate) fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| PkiError::malformed("SubjectPublicKeyInfo", e))?;
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        spki.subject_public_key.raw_bytes(),
    );
    Ok(d.as_ref().to_vec())
}

/// The SubjectPublicKeyInfo of an RSA key given its modulus and public exponent
/// (big-endian magnitudes), as a PKCS#11 token reports them; checked like any key
/// (RSA below 2048 bits is refused).
pub fn rsa_spki_der(modulus: &[u8], exponent: &[u8]) -> Result<Vec<u8>, PkiError> {
    use crate::derw;
    let key = derw::seq(&[derw::uint(modulus), derw::uint(exponent)]);
    let spki = derw::seq(&[
        derw::seq(&[derw::oid(&crate::oids::RSA_ENCRYPTION), derw::null()]),
        derw::bit_string(&key),
    ]);
    match rsa_modulus_bits(&spki)? {
        Some(bits) if bits < 2048 => Err(PkiError::WeakKey { bits }),
        _ => Ok(spki),
    }
}

#[cfg(test)]
mod tests {

    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn rsa_spki_from_token_components() {
        let mut n = vec![0xc3u8; 256];
        n[255] |= 1;
        let spki = super::rsa_spki_der(&n, &[1, 0, 1]).unwrap();
        assert_eq!(rsa_modulus_bits(&spki).unwrap(), Some(2048));
        // Leading zero octets (as some tokens return them) encode the same key.
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        assert_eq!(super::rsa_spki_der(&padded, &[1, 0, 1]).unwrap(), spki);
        assert!(matches!(
            super::rsa_spki_der(&[0xc3; 128], &[1, 0, 1]),
            Err(PkiError::WeakKey { bits: 1024 })
        ));
    }

    #[test]
    fn serials_are_positive_20_octets() {
        for _ in 0..200 {
            let s = random_serial();
            assert!(s[0] != 0 && s[0] & 0x80 == 0);
            assert_eq!(derw::positive_integer(&s).unwrap().len(), 22);
        }
        assert_ne!(random_serial(), random_serial());
    }

    #[test]
    fn digest_info_layout() {
        let d = digest_info_sha256(b"abc");
        assert_eq!(d.len(), 51);
        assert_eq!(
            derw::hex_upper(&d[19..]),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
    }

    #[test]
    fn key_algorithm_strings() {
        for a in KeyAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<KeyAlgorithm>().unwrap(), a);
        }
        assert!("rsa1024".parse::<KeyAlgorithm>().is_err());
    }
}
