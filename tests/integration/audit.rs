use crate::on_both;
use crate::support::{Backend, TestApp};
use bisik::desk::audit::{Access, Audit, Certification, Entry, Event, Signer, entry_hash};
use bisik::domain::{ReportId, StaffId};
use bisik::store::Store;
use bisik::vault::offline::OfflineKeys;
use ed25519_dalek::SigningKey;

on_both!(
    an_intact_log_verifies_and_checkpoints,
    an_edited_entry_is_named,
    a_deleted_entry_is_named,
    reordered_entries_are_named,
    a_consistent_rewrite_with_new_keys_fails_the_anchor,
    a_deleted_tail_fails_the_anchor,
    an_uncertified_key_cannot_sign_for_a_report
);

/// Keys and databases made by `bisik init`, no server: the audit commands are offline tools.
pub async fn initialised(b: Backend) -> TestApp {
    let app = TestApp::prepare(b).await;
    let out = app.cli(&["init"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app
}

/// The organisation key, unsealed as the ceremony does.
pub fn org_key(app: &TestApp) -> SigningKey {
    let sealed = std::fs::read_to_string(app.keys_dir().join("offline.sealed")).unwrap();
    OfflineKeys::unseal(&sealed, &secrecy::SecretString::from(app.passphrase()))
        .unwrap()
        .org_signing
}

pub async fn open_audit(app: &TestApp) -> Audit {
    Audit::open(app.desk_store().await, &app.keys_dir())
        .await
        .unwrap()
}

/// A log of six entries: a supervisor's certification (organisation key), their login and a
/// page view (their own key), a status change, a failed login and a logout (service key).
async fn six_entries(app: &TestApp) -> (StaffId, SigningKey) {
    let audit = open_audit(app).await;
    let staff = StaffId::new();
    let key = SigningKey::from_bytes(&[0x33; 32]);
    let report = ReportId::new();
    let me = Signer::Staff {
        id: staff,
        key: &key,
    };
    let org = org_key(app);
    audit
        .append(
            &Signer::Organisation(&org),
            Event::Certified(Certification {
                staff,
                role: "supervisor".into(),
                ed25519: key.verifying_key().to_bytes(),
                x25519: [9; 32],
                epoch: 1,
            }),
        )
        .await
        .unwrap();
    audit.append(&me, Event::LoginSucceeded).await.unwrap();
    audit
        .append(
            &me,
            Event::Decrypted {
                report,
                access: Access::Page,
            },
        )
        .await
        .unwrap();
    audit
        .append(
            &me,
            Event::StatusChanged {
                report,
                status: "triaged".into(),
            },
        )
        .await
        .unwrap();
    audit
        .append(&Signer::Service { actor: None }, Event::LoginFailed)
        .await
        .unwrap();
    let head = audit.append(&me, Event::LoggedOut).await.unwrap();
    assert_eq!(head.seq, 6);
    (staff, key)
}

fn verify(app: &TestApp, anchors: &[&str]) -> std::process::Output {
    let mut args = vec!["audit", "verify"];
    for a in anchors {
        args.push("--anchor");
        args.push(a);
    }
    app.cli(&args, "")
}

pub fn checkpoint(app: &TestApp) -> String {
    let out = app.cli(&["audit", "checkpoint"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.lines().count(), 1, "one line: {line:?}");
    line.trim().to_owned()
}

/// `audit verify` failed with exit 3 and named entry `seq` first.
fn names(out: &std::process::Output, seq: u64, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {err}");
    assert!(
        err.contains(&format!("audit entry {seq}: ")),
        "expected entry {seq} named in: {err}"
    );
    assert!(err.contains(why), "expected {why:?} in: {err}");
}

/// What an insider with write access to the desk database does first on SQLite: drop the
/// triggers that make the table append-only (on PostgreSQL the test connects as a superuser,
/// past the grants that hold the desk role to INSERT and SELECT).
async fn as_insider(app: &TestApp) -> Store {
    let s = app.desk_store().await;
    if app.backend == Backend::Sqlite {
        for t in ["audit_log_no_update", "audit_log_no_delete"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER {t}")))
                .execute(s.pool())
                .await
                .unwrap();
        }
    }
    s
}

async fn an_intact_log_verifies_and_checkpoints(b: Backend) {
    let app = initialised(b).await;
    assert!(
        checkpoint(&app).starts_with("0:"),
        "an empty log has a head"
    );
    six_entries(&app).await;
    let line = checkpoint(&app);
    assert!(line.starts_with("6:"), "{line}");
    assert!(line.len() <= 40, "short enough for a logbook: {line}");
    let out = verify(&app, &[&line]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 entries"));
    // No content, no time: an entry holds a day, ids and a signature.
    let s = app.desk_store().await;
    for row in s.audit_rows_after(0).await.unwrap() {
        let e = Entry::decode(&row.entry).unwrap();
        assert!(e.day > 19_000 && e.day < 40_000, "a day number, not a time");
    }
    if b == Backend::Sqlite {
        // The triggers refuse rewriting history from any connection that did not drop them.
        for sql in [
            "UPDATE audit_log SET signature = signature WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 6",
        ] {
            let e = sqlx::query(sql).execute(s.pool()).await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{e}");
        }
    }
}

async fn an_edited_entry_is_named(b: Backend) {
    let app = initialised(b).await;
    six_entries(&app).await;
    let s = as_insider(&app).await;
    // Entry 3 (a page view) is moved to another day, and its stored hash is recomputed so that
    // only the signature can tell.
    let row = s.audit_rows_after(2).await.unwrap().remove(0);
    let mut e = Entry::decode(&row.entry).unwrap();
    e.day -= 30;
    let forged = e.encode();
    sqlx::query("UPDATE audit_log SET entry = $1, entry_hash = $2 WHERE seq = 3")
        .bind(&forged)
        .bind(entry_hash(&forged, &row.signature).to_vec())
        .execute(s.pool())
        .await
        .unwrap();
    names(&verify(&app, &[]), 3, "signature does not verify");
    assert_eq!(app.cli(&["audit", "checkpoint"], "").status.code(), Some(3));
}

async fn a_deleted_entry_is_named(b: Backend) {
    let app = initialised(b).await;
    six_entries(&app).await;
    let s = as_insider(&app).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(s.pool())
        .await
        .unwrap();
    names(&verify(&app, &[]), 3, "missing");
}

async fn reordered_entries_are_named(b: Backend) {
    let app = initialised(b).await;
    six_entries(&app).await;
    let s = as_insider(&app).await;
    for (from, to) in [(3, -1), (4, 3), (-1, 4)] {
        sqlx::query("UPDATE audit_log SET seq = $1 WHERE seq = $2")
            .bind(to)
            .bind(from)
            .execute(s.pool())
            .await
            .unwrap();
    }
    names(&verify(&app, &[]), 3, "reordered");
}

/// Someone who can rewrite the whole table and the desk's own key files writes a new, consistent
/// chain with a new service key. It verifies on its own, but not against the logbook.
async fn a_consistent_rewrite_with_new_keys_fails_the_anchor(b: Backend) {
    let app = initialised(b).await;
    six_entries(&app).await;
    let earlier = checkpoint(&app);
    let s = as_insider(&app).await;
    sqlx::query("DELETE FROM audit_log")
        .execute(s.pool())
        .await
        .unwrap();
    for f in ["desk-service.key", "desk-service.pub"] {
        std::fs::remove_file(app.keys_dir().join(f)).unwrap();
    }
    let audit = open_audit(&app).await;
    let someone = StaffId::new();
    for _ in 0..7 {
        audit
            .append(
                &Signer::Service {
                    actor: Some(someone),
                },
                Event::LoginSucceeded,
            )
            .await
            .unwrap();
    }
    let out = verify(&app, &[]);
    assert!(
        out.status.success(),
        "the rewrite is consistent: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    names(&verify(&app, &[&earlier]), 6, "checkpoint");
}

async fn a_deleted_tail_fails_the_anchor(b: Backend) {
    let app = initialised(b).await;
    six_entries(&app).await;
    let head = checkpoint(&app);
    let s = as_insider(&app).await;
    sqlx::query("DELETE FROM audit_log WHERE seq > 4")
        .execute(s.pool())
        .await
        .unwrap();
    assert!(
        verify(&app, &[]).status.success(),
        "a shorter chain is consistent"
    );
    names(&verify(&app, &[&head]), 5, "deleted");
}

/// Only a certified key signs what opens a report; a key the chain never certified is refused
/// by the appender and, written in by hand, by `verify`.
async fn an_uncertified_key_cannot_sign_for_a_report(b: Backend) {
    let app = initialised(b).await;
    let audit = open_audit(&app).await;
    let key = SigningKey::from_bytes(&[0x44; 32]);
    let id = StaffId::new();
    let me = Signer::Staff { id, key: &key };
    let view = Event::Decrypted {
        report: ReportId::new(),
        access: Access::Preview,
    };
    assert!(audit.append(&me, view.clone()).await.is_err());
    // A login of an uncertified account (an admin, a supervisor before the ceremony) is signed
    // by the service key in their name.
    audit.append(&me, Event::LoginSucceeded).await.unwrap();
    assert!(verify(&app, &[]).status.success());
    let s = app.desk_store().await;
    let e = Entry {
        seq: 2,
        prev: checkpoint_hash(&s).await,
        day: bisik::domain::today(),
        actor: Some(id),
        signer: bisik::crypto::chain::signer_fingerprint(&key.verifying_key()),
        event: view,
    };
    let bytes = e.encode();
    let sig = ed25519_dalek::Signer::sign(&key, &bytes)
        .to_bytes()
        .to_vec();
    let row = bisik::store::AuditRow {
        seq: 2,
        prev_hash: e.prev.to_vec(),
        entry_hash: entry_hash(&bytes, &sig).to_vec(),
        entry: bytes,
        signature: sig,
    };
    assert!(s.audit_insert(&row, None).await.unwrap());
    names(&verify(&app, &[]), 2, "not certified when it signed");
}

async fn checkpoint_hash(s: &Store) -> [u8; 32] {
    s.audit_head().await.unwrap().unwrap().1.try_into().unwrap()
}
