//! What a follow-up reads of a report's routing columns: only status and closed day, and the
//! direction of the conversation's last message. The intake role's column grants
//! (deploy/postgres/roles.sql) allow exactly these, so a compromised intake cannot read
//! priority or assignment (issue 5, section 6).

use super::{Store, StoreError};
use crate::domain::{Direction, ItemKind, ReportId, Status};

/// What the reporter's status is computed from ([`crate::domain::ReporterStatus::project`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowupState {
    /// Internal status.
    pub status: Status,
    /// Day of closure.
    pub closed_day: Option<i64>,
    /// The last message in the conversation is staff's: the reporter owes an answer.
    pub awaiting_reporter: bool,
}

impl Store {
    /// A report's status, closed day and whether staff wrote last, or `None` when it does not
    /// exist.
    pub async fn reporter_status(&self, id: ReportId) -> Result<Option<FollowupState>, StoreError> {
        let row: Option<(String, Option<i64>, Option<i16>)> = sqlx::query_as(
            "SELECT r.status, r.closed_day, \
                    (SELECT i.direction FROM items i WHERE i.report_id = r.id AND i.kind = $2 \
                     ORDER BY i.seq DESC LIMIT 1) \
             FROM reports r WHERE r.id = $1",
        )
        .bind(id.to_string())
        .bind(ItemKind::Message as i16)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(s, closed_day, last)| {
            Status::parse(&s)
                .map(|status| FollowupState {
                    status,
                    closed_day,
                    awaiting_reporter: last == Some(Direction::StaffToReporter as i16),
                })
                .ok_or_else(|| StoreError::Corrupt("reports.status".into()))
        })
        .transpose()
    }
}
