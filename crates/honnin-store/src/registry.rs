//! Tables of the resident registry (住民基本台帳): current records, their append-only
//! history, agencies with their legal bases, and correction requests (申出).

use honnin_core::{
    Address, BasicFacts, KanaName, LocalGovCode, MyNumber, PersonName, ResidentCode, Sex,
    SubstituteFlags,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_micros, micros};
use crate::{Conn, StoreError, list_placeholders, values_placeholders};

/// Whether a record is current or removed (除票).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentStatus {
    /// 住民: registered and living in the municipality.
    Resident,
    /// 転出: moved out (to another municipality or abroad); the record is kept.
    MovedOut,
    /// 死亡: deceased; the record is kept.
    Deceased,
}

impl ResidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResidentStatus::Resident => "resident",
            ResidentStatus::MovedOut => "moved_out",
            ResidentStatus::Deceased => "deceased",
        }
    }
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "resident" => Ok(ResidentStatus::Resident),
            "moved_out" => Ok(ResidentStatus::MovedOut),
            "deceased" => Ok(ResidentStatus::Deceased),
            other => Err(StoreError::Corrupt(format!(
                "unknown resident status {other:?}"
            ))),
        }
    }
}

/// A resident's current record (住民票), as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub my_number: MyNumber,
    pub resident_code: ResidentCode,
    pub municipality: LocalGovCode,
    #[serde(flatten)]
    pub facts: BasicFacts,
    pub status: ResidentStatus,
    /// Number of history entries; the next event gets `version + 1`.
    pub version: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// One entry of a resident's history (異動履歴).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentEvent {
    pub my_number: MyNumber,
    pub version: i64,
    /// `birth`, `move_in`, `move_out`, `address_change`, `name_change`, `correction`,
    /// `death`, `import`.
    pub kind: String,
    pub effective_date: jiff::civil::Date,
    pub reason: String,
    pub municipality: LocalGovCode,
    pub operator: String,
    pub recorded_at: jiff::Timestamp,
    /// The record as it stood after the event.
    pub snapshot: serde_json::Value,
}

const RESIDENT_COLS: &str = "my_number, resident_code, municipality, name, name_kana, alias, birth_date, sex, address, name_flags, address_flags, status, version, created_at, updated_at";

fn corrupt<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn resident_from_row(r: &AnyRow) -> Result<Resident, StoreError> {
    let name: String = r.try_get(3)?;
    let address: String = r.try_get(8)?;
    let alias: Option<String> = r.try_get(5)?;
    let birth: String = r.try_get(6)?;
    let sex: i64 = r.try_get(7)?;
    let name_flags: String = r.try_get(9)?;
    let address_flags: String = r.try_get(10)?;
    let status: String = r.try_get(11)?;
    Ok(Resident {
        my_number: MyNumber::parse(&r.try_get::<String, _>(0)?).map_err(corrupt)?,
        resident_code: ResidentCode::parse(&r.try_get::<String, _>(1)?).map_err(corrupt)?,
        municipality: LocalGovCode::parse(&r.try_get::<String, _>(2)?).map_err(corrupt)?,
        facts: BasicFacts {
            name_flags: SubstituteFlags::parse_for(&name_flags, &name, "name_flags")
                .map_err(corrupt)?,
            address_flags: SubstituteFlags::parse_for(&address_flags, &address, "address_flags")
                .map_err(corrupt)?,
            name: PersonName::parse(&name).map_err(corrupt)?,
            name_kana: KanaName::parse(&r.try_get::<String, _>(4)?).map_err(corrupt)?,
            alias: alias
                .as_deref()
                .map(PersonName::parse)
                .transpose()
                .map_err(corrupt)?,
            birth_date: birth.parse().map_err(corrupt)?,
            sex: Sex::from_code(u8::try_from(sex).map_err(corrupt)?).map_err(corrupt)?,
            address: Address::parse(&address).map_err(corrupt)?,
        },
        status: ResidentStatus::parse(&status)?,
        version: r.try_get(12)?,
        created_at: from_micros(r.try_get(13)?),
        updated_at: from_micros(r.try_get(14)?),
    })
}

fn bind_resident<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    r: &'q Resident,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(r.my_number.as_str())
        .bind(r.resident_code.as_str())
        .bind(r.municipality.as_str())
        .bind(r.facts.name.as_str())
        .bind(r.facts.name_kana.as_str())
        .bind(r.facts.alias.as_ref().map(|a| a.as_str()))
        .bind(r.facts.birth_date.to_string())
        .bind(i64::from(r.facts.sex.code()))
        .bind(r.facts.address.as_str())
        .bind(r.facts.name_flags.as_str())
        .bind(r.facts.address_flags.as_str())
        .bind(r.status.as_str())
        .bind(r.version)
        .bind(micros(r.created_at))
        .bind(micros(r.updated_at))
}

