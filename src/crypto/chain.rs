//! The hash chain over a report's items, its signed head, and the signed statement that vouches
//! for a staff key K_s (issue 5, "Conversation integrity").
//!
//! Each item's AAD binds the hash of the item before it ([`ItemAad::prev`]), and an item's hash
//! covers its whole AAD and its ciphertext, so changing, removing or reordering any item breaks
//! every later link. What the chain alone cannot show is its *end*: deleting the last items
//! leaves a shorter chain that is still consistent. So whoever appends also signs a
//! [`ChainHead`] (the number of items and the last item's hash), stored as an insert-only row
//! per count; a verifier takes the highest count and demands exactly that many items ending in
//! that hash.
//!
//! Both signed structures carry a `signer` field, the fingerprint of the Ed25519 key that signed
//! them (`fingerprint("ed25519", public)`), so a verifier knows which key to check against:
//! today only the intake key (reporter items); the case desk will add staff keys, which will
//! sign the heads of staff items and every K_s they create ([`KeyStatement`]).

use super::CryptoError;
use super::canon::{Reader, Writer};
use super::envelope::ItemAad;
use super::primitives::{SecretKey32, fingerprint, hkdf32, sha256};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The `prev` of the first item (the tip): no item comes before it.
pub const GENESIS: [u8; 32] = [0; 32];

const ITEM_HASH_DOMAIN: &str = "bisik-item-hash-v1";
const HEAD_DOMAIN: &str = "bisik-chain-head-v1";
const KEY_STATEMENT_DOMAIN: &str = "bisik-key-statement-v1";

/// The hash of a sealed item: SHA-256 over its canonical AAD (which holds the previous hash)
/// and its ciphertext. It is what the next item's AAD binds and what a head names.
pub fn item_hash(aad: &ItemAad, sealed: &[u8]) -> [u8; 32] {
    let bytes = Writer::new(ITEM_HASH_DOMAIN)
        .bytes(&aad.encode())
        .bytes(sealed)
        .finish();
    sha256(&[&bytes])
}

/// What a message's idempotency key is stored as: a PRF of the client's key under the report
/// key K_r (HKDF-SHA256, RFC 5869, with K_r as input key material). Two reports never share a
/// value even for the same client key, and the value tells nothing about when it was made.
pub fn idempotency_tag(k_r: &SecretKey32, client_key: &str) -> [u8; 32] {
    let mut info = b"bisik-idempotency-v1\0".to_vec();
    info.extend_from_slice(client_key.as_bytes());
    *hkdf32(k_r.expose(), &info).expose()
}

/// The fingerprint by which signed structures name their signer.
pub fn signer_fingerprint(key: &VerifyingKey) -> [u8; 32] {
    fingerprint("ed25519", key.as_bytes())
}

fn verify_by(
    bytes: &[u8],
    sig: &[u8],
    signer: &[u8; 32],
    key: &VerifyingKey,
) -> Result<(), CryptoError> {
    if *signer != signer_fingerprint(key) {
        return Err(CryptoError::Authentication);
    }
    let sig = Signature::from_slice(sig).map_err(|_| CryptoError::Malformed("signature"))?;
    key.verify_strict(bytes, &sig)
        .map_err(|_| CryptoError::Authentication)
}

/// The signed end of a report's chain: "this report has `count` items, the last of which hashes
/// to `last_hash`", signed by `signer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Report id (UUID bytes).
    pub report_id: [u8; 16],
    /// Number of items in the chain (the last item's sequence number + 1).
    pub count: u64,
    /// Hash of the item with sequence number `count - 1`.
    pub last_hash: [u8; 32],
    /// Fingerprint of the Ed25519 key that signed this head.
    pub signer: [u8; 32],
}

