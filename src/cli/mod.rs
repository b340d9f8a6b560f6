//! The `bisik` command line (clap derive). Errors become exit codes in one place, [`main`]:
//! 0 success, 1 failure, 2 usage, 3 an integrity check failed (tampering), 78 bad configuration.

mod audit;
mod ceremony;
mod integrity;
mod keys;
mod logging;
mod maintenance;
mod outreach;
mod reports;
mod secrets;
mod stats;
mod users;

use crate::config::Config;
use crate::keyfiles::{self, IntakeSecrets, PublicKeys};
use crate::store::{Backend, Schema, Store};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Bisik: anonymous tip line for BNNK.
#[derive(Parser, Debug)]
#[command(name = "bisik", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Defaults to ./bisik.toml when it exists.
    #[arg(long, global = true, env = "BISIK_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Zero-setup mode for one host: initialise ./data and ./keys on first run, then serve the
    /// intake (127.0.0.1:8080) and the case desk (127.0.0.1:8081); on an empty desk it makes
    /// the account `admin`. Intake and desk share one OS user here, so I3's separation needs
    /// the production split instead.
    Serve,
    /// The intake alone, for the production split (its own OS user, public keys only).
    Intake,
    /// The case desk alone (127.0.0.1:8081), for the production split (its own OS user).
    Desk,
    /// Staff accounts.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Initialise data and keys directories, keys and databases, then exit.
    Init,
    /// Apply database migrations, then exit.
    Migrate,
    /// Key ceremonies and recovery.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Reports in the database (ids for `keys recover`), never their content.
    #[command(subcommand)]
    Reports(reports::ReportsCommand),
    /// Maintenance of the stored data (reshuffle).
    #[command(subcommand)]
    Maintenance(maintenance::MaintenanceCommand),
    /// The signed audit log: checkpoint and verify.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The outreach kit: poster, leaflet and announcement, from the config file alone.
    #[command(subcommand)]
    Outreach(outreach::OutreachCommand),
    /// Figures for the regional action plan: the suppressed export for other agencies.
    #[command(subcommand)]
    Stats(stats::StatsCommand),
    /// The attachment sanitizer's child process (I9): started by the intake, never by hand in
    /// production, so it is hidden from help. It reads no config and opens no database.
    #[command(hide = true)]
    Sanitize(crate::sanitize::child::SanitizeArgs),
}

/// Writes command output to stdout. A closed pipe (`bisik keys recover ... | head`) ends the
/// output quietly instead of panicking as `println!` does.
fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(failure(1, format!("cannot write to stdout: {e}"))),
    }
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// What to tell the operator.
    pub message: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 1,
            message: e.to_string(),
        }
    }
}

