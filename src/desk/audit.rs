//! The signed, hash-chained audit log (I6), and the certifications that say whose keys may sign
//! in it (I5).
//!
//! # An entry
//! Each row of `audit_log` holds one [`Entry`] in a canonical encoding (src/crypto/canon.rs,
//! domain `bisik-audit-entry-v1`): its sequence number (from 1), the hash of the entry before
//! it ([`GENESIS`] for the first), the **day** it was written (never a time: an exact time of a
//! staff action, such as a supervisor opening a tip minutes after it came in, would date the
//! tip, and with it the reporter; I1), the acting staff member if any, the fingerprint of the
//! signing key, and the [`Event`]. Events carry staff ids and report ids, never content.
//! The entry's hash is SHA-256 over the encoding *and* its Ed25519 signature (domain
//! `bisik-audit-hash-v1`), so a checkpoint of the hash also pins who signed.
//!
//! # Who signs
//! - A staff member's own Ed25519 key, when it is certified at that point of the chain.
//! - The desk's service key (`keys/desk-service.key`, made at first use, never in the
//!   database) for events without an unlocked certified key: failed logins, logouts, account
//!   changes by admins (whose keys are never certified) and the CLI, an enrolment (whose new
//!   keys are not certified yet), reporter activity, revocations.
//! - The organisation key, in the offline ceremonies (`bisik keys certify --user`, `keys
//!   grant`): certifications of supervisors and grants.
//!
//! # What `bisik audit verify` checks ([`verify`])
//! Every row in order: its seq column is the next number and the one signed inside; it links to
//! the hash of the entry before; its stored hashes are the computed ones; its signature verifies
//! under the key its signer field names; that key was allowed to sign this event *at this point
//! of the chain* (the organisation key only ceremonies; the service key never a decryption,
//! certification, K_s or staff item, and never for someone who holds a certified key; a staff key
//! only while a certification earlier in the chain vouches for it and no revocation has ended
//! it, and only for its own staff member); and the chain still passes through every checkpoint
//! given as an anchor. The first bad entry is named.
//!
//! Certifications are themselves entries ([`Event::Certified`]): a supervisor's is signed by the
//! organisation key in the ceremony; an investigator's by a supervisor whose own certification
//! is earlier in the chain. So "was this key certified when it signed" is answered by the chain
//! alone, and a key written straight into the database certifies nothing.
//!
//! What the chain alone cannot show is its end: deleting the newest entries leaves a shorter
//! chain that is still consistent, and whoever holds the service key could rewrite the whole
//! table with new signatures. That is what checkpoints are for: `bisik audit checkpoint` prints
//! the head for the office logbook, the desk shows it to supervisors at login, and `verify
//! --anchor SEQ:HASH` fails when the chain no longer passes through a head written down earlier.

use crate::crypto::canon::{Reader, Writer};
use crate::crypto::chain::signer_fingerprint;
use crate::crypto::primitives::{fingerprint_display, sha256};
use crate::crypto::{CryptoError, SecretKey32};
use crate::domain::{ReportId, StaffId, today};
use crate::keyfiles;
use crate::store::{AuditRow, Store, StoreError};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tokio::sync::Mutex;

/// The `prev` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];
/// The desk service key's seed in keys/ (hex, 0600).
pub const SERVICE_KEY_FILE: &str = "desk-service.key";
/// The desk service key's public half in keys/ (hex), read by `bisik audit verify`.
pub const SERVICE_PUB_FILE: &str = "desk-service.pub";

const ENTRY_DOMAIN: &str = "bisik-audit-entry-v1";
const HASH_DOMAIN: &str = "bisik-audit-hash-v1";
/// How many hex digits of the hash a checkpoint shows: 128 bits, short enough to copy by hand
/// into a logbook, and still 2^128 work to find another chain that matches.
const CHECKPOINT_HEX: usize = 32;
/// The most reports one `previewed` entry may name (an inbox page shows 50); a longer list in
/// a stored entry is malformed, so decoding never allocates for a forged count.
const MAX_PREVIEWED: u64 = 1_000;
/// Most reports one `indexed` entry may name: a search over every report of a large office.
const MAX_INDEXED: u64 = 2_000_000;
/// How often an append is retried after another process took the next sequence number.
const ATTEMPTS: usize = 16;

/// What was decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A report page.
    Page,
    /// A preview (list snippet, thumbnail).
    Preview,
    /// An attachment download.
    Download,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Page => "page",
            Access::Preview => "preview",
            Access::Download => "download",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "page" => Access::Page,
            "preview" => Access::Preview,
            "download" => Access::Download,
            _ => return None,
        })
    }
}

/// A certification: these keys belong to this staff member, in this role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certification {
    /// The staff member.
    pub staff: StaffId,
    /// `supervisor` (certified by the organisation key) or `investigator` (by a supervisor).
    pub role: String,
    /// Their Ed25519 public key.
    pub ed25519: [u8; 32],
    /// Their X25519 public key.
    pub x25519: [u8; 32],
    /// The recipient-list epoch that added them (supervisors), 0 for investigators.
    pub epoch: u64,
}

