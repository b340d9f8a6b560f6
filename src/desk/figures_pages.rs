//! The figures page `GET /figures`, its JSON `GET /api/v1/figures` and the export for other
//! agencies `POST /figures/export` (issue 10). Certified supervisors only: an investigator
//! gets 403 on all three (docs/FIGURES.md says why), and a supervisor not yet certified sees
//! an empty page that says so, as in the inbox.
//!
//! The page and the JSON show exact counts to the supervisor, who can open every report they
//! count anyway. Only the export leaves the office, and only in its suppressed form
//! ([`super::figures::Export`]); each export is audited as `figures_exported`. The map and the
//! trend chart are SVG drawn by the template (askama escapes every text), with no script.

use super::DeskState;
use super::accounts::Role;
use super::audit::{Event, Signer};
use super::figures::{self, Counted, Export, Figures, Range, RangeError, SlaCounts};
use super::keys::StaffKeys;
use super::pages::{Base, Need, authed, render};
use super::report_pages::outcome;
use super::session::{Authed, Stage};
use super::sharing::{ShareError, acting, recipient};
use super::text::{self, Text};
use crate::domain::{ReportId, StaffId, today};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Reading the figures: supervisors.
const SUPERVISOR_READ: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor],
    change: false,
};
/// Exporting them: supervisors, with the form's CSRF token.
const SUPERVISOR_EXPORT: Need = Need {
    stage: Stage::Full,
    roles: &[Role::Supervisor],
    change: true,
};

/// What a figures computation needs to sign its export.
pub struct Counting {
    /// The counts.
    pub figures: Figures,
    /// The reports counted, in id order (named by the export's audit entry).
    pub reports: Vec<ReportId>,
    keys: StaffKeys,
    me: StaffId,
}

/// The figures of `range` over the reports the acting certified supervisor can open. The areas
/// come from the session's search summaries (built or refreshed here, audited as `indexed`);
/// the rest from the plaintext columns.
pub async fn count(
    st: &actix_web::web::Data<DeskState>,
    a: &Authed,
    range: Range,
) -> Result<Counting, ShareError> {
    let certified = st.audit.certified().await?;
    let (keys, me) = acting(a, &certified, true)?;
    let mine = st
        .store
        .active_staff_key(&a.current.staff_id)
        .await?
        .ok_or(ShareError::Refused(text::NO_KEYS))?;
    let me_key = recipient(&mine)?;
    let fp = hex::encode(me_key.fingerprint());
    let summaries =
        super::search::complete(st, a, &keys, me, &me_key, &fp, super::inbox::SEARCH_WAIT).await?;
    let areas = summaries.areas();
    let rows = st
        .reports
        .figure_rows(&fp, range.from.first_day(), range.to.last_day())
        .await?;
    let reports: Vec<ReportId> = rows.iter().map(|r| r.id).collect();
    let counted: Vec<Counted> = rows
        .into_iter()
        .map(|row| {
            let area = areas.get(&row.id).map(|z| (*z).to_owned());
            Counted { row, area }
        })
        .collect();
    let figures = figures::compute(&st.cfg, range, &counted, today());
    Ok(Counting {
        figures,
        reports,
        keys,
        me,
    })
}

/// The range of the query string or form.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct FiguresQuery {
    /// First month, `YYYY-MM`, 2000 to 2099 (empty or absent: eleven months before `to`).
    #[param(pattern = "^(20[0-9]{2}-(0[1-9]|1[0-2]))?$")]
    pub from: Option<String>,
    /// Last month, `YYYY-MM`, 2000 to 2099 (empty or absent: this month); not before `from`.
    #[param(pattern = "^(20[0-9]{2}-(0[1-9]|1[0-2]))?$")]
    pub to: Option<String>,
}

