//! The live server keeps the promises its OpenAPI document makes (issue 5, section 8): every
//! 405 names what would work in `Allow`, the served document carries the configured choices,
//! and a code the document's pattern admits is never refused for its length. Schemathesis in
//! `.ci/run` checks the rest against the same server binary.

use crate::support::{Backend, TestApp};
use bisik::intake::paths;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_not_allowed_names_the_allowed_method() {
    let app = TestApp::start(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    for path in paths::ALL {
        let allowed = if path == paths::META || path == paths::OPENAPI {
            "GET"
        } else {
            "POST"
        };
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS"] {
            if method == allowed {
                continue;
            }
            let r = client
                .request(method.parse().unwrap(), app.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 405, "{method} {path}");
            assert_eq!(
                r.headers().get("allow").map(|v| v.to_str().unwrap()),
                Some(allowed),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_matches_the_server() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc: Value = reqwest::get(app.url(paths::OPENAPI))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let meta: Value = reqwest::get(app.url(paths::META))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let props = &doc["components"]["schemas"]["SubmitRequest"]["properties"];
    for (field, list) in [("category", "categories"), ("area", "areas")] {
        let mut want: Vec<Value> = meta[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect();
        want.extend([json!(""), Value::Null]);
        assert_eq!(props[field]["enum"], Value::Array(want), "{field}");
    }
    // A body that is not JSON is 415 on every endpoint that reads one, as documented.
    for path in [paths::REPORTS, paths::FOLLOWUP, paths::MESSAGES] {
        assert!(doc["paths"][path]["post"]["responses"]["415"].is_object());
        let r = reqwest::Client::new()
            .post(app.url(path))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{path}");
    }
    // Bodies are objects, as documented: serde would fill a struct from an array of its
    // fields in order, so `["<code>"]` was a follow-up (found by the fuzz target `requests`).
    for (path, body) in [
        (paths::FOLLOWUP, json!(["1295 2984 0371 6605 8237"])),
        (
            paths::MESSAGES,
            json!(["1295 2984 0371 6605 8237", "pesan"]),
        ),
        (paths::REPORTS, json!([null, null, "keterangan"])),
    ] {
        let r = app.post(path, body).await;
        assert_eq!(r.status(), 422, "{path}");
    }
    // The pattern admits separators the parser ignores, up to 64 characters (maxLength), even
    // when they take more than one byte each: such a code is looked up (404), not refused (400).
    let code = format!("1295{}2984 0371 6605 8237", "\u{202f}".repeat(64 - 24 + 1));
    assert_eq!(code.chars().count(), 64);
    assert!(code.len() > 64);
    let r = app.post(paths::FOLLOWUP, json!({ "code": code })).await;
    assert_eq!(r.status(), 404);
    let r = app
        .post(paths::FOLLOWUP, json!({ "code": format!("{code} ") }))
        .await;
    assert_eq!(r.status(), 400);
}
