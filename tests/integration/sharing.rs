//! I5 inside the desk (issue 6): a certified supervisor's session certifies an investigator with
//! its own key and shares a report with them; the investigator asks the reporter a question, the
//! reporter answers through the intake (which must trust the investigator's certified chain
//! head), the first internal note makes K_s, and unsharing takes the report away again. A
//! certificate the intake did not get from a listed supervisor gives a planted head nothing.

use crate::conversation::{bodies, plant_item};
use crate::desk::{Browser, add_via_ui, admin, start};
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use bisik::crypto::SecretKey32;
use bisik::crypto::certificate::StaffCertificate;
use bisik::crypto::chain::signer_fingerprint;
use bisik::crypto::wrap::generate_x25519;
use bisik::domain::{Direction, ItemKind};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

on_both!(
    a_supervisor_shares_the_investigator_asks_the_reporter_answers,
    a_certificate_not_signed_by_a_listed_supervisor_launders_nothing
);

async fn post_form(b: &mut Browser, path: &str, report: &str, k: &str, v: &str) -> (u16, String) {
    let csrf = b.csrf().await;
    let p = b
        .post(path, &[("csrf", &csrf), ("report", report), (k, v)])
        .await;
    (p.status, p.body)
}

async fn share_with(b: &mut Browser, report: &str, fingerprint: &str) -> (u16, String) {
    let csrf = b.csrf().await;
    let p = b
        .post(
            "/reports/share",
            &[
                ("csrf", &csrf),
                ("report", report),
                ("username", "petugas"),
                ("fingerprint", fingerprint),
            ],
        )
        .await;
    (p.status, p.body)
}

