//! Tables of the certification authority: CA keys by generation, link certificates, and
//! issued certificates with their resident (serial ↔ 4 facts). DER is stored as base64.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_micros, micros};
use crate::{Conn, StoreError};

fn b64(der: &[u8]) -> String {
    B64.encode(der)
}

fn unb64(s: &str) -> Result<Vec<u8>, StoreError> {
    B64.decode(s)
        .map_err(|e| StoreError::Corrupt(format!("stored DER: {e}")))
}

/// One generation of one CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaKeyRow {
    /// e.g. `sign-g1`.
    pub id: String,
    /// `sign` or `auth`.
    pub kind: String,
    pub generation: i64,
    /// `rsa2048`, `rsa3072`, `rsa4096`, `p256`.
    pub algorithm: String,
    /// `file` or `pkcs11`.
    pub key_store: String,
    /// File name under the CA directory, or the PKCS#11 key label.
    pub key_ref: String,
    #[serde(skip)]
    pub cert_der: Vec<u8>,
    pub not_after: jiff::Timestamp,
    /// The generation that issues now (one per kind).
    pub active: bool,
    pub created_at: jiff::Timestamp,
}

const KEY_COLS: &str =
    "id, kind, generation, algorithm, key_store, key_ref, cert_der, not_after, active, created_at";

fn key_from_row(r: &AnyRow) -> Result<CaKeyRow, StoreError> {
    Ok(CaKeyRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        generation: r.try_get(2)?,
        algorithm: r.try_get(3)?,
        key_store: r.try_get(4)?,
        key_ref: r.try_get(5)?,
        cert_der: unb64(&r.try_get::<String, _>(6)?)?,
        not_after: from_micros(r.try_get(7)?),
        active: r.try_get::<i64, _>(8)? != 0,
        created_at: from_micros(r.try_get(9)?),
    })
}

pub async fn insert_ca_key(conn: &mut Conn, k: &CaKeyRow) -> Result<(), StoreError> {
    sqlx::query(crate::dsql(&format!(
        "INSERT INTO ca_keys ({KEY_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
    )))
    .bind(k.id.as_str())
    .bind(k.kind.as_str())
    .bind(k.generation)
    .bind(k.algorithm.as_str())
    .bind(k.key_store.as_str())
    .bind(k.key_ref.as_str())
    .bind(b64(&k.cert_der))
    .bind(micros(k.not_after))
    .bind(i64::from(k.active))
    .bind(micros(k.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every CA generation, oldest first.
pub async fn list_ca_keys(conn: &mut Conn) -> Result<Vec<CaKeyRow>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "SELECT {KEY_COLS} FROM ca_keys ORDER BY kind, generation"
    )))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(key_from_row).collect()
}

/// Makes `id` the active generation of its kind (and no other).
pub async fn activate_ca_key(conn: &mut Conn, kind: &str, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE ca_keys SET active = CASE WHEN id = $1 THEN 1 ELSE 0 END WHERE kind = $2")
        .bind(id)
        .bind(kind)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A certificate linking two generations of a CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaLinkRow {
    pub id: String,
    pub kind: String,
    pub issuer_id: String,
    pub subject_id: String,
    pub cert_der: Vec<u8>,
    pub created_at: jiff::Timestamp,
}

pub async fn insert_link(conn: &mut Conn, l: &CaLinkRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ca_links (id, kind, issuer_id, subject_id, cert_der, created_at) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(l.id.as_str())
    .bind(l.kind.as_str())
    .bind(l.issuer_id.as_str())
    .bind(l.subject_id.as_str())
    .bind(b64(&l.cert_der))
    .bind(micros(l.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn list_links(conn: &mut Conn) -> Result<Vec<CaLinkRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, kind, issuer_id, subject_id, cert_der, created_at FROM ca_links ORDER BY created_at, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CaLinkRow {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                issuer_id: r.try_get(2)?,
                subject_id: r.try_get(3)?,
                cert_der: unb64(&r.try_get::<String, _>(4)?)?,
                created_at: from_micros(r.try_get(5)?),
            })
        })
        .collect()
}

