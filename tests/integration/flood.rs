use crate::on_both;
use crate::support::{Backend, Opts, TestApp};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

on_both!(wrong_code_flood_does_not_stop_submissions);

/// Hundreds of concurrent follow-ups with wrong (checksum-valid) codes for a while: memory
/// stays bounded, submissions keep succeeding, and a real follow-up works right after.
async fn wrong_code_flood_does_not_stop_submissions(b: Backend) {
    let app = TestApp::start_with(
        b,
        Opts {
            env: vec![
                ("BISIK_FOLLOWUP_QUEUE", "16".into()),
                ("BISIK_STOCK_SIZE", "0".into()),
            ],
            metrics: true,
            ..Opts::default()
        },
    )
    .await;
    let code = app.submit(json!({"description": "sebelum banjir"})).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (n404, n503, nother) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let url = app.url("/api/v1/followup");
    let mut flood = Vec::new();
    for _ in 0..300 {
        let (stop, url) = (stop.clone(), url.clone());
        let (n404, n503, nother) = (n404.clone(), n503.clone(), nother.clone());
        flood.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let wrong = bisik::crypto::code::FollowupCode::generate()
                    .display()
                    .to_string();
                match client
                    .post(&url)
                    .json(&json!({"code": wrong}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                {
                    Ok(404) => n404.fetch_add(1, Ordering::Relaxed),
                    Ok(503) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        n503.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => nother.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    // While the flood runs: submissions succeed every time; memory is sampled.
    let rss_start = app.rss_kib();
    let mut rss_max = rss_start;
    let mut submitted = 0;
    let until = Instant::now() + Duration::from_secs(12);
    let hard_stop = Instant::now() + Duration::from_secs(35);
    while (Instant::now() < until || submitted < 10) && Instant::now() < hard_stop {
        let r = app
            .post(
                "/api/v1/reports",
                json!({"description": "laporan saat banjir"}),
            )
            .await;
        assert_eq!(
            r.status(),
            201,
            "a submission failed during the flood: {}",
            r.text().await.unwrap()
        );
        submitted += 1;
        rss_max = rss_max.max(app.rss_kib());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.unwrap();
    }
    assert!(
        submitted >= 10,
        "only {submitted} submissions completed during the flood"
    );
    assert!(
        n503.load(Ordering::Relaxed) > 0,
        "the follow-up queue bound was exercised"
    );
    assert!(
        n404.load(Ordering::Relaxed) > 0,
        "wrong codes were really tried"
    );
    assert_eq!(
        nother.load(Ordering::Relaxed),
        0,
        "no 5xx other than 503, no dropped connections"
    );
    // Bounded: 2 Argon2 instances of 64 MiB plus a bounded queue, not hundreds.
    assert!(
        rss_max < 400 * 1024,
        "RSS grew to {rss_max} KiB (start {rss_start} KiB)"
    );
    // The alarm was raised and logged, without client data.
    assert!(app.logs().contains("ALARM"));
    // A real reporter is served right after the flood.
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200, "{v}");
}
