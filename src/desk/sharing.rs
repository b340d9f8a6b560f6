//! Opening a report as a staff member, sharing it, and writing to it (I5, I6).
//!
//! * [`open_report`]: a staff member's own wrap of K_r, opened with the X25519 key their session
//!   unlocked, checked against the commitment in the intake-signed header; and K_s when the audit
//!   chain vouches for it and they hold a wrap of it. No wrap means "no such report" (need to
//!   know: an investigator learns nothing about reports not shared with them, not even that the
//!   id exists).
//! * [`share`]: a certified supervisor shares a report with an investigator or with another
//!   certified supervisor. For an investigator not yet certified, the supervisor's session first
//!   signs the certification with the supervisor's own key: the audit log records it (the desk's
//!   source of truth), and a [`StaffCertificate`] is published in the reports database for the
//!   intake, which otherwise could not trust the chain heads that investigator signs. Then K_r,
//!   and K_s where it exists, are wrapped to the target's key.
//! * [`unshare`]: deletes an investigator's wraps of the report. Their next request fails.
//! * [`post`]: a message to the reporter (sealed under K_r) or an internal note (under K_s,
//!   which the first note creates, [`super::report_keys::create_staff_key`]), appended to the
//!   report's chain with a head signed by the writer's certified key.
//!
//! Every step is appended to the audit log *before* the change it records is stored, so a crash
//! leaves at worst an entry for a change that did not happen, never a change without its entry.

use super::DeskState;
use super::audit::{Access, Certification, Certified, Event, Signer};
use super::keys::StaffKeys;
use super::report_keys::{
    Acting, ReportKeyError, StaffHeads, append_staff_item, create_staff_key, vouched_staff_key,
};
use super::session::Authed;
use super::text::{self, Text};
use crate::crypto::SecretKey32;
use crate::crypto::certificate::StaffCertificate;
use crate::crypto::chain::signer_fingerprint;
use crate::crypto::header::{ReportHeader, key_commitment};
use crate::crypto::wrap::{Purpose, RecipientKey, wrap_to};
use crate::domain::{Direction, ItemKind, ReportId, StaffId, Status, day_string, today};
use crate::items::MessagePlain;
use crate::items::chain::Append;
use crate::items::open::{Conversation, open_conversation};
use crate::store::{StaffKeyRow, StaffRow, StoreError};
use crate::vault::unwrap::unwrap;
use ed25519_dalek::VerifyingKey;
use zeroize::{Zeroize, Zeroizing};

pub use crate::domain::TEXT_MAX;

/// Why a desk action on a report was refused.
#[derive(Debug)]
pub enum ShareError {
    /// No such report, or none this person can open (the same answer): 404.
    NotFound(Text),
    /// A bad request or one this person may not make, with the reason: 400 or 403.
    Refused(Text),
    /// The report failed an integrity check (logged with the detail): 409.
    Tampered(String),
    /// The database or the audit log failed (logged): 500.
    Internal(String),
}

impl From<StoreError> for ShareError {
    fn from(e: StoreError) -> Self {
        ShareError::Internal(e.to_string())
    }
}

impl From<super::audit::AuditError> for ShareError {
    fn from(e: super::audit::AuditError) -> Self {
        ShareError::Internal(e.to_string())
    }
}

impl From<ReportKeyError> for ShareError {
    fn from(e: ReportKeyError) -> Self {
        match e {
            ReportKeyError::Refused(why) => ShareError::Tampered(why),
            other => ShareError::Internal(other.to_string()),
        }
    }
}

/// A report's keys as one staff member opened them.
pub struct Opened {
    /// The reporter key.
    pub k_r: SecretKey32,
    /// The staff key, when the report has one the audit chain vouches for and this person
    /// holds a wrap of it.
    pub k_s: Option<SecretKey32>,
    /// Whether the report has a vouched K_s at all (even one this person holds no wrap of).
    pub has_k_s: bool,
    /// The X25519 fingerprints the intake-signed header names as the report's first recipients.
    pub header_recipients: Vec<[u8; 32]>,
    /// The tip's item id, from the signed header.
    pub tip_item: [u8; 16],
}

