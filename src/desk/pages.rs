//! The desk's pages (askama, templates/desk/) and the one gate every handler passes:
//! [`authed`] finds the session from the cookie or a bearer token, checks the account is still
//! enabled, the stage and the role, and for cookie-authenticated state changes the CSRF
//! token. Everything works without JavaScript; the pages carry `translate="no"` so no browser
//! translation service receives their text.

use super::DeskState;
use super::accounts::{self, AccountError, OneTime, Role};
use super::audit::{AuditError, Event, Signer};
use super::keys::StaffKeys;
use super::keys::fingerprint_of;
use super::login::Outcome;
use super::paths;
use super::session::{Authed, COOKIE_PLAIN, COOKIE_TLS, Refused, SessionToken, Stage, csrf_ok};
use super::text::{self, Text};
use super::totp;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// What the base template shows.
pub struct Base {
    /// Logged-in name for the navigation; `None` hides it.
    pub nav_user: Option<String>,
    /// Show the accounts link.
    pub nav_admin: bool,
    /// Show the audit link (supervisors and admins).
    pub nav_audit: bool,
    /// Show the inbox link (supervisors and investigators).
    pub nav_inbox: bool,
    /// Show the figures link (supervisors).
    pub nav_figures: bool,
    /// CSRF token for the forms.
    pub nav_csrf: String,
    /// A notice.
    pub notice: Option<Text>,
    /// An error.
    pub error: Option<Text>,
    /// More about the error (zxcvbn's reason for a weak password).
    pub error_detail: Option<String>,
}

impl Base {
    fn anon(notice: Option<Text>, error: Option<Text>) -> Base {
        Base {
            nav_user: None,
            nav_admin: false,
            nav_audit: false,
            nav_inbox: false,
            nav_figures: false,
            nav_csrf: String::new(),
            notice,
            error,
            error_detail: None,
        }
    }

    pub(crate) fn of(a: &Authed) -> Base {
        Base {
            nav_user: Some(a.current.username.clone()),
            nav_admin: a.current.role == Role::Admin,
            nav_audit: matches!(a.current.role, Role::Admin | Role::Supervisor),
            nav_inbox: matches!(a.current.role, Role::Supervisor | Role::Investigator),
            nav_figures: a.current.role == Role::Supervisor,
            nav_csrf: a.csrf(),
            notice: None,
            error: None,
            error_detail: None,
        }
    }
}

#[derive(Template)]
#[template(path = "desk/login.html")]
struct LoginPage {
    base: Base,
}

#[derive(Template)]
#[template(path = "desk/enrol.html")]
struct EnrolPage {
    base: Base,
    username: String,
    csrf: String,
    qr_svg: String,
    secret_text: String,
}

#[derive(Template)]
#[template(path = "desk/home.html")]
struct HomePage {
    base: Base,
    username: String,
    role_id: &'static str,
    role_en: &'static str,
    fingerprint: Option<String>,
    /// The audit head (`SEQ:HASH`, as `bisik audit checkpoint` prints it), for supervisors.
    audit_head: Option<String>,
}

#[derive(Template)]
#[template(path = "desk/password.html")]
struct PasswordPage {
    base: Base,
}

struct AccountLine {
    username: String,
    role_id: &'static str,
    role_en: &'static str,
    disabled: bool,
    enrolled: bool,
}

#[derive(Template)]
#[template(path = "desk/accounts.html")]
struct AccountsPage {
    base: Base,
    rows: Vec<AccountLine>,
    one_time: Option<(String, String)>,
}

/// One line of the audit page: ids and kinds only, never content.
pub(super) struct AuditLine {
    pub(super) seq: u64,
    pub(super) day: String,
    pub(super) actor: String,
    pub(super) kind: String,
    pub(super) report: String,
}

/// Account ids to user names, for audit lines.
pub(super) async fn staff_names(st: &DeskState) -> std::collections::HashMap<String, String> {
    st.store
        .list_staff()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.id, s.username))
        .collect()
}

