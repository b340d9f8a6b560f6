//! Sealing a new report and opening one for its reporter. The intake can seal to public keys,
//! and can open a report only with the K_r that the reporter's code unwraps (I3).

use super::IntakeState;
use super::chain::{self, Append};
use crate::crypto::chain::{ChainHead, GENESIS, idempotency_tag, item_hash};
use crate::crypto::envelope;
use crate::crypto::header::{ReportHeader, key_commitment};
use crate::crypto::kdf::CodeSecrets;
use crate::crypto::primitives::SecretKey32;
use crate::crypto::wrap::{Purpose, wrap_to};
use crate::domain::{Direction, ItemId, ItemKind, ReportId, ReporterStatus, day_string, today};
use crate::store::{Appended, ItemRow, NewItem, NewReport, Quota, StoreError};
use serde::Serialize;
use zeroize::{Zeroize, Zeroizing};

// The formats live in `items`, which the desk and the CLI read without importing the intake;
// re-exported for the intake's own modules.
pub use crate::items::{MessagePlain, TipPlain, item_aad};

/// Seals and stores a new report; returns once it is durably committed.
pub async fn create(
    st: &IntakeState,
    mut tip: TipPlain,
    files: Vec<super::upload::Spooled>,
    secrets: &CodeSecrets,
) -> Result<ReportId, Created> {
    let id = ReportId::new();
    let rid = id.bytes();
    let day = today();
    // Only K_r is made here. K_s, for staff-only items, is created by the desk when staff
    // first need it, so the intake never knows it (I3).
    let k_r = SecretKey32::random();
    // Files first: they are sealed under K_r and named in the tip, which is sealed next.
    tip.attachments = super::upload::store_files(st, id, &k_r, files)
        .await
        .map_err(Created::Refused)?;

    let recipients = st.recipients.current(&st.store).await;
    let mut all = vec![st.keys.escrow.clone()];
    for k in &recipients.keys {
        // The list is checked for duplicates when accepted; this keeps a bad list from ever
        // producing two wraps for one key (which the database would refuse, losing the tip).
        if !all.contains(k) {
            all.push(k.clone());
        }
    }
    let mut wraps = Vec::with_capacity(all.len());
    for r in &all {
        let fp = hex::encode(r.fingerprint());
        // Keys are validated when loaded, so a failure here means a bug, not bad input.
        let wrapped = wrap_to(r, &rid, Purpose::ReporterKey, &k_r).map_err(|e| {
            Created::Store(StoreError::Corrupt(format!(
                "cannot wrap to recipient {fp}: {e}"
            )))
        })?;
        wraps.push((fp, Purpose::ReporterKey.code(), wrapped));
    }
    let tip_id = ItemId::new();
    let header = ReportHeader {
        report_id: rid,
        day: day_string(day),
        unit: st.cfg.unit.id.clone(),
        tip_item: tip_id.bytes(),
        key_commitment: key_commitment(&rid, &k_r),
        recipient_epoch: recipients.epoch,
        recipients: all.iter().map(|r| r.fingerprint()).collect(),
    };
    let (header, sig) = header.sign(&st.secrets.signing);

    let plain = Zeroizing::new(serde_json::to_vec(&tip).expect("serialisable"));
    let aad = item_aad(
        id,
        tip_id,
        ItemKind::Tip,
        Direction::ReporterToStaff,
        0,
        GENESIS,
    );
    let sealed = envelope::seal(&k_r, &aad, &plain);
    let (head, head_sig) = ChainHead::sign(rid, 1, item_hash(&aad, &sealed), &st.secrets.signing);
    let new = NewReport {
        id,
        unit: st.cfg.unit.id.clone(),
        category: tip.category.clone(),
        received_day: day,
        header,
        header_sig: sig.to_vec(),
        wraps,
        tag: secrets.tag,
        kdf_version: i16::from(secrets.version),
        wrapped_key: envelope::wrap_report_key(&secrets.kek, &rid, secrets.version, &k_r),
        expires_day: day + st.cfg.reporter.code_lifetime_days,
        tip: NewItem {
            id: tip_id,
            kind: ItemKind::Tip,
            direction: Direction::ReporterToStaff,
            sealed,
            prev: GENESIS,
            day,
            idem: None,
        },
        head: (head, head_sig.to_vec()),
    };
    // A failed commit is not proof that nothing committed (a connection lost during COMMIT), so
    // the blobs stay: if the report is not there, `bisik maintenance blobs` removes them the
    // day after tomorrow; if it is, they are its files (found in review: removing them here
    // could leave a stored report without its photos).
    st.committer.insert(new).await.map_err(Created::Store)?;
    Ok(id)
}