fn failure(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    harden_process();
    let cli = Cli::parse();
    // Before the config is read: the sanitizer child should touch no file but its pipes.
    let cli = match cli.command {
        Command::Sanitize(args) => return crate::sanitize::child::main(args),
        command => Cli { command, ..cli },
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("bisik: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Before anything else, for every subcommand: no core dumps, since a dump of the intake or desk
/// would hold keys and plaintext; and not dumpable, which also refuses ptrace and /proc/PID/mem
/// to other processes of the same user (only root with CAP_SYS_PTRACE can still read them).
fn harden_process() {
    let _ = rlimit::setrlimit(rlimit::Resource::CORE, 0, 0);
    use rustix::process::{DumpableBehavior, set_dumpable_behavior};
    if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        eprintln!("bisik: warning: cannot mark the process non-dumpable: {e}");
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let cfg = Config::load(cli.config.as_deref(), &|k| std::env::var(k).ok())
        .map_err(|e| failure(78, format!("configuration error: {e}")))?;
    init_logging(&cfg.log_level);
    // No runtime and no database: the kit is made from the config file alone (issue 10).
    let command = match cli.command {
        Command::Outreach(o) => return outreach::run(&cfg, o),
        other => other,
    };
    let cfg = Arc::new(cfg);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work is Argon2 (64 MiB each, bounded by the KDF pool, whose permit lives in
        // the blocking closure) plus file I/O; a small cap keeps a burst from spawning hundreds
        // of threads. Queued blocking tasks hold no Argon2 memory until they run.
        .max_blocking_threads(cfg.kdf.pool_size + cfg.desk.kdf_pool + 4)
        .build()
        .map_err(|e| failure(1, format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        match command {
            Command::Serve => {
                init(&cfg).await?;
                maintenance::spawn_reshuffle_schedule(cfg.clone());
                let desk = desk_state(&cfg, true).await?;
                let intake = crate::intake::start(intake_state(cfg).await?)
                    .map_err(|e| failure(1, e.to_string()))?;
                let desk = crate::desk::start(desk).map_err(|e| failure(1, e.to_string()))?;
                tokio::try_join!(intake, desk).map_err(|e| failure(1, e.to_string()))?;
                Ok(())
            }
            Command::Intake => {
                let state = intake_state(cfg).await?;
                crate::intake::run(state)
                    .await
                    .map_err(|e| failure(1, e.to_string()))
            }
            Command::Desk => {
                let state = desk_state(&cfg, false).await?;
                crate::desk::start(state)
                    .map_err(|e| failure(1, e.to_string()))?
                    .await
                    .map_err(|e| failure(1, e.to_string()))
            }
            Command::User(u) => users::run(&cfg, u).await,
            Command::Init => init(&cfg).await,
            Command::Migrate => {
                for schema in [Schema::Reports, Schema::Desk] {
                    let s = connect(&cfg, schema).await?;
                    s.migrate()
                        .await
                        .map_err(|e| failure(1, format!("{schema:?} database: {e}")))?;
                    s.close().await;
                }
                tracing::info!("migrations applied to the reports and desk databases");
                Ok(())
            }
            Command::Keys(k) => keys::run(&cfg, k).await,
            Command::Reports(r) => reports::run(&cfg, r).await,
            Command::Maintenance(m) => maintenance::run(&cfg, m).await,
            Command::Audit(a) => audit::run(&cfg, a).await,
            Command::Stats(s) => stats::run(&cfg, s).await,
            Command::Outreach(_) => unreachable!("handled before the runtime starts"),
            Command::Sanitize(_) => unreachable!("handled before the config is read"),
        }
    })
}

/// Logging to stderr; see [`logging`].
fn init_logging(level: &str) {
    logging::init(level);
}

async fn connect(cfg: &Config, schema: Schema) -> Result<Store, Failure> {
    let url = match schema {
        Schema::Reports => cfg.database_url(),
        Schema::Desk => cfg.desk_database_url(),
    };
    if crate::store::backend_of(&url)? == Backend::Sqlite {
        precreate_sqlite(&url)?;
    }
    let store = Store::connect(&url, schema, 16)
        .await
        .map_err(|e| open_failure(&url, schema, &e))?;
    refuse_planted_schema(&store, schema).await?;
    Ok(store)
}

/// Names the database that could not be opened, and says what to do when a PostgreSQL
/// database simply does not exist yet (Bisik never creates one: that needs a superuser).
fn open_failure(url: &str, schema: Schema, e: &crate::store::StoreError) -> Failure {
    let name = crate::store::describe_url(url);
    if let crate::store::StoreError::Db(sqlx::Error::Database(d)) = e
        && d.code().as_deref() == Some("3D000")
    {
        return failure(
            1,
            format!(
                "the {schema:?} database {name} does not exist: create it first, e.g. `sudo -u postgres createdb -O bisik bisik` (README, PostgreSQL; deploy/postgres/roles.sql)"
            ),
        );
    }
    failure(
        1,
        format!("cannot open the {schema:?} database {name}: {e}"),
    )
}

/// Exit 3 (an integrity check failed), not 78: a view or trigger no migration made is a sign that
/// someone wrote to the database file, not a setting the operator got wrong.
async fn refuse_planted_schema(store: &Store, schema: Schema) -> Result<(), Failure> {
    let planted = store.unexpected_schema_objects().await?;
    if planted.is_empty() {
        return Ok(());
    }
    Err(failure(
        3,
        format!(
            "the {schema:?} database holds {} that no migration created: {}; someone with write access to the file may have planted it, so Bisik refuses to use it (remove it after checking the database)",
            if planted.len() == 1 {
                "an object"
            } else {
                "objects"
            },
            planted.join(", ")
        ),
    ))
}

/// Creates a SQLite file with mode 0600 before SQLite does, so the database and its -wal and
/// -shm files (which SQLite creates with the database's mode) are private.
fn precreate_sqlite(url: &str) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" || !url.contains("mode=rwc") {
        return Ok(());
    }
    let p = std::path::Path::new(path);
    if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
        keyfiles::ensure_private_dir(parent)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(failure(
            1,
            format!("cannot create database file {}: {e}", p.display()),
        )),
    }
}

/// First-run initialisation: directories, keys (printing the offline passphrase once) and
/// both databases. Idempotent. New keys are made only for a database that holds no reports:
/// over existing reports they would make every reporter's code answer 404 and leave every
/// report unreadable, so that is refused (issue 5, section 7).
async fn init(cfg: &Config) -> Result<(), Failure> {
    keyfiles::ensure_private_dir(&cfg.keys_dir)?;
    if crate::store::backend_of(&cfg.database_url())? == Backend::Sqlite {
        keyfiles::ensure_private_dir(&cfg.data_dir)?;
    }
    for schema in [Schema::Reports, Schema::Desk] {
        let s = connect(cfg, schema).await?;
        s.migrate().await?;
        if schema == Schema::Reports && !keyfiles::initialised(&cfg.keys_dir) {
            let n = s.count_reports().await?;
            s.close().await;
            if n > 0 {
                return Err(keys_lost(cfg, n));
            }
            keys::init_keys(cfg)?;
            continue;
        }
        s.close().await;
    }
    Ok(())
}

/// The refusal when keys/ is empty but the database is not.
fn keys_lost(cfg: &Config, reports: i64) -> Failure {
    failure(
        78,
        format!(
            "{} holds no keys, but the database {} already holds {reports} report(s): refusing to start, because new keys would make every reporter's code answer 404 and no old report could be opened; restore the key files from their backup (keys/README.md)",
            cfg.keys_dir.display(),
            crate::store::describe_url(&cfg.database_url())
        ),
    )
}

/// Warns when the intake listens beyond this host: it speaks plain HTTP, so codes and tips
/// would cross the network unencrypted, and it is meant to sit behind nginx or Tor on the
/// same machine (deploy/).
fn warn_public_listen(addr: &str) {
    if let Ok(a) = addr.parse::<std::net::SocketAddr>()
        && !a.ip().is_loopback()
    {
        tracing::warn!(
            "intake_listen {a} is not a loopback address: the intake speaks plain HTTP, so follow-up codes and tips would cross the network unencrypted; listen on 127.0.0.1 behind nginx (TLS) or the Tor onion service on this host (deploy/README.md)"
        );
    }
}

/// Warns at every start while the offline key or its passphrase sits beside the running
/// service: one backup of keys/ would then open every report (I4).
fn warn_offline_material(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == keyfiles::names::OFFLINE_SEALED || name.starts_with("offline-passphrase-") {
            tracing::warn!(
                "{} is still on this machine: move it offline (keys/README.md); until then a copy of {} opens every report",
                e.path().display(),
                dir.display()
            );
        }
    }
}

