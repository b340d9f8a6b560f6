//! Certification outside the session (I5): what the offline ceremonies (`bisik keys certify
//! --user`, `bisik keys grant`) and the desk's account changes do to who receives reports.
//!
//! - [`grant_from_escrow`]: opens a report's K_r (and a K_s the audit log vouches for) with the
//!   escrow key and wraps them to a certified staff member.
//! - [`revoke_staff`]: needs no offline key, because removing a recipient only narrows
//!   access. It records the removal in the reports database, where the intake reads it with every
//!   new tip, so the supervisor stops receiving new tips at once, and in the audit log. Putting
//!   them back takes a new ceremony. A revocation is only as strong as the database and its
//!   backups: restoring a backup from before it undoes it until the next ceremony re-signs the
//!   list without that key.
//! - [`archive_list`]: every signed recipient list the desk has seen is kept in the desk store,
//!   so a report header's epoch can be checked later.

use super::audit::{Audit, AuditError, Certified, Event, Signer};
use super::report_keys::vouched_staff_key;
use crate::crypto::chain::signer_fingerprint;
use crate::crypto::header::key_commitment;
use crate::crypto::primitives::SecretKey32;
use crate::crypto::recipients::SignedRecipientList;
use crate::crypto::wrap::{Purpose, RecipientKey, wrap_to};
use crate::domain::{ReportId, StaffId, today};
use crate::store::{Store, StoreError};
use crate::vault::unwrap::unwrap;
use ed25519_dalek::VerifyingKey;

/// What a grant did for one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    /// K_r was wrapped (or already was).
    pub k_r: bool,
    /// K_s was wrapped (or already was); false when the report has none.
    pub k_s: bool,
}

/// Opens report `id`'s K_r, and its K_s when the audit chain vouches for it, with the escrow
/// key, and wraps both to `to`. Fails (one sentence) when a wrap does not open, a key differs
/// from its commitment, or the K_s is not vouched for: nothing unauthenticated is passed on.
pub async fn grant_from_escrow(
    reports: &Store,
    escrow_secret: &SecretKey32,
    escrow: &RecipientKey,
    certified: &Certified,
    intake: &VerifyingKey,
    id: ReportId,
    to: &RecipientKey,
) -> Result<Granted, String> {
    let db = |e: StoreError| e.to_string();
    let row = reports
        .report(id)
        .await
        .map_err(db)?
        .ok_or("no such report")?;
    let header = crate::crypto::header::ReportHeader::verify(&row.header, &row.header_sig, intake)
        .map_err(|_| "the header signature does not verify under the pinned intake key")?;
    let wraps = reports.wraps(id).await.map_err(db)?;
    let fp = hex::encode(escrow.fingerprint());
    let open = |p: Purpose| -> Result<Option<SecretKey32>, String> {
        match wraps
            .iter()
            .find(|w| w.recipient_fp == fp && w.purpose == p.code())
        {
            None => Ok(None),
            Some(w) => unwrap(escrow_secret, escrow, &id.bytes(), p, &w.wrapped)
                .map(Some)
                .map_err(|_| "the escrow wrap does not open".to_string()),
        }
    };
    let k_r = open(Purpose::ReporterKey)?.ok_or("the escrow wrap of K_r is missing")?;
    if key_commitment(&id.bytes(), &k_r) != header.key_commitment {
        return Err("K_r differs from the one committed in the signed header".into());
    }
    let statements = reports.key_statements(id).await.map_err(db)?;
    let k_s = match vouched_staff_key(id, &wraps, &statements, certified, intake)? {
        None => None,
        Some(commitment) => {
            let k = open(Purpose::StaffKey)?.ok_or("the escrow wrap of K_s is missing")?;
            if key_commitment(&id.bytes(), &k) != commitment {
                return Err("K_s differs from the one its signed statement commits to".into());
            }
            Some(k)
        }
    };
    let to_fp = hex::encode(to.fingerprint());
    for (p, k) in [
        (Purpose::ReporterKey, Some(&k_r)),
        (Purpose::StaffKey, k_s.as_ref()),
    ] {
        if let Some(k) = k {
            let w = wrap_to(to, &id.bytes(), p, k).map_err(|e| e.to_string())?;
            reports
                .add_wrap(id, &to_fp, p.code(), &w)
                .await
                .map_err(db)?;
        }
    }
    Ok(Granted {
        k_r: true,
        k_s: k_s.is_some(),
    })
}

/// Stops `staff` receiving and signing anything new, without the offline key: every X25519 key
/// of theirs in the desk store (current and retired) is recorded as revoked in the reports
/// database, which the intake reads with every new report (so a supervisor gets no wrap of the
/// next tip), every investigator certificate published for their Ed25519 keys is withdrawn (so the
/// intake stops trusting chain heads they sign), and the audit log records a `revoked` entry,
/// after which their signing key signs nothing more. Call it when a certified account is reset or
/// disabled (before the reset retires their key), with the acting admin as `signer`. Returns how
/// many keys were revoked.
pub async fn revoke_staff(
    reports: &Store,
    desk: &Store,
    audit: &Audit,
    signer: &Signer<'_>,
    staff: StaffId,
) -> Result<usize, AuditError> {
    let day = today();
    let mut n = 0;
    for k in desk.staff_keys_of(&staff.to_string()).await? {
        if let Ok(ed) = <[u8; 32]>::try_from(k.ed25519_public.as_slice())
            && let Ok(vk) = VerifyingKey::from_bytes(&ed)
        {
            reports
                .withdraw_certificate(&hex::encode(signer_fingerprint(&vk)))
                .await?;
        }
        let Ok(rk) = RecipientKey::from_bytes(&k.x25519_public) else {
            continue;
        };
        reports
            .revoke_recipient(&hex::encode(rk.fingerprint()), day)
            .await?;
        n += 1;
    }
    audit.append(signer, Event::Revoked { staff }).await?;
    Ok(n)
}

/// Archives `list` in the desk store under its epoch (kept as first seen).
pub async fn archive_list(desk: &Store, list: &SignedRecipientList) -> Result<(), StoreError> {
    let json = serde_json::to_string_pretty(list).expect("serialisable") + "\n";
    desk.archive_recipient_list(list.list.epoch, &json).await
}

/// An account change, recorded the same way from `bisik user` and the admin pages: a reset or
/// disabled supervisor or investigator is revoked first ([`revoke_staff`], while their keys are still the
/// active ones, so a reset's retired key is among those revoked), then the change itself is
/// appended (`created`, `password_reset`, `disabled`). `signer` is the acting admin (whose key is
/// never certified, so the service key signs in their name) or the service key for the CLI.
/// The entry carries the staff id only, never the name.
pub async fn record_account_change(
    reports: &Store,
    desk: &Store,
    audit: &Audit,
    signer: &Signer<'_>,
    account: &crate::store::StaffRow,
    change: &str,
) -> Result<(), AuditError> {
    let staff = StaffId::parse(&account.id)
        .ok_or_else(|| AuditError::Keys("a staff id is not a UUID".into()))?;
    if matches!(account.role.as_str(), "supervisor" | "investigator")
        && matches!(change, "password_reset" | "disabled")
    {
        revoke_staff(reports, desk, audit, signer, staff).await?;
    }
    audit
        .append(
            signer,
            Event::AccountChanged {
                staff,
                change: change.into(),
            },
        )
        .await?;
    Ok(())
}
