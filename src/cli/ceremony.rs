//! The offline ceremonies that work on desk accounts (issue 6, I5): `bisik keys certify --user`
//! and `bisik keys grant`. Both need the offline passphrase (stdin or `--passphrase-file`), and
//! both are recorded in the audit log, signed by the organisation key.

use super::keys::{check_typed_fingerprint, resign, unseal};
use super::{Failure, failure};
use crate::config::Config;
use crate::crypto::recipients::Recipient;
use crate::crypto::wrap::RecipientKey;
use crate::desk::audit::{Audit, Certification, Event, Signer};
use crate::desk::certify::{archive_list, grant_from_escrow};
use crate::desk::keys::fingerprint_of;
use crate::domain::{ReportId, StaffId};
use crate::keyfiles::PublicKeys;
use crate::store::{Schema, StaffKeyRow, StaffRow, Store};
use crate::vault::offline::OfflineKeys;

/// A desk account and its current keys, as the ceremony reads them from the desk database.
async fn account(desk: &Store, user: &str) -> Result<(StaffRow, StaffId, StaffKeyRow), Failure> {
    let staff = desk.staff_by_name(user).await?.ok_or_else(|| {
        failure(
            1,
            format!("no desk account named {user:?} (bisik user list)"),
        )
    })?;
    if staff.disabled {
        return Err(failure(1, format!("{user} is disabled")));
    }
    let id = StaffId::parse(&staff.id).ok_or_else(|| failure(3, "a staff id is not a UUID"))?;
    let key = desk.active_staff_key(&staff.id).await?.ok_or_else(|| {
        failure(
            1,
            format!("{user} has no keys yet: they are made at the first login, so log in first"),
        )
    })?;
    Ok((staff, id, key))
}

fn key32(b: &[u8], what: &str) -> Result<[u8; 32], Failure> {
    b.try_into()
        .map_err(|_| failure(3, format!("the stored {what} is not 32 bytes")))
}

/// Unseals the offline keys and checks the escrow half against the pinned escrow.pub.
pub(super) fn unseal_checked(
    cfg: &Config,
    passphrase_file: Option<&std::path::Path>,
) -> Result<(PublicKeys, OfflineKeys), Failure> {
    let (public, keys) = unseal(cfg, passphrase_file)?;
    if crate::vault::unwrap::public_of(&keys.escrow_secret)? != public.escrow.public {
        return Err(failure(
            3,
            "the offline escrow key does not match the pinned escrow.pub",
        ));
    }
    Ok((public, keys))
}

/// Grants `ids` to `staff` (X25519 key `to`) from escrow, recording each grant. Returns how many
/// were granted; a report that cannot be granted is named on stderr and makes the command exit 3
/// at the end, after the others were done.
#[allow(clippy::too_many_arguments)]
async fn grant_all(
    reports: &Store,
    audit: &Audit,
    public: &PublicKeys,
    keys: &OfflineKeys,
    staff: StaffId,
    to: &RecipientKey,
    ids: &[ReportId],
) -> Result<usize, Failure> {
    let certified = audit.certified().await?;
    let mut refused = 0;
    for id in ids {
        match grant_from_escrow(
            reports,
            &keys.escrow_secret,
            &public.escrow,
            &certified,
            &public.intake,
            *id,
            to,
        )
        .await
        {
            Ok(_) => {
                audit
                    .append(
                        &Signer::Organisation(&keys.org_signing),
                        Event::Granted { report: *id, staff },
                    )
                    .await?;
            }
            Err(why) => {
                eprintln!("bisik: report {id} not granted: {why}");
                refused += 1;
            }
        }
    }
    if refused > 0 {
        return Err(failure(
            3,
            format!(
                "{refused} report(s) failed an integrity check and were not granted (named above); {} were",
                ids.len() - refused
            ),
        ));
    }
    Ok(ids.len())
}

