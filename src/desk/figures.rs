//! Figures for the regional action plan (issue 10): counts of reports by kecamatan, category,
//! month, outcome and SLA compliance, and the median working days to triage and to close.
//!
//! The plaintext routing columns give everything but the area, which is sealed in the tip. So
//! the figures are counted by whoever can open the tips: a certified supervisor's session, from
//! its search summaries ([`super::search::summaries`], audited as `indexed`), or `bisik stats
//! export` with the escrow key. Nothing here stores a per-report value: the input rows live for
//! one call and only the counts leave it.
//!
//! [`compute`] counts; [`Export::suppress`] turns counts into what may leave the office (the
//! rule is in docs/FIGURES.md): a count below k is shown as "< k", each row and column of the
//! kecamatan × month table that holds such a cell also withholds its smallest other cell, and
//! every total is rounded to a multiple of k. [`Export::csv`] and [`Export::pdf`] write it.

use crate::config::Config;
use crate::domain::calendar::Calendar;
use crate::domain::{CloseReason, Status};
use crate::store::FigureRow;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// Parses `YYYY-MM` exactly, years 2000 to 2099 (so a range spans at most 1,200 months;
    /// the API document states the same grammar as a pattern).
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (year, month): (i32, u8) = (y.parse().ok()?, m.parse().ok()?);
        ((2000..2100).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// The month a day number falls in.
    pub fn of_day(day: i64) -> Month {
        let d = time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(86_400))
            .map(|t| t.date())
            .unwrap_or(time::Date::MIN);
        Month {
            year: d.year(),
            month: u8::from(d.month()),
        }
    }

    fn date(self, day: u8) -> time::Date {
        let m = time::Month::try_from(self.month).expect("months are 1 to 12");
        time::Date::from_calendar_date(self.year, m, day).expect("a valid date")
    }

    /// Its first day's number.
    pub fn first_day(self) -> i64 {
        crate::domain::day_number(self.date(1).midnight().assume_utc().unix_timestamp())
    }

    /// The month after.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its last day's number.
    pub fn last_day(self) -> i64 {
        self.next().first_day() - 1
    }

    /// Months from `self` to `later` (0 when equal).
    fn until(self, later: Month) -> i64 {
        (i64::from(later.year) - i64::from(self.year)) * 12 + i64::from(later.month)
            - i64::from(self.month)
    }

    /// The month `n` months earlier.
    pub fn back(self, n: i64) -> Month {
        let total = i64::from(self.year) * 12 + i64::from(self.month) - 1 - n;
        Month {
            year: total.div_euclid(12) as i32,
            month: (total.rem_euclid(12) + 1) as u8,
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// A bound is not `YYYY-MM`.
    #[error("{0:?} is not a month: write it as YYYY-MM, for example 2026-01")]
    BadMonth(String),
    /// From is after to.
    #[error("the range starts ({0}) after it ends ({1})")]
    Reversed(Month, Month),
}

/// Whole months, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First month.
    pub from: Month,
    /// Last month.
    pub to: Month,
}

impl Range {
    /// From two `YYYY-MM` strings; a missing bound is this month (`to`) or eleven months
    /// before `to` (`from`).
    pub fn parse(from: Option<&str>, to: Option<&str>, today: i64) -> Result<Range, RangeError> {
        let month = |s: &str| Month::parse(s).ok_or_else(|| RangeError::BadMonth(s.to_owned()));
        let to = match to {
            Some(s) => month(s)?,
            None => Month::of_day(today),
        };
        let from = match from {
            Some(s) => month(s)?,
            None => to.back(11),
        };
        if from > to {
            return Err(RangeError::Reversed(from, to));
        }
        Ok(Range { from, to })
    }

    /// Every month of the range, in order.
    pub fn months(&self) -> Vec<Month> {
        let mut out = vec![self.from];
        while let Some(&m) = out.last()
            && m < self.to
        {
            out.push(m.next());
        }
        out
    }
}

/// One report as the figures see it: its plaintext columns and its area, opened for this call.
pub struct Counted {
    /// Columns.
    pub row: FigureRow,
    /// Area id when the tip names a configured one.
    pub area: Option<String>,
}

/// The SLA compliance of triage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SlaCounts {
    /// Triaged within the limit.
    pub met: i64,
    /// Triaged after the limit, or still new past it.
    pub missed: i64,
    /// Still new, within the limit.
    pub pending: i64,
}

