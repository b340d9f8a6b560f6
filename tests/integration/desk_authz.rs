//! The desk's authorization matrix: every endpoint × every role × (logged in, logged out,
//! expired session, wrong CSRF token, missing CSRF token). Only the cells the table allows
//! succeed. The table must name every path in `bisik::desk::paths::ALL` and every method each
//! one takes (any other method must answer 405), so a new endpoint that is missing here fails
//! this test. Also: no desk endpoint answers on the intake listener, and no intake endpoint on
//! the desk's; and the desk's logs hold no client address or User-Agent (I2).

use crate::desk::{Browser, Staff, add_via_ui, admin, start};
use crate::on_both;
use crate::support::{Backend, TestApp};
use bisik::desk::paths;
use std::time::Duration;

on_both!(every_desk_endpoint_lets_in_only_the_allowed_cells);

/// Who may use an endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    /// Anyone, logged in or not.
    Public,
    /// Any role with a Full session.
    AnyRole,
    /// Admin only.
    Admin,
    /// Supervisors and admins (the audit page).
    Auditor,
    /// Only a session in the first-login stage (no Full session of any role).
    EnrolStage,
    /// Supervisors only (sharing).
    Supervisor,
    /// Staff who can hold reports: supervisors and investigators, never admins.
    Holder,
}

struct Endpoint {
    method: &'static str,
    path: &'static str,
    who: Who,
    /// State-changing: needs the session's CSRF token.
    change: bool,
}

const fn ep(method: &'static str, path: &'static str, who: Who, change: bool) -> Endpoint {
    Endpoint {
        method,
        path,
        who,
        change,
    }
}

/// THE table. Logout comes last: its allowed cell ends the session.
const TABLE: &[Endpoint] = &[
    ep("GET", paths::LOGIN, Who::Public, false),
    ep("POST", paths::LOGIN, Who::Public, false),
    ep("GET", paths::STYLE, Who::Public, false),
    ep("GET", paths::ENROL, Who::EnrolStage, false),
    ep("POST", paths::ENROL, Who::EnrolStage, true),
    ep("GET", paths::HOME, Who::AnyRole, false),
    ep("GET", paths::ME, Who::AnyRole, false),
    ep("GET", paths::PASSWORD, Who::AnyRole, false),
    ep("POST", paths::PASSWORD, Who::AnyRole, true),
    ep("GET", paths::ACCOUNTS, Who::Admin, false),
    ep("POST", paths::ACCOUNTS, Who::Admin, true),
    ep("POST", paths::ACCOUNT_RESET, Who::Admin, true),
    ep("POST", paths::ACCOUNT_DISABLE, Who::Admin, true),
    ep("GET", paths::AUDIT, Who::Auditor, false),
    ep("GET", paths::INBOX, Who::Holder, false),
    ep("GET", paths::REPORT, Who::Holder, false),
    ep("GET", paths::REPORT_ATTACHMENT, Who::Holder, false),
    ep("GET", paths::REPORT_THUMB, Who::Holder, false),
    ep("POST", paths::REPORT_SHARE, Who::Supervisor, true),
    ep("POST", paths::REPORT_UNSHARE, Who::Supervisor, true),
    ep("POST", paths::REPORT_MESSAGE, Who::Holder, true),
    ep("POST", paths::REPORT_NOTE, Who::Holder, true),
    ep("POST", paths::REPORT_STATUS, Who::Holder, true),
    ep("POST", paths::REPORT_PRIORITY, Who::Supervisor, true),
    ep("POST", paths::REPORT_BULK, Who::Supervisor, true),
    ep("POST", paths::REPORT_LABELS, Who::Holder, true),
    ep("GET", paths::FIGURES, Who::Supervisor, false),
    ep("POST", paths::FIGURES_EXPORT, Who::Supervisor, true),
    // The JSON API: logged in means a bearer token; the CSRF states send the cookie instead,
    // which a change refuses (the API takes no form token, so only a bearer token may change).
    ep("POST", paths::API_SESSION, Who::Public, false),
    ep("DELETE", paths::API_SESSION, Who::AnyRole, true),
    ep("GET", paths::API_DOC, Who::Public, false),
    ep("GET", paths::API_REPORTS, Who::Holder, false),
    ep("GET", paths::API_REPORT, Who::Holder, false),
    ep("POST", paths::API_STATUS, Who::Holder, true),
    ep("POST", paths::API_PRIORITY, Who::Supervisor, true),
    ep("POST", paths::API_MESSAGES, Who::Holder, true),
    ep("POST", paths::API_NOTES, Who::Holder, true),
    ep("POST", paths::API_SHARE, Who::Supervisor, true),
    ep("POST", paths::API_UNSHARE, Who::Supervisor, true),
    ep("POST", paths::API_LABELS, Who::Holder, true),
    ep("POST", paths::API_BULK, Who::Supervisor, true),
    ep("GET", paths::API_FIGURES, Who::Supervisor, false),
    ep("POST", paths::LOGOUT, Who::AnyRole, true),
];