/// What happened. Staff ids and report ids only, never content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed (the actor is the account named, when it exists).
    LoginFailed,
    /// A session ended.
    LoggedOut,
    /// Something of a report was decrypted and shown.
    Decrypted {
        /// Report.
        report: ReportId,
        /// What.
        access: Access,
    },
    /// A page of previews (the inbox) was shown: one entry per page view, naming every report
    /// whose preview was decrypted for it.
    Previewed {
        /// The reports shown.
        reports: Vec<ReportId>,
    },
    /// Tips and reporter messages were decrypted into a session's search summaries (issue 7):
    /// one entry per build or refresh, naming every report whose texts were decrypted for it.
    Indexed {
        /// The reports decrypted.
        reports: Vec<ReportId>,
    },
    /// A report failed an integrity check when staff opened it (header, chain, an item, a
    /// key): it was shown with a warning, never its content.
    IntegrityFailed {
        /// Report.
        report: ReportId,
    },
    /// Figures (counts only, issue 10) were exported for other agencies, from the desk or by
    /// `bisik stats export`: the months covered, and every report counted (whose area was
    /// decrypted for it).
    FiguresExported {
        /// First month, `YYYY-MM`.
        from: String,
        /// Last month, `YYYY-MM`.
        to: String,
        /// The reports counted, in id order.
        reports: Vec<ReportId>,
    },
    /// A report was exported.
    Exported {
        /// Report.
        report: ReportId,
    },
    /// A report was assigned (shared) to a staff member.
    Assigned {
        /// Report.
        report: ReportId,
        /// Assignee.
        staff: StaffId,
    },
    /// An assignment was removed.
    Unassigned {
        /// Report.
        report: ReportId,
        /// Former assignee.
        staff: StaffId,
    },
    /// Keys were certified.
    Certified(Certification),
    /// A staff member's certification ended (reset, disabled, removed): their keys sign and
    /// receive nothing new.
    Revoked {
        /// Staff member.
        staff: StaffId,
    },
    /// A report's keys were wrapped to a staff member (ceremony or sharing).
    Granted {
        /// Report.
        report: ReportId,
        /// Staff member.
        staff: StaffId,
    },
    /// A report's staff key K_s was created.
    StaffKeyCreated {
        /// Report.
        report: ReportId,
        /// Its key commitment ([`crate::crypto::header::key_commitment`]).
        commitment: [u8; 32],
    },
    /// A report's status changed.
    StatusChanged {
        /// Report.
        report: ReportId,
        /// New status (`Status::as_str`).
        status: String,
    },
    /// A report's priority changed.
    PriorityChanged {
        /// Report.
        report: ReportId,
        /// New priority.
        priority: i64,
    },
    /// Staff appended an item (message to the reporter, note) and signed the new chain head.
    ItemWritten {
        /// Report.
        report: ReportId,
        /// The item count the head states.
        count: u64,
        /// SHA-256 of the signed head's bytes.
        head: [u8; 32],
    },
    /// The reporter was active on a report (recorded by day only, like every entry).
    ReporterActivity {
        /// Report.
        report: ReportId,
    },
    /// An account was changed: `created` (by an admin, `bisik user add`, or the first `bisik
    /// serve`), `password_reset`, `disabled`, `enabled` (a reset enables a disabled account
    /// again), `role:X`, `keys_created` and `password_changed` (the forced first password at
    /// enrolment, and the account's own changes on the password page).
    AccountChanged {
        /// The account.
        staff: StaffId,
        /// What changed.
        change: String,
    },
}

