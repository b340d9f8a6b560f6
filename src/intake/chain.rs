//! Appending a reporter's item to a report's hash chain ([`crate::items::chain`]), signed with
//! the intake key.
//!
//! The current head must verify under the intake's own key: the intake never extends a chain
//! whose end it cannot vouch for, so an item planted with a head of its own is not laundered by
//! the next reporter message. (A head signed by a staff key stops the intake from appending
//! until the intake is given the certified staff keys to trust.)

use super::IntakeState;
use crate::crypto::SecretKey32;
use crate::domain::ReportId;
use crate::store::{Appended, StoreError};

pub use crate::items::chain::Append;

/// Seals `a` under `k_r` as the next item of `id`'s chain, signs the new head with the intake
/// key and stores both.
pub async fn append(
    st: &IntakeState,
    id: ReportId,
    k_r: &SecretKey32,
    a: &Append<'_>,
) -> Result<Appended, StoreError> {
    let own = [st.secrets.signing.verifying_key()];
    crate::items::chain::append(&st.store, id, k_r, a, &st.secrets.signing, &own[..]).await
}
