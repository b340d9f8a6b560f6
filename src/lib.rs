//! # Bisik: an anonymous tip line
//!
//! Citizens report drug transactions to a district anti-narcotics office (BNNK) without giving
//! their identity; each tip is sealed under its own keys and the reporter gets a 20-digit
//! follow-up code. A tour of the rooms, from the bottom up:
//!
//! - [`crypto`]: primitives, sealed items ([`crypto::envelope`]), the follow-up code
//!   ([`crypto::code`]) and its Argon2id KDF ([`crypto::kdf`]), HPKE wraps *to* public keys
//!   ([`crypto::wrap`]), the signed report header and recipient list, and the hash chain over a
//!   report's items with its signed heads ([`crypto::chain`]). Imports nothing above it.
//! - [`vault`]: the only code that *opens* keys (offline escrow/organisation container, HPKE
//!   unwrap). Used by the CLI ceremonies and recovery, later by the desk; never by the intake.
//! - [`domain`]: id newtypes, report states and the coarse status a reporter sees.
//! - [`store`]: all SQL, over SQLite or PostgreSQL; the desk's tables live apart.
//! - [`keyfiles`]: the pinned public keys and the intake's own secrets in `keys/`.
//! - [`web`]: security headers, the JSON error shape, body limits: shared by intake and desk.
//! - [`items`]: the sealed item formats (tip, message, their AAD) and the hash chain over a
//!   report's items (append with a signed head, verify against the latest head). They sit in a
//!   room of their own, below intake and desk, because the intake seals them and the desk and
//!   the CLI's recovery open them: neither has to import the intake to read a tip, so the intake
//!   stays a leaf nothing depends on.
//! - [`intake`]: the public API. Seals; opens only with a reporter's own code.
//! - [`desk`]: the case desk for staff: accounts, TOTP login, sessions that hold each person's
//!   unlocked keys sealed under a key only their cookie carries; the signed audit log
//!   ([`desk::audit`]); the figures for the action plan ([`desk::figures`]), counted by a
//!   supervisor's session or by `bisik stats export`. Beside `intake`, never imported by it.
//! - [`outreach`]: the poster, leaflet and announcement (issue 10), made from the config alone:
//!   it reaches neither the store nor the keys. Its PDF drawing also prints the figures.
//! - [`sanitize`]: the attachment sanitizer (I9). [`sanitize::Kind::sniff`] types an upload
//!   from its bytes; [`sanitize::run`] has the same binary, locked down by rlimits and Landlock
//!   in `bisik sanitize`, decode, orient and re-encode it, and streams the clean file to the
//!   sealer. It imports nothing from the crate and never sees a key.
//! - [`config`] and [`cli`]: configuration and the `bisik` command.
//!
//! The dependency rule that makes invariant I3 visible: `intake` imports neither `vault` nor
//! `desk`; only the desk and the CLI import `vault`; nothing but the CLI's serve commands
//! imports `intake` (item formats come from `items`); `crypto` imports none of `store`, `web`,
//! `intake` or `vault`. `tests/integration/layering.rs` checks it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blob;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod desk;
pub mod domain;
pub mod intake;
pub mod items;
pub mod keyfiles;
pub mod outreach;
pub mod sanitize;
pub mod store;
pub mod vault;
pub mod web;
