//! Issue 10, the figures: the counts match a hand count over tips submitted through the intake
//! and triaged through the desk API; investigators get 403 on the page, the API and the
//! export; the map and the trend render in Chromium; the export (desk button and `bisik stats
//! export`) is audited and `audit verify` still passes; the CLI refuses bad months and options;
//! and the suppression test: a kecamatan with 2 tips in a month is not revealed by any row or
//! column of the CSV or the PDF.

use crate::browser::{Browser as Chromium, BrowserOpts};
use crate::desk::{Browser, add_via_ui, admin, start};
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use bisik::domain::calendar::parse_day;
use serde_json::{Value, json};
use std::path::PathBuf;

on_both!(
    figures_match_a_hand_count_for_supervisors_only,
    a_small_cell_cannot_be_recovered_from_the_export
);

/// Where the desk's screenshots go (as desk_workflow.rs).
fn screenshot_dir() -> PathBuf {
    std::env::var_os("BISIK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots/desk"))
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// Submits a tip and returns its report id.
async fn tip(app: &TestApp, area: Option<&str>, category: &str) -> String {
    let before = app.report_ids().await;
    let mut body = json!({"description": "Ada transaksi di dekat pasar", "category": category});
    if let Some(a) = area {
        body["area"] = json!(a);
    }
    app.submit(body).await;
    new_report(app, &before).await.to_string()
}

/// Sets a report's days (the server wrote today's): received, triaged and closed.
async fn set_days(
    app: &TestApp,
    id: &str,
    received: &str,
    triaged: Option<&str>,
    closed: Option<&str>,
) {
    let store = app.store().await;
    let day = |s: &str| parse_day(s).unwrap();
    sqlx::query(
        "UPDATE reports SET received_day = $1, triaged_day = $2, closed_day = $3 WHERE id = $4",
    )
    .bind(day(received))
    .bind(triaged.map(day))
    .bind(closed.map(day))
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();
}

/// A status change through the desk API, as the supervisor.
async fn status(sb: &mut Browser, id: &str, body: Value) {
    let p = sb
        .api(
            "POST",
            &format!("/api/v1/reports/{id}/status"),
            Some(&body.to_string()),
            true,
        )
        .await;
    assert_eq!(p.status, 200, "{id} {body}: {}", p.body);
}

