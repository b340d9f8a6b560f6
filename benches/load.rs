//! Load driver for the intake: `cargo bench --bench load` (release profile, no libtest harness).
//!
//! For each backend (SQLite, then PostgreSQL when reachable; `BISIK_BENCH_BACKENDS=sqlite`
//! restricts) it starts the real `bisik serve` binary in a fresh directory with a fresh database,
//! drives it over loopback only, reads `/metrics` and `/proc/PID/status`, and prints a Markdown
//! table of results on stdout (progress goes to stderr). docs/BENCHMARKS.md explains the targets.
//!
//! Reference points are measured in-process, so every rate is compared with what this machine
//! can do at that moment:
//! * `t_argon2(n)`: median time of one Argon2id v1 code derivation while `n` run at once.
//! * the bare insert rate: single-row INSERT + COMMIT of a row as large as a whole submission,
//!   on a fresh database of the same kind, at the submission test's concurrency (and, as a
//!   diagnostic, the same loop writing a submission's four rows per transaction).
//!
//! Every loop is bounded both in count and in time, and each server is killed (by its own pid)
//! when its phase ends, also on error.
//!
//! Knobs (environment): `BISIK_BENCH_BACKENDS` (`sqlite,postgres`), `BISIK_BENCH_PG_URL`
//! (`postgres://postgres@127.0.0.1:5432/test`; a database is created next to it per server and
//! dropped afterwards), `BISIK_BENCH_SECONDS` (20; the flood runs three quarters of it),
//! `BISIK_BENCH_POOL` (Argon2 pool size; default = CPUs, at least 2, as the server's default),
//! `BISIK_BENCH_ONLY` (a comma list of `stock`, `flood`, `pool3`, `pages`, `desk`: only those parts),
//! `BISIK_BENCH_TMPDIR` (server directories and SQLite files; default `CARGO_TARGET_TMPDIR`).
//!
//! The exit code is 1 when a backend's run was aborted by an error, 0 otherwise: a missed
//! target is a result, not a failure of the driver.

use anyhow::{Context, Result, anyhow, bail};
use bisik::crypto::code::FollowupCode;
use bisik::crypto::kdf::derive_code_secrets;
use bisik::crypto::primitives::{SecretKey32, os_fill};
use bisik::store::{Schema, Store};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

#[path = "load/pages.rs"]
mod pages;
#[path = "load/reporter.rs"]
mod reporter;

#[path = "load/desk.rs"]
mod desk;

/// Concurrency of every submission test (the issue's "concurrency 8").
const SUBMIT_CONCURRENCY: usize = 8;
/// Codes in stock for the "while the stock lasts" test.
const STOCK: usize = 200;
/// Concurrent wrong-code clients in the flood.
const FLOOD_CLIENTS: usize = 300;
/// Submitters running during the flood.
const FLOOD_SUBMITTERS: usize = 2;
/// Bytes per row in the bare insert loop; a submission writes about this much (measured and
/// printed from the server's own database after the stock test).
const BARE_ROW_BYTES: usize = 2450;
/// Hard cap on requests in any one phase, whatever the clock says.
const MAX_REQUESTS: usize = 50_000;
/// Pseudo-status for a 503 that lacks Retry-After (a bug the driver reports).
const NO_RETRY_AFTER: u16 = 5030;
/// Target for idle RSS, in KiB (30 MB).
const IDLE_RSS_TARGET_KIB: u64 = 30_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run());
    std::process::exit(code);
}

// ---------------------------------------------------------------------------------------------
// Results table

struct Row {
    backend: String,
    what: String,
    result: String,
    target: String,
    verdict: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, backend: &str, what: &str, result: String, target: &str, verdict: &str) {
        eprintln!("  -> {what}: {result} [{target}] {verdict}");
        self.rows.push(Row {
            backend: backend.into(),
            what: what.into(),
            result,
            target: target.into(),
            verdict: verdict.into(),
        });
    }
    fn note(&mut self, s: String) {
        eprintln!("  note: {s}");
        self.notes.push(s);
    }
    fn print(&self) {
        println!();
        println!("| Backend | Measurement | Result | Target / reference | Verdict |");
        println!("|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} |",
                r.backend, r.what, r.result, r.target, r.verdict
            );
        }
        if !self.notes.is_empty() {
            println!();
            for n in &self.notes {
                println!("- {n}");
            }
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
    backends: Vec<String>,
    pg_admin_url: String,
    secs: f64,
    pool: usize,
    tmp: PathBuf,
    /// `BISIK_BENCH_ONLY=flood,pages,...`: only the named parts (`stock`, `flood`, `pool3`,
    /// `pages`, `desk`), for a re-run of some rows when the machine is quiet. Unset: all.
    only: Option<Vec<String>>,
}

