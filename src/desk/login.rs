//! Logging in, first-login enrolment and password changes.
//!
//! * **One answer.** A wrong name, a wrong password, a wrong or replayed TOTP code and a
//!   disabled account all get [`text::LOGIN_FAILED`], after the same single Argon2id: an
//!   unknown name runs it on a dummy salt. (The only other answer, the back-off, is given to
//!   unknown names too, from an in-memory table, so it tells nothing either.)
//! * **Back-off per account, never per IP** (Tor, NAT and the office proxy put everyone behind
//!   one address). After `backoff_free_failures` failures each further one doubles the wait,
//!   from `backoff_base_secs` up to `backoff_max_secs`. An attempt inside the wait is refused
//!   without Argon2 and *without* counting as a failure, so a flood cannot stretch the wait:
//!   the owner is shut out for at most `backoff_max_secs` after the flood's last evaluated
//!   guess.
//! * **Bounded KDF.** Every Argon2 (256 MiB) goes through [`crate::web::gate::Bounded`]: at most
//!   `desk.kdf_pool` at once, `desk.kdf_queue` waiting, the rest refused with 503, so a login
//!   flood cannot exhaust memory.

use super::DeskState;
use super::accounts::{Role, normalise_name};
use super::keys::{StaffKeys, StaffSecrets, fingerprint_of, new_salt, password_keys};
use super::session::{SessionToken, Stage};
use super::text::{self, Text};
use super::totp;
use crate::crypto::primitives::{SecretKey32, ct_eq};
use crate::store::{StaffKeyRow, StaffRow};
use secrecy::{ExposeSecret, SecretString};
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Entries kept for unknown names before the table is cleared.
const UNKNOWN_NAMES_MAX: usize = 10_000;

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Back-off state of one name: failures since the last success, next time an attempt is
/// evaluated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backoff {
    /// Failures.
    pub failures: i64,
    /// Unix seconds.
    pub next_try_at: i64,
}

/// How a login ended.
pub enum Outcome {
    /// Password and TOTP right: a Full session with these keys.
    Full(StaffRow, Box<StaffSecrets>),
    /// The one-time password was right: an enrolment session.
    Enrol(StaffRow),
    /// Wrong something ([`text::LOGIN_FAILED`]); the id of the account named, when it exists,
    /// for the audit log only (the answer is the same either way).
    Failed(Option<String>),
    /// Inside the back-off wait (seconds left).
    Throttled(u64),
    /// The KDF queue is full.
    Busy,
}

impl DeskState {
    fn backoff_after_failure(&self, b: Backoff, now: u64) -> Backoff {
        let d = &self.cfg.desk;
        let failures = b.failures + 1;
        let over = failures - i64::from(d.backoff_free_failures);
        let next = if over > 0 {
            let exp = u32::try_from(over - 1).unwrap_or(u32::MAX).min(20);
            let wait = d
                .backoff_base_secs
                .saturating_mul(1u64 << exp)
                .min(d.backoff_max_secs);
            now.saturating_add(wait) as i64
        } else {
            0
        };
        Backoff {
            failures,
            next_try_at: next,
        }
    }

    /// Runs the staff KDF in the bounded pool.
    pub(crate) async fn kdf(
        &self,
        password: &SecretString,
        salt: Vec<u8>,
        m_kib: u32,
    ) -> Result<Option<super::keys::PasswordKeys>, crate::web::gate::Busy> {
        let pw = Zeroizing::new(password.expose_secret().as_bytes().to_vec());
        let pepper = self.pepper.clone();
        self.kdf
            .run(move || password_keys(&pw, &salt, &pepper, m_kib).ok())
            .await
    }

