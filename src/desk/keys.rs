//! A staff member's secrets and how they are kept.
//!
//! At first login the desk makes an X25519 key pair (wraps) and an Ed25519 key pair
//! (signatures) and seals both private halves *together with the TOTP secret* under a KEK from
//! Argon2id(password, per-account salt, secret = desk pepper) at `desk.kdf_mib` (256 MiB by
//! default). So the TOTP secret is no more exposed than the keys: whoever steals the desk
//! database learns neither without the pepper and the password, and a wrong password simply
//! fails to open the blob (there is no separate password hash to attack).
//!
//! The desk pepper is `keys/desk.pepper` (0600, readable only by the desk's OS user), never in
//! the database.

use crate::crypto::CryptoError;
use crate::crypto::canon::{Reader, Writer};
use crate::crypto::envelope::{self, ItemAad};
use crate::crypto::kdf::derive_staff_root;
use crate::crypto::primitives::{SecretKey32, fingerprint_display, hkdf32, os_fill, sha256};
use crate::crypto::wrap::{RecipientKey, generate_x25519};
use ed25519_dalek::SigningKey;
use std::path::Path;
use zeroize::Zeroizing;

const FORMAT: &str = "bisik-staff-secrets-v1";
/// Envelope kind codes of the desk's own sealed blobs (never items of a report).
pub(crate) const KIND_STAFF_SECRETS: u8 = 0xF2;
/// File name of the desk pepper inside keys/.
pub const PEPPER_FILE: &str = "desk.pepper";

/// The unlocked keys of the acting staff member: what the audit log signs with and what
/// triage unwraps with. Zeroized on drop; Debug prints nothing.
pub struct StaffKeys {
    /// X25519 private key: opens wraps made to this person's certified key.
    pub x25519: SecretKey32,
    /// Ed25519 signing key: signs this person's audit entries, certificates and heads.
    pub ed25519: SigningKey,
}

impl std::fmt::Debug for StaffKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaffKeys([REDACTED])")
    }
}

impl StaffKeys {
    /// Fresh key pairs from the OS RNG; returns the keys and the X25519 public half.
    pub fn generate() -> (StaffKeys, [u8; 32]) {
        let (x, xp) = generate_x25519();
        let ed = SigningKey::generate(&mut crate::crypto::primitives::os_rng());
        (
            StaffKeys {
                x25519: x,
                ed25519: ed,
            },
            xp,
        )
    }
}

/// Everything sealed under the password: the keys and the TOTP secret.
pub struct StaffSecrets {
    /// The key pairs.
    pub keys: StaffKeys,
    /// RFC 6238 shared secret (20 bytes).
    pub totp: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for StaffSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaffSecrets([REDACTED])")
    }
}

/// The AAD binds a sealed blob to its account and purpose, so a blob copied to another
/// account's row (or a session's keys to another session) does not open.
pub(crate) fn aad(kind: u8, bound_to: &[u8]) -> ItemAad {
    let h = sha256(&[b"bisik-desk-aad-v1\0", bound_to]);
    let mut item_id = [0u8; 16];
    item_id.copy_from_slice(&h[..16]);
    ItemAad {
        report_id: [0; 16],
        kind,
        item_id,
        direction: 0,
        seq: 0,
        prev: [0; 32],
    }
}

impl StaffSecrets {
    /// Canonical plaintext.
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            Writer::new(FORMAT)
                .bytes(self.keys.x25519.expose())
                .bytes(&self.keys.ed25519.to_bytes())
                .bytes(&self.totp)
                .finish(),
        )
    }

    /// Parses [`StaffSecrets::encode`].
    pub(crate) fn decode(plain: &[u8]) -> Result<StaffSecrets, CryptoError> {
        let mut r = Reader::new(plain, FORMAT)?;
        let x = SecretKey32::from_bytes(r.array32()?);
        let seed = Zeroizing::new(r.array32()?);
        let totp = Zeroizing::new(r.bytes()?.to_vec());
        r.end()?;
        Ok(StaffSecrets {
            keys: StaffKeys {
                x25519: x,
                ed25519: SigningKey::from_bytes(&seed),
            },
            totp,
        })
    }

    /// Seals under `kek` for account `staff_id`.
    pub(crate) fn seal(&self, kek: &SecretKey32, staff_id: &str) -> Vec<u8> {
        envelope::seal(
            kek,
            &aad(KIND_STAFF_SECRETS, staff_id.as_bytes()),
            &self.encode(),
        )
    }

    /// Opens a blob from [`StaffSecrets::seal`]; fails on a wrong KEK (wrong password).
    pub(crate) fn open(
        kek: &SecretKey32,
        staff_id: &str,
        sealed: &[u8],
    ) -> Result<StaffSecrets, CryptoError> {
        let plain = envelope::open(kek, &aad(KIND_STAFF_SECRETS, staff_id.as_bytes()), sealed)?;
        Self::decode(&plain)
    }
}

