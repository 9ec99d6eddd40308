//! Test support for honnin's integration tests.
//!
//! - [`backends`]: a fresh, empty [`Store`] on every backend under test — always SQLite
//!   (a WAL file in a temporary directory), plus PostgreSQL when `HONNIN_TEST_PG_URL` is
//!   set (a new database `honnin_t_<hex>` per call, dropped again when the [`TestDb`] is).
//!   With `HONNIN_REQUIRE_PG=1` a missing URL or an unreachable server panics, so that CI
//!   can never silently test SQLite only.
//! - Actors for each role ([`admin`], [`clerk`], [`window_clerk`], [`agency`],
//!   [`auditor`]), a [`FixedClock`] at [`NOW`], a [`Registry`] wired to both
//!   ([`registry`]), and sample [`BasicFacts`] / [`NewResident`] builders.

use std::sync::Arc;

use honnin_core::{
    Actor, Address, BasicFacts, KanaName, LocalGovCode, PersonName, Role, Sex, SubstituteFlags,
};
use honnin_registry::{NewResident, RegistrationKind, Registry};
use honnin_store::audit::AuditLog;
use honnin_store::{Backend, Clock, FixedClock, OpenOptions, Store};
use sqlx::Connection;

/// The environment variable holding the PostgreSQL admin URL for tests, e.g.
/// `postgres://honnin:honnin@127.0.0.1:5432/postgres`.
pub const PG_URL_ENV: &str = "HONNIN_TEST_PG_URL";
/// When set to `1`, PostgreSQL must be tested: [`backends`] panics if it cannot be.
pub const REQUIRE_PG_ENV: &str = "HONNIN_REQUIRE_PG";

/// 千代田区.
pub const CHIYODA: &str = "131016";
/// 新宿区.
pub const SHINJUKU: &str = "131041";
/// 札幌市.
pub const SAPPORO: &str = "011002";

/// The instant the [`FixedClock`] of the tests starts at (12:00 JST, 2026-11-22).
pub const NOW: &str = "2026-11-22T03:00:00Z";

/// One backend's fresh database. Keep it alive for the whole test: dropping it removes
/// the SQLite directory or (best effort) drops the PostgreSQL database.
pub struct TestDb {
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub name: &'static str,
    pub store: Store,
    guard: Guard,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres {
        admin_url: String,
        database: String,
        url: String,
    },
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The SQLite directory; `None` on PostgreSQL.
    pub fn sqlite_dir(&self) -> Option<&std::path::Path> {
        match &self.guard {
            Guard::Sqlite(dir) => Some(dir.path()),
            Guard::Postgres { .. } => None,
        }
    }

    /// Opens another, independent [`Store`] on the same database (as a second process or
    /// a restart would), applying migrations again.
    pub async fn reopen(&self) -> Result<Store, honnin_store::StoreError> {
        self.guard.open().await
    }
}

impl Guard {
    async fn open(&self) -> Result<Store, honnin_store::StoreError> {
        match self {
            Guard::Sqlite(dir) => Store::open_sqlite_dir(dir.path(), test_options()).await,
            Guard::Postgres { url, .. } => Store::open(url, test_options()).await,
        }
    }
}

/// A fresh database on one backend that no [`Store`] has opened yet: no schema at all.
pub struct EmptyDb {
    /// `"sqlite"` or `"postgres"`.
    pub name: &'static str,
    guard: Guard,
}

impl std::fmt::Debug for EmptyDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmptyDb")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl EmptyDb {
    /// Opens a [`Store`] on the database (applying migrations); may be called repeatedly
    /// and concurrently.
    pub async fn open(&self) -> Result<Store, honnin_store::StoreError> {
        self.guard.open().await
    }

    /// Opens the database and keeps it as a [`TestDb`]; panics if it cannot be opened.
    pub async fn into_test_db(self) -> TestDb {
        let store = self
            .open()
            .await
            .unwrap_or_else(|e| fail(format!("cannot open the {} test store: {e}", self.name)));
        TestDb {
            name: self.name,
            store,
            guard: self.guard,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres {
            admin_url,
            database,
            ..
        } = self
        {
            drop_pg_database(admin_url, database);
        }
    }
}

