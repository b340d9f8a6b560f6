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
