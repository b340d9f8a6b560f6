//! Cost of the reshuffle (issue 5, section 2): `cargo bench --bench reshuffle` (release
//! profile, no libtest harness).
//!
//! For each backend (SQLite, then PostgreSQL; `BISIK_BENCH_BACKENDS=sqlite` restricts) it fills a
//! fresh reports database through the store's own group insert with `BISIK_BENCH_REPORTS`
//! (100,000) reports of realistic sizes (a 1 KiB sealed tip, a 200-byte header, three 80-byte
//! wraps, an access row, a chain head), then times `Store::reshuffle` twice (the second run sees an already
//! shuffled database) and prints a Markdown table on stdout, with the database size. Writes wait
//! while a reshuffle runs, so its duration is the longest a submission can be held up by it.
//!
//! Knobs: `BISIK_BENCH_REPORTS`, `BISIK_BENCH_BACKENDS` (`sqlite,postgres`),
//! `BISIK_BENCH_PG_URL` (admin URL, as for `benches/load.rs`:
//! `postgres://postgres@127.0.0.1:5432/test`; a database is created beside it and dropped
//! afterwards), `BISIK_BENCH_TMPDIR` (SQLite file; default `CARGO_TARGET_TMPDIR`).

use bisik::crypto::primitives::os_fill;
use bisik::domain::{Direction, ItemId, ItemKind, ReportId};
use bisik::store::{NewItem, NewReport, Schema, Store};
use std::time::Instant;

fn random(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    os_fill(&mut b);
    b
}

fn report(day: i64) -> NewReport {
    let mut tag = [0u8; 32];
    os_fill(&mut tag);
    NewReport {
        id: ReportId::new(),
        unit: "bnnk-hss".into(),
        category: "peredaran".into(),
        received_day: day,
        header: random(200),
        header_sig: random(64),
        wraps: (0..3)
            .map(|_| (hex::encode(random(32)), 1, random(80)))
            .collect(),
        tag,
        kdf_version: 1,
        wrapped_key: random(72),
        expires_day: day + 365,
        tip: NewItem {
            id: ItemId::new(),
            kind: ItemKind::Tip,
            direction: Direction::ReporterToStaff,
            sealed: random(1024),
            prev: [0; 32],
            day,
            idem: None,
        },
        head: (random(120), random(64)),
    }
}

async fn fill(store: &Store, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let batch: Vec<NewReport> = (0..64.min(n - done))
            .map(|i| report(20_000 + ((done + i) / 300) as i64))
            .collect();
        let refs: Vec<&NewReport> = batch.iter().collect();
        store.insert_reports(&refs).await?;
        done += batch.len();
        if done % 10_000 < 64 {
            eprintln!(
                "  {done} reports ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

async fn size(store: &Store, sqlite_path: Option<&std::path::Path>) -> anyhow::Result<u64> {
    Ok(match sqlite_path {
        Some(p) => std::fs::metadata(p)?.len(),
        None => {
            let (n,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
                .fetch_one(store.pool())
                .await?;
            n as u64
        }
    })
}

async fn run(
    name: &str,
    url: &str,
    sqlite_path: Option<&std::path::Path>,
    n: usize,
) -> anyhow::Result<String> {
    eprintln!("{name}: filling {n} reports");
    let store = Store::connect(url, Schema::Reports, 4).await?;
    store.migrate().await?;
    fill(&store, n).await?;
    let mb = size(&store, sqlite_path).await? as f64 / 1e6;
    let mut times = Vec::new();
    for round in 0..2 {
        eprintln!("{name}: reshuffle {}", round + 1);
        let t = Instant::now();
        store.reshuffle().await?;
        times.push(t.elapsed().as_secs_f64());
    }
    let mb_after = size(&store, sqlite_path).await? as f64 / 1e6;
    store.close().await;
    Ok(format!(
        "| {name} | {n} | {mb:.0} MB | {:.1} s | {:.1} s | {mb_after:.0} MB |",
        times[0], times[1]
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let n: usize = std::env::var("BISIK_BENCH_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let backends =
        std::env::var("BISIK_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut rows = Vec::new();
    if backends.split(',').any(|b| b.trim() == "sqlite") {
        let base = std::env::var("BISIK_BENCH_TMPDIR")
            .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into());
        let dir = tempfile::tempdir_in(base)?;
        let path = dir.path().join("bisik.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        rows.push(run("SQLite", &url, Some(&path), n).await?);
    }
    if backends.split(',').any(|b| b.trim() == "postgres") {
        let admin_url = std::env::var("BISIK_BENCH_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        let name = format!("bisik_reshuffle_{}", hex::encode(random(4)));
        let admin = sqlx::AnyPool::connect(&admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await?;
        let result = run("PostgreSQL", &format!("{base}/{name}"), None, n).await;
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
        rows.push(result?);
    }
    println!("| database | reports | size | first reshuffle | second reshuffle | size after |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
