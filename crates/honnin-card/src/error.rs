//! The card's error type.

use crate::KeyRef;

/// Everything a card operation can fail with. Messages never repeat a PIN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The PIN was wrong; `tries_left` more wrong PINs lock it.
    #[error("wrong {which} PIN: {tries_left} {} left before it locks", if *.tries_left == 1 { "try" } else { "tries" })]
    WrongPin {
        /// Which PIN.
        which: KeyRef,
        /// Tries left (at least 1; 0 is [`CardError::Locked`]).
        tries_left: u8,
    },
    /// No tries left.
    #[error("the {which} PIN is locked; unlock it at the municipal window")]
    Locked {
        /// Which PIN.
        which: KeyRef,
    },
    /// The PIN does not have the format of that PIN (no try was used).
    #[error("{which} PIN refused: {reason}")]
    PinFormat {
        /// Which PIN.
        which: KeyRef,
        /// What is wrong, without the PIN itself.
        reason: String,
    },
    /// The operation needs that PIN verified first.
    #[error("the {which} PIN must be verified first")]
    PinRequired {
        /// Which PIN.
        which: KeyRef,
    },
    /// The slot has no key pair.
    #[error("the {which} slot has no key pair")]
    NoKey {
        /// Which slot.
        which: KeyRef,
    },
    /// The slot already has a key pair; the window clears the slot before re-issue.
    #[error("the {which} slot already has a key pair; clear the slot at the window to re-issue")]
    KeyExists {
        /// Which slot.
        which: KeyRef,
    },
    /// Input or stored data that is not what it must be: a `DigestInfo` that is not a
    /// SHA-256/384/512 `DigestInfo`, a certificate that is not DER X.509, a corrupt card
    /// file.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The card cannot do this (e.g. a real My Number card, whose keys J-LIS makes at
    /// issuance, cannot generate keys or take certificates through this API).
    #[error("not supported by this card: {0}")]
    Unsupported(String),
    /// Reading or writing the card file.
    #[error("card file: {0}")]
    Io(String),
    /// The PKCS#11 module or token.
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(String),
}
