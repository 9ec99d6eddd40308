//! The JPKI IC card: the JPKI application of the My Number card as middleware such as
//! OpenSC sees it, as one trait ([`JpkiCard`]) with two implementations.
//!
//! - [`SoftwareCard`]: one card in one file. The private keys are stored encrypted
//!   with AES-256-GCM under a key derived from the slot's PIN with Argon2id, so a key
//!   cannot be used without its PIN; the PIN try counter is written to disk durably
//!   *before* the PIN is checked. See the [`software`] module for the file format and
//!   what such a file does and does not protect.
//! - [`Pkcs11Card`]: a card made of PKCS#11 tokens (SoftHSM2, an HSM, or a real My
//!   Number card read through OpenSC's `jpki` driver, read and sign only). See the
//!   [`pkcs11`] module for how the JPKI card is mapped onto PKCS#11.
//!
//! # The card's two slots
//!
//! | [`KeyRef`] | JPKI name | PIN | tries | certificate readable |
//! |---|---|---|---|---|
//! | [`KeyRef::Auth`] | 利用者証明用 (user authentication) | exactly 4 digits | 3 | always |
//! | [`KeyRef::Sign`] | 署名用 (signature) | 6–16 of `A–Z 0–9` | 5 | after the sign PIN |
//!
//! # Contract shared by both implementations
//!
//! - A PIN of the wrong *format* is refused with [`CardError::PinFormat`] and never
//!   reaches the counter.
//! - A wrong PIN answers [`CardError::WrongPin`] with the tries left, or
//!   [`CardError::Locked`] when none remain; a locked PIN is unlocked only at the
//!   municipal window ([`JpkiCard::unblock_pin`]).
//! - [`JpkiCard::unblock_pin`] sets a new PIN, resets the counter **and empties the
//!   slot** (key and certificates): the window then issues new certificates. This is
//!   forced on the software card (the old PIN, which the key is encrypted under, is
//!   unknown) and kept on PKCS#11 tokens so both behave the same.
//! - [`JpkiCard::sign_digest_info`] takes a DER `DigestInfo` for SHA-256, SHA-384 or
//!   SHA-512 (with the NULL parameters of RFC 8017) and returns the 256-byte RSA
//!   PKCS#1 v1.5 signature; the card never hashes. Anything else is
//!   [`CardError::Malformed`].
//! - Private keys never leave a card: no API returns them.

mod digest_info;
mod error;
pub mod pkcs11;
pub mod software;
mod x509;

pub use digest_info::{DigestAlgorithm, parse_digest_info};
pub use error::CardError;
pub use pkcs11::{Pkcs11Card, init_softhsm_card};
pub use software::{KdfParams, SoftwareCard};

/// The token string of the JPKI application (EF `0006`).
pub const TOKEN_STRING: &str = "JPKIAPICCTOKEN2";

/// Length in bytes of the card's RSA-2048 signatures.
pub const SIGNATURE_LEN: usize = 256;

/// One of the card's two key slots, each with its own PIN, key pair and certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyRef {
    /// 利用者証明用: user authentication (login, kiosks). 4-digit PIN, 3 tries.
    Auth,
    /// 署名用: signature. PIN of 6–16 upper-case letters and digits, 5 tries.
    Sign,
}

impl KeyRef {
    /// Both slots, auth first.
    pub const ALL: [KeyRef; 2] = [KeyRef::Auth, KeyRef::Sign];

    /// How many wrong PINs in a row lock the slot: 3 for auth, 5 for sign.
    #[must_use]
    pub fn max_tries(self) -> u8 {
        match self {
            KeyRef::Auth => 3,
            KeyRef::Sign => 5,
        }
    }

    /// A short lower-case name: `auth` or `sign`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRef::Auth => "auth",
            KeyRef::Sign => "sign",
        }
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyRef::Auth => "user-authentication (利用者証明用)",
            KeyRef::Sign => "signature (署名用)",
        })
    }
}