/// An issued certificate and the resident it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRow {
    /// Hex, lower case.
    pub serial: String,
    pub ca_id: String,
    /// `sign` or `auth`.
    pub kind: String,
    pub my_number: String,
    pub subject_id: String,
    /// The facts written into the certificate (signature certificates), as JSON.
    pub facts: serde_json::Value,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
    pub issued_at: jiff::Timestamp,
    pub operator: String,
    /// `valid` or `revoked`.
    pub status: String,
    pub revoked_at: Option<jiff::Timestamp>,
    pub revocation_reason: Option<String>,
    #[serde(skip)]
    pub der: Vec<u8>,
}

const CERT_COLS: &str = "serial, ca_id, kind, my_number, subject_id, facts, not_before, not_after, issued_at, operator, status, revoked_at, revocation_reason, der";

fn cert_from_row(r: &AnyRow) -> Result<CertificateRow, StoreError> {
    let facts: String = r.try_get(5)?;
    Ok(CertificateRow {
        serial: r.try_get(0)?,
        ca_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        my_number: r.try_get(3)?,
        subject_id: r.try_get(4)?,
        facts: serde_json::from_str(&facts)
            .map_err(|e| StoreError::Corrupt(format!("certificate facts: {e}")))?,
        not_before: from_micros(r.try_get(6)?),
        not_after: from_micros(r.try_get(7)?),
        issued_at: from_micros(r.try_get(8)?),
        operator: r.try_get(9)?,
        status: r.try_get(10)?,
        revoked_at: r.try_get::<Option<i64>, _>(11)?.map(from_micros),
        revocation_reason: r.try_get(12)?,
        der: unb64(&r.try_get::<String, _>(13)?)?,
    })
}

pub async fn insert_certificate(conn: &mut Conn, c: &CertificateRow) -> Result<(), StoreError> {
    sqlx::query(crate::dsql(&format!(
        "INSERT INTO certificates ({CERT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
    )))
    .bind(c.serial.as_str())
    .bind(c.ca_id.as_str())
    .bind(c.kind.as_str())
    .bind(c.my_number.as_str())
    .bind(c.subject_id.as_str())
    .bind(c.facts.to_string())
    .bind(micros(c.not_before))
    .bind(micros(c.not_after))
    .bind(micros(c.issued_at))
    .bind(c.operator.as_str())
    .bind(c.status.as_str())
    .bind(c.revoked_at.map(micros))
    .bind(c.revocation_reason.as_deref())
    .bind(b64(&c.der))
    .execute(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("serial {} already issued", c.serial))
        }
        _ => StoreError::Db(e),
    })?;
    Ok(())
}

pub async fn get_certificate(
    conn: &mut Conn,
    serial: &str,
) -> Result<Option<CertificateRow>, StoreError> {
    let row = sqlx::query(crate::dsql(&format!(
        "SELECT {CERT_COLS} FROM certificates WHERE serial = $1"
    )))
    .bind(serial)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(cert_from_row).transpose()
}

/// A resident's certificates, newest first.
pub async fn certificates_for(
    conn: &mut Conn,
    my_number: &str,
) -> Result<Vec<CertificateRow>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "SELECT {CERT_COLS} FROM certificates WHERE my_number = $1 ORDER BY issued_at DESC, serial"
    )))
    .bind(my_number)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(cert_from_row).collect()
}

/// Marks a valid certificate revoked; false if it was not valid (already revoked or unknown).
pub async fn revoke_certificate(
    conn: &mut Conn,
    serial: &str,
    reason: &str,
    at: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2 WHERE serial = $3 AND status = 'valid'",
    )
    .bind(micros(at))
    .bind(reason)
    .bind(serial)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn count_certificates(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM certificates")
        .fetch_one(&mut *conn)
        .await?)
}

