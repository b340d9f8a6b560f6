//! Key files in `keys/`: the pinned public keys (escrow, organisation, intake), the signed
//! recipient list, and the intake's own secrets (signing key, pepper). Reading and writing
//! only; nothing here unseals the offline container (that is [`crate::vault`]).
//!
//! Public keys are read from these files and never from the database, so a database writer
//! cannot swap the escrow key or add a recipient.

use crate::crypto::primitives::SecretKey32;
use crate::crypto::recipients::SignedRecipientList;
use crate::crypto::wrap::RecipientKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// File names inside keys/.
pub mod names {
    /// Escrow X25519 public key (hex).
    pub const ESCROW_PUB: &str = "escrow.pub";
    /// Organisation Ed25519 public key (hex).
    pub const ORG_PUB: &str = "org.pub";
    /// Intake Ed25519 public key (hex).
    pub const INTAKE_PUB: &str = "intake.pub";
    /// Intake Ed25519 seed (hex, 0600).
    pub const INTAKE_KEY: &str = "intake.key";
    /// Intake pepper (hex, 0600).
    pub const INTAKE_PEPPER: &str = "intake.pepper";
    /// Offline container (escrow + organisation secrets under the passphrase).
    pub const OFFLINE_SEALED: &str = "offline.sealed";
    /// Signed recipient list.
    pub const RECIPIENTS: &str = "recipients.json";
    /// Bearer token for the loopback metrics listener (hex, 0600), made at first use.
    pub const METRICS_TOKEN: &str = "metrics.token";
}

/// A problem with a key file, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("key file {path}: {problem}")]
pub struct KeyFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: String,
}

fn err(path: &Path, problem: impl Into<String>) -> KeyFileError {
    KeyFileError {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

/// Reads a file holding exactly 32 bytes as hex.
pub fn read_hex32(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(path, e.to_string()))?);
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), out.as_mut_slice())
        .map_err(|_| err(path, "must hold 64 hexadecimal digits"))?;
    Ok(out)
}

/// Writes a new file with mode 0600, refusing to overwrite: key files are never replaced by
/// accident.
pub fn write_new_secret(path: &Path, contents: &[u8]) -> Result<(), KeyFileError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| err(path, e.to_string()))?;
    f.write_all(contents)
        .map_err(|e| err(path, e.to_string()))?;
    f.sync_all().map_err(|e| err(path, e.to_string()))
}

/// Writes a file atomically (temp file, fsync, rename) with the given mode.
pub fn write_replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyFileError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| err(&tmp, e.to_string()))?;
        f.write_all(contents)
            .map_err(|e| err(&tmp, e.to_string()))?;
        f.sync_all().map_err(|e| err(&tmp, e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err(path, e.to_string()))
}

/// Creates a directory (and parents) with mode 0700 if it is missing. An existing directory
/// keeps the mode its operator gave it (deploy/ shares the reports directory by group).
pub fn ensure_private_dir(dir: &Path) -> Result<(), KeyFileError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e.to_string()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| err(dir, e.to_string()))
}

/// The pinned public keys.
#[derive(Debug, Clone)]
pub struct PublicKeys {
    /// Escrow X25519 key: receives a wrap of every report's K_r and K_s.
    pub escrow: RecipientKey,
    /// Organisation key: verifies the recipient list.
    pub org: VerifyingKey,
    /// Intake key: verifies report headers.
    pub intake: VerifyingKey,
}

fn verifying(path: &Path) -> Result<VerifyingKey, KeyFileError> {
    let b = read_hex32(path)?;
    VerifyingKey::from_bytes(&b).map_err(|_| err(path, "is not a valid Ed25519 public key"))
}

impl PublicKeys {
    /// Loads the pinned public keys from `dir`.
    pub fn load(dir: &Path) -> Result<Self, KeyFileError> {
        let p = dir.join(names::ESCROW_PUB);
        let escrow = RecipientKey::from_bytes(read_hex32(&p)?.as_slice())
            .map_err(|_| err(&p, "is not a valid X25519 public key"))?;
        Ok(PublicKeys {
            escrow,
            org: verifying(&dir.join(names::ORG_PUB))?,
            intake: verifying(&dir.join(names::INTAKE_PUB))?,
        })
    }
}

/// The intake's own secrets: its header-signing key and its pepper. These are the only secrets
/// the intake holds (I3).
pub struct IntakeSecrets {
    /// Signs report headers.
    pub signing: SigningKey,
    /// Argon2 secret input for follow-up codes.
    pub pepper: SecretKey32,
}

impl std::fmt::Debug for IntakeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntakeSecrets([REDACTED])")
    }
}

impl IntakeSecrets {
    /// Loads them from `dir`, checking that the signing key matches the pinned intake.pub.
    pub fn load(dir: &Path, pinned: &PublicKeys) -> Result<Self, KeyFileError> {
        let kp = dir.join(names::INTAKE_KEY);
        let signing = SigningKey::from_bytes(&*read_hex32(&kp)?);
        if signing.verifying_key() != pinned.intake {
            return Err(err(&kp, "does not match the pinned intake.pub"));
        }
        let pepper = SecretKey32::from_bytes(*read_hex32(&dir.join(names::INTAKE_PEPPER))?);
        Ok(IntakeSecrets { signing, pepper })
    }
}

/// Reads the signed recipient list file, if present.
pub fn read_recipients(dir: &Path) -> Result<Option<SignedRecipientList>, KeyFileError> {
    let p = dir.join(names::RECIPIENTS);
    match std::fs::read_to_string(&p) {
        Ok(text) => SignedRecipientList::from_json(&text)
            .map(Some)
            .map_err(|e| err(&p, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(&p, e.to_string())),
    }
}

/// Whether `keys init` has already run in `dir`.
pub fn initialised(dir: &Path) -> bool {
    dir.join(names::ESCROW_PUB).exists()
}

/// The metrics bearer token in `dir`, made (32 random bytes, hex, 0600) when missing. It lives
/// with the keys so the scraper's copy is handed over like any other key file.
pub fn metrics_token(dir: &Path) -> Result<Zeroizing<String>, KeyFileError> {
    let p = dir.join(names::METRICS_TOKEN);
    if !p.exists() {
        let mut raw = Zeroizing::new([0u8; 32]);
        crate::crypto::primitives::os_fill(raw.as_mut_slice());
        let text = Zeroizing::new(format!("{}\n", hex::encode(raw.as_slice())));
        write_new_secret(&p, text.as_bytes())?;
    }
    let text = Zeroizing::new(std::fs::read_to_string(&p).map_err(|e| err(&p, e.to_string()))?);
    let t = text.trim();
    if t.len() < 32 {
        return Err(err(&p, "must hold a token of at least 32 characters"));
    }
    Ok(Zeroizing::new(t.to_owned()))
}
