//! The desk's JSON API under `/api/v1` (issue 7): everything the triage pages do, for scripts
//! and other agencies' tools. Its OpenAPI document is generated from these handlers and types
//! ([`DeskApiDoc`], served at `/api/v1/openapi.json` on the desk listener) and is separate from
//! the intake's.
//!
//! A client logs in with `POST /api/v1/session` (user name, password, TOTP code) and gets a
//! bearer token: the same server-side session as the browser's cookie, with the same idle and
//! absolute limits, ended by `DELETE /api/v1/session`. First login (enrolment) happens only in
//! the browser, where the TOTP secret is shown. The work is in the same functions the pages
//! use ([`super::inbox`], [`super::sharing`], [`super::triage`]), so the two cannot drift.

use super::DeskState;
use super::accounts::Role;
use super::audit::Event;
use super::inbox;
use super::login::Outcome;
use super::pages::{Need, authed};
use super::session::Stage;
use super::sharing::{self, ShareError, Writing};
use super::text::{self, Text};
use super::triage::{self, Change};
use super::triage_pages::{InboxParams, parse_filter};
use crate::domain::{CloseReason, Direction, ItemKind, Priority, ReportId, Status, day_string};
use crate::web::body::{is_cross_site, read_json};
use crate::web::error::{ErrorBody, Lang};
use actix_web::http::StatusCode;
use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, OpenApi, ToSchema};
use zeroize::Zeroizing;

const READ: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor, Role::Investigator],
    change: false,
};
const CHANGE: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor, Role::Investigator],
    change: true,
};
const SUPERVISOR: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor],
    change: true,
};
const ANY: Need = Need {
    stage: Stage::Full,
    roles: &[],
    change: true,
};

/// A refusal as JSON: `{"error": {"code", "message", "message_en"}}`.
pub(super) fn error(status: StatusCode, code: &str, t: Text) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "error": {"code": code, "message": t.id, "message_en": t.en}
    }))
}

pub(super) fn share_error(e: ShareError) -> HttpResponse {
    match e {
        ShareError::NotFound(t) => error(StatusCode::NOT_FOUND, "not_found", t),
        ShareError::Refused(t) if t == text::NOT_CERTIFIED || t == text::SUPERVISOR_ONLY => {
            error(StatusCode::FORBIDDEN, "forbidden", t)
        }
        ShareError::Refused(t) if t == text::NO_ACCOUNT => {
            error(StatusCode::NOT_FOUND, "no_account", t)
        }
        // Refusals that depend on the state of the report or of an account, not on the
        // request's shape: 409, so a well-formed request is never told it is malformed.
        ShareError::Refused(t)
            if [
                text::BAD_TRANSITION,
                text::DUPLICATE_NEEDS_ORIGINAL,
                text::ACCOUNT_IS_DISABLED,
                text::SHARE_SELF,
                text::TARGET_NOT_ENROLLED,
                text::TARGET_NOT_CERTIFIED,
                text::SHARE_ADMIN,
                text::UNSHARE_ONLY_INVESTIGATORS,
                text::FINGERPRINT_NEEDED,
                text::FINGERPRINT_MISMATCH,
                text::NO_STAFF_KEY_WRAP,
                text::NO_KEYS,
            ]
            .contains(&t) =>
        {
            error(StatusCode::CONFLICT, "conflict", t)
        }
        ShareError::Refused(t) => error(StatusCode::UNPROCESSABLE_ENTITY, "refused", t),
        ShareError::Tampered(why) => {
            tracing::error!("desk: a report failed an integrity check: {why}");
            error(
                StatusCode::CONFLICT,
                "integrity_failed",
                text::REPORT_TAMPERED,
            )
        }
        ShareError::Internal(why) => {
            tracing::error!("desk: an API action failed: {why}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                text::INTERNAL,
            )
        }
    }
}

fn body_limits(st: &DeskState) -> (usize, Duration) {
    (
        st.cfg.limits.body_bytes,
        Duration::from_secs(st.cfg.limits.request_timeout_secs),
    )
}

async fn json_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    st: &DeskState,
    payload: Payload,
) -> Result<T, HttpResponse> {
    let (limit, timeout) = body_limits(st);
    read_json(req, payload, limit, timeout)
        .await
        .map_err(|e| e.render(Lang::from_request(req)))
}

fn bad_id() -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "bad_report_id",
        text::BAD_REPORT_ID,
    )
}

