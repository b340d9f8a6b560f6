//! Issue 5, sections 4 and 5: metrics are coarse gauges behind a token, logs cannot be flooded
//! and carry no ids on error paths, and a full disk refuses messages before tips.

use crate::support::{Backend, Opts, TestApp, start_with_config_on};
use serde_json::json;
use std::io::{Read, Write};
use std::time::Duration;

async fn metrics_body(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let m = app.metrics.as_ref().expect("metrics enabled");
    let mut req = TestApp::client().get(format!("http://{m}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Only coarse gauges, no per-event counter (a counter scraped every 15 s time-stamps each
/// tip), and nothing without the token from keys/.
#[tokio::test]
async fn metrics_are_coarse_gauges_behind_a_token() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        Opts {
            metrics: true,
            ..Opts::default()
        },
    )
    .await;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(app.keys_dir().join("metrics.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(metrics_body(&app, None).await.0, 401);
    assert_eq!(
        metrics_body(&app, Some("0123456789abcdef0123456789abcdef"))
            .await
            .0,
        401
    );
    let code = app.submit(json!({"description": "metrik"})).await;
    assert_eq!(app.followup(&code).await.0, 200);
    let (status, body) = metrics_body(&app, Some(&app.metrics_token())).await;
    assert_eq!(status, 200);
    let allowed = [
        "bisik_followup_alarm",
        "bisik_followup_shedding",
        "bisik_stock_step",
        "bisik_disk_state",
        "bisik_disk_free_percent",
    ];
    let mut seen = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            assert!(rest.ends_with(" gauge"), "not a gauge: {line}");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(' ').unwrap();
        assert!(allowed.contains(&name), "unexpected metric {name}:\n{body}");
        let v: u64 = value.parse().unwrap();
        if name != "bisik_disk_free_percent" {
            assert!(v <= 2, "{line}: not a coarse state");
        }
        seen.push(name.to_owned());
    }
    assert!(seen.len() >= 4, "{body}");
}

/// 100 malformed requests write at most one library line and one summary, not 100 ERROR lines
/// that would fill journald's rate limit and drown `ALARM`.
#[tokio::test]
async fn malformed_requests_do_not_flood_the_log() {
    let app = TestApp::start(Backend::Sqlite).await;
    let before = app.logs().lines().count();
    let addr = app.addr.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..100 {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let garbage: &[u8] = if i % 2 == 0 {
                b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"
            } else {
                b"\x16\x03\x01 not http at all\r\n\r\n"
            };
            s.write_all(garbage).unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
        }
    })
    .await
    .unwrap();
    // The server still answers, and the log settles.
    assert_eq!(
        TestApp::client()
            .get(app.url("/api/v1/meta"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let logs = app.logs();
    let new: Vec<&str> = logs.lines().skip(before).collect();
    assert!(
        new.len() <= 2,
        "{} log lines for 100 malformed requests:\n{}",
        new.len(),
        new.join("\n")
    );
}

/// A tampered message makes the follow-up fail with 500; the log line says what happened but
/// names neither the item nor the report, since every line carries an exact time.
async fn error_logs_carry_no_ids(b: Backend) {
    let app = TestApp::start(b).await;
    let code = app.submit(json!({"description": "ubah pesan"})).await;
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "pesan yang akan dirusak"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let s = app.store().await;
    let (item, report): (String, String) =
        sqlx::query_as("SELECT id, report_id FROM items WHERE kind = 2")
            .fetch_one(s.pool())
            .await
            .unwrap();
    sqlx::query("UPDATE items SET sealed = tip.sealed FROM items AS tip WHERE items.kind = 2 AND tip.kind = 1")
        .execute(s.pool())
        .await
        .unwrap();
    s.close().await;
    let (status, _) = app.followup(&code).await;
    assert_eq!(status, 500);
    let found = app
        .wait_for_log("did not open", Duration::from_secs(10))
        .await;
    let logs = app.logs();
    assert!(found, "{logs}");
    for id in [&item, &report] {
        assert!(!logs.contains(id.as_str()), "log names {id}:\n{logs}");
        assert!(
            !logs.contains(&id.replace('-', "")),
            "log names {id}:\n{logs}"
        );
    }
}

/// Issue 5, section 4: below the message watermark messages get a clear 503 and the log says
/// so loudly, while tips are still taken; below the lower floor tips are refused too. The
/// watermarks are set far above this machine's free space.
async fn disk_watermark_refuses_messages_before_tips(b: Backend) {
    let (app, _cfg_dir) = start_with_config_on(
        b,
        "[disk]
messages_min_free_mib = 1099511627776
",
        Opts {
            metrics: true,
            ..Opts::default()
        },
    )
    .await;
    let code = app
        .submit(json!({"description": "disk hampir penuh"}))
        .await;
    let r = app
        .post(
            "/api/v1/followup/messages?lang=en",
            json!({"code": code, "body": "satu pesan lagi"}),
        )
        .await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "storage_full");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("New reports can still be sent"),
        "{v}"
    );
    let found = app.wait_for_log("DISK LOW", Duration::from_secs(10)).await;
    let logs = app.logs();
    assert!(found, "{logs}");
    assert_eq!(app.metric("bisik_disk_state").await, 1);
    // Reading still works: only writes are refused.
    assert_eq!(app.followup(&code).await.0, 200);
    let s = app.store().await;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM items WHERE kind = 2")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(n, 0, "the refused message was not stored");
    s.close().await;
    drop(app);

    let (app, _cfg_dir) = start_with_config_on(
        b,
        "[disk]\nmessages_min_free_mib = 1099511627776\nsubmissions_min_free_mib = 1099511627776\n",
        Opts::default(),
    )
    .await;
    let r = app
        .post("/api/v1/reports", json!({"description": "penuh"}))
        .await;
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "storage_full");
    assert_eq!(app.store().await.count_reports().await.unwrap(), 0);
}

crate::on_both!(
    error_logs_carry_no_ids,
    disk_watermark_refuses_messages_before_tips
);

/// The floor may not sit above the message watermark: tips are refused last.
#[tokio::test]
async fn disk_floor_above_watermark_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bisik.toml");
    std::fs::write(
        &cfg,
        "[disk]\nmessages_min_free_mib = 10\nsubmissions_min_free_mib = 20\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::support::bin())
        .args(["--config", cfg.to_str().unwrap(), "init"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("disk.submissions_min_free_mib"));
}