impl Event {
    /// The event's kind as encoded (`login`, `account`, ...), also shown on the audit page.
    pub fn tag(&self) -> &'static str {
        match self {
            Event::LoginSucceeded => "login",
            Event::LoginFailed => "login_failed",
            Event::LoggedOut => "logout",
            Event::Decrypted { .. } => "decrypted",
            Event::Previewed { .. } => "previewed",
            Event::Indexed { .. } => "indexed",
            Event::IntegrityFailed { .. } => "integrity_failed",
            Event::Exported { .. } => "exported",
            Event::FiguresExported { .. } => "figures_exported",
            Event::Assigned { .. } => "assigned",
            Event::Unassigned { .. } => "unassigned",
            Event::Certified(_) => "certified",
            Event::Revoked { .. } => "revoked",
            Event::Granted { .. } => "granted",
            Event::StaffKeyCreated { .. } => "staff_key_created",
            Event::StatusChanged { .. } => "status",
            Event::PriorityChanged { .. } => "priority",
            Event::ItemWritten { .. } => "item_written",
            Event::ReporterActivity { .. } => "reporter_activity",
            Event::AccountChanged { .. } => "account",
        }
    }

    /// The report the event is about, if any.
    pub fn report(&self) -> Option<ReportId> {
        match self {
            Event::Decrypted { report, .. }
            | Event::Exported { report }
            | Event::IntegrityFailed { report }
            | Event::Assigned { report, .. }
            | Event::Unassigned { report, .. }
            | Event::Granted { report, .. }
            | Event::StaffKeyCreated { report, .. }
            | Event::StatusChanged { report, .. }
            | Event::PriorityChanged { report, .. }
            | Event::ItemWritten { report, .. }
            | Event::ReporterActivity { report } => Some(*report),
            _ => None,
        }
    }

    /// Whether the desk service key may sign this event. It signs only what happens without an
    /// unlocked certified key; whatever opens, vouches for or writes into a report needs the
    /// acting staff member's own certified key.
    pub fn service_may_sign(&self) -> bool {
        matches!(
            self,
            Event::LoginSucceeded
                | Event::LoginFailed
                | Event::LoggedOut
                | Event::Revoked { .. }
                | Event::AccountChanged { .. }
                | Event::ReporterActivity { .. }
        )
    }

    /// Whether the organisation key may sign this event (the offline ceremonies).
    fn organisation_may_sign(&self) -> bool {
        matches!(
            self,
            Event::Certified(_)
                | Event::Granted { .. }
                | Event::Revoked { .. }
                | Event::FiguresExported { .. }
        )
    }

    fn encode(&self, w: &mut Writer) {
        w.str(self.tag());
        match self {
            Event::LoginSucceeded | Event::LoginFailed | Event::LoggedOut => {}
            Event::Decrypted { report, access } => {
                w.bytes(&report.bytes()).str(access.as_str());
            }
            Event::Previewed { reports } | Event::Indexed { reports } => {
                w.u64(reports.len() as u64);
                for r in reports {
                    w.bytes(&r.bytes());
                }
            }
            Event::FiguresExported { from, to, reports } => {
                w.str(from).str(to).u64(reports.len() as u64);
                for r in reports {
                    w.bytes(&r.bytes());
                }
            }
            Event::Exported { report }
            | Event::ReporterActivity { report }
            | Event::IntegrityFailed { report } => {
                w.bytes(&report.bytes());
            }
            Event::Assigned { report, staff }
            | Event::Unassigned { report, staff }
            | Event::Granted { report, staff } => {
                w.bytes(&report.bytes()).str(&staff.to_string());
            }
            Event::Certified(c) => {
                w.str(&c.staff.to_string())
                    .str(&c.role)
                    .bytes(&c.ed25519)
                    .bytes(&c.x25519)
                    .u64(c.epoch);
            }
            Event::Revoked { staff } => {
                w.str(&staff.to_string());
            }
            Event::StaffKeyCreated { report, commitment } => {
                w.bytes(&report.bytes()).bytes(commitment);
            }
            Event::StatusChanged { report, status } => {
                w.bytes(&report.bytes()).str(status);
            }
            Event::PriorityChanged { report, priority } => {
                w.bytes(&report.bytes()).u64(*priority as u64);
            }
            Event::ItemWritten {
                report,
                count,
                head,
            } => {
                w.bytes(&report.bytes()).u64(*count).bytes(head);
            }
            Event::AccountChanged { staff, change } => {
                w.str(&staff.to_string()).str(change);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, CryptoError> {
        fn report(r: &mut Reader<'_>) -> Result<ReportId, CryptoError> {
            let b: [u8; 16] = r
                .bytes()?
                .try_into()
                .map_err(|_| CryptoError::Malformed("report id"))?;
            Ok(ReportId::from_bytes(b))
        }
        fn staff(r: &mut Reader<'_>) -> Result<StaffId, CryptoError> {
            StaffId::parse(r.str()?).ok_or(CryptoError::Malformed("staff id"))
        }
        Ok(match r.str()? {
            "login" => Event::LoginSucceeded,
            "login_failed" => Event::LoginFailed,
            "logout" => Event::LoggedOut,
            "decrypted" => Event::Decrypted {
                report: report(r)?,
                access: Access::parse(r.str()?).ok_or(CryptoError::Malformed("access"))?,
            },
            "previewed" => {
                let n = r.u64()?;
                if n > MAX_PREVIEWED {
                    return Err(CryptoError::Malformed("preview list"));
                }
                let mut reports = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    reports.push(report(r)?);
                }
                Event::Previewed { reports }
            }
            "indexed" => {
                let n = r.u64()?;
                if n > MAX_INDEXED {
                    return Err(CryptoError::Malformed("index list"));
                }
                // Grown as entries decode, so a forged count allocates nothing up front.
                let mut reports = Vec::with_capacity(n.min(MAX_PREVIEWED) as usize);
                for _ in 0..n {
                    reports.push(report(r)?);
                }
                Event::Indexed { reports }
            }
            "exported" => Event::Exported { report: report(r)? },
            "figures_exported" => {
                let (from, to) = (r.str()?.to_owned(), r.str()?.to_owned());
                let n = r.u64()?;
                if n > MAX_INDEXED {
                    return Err(CryptoError::Malformed("figures list"));
                }
                let mut reports = Vec::with_capacity(n.min(MAX_PREVIEWED) as usize);
                for _ in 0..n {
                    reports.push(report(r)?);
                }
                Event::FiguresExported { from, to, reports }
            }
            "integrity_failed" => Event::IntegrityFailed { report: report(r)? },
            "reporter_activity" => Event::ReporterActivity { report: report(r)? },
            "assigned" => Event::Assigned {
                report: report(r)?,
                staff: staff(r)?,
            },
            "unassigned" => Event::Unassigned {
                report: report(r)?,
                staff: staff(r)?,
            },
            "granted" => Event::Granted {
                report: report(r)?,
                staff: staff(r)?,
            },
            "certified" => Event::Certified(Certification {
                staff: staff(r)?,
                role: r.str()?.to_owned(),
                ed25519: r.array32()?,
                x25519: r.array32()?,
                epoch: r.u64()?,
            }),
            "revoked" => Event::Revoked { staff: staff(r)? },
            "staff_key_created" => Event::StaffKeyCreated {
                report: report(r)?,
                commitment: r.array32()?,
            },
            "status" => Event::StatusChanged {
                report: report(r)?,
                status: r.str()?.to_owned(),
            },
            "priority" => Event::PriorityChanged {
                report: report(r)?,
                priority: r.u64()? as i64,
            },
            "item_written" => Event::ItemWritten {
                report: report(r)?,
                count: r.u64()?,
                head: r.array32()?,
            },
            "account" => Event::AccountChanged {
                staff: staff(r)?,
                change: r.str()?.to_owned(),
            },
            _ => return Err(CryptoError::Malformed("audit event")),
        })
    }
}

/// One audit entry, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position, from 1.
    pub seq: u64,
    /// Hash of the entry before ([`GENESIS`] for the first).
    pub prev: [u8; 32],
    /// Day written (days since 1970-01-01 UTC).
    pub day: i64,
    /// The staff member who acted, if any.
    pub actor: Option<StaffId>,
    /// Fingerprint of the signing key ([`signer_fingerprint`]).
    pub signer: [u8; 32],
    /// What happened.
    pub event: Event,
}

