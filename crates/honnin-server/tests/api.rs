//! The HTTP API end to end: a real server on a free port, driven over HTTP with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use honnin_core::MyNumber;
use honnin_server::{App, ServerConfig};
use honnin_store::{Clock, FixedClock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CHIYODA: &str = "131016";
const SAPPORO: &str = "011002";
/// A 12-digit number whose check digit is wrong (the valid one ends in 7).
const BAD_CHECK_DIGIT: &str = "621498320258";

/// A running server with its data directory, clock and demo operators.
struct Server {
    base: String,
    dir: tempfile::TempDir,
    clock: FixedClock,
    http: reqwest::Client,
    admin: String,
    ops: Value,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let clock = FixedClock::new(jiff::Timestamp::now());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = listener.local_addr().unwrap();
        let config = ServerConfig {
            listen,
            data_dir: dir.path().to_path_buf(),
            demo: true,
            demo_residents: 50,
            max_connections: 8,
            ..Default::default()
        };
        let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
        let app = App::start_with_clock(config, clock_dyn).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        let admin = std::fs::read_to_string(dir.path().join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        let ops: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("demo-operators.json")).unwrap(),
        )
        .unwrap();
        Server {
            base: format!("http://{listen}"),
            dir,
            clock,
            http: reqwest::Client::new(),
            admin,
            ops,
            shutdown: Some(tx),
            handle,
        }
    }

    fn token(&self, operator: &str) -> String {
        self.ops[operator]["token"].as_str().unwrap().to_string()
    }

    fn op(&self, operator: &str, field: &str) -> String {
        self.ops[operator][field].as_str().unwrap().to_string()
    }

    /// Sends a request; `token` is sent as a bearer token when given.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, v)
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// How many residents the registry holds (listed by the admin).
    async fn count(&self) -> usize {
        let (s, v) = self.get("/api/v1/residents?limit=1000", &self.admin).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array().unwrap().len()
    }

    /// Registers a birth in Chiyoda as its clerk; returns the record.
    async fn register_birth(&self, name: &str, kana: &str) -> Value {
        let (s, v) = self
            .post(
                "/api/v1/residents",
                &self.token("clerk-chiyoda"),
                &birth(name, kana, "2020-04-01"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Triggers the shutdown and checks that `serve` returns `Ok`.
    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).unwrap();
        }
        let result = tokio::time::timeout(std::time::Duration::from_secs(30), self.handle).await;
        result
            .expect("serve did not return after the shutdown")
            .unwrap()
            .unwrap();
    }

    fn sqlite_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("honnin.sqlite").display()
        )
    }
}

fn flags(s: &str) -> String {
    "0".repeat(s.chars().count())
}

fn birth(name: &str, kana: &str, birth_date: &str) -> Value {
    let address = "東京都千代田区千代田1番1号";
    json!({
        "kind": "birth",
        "municipality": CHIYODA,
        "name": name,
        "name_kana": kana,
        "birth_date": birth_date,
        "sex": "female",
        "address": address,
        "name_flags": flags(name),
        "address_flags": flags(address),
        "effective_date": birth_date,
        "reason": "出生届",
    })
}