/// `id -> count` of a list of `{"id", "count"}`.
fn counts(v: &Value) -> std::collections::BTreeMap<String, i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A POST of the export form with the session's cookie, returning status, headers and bytes.
async fn export(
    sb: &mut Browser,
    from: &str,
    to: &str,
    format: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let csrf = sb.csrf().await;
    let r = TestApp::client()
        .post(format!("{}/figures/export", sb.base))
        .header("cookie", sb.cookie.clone().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&from={from}&to={to}&format={format}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// Entries of the audit log as `audit verify` sees them: the supervisor's audit page.
async fn audit_page(sb: &mut Browser) -> String {
    let p = sb.get("/audit").await;
    assert_eq!(p.status, 200, "{}", p.body);
    p.body
}

async fn figures_match_a_hand_count_for_supervisors_only(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, mut koor) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (mut ib, _) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    ok(&app.cli(
        &[
            "keys",
            "certify",
            "--user",
            "koor",
            "--fingerprint",
            &koor.fingerprint,
        ],
        &app.passphrase(),
    ));

    // Seven tips with known areas and categories, triaged and closed through the API; then
    // their days are set to known dates in October and November 2026 (the server wrote
    // today's), so the working days are known: no holiday falls in those weeks.
    let r1 = tip(&app, Some("kandangan"), "peredaran").await;
    let r2 = tip(&app, Some("kandangan"), "peredaran").await;
    let r3 = tip(&app, Some("kandangan"), "penyalahgunaan").await;
    let r4 = tip(&app, Some("loksado"), "produksi").await;
    let r5 = tip(&app, Some("loksado"), "produksi").await;
    let r6 = tip(&app, None, "lainnya").await;
    let r7 = tip(&app, Some("daha-utara"), "penyalahgunaan").await;
    status(
        &mut sb,
        &r1,
        json!({"status": "closed", "reason": "actioned"}),
    )
    .await;
    status(&mut sb, &r2, json!({"status": "in_review"})).await;
    status(
        &mut sb,
        &r4,
        json!({"status": "closed", "reason": "false_report"}),
    )
    .await;
    status(&mut sb, &r5, json!({"status": "actioned"})).await;
    status(
        &mut sb,
        &r6,
        json!({"status": "closed", "reason": "insufficient_information"}),
    )
    .await;
    // R1: triaged after 2 working days (on time), closed after 5. R2: triaged after 4 (late).
    // R3, R7: never triaged (late by now). R4: 1 and 3. R5: 0. R6: 3 (on time) and 4.
    set_days(
        &app,
        &r1,
        "2026-10-05",
        Some("2026-10-07"),
        Some("2026-10-12"),
    )
    .await;
    set_days(&app, &r2, "2026-10-06", Some("2026-10-12"), None).await;
    set_days(&app, &r3, "2026-11-02", None, None).await;
    set_days(
        &app,
        &r4,
        "2026-11-03",
        Some("2026-11-04"),
        Some("2026-11-06"),
    )
    .await;
    set_days(&app, &r5, "2026-11-09", Some("2026-11-09"), None).await;
    set_days(
        &app,
        &r6,
        "2026-11-10",
        Some("2026-11-13"),
        Some("2026-11-16"),
    )
    .await;
    set_days(&app, &r7, "2026-10-20", None, None).await;

    let p = sb
        .api("GET", "/api/v1/figures?from=2026-10&to=2026-11", None, true)
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let f: Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(f["total"], 7, "{f}");
    let areas = counts(&f["by_area"]);
    assert_eq!(areas["kandangan"], 3);
    assert_eq!(areas["loksado"], 2);
    assert_eq!(areas["daha-utara"], 1);
    assert_eq!(areas["tanpa-kecamatan"], 1);
    assert_eq!(
        areas.values().sum::<i64>(),
        7,
        "every other kecamatan is 0: {areas:?}"
    );
    assert_eq!(
        areas.len(),
        12,
        "the 11 kecamatan and the bucket without one"
    );
    let cats = counts(&f["by_category"]);
    assert_eq!(
        (
            cats["peredaran"],
            cats["penyalahgunaan"],
            cats["produksi"],
            cats["lainnya"]
        ),
        (2, 2, 2, 1),
        "{cats:?}"
    );
    let months = counts(&f["by_month"]);
    assert_eq!(
        months.into_iter().collect::<Vec<_>>(),
        vec![("2026-10".into(), 3), ("2026-11".into(), 4)]
    );
    let outcomes = counts(&f["by_outcome"]);
    assert_eq!(
        (
            outcomes["open"],
            outcomes["actioned"],
            outcomes["duplicate"],
            outcomes["insufficient_information"],
            outcomes["false_report"]
        ),
        (4, 1, 0, 1, 1),
        "{outcomes:?}"
    );
    assert_eq!(f["sla"], json!({"met": 4, "missed": 3, "pending": 0}));
    assert_eq!(f["triaged"], 5);
    assert_eq!(f["median_triage_working_days"], 2.0);
    assert_eq!(f["closed"], 3);
    assert_eq!(f["median_close_working_days"], 4.0);
    let kandangan = f["area_month"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "kandangan")
        .unwrap();
    assert_eq!(kandangan["counts"], json!([2, 1]));
    // A range that leaves October out counts November alone.
    let p = sb
        .api("GET", "/api/v1/figures?from=2026-11&to=2026-11", None, true)
        .await;
    let f: Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(f["total"], 4, "{f}");
    // Bad ranges are refused with a clear message.
    for q in [
        "from=2026-13",
        "from=2026-11&to=2026-10",
        "to=november",
        "from=1999-12&to=2026-11",
    ] {
        let p = sb
            .api("GET", &format!("/api/v1/figures?{q}"), None, true)
            .await;
        assert_eq!(p.status, 400, "{q}: {}", p.body);
        assert!(p.body.contains("message_en"), "{q}: {}", p.body);
    }

    // The page: counts, the tile map (one tile per kecamatan) and the trend, in both languages.
    let p = sb.get("/figures?from=2026-10&to=2026-11").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("translate=\"no\""));
    assert!(p.body.contains("Angka laporan") && p.body.contains("Report figures"));
    assert_eq!(p.body.matches("<rect x=").count(), 11 + 2, "{}", p.body);
    assert!(p.body.contains("<title>Kandangan: 3</title>"), "{}", p.body);
    assert!(p.body.contains("<title>2026-11: 4</title>"), "{}", p.body);
    assert!(!p.body.contains("<script"), "no JavaScript");
    let p = sb.get("/figures?from=2026-12&to=2026-01").await;
    assert_eq!(p.status, 400, "{}", p.body);

    // Investigators: none, on the page, the API and the export.
    let p = ib.get("/figures").await;
    assert_eq!(p.status, 403, "{}", p.body);
    let p = ib.api("GET", "/api/v1/figures", None, true).await;
    assert_eq!(p.status, 403, "{}", p.body);
    let csrf = ib.csrf().await;
    let p = ib
        .post(
            "/figures/export",
            &[
                ("csrf", &csrf),
                ("from", "2026-10"),
                ("to", "2026-11"),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(!audit_page(&mut sb).await.contains("figures_exported"));

    // The export button: a CSV attachment, audited, and the log still verifies.
    let (st, headers, body) = export(&mut sb, "2026-10", "2026-11", "csv").await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"bisik-angka-2026-10-2026-11.csv\""
    );
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("no-store")
    );
    let csv = String::from_utf8(body).unwrap();
    assert!(
        // A line of small cells withholds its total, whatever its size.
        csv.contains("\"Kandangan\",\"< 5\",\"< 5\",\"x\""),
        "{csv}"
    );
    assert!(!csv.contains("2026-10-0"), "no days: {csv}");
    let (st, headers, pdf) = export(&mut sb, "2026-10", "2026-11", "pdf").await;
    assert_eq!(st, 200);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(pdf.starts_with(b"%PDF"));
    let (st, _, _) = export(&mut sb, "2026-10", "2026-11", "xls").await;
    assert_eq!(st, 400);
    let audit = audit_page(&mut sb).await;
    assert_eq!(
        audit
            .matches("figures_exported 2026-10..2026-11 (7 laporan / reports)")
            .count(),
        2,
        "{audit}"
    );
    ok(&app.cli(&["audit", "verify"], ""));

    // The CLI export, with the offline key: the same CSV, its own audit entry, still verified.
    let dir = app.path().to_owned();
    let (csv_path, pdf_path) = (dir.join("angka.csv"), dir.join("angka.pdf"));
    let out = ok(&app.cli(
        &[
            "stats",
            "export",
            "--from",
            "2026-10",
            "--to",
            "2026-11",
            "--csv",
            csv_path.to_str().unwrap(),
            "--pdf",
            pdf_path.to_str().unwrap(),
        ],
        &app.passphrase(),
    ));
    assert!(out.contains("7 report(s) counted"), "{out}");
    assert_eq!(std::fs::read_to_string(&csv_path).unwrap(), csv);
    assert!(std::fs::read(&pdf_path).unwrap().starts_with(b"%PDF"));
    let audit = audit_page(&mut sb).await;
    assert_eq!(
        audit.matches("figures_exported 2026-10..2026-11").count(),
        3,
        "{audit}"
    );
    ok(&app.cli(&["audit", "verify"], ""));

    // Bad input to the CLI: a clear message and a non-zero exit, nothing written.
    let fresh = dir.join("tidak-ada.csv");
    let f = fresh.to_str().unwrap();
    for (args, says) in [
        (
            vec!["--from", "2026-13", "--to", "2026-11", "--csv", f],
            "is not a month",
        ),
        (
            vec!["--from", "26-1", "--to", "2026-11", "--csv", f],
            "is not a month",
        ),
        (
            vec!["--from", "2026-11", "--to", "2026-10", "--csv", f],
            "after it ends",
        ),
        (
            vec!["--from", "2026-10", "--to", "2026-11"],
            "give --csv FILE, --pdf FILE or both",
        ),
        (vec!["--from", "2026-10", "--csv", f], "--to"),
        (
            vec!["--from", "2026-10", "--to", "2026-11", "--csv", f, "--days"],
            "--days",
        ),
    ] {
        let mut all = vec!["stats", "export"];
        all.extend(args.iter().copied());
        let out = app.cli(&all, &app.passphrase());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{all:?} succeeded");
        assert_ne!(out.status.code(), Some(0));
        assert!(err.contains(says), "{all:?}: {err}");
        assert!(!fresh.exists(), "{all:?} wrote a file");
    }
    let out = app.cli(
        &[
            "stats", "export", "--from", "2026-10", "--to", "2026-11", "--csv", f,
        ],
        "salah-kata-sandi",
    );
    assert!(!out.status.success(), "a wrong passphrase exports nothing");
    assert!(!fresh.exists());

    // The map and the trend in Chromium, JavaScript off; a screenshot for the record.
    let Some(mut br) = Chromium::start(BrowserOpts {
        javascript: false,
        width: 1280,
        height: 900,
    })
    .await
    else {
        return;
    };
    br.screenshots_to(screenshot_dir());
    br.goto(&app.desk_url("/login")).await;
    br.fill("#username", &koor.name).await;
    br.fill("#password", &koor.password).await;
    let code = koor.next_code().await;
    br.fill("#totp", &code).await;
    br.click_and_wait("#login").await;
    crate::desk_browser::wait_for(&br, "#fingerprint").await;
    br.goto(&app.desk_url("/figures?from=2026-10&to=2026-11"))
        .await;
    crate::desk_browser::wait_for(&br, "#figures-map").await;
    assert_eq!(br.find_all("#figures-map rect").await.len(), 11);
    assert_eq!(br.find_all("#figures-trend rect").await.len(), 2);
    let map = br.find("#figures-map").await;
    let size = map.rectangle().await.unwrap();
    assert!(
        size.2 > 300.0 && size.3 > 100.0,
        "the map is drawn: {size:?}"
    );
    let text = br.text("#figures-map").await;
    assert!(
        text.contains("Kandangan") && text.contains("Loksado"),
        "{text}"
    );
    br.shot(&format!("figures-{}", backend_name(b))).await;
}

