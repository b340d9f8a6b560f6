//! Opening a whole report for someone who holds its keys: the offline recovery (`bisik keys
//! recover`) and the desk's report page. Both must refuse the same tampering in the same words,
//! so the checks live here once: the items are exactly the chain the latest trusted head ends
//! ([`super::chain::verify_chain`]), item 0 is the tip the signed header names, and every item
//! opens under the key its direction calls for.

use super::chain::{HeadTrust, verify_chain};
use super::{MessagePlain, TipPlain, item_aad};
use crate::crypto::SecretKey32;
use crate::crypto::envelope;
use crate::domain::{Direction, ItemKind, ReportId};
use crate::store::{HeadRow, ItemRow};
use zeroize::Zeroizing;

/// One opened item after the tip.
pub struct OpenItem {
    /// Position in the chain.
    pub seq: i64,
    /// Message or note.
    pub kind: ItemKind,
    /// Who wrote it to whom.
    pub direction: Direction,
    /// The plaintext; `None` for a staff-only item when no K_s was given (the reader holds no
    /// wrap of it).
    pub plain: Option<Zeroizing<Vec<u8>>>,
}

impl OpenItem {
    /// The text and day of a message or of a desk note (sealed as a [`MessagePlain`]); `None`
    /// for a sealed item or another format.
    pub fn message(&self) -> Option<MessagePlain> {
        serde_json::from_slice(self.plain.as_deref()?).ok()
    }
}

/// A report opened and checked: its tip and the rest of its chain in order.
pub struct Conversation {
    /// The tip.
    pub tip: TipPlain,
    /// Messages and notes, oldest first.
    pub items: Vec<OpenItem>,
}

impl Conversation {
    /// The report's current labels: the latest labels item, when the reader holds K_s.
    pub fn labels(&self) -> Vec<String> {
        self.items
            .iter()
            .rev()
            .find(|it| it.kind == ItemKind::Labels)
            .and_then(|it| it.plain.as_deref())
            .and_then(|p| serde_json::from_slice::<super::LabelsPlain>(p).ok())
            .map(|l| l.labels)
            .unwrap_or_default()
    }
}

/// Verifies and opens report `id`'s `items` (all of them, in chain order) against its latest
/// `head`, trusted by `trusted`; `tip_item` is the tip's id from the signed header. Each failure
/// is one sentence naming the problem.
pub fn open_conversation<T: HeadTrust + ?Sized>(
    id: ReportId,
    tip_item: [u8; 16],
    items: &[ItemRow],
    head: Option<&HeadRow>,
    trusted: &T,
    k_r: &SecretKey32,
    k_s: Option<&SecretKey32>,
) -> Result<Conversation, String> {
    verify_chain(id, items, head, trusted)?;
    if items
        .first()
        .is_none_or(|t| t.kind != ItemKind::Tip || t.id.bytes() != tip_item)
    {
        return Err("the tip is not the one named in the signed header".into());
    }
    let open = |it: &ItemRow, key: &SecretKey32| {
        envelope::open(
            key,
            &item_aad(id, it.id, it.kind, it.direction, it.seq, it.prev),
            &it.sealed,
        )
        .map_err(|_| format!("item {} does not open", it.seq))
    };
    let tip_plain = open(&items[0], k_r)?;
    let tip: TipPlain =
        serde_json::from_slice(&tip_plain).map_err(|_| "the tip is malformed".to_string())?;
    let mut out = Vec::with_capacity(items.len() - 1);
    for it in &items[1..] {
        if it.kind == ItemKind::Tip {
            return Err(format!("item {} is a second tip", it.seq));
        }
        let plain = match (it.direction, k_s) {
            (Direction::StaffOnly, None) => None,
            (Direction::StaffOnly, Some(k)) => Some(open(it, k)?),
            _ => Some(open(it, k_r)?),
        };
        if it.kind == ItemKind::Message
            && let Some(p) = &plain
            && serde_json::from_slice::<MessagePlain>(p).is_err()
        {
            return Err(format!("message {} is malformed", it.seq));
        }
        out.push(OpenItem {
            seq: it.seq,
            kind: it.kind,
            direction: it.direction,
            plain,
        });
    }
    Ok(Conversation { tip, items: out })
}
