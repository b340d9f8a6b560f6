//! What `keys recover` checks about a report's conversation before it decrypts anything: the
//! hash chain of its items against the latest signed head, and that no staff key K_s is taken
//! on trust (issue 5, "Conversation integrity"). Each failure is one sentence naming the
//! problem; the caller exits 3 with it.

use crate::crypto::chain::{KeyStatement, signer_fingerprint};
use crate::crypto::primitives::fingerprint_display;
use crate::crypto::wrap::Purpose;
use crate::domain::ReportId;
use crate::store::{HeadRow, ItemRow, KeyStatementRow, WrapRow};
use ed25519_dalek::VerifyingKey;

/// Checks that `items` are exactly the chain the latest head signs
/// ([`crate::items::chain::verify_chain`]), with the head signed by the intake key (the only
/// signer that can be verified until staff keys exist).
pub(super) fn check_chain(
    id: ReportId,
    items: &[ItemRow],
    head: Option<&HeadRow>,
    intake: &VerifyingKey,
) -> Result<(), String> {
    crate::items::chain::verify_chain(id, items, head, std::slice::from_ref(intake))
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
