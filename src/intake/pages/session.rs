//! The reporter's follow-up session: the only cookie the intake ever sets (I2).
//!
//! Entering a code costs one Argon2; a session lets the reporter read, page through and reply
//! without typing the code again. It lives in this process's memory only (a restart ends every
//! session), and it does not hold K_r in the clear: K_r is sealed under a random 256-bit secret
//! that exists only in the cookie. Between requests the server holds a ciphertext it cannot open;
//! a memory dump of an idle server yields no report key. The cookie's other half is the session
//! id the server looks the ciphertext up by.
//!
//! Lifetimes: idle and absolute (10 and 30 minutes by default, `reporter.session_idle_secs` and
//! `reporter.session_absolute_secs`). A sweeper drops expired sessions every second, so an
//! abandoned session's ciphertext does not wait for a request to be removed; dropping zeroizes.

use crate::crypto::envelope::{self, ItemAad};
use crate::crypto::primitives::{SecretKey32, ct_eq, os_fill, sha256};
use crate::domain::ReportId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::{Zeroize, Zeroizing};

/// The cookie's name: neutral, so a glance at the browser's storage says nothing.
pub const COOKIE: &str = "sesi";

/// How many sessions may be open at once; past this a new one is refused (busy), never one of
/// the open ones evicted.
const MAX_SESSIONS: usize = 10_000;

/// Kind byte of the AAD that binds a sealed K_r to its session id (outside the item kinds).
const SESSION_KIND: u8 = 0xF1;

struct Session {
    report: ReportId,
    sealed_kr: Vec<u8>,
    csrf: [u8; 32],
    created: Instant,
    seen: Instant,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.sealed_kr.zeroize();
        self.csrf.zeroize();
    }
}

/// An open session, for the length of one request: K_r in the clear, zeroized on drop.
pub struct Live {
    /// The report.
    pub report: ReportId,
    /// K_r, unsealed with the cookie's secret.
    pub k_r: SecretKey32,
    /// The session's CSRF token (hex), for the forms on the page.
    pub csrf: Zeroizing<String>,
}

impl Live {
    /// Whether a form's token is this session's (constant time).
    pub fn csrf_ok(&self, given: Option<&str>) -> bool {
        given.is_some_and(|g| ct_eq(g.as_bytes(), self.csrf.as_bytes()))
    }
}

/// All open sessions, by the SHA-256 of their id: a removed entry's slot in the table is not
/// freed (so not zeroed by the allocator), and what lingers there then is a hash that opens
/// nothing, not the id.
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    absolute: Duration,
}

fn aad(id: &[u8; 32]) -> ItemAad {
    ItemAad {
        report_id: id[..16].try_into().expect("16 bytes"),
        kind: SESSION_KIND,
        item_id: id[16..].try_into().expect("16 bytes"),
        direction: 0,
        seq: 0,
        prev: [0; 32],
    }
}

/// Splits a cookie value (128 hex digits) into session id and sealing secret.
fn split(value: &str) -> Option<([u8; 32], SecretKey32)> {
    if value.len() != 128 {
        return None;
    }
    let mut raw = Zeroizing::new([0u8; 64]);
    hex::decode_to_slice(value, &mut raw[..]).ok()?;
    let id: [u8; 32] = raw[..32].try_into().expect("32 bytes");
    let secret = SecretKey32::from_slice(&raw[32..]).ok()?;
    Some((id, secret))
}

