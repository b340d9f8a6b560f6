//! Desk sessions: server-side, in memory only, so restarting the desk logs everyone out.
//!
//! The cookie (or an API bearer token, which is the same thing) carries a random 256-bit
//! token `T`. The server never keeps `T`: it files the session under SHA-256 of `T` and keeps
//! the account's unlocked keys sealed under a key derived from `T`. So the server's memory
//! holds no usable key between requests: only a request that brings its cookie can open them,
//! for as long as that request runs. The CSRF token is derived from `T` too, so it is bound to
//! the session without being stored.
//!
//! * **Lifetime:** `desk.session_idle_secs` without a request (15 min) or
//!   `desk.session_absolute_secs` after login (8 h), whichever comes first. An expired session
//!   is dropped (its sealed keys zeroized) and leaves only a tombstone for a while, so the next
//!   request gets "session expired" rather than a bare login page.
//! * **Login** always makes a new token (no fixation); logout drops the session and answers
//!   `Clear-Site-Data`.
//! * **Disable or reset** of an account drops all its sessions.

use super::accounts::Role;
use super::keys::{StaffKeys, StaffSecrets, aad};
use crate::crypto::envelope;
use crate::crypto::primitives::{SecretKey32, ct_eq, hkdf32, os_fill, sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Envelope kind of keys sealed under a session key.
const KIND_SESSION_KEYS: u8 = 0xF3;
/// How long an expired session's tombstone answers "expired".
const TOMBSTONE: Duration = Duration::from_secs(3600);

/// The cookie name over plain HTTP (the loopback listener).
pub const COOKIE_PLAIN: &str = "bisik_desk";
/// The cookie name over TLS: `__Host-` pins it to this host, path `/`, Secure.
pub const COOKIE_TLS: &str = "__Host-bisik_desk";

/// The secret the client holds. Never stored on the server; Debug prints nothing.
pub struct SessionToken(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([REDACTED])")
    }
}

impl SessionToken {
    fn random() -> Self {
        let mut t = Zeroizing::new([0u8; 32]);
        os_fill(t.as_mut_slice());
        SessionToken(t)
    }

    /// Parses the hex form from a cookie or bearer header.
    pub fn parse(text: &str) -> Option<Self> {
        let mut t = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), t.as_mut_slice()).ok()?;
        Some(SessionToken(t))
    }

    /// The hex form the client keeps.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_slice()))
    }

    fn id(&self) -> [u8; 32] {
        sha256(&[b"bisik-desk-session-id-v1\0", self.0.as_slice()])
    }

    fn key(&self) -> SecretKey32 {
        hkdf32(self.0.as_slice(), b"bisik desk session keys v1")
    }

    /// The CSRF token of this session: every state-changing form carries it.
    pub fn csrf(&self) -> String {
        hex::encode(&hkdf32(self.0.as_slice(), b"bisik desk csrf v1").expose()[..16])
    }
}

/// Where the account stands in this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Logged in with a one-time password: only the first-login enrolment is open.
    Enrol,
    /// Enrolled and logged in with password and TOTP: keys unlocked.
    Full,
}

struct Entry {
    staff_id: String,
    username: String,
    role: Role,
    stage: Stage,
    created: Instant,
    last: Instant,
    /// StaffSecrets sealed under the session key; empty in the Enrol stage.
    sealed: Zeroizing<Vec<u8>>,
    /// The TOTP secret offered on the enrolment page, sealed under the session key.
    pending_totp: Zeroizing<Vec<u8>>,
    /// Decrypted tip summaries for search (issue 7): held for the session's lifetime only, and
    /// zeroized when the last reference goes (logout, expiry, the sweep). A build running in
    /// the background holds only a weak reference, so it stops when the session goes.
    summaries: Option<super::search::Cell>,
}

/// Why a token does not name a live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such session (never was, logged out, or the desk restarted).
    Unknown,
    /// It existed and timed out.
    Expired,
}

/// A live session as handlers see it.
#[derive(Debug, Clone)]
pub struct Current {
    /// Account id.
    pub staff_id: String,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Stage.
    pub stage: Stage,
}

/// Every live session.
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Entry>>,
    expired: Mutex<HashMap<[u8; 32], Instant>>,
    idle: Duration,
    absolute: Duration,
}

