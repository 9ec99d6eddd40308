//! The `honnin` binary end to end: `honnin serve` as a child process, driven by the
//! client subcommands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::*;

/// `honnin serve` running in a temporary directory; killed when dropped.
struct Served {
    child: Guard,
    server: String,
    addr: String,
    dir: tempfile::TempDir,
}

impl Served {
    fn start() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let (child, addr) =
            spawn_serve(&dir.path().join("data"), &dir.path().join("serve.log"), &[]);
        let health = http(&addr, "GET", "/healthz", &[], b"");
        let body = text(&health.body);
        assert!(body.contains("\"ok\""), "{body}");
        Served {
            child,
            server: format!("http://{addr}"),
            addr,
            dir,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn demo_token(&self, operator: &str) -> String {
        let ops: Value = serde_json::from_str(
            &std::fs::read_to_string(self.data_dir().join("demo-operators.json")).unwrap(),
        )
        .unwrap();
        ops[operator]["token"].as_str().unwrap().to_string()
    }

    /// Runs `honnin <args…>` against this server (token: admin.token unless `--token`).
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = honnin()
            .args(args)
            .arg("--server")
            .arg(&self.server)
            .arg("--data-dir")
            .arg(self.data_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "honnin {args:?} failed ({}):\n{}\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.ok(&a);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("honnin {args:?}: not JSON ({e}): {out}"))
    }

    /// Runs and expects failure with exit status 1; returns (stdout, stderr).
    fn fails(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "honnin {args:?}:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    }
}

fn write_csv(dir: &Path, name: &str, rows: &[&str]) -> String {
    let path = dir.join(name);
    let mut s = String::from(
        "my_number,resident_code,municipality,name,name_kana,alias,birth_date,sex,address,name_flags,address_flags\n",
    );
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(&path, s).unwrap();
    path.to_str().unwrap().to_string()
}

/// Changes one audit entry behind the server's back.
fn tamper(db: &Path, seq: i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let store = honnin_store::Store::open(
            &url,
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
    });
}

#[test]
fn cli_end_to_end() {
    let srv = Served::start();
    let today = honnin_core::today_jst(jiff::Timestamp::now()).to_string();

    // The first start wrote the admin token, owner-only.
    let token_file = srv.data_dir().join("admin.token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Seed.
    let out = srv.ok(&["registry", "seed", "--count", "1000"]);
    assert!(out.contains("created 1000 residents"), "{out}");
    let v = srv.json(&[
        "registry",
        "seed",
        "--count",
        "3",
        "--municipality",
        CHIYODA,
        "--seed",
        "7",
    ]);
    assert_eq!(v["created"], 3);
    assert_eq!(v["my_numbers"].as_array().unwrap().len(), 3);

    // List and show.
    let list = srv.json(&["registry", "list", "--limit", "5"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 5);
    let n = list[2]["my_number"].as_str().unwrap().to_string();
    let shown = srv.json(&["registry", "show", "--my-number", &n]);
    assert_eq!(&shown, &list[2]);
    let text_out = srv.ok(&["registry", "show", "--my-number", &n]);
    assert!(
        text_out.contains(&n) && text_out.contains(list[2]["name"].as_str().unwrap()),
        "{text_out}"
    );
    // An invalid number: a non-zero exit naming the field.
    let (_, err) = srv.fails(&["registry", "show", "--my-number", "621498320258"]);
    assert!(err.contains("my_number"), "{err}");
    assert!(err.contains("400"), "{err}");

    // A Chiyoda resident, registered by its clerk.
    let chiyoda_clerk = srv.demo_token("clerk-chiyoda");
    let rec = srv.json(&[
        "registry",
        "register",
        "--token",
        &chiyoda_clerk,
        "--kind",
        "birth",
        "--municipality",
        CHIYODA,
        "--name",
        "渡辺　陽菜",
        "--name-kana",
        "ワタナベ　ヒナ",
        "--birth-date",
        "2021-06-15",
        "--sex",
        "female",
        "--address",
        "東京都千代田区麹町二丁目3番",
        "--effective-date",
        "2021-06-20",
        "--reason",
        "出生届",
    ]);
    let c = rec["my_number"].as_str().unwrap().to_string();
    assert!(honnin_core::MyNumber::parse(&c).is_ok());
    assert_eq!(rec["municipality"], CHIYODA);
    // An impossible date is refused naming the field.
    let (_, err) = srv.fails(&[
        "registry",
        "register",
        "--kind",
        "birth",
        "--municipality",
        CHIYODA,
        "--name",
        "渡辺　陽菜",
        "--name-kana",
        "ワタナベ　ヒナ",
        "--birth-date",
        "2023-02-29",
        "--sex",
        "female",
        "--address",
        "東京都千代田区麹町二丁目3番",
        "--effective-date",
        "2023-03-01",
    ]);
    assert!(err.contains("birth_date"), "{err}");
    // The clerk of another municipality: refused with 403, nothing printed.
    let out = srv.run(&[
        "registry",
        "show",
        "--token",
        &srv.demo_token("clerk-sapporo"),
        "--my-number",
        &c,
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("403"), "{err}");
    assert!(!text(&out.stdout).contains("渡辺") && !err.contains("渡辺"));

    // Provision: granted, and refused.
    let agency = srv.demo_token("agency-nenkin");
    let out = srv.ok(&[
        "registry",
        "provide",
        "--token",
        &agency,
        "--basis",
        "JUKI-T1-91",
        "--my-number",
        &c,
    ]);
    assert!(out.contains("provided under JUKI-T1-91"), "{out}");
    assert!(
        out.contains("渡辺　陽菜") && out.contains("東京都千代田区麹町二丁目3番"),
        "{out}"
    );
    let p = srv.json(&[
        "registry",
        "provide",
        "--token",
        &agency,
        "--basis",
        "JUKI-T1-91",
        "--my-number",
        &c,
        "--items",
        "name,birth_date",
    ]);
    assert_eq!(
        p["items"],
        serde_json::json!({"name": "渡辺　陽菜", "birth_date": "2021-06-15"})
    );
    let granted_seq = p["log_seq"].as_i64().unwrap();
    let out = srv.ok(&[
        "registry",
        "provide",
        "--token",
        &agency,
        "--basis",
        "JUKI-T1-91",
        "--name",
        "渡辺 陽菜",
        "--birth-date",
        "2021-06-15",
        "--sex",
        "female",
        "--address",
        "東京都千代田区麹町二丁目３番",
    ]);
    assert!(out.contains(&c), "{out}");
    let (out, err) = srv.fails(&[
        "registry",
        "provide",
        "--token",
        &agency,
        "--basis",
        "NOPE",
        "--my-number",
        &c,
    ]);
    assert!(err.contains("403"), "{err}");
    assert!(!out.contains("渡辺"));
    let (_, err) = srv.fails(&[
        "registry",
        "provide",
        "--token",
        &chiyoda_clerk,
        "--basis",
        "JUKI-T1-91",
        "--my-number",
        &c,
    ]);
    assert!(err.contains("403"), "{err}");

    // Import: a good file, then one with a bad row (refused whole, row named).
    let given = "621498320257";
    let good = write_csv(
        srv.dir.path(),
        "good.csv",
        &[
            &format!(
                "{given},,{CHIYODA},小林　誠,コバヤシ　マコト,,1975-08-09,male,東京都千代田区九段南一丁目1番,,"
            ),
            ",,011002,小林　舞,コバヤシ　マイ,,1978-01-30,2,北海道札幌市中央区北一条西二丁目1番,,",
            ",,131041,Smith　John,スミス　ジョン,須見　譲,1990-12-01,1,東京都新宿区西新宿二丁目8番1号,,",
        ],
    );
    let out = srv.ok(&["registry", "import", &good]);
    assert!(
        out.contains("imported 3 residents; 0 batch(es) refused"),
        "{out}"
    );
    let imported = srv.json(&["registry", "show", "--my-number", given]);
    assert_eq!(imported["name"], "小林　誠");
    assert_eq!(imported["alias"], Value::Null);
    let other_given = "000000000019";
    let bad = write_csv(
        srv.dir.path(),
        "bad.csv",
        &[
            &format!(
                "{other_given},,{CHIYODA},加藤　健,カトウ　ケン,,1980-01-01,male,東京都千代田区丸の内一丁目1番,,"
            ),
            ",,131016,加藤　恵,カトウ　メグミ,,2023-02-29,female,東京都千代田区丸の内一丁目1番,,",
            ",,131016,加藤　翼,カトウ　ツバサ,,2001-01-01,male,東京都千代田区丸の内一丁目1番,,",
        ],
    );
    let (out, _) = srv.fails(&["registry", "import", &bad]);
    assert!(
        out.contains("imported 0 residents; 1 batch(es) refused"),
        "{out}"
    );
    assert!(out.contains("row 2: birth_date"), "{out}");
    let (_, err) = srv.fails(&["registry", "show", "--my-number", other_given]);
    assert!(err.contains("404"), "{err}");

    // Changes and the disclosure of the history.
    let out = srv.ok(&[
        "registry",
        "change",
        "--token",
        &chiyoda_clerk,
        "--my-number",
        &c,
        "--kind",
        "address-change",
        "--address",
        "東京都千代田区飯田橋三丁目5番",
        "--effective-date",
        &today,
        "--reason",
        "転居届",
    ]);
    assert!(out.contains("recorded address-change (version 2)"), "{out}");
    let (_, err) = srv.fails(&[
        "registry",
        "change",
        "--token",
        &chiyoda_clerk,
        "--my-number",
        &c,
        "--kind",
        "address-change",
        "--address",
        "東京都千代田区飯田橋三丁目5番",
        "--effective-date",
        &today,
    ]);
    assert!(err.contains("address"), "{err}");
    let v = srv.json(&[
        "registry",
        "change",
        "--token",
        &chiyoda_clerk,
        "--my-number",
        &c,
        "--kind",
        "name-change",
        "--name",
        "佐々木　陽菜",
        "--name-kana",
        "ササキ　ヒナ",
        "--effective-date",
        &today,
    ]);
    assert_eq!(v["name"], "佐々木　陽菜");
    let out = srv.ok(&[
        "registry",
        "change",
        "--token",
        &chiyoda_clerk,
        "--my-number",
        &c,
        "--kind",
        "death",
        "--effective-date",
        &today,
    ]);
    assert!(out.contains("[deceased]"), "{out}");
    let (_, err) = srv.fails(&[
        "registry",
        "change",
        "--my-number",
        &c,
        "--kind",
        "death",
        "--effective-date",
        &today,
    ]);
    assert!(err.contains("409"), "{err}");
    let out = srv.ok(&[
        "registry",
        "disclose",
        "--token",
        &chiyoda_clerk,
        "--my-number",
        &c,
    ]);
    for want in [
        "v1 birth",
        "v2 address_change",
        "v3 name_change",
        "v4 death",
        "転居届",
        "JUKI-T1-91 [granted]",
        "NOPE [refused]",
    ] {
        assert!(out.contains(want), "disclosure lacks {want:?}:\n{out}");
    }
    let d = srv.json(&[
        "registry",
        "disclose",
        "--token",
        &chiyoda_clerk,
        "--my-number",
        &c,
    ]);
    assert_eq!(d["record"]["status"], "deceased");
    assert_eq!(d["history"].as_array().unwrap().len(), 4);

    // Correction requests.
    let v = srv.json(&[
        "registry",
        "correction",
        "request",
        "--my-number",
        given,
        "--fields",
        "name,address",
        "--detail",
        "誤字",
    ]);
    assert_eq!(v["status"], "received");
    let id = v["id"].as_str().unwrap().to_string();
    let out = srv.ok(&[
        "registry",
        "correction",
        "update",
        "--id",
        &id,
        "--status",
        "rejected",
        "--note",
        "誤りなし",
    ]);
    assert!(out.contains("[rejected]"), "{out}");

    // Interactive login: password on stdin, TOTP code as a flag.
    let ops: Value = serde_json::from_str(
        &std::fs::read_to_string(srv.data_dir().join("demo-operators.json")).unwrap(),
    )
    .unwrap();
    let code = honnin_auth::totp_code(
        ops["auditor"]["totp_secret"].as_str().unwrap(),
        jiff::Timestamp::now(),
    )
    .unwrap();
    let password = format!("{}\n", ops["auditor"]["password"].as_str().unwrap());
    let out = srv.run_with_stdin(
        &["login", "--operator", "auditor", "--totp", &code],
        &password,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let session = text(&out.stdout).trim().to_string();
    assert!(session.starts_with("hns_"), "{session}");
    // The auditor's session verifies the log; the chain is intact.
    let out = srv.ok(&["audit", "verify", "--token", &session]);
    assert!(out.contains("intact"), "{out}");
    let out = srv.run_with_stdin(
        &["login", "--operator", "auditor", "--totp", &code],
        "wrong password\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));

    // Audit log.
    let out = srv.ok(&["audit", "verify"]);
    assert!(out.contains("intact"), "{out}");
    let log = srv.json(&["audit", "list", "--kind", "provision", "--limit", "1000"]);
    let results: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert!(
        results.contains(&"granted") && results.contains(&"refused"),
        "{results:?}"
    );
    // Tampering with one entry is detected and named.
    tamper(&srv.data_dir().join("honnin.sqlite"), granted_seq);
    let (out, _) = srv.fails(&["audit", "verify"]);
    assert!(
        out.contains(&format!("BROKEN at entry {granted_seq}")),
        "{out}"
    );
    let out = srv.run(&["audit", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_broken"]["seq"], granted_seq);

    // SIGTERM: a graceful shutdown, exit status 0.
    let mut srv = srv;
    let mut child = srv.child.0.take().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop after SIGTERM: {}", srv.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{}", srv.log());
    assert!(srv.log().contains("shutting down"), "{}", srv.log());
    assert!(std::net::TcpStream::connect(&srv.addr).is_err());
}

#[test]
fn client_errors_without_a_server() {
    // No server listening: a clear error and exit status 1.
    let dir = tempfile::tempdir().unwrap();
    let out = honnin()
        .args([
            "registry",
            "list",
            "--server",
            &format!("http://127.0.0.1:{}", free_port()),
            "--token",
            "hnt_x",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach the server"),
        "{}",
        text(&out.stderr)
    );
}
