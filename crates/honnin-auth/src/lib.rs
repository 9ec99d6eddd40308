//! Operator authentication: individual IDs, argon2 passwords plus a TOTP second factor for
//! interactive login (our stand-in for the vein biometrics at a real terminal), API tokens
//! for automation, and sessions that lock after an idle period.
//!
//! Secrets are shown once and stored only as hashes (argon2 for passwords, SHA-256 for
//! high-entropy tokens). Every login, refused or not, is audit-logged.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use honnin_core::{Actor, LocalGovCode, Role};
use honnin_store::audit::{AuditEntry, AuditLog};
use honnin_store::security::{self as repo, OperatorRow};
use honnin_store::{Clock, Store, StoreError, audit};
use rand::Rng;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

/// Why authentication or an operator-management call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("authentication required")]
    Missing,
    #[error("invalid credentials")]
    Invalid,
    #[error("session locked after {idle_minutes} idle minutes; log in again")]
    SessionLocked { idle_minutes: i64 },
    #[error("operator is disabled")]
    Disabled,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("operator {0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new operator to create.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct NewOperator {
    pub id: String,
    pub display_name: String,
    pub role: Role,
    pub municipality: Option<LocalGovCode>,
    pub agency: Option<String>,
    /// At least 12 characters.
    pub password: String,
}

/// What the creator of an operator is shown once.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CreatedOperator {
    pub operator: OperatorRow,
    /// Base32 TOTP secret for the operator's authenticator.
    pub totp_secret: String,
    /// An `otpauth://` URI of the secret.
    pub totp_uri: String,
}

/// The authentication service.
#[derive(Clone, Debug)]
pub struct Auth {
    store: Store,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    idle: jiff::SignedDuration,
    /// token hash → actor, for API tokens (sessions are checked in the database for idle time).
    cache: Arc<RwLock<HashMap<String, (Actor, jiff::Timestamp)>>>,
}

const TOKEN_PREFIX: &str = "hnt_";
const SESSION_PREFIX: &str = "hns_";
/// How long a cached API-token lookup is trusted (revocations in other processes).
const CACHE_SECS: i64 = 30;

fn random_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// SHA-256 of a token, the form in which tokens are stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn totp(secret_b32: &str) -> Result<TOTP, AuthError> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|_| AuthError::Store(StoreError::Corrupt("TOTP secret".into())))?;
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes)
        .map_err(|e| AuthError::Store(StoreError::Corrupt(format!("TOTP: {e}"))))
}

/// The current TOTP code for a base32 secret at `at` (for tests and the demo CLI).
pub fn totp_code(secret_b32: &str, at: jiff::Timestamp) -> Result<String, AuthError> {
    Ok(totp(secret_b32)?.generate(at.as_second().max(0) as u64))
}

fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AuthError::Field {
        field: "password",
        reason: e.to_string(),
    })?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Field {
            field: "password",
            reason: e.to_string(),
        })
}

fn actor_of(op: &OperatorRow) -> Result<Actor, AuthError> {
    let role =
        Role::parse(&op.role).map_err(|e| AuthError::Store(StoreError::Corrupt(e.to_string())))?;
    let municipality = op
        .municipality
        .as_deref()
        .map(LocalGovCode::parse)
        .transpose()
        .map_err(|e| AuthError::Store(StoreError::Corrupt(e.to_string())))?;
    Ok(Actor {
        operator: op.id.clone(),
        role,
        municipality,
        agency: op.agency.clone(),
    })
}

