//! The reporter's pages: server-rendered HTML with no JavaScript and no external resource, for
//! a cheap phone on slow data or Tor Browser at "Safest". Every page is a compiled askama
//! template (escaping by default) over the one string catalogue ([`crate::web::i18n::Intake`]);
//! every action goes through [`super::flows`], the same code the JSON API runs.
//!
//! Pages: home `/`, report form `/lapor` (GET, POST), after the code `/selesai`, code entry
//! `/cek` (GET, POST), the follow-up `/laporan` (GET), a reply `/laporan/pesan` (POST), remove
//! access `/laporan/hapus` (GET asks, POST does), log out `/keluar` (POST), and the stylesheet
//! `/static/bisik.css`. The language is `?lang=en` on any of them (default Bahasa Indonesia).
//!
//! Forms before a session (report, code entry) are refused when Origin or Sec-Fetch-Site says
//! cross-site, and carry a honeypot; forms within a session also need the session's CSRF token.
//! A code travels only in a POST body and on the code page, both `no-store` (I10).

pub mod resubmit;
pub mod session;

use super::IntakeState;
use super::flows::{self, FieldError, TipInput};
use super::reports::{self, Opened};
use crate::crypto::primitives::wipe_stack;
use crate::domain::ReporterStatus;
use crate::web::ApiError;
use crate::web::body::is_cross_site;
use crate::web::form::{Form, read_form};
use crate::web::i18n::{Intake, Lang};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use actix_web::web::{self, Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use resubmit::Resubmit;
use session::Sessions;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The page paths.
pub mod paths {
    /// Home.
    pub const HOME: &str = "/";
    /// The report form.
    pub const REPORT: &str = "/lapor";
    /// After the code was written down.
    pub const DONE: &str = "/selesai";
    /// Code entry.
    pub const CHECK: &str = "/cek";
    /// The follow-up (session).
    pub const VIEW: &str = "/laporan";
    /// A reply (session).
    pub const REPLY: &str = "/laporan/pesan";
    /// Remove access (session).
    pub const REVOKE: &str = "/laporan/hapus";
    /// Log out.
    pub const LOGOUT: &str = "/keluar";
    /// The stylesheet.
    pub const CSS: &str = "/static/bisik.css";
    /// All of them.
    pub const ALL: [&str; 9] = [HOME, REPORT, DONE, CHECK, VIEW, REPLY, REVOKE, LOGOUT, CSS];
}

/// The one stylesheet: small, self-hosted, no web font.
pub const STYLESHEET: &str = include_str!("../../../templates/intake/bisik.css");

/// Messages per page of the follow-up page (at most; `reporter.messages_per_page` if lower):
/// five messages of 5,000 characters keep the page near 30 KB.
const HTML_MESSAGES_PER_PAGE: i64 = 5;

/// The honeypot field's name: a field people never see (the stylesheet moves it off screen).
const HONEYPOT: &str = "url";

/// What the pages keep in memory: sessions and the resubmission map.
pub struct PageState {
    /// Follow-up sessions.
    pub sessions: Sessions,
    /// Form token -> code.
    pub resubmit: Resubmit,
}

impl PageState {
    /// Builds the state and starts the sweeper that drops expired sessions and old form
    /// tokens once a second.
    pub fn start(idle: Duration, absolute: Duration, resubmit: Duration) -> Arc<PageState> {
        let state = Arc::new(PageState {
            sessions: Sessions::new(idle, absolute),
            resubmit: Resubmit::new(resubmit),
        });
        let weak = Arc::downgrade(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(s) = weak.upgrade() else { break };
                s.sessions.sweep();
                s.resubmit.sweep();
            }
        });
        state
    }
}

