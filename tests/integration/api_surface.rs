use crate::on_both;
use crate::support::{Backend, TestApp, start_with_config};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

on_both!(meta_lists_areas_and_categories_in_both_languages);

async fn meta_lists_areas_and_categories_in_both_languages(b: Backend) {
    let app = TestApp::start(b).await;
    let v: Value = reqwest::get(app.url("/api/v1/meta"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = v["areas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Angkinang",
            "Daha Barat",
            "Daha Selatan",
            "Daha Utara",
            "Kalumpang",
            "Kandangan",
            "Loksado",
            "Padang Batung",
            "Simpur",
            "Sungai Raya",
            "Telaga Langsat"
        ]
    );
    for list in ["areas", "categories"] {
        for c in v[list].as_array().unwrap() {
            assert!(!c["id"].as_str().unwrap().is_empty());
            assert!(!c["label"]["id"].as_str().unwrap().is_empty());
            assert!(!c["label"]["en"].as_str().unwrap().is_empty());
        }
    }
    // Every id that meta offers is accepted by a submission.
    let cat = v["categories"][0]["id"].as_str().unwrap();
    let area = v["areas"][10]["id"].as_str().unwrap();
    app.submit(json!({"description": "pilihan dari meta", "category": cat, "area": area}))
        .await;
}

/// Every response carries the security headers of DESIGN.md, including errors, and nothing is
/// compressed or tagged for caching.
#[tokio::test]
async fn security_headers_on_every_response() {
    let onion = format!("{}.onion", "a".repeat(56));
    let (app, _cfg) =
        start_with_config(&format!("[reporter]\nonion_address = \"{onion}\"\n")).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let code = app.submit(json!({"description": "header"})).await;
    let requests: Vec<(&str, &str, Option<Value>)> = vec![
        ("POST", "/api/v1/reports", Some(json!({"description": "x"}))),
        ("POST", "/api/v1/reports", Some(json!({"bad": true}))),
        ("POST", "/api/v1/followup", Some(json!({"code": code}))),
        ("POST", "/api/v1/followup", Some(json!({"code": "1"}))),
        (
            "POST",
            "/api/v1/followup/messages",
            Some(json!({"code": code, "body": "hai"})),
        ),
        ("GET", "/api/v1/meta", None),
        ("GET", "/api/v1/openapi.json", None),
        ("GET", "/", None),
        ("DELETE", "/api/v1/reports", None),
    ];
    for (method, path, body) in requests {
        let mut rb = client
            .request(method.parse().unwrap(), app.url(path))
            .header("accept-encoding", "gzip, deflate, br, zstd");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let h = r.headers();
        let get = |k: &str| {
            h.get(k)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let csp = get("content-security-policy");
        assert!(
            csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        assert!(get("cache-control").contains("no-store"), "{path}");
        assert_eq!(
            get("onion-location"),
            format!("http://{onion}{path}"),
            "{path}"
        );
        for absent in [
            "server",
            "etag",
            "last-modified",
            "set-cookie",
            "content-encoding",
            "x-powered-by",
        ] {
            assert!(h.get(absent).is_none(), "{method} {path} sent {absent}");
        }
        // The API answers JSON; `/` is the reporter pages' home (issue 8).
        let want = if path.starts_with("/api/") {
            "application/json"
        } else {
            "text/html"
        };
        assert!(get("content-type").starts_with(want), "{path}");
    }
}

/// A client that never finishes its request is cut off, and an oversize body is refused from
/// its Content-Length before it is read.
#[tokio::test]
async fn slow_and_oversize_clients_are_cut_off() {
    let (app, _cfg) =
        start_with_config("[limits]\nrequest_timeout_secs = 2\nbody_bytes = 4096\n").await;
    let addr = app.addr.clone();
    tokio::task::spawn_blocking(move || {
        // A request that stops arriving is answered 408 or dropped, well before the 30 s the
        // client waits.
        let stalled = |what: &str, bytes: &[u8]| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(bytes).unwrap();
            let start = Instant::now();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            assert!(start.elapsed() < Duration::from_secs(25), "{what} was not cut off");
            let text = String::from_utf8_lossy(&buf);
            assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{what}: {text}");
        };
        stalled("headers that never end", b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\n");
        stalled(
            "a body that stops arriving",
            b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"descr",
        );

        // 3. An announced oversize body is refused without being sent.
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        assert!(text.contains("body_too_large"), "{text}");
    })
    .await
    .unwrap();
    // The server is still healthy afterwards.
    let s = app.store().await;
    assert_eq!(s.count_reports().await.unwrap(), 0);
    s.close().await;
    app.submit(json!({"description": "masih hidup"})).await;
}

/// Issue 5, section 8: the responses actix-http writes by itself, which no middleware sees
/// (400 on a broken request line, bad framing or a bad header; 408 on a slow head; whatever it
/// answers to an oversize head), carry the security headers too, and no Server header. Over a
/// raw socket, since no HTTP client sends such requests.
#[tokio::test]
async fn responses_actix_writes_itself_carry_the_security_headers() {
    let (app, _cfg) = start_with_config("[limits]\nrequest_timeout_secs = 2\n").await;
    let addr = app.addr.clone();
    tokio::task::spawn_blocking(move || {
        let big = format!(
            "GET /api/v1/meta HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(100_000)
        );
        for (what, bytes, status) in [
            ("broken request line", b"GARBAGE\r\n\r\n".to_vec(), Some("400")),
            (
                "Content-Length with chunked",
                b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
                Some("400"),
            ),
            (
                "a header without a colon",
                b"GET /api/v1/meta HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(),
                Some("400"),
            ),
            ("a head that stops arriving", b"GET /api/v1/meta HTTP/1.1\r\nHo".to_vec(), Some("408")),
            ("an oversize head", big.into_bytes(), None),
        ] {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let _ = s.write_all(&bytes);
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            let text = String::from_utf8_lossy(&buf).to_lowercase();
            if let Some(code) = status {
                assert!(text.starts_with(&format!("http/1.1 {code}")), "{what}: {text}");
            }
            if text.is_empty() {
                // Closed without any response: nothing header-less was sent.
                continue;
            }
            let head = text.split("\r\n\r\n").next().unwrap();
            for h in [
                "\r\ncontent-security-policy: default-src 'none'",
                "\r\nx-content-type-options: nosniff",
                "\r\nreferrer-policy: no-referrer",
                "\r\nx-frame-options: deny",
                "\r\ncache-control: no-store",
            ] {
                assert!(head.contains(h), "{what}: {h:?} missing in\n{head}");
            }
            assert!(!head.contains("\r\nserver:"), "{what}: {head}");
        }
    })
    .await
    .unwrap();
    // Normal responses are untouched: one CSP, not two.
    let r = TestApp::client()
        .get(app.url("/api/v1/meta"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()
            .get_all("content-security-policy")
            .iter()
            .count(),
        1
    );
}
