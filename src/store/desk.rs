//! The desk's accounts: staff, their keys (public halves and the sealed private halves) and
//! what logging in needs (salt, one-time password verifier, last TOTP step, back-off). Only a
//! [`Store`] opened with [`super::Schema::Desk`] has these tables.
//!
//! A row in staff_keys certifies nothing (I5): wraps go only to keys on the signed recipient
//! list in keys/. The audit log (helper "audit") reads [`Store::staff_keys_of`] for the public
//! halves that verify its signatures.

use super::{Store, StoreError};

/// One staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    /// Random id (UUID text).
    pub id: String,
    /// Login name.
    pub username: String,
    /// `admin`, `supervisor` or `investigator`.
    pub role: String,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
    /// UTC day number of creation.
    pub created_day: i64,
}

/// What logging in needs about an account. Nothing here opens anything without the password
/// and the desk pepper.
#[derive(Clone)]
pub struct AuthRow {
    /// Argon2id salt (16 bytes) of the current password or one-time password.
    pub kdf_salt: Vec<u8>,
    /// Argon2id memory in KiB that the salt was used with.
    pub kdf_m_kib: i64,
    /// Verifier of the pending one-time password; `None` once the account has enrolled.
    pub one_time: Option<Vec<u8>>,
    /// Highest TOTP step accepted so far: a code is accepted only for a later step.
    pub last_totp_step: i64,
    /// Failed logins since the last success.
    pub failures: i64,
    /// Unix seconds before which no login attempt is evaluated.
    pub next_try_at: i64,
}

impl std::fmt::Debug for AuthRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRow")
            .field("enrolled", &self.one_time.is_none())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// One staff key pair: public halves in the clear, private halves sealed.
#[derive(Clone)]
pub struct StaffKeyRow {
    /// Owner.
    pub staff_id: String,
    /// X25519 public key (receives wraps once certified).
    pub x25519_public: Vec<u8>,
    /// Ed25519 public key (verifies this person's signatures).
    pub ed25519_public: Vec<u8>,
    /// Private halves and TOTP secret, sealed under the password KEK; empty once retired.
    pub sealed_secrets: Vec<u8>,
    /// UTC day number of creation.
    pub created_day: i64,
    /// The account's current key pair (a reset retires it).
    pub active: bool,
}

impl std::fmt::Debug for StaffKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffKeyRow")
            .field("staff_id", &self.staff_id)
            .field("x25519_public", &hex::encode(&self.x25519_public))
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

type StaffTuple = (String, String, String, i16, i64);

fn staff(t: StaffTuple) -> StaffRow {
    StaffRow {
        id: t.0,
        username: t.1,
        role: t.2,
        disabled: t.3 != 0,
        created_day: t.4,
    }
}

type AuthTuple = (Vec<u8>, i64, Option<Vec<u8>>, i64, i64, i64);

type KeyTuple = (String, Vec<u8>, Vec<u8>, Vec<u8>, i64, i16);

fn key(t: KeyTuple) -> StaffKeyRow {
    StaffKeyRow {
        staff_id: t.0,
        x25519_public: t.1,
        ed25519_public: t.2,
        sealed_secrets: t.3,
        created_day: t.4,
        active: t.5 != 0,
    }
}

const STAFF_COLS: &str = "SELECT id, username, role, disabled, created_day FROM staff";
const KEY_COLS: &str = "SELECT staff_id, x25519_public, ed25519_public, sealed_secrets, created_day, active FROM staff_keys";

/// A new account's first secrets.
pub struct NewStaff<'a> {
    /// Random id.
    pub id: &'a str,
    /// Login name.
    pub username: &'a str,
    /// Role name.
    pub role: &'a str,
    /// UTC day.
    pub day: i64,
    /// Salt of the one-time password.
    pub salt: &'a [u8],
    /// Argon2 memory in KiB.
    pub m_kib: i64,
    /// One-time password verifier.
    pub one_time: &'a [u8],
}

impl Store {
    /// How many accounts exist (zero on a fresh desk: `bisik serve` then makes an admin).
    pub async fn count_staff(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM staff")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Creates an account with its pending one-time password. Fails on a taken name.
    pub async fn create_staff(&self, s: &NewStaff<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO staff (id, username, role, disabled, created_day) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(s.id)
        .bind(s.username)
        .bind(s.role)
        .bind(s.day)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO staff_auth (staff_id, kdf_salt, kdf_m_kib, one_time) VALUES ($1, $2, $3, $4)",
        )
        .bind(s.id)
        .bind(s.salt)
        .bind(s.m_kib)
        .bind(s.one_time)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account with this login name.
    pub async fn staff_by_name(&self, username: &str) -> Result<Option<StaffRow>, StoreError> {
        let q = format!("{STAFF_COLS} WHERE username = $1");
        let row: Option<StaffTuple> = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(staff))
    }

