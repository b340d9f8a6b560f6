//! The offline key container: the escrow X25519 private key and the organisation Ed25519
//! signing key, sealed together under one *generated* passphrase (operator-chosen passphrases
//! are refused because people choose weak ones). The passphrase is shown once and is meant to
//! live on paper, away from the server.
//!
//! File `keys/offline.sealed` (JSON): format, Argon2id salt, and the sealed canonical encoding of
//! both secrets.

use crate::crypto::CryptoError;
use crate::crypto::canon::{Reader, Writer};
use crate::crypto::envelope::{self, ItemAad};
use crate::crypto::kdf::derive_passphrase_key;
use crate::crypto::primitives::{SecretKey32, os_fill, os_uniform};
use ed25519_dalek::SigningKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const FORMAT: &str = "bisik-offline-keys-v1";
/// Unambiguous lowercase alphabet (no l/1, o/0): 32 symbols, 5 bits each.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
const PASSPHRASE_SYMBOLS: usize = 28;

/// The unsealed offline secrets. Lives only in the memory of a ceremony or recovery command.
pub struct OfflineKeys {
    /// Escrow X25519 private key: opens every report's escrow wraps.
    pub escrow_secret: SecretKey32,
    /// Organisation Ed25519 signing key: certifies recipients.
    pub org_signing: SigningKey,
}

impl std::fmt::Debug for OfflineKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OfflineKeys([REDACTED])")
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedFile {
    format: String,
    kdf: String,
    salt: String,
    sealed: String,
}

/// Makes a passphrase of 28 symbols from a 32-symbol alphabet (140 bits), in groups of four.
pub fn generate_passphrase() -> SecretString {
    let mut s = String::with_capacity(PASSPHRASE_SYMBOLS + PASSPHRASE_SYMBOLS / 4);
    for i in 0..PASSPHRASE_SYMBOLS {
        if i > 0 && i % 4 == 0 {
            s.push('-');
        }
        s.push(ALPHABET[os_uniform(32) as usize] as char);
    }
    SecretString::from(s)
}

/// Normalises what a person types: case, spaces and a trailing newline do not matter.
fn normalise(passphrase: &str) -> Zeroizing<String> {
    Zeroizing::new(
        passphrase
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect(),
    )
}

fn aad() -> ItemAad {
    ItemAad {
        report_id: [0; 16],
        kind: 0xF1,
        item_id: [0; 16],
        direction: 0,
        seq: 0,
        prev: [0; 32],
    }
}

impl OfflineKeys {
    /// Seals both secrets under `passphrase`; returns the file contents.
    pub fn seal(&self, passphrase: &SecretString) -> Result<String, CryptoError> {
        let mut salt = [0u8; 16];
        os_fill(&mut salt);
        let key = derive_passphrase_key(normalise(passphrase.expose_secret()).as_bytes(), &salt)?;
        let plain = Zeroizing::new(
            Writer::new(FORMAT)
                .bytes(self.escrow_secret.expose())
                .bytes(&self.org_signing.to_bytes())
                .finish(),
        );
        let sealed = envelope::seal(&key, &aad(), &plain);
        let file = SealedFile {
            format: FORMAT.into(),
            kdf: "argon2id m=65536 t=3 p=1".into(),
            salt: hex::encode(salt),
            sealed: hex::encode(sealed),
        };
        Ok(serde_json::to_string_pretty(&file).expect("serialisable") + "\n")
    }

    /// Opens the file contents with `passphrase`.
    pub fn unseal(contents: &str, passphrase: &SecretString) -> Result<Self, CryptoError> {
        let file: SealedFile = serde_json::from_str(contents)
            .map_err(|_| CryptoError::Malformed("offline key file"))?;
        if file.format != FORMAT {
            return Err(CryptoError::Malformed("offline key file format"));
        }
        let salt: [u8; 16] = hex::decode(&file.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(CryptoError::Malformed("offline key salt"))?;
        let sealed =
            hex::decode(&file.sealed).map_err(|_| CryptoError::Malformed("offline key hex"))?;
        let key = derive_passphrase_key(normalise(passphrase.expose_secret()).as_bytes(), &salt)?;
        let plain = envelope::open(&key, &aad(), &sealed)?;
        let mut r = Reader::new(&plain, FORMAT)?;
        let escrow_secret = SecretKey32::from_bytes(r.array32()?);
        let seed = Zeroizing::new(r.array32()?);
        r.end()?;
        Ok(OfflineKeys {
            escrow_secret,
            org_signing: SigningKey::from_bytes(&seed),
        })
    }
}
