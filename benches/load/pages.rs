//! The reporter pages against the JSON API on the same server (issue 8): form submissions per
//! second against JSON submissions per second, and the bytes of each page.
//!
//! One server with a full stock of codes, so neither path waits for Argon2: what is measured is
//! the cost of the door (form decoding, template rendering, the resubmission map), not of the
//! key derivation behind it. The cost compared is the server's CPU time per submission (what
//! the HTML path adds: form decoding, template rendering, the resubmission map); wall-time rates
//! are shown too, but on this machine they are set mostly by the durable commit's fsync, which
//! both paths share. Rounds run in ABBA order, so drift in the machine's load hits both. A form submission here is the POST only, with a fresh form token each time (the
//! server does not require the token to have been issued by a GET), as a JSON submission is
//! the POST only. Target: the HTML path costs at most 20% more.

use super::http::{TIP, client};
use super::report::{Report, verdict};
use super::server::Server;
use super::settings::Settings;
use super::{STOCK, SUBMIT_CONCURRENCY};
use anyhow::{Result, bail};
use bisik::web::form::encode_form;
use std::time::{Duration, Instant};

/// Submissions per round; the pause before each round refills what the last one drew.
const PER_ROUND: usize = STOCK / 5;
/// The pause before each round: the stock refills (PER_ROUND Argon2id over the pool) and the
/// refill is idle again when the round starts.
const SETTLE: Duration = Duration::from_secs(12);

/// CPU time the process `pid` has run, in nanoseconds: the sum of its threads' run time from
/// /proc/PID/task/*/schedstat. Clock ticks (10 ms) are far too coarse for a submission that costs
/// about a millisecond. A thread that exits mid-round would take its time with it; the server's
/// HTTP and database threads live as long as the process, and no Argon2 thread runs in a round.
fn cpu_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

async fn round(base: &str, form: bool) -> Result<(usize, Duration)> {
    let c = client(SUBMIT_CONCURRENCY);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..SUBMIT_CONCURRENCY {
        let (c, base) = (c.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for _ in (w..PER_ROUND).step_by(SUBMIT_CONCURRENCY) {
                let r = if form {
                    let mut t = [0u8; 16];
                    bisik::crypto::primitives::os_fill(&mut t);
                    let token = hex::encode(t);
                    c.post(format!("{base}/lapor"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("sec-fetch-site", "same-origin")
                        .body(encode_form([
                            ("token", token.as_str()),
                            ("category", "peredaran"),
                            ("area", "kandangan"),
                            ("location", "Gang belakang pasar, rumah cat hijau"),
                            ("when", "Hampir setiap malam, jam 22.00-02.00"),
                            ("people", ""),
                            ("vehicles", ""),
                            ("description", TIP),
                            ("url", ""),
                        ]))
                        .send()
                        .await
                } else {
                    c.post(format!("{base}/api/v1/reports"))
                        .json(&serde_json::json!({
                            "category": "peredaran",
                            "area": "kandangan",
                            "description": TIP,
                            "location": "Gang belakang pasar, rumah cat hijau",
                            "when": "Hampir setiap malam, jam 22.00-02.00",
                        }))
                        .send()
                        .await
                };
                if let Ok(r) = r {
                    let good = r.status().is_success();
                    let body = r.bytes().await.unwrap_or_default();
                    if good && !body.is_empty() {
                        ok += 1;
                    }
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await?;
    }
    Ok((ok, start.elapsed()))
}

/// Runs the comparison and the page sizes on a fresh server and adds the rows.
pub async fn pages(
    s: &Settings,
    rep: &mut Report,
    name: &str,
    url: Option<String>,
    pool: usize,
) -> Result<()> {
    let srv = Server::start(&s.tmp, url.as_deref(), pool, STOCK, 32)?;
    let c = client(SUBMIT_CONCURRENCY);
    srv.wait_stock(&c, STOCK, Duration::from_secs(300)).await?;
    let base = srv.intake.clone();
    let pid = srv.pid().to_string();
    // (submissions, wall time, server CPU ticks) per path. ABBA order twice (JSON, form, form,
    // JSON, ...), so a drift in the machine's load hits both paths alike, and a pause after each
    // round lets the stock refill while nothing is measured: a refill Argon2id (hundreds of
    // milliseconds of CPU) running into a round would swamp the few milliseconds a submission
    // costs.
    let mut tally = [(0usize, Duration::ZERO, 0u64); 2];
    for form in [false, true, true, false, false, true, true, false] {
        tokio::time::sleep(SETTLE).await;
        let before = cpu_ns(&pid);
        let (n, t) = round(&base, form).await?;
        let cpu = cpu_ns(&pid).saturating_sub(before);
        let e = &mut tally[usize::from(form)];
        *e = (e.0 + n, e.1 + t, e.2 + cpu);
    }
    let [json, form] = tally;
    if json.0 < 4 * PER_ROUND || form.0 < 4 * PER_ROUND {
        bail!(
            "too few submissions went through: JSON {}, form {}",
            json.0,
            form.0
        );
    }
    let rate = |(n, t, _): (usize, Duration, u64)| n as f64 / t.as_secs_f64();
    let cpu_ms = |(n, _, ns): (usize, Duration, u64)| ns as f64 / 1e6 / n as f64;
    let (j, f) = (rate(json), rate(form));
    let (jc, fc) = (cpu_ms(json), cpu_ms(form));
    let extra = (fc / jc - 1.0) * 100.0;
    rep.add(
        name,
        &format!("form vs JSON submissions, stock full, concurrency {SUBMIT_CONCURRENCY}"),
        format!(
            "server CPU per submission: form {fc:.2} ms, JSON {jc:.2} ms, so the form costs {extra:+.0}%; rate form {f:.1}/s ({} in {:.1} s), JSON {j:.1}/s ({} in {:.1} s), {:+.0}% in wall time",
            form.0,
            form.1.as_secs_f64(),
            json.0,
            json.1.as_secs_f64(),
            (j / f - 1.0) * 100.0
        ),
        "≤ 20% extra CPU",
        verdict(extra <= 20.0),
    );
    let mut sizes = Vec::new();
    let mut largest = 0;
    for (path, label) in [
        ("/", "home"),
        ("/lapor", "report form"),
        ("/cek", "code entry"),
        ("/selesai", "done"),
        ("/static/bisik.css", "stylesheet"),
    ] {
        for q in ["", "?lang=en"] {
            let r = c.get(format!("{base}{path}{q}")).send().await?;
            let n = r.bytes().await?.len();
            largest = largest.max(n);
            sizes.push(format!("{label}{q} {n} B"));
        }
    }
    rep.add(
        name,
        "bytes per page (GET pages; the session pages are measured by the tests)",
        sizes.join(", "),
        "≤ 30 KB each",
        verdict(largest <= 30 * 1024),
    );
    drop(srv);
    Ok(())
}
