//! Server 2, with no stock: sustained submissions past the stock at the Argon2 bound, then the
//! flood of wrong but Damm-valid codes (each costs a full Argon2), with submitters and one real
//! reporter ([`super::reporter`]) running through it, and the server's memory sampled all along.

use super::cpu::CpuMeter;
use super::http::{MAX_REQUESTS, client, drive, followup, submissions};
use super::postgres::{Pg, fresh_url};
use super::reference::t_argon2_now;
use super::report::{Report, mb, ms, pct_of, verdict, verdict_cpu};
use super::run::Phase;
use super::server::{Server, finish};
use super::{IDLE_RSS_TARGET_KIB, SUBMIT_CONCURRENCY, reporter};
use anyhow::Result;
use bisik::crypto::code::FollowupCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Concurrent wrong-code clients in the flood.
const FLOOD_CLIENTS: usize = 300;
/// Submitters running during the flood.
const FLOOD_SUBMITTERS: usize = 2;

/// Server 2: no stock; sustained submissions past the stock, then the flood and its reporter.
pub async fn no_stock_server_and_flood(
    phase: Phase<'_>,
    rep: &mut Report,
    pg: &mut Option<&mut Pg>,
) -> Result<()> {
    let Phase { s, refs, name, c } = phase;
    let pool = refs.pool;
    // --- Server 2: no stock; sustained submissions, then the flood.
    let url = fresh_url(pg, "nostock").await?;
    // The default follow-up queue, so the flood meets the deployed FIFO and deadline.
    let queue = bisik::config::Kdf::default().followup_queue;
    let mut s2 = Server::start(&s.tmp, url.as_deref(), pool, 0, queue)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_start = s2.rss_kib();
    rep.add(
        name,
        "idle RSS after startup (stock 0)",
        mb(rss_start),
        "< 30 MB",
        verdict(rss_start < IDLE_RSS_TARGET_KIB),
    );
    let (t_now, t_used) = t_argon2_now(refs, pool).await;
    let cpu = CpuMeter::start(s2.pid());
    let mut t = submissions(c, &s2.intake, SUBMIT_CONCURRENCY, MAX_REQUESTS, s.secs).await;
    let cpu = cpu.stop(t.ok());
    let rate = t.rate();
    let bound = pool as f64 / t_used.as_secs_f64();
    rep.add(
        name,
        &format!(
            "submissions past the stock ({:.0} s, concurrency {SUBMIT_CONCURRENCY})",
            t.elapsed.as_secs_f64()
        ),
        format!(
            "{rate:.2}/s = {} of bound; {}; {}; {cpu}",
            pct_of(rate, bound),
            t.pcts(),
            t.status_text()
        ),
        &format!(
            "at the Argon2 bound {pool}/t = {bound:.2}/s (t = {}; {} just before) (≥ 90%)",
            ms(t_used),
            ms(t_now)
        ),
        &verdict_cpu(rate >= 0.9 * bound, &cpu),
    );
    let reporter_code = t.codes.first().cloned();
    flood(phase, rep, &s2, reporter_code).await?;
    finish(rep, name, "no-stock server", &mut s2);
    drop(s2);
    Ok(())
}

/// The flood itself, on server 2, with submitters and a reporter running through it.
async fn flood(
    phase: Phase<'_>,
    rep: &mut Report,
    srv: &Server,
    reporter_code: Option<String>,
) -> Result<()> {
    let Phase { s, name, c, .. } = phase;
    let secs = (s.secs * 0.75).max(5.0);
    let fc = client(FLOOD_CLIENTS);
    let base = srv.intake.clone();
    let before = srv.metrics(c).await?;
    let stop = Arc::new(AtomicBool::new(false));

    // RSS sampler.
    let pid = srv.pid();
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut max = 0u64;
            let mut samples = 0u32;
            let end = Instant::now() + Duration::from_secs_f64(secs + 30.0);
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(v) = st
                        .lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|v| v.parse::<u64>().ok())
                {
                    max = max.max(v);
                    samples += 1;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (max, samples)
        })
    };

    // Wrong but Damm-valid codes: they pass the cheap checks and cost a full Argon2 each. A
    // hostile client ignores Retry-After; the 100 ms pause after a 503 only keeps this load
    // generator from spending the machine's two cores on its own loop.
    let flood_base = base.clone();
    let cpu = CpuMeter::start(pid);
    let flood_task = tokio::spawn(drive(
        FLOOD_CLIENTS,
        MAX_REQUESTS,
        secs,
        404,
        Duration::from_millis(100),
        move |_| {
            let code = FollowupCode::generate().display().to_string();
            followup(fc.clone(), flood_base.clone(), code)
        },
    ));
    // Give the flood a moment to fill the queue before the submitters and the reporter start.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reporter_stop = Arc::new(AtomicBool::new(false));
    let reporter_task = reporter_code.map(|code| {
        tokio::spawn(reporter::reporter(
            base.clone(),
            code,
            reporter_stop.clone(),
        ))
    });
    let mut subs = submissions(c, &base, FLOOD_SUBMITTERS, MAX_REQUESTS, secs - 0.5).await;
    // The reporter's last follow-up still finishes (within its 60 s) after the flood ends.
    reporter_stop.store(true, Ordering::Relaxed);
    let flood_t = flood_task.await.expect("flood task");
    let reporter_lat = match reporter_task {
        Some(t) => Some(t.await.expect("reporter task")),
        None => None,
    };
    let cpu = cpu.stop(flood_t.total() as usize);
    stop.store(true, Ordering::Relaxed);
    let (rss_max, samples) = sampler.await.expect("sampler");
    let after = srv.metrics(c).await?;
    let d = |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = srv.rss_kib();

    rep.add(
        name,
        &format!(
            "flood: {FLOOD_CLIENTS} clients, wrong Damm-valid codes, {:.0} s",
            flood_t.elapsed.as_secs_f64()
        ),
        format!(
            "{} requests: {}; server counted {} failed, {} shed, alarm raised {}×; {cpu}",
            flood_t.total(),
            flood_t.status_text(),
            d("bisik_followups_failed_total"),
            d("bisik_followups_shed_total"),
            d("bisik_followup_alarms_total"),
        ),
        "bounded work; 503 + Retry-After past the queue",
        "info",
    );
    rep.add(
        name,
        "RSS under the flood",
        format!(
            "max {} over {samples} samples; {} 3 s after",
            mb(rss_max),
            mb(rss_after)
        ),
        "bounded (pool × 64 MiB + base)",
        "info",
    );
    let failed = subs.total() - subs.ok() as u64;
    let rate = subs.rate();
    rep.add(
        name,
        &format!("submissions during the flood (concurrency {FLOOD_SUBMITTERS}, stock 0)"),
        format!(
            "{} ok, {failed} failed ({rate:.2}/s); {}; {}",
            subs.ok(),
            subs.pcts(),
            subs.status_text()
        ),
        "all succeed",
        verdict(failed == 0 && subs.ok() > 0),
    );
    match reporter_lat {
        Some(mut r) => {
            let ok = r.given_up == 0 && !r.answered.is_empty();
            rep.add(
                name,
                "a reporter's follow-up during the flood (one at a time, honouring Retry-After)",
                r.summary(),
                "answered within 60 s",
                verdict(ok),
            )
        }
        None => rep.note(format!(
            "{name}: no code was issued before the flood, so no reporter latency"
        )),
    }
    Ok(())
}
