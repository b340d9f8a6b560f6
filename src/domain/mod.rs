//! Domain types: ids as newtypes, report states and what the reporter may see of them, item
//! kinds and directions. No I/O here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A report id: a random UUIDv4, the only handle on a report in plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportId(uuid::Uuid);

impl ReportId {
    /// A fresh random id.
    pub fn new() -> Self {
        ReportId(uuid::Uuid::new_v4())
    }
    /// Parses the hyphenated text form.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::parse_str(s).ok().map(ReportId)
    }
    /// The 16 bytes bound into AADs, wraps and headers.
    pub fn bytes(&self) -> [u8; 16] {
        *self.0.as_bytes()
    }
    /// From the 16 bytes.
    pub fn from_bytes(b: [u8; 16]) -> Self {
        ReportId(uuid::Uuid::from_bytes(b))
    }
}

impl Default for ReportId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// An item id (tip, message, note): random, so ids say nothing about order or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemId(uuid::Uuid);

impl ItemId {
    /// A fresh random id.
    pub fn new() -> Self {
        ItemId(uuid::Uuid::new_v4())
    }
    /// Parses the text form.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::parse_str(s).ok().map(ItemId)
    }
    /// The 16 bytes bound into the AAD.
    pub fn bytes(&self) -> [u8; 16] {
        *self.0.as_bytes()
    }
}

impl Default for ItemId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A staff account id (`staff.id`): a random UUIDv4, so ids say nothing about who joined when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StaffId(uuid::Uuid);

impl StaffId {
    /// A fresh random id.
    pub fn new() -> Self {
        StaffId(uuid::Uuid::new_v4())
    }
    /// Parses the hyphenated text form.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::parse_str(s).ok().map(StaffId)
    }
    /// The 16 bytes, for signed structures.
    pub fn bytes(&self) -> [u8; 16] {
        *self.0.as_bytes()
    }
}

impl Default for StaffId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for StaffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Internal status of a report, as staff see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Just received; nobody has looked.
    New,
    /// Read and categorised.
    Triaged,
    /// Being acted on.
    Investigating,
    /// Staff asked the reporter a question.
    NeedsInfo,
    /// Finished.
    Closed,
}

impl Status {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Triaged => "triaged",
            Status::Investigating => "investigating",
            Status::NeedsInfo => "needs_info",
            Status::Closed => "closed",
        }
    }
    /// From stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => Status::New,
            "triaged" => Status::Triaged,
            "investigating" => Status::Investigating,
            "needs_info" => Status::NeedsInfo,
            "closed" => Status::Closed,
            _ => return None,
        })
    }
    /// Whether staff may move a report from `self` to `to`. A closed report can be reopened to
    /// `triaged` only; nothing returns to `new`.
    pub fn can_move_to(self, to: Status) -> bool {
        use Status::*;
        match (self, to) {
            (a, b) if a == b => false,
            (_, New) => false,
            (Closed, Triaged) => true,
            (Closed, _) => false,
            _ => true,
        }
    }
}

/// What a reporter may see. Deliberately coarse (invariant I11): everything in progress reads
/// `received`, so a trafficker who files a tip about themselves cannot watch an investigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReporterStatus {
    /// The tip is with BNNK.
    Received,
    /// Staff asked a question; please reply.
    NeedsInfo,
    /// Finished, shown only some days after closure.
    Closed,
}

impl ReporterStatus {
    /// The reporter's view of a report with internal `status`, closed on `closed_day` (days
    /// since the Unix epoch), seen on `today`, with closure shown after `delay_days`.
    pub fn project(status: Status, closed_day: Option<i64>, today: i64, delay_days: i64) -> Self {
        match status {
            Status::NeedsInfo => ReporterStatus::NeedsInfo,
            Status::Closed => match closed_day {
                Some(d) if today >= d + delay_days => ReporterStatus::Closed,
                _ => ReporterStatus::Received,
            },
            _ => ReporterStatus::Received,
        }
    }
}

/// Kind of a sealed item, bound into its AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// The original tip.
    Tip = 1,
    /// A message in the reporter conversation.
    Message = 2,
    /// A staff-only note.
    Note = 3,
}

impl ItemKind {
    /// From the stored code.
    pub fn from_code(c: i16) -> Option<Self> {
        Some(match c {
            1 => ItemKind::Tip,
            2 => ItemKind::Message,
            3 => ItemKind::Note,
            _ => return None,
        })
    }
}

/// Who wrote an item and who may read it, bound into its AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Written by the reporter (sealed under K_r).
    ReporterToStaff = 1,
    /// Written by staff for the reporter (sealed under K_r).
    StaffToReporter = 2,
    /// Staff only (sealed under K_s).
    StaffOnly = 3,
}

impl Direction {
    /// From the stored code.
    pub fn from_code(c: i16) -> Option<Self> {
        Some(match c {
            1 => Direction::ReporterToStaff,
            2 => Direction::StaffToReporter,
            3 => Direction::StaffOnly,
            _ => return None,
        })
    }
}

/// Days since the Unix epoch (UTC) for a Unix time in seconds.
pub fn day_number(unix: i64) -> i64 {
    unix.div_euclid(86_400)
}

/// Today's day number, UTC.
pub fn today() -> i64 {
    day_number(time::OffsetDateTime::now_utc().unix_timestamp())
}

/// `YYYY-MM-DD` for a day number.
pub fn day_string(day: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .expect("day numbers in range")
        .date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_sees_only_three_states() {
        for s in [Status::New, Status::Triaged, Status::Investigating] {
            assert_eq!(
                ReporterStatus::project(s, None, 100, 7),
                ReporterStatus::Received
            );
        }
        assert_eq!(
            ReporterStatus::project(Status::NeedsInfo, None, 100, 7),
            ReporterStatus::NeedsInfo
        );
        assert_eq!(
            ReporterStatus::project(Status::Closed, Some(95), 100, 7),
            ReporterStatus::Received
        );
        assert_eq!(
            ReporterStatus::project(Status::Closed, Some(93), 100, 7),
            ReporterStatus::Closed
        );
        assert_eq!(
            ReporterStatus::project(Status::Closed, None, 100, 7),
            ReporterStatus::Received
        );
    }

    #[test]
    fn day_strings() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_000), "2024-10-04");
    }
}
