//! The reporter pages over plain HTTP (the browser tests are in browser_intake.rs): the whole
//! flow in both languages, page weight and content rules, cross-site and honeypot refusals,
//! resubmission, CSRF, sessions (expiry, logout, K_r not in memory), and the I2/I10 canaries
//! for the HTML flows.

use crate::on_both;
use crate::support::{Backend, Opts, TestApp, contains};
use bisik::web::form::encode_form;
use reqwest::header::HeaderMap;
use std::time::Duration;

on_both!(
    html_flow_both_languages,
    pages_are_small_plain_and_self_contained,
    cross_site_posts_are_refused,
    filled_honeypot_is_refused_and_nothing_stored,
    double_submission_stores_one_report,
    form_errors_sit_by_their_fields_and_keep_the_text,
    session_forms_need_the_session_token,
    html_flows_record_no_network_identity_and_keep_codes_out_of_urls,
    json_revoke_gives_the_unknown_code_answer,
);

/// One HTTP answer.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, k: &str) -> String {
        self.headers
            .get(k)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// A client that behaves like a browser on our pages: same-origin POSTs say so, the session
/// cookie is kept, redirects are not followed (so each answer is seen).
pub struct Pages<'a> {
    pub app: &'a TestApp,
    client: reqwest::Client,
    pub cookie: Option<String>,
    pub extra: Vec<(&'static str, String)>,
    /// Every answer, in order (path, answer), for checks across the whole flow.
    pub seen: Vec<(String, Resp)>,
}

impl<'a> Pages<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Pages {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            cookie: None,
            extra: vec![],
            seen: vec![],
        }
    }

    async fn send(&mut self, path: &str, rb: reqwest::RequestBuilder) -> &Resp {
        let mut rb = rb;
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", format!("sesi={c}"));
        }
        for (k, v) in &self.extra {
            rb = rb.header(*k, v);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        for sc in headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let value = sc.split(';').next().unwrap().strip_prefix("sesi=").unwrap();
            self.cookie = (!value.is_empty()).then(|| value.to_owned());
        }
        let body = r.text().await.unwrap();
        self.seen.push((
            path.to_owned(),
            Resp {
                status,
                headers,
                body,
            },
        ));
        &self.seen.last().unwrap().1
    }

    pub async fn get(&mut self, path: &str) -> &Resp {
        let rb = self.client.get(self.app.url(path));
        self.send(path, rb).await
    }

    /// A same-origin form POST, as a browser sends it from our page.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> &Resp {
        let rb = self
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", format!("http://{}", self.app.addr))
            .header("sec-fetch-site", "same-origin")
            .body(encode_form(fields.iter().copied()));
        self.send(path, rb).await
    }

    /// A form POST with the given extra headers and no same-origin markers.
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> &Resp {
        let mut rb = self
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(fields.iter().copied()));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        self.send(path, rb).await
    }
}

/// The value of a hidden input in a page.
pub fn hidden(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name} in:\n{body}"));
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The code shown on a code page, grouped as shown.
pub fn shown_code(body: &str) -> String {
    let at = body
        .find("class=\"code\"")
        .unwrap_or_else(|| panic!("no code in:\n{body}"));
    let rest = &body[at..];
    let end = rest.find("</p>").unwrap();
    let digits: String = rest[..end]
        .split("<span>")
        .skip(1)
        .map(|s| &s[..4])
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(digits.len(), 24, "{digits}");
    digits
}

/// Opens the report form and returns its token.
pub async fn form_token(p: &mut Pages<'_>, lang_q: &str) -> String {
    let form = p.get(&format!("/lapor{lang_q}")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("class=\"hp\""), "no honeypot");
    hidden(&form.body, "token")
}

