//! The server under test: the real `bisik serve` binary in a fresh directory, listening on
//! ports the OS picks (read back from its log), with its memory read from `/proc/PID/status`,
//! its metrics from its own metrics listener, and what it logged at WARN or ERROR collected
//! for the report. Each one is killed by its own pid when dropped, also on error.

use super::report::Report;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// `bisik serve` in `dir`, with none of this process's Bisik settings (`BISIK_*`,
/// `DATABASE_URL`), so that only what the phase sets applies.
pub fn serve_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bisik"));
    cmd.arg("serve").current_dir(dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("BISIK_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// The listeners whose OS-chosen addresses the server logs.
#[derive(Clone, Copy)]
enum Listener {
    Intake,
    Desk,
    Metrics,
}

/// One `bisik serve` under test.
pub struct Server {
    child: Child,
    dir: tempfile::TempDir,
    pub intake: String,
    /// The desk listener (`http://…`), which every phase but the inbox tour leaves alone.
    pub desk: String,
    metrics: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(
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
        let mut cmd = serve_command(dir.path());
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
        let (tx, rx) = mpsc::channel::<(Listener, String)>();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    for (which, marker) in [
                        (Listener::Intake, "intake listening on http://"),
                        (Listener::Desk, "desk listening on http://"),
                        (Listener::Metrics, "metrics listening on http://"),
                    ] {
                        if let Some(i) = line.find(marker) {
                            let addr = line[i + marker.len()..]
                                .trim()
                                .trim_end_matches("/metrics")
                                .to_owned();
                            let _ = tx.send((which, addr));
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
            desk: String::new(),
            metrics: String::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while server.intake.is_empty() || server.desk.is_empty() || server.metrics.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(500))) {
                Ok((Listener::Intake, a)) => server.intake = format!("http://{a}"),
                Ok((Listener::Desk, a)) => server.desk = format!("http://{a}"),
                Ok((Listener::Metrics, a)) => server.metrics = format!("http://{a}/metrics"),
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

    /// The server's directory (its `./data`, `./keys` and first-run files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in KiB.
    pub fn rss(&self) -> Option<(u64, u64)> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    pub fn rss_kib(&self) -> u64 {
        self.rss().map(|r| r.0).unwrap_or(0)
    }

    /// The anonymous part of the resident set (`RssAnon`): the server's own memory, without the
    /// pages of the SQLite file it maps to read in place, which RSS also counts.
    pub fn rss_anon_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("RssAnon:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0)
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub async fn metrics(&self, c: &reqwest::Client) -> Result<BTreeMap<String, f64>> {
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
    pub async fn wait_stock(
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

    pub fn sqlite_path(&self) -> PathBuf {
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

/// Records whether the server survived and what it logged at WARN/ERROR.
pub fn finish(rep: &mut Report, name: &str, which: &str, srv: &mut Server) {
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