/// The two keys a password root gives: the KEK that seals the staff secrets, and the verifier
/// of a one-time password.
pub(crate) struct PasswordKeys {
    /// Seals [`StaffSecrets`].
    pub kek: SecretKey32,
    /// Stored while a one-time password is pending.
    pub verifier: SecretKey32,
}

/// Argon2id, then HKDF into the two keys. Run through the desk's bounded KDF pool only.
pub(crate) fn password_keys(
    password: &[u8],
    salt: &[u8],
    pepper: &SecretKey32,
    m_kib: u32,
) -> Result<PasswordKeys, CryptoError> {
    let root = derive_staff_root(password, salt, pepper, m_kib)?;
    Ok(PasswordKeys {
        kek: hkdf32(root.expose(), b"bisik staff kek v1"),
        verifier: hkdf32(root.expose(), b"bisik staff one-time verifier v1"),
    })
}

/// A fresh 16-byte salt.
pub(crate) fn new_salt() -> [u8; 16] {
    let mut s = [0u8; 16];
    os_fill(&mut s);
    s
}

/// The fingerprint of an X25519 public key as people compare it: the same function the
/// recipient list and `bisik keys certify` use ([`RecipientKey::fingerprint`]).
pub fn fingerprint_of(x25519_public: &[u8]) -> Result<String, CryptoError> {
    let k = RecipientKey::from_bytes(x25519_public)?;
    Ok(fingerprint_display(&k.fingerprint()))
}

/// Loads `keys/desk.pepper`, making it when missing. Making a new one is refused while
/// accounts exist (`accounts_exist`): every sealed key would become unopenable, which is a
/// lost file to restore from backup, not something to paper over.
pub fn load_or_make_pepper(
    keys_dir: &Path,
    accounts_exist: bool,
) -> Result<SecretKey32, crate::keyfiles::KeyFileError> {
    let p = keys_dir.join(PEPPER_FILE);
    if !p.exists() {
        if accounts_exist {
            return Err(crate::keyfiles::KeyFileError {
                path: p,
                problem: "is missing although staff accounts exist: without it no staff key opens; restore it from the backup of keys/ (a new pepper would lock every account out)".into(),
            });
        }
        crate::keyfiles::ensure_private_dir(keys_dir)?;
        let k = SecretKey32::random();
        let text = Zeroizing::new(format!("{}\n", hex::encode(k.expose())));
        crate::keyfiles::write_new_secret(&p, text.as_bytes())?;
    }
    Ok(SecretKey32::from_bytes(*crate::keyfiles::read_hex32(&p)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_kek_and_account() {
        let (keys, _) = StaffKeys::generate();
        let s = StaffSecrets {
            keys,
            totp: Zeroizing::new(vec![7; 20]),
        };
        let pepper = SecretKey32::random();
        let salt = new_salt();
        let k = password_keys(b"kuda-lumping-12", &salt, &pepper, 64).unwrap();
        let blob = s.seal(&k.kek, "a");
        let back = StaffSecrets::open(&k.kek, "a", &blob).unwrap();
        assert_eq!(back.keys.ed25519.to_bytes(), s.keys.ed25519.to_bytes());
        assert_eq!(*back.totp, *s.totp);
        assert!(
            StaffSecrets::open(&k.kek, "b", &blob).is_err(),
            "other account"
        );
        let wrong = password_keys(b"kuda-lumping-13", &salt, &pepper, 64).unwrap();
        assert!(
            StaffSecrets::open(&wrong.kek, "a", &blob).is_err(),
            "wrong password"
        );
        let other_pepper =
            password_keys(b"kuda-lumping-12", &salt, &SecretKey32::random(), 64).unwrap();
        assert!(
            StaffSecrets::open(&other_pepper.kek, "a", &blob).is_err(),
            "other pepper"
        );
    }
}
