//! The desk's report actions as form posts (issue 6: sharing with investigators and
//! supervisors; the first staff-only item, which makes K_s). Each works without JavaScript and,
//! with a bearer token instead of the cookie, for API clients; the inbox and report pages of
//! part 2 (issue 7) put these forms beside each report. The work itself is in
//! [`super::sharing`]; this file decides who may enter and what the answer says.

use super::DeskState;
use super::accounts::Role;
use super::pages::{Base, Need, authed, render};
use super::session::Stage;
use super::sharing::{self, ShareError, Writing};
use super::text::{self, Text};
use crate::domain::ReportId;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// A certified supervisor's change (share, unshare).
pub(super) const SUPERVISOR_CHANGE: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor],
    change: true,
};
/// A change by staff who can hold reports (supervisors and investigators; never admins).
pub(super) const STAFF_CHANGE: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor, Role::Investigator],
    change: true,
};

#[derive(Template)]
#[template(path = "desk/outcome.html")]
struct OutcomePage {
    base: Base,
}

pub(super) fn outcome(mut base: Base, r: Result<Text, ShareError>) -> HttpResponse {
    let status = match r {
        Ok(t) => {
            base.notice = Some(t);
            StatusCode::OK
        }
        Err(ShareError::NotFound(t)) => {
            base.error = Some(t);
            StatusCode::NOT_FOUND
        }
        Err(ShareError::Refused(t)) => {
            base.error = Some(t);
            if t == text::NOT_CERTIFIED || t == text::SUPERVISOR_ONLY {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            }
        }
        Err(ShareError::Tampered(why)) => {
            tracing::error!("desk: a report failed an integrity check: {why}");
            base.error = Some(text::REPORT_TAMPERED);
            StatusCode::CONFLICT
        }
        Err(ShareError::Internal(why)) => {
            tracing::error!("desk: a report action failed: {why}");
            base.error = Some(text::INTERNAL);
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    render(status, &OutcomePage { base })
}

pub(super) fn report_id(s: &str) -> Result<ReportId, ShareError> {
    ReportId::parse(s.trim()).ok_or(ShareError::Refused(text::BAD_REPORT_ID))
}

/// Share or unshare: which report, with whom.
#[derive(Deserialize)]
pub struct ShareForm {
    csrf: Option<String>,
    report: String,
    username: String,
    /// The investigator's key fingerprint, read off their screen: needed the first time.
    fingerprint: Option<String>,
}

async fn share_or_unshare(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<ShareForm>,
    share: bool,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, SUPERVISOR_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let r = async {
        let id = report_id(&f.report)?;
        if share {
            let fp = f.fingerprint.as_deref().filter(|v| !v.trim().is_empty());
            sharing::share(&st, &a, id, &f.username, fp).await?;
            Ok(text::SHARED)
        } else {
            sharing::unshare(&st, &a, id, &f.username).await?;
            Ok(text::UNSHARED)
        }
    }
    .await;
    outcome(Base::of(&a), r)
}

/// POST /reports/share (supervisor): share a report with an investigator (certifying them with
/// the supervisor's key the first time) or with another certified supervisor.
pub async fn share(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<ShareForm>,
) -> HttpResponse {
    share_or_unshare(req, st, form, true).await
}

/// POST /reports/unshare (supervisor): remove an investigator's access.
pub async fn unshare(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<ShareForm>,
) -> HttpResponse {
    share_or_unshare(req, st, form, false).await
}

/// A message or note: which report, what text.
#[derive(Deserialize)]
pub struct WriteForm {
    csrf: Option<String>,
    report: String,
    body: String,
}

async fn write(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<WriteForm>,
    what: Writing,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, STAFF_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // The text is the staff member's words: wiped when the request is done.
    let body = zeroize::Zeroizing::new(f.body);
    let r = async {
        let id = report_id(&f.report)?;
        sharing::post(&st, &a, id, what, &body).await?;
        Ok(match what {
            Writing::Message => text::MESSAGE_SENT,
            Writing::Note => text::NOTE_SAVED,
        })
    }
    .await;
    outcome(Base::of(&a), r)
}

/// POST /reports/message (supervisor, investigator): a message to the reporter.
pub async fn message(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<WriteForm>,
) -> HttpResponse {
    write(req, st, form, Writing::Message).await
}

/// POST /reports/note (supervisor, investigator): an internal note; the first makes K_s.
pub async fn note(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<WriteForm>,
) -> HttpResponse {
    write(req, st, form, Writing::Note).await
}

/// Reading a report (supervisors and investigators holding it).
pub(super) const STAFF_READ: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor, Role::Investigator],
    change: false,
};

