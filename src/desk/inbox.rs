//! The inbox (issue 7): every report the signed-in staff member can open, filtered by the
//! plaintext routing columns and the SLA flags, sorted by declared fields, 50 a page, with a
//! preview of each tip checked against its signed header. A page view is audited as one
//! `previewed` entry naming every report shown.
//!
//! The work is in proportion to the page, never to the number of reports: the database pages
//! and counts, and only the page's tips are opened.

use super::DeskState;
use super::audit::{Event, Signer};
use super::session::Authed;
use super::sharing::{ShareError, acting, integrity_failed, recipient};
use super::text;
use crate::crypto::chain::signer_fingerprint;
use crate::domain::{Priority, ReportId, Status, today};
use crate::store::{AssigneeFilter, InboxQuery, InboxRow, SlaFilter, Sort};

/// Reports per inbox page.
pub const INBOX_PAGE: i64 = 50;
/// Characters of a preview.
const PREVIEW_CHARS: usize = 120;

/// Whose reports, by assignee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// Assigned to the reader.
    Me,
    /// Assigned to nobody.
    Nobody,
    /// Assigned to this staff id.
    Staff(String),
}

/// An SLA state to filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    /// Not triaged within the limit.
    TriageOverdue,
    /// A reporter message unanswered past the limit.
    AnswerOverdue,
    /// Either flag.
    Flagged,
    /// Neither flag.
    OnTime,
}

impl Sla {
    /// Name in forms and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Sla::TriageOverdue => "triage_overdue",
            Sla::AnswerOverdue => "answer_overdue",
            Sla::Flagged => "flagged",
            Sla::OnTime => "on_time",
        }
    }
    /// From its name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Sla::TriageOverdue,
            Sla::AnswerOverdue,
            Sla::Flagged,
            Sla::OnTime,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// What an inbox view asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Status.
    pub status: Option<Status>,
    /// Priority.
    pub priority: Option<Priority>,
    /// Category id.
    pub category: Option<String>,
    /// Assignee.
    pub assignee: Option<Assignee>,
    /// SLA state.
    pub sla: Option<Sla>,
    /// Sort field.
    pub sort: Sort,
    /// Ascending instead of the default descending.
    pub ascending: bool,
    /// Page, from 0.
    pub page: i64,
    /// Area and words, searched in the session's decrypted summaries ([`super::search`]).
    pub search: super::search::Query,
}

/// A report's SLA flags today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaState {
    /// Still new past the triage limit.
    pub triage_overdue: bool,
    /// A reporter message unanswered past the answer limit.
    pub answer_overdue: bool,
}

/// The SLA cut-off days for today: something dated on or before them is overdue.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    /// For triage.
    pub triage: i64,
    /// For answers.
    pub answer: i64,
}

impl Cutoffs {
    /// Today's cut-offs under the configured calendar.
    pub fn today(st: &DeskState) -> Self {
        let t = &st.cfg.triage;
        let cal = t.calendar();
        let day = today();
        Cutoffs {
            triage: cal.overdue_cutoff(day, t.sla_triage_working_days),
            answer: cal.overdue_cutoff(day, t.sla_answer_working_days),
        }
    }

    /// The flags of one row.
    pub fn state(&self, row: &InboxRow) -> SlaState {
        SlaState {
            triage_overdue: row.status == Status::New && row.received_day <= self.triage,
            answer_overdue: row.status != Status::Closed
                && row.waiting_since.is_some_and(|d| d <= self.answer),
        }
    }
}

/// An inbox row: the plaintext columns, the SLA flags and the first words of the tip, `None`
/// when the report failed a check (the row still shows, marked, so nothing disappears
/// silently).
pub struct Preview {
    /// Routing columns.
    pub row: InboxRow,
    /// SLA flags.
    pub sla: SlaState,
    /// The first words of the tip's description.
    pub text: Option<String>,
    /// The area (kecamatan) id the reporter chose, decrypted with the tip.
    pub area: Option<String>,
}

/// One inbox view.
pub struct Inbox {
    /// The page's rows.
    pub rows: Vec<Preview>,
    /// Reports matching the filter.
    pub total: i64,
    /// For supervisors: how many of their reports are flagged (triage, answer).
    pub flagged: Option<(i64, i64)>,
    /// While the session's search summaries are still being built: (reports opened, reports
    /// to open). `total` is then a lower bound; the rows shown are already the right ones.
    pub searching: Option<(usize, usize)>,
}