pub(super) fn recipient(row: &StaffKeyRow) -> Result<RecipientKey, ShareError> {
    RecipientKey::from_bytes(&row.x25519_public)
        .map_err(|_| ShareError::Internal("a stored X25519 key is invalid".into()))
}

fn ed25519(row: &StaffKeyRow) -> Result<VerifyingKey, ShareError> {
    <[u8; 32]>::try_from(row.ed25519_public.as_slice())
        .ok()
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| ShareError::Internal("a stored Ed25519 key is invalid".into()))
}

fn staff_id(s: &str) -> Result<StaffId, ShareError> {
    StaffId::parse(s).ok_or_else(|| ShareError::Internal("a staff id is not a UUID".into()))
}

/// Opens report `id` with `keys`, the unlocked keys of staff member `staff` (their public
/// halves are read from the desk store).
pub async fn open_report(
    st: &DeskState,
    certified: &Certified,
    staff: &str,
    keys: &StaffKeys,
    id: ReportId,
) -> Result<Opened, ShareError> {
    let intake = st.intake_key()?;
    let mine = st
        .store
        .active_staff_key(staff)
        .await?
        .ok_or(ShareError::Refused(text::NO_KEYS))?;
    let me = recipient(&mine)?;
    let fp = hex::encode(me.fingerprint());
    let row = st
        .reports
        .report(id)
        .await?
        .ok_or(ShareError::NotFound(text::NO_REPORT))?;
    let wraps = st.reports.wraps(id).await?;
    let find = |p: Purpose| {
        wraps
            .iter()
            .find(|w| w.recipient_fp == fp && w.purpose == p.code())
    };
    // Need to know: without a wrap the report does not exist for this person.
    let w = find(Purpose::ReporterKey).ok_or(ShareError::NotFound(text::NO_REPORT))?;
    let rid = id.bytes();
    let (k_r, header) = open_reporter_key(
        &intake,
        &keys.x25519,
        &me,
        id,
        &row.header,
        &row.header_sig,
        &w.wrapped,
    )?;
    let statements = st.reports.key_statements(id).await?;
    let vouched = vouched_staff_key(id, &wraps, &statements, certified, &intake)
        .map_err(ShareError::Tampered)?;
    let k_s = match (vouched, find(Purpose::StaffKey)) {
        (Some(commitment), Some(w)) => {
            let k =
                unwrap(&keys.x25519, &me, &rid, Purpose::StaffKey, &w.wrapped).map_err(|_| {
                    ShareError::Tampered("this staff member's wrap of K_s does not open".into())
                })?;
            if key_commitment(&rid, &k) != commitment {
                return Err(ShareError::Tampered(
                    "K_s differs from the one its signed statement commits to".into(),
                ));
            }
            Some(k)
        }
        _ => None,
    };
    Ok(Opened {
        k_r,
        k_s,
        has_k_s: vouched.is_some(),
        header_recipients: header.recipients,
        tip_item: header.tip_item,
    })
}

/// K_r of report `id` from this staff member's wrap, after the intake-signed header verifies
/// and commits to it: the checks every desk read starts with, without a database query, so the
/// search can run them over many reports at once.
pub(super) fn open_reporter_key(
    intake: &VerifyingKey,
    x25519: &SecretKey32,
    me: &RecipientKey,
    id: ReportId,
    header: &[u8],
    header_sig: &[u8],
    wrapped: &[u8],
) -> Result<(SecretKey32, ReportHeader), ShareError> {
    let header = ReportHeader::verify(header, header_sig, intake).map_err(|_| {
        ShareError::Tampered("the report header does not verify under the pinned intake key".into())
    })?;
    let k_r = key_under_header(x25519, me, id, &header, wrapped)?;
    Ok((k_r, header))
}

