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
use super::upload;
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
use zeroize::{Zeroize, Zeroizing};

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

/// Every intake page stays within this many bytes of HTML (issue 8: "at most 30 KB before
/// images"; tests/integration/pages.rs measures against the same figure).
pub const PAGE_BOUND: usize = 30 * 1024;

/// What the follow-up page may spend on everything but its message bodies and a reply typed
/// back into the form, in the worst case: the chrome with the quick-exit link and the unit name
/// at their validated maximums ([`crate::config::QUICK_EXIT_URL_MAX`],
/// [`crate::config::UNIT_NAME_MAX`]) and the tor2web warning, the longest status, both page
/// links, a notice and an error, the forms and their tokens. The unit test
/// `the_worst_frame_fits_its_reserve` renders that case in both languages.
pub const FRAME_RESERVE: usize = 5 * 1024;

/// What one message costs beyond its escaped body and day: its list item and the meta line
/// with the longer sender label of either language (checked by rendering, in
/// `message_costs_cover_what_a_page_renders`).
const MESSAGE_MARKUP: usize = 128;

/// The bytes a follow-up page's messages may take; a reply typed back into the form takes its
/// share out of it.
///
/// Why a message always fits on a page alone: askama escapes `<`, `>`, `&`, `"` and `'` as five
/// bytes each (`&#60;`), and no other character takes more than four bytes of UTF-8, so no text
/// grows past five bytes a character. The longest message a reporter can send is
/// [`flows::MESSAGE_MAX`] = 5,000 characters: at most 25,000 bytes escaped, plus its day
/// (`YYYY-MM-DD`, 10 bytes) and [`MESSAGE_MARKUP`] (128) is 25,138 bytes, under this budget of
/// 30,720 − 5,120 = 25,600. A refused reply is typed back cut to the same 5,000 characters, so
/// it too fits with no message beside it. The desk writes no message to the reporter yet; when
/// it does it must keep to the same limit (a longer one would still be shown, alone on its
/// page, over the bound). The `const` below fails the build if these numbers stop adding up.
pub const MESSAGES_BUDGET: usize = PAGE_BOUND - FRAME_RESERVE;

/// No text grows past this many bytes a character once askama has escaped it.
const ESCAPE_MAX: usize = 5;

const _: () = assert!(
    ESCAPE_MAX * flows::MESSAGE_MAX + "YYYY-MM-DD".len() + MESSAGE_MARKUP <= MESSAGES_BUDGET
);

/// The bytes `s` takes once askama has escaped it for HTML (askama's own escaper, counted).
pub fn escaped_len(s: &str) -> usize {
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut n = Count(0);
    // Counting cannot fail.
    let _ = askama::filters::Escaper::write_escaped_str(&askama::filters::Html, &mut n, s);
    n.0
}

/// What a message costs of [`MESSAGES_BUDGET`]. It is the same in both languages (the markup
/// allows for the longer label), so a page number shows the same messages in either.
fn message_cost(m: &reports::ReporterMessage) -> usize {
    MESSAGE_MARKUP + escaped_len(&m.body) + escaped_len(&m.day)
}