/// Drops a test database, best effort. Runs from a thread with a runtime of its own:
/// drops happen inside the test's runtime, which must not be blocked on itself.
fn drop_pg_database(admin_url: &str, database: &str) {
    let (admin_url, database) = (admin_url.to_string(), database.to_string());
    let cleanup = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                // FORCE ends the connections the test's pool (and audit writer) still hold.
                let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        });
    });
    let _ = cleanup.join();
}

/// Options for test stores: a small pool, no fsync on every commit.
pub fn test_options() -> OpenOptions {
    OpenOptions {
        durable: false,
        max_connections: 8,
    }
}

/// A fresh SQLite database (not yet opened) in its own temporary directory.
pub fn empty_sqlite() -> EmptyDb {
    let dir = tempfile::tempdir()
        .unwrap_or_else(|e| fail(format!("cannot create a temporary directory: {e}")));
    EmptyDb {
        name: "sqlite",
        guard: Guard::Sqlite(dir),
    }
}

/// A fresh SQLite store in its own temporary directory.
pub async fn sqlite() -> TestDb {
    empty_sqlite().into_test_db().await
}

/// Whether `HONNIN_REQUIRE_PG=1`.
pub fn pg_required() -> bool {
    std::env::var(REQUIRE_PG_ENV).is_ok_and(|v| v.trim() == "1")
}

/// A new, empty PostgreSQL database `honnin_t_<hex>`, or `None` when
/// `HONNIN_TEST_PG_URL` is not set and PostgreSQL is not required. Panics when
/// PostgreSQL is required but not configured, or when the configured server cannot be
/// used (a set URL is a request to test PostgreSQL; it is never skipped silently).
pub async fn empty_postgres() -> Option<EmptyDb> {
    let admin_url = match std::env::var(PG_URL_ENV) {
        Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ if pg_required() => fail(format!(
            "{REQUIRE_PG_ENV}=1 but {PG_URL_ENV} is not set: PostgreSQL tests cannot be skipped"
        )),
        _ => return None,
    };
    let shown = honnin_store::redact_url(&admin_url);
    if with_database(&admin_url, "x").is_none() {
        fail(format!(
            "cannot find the database part of {PG_URL_ENV}={shown}"
        ));
    }
    let database = format!("honnin_t_{}", hex::encode(rand::random::<[u8; 8]>()));
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            fail(format!(
                "cannot connect to PostgreSQL at {shown} ({PG_URL_ENV}): {e}"
            ))
        });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| {
            fail(format!(
                "cannot create test database {database} at {shown}: {e}"
            ))
        });
    let _ = admin.close().await;
    let url = with_database(&admin_url, &database).unwrap_or_default();
    Some(EmptyDb {
        name: "postgres",
        guard: Guard::Postgres {
            admin_url,
            database,
            url,
        },
    })
}

/// A fresh PostgreSQL store in a new database (see [`empty_postgres`]).
pub async fn postgres() -> Option<TestDb> {
    match empty_postgres().await {
        Some(db) => Some(db.into_test_db().await),
        None => None,
    }
}

/// Every backend under test, each with a fresh, empty, migrated database: SQLite always,
/// PostgreSQL when configured (see the crate documentation).
pub async fn backends() -> Vec<TestDb> {
    let mut out = Vec::new();
    for db in empty_backends().await {
        out.push(db.into_test_db().await);
    }
    out
}

/// Like [`backends`], but the databases are not opened yet (no schema).
pub async fn empty_backends() -> Vec<EmptyDb> {
    let mut out = vec![empty_sqlite()];
    out.extend(empty_postgres().await);
    out
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> Option<String> {
    let scheme_end = url.find("://")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    // The path starts at the first '/' after the authority (user:pass@host:port).
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    Some(format!("{}/{database}{query}", &base[..authority_end]))
}

#[allow(clippy::panic)]
fn fail(msg: String) -> ! {
    panic!("honnin-testkit: {msg}")
}

/// `SELECT COUNT(*) FROM <table>`; panics on a database error.
pub async fn count_rows(store: &Store, table: &str) -> i64 {
    assert!(
        table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "not a table name: {table}"
    );
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| fail(format!("cannot count {table}: {e}")))
}

