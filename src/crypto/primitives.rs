//! Primitives: OS randomness, HKDF-SHA256 (RFC 5869), SHA-256 and constant-time comparison.
//! Every secret of fixed size is a [`SecretKey32`], zeroized on drop and redacted in Debug.

use hkdf::Hkdf;
use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit secret (report key, KEK, pepper, seed). Zeroized on drop; Debug prints nothing of it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey32([u8; 32]);

impl SecretKey32 {
    /// A fresh key from the operating system's RNG (DESIGN: "random 256-bit keys from the OS RNG").
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        os_fill(&mut k);
        SecretKey32(k)
    }
    /// Wraps existing bytes; the caller should zeroize its own copy.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey32(bytes)
    }
    /// Takes 32 bytes from a slice, or fails on any other length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, super::CryptoError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| super::CryptoError::Malformed("key length"))?;
        Ok(SecretKey32(arr))
    }
    /// Borrow the raw bytes. Keep the borrow short.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey32([REDACTED])")
    }
}

impl PartialEq for SecretKey32 {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

/// Overwrites the stack below the caller's frame with zeros. Call it right after a function that
/// handled a secret returns: its frames, and every temporary copy of the secret in them, are
/// then gone from the thread's stack, which is never freed (glibc even caches the stacks of
/// finished threads) and so escapes the zero-on-free allocator (I3).
#[inline(never)]
pub fn wipe_stack() {
    let mut scratch = [0u8; 64 * 1024];
    std::hint::black_box(&mut scratch);
}

/// Fills `buf` from the OS RNG. An RNG failure is unrecoverable for a service whose every
/// promise rests on fresh randomness, so it aborts rather than continue with weak keys.
pub fn os_fill(buf: &mut [u8]) {
    SysRng
        .try_fill_bytes(buf)
        .expect("the operating system's random number generator failed");
}

/// An infallible, cryptographically secure RNG backed by the OS, for APIs that take `&mut impl
/// CryptoRng` (HPKE encapsulation, Ed25519 key generation).
pub fn os_rng() -> rand::rand_core::UnwrapErr<SysRng> {
    rand::rand_core::UnwrapErr(SysRng)
}

/// A uniformly random integer in `0..bound` from the OS RNG, by rejection sampling so that no
/// value is more likely than another.
pub fn os_uniform(bound: u32) -> u32 {
    assert!(bound > 0);
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let mut b = [0u8; 4];
        os_fill(&mut b);
        let v = u32::from_le_bytes(b);
        if v < zone {
            return v % bound;
        }
    }
}

/// HKDF-SHA256 (RFC 5869) expand of `ikm` to 32 bytes under the label `info`.
pub fn hkdf32(ikm: &[u8], info: &[u8]) -> SecretKey32 {
    let hk = Hkdf::<Sha256>::new(None, ikm);
    let mut out = [0u8; 32];
    hk.expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let k = SecretKey32(out);
    out.zeroize();
    k
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Constant-time equality for secrets and tags (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Fingerprint of a public key: SHA-256 over a domain label and the key. Shown to people in
/// groups of four hex digits so two screens can be compared by eye during a ceremony.
pub fn fingerprint(kind: &str, public: &[u8]) -> [u8; 32] {
    sha256(&[b"bisik-fingerprint-v1\0", kind.as_bytes(), b"\0", public])
}

/// Formats a fingerprint for humans: the first 16 bytes as 8 groups of 4 hex digits.
pub fn fingerprint_display(fp: &[u8; 32]) -> String {
    let h = hex::encode(&fp[..16]);
    h.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("hex is ascii"))
        .collect::<Vec<_>>()
        .join(" ")
}