/// `bisik keys certify --user NAME`: shows the fingerprint, signs the supervisor onto the list,
/// records it and grants them every existing report.
pub async fn certify_user(
    cfg: &Config,
    user: &str,
    typed: Option<&str>,
    valid_days: u64,
    passphrase_file: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let desk = super::connect(cfg, Schema::Desk).await?;
    let (staff, id, key) = account(&desk, user).await?;
    if staff.role != "supervisor" {
        return Err(failure(
            1,
            format!(
                "{user} is a {}: only supervisors are certified by the organisation key (investigators by their supervisor at the desk; admins never)",
                staff.role
            ),
        ));
    }
    let shown =
        fingerprint_of(&key.x25519_public).map_err(|_| failure(3, "the stored key is invalid"))?;
    println!("Key fingerprint of {user}: {shown}");
    println!("Compare it with the fingerprint on {user}'s own screen before going on.");
    if let Some(t) = typed {
        check_typed_fingerprint(t, &shown)?;
    }
    let (public, keys) = unseal_checked(cfg, passphrase_file)?;
    let x25519 = key32(&key.x25519_public, "X25519 key")?;
    let ed25519 = key32(&key.ed25519_public, "Ed25519 key")?;
    let rk = RecipientKey::from_bytes(&x25519)?;
    let fp_hex = hex::encode(rk.fingerprint());
    let reports = super::connect(cfg, Schema::Reports).await?;
    // A revoked key stays off every list signed from now on; this one is being put back.
    let revoked: Vec<String> = reports
        .revoked_recipients()
        .await?
        .into_iter()
        .filter(|f| *f != fp_hex)
        .collect();
    let signed = resign(
        cfg,
        &public,
        &keys,
        Some(Recipient {
            name: staff.username.clone(),
            role: "supervisor".into(),
            x25519: hex::encode(x25519),
            ed25519: hex::encode(ed25519),
        }),
        None,
        &revoked,
        valid_days,
    )?;
    archive_list(&desk, &signed).await?;
    reports.unrevoke_recipient(&fp_hex).await?;
    let audit = Audit::open(desk.clone(), &cfg.keys_dir).await?;
    audit
        .append(
            &Signer::Organisation(&keys.org_signing),
            Event::Certified(Certification {
                staff: id,
                role: "supervisor".into(),
                ed25519,
                x25519,
                epoch: signed.list.epoch,
            }),
        )
        .await?;
    println!(
        "Recipient list epoch {} signed: {user} certified, {} recipient(s), valid for {valid_days} days.",
        signed.list.epoch,
        signed.list.recipients.len()
    );
    let ids = reports.report_ids().await?;
    let n = grant_all(&reports, &audit, &public, &keys, id, &rk, &ids).await?;
    println!("{n} existing report(s) granted to {user} from escrow.");
    Ok(())
}

/// `bisik keys grant --user NAME (--report ID | --all)`.
pub async fn grant(
    cfg: &Config,
    user: &str,
    report: Option<&str>,
    all: bool,
    passphrase_file: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let desk = super::connect(cfg, Schema::Desk).await?;
    let (_, id, key) = account(&desk, user).await?;
    let audit = Audit::open(desk.clone(), &cfg.keys_dir).await?;
    let x25519 = key32(&key.x25519_public, "X25519 key")?;
    match audit.certified().await?.of_staff(id) {
        Some(c) if c.x25519 == x25519 => {}
        _ => {
            return Err(failure(
                1,
                format!(
                    "{user}'s current key is not certified: run `bisik keys certify --user {user}` (supervisors) or have their supervisor certify them at the desk (investigators) first"
                ),
            ));
        }
    }
    let reports = super::connect(cfg, Schema::Reports).await?;
    let ids = match (report, all) {
        (Some(r), _) => vec![
            ReportId::parse(r)
                .ok_or_else(|| failure(1, format!("{r:?} is not a report id (a UUID)")))?,
        ],
        (None, true) => reports.report_ids().await?,
        (None, false) => return Err(failure(2, "give --report ID or --all")),
    };
    let (public, keys) = unseal_checked(cfg, passphrase_file)?;
    let rk = RecipientKey::from_bytes(&x25519)?;
    let n = grant_all(&reports, &audit, &public, &keys, id, &rk, &ids).await?;
    println!("{n} report(s) granted to {user} from escrow.");
    Ok(())
}
