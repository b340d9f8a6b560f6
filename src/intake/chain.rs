//! Appending a reporter's item to a report's hash chain (src/crypto/chain.rs).
//!
//! The next sequence number and the previous hash come from the latest head, which must verify
//! under the intake's own key: the intake never extends a chain whose end it cannot vouch for,
//! so an item planted with a head of its own is not laundered by the next reporter message.
//! (Heads signed by staff keys will be verified against certified keys once the case desk
//! exists; until then such a head stops the intake from appending.)

use super::IntakeState;
use super::reports::item_aad;
use crate::crypto::SecretKey32;
use crate::crypto::chain::{ChainHead, item_hash};
use crate::crypto::envelope;
use crate::domain::{Direction, ItemId, ItemKind, ReportId};
use crate::store::{Appended, NewItem, Quota, StoreError};
use std::time::Duration;

/// How often an append is retried after losing a race for the next sequence number. Every
/// retry means another writer committed, so running out takes sustained contention on one
/// report, which only its own reporter (or staff) can cause.
const ATTEMPTS: usize = 16;

/// The latest head of `id`'s chain, verified under the intake key: (count, last hash).
async fn verified_head(st: &IntakeState, id: ReportId) -> Result<(i64, [u8; 32]), StoreError> {
    let tampered = |why: &str| {
        tracing::error!("a chain head does not verify ({why}): the database was altered");
        StoreError::Corrupt(format!("chain head: {why}"))
    };
    let row = st
        .store
        .latest_head(id)
        .await?
        .ok_or_else(|| tampered("the report has none"))?;
    let head = ChainHead::verify(&row.head, &row.sig, &st.secrets.signing.verifying_key())
        .map_err(|_| tampered("not signed by the intake key"))?;
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
    /// Serialised content, sealed under `k_r`.
    pub plain: &'a [u8],
    /// Keyed hash of the client's idempotency key.
    pub idem: Option<[u8; 32]>,
    /// Day written.
    pub day: i64,
    /// Daily quota for this kind and direction.
    pub quota: Option<Quota>,
}

/// Seals `a` under `k_r` as the next item of `id`'s chain, signs the new head with the intake
/// key and stores both. On a lost race the item is sealed again for the new position (its AAD
/// binds the sequence number and the previous hash).
pub async fn append(
    st: &IntakeState,
    id: ReportId,
    k_r: &SecretKey32,
    a: &Append<'_>,
) -> Result<Appended, StoreError> {
    for attempt in 0..ATTEMPTS {
        let (count, prev) = verified_head(st, id).await?;
        let item = ItemId::new();
        let aad = item_aad(id, item, a.kind, a.direction, count, prev);
        let sealed = envelope::seal(k_r, &aad, a.plain);
        let (head, sig) = ChainHead::sign(
            id.bytes(),
            count as u64 + 1,
            item_hash(&aad, &sealed),
            &st.secrets.signing,
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
        match st
            .store
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