/// Marks a resident's certificates that are `valid` but past `now` as `expired`, so the
/// one-valid-certificate rule does not block a new issuance.
pub async fn expire_lapsed(
    conn: &mut Conn,
    my_number: &str,
    now: jiff::Timestamp,
) -> Result<u64, StoreError> {
    Ok(sqlx::query("UPDATE certificates SET status = 'expired' WHERE my_number = $1 AND status = 'valid' AND not_after <= $2")
        .bind(my_number)
        .bind(micros(now))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Valid certificates of a resident.
pub async fn valid_certificates_for(
    conn: &mut Conn,
    my_number: &str,
) -> Result<Vec<CertificateRow>, StoreError> {
    let rows = sqlx::query(crate::dsql(&format!(
        "SELECT {CERT_COLS} FROM certificates WHERE my_number = $1 AND status = 'valid'"
    )))
    .bind(my_number)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(cert_from_row).collect()
}

/// A revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedRow {
    pub serial: String,
    pub revoked_at: jiff::Timestamp,
    pub reason: Option<String>,
}

/// Every revoked certificate of one CA generation, in serial order.
pub async fn revoked_of_ca(conn: &mut Conn, ca_id: &str) -> Result<Vec<RevokedRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT serial, revoked_at, revocation_reason FROM certificates WHERE ca_id = $1 AND status = 'revoked' ORDER BY serial",
    )
    .bind(ca_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RevokedRow {
                serial: r.try_get(0)?,
                revoked_at: from_micros(r.try_get::<Option<i64>, _>(1)?.unwrap_or(0)),
                reason: r.try_get(2)?,
            })
        })
        .collect()
}

/// The next CRL number (shared by all CAs and scopes, so numbers only grow).
pub async fn next_crl_number(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE counters SET value = value + 1 WHERE name = 'crl' RETURNING value",
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// A published CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRow {
    pub ca_id: String,
    /// `full`, `arl`, or a shard number.
    pub scope: String,
    pub crl_number: i64,
    pub this_update: jiff::Timestamp,
    pub next_update: jiff::Timestamp,
    pub der: Vec<u8>,
}

pub async fn put_crl(conn: &mut Conn, c: &CrlRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO crls (ca_id, scope, crl_number, this_update, next_update, der) VALUES ($1,$2,$3,$4,$5,$6) \
         ON CONFLICT (ca_id, scope) DO UPDATE SET crl_number = $3, this_update = $4, next_update = $5, der = $6",
    )
    .bind(c.ca_id.as_str())
    .bind(c.scope.as_str())
    .bind(c.crl_number)
    .bind(micros(c.this_update))
    .bind(micros(c.next_update))
    .bind(b64(&c.der))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get_crl(
    conn: &mut Conn,
    ca_id: &str,
    scope: &str,
) -> Result<Option<CrlRow>, StoreError> {
    let row = sqlx::query(
        "SELECT ca_id, scope, crl_number, this_update, next_update, der FROM crls WHERE ca_id = $1 AND scope = $2",
    )
    .bind(ca_id)
    .bind(scope)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(CrlRow {
            ca_id: r.try_get(0)?,
            scope: r.try_get(1)?,
            crl_number: r.try_get(2)?,
            this_update: from_micros(r.try_get(3)?),
            next_update: from_micros(r.try_get(4)?),
            der: unb64(&r.try_get::<String, _>(5)?)?,
        })
    })
    .transpose()
}

/// The delegated OCSP responder of a CA generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponderRow {
    pub ca_id: String,
    pub key_ref: String,
    pub cert_der: Vec<u8>,
    pub not_after: jiff::Timestamp,
    pub created_at: jiff::Timestamp,
}

pub async fn put_responder(conn: &mut Conn, r: &ResponderRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ocsp_responders (ca_id, key_ref, cert_der, not_after, created_at) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (ca_id) DO UPDATE SET key_ref = $2, cert_der = $3, not_after = $4, created_at = $5",
    )
    .bind(r.ca_id.as_str())
    .bind(r.key_ref.as_str())
    .bind(b64(&r.cert_der))
    .bind(micros(r.not_after))
    .bind(micros(r.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn list_responders(conn: &mut Conn) -> Result<Vec<ResponderRow>, StoreError> {
    let rows =
        sqlx::query("SELECT ca_id, key_ref, cert_der, not_after, created_at FROM ocsp_responders")
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(ResponderRow {
                ca_id: r.try_get(0)?,
                key_ref: r.try_get(1)?,
                cert_der: unb64(&r.try_get::<String, _>(2)?)?,
                not_after: from_micros(r.try_get(3)?),
                created_at: from_micros(r.try_get(4)?),
            })
        })
        .collect()
}

