//! Who is acting: an authenticated operator with a role and the scope that role has.

use serde::{Deserialize, Serialize};

use crate::{CoreError, LocalGovCode};

/// An operator's role. Each role sees only what is theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs the system: operators, agencies, retention.
    Admin,
    /// 市町村の住基担当: reads and changes the residents of one municipality.
    RegistryClerk,
    /// 窓口: issues cards and certificates for one municipality.
    WindowClerk,
    /// 行政機関等: receives 本人確認情報 under its configured legal bases.
    Agency,
    /// 監査: reads and verifies the audit log, sees no resident data.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::RegistryClerk => "registry-clerk",
            Role::WindowClerk => "window-clerk",
            Role::Agency => "agency",
            Role::Auditor => "auditor",
        }
    }

    /// Parses the kebab-case name (field `"role"`).
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "admin" => Ok(Role::Admin),
            "registry-clerk" => Ok(Role::RegistryClerk),
            "window-clerk" => Ok(Role::WindowClerk),
            "agency" => Ok(Role::Agency),
            "auditor" => Ok(Role::Auditor),
            _ => Err(CoreError::invalid(
                "role",
                "must be one of admin, registry-clerk, window-clerk, agency, auditor",
            )),
        }
    }

    /// Whether the role is bound to one municipality.
    pub fn is_municipal(self) -> bool {
        matches!(self, Role::RegistryClerk | Role::WindowClerk)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated operator, as services see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The operator's individual ID.
    pub operator: String,
    pub role: Role,
    /// Set for municipal roles: the only municipality they may act in.
    pub municipality: Option<LocalGovCode>,
    /// Set for the agency role: the agency they act for.
    pub agency: Option<String>,
}

impl Actor {
    /// The built-in actor for jobs the system runs itself (retention, consumers).
    pub fn system() -> Self {
        Actor {
            operator: "system".into(),
            role: Role::Admin,
            municipality: None,
            agency: None,
        }
    }

    /// Whether this actor may see or change records of `municipality`.
    pub fn may_act_in(&self, municipality: &LocalGovCode) -> bool {
        match self.role {
            Role::Admin => true,
            Role::RegistryClerk | Role::WindowClerk => {
                self.municipality.as_ref() == Some(municipality)
            }
            Role::Agency | Role::Auditor => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_unknown() {
        for r in [
            Role::Admin,
            Role::RegistryClerk,
            Role::WindowClerk,
            Role::Agency,
            Role::Auditor,
        ] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert_eq!(Role::parse("root").map_err(|e| e.field()), Err("role"));
    }

    #[test]
    fn clerk_is_scoped_to_their_municipality() -> Result<(), CoreError> {
        let chiyoda = LocalGovCode::parse("131016")?;
        let sapporo = LocalGovCode::parse("011002")?;
        let clerk = Actor {
            operator: "c1".into(),
            role: Role::RegistryClerk,
            municipality: Some(chiyoda.clone()),
            agency: None,
        };
        assert!(clerk.may_act_in(&chiyoda));
        assert!(!clerk.may_act_in(&sapporo));
        let auditor = Actor {
            role: Role::Auditor,
            municipality: None,
            ..clerk
        };
        assert!(!auditor.may_act_in(&chiyoda));
        assert!(Actor::system().may_act_in(&sapporo));
        Ok(())
    }
}
