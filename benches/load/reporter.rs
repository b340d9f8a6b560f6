//! A real reporter during the flood (issue 5, "the benchmark records the reporter's latency
//! during the flood"): one client at a time follows up with a valid code, honours Retry-After
//! as a person's browser would, and records how long each follow-up took to be answered,
//! retries included.

use super::http::{client, followup};
use super::report::{ms, percentile};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the reporter saw.
pub struct ReporterLatency {
    /// Time from the first try to the 200, per answered follow-up.
    pub answered: Vec<Duration>,
    /// Follow-ups given up after the 60 s a reporter should wait at most.
    pub given_up: usize,
}

impl ReporterLatency {
    /// `p50 / p95 / max, n answered, m given up`.
    pub fn summary(&mut self) -> String {
        let max = self.answered.iter().max().copied().unwrap_or_default();
        format!(
            "p50 {} / p95 {} / max {}; {} answered, {} given up after 60 s",
            ms(percentile(&mut self.answered, 50.0)),
            ms(percentile(&mut self.answered, 95.0)),
            ms(max),
            self.answered.len(),
            self.given_up
        )
    }
}

/// Follows up with `code` again and again until `stop`, one follow-up at a time, each on a
/// fresh connection (a reporter's phone does not hold one open across the queue).
pub async fn reporter(base: String, code: String, stop: Arc<AtomicBool>) -> ReporterLatency {
    let mut out = ReporterLatency {
        answered: Vec::new(),
        given_up: 0,
    };
    let bound = Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let mut answered = false;
        while start.elapsed() < bound {
            let c = client(1);
            let r = followup(c, base.clone(), code.clone()).await;
            match r.status {
                Some(200) => {
                    answered = true;
                    break;
                }
                // The server's Retry-After is 5 s; a transport error gets a 1 s pause.
                Some(503) => tokio::time::sleep(Duration::from_secs(5)).await,
                _ => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
        if answered {
            out.answered.push(start.elapsed());
        } else {
            out.given_up += 1;
        }
    }
    out
}
