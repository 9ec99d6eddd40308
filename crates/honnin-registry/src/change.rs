//! Change events (異動): each is an append-only history entry, an update of the current
//! record derived from it, an 異動等 notice in the outbox and an audit entry, all in one
//! transaction.

use honnin_core::{
    Actor, Address, BasicFacts, KanaName, LocalGovCode, MyNumber, PersonName, ResidentCode, Role,
    Sex, SubstituteFlags,
};
use honnin_store::audit::{self, AuditEntry};
use honnin_store::registry::{self as repo, FirstEvent, Resident, ResidentEvent, ResidentStatus};
use honnin_store::{Conn, StoreError, outbox};
use serde::{Deserialize, Serialize};

use crate::{CHANGE_TOPIC, Registry, RegistryError};

/// How a new person enters the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationKind {
    /// 出生.
    Birth,
    /// 転入 of someone not yet in the registry (e.g. from abroad).
    MoveIn,
}

/// A person to register (a new 個人番号 and 住民票コード are issued).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewResident {
    pub kind: RegistrationKind,
    pub municipality: LocalGovCode,
    #[serde(flatten)]
    pub facts: BasicFacts,
    pub effective_date: jiff::civil::Date,
    #[serde(default)]
    pub reason: String,
}

/// A change to an existing resident.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// 転入 of a resident who moved out of another municipality: the same 個人番号.
    MoveIn {
        municipality: LocalGovCode,
        address: Address,
        address_flags: Option<SubstituteFlags>,
    },
    /// 転出: to another municipality or abroad.
    MoveOut {
        destination: String,
        #[serde(default)]
        abroad: bool,
    },
    /// 転居: a new address within the municipality.
    AddressChange {
        address: Address,
        address_flags: Option<SubstituteFlags>,
    },
    /// 氏名の変更.
    NameChange {
        name: PersonName,
        name_kana: KanaName,
        name_flags: Option<SubstituteFlags>,
        #[serde(default)]
        alias: Option<PersonName>,
    },
    /// 職権修正: correction of any of the four facts.
    Correction {
        name: Option<PersonName>,
        name_kana: Option<KanaName>,
        name_flags: Option<SubstituteFlags>,
        alias: Option<PersonName>,
        #[serde(
            default,
            deserialize_with = "honnin_core::deserialize_optional_birth_date"
        )]
        birth_date: Option<jiff::civil::Date>,
        sex: Option<Sex>,
        address: Option<Address>,
        address_flags: Option<SubstituteFlags>,
    },
    /// 死亡: the record is removed (kept as 除票).
    Death,
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self {
            Change::MoveIn { .. } => "move_in",
            Change::MoveOut { .. } => "move_out",
            Change::AddressChange { .. } => "address_change",
            Change::NameChange { .. } => "name_change",
            Change::Correction { .. } => "correction",
            Change::Death => "death",
        }
    }
}

/// A change with its effective date and reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRequest {
    #[serde(flatten)]
    pub change: Change,
    pub effective_date: jiff::civil::Date,
    #[serde(default)]
    pub reason: String,
}

fn flags_for(
    flags: Option<SubstituteFlags>,
    value: &str,
    field: &'static str,
) -> Result<SubstituteFlags, RegistryError> {
    match flags {
        None => Ok(SubstituteFlags::none_for(value)),
        Some(f) => {
            f.check_len(value, field)?;
            Ok(f)
        }
    }
}

pub(crate) fn snapshot(r: &Resident) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
}

fn notice(
    r: &Resident,
    kind: &str,
    effective: jiff::civil::Date,
    changed: &[&str],
    extra: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "notice": "idou",
        "kind": kind,
        "my_number": r.my_number.as_str(),
        "resident_code": r.resident_code.as_str(),
        "municipality": r.municipality.as_str(),
        "status": r.status.as_str(),
        "effective_date": effective.to_string(),
        "version": r.version,
        "changed": changed,
        "extra": extra,
    })
}

impl Registry {
    /// Registers a new person (出生, or 転入 from outside the registry), issuing a new
    /// 個人番号 and 住民票コード. Access refusals are logged.
    pub async fn register(
        &self,
        actor: &Actor,
        req: NewResident,
    ) -> Result<Resident, RegistryError> {
        let r = self.register_inner(actor, req).await;
        self.logged(actor, "change", None, r).await
    }

