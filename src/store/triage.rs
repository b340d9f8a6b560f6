//! The desk's triage columns and its inbox query (issue 7): status with the reason for a
//! closure, priority, a duplicate's original, and the filters, sorts and SLA flags of the
//! inbox. Only plaintext routing columns are filtered here; area and every text are sealed, so
//! those filters run in the reader's session (`crate::desk::search`), never in SQL.
//!
//! Every value a caller supplies is bound; the SQL text is assembled only from fixed fragments
//! chosen by enum, with placeholders numbered in the order they appear.

use super::{Backend, Store, StoreError};
use crate::domain::{CloseReason, Direction, ItemKind, Priority, ReportId, Status};

/// A row of the desk's inbox: the plaintext routing columns only (nothing sealed).
#[derive(Debug, Clone)]
pub struct InboxRow {
    /// Report.
    pub id: ReportId,
    /// Received day.
    pub received_day: i64,
    /// Category id.
    pub category: String,
    /// Status.
    pub status: Status,
    /// Why it was closed.
    pub closed_reason: Option<CloseReason>,
    /// The report this one repeats.
    pub duplicate_of: Option<ReportId>,
    /// Priority.
    pub priority: Priority,
    /// Assignee staff id, if any (not authenticated; for display only).
    pub assignee: Option<String>,
    /// Day of the oldest reporter message no staff message has answered yet: the "new message"
    /// marker and the answer SLA's clock. `None` when staff wrote last or nobody wrote.
    pub waiting_since: Option<i64>,
}

/// Whose reports an inbox shows, by assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter<'a> {
    /// Assigned to this staff id.
    Staff(&'a str),
    /// Assigned to nobody.
    Nobody,
}

/// The SLA flags (the days are cut-offs from [`crate::domain::calendar::Calendar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFilter {
    /// Still `new`, received on or before this day.
    TriageOverdue(i64),
    /// Not closed, with a reporter message unanswered since this day or earlier.
    AnswerOverdue(i64),
    /// Either of the two.
    Either {
        /// Triage cut-off.
        triage: i64,
        /// Answer cut-off.
        answer: i64,
    },
    /// Neither of the two.
    Neither {
        /// Triage cut-off.
        triage: i64,
        /// Answer cut-off.
        answer: i64,
    },
}

/// The declared fields an inbox sorts by (never physical order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Received day.
    #[default]
    Day,
    /// Priority, urgent first when descending.
    Priority,
    /// Status in workflow order (new first when ascending).
    Status,
}

/// One inbox query.
#[derive(Debug, Clone)]
pub struct InboxQuery<'a> {
    /// The reader's X25519 fingerprint (hex): only reports whose K_r is wrapped to it.
    pub recipient_fp: &'a str,
    /// Status filter.
    pub status: Option<Status>,
    /// Priority filter.
    pub priority: Option<Priority>,
    /// Category filter.
    pub category: Option<&'a str>,
    /// Assignee filter.
    pub assignee: Option<AssigneeFilter<'a>>,
    /// SLA filter.
    pub sla: Option<SlaFilter>,
    /// Only these reports (the result of a sealed-field filter in the session), when set.
    pub only: Option<&'a [ReportId]>,
    /// Sort field.
    pub sort: Sort,
    /// Descending.
    pub descending: bool,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

impl<'a> InboxQuery<'a> {
    /// Everything wrapped to `recipient_fp`, newest first.
    pub fn all(recipient_fp: &'a str, limit: i64, offset: i64) -> Self {
        InboxQuery {
            recipient_fp,
            status: None,
            priority: None,
            category: None,
            assignee: None,
            sla: None,
            only: None,
            sort: Sort::Day,
            descending: true,
            limit,
            offset,
        }
    }
}

enum Arg {
    Text(String),
    Int(i64),
}

/// SQL with numbered placeholders and the values they stand for.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    fn bind(&mut self, a: Arg) -> &mut Self {
        self.args.push(a);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }
    fn query_as<O>(&self) -> sqlx::query::QueryAs<'_, sqlx::Any, O, sqlx::any::AnyArguments>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(self.text.clone()));
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
    /// `prefix` followed by `rest`, whose placeholders (numbered from 1) keep their numbers:
    /// `prefix` must bind nothing.
    fn after(prefix: &str, rest: Sql) -> Sql {
        Sql {
            text: format!("{prefix}{}", rest.text),
            args: rest.args,
        }
    }
}