fn bind_event<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    e: &ResidentEvent,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(e.my_number.as_str().to_string())
        .bind(e.version)
        .bind(e.kind.clone())
        .bind(e.effective_date.to_string())
        .bind(e.reason.clone())
        .bind(e.municipality.as_str().to_string())
        .bind(e.operator.clone())
        .bind(micros(e.recorded_at))
        .bind(e.snapshot.to_string())
}

const EVENT_COLS: &str = "my_number, version, kind, effective_date, reason, municipality, operator, recorded_at, snapshot";

/// The first history entry written with each new resident.
#[derive(Debug, Clone, Copy)]
pub struct FirstEvent<'a> {
    pub kind: &'a str,
    pub effective_date: jiff::civil::Date,
    pub reason: &'a str,
    pub operator: &'a str,
    pub recorded_at: jiff::Timestamp,
}

/// Inserts new residents, each with its first history entry (version 1, the record as its
/// snapshot), in multi-row statements. A duplicate 個人番号 or 住民票コード fails the whole
/// call with a conflict.
pub async fn insert_residents(
    conn: &mut Conn,
    residents: &[Resident],
    first: FirstEvent<'_>,
) -> Result<(), StoreError> {
    // Inserting in key order keeps B-tree writes local (random 個人番号 otherwise touch a
    // different page per row).
    let mut residents: Vec<&Resident> = residents.iter().collect();
    residents.sort_unstable_by(|a, b| a.my_number.cmp(&b.my_number));
    // 15 and 9 columns: stay well under SQLite's and PostgreSQL's parameter limits.
    for chunk in residents.chunks(500) {
        let sql = format!(
            "INSERT INTO residents ({RESIDENT_COLS}) VALUES {}",
            values_placeholders(conn, chunk.len(), 15)
        );
        let mut q = sqlx::query(crate::dsql(&sql));
        for r in chunk {
            q = bind_resident(q, r);
        }
        q.execute(&mut *conn).await.map_err(map_unique)?;
    }
    let date = first.effective_date.to_string();
    let at = micros(first.recorded_at);
    for chunk in residents.chunks(800) {
        let sql = format!(
            "INSERT INTO resident_events ({EVENT_COLS}) VALUES {}",
            values_placeholders(conn, chunk.len(), 9)
        );
        let mut q = sqlx::query(crate::dsql(&sql));
        for r in chunk {
            let snapshot = serde_json::to_string(r).map_err(corrupt)?;
            q = q
                .bind(r.my_number.as_str())
                .bind(r.version)
                .bind(first.kind)
                .bind(date.as_str())
                .bind(first.reason)
                .bind(r.municipality.as_str())
                .bind(first.operator)
                .bind(at)
                .bind(snapshot);
        }
        q.execute(&mut *conn).await.map_err(map_unique)?;
    }
    Ok(())
}

fn map_unique(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_string())
        }
        _ => StoreError::Db(e),
    }
}

/// Replaces the current record, provided nobody else changed it since `expected_version`.
pub async fn update_resident(
    conn: &mut Conn,
    r: &Resident,
    expected_version: i64,
) -> Result<(), StoreError> {
    let n = bind_resident(
        sqlx::query(
            "UPDATE residents SET my_number = $1, resident_code = $2, municipality = $3, name = $4, name_kana = $5, alias = $6, birth_date = $7, sex = $8, address = $9, name_flags = $10, address_flags = $11, status = $12, version = $13, created_at = $14, updated_at = $15 WHERE my_number = $1 AND version = $16",
        ),
        r,
    )
    .bind(expected_version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Concurrent(format!("resident {}", r.my_number)));
    }
    Ok(())
}

