//! The report header, signed by the intake's Ed25519 key (RFC 8032). It commits to the report
//! id, the received day, the unit, the report keys and the fingerprints of every recipient the
//! keys were wrapped to. The desk and `keys recover` verify it, so a report planted by someone
//! with database access is detected, and so is a swapped or missing escrow wrap.

use super::CryptoError;
use super::canon::{Reader, Writer};
use super::primitives::{SecretKey32, sha256};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

const DOMAIN: &str = "bisik-report-header-v1";

/// The signed facts about one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportHeader {
    /// Report id (UUID bytes).
    pub report_id: [u8; 16],
    /// Received day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Unit the report was filed to.
    pub unit: String,
    /// Commitment to K_r and K_s; see [`key_commitment`].
    pub key_commitment: [u8; 32],
    /// Epoch of the recipient list in force (0 when only escrow received wraps).
    pub recipient_epoch: u64,
    /// Fingerprints of every key that received wraps, escrow first.
    pub recipients: Vec<[u8; 32]>,
}

/// Hash commitment to the two report keys. The keys are 256-bit random, so the hash hides them.
pub fn key_commitment(report_id: &[u8; 16], k_r: &SecretKey32, k_s: &SecretKey32) -> [u8; 32] {
    sha256(&[
        b"bisik-key-commitment-v1",
        report_id,
        k_r.expose(),
        k_s.expose(),
    ])
}

impl ReportHeader {
    /// Canonical bytes, which are what gets signed and stored.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(DOMAIN);
        w.bytes(&self.report_id)
            .str(&self.day)
            .str(&self.unit)
            .bytes(&self.key_commitment)
            .u64(self.recipient_epoch)
            .u64(self.recipients.len() as u64);
        for r in &self.recipients {
            w.bytes(r);
        }
        w.finish()
    }

    /// Parses canonical bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(buf, DOMAIN)?;
        let report_id: [u8; 16] = r
            .bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("report id"))?;
        let day = r.str()?.to_owned();
        let unit = r.str()?.to_owned();
        let key_commitment = r.array32()?;
        let recipient_epoch = r.u64()?;
        let n = r.u64()?;
        if n > 1024 {
            return Err(CryptoError::Malformed("recipient count"));
        }
        let mut recipients = Vec::with_capacity(n as usize);
        for _ in 0..n {
            recipients.push(r.array32()?);
        }
        r.end()?;
        Ok(ReportHeader {
            report_id,
            day,
            unit,
            key_commitment,
            recipient_epoch,
            recipients,
        })
    }

    /// Signs the canonical bytes; returns (bytes, signature).
    pub fn sign(&self, key: &SigningKey) -> (Vec<u8>, [u8; 64]) {
        let bytes = self.encode();
        let sig = key.sign(&bytes).to_bytes();
        (bytes, sig)
    }

    /// Verifies a stored header against the pinned intake public key and parses it.
    pub fn verify(
        bytes: &[u8],
        sig: &[u8],
        intake_pub: &VerifyingKey,
    ) -> Result<Self, CryptoError> {
        let sig = Signature::from_slice(sig).map_err(|_| CryptoError::Malformed("signature"))?;
        intake_pub
            .verify_strict(bytes, &sig)
            .map_err(|_| CryptoError::Authentication)?;
        Self::decode(bytes)
    }
}
