//! Server 1, with a stock of [`STOCK`] codes: the bare-insert references, idle memory with the
//! stock full and after refills (growth would be a leak), submissions while the stock lasts
//! against the bare insert rate (and, as a diagnostic, one at a time), then follow-ups with the
//! codes it issued.

use super::cpu::CpuMeter;
use super::followups::followups;
use super::http::submissions;
use super::postgres::{Pg, fresh_url};
use super::reference::{BARE_ROW_BYTES, bare_insert, bytes_per_report};
use super::report::{Report, mb, pct_of, verdict, verdict_cpu};
use super::run::Phase;
use super::server::{Server, finish};
use super::{IDLE_RSS_TARGET_KIB, STOCK, SUBMIT_CONCURRENCY};
use anyhow::Result;
use std::time::Duration;

/// The bare-insert references and the stock server (server 1): every row but the flood's.
pub async fn references_and_stock_server(
    phase: Phase<'_>,
    rep: &mut Report,
    pg: &mut Option<&mut Pg>,
) -> Result<()> {
    let Phase { s, refs, name, c } = phase;
    let pool = refs.pool;

    // Reference: bare insert + commit at the submission concurrency.
    let bare_dir = tempfile::Builder::new().prefix("bisik-bare-").tempdir_in({
        std::fs::create_dir_all(&s.tmp)?;
        &s.tmp
    })?;
    let bare_url = match fresh_url(pg, "bare").await? {
        Some(u) => u,
        None => format!(
            "sqlite://{}?mode=rwc",
            bare_dir.path().join("bare.db").display()
        ),
    };
    let (bare_rate, bare_n, bare_p50) =
        bare_insert(&bare_url, SUBMIT_CONCURRENCY, 5.0, false).await?;
    rep.add(
        name,
        &format!("bare INSERT+COMMIT, {BARE_ROW_BYTES} B rows, concurrency {SUBMIT_CONCURRENCY}"),
        format!("{bare_rate:.0}/s ({bare_n} rows; {bare_p50})"),
        "reference",
        "reference",
    );
    // Diagnostic: the same loop with a submission's four rows per transaction.
    let (shaped_rate, shaped_n, shaped_p50) =
        bare_insert(&bare_url, SUBMIT_CONCURRENCY, 5.0, true).await?;
    drop(bare_dir);
    rep.add(
        name,
        &format!("bare 4-row transaction (a submission's rows), concurrency {SUBMIT_CONCURRENCY}"),
        format!("{shaped_rate:.0}/s ({shaped_n} transactions; {shaped_p50})"),
        "diagnostic",
        "reference",
    );

    // --- Server 1: stock of STOCK codes.
    let url = fresh_url(pg, "stock").await?;
    let mut s1 = Server::start(&s.tmp, url.as_deref(), pool, STOCK, 32)?;
    let rss_boot = s1.rss_kib();
    let fill = s1.wait_stock(c, STOCK, Duration::from_secs(300)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_idle, hwm_fill) = s1.rss().unwrap_or_default();
    eprintln!(
        "stock of {STOCK} filled in {:.1} s; RSS at boot (refill running) {}, idle {}, peak {}",
        fill.as_secs_f64(),
        mb(rss_boot),
        mb(rss_idle),
        mb(hwm_fill)
    );
    rep.add(
        name,
        &format!("idle RSS, stock of {STOCK} full"),
        format!("{} (peak while filling {})", mb(rss_idle), mb(hwm_fill)),
        "< 30 MB",
        verdict(rss_idle < IDLE_RSS_TARGET_KIB),
    );

    let before = s1.metrics(c).await?;
    let cpu = CpuMeter::start(s1.pid());
    let mut t = submissions(c, &s1.intake, SUBMIT_CONCURRENCY, STOCK, 120.0).await;
    let cpu = cpu.stop(t.ok());
    let after = s1.metrics(c).await?;
    let misses = after
        .get("bisik_stock_misses_total")
        .copied()
        .unwrap_or(0.0)
        - before
            .get("bisik_stock_misses_total")
            .copied()
            .unwrap_or(0.0);
    let rate = t.rate();
    rep.add(
        name,
        &format!("submissions from stock ({STOCK}, concurrency {SUBMIT_CONCURRENCY})"),
        format!(
            "{rate:.1}/s = {} of bare; {}; {}; {cpu}{}",
            pct_of(rate, bare_rate),
            t.pcts(),
            t.status_text(),
            if misses > 0.0 {
                format!("; {misses} stock misses")
            } else {
                String::new()
            }
        ),
        "≥ 50% of bare insert rate",
        &verdict_cpu(rate >= 0.5 * bare_rate && t.ok() == STOCK, &cpu),
    );
    let codes = std::mem::take(&mut t.codes);

    if let Some(path) = url
        .clone()
        .or_else(|| Some(format!("sqlite://{}", s1.sqlite_path().display())))
    {
        match bytes_per_report(&path).await {
            Ok((b, n)) => rep.note(format!(
                "{name}: a stored submission is about {b:.0} bytes of column data over 4 rows ({n} reports); the bare loop writes {BARE_ROW_BYTES} B in one row"
            )),
            Err(e) => rep.note(format!("{name}: could not measure bytes per report: {e}")),
        }
    }

    // Let the stock refill, then measure idle memory again: growth here would be a leak.
    let refill = s1.wait_stock(c, STOCK, Duration::from_secs(300)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_idle2, _) = s1.rss().unwrap_or_default();
    rep.add(
        name,
        &format!("idle RSS after {STOCK} submissions and refill"),
        format!(
            "{} (refill took {:.0} s)",
            mb(rss_idle2),
            refill.as_secs_f64()
        ),
        "< 30 MB",
        verdict(rss_idle2 < IDLE_RSS_TARGET_KIB),
    );

    // Diagnostic: the same burst one request at a time, which separates the database's lock
    // contention from the per-request cost; then idle memory once more.
    let cpu = CpuMeter::start(s1.pid());
    let mut t1 = submissions(c, &s1.intake, 1, STOCK, 120.0).await;
    let cpu = cpu.stop(t1.ok());
    rep.add(
        name,
        &format!("diagnostic: submissions from stock at concurrency 1 ({STOCK})"),
        format!(
            "{:.1}/s = {} of bare; {}; {}; {cpu}",
            t1.rate(),
            pct_of(t1.rate(), bare_rate),
            t1.pcts(),
            t1.status_text()
        ),
        "-",
        "diagnostic",
    );
    let mut codes = codes;
    codes.append(&mut t1.codes);
    s1.wait_stock(c, STOCK, Duration::from_secs(300)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle3 = s1.rss_kib();
    rep.add(
        name,
        &format!("idle RSS after {} submissions and refills", 2 * STOCK),
        mb(rss_idle3),
        "< 30 MB",
        verdict(rss_idle3 < IDLE_RSS_TARGET_KIB),
    );

    // Follow-ups with valid codes at 2 × share.
    followups(phase, rep, &s1, &codes, pool).await?;
    finish(rep, name, "stock server", &mut s1);
    drop(s1);
    Ok(())
}
