//! Opening HPKE wraps (RFC 9180) of report keys with an X25519 private key.

use crate::crypto::CryptoError;
use crate::crypto::primitives::SecretKey32;
use crate::crypto::wrap::{Purpose, RecipientKey, WRAP_LEN, wrap_info};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR};

/// Opens a wrap made by [`crate::crypto::wrap::wrap_to`] for `recipient`, whose private key is
/// `secret`. Fails if the wrap belongs to another report, recipient or purpose.
pub fn unwrap(
    secret: &SecretKey32,
    recipient: &RecipientKey,
    report_id: &[u8; 16],
    purpose: Purpose,
    wrapped: &[u8],
) -> Result<SecretKey32, CryptoError> {
    if wrapped.len() != WRAP_LEN {
        return Err(CryptoError::Malformed("wrap length"));
    }
    let sk = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(secret.expose())
        .map_err(|_| CryptoError::Malformed("x25519 private key"))?;
    let encapped = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&wrapped[..32])
        .map_err(|_| CryptoError::Malformed("encapsulated key"))?;
    let info = wrap_info(report_id, &recipient.fingerprint(), purpose);
    let pt = zeroize::Zeroizing::new(
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &encapped,
            &info,
            &wrapped[32..],
            b"",
        )
        .map_err(|_| CryptoError::Authentication)?,
    );
    SecretKey32::from_slice(&pt)
}

/// The X25519 public key of a private key, to check an unsealed key against its pinned half.
pub fn public_of(secret: &SecretKey32) -> Result<[u8; 32], CryptoError> {
    use hpke::Serializable;
    let sk = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(secret.expose())
        .map_err(|_| CryptoError::Malformed("x25519 private key"))?;
    Ok(X25519HkdfSha256::sk_to_pk(&sk).to_bytes().into())
}
