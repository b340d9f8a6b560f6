//! Sealed items (`src/crypto/envelope.rs`).
//!
//! Properties: `open` and `unwrap_report_key` never panic on any bytes under any key and AAD;
//! a seal of the input opens to the input; changing any one byte of a seal, or the AAD, makes
//! it fail to open.
#![no_main]

use bisik::crypto::SecretKey32;
use bisik::crypto::envelope::{
    ENVELOPE_VERSION, ItemAad, bucket, open, seal_with_nonce, unwrap_report_key,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // key (32) ‖ report id (16) ‖ kind ‖ item id (16) ‖ direction ‖ seq (8) ‖ prev (32) ‖
    // nonce (24) ‖ rest
    if data.len() < 32 + 16 + 1 + 16 + 1 + 8 + 32 + 24 {
        return;
    }
    let (key, rest) = data.split_at(32);
    let (rid, rest) = rest.split_at(16);
    let (kind, rest) = rest.split_at(1);
    let (iid, rest) = rest.split_at(16);
    let (dir, rest) = rest.split_at(1);
    let (seq, rest) = rest.split_at(8);
    let (prev, rest) = rest.split_at(32);
    let (nonce, rest) = rest.split_at(24);
    let key = SecretKey32::from_slice(key).unwrap();
    let aad = ItemAad {
        report_id: rid.try_into().unwrap(),
        kind: kind[0],
        item_id: iid.try_into().unwrap(),
        direction: dir[0],
        seq: u64::from_be_bytes(seq.try_into().unwrap()),
        prev: prev.try_into().unwrap(),
    };

    // Arbitrary bytes as a sealed item: never a panic, and (without the key's cooperation)
    // practically never a success.
    let _ = open(&key, &aad, rest);
    let _ = unwrap_report_key(&key, &aad.report_id, aad.kind, rest);

    // The rest as plaintext: sealed, it opens to itself.
    let nonce: [u8; 24] = nonce.try_into().unwrap();
    let sealed = seal_with_nonce(&key, &aad, rest, &nonce);
    assert_eq!(sealed[0], ENVELOPE_VERSION);
    assert_eq!(sealed.len(), 1 + 24 + bucket(rest.len()) + 16);
    let opened = open(&key, &aad, &sealed).expect("a valid seal opens");
    assert_eq!(&opened[..], rest);

    // One flipped bit anywhere (position chosen by the input) breaks it.
    let pos = usize::from(aad.kind) * 256 + usize::from(aad.direction);
    let mut bad = sealed.clone();
    let i = pos % bad.len();
    bad[i] ^= 1 << (aad.seq % 8);
    assert!(open(&key, &aad, &bad).is_err(), "a changed seal opened");
    // Another AAD breaks it.
    let mut other = aad.clone();
    other.seq = other.seq.wrapping_add(1);
    assert!(
        open(&key, &other, &sealed).is_err(),
        "a seal opened under another AAD"
    );
    // Another previous item (the chain link) breaks it too.
    let mut relinked = aad.clone();
    relinked.prev[usize::from(aad.kind) % 32] ^= 1;
    assert!(
        open(&key, &relinked, &sealed).is_err(),
        "a seal opened under another chain link"
    );
    // A truncated seal never opens.
    assert!(open(&key, &aad, &sealed[..sealed.len() - 1]).is_err());
});
