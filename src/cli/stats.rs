//! `bisik stats export` (issue 10): the action-plan figures for other agencies, offline, as the
//! desk's export button makes them ([`crate::desk::figures::Export`]: counts below k shown as
//! "< k", withheld partners, rounded totals, months only, no text).
//!
//! The area of a report is sealed in its tip, and the CLI holds no staff key: like `keys
//! recover`, it opens each report's escrow wrap with the offline escrow key (the ceremony
//! passphrase), after checking the signed header, and reads only the tip's area. The export is
//! audited as `figures_exported`, signed by the organisation key unsealed with it.

use super::{Failure, failure};
use crate::config::Config;
use crate::desk::audit::{Audit, Event, Signer};
use crate::desk::figures::{self, Counted, Export, Range};
use crate::domain::today;
use crate::store::Schema;
use clap::Subcommand;
use std::path::PathBuf;

/// Reports opened per database round trip.
const BATCH: usize = 400;

/// Figures commands.
#[derive(Subcommand, Debug)]
pub enum StatsCommand {
    /// Write the suppressed figures of whole months as CSV and/or PDF, opening each report's
    /// area with the offline escrow key (passphrase on stdin or in --passphrase-file); audited.
    Export {
        /// First month, YYYY-MM.
        #[arg(long)]
        from: String,
        /// Last month, YYYY-MM.
        #[arg(long)]
        to: String,
        /// Write the CSV here.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Write the PDF here.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// Read the offline passphrase from this file instead of stdin.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

/// Runs a stats command.
pub async fn run(cfg: &Config, cmd: StatsCommand) -> Result<(), Failure> {
    let StatsCommand::Export {
        from,
        to,
        csv,
        pdf,
        passphrase_file,
    } = cmd;
    let range = Range::parse(Some(&from), Some(&to), today())
        .map_err(|e| failure(2, format!("--from/--to: {e}")))?;
    if csv.is_none() && pdf.is_none() {
        return Err(failure(
            2,
            "nothing to write: give --csv FILE, --pdf FILE or both",
        ));
    }
    let (public, keys) = super::ceremony::unseal_checked(cfg, passphrase_file.as_deref())?;
    let store = super::connect(cfg, Schema::Reports).await?;
    let fp = hex::encode(public.escrow.fingerprint());
    let rows = store
        .figure_rows(&fp, range.from.first_day(), range.to.last_day())
        .await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    // Audited before a tip is opened or a byte written: a decryption or an export nobody can see
    // in the log is what I6 forbids. The entry names every report whose area is opened.
    let desk = super::connect(cfg, Schema::Desk).await?;
    let audit = Audit::open(desk.clone(), &cfg.keys_dir).await?;
    let head = audit
        .append(
            &Signer::Organisation(&keys.org_signing),
            Event::FiguresExported {
                from: range.from.to_string(),
                to: range.to.to_string(),
                reports: ids.clone(),
            },
        )
        .await?;
    desk.close().await;
    let mut areas = std::collections::HashMap::new();
    let mut failed = 0;
    for chunk in ids.chunks(BATCH) {
        for m in store.search_material(&fp, chunk, true).await? {
            match crate::desk::search::preview_one(
                &public.intake,
                &keys.escrow_secret,
                &public.escrow,
                &m,
                0,
            ) {
                Ok((_, area)) => {
                    areas.insert(m.id, area);
                }
                Err(_) => failed += 1,
            }
        }
    }
    store.close().await;
    if failed > 0 {
        eprintln!(
            "bisik: warning: {failed} report(s) failed an integrity check; they are counted without an area (run `bisik keys recover --report ID` on them)"
        );
    }
    let counted: Vec<Counted> = rows
        .into_iter()
        .map(|row| {
            let area = areas.remove(&row.id).flatten();
            Counted { row, area }
        })
        .collect();
    let f = figures::compute(cfg, range, &counted, today());
    let out = Export::suppress(cfg, &f).ok_or_else(|| {
        failure(
            1,
            "these figures cannot be exported safely: a small cell could be worked out from the totals; choose a longer range of months",
        )
    })?;
    let pdf_bytes = match &pdf {
        Some(_) => Some(out.pdf().map_err(|e| failure(1, e.to_string()))?),
        None => None,
    };
    let write = |path: &PathBuf, bytes: &[u8]| {
        std::fs::write(path, bytes)
            .map_err(|e| failure(1, format!("cannot write {}: {e}", path.display())))
    };
    let mut said = String::new();
    if let Some(p) = &csv {
        write(p, out.csv().as_bytes())?;
        said.push_str(&format!("wrote {}\n", p.display()));
    }
    if let (Some(p), Some(b)) = (&pdf, &pdf_bytes) {
        write(p, b)?;
        said.push_str(&format!("wrote {}\n", p.display()));
    }
    said.push_str(&format!(
        "{} report(s) counted, {} .. {}, k = {}; audit entry {head}\n",
        ids.len(),
        range.from,
        range.to,
        cfg.figures.k
    ));
    super::write_stdout(said.as_bytes())
}