/// Why a report was not created.
pub enum Created {
    /// An attachment was refused (type, size, the sanitizer): the reporter is told why.
    Refused(crate::web::ApiError),
    /// The store failed.
    Store(StoreError),
}

/// A report opened by its reporter's code.
pub struct Opened {
    /// The report.
    pub id: ReportId,
    /// K_r, held only for the length of this request.
    pub k_r: SecretKey32,
}

/// Looks a code's tag up and unwraps K_r. `None` for unknown, revoked and expired codes alike,
/// so the caller cannot answer them differently (I11).
pub async fn open(st: &IntakeState, secrets: &CodeSecrets) -> Result<Option<Opened>, StoreError> {
    let Some(row) = st.store.access_by_tag(&secrets.tag).await? else {
        return Ok(None);
    };
    if row.revoked || today() > row.expires_day {
        return Ok(None);
    }
    let rid = row.report_id.bytes();
    match envelope::unwrap_report_key(&secrets.kek, &rid, secrets.version, &row.wrapped_key) {
        Ok(k_r) => Ok(Some(Opened {
            id: row.report_id,
            k_r,
        })),
        Err(_) => {
            tracing::error!(
                "a reporter wrap did not open under its own tag's KEK: the database row was altered"
            );
            Ok(None)
        }
    }
}

/// A message as the reporter sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReporterMessage {
    /// `reporter` or `staff`.
    pub from: &'static str,
    /// Text.
    pub body: String,
    /// Day, `YYYY-MM-DD`.
    pub day: String,
}

/// The reporter's view: coarse status, one page of the conversation (newest first) and how
/// many messages are older than that page.
pub struct ReporterView {
    /// What the reporter may see of the status.
    pub status: ReporterStatus,
    /// The page, newest first.
    pub messages: Vec<ReporterMessage>,
    /// Messages older than the last one on this page.
    pub older: i64,
}

/// Page `page` (0 = newest) of what the reporter may see. Only messages to and from the
/// reporter are read from the database; staff-only items are never selected.
pub async fn reporter_view(
    st: &IntakeState,
    o: &Opened,
    page: u32,
) -> Result<ReporterView, StoreError> {
    reporter_view_paged(st, o, page, st.cfg.reporter.messages_per_page).await
}

/// [`reporter_view`] with `per` messages a page.
pub async fn reporter_view_paged(
    st: &IntakeState,
    o: &Opened,
    page: u32,
    per: i64,
) -> Result<ReporterView, StoreError> {
    let status = reporter_status(st, o).await?;
    let offset = i64::from(page) * per;
    let (items, total) = st.store.reporter_messages(o.id, per, offset).await?;
    let mut messages = Vec::with_capacity(items.len());
    for it in &items {
        messages.push(open_message(o, it)?);
    }
    let older = (total - offset - items.len() as i64).max(0);
    Ok(ReporterView {
        status,
        messages,
        older,
    })
}

/// Where a message falls relative to the page asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On a newer page.
    Newer,
    /// On the page asked for.
    Here,
    /// On an older page.
    Older,
}