impl Entry {
    /// Canonical bytes, which are what gets signed and stored.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(ENTRY_DOMAIN);
        w.u64(self.seq)
            .bytes(&self.prev)
            .u64(self.day as u64)
            .str(&self.actor.map(|a| a.to_string()).unwrap_or_default())
            .bytes(&self.signer);
        self.event.encode(&mut w);
        w.finish()
    }

    /// Parses canonical bytes (no signature check).
    pub fn decode(buf: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(buf, ENTRY_DOMAIN)?;
        let seq = r.u64()?;
        let prev = r.array32()?;
        let day = r.u64()? as i64;
        let actor = match r.str()? {
            "" => None,
            s => Some(StaffId::parse(s).ok_or(CryptoError::Malformed("actor"))?),
        };
        let signer = r.array32()?;
        let event = Event::decode(&mut r)?;
        r.end()?;
        Ok(Entry {
            seq,
            prev,
            day,
            actor,
            signer,
            event,
        })
    }
}

/// The hash the next entry links to and a checkpoint names: over the entry and its signature.
pub fn entry_hash(entry: &[u8], signature: &[u8]) -> [u8; 32] {
    let bytes = Writer::new(HASH_DOMAIN)
        .bytes(entry)
        .bytes(signature)
        .finish();
    sha256(&[&bytes])
}

/// A point of the chain: sequence number and (a prefix of) the hash of that entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Sequence number (0 for the empty log).
    pub seq: u64,
    /// Lowercase hex of the hash, or of a prefix of at least 32 digits of it.
    pub hash_hex: String,
}

impl Checkpoint {
    fn of(seq: u64, hash: &[u8; 32]) -> Self {
        Checkpoint {
            seq,
            hash_hex: hex::encode(hash),
        }
    }

    /// Parses `SEQ:HASH` as written in the logbook (spaces ignored, at least 32 hex digits).
    pub fn parse(s: &str) -> Option<Self> {
        let (seq, hash) = s.split_once(':')?;
        let seq = seq.trim().parse().ok()?;
        let hash_hex: String = hash
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_lowercase();
        if hash_hex.len() < CHECKPOINT_HEX
            || hash_hex.len() > 64
            || !hash_hex.chars().all(|c| c.is_ascii_hexdigit())
        {
            return None;
        }
        Some(Checkpoint { seq, hash_hex })
    }

    /// Whether the full hash `hash` is the one this checkpoint names.
    fn matches(&self, hash: &[u8; 32]) -> bool {
        hex::encode(hash).starts_with(&self.hash_hex)
    }
}

impl std::fmt::Display for Checkpoint {
    /// `SEQ:HASH` with the hash shortened to 32 hex digits: one short line for the logbook.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.hash_hex.len().min(CHECKPOINT_HEX);
        write!(f, "{}:{}", self.seq, &self.hash_hex[..n])
    }
}

/// The keys pinned in keys/ that entries may name besides certified staff keys.
#[derive(Debug, Clone)]
pub struct PinnedKeys {
    /// Organisation key (keys/org.pub): the offline ceremonies.
    pub org: VerifyingKey,
    /// The desk service key (keys/desk-service.pub), when it exists.
    pub service: Option<VerifyingKey>,
}

impl PinnedKeys {
    /// Reads the organisation and service public keys from `dir`.
    pub fn load(dir: &Path) -> Result<Self, AuditError> {
        let public =
            keyfiles::PublicKeys::load(dir).map_err(|e| AuditError::Keys(e.to_string()))?;
        let p = dir.join(SERVICE_PUB_FILE);
        let service = if p.exists() {
            let b = keyfiles::read_hex32(&p).map_err(|e| AuditError::Keys(e.to_string()))?;
            Some(VerifyingKey::from_bytes(&b).map_err(|_| {
                AuditError::Keys(format!("{} is not an Ed25519 public key", p.display()))
            })?)
        } else {
            None
        };
        Ok(PinnedKeys {
            org: public.org,
            service,
        })
    }
}

/// A key certified by the chain.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    /// Its staff member.
    pub staff: StaffId,
    /// `supervisor` or `investigator`.
    pub role: String,
    /// The Ed25519 key.
    pub ed25519: VerifyingKey,
    /// The X25519 key certified with it.
    pub x25519: [u8; 32],
    /// False once revoked.
    pub active: bool,
    /// The supervisor who certified an investigator; `None` for the organisation key's
    /// certifications (supervisors).
    pub by: Option<StaffId>,
}

/// (report, item count, SHA-256 of the head bytes, signer fingerprint) of a staff chain head.
type HeadVouched = ([u8; 16], u64, [u8; 32], [u8; 32]);

