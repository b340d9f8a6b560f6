//! Resubmission: a report form carries a random token, and the code issued for it is kept,
//! against that token, for at most [`MAX_TTL`]. Double-tapping "Kirim", or sending again after the
//! answer was lost on a slow network, stores one report and shows the same code again.
//!
//! Memory only: the pairing of token and code is never written anywhere, and an entry is
//! dropped (zeroizing the code) once its time is up, by the sweeper. While the first send is
//! still being stored, a second one with the same token waits for it instead of storing a
//! second report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The longest a code is kept for its form (`reporter.resubmit_secs`, 600 by default): long
/// enough for a retry on a bad connection.
pub const MAX_TTL: Duration = Duration::from_secs(600);

/// Tokens tracked at once. Past this a form is still accepted, just without the guard.
const MAX_ENTRIES: usize = 20_000;

/// The slot of one form token: empty until a code was issued for it.
pub type Slot = Arc<tokio::sync::Mutex<Option<Zeroizing<String>>>>;

/// Form token -> code.
pub struct Resubmit {
    map: Mutex<HashMap<[u8; 16], (Instant, Slot)>>,
    ttl: Duration,
}

/// Parses a form token (32 hex digits).
pub fn parse_token(s: &str) -> Option<[u8; 16]> {
    let mut t = [0u8; 16];
    (s.len() == 32).then_some(())?;
    hex::decode_to_slice(s, &mut t).ok()?;
    Some(t)
}

/// A fresh form token.
pub fn new_token() -> String {
    let mut t = [0u8; 16];
    crate::crypto::primitives::os_fill(&mut t);
    hex::encode(t)
}

impl Resubmit {
    /// An empty map whose entries live `ttl` (at most [`MAX_TTL`]).
    pub fn new(ttl: Duration) -> Self {
        Resubmit {
            map: Mutex::new(HashMap::new()),
            ttl: ttl.min(MAX_TTL),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 16], (Instant, Slot)>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot for a token, made on first use; `None` when the map is full.
    pub fn slot(&self, token: [u8; 16]) -> Option<Slot> {
        let now = Instant::now();
        let mut map = self.lock();
        if let Some((at, slot)) = map.get(&token)
            && now.duration_since(*at) < self.ttl
        {
            return Some(slot.clone());
        }
        if map.len() >= MAX_ENTRIES {
            return None;
        }
        let slot = Slot::default();
        map.insert(token, (now, slot.clone()));
        Some(slot)
    }

    /// Drops entries older than their time to live.
    pub fn sweep(&self) {
        let now = Instant::now();
        let ttl = self.ttl;
        self.lock()
            .retain(|_, (at, _)| now.duration_since(*at) < ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_token_one_slot() {
        let r = Resubmit::new(MAX_TTL);
        let t = parse_token(&new_token()).unwrap();
        let a = r.slot(t).unwrap();
        let b = r.slot(t).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = r.slot(parse_token(&new_token()).unwrap()).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        assert!(parse_token("xyz").is_none());
        assert!(parse_token(&"g".repeat(32)).is_none());
    }
}