impl Auth {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        idle: jiff::SignedDuration,
    ) -> Self {
        Auth {
            store,
            clock,
            audit,
            idle,
            cache: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    pub fn idle_timeout(&self) -> jiff::SignedDuration {
        self.idle
    }

    /// Creates the first admin if there are no operators yet; returns its API token and
    /// credentials, or `None` when operators already exist.
    pub async fn bootstrap_admin(
        &self,
    ) -> Result<Option<(String, CreatedOperator, String)>, AuthError> {
        let mut conn = self.store.conn().await?;
        if repo::count_operators(&mut conn).await? > 0 {
            return Ok(None);
        }
        drop(conn);
        let password = random_secret("");
        let created = self
            .create_operator_unchecked(
                &Actor::system(),
                NewOperator {
                    id: "admin".into(),
                    display_name: "Initial administrator".into(),
                    role: Role::Admin,
                    municipality: None,
                    agency: None,
                    password: password.clone(),
                },
            )
            .await?;
        let token = self
            .issue_token_unchecked(&Actor::system(), "admin", "bootstrap")
            .await?;
        Ok(Some((token, created, password)))
    }

    /// Creates an operator (admin only).
    pub async fn create_operator(
        &self,
        actor: &Actor,
        new: NewOperator,
    ) -> Result<CreatedOperator, AuthError> {
        if actor.role != Role::Admin {
            return Err(AuthError::Forbidden(
                "only an admin may create operators".into(),
            ));
        }
        self.create_operator_unchecked(actor, new).await
    }

    async fn create_operator_unchecked(
        &self,
        actor: &Actor,
        new: NewOperator,
    ) -> Result<CreatedOperator, AuthError> {
        if new.id.is_empty()
            || new.id.len() > 64
            || !new
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(AuthError::Field {
                field: "id",
                reason: "1 to 64 ASCII letters, digits, '-', '_' or '.'".into(),
            });
        }
        if new.password.chars().count() < 12 {
            return Err(AuthError::Field {
                field: "password",
                reason: "at least 12 characters".into(),
            });
        }
        if new.role.is_municipal() != new.municipality.is_some() {
            return Err(AuthError::Field {
                field: "municipality",
                reason: "required for registry-clerk and window-clerk, and only for them".into(),
            });
        }
        if (new.role == Role::Agency) != new.agency.is_some() {
            return Err(AuthError::Field {
                field: "agency",
                reason: "required for the agency role, and only for it".into(),
            });
        }
        let secret = Secret::Raw(rand::rng().random::<[u8; 20]>().to_vec()).to_encoded();
        let secret_b32 = match secret {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => {
                return Err(AuthError::Store(StoreError::Corrupt(
                    "TOTP secret encoding".into(),
                )));
            }
        };
        let now = self.clock.now();
        let row = OperatorRow {
            id: new.id.clone(),
            display_name: new.display_name,
            role: new.role.as_str().into(),
            municipality: new.municipality.map(|m| m.as_str().to_string()),
            agency: new.agency,
            password_hash: Some(hash_password(&new.password)?),
            totp_secret: Some(secret_b32.clone()),
            disabled: false,
            created_at: now,
        };
        let mut tx = self.store.begin().await?;
        repo::insert_operator(&mut tx, &row)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => AuthError::Conflict(m),
                e => AuthError::Store(e),
            })?;
        audit::append_in_tx(
            &mut tx,
            now,
            &[AuditEntry::new("operator-create", &actor.operator, "ok")
                .detail(format!("{} as {}", row.id, row.role))],
        )
        .await?;
        honnin_store::commit(tx).await?;
        let totp_uri = format!(
            "otpauth://totp/honnin:{}?secret={secret_b32}&issuer=honnin",
            row.id
        );
        Ok(CreatedOperator {
            operator: row,
            totp_secret: secret_b32,
            totp_uri,
        })
    }

    /// Issues an API token for `operator` (admin only). The token is shown once.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        operator: &str,
        label: &str,
    ) -> Result<String, AuthError> {
        if actor.role != Role::Admin {
            return Err(AuthError::Forbidden(
                "only an admin may issue tokens".into(),
            ));
        }
        self.issue_token_unchecked(actor, operator, label).await
    }

    async fn issue_token_unchecked(
        &self,
        actor: &Actor,
        operator: &str,
        label: &str,
    ) -> Result<String, AuthError> {
        let now = self.clock.now();
        let token = random_secret(TOKEN_PREFIX);
        let mut tx = self.store.begin().await?;
        if repo::get_operator(&mut tx, operator).await?.is_none() {
            return Err(AuthError::NotFound(operator.into()));
        }
        repo::insert_token(&mut tx, &token_hash(&token), operator, label, now).await?;
        audit::append_in_tx(
            &mut tx,
            now,
            &[AuditEntry::new("token-issue", &actor.operator, "ok")
                .detail(format!("token for {operator} ({label})"))],
        )
        .await?;
        honnin_store::commit(tx).await?;
        Ok(token)
    }

    /// Disables an operator and revokes their tokens (admin only).
    pub async fn disable(&self, actor: &Actor, operator: &str) -> Result<(), AuthError> {
        if actor.role != Role::Admin {
            return Err(AuthError::Forbidden(
                "only an admin may disable operators".into(),
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !repo::set_disabled(&mut tx, operator, true).await? {
            return Err(AuthError::NotFound(operator.into()));
        }
        repo::revoke_tokens_of(&mut tx, operator, now).await?;
        audit::append_in_tx(
            &mut tx,
            now,
            &[AuditEntry::new("operator-disable", &actor.operator, "ok")
                .detail(operator.to_string())],
        )
        .await?;
        honnin_store::commit(tx).await?;
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
        Ok(())
    }

    pub async fn operators(&self, actor: &Actor) -> Result<Vec<OperatorRow>, AuthError> {
        if !matches!(actor.role, Role::Admin | Role::Auditor) {
            return Err(AuthError::Forbidden(
                "only an admin or auditor may list operators".into(),
            ));
        }
        let mut conn = self.store.conn().await?;
        Ok(repo::list_operators(&mut conn).await?)
    }

    /// Interactive login with password and TOTP code; returns a session token.
    pub async fn login(
        &self,
        operator: &str,
        password: &str,
        code: &str,
    ) -> Result<String, AuthError> {
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        let op = repo::get_operator(&mut conn, operator).await?;
        drop(conn);
        let refused =
            |why: &str| AuditEntry::new("login", operator, "refused").detail(why.to_string());
        let Some(op) = op else {
            self.audit.append(refused("unknown operator")).await?;
            return Err(AuthError::Invalid);
        };
        if op.disabled {
            self.audit.append(refused("disabled")).await?;
            return Err(AuthError::Disabled);
        }
        let pw_ok = op
            .password_hash
            .as_deref()
            .and_then(|h| PasswordHash::new(h).ok())
            .is_some_and(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            });
        let code_ok = match op.totp_secret.as_deref() {
            Some(s) => totp(s)?.check(code.trim(), now.as_second().max(0) as u64),
            None => false,
        };
        if !pw_ok || !code_ok {
            self.audit
                .append(refused(if pw_ok {
                    "wrong TOTP code"
                } else {
                    "wrong password"
                }))
                .await?;
            return Err(AuthError::Invalid);
        }
        let token = random_secret(SESSION_PREFIX);
        let mut tx = self.store.begin().await?;
        repo::insert_session(&mut tx, &token_hash(&token), operator, now).await?;
        audit::append_in_tx(&mut tx, now, &[AuditEntry::new("login", operator, "ok")]).await?;
        honnin_store::commit(tx).await?;
        Ok(token)
    }

    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        let mut conn = self.store.conn().await?;
        repo::end_session(&mut conn, &token_hash(token), self.clock.now()).await?;
        Ok(())
    }

    /// Resolves a bearer token (API token or session) to the acting operator.
    pub async fn authenticate(&self, token: &str) -> Result<Actor, AuthError> {
        let now = self.clock.now();
        let hash = token_hash(token);
        if token.starts_with(TOKEN_PREFIX) {
            if let Ok(c) = self.cache.read()
                && let Some((actor, at)) = c.get(&hash)
                && now.duration_since(*at).as_secs() < CACHE_SECS
            {
                return Ok(actor.clone());
            }
            let mut conn = self.store.conn().await?;
            let Some(op_id) = repo::token_operator(&mut conn, &hash).await? else {
                return Err(AuthError::Invalid);
            };
            let op = repo::get_operator(&mut conn, &op_id)
                .await?
                .ok_or(AuthError::Invalid)?;
            if op.disabled {
                return Err(AuthError::Disabled);
            }
            let actor = actor_of(&op)?;
            if let Ok(mut c) = self.cache.write() {
                if c.len() > 10_000 {
                    c.clear();
                }
                c.insert(hash, (actor.clone(), now));
            }
            return Ok(actor);
        }
        if token.starts_with(SESSION_PREFIX) {
            let mut conn = self.store.conn().await?;
            let Some(s) = repo::get_session(&mut conn, &hash).await? else {
                return Err(AuthError::Invalid);
            };
            if s.ended {
                return Err(AuthError::Invalid);
            }
            if now.duration_since(s.last_seen) > self.idle {
                repo::end_session(&mut conn, &hash, now).await?;
                return Err(AuthError::SessionLocked {
                    idle_minutes: self.idle.as_secs() / 60,
                });
            }
            let op = repo::get_operator(&mut conn, &s.operator)
                .await?
                .ok_or(AuthError::Invalid)?;
            if op.disabled {
                return Err(AuthError::Disabled);
            }
            repo::touch_session(&mut conn, &hash, now).await?;
            return actor_of(&op);
        }
        Err(AuthError::Invalid)
    }
}