/// What a verified chain vouches for: certified keys, and the K_s and staff chain heads their
/// holders signed while certified.
#[derive(Debug, Clone, Default)]
pub struct Certified {
    keys: HashMap<[u8; 32], CertifiedKey>,
    /// (report, key commitment, signer fingerprint) of every K_s created while certified.
    staff_keys: HashSet<([u8; 16], [u8; 32], [u8; 32])>,
    heads: HashSet<HeadVouched>,
}

impl Certified {
    /// The key with Ed25519 fingerprint `fp`, if it is certified now.
    pub fn active(&self, fp: &[u8; 32]) -> Option<&CertifiedKey> {
        self.keys.get(fp).filter(|k| k.active)
    }

    /// The key with Ed25519 fingerprint `fp`, certified at some point (perhaps revoked since).
    pub fn ever(&self, fp: &[u8; 32]) -> Option<&CertifiedKey> {
        self.keys.get(fp)
    }

    /// A staff member's certified key, if they hold one now.
    pub fn of_staff(&self, staff: StaffId) -> Option<&CertifiedKey> {
        self.keys.values().find(|k| k.active && k.staff == staff)
    }

    /// Every key certified now.
    pub fn all_active(&self) -> impl Iterator<Item = &CertifiedKey> {
        self.keys.values().filter(|k| k.active)
    }

    /// Whether the chain records that the holder of `signer` (an Ed25519 fingerprint) created a
    /// K_s with this commitment for this report while certified.
    pub fn vouches_staff_key(
        &self,
        report: ReportId,
        commitment: &[u8; 32],
        signer: &[u8; 32],
    ) -> Option<&CertifiedKey> {
        self.staff_keys
            .contains(&(report.bytes(), *commitment, *signer))
            .then(|| self.keys.get(signer))
            .flatten()
    }

    /// The key that signed this staff chain head while certified, if the chain records it.
    pub fn vouches_head(
        &self,
        report: ReportId,
        count: u64,
        head_bytes: &[u8],
        signer: &[u8; 32],
    ) -> Option<&VerifyingKey> {
        self.heads
            .contains(&(report.bytes(), count, sha256(&[head_bytes]), *signer))
            .then(|| self.keys.get(signer).map(|k| &k.ed25519))
            .flatten()
    }
}

/// The first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq}: {why}")]
pub struct BadEntry {
    /// Its sequence number.
    pub seq: u64,
    /// What is wrong with it.
    pub why: String,
}

/// Walks the chain one row at a time, checking everything [`verify`] promises.
#[derive(Debug, Clone)]
struct Walker {
    pinned: PinnedKeys,
    next: u64,
    prev: [u8; 32],
    certified: Certified,
}

impl Walker {
    fn new(pinned: PinnedKeys) -> Self {
        Walker {
            pinned,
            next: 1,
            prev: GENESIS,
            certified: Certified::default(),
        }
    }

    fn head(&self) -> Checkpoint {
        Checkpoint::of(self.next - 1, &self.prev)
    }

    /// Checks `row` as the next entry and applies it. On failure nothing changes.
    fn push(&mut self, row: &AuditRow) -> Result<(), BadEntry> {
        let seq = self.next;
        let bad = |why: String| BadEntry { seq, why };
        if row.seq != seq as i64 {
            return Err(bad(if row.seq > seq as i64 {
                format!("missing: the next stored entry is number {}", row.seq)
            } else {
                format!("the row numbered {} is out of order", row.seq)
            }));
        }
        let e = Entry::decode(&row.entry).map_err(|_| bad("the entry is malformed".into()))?;
        if e.seq != seq {
            return Err(bad(format!(
                "the row holds the signed entry number {}: rows were reordered or moved",
                e.seq
            )));
        }
        if e.prev != self.prev || row.prev_hash != self.prev {
            return Err(bad(
                "it does not link to the entry before it: an earlier entry was changed, deleted or reordered"
                    .into(),
            ));
        }
        let hash = entry_hash(&row.entry, &row.signature);
        if row.entry_hash != hash {
            return Err(bad("its stored hash is not the hash of the entry".into()));
        }
        let sig = Signature::from_slice(&row.signature)
            .map_err(|_| bad("its signature is malformed".into()))?;
        let org = signer_fingerprint(&self.pinned.org);
        let service = self.pinned.service.as_ref().map(signer_fingerprint);
        let by_staff = self.certified.active(&e.signer).cloned();
        let key = if e.signer == org {
            if !e.event.organisation_may_sign() || e.actor.is_some() {
                return Err(bad(format!(
                    "the organisation key signed a {} event, which only a staff member or the desk may sign",
                    e.event.tag()
                )));
            }
            self.pinned.org
        } else if Some(e.signer) == service {
            if !e.event.service_may_sign() {
                return Err(bad(format!(
                    "the desk service key signed a {} event, which needs the acting staff member's certified key",
                    e.event.tag()
                )));
            }
            if let Some(a) = e.actor
                && self.certified.of_staff(a).is_some()
            {
                return Err(bad(format!(
                    "the desk service key signed for staff {a}, who holds a certified key and must sign their own entries"
                )));
            }
            self.pinned.service.expect("service fingerprint matched")
        } else if let Some(k) = &by_staff {
            if e.actor != Some(k.staff) {
                return Err(bad(format!(
                    "signed by the certified key of staff {}, but it names another actor",
                    k.staff
                )));
            }
            k.ed25519
        } else {
            return Err(bad(format!(
                "signed by key {}, which was not certified when it signed",
                fingerprint_display(&e.signer)
            )));
        };
        key.verify_strict(&row.entry, &sig)
            .map_err(|_| bad("its signature does not verify".into()))?;
        self.apply(&e, by_staff.as_ref()).map_err(bad)?;
        self.next += 1;
        self.prev = hash;
        Ok(())
    }

