use crate::support::{Backend, TestApp, enabled};
use serde_json::json;

/// Statements the intake's code runs (issue 5, section 6): they must keep working.
const ALLOWED: &[&str] = &[
    "SELECT id, status, closed_day FROM reports",
    "SELECT tag, report_id, kdf_version, wrapped_key, revoked, expires_day FROM reporter_access",
    "UPDATE reporter_access SET kdf_version = kdf_version, wrapped_key = wrapped_key, revoked = revoked",
    "SELECT id, report_id, seq, kind, direction, sealed FROM items",
    "SELECT name, value FROM intake_state",
    "UPDATE intake_state SET value = value",
];

/// Statements the intake role must not be able to run: each is refused by PostgreSQL itself.
const DENIED: &[&str] = &[
    // The desk's schema and the migration bookkeeping.
    "SELECT COUNT(*) FROM desk.staff",
    "SELECT COUNT(*) FROM desk.audit_log",
    "SELECT COUNT(*) FROM desk.staff_keys",
    "SELECT kdf_salt, one_time FROM desk.staff_auth",
    "UPDATE desk.staff_auth SET failures = 0",
    "SELECT * FROM _sqlx_migrations",
    "DELETE FROM _sqlx_migrations",
    // Reports: only status and closed day are readable; no routing column is writable.
    "SELECT priority FROM reports",
    "SELECT assignee FROM reports",
    "SELECT unit, category, header, header_sig FROM reports",
    "UPDATE reports SET status = 'closed'",
    "UPDATE reports SET priority = 3",
    "UPDATE reports SET assignee = 'orang-dalam'",
    "UPDATE reports SET closed_day = 0",
    "UPDATE reports SET category = 'lainnya'",
    "UPDATE reports SET header = header",
    "DELETE FROM reports",
    "TRUNCATE reports",
    // Wraps: nothing beyond adding them with a tip.
    "SELECT * FROM report_wraps",
    "SELECT COUNT(*) FROM report_wraps",
    "UPDATE report_wraps SET wrapped = wrapped",
    "DELETE FROM report_wraps",
    // Desk wraps (migration 0010) are the desk's alone: not even their number.
    "SELECT COUNT(*) FROM desk_wraps",
    "SELECT sealed FROM desk_wraps",
    "INSERT INTO desk_wraps (report_id, recipient_fp, purpose, sealed) VALUES ('r', 'f', 1, '\\x00'::bytea)",
    "UPDATE desk_wraps SET sealed = sealed",
    "DELETE FROM desk_wraps",
    // Items are never rewritten or removed.
    "UPDATE items SET sealed = sealed",
    "UPDATE items SET seq = seq + 1",
    "UPDATE items SET direction = 2",
    "DELETE FROM items",
    // Access rows: no re-pointing, no longer life, no removal.
    "UPDATE reporter_access SET report_id = report_id",
    "UPDATE reporter_access SET expires_day = expires_day + 3650",
    "UPDATE reporter_access SET tag = tag",
    "DELETE FROM reporter_access",
    "DELETE FROM intake_state",
    "UPDATE intake_state SET name = name",
    // No schema changes, no planted functions or tables.
    "CREATE TABLE public.planted (x INTEGER)",
    "CREATE FUNCTION public.planted() RETURNS INTEGER LANGUAGE sql AS 'SELECT 1'",
    "ALTER TABLE reports ADD COLUMN planted TEXT",
];

