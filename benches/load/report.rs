//! The results table printed on stdout at the end (Markdown, one row per measurement), its
//! verdicts, and the number formats the rows share. Progress lines go to stderr as rows are
//! added, so a long run shows what it has measured so far.

use super::cpu::Cpu;
use std::time::Duration;

struct Row {
    backend: String,
    what: String,
    result: String,
    target: String,
    verdict: String,
}

/// Everything measured, printed at the end as one table so that a run's results stay
/// together (the progress on stderr interleaves with the servers' own output).
#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    pub fn add(&mut self, backend: &str, what: &str, result: String, target: &str, verdict: &str) {
        eprintln!("  -> {what}: {result} [{target}] {verdict}");
        self.rows.push(Row {
            backend: backend.into(),
            what: what.into(),
            result,
            target: target.into(),
            verdict: verdict.into(),
        });
    }
    pub fn note(&mut self, s: String) {
        eprintln!("  note: {s}");
        self.notes.push(s);
    }
    pub fn print(&self) {
        println!();
        println!("| Backend | Measurement | Result | Target / reference | Verdict |");
        println!("|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} |",
                r.backend, r.what, r.result, r.target, r.verdict
            );
        }
        if !self.notes.is_empty() {
            println!();
            for n in &self.notes {
                println!("- {n}");
            }
        }
    }
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// Verdict, flagged when other processes took a noticeable share of the machine meanwhile.
pub fn verdict_cpu(ok: bool, cpu: &Cpu) -> String {
    if cpu.others > 0.2 {
        format!(
            "{} (noisy: other processes used {:.1} cores)",
            verdict(ok),
            cpu.others
        )
    } else {
        verdict(ok).to_owned()
    }
}

pub fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1000.0;
    if m < 10.0 {
        format!("{m:.1} ms")
    } else {
        format!("{m:.0} ms")
    }
}

pub fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

pub fn pct_of(x: f64, of: f64) -> String {
    format!("{:.0}%", 100.0 * x / of)
}
