//! A report's sealed items and the signed heads of their hash chain (src/crypto/chain.rs).
//!
//! Appending never touches `reports`: the next sequence number comes from the latest signed
//! head, and two appenders racing for the same number are told apart by the uniqueness of
//! `items (report_id, seq)` and `item_heads (report_id, item_count)`: the loser gets
//! [`Appended::Conflict`] and starts again from the new head, so the chain never forks.
//! Heads are insert-only rows (the intake's PostgreSQL role has no UPDATE or DELETE on them).

use super::reports::{NewItem, corrupt};
use super::{Store, StoreError};
use crate::domain::{Direction, ItemId, ItemKind, ReportId};

/// A stored sealed item.
#[derive(Debug, Clone)]
pub struct ItemRow {
    /// Item id.
    pub id: ItemId,
    /// Sequence number.
    pub seq: i64,
    /// Kind.
    pub kind: ItemKind,
    /// Direction.
    pub direction: Direction,
    /// Sealed bytes.
    pub sealed: Vec<u8>,
    /// Hash of the previous item, as bound into the AAD.
    pub prev: [u8; 32],
    /// Day written.
    pub day: Option<i64>,
}

/// A stored chain head.
#[derive(Debug, Clone)]
pub struct HeadRow {
    /// The item count the row is keyed by (the head's own bytes say it again, signed).
    pub count: i64,
    /// Canonical head bytes.
    pub head: Vec<u8>,
    /// Signature.
    pub sig: Vec<u8>,
}

/// A stored statement vouching for a report key.
#[derive(Debug, Clone)]
pub struct KeyStatementRow {
    /// Purpose code of the key.
    pub purpose: i16,
    /// Canonical statement bytes.
    pub statement: Vec<u8>,
    /// Signature.
    pub sig: Vec<u8>,
}

/// A per-report daily limit on one kind of item, checked inside the appending transaction.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// The day counted.
    pub day: i64,
    /// Items of the item's kind and direction allowed on that day.
    pub max: i64,
}

/// What [`Store::append_item`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored.
    Stored,
    /// An item with the same idempotency key was already stored, on this day: nothing new.
    Duplicate(i64),
    /// The quota for the day is used up; nothing stored.
    QuotaExceeded,
    /// Another appender took this sequence number first; read the new head and try again.
    Conflict,
}

type RawItem = (String, i64, i16, i16, Vec<u8>, Option<Vec<u8>>, Option<i64>);

fn item_row(r: RawItem) -> Result<ItemRow, StoreError> {
    let (id, seq, kind, direction, sealed, prev, day) = r;
    Ok(ItemRow {
        id: ItemId::parse(&id).ok_or_else(|| corrupt("items.id"))?,
        seq,
        kind: ItemKind::from_code(kind).ok_or_else(|| corrupt("items.kind"))?,
        direction: Direction::from_code(direction).ok_or_else(|| corrupt("items.direction"))?,
        sealed,
        prev: prev
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| corrupt("items.prev"))?,
        day,
    })
}

const ITEM_COLUMNS: &str = "id, seq, kind, direction, sealed, prev, day";

/// Whether an error means another writer got there first: a unique violation (PostgreSQL, or
/// SQLite inside one snapshot), or SQLite refusing to upgrade a stale read snapshot to a write
/// (SQLITE_BUSY and its extended codes, SQLITE_LOCKED).
pub(super) fn is_conflict(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    d.is_unique_violation() || matches!(d.code().as_deref(), Some("5" | "6" | "261" | "517"))
}

/// What the desk's search needs to open one report's tip and messages without a query per
/// report: the signed header, the reader's wrap of K_r and the reporter-visible items.
#[derive(Debug, Clone)]
pub struct SearchMaterial {
    /// Report.
    pub id: ReportId,
    /// Signed header.
    pub header: Vec<u8>,
    /// Its signature.
    pub header_sig: Vec<u8>,
    /// The reader's HPKE wrap of K_r.
    pub wrapped: Vec<u8>,
    /// The desk's own wrap of K_r for the reader, if it made one (`crate::desk::rewrap`).
    pub desk_wrap: Option<Vec<u8>>,
    /// The report's received day (the plaintext column the inbox sorts by).
    pub received_day: i64,
    /// The tip (sequence 0) and the messages, in chain order.
    pub items: Vec<ItemRow>,
}