/// One audit entry as the audit page and a report's history show it.
pub(super) fn audit_line(
    e: &super::audit::Entry,
    names: &std::collections::HashMap<String, String>,
) -> AuditLine {
    AuditLine {
        seq: e.seq,
        day: crate::domain::day_string(e.day),
        actor: e.actor.map_or_else(
            || "-".to_owned(),
            |id| {
                let id = id.to_string();
                names.get(&id).cloned().unwrap_or(id)
            },
        ),
        kind: match &e.event {
            Event::AccountChanged { staff, change } => {
                let id = staff.to_string();
                format!("account {change}: {}", names.get(&id).unwrap_or(&id))
            }
            Event::StatusChanged { status, .. } => format!("status {status}"),
            Event::FiguresExported { from, to, reports } => format!(
                "figures_exported {from}..{to} ({} laporan / reports)",
                reports.len()
            ),
            Event::PriorityChanged { priority, .. } => format!(
                "priority {}",
                i16::try_from(*priority)
                    .ok()
                    .and_then(crate::domain::Priority::from_code)
                    .map_or("?", |p| p.as_str())
            ),
            other => other.tag().to_owned(),
        },
        report: e.event.report().map_or_else(String::new, |r| r.to_string()),
    }
}

#[derive(Template)]
#[template(path = "desk/audit.html")]
struct AuditPage {
    base: Base,
    rows: Vec<AuditLine>,
    admin_only_accounts: bool,
    /// `?before=` of the next (older) page.
    older: Option<u64>,
}

#[derive(Template)]
#[template(path = "desk/message.html")]
struct MessagePage {
    base: Base,
}

pub(crate) fn render(status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!("desk: template failed: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn message(status: StatusCode, t: Text) -> HttpResponse {
    render(
        status,
        &MessagePage {
            base: Base::anon(None, Some(t)),
        },
    )
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", to))
        .finish()
}

/// What a handler requires of the session.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// Stage.
    pub stage: Stage,
    /// Roles allowed; empty means any.
    pub roles: &'static [Role],
    /// A state change: cookie requests must carry the CSRF token.
    pub change: bool,
}

/// Any Full session, read only.
pub const ANY: Need = Need {
    stage: Stage::Full,
    roles: &[],
    change: false,
};
const ANY_CHANGE: Need = Need {
    stage: Stage::Full,
    roles: &[],
    change: true,
};
const ADMIN: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Admin],
    change: false,
};
const ADMIN_CHANGE: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Admin],
    change: true,
};
const AUDITORS: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor, Role::Admin],
    change: false,
};
const ENROL: Need = Need {
    stage: Stage::Enrol,
    roles: &[],
    change: false,
};
const ENROL_CHANGE: Need = Need {
    stage: Stage::Enrol,
    roles: &[],
    change: true,
};

fn cookie_name(st: &DeskState) -> &'static str {
    if st.cfg.desk.behind_tls {
        COOKIE_TLS
    } else {
        COOKIE_PLAIN
    }
}

/// The session token from the `Authorization: Bearer` header or the cookie.
fn token_of(req: &HttpRequest, st: &DeskState) -> Option<(SessionToken, bool)> {
    if let Some(v) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return SessionToken::parse(t).map(|t| (t, false));
    }
    let want = cookie_name(st);
    for h in req.headers().get_all("cookie") {
        let Ok(h) = h.to_str() else { continue };
        for part in h.split(';') {
            if let Some((k, v)) = part.trim().split_once('=')
                && k == want
            {
                return SessionToken::parse(v).map(|t| (t, true));
            }
        }
    }
    None
}

