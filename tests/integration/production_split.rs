use crate::support::{Backend, TestApp, enabled};
use serde_json::json;

/// With deploy/postgres/roles.sql applied, the intake runs as its own role, serves reporters,
/// and cannot read the desk's schema or delete reports; the desk role can (I3, production split).
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

    sqlx::any::install_default_drivers();
    let intake = sqlx::AnyPool::connect(&intake_url).await.unwrap();
    for denied in [
        "SELECT COUNT(*) FROM desk.staff",
        "SELECT COUNT(*) FROM desk.audit_log",
        "DELETE FROM reports",
    ] {
        let e = sqlx::query(denied)
            .execute(&intake)
            .await
            .expect_err(denied);
        assert!(e.to_string().contains("permission denied"), "{denied}: {e}");
    }
    intake.close().await;

    // The desk role reaches its schema through the store, without needing CREATE.
    let desk = bisik::store::Store::connect(&as_role("bisik_desk"), bisik::store::Schema::Desk, 1)
        .await
        .expect("the desk role connects");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM staff")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
    desk.close().await;
}
