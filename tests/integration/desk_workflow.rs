//! Issue 7's tests in a real headless Chromium. The full workflow: a tip arrives through the
//! intake API, the certified supervisor logs in with TOTP, finds it in the inbox and shares it
//! with the investigator (typing the fingerprint the investigator's screen shows), the
//! investigator reads it and asks, the reporter sees `needs_info` and the question on the intake's
//! own pages and answers, the investigator reads the answer and writes a note, the supervisor
//! closes it, the reporter sees `received` until the closure delay (moved through the
//! configuration file, never by sleeping) has passed and then `closed`, and `bisik audit verify`
//! passes with every step on the audit page, in order.
//!
//! Then I8: tips and messages whose every free-text field holds hostile markup are rendered in
//! the inbox, the report page, search results and the audit page. No script runs (alert/console hooks installed
//! before the page loads, DOM probes for `window.__xss` and `#pwned`), no element is made from
//! the payloads, and the text shows literally, bidi and zero-width characters as `[U+XXXX]`.
//! Each page is checked twice: with the desk's CSP enforced (no violation may even be reported:
//! a blocked inline script would mean markup got through), and with the CSP bypassed through
//! DevTools, so the escaping alone is what keeps the payloads inert.
//!
//! Screenshots go to `<cargo target dir>/tmp/screenshots/desk/` (`BISIK_SCREENSHOTS` overrides
//! the folder).

use crate::browser::{Browser, BrowserOpts};
use crate::desk::{Staff, add_via_ui, admin, start};
use crate::desk_browser::wait_for;
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use fantoccini::Locator;
use serde_json::{Value, json};
use std::path::PathBuf;

on_both!(
    a_tip_goes_from_intake_to_late_closure_in_the_browser,
    hostile_text_stays_text_in_chromium
);

/// Where the desk's screenshots go.
fn screenshot_dir() -> PathBuf {
    std::env::var_os("BISIK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots/desk"))
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn desktop(javascript: bool) -> BrowserOpts {
    BrowserOpts {
        javascript,
        width: 1280,
        height: 900,
    }
}

/// Logs `who` in on the desk's login page, with a fresh TOTP code, and waits for the home page.
async fn log_in(br: &Browser, app: &TestApp, who: &mut Staff) {
    br.goto(&app.desk_url("/login")).await;
    br.fill("#username", &who.name).await;
    br.fill("#password", &who.password).await;
    let code = who.next_code().await;
    br.fill("#totp", &code).await;
    br.click_and_wait("#login").await;
    wait_for(br, "#fingerprint").await;
}

/// The notice a desk action answered with; fails on an error page.
async fn notice(br: &Browser) -> String {
    assert!(
        !br.exists("#error").await,
        "the desk refused: {}",
        br.source().await
    );
    br.text(".notice").await
}

/// Submits a code on the intake's check page and returns the status shown.
async fn check_code(br: &Browser, app: &TestApp, code: &str) -> String {
    br.goto(&app.url("/cek")).await;
    br.fill("#code", code).await;
    br.click_and_wait("form[action^=\"/cek\"] button[type=submit]")
        .await;
    assert!(br.url().await.contains("/laporan"), "{}", br.source().await);
    br.text("#status").await
}

/// Every row of the audit page, newest first, following the "older" links: (seq, actor, kind,
/// report).
async fn audit_rows(br: &Browser, app: &TestApp) -> Vec<(u64, String, String, String)> {
    br.goto(&app.desk_url("/audit")).await;
    let mut out = Vec::new();
    loop {
        for tr in br.find_all("#audit tbody tr").await {
            let mut cells = Vec::new();
            for td in tr.find_all(Locator::Css("td")).await.unwrap() {
                cells.push(td.text().await.unwrap());
            }
            assert_eq!(cells.len(), 5, "{cells:?}");
            out.push((
                cells[0].parse().unwrap(),
                cells[2].clone(),
                cells[3].clone(),
                cells[4].clone(),
            ));
        }
        if !br.exists("#older").await {
            return out;
        }
        br.click_and_wait("#older").await;
    }
}

