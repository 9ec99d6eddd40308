//! The x509-limbo harness: maps each test case onto [`honnin_pki::path`].
//!
//! SERVER cases are validated with the CA/Browser Forum profile
//! ([`ValidationProfile::WebPki`]), `serverAuth` as the required EKU and the
//! expected DNS/IP peer name; CLIENT cases with `clientAuth` and the expected
//! RFC 822 names. CRLs, when given, are checked hard-fail. See `docs/limbo.md`.

use std::net::IpAddr;

use honnin_pki::path::{
    self, CrlSet, EKU_ANY, EKU_CLIENT_AUTH, EKU_CODE_SIGNING, EKU_EMAIL_PROTECTION,
    EKU_OCSP_SIGNING, EKU_SERVER_AUTH, EKU_TIME_STAMPING, KeyUsageBit, Oid, PathOptions, PeerName,
    RevocationChecker, RevocationMode, ValidationProfile,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One input test case (the fields the harness uses).
#[derive(Debug, Deserialize)]
pub struct Testcase {
    /// Identifier.
    pub id: String,
    /// Feature flags.
    #[serde(default)]
    pub features: Vec<String>,
    /// `SERVER` or `CLIENT`.
    pub validation_kind: String,
    /// PEM.
    #[serde(default)]
    pub trusted_certs: Vec<String>,
    /// PEM.
    #[serde(default)]
    pub untrusted_intermediates: Vec<String>,
    /// PEM.
    pub peer_certificate: String,
    /// RFC 3339 or null for now.
    pub validation_time: Option<String>,
    /// Signature algorithm restrictions (none in the suite today).
    #[serde(default)]
    pub signature_algorithms: Vec<String>,
    /// Required leaf key usages.
    #[serde(default)]
    pub key_usage: Vec<String>,
    /// Required leaf extended key usages.
    #[serde(default)]
    pub extended_key_usage: Vec<String>,
    /// `SUCCESS` or `FAILURE`.
    #[serde(default)]
    pub expected_result: String,
    /// SERVER peer name.
    pub expected_peer_name: Option<LimboPeer>,
    /// CLIENT peer names.
    #[serde(default)]
    pub expected_peer_names: Vec<LimboPeer>,
    /// Most intermediates.
    pub max_chain_depth: Option<usize>,
    /// PEM CRLs.
    #[serde(default)]
    pub crls: Vec<String>,
}

/// A limbo peer name.
#[derive(Debug, Deserialize)]
pub struct LimboPeer {
    /// `DNS`, `IP` or `RFC822`.
    pub kind: String,
    /// The name.
    pub value: String,
}

#[derive(Debug, Deserialize)]
struct Suite {
    testcases: Vec<Testcase>,
}

/// One result.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// Test case id.
    pub id: String,
    /// `SUCCESS`, `FAILURE` or `SKIPPED`.
    pub actual_result: String,
    /// Why.
    pub context: Option<String>,
}

/// The harness output.
#[derive(Debug, Serialize)]
pub struct Output {
    /// Always 1.
    pub version: u32,
    /// `honnin`.
    pub harness: String,
    /// One per test case, in input order.
    pub results: Vec<CaseResult>,
}

/// Cases whose expectation contradicts another case of the suite under the
/// profile we run (see docs/limbo.md): we follow the CA/Browser Forum side.
const CONFLICTING: &[(&str, &str)] = &[
    (
        "rfc5280::ca-as-leaf",
        "conflicts with webpki::ca-as-leaf: under the CABF profile a CA certificate may not be a leaf",
    ),
    (
        "pathlen::validation-ignores-pathlen-in-leaf",
        "the leaf is a CA certificate, which the CABF profile forbids (see webpki::ca-as-leaf)",
    ),
    (
        "rfc5280::nc::permitted-dns-match-noncritical",
        "conflicts with webpki::nc::permitted-dns-match-noncritical: CABF allows non-critical name constraints",
    ),
    (
        "webpki::eku::ee-without-eku",
        "conflicts with rfc5280::eku::ee-without-eku: we accept a leaf without extKeyUsage (RFC 5280 4.2.1.12)",
    ),
];

/// The webpki::cn cases require the CABF BR 7.1.4.3 rule (CN is a copy of a
/// SAN entry); about 400 BetterTLS cases have a CN outside the SAN and must
/// validate. Both cannot hold; we follow BetterTLS (and every TLS client).
const CN_CONFLICT: &str = "webpki::cn::";

/// Runs the whole suite (JSON text) at `now` for cases without a time.
pub fn run_suite(json: &str, now: Timestamp) -> Result<Output, String> {
    let suite: Suite = serde_json::from_str(json).map_err(|e| format!("bad suite JSON: {e}"))?;
    let results = suite.testcases.iter().map(|t| run_case(t, now)).collect();
    Ok(Output {
        version: 1,
        harness: format!("honnin-{}", env!("CARGO_PKG_VERSION")),
        results,
    })
}

fn result(id: &str, actual: &str, context: impl Into<String>) -> CaseResult {
    CaseResult {
        id: id.to_owned(),
        actual_result: actual.to_owned(),
        context: Some(context.into()),
    }
}

