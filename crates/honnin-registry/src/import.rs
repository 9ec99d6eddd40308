//! Bulk import (移行) of residents: a batch is validated row by row, and either every row
//! is written or none is, with a report naming each bad row and field.

use std::collections::HashSet;

use honnin_core::{
    Actor, Address, BasicFacts, KanaName, LocalGovCode, MyNumber, PersonName, ResidentCode, Role,
    Sex, SubstituteFlags, parse_date,
};
use honnin_store::audit::{self, AuditEntry};
use honnin_store::registry::{self as repo, ExistingColumn, FirstEvent, Resident, ResidentStatus};
use serde::{Deserialize, Serialize};

use crate::{Registry, RegistryError, RowError};

/// One row of an import, as in the CSV file (columns documented in the README).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    /// Empty: the registry issues a new 個人番号.
    #[serde(default)]
    pub my_number: Option<String>,
    /// Empty: the registry issues a new 住民票コード.
    #[serde(default)]
    pub resident_code: Option<String>,
    pub municipality: String,
    pub name: String,
    pub name_kana: String,
    #[serde(default)]
    pub alias: Option<String>,
    pub birth_date: String,
    pub sex: String,
    pub address: String,
    #[serde(default)]
    pub name_flags: Option<String>,
    #[serde(default)]
    pub address_flags: Option<String>,
}

/// The outcome of an accepted batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub imported: usize,
    /// The 個人番号 of each row, in order (issued or given).
    pub my_numbers: Vec<String>,
}

