//! The signed report header (`src/crypto/header.rs`).
//!
//! Properties: `decode` and `verify` never panic on any bytes or signature; decoding is
//! canonical (what decodes re-encodes to exactly the same bytes); arbitrary bytes with an
//! arbitrary signature never verify under the pinned key; a decoded header signed by the key
//! verifies to itself, and fails once any byte of the bytes or signature changes.
#![no_main]

use bisik::crypto::header::ReportHeader;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = key.verifying_key();
    // signature (64) ‖ header bytes
    let (sig, bytes) = data.split_at(data.len().min(64));

    if let Ok(h) = ReportHeader::decode(bytes) {
        assert_eq!(h.encode(), bytes, "decoding is not canonical");
        let (signed, good) = h.sign(&key);
        assert_eq!(signed, bytes);
        assert_eq!(ReportHeader::verify(&signed, &good, &public), Ok(h));
        if !sig.is_empty() {
            let i = usize::from(sig[0]) % signed.len();
            let mut bad = signed.clone();
            bad[i] ^= 0x01;
            assert!(ReportHeader::verify(&bad, &good, &public).is_err());
            let mut badsig = good;
            badsig[usize::from(sig[0]) % 64] ^= 0x80;
            assert!(ReportHeader::verify(&signed, &badsig, &public).is_err());
        }
    }
    // The input's own signature: a forgery would be a finding.
    assert!(
        ReportHeader::verify(bytes, sig, &public).is_err(),
        "an arbitrary signature verified"
    );
});
