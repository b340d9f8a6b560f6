//! The inbox page and the triage forms (issue 7): filters and sorting as a plain GET form, and
//! status, priority and bulk changes as POST forms, all without JavaScript. The work is in
//! [`super::inbox`] and [`super::triage`]; this file parses what the browser sends (every
//! unknown value is refused with a clear message, never guessed at) and renders the answer.

use super::DeskState;
use super::inbox::{self, Assignee, Filter, INBOX_PAGE, Sla};
use super::pages::{Base, authed, render};
use super::report_pages::{
    STAFF_CHANGE, STAFF_READ, SUPERVISOR_CHANGE, outcome, report_id, visible_controls,
};
use super::sharing::ShareError;
use super::text::{self, Text};
use super::triage::{self, BULK_MAX, Change};
use crate::domain::{CloseReason, Priority, ReportId, Status};
use crate::store::Sort;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use std::collections::HashMap;

/// A status's name on the desk, in both languages.
pub fn status_label(s: Status) -> Text {
    match s {
        Status::New => Text {
            id: "Baru",
            en: "New",
        },
        Status::InReview => Text {
            id: "Sedang ditinjau",
            en: "In review",
        },
        Status::Actioned => Text {
            id: "Ditindaklanjuti",
            en: "Actioned",
        },
        Status::Closed => Text {
            id: "Ditutup",
            en: "Closed",
        },
    }
}

/// A closure reason's name, in both languages.
pub fn reason_label(r: CloseReason) -> Text {
    match r {
        CloseReason::Actioned => Text {
            id: "Sudah ditindaklanjuti",
            en: "Actioned",
        },
        CloseReason::Duplicate => Text {
            id: "Duplikat",
            en: "Duplicate",
        },
        CloseReason::InsufficientInformation => Text {
            id: "Informasi tidak cukup",
            en: "Insufficient information",
        },
        CloseReason::FalseReport => Text {
            id: "Laporan palsu",
            en: "False report",
        },
    }
}

/// A priority's name, in both languages.
pub fn priority_label(p: Priority) -> Text {
    match p {
        Priority::Urgent => Text {
            id: "Mendesak",
            en: "Urgent",
        },
        Priority::High => Text {
            id: "Tinggi",
            en: "High",
        },
        Priority::Normal => Text {
            id: "Biasa",
            en: "Normal",
        },
        Priority::Low => Text {
            id: "Rendah",
            en: "Low",
        },
    }
}

/// The longest search text, in characters.
pub const SEARCH_MAX: usize = 200;

/// The inbox's query string. Every field is text, parsed here, so a bad value gets the desk's
/// own clear answer instead of a bare 400.
#[derive(Deserialize, Default)]
pub struct InboxParams {
    status: Option<String>,
    priority: Option<String>,
    category: Option<String>,
    assignee: Option<String>,
    sla: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    page: Option<String>,
    area: Option<String>,
    q: Option<String>,
}

/// A query value, or `None` when absent or empty. Not trimmed: a value is one of ours exactly
/// or it is refused (a padded `" day"` is not `day`), as the API document says.
fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

/// Parses the inbox's query string into a filter.
pub fn parse_filter(
    p: &InboxParams,
    categories: &[crate::config::Choice],
    areas: &[crate::config::Choice],
) -> Result<Filter, Text> {
    let bad = text::BAD_CHOICE;
    let mut f = Filter::default();
    if let Some(s) = blank(&p.status) {
        f.status = Some(Status::parse(s).ok_or(bad)?);
    }
    if let Some(s) = blank(&p.priority) {
        f.priority = Some(Priority::parse(s).ok_or(bad)?);
    }
    if let Some(s) = blank(&p.category) {
        if !categories.iter().any(|c| c.id == s) {
            return Err(bad);
        }
        f.category = Some(s.to_owned());
    }
    if let Some(s) = blank(&p.assignee) {
        f.assignee = Some(match s {
            "me" => Assignee::Me,
            "nobody" => Assignee::Nobody,
            other => Assignee::Staff(crate::domain::StaffId::parse(other).ok_or(bad)?.to_string()),
        });
    }
    if let Some(s) = blank(&p.sla) {
        f.sla = Some(Sla::parse(s).ok_or(bad)?);
    }
    f.sort = match blank(&p.sort) {
        None | Some("day") => Sort::Day,
        Some("priority") => Sort::Priority,
        Some("status") => Sort::Status,
        Some(_) => return Err(bad),
    };
    f.ascending = match blank(&p.order) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(bad),
    };
    if let Some(s) = blank(&p.area) {
        if !areas.iter().any(|c| c.id == s) {
            return Err(bad);
        }
        f.search.area = Some(s.to_owned());
    }
    if let Some(s) = blank(&p.q).map(str::trim).filter(|v| !v.is_empty()) {
        if s.chars().count() > SEARCH_MAX {
            return Err(text::SEARCH_TOO_LONG);
        }
        f.search.text = Some(s.to_owned());
    }
    // Unlike the menus, a page is never sent empty by our pages: an empty one is refused.
    f.page = match p.page.as_deref() {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=1_000_000).contains(n))
            .ok_or(text::BAD_PAGE)?,
    };
    Ok(f)
}