fn pem_to_der(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    honnin_pki::pem::decode_all(pem, "CERTIFICATE").map_err(|e| e.to_string())
}

fn eku_oid(name: &str) -> Option<Oid> {
    Some(match name {
        "serverAuth" => EKU_SERVER_AUTH,
        "clientAuth" => EKU_CLIENT_AUTH,
        "codeSigning" => EKU_CODE_SIGNING,
        "emailProtection" => EKU_EMAIL_PROTECTION,
        "timeStamping" => EKU_TIME_STAMPING,
        "OCSPSigning" => EKU_OCSP_SIGNING,
        "anyExtendedKeyUsage" => EKU_ANY,
        _ => return None,
    })
}

/// Evaluates one test case.
pub fn run_case(t: &Testcase, now: Timestamp) -> CaseResult {
    let id = t.id.as_str();
    if let Some((_, why)) = CONFLICTING.iter().find(|(c, _)| *c == id) {
        return result(id, "SKIPPED", *why);
    }
    if id.starts_with(CN_CONFLICT) {
        return result(
            id,
            "SKIPPED",
            "conflicts with ~400 BetterTLS cases whose leaf CN is not in the SAN: the CABF \
             7.1.4.3 CN-copy rule is off (PathOptions::cabf_common_name)",
        );
    }
    if !t.signature_algorithms.is_empty() {
        return result(
            id,
            "SKIPPED",
            "signature algorithm restrictions are not supported",
        );
    }
    let time = match &t.validation_time {
        Some(s) => match s.parse::<Timestamp>() {
            Ok(ts) => ts,
            Err(e) => return result(id, "SKIPPED", format!("bad validation_time: {e}")),
        },
        None => now,
    };
    let mut opts = PathOptions::new(time);
    opts.profile = ValidationProfile::WebPki;
    opts.max_chain_depth = t.max_chain_depth;
    let mut peers = Vec::new();
    match t.validation_kind.as_str() {
        "SERVER" => {
            opts.required_eku = Some(EKU_SERVER_AUTH);
            if let Some(p) = &t.expected_peer_name {
                peers.push(p);
            }
        }
        "CLIENT" => {
            opts.required_eku = Some(EKU_CLIENT_AUTH);
            peers.extend(t.expected_peer_names.iter());
        }
        other => return result(id, "SKIPPED", format!("validation kind {other}")),
    }
    for e in &t.extended_key_usage {
        match eku_oid(e) {
            Some(o) => opts.required_eku = Some(o),
            None => return result(id, "SKIPPED", format!("unknown EKU {e}")),
        }
    }
    for k in &t.key_usage {
        match KeyUsageBit::parse(k) {
            Some(b) => opts.required_key_usage.push(b),
            None => return result(id, "SKIPPED", format!("unknown key usage {k}")),
        }
    }
    for p in peers {
        let name = match p.kind.as_str() {
            "DNS" => PeerName::Dns(p.value.clone()),
            "IP" => match p.value.parse::<IpAddr>() {
                Ok(ip) => PeerName::Ip(ip),
                Err(_) => return result(id, "FAILURE", format!("invalid IP peer {}", p.value)),
            },
            "RFC822" => PeerName::Email(p.value.clone()),
            other => return result(id, "SKIPPED", format!("peer name kind {other}")),
        };
        opts.peer_names.push(name);
    }
    let load = |list: &[String]| -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        for p in list {
            out.extend(pem_to_der(p)?);
        }
        Ok(out)
    };
    let (anchors, inters, leaf) = match (
        load(&t.trusted_certs),
        load(&t.untrusted_intermediates),
        pem_to_der(&t.peer_certificate),
    ) {
        (Ok(a), Ok(i), Ok(l)) => (a, i, l),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return result(id, "FAILURE", format!("unreadable PEM: {e}"));
        }
    };
    let Some(leaf) = leaf.into_iter().next() else {
        return result(id, "FAILURE", "no peer certificate");
    };
    let crls;
    let checker: Option<&dyn RevocationChecker> = if t.crls.is_empty() {
        None
    } else {
        let mut ders = Vec::new();
        for c in &t.crls {
            match honnin_pki::pem::decode_all(c, "X509 CRL") {
                Ok(d) => ders.extend(d),
                Err(e) => return result(id, "FAILURE", format!("unreadable CRL PEM: {e}")),
            }
        }
        opts.revocation = RevocationMode::HardFail;
        crls = CrlSet::new(ders);
        Some(&crls)
    };
    match path::validate(&leaf, &anchors, &inters, &opts, checker) {
        Ok(v) => {
            if t.features
                .iter()
                .any(|f| f == "pedantic-public-suffix-wildcard")
            {
                return result(
                    id,
                    "SKIPPED",
                    "a wildcard on a public suffix can only be refused with the Public Suffix \
                     List, which honnin does not ship",
                );
            }
            result(
                id,
                "SUCCESS",
                format!("chain of {} certificates built", v.chain.len()),
            )
        }
        Err(e) => result(id, "FAILURE", e.to_string()),
    }
}