/// Registers the page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::web::error::method_not_allowed;
    cfg.service(
        web::resource(paths::HOME)
            .route(web::get().to(home))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::REPORT)
            .route(web::get().to(report_form))
            .route(web::post().to(report_submit))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource(paths::DONE)
            .route(web::get().to(done))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::CHECK)
            .route(web::get().to(check_form))
            .route(web::post().to(check_submit))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource(paths::VIEW)
            .route(web::get().to(view))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::REPLY)
            .route(web::post().to(reply))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REVOKE)
            .route(web::get().to(revoke_ask))
            .route(web::post().to(revoke_do))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource(paths::LOGOUT)
            .route(web::post().to(logout))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::CSS)
            .route(web::get().to(stylesheet))
            .default_service(method_not_allowed("GET")),
    );
}

/// What every page shows around its content.
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// Its strings.
    pub t: &'static Intake,
    /// `""` or `?lang=en`, for links and form actions.
    pub q: &'static str,
    /// The page title.
    pub title: &'static str,
    /// The quick-exit link.
    pub quick_exit: String,
    /// The unit's name.
    pub unit: String,
    /// Whether the request came through a tor2web proxy.
    pub tor2web: bool,
    /// The same page in the other language, where a GET can show it.
    pub switch: Option<String>,
}

/// True when a tor2web proxy relayed the request: it says so in `X-Tor2web`, or the Host is an
/// onion name under a clearnet domain (`xyz.onion.ws`). Read, never logged.
pub fn via_tor2web(req: &HttpRequest) -> bool {
    let h = req.headers();
    if h.contains_key("x-tor2web") {
        return true;
    }
    let host = h
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or("");
    host.contains(".onion.") || host.contains("tor2web")
}

fn chrome(
    st: &IntakeState,
    req: &HttpRequest,
    lang: Lang,
    title: fn(&Intake) -> &'static str,
    switch_path: Option<&str>,
) -> Chrome {
    let t = Intake::get(lang);
    Chrome {
        lang,
        t,
        q: lang.query(),
        title: title(t),
        quick_exit: st.cfg.reporter.quick_exit_url.clone(),
        unit: st.cfg.unit.name.clone(),
        tor2web: via_tor2web(req),
        switch: switch_path.map(|p| format!("{p}{}", lang.other().query())),
    }
}

/// A rendered page, into a buffer that is zeroed when freed (pages carry codes and texts).
fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    let body = Zeroizing::new(page.render().unwrap_or_else(|e| {
        tracing::error!("a page did not render: {e}");
        String::new()
    }));
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(web::Bytes::copy_from_slice(body.as_bytes()))
}

/// 303 to a page (after a POST, so reloading does not send it again).
fn see_other(to: String) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((LOCATION, to));
    b
}

#[derive(Template)]
#[template(path = "intake/home.html")]
struct Home {
    c: Chrome,
    onion: Option<String>,
}

#[derive(Template)]
#[template(path = "intake/notice.html")]
struct Notice {
    c: Chrome,
    heading: &'static str,
    paras: Vec<String>,
    alert: bool,
    link: (String, &'static str),
}

/// One field of the report form.
struct Field {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    value: String,
    error: Option<String>,
    required: bool,
    /// 0: a one-line input; otherwise a textarea of this many rows.
    rows: u8,
    /// Non-empty: a select with these (value, label, selected).
    options: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "intake/form.html")]
struct ReportForm {
    c: Chrome,
    token: String,
    fields: Vec<Field>,
    has_errors: bool,
    hp: &'static str,
}

#[derive(Template)]
#[template(path = "intake/code.html")]
struct CodePage {
    c: Chrome,
    groups: Vec<String>,
}

#[derive(Template)]
#[template(path = "intake/check.html")]
struct CheckForm {
    c: Chrome,
    error: Option<String>,
    hp: &'static str,
}

/// A message as shown.
struct Shown {
    mine: bool,
    from: &'static str,
    day: String,
    body: String,
}

#[derive(Template)]
#[template(path = "intake/view.html")]
struct View {
    c: Chrome,
    status: &'static str,
    messages: Vec<Shown>,
    newer: Option<String>,
    older: Option<String>,
    csrf: String,
    reply_token: String,
    reply_value: String,
    reply_error: Option<String>,
    sent: bool,
}