    /// What an entry changes about who is certified, and what it vouches for.
    fn apply(&mut self, e: &Entry, by_staff: Option<&CertifiedKey>) -> Result<(), String> {
        match &e.event {
            Event::Certified(c) => {
                let allowed = match by_staff {
                    None => c.role == "supervisor",
                    Some(s) => s.role == "supervisor" && c.role == "investigator",
                };
                if !allowed {
                    return Err(format!(
                        "a {} certification by {} is not allowed: supervisors are certified by the organisation key, investigators by a supervisor",
                        c.role,
                        if by_staff.is_some() {
                            "a staff key"
                        } else {
                            "the organisation key"
                        }
                    ));
                }
                let ed = VerifyingKey::from_bytes(&c.ed25519)
                    .map_err(|_| "the certified Ed25519 key is invalid".to_string())?;
                let fp = signer_fingerprint(&ed);
                if fp == signer_fingerprint(&self.pinned.org)
                    || Some(fp) == self.pinned.service.as_ref().map(signer_fingerprint)
                {
                    return Err("it certifies the organisation or service key".into());
                }
                if let Some(old) = self.certified.keys.get(&fp)
                    && old.staff != c.staff
                {
                    return Err(format!(
                        "it certifies a key already certified for staff {}",
                        old.staff
                    ));
                }
                self.certified.keys.insert(
                    fp,
                    CertifiedKey {
                        staff: c.staff,
                        role: c.role.clone(),
                        ed25519: ed,
                        x25519: c.x25519,
                        active: true,
                        by: by_staff.map(|s| s.staff),
                    },
                );
            }
            // A revoked supervisor's investigator certifications end with theirs: the intake,
            // which sees only the signed list and the published certificates, stops trusting
            // them at the same moment, and another supervisor certifies them again at the next
            // share (with the fingerprint).
            Event::Revoked { staff } => {
                for k in self.certified.keys.values_mut() {
                    if k.staff == *staff || k.by == Some(*staff) {
                        k.active = false;
                    }
                }
            }
            Event::StaffKeyCreated { report, commitment } => {
                self.certified
                    .staff_keys
                    .insert((report.bytes(), *commitment, e.signer));
            }
            Event::ItemWritten {
                report,
                count,
                head,
            } => {
                self.certified
                    .heads
                    .insert((report.bytes(), *count, *head, e.signer));
            }
            _ => {}
        }
        Ok(())
    }

    /// Moves past a row that failed, so that an appender still links to what is stored. The
    /// row vouches for nothing.
    fn skip(&mut self, row: &AuditRow) {
        self.next = row.seq.max(0) as u64 + 1;
        self.prev = entry_hash(&row.entry, &row.signature);
    }
}

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The head.
    pub head: Checkpoint,
    /// Who is certified, and what they vouched for.
    pub certified: Certified,
}

/// Checks `rows` (all of them, in seq order) as described in the module doc, and that the
/// chain passes through every `anchor`. Returns the head, or the first bad entry.
pub fn verify_rows(
    rows: &[AuditRow],
    pinned: &PinnedKeys,
    anchors: &[Checkpoint],
) -> Result<Verified, BadEntry> {
    let mut w = Walker::new(pinned.clone());
    let mut anchors: Vec<&Checkpoint> = anchors.iter().collect();
    anchors.sort_by_key(|a| a.seq);
    let mut next_anchor = anchors.iter().peekable();
    while let Some(a) = next_anchor.next_if(|a| a.seq == 0) {
        if !a.matches(&GENESIS) {
            return Err(BadEntry {
                seq: 0,
                why: format!("checkpoint {a} does not name the empty log"),
            });
        }
    }
    for row in rows {
        w.push(row)?;
        while let Some(a) = next_anchor.next_if(|a| a.seq == w.next - 1) {
            if !a.matches(&w.prev) {
                return Err(BadEntry {
                    seq: a.seq,
                    why: format!(
                        "it differs from checkpoint {a} written down earlier: the log was rewritten from here or before"
                    ),
                });
            }
        }
    }
    if let Some(a) = next_anchor.next() {
        return Err(BadEntry {
            seq: w.next,
            why: format!(
                "missing: the chain ends at {} but checkpoint {a} was written down earlier, so entries were deleted",
                w.next - 1
            ),
        });
    }
    Ok(Verified {
        head: w.head(),
        certified: w.certified,
    })
}

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key file.
    #[error("{0}")]
    Keys(String),
    /// The chain does not verify.
    #[error(transparent)]
    Bad(#[from] BadEntry),
    /// The signer may not sign this event.
    #[error("{0}")]
    NotAllowed(String),
}

