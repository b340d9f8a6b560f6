//! Tamper on open (issue 7): someone with write access to the reports database deletes a
//! message, or moves items between two reports, and the desk's report page answers 409 with the
//! warning ("PERINGATAN"), never the content, and writes an `integrity_failed` audit entry signed
//! by the reader. An edited tip ciphertext is covered in sharing.rs
//! (`a_supervisor_shares_the_investigator_asks_the_reporter_answers`), and planted items and
//! heads in conversation.rs; they are not repeated here.

use crate::desk::{Browser, add_via_ui, admin, start};
use crate::desk_audit::audit_events;
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use bisik::desk::audit::Event;
use bisik::domain::ReportId;
use serde_json::json;

on_both!(
    a_staff_item_deleted_with_its_head_is_caught_on_open,
    a_deleted_message_is_caught_on_open,
    items_swapped_between_reports_are_caught_on_open
);

/// A report with a conversation: the tip (seq 0), a question from the supervisor (seq 1) and
/// the reporter's answer through the intake (seq 2). Returns its id.
async fn conversation(app: &TestApp, sb: &mut Browser, tag: &str) -> String {
    let before = app.report_ids().await;
    let code = app
        .submit(json!({"description": format!("laporan {tag}: transaksi di dermaga")}))
        .await;
    let id = new_report(app, &before).await.to_string();
    let csrf = sb.csrf().await;
    let question = format!("pertanyaan {tag}: jam berapa?");
    let p = sb
        .post(
            "/reports/message",
            &[("csrf", &csrf), ("report", &id), ("body", &question)],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": format!("jawaban {tag}: tengah malam")}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // Intact, the page opens and shows all three.
    let page = sb.get(&format!("/report?id={id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for t in ["laporan ", "pertanyaan ", "jawaban "] {
        assert!(page.body.contains(&format!("{t}{tag}")), "{}", page.body);
    }
    id
}

/// The report page refuses `id` with the warning and none of its text, and the audit log
/// holds one more `integrity_failed` entry for it than before.
async fn refused_and_audited(app: &TestApp, sb: &mut Browser, id: &str, tag: &str) {
    let desk = app.desk_store().await;
    let rid = ReportId::parse(id).unwrap();
    let failed = |events: Vec<(_, _, Event)>| {
        events
            .into_iter()
            .filter(|(_, _, e)| matches!(e, Event::IntegrityFailed { report } if *report == rid))
            .count()
    };
    let before = failed(audit_events(&desk).await);
    let page = sb.get(&format!("/report?id={id}")).await;
    assert_eq!(page.status, 409, "{tag}: {}", page.body);
    assert!(page.body.contains("PERINGATAN"), "{tag}: {}", page.body);
    for t in ["pertanyaan ", "jawaban "] {
        assert!(
            !page.body.contains(&format!("{t}{tag}")),
            "{tag}: the tampered report's text is shown: {}",
            page.body
        );
    }
    assert_eq!(
        failed(audit_events(&desk).await),
        before + 1,
        "{tag}: no integrity_failed entry"
    );
    desk.close().await;
    // The entry is on the audit page too, for the supervisor to see.
    let audit = sb.get("/audit").await.body;
    assert!(
        audit.contains(&format!("<td>integrity_failed</td><td>{id}</td>")),
        "{tag}: {audit}"
    );
}

async fn a_deleted_message_is_caught_on_open(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let middle = conversation(&app, &mut sb, "tengah").await;
    let last = conversation(&app, &mut sb, "akhir").await;
    let store = app.store().await;
    // The staff question, from the middle of the chain: a gap in the sequence.
    let del = |id: &str, seq: i64| {
        sqlx::query("DELETE FROM items WHERE report_id = $1 AND seq = $2")
            .bind(id.to_owned())
            .bind(seq)
            .execute(store.pool())
    };
    assert_eq!(del(&middle, 1).await.unwrap().rows_affected(), 1);
    // The reporter's answer, the end of the chain: fewer items than the signed head counts.
    assert_eq!(del(&last, 2).await.unwrap().rows_affected(), 1);
    store.close().await;
    refused_and_audited(&app, &mut sb, &middle, "tengah").await;
    refused_and_audited(&app, &mut sb, &last, "akhir").await;
    // The log says which check failed.
    for why in ["missing or out of sequence", "items were deleted"] {
        assert!(app.logs().contains(why), "{why} not logged");
    }
    ok(&app.cli(&["audit", "verify"], ""));
}

async fn items_swapped_between_reports_are_caught_on_open(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let (c, d) = (
        conversation(&app, &mut sb, "c").await,
        conversation(&app, &mut sb, "d").await,
    );
    let (e, f) = (
        conversation(&app, &mut sb, "e").await,
        conversation(&app, &mut sb, "f").await,
    );
    let store = app.store().await;
    let pool = store.pool();
    // C and D exchange their staff questions (seq 1) by report_id, each item keeping its
    // sealed blob and position: through a free sequence number, since (report_id, seq) is unique.
    let item = |id: &str, seq: i64| {
        let id = id.to_owned();
        async move {
            let (item,): (String,) =
                sqlx::query_as("SELECT id FROM items WHERE report_id = $1 AND seq = $2")
                    .bind(id)
                    .bind(seq)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            item
        }
    };
    let (ci, di) = (item(&c, 1).await, item(&d, 1).await);
    let park = sqlx::query("UPDATE items SET seq = -1 WHERE id = $1")
        .bind(ci.clone())
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(park.rows_affected(), 1);
    for (item, report) in [(&di, &c), (&ci, &d)] {
        let moved = sqlx::query("UPDATE items SET report_id = $1, seq = 1 WHERE id = $2")
            .bind(report.clone())
            .bind(item.clone())
            .execute(pool)
            .await
            .unwrap();
        assert_eq!(moved.rows_affected(), 1);
    }
    // E and F exchange the sealed blobs of their tips (seq 0), each row staying in place.
    let sealed = |id: &str| {
        let id = id.to_owned();
        async move {
            let (s,): (Vec<u8>,) =
                sqlx::query_as("SELECT sealed FROM items WHERE report_id = $1 AND seq = 0")
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            s
        }
    };
    let (se, sf) = (sealed(&e).await, sealed(&f).await);
    for (id, s) in [(&e, sf), (&f, se)] {
        sqlx::query("UPDATE items SET sealed = $1 WHERE report_id = $2 AND seq = 0")
            .bind(s)
            .bind(id.clone())
            .execute(pool)
            .await
            .unwrap();
    }
    store.close().await;
    for (id, tag) in [(&c, "c"), (&d, "d"), (&e, "e"), (&f, "f")] {
        refused_and_audited(&app, &mut sb, id, tag).await;
    }
    // A swapped tip fails the preview's own check too: its inbox row is marked, not dropped.
    let inbox = sb.get("/inbox").await.body;
    for id in [&e, &f] {
        let row = &inbox[inbox.find(&format!("value=\"{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("gagal pemeriksaan keutuhan"), "{row}");
    }
    ok(&app.cli(&["audit", "verify"], ""));
}

/// The end of a chain cut together with its signed head leaves a shorter chain whose latest
/// head still verifies; for a staff item the signed audit log still says how long staff made
/// it (`item_written`), and the page compares.
async fn a_staff_item_deleted_with_its_head_is_caught_on_open(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let id = conversation(&app, &mut sb, "potong").await;
    let csrf = sb.csrf().await;
    let p = sb
        .post(
            "/reports/note",
            &[
                ("csrf", &csrf),
                ("report", &id),
                ("body", "catatan potong: saksi kedua"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let store = app.store().await;
    let (n,): (i64,) = sqlx::query_as("SELECT MAX(seq) FROM items WHERE report_id = $1")
        .bind(&id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM items WHERE report_id = $1 AND seq = $2")
        .bind(&id)
        .bind(n)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM item_heads WHERE report_id = $1 AND item_count = $2")
        .bind(&id)
        .bind(n + 1)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    refused_and_audited(&app, &mut sb, &id, "potong").await;
    assert!(
        app.logs().contains("the audit log records more items"),
        "not logged"
    );
}
