use crate::on_both;
use crate::support::{Backend, TestApp};
use bisik::domain::{Direction, ItemId, ItemKind, ReportId};
use bisik::store::{Committer, NewItem, NewReport, Schema, Store};

on_both!(one_bad_report_does_not_fail_its_batch);

fn report(id: ReportId, tag: u8) -> NewReport {
    NewReport {
        id,
        unit: "bnnk-hss".into(),
        category: "lainnya".into(),
        received_day: 20_000,
        header: vec![1; 100],
        header_sig: vec![2; 64],
        wraps: vec![("ab".repeat(32), 1, vec![3; 80])],
        tag: [tag; 32],
        kdf_version: 1,
        wrapped_key: vec![4; 100],
        expires_day: 20_365,
        tip: NewItem {
            id: ItemId::new(),
            kind: ItemKind::Tip,
            direction: Direction::ReporterToStaff,
            sealed: vec![5; 600],
            prev: [0; 32],
            day: 20_000,
            idem: None,
        },
        head: (vec![6; 100], vec![7; 64]),
    }
}

/// Concurrent submissions are committed in batches; a report that cannot be stored (here, a
/// duplicate id) fails alone, and every other caller still gets its durable commit.
async fn one_bad_report_does_not_fail_its_batch(b: Backend) {
    let app = TestApp::prepare(b).await;
    std::fs::create_dir_all(app.data_dir()).unwrap();
    let url = match b {
        Backend::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            app.data_dir().join("bisik.db").display()
        ),
        Backend::Postgres => app.db_url.clone(),
    };
    let store = Store::connect(&url, Schema::Reports, 4).await.unwrap();
    store.migrate().await.unwrap();
    let committer = Committer::spawn(store.clone());
    let dup = ReportId::new();
    let mut tasks = Vec::new();
    for i in 0..40u8 {
        let c = committer.clone();
        let id = if i == 7 || i == 23 {
            dup
        } else {
            ReportId::new()
        };
        tasks.push(tokio::spawn(async move {
            (i, c.insert(report(id, i)).await.is_ok())
        }));
    }
    let mut failed = Vec::new();
    for t in tasks {
        let (i, ok) = t.await.unwrap();
        if !ok {
            failed.push(i);
        }
    }
    assert_eq!(
        failed.len(),
        1,
        "exactly one of the duplicates fails: {failed:?}"
    );
    assert!(failed[0] == 7 || failed[0] == 23);
    assert_eq!(store.count_reports().await.unwrap(), 39);
    let (items,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM items")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(items, 39, "no half-written report");
    store.close().await;
}