async fn a_tip_goes_from_intake_to_late_closure_in_the_browser(b: Backend) {
    let mut app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (_, mut koor) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (_, mut petugas) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    ok(&app.cli(
        &[
            "keys",
            "certify",
            "--user",
            "koor",
            "--fingerprint",
            &koor.fingerprint,
        ],
        &app.passphrase(),
    ));

    // 1. A tip arrives through the intake API.
    let tip = "Transaksi sabu tiap malam di gudang belakang pasar";
    let before = app.report_ids().await;
    let code = app
        .submit(json!({
            "category": "peredaran",
            "area": "kandangan",
            "description": tip,
            "location": "Gang Mawar, rumah cat hijau",
            "vehicles": "motor hitam DA 1234 XY",
        }))
        .await;
    let id = new_report(&app, &before).await.to_string();
    let report_url = app.desk_url(&format!("/report?id={id}"));
    let link = format!("a[href=\"/report?id={id}\"]");

    let Some(mut sup) = Browser::start(desktop(false)).await else {
        return;
    };
    sup.screenshots_to(screenshot_dir());
    let Some(inv) = Browser::start(desktop(false)).await else {
        return;
    };
    // The investigator's own screen shows the fingerprint the supervisor will type in.
    log_in(&inv, &app, &mut petugas).await;
    let inv_fp = inv.text("#fingerprint").await;
    assert_eq!(inv_fp, petugas.fingerprint);

    // 2. The supervisor logs in, finds the tip in the inbox and shares it.
    log_in(&sup, &app, &mut koor).await;
    sup.click_and_wait("header nav a[href=\"/inbox\"]").await;
    assert_eq!(sup.text(&link).await, tip, "{}", sup.source().await);
    sup.shot(&format!("inbox-{}", backend_name(b))).await;
    sup.click_and_wait(&link).await;
    let shown = sup.text("dl.tip").await;
    assert!(
        shown.contains(tip) && shown.contains("Gang Mawar"),
        "{shown}"
    );
    sup.fill("#share-user", "petugas").await;
    sup.fill("#share-fp", &inv_fp).await;
    sup.click_and_wait("#share-fp ~ button").await;
    assert!(
        notice(&sup).await.contains("Laporan telah dibagikan"),
        "{}",
        sup.source().await
    );

    // 3. The investigator finds it, reads it and asks the reporter.
    inv.goto(&app.desk_url("/inbox")).await;
    assert_eq!(inv.text(&link).await, tip, "{}", inv.source().await);
    inv.click_and_wait(&link).await;
    assert!(inv.text("dl.tip").await.contains("DA 1234 XY"));
    let question = "Gudang yang mana, dekat masjid atau dekat sungai?";
    inv.fill("#message-body", question).await;
    inv.click_and_wait("#message-body ~ button").await;
    assert!(notice(&inv).await.contains("Pesan terkirim"));

    // 4. The reporter, on the intake's pages with JavaScript off, sees needs_info and the
    // question, and answers.
    let Some(rep) = Browser::start(BrowserOpts::phone_no_js()).await else {
        return;
    };
    assert_eq!(
        check_code(&rep, &app, &code).await,
        "Petugas membutuhkan informasi tambahan"
    );
    assert!(rep.text("ol.msgs").await.contains(question));
    let answer = "Yang dekat sungai, pintunya biru";
    rep.fill("#body", answer).await;
    rep.click_and_wait("form[action^=\"/laporan/pesan\"] button[type=submit]")
        .await;
    assert!(rep.exists(".ok").await, "{}", rep.source().await);
    assert_eq!(rep.text("#status").await, "Diterima");

    // 5. The investigator sees the answer (asking moved the report to "in review"), writes a
    // note and records that it was acted on; closing is the supervisor's, so the investigator's
    // page has no closing form.
    inv.goto(&report_url).await;
    assert!(inv.text("p.triage").await.contains("Sedang ditinjau"));
    assert!(
        inv.text("ol.thread").await.contains(answer),
        "{}",
        inv.source().await
    );
    let note = "Cocok dengan laporan patroli minggu lalu";
    inv.fill("#note-body", note).await;
    inv.click_and_wait("#note-body ~ button").await;
    assert!(notice(&inv).await.contains("Catatan internal disimpan"));
    inv.goto(&report_url).await;
    assert!(!inv.exists("#close-reason").await, "{}", inv.source().await);
    inv.fill("#status-to", "actioned").await;
    inv.click_and_wait("#status-to ~ button").await;
    assert!(notice(&inv).await.contains("Perubahan disimpan"));
    sup.goto(&report_url).await;
    let thread = sup.text("ol.thread").await;
    for t in [question, answer, note] {
        assert!(thread.contains(t), "{t:?} not in {thread}");
    }
    sup.fill("#close-reason", "actioned").await;
    sup.click_and_wait("#close-original ~ button").await;
    assert!(notice(&sup).await.contains("Perubahan disimpan"));
    sup.goto(&report_url).await;
    let triage = sup.text("p.triage").await;
    assert!(triage.contains("Ditutup"), "{triage}");
    sup.shot(&format!("report-{}", backend_name(b))).await;
    sup.goto(&app.desk_url("/inbox?status=closed")).await;
    assert!(sup.exists(&link).await, "{}", sup.source().await);

    // 6. The reporter still sees `received` (the 14-day default, I11), and never the note.
    assert_eq!(check_code(&rep, &app, &code).await, "Diterima");
    let page = rep.source().await;
    assert!(page.contains(answer) && !page.contains(note), "{page}");
    // The clock moves through configuration: with a delay of 0 days the closure shows.
    app.stop();
    let cfg = app.path().join("delay0.toml");
    std::fs::write(&cfg, "[reporter]\nclosed_delay_days = 0\n").unwrap();
    app.set_env("BISIK_CONFIG", &cfg.display().to_string());
    app.launch("serve").await;
    assert_eq!(
        check_code(&rep, &app, &code).await,
        "Selesai ditangani",
        "{}",
        rep.source().await
    );
    rep.close().await;
    inv.close().await;

    // 7. The signed audit log verifies, and its page shows every step, in order.
    ok(&app.cli(&["audit", "verify"], ""));
    log_in(&sup, &app, &mut koor).await;
    let mut rows = audit_rows(&sup, &app).await;
    rows.reverse();
    let steps: [(&str, &str, &str); 13] = [
        ("koor", "login", ""),
        ("petugas", "login", ""),
        ("koor", "previewed", ""),
        ("koor", "decrypted", &id),
        ("koor", "certified", ""),
        ("koor", "assigned", &id),
        ("petugas", "decrypted", &id),
        ("petugas", "item_written", &id),
        ("petugas", "status in_review", &id),
        ("petugas", "item_written", &id),
        ("petugas", "status actioned", &id),
        ("koor", "status closed:actioned", &id),
        ("koor", "login", ""),
    ];
    let mut at = 0;
    for (actor, kind, report) in steps {
        let found = rows[at..]
            .iter()
            .position(|(_, a, k, r)| a == actor && k == kind && (report.is_empty() || r == report))
            .unwrap_or_else(|| {
                panic!(
                    "no {actor} {kind} {report} after audit row {at} on the audit page:\n{:#?}",
                    rows
                )
            });
        at += found + 1;
    }
    // The seq column is the chain's order, with nothing missing.
    let seqs: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    sup.close().await;
}

