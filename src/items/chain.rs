//! Appending an item to a report's hash chain, and verifying a whole chain against its latest
//! signed head (the structures are in src/crypto/chain.rs).
//!
//! Both sides append: the intake a reporter's messages, signed with the intake key; the desk
//! staff items, signed with the acting staff member's key. Both refuse to extend a chain whose
//! end they cannot vouch for, so an item planted with a head of its own is not laundered by the
//! next legitimate append. Who may vouch is the caller's `trusted` set of Ed25519 keys: the
//! intake trusts only its own key, the desk and `keys recover` the intake key plus certified
//! staff keys.

use super::item_aad;
use crate::crypto::SecretKey32;
use crate::crypto::chain::{ChainHead, GENESIS, item_hash, signer_fingerprint};
use crate::crypto::envelope;
use crate::crypto::primitives::fingerprint_display;
use crate::domain::{Direction, ItemId, ItemKind, ReportId};
use crate::store::{Appended, HeadRow, ItemRow, NewItem, Quota, Store, StoreError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::time::Duration;

/// How often an append is retried after losing a race for the next sequence number. Every
/// retry means another writer committed, so running out takes sustained contention on one
/// report, which only its own reporter (or staff) can cause.
const ATTEMPTS: usize = 16;

/// Who a verifier trusts to have signed a chain head.
pub trait HeadTrust {
    /// The key that may have signed `head` (canonical bytes, already decoded as `claimed`),
    /// or `None` when its signer is not trusted for this head.
    fn key_for(&self, claimed: &ChainHead, head: &[u8]) -> Option<VerifyingKey>;
}

/// A fixed set of keys, each trusted for every head (the intake trusts only its own).
impl HeadTrust for [VerifyingKey] {
    fn key_for(&self, claimed: &ChainHead, _: &[u8]) -> Option<VerifyingKey> {
        self.iter()
            .find(|k| signer_fingerprint(k) == claimed.signer)
            .copied()
    }
}

/// The latest head of `id`'s chain, verified under a key `trusted` accepts for it: (count, last
/// hash).
async fn verified_head<T: HeadTrust + ?Sized>(
    store: &Store,
    id: ReportId,
    trusted: &T,
) -> Result<(i64, [u8; 32]), StoreError> {
    let tampered = |why: &str| {
        tracing::error!("a chain head does not verify ({why}): the database was altered");
        StoreError::Corrupt(format!("chain head: {why}"))
    };
    let row = store
        .latest_head(id)
        .await?
        .ok_or_else(|| tampered("the report has none"))?;
    let claimed = ChainHead::decode(&row.head).map_err(|_| tampered("malformed"))?;
    let key = trusted
        .key_for(&claimed, &row.head)
        .ok_or_else(|| tampered("not signed by a trusted key"))?;
    let head =
        ChainHead::verify(&row.head, &row.sig, &key).map_err(|_| tampered("bad signature"))?;
    if head.report_id != id.bytes() || head.count != row.count as u64 {
        return Err(tampered("it belongs to another report or count"));
    }
    Ok((row.count, head.last_hash))
}

/// What an item to append is: kind, direction, plaintext, and the optional idempotency tag.
pub struct Append<'a> {
    /// Kind.
    pub kind: ItemKind,
    /// Direction.
    pub direction: Direction,
    /// Serialised content, sealed under the key passed to [`append`].
    pub plain: &'a [u8],
    /// Keyed hash of the client's idempotency key.
    pub idem: Option<[u8; 32]>,
    /// Day written.
    pub day: i64,
    /// Daily quota for this kind and direction.
    pub quota: Option<Quota>,
}

/// Seals `a` under `key` as the next item of `id`'s chain, signs the new head with `signer` and
/// stores both. The current head must verify under one of `trusted`. On a lost race the item is
/// sealed again for the new position (its AAD binds the sequence number and the previous hash).
pub async fn append<T: HeadTrust + ?Sized>(
    store: &Store,
    id: ReportId,
    key: &SecretKey32,
    a: &Append<'_>,
    signer: &SigningKey,
    trusted: &T,
) -> Result<Appended, StoreError> {
    for attempt in 0..ATTEMPTS {
        let (count, prev) = verified_head(store, id, trusted).await?;
        let item = ItemId::new();
        let aad = item_aad(id, item, a.kind, a.direction, count, prev);
        let sealed = envelope::seal(key, &aad, a.plain);
        let (head, sig) = ChainHead::sign(
            id.bytes(),
            count as u64 + 1,
            item_hash(&aad, &sealed),
            signer,
        );
        let new = NewItem {
            id: item,
            kind: a.kind,
            direction: a.direction,
            sealed,
            prev,
            day: a.day,
            idem: a.idem,
        };
        match store
            .append_item(id, count, &new, (&head, &sig), a.quota)
            .await?
        {
            Appended::Conflict => {
                // Back off a little so two racers do not collide again in lockstep.
                let ms = 1 + crate::crypto::primitives::os_uniform(10 << attempt.min(4));
                tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
            }
            done => return Ok(done),
        }
    }
    Err(StoreError::Corrupt(
        "an append lost the race for the next sequence number too often".into(),
    ))
}

/// Checks that `items` are exactly the chain the latest head signs: numbered 0.. without gaps,
/// each linked to the one before, as many as the head counts, the last one the head names, and
/// the head signed by one of the `trusted` keys. Each failure is one sentence naming the
/// problem.
pub fn verify_chain<T: HeadTrust + ?Sized>(
    id: ReportId,
    items: &[ItemRow],
    head: Option<&HeadRow>,
    trusted: &T,
) -> Result<(), String> {
    let row = head.ok_or("the report has no signed chain head")?;
    let claimed = ChainHead::decode(&row.head).map_err(|_| "the chain head is malformed")?;
    let key = trusted.key_for(&claimed, &row.head).ok_or_else(|| {
        format!(
            "the chain head is signed by key {}, which is neither the intake key nor a certified staff key, so the head is unauthenticated",
            fingerprint_display(&claimed.signer)
        )
    })?;
    let head = ChainHead::verify(&row.head, &row.sig, &key)
        .map_err(|_| "the chain head signature does not verify under the key it names")?;
    if head.report_id != id.bytes() || head.count != row.count as u64 {
        return Err("the signed chain head belongs to another report or position".into());
    }
    if items.iter().enumerate().any(|(i, it)| it.seq != i as i64) {
        return Err("items are missing or out of sequence".into());
    }
    let n = items.len() as u64;
    if n < head.count {
        return Err(format!(
            "the signed chain head counts {} items but only {n} exist: items were deleted",
            head.count
        ));
    }
    if n > head.count {
        return Err(format!(
            "{} item(s) follow the end of the signed chain: planted, or appended without a head",
            n - head.count
        ));
    }
    let mut prev = GENESIS;
    for it in items {
        if it.prev != prev {
            return Err(format!(
                "item {} does not link to the item before it",
                it.seq
            ));
        }
        prev = item_hash(
            &item_aad(id, it.id, it.kind, it.direction, it.seq, it.prev),
            &it.sealed,
        );
    }
    if prev != head.last_hash {
        return Err("the last item is not the one the signed chain head names".into());
    }
    Ok(())
}
