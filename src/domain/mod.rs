//! Domain types: ids as newtypes, report states and what the reporter may see of them, item
//! kinds and directions. No I/O here.

pub mod calendar;

/// The longest staff message or note, in characters: the same bound the intake puts on a
/// reporter's message, so a question always fits the reporter's follow-up page.
pub const TEXT_MAX: usize = 5_000;

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
        // The hyphenated form only (36 characters): no braces, URN or bare hex, so an id has
        // one spelling everywhere (URLs, forms, the API's `format: uuid`).
        if s.len() != 36 {
            return None;
        }
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
        if s.len() != 36 {
            return None;
        }
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

/// Internal status of a report, as staff see it (issue 7). Whether the reporter owes an answer
/// is not a status: it follows from the conversation (the last message is staff's), so the
/// intake never has to change a report row when the reporter answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Just received; nobody has triaged it.
    New,
    /// Someone is looking at it.
    InReview,
    /// Acted on (passed to an operation, for instance), not yet closed.
    Actioned,
    /// Finished, with a [`CloseReason`].
    Closed,
}

impl Status {
    /// Every status, in the order the desk lists and sorts them.
    pub const ALL: [Status; 4] = [
        Status::New,
        Status::InReview,
        Status::Actioned,
        Status::Closed,
    ];
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InReview => "in_review",
            Status::Actioned => "actioned",
            Status::Closed => "closed",
        }
    }
    /// From stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }
    /// Whether staff may move a report from `self` to `to`. Nothing returns to `new` (the SLA
    /// clock would start again), and a closed report can only be reopened to `in_review`.
    pub fn can_move_to(self, to: Status) -> bool {
        use Status::*;
        match (self, to) {
            (a, b) if a == b => false,
            (_, New) => false,
            (Closed, InReview) => true,
            (Closed, _) => false,
            _ => true,
        }
    }
}

/// Why a report was closed. Stored beside the status: the figures of issue 10 count outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Acted on, and finished.
    Actioned,
    /// The same events as another report ([`duplicate_of`](crate::store::ReportRow) names it).
    Duplicate,
    /// Too little to act on, and the reporter did not add more.
    InsufficientInformation,
    /// Found to be false.
    FalseReport,
}

impl CloseReason {
    /// Every reason, in display order.
    pub const ALL: [CloseReason; 4] = [
        CloseReason::Actioned,
        CloseReason::Duplicate,
        CloseReason::InsufficientInformation,
        CloseReason::FalseReport,
    ];
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Actioned => "actioned",
            CloseReason::Duplicate => "duplicate",
            CloseReason::InsufficientInformation => "insufficient_information",
            CloseReason::FalseReport => "false_report",
        }
    }
    /// From stored text.
    pub fn parse(s: &str) -> Option<Self> {
        CloseReason::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// How urgent a report is. Stored as a small integer so that sorting by the column sorts by
/// urgency (urgent first when descending); a new report is `normal` (0, the column default).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    Normal,
    /// Before the normal ones.
    High,
    /// Now: a life may be at stake.
    Urgent,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];
    /// Stored code.
    pub fn code(self) -> i16 {
        match self {
            Priority::Low => -1,
            Priority::Normal => 0,
            Priority::High => 1,
            Priority::Urgent => 2,
        }
    }
    /// From the stored code.
    pub fn from_code(c: i16) -> Option<Self> {
        Priority::ALL.into_iter().find(|v| v.code() == c)
    }
    /// Name in forms and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
    /// From its name.
    pub fn parse(s: &str) -> Option<Self> {
        Priority::ALL.into_iter().find(|v| v.as_str() == s)
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
    /// `awaiting_reporter` says the conversation's last message is a staff question: the report
    /// needs the reporter's answer until they give it. A closure not yet shown reads like any
    /// report in progress, question or not, so the day it happened stays hidden.
    pub fn project(
        status: Status,
        closed_day: Option<i64>,
        awaiting_reporter: bool,
        today: i64,
        delay_days: i64,
    ) -> Self {
        match (status, closed_day) {
            (Status::Closed, Some(d)) if today >= d.saturating_add(delay_days) => {
                ReporterStatus::Closed
            }
            _ if awaiting_reporter => ReporterStatus::NeedsInfo,
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
    /// The report's labels, staff-only: the latest such item is the current set.
    Labels = 4,
}

impl ItemKind {
    /// From the stored code.
    pub fn from_code(c: i16) -> Option<Self> {
        Some(match c {
            1 => ItemKind::Tip,
            2 => ItemKind::Message,
            3 => ItemKind::Note,
            4 => ItemKind::Labels,
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
        use ReporterStatus as R;
        for s in [Status::New, Status::InReview, Status::Actioned] {
            assert_eq!(R::project(s, None, false, 100, 7), R::Received);
            assert_eq!(R::project(s, None, true, 100, 7), R::NeedsInfo);
        }
        // A closure shows only once the delay has passed; before, a question still shows.
        assert_eq!(
            R::project(Status::Closed, Some(95), false, 100, 7),
            R::Received
        );
        assert_eq!(
            R::project(Status::Closed, Some(95), true, 100, 7),
            R::NeedsInfo
        );
        assert_eq!(
            R::project(Status::Closed, Some(93), false, 100, 7),
            R::Closed
        );
        assert_eq!(
            R::project(Status::Closed, Some(93), true, 100, 7),
            R::Closed
        );
        assert_eq!(R::project(Status::Closed, None, false, 100, 7), R::Received);
        assert_eq!(
            R::project(Status::Closed, Some(i64::MAX), false, 100, 7),
            R::Received
        );
    }

    #[test]
    fn stored_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for r in CloseReason::ALL {
            assert_eq!(CloseReason::parse(r.as_str()), Some(r));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::from_code(p.code()), Some(p));
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        // Sorting the column descending puts the most urgent first.
        let mut codes: Vec<i16> = Priority::ALL.iter().map(|p| p.code()).collect();
        codes.sort_by(|a, b| b.cmp(a));
        assert_eq!(codes, Priority::ALL.map(|p| p.code()));
        assert!(!Status::Closed.can_move_to(Status::Actioned));
        assert!(Status::Closed.can_move_to(Status::InReview));
        assert!(!Status::InReview.can_move_to(Status::New));
    }

    #[test]
    fn day_strings() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_000), "2024-10-04");
    }
}
