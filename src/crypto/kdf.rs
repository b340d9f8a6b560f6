//! Argon2id (RFC 9106) derivations: from a follow-up code to its lookup tag and reporter KEK, and
//! from the offline passphrase to the key that seals the escrow and organisation keys.
//!
//! The code KDF uses a fixed, versioned salt because it must run *before* any database access
//! (there is nowhere to look a per-report salt up without first knowing the tag). The intake
//! pepper is Argon2's secret input, so a stolen database cannot be attacked offline without the
//! pepper (I4), and no precomputation carries across deployments.

use super::CryptoError;
use super::code::FollowupCode;
use super::primitives::{SecretKey32, hkdf32};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroize;

/// Argon2id cost parameters of one code version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeKdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

/// Parameters by code version. Raising cost means adding a version here, never editing one:
/// codes already handed out must keep deriving the same tag.
pub fn code_params(version: u8) -> Option<CodeKdfParams> {
    match version {
        1 => Some(CodeKdfParams {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }),
        _ => None,
    }
}

/// What a code derives: the indexed lookup tag (safe to store) and the reporter KEK (secret).
pub struct CodeSecrets {
    /// Lookup tag: the reporter-access row is found by this, in constant time by index.
    pub tag: [u8; 32],
    /// Key that wraps the report's K_r for this reporter.
    pub kek: SecretKey32,
    /// The code's KDF version, stored beside the wrap so re-wrapping to a new version is possible.
    pub version: u8,
}

impl Drop for CodeSecrets {
    /// The tag is not a key, but it ties a code to its report row: it goes with the request too.
    fn drop(&mut self) {
        self.tag.zeroize();
    }
}

impl std::fmt::Debug for CodeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeSecrets")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Derives tag and KEK from a code with Argon2id(code, salt_v, secret = pepper), then HKDF.
/// Costs about 150 ms and 64 MiB at v1: call it from a bounded blocking pool only.
pub fn derive_code_secrets(
    code: &FollowupCode,
    pepper: &SecretKey32,
) -> Result<CodeSecrets, CryptoError> {
    let version = code.version();
    let p = code_params(version).ok_or(CryptoError::Kdf)?;
    let params = Params::new(p.m_kib, p.t, p.p, Some(32)).map_err(|_| CryptoError::Kdf)?;
    let argon =
        Argon2::new_with_secret(pepper.expose(), Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|_| CryptoError::Kdf)?;
    let salt = format!("bisik-followup-code-v{version}");
    let mut root = [0u8; 32];
    argon
        .hash_password_into(&code.ascii(), salt.as_bytes(), &mut root)
        .map_err(|_| CryptoError::Kdf)?;
    let tag_key = hkdf32(&root, format!("bisik v{version} lookup tag").as_bytes());
    let kek = hkdf32(&root, format!("bisik v{version} reporter kek").as_bytes());
    root.zeroize();
    Ok(CodeSecrets {
        tag: *tag_key.expose(),
        kek,
        version,
    })
}

/// Argon2id for the generated offline passphrase. The passphrase already carries 140 bits, so
/// the cost only needs to make a stolen sealed file slow to test, not to rescue a weak secret.
pub fn derive_passphrase_key(
    passphrase: &[u8],
    salt: &[u8; 16],
) -> Result<SecretKey32, CryptoError> {
    let params = Params::new(64 * 1024, 3, 1, Some(32)).map_err(|_| CryptoError::Kdf)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(passphrase, salt, &mut out)
        .map_err(|_| CryptoError::Kdf)?;
    let k = SecretKey32::from_bytes(out);
    out.zeroize();
    Ok(k)
}

/// Argon2id for a staff password (or one-time password): Argon2id(password, per-account salt,
/// secret = desk pepper) at `m_kib` KiB and two passes. The pepper lives in the desk's keys/,
/// never in the database, so a stolen desk database alone cannot be guessed at offline; the
/// memory cost (256 MiB by default) makes each guess expensive even with the pepper. Returns the
/// root from which [`hkdf32`] derives the key-sealing KEK and the one-time verifier. Call it
/// from a bounded pool only.
pub fn derive_staff_root(
    password: &[u8],
    salt: &[u8],
    pepper: &SecretKey32,
    m_kib: u32,
) -> Result<SecretKey32, CryptoError> {
    let params = Params::new(m_kib, 2, 1, Some(32)).map_err(|_| CryptoError::Kdf)?;
    let argon =
        Argon2::new_with_secret(pepper.expose(), Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|_| CryptoError::Kdf)?;
    let mut out = [0u8; 32];
    argon
        .hash_password_into(password, salt, &mut out)
        .map_err(|_| CryptoError::Kdf)?;
    let k = SecretKey32::from_bytes(out);
    out.zeroize();
    Ok(k)
}
