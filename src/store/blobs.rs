//! The blob table (issue 9): which blob in the blob store belongs to which report, so orphans
//! left by a crash can be found without opening anything. A row is written before its blob.

use super::{Store, StoreError};
use crate::domain::ReportId;

/// A blob row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    /// The blob's name in the store.
    pub id: String,
    /// The report it was written for (which may never have committed).
    pub report_id: String,
    /// Day the write began.
    pub day: i64,
}

impl Store {
    /// Records a blob about to be written for `report` (which may not exist yet).
    pub async fn record_blob(
        &self,
        id: &str,
        report: ReportId,
        day: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO blobs (id, report_id, day) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(report.to_string())
            .bind(day)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets a blob row (after its blob was removed).
    pub async fn forget_blob(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blobs WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The blob ids recorded for a report, in id order (a random order).
    pub async fn blobs_of(&self, report: ReportId) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM blobs WHERE report_id = $1 ORDER BY id")
                .bind(report.to_string())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Every blob row, each with whether its report exists.
    pub async fn blob_rows(&self) -> Result<Vec<(BlobRow, bool)>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT b.id, b.report_id, b.day, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM reports r WHERE r.id = b.report_id) THEN 1 ELSE 0 END AS BIGINT) \
             FROM blobs b ORDER BY b.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, report_id, day, exists)| (BlobRow { id, report_id, day }, exists == 1))
            .collect())
    }
}