#[derive(Template)]
#[template(path = "intake/revoke.html")]
struct RevokeAsk {
    c: Chrome,
    csrf: String,
}

fn notice(
    st: &IntakeState,
    req: &HttpRequest,
    lang: Lang,
    status: StatusCode,
    heading: fn(&Intake) -> &'static str,
    paras: Vec<String>,
    alert: bool,
) -> HttpResponse {
    let c = chrome(st, req, lang, heading, None);
    let link = (format!("/{}", c.q), c.t.back_home);
    html(
        status,
        &Notice {
            heading: c.title,
            c,
            paras,
            alert,
            link,
        },
    )
}

/// An error from the shared flows, as a page.
fn error_page(st: &IntakeState, req: &HttpRequest, lang: Lang, e: &ApiError) -> HttpResponse {
    let mut res = notice(
        st,
        req,
        lang,
        e.status,
        |t| t.error_title,
        vec![api_text(e, lang)],
        true,
    );
    if let Some(s) = e.retry_after {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(s),
        );
    }
    res
}

fn api_text(e: &ApiError, lang: Lang) -> String {
    match lang {
        Lang::Id => e.id,
        Lang::En => e.en,
    }
    .to_owned()
}

fn cross_site_page(st: &IntakeState, req: &HttpRequest, lang: Lang) -> HttpResponse {
    let t = Intake::get(lang);
    notice(
        st,
        req,
        lang,
        StatusCode::FORBIDDEN,
        |t| t.error_title,
        vec![t.cross_site_body.to_owned()],
        true,
    )
}

/// A filled honeypot: refused, and said so plainly, never a fake success (a reporter whose
/// browser autofilled it must know the tip did not go through).
fn honeypot_page(st: &IntakeState, req: &HttpRequest, lang: Lang) -> HttpResponse {
    let t = Intake::get(lang);
    notice(
        st,
        req,
        lang,
        StatusCode::BAD_REQUEST,
        |t| t.hp_title,
        vec![t.hp_body.to_owned()],
        true,
    )
}

fn expired_page(st: &IntakeState, req: &HttpRequest, lang: Lang) -> HttpResponse {
    let t = Intake::get(lang);
    let c = chrome(st, req, lang, |t| t.expired_title, None);
    let link = (format!("{}{}", paths::CHECK, c.q), t.btn_check);
    html(
        StatusCode::FORBIDDEN,
        &Notice {
            heading: c.title,
            c,
            paras: vec![t.expired_body.to_owned()],
            alert: false,
            link,
        },
    )
}

fn limits(st: &IntakeState) -> (usize, Duration) {
    (
        st.cfg.limits.body_bytes,
        Duration::from_secs(st.cfg.limits.request_timeout_secs),
    )
}

async fn home(st: Data<IntakeState>, req: HttpRequest) -> HttpResponse {
    let lang = Lang::from_request(&req);
    html(
        StatusCode::OK,
        &Home {
            c: chrome(&st, &req, lang, |t| t.home_title, Some(paths::HOME)),
            onion: st.cfg.reporter.onion_address.clone(),
        },
    )
}

async fn done(st: Data<IntakeState>, req: HttpRequest) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let t = Intake::get(lang);
    notice(
        &st,
        &req,
        lang,
        StatusCode::OK,
        |t| t.done_title,
        vec![t.done_body.to_owned(), t.done_history.to_owned()],
        false,
    )
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
        .body(STYLESHEET)
}

/// The 404 for a path that is not a page; paths under /api/ keep the JSON 404.
pub async fn not_found(st: Data<IntakeState>, req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") {
        return crate::web::error::not_found(req).await;
    }
    let lang = Lang::from_request(&req);
    let t = Intake::get(lang);
    notice(
        &st,
        &req,
        lang,
        StatusCode::NOT_FOUND,
        |t| t.notfound_title,
        vec![t.notfound_body.to_owned()],
        false,
    )
}