/// Row counts of every table a registry operation writes, to show that a refused
/// operation wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub residents: i64,
    pub resident_events: i64,
    pub outbox: i64,
    pub outbox_head: i64,
    pub correction_requests: i64,
    pub audit_log: i64,
}

/// The current [`Counts`] of `store`.
pub async fn counts(store: &Store) -> Counts {
    let outbox_head =
        sqlx::query_scalar::<_, i64>("SELECT value FROM counters WHERE name = 'outbox'")
            .fetch_one(store.pool())
            .await
            .unwrap_or_else(|e| fail(format!("cannot read the outbox counter: {e}")));
    Counts {
        residents: count_rows(store, "residents").await,
        resident_events: count_rows(store, "resident_events").await,
        outbox: count_rows(store, "outbox").await,
        outbox_head,
        correction_requests: count_rows(store, "correction_requests").await,
        audit_log: count_rows(store, "audit_log").await,
    }
}

/// Every audit entry of `kind` (all kinds if `None`), oldest first.
pub async fn audit_entries(
    store: &Store,
    kind: Option<&str>,
) -> Vec<honnin_store::audit::AuditRecord> {
    let mut conn = store
        .conn()
        .await
        .unwrap_or_else(|e| fail(format!("cannot get a connection: {e}")));
    honnin_store::audit::page(&mut conn, 0, kind, 1_000_000)
        .await
        .unwrap_or_else(|e| fail(format!("cannot read the audit log: {e}")))
}

/// Every outbox event of `topic`, oldest first.
pub async fn outbox_events(store: &Store, topic: &str) -> Vec<honnin_store::outbox::OutboxEvent> {
    let mut conn = store
        .conn()
        .await
        .unwrap_or_else(|e| fail(format!("cannot get a connection: {e}")));
    honnin_store::outbox::fetch_after(&mut conn, 0, Some(topic), 1_000_000)
        .await
        .unwrap_or_else(|e| fail(format!("cannot read the outbox: {e}")))
}

