//! Refusing a planted SQLite schema (issue 5, section 6). On SQLite the production split gives no
//! database-level protection: whoever can write the file can add a view or a trigger, and a
//! trigger runs inside the intake's own writes (it could copy every new wrap or tag elsewhere).
//! So every connection sets `trusted_schema = OFF` (functions with side effects cannot run from
//! the schema), and at start the store refuses any view or trigger the migrations did not make.

use super::{Backend, Store, StoreError};

/// Views and triggers the migrations create, as `(type, name, table)`: a migration that adds
/// one must name it here, or every start refuses the database. Desk migration 0005 makes the
/// audit log append-only with two triggers that only refuse (they call no function). The table
/// is part of the match, so the same name on a table of the reports database (which has no
/// audit_log) is still refused.
pub const MIGRATION_SCHEMA_OBJECTS: &[(&str, &str, &str)] = &[
    ("trigger", "audit_log_no_delete", "audit_log"),
    ("trigger", "audit_log_no_update", "audit_log"),
];

impl Store {
    /// Views and triggers in this SQLite database that no migration created, as "view NAME" /
    /// "trigger NAME". Always empty on PostgreSQL, where the intake role cannot create any.
    pub async fn unexpected_schema_objects(&self) -> Result<Vec<String>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('view', 'trigger') ORDER BY type, name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|(t, n, tbl)| {
                !MIGRATION_SCHEMA_OBJECTS
                    .iter()
                    .any(|(mt, mn, mtbl)| mt == t && mn == n && mtbl == tbl)
            })
            .map(|(t, n, _)| format!("{t} {n}"))
            .collect())
    }
}
