//! Argon2 capacity for the intake, with no per-IP state (carrier-grade NAT and Tor put
//! thousands of people behind one address).
//!
//! * A **stock** of precomputed (code, tag, KEK) triples, in memory only, refilled only after a
//!   second without any Argon2 demand, takes Argon2 off the submission path. An entry older than
//!   `stock_max_age` is never handed out.
//! * A **gate** of `pool_size` permits runs every Argon2. A freed permit goes first to a waiting
//!   submission, then to the oldest waiting follow-up: submissions have strict priority, so a
//!   submission that needs Argon2 (empty stock) waits for at most one Argon2 to finish.
//! * Follow-ups wait in a **FIFO queue** of up to `followup_queue` entries, each with a deadline
//!   (`followup_wait`). A waiting entry holds no Argon2 memory, only its connection; past the
//!   deadline, or with the queue full, the answer is 503 with Retry-After. Because the queue is
//!   deeper than any flood the connection limits let in, a real reporter always gets a place and
//!   is served in arrival order: a flood slows reporters down, it never locks them out.
//! * The permit lives inside the blocking closure that runs Argon2, so a client that hangs up
//!   cannot free its permit while its Argon2 still runs (which let aborting clients start
//!   unbounded Argon2s and exhaust memory).
//! * Failed follow-ups raise an **alarm**: it is logged and counted, and with four or more
//!   permits it keeps a quarter of them from follow-ups. It never shrinks the queue and never
//!   refuses everyone, which would hand a guesser an off switch.

use crate::crypto::code::FollowupCode;
use crate::crypto::kdf::{CodeSecrets, derive_code_secrets};
use crate::crypto::primitives::{SecretKey32, wipe_stack};
pub use crate::web::gate::Busy;
use crate::web::gate::{Gate, Permit};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Quiet time before the stock is refilled. Submissions served from the stock hold no permit,
/// so "every permit free" alone would let the refill take a core in the middle of a burst.
const REFILL_AFTER_QUIET: Duration = Duration::from_secs(1);

/// State behind the metrics gauges. No per-event counters: a counter scraped every 15 s
/// time-stamps each submission and follow-up (issue 5, section 5), so only states are kept.
#[derive(Default, Debug)]
pub struct Metrics {
    /// When a follow-up was last refused with 503.
    last_shed: Mutex<Option<Instant>>,
}

impl Metrics {
    fn shed(&self) {
        *self.last_shed.lock().expect("metrics lock") = Some(Instant::now());
    }

    /// Whether follow-ups were shed (503) within the last minute: a state, not a count.
    pub fn shedding(&self) -> bool {
        self.last_shed
            .lock()
            .expect("metrics lock")
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
    }
}

/// Sizes, from config.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Argon2 permits.
    pub pool_size: usize,
    /// Stock target.
    pub stock_size: usize,
    /// Follow-ups waiting at once; past this they get 503.
    pub followup_queue: usize,
    /// Longest a follow-up waits for a permit before it gets 503.
    pub followup_wait: Duration,
    /// Failures per minute that raise the alarm.
    pub alarm_per_minute: usize,
    /// How long a precomputed code may wait in the stock.
    pub stock_max_age: Duration,
}

struct AlarmWindow {
    started: Instant,
    failures: usize,
}

/// A precomputed code. Boxed, so the stock's vector holds only pointers: popping or expiring an
/// entry frees (and so zeroes) the whole entry instead of leaving a stale copy of the code in
/// the vector's spare capacity.
struct StockEntry {
    made: Instant,
    code: FollowupCode,
    secrets: CodeSecrets,
}

/// The Argon2 pool, stock and alarm.
pub struct KdfPool {
    pepper: Arc<SecretKey32>,
    settings: PoolSettings,
    gate: Arc<Gate>,
    /// Boxed entries on purpose (see [`StockEntry`]).
    #[allow(clippy::vec_box)]
    stock: Mutex<Vec<Box<StockEntry>>>,
    drawn: Notify,
    window: Mutex<AlarmWindow>,
    /// Counters.
    pub metrics: Metrics,
    /// When a submission or follow-up last asked for Argon2 work; the refill waits for quiet.
    last_demand: Mutex<Instant>,
}

impl KdfPool {
    /// A new pool; call [`KdfPool::spawn_refill`] to start filling the stock.
    pub fn new(pepper: SecretKey32, settings: PoolSettings) -> Arc<Self> {
        let size = settings.pool_size;
        Arc::new(KdfPool {
            pepper: Arc::new(pepper),
            settings,
            gate: Gate::new(size),
            stock: Mutex::new(Vec::with_capacity(settings.stock_size)),
            drawn: Notify::new(),
            window: Mutex::new(AlarmWindow {
                started: Instant::now(),
                failures: 0,
            }),
            metrics: Metrics::default(),
            last_demand: Mutex::new(Instant::now()),
        })
    }

    /// Runs Argon2 on the blocking pool. The permit moves into the closure, so it is held until
    /// Argon2 has finished even if the request that wanted it is dropped meanwhile. The code
    /// and the secrets cross the thread boundary boxed, and the blocking thread's stack is
    /// wiped after the derivation, so no copy stays behind on either side.
    async fn derive(
        &self,
        permit: Permit,
        code: Box<FollowupCode>,
    ) -> (Box<FollowupCode>, Box<CodeSecrets>) {
        let pepper = self.pepper.clone();
        tokio::task::spawn_blocking(move || {
            let secrets = derive_boxed(&code, &pepper);
            wipe_stack();
            drop(permit);
            (code, secrets)
        })
        .await
        .expect("Argon2 task does not panic")
    }