/// The state of one PIN, as `VERIFY` with no data reports it (`63 Cx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinStatus {
    /// Tries left before the PIN locks (0 when locked).
    pub tries_left: u8,
    /// Tries a fresh PIN has (3 for auth, 5 for sign).
    pub max_tries: u8,
    /// No tries left: only the municipal window can unlock it.
    pub locked: bool,
}

/// What a JPKI card does (the JPKI application as middleware such as OpenSC sees it).
///
/// Methods that need a PIN return [`CardError::PinRequired`] until
/// [`verify_pin`](JpkiCard::verify_pin) succeeded for that slot, and again after
/// [`reset_security_state`](JpkiCard::reset_security_state).
pub trait JpkiCard: Send {
    /// The token string, `JPKIAPICCTOKEN2`.
    fn token_string(&self) -> &str;

    /// Tries left for a PIN, like `VERIFY` with no data (`63 Cx`). Does not use a try.
    ///
    /// # Errors
    /// I/O or token errors.
    fn pin_status(&self, which: KeyRef) -> Result<PinStatus, CardError>;

    /// Verifies a PIN. A wrong PIN uses up a try durably *before* the answer; the last
    /// try locks the PIN ([`CardError::Locked`]); success restores all tries. A wrong
    /// PIN also forgets an earlier successful verification of that PIN.
    ///
    /// # Errors
    /// [`CardError::PinFormat`] (no try used), [`CardError::WrongPin`],
    /// [`CardError::Locked`], I/O or token errors.
    fn verify_pin(&mut self, which: KeyRef, pin: &str) -> Result<(), CardError>;

    /// Forgets verified PINs, as a re-`SELECT` of the JPKI application does.
    fn reset_security_state(&mut self);

    /// Generates an RSA-2048 key pair (e = 65537) on the card and returns its public
    /// key as DER `SubjectPublicKeyInfo`. Needs the slot's PIN. Fails with
    /// [`CardError::KeyExists`] if the slot has a key: the window removes it first with
    /// [`clear_slot`](JpkiCard::clear_slot).
    ///
    /// # Errors
    /// [`CardError::PinRequired`], [`CardError::KeyExists`],
    /// [`CardError::Unsupported`] on a real card, crypto, I/O or token errors.
    fn generate_key_pair(&mut self, which: KeyRef) -> Result<Vec<u8>, CardError>;

