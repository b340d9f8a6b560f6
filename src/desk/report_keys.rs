//! The staff key K_s of a report, and staff items in its chain (issue 6, "K_s is made by the
//! desk").
//!
//! The intake never makes a K_s (I3). The desk makes one the first time staff write a
//! staff-only item: it is wrapped to the report's staff recipients and to escrow, vouched for
//! by a [`KeyStatement`] signed with the creating staff member's certified key, and recorded in
//! the audit log ([`Event::StaffKeyCreated`]). A K_s is accepted (by the desk and by `keys
//! recover`) only when the statement's signer is a key the verified audit chain certified *and*
//! the chain records that this key created exactly this K_s (report and key commitment) while
//! certified. So a K_s planted by someone with database write access and the public keys, vouched
//! for by a key of their own, is refused, and so is one signed by a real but uncertified staff
//! key.
//!
//! Staff chain heads are held to the same rule: a head signed by a staff key is trusted only
//! when the chain records that key writing that head ([`Event::ItemWritten`]) while certified.

use super::audit::{Audit, AuditError, Certified, Event, Signer};
use crate::crypto::chain::{ChainHead, KeyStatement, item_hash, signer_fingerprint};
use crate::crypto::envelope;
use crate::crypto::header::key_commitment;
use crate::crypto::primitives::{SecretKey32, fingerprint_display, sha256};
use crate::crypto::wrap::{Purpose, RecipientKey, wrap_to};
use crate::domain::{Direction, ItemId, ReportId, StaffId};
use crate::items::chain::{Append, HeadTrust};
use crate::items::item_aad;
use crate::store::{Appended, KeyStatementRow, NewItem, Store, StoreError, WrapRow};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a staff key operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportKeyError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Refused, with the reason.
    #[error("{0}")]
    Refused(String),
}

/// The heads a verifier trusts: those signed by the intake key, and those the verified audit
/// chain records a certified staff key writing.
pub struct StaffHeads<'a> {
    /// The pinned intake key.
    pub intake: VerifyingKey,
    /// What the verified audit chain vouches for.
    pub certified: &'a Certified,
}

impl HeadTrust for StaffHeads<'_> {
    fn key_for(&self, claimed: &ChainHead, head: &[u8]) -> Option<VerifyingKey> {
        if claimed.signer == signer_fingerprint(&self.intake) {
            return Some(self.intake);
        }
        self.certified
            .vouches_head(
                ReportId::from_bytes(claimed.report_id),
                claimed.count,
                head,
                &claimed.signer,
            )
            .copied()
    }
}

/// Checks a report's K_s, if it has one: a wrapped K_s needs a statement, and the statement
/// must be signed by a key the audit chain certified and that the chain records creating this
/// K_s. Returns the vouched key commitment (compare it with the unwrapped key), `None` when the
/// report has no K_s. Each refusal is one sentence.
pub fn vouched_staff_key(
    id: ReportId,
    wraps: &[WrapRow],
    statements: &[KeyStatementRow],
    certified: &Certified,
    intake: &VerifyingKey,
) -> Result<Option<[u8; 32]>, String> {
    let k_s = Purpose::StaffKey.code();
    if !wraps.iter().any(|w| w.purpose == k_s) {
        return Ok(None);
    }
    let Some(row) = statements.iter().find(|s| s.purpose == k_s) else {
        return Err(
            "a staff key (K_s) is wrapped, but no signed statement vouches for it: it is unauthenticated"
                .into(),
        );
    };
    let claimed = KeyStatement::decode(&row.statement)
        .map_err(|_| "the staff key (K_s) statement is malformed")?;
    if claimed.signer == signer_fingerprint(intake) {
        return Err(
            "the staff key (K_s) claims to come from the intake, which never makes one (I3)".into(),
        );
    }
    if claimed.report_id != id.bytes() || claimed.purpose != k_s {
        return Err("the staff key (K_s) statement belongs to another report or purpose".into());
    }
    let Some(key) = certified.vouches_staff_key(id, &claimed.commitment, &claimed.signer) else {
        return Err(format!(
            "the staff key (K_s) is vouched for by key {}, which the audit log does not record creating it while certified: it is unauthenticated",
            fingerprint_display(&claimed.signer)
        ));
    };
    KeyStatement::verify(&row.statement, &row.sig, &key.ed25519)
        .map_err(|_| "the staff key (K_s) statement signature does not verify")?;
    Ok(Some(claimed.commitment))
}

/// A logged-in, certified staff member acting on a report.
pub struct Acting<'a> {
    /// Who.
    pub staff: StaffId,
    /// Their unlocked Ed25519 key.
    pub key: &'a SigningKey,
}