/// The counts of one range.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// The range.
    pub range: Range,
    /// Its months.
    pub months: Vec<Month>,
    /// Area ids in the config's order, then [`NO_AREA`].
    pub areas: Vec<String>,
    /// Reports by area (as `areas`) and month (as `months`).
    pub area_month: Vec<Vec<i64>>,
    /// Category ids in the config's order, then [`OTHER`] for any not configured.
    pub categories: Vec<String>,
    /// Reports by category (as `categories`).
    pub by_category: Vec<i64>,
    /// Reports still open, then closed for each reason of [`CloseReason::ALL`].
    pub by_outcome: Vec<i64>,
    /// Triage against the SLA.
    pub sla: SlaCounts,
    /// Reports triaged, and the median working days from receipt to triage.
    pub triage: (i64, Option<f64>),
    /// Reports closed, and the median working days from receipt to closure.
    pub close: (i64, Option<f64>),
}

/// The bucket of reports whose tip names no configured area (or failed a check).
pub const NO_AREA: &str = "tanpa-kecamatan";
/// The bucket of categories no longer configured.
pub const OTHER: &str = "lainnya-tidak-terdaftar";

/// The names of the outcome buckets, as [`Figures::by_outcome`] orders them.
pub fn outcome_ids() -> Vec<&'static str> {
    let mut v = vec!["open"];
    v.extend(CloseReason::ALL.iter().map(|r| r.as_str()));
    v
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

/// Counts `reports` (those received in `range`; others are ignored) under `cfg`, as of `today`.
pub fn compute(cfg: &Config, range: Range, reports: &[Counted], today: i64) -> Figures {
    let cal: Calendar = cfg.triage.calendar();
    let limit = cfg.triage.sla_triage_working_days;
    let months = range.months();
    let mut areas: Vec<String> = cfg.areas.iter().map(|a| a.id.clone()).collect();
    areas.push(NO_AREA.into());
    let mut categories: Vec<String> = cfg.categories.iter().map(|c| c.id.clone()).collect();
    categories.push(OTHER.into());
    let mut f = Figures {
        range,
        area_month: vec![vec![0; months.len()]; areas.len()],
        by_category: vec![0; categories.len()],
        by_outcome: vec![0; 1 + CloseReason::ALL.len()],
        sla: SlaCounts::default(),
        triage: (0, None),
        close: (0, None),
        months,
        areas,
        categories,
    };
    let (mut to_triage, mut to_close) = (Vec::new(), Vec::new());
    let (first, last) = (range.from.first_day(), range.to.last_day());
    for c in reports {
        let r = &c.row;
        if r.received_day < first || r.received_day > last {
            continue;
        }
        let m = range.from.until(Month::of_day(r.received_day)) as usize;
        let a = c
            .area
            .as_deref()
            .and_then(|id| f.areas.iter().position(|x| x == id))
            .unwrap_or(f.areas.len() - 1);
        f.area_month[a][m] += 1;
        let cat = f
            .categories
            .iter()
            .position(|x| *x == r.category)
            .unwrap_or(f.categories.len() - 1);
        f.by_category[cat] += 1;
        let o = match (r.status, r.closed_reason) {
            (Status::Closed, Some(reason)) => {
                1 + CloseReason::ALL
                    .iter()
                    .position(|x| *x == reason)
                    .expect("every reason is listed")
            }
            _ => 0,
        };
        f.by_outcome[o] += 1;
        match r.triaged_day {
            Some(t) => {
                let days = cal.working_days_between(r.received_day, t);
                to_triage.push(days);
                if days <= limit {
                    f.sla.met += 1;
                } else {
                    f.sla.missed += 1;
                }
            }
            None if cal.working_days_between(r.received_day, today) > limit => f.sla.missed += 1,
            None => f.sla.pending += 1,
        }
        if let (Status::Closed, Some(d)) = (r.status, r.closed_day) {
            to_close.push(cal.working_days_between(r.received_day, d));
        }
    }
    f.triage = (to_triage.len() as i64, median(to_triage));
    f.close = (to_close.len() as i64, median(to_close));
    f
}

impl Figures {
    /// Reports counted.
    pub fn total(&self) -> i64 {
        self.by_category.iter().sum()
    }

    /// Reports by area over the whole range.
    pub fn by_area(&self) -> Vec<i64> {
        self.area_month.iter().map(|r| r.iter().sum()).collect()
    }

    /// Reports by month, all areas.
    pub fn by_month(&self) -> Vec<i64> {
        (0..self.months.len())
            .map(|m| self.area_month.iter().map(|r| r[m]).sum())
            .collect()
    }
}

