//! One error shape for every endpoint: `{"error": {"code", "message", "field"?, "rows"?}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use honnin_auth::AuthError;
use honnin_registry::{RegistryError, RowError};
use honnin_store::StoreError;
use serde::Serialize;

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable, machine-readable code (`invalid`, `forbidden`, `not-found`, …).
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub rows: Vec<RowError>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    rows: &'a [RowError],
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            rows: Vec::new(),
        }
    }
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid", message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
                rows: &self.rows,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"honnin\""),
            );
        }
        resp
    }
}

fn store_error(e: &StoreError) -> ApiError {
    match e {
        StoreError::Concurrent(m) => ApiError::new(
            StatusCode::CONFLICT,
            "concurrent-update",
            format!("{m}: retry"),
        ),
        StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m.clone()),
        StoreError::AuditUnavailable(_) => {
            tracing::error!(error = %e, "refusing: audit log unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit-unavailable",
                "the audit log is unavailable; nothing is served unlogged",
            )
        }
        _ => {
            tracing::error!(error = %e, "storage error");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal storage error",
            )
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let field = e.field_name().map(str::to_string);
        match e {
            RegistryError::Invalid(_) | RegistryError::Field { .. } => ApiError {
                field,
                ..ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.to_string())
            },
            RegistryError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            RegistryError::Forbidden { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            RegistryError::Conflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            RegistryError::Import { errors } => ApiError {
                rows: errors,
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "import-refused",
                    "import refused; no row was written",
                )
            },
            RegistryError::Store(s) => store_error(&s),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing
            | AuthError::Invalid
            | AuthError::SessionLocked { .. }
            | AuthError::Disabled => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string())
            }
            AuthError::Forbidden(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            AuthError::Field { field, .. } => ApiError::bad_request(field, e.to_string()),
            AuthError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            AuthError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            AuthError::Store(s) => store_error(&s),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl From<honnin_core::CoreError> for ApiError {
    fn from(e: honnin_core::CoreError) -> Self {
        ApiError::bad_request(e.field(), e.to_string())
    }
}

impl From<honnin_ca::CaError> for ApiError {
    fn from(e: honnin_ca::CaError) -> Self {
        use honnin_ca::CaError as E;
        match e {
            E::Field { field, .. } | E::Request { field, .. } => {
                ApiError::bad_request(field, e.to_string())
            }
            E::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not-found", e.to_string()),
            E::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            E::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            E::FactsMismatch { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "facts-mismatch",
                e.to_string(),
            ),
            E::Store(s) => store_error(&s),
            E::Pki(_) | E::KeyStore(_) => {
                tracing::error!(error = %e, "CA failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the CA could not sign",
                )
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}
