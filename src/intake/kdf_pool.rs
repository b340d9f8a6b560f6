//! Argon2 capacity for the intake, with no per-IP state (carrier-grade NAT and Tor put
//! thousands of people behind one address).
//!
//! * A **stock** of precomputed (code, tag, KEK) triples, in memory only, refilled only after a
//!   second without any Argon2 demand, takes Argon2 off the submission path.
//! * A **bounded pool** of `pool_size` permits runs every Argon2. A submission that needs one
//!   (empty stock) queues on the pool directly, while a follow-up first needs a permit of the
//!   follow-up share: under load the share is always exhausted, so the submission is first in
//!   line for the next free permit, at most one Argon2 away. At most `followup_queue`
//!   follow-ups may wait or run at once; beyond that they get 503.
//! * Failed follow-ups raise an **alarm** that halves the follow-up share, which reserves the
//!   other half for submissions outright, and shrinks the queue. It never refuses everyone,
//!   which would hand a guesser an off switch.

use crate::crypto::code::FollowupCode;
use crate::crypto::kdf::{CodeSecrets, derive_code_secrets};
use crate::crypto::primitives::SecretKey32;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};

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
    /// Follow-ups waiting or running at once.
    pub followup_queue: usize,
    /// Failures per minute that raise the alarm.
    pub alarm_per_minute: usize,
    /// How long a precomputed code may wait in the stock.
    pub stock_max_age: Duration,
}

/// Follow-ups are over capacity: answer 503 with Retry-After.
#[derive(Debug)]
pub struct Busy;

struct AlarmWindow {
    started: Instant,
    failures: usize,
    shrinker: Option<tokio::task::JoinHandle<()>>,
}

/// The Argon2 pool, stock and alarm.
pub struct KdfPool {
    pepper: Arc<SecretKey32>,
    settings: PoolSettings,
    all: Arc<Semaphore>,
    followup: Arc<Semaphore>,
    followup_share: usize,
    inflight: AtomicUsize,
    stock: Mutex<Vec<(Instant, FollowupCode, CodeSecrets)>>,
    drawn: Notify,
    alarmed: AtomicBool,
    window: Mutex<AlarmWindow>,
    /// Counters.
    pub metrics: Metrics,
    /// When a submission or follow-up last asked for Argon2 work; the refill waits for quiet.
    last_demand: Mutex<Instant>,
}

impl KdfPool {
    /// A new pool; call [`KdfPool::spawn_refill`] to start filling the stock.
    pub fn new(pepper: SecretKey32, settings: PoolSettings) -> Arc<Self> {
        // Without an alarm follow-ups may use every core (submissions still go first, see the
        // module doc); the alarm halves this.
        let share = settings.pool_size;
        Arc::new(KdfPool {
            pepper: Arc::new(pepper),
            settings,
            all: Arc::new(Semaphore::new(settings.pool_size)),
            followup: Arc::new(Semaphore::new(share)),
            followup_share: share,
            inflight: AtomicUsize::new(0),
            stock: Mutex::new(Vec::with_capacity(settings.stock_size)),
            drawn: Notify::new(),
            alarmed: AtomicBool::new(false),
            window: Mutex::new(AlarmWindow {
                started: Instant::now(),
                failures: 0,
                shrinker: None,
            }),
            metrics: Metrics::default(),
            last_demand: Mutex::new(Instant::now()),
        })
    }

    async fn derive(&self, code: FollowupCode) -> (FollowupCode, CodeSecrets) {
        let pepper = self.pepper.clone();
        tokio::task::spawn_blocking(move || {
            let s = derive_code_secrets(&code, &pepper).expect("v1 parameters are valid");
            (code, s)
        })
        .await
        .expect("Argon2 task does not panic")
    }

    /// A fresh code with its tag and KEK for a submission: from the stock when it has one,
    /// otherwise computed now with priority over follow-ups.
    pub async fn issue(&self) -> (FollowupCode, CodeSecrets) {
        self.note_demand();
        let popped = self.stock.lock().expect("stock lock").pop();
        self.drawn.notify_one();
        if let Some((_, code, secrets)) = popped {
            return (code, secrets);
        }
        let _permit = self
            .all
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        self.derive(FollowupCode::generate()).await
    }

