//! Search across sealed fields (issue 7): area and free text found through the session's
//! decrypted summaries, never a server-side index; need to know holds through search results
//! (an investigator finds only what is shared with them, and nothing once unshared); each
//! build is audited as `indexed`; the summaries end with the session.

use crate::desk::{Browser, add_via_ui, admin, start};
use crate::memory::{Needle, scan};
use crate::on_both;
use crate::support::{Backend, TestApp, canary, contains, new_report, ok};
use serde_json::json;
use std::time::{Duration, Instant};

on_both!(
    search_finds_sealed_text_and_area_only_within_need_to_know,
    summaries_are_built_newest_first_in_steps_and_go_at_logout,
    a_forged_header_fails_alone_in_a_batch
);

async fn submit(app: &TestApp, body: serde_json::Value) -> String {
    let before = app.report_ids().await;
    app.submit(body).await;
    new_report(app, &before).await.to_string()
}

fn shows(p: &crate::desk::Page, id: &str) -> bool {
    p.body.contains(&format!("/report?id={id}"))
}

async fn search_finds_sealed_text_and_area_only_within_need_to_know(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, mut sup) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (mut ib, inv) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let loksado = submit(
        &app,
        json!({"description": "Gudang SABU-kuning di tepi sungai", "area": "loksado"}),
    )
    .await;
    let kandangan = submit(
        &app,
        json!({"description": "Transaksi malam", "area": "kandangan", "vehicles": "Motor merah KH 1234"}),
    )
    .await;
    // A reporter message is searchable too.
    let before = app.report_ids().await;
    let code = app.submit(json!({"description": "Laporan ketiga"})).await;
    let third = new_report(&app, &before).await.to_string();
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "Pelakunya memakai jaket ZIRKONIA"}),
        )
        .await;
    assert_eq!(r.status(), 201);

    // The texts are sealed at rest: no plaintext of them anywhere in the databases.
    let files = TestApp::files_under(&app.data_dir());
    for needle in ["sabu-kuning", "SABU-kuning", "ZIRKONIA", "zirkonia"] {
        for (f, bytes) in &files {
            assert!(
                !contains(bytes, needle.as_bytes()),
                "{needle} in {}",
                f.display()
            );
        }
    }

    // The inbox shows the sealed area, decrypted with the preview.
    let p = sb.get("/inbox").await;
    assert!(
        p.body.contains("<td><bdi dir=\"auto\">Loksado</bdi></td>"),
        "{}",
        p.body
    );
    let p = sb.get("/inbox?q=sabu-KUNING").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        shows(&p, &loksado) && !shows(&p, &kandangan) && !shows(&p, &third),
        "{}",
        p.body
    );
    let p = sb.get("/inbox?q=zirkonia").await;
    assert!(shows(&p, &third) && !shows(&p, &loksado), "{}", p.body);
    let p = sb.get("/inbox?q=motor+merah").await;
    assert!(shows(&p, &kandangan) && !shows(&p, &loksado), "{}", p.body);
    let p = sb.get("/inbox?area=kandangan").await;
    assert!(
        shows(&p, &kandangan) && !shows(&p, &loksado) && !shows(&p, &third),
        "{}",
        p.body
    );
    let p = sb.get("/inbox?area=loksado&q=transaksi").await;
    assert!(!shows(&p, &kandangan) && !shows(&p, &loksado), "{}", p.body);
    let p = sb.get("/inbox?area=atlantis").await;
    assert_eq!(p.status, 400, "an unknown area is refused: {}", p.body);
    // Plaintext filters combine with the search.
    let p = sb.get("/inbox?q=transaksi&status=closed").await;
    assert!(!shows(&p, &kandangan), "{}", p.body);

    // Need to know through search: the investigator holds nothing yet, then only `loksado`.
    let p = ib.get("/inbox?q=transaksi").await;
    assert!(!shows(&p, &kandangan), "{}", p.body);
    let csrf = sb.csrf().await;
    for id in [&loksado, &kandangan] {
        let p = sb
            .post(
                "/reports/share",
                &[
                    ("csrf", &csrf),
                    ("report", id),
                    ("username", "petugas"),
                    ("fingerprint", &inv.fingerprint),
                ],
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
    }
    let p = ib.get("/inbox?q=transaksi").await;
    assert!(shows(&p, &kandangan), "{}", p.body);
    let p = ib.get("/inbox?q=zirkonia").await;
    assert!(!shows(&p, &third), "not shared, so never found: {}", p.body);
    // Unsharing takes a report out of the very next search, summaries or not.
    let p = sb
        .post(
            "/reports/unshare",
            &[
                ("csrf", &csrf),
                ("report", &kandangan),
                ("username", "petugas"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let p = ib.get("/inbox?q=transaksi").await;
    assert!(!shows(&p, &kandangan), "{}", p.body);
    // The API searches the same way.
    let token = sb.cookie.clone().unwrap();
    let token = token.split_once('=').unwrap().1.to_owned();
    let v: serde_json::Value = TestApp::client()
        .get(app.desk_url("/api/v1/reports?q=zirkonia"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["reports"][0]["id"], third.as_str(), "{v}");

    // Each build or refresh of a session's summaries is audited, naming the reports.
    let indexed = |rows: &[bisik::store::AuditRow]| {
        rows.iter()
            .filter_map(|r| bisik::desk::audit::Entry::decode(&r.entry).ok())
            .filter_map(|e| match e.event {
                bisik::desk::audit::Event::Indexed { reports } => Some(reports.len()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    let builds = indexed(&rows);
    assert!(
        builds.contains(&3),
        "the supervisor's first search decrypted all three: {builds:?}"
    );
    // A new session starts with no summaries: its first search decrypts again.
    let p = sb.post("/logout", &[("csrf", &csrf)]).await;
    assert!(p.status == 200 || p.status == 303, "{}", p.status);
    let mut fresh = Browser::new(&app);
    let p = sup.login(&mut fresh).await;
    assert_eq!(p.location, "/", "{}", p.body);
    let p = fresh.get("/inbox?q=zirkonia").await;
    assert!(shows(&p, &third), "{}", p.body);
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    assert_eq!(
        indexed(&rows).len(),
        builds.len() + 1,
        "a new session builds its own summaries"
    );
    // The same session's next search decrypts nothing new.
    let p = fresh.get("/inbox?q=gudang").await;
    assert!(shows(&p, &loksado), "{}", p.body);
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    assert_eq!(indexed(&rows).len(), builds.len() + 1);
    ok(&app.cli(&["audit", "verify"], ""));
}

/// The `indexed` entries of the audit log, each as its list of reports, in log order.
async fn indexed_steps(app: &TestApp) -> Vec<Vec<String>> {
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    rows.iter()
        .filter_map(|r| bisik::desk::audit::Entry::decode(&r.entry).ok())
        .filter_map(|e| match e.event {
            bisik::desk::audit::Event::Indexed { reports } => {
                Some(reports.iter().map(|r| r.to_string()).collect())
            }
            _ => None,
        })
        .collect()
}

/// A new session's summaries are opened newest first in audited steps that double
/// (`desk.search_first_step` = 2 here, so 9 reports take steps of 2, 4 and 3): every report of
/// a step is newer in the inbox's order than every report of the next, which is what lets a
/// first page sorted by day be answered before the build is done. The answer is the same as a
/// complete build's, and after logout no decrypted text of the summaries is left in the
/// desk's memory (they are held lower-cased, a form nothing else in the server keeps).
async fn summaries_are_built_newest_first_in_steps_and_go_at_logout(b: Backend) {
    let app = start(b, vec![("BISIK_DESK_SEARCH_FIRST_STEP", "2".into())]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let mut ids = Vec::new();
    let mut needles = Vec::new();
    for i in 0..9 {
        let c = canary(&format!("SUM{i}"));
        ids.push(
            submit(
                &app,
                json!({"description": format!("transaksi gudang {c}")}),
            )
            .await,
        );
        needles.push(Needle {
            what: format!("tip {i}, lower-cased as the summaries hold it"),
            bytes: c.to_lowercase().into_bytes(),
        });
    }
    // All came today, so the inbox's order among them is by id, descending.
    let mut newest_first = ids.clone();
    newest_first.sort();
    newest_first.reverse();

    // The first search may answer while the build is still going; reload (as the page's own
    // refresh does) until the count is final. The rows are right either way.
    let start = Instant::now();
    let p = loop {
        let p = sb.get("/inbox?q=transaksi").await;
        assert_eq!(p.status, 200, "{}", p.body);
        let shown: Vec<&String> = newest_first.iter().filter(|id| shows(&p, id)).collect();
        if p.body.contains("id=\"searching\"") {
            assert!(
                p.body.contains("http-equiv=\"refresh\""),
                "a partial answer reloads itself: {}",
                p.body
            );
        } else {
            assert_eq!(shown.len(), 9, "{}", p.body);
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the build never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(p.body.contains("9 laporan"), "{}", p.body);

    let steps = indexed_steps(&app).await;
    let sizes: Vec<usize> = steps.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 4, 3], "steps double from the first: {steps:?}");
    let mut seen = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let expect: std::collections::HashSet<&String> = newest_first
            [seen.len()..seen.len() + step.len()]
            .iter()
            .collect();
        let got: std::collections::HashSet<&String> = step.iter().collect();
        assert_eq!(got, expect, "step {n} holds the next newest reports");
        seen.extend(step.iter().cloned());
    }

    // The summaries are in the desk's memory while the session lives (the scan sees them)...
    let held = scan(app.pid(), &needles);
    assert_eq!(
        held.len(),
        needles.len(),
        "the scanner finds the summaries: {held:?}"
    );
    // ... and gone soon after logout: no build step or snapshot outlives the session.
    let csrf = sb.csrf().await;
    let p = sb.post("/logout", &[("csrf", &csrf)]).await;
    assert!(p.status == 200 || p.status == 303, "{}", p.status);
    let start = Instant::now();
    loop {
        let found = scan(app.pid(), &needles);
        if found.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "decrypted summaries outlive the session: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ok(&app.cli(&["audit", "verify"], ""));
}

/// Headers are verified a batch at a time (the inbox's previews and the search's summaries);
/// one forged signature among them fails that report alone, with its `integrity_failed`
/// entry, and the rest of the batch is still shown and found.
async fn a_forged_header_fails_alone_in_a_batch(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(submit(&app, json!({"description": format!("gudang nomor {i}")})).await);
    }
    let forged = ids[2].clone();
    let store = app.store().await;
    let (mut sig,): (Vec<u8>,) = sqlx::query_as("SELECT header_sig FROM reports WHERE id = $1")
        .bind(&forged)
        .fetch_one(store.pool())
        .await
        .unwrap();
    sig[40] ^= 1;
    sqlx::query("UPDATE reports SET header_sig = $1 WHERE id = $2")
        .bind(sig)
        .bind(&forged)
        .execute(store.pool())
        .await
        .unwrap();
    let failures = |rows: &[bisik::store::AuditRow]| {
        rows.iter()
            .filter_map(|r| bisik::desk::audit::Entry::decode(&r.entry).ok())
            .filter_map(|e| match e.event {
                bisik::desk::audit::Event::IntegrityFailed { report } => Some(report.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };

    // The inbox: every row is listed, the forged one marked and without its preview.
    let p = sb.get("/inbox").await;
    assert_eq!(p.status, 200, "{}", p.body);
    for (i, id) in ids.iter().enumerate() {
        assert!(shows(&p, id), "{}", p.body);
        let shown = p.body.contains(&format!("gudang nomor {i}"));
        assert_eq!(shown, id != &forged, "preview {i}: {}", p.body);
    }
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    assert_eq!(failures(&rows), std::slice::from_ref(&forged));

    // The search: the four others are found; the forged one is not, and is audited again.
    let p = sb.get("/inbox?q=gudang").await;
    assert_eq!(p.status, 200, "{}", p.body);
    for id in &ids {
        assert_eq!(shows(&p, id), id != &forged, "{}", p.body);
    }
    assert!(p.body.contains("4 laporan"), "{}", p.body);
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    assert_eq!(failures(&rows), [forged.clone(), forged.clone()]);
    ok(&app.cli(&["audit", "verify"], ""));
}
