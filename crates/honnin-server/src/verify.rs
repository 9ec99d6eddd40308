//! `POST /api/v1/verify`: agencies verify signed applications against this
//! server's CAs, with revocation answered in-process by the CA's own OCSP
//! responder and CRLs (the same checks as over HTTP: responses are parsed and
//! their signatures verified like any other). Also [`HttpFetcher`], the
//! relying party's fetcher over HTTP (`honnin verify`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use base64::Engine;
use honnin_ca::CaService;
use honnin_verify::{
    ExpectedFacts, FetchFuture, Fetcher, RevocationMode, TrustStore, Verifier, VerifierConfig,
    VerifyRequest,
};
use serde::Deserialize;

use crate::api::{ApiJson, Authed};
use crate::{ApiError, AppState};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The CMS SignedData, base64.
    signed: String,
    /// The content of a detached signature, base64.
    #[serde(default)]
    content: Option<String>,
    /// The agency's recorded receipt time (proof of existence), RFC 3339.
    #[serde(default)]
    received_at: Option<jiff::Timestamp>,
    /// Validate at this time instead of now.
    #[serde(default)]
    at: Option<jiff::Timestamp>,
    /// The form's fields.
    #[serde(default)]
    expected: ExpectedFacts,
    /// `hard` (default) or `soft`.
    #[serde(default)]
    revocation: Option<String>,
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| ApiError::bad_request(field, format!("not base64: {e}")))
}

/// Fetches revocation data over HTTP (plain `http://`, as CRL and OCSP URLs are by convention), with a
/// 10 s timeout and a 64 MiB cap.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
}

const MAX_FETCH: usize = 64 * 1024 * 1024;

impl HttpFetcher {
    /// A fetcher with its own connection pool.
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpFetcher { client })
    }

    async fn body(resp: reqwest::Response, url: &str) -> Result<Vec<u8>, String> {
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        if resp.content_length().is_some_and(|l| l > MAX_FETCH as u64) {
            return Err(format!("{url}: more than {MAX_FETCH} octets"));
        }
        let b = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if b.len() > MAX_FETCH {
            return Err(format!("{url}: more than {MAX_FETCH} octets"));
        }
        Ok(b.to_vec())
    }
}

impl Fetcher for HttpFetcher {
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            let r = self
                .client
                .get(url)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            Self::body(r, url).await
        })
    }

    fn post_ocsp<'a>(&'a self, url: &'a str, request: Vec<u8>) -> FetchFuture<'a> {
        Box::pin(async move {
            let r = self
                .client
                .post(url)
                .header("content-type", "application/ocsp-request")
                .body(request)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            Self::body(r, url).await
        })
    }
}

/// Answers CRL and OCSP URLs of this server from the CA service.
struct InProcess {
    ca: CaService,
}

/// The path of an `http://host[:port]/path` URL.
fn url_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    rest.find('/').map(|i| &rest[i..])
}

impl Fetcher for InProcess {
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            let path = url_path(url).ok_or_else(|| format!("{url}: not an http URL"))?;
            let mut parts = path.trim_start_matches('/').split('/');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("crl"), Some(ca_id), Some(file), None) => {
                    let scope = file
                        .strip_suffix(".crl")
                        .ok_or_else(|| format!("{url}: not a CRL of this CA"))?;
                    let row = self
                        .ca
                        .crl(ca_id, scope)
                        .await
                        .map_err(|e| format!("{url}: {e}"))?;
                    Ok(row.der)
                }
                _ => Err(format!("{url}: not a CRL of this CA")),
            }
        })
    }

    fn post_ocsp<'a>(&'a self, url: &'a str, request: Vec<u8>) -> FetchFuture<'a> {
        Box::pin(async move {
            let path = url_path(url).ok_or_else(|| format!("{url}: not an http URL"))?;
            if !path.starts_with("/ocsp") {
                return Err(format!("{url}: not an OCSP URL of this CA"));
            }
            Ok(self.ca.ocsp_respond(&request).await)
        })
    }
}

pub(crate) async fn verify(
    State(st): State<AppState>,
    Authed(actor): Authed,
    ApiJson(b): ApiJson<VerifyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let signed = b64("signed", &b.signed)?;
    let content = b
        .content
        .as_deref()
        .map(|c| b64("content", c))
        .transpose()?;
    let revocation = match b.revocation.as_deref() {
        None | Some("hard") => RevocationMode::HardFail,
        Some("soft") => RevocationMode::SoftFail,
        Some(_) => {
            return Err(ApiError::bad_request(
                "revocation",
                "expected \"hard\" or \"soft\"",
            ));
        }
    };
    let mut trust = TrustStore::default();
    for der in st.ca.relying_party_certificates().await? {
        trust.add(der);
    }
    let verifier = Verifier::new(VerifierConfig {
        trust,
        revocation,
        offline_crls: Vec::new(),
        fetcher: Some(Arc::new(InProcess { ca: st.ca.clone() })),
        // Next to the CA: always ask it afresh.
        max_cache_age: Some(jiff::SignedDuration::ZERO),
    });
    let req = VerifyRequest {
        signed,
        content,
        received_at: b.received_at,
        at: b.at,
        expected: b.expected,
    };
    let report = verifier
        .verify(&req, st.clock.now())
        .await
        .map_err(|e| ApiError::bad_request("received_at", e.to_string()))?;
    // Who verified whose signature is logged (and durable) before the report,
    // which repeats the certificate's facts, leaves.
    if let Some(signer) = report.chain.first() {
        let outcome = match report.sub_indication_str() {
            Some(sub) => format!("{}/{sub}", report.indication.as_str()),
            None => report.indication.as_str().to_owned(),
        };
        st.ca
            .log_verification(&actor, &signer.serial, &outcome)
            .await?;
    }
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::url_path;

    #[test]
    fn url_paths() {
        assert_eq!(url_path("http://h:8080/crl/a/b.crl"), Some("/crl/a/b.crl"));
        assert_eq!(url_path("http://h/ocsp"), Some("/ocsp"));
        assert_eq!(url_path("ftp://h/ocsp"), None);
        assert_eq!(url_path("http://h"), None);
    }
}