/// One page of the reports the acting certified staff member holds that match `f`.
pub async fn inbox(
    st: &actix_web::web::Data<DeskState>,
    a: &Authed,
    f: &Filter,
) -> Result<Inbox, ShareError> {
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, false)?;
    let mine = st
        .store
        .active_staff_key(&a.current.staff_id)
        .await?
        .ok_or(ShareError::Refused(text::NO_KEYS))?;
    let fp = hex::encode(recipient(&mine)?.fingerprint());
    let cut = Cutoffs::today(st);
    let staff_id = a.current.staff_id.clone();
    let mut q = InboxQuery::all(&fp, INBOX_PAGE, f.page.max(0) * INBOX_PAGE);
    q.status = f.status;
    q.priority = f.priority;
    q.category = f.category.as_deref();
    q.assignee = match &f.assignee {
        None => None,
        Some(Assignee::Me) => Some(AssigneeFilter::Staff(&staff_id)),
        Some(Assignee::Nobody) => Some(AssigneeFilter::Nobody),
        Some(Assignee::Staff(s)) => Some(AssigneeFilter::Staff(s)),
    };
    q.sla = f.sla.map(|s| match s {
        Sla::TriageOverdue => SlaFilter::TriageOverdue(cut.triage),
        Sla::AnswerOverdue => SlaFilter::AnswerOverdue(cut.answer),
        Sla::Flagged => SlaFilter::Either {
            triage: cut.triage,
            answer: cut.answer,
        },
        Sla::OnTime => SlaFilter::Neither {
            triage: cut.triage,
            answer: cut.answer,
        },
    });
    q.sort = f.sort;
    q.descending = !f.ascending;
    let me_key = recipient(&mine)?;
    let page_ids: Vec<ReportId>;
    let mut hits: Vec<ReportId>;
    let mut searching = None;
    let (rows, total) = if f.search.is_empty() {
        st.reports.inbox(&q).await?
    } else {
        // Sealed fields: the session's summaries say which match; the database keeps those
        // wrapped to this key now, filters the plaintext columns and orders them. A build
        // still running answers as soon as the page is certain: sorted newest first, every
        // report not yet opened is older than every one opened, so once the opened ones fill
        // the page nothing unopened can come before them.
        // Only the receiver is kept (see search::complete): logout ends this wait too.
        let mut rx = super::search::cell(st, a, &keys, me, &me_key, &fp)
            .await?
            .subscribe();
        let certain = matches!(q.sort, crate::store::Sort::Day) && q.descending;
        let by_day_only = matches!(q.sort, crate::store::Sort::Day)
            && q.status.is_none()
            && q.priority.is_none()
            && q.category.is_none()
            && q.assignee.is_none()
            && q.sla.is_none();
        let start = (f.page.max(0) * INBOX_PAGE) as usize;
        let deadline = tokio::time::Instant::now() + SEARCH_WAIT;
        let ordered: Vec<ReportId> = loop {
            let snap = rx.borrow_and_update().clone();
            if let Some(why) = snap.broken() {
                return Err(ShareError::Internal(why.to_owned()));
            }
            let ordered = if by_day_only && snap.current(st) {
                // Nothing to filter in SQL, and no wrap removed since the summaries were
                // listed: they keep each report's day, so the matches are ordered (and
                // counted) here and only the page goes to the database, which still keeps
                // only what is wrapped to this key now (below). After a removal (an unshare
                // while a build runs, say) the database orders and counts them.
                f.search.matches_by_day(snap.clone(), q.descending).await?
            } else {
                hits = f.search.matches(snap.clone()).await?;
                let mut hq = q.clone();
                hq.only = Some(&hits);
                st.reports.inbox_ids(&hq).await?
            };
            if snap.complete() {
                break ordered;
            }
            if certain && ordered.len() >= start + INBOX_PAGE as usize {
                searching = Some(snap.progress());
                break ordered;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(ShareError::Internal(
                        "the session ended during the search".into(),
                    ));
                }
                Err(_) => {
                    return Err(ShareError::Internal(
                        "the session's search summaries did not finish in time".into(),
                    ));
                }
            }
        };
        page_ids = ordered
            .iter()
            .skip(start)
            .take(INBOX_PAGE as usize)
            .copied()
            .collect();
        let mut pq = q.clone();
        pq.only = Some(&page_ids);
        pq.offset = 0;
        let (rows, _) = st.reports.inbox(&pq).await?;
        (rows, ordered.len() as i64)
    };
    let supervisor = certified
        .active(&signer_fingerprint(&keys.ed25519.verifying_key()))
        .is_some_and(|k| k.role == "supervisor");
    let flagged = if supervisor {
        Some(flagged_counts(st, &fp, cut).await?)
    } else {
        None
    };
    // The page's previews: one query for the headers and wraps and one for the tips, then the
    // crypto on every core.
    let ids: Vec<ReportId> = rows.iter().map(|r| r.id).collect();
    let material = st.reports.search_material(&fp, &ids, true).await?;
    let intake = st.intake_key()?;
    let reader = super::search::Reader::new(&keys, &me_key, &fp, &intake);
    let (opened, fresh) = super::search::par_open(intake, reader, material, |m, o| {
        super::search::preview(m, o, PREVIEW_CHARS)
    })
    .await?;
    super::search::store_desk_wraps(st, &fp, fresh).await;
    let mut opened: std::collections::HashMap<ReportId, _> = opened.into_iter().collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        // A report unshared since the page was read has no material now: it is left out.
        let Some(result) = opened.remove(&row.id) else {
            continue;
        };
        let (text, area) = match result {
            Ok((t, area)) => (Some(t), area),
            Err(ShareError::Tampered(why)) => {
                tracing::error!("desk: a report in the inbox failed an integrity check: {why}");
                integrity_failed(st, me, &keys, row.id).await;
                (None, None)
            }
            Err(e) => return Err(e),
        };
        out.push(Preview {
            sla: cut.state(&row),
            row,
            text,
            area,
        });
    }
    if !out.is_empty() {
        st.audit
            .append(
                &Signer::Staff {
                    id: me,
                    key: &keys.ed25519,
                },
                Event::Previewed {
                    reports: out.iter().map(|p| p.row.id).collect(),
                },
            )
            .await?;
    }
    Ok(Inbox {
        rows: out,
        total,
        flagged,
        searching,
    })
}