/// A line of the table as the attacker reads it: its entries' bounds, its total's, its name.
type Line = (Vec<(i64, i64)>, (i64, i64), String);

/// What an attacker knows of a published number: an interval.
fn bounds(s: &str, total: bool) -> (i64, i64) {
    const K: i64 = 5;
    const BIG: i64 = 1_000_000;
    match s.trim() {
        "< 5" => (0, K - 1),
        // A withheld cell is at least k; a withheld total may be anything.
        "x" if total => (0, BIG),
        "x" => (K, BIG),
        // A rounded total: the nearest multiple of k, halves up.
        n if total => {
            let r: i64 = n.parse().unwrap();
            (r - K / 2, r + K / 2)
        }
        n => {
            let v: i64 = n.parse().unwrap();
            (v, v)
        }
    }
}

/// For the line `cells` summing to `total` (all as published), the values each unknown cell
/// can take: the attacker's subtraction.
fn feasible(cells: &[(i64, i64)], total: (i64, i64)) -> Vec<(i64, i64)> {
    (0..cells.len())
        .map(|i| {
            let (lo_others, hi_others) = cells
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .fold((0, 0), |(a, b), (_, (l, h))| (a + l, b + h));
            let lo = cells[i].0.max(total.0 - hi_others);
            let hi = cells[i].1.min(total.1 - lo_others);
            (lo, hi)
        })
        .collect()
}