/// With deploy/postgres/roles.sql applied, the intake runs as its own role, serves reporters,
/// and cannot read the desk's schema or delete reports; the desk role can (I3, production split).
/// Its column grants allow what the intake does and nothing else (issue 5, section 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    bisik_no_postgres,
    ignore = "PostgreSQL left out by BISIK_TEST_BACKENDS"
)]
async fn postgres_roles_keep_the_intake_out_of_the_desk_schema() {
    assert!(
        enabled(Backend::Postgres),
        "BISIK_TEST_BACKENDS changed since the build; rebuild"
    );
    let mut app = TestApp::prepare(Backend::Postgres).await;
    let init = app.cli(&["init"], "");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let roles = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/postgres/roles.sql");
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &app.db_url, "-f"])
        .arg(&roles)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "roles.sql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let admin_url = app.db_url.clone();
    let as_role =
        |role: &str| admin_url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let intake_url = as_role("bisik_intake");
    app.set_env("DATABASE_URL", &intake_url);
    app.set_env("BISIK_AUTO_MIGRATE", "false");
    app.launch("intake").await;
    let code = app
        .submit(json!({"description": "lewat peran intake"}))
        .await;
    let r = app
        .post(
            "/api/v1/followup/messages",
            json!({"code": code, "body": "tambahan"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(app.followup(&code).await.0, 200);

    assert!(
        !app.logs().contains("heartbeat write failed"),
        "the intake role could not write its heartbeat:\n{}",
        app.logs()
    );

    sqlx::any::install_default_drivers();
    let intake = sqlx::AnyPool::connect(&intake_url).await.unwrap();
    // What the intake does, one statement at a time: each works under the column grants.
    for allowed in ALLOWED {
        sqlx::query(*allowed)
            .execute(&intake)
            .await
            .unwrap_or_else(|e| panic!("the intake role must be able to run {allowed}: {e}"));
    }
    // Everything else fails with a permission error, never with another one.
    for denied in DENIED {
        let e = sqlx::query(*denied)
            .execute(&intake)
            .await
            .expect_err(denied);
        let e = e.to_string();
        assert!(
            e.contains("permission denied") || e.contains("must be owner"),
            "{denied}: {e}"
        );
    }
    intake.close().await;
    // The follow-up still works after all that.
    assert_eq!(app.followup(&code).await.0, 200);

    // The desk role reaches its schema through the store, without needing CREATE.
    let desk = bisik::store::Store::connect(&as_role("bisik_desk"), bisik::store::Schema::Desk, 1)
        .await
        .expect("the desk role connects");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM staff")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
    // Logins record the TOTP step and the back-off (migration 0004).
    sqlx::query("UPDATE staff_auth SET failures = failures")
        .execute(desk.pool())
        .await
        .expect("the desk role updates staff_auth");
    // ... and keeps its desk wraps beside the report wraps (src/desk/rewrap.rs).
    for stmt in [
        "SELECT COUNT(*) FROM public.desk_wraps",
        "UPDATE public.desk_wraps SET sealed = sealed",
        "DELETE FROM public.desk_wraps WHERE purpose = 0",
    ] {
        sqlx::query(stmt)
            .execute(desk.pool())
            .await
            .unwrap_or_else(|e| panic!("the desk role must be able to run {stmt}: {e}"));
    }
    desk.close().await;
}

/// On SQLite the split gives no database-level protection, so whoever can write the file could
/// plant a trigger that runs inside the intake's own writes. Every start refuses a view or
/// trigger no migration made, with exit 3 and a message naming each (issue 5, section 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_planted_views_and_triggers() {
    let app = TestApp::prepare(Backend::Sqlite).await;
    let init = app.cli(&["init"], "");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let store = app.store().await;
    for plant in [
        "CREATE TABLE loot (tag BLOB, wrapped_key BLOB)",
        "CREATE TRIGGER planted_copy AFTER INSERT ON reporter_access BEGIN \
         INSERT INTO loot VALUES (new.tag, new.wrapped_key); END",
        "CREATE VIEW planted_view AS SELECT id FROM reports",
    ] {
        sqlx::query(plant).execute(store.pool()).await.unwrap();
    }
    store.close().await;
    for command in ["serve", "intake"] {
        let out = run_bounded(&app, command);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {err}");
        assert!(
            err.contains("trigger planted_copy") && err.contains("view planted_view"),
            "{command} must name what it refuses: {err}"
        );
    }
}

/// Starts `command` and waits at most 60 s: a server that does not refuse would run forever.
fn run_bounded(app: &TestApp, command: &str) -> std::process::Output {
    let mut child = std::process::Command::new(crate::support::bin())
        .arg(command)
        .current_dir(app.path())
        .envs(app.env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{command} started on a database with a planted trigger: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Every SQLite connection the store opens has trusted_schema = OFF, so no function with side
/// effects can run from something stored in the schema (issue 5, section 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_connections_do_not_trust_the_schema() {
    let app = TestApp::prepare(Backend::Sqlite).await;
    let init = app.cli(&["init"], "");
    assert!(init.status.success());
    let store = bisik::store::Store::connect(&app.db_url, bisik::store::Schema::Reports, 4)
        .await
        .unwrap();
    // Hold four connections at once, so each is a different one.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(store.pool().acquire().await.unwrap());
    }
    for conn in held.iter_mut() {
        let (v,): (i64,) = sqlx::query_as("PRAGMA trusted_schema")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(v, 0);
    }
    drop(held);
    store.close().await;
}
