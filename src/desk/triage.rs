//! Moving reports to an outcome (issue 7): status (new, in review, actioned, closed with a
//! reason), priority, and the same for many reports at once against floods of fake tips.
//!
//! Who may do what follows DESIGN.md's roles: an investigator records progress (in review,
//! actioned) on reports shared with them; closing, reopening and priority are a supervisor's,
//! and so is acting in bulk. "Supervisor" means a key certified as one by the ceremony, not the
//! role column. Every change opens the report with the actor's own wrap first (need to know:
//! an id that is not theirs gets the same 404 as one that does not exist) and is appended to
//! the audit log, signed by the actor, before it is stored.

use super::DeskState;
use super::audit::{Event, Signer};
use super::session::Authed;
use super::sharing::{LabelChange, ShareError, acting, open_report};
use super::text;
use crate::crypto::chain::signer_fingerprint;
use crate::domain::{CloseReason, Priority, ReportId, Status, today};

/// The most reports one bulk action changes.
pub const BULK_MAX: usize = 500;

/// One triage change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new status; a closure carries its reason, a duplicate its original.
    Status {
        /// The status.
        status: Status,
        /// Why it was closed (closures only).
        reason: Option<CloseReason>,
        /// The report this one repeats (duplicates only).
        duplicate_of: Option<ReportId>,
    },
    /// A new priority.
    Priority(Priority),
}

impl Change {
    /// Checks the change on its own: a closure needs a reason, a duplicate its original, and
    /// nothing else carries either.
    pub fn check(&self) -> Result<(), ShareError> {
        if let Change::Status {
            status,
            reason,
            duplicate_of,
        } = *self
        {
            match (status, reason) {
                (Status::Closed, None) => return Err(ShareError::Refused(text::REASON_NEEDED)),
                (Status::Closed, Some(_)) => {}
                (_, Some(_)) => return Err(ShareError::Refused(text::REASON_ONLY_ON_CLOSE)),
                _ => {}
            }
            let dup = reason == Some(CloseReason::Duplicate);
            if dup != duplicate_of.is_some() {
                return Err(ShareError::Refused(text::DUPLICATE_NEEDS_ORIGINAL));
            }
        }
        Ok(())
    }

    /// Whether only a certified supervisor may make it.
    fn supervisors_only(&self) -> bool {
        match self {
            Change::Priority(_) => true,
            Change::Status { status, .. } => *status == Status::Closed,
        }
    }

    /// The audit entry's text for a status: `closed:REASON`, and `closed:duplicate:ID`.
    fn audit_status(status: Status, reason: Option<CloseReason>, dup: Option<ReportId>) -> String {
        match (reason, dup) {
            (Some(r), Some(d)) => format!("{}:{}:{d}", status.as_str(), r.as_str()),
            (Some(r), None) => format!("{}:{}", status.as_str(), r.as_str()),
            _ => status.as_str().to_owned(),
        }
    }
}

/// Applies `change` to every report in `ids` as the acting staff member, and returns how many
/// changed (a report already in the requested state is left alone and not counted). Stops at
/// the first report that is refused, with that refusal; reports before it stay changed, each
/// with its audit entry. More than one report needs a certified supervisor.
pub async fn apply(
    st: &DeskState,
    a: &Authed,
    ids: &[ReportId],
    change: Change,
) -> Result<usize, ShareError> {
    change.check()?;
    if ids.is_empty() {
        return Err(ShareError::Refused(text::NOTHING_SELECTED));
    }
    if ids.len() > BULK_MAX {
        return Err(ShareError::Refused(text::TOO_MANY_SELECTED));
    }
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, false)?;
    // A supervisor is a key the ceremony certified as one, whatever the role column says.
    let supervisor = certified
        .active(&signer_fingerprint(&keys.ed25519.verifying_key()))
        .is_some_and(|k| k.role == "supervisor");
    if (change.supervisors_only() || ids.len() > 1) && !supervisor {
        return Err(ShareError::Refused(text::SUPERVISOR_ONLY));
    }
    let signer = Signer::Staff {
        id: me,
        key: &keys.ed25519,
    };
    if let Change::Status {
        duplicate_of: Some(original),
        ..
    } = change
    {
        // The original must be a report this person can open, and not one of those closed.
        if ids.contains(&original) {
            return Err(ShareError::Refused(text::DUPLICATE_NEEDS_ORIGINAL));
        }
        match open_report(st, &certified, &a.current.staff_id, &keys, original).await {
            Ok(_) => {}
            Err(ShareError::NotFound(_)) => {
                return Err(ShareError::Refused(text::DUPLICATE_NEEDS_ORIGINAL));
            }
            Err(e) => return Err(e),
        }
    }
    let day = today();
    let mut changed = 0;
    for &id in ids {
        // Need to know, and the header checked: the same gate as reading.
        open_report(st, &certified, &a.current.staff_id, &keys, id).await?;
        let row = st
            .reports
            .triage_row(id)
            .await?
            .ok_or(ShareError::NotFound(text::NO_REPORT))?;
        match change {
            Change::Status {
                status,
                reason,
                duplicate_of,
            } => {
                if row.status == status
                    && row.closed_reason == reason
                    && row.duplicate_of == duplicate_of
                {
                    continue;
                }
                if row.status != status && !row.status.can_move_to(status) {
                    return Err(ShareError::Refused(text::BAD_TRANSITION));
                }
                if row.status == Status::Closed && status != Status::Closed && !supervisor {
                    return Err(ShareError::Refused(text::SUPERVISOR_ONLY));
                }
                st.audit
                    .append(
                        &signer,
                        Event::StatusChanged {
                            report: id,
                            status: Change::audit_status(status, reason, duplicate_of),
                        },
                    )
                    .await?;
                st.reports
                    .set_triage_status(id, status, reason, duplicate_of, day)
                    .await?;
            }
            Change::Priority(p) => {
                if row.priority == p {
                    continue;
                }
                st.audit
                    .append(
                        &signer,
                        Event::PriorityChanged {
                            report: id,
                            priority: p.code().into(),
                        },
                    )
                    .await?;
                st.reports.set_priority(id, p).await?;
            }
        }
        changed += 1;
    }
    Ok(changed)
}

/// Adds `label` to every report in `ids` (more than one needs a certified supervisor), each a
/// staff-only item under K_s signed by the actor. Returns how many changed.
pub async fn label_many(
    st: &DeskState,
    a: &Authed,
    ids: &[ReportId],
    label: &str,
) -> Result<usize, ShareError> {
    if ids.is_empty() {
        return Err(ShareError::Refused(text::NOTHING_SELECTED));
    }
    if ids.len() > BULK_MAX {
        return Err(ShareError::Refused(text::TOO_MANY_SELECTED));
    }
    if ids.len() > 1 {
        let certified = st.audit.certified().await?;
        let (keys, _) = acting(a, &certified, false)?;
        let supervisor = certified
            .active(&signer_fingerprint(&keys.ed25519.verifying_key()))
            .is_some_and(|k| k.role == "supervisor");
        if !supervisor {
            return Err(ShareError::Refused(text::SUPERVISOR_ONLY));
        }
    }
    let mut changed = 0;
    for &id in ids {
        if super::sharing::set_labels(st, a, id, &LabelChange::Add(vec![label.to_owned()])).await? {
            changed += 1;
        }
    }
    Ok(changed)
}
