//! Routes and handlers.

use axum::extract::rejection::JsonRejection;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Path, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use honnin_auth::{AuthError, NewOperator};
use honnin_core::{Actor, LocalGovCode, MyNumber};
use honnin_registry::{
    Agency, ChangeRequest, ImportRow, LegalBasis, NewResident, ProvisionRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::{ApiError, AppState, OPENAPI};

/// JSON body whose rejection (malformed JSON, wrong types) is a 400 naming the problem.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => {
                let status = if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                let text = rej.body_text();
                let field = if matches!(rej, JsonRejection::JsonDataError(_)) {
                    field_of(&text)
                } else {
                    None
                };
                Err(ApiError {
                    field,
                    ..ApiError::new(status, "invalid", format!("request body: {text}"))
                })
            }
        }
    }
}

/// The field a body's deserialisation error is about: the last segment of the serde
/// path (`query.facts.birth_date: …`), the field a domain error names (`name: …`, the
/// only clue inside flattened structs), or the missing field (``missing field `x` ``).
fn field_of(text: &str) -> Option<String> {
    let detail = text.split_once("target type: ").map_or(text, |(_, d)| d);
    if let Some((_, rest)) = detail.split_once("missing field `") {
        return rest
            .split_once('`')
            .map(|(f, _)| f.to_string())
            .filter(|f| !f.is_empty());
    }
    let (head, _) = detail.split_once(": ")?;
    let is_path = !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c));
    if !is_path {
        return None;
    }
    let last = head.rsplit('.').next().unwrap_or(head);
    let last = last.split('[').next().unwrap_or(last);
    (!last.is_empty()).then(|| last.to_string())
}

/// Query string whose rejection is a 400 in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => {
                let text = rej.body_text();
                let field = text
                    .split_once("Failed to deserialize query string: ")
                    .and_then(|(_, d)| d.split_once(": "))
                    .map(|(f, _)| f.to_string())
                    .filter(|f| f.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
                Err(ApiError {
                    field,
                    ..ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("query: {text}"))
                })
            }
        }
    }
}

/// The authenticated operator of a request (`Authorization: Bearer …`).
pub struct Authed(pub Actor);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AuthError::Missing)?;
        Ok(Authed(state.auth.authenticate(token).await?))
    }
}

fn bearer(parts: &axum::http::HeaderMap) -> Option<String> {
    parts
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
}

fn my_number(s: &str) -> Result<MyNumber, ApiError> {
    Ok(MyNumber::parse(s)?)
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/session/login", post(login))
        .route("/session/logout", post(logout))
        .route("/whoami", get(whoami))
        .route("/operators", get(list_operators).post(create_operator))
        .route("/operators/{id}/tokens", post(issue_token))
        .route("/operators/{id}/disable", post(disable_operator))
        .route("/agencies", get(list_agencies))
        .route("/agencies/{id}", put(put_agency))
        .route("/residents", get(list_residents).post(register))
        .route(
            "/residents/import",
            post(import).layer(DefaultBodyLimit::max(128 * 1024 * 1024)),
        )
        .route("/residents/{my_number}", get(get_resident))
        .route("/residents/{my_number}/changes", post(change))
        .route("/residents/{my_number}/disclosure", get(disclose))
        .route(
            "/residents/{my_number}/corrections",
            post(request_correction),
        )
        .route("/corrections/{id}", post(update_correction))
        .route("/provisions", post(provide))
        .route("/audit", get(audit_page))
        .route("/audit/verify", get(audit_verify))
        .route("/audit/purge", post(audit_purge))
        .route("/outbox", get(outbox))
        .route("/ca/rollover", post(ca_rollover))
        .route("/window/issue", post(window_issue))
        .route("/residents/{my_number}/certificates", get(certificates_of))
        .route("/certificates/{serial}/revoke", post(revoke))
        .route("/ca/crls", post(publish_crls))
        .route(
            "/verify",
            post(crate::verify::verify).layer(DefaultBodyLimit::max(96 * 1024 * 1024)),
        )
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/ca/certificates", get(ca_certificates))
        .merge(revocation_routes())
        .method_not_allowed_fallback(method_not_allowed)
        .nest("/api/v1", api)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
        })
        .layer(
            // Spans carry the route template, never the path: paths hold 個人番号.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_else(|| "unmatched".into());
                tracing::info_span!("request", method = %req.method(), route = %route)
            }),
        )
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this endpoint does not take that method",
    )
}