/// Login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// User name.
    pub username: String,
    /// Password.
    #[schema(format = Password)]
    pub password: String,
    /// The current six-digit TOTP code.
    pub totp: String,
}

/// A session.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// Send as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// The account's role.
    pub role: String,
    /// Seconds without a request after which the session ends.
    pub idle_secs: u64,
}

/// Log in: a bearer token for a Full session (the browser's rules: back-off, one answer for
/// every failure, the bounded KDF pool).
#[utoipa::path(
    post, path = "/api/v1/session", request_body = SessionRequest,
    responses(
        (status = 201, description = "Logged in", body = SessionResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong user name, password or TOTP code (one answer)", body = ErrorBody),
        (status = 403, description = "Cross-site request, or an account that must first enrol in the browser", body = ErrorBody),
        (status = 408, description = "The body took too long to arrive", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or of the wrong type", body = ErrorBody),
        (status = 429, description = "Too many failures for this account; retry after Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Busy", body = ErrorBody),
    )
)]
pub async fn login(req: HttpRequest, st: Data<DeskState>, payload: Payload) -> HttpResponse {
    if is_cross_site(&req) {
        return error(StatusCode::FORBIDDEN, "cross_site", text::CROSS_SITE);
    }
    let body: SessionRequest = match json_body(&req, &st, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let password = secrecy::SecretString::from(body.password);
    match st.login(&body.username, &password, &body.totp).await {
        Outcome::Full(staff, secrets) => {
            super::pages::audit_logged(
                &st,
                Some(&staff.id),
                Some(&secrets.keys),
                Event::LoginSucceeded,
            )
            .await;
            let token = st.start_session(&staff, Some(&secrets));
            let hex = token.to_hex();
            let body = Zeroizing::new(
                serde_json::to_vec(&SessionResponse {
                    token: hex.as_str().to_owned(),
                    role: staff.role.clone(),
                    idle_secs: st.cfg.desk.session_idle_secs,
                })
                .expect("serialisable"),
            );
            HttpResponse::Created()
                .content_type("application/json")
                .insert_header(("cache-control", "no-store"))
                .body(actix_web::web::Bytes::copy_from_slice(&body))
        }
        Outcome::Enrol(staff) => {
            super::pages::audit_logged(&st, Some(&staff.id), None, Event::LoginFailed).await;
            error(StatusCode::FORBIDDEN, "enrol_first", text::ENROL_IN_BROWSER)
        }
        Outcome::Failed(staff) => {
            super::pages::audit_logged(&st, staff.as_deref(), None, Event::LoginFailed).await;
            error(StatusCode::UNAUTHORIZED, "login_failed", text::LOGIN_FAILED)
        }
        Outcome::Throttled(secs) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                text::LOGIN_THROTTLED,
            );
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, v);
            }
            r
        }
        Outcome::Busy => error(StatusCode::SERVICE_UNAVAILABLE, "busy", text::BUSY),
    }
}