/// `FROM items i WHERE ...`: the reporter messages of report `{r}.id` that no later staff
/// message answers.
fn unanswered(r: &str) -> String {
    let (msg, from, to) = (
        ItemKind::Message as i16,
        Direction::ReporterToStaff as i16,
        Direction::StaffToReporter as i16,
    );
    format!(
        "FROM items i WHERE i.report_id = {r}.id AND i.kind = {msg} \
         AND i.direction = {from} AND NOT EXISTS (SELECT 1 FROM items j \
         WHERE j.report_id = {r}.id AND j.kind = {msg} AND j.direction = {to} AND j.seq > i.seq)"
    )
}

/// The oldest reporter message of report `{r}.id` that no later staff message answers.
fn waiting_since(r: &str) -> String {
    format!("(SELECT MIN(i.day) {})", unanswered(r))
}

/// Report `{r}.id` has a reporter message, written on or before the bound day, that no later
/// staff message answers: the oldest unanswered message is then at least that old, so this is
/// `waiting_since <= day` without computing the minimum. The day is bound right after.
fn unanswered_since(r: &str) -> String {
    format!("EXISTS (SELECT 1 {} AND i.day <= ", unanswered(r))
}

fn triage_overdue(sql: &mut Sql, cut: i64) {
    sql.push("(r.status = 'new' AND r.received_day <= ")
        .bind(Arg::Int(cut))
        .push(")");
}

fn answer_overdue(sql: &mut Sql, cut: i64) {
    sql.push(&format!(
        "(r.status <> 'closed' AND {}",
        unanswered_since("r")
    ))
    .bind(Arg::Int(cut))
    .push("))");
}

/// Whether report `r.id` is wrapped to the reader's key (bound as `$1`).
const WRAPPED: &str = "EXISTS (SELECT 1 FROM report_wraps rw WHERE rw.report_id = r.id \
                       AND rw.recipient_fp = $1 AND rw.purpose = 1)";

/// A list of report ids bound as one parameter (any length, one placeholder): a JSON array
/// read by `json_each` on SQLite, a comma-separated list split by `string_to_array` on
/// PostgreSQL (a hyphenated UUID holds no comma or quote).
fn in_list(sql: &mut Sql, backend: Backend, ids: &[ReportId]) {
    let joined: Vec<String> = ids.iter().map(ReportId::to_string).collect();
    match backend {
        Backend::Sqlite => {
            sql.push("r.id IN (SELECT value FROM json_each(")
                .bind(Arg::Text(
                    serde_json::to_string(&joined).unwrap_or_else(|_| "[]".into()),
                ))
                .push("))");
        }
        Backend::Postgres => {
            sql.push("r.id = ANY(string_to_array(")
                .bind(Arg::Text(joined.join(",")))
                .push(", ','))");
        }
    }
}