/// Who signs an entry.
pub enum Signer<'a> {
    /// A logged-in staff member with their unlocked Ed25519 key. If that key is not certified
    /// now, an event the service key may sign is signed by it instead (with the staff member
    /// as actor); any other event is refused.
    Staff {
        /// Who.
        id: StaffId,
        /// Their key.
        key: &'a SigningKey,
    },
    /// The desk service key, for events without an unlocked staff key; `actor` names the
    /// account concerned, if any.
    Service {
        /// The account concerned.
        actor: Option<StaffId>,
    },
    /// The organisation key, unsealed in an offline ceremony.
    Organisation(&'a SigningKey),
}

/// Loads the desk service key from `dir`, making it (0600, and its public half) at first use.
pub fn service_key(dir: &Path) -> Result<SigningKey, AuditError> {
    let p = dir.join(SERVICE_KEY_FILE);
    let keys = |e: keyfiles::KeyFileError| AuditError::Keys(e.to_string());
    if !p.exists() {
        let seed = SecretKey32::random();
        let key = SigningKey::from_bytes(seed.expose());
        keyfiles::write_new_secret(&p, format!("{}\n", hex::encode(seed.expose())).as_bytes())
            .map_err(keys)?;
        keyfiles::write_replace(
            &dir.join(SERVICE_PUB_FILE),
            format!("{}\n", hex::encode(key.verifying_key().to_bytes())).as_bytes(),
            0o644,
        )
        .map_err(keys)?;
        return Ok(key);
    }
    let key = SigningKey::from_bytes(&*keyfiles::read_hex32(&p).map_err(keys)?);
    let pubp = dir.join(SERVICE_PUB_FILE);
    let pinned = keyfiles::read_hex32(&pubp).map_err(keys)?;
    if key.verifying_key().to_bytes() != *pinned {
        return Err(AuditError::Keys(format!(
            "{} does not match {}",
            p.display(),
            pubp.display()
        )));
    }
    Ok(key)
}

/// The audit log as the desk (and the CLI ceremonies) append to it. It keeps the verified state
/// of the chain in memory and catches up with entries other processes appended before each
/// append, so it always knows who is certified now.
pub struct Audit {
    store: Store,
    service: SigningKey,
    walker: Mutex<Walker>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit([service key REDACTED])")
    }
}

impl Audit {
    /// Opens the log in the desk store, with the pinned keys and the service key from
    /// `keys_dir` (made at first use). Verifies the chain so far; a bad entry is logged loudly
    /// (`bisik audit verify` names it) but does not stop the desk, which must keep recording.
    pub async fn open(store: Store, keys_dir: &Path) -> Result<Self, AuditError> {
        let service = service_key(keys_dir)?;
        let pinned = PinnedKeys::load(keys_dir)?;
        let audit = Audit {
            store,
            service,
            walker: Mutex::new(Walker::new(pinned)),
        };
        audit.catch_up(&mut *audit.walker.lock().await).await?;
        Ok(audit)
    }

    async fn catch_up(&self, w: &mut Walker) -> Result<(), AuditError> {
        let last = w.next as i64 - 1;
        for row in self.store.audit_rows_after(last).await? {
            if let Err(bad) = w.push(&row) {
                tracing::error!(
                    "AUDIT LOG DOES NOT VERIFY: {bad}; run `bisik audit verify` with the logbook's checkpoints"
                );
                w.skip(&row);
            }
        }
        Ok(())
    }

    /// Appends `event`, signed as `signer` says, and returns the new head. Safe against other
    /// appenders in this process and in others (the CLI ceremonies): the sequence number is the
    /// table's primary key, and a lost race re-reads, re-signs and tries again.
    pub async fn append(
        &self,
        signer: &Signer<'_>,
        event: Event,
    ) -> Result<Checkpoint, AuditError> {
        let event_report = event.report();
        let mut w = self.walker.lock().await;
        for _ in 0..ATTEMPTS {
            self.catch_up(&mut w).await?;
            let (actor, key): (Option<StaffId>, &SigningKey) = match signer {
                Signer::Staff { id, key } => {
                    let fp = signer_fingerprint(&key.verifying_key());
                    match w.certified.active(&fp) {
                        Some(k) if k.staff == *id => (Some(*id), key),
                        _ if event.service_may_sign() => (Some(*id), &self.service),
                        _ => {
                            return Err(AuditError::NotAllowed(format!(
                                "staff {id} holds no certified key, so they cannot sign a {} entry",
                                event.tag()
                            )));
                        }
                    }
                }
                Signer::Service { actor } => {
                    if !event.service_may_sign() {
                        return Err(AuditError::NotAllowed(format!(
                            "the desk service key may not sign a {} entry",
                            event.tag()
                        )));
                    }
                    (*actor, &self.service)
                }
                Signer::Organisation(k) => (None, *k),
            };
            let entry = Entry {
                seq: w.next,
                prev: w.prev,
                day: today(),
                actor,
                signer: signer_fingerprint(&key.verifying_key()),
                event: event.clone(),
            };
            let bytes = entry.encode();
            let signature = key.sign(&bytes).to_bytes().to_vec();
            let row = AuditRow {
                seq: entry.seq as i64,
                entry_hash: entry_hash(&bytes, &signature).to_vec(),
                prev_hash: entry.prev.to_vec(),
                entry: bytes,
                signature,
            };
            if self.store.audit_insert(&row, event_report).await? {
                // Applying our own row checks it too: a signer the chain does not allow is
                // caught here, at once, rather than at the next verify.
                if let Err(bad) = w.push(&row) {
                    tracing::error!("an audit entry just written does not verify: {bad}");
                    w.skip(&row);
                }
                return Ok(w.head());
            }
        }
        Err(AuditError::NotAllowed(
            "an audit append lost the race for the next sequence number too often".into(),
        ))
    }