/// A number as it may leave the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// At least k, shown as counted (cells of the kecamatan × month table only).
    Exact(i64),
    /// Below k: shown as "< k".
    Below,
    /// At least k but withheld, so that a "< k" cell in its row or column cannot be found by
    /// subtraction: shown as "x".
    Withheld,
    /// A total, rounded to the nearest multiple of k (halves up).
    Rounded(i64),
}

impl Shown {
    /// The text in the CSV and the PDF.
    pub fn text(self, k: i64) -> String {
        match self {
            Shown::Exact(n) | Shown::Rounded(n) => n.to_string(),
            Shown::Below => format!("< {k}"),
            Shown::Withheld => "x".into(),
        }
    }
}

/// A total as published: "< k" below k, else rounded to the nearest multiple of k.
pub fn total(n: i64, k: i64) -> Shown {
    if n < k {
        Shown::Below
    } else {
        Shown::Rounded((2 * n + k) / (2 * k) * k)
    }
}

/// The total of a line as published: [`total`], except that a line holding a "< k" entry but
/// no withheld one (every other entry below k as well) withholds its total, whatever its size,
/// since a rounded total could pin its small cells (two cells of 4 with a total of about 8)
/// and a total withheld only when it is at least k would tell that they add up to k or more.
pub fn line_total<'a>(line: impl Iterator<Item = &'a Shown>, n: i64, k: i64) -> Shown {
    let (mut below, mut withheld) = (false, false);
    for s in line {
        below |= *s == Shown::Below;
        withheld |= *s == Shown::Withheld;
    }
    if below && !withheld {
        // Whatever it is, even below k: a withheld total says nothing of its size, so a line
        // of small cells cannot tell that they add up to at least k.
        Shown::Withheld
    } else {
        total(n, k)
    }
}

/// A median as published: only over at least k reports.
pub fn median_shown(count: i64, m: Option<f64>, k: i64) -> Option<f64> {
    m.filter(|_| count >= k)
}

/// The figures of a range as they may leave the office (docs/FIGURES.md).
pub struct Export {
    /// The threshold.
    pub k: i64,
    /// The unit's name.
    pub unit: String,
    /// The range.
    pub range: Range,
    /// Months, `YYYY-MM`.
    pub months: Vec<String>,
    /// Each area's label, its cells by month and its total.
    pub rows: Vec<(String, Vec<Shown>, Shown)>,
    /// Each month's total and the grand total.
    pub month_totals: (Vec<Shown>, Shown),
    /// Categories: label and total.
    pub categories: Vec<(String, Shown)>,
    /// Outcomes: label and total.
    pub outcomes: Vec<(String, Shown)>,
    /// SLA: label and total.
    pub sla: Vec<(String, Shown)>,
    /// Median working days to triage and to close, over at least k reports.
    pub medians: (Option<f64>, Option<f64>),
}

/// "Bahasa Indonesia / English".
fn both(id: &str, en: &str) -> String {
    if id == en {
        id.to_owned()
    } else {
        format!("{id} / {en}")
    }
}

/// The labels of the outcome buckets.
pub fn outcome_labels() -> Vec<(String, String)> {
    let mut v = vec![("Belum ditutup".to_owned(), "Not closed".to_owned())];
    for r in CloseReason::ALL {
        let t = super::triage_pages::reason_label(r);
        v.push((format!("Ditutup: {}", t.id), format!("Closed: {}", t.en)));
    }
    v
}

/// The labels of the SLA buckets.
pub fn sla_labels() -> [(&'static str, &'static str); 3] {
    [
        ("Ditinjau tepat waktu", "Triaged in time"),
        ("Terlambat ditinjau", "Triaged late or overdue"),
        (
            "Belum ditinjau, masih dalam batas",
            "Not triaged yet, within the limit",
        ),
    ]
}

/// An area's label in both languages ([`NO_AREA`] included).
pub fn area_label(cfg: &Config, id: &str) -> (String, String) {
    match cfg.areas.iter().find(|a| a.id == id) {
        Some(a) => (a.label.id.clone(), a.label.en.clone()),
        None => ("Tanpa kecamatan".into(), "No area".into()),
    }
}

/// A category's label in both languages ([`OTHER`] included).
pub fn category_label(cfg: &Config, id: &str) -> (String, String) {
    match cfg.categories.iter().find(|a| a.id == id) {
        Some(a) => (a.label.id.clone(), a.label.en.clone()),
        None => (
            "Kategori lain (tidak terdaftar)".into(),
            "Other (no longer configured)".into(),
        ),
    }
}