    /// Applies a change event to an existing resident. Access refusals are logged.
    pub async fn change(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
        req: ChangeRequest,
    ) -> Result<Resident, RegistryError> {
        let r = self.change_inner(actor, my_number, req).await;
        self.logged(actor, "change", Some(my_number), r).await
    }

    fn check_effective(&self, d: jiff::civil::Date) -> Result<(), RegistryError> {
        let today = self.today();
        if d > today {
            return Err(RegistryError::field(
                "effective_date",
                "must not be in the future",
            ));
        }
        Ok(())
    }

    /// Registers a new person (出生, or 転入 from outside the registry), issuing a new
    /// 個人番号 and 住民票コード.
    async fn register_inner(
        &self,
        actor: &Actor,
        req: NewResident,
    ) -> Result<Resident, RegistryError> {
        Self::require_role(
            actor,
            &[Role::Admin, Role::RegistryClerk],
            "register residents",
        )?;
        Self::require_scope(actor, &req.municipality)?;
        req.facts.validate(self.today())?;
        self.check_effective(req.effective_date)?;
        if req.kind == RegistrationKind::Birth && req.effective_date < req.facts.birth_date {
            return Err(RegistryError::field(
                "effective_date",
                "a birth cannot be registered before it happened",
            ));
        }
        let now = self.now();
        // A freshly drawn number collides with probability ~N/10^11; retry on conflict.
        for _ in 0..8 {
            let (my_number, code) = {
                let mut rng = rand::rng();
                (
                    MyNumber::generate(&mut rng),
                    ResidentCode::generate(&mut rng),
                )
            };
            let resident = Resident {
                my_number,
                resident_code: code,
                municipality: req.municipality.clone(),
                facts: req.facts.clone(),
                status: ResidentStatus::Resident,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            let kind = match req.kind {
                RegistrationKind::Birth => "birth",
                RegistrationKind::MoveIn => "move_in",
            };
            let mut tx = self.store.begin().await?;
            let first = FirstEvent {
                kind,
                effective_date: req.effective_date,
                reason: &req.reason,
                operator: &actor.operator,
                recorded_at: now,
            };
            match repo::insert_residents(&mut tx, std::slice::from_ref(&resident), first).await {
                Err(e) if e.is_unique_violation() => continue,
                other => other?,
            }
            self.after_event(
                &mut tx,
                actor,
                &resident,
                kind,
                req.effective_date,
                &["all"],
                serde_json::json!({}),
            )
            .await?;
            honnin_store::commit(tx).await?;
            return Ok(resident);
        }
        Err(RegistryError::Store(StoreError::Conflict(
            "could not draw a free 個人番号".into(),
        )))
    }

    #[allow(clippy::too_many_arguments)]
    async fn after_event(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        r: &Resident,
        kind: &str,
        effective: jiff::civil::Date,
        changed: &[&str],
        extra: serde_json::Value,
    ) -> Result<(), RegistryError> {
        let now = self.now();
        outbox::publish(
            tx,
            now,
            CHANGE_TOPIC,
            r.my_number.as_str(),
            &notice(r, kind, effective, changed, extra),
        )
        .await?;
        audit::append_in_tx(
            tx,
            now,
            &[AuditEntry::new("change", &actor.operator, "ok")
                .subject(r.my_number.as_str())
                .items(changed.join(","))
                .detail(format!(
                    "{kind} effective {effective} (version {})",
                    r.version
                ))],
        )
        .await?;
        Ok(())
    }

    /// Applies a change event to an existing resident.
    async fn change_inner(
        &self,
        actor: &Actor,
        my_number: &MyNumber,
        req: ChangeRequest,
    ) -> Result<Resident, RegistryError> {
        Self::require_role(
            actor,
            &[Role::Admin, Role::RegistryClerk],
            "change resident records",
        )?;
        self.check_effective(req.effective_date)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(current) = repo::get_resident(&mut tx, my_number).await? else {
            return Err(RegistryError::NotFound {
                what: "resident".into(),
            });
        };
        let kind = req.change.kind();
        // The clerk of the new municipality records a 転入; every other change belongs to
        // the municipality where the person is registered.
        match &req.change {
            Change::MoveIn { municipality, .. } => Self::require_scope(actor, municipality)?,
            _ => Self::require_scope(actor, &current.municipality)?,
        }
        let status_ok = match (&req.change, current.status) {
            (Change::MoveIn { .. }, s) => s == ResidentStatus::MovedOut,
            (Change::Correction { .. }, _) => true,
            (_, s) => s == ResidentStatus::Resident,
        };
        if !status_ok {
            return Err(RegistryError::conflict(format!(
                "a {kind} cannot be recorded for a resident whose status is {}",
                current.status.as_str()
            )));
        }
        let mut next = current.clone();
        let mut changed: Vec<&str> = Vec::new();
        let mut extra = serde_json::json!({});
        match req.change {
            Change::MoveIn {
                municipality,
                address,
                address_flags,
            } => {
                next.facts.address_flags =
                    flags_for(address_flags, address.as_str(), "address_flags")?;
                next.facts.address = address;
                next.municipality = municipality;
                next.status = ResidentStatus::Resident;
                changed.extend(["address", "municipality"]);
            }
            Change::MoveOut {
                destination,
                abroad,
            } => {
                if destination.trim().is_empty() || destination.chars().count() > 200 {
                    return Err(RegistryError::field(
                        "destination",
                        "must be 1 to 200 characters",
                    ));
                }
                next.status = ResidentStatus::MovedOut;
                changed.push("status");
                extra = serde_json::json!({ "destination": destination, "abroad": abroad });
            }
            Change::AddressChange {
                address,
                address_flags,
            } => {
                if address == current.facts.address {
                    return Err(RegistryError::field(
                        "address",
                        "is the same as the current address",
                    ));
                }
                next.facts.address_flags =
                    flags_for(address_flags, address.as_str(), "address_flags")?;
                next.facts.address = address;
                changed.push("address");
            }
            Change::NameChange {
                name,
                name_kana,
                name_flags,
                alias,
            } => {
                next.facts.name_flags = flags_for(name_flags, name.as_str(), "name_flags")?;
                next.facts.name = name;
                next.facts.name_kana = name_kana;
                if alias.is_some() {
                    next.facts.alias = alias;
                    changed.push("alias");
                }
                changed.extend(["name", "name_kana"]);
            }
            Change::Correction {
                name,
                name_kana,
                name_flags,
                alias,
                birth_date,
                sex,
                address,
                address_flags,
            } => {
                if let Some(n) = name {
                    next.facts.name_flags =
                        flags_for(name_flags.clone(), n.as_str(), "name_flags")?;
                    next.facts.name = n;
                    changed.push("name");
                } else if let Some(f) = name_flags {
                    f.check_len(next.facts.name.as_str(), "name_flags")?;
                    next.facts.name_flags = f;
                    changed.push("name_flags");
                }
                if let Some(k) = name_kana {
                    next.facts.name_kana = k;
                    changed.push("name_kana");
                }
                if let Some(a) = alias {
                    next.facts.alias = Some(a);
                    changed.push("alias");
                }
                if let Some(b) = birth_date {
                    next.facts.birth_date = b;
                    changed.push("birth_date");
                }
                if let Some(s) = sex {
                    next.facts.sex = s;
                    changed.push("sex");
                }
                if let Some(a) = address {
                    next.facts.address_flags =
                        flags_for(address_flags, a.as_str(), "address_flags")?;
                    next.facts.address = a;
                    changed.push("address");
                } else if let Some(f) = address_flags {
                    f.check_len(next.facts.address.as_str(), "address_flags")?;
                    next.facts.address_flags = f;
                    changed.push("address_flags");
                }
                if changed.is_empty() {
                    return Err(RegistryError::field(
                        "kind",
                        "a correction must change at least one field",
                    ));
                }
            }
            Change::Death => {
                next.status = ResidentStatus::Deceased;
                changed.push("status");
            }
        }
        next.facts.validate(self.today())?;
        next.version = current.version + 1;
        next.updated_at = now;
        let event = ResidentEvent {
            my_number: next.my_number.clone(),
            version: next.version,
            kind: kind.into(),
            effective_date: req.effective_date,
            reason: req.reason.clone(),
            municipality: next.municipality.clone(),
            operator: actor.operator.clone(),
            recorded_at: now,
            snapshot: snapshot(&next),
        };
        repo::update_resident(&mut tx, &next, current.version).await?;
        repo::insert_event(&mut tx, &event).await?;
        self.after_event(
            &mut tx,
            actor,
            &next,
            kind,
            req.effective_date,
            &changed,
            extra,
        )
        .await?;
        honnin_store::commit(tx).await?;
        Ok(next)
    }
}