/// Log out: the session ends (its unlocked keys are dropped).
#[utoipa::path(
    delete, path = "/api/v1/session", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a full session", body = ErrorBody),
    )
)]
pub async fn logout(req: HttpRequest, st: Data<DeskState>) -> HttpResponse {
    let a = match authed(&req, &st, ANY, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let signer = a.unlocked_keys();
    super::pages::audit_logged(
        &st,
        Some(&a.current.staff_id),
        signer.as_ref(),
        Event::LoggedOut,
    )
    .await;
    st.sessions.destroy(&a.token);
    HttpResponse::NoContent().finish()
}

/// SLA flags.
#[derive(Serialize, ToSchema)]
pub struct SlaView {
    /// Still new past the triage limit (working days).
    pub triage_overdue: bool,
    /// A reporter message unanswered past the answer limit.
    pub answer_overdue: bool,
}

/// A report in a list.
#[derive(Serialize, ToSchema)]
pub struct ReportSummary {
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Received day, `YYYY-MM-DD` (UTC).
    pub received_day: String,
    /// Category id.
    pub category: String,
    /// Area (kecamatan) id, decrypted with the tip; `null` when none was given or the report
    /// failed a check.
    pub area: Option<String>,
    /// Status.
    pub status: Status,
    /// Why it was closed.
    pub closed_reason: Option<CloseReason>,
    /// The report it repeats.
    #[schema(format = Uuid)]
    pub duplicate_of: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Assignee's user name.
    pub assignee: Option<String>,
    /// Day of the oldest unanswered reporter message.
    pub waiting_since: Option<String>,
    /// SLA flags.
    pub sla: SlaView,
    /// The tip's first 120 characters; `null` when the report failed an integrity check.
    pub preview: Option<String>,
}

/// One page of reports.
#[derive(Serialize, ToSchema)]
pub struct ReportList {
    /// The page (at most 50).
    pub reports: Vec<ReportSummary>,
    /// Reports matching the filter.
    pub total: i64,
    /// Page number, from 0.
    pub page: i64,
    /// For supervisors: flagged reports (triage overdue, answer overdue).
    pub flagged: Option<FlaggedCounts>,
    /// Set while the session is still decrypting its search summaries (a new session's first
    /// search): the reports shown are the right ones, `total` is a lower bound; ask again.
    pub searching: Option<SearchProgress>,
}

/// How far a session's search summaries have got.
#[derive(Serialize, ToSchema)]
pub struct SearchProgress {
    /// Reports opened so far, newest first.
    pub opened: usize,
    /// Reports to open.
    pub of: usize,
}

/// Flag counts.
#[derive(Serialize, ToSchema)]
pub struct FlaggedCounts {
    /// New past the triage limit.
    pub triage_overdue: i64,
    /// Reporter message unanswered past the limit.
    pub answer_overdue: i64,
}

/// Filters of the report list (for the document: the handler parses the query string with
/// the inbox page's own parser, so both refuse the same values with the same words).
#[derive(Deserialize, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `new`, `in_review`, `actioned` or `closed`.
    pub status: Option<Status>,
    /// `urgent`, `high`, `normal` or `low`.
    pub priority: Option<Priority>,
    /// A category id from the configuration.
    pub category: Option<String>,
    /// `me`, `nobody` or a staff id.
    #[param(
        pattern = "^(me|nobody|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub assignee: Option<String>,
    /// `triage_overdue`, `answer_overdue`, `flagged` or `on_time`.
    #[param(pattern = "^(triage_overdue|answer_overdue|flagged|on_time)$")]
    pub sla: Option<String>,
    /// `day` (default), `priority` or `status`.
    #[param(pattern = "^(day|priority|status)$")]
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    #[param(pattern = "^(desc|asc)$")]
    pub order: Option<String>,
    /// Page from 0.
    #[param(minimum = 0, maximum = 1000000)]
    pub page: Option<i64>,
    /// An area (kecamatan) id: searched in the session's decrypted summaries.
    pub area: Option<String>,
    /// Words that must all occur in the tip or its reporter messages (case-insensitive).
    #[param(max_length = 200)]
    pub q: Option<String>,
}

async fn username(st: &DeskState, id: &str) -> Option<String> {
    st.store
        .staff_by_id(id)
        .await
        .ok()
        .flatten()
        .map(|s| s.username)
}