    /// The head now (after catching up), for supervisors at login.
    pub async fn head(&self) -> Result<Checkpoint, AuditError> {
        let mut w = self.walker.lock().await;
        self.catch_up(&mut w).await?;
        Ok(w.head())
    }

    /// Who is certified now and what the chain vouches for (after catching up).
    pub async fn certified(&self) -> Result<Certified, AuditError> {
        let mut w = self.walker.lock().await;
        self.catch_up(&mut w).await?;
        Ok(w.certified.clone())
    }
}

/// The head of the log in `store` as stored, without verifying (`bisik audit checkpoint`; the
/// desk's login page uses [`Audit::head`]).
pub async fn stored_head(store: &Store) -> Result<Checkpoint, AuditError> {
    Ok(match store.audit_head().await? {
        None => Checkpoint::of(0, &GENESIS),
        Some((seq, hash)) => Checkpoint {
            seq: seq.max(0) as u64,
            hash_hex: hex::encode(hash),
        },
    })
}

/// Verifies the whole log in `store` (see [`verify_rows`]).
pub async fn verify(
    store: &Store,
    pinned: &PinnedKeys,
    anchors: &[Checkpoint],
) -> Result<Verified, AuditError> {
    let rows = store.audit_rows_after(0).await?;
    Ok(verify_rows(&rows, pinned, anchors)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let r = ReportId::new();
        let s = StaffId::new();
        for event in [
            Event::LoginFailed,
            Event::Decrypted {
                report: r,
                access: Access::Preview,
            },
            Event::Certified(Certification {
                staff: s,
                role: "supervisor".into(),
                ed25519: [7; 32],
                x25519: [8; 32],
                epoch: 9,
            }),
            Event::PriorityChanged {
                report: r,
                priority: -1,
            },
            Event::ItemWritten {
                report: r,
                count: 3,
                head: [1; 32],
            },
        ] {
            let e = Entry {
                seq: 4,
                prev: [2; 32],
                day: 20_000,
                actor: Some(s),
                signer: [3; 32],
                event,
            };
            assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
        }
    }

    #[test]
    fn checkpoints_parse_and_print_short() {
        let c = Checkpoint::of(12, &[0xab; 32]);
        let line = c.to_string();
        assert_eq!(line, format!("12:{}", "ab".repeat(16)));
        assert_eq!(Checkpoint::parse(&line).unwrap().seq, 12);
        assert!(Checkpoint::parse(&line).unwrap().matches(&[0xab; 32]));
        assert!(!Checkpoint::parse(&line).unwrap().matches(&[0xac; 32]));
        assert!(
            Checkpoint::parse("12:abcd").is_none(),
            "too short to pin anything"
        );
    }

    /// A chain built by hand, each entry signed by the key given.
    #[derive(Default)]
    struct Chain {
        rows: Vec<AuditRow>,
        prev: [u8; 32],
    }

    impl Chain {
        fn push(&mut self, actor: Option<StaffId>, key: &SigningKey, event: Event) {
            let e = Entry {
                seq: self.rows.len() as u64 + 1,
                prev: self.prev,
                day: 1,
                actor,
                signer: signer_fingerprint(&key.verifying_key()),
                event,
            };
            let entry = e.encode();
            let signature = key.sign(&entry).to_bytes().to_vec();
            self.prev = entry_hash(&entry, &signature);
            self.rows.push(AuditRow {
                seq: e.seq as i64,
                prev_hash: e.prev.to_vec(),
                entry_hash: self.prev.to_vec(),
                entry,
                signature,
            });
        }
    }

    #[test]
    fn a_key_signs_only_while_certified() {
        let org = SigningKey::from_bytes(&[1; 32]);
        let service = SigningKey::from_bytes(&[2; 32]);
        let sup = SigningKey::from_bytes(&[3; 32]);
        let pinned = PinnedKeys {
            org: org.verifying_key(),
            service: Some(service.verifying_key()),
        };
        let staff = StaffId::new();
        let view = Event::Decrypted {
            report: ReportId::new(),
            access: Access::Page,
        };
        let mut c = Chain::default();
        c.push(Some(staff), &sup, view.clone());
        assert_eq!(verify_rows(&c.rows, &pinned, &[]).unwrap_err().seq, 1);

        let mut c = Chain::default();
        c.push(
            None,
            &org,
            Event::Certified(Certification {
                staff,
                role: "supervisor".into(),
                ed25519: sup.verifying_key().to_bytes(),
                x25519: [9; 32],
                epoch: 1,
            }),
        );
        c.push(Some(staff), &sup, view.clone());
        let mut bad = Chain {
            rows: c.rows.clone(),
            prev: c.prev,
        };
        bad.push(Some(staff), &service, Event::LoginFailed);
        let err = verify_rows(&bad.rows, &pinned, &[]).unwrap_err();
        assert_eq!(
            err.seq, 3,
            "the service key may not sign for a certified member"
        );
        c.push(None, &service, Event::Revoked { staff });
        c.push(Some(staff), &sup, view);
        let err = verify_rows(&c.rows, &pinned, &[]).unwrap_err();
        assert_eq!(err.seq, 4, "{err}");
        assert!(err.why.contains("not certified"), "{err}");
        assert!(verify_rows(&c.rows[..3], &pinned, &[]).is_ok());
    }
}