impl Sessions {
    /// An empty table with the configured lifetimes.
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        Sessions {
            live: Mutex::new(HashMap::new()),
            expired: Mutex::new(HashMap::new()),
            idle,
            absolute,
        }
    }

    /// Starts a session; `secrets` are sealed under the new token's key (Full stage).
    pub fn create(
        &self,
        staff_id: &str,
        username: &str,
        role: Role,
        stage: Stage,
        secrets: Option<&StaffSecrets>,
    ) -> SessionToken {
        let token = SessionToken::random();
        let id = token.id();
        let sealed = match secrets {
            Some(s) => Zeroizing::new(envelope::seal(
                &token.key(),
                &aad(KIND_SESSION_KEYS, &id),
                &s.encode(),
            )),
            None => Zeroizing::new(Vec::new()),
        };
        let now = Instant::now();
        self.live.lock().expect("sessions").insert(
            id,
            Entry {
                staff_id: staff_id.to_owned(),
                username: username.to_owned(),
                role,
                stage,
                created: now,
                last: now,
                sealed,
                pending_totp: Zeroizing::new(Vec::new()),
                summaries: None,
            },
        );
        token
    }

    fn expired_at(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.last) >= self.idle || now.duration_since(e.created) >= self.absolute
    }

    /// Looks the token up and counts this request as activity.
    pub fn touch(&self, token: &SessionToken) -> Result<Current, Refused> {
        let id = token.id();
        let now = Instant::now();
        let mut live = self.live.lock().expect("sessions");
        match live.get_mut(&id) {
            Some(e) if !self.expired_at(e, now) => {
                e.last = now;
                Ok(Current {
                    staff_id: e.staff_id.clone(),
                    username: e.username.clone(),
                    role: e.role,
                    stage: e.stage,
                })
            }
            Some(_) => {
                // Dropping the entry zeroizes its sealed keys.
                live.remove(&id);
                drop(live);
                self.expired.lock().expect("sessions").insert(id, now);
                Err(Refused::Expired)
            }
            None => {
                drop(live);
                if self.expired.lock().expect("sessions").contains_key(&id) {
                    Err(Refused::Expired)
                } else {
                    Err(Refused::Unknown)
                }
            }
        }
    }

    /// The unlocked keys of a Full session, opened with the key only the token gives.
    pub fn secrets(&self, token: &SessionToken) -> Option<StaffSecrets> {
        let id = token.id();
        let sealed = {
            let live = self.live.lock().expect("sessions");
            let e = live.get(&id)?;
            if e.stage != Stage::Full || e.sealed.is_empty() {
                return None;
            }
            e.sealed.clone()
        };
        let plain = envelope::open(&token.key(), &aad(KIND_SESSION_KEYS, &id), &sealed).ok()?;
        StaffSecrets::decode(&plain).ok()
    }

    /// Keeps the TOTP secret offered on the enrolment page, sealed under the session key.
    pub fn set_pending_totp(&self, token: &SessionToken, secret: &[u8]) {
        let id = token.id();
        let sealed = envelope::seal(&token.key(), &aad(KIND_SESSION_KEYS, &id), secret);
        if let Some(e) = self.live.lock().expect("sessions").get_mut(&id) {
            e.pending_totp = Zeroizing::new(sealed);
        }
    }

    /// The TOTP secret offered on the enrolment page, if any.
    pub fn pending_totp(&self, token: &SessionToken) -> Option<Zeroizing<Vec<u8>>> {
        let id = token.id();
        let sealed = {
            let live = self.live.lock().expect("sessions");
            let e = live.get(&id)?;
            if e.pending_totp.is_empty() {
                return None;
            }
            e.pending_totp.clone()
        };
        envelope::open(&token.key(), &aad(KIND_SESSION_KEYS, &id), &sealed).ok()
    }

    /// After enrolment: the session becomes Full, holding the new keys.
    pub fn upgrade(&self, token: &SessionToken, secrets: &StaffSecrets) {
        let id = token.id();
        let sealed = envelope::seal(
            &token.key(),
            &aad(KIND_SESSION_KEYS, &id),
            &secrets.encode(),
        );
        if let Some(e) = self.live.lock().expect("sessions").get_mut(&id) {
            e.stage = Stage::Full;
            e.sealed = Zeroizing::new(sealed);
            e.pending_totp = Zeroizing::new(Vec::new());
        }
    }

    /// The session's search summaries, if a build has started.
    pub fn summaries(&self, token: &SessionToken) -> Option<super::search::Cell> {
        self.live
            .lock()
            .expect("sessions")
            .get(&token.id())
            .and_then(|e| e.summaries.clone())
    }

    /// Keeps `s` as the session's search summaries, unless another request of the same session
    /// kept a cell since this one read `seen` (two first searches at once): then that cell is
    /// returned and `s` is not kept, so only one build runs. `None` when the session is gone, so
    /// summaries built during a logout are dropped, not kept.
    pub fn keep_summaries(
        &self,
        token: &SessionToken,
        s: super::search::Cell,
        seen: Option<&super::search::Cell>,
    ) -> Option<super::search::Cell> {
        let mut live = self.live.lock().expect("sessions");
        let e = live.get_mut(&token.id())?;
        match (&e.summaries, seen) {
            (Some(cur), None) => Some(cur.clone()),
            (Some(cur), Some(old)) if !std::sync::Arc::ptr_eq(cur, old) => Some(cur.clone()),
            _ => {
                e.summaries = Some(s.clone());
                Some(s)
            }
        }
    }

    /// Logout: the session is gone at once.
    pub fn destroy(&self, token: &SessionToken) {
        self.live.lock().expect("sessions").remove(&token.id());
    }

    /// Drops every session of an account (disabled, reset). Returns how many.
    pub fn destroy_for(&self, staff_id: &str) -> usize {
        let mut live = self.live.lock().expect("sessions");
        let before = live.len();
        live.retain(|_, e| e.staff_id != staff_id);
        before - live.len()
    }

    /// Drops expired sessions (zeroizing their sealed keys) and old tombstones. Run every few
    /// seconds, so an idle session's keys do not outlive its timeout.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut gone = Vec::new();
        self.live.lock().expect("sessions").retain(|id, e| {
            let keep = !self.expired_at(e, now);
            if !keep {
                gone.push(*id);
            }
            keep
        });
        let mut ex = self.expired.lock().expect("sessions");
        for id in gone {
            ex.insert(id, now);
        }
        ex.retain(|_, t| now.duration_since(*t) < TOMBSTONE);
    }

    /// Live sessions (for tests and the benchmark).
    pub fn live_count(&self) -> usize {
        self.live.lock().expect("sessions").len()
    }
}