/// Hostile text for the free-text fields. Each either would set `window.__xss`, call alert or
/// console, make an element with id `pwned`, restyle the page, or read differently than it is
/// written. None holds a leading or trailing blank (the intake trims) or a 20-digit run (it
/// refuses those).
const PAYLOADS: &[&str] = &[
    "<script>window.__xss=1</script>",
    "<img src=x onerror=\"window.__xss=1;alert(1)\">",
    "<svg onload=\"window.__xss=1\"><circle id=\"pwned\" r=\"5\"/></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss=1\">",
    "<a id=\"pwned\" href=\"javascript:window.__xss=1\">klik di sini</a>",
    "javascript:window.__xss=1//",
    "\"><script>window.__xss=1</script><b id=\"pwned\">",
    "'><img src=x onerror=window.__xss=1 id=pwned>",
    "</bdi></dd></dl></p><div id=\"pwned\">markup pecah",
    "<!-- komentar tak ditutup <![CDATA[ x ]]>",
    "<style>body{display:none}</style><div style=\"background:url(javascript:window.__xss=1)\">",
    "</textarea><script>console.log('xss')</script>",
    "{{7*7}} ${7*7} {% if 1 %}49{% endif %} #{7*7} <%= 7*7 %> {{constructor.constructor('window.__xss=1')()}}",
    "<iframe id=\"pwned\" srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
    "<details open ontoggle=\"window.__xss=1\">buka</details>",
    "<input autofocus onfocus=\"window.__xss=1\">",
    "&lt;script&gt;window.__xss=1&lt;/script&gt; &amp;amp;",
    "<base href=\"javascript:/\"><meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__xss=1\">",
    "<object data=\"javascript:window.__xss=1\"></object><embed src=\"javascript:window.__xss=1\">",
    "<noscript><p title=\"</noscript><img src=x onerror=window.__xss=1>\">",
    "<form action=\"javascript:window.__xss=1\"><button id=\"pwned\">kirim</button></form>",
    "gambar\u{202E}gpj.exe dan \u{2066}isolat\u{2069} dan \u{202D}paksa-LTR\u{202C}",
    "nol\u{200B}lebar\u{200C}tak\u{200D}tampak\u{2060}kata\u{FEFF}akhir\u{00AD}x\u{061C}y\u{200F}z",
    "مرحبا <b id=\"pwned\">tebal</b> \u{200F}teks",
    "expression(alert(1)) url(\"javascript:alert(1)\") @import 'http://x.invalid/a.css';",
];

