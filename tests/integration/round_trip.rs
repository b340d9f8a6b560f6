use crate::on_both;
use crate::support::{Backend, TestApp, canary};
use serde_json::{Value, json};

on_both!(submit_follow_up_and_recover, tampered_header_is_reported);

async fn submit_follow_up_and_recover(b: Backend) {
    let app = TestApp::start(b).await;
    let desc = canary("desc");
    let tip = json!({
        "category": "peredaran",
        "area": "loksado",
        "description": desc,
        "location": "Jl. Pasar Lama, dekat warung",
        "when": "tiap malam Jumat",
        "people": "dua orang, motor merah",
        "vehicles": "Honda Beat merah DA 1234 XY"
    });
    let code = app.submit(tip.clone()).await;
    assert!(
        code.len() == 24
            && code
                .split(' ')
                .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_digit())),
        "code is 5 groups of 4 digits: {code}"
    );

    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({"status": "received", "messages": [], "older": 0}));

    // Any grouping is accepted.
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let dashed = code.replace(' ', "-");
    for form in [digits.as_str(), dashed.as_str()] {
        assert_eq!(app.followup(form).await.0, 200, "grouping {form:?}");
    }

    let msg = canary("msg");
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": msg}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200);
    assert_eq!(v["messages"][0]["from"], "reporter");
    assert_eq!(v["messages"][0]["body"], msg.as_str());
    assert_eq!(v["messages"][0]["day"].as_str().unwrap().len(), 10);

    let ids = app.report_ids().await;
    assert_eq!(ids.len(), 1);
    let out = app.recover(&ids[0]);
    assert!(
        out.status.success(),
        "recover failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).expect("recover prints JSON");
    assert_eq!(rec["id"], ids[0].as_str());
    assert_eq!(rec["header"]["verified"], true);
    assert_eq!(rec["category"], "peredaran");
    for field in [
        "area",
        "description",
        "location",
        "when",
        "people",
        "vehicles",
    ] {
        assert_eq!(rec["tip"][field], tip[field], "field {field}");
    }
    assert_eq!(rec["messages"][0]["body"], msg.as_str());
    assert_eq!(rec["messages"][0]["from"], "reporter");

    // A wrong passphrase opens nothing.
    let bad = app.cli(
        &["keys", "recover", "--report", &ids[0]],
        "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg",
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("passphrase does not open"));
}

async fn tampered_header_is_reported(b: Backend) {
    let app = TestApp::start(b).await;
    app.submit(json!({"description": "laporan pertama"})).await;
    app.submit(json!({"description": "laporan kedua"})).await;
    let ids = app.report_ids().await;
    let store = app.store().await;
    let pool = store.pool();

    // 1. The received day is edited in the database.
    sqlx::query("UPDATE reports SET received_day = received_day - 3 WHERE id = $1")
        .bind(&ids[0])
        .execute(pool)
        .await
        .unwrap();
    let out = app.recover(&ids[0]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("integrity check failed"));
    assert!(
        out.stdout.is_empty(),
        "nothing decrypted is printed for a tampered report"
    );

    // 2. The other report's header and signature are copied over (a planted/moved header).
    let (h, sig): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT header, header_sig FROM reports WHERE id = $1")
            .bind(&ids[0])
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("UPDATE reports SET header = $1, header_sig = $2 WHERE id = $3")
        .bind(h)
        .bind(sig)
        .bind(&ids[1])
        .execute(pool)
        .await
        .unwrap();
    let out = app.recover(&ids[1]);
    assert_eq!(out.status.code(), Some(3));

    // 3. A single flipped bit in a signature.
    let (mut sig2,): (Vec<u8>,) = sqlx::query_as("SELECT header_sig FROM reports WHERE id = $1")
        .bind(&ids[0])
        .fetch_one(pool)
        .await
        .unwrap();
    sig2[10] ^= 1;
    sqlx::query(
        "UPDATE reports SET header_sig = $1, received_day = received_day + 3 WHERE id = $2",
    )
    .bind(sig2)
    .bind(&ids[0])
    .execute(pool)
    .await
    .unwrap();
    let out = app.recover(&ids[0]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature"));

    // 4. A report whose tip or a message was deleted is not "verified" with a hole in it.
    let code = app.submit(json!({"description": "laporan ketiga"})).await;
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "pesan yang akan dihapus"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let third = app
        .report_ids()
        .await
        .into_iter()
        .find(|i| !ids.contains(i))
        .unwrap();
    assert!(
        app.recover(&third).status.success(),
        "intact before the deletion"
    );
    sqlx::query("DELETE FROM items WHERE report_id = $1 AND seq = 1")
        .bind(&third)
        .execute(pool)
        .await
        .unwrap();
    let out = app.recover(&third);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("items were deleted"));
    sqlx::query("DELETE FROM items WHERE report_id = $1")
        .bind(&third)
        .execute(pool)
        .await
        .unwrap();
    let out = app.recover(&third);
    assert_eq!(out.status.code(), Some(3), "a report without its tip");
    store.close().await;
}
