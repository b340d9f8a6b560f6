//! The vault: the only code in Bisik that *opens* keys. It unseals the offline escrow and
//! organisation keys with the ceremony passphrase, and opens HPKE wraps with a private key.
//!
//! Who may import it: `cli` (for `keys init`, `keys certify`, `keys recover`) and, later, the
//! desk. The intake never does; `tests/integration/layering.rs` fails the build's tests if it
//! starts to. That is what makes invariant I3 visible in the module tree.

pub mod offline;
pub mod unwrap;