impl Sessions {
    /// Sessions with the given idle and absolute lifetimes.
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            absolute,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session for a report whose K_r a code just unwrapped. Returns the cookie value,
    /// or `None` when too many sessions are open.
    pub fn create(&self, report: ReportId, k_r: &SecretKey32) -> Option<Zeroizing<String>> {
        let mut raw = Zeroizing::new([0u8; 64]);
        os_fill(&mut raw[..]);
        let id: [u8; 32] = raw[..32].try_into().expect("32 bytes");
        let secret = SecretKey32::from_slice(&raw[32..]).expect("32 bytes");
        let sealed_kr = envelope::seal(&secret, &aad(&id), k_r.expose());
        let mut csrf = [0u8; 32];
        os_fill(&mut csrf);
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            return None;
        }
        map.insert(
            sha256(&[&id]),
            Session {
                report,
                sealed_kr,
                csrf,
                created: now,
                seen: now,
            },
        );
        drop(map);
        let mut value = Zeroizing::new(String::with_capacity(128));
        for b in raw.iter() {
            value.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            value.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        Some(value)
    }

    fn alive(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.seen) < self.idle && now.duration_since(s.created) < self.absolute
    }

    /// The session a cookie value names, if it is alive; counts as activity. An expired session
    /// is removed on the spot.
    pub fn open(&self, value: &str) -> Option<Live> {
        let (id, secret) = split(value)?;
        let key = sha256(&[&id]);
        let now = Instant::now();
        let mut map = self.lock();
        let s = map.get_mut(&key)?;
        if !self.alive(s, now) {
            map.remove(&key);
            return None;
        }
        let k_r = envelope::open(&secret, &aad(&id), &s.sealed_kr)
            .ok()
            .and_then(|k| SecretKey32::from_slice(&k).ok())?;
        s.seen = now;
        let mut csrf = Zeroizing::new(String::with_capacity(64));
        for b in s.csrf {
            csrf.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            csrf.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        Some(Live {
            report: s.report,
            k_r,
            csrf,
        })
    }

    /// Ends the session a cookie value names (log out, remove access).
    pub fn end(&self, value: &str) {
        if let Some((id, _)) = split(value) {
            self.lock().remove(&sha256(&[&id]));
        }
    }

    /// Ends every session of a report (after its access is removed, no other tab keeps it).
    pub fn end_report(&self, report: ReportId) {
        self.lock().retain(|_, s| s.report != report);
    }

    /// Drops expired sessions.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| self.alive(s, now));
    }

    /// Open sessions (for tests and the benchmark).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session cookie's value in a request, if any. The Cookie header is read for this name
/// only and never logged.
pub fn cookie_value(req: &actix_web::HttpRequest) -> Option<Zeroizing<String>> {
    for h in req.headers().get_all("cookie") {
        let Ok(h) = h.to_str() else { continue };
        for part in h.split(';') {
            if let Some((k, v)) = part.trim().split_once('=')
                && k == COOKIE
            {
                return Some(Zeroizing::new(v.to_owned()));
            }
        }
    }
    None
}

/// The Set-Cookie value that opens a session: no Expires or Max-Age (it ends with the
/// browser), HttpOnly, SameSite=Strict, the whole site.
pub fn set_cookie(value: &str) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict"
    ))
}

/// The Set-Cookie value that removes the cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_opens_its_session_and_nothing_else() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(120));
        let k = SecretKey32::random();
        let r = ReportId::new();
        let v = s.create(r, &k).unwrap();
        let live = s.open(&v).unwrap();
        assert_eq!(live.report, r);
        assert_eq!(live.k_r, k);
        assert!(live.csrf_ok(Some(live.csrf.as_str())));
        assert!(!live.csrf_ok(Some("00")));
        assert!(!live.csrf_ok(None));
        // Same id, another secret: the sealed K_r does not open.
        let mut forged = v[..64].to_owned();
        forged.push_str(&"0".repeat(64));
        assert!(s.open(&forged).is_none());
        assert!(s.open("short").is_none());
        s.end(&v);
        assert!(s.open(&v).is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn idle_sessions_expire() {
        let s = Sessions::new(Duration::from_millis(0), Duration::from_secs(60));
        let v = s.create(ReportId::new(), &SecretKey32::random()).unwrap();
        assert!(s.open(&v).is_none());
        s.create(ReportId::new(), &SecretKey32::random()).unwrap();
        s.sweep();
        assert!(s.is_empty());
    }
}