    /// A fresh code with its tag and KEK for a submission: from the stock when it has a fresh
    /// enough one, otherwise computed now with priority over follow-ups.
    pub async fn issue(&self) -> (Box<FollowupCode>, Box<CodeSecrets>) {
        self.note_demand();
        let popped = self.pop_fresh();
        self.drawn.notify_one();
        if let Some(e) = popped {
            let StockEntry { code, secrets, .. } = *e;
            return (Box::new(code), Box::new(secrets));
        }
        let permit = self.gate.submission().await;
        self.derive(permit, Box::new(FollowupCode::generate()))
            .await
    }

    /// The newest stock entry that is younger than `stock_max_age`; older ones are dropped
    /// (and zeroed) on the way, so an expired code is never issued even if the refill task has
    /// not run for a while.
    fn pop_fresh(&self) -> Option<Box<StockEntry>> {
        let max = self.settings.stock_max_age;
        let mut s = self.stock.lock().expect("stock lock");
        while let Some(e) = s.pop() {
            if e.made.elapsed() < max {
                return Some(e);
            }
        }
        None
    }

    /// Derives a typed code's secrets for a follow-up: it waits its turn in the FIFO queue,
    /// behind any submission, for at most `followup_wait`.
    pub async fn derive_for_followup(
        &self,
        code: Box<FollowupCode>,
    ) -> Result<Box<CodeSecrets>, Busy> {
        self.note_demand();
        let permit = match self
            .gate
            .followup(self.settings.followup_queue, self.settings.followup_wait)
            .await
        {
            Ok(p) => p,
            Err(Busy) => {
                self.metrics.shed();
                return Err(Busy);
            }
        };
        Ok(self.derive(permit, code).await.1)
    }

    /// Records the outcome of a follow-up for the alarm.
    pub fn record_followup(&self, ok: bool) {
        let mut w = self.window.lock().expect("alarm lock");
        // Every outcome rolls the window, so a calm minute clears the alarm even when nobody
        // reads the metrics and no further guess fails.
        self.roll_window(&mut w);
        if ok {
            return;
        }
        w.failures += 1;
        if w.failures >= self.settings.alarm_per_minute
            && !self.gate.alarmed.swap(true, Ordering::AcqRel)
        {
            tracing::warn!(
                target: "bisik::alarm",
                failures_last_minute = w.failures,
                followup_share = self.gate.alarm_share,
                "ALARM: many follow-up codes failed in the last minute (guessing?); follow-ups queue in order, submissions keep priority"
            );
        }
    }

    fn roll_window(&self, w: &mut AlarmWindow) {
        if w.started.elapsed() >= Duration::from_secs(60) {
            let calm = w.failures < self.settings.alarm_per_minute / 2;
            w.started = Instant::now();
            w.failures = 0;
            if calm && self.gate.alarmed.swap(false, Ordering::AcqRel) {
                // Permits held back by the share may be handed to waiting follow-ups now.
                let mut st = self.gate.state.lock().expect("gate lock");
                self.gate.dispatch(&mut st);
                tracing::warn!(target: "bisik::alarm", "follow-up guessing alarm cleared; full follow-up capacity restored");
            }
        }
    }

    /// Whether the guessing alarm is raised.
    pub fn alarmed(&self) -> bool {
        let mut w = self.window.lock().expect("alarm lock");
        self.roll_window(&mut w);
        self.gate.alarmed.load(Ordering::Relaxed)
    }

    /// Codes in stock.
    pub fn stock_level(&self) -> usize {
        self.stock.lock().expect("stock lock").len()
    }

    fn note_demand(&self) {
        *self.last_demand.lock().expect("lock") = Instant::now();
    }

    /// Drops stock entries older than `stock_max_age`, so that a memory capture (a VM snapshot,
    /// a swapped page) holds only codes made in the last `stock_max_age` (at most an hour) and
    /// not yet issued: each of them will open the report of a reporter who comes later.
    fn expire_stock(&self) {
        let max = self.settings.stock_max_age;
        self.stock
            .lock()
            .expect("stock lock")
            .retain(|e| e.made.elapsed() < max);
    }

    /// Starts the background task that refills the stock while the pool is idle: it takes a
    /// permit only when every permit is free and nobody waits, so refilling never delays a
    /// person.
    pub fn spawn_refill(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.expire_stock();
                if me.stock_level() >= me.settings.stock_size {
                    let wake = (me.settings.stock_max_age / 4).max(Duration::from_secs(1));
                    let _ = tokio::time::timeout(wake, me.drawn.notified()).await;
                    continue;
                }
                let quiet = me.last_demand.lock().expect("lock").elapsed() >= REFILL_AFTER_QUIET;
                match quiet.then(|| me.gate.idle()).flatten() {
                    Some(p) => {
                        let (code, secrets) =
                            me.derive(p, Box::new(FollowupCode::generate())).await;
                        let mut s = me.stock.lock().expect("stock lock");
                        if s.len() < me.settings.stock_size {
                            s.push(Box::new(StockEntry {
                                made: Instant::now(),
                                code: *code,
                                secrets: *secrets,
                            }));
                        }
                    }
                    None => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
    }
}

/// Argon2 and HKDF for one code, boxed where it is made. Kept out of line so that
/// [`wipe_stack`] after it covers every frame it used.
#[inline(never)]
fn derive_boxed(code: &FollowupCode, pepper: &SecretKey32) -> Box<CodeSecrets> {
    Box::new(derive_code_secrets(code, pepper).expect("v1 parameters are valid"))
}
