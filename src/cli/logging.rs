//! Logging to stderr (journald in production). The configured level applies to Bisik's own
//! code only; every library is capped at `warn`, so no HTTP or database crate can log a request
//! head, a header or a query parameter, however verbose the operator makes it (I2).
//!
//! Library lines are also capped at one a minute, plus one summary of how many were held back.
//! actix-http writes an ERROR line (`stream error: ...`) for every malformed request, so
//! without the cap anyone could fill journald's per-service rate limit (by default 10,000
//! lines in 30 s) with garbage requests, and journald would then drop `ALARM` and
//! `RECIPIENT LIST REFUSED` (issue 5, section 5).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;

/// How often a library may write a line.
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Window {
    passed: bool,
    held: u64,
}

/// Writes Bisik's own lines to stderr, and at most one library line per [`WINDOW`]. Done at
/// the writer, after the level filter, so only lines that would really be written are counted.
#[derive(Clone, Default)]
struct CappedStderr(Arc<Mutex<Window>>);

fn ours(meta: &Metadata<'_>) -> bool {
    meta.target() == "bisik" || meta.target().starts_with("bisik::")
}

/// Either stderr or nowhere.
enum Line {
    Stderr(std::io::Stderr),
    Held,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Line::Stderr(e) => e.write(buf),
            Line::Held => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Line::Stderr(e) => e.flush(),
            Line::Held => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for CappedStderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line::Stderr(std::io::stderr())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        if ours(meta) {
            return Line::Stderr(std::io::stderr());
        }
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if w.passed {
            w.held += 1;
            Line::Held
        } else {
            w.passed = true;
            Line::Stderr(std::io::stderr())
        }
    }
}

/// Installs the subscriber. A plain thread (there may be no runtime yet) opens a new window
/// each minute and reports what the last one held back, as one of Bisik's own lines.
pub fn init(level: &str) {
    use std::io::IsTerminal;
    let cap = CappedStderr::default();
    let filter = tracing_subscriber::EnvFilter::new(format!("warn,bisik={level}"));
    if tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(cap.clone())
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init()
        .is_err()
    {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("bisik-logcap".into())
        .spawn(move || {
            loop {
                std::thread::sleep(WINDOW);
                let held = {
                    let mut w = cap.0.lock().unwrap_or_else(|p| p.into_inner());
                    w.passed = false;
                    std::mem::take(&mut w.held)
                };
                if held > 0 {
                    tracing::warn!(
                        "{held} more library log line(s) (typically malformed or aborted HTTP requests) were held back in the last minute; at most one a minute is written, so journald's rate limit never drops ALARM lines"
                    );
                }
            }
        });
}