impl Settings {
    /// Whether the part named `part` runs (see `only`).
    fn runs(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|p| p == part))
    }
}

fn settings() -> Settings {
    let backends = std::env::var("BISIK_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let secs = std::env::var("BISIK_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| (1.0..=600.0).contains(s))
        .unwrap_or(20.0);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let pool = std::env::var("BISIK_BENCH_POOL")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|p| (2..=64).contains(p))
        .unwrap_or(cpus.max(2));
    let tmp = std::env::var_os("BISIK_BENCH_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    Settings {
        backends,
        pg_admin_url: std::env::var("BISIK_BENCH_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        secs,
        pool,
        tmp,
        only: std::env::var("BISIK_BENCH_ONLY")
            .ok()
            .map(|v| v.split(',').map(|p| p.trim().to_lowercase()).collect()),
    }
}

// ---------------------------------------------------------------------------------------------
// Reference: Argon2id

/// Median time of one v1 code derivation while `threads` run at once, and the throughput those
/// threads achieved together (derivations per second of wall time). With more threads than
/// cores the two disagree: time slicing spreads the durations, and the median understates the
/// mean.
fn argon2_median(threads: usize, per_thread: usize) -> (Duration, f64) {
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

// ---------------------------------------------------------------------------------------------
// Reference: bare insert + commit

async fn bare_insert(
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

/// Argon2 reference for a phase: (measured just before it, the one used for the bound). The
/// bound uses the faster of that and the start-of-run measurement, so a busy machine cannot
/// lower the bar; the CPU columns then show why a phase fell short.
async fn t_argon2_now(refs: &Refs, n: usize) -> (Duration, Duration) {
    let (now, _) = tokio::task::spawn_blocking(move || argon2_median(n, 4))
        .await
        .expect("argon2 reference");
    let used = refs.t.get(&n).map_or(now, |start| now.min(*start));
    (now, used)
}

// ---------------------------------------------------------------------------------------------
// CPU accounting, to tell a slow server from a busy machine.

/// Clock ticks per second of /proc times (USER_HZ; 100 on every Linux x86-64 and arm64 build).
const TICKS: f64 = 100.0;

fn proc_ticks(pid: &str) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = s.rsplit_once(')') else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime); `rest` starts at field 3.
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// (busy in processes, busy in interrupt and softirq context, total) ticks over all CPUs.
/// Loopback TCP is processed in softirq context, which no process is charged for.
fn machine_ticks() -> (u64, u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = s.lines().next() else {
        return (0, 0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let f = |i: usize| v.get(i).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    let irq = f(5) + f(6);
    (total - f(3) - f(4) - irq, irq, total)
}

/// CPU ticks of every PostgreSQL process: on this machine the database server is part of the
/// system under test, not a neighbour.
fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.bytes().all(|b| b.is_ascii_digit()).then_some(name)
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| proc_ticks(&pid))
        .sum()
}

struct CpuMeter {
    pid: String,
    server: u64,
    postgres: u64,
    me: u64,
    machine: (u64, u64, u64),
    at: Instant,
}

impl CpuMeter {
    fn start(pid: u32) -> CpuMeter {
        let pid = pid.to_string();
        CpuMeter {
            server: proc_ticks(&pid),
            postgres: postgres_ticks(),
            me: proc_ticks("self"),
            machine: machine_ticks(),
            at: Instant::now(),
            pid,
        }
    }

    /// "server X cores (Y ms CPU/op), postgres P, load driver Z, other processes W" over the
    /// interval. (PostgreSQL backends that exit meanwhile would count as "others".)
    fn stop(&self, ops: usize) -> Cpu {
        let secs = self.at.elapsed().as_secs_f64().max(1e-9);
        let server = (proc_ticks(&self.pid) - self.server) as f64 / TICKS;
        let pg = postgres_ticks().saturating_sub(self.postgres) as f64 / TICKS;
        let me = (proc_ticks("self").saturating_sub(self.me)) as f64 / TICKS;
        let (b, irq, t) = machine_ticks();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        let span = (t - self.machine.2).max(1) as f64;
        let busy = (b - self.machine.0) as f64 / span * cpus;
        let irq = (irq - self.machine.1) as f64 / span * cpus;
        let others = (busy - (server + pg + me) / secs).max(0.0);
        Cpu {
            text: format!(
                "CPU: server {:.2} cores ({:.1} ms/op), postgres {:.2}, driver {:.2}, kernel irq {:.2}, others {:.2} of {cpus:.0}",
                server / secs,
                1000.0 * server / (ops.max(1) as f64),
                pg / secs,
                me / secs,
                irq,
                others
            ),
            others,
        }
    }
}

/// CPU use over a phase.
struct Cpu {
    text: String,
    /// Cores used by processes other than the server and this driver.
    others: f64,
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Verdict, flagged when other processes took a noticeable share of the machine meanwhile.
fn verdict_cpu(ok: bool, cpu: &Cpu) -> String {
    if cpu.others > 0.2 {
        format!(
            "{} (noisy: other processes used {:.1} cores)",
            verdict(ok),
            cpu.others
        )
    } else {
        verdict(ok).to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL databases: one fresh database per server, dropped afterwards.

struct Pg {
    admin: String,
    base: String,
    made: Vec<String>,
}

impl Pg {
    async fn reachable(admin: &str) -> Result<Pg> {
        let mut c = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::postgres::PgConnection::connect(admin),
        )
        .await
        .map_err(|_| anyhow!("timed out connecting to {admin}"))??;
        sqlx::query("SELECT 1").execute(&mut c).await?;
        c.close().await?;
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .ok_or_else(|| anyhow!("BISIK_BENCH_PG_URL has no database path"))?;
        Ok(Pg {
            admin: admin.into(),
            base,
            made: Vec::new(),
        })
    }

    async fn fresh(&mut self, label: &str) -> Result<String> {
        let name = format!(
            "bisik_bench_{}_{}_{}",
            std::process::id(),
            label,
            self.made.len()
        );
        let mut c = sqlx::postgres::PgConnection::connect(&self.admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut c)
        .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await?;
        c.close().await?;
        self.made.push(name.clone());
        Ok(format!("{}/{name}", self.base))
    }

    async fn drop_all(&mut self) {
        let Ok(mut c) = sqlx::postgres::PgConnection::connect(&self.admin).await else {
            eprintln!(
                "could not reconnect to drop bench databases {:?}",
                self.made
            );
            return;
        };
        for name in self.made.drain(..) {
            if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut c)
            .await
            {
                eprintln!("could not drop {name}: {e}");
            }
        }
        let _ = c.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test

struct Server {
    child: Child,
    dir: tempfile::TempDir,
    intake: String,
    metrics: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(
        tmp: &Path,
        db_url: Option<&str>,
        pool: usize,
        stock: usize,
        queue: usize,
    ) -> Result<Server> {
        std::fs::create_dir_all(tmp)?;
        let dir = tempfile::Builder::new()
            .prefix("bisik-load-")
            .tempdir_in(tmp)?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bisik"));
        cmd.arg("serve").current_dir(dir.path());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("BISIK_") || k == "DATABASE_URL" {
                cmd.env_remove(k);
            }
        }
        // info, not warn: the listening lines, which carry the ports chosen by the OS, are
        // logged at info. Bisik logs nothing per request at info (I2), so this costs nothing.
        cmd.env("BISIK_LOG", "info")
            .env("BISIK_INTAKE_LISTEN", "127.0.0.1:0")
            .env("BISIK_DESK_LISTEN", "127.0.0.1:0")
            .env("BISIK_METRICS_LISTEN", "127.0.0.1:0")
            .env("BISIK_KDF_POOL", pool.to_string())
            .env("BISIK_STOCK_SIZE", stock.to_string())
            .env("BISIK_FOLLOWUP_QUEUE", queue.to_string());
        if let Some(u) = db_url {
            cmd.env("DATABASE_URL", u);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("spawning bisik serve")?;
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<(bool, String)>();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    for (intake, marker) in [
                        (true, "intake listening on http://"),
                        (false, "metrics listening on http://"),
                    ] {
                        if let Some(i) = line.find(marker) {
                            let addr = line[i + marker.len()..]
                                .trim()
                                .trim_end_matches("/metrics")
                                .to_owned();
                            let _ = tx.send((intake, addr));
                        }
                    }
                    let mut l = log.lock().expect("log lock");
                    if l.len() < 10_000 {
                        l.push(line);
                    }
                }
            });
        }
        let mut server = Server {
            child,
            dir,
            intake: String::new(),
            metrics: String::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while server.intake.is_empty() || server.metrics.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(500))) {
                Ok((true, a)) => server.intake = format!("http://{a}"),
                Ok((false, a)) => server.metrics = format!("http://{a}/metrics"),
                Err(_) => {
                    if let Some(st) = server.child.try_wait()? {
                        bail!(
                            "bisik serve exited with {st} before listening:\n{}",
                            server.log.lock().expect("log").join("\n")
                        );
                    }
                    if left.is_zero() {
                        bail!("bisik serve did not report its listeners within 90 s");
                    }
                }
            }
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in KiB.
    fn rss(&self) -> Option<(u64, u64)> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    fn rss_kib(&self) -> u64 {
        self.rss().map(|r| r.0).unwrap_or(0)
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    async fn metrics(&self, c: &reqwest::Client) -> Result<BTreeMap<String, f64>> {
        // The listener wants the bearer token that the server made in its keys/.
        let token = std::fs::read_to_string(self.dir.path().join("keys/metrics.token"))?;
        let text = c
            .get(&self.metrics)
            .bearer_auth(token.trim())
            .send()
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_owned(), v.trim().parse().ok()?))
            })
            .collect())
    }

    async fn metric(&self, c: &reqwest::Client, name: &str) -> Result<f64> {
        self.metrics(c)
            .await?
            .get(name)
            .copied()
            .ok_or_else(|| anyhow!("metric {name} missing"))
    }

    /// Waits (bounded) until the stock is at least half full: since issue 5 the metrics give
    /// the stock only in coarse steps (0 empty, 1 under half, 2 half or more), so `want` is
    /// reached at best approximately.
    async fn wait_stock(
        &self,
        c: &reqwest::Client,
        want: usize,
        limit: Duration,
    ) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if self.metric(c, "bisik_stock_step").await? >= 2.0 || want == 0 {
                return Ok(start.elapsed());
            }
            if start.elapsed() > limit {
                bail!("stock did not reach {want} within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Log lines at WARN or ERROR, and any panic.
    fn problems(&self) -> Vec<String> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panicked"))
            .cloned()
            .collect()
    }

    fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("data").join("bisik.db")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child, by its pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Load generation

fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(conns)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

struct Reply {
    /// HTTP status, or None for a transport error.
    status: Option<u16>,
    lat: Duration,
    code: Option<String>,
}

#[derive(Default)]
struct Tally {
    lat_ok: Vec<Duration>,
    statuses: BTreeMap<String, u64>,
    codes: Vec<String>,
    elapsed: Duration,
}

impl Tally {
    fn ok(&self) -> usize {
        self.lat_ok.len()
    }
    fn total(&self) -> u64 {
        self.statuses.values().sum()
    }
    fn rate(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn pcts(&mut self) -> String {
        let p50 = percentile(&mut self.lat_ok, 50.0);
        let p95 = percentile(&mut self.lat_ok, 95.0);
        let p99 = percentile(&mut self.lat_ok, 99.0);
        format!("p50 {} / p95 {} / p99 {}", ms(p50), ms(p95), ms(p99))
    }
    fn status_text(&self) -> String {
        self.statuses
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs `op` on `concurrency` workers until `budget` requests were started or `secs` passed.
/// A worker that receives 503 waits `shed_pause` before its next request.
async fn drive<F, Fut>(
    concurrency: usize,
    budget: usize,
    secs: f64,
    ok_status: u16,
    shed_pause: Duration,
    op: F,
) -> Tally
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Reply> + Send,
{
    let budget = budget.min(MAX_REQUESTS);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let op = op.clone();
        set.spawn(async move {
            let mut t = Tally::default();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= budget || Instant::now() >= deadline {
                    break;
                }
                let r = op(n).await;
                let key = match r.status {
                    Some(NO_RETRY_AFTER) => "503 without Retry-After".into(),
                    Some(s) => s.to_string(),
                    None => "transport error".into(),
                };
                *t.statuses.entry(key).or_default() += 1;
                if r.status == Some(ok_status) {
                    t.lat_ok.push(r.lat);
                    if let Some(c) = r.code {
                        t.codes.push(c);
                    }
                } else if matches!(r.status, Some(503 | NO_RETRY_AFTER)) && !shed_pause.is_zero() {
                    tokio::time::sleep(shed_pause).await;
                }
            }
            t
        });
    }
    let mut all = Tally::default();
    while let Some(r) = set.join_next().await {
        let t = r.expect("load worker");
        all.lat_ok.extend(t.lat_ok);
        all.codes.extend(t.codes);
        for (k, v) in t.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    all.elapsed = start.elapsed();
    all
}

const TIP: &str = "Di gang belakang pasar ada rumah cat hijau yang sering didatangi orang tak dikenal \
pada malam hari, terutama antara jam sepuluh dan jam dua pagi. Mereka datang dengan motor, masuk \
sebentar lalu pergi lagi. Tetangga sering mencium bau menyengat seperti plastik terbakar. Pemilik \
rumah jarang terlihat siang hari dan tidak pernah ikut kegiatan warga. Beberapa anak muda dari \
kampung sebelah juga terlihat keluar dengan bungkusan kecil yang disimpan di dalam jaket.";

async fn submit(c: reqwest::Client, base: String) -> Reply {
    let body = serde_json::json!({
        "category": "peredaran",
        "area": "kandangan",
        "description": TIP,
        "location": "Gang belakang pasar, rumah cat hijau",
        "when": "Hampir setiap malam, jam 22.00-02.00",
    });
    let t = Instant::now();
    let r = c
        .post(format!("{base}/api/v1/reports"))
        .json(&body)
        .send()
        .await;
    match r {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let code = if status == 201 {
                resp.json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v.get("code")?.as_str().map(str::to_owned))
            } else {
                let _ = resp.bytes().await;
                None
            };
            let lat = t.elapsed();
            // A 201 without a code would be a server bug: count it as such.
            let status = if status == 201 && code.is_none() {
                999
            } else {
                status
            };
            Reply {
                status: Some(status),
                lat,
                code,
            }
        }
        Err(_) => Reply {
            status: None,
            lat: t.elapsed(),
            code: None,
        },
    }
}

async fn followup(c: reqwest::Client, base: String, code: String) -> Reply {
    let t = Instant::now();
    let r = c
        .post(format!("{base}/api/v1/followup"))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await;
    match r {
        Ok(resp) => {
            let mut status = resp.status().as_u16();
            if status == 503 && resp.headers().get("retry-after").is_none() {
                status = NO_RETRY_AFTER;
            }
            let _ = resp.bytes().await;
            Reply {
                status: Some(status),
                lat: t.elapsed(),
                code: None,
            }
        }
        Err(_) => Reply {
            status: None,
            lat: t.elapsed(),
            code: None,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1000.0;
    if m < 10.0 {
        format!("{m:.1} ms")
    } else {
        format!("{m:.0} ms")
    }
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

fn pct_of(x: f64, of: f64) -> String {
    format!("{:.0}%", 100.0 * x / of)
}

/// Bytes a stored report occupies across its rows (columns' payload, not page overhead).
async fn bytes_per_report(url: &str) -> Result<(f64, i64)> {
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

// ---------------------------------------------------------------------------------------------
// The run

struct Refs {
    pool: usize,
    /// t_argon2 by number of concurrent derivations (1, share, pool, 3).
    t: BTreeMap<usize, Duration>,
}

impl Refs {
    fn t(&self, n: usize) -> Duration {
        self.t[&n]
    }
}

async fn run() -> i32 {
    let s = settings();
    let mut rep = Report::default();
    eprintln!(
        "bisik load driver: backends {:?}, {} s phases, pool {}, tmp {}",
        s.backends,
        s.secs,
        s.pool,
        s.tmp.display()
    );

    // Reference: Argon2id at 1, share, pool and 3 concurrent derivations.
    let mut refs = Refs {
        pool: s.pool,
        t: BTreeMap::new(),
    };
    let mut counts = vec![1, s.pool, 3];
    counts.sort_unstable();
    counts.dedup();
    for n in counts {
        let per = (24 / n).max(6);
        let (t, tp) = tokio::task::spawn_blocking(move || argon2_median(n, per))
            .await
            .expect("argon2 reference");
        eprintln!("t_argon2 with {n} at once: {} ({tp:.2}/s together)", ms(t));
        refs.t.insert(n, t);
        rep.add(
            "-",
            &format!("t_argon2, {n} at once (median)"),
            format!("{} ({n} threads together did {tp:.2}/s)", ms(t)),
            &format!("bound {n}/t = {:.2}/s", n as f64 / t.as_secs_f64()),
            "reference",
        );
    }

    let mut pg: Option<Pg> = None;
    let mut aborted = false;
    for b in s.backends.clone() {
        let res = match b.as_str() {
            "sqlite" => backend(&s, &refs, &mut rep, "SQLite", None).await,
            "postgres" | "postgresql" | "pg" => match Pg::reachable(&s.pg_admin_url).await {
                Ok(p) => {
                    pg = Some(p);
                    backend(&s, &refs, &mut rep, "PostgreSQL", pg.as_mut()).await
                }
                Err(e) => {
                    let msg = format!(
                        "PostgreSQL skipped: not reachable at {} ({e}); set BISIK_BENCH_PG_URL or BISIK_BENCH_BACKENDS=sqlite",
                        s.pg_admin_url
                    );
                    eprintln!("{msg}");
                    rep.note(msg);
                    Ok(())
                }
            },
            other => {
                rep.note(format!(
                    "unknown backend {other:?} in BISIK_BENCH_BACKENDS ignored"
                ));
                Ok(())
            }
        };
        if let Err(e) = res {
            aborted = true;
            rep.add(&b, "run aborted", format!("{e:#}"), "-", "**error**");
        }
        if let Some(p) = pg.as_mut() {
            p.drop_all().await;
        }
    }

    // Desk logins (benches/load/desk.rs); BISIK_BENCH_DESK=0 leaves them out.
    if std::env::var("BISIK_BENCH_DESK").as_deref() != Ok("0")
        && s.runs("desk")
        && let Err(e) = desk::run(&mut rep, &s.tmp, s.secs).await
    {
        aborted = true;
        rep.add(
            "SQLite",
            "desk run aborted",
            format!("{e:#}"),
            "-",
            "**error**",
        );
    }

    // Argon2 once more at the pool size, to show how much the machine drifted during the run.
    let pool = s.pool;
    let (t_end, _) = tokio::task::spawn_blocking(move || argon2_median(pool, 6))
        .await
        .expect("argon2 reference");
    rep.note(format!(
        "t_argon2 with {pool} at once, re-measured at the end of the run: {} (start: {})",
        ms(t_end),
        ms(refs.t(pool))
    ));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    rep.note(format!("load average at the end: {}", load.trim()));
    rep.print();
    i32::from(aborted)
}

async fn backend(
    s: &Settings,
    refs: &Refs,
    rep: &mut Report,
    name: &str,
    mut pg: Option<&mut Pg>,
) -> Result<()> {
    eprintln!("\n== {name} ==");
    let pool = refs.pool;
    let c = client(64);
    if s.runs("stock") {
        references_and_stock_server(s, refs, rep, name, &mut pg, &c).await?;
    }

    if s.runs("flood") {
        no_stock_server_and_flood(s, refs, rep, name, &mut pg, &c).await?;
    }

    // --- Server 3: pool 3 (follow-up share 3), to show how follow-ups scale with the share.
    if pool == 2 && s.runs("pool3") {
        let url = fresh_url(&mut pg, "pool3").await?;
        let mut s3 = Server::start(&s.tmp, url.as_deref(), 3, 0, 32)?;
        let base = s3.intake.clone();
        let cc = c.clone();
        let mut t = drive(
            SUBMIT_CONCURRENCY,
            40,
            60.0,
            201,
            Duration::ZERO,
            move |_| submit(cc.clone(), base.clone()),
        )
        .await;
        let codes = std::mem::take(&mut t.codes);
        if codes.is_empty() {
            bail!("pool-3 server issued no codes: {}", t.status_text());
        }
        followups(s, refs, rep, name, &s3, &c, &codes, 3).await?;
        finish(rep, name, "pool-3 server", &mut s3);
    }

    // --- Server 4: the reporter pages against the JSON API (benches/load/pages.rs).
    if s.runs("pages") {
        let url = fresh_url(&mut pg, "pages").await?;
        pages::pages(s, rep, name, url, pool).await?;
    }
    Ok(())
}

/// Server 2: no stock; sustained submissions past the stock, then the flood and its reporter.
async fn no_stock_server_and_flood(
    s: &Settings,
    refs: &Refs,
    rep: &mut Report,
    name: &str,
    pg: &mut Option<&mut Pg>,
    c: &reqwest::Client,
) -> Result<()> {
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
    let base = s2.intake.clone();
    let cc = c.clone();
    let (t_now, t_used) = t_argon2_now(refs, pool).await;
    let cpu = CpuMeter::start(s2.pid());
    let mut t = drive(
        SUBMIT_CONCURRENCY,
        MAX_REQUESTS,
        s.secs,
        201,
        Duration::ZERO,
        move |_| submit(cc.clone(), base.clone()),
    )
    .await;
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
    flood(s, rep, name, &s2, c, reporter_code).await?;
    finish(rep, name, "no-stock server", &mut s2);
    drop(s2);
    Ok(())
}

/// The bare-insert references and the stock server (server 1): every row but the flood's.
async fn references_and_stock_server(
    s: &Settings,
    refs: &Refs,
    rep: &mut Report,
    name: &str,
    pg: &mut Option<&mut Pg>,
    c: &reqwest::Client,
) -> Result<()> {
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
    let base = s1.intake.clone();
    let cc = c.clone();
    let cpu = CpuMeter::start(s1.pid());
    let mut t = drive(
        SUBMIT_CONCURRENCY,
        STOCK,
        120.0,
        201,
        Duration::ZERO,
        move |_| submit(cc.clone(), base.clone()),
    )
    .await;
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
    let base = s1.intake.clone();
    let cc = c.clone();
    let cpu = CpuMeter::start(s1.pid());
    let mut t1 = drive(1, STOCK, 120.0, 201, Duration::ZERO, move |_| {
        submit(cc.clone(), base.clone())
    })
    .await;
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
    followups(s, refs, rep, name, &s1, c, &codes, pool).await?;
    finish(rep, name, "stock server", &mut s1);
    drop(s1);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn followups(
    s: &Settings,
    refs: &Refs,
    rep: &mut Report,
    name: &str,
    srv: &Server,
    c: &reqwest::Client,
    codes: &[String],
    pool: usize,
) -> Result<()> {
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

async fn flood(
    s: &Settings,
    rep: &mut Report,
    name: &str,
    srv: &Server,
    c: &reqwest::Client,
    reporter_code: Option<String>,
) -> Result<()> {
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
    let cc = c.clone();
    let sub_base = base.clone();
    let mut subs = drive(
        FLOOD_SUBMITTERS,
        MAX_REQUESTS,
        secs - 0.5,
        201,
        Duration::ZERO,
        move |_| submit(cc.clone(), sub_base.clone()),
    )
    .await;
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

/// A fresh PostgreSQL database URL, or None for SQLite (the server then uses ./data).
async fn fresh_url(pg: &mut Option<&mut Pg>, label: &str) -> Result<Option<String>> {
    match pg.as_deref_mut() {
        Some(p) => p.fresh(label).await.map(Some),
        None => Ok(None),
    }
}

/// Records whether the server survived and what it logged at WARN/ERROR.
fn finish(rep: &mut Report, name: &str, which: &str, srv: &mut Server) {
    if !srv.alive() {
        rep.add(
            name,
            &format!("{which} survived"),
            "no: the process exited".into(),
            "alive",
            "**failed**",
        );
    }
    let problems = srv.problems();
    if !problems.is_empty() {
        let mut by_msg: BTreeMap<String, usize> = BTreeMap::new();
        for p in &problems {
            // Drop the timestamp so repeated lines group together.
            let msg = p.split_once(' ').map(|(_, m)| m.trim()).unwrap_or(p);
            *by_msg.entry(msg.chars().take(200).collect()).or_default() += 1;
        }
        for (m, n) in by_msg {
            rep.note(format!("{name} {which} logged {n}×: `{m}`"));
        }
    }
}
