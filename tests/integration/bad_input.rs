use crate::on_both;
use crate::support::{Backend, Opts, TestApp, start_with_config_on};
use serde_json::{Value, json};

on_both!(
    bad_submissions_get_clear_4xx_and_store_nothing,
    bad_codes_are_refused_before_any_kdf
);

async fn send(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut rb = TestApp::client().post(app.url(path)).body(body);
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is JSON: {text:?}"));
    (s, v)
}

fn assert_error(case: &str, got: (u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{case}: {}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{case}: {}", got.1);
    let msg = got.1["error"]["message"].as_str().unwrap_or("");
    assert!(msg.len() > 10, "{case}: a clear message, got {msg:?}");
}

async fn bad_submissions_get_clear_4xx_and_store_nothing(b: Backend) {
    let app = TestApp::start(b).await;
    let j = Some("application/json");
    let long = |n: usize| "a".repeat(n);
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("malformed JSON", j, b"{\"description\": ".to_vec(), 400, "malformed_json"),
        ("not JSON at all", j, b"description=hello".to_vec(), 400, "malformed_json"),
        ("trailing garbage", j, b"{\"description\":\"x\"} xx".to_vec(), 400, "malformed_json"),
        ("wrong type", j, br#"{"description": 5}"#.to_vec(), 422, "invalid_field"),
        ("array", j, br#"["description"]"#.to_vec(), 422, "invalid_field"),
        ("null body", j, b"null".to_vec(), 422, "invalid_field"),
        ("unknown field", j, br#"{"description":"x","name":"Budi"}"#.to_vec(), 422, "invalid_field"),
        ("invalid UTF-8", j, b"{\"description\":\"\xff\xfe\"}".to_vec(), 400, "invalid_utf8"),
        ("empty description", j, br#"{"description":""}"#.to_vec(), 422, "description_required"),
        ("blank description", j, br#"{"description":"   \n "}"#.to_vec(), 422, "description_required"),
        ("missing description", j, br#"{"location":"x"}"#.to_vec(), 422, "description_required"),
        ("wrong content type", Some("text/plain"), br#"{"description":"x"}"#.to_vec(), 415, "unsupported_media_type"),
        ("form content type", Some("application/x-www-form-urlencoded"), b"description=x".to_vec(), 415, "unsupported_media_type"),
        ("no content type", None, br#"{"description":"x"}"#.to_vec(), 415, "unsupported_media_type"),
        ("oversize body", j, json!({"description": long(70 * 1024)}).to_string().into_bytes(), 413, "body_too_large"),
        ("oversize description", j, json!({"description": long(10_001)}).to_string().into_bytes(), 422, "field_too_long"),
        ("oversize location", j, json!({"description": "x", "location": long(501)}).to_string().into_bytes(), 422, "field_too_long"),
        ("oversize people", j, json!({"description": "x", "people": long(2001)}).to_string().into_bytes(), 422, "field_too_long"),
        ("control characters", j, json!({"description": "a\u{0007}b"}).to_string().into_bytes(), 422, "invalid_characters"),
        ("unknown category", j, br#"{"description":"x","category":"senjata"}"#.to_vec(), 422, "unknown_choice"),
        ("unknown area", j, br#"{"description":"x","area":"jakarta"}"#.to_vec(), 422, "unknown_choice"),
        ("pasted code", j, json!({"description": format!("kode saya {}", bisik::crypto::code::FollowupCode::generate().display().as_str())}).to_string().into_bytes(), 422, "contains_code"),
    ];
    for (case, ct, body, status, code) in cases {
        assert_error(
            case,
            send(&app, "/api/v1/reports", ct, body, &[]).await,
            status,
            code,
        );
    }
    // Errors never echo what the client sent: no markup, no field names.
    let (status, v) = send(
        &app,
        "/api/v1/reports",
        j,
        br#"{"description": "<img src=x onerror=alert(1)>", "<script>": 1}"#.to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, 422);
    let text = v.to_string();
    assert!(!text.contains("script") && !text.contains('<'), "{text}");
    let (_, v) = send(
        &app,
        "/api/v1/reports",
        j,
        br#"{"description": ["<b>x</b>"]}"#.to_vec(),
        &[],
    )
    .await;
    assert!(!v.to_string().contains("<b>"), "{v}");
    // A 10000-character description is fine (the limit is inclusive); multi-byte characters
    // count as characters, not bytes.
    app.submit(json!({"description": "é".repeat(10_000)})).await;
    let s = app.store().await;
    assert_eq!(
        s.count_reports().await.unwrap(),
        1,
        "only the valid report is stored"
    );
    s.close().await;

    // Cross-site POSTs are refused before any session exists.
    let cross: [&[(&str, &str)]; 4] = [
        &[("origin", "https://evil.example")],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site"), ("origin", "null")],
        &[("sec-fetch-site", "cross-site"), ("origin", "null")],
    ];
    for headers in cross {
        let got = send(
            &app,
            "/api/v1/reports",
            j,
            br#"{"description":"x"}"#.to_vec(),
            headers,
        )
        .await;
        assert_error(&format!("cross-site {headers:?}"), got, 403, "cross_site");
    }
    // With Referrer-Policy: no-referrer, browsers send `Origin: null` on same-origin form
    // POSTs; Sec-Fetch-Site then decides.
    let same = format!("http://{}", app.addr);
    let same_origin: [&[(&str, &str)]; 2] = [
        &[("origin", same.as_str()), ("sec-fetch-site", "same-origin")],
        &[("origin", "null"), ("sec-fetch-site", "same-origin")],
    ];
    for headers in same_origin {
        let ok = send(
            &app,
            "/api/v1/reports",
            j,
            br#"{"description":"same origin"}"#.to_vec(),
            headers,
        )
        .await;
        assert_eq!(ok.0, 201, "{headers:?}");
    }

    // Unknown path, wrong method: JSON errors too. English on request.
    assert_error(
        "unknown path",
        send(&app, "/api/v2/reports", j, b"{}".to_vec(), &[]).await,
        404,
        "not_found",
    );
    let r = reqwest::get(app.url("/api/v1/reports?lang=en"))
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("This HTTP method")
    );
    // The primary subtag decides: a browser-style `en-US` gets English too (issue 5, §9).
    for q in ["?lang=en-US", "?lang=EN_gb", "?x=1&lang=en-us"] {
        let r = send(&app, &format!("/api/v1/reports{q}"), j, b"{".to_vec(), &[]).await;
        assert_eq!(
            r.1["error"]["message"], "The request body is not valid JSON.",
            "{q}"
        );
    }
    let other = send(&app, "/api/v1/reports?lang=english", j, b"{".to_vec(), &[]).await;
    assert_eq!(
        other.1["error"]["message"],
        "Isi permintaan bukan JSON yang sah."
    );
    let id = send(&app, "/api/v1/reports", j, b"{".to_vec(), &[]).await;
    let en = send(&app, "/api/v1/reports?lang=en", j, b"{".to_vec(), &[]).await;
    assert_eq!(
        id.1["error"]["message"],
        "Isi permintaan bukan JSON yang sah."
    );
    assert_eq!(
        en.1["error"]["message"],
        "The request body is not valid JSON."
    );

    let s = app.store().await;
    assert_eq!(s.count_reports().await.unwrap(), 3);
    let (items,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM items")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(items, 3);
    s.close().await;
}

async fn bad_codes_are_refused_before_any_kdf(b: Backend) {
    // One failed lookup a minute raises the alarm gauge, so the gauge shows whether any
    // malformed code reached Argon2 and the database (metrics carry no counters).
    let (app, _cfg_dir) = start_with_config_on(
        b,
        "[kdf]
alarm_failures_per_minute = 1
",
        Opts {
            metrics: true,
            ..Opts::default()
        },
    )
    .await;
    let code = app.submit(json!({"description": "kode"})).await;
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    // A valid code with its last digit changed: the Damm check catches every single-digit typo.
    let last = digits.as_bytes()[19] - b'0';
    let typo = format!("{}{}", &digits[..19], (last + 1) % 10);
    let swapped = {
        let mut d: Vec<u8> = digits.bytes().collect();
        let i = (1..18).find(|&i| d[i] != d[i + 1]).unwrap();
        d.swap(i, i + 1);
        String::from_utf8(d).unwrap()
    };
    // Unknown version digit (0, or 2-9) with a correct check digit.
    let version = {
        let mut d: Vec<u8> = digits.bytes().map(|c| c - b'0').collect();
        d[0] = 2;
        d[19] = bisik::crypto::code::damm_interim(&d[..19]);
        d.iter().map(|x| (b'0' + x) as char).collect::<String>()
    };
    assert_eq!(app.metric("bisik_followup_alarm").await, 0);
    let cases = [
        ("too short", "1234 5678"),
        ("too long", "1234 5678 1234 5678 1234 5"),
        (
            "way too long",
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        ),
        ("non-digit", "1234 5678 abcd 5678 1234"),
        ("letters O for 0", "1O00 0000 0000 0000 0000"),
        ("empty", ""),
        ("bad checksum", typo.as_str()),
        ("transposition", swapped.as_str()),
        ("unknown version", version.as_str()),
    ];
    for (case, c) in cases {
        assert_error(
            case,
            send(
                &app,
                "/api/v1/followup",
                Some("application/json"),
                json!({"code": c}).to_string().into_bytes(),
                &[],
            )
            .await,
            400,
            "invalid_code",
        );
        assert_error(
            case,
            send(
                &app,
                "/api/v1/followup/messages",
                Some("application/json"),
                json!({"code": c, "body": "halo"}).to_string().into_bytes(),
                &[],
            )
            .await,
            400,
            "invalid_code",
        );
    }
    assert_error(
        "code as number",
        send(
            &app,
            "/api/v1/followup",
            Some("application/json"),
            br#"{"code": 1234}"#.to_vec(),
            &[],
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(
        app.metric("bisik_followup_alarm").await,
        0,
        "no malformed code reached Argon2 or the database"
    );
    // The gauge does see a well-formed wrong code, so the check above can fail.
    let wrong = bisik::crypto::code::FollowupCode::generate()
        .display()
        .to_string();
    assert_eq!(app.followup(&wrong).await.0, 404);
    assert_eq!(app.metric("bisik_followup_alarm").await, 1);

    // Message bodies: empty, too long, a pasted code (with separators) are refused.
    let pasted = format!("ini kode saya: {}", code.replace(' ', "-"));
    for (case, body, status, ecode) in [
        ("empty body", "  ".to_owned(), 422, "body_required"),
        ("long body", "x".repeat(5001), 422, "field_too_long"),
        ("pasted code", pasted, 422, "contains_code"),
        (
            "pasted code, dots",
            code.replace(' ', "."),
            422,
            "contains_code",
        ),
    ] {
        assert_error(
            case,
            send(
                &app,
                "/api/v1/followup/messages",
                Some("application/json"),
                json!({"code": code, "body": body}).to_string().into_bytes(),
                &[],
            )
            .await,
            status,
            ecode,
        );
    }
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200);
    assert_eq!(v["messages"].as_array().unwrap().len(), 0, "nothing stored");
    // A phone number is not a code.
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "nomor bandar 0812-3456-7890"}),
        )
        .await;
    assert_eq!(r.status(), 201);
}