/// `?id=` of the report page.
#[derive(Deserialize)]
pub struct ReportQuery {
    id: Option<String>,
    template: Option<String>,
}

/// A tip field as shown.
struct Field {
    label_id: &'static str,
    label_en: &'static str,
    text: String,
}

/// An attached file as listed.
struct FileView {
    /// Its number, from 1 (the download and thumbnail links take it).
    n: usize,
    /// The reporter's name for it, untrusted text.
    name: String,
    kind: String,
    size: String,
    /// Kept as sent, with its metadata: shown with a warning (I9).
    unsanitized: bool,
    thumb: bool,
    /// Pixel size of an image, or empty.
    pixels: String,
}

/// The files of a tip or a message as listed.
fn file_views(refs: &[crate::items::AttachmentRef]) -> Vec<FileView> {
    refs.iter()
        .enumerate()
        .map(|(i, a)| FileView {
            n: i + 1,
            name: visible_controls(&a.name),
            kind: a.kind.clone(),
            size: human_size(a.size),
            unsanitized: !a.sanitized,
            thumb: a.thumb.is_some(),
            pixels: if a.width > 0 {
                format!("{} × {}", a.width, a.height)
            } else {
                String::new()
            },
        })
        .collect()
}

/// A size as a person reads it.
fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1u64 << 20) as f64)
    } else if bytes >= 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{bytes} B")
    }
}

/// A message or note as shown.
struct ThreadItem {
    seq: i64,
    day: String,
    who_id: &'static str,
    who_en: &'static str,
    class: &'static str,
    text: String,
    /// Files a reporter attached to this message.
    files: Vec<FileView>,
}

/// What the report page shows.
struct View {
    day: String,
    category: String,
    area: String,
    fields: Vec<Field>,
    /// The tip's files (issue 9).
    files: Vec<FileView>,
    thread: Vec<ThreadItem>,
    /// The current labels (the latest labels item), when this reader holds K_s.
    labels: Vec<String>,
}