/// Marks the cells of `m` (rows × columns) as published. Below k is "< k"; then, until nothing
/// changes:
/// - every row and column that holds a "< k" cell but no withheld one withholds its smallest
///   exact cell, and so does every line whose only unknown is one withheld cell (a withheld
///   partner alone in its other line would be bounded by that line's total);
/// - the published table (cells and the totals [`totals`] gives) is narrowed as an attacker
///   would, every line at once ([`narrowed`]); a "< k" cell that can no longer be both 0 and
///   k − 1 withholds the smallest exact cell of its row, or else of its column.
///
/// When no exact cell is left beside a narrowed cell, its row's total is withheld, then its
/// column's, then the grand total. Returns `None` when a "< k" cell stays narrowed with
/// nothing left to withhold: such a table cannot be published.
pub fn suppress(m: &[Vec<i64>], k: i64) -> Option<(Vec<Vec<Shown>>, Forced)> {
    let mut forced = Forced::default();
    let mut s: Vec<Vec<Shown>> = m
        .iter()
        .map(|r| {
            r.iter()
                .map(|&n| if n < k { Shown::Below } else { Shown::Exact(n) })
                .collect()
        })
        .collect();
    let cols = m.first().map_or(0, Vec::len);
    let mut lines: Vec<Vec<(usize, usize)>> = (0..m.len())
        .map(|i| (0..cols).map(|j| (i, j)).collect())
        .collect();
    lines.extend((0..cols).map(|j| (0..m.len()).map(|i| (i, j)).collect()));
    let smallest_exact = |s: &[Vec<Shown>], line: &[(usize, usize)]| {
        line.iter()
            .filter(|&&(i, j)| matches!(s[i][j], Shown::Exact(_)))
            .min_by_key(|&&(i, j)| (m[i][j], i, j))
            .copied()
    };
    loop {
        let mut changed = false;
        for line in &lines {
            let below = line
                .iter()
                .filter(|&&(i, j)| s[i][j] == Shown::Below)
                .count();
            let withheld = line
                .iter()
                .filter(|&&(i, j)| s[i][j] == Shown::Withheld)
                .count();
            if ((below > 0 && withheld == 0) || (below == 0 && withheld == 1))
                && let Some((i, j)) = smallest_exact(&s, line)
            {
                s[i][j] = Shown::Withheld;
                changed = true;
            }
        }
        if changed {
            continue;
        }
        let dom = narrowed(m, &s, &forced, k);
        for i in 0..m.len() {
            for j in 0..cols {
                let (lo, hi) = dom[i * cols + j];
                if s[i][j] != Shown::Below || (lo == 0 && hi >= k - 1) {
                    continue;
                }
                let row: Vec<(usize, usize)> = (0..cols).map(|c| (i, c)).collect();
                let col: Vec<(usize, usize)> = (0..m.len()).map(|r| (r, j)).collect();
                if let Some((a, b)) = smallest_exact(&s, &row).or_else(|| smallest_exact(&s, &col))
                {
                    s[a][b] = Shown::Withheld;
                } else if forced.rows.insert(i) || forced.columns.insert(j) {
                } else if !forced.grand {
                    forced.grand = true;
                } else {
                    return None;
                }
                changed = true;
            }
            if changed {
                break;
            }
        }
        if !changed {
            return Some((s, forced));
        }
    }
}

/// Totals withheld by [`suppress`] beyond what [`line_total`] withholds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forced {
    /// Rows (kecamatan) whose total is withheld.
    pub rows: std::collections::BTreeSet<usize>,
    /// Columns (months) whose total is withheld.
    pub columns: std::collections::BTreeSet<usize>,
    /// The grand total is withheld.
    pub grand: bool,
}

/// The published totals of a suppressed table: each row's, each column's, and the grand total
/// (which closes the line of row totals and the line of column totals).
pub fn totals(
    m: &[Vec<i64>],
    s: &[Vec<Shown>],
    forced: &Forced,
    k: i64,
) -> (Vec<Shown>, Vec<Shown>, Shown) {
    let cols = m.first().map_or(0, Vec::len);
    let withheld = |shown: Shown, force: bool| if force { Shown::Withheld } else { shown };
    let rows: Vec<Shown> = m
        .iter()
        .zip(s)
        .enumerate()
        .map(|(i, (r, line))| {
            withheld(
                line_total(line.iter(), r.iter().sum(), k),
                forced.rows.contains(&i),
            )
        })
        .collect();
    let columns: Vec<Shown> = (0..cols)
        .map(|j| {
            withheld(
                line_total(s.iter().map(|r| &r[j]), m.iter().map(|r| r[j]).sum(), k),
                forced.columns.contains(&j),
            )
        })
        .collect();
    let all: i64 = m.iter().flatten().sum();
    let grand = withheld(
        line_total(rows.iter().chain(columns.iter()), all, k),
        forced.grand,
    );
    (rows, columns, grand)
}

