//! The desk's JSON API (issue 7): a bearer token from `POST /api/v1/session` under part 1's
//! session rules, the same triage as the pages, need to know through the API, notes never
//! through the reporter's code, and `DELETE /api/v1/session` ending the token.

use crate::desk::{Staff, add_via_ui, admin, start};
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use serde_json::{Value, json};

on_both!(the_api_triages_with_a_bearer_token_and_keeps_need_to_know);

struct Api {
    base: String,
    token: String,
}

impl Api {
    async fn login(app: &TestApp, s: &mut Staff) -> (u16, Value) {
        let code = s.next_code().await;
        let r = TestApp::client()
            .post(app.desk_url("/api/v1/session"))
            .json(&json!({"username": s.name, "password": s.password, "totp": code}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn new(app: &TestApp, s: &mut Staff) -> Api {
        let (status, v) = Self::login(app, s).await;
        assert_eq!(status, 201, "{v}");
        Api {
            base: app.desk_url(""),
            token: v["token"].as_str().unwrap().to_owned(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rq = TestApp::client()
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let r = rq.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn the_api_triages_with_a_bearer_token_and_keeps_need_to_know(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (_, mut sup) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (_, mut inv) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let before = app.report_ids().await;
    let code = app
        .submit(json!({"description": "API: sabu di dermaga"}))
        .await;
    let id = new_report(&app, &before).await.to_string();
    let before = app.report_ids().await;
    app.submit(json!({"description": "API: laporan lain"}))
        .await;
    let other = new_report(&app, &before).await.to_string();

    // Wrong credentials: one answer, JSON. No token at all: 401 with WWW-Authenticate.
    let r = TestApp::client()
        .post(app.desk_url("/api/v1/session"))
        .json(&json!({"username": "koor", "password": "salah", "totp": "000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = TestApp::client()
        .get(app.desk_url("/api/v1/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    let s = Api::new(&app, &mut sup).await;
    let (st, v) = s.call("GET", "/api/v1/reports?status=new", None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 2, "{v}");
    assert_eq!(v["flagged"]["triage_overdue"], 0, "{v}");
    let (st, v) = s.call("GET", "/api/v1/reports?status=bogus", None).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = s.call("GET", &format!("/api/v1/reports/{id}"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["tip"]["description"], "API: sabu di dermaga");
    assert_eq!(v["triage"]["status"], "new");

    // Share with the investigator through the API (fingerprint from their own account).
    let (st, v) = s
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/share"),
            Some(json!({"username": "petugas", "fingerprint": inv.fingerprint})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let i = Api::new(&app, &mut inv).await;
    // Need to know: the investigator lists and opens only the shared report; the other one
    // answers exactly like a report that does not exist.
    let (_, v) = i.call("GET", "/api/v1/reports", None).await;
    let listed: Vec<&str> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id.as_str()], "{v}");
    let (st, theirs) = i
        .call("GET", &format!("/api/v1/reports/{other}"), None)
        .await;
    assert_eq!(st, 404);
    let missing = bisik::domain::ReportId::new().to_string();
    let (st, none) = i
        .call("GET", &format!("/api/v1/reports/{missing}"), None)
        .await;
    assert_eq!(st, 404);
    assert_eq!(theirs, none);
    let (st, _) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{other}/messages"),
            Some(json!({"body": "x"})),
        )
        .await;
    assert_eq!(st, 404);

    // The investigator asks; the reporter sees needs_info and the question.
    let (st, v) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/messages"),
            Some(json!({"body": "Jam berapa?"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (_, f) = app.followup(&code).await;
    assert_eq!(f["status"], "needs_info", "{f}");
    // A note and progress; the investigator cannot close or set priority.
    let note = "CATATAN-API: informan lama";
    let (st, v) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/notes"),
            Some(json!({"body": note})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/status"),
            Some(json!({"status": "actioned"})),
        )
        .await;
    assert_eq!((st, &v["changed"]), (200, &json!(1)), "{v}");
    let (st, _) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/status"),
            Some(json!({"status": "closed", "reason": "actioned"})),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/priority"),
            Some(json!({"priority": "urgent"})),
        )
        .await;
    assert_eq!(st, 403);
    // Labels through the API: configured ids only, staff only.
    let (st, v) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/labels"),
            Some(json!({"labels": ["perlu-lokasi"]})),
        )
        .await;
    assert_eq!((st, &v["changed"]), (200, &json!(1)), "{v}");
    let (st, _) = i
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/labels"),
            Some(json!({"labels": ["bukan"]})),
        )
        .await;
    assert_eq!(st, 422);
    let (_, v) = i.call("GET", &format!("/api/v1/reports/{id}"), None).await;
    assert_eq!(v["labels"], json!(["perlu-lokasi"]), "{v}");
    // The reporter's code never reveals the note or the labels.
    let (_, f) = app.followup(&code).await;
    assert!(!f.to_string().contains("perlu-lokasi"), "{f}");
    let (_, f) = app.followup(&code).await;
    assert!(!f.to_string().contains("CATATAN-API"), "{f}");
    let (_, v) = i.call("GET", &format!("/api/v1/reports/{id}"), None).await;
    let kinds: Vec<(&str, &str)> = v["thread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["kind"].as_str().unwrap(), t["from"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("message", "staff"), ("note", "internal")], "{v}");

    // The supervisor: priority, a refused transition (409), a closure without a reason (422),
    // bulk, and the closure.
    let (st, v) = s
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/priority"),
            Some(json!({"priority": "urgent"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/status"),
            Some(json!({"status": "new"})),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    let (st, v) = s
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/status"),
            Some(json!({"status": "closed"})),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    let (st, v) = s
        .call(
            "POST",
            "/api/v1/reports/bulk",
            Some(json!({"reports": [other], "status": {"status": "closed", "reason": "duplicate", "duplicate_of": id}})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = s.call("GET", "/api/v1/reports?status=closed", None).await;
    assert_eq!(v["reports"][0]["closed_reason"], "duplicate", "{v}");
    assert_eq!(v["reports"][0]["duplicate_of"], id.as_str(), "{v}");
    let (st, v) = i
        .call(
            "POST",
            "/api/v1/reports/bulk",
            Some(json!({"reports": [id], "priority": "low"})),
        )
        .await;
    assert_eq!(st, 403, "an investigator has no bulk action: {v}");

    // Unsharing takes the report away at once.
    let (st, v) = s
        .call(
            "POST",
            &format!("/api/v1/reports/{id}/unshare"),
            Some(json!({"username": "petugas"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, _) = i.call("GET", &format!("/api/v1/reports/{id}"), None).await;
    assert_eq!(st, 404);

    // Logging out ends the token.
    let (st, _) = s.call("DELETE", "/api/v1/session", None).await;
    assert_eq!(st, 204);
    let (st, _) = s.call("GET", "/api/v1/reports", None).await;
    assert_eq!(st, 401);
    ok(&app.cli(&["audit", "verify"], ""));

    // An account that has not enrolled gets no token: enrolment is the browser's.
    let csrf = ab.csrf().await;
    let p = ab
        .post(
            "/accounts",
            &[
                ("csrf", &csrf),
                ("username", "baru"),
                ("role", "investigator"),
            ],
        )
        .await;
    let one_time = crate::desk::field(&p.body, "id=\"one-time-password\">", "<");
    let r = TestApp::client()
        .post(app.desk_url("/api/v1/session"))
        .json(&json!({"username": "baru", "password": one_time, "totp": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "enrol_first", "{v}");
}
