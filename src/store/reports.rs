//! Reports, their wraps, reporter access rows and sealed items.

use super::{Store, StoreError};
use crate::domain::{Direction, ItemId, ItemKind, ReportId, Status};

/// An HPKE wrap to store: (recipient fingerprint hex, purpose code, wrap).
pub type Wrap = (String, i16, Vec<u8>);

/// Everything written when a tip is accepted, in one transaction.
pub struct NewReport {
    /// Report id.
    pub id: ReportId,
    /// Unit.
    pub unit: String,
    /// Category id.
    pub category: String,
    /// Received day number.
    pub received_day: i64,
    /// Signed header bytes.
    pub header: Vec<u8>,
    /// Header signature.
    pub header_sig: Vec<u8>,
    /// HPKE wraps.
    pub wraps: Vec<Wrap>,
    /// Reporter access: lookup tag.
    pub tag: [u8; 32],
    /// Reporter access: code KDF version.
    pub kdf_version: i16,
    /// Reporter access: K_r under the code KEK.
    pub wrapped_key: Vec<u8>,
    /// Reporter access: last day the code works.
    pub expires_day: i64,
    /// The sealed tip (sequence number 0, `prev` = the chain's genesis).
    pub tip: NewItem,
    /// The first chain head (count 1, the tip's hash), signed by the intake: (bytes, signature).
    pub head: (Vec<u8>, Vec<u8>),
}

/// A sealed item to insert.
pub struct NewItem {
    /// Item id.
    pub id: ItemId,
    /// Kind.
    pub kind: ItemKind,
    /// Direction.
    pub direction: Direction,
    /// Sealed bytes.
    pub sealed: Vec<u8>,
    /// Hash of the previous item, as bound into the AAD.
    pub prev: [u8; 32],
    /// Day written (counts the daily message quota).
    pub day: i64,
    /// Keyed hash of a reporter message's idempotency key, if the client sent one.
    pub idem: Option<[u8; 32]>,
}

/// A reporter access row found by tag.
#[derive(Debug)]
pub struct AccessRow {
    /// The report it opens.
    pub report_id: ReportId,
    /// KDF version of the code.
    pub kdf_version: i16,
    /// K_r under the KEK.
    pub wrapped_key: Vec<u8>,
    /// Revoked by staff or retention.
    pub revoked: bool,
    /// Last valid day.
    pub expires_day: i64,
}

/// The plaintext routing columns of a report plus its signed header.
#[derive(Debug, Clone)]
pub struct ReportRow {
    /// Id.
    pub id: ReportId,
    /// Unit.
    pub unit: String,
    /// Category.
    pub category: String,
    /// Internal status.
    pub status: Status,
    /// Priority.
    pub priority: i16,
    /// Received day number.
    pub received_day: i64,
    /// Closed day number.
    pub closed_day: Option<i64>,
    /// Header bytes.
    pub header: Vec<u8>,
    /// Header signature.
    pub header_sig: Vec<u8>,
}

/// A stored wrap.
#[derive(Debug, Clone)]
pub struct WrapRow {
    /// Recipient fingerprint (hex).
    pub recipient_fp: String,
    /// Purpose code.
    pub purpose: i16,
    /// The wrap.
    pub wrapped: Vec<u8>,
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

impl Store {
    /// Stores whole new reports in one transaction (all or none). Returns only after the commit
    /// is durable (SQLite synchronous=FULL; PostgreSQL synchronous_commit=on), so the caller may
    /// then show the codes (I7). One report per call is the simple case; the [`Committer`]
    /// passes several at once (group commit).
    pub async fn insert_reports(&self, reports: &[&NewReport]) -> Result<(), StoreError> {
        if reports.is_empty() {
            return Ok(());
        }
        if self.backend == super::Backend::Postgres {
            return insert_batch_pg(&self.pool, reports).await;
        }
        let mut tx = self.pool.begin().await?;
        insert_batch(&mut tx, reports).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores one new report; see [`Store::insert_reports`].
    pub async fn insert_report(&self, r: &NewReport) -> Result<(), StoreError> {
        self.insert_reports(&[r]).await
    }

    /// Finds the reporter access row for a lookup tag.
    pub async fn access_by_tag(&self, tag: &[u8; 32]) -> Result<Option<AccessRow>, StoreError> {
        let row: Option<(String, i16, Vec<u8>, i16, i64)> = sqlx::query_as(
            "SELECT report_id, kdf_version, wrapped_key, revoked, expires_day FROM reporter_access WHERE tag = $1",
        )
        .bind(tag.to_vec())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, kdf_version, wrapped_key, revoked, expires_day)| {
            Ok(AccessRow {
                report_id: ReportId::parse(&id)
                    .ok_or_else(|| corrupt("reporter_access.report_id"))?,
                kdf_version,
                wrapped_key,
                revoked: revoked != 0,
                expires_day,
            })
        })
        .transpose()
    }

