use crate::on_both;
use crate::support::{Backend, TestApp};
use bisik::domain::{ReportId, Status, today};
use serde_json::{Value, json};

on_both!(
    codes_never_in_urls_or_caches,
    reporter_sees_three_states_late_closure,
    unknown_revoked_expired_are_identical
);

async fn codes_never_in_urls_or_caches(b: Backend) {
    let app = TestApp::start(b).await;
    let code = app.submit(json!({"description": "cache"})).await;
    // The API document has no path or query parameter that could carry a code.
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 5);
    for (path, ops) in paths {
        assert!(!path.contains('{'), "path parameter in {path}");
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert_ne!(
                    p["name"], "code",
                    "{method} {path} takes a code outside the body"
                );
            }
            let body = op["requestBody"].to_string();
            if body.contains("FollowupRequest") || body.contains("MessageRequest") {
                assert_eq!(method, "post");
            }
        }
    }
    // GET with a code in the query string is refused and the code is not logged.
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let r = reqwest::get(app.url(&format!("/api/v1/followup?code={digits}")))
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
    assert!(!app.logs().contains(&digits));
    // Every follow-up response, good or bad, is no-store.
    for c in [code.as_str(), "1000 0000 0000 0000 0000", "12"] {
        let r = app.post("/api/v1/followup", json!({"code": c})).await;
        let cc = r
            .headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cc.contains("no-store"), "{c}: {cc}");
        assert!(r.headers().get("etag").is_none());
    }
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "x"}),
        )
        .await;
    assert!(
        r.headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("no-store")
    );
}

async fn reporter_sees_three_states_late_closure(b: Backend) {
    let app = TestApp::start(b).await;
    let code = app.submit(json!({"description": "status"})).await;
    let id = ReportId::parse(&app.report_ids().await[0]).unwrap();
    let store = app.store().await;
    let mut seen = std::collections::BTreeSet::new();
    let day = today();
    // Closure shows only after closed_delay_days (default 14).
    for (status, closed_day, expect) in [
        (Status::New, day, "received"),
        (Status::InReview, day, "received"),
        (Status::Actioned, day, "received"),
        (Status::Closed, day, "received"),
        (Status::Closed, day - 13, "received"),
        (Status::Closed, day - 14, "closed"),
        (Status::Closed, day - 400, "closed"),
    ] {
        store.set_status(id, status, closed_day).await.unwrap();
        let (s, v) = app.followup(&code).await;
        assert_eq!(s, 200);
        assert_eq!(v["status"], expect, "{status:?} closed on day {closed_day}");
        seen.insert(v["status"].as_str().unwrap().to_owned());
        // The body has exactly these keys: nothing else leaks (`older` counts only messages the
        // reporter may see).
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["messages", "older", "status"]);
    }
    // needs_info comes from a staff question, not a status: sharing.rs shows it appear with
    // the question and go with the answer.
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["closed", "received"]);
    // The documented status set is exactly the same three.
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut set: Vec<String> = doc["components"]["schemas"]["ReporterStatus"]["enum"]
        .as_array()
        .expect("ReporterStatus enum in the OpenAPI document")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    set.sort();
    assert_eq!(set, ["closed", "needs_info", "received"]);
    store.close().await;
}

async fn unknown_revoked_expired_are_identical(b: Backend) {
    let app = TestApp::start(b).await;
    let revoked = app.submit(json!({"description": "dicabut"})).await;
    let expired = app.submit(json!({"description": "kedaluwarsa"})).await;
    let live = app.submit(json!({"description": "hidup"})).await;
    let pepper = bisik::crypto::primitives::SecretKey32::from_bytes(
        *bisik::keyfiles::read_hex32(&app.keys_dir().join("intake.pepper")).unwrap(),
    );
    let tag = |c: &str| {
        let code = bisik::crypto::code::FollowupCode::parse(c).unwrap();
        bisik::crypto::kdf::derive_code_secrets(&code, &pepper)
            .unwrap()
            .tag
            .to_vec()
    };
    let store = app.store().await;
    sqlx::query("UPDATE reporter_access SET revoked = 1 WHERE tag = $1")
        .bind(tag(&revoked))
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE reporter_access SET expires_day = $1 WHERE tag = $2")
        .bind(today() - 1)
        .bind(tag(&expired))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let unknown = bisik::crypto::code::FollowupCode::generate()
        .display()
        .to_string();
    let mut answers = Vec::new();
    for c in [&unknown, &revoked, &expired] {
        let r = app.post("/api/v1/followup", json!({"code": c})).await;
        let status = r.status().as_u16();
        let mut headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str() != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        answers.push((status, headers, r.bytes().await.unwrap()));
        let m = app
            .post(
                "/api/v1/followup/messages",
                json!({"code": c, "body": "halo"}),
            )
            .await;
        assert_eq!(m.status(), 404);
    }
    assert_eq!(answers[0].0, 404);
    assert_eq!(answers[0], answers[1], "revoked differs from unknown");
    assert_eq!(answers[0], answers[2], "expired differs from unknown");
    assert_eq!(app.followup(&live).await.0, 200);
}
