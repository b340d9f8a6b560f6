//! The reshuffle and the heartbeat: what keeps the order of writes out of the stored data (I1,
//! issue 5 section 2). Rows are keyed by random ids, but a database still lays rows out in the
//! order they arrive (pages, cells, WAL frames, PostgreSQL ctid, xmin and `pg_dump` order), and a
//! trafficker who files beacon tips at known times could bracket every other report between them
//! once they hold a copy. The reshuffle rewrites the tables so that every physical order is the
//! order of the random keys, and the heartbeat writes at least once a minute so that file times
//! do not give the time of the last submission.
//!
//! - SQLite: `VACUUM` rebuilds the whole file by walking each b-tree in key order (the tables are
//!   `WITHOUT ROWID`, migration 0002), so page numbers and cell offsets follow the random keys;
//!   secure_delete zeroes what is freed; `wal_checkpoint(TRUNCATE)` then empties the WAL, whose
//!   frames are a log in commit order, and `journal_size_limit = 0` keeps later WAL resets from
//!   leaving old frames behind.
//! - PostgreSQL: one transaction rewrites every row of every table in [`RESHUFFLED_TABLES`], so
//!   all of them carry the same xmin, then `CLUSTER ... USING` the primary key rewrites each
//!   table in key order: ctid and `pg_dump` order follow the random keys, and dead tuples (which
//!   still hold the old order) are gone. `VACUUM FULL` and `CLUSTER` both keep each tuple's
//!   xmin, which is why the rows are first rewritten in one transaction. A session advisory
//!   lock lets only one process reshuffle at a time (DESIGN.md, Scale).

use super::{Backend, Store, StoreError};
use sqlx::Executor;

/// Every table the reshuffle rewrites, with one of its non-key columns (PostgreSQL rewrites each
/// row by setting that column to itself). A table belongs here when its rows are written in
/// response to reporters (so their order is a timeline) and it is keyed by a random id (so the
/// key order the reshuffle leaves behind tells nothing). Each needs a primary key: PostgreSQL
/// reorders the table along it. A new table that reporters' actions fill (chain heads,
/// idempotency keys, ...) must be added here, or its physical order keeps the timeline.
///
/// SQLite needs no list: `VACUUM` rebuilds every table in the file.
pub const RESHUFFLED_TABLES: &[(&str, &str)] = &[
    ("reports", "unit"),
    ("report_wraps", "wrapped"),
    ("reporter_access", "expires_day"),
    ("items", "kind"),
    ("intake_state", "value"),
    ("item_heads", "head"),
    ("report_key_statements", "statement"),
    ("blobs", "day"),
    ("desk_wraps", "sealed"),
];

/// Session advisory lock key for the reshuffle ("bisik" then 1), so several intake hosts or a
/// timer and a server never reshuffle at once.
const RESHUFFLE_LOCK: i64 = 0x6269_7369_6b00_0001;

/// The row that the heartbeat rewrites. Its value is the current day number, never a time.
pub const HEARTBEAT_STATE: &str = "heartbeat";

/// What a reshuffle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reshuffled {
    /// The tables were rewritten.
    Done,
    /// Another process holds the reshuffle lock; it is doing the same work now.
    Busy,
}

impl Store {
    /// Rewrites the stored data so that no physical order follows write order (see the module
    /// doc). Needs the rights of the tables' owner on PostgreSQL (`CLUSTER`); the intake role
    /// has none of them, so in the production split a timer runs `bisik maintenance reshuffle`
    /// as the owner (deploy/systemd/bisik-reshuffle.timer).
    pub async fn reshuffle(&self) -> Result<Reshuffled, StoreError> {
        match self.backend {
            Backend::Sqlite => self.reshuffle_sqlite().await.map(|()| Reshuffled::Done),
            Backend::Postgres => self.reshuffle_pg().await,
        }
    }

    async fn reshuffle_sqlite(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        conn.execute("PRAGMA journal_size_limit = 0").await?;
        conn.execute("VACUUM").await?;
        // TRUNCATE waits (busy handler) for readers of older snapshots; a reader that keeps its
        // snapshot past that leaves busy = 1, so try a few times before calling it a failure.
        for attempt in 0..20 {
            let (busy, _log, _done): (i64, i64, i64) =
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&mut *conn)
                    .await?;
            if busy == 0 {
                return Ok(());
            }
            tracing::debug!("reshuffle: WAL checkpoint busy (attempt {attempt})");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Err(StoreError::Corrupt(
            "reshuffle: the WAL could not be emptied because readers kept old snapshots open"
                .into(),
        ))
    }

    async fn reshuffle_pg(&self) -> Result<Reshuffled, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let (got,): (i32,) =
            sqlx::query_as("SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END")
                .bind(RESHUFFLE_LOCK)
                .fetch_one(&mut *conn)
                .await?;
        if got == 0 {
            return Ok(Reshuffled::Busy);
        }
        let result = reshuffle_pg_locked(&mut conn).await;
        // Released explicitly: the pooled connection lives on. (If it died, the lock went with it.)
        let unlock = sqlx::query("SELECT CASE WHEN pg_advisory_unlock($1) THEN 1 ELSE 0 END")
            .bind(RESHUFFLE_LOCK)
            .execute(&mut *conn)
            .await;
        result?;
        unlock?;
        Ok(Reshuffled::Done)
    }

    /// One heartbeat: rewrites the heartbeat row (the day number), and on SQLite copies the WAL
    /// into the main file (a passive checkpoint, which never waits), so the modification times
    /// of the database, its WAL and its shared-memory file say when the last heartbeat was, not
    /// when the last tip came in.
    pub async fn heartbeat(&self) -> Result<(), StoreError> {
        self.set_state(HEARTBEAT_STATE, crate::domain::today())
            .await?;
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

async fn reshuffle_pg_locked(conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    for (table, column) in RESHUFFLED_TABLES {
        // Names come from the const above, never from input.
        let sql = format!("UPDATE {table} SET {column} = {column}");
        tx.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    tx.commit().await?;
    for (table, _) in RESHUFFLED_TABLES {
        let pk: Option<(String,)> = sqlx::query_as(
            "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary",
        )
        .bind(*table)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((pk,)) = pk else {
            return Err(StoreError::Corrupt(format!(
                "reshuffle: table {table} has no primary key to order it by"
            )));
        };
        let pk = pk.replace('"', "\"\"");
        let sql = format!("CLUSTER {table} USING \"{pk}\"");
        conn.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    Ok(())
}