    /// Derives a typed code's secrets for a follow-up, within the follow-up share and queue.
    pub async fn derive_for_followup(&self, code: FollowupCode) -> Result<CodeSecrets, Busy> {
        self.note_demand();
        let limit = if self.alarmed.load(Ordering::Relaxed) {
            (self.settings.followup_queue / 4).max(1)
        } else {
            self.settings.followup_queue
        };
        if self.inflight.fetch_add(1, Ordering::AcqRel) >= limit {
            self.inflight.fetch_sub(1, Ordering::AcqRel);
            self.metrics.shed();
            return Err(Busy);
        }
        struct Dec<'a>(&'a AtomicUsize);
        impl Drop for Dec<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _dec = Dec(&self.inflight);
        let _share = self
            .followup
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let _permit = self
            .all
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        Ok(self.derive(code).await.1)
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
            && !self.alarmed.swap(true, Ordering::AcqRel)
        {
            let reduced = (self.followup_share / 2).max(1);
            let take = self.followup_share - reduced;
            if take > 0 {
                // Under a flood every follow-up permit is busy, so the permits are taken as they
                // come free (the semaphore is fair: after the bounded queue ahead drains).
                let sem = self.followup.clone();
                w.shrinker = Some(tokio::spawn(async move {
                    let held = sem.acquire_many_owned(take as u32).await;
                    // Held until the task is aborted when the alarm clears.
                    std::future::pending::<()>().await;
                    drop(held);
                }));
            }
            tracing::warn!(
                target: "bisik::alarm",
                failures_last_minute = w.failures,
                followup_share = reduced,
                "ALARM: many follow-up codes failed in the last minute (guessing?); follow-up capacity reduced, submissions unaffected"
            );
        }
    }

    fn roll_window(&self, w: &mut AlarmWindow) {
        if w.started.elapsed() >= Duration::from_secs(60) {
            let calm = w.failures < self.settings.alarm_per_minute / 2;
            w.started = Instant::now();
            w.failures = 0;
            if calm && self.alarmed.swap(false, Ordering::AcqRel) {
                if let Some(t) = w.shrinker.take() {
                    t.abort();
                }
                tracing::warn!(target: "bisik::alarm", "follow-up guessing alarm cleared; full follow-up capacity restored");
            }
        }
    }

    /// Whether the guessing alarm is raised.
    pub fn alarmed(&self) -> bool {
        let mut w = self.window.lock().expect("alarm lock");
        self.roll_window(&mut w);
        self.alarmed.load(Ordering::Relaxed)
    }

    /// Codes in stock.
    pub fn stock_level(&self) -> usize {
        self.stock.lock().expect("stock lock").len()
    }

    fn note_demand(&self) {
        *self.last_demand.lock().expect("lock") = Instant::now();
    }

    /// Drops stock entries older than `stock_max_age`. A memory capture (a VM snapshot, swap)
    /// then yields only the codes of the last few minutes, not codes for reporters who have
    /// not yet come.
    fn expire_stock(&self) {
        let max = self.settings.stock_max_age;
        self.stock
            .lock()
            .expect("stock lock")
            .retain(|(made, _, _)| made.elapsed() < max);
    }

    /// Starts the background task that refills the stock while the pool is idle: it takes a
    /// permit only when every permit is free and no follow-up is waiting, so refilling never
    /// delays a person.
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
                let idle = me.all.available_permits() == me.settings.pool_size
                    && me.inflight.load(Ordering::Acquire) == 0
                    && me.last_demand.lock().expect("lock").elapsed() >= REFILL_AFTER_QUIET;
                let permit = if idle {
                    me.all.clone().try_acquire_owned().ok()
                } else {
                    None
                };
                match permit {
                    Some(p) => {
                        let (code, secrets) = me.derive(FollowupCode::generate()).await;
                        drop(p);
                        let mut s = me.stock.lock().expect("stock lock");
                        if s.len() < me.settings.stock_size {
                            s.push((Instant::now(), code, secrets));
                        }
                    }
                    None => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
    }
}