/// An option of a filter's menu.
struct Opt {
    value: String,
    id: String,
    en: String,
    selected: bool,
}

fn opts<T: Copy + PartialEq>(
    all: &[T],
    name: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> Text,
    current: Option<T>,
) -> Vec<Opt> {
    all.iter()
        .map(|v| {
            let l = label(*v);
            Opt {
                value: name(*v).into(),
                id: l.id.into(),
                en: l.en.into(),
                selected: current == Some(*v),
            }
        })
        .collect()
}

/// The configured choices (categories, areas) as a menu.
fn choice_opts(list: &[crate::config::Choice], current: Option<&str>) -> Vec<Opt> {
    list.iter()
        .map(|c| Opt {
            value: c.id.clone(),
            id: c.label.id.clone(),
            en: c.label.en.clone(),
            selected: current == Some(c.id.as_str()),
        })
        .collect()
}

/// An inbox row as shown.
struct Line {
    id: String,
    day: String,
    category: String,
    area: String,
    status: Text,
    reason: Option<Text>,
    priority: Text,
    urgent: bool,
    assignee: String,
    waiting: bool,
    triage_overdue: bool,
    answer_overdue: bool,
    preview: Option<String>,
}

#[derive(Template)]
#[template(path = "desk/inbox.html")]
struct InboxPage {
    base: Base,
    rows: Vec<Line>,
    total: i64,
    page: i64,
    pages: i64,
    newer: Option<String>,
    older: Option<String>,
    flagged: Option<(i64, i64)>,
    /// A new session's search still opening its reports: (opened, to open); the page then
    /// reloads itself (no script) until the count is final.
    searching: Option<(usize, usize)>,
    /// This very page, for the reload link.
    again: String,
    supervisor: bool,
    statuses: Vec<Opt>,
    priorities: Vec<Opt>,
    categories: Vec<Opt>,
    slas: Vec<Opt>,
    assignee: String,
    sort: &'static str,
    ascending: bool,
    reasons: Vec<Opt>,
    bulk_max: usize,
    areas: Vec<Opt>,
    q: String,
    labels: Vec<Opt>,
}

/// The query string of `f` on page `page`, for the newer/older links.
fn query_of(f: &Filter, page: i64) -> String {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(s) = f.status {
        q.push(("status", s.as_str().into()));
    }
    if let Some(p) = f.priority {
        q.push(("priority", p.as_str().into()));
    }
    if let Some(c) = &f.category {
        q.push(("category", c.clone()));
    }
    match &f.assignee {
        Some(Assignee::Me) => q.push(("assignee", "me".into())),
        Some(Assignee::Nobody) => q.push(("assignee", "nobody".into())),
        Some(Assignee::Staff(s)) => q.push(("assignee", s.clone())),
        None => {}
    }
    if let Some(s) = f.sla {
        q.push(("sla", s.as_str().into()));
    }
    if let Some(a) = &f.search.area {
        q.push(("area", a.clone()));
    }
    if let Some(t) = &f.search.text {
        q.push(("q", t.clone()));
    }
    q.push((
        "sort",
        match f.sort {
            Sort::Day => "day",
            Sort::Priority => "priority",
            Sort::Status => "status",
        }
        .into(),
    ));
    if f.ascending {
        q.push(("order", "asc".into()));
    }
    q.push(("page", page.to_string()));
    let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    format!("/inbox?{}", crate::web::form::encode_form(pairs))
}

