//! TestApp: the real `bisik` binary, started as a child process in a fresh temporary directory
//! against a fresh database (a SQLite file, or a new PostgreSQL database created for the test and
//! dropped afterwards), talked to over real HTTP. Its stderr (the logs) is captured for the
//! invariant tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Base URL of the PostgreSQL server for tests (trust auth). Override with BISIK_TEST_PG.
pub fn pg_base() -> String {
    std::env::var("BISIK_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Whether a backend is enabled. PostgreSQL runs unless BISIK_TEST_BACKENDS leaves it out;
/// when it is enabled but unreachable the test fails (it never passes silently).
pub fn enabled(b: Backend) -> bool {
    let list = std::env::var("BISIK_TEST_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let name = match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    list.split(',').any(|x| x.trim() == name)
}

/// Prints once per run, past libtest's output capture, that the PostgreSQL halves are
/// ignored, so a SQLite-only run cannot be mistaken for a full one.
pub fn note_left_out_backends() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if !enabled(Backend::Postgres) {
        ONCE.call_once(|| {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "note: BISIK_TEST_BACKENDS leaves out PostgreSQL: every PostgreSQL test is reported as ignored, none ran"
            );
        });
    }
}

/// Declares `mod NAME { sqlite, postgres }` test pairs for an `async fn NAME(Backend)`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::support::{enabled, Backend};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::note_left_out_backends();
                super::$name(Backend::Sqlite).await
            }
            // build.rs sets `bisik_no_postgres` from BISIK_TEST_BACKENDS, so a run without
            // PostgreSQL lists these as ignored, never as passed.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                bisik_no_postgres,
                ignore = "PostgreSQL left out by BISIK_TEST_BACKENDS"
            )]
            async fn postgres() {
                assert!(
                    enabled(Backend::Postgres),
                    "BISIK_TEST_BACKENDS changed since the build; rebuild"
                );
                super::$name(Backend::Postgres).await
            }
        }
    )*};
}

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub db_url: String,
    pg_name: Option<String>,
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    pub addr: String,
    /// The desk listener (`serve` and `desk`).
    pub desk_addr: String,
    pub metrics: Option<String>,
    logs: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
}

/// Options for starting.
#[derive(Clone)]
pub struct Opts {
    pub command: &'static str,
    pub env: Vec<(&'static str, String)>,
    pub metrics: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            command: "serve",
            env: vec![],
            metrics: false,
        }
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_bisik")
}

async fn create_pg_db() -> (String, String) {
    sqlx::any::install_default_drivers();
    let name = format!("bisik_t_{}", uuid_simple());
    let admin = format!("{}/test", pg_base());
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin} ({e}). Start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
                 or run only SQLite with BISIK_TEST_BACKENDS=sqlite"
            )
        });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    (format!("{}/{name}", pg_base()), name)
}

fn uuid_simple() -> String {
    let mut b = [0u8; 8];
    bisik::crypto::primitives::os_fill(&mut b);
    hex::encode(b)
}

fn drop_pg_db(name: String) {
    // Drop runs outside any async context; use a private runtime on a plain thread.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            sqlx::any::install_default_drivers();
            if let Ok(pool) = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect(&format!("{}/test", pg_base()))
                .await
            {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&pool)
                .await;
            }
        })
    })
    .join();
}