/// The reports this person holds, filtered and sorted; the page view is audited (`previewed`).
#[utoipa::path(
    get, path = "/api/v1/reports", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "One page", body = ReportList),
        (status = 400, description = "A filter value is unknown", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a supervisor or investigator, or not certified", body = ErrorBody),
    )
)]
pub async fn list(req: HttpRequest, st: Data<DeskState>) -> HttpResponse {
    let a = match authed(&req, &st, READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(q) = actix_web::web::Query::<InboxParams>::from_query(req.query_string()) else {
        return error(StatusCode::BAD_REQUEST, "bad_query", text::BAD_CHOICE);
    };
    let f = match parse_filter(&q, &st.cfg.categories, &st.cfg.areas) {
        Ok(f) => f,
        Err(t) => return error(StatusCode::BAD_REQUEST, "bad_query", t),
    };
    let view = match inbox::inbox(&st, &a, &f).await {
        Ok(v) => v,
        // Not certified yet: nothing to list, as on the inbox page.
        Err(ShareError::Refused(t)) if t == text::NOT_CERTIFIED => inbox::Inbox {
            rows: Vec::new(),
            total: 0,
            flagged: None,
            searching: None,
        },
        Err(e) => return share_error(e),
    };
    let mut reports = Vec::with_capacity(view.rows.len());
    for p in view.rows {
        let assignee = match &p.row.assignee {
            Some(id) => username(&st, id).await,
            None => None,
        };
        reports.push(ReportSummary {
            id: p.row.id.to_string(),
            received_day: day_string(p.row.received_day),
            category: p.row.category.clone(),
            area: p.area,
            status: p.row.status,
            closed_reason: p.row.closed_reason,
            duplicate_of: p.row.duplicate_of.map(|d| d.to_string()),
            priority: p.row.priority,
            assignee,
            waiting_since: p.row.waiting_since.map(day_string),
            sla: SlaView {
                triage_overdue: p.sla.triage_overdue,
                answer_overdue: p.sla.answer_overdue,
            },
            preview: p.text,
        });
    }
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(ReportList {
            reports,
            total: view.total,
            page: f.page,
            flagged: view.flagged.map(|(t, m)| FlaggedCounts {
                triage_overdue: t,
                answer_overdue: m,
            }),
            searching: view
                .searching
                .map(|(opened, of)| SearchProgress { opened, of }),
        })
}

/// The tip as the reporter wrote it.
#[derive(Serialize, ToSchema)]
pub struct TipView {
    /// Day received.
    pub day: String,
    /// Category id.
    pub category: String,
    /// Area (kecamatan) id.
    pub area: Option<String>,
    /// What happened.
    pub description: String,
    /// Where.
    pub location: Option<String>,
    /// When.
    pub when: Option<String>,
    /// People.
    pub people: Option<String>,
    /// Vehicles.
    pub vehicles: Option<String>,
}

/// A message or note.
#[derive(Serialize, ToSchema)]
pub struct ThreadEntry {
    /// Position in the report's chain.
    pub seq: i64,
    /// `message` or `note`.
    pub kind: String,
    /// `reporter`, `staff` (to the reporter) or `internal` (a note).
    pub from: String,
    /// Day written; empty when sealed from this reader.
    pub day: String,
    /// The text; `null` for a note sealed from this reader (no wrap of K_s).
    pub body: Option<String>,
}

/// A whole report.
#[derive(Serialize, ToSchema)]
pub struct ReportDetail {
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Routing columns, SLA flags.
    pub triage: ReportSummary,
    /// The tip.
    pub tip: TipView,
    /// Messages and notes, oldest first.
    pub thread: Vec<ThreadEntry>,
    /// The report's labels (empty for a reader without the staff key).
    pub labels: Vec<String>,
}

/// A report after every integrity check; the view is audited (`decrypted`).
#[utoipa::path(
    get, path = "/api/v1/reports/{id}", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 200, description = "The report", body = ReportDetail),
        (status = 400, description = "Not a report id", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a supervisor or investigator, or not certified", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds (one answer)", body = ErrorBody),
        (status = 409, description = "The report failed an integrity check (audited)", body = ErrorBody),
    )
)]
pub async fn detail(req: HttpRequest, st: Data<DeskState>, id: Path<String>) -> HttpResponse {
    let a = match authed(&req, &st, READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(id) = ReportId::parse(&id) else {
        return bad_id();
    };
    let conv = match sharing::read(&st, &a, id).await {
        Ok(c) => c,
        Err(e) => return share_error(e),
    };
    let row = match st.reports.triage_row(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return share_error(ShareError::NotFound(text::NO_REPORT)),
        Err(e) => return share_error(e.into()),
    };
    let cut = inbox::Cutoffs::today(&st);
    let sla = cut.state(&row);
    let assignee = match &row.assignee {
        Some(i) => username(&st, i).await,
        None => None,
    };
    let t = &conv.tip;
    let labels = conv.labels();
    let thread = conv
        .items
        .iter()
        .filter(|it| it.kind != ItemKind::Labels)
        .map(|it| {
            let m = it.message();
            ThreadEntry {
                seq: it.seq,
                kind: if it.kind == ItemKind::Note {
                    "note"
                } else {
                    "message"
                }
                .into(),
                from: match it.direction {
                    Direction::ReporterToStaff => "reporter",
                    Direction::StaffToReporter => "staff",
                    Direction::StaffOnly => "internal",
                }
                .into(),
                day: m.as_ref().map(|m| m.day.clone()).unwrap_or_default(),
                body: m.map(|m| m.body),
            }
        })
        .collect();
    let body = Zeroizing::new(
        serde_json::to_vec(&ReportDetail {
            id: id.to_string(),
            triage: ReportSummary {
                id: id.to_string(),
                received_day: day_string(row.received_day),
                category: row.category.clone(),
                area: t.area.clone(),
                status: row.status,
                closed_reason: row.closed_reason,
                duplicate_of: row.duplicate_of.map(|d| d.to_string()),
                priority: row.priority,
                assignee,
                waiting_since: row.waiting_since.map(day_string),
                sla: SlaView {
                    triage_overdue: sla.triage_overdue,
                    answer_overdue: sla.answer_overdue,
                },
                preview: Some(t.description.chars().take(120).collect()),
            },
            tip: TipView {
                day: t.day.clone(),
                category: t.category.clone(),
                area: t.area.clone(),
                description: t.description.clone(),
                location: t.location.clone(),
                when: t.when.clone(),
                people: t.people.clone(),
                vehicles: t.vehicles.clone(),
            },
            thread,
            labels,
        })
        .expect("serialisable"),
    );
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "no-store"))
        .body(actix_web::web::Bytes::copy_from_slice(&body))
}