/// Submits a tip through the form and returns the code page's code.
pub async fn submit_form(p: &mut Pages<'_>, lang_q: &str, description: &str) -> String {
    let token = form_token(p, lang_q).await;
    let r = p
        .post(
            &format!("/lapor{lang_q}"),
            &[
                ("token", &token),
                ("category", "peredaran"),
                ("area", "kandangan"),
                ("location", "dekat pasar"),
                ("when", "malam"),
                ("people", "dua orang"),
                ("vehicles", "motor hitam"),
                ("description", description),
                ("url", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    shown_code(&r.body)
}

/// Enters a code and returns the answer (303 to the follow-up on success).
pub async fn enter_code(p: &mut Pages<'_>, lang_q: &str, code: &str) -> u16 {
    p.post(&format!("/cek{lang_q}"), &[("code", code), ("url", "")])
        .await
        .status
}

async fn count(app: &TestApp) -> i64 {
    let s = app.store().await;
    let n = s.count_reports().await.unwrap();
    s.close().await;
    n
}

/// The whole flow, as a reporter without JavaScript walks it; returns every page seen.
async fn walk(app: &TestApp, en: bool) -> Vec<(String, Resp)> {
    let q = if en { "?lang=en" } else { "" };
    let mut p = Pages::new(app);
    let home = p.get(&format!("/{q}")).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(if en {
        "BNNK will never ask for your name, your phone number or a meeting."
    } else {
        "BNNK tidak akan pernah meminta nama, nomor HP, atau ajakan bertemu"
    }));
    for law in ["Pasal 99", "Pasal 100", "Pasal 10:"] {
        let law = if en {
            law.replace("Pasal", "Article")
        } else {
            law.to_owned()
        };
        assert!(home.body.contains(&law), "{law}");
    }
    assert!(!home.body.contains("Pasal 111") && !home.body.contains("Article 111"));
    let code = submit_form(&mut p, q, "ada transaksi sabu di gudang").await;
    p.get(&format!("/selesai{q}")).await;
    p.get(&format!("/cek{q}")).await;
    assert_eq!(enter_code(&mut p, q, &code).await, 303);
    let sc = p.seen.last().unwrap().1.header("set-cookie");
    assert!(sc.starts_with("sesi="), "{sc}");
    assert!(
        sc.contains("HttpOnly") && sc.contains("SameSite=Strict"),
        "{sc}"
    );
    assert!(
        !sc.to_ascii_lowercase().contains("expires") && !sc.contains("Max-Age"),
        "{sc}"
    );
    let view = p.get(&format!("/laporan{q}")).await;
    assert_eq!(view.status, 200);
    assert!(view.body.contains(if en { "Received" } else { "Diterima" }));
    let csrf = hidden(&view.body, "csrf");
    let token = hidden(&view.body, "token");
    let r = p
        .post(
            &format!("/laporan/pesan{q}"),
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("body", "ada tambahan: mobilnya biru"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let sent = r.header("location");
    let view = p.get(&sent).await;
    assert!(view.body.contains("ada tambahan: mobilnya biru"));
    assert!(view.body.contains("role=\"status\""));
    // The JSON API sees the same conversation.
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200);
    assert_eq!(v["messages"][0]["body"], "ada tambahan: mobilnya biru");
    let ask = p.get(&format!("/laporan/hapus{q}")).await;
    assert_eq!(ask.status, 200);
    let csrf = hidden(&ask.body, "csrf");
    let done = p
        .post(&format!("/laporan/hapus{q}"), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status, 200);
    assert!(done.header("set-cookie").contains("Max-Age=0"));
    assert!(p.cookie.is_none());
    // Revoked: the same answer as an unknown code, on the page and in the API.
    let unknown = bisik::crypto::code::FollowupCode::generate()
        .display()
        .to_string();
    assert_eq!(enter_code(&mut p, q, &code).await, 404);
    let revoked_page = p.seen.last().unwrap().1.body.clone();
    assert_eq!(enter_code(&mut p, q, &unknown).await, 404);
    assert_eq!(revoked_page, p.seen.last().unwrap().1.body);
    assert_eq!(app.followup(&code).await.0, 404);
    // Pages that need no report.
    p.get(&format!("/laporan{q}")).await; // expired
    p.get(&format!("/tidak-ada{q}")).await; // 404
    p.post(&format!("/keluar{q}"), &[]).await; // logged out
    let token = form_token(&mut p, q).await;
    p.post(
        &format!("/lapor{q}"),
        &[("token", &token), ("description", ""), ("url", "")],
    )
    .await; // form with errors
    p.post(
        &format!("/lapor{q}"),
        &[("token", &token), ("description", "x"), ("url", "http://x")],
    )
    .await; // honeypot
    // A session that logs out.
    let code2 = submit_form(&mut p, q, "laporan kedua").await;
    assert_eq!(enter_code(&mut p, q, &code2).await, 303);
    let view = p.get(&format!("/laporan{q}")).await;
    let csrf = hidden(&view.body, "csrf");
    let out = p.post(&format!("/keluar{q}"), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 200);
    assert!(out.body.contains("New Identity"));
    p.seen
}

async fn html_flow_both_languages(b: Backend) {
    let app = TestApp::start(b).await;
    for en in [false, true] {
        let seen = walk(&app, en).await;
        for (path, r) in &seen {
            if r.header("content-type").starts_with("text/html") {
                let lang = if en { "lang=\"en\"" } else { "lang=\"id\"" };
                assert!(r.body.contains(&format!("<html {lang}>")), "{path}");
            }
        }
    }
    assert_eq!(count(&app).await, 4);
}

/// Whether a page holds an inline event handler attribute (` onclick=`, ` onload =`, ...).
fn has_event_handler(body: &str) -> bool {
    let re = regex::Regex::new(r"(?i)<[^>]*\son[a-z]+\s*=").unwrap();
    re.is_match(body)
}

/// Every absolute URL in a page (scheme-relative `//host` included).
fn urls(body: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?i)(https?:)?//[a-z0-9.\-]+[^"'\s<>]*"#).unwrap();
    re.find_iter(body).map(|m| m.as_str().to_owned()).collect()
}

async fn pages_are_small_plain_and_self_contained(b: Backend) {
    let app = TestApp::start(b).await;
    let mut sizes = Vec::new();
    let hidden_attr = regex::Regex::new(r"(?i)<[^>]*\shidden[\s>=]").unwrap();
    for en in [false, true] {
        for (path, r) in walk(&app, en).await {
            if !r.header("content-type").starts_with("text/html") {
                continue;
            }
            let n = r.body.len();
            sizes.push(format!("{path} {} {n}", r.status));
            assert!(n <= 30 * 1024, "{path} is {n} bytes");
            assert!(!r.body.to_ascii_lowercase().contains("<script"), "{path}");
            assert!(!has_event_handler(&r.body), "{path} has an event handler");
            for u in urls(&r.body) {
                assert_eq!(u, "https://www.google.co.id/", "{path} links out to {u}");
            }
            assert!(!r.body.contains(" style="), "{path} has an inline style");
            assert!(!hidden_attr.is_match(&r.body), "{path} hides by attribute");
        }
    }
    let mut p = Pages::new(&app);
    let css = p.get("/static/bisik.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(!css.body.contains("@font-face") && !css.body.contains("url("));
    sizes.push(format!("/static/bisik.css {}", css.body.len()));
    eprintln!("page sizes (path status bytes):\n{}", sizes.join("\n"));
    // The checks find what they look for.
    assert!(has_event_handler("<body onload=\"x()\">"));
    assert_eq!(urls("<a href=\"https://evil.example/x\">").len(), 1);
}

async fn cross_site_posts_are_refused(b: Backend) {
    let app = TestApp::start(b).await;
    let mut p = Pages::new(&app);
    let token = form_token(&mut p, "").await;
    let fields = [
        ("token", token.as_str()),
        ("description", "dari situs lain"),
    ];
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "https://evil.example")],
    ] {
        let r = p.post_raw("/lapor", &fields, &headers).await;
        assert_eq!(r.status, 403, "{headers:?}");
        assert!(r.body.contains("situs lain"));
        let r = p
            .post_raw("/cek", &[("code", "1000 0000 0000 0000 0000")], &headers)
            .await;
        assert_eq!(r.status, 403, "{headers:?}");
    }
    assert_eq!(count(&app).await, 0);
    // The same form, same-origin, goes through.
    let r = p.post("/lapor", &fields).await;
    assert_eq!(r.status, 200);
    assert_eq!(count(&app).await, 1);
}

async fn filled_honeypot_is_refused_and_nothing_stored(b: Backend) {
    let app = TestApp::start(b).await;
    let mut p = Pages::new(&app);
    for q in ["", "?lang=en"] {
        let token = form_token(&mut p, q).await;
        let r = p
            .post(
                &format!("/lapor{q}"),
                &[
                    ("token", &token),
                    ("description", "ada transaksi"),
                    ("url", "https://autofill.example"),
                ],
            )
            .await;
        assert_eq!(r.status, 400);
        assert!(
            r.body.contains("TIDAK terkirim") || r.body.contains("NOT sent"),
            "{}",
            r.body
        );
        assert!(!r.body.contains("class=\"code\""));
    }
    let css = p.get("/static/bisik.css").await;
    assert!(css.body.contains(".hp{position:absolute;left:-10000px"));
    assert_eq!(count(&app).await, 0);
}

async fn double_submission_stores_one_report(b: Backend) {
    let app = TestApp::start(b).await;
    let mut p = Pages::new(&app);
    let token = form_token(&mut p, "").await;
    let fields = [
        ("token", token.as_str()),
        ("description", "dikirim dua kali"),
        ("url", ""),
    ];
    // Two at once (a double tap), then one more later (a retry after a lost answer).
    let (mut p1, mut p2) = (Pages::new(&app), Pages::new(&app));
    let (a, b2) = tokio::join!(p1.post("/lapor", &fields), p2.post("/lapor", &fields));
    assert_eq!((a.status, b2.status), (200, 200));
    let (ca, cb) = (shown_code(&a.body), shown_code(&b2.body));
    assert_eq!(ca, cb);
    let again = p.post("/lapor", &fields).await;
    assert_eq!(shown_code(&again.body), ca);
    assert_eq!(count(&app).await, 1);
    // Another form is another report.
    let other = submit_form(&mut p, "", "laporan lain").await;
    assert_ne!(other, ca);
    assert_eq!(count(&app).await, 2);
}

async fn form_errors_sit_by_their_fields_and_keep_the_text(b: Backend) {
    let app = TestApp::start(b).await;
    let mut p = Pages::new(&app);
    let token = form_token(&mut p, "").await;
    let long = "x".repeat(600);
    let r = p
        .post(
            "/lapor",
            &[
                ("token", &token),
                ("category", "peredaran"),
                ("location", &long),
                ("people", "si <b>Anu</b> & kawan"),
                ("description", "  "),
                ("url", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    let body = &r.body;
    assert!(body.contains("id=\"location-err\""), "{body}");
    assert!(body.contains("paling banyak 500 karakter"));
    assert!(body.contains("id=\"description-err\""));
    assert!(body.contains("aria-describedby=\"description-help description-err\""));
    assert!(!body.contains("id=\"people-err\""));
    // Typed text is kept, escaped.
    assert!(body.contains(&long));
    assert!(
        body.contains("si &#60;b&#62;Anu&#60;/b&#62; &#38; kawan"),
        "{body}"
    );
    assert!(body.contains("<option value=\"peredaran\" selected>"));
    assert_eq!(count(&app).await, 0);
}

async fn session_forms_need_the_session_token(b: Backend) {
    let app = TestApp::start(b).await;
    let mut p = Pages::new(&app);
    let code = submit_form(&mut p, "", "csrf").await;
    assert_eq!(enter_code(&mut p, "", &code).await, 303);
    let view = p.get("/laporan").await;
    let token = hidden(&view.body, "token");
    for csrf in ["", "00", &"a".repeat(64)] {
        let r = p
            .post(
                "/laporan/pesan",
                &[("csrf", csrf), ("token", &token), ("body", "palsu")],
            )
            .await;
        assert_eq!(r.status, 403);
        let r = p.post("/laporan/hapus", &[("csrf", csrf)]).await;
        assert_eq!(r.status, 403);
        let r = p.post("/keluar", &[("csrf", csrf)]).await;
        assert_eq!(r.status, 403);
    }
    // Nothing was stored, revoked or ended.
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200);
    assert_eq!(v["messages"].as_array().unwrap().len(), 0);
    assert_eq!(p.get("/laporan").await.status, 200);
    // Without a session, a cookie-less POST opens nothing.
    let mut stranger = Pages::new(&app);
    let r = stranger
        .post("/laporan/pesan", &[("csrf", ""), ("body", "x")])
        .await;
    assert_eq!(r.status, 403);
}

const UA: &str = "CanaryPhone/9.9 (UAcanary-7a2c)";
const XFF: &str = "203.0.113.91";
const REFERER: &str = "https://referer-canary-33d1.example/";
const LANG: &str = "xx-LANGCANARY";

async fn html_flows_record_no_network_identity_and_keep_codes_out_of_urls(b: Backend) {
    let mut app = TestApp::start_with(
        b,
        Opts {
            env: vec![("BISIK_LOG", "trace".into())],
            ..Opts::default()
        },
    )
    .await;
    let mut p = Pages::new(&app);
    p.extra = vec![
        ("user-agent", UA.into()),
        ("x-forwarded-for", XFF.into()),
        ("x-real-ip", XFF.into()),
        ("referer", REFERER.into()),
        ("accept-language", LANG.into()),
    ];
    let code = submit_form(&mut p, "", "ada transaksi di dermaga").await;
    assert_eq!(enter_code(&mut p, "", &code).await, 303);
    let view = p.get("/laporan").await;
    let csrf = hidden(&view.body, "csrf");
    let token = hidden(&view.body, "token");
    p.post(
        "/laporan/pesan",
        &[("csrf", &csrf), ("token", &token), ("body", "tambahan")],
    )
    .await;
    p.get("/laporan?terkirim=1").await;
    p.post("/keluar", &[("csrf", &csrf)]).await;
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    for (path, r) in &p.seen {
        assert!(
            r.header("cache-control").contains("no-store"),
            "{path} is cacheable"
        );
        assert_eq!(r.header("referrer-policy"), "no-referrer", "{path}");
        let loc = r.header("location");
        assert!(!loc.contains(&digits) && !loc.contains(&code), "{path}");
        // The code is on the code page only, and never inside a link or form address.
        for attr in ["href=\"", "action=\"", "src=\""] {
            for part in r.body.split(attr).skip(1) {
                let v = &part[..part.find('"').unwrap()];
                let d: String = v.chars().filter(char::is_ascii_digit).collect();
                assert!(!d.contains(&digits[..8]), "{path}: {attr}{v}");
            }
        }
        let sets_cookie = r.headers.contains_key("set-cookie");
        assert!(
            !sets_cookie || path == "/cek" || path == "/keluar",
            "{path} set a cookie"
        );
    }
    app.kill9();
    let logs = app.logs();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG") || logs.contains("INFO"),
        "logging ran"
    );
    for n in [
        UA,
        "UAcanary",
        XFF,
        "referer-canary",
        "LANGCANARY",
        &code,
        &digits,
    ] {
        assert!(!logs.contains(n), "the log holds {n:?}");
        for dir in [app.data_dir(), app.keys_dir()] {
            for (path, bytes) in TestApp::files_under(&dir) {
                assert!(
                    !contains(&bytes, n.as_bytes()),
                    "{} holds {n:?}",
                    path.display()
                );
            }
        }
        if b == Backend::Postgres {
            assert!(
                !contains(&app.pg_dump(), n.as_bytes()),
                "pg_dump holds {n:?}"
            );
        }
    }
}

async fn json_revoke_gives_the_unknown_code_answer(b: Backend) {
    let app = TestApp::start(b).await;
    let code = app
        .submit(serde_json::json!({"description": "dicabut lewat API"}))
        .await;
    let r = app
        .post("/api/v1/followup/revoke", serde_json::json!({"code": code}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"revoked": true})
    );
    let unknown = bisik::crypto::code::FollowupCode::generate()
        .display()
        .to_string();
    let a = app
        .post("/api/v1/followup", serde_json::json!({"code": code}))
        .await;
    let (sa, ba) = (a.status(), a.bytes().await.unwrap());
    let u = app
        .post("/api/v1/followup", serde_json::json!({"code": unknown}))
        .await;
    assert_eq!((sa, ba), (u.status(), u.bytes().await.unwrap()));
    assert_eq!(sa, 404);
    let again = app
        .post("/api/v1/followup/revoke", serde_json::json!({"code": code}))
        .await;
    assert_eq!(again.status(), 404);
}

on_both!(sessions_end_and_leave_no_report_key_in_memory);

/// K_r of the report a code opens, derived here from the code, the pepper and the stored wrap.
async fn report_key(app: &TestApp, code: &str) -> Vec<u8> {
    let pepper = bisik::crypto::primitives::SecretKey32::from_bytes(
        *bisik::keyfiles::read_hex32(&app.keys_dir().join("intake.pepper")).unwrap(),
    );
    let code = bisik::crypto::code::FollowupCode::parse(code).unwrap();
    let secrets = bisik::crypto::kdf::derive_code_secrets(&code, &pepper).unwrap();
    let store = app.store().await;
    let row = store.access_by_tag(&secrets.tag).await.unwrap().unwrap();
    store.close().await;
    let k = bisik::crypto::envelope::unwrap_report_key(
        &secrets.kek,
        &row.report_id.bytes(),
        secrets.version,
        &row.wrapped_key,
    )
    .unwrap();
    k.expose().to_vec()
}

/// Scans the server until none of `needles` is found, for at most `within` (closed
/// connections and finished tasks may take a moment to be dropped); returns what is left.
async fn scan_until_clean(
    app: &TestApp,
    needles: &[crate::memory::Needle],
    within: Duration,
) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let found = crate::memory::scan(app.pid(), needles);
        if found.is_empty() || start.elapsed() > within {
            return found;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Sessions: after the idle time, after the absolute time (however busy) and after logging
/// out, the cookie opens nothing; and the codes the resubmission map kept are gone once their
/// time is up. K_r is never in the server's memory in the clear between
/// requests, not even while the session is open, nor the cookie's secret; once the sessions
/// have ended, nothing of them is left (the memory scan of the memory test).
async fn sessions_end_and_leave_no_report_key_in_memory(b: Backend) {
    let app = TestApp::start_with(
        b,
        Opts {
            env: vec![
                ("BISIK_SESSION_IDLE_SECS", "20".into()),
                ("BISIK_SESSION_ABSOLUTE_SECS", "30".into()),
                ("BISIK_RESUBMIT_SECS", "5".into()),
            ],
            ..Opts::default()
        },
    )
    .await;
    let mut needles = Vec::new();
    let mut sessions = Vec::new();
    let mut codes = Vec::new();
    let mut open = async |name: &str, needles: &mut Vec<crate::memory::Needle>| {
        let mut p = Pages::new(&app);
        let code = submit_form(&mut p, "", &format!("sesi {name}")).await;
        assert_eq!(enter_code(&mut p, "", &code).await, 303);
        assert_eq!(p.get("/laporan").await.status, 200);
        let cookie = p.cookie.clone().unwrap();
        codes.push((name.to_owned(), code.clone()));
        needles.push(crate::memory::Needle {
            what: format!("K_r of the {name} session"),
            bytes: report_key(&app, &code).await,
        });
        needles.push(crate::memory::Needle {
            what: format!("cookie secret of the {name} session"),
            bytes: hex::decode(&cookie[64..]).unwrap(),
        });
        (p, cookie)
    };
    sessions.push(open("logout", &mut needles).await);
    sessions.push(open("idle", &mut needles).await);
    // Open sessions hold K_r sealed only. (Bounded well below the idle time, so a K_r held in
    // the clear is reported as such, not found gone because its session expired.)
    let found = scan_until_clean(&app, &needles, Duration::from_secs(8)).await;
    assert!(
        found.is_empty(),
        "while sessions are open, the server holds:\n  {}",
        found.join("\n  ")
    );
    // Log out: the same cookie, sent again, opens nothing.
    let (p, cookie) = &mut sessions[0];
    let view = p.get("/laporan").await;
    assert_eq!(view.status, 200, "the session ended during the scan");
    let csrf = hidden(&view.body, "csrf");
    assert_eq!(p.post("/keluar", &[("csrf", &csrf)]).await.status, 200);
    p.cookie = Some(cookie.clone());
    assert_eq!(p.get("/laporan").await.status, 403);
    // Absolute: used every second (never idle for 20 s), it still ends after 30 s.
    sessions.push(open("absolute", &mut needles).await);
    let opened = std::time::Instant::now();
    let (p, _) = &mut sessions[2];
    let mut last_ok = Duration::ZERO;
    let mut ended = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s = p.get("/laporan").await.status;
        if s != 200 {
            assert_eq!(s, 403);
            ended = true;
            break;
        }
        last_ok = opened.elapsed();
    }
    assert!(ended, "the session outlived its absolute lifetime");
    // Kept busy, it lived past the idle time: what ended it was the absolute limit.
    assert!(
        last_ok > Duration::from_secs(20),
        "ended after {last_ok:?}, before it was ever idle"
    );
    // Idle: untouched for more than 20 s by now.
    let (p, _) = &mut sessions[1];
    assert_eq!(p.get("/laporan").await.status, 403);
    // The codes, kept for their forms for 5 s (BISIK_RESUBMIT_SECS), are gone.
    for (name, code) in &codes {
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        needles.push(crate::memory::Needle {
            what: format!("code of the {name} session, as shown"),
            bytes: code.as_bytes().to_vec(),
        });
        needles.push(crate::memory::Needle {
            what: format!("code of the {name} session, digits"),
            bytes: digits.into_bytes(),
        });
    }
    // The sessions' ids are gone too, once every session has ended.
    for (name, (_, cookie)) in ["logout", "idle", "absolute"].iter().zip(&sessions) {
        needles.push(crate::memory::Needle {
            what: format!("session id of the {name} session"),
            bytes: hex::decode(&cookie[..64]).unwrap(),
        });
    }
    let found = scan_until_clean(&app, &needles, Duration::from_secs(60)).await;
    assert!(
        found.is_empty(),
        "after the sessions ended, the server holds:\n  {}",
        found.join("\n  ")
    );
}

on_both!(conversation_is_paginated_newest_first);

/// The follow-up page shows the newest messages first, with links between pages; short
/// messages fill a page up to `reporter.messages_per_page` (here 5).
async fn conversation_is_paginated_newest_first(b: Backend) {
    let (app, _dir) = crate::support::start_with_config_on(
        b,
        "[reporter]\nmessages_per_page = 5\n",
        Opts::default(),
    )
    .await;
    let mut p = Pages::new(&app);
    let code = submit_form(&mut p, "", "banyak pesan").await;
    for i in 0..7 {
        let r = app
            .post(
                "/api/v1/followup/messages",
                serde_json::json!({"code": code, "body": format!("pesan nomor {i}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    assert_eq!(enter_code(&mut p, "?lang=en", &code).await, 303);
    let first = p.get("/laporan?lang=en").await.body.clone();
    let at = |body: &str, i: usize| body.find(&format!("pesan nomor {i}"));
    for i in 2..7 {
        assert!(at(&first, i).is_some(), "message {i} not on the first page");
    }
    assert!(at(&first, 1).is_none() && at(&first, 0).is_none());
    assert!(at(&first, 6) < at(&first, 5), "not newest first");
    assert!(
        first.contains("href=\"/laporan?hal=1&#38;lang=en\""),
        "{first}"
    );
    let second = p.get("/laporan?hal=1&lang=en").await.body.clone();
    assert!(at(&second, 1) < at(&second, 0));
    assert!(at(&second, 2).is_none());
    assert!(second.contains("href=\"/laporan?lang=en\""), "no link back");
    assert!(!second.contains("hal=2"));
}

on_both!(follow_up_pages_stay_within_the_bound_for_the_heaviest_content);

/// The bound every intake page keeps (issue 8), as `pages_are_small_plain_and_self_contained`
/// checks it.
const BOUND: usize = 30 * 1024;

/// Text as askama escaped it, back to what was written.
fn unescape(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

/// A follow-up page's message bodies (as written), and its older and newer links.
fn follow_up_parts(body: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let bodies = regex::Regex::new(r#"(?s)<p class="body">(.*?)</p>"#)
        .unwrap()
        .captures_iter(body)
        .map(|c| unescape(&c[1]))
        .collect();
    let link = |texts: &str| {
        regex::Regex::new(&format!(r#"<a href="([^"]*)">(?:{texts})</a>"#))
            .unwrap()
            .captures(body)
            .map(|c| unescape(&c[1]))
    };
    (
        bodies,
        link("Pesan lebih lama|Older messages"),
        link("Pesan lebih baru|Newer messages"),
    )
}

/// A message of exactly `len` characters: a tag that tells it apart, then `fill` repeated.
fn heavy(tag: usize, fill: &str, len: usize) -> String {
    let mut s = format!("m{tag:02} ");
    s.extend(fill.chars().cycle().take(len - s.len()));
    s
}

/// The follow-up page stays within 30 KB whatever the conversation holds: a tip with every
/// field at its longest, in characters HTML escaping makes five bytes; messages of the longest
/// length in escaped characters and in four-byte emoji, to and from the reporter; the quick-exit
/// link and unit name at their longest; the tor2web warning on. Walking every page through its
/// "older" links and back through "newer", in both languages, shows every message exactly once,
/// newest first, the same pages in both languages, none over the bound. A refused over-long
/// reply, typed back into the form, keeps the page within the bound too.
async fn follow_up_pages_stay_within_the_bound_for_the_heaviest_content(b: Backend) {
    use bisik::config::{QUICK_EXIT_URL_MAX, UNIT_NAME_MAX};
    use bisik::intake::flows::{
        DESCRIPTION_MAX, LOCATION_MAX, MESSAGE_MAX, PEOPLE_MAX, VEHICLES_MAX, WHEN_MAX,
    };
    let exit = format!(
        "https://keluar.example/?{}",
        "&".repeat(QUICK_EXIT_URL_MAX - 24)
    );
    assert_eq!(exit.len(), QUICK_EXIT_URL_MAX);
    let toml = format!(
        "[unit]\nid = 'bnnk-hss'\nname = '{}'\n\n[reporter]\nquick_exit_url = '{exit}'\n\
         messages_per_day = 50\n",
        "<".repeat(UNIT_NAME_MAX)
    );
    let (app, _dir) = crate::support::start_with_config_on(b, &toml, Opts::default()).await;
    let mut p = Pages::new(&app);
    p.extra = vec![("x-tor2web", "1".into())];
    let worst = "<&\"'>";
    let field = |n: usize| worst.chars().cycle().take(n).collect::<String>();
    let before = app.report_ids().await;
    let token = form_token(&mut p, "").await;
    let r = p
        .post(
            "/lapor",
            &[
                ("token", &token),
                ("category", "peredaran"),
                ("area", "kandangan"),
                ("location", &field(LOCATION_MAX)),
                ("when", &field(WHEN_MAX)),
                ("people", &field(PEOPLE_MAX)),
                ("vehicles", &field(VEHICLES_MAX)),
                ("description", &field(DESCRIPTION_MAX)),
                ("url", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = shown_code(&r.body);
    let rid = crate::support::new_report(&app, &before).await;
    assert_eq!(enter_code(&mut p, "", &code).await, 303);

    // The conversation, oldest first: (from the reporter, body).
    let full = MESSAGE_MAX;
    let conversation: Vec<(bool, String)> = vec![
        (true, heavy(0, "<", full)),
        (false, heavy(1, "\"", full)),
        (true, heavy(2, "😀", full)),
        (true, heavy(3, "&", 900)),
        (true, heavy(4, "'😀", 1_500)),
        (false, heavy(5, "&", 2_000)),
        (true, heavy(6, "<😀&\"é", full)),
        (true, heavy(7, ">", 300)),
        (false, heavy(8, "'", full)),
        (true, heavy(9, "😀<", 4_000)),
        (false, heavy(10, "<", 100)),
        (true, heavy(11, "\"", full)),
    ];
    let store = app.store().await;
    let k_r = bisik::crypto::primitives::SecretKey32::from_bytes(
        report_key(&app, &code).await.try_into().unwrap(),
    );
    let intake = ed25519_dalek::SigningKey::from_bytes(
        &bisik::keyfiles::read_hex32(&app.keys_dir().join("intake.key")).unwrap(),
    );
    for (mine, body) in &conversation {
        if *mine {
            // Through the real follow-up form.
            let view = p.get("/laporan").await;
            let csrf = hidden(&view.body, "csrf");
            let token = hidden(&view.body, "token");
            let r = p
                .post(
                    "/laporan/pesan",
                    &[("csrf", &csrf), ("token", &token), ("body", body)],
                )
                .await;
            assert_eq!(r.status, 303, "{}", r.body);
        } else {
            // The desk writes no message to the reporter yet: planted as it will store one.
            let plain =
                serde_json::to_vec(&serde_json::json!({"v": 1, "body": body, "day": "2026-12-02"}))
                    .unwrap();
            crate::conversation::plant_item(
                &store,
                rid,
                &k_r,
                bisik::domain::ItemKind::Message,
                bisik::domain::Direction::StaffToReporter,
                &plain,
                &intake,
            )
            .await;
        }
    }
    store.close().await;
    let newest_first: Vec<String> = conversation.iter().rev().map(|m| m.1.clone()).collect();

    let mut both = Vec::new();
    for q in ["", "?lang=en"] {
        let mut pages: Vec<(String, Vec<String>)> = Vec::new();
        let mut sizes = Vec::new();
        let mut at = Some(format!("/laporan{q}"));
        while let Some(path) = at {
            assert!(pages.len() < newest_first.len(), "the older links go round");
            let r = p.get(&path).await;
            assert_eq!(r.status, 200, "{path}");
            assert!(r.body.len() <= BOUND, "{path} is {} bytes", r.body.len());
            assert!(r.body.contains(if q.is_empty() {
                "proxy tor2web"
            } else {
                "tor2web proxy"
            }));
            let (bodies, older, _) = follow_up_parts(&r.body);
            assert!(!bodies.is_empty(), "{path} is empty");
            sizes.push(r.body.len());
            pages.push((path, bodies));
            at = older;
        }
        let seen: Vec<String> = pages.iter().flat_map(|p| p.1.clone()).collect();
        assert!(
            seen == newest_first,
            "{q}: each message once, newest first; pages hold {:?}",
            pages.iter().map(|p| p.1.len()).collect::<Vec<_>>()
        );
        assert!(pages.len() > 1, "{q}: the conversation spans pages");
        // Back through the newer links: the same pages.
        let mut at = Some(pages.last().unwrap().0.clone());
        for (path, bodies) in pages.iter().rev() {
            let here = at.take().unwrap();
            assert_eq!(&here, path);
            let r = p.get(&here).await;
            let (again, _, newer) = follow_up_parts(&r.body);
            assert_eq!(&again, bodies, "{path} again");
            at = newer;
        }
        assert!(at.is_none(), "the first page has no newer link");
        eprintln!(
            "{q:?}: {} follow-up pages, messages a page {:?}, bytes {sizes:?}",
            pages.len(),
            pages.iter().map(|p| p.1.len()).collect::<Vec<_>>()
        );
        both.push(pages.into_iter().map(|p| p.1).collect::<Vec<_>>());
    }
    assert_eq!(both[0], both[1], "the same pages in both languages");

    let textarea = regex::Regex::new(r#"(?s)<textarea[^>]*>(.*?)</textarea>"#).unwrap();
    // A refused over-long reply comes back cut to the limit, beside what of the newest page
    // still fits, and "older" leads to that page whole.
    for q in ["", "?lang=en"] {
        let view = p.get(&format!("/laporan{q}")).await;
        let csrf = hidden(&view.body, "csrf");
        let token = hidden(&view.body, "token");
        let long = "<".repeat(MESSAGE_MAX + 1_000);
        let r = p
            .post(
                &format!("/laporan/pesan{q}"),
                &[("csrf", &csrf), ("token", &token), ("body", &long)],
            )
            .await;
        assert_eq!(r.status, 422);
        assert!(
            r.body.len() <= BOUND,
            "the refused reply is {} bytes",
            r.body.len()
        );
        let typed = textarea.captures(&r.body).map(|c| unescape(&c[1])).unwrap();
        assert_eq!(typed, long[..MESSAGE_MAX]);
        assert!(r.body.contains(if q.is_empty() {
            "hanya 5000 karakter pertama"
        } else {
            "first 5000 characters"
        }));
        let (bodies, older, _) = follow_up_parts(&r.body);
        assert!(both[0][0].starts_with(&bodies));
        if bodies.len() < both[0][0].len() {
            assert_eq!(older.as_deref(), Some(format!("/laporan{q}").as_str()));
        }
    }
    // The JSON API keeps its pages of `reporter.messages_per_page` (20).
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200);
    let api: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(api, newest_first);
}
