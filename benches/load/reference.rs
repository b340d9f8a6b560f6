//! The reference points, measured in-process so that every rate is compared with what this
//! machine can do at that moment: `t_argon2(n)` (the median Argon2id v1 code derivation while
//! `n` run at once), the bare INSERT + COMMIT rate on a fresh database of the same kind, and the
//! bytes a stored submission actually takes, to check the bare loop's row size.

use super::report::{ms, percentile};
use anyhow::{Context, Result, anyhow};
use bisik::crypto::code::FollowupCode;
use bisik::crypto::kdf::derive_code_secrets;
use bisik::crypto::primitives::{SecretKey32, os_fill};
use bisik::store::{Schema, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Bytes per row in the bare insert loop; a submission writes about this much (measured and
/// printed from the server's own database after the stock test).
pub const BARE_ROW_BYTES: usize = 2450;

/// The Argon2 references measured at the start of the run, which later phases compare with.
pub struct Refs {
    pub pool: usize,
    /// t_argon2 by number of concurrent derivations (1, share, pool, 3).
    pub t: BTreeMap<usize, Duration>,
}

impl Refs {
    pub fn t(&self, n: usize) -> Duration {
        self.t[&n]
    }
}

/// Median time of one v1 code derivation while `threads` run at once, and the throughput those
/// threads achieved together (derivations per second of wall time). With more threads than
/// cores the two disagree: time slicing spreads the durations, and the median understates the
/// mean.
pub fn argon2_median(threads: usize, per_thread: usize) -> (Duration, f64) {
    let pepper = Arc::new(SecretKey32::random());
    let barrier = Arc::new(std::sync::Barrier::new(threads));
    let runs: Vec<(Instant, Instant, Vec<Duration>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let pepper = pepper.clone();
                let barrier = barrier.clone();
                s.spawn(move || {
                    // One warm-up so page faults of the first 64 MiB are not in the samples.
                    let _ = derive_code_secrets(&FollowupCode::generate(), &pepper);
                    barrier.wait();
                    let start = Instant::now();
                    let samples = (0..per_thread)
                        .map(|_| {
                            let code = FollowupCode::generate();
                            let t = Instant::now();
                            derive_code_secrets(&code, &pepper).expect("v1 derives");
                            t.elapsed()
                        })
                        .collect::<Vec<_>>();
                    (start, Instant::now(), samples)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("argon2 thread"))
            .collect()
    });
    let first = runs.iter().map(|r| r.0).min().expect("threads");
    let last = runs.iter().map(|r| r.1).max().expect("threads");
    let mut all: Vec<Duration> = runs.into_iter().flat_map(|r| r.2).collect();
    let throughput = all.len() as f64 / (last - first).as_secs_f64();
    (percentile(&mut all, 50.0), throughput)
}

/// Argon2 reference for a phase: (measured just before it, the one used for the bound). The
/// bound uses the faster of that and the start-of-run measurement, so a busy machine cannot
/// lower the bar; the CPU columns then show why a phase fell short.
pub async fn t_argon2_now(refs: &Refs, n: usize) -> (Duration, Duration) {
    let (now, _) = tokio::task::spawn_blocking(move || argon2_median(n, 4))
        .await
        .expect("argon2 reference");
    let used = refs.t.get(&n).map_or(now, |start| now.min(*start));
    (now, used)
}

pub async fn bare_insert(
    url: &str,
    concurrency: usize,
    secs: f64,
    shaped: bool,
) -> Result<(f64, u64, String)> {
    let store = Store::connect(url, Schema::Reports, concurrency as u32)
        .await
        .with_context(|| "connecting for the bare insert loop")?;
    store.migrate().await?;
    let pool = store.pool().clone();
    let next = Arc::new(AtomicUsize::new(0));
    let budget = 20_000usize;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let pool = pool.clone();
        let next = next.clone();
        set.spawn(async move {
            let mut lat = Vec::new();
            // One row as large as a whole submission, or (shaped) the four rows a submission
            // writes, with the sizes the server writes.
            let header_len = if shaped { 260 } else { BARE_ROW_BYTES - 64 };
            let mut header = vec![0u8; header_len];
            let mut sig = vec![0u8; 64];
            let mut blob = vec![0u8; 1100];
            while next.fetch_add(1, Ordering::Relaxed) < budget && Instant::now() < deadline {
                os_fill(&mut header);
                os_fill(&mut sig);
                os_fill(&mut blob);
                let id = uuid::Uuid::new_v4().to_string();
                let t = Instant::now();
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO reports (id, unit, category, status, priority, received_day, header, header_sig) \
                     VALUES ($1, $2, $3, $4, 0, $5, $6, $7)",
                )
                .bind(id.clone())
                .bind("bnnk-hss")
                .bind("lainnya")
                .bind("new")
                .bind(20_000i64)
                .bind(header.clone())
                .bind(sig.clone())
                .execute(&mut *tx)
                .await?;
                if shaped {
                    for purpose in [1i16] {
                        sqlx::query("INSERT INTO report_wraps (report_id, recipient_fp, purpose, wrapped) VALUES ($1, $2, $3, $4)")
                            .bind(id.clone())
                            .bind(hex::encode(&sig[..32]))
                            .bind(purpose)
                            .bind(blob[..80].to_vec())
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query(
                        "INSERT INTO reporter_access (tag, report_id, kdf_version, wrapped_key, revoked, expires_day) \
                         VALUES ($1, $2, 1, $3, 0, 20365)",
                    )
                    .bind(sig[..32].to_vec())
                    .bind(id.clone())
                    .bind(blob[..72].to_vec())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO items (id, report_id, seq, kind, direction, sealed) VALUES ($1, $2, 0, 1, 1, $3)",
                    )
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(id)
                    .bind(blob.clone())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                lat.push(t.elapsed());
            }
            Ok::<_, sqlx::Error>(lat)
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = set.join_next().await {
        lat.extend(r.map_err(|e| anyhow!("insert task: {e}"))??);
    }
    let elapsed = start.elapsed();
    store.close().await;
    let n = lat.len() as u64;
    let p = format!(
        "p50 {} / p99 {}",
        ms(percentile(&mut lat, 50.0)),
        ms(percentile(&mut lat, 99.0))
    );
    Ok((n as f64 / elapsed.as_secs_f64(), n, p))
}

/// Bytes a stored report occupies across its rows (columns' payload, not page overhead).
pub async fn bytes_per_report(url: &str) -> Result<(f64, i64)> {
    let store = Store::connect(url, Schema::Reports, 1).await?;
    let (bytes, n): (i64, i64) = sqlx::query_as(
        "SELECT CAST( \
           (SELECT COALESCE(SUM(LENGTH(id) + LENGTH(unit) + LENGTH(category) + LENGTH(status) + LENGTH(header) + LENGTH(header_sig) + 24), 0) FROM reports) \
         + (SELECT COALESCE(SUM(LENGTH(report_id) + LENGTH(recipient_fp) + LENGTH(wrapped) + 2), 0) FROM report_wraps) \
         + (SELECT COALESCE(SUM(LENGTH(tag) + LENGTH(report_id) + LENGTH(wrapped_key) + 12), 0) FROM reporter_access) \
         + (SELECT COALESCE(SUM(LENGTH(id) + LENGTH(report_id) + LENGTH(sealed) + 12), 0) FROM items) AS BIGINT), \
         (SELECT COUNT(*) FROM reports)",
    )
    .fetch_one(store.pool())
    .await?;
    store.close().await;
    Ok((bytes as f64 / n.max(1) as f64, n))
}
