//! Revocation information for a relying party: OCSP first, CRLs from the
//! certificate's distribution points, CRLs given offline; cached until their
//! nextUpdate. The fetching itself is behind [`Fetcher`], so a server can
//! answer from its own CA in-process and a CLI over HTTP.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use honnin_pki::path::{
    CertInfo, PathOptions, RevocationChecker, RevocationSource, RevocationStatus,
};
use honnin_pki::{CertStatus, Certificate, DigestAlgorithm, HashAlgorithm};
use jiff::{SignedDuration, Timestamp};

/// A fetch in progress.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + 'a>>;

/// Gets revocation data: a CRL by URL, an OCSP response for a request.
pub trait Fetcher: Send + Sync {
    /// GET `url` (a CRL).
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
    /// POST an OCSP request (DER) to `url`; the response DER.
    fn post_ocsp<'a>(&'a self, url: &'a str, request: Vec<u8>) -> FetchFuture<'a>;
}

/// How long data without a nextUpdate is kept.
const NO_NEXT_UPDATE_TTL: SignedDuration = SignedDuration::from_secs(300);

#[derive(Clone)]
struct CachedCrl {
    der: Vec<u8>,
    keep_until: Timestamp,
}

#[derive(Clone)]
struct CachedOcsp {
    status: RevocationStatus,
    url: String,
    keep_until: Timestamp,
}

/// Fetched CRLs (by URL) and OCSP answers (by certificate), each kept until its
/// nextUpdate.
#[derive(Default)]
pub struct RevocationCache {
    crls: Mutex<HashMap<String, CachedCrl>>,
    ocsp: Mutex<HashMap<Vec<u8>, CachedOcsp>>,
    max_age: Option<SignedDuration>,
}

impl RevocationCache {
    /// A cache keeping entries until their nextUpdate, and at most `max_age`.
    pub fn new(max_age: Option<SignedDuration>) -> Self {
        RevocationCache {
            max_age,
            ..Default::default()
        }
    }

    fn keep_until(&self, next_update: Option<Timestamp>, now: Timestamp) -> Timestamp {
        let t = next_update.unwrap_or(now + NO_NEXT_UPDATE_TTL);
        match self.max_age {
            Some(m) => t.min(now + m),
            None => t,
        }
    }
}

fn cert_key(der: &[u8]) -> Vec<u8> {
    DigestAlgorithm::Sha256.digest(der)
}

/// The revocation information gathered for one chain.
#[derive(Clone)]
pub struct Evidence {
    /// OCSP answers by certificate hash, with the responder URL.
    ocsp: HashMap<Vec<u8>, (RevocationStatus, String)>,
    crls: Arc<honnin_pki::path::CrlSet>,
    /// The distribution point each certificate's CRL was fetched from (by
    /// certificate hash); certificates checked with CRLs given offline have none.
    crl_locations: HashMap<Vec<u8>, String>,
    /// Fetch failures, for the report.
    pub problems: Vec<String>,
}

impl Evidence {
    /// The OCSP responder URL an answer for `cert_der` came from.
    pub fn ocsp_location(&self, cert_der: &[u8]) -> Option<&str> {
        self.ocsp.get(&cert_key(cert_der)).map(|(_, u)| u.as_str())
    }

    /// The CRL distribution point fetched for `cert_der`, if one was.
    pub fn crl_location(&self, cert_der: &[u8]) -> Option<&str> {
        self.crl_locations
            .get(&cert_key(cert_der))
            .map(String::as_str)
    }
}

impl RevocationChecker for Evidence {
    fn status(
        &self,
        cert: &CertInfo,
        cert_der: &[u8],
        issuer_der: &[u8],
        opts: &PathOptions,
    ) -> RevocationStatus {
        if let Some((s, _)) = self.ocsp.get(&cert_key(cert_der)) {
            return s.clone();
        }
        self.crls.status(cert, cert_der, issuer_der, opts)
    }
}