/// A status change. A closure needs `reason`; `duplicate` needs `duplicate_of`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// The new status (never back to `new`).
    pub status: Status,
    /// Why it is closed (closures only).
    pub reason: Option<CloseReason>,
    /// The original, for `duplicate`.
    #[schema(format = Uuid)]
    pub duplicate_of: Option<String>,
}

/// What a change did.
#[derive(Serialize, ToSchema)]
pub struct ChangeResponse {
    /// Reports changed (one already in the requested state is not counted).
    pub changed: usize,
}

fn changed(n: usize) -> HttpResponse {
    HttpResponse::Ok().json(ChangeResponse { changed: n })
}

fn status_of(b: &StatusRequest) -> Result<Change, ShareError> {
    let duplicate_of = match b.duplicate_of.as_deref() {
        Some(d) => Some(ReportId::parse(d).ok_or(ShareError::Refused(text::BAD_REPORT_ID))?),
        None => None,
    };
    let c = Change::Status {
        status: b.status,
        reason: b.reason,
        duplicate_of,
    };
    c.check()?;
    Ok(c)
}

/// Set a report's status: investigators `in_review` and `actioned`; certified supervisors also
/// close (with a reason) and reopen. Audited.
#[utoipa::path(
    post, path = "/api/v1/reports/{id}/status", request_body = StatusRequest, security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 200, description = "Done", body = ChangeResponse),
        (status = 400, description = "Not a report id, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not allowed for this person", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds", body = ErrorBody),
        (status = 409, description = "The report cannot move to that status from where it is, or failed an integrity check", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A closure without a reason, a reason without a closure, a duplicate without a valid original", body = ErrorBody),
    )
)]
pub async fn set_status(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
) -> HttpResponse {
    let a = match authed(&req, &st, CHANGE, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(id) = ReportId::parse(&id) else {
        return bad_id();
    };
    let b: StatusRequest = match json_body(&req, &st, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match status_of(&b) {
        Ok(c) => match triage::apply(&st, &a, &[id], c).await {
            Ok(n) => changed(n),
            Err(e) => share_error(e),
        },
        Err(e) => share_error(e),
    }
}

/// A priority change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    /// The new priority.
    pub priority: Priority,
}

/// Set a report's priority (certified supervisors). Audited.
#[utoipa::path(
    post, path = "/api/v1/reports/{id}/priority", request_body = PriorityRequest, security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 200, description = "Done", body = ChangeResponse),
        (status = 400, description = "Not a report id, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a certified supervisor", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds", body = ErrorBody),
        (status = 409, description = "The report failed an integrity check", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid", body = ErrorBody),
    )
)]
pub async fn set_priority(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
) -> HttpResponse {
    let a = match authed(&req, &st, SUPERVISOR, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(id) = ReportId::parse(&id) else {
        return bad_id();
    };
    let b: PriorityRequest = match json_body(&req, &st, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match triage::apply(&st, &a, &[id], Change::Priority(b.priority)).await {
        Ok(n) => changed(n),
        Err(e) => share_error(e),
    }
}

/// A message to the reporter or an internal note.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextRequest {
    /// The text, 1 to 5,000 characters, not only white space.
    #[schema(min_length = 1, max_length = 5000, pattern = "\\S")]
    pub body: String,
}

/// Written.
#[derive(Serialize, ToSchema)]
pub struct Written {
    /// Always true.
    pub ok: bool,
}

async fn write(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
    what: Writing,
) -> HttpResponse {
    let a = match authed(&req, &st, CHANGE, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(id) = ReportId::parse(&id) else {
        return bad_id();
    };
    let b: TextRequest = match json_body(&req, &st, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let body = Zeroizing::new(b.body);
    match sharing::post(&st, &a, id, what, &body).await {
        Ok(()) => HttpResponse::Created().json(Written { ok: true }),
        Err(e) => share_error(e),
    }
}

/// Ask the reporter (sealed under K_r); they see `needs_info` until they answer. Audited.
#[utoipa::path(
    post, path = "/api/v1/reports/{id}/messages", request_body = TextRequest, security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 201, description = "Sent", body = Written),
        (status = 400, description = "Not a report id, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not certified", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds", body = ErrorBody),
        (status = 409, description = "The report failed an integrity check", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Empty or too long", body = ErrorBody),
    )
)]
pub async fn message(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
) -> HttpResponse {
    write(req, st, id, payload, Writing::Message).await
}

/// An internal note (sealed under K_s, which the first note makes). Audited.
#[utoipa::path(
    post, path = "/api/v1/reports/{id}/notes", request_body = TextRequest, security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 201, description = "Saved", body = Written),
        (status = 400, description = "Not a report id, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not certified", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds", body = ErrorBody),
        (status = 409, description = "The report failed an integrity check", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Empty or too long, or no wrap of the staff key", body = ErrorBody),
    )
)]
pub async fn note(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
) -> HttpResponse {
    write(req, st, id, payload, Writing::Note).await
}