/// A refused reply as typed back into the form: at most [`flows::MESSAGE_MAX`] characters (a
/// longer one is why it was refused, and whole it could outweigh the page), and whether it was
/// cut.
fn typed_back(typed: &str) -> (String, bool) {
    match typed.char_indices().nth(flows::MESSAGE_MAX) {
        Some((i, _)) => (typed[..i].to_owned(), true),
        None => (typed.to_owned(), false),
    }
}

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
    /// The refused send carried files: a browser never fills a file input again, so the
    /// reporter is told to choose them again rather than find them gone after sending.
    files_lost: bool,
    hp: &'static str,
    /// File inputs `file1` .. `fileN` (none when attachments are off).
    files: Vec<usize>,
    /// Whether any type needs a per-file consent box (`attachments.consent_types`).
    consent: bool,
    /// Largest file, in MB, for the help text.
    max_mib: u64,
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
    /// Whether the reply form offers a file input (attachments on).
    files: bool,
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
        files_lost: false,
        fields,
        hp: HONEYPOT,
        files: (1..=st.cfg.attachments.max_files).collect(),
        consent: !st.cfg.attachments.consent_types.is_empty(),
        max_mib: st.cfg.attachments.max_file_mib,
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
    // The form is multipart when it carries files (issue 9); a client without files may still
    // send it urlencoded.
    let (form, files) = if crate::web::body::content_type_is(req, "multipart/form-data")
        && st.cfg.attachments.max_files > 0
    {
        match upload::read_multipart(st, req, payload).await {
            Ok(up) => {
                if let Err(e) = upload::check(st, &up) {
                    return error_page(st, req, lang, &e);
                }
                (up.form, up.files)
            }
            Err(e) => return error_page(st, req, lang, &e),
        }
    } else {
        match read_form(req, payload, limit, timeout).await {
            Ok(f) => (f, Vec::new()),
            Err(e) => return error_page(st, req, lang, &e),
        }
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
            let mut page = form_page(st, req, lang, hex::encode(token), Some(&form), &errors);
            page.files_lost = !files.is_empty();
            return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    drop(form);
    match flows::submit(st, tip, files).await {
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
    let max_count = usize::try_from(st.cfg.reporter.messages_per_page).unwrap_or(1);
    let view = match reports::reporter_view_sized(
        st,
        opened,
        x.page,
        max_count,
        MESSAGES_BUDGET,
        message_cost,
    )
    .await
    {
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
    // A reply typed back takes its bytes from the messages: only the newest of the page that
    // still fit are shown, and then "older" leads to the page itself, where the rest are.
    let mut left = MESSAGES_BUDGET.saturating_sub(escaped_len(&x.reply_value));
    let mut cut = false;
    let mut messages = Vec::with_capacity(view.messages.len());
    for mut m in view.messages {
        let cost = message_cost(&m);
        if cut || cost > left {
            cut = true;
            m.body.zeroize();
            continue;
        }
        left -= cost;
        let mine = m.from == "reporter";
        messages.push(Shown {
            mine,
            from: if mine { t.from_reporter } else { t.from_staff },
            day: m.day,
            body: m.body,
        });
    }
    let older = if cut {
        Some(page_href(x.page))
    } else {
        (view.older > 0).then(|| page_href(x.page + 1))
    };
    html(
        x.status,
        &View {
            c,
            status,
            messages,
            newer: (x.page > 0).then(|| page_href(x.page - 1)),
            older,
            csrf: live.csrf.to_string(),
            reply_token: resubmit::new_token(),
            reply_value: x.reply_value,
            reply_error: x.reply_error,
            sent: x.sent,
            files: st.cfg.attachments.max_files > 0,
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
) -> Result<(session::Live, Form, Vec<upload::Spooled>), Box<HttpResponse>> {
    if is_cross_site(req) {
        return Err(Box::new(cross_site_page(st, req, lang)));
    }
    let live = live(st, req, lang)?;
    let (limit, timeout) = limits(st);
    // The reply form carries a file input (issue 9), so it may come as multipart.
    let (form, files) = if crate::web::body::content_type_is(req, "multipart/form-data")
        && st.cfg.attachments.max_files > 0
    {
        let up = upload::read_multipart(st, req, payload)
            .await
            .map_err(|e| Box::new(error_page(st, req, lang, &e)))?;
        (up.form, up.files)
    } else {
        let f = read_form(req, payload, limit, timeout)
            .await
            .map_err(|e| Box::new(error_page(st, req, lang, &e)))?;
        (f, Vec::new())
    };
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
    Ok((live, form, files))
}

async fn reply(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let res = reply_inner(&st, &req, payload).await;
    wipe_stack();
    res
}

async fn reply_inner(st: &IntakeState, req: &HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(req);
    let (live, form, files) = match session_post(st, req, payload, lang).await {
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
        let up = upload::Upload {
            form: Form::default(),
            files,
        };
        upload::check(st, &up)?;
        flows::add_message(st, &opened, text, up.files, key).await
    }
    .await;
    match result {
        Ok(_) => {
            let amp = if lang == Lang::En { "&lang=en" } else { "" };
            see_other(format!("{}?terkirim=1{amp}", paths::VIEW)).finish()
        }
        Err(e) => {
            let t = Intake::get(lang);
            let max = flows::MESSAGE_MAX.to_string();
            let (reply_value, cut) = typed_back(typed);
            let mut message = match e.code {
                "body_required" => t.err_reply_required.to_owned(),
                "contains_code" => t.err_contains_code.to_owned(),
                "field_too_long" => t.err_too_long.replace("{max}", &max),
                "invalid_characters" => t.err_characters.to_owned(),
                _ => api_text(&e, lang),
            };
            if cut {
                message = format!("{message} {}", t.err_reply_cut.replace("{max}", &max));
            }
            render_view(
                st,
                req,
                lang,
                &live,
                &opened,
                ViewExtras {
                    page: 0,
                    sent: false,
                    reply_value,
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
    let (live, _form, _) = match session_post(&st, &req, payload, lang).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{QUICK_EXIT_URL_MAX, UNIT_NAME_MAX};

    /// The chrome at its heaviest: tor2web warning, and the quick-exit link and the unit name at
    /// their longest, made of characters that escape to five bytes.
    fn worst_chrome(lang: Lang) -> Chrome {
        let t = Intake::get(lang);
        let url = format!("https://{}", "&".repeat(QUICK_EXIT_URL_MAX - 8));
        Chrome {
            lang,
            t,
            q: lang.query(),
            title: t.view_title,
            quick_exit: url,
            unit: "\"".repeat(UNIT_NAME_MAX),
            tor2web: true,
            switch: Some(format!("{}{}", paths::VIEW, lang.other().query())),
        }
    }

    /// The longest of a language's texts, for the status and the error.
    fn longest<'a>(texts: &[&'a str]) -> &'a str {
        texts.iter().copied().max_by_key(|s| s.len()).unwrap()
    }

    /// The follow-up page with everything but its messages and typed-back reply at the
    /// heaviest, and those as given.
    fn worst_view(lang: Lang, messages: &[(bool, &str)], reply_value: &str) -> String {
        let t = Intake::get(lang);
        let max = flows::MESSAGE_MAX.to_string();
        let error = format!(
            "{} {}",
            longest(&[
                t.err_reply_required,
                t.err_contains_code,
                &t.err_too_long.replace("{max}", &max),
                t.err_characters,
                "Kuota pesan harian untuk laporan ini sudah habis. Coba lagi besok (UTC).",
            ]),
            t.err_reply_cut.replace("{max}", &max)
        );
        let page = format!("{}?hal=100000&lang=en", paths::VIEW);
        View {
            c: worst_chrome(lang),
            status: longest(&[t.status_received, t.status_needs_info, t.status_closed]),
            messages: messages
                .iter()
                .map(|(mine, body)| Shown {
                    mine: *mine,
                    from: if *mine { t.from_reporter } else { t.from_staff },
                    day: "2026-12-02".into(),
                    body: (*body).to_owned(),
                })
                .collect(),
            newer: Some(page.clone()),
            older: Some(page),
            csrf: "f".repeat(64),
            reply_token: "f".repeat(32),
            reply_value: reply_value.to_owned(),
            reply_error: Some(error),
            sent: true,
            files: true,
        }
        .render()
        .unwrap()
    }

    fn cost(body: &str) -> usize {
        message_cost(&reports::ReporterMessage {
            from: "staff",
            body: body.to_owned(),
            day: "2026-12-02".into(),
        })
    }

    #[test]
    fn escaped_len_counts_what_askama_writes() {
        for s in ["", "abc", "<&\"'>", "😀é", "a\nb\r\tc", "&#60;"] {
            let mut out = String::new();
            askama::filters::Escaper::write_escaped_str(&askama::filters::Html, &mut out, s)
                .unwrap();
            assert_eq!(escaped_len(s), out.len(), "{s:?}");
            assert!(escaped_len(s) <= ESCAPE_MAX * s.chars().count());
        }
    }

    #[test]
    fn the_worst_frame_fits_its_reserve() {
        for lang in [Lang::Id, Lang::En] {
            // An empty list shows "no messages yet"; one empty message shows the list's frame.
            for messages in [vec![], vec![(false, "")]] {
                let n = worst_view(lang, &messages, "").len();
                let frame = n - messages.len() * cost("");
                assert!(frame <= FRAME_RESERVE, "{lang:?}: {frame} bytes");
                eprintln!("{lang:?}: worst frame {frame} of {FRAME_RESERVE} bytes");
            }
        }
    }

    #[test]
    fn message_costs_cover_what_a_page_renders() {
        let bodies = ["", "x", "<&\"'>", "😀 ada transaksi\nbaris dua"];
        for lang in [Lang::Id, Lang::En] {
            let bare = worst_view(lang, &[(false, "")], "").len() - cost("");
            for mine in [false, true] {
                for b in bodies {
                    let n = worst_view(lang, &[(mine, b)], "").len();
                    assert!(n - bare <= cost(b), "{lang:?} {mine} {b:?}");
                }
            }
        }
    }

    /// What the pager puts on one page, and a typed-back reply with what is left beside it,
    /// always renders within the bound, for the heaviest texts the intake accepts.
    #[test]
    fn the_heaviest_pages_stay_within_the_bound() {
        let lt = "<".repeat(flows::MESSAGE_MAX);
        let emoji = "😀".repeat(flows::MESSAGE_MAX);
        let mixed: String = "<😀&\"".chars().cycle().take(flows::MESSAGE_MAX).collect();
        let small = "<".repeat(700);
        let (too_long, cut) = typed_back(&"&".repeat(flows::MESSAGE_MAX * 3));
        assert!(cut && too_long.chars().count() == flows::MESSAGE_MAX);
        let mut conversation: Vec<&str> = vec![&lt, &emoji, &small, &mixed];
        conversation.extend(std::iter::repeat_n(small.as_str(), 40));
        conversation.push(&lt);
        for lang in [Lang::Id, Lang::En] {
            for reply in ["", small.as_str(), too_long.as_str()] {
                // The pages the pager cuts, each then trimmed as render_view trims it.
                let pages: Vec<Vec<&str>> = (0..)
                    .map(|want| {
                        let mut pager = reports::Pager::new(want, 200, MESSAGES_BUDGET);
                        conversation
                            .iter()
                            .copied()
                            .filter(|b| pager.place(cost(b)) == reports::Place::Here)
                            .collect::<Vec<_>>()
                    })
                    .take_while(|p| !p.is_empty())
                    .collect();
                assert_eq!(pages.concat(), conversation, "every message once, in order");
                for page in pages {
                    let mut left = MESSAGES_BUDGET - escaped_len(reply);
                    let shown: Vec<(bool, &str)> = page
                        .iter()
                        .take_while(|b| {
                            let fits = cost(b) <= left;
                            left -= if fits { cost(b) } else { 0 };
                            fits
                        })
                        .map(|b| (true, *b))
                        .collect();
                    let n = worst_view(lang, &shown, reply).len();
                    assert!(n <= PAGE_BOUND, "{lang:?}: {n} bytes");
                }
            }
        }
    }
}
