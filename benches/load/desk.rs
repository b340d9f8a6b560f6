//! Desk logins: latency against the bound of the staff KDF pool, and resident memory under a
//! login flood (each staff Argon2id takes `desk.kdf_mib`, 256 MiB by default, so the peak must
//! stay within pool × 256 MiB plus the idle process and a margin).
//!
//! For each pool size in `BISIK_BENCH_DESK_POOLS` (default `1,2`) it starts `bisik serve` on
//! SQLite with `[desk] kdf_pool = N` at the default 256 MiB, measures one login at a time
//! (median of 8), then floods the login form with `FLOOD` concurrent clients for
//! `BISIK_BENCH_SECONDS` × 3/4 (`BISIK_BENCH_DESK=0` leaves all of this out) and reports p50/p95 latency, how many got 503 (queue full), and
//! the peak RSS (VmHWM). Every attempt uses a fresh unknown name: an unknown name runs the same
//! single Argon2id as a real account (a dummy one), and is never held by an account's back-off.

use super::report::{Report, percentile, verdict};
use super::server::serve_command;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Concurrent clients in the login flood.
const FLOOD: usize = 16;
/// Margin over pool × Argon2 memory and the idle RSS, in KiB.
const MARGIN_KIB: u64 = 64 * 1024;

struct Desk {
    child: Child,
    _dir: tempfile::TempDir,
    url: String,
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Desk {
    fn start(tmp: &std::path::Path, pool: usize) -> Result<Desk> {
        std::fs::create_dir_all(tmp)?;
        let dir = tempfile::Builder::new()
            .prefix("bisik-desk-load-")
            .tempdir_in(tmp)?;
        let cfg = dir.path().join("bisik.toml");
        std::fs::write(
            &cfg,
            format!("[desk]\nkdf_pool = {pool}\nkdf_queue = 64\nkdf_wait_secs = 60\n"),
        )?;
        let mut cmd = serve_command(dir.path());
        cmd.env("BISIK_CONFIG", &cfg)
            .env("BISIK_LOG", "info")
            .env("BISIK_INTAKE_LISTEN", "127.0.0.1:0")
            .env("BISIK_DESK_LISTEN", "127.0.0.1:0")
            // No intake stock refill: its 64 MiB Argon2s would blur the desk's peak.
            .env("BISIK_STOCK_SIZE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("spawning bisik serve")?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let marker = "desk listening on http://";
                if let Some(i) = line.find(marker) {
                    let _ = tx.send(line[i + marker.len()..].trim().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .context("the desk did not report its listener")?;
        Ok(Desk {
            child,
            _dir: dir,
            url: format!("http://{addr}"),
        })
    }

    fn hwm_kib(&self) -> u64 {
        status_field(self.child.id(), "VmHWM:")
    }

    fn rss_kib(&self) -> u64 {
        status_field(self.child.id(), "VmRSS:")
    }
}

fn status_field(pid: u32, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn attempt(c: &reqwest::Client, url: &str, n: usize) -> Result<(u16, Duration)> {
    let t = Instant::now();
    let r = c
        .post(format!("{url}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=bench{n}&password=bukan-sandi-ini&totp=000000"
        ))
        .send()
        .await?;
    let s = r.status().as_u16();
    let _ = r.bytes().await;
    Ok((s, t.elapsed()))
}

/// Runs the desk measurements and adds their rows to `rep`.
pub async fn run(rep: &mut Report, tmp: &std::path::Path, secs: f64) -> Result<()> {
    let pools: Vec<usize> = std::env::var("BISIK_BENCH_DESK_POOLS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()?;
    for pool in pools {
        eprintln!("desk: pool {pool} at 256 MiB");
        let desk = Desk::start(tmp, pool)?;
        let idle = desk.rss_kib();
        let mut one = Vec::new();
        for n in 0..8 {
            let (s, d) = attempt(&c, &desk.url, n).await?;
            if s != 200 {
                bail!("a single login answered {s}");
            }
            one.push(d);
        }
        let single = percentile(&mut one, 50.0);
        rep.add(
            "SQLite",
            &format!("desk login, one at a time, pool {pool} (median of 8)"),
            format!("{:.0} ms", single.as_secs_f64() * 1e3),
            "dominated by one 256 MiB Argon2id",
            "reference",
        );
        let end = Instant::now() + Duration::from_secs_f64(secs * 0.75);
        let lat = Arc::new(Mutex::new(Vec::new()));
        let busy = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicUsize::new(1000));
        let mut tasks = Vec::new();
        for _ in 0..FLOOD {
            let (c, url, lat, busy, next) = (
                c.clone(),
                desk.url.clone(),
                lat.clone(),
                busy.clone(),
                next.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while Instant::now() < end {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    match attempt(&c, &url, n).await {
                        Ok((200, d)) => lat.lock().expect("lat").push(d),
                        Ok((503, _)) => {
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let mut l = lat.lock().expect("lat").clone();
        let done = l.len();
        let (p50, p95) = (percentile(&mut l, 50.0), percentile(&mut l, 95.0));
        rep.add(
            "SQLite",
            &format!("desk login flood ({FLOOD} clients), pool {pool}"),
            format!(
                "{done} answered, p50 {:.0} ms, p95 {:.0} ms, {} refused with 503",
                p50.as_secs_f64() * 1e3,
                p95.as_secs_f64() * 1e3,
                busy.load(Ordering::Relaxed)
            ),
            &format!("about {pool} / t_argon2(256 MiB) per second"),
            "reference",
        );
        let hwm = desk.hwm_kib();
        let bound = idle + pool as u64 * 256 * 1024 + MARGIN_KIB;
        rep.add(
            "SQLite",
            &format!("desk peak RSS under the flood, pool {pool}"),
            format!("{} MiB (idle {} MiB)", hwm / 1024, idle / 1024),
            &format!("<= idle + {pool} x 256 MiB + 64 MiB = {} MiB", bound / 1024),
            verdict(hwm <= bound),
        );
    }
    Ok(())
}
