//! Follow-ups with valid codes, against the Argon2 bound of the pool (the issue's target) and of
//! the follow-up share (the design's ceiling); and server 3, with a pool of 3, which shows how
//! follow-ups scale with the share when the machine's default pool is 2.

use super::SUBMIT_CONCURRENCY;
use super::cpu::CpuMeter;
use super::http::{MAX_REQUESTS, drive, followup, submissions};
use super::postgres::{Pg, fresh_url};
use super::reference::t_argon2_now;
use super::report::{Report, ms, pct_of, verdict_cpu};
use super::run::Phase;
use super::server::{Server, finish};
use anyhow::{Result, bail};
use std::sync::Arc;
use std::time::Duration;

/// Follow-ups with the valid `codes` on `srv`, whose pool is `pool`.
pub async fn followups(
    phase: Phase<'_>,
    rep: &mut Report,
    srv: &Server,
    codes: &[String],
    pool: usize,
) -> Result<()> {
    let Phase { s, refs, name, c } = phase;
    if codes.is_empty() {
        bail!("no valid codes to follow up");
    }
    // Without an alarm the follow-up share is the whole pool (submissions still go first).
    let share = pool;
    let conc = 2 * share;
    let codes: Arc<Vec<String>> = Arc::new(codes.to_vec());
    let base = srv.intake.clone();
    let cc = c.clone();
    // Fresh references: t with `pool` at once (the issue's bound) and with `share` at once (all
    // that follow-ups may run).
    let (_, t_pool) = t_argon2_now(refs, pool).await;
    let (_, t_share) = if share == pool {
        (t_pool, t_pool)
    } else {
        t_argon2_now(refs, share).await
    };
    let before = srv.metrics(c).await?;
    let cpu = CpuMeter::start(srv.pid());
    let mut t = drive(conc, MAX_REQUESTS, s.secs, 200, Duration::ZERO, move |n| {
        followup(cc.clone(), base.clone(), codes[n % codes.len()].clone())
    })
    .await;
    let cpu = cpu.stop(t.ok());
    let after = srv.metrics(c).await?;
    let failed = after
        .get("bisik_followups_failed_total")
        .copied()
        .unwrap_or(0.0)
        - before
            .get("bisik_followups_failed_total")
            .copied()
            .unwrap_or(0.0);
    let rate = t.rate();
    // The issue's literal target: pool ÷ t(pool at once).
    let issue_bound = pool as f64 / t_pool.as_secs_f64();
    // What the design permits follow-ups: `share` derivations at once.
    let share_bound = share as f64 / t_share.as_secs_f64();
    rep.add(
        name,
        &format!(
            "follow-ups, valid codes (pool {pool}, share {share}, concurrency {conc}, {:.0} s)",
            t.elapsed.as_secs_f64()
        ),
        format!(
            "{rate:.2}/s = {} of pool/t ({pool}/{} = {issue_bound:.2}/s), {} of share/t ({share}/{} = {share_bound:.2}/s); {}; {}; {cpu}{}",
            pct_of(rate, issue_bound),
            ms(t_pool),
            pct_of(rate, share_bound),
            ms(t_share),
            t.pcts(),
            t.status_text(),
            if failed > 0.0 {
                format!("; {failed} valid codes NOT found")
            } else {
                String::new()
            }
        ),
        "≥ 90% of pool/t (issue); share/t is the design's ceiling",
        &format!(
            "pool/t {}; share/t {}",
            verdict_cpu(rate >= 0.9 * issue_bound, &cpu),
            verdict_cpu(rate >= 0.9 * share_bound, &cpu)
        ),
    );
    Ok(())
}

/// Server 3: pool 3 (follow-up share 3), to show how follow-ups scale with the share.
pub async fn pool3(phase: Phase<'_>, rep: &mut Report, pg: &mut Option<&mut Pg>) -> Result<()> {
    let Phase { s, name, c, .. } = phase;
    let url = fresh_url(pg, "pool3").await?;
    let mut s3 = Server::start(&s.tmp, url.as_deref(), 3, 0, 32)?;
    let mut t = submissions(c, &s3.intake, SUBMIT_CONCURRENCY, 40, 60.0).await;
    let codes = std::mem::take(&mut t.codes);
    if codes.is_empty() {
        bail!("pool-3 server issued no codes: {}", t.status_text());
    }
    followups(phase, rep, &s3, &codes, 3).await?;
    finish(rep, name, "pool-3 server", &mut s3);
    Ok(())
}
