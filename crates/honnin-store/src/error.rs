/// What went wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("I/O: {0}")]
    Io(String),
    /// A uniqueness rule was violated (e.g. a duplicate 個人番号).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data could not be decoded into a domain value.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A concurrent writer changed the row first.
    #[error("concurrent update of {0}; retry")]
    Concurrent(String),
    /// The audit writer has stopped; nothing may be served unlogged.
    #[error("audit log unavailable: {0}")]
    AuditUnavailable(String),
}

impl StoreError {
    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

impl From<honnin_core::CoreError> for StoreError {
    fn from(e: honnin_core::CoreError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
