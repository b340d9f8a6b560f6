//! The sealed item formats both sides of the wall use: what a tip and a message look like inside
//! their envelope ([`TipPlain`], [`MessagePlain`]), the AAD that binds an item to its report,
//! position and direction ([`item_aad`]), and the hash chain over a report's items
//! ([`chain`]: appending with a signed head, and verifying a chain against its latest head), and
//! opening a whole report once it is verified ([`open`]).
//!
//! The intake seals these and the desk (and the CLI's offline recovery) opens them. They live in
//! a room of their own, below both, so that neither the desk nor the CLI has to import the
//! intake to read a tip: the intake stays a leaf that nothing else depends on, which is what
//! makes "the intake cannot reach key-unlocking code" (I3) checkable from the module tree
//! (tests/integration/layering.rs). This room imports `crypto`, `domain` and `store` only.

pub mod chain;
pub mod open;

use crate::crypto::envelope::ItemAad;
use crate::domain::{Direction, ItemId, ItemKind, ReportId};
use serde::{Deserialize, Serialize};

/// The tip as sealed under K_r. Only the day is kept, never the time: the fewer timestamps,
/// the less there is to correlate with network logs.
#[derive(Serialize, Deserialize)]
pub struct TipPlain {
    /// Format version.
    pub v: u8,
    /// Category id.
    pub category: String,
    /// Area id (sealed: where a tip comes from can identify the reporter).
    pub area: Option<String>,
    /// What happened.
    pub description: String,
    /// Where.
    pub location: Option<String>,
    /// When.
    pub when: Option<String>,
    /// Who.
    pub people: Option<String>,
    /// Vehicles.
    pub vehicles: Option<String>,
    /// Received day.
    pub day: String,
    /// Files attached to the tip (issue 9). Absent in tips sealed before attachments existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// What a sealed item says of one attached file: the blob that holds it and everything about it
/// that must stay sealed (I1): its name, type and size. The blob alone is a random name and a
/// size bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The blob (32 hex digits), sealed as a stream under K_r
    /// ([`crate::crypto::stream`], purpose `Attachment`, or `Unsanitized` when kept as sent).
    pub blob: String,
    /// The name the reporter's device gave the file, checked (no path, no control characters)
    /// and never used as a path.
    pub name: String,
    /// The content's type as the intake decided it from the bytes (`jpeg`, `png`, `text`,
    /// `pdf`, ...); for a sanitized image, the type of what the sanitizer wrote.
    pub kind: String,
    /// Its MIME type.
    pub mime: String,
    /// Its exact size in bytes (the stream opener checks it).
    pub size: u64,
    /// Whether the sanitizer re-encoded it (I9). `false` only for a type the reporter consented
    /// to send with its metadata: the desk warns on it.
    pub sanitized: bool,
    /// Pixel dimensions of an image.
    #[serde(default)]
    pub width: u32,
    /// Pixel dimensions of an image.
    #[serde(default)]
    pub height: u32,
    /// The sanitizer's thumbnail, a PNG sealed as a stream of its own (purpose `Thumbnail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb: Option<ThumbRef>,
}

/// A thumbnail's blob and exact size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThumbRef {
    /// The blob.
    pub blob: String,
    /// Exact size in bytes.
    pub size: u64,
}

/// A conversation message as sealed under K_r.
#[derive(Serialize, Deserialize)]
pub struct MessagePlain {
    /// Format version.
    pub v: u8,
    /// Text.
    pub body: String,
    /// Day written.
    pub day: String,
    /// Files a reporter attached to the message (issue 9); staff messages carry none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// A report's labels as sealed under K_s (the reporter's key never opens them): the whole
/// current set, so the latest such item says what holds.
#[derive(Serialize, Deserialize)]
pub struct LabelsPlain {
    /// Format version.
    pub v: u8,
    /// Label ids from the configuration.
    pub labels: Vec<String>,
    /// Day set.
    pub day: String,
}

/// The AAD of an item; `prev` is the previous item's hash
/// ([`crate::crypto::chain::GENESIS`] for the tip).
pub fn item_aad(
    report: ReportId,
    item: ItemId,
    kind: ItemKind,
    direction: Direction,
    seq: i64,
    prev: [u8; 32],
) -> ItemAad {
    ItemAad {
        report_id: report.bytes(),
        kind: kind as u8,
        item_id: item.bytes(),
        direction: direction as u8,
        seq: seq as u64,
        prev,
    }
}