/// The gate: the acting session, or the response that refuses it. `csrf` is the submitted
/// form token of a state-changing request.
pub async fn authed(
    req: &HttpRequest,
    st: &DeskState,
    need: Need,
    csrf: Option<&str>,
) -> Result<Authed, HttpResponse> {
    let api = req.path().starts_with("/api/");
    // The JSON API answers in JSON, never with a redirect or a page.
    let api_error = |status: StatusCode, code: &str, why: Text| {
        let mut b = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            b.insert_header(("www-authenticate", "Bearer"));
        }
        b.json(
            serde_json::json!({"error": {"code": code, "message": why.id, "message_en": why.en}}),
        )
    };
    let refuse = |why: Text| {
        if api {
            api_error(StatusCode::UNAUTHORIZED, "unauthorized", why)
        } else {
            let m = if why == text::SESSION_EXPIRED {
                "expired"
            } else {
                "login"
            };
            see_other(&format!("{}?m={m}", paths::LOGIN))
        }
    };
    let Some((token, via_cookie)) = token_of(req, st) else {
        return Err(refuse(text::PLEASE_LOG_IN));
    };
    let current = match st.sessions.touch(&token) {
        Ok(c) => c,
        Err(Refused::Expired) => return Err(refuse(text::SESSION_EXPIRED)),
        Err(Refused::Unknown) => return Err(refuse(text::PLEASE_LOG_IN)),
    };
    // Disabled or reset elsewhere (`bisik user` runs in another process): end the session.
    let still = match (
        st.store.staff_by_id(&current.staff_id).await,
        st.store.staff_auth(&current.staff_id).await,
    ) {
        (Ok(Some(s)), Ok(Some(a))) => {
            !s.disabled && (current.stage == Stage::Enrol) == a.one_time.is_some()
        }
        _ => false,
    };
    if !still {
        st.sessions.destroy(&token);
        return Err(refuse(text::PLEASE_LOG_IN));
    }
    if api && current.stage != need.stage {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "enrol_first",
            text::ENROL_IN_BROWSER,
        ));
    }
    if api && !need.roles.is_empty() && !need.roles.contains(&current.role) {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            text::FORBIDDEN,
        ));
    }
    if api && need.change && via_cookie && !csrf_ok(&token, csrf) {
        return Err(api_error(StatusCode::FORBIDDEN, "csrf", text::CSRF));
    }
    if current.stage != need.stage {
        return Err(match current.stage {
            Stage::Enrol => see_other(paths::ENROL),
            Stage::Full => see_other(paths::HOME),
        });
    }
    if !need.roles.is_empty() && !need.roles.contains(&current.role) {
        return Err(message(StatusCode::FORBIDDEN, text::FORBIDDEN));
    }
    // A bearer token is never sent by a browser on its own, so only cookie requests can be
    // forged cross-site and only they need the form token.
    if need.change && via_cookie && !csrf_ok(&token, csrf) {
        return Err(message(StatusCode::FORBIDDEN, text::CSRF));
    }
    Ok(Authed {
        current,
        token,
        via_cookie,
        sessions: st.sessions.clone(),
    })
}

fn session_cookie(st: &DeskState, token: &SessionToken) -> String {
    let secure = if st.cfg.desk.behind_tls {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        cookie_name(st),
        token.to_hex().as_str()
    )
}

fn clear_cookie(st: &DeskState) -> String {
    let secure = if st.cfg.desk.behind_tls {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        cookie_name(st)
    )
}

/// Appends `event` to the audit log as `staff_id` (signed by their unlocked Ed25519 key when it
/// is certified, else by the service key in their name; [`Signer::Staff`]) or, without an
/// account, by the service key alone.
async fn audit_as(
    st: &DeskState,
    staff_id: Option<&str>,
    keys: Option<&StaffKeys>,
    event: Event,
) -> Result<(), AuditError> {
    // The service key never signs in the name of someone who holds a certified key (audit.rs:
    // that would let whoever holds it speak for them), so a failed login on such an account is
    // recorded without an actor.
    let mut staff_id = staff_id;
    if keys.is_none()
        && let Some(id) = staff_id.and_then(crate::domain::StaffId::parse)
        && st.audit.certified().await?.of_staff(id).is_some()
    {
        staff_id = None;
    }
    st.audit
        .append(&signer_for(staff_id, keys), event)
        .await
        .map(|_| ())
}

/// Who signs for `staff_id`: their own key when it is unlocked, else the service key in their
/// name (the audit log itself falls back to the service key for an uncertified key).
fn signer_for<'a>(staff_id: Option<&str>, keys: Option<&'a StaffKeys>) -> Signer<'a> {
    match (staff_id.and_then(crate::domain::StaffId::parse), keys) {
        (Some(id), Some(k)) => Signer::Staff {
            id,
            key: &k.ed25519,
        },
        (actor, _) => Signer::Service { actor },
    }
}

/// [`audit_as`] where the action goes on even if the log cannot be written (logins, logouts):
/// the failure is logged loudly instead.
pub(super) async fn audit_logged(
    st: &DeskState,
    staff_id: Option<&str>,
    keys: Option<&StaffKeys>,
    event: Event,
) {
    if let Err(e) = audit_as(st, staff_id, keys, event).await {
        tracing::error!("desk: cannot write the audit log: {e}");
    }
}

