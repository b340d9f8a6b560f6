//! `bisik keys`: the offline key ceremonies (init, certify) and recovery.

use super::secrets::{emit, read_passphrase};
use super::{Failure, failure};
use crate::config::Config;
use crate::crypto::header::{ReportHeader, key_commitment};
use crate::crypto::primitives::{SecretKey32, fingerprint_display};
use crate::crypto::recipients::{Recipient, RecipientList};
use crate::crypto::wrap::{Purpose, RecipientKey, generate_x25519};
use crate::domain::{Direction, ItemKind, ReportId, day_string};
use crate::keyfiles::{self, PublicKeys, names};
use crate::store::Schema;
use crate::vault::offline::{OfflineKeys, generate_passphrase};
use crate::vault::unwrap::unwrap;
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use serde_json::json;
use std::path::PathBuf;

/// Key commands.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate the escrow and organisation keys (sealed under a generated passphrase, shown
    /// once), the intake signing key and the intake pepper. Refuses to overwrite.
    Init,
    /// Sign a new recipient list with the organisation key: add a supervisor's X25519 key
    /// after comparing its fingerprint, remove one, or just renew the expiry.
    Certify {
        /// The supervisor's desk account: reads their keys from the desk database, shows the
        /// fingerprint to compare with their screen, signs them onto the list, records the
        /// certification in the audit log and grants them every existing report from escrow.
        #[arg(long, conflicts_with_all = ["name", "x25519", "remove"])]
        user: Option<String>,
        /// Account name of the supervisor to add (a key made elsewhere).
        #[arg(long, requires_all = ["x25519", "fingerprint"])]
        name: Option<String>,
        /// The supervisor's X25519 public key (64 hex digits).
        #[arg(long)]
        x25519: Option<String>,
        /// The fingerprint shown on the supervisor's own screen; must match the key.
        #[arg(long)]
        fingerprint: Option<String>,
        /// Remove this account from the list.
        #[arg(long)]
        remove: Option<String>,
        /// Days until the new list expires.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=730))]
        valid_days: u64,
        /// Read the passphrase from this file instead of stdin.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Wrap existing reports (K_r, and a K_s the audit log vouches for) from escrow to a
    /// certified staff member: onboarding and recovery.
    Grant {
        /// The staff member's desk account; their key must be certified.
        #[arg(long)]
        user: String,
        /// One report (UUID).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        report: Option<String>,
        /// Every report.
        #[arg(long)]
        all: bool,
        /// Read the passphrase from this file instead of stdin.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Offline recovery: verify a report's signed header and print it decrypted as JSON.
    Recover {
        /// Report id (UUID).
        #[arg(long)]
        report: String,
        /// Read the passphrase from this file instead of stdin.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

/// Runs a keys command.
pub async fn run(cfg: &Config, cmd: KeysCommand) -> Result<(), Failure> {
    match cmd {
        KeysCommand::Init => {
            keyfiles::ensure_private_dir(&cfg.keys_dir)?;
            if keyfiles::initialised(&cfg.keys_dir) {
                return Err(failure(
                    1,
                    format!(
                        "{} already holds keys; refusing to overwrite them",
                        cfg.keys_dir.display()
                    ),
                ));
            }
            init_keys(cfg)
        }
        KeysCommand::Certify {
            user: Some(user),
            fingerprint,
            valid_days,
            passphrase_file,
            ..
        } => {
            super::ceremony::certify_user(
                cfg,
                &user,
                fingerprint.as_deref(),
                valid_days,
                passphrase_file.as_deref(),
            )
            .await
        }
        KeysCommand::Grant {
            user,
            report,
            all,
            passphrase_file,
        } => {
            super::ceremony::grant(
                cfg,
                &user,
                report.as_deref(),
                all,
                passphrase_file.as_deref(),
            )
            .await
        }
        KeysCommand::Certify {
            user: None,
            name,
            x25519,
            fingerprint,
            remove,
            valid_days,
            passphrase_file,
        } => certify(
            cfg,
            name,
            x25519,
            fingerprint,
            remove,
            valid_days,
            passphrase_file.as_deref(),
        ),
        KeysCommand::Recover {
            report,
            passphrase_file,
        } => recover(cfg, &report, passphrase_file.as_deref()).await,
    }
}

/// Generates every key of a new deployment and shows the offline passphrase once.
pub fn init_keys(cfg: &Config) -> Result<(), Failure> {
    let dir = &cfg.keys_dir;
    let (escrow_secret, escrow_pub) = generate_x25519();
    let org = SigningKey::generate(&mut crate::crypto::primitives::os_rng());
    let intake = SigningKey::generate(&mut crate::crypto::primitives::os_rng());
    let pepper = SecretKey32::random();
    let passphrase = generate_passphrase();
    let offline = OfflineKeys {
        escrow_secret,
        org_signing: org.clone(),
    };
    let sealed = offline.seal(&passphrase)?;
    keyfiles::write_new_secret(&dir.join(names::OFFLINE_SEALED), sealed.as_bytes())?;
    keyfiles::write_new_secret(
        &dir.join(names::INTAKE_KEY),
        format!("{}\n", hex::encode(intake.to_bytes())).as_bytes(),
    )?;
    keyfiles::write_new_secret(
        &dir.join(names::INTAKE_PEPPER),
        format!("{}\n", hex::encode(pepper.expose())).as_bytes(),
    )?;
    keyfiles::write_replace(
        &dir.join(names::ORG_PUB),
        format!("{}\n", hex::encode(org.verifying_key().to_bytes())).as_bytes(),
        0o644,
    )?;
    keyfiles::write_replace(
        &dir.join(names::INTAKE_PUB),
        format!("{}\n", hex::encode(intake.verifying_key().to_bytes())).as_bytes(),
        0o644,
    )?;
    // Written last: its presence is what marks keys/ as initialised.
    keyfiles::write_replace(
        &dir.join(names::ESCROW_PUB),
        format!("{}\n", hex::encode(escrow_pub)).as_bytes(),
        0o644,
    )?;
    let escrow_fp = RecipientKey::from_bytes(&escrow_pub)?.fingerprint();
    println!("Keys created in {}.", dir.display());
    println!(
        "Escrow key fingerprint:       {}",
        fingerprint_display(&escrow_fp)
    );
    println!(
        "Organisation key fingerprint: {}",
        fingerprint_display(&crate::crypto::primitives::fingerprint(
            "ed25519",
            org.verifying_key().as_bytes()
        ))
    );
    emit(
        "Offline key passphrase (escrow + organisation keys)",
        &passphrase,
        &cfg.offline_passphrase_dir(),
        "offline-passphrase",
    )?;
    println!(
        "Move {} off this machine once the passphrase is safe; see keys/README.md.",
        dir.join(names::OFFLINE_SEALED).display()
    );
    Ok(())
}

pub(super) fn unseal(
    cfg: &Config,
    passphrase_file: Option<&std::path::Path>,
) -> Result<(PublicKeys, OfflineKeys), Failure> {
    let public = PublicKeys::load(&cfg.keys_dir)?;
    let sealed_path = cfg.keys_dir.join(names::OFFLINE_SEALED);
    let sealed = std::fs::read_to_string(&sealed_path).map_err(|e| {
        failure(
            1,
            format!(
                "cannot read {}: {e} (bring the offline key file back for this ceremony)",
                sealed_path.display()
            ),
        )
    })?;
    let passphrase = read_passphrase(passphrase_file)?;
    let keys = OfflineKeys::unseal(&sealed, &passphrase)
        .map_err(|_| failure(1, "the passphrase does not open the offline key file"))?;
    if keys.org_signing.verifying_key() != public.org {
        return Err(failure(
            3,
            "the offline organisation key does not match the pinned org.pub",
        ));
    }
    Ok((public, keys))
}

#[allow(clippy::too_many_arguments)]
fn certify(
    cfg: &Config,
    name: Option<String>,
    x25519: Option<String>,
    fingerprint: Option<String>,
    remove: Option<String>,
    valid_days: u64,
    passphrase_file: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let new_entry = match (name, x25519, fingerprint) {
        (Some(name), Some(key), Some(fp)) => {
            let raw = hex::decode(key.trim())
                .map_err(|_| failure(1, "--x25519 must be 64 hexadecimal digits"))?;
            let rk = RecipientKey::from_bytes(&raw)
                .map_err(|_| failure(1, "--x25519 is not a valid X25519 public key"))?;
            check_typed_fingerprint(&fp, &fingerprint_display(&rk.fingerprint()))?;
            Some(Recipient {
                name,
                role: "supervisor".into(),
                x25519: hex::encode(raw),
                ed25519: String::new(),
            })
        }
        _ => None,
    };
    let (public, keys) = unseal(cfg, passphrase_file)?;
    let signed = resign(
        cfg,
        &public,
        &keys,
        new_entry,
        remove.as_deref(),
        &[],
        valid_days,
    )?;
    println!(
        "Recipient list epoch {} signed: {} recipient(s), valid for {valid_days} days.",
        signed.list.epoch,
        signed.list.recipients.len()
    );
    Ok(())
}

/// The fingerprint typed from the staff member's own screen must be `shown`. The right value
/// is deliberately not printed on a mismatch: pasting it back would skip the comparison.
pub(super) fn check_typed_fingerprint(typed: &str, shown: &str) -> Result<(), Failure> {
    let typed: String = typed
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .to_lowercase();
    if typed != shown.replace(' ', "") {
        return Err(failure(
            1,
            "fingerprint mismatch: the key given does not have the fingerprint you typed; compare again with the supervisor's own screen, and do not certify this key until they match",
        ));
    }
    Ok(())
}

/// Signs and writes a new recipient list: the current one (verified under the pinned
/// organisation key), without `remove` and without the keys whose fingerprints (hex) are in
/// `revoked`, with `new_entry` added or replacing that name's entry.
pub(super) fn resign(
    cfg: &Config,
    public: &PublicKeys,
    keys: &OfflineKeys,
    new_entry: Option<Recipient>,
    remove: Option<&str>,
    revoked: &[String],
    valid_days: u64,
) -> Result<crate::crypto::recipients::SignedRecipientList, Failure> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    let (prev_epoch, mut recipients) = match keyfiles::read_recipients(&cfg.keys_dir)? {
        Some(l) => {
            let list = l
                .verify_signature(&public.org)
                .map_err(|e| failure(3, format!("the existing recipient list does not verify ({e}); move it away to start a new one")))?;
            (list.epoch, list.recipients.clone())
        }
        None => (0, Vec::new()),
    };
    if let Some(r) = remove {
        let before = recipients.len();
        recipients.retain(|x| x.name != r);
        if recipients.len() == before {
            return Err(failure(1, format!("{r} is not on the recipient list")));
        }
    }
    if let Some(e) = new_entry {
        if e.x25519 == hex::encode(public.escrow.public) {
            return Err(failure(
                1,
                "that is the escrow key; it already receives every report and cannot be a recipient",
            ));
        }
        if let Some(other) = recipients
            .iter()
            .find(|x| x.x25519 == e.x25519 && x.name != e.name)
        {
            return Err(failure(
                1,
                format!(
                    "that key is already certified for {}; remove that entry first (--remove)",
                    other.name
                ),
            ));
        }
        recipients.retain(|x| x.name != e.name);
        recipients.push(e);
    }
    recipients.retain(|x| {
        let fp = hex::decode(&x.x25519)
            .ok()
            .and_then(|b| RecipientKey::from_bytes(&b).ok())
            .map(|k| hex::encode(k.fingerprint()));
        !fp.is_some_and(|fp| revoked.contains(&fp))
    });
    // Unix seconds as epoch keep epochs increasing even if an old file is lost.
    let signed = RecipientList {
        epoch: (prev_epoch + 1).max(now),
        issued_at: now,
        expires_at: now + valid_days * 86_400,
        recipients,
    }
    .sign(&keys.org_signing);
    let text = serde_json::to_string_pretty(&signed).expect("serialisable") + "\n";
    keyfiles::write_replace(
        &cfg.keys_dir.join(names::RECIPIENTS),
        text.as_bytes(),
        0o644,
    )?;
    Ok(signed)
}

async fn recover(
    cfg: &Config,
    report: &str,
    passphrase_file: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let id = ReportId::parse(report)
        .ok_or_else(|| failure(1, format!("{report:?} is not a report id (a UUID)")))?;
    let (public, keys) = unseal(cfg, passphrase_file)?;
    let escrow = public.escrow.clone();
    if crate::vault::unwrap::public_of(&keys.escrow_secret)? != escrow.public {
        return Err(failure(
            3,
            "the offline escrow key does not match the pinned escrow.pub",
        ));
    }
    let store = super::connect(cfg, Schema::Reports).await?;
    let row = store.report(id).await?.ok_or_else(|| {
        failure(
            1,
            format!(
                "no report {id} in the database {}",
                crate::store::describe_url(&cfg.database_url())
            ),
        )
    })?;
    let integrity =
        |why: &str| failure(3, format!("integrity check failed for report {id}: {why}"));
    let header =
        ReportHeader::verify(&row.header, &row.header_sig, &public.intake).map_err(|_| {
            integrity("the header signature does not verify under the pinned intake key")
        })?;
    if header.report_id != id.bytes() {
        return Err(integrity("the signed header belongs to another report"));
    }
    if header.day != day_string(row.received_day) || header.unit != row.unit {
        return Err(integrity(
            "the received day or unit differs from the signed header",
        ));
    }
    let fp = escrow.fingerprint();
    if !header.recipients.contains(&fp) {
        return Err(integrity("the signed header does not list the escrow key"));
    }
    let fp_hex = hex::encode(fp);
    let wraps = store.wraps(id).await?;
    let find = |p: Purpose| {
        wraps
            .iter()
            .find(|w| w.recipient_fp == fp_hex && w.purpose == p.code())
            .ok_or_else(|| integrity("the escrow wrap is missing"))
            .and_then(|w| {
                unwrap(&keys.escrow_secret, &escrow, &id.bytes(), p, &w.wrapped)
                    .map_err(|_| integrity("the escrow wrap does not open"))
            })
    };
    let k_r = find(Purpose::ReporterKey)?;
    if key_commitment(&id.bytes(), &k_r) != header.key_commitment {
        return Err(integrity(
            "the reporter key differs from the one committed in the signed header",
        ));
    }
    // K_s exists only once the desk has created it for staff-only items; it and any head signed
    // by a staff key are accepted only when the verified audit log records a certified key
    // creating them (src/desk/report_keys.rs).
    let (certified, audit_note) = super::integrity::certified_by_audit(cfg).await;
    let with_note = |why: String| integrity(&format!("{why}{audit_note}"));
    let commitment = crate::desk::report_keys::vouched_staff_key(
        id,
        &wraps,
        &store.key_statements(id).await?,
        &certified,
        &public.intake,
    )
    .map_err(with_note)?;
    let k_s = match commitment {
        Some(c) => {
            let k = find(Purpose::StaffKey)?;
            if key_commitment(&id.bytes(), &k) != c {
                return Err(integrity(
                    "the staff key (K_s) differs from the one its signed statement commits to",
                ));
            }
            Some(k)
        }
        None => None,
    };
    let items = store.items(id).await?;
    if k_s.is_none() && items.iter().any(|i| i.direction == Direction::StaffOnly) {
        return Err(integrity("a staff-only item exists but no staff key does"));
    }
    // The items are exactly the chain the latest signed head ends, item 0 is the tip the header
    // names, and every item opens: a deleted, reordered, planted or swapped item is tampering.
    let trusted = crate::desk::report_keys::StaffHeads {
        intake: public.intake,
        certified: &certified,
    };
    let conv = crate::items::open::open_conversation(
        id,
        header.tip_item,
        &items,
        store.latest_head(id).await?.as_ref(),
        &trusted,
        &k_r,
        k_s.as_ref(),
    )
    .map_err(with_note)?;
    let tip = serde_json::to_value(&conv.tip).expect("serialisable");
    let mut messages = Vec::new();
    let mut notes = Vec::new();
    let mut labels: Option<serde_json::Value> = None;
    for it in &conv.items {
        let plain: &[u8] = it
            .plain
            .as_deref()
            .map(|p| p.as_slice())
            .unwrap_or_default();
        match it.kind {
            ItemKind::Message => {
                let m = it
                    .message()
                    .ok_or_else(|| integrity("a message is malformed"))?;
                let from = if it.direction == Direction::ReporterToStaff {
                    "reporter"
                } else {
                    "staff"
                };
                messages.push(json!({"seq": it.seq, "from": from, "body": m.body, "day": m.day}));
            }
            // The desk seals a note like a message (text and day); anything else that the
            // chain vouches for is shown as its raw text.
            ItemKind::Note => notes.push(match it.message() {
                Some(m) => json!({"seq": it.seq, "body": m.body, "day": m.day}),
                None => json!({"seq": it.seq, "plain": String::from_utf8_lossy(plain)}),
            }),
            // Staff-only too: the latest set is the report's labels.
            ItemKind::Labels => {
                labels = serde_json::from_slice::<crate::items::LabelsPlain>(plain)
                    .map(|l| json!({"seq": it.seq, "labels": l.labels, "day": l.day}))
                    .ok();
            }
            ItemKind::Tip => {}
        }
    }
    // Newest first, as everywhere else a conversation is shown; `seq` gives the chain order.
    messages.reverse();
    notes.reverse();
    let out = json!({
        "id": id.to_string(),
        "unit": row.unit,
        "category": row.category,
        "category_as_submitted": tip.get("category").cloned().unwrap_or(serde_json::Value::Null),
        "status": row.status.as_str(),
        "priority": row.priority,
        "received_day": day_string(row.received_day),
        "header": {
            "verified": true,
            "recipient_epoch": header.recipient_epoch,
            "recipients": header.recipients.iter().map(hex::encode).collect::<Vec<_>>(),
        },
        "tip": tip,
        "messages": messages,
        "notes": notes,
        "labels": labels,
    });
    let text =
        zeroize::Zeroizing::new(serde_json::to_string_pretty(&out).expect("serialisable") + "\n");
    super::write_stdout(text.as_bytes())
}