/// The text a page shows for a field's refusal.
fn field_message(t: &Intake, lang: Lang, e: &FieldError) -> String {
    match e.error.code {
        "field_too_long" => t.err_too_long.replace("{max}", &e.max.to_string()),
        "invalid_characters" => t.err_characters.to_owned(),
        "contains_code" => t.err_contains_code.to_owned(),
        "description_required" => t.err_description_required.to_owned(),
        "unknown_choice" => t.err_unknown_choice.to_owned(),
        _ => api_text(&e.error, lang),
    }
}

fn form_page(
    st: &IntakeState,
    req: &HttpRequest,
    lang: Lang,
    token: String,
    form: Option<&Form>,
    errors: &[FieldError],
) -> ReportForm {
    let c = chrome(st, req, lang, |t| t.form_title, Some(paths::REPORT));
    let t = c.t;
    let typed = |name: &str| {
        form.and_then(|f| f.get(name))
            .unwrap_or_default()
            .to_owned()
    };
    let error = |name: &str| {
        errors
            .iter()
            .find(|e| e.field == name)
            .map(|e| field_message(t, lang, e))
    };
    let label = |l: &crate::config::Label| match lang {
        Lang::Id => l.id.clone(),
        Lang::En => l.en.clone(),
    };
    let category = typed("category");
    let area = typed("area");
    let default_category = if st.cfg.categories.iter().any(|c| c.id == "lainnya") {
        "lainnya".to_owned()
    } else {
        st.cfg.categories[st.cfg.categories.len() - 1].id.clone()
    };
    let category = if category.is_empty() {
        default_category
    } else {
        category
    };
    let mut areas = vec![(String::new(), t.f_area_none.to_owned(), area.is_empty())];
    areas.extend(
        st.cfg
            .areas
            .iter()
            .map(|a| (a.id.clone(), label(&a.label), a.id == area)),
    );
    let text = |name: &'static str, label, help, rows, required| Field {
        name,
        label,
        help,
        value: typed(name),
        error: error(name),
        required,
        rows,
        options: vec![],
    };
    let fields = vec![
        Field {
            name: "category",
            label: t.f_category,
            help: t.f_category_help,
            value: String::new(),
            error: error("category"),
            required: false,
            rows: 0,
            options: st
                .cfg
                .categories
                .iter()
                .map(|x| (x.id.clone(), label(&x.label), x.id == category))
                .collect(),
        },
        Field {
            name: "area",
            label: t.f_area,
            help: t.f_area_help,
            value: String::new(),
            error: error("area"),
            required: false,
            rows: 0,
            options: areas,
        },
        text("location", t.f_location, t.f_location_help, 0, false),
        text("when", t.f_when, t.f_when_help, 0, false),
        text("people", t.f_people, t.f_people_help, 3, false),
        text("vehicles", t.f_vehicles, t.f_vehicles_help, 2, false),
        text(
            "description",
            t.f_description,
            t.f_description_help,
            8,
            true,
        ),
    ];
    ReportForm {
        c,
        token,
        has_errors: !errors.is_empty(),
        fields,
        hp: HONEYPOT,
    }
}

async fn report_form(st: Data<IntakeState>, req: HttpRequest) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let page = form_page(&st, &req, lang, resubmit::new_token(), None, &[]);
    html(StatusCode::OK, &page)
}

fn code_page(st: &IntakeState, req: &HttpRequest, lang: Lang, code: &str) -> HttpResponse {
    let groups = code.split(' ').map(str::to_owned).collect();
    html(
        StatusCode::OK,
        &CodePage {
            c: chrome(st, req, lang, |t| t.code_title, None),
            groups,
        },
    )
}

async fn report_submit(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let res = report_submit_inner(&st, &req, payload).await;
    wipe_stack();
    res
}