/// An account change by the admin `a`, recorded (and a supervisor revoked) as
/// [`super::certify::record_account_change`] says.
async fn account_change(
    st: &DeskState,
    a: &Authed,
    row: &crate::store::StaffRow,
    change: &str,
) -> Result<(), Text> {
    let keys = a.unlocked_keys();
    let signer = signer_for(Some(&a.current.staff_id), keys.as_ref());
    super::certify::record_account_change(&st.reports, &st.store, &st.audit, &signer, row, change)
        .await
        .map_err(|e| {
            tracing::error!("desk: cannot record an account change: {e}");
            text::INTERNAL
        })
}

/// A change the logged-in account made to itself (`keys_created` and `password_changed` at
/// enrolment, `password_changed` on the password page), recorded after it is done: like a
/// login, it stands even if the log cannot be written, which is logged loudly instead.
/// `keys` are the session's unlocked keys; none at enrolment, whose new keys are not
/// certified yet, so the service key signs in the account's name (or, for an account that still
/// holds a certified key from before a reset, without an actor; see [`audit_as`]).
async fn own_account_change(st: &DeskState, a: &Authed, keys: Option<&StaffKeys>, change: &str) {
    let Some(staff) = crate::domain::StaffId::parse(&a.current.staff_id) else {
        tracing::error!("desk: cannot audit an account change: a staff id is not a UUID");
        return;
    };
    let event = Event::AccountChanged {
        staff,
        change: change.into(),
    };
    audit_logged(st, Some(&a.current.staff_id), keys, event).await;
}

/// Query of the login page.
#[derive(Deserialize)]
pub struct LoginQuery {
    m: Option<String>,
}

/// GET /login
pub async fn login_form(q: web::Query<LoginQuery>) -> HttpResponse {
    let notice = match q.m.as_deref() {
        Some("expired") => Some(text::SESSION_EXPIRED),
        Some("login") => Some(text::PLEASE_LOG_IN),
        _ => None,
    };
    render(
        StatusCode::OK,
        &LoginPage {
            base: Base::anon(notice, None),
        },
    )
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: SecretString,
    #[serde(default)]
    totp: String,
}

/// POST /login
pub async fn login_submit(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if crate::web::body::is_cross_site(&req) {
        return message(StatusCode::FORBIDDEN, text::CROSS_SITE);
    }
    let f = form.into_inner();
    let page = |status, t| {
        render(
            status,
            &LoginPage {
                base: Base::anon(None, Some(t)),
            },
        )
    };
    let (token, to) = match st.login(&f.username, &f.password, &f.totp).await {
        Outcome::Full(staff, secrets) => {
            audit_logged(
                &st,
                Some(&staff.id),
                Some(&secrets.keys),
                Event::LoginSucceeded,
            )
            .await;
            (st.start_session(&staff, Some(&secrets)), paths::HOME)
        }
        Outcome::Enrol(staff) => {
            audit_logged(&st, Some(&staff.id), None, Event::LoginSucceeded).await;
            (st.start_session(&staff, None), paths::ENROL)
        }
        Outcome::Failed(staff) => {
            audit_logged(&st, staff.as_deref(), None, Event::LoginFailed).await;
            return page(StatusCode::OK, text::LOGIN_FAILED);
        }
        Outcome::Throttled(secs) => {
            let mut r = page(StatusCode::TOO_MANY_REQUESTS, text::LOGIN_THROTTLED);
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, v);
            }
            return r;
        }
        Outcome::Busy => return page(StatusCode::SERVICE_UNAVAILABLE, text::BUSY),
    };
    HttpResponse::SeeOther()
        .insert_header(("location", to))
        .insert_header(("set-cookie", session_cookie(&st, &token)))
        .finish()
}