/// Cuts a conversation, fed newest first, into pages of at most `max_count` messages whose
/// costs add up to at most `budget`. The cut depends on nothing but the report's own messages
/// in order, so a page number always names the same messages until a new one arrives (which
/// shifts every page by one message, as a count-based page does), and says nothing about any
/// other report. A message that costs more than `budget` on its own gets a page to itself: it
/// is never hidden, and the caller proves that what it accepts always fits.
#[derive(Debug)]
pub struct Pager {
    want: u32,
    max_count: usize,
    budget: usize,
    page: u32,
    used: usize,
    count: usize,
}

impl Pager {
    /// A pager looking for page `want` (0 = newest).
    pub fn new(want: u32, max_count: usize, budget: usize) -> Pager {
        Pager {
            want,
            max_count: max_count.max(1),
            budget,
            page: 0,
            used: 0,
            count: 0,
        }
    }

    /// Places the next (older) message, of cost `cost`.
    pub fn place(&mut self, cost: usize) -> Place {
        if self.count > 0
            && (self.count >= self.max_count || self.used.saturating_add(cost) > self.budget)
        {
            self.page = self.page.saturating_add(1);
            self.used = 0;
            self.count = 0;
        }
        self.used = self.used.saturating_add(cost);
        self.count += 1;
        match self.page.cmp(&self.want) {
            std::cmp::Ordering::Less => Place::Newer,
            std::cmp::Ordering::Equal => Place::Here,
            std::cmp::Ordering::Greater => Place::Older,
        }
    }
}

/// Page `page` of what the reporter may see, cut by [`Pager`] on `cost` of each message (the
/// HTML page's bytes), not by a count. Pages are cut from the newest message, so reaching page
/// `page` opens every message on the newer pages too (and one past it, to know whether older
/// ones exist); those are wiped as soon as they are measured. The work is bounded by the
/// report's own conversation, which the daily message quota bounds.
pub async fn reporter_view_sized(
    st: &IntakeState,
    o: &Opened,
    page: u32,
    max_count: usize,
    budget: usize,
    cost: impl Fn(&ReporterMessage) -> usize,
) -> Result<ReporterView, StoreError> {
    const BATCH: i64 = 50;
    let status = reporter_status(st, o).await?;
    let mut cut = Pager::new(page, max_count, budget);
    let mut messages = Vec::new();
    let mut offset = 0;
    loop {
        let (items, total) = st.store.reporter_messages(o.id, BATCH, offset).await?;
        for (i, it) in items.iter().enumerate() {
            let mut m = open_message(o, it)?;
            match cut.place(cost(&m)) {
                Place::Here => messages.push(m),
                Place::Newer => m.body.zeroize(),
                Place::Older => {
                    m.body.zeroize();
                    let older = (total - offset - i as i64).max(0);
                    return Ok(ReporterView {
                        status,
                        messages,
                        older,
                    });
                }
            }
        }
        if (items.len() as i64) < BATCH {
            return Ok(ReporterView {
                status,
                messages,
                older: 0,
            });
        }
        offset += BATCH;
    }
}

/// The status as the reporter may see it.
async fn reporter_status(st: &IntakeState, o: &Opened) -> Result<ReporterStatus, StoreError> {
    // Only status, closed day and the last message's direction: the intake role may read no
    // other routing column.
    let f = st
        .store
        .reporter_status(o.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("report of an access row is missing".into()))?;
    Ok(ReporterStatus::project(
        f.status,
        f.closed_day,
        f.awaiting_reporter,
        today(),
        st.cfg.reporter.closed_delay_days,
    ))
}

/// Opens one message the reporter may see.
fn open_message(o: &Opened, it: &ItemRow) -> Result<ReporterMessage, StoreError> {
    let aad = item_aad(o.id, it.id, it.kind, it.direction, it.seq, it.prev);
    let plain = envelope::open(&o.k_r, &aad, &it.sealed)
        // No item or report id: this text reaches the log with an exact time (issue 5 §5).
        .map_err(|e| StoreError::Corrupt(format!("a sealed message did not open: {e}")))?;
    let m: MessagePlain = serde_json::from_slice(&plain)
        .map_err(|_| StoreError::Corrupt("a sealed message is not a message".into()))?;
    Ok(ReporterMessage {
        from: if it.direction == Direction::ReporterToStaff {
            "reporter"
        } else {
            "staff"
        },
        body: m.body,
        day: m.day,
    })
}