fn blank(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

fn range_of(from: Option<&str>, to: Option<&str>) -> Result<Range, Text> {
    Range::parse(blank(from), blank(to), today()).map_err(|e| match e {
        RangeError::BadMonth(_) => text::BAD_MONTH,
        RangeError::Reversed(..) => text::MONTHS_REVERSED,
    })
}

/// A labelled count on the page.
struct Line {
    id: String,
    en: String,
    n: i64,
}

/// A kecamatan's tile.
struct Tile {
    x: u32,
    y: u32,
    fill: &'static str,
    ink: &'static str,
    name: String,
    n: i64,
}

/// A month's bar.
struct Bar {
    x: i64,
    y: i64,
    h: i64,
    label: String,
    n: i64,
}

/// Tile size and gap on the map, in SVG units.
const TILE: (u32, u32, u32) = (104, 62, 6);
/// The trend chart: bar pitch, plot height, top and bottom margins.
const CHART: (i64, i64, i64, i64) = (46, 140, 24, 34);

/// Five shades from light to dark, and the text colour that reads on each.
const SHADES: [(&str, &str); 5] = [
    ("#f1eef6", "#1a1a1a"),
    ("#d4b9da", "#1a1a1a"),
    ("#c994c7", "#1a1a1a"),
    ("#dd1c77", "#ffffff"),
    ("#980043", "#ffffff"),
];

#[derive(Template)]
#[template(path = "desk/figures.html")]
struct FiguresPage {
    base: Base,
    from: String,
    to: String,
    counted: bool,
    total: i64,
    map_w: u32,
    map_h: u32,
    tiles: Vec<Tile>,
    chart_w: i64,
    chart_h: i64,
    chart_base: i64,
    bars: Vec<Bar>,
    peak: i64,
    areas: Vec<Line>,
    categories: Vec<Line>,
    outcomes: Vec<Line>,
    sla: Vec<Line>,
    triaged: i64,
    closed: i64,
    median_triage: String,
    median_close: String,
    k: i64,
}

fn median_page(m: Option<f64>) -> String {
    m.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn page_of(st: &DeskState, base: Base, range: Range, f: Option<&Figures>) -> FiguresPage {
    let cfg = &st.cfg;
    let empty;
    let f = match f {
        Some(f) => f,
        None => {
            empty = figures::compute(cfg, range, &[], today());
            &empty
        }
    };
    let by_area = f.by_area();
    let most = by_area.iter().copied().max().unwrap_or(0).max(1);
    let (tw, th, gap) = TILE;
    let placed = cfg.figures.tiles_for(&cfg.areas);
    let tiles: Vec<Tile> = placed
        .iter()
        .map(|t| {
            let i = f.areas.iter().position(|a| *a == t.area).unwrap_or(0);
            let n = by_area.get(i).copied().unwrap_or(0);
            let shade = if n == 0 {
                0
            } else {
                (1 + (n * 4 - 1) / most).min(4) as usize
            };
            Tile {
                x: gap + t.col * (tw + gap),
                y: gap + t.row * (th + gap),
                fill: SHADES[shade].0,
                ink: SHADES[shade].1,
                name: figures::area_label(cfg, &t.area).0,
                n,
            }
        })
        .collect();
    let cols = placed.iter().map(|t| t.col + 1).max().unwrap_or(1);
    let rows = placed.iter().map(|t| t.row + 1).max().unwrap_or(1);
    let by_month = f.by_month();
    let peak = by_month.iter().copied().max().unwrap_or(0).max(1);
    let (pitch, plot, top, bottom) = CHART;
    let bars = f
        .months
        .iter()
        .zip(&by_month)
        .enumerate()
        .map(|(i, (m, &n))| {
            let h = n * plot / peak;
            Bar {
                x: 40 + i as i64 * pitch,
                y: top + plot - h,
                h,
                label: m.to_string(),
                n,
            }
        })
        .collect();
    let lines = |labels: Vec<(String, String)>, counts: &[i64]| -> Vec<Line> {
        labels
            .into_iter()
            .zip(counts)
            .map(|((id, en), n)| Line { id, en, n: *n })
            .collect()
    };
    let areas = lines(
        f.areas
            .iter()
            .map(|a| figures::area_label(cfg, a))
            .collect(),
        &by_area,
    );
    let categories = lines(
        f.categories
            .iter()
            .map(|c| figures::category_label(cfg, c))
            .collect(),
        &f.by_category,
    );
    let outcomes = lines(figures::outcome_labels(), &f.by_outcome);
    let sla = lines(
        figures::sla_labels()
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
        &[f.sla.met, f.sla.missed, f.sla.pending],
    );
    FiguresPage {
        base,
        from: range.from.to_string(),
        to: range.to.to_string(),
        counted: true,
        total: f.total(),
        map_w: gap + cols * (tw + gap),
        map_h: gap + rows * (th + gap),
        tiles,
        chart_w: 40 + f.months.len() as i64 * pitch + 10,
        chart_h: top + plot + bottom,
        chart_base: top + plot,
        bars,
        peak,
        areas,
        categories,
        outcomes,
        sla,
        triaged: f.triage.0,
        closed: f.close.0,
        median_triage: median_page(f.triage.1),
        median_close: median_page(f.close.1),
        k: cfg.figures.k,
    }
}

/// GET /figures (certified supervisors): the counts of a range of months, the kecamatan map
/// and the monthly trend, and the export form.
pub async fn page(
    req: HttpRequest,
    st: web::Data<DeskState>,
    q: web::Query<FiguresQuery>,
) -> HttpResponse {
    let a = match authed(&req, &st, SUPERVISOR_READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut base = Base::of(&a);
    let range = match range_of(q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(t) => return outcome(base, Err(ShareError::Refused(t))),
    };
    let page = match count(&st, &a, range).await {
        Ok(c) => page_of(&st, base, range, Some(&c.figures)),
        // Not certified yet: an empty page that says why, as the inbox does.
        Err(ShareError::Refused(t)) if t == text::NOT_CERTIFIED => {
            base.notice = Some(t);
            let mut p = page_of(&st, base, range, None);
            p.counted = false;
            p
        }
        Err(e) => return outcome(base, Err(e)),
    };
    render(StatusCode::OK, &page)
}

/// A count with its id.
#[derive(Serialize, ToSchema)]
pub struct NamedCount {
    /// Area, category, month (`YYYY-MM`) or outcome id.
    pub id: String,
    /// Reports.
    pub count: i64,
}

/// One area's counts by month.
#[derive(Serialize, ToSchema)]
pub struct AreaMonths {
    /// Area id (`tanpa-kecamatan` for tips naming none).
    pub area: String,
    /// Reports by month, in the order of `by_month`.
    pub counts: Vec<i64>,
}

/// The figures of a range: exact counts, for the supervisor (the export for other agencies is
/// the suppressed one).
#[derive(Serialize, ToSchema)]
pub struct FiguresView {
    /// First month, `YYYY-MM`.
    pub from: String,
    /// Last month, `YYYY-MM`.
    pub to: String,
    /// Reports received in the range that this supervisor holds.
    pub total: i64,
    /// By area (kecamatan), the configured ones then `tanpa-kecamatan`.
    pub by_area: Vec<NamedCount>,
    /// By category, the configured ones then `lainnya-tidak-terdaftar`.
    pub by_category: Vec<NamedCount>,
    /// By month received.
    pub by_month: Vec<NamedCount>,
    /// `open`, then closed for each reason.
    pub by_outcome: Vec<NamedCount>,
    /// Area by month.
    pub area_month: Vec<AreaMonths>,
    /// Triage against the SLA limit (working days).
    pub sla: SlaCounts,
    /// Reports triaged.
    pub triaged: i64,
    /// Median working days from receipt to triage; `null` when none was triaged.
    pub median_triage_working_days: Option<f64>,
    /// Reports closed.
    pub closed: i64,
    /// Median working days from receipt to closure; `null` when none was closed.
    pub median_close_working_days: Option<f64>,
}

impl FiguresView {
    fn of(f: &Figures) -> Self {
        let named = |ids: Vec<String>, counts: &[i64]| -> Vec<NamedCount> {
            ids.into_iter()
                .zip(counts)
                .map(|(id, n)| NamedCount { id, count: *n })
                .collect()
        };
        FiguresView {
            from: f.range.from.to_string(),
            to: f.range.to.to_string(),
            total: f.total(),
            by_area: named(f.areas.clone(), &f.by_area()),
            by_category: named(f.categories.clone(), &f.by_category),
            by_month: named(
                f.months.iter().map(|m| m.to_string()).collect(),
                &f.by_month(),
            ),
            by_outcome: named(
                figures::outcome_ids()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                &f.by_outcome,
            ),
            area_month: f
                .areas
                .iter()
                .zip(&f.area_month)
                .map(|(a, c)| AreaMonths {
                    area: a.clone(),
                    counts: c.clone(),
                })
                .collect(),
            sla: f.sla,
            triaged: f.triage.0,
            median_triage_working_days: f.triage.1,
            closed: f.close.0,
            median_close_working_days: f.close.1,
        }
    }
}

/// The figures of a range of months over the reports this supervisor holds (exact counts;
/// the areas are decrypted in the session, audited as `indexed`).
#[utoipa::path(
    get, path = "/api/v1/figures", params(FiguresQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures", body = FiguresView),
        (status = 400, description = "A month is not YYYY-MM (`bad_query`), or `from` is after `to` (`months_reversed`)", body = crate::web::error::ErrorBody),
        (status = 401, description = "No live session", body = crate::web::error::ErrorBody),
        (status = 403, description = "Not a supervisor (investigators see no figures)", body = crate::web::error::ErrorBody),
        (status = 409, description = "The session holds no unlocked keys", body = crate::web::error::ErrorBody),
    )
)]
pub async fn api(req: HttpRequest, st: web::Data<DeskState>) -> HttpResponse {
    let a = match authed(&req, &st, SUPERVISOR_READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(q) = web::Query::<FiguresQuery>::from_query(req.query_string()) else {
        return super::api::error(StatusCode::BAD_REQUEST, "bad_query", text::BAD_MONTH);
    };
    let range = match range_of(q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(t) if t == text::MONTHS_REVERSED => {
            return super::api::error(StatusCode::BAD_REQUEST, "months_reversed", t);
        }
        Err(t) => return super::api::error(StatusCode::BAD_REQUEST, "bad_query", t),
    };
    let f = match count(&st, &a, range).await {
        Ok(c) => c.figures,
        // Not certified yet: nothing to count, as the report list answers.
        Err(ShareError::Refused(t)) if t == text::NOT_CERTIFIED => {
            figures::compute(&st.cfg, range, &[], today())
        }
        Err(e) => return super::api::share_error(e),
    };
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(FiguresView::of(&f))
}

/// The export form.
#[derive(Deserialize)]
pub struct ExportForm {
    csrf: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// POST /figures/export (certified supervisors): the suppressed figures of a range as CSV or
/// PDF, audited as `figures_exported` (with every report counted) before the file is sent.
pub async fn export(
    req: HttpRequest,
    st: web::Data<DeskState>,
    form: web::Form<ExportForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let a = match authed(&req, &st, SUPERVISOR_EXPORT, f.csrf.as_deref()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let base = Base::of(&a);
    let range = match range_of(f.from.as_deref(), f.to.as_deref()) {
        Ok(r) => r,
        Err(t) => return outcome(base, Err(ShareError::Refused(t))),
    };
    let pdf = match f.format.as_deref() {
        Some("csv") => false,
        Some("pdf") => true,
        _ => return outcome(base, Err(ShareError::Refused(text::BAD_FORMAT))),
    };
    let c = match count(&st, &a, range).await {
        Ok(c) => c,
        Err(e) => return outcome(base, Err(e)),
    };
    let Some(out) = Export::suppress(&st.cfg, &c.figures) else {
        return outcome(base, Err(ShareError::Refused(text::FIGURES_UNSAFE)));
    };
    let (body, kind, ext) = if pdf {
        match out.pdf() {
            Ok(b) => (b, "application/pdf", "pdf"),
            Err(e) => return outcome(base, Err(ShareError::Internal(e.to_string()))),
        }
    } else {
        (out.csv().into_bytes(), "text/csv; charset=utf-8", "csv")
    };
    // Audited first: a file that leaves without its entry would be an export nobody can see.
    if let Err(e) = st
        .audit
        .append(
            &Signer::Staff {
                id: c.me,
                key: &c.keys.ed25519,
            },
            Event::FiguresExported {
                from: range.from.to_string(),
                to: range.to.to_string(),
                reports: c.reports,
            },
        )
        .await
    {
        return outcome(base, Err(ShareError::Internal(e.to_string())));
    }
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header(("cache-control", "no-store"))
        .insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"bisik-angka-{}-{}.{ext}\"",
                range.from, range.to
            ),
        ))
        .body(body)
}