/// Share with, or unshare from, an account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// The account's user name.
    pub username: String,
    /// The key fingerprint the investigator reads off their own home page (first share only).
    pub fingerprint: Option<String>,
}

/// Share a report (certified supervisors); the first share certifies an investigator. Audited.
#[utoipa::path(
    post, path = "/api/v1/reports/{id}/share", request_body = ShareRequest, security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 200, description = "Shared", body = ChangeResponse),
        (status = 400, description = "Not a report id, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a certified supervisor", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds", body = ErrorBody),
        (status = 409, description = "The report failed an integrity check", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "No such account, not enrolled, or a missing or wrong fingerprint", body = ErrorBody),
    )
)]
pub async fn share(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
) -> HttpResponse {
    share_or_unshare(req, st, id, payload, true).await
}

/// Remove an investigator's access (certified supervisors). Audited.
#[utoipa::path(
    post, path = "/api/v1/reports/{id}/unshare", request_body = ShareRequest, security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 200, description = "Unshared", body = ChangeResponse),
        (status = 400, description = "Not a report id, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a certified supervisor", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds", body = ErrorBody),
        (status = 409, description = "The report failed an integrity check", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "No such account, or not an investigator", body = ErrorBody),
    )
)]
pub async fn unshare(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
) -> HttpResponse {
    share_or_unshare(req, st, id, payload, false).await
}