/// Appends one history entry.
pub async fn insert_event(conn: &mut Conn, e: &ResidentEvent) -> Result<(), StoreError> {
    bind_event(
        sqlx::query(crate::dsql(&format!(
            "INSERT INTO resident_events ({EVENT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        ))),
        e,
    )
    .execute(&mut *conn)
    .await
    .map_err(map_unique)?;
    Ok(())
}

pub async fn get_resident(
    conn: &mut Conn,
    my_number: &MyNumber,
) -> Result<Option<Resident>, StoreError> {
    let row = sqlx::query(crate::dsql(&format!(
        "SELECT {RESIDENT_COLS} FROM residents WHERE my_number = $1"
    )))
    .bind(my_number.as_str().to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(resident_from_row).transpose()
}

pub async fn resident_code_taken(conn: &mut Conn, code: &ResidentCode) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents WHERE resident_code = $1")
        .bind(code.as_str().to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// Records in one municipality (or all), ordered by 個人番号, after `after`.
pub async fn list_residents(
    conn: &mut Conn,
    municipality: Option<&LocalGovCode>,
    after: Option<&MyNumber>,
    limit: i64,
) -> Result<Vec<Resident>, StoreError> {
    let after = after.map(|m| m.as_str().to_string()).unwrap_or_default();
    let rows = match municipality {
        Some(m) => sqlx::query(crate::dsql(&format!(
            "SELECT {RESIDENT_COLS} FROM residents WHERE municipality = $1 AND my_number > $2 ORDER BY my_number LIMIT $3"
        )))
        .bind(m.as_str().to_string())
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?,
        None => sqlx::query(crate::dsql(&format!(
            "SELECT {RESIDENT_COLS} FROM residents WHERE my_number > $1 ORDER BY my_number LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?,
    };
    rows.iter().map(resident_from_row).collect()
}

/// Candidates for a search by the four facts: same birth date and sex. The caller compares
/// the normalised name and address.
pub async fn candidates_by_birth(
    conn: &mut Conn,
    birth_date: jiff::civil::Date,
    sex: Sex,
) -> Result<Vec<Resident>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "SELECT {RESIDENT_COLS} FROM residents WHERE birth_date = $1 AND sex = $2 LIMIT 10000"
    )))
    .bind(birth_date.to_string())
    .bind(i64::from(sex.code()))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(resident_from_row).collect()
}

pub async fn count_residents(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM residents")
        .fetch_one(&mut *conn)
        .await?)
}

/// A resident's history, oldest first.
pub async fn events_for(
    conn: &mut Conn,
    my_number: &MyNumber,
) -> Result<Vec<ResidentEvent>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "SELECT {EVENT_COLS} FROM resident_events WHERE my_number = $1 ORDER BY version"
    )))
    .bind(my_number.as_str().to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let snapshot: String = r.try_get(8)?;
            Ok(ResidentEvent {
                my_number: MyNumber::parse(&r.try_get::<String, _>(0)?).map_err(corrupt)?,
                version: r.try_get(1)?,
                kind: r.try_get(2)?,
                effective_date: r.try_get::<String, _>(3)?.parse().map_err(corrupt)?,
                reason: r.try_get(4)?,
                municipality: LocalGovCode::parse(&r.try_get::<String, _>(5)?).map_err(corrupt)?,
                operator: r.try_get(6)?,
                recorded_at: from_micros(r.try_get(7)?),
                snapshot: serde_json::from_str(&snapshot).map_err(corrupt)?,
            })
        })
        .collect()
}

/// An agency (行政機関等) that may receive 本人確認情報.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    pub id: String,
    pub name: String,
}

/// A legal basis an agency may cite, and the items it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalBasis {
    pub agency: String,
    pub code: String,
    pub description: String,
    pub items: Vec<String>,
}

pub async fn upsert_agency(conn: &mut Conn, a: &Agency) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO agencies (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = $2",
    )
    .bind(a.id.clone())
    .bind(a.name.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get_agency(conn: &mut Conn, id: &str) -> Result<Option<Agency>, StoreError> {
    let row = sqlx::query("SELECT id, name FROM agencies WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(Agency {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
        })
    })
    .transpose()
}