/// K_r from this reader's wrap, checked against a header that has already verified: the
/// header must name this report, and K_r must be the key it commits to.
pub(super) fn key_under_header(
    x25519: &SecretKey32,
    me: &RecipientKey,
    id: ReportId,
    header: &ReportHeader,
    wrapped: &[u8],
) -> Result<SecretKey32, ShareError> {
    let rid = id.bytes();
    if header.report_id != rid {
        return Err(ShareError::Tampered(
            "the signed header names another report".into(),
        ));
    }
    let k_r = unwrap(x25519, me, &rid, Purpose::ReporterKey, wrapped).map_err(|_| {
        ShareError::Tampered("this staff member's wrap of K_r does not open".into())
    })?;
    if key_commitment(&rid, &k_r) != header.key_commitment {
        return Err(ShareError::Tampered(
            "K_r differs from the one committed in the signed header".into(),
        ));
    }
    Ok(k_r)
}

/// The acting person's unlocked keys and their certified Ed25519 key, or a refusal: only a
/// certified key may sign for a report (I5). With `supervisor`, the key must be certified as a
/// supervisor's (by the ceremony), whatever the account's role column says: a database writer
/// who flips an investigator's role gains nothing.
pub(super) fn acting(
    a: &Authed,
    certified: &Certified,
    supervisor: bool,
) -> Result<(StaffKeys, StaffId), ShareError> {
    let keys = a
        .unlocked_keys()
        .ok_or(ShareError::Refused(text::NO_KEYS))?;
    let me = staff_id(&a.current.staff_id)?;
    match certified.active(&signer_fingerprint(&keys.ed25519.verifying_key())) {
        Some(k) if k.staff == me && (!supervisor || k.role == "supervisor") => Ok((keys, me)),
        _ => Err(ShareError::Refused(text::NOT_CERTIFIED)),
    }
}

/// The account called `name`, or the refusal that names none.
async fn account(st: &DeskState, name: &str) -> Result<StaffRow, ShareError> {
    let name =
        super::accounts::normalise_name(name).map_err(|_| ShareError::Refused(text::NO_ACCOUNT))?;
    st.store
        .staff_by_name(&name)
        .await?
        .ok_or(ShareError::Refused(text::NO_ACCOUNT))
}

/// The account `name` with its current keys, for sharing: enabled, enrolled, not `me`.
async fn target(
    st: &DeskState,
    name: &str,
    me: StaffId,
) -> Result<(StaffRow, StaffKeyRow), ShareError> {
    let row = account(st, name).await?;
    if row.disabled {
        return Err(ShareError::Refused(text::ACCOUNT_IS_DISABLED));
    }
    if staff_id(&row.id)? == me {
        return Err(ShareError::Refused(text::SHARE_SELF));
    }
    let key = st
        .store
        .active_staff_key(&row.id)
        .await?
        .ok_or(ShareError::Refused(text::TARGET_NOT_ENROLLED))?;
    Ok((row, key))
}

/// What [`share`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    /// The investigator was certified by this share (their first).
    pub certified_now: bool,
    /// K_s was wrapped too.
    pub k_s: bool,
}

