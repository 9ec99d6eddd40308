//! Provision of 本人確認情報 to agencies (住基法 §30の9 ff.): an agency asks by 個人番号 or
//! by the four facts, citing one of its configured legal bases. Every request, granted or
//! refused, is logged before the answer leaves.

use honnin_core::{Actor, MyNumber, Role, Sex, normalize_for_match};
use honnin_store::audit::AuditEntry;
use honnin_store::registry::{self as repo, Resident};
use serde::{Deserialize, Serialize};

use crate::{Registry, RegistryError};

/// The items of 本人確認情報 a basis can allow.
pub const PROVISION_ITEMS: &[&str] = &[
    "my_number",
    "resident_code",
    "name",
    "name_kana",
    "alias",
    "birth_date",
    "sex",
    "address",
    "municipality",
    "status",
];

/// How the agency identifies the person.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionQuery {
    MyNumber(MyNumber),
    /// The four facts, compared after width/space normalisation.
    /// Name and address are free text as written on the agency's form (any widths and
    /// spaces); they are compared after normalisation.
    Facts {
        name: String,
        birth_date: jiff::civil::Date,
        sex: Sex,
        address: String,
    },
}

/// A request for 本人確認情報.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisionRequest {
    /// The legal-basis code cited.
    pub basis: String,
    pub query: ProvisionQuery,
    /// The items wanted; empty means all the basis allows.
    #[serde(default)]
    pub items: Vec<String>,
}

/// The items provided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProvisionResponse {
    /// The log entry recording this provision.
    pub log_seq: i64,
    pub basis: String,
    pub items: serde_json::Map<String, serde_json::Value>,
}

fn item_value(r: &Resident, item: &str) -> serde_json::Value {
    use serde_json::Value::{Null, String as S};
    match item {
        "my_number" => S(r.my_number.to_string()),
        "resident_code" => S(r.resident_code.to_string()),
        "name" => S(r.facts.name.to_string()),
        "name_kana" => S(r.facts.name_kana.to_string()),
        "alias" => r
            .facts
            .alias
            .as_ref()
            .map(|a| S(a.to_string()))
            .unwrap_or(Null),
        "birth_date" => S(r.facts.birth_date.to_string()),
        "sex" => S(r.facts.sex.as_str().into()),
        "address" => S(r.facts.address.to_string()),
        "municipality" => S(r.municipality.to_string()),
        "status" => S(r.status.as_str().into()),
        _ => Null,
    }
}

impl Registry {
    /// Answers an agency's request. Refusals (no such basis, items beyond the basis, not
    /// found, ambiguous) are logged too and returned as errors.
    pub async fn provide(
        &self,
        actor: &Actor,
        req: ProvisionRequest,
    ) -> Result<ProvisionResponse, RegistryError> {
        let agency_id = actor.agency.clone().unwrap_or_default();
        let subject = match &req.query {
            ProvisionQuery::MyNumber(n) => Some(n.as_str().to_string()),
            ProvisionQuery::Facts { .. } => None,
        };
        let mut entry = AuditEntry::new("provision", &actor.operator, "refused")
            .agency(agency_id.clone(), Some(req.basis.clone()))
            .items(req.items.join(","));
        entry.subject = subject;
        if actor.role != Role::Agency || agency_id.is_empty() {
            let err =
                RegistryError::forbidden(format!("role {} may not receive provisions", actor.role));
            return self.refuse(entry, "refused", err).await;
        }
        let mut conn = self.store.conn().await?;
        let Some(basis) = repo::get_basis(&mut conn, &agency_id, &req.basis).await? else {
            drop(conn);
            let err = RegistryError::forbidden(format!(
                "agency {agency_id} has no legal basis {:?}",
                req.basis
            ));
            return self.refuse(entry, "refused", err).await;
        };
        let items: Vec<String> = if req.items.is_empty() {
            basis.items.clone()
        } else {
            req.items.clone()
        };
        if let Some(bad) = items.iter().find(|i| !basis.items.contains(i)) {
            drop(conn);
            let err = if PROVISION_ITEMS.contains(&bad.as_str()) {
                RegistryError::forbidden(format!(
                    "basis {} does not allow item {bad:?}",
                    basis.code
                ))
            } else {
                RegistryError::field("items", format!("unknown item {bad:?}"))
            };
            return self.refuse(entry, "refused", err).await;
        }
        entry.items = items.join(",");
        let found = match &req.query {
            ProvisionQuery::MyNumber(n) => repo::get_resident(&mut conn, n).await?,
            ProvisionQuery::Facts {
                name,
                birth_date,
                sex,
                address,
            } => {
                let want_name = normalize_for_match(name);
                let want_addr = normalize_for_match(address);
                if want_name.is_empty()
                    || want_addr.is_empty()
                    || name.chars().count() > 200
                    || address.chars().count() > 400
                {
                    drop(conn);
                    let err = RegistryError::field(
                        "query",
                        "name and address must be non-empty and of sensible length",
                    );
                    return self.refuse(entry, "refused", err).await;
                }
                let mut hits: Vec<Resident> =
                    repo::candidates_by_birth(&mut conn, *birth_date, *sex)
                        .await?
                        .into_iter()
                        .filter(|r| {
                            normalize_for_match(r.facts.name.as_str()) == want_name
                                && normalize_for_match(r.facts.address.as_str()) == want_addr
                        })
                        .collect();
                if hits.len() > 1 {
                    drop(conn);
                    let err = RegistryError::conflict(
                        "the four facts match more than one record; ask by 個人番号",
                    );
                    return self.refuse(entry, "ambiguous", err).await;
                }
                hits.pop()
            }
        };
        drop(conn);
        let Some(resident) = found else {
            let err = RegistryError::NotFound {
                what: "resident".into(),
            };
            return self.refuse(entry, "not-found", err).await;
        };
        let values: serde_json::Map<String, serde_json::Value> = items
            .iter()
            .map(|i| (i.clone(), item_value(&resident, i)))
            .collect();
        let entry = AuditEntry {
            result: "granted".into(),
            subject: Some(resident.my_number.as_str().to_string()),
            ..entry
        };
        let log_seq = self.audit.append(entry).await?;
        Ok(ProvisionResponse {
            log_seq,
            basis: basis.code,
            items: values,
        })
    }
}