/// A form whose only field is the CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// POST /logout: the session is destroyed and the browser told to forget everything.
pub async fn logout(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    // Either stage may log out.
    let a = match authed(&req, &st, ANY_CHANGE, form.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) if r.status() == StatusCode::SEE_OTHER => {
            match authed(&req, &st, ENROL_CHANGE, form.csrf.as_deref()).await {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        Err(r) => return r,
    };
    let keys = a.unlocked_keys();
    audit_logged(
        &st,
        Some(&a.current.staff_id),
        keys.as_ref(),
        Event::LoggedOut,
    )
    .await;
    drop(keys);
    st.sessions.destroy(&a.token);
    let mut r = render(
        StatusCode::OK,
        &LoginPage {
            base: Base::anon(Some(text::LOGGED_OUT), None),
        },
    );
    let h = r.headers_mut();
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&clear_cookie(&st)) {
        h.insert(actix_web::http::header::SET_COOKIE, v);
    }
    h.insert(
        actix_web::http::header::HeaderName::from_static("clear-site-data"),
        actix_web::http::header::HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    r
}

fn enrol_page(
    st: &DeskState,
    a: &Authed,
    error: Option<Text>,
    detail: Option<String>,
) -> HttpResponse {
    let secret = match st.sessions.pending_totp(&a.token) {
        Some(s) => s,
        None => {
            let s = totp::new_secret();
            st.sessions.set_pending_totp(&a.token, &s);
            s
        }
    };
    let svg = totp::qr_svg(&secret, &a.current.username);
    let svg = svg.find("<svg").map_or("", |i| &svg[i..]).to_owned();
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &EnrolPage {
            base: Base {
                error_detail: detail,
                ..Base::anon(None, error)
            },
            username: a.current.username.clone(),
            csrf: a.csrf(),
            qr_svg: svg,
            secret_text: totp::secret_text(&secret).to_string(),
        },
    )
}

/// GET /enrol: the new TOTP secret (QR and text) and the new-password form.
pub async fn enrol_form(req: HttpRequest, st: web::Data<DeskState>) -> HttpResponse {
    match authed(&req, &st, ENROL, None).await {
        Ok(a) => enrol_page(&st, &a, None, None),
        Err(r) => r,
    }
}

/// The enrolment form.
#[derive(Deserialize)]
pub struct EnrolForm {
    csrf: Option<String>,
    new_password: SecretString,
    confirm: SecretString,
    totp: String,
}

/// POST /enrol
pub async fn enrol_submit(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<EnrolForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, ENROL_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match st
        .enrol(
            &a.current.staff_id,
            &a.token,
            &f.new_password,
            &f.confirm,
            &f.totp,
        )
        .await
    {
        Ok(fp) => {
            own_account_change(&st, &a, None, "password_changed").await;
            own_account_change(&st, &a, None, "keys_created").await;
            let mut base = Base::of(&a);
            base.notice = Some(text::PASSWORD_CHANGED);
            let head = audit_head(&st, &a).await;
            home_page(base, &a, Some(fp), head)
        }
        Err(t) => {
            let detail = (t == text::PASSWORD_WEAK)
                .then(|| super::login::weakness_detail(&f.new_password, &a.current.username))
                .flatten();
            enrol_page(&st, &a, Some(t), detail)
        }
    }
}

/// The audit head for a supervisor (I6: the desk shows it at login, to compare with the office
/// logbook); `None` for other roles.
async fn audit_head(st: &DeskState, a: &Authed) -> Option<String> {
    if a.current.role != Role::Supervisor {
        return None;
    }
    match st.audit.head().await {
        Ok(h) => Some(h.to_string()),
        Err(e) => {
            tracing::error!("desk: cannot read the audit head: {e}");
            None
        }
    }
}

fn home_page(
    base: Base,
    a: &Authed,
    fingerprint: Option<String>,
    audit_head: Option<String>,
) -> HttpResponse {
    render(
        StatusCode::OK,
        &HomePage {
            base,
            username: a.current.username.clone(),
            role_id: a.current.role.label_id(),
            role_en: a.current.role.label_en(),
            fingerprint,
            audit_head,
        },
    )
}

async fn fingerprint(st: &DeskState, staff_id: &str) -> Option<String> {
    let k = st.store.active_staff_key(staff_id).await.ok()??;
    fingerprint_of(&k.x25519_public).ok()
}

/// GET /: who you are and your key fingerprint.
pub async fn home(req: HttpRequest, st: web::Data<DeskState>) -> HttpResponse {
    match authed(&req, &st, ANY, None).await {
        Ok(a) => {
            let fp = fingerprint(&st, &a.current.staff_id).await;
            let head = audit_head(&st, &a).await;
            home_page(Base::of(&a), &a, fp, head)
        }
        Err(r) => r,
    }
}