/// A signed OCSP response kept for reuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRow {
    pub serial: String,
    pub hash_alg: String,
    pub ca_id: String,
    pub der: Vec<u8>,
    pub this_update: jiff::Timestamp,
    pub next_update: jiff::Timestamp,
}

pub async fn get_ocsp(
    conn: &mut Conn,
    serial: &str,
    hash_alg: &str,
) -> Result<Option<OcspRow>, StoreError> {
    let row = sqlx::query(
        "SELECT serial, hash_alg, ca_id, der, this_update, next_update FROM ocsp_responses WHERE serial = $1 AND hash_alg = $2",
    )
    .bind(serial)
    .bind(hash_alg)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(OcspRow {
            serial: r.try_get(0)?,
            hash_alg: r.try_get(1)?,
            ca_id: r.try_get(2)?,
            der: unb64(&r.try_get::<String, _>(3)?)?,
            this_update: from_micros(r.try_get(4)?),
            next_update: from_micros(r.try_get(5)?),
        })
    })
    .transpose()
}

pub async fn put_ocsp(conn: &mut Conn, o: &OcspRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ocsp_responses (serial, hash_alg, ca_id, der, this_update, next_update) VALUES ($1,$2,$3,$4,$5,$6) \
         ON CONFLICT (serial, hash_alg) DO UPDATE SET ca_id = $3, der = $4, this_update = $5, next_update = $6",
    )
    .bind(o.serial.as_str())
    .bind(o.hash_alg.as_str())
    .bind(o.ca_id.as_str())
    .bind(b64(&o.der))
    .bind(micros(o.this_update))
    .bind(micros(o.next_update))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets the kept responses of a certificate whose status changed.
pub async fn delete_ocsp(conn: &mut Conn, serial: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM ocsp_responses WHERE serial = $1")
        .bind(serial)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A valid certificate as the revocation rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCert {
    pub serial: String,
    pub my_number: String,
    pub kind: String,
    pub issued_at: jiff::Timestamp,
}

/// The valid certificates of many residents at once (one statement per 500 residents).
pub async fn valid_certificates_of_many(
    conn: &mut Conn,
    my_numbers: &[String],
) -> Result<Vec<ValidCert>, StoreError> {
    let mut out = Vec::new();
    for chunk in my_numbers.chunks(500) {
        let sql = format!(
            "SELECT serial, my_number, kind, issued_at FROM certificates WHERE status = 'valid' AND my_number IN ({})",
            crate::list_placeholders(conn, chunk.len())
        );
        let mut q = sqlx::query(crate::dsql(&sql));
        for n in chunk {
            q = q.bind(n.as_str());
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.push(ValidCert {
                serial: r.try_get(0)?,
                my_number: r.try_get(1)?,
                kind: r.try_get(2)?,
                issued_at: from_micros(r.try_get(3)?),
            });
        }
    }
    Ok(out)
}

/// Revokes many valid certificates with one reason; returns how many changed.
pub async fn revoke_many(
    conn: &mut Conn,
    serials: &[String],
    reason: &str,
    at: jiff::Timestamp,
) -> Result<u64, StoreError> {
    let mut n = 0;
    for chunk in serials.chunks(500) {
        // Placeholders after the two leading ones: numbered on PostgreSQL, anonymous on
        // SQLite, where the two leading ones are anonymous too.
        let sql = if crate::is_sqlite(conn) {
            format!(
                "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE status = 'valid' AND serial IN ({})",
                vec!["?"; chunk.len()].join(",")
            )
        } else {
            format!(
                "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2 WHERE status = 'valid' AND serial IN ({})",
                (3..3 + chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let mut q = sqlx::query(crate::dsql(&sql)).bind(micros(at)).bind(reason);
        for s in chunk {
            q = q.bind(s.as_str());
        }
        n += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}

/// Forgets the kept OCSP responses of many certificates.
pub async fn delete_ocsp_many(conn: &mut Conn, serials: &[String]) -> Result<(), StoreError> {
    for chunk in serials.chunks(500) {
        let sql = format!(
            "DELETE FROM ocsp_responses WHERE serial IN ({})",
            crate::list_placeholders(conn, chunk.len())
        );
        let mut q = sqlx::query(crate::dsql(&sql));
        for s in chunk {
            q = q.bind(s.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