async fn report_submit_inner(
    st: &IntakeState,
    req: &HttpRequest,
    payload: Payload,
) -> HttpResponse {
    let lang = Lang::from_request(req);
    if is_cross_site(req) {
        return cross_site_page(st, req, lang);
    }
    let (limit, timeout) = limits(st);
    let form = match read_form(req, payload, limit, timeout).await {
        Ok(f) => f,
        Err(e) => return error_page(st, req, lang, &e),
    };
    if form.filled(HONEYPOT).is_some() {
        return honeypot_page(st, req, lang);
    }
    let Some(token) = form.get("token").and_then(resubmit::parse_token) else {
        let t = Intake::get(lang);
        return notice(
            st,
            req,
            lang,
            StatusCode::BAD_REQUEST,
            |t| t.error_title,
            vec![t.err_form_expired.to_owned()],
            true,
        );
    };
    // A second send of the same form waits here for the first, then shows its code.
    let slot = st.pages.resubmit.slot(token);
    let mut guard = match &slot {
        Some(s) => Some(s.clone().lock_owned().await),
        None => None,
    };
    if let Some(code) = guard.as_ref().and_then(|g| g.as_ref()) {
        return code_page(st, req, lang, code);
    }
    let input = TipInput {
        category: form.get("category"),
        area: form.get("area"),
        description: form.get("description"),
        location: form.get("location"),
        when: form.get("when"),
        people: form.get("people"),
        vehicles: form.get("vehicles"),
    };
    let tip = match flows::validate_tip(&st.cfg, &input) {
        Ok(tip) => tip,
        Err(errors) => {
            let page = form_page(st, req, lang, hex::encode(token), Some(&form), &errors);
            return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    drop(form);
    match flows::submit(st, tip).await {
        Ok(code) => {
            let res = code_page(st, req, lang, &code);
            if let Some(g) = guard.as_mut() {
                **g = Some(code);
            }
            res
        }
        Err(e) => error_page(st, req, lang, &e),
    }
}

fn check_page(
    st: &IntakeState,
    req: &HttpRequest,
    lang: Lang,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    html(
        status,
        &CheckForm {
            c: chrome(st, req, lang, |t| t.check_title, Some(paths::CHECK)),
            error,
            hp: HONEYPOT,
        },
    )
}

async fn check_form(st: Data<IntakeState>, req: HttpRequest) -> HttpResponse {
    let lang = Lang::from_request(&req);
    check_page(&st, &req, lang, StatusCode::OK, None)
}

async fn check_submit(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let res = check_submit_inner(&st, &req, payload).await;
    wipe_stack();
    res
}

async fn check_submit_inner(st: &IntakeState, req: &HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(req);
    if is_cross_site(req) {
        return cross_site_page(st, req, lang);
    }
    let (limit, timeout) = limits(st);
    let form = match read_form(req, payload, limit, timeout).await {
        Ok(f) => f,
        Err(e) => return error_page(st, req, lang, &e),
    };
    if form.filled(HONEYPOT).is_some() {
        return honeypot_page(st, req, lang);
    }
    let opened = match flows::open_code(st, form.get("code").unwrap_or("")).await {
        Ok(o) => o,
        Err(e) => {
            let mut res = check_page(st, req, lang, e.status, Some(api_text(&e, lang)));
            if let Some(s) = e.retry_after {
                res.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(s),
                );
            }
            return res;
        }
    };
    drop(form);
    if let Some(old) = session::cookie_value(req) {
        st.pages.sessions.end(&old);
    }
    let Some(value) = st.pages.sessions.create(opened.id, &opened.k_r) else {
        return error_page(
            st,
            req,
            lang,
            &ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Layanan sedang sibuk. Coba lagi sebentar lagi.",
                "The service is busy. Please try again shortly.",
            )
            .retry_after(5),
        );
    };
    let cookie = session::set_cookie(&value);
    see_other(format!("{}{}", paths::VIEW, lang.query()))
        .insert_header((SET_COOKIE, cookie.as_str()))
        .finish()
}

