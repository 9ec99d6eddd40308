//! A small HTTP client for the honnin API.

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// An API error as the server reported it.
#[derive(Debug)]
pub struct ServerError {
    pub status: u16,
    pub body: serde_json::Value,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = &self.body["error"];
        let msg = e["message"].as_str().unwrap_or("(no message)");
        write!(f, "HTTP {}: {msg}", self.status)?;
        if let Some(rows) = e["rows"].as_array() {
            for r in rows.iter().take(50) {
                write!(
                    f,
                    "\n  row {}: {}: {}",
                    r["row"],
                    r["field"].as_str().unwrap_or(""),
                    r["message"].as_str().unwrap_or("")
                )?;
            }
            if rows.len() > 50 {
                write!(f, "\n  … and {} more", rows.len() - 50)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// The token to use: the flag/env value, else `DATA_DIR/admin.token`.
pub fn resolve_token(token: Option<String>, data_dir: &Path) -> Option<String> {
    token.or_else(|| {
        std::fs::read_to_string(data_dir.join("admin.token"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            http: reqwest::Client::builder().build().context("HTTP client")?,
        })
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    async fn send<T: DeserializeOwned>(&self, r: reqwest::RequestBuilder) -> Result<T> {
        let resp = r
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the response")?;
        if !status.is_success() {
            let body = serde_json::from_slice(&bytes).unwrap_or_else(
                |_| serde_json::json!({ "error": { "message": String::from_utf8_lossy(&bytes) } }),
            );
            return Err(anyhow!(ServerError {
                status: status.as_u16(),
                body
            }));
        }
        if bytes.is_empty() {
            return serde_json::from_value(serde_json::Value::Null).context("empty response");
        }
        serde_json::from_slice(&bytes).context("decoding the response")
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.send(self.req(reqwest::Method::POST, path).json(body))
            .await
    }

    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.send(self.req(reqwest::Method::PUT, path).json(body))
            .await
    }
}