async fn reply(app: &TestApp, code: &str, body: &str) -> (u16, Value) {
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": body}),
        )
        .await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn a_supervisor_shares_the_investigator_asks_the_reporter_answers(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (mut ib, inv) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    let pass = app.passphrase();
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &pass));

    let before = app.report_ids().await;
    let code = app
        .submit(json!({"description": "transaksi di gang belakang pasar"}))
        .await;
    let id = new_report(&app, &before).await.to_string();

    // Before any share the investigator's key is certified by nobody: refused, with the reason.
    let (s, body) = post_form(&mut ib, "/reports/message", &id, "body", "Di mana?").await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("belum disertifikasi"), "{body}");
    let before = app.report_ids().await;
    let payload = "laporan lain <script>alert(1)</script><img src=x onerror=alert(2)> \u{202E}gnp.exe\u{200B}";
    app.submit(json!({"description": payload})).await;
    let other = new_report(&app, &before).await.to_string();
    // I8: the supervisor (who receives every new tip) reads it as text: escaped, and the
    // characters that reorder or hide text made visible.
    let page = sb.get(&format!("/report?id={other}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(
        page.body.contains("&#60;script&#62;alert(1)")
            || page.body.contains("&lt;script&gt;alert(1)"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("[U+202E]gnp.exe[U+200B]"),
        "{}",
        page.body
    );
    assert!(!page.body.contains('\u{202E}'));
    // Tamper on open: a changed ciphertext gives the warning, never the content.
    sqlx::query("UPDATE items SET sealed = $1 WHERE report_id = $2 AND seq = 0")
        .bind(vec![0u8; 64])
        .bind(&other)
        .execute(app.store().await.pool())
        .await
        .unwrap();
    let page = sb.get(&format!("/report?id={other}")).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("PERINGATAN"), "{}", page.body);
    assert!(!page.body.contains("gnp.exe"), "{}", page.body);
    // An admin can neither share nor write.
    let (s, _) = post_form(&mut ab, "/reports/share", &id, "username", "petugas").await;
    assert_eq!(s, 403);
    let (s, _) = post_form(&mut ab, "/reports/message", &id, "body", "Halo").await;
    assert_eq!(s, 403);

    // The first share certifies the investigator, so it needs the fingerprint from their screen:
    // without it, or with another, nothing is certified or shared.
    let (s, body) = share_with(&mut sb, &id, "").await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("sidik kunci"), "{body}");
    let wrong = "0000 0000 0000 0000";
    let (s, body) = share_with(&mut sb, &id, wrong).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("tidak cocok"), "{body}");
    assert!(
        app.store()
            .await
            .staff_certificates()
            .await
            .unwrap()
            .is_empty()
    );
    let (s, body) = share_with(&mut sb, &id, &inv.fingerprint).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("Laporan telah dibagikan"), "{body}");
    let certs = app.store().await.staff_certificates().await.unwrap();
    assert_eq!(
        certs.len(),
        1,
        "the certification is published for the intake"
    );
    // Need to know: certified now, the investigator still cannot touch a report not shared
    // with them, and gets the same answer as for a report that does not exist.
    let (s, unshared) = post_form(&mut ib, "/reports/note", &other, "body", "Catatan").await;
    assert_eq!(s, 404, "{unshared}");
    let missing = bisik::domain::ReportId::new().to_string();
    let (s, nothing) = post_form(&mut ib, "/reports/note", &missing, "body", "Catatan").await;
    assert_eq!(s, 404);
    assert_eq!(
        crate::desk::field(&unshared, "id=\"error\">", "<"),
        crate::desk::field(&nothing, "id=\"error\">", "<")
    );

    // The investigator asks; the reporter sees needs_info and the question.
    let question = "Di gang yang mana tepatnya?";
    let (s, body) = post_form(&mut ib, "/reports/message", &id, "body", question).await;
    assert_eq!(s, 200, "{body}");
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "needs_info", "{v}");
    assert!(bodies(&v).contains(&question.to_owned()), "{v}");

    // The reporter answers after a head the investigator signed: the intake trusts it.
    let (s, v) = reply(&app, &code, "Gang Melati, dekat masjid").await;
    assert_eq!(
        s, 201,
        "the reporter's answer is refused after a staff head: {v}"
    );
    // Answered: the reporter no longer owes anything, and sees only `received` (I11).
    let (_, v) = app.followup(&code).await;
    assert_eq!(v["status"], "received", "{v}");

    // The first internal note makes K_s; the reporter never sees it; recovery opens it.
    let note = "CATATAN INTERNAL: cocok dengan laporan minggu lalu";
    let (s, body) = post_form(&mut ib, "/reports/note", &id, "body", note).await;
    assert_eq!(s, 200, "{body}");
    let (_, v) = app.followup(&code).await;
    assert!(!v.to_string().contains("CATATAN INTERNAL"), "{v}");
    let rec: Value = serde_json::from_str(&ok(&app.recover(&id))).unwrap();
    assert_eq!(rec["notes"][0]["body"], note, "{rec}");
    // The inbox: the investigator sees the shared report and not the other; the supervisor
    // sees both; each page view is audited.
    let inbox = ib.get("/inbox").await;
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    assert!(
        inbox.body.contains(&id) && !inbox.body.contains(&other),
        "{}",
        inbox.body
    );
    assert!(
        inbox.body.contains("transaksi di gang belakang pasar"),
        "{}",
        inbox.body
    );
    let inbox = sb.get("/inbox").await;
    assert!(
        inbox.body.contains(&id) && inbox.body.contains(&other),
        "{}",
        inbox.body
    );
    // `other` was tampered with above: it stays in the list, marked, never silently dropped.
    assert!(
        inbox.body.contains("gagal pemeriksaan keutuhan"),
        "{}",
        inbox.body
    );
    // The report page: the tip, both directions of the conversation and the note, as text.
    let page = ib.get(&format!("/report?id={id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "transaksi di gang belakang pasar",
        question,
        "Gang Melati, dekat masjid",
        note,
    ] {
        assert!(page.body.contains(text), "{text:?} missing:\n{}", page.body);
    }
    assert!(page.body.contains("translate=\"no\""));
    // ...and the reporter can still answer after the staff-only item.
    let (s, v) = reply(&app, &code, "Motornya warna merah").await;
    assert_eq!(s, 201, "{v}");
    // The supervisor, who held K_r when K_s was made, received K_s too.
    let (s, body) = post_form(&mut sb, "/reports/note", &id, "body", "Catatan koordinator").await;
    assert_eq!(s, 200, "{body}");

    // Unshare: the investigator's next request fails.
    let (s, body) = post_form(&mut sb, "/reports/unshare", &id, "username", "petugas").await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = post_form(&mut ib, "/reports/message", &id, "body", "Halo?").await;
    assert_eq!(
        s, 404,
        "after unsharing the report is gone for the investigator"
    );

    let out = ok(&app.cli(&["audit", "verify"], ""));
    assert!(out.contains("2 key(s) certified now"), "{out}");
    let page = sb.get("/audit").await.body;
    for tag in [
        "integrity_failed",
        "previewed",
        "decrypted",
        "certified",
        "assigned",
        "unassigned",
        "staff_key",
        "item_written",
    ] {
        assert!(page.contains(tag), "the audit page lacks {tag}:\n{page}");
    }
    // Revoking the supervisor ends the certification they made: the desk agrees with the
    // intake, which trusts only certificates signed by a listed, unrevoked supervisor.
    ok(&app.cli(&["user", "disable", "koor"], ""));
    let out = ok(&app.cli(&["audit", "verify"], ""));
    assert!(out.contains("0 key(s) certified now"), "{out}");
}

async fn a_certificate_not_signed_by_a_listed_supervisor_launders_nothing(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (_sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let before = app.report_ids().await;
    let code = app.submit(json!({"description": "laporan biasa"})).await;
    let id = new_report(&app, &before).await;
    let store = app.store().await;

    // Someone with database access plants a certificate for a key of their own, signed by
    // another key of their own, and a message signed by the "certified" key.
    let boss = SigningKey::from_bytes(SecretKey32::random().expose());
    let mole = SigningKey::from_bytes(SecretKey32::random().expose());
    let (_, x) = generate_x25519();
    let (cert, sig) = StaffCertificate {
        staff_id: [9; 16],
        role: "investigator".into(),
        ed25519: mole.verifying_key().to_bytes(),
        x25519: x,
        signer: [0; 32],
    }
    .sign(&boss);
    store
        .publish_certificate(
            &hex::encode(signer_fingerprint(&mole.verifying_key())),
            &cert,
            &sig,
        )
        .await
        .unwrap();
    plant_item(
        &store,
        id,
        &SecretKey32::random(),
        ItemKind::Message,
        Direction::StaffToReporter,
        b"PESAN PALSU",
        &mole,
    )
    .await;
    let (s, v) = reply(&app, &code, "jawaban").await;
    assert_eq!(
        s, 500,
        "the intake extended a head it cannot vouch for: {v}"
    );
    // The log line may reach the file just after the answer.
    assert!(
        app.wait_for_log(
            "not signed by a trusted key",
            std::time::Duration::from_secs(10)
        )
        .await,
        "the refused head is named in the log"
    );
}
