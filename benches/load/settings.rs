//! The knobs read from the environment once at the start (the module doc of load.rs lists
//! them), and `BISIK_BENCH_ONLY`'s choice of parts.

use std::path::PathBuf;

/// The knobs, read once.
pub struct Settings {
    pub backends: Vec<String>,
    pub pg_admin_url: String,
    pub secs: f64,
    pub pool: usize,
    pub tmp: PathBuf,
    /// `BISIK_BENCH_ONLY=flood,pages,...`: only the named parts (`stock`, `flood`, `pool3`,
    /// `pages`, `inbox`, `desk`), for a re-run of some rows when the machine is quiet. Unset: all.
    pub only: Option<Vec<String>>,
}

impl Settings {
    /// Whether the part named `part` runs (see `only`).
    pub fn runs(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|p| p == part))
    }
}

pub fn settings() -> Settings {
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
