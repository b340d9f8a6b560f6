//! What a follow-up reads of a report's routing columns: only status and closed day. The intake
//! role's column grants (deploy/postgres/roles.sql) allow exactly these, so a compromised
//! intake cannot read priority or assignment (issue 5, section 6).

use super::{Store, StoreError};
use crate::domain::{ReportId, Status};

impl Store {
    /// A report's status and closed day, or `None` when it does not exist.
    pub async fn reporter_status(
        &self,
        id: ReportId,
    ) -> Result<Option<(Status, Option<i64>)>, StoreError> {
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT status, closed_day FROM reports WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(s, closed)| {
            Status::parse(&s)
                .map(|s| (s, closed))
                .ok_or_else(|| StoreError::Corrupt("reports.status".into()))
        })
        .transpose()
    }
}