/// The report's triage state and the choices of its forms.
struct TriageView {
    status: Text,
    reason: Option<Text>,
    duplicate_of: Option<String>,
    priority: Text,
    /// (value, label) of the statuses this person may move the report to.
    moves: Vec<(&'static str, Text)>,
    reasons: Vec<(&'static str, Text)>,
    priorities: Vec<(&'static str, Text, bool)>,
    templates: Vec<(String, String, String)>,
    /// (id, name in both languages, set on this report).
    labels: Vec<(String, String, String, bool)>,
}

fn triage_view(
    row: &crate::store::InboxRow,
    supervisor: bool,
    cfg: &crate::config::Config,
    current: &[String],
) -> TriageView {
    use super::triage_pages::{priority_label, reason_label, status_label};
    use crate::domain::{CloseReason, Priority, Status};
    TriageView {
        status: status_label(row.status),
        reason: row.closed_reason.map(reason_label),
        duplicate_of: row.duplicate_of.map(|d| d.to_string()),
        priority: priority_label(row.priority),
        moves: Status::ALL
            .into_iter()
            .filter(|s| row.status.can_move_to(*s) && *s != Status::Closed)
            .filter(|_| supervisor || row.status != Status::Closed)
            .map(|s| (s.as_str(), status_label(s)))
            .collect(),
        reasons: CloseReason::ALL
            .into_iter()
            .map(|r| (r.as_str(), reason_label(r)))
            .collect(),
        priorities: Priority::ALL
            .into_iter()
            .map(|p| (p.as_str(), priority_label(p), p == row.priority))
            .collect(),
        templates: cfg
            .triage
            .reply_templates
            .iter()
            .map(|t| (t.id.clone(), t.label.id.clone(), t.label.en.clone()))
            .collect(),
        labels: cfg
            .triage
            .labels
            .iter()
            .map(|l| {
                (
                    l.id.clone(),
                    l.label.id.clone(),
                    l.label.en.clone(),
                    current.contains(&l.id),
                )
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "desk/report.html")]
struct ReportPage {
    base: Base,
    id: String,
    view: Option<View>,
    triage: Option<TriageView>,
    supervisor: bool,
    /// A reply template chosen with `&template=`, for the staff member to edit before sending.
    draft: String,
    /// The report's history from the audit log, oldest first.
    history: Vec<super::pages::AuditLine>,
}

/// Entries of a report's history shown on its page.
const HISTORY_MAX: i64 = 500;

/// Report `id`'s history, oldest first: its latest [`HISTORY_MAX`] audit entries whose signed
/// event names it (a changed index column can hide a line from this view, never add one).
async fn history(st: &DeskState, id: ReportId) -> Vec<super::pages::AuditLine> {
    let rows = st
        .store
        .audit_rows_of_report(id, HISTORY_MAX)
        .await
        .unwrap_or_default();
    let names = super::pages::staff_names(st).await;
    rows.iter()
        .rev()
        .filter_map(|r| super::audit::Entry::decode(&r.entry).ok())
        .filter(|e| e.event.report() == Some(id))
        .map(|e| super::pages::audit_line(&e, &names))
        .collect()
}

/// Tip text is untrusted (I8). Escaping is the template's (askama escapes every `{{ }}`); on top
/// of that, characters that change how the text around them reads without showing themselves
/// (bidirectional overrides and isolates, zero-width characters, the byte-order mark) are made
/// visible as `[U+XXXX]`, so a reporter's text cannot reorder or hide what staff read. Each text
/// also sits in its own `<bdi dir="auto">`, so right-to-left text stays inside it.
pub fn visible_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{061C}'
            | '\u{00AD}' => out.push_str(&format!("[U+{:04X}]", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn view(conv: &crate::items::open::Conversation) -> View {
    use crate::domain::{Direction, ItemKind};
    let t = &conv.tip;
    let mut fields = vec![Field {
        label_id: "Kejadian",
        label_en: "What happened",
        text: visible_controls(&t.description),
    }];
    for (label_id, label_en, v) in [
        ("Lokasi", "Where", &t.location),
        ("Waktu", "When", &t.when),
        ("Orang", "People", &t.people),
        ("Kendaraan", "Vehicles", &t.vehicles),
    ] {
        if let Some(v) = v {
            fields.push(Field {
                label_id,
                label_en,
                text: visible_controls(v),
            });
        }
    }
    let files = file_views(&t.attachments);
    let labels = conv.labels();
    let thread = conv
        .items
        .iter()
        .filter(|it| it.kind != ItemKind::Labels)
        .map(|it| {
            let (who_id, who_en, class) = match (it.kind, it.direction) {
                (ItemKind::Note, _) => ("Catatan internal", "Internal note", "note"),
                (_, Direction::ReporterToStaff) => ("Pelapor", "Reporter", "reporter"),
                _ => ("Petugas ke pelapor", "Staff to reporter", "staff"),
            };
            let (day, text, files) = match it.message() {
                Some(m) => (m.day, visible_controls(&m.body), file_views(&m.attachments)),
                None if it.plain.is_none() => (
                    String::new(),
                    "[Terkunci: Anda belum menerima kunci catatan internal / Sealed: you hold no key to internal notes]".into(),
                    Vec::new(),
                ),
                None => (String::new(), "[?]".into(), Vec::new()),
            };
            ThreadItem {
                seq: it.seq,
                day,
                who_id,
                who_en,
                class,
                text,
                files,
            }
        })
        .collect();
    View {
        day: t.day.clone(),
        category: visible_controls(&t.category),
        area: t.area.as_deref().map(visible_controls).unwrap_or_default(),
        fields,
        files,
        thread,
        labels,
    }
}

/// GET /report?id=ID (supervisor, investigator): the report as the reporter wrote it, the
/// conversation and the internal notes, after every integrity check, with the actions.
pub async fn report(
    req: HttpRequest,
    st: web::Data<DeskState>,
    q: web::Query<ReportQuery>,
) -> HttpResponse {
    let a = match authed(&req, &st, STAFF_READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let r = async {
        let id = report_id(q.id.as_deref().unwrap_or(""))?;
        // An unknown template is a mistyped or stale link: say so, before anything is opened,
        // instead of showing an empty draft.
        let draft = match q.template.as_deref() {
            None => String::new(),
            Some(t) => st
                .cfg
                .triage
                .reply_templates
                .iter()
                .find(|r| r.id == t)
                .map(|r| r.body.clone())
                .ok_or(ShareError::Refused(text::BAD_TEMPLATE))?,
        };
        let conv = sharing::read(&st, &a, id).await?;
        let row = st.reports.triage_row(id).await?;
        Ok((id, view(&conv), row, history(&st, id).await, draft))
    }
    .await;
    let supervisor = a.current.role == Role::Supervisor;
    match r {
        Ok((id, v, row, history, draft)) => {
            let triage = row.map(|r| triage_view(&r, supervisor, &st.cfg, &v.labels));
            render(
                StatusCode::OK,
                &ReportPage {
                    base: Base::of(&a),
                    id: id.to_string(),
                    view: Some(v),
                    triage,
                    supervisor,
                    draft,
                    history,
                },
            )
        }
        Err(e) => outcome(Base::of(&a), Err(e)),
    }
}