async fn share_or_unshare(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
    share: bool,
) -> HttpResponse {
    let a = match authed(&req, &st, SUPERVISOR, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(id) = ReportId::parse(&id) else {
        return bad_id();
    };
    let b: ShareRequest = match json_body(&req, &st, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r = if share {
        let fp = b.fingerprint.as_deref().filter(|v| !v.trim().is_empty());
        sharing::share(&st, &a, id, &b.username, fp)
            .await
            .map(|_| 1)
    } else {
        sharing::unshare(&st, &a, id, &b.username)
            .await
            .map(|n| n as usize)
    };
    match r {
        Ok(n) => changed(n),
        Err(e) => share_error(e),
    }
}

/// A report's labels.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsRequest {
    /// Label ids from the configuration (`triage.labels`): these become the report's labels.
    #[schema(max_items = 50)]
    pub labels: Vec<String>,
}

/// Set a report's labels, sealed under K_s (the reporter never sees them). Audited.
#[utoipa::path(
    post, path = "/api/v1/reports/{id}/labels", request_body = LabelsRequest, security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Report id")),
    responses(
        (status = 200, description = "Done (changed: 0 when they were already so)", body = ChangeResponse),
        (status = 400, description = "Not a report id, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not certified", body = ErrorBody),
        (status = 404, description = "No such report, or none this person holds", body = ErrorBody),
        (status = 409, description = "No wrap of the report's staff key, or an integrity failure", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A label that is not configured", body = ErrorBody),
    )
)]
pub async fn set_labels(
    req: HttpRequest,
    st: Data<DeskState>,
    id: Path<String>,
    payload: Payload,
) -> HttpResponse {
    let a = match authed(&req, &st, CHANGE, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(id) = ReportId::parse(&id) else {
        return bad_id();
    };
    let b: LabelsRequest = match json_body(&req, &st, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match sharing::set_labels(&st, &a, id, &sharing::LabelChange::Set(b.labels)).await {
        Ok(c) => changed(usize::from(c)),
        Err(e) => share_error(e),
    }
}

/// One change for many reports.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// The reports, 1 to 500.
    #[schema(min_items = 1, max_items = 500, value_type = Vec<uuid::Uuid>)]
    pub reports: Vec<String>,
    /// A status change, or
    pub status: Option<StatusRequest>,
    /// a priority change (exactly one of the two).
    pub priority: Option<Priority>,
}

/// One status or priority change for many reports (certified supervisors), each audited.
/// Stops at the first report refused; those before it stay changed.
#[utoipa::path(
    post, path = "/api/v1/reports/bulk", request_body = BulkRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "Done", body = ChangeResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a certified supervisor", body = ErrorBody),
        (status = 404, description = "A report that does not exist or this person does not hold", body = ErrorBody),
        (status = 409, description = "A report cannot move to that status, or failed an integrity check", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not exactly one change, a bad id, or too many reports", body = ErrorBody),
    )
)]
pub async fn bulk(req: HttpRequest, st: Data<DeskState>, payload: Payload) -> HttpResponse {
    let a = match authed(&req, &st, SUPERVISOR, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let b: BulkRequest = match json_body(&req, &st, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r = async {
        let change = match (&b.status, b.priority) {
            (Some(s), None) => status_of(s)?,
            (None, Some(p)) => Change::Priority(p),
            _ => return Err(ShareError::Refused(text::BAD_CHOICE)),
        };
        if b.reports.len() > triage::BULK_MAX {
            return Err(ShareError::Refused(text::TOO_MANY_SELECTED));
        }
        let mut ids = Vec::with_capacity(b.reports.len());
        for r in &b.reports {
            let id = ReportId::parse(r).ok_or(ShareError::Refused(text::BAD_REPORT_ID))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        triage::apply(&st, &a, &ids, change).await
    }
    .await;
    match r {
        Ok(n) => changed(n),
        Err(e) => share_error(e),
    }
}

/// The session's account.
#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    /// User name.
    pub username: String,
    /// Role.
    pub role: String,
    /// The X25519 key fingerprint, once enrolled.
    pub fingerprint: Option<String>,
}

/// Who this session is (doc only: the handler is [`super::pages::me`]).
#[utoipa::path(
    get, path = "/api/v1/me", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = MeResponse),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a full session", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn me_doc() {}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The desk's OpenAPI document, generated from these handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bisik case desk API",
        description = "Triage for vetted staff: reports, status, priority, messages, notes, sharing, and the supervisors' figures. Bearer tokens from POST /api/v1/session."
    ),
    paths(login, logout, me_doc, list, detail, set_status, set_priority, message, note, share, unshare, set_labels, bulk, super::figures_pages::api, openapi_json),
    components(schemas(
        SessionRequest, SessionResponse, MeResponse, ReportList, ReportSummary, SlaView,
        FlaggedCounts, SearchProgress, ReportDetail, TipView, ThreadEntry, StatusRequest, PriorityRequest,
        TextRequest, Written, ShareRequest, LabelsRequest, BulkRequest, ChangeResponse, ErrorBody,
        Status, CloseReason, Priority, super::figures_pages::FiguresView,
        super::figures_pages::NamedCount, super::figures_pages::AreaMonths,
        super::figures::SlaCounts
    )),
    modifiers(&BearerAuth)
)]
pub struct DeskApiDoc;

/// A status change as JSON Schema can state it: a status that is not a closure carries no
/// reason; a closure carries one; a duplicate also names its original. (The derived schema
/// alone would call `{"status": "closed"}` valid, which the server refuses.)
fn status_request_schema() -> serde_json::Value {
    let null = serde_json::json!({"type": "null"});
    let variant = |status: &[&str],
                   reason: serde_json::Value,
                   dup: serde_json::Value,
                   required: &[&str]| {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": required,
            "properties": {"status": {"type": "string", "enum": status}, "reason": reason, "duplicate_of": dup}
        })
    };
    serde_json::json!({
        "description": "A status change. A closure needs `reason`; `duplicate` needs `duplicate_of`.",
        "oneOf": [
            variant(&["new", "in_review", "actioned"], null.clone(), null.clone(), &["status"]),
            variant(
                &["closed"],
                serde_json::json!({"type": "string", "enum": ["actioned", "insufficient_information", "false_report"]}),
                null.clone(),
                &["status", "reason"],
            ),
            variant(
                &["closed"],
                serde_json::json!({"type": "string", "enum": ["duplicate"]}),
                serde_json::json!({"type": "string", "format": "uuid"}),
                &["status", "reason", "duplicate_of"],
            ),
        ]
    })
}