/// The open session of a request, or the page that says it has ended.
fn live(
    st: &IntakeState,
    req: &HttpRequest,
    lang: Lang,
) -> Result<session::Live, Box<HttpResponse>> {
    session::cookie_value(req)
        .and_then(|v| st.pages.sessions.open(&v))
        .ok_or_else(|| Box::new(expired_page(st, req, lang)))
}

fn query_value<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.query_string()
        .split('&')
        .find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name))
        .map(|(_, v)| v)
}

struct ViewExtras {
    page: u32,
    sent: bool,
    reply_value: String,
    reply_error: Option<String>,
    status: StatusCode,
}

async fn render_view(
    st: &IntakeState,
    req: &HttpRequest,
    lang: Lang,
    live: &session::Live,
    opened: &Opened,
    x: ViewExtras,
) -> HttpResponse {
    let per = st
        .cfg
        .reporter
        .messages_per_page
        .min(HTML_MESSAGES_PER_PAGE);
    let view = match reports::reporter_view_paged(st, opened, x.page, per).await {
        Ok(v) => v,
        Err(e) => return error_page(st, req, lang, &ApiError::internal(e)),
    };
    let c = chrome(st, req, lang, |t| t.view_title, Some(paths::VIEW));
    let t = c.t;
    let status = match view.status {
        ReporterStatus::Received => t.status_received,
        ReporterStatus::NeedsInfo => t.status_needs_info,
        ReporterStatus::Closed => t.status_closed,
    };
    let amp = if lang == Lang::En { "&lang=en" } else { "" };
    let page_href = |p: u32| {
        if p == 0 {
            format!("{}{}", paths::VIEW, lang.query())
        } else {
            format!("{}?hal={p}{amp}", paths::VIEW)
        }
    };
    let messages = view
        .messages
        .into_iter()
        .map(|m| {
            let mine = m.from == "reporter";
            Shown {
                mine,
                from: if mine { t.from_reporter } else { t.from_staff },
                day: m.day,
                body: m.body,
            }
        })
        .collect();
    html(
        x.status,
        &View {
            c,
            status,
            messages,
            newer: (x.page > 0).then(|| page_href(x.page - 1)),
            older: (view.older > 0).then(|| page_href(x.page + 1)),
            csrf: live.csrf.to_string(),
            reply_token: resubmit::new_token(),
            reply_value: x.reply_value,
            reply_error: x.reply_error,
            sent: x.sent,
        },
    )
}

async fn view(st: Data<IntakeState>, req: HttpRequest) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let live = match live(&st, &req, lang) {
        Ok(l) => l,
        Err(page) => return *page,
    };
    let page = query_value(&req, "hal")
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(0)
        .min(100_000);
    let opened = Opened {
        id: live.report,
        k_r: live.k_r.clone(),
    };
    let res = render_view(
        &st,
        &req,
        lang,
        &live,
        &opened,
        ViewExtras {
            page,
            sent: query_value(&req, "terkirim") == Some("1"),
            reply_value: String::new(),
            reply_error: None,
            status: StatusCode::OK,
        },
    )
    .await;
    drop(opened);
    drop(live);
    wipe_stack();
    res
}

/// The session and form of a POST within a session, after the cross-site, session and CSRF
/// checks; or the page that refuses it.
async fn session_post(
    st: &IntakeState,
    req: &HttpRequest,
    payload: Payload,
    lang: Lang,
) -> Result<(session::Live, Form), Box<HttpResponse>> {
    if is_cross_site(req) {
        return Err(Box::new(cross_site_page(st, req, lang)));
    }
    let live = live(st, req, lang)?;
    let (limit, timeout) = limits(st);
    let form = read_form(req, payload, limit, timeout)
        .await
        .map_err(|e| Box::new(error_page(st, req, lang, &e)))?;
    if !live.csrf_ok(form.get("csrf")) {
        let t = Intake::get(lang);
        return Err(Box::new(notice(
            st,
            req,
            lang,
            StatusCode::FORBIDDEN,
            |t| t.error_title,
            vec![t.csrf_body.to_owned()],
            true,
        )));
    }
    Ok((live, form))
}