    /// The slot's public key as DER `SubjectPublicKeyInfo`, if it has a key. No PIN.
    ///
    /// # Errors
    /// I/O or token errors.
    fn public_key(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError>;

    /// Signs a DER `DigestInfo` (SHA-256/384/512) with raw RSA PKCS#1 v1.5 (the card
    /// does not hash) and returns the 256-byte signature. Needs the slot's PIN.
    ///
    /// # Errors
    /// [`CardError::PinRequired`], [`CardError::Malformed`] for anything that is not
    /// such a `DigestInfo`, [`CardError::NoKey`], crypto, I/O or token errors.
    fn sign_digest_info(&mut self, which: KeyRef, digest_info: &[u8])
    -> Result<Vec<u8>, CardError>;

    /// The slot's certificate (DER). The auth certificate is readable by anyone; the
    /// signature certificate only after the signature PIN was verified.
    ///
    /// # Errors
    /// [`CardError::PinRequired`] for the signature certificate, I/O or token errors.
    fn read_certificate(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError>;

    /// The certificate (DER) of the CA that issued the slot's certificate. No PIN.
    ///
    /// # Errors
    /// I/O or token errors.
    fn read_ca_certificate(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError>;

    /// Writes the slot's certificate and its CA's certificate (window only). Needs the
    /// slot's PIN and a key in the slot; replaces certificates already there. Both must
    /// be DER X.509 certificates (their structure is checked, not their content).
    ///
    /// # Errors
    /// [`CardError::PinRequired`], [`CardError::NoKey`], [`CardError::Malformed`],
    /// [`CardError::Unsupported`] on a real card, I/O or token errors.
    fn write_certificates(
        &mut self,
        which: KeyRef,
        cert_der: &[u8],
        ca_cert_der: &[u8],
    ) -> Result<(), CardError>;

    /// Removes the slot's key and certificates (window: re-issue or renewal). Needs the
    /// slot's PIN. The PIN stays.
    ///
    /// # Errors
    /// [`CardError::PinRequired`], [`CardError::Unsupported`] on a real card, I/O or
    /// token errors.
    fn clear_slot(&mut self, which: KeyRef) -> Result<(), CardError>;

    /// Changes a PIN. The old PIN is checked like [`verify_pin`](JpkiCard::verify_pin)
    /// (a wrong one uses a try); on success the slot counts as verified.
    ///
    /// # Errors
    /// [`CardError::PinFormat`] for either PIN, [`CardError::WrongPin`],
    /// [`CardError::Locked`], I/O or token errors.
    fn change_pin(&mut self, which: KeyRef, old: &str, new: &str) -> Result<(), CardError>;

    /// Unblocks a PIN at the municipal window: sets `new_pin`, restores all tries and
    /// **empties the slot** (key and certificates), so the window issues anew. The
    /// caller (the window) authorises this; the card does not ask for the old PIN.
    /// Leaves the slot unverified.
    ///
    /// # Errors
    /// [`CardError::PinFormat`], [`CardError::Unsupported`] where the card cannot be
    /// unblocked through this API, I/O or token errors.
    fn unblock_pin(&mut self, which: KeyRef, new_pin: &str) -> Result<(), CardError>;
}

/// Checks a PIN's format: the auth PIN is exactly 4 digits; the signature PIN is 6–16
/// characters, each an upper-case ASCII letter or a digit. The error never repeats the
/// PIN.
///
/// # Errors
/// [`CardError::PinFormat`] saying what is wrong.
pub fn validate_pin(which: KeyRef, pin: &str) -> Result<(), CardError> {
    let fail = |reason: &str| {
        Err(CardError::PinFormat {
            which,
            reason: reason.to_owned(),
        })
    };
    let len = pin.chars().count();
    match which {
        KeyRef::Auth => {
            if len != 4 {
                return fail("the user-authentication PIN is exactly 4 digits");
            }
            if !pin.bytes().all(|b| b.is_ascii_digit()) {
                return fail("the user-authentication PIN has digits only");
            }
        }
        KeyRef::Sign => {
            if !(6..=16).contains(&len) {
                return fail("the signature PIN is 6 to 16 characters long");
            }
            if !pin
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return fail("the signature PIN has upper-case letters A-Z and digits 0-9 only");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pin_formats() {
        assert!(validate_pin(KeyRef::Auth, "1234").is_ok());
        assert!(validate_pin(KeyRef::Auth, "0000").is_ok());
        for bad in ["", "123", "12345", "12a4", "１２３４", "12 4"] {
            assert!(
                matches!(
                    validate_pin(KeyRef::Auth, bad),
                    Err(CardError::PinFormat {
                        which: KeyRef::Auth,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(validate_pin(KeyRef::Sign, "ABC123").is_ok());
        assert!(validate_pin(KeyRef::Sign, "A234567890123456").is_ok());
        for bad in [
            "ABC12",
            "abc123",
            "A2345678901234567",
            "ABC-123",
            "ＡＢＣ１２３",
        ] {
            assert!(
                matches!(
                    validate_pin(KeyRef::Sign, bad),
                    Err(CardError::PinFormat {
                        which: KeyRef::Sign,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pin_format_error_does_not_repeat_the_pin() {
        let Err(e) = validate_pin(KeyRef::Sign, "secret7") else {
            unreachable!()
        };
        assert!(!e.to_string().contains("secret7"));
    }
}
