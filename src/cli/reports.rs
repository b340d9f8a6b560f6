//! `bisik reports`: what an operator needs to name a report (for `keys recover`) without a
//! database client. It shows routing columns only, never content.

use super::Failure;
use crate::config::Config;
use crate::domain::day_string;
use crate::store::Schema;
use clap::Subcommand;

/// Report commands.
#[derive(Subcommand, Debug)]
pub enum ReportsCommand {
    /// List every report: id, received day, category and status (never content), newest day
    /// first.
    List,
}

/// Runs a reports command.
pub async fn run(cfg: &Config, cmd: ReportsCommand) -> Result<(), Failure> {
    match cmd {
        ReportsCommand::List => {
            let store = super::connect(cfg, Schema::Reports).await?;
            let rows = store.list_reports().await?;
            store.close().await;
            let mut out = String::from(
                "ID                                    DAY         CATEGORY             STATUS\n",
            );
            for r in &rows {
                out.push_str(&format!(
                    "{:<37} {:<11} {:<20} {}\n",
                    r.id,
                    day_string(r.received_day),
                    r.category,
                    r.status
                ));
            }
            super::write_stdout(out.as_bytes())
        }
    }
}
