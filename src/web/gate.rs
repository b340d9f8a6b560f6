//! A bounded pool of permits for memory-hard work (Argon2), shared by the intake and the desk.
//!
//! Each permit stands for one Argon2 in flight, so `size` permits bound the memory that Argon2
//! can take however many requests arrive. Two waiting lines: *priority* waiters (the intake's
//! submissions) are served first and never refused; *queued* waiters (follow-ups, desk logins)
//! wait in arrival order in a queue of bounded length, each with a deadline, and are refused
//! ([`Busy`]) when the queue is full or the deadline passes. A waiting entry holds no Argon2
//! memory, only its connection. The permit must move into the blocking closure that runs
//! Argon2 (see [`Bounded::run`]), so a client that hangs up cannot free its permit while its
//! Argon2 still runs.

use crate::crypto::primitives::wipe_stack;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Over capacity (queue full or deadline passed): answer 503 with Retry-After.
#[derive(Debug)]
pub struct Busy;

/// Who asked for a permit: follow-ups count against the follow-up share.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Served first, never refused (a submission).
    Submission,
    /// Queued in arrival order, bounded (a follow-up, a desk login).
    Followup,
    /// Only when idle (the stock refill).
    Refill,
}

pub(crate) struct GateState {
    pub(crate) free: usize,
    pub(crate) followups_running: usize,
    pub(crate) submissions: VecDeque<oneshot::Sender<Permit>>,
    pub(crate) followups: VecDeque<oneshot::Sender<Permit>>,
}

/// The Argon2 permits and the two waiting lines.
pub(crate) struct Gate {
    size: usize,
    /// Follow-up share under the alarm.
    pub(crate) alarm_share: usize,
    pub(crate) alarmed: AtomicBool,
    pub(crate) state: Mutex<GateState>,
}

/// The right to run one Argon2. Dropping it (in the blocking closure, when Argon2 is done)
/// hands it to the next in line.
pub(crate) struct Permit {
    gate: Arc<Gate>,
    class: Class,
    armed: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.gate.state.lock().expect("gate lock");
            st.free += 1;
            if self.class == Class::Followup {
                st.followups_running -= 1;
            }
            self.gate.dispatch(&mut st);
        }
    }
}

impl Gate {
    /// `size` permits, all free; under the alarm follow-ups keep `size - size/4` of them.
    pub(crate) fn new(size: usize) -> Arc<Self> {
        Arc::new(Gate {
            size,
            alarm_share: (size - size / 4).max(1),
            alarmed: AtomicBool::new(false),
            state: Mutex::new(GateState {
                free: size,
                followups_running: 0,
                submissions: VecDeque::new(),
                followups: VecDeque::new(),
            }),
        })
    }

    fn share(&self) -> usize {
        if self.alarmed.load(Ordering::Relaxed) {
            self.alarm_share
        } else {
            self.size
        }
    }

    fn permit(self: &Arc<Self>, st: &mut GateState, class: Class) -> Permit {
        st.free -= 1;
        if class == Class::Followup {
            st.followups_running += 1;
        }
        Permit {
            gate: self.clone(),
            class,
            armed: true,
        }
    }

    /// Hands free permits out: waiting submissions first, then follow-ups in arrival order
    /// within the share. Entries whose client gave up (deadline, hang-up) are skipped.
    pub(crate) fn dispatch(self: &Arc<Self>, st: &mut GateState) {
        while st.free > 0 {
            let (tx, class) = if let Some(tx) = st.submissions.pop_front() {
                (tx, Class::Submission)
            } else if st.followups_running < self.share()
                && let Some(tx) = st.followups.pop_front()
            {
                (tx, Class::Followup)
            } else {
                return;
            };
            let p = self.permit(st, class);
            if let Err(mut p) = tx.send(p) {
                // The waiter is gone: take the permit back without re-entering the lock.
                p.armed = false;
                st.free += 1;
                if class == Class::Followup {
                    st.followups_running -= 1;
                }
            }
        }
    }