    /// The account with this id.
    pub async fn staff_by_id(&self, id: &str) -> Result<Option<StaffRow>, StoreError> {
        let q = format!("{STAFF_COLS} WHERE id = $1");
        let row: Option<StaffTuple> = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(staff))
    }

    /// Every account, by name.
    pub async fn list_staff(&self) -> Result<Vec<StaffRow>, StoreError> {
        let q = format!("{STAFF_COLS} ORDER BY username");
        let rows: Vec<StaffTuple> = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(staff).collect())
    }

    /// Login data of an account.
    pub async fn staff_auth(&self, staff_id: &str) -> Result<Option<AuthRow>, StoreError> {
        let row: Option<AuthTuple> = sqlx::query_as(
            "SELECT kdf_salt, kdf_m_kib, one_time, last_totp_step, failures, next_try_at FROM staff_auth WHERE staff_id = $1",
        )
        .bind(staff_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| AuthRow {
            kdf_salt: r.0,
            kdf_m_kib: r.1,
            one_time: r.2,
            last_totp_step: r.3,
            failures: r.4,
            next_try_at: r.5,
        }))
    }

    /// The account's current key pair, if it has enrolled.
    pub async fn active_staff_key(
        &self,
        staff_id: &str,
    ) -> Result<Option<StaffKeyRow>, StoreError> {
        let q = format!("{KEY_COLS} WHERE staff_id = $1 AND active = 1");
        let row: Option<KeyTuple> = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(staff_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(key))
    }

    /// Every key pair the account ever had (public halves; retired ones have empty sealed
    /// secrets), oldest first: what the audit log needs to check old signatures.
    pub async fn staff_keys_of(&self, staff_id: &str) -> Result<Vec<StaffKeyRow>, StoreError> {
        let q = format!("{KEY_COLS} WHERE staff_id = $1 ORDER BY created_day, x25519_public");
        let rows: Vec<KeyTuple> = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(staff_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(key).collect())
    }

    /// Disables or re-enables an account.
    pub async fn set_staff_disabled(
        &self,
        staff_id: &str,
        disabled: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff SET disabled = $2 WHERE id = $1")
            .bind(staff_id)
            .bind(i16::from(disabled))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A reset: the current keys are retired (their sealed secrets wiped, since nobody can open
    /// them without the forgotten password anyway) and a new one-time password is pending.
    pub async fn reset_staff(
        &self,
        staff_id: &str,
        salt: &[u8],
        m_kib: i64,
        one_time: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE staff_keys SET active = 0, sealed_secrets = $2 WHERE staff_id = $1")
            .bind(staff_id)
            .bind(Vec::<u8>::new())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE staff_auth SET kdf_salt = $2, kdf_m_kib = $3, one_time = $4, failures = 0, next_try_at = 0 WHERE staff_id = $1",
        )
        .bind(staff_id)
        .bind(salt)
        .bind(m_kib)
        .bind(one_time)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// First login done: stores the new key pair (sealed under the new password's salt), clears
    /// the one-time password and records the TOTP step the enrolment used. Refused (false) when
    /// the one-time password was already used, so two enrolments cannot race.
    pub async fn enrol_staff(
        &self,
        k: &StaffKeyRow,
        salt: &[u8],
        m_kib: i64,
        totp_step: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE staff_auth SET kdf_salt = $2, kdf_m_kib = $3, one_time = NULL, last_totp_step = $4, failures = 0, next_try_at = 0 WHERE staff_id = $1 AND one_time IS NOT NULL",
        )
        .bind(&k.staff_id)
        .bind(salt)
        .bind(m_kib)
        .bind(totp_step)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE staff_keys SET active = 0, sealed_secrets = $2 WHERE staff_id = $1")
            .bind(&k.staff_id)
            .bind(Vec::<u8>::new())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO staff_keys (staff_id, x25519_public, ed25519_public, sealed_secrets, created_day, active) VALUES ($1, $2, $3, $4, $5, 1)",
        )
        .bind(&k.staff_id)
        .bind(&k.x25519_public)
        .bind(&k.ed25519_public)
        .bind(&k.sealed_secrets)
        .bind(k.created_day)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A password change: the same keys, sealed again under the new password's salt.
    pub async fn reseal_staff_key(
        &self,
        staff_id: &str,
        x25519_public: &[u8],
        sealed: &[u8],
        salt: &[u8],
        m_kib: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE staff_keys SET sealed_secrets = $3 WHERE staff_id = $1 AND x25519_public = $2 AND active = 1",
        )
        .bind(staff_id)
        .bind(x25519_public)
        .bind(sealed)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE staff_auth SET kdf_salt = $2, kdf_m_kib = $3 WHERE staff_id = $1")
            .bind(staff_id)
            .bind(salt)
            .bind(m_kib)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Accepts a TOTP step only if it is later than every step accepted before; atomic, so
    /// two requests with the same code cannot both pass.
    pub async fn use_totp_step(&self, staff_id: &str, step: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE staff_auth SET last_totp_step = $2 WHERE staff_id = $1 AND last_totp_step < $2",
        )
        .bind(staff_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores the back-off state after a login attempt.
    pub async fn set_login_backoff(
        &self,
        staff_id: &str,
        failures: i64,
        next_try_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff_auth SET failures = $2, next_try_at = $3 WHERE staff_id = $1")
            .bind(staff_id)
            .bind(failures)
            .bind(next_try_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