    /// Revokes a report's reporter access for good ("Hapus akses"): the row stays, so the code
    /// gets the same answer as an unknown one (I11) and the tag is never issued again.
    pub async fn revoke_access(&self, id: ReportId) -> Result<(), StoreError> {
        sqlx::query("UPDATE reporter_access SET revoked = 1 WHERE report_id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A report's routing columns and header.
    pub async fn report(&self, id: ReportId) -> Result<Option<ReportRow>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            i16,
            i64,
            Option<i64>,
            Vec<u8>,
            Vec<u8>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, unit, category, status, priority, received_day, closed_day, header, header_sig \
             FROM reports WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(
            |(
                rid,
                unit,
                category,
                status,
                priority,
                received_day,
                closed_day,
                header,
                header_sig,
            )| {
                Ok(ReportRow {
                    id: ReportId::parse(&rid).ok_or_else(|| corrupt("reports.id"))?,
                    unit,
                    category,
                    status: Status::parse(&status).ok_or_else(|| corrupt("reports.status"))?,
                    priority,
                    received_day,
                    closed_day,
                    header,
                    header_sig,
                })
            },
        )
        .transpose()
    }

    /// All wraps of a report.
    pub async fn wraps(&self, id: ReportId) -> Result<Vec<WrapRow>, StoreError> {
        let rows: Vec<(String, i16, Vec<u8>)> = sqlx::query_as(
            "SELECT recipient_fp, purpose, wrapped FROM report_wraps WHERE report_id = $1 ORDER BY recipient_fp, purpose",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(recipient_fp, purpose, wrapped)| WrapRow {
                recipient_fp,
                purpose,
                wrapped,
            })
            .collect())
    }

    /// Sets a report's status (desk; tests use it to stand in for the desk until it exists).
    pub async fn set_status(
        &self,
        id: ReportId,
        status: Status,
        day: i64,
    ) -> Result<(), StoreError> {
        let closed = (status == Status::Closed).then_some(day);
        sqlx::query("UPDATE reports SET status = $1, closed_day = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(closed)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Number of reports stored.
    pub async fn count_reports(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM reports")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Reads a durable intake fact.
    pub async fn state(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let v: Option<(i64,)> = sqlx::query_as("SELECT value FROM intake_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.map(|(v,)| v))
    }

    /// Records a durable intake fact.
    pub async fn set_state(&self, name: &str, value: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO intake_state (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// `($o+1, .., $o+cols), ..` for a multi-row INSERT whose placeholders start after `o`. Only
/// placeholders are generated; every value is bound.
fn rows_sql(offset: usize, rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let ps: Vec<String> = (1..=cols)
                .map(|c| format!("${}", offset + r * cols + c))
                .collect();
            format!("({})", ps.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

type Q<'a> = sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments>;

const REPORTS_INSERT: &str = "INSERT INTO reports (id, unit, category, status, priority, received_day, header, header_sig) VALUES ";
const WRAPS_INSERT: &str =
    "INSERT INTO report_wraps (report_id, recipient_fp, purpose, wrapped) VALUES ";
const ACCESS_INSERT: &str = "INSERT INTO reporter_access (tag, report_id, kdf_version, wrapped_key, revoked, expires_day) VALUES ";
const ITEMS_INSERT: &str =
    "INSERT INTO items (id, report_id, seq, kind, direction, sealed, prev, day) VALUES ";
const HEADS_INSERT: &str = "INSERT INTO item_heads (report_id, item_count, head, sig) VALUES ";

fn bind_reports<'a>(mut q: Q<'a>, reports: &[&NewReport]) -> Q<'a> {
    for r in reports {
        q = q
            .bind(r.id.to_string())
            .bind(r.unit.clone())
            .bind(r.category.clone())
            .bind(Status::New.as_str())
            .bind(0i16)
            .bind(r.received_day)
            .bind(r.header.clone())
            .bind(r.header_sig.clone());
    }
    q
}

fn wraps_of<'r>(reports: &[&'r NewReport]) -> Vec<(&'r NewReport, &'r Wrap)> {
    reports
        .iter()
        .flat_map(|r| r.wraps.iter().map(move |w| (*r, w)))
        .collect()
}

fn bind_wraps<'a>(mut q: Q<'a>, reports: &[&NewReport]) -> Q<'a> {
    for (r, (fp, purpose, wrapped)) in wraps_of(reports) {
        q = q
            .bind(r.id.to_string())
            .bind(fp.clone())
            .bind(*purpose)
            .bind(wrapped.clone());
    }
    q
}

fn bind_access<'a>(mut q: Q<'a>, reports: &[&NewReport]) -> Q<'a> {
    for r in reports {
        q = q
            .bind(r.tag.to_vec())
            .bind(r.id.to_string())
            .bind(r.kdf_version)
            .bind(r.wrapped_key.clone())
            .bind(0i16)
            .bind(r.expires_day);
    }
    q
}

fn bind_items<'a>(mut q: Q<'a>, reports: &[&NewReport]) -> Q<'a> {
    for r in reports {
        q = q
            .bind(r.tip.id.to_string())
            .bind(r.id.to_string())
            .bind(0i64)
            .bind(r.tip.kind as i16)
            .bind(r.tip.direction as i16)
            .bind(r.tip.sealed.clone())
            .bind(r.tip.prev.to_vec())
            .bind(r.tip.day);
    }
    q
}

