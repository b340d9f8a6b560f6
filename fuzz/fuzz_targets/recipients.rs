//! The signed recipient list (`src/crypto/recipients.rs`).
//!
//! Properties: `from_json`, `verify_signature`, `verify` and `keys` never panic on any text; an
//! arbitrary file's signature does not verify under the pinned organisation key; a list that
//! parses survives a JSON round trip unchanged; signed by the key, it verifies exactly when its
//! keys are valid, and its dates and epoch are then judged as documented.
#![no_main]

use bisik::crypto::recipients::{ListError, SignedRecipientList};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let org = SigningKey::from_bytes(&[9u8; 32]);
    let public = org.verifying_key();
    let Ok(file) = SignedRecipientList::from_json(text) else {
        return;
    };
    let keys_ok = file.list.keys().is_ok();
    assert!(
        file.verify_signature(&public).is_err(),
        "an arbitrary list verified"
    );

    let again = SignedRecipientList::from_json(&serde_json::to_string(&file).unwrap())
        .expect("a parsed list round-trips");
    assert_eq!(again.list, file.list);
    assert_eq!(again.signature, file.signature);

    let signed = file.list.clone().sign(&org);
    let v = signed.verify_signature(&public);
    assert_eq!(v.is_ok(), keys_ok, "{v:?}");
    if keys_ok {
        let l = &signed.list;
        let now = l.issued_at;
        let r = signed.verify(&public, now, l.epoch);
        if now < l.expires_at {
            assert!(r.is_ok(), "{r:?}");
        } else {
            assert_eq!(r, Err(ListError::Expired(l.expires_at)));
        }
        if l.epoch > 0 && now < l.expires_at {
            assert!(
                matches!(
                    signed.verify(&public, now, l.epoch.saturating_add(1)),
                    Err(ListError::Rollback { .. })
                ) || l.epoch == u64::MAX
            );
        }
    }
});
