//! Search across sealed fields (issue 7): area and free text found through the session's
//! decrypted summaries, never a server-side index; need to know holds through search results
//! (an investigator finds only what is shared with them, and nothing once unshared); each
//! build is audited as `indexed`; the summaries end with the session.

use crate::desk::{Browser, add_via_ui, admin, start};
use crate::on_both;
use crate::support::{Backend, TestApp, contains, new_report, ok};
use serde_json::json;

on_both!(search_finds_sealed_text_and_area_only_within_need_to_know);

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
