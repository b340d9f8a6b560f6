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
    let pass_file = crate::support::passphrase_file_in(&keys);
    let pass = std::fs::read_to_string(&pass_file).unwrap();
    assert!(
        !stdout.contains(pass.trim()),
        "the passphrase itself is not printed to a non-terminal"
    );
    assert_eq!(pass.trim().len(), 34, "28 symbols in 7 groups");
    for name in [
        "intake.key",
        "intake.pepper",
        "offline.sealed",
        pass_file.file_name().unwrap().to_str().unwrap(),
    ] {
        let mode = std::fs::metadata(keys.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
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
