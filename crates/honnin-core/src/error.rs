//! The crate's error type.

/// A domain value failed validation.
///
/// Every variant names the field it is about (see [`CoreError::field`]), using the
/// field names of the API (`"my_number"`, `"birth_date"`, …), so that a caller can
/// point a form's user at the right input. Messages never contain the rejected
/// value itself: a mistyped My Number must not end up in a log through its error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The value is malformed or out of range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field the value was for.
        field: &'static str,
        /// What is wrong, in English, without repeating the value.
        reason: String,
    },
    /// The value is well-formed but its check digit does not match (most likely a typo).
    #[error("{field}: check digit does not match (mistyped digit?)")]
    CheckDigit {
        /// The field the value was for.
        field: &'static str,
    },
}

impl CoreError {
    /// Builds a [`CoreError::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        CoreError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The name of the field this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            CoreError::Invalid { field, .. } | CoreError::CheckDigit { field } => field,
        }
    }
}
