//! What `keys recover` trusts besides the pinned intake key: the certified staff keys of the
//! verified audit log, which vouch for a report's K_s and for chain heads written by staff
//! (issue 6). The chain checks themselves are in [`crate::items::chain::verify_chain`] and
//! [`crate::desk::report_keys::vouched_staff_key`].

use crate::config::Config;
use crate::desk::audit::{self, Certified, PinnedKeys};
use crate::store::Schema;

/// What the verified audit log certifies, and a note to add to a refusal when the log could not
/// be read or does not verify (then nothing staff signed is accepted).
pub(super) async fn certified_by_audit(cfg: &Config) -> (Certified, String) {
    let pinned = match PinnedKeys::load(&cfg.keys_dir) {
        Ok(p) => p,
        Err(e) => return (Certified::default(), format!(" (no audit log keys: {e})")),
    };
    let desk = match super::connect(cfg, Schema::Desk).await {
        Ok(d) => d,
        Err(f) => {
            return (
                Certified::default(),
                format!(" (the audit log cannot be read: {})", f.message),
            );
        }
    };
    let r = audit::verify(&desk, &pinned, &[]).await;
    desk.close().await;
    match r {
        Ok(v) => (v.certified, String::new()),
        Err(e) => (
            Certified::default(),
            format!(" (the audit log does not verify, so no staff key is trusted: {e})"),
        ),
    }
}
