//! The OpenAPI document describes exactly the routes the server has.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::Value;

/// Every route of `src/api.rs`, as (method, path) with `{param}` templates.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("post", "/api/v1/session/login"),
    ("post", "/api/v1/session/logout"),
    ("get", "/api/v1/whoami"),
    ("get", "/api/v1/operators"),
    ("post", "/api/v1/operators"),
    ("post", "/api/v1/operators/{id}/tokens"),
    ("post", "/api/v1/operators/{id}/disable"),
    ("get", "/api/v1/agencies"),
    ("put", "/api/v1/agencies/{id}"),
    ("get", "/api/v1/residents"),
    ("post", "/api/v1/residents"),
    ("post", "/api/v1/residents/import"),
    ("get", "/api/v1/residents/{my_number}"),
    ("post", "/api/v1/residents/{my_number}/changes"),
    ("get", "/api/v1/residents/{my_number}/disclosure"),
    ("post", "/api/v1/residents/{my_number}/corrections"),
    ("post", "/api/v1/corrections/{id}"),
    ("post", "/api/v1/provisions"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("post", "/api/v1/audit/purge"),
    ("get", "/api/v1/outbox"),
    ("get", "/ca/certificates"),
    ("post", "/api/v1/ca/rollover"),
    ("post", "/api/v1/window/issue"),
    ("get", "/api/v1/residents/{my_number}/certificates"),
    ("post", "/api/v1/certificates/{serial}/revoke"),
    ("post", "/api/v1/ca/crls"),
    ("post", "/api/v1/verify"),
    ("get", "/crl/{ca_id}/{file}"),
    ("post", "/ocsp"),
    ("post", "/ocsp/{kind}"),
    ("get", "/ocsp/{kind}/{request}"),
];

/// The routes `serve --role ocsp` serves (`ocsp_router`): health, CRLs and OCSP.
const OCSP_ROLE_ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/crl/{ca_id}/{file}"),
    ("post", "/ocsp"),
    ("post", "/ocsp/{kind}"),
    ("get", "/ocsp/{kind}/{request}"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(honnin_server::OPENAPI).expect("openapi.json is not JSON")
}

fn routes_in_doc(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

/// The `.route(…)` calls in `body` as (method, path); paths before `api_end` (the
/// `/api/v1` router's) get the prefix.
fn routes_in(body: &str, api_end: Option<usize>) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (at, _) in body.match_indices(".route(") {
        // The call's arguments, up to the matching parenthesis.
        let args = &body[at + ".route(".len()..];
        let mut depth = 1;
        let end = args
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap();
        let args = &args[..end];
        let path = args.split('"').nth(1).expect("route path");
        let handlers = args.splitn(3, '"').nth(2).unwrap();
        let full = if api_end.is_some_and(|e| at < e) {
            format!("/api/v1{path}")
        } else {
            path.to_string()
        };
        let mut found = false;
        for m in METHODS {
            let called = handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                i == 0 || !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.insert((m.to_string(), full.clone()));
                found = true;
            }
        }
        assert!(found, "no method found in route {args:?}");
    }
    out
}

/// The body of `fn <name>(` in `src`, up to the next top-level item.
fn fn_body<'a>(src: &'a str, name: &str) -> &'a str {
    let body = src
        .split(&format!("fn {name}("))
        .nth(1)
        .unwrap_or_else(|| panic!("{name}() not found"));
    body.split("\n}\n").next().unwrap()
}

/// The routes of `revocation_routes()` (merged into both routers).
fn revocation_routes_in_source() -> BTreeSet<(String, String)> {
    routes_in(
        fn_body(include_str!("../src/api.rs"), "revocation_routes"),
        None,
    )
}

/// The routes as written in `src/api.rs` (`.route("/x", get(a).post(b))`, the API's
/// under `/api/v1`, plus `revocation_routes()` merged at the top level), so that a
/// route added there without this test or the document being updated fails here.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/api.rs");
    let body = fn_body(src, "router");
    let body = body.split(".nest(\"/api/v1\"").next().unwrap();
    let api_start = body
        .find("let api = Router::new()")
        .expect("the api router");
    let outer_start = body.rfind("Router::new()").unwrap();
    assert!(outer_start > api_start);
    let mut out = routes_in(body, Some(outer_start));
    assert!(
        body[outer_start..].contains(".merge(revocation_routes())"),
        "router() no longer merges revocation_routes()"
    );
    out.extend(revocation_routes_in_source());
    out
}