fn empty_to_none(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_row(
    row: &ImportRow,
    today: jiff::civil::Date,
) -> Result<
    (
        Option<MyNumber>,
        Option<ResidentCode>,
        LocalGovCode,
        BasicFacts,
    ),
    RegistryError,
> {
    let name = PersonName::parse(&row.name)?;
    let address = Address::parse(&row.address)?;
    let facts = BasicFacts {
        name_flags: match empty_to_none(&row.name_flags) {
            Some(f) => SubstituteFlags::parse_for(f, name.as_str(), "name_flags")?,
            None => SubstituteFlags::none_for(name.as_str()),
        },
        address_flags: match empty_to_none(&row.address_flags) {
            Some(f) => SubstituteFlags::parse_for(f, address.as_str(), "address_flags")?,
            None => SubstituteFlags::none_for(address.as_str()),
        },
        name,
        name_kana: KanaName::parse(&row.name_kana)?,
        alias: empty_to_none(&row.alias)
            .map(PersonName::parse)
            .transpose()?,
        birth_date: parse_date(row.birth_date.trim(), "birth_date")?,
        sex: row.sex.trim().parse::<Sex>()?,
        address,
    };
    facts.validate(today)?;
    Ok((
        empty_to_none(&row.my_number)
            .map(MyNumber::parse)
            .transpose()?,
        empty_to_none(&row.resident_code)
            .map(ResidentCode::parse)
            .transpose()?,
        LocalGovCode::parse(row.municipality.trim())?,
        facts,
    ))
}

fn row_error(row: usize, e: &RegistryError) -> RowError {
    RowError {
        row,
        field: e.field_name().unwrap_or("row").to_string(),
        message: e.to_string(),
    }
}

/// Most rows accepted in one batch.
pub const MAX_BATCH: usize = 50_000;

impl Registry {
    /// Imports one batch. `first_row` numbers the rows in error reports.
    pub async fn import(
        &self,
        actor: &Actor,
        rows: &[ImportRow],
        first_row: usize,
    ) -> Result<ImportReport, RegistryError> {
        Self::require_role(
            actor,
            &[Role::Admin, Role::RegistryClerk],
            "import residents",
        )?;
        if rows.is_empty() {
            return Err(RegistryError::field("rows", "the batch is empty"));
        }
        if rows.len() > MAX_BATCH {
            return Err(RegistryError::field(
                "rows",
                format!("at most {MAX_BATCH} rows per batch"),
            ));
        }
        let today = self.today();
        let now = self.now();
        let mut errors = Vec::new();
        let mut parsed = Vec::with_capacity(rows.len());
        let mut seen_numbers = HashSet::with_capacity(rows.len());
        let mut seen_codes = HashSet::with_capacity(rows.len());
        let mut given_codes: HashSet<usize> = HashSet::new();
        // StdRng, not ThreadRng: the future must stay Send across awaits.
        let mut rng = {
            use rand::SeedableRng;
            rand::rngs::StdRng::from_rng(&mut rand::rng())
        };
        for (i, row) in rows.iter().enumerate() {
            let n = first_row + i;
            match parse_row(row, today) {
                Err(e) => errors.push(row_error(n, &e)),
                Ok((mn, code, muni, facts)) => {
                    if !actor.may_act_in(&muni) {
                        errors.push(row_error(
                            n,
                            &RegistryError::forbidden(format!(
                                "operator {} may not import into municipality {muni}",
                                actor.operator
                            )),
                        ));
                        continue;
                    }
                    let given = mn.is_some();
                    let given_code = code.is_some();
                    // Issued numbers are drawn again on a collision; given ones are errors.
                    let mut mn = mn.unwrap_or_else(|| MyNumber::generate(&mut rng));
                    while !given && seen_numbers.contains(mn.as_str()) {
                        mn = MyNumber::generate(&mut rng);
                    }
                    let mut code = code.unwrap_or_else(|| ResidentCode::generate(&mut rng));
                    while !given_code && seen_codes.contains(code.as_str()) {
                        code = ResidentCode::generate(&mut rng);
                    }
                    if !seen_numbers.insert(mn.as_str().to_string()) {
                        errors.push(row_error(
                            n,
                            &RegistryError::field(
                                "my_number",
                                "duplicate 個人番号 within the file",
                            ),
                        ));
                        continue;
                    }
                    if !seen_codes.insert(code.as_str().to_string()) {
                        errors.push(row_error(
                            n,
                            &RegistryError::field(
                                "resident_code",
                                "duplicate 住民票コード within the file",
                            ),
                        ));
                        continue;
                    }
                    if given_code {
                        given_codes.insert(n);
                    }
                    parsed.push((n, given, mn, code, muni, facts));
                }
            }
        }
        let mut tx = self.store.begin().await?;
        // Existing numbers: a given one is a row error; an issued one is drawn again.
        let numbers: Vec<String> = parsed.iter().map(|p| p.2.as_str().to_string()).collect();
        let taken: HashSet<String> = repo::existing(&mut tx, ExistingColumn::MyNumber, &numbers)
            .await?
            .into_iter()
            .collect();
        let codes: Vec<String> = parsed.iter().map(|p| p.3.as_str().to_string()).collect();
        let taken_codes: HashSet<String> =
            repo::existing(&mut tx, ExistingColumn::ResidentCode, &codes)
                .await?
                .into_iter()
                .collect();
        for p in parsed.iter_mut() {
            if taken.contains(p.2.as_str()) {
                if p.1 {
                    errors.push(row_error(
                        p.0,
                        &RegistryError::field("my_number", "this 個人番号 is already registered"),
                    ));
                } else {
                    let mut fresh = MyNumber::generate(&mut rng);
                    while seen_numbers.contains(fresh.as_str()) || taken.contains(fresh.as_str()) {
                        fresh = MyNumber::generate(&mut rng);
                    }
                    seen_numbers.insert(fresh.as_str().to_string());
                    p.2 = fresh;
                }
            }
            if taken_codes.contains(p.3.as_str()) {
                if given_codes.contains(&p.0) {
                    errors.push(row_error(
                        p.0,
                        &RegistryError::field(
                            "resident_code",
                            "this 住民票コード is already registered",
                        ),
                    ));
                } else {
                    let mut fresh = ResidentCode::generate(&mut rng);
                    while seen_codes.contains(fresh.as_str())
                        || taken_codes.contains(fresh.as_str())
                    {
                        fresh = ResidentCode::generate(&mut rng);
                    }
                    seen_codes.insert(fresh.as_str().to_string());
                    p.3 = fresh;
                }
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.row);
            return Err(RegistryError::Import { errors });
        }
        let residents: Vec<Resident> = parsed
            .into_iter()
            .map(
                |(_, _, my_number, resident_code, municipality, facts)| Resident {
                    my_number,
                    resident_code,
                    municipality,
                    facts,
                    status: ResidentStatus::Resident,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                },
            )
            .collect();
        let first = FirstEvent {
            kind: "import",
            effective_date: today,
            reason: "bulk import",
            operator: &actor.operator,
            recorded_at: now,
        };
        match repo::insert_residents(&mut tx, &residents, first).await {
            // A number issued by a concurrent import in the meantime: refuse the batch.
            Err(e) if e.is_unique_violation() => {
                return Err(RegistryError::conflict(format!(
                    "a number in the batch was registered concurrently ({e}); retry"
                )));
            }
            other => other?,
        }
        audit::append_in_tx(
            &mut tx,
            now,
            &[AuditEntry::new("import", &actor.operator, "ok")
                .items("all")
                .detail(format!(
                    "imported {} resident(s), rows {}..={}",
                    residents.len(),
                    first_row,
                    first_row + residents.len() - 1
                ))],
        )
        .await?;
        honnin_store::commit(tx).await?;
        Ok(ImportReport {
            imported: residents.len(),
            my_numbers: residents
                .iter()
                .map(|r| r.my_number.as_str().to_string())
                .collect(),
        })
    }
}

impl ImportRow {
    /// A row from a synthetic resident (for seeding and benchmarks).
    pub fn from_synthetic(s: &crate::synth::SyntheticResident) -> Self {
        ImportRow {
            municipality: s.municipality_code6.to_string(),
            name: s.name.clone(),
            name_kana: s.name_kana.clone(),
            birth_date: s.birth_date.to_string(),
            sex: s.sex.to_string(),
            address: s.address.clone(),
            ..Default::default()
        }
    }
}

impl ImportRow {
    /// Validates the row as an import would (for previews and fuzzing).
    pub fn check(&self, today: jiff::civil::Date) -> Result<(), RegistryError> {
        parse_row(self, today).map(|_| ())
    }
}
