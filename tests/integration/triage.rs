//! Triage (issue 7): status with a reason for closures, priority, duplicates and bulk changes,
//! the inbox's filters and sorts, who may do which, and what the reporter sees of it all (I11):
//! `received` until the closure delay has passed, then `closed`. The delay is moved through
//! the configuration file, never by sleeping.

use crate::desk::{Browser, add_via_ui, admin, start};
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use serde_json::json;

on_both!(
    labels_stay_with_staff,
    triage_moves_reports_to_an_outcome_the_reporter_sees_late,
    sla_flags_follow_the_cutoffs_in_the_database,
    inbox_pages_follow_the_full_order_for_any_reader,
    reply_templates_fill_the_draft_the_reporter_then_reads
);

async fn post(b: &mut Browser, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let csrf = b.csrf().await;
    let mut f = vec![("csrf", csrf.as_str())];
    f.extend_from_slice(fields);
    let p = b.post(path, &f).await;
    (p.status, p.body)
}

async fn submit(app: &TestApp, text: &str) -> (String, String) {
    let before = app.report_ids().await;
    let code = app.submit(json!({ "description": text })).await;
    (new_report(app, &before).await.to_string(), code)
}

/// The report ids an inbox page lists, in the order shown.
fn listed(body: &str, ids: &[&str]) -> Vec<String> {
    let mut at: Vec<(usize, String)> = ids
        .iter()
        .filter_map(|id| {
            body.find(&format!("/report?id={id}"))
                .map(|i| (i, id.to_string()))
        })
        .collect();
    at.sort();
    at.into_iter().map(|(_, id)| id).collect()
}