/// GET /inbox (supervisor, investigator): the reports this person holds, filtered, sorted and
/// 50 a page, with a preview of each; the page view is audited (`previewed`).
pub async fn inbox(
    req: HttpRequest,
    st: web::Data<DeskState>,
    q: web::Query<InboxParams>,
) -> HttpResponse {
    let a = match authed(&req, &st, STAFF_READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut base = Base::of(&a);
    let f = match parse_filter(&q, &st.cfg.categories, &st.cfg.areas) {
        Ok(f) => f,
        Err(t) => return outcome(base, Err(ShareError::Refused(t))),
    };
    let view = match inbox::inbox(&st, &a, &f).await {
        Ok(v) => v,
        // Not certified yet: an empty inbox that says why, not an error page.
        Err(ShareError::Refused(t)) if t == text::NOT_CERTIFIED => {
            base.notice = Some(t);
            inbox::Inbox {
                rows: Vec::new(),
                total: 0,
                flagged: None,
                searching: None,
            }
        }
        Err(e) => return outcome(base, Err(e)),
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(view.rows.len());
    for p in view.rows {
        let assignee = match &p.row.assignee {
            None => String::new(),
            Some(id) => {
                if !names.contains_key(id) {
                    let name = st
                        .store
                        .staff_by_id(id)
                        .await
                        .ok()
                        .flatten()
                        .map(|s| s.username)
                        .unwrap_or_default();
                    names.insert(id.clone(), name);
                }
                names[id].clone()
            }
        };
        let category = st
            .cfg
            .categories
            .iter()
            .find(|c| c.id == p.row.category)
            .map(|c| c.label.id.clone())
            .unwrap_or_else(|| p.row.category.clone());
        // Sealed: decrypted with the preview; an id not in the config is shown as sent.
        let area = p
            .area
            .as_deref()
            .map(|a| {
                st.cfg
                    .areas
                    .iter()
                    .find(|c| c.id == a)
                    .map_or_else(|| a.to_owned(), |c| c.label.id.clone())
            })
            .unwrap_or_default();
        rows.push(Line {
            id: p.row.id.to_string(),
            day: crate::domain::day_string(p.row.received_day),
            category: visible_controls(&category),
            area: visible_controls(&area),
            status: status_label(p.row.status),
            reason: p.row.closed_reason.map(reason_label),
            priority: priority_label(p.row.priority),
            urgent: p.row.priority >= Priority::High,
            assignee,
            waiting: p.row.waiting_since.is_some(),
            triage_overdue: p.sla.triage_overdue,
            answer_overdue: p.sla.answer_overdue,
            preview: p.text.as_deref().map(visible_controls),
        });
    }
    let pages = (view.total + INBOX_PAGE - 1) / INBOX_PAGE;
    let supervisor = view.flagged.is_some();
    let page = InboxPage {
        base,
        rows,
        total: view.total,
        page: f.page,
        pages,
        again: query_of(&f, f.page),
        newer: (f.page > 0).then(|| query_of(&f, f.page - 1)),
        older: ((f.page + 1) * INBOX_PAGE < view.total).then(|| query_of(&f, f.page + 1)),
        flagged: view.flagged,
        searching: view.searching,
        supervisor,
        statuses: opts(&Status::ALL, Status::as_str, status_label, f.status),
        priorities: opts(&Priority::ALL, Priority::as_str, priority_label, f.priority),
        categories: choice_opts(&st.cfg.categories, f.category.as_deref()),
        slas: [
            (Sla::Flagged, "Terlambat (salah satu)", "Overdue (either)"),
            (
                Sla::TriageOverdue,
                "Belum ditinjau lewat batas",
                "Not triaged in time",
            ),
            (
                Sla::AnswerOverdue,
                "Pesan pelapor belum dijawab",
                "Reporter message unanswered",
            ),
            (Sla::OnTime, "Tepat waktu", "On time"),
        ]
        .into_iter()
        .map(|(s, id, en)| Opt {
            value: s.as_str().into(),
            id: id.into(),
            en: en.into(),
            selected: f.sla == Some(s),
        })
        .collect(),
        assignee: match &f.assignee {
            None => String::new(),
            Some(Assignee::Me) => "me".into(),
            Some(Assignee::Nobody) => "nobody".into(),
            Some(Assignee::Staff(s)) => s.clone(),
        },
        sort: match f.sort {
            Sort::Day => "day",
            Sort::Priority => "priority",
            Sort::Status => "status",
        },
        ascending: f.ascending,
        reasons: opts(&CloseReason::ALL, CloseReason::as_str, reason_label, None),
        bulk_max: INBOX_PAGE as usize,
        areas: choice_opts(&st.cfg.areas, f.search.area.as_deref()),
        q: f.search.text.clone().unwrap_or_default(),
        labels: choice_opts(&st.cfg.triage.labels, None),
    };
    render(StatusCode::OK, &page)
}

/// A status change: which report, to what, and for a closure why (and the original of a
/// duplicate).
#[derive(Deserialize)]
pub struct StatusForm {
    csrf: Option<String>,
    report: String,
    status: String,
    reason: Option<String>,
    duplicate_of: Option<String>,
}

fn status_change(
    status: &str,
    reason: Option<&str>,
    duplicate_of: Option<&str>,
) -> Result<Change, ShareError> {
    let status = Status::parse(status.trim()).ok_or(ShareError::Refused(text::BAD_CHOICE))?;
    let reason = match reason.map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(r) => Some(CloseReason::parse(r).ok_or(ShareError::Refused(text::BAD_CHOICE))?),
    };
    let duplicate_of = match duplicate_of.map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(d) => Some(ReportId::parse(d).ok_or(ShareError::Refused(text::BAD_REPORT_ID))?),
    };
    let c = Change::Status {
        status,
        reason,
        duplicate_of,
    };
    c.check()?;
    Ok(c)
}

