//! The run: the Argon2 references first, then each backend's servers in turn (the parts
//! `BISIK_BENCH_ONLY` selects), the desk logins, the Argon2 reference once more to show how
//! much the machine drifted, and the table.

use super::flood::no_stock_server_and_flood;
use super::followups::pool3;
use super::http::client;
use super::postgres::{Pg, fresh_url};
use super::reference::{Refs, argon2_median};
use super::report::{Report, ms};
use super::settings::{Settings, settings};
use super::stock::references_and_stock_server;
use super::{desk, inbox, pages};
use anyhow::Result;
use std::collections::BTreeMap;

/// The whole run; returns the exit code (1 when a backend's run was aborted).
pub async fn run() -> i32 {
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

/// What every server phase of one backend shares.
#[derive(Clone, Copy)]
pub struct Phase<'a> {
    /// The knobs.
    pub s: &'a Settings,
    /// The start-of-run Argon2 references.
    pub refs: &'a Refs,
    /// The backend's name in the table (`SQLite`, `PostgreSQL`).
    pub name: &'a str,
    /// The client the phases share (its own connection pool).
    pub c: &'a reqwest::Client,
}

/// One backend's servers, each in turn: the stock server, the no-stock server and its flood,
/// the pool-3 server (when the pool is 2), the reporter pages and the desk inbox.
pub async fn backend(
    s: &Settings,
    refs: &Refs,
    rep: &mut Report,
    name: &str,
    mut pg: Option<&mut Pg>,
) -> Result<()> {
    eprintln!("\n== {name} ==");
    let pool = refs.pool;
    let c = client(64);
    let phase = Phase {
        s,
        refs,
        name,
        c: &c,
    };
    if s.runs("stock") {
        references_and_stock_server(phase, rep, &mut pg).await?;
    }

    if s.runs("flood") {
        no_stock_server_and_flood(phase, rep, &mut pg).await?;
    }

    // --- Server 3: pool 3 (follow-up share 3), to show how follow-ups scale with the share.
    if pool == 2 && s.runs("pool3") {
        pool3(phase, rep, &mut pg).await?;
    }

    // --- Server 4: the reporter pages against the JSON API (benches/load/pages.rs).
    if s.runs("pages") {
        let url = fresh_url(&mut pg, "pages").await?;
        pages::pages(s, rep, name, url, pool).await?;
    }

    // --- Server 5: the desk's inbox and report page at up to 100,000 reports
    // (benches/load/inbox.rs).
    if s.runs("inbox") {
        inbox::run(s, rep, name, &mut pg).await?;
    }
    Ok(())
}
