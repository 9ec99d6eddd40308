//! Shared by the integration tests of the `honnin` binary: external tools, a small
//! HTTP client, `honnin serve` as a child process with demo data, and a resident
//! holding a card issued at the window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use honnin_pki::{Certificate, OcspResponse};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_honnin");
pub const CHIYODA: &str = "131016";
pub const SAPPORO: &str = "011002";
pub const AUTH_PIN: &str = "1234";
pub const SIGN_PIN: &str = "ABC123";

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

pub fn tools_required() -> bool {
    std::env::var("HONNIN_REQUIRE_TOOLS").is_ok_and(|v| v.trim() == "1")
}

pub fn missing(what: &str) {
    assert!(
        !tools_required(),
        "{what} not found and HONNIN_REQUIRE_TOOLS=1"
    );
    eprintln!("note: {what} not found; skipping the checks that need it");
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn openssl() -> Option<PathBuf> {
    let p = on_path("openssl");
    if p.is_none() {
        missing("openssl");
    }
    p
}

/// pkilint's linter `name` (`lint_crl`, `lint_ocsp_response`).
pub fn pkilint(name: &str) -> Option<PathBuf> {
    let p = std::env::var_os("HONNIN_PKILINT_BIN")
        .map(|d| Path::new(&d).join(name))
        .filter(|p| p.is_file())
        .or_else(|| on_path(name));
    if p.is_none() {
        missing(&format!("pkilint's {name} (HONNIN_PKILINT_BIN)"));
    }
    p
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

// ---------------------------------------------------------------------------
// HTTP (binary bodies, headers)
// ---------------------------------------------------------------------------

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&self.body)))
    }

    pub fn ocsp(&self) -> OcspResponse {
        assert_eq!(self.status, 200, "{}", text(&self.body));
        assert_eq!(
            self.header("content-type"),
            Some("application/ocsp-response")
        );
        OcspResponse::from_der(&self.body).unwrap()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // A refused large body may be answered before it is all sent.
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    // A server that refused a body may reset the connection after answering.
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", text(&buf)));
    let head = text(&buf[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")),
        "chunked answers are not decoded here"
    );
    Resp {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

pub fn post_json(addr: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http(addr, "POST", path, &headers, body.to_string().as_bytes())
}

pub fn get_json(addr: &str, path: &str, token: &str) -> Value {
    let auth = format!("Bearer {token}");
    let r = http(addr, "GET", path, &[("Authorization", &auth)], b"");
    assert_eq!(r.status, 200, "GET {path}: {}", text(&r.body));
    r.json()
}

pub fn ocsp_post(addr: &str, path: &str, der: &[u8]) -> Resp {
    http(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/ocsp-request")],
        der,
    )
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// A `honnin` command with no `HONNIN_*` variables from the environment.
pub fn honnin() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("HONNIN_") || k == "SOFTHSM2_CONF" {
            c.env_remove(k);
        }
    }
    c.env("NO_COLOR", "1");
    c
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `GET /healthz` answers 200. A server still starting may accept and
/// close without answering: that is `false`, not a failure.
pub fn healthy(addr: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf.starts_with(b"HTTP/1.1 200")
}

/// A child process killed when dropped.
pub struct Guard(pub Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `honnin serve --listen ADDR --data-dir DATA <extra>`, logging to `log`, and
/// waits for `/healthz`.
pub fn spawn_serve(data: &Path, log: &Path, extra: &[&str]) -> (Guard, String) {
    spawn_serve_env(data, log, extra, &[])
}

/// [`spawn_serve`] with extra environment variables for the server process.
pub fn spawn_serve_env(
    data: &Path,
    log: &Path,
    extra: &[&str],
    env: &[(String, String)],
) -> (Guard, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let logf = std::fs::File::create(log).unwrap();
    let child = honnin()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(data)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(logf.try_clone().unwrap())
        .stderr(logf)
        .spawn()
        .unwrap();
    let mut guard = Guard(Some(child));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if healthy(&addr) {
            break;
        }
        if let Some(status) = guard.0.as_mut().unwrap().try_wait().unwrap() {
            panic!(
                "serve exited early ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "server did not come up: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (guard, addr)
}

/// `honnin serve` with demo data in a temporary directory.
pub struct Served {
    pub _child: Guard,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Served {
    pub fn start() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let (child, addr) =
            spawn_serve(&dir.path().join("data"), &dir.path().join("serve.log"), &[]);
        Served {
            _child: child,
            addr,
            dir,
        }
    }

    pub fn server(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("serve.log")).unwrap_or_default()
    }

    pub fn token(&self, operator: &str) -> String {
        let ops: Value = serde_json::from_str(
            &std::fs::read_to_string(self.data_dir().join("demo-operators.json")).unwrap(),
        )
        .unwrap();
        ops[operator]["token"].as_str().unwrap().to_string()
    }

    pub fn admin(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("admin.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// `honnin <args…> --server … --data-dir …`.
    pub fn run(&self, args: &[&str]) -> Output {
        let server = self.server();
        let data = self.data_dir();
        honnin()
            .args(args)
            .args(["--server", &server, "--data-dir", data.to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "honnin {args:?} failed ({}):\n{}\nserver log:\n{}",
            out.status,
            text_of(&out),
            self.log()
        );
        text(&out.stdout)
    }

    /// Registers an adult in Chiyoda (as its 住基 clerk) and issues both certificates
    /// onto a new software card; returns the resident and the PEM files of the card's
    /// certificates (`<name>-sign.pem`, `<name>-auth.pem`).
    pub fn holder(&self, name: &str, person: &str, kana: &str) -> Holder {
        let clerk = self.token("clerk-chiyoda");
        let window = self.token("window-chiyoda");
        let today = today().to_string();
        let address = "東京都千代田区千代田1番1号";
        let v: Value = serde_json::from_str(&self.ok(&[
            "registry",
            "register",
            "--token",
            &clerk,
            "--json",
            "--kind",
            "move-in",
            "--municipality",
            CHIYODA,
            "--name",
            person,
            "--name-kana",
            kana,
            "--birth-date",
            "1985-05-05",
            "--sex",
            "female",
            "--address",
            address,
            "--effective-date",
            &today,
            "--reason",
            "転入届",
        ]))
        .unwrap();
        let my_number = v["my_number"].as_str().unwrap().to_string();
        let card = self.path(&format!("{name}.card"));
        let card = card.to_str().unwrap();
        let out = honnin()
            .args(["card", "new", "--out", card, "--auth-pin", AUTH_PIN])
            .args(["--sign-pin", SIGN_PIN])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text_of(&out));
        self.ok(&[
            "window",
            "issue",
            "--token",
            &window,
            "--card",
            card,
            "--my-number",
            &my_number,
            "--name",
            person,
            "--birth-date",
            "1985-05-05",
            "--sex",
            "female",
            "--address",
            address,
            "--auth-pin",
            AUTH_PIN,
            "--sign-pin",
            SIGN_PIN,
        ]);
        let export = |which: &str| {
            let out_path = self.path(&format!("{name}-{which}.pem"));
            let mut cmd = honnin();
            cmd.args(["card", "export-cert", "--card", card, "--which", which])
                .arg("--out")
                .arg(&out_path);
            if which == "sign" {
                cmd.args(["--sign-pin", SIGN_PIN]);
            }
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{}", text_of(&out));
            out_path
        };
        let sign_pem = export("sign");
        let auth_pem = export("auth");
        let der = |p: &Path| {
            Certificate::from_pem(&std::fs::read_to_string(p).unwrap())
                .unwrap()
                .der()
                .to_vec()
        };
        Holder {
            my_number,
            sign: der(&sign_pem),
            auth: der(&auth_pem),
            sign_pem,
            auth_pem,
        }
    }

    pub fn change(&self, my_number: &str, args: &[&str]) {
        let clerk = self.token("clerk-chiyoda");
        let today = today().to_string();
        let mut a = vec![
            "registry",
            "change",
            "--token",
            &clerk,
            "--my-number",
            my_number,
            "--effective-date",
            &today,
        ];
        a.extend(args);
        self.ok(&a);
    }

    /// `honnin ca export-roots`; returns the directory.
    pub fn roots(&self) -> PathBuf {
        let dir = self.path("roots");
        self.ok(&["ca", "export-roots", "--out", dir.to_str().unwrap()]);
        dir
    }
}

pub fn today() -> jiff::civil::Date {
    honnin_core::today_jst(jiff::Timestamp::now())
}

pub struct Holder {
    pub my_number: String,
    pub sign: Vec<u8>,
    pub auth: Vec<u8>,
    pub sign_pem: PathBuf,
    pub auth_pem: PathBuf,
}

pub fn serial(der: &[u8]) -> String {
    Certificate::from_der(der)
        .unwrap()
        .serial_hex()
        .to_lowercase()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn pem_der(p: &Path) -> Vec<u8> {
    Certificate::from_pem(&std::fs::read_to_string(p).unwrap())
        .unwrap()
        .der()
        .to_vec()
}

/// The path of a URL (`http://host/x/y` → `/x/y`).
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    format!("/{}", rest.split_once('/').map_or("", |(_, p)| p))
}