impl TestApp {
    /// Starts `bisik serve` with defaults suited to tests.
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, Opts::default()).await
    }

    /// Prepares the directory and database without starting a server.
    pub async fn prepare(backend: Backend) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db_url, pg_name) = match backend {
            Backend::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("data/bisik.db").display()
                ),
                None,
            ),
            Backend::Postgres => {
                let (u, n) = create_pg_db().await;
                (u, Some(n))
            }
        };
        let mut env = vec![
            ("BISIK_INTAKE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("BISIK_LOG".to_owned(), "debug".to_owned()),
            ("BISIK_STOCK_SIZE".to_owned(), "2".to_owned()),
            ("BISIK_KDF_POOL".to_owned(), "2".to_owned()),
            ("BISIK_DESK_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            // 8 MiB instead of 256: tests run many staff KDFs; the cost is a setting.
            ("BISIK_DESK_KDF_MIB".to_owned(), "8".to_owned()),
        ];
        if backend == Backend::Postgres {
            env.push(("DATABASE_URL".to_owned(), db_url.clone()));
        }
        TestApp {
            dir,
            backend,
            db_url,
            pg_name,
            env,
            child: None,
            addr: String::new(),
            desk_addr: String::new(),
            metrics: None,
            logs: Arc::new(Mutex::new(String::new())),
            stdout: Arc::new(Mutex::new(String::new())),
        }
    }

    pub async fn start_with(backend: Backend, opts: Opts) -> TestApp {
        let mut app = Self::prepare(backend).await;
        for (k, v) in &opts.env {
            app.set_env(k, v);
        }
        if opts.metrics {
            app.set_env("BISIK_METRICS_LISTEN", "127.0.0.1:0");
        }
        app.launch(opts.command).await;
        app
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.env.retain(|(a, _)| a != k);
        self.env.push((k.to_owned(), v.to_owned()));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.path().join("keys")
    }

    /// Starts the server process (`serve` or `intake`) and waits until it listens.
    pub async fn launch(&mut self, command: &str) {
        let mut cmd = Command::new(bin());
        cmd.arg(command)
            .current_dir(self.path())
            .envs(self.env.iter().cloned())
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((_, u)) = self.env.iter().find(|(k, _)| k == "DATABASE_URL") {
            cmd.env("DATABASE_URL", u);
        }
        let mut child = cmd.spawn().expect("spawn bisik");
        let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
        let logs = self.logs.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                for (marker, kind) in [
                    ("intake listening on http://", "intake"),
                    ("desk listening on http://", "desk"),
                    ("metrics listening on http://", "metrics"),
                ] {
                    if let Some(i) = line.find(marker) {
                        let addr = line[i + marker.len()..]
                            .trim()
                            .trim_end_matches("/metrics")
                            .to_owned();
                        let _ = tx.send((kind.to_owned(), addr));
                    }
                }
                let mut l = logs.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let out = self.stdout.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut o = out.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
        });
        self.child = Some(child);
        let wants_metrics = self.env.iter().any(|(k, _)| k == "BISIK_METRICS_LISTEN");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut got_intake = command == "desk";
        let mut got_desk = command != "serve" && command != "desk";
        let mut got_metrics = !wants_metrics || command == "desk";
        while !(got_intake && got_metrics && got_desk) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok((kind, addr)) if kind == "intake" => {
                    self.addr = addr;
                    got_intake = true;
                }
                Ok((kind, addr)) if kind == "desk" => {
                    self.desk_addr = addr;
                    got_desk = true;
                }
                Ok((_, addr)) => {
                    self.metrics = Some(addr);
                    got_metrics = true;
                }
                Err(_) => {
                    if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                        std::thread::sleep(Duration::from_millis(100));
                        panic!(
                            "bisik exited with {status} before listening; logs:\n{}",
                            self.logs()
                        );
                    }
                    assert!(
                        Instant::now() < deadline,
                        "bisik did not start; logs:\n{}",
                        self.logs()
                    );
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no shutdown hook runs, nothing is flushed.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Graceful stop (SIGTERM) and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if c.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until the server's log holds `needle`: stderr is read by another thread, so a line
    /// written just before a response may reach `logs()` just after it.
    pub async fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        loop {
            if self.logs().contains(needle) {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn desk_url(&self, path: &str) -> String {
        format!("http://{}{}", self.desk_addr, path)
    }

    /// The one-time password `serve` or `user add|reset` wrote for `name` (stdout was not a
    /// terminal), the newest if several.
    pub fn one_time_password(&self, name: &str) -> String {
        let prefix = format!("one-time-password-{name}-");
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&prefix)
            })
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        let f = files
            .last()
            .unwrap_or_else(|| panic!("no one-time password file for {name}"));
        std::fs::read_to_string(f).unwrap().trim().to_owned()
    }

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        Self::client()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Submits a tip and returns its code.
    pub async fn submit(&self, body: serde_json::Value) -> String {
        let r = self.post("/api/v1/reports", body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 201, "submit failed: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["code"].as_str().unwrap().to_owned()
    }

    /// POST /api/v1/followup; returns (status, body JSON).
    pub async fn followup(&self, code: &str) -> (u16, serde_json::Value) {
        let r = self
            .post("/api/v1/followup", serde_json::json!({ "code": code }))
            .await;
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The bearer token the metrics listener wants (made at first start in keys/).
    pub fn metrics_token(&self) -> String {
        std::fs::read_to_string(self.keys_dir().join("metrics.token"))
            .expect("metrics.token")
            .trim()
            .to_owned()
    }

    pub async fn metric(&self, name: &str) -> u64 {
        let m = self.metrics.as_ref().expect("metrics enabled");
        let text = Self::client()
            .get(format!("http://{m}/metrics"))
            .bearer_auth(self.metrics_token())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("metric {name} missing in:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Runs the CLI in the app's directory and environment; stdin is given text.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .current_dir(self.path())
            .envs(self.env.iter().cloned())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // A command refused before it reads its input (a bad option, a bad month) may exit
        // before the write: its output and exit code are what the test looks at.
        if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    }

    /// The offline passphrase that first-run initialisation wrote (stdout was not a terminal),
    /// beside keys/ rather than in it.
    pub fn passphrase_file(&self) -> PathBuf {
        passphrase_file_in(self.path())
    }

    pub fn passphrase(&self) -> String {
        std::fs::read_to_string(self.passphrase_file())
            .unwrap()
            .trim()
            .to_owned()
    }

    /// `bisik keys recover --report ID`, passphrase on stdin.
    pub fn recover(&self, id: &str) -> std::process::Output {
        self.cli(&["keys", "recover", "--report", id], &self.passphrase())
    }

    /// A direct connection to the reports database, standing in for an insider with write
    /// access (or for the desk, which does not exist yet).
    pub async fn store(&self) -> bisik::store::Store {
        bisik::store::Store::connect(&self.db_url, bisik::store::Schema::Reports, 2)
            .await
            .expect("connect store")
    }

    pub async fn desk_store(&self) -> bisik::store::Store {
        let url = match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.data_dir().join("desk.db").display()),
            Backend::Postgres => self.db_url.clone(),
        };
        bisik::store::Store::connect(&url, bisik::store::Schema::Desk, 2)
            .await
            .expect("connect desk store")
    }

    /// Every report id, via SQL.
    pub async fn report_ids(&self) -> Vec<String> {
        let s = self.store().await;
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM reports ORDER BY id")
            .fetch_all(s.pool())
            .await
            .unwrap();
        s.close().await;
        rows.into_iter().map(|r| r.0).collect()
    }

    /// `pg_dump` of the test database (PostgreSQL only).
    pub fn pg_dump(&self) -> Vec<u8> {
        let out = Command::new("pg_dump")
            .arg(&self.db_url)
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Every byte of every file under `dir`, with its path.
    pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
        }
        out
    }

    /// Resident memory of the server in KiB.
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .unwrap()
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill9();
        if let Some(n) = self.pg_name.take() {
            drop_pg_db(n);
        }
    }
}

