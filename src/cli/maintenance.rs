//! `bisik maintenance`: work on the stored data itself, and the background tasks that do the
//! same on a schedule inside `bisik serve` (issue 5, section 2).

use super::{Failure, connect, failure};
use crate::config::Config;
use crate::store::{Reshuffled, Schema, Store};
use clap::Subcommand;
use std::sync::Arc;
use std::time::Duration;

/// Maintenance commands.
#[derive(Subcommand, Debug)]
pub enum MaintenanceCommand {
    /// Rewrite the reports database so that no physical order (pages, WAL, ctid, xmin, pg_dump
    /// order) follows the order of writes. Run it as the tables' owner; on PostgreSQL the
    /// intake role cannot. Safe while the services run: writes wait for it.
    Reshuffle,
    /// Tidy the attachment store: remove blobs whose report never committed (a crash between
    /// the blob and its report, from before yesterday) and files that are no blob at all, then
    /// rewrite each local blob so no file time dates its upload. Prints what it did.
    Blobs,
}

/// Heartbeat period: comfortably under the minute that issue 5 allows, on a loaded host too.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Runs a maintenance command.
pub(super) async fn run(cfg: &Config, cmd: MaintenanceCommand) -> Result<(), Failure> {
    match cmd {
        MaintenanceCommand::Reshuffle => {
            let store = connect(cfg, Schema::Reports).await?;
            let started = std::time::Instant::now();
            let done = store
                .reshuffle()
                .await
                .map_err(|e| failure(1, format!("reshuffle of the reports database: {e}")))?;
            store.close().await;
            match done {
                Reshuffled::Done => {
                    tracing::info!("reshuffle done in {} ms", started.elapsed().as_millis())
                }
                Reshuffled::Busy => {
                    tracing::info!("another process is reshuffling now; nothing to do")
                }
            }
            Ok(())
        }
        MaintenanceCommand::Blobs => {
            let store = connect(cfg, Schema::Reports).await?;
            let blobs = crate::blob::BlobStore::open(cfg)
                .map_err(|e| failure(74, format!("cannot open the attachment store: {e}")))?;
            let swept = sweep_blobs(&store, &blobs, crate::domain::today())
                .await
                .map_err(|e| failure(1, format!("blob maintenance: {e}")))?;
            store.close().await;
            super::write_stdout(
                format!(
                    "orphaned blobs removed: {}\nstray files removed: {}\nrows without a blob removed: {}\nlocal blobs rewritten: {}\n",
                    swept.orphans, swept.strays, swept.rows, swept.rewritten
                )
                .as_bytes(),
            )
        }
    }
}

/// What a blob sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Blobs whose report never committed (rows from before yesterday), removed with their rows.
    pub orphans: usize,
    /// Names in the store that are no blob of any row, removed.
    pub strays: usize,
    /// Rows whose blob was missing and whose report never committed, removed.
    pub rows: usize,
    /// Local blobs rewritten to reset their file times.
    pub rewritten: usize,
}

/// Removes what a crash between a blob and its report left behind. A row is written before its
/// blob, so a blob without a row is not one of ours (or its row was deleted) and goes at once;
/// a row whose report does not exist is an upload still in progress until the day after, and an
/// orphan from then on. Blobs of existing reports are never touched.
pub async fn sweep_blobs(
    store: &Store,
    blobs: &crate::blob::BlobStore,
    today: i64,
) -> Result<Swept, String> {
    let mut swept = Swept::default();
    // Blobs first, rows second: a blob listed here had its row written before it, so the row
    // list read afterwards has it, even for an upload running right now.
    let (ids, strays) = blobs.list().await.map_err(|e| e.to_string())?;
    let rows = store.blob_rows().await.map_err(|e| e.to_string())?;
    let known: std::collections::HashSet<String> = rows.iter().map(|(r, _)| r.id.clone()).collect();
    let present: std::collections::HashSet<String> = ids.iter().map(|i| i.hex()).collect();
    for id in &ids {
        if !known.contains(&id.hex()) {
            blobs.delete(*id).await.map_err(|e| e.to_string())?;
            swept.strays += 1;
        }
    }
    for name in &strays {
        blobs.delete_stray(name).await.map_err(|e| e.to_string())?;
        swept.strays += 1;
    }
    for (row, report_exists) in &rows {
        if *report_exists || row.day >= today - 1 {
            continue;
        }
        if present.contains(&row.id) {
            if let Some(id) = crate::blob::BlobId::parse(&row.id) {
                blobs.delete(id).await.map_err(|e| e.to_string())?;
            }
            swept.orphans += 1;
        } else {
            swept.rows += 1;
        }
        store
            .forget_blob(&row.id)
            .await
            .map_err(|e| e.to_string())?;
    }
    swept.rewritten = blobs.rewrite_local().map_err(|e| e.to_string())?;
    Ok(swept)
}

/// `bisik serve` reshuffles every `maintenance.reshuffle_window_secs`, so the order of a write
/// is readable for at most that long. Its own one-connection pool keeps VACUUM or CLUSTER off
/// the pool that serves reporters. A failure is logged and retried next time.
pub(super) fn spawn_reshuffle_schedule(cfg: Arc<Config>) {
    let window = Duration::from_secs(cfg.maintenance.reshuffle_window_secs);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + window, window);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let result = match Store::connect(&cfg.database_url(), Schema::Reports, 1).await {
                Ok(store) => {
                    let r = store.reshuffle().await;
                    store.close().await;
                    r
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(Reshuffled::Done) => tracing::info!("scheduled reshuffle done"),
                Ok(Reshuffled::Busy) => {
                    tracing::info!("scheduled reshuffle: another process is on it")
                }
                Err(e) => tracing::error!(
                    "scheduled reshuffle failed, the order of recent writes stays readable until the next one: {e}"
                ),
            }
        }
    });
}

/// A write at least once a minute (issue 5), so the database's file times tell when the last
/// heartbeat ran, not when the last tip arrived. The intake role may update intake_state, so
/// this runs in `bisik intake` as well as in `serve`.
pub(super) fn spawn_heartbeat(store: Store) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = store.heartbeat().await {
                tracing::warn!("heartbeat write failed: {e}");
            }
        }
    });
}
