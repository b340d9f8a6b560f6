//! The desk's accountability tables (issue 6): the append-only audit log (I6), the archive of
//! every signed recipient list the desk has seen, and, in the reports database, the revocations the intake
//! reads so that a removed supervisor stops receiving new tips at once (I5). Staff accounts and
//! their keys are in src/store/desk.rs.
//!
//! The audit log is insert-only here: there is no UPDATE or DELETE on it anywhere in the code,
//! the desk's PostgreSQL role has neither (deploy/postgres/roles.sql), and on SQLite two
//! triggers refuse both (migration 0005). Whoever bypasses all that is caught by
//! `bisik audit verify`, not by this file.

use super::items::is_conflict;
use super::{Store, StoreError};

/// A stored audit entry.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Canonical entry bytes (src/desk/audit.rs).
    pub entry: Vec<u8>,
    /// Hash of the entry before it, as stored beside the entry.
    pub prev_hash: Vec<u8>,
    /// Hash of this entry, as stored.
    pub entry_hash: Vec<u8>,
    /// Signature over `entry`.
    pub signature: Vec<u8>,
}

impl Store {
    /// The last entry's (seq, hash), `None` for an empty log.
    pub async fn audit_head(&self) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Inserts entry `row.seq`. `Ok(false)` when another writer took that number first: the
    /// caller re-reads the head and signs again, so the chain never forks.
    pub async fn audit_insert(
        &self,
        row: &AuditRow,
        report: Option<crate::domain::ReportId>,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO audit_log (seq, entry, prev_hash, entry_hash, signature, report_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(row.seq)
        .bind(&row.entry)
        .bind(&row.prev_hash)
        .bind(&row.entry_hash)
        .bind(&row.signature)
        .bind(report.map(|r| r.to_string()))
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Entries with `seq > after`, in the order of the `seq` column (which `audit verify`
    /// checks against the sequence number signed inside each entry).
    pub async fn audit_rows_after(&self, after: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<RawAuditRow> = sqlx::query_as(
            "SELECT seq, entry, prev_hash, entry_hash, signature FROM audit_log \
             WHERE seq > $1 ORDER BY seq",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(audit_rows(rows))
    }

    /// The latest `limit` entries recorded as being about report `id`, newest first (its
    /// page's history, and the check of its length); the caller checks each entry's signed
    /// event names the report.
    pub async fn audit_rows_of_report(
        &self,
        id: crate::domain::ReportId,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<RawAuditRow> = sqlx::query_as(
            "SELECT seq, entry, prev_hash, entry_hash, signature FROM audit_log \
             WHERE report_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(audit_rows(rows))
    }

    /// Up to `limit` entries with `seq < before`, newest first (the desk's audit page).
    pub async fn audit_rows_before(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<RawAuditRow> = sqlx::query_as(
            "SELECT seq, entry, prev_hash, entry_hash, signature FROM audit_log \
             WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(audit_rows(rows))
    }

    /// Archives a signed recipient list (its JSON file form) under its epoch; a list already
    /// archived under that epoch is kept as it was first seen.
    pub async fn archive_recipient_list(&self, epoch: u64, json: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recipient_lists (epoch, list) VALUES ($1, $2) ON CONFLICT (epoch) DO NOTHING",
        )
        .bind(epoch as i64)
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The archived list of `epoch`, as first seen.
    pub async fn archived_recipient_list(&self, epoch: u64) -> Result<Option<String>, StoreError> {
        let r: Option<(String,)> =
            sqlx::query_as("SELECT list FROM recipient_lists WHERE epoch = $1")
                .bind(epoch as i64)
                .fetch_optional(&self.pool)
                .await?;
        Ok(r.map(|(l,)| l))
    }

    /// Reports database: records that the X25519 key with fingerprint `fp_hex` receives no
    /// wrap of new reports, whatever the signed list says.
    pub async fn revoke_recipient(&self, fp_hex: &str, day: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recipient_revocations (recipient_fp, day) VALUES ($1, $2) \
             ON CONFLICT (recipient_fp) DO NOTHING",
        )
        .bind(fp_hex)
        .bind(day)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reports database: lifts a revocation (a new certification ceremony for that key).
    pub async fn unrevoke_recipient(&self, fp_hex: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recipient_revocations WHERE recipient_fp = $1")
            .bind(fp_hex)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reports database: fingerprints (hex) of every revoked recipient key.
    pub async fn revoked_recipients(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT recipient_fp FROM recipient_revocations")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(f,)| f).collect())
    }

    /// Reports database: every report id (the grant ceremony's `--all`).
    pub async fn report_ids(&self) -> Result<Vec<crate::domain::ReportId>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM reports ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id,)| {
                crate::domain::ReportId::parse(&id)
                    .ok_or_else(|| StoreError::Corrupt("reports.id".into()))
            })
            .collect()
    }

    /// Reports database: adds a wrap of a report key; an existing wrap for the same recipient
    /// and purpose is kept (granting twice changes nothing).
    pub async fn add_wrap(
        &self,
        id: crate::domain::ReportId,
        recipient_fp: &str,
        purpose: i16,
        wrapped: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO report_wraps (report_id, recipient_fp, purpose, wrapped) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (report_id, recipient_fp, purpose) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(recipient_fp)
        .bind(purpose)
        .bind(wrapped)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reports database: removes every wrap of report `id` to the recipients `fps` (hex
    /// fingerprints): an unassignment. Returns how many were removed.
    pub async fn remove_wraps(
        &self,
        id: crate::domain::ReportId,
        fps: &[String],
    ) -> Result<u64, StoreError> {
        // Counted before the delete: a search that reads the count after this point relists.
        self.wraps_removed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut n = 0;
        for fp in fps {
            n += sqlx::query("DELETE FROM report_wraps WHERE report_id = $1 AND recipient_fp = $2")
                .bind(id.to_string())
                .bind(fp)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    /// How many times this process has removed wraps (see [`Store::remove_wraps`]).
    pub fn wraps_removed(&self) -> u64 {
        self.wraps_removed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Reports database: sets the plaintext assignee column (a staff id, or none). Only for
    /// sorting and filtering: access is decided by wraps, never by this column.
    pub async fn set_assignee(
        &self,
        id: crate::domain::ReportId,
        staff: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE reports SET assignee = $1 WHERE id = $2")
            .bind(staff)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reports database: clears the assignee column when it names `staff`.
    pub async fn clear_assignee(
        &self,
        id: crate::domain::ReportId,
        staff: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE reports SET assignee = NULL WHERE id = $1 AND assignee = $2")
            .bind(id.to_string())
            .bind(staff)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reports database: publishes an investigator certificate for the intake (migration 0006);
    /// an existing one for the same key is kept.
    pub async fn publish_certificate(
        &self,
        ed25519_fp: &str,
        certificate: &[u8],
        sig: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO staff_certificates (ed25519_fp, certificate, sig) VALUES ($1, $2, $3) \
             ON CONFLICT (ed25519_fp) DO NOTHING",
        )
        .bind(ed25519_fp)
        .bind(certificate)
        .bind(sig)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reports database: withdraws the certificate of the Ed25519 key `ed25519_fp`.
    pub async fn withdraw_certificate(&self, ed25519_fp: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM staff_certificates WHERE ed25519_fp = $1")
            .bind(ed25519_fp)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reports database: every published certificate as (certificate, signature), unverified.
    pub async fn staff_certificates(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let rows: Vec<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT certificate, sig FROM staff_certificates ORDER BY ed25519_fp")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows)
    }

    /// Reports database: stores a new report key K_s in one transaction: its wraps and the
    /// signed statement vouching for it. `Ok(false)` when the report already has one (another
    /// staff member created it first): nothing is stored and the caller uses theirs.
    pub async fn insert_report_key(
        &self,
        id: crate::domain::ReportId,
        purpose: i16,
        wraps: &[super::Wrap],
        statement: &[u8],
        sig: &[u8],
    ) -> Result<bool, StoreError> {
        let rid = id.to_string();
        let r: Result<(), sqlx::Error> = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO report_key_statements (report_id, purpose, statement, sig) VALUES ($1, $2, $3, $4)",
            )
            .bind(&rid)
            .bind(purpose)
            .bind(statement)
            .bind(sig)
            .execute(&mut *tx)
            .await?;
            for (fp, p, wrapped) in wraps {
                sqlx::query(
                    "INSERT INTO report_wraps (report_id, recipient_fp, purpose, wrapped) VALUES ($1, $2, $3, $4)",
                )
                .bind(&rid)
                .bind(fp)
                .bind(*p)
                .bind(wrapped)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }
        .await;
        match r {
            Ok(()) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

type RawAuditRow = (i64, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

fn audit_rows(rows: Vec<RawAuditRow>) -> Vec<AuditRow> {
    rows.into_iter()
        .map(|(seq, entry, prev_hash, entry_hash, signature)| AuditRow {
            seq,
            entry,
            prev_hash,
            entry_hash,
            signature,
        })
        .collect()
}