/// Asserts that the audit chain verifies.
pub async fn assert_chain_ok(store: &Store) -> honnin_store::audit::VerifyReport {
    let report = honnin_store::audit::verify(store)
        .await
        .unwrap_or_else(|e| fail(format!("cannot verify the audit log: {e}")));
    assert!(report.ok, "audit chain broken: {report:?}");
    report
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// [`NOW`] as a timestamp.
pub fn now() -> jiff::Timestamp {
    NOW.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The calendar date in Japan at [`NOW`] (2026-11-22).
pub fn today() -> jiff::civil::Date {
    honnin_core::today_jst(now())
}

/// A clock standing at [`NOW`].
pub fn fixed_clock() -> FixedClock {
    FixedClock::new(now())
}

// ---------------------------------------------------------------------------
// Actors
// ---------------------------------------------------------------------------

/// A 個人番号; panics on a bad literal.
pub fn my_number(s: &str) -> honnin_core::MyNumber {
    honnin_core::MyNumber::parse(s).unwrap_or_else(|e| fail(format!("bad 個人番号 in a test: {e}")))
}

/// A municipality code; panics on a bad literal.
pub fn muni(code: &str) -> LocalGovCode {
    LocalGovCode::parse(code)
        .unwrap_or_else(|e| fail(format!("bad municipality code in a test: {e}")))
}

/// The administrator `admin-1`.
pub fn admin() -> Actor {
    Actor {
        operator: "admin-1".into(),
        role: Role::Admin,
        municipality: None,
        agency: None,
    }
}

/// A 住基 clerk `clerk-<code>` of municipality `code`.
pub fn clerk(code: &str) -> Actor {
    Actor {
        operator: format!("clerk-{code}"),
        role: Role::RegistryClerk,
        municipality: Some(muni(code)),
        agency: None,
    }
}

/// A window clerk `window-<code>` of municipality `code`.
pub fn window_clerk(code: &str) -> Actor {
    Actor {
        operator: format!("window-{code}"),
        role: Role::WindowClerk,
        municipality: Some(muni(code)),
        agency: None,
    }
}

/// An operator `op-<agency>` acting for `agency`.
pub fn agency(agency: &str) -> Actor {
    Actor {
        operator: format!("op-{agency}"),
        role: Role::Agency,
        municipality: None,
        agency: Some(agency.into()),
    }
}

/// The auditor `auditor-1`.
pub fn auditor() -> Actor {
    Actor {
        operator: "auditor-1".into(),
        role: Role::Auditor,
        municipality: None,
        agency: None,
    }
}

// ---------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------

/// A registry service over `store`, timed by `clock`, with its own audit writer.
pub fn registry(store: &Store, clock: &FixedClock) -> Registry {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    Registry::new(
        store.clone(),
        clock.clone(),
        AuditLog::spawn(store.clone(), clock),
    )
}

// ---------------------------------------------------------------------------
// Sample data
// ---------------------------------------------------------------------------

/// Builds validated [`BasicFacts`] (flags all `0`); panics on a bad literal.
pub fn facts(name: &str, kana: &str, birth_date: &str, sex: Sex, address: &str) -> BasicFacts {
    let name = PersonName::parse(name).unwrap_or_else(|e| fail(format!("bad name in a test: {e}")));
    let address =
        Address::parse(address).unwrap_or_else(|e| fail(format!("bad address in a test: {e}")));
    BasicFacts {
        name_flags: SubstituteFlags::none_for(name.as_str()),
        address_flags: SubstituteFlags::none_for(address.as_str()),
        name,
        name_kana: KanaName::parse(kana)
            .unwrap_or_else(|e| fail(format!("bad kana in a test: {e}"))),
        alias: None,
        birth_date: date(birth_date),
        sex,
        address,
    }
}

/// A date literal `YYYY-MM-DD`; panics on a bad literal.
pub fn date(s: &str) -> jiff::civil::Date {
    honnin_core::parse_date(s, "date").unwrap_or_else(|e| fail(format!("bad date in a test: {e}")))
}

/// 山田　太郎, born 1980-04-01, living in 千代田区.
pub fn sample_facts() -> BasicFacts {
    facts(
        "山田\u{3000}太郎",
        "ヤマダ\u{3000}タロウ",
        "1980-04-01",
        Sex::Male,
        "東京都千代田区丸の内一丁目2番3号",
    )
}

/// 佐藤　花子, born 2026-11-01 (a birth in the clock's month), living in 千代田区.
pub fn newborn_facts() -> BasicFacts {
    facts(
        "佐藤\u{3000}花子",
        "サトウ\u{3000}ハナコ",
        "2026-11-01",
        Sex::Female,
        "東京都千代田区神田神保町二丁目5番8号",
    )
}

/// A 転入 from outside the registry into `municipality`, effective 2026-11-20.
pub fn new_resident(municipality: &str, facts: BasicFacts) -> NewResident {
    NewResident {
        kind: RegistrationKind::MoveIn,
        municipality: muni(municipality),
        facts,
        effective_date: date("2026-11-20"),
        reason: "転入 (test)".into(),
    }
}

/// A 出生 in `municipality`, effective on the birth date.
pub fn birth(municipality: &str, facts: BasicFacts) -> NewResident {
    NewResident {
        kind: RegistrationKind::Birth,
        municipality: muni(municipality),
        effective_date: facts.birth_date,
        facts,
        reason: "出生 (test)".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5432/postgres", "x").as_deref(),
            Some("postgres://u:p@127.0.0.1:5432/x")
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x").as_deref(),
            Some("postgres://u:p@h/x?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://h:5432", "x").as_deref(),
            Some("postgres://h:5432/x")
        );
        assert_eq!(with_database("nonsense", "x"), None);
    }

    #[test]
    fn samples_are_valid() {
        assert_eq!(today(), date("2026-11-22"));
        sample_facts().validate(today()).unwrap();
        newborn_facts().validate(today()).unwrap();
        assert!(clerk(CHIYODA).may_act_in(&muni(CHIYODA)));
        assert!(!clerk(CHIYODA).may_act_in(&muni(SAPPORO)));
    }
}