/// A certified supervisor (`a`) shares report `id` with the account `name`: an investigator
/// (certified by `a`'s key first, when they are not yet) or another certified supervisor.
///
/// Certifying needs `fingerprint`, the key fingerprint the investigator reads off their own
/// desk home page, compared with the key the desk store holds for them: the same check as the
/// supervisor ceremony's. Without it, whoever can write the desk database (or an admin who
/// resets the account and enrols keys of their own) would have their key certified by the next
/// share.
pub async fn share(
    st: &DeskState,
    a: &Authed,
    id: ReportId,
    name: &str,
    fingerprint: Option<&str>,
) -> Result<Shared, ShareError> {
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, true)?;
    let (row, key) = target(st, name, me).await?;
    let to = recipient(&key)?;
    let ed = ed25519(&key)?;
    let them = staff_id(&row.id)?;
    let signer = Signer::Staff {
        id: me,
        key: &keys.ed25519,
    };
    // Open first: a report this supervisor cannot open is not theirs to share.
    let opened = open_report(st, &certified, &a.current.staff_id, &keys, id).await?;
    let already = certified
        .active(&signer_fingerprint(&ed))
        .filter(|k| k.staff == them && k.x25519 == to.public);
    let mut certified_now = false;
    match (row.role.as_str(), already) {
        ("investigator", Some(_)) => publish(st, &keys, them, &ed, &to).await?,
        ("investigator", None) => {
            let want = super::keys::fingerprint_of(&to.public)
                .map_err(|_| ShareError::Internal("a stored X25519 key is invalid".into()))?;
            match fingerprint.map(normalise_fingerprint) {
                None => return Err(ShareError::Refused(text::FINGERPRINT_NEEDED)),
                Some(f) if f != normalise_fingerprint(&want) => {
                    return Err(ShareError::Refused(text::FINGERPRINT_MISMATCH));
                }
                Some(_) => {}
            }
            audit_certification(st, &signer, &keys, them, &ed, &to).await?;
            certified_now = true;
        }
        ("supervisor", Some(k)) if k.role == "supervisor" => {}
        ("supervisor", _) => return Err(ShareError::Refused(text::TARGET_NOT_CERTIFIED)),
        _ => return Err(ShareError::Refused(text::SHARE_ADMIN)),
    }
    st.audit
        .append(
            &signer,
            Event::Assigned {
                report: id,
                staff: them,
            },
        )
        .await?;
    let fp = hex::encode(to.fingerprint());
    for (p, k) in [
        (Purpose::ReporterKey, Some(&opened.k_r)),
        (Purpose::StaffKey, opened.k_s.as_ref()),
    ] {
        if let Some(k) = k {
            let w = wrap_to(&to, &id.bytes(), p, k)
                .map_err(|e| ShareError::Internal(format!("cannot wrap: {e}")))?;
            st.reports.add_wrap(id, &fp, p.code(), &w).await?;
        }
    }
    if row.role == "investigator" {
        st.reports.set_assignee(id, Some(&row.id)).await?;
    }
    Ok(Shared {
        certified_now,
        k_s: opened.k_s.is_some(),
    })
}

/// A fingerprint as people type it: hex digits only, lower case.
fn normalise_fingerprint(f: &str) -> String {
    f.chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Certifies an investigator's keys with the supervisor's key: the audit entry first, then the
/// certificate the intake reads.
async fn audit_certification(
    st: &DeskState,
    signer: &Signer<'_>,
    keys: &StaffKeys,
    them: StaffId,
    ed: &VerifyingKey,
    to: &RecipientKey,
) -> Result<(), ShareError> {
    st.audit
        .append(
            signer,
            Event::Certified(Certification {
                staff: them,
                role: "investigator".into(),
                ed25519: ed.to_bytes(),
                x25519: to.public,
                epoch: 0,
            }),
        )
        .await?;
    publish(st, keys, them, ed, to).await
}

/// Publishes (again) the investigator's certificate for the intake, signed by this supervisor:
/// on every share, so a certificate lost to a crash after its audit entry, or one signed by a
/// supervisor since revoked (which the intake ignores), is replaced.
async fn publish(
    st: &DeskState,
    keys: &StaffKeys,
    them: StaffId,
    ed: &VerifyingKey,
    to: &RecipientKey,
) -> Result<(), ShareError> {
    let (bytes, sig) = StaffCertificate {
        staff_id: them.bytes(),
        role: "investigator".into(),
        ed25519: ed.to_bytes(),
        x25519: to.public,
        signer: [0; 32],
    }
    .sign(&keys.ed25519);
    let fp = hex::encode(signer_fingerprint(ed));
    st.reports.withdraw_certificate(&fp).await?;
    st.reports.publish_certificate(&fp, &bytes, &sig).await?;
    Ok(())
}

/// A certified supervisor removes investigator `name`'s access to report `id`: every wrap of
/// it to any of their keys (current and retired) is deleted. Returns how many wraps went.
pub async fn unshare(
    st: &DeskState,
    a: &Authed,
    id: ReportId,
    name: &str,
) -> Result<u64, ShareError> {
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, true)?;
    // The supervisor must be able to open the report themselves.
    open_report(st, &certified, &a.current.staff_id, &keys, id).await?;
    let row = account(st, name).await?;
    if row.role != "investigator" {
        // A supervisor on the signed list receives every new tip anyway; taking one report
        // back from them is a matter for the ceremony, not for a colleague.
        return Err(ShareError::Refused(text::UNSHARE_ONLY_INVESTIGATORS));
    }
    let them = staff_id(&row.id)?;
    let mut fps = Vec::new();
    for k in st.store.staff_keys_of(&row.id).await? {
        fps.push(hex::encode(recipient(&k)?.fingerprint()));
    }
    st.audit
        .append(
            &Signer::Staff {
                id: me,
                key: &keys.ed25519,
            },
            Event::Unassigned {
                report: id,
                staff: them,
            },
        )
        .await?;
    let n = st.reports.remove_wraps(id, &fps).await?;
    st.reports.clear_assignee(id, &row.id).await?;
    Ok(n)
}

