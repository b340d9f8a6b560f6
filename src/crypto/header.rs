//! The report header, signed by the intake's Ed25519 key (RFC 8032). It commits to the report
//! id, the received day, the unit, the tip's item id, the reporter key K_r and the fingerprints
//! of every recipient K_r was wrapped to. The desk and `keys recover` verify it, so a report planted by someone
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
    /// Item id of the tip (sequence 0), so a deleted or swapped tip is detected.
    pub tip_item: [u8; 16],
    /// Commitment to K_r; see [`key_commitment`]. K_s is not the intake's to know (I3): the
    /// desk creates it when staff first write a staff-only item.
    pub key_commitment: [u8; 32],
    /// Epoch of the recipient list in force (0 when only escrow received wraps).
    pub recipient_epoch: u64,
    /// Fingerprints of every key that received wraps, escrow first.
    pub recipients: Vec<[u8; 32]>,
}

/// Hash commitment to the reporter key. It is 256-bit random, so the hash hides it.
pub fn key_commitment(report_id: &[u8; 16], k_r: &SecretKey32) -> [u8; 32] {
    sha256(&[b"bisik-key-commitment-v1", report_id, k_r.expose()])
}

impl ReportHeader {
    /// Canonical bytes, which are what gets signed and stored.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(DOMAIN);
        w.bytes(&self.report_id)
            .str(&self.day)
            .str(&self.unit)
            .bytes(&self.tip_item)
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
        let tip_item: [u8; 16] = r
            .bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("tip item id"))?;
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
            tip_item,
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
