//! The desk in a real browser (headless Chromium, JavaScript off): the first admin enrols, makes
//! a supervisor account, and the supervisor's first login sets a password, enrols TOTP (the
//! code computed here from the secret the page shows as text) and shows the key fingerprint.
//!
//! Then (steps 4 and 5) `bisik keys certify --user` runs as a process with that fingerprint, and
//! the supervisor logs in again and sees the audit head, equal to `bisik audit checkpoint`.

use crate::browser::{Browser, BrowserOpts};
use crate::on_both;
use crate::support::{Backend, TestApp};

on_both!(admin_creates_a_supervisor_who_enrols_in_the_browser);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until `css` is on the page: a click returns before the next page has loaded (the
/// form posts and the server runs an Argon2 first).
pub async fn wait_for(br: &Browser, css: &str) {
    for _ in 0..300 {
        if br.exists(css).await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} did not appear:\n{}", br.source().await);
}

/// Logs in with a one-time password and enrols on the page; returns the fingerprint shown and
/// the TOTP secret.
async fn first_login(
    br: &Browser,
    app: &TestApp,
    name: &str,
    one_time: &str,
    pw: &str,
) -> (String, Vec<u8>) {
    br.goto(&app.desk_url("/login")).await;
    assert!(br.source().await.contains("translate=\"no\""));
    br.fill("#username", name).await;
    br.fill("#password", one_time).await;
    br.click("#login").await;
    wait_for(br, "#totp-secret").await;
    assert!(br.url().await.ends_with("/enrol"), "{}", br.url().await);
    assert!(br.exists(".qr svg").await, "the QR code is drawn as SVG");
    let text = br.text("#totp-secret").await.replace(' ', "");
    let secret = totp_rs::Secret::try_from_base32(text.trim())
        .unwrap()
        .to_vec();
    // A weak password is refused with the reason.
    br.fill("#new_password", "password1234").await;
    br.fill("#confirm", "password1234").await;
    br.fill("#totp", &bisik::desk::totp::code_at(&secret, now()))
        .await;
    br.click("#enrol").await;
    wait_for(br, "#error").await;
    assert!(
        br.text("#error").await.contains("terlalu mudah ditebak"),
        "{}",
        br.source().await
    );
    // The same secret is offered again; now a good password.
    assert_eq!(br.text("#totp-secret").await.replace(' ', ""), text);
    br.fill("#new_password", pw).await;
    br.fill("#confirm", pw).await;
    br.fill("#totp", &bisik::desk::totp::code_at(&secret, now()))
        .await;
    br.click("#enrol").await;
    wait_for(br, "#fingerprint").await;
    (br.text("#fingerprint").await, secret)
}

async fn admin_creates_a_supervisor_who_enrols_in_the_browser(b: Backend) {
    let app = crate::desk::start(b, vec![]).await;
    let Some(br) = Browser::start(BrowserOpts {
        javascript: false,
        width: 1024,
        height: 900,
    })
    .await
    else {
        return;
    };
    let ot = app.one_time_password("admin");
    let (fp, _) = first_login(&br, &app, "admin", &ot, "admin-kapal-gunung-pisang").await;
    assert_eq!(fp.split(' ').count(), 8);

    // 1. The admin creates a supervisor.
    br.goto(&app.desk_url("/accounts")).await;
    br.fill("#new-username", "koordinator1").await;
    br.fill("#new-role", "supervisor").await;
    br.click("#add-account").await;
    wait_for(&br, "#one-time-password").await;
    let sup_ot = br.text("#one-time-password").await;
    assert!(br.source().await.contains("koordinator1"));
    br.click("form[action=\"/logout\"] button").await;
    wait_for(&br, "#login").await;
    assert!(br.source().await.contains("Anda telah keluar"));

    // 2-3. The supervisor's first login: password, TOTP, and the fingerprint shows.
    let (fp, secret) = first_login(&br, &app, "koordinator1", &sup_ot, crate::desk::STRONG).await;
    let desk = app.desk_store().await;
    let (x,): (Vec<u8>,) = sqlx::query_as(
        "SELECT x25519_public FROM staff_keys k JOIN staff s ON s.id = k.staff_id WHERE s.username = 'koordinator1' AND k.active = 1",
    )
    .fetch_one(desk.pool())
    .await
    .unwrap();
    desk.close().await;
    assert_eq!(fp, bisik::desk::keys::fingerprint_of(&x).unwrap());
    // The home page keeps showing it.
    br.goto(&app.desk_url("/")).await;
    wait_for(&br, "#fingerprint").await;
    assert_eq!(br.text("#fingerprint").await, fp);
    // 4. `bisik keys certify --user` compares this fingerprint and signs the list.
    crate::support::ok(&app.cli(
        &[
            "keys",
            "certify",
            "--user",
            "koordinator1",
            "--fingerprint",
            &fp,
        ],
        &app.passphrase(),
    ));
    // 5. The supervisor logs in again and sees the audit head, as the logbook line prints it.
    br.click("form[action=\"/logout\"] button").await;
    wait_for(&br, "#login").await;
    br.fill("#username", "koordinator1").await;
    br.fill("#password", crate::desk::STRONG).await;
    // The next step: enrolment used this one, and the server accepts ±1 step.
    br.fill("#totp", &bisik::desk::totp::code_at(&secret, now() + 30))
        .await;
    br.click("#login").await;
    wait_for(&br, "#audit-head").await;
    let head = br.text("#audit-head").await;
    let printed = crate::support::ok(&app.cli(&["audit", "checkpoint"], ""));
    assert_eq!(head, printed.trim());
    br.close().await;
}
