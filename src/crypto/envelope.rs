//! Sealed items: XChaCha20-Poly1305 under a report key, with a fresh random 192-bit nonce each
//! time, plaintext padded to power-of-two buckets, and an AAD that binds where the item belongs.
//!
//! Wire format: `version (1) ‖ nonce (24) ‖ ciphertext+tag`. The AAD is the canonical encoding
//! of [`ItemAad`]: format version, report id, item kind, item id, direction, sequence number and
//! the hash of the previous item ([`crate::crypto::chain`]), so a ciphertext cannot be moved to
//! another report, relabelled, reordered, cut out of its conversation, or turned from a staff
//! question into a reporter statement.

use super::CryptoError;
use super::canon::Writer;
use super::primitives::{SecretKey32, os_fill};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// Format version of sealed items. Version 2 added the previous item's hash to the AAD (issue
/// 5, conversation integrity); nothing sealed under version 1 was ever deployed.
pub const ENVELOPE_VERSION: u8 = 2;
/// Smallest padded size: every short message looks the same.
pub const MIN_BUCKET: usize = 512;
const NONCE_LEN: usize = 24;

/// Everything an item's ciphertext is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAad {
    /// Report the item belongs to (16 UUID bytes).
    pub report_id: [u8; 16],
    /// Item kind code (tip, message, note, ...).
    pub kind: u8,
    /// The item's own id (16 UUID bytes).
    pub item_id: [u8; 16],
    /// Direction code (reporter to staff, staff to reporter, staff only).
    pub direction: u8,
    /// Position in the report's sequence.
    pub seq: u64,
    /// Hash of the previous item in the report's chain ([`crate::crypto::chain::item_hash`]),
    /// or [`crate::crypto::chain::GENESIS`] for the tip and for sealed things outside a chain.
    pub prev: [u8; 32],
}

impl ItemAad {
    /// The canonical bytes bound as AAD (and hashed into the chain).
    pub fn encode(&self) -> Vec<u8> {
        Writer::new("bisik-item-aad")
            .bytes(&[ENVELOPE_VERSION])
            .bytes(&self.report_id)
            .bytes(&[self.kind])
            .bytes(&self.item_id)
            .bytes(&[self.direction])
            .u64(self.seq)
            .bytes(&self.prev)
            .finish()
    }
}

/// The padded size for `len` bytes of content plus its 4-byte length prefix.
pub fn bucket(len: usize) -> usize {
    (len + 4).max(MIN_BUCKET).next_power_of_two()
}

fn pad(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = u32::try_from(data.len()).expect("items are far below 4 GiB");
    let mut out = Zeroizing::new(Vec::with_capacity(bucket(data.len())));
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    out.resize(bucket(data.len()), 0);
    out
}

fn unpad(padded: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if padded.len() < 4 {
        return Err(CryptoError::Malformed("padding"));
    }
    let len = u32::from_be_bytes(padded[..4].try_into().expect("4 bytes")) as usize;
    if len > padded.len() - 4 || padded.len() != bucket(len) {
        return Err(CryptoError::Malformed("padding"));
    }
    if padded[4 + len..].iter().any(|&b| b != 0) {
        return Err(CryptoError::Malformed("padding"));
    }
    Ok(Zeroizing::new(padded[4..4 + len].to_vec()))
}

/// Seals `plaintext` under `key`, bound to `aad`.
pub fn seal(key: &SecretKey32, aad: &ItemAad, plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    os_fill(&mut nonce);
    seal_with_nonce(key, aad, plaintext, &nonce)
}

/// Seals with a given nonce. Only for known-answer vectors; production always uses [`seal`].
pub fn seal_with_nonce(
    key: &SecretKey32,
    aad: &ItemAad,
    plaintext: &[u8],
    nonce: &[u8; 24],
) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(&Key::from(*key.expose()));
    let padded = pad(plaintext);
    let ct = cipher
        .encrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: &padded,
                aad: &aad.encode(),
            },
        )
        .expect("XChaCha20-Poly1305 encryption of a bounded buffer cannot fail");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens a sealed item. Any change to the ciphertext, key or any AAD field fails.
pub fn open(
    key: &SecretKey32,
    aad: &ItemAad,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < 1 + NONCE_LEN + 16 {
        return Err(CryptoError::Malformed("sealed item too short"));
    }
    if sealed[0] != ENVELOPE_VERSION {
        return Err(CryptoError::Malformed("envelope version"));
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().expect("24 bytes");
    let cipher = XChaCha20Poly1305::new(&Key::from(*key.expose()));
    let padded = Zeroizing::new(
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: &aad.encode(),
                },
            )
            .map_err(|_| CryptoError::Authentication)?,
    );
    unpad(&padded)
}

/// Wraps a report key K_r under a reporter KEK. Bound to the report and code version so a wrap
/// cannot be copied to another report's access row.
pub fn wrap_report_key(
    kek: &SecretKey32,
    report_id: &[u8; 16],
    version: u8,
    key: &SecretKey32,
) -> Vec<u8> {
    seal(kek, &reporter_wrap_aad(report_id, version), key.expose())
}

/// Opens a reporter wrap of K_r.
pub fn unwrap_report_key(
    kek: &SecretKey32,
    report_id: &[u8; 16],
    version: u8,
    wrapped: &[u8],
) -> Result<SecretKey32, CryptoError> {
    let k = open(kek, &reporter_wrap_aad(report_id, version), wrapped)?;
    SecretKey32::from_slice(&k)
}

fn reporter_wrap_aad(report_id: &[u8; 16], version: u8) -> ItemAad {
    ItemAad {
        report_id: *report_id,
        kind: 0xF0,
        item_id: [0; 16],
        direction: 0,
        seq: u64::from(version),
        prev: [0; 32],
    }
}