/// The joint attack: every published line at once. `dom` holds each unknown cell's interval,
/// `lines` each line's cells (indexes into `dom`) and the interval of its sum. Returns whether
/// some whole-number assignment satisfies every line together while `target` takes a value
/// other than `not`: if none did, the lines combined would pin the cell.
fn another_value(
    dom: &[(i64, i64)],
    lines: &[(Vec<usize>, (i64, i64))],
    target: usize,
    not: i64,
) -> bool {
    /// Narrows every interval by every line until nothing moves; false when a line cannot hold.
    fn narrow(dom: &mut [(i64, i64)], lines: &[(Vec<usize>, (i64, i64))]) -> bool {
        loop {
            let mut moved = false;
            for (cells, (tlo, thi)) in lines {
                let lo: i64 = cells.iter().map(|&c| dom[c].0).sum();
                let hi: i64 = cells.iter().map(|&c| dom[c].1).sum();
                if lo > *thi || hi < *tlo {
                    return false;
                }
                for &c in cells {
                    let (clo, chi) = dom[c];
                    let nlo = clo.max(tlo - (hi - chi));
                    let nhi = chi.min(thi - (lo - clo));
                    if nlo > nhi {
                        return false;
                    }
                    if (nlo, nhi) != (clo, chi) {
                        dom[c] = (nlo, nhi);
                        moved = true;
                    }
                }
            }
            if !moved {
                return true;
            }
        }
    }
    fn search(dom: &mut [(i64, i64)], lines: &[(Vec<usize>, (i64, i64))]) -> bool {
        if !narrow(dom, lines) {
            return false;
        }
        let Some(v) = (0..dom.len())
            .filter(|&i| dom[i].0 < dom[i].1)
            .min_by_key(|&i| dom[i].1 - dom[i].0)
        else {
            return true;
        };
        let (lo, hi) = dom[v];
        (lo..=hi).any(|x| {
            let mut d = dom.to_vec();
            d[v] = (x, x);
            search(&mut d, lines)
        })
    }
    let (lo, hi) = dom[target];
    (lo..=hi).filter(|&x| x != not).any(|x| {
        let mut d = dom.to_vec();
        d[target] = (x, x);
        search(&mut d, lines)
    })
}