/// The routes of `ocsp_router()` (`serve --role ocsp`).
fn ocsp_routes_in_source() -> BTreeSet<(String, String)> {
    let body = fn_body(include_str!("../src/api.rs"), "ocsp_router");
    let mut out = routes_in(body, None);
    assert!(
        body.contains(".merge(revocation_routes())"),
        "ocsp_router() no longer merges revocation_routes()"
    );
    out.extend(revocation_routes_in_source());
    out
}

#[test]
fn document_lists_exactly_the_routes() {
    let doc = doc();
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed.len(), ROUTES.len(), "duplicate in ROUTES");
    let documented = routes_in_doc(&doc);
    let missing: Vec<_> = listed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "undocumented: {missing:?}; documented but not routed: {extra:?}"
    );
    let source = routes_in_source();
    assert_eq!(source, listed, "ROUTES is out of date with src/api.rs");
    // `serve --role ocsp` serves health, CRLs and OCSP only, all documented.
    let ocsp: BTreeSet<(String, String)> = OCSP_ROLE_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        ocsp_routes_in_source(),
        ocsp,
        "OCSP_ROLE_ROUTES is out of date with ocsp_router()"
    );
    assert!(ocsp.is_subset(&documented));
    assert!(ocsp.iter().all(|(_, p)| !p.starts_with("/api/")));
}

#[test]
fn document_is_openapi_3_1_with_bearer_auth() {
    let doc = doc();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for (method, path) in routes_in_doc(&doc) {
        let op = &doc["paths"][&path][&method];
        let security = op
            .get("security")
            .or_else(|| doc.get("security"))
            .cloned()
            .unwrap_or(Value::Null);
        let needs_token = path.starts_with("/api/v1/") && path != "/api/v1/session/login";
        if needs_token {
            assert!(
                security
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get("bearerAuth").is_some())),
                "{method} {path} lacks bearerAuth"
            );
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} lacks a 401"
            );
        } else {
            assert_eq!(
                security,
                serde_json::json!([]),
                "{method} {path} must need no token"
            );
        }
        assert!(op["operationId"].is_string(), "{method} {path}");
    }
}

/// Resolves a local `$ref` (`#/components/…`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = doc
                .pointer(r.strip_prefix('#').unwrap())
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(doc, target)
        }
        None => v,
    }
}

fn all_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(s) = x.as_str()
                {
                    out.push(s);
                }
                all_refs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| all_refs(x, out)),
        _ => {}
    }
}

#[test]
fn references_parameters_and_errors_are_consistent() {
    let doc = doc();
    let mut refs = Vec::new();
    all_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        assert!(r.starts_with("#/"), "non-local $ref {r}");
        assert!(doc.pointer(&r[1..]).is_some(), "dangling $ref {r}");
    }
    // The error shape.
    let err = &doc["components"]["schemas"]["Error"];
    let inner = &err["properties"]["error"];
    let required: Vec<&str> = inner["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(required, ["code", "message"]);
    for p in ["code", "message", "field", "rows"] {
        assert!(inner["properties"][p].is_object(), "Error lacks {p}");
    }
    for (method, path) in routes_in_doc(&doc) {
        let op = &doc["paths"][&path][&method];
        // Every `{param}` of the path is declared as a path parameter, and nothing else.
        let in_path: BTreeSet<String> = path
            .split('{')
            .skip(1)
            .map(|s| s.split('}').next().unwrap().to_string())
            .collect();
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| resolve(&doc, p))
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true);
                        p["name"].as_str().unwrap().to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(in_path, declared, "{method} {path}");
        // One success answer; every error answer is the error shape.
        let responses = op["responses"].as_object().unwrap();
        assert_eq!(
            responses.keys().filter(|c| c.starts_with('2')).count(),
            1,
            "{method} {path}"
        );
        for (code, r) in responses {
            assert!(
                code.len() == 3 && code.chars().all(|c| c.is_ascii_digit()),
                "{method} {path} {code}"
            );
            let r = resolve(&doc, r);
            assert!(r["description"].is_string(), "{method} {path} {code}");
            if code.starts_with('4') || code.starts_with('5') {
                let schema = &r["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/Error",
                    "{method} {path} {code}"
                );
            }
        }
        // Bodies are JSON, except OCSP requests (DER).
        if let Some(b) = op.get("requestBody") {
            let media = if path.starts_with("/ocsp") {
                "application/ocsp-request"
            } else {
                "application/json"
            };
            assert!(b["content"][media]["schema"].is_object(), "{method} {path}");
        }
        // Binary answers: CRLs and OCSP responses.
        let ok = responses
            .iter()
            .find(|(c, _)| c.starts_with('2'))
            .map(|(_, r)| resolve(&doc, r))
            .unwrap();
        if path.starts_with("/crl/") {
            assert!(ok["content"]["application/pkix-crl"].is_object(), "{path}");
            assert!(responses.contains_key("304"), "{path} lacks its 304");
        } else if path.starts_with("/ocsp") {
            assert!(
                ok["content"]["application/ocsp-response"].is_object(),
                "{method} {path}"
            );
        }
    }
}