/// Opens report `id` for reading by the acting certified staff member: the whole chain verified
/// (the signed head by the intake or a key the audit chain vouches for, the tip the header
/// names, every item opening), then the page view is audited (`decrypted`, I6) before anything is
/// shown. Staff-only items stay sealed for someone who holds no wrap of K_s.
pub async fn read(st: &DeskState, a: &Authed, id: ReportId) -> Result<Conversation, ShareError> {
    read_as(st, a, id, Access::Page).await.map(|(c, _)| c)
}

/// [`read`], audited as `access` (an attachment download or a thumbnail), also handing back
/// K_r, under which the report's attachments are sealed.
pub async fn read_as(
    st: &DeskState,
    a: &Authed,
    id: ReportId,
    access: Access,
) -> Result<(Conversation, SecretKey32), ShareError> {
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, false)?;
    let opened = match open_report(st, &certified, &a.current.staff_id, &keys, id).await {
        Err(ShareError::Tampered(why)) => {
            integrity_failed(st, me, &keys, id).await;
            return Err(ShareError::Tampered(why));
        }
        other => other?,
    };
    let items = st.reports.items(id).await?;
    let head = st.reports.latest_head(id).await?;
    let audit_rows = st.store.audit_rows_of_report(id, AUDIT_LOOKBACK).await?;
    let trusted = StaffHeads {
        intake: st.intake_key()?,
        certified: &certified,
    };
    let conv = match open_conversation(
        id,
        opened.tip_item,
        &items,
        head.as_ref(),
        &trusted,
        &opened.k_r,
        opened.k_s.as_ref(),
    )
    .and_then(|c| {
        // A staff item and its head deleted together leave a shorter chain that still
        // verifies; the signed audit log remembers how long staff made it.
        if audited_count(&audit_rows, id).is_some_and(|n| n > items.len() as u64) {
            Err("the audit log records more items than the report holds".into())
        } else {
            Ok(c)
        }
    }) {
        Ok(c) => c,
        Err(why) => {
            integrity_failed(st, me, &keys, id).await;
            return Err(ShareError::Tampered(why));
        }
    };
    st.audit
        .append(
            &Signer::Staff {
                id: me,
                key: &keys.ed25519,
            },
            Event::Decrypted { report: id, access },
        )
        .await?;
    Ok((conv, opened.k_r))
}

/// Entries of a report's audit history read back to find its latest `item_written`.
const AUDIT_LOOKBACK: i64 = 2_000;

/// The item count of the report's latest `item_written` audit entry among `rows` (newest
/// first), if any: staff appends only ever raise it.
fn audited_count(rows: &[crate::store::AuditRow], id: ReportId) -> Option<u64> {
    rows.iter()
        .filter_map(|r| super::audit::Entry::decode(&r.entry).ok())
        .find_map(|e| match e.event {
            Event::ItemWritten { report, count, .. } if report == id => Some(count),
            _ => None,
        })
}

/// Records that report `id` failed a check when `me` opened it (I6: never silently). A failure
/// to write the entry is logged, not raised: the warning is shown either way.
pub(super) async fn integrity_failed(st: &DeskState, me: StaffId, keys: &StaffKeys, id: ReportId) {
    let signer = Signer::Staff {
        id: me,
        key: &keys.ed25519,
    };
    if let Err(e) = st
        .audit
        .append(&signer, Event::IntegrityFailed { report: id })
        .await
    {
        tracing::error!("desk: cannot audit an integrity failure: {e}");
    }
}

