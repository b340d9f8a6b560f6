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
//! `BISIK_BENCH_ONLY` (a comma list of `stock`, `flood`, `pool3`, `pages`, `inbox`, `desk`: only
//! those parts), `BISIK_BENCH_INBOX_SIZES` (`1000,10000,100000`) and `BISIK_BENCH_INBOX_REQUESTS`
//! (200 per page and size) for the inbox tour,
//! `BISIK_BENCH_TMPDIR` (server directories and SQLite files; default `CARGO_TARGET_TMPDIR`).
//!
//! The exit code is 1 when a backend's run was aborted by an error, 0 otherwise: a missed
//! target is a result, not a failure of the driver.
//!
//! # A tour of the modules (benches/load/)
//! * [`run`]: the order of the run. The Argon2 references, then per backend
//!   ([`run::backend`]) the servers below, each in turn, then the desk, the end-of-run Argon2
//!   re-measurement and the table.
//! * The servers, one module each, every one a real `bisik serve` on a fresh database:
//!   * [`stock`]: server 1, a stock of [`STOCK`] codes; the bare-insert references, idle memory,
//!     submissions while the stock lasts, then follow-ups;
//!   * [`flood`]: server 2, no stock; submissions past the stock, then the wrong-code flood
//!     with submitters and a real reporter ([`reporter`]) running through it;
//!   * [`followups`]: valid-code follow-ups against the Argon2 bound (servers 1 and 3), and
//!     server 3 with a pool of 3;
//!   * [`pages`]: server 4, the reporter pages against the JSON API;
//!   * [`inbox`]: server 5, the desk's first inbox page and a 50-message report page with
//!     up to 100,000 reports made through the store;
//!   * [`desk`]: desk logins against the staff KDF pool, and memory under a login flood.
//! * What they share:
//!   * [`server`]: starting `bisik serve`, its ports, memory, metrics and logged problems;
//!   * [`http`]: the client, one submission and one follow-up, and [`http::drive`], the
//!     bounded load loop;
//!   * [`reference`]: `t_argon2(n)`, the bare insert loop and the bytes of a stored report;
//!   * [`cpu`]: who used the CPU during a phase, to tell a slow server from a busy machine;
//!   * [`postgres`]: a fresh PostgreSQL database per server, dropped afterwards;
//!   * [`settings`]: the knobs above;
//!   * [`report`]: the results table, verdicts and number formats.

#[path = "load/cpu.rs"]
mod cpu;
#[path = "load/desk.rs"]
mod desk;
#[path = "load/flood.rs"]
mod flood;
#[path = "load/followups.rs"]
mod followups;
#[path = "load/http.rs"]
mod http;
#[path = "load/inbox.rs"]
mod inbox;
#[path = "load/pages.rs"]
mod pages;
#[path = "load/postgres.rs"]
mod postgres;
#[path = "load/reference.rs"]
mod reference;
#[path = "load/report.rs"]
mod report;
#[path = "load/reporter.rs"]
mod reporter;
#[path = "load/run.rs"]
mod run;
#[path = "load/server.rs"]
mod server;
#[path = "load/settings.rs"]
mod settings;
#[path = "load/stock.rs"]
mod stock;

/// Concurrency of every submission test (the "concurrency 8").
const SUBMIT_CONCURRENCY: usize = 8;
/// Codes in stock for the "while the stock lasts" test.
const STOCK: usize = 200;
/// Target for idle RSS, in KiB (30 MB).
const IDLE_RSS_TARGET_KIB: u64 = 30_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run::run());
    std::process::exit(code);
}