/// A JSON API endpoint (other than `/api/v1/me`, which the browser reads with its cookie).
fn is_json(e: &Endpoint) -> bool {
    e.path.starts_with("/api/") && e.path != paths::ME
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    LoggedIn,
    LoggedOut,
    Expired,
    WrongCsrf,
    MissingCsrf,
}

const STATES: [State; 5] = [
    State::LoggedOut,
    State::Expired,
    State::WrongCsrf,
    State::MissingCsrf,
    State::LoggedIn,
];

struct Actor {
    role: &'static str,
    live: Browser,
    csrf: String,
    expired_cookie: String,
}

fn allowed(e: &Endpoint, role: &str, s: State) -> bool {
    let role_ok = match e.who {
        Who::Public => return true,
        Who::AnyRole => true,
        Who::Admin => role == "admin",
        Who::Auditor => role == "admin" || role == "supervisor",
        Who::EnrolStage => false,
        Who::Supervisor => role == "supervisor",
        Who::Holder => role == "supervisor" || role == "investigator",
    };
    role_ok
        && match s {
            State::LoggedIn => true,
            State::WrongCsrf | State::MissingCsrf => !e.change,
            State::LoggedOut | State::Expired => false,
        }
}

/// Form fields that make an allowed request harmless but real.
fn fields(e: &Endpoint, n: usize) -> Vec<(String, String)> {
    let f = |k: &str, v: String| (k.to_owned(), v);
    match e.path {
        p if p == paths::LOGIN => vec![
            f("username", format!("tamu{n}")),
            f("password", "bukan-sandi".into()),
            f("totp", "000000".into()),
        ],
        p if p == paths::PASSWORD => vec![
            f("current", "bukan-sandi-yang-benar".into()),
            f("new_password", crate::desk::STRONG.into()),
            f("confirm", crate::desk::STRONG.into()),
        ],
        p if p == paths::ACCOUNTS => vec![
            f("username", format!("matriks{n}")),
            f("role", "investigator".into()),
        ],
        p if p == paths::ACCOUNT_RESET || p == paths::ACCOUNT_DISABLE => {
            vec![f("username", "korban".into())]
        }
        // A report id that is none: an allowed cell gets 400 and changes nothing.
        p if p == paths::REPORT_SHARE || p == paths::REPORT_UNSHARE => vec![
            f("report", "bukan-nomor-laporan".into()),
            f("username", "petugas1".into()),
        ],
        p if p == paths::REPORT_MESSAGE || p == paths::REPORT_NOTE => vec![
            f("report", "bukan-nomor-laporan".into()),
            f("body", "pertanyaan".into()),
        ],
        p if p == paths::REPORT_LABELS => vec![
            f("report", "bukan-nomor-laporan".into()),
            f("label_diduga-palsu", "on".into()),
        ],
        p if p == paths::REPORT_STATUS => vec![
            f("report", "bukan-nomor-laporan".into()),
            f("status", "in_review".into()),
        ],
        p if p == paths::REPORT_PRIORITY => vec![
            f("report", "bukan-nomor-laporan".into()),
            f("priority", "urgent".into()),
        ],
        // A tick that is no report id: refused with 400, nothing changes.
        p if p == paths::REPORT_BULK => vec![
            f("action", "priority:low".into()),
            f("r0", "bukan-nomor-laporan".into()),
        ],
        // A month that is none: an allowed cell gets 400 and exports nothing.
        p if p == paths::FIGURES_EXPORT => vec![
            f("from", "bukan-bulan".into()),
            f("to", "2026-01".into()),
            f("format", "csv".into()),
        ],
        p if p == paths::ENROL => vec![
            f("new_password", crate::desk::STRONG.into()),
            f("confirm", crate::desk::STRONG.into()),
            f("totp", "000000".into()),
        ],
        _ => vec![],
    }
}

