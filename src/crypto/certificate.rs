//! The staff certificate: a supervisor's signature over an investigator's keys (I5, "an
//! investigator's key is certified by the assigning supervisor's signing key").
//!
//! The desk's audit log already records every certification, and the desk trusts what that
//! verified chain says. The intake cannot read the audit log (I3, the production split), yet it
//! must decide whether a chain head signed by a staff key may be extended by the reporter's next
//! message. So the desk also publishes each investigator certification as this small signed
//! statement in the reports database. The intake accepts it only when its signer is a supervisor
//! on the recipient list signed by the organisation key: the trust still roots in the offline
//! key, and a row written straight into the database certifies nothing.

use super::CryptoError;
use super::canon::{Reader, Writer};
use super::chain::signer_fingerprint;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

const DOMAIN: &str = "bisik-staff-certificate-v1";

/// "These keys are staff member `staff_id`'s, in `role`", signed by `signer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffCertificate {
    /// The certified staff member's id (UUID bytes).
    pub staff_id: [u8; 16],
    /// `investigator` (the only role a supervisor certifies).
    pub role: String,
    /// Their Ed25519 public key (signs chain heads and audit entries).
    pub ed25519: [u8; 32],
    /// Their X25519 public key (receives wraps).
    pub x25519: [u8; 32],
    /// Fingerprint of the certifying supervisor's Ed25519 key.
    pub signer: [u8; 32],
}

impl StaffCertificate {
    /// Canonical bytes, the ones signed.
    pub fn encode(&self) -> Vec<u8> {
        Writer::new(DOMAIN)
            .bytes(&self.staff_id)
            .bytes(self.role.as_bytes())
            .bytes(&self.ed25519)
            .bytes(&self.x25519)
            .bytes(&self.signer)
            .finish()
    }

    /// Parses [`StaffCertificate::encode`] without checking the signature.
    pub fn decode(buf: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(buf, DOMAIN)?;
        let staff_id: [u8; 16] = r
            .bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("staff id"))?;
        let role =
            String::from_utf8(r.bytes()?.to_vec()).map_err(|_| CryptoError::Malformed("role"))?;
        let ed25519 = r.array32()?;
        let x25519 = r.array32()?;
        let signer = r.array32()?;
        r.end()?;
        Ok(StaffCertificate {
            staff_id,
            role,
            ed25519,
            x25519,
            signer,
        })
    }

    /// Signs with the supervisor's key (the `signer` field is set from it).
    pub fn sign(mut self, key: &SigningKey) -> (Vec<u8>, [u8; 64]) {
        self.signer = signer_fingerprint(&key.verifying_key());
        let bytes = self.encode();
        let sig = key.sign(&bytes).to_bytes();
        (bytes, sig)
    }

    /// Decodes `bytes` and checks `sig` under `key`, which must be the key `signer` names.
    pub fn verify(bytes: &[u8], sig: &[u8], key: &VerifyingKey) -> Result<Self, CryptoError> {
        let c = Self::decode(bytes)?;
        if c.signer != signer_fingerprint(key) {
            return Err(CryptoError::Authentication);
        }
        let sig = Signature::from_slice(sig).map_err(|_| CryptoError::Malformed("signature"))?;
        key.verify_strict(bytes, &sig)
            .map_err(|_| CryptoError::Authentication)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey32;

    fn cert() -> StaffCertificate {
        StaffCertificate {
            staff_id: [7; 16],
            role: "investigator".into(),
            ed25519: [1; 32],
            x25519: [2; 32],
            signer: [0; 32],
        }
    }

    #[test]
    fn verifies_only_under_its_signer_and_unchanged() {
        let sup = SigningKey::from_bytes(SecretKey32::random().expose());
        let other = SigningKey::from_bytes(SecretKey32::random().expose());
        let (bytes, sig) = cert().sign(&sup);
        let c = StaffCertificate::verify(&bytes, &sig, &sup.verifying_key()).unwrap();
        assert_eq!(c.x25519, [2; 32]);
        assert!(StaffCertificate::verify(&bytes, &sig, &other.verifying_key()).is_err());
        let mut changed = bytes.clone();
        let last = changed.len() - 40;
        changed[last] ^= 1;
        assert!(StaffCertificate::verify(&changed, &sig, &sup.verifying_key()).is_err());
        // Signed by another key that claims the supervisor as signer: refused.
        let mut forged = cert();
        forged.signer = signer_fingerprint(&sup.verifying_key());
        let fb = forged.encode();
        let fs = other.sign(&fb).to_bytes();
        assert!(StaffCertificate::verify(&fb, &fs, &sup.verifying_key()).is_err());
    }
}