impl Acting<'_> {
    fn signer(&self) -> Signer<'_> {
        Signer::Staff {
            id: self.staff,
            key: self.key,
        }
    }

    fn require_certified(&self, certified: &Certified) -> Result<(), ReportKeyError> {
        match certified.active(&signer_fingerprint(&self.key.verifying_key())) {
            Some(k) if k.staff == self.staff => Ok(()),
            _ => Err(ReportKeyError::Refused(format!(
                "staff {} holds no certified key, so they cannot create or sign for a report's staff key",
                self.staff
            ))),
        }
    }
}

/// Creates a report's K_s: random, wrapped to escrow and to `recipients` (the report's staff
/// recipients), vouched for by the acting member's certified key, recorded in the audit log
/// first and then stored in one transaction. Refused when the member is not certified or the
/// report already has a K_s (use that one).
pub async fn create_staff_key(
    reports: &Store,
    audit: &Audit,
    who: &Acting<'_>,
    id: ReportId,
    escrow: &RecipientKey,
    recipients: &[RecipientKey],
) -> Result<SecretKey32, ReportKeyError> {
    who.require_certified(&audit.certified().await?)?;
    let rid = id.bytes();
    let k_s = SecretKey32::random();
    let commitment = key_commitment(&rid, &k_s);
    let (statement, sig) = KeyStatement {
        report_id: rid,
        purpose: Purpose::StaffKey.code(),
        commitment,
        signer: [0; 32],
    }
    .sign(who.key);
    let mut to: Vec<&RecipientKey> = vec![escrow];
    for r in recipients {
        if !to.contains(&r) {
            to.push(r);
        }
    }
    let mut wraps = Vec::with_capacity(to.len());
    for r in to {
        let w = wrap_to(r, &rid, Purpose::StaffKey, &k_s)
            .map_err(|e| ReportKeyError::Refused(format!("cannot wrap K_s: {e}")))?;
        wraps.push((hex::encode(r.fingerprint()), Purpose::StaffKey.code(), w));
    }
    // The audit entry comes first: a K_s the chain does not vouch for is refused everywhere, so
    // a crash between the two leaves at worst an entry for a key nobody stored.
    audit
        .append(
            &who.signer(),
            Event::StaffKeyCreated {
                report: id,
                commitment,
            },
        )
        .await?;
    if !reports
        .insert_report_key(id, Purpose::StaffKey.code(), &wraps, &statement, &sig)
        .await?
    {
        return Err(ReportKeyError::Refused(
            "the report already has a staff key (K_s); unwrap that one".into(),
        ));
    }
    Ok(k_s)
}

/// Appends a staff item (sealed under `key`: K_s for staff-only items, K_r for messages to the
/// reporter) with a head signed by the acting member's certified key, and records the head in
/// the audit log before storing it. The current head must be one `trusted` accepts.
pub async fn append_staff_item(
    reports: &Store,
    audit: &Audit,
    who: &Acting<'_>,
    id: ReportId,
    key: &SecretKey32,
    a: &Append<'_>,
    intake: VerifyingKey,
) -> Result<Appended, ReportKeyError> {
    if a.direction == Direction::ReporterToStaff {
        return Err(ReportKeyError::Refused(
            "staff cannot write as the reporter".into(),
        ));
    }
    for _ in 0..16 {
        let certified = audit.certified().await?;
        who.require_certified(&certified)?;
        let trusted = StaffHeads {
            intake,
            certified: &certified,
        };
        let row = reports
            .latest_head(id)
            .await?
            .ok_or_else(|| ReportKeyError::Refused("the report has no chain head".into()))?;
        let claimed = ChainHead::decode(&row.head)
            .map_err(|_| ReportKeyError::Refused("the chain head is malformed".into()))?;
        let vk = trusted.key_for(&claimed, &row.head).ok_or_else(|| {
            ReportKeyError::Refused(
                "the chain head is not signed by the intake or a certified staff key".into(),
            )
        })?;
        ChainHead::verify(&row.head, &row.sig, &vk)
            .map_err(|_| ReportKeyError::Refused("the chain head does not verify".into()))?;
        let count = row.count;
        let item = ItemId::new();
        let aad = item_aad(id, item, a.kind, a.direction, count, claimed.last_hash);
        let sealed = envelope::seal(key, &aad, a.plain);
        let (head, sig) = ChainHead::sign(
            id.bytes(),
            count as u64 + 1,
            item_hash(&aad, &sealed),
            who.key,
        );
        audit
            .append(
                &who.signer(),
                Event::ItemWritten {
                    report: id,
                    count: count as u64 + 1,
                    head: sha256(&[&head]),
                },
            )
            .await?;
        let new = NewItem {
            id: item,
            kind: a.kind,
            direction: a.direction,
            sealed,
            prev: claimed.last_hash,
            day: a.day,
            idem: a.idem,
        };
        match reports
            .append_item(id, count, &new, (&head, &sig), a.quota)
            .await?
        {
            Appended::Conflict => continue,
            done => return Ok(done),
        }
    }
    Err(ReportKeyError::Refused(
        "a staff append lost the race for the next sequence number too often".into(),
    ))
}
