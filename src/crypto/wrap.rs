//! HPKE wraps (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305)
//! of report keys to recipients' X25519 public keys.
//!
//! This file can only *wrap*. Opening a wrap needs a private key, and that code lives in
//! [`crate::vault`], outside everything the intake imports.

use super::CryptoError;
use super::canon::Writer;
use super::primitives::{SecretKey32, fingerprint, os_rng};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeS, Serializable};

/// Length of a stored wrap: 32-byte encapsulated key plus 32-byte sealed key plus 16-byte tag.
pub const WRAP_LEN: usize = 80;

/// Which report key a wrap carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// K_r: the tip and the conversation.
    ReporterKey,
    /// K_s: staff-only items.
    StaffKey,
}

impl Purpose {
    /// Stored code.
    pub fn code(self) -> i16 {
        match self {
            Purpose::ReporterKey => 1,
            Purpose::StaffKey => 2,
        }
    }
    /// From the stored code.
    pub fn from_code(c: i16) -> Option<Self> {
        match c {
            1 => Some(Purpose::ReporterKey),
            2 => Some(Purpose::StaffKey),
            _ => None,
        }
    }
}

/// An X25519 public key that can receive wraps, with its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientKey {
    /// Raw public key.
    pub public: [u8; 32],
}

impl RecipientKey {
    /// Parses 32 bytes as an X25519 public key.
    pub fn from_bytes(b: &[u8]) -> Result<Self, CryptoError> {
        let public: [u8; 32] = b
            .try_into()
            .map_err(|_| CryptoError::Malformed("x25519 key length"))?;
        let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&public)
            .map_err(|_| CryptoError::Malformed("x25519 key"))?;
        // A low-order point (e.g. all zeros) parses, but every encapsulation to it fails
        // (RFC 9180 §7.1.4). Refuse it here, at load time, so it never reaches a submission.
        hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &pk,
            b"bisik key check",
            b"",
            b"",
            &mut os_rng(),
        )
        .map_err(|_| CryptoError::Malformed("x25519 key of low order"))?;
        Ok(RecipientKey { public })
    }
    /// Fingerprint bound into every wrap made to this key.
    pub fn fingerprint(&self) -> [u8; 32] {
        fingerprint("x25519", &self.public)
    }
}

/// HPKE `info` for a wrap: binds report, recipient fingerprint and purpose, so a wrap copied to
/// another report or relabelled as the other key does not open.
pub fn wrap_info(report_id: &[u8; 16], recipient_fp: &[u8; 32], purpose: Purpose) -> Vec<u8> {
    Writer::new("bisik-wrap-info-v1")
        .bytes(report_id)
        .bytes(recipient_fp)
        .bytes(&purpose.code().to_be_bytes())
        .finish()
}

/// Wraps `key` to `recipient` for `report_id`.
pub fn wrap_to(
    recipient: &RecipientKey,
    report_id: &[u8; 16],
    purpose: Purpose,
    key: &SecretKey32,
) -> Result<Vec<u8>, CryptoError> {
    let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&recipient.public)
        .map_err(|_| CryptoError::Malformed("x25519 key"))?;
    let info = wrap_info(report_id, &recipient.fingerprint(), purpose);
    let (encapped, ct) = hpke::single_shot_seal_with_rng::<
        ChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
    >(&OpModeS::Base, &pk, &info, key.expose(), b"", &mut os_rng())
    .map_err(|_| CryptoError::Malformed("x25519 key of low order"))?;
    let mut out = Vec::with_capacity(WRAP_LEN);
    out.extend_from_slice(&encapped.to_bytes());
    out.extend_from_slice(&ct);
    debug_assert_eq!(out.len(), WRAP_LEN);
    Ok(out)
}

/// A fresh X25519 key pair as (private, public) bytes. Used by `keys init` and by staff key
/// creation; the private half goes straight into a sealed container.
pub fn generate_x25519() -> (SecretKey32, [u8; 32]) {
    let (sk, pk) = X25519HkdfSha256::gen_keypair_with_rng(&mut os_rng());
    let skb: [u8; 32] = sk.to_bytes().into();
    (SecretKey32::from_bytes(skb), pk.to_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_order_points_are_refused_at_load() {
        // u = 0 and u = 1 are points of small order on Curve25519 (RFC 7748 §6.1 warns of
        // them); an encapsulation to either yields an all-zero shared secret.
        let mut one = [0u8; 32];
        one[0] = 1;
        for bad in [[0u8; 32], one] {
            assert_eq!(
                RecipientKey::from_bytes(&bad),
                Err(CryptoError::Malformed("x25519 key of low order"))
            );
        }
        assert!(RecipientKey::from_bytes(&[0u8; 31]).is_err());
        let (_, good) = generate_x25519();
        let k = RecipientKey::from_bytes(&good).unwrap();
        assert_eq!(
            wrap_to(&k, &[7; 16], Purpose::StaffKey, &SecretKey32::random())
                .unwrap()
                .len(),
            WRAP_LEN
        );
    }
}