fn bind_heads<'a>(mut q: Q<'a>, reports: &[&NewReport]) -> Q<'a> {
    for r in reports {
        q = q
            .bind(r.id.to_string())
            .bind(1i64)
            .bind(r.head.0.clone())
            .bind(r.head.1.clone());
    }
    q
}

/// SQLite: one multi-row INSERT per table inside the caller's transaction, so a batch of any
/// size costs five statements.
async fn insert_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    reports: &[&NewReport],
) -> Result<(), StoreError> {
    let n = reports.len();
    let w = wraps_of(reports).len();
    let sql = format!("{REPORTS_INSERT}{}", rows_sql(0, n, 8));
    bind_reports(sqlx::query(sqlx::AssertSqlSafe(sql)), reports)
        .execute(&mut **tx)
        .await?;
    if w > 0 {
        let sql = format!("{WRAPS_INSERT}{}", rows_sql(0, w, 4));
        bind_wraps(sqlx::query(sqlx::AssertSqlSafe(sql)), reports)
            .execute(&mut **tx)
            .await?;
    }
    let sql = format!("{ACCESS_INSERT}{}", rows_sql(0, n, 6));
    bind_access(sqlx::query(sqlx::AssertSqlSafe(sql)), reports)
        .execute(&mut **tx)
        .await?;
    let sql = format!("{ITEMS_INSERT}{}", rows_sql(0, n, 8));
    bind_items(sqlx::query(sqlx::AssertSqlSafe(sql)), reports)
        .execute(&mut **tx)
        .await?;
    let sql = format!("{HEADS_INSERT}{}", rows_sql(0, n, 4));
    bind_heads(sqlx::query(sqlx::AssertSqlSafe(sql)), reports)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// PostgreSQL: the whole batch as one statement of data-modifying CTEs. A single statement is
/// atomic on its own and its foreign keys are checked at its end, so the batch costs one round
/// trip and one durable commit instead of six round trips.
async fn insert_batch_pg(pool: &sqlx::AnyPool, reports: &[&NewReport]) -> Result<(), StoreError> {
    let n = reports.len();
    let w = wraps_of(reports).len();
    let mut at = 0;
    let mut part = |head: &str, rows: usize, cols: usize| {
        let s = format!("{head}{}", rows_sql(at, rows, cols));
        at += rows * cols;
        s
    };
    let reports_sql = part(REPORTS_INSERT, n, 8);
    let wraps_sql = (w > 0).then(|| part(WRAPS_INSERT, w, 4));
    let access_sql = part(ACCESS_INSERT, n, 6);
    let items_sql = part(ITEMS_INSERT, n, 8);
    let heads_sql = part(HEADS_INSERT, n, 4);
    let mut sql = format!("WITH r AS ({reports_sql})");
    if let Some(ws) = &wraps_sql {
        sql.push_str(&format!(", w AS ({ws})"));
    }
    sql.push_str(&format!(
        ", a AS ({access_sql}), i AS ({items_sql}) {heads_sql}"
    ));
    let mut q = bind_reports(sqlx::query(sqlx::AssertSqlSafe(sql)), reports);
    if wraps_sql.is_some() {
        q = bind_wraps(q, reports);
    }
    q = bind_heads(bind_items(bind_access(q, reports), reports), reports);
    q.execute(pool).await?;
    Ok(())
}
