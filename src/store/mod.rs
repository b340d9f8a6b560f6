//! The data-access layer: the only place SQL lives. One API over SQLite (embedded default) and
//! PostgreSQL through sqlx's Any driver, with portable SQL (`$N` placeholders, no BOOLEAN or
//! date types; CRATES.md) and one migration folder per backend.
//!
//! Two stores exist: [`Store`] for reports (shared by intake and desk) and the desk store for
//! staff key material and the audit log, which lives where the intake cannot read it: its own
//! SQLite file, or the PostgreSQL schema `desk` granted to the desk role only.

mod audit;
mod blobs;
mod committer;
mod desk;
mod followup;
mod items;
mod listing;
mod reports;
mod reshuffle;
mod schema_check;
mod triage;

pub use audit::AuditRow;
pub use blobs::BlobRow;
pub use committer::Committer;
pub use desk::{AuthRow, NewStaff, StaffKeyRow, StaffRow};
pub use followup::FollowupState;
pub use items::{Appended, HeadRow, ItemRow, KeyStatementRow, Quota, SearchMaterial};
pub use listing::ListedReport;
pub use reports::{AccessRow, NewItem, NewReport, ReportRow, Wrap, WrapRow};
pub use reshuffle::{HEARTBEAT_STATE, RESHUFFLED_TABLES, Reshuffled};
pub use schema_check::MIGRATION_SCHEMA_OBJECTS;
pub use triage::{AssigneeFilter, FigureRow, InboxQuery, InboxRow, SlaFilter, Sort};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Which set of tables a pool serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Reports, wraps, reporter access, items (intake and desk).
    Reports,
    /// Staff, staff keys, login data, audit log (desk only).
    Desk,
}

/// Errors from the store. Their text names the database problem for the operator's log; it is
/// never rendered to a reporter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL's scheme is neither sqlite nor postgres. Refused rather than guessed, so a typo
    /// never silently creates an empty database.
    #[error(
        "DATABASE_URL has the unknown scheme {0:?}; use sqlite://PATH or postgres://USER@HOST/DB"
    )]
    UnknownScheme(String),
    /// A query or connection failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row held something the code cannot interpret (corruption or tampering).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Picks the backend from the URL scheme.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let scheme = url.split(':').next().unwrap_or("");
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        other => Err(StoreError::UnknownScheme(other.to_owned())),
    }
}

/// Names a database for an operator's message: the file of a SQLite URL, or host and name of a
/// PostgreSQL URL. User, password and query parameters (which may hold `password=`) are never
/// shown.
pub fn describe_url(url: &str) -> String {
    match backend_of(url) {
        Ok(Backend::Sqlite) => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            path.split('?').next().unwrap_or(path).to_owned()
        }
        Ok(Backend::Postgres) => {
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            let rest = rest.split('?').next().unwrap_or(rest);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            match rest.split_once('/') {
                Some((host, db)) if !db.is_empty() => format!("{db} on {host} (PostgreSQL)"),
                _ => format!("the default database on {rest} (PostgreSQL)"),
            }
        }
        Err(_) => "(unknown database)".to_owned(),
    }
}

/// A connection pool with its backend.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    schema: Schema,
    /// How many times this process has removed wraps ([`Store::remove_wraps`]), shared by
    /// every clone: a desk session's search summaries compare it to know that a report they
    /// hold may no longer be the reader's.
    wraps_removed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// Connects to `url`. SQLite connections get WAL, synchronous=FULL (a code is shown only
    /// after a durable commit: I7), foreign keys and secure_delete. A desk pool on PostgreSQL
    /// works inside the schema `desk`.
    pub async fn connect(
        url: &str,
        schema: Schema,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = backend_of(url)?;
        // Keep a few PostgreSQL connections open: each new one is a forked server process, and
        // forking several at the start of a burst of submissions delays exactly those people.
        let min = match backend {
            Backend::Postgres => max_connections.min(6),
            Backend::Sqlite => 0,
        };
        let opts = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(min)
            .acquire_timeout(Duration::from_secs(30));
        let opts = match (backend, schema) {
            (Backend::Sqlite, _) => opts.after_connect(|conn, _| {
                Box::pin(async move {
                    // Before WAL, so it takes effect when a new file gets its first page (an
                    // existing file keeps its size). WITHOUT ROWID tables keep at most about a
                    // quarter page of a row inline: at 4 KiB every sealed item over ~1 KB spilled
                    // into an overflow page of its own (612 MB for 100,000 reports); at 16 KiB
                    // items up to ~4 KB stay inline.
                    conn.execute("PRAGMA page_size = 16384").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA secure_delete = ON").await?;
                    // A reshuffle's VACUUM holds writers for ~10 s at 100,000 reports
                    // (docs/BENCHMARKS.md): a submission waits it out rather than failing.
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    // Issue 5: no function with side effects runs from a view or trigger
                    // (schema_check.rs), and a WAL reset never leaves old frames, which are
                    // in commit order, in the file (reshuffle.rs).
                    conn.execute("PRAGMA trusted_schema = OFF").await?;
                    conn.execute("PRAGMA journal_size_limit = 0").await?;
                    // Reads in place: sealed items are keyed by random ids, so reading a
                    // session's reports touches one 16 KiB page per item in no order, and
                    // through read() every one was copied out of the page cache (most of a
                    // search build's time, docs/BENCHMARKS.md). Writes still go through the
                    // journal as before; this changes nothing that is stored.
                    conn.execute("PRAGMA mmap_size = 1073741824").await?;
                    Ok(())
                })
            }),
            (Backend::Postgres, Schema::Desk) => opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET search_path TO desk").await?;
                    Ok(())
                })
            }),
            // A code is shown only after a durable commit (I7): never trust the server's
            // default here, since synchronous_commit=off is common tuning advice.
            (Backend::Postgres, Schema::Reports) => opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET synchronous_commit TO on").await?;
                    Ok(())
                })
            }),
        };
        let pool = opts.connect(url).await?;
        Ok(Store {
            pool,
            backend,
            schema,
            wraps_removed: Default::default(),
        })
    }

    /// Applies pending migrations for this store's schema and backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let m = match (self.backend, self.schema) {
            (Backend::Sqlite, Schema::Reports) => sqlx::migrate!("migrations/sqlite"),
            (Backend::Postgres, Schema::Reports) => sqlx::migrate!("migrations/postgres"),
            (Backend::Sqlite, Schema::Desk) => sqlx::migrate!("migrations/sqlite-desk"),
            (Backend::Postgres, Schema::Desk) => sqlx::migrate!("migrations/postgres-desk"),
        };
        if (self.backend, self.schema) == (Backend::Postgres, Schema::Desk) {
            // Only the owner role migrates, so only it needs CREATE on the database; the desk
            // role itself never creates the schema. search_path resolves per statement, so the
            // migrator's bookkeeping table then lands inside `desk`.
            self.pool
                .execute("CREATE SCHEMA IF NOT EXISTS desk")
                .await?;
        }
        m.run(&self.pool).await?;
        Ok(())
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the few callers (tests, benchmarks) that measure the database itself.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::describe_url;

    #[test]
    fn database_names_never_show_a_password() {
        assert_eq!(
            describe_url("sqlite://data/bisik.db?mode=rwc"),
            "data/bisik.db"
        );
        let d = describe_url("postgres://bisik:s3cret@db.example:5432/bisik?password=s3cret");
        assert_eq!(d, "bisik on db.example:5432 (PostgreSQL)");
        assert!(!describe_url("postgresql://u:hunter2@h").contains("hunter2"));
    }
}