#[test]
fn request_shapes_match_the_serde_types() {
    let doc = doc();
    let s = &doc["components"]["schemas"];
    // ChangeRequest is tagged by `kind`, in snake_case.
    let mapping = s["ChangeRequest"]["discriminator"]["mapping"]
        .as_object()
        .unwrap();
    let kinds: BTreeSet<&str> = mapping.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        [
            "address_change",
            "correction",
            "death",
            "move_in",
            "move_out",
            "name_change"
        ]
        .into_iter()
        .collect()
    );
    for (kind, r) in mapping {
        let variant = doc.pointer(&r.as_str().unwrap()[1..]).unwrap();
        assert_eq!(variant["properties"]["kind"]["const"], kind.as_str());
        let req: Vec<&str> = variant["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert!(
            req.contains(&"kind") && req.contains(&"effective_date"),
            "{kind}"
        );
    }
    // ProvisionQuery is externally tagged: {"my_number": …} or {"facts": {…}}.
    let q: Vec<&str> = s["ProvisionQuery"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["required"][0].as_str().unwrap())
        .collect();
    assert_eq!(q, ["my_number", "facts"]);
    // Resident flattens the facts.
    for f in [
        "name",
        "name_kana",
        "alias",
        "birth_date",
        "sex",
        "address",
        "name_flags",
        "address_flags",
        "my_number",
        "status",
    ] {
        assert!(
            s["Resident"]["properties"][f].is_object(),
            "Resident lacks {f}"
        );
        assert!(
            s["NewResident"]["properties"].get(f).is_some() || ["my_number", "status"].contains(&f),
            "NewResident lacks {f}"
        );
    }
}

/// The property names of a schema, sorted.
fn properties(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {schema} has no properties"))
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn ca_shapes_match_the_serde_types() {
    let doc = doc();
    let ts: jiff::Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
    let issued = honnin_ca::Issued {
        auth_certificate: vec![1],
        auth_ca_certificate: vec![2],
        sign_certificate: None,
        sign_ca_certificate: None,
        sign_refused: Some("under 15".into()),
        superseded: vec![],
    };
    let v = serde_json::to_value(&issued).unwrap();
    assert_eq!(keys(&v), properties(&doc, "Issued"));
    let published = honnin_ca::PublishedCa {
        id: "sign-g1".into(),
        kind: "sign".into(),
        generation: 1,
        active: true,
        issuer: None,
        pem: String::new(),
    };
    let v = serde_json::to_value(&published).unwrap();
    assert_eq!(keys(&v), properties(&doc, "PublishedCa"));
    let row = honnin_store::ca::CertificateRow {
        serial: "01".into(),
        ca_id: "auth-g1".into(),
        kind: "auth".into(),
        my_number: "621498320257".into(),
        subject_id: "X".into(),
        facts: serde_json::json!({}),
        not_before: ts,
        not_after: ts,
        issued_at: ts,
        operator: "window-chiyoda".into(),
        status: "valid".into(),
        revoked_at: None,
        revocation_reason: None,
        der: vec![0x30],
    };
    let v = serde_json::to_value(&row).unwrap();
    assert_eq!(
        keys(&v),
        properties(&doc, "CertificateRow"),
        "der is not serialised"
    );
    let req: honnin_ca::IssueRequest = serde_json::from_value(serde_json::json!({
        "my_number": "621498320257",
        "application": {"name": "山田　太郎", "birth_date": "1980-04-01", "sex": "male", "address": "東京都"},
        "auth_csr": "MAA=",
        "sign_csr": "MAA=",
        "card_expiry": "2030-01-01",
        "renew": true,
        "lost": false,
    }))
    .unwrap();
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(keys(&v), properties(&doc, "IssueRequest"));
    assert_eq!(keys(&v["application"]), properties(&doc, "Application"));
    let required: BTreeSet<String> = doc["components"]["schemas"]["IssueRequest"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    // Only the required fields: serde's defaults fill in the rest.
    let minimal: serde_json::Map<String, Value> = v
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| required.contains(*k))
        .map(|(k, x)| (k.clone(), x.clone()))
        .collect();
    let min: honnin_ca::IssueRequest = serde_json::from_value(Value::Object(minimal)).unwrap();
    assert!(min.sign_csr.is_none() && !min.renew && !min.lost && min.card_expiry.is_none());
}