    /// The login form: name, password, TOTP code.
    pub async fn login(&self, username: &str, password: &SecretString, code: &str) -> Outcome {
        let now = now_secs();
        // Names that cannot exist are still throttled like real ones (by their first 64
        // characters, so the in-memory table stays small).
        let name = normalise_name(username)
            .unwrap_or_else(|_| username.trim().to_lowercase().chars().take(64).collect());
        let account = self.load_account(&name).await;
        let backoff = match &account {
            Some(a) => Backoff {
                failures: a.auth.failures,
                next_try_at: a.auth.next_try_at,
            },
            None => self
                .unknown_names
                .lock()
                .expect("throttle")
                .get(&name)
                .copied()
                .unwrap_or_default(),
        };
        if (now as i64) < backoff.next_try_at {
            return Outcome::Throttled((backoff.next_try_at - now as i64) as u64);
        }
        let (salt, m_kib) = match &account {
            Some(a) => (a.auth.kdf_salt.clone(), a.auth.kdf_m_kib as u32),
            None => (self.dummy_salt.to_vec(), self.m_kib()),
        };
        let Ok(derived) = self.kdf(password, salt, m_kib).await else {
            return Outcome::Busy;
        };
        let outcome = match (&account, derived) {
            (Some(a), Some(k)) if !a.staff.disabled => self.judge(a, &k, code, now).await,
            _ => None,
        };
        match (outcome, account) {
            (Some(o), Some(a)) => {
                if let Err(e) = self.store.set_login_backoff(&a.staff.id, 0, 0).await {
                    tracing::error!("desk: cannot clear the back-off: {e}");
                }
                o
            }
            (_, Some(a)) => {
                let b = self.backoff_after_failure(backoff, now);
                if let Err(e) = self
                    .store
                    .set_login_backoff(&a.staff.id, b.failures, b.next_try_at)
                    .await
                {
                    tracing::error!("desk: cannot record a failed login: {e}");
                }
                tracing::info!("desk: a login failed");
                Outcome::Failed(Some(a.staff.id))
            }
            (_, None) => {
                let b = self.backoff_after_failure(backoff, now);
                let mut m = self.unknown_names.lock().expect("throttle");
                if m.len() >= UNKNOWN_NAMES_MAX {
                    m.clear();
                }
                m.insert(name, b);
                tracing::info!("desk: a login failed");
                Outcome::Failed(None)
            }
        }
    }

    /// Right password (and, once enrolled, right and unused code)?
    async fn judge(
        &self,
        a: &Account,
        k: &super::keys::PasswordKeys,
        code: &str,
        now: u64,
    ) -> Option<Outcome> {
        if let Some(v) = &a.auth.one_time {
            return ct_eq(v, k.verifier.expose()).then(|| Outcome::Enrol(a.staff.clone()));
        }
        let key = a.key.as_ref()?;
        let secrets = StaffSecrets::open(&k.kek, &a.staff.id, &key.sealed_secrets).ok()?;
        let step = totp::matching_step(&secrets.totp, code, now)?;
        match self.store.use_totp_step(&a.staff.id, step as i64).await {
            Ok(true) => Some(Outcome::Full(a.staff.clone(), Box::new(secrets))),
            Ok(false) => None,
            Err(e) => {
                tracing::error!("desk: cannot record the TOTP step: {e}");
                None
            }
        }
    }

    async fn load_account(&self, name: &str) -> Option<Account> {
        let staff = self.store.staff_by_name(name).await.ok()??;
        let auth = self.store.staff_auth(&staff.id).await.ok()??;
        let key = self.store.active_staff_key(&staff.id).await.ok()?;
        Some(Account { staff, auth, key })
    }

