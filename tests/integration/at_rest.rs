use crate::on_both;
use crate::support::{Backend, Opts, TestApp, canary, contains};
use serde_json::json;

on_both!(no_canary_in_files_logs_or_dump);

async fn no_canary_in_files_logs_or_dump(b: Backend) {
    let mut app = TestApp::start_with(
        b,
        Opts {
            env: vec![("BISIK_LOG", "trace".into())],
            ..Opts::default()
        },
    )
    .await;
    let canaries: Vec<String> = ["desc", "loc", "when", "people", "veh", "msg"]
        .iter()
        .map(|t| canary(t))
        .collect();
    let code = app
        .submit(json!({
            "category": "produksi",
            "area": "telaga-langsat",
            "description": canaries[0],
            "location": canaries[1],
            "when": canaries[2],
            "people": canaries[3],
            "vehicles": canaries[4],
        }))
        .await;
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": canaries[5]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // The area is sealed too: its id must not be stored in plaintext.
    let mut needles: Vec<Vec<u8>> = canaries.iter().map(|c| c.as_bytes().to_vec()).collect();
    needles.push(b"telaga-langsat".to_vec());
    let code_digits: String = code.chars().filter(char::is_ascii_digit).collect();
    needles.push(code.as_bytes().to_vec());
    needles.push(code_digits.as_bytes().to_vec());

    let check = |phase: &str, app: &TestApp| {
        for dir in [app.data_dir(), app.keys_dir()] {
            let files = TestApp::files_under(&dir);
            if app.backend == Backend::Sqlite && dir == app.data_dir() {
                assert!(files.len() >= 3, "the database files are scanned");
            }
            for (path, bytes) in files {
                for n in &needles {
                    assert!(
                        !contains(&bytes, n),
                        "{phase}: {} holds {:?}",
                        path.display(),
                        String::from_utf8_lossy(n)
                    );
                }
            }
        }
        let logs = app.logs();
        for n in &needles {
            assert!(
                !contains(logs.as_bytes(), n),
                "{phase}: the log holds {:?}",
                String::from_utf8_lossy(n)
            );
        }
        if app.backend == Backend::Postgres {
            let dump = app.pg_dump();
            assert!(dump.len() > 1000, "pg_dump produced a real dump");
            for n in &needles {
                assert!(
                    !contains(&dump, n),
                    "{phase}: pg_dump holds {:?}",
                    String::from_utf8_lossy(n)
                );
            }
        }
    };
    if b == Backend::Sqlite {
        // The WAL must exist and hold the writes, so the scan covers it.
        let wal = app.data_dir().join("bisik.db-wal");
        assert!(
            std::fs::metadata(&wal)
                .map(|m| m.len() > 0)
                .unwrap_or(false),
            "WAL is in use"
        );
    }
    check("while running", &app);
    // A crash leaves the WAL unmerged; scan again after SIGKILL.
    app.kill9();
    check("after SIGKILL", &app);
    // The logs did record activity at trace level: the scan is not vacuous.
    assert!(app.logs().contains("intake listening"));
}