/// True if `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A fresh, unique canary string.
pub fn canary(tag: &str) -> String {
    format!("CANARY{tag}{}", uuid_simple().to_uppercase())
}

/// The `offline-passphrase-*.txt` file that `keys init` wrote into `dir`.
pub fn passphrase_file_in(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("offline-passphrase-")
        })
        .expect("passphrase file")
}

/// Starts `bisik serve` on SQLite with a config file holding `toml`.
pub async fn start_with_config(toml: &str) -> (TestApp, tempfile::TempDir) {
    start_with_config_on(Backend::Sqlite, toml, Opts::default()).await
}

/// Starts a server on `backend` with `opts` and a config file holding `toml`. The directory
/// holding the file is returned so that it outlives the server.
pub async fn start_with_config_on(
    backend: Backend,
    toml: &str,
    mut opts: Opts,
) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bisik-test.toml");
    std::fs::write(&cfg, toml).unwrap();
    opts.env.push(("BISIK_CONFIG", cfg.display().to_string()));
    let app = TestApp::start_with(backend, opts).await;
    (app, dir)
}

/// The stdout of a CLI run that must succeed (its stderr otherwise).
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The report just submitted (the newest id not in `before`).
pub async fn new_report(app: &TestApp, before: &[String]) -> bisik::domain::ReportId {
    let id = app
        .report_ids()
        .await
        .into_iter()
        .find(|i| !before.contains(i))
        .unwrap();
    bisik::domain::ReportId::parse(&id).unwrap()
}

/// A real S3-compatible server for the blob-store tests (issue 9): moto's server mode, from
/// PyPI, which `.ci/run` installs into the tools folder. Chosen over s3s-fs because it is what
/// the S3 ecosystem tests against (boto's own mock), it needs no build, and CI already keeps a
/// Python virtualenv. It keeps objects in memory, so the I1 checks read them back over HTTP.
/// Killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket made for this test.
    pub bucket: String,
}

impl Moto {
    /// Starts a moto server with one bucket, or `None` when moto is not installed outside CI
    /// (under CI a missing moto fails the test).
    pub async fn start() -> Option<Moto> {
        let exe = std::env::var("BISIK_MOTO_SERVER").ok().or_else(|| {
            let p = "/var/tmp/bisik-tools/moto/bin/moto_server";
            Path::new(p).exists().then(|| p.to_owned())
        });
        let Some(exe) = exe else {
            assert!(
                std::env::var("CI").is_err(),
                "moto_server not found: set BISIK_MOTO_SERVER (.ci/run installs it)"
            );
            eprintln!("moto_server not found: the S3 variant is left out (BISIK_MOTO_SERVER)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client.get(&endpoint).send().await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let bucket = format!("bisik-{}", uuid_simple());
        let r = client
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.status());
        Some(Moto {
            child,
            endpoint,
            bucket,
        })
    }

    /// The environment that points a server at this bucket.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BISIK_BLOB_STORE", "s3".into()),
            ("BISIK_S3_BUCKET", self.bucket.clone()),
            ("BISIK_S3_ENDPOINT", self.endpoint.clone()),
            ("BISIK_S3_REGION", "us-east-1".into()),
            ("BISIK_S3_ACCESS_KEY_ID", "bisik-test".into()),
            ("BISIK_S3_SECRET_ACCESS_KEY", "bisik-test-secret".into()),
            ("BISIK_S3_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Every object in the bucket: (key, bytes).
    pub async fn objects(&self) -> Vec<(String, Vec<u8>)> {
        let client = reqwest::Client::new();
        let list = client
            .get(format!("{}/{}?list-type=2", self.endpoint, self.bucket))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut out = Vec::new();
        for part in list.split("<Key>").skip(1) {
            let key = part.split("</Key>").next().unwrap().to_owned();
            let bytes = client
                .get(format!("{}/{}/{key}", self.endpoint, self.bucket))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec();
            out.push((key, bytes));
        }
        out
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
