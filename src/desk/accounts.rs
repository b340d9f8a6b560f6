//! Staff accounts: roles, names, one-time passwords, and the operations that `bisik user ...`
//! and the admin pages share.
//!
//! * **admin** manages accounts and settings. The role opens no tip, and nothing an admin does
//!   puts a key on the recipient list: only the organisation key holder's ceremony
//!   (`bisik keys certify`) does (I5).
//! * **supervisor** (koordinator) receives every new tip of the unit once certified.
//! * **investigator** (petugas) sees only what a supervisor shares.
//!
//! A new or reset account gets a one-time password, good for one first login that forces a new
//! password, TOTP enrolment and fresh keys. The desk stores only a verifier of it
//! (Argon2id with the desk pepper, like every staff password).

use super::keys::{new_salt, password_keys};
use crate::crypto::CryptoError;
use crate::crypto::primitives::SecretKey32;
use crate::store::{NewStaff, StaffRow, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accounts and settings; no access to tips.
    Admin,
    /// Koordinator: receives new tips once certified, assigns and closes them.
    Supervisor,
    /// Petugas: sees what a supervisor shares.
    Investigator,
}

impl Role {
    /// Every role, for forms and tests.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Supervisor, Role::Investigator];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Investigator => "investigator",
        }
    }

    /// Parses a stored or typed name; the Indonesian names are accepted too.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "supervisor" | "koordinator" => Some(Role::Supervisor),
            "investigator" | "petugas" => Some(Role::Investigator),
            _ => None,
        }
    }

    /// Label in Bahasa Indonesia.
    pub fn label_id(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Supervisor => "Koordinator",
            Role::Investigator => "Petugas",
        }
    }

    /// Label in English.
    pub fn label_en(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Supervisor => "Supervisor",
            Role::Investigator => "Investigator",
        }
    }
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Names are 2 to 32 characters of a-z, 0-9, `.`, `_`, `-`, starting with a letter.
    #[error(
        "account names are 2 to 32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter"
    )]
    BadName,
    /// The name is taken.
    #[error("an account with this name already exists")]
    Exists,
    /// No such account.
    #[error("no account with this name")]
    NoSuch,
    /// The role is not one of admin, supervisor, investigator.
    #[error("the role must be admin, supervisor (koordinator) or investigator (petugas)")]
    BadRole,
    /// Database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// KDF.
    #[error("key derivation failed: {0}")]
    Crypto(#[from] CryptoError),
}

/// Normalises and checks a login name (lower case).
pub fn normalise_name(name: &str) -> Result<String, AccountError> {
    let n = name.trim().to_ascii_lowercase();
    let ok = (2..=32).contains(&n.len())
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(n)
    } else {
        Err(AccountError::BadName)
    }
}

/// A one-time password with its salt and verifier, ready to store.
pub struct OneTime {
    /// The password to hand over (shown once).
    pub password: SecretString,
    salt: [u8; 16],
    verifier: SecretKey32,
    m_kib: u32,
}

impl OneTime {
    /// Makes one: 28 random symbols (140 bits, the offline passphrase's generator), and its
    /// Argon2id verifier under the desk pepper. Blocking: the 256 MiB KDF runs here.
    pub fn generate(pepper: &SecretKey32, m_kib: u32) -> Result<OneTime, CryptoError> {
        let password = crate::vault::offline::generate_passphrase();
        let salt = new_salt();
        let k = password_keys(password.expose_secret().as_bytes(), &salt, pepper, m_kib)?;
        Ok(OneTime {
            password,
            salt,
            verifier: k.verifier,
            m_kib,
        })
    }
}

/// Today's UTC day number.
pub fn today() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp() / 86_400
}

/// Creates an account; returns its id.
pub async fn add(
    store: &Store,
    name: &str,
    role: Role,
    ot: &OneTime,
) -> Result<String, AccountError> {
    let name = normalise_name(name)?;
    if store.staff_by_name(&name).await?.is_some() {
        return Err(AccountError::Exists);
    }
    let id = uuid::Uuid::new_v4().to_string();
    store
        .create_staff(&NewStaff {
            id: &id,
            username: &name,
            role: role.as_str(),
            day: today(),
            salt: &ot.salt,
            m_kib: i64::from(ot.m_kib),
            one_time: ot.verifier.expose(),
        })
        .await?;
    Ok(id)
}

/// Looks an account up by name.
pub async fn find(store: &Store, name: &str) -> Result<StaffRow, AccountError> {
    let name = normalise_name(name).map_err(|_| AccountError::NoSuch)?;
    store
        .staff_by_name(&name)
        .await?
        .ok_or(AccountError::NoSuch)
}

/// Resets an account: its keys are retired and a new one-time password is pending. The
/// account is enabled again. A reset supervisor stops receiving new tips once the recipient
/// list no longer names the retired key (revocation; see docs/DESIGN-NOTES.md). Returns the
/// account as it was before, so `disabled` says whether the reset enabled it again (which the
/// callers audit as `enabled`).
pub async fn reset(store: &Store, name: &str, ot: &OneTime) -> Result<StaffRow, AccountError> {
    let row = find(store, name).await?;
    store
        .reset_staff(&row.id, &ot.salt, i64::from(ot.m_kib), ot.verifier.expose())
        .await?;
    store.set_staff_disabled(&row.id, false).await?;
    Ok(row)
}

/// Disables an account: it can no longer log in, and its sessions end at their next request.
pub async fn disable(store: &Store, name: &str) -> Result<StaffRow, AccountError> {
    let row = find(store, name).await?;
    store.set_staff_disabled(&row.id, true).await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_roles() {
        assert_eq!(normalise_name(" Budi.S ").unwrap(), "budi.s");
        for bad in ["", "a", "1budi", "bu di", "budi;drop", &"x".repeat(33)] {
            assert!(normalise_name(bad).is_err(), "{bad}");
        }
        assert_eq!(Role::parse("koordinator"), Some(Role::Supervisor));
        assert_eq!(Role::parse("petugas"), Some(Role::Investigator));
        assert_eq!(Role::parse("root"), None);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