/// `FROM ... WHERE ...` of an inbox query. With `walk`, only the first `walk` reports of the
/// whole table in day order are considered, each probed for the reader's wrap (see
/// [`Store::inbox`]); with a list of ids (`only`), each id is looked up by key and probed;
/// otherwise the reader's wraps are joined to their reports, which the database can start from
/// the wrap index when the reader holds few.
fn from_where(q: &InboxQuery<'_>, backend: Backend, walk: Option<i64>) -> Sql {
    let mut sql = Sql::default();
    // `$1`, the reader's fingerprint, is always the first placeholder.
    sql.args.push(Arg::Text(q.recipient_fp.to_owned()));
    match walk {
        // A list of ids is looked up by key, each probed for the reader's wrap.
        None if q.only.is_some() => {
            sql.push(&format!(" FROM reports r WHERE {WRAPPED}"));
        }
        Some(n) => {
            let dir = if q.descending { "DESC" } else { "ASC" };
            sql.push(&format!(
                " FROM reports r WHERE {WRAPPED} AND r.id IN (SELECT x.id FROM reports x \
                 ORDER BY x.received_day {dir}, x.id {dir} LIMIT "
            ))
            .bind(Arg::Int(n))
            .push(")");
        }
        None => {
            sql.push(
                " FROM reports r JOIN report_wraps w ON w.report_id = r.id \
                 WHERE w.recipient_fp = $1 AND w.purpose = 1",
            );
        }
    }
    if let Some(s) = q.status {
        sql.push(" AND r.status = ")
            .bind(Arg::Text(s.as_str().into()));
    }
    if let Some(p) = q.priority {
        sql.push(" AND r.priority = ")
            .bind(Arg::Int(p.code().into()));
    }
    if let Some(c) = q.category {
        sql.push(" AND r.category = ").bind(Arg::Text(c.to_owned()));
    }
    match q.assignee {
        Some(AssigneeFilter::Staff(s)) => {
            sql.push(" AND r.assignee = ").bind(Arg::Text(s.to_owned()));
        }
        Some(AssigneeFilter::Nobody) => {
            sql.push(" AND r.assignee IS NULL");
        }
        None => {}
    }
    match q.sla {
        Some(SlaFilter::TriageOverdue(cut)) => {
            sql.push(" AND ");
            triage_overdue(&mut sql, cut);
        }
        Some(SlaFilter::AnswerOverdue(cut)) => {
            sql.push(" AND ");
            answer_overdue(&mut sql, cut);
        }
        Some(SlaFilter::Either { triage, answer }) => {
            sql.push(" AND (");
            triage_overdue(&mut sql, triage);
            sql.push(" OR ");
            answer_overdue(&mut sql, answer);
            sql.push(")");
        }
        Some(SlaFilter::Neither { triage, answer }) => {
            sql.push(" AND NOT (");
            triage_overdue(&mut sql, triage);
            sql.push(" OR ");
            answer_overdue(&mut sql, answer);
            sql.push(")");
        }
        None => {}
    }
    if let Some(ids) = q.only {
        if ids.is_empty() {
            sql.push(" AND 1 = 0");
        } else {
            sql.push(" AND ");
            in_list(&mut sql, backend, ids);
        }
    }
    sql
}

/// `ORDER BY` of a query: its declared field, then the received day, then the random id, so
/// ties never fall back to physical order. By day, the id runs in the same direction as the
/// day, so one index (`reports_by_day`) serves both directions.
fn order_by(q: &InboxQuery<'_>) -> String {
    let dir = if q.descending { "DESC" } else { "ASC" };
    match q.sort {
        Sort::Day => format!(" ORDER BY r.received_day {dir}, r.id {dir}"),
        Sort::Priority => format!(" ORDER BY r.priority {dir}, r.received_day DESC, r.id"),
        Sort::Status => format!(" ORDER BY {STATUS_ORDER} {dir}, r.received_day DESC, r.id"),
    }
}

const STATUS_ORDER: &str = "CASE r.status WHEN 'new' THEN 0 WHEN 'in_review' THEN 1 \
                            WHEN 'actioned' THEN 2 ELSE 3 END";

fn parse_row(
    (id, day, category, status, reason, dup, priority, assignee): RawRow,
) -> Result<InboxRow, StoreError> {
    let corrupt = |c: &str| StoreError::Corrupt(format!("reports.{c}"));
    Ok(InboxRow {
        id: ReportId::parse(&id).ok_or_else(|| corrupt("id"))?,
        received_day: day,
        category,
        status: Status::parse(&status).ok_or_else(|| corrupt("status"))?,
        closed_reason: match reason {
            Some(r) => Some(CloseReason::parse(&r).ok_or_else(|| corrupt("closed_reason"))?),
            None => None,
        },
        duplicate_of: match dup {
            Some(d) => Some(ReportId::parse(&d).ok_or_else(|| corrupt("duplicate_of"))?),
            None => None,
        },
        priority: i16::try_from(priority)
            .ok()
            .and_then(Priority::from_code)
            .ok_or_else(|| corrupt("priority"))?,
        assignee,
        waiting_since: None,
    })
}

