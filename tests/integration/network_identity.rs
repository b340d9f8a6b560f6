use crate::on_both;
use crate::support::{Backend, Opts, TestApp, contains};
use serde_json::json;

on_both!(no_client_headers_recorded_and_no_cookies);

const XFF: &str = "203.0.113.77";
const REAL_IP: &str = "198.51.100.88";
const UA: &str = "CanaryPhone/9.9 (UAcanary-5f1e)";
const REFERER: &str = "https://referer-canary-81c2.example/tip?x=1";
const LANG: &str = "xx-LANGCANARY";

async fn no_client_headers_recorded_and_no_cookies(b: Backend) {
    let mut app = TestApp::start_with(
        b,
        Opts {
            env: vec![("BISIK_LOG", "trace".into())],
            ..Opts::default()
        },
    )
    .await;
    let client = reqwest::Client::new();
    let with_headers = |rb: reqwest::RequestBuilder| {
        rb.header("X-Forwarded-For", XFF)
            .header("X-Real-IP", REAL_IP)
            .header("Forwarded", format!("for={XFF}"))
            .header("User-Agent", UA)
            .header("Referer", REFERER)
            .header("Accept-Language", LANG)
    };
    let mut responses = Vec::new();
    let r = with_headers(client.post(app.url("/api/v1/reports")))
        .json(&json!({"description": "ada transaksi sabu di dermaga"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    responses.push(r.headers().clone());
    let code = r.json::<serde_json::Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path, body) in [
        ("POST", "/api/v1/followup", json!({"code": code})),
        (
            "POST",
            "/api/v1/followup/messages",
            json!({"code": code, "body": "tambahan info"}),
        ),
        (
            "POST",
            "/api/v1/followup",
            json!({"code": "1000 0000 0000 0000 0000"}),
        ),
        ("POST", "/api/v1/reports", json!({"bad": 1})),
        ("GET", "/api/v1/meta", json!(null)),
        ("GET", "/api/v1/openapi.json", json!(null)),
        ("GET", "/nope", json!(null)),
    ] {
        let rb = match method {
            "POST" => client.post(app.url(path)).json(&body),
            _ => client.get(app.url(path)),
        };
        let r = with_headers(rb).send().await.unwrap();
        responses.push(r.headers().clone());
    }
    for h in &responses {
        assert!(
            h.get("set-cookie").is_none(),
            "the intake set a cookie: {h:?}"
        );
        assert!(h.get("server").is_none(), "Server header present");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
    }
    app.kill9();
    let needles = [
        XFF,
        REAL_IP,
        UA,
        "UAcanary",
        "referer-canary",
        LANG,
        "LANGCANARY",
    ];
    let logs = app.logs();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG") || logs.contains("INFO"),
        "logging ran"
    );
    for n in needles {
        assert!(!logs.contains(n), "the log holds {n:?}");
        for dir in [app.data_dir(), app.keys_dir()] {
            for (p, bytes) in TestApp::files_under(&dir) {
                assert!(
                    !contains(&bytes, n.as_bytes()),
                    "{} holds {n:?}",
                    p.display()
                );
            }
        }
        if b == Backend::Postgres {
            assert!(
                !contains(&app.pg_dump(), n.as_bytes()),
                "pg_dump holds {n:?}"
            );
        }
    }
}