/// POST /reports/status (investigators: in review, actioned; supervisors: also close and
/// reopen).
pub async fn status(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<StatusForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, STAFF_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let r = async {
        let id = report_id(&f.report)?;
        let c = status_change(&f.status, f.reason.as_deref(), f.duplicate_of.as_deref())?;
        triage::apply(&st, &a, &[id], c).await?;
        Ok(text::TRIAGE_SAVED)
    }
    .await;
    outcome(Base::of(&a), r)
}

/// A priority change.
#[derive(Deserialize)]
pub struct PriorityForm {
    csrf: Option<String>,
    report: String,
    priority: String,
}

/// POST /reports/priority (supervisors).
pub async fn priority(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<PriorityForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, SUPERVISOR_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let r = async {
        let id = report_id(&f.report)?;
        let p = Priority::parse(f.priority.trim()).ok_or(ShareError::Refused(text::BAD_CHOICE))?;
        triage::apply(&st, &a, &[id], Change::Priority(p)).await?;
        Ok(text::TRIAGE_SAVED)
    }
    .await;
    outcome(Base::of(&a), r)
}

/// The bulk action of the inbox: `action` is `status:S`, `close:REASON` or `priority:P`, and
/// each ticked row sends `r<N>` = its id (one name per row: the desk's forms never repeat a
/// name).
pub fn bulk_parse(form: &HashMap<String, String>) -> Result<(Vec<ReportId>, Change), ShareError> {
    let action = form.get("action").map(|s| s.trim()).unwrap_or("");
    let change = match action.split_once(':') {
        Some(("status", s)) => status_change(s, None, None)?,
        Some(("close", r)) => status_change(
            "closed",
            Some(r),
            form.get("duplicate_of").map(String::as_str),
        )?,
        Some(("priority", p)) => {
            Change::Priority(Priority::parse(p).ok_or(ShareError::Refused(text::BAD_CHOICE))?)
        }
        _ => return Err(ShareError::Refused(text::BAD_CHOICE)),
    };
    Ok((ticked(form)?, change))
}

/// The ticked rows of the inbox's bulk form (`r<N>` = id), in id order.
fn ticked(form: &HashMap<String, String>) -> Result<Vec<ReportId>, ShareError> {
    let mut ids = Vec::new();
    for (k, v) in form {
        if let Some(n) = k.strip_prefix('r')
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            if ids.len() >= BULK_MAX {
                return Err(ShareError::Refused(text::TOO_MANY_SELECTED));
            }
            let id = report_id(v)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    // Declared order, never the order the browser happened to send.
    ids.sort_by_key(|i| i.to_string());
    Ok(ids)
}

/// POST /reports/labels (supervisor, investigator holding the report): the ticked labels
/// (`label_<id>`) become the report's labels, sealed under K_s.
pub async fn labels(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, STAFF_CHANGE, f.get("csrf").map(String::as_str)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let r = async {
        let id = report_id(f.get("report").map_or("", String::as_str))?;
        let chosen: Vec<String> = f
            .keys()
            .filter_map(|k| k.strip_prefix("label_"))
            .map(str::to_owned)
            .collect();
        super::sharing::set_labels(&st, &a, id, &super::sharing::LabelChange::Set(chosen)).await?;
        Ok(text::LABELS_SAVED)
    }
    .await;
    outcome(Base::of(&a), r)
}

/// POST /reports/bulk (certified supervisors): one status, closure or priority for every
/// ticked report, each change audited.
pub async fn bulk(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(
        &req,
        &st,
        SUPERVISOR_CHANGE,
        f.get("csrf").map(String::as_str),
    )
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let r = async {
        if let Some(label) = f.get("action").and_then(|v| v.strip_prefix("label:")) {
            let ids = ticked(&f)?;
            triage::label_many(&st, &a, &ids, label).await?;
            return Ok(text::LABELS_SAVED);
        }
        let (ids, change) = bulk_parse(&f)?;
        triage::apply(&st, &a, &ids, change).await?;
        Ok(text::TRIAGE_SAVED)
    }
    .await;
    outcome(Base::of(&a), r)
}