/// What a reader of the published table can know of each cell (row-major), every line at once:
/// each entry's interval ("< k" is 0 to k − 1, "x" at least k, a rounded total within k/2 of
/// what it shows), narrowed by every row, column and total summing together until nothing
/// moves. Bound propagation, not a whole-number search: it finds what sums and differences of
/// lines give (the test searches the rest).
pub fn narrowed(m: &[Vec<i64>], s: &[Vec<Shown>], forced: &Forced, k: i64) -> Vec<(i64, i64)> {
    let cols = m.first().map_or(0, Vec::len);
    let (rows, columns, grand) = totals(m, s, forced, k);
    // No entry exceeds every report counted, as far as the grand total tells.
    let big = match grand {
        Shown::Exact(n) => n,
        Shown::Rounded(r) => r + (k - 1) / 2,
        _ => m.iter().flatten().sum::<i64>().max(k) * 2 + k,
    };
    // A withheld cell is at least k (a smaller one would show as "< k"); a withheld total
    // may be anything.
    let interval = |e: Shown, cell: bool| match e {
        Shown::Exact(n) => (n, n),
        Shown::Below => (0, k - 1),
        Shown::Withheld if cell => (k, big),
        Shown::Withheld => (0, big),
        Shown::Rounded(r) => ((r - k / 2).max(k), r + (k - 1) / 2),
    };
    let mut dom: Vec<(i64, i64)> = s.iter().flatten().map(|&e| interval(e, true)).collect();
    let row0 = dom.len();
    dom.extend(rows.iter().map(|&e| interval(e, false)));
    let col0 = dom.len();
    dom.extend(columns.iter().map(|&e| interval(e, false)));
    let g = dom.len();
    dom.push(interval(grand, false));
    // Each constraint: the cells sum to the total.
    let mut sums: Vec<(Vec<usize>, usize)> = (0..m.len())
        .map(|i| ((0..cols).map(|j| i * cols + j).collect(), row0 + i))
        .collect();
    sums.extend((0..cols).map(|j| ((0..m.len()).map(|i| i * cols + j).collect(), col0 + j)));
    sums.push(((row0..col0).collect(), g));
    sums.push(((col0..g).collect(), g));
    for _ in 0..10_000 {
        let mut moved = false;
        for (cells, t) in &sums {
            let lo: i64 = cells.iter().map(|&c| dom[c].0).sum();
            let hi: i64 = cells.iter().map(|&c| dom[c].1).sum();
            let (tlo, thi) = (dom[*t].0.max(lo), dom[*t].1.min(hi));
            if (tlo, thi) != dom[*t] {
                dom[*t] = (tlo, thi);
                moved = true;
            }
            for &c in cells {
                let (clo, chi) = dom[c];
                let nlo = clo.max(tlo - (hi - chi));
                let nhi = chi.min(thi - (lo - clo));
                if (nlo, nhi) != (clo, chi) {
                    dom[c] = (nlo, nhi.max(nlo));
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    dom.truncate(row0);
    dom
}

impl Export {
    /// The published form of `f` under `cfg` (its `[figures] k`), or `None` when the table
    /// cannot be published without a small cell being narrowed ([`suppress`]).
    pub fn suppress(cfg: &Config, f: &Figures) -> Option<Export> {
        let k = cfg.figures.k;
        // Areas with no report in the range are left out unless configured: the empty bucket
        // of unnamed areas says nothing.
        let mut keep: Vec<usize> = (0..f.areas.len()).collect();
        if f.area_month
            .last()
            .is_some_and(|r| r.iter().all(|n| *n == 0))
        {
            keep.pop();
        }
        let matrix: Vec<Vec<i64>> = keep.iter().map(|&i| f.area_month[i].clone()).collect();
        let (cells, forced) = suppress(&matrix, k)?;
        // The grand total closes two more lines: the kecamatan totals and the month totals.
        let (row_totals, month_totals, grand) = totals(&matrix, &cells, &forced, k);
        let rows = keep
            .iter()
            .zip(cells)
            .zip(row_totals)
            .map(|((&i, cells), t)| {
                let (id, en) = area_label(cfg, &f.areas[i]);
                (both(&id, &en), cells, t)
            })
            .collect();
        let categories = f
            .categories
            .iter()
            .zip(&f.by_category)
            .filter(|(id, n)| id.as_str() != OTHER || **n > 0)
            .map(|(id, n)| {
                let (l, en) = category_label(cfg, id);
                (both(&l, &en), total(*n, k))
            })
            .collect();
        let outcomes = outcome_labels()
            .into_iter()
            .zip(&f.by_outcome)
            .map(|((id, en), n)| (both(&id, &en), total(*n, k)))
            .collect();
        let sla = sla_labels()
            .into_iter()
            .zip([f.sla.met, f.sla.missed, f.sla.pending])
            .map(|((id, en), n)| (both(id, en), total(n, k)))
            .collect();
        Some(Export {
            k,
            unit: cfg.unit.name.clone(),
            range: f.range,
            months: f.months.iter().map(Month::to_string).collect(),
            rows,
            month_totals: (month_totals, grand),
            categories,
            outcomes,
            sla,
            medians: (
                median_shown(f.triage.0, f.triage.1, k),
                median_shown(f.close.0, f.close.1, k),
            ),
        })
    }

    /// The legend, one line per sentence.
    pub fn legend(&self) -> Vec<String> {
        let k = self.k;
        vec![
            format!(
                "\"< {k}\": kurang dari {k} laporan / fewer than {k} reports. \"x\": disembunyikan agar sel \"< {k}\" tidak dapat dihitung / withheld so that a \"< {k}\" cell cannot be worked out."
            ),
            format!(
                "Semua jumlah dibulatkan ke kelipatan {k} terdekat / every total is rounded to the nearest multiple of {k}."
            ),
            "Hanya bulan, tanpa tanggal; tanpa isi laporan / months only, no days; no report content."
                .into(),
        ]
    }

    /// The CSV (RFC 4180, UTF-8, CRLF): a title block, then one table after another, each
    /// headed by its name. Every field is quoted; one that a spreadsheet would read as a
    /// formula is prefixed with `'`.
    pub fn csv(&self) -> String {
        fn field(s: &str) -> String {
            let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err()
            {
                format!("'{s}")
            } else {
                s.to_owned()
            };
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        let k = self.k;
        let mut out = String::new();
        let mut line = |cells: Vec<String>| {
            let v: Vec<String> = cells.iter().map(|c| field(c)).collect();
            out.push_str(&v.join(","));
            out.push_str("\r\n");
        };
        line(vec![
            format!("Angka laporan Bisik / Bisik report figures: {}", self.unit),
            format!("{} .. {}", self.range.from, self.range.to),
        ]);
        for l in self.legend() {
            line(vec![l]);
        }
        line(vec![]);
        let mut head = vec!["Kecamatan / Area".to_owned()];
        head.extend(self.months.iter().cloned());
        head.push("Jumlah / Total".into());
        line(head);
        for (label, cells, t) in &self.rows {
            let mut v = vec![label.clone()];
            v.extend(cells.iter().map(|c| c.text(k)));
            v.push(t.text(k));
            line(v);
        }
        let mut v = vec!["Jumlah / Total".to_owned()];
        v.extend(self.month_totals.0.iter().map(|c| c.text(k)));
        v.push(self.month_totals.1.text(k));
        line(v);
        for (title, list) in [
            ("Kategori / Category", &self.categories),
            ("Hasil / Outcome", &self.outcomes),
            ("Batas waktu peninjauan / Triage SLA", &self.sla),
        ] {
            line(vec![]);
            line(vec![title.to_owned(), "Jumlah / Total".into()]);
            for (label, n) in list {
                line(vec![label.clone(), n.text(k)]);
            }
        }
        line(vec![]);
        line(vec![
            "Median hari kerja / Median working days".to_owned(),
            "Hari / Days".into(),
        ]);
        for (label, m) in [
            ("Sampai ditinjau / To triage", self.medians.0),
            ("Sampai ditutup / To close", self.medians.1),
        ] {
            line(vec![label.to_owned(), median_text(m, k)]);
        }
        out
    }
}

/// A median as text: "-" when there were fewer than k reports to take it over.
pub fn median_text(m: Option<f64>, k: i64) -> String {
    match m {
        Some(v) => format!("{v:.1}"),
        None => format!("- (< {k})"),
    }
}

/// A4 landscape, in points.
const PAGE: (f32, f32) = (842.0, 595.0);
/// Months per table page of the PDF.
const PDF_MONTHS: usize = 12;

impl Export {
    /// A printable PDF (A4 landscape): the kecamatan × month table, twelve months a page, then
    /// the other tables. The same texts as [`Export::csv`], in the embedded DejaVu Sans of the
    /// outreach kit.
    pub fn pdf(&self) -> Result<Vec<u8>, crate::outreach::OutreachError> {
        use crate::outreach::pdf::{Align, Doc, Rgb3, Weight};
        let k = self.k;
        let ink = Rgb3(0.1, 0.1, 0.1);
        let grey = Rgb3(0.35, 0.35, 0.35);
        let mut doc = Doc::new("Angka laporan Bisik / Bisik report figures")?;
        let (w, h) = PAGE;
        let margin = 36.0;
        let title = format!(
            "Angka laporan Bisik / Bisik report figures: {} ({} .. {})",
            self.unit, self.range.from, self.range.to
        );
        let header = |doc: &Doc, page: &mut crate::outreach::pdf::Page| -> f32 {
            let mut y = h - margin - 14.0;
            for l in doc.wrap(Weight::Bold, 14.0, &title, w - 2.0 * margin) {
                page.line(Weight::Bold, 14.0, ink, margin, y, 0.0, Align::Left, &l);
                y -= 18.0;
            }
            for legend in self.legend() {
                for l in doc.wrap(Weight::Regular, 8.5, &legend, w - 2.0 * margin) {
                    page.line(Weight::Regular, 8.5, grey, margin, y, 0.0, Align::Left, &l);
                    y -= 11.0;
                }
            }
            y - 10.0
        };
        let chunks: Vec<(usize, usize)> = (0..self.months.len())
            .step_by(PDF_MONTHS)
            .map(|s| (s, (s + PDF_MONTHS).min(self.months.len())))
            .collect();
        for (start, end) in chunks {
            let mut page = doc.page(w, h);
            let mut y = header(&doc, &mut page);
            let label_w = 150.0;
            let col_w = ((w - 2.0 * margin - label_w) / (end - start + 1) as f32).min(48.0);
            let row = |page: &mut crate::outreach::pdf::Page,
                       y: f32,
                       weight: Weight,
                       label: &str,
                       cells: Vec<String>| {
                page.line(weight, 9.0, ink, margin, y, 0.0, Align::Left, label);
                for (n, c) in cells.iter().enumerate() {
                    let x = margin + label_w + col_w * (n as f32 + 0.5);
                    let cw = doc.width(weight, 9.0, c);
                    page.line(weight, 9.0, ink, x, y, cw, Align::Centre, c);
                }
            };
            let mut head: Vec<String> = self.months[start..end].to_vec();
            head.push("Jumlah".into());
            row(&mut page, y, Weight::Bold, "Kecamatan / Area", head);
            y -= 16.0;
            for (label, cells, t) in &self.rows {
                let mut v: Vec<String> = cells[start..end].iter().map(|c| c.text(k)).collect();
                v.push(t.text(k));
                row(&mut page, y, Weight::Regular, label, v);
                y -= 14.0;
            }
            let mut v: Vec<String> = self.month_totals.0[start..end]
                .iter()
                .map(|c| c.text(k))
                .collect();
            v.push(self.month_totals.1.text(k));
            row(&mut page, y, Weight::Bold, "Jumlah / Total", v);
            doc.push(page);
        }
        let mut page = doc.page(w, h);
        let mut y = header(&doc, &mut page);
        let medians = vec![
            (
                "Median hari kerja sampai ditinjau / Median working days to triage".to_owned(),
                median_text(self.medians.0, k),
            ),
            (
                "Median hari kerja sampai ditutup / Median working days to close".to_owned(),
                median_text(self.medians.1, k),
            ),
        ];
        let shown = |list: &[(String, Shown)]| -> Vec<(String, String)> {
            list.iter().map(|(l, n)| (l.clone(), n.text(k))).collect()
        };
        for (title, list) in [
            ("Kategori / Category", shown(&self.categories)),
            ("Hasil / Outcome", shown(&self.outcomes)),
            ("Batas waktu peninjauan / Triage SLA", shown(&self.sla)),
            ("Waktu / Time", medians),
        ] {
            if y < margin + 60.0 {
                doc.push(page);
                page = doc.page(w, h);
                y = header(&doc, &mut page);
            }
            page.line(Weight::Bold, 10.0, ink, margin, y, 0.0, Align::Left, title);
            y -= 14.0;
            for (label, n) in list {
                page.line(
                    Weight::Regular,
                    9.0,
                    ink,
                    margin,
                    y,
                    0.0,
                    Align::Left,
                    &label,
                );
                page.line(
                    Weight::Regular,
                    9.0,
                    ink,
                    margin + 420.0,
                    y,
                    0.0,
                    Align::Left,
                    &n,
                );
                y -= 13.0;
            }
            y -= 8.0;
        }
        doc.push(page);
        Ok(doc.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly_and_ranges_check_their_order() {
        assert_eq!(Month::parse("2026-01").unwrap().to_string(), "2026-01");
        for bad in [
            "2026-1",
            "2026-13",
            "2026-00",
            "26-01",
            "2026/01",
            "2026-01-01",
            "",
            "abcd-ef",
            "+026-01",
        ] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
        let today = crate::domain::calendar::parse_day("2026-12-03").unwrap();
        let r = Range::parse(None, None, today).unwrap();
        assert_eq!(
            (r.from.to_string(), r.to.to_string()),
            ("2026-01".into(), "2026-12".into())
        );
        assert_eq!(r.months().len(), 12);
        assert!(matches!(
            Range::parse(Some("2026-05"), Some("2026-04"), today),
            Err(RangeError::Reversed(..))
        ));
        assert_eq!(
            Range::parse(Some("2000-01"), Some("2099-12"), today)
                .unwrap()
                .months()
                .len(),
            1200
        );
        assert!(Month::parse("1999-12").is_none() && Month::parse("2100-01").is_none());
        let m = Month::parse("2024-02").unwrap();
        assert_eq!(m.last_day() - m.first_day(), 28);
        assert_eq!(Month::of_day(m.last_day()), m);
        assert_eq!(Month::of_day(m.last_day() + 1).to_string(), "2024-03");
        assert_eq!(
            Month::parse("2026-01").unwrap().back(1).to_string(),
            "2025-12"
        );
    }

    #[test]
    fn totals_round_to_multiples_of_k_and_small_ones_are_hidden() {
        assert_eq!(total(0, 5), Shown::Below);
        assert_eq!(total(4, 5), Shown::Below);
        assert_eq!(total(5, 5), Shown::Rounded(5));
        assert_eq!(total(7, 5), Shown::Rounded(5));
        assert_eq!(total(8, 5), Shown::Rounded(10));
        assert_eq!(total(12, 5), Shown::Rounded(10));
        assert_eq!(total(13, 5), Shown::Rounded(15));
    }

    #[test]
    fn every_line_with_a_small_cell_also_withholds_another() {
        let m = vec![vec![2, 9, 7], vec![6, 8, 12], vec![0, 0, 5]];
        let (s, _) = suppress(&m, 5).unwrap();
        assert_eq!(s[0][0], Shown::Below);
        assert_eq!(s[2][0], Shown::Below);
        for line in (0..3)
            .map(|i| (0..3).map(|j| s[i][j]).collect::<Vec<_>>())
            .chain((0..3).map(|j| (0..3).map(|i| s[i][j]).collect()))
        {
            if line.contains(&Shown::Below) {
                assert!(line.contains(&Shown::Withheld), "{line:?}");
            }
        }
    }

    /// The review's counterexample (k = 5): with partners only for lines holding a "< 5",
    /// B's withheld first month was alone in B's row, its total bounded it, and A's first
    /// month came out exactly 1. Now every small cell stays free from 0 to k − 1 for a
    /// reader who narrows every line at once, and no line has a single unknown.
    #[test]
    fn no_small_cell_is_narrowed_by_every_line_together() {
        let tables = [
            vec![vec![1, 5, 10, 11], vec![32, 30, 30, 30]],
            vec![vec![2, 9, 7], vec![6, 8, 12], vec![0, 0, 5]],
            vec![vec![4, 4], vec![5, 6], vec![2, 5]],
            vec![
                vec![0, 40, 41, 40],
                vec![39, 40, 40, 42],
                vec![3, 38, 40, 41],
            ],
        ];
        for m in tables {
            let (s, forced) = suppress(&m, 5).unwrap_or_else(|| panic!("{m:?} is not publishable"));
            let cols = m[0].len();
            let dom = narrowed(&m, &s, &forced, 5);
            for i in 0..m.len() {
                for j in 0..cols {
                    if s[i][j] == Shown::Below {
                        let (lo, hi) = dom[i * cols + j];
                        assert!(
                            lo == 0 && hi >= 4,
                            "{m:?}: cell {i},{j} narrowed to {lo}..{hi}: {s:?}"
                        );
                    }
                }
            }
            for line in (0..m.len())
                .map(|i| (0..cols).map(|j| s[i][j]).collect::<Vec<_>>())
                .chain((0..cols).map(|j| (0..m.len()).map(|i| s[i][j]).collect()))
            {
                let unknown = line
                    .iter()
                    .filter(|e| !matches!(e, Shown::Exact(_)))
                    .count();
                assert!(unknown != 1, "{m:?}: a line with one unknown: {line:?}");
            }
        }
    }
}
