//! What `keys recover` checks about a report's conversation before it decrypts anything: the
//! hash chain of its items against the latest signed head, and that no staff key K_s is taken
//! on trust (issue 5, "Conversation integrity"). Each failure is one sentence naming the
//! problem; the caller exits 3 with it.

use crate::crypto::chain::{ChainHead, GENESIS, KeyStatement, item_hash, signer_fingerprint};
use crate::crypto::primitives::fingerprint_display;
use crate::crypto::wrap::Purpose;
use crate::domain::ReportId;
use crate::intake::reports::item_aad;
use crate::store::{HeadRow, ItemRow, KeyStatementRow, WrapRow};
use ed25519_dalek::VerifyingKey;

/// Checks that `items` are exactly the chain the latest head signs: numbered 0.. without gaps,
/// each linked to the one before, as many as the head counts, the last one the head names, and
/// the head signed by the intake key (the only signer that can be verified until staff keys
/// exist).
pub(super) fn check_chain(
    id: ReportId,
    items: &[ItemRow],
    head: Option<&HeadRow>,
    intake: &VerifyingKey,
) -> Result<(), String> {
    let row = head.ok_or("the report has no signed chain head")?;
    let claimed = ChainHead::decode(&row.head).map_err(|_| "the chain head is malformed")?;
    if claimed.signer != signer_fingerprint(intake) {
        return Err(format!(
            "the chain head is signed by key {}, not by the intake key; staff keys do not exist yet, so the head is unauthenticated",
            fingerprint_display(&claimed.signer)
        ));
    }
    let head = ChainHead::verify(&row.head, &row.sig, intake)
        .map_err(|_| "the chain head signature does not verify under the pinned intake key")?;
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

/// Refuses any staff key K_s. The desk will sign a [`KeyStatement`] for every K_s it creates,
/// with a staff key; until staff keys exist nothing can verify one, and a K_s wrapped to escrow
/// by someone who holds only public keys must not be taken for the desk's.
pub(super) fn check_staff_key(
    wraps: &[WrapRow],
    statements: &[KeyStatementRow],
    intake: &VerifyingKey,
) -> Result<(), String> {
    let k_s = Purpose::StaffKey.code();
    if !wraps.iter().any(|w| w.purpose == k_s) {
        return Ok(());
    }
    let Some(st) = statements.iter().find(|s| s.purpose == k_s) else {
        return Err(
            "a staff key (K_s) is wrapped, but no signed statement vouches for it: it is unauthenticated"
                .into(),
        );
    };
    let claimed = KeyStatement::decode(&st.statement)
        .map_err(|_| "the staff key (K_s) statement is malformed")?;
    if claimed.signer == signer_fingerprint(intake) {
        return Err(
            "the staff key (K_s) claims to come from the intake, which never makes one (I3)".into(),
        );
    }
    Err(format!(
        "the staff key (K_s) is vouched for by key {}, which cannot be verified: staff keys do not exist yet, so it is unauthenticated",
        fingerprint_display(&claimed.signer)
    ))
}