async fn every_desk_endpoint_lets_in_only_the_allowed_cells(b: Backend) {
    // The table covers every path, and every path's other methods answer 405.
    for p in paths::ALL {
        assert!(
            TABLE.iter().any(|e| e.path == p),
            "desk path {p} is missing from the authorization matrix"
        );
    }
    for e in TABLE {
        assert!(
            paths::ALL.contains(&e.path),
            "{} is not in paths::ALL",
            e.path
        );
    }

    let app = start(b, vec![("BISIK_DESK_SESSION_IDLE_SECS", "8".into())]).await;
    let (mut ab, mut adm) = admin(&app).await;
    let (sb, mut sup) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (ib, mut inv) = add_via_ui(&app, &mut ab, "petugas1", "investigator").await;
    // A throwaway account for the reset and disable cells.
    let csrf = ab.csrf().await;
    let p = ab
        .post(
            "/accounts",
            &[
                ("csrf", &csrf),
                ("username", "korban"),
                ("role", "investigator"),
            ],
        )
        .await;
    assert_eq!(p.status, 200);
    let expired: Vec<String> = [&ab, &sb, &ib]
        .iter()
        .map(|b| b.cookie.clone().unwrap())
        .collect();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let mut actors = Vec::new();
    for ((role, staff), old) in [
        ("admin", &mut adm as &mut Staff),
        ("supervisor", &mut sup),
        ("investigator", &mut inv),
    ]
    .into_iter()
    .zip(expired)
    {
        let mut live = Browser::new(&app);
        let p = staff.login(&mut live).await;
        assert_eq!(p.location, "/", "{role}: {}", p.body);
        let csrf = live.csrf().await;
        actors.push(Actor {
            role,
            live,
            csrf,
            expired_cookie: old,
        });
    }

    let mut n = 0;
    let mut wrong = Vec::new();
    for e in TABLE {
        // Methods the path does not take answer 405 for everyone.
        for m in ["GET", "POST", "PUT", "DELETE"] {
            if TABLE.iter().any(|x| x.path == e.path && x.method == m) {
                continue;
            }
            let r = TestApp::client()
                .request(m.parse().unwrap(), app.desk_url(e.path))
                .send()
                .await
                .unwrap();
            if r.status() != 405 {
                wrong.push(format!("{m} {}: {} (want 405)", e.path, r.status()));
            }
        }
        for a in actors.iter_mut() {
            for s in STATES {
                n += 1;
                let mut form = fields(e, n);
                match s {
                    State::LoggedIn => form.push(("csrf".into(), a.csrf.clone())),
                    State::WrongCsrf => form.push(("csrf".into(), "00".repeat(16))),
                    State::LoggedOut | State::Expired => form.push(("csrf".into(), a.csrf.clone())),
                    State::MissingCsrf => {}
                }
                let saved = a.live.cookie.clone();
                a.live.cookie = match s {
                    State::LoggedOut => None,
                    State::Expired => Some(a.expired_cookie.clone()),
                    _ => saved.clone(),
                };
                let refs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                // Logging out through the API ends the live session the later cells need; that
                // one cell is in desk_api.rs (the token is dead afterwards).
                if e.path == paths::API_SESSION && e.method == "DELETE" && s == State::LoggedIn {
                    a.live.cookie = saved;
                    continue;
                }
                let page = if is_json(e) {
                    let body = (e.method == "POST").then_some("{}");
                    let bearer = matches!(s, State::LoggedIn | State::Expired);
                    a.live.api(e.method, e.path, body, bearer).await
                } else if e.method == "GET" {
                    a.live.get(e.path).await
                } else {
                    a.live.post(e.path, &refs).await
                };
                // Keep the live session's cookie unless logout ended it.
                if !(e.path == paths::LOGOUT && s == State::LoggedIn) {
                    a.live.cookie = saved;
                }
                let ok = if is_json(e) {
                    // An allowed call with a body that names nothing: the id "{id}" (400) or
                    // missing fields (422); the list and the document answer 200.
                    matches!(page.status, 200 | 201 | 204 | 400 | 422)
                } else {
                    matches!(page.status, 200 | 400)
                };
                let refused = matches!(page.status, 303 | 401 | 403);
                let want = allowed(e, a.role, s);
                if !(ok || refused) || ok != want {
                    wrong.push(format!(
                        "{} {} as {} {:?}: {} {} (want {})",
                        e.method,
                        e.path,
                        a.role,
                        s,
                        page.status,
                        page.location,
                        if want { "allowed" } else { "refused" }
                    ));
                }
                if refused && page.status == 303 && matches!(s, State::LoggedOut) {
                    assert!(page.location.starts_with("/login"), "{}", page.location);
                }
                if refused && page.status == 303 && matches!(s, State::Expired) {
                    assert_eq!(page.location, "/login?m=expired");
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that disagree with the table:\n{}",
        wrong.join("\n")
    );
    // Logout ended every live session.
    for a in actors.iter_mut() {
        assert!(a.live.get("/").await.location.starts_with("/login"));
    }

    // The two listeners serve disjoint sets of paths, but for three that each serves its own
    // way: `/`, the OpenAPI document (each listener's own) and /api/v1/reports (the intake's
    // POST takes a tip; the desk's GET lists reports). Those are checked below.
    let shared = ["/", paths::API_DOC, paths::API_REPORTS];
    for p in paths::ALL.iter().filter(|p| !shared.contains(p)) {
        for m in ["GET", "POST"] {
            let r = TestApp::client()
                .request(m.parse().unwrap(), app.url(p))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "desk path {m} {p} answers on the intake");
        }
    }
    // `/` is the one path both serve, each its own page: on the intake it is the reporter's
    // home (no desk login behind it), on the desk it sends a stranger to the login form.
    let r = TestApp::client().get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the intake's home");
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Buat laporan") && !body.contains("/login") && !body.contains("desk.css"),
        "the intake's / is not the reporter's home:\n{body}"
    );
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(app.desk_url("/")).send().await.unwrap();
    assert!(
        r.headers()
            .get("location")
            .is_some_and(|l| l.to_str().unwrap_or("").starts_with("/login")),
        "the desk's / does not send a stranger to its login form"
    );
    let intake_paths = bisik::intake::paths::ALL
        .iter()
        .chain(bisik::intake::pages::paths::ALL.iter())
        .filter(|p| !shared.contains(p));
    // Each listener's document is its own, and the intake lists no reports.
    for (url, title) in [
        (app.url(paths::API_DOC), "Bisik intake API"),
        (app.desk_url(paths::API_DOC), "Bisik case desk API"),
    ] {
        let doc: serde_json::Value = TestApp::client()
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["info"]["title"], title);
    }
    let r = TestApp::client()
        .get(app.url(paths::API_REPORTS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405, "the intake answers GET /api/v1/reports");
    for p in intake_paths {
        for m in ["GET", "POST"] {
            let r = TestApp::client()
                .request(m.parse().unwrap(), app.desk_url(p))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "intake path {m} {p} answers on the desk");
        }
    }

    // I2: nothing of the client's identity reached the desk's log.
    let ua = crate::support::canary("UA");
    let fwd = "203.0.113.77";
    let mut br = Browser::new(&app);
    let _ = br.get("/login").await;
    let c = TestApp::client();
    for path in ["/login", "/", "/accounts"] {
        let _ = c
            .get(app.desk_url(path))
            .header("user-agent", &ua)
            .header("x-forwarded-for", fwd)
            .header("x-real-ip", fwd)
            .send()
            .await
            .unwrap();
    }
    let _ = c
        .post(app.desk_url("/login"))
        .header("user-agent", &ua)
        .header("x-forwarded-for", fwd)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=admin&password=salah&totp=1")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = app.logs();
    assert!(
        logs.contains("desk: a login failed"),
        "the desk logs its events:\n{logs}"
    );
    assert!(!logs.contains(&ua), "the User-Agent reached the log");
    assert!(!logs.contains(fwd), "a client address reached the log");
}