impl RevocationCache {
    /// Gathers OCSP answers and CRLs for each (certificate, issuer) pair:
    /// from the cache, else from `fetcher` (when given), plus `offline` CRLs.
    pub async fn gather(
        &self,
        pairs: &[(Vec<u8>, Vec<u8>)],
        fetcher: Option<&dyn Fetcher>,
        offline: &[Vec<u8>],
        now: Timestamp,
    ) -> Evidence {
        let mut ocsp = HashMap::new();
        let mut crl_ders: Vec<Vec<u8>> = offline.to_vec();
        let mut crl_locations = HashMap::new();
        let mut problems = Vec::new();
        for (cert_der, issuer_der) in pairs {
            let key = cert_key(cert_der);
            let cached = self.ocsp_cached(&key, now);
            if let Some(c) = cached {
                ocsp.insert(key, (c.status, c.url));
                continue;
            }
            let Ok(cert) = Certificate::from_der(cert_der) else {
                continue;
            };
            if let Some(f) = fetcher {
                let mut answered = false;
                for url in cert.ocsp_urls() {
                    match self.fetch_ocsp(f, &url, cert_der, issuer_der, now).await {
                        Ok(Some(entry)) => {
                            ocsp.insert(key.clone(), (entry.status, url.clone()));
                            answered = true;
                            break;
                        }
                        Ok(None) => {}
                        Err(e) => problems.push(format!("OCSP {url}: {e}")),
                    }
                }
                if answered {
                    continue;
                }
                for url in cert.crl_urls() {
                    match self.fetch_crl(f, &url, now).await {
                        Ok(der) => {
                            crl_locations
                                .entry(key.clone())
                                .or_insert_with(|| url.clone());
                            if !crl_ders.contains(&der) {
                                crl_ders.push(der);
                            }
                        }
                        Err(e) => problems.push(format!("CRL {url}: {e}")),
                    }
                }
            }
        }
        Evidence {
            ocsp,
            crls: Arc::new(honnin_pki::path::CrlSet::new(crl_ders)),
            crl_locations,
            problems,
        }
    }

    fn ocsp_cached(&self, key: &[u8], now: Timestamp) -> Option<CachedOcsp> {
        let map = self.ocsp.lock().ok()?;
        map.get(key).filter(|c| c.keep_until > now).cloned()
    }

    /// `Ok(None)`: the responder does not know the certificate (try CRLs).
    async fn fetch_ocsp(
        &self,
        f: &dyn Fetcher,
        url: &str,
        cert_der: &[u8],
        issuer_der: &[u8],
        now: Timestamp,
    ) -> Result<Option<CachedOcsp>, String> {
        let id = honnin_pki::cert_id_for(cert_der, issuer_der, HashAlgorithm::Sha256)
            .map_err(|e| e.to_string())?;
        let req = honnin_pki::build_ocsp_request(&[id], None);
        let resp = f.post_ocsp(url, req).await?;
        let a = honnin_pki::check_ocsp_response(&resp, cert_der, issuer_der, now, None)
            .map_err(|e| e.to_string())?;
        let source = RevocationSource::Ocsp {
            produced_at: a.produced_at,
            this_update: a.this_update,
            next_update: a.next_update,
        };
        let status = match a.status {
            CertStatus::Good => RevocationStatus::Good { source },
            CertStatus::Revoked { at, reason } => RevocationStatus::Revoked { at, reason, source },
            CertStatus::Unknown => return Ok(None),
        };
        let entry = CachedOcsp {
            status,
            url: url.to_owned(),
            keep_until: self.keep_until(a.next_update, now),
        };
        if let Ok(mut m) = self.ocsp.lock() {
            m.insert(cert_key(cert_der), entry.clone());
        }
        Ok(Some(entry))
    }

    async fn fetch_crl(
        &self,
        f: &dyn Fetcher,
        url: &str,
        now: Timestamp,
    ) -> Result<Vec<u8>, String> {
        if let Ok(m) = self.crls.lock()
            && let Some(c) = m.get(url).filter(|c| c.keep_until > now)
        {
            return Ok(c.der.clone());
        }
        let body = f.get(url).await?;
        let der = honnin_pki::pem::der_or_pem(&body, "X509 CRL")
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or_else(|| "empty CRL".to_owned())?;
        let crl = honnin_pki::Crl::from_der(&der).map_err(|e| e.to_string())?;
        if let Ok(mut m) = self.crls.lock() {
            m.insert(
                url.to_owned(),
                CachedCrl {
                    der: der.clone(),
                    keep_until: self.keep_until(crl.next_update(), now),
                },
            );
        }
        Ok(der)
    }
}
