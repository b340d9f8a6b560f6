//! The recipient list as the intake sees it: read from keys/, verified against the pinned
//! organisation key, its expiry and the highest epoch accepted before (kept in the database, a
//! different trust domain from keys/). A list that fails any check is refused with a loud log
//! line, and new reports are then wrapped to the escrow key only: the tip is still taken and
//! still recoverable, but nobody uncertified receives it (I5). Keys the desk has revoked since
//! the list was signed (a supervisor reset or disabled) are left out at once.

use crate::crypto::primitives::sha256;
use crate::crypto::recipients::SignedRecipientList;
use crate::crypto::wrap::RecipientKey;
use crate::keyfiles;
use crate::store::Store;
use ed25519_dalek::VerifyingKey;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

const EPOCH_STATE: &str = "recipient_list_epoch";

/// The keys new reports are wrapped to (besides escrow), and the list epoch they came from.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// Epoch of the accepted list, 0 when none.
    pub epoch: u64,
    /// Supervisor keys.
    pub keys: Vec<RecipientKey>,
    /// The same supervisors' Ed25519 keys (those the list names), which the intake trusts to
    /// sign chain heads and investigator certificates ([`super::chain`]).
    pub signers: Vec<VerifyingKey>,
    /// Fingerprints (hex) of the X25519 keys the desk has revoked, as read for this call.
    pub revoked: Vec<String>,
}

/// The accepted list as cached: epoch, expiry, and each recipient's X25519 key with the
/// Ed25519 key listed beside it (none for a list signed before the desk made one).
type Accepted = (u64, u64, Vec<(RecipientKey, Option<VerifyingKey>)>);

#[derive(Default)]
struct Cache {
    stamp: Option<[u8; 32]>,
    accepted: Option<Accepted>,
    expired_logged: bool,
}

/// Watches keys/recipients.json.
pub struct Recipients {
    dir: PathBuf,
    org: VerifyingKey,
    escrow: RecipientKey,
    cache: Mutex<Cache>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Recipients {
    /// Watches the list in `dir`, verified under `org`; `escrow` may never appear on it.
    pub fn new(dir: PathBuf, org: VerifyingKey, escrow: RecipientKey) -> Self {
        Recipients {
            dir,
            org,
            escrow,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The recipients in force now: the accepted list minus every key the desk has revoked
    /// since (read from the database on every call, so a disabled or reset supervisor gets no
    /// wrap of the very next tip). Re-reads the file when it changed.
    pub async fn current(&self, store: &Store) -> Current {
        let mut c = self.listed(store).await;
        if c.keys.is_empty() {
            return c;
        }
        match store.revoked_recipients().await {
            Ok(revoked) => {
                let listed = self.listed_pairs().await;
                c.keys
                    .retain(|k| !revoked.contains(&hex::encode(k.fingerprint())));
                c.signers = listed
                    .into_iter()
                    .filter(|(x, _)| c.keys.contains(x))
                    .filter_map(|(_, ed)| ed)
                    .collect();
                c.revoked = revoked;
            }
            Err(e) => {
                // Fail closed: a tip wrapped to escrow only is still taken and recoverable, and
                // no staff head is trusted until the revocations can be read again.
                tracing::error!(
                    "cannot read recipient revocations ({e}); this report is wrapped to the escrow key only"
                );
                c.keys.clear();
            }
        }
        c
    }

    /// The recipients of the accepted list, before revocations.
    async fn listed(&self, store: &Store) -> Current {
        let path = self.dir.join(keyfiles::names::RECIPIENTS);
        // Compare contents, not timestamps: a replayed old file may carry any mtime.
        let stamp = std::fs::read(&path).ok().map(|b| sha256(&[&b]));
        let mut c = self.cache.lock().await;
        if c.stamp != stamp {
            c.stamp = stamp;
            c.expired_logged = false;
            c.accepted = self.load(store).await;
        }
        match &c.accepted {
            Some((epoch, expires, keys)) if now() < *expires => Current {
                epoch: *epoch,
                keys: keys.iter().map(|(x, _)| x.clone()).collect(),
                ..Current::default()
            },
            Some((epoch, _, _)) => {
                if !c.expired_logged {
                    tracing::error!(
                        "RECIPIENT LIST REFUSED: epoch {epoch} has expired; new reports are wrapped to the escrow key only until the organisation key holder re-signs it (bisik keys certify)"
                    );
                    c.expired_logged = true;
                }
                Current::default()
            }
            None => Current::default(),
        }
    }

    /// The cached list's (X25519, Ed25519) pairs, as [`Recipients::listed`] last loaded them;
    /// the caller filters them by what `listed` returned (expiry) and the revocations.
    async fn listed_pairs(&self) -> Vec<(RecipientKey, Option<VerifyingKey>)> {
        let c = self.cache.lock().await;
        c.accepted.as_ref().map(|a| a.2.clone()).unwrap_or_default()
    }

    async fn load(&self, store: &Store) -> Option<Accepted> {
        let list: SignedRecipientList = match keyfiles::read_recipients(&self.dir) {
            Ok(Some(l)) => l,
            Ok(None) => {
                // No list is normal before the first certification; a list that vanished
                // after one was accepted is not.
                if let Ok(Some(epoch)) = store.state(EPOCH_STATE).await
                    && epoch > 0
                {
                    tracing::error!(
                        "RECIPIENT LIST REFUSED: recipients.json is missing although epoch {epoch} was accepted before; new reports are wrapped to the escrow key only"
                    );
                }
                return None;
            }
            Err(e) => {
                tracing::error!(
                    "RECIPIENT LIST REFUSED: {e}; new reports are wrapped to the escrow key only"
                );
                return None;
            }
        };
        let seen = match store.state(EPOCH_STATE).await {
            Ok(v) => v.unwrap_or(0).max(0) as u64,
            Err(e) => {
                tracing::error!(
                    "RECIPIENT LIST REFUSED: cannot read the highest accepted epoch: {e}"
                );
                return None;
            }
        };
        match list.verify(&self.org, now(), seen) {
            Ok(l) => {
                let keys = l.keys().ok()?;
                if keys.contains(&self.escrow) {
                    tracing::error!(
                        "RECIPIENT LIST REFUSED: it lists the escrow key as a recipient; new reports are wrapped to the escrow key only"
                    );
                    return None;
                }
                if l.epoch > seen
                    && let Err(e) = store.set_state(EPOCH_STATE, l.epoch as i64).await
                {
                    tracing::error!(
                        "RECIPIENT LIST REFUSED: cannot record epoch {}: {e}",
                        l.epoch
                    );
                    return None;
                }
                tracing::info!(
                    epoch = l.epoch,
                    recipients = keys.len(),
                    "recipient list accepted"
                );
                // A malformed Ed25519 field only costs that supervisor the intake's trust in
                // the heads they sign; their wraps stay (the list verified as a whole).
                let pairs = keys
                    .into_iter()
                    .zip(&l.recipients)
                    .map(|(x, r)| {
                        let ed = hex::decode(&r.ed25519)
                            .ok()
                            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                            .and_then(|b| VerifyingKey::from_bytes(&b).ok());
                        (x, ed)
                    })
                    .collect();
                Some((l.epoch, l.expires_at, pairs))
            }
            Err(e) => {
                tracing::error!(
                    "RECIPIENT LIST REFUSED: {e}; new reports are wrapped to the escrow key only"
                );
                None
            }
        }
    }
}