type RawRow = (
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

const ROW_COLUMNS: &str = "r.id, r.received_day, r.category, r.status, r.closed_reason, \
                           r.duplicate_of, CAST(r.priority AS BIGINT), r.assignee";

/// How many reports, per report on the page asked for, an inbox first walks in day order before
/// it falls back to joining every wrap of the reader: a reader holding most reports (a
/// supervisor) finds a page among the first few, and a reader holding few pays for this walk
/// once, bounded, before the join that suits them.
const WALK_FACTOR: i64 = 4;

impl Store {
    /// One page of an inbox query and how many reports match it in all. The page's rows carry
    /// their unanswered-message day, looked up for the page only, so a page costs the same
    /// however many reports there are.
    ///
    /// Sorted by day, the page is first looked for among the newest `WALK_FACTOR × (offset +
    /// limit)` reports of the whole table (an index walk). When that prefix holds a full page
    /// of matches, those are exactly the first matches in the full order, because every report
    /// before the page's last row lies inside the prefix; otherwise the query runs over all the
    /// reports.
    pub async fn inbox(&self, q: &InboxQuery<'_>) -> Result<(Vec<InboxRow>, i64), StoreError> {
        let want = q.offset.saturating_add(q.limit);
        let mut raw: Option<Vec<RawRow>> = None;
        if q.sort == Sort::Day && q.only.is_none() && q.limit > 0 {
            let walked = self
                .inbox_page(q, Some(want.saturating_mul(WALK_FACTOR)))
                .await?;
            if walked.len() as i64 == q.limit {
                raw = Some(walked);
            }
        }
        let raw = match raw {
            Some(r) => r,
            None => self.inbox_page(q, None).await?,
        };
        let mut rows = raw
            .into_iter()
            .map(parse_row)
            .collect::<Result<Vec<_>, _>>()?;
        let total = self.inbox_count(q).await?;
        if !rows.is_empty() {
            let ids: Vec<ReportId> = rows.iter().map(|r| r.id).collect();
            let mut w = Sql::default();
            w.push(&format!(
                "SELECT r.id, {} FROM reports r WHERE ",
                waiting_since("r")
            ));
            in_list(&mut w, self.backend, &ids);
            let waiting: Vec<(String, Option<i64>)> = w.query_as().fetch_all(&self.pool).await?;
            for row in &mut rows {
                let id = row.id.to_string();
                row.waiting_since = waiting.iter().find(|(i, _)| *i == id).and_then(|(_, d)| *d);
            }
        }
        Ok((rows, total))
    }

    async fn inbox_page(
        &self,
        q: &InboxQuery<'_>,
        walk: Option<i64>,
    ) -> Result<Vec<RawRow>, StoreError> {
        let mut sql = Sql::after(
            &format!("SELECT {ROW_COLUMNS}"),
            from_where(q, self.backend, walk),
        );
        sql.push(&order_by(q))
            .push(" LIMIT ")
            .bind(Arg::Int(q.limit));
        sql.push(" OFFSET ").bind(Arg::Int(q.offset));
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// Every report id an inbox query matches, in its order, without paging: the desk's
    /// search passes the reports its session summaries match as `only`, then pages them itself.
    pub async fn inbox_ids(&self, q: &InboxQuery<'_>) -> Result<Vec<ReportId>, StoreError> {
        let mut sql = Sql::after("SELECT r.id", from_where(q, self.backend, None));
        sql.push(&order_by(q));
        let rows: Vec<(String,)> = sql.query_as().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(id,)| {
                ReportId::parse(&id).ok_or_else(|| StoreError::Corrupt("reports.id".into()))
            })
            .collect()
    }

    /// How many reports an inbox query matches. Without a filter that is the reader's wraps,
    /// counted from their index alone.
    pub async fn inbox_count(&self, q: &InboxQuery<'_>) -> Result<i64, StoreError> {
        let unfiltered = q.status.is_none()
            && q.priority.is_none()
            && q.category.is_none()
            && q.assignee.is_none()
            && q.sla.is_none()
            && q.only.is_none();
        if unfiltered {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM report_wraps WHERE recipient_fp = $1 AND purpose = 1",
            )
            .bind(q.recipient_fp)
            .fetch_one(&self.pool)
            .await?;
            return Ok(n);
        }
        let (n,): (i64,) = Sql::after("SELECT COUNT(*)", from_where(q, self.backend, None))
            .query_as()
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// The two SLA flag counts of the reports wrapped to `recipient_fp` (the supervisors'
    /// summary): still `new` on or before `triage_cut`, and not closed with a reporter message
    /// unanswered since `answer_cut` or earlier. The second starts from the reporter's messages
    /// (`items_by_kind_day`), not from every report.
    pub async fn flag_counts(
        &self,
        recipient_fp: &str,
        triage_cut: i64,
        answer_cut: i64,
    ) -> Result<(i64, i64), StoreError> {
        let (triage,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM reports r WHERE r.status = 'new' AND r.received_day <= $2 \
             AND {WRAPPED}"
        )))
        .bind(recipient_fp)
        .bind(triage_cut)
        .fetch_one(&self.pool)
        .await?;
        let (msg, from, to) = (
            ItemKind::Message as i16,
            Direction::ReporterToStaff as i16,
            Direction::StaffToReporter as i16,
        );
        let (answer,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(DISTINCT i.report_id) FROM items i JOIN reports r ON r.id = i.report_id \
             WHERE i.kind = {msg} AND i.direction = {from} AND i.day <= $2 \
             AND r.status <> 'closed' AND {WRAPPED} AND NOT EXISTS (SELECT 1 FROM items j \
             WHERE j.report_id = i.report_id AND j.kind = {msg} AND j.direction = {to} \
             AND j.seq > i.seq)"
        )))
        .bind(recipient_fp)
        .bind(answer_cut)
        .fetch_one(&self.pool)
        .await?;
        Ok((triage, answer))
    }

    /// One report's triage columns (the report page shows them), or `None`.
    pub async fn triage_row(&self, id: ReportId) -> Result<Option<InboxRow>, StoreError> {
        let raw: Option<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM reports r WHERE r.id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(raw) = raw else { return Ok(None) };
        let mut row = parse_row(raw)?;
        let (w,): (Option<i64>,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM reports r WHERE r.id = $1",
            waiting_since("r")
        )))
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?;
        row.waiting_since = w;
        Ok(Some(row))
    }

    /// Sets a report's status. Leaving `new` records the triage day once; closing records the
    /// closure day (the reporter's delayed `closed`, I11) and the reason; reopening clears both.
    pub async fn set_triage_status(
        &self,
        id: ReportId,
        status: Status,
        reason: Option<CloseReason>,
        duplicate_of: Option<ReportId>,
        day: i64,
    ) -> Result<(), StoreError> {
        let closed = status == Status::Closed;
        sqlx::query(
            "UPDATE reports SET status = $1, closed_reason = $2, duplicate_of = $3, \
             closed_day = $4, triaged_day = COALESCE(triaged_day, $5) WHERE id = $6",
        )
        .bind(status.as_str())
        .bind(reason.filter(|_| closed).map(|r| r.as_str()))
        .bind(duplicate_of.filter(|_| closed).map(|d| d.to_string()))
        .bind(closed.then_some(day))
        .bind(day)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets a report's priority.
    pub async fn set_priority(&self, id: ReportId, p: Priority) -> Result<(), StoreError> {
        sqlx::query("UPDATE reports SET priority = $1 WHERE id = $2")
            .bind(p.code())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A report's plaintext columns as the figures count them (issue 10): days only, never content.
#[derive(Debug, Clone)]
pub struct FigureRow {
    /// Report.
    pub id: ReportId,
    /// Received day.
    pub received_day: i64,
    /// Category id.
    pub category: String,
    /// Status.
    pub status: Status,
    /// Why it was closed.
    pub closed_reason: Option<CloseReason>,
    /// The day it left `new`.
    pub triaged_day: Option<i64>,
    /// The day it was closed.
    pub closed_day: Option<i64>,
}

type RawFigureRow = (
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

impl Store {
    /// The figures' columns of every report whose K_r is wrapped to `recipient_fp` and that was
    /// received in `[from_day, to_day]`, in id order.
    pub async fn figure_rows(
        &self,
        recipient_fp: &str,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<FigureRow>, StoreError> {
        let raw: Vec<RawFigureRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.id, r.received_day, r.category, r.status, r.closed_reason, r.triaged_day, \
             r.closed_day FROM reports r WHERE {WRAPPED} AND r.received_day >= $2 \
             AND r.received_day <= $3 ORDER BY r.id"
        )))
        .bind(recipient_fp)
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.pool)
        .await?;
        let corrupt = |c: &str| StoreError::Corrupt(format!("reports.{c}"));
        raw.into_iter()
            .map(|(id, day, category, status, reason, triaged, closed)| {
                Ok(FigureRow {
                    id: ReportId::parse(&id).ok_or_else(|| corrupt("id"))?,
                    received_day: day,
                    category,
                    status: Status::parse(&status).ok_or_else(|| corrupt("status"))?,
                    closed_reason: match reason {
                        None => None,
                        Some(r) => {
                            Some(CloseReason::parse(&r).ok_or_else(|| corrupt("closed_reason"))?)
                        }
                    },
                    triaged_day: triaged,
                    closed_day: closed,
                })
            })
            .collect()
    }
}