/// GET /api/v1/me: the session's account, for API clients with a bearer token.
pub async fn me(req: HttpRequest, st: web::Data<DeskState>) -> HttpResponse {
    match authed(&req, &st, ANY, None).await {
        Ok(a) => HttpResponse::Ok().json(serde_json::json!({
            "username": a.current.username,
            "role": a.current.role.as_str(),
            "fingerprint": fingerprint(&st, &a.current.staff_id).await,
        })),
        Err(r) => r,
    }
}

/// GET /password
pub async fn password_form(req: HttpRequest, st: web::Data<DeskState>) -> HttpResponse {
    match authed(&req, &st, ANY, None).await {
        Ok(a) => render(StatusCode::OK, &PasswordPage { base: Base::of(&a) }),
        Err(r) => r,
    }
}

/// The password change form.
#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    current: SecretString,
    new_password: SecretString,
    confirm: SecretString,
}

/// POST /password
pub async fn password_submit(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, ANY_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut base = Base::of(&a);
    let status = match st
        .change_password(&a.current.staff_id, &f.current, &f.new_password, &f.confirm)
        .await
    {
        Ok(()) => {
            let keys = a.unlocked_keys();
            own_account_change(&st, &a, keys.as_ref(), "password_changed").await;
            base.notice = Some(text::PASSWORD_CHANGED);
            StatusCode::OK
        }
        Err(t) => {
            if t == text::PASSWORD_WEAK {
                base.error_detail =
                    super::login::weakness_detail(&f.new_password, &a.current.username);
            }
            base.error = Some(t);
            StatusCode::BAD_REQUEST
        }
    };
    render(status, &PasswordPage { base })
}

async fn accounts_page(
    st: &DeskState,
    mut base: Base,
    status: StatusCode,
    one_time: Option<(String, String)>,
) -> HttpResponse {
    let mut rows = Vec::new();
    for s in st.store.list_staff().await.unwrap_or_default() {
        let role = Role::parse(&s.role).unwrap_or(Role::Investigator);
        let enrolled =
            matches!(st.store.staff_auth(&s.id).await, Ok(Some(a)) if a.one_time.is_none());
        rows.push(AccountLine {
            username: s.username,
            role_id: role.label_id(),
            role_en: role.label_en(),
            disabled: s.disabled,
            enrolled,
        });
    }
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        base.error = Some(text::INTERNAL);
    }
    render(
        status,
        &AccountsPage {
            base,
            rows,
            one_time,
        },
    )
}

/// GET /accounts (admin)
pub async fn accounts(req: HttpRequest, st: web::Data<DeskState>) -> HttpResponse {
    match authed(&req, &st, ADMIN, None).await {
        Ok(a) => accounts_page(&st, Base::of(&a), StatusCode::OK, None).await,
        Err(r) => r,
    }
}

/// The account forms.
#[derive(Deserialize)]
pub struct AccountForm {
    csrf: Option<String>,
    username: String,
    #[serde(default)]
    role: String,
}

fn account_error(e: &AccountError) -> Text {
    match e {
        AccountError::BadName => text::ACCOUNT_BAD_NAME,
        AccountError::Exists => text::ACCOUNT_EXISTS,
        AccountError::NoSuch => text::ACCOUNT_NO_SUCH,
        AccountError::BadRole => text::ACCOUNT_BAD_ROLE,
        AccountError::Store(_) | AccountError::Crypto(_) => text::INTERNAL,
    }
}

async fn one_time(st: &DeskState) -> Result<OneTime, Text> {
    let pepper = st.pepper.clone();
    let m = st.m_kib();
    st.kdf
        .run(move || OneTime::generate(&pepper, m))
        .await
        .map_err(|_| text::BUSY)?
        .map_err(|_| text::INTERNAL)
}

/// POST /accounts (admin): a new account and its one-time password, shown once.
pub async fn account_add(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<AccountForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, ADMIN_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let base = Base::of(&a);
    let result = async {
        let role = Role::parse(&f.role).ok_or(text::ACCOUNT_BAD_ROLE)?;
        let name = accounts::normalise_name(&f.username).map_err(|e| account_error(&e))?;
        let ot = one_time(&st).await?;
        let id = accounts::add(&st.store, &name, role, &ot)
            .await
            .map_err(|e| account_error(&e))?;
        let row = st
            .store
            .staff_by_id(&id)
            .await
            .ok()
            .flatten()
            .ok_or(text::INTERNAL)?;
        account_change(&st, &a, &row, "created").await?;
        tracing::info!("desk: an admin added an account");
        Ok::<_, Text>((name, ot.password.expose_secret().to_owned()))
    }
    .await;
    outcome_page(&st, base, result, text::ACCOUNT_ADDED).await
}

