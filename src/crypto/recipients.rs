//! The recipient list: which supervisor keys receive wraps of new reports. It is signed by the
//! organisation's offline Ed25519 key, carries an epoch (so an old list cannot be replayed after
//! a supervisor is removed) and an expiry (so a list nobody re-signs stops working). An
//! unsigned key, or one not on a valid list, receives nothing (invariant I5); a database row or
//! an admin role certifies nothing.

use super::CryptoError;
use super::canon::Writer;
use super::wrap::RecipientKey;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

const DOMAIN: &str = "bisik-recipient-list-v1";

/// One certified recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Account name, for people reading the list.
    pub name: String,
    /// Role the certification grants (`supervisor`).
    pub role: String,
    /// X25519 public key (hex) that receives wraps.
    pub x25519: String,
    /// Ed25519 public key (hex) that signs this person's audit entries; empty until the desk
    /// creates it.
    #[serde(default)]
    pub ed25519: String,
}

/// The list body that is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientList {
    /// Monotonic version; the intake refuses any epoch lower than the highest it has accepted.
    pub epoch: u64,
    /// Unix seconds when signed.
    pub issued_at: u64,
    /// Unix seconds after which the list is refused.
    pub expires_at: u64,
    /// Certified recipients.
    pub recipients: Vec<Recipient>,
}

/// The list as stored in `keys/recipients.json`: readable fields plus a signature over their
/// canonical encoding (never over the JSON text).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRecipientList {
    /// Format marker.
    pub format: String,
    /// The signed body.
    pub list: RecipientList,
    /// Ed25519 signature by the organisation key (hex).
    pub signature: String,
}

/// Why a list was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ListError {
    /// Not parseable or wrong format marker.
    #[error("recipient list is malformed: {0}")]
    Malformed(String),
    /// Signature does not verify under the pinned organisation key.
    #[error("recipient list signature does not verify under the pinned organisation key")]
    BadSignature,
    /// Past its expiry.
    #[error("recipient list expired at {0} (unix seconds)")]
    Expired(u64),
    /// Issued in the future (beyond five minutes of clock skew).
    #[error("recipient list is dated in the future ({0}, unix seconds)")]
    NotYetValid(u64),
    /// Epoch lower than one already accepted: a rollback.
    #[error("recipient list epoch {got} is older than epoch {seen} already accepted (rollback)")]
    Rollback {
        /// Epoch in the file.
        got: u64,
        /// Highest epoch accepted before.
        seen: u64,
    },
}

impl RecipientList {
    /// Canonical encoding that is signed.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(DOMAIN);
        w.u64(self.epoch)
            .u64(self.issued_at)
            .u64(self.expires_at)
            .u64(self.recipients.len() as u64);
        for r in &self.recipients {
            w.str(&r.name).str(&r.role).str(&r.x25519).str(&r.ed25519);
        }
        w.finish()
    }

    /// Signs the list with the organisation key.
    pub fn sign(self, org: &SigningKey) -> SignedRecipientList {
        let signature = hex::encode(org.sign(&self.encode()).to_bytes());
        SignedRecipientList {
            format: DOMAIN.to_owned(),
            list: self,
            signature,
        }
    }

    /// The X25519 keys on the list, validated. A key listed twice is refused: it would get two
    /// wraps per report, and a list that cannot be used is better refused than half-used.
    pub fn keys(&self) -> Result<Vec<RecipientKey>, CryptoError> {
        let mut out: Vec<RecipientKey> = Vec::with_capacity(self.recipients.len());
        for r in &self.recipients {
            let b = hex::decode(&r.x25519).map_err(|_| CryptoError::Malformed("x25519 hex"))?;
            let k = RecipientKey::from_bytes(&b)?;
            if out.contains(&k) {
                return Err(CryptoError::Malformed("the same key is listed twice"));
            }
            out.push(k);
        }
        Ok(out)
    }
}

impl SignedRecipientList {
    /// Parses the JSON file form.
    pub fn from_json(text: &str) -> Result<Self, ListError> {
        let l: SignedRecipientList =
            serde_json::from_str(text).map_err(|e| ListError::Malformed(e.to_string()))?;
        if l.format != DOMAIN {
            return Err(ListError::Malformed(format!("format is not {DOMAIN}")));
        }
        Ok(l)
    }

    /// Verifies only the signature and the keys, whatever the dates: for re-signing an expired
    /// list in a ceremony. The intake always uses [`SignedRecipientList::verify`].
    pub fn verify_signature(&self, org: &VerifyingKey) -> Result<&RecipientList, ListError> {
        let sig = hex::decode(&self.signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(ListError::BadSignature)?;
        org.verify_strict(&self.list.encode(), &sig)
            .map_err(|_| ListError::BadSignature)?;
        self.list
            .keys()
            .map_err(|e| ListError::Malformed(e.to_string()))?;
        Ok(&self.list)
    }

    /// Verifies signature, keys, dates (`now` in unix seconds) and the epoch against the
    /// highest epoch accepted so far, then returns the list.
    pub fn verify(
        &self,
        org: &VerifyingKey,
        now: u64,
        highest_seen: u64,
    ) -> Result<&RecipientList, ListError> {
        self.verify_signature(org)?;
        if now >= self.list.expires_at {
            return Err(ListError::Expired(self.list.expires_at));
        }
        if self.list.issued_at > now.saturating_add(300) {
            return Err(ListError::NotYetValid(self.list.issued_at));
        }
        if self.list.epoch < highest_seen {
            return Err(ListError::Rollback {
                got: self.list.epoch,
                seen: highest_seen,
            });
        }
        Ok(&self.list)
    }
}