async fn triage_moves_reports_to_an_outcome_the_reporter_sees_late(b: Backend) {
    let mut app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (mut ib, inv) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let (a, code_a) = submit(&app, "laporan A: sabu di warung").await;
    let (bb, _) = submit(&app, "laporan B: sama dengan C").await;
    let (c, _) = submit(&app, "laporan C: transaksi malam").await;
    let all = [a.as_str(), bb.as_str(), c.as_str()];

    // The supervisor's inbox: all three, new, normal; nothing overdue on the day they came.
    let p = sb.get("/inbox?status=new").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(listed(&p.body, &all).len(), 3, "{}", p.body);
    assert!(p.body.contains("0 belum ditinjau"), "{}", p.body);
    let p = sb.get("/inbox?sla=flagged").await;
    assert!(listed(&p.body, &all).is_empty(), "{}", p.body);
    // Bad filter values get the desk's own clear answer.
    for q in [
        "status=triaged",
        "priority=9",
        "sort=id",
        "page=abc",
        "category=<x>",
    ] {
        let p = sb.get(&format!("/inbox?{q}")).await;
        assert_eq!(p.status, 400, "{q}: {}", p.body);
        assert!(p.body.contains("id=\"error\""), "{q}: {}", p.body);
    }

    // Priority: urgent first when sorting by priority, and the filter finds it.
    let (s, body) = post(
        &mut sb,
        "/reports/priority",
        &[("report", &c), ("priority", "urgent")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let p = sb.get("/inbox?priority=urgent").await;
    assert_eq!(listed(&p.body, &all), [c.as_str()], "{}", p.body);
    let p = sb.get("/inbox?sort=priority").await;
    assert_eq!(listed(&p.body, &all)[0], c, "{}", p.body);
    let p = sb.get("/inbox?sort=priority&order=asc").await;
    assert_eq!(listed(&p.body, &all)[2], c, "{}", p.body);

    // Share A with the investigator, who records progress but cannot close, reopen or set
    // priority, and cannot touch B, which is not theirs (the same 404 as no report at all).
    let (s, body) = post(
        &mut sb,
        "/reports/share",
        &[
            ("report", &a),
            ("username", "petugas"),
            ("fingerprint", &inv.fingerprint),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(
        &mut ib,
        "/reports/status",
        &[("report", &a), ("status", "in_review")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(
        &mut ib,
        "/reports/status",
        &[("report", &a), ("status", "closed"), ("reason", "actioned")],
    )
    .await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("Hanya koordinator"), "{body}");
    let (s, _) = post(
        &mut ib,
        "/reports/priority",
        &[("report", &a), ("priority", "low")],
    )
    .await;
    assert_eq!(s, 403);
    let (s, theirs) = post(
        &mut ib,
        "/reports/status",
        &[("report", &bb), ("status", "actioned")],
    )
    .await;
    assert_eq!(s, 404, "{theirs}");
    let missing = bisik::domain::ReportId::new().to_string();
    let (s, none) = post(
        &mut ib,
        "/reports/status",
        &[("report", &missing), ("status", "actioned")],
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        crate::desk::field(&theirs, "id=\"error\">", "<"),
        crate::desk::field(&none, "id=\"error\">", "<")
    );
    let p = ib.get("/inbox?status=in_review").await;
    assert_eq!(listed(&p.body, &all), [a.as_str()], "{}", p.body);

    // Closing needs a reason, a reason needs a closure, a duplicate needs an original that is
    // another report this person can open.
    for (fields, why) in [
        (vec![("status", "closed")], "penutupan"),
        (
            vec![("status", "actioned"), ("reason", "false_report")],
            "hanya diisi",
        ),
        (
            vec![("status", "closed"), ("reason", "duplicate")],
            "aslinya",
        ),
        (
            vec![
                ("status", "closed"),
                ("reason", "duplicate"),
                ("duplicate_of", bb.as_str()),
            ],
            "aslinya",
        ),
        (
            vec![
                ("status", "closed"),
                ("reason", "duplicate"),
                ("duplicate_of", missing.as_str()),
            ],
            "aslinya",
        ),
        (
            vec![("status", "closed"), ("reason", "bogus")],
            "tidak dikenal",
        ),
    ] {
        let mut f = vec![("report", bb.as_str())];
        f.extend(fields.iter().copied());
        let (s, body) = post(&mut sb, "/reports/status", &f).await;
        assert_eq!(s, 400, "{fields:?}: {body}");
        assert!(body.contains(why), "{fields:?}: {body}");
    }
    let (s, body) = post(
        &mut sb,
        "/reports/status",
        &[
            ("report", &bb),
            ("status", "closed"),
            ("reason", "duplicate"),
            ("duplicate_of", &c),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let page = sb.get(&format!("/report?id={bb}")).await;
    assert!(
        page.body.contains("Duplikat") && page.body.contains(&format!("/report?id={c}")),
        "{}",
        page.body
    );
    // The report's history, from the signed audit log, is on its page; another report's
    // changes are not.
    let history = crate::desk::field(&page.body, "class=\"history\"", "</table>");
    assert!(
        history.contains(&format!("status closed:duplicate:{c}")),
        "{history}"
    );
    assert!(history.contains("decrypted"), "{history}");
    assert!(
        !history.contains("priority urgent"),
        "C's priority is not B's history: {history}"
    );
    // A closed report reopens only to "in review".
    let (s, body) = post(
        &mut sb,
        "/reports/status",
        &[("report", &bb), ("status", "actioned")],
    )
    .await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = post(
        &mut sb,
        "/reports/status",
        &[("report", &bb), ("status", "in_review")],
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Bulk, against a flood: B and C low and then closed as false reports in two actions.
    let (s, body) = post(
        &mut sb,
        "/reports/bulk",
        &[("action", "priority:low"), ("r0", &bb), ("r7", &c)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let p = sb.get("/inbox?priority=low").await;
    assert_eq!(listed(&p.body, &all).len(), 2, "{}", p.body);
    let (s, body) = post(
        &mut ib,
        "/reports/bulk",
        &[("action", "status:actioned"), ("r0", &a)],
    )
    .await;
    assert_eq!(s, 403, "an investigator has no bulk action: {body}");
    let (s, body) = post(
        &mut sb,
        "/reports/bulk",
        &[("action", "close:false_report"), ("r0", &bb), ("r1", &c)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let p = sb.get("/inbox?status=closed").await;
    assert_eq!(listed(&p.body, &all).len(), 2, "{}", p.body);
    assert!(p.body.contains("Laporan palsu"), "{}", p.body);

    // The supervisor closes A. The reporter still sees `received` (14 days by default, I11).
    let (s, body) = post(
        &mut sb,
        "/reports/status",
        &[("report", &a), ("status", "closed"), ("reason", "actioned")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (_, v) = app.followup(&code_a).await;
    assert_eq!(v["status"], "received", "{v}");

    // Every change is in the signed audit log, which verifies.
    let audit = sb.get("/audit").await;
    for needle in [
        format!("closed:duplicate:{c}"),
        "closed:false_report".to_owned(),
        "closed:actioned".to_owned(),
        "in_review".to_owned(),
    ] {
        assert!(audit.body.contains(&needle), "{needle}: {}", audit.body);
    }
    ok(&app.cli(&["audit", "verify"], ""));

    // The closure delay moves through configuration: with 0 days, the closure shows at once.
    app.stop();
    let cfg = app.path().join("delay0.toml");
    std::fs::write(&cfg, "[reporter]\nclosed_delay_days = 0\n").unwrap();
    app.set_env("BISIK_CONFIG", &cfg.display().to_string());
    app.launch("serve").await;
    let (_, v) = app.followup(&code_a).await;
    assert_eq!(v["status"], "closed", "{v}");
}

/// The SLA filters run in SQL against cut-off days (the calendar itself is unit-tested in
/// src/domain/calendar.rs): a new report received on or before the triage cut-off is overdue,
/// and so is a reporter message waiting since the answer cut-off or earlier, until staff answer.
async fn sla_flags_follow_the_cutoffs_in_the_database(b: Backend) {
    use bisik::domain::today;
    use bisik::store::{InboxQuery, SlaFilter};
    let app = TestApp::start(b).await;
    let (quiet, _) = submit(&app, "tanpa pesan").await;
    let (talky, code) = submit(&app, "dengan pesan").await;
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "tambahan"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let store = app.store().await;
    let id = bisik::domain::ReportId::parse(&quiet).unwrap();
    let fp = store.wraps(id).await.unwrap()[0].recipient_fp.clone();
    let day = today();
    let ids = |rows: Vec<bisik::store::InboxRow>| {
        let mut v: Vec<String> = rows.into_iter().map(|r| r.id.to_string()).collect();
        v.sort();
        v
    };
    let mut both = vec![quiet.clone(), talky.clone()];
    both.sort();
    let run = |sla: SlaFilter| {
        let store = &store;
        let fp = fp.clone();
        async move {
            let mut q = InboxQuery::all(&fp, 50, 0);
            q.sla = Some(sla);
            let (rows, total) = store.inbox(&q).await.unwrap();
            assert_eq!(rows.len() as i64, total);
            rows
        }
    };
    assert_eq!(ids(run(SlaFilter::TriageOverdue(day)).await), both);
    assert!(run(SlaFilter::TriageOverdue(day - 1)).await.is_empty());
    assert_eq!(
        ids(run(SlaFilter::AnswerOverdue(day)).await),
        [talky.as_str()]
    );
    assert!(run(SlaFilter::AnswerOverdue(day - 1)).await.is_empty());
    assert_eq!(
        ids(run(SlaFilter::Either {
            triage: day - 1,
            answer: day
        })
        .await),
        [talky.as_str()]
    );
    assert_eq!(
        ids(run(SlaFilter::Neither {
            triage: day - 1,
            answer: day
        })
        .await),
        [quiet.as_str()]
    );
    // The row says who waits, and since when: the inbox's "new message" marker.
    let (rows, _) = store.inbox(&InboxQuery::all(&fp, 50, 0)).await.unwrap();
    for r in rows {
        let want = (r.id.to_string() == talky).then_some(day);
        assert_eq!(r.waiting_since, want, "{}", r.id);
    }
    // A triaged report is no longer triage-overdue; a closed one is not answer-overdue.
    let t = bisik::domain::ReportId::parse(&talky).unwrap();
    store
        .set_triage_status(
            t,
            bisik::domain::Status::Closed,
            Some(bisik::domain::CloseReason::Actioned),
            None,
            day,
        )
        .await
        .unwrap();
    assert_eq!(
        ids(run(SlaFilter::TriageOverdue(day)).await),
        [quiet.as_str()]
    );
    assert!(run(SlaFilter::AnswerOverdue(day)).await.is_empty());
    store.close().await;
}

/// Labels (issue 7): configurable, set on the report page and in bulk, sealed under K_s as
/// staff-only items. The reporter's code never shows them, and K_r (what a reporter's code
/// unlocks) does not open them.
async fn labels_stay_with_staff(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let (a, code) = submit(&app, "label A").await;
    let (c, _) = submit(&app, "label C").await;
    let (s, body) = post(
        &mut sb,
        "/reports/labels",
        &[
            ("report", &a),
            ("label_perlu-lokasi", "on"),
            ("label_berulang", "on"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(
        &mut sb,
        "/reports/labels",
        &[("report", &a), ("label_bukan-label", "on")],
    )
    .await;
    assert_eq!(s, 400, "an unconfigured label is refused: {body}");
    let page = sb.get(&format!("/report?id={a}")).await;
    assert!(
        page.body.contains("name=\"label_perlu-lokasi\" checked"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("name=\"label_berulang\" checked"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"label_diduga-palsu\" checked"),
        "{}",
        page.body
    );
    // Bulk: a flood marked in one action (added to what each report has).
    let (s, body) = post(
        &mut sb,
        "/reports/bulk",
        &[("action", "label:diduga-palsu"), ("r0", &a), ("r1", &c)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let page = sb.get(&format!("/report?id={a}")).await;
    for l in ["perlu-lokasi", "berulang", "diduga-palsu"] {
        assert!(
            page.body.contains(&format!("name=\"label_{l}\" checked")),
            "{l}: {}",
            page.body
        );
    }
    let page = sb.get(&format!("/report?id={c}")).await;
    assert!(
        page.body.contains("name=\"label_diduga-palsu\" checked"),
        "{}",
        page.body
    );
    // Never through the reporter's code, and K_r opens no label item.
    let (_, v) = app.followup(&code).await;
    for l in ["perlu-lokasi", "berulang", "diduga-palsu"] {
        assert!(!v.to_string().contains(l), "{v}");
    }
    let store = app.store().await;
    let id = bisik::domain::ReportId::parse(&a).unwrap();
    let k_r = crate::conversation::k_r_of(&app, &store.wraps(id).await.unwrap(), id);
    let items = store.items(id).await.unwrap();
    let labelled: Vec<_> = items
        .iter()
        .filter(|i| i.kind == bisik::domain::ItemKind::Labels)
        .collect();
    assert_eq!(labelled.len(), 2, "one item per change");
    for it in labelled {
        assert_eq!(it.direction, bisik::domain::Direction::StaffOnly);
        let aad = bisik::items::item_aad(id, it.id, it.kind, it.direction, it.seq, it.prev);
        assert!(bisik::crypto::envelope::open(&k_r, &aad, &it.sealed).is_err());
    }
    // The escrow holder's recovery shows them.
    let rec: serde_json::Value = serde_json::from_str(&ok(&app.recover(&a))).unwrap();
    assert_eq!(
        rec["labels"]["labels"],
        json!(["diduga-palsu", "perlu-lokasi", "berulang"]),
        "{rec}"
    );
    store.close().await;
}

/// The inbox's first pages walk the newest reports and stop (`Store::inbox`), falling back to
/// the full query when that walk holds too few of the reader's: every page, for a reader who
/// holds every report and for one who holds a few, filtered or not, in both directions, must be
/// exactly the slice of the full order (day, then random id) that a hand sort gives. Rows are
/// inserted through the store with many reports on the same day, so ties are common; their
/// sealed blobs are never opened here. The supervisors' flag counts are checked against a hand
/// count of the same rows.
async fn inbox_pages_follow_the_full_order_for_any_reader(b: Backend) {
    use bisik::domain::{Direction, ItemId, ItemKind, ReportId, Status, today};
    use bisik::store::{InboxQuery, NewItem, NewReport};
    let app = TestApp::start(b).await;
    let store = app.store().await;
    let (all_fp, few_fp) = ("aa".repeat(32), "bb".repeat(32));
    let day = today();
    let mut made: Vec<(ReportId, i64, bool)> = Vec::new();
    let mut rows = Vec::new();
    for n in 0..130_i64 {
        let id = ReportId::new();
        let few = n % 9 == 0;
        let received = day - (n * 7919) % 12;
        let mut wraps = vec![(all_fp.clone(), 1_i16, vec![1u8; 8])];
        if few {
            wraps.push((few_fp.clone(), 1, vec![2u8; 8]));
        }
        let mut tag = [0u8; 32];
        tag[..16].copy_from_slice(&id.bytes());
        rows.push(NewReport {
            id,
            unit: "bnnk-hss".into(),
            category: "lainnya".into(),
            received_day: received,
            header: vec![0; 8],
            header_sig: vec![0; 64],
            wraps,
            tag,
            kdf_version: 1,
            wrapped_key: vec![0; 48],
            expires_day: day + 90,
            tip: NewItem {
                id: ItemId::new(),
                kind: ItemKind::Tip,
                direction: Direction::ReporterToStaff,
                sealed: vec![0; 40],
                prev: [0; 32],
                day: received,
                idem: None,
            },
            head: (vec![0; 8], vec![0; 64]),
        });
        made.push((id, received, few));
    }
    let refs: Vec<&NewReport> = rows.iter().collect();
    store.insert_reports(&refs).await.unwrap();
    // Every third report is in review; every fifth has a reporter message (day - 6), and every
    // tenth also has staff's answer after it.
    let mut in_review = std::collections::HashSet::new();
    let mut waiting = std::collections::HashSet::new();
    for (n, (id, _, _)) in made.iter().enumerate() {
        if n % 3 == 0 {
            store
                .set_triage_status(*id, Status::InReview, None, None, day)
                .await
                .unwrap();
            in_review.insert(*id);
        }
        if n % 5 == 0 {
            let mut seq = 1;
            for dir in [Direction::ReporterToStaff, Direction::StaffToReporter] {
                if dir == Direction::StaffToReporter && n % 10 != 0 {
                    continue;
                }
                let item = NewItem {
                    id: ItemId::new(),
                    kind: ItemKind::Message,
                    direction: dir,
                    sealed: vec![0; 40],
                    prev: [0; 32],
                    day: day - 6,
                    idem: None,
                };
                let head = vec![seq as u8; 8];
                let r = store
                    .append_item(*id, seq, &item, (&head, &[0; 64]), None)
                    .await
                    .unwrap();
                assert_eq!(r, bisik::store::Appended::Stored);
                seq += 1;
            }
            if n % 10 != 0 {
                waiting.insert(*id);
            }
        }
    }
    for (fp, few) in [(&all_fp, false), (&few_fp, true)] {
        for status in [None, Some(Status::New)] {
            for descending in [true, false] {
                let mut want: Vec<(i64, [u8; 16], ReportId)> = made
                    .iter()
                    .filter(|(_, _, f)| !few || *f)
                    .filter(|(id, _, _)| match status {
                        Some(Status::New) => !in_review.contains(id),
                        _ => true,
                    })
                    .map(|(id, d, _)| (*d, id.bytes(), *id))
                    .collect();
                want.sort_by_key(|w| (w.0, w.1));
                if descending {
                    want.reverse();
                }
                let want: Vec<ReportId> = want.into_iter().map(|(_, _, id)| id).collect();
                for limit in [1_i64, 5, 50] {
                    for offset in [0_i64, 3, 10, 45, 100, 140] {
                        let mut q = InboxQuery::all(fp, limit, offset);
                        q.status = status;
                        q.descending = descending;
                        let (page, total) = store.inbox(&q).await.unwrap();
                        let got: Vec<ReportId> = page.iter().map(|r| r.id).collect();
                        let slice: Vec<ReportId> = want
                            .iter()
                            .skip(offset as usize)
                            .take(limit as usize)
                            .copied()
                            .collect();
                        assert_eq!(
                            got, slice,
                            "reader holding few: {few}, status {status:?}, descending \
                             {descending}, limit {limit}, offset {offset}"
                        );
                        assert_eq!(total, want.len() as i64);
                    }
                }
            }
        }
        // The flag counts, against a hand count: new and received by the cut-off; waiting
        // since day - 6, so overdue from an answer cut-off of day - 6 on.
        let held = |id: &ReportId| made.iter().any(|(m, _, f)| m == id && (!few || *f));
        for (triage_cut, answer_cut) in [(day - 5, day - 6), (day, day - 7), (day - 12, day)] {
            let triage = made
                .iter()
                .filter(|(id, d, f)| (!few || *f) && !in_review.contains(id) && *d <= triage_cut)
                .count() as i64;
            let answer = if answer_cut >= day - 6 {
                waiting.iter().filter(|id| held(id)).count() as i64
            } else {
                0
            };
            assert_eq!(
                store.flag_counts(fp, triage_cut, answer_cut).await.unwrap(),
                (triage, answer),
                "reader holding few: {few}, cut-offs {triage_cut} {answer_cut}"
            );
        }
    }
}

/// Reply templates (`triage.reply_templates`, configurable): the report page links each one,
/// choosing one fills the message box with its text for the staff member to edit, and what is
/// sent reaches the reporter as written. An unknown template is refused with a reason, never
/// an empty box; so is one on a report the reader cannot open.
async fn reply_templates_fill_the_draft_the_reporter_then_reads(b: Backend) {
    let app = start(b, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    let (mut ib, _) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let (id, code) = submit(&app, "laporan: gudang di belakang pasar").await;

    let p = sb.get(&format!("/report?id={id}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    for t in ["ditindaklanjuti", "lokasi", "waktu"] {
        assert!(
            p.body
                .contains(&format!("/report?id={id}&amp;template={t}#message-body")),
            "{t} is offered: {}",
            p.body
        );
    }
    assert!(
        p.body.contains("required></textarea>"),
        "no draft yet: {}",
        p.body
    );
    let p = sb.get(&format!("/report?id={id}&template=lokasi")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let draft = "Terima kasih atas laporan Anda. Mohon jelaskan lokasinya lebih tepat";
    assert!(
        p.body.contains(&format!("required>{draft}")),
        "the box holds the template: {}",
        p.body
    );
    let p = sb.get(&format!("/report?id={id}&template=tidak-ada")).await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(
        p.body
            .contains("Templat balasan itu tidak ada dalam pengaturan.")
            && p.body
                .contains("That reply template is not in the configuration."),
        "{}",
        p.body
    );
    assert!(!p.body.contains("gudang di belakang pasar"), "{}", p.body);
    // An investigator the report is not shared with gets nothing through a template link.
    let p = ib.get(&format!("/report?id={id}&template=lokasi")).await;
    assert_ne!(p.status, 200, "{}", p.body);
    assert!(!p.body.contains("gudang di belakang pasar"), "{}", p.body);

    // Sent as edited, read by the reporter as sent.
    let sent = format!("{draft}: dekat masjid?");
    let (s, body) = post(
        &mut sb,
        "/reports/message",
        &[("report", &id), ("body", &sent)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "needs_info", "{v}");
    assert_eq!(v["messages"][0]["body"], sent.as_str(), "{v}");
    ok(&app.cli(&["audit", "verify"], ""));
}