    pub(crate) async fn submission(self: &Arc<Self>) -> Permit {
        let rx = {
            let mut st = self.state.lock().expect("gate lock");
            if st.free > 0 && st.submissions.is_empty() {
                return self.permit(&mut st, Class::Submission);
            }
            let (tx, rx) = oneshot::channel();
            st.submissions.push_back(tx);
            // Entries ahead may all be abandoned ones, with every permit free: hand out now
            // rather than wait for a release that may never come.
            self.dispatch(&mut st);
            rx
        };
        rx.await.expect("the gate never drops a waiting submission")
    }

    pub(crate) async fn followup(
        self: &Arc<Self>,
        cap: usize,
        wait: Duration,
    ) -> Result<Permit, Busy> {
        let rx = {
            let mut st = self.state.lock().expect("gate lock");
            if st.free > 0
                && st.submissions.is_empty()
                && st.followups.is_empty()
                && st.followups_running < self.share()
            {
                return Ok(self.permit(&mut st, Class::Followup));
            }
            if st.followups.len() >= cap {
                st.followups.retain(|tx| !tx.is_closed());
            }
            if st.followups.len() >= cap {
                return Err(Busy);
            }
            let (tx, rx) = oneshot::channel();
            st.followups.push_back(tx);
            self.dispatch(&mut st);
            rx
        };
        // On timeout the receiver is dropped: the gate skips the entry, and a permit sent in
        // the same instant is dropped with the channel, which returns it.
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Busy),
        }
    }

    /// A permit only when nobody waits and every permit is free, so refilling never delays a
    /// person.
    pub(crate) fn idle(self: &Arc<Self>) -> Option<Permit> {
        let mut st = self.state.lock().expect("gate lock");
        st.followups.retain(|tx| !tx.is_closed());
        (st.free == self.size && st.submissions.is_empty() && st.followups.is_empty())
            .then(|| self.permit(&mut st, Class::Refill))
    }
}

/// A gate with one queued line of fixed length and deadline, for callers that have no
/// priority class (the desk's logins and password changes).
#[derive(Clone)]
pub struct Bounded {
    gate: Arc<Gate>,
    queue: usize,
    wait: Duration,
}

impl Bounded {
    /// `size` Argon2s at once; at most `queue` waiting, each for at most `wait`.
    pub fn new(size: usize, queue: usize, wait: Duration) -> Self {
        Bounded {
            gate: Gate::new(size.max(1)),
            queue,
            wait,
        }
    }

    /// Runs `work` on the blocking pool once a permit is free. The permit moves into the
    /// closure, so it is held until `work` has finished even if the caller is dropped; the
    /// blocking thread's stack is wiped afterwards, since `work` handles passwords and keys.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Busy> {
        let permit = self.gate.followup(self.queue, self.wait).await?;
        tokio::task::spawn_blocking(move || {
            let r = work();
            wipe_stack();
            drop(permit);
            r
        })
        .await
        .map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A freed permit goes to a submission that arrived after a waiting follow-up; the
    /// follow-up is served next, in order; one past its deadline gets Busy and is skipped.
    #[tokio::test]
    async fn submissions_go_first_and_followups_in_order() {
        let g = Gate::new(1);
        let held = g.followup(8, Duration::from_secs(5)).await.ok().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let expired = {
            let g = g.clone();
            tokio::spawn(async move { g.followup(8, Duration::from_millis(10)).await.is_err() })
        };
        assert!(expired.await.unwrap(), "past its deadline: Busy");
        let mut waiters = Vec::new();
        for (name, sub) in [
            ("followup 1", false),
            ("followup 2", false),
            ("submission", true),
        ] {
            let (g, order) = (g.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let p = if sub {
                    g.submission().await
                } else {
                    g.followup(8, Duration::from_secs(5)).await.ok().unwrap()
                };
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(p);
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["submission", "followup 1", "followup 2"]
        );
        let st = g.state.lock().unwrap();
        assert_eq!((st.free, st.followups_running), (1, 0));
    }
}