/// The document as served: the configured category and area ids as the enums of the filters,
/// and the status change and bulk request stated precisely ([`status_request_schema`]).
pub fn document(cfg: &crate::config::Config) -> serde_json::Value {
    let mut doc = serde_json::to_value(DeskApiDoc::openapi()).expect("the document serialises");
    let schemas = &mut doc["components"]["schemas"];
    let label_ids: Vec<serde_json::Value> = cfg
        .triage
        .labels
        .iter()
        .map(|l| l.id.as_str().into())
        .collect();
    schemas["LabelsRequest"]["properties"]["labels"]["items"] =
        serde_json::json!({"type": "string", "enum": label_ids});
    schemas["StatusRequest"] = status_request_schema();
    let reports = schemas["BulkRequest"]["properties"]["reports"].clone();
    schemas["BulkRequest"] = serde_json::json!({
        "description": "One status or priority change for many reports: exactly one of the two.",
        "oneOf": [
            {"type": "object", "additionalProperties": false, "required": ["reports", "status"],
             "properties": {"reports": reports, "status": {"$ref": "#/components/schemas/StatusRequest"}, "priority": {"type": "null"}}},
            {"type": "object", "additionalProperties": false, "required": ["reports", "priority"],
             "properties": {"reports": reports, "priority": {"$ref": "#/components/schemas/Priority"}, "status": {"type": "null"}}}
        ]
    });
    // The query parameters as the parser takes them: an empty value means "not given" (the
    // inbox's GET form sends one for "all"); anything else is one of these exactly.
    let with_empty = |values: Vec<String>| {
        let mut v = vec![serde_json::Value::from("")];
        v.extend(values.into_iter().map(serde_json::Value::from));
        serde_json::json!({"type": "string", "enum": v})
    };
    let ids =
        |list: &[crate::config::Choice]| list.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let uuid =
        serde_json::json!({"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36});
    if let Some(params) = doc["paths"]["/api/v1/reports"]["get"]["parameters"].as_array_mut() {
        for p in params {
            let schema = match p["name"].as_str().unwrap_or("") {
                "status" => with_empty(Status::ALL.iter().map(|s| s.as_str().to_owned()).collect()),
                "priority" => with_empty(
                    Priority::ALL
                        .iter()
                        .map(|s| s.as_str().to_owned())
                        .collect(),
                ),
                "category" => with_empty(ids(&cfg.categories)),
                "area" => with_empty(ids(&cfg.areas)),
                "assignee" => {
                    serde_json::json!({"anyOf": [with_empty(names(&["me", "nobody"])), uuid]})
                }
                "sla" => with_empty(names(&[
                    "triage_overdue",
                    "answer_overdue",
                    "flagged",
                    "on_time",
                ])),
                "sort" => with_empty(names(&["day", "priority", "status"])),
                "order" => with_empty(names(&["desc", "asc"])),
                "page" => {
                    serde_json::json!({"type": "integer", "minimum": 0, "maximum": 1_000_000})
                }
                _ => continue,
            };
            p["schema"] = schema;
        }
    }
    doc
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json(st: Data<DeskState>) -> HttpResponse {
    HttpResponse::Ok().json(document(&st.cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document names exactly the desk's API paths, so neither drifts from the router.
    #[test]
    fn document_and_routes_name_the_same_api_paths() {
        let doc = document(&crate::config::Config::default());
        let mut documented: Vec<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        documented.sort();
        let mut routed: Vec<String> = super::super::paths::ALL
            .iter()
            .filter(|p| p.starts_with("/api/"))
            .map(|p| (*p).to_owned())
            .collect();
        routed.sort();
        assert_eq!(documented, routed);
        // Every operation but login and the document itself asks for the bearer token.
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let public = path == "/api/v1/openapi.json"
                    || (path == "/api/v1/session" && method == "post");
                assert_eq!(op.get("security").is_some(), !public, "{method} {path}");
            }
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
