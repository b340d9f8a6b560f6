//! `bisik audit`: the office's view of the signed audit log (I6, src/desk/audit.rs).
//!
//! `checkpoint` prints the verified head as one line (`SEQ:HASH`) for the logbook; `verify`
//! checks every entry and that the chain still passes through every checkpoint written down
//! before. Both exit 3 when the log does not verify, naming the first bad entry.

use super::{Failure, failure};
use crate::config::Config;
use crate::desk::audit::{self, Checkpoint, PinnedKeys};
use crate::store::Schema;
use clap::Subcommand;

/// Audit log commands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify the log, then print its head as one short line (SEQ:HASH) for the office
    /// logbook; give it later to `audit verify --anchor`.
    Checkpoint,
    /// Check every entry's hash, link and signature, that each signing key was certified when
    /// it signed, and that the chain still passes through every anchor. Exits 3 on any failure.
    Verify {
        /// A checkpoint from the logbook (`SEQ:HASH`, as `audit checkpoint` printed it).
        #[arg(long = "anchor", value_name = "SEQ:HASH")]
        anchors: Vec<String>,
    },
}

/// Runs an audit command.
pub async fn run(cfg: &Config, cmd: AuditCommand) -> Result<(), Failure> {
    let anchors = match &cmd {
        AuditCommand::Checkpoint => Vec::new(),
        AuditCommand::Verify { anchors } => anchors
            .iter()
            .map(|a| {
                Checkpoint::parse(a).ok_or_else(|| {
                    failure(
                        2,
                        format!(
                            "--anchor {a:?} is not SEQ:HASH (a number, a colon and at least 32 hexadecimal digits)"
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let pinned = PinnedKeys::load(&cfg.keys_dir)?;
    let store = super::connect(cfg, Schema::Desk).await?;
    let result = audit::verify(&store, &pinned, &anchors).await;
    store.close().await;
    let verified = match result {
        Ok(v) => v,
        Err(audit::AuditError::Bad(bad)) => {
            return Err(failure(3, format!("the audit log does not verify: {bad}")));
        }
        Err(e) => return Err(failure(1, e.to_string())),
    };
    match cmd {
        AuditCommand::Checkpoint => println!("{}", verified.head),
        AuditCommand::Verify { .. } => println!(
            "audit log verified: {} entries, head {}, {} anchor(s) matched, {} key(s) certified now",
            verified.head.seq,
            verified.head,
            anchors.len(),
            verified.certified.all_active().count()
        ),
    }
    Ok(())
}
