//! The free-disk watermark (issue 5, section 4): below `disk.messages_min_free_mib` new
//! messages are refused with a clear 503, and below the lower `disk.submissions_min_free_mib`
//! submissions are too, because a new tip matters more than one more message. A full disk must
//! fail loudly in the log and politely on the wire, never as a half-written database.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one `statvfs` answer is reused: the check sits on every submission and message.
const CACHE: Duration = Duration::from_secs(5);
/// While the disk stays low, the loud log line repeats at most this often.
const REPEAT_LOG: Duration = Duration::from_secs(60);

/// Where the disk stands against the two watermarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiskState {
    /// Above both watermarks (or the disk cannot be measured: refusing people over a failed
    /// `statvfs` would hand an off switch to whoever can make it fail).
    Ok,
    /// Below the message watermark: messages are refused, submissions still taken.
    MessagesRefused,
    /// Below the submission floor: both refused.
    SubmissionsRefused,
}

struct Seen {
    at: Instant,
    free_bytes: Option<u64>,
    total_bytes: Option<u64>,
    state: DiskState,
    logged: Option<Instant>,
}

/// Watches the free space of one file system.
pub struct DiskWatch {
    path: PathBuf,
    messages_min: u64,
    submissions_min: u64,
    seen: Mutex<Option<Seen>>,
}

impl DiskWatch {
    /// Watches the file system holding `path`, with both thresholds in MiB.
    pub fn new(path: PathBuf, messages_min_mib: u64, submissions_min_mib: u64) -> Self {
        DiskWatch {
            path,
            messages_min: messages_min_mib.saturating_mul(1 << 20),
            submissions_min: submissions_min_mib.saturating_mul(1 << 20),
            seen: Mutex::new(None),
        }
    }

    fn measure(&self) -> (Option<u64>, Option<u64>) {
        // The nearest existing ancestor: with PostgreSQL, data_dir may never be created.
        let path = self
            .path
            .ancestors()
            .find(|p| !p.as_os_str().is_empty() && p.exists())
            .unwrap_or(std::path::Path::new("."));
        match nix::sys::statvfs::statvfs(path) {
            Ok(s) => {
                let frag = s.fragment_size();
                (
                    Some(s.blocks_available().saturating_mul(frag)),
                    Some(s.blocks().saturating_mul(frag)),
                )
            }
            Err(_) => (None, None),
        }
    }

    /// The current state, measured at most every few seconds. Logs loudly on entering a low
    /// state and then once a minute while it lasts.
    pub fn state(&self) -> DiskState {
        let mut g = self.seen.lock().expect("disk lock");
        if let Some(s) = g.as_ref()
            && s.at.elapsed() < CACHE
        {
            return s.state;
        }
        let (free, total) = self.measure();
        let state = match free {
            Some(f) if f < self.submissions_min => DiskState::SubmissionsRefused,
            Some(f) if f < self.messages_min => DiskState::MessagesRefused,
            _ => DiskState::Ok,
        };
        let prev = g.take();
        let mut logged = prev.as_ref().and_then(|p| p.logged);
        let was = prev.as_ref().map_or(DiskState::Ok, |p| p.state);
        if state != DiskState::Ok
            && (state != was || logged.is_none_or(|t| t.elapsed() >= REPEAT_LOG))
        {
            let what = match state {
                DiskState::MessagesRefused => "new messages are refused; submissions continue",
                _ => "new messages AND new submissions are refused",
            };
            tracing::error!(
                "DISK LOW: {} MiB free on the file system of {} (watermarks: messages {} MiB, submissions {} MiB): {what}; free space now",
                free.unwrap_or(0) >> 20,
                self.path.display(),
                self.messages_min >> 20,
                self.submissions_min >> 20,
            );
            logged = Some(Instant::now());
        } else if state == DiskState::Ok && was != DiskState::Ok {
            tracing::warn!("disk space recovered; messages and submissions accepted again");
            logged = None;
        }
        *g = Some(Seen {
            at: Instant::now(),
            free_bytes: free,
            total_bytes: total,
            state,
            logged,
        });
        state
    }

    /// Free space in whole percent of the file system, for the metrics gauge.
    pub fn free_percent(&self) -> Option<u64> {
        self.state();
        let g = self.seen.lock().expect("disk lock");
        let s = g.as_ref()?;
        match (s.free_bytes, s.total_bytes) {
            (Some(f), Some(t)) if t > 0 => Some(f.saturating_mul(100) / t),
            _ => None,
        }
    }
}