/// The acting person of a request that passed [`crate::desk::pages::authed`]: what the rest of
/// the desk (audit log, triage) builds on.
pub struct Authed {
    /// Who, in which role and stage.
    pub current: Current,
    /// The request's token (from the cookie or the bearer header).
    pub token: SessionToken,
    /// Whether the token came in a cookie (then forms need the CSRF token).
    pub via_cookie: bool,
    pub(crate) sessions: std::sync::Arc<Sessions>,
}

impl Authed {
    /// The acting person's unlocked keys (X25519 secret, Ed25519 signing key), opened for this
    /// request with the key only the client's token gives. `None` in the Enrol stage. Drop
    /// them as soon as the signature or unwrap is done: they are zeroized on drop.
    pub fn unlocked_keys(&self) -> Option<StaffKeys> {
        unlocked_keys(&self.sessions, &self.token)
    }

    /// The CSRF token to put in this session's forms.
    pub fn csrf(&self) -> String {
        self.token.csrf()
    }
}

/// Checks a submitted CSRF token against the session's, in constant time.
pub fn csrf_ok(token: &SessionToken, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| ct_eq(s.as_bytes(), token.csrf().as_bytes()))
}

/// Opens the keys of the session `token` names; the small API the rest of the desk uses to
/// sign (audit log, certificates) and unwrap (triage).
pub fn unlocked_keys(sessions: &Sessions, token: &SessionToken) -> Option<StaffKeys> {
    sessions.secrets(token).map(|s| s.keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::keys::StaffKeys;

    #[test]
    fn keys_open_only_with_the_token_and_vanish_at_logout() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let (keys, _) = StaffKeys::generate();
        let seed = keys.ed25519.to_bytes();
        let secrets = StaffSecrets {
            keys,
            totp: Zeroizing::new(vec![1; 20]),
        };
        let t = s.create("id1", "budi", Role::Supervisor, Stage::Full, Some(&secrets));
        assert_eq!(unlocked_keys(&s, &t).unwrap().ed25519.to_bytes(), seed);
        let other = SessionToken::random();
        assert!(unlocked_keys(&s, &other).is_none());
        assert!(csrf_ok(&t, Some(&t.csrf())));
        assert!(!csrf_ok(&t, Some(&other.csrf())));
        assert!(!csrf_ok(&t, None));
        s.destroy(&t);
        assert_eq!(s.touch(&t).unwrap_err(), Refused::Unknown);
        assert!(unlocked_keys(&s, &t).is_none());
    }

    #[test]
    fn idle_sessions_expire_with_a_tombstone() {
        let s = Sessions::new(Duration::from_millis(1), Duration::from_secs(600));
        let t = s.create("id1", "budi", Role::Admin, Stage::Full, None);
        std::thread::sleep(Duration::from_millis(5));
        s.sweep();
        assert_eq!(s.live_count(), 0);
        assert_eq!(s.touch(&t).unwrap_err(), Refused::Expired);
    }
}
