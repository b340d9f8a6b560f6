//! Search across sealed fields (issue 7): area and free text found through the session's
//! decrypted summaries, never a server-side index; need to know holds through search results
//! (an investigator finds only what is shared with them, and nothing once unshared); each
//! build is audited as `indexed`; the summaries end with the session.

use crate::desk::{Browser, Staff, add_via_ui, admin, start};
use crate::memory::{Needle, scan};
use crate::on_both;
use crate::support::{Backend, TestApp, canary, contains, new_report, ok};
use serde_json::json;
use std::time::{Duration, Instant};

on_both!(
    search_finds_sealed_text_and_area_only_within_need_to_know,
    summaries_are_built_newest_first_in_steps_and_go_at_logout,
    a_forged_header_fails_alone_in_a_batch,
    desk_wraps_open_later_sessions_and_never_skip_a_check
);

async fn submit(app: &TestApp, body: serde_json::Value) -> String {
    let before = app.report_ids().await;
    app.submit(body).await;
    new_report(app, &before).await.to_string()
}

/// A desk with a certified supervisor `koor` and an investigator `petugas`, both logged in.
async fn office(b: Backend) -> (TestApp, (Browser, Staff), (Browser, Staff)) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let sup = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let inv = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    (app, sup, inv)
}

/// What a database writer does to report `id`: one bit of its header's signature flipped.
async fn forge_header(store: &bisik::store::Store, id: &str) {
    let (mut sig,): (Vec<u8>,) = sqlx::query_as("SELECT header_sig FROM reports WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    sig[40] ^= 1;
    sqlx::query("UPDATE reports SET header_sig = $1 WHERE id = $2")
        .bind(sig)
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
}

/// A desk API GET with the session of `b` as its bearer token.
async fn api_get(app: &TestApp, b: &Browser, path: &str) -> serde_json::Value {
    let cookie = b.cookie.clone().unwrap();
    let token = cookie.split_once('=').unwrap().1;
    TestApp::client()
        .get(app.desk_url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn shows(p: &crate::desk::Page, id: &str) -> bool {
    p.body.contains(&format!("/report?id={id}"))
}

async fn search_finds_sealed_text_and_area_only_within_need_to_know(b: Backend) {
    let (app, (mut sb, mut sup), (mut ib, inv)) = office(b).await;
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
    let fourth = submit(&app, json!({"description": "Laporan keempat, tanpa pesan"})).await;
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
    // ... and out of its count, even when another share in the same minute (of a report with
    // no message) leaves the number of reports the investigator holds as it was.
    let p = sb
        .post(
            "/reports/share",
            &[
                ("csrf", &csrf),
                ("report", &fourth),
                ("username", "petugas"),
                ("fingerprint", &inv.fingerprint),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let p = ib.get("/inbox?q=transaksi").await;
    assert!(!shows(&p, &kandangan), "{}", p.body);
    let v = api_get(&app, &ib, "/api/v1/reports?q=transaksi").await;
    assert_eq!(v["total"], 0, "an unshared report still counted: {v}");
    // The API searches the same way.
    let v = api_get(&app, &sb, "/api/v1/reports?q=zirkonia").await;
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
    // A message that comes in after the summaries were built is found by the session's very
    // next search: its report alone is opened again, and audited.
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "Mobilnya avanza GRANIT-HITAM"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let p = fresh.get("/inbox?q=granit-hitam").await;
    assert!(shows(&p, &third) && !shows(&p, &loksado), "{}", p.body);
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    let now = indexed(&rows);
    assert_eq!(now.len(), builds.len() + 2, "{now:?}");
    assert_eq!(now.last(), Some(&1), "only the report that grew: {now:?}");
    // And nothing more while nothing changes.
    let p = fresh.get("/inbox?q=granit-hitam").await;
    assert!(shows(&p, &third), "{}", p.body);
    let rows = app.desk_store().await.audit_rows_after(0).await.unwrap();
    assert_eq!(indexed(&rows).len(), builds.len() + 2);
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
    forge_header(&app.store().await, &forged).await;
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

/// Every desk wrap as (report, recipient fingerprint, sealed), in key order.
async fn desk_wraps(app: &TestApp) -> Vec<(String, String, Vec<u8>)> {
    sqlx::query_as(
        "SELECT report_id, recipient_fp, sealed FROM desk_wraps ORDER BY report_id, recipient_fp",
    )
    .fetch_all(app.store().await.pool())
    .await
    .unwrap()
}

/// Desk wraps (src/desk/rewrap.rs, migration 0010): once a session has opened a report through
/// its HPKE wrap and the signed header, the desk keeps K_r sealed for that staff key, and a
/// later session opens it from there (shown here by damaging the HPKE wrap: the report is
/// still found). What a database writer can do to them changes nothing: a flipped desk wrap or
/// one moved to another report does not open, and the desk falls back to the HPKE wrap and
/// makes a new one; a header forged after the desk wrap was made fails its check as before,
/// because the desk wrap is bound to the header and its signature. A desk wrap never outlives
/// the HPKE wrap it came from, so an unshare takes it too (I5).
async fn desk_wraps_open_later_sessions_and_never_skip_a_check(b: Backend) {
    let (app, (mut sb, mut sup), (mut ib, inv)) = office(b).await;
    let mut ids = Vec::new();
    for word in ["alfa", "beta", "gamma", "delta"] {
        ids.push(submit(&app, json!({"description": format!("gudang {word}")})).await);
    }
    let [alfa, beta, gamma, delta] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    assert!(
        desk_wraps(&app).await.is_empty(),
        "none before a session opens a report"
    );

    // The supervisor's first search opens each report the slow way and keeps a desk wrap.
    let p = sb.get("/inbox?q=gudang").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(ids.iter().all(|id| shows(&p, id)), "{}", p.body);
    let made = desk_wraps(&app).await;
    let mut expect: Vec<&String> = ids.iter().collect();
    expect.sort();
    assert_eq!(
        made.iter().map(|w| &w.0).collect::<Vec<_>>(),
        expect,
        "one desk wrap per report opened"
    );
    let sup_fp = made[0].1.clone();
    assert!(made.iter().all(|w| w.1 == sup_fp));
    let sealed_of = |id: &str| made.iter().find(|w| w.0 == id).unwrap().2.clone();

    // What a database writer does in between.
    let store = app.store().await;
    let (hpke,): (Vec<u8>,) = sqlx::query_as(
        "SELECT wrapped FROM report_wraps WHERE report_id = $1 AND recipient_fp = $2 AND purpose = 1",
    )
    .bind(alfa)
    .bind(&sup_fp)
    .fetch_one(store.pool())
    .await
    .unwrap();
    let mut broken = hpke.clone();
    broken[0] ^= 1;
    let set_wrap = |id: String, bytes: Vec<u8>| {
        let (pool, fp) = (store.pool().clone(), sup_fp.clone());
        async move {
            sqlx::query(
                "UPDATE report_wraps SET wrapped = $1 WHERE report_id = $2 AND recipient_fp = $3 AND purpose = 1",
            )
            .bind(bytes)
            .bind(id)
            .bind(fp)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let set_desk_wrap = |id: String, bytes: Vec<u8>| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("UPDATE desk_wraps SET sealed = $1 WHERE report_id = $2")
                .bind(bytes)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    set_wrap(alfa.clone(), broken).await;
    let mut flipped = sealed_of(beta);
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    set_desk_wrap(beta.clone(), flipped.clone()).await;
    set_desk_wrap(gamma.clone(), sealed_of(alfa)).await;
    forge_header(&store, delta).await;

    let csrf = sb.csrf().await;
    let p = sb.post("/logout", &[("csrf", &csrf)]).await;
    assert!(p.status == 200 || p.status == 303, "{}", p.status);
    let mut fresh = Browser::new(&app);
    let p = sup.login(&mut fresh).await;
    assert_eq!(p.location, "/", "{}", p.body);
    let p = fresh.get("/inbox?q=gudang").await;
    assert_eq!(p.status, 200, "{}", p.body);
    // alfa opens from its desk wrap although its HPKE wrap is damaged; beta and gamma, whose
    // desk wraps do not open, through their HPKE wraps, each with its own text.
    for (id, word) in [(alfa, "alfa"), (beta, "beta"), (gamma, "gamma")] {
        assert!(shows(&p, id), "{word}: {}", p.body);
        assert!(
            p.body.contains(&format!("gudang {word}")),
            "{word}: {}",
            p.body
        );
    }
    // delta's header was forged after its desk wrap was made: the check still catches it.
    assert!(!shows(&p, delta), "{}", p.body);
    assert!(p.body.contains("3 laporan"), "{}", p.body);
    let failures: Vec<String> = app
        .desk_store()
        .await
        .audit_rows_after(0)
        .await
        .unwrap()
        .iter()
        .filter_map(|r| bisik::desk::audit::Entry::decode(&r.entry).ok())
        .filter_map(|e| match e.event {
            bisik::desk::audit::Event::IntegrityFailed { report } => Some(report.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        !failures.is_empty() && failures.iter().all(|f| f == delta),
        "only delta fails, audited: {failures:?}"
    );
    // The desk wraps that did not open were made again, and open.
    let now = desk_wraps(&app).await;
    let now_of = |id: &str| now.iter().find(|w| w.0 == id).unwrap().2.clone();
    assert_ne!(now_of(beta), flipped);
    assert_ne!(now_of(gamma), sealed_of(alfa));
    set_wrap(alfa.clone(), hpke).await;

    // Need to know: the investigator's own desk wrap goes with the share.
    let csrf = fresh.csrf().await;
    let share = |path: &'static str| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("report", gamma.clone()),
            ("username", "petugas".to_owned()),
        ];
        if path == "/reports/share" {
            form.push(("fingerprint", inv.fingerprint.clone()));
        }
        (path, form)
    };
    let (path, form) = share("/reports/share");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = fresh.post(path, &form).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let p = ib.get("/inbox?q=gudang").await;
    assert!(shows(&p, gamma) && !shows(&p, alfa), "{}", p.body);
    let held = |w: &[(String, String, Vec<u8>)]| w.iter().filter(|w| &w.0 == gamma).count();
    assert_eq!(
        held(&desk_wraps(&app).await),
        2,
        "the supervisor's and the investigator's"
    );
    let (path, form) = share("/reports/unshare");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = fresh.post(path, &form).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let left = desk_wraps(&app).await;
    assert_eq!(
        held(&left),
        1,
        "the investigator's desk wrap went with the share"
    );
    assert!(left.iter().all(|w| w.1 == sup_fp));
    let p = ib.get("/inbox?q=gudang").await;
    assert!(!shows(&p, gamma), "{}", p.body);
    ok(&app.cli(&["audit", "verify"], ""));
}
