//! Opening a sealed stream (`src/crypto/stream.rs`), which the desk does for every attachment
//! download, on bytes an attacker with write access to the blob store chose.
//!
//! Properties: no input panics the opener, fed whole or in pieces; nothing opens that was not
//! sealed under the key (the fuzzer cannot forge Poly1305, so only the genuine stream opens);
//! and a genuine stream, cut or extended by the fuzzer's bytes, fails.
#![no_main]

use bisik::crypto::SecretKey32;
use bisik::crypto::stream::{BlobAad, BlobPurpose, Opener, open_all, seal_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SecretKey32::from_bytes([7; 32]);
    let aad = BlobAad {
        report_id: [1; 16],
        blob_id: [2; 16],
        purpose: BlobPurpose::Attachment,
    };
    let (claim, rest) = match data.split_first() {
        Some((c, r)) => (u64::from(*c) * 97, r),
        None => (0, data),
    };
    // Arbitrary bytes, whole and in pieces: never panics, never opens.
    assert!(open_all(&key, &aad, claim, rest).is_err());
    let mut o = Opener::new(&key, &aad, claim);
    let mut out = Vec::new();
    let mut ok = true;
    for piece in rest.chunks(1 + claim as usize % 4096) {
        if o.push(piece, &mut out).is_err() {
            ok = false;
            break;
        }
    }
    if ok {
        assert!(o.finish(&mut out).is_err());
    }
    // The fuzzer's bytes as the plaintext: they round-trip, and any cut or extension fails.
    let sealed = seal_all(&key, &aad, rest);
    let back = open_all(&key, &aad, rest.len() as u64, &sealed).expect("genuine opens");
    assert_eq!(back.as_slice(), rest);
    let cut = claim as usize % sealed.len();
    assert!(open_all(&key, &aad, rest.len() as u64, &sealed[..cut]).is_err());
    let longer = [&sealed[..], &data[..data.len().min(3)], &[0]].concat();
    assert!(open_all(&key, &aad, rest.len() as u64, &longer).is_err());
});