impl ChainHead {
    /// Canonical bytes, which are what gets signed and stored.
    pub fn encode(&self) -> Vec<u8> {
        Writer::new(HEAD_DOMAIN)
            .bytes(&self.report_id)
            .u64(self.count)
            .bytes(&self.last_hash)
            .bytes(&self.signer)
            .finish()
    }

    /// Parses canonical bytes without checking any signature (to learn who claims to have
    /// signed them).
    pub fn decode(buf: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(buf, HEAD_DOMAIN)?;
        let report_id: [u8; 16] = r
            .bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("report id"))?;
        let count = r.u64()?;
        let last_hash = r.array32()?;
        let signer = r.array32()?;
        r.end()?;
        if count == 0 {
            return Err(CryptoError::Malformed("empty chain"));
        }
        Ok(ChainHead {
            report_id,
            count,
            last_hash,
            signer,
        })
    }

    /// Makes and signs a head; the signer field is the key's own fingerprint. Returns (bytes,
    /// signature).
    pub fn sign(
        report_id: [u8; 16],
        count: u64,
        last_hash: [u8; 32],
        key: &SigningKey,
    ) -> (Vec<u8>, [u8; 64]) {
        let head = ChainHead {
            report_id,
            count,
            last_hash,
            signer: signer_fingerprint(&key.verifying_key()),
        };
        let bytes = head.encode();
        let sig = key.sign(&bytes).to_bytes();
        (bytes, sig)
    }

    /// Verifies a stored head under `key`, which must be the key its signer field names.
    pub fn verify(bytes: &[u8], sig: &[u8], key: &VerifyingKey) -> Result<Self, CryptoError> {
        let head = Self::decode(bytes)?;
        verify_by(bytes, sig, &head.signer, key)?;
        Ok(head)
    }
}

/// A signed statement that a report key was created by `signer` for this report and purpose:
/// the case desk signs one for every K_s it creates, so that a K_s wrapped to escrow by someone
/// holding only public keys is not taken for the desk's. `commitment` is
/// [`crate::crypto::header::key_commitment`] of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatement {
    /// Report id (UUID bytes).
    pub report_id: [u8; 16],
    /// Purpose code of the key ([`crate::crypto::wrap::Purpose::code`]).
    pub purpose: i16,
    /// Hash commitment to the key.
    pub commitment: [u8; 32],
    /// Fingerprint of the Ed25519 key that signed this statement.
    pub signer: [u8; 32],
}

impl KeyStatement {
    /// Canonical bytes, which are what gets signed and stored.
    pub fn encode(&self) -> Vec<u8> {
        Writer::new(KEY_STATEMENT_DOMAIN)
            .bytes(&self.report_id)
            .bytes(&self.purpose.to_be_bytes())
            .bytes(&self.commitment)
            .bytes(&self.signer)
            .finish()
    }

    /// Parses canonical bytes without checking any signature.
    pub fn decode(buf: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(buf, KEY_STATEMENT_DOMAIN)?;
        let report_id: [u8; 16] = r
            .bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("report id"))?;
        let purpose: [u8; 2] = r
            .bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("purpose"))?;
        let commitment = r.array32()?;
        let signer = r.array32()?;
        r.end()?;
        Ok(KeyStatement {
            report_id,
            purpose: i16::from_be_bytes(purpose),
            commitment,
            signer,
        })
    }

    /// Signs this statement; the signer field is set to the key's fingerprint first.
    pub fn sign(mut self, key: &SigningKey) -> (Vec<u8>, [u8; 64]) {
        self.signer = signer_fingerprint(&key.verifying_key());
        let bytes = self.encode();
        let sig = key.sign(&bytes).to_bytes();
        (bytes, sig)
    }

    /// Verifies a stored statement under `key`, which must be the key its signer field names.
    pub fn verify(bytes: &[u8], sig: &[u8], key: &VerifyingKey) -> Result<Self, CryptoError> {
        let st = Self::decode(bytes)?;
        verify_by(bytes, sig, &st.signer, key)?;
        Ok(st)
    }
}
