//! The operator's report listing (`bisik reports list`): routing columns only, never content,
//! ordered by declared fields so the output never mirrors physical row order (I1).

use super::{Store, StoreError};

/// One report as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedReport {
    /// Report id (UUID text).
    pub id: String,
    /// Received day number.
    pub received_day: i64,
    /// Category id.
    pub category: String,
    /// Internal status.
    pub status: String,
}

impl Store {
    /// Every report, newest day first, then by category, status and the random id: every key
    /// is a declared column, so ties never fall back to insertion order.
    pub async fn list_reports(&self) -> Result<Vec<ListedReport>, StoreError> {
        let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT id, received_day, category, status FROM reports \
             ORDER BY received_day DESC, category, status, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, received_day, category, status)| ListedReport {
                id,
                received_day,
                category,
                status,
            })
            .collect())
    }
}
