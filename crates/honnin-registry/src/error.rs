use honnin_core::CoreError;
use honnin_store::StoreError;

/// Why a registry operation was refused or failed. Every variant but `Store` is the
/// caller's doing and maps to a 4xx; none of them leaves a trace in the data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A field failed validation.
    #[error(transparent)]
    Invalid(#[from] CoreError),
    /// A field is missing or does not fit the operation.
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The actor's role or scope does not allow this.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    /// The record's state does not allow this change (e.g. a deceased resident moving).
    #[error("conflict: {reason}")]
    Conflict { reason: String },
    /// A bulk import was refused; no row of the batch was written.
    #[error("import refused: {} row(s) invalid", errors.len())]
    Import { errors: Vec<RowError> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistryError {
    pub fn field(field: &'static str, reason: impl Into<String>) -> Self {
        RegistryError::Field {
            field,
            reason: reason.into(),
        }
    }
    pub fn forbidden(reason: impl Into<String>) -> Self {
        RegistryError::Forbidden {
            reason: reason.into(),
        }
    }
    pub fn conflict(reason: impl Into<String>) -> Self {
        RegistryError::Conflict {
            reason: reason.into(),
        }
    }
    /// The field a validation error is about, if any.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            RegistryError::Invalid(e) => Some(e.field()),
            RegistryError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// One rejected row of an import, numbered from 1 as in the file (header excluded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub message: String,
}