async fn healthz(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    st.store.ping().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "database unreachable",
        )
    })?;
    let backend = match st.store.backend() {
        honnin_store::Backend::Sqlite => "sqlite",
        honnin_store::Backend::Postgres => "postgres",
    };
    Ok(Json(
        json!({ "status": "ok", "database": backend, "version": env!("CARGO_PKG_VERSION") }),
    ))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[derive(Deserialize)]
struct LoginBody {
    operator: String,
    password: String,
    totp: String,
}

async fn login(
    State(st): State<AppState>,
    ApiJson(b): ApiJson<LoginBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = st.auth.login(&b.operator, &b.password, &b.totp).await?;
    Ok(Json(
        json!({ "token": token, "idle_timeout_seconds": st.auth.idle_timeout().as_secs() }),
    ))
}

async fn logout(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers).ok_or(AuthError::Missing)?;
    st.auth.authenticate(&token).await?;
    st.auth.logout(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn whoami(Authed(a): Authed) -> Json<Actor> {
    Json(a)
}

async fn list_operators(
    State(st): State<AppState>,
    Authed(a): Authed,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.auth.operators(&a).await?))
}

async fn create_operator(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiJson(b): ApiJson<NewOperator>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(st.auth.create_operator(&a, b).await?),
    ))
}

#[derive(Deserialize)]
struct TokenBody {
    #[serde(default)]
    label: String,
}

async fn issue_token(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TokenBody>,
) -> Result<impl IntoResponse, ApiError> {
    let token = st.auth.issue_token(&a, &id, &b.label).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "operator": id, "token": token })),
    ))
}

async fn disable_operator(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.auth.disable(&a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct AgencyOut {
    #[serde(flatten)]
    agency: Agency,
    bases: Vec<LegalBasis>,
}

async fn list_agencies(
    State(st): State<AppState>,
    Authed(a): Authed,
) -> Result<impl IntoResponse, ApiError> {
    let list = st.registry.agencies(&a).await?;
    Ok(Json(
        list.into_iter()
            .map(|(agency, bases)| AgencyOut { agency, bases })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
struct BasisIn {
    code: String,
    #[serde(default)]
    description: String,
    items: Vec<String>,
}

#[derive(Deserialize)]
struct AgencyIn {
    name: String,
    #[serde(default)]
    bases: Vec<BasisIn>,
}

async fn put_agency(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AgencyIn>,
) -> Result<StatusCode, ApiError> {
    let bases = b
        .bases
        .into_iter()
        .map(|x| LegalBasis {
            agency: id.clone(),
            code: x.code,
            description: x.description,
            items: x.items,
        })
        .collect();
    st.registry
        .configure_agency(&a, Agency { id, name: b.name }, bases)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ListQuery {
    municipality: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_residents(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let muni = q
        .municipality
        .as_deref()
        .map(LocalGovCode::parse)
        .transpose()?;
    let after = q.after.as_deref().map(my_number).transpose()?;
    let rows = st
        .registry
        .list(&a, muni.as_ref(), after.as_ref(), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(rows))
}

async fn register(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiJson(b): ApiJson<NewResident>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(st.registry.register(&a, b).await?),
    ))
}

#[derive(Deserialize)]
struct ImportBody {
    #[serde(default = "one")]
    first_row: usize,
    rows: Vec<ImportRow>,
}

fn one() -> usize {
    1
}

async fn import(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiJson(b): ApiJson<ImportBody>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.registry.import(&a, &b.rows, b.first_row).await?))
}

async fn get_resident(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(n): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.registry.get(&a, &my_number(&n)?).await?))
}

async fn change(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(n): Path<String>,
    ApiJson(b): ApiJson<ChangeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.registry.change(&a, &my_number(&n)?, b).await?))
}

async fn disclose(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(n): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.registry.disclose(&a, &my_number(&n)?).await?))
}

#[derive(Deserialize)]
struct CorrectionIn {
    fields: Vec<String>,
    detail: String,
}

async fn request_correction(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(n): Path<String>,
    ApiJson(b): ApiJson<CorrectionIn>,
) -> Result<impl IntoResponse, ApiError> {
    let r = st
        .registry
        .request_correction(&a, &my_number(&n)?, b.fields, b.detail)
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Deserialize)]
struct CorrectionUpdate {
    status: String,
    #[serde(default)]
    note: String,
}

async fn update_correction(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CorrectionUpdate>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        st.registry
            .update_correction(&a, &id, &b.status, b.note)
            .await?,
    ))
}

async fn provide(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiJson(b): ApiJson<ProvisionRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.registry.provide(&a, b).await?))
}

