//! `bisik outreach`: the poster, the leaflet and the announcement (issue 10). They read the
//! config file only and never open a database, so they run on any machine that has a copy of
//! the config, such as an office PC with a printer.

use super::{Failure, failure, write_stdout};
use crate::config::Config;
use crate::outreach::{self, Kit, OutreachError, Paper};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// Outreach commands.
#[derive(Subcommand, Debug)]
pub enum OutreachCommand {
    /// A poster in Bahasa Indonesia as a print-ready PDF: the unit, a QR code to the intake,
    /// its address, the notice, four safety steps and the law.
    Poster {
        /// Paper size.
        #[arg(long, value_enum, default_value_t = PosterSize::A4)]
        size: PosterSize,
        /// Where to write the PDF (`-` for stdout). Default: bisik-poster-a4.pdf (or -a3).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// An A5 leaflet, front and back, as a print-ready PDF.
    Leaflet {
        /// Where to write the PDF (`-` for stdout). Default: bisik-leaflet-a5.pdf.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// About 150 words in Bahasa Indonesia for a religious counsellor (penyuluh agama) or an
    /// announcement at Friday prayers (khutbah Jumat), printed to stdout.
    Announcement,
}

/// Poster sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PosterSize {
    /// 210 × 297 mm.
    A4,
    /// 297 × 420 mm.
    A3,
}

/// Runs an outreach command from the config alone.
pub fn run(cfg: &Config, cmd: OutreachCommand) -> Result<(), Failure> {
    let kit = Kit::from_config(cfg).map_err(kit_failure)?;
    match cmd {
        OutreachCommand::Poster { size, out } => {
            let paper = match size {
                PosterSize::A4 => Paper::A4,
                PosterSize::A3 => Paper::A3,
            };
            let pdf = outreach::poster(&kit, paper).map_err(kit_failure)?;
            let default = format!("bisik-poster-{}.pdf", paper.name().to_lowercase());
            write_pdf(&pdf, out.as_deref(), &default)
        }
        OutreachCommand::Leaflet { out } => {
            let pdf = outreach::leaflet(&kit).map_err(kit_failure)?;
            write_pdf(&pdf, out.as_deref(), "bisik-leaflet-a5.pdf")
        }
        OutreachCommand::Announcement => write_stdout(outreach::announcement(&kit).as_bytes()),
    }
}

/// A missing or unusable setting is a configuration error (78); anything else is 1.
fn kit_failure(e: OutreachError) -> Failure {
    let code = match e {
        OutreachError::NoPublicUrl | OutreachError::Overflow(_) | OutreachError::Qr(_) => 78,
        OutreachError::Font(_) => 1,
    };
    failure(code, e.to_string())
}

fn write_pdf(pdf: &[u8], out: Option<&Path>, default: &str) -> Result<(), Failure> {
    let path = out.unwrap_or(Path::new(default));
    if path == Path::new("-") {
        return write_stdout(pdf);
    }
    std::fs::write(path, pdf)
        .map_err(|e| failure(1, format!("cannot write {}: {e}", path.display())))?;
    tracing::info!("wrote {}", path.display());
    Ok(())
}
