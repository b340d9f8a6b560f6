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
    }
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