async fn reply(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let res = reply_inner(&st, &req, payload).await;
    wipe_stack();
    res
}

async fn reply_inner(st: &IntakeState, req: &HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(req);
    let (live, form) = match session_post(st, req, payload, lang).await {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let opened = Opened {
        id: live.report,
        k_r: live.k_r.clone(),
    };
    let typed = form.get("body").unwrap_or_default();
    let result = async {
        let text = flows::message_text(typed)?;
        flows::messages_accepted(st)?;
        let key = form
            .get("token")
            .filter(|k| resubmit::parse_token(k).is_some());
        flows::add_message(st, &opened, text, key).await
    }
    .await;
    match result {
        Ok(_) => {
            let amp = if lang == Lang::En { "&lang=en" } else { "" };
            see_other(format!("{}?terkirim=1{amp}", paths::VIEW)).finish()
        }
        Err(e) => {
            let t = Intake::get(lang);
            let message = match e.code {
                "body_required" => t.err_reply_required.to_owned(),
                "contains_code" => t.err_contains_code.to_owned(),
                "field_too_long" => t
                    .err_too_long
                    .replace("{max}", &flows::MESSAGE_MAX.to_string()),
                "invalid_characters" => t.err_characters.to_owned(),
                _ => api_text(&e, lang),
            };
            render_view(
                st,
                req,
                lang,
                &live,
                &opened,
                ViewExtras {
                    page: 0,
                    sent: false,
                    reply_value: typed.to_owned(),
                    reply_error: Some(message),
                    status: e.status,
                },
            )
            .await
        }
    }
}

async fn revoke_ask(st: Data<IntakeState>, req: HttpRequest) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let live = match live(&st, &req, lang) {
        Ok(l) => l,
        Err(page) => return *page,
    };
    let res = html(
        StatusCode::OK,
        &RevokeAsk {
            c: chrome(&st, &req, lang, |t| t.revoke_title, Some(paths::REVOKE)),
            csrf: live.csrf.to_string(),
        },
    );
    drop(live);
    wipe_stack();
    res
}

async fn revoke_do(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let (live, _form) = match session_post(&st, &req, payload, lang).await {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let opened = Opened {
        id: live.report,
        k_r: live.k_r.clone(),
    };
    if let Err(e) = flows::revoke(&st, &opened).await {
        return error_page(&st, &req, lang, &e);
    }
    st.pages.sessions.end_report(live.report);
    drop((opened, live));
    let t = Intake::get(lang);
    let mut res = notice(
        &st,
        &req,
        lang,
        StatusCode::OK,
        |t| t.revoked_title,
        vec![t.revoked_body.to_owned()],
        false,
    );
    clear(&mut res);
    wipe_stack();
    res
}

fn clear(res: &mut HttpResponse) {
    res.headers_mut().insert(
        SET_COOKIE,
        actix_web::http::header::HeaderValue::from_str(&session::clear_cookie())
            .expect("a fixed cookie"),
    );
}

async fn logout(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(&req);
    if session::cookie_value(&req)
        .and_then(|v| st.pages.sessions.open(&v))
        .is_some()
    {
        // A live session needs its CSRF token to end: another site cannot log a reporter out.
        match session_post(&st, &req, payload, lang).await {
            Ok(_) => {}
            Err(page) => return *page,
        }
    } else if is_cross_site(&req) {
        return cross_site_page(&st, &req, lang);
    }
    if let Some(v) = session::cookie_value(&req) {
        st.pages.sessions.end(&v);
    }
    let t = Intake::get(lang);
    let mut res = notice(
        &st,
        &req,
        lang,
        StatusCode::OK,
        |t| t.logout_title,
        vec![t.logout_body.to_owned()],
        false,
    );
    clear(&mut res);
    wipe_stack();
    res
}