/// The desk's state: its store (schema checked, migrated when configured) and pepper. With
/// `first_admin` (`bisik serve`), an empty desk gets the account `admin`.
async fn desk_state(
    cfg: &Arc<Config>,
    first_admin: bool,
) -> Result<Arc<crate::desk::DeskState>, Failure> {
    let (store, pepper) = users::open_desk(cfg).await?;
    // The reports database too: disabling or resetting a supervisor records the revocation
    // there, where the intake reads it with every new tip.
    let reports = connect(cfg, Schema::Reports).await?;
    let audit = crate::desk::audit::Audit::open(store.clone(), &cfg.keys_dir).await?;
    if first_admin {
        users::first_admin(cfg, &store, &reports, &audit, &pepper).await?;
    } else if store.count_staff().await? == 0 {
        tracing::warn!(
            "desk: there is no staff account yet; make the first with `bisik user add NAME --role admin`"
        );
    }
    // Absent before `keys init`; a pinned key that is present but unreadable is an error.
    let public = if keyfiles::initialised(&cfg.keys_dir) {
        Some(keyfiles::PublicKeys::load(&cfg.keys_dir)?)
    } else {
        None
    };
    let blobs = crate::blob::BlobStore::open(cfg)
        .map_err(|e| failure(74, format!("cannot open the attachment store: {e}")))?;
    Ok(crate::desk::DeskState::new(
        cfg.clone(),
        store,
        reports,
        audit,
        pepper,
        public,
        blobs,
    ))
}

async fn intake_state(cfg: Arc<Config>) -> Result<Arc<crate::intake::IntakeState>, Failure> {
    if !keyfiles::initialised(&cfg.keys_dir) {
        // Best effort: the intake may lack the rights to read the database before its keys
        // are in place; then the general sentence applies.
        let reports = match connect(&cfg, Schema::Reports).await {
            Ok(s) => {
                let n = s.count_reports().await.unwrap_or(0);
                s.close().await;
                n
            }
            Err(_) => 0,
        };
        if reports > 0 {
            return Err(keys_lost(&cfg, reports));
        }
        // Never "run keys init here": that would leave offline.sealed beside the intake.
        return Err(failure(
            78,
            format!(
                "{} holds no keys: make them with `bisik keys init` in a root-only ceremony directory, never in the intake's own keys folder, then install the intake's files there (keys/README.md, deploy/README.md)",
                cfg.keys_dir.display()
            ),
        ));
    }
    warn_public_listen(&cfg.intake_listen);
    warn_offline_material(&cfg.keys_dir);
    warn_offline_material(&cfg.offline_passphrase_dir());
    let public = PublicKeys::load(&cfg.keys_dir)?;
    let secrets = IntakeSecrets::load(&cfg.keys_dir, &public)?;
    let store = connect(&cfg, Schema::Reports).await?;
    if cfg.auto_migrate {
        store.migrate().await?;
    }
    maintenance::spawn_heartbeat(store.clone());
    let blobs = crate::blob::BlobStore::open(&cfg)
        .map_err(|e| failure(74, format!("cannot open the attachment store: {e}")))?;
    Ok(crate::intake::IntakeState::new(
        cfg, store, blobs, public, secrets,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hardening_makes_the_process_non_dumpable() {
        harden_process();
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
        assert_eq!(rlimit::getrlimit(rlimit::Resource::CORE).unwrap(), (0, 0));
    }
}
