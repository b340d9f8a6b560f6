//! The `bisik` command line (clap derive). Errors become exit codes in one place, [`main`]:
//! 0 success, 1 failure, 2 usage, 3 an integrity check failed (tampering), 78 bad configuration.

mod keys;
mod secrets;

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
    /// intake (127.0.0.1:8080). Intake and desk share one OS user here, so I3's separation needs
    /// the production split instead.
    Serve,
    /// The intake alone, for the production split (its own OS user, public keys only).
    Intake,
    /// Initialise data and keys directories, keys and databases, then exit.
    Init,
    /// Apply database migrations, then exit.
    Migrate,
    /// Key ceremonies and recovery.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
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
    let cfg = Arc::new(cfg);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work is Argon2 (64 MiB each, bounded by the KDF pool, whose permit lives in
        // the blocking closure) plus file I/O; a small cap keeps a burst from spawning hundreds
        // of threads. Queued blocking tasks hold no Argon2 memory until they run.
        .max_blocking_threads(cfg.kdf.pool_size + 4)
        .build()
        .map_err(|e| failure(1, format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve => {
                init(&cfg).await?;
                serve_intake(cfg).await
            }
            Command::Intake => serve_intake(cfg).await,
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
        }
    })
}

/// Logging to stderr (journald in production). The configured level applies to Bisik's own
/// code only; every library is capped at `warn`, so no HTTP or database crate can log a request
/// head, a header or a query parameter, however verbose the operator makes it (I2).
fn init_logging(level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::new(format!("warn,bisik={level}"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

async fn connect(cfg: &Config, schema: Schema) -> Result<Store, Failure> {
    let url = match schema {
        Schema::Reports => cfg.database_url(),
        Schema::Desk => cfg.desk_database_url(),
    };
    if crate::store::backend_of(&url)? == Backend::Sqlite {
        precreate_sqlite(&url)?;
    }
    Store::connect(&url, schema, 16)
        .await
        .map_err(|e| failure(1, format!("cannot open the {schema:?} database: {e}")))
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
/// both databases. Idempotent.
async fn init(cfg: &Config) -> Result<(), Failure> {
    keyfiles::ensure_private_dir(&cfg.keys_dir)?;
    if crate::store::backend_of(&cfg.database_url())? == Backend::Sqlite {
        keyfiles::ensure_private_dir(&cfg.data_dir)?;
    }
    if !keyfiles::initialised(&cfg.keys_dir) {
        keys::init_keys(cfg)?;
    }
    for schema in [Schema::Reports, Schema::Desk] {
        let s = connect(cfg, schema).await?;
        s.migrate().await?;
        s.close().await;
    }
    Ok(())
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

async fn serve_intake(cfg: Arc<Config>) -> Result<(), Failure> {
    if !keyfiles::initialised(&cfg.keys_dir) {
        return Err(failure(
            1,
            format!(
                "{} holds no keys; run `bisik keys init` (or `bisik init`) first",
                cfg.keys_dir.display()
            ),
        ));
    }
    warn_offline_material(&cfg.keys_dir);
    let public = PublicKeys::load(&cfg.keys_dir)?;
    let secrets = IntakeSecrets::load(&cfg.keys_dir, &public)?;
    let store = connect(&cfg, Schema::Reports).await?;
    if cfg.auto_migrate {
        store.migrate().await?;
    }
    let state = crate::intake::IntakeState::new(cfg, store, public, secrets);
    crate::intake::run(state)
        .await
        .map_err(|e| failure(1, e.to_string()))
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