/// [`integrity_failed`] in the name of session `a`'s reader (their keys are unlocked: a reader
/// who got as far as a report's files has opened it); logged when they are not.
pub(super) async fn integrity_failed_by(st: &DeskState, a: &Authed, id: ReportId) {
    match reader(a) {
        Some((keys, me)) => integrity_failed(st, me, &keys, id).await,
        None => {
            tracing::error!("desk: an integrity failure could not be audited: no unlocked keys")
        }
    }
}

/// Session `a`'s unlocked keys and staff id, for an audit entry written after the request's
/// answer has begun (a download found tampered part way).
pub(super) fn reader(a: &Authed) -> Option<(StaffKeys, StaffId)> {
    Some((a.unlocked_keys()?, staff_id(&a.current.staff_id).ok()?))
}

/// What staff write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writing {
    /// A message the reporter sees at follow-up (under K_r); the report then needs their answer.
    Message,
    /// An internal note, never visible to the reporter (under K_s).
    Note,
}

/// Checks a message or note: not blank, at most [`TEXT_MAX`] characters.
pub fn check_text(body: &str) -> Result<(), ShareError> {
    if body.trim().is_empty() {
        return Err(ShareError::Refused(text::TEXT_EMPTY));
    }
    if body.chars().count() > TEXT_MAX {
        return Err(ShareError::Refused(text::TEXT_TOO_LONG));
    }
    Ok(())
}

/// Appends `body` to report `id` as `what`, signed by the acting certified staff member. The
/// first note creates the report's K_s, wrapped to escrow and to every certified staff key that
/// holds a wrap of the report's K_r.
pub async fn post(
    st: &DeskState,
    a: &Authed,
    id: ReportId,
    what: Writing,
    body: &str,
) -> Result<(), ShareError> {
    check_text(body)?;
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, false)?;
    let opened = open_report(st, &certified, &a.current.staff_id, &keys, id).await?;
    let who = Acting {
        staff: me,
        key: &keys.ed25519,
    };
    let intake = st.intake_key()?;
    let day = today();
    let mut m = MessagePlain {
        v: 1,
        body: body.to_owned(),
        day: day_string(day),
        attachments: Vec::new(),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&m).expect("serialisable"));
    m.body.zeroize();
    let (kind, direction) = match what {
        Writing::Message => (ItemKind::Message, Direction::StaffToReporter),
        Writing::Note => (ItemKind::Note, Direction::StaffOnly),
    };
    let created;
    let key = match what {
        Writing::Message => &opened.k_r,
        Writing::Note => {
            created = staff_key(st, a, &certified, &who, &opened, id).await?;
            &created
        }
    };
    let item = Append {
        kind,
        direction,
        plain: &plain,
        idem: None,
        day,
        quota: None,
    };
    append_staff_item(&st.reports, &st.audit, &who, id, key, &item, intake).await?;
    if what == Writing::Message {
        // Asking the reporter is triage: a new report moves to "in review" (audited), so the
        // SLA clock stops. The reporter's `needs_info` comes from the question itself.
        if let Some(row) = st.reports.triage_row(id).await?
            && row.status == Status::New
        {
            st.audit
                .append(
                    &Signer::Staff {
                        id: me,
                        key: &keys.ed25519,
                    },
                    Event::StatusChanged {
                        report: id,
                        status: Status::InReview.as_str().into(),
                    },
                )
                .await?;
            st.reports
                .set_triage_status(id, Status::InReview, None, None, day)
                .await?;
        }
    }
    Ok(())
}

/// The report's K_s for writing a staff-only item: the one this person holds, or a new one
/// (wrapped to escrow and the certified keys the header names) when the report has none yet.
async fn staff_key(
    st: &DeskState,
    a: &Authed,
    certified: &Certified,
    who: &Acting<'_>,
    opened: &Opened,
    id: ReportId,
) -> Result<SecretKey32, ShareError> {
    match &opened.k_s {
        Some(k) => Ok(k.clone()),
        None if opened.has_k_s => Err(ShareError::Refused(text::NO_STAFF_KEY_WRAP)),
        None => {
            let escrow = st.escrow_key()?;
            let mine = st
                .store
                .active_staff_key(&a.current.staff_id)
                .await?
                .ok_or(ShareError::Refused(text::NO_KEYS))?;
            let recipients = staff_recipients(certified, opened, &recipient(&mine)?);
            Ok(create_staff_key(&st.reports, &st.audit, who, id, &escrow, &recipients).await?)
        }
    }
}