/// What became of a reporter's message.
pub enum Added {
    /// Stored (now, or earlier under the same idempotency key) on this day, `YYYY-MM-DD`.
    Stored(String),
    /// The report's daily message quota is used up.
    QuotaExceeded,
}

/// Appends a reporter message sealed under K_r. A message resent with the idempotency key of
/// one already stored is not stored again and gets the first one's day.
pub async fn add_message(
    st: &IntakeState,
    o: &Opened,
    body: String,
    files: Vec<super::upload::Spooled>,
    idempotency_key: Option<&str>,
) -> Result<Added, Created> {
    let day = today();
    let attachments = super::upload::store_files(st, o.id, &o.k_r, files)
        .await
        .map_err(Created::Refused)?;
    let blobs: Vec<crate::blob::BlobId> = attachments
        .iter()
        .flat_map(|a| [Some(&a.blob), a.thumb.as_ref().map(|t| &t.blob)])
        .flatten()
        .filter_map(|b| crate::blob::BlobId::parse(b))
        .collect();
    let plain = Zeroizing::new(
        serde_json::to_vec(&MessagePlain {
            v: 1,
            body,
            day: day_string(day),
            attachments,
        })
        .expect("serialisable"),
    );
    let a = Append {
        kind: ItemKind::Message,
        direction: Direction::ReporterToStaff,
        plain: &plain,
        idem: idempotency_key.map(|k| idempotency_tag(&o.k_r, k)),
        day,
        quota: Some(Quota {
            day,
            max: st.cfg.reporter.messages_per_day,
        }),
    };
    let appended = chain::append(st, o.id, &o.k_r, &a).await;
    // Files of a message that certainly was not stored (a resend, the quota) go again. After an
    // error they stay: the message may have committed all the same, and a stored message
    // without its files is worse than blobs left behind.
    if matches!(
        appended,
        Ok(Appended::Duplicate(_)) | Ok(Appended::QuotaExceeded)
    ) {
        super::upload::remove_blobs(st, &blobs).await;
    }
    Ok(match appended.map_err(Created::Store)? {
        Appended::Stored => Added::Stored(day_string(day)),
        Appended::Duplicate(d) => Added::Stored(day_string(d)),
        Appended::QuotaExceeded => Added::QuotaExceeded,
        Appended::Conflict => {
            return Err(Created::Store(StoreError::Corrupt(
                "an append conflict escaped its retry".into(),
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{Pager, Place};

    #[test]
    fn pages_are_cut_by_budget_and_count() {
        let mut p = Pager::new(1, 3, 10);
        let places: Vec<Place> = [4, 4, 4, 1, 1, 1, 1, 20, 1]
            .iter()
            .map(|&c| p.place(c))
            .collect();
        use Place::*;
        // Page 0: 4+4 (a third 4 would pass 10); page 1: 4+1+1 (then the count of 3 is full);
        // page 2: 1; page 3: the 20 alone; page 4: 1.
        assert_eq!(
            places,
            [Newer, Newer, Here, Here, Here, Older, Older, Older, Older]
        );
    }

    #[test]
    fn an_oversized_message_gets_a_page_to_itself() {
        let mut p = Pager::new(0, 5, 10);
        assert_eq!(p.place(50), Place::Here);
        assert_eq!(p.place(1), Place::Older);
        let mut p = Pager::new(1, 5, 10);
        assert_eq!(p.place(1), Place::Newer);
        assert_eq!(p.place(50), Place::Here);
        assert_eq!(p.place(1), Place::Older);
    }
}
