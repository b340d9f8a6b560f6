//! Cryptography for Bisik, layered from the bottom up like age: [`primitives`] (OS randomness,
//! HKDF, hashing, constant-time comparison), then formats ([`envelope`] for sealed items,
//! [`canon`] for signed structures), the report key schedule ([`code`], [`kdf`], [`wrap`]) and
//! the signed structures ([`header`], [`recipients`], the item [`chain`] and its head).
//!
//! This module imports nothing from web, store or any handler. It can *seal* to public keys but
//! it holds no code that opens an HPKE wrap with a private key: that lives in [`crate::vault`],
//! which the intake never imports (invariant I3).

pub mod canon;
pub mod certificate;
pub mod chain;
pub mod code;
pub mod envelope;
pub mod header;
pub mod kdf;
pub mod primitives;
pub mod recipients;
pub mod stream;
pub mod wrap;

pub use primitives::SecretKey32;

/// Why a cryptographic operation failed. Deliberately coarse: callers learn *that* something
/// did not authenticate, never which byte was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// A ciphertext, wrap or signature did not authenticate.
    #[error("authentication failed")]
    Authentication,
    /// A structure was malformed (wrong length, bad version, bad padding).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A key derivation could not run (parameters rejected, out of memory).
    #[error("key derivation failed")]
    Kdf,
}