/// How the desk must show a payload: the characters that reorder or hide text as `[U+XXXX]`,
/// written out here independently of the desk's own function, blanks collapsed as `innerText`
/// collapses them.
fn shown(p: &str) -> String {
    let mut out = String::new();
    for c in p.chars() {
        match c {
            '\u{202E}' | '\u{2066}' | '\u{2069}' | '\u{202D}' | '\u{202C}' | '\u{200B}'
            | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{061C}'
            | '\u{200F}' => out.push_str(&format!("[U+{:04X}]", c as u32)),
            c => out.push(c),
        }
    }
    squash(&out)
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Installed before any page script (DevTools runs it first in every new document, CSP or
/// not): records alert/confirm/prompt calls, console output and CSP violation reports.
const HOOKS: &str = "window.__alerts = []; window.__console = []; window.__csp = [];\
    for (const f of ['alert', 'confirm', 'prompt', 'print']) {\
      window[f] = (...a) => { window.__alerts.push(f + ':' + a.join(',')); };\
    }\
    for (const f of ['log', 'info', 'warn', 'error', 'debug']) {\
      const o = console[f].bind(console);\
      console[f] = (...a) => { window.__console.push(f + ':' + a.map(String).join(' ')); o(...a); };\
    }\
    document.addEventListener('securitypolicyviolation', e => {\
      window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);\
    });";

/// What the page holds after it loaded. Elements a payload could make are looked for by kind
/// and attribute; the desk's own pages have none of them.
const PROBE: &str = "const bad = document.querySelectorAll('script, iframe, object, embed, math, svg, img, \
      style, base, meta[http-equiv], details, noscript, input[autofocus], [onerror], [onload], \
      [onfocus], [ontoggle], [onclick], [style], [srcdoc], a[href^=\"javascript\"], \
      form[action^=\"javascript\"], #pwned');\
    return {\
      xss: typeof window.__xss,\
      parentXss: typeof parent.__xss,\
      pwned: document.getElementById('pwned') !== null,\
      bad: Array.from(bad).map(e => e.outerHTML.slice(0, 160)),\
      untrusted: document.querySelectorAll('.untrusted').length,\
      untrustedWithChildren: Array.from(document.querySelectorAll('.untrusted'))\
        .filter(e => e.childElementCount > 0).map(e => e.outerHTML.slice(0, 160)),\
      alerts: window.__alerts,\
      console: window.__console,\
      csp: window.__csp,\
      resources: performance.getEntriesByType('resource').map(r => new URL(r.name).pathname),\
      text: document.body.innerText,\
    };";

/// Loads `url` and checks that nothing ran, nothing was made from the payloads and every
/// `expect`ed text shows literally.
async fn probe(br: &Browser, url: &str, expect: &[&str], csp: &str) {
    br.goto(url).await;
    // Give an `autofocus`, a `meta refresh` or an image error handler the time to fire.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        br.client.get_alert_text().await.is_err(),
        "{csp}: a dialog is open on {url}"
    );
    assert_eq!(br.url().await, url, "{csp}: the page navigated away");
    let v: Value = br
        .client
        .execute(PROBE, vec![])
        .await
        .unwrap_or_else(|e| panic!("probe {url}: {e}"));
    let ctx = format!("{csp} {url}: {v:#}");
    assert_eq!(v["xss"], "undefined", "{ctx}");
    assert_eq!(v["parentXss"], "undefined", "{ctx}");
    assert_eq!(v["pwned"], false, "{ctx}");
    assert_eq!(v["bad"], json!([]), "{ctx}");
    assert_eq!(v["untrustedWithChildren"], json!([]), "{ctx}");
    assert_eq!(v["alerts"], json!([]), "{ctx}");
    assert_eq!(v["console"], json!([]), "{ctx}");
    assert_eq!(
        v["csp"],
        json!([]),
        "a CSP violation: markup got through. {ctx}"
    );
    assert_eq!(v["resources"], json!(["/desk.css"]), "{ctx}");
    let text = squash(v["text"].as_str().unwrap());
    for e in expect {
        assert!(
            text.contains(&shown(e)),
            "{csp} {url}: {:?} not shown literally in:\n{text}",
            shown(e)
        );
    }
}

async fn hostile_text_stays_text_in_chromium(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (_, mut koor) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));

    // Five fields a tip, plus one reporter message a tip, until the corpus is used up.
    let fields = ["description", "location", "when", "people", "vehicles"];
    let mut tips: Vec<(String, Vec<&str>)> = Vec::new();
    for chunk in PAYLOADS.chunks(fields.len() + 1) {
        let mut body = serde_json::Map::new();
        for (f, p) in fields.iter().zip(chunk) {
            body.insert((*f).to_owned(), json!(p));
        }
        let before = app.report_ids().await;
        let code = app.submit(Value::Object(body)).await;
        let id = new_report(&app, &before).await.to_string();
        if let Some(m) = chunk.get(fields.len()) {
            let r = app
                .post(
                    "/api/v1/followup/messages",
                    json!({"code": code, "body": m}),
                )
                .await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        tips.push((id, chunk.to_vec()));
    }

    let Some(mut br) = Browser::start(desktop(true)).await else {
        return;
    };
    br.screenshots_to(screenshot_dir());
    br.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": HOOKS }),
    )
    .await;
    log_in(&br, &app, &mut koor).await;
    // The session cookie, to read the same pages' headers over plain HTTP.
    let cookie = br
        .client
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let http = reqwest::Client::new();

    // Search results: the payload itself is the query, so it is echoed in the search box as
    // well as shown in the matching previews. The audit page holds no tip text by design (seq,
    // day, actor, kind, report id), and is probed anyway.
    let inbox_expect: Vec<&str> = tips.iter().map(|(_, p)| p[0]).collect();
    let mut pages: Vec<(String, Vec<&str>)> = vec![(app.desk_url("/inbox"), inbox_expect)];
    for (id, p) in &tips {
        pages.push((app.desk_url(&format!("/report?id={id}")), p.clone()));
    }
    for (_, p) in tips.iter().take(4) {
        let q: String = url::form_urlencoded::byte_serialize(p[0].as_bytes()).collect();
        pages.push((app.desk_url(&format!("/inbox?q={q}")), vec![p[0]]));
    }
    pages.push((app.desk_url("/audit"), vec![]));

    for (url, expect) in &pages {
        let r = http
            .get(url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("unsafe"),
            "{url}: CSP {csp:?}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{url}");
        let body = r.text().await.unwrap();
        assert!(body.contains("translate=\"no\""), "{url}");
        // First as served, with the CSP enforced.
        probe(&br, url, expect, "CSP on").await;
    }
    // What staff see: the inbox, and the report whose text reorders and hides itself.
    br.goto(&pages[0].0).await;
    br.shot(&format!("xss-inbox-{}", backend_name(b))).await;
    br.goto(&pages[4].0).await;
    br.shot(&format!("xss-report-{}", backend_name(b))).await;
    // Then with the CSP switched off in the browser: the escaping alone must hold.
    br.cdp("Page.setBypassCSP", json!({ "enabled": true }))
        .await;
    for (url, expect) in &pages {
        probe(&br, url, expect, "CSP bypassed").await;
    }
    // The self-test of the probe: with the CSP bypassed, a page that does carry the markup runs
    // it and the probe sees it, so a pass above means something.
    let planted = format!("data:text/html,<body><p>{}</p></body>", PAYLOADS[1]);
    br.goto(&planted).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let v: Value = br
        .client
        .execute(
            "return [typeof window.__xss, window.__alerts.length]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(v, json!(["number", 1]), "the probe cannot see a script run");
    br.close().await;
}
