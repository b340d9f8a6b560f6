//! `bisik user add|reset|disable|list`: staff accounts from the command line, the same
//! operations as the admin pages ([`crate::desk::accounts`]). A one-time password is printed
//! only to a terminal; otherwise it goes to a new 0600 file outside keys/ whose path is
//! printed ([`super::secrets::emit`]).

use super::{Failure, connect, failure, secrets};
use crate::config::Config;
use crate::crypto::primitives::SecretKey32;
use crate::desk::accounts::{self, AccountError, OneTime, Role};
use crate::desk::audit::{Audit, Signer};
use crate::desk::certify::record_account_change;
use crate::desk::keys::load_or_make_pepper;
use crate::store::{Schema, StaffRow, Store};
use clap::Subcommand;

/// Account subcommands.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Creates an account and hands out its one-time password.
    Add {
        /// Login name (a-z, 0-9, '.', '_', '-').
        name: String,
        /// admin, supervisor (koordinator) or investigator (petugas).
        #[arg(long)]
        role: String,
    },
    /// Retires the account's keys and hands out a new one-time password.
    Reset {
        /// Login name.
        name: String,
    },
    /// Disables the account; its sessions end at their next request.
    Disable {
        /// Login name.
        name: String,
    },
    /// Lists accounts: name, role, state.
    List,
}

fn account_failure(e: AccountError) -> Failure {
    match e {
        AccountError::BadName | AccountError::BadRole => failure(2, e.to_string()),
        other => failure(1, other.to_string()),
    }
}

/// Opens the desk store (migrating when configured) and the desk pepper.
pub(super) async fn open_desk(cfg: &Config) -> Result<(Store, SecretKey32), Failure> {
    let store = connect(cfg, Schema::Desk).await?;
    if cfg.auto_migrate {
        store.migrate().await?;
    }
    let n = store.count_staff().await?;
    let pepper = load_or_make_pepper(&cfg.keys_dir, n > 0)?;
    Ok((store, pepper))
}

async fn one_time(cfg: &Config, pepper: &SecretKey32) -> Result<OneTime, Failure> {
    let pepper = pepper.clone();
    let m = cfg.desk.kdf_mib.saturating_mul(1024);
    tokio::task::spawn_blocking(move || OneTime::generate(&pepper, m))
        .await
        .map_err(|e| failure(1, e.to_string()))?
        .map_err(|e| failure(1, e.to_string()))
}

fn emit(cfg: &Config, name: &str, ot: &OneTime) -> Result<(), Failure> {
    // A random part too: two resets of one account within a second get two files.
    let mut r = [0u8; 4];
    crate::crypto::primitives::os_fill(&mut r);
    secrets::emit(
        &format!("One-time password for {name} (kata sandi sekali pakai)"),
        &ot.password,
        &cfg.offline_passphrase_dir(),
        &format!("one-time-password-{name}-{}", hex::encode(r)),
    )
}

/// Records an account change in the audit log, signed by the desk service key (the CLI holds
/// no staff key), and revokes a reset or disabled supervisor in the reports database at once.
async fn record(cfg: &Config, store: &Store, row: &StaffRow, change: &str) -> Result<(), Failure> {
    let reports = connect(cfg, Schema::Reports).await?;
    let audit = Audit::open(store.clone(), &cfg.keys_dir).await?;
    let r = record_account_change(
        &reports,
        store,
        &audit,
        &Signer::Service { actor: None },
        row,
        change,
    )
    .await;
    reports.close().await;
    Ok(r?)
}

/// Runs a `bisik user` subcommand.
pub async fn run(cfg: &Config, cmd: UserCommand) -> Result<(), Failure> {
    let (store, pepper) = open_desk(cfg).await?;
    let r = match cmd {
        UserCommand::Add { name, role } => {
            let role = Role::parse(&role).ok_or_else(|| account_failure(AccountError::BadRole))?;
            let name = accounts::normalise_name(&name).map_err(account_failure)?;
            let ot = one_time(cfg, &pepper).await?;
            let id = accounts::add(&store, &name, role, &ot)
                .await
                .map_err(account_failure)?;
            if let Some(row) = store.staff_by_id(&id).await? {
                record(cfg, &store, &row, "created").await?;
            }
            emit(cfg, &name, &ot)?;
            println!(
                "Account {name} ({}) created. At the first login on the desk it sets a password, enrols TOTP and gets its keys.",
                role.as_str()
            );
            Ok(())
        }
        UserCommand::Reset { name } => {
            let row = accounts::find(&store, &name)
                .await
                .map_err(account_failure)?;
            let ot = one_time(cfg, &pepper).await?;
            // Before the reset retires the key: a supervisor stops receiving new tips at once.
            record(cfg, &store, &row, "password_reset").await?;
            let row = accounts::reset(&store, &name, &ot)
                .await
                .map_err(account_failure)?;
            // A reset enables a disabled account again: an account change of its own.
            if row.disabled {
                record(cfg, &store, &row, "enabled").await?;
            }
            emit(cfg, &row.username, &ot)?;
            println!(
                "Account {} reset: its keys are retired; its sessions end at their next request.",
                row.username
            );
            Ok(())
        }
        UserCommand::Disable { name } => {
            // Audit and revoke first (see the admin page's disable): a failure leaves the
            // account as it was.
            let row = accounts::find(&store, &name)
                .await
                .map_err(account_failure)?;
            record(cfg, &store, &row, "disabled").await?;
            let row = accounts::disable(&store, &name)
                .await
                .map_err(account_failure)?;
            println!(
                "Account {} disabled; its sessions end at their next request.",
                row.username
            );
            Ok(())
        }
        UserCommand::List => {
            let mut out = String::from("NAME\tROLE\tSTATE\n");
            for s in store.list_staff().await? {
                let state = if s.disabled {
                    "disabled"
                } else if matches!(store.staff_auth(&s.id).await?, Some(a) if a.one_time.is_none())
                {
                    "active"
                } else {
                    "awaiting-first-login"
                };
                out.push_str(&format!("{}\t{}\t{state}\n", s.username, s.role));
            }
            super::write_stdout(out.as_bytes())
        }
    };
    store.close().await;
    r
}

/// `bisik serve` on an empty desk: makes the account `admin`, audited as `created` like any
/// other account (signed by the desk service key), and says how to log in.
pub(super) async fn first_admin(
    cfg: &Config,
    store: &Store,
    reports: &Store,
    audit: &Audit,
    pepper: &SecretKey32,
) -> Result<(), Failure> {
    if store.count_staff().await? > 0 {
        return Ok(());
    }
    let ot = one_time(cfg, pepper).await?;
    let id = accounts::add(store, "admin", Role::Admin, &ot)
        .await
        .map_err(account_failure)?;
    let row = store
        .staff_by_id(&id)
        .await?
        .ok_or_else(|| failure(1, "the first admin account vanished as it was made"))?;
    record_account_change(
        reports,
        store,
        audit,
        &Signer::Service { actor: None },
        &row,
        "created",
    )
    .await?;
    emit(cfg, "admin", &ot)?;
    tracing::warn!(
        "desk: no staff account existed, so the account `admin` was made: open http://{}/login, log in as admin with the one-time password above (or in the file named above), then choose a password and enrol TOTP",
        cfg.desk_listen
    );
    Ok(())
}
