use crate::support::{Backend, TestApp, bin};
use std::process::Command;

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn bad_settings_get_one_sentence_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    for (env, names) in [
        (("BISIK_KDF_POOL", "0"), "kdf.pool_size"),
        (("BISIK_KDF_POOL", "1"), "kdf.pool_size"),
        (("BISIK_METRICS_LISTEN", "0.0.0.0:9180"), "loopback"),
        (("BISIK_KDF_POOL", "lots"), "BISIK_KDF_POOL"),
        (("BISIK_INTAKE_LISTEN", "everywhere"), "intake_listen"),
        (("BISIK_LOG", "loud"), "log_level"),
        (
            ("BISIK_OFFLINE_PASSPHRASE_DIR", "keys/paper"),
            "offline_passphrase_dir",
        ),
        (
            ("DATABASE_URL", "mysql://root@localhost/bisik"),
            "DATABASE_URL",
        ),
        (("DATABASE_URL", "bisik.db"), "DATABASE_URL"),
    ] {
        let out = run(dir.path(), &["init"], &[env]);
        assert_eq!(out.status.code(), Some(78), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(names), "{env:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    }
    // Nothing was created by a refused configuration: no empty database appears.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let cfg = dir.path().join("bisik.toml");
    std::fs::write(
        &cfg,
        "[reporter]\nquick_exit_url = \"http://example.com\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["--config", "bisik.toml", "migrate"], &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quick_exit_url"));
    // A stocked code opens a future report: it may wait an hour at most (issue 5, section 1).
    std::fs::write(&cfg, "[kdf]\nstock_max_age_secs = 3601\n").unwrap();
    let out = run(dir.path(), &["--config", "bisik.toml", "migrate"], &[]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kdf.stock_max_age_secs") && err.contains("3600"),
        "{err}"
    );
    std::fs::write(&cfg, "colour = \"blue\"\n").unwrap();
    let out = run(dir.path(), &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    let out = run(dir.path(), &["--config", "missing.toml", "migrate"], &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn keys_init_refuses_to_overwrite_and_keeps_secrets_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["keys", "init"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // stdout is not a terminal here, so the passphrase went to a 0600 file whose path is printed.
    assert!(
        stdout.contains("offline-passphrase-") && stdout.contains("0600"),
        "{stdout}"
    );
    let keys = dir.path().join("keys");
    // Outside keys/: a copy of keys/ (which holds offline.sealed) is not also its passphrase.
    let pass_file = crate::support::passphrase_file_in(dir.path());
    assert!(
        std::fs::read_dir(&keys).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("offline-passphrase-")),
        "no passphrase file inside keys/"
    );
    let pass = std::fs::read_to_string(&pass_file).unwrap();
    assert!(
        !stdout.contains(pass.trim()),
        "the passphrase itself is not printed to a non-terminal"
    );
    assert_eq!(pass.trim().len(), 34, "28 symbols in 7 groups");
    for path in [
        keys.join("intake.key"),
        keys.join("intake.pepper"),
        keys.join("offline.sealed"),
        pass_file.clone(),
    ] {
        let name = path.display();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let before = std::fs::read(keys.join("escrow.pub")).unwrap();
    let again = run(dir.path(), &["keys", "init"], &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(keys.join("escrow.pub")).unwrap(), before);
    // The passphrase is never taken from argv.
    let argv = run(
        dir.path(),
        &["keys", "recover", "--report", "x", "--passphrase", "p"],
        &[],
    );
    assert_eq!(argv.status.code(), Some(2));
}

#[tokio::test]
async fn server_runs_without_core_dumps() {
    let app = TestApp::start(Backend::Sqlite).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", app.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{line}");
    // The data directory is private, and so are the database files.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(app.data_dir())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    for f in ["bisik.db", "bisik.db-wal", "desk.db"] {
        let p = app.data_dir().join(f);
        if p.exists() {
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o077,
                0,
                "{f}"
            );
        }
    }
}