/// Parses the kecamatan × month table of the CSV: rows of (label, cells, total), and the
/// total row.
fn table(csv: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in csv.lines() {
        let cells: Vec<String> = line
            .split("\",\"")
            .map(|c| c.trim_matches('"').to_owned())
            .collect();
        if cells[0] == "Kecamatan / Area" {
            inside = true;
            continue;
        }
        if inside {
            rows.push(cells.clone());
            if cells[0] == "Jumlah / Total" {
                break;
            }
        }
    }
    rows
}

async fn a_small_cell_cannot_be_recovered_from_the_export(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, koor) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(
        &[
            "keys",
            "certify",
            "--user",
            "koor",
            "--fingerprint",
            &koor.fingerprint,
        ],
        &app.passphrase(),
    ));
    // Kandangan: 5 in October and 6 in November; Loksado: 2 in October (the number that must
    // not come out) and 5 in November; Angkinang: 4 and 4 (two small cells whose rounded total
    // would pin both).
    let plan = [
        ("kandangan", "2026-10-07", 5),
        ("kandangan", "2026-11-11", 6),
        ("loksado", "2026-10-14", 2),
        ("loksado", "2026-11-18", 5),
        ("angkinang", "2026-10-21", 4),
        ("angkinang", "2026-11-25", 4),
    ];
    for (area, day, n) in plan {
        for _ in 0..n {
            let id = tip(&app, Some(area), "peredaran").await;
            set_days(&app, &id, day, None, None).await;
        }
    }
    // The supervisor's own view is exact.
    let p = sb
        .api("GET", "/api/v1/figures?from=2026-10&to=2026-11", None, true)
        .await;
    let f: Value = serde_json::from_str(&p.body).unwrap();
    let loksado = f["area_month"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "loksado")
        .unwrap()
        .clone();
    assert_eq!(loksado["counts"], json!([2, 5]), "{f}");

    let (st, _, body) = export(&mut sb, "2026-10", "2026-11", "csv").await;
    assert_eq!(st, 200);
    let csv = String::from_utf8(body).unwrap();
    let dir = app.path().to_owned();
    let (csv_path, pdf_path) = (dir.join("angka.csv"), dir.join("angka.pdf"));
    ok(&app.cli(
        &[
            "stats",
            "export",
            "--from",
            "2026-10",
            "--to",
            "2026-11",
            "--csv",
            csv_path.to_str().unwrap(),
            "--pdf",
            pdf_path.to_str().unwrap(),
        ],
        &app.passphrase(),
    ));
    assert_eq!(
        std::fs::read_to_string(&csv_path).unwrap(),
        csv,
        "one rule for both"
    );

    let rows = table(&csv);
    assert_eq!(rows.len(), 11 + 1, "{csv}");
    let lok = rows.iter().find(|r| r[0] == "Loksado").unwrap();
    assert_eq!(lok[1], "< 5", "the 2 is suppressed: {csv}");
    // Every row (with its total), every column (with the month's total) and the total row:
    // no subtraction pins a suppressed cell to one value.
    let months = rows[0].len() - 2;
    let mut lines: Vec<Line> = Vec::new();
    for r in &rows {
        let cells: Vec<(i64, i64)> = r[1..=months].iter().map(|c| bounds(c, false)).collect();
        let cells = if r[0] == "Jumlah / Total" {
            r[1..=months].iter().map(|c| bounds(c, true)).collect()
        } else {
            cells
        };
        lines.push((cells, bounds(&r[months + 1], true), format!("row {}", r[0])));
    }
    for m in 0..months {
        let body = &rows[..rows.len() - 1];
        let cells = body.iter().map(|r| bounds(&r[m + 1], false)).collect();
        let total = bounds(&rows[rows.len() - 1][m + 1], true);
        lines.push((cells, total, format!("month {m}")));
    }
    // The kecamatan totals also sum to the grand total.
    let body = &rows[..rows.len() - 1];
    lines.push((
        body.iter().map(|r| bounds(&r[months + 1], true)).collect(),
        bounds(&rows[rows.len() - 1][months + 1], true),
        "area totals".into(),
    ));
    for (cells, total, name) in &lines {
        for (i, (lo, hi)) in feasible(cells, *total).into_iter().enumerate() {
            if cells[i].0 != cells[i].1 {
                assert!(lo < hi, "{name}: cell {i} is pinned to {lo}:\n{csv}");
            }
        }
    }
    // Every line at once: the body's cells are the unknowns, each row, each month column and
    // the whole table sum to their published totals together. For every suppressed cell some
    // assignment satisfying all of them gives it another value than it has, so no combination
    // of cells and totals pins it (Loksado's October 2 among them).
    let body = &rows[..rows.len() - 1];
    let total_row = &rows[rows.len() - 1];
    let mut dom: Vec<(i64, i64)> = Vec::new();
    let mut at = vec![vec![0usize; months]; body.len()];
    for (r, row) in body.iter().enumerate() {
        for m in 0..months {
            at[r][m] = dom.len();
            dom.push(bounds(&row[m + 1], false));
        }
    }
    // No cell exceeds every report counted.
    let grand = bounds(&total_row[months + 1], true);
    for d in &mut dom {
        d.1 = d.1.min(grand.1);
    }
    let mut joint: Vec<(Vec<usize>, (i64, i64))> = Vec::new();
    for (r, row) in body.iter().enumerate() {
        joint.push((at[r].clone(), bounds(&row[months + 1], true)));
    }
    for m in 0..months {
        joint.push((
            (0..body.len()).map(|r| at[r][m]).collect(),
            bounds(&total_row[m + 1], true),
        ));
    }
    joint.push(((0..dom.len()).collect(), grand));
    // The true counts, as the supervisor's exact view gives them, satisfy every line: the
    // model is the export's own.
    let exact: std::collections::HashMap<String, Vec<i64>> = f["area_month"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["area"].as_str().unwrap().to_owned(),
                a["counts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_i64().unwrap())
                    .collect(),
            )
        })
        .collect();
    let lok_row = body.iter().position(|r| r[0] == "Loksado").unwrap();
    let mut checked = 0;
    for (r, row) in body.iter().enumerate() {
        for m in 0..months {
            let c = at[r][m];
            if dom[c].0 == dom[c].1 {
                continue;
            }
            // The row's label as an id ("Loksado" is `loksado`); rows the plan left empty are 0.
            let id = row[0].to_lowercase().replace(' ', "-");
            let truth = exact.get(&id).map_or(0, |v| v[m]);
            assert!(
                dom[c].0 <= truth && truth <= dom[c].1,
                "{} month {m}: the true {truth} lies outside {:?}",
                row[0],
                dom[c]
            );
            assert!(
                another_value(&dom, &joint, c, truth),
                "{} month {m}: every line together pins it to {truth}:\n{csv}",
                row[0]
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 11,
        "the suppressed cells were checked ({checked})"
    );
    assert!(dom[at[lok_row][0]].0 < dom[at[lok_row][0]].1);

    // No published number in Loksado's row or the October column is 2.
    let oct: Vec<&String> = rows.iter().map(|r| &r[1]).collect();
    assert!(
        !lok.iter().any(|c| c == "2") && !oct.iter().any(|c| *c == "2"),
        "{csv}"
    );

    // The PDF carries the same table: each row reads as the CSV's, so the same holds for it.
    let txt = std::process::Command::new("pdftotext")
        .args(["-layout", pdf_path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(txt.status.success());
    let text = String::from_utf8_lossy(&txt.stdout).to_string();
    // pdftotext drops the narrow space of "< 5"; words are compared without it.
    let squash = |s: &str| {
        s.replace("< ", "<")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let pdf_lines: Vec<String> = text.lines().map(squash).collect();
    for r in &rows {
        let want = squash(&r.join(" "));
        assert!(
            pdf_lines.contains(&want),
            "the PDF lacks the row {want:?}:\n{text}"
        );
    }
    assert!(
        !pdf_lines
            .iter()
            .any(|l| l.starts_with("Loksado") && l.split(' ').any(|w| w == "2"))
    );
    assert!(
        text.contains("kurang dari 5") && text.contains("fewer than 5"),
        "{text}"
    );
    // It renders, and its pages go beside the desk's screenshots.
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = dir.join(format!("figures-export-{}", backend_name(b)));
    let png = std::process::Command::new("pdftoppm")
        .args([
            "-png",
            "-r",
            "72",
            pdf_path.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ])
        .output()
        .expect("pdftoppm (poppler-utils)");
    assert!(
        png.status.success(),
        "{}",
        String::from_utf8_lossy(&png.stderr)
    );
    ok(&app.cli(&["audit", "verify"], ""));
}