/// The accounts page after an add or reset: the one-time password once, or the reason.
async fn outcome_page(
    st: &DeskState,
    mut base: Base,
    result: Result<(String, String), Text>,
    done: Text,
) -> HttpResponse {
    match result {
        Ok(pair) => {
            base.notice = Some(done);
            accounts_page(st, base, StatusCode::OK, Some(pair)).await
        }
        Err(t) => {
            base.error = Some(t);
            accounts_page(st, base, StatusCode::BAD_REQUEST, None).await
        }
    }
}

/// POST /accounts/reset (admin)
pub async fn account_reset(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<AccountForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, ADMIN_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let base = Base::of(&a);
    let result = async {
        let row = accounts::find(&st.store, &f.username)
            .await
            .map_err(|e| account_error(&e))?;
        let ot = one_time(&st).await?;
        // Before the reset retires the key: a supervisor stops receiving new tips at once.
        account_change(&st, &a, &row, "password_reset").await?;
        let row = accounts::reset(&st.store, &f.username, &ot)
            .await
            .map_err(|e| account_error(&e))?;
        st.sessions.destroy_for(&row.id);
        // A reset enables a disabled account again: an account change of its own.
        if row.disabled {
            account_change(&st, &a, &row, "enabled").await?;
        }
        tracing::info!("desk: an admin reset an account");
        Ok::<_, Text>((row.username, ot.password.expose_secret().to_owned()))
    }
    .await;
    outcome_page(&st, base, result, text::ACCOUNT_RESET).await
}

/// POST /accounts/disable (admin)
pub async fn account_disable(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<AccountForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, ADMIN_CHANGE, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut base = Base::of(&a);
    // Audit and revoke first, then disable: when the audit log or the revocation cannot be
    // written, the account stays as it was and the admin sees the error, rather than a disabled
    // account whose keys the intake still trusts.
    let done = match accounts::find(&st.store, &f.username).await {
        Ok(row) => match account_change(&st, &a, &row, "disabled").await {
            Ok(()) => match accounts::disable(&st.store, &f.username).await {
                Ok(row) => {
                    st.sessions.destroy_for(&row.id);
                    Ok(row)
                }
                Err(e) => Err(account_error(&e)),
            },
            Err(t) => Err(t),
        },
        Err(e) => Err(account_error(&e)),
    };
    match done {
        Ok(_) => {
            tracing::info!("desk: an admin disabled an account");
            base.notice = Some(text::ACCOUNT_DISABLED);
            accounts_page(&st, base, StatusCode::OK, None).await
        }
        Err(t) => {
            base.error = Some(t);
            accounts_page(&st, base, StatusCode::BAD_REQUEST, None).await
        }
    }
}

/// Entries per audit page.
const AUDIT_PAGE: i64 = 50;

/// Query of the audit page: entries before this sequence number (the older page).
#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<u64>,
}

/// GET /audit (supervisors; admins see account events only): seq, day, actor, kind and
/// report id of each entry, newest first, [`AUDIT_PAGE`] raw entries per page.
pub async fn audit_log(
    req: HttpRequest,
    st: web::Data<DeskState>,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    let a = match authed(&req, &st, AUDITORS, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let admin = a.current.role == Role::Admin;
    let before = q
        .before
        .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let Ok(raw) = st.store.audit_rows_before(before, AUDIT_PAGE).await else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, text::INTERNAL);
    };
    let names = staff_names(&st).await;
    let older = (raw.len() as i64 == AUDIT_PAGE)
        .then(|| raw.last().map(|r| r.seq.max(0) as u64))
        .flatten();
    let mut rows = Vec::new();
    for r in &raw {
        let Ok(e) = super::audit::Entry::decode(&r.entry) else {
            continue;
        };
        if admin && !matches!(e.event, Event::AccountChanged { .. }) {
            continue;
        }
        rows.push(audit_line(&e, &names));
    }
    render(
        StatusCode::OK,
        &AuditPage {
            base: Base::of(&a),
            rows,
            admin_only_accounts: admin,
            older,
        },
    )
}

/// GET /desk.css
pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("../../templates/desk/desk.css"))
}