pub async fn list_agencies(conn: &mut Conn) -> Result<Vec<Agency>, StoreError> {
    let rows = sqlx::query("SELECT id, name FROM agencies ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Agency {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .collect()
}

pub async fn upsert_basis(conn: &mut Conn, b: &LegalBasis) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO legal_bases (agency, code, description, items) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (agency, code) DO UPDATE SET description = $3, items = $4",
    )
    .bind(b.agency.clone())
    .bind(b.code.clone())
    .bind(b.description.clone())
    .bind(b.items.join(","))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn basis_from_row(r: &AnyRow) -> Result<LegalBasis, StoreError> {
    let items: String = r.try_get(3)?;
    Ok(LegalBasis {
        agency: r.try_get(0)?,
        code: r.try_get(1)?,
        description: r.try_get(2)?,
        items: items
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

pub async fn get_basis(
    conn: &mut Conn,
    agency: &str,
    code: &str,
) -> Result<Option<LegalBasis>, StoreError> {
    let row = sqlx::query(
        "SELECT agency, code, description, items FROM legal_bases WHERE agency = $1 AND code = $2",
    )
    .bind(agency.to_string())
    .bind(code.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(basis_from_row).transpose()
}

pub async fn list_bases(conn: &mut Conn, agency: &str) -> Result<Vec<LegalBasis>, StoreError> {
    let rows = sqlx::query(
        "SELECT agency, code, description, items FROM legal_bases WHERE agency = $1 ORDER BY code",
    )
    .bind(agency.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(basis_from_row).collect()
}

/// A correction request (申出) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionRequest {
    pub id: String,
    pub my_number: MyNumber,
    /// The fields the resident says are wrong.
    pub fields: Vec<String>,
    pub detail: String,
    /// `received`, `investigating`, `corrected`, `rejected`.
    pub status: String,
    pub note: String,
    pub operator: String,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

pub async fn insert_correction(conn: &mut Conn, c: &CorrectionRequest) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO correction_requests (id, my_number, fields, detail, status, note, operator, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(c.id.clone())
    .bind(c.my_number.as_str().to_string())
    .bind(c.fields.join(","))
    .bind(c.detail.clone())
    .bind(c.status.clone())
    .bind(c.note.clone())
    .bind(c.operator.clone())
    .bind(micros(c.created_at))
    .bind(micros(c.updated_at))
    .execute(&mut *conn)
    .await
    .map_err(map_unique)?;
    Ok(())
}

/// Moves a request from `from` to `to`; fails if its status changed meanwhile.
pub async fn update_correction_status(
    conn: &mut Conn,
    id: &str,
    from: &str,
    to: &str,
    note: &str,
    operator: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    let n = sqlx::query(
        "UPDATE correction_requests SET status = $1, note = $2, operator = $3, updated_at = $4 WHERE id = $5 AND status = $6",
    )
    .bind(to.to_string())
    .bind(note.to_string())
    .bind(operator.to_string())
    .bind(micros(now))
    .bind(id.to_string())
    .bind(from.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Concurrent(format!("correction request {id}")));
    }
    Ok(())
}

fn correction_from_row(r: &AnyRow) -> Result<CorrectionRequest, StoreError> {
    let fields: String = r.try_get(2)?;
    Ok(CorrectionRequest {
        id: r.try_get(0)?,
        my_number: MyNumber::parse(&r.try_get::<String, _>(1)?).map_err(corrupt)?,
        fields: fields
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        detail: r.try_get(3)?,
        status: r.try_get(4)?,
        note: r.try_get(5)?,
        operator: r.try_get(6)?,
        created_at: from_micros(r.try_get(7)?),
        updated_at: from_micros(r.try_get(8)?),
    })
}

const CORRECTION_COLS: &str =
    "id, my_number, fields, detail, status, note, operator, created_at, updated_at";

pub async fn get_correction(
    conn: &mut Conn,
    id: &str,
) -> Result<Option<CorrectionRequest>, StoreError> {
    let row = sqlx::query(crate::dsql(&format!(
        "SELECT {CORRECTION_COLS} FROM correction_requests WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(correction_from_row).transpose()
}

pub async fn corrections_for(
    conn: &mut Conn,
    my_number: &MyNumber,
) -> Result<Vec<CorrectionRequest>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "SELECT {CORRECTION_COLS} FROM correction_requests WHERE my_number = $1 ORDER BY created_at, id"
    )))
    .bind(my_number.as_str().to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(correction_from_row).collect()
}

/// Which of `values` already exist in `column` (`my_number` or `resident_code`).
pub async fn existing(
    conn: &mut Conn,
    column: ExistingColumn,
    values: &[String],
) -> Result<Vec<String>, StoreError> {
    let col = match column {
        ExistingColumn::MyNumber => "my_number",
        ExistingColumn::ResidentCode => "resident_code",
    };
    let mut out = Vec::new();
    for chunk in values.chunks(900) {
        let sql = format!(
            "SELECT {col} FROM residents WHERE {col} IN ({})",
            list_placeholders(conn, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(crate::dsql(&sql));
        for v in chunk {
            q = q.bind(v.clone());
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// A uniquely indexed column of `residents`.
#[derive(Debug, Clone, Copy)]
pub enum ExistingColumn {
    MyNumber,
    ResidentCode,
}