    /// First login: checks the new password and the code for the TOTP secret shown on the
    /// page, makes the key pairs, seals them with the TOTP secret under the new password and
    /// turns the session Full. Returns the key fingerprint to show.
    pub async fn enrol(
        &self,
        staff_id: &str,
        token: &SessionToken,
        new: &SecretString,
        confirm: &SecretString,
        code: &str,
    ) -> Result<String, Text> {
        let staff = self.staff(staff_id).await?;
        password_problem(new, confirm, &staff.username)?;
        let secret = self.sessions.pending_totp(token).ok_or(text::TOTP_WRONG)?;
        let step = totp::matching_step(&secret, code, now_secs()).ok_or(text::TOTP_WRONG)?;
        let (keys, x_pub) = StaffKeys::generate();
        let secrets = StaffSecrets {
            keys,
            totp: Zeroizing::new(secret.to_vec()),
        };
        let salt = new_salt();
        let m_kib = self.m_kib();
        let k = self
            .kdf(new, salt.to_vec(), m_kib)
            .await
            .map_err(|_| text::BUSY)?
            .ok_or(text::INTERNAL)?;
        let row = StaffKeyRow {
            staff_id: staff.id.clone(),
            x25519_public: x_pub.to_vec(),
            ed25519_public: secrets.keys.ed25519.verifying_key().to_bytes().to_vec(),
            sealed_secrets: secrets.seal(&k.kek, &staff.id),
            created_day: super::accounts::today(),
            active: true,
        };
        match self
            .store
            .enrol_staff(&row, &salt, i64::from(m_kib), step as i64)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(text::ENROL_DONE_ALREADY),
            Err(e) => {
                tracing::error!("desk: enrolment failed: {e}");
                return Err(text::INTERNAL);
            }
        }
        self.sessions.upgrade(token, &secrets);
        tracing::info!("desk: an account enrolled");
        fingerprint_of(&x_pub).map_err(|_| text::INTERNAL)
    }

    /// Changes the password of a Full session's account: the current password must open the
    /// sealed keys (so a stolen session alone cannot take the account over), then the same
    /// secrets are sealed under the new one.
    pub async fn change_password(
        &self,
        staff_id: &str,
        current: &SecretString,
        new: &SecretString,
        confirm: &SecretString,
    ) -> Result<(), Text> {
        let staff = self.staff(staff_id).await?;
        password_problem(new, confirm, &staff.username)?;
        let a = self
            .load_account(&staff.username)
            .await
            .ok_or(text::INTERNAL)?;
        let key = a.key.ok_or(text::INTERNAL)?;
        let k = self
            .kdf(current, a.auth.kdf_salt.clone(), a.auth.kdf_m_kib as u32)
            .await
            .map_err(|_| text::BUSY)?
            .ok_or(text::INTERNAL)?;
        let secrets = StaffSecrets::open(&k.kek, &staff.id, &key.sealed_secrets)
            .map_err(|_| text::PASSWORD_CURRENT_WRONG)?;
        let salt = new_salt();
        let m_kib = self.m_kib();
        let nk = self
            .kdf(new, salt.to_vec(), m_kib)
            .await
            .map_err(|_| text::BUSY)?
            .ok_or(text::INTERNAL)?;
        self.store
            .reseal_staff_key(
                &staff.id,
                &key.x25519_public,
                &secrets.seal(&nk.kek, &staff.id),
                &salt,
                i64::from(m_kib),
            )
            .await
            .map_err(|_| text::INTERNAL)?;
        tracing::info!("desk: a password was changed");
        Ok(())
    }

    /// Starts the session a successful login earned; the token is always new (rotation).
    pub fn start_session(&self, staff: &StaffRow, secrets: Option<&StaffSecrets>) -> SessionToken {
        let role = Role::parse(&staff.role).unwrap_or(Role::Investigator);
        let stage = if secrets.is_some() {
            Stage::Full
        } else {
            Stage::Enrol
        };
        self.sessions
            .create(&staff.id, &staff.username, role, stage, secrets)
    }

    async fn staff(&self, staff_id: &str) -> Result<StaffRow, Text> {
        self.store
            .staff_by_id(staff_id)
            .await
            .map_err(|_| text::INTERNAL)?
            .ok_or(text::INTERNAL)
    }

    /// The configured staff Argon2 memory in KiB.
    pub fn m_kib(&self) -> u32 {
        self.cfg.desk.kdf_mib.saturating_mul(1024)
    }

    /// The desk pepper (for `bisik user` in the same process).
    pub fn pepper(&self) -> &SecretKey32 {
        &self.pepper
    }
}

struct Account {
    staff: StaffRow,
    auth: crate::store::AuthRow,
    key: Option<StaffKeyRow>,
}

/// Why a new password is refused, if it is: under 12 characters, a zxcvbn score under 3
/// (its own warning is added in English), or a confirmation that differs.
pub fn password_problem(
    new: &SecretString,
    confirm: &SecretString,
    username: &str,
) -> Result<(), Text> {
    let pw = new.expose_secret();
    if !ct_eq(pw.as_bytes(), confirm.expose_secret().as_bytes()) {
        return Err(text::PASSWORD_MISMATCH);
    }
    if pw.chars().count() < 12 {
        return Err(text::PASSWORD_SHORT);
    }
    let e = zxcvbn::zxcvbn(pw, &[username, "bisik", "bnnk", "narkoba"]);
    if u8::from(e.score()) < 3 {
        return Err(text::PASSWORD_WEAK);
    }
    Ok(())
}

/// zxcvbn's own reason for a weak password (English; it has no Indonesian texts), shown under
/// [`text::PASSWORD_WEAK`].
pub fn weakness_detail(new: &SecretString, username: &str) -> Option<String> {
    let e = zxcvbn::zxcvbn(new.expose_secret(), &[username, "bisik", "bnnk", "narkoba"]);
    let f = e.feedback()?;
    let mut parts: Vec<String> = f.warning().map(|w| w.to_string()).into_iter().collect();
    parts.extend(f.suggestions().iter().map(|s| s.to_string()));
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        let s = |p: &str| SecretString::from(p.to_owned());
        let check = |p: &str| password_problem(&s(p), &s(p), "budi");
        assert_eq!(check("pendek"), Err(text::PASSWORD_SHORT));
        assert_eq!(check("password1234"), Err(text::PASSWORD_WEAK));
        assert_eq!(check("budibudibudi"), Err(text::PASSWORD_WEAK));
        assert_eq!(check("kopi-hujan-sepeda-lampu"), Ok(()));
        assert!(weakness_detail(&s("password1234"), "budi").is_some_and(|d| !d.is_empty()));
        assert_eq!(
            password_problem(
                &s("kopi-hujan-sepeda-lampu"),
                &s("kopi-hujan-sepeda-lamp"),
                "b"
            ),
            Err(text::PASSWORD_MISMATCH)
        );
    }
}