impl Store {
    /// Every item of a report, in chain order (recovery, later the desk).
    pub async fn items(&self, id: ReportId) -> Result<Vec<ItemRow>, StoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE report_id = $1 ORDER BY seq");
        let rows: Vec<RawItem> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(item_row).collect()
    }

    /// Ids of every report whose K_r is wrapped to `recipient_fp`, in id order.
    pub async fn wrapped_report_ids(
        &self,
        recipient_fp: &str,
    ) -> Result<Vec<ReportId>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT report_id FROM report_wraps WHERE recipient_fp = $1 AND purpose = 1 ORDER BY report_id",
        )
        .bind(recipient_fp)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id,)| ReportId::parse(&id).ok_or_else(|| corrupt("report_wraps.report_id")))
            .collect()
    }

    /// The reports wrapped to `recipient_fp`, in the inbox's default order (newest day first,
    /// then id descending): the order a session's search summaries are built in, so that a
    /// first page sorted by day is exact before the whole build is done.
    pub async fn wrapped_newest_first(
        &self,
        recipient_fp: &str,
    ) -> Result<Vec<ReportId>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT r.id FROM reports r JOIN report_wraps w ON w.report_id = r.id \
             WHERE w.recipient_fp = $1 AND w.purpose = 1 ORDER BY r.received_day DESC, r.id DESC",
        )
        .bind(recipient_fp)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id,)| ReportId::parse(&id).ok_or_else(|| corrupt("reports.id")))
            .collect()
    }

    /// The report and day of every message (either direction) of day `day` or later on a report
    /// wrapped to `recipient_fp`, one entry per message, in no meaningful order: a session's search summaries compare how many there
    /// are with the number at their last listing, and open again the reports whose conversation
    /// grew since (`crate::desk::search`). Messages carry only their day, so this reads the
    /// `items_by_kind_day` index, never the sealed items.
    pub async fn messaged_since(
        &self,
        recipient_fp: &str,
        day: i64,
    ) -> Result<Vec<(ReportId, i64)>, StoreError> {
        // Both directions named, so the index on (kind, direction, day) is read as two ranges
        // of days, not every message ever written; only the reader's reports count.
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT i.report_id, i.day FROM items i \
             JOIN report_wraps w ON w.report_id = i.report_id AND w.recipient_fp = $1 AND w.purpose = 1 \
             WHERE i.kind = $2 AND i.direction IN ($3, $4) AND i.day >= $5",
        )
        .bind(recipient_fp)
        .bind(ItemKind::Message as i16)
        .bind(Direction::ReporterToStaff as i16)
        .bind(Direction::StaffToReporter as i16)
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, day)| {
                ReportId::parse(&id)
                    .map(|id| (id, day))
                    .ok_or_else(|| corrupt("items.report_id"))
            })
            .collect()
    }

    /// [`SearchMaterial`] for `ids` (at most a few hundred at a time: each is a bound
    /// parameter), for the reader whose X25519 fingerprint is `recipient_fp`. Reports without
    /// such a wrap are left out.
    ///
    /// With `tip_only`, the items are the first one alone (the inbox's previews).
    pub async fn search_material(
        &self,
        recipient_fp: &str,
        ids: &[ReportId],
        tip_only: bool,
    ) -> Result<Vec<SearchMaterial>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One query for the heads and the items together: a session's first search reads every
        // report it holds, and on SQLite each row crosses from the connection's thread, so one
        // row per item (the header repeated on a report's later messages) costs about half of
        // a row per report plus a row per item (docs/BENCHMARKS.md).
        let list: Vec<String> = (0..ids.len()).map(|n| format!("${}", n + 4)).collect();
        let sql = format!(
            "SELECT r.id, r.header, r.header_sig, w.wrapped, d.sealed, r.received_day, \
               i.id, i.seq, i.kind, i.direction, i.sealed, i.prev, i.day FROM reports r \
             JOIN report_wraps w ON w.report_id = r.id AND w.recipient_fp = $1 AND w.purpose = 1 \
             LEFT JOIN desk_wraps d ON d.report_id = w.report_id \
               AND d.recipient_fp = w.recipient_fp AND d.purpose = w.purpose \
             LEFT JOIN items i ON i.report_id = r.id AND (i.seq = 0 OR i.kind = $2) \
               AND i.direction <> $3{} \
             WHERE r.id IN ({}) ORDER BY r.id, i.seq",
            if tip_only { " AND i.seq = 0" } else { "" },
            list.join(", "),
        );
        type Row = (
            String,
            Vec<u8>,
            Vec<u8>,
            Vec<u8>,
            Option<Vec<u8>>,
            i64,
            Option<String>,
            Option<i64>,
            Option<i16>,
            Option<i16>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<i64>,
        );
        let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
            .bind(recipient_fp)
            .bind(ItemKind::Message as i16)
            .bind(Direction::StaffOnly as i16);
        for id in ids {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out: Vec<SearchMaterial> = Vec::with_capacity(ids.len());
        let mut last: Option<String> = None;
        for (
            rid,
            header,
            header_sig,
            wrapped,
            desk_wrap,
            received_day,
            iid,
            seq,
            kind,
            dir,
            sealed,
            prev,
            day,
        ) in rows
        {
            if last.as_deref() != Some(rid.as_str()) {
                out.push(SearchMaterial {
                    id: ReportId::parse(&rid).ok_or_else(|| corrupt("reports.id"))?,
                    header,
                    header_sig,
                    wrapped,
                    desk_wrap,
                    received_day,
                    items: Vec::new(),
                });
                last = Some(rid);
            }
            // A report with no item left (a deleted tip) comes as one row of NULLs: the desk
            // finds the tip missing and says so.
            if let (Some(iid), Some(seq), Some(kind), Some(dir), Some(sealed)) =
                (iid, seq, kind, dir, sealed)
            {
                let row = item_row((iid, seq, kind, dir, sealed, prev, day))?;
                if let Some(m) = out.last_mut() {
                    m.items.push(row);
                }
            }
        }
        Ok(out)
    }

    /// Stores desk wraps of K_r (`crate::desk::rewrap`) for the reader `recipient_fp`, one
    /// transaction, replacing any that did not open. A report whose HPKE wrap to the reader is
    /// gone by now (unshared meanwhile) gets none: each row is written only while its wrap is
    /// there, and the foreign key removes it with that wrap later.
    pub async fn record_desk_wraps(
        &self,
        recipient_fp: &str,
        wraps: &[(ReportId, Vec<u8>)],
    ) -> Result<(), StoreError> {
        if wraps.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (id, sealed) in wraps {
            sqlx::query(
                "INSERT INTO desk_wraps (report_id, recipient_fp, purpose, sealed) \
                 SELECT w.report_id, w.recipient_fp, w.purpose, $3 FROM report_wraps w \
                 WHERE w.report_id = $1 AND w.recipient_fp = $2 AND w.purpose = 1 \
                 ON CONFLICT (report_id, recipient_fp, purpose) DO UPDATE SET sealed = excluded.sealed",
            )
            .bind(id.to_string())
            .bind(recipient_fp)
            .bind(sealed.as_slice())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A report's first item (the tip, when the chain is intact), without the rest: what the
    /// desk's inbox preview needs, at a cost that does not grow with the conversation.
    pub async fn first_item(&self, id: ReportId) -> Result<Option<ItemRow>, StoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE report_id = $1 AND seq = 0");
        let row: Option<RawItem> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(item_row).transpose()
    }

    /// One page of what a reporter may see: messages from and to the reporter, newest first,
    /// never a staff-only item (the SQL selects nothing else). Returns the page and how many
    /// such messages the report has in all.
    pub async fn reporter_messages(
        &self,
        id: ReportId,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ItemRow>, i64), StoreError> {
        const VISIBLE: &str = "report_id = $1 AND kind = $2 AND direction IN ($3, $4)";
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE {VISIBLE} ORDER BY seq DESC LIMIT $5 OFFSET $6"
        );
        let rows: Vec<RawItem> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(ItemKind::Message as i16)
            .bind(Direction::ReporterToStaff as i16)
            .bind(Direction::StaffToReporter as i16)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM items WHERE {VISIBLE}"
        )))
        .bind(id.to_string())
        .bind(ItemKind::Message as i16)
        .bind(Direction::ReporterToStaff as i16)
        .bind(Direction::StaffToReporter as i16)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            rows.into_iter().map(item_row).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// The head with the highest count: the one that says where the chain ends.
    pub async fn latest_head(&self, id: ReportId) -> Result<Option<HeadRow>, StoreError> {
        let row: Option<(i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT item_count, head, sig FROM item_heads WHERE report_id = $1 \
             ORDER BY item_count DESC LIMIT 1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(count, head, sig)| HeadRow { count, head, sig }))
    }

    /// Statements vouching for a report's keys.
    pub async fn key_statements(&self, id: ReportId) -> Result<Vec<KeyStatementRow>, StoreError> {
        let rows: Vec<(i16, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT purpose, statement, sig FROM report_key_statements WHERE report_id = $1 \
             ORDER BY purpose",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(purpose, statement, sig)| KeyStatementRow {
                purpose,
                statement,
                sig,
            })
            .collect())
    }

    /// Appends `item` as number `seq` together with the head that now ends the chain, in one
    /// transaction. With an idempotency key, an item already stored under it wins; with a
    /// quota, the day's items of this kind and direction are counted first. Nothing in
    /// `reports` changes.
    pub async fn append_item(
        &self,
        id: ReportId,
        seq: i64,
        item: &NewItem,
        head: (&[u8], &[u8]),
        quota: Option<Quota>,
    ) -> Result<Appended, StoreError> {
        match self.try_append(id, seq, item, head, quota).await {
            Err(StoreError::Db(e)) if is_conflict(&e) => Ok(Appended::Conflict),
            other => other,
        }
    }

    async fn try_append(
        &self,
        id: ReportId,
        seq: i64,
        item: &NewItem,
        (head, sig): (&[u8], &[u8]),
        quota: Option<Quota>,
    ) -> Result<Appended, StoreError> {
        let rid = id.to_string();
        let mut tx = self.pool.begin().await?;
        if let Some(idem) = &item.idem {
            let seen: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT day FROM items WHERE report_id = $1 AND idem = $2")
                    .bind(&rid)
                    .bind(idem.to_vec())
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((day,)) = seen {
                return Ok(Appended::Duplicate(day.unwrap_or(item.day)));
            }
        }
        if let Some(q) = quota {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM items WHERE report_id = $1 AND kind = $2 AND direction = $3 AND day = $4",
            )
            .bind(&rid)
            .bind(item.kind as i16)
            .bind(item.direction as i16)
            .bind(q.day)
            .fetch_one(&mut *tx)
            .await?;
            if n >= q.max {
                return Ok(Appended::QuotaExceeded);
            }
        }
        sqlx::query(
            "INSERT INTO items (id, report_id, seq, kind, direction, sealed, prev, day, idem) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(item.id.to_string())
        .bind(&rid)
        .bind(seq)
        .bind(item.kind as i16)
        .bind(item.direction as i16)
        .bind(&item.sealed)
        .bind(item.prev.to_vec())
        .bind(item.day)
        .bind(item.idem.map(|k| k.to_vec()))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO item_heads (report_id, item_count, head, sig) VALUES ($1, $2, $3, $4)",
        )
        .bind(&rid)
        .bind(seq + 1)
        .bind(head)
        .bind(sig)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Appended::Stored)
    }
}
