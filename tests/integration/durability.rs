use crate::on_both;
use crate::support::{Backend, TestApp};
use serde_json::json;
use std::time::Duration;

on_both!(every_issued_code_survives_sigkill);

/// Concurrent submissions run while the server is SIGKILLed, three times. Every code that
/// reached a client must open its report after the restart (I7).
async fn every_issued_code_survives_sigkill(b: Backend) {
    let mut app = TestApp::start_with(
        b,
        crate::support::Opts {
            env: vec![("BISIK_STOCK_SIZE", "0".into())],
            ..Default::default()
        },
    )
    .await;
    let mut issued: Vec<String> = Vec::new();
    for round in 0..3 {
        let url = app.url("/api/v1/reports");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut tasks = Vec::new();
        for w in 0..8 {
            let url = url.clone();
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
                for i in 0..50 {
                    let r = client
                        .post(&url)
                        .json(&json!({"description": format!("ronde {round} pekerja {w} laporan {i}")}))
                        .send()
                        .await;
                    let Ok(r) = r else { return };
                    if r.status() == 201 {
                        let Ok(v) = r.json::<serde_json::Value>().await else { return };
                        let _ = tx.send(v["code"].as_str().unwrap().to_owned());
                    }
                }
            }));
        }
        drop(tx);
        // Let some submissions complete, then kill mid-flight.
        let mut this_round = Vec::new();
        while this_round.len() < 6 {
            match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
                Ok(Some(c)) => this_round.push(c),
                _ => panic!("submissions stalled; logs:\n{}", app.logs()),
            }
        }
        app.kill9();
        for t in tasks {
            let _ = t.await;
        }
        while let Ok(c) = rx.try_recv() {
            this_round.push(c);
        }
        issued.extend(this_round);
        app.launch("serve").await;
        for code in &issued {
            let (s, v) = app.followup(code).await;
            assert_eq!(s, 200, "round {round}: issued code lost after SIGKILL: {v}");
        }
    }
    assert!(issued.len() >= 18);
    // SIGKILL keeps the page cache, so durability settings are checked directly too: a code is
    // shown only after an fsync'd commit, whatever the server's defaults.
    let store = app.store().await;
    match b {
        Backend::Sqlite => {
            let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous=FULL");
            let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(mode, "wal");
        }
        Backend::Postgres => {
            let db = app.db_url.rsplit('/').next().unwrap().to_owned();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {db} SET synchronous_commit TO off"
            )))
            .execute(store.pool())
            .await
            .unwrap();
            let fresh = app.store().await;
            let (sc,): (String,) = sqlx::query_as("SHOW synchronous_commit")
                .fetch_one(fresh.pool())
                .await
                .unwrap();
            assert_eq!(
                sc, "on",
                "the store insists on synchronous_commit even when the server default is off"
            );
            fresh.close().await;
        }
    }
    store.close().await;
    // Every report that exists is whole: each was committed in one transaction.
    let store = app.store().await;
    let (orphans,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM reports r WHERE NOT EXISTS (SELECT 1 FROM reporter_access a WHERE a.report_id = r.id) \
         OR NOT EXISTS (SELECT 1 FROM items i WHERE i.report_id = r.id)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    store.close().await;
}
