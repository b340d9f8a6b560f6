//! Desk wraps: a report's K_r sealed again, symmetrically, for one staff key (issue 7, search).
//!
//! Opening a report for the first time costs an X25519 Diffie-Hellman (the HPKE wrap) and an
//! Ed25519 verification (the intake-signed header): about 0.1 ms of CPU, so 10 s for the
//! 100,000 reports a supervisor may hold, which is more than a session's first search may take
//! (docs/BENCHMARKS.md). Once the desk has done that work for a staff member, it seals K_r under
//! a key derived from that member's own X25519 secret and stores it beside the HPKE wrap
//! (`desk_wraps`, migration 0010). A later session opens it with one XChaCha20-Poly1305.
//!
//! Why this keeps the invariants:
//! - **I1, I4.** The row is ciphertext under a key that exists only while the member's keys are
//!   unlocked in a desk session; a copy of the database needs the staff password and the desk
//!   pepper, exactly as for the HPKE wrap.
//! - **I3.** The intake never derives the key: the module lives under `desk`, which the intake
//!   cannot reach. On PostgreSQL it has no grant on the table either. On SQLite the table is in
//!   the reports file the intake must write, so a compromised intake could see which reports a
//!   staff key has opened, as it can already see their status, assignment and wraps there
//!   (README, "Production split").
//! - **I5.** A desk wrap exists only beside the HPKE wrap it came from: the foreign key removes
//!   it with that wrap, and every read joins it through `report_wraps`.
//! - **The header check.** The AAD binds the report id, the key's fingerprint, the pinned
//!   intake key the header was checked under, and the signed header with its signature. The desk seals one only after the header verified and K_r
//!   matched its commitment, so a wrap that opens stands for that check; an edited header, a
//!   row copied to another report or key, or a forged row does not open, and the caller falls
//!   back to the HPKE wrap and the strict check, which then reports the tampering.
//!
//! The report page still checks everything itself on every open (the header, the whole chain,
//! the signed heads, the HPKE wrap): desk wraps serve the inbox's previews and the search's
//! summaries, which therefore no longer notice a damaged HPKE wrap behind a desk wrap that
//! opens; the report page does.

use crate::crypto::SecretKey32;
use crate::crypto::envelope::{self, ItemAad};
use crate::crypto::primitives::{hkdf32, sha256};
use crate::domain::ReportId;
use crate::store::SearchMaterial;

/// AAD kind of a desk wrap, apart from every item kind and from the other envelopes' kinds
/// (0xF0..0xF3); its key is its own in any case.
const KIND_DESK_WRAP: u8 = 0xF4;

/// The wrap's purpose in the AAD: K_r (report_wraps purpose 1), the only key desk wraps hold.
const PURPOSE_K_R: u8 = 1;

/// HKDF label of the desk-wrap key.
const LABEL: &[u8] = b"bisik desk wrap v1";

/// The key that seals and opens one staff key's desk wraps, for the length of a session.
pub struct Rewrap {
    key: SecretKey32,
    fp: String,
    /// The pinned intake verifying key the headers were checked under: a desk wrap made before
    /// the intake key is pinned anew (after an intake compromise) does not open after it.
    intake: [u8; 32],
}

impl std::fmt::Debug for Rewrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrap").field("fp", &self.fp).finish()
    }
}

impl Rewrap {
    /// The desk-wrap key of the X25519 key `x25519`, whose fingerprint is `fp`, for headers
    /// verified under the pinned intake key `intake`.
    pub fn new(x25519: &SecretKey32, fp: &str, intake: &ed25519_dalek::VerifyingKey) -> Self {
        Rewrap {
            key: hkdf32(x25519.expose(), LABEL),
            fp: fp.to_owned(),
            intake: intake.to_bytes(),
        }
    }

    fn aad(&self, id: ReportId, header: &[u8], sig: &[u8]) -> ItemAad {
        let len = (header.len() as u64).to_be_bytes();
        ItemAad {
            report_id: id.bytes(),
            kind: KIND_DESK_WRAP,
            item_id: [0; 16],
            direction: 0,
            seq: 0,
            prev: sha256(&[
                LABEL,
                &[PURPOSE_K_R],
                &self.intake,
                self.fp.as_bytes(),
                &[0],
                &len,
                header,
                sig,
            ]),
        }
    }

    /// K_r sealed for this key, bound to the report's signed header as it is in `m`. Call it
    /// only with a K_r that came from the HPKE wrap under a header that verified.
    pub fn seal(&self, m: &SearchMaterial, k_r: &SecretKey32) -> Vec<u8> {
        envelope::seal(
            &self.key,
            &self.aad(m.id, &m.header, &m.header_sig),
            k_r.expose(),
        )
    }

    /// K_r from the desk wrap in `m`, if there is one and it opens under `m`'s header.
    pub fn open(&self, m: &SearchMaterial) -> Option<SecretKey32> {
        let sealed = m.desk_wrap.as_deref()?;
        let plain =
            envelope::open(&self.key, &self.aad(m.id, &m.header, &m.header_sig), sealed).ok()?;
        SecretKey32::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(desk_wrap: Option<Vec<u8>>) -> SearchMaterial {
        SearchMaterial {
            id: ReportId::parse("6f9619ff-8b86-4011-b42d-00c04fc964ff").unwrap(),
            header: vec![1, 2, 3],
            header_sig: vec![4; 64],
            wrapped: Vec::new(),
            desk_wrap,
            received_day: 0,
            items: Vec::new(),
        }
    }

    #[test]
    fn opens_only_for_its_key_report_and_header() {
        let staff = SecretKey32::random();
        let intake = ed25519_dalek::SigningKey::generate(&mut rand::rng()).verifying_key();
        let rw = Rewrap::new(&staff, "aa", &intake);
        let k_r = SecretKey32::random();
        let mut m = material(None);
        assert!(rw.open(&m).is_none(), "no desk wrap, nothing to open");
        m.desk_wrap = Some(rw.seal(&m, &k_r));
        assert_eq!(rw.open(&m), Some(k_r.clone()));

        // Another staff key, or the same key under another fingerprint.
        assert!(
            Rewrap::new(&SecretKey32::random(), "aa", &intake)
                .open(&m)
                .is_none()
        );
        assert!(Rewrap::new(&staff, "ab", &intake).open(&m).is_none());
        // The intake key pinned anew: what was checked under the old one is checked again.
        let repinned = ed25519_dalek::SigningKey::generate(&mut rand::rng()).verifying_key();
        assert!(Rewrap::new(&staff, "aa", &repinned).open(&m).is_none());
        // An edited header or signature, or the row moved to another report.
        let mut h = m.clone();
        h.header[0] ^= 1;
        assert!(rw.open(&h).is_none());
        let mut s = m.clone();
        s.header_sig[63] ^= 1;
        assert!(rw.open(&s).is_none());
        let mut other = m.clone();
        other.id = ReportId::parse("7f9619ff-8b86-4011-b42d-00c04fc964ff").unwrap();
        assert!(rw.open(&other).is_none());
        // Bytes moved between the header and its signature.
        let mut shifted = m.clone();
        shifted.header.push(shifted.header_sig.remove(0));
        assert!(rw.open(&shifted).is_none());
    }
}