#[derive(Deserialize)]
struct PageQuery {
    after: Option<i64>,
    kind: Option<String>,
    topic: Option<String>,
    limit: Option<i64>,
}

async fn audit_page(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        st.registry
            .audit_page(
                &a,
                q.after.unwrap_or(0),
                q.kind.as_deref(),
                q.limit.unwrap_or(100),
            )
            .await?,
    ))
}

async fn audit_verify(
    State(st): State<AppState>,
    Authed(a): Authed,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.registry.verify_log(&a).await?))
}

async fn audit_purge(
    State(st): State<AppState>,
    Authed(a): Authed,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.registry.purge_expired_log(&a).await?))
}

async fn outbox(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        st.registry
            .outbox_page(
                &a,
                q.after.unwrap_or(0),
                q.topic.as_deref(),
                q.limit.unwrap_or(100),
            )
            .await?,
    ))
}

/// CA and link certificates: public, for relying parties.
async fn ca_certificates(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.ca.published().await?))
}

async fn ca_rollover(
    State(st): State<AppState>,
    Authed(a): Authed,
) -> Result<impl IntoResponse, ApiError> {
    let ids = st.ca.rollover(&a).await?;
    Ok((StatusCode::CREATED, Json(json!({ "created": ids }))))
}

async fn window_issue(
    State(st): State<AppState>,
    Authed(a): Authed,
    ApiJson(b): ApiJson<honnin_ca::IssueRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(st.ca.issue(&a, b).await?)))
}

async fn certificates_of(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(n): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(st.ca.certificates_of(&a, &my_number(&n)?).await?))
}

/// OCSP and CRL serving: public, for relying parties.
fn revocation_routes() -> Router<AppState> {
    Router::new()
        .route("/crl/{ca_id}/{file}", get(crl))
        .route("/ocsp", post(ocsp_post))
        .route("/ocsp/{kind}", post(ocsp_post))
        .route("/ocsp/{kind}/{request}", get(ocsp_get))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// The router of `serve --role ocsp`: OCSP, CRLs and health only.
pub fn ocsp_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(revocation_routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
        })
        .with_state(state)
}

async fn crl(
    State(st): State<AppState>,
    Path((ca_id, file)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let scope = file.strip_suffix(".crl").ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "CRLs are named <scope>.crl",
        )
    })?;
    let row = st.ca.crl(&ca_id, scope).await?;
    let etag = format!("\"{}-{}\"", row.crl_number, row.this_update.as_second());
    let max_age = row
        .next_update
        .duration_since(st.clock.now())
        .as_secs()
        .clamp(0, 3600);
    let cache = format!("public, max-age={max_age}");
    // A list of tags, weak ones (`W/"…"`, as caches in front of the OCSP role send
    // after recompressing) or `*` (RFC 9110 §13.1.2).
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag);
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/pkix-crl".to_string()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        row.der,
    )
        .into_response())
}

fn ocsp_answer(der: Vec<u8>) -> axum::response::Response {
    ([(header::CONTENT_TYPE, "application/ocsp-response")], der).into_response()
}

async fn ocsp_post(
    State(st): State<AppState>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    // Over 64 KiB (or an unreadable body): the API's error shape, not axum's plain text.
    let body = body.map_err(|rej| {
        ApiError::new(
            rej.status(),
            "invalid",
            format!("OCSP request body: {}", rej.body_text()),
        )
    })?;
    Ok(ocsp_answer(st.ca.ocsp_respond(&body).await))
}

async fn ocsp_get(
    State(st): State<AppState>,
    Path((_kind, request)): Path<(String, String)>,
) -> axum::response::Response {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(request.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(request.as_bytes()));
    match decoded {
        Ok(der) => ocsp_answer(st.ca.ocsp_respond(&der).await),
        Err(_) => ocsp_answer(honnin_pki::ocsp_error_response(
            honnin_pki::OcspResponseStatus::MalformedRequest,
        )),
    }
}

#[derive(Deserialize)]
struct RevokeBody {
    reason: String,
}

async fn revoke(
    State(st): State<AppState>,
    Authed(a): Authed,
    Path(serial): Path<String>,
    ApiJson(b): ApiJson<RevokeBody>,
) -> Result<StatusCode, ApiError> {
    st.ca.revoke(&a, &serial, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn publish_crls(
    State(st): State<AppState>,
    Authed(a): Authed,
) -> Result<impl IntoResponse, ApiError> {
    if a.role != honnin_core::Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an admin may publish CRLs on demand",
        ));
    }
    Ok(Json(json!({ "published": st.ca.publish_crls().await? })))
}
