//! The reporter pages in a real headless Chromium at 360 x 800: the whole flow with JavaScript
//! off (Tor Browser at "Safest") in both languages, a screenshot of every page, and axe-core on
//! every page with no serious or critical violation.
//!
//! Screenshots go to `<cargo target dir>/tmp/screenshots/intake/` (BISIK_SCREENSHOTS overrides),
//! named `<lang>-<nn>-<page>.png`; the README names the folder.

use crate::browser::{Browser, BrowserOpts};
use crate::on_both;
use crate::support::{Backend, TestApp};
use std::path::PathBuf;

on_both!(reporter_flow_without_javascript, axe_finds_nothing_serious);

/// Where the screenshots go.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("BISIK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots/intake"))
}

fn q(en: bool) -> &'static str {
    if en { "?lang=en" } else { "" }
}

/// Clicks the submit button of the form whose action starts with `action`.
async fn submit(b: &Browser, action: &str) {
    b.click_and_wait(&format!("form[action^=\"{action}\"] button[type=submit]"))
        .await;
}

/// Submit, read the code, follow up, reply, remove access, and see the code refused: all by
/// clicking and typing in Chromium with JavaScript off.
async fn reporter_flow_without_javascript(backend: Backend) {
    let app = TestApp::start(backend).await;
    for en in [false, true] {
        let Some(mut b) = Browser::start(BrowserOpts::phone_no_js()).await else {
            return;
        };
        let lang = if en { "en" } else { "id" };
        let shots = screenshot_dir();
        b.screenshots_to(&shots);
        let shot = |n: &str| format!("{lang}-flow-{n}-{}", backend_name(backend));
        b.goto(&app.url(&format!("/{}", q(en)))).await;
        b.shot(&shot("01-home")).await;
        // 1. Submit a report through the form.
        b.click_and_wait("a.btn[href^=\"/lapor\"]").await;
        assert!(b.url().await.contains("/lapor"));
        b.shot(&shot("02-form")).await;
        b.fill("#category", "peredaran").await;
        b.fill("#area", "kandangan").await;
        b.fill("#location", "Gang Mawar, rumah cat hijau").await;
        b.fill("#when", "setiap malam Sabtu").await;
        b.fill("#vehicles", "motor hitam DA 1234 XY").await;
        b.fill(
            "#description",
            "Ada transaksi sabu di gudang belakang pasar.",
        )
        .await;
        submit(&b, "/lapor").await;
        // 2. Read the code from the page.
        let code = b.text("#code").await;
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits.len(), 20, "{code}");
        assert!(
            !b.url().await.contains(&digits[..8]),
            "the code is in the URL"
        );
        b.shot(&shot("03-code")).await;
        b.click_and_wait("#noted").await;
        b.shot(&shot("04-done")).await;
        // 3. Follow up.
        b.goto(&app.url(&format!("/cek{}", q(en)))).await;
        b.shot(&shot("05-check")).await;
        b.fill("#code", &code).await;
        submit(&b, "/cek").await;
        assert!(b.url().await.contains("/laporan"), "{}", b.source().await);
        let status = b.text("#status").await;
        assert_eq!(status, if en { "Received" } else { "Diterima" });
        b.shot(&shot("06-report")).await;
        // 4. Reply.
        b.fill("#body", "Mobilnya juga sering datang, warna biru.")
            .await;
        submit(&b, "/laporan/pesan").await;
        let src = b.source().await;
        assert!(
            src.contains("Mobilnya juga sering datang, warna biru."),
            "{} {src}",
            b.url().await
        );
        assert!(b.exists(".ok").await, "no sent notice");
        b.shot(&shot("07-replied")).await;
        let (s, v) = app.followup(&code).await;
        assert_eq!(s, 200);
        assert_eq!(
            v["messages"][0]["body"],
            "Mobilnya juga sering datang, warna biru."
        );
        // 5. Remove access, after the confirmation.
        b.click_and_wait("#revoke").await;
        b.shot(&shot("08-revoke-ask")).await;
        b.click_and_wait("#confirm").await;
        b.shot(&shot("09-revoked")).await;
        // 6. The code is now refused, like an unknown one.
        b.goto(&app.url(&format!("/cek{}", q(en)))).await;
        b.fill("#code", &code).await;
        submit(&b, "/cek").await;
        assert!(
            b.exists("#code-err").await,
            "the revoked code was not refused"
        );
        let refused = b.text("#code-err").await;
        assert!(
            refused.contains("tidak ditemukan") || refused.contains("not found"),
            "{refused}"
        );
        b.shot(&shot("10-refused")).await;
        assert_eq!(app.followup(&code).await.0, 404);
        b.close().await;
    }
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// axe-core on every intake page, both languages: zero serious or critical violations. Also
/// the screenshot of each page, at 360 px (pages have no script, so they render as with
/// JavaScript off).
async fn axe_finds_nothing_serious(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut problems = Vec::new();
    for en in [false, true] {
        let Some(mut b) = Browser::start(BrowserOpts::phone_js()).await else {
            return;
        };
        let lang = if en { "en" } else { "id" };
        b.screenshots_to(screenshot_dir());
        let mut n = 0;
        let mut check = async |b: &Browser, name: &str| {
            n += 1;
            let found = b.axe_serious().await;
            for f in found {
                problems.push(format!("{lang} {name}: {f}"));
            }
            if backend == Backend::Sqlite {
                b.shot(&format!("{lang}-{n:02}-{name}")).await;
            }
        };
        let url = |p: &str| app.url(&format!("{p}{}", q(en)));
        b.goto(&url("/")).await;
        check(&b, "home").await;
        b.goto(&url("/lapor")).await;
        check(&b, "form").await;
        // A refused form: a follow-up code in the description.
        let code_like = bisik::crypto::code::FollowupCode::generate()
            .display()
            .to_string();
        b.fill("#description", &format!("kode saya {code_like}"))
            .await;
        b.fill("#location", "pasar").await;
        submit(&b, "/lapor").await;
        assert!(b.exists("#description-err").await, "{}", b.source().await);
        check(&b, "form-errors").await;
        b.fill("#description", "Ada transaksi di dermaga.").await;
        submit(&b, "/lapor").await;
        let code = b.text("#code").await;
        check(&b, "code").await;
        b.click_and_wait("#noted").await;
        check(&b, "done").await;
        b.goto(&url("/cek")).await;
        check(&b, "check").await;
        b.fill("#code", "1234").await;
        submit(&b, "/cek").await;
        check(&b, "check-error").await;
        b.fill("#code", &code).await;
        submit(&b, "/cek").await;
        check(&b, "report").await;
        b.fill("#body", "x".repeat(5001).as_str()).await;
        submit(&b, "/laporan/pesan").await;
        assert!(b.exists("#body-err").await);
        check(&b, "reply-error").await;
        b.click_and_wait("#revoke").await;
        check(&b, "revoke-ask").await;
        b.goto(&url("/laporan")).await;
        submit(&b, "/keluar").await;
        check(&b, "logged-out").await;
        b.goto(&url("/laporan")).await;
        check(&b, "expired").await;
        b.goto(&url("/cek")).await;
        b.fill("#code", &code).await;
        submit(&b, "/cek").await;
        b.click_and_wait("#revoke").await;
        b.click_and_wait("#confirm").await;
        check(&b, "revoked").await;
        b.goto(&url("/tidak-ada")).await;
        check(&b, "not-found").await;
        // A filled honeypot (as an autofill would), set through the page since people cannot
        // reach the field.
        b.goto(&url("/lapor")).await;
        b.fill("#description", "Ada transaksi.").await;
        b.client
            .execute(
                "document.getElementById('url').value = 'https://x.example';",
                vec![],
            )
            .await
            .unwrap();
        submit(&b, "/lapor").await;
        assert!(b.source().await.contains("class=\"alert\""));
        check(&b, "honeypot").await;
        b.close().await;
    }
    assert!(
        problems.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        problems.join("\n")
    );
}
