//! Appending a reporter's item to a report's hash chain ([`crate::items::chain`]), signed with
//! the intake key.
//!
//! The current head must verify under a key the intake trusts: its own, a supervisor's on the
//! recipient list the organisation key signed (and not revoked since), or an investigator's whose
//! certificate such a supervisor signed ([`crate::crypto::certificate`], published by the desk in
//! the reports database). So the reporter can answer a question staff sent, while an item planted
//! with a head of its own, signed by any other key, is never laundered by the next reporter
//! message. The trust roots in the offline organisation key: no database row alone adds a key.
//!
//! The rule is "certified now", not "certified when it signed", because the intake cannot read
//! the audit log that records when: a report whose latest item was written by a staff member who
//! has since been revoked refuses the reporter's next message (loudly logged) until a certified
//! colleague writes to it. That fails closed (docs/DESIGN-NOTES.md).

use super::IntakeState;
use crate::crypto::SecretKey32;
use crate::crypto::certificate::StaffCertificate;
use crate::crypto::chain::signer_fingerprint;
use crate::crypto::primitives::fingerprint;
use crate::domain::ReportId;
use crate::store::{Appended, StoreError};
use ed25519_dalek::VerifyingKey;

pub use crate::items::chain::Append;

/// The keys the intake trusts to have signed a chain head now: its own, the listed supervisors',
/// and the investigators' whose published certificate a listed supervisor signed. A certificate
/// that does not verify, names another role, or whose X25519 key was revoked is skipped.
pub async fn trusted_signers(st: &IntakeState) -> Result<Vec<VerifyingKey>, StoreError> {
    let mut keys = vec![st.secrets.signing.verifying_key()];
    let cur = st.recipients.current(&st.store).await;
    if cur.signers.is_empty() {
        return Ok(keys);
    }
    for (bytes, sig) in st.store.staff_certificates().await? {
        // No log line here: this runs for every reporter message, and a line per message would
        // date each one in the log (I1). A head nobody trusts is logged where it is refused.
        let Ok(claimed) = StaffCertificate::decode(&bytes) else {
            continue;
        };
        let Some(by) = cur
            .signers
            .iter()
            .find(|k| signer_fingerprint(k) == claimed.signer)
        else {
            continue;
        };
        let Ok(c) = StaffCertificate::verify(&bytes, &sig, by) else {
            continue;
        };
        let revoked = cur
            .revoked
            .contains(&hex::encode(fingerprint("x25519", &c.x25519)));
        if c.role != "investigator" || revoked {
            continue;
        }
        if let Ok(k) = VerifyingKey::from_bytes(&c.ed25519) {
            keys.push(k);
        }
    }
    keys.extend(cur.signers);
    Ok(keys)
}

/// Seals `a` under `k_r` as the next item of `id`'s chain, signs the new head with the intake
/// key and stores both.
pub async fn append(
    st: &IntakeState,
    id: ReportId,
    k_r: &SecretKey32,
    a: &Append<'_>,
) -> Result<Appended, StoreError> {
    let trusted = trusted_signers(st).await?;
    crate::items::chain::append(&st.store, id, k_r, a, &st.secrets.signing, &trusted[..]).await
}