/// How long a search waits for the session's summaries when its page cannot be answered from
/// part of them (another sort, a later page, a rare word): longer than a build of 100,000
/// reports takes on two cores (docs/BENCHMARKS.md).
pub(crate) const SEARCH_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// How long the supervisors' flag counts are reused before they are counted again: they are a
/// summary, not a list, and counting them costs a pass over every report the key holds
/// (docs/BENCHMARKS.md).
const FLAG_COUNTS_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The flag counts (triage overdue, answer overdue) of the reports wrapped to `fp`. Only the
/// first page a key ever asks for waits for the count; after that the page shows the last
/// count and, once it is a minute old, a recount runs in the background for the next page. A
/// filtered inbox view (`sla=...`) always counts afresh.
async fn flagged_counts(
    st: &actix_web::web::Data<DeskState>,
    fp: &str,
    cut: Cutoffs,
) -> Result<(i64, i64), ShareError> {
    let cached = {
        let mut held = st.flag_counts.lock().expect("flag counts");
        match held.get_mut(fp) {
            Some((at, counts)) => {
                let stale = at.elapsed() >= FLAG_COUNTS_TTL;
                if stale {
                    // Claimed: the next pages wait for this recount, not start their own.
                    *at = std::time::Instant::now();
                }
                Some((*counts, stale))
            }
            None => None,
        }
    };
    match cached {
        Some((counts, false)) => Ok(counts),
        Some((counts, true)) => {
            let (st, fp) = (st.clone(), fp.to_owned());
            actix_web::rt::spawn(async move {
                match st.reports.flag_counts(&fp, cut.triage, cut.answer).await {
                    Ok(c) => {
                        st.flag_counts
                            .lock()
                            .expect("flag counts")
                            .insert(fp, (std::time::Instant::now(), c));
                    }
                    Err(e) => tracing::error!("desk: cannot recount the SLA flags: {e}"),
                }
            });
            Ok(counts)
        }
        None => {
            let counts = st.reports.flag_counts(fp, cut.triage, cut.answer).await?;
            st.flag_counts
                .lock()
                .expect("flag counts")
                .insert(fp.to_owned(), (std::time::Instant::now(), counts));
            Ok(counts)
        }
    }
}