/// Report `id`'s current labels (the latest labels item, opened with K_s); a report without
/// K_s, or without a labels item, has none.
async fn current_labels(
    st: &DeskState,
    id: ReportId,
    k_s: Option<&SecretKey32>,
) -> Result<Vec<String>, ShareError> {
    let Some(k_s) = k_s else {
        return Ok(Vec::new());
    };
    let items = st.reports.items(id).await?;
    let Some(it) = items.iter().rev().find(|i| i.kind == ItemKind::Labels) else {
        return Ok(Vec::new());
    };
    let plain = crate::crypto::envelope::open(
        k_s,
        &crate::items::item_aad(id, it.id, it.kind, it.direction, it.seq, it.prev),
        &it.sealed,
    )
    .map_err(|_| ShareError::Tampered("the labels do not open".into()))?;
    let l: crate::items::LabelsPlain = serde_json::from_slice(&plain)
        .map_err(|_| ShareError::Tampered("the labels are malformed".into()))?;
    Ok(l.labels)
}

/// How a labels change applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelChange {
    /// Exactly these.
    Set(Vec<String>),
    /// These added to the current ones.
    Add(Vec<String>),
}

/// Changes report `id`'s labels (ids from `triage.labels`), sealed under K_s as a new
/// staff-only item signed by the actor; the first staff-only item makes K_s. Returns whether
/// anything changed.
pub async fn set_labels(
    st: &DeskState,
    a: &Authed,
    id: ReportId,
    change: &LabelChange,
) -> Result<bool, ShareError> {
    let wanted = match change {
        LabelChange::Set(l) | LabelChange::Add(l) => l,
    };
    if wanted
        .iter()
        .any(|l| !st.cfg.triage.labels.iter().any(|c| &c.id == l))
    {
        return Err(ShareError::Refused(text::BAD_LABEL));
    }
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, false)?;
    let opened = open_report(st, &certified, &a.current.staff_id, &keys, id).await?;
    let current = current_labels(st, id, opened.k_s.as_ref()).await?;
    let mut next: Vec<String> = match change {
        LabelChange::Set(l) => l.clone(),
        LabelChange::Add(l) => current.iter().chain(l.iter()).cloned().collect(),
    };
    // The configured order, once each.
    next = st
        .cfg
        .triage
        .labels
        .iter()
        .filter(|c| next.contains(&c.id))
        .map(|c| c.id.clone())
        .collect();
    if next == current {
        return Ok(false);
    }
    let who = Acting {
        staff: me,
        key: &keys.ed25519,
    };
    let k_s = staff_key(st, a, &certified, &who, &opened, id).await?;
    let day = today();
    let plain = Zeroizing::new(
        serde_json::to_vec(&crate::items::LabelsPlain {
            v: 1,
            labels: next,
            day: day_string(day),
        })
        .expect("serialisable"),
    );
    let item = Append {
        kind: ItemKind::Labels,
        direction: Direction::StaffOnly,
        plain: &plain,
        idem: None,
        day,
        quota: None,
    };
    append_staff_item(
        &st.reports,
        &st.audit,
        &who,
        id,
        &k_s,
        &item,
        st.intake_key()?,
    )
    .await?;
    Ok(true)
}

/// Who a new K_s goes to besides escrow: the certified keys the intake-signed header names (the
/// supervisors the tip was wrapped to), and the creator's own. Never taken from wrap rows, which
/// a database writer could plant; colleagues shared with earlier get K_s when a supervisor
/// shares the report with them again.
fn staff_recipients(
    certified: &Certified,
    opened: &Opened,
    mine: &RecipientKey,
) -> Vec<RecipientKey> {
    let mut out = vec![mine.clone()];
    for k in certified.all_active() {
        if let Ok(r) = RecipientKey::from_bytes(&k.x25519)
            && opened.header_recipients.contains(&r.fingerprint())
            && !out.contains(&r)
        {
            out.push(r);
        }
    }
    out
}