#[test]
fn unknown_report_and_bad_id_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["init"], &[]).status.success());
    let out = run(
        dir.path(),
        &[
            "keys",
            "recover",
            "--report",
            "not-a-uuid",
            "--passphrase-file",
            "/dev/null",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a report id"));
    // An unknown report names the database searched (issue 5, section 9).
    let pass = crate::support::passphrase_file_in(dir.path());
    let out = run(
        dir.path(),
        &[
            "keys",
            "recover",
            "--report",
            "00000000-0000-4000-8000-000000000000",
        ]
        .into_iter()
        .chain(["--passphrase-file", pass.to_str().unwrap()])
        .collect::<Vec<_>>(),
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("in the database data/bisik.db"), "{err}");
}

/// Runs a server command that is expected to refuse to start; kills it (and fails) if it is
/// still running after a minute.
fn run_expecting_exit(app: &TestApp, command: &str) -> std::process::Output {
    use std::process::Stdio;
    let mut cmd = Command::new(bin());
    cmd.arg(command)
        .current_dir(app.path())
        .env_remove("DATABASE_URL")
        .envs(app.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`bisik {command}` started instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Issue 5, section 7: with keys/ emptied (lost, or a wrong BISIK_KEYS_DIR) over a database that
/// holds reports, neither `serve` nor `intake` makes new keys; each refuses with one sentence and
/// exit 78, and keys/ stays empty.
async fn keys_are_never_silently_replaced(b: Backend) {
    let mut app = TestApp::start(b).await;
    let code = app
        .submit(serde_json::json!({"description": "kunci lama"}))
        .await;
    app.stop();
    let saved = app.path().join("keys-backup");
    std::fs::rename(app.keys_dir(), &saved).unwrap();
    std::fs::create_dir(app.keys_dir()).unwrap();
    for command in ["serve", "intake", "init"] {
        let out = run_expecting_exit(&app, command);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{command}: {err}");
        let last = err.trim().lines().last().unwrap_or("");
        assert!(
            last.contains("already holds 1 report") && last.contains("restore"),
            "{command}: {err}"
        );
        assert_eq!(
            std::fs::read_dir(app.keys_dir()).unwrap().count(),
            0,
            "{command} wrote new keys"
        );
    }
    // With the keys restored, the old code opens its report again.
    std::fs::remove_dir(app.keys_dir()).unwrap();
    std::fs::rename(&saved, app.keys_dir()).unwrap();
    app.launch("serve").await;
    assert_eq!(app.followup(&code).await.0, 200);
}
crate::on_both!(keys_are_never_silently_replaced);

/// The intake's "no keys" sentence never sends the operator to run `keys init` in the intake's
/// own folder, which would leave offline.sealed beside the intake.
#[tokio::test]
async fn intake_without_keys_does_not_suggest_init_in_its_folder() {
    let app = TestApp::prepare(Backend::Sqlite).await;
    let out = run_expecting_exit(&app, "intake");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("never in the intake's own keys folder"),
        "{err}"
    );
    assert!(!err.contains("run `bisik keys init`"), "{err}");
    assert!(!app.keys_dir().join("offline.sealed").exists());
}

/// A public listen address is allowed (a deployment may have reasons) but logged with why.
#[tokio::test]
async fn public_listen_address_is_warned_about() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        crate::support::Opts {
            env: vec![("BISIK_INTAKE_LISTEN", "0.0.0.0:0".into())],
            ..Default::default()
        },
    )
    .await;
    let logs = app.logs();
    assert!(
        logs.contains("is not a loopback address") && logs.contains("plain HTTP"),
        "{logs}"
    );
    let quiet = TestApp::start(Backend::Sqlite).await;
    assert!(!quiet.logs().contains("is not a loopback address"));
}

/// Issue 5, section 9: `bisik reports list` names every report (id, day, category, status) for
/// `keys recover`, shows no content, and sorts by declared fields (day, then category, status
/// and the random id), never by insertion order.
async fn reports_list_shows_ids_never_content(b: Backend) {
    let app = TestApp::start(b).await;
    let secret = crate::support::canary("LIST");
    for (cat, text) in [
        ("produksi", secret.as_str()),
        ("peredaran", "kedua"),
        ("lainnya", "ketiga"),
    ] {
        app.submit(serde_json::json!({"category": cat, "description": text}))
            .await;
    }
    let out = app.cli(&["reports", "list"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(&secret), "content in the listing:\n{text}");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut ids: Vec<String> = rows.iter().map(|r| r[0].to_owned()).collect();
    let cats: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(cats, ["lainnya", "peredaran", "produksi"], "{text}");
    assert!(rows.iter().all(|r| r.len() == 4 && r[3] == "new"), "{text}");
    let today = time::OffsetDateTime::now_utc().date();
    assert!(rows.iter().all(|r| r[1] == today.to_string()), "{text}");
    ids.sort();
    assert_eq!(ids, app.report_ids().await);
}
crate::on_both!(reports_list_shows_ids_never_content);

/// `keys recover ... | head` ends quietly when the reader goes away, instead of panicking on
/// the broken pipe.
#[tokio::test]
async fn recover_into_a_closed_pipe_does_not_panic() {
    use std::io::Write;
    use std::process::Stdio;
    let app = TestApp::start(Backend::Sqlite).await;
    app.submit(serde_json::json!({"description": "x".repeat(3000)}))
        .await;
    let id = app.report_ids().await.remove(0);
    let mut child = Command::new(bin())
        .args(["keys", "recover", "--report", &id])
        .current_dir(app.path())
        .envs(app.env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before anything is written, as `head` does after its lines.
    drop(child.stdout.take());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(app.passphrase().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// Errors name the database they mean, and never print a password from its URL.
#[tokio::test]
async fn database_errors_name_the_database() {
    let dir = tempfile::tempdir().unwrap();
    // A PostgreSQL database that does not exist: a clear sentence saying how to create it.
    let base = crate::support::pg_base().replace("postgres@", "postgres:hunter2@");
    let missing = format!("{base}/bisik_missing_{}", std::process::id());
    let out = run(dir.path(), &["migrate"], &[("DATABASE_URL", &missing)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("bisik_missing_{}", std::process::id()))
            && err.contains("does not exist")
            && err.contains("createdb"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    // A SQLite file that cannot be opened: the message names its path.
    let url = format!("sqlite://{}/no/such/dir/bisik.db", dir.path().display());
    let out = run(dir.path(), &["migrate"], &[("DATABASE_URL", &url)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("/no/such/dir/bisik.db"), "{err}");
}

/// The README's follow-up example must be a code that passes the Damm check, or copying it
/// gives 400.
#[test]
fn readme_codes_pass_the_check_digit() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut found = 0;
    for (i, _) in readme.match_indices("\"code\":\"") {
        let rest = &readme[i + 8..];
        let code = &rest[..rest.find('"').unwrap()];
        if !code.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        bisik::crypto::code::FollowupCode::parse(code)
            .unwrap_or_else(|e| panic!("README code {code:?} is refused: {e:?}"));
        found += 1;
    }
    assert!(found >= 2, "the README shows a code to copy");
}