fn assert_error(status: StatusCode, v: &Value, want_status: StatusCode, code: &str) {
    assert_eq!(status, want_status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

fn my_number_of(v: &Value) -> String {
    v["my_number"].as_str().unwrap().to_string()
}

/// Changes the `detail` of one audit entry behind the server's back.
async fn tamper(url: &str, seq: i64) {
    let store = honnin_store::Store::open(
        url,
        honnin_store::OpenOptions {
            max_connections: 1,
            durable: true,
        },
    )
    .await
    .unwrap();
    let n = sqlx::query("UPDATE audit_log SET detail = 'x' WHERE seq = $1")
        .bind(seq)
        .execute(store.pool())
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_authentication_and_error_shape() {
    let srv = Server::start().await;

    // /healthz needs no token.
    let (s, v) = srv.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], "sqlite");

    // The OpenAPI document is served.
    let (s, v) = srv.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["openapi"].as_str().map(|x| x.starts_with("3.1")),
        Some(true)
    );

    // Without a token, with a bogus one, or with another scheme: 401 + WWW-Authenticate.
    for (path, auth) in [
        ("/api/v1/whoami", None),
        ("/api/v1/residents", Some("Bearer hnt_bogus")),
        ("/api/v1/audit/verify", Some("Bearer hns_bogus")),
        ("/api/v1/operators", Some("Bearer nonsense")),
        (
            "/api/v1/whoami",
            Some(format!("Basic {}", srv.admin)).as_deref(),
        ),
    ] {
        let mut r = srv.http.get(format!("{}{path}", srv.base));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path} {auth:?}");
        let www = resp
            .headers()
            .get("www-authenticate")
            .map(|h| h.to_str().unwrap().to_string());
        assert!(
            www.as_deref().is_some_and(|h| h.starts_with("Bearer")),
            "{www:?}"
        );
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unauthenticated", "{v}");
    }
    // Authentication comes before the body is looked at.
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/residents",
            None,
            Some(&json!({"nonsense": 1})),
        )
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");

    // Secrets on disk are readable by the owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["admin.token", "admin.credentials", "demo-operators.json"] {
            let mode = std::fs::metadata(srv.dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    // whoami reports the operator and scope.
    let (s, v) = srv.get("/api/v1/whoami", &srv.token("clerk-chiyoda")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"operator": "clerk-chiyoda", "role": "registry-clerk", "municipality": CHIYODA, "agency": null})
    );
    let (_, v) = srv.get("/api/v1/whoami", &srv.admin).await;
    assert_eq!(v["role"], "admin");

    // Unknown endpoints and methods answer in the same error shape.
    let (s, v) = srv.get("/api/v1/nope", &srv.admin).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not-found");
    let (s, v) = srv
        .call(Method::DELETE, "/api/v1/residents", Some(&srv.admin), None)
        .await;
    assert_error(s, &v, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    // A query string that does not parse.
    let (s, v) = srv.get("/api/v1/residents?limit=many", &srv.admin).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "limit");
    let (s, v) = srv.get("/api/v1/residents?limit=0", &srv.admin).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "limit");

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_residents_is_scoped_and_validated() {
    let srv = Server::start().await;
    assert_eq!(srv.count().await, 50);
    let rec = srv.register_birth("鈴木　花子", "スズキ　ハナコ").await;
    let n = my_number_of(&rec);
    let chiyoda = srv.token("clerk-chiyoda");

    // A valid number: the record.
    let (s, v) = srv.get(&format!("/api/v1/residents/{n}"), &chiyoda).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, rec);
    assert_eq!(v["status"], "resident");
    assert_eq!(v["version"], 1);
    // The window clerk of the municipality may read it too.
    let (s, _) = srv
        .get(
            &format!("/api/v1/residents/{n}"),
            &srv.token("window-chiyoda"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // A wrong check digit: 400 naming my_number.
    let (s, v) = srv
        .get(&format!("/api/v1/residents/{BAD_CHECK_DIGIT}"), &chiyoda)
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "my_number");
    let (s, v) = srv.get("/api/v1/residents/12345", &chiyoda).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "my_number");
    // A valid number nobody has: 404.
    let (s, v) = srv.get("/api/v1/residents/621498320257", &srv.admin).await;
    if s != StatusCode::OK {
        assert_error(s, &v, StatusCode::NOT_FOUND, "not-found");
    }

    // The clerk of another municipality: 403, and nothing of the record in the answer.
    let (s, v) = srv
        .get(
            &format!("/api/v1/residents/{n}"),
            &srv.token("clerk-sapporo"),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let body = v.to_string();
    for secret in [
        rec["name"].as_str().unwrap(),
        rec["name_kana"].as_str().unwrap(),
        rec["address"].as_str().unwrap(),
        rec["resident_code"].as_str().unwrap(),
        rec["birth_date"].as_str().unwrap(),
        CHIYODA,
    ] {
        assert!(!body.contains(secret), "403 body leaks {secret:?}: {body}");
    }
    for who in ["auditor", "agency-nenkin"] {
        let (s, v) = srv
            .get(&format!("/api/v1/residents/{n}"), &srv.token(who))
            .await;
        assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    }
    // Disclosure, too, is the municipality's.
    let (s, v) = srv
        .get(
            &format!("/api/v1/residents/{n}/disclosure"),
            &srv.token("clerk-sapporo"),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");

    // Lists: a clerk sees their municipality only, and may not ask for another.
    let (s, v) = srv.get("/api/v1/residents?limit=1000", &chiyoda).await;
    assert_eq!(s, StatusCode::OK);
    let rows = v.as_array().unwrap();
    assert!(rows.iter().any(|r| r["my_number"] == n.as_str()));
    assert!(rows.iter().all(|r| r["municipality"] == CHIYODA), "{v}");
    let (s, v) = srv
        .get(
            &format!("/api/v1/residents?municipality={SAPPORO}"),
            &chiyoda,
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = srv
        .get("/api/v1/residents?municipality=131017", &srv.admin)
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "municipality");
    let (s, v) = srv
        .get(
            &format!("/api/v1/residents?after={BAD_CHECK_DIGIT}"),
            &srv.admin,
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "my_number");
    // Paging with `after`.
    let (_, first) = srv.get("/api/v1/residents?limit=2", &srv.admin).await;
    let second_no = my_number_of(&first[1]);
    let (_, next) = srv
        .get(
            &format!(
                "/api/v1/residents?limit=1&after={}",
                my_number_of(&first[0])
            ),
            &srv.admin,
        )
        .await;
    assert_eq!(my_number_of(&next[0]), second_no);

    // Every read was logged, the refused ones too.
    let (s, log) = srv
        .get("/api/v1/audit?kind=read&limit=10000", &srv.token("auditor"))
        .await;
    assert_eq!(s, StatusCode::OK);
    let reads: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == n.as_str())
        .collect();
    assert!(
        reads
            .iter()
            .any(|e| e["result"] == "ok" && e["operator"] == "clerk-chiyoda")
    );
    assert!(
        reads
            .iter()
            .any(|e| e["result"] == "refused" && e["operator"] == "clerk-sapporo")
    );

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_validates_and_writes_nothing_on_error() {
    let srv = Server::start().await;
    let clerk = srv.token("clerk-chiyoda");
    let before = srv.count().await;

    // Malformed JSON: 400 with a message.
    let resp = srv
        .http
        .post(format!("{}/api/v1/residents", srv.base))
        .bearer_auth(&clerk)
        .header("content-type", "application/json")
        .body("{\"kind\": \"birth\",")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_error(
        StatusCode::BAD_REQUEST,
        &v,
        StatusCode::BAD_REQUEST,
        "invalid",
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("JSON"),
        "{v}"
    );
    // No JSON content type.
    let resp = srv
        .http
        .post(format!("{}/api/v1/residents", srv.base))
        .bearer_auth(&clerk)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // A birth: 201 with a newly issued, valid 個人番号.
    let (s, v) = srv
        .post(
            "/api/v1/residents",
            &clerk,
            &birth("佐藤　一郎", "サトウ　イチロウ", "2024-02-29"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let n = my_number_of(&v);
    assert!(MyNumber::parse(&n).is_ok(), "{n}");
    assert_eq!(v["resident_code"].as_str().map(str::len), Some(11));
    assert_eq!(v["municipality"], CHIYODA);
    assert_eq!(v["birth_date"], "2024-02-29");
    assert_eq!(srv.count().await, before + 1);
    let before = before + 1;

    // Invalid registrations: 400 naming the field, nothing written.
    let mut feb29 = birth("佐藤　次郎", "サトウ　ジロウ", "2023-02-28");
    feb29["birth_date"] = json!("2023-02-29");
    let mut cases: Vec<(Value, &str)> = vec![
        (feb29, "birth_date"),
        (birth("佐藤 次郎", "サトウ　ジロウ", "2020-01-01"), "name"),
        (
            birth("佐藤　次郎", "さとう　じろう", "2020-01-01"),
            "name_kana",
        ),
        (
            birth("佐藤　次郎", "サトウ　ジロウ", "1867-12-31"),
            "birth_date",
        ),
    ];
    let mut future = birth("佐藤　次郎", "サトウ　ジロウ", "2020-01-01");
    future["birth_date"] = json!("2999-01-01");
    cases.push((future, "birth_date"));
    let mut sex = birth("佐藤　次郎", "サトウ　ジロウ", "2020-01-01");
    sex["sex"] = json!("M");
    cases.push((sex, "sex"));
    let mut eff = birth("佐藤　次郎", "サトウ　ジロウ", "2020-01-01");
    eff["effective_date"] = json!("2020-13-01");
    cases.push((eff, "effective_date"));
    let mut early = birth("佐藤　次郎", "サトウ　ジロウ", "2020-01-01");
    early["effective_date"] = json!("2019-12-31");
    cases.push((early, "effective_date"));
    let mut flags = birth("佐藤　次郎", "サトウ　ジロウ", "2020-01-01");
    flags["name_flags"] = json!("0");
    cases.push((flags, "name_flags"));
    let mut missing = birth("佐藤　次郎", "サトウ　ジロウ", "2020-01-01");
    missing.as_object_mut().unwrap().remove("address");
    cases.push((missing, "address"));
    let mut muni = birth("佐藤　次郎", "サトウ　ジロウ", "2020-01-01");
    muni["municipality"] = json!("131017");
    cases.push((muni, "municipality"));
    for (body, field) in cases {
        let (s, v) = srv.post("/api/v1/residents", &clerk, &body).await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    // Another municipality's clerk, or a role that may not register: 403.
    let (s, v) = srv
        .post(
            "/api/v1/residents",
            &srv.token("clerk-sapporo"),
            &birth("佐藤　三郎", "サトウ　サブロウ", "2020-01-01"),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = srv
        .post(
            "/api/v1/residents",
            &srv.token("window-chiyoda"),
            &birth("佐藤　三郎", "サトウ　サブロウ", "2020-01-01"),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(srv.count().await, before);

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn change_events_history_and_outbox() {
    let srv = Server::start().await;
    let clerk = srv.token("clerk-chiyoda");
    let today = honnin_core::today_jst(srv.clock.now()).to_string();
    let rec = srv.register_birth("田中　太郎", "タナカ　タロウ").await;
    let n = my_number_of(&rec);
    let changes = format!("/api/v1/residents/{n}/changes");

    // 転居.
    let addr = "東京都千代田区丸の内一丁目2番3号";
    let (s, v) = srv.post(&changes, &clerk, &json!({"kind": "address_change", "address": addr, "effective_date": today, "reason": "転居届"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["address"], addr);
    assert_eq!(v["address_flags"], flags(addr));
    assert_eq!(v["version"], 2);
    // The same address again, or a future date: 400.
    let (s, v) = srv
        .post(
            &changes,
            &clerk,
            &json!({"kind": "address_change", "address": addr, "effective_date": today}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "address");
    let (s, v) = srv.post(&changes, &clerk, &json!({"kind": "address_change", "address": "東京都千代田区九段南1番", "effective_date": "2999-01-01"})).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "effective_date");
    // An unknown kind.
    let (s, v) = srv
        .post(
            &changes,
            &clerk,
            &json!({"kind": "teleport", "effective_date": today}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    // 氏名の変更.
    let (s, v) = srv.post(&changes, &clerk, &json!({"kind": "name_change", "name": "山本　太郎", "name_kana": "ヤマモト　タロウ", "effective_date": today})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "山本　太郎");
    assert_eq!(v["version"], 3);
    // 職権修正 with an impossible date names the field.
    let (s, v) = srv
        .post(
            &changes,
            &clerk,
            &json!({"kind": "correction", "birth_date": "2021-02-29", "effective_date": today}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "birth_date");
    let (s, v) = srv
        .post(
            &changes,
            &clerk,
            &json!({"kind": "correction", "sex": "male", "effective_date": today}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sex"], "male");
    // Another municipality's clerk may not change it.
    let (s, v) = srv
        .post(
            &changes,
            &srv.token("clerk-sapporo"),
            &json!({"kind": "death", "effective_date": today}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    // 転出, then a 転居 is a conflict; 転入 to Sapporo by its clerk.
    let (s, v) = srv
        .post(
            &changes,
            &clerk,
            &json!({"kind": "move_out", "destination": "北海道札幌市", "effective_date": today}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "moved_out");
    let (s, v) = srv.post(&changes, &clerk, &json!({"kind": "address_change", "address": "東京都千代田区九段南1番", "effective_date": today})).await;
    assert_error(s, &v, StatusCode::CONFLICT, "conflict");
    let sapporo_addr = "北海道札幌市中央区北一条西二丁目1番地";
    let (s, v) = srv
        .post(&changes, &srv.token("clerk-sapporo"), &json!({"kind": "move_in", "municipality": SAPPORO, "address": sapporo_addr, "effective_date": today}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["municipality"], SAPPORO);
    assert_eq!(v["status"], "resident");
    // Now the record is Sapporo's.
    let (s, _) = srv.get(&format!("/api/v1/residents/{n}"), &clerk).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // 死亡, after which no change but a correction is accepted.
    let sapporo = srv.token("clerk-sapporo");
    let (s, v) = srv
        .post(
            &changes,
            &sapporo,
            &json!({"kind": "death", "effective_date": today}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "deceased");
    let (s, v) = srv
        .post(
            &changes,
            &sapporo,
            &json!({"kind": "death", "effective_date": today}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "conflict");
    // Unknown resident.
    let (s, v) = srv
        .post(
            "/api/v1/residents/621498320257/changes",
            &srv.admin,
            &json!({"kind": "death", "effective_date": today}),
        )
        .await;
    if s != StatusCode::OK {
        assert_error(s, &v, StatusCode::NOT_FOUND, "not-found");
    }

    // The disclosure shows the whole history.
    let (s, d) = srv
        .get(&format!("/api/v1/residents/{n}/disclosure"), &sapporo)
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let kinds: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "birth",
            "address_change",
            "name_change",
            "correction",
            "move_out",
            "move_in",
            "death"
        ]
    );
    assert_eq!(d["record"]["status"], "deceased");
    assert_eq!(d["history"][1]["reason"], "転居届");
    assert_eq!(d["history"][1]["snapshot"]["address"], addr);

    // Each event left a notice in the outbox (admin only).
    let (s, o) = srv
        .get(
            "/api/v1/outbox?topic=registry.change&limit=10000",
            &srv.admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let mine: Vec<&Value> = o
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"] == n.as_str())
        .collect();
    assert_eq!(mine.len(), 7, "{o}");
    assert_eq!(mine[6]["payload"]["kind"], "death");
    let (s, v) = srv.get("/api/v1/outbox", &clerk).await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");

    // Correction requests (申出).
    let rec2 = srv.register_birth("中村　梅子", "ナカムラ　ウメコ").await;
    let n2 = my_number_of(&rec2);
    let (s, c) = srv
        .post(
            &format!("/api/v1/residents/{n2}/corrections"),
            &clerk,
            &json!({"fields": ["name"], "detail": "梅の字が違う"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["status"], "received");
    let id = c["id"].as_str().unwrap().to_string();
    let (s, v) = srv
        .post(
            &format!("/api/v1/residents/{n2}/corrections"),
            &clerk,
            &json!({"fields": ["shoe_size"], "detail": "x"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "fields");
    let (s, c) = srv
        .post(
            &format!("/api/v1/corrections/{id}"),
            &clerk,
            &json!({"status": "investigating"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "investigating");
    let (s, c) = srv
        .post(
            &format!("/api/v1/corrections/{id}"),
            &clerk,
            &json!({"status": "corrected", "note": "修正済"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let (s, v) = srv
        .post(
            &format!("/api/v1/corrections/{id}"),
            &clerk,
            &json!({"status": "rejected"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "conflict");
    let (s, v) = srv
        .post(
            &format!("/api/v1/corrections/{id}"),
            &clerk,
            &json!({"status": "lost"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "status");
    let (s, v) = srv
        .post(
            "/api/v1/corrections/cr_nope",
            &clerk,
            &json!({"status": "rejected"}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not-found");
    let (s, d) = srv
        .get(&format!("/api/v1/residents/{n2}/disclosure"), &clerk)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["corrections"][0]["status"], "corrected");
    assert_eq!(d["corrections"][0]["note"], "修正済");

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn provisions_are_logged_and_the_log_detects_tampering() {
    let srv = Server::start().await;
    let rec = srv.register_birth("高橋　結衣", "タカハシ　ユイ").await;
    let n = my_number_of(&rec);
    let agency = srv.token("agency-nenkin");
    let auditor = srv.token("auditor");

    // Granted, by 個人番号: every item the basis allows.
    let (s, p) = srv
        .post(
            "/api/v1/provisions",
            &agency,
            &json!({"basis": "JUKI-T1-91", "query": {"my_number": n}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["basis"], "JUKI-T1-91");
    assert_eq!(p["items"]["name"], rec["name"]);
    assert_eq!(p["items"]["address"], rec["address"]);
    assert_eq!(p["items"]["status"], "resident");
    let granted_seq = p["log_seq"].as_i64().unwrap();
    // Granted, by the four facts written with other widths and spaces, some items only.
    let (s, p) = srv
        .post(
            "/api/v1/provisions",
            &agency,
            &json!({"basis": "JUKI-T1-91", "items": ["my_number", "name"], "query": {"facts": {
                "name": "高橋 結衣", "birth_date": "2020-04-01", "sex": "female", "address": "東京都千代田区千代田１番１号"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["items"], json!({"my_number": n, "name": rec["name"]}));
    // Refused: a basis the agency does not have.
    let (s, v) = srv
        .post(
            "/api/v1/provisions",
            &agency,
            &json!({"basis": "NOPE", "query": {"my_number": n}}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    assert!(!v.to_string().contains(rec["name"].as_str().unwrap()));
    // Refused: not an agency.
    let (s, v) = srv
        .post(
            "/api/v1/provisions",
            &srv.token("clerk-chiyoda"),
            &json!({"basis": "JUKI-T1-91", "query": {"my_number": n}}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    // Refused: an unknown item; not found.
    let (s, v) = srv
        .post(
            "/api/v1/provisions",
            &agency,
            &json!({"basis": "JUKI-T1-91", "items": ["shoe_size"], "query": {"my_number": n}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "items");
    let (s, v) = srv
        .post("/api/v1/provisions", &agency, &json!({"basis": "JUKI-T1-91", "query": {"facts": {"name": "存在　しない", "birth_date": "1900-01-01", "sex": "male", "address": "どこにもない"}}}))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not-found");
    // A malformed query names the field.
    let (s, v) = srv
        .post(
            "/api/v1/provisions",
            &agency,
            &json!({"basis": "JUKI-T1-91", "query": {"my_number": BAD_CHECK_DIGIT}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "my_number");
    let (s, v) = srv
        .post("/api/v1/provisions", &agency, &json!({"basis": "JUKI-T1-91", "query": {"facts": {"name": "a", "birth_date": "2023-02-29", "sex": "male", "address": "b"}}}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "birth_date");

    // Agencies: an agency sees only itself; configuring is the admin's.
    let (s, a) = srv.get("/api/v1/agencies", &agency).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.as_array().unwrap().len(), 1);
    assert_eq!(a[0]["id"], "nenkin");
    assert!(
        a[0]["bases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["code"] == "JUKI-T1-91")
    );
    let (s, a) = srv.get("/api/v1/agencies", &srv.admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.as_array().unwrap().len(), 3);
    let body = json!({"name": "日本年金機構", "bases": [{"code": "JUKI-T1-91", "description": "x", "items": ["my_number", "name", "status", "address", "birth_date", "sex", "name_kana", "alias", "municipality", "resident_code"]}, {"code": "NAME-ONLY", "items": ["name"]}]});
    let (s, v) = srv
        .call(
            Method::PUT,
            "/api/v1/agencies/nenkin",
            Some(&agency),
            Some(&body),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = srv
        .call(
            Method::PUT,
            "/api/v1/agencies/nenkin",
            Some(&srv.admin),
            Some(&body),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = srv
        .call(
            Method::PUT,
            "/api/v1/agencies/nenkin",
            Some(&srv.admin),
            Some(&json!({"name": "x", "bases": [{"code": "B", "items": ["shoe_size"]}]})),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "items");
    // An item beyond the basis: 403, logged.
    let (s, v) = srv
        .post(
            "/api/v1/provisions",
            &agency,
            &json!({"basis": "NAME-ONLY", "items": ["address"], "query": {"my_number": n}}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");

    // The log holds every request, granted or refused (the auditor reads it).
    let (s, log) = srv
        .get("/api/v1/audit?kind=provision&limit=10000", &auditor)
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let entries = log.as_array().unwrap();
    assert!(entries.iter().all(|e| e["kind"] == "provision"));
    let about: Vec<&Value> = entries
        .iter()
        .filter(|e| e["subject"] == n.as_str())
        .collect();
    let results: Vec<(&str, &str, &str)> = about
        .iter()
        .map(|e| {
            (
                e["operator"].as_str().unwrap(),
                e["basis"].as_str().unwrap_or(""),
                e["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        results.contains(&("agency-nenkin", "JUKI-T1-91", "granted")),
        "{results:?}"
    );
    assert!(
        results.contains(&("agency-nenkin", "NOPE", "refused")),
        "{results:?}"
    );
    assert!(
        results.contains(&("clerk-chiyoda", "JUKI-T1-91", "refused")),
        "{results:?}"
    );
    assert!(
        results.contains(&("agency-nenkin", "NAME-ONLY", "refused")),
        "{results:?}"
    );
    assert!(entries.iter().any(|e| e["result"] == "not-found"));
    let granted = about.iter().find(|e| e["seq"] == granted_seq).unwrap();
    assert_eq!(granted["agency"], "nenkin");
    assert_eq!(granted["result"], "granted");
    // Paging.
    let (_, page) = srv
        .get(
            &format!("/api/v1/audit?after={granted_seq}&limit=1"),
            &auditor,
        )
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["seq"], granted_seq + 1);
    // Only the auditor and admin read the log.
    for who in ["clerk-chiyoda", "agency-nenkin", "window-chiyoda"] {
        let (s, v) = srv.get("/api/v1/audit", &srv.token(who)).await;
        assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
        let (s, v) = srv.get("/api/v1/audit/verify", &srv.token(who)).await;
        assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    }
    let (s, v) = srv.get("/api/v1/audit?limit=0", &auditor).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");

    // The resident's disclosure shows the same requests.
    let (s, d) = srv
        .get(
            &format!("/api/v1/residents/{n}/disclosure"),
            &srv.token("clerk-chiyoda"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let access: Vec<(&str, &str)> = d["access_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "provision")
        .map(|e| {
            (
                e["basis"].as_str().unwrap_or(""),
                e["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(access.contains(&("JUKI-T1-91", "granted")), "{access:?}");
    assert!(access.contains(&("NOPE", "refused")), "{access:?}");
    assert_eq!(d["record"]["my_number"], n.as_str());
    // The disclosure is logged too (seen by the next one).
    let (_, d2) = srv
        .get(
            &format!("/api/v1/residents/{n}/disclosure"),
            &srv.token("clerk-chiyoda"),
        )
        .await;
    assert!(
        d2["access_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "disclosure")
    );

    // Purge: the admin's; nothing is old enough yet.
    let (s, v) = srv.post("/api/v1/audit/purge", &auditor, &json!({})).await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = srv
        .call(Method::POST, "/api/v1/audit/purge", Some(&srv.admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["purged"], 0);

    // The chain is intact...
    let (s, r) = srv.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["first_broken"].is_null());
    assert!(r["entries"].as_u64().unwrap() > 10);
    // ...until an entry is altered in the database.
    tamper(&srv.sqlite_url(), granted_seq).await;
    let (s, r) = srv.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["first_broken"]["seq"], granted_seq, "{r}");
    assert!(
        r["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("altered"),
        "{r}"
    );

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_is_all_or_nothing() {
    let srv = Server::start().await;
    let before = srv.count().await;
    let row = |name: &str, kana: &str, birth: &str, muni: &str| {
        json!({"municipality": muni, "name": name, "name_kana": kana, "birth_date": birth, "sex": "2",
               "address": "東京都千代田区神田神保町1番", "alias": "", "name_flags": "", "my_number": null})
    };
    let bad = json!({"first_row": 1, "rows": [
        row("木村　花子", "キムラ　ハナコ", "1980-01-01", CHIYODA),
        row("木村　月子", "キムラ　ツキコ", "2023-02-29", CHIYODA),
        row("木村　星子", "キムラ　ホシコ", "1982-03-03", CHIYODA),
        row("木村 雪子", "キムラ　ユキコ", "1983-04-04", CHIYODA),
    ]});
    let (s, v) = srv.post("/api/v1/residents/import", &srv.admin, &bad).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "import-refused");
    let rows = v["error"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(rows[0]["row"], 2);
    assert_eq!(rows[0]["field"], "birth_date");
    assert!(rows[0]["message"].as_str().unwrap().contains("29"));
    assert_eq!(rows[1]["row"], 4);
    assert_eq!(rows[1]["field"], "name");
    assert_eq!(srv.count().await, before);
    // Row numbers continue from first_row.
    let mut bad2 = bad.clone();
    bad2["first_row"] = json!(101);
    let (_, v) = srv
        .post("/api/v1/residents/import", &srv.admin, &bad2)
        .await;
    assert_eq!(v["error"]["rows"][0]["row"], 102);
    // A clerk may not import into another municipality.
    let (s, v) = srv
        .post(
            "/api/v1/residents/import",
            &srv.token("clerk-chiyoda"),
            &json!({"rows": [row("木村　花子", "キムラ　ハナコ", "1980-01-01", SAPPORO)]}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "import-refused");
    assert_eq!(v["error"]["rows"][0]["row"], 1);
    // Given numbers: a duplicate within the file.
    let given = "621498320257";
    let mut r1 = row("木村　花子", "キムラ　ハナコ", "1980-01-01", CHIYODA);
    r1["my_number"] = json!(given);
    let (s, v) = srv
        .post(
            "/api/v1/residents/import",
            &srv.admin,
            &json!({"rows": [r1.clone(), r1.clone()]}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "import-refused");
    assert_eq!(
        v["error"]["rows"][0],
        json!({"row": 2, "field": "my_number", "message": v["error"]["rows"][0]["message"]})
    );
    // Empty batch; wrong role.
    let (s, v) = srv
        .post("/api/v1/residents/import", &srv.admin, &json!({"rows": []}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(v["error"]["field"], "rows");
    let (s, v) = srv
        .post(
            "/api/v1/residents/import",
            &srv.token("auditor"),
            &json!({"rows": [row("木村　花子", "キムラ　ハナコ", "1980-01-01", CHIYODA)]}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(srv.count().await, before);

    // A good batch: every row, numbers issued (or given) in order.
    let good = json!({"first_row": 1, "rows": [
        r1,
        row("木村　月子", "キムラ　ツキコ", "2023-02-28", CHIYODA),
        row("木村　星子", "キムラ　ホシコ", "1982-03-03", SAPPORO),
    ]});
    let (s, v) = srv
        .post("/api/v1/residents/import", &srv.admin, &good)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported"], 3);
    let numbers = v["my_numbers"].as_array().unwrap();
    assert_eq!(numbers[0], given);
    assert!(
        numbers
            .iter()
            .all(|x| MyNumber::parse(x.as_str().unwrap()).is_ok())
    );
    assert_eq!(srv.count().await, before + 3);
    let (s, r) = srv
        .get(&format!("/api/v1/residents/{given}"), &srv.admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["sex"], "female");
    assert_eq!(r["alias"], Value::Null);
    // The given number is now taken.
    let mut again = row("木村　花子", "キムラ　ハナコ", "1980-01-01", CHIYODA);
    again["my_number"] = json!(given);
    let (s, v) = srv
        .post(
            "/api/v1/residents/import",
            &srv.admin,
            &json!({"rows": [again]}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "import-refused");
    assert_eq!(v["error"]["rows"][0]["field"], "my_number");

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_management() {
    let srv = Server::start().await;
    let new_op = json!({"id": "clerk-2", "display_name": "千代田区 住基担当 2", "role": "registry-clerk",
                        "municipality": CHIYODA, "password": "correct horse battery"});
    // Only the admin creates operators.
    for who in ["clerk-chiyoda", "auditor", "agency-nenkin"] {
        let (s, v) = srv
            .post("/api/v1/operators", &srv.token(who), &new_op)
            .await;
        assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    }
    let (s, v) = srv.post("/api/v1/operators", &srv.admin, &new_op).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["operator"]["id"], "clerk-2");
    assert_eq!(v["operator"]["role"], "registry-clerk");
    assert_eq!(v["operator"]["municipality"], CHIYODA);
    assert_eq!(v["operator"]["disabled"], false);
    assert!(v["operator"].get("password_hash").is_none());
    assert!(v["operator"].get("totp_secret").is_none());
    assert!(v["totp_secret"].as_str().is_some_and(|s| s.len() >= 16));
    assert!(
        v["totp_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    // Again: conflict. Bad input: 400 naming the field.
    let (s, v) = srv.post("/api/v1/operators", &srv.admin, &new_op).await;
    assert_error(s, &v, StatusCode::CONFLICT, "conflict");
    for (patch, field) in [
        (json!({"id": "bad id!"}), "id"),
        (json!({"id": "x1", "password": "short"}), "password"),
        (json!({"id": "x2", "municipality": null}), "municipality"),
        (json!({"id": "x3", "agency": "nenkin"}), "agency"),
        (json!({"id": "x4", "role": "root"}), "role"),
        (
            json!({"id": "x5", "municipality": "131017"}),
            "municipality",
        ),
    ] {
        let mut body = new_op.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, v) = srv.post("/api/v1/operators", &srv.admin, &body).await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    // Listing: admin and auditor; no secrets.
    let (s, list) = srv.get("/api/v1/operators", &srv.token("auditor")).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"clerk-2") && ids.contains(&"admin"),
        "{ids:?}"
    );
    assert!(!list.to_string().contains("argon2"));
    let (s, v) = srv
        .get("/api/v1/operators", &srv.token("clerk-chiyoda"))
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");

    // A token for the new operator works.
    let (s, v) = srv
        .post(
            "/api/v1/operators/clerk-2/tokens",
            &srv.admin,
            &json!({"label": "test"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["operator"], "clerk-2");
    let token = v["token"].as_str().unwrap().to_string();
    let (s, who) = srv.get("/api/v1/whoami", &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(who["operator"], "clerk-2");
    let (s, v) = srv
        .post("/api/v1/operators/nobody/tokens", &srv.admin, &json!({}))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not-found");
    let (s, v) = srv
        .post(
            "/api/v1/operators/clerk-2/tokens",
            &srv.token("clerk-chiyoda"),
            &json!({}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");

    // Disabling revokes its tokens.
    let (s, v) = srv
        .post(
            "/api/v1/operators/clerk-2/disable",
            &srv.token("clerk-chiyoda"),
            &json!({}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, _) = srv
        .call(
            Method::POST,
            "/api/v1/operators/clerk-2/disable",
            Some(&srv.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = srv.get("/api/v1/whoami", &token).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/operators/nobody/disable",
            Some(&srv.admin),
            None,
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not-found");
    // The operator-management calls were logged.
    let (_, log) = srv.get("/api/v1/audit?limit=10000", &srv.admin).await;
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["operator-create", "token-issue", "operator-disable"] {
        assert!(kinds.contains(&k), "{k}");
    }

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_login_and_idle_lock() {
    let srv = Server::start().await;
    let secret = srv.op("clerk-chiyoda", "totp_secret");
    let password = srv.op("clerk-chiyoda", "password");
    let login = |password: String, totp: String| json!({"operator": "clerk-chiyoda", "password": password, "totp": totp});
    let code = honnin_auth::totp_code(&secret, srv.clock.now()).unwrap();

    // Password + TOTP: a session token.
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/session/login",
            None,
            Some(&login(password.clone(), code.clone())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["idle_timeout_seconds"], 15 * 60);
    let session = v["token"].as_str().unwrap().to_string();
    let (s, who) = srv.get("/api/v1/whoami", &session).await;
    assert_eq!(s, StatusCode::OK, "{who}");
    assert_eq!(who["operator"], "clerk-chiyoda");
    assert_eq!(who["municipality"], CHIYODA);

    // A wrong TOTP code, a wrong password, an unknown operator: 401.
    let window: Vec<String> = [-30i64, 0, 30]
        .iter()
        .map(|d| {
            honnin_auth::totp_code(
                &secret,
                srv.clock.now() + jiff::SignedDuration::from_secs(*d),
            )
            .unwrap()
        })
        .collect();
    let wrong = (0..1_000_000u32)
        .map(|i| format!("{i:06}"))
        .find(|c| !window.contains(c))
        .unwrap();
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/session/login",
            None,
            Some(&login(password.clone(), wrong)),
        )
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/session/login",
            None,
            Some(&login("wrong password!".into(), code.clone())),
        )
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/session/login",
            None,
            Some(&json!({"operator": "nobody", "password": password, "totp": code})),
        )
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/session/login",
            None,
            Some(&json!({"operator": "clerk-chiyoda"})),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid");
    // Every attempt was logged.
    let (_, log) = srv
        .get("/api/v1/audit?kind=login&limit=1000", &srv.token("auditor"))
        .await;
    let results: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| **r == "ok").count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| **r == "refused").count(),
        3,
        "{results:?}"
    );

    // Activity keeps the session alive...
    srv.clock.advance(jiff::SignedDuration::from_mins(10));
    let (s, _) = srv.get("/api/v1/whoami", &session).await;
    assert_eq!(s, StatusCode::OK);
    srv.clock.advance(jiff::SignedDuration::from_mins(10));
    let (s, _) = srv.get("/api/v1/whoami", &session).await;
    assert_eq!(s, StatusCode::OK);
    // ...16 idle minutes lock it, for good; API tokens keep working.
    srv.clock.advance(jiff::SignedDuration::from_mins(16));
    let (s, v) = srv.get("/api/v1/whoami", &session).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("locked"),
        "{v}"
    );
    let (s, v) = srv.get("/api/v1/whoami", &session).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (s, who) = srv.get("/api/v1/whoami", &srv.token("clerk-chiyoda")).await;
    assert_eq!(s, StatusCode::OK, "{who}");
    let (s, _) = srv.get("/api/v1/audit/verify", &srv.token("auditor")).await;
    assert_eq!(s, StatusCode::OK);

    // Logging out ends a session.
    let code = honnin_auth::totp_code(&secret, srv.clock.now()).unwrap();
    let (s, v) = srv
        .call(
            Method::POST,
            "/api/v1/session/login",
            None,
            Some(&login(password, code)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let session = v["token"].as_str().unwrap().to_string();
    let (s, v) = srv
        .call(Method::POST, "/api/v1/session/logout", Some(&session), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = srv.get("/api/v1/whoami", &session).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (s, v) = srv
        .call(Method::POST, "/api/v1/session/logout", None, None)
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_shutdown_finishes_and_closes() {
    let srv = Server::start().await;
    let base = srv.base.clone();
    let (s, _) = srv.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    // An idle keep-alive connection does not hold the shutdown up.
    let http = srv.http.clone();
    srv.stop().await;
    let after = http.get(format!("{base}/healthz")).send().await;
    assert!(after.is_err(), "still serving after shutdown");
}
