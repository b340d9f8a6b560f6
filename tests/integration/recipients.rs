use crate::on_both;
use crate::support::{Backend, TestApp};
use bisik::crypto::envelope;
use bisik::crypto::primitives::{SecretKey32, fingerprint_display};
use bisik::crypto::recipients::{Recipient, RecipientList};
use bisik::crypto::wrap::{Purpose, RecipientKey, generate_x25519};
use bisik::domain::{Direction, ReportId};
use bisik::vault::offline::OfflineKeys;
use bisik::vault::unwrap::unwrap;
use serde_json::json;

on_both!(
    intake_runs_with_public_keys_only,
    only_certified_keys_receive_wraps,
    unusable_lists_are_refused_and_tips_still_taken,
    reporter_code_opens_k_r_never_k_s
);

/// Fingerprints (hex) that received wraps for a report.
async fn wrapped_to(app: &TestApp, id: &str) -> Vec<(String, i16)> {
    let s = app.store().await;
    let rows: Vec<(String, i16)> =
        sqlx::query_as("SELECT recipient_fp, purpose FROM report_wraps WHERE report_id = $1 ORDER BY recipient_fp, purpose")
            .bind(id)
            .fetch_all(s.pool())
            .await
            .unwrap();
    s.close().await;
    rows
}

async fn newest_report(app: &TestApp, before: &[String]) -> String {
    let ids = app.report_ids().await;
    let new: Vec<_> = ids.into_iter().filter(|i| !before.contains(i)).collect();
    assert_eq!(new.len(), 1);
    new[0].clone()
}

fn escrow_fp(app: &TestApp) -> String {
    let pk = bisik::keyfiles::PublicKeys::load(&app.keys_dir()).unwrap();
    hex::encode(pk.escrow.fingerprint())
}

/// The production intake runs from a keys/ that holds only public keys, its signing key and its
/// pepper; recovery works from a separate offline keys folder.
async fn intake_runs_with_public_keys_only(b: Backend) {
    let mut app = TestApp::prepare(b).await;
    let init = app.cli(&["init"], "");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // Move the offline material away, as the ceremony guide says.
    let offline = app.path().join("offline");
    std::fs::create_dir(&offline).unwrap();
    for e in std::fs::read_dir(app.keys_dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".pub") {
            std::fs::copy(&p, offline.join(&name)).unwrap();
        }
        if name == "offline.sealed" || name.starts_with("offline-passphrase-") {
            std::fs::rename(&p, offline.join(&name)).unwrap();
        }
    }
    let mut left: Vec<String> = std::fs::read_dir(app.keys_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "escrow.pub",
            "intake.key",
            "intake.pepper",
            "intake.pub",
            "org.pub"
        ]
    );

    if b == Backend::Sqlite {
        std::fs::remove_file(app.data_dir().join("desk.db")).unwrap();
    }
    app.launch("intake").await;
    let code = app
        .submit(json!({"description": "intake tanpa kunci offline"}))
        .await;
    assert_eq!(app.followup(&code).await.0, 200);
    // The intake never opens the desk's database (removed before it started).
    if b == Backend::Sqlite {
        assert!(
            !app.data_dir().join("desk.db").exists(),
            "the intake created or opened desk.db"
        );
    }
    let id = app.report_ids().await.remove(0);
    let pass = app.passphrase_file();
    let mut env = app.env.clone();
    env.push(("BISIK_KEYS_DIR".into(), offline.display().to_string()));
    let out = std::process::Command::new(crate::support::bin())
        .args(["keys", "recover", "--report", &id, "--passphrase-file"])
        .arg(&pass)
        .current_dir(app.path())
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intake tanpa kunci offline"));
}

fn certify(app: &TestApp, name: &str, public: &[u8; 32]) -> std::process::Output {
    let fp = fingerprint_display(&RecipientKey::from_bytes(public).unwrap().fingerprint());
    app.cli(
        &[
            "keys",
            "certify",
            "--name",
            name,
            "--x25519",
            &hex::encode(public),
            "--fingerprint",
            &fp,
        ],
        &app.passphrase(),
    )
}

async fn only_certified_keys_receive_wraps(b: Backend) {
    let app = TestApp::start(b).await;
    let escrow = escrow_fp(&app);
    let (sup_secret, sup_public) = generate_x25519();
    let sup = RecipientKey::from_bytes(&sup_public).unwrap();
    let sup_fp = hex::encode(sup.fingerprint());

    // 1. A supervisor key inserted straight into the desk's tables receives nothing.
    let desk = app.desk_store().await;
    sqlx::query("INSERT INTO staff (id, username, role, disabled, created_day) VALUES ('s1', 'sup1', 'supervisor', 0, 1)")
        .execute(desk.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO staff_keys (staff_id, x25519_public, ed25519_public, sealed_secrets, created_day) VALUES ('s1', $1, $2, $3, 1)")
        .bind(sup_public.to_vec())
        .bind(vec![0u8; 32])
        .bind(vec![0u8; 8])
        .execute(desk.pool())
        .await
        .unwrap();
    desk.close().await;
    app.submit(json!({"description": "satu"})).await;
    let r1 = app.report_ids().await.remove(0);
    let w = wrapped_to(&app, &r1).await;
    assert_eq!(w, vec![(escrow.clone(), 1)], "only escrow");

    // 2. A wrong fingerprint stops the ceremony.
    let out = app.cli(
        &[
            "keys",
            "certify",
            "--name",
            "sup1",
            "--x25519",
            &hex::encode(sup_public),
            "--fingerprint",
            "0000 1111 2222 3333 4444 5555 6666 7777",
        ],
        &app.passphrase(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fingerprint mismatch"));
    assert!(!app.keys_dir().join("recipients.json").exists());

    // 3. Certified by the organisation key: wraps go to the supervisor, who can open them.
    let out = certify(&app, "sup1", &sup_public);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = app.report_ids().await;
    app.submit(json!({"description": "dua, untuk koordinator"}))
        .await;
    let r2 = newest_report(&app, &before).await;
    let w = wrapped_to(&app, &r2).await;
    assert!(w.contains(&(sup_fp.clone(), 1)) && w.len() == 2, "{w:?}");
    let store = app.store().await;
    let id = ReportId::parse(&r2).unwrap();
    let wraps = store.wraps(id).await.unwrap();
    let kr_wrap = wraps
        .iter()
        .find(|x| x.recipient_fp == sup_fp && x.purpose == 1)
        .unwrap();
    let k_r = unwrap(
        &sup_secret,
        &sup,
        &id.bytes(),
        Purpose::ReporterKey,
        &kr_wrap.wrapped,
    )
    .expect("supervisor opens K_r");
    let tip = store.items(id).await.unwrap().remove(0);
    let aad = bisik::items::item_aad(id, tip.id, tip.kind, tip.direction, tip.seq, tip.prev);
    let plain = envelope::open(&k_r, &aad, &tip.sealed).unwrap();
    assert!(String::from_utf8_lossy(&plain).contains("untuk koordinator"));
    // The signed header names the supervisor.
    let row = store.report(id).await.unwrap().unwrap();
    let pinned = bisik::keyfiles::PublicKeys::load(&app.keys_dir()).unwrap();
    let header =
        bisik::crypto::header::ReportHeader::verify(&row.header, &row.header_sig, &pinned.intake)
            .unwrap();
    assert!(header.recipients.contains(&sup.fingerprint()));
    assert!(header.recipient_epoch > 0);
    store.close().await;

    let list_path = app.keys_dir().join("recipients.json");
    let good = std::fs::read_to_string(&list_path).unwrap();
    let only_escrow = |w: Vec<(String, i16)>| w.iter().all(|(fp, _)| *fp == escrow) && w.len() == 1;

    // 4. A broken signature (an edited list) is refused loudly.
    let tampered = good.replace("\"supervisor\"", "\"supervisar\"");
    assert_ne!(tampered, good);
    std::fs::write(&list_path, tampered).unwrap();
    let before = app.report_ids().await;
    app.submit(json!({"description": "tiga"})).await;
    let r = newest_report(&app, &before).await;
    assert!(
        only_escrow(wrapped_to(&app, &r).await),
        "tampered list must give no wraps"
    );
    assert!(app.logs().contains("RECIPIENT LIST REFUSED"));

    // 5. An expired list, correctly signed, is refused.
    let sealed = std::fs::read_to_string(app.keys_dir().join("offline.sealed")).unwrap();
    let offline =
        OfflineKeys::unseal(&sealed, &secrecy::SecretString::from(app.passphrase())).unwrap();
    let parsed = bisik::crypto::recipients::SignedRecipientList::from_json(&good).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    let expired = RecipientList {
        epoch: parsed.list.epoch + 1,
        issued_at: now - 100 * 86_400,
        expires_at: now - 10,
        recipients: parsed.list.recipients.clone(),
    }
    .sign(&offline.org_signing);
    std::fs::write(&list_path, serde_json::to_string(&expired).unwrap()).unwrap();
    let before = app.report_ids().await;
    app.submit(json!({"description": "empat"})).await;
    let r = newest_report(&app, &before).await;
    assert!(
        only_escrow(wrapped_to(&app, &r).await),
        "expired list must give no wraps"
    );
    assert!(app.logs().contains("expired"));

    // 6. Rollback: a newer list is accepted, then the older one is put back.
    let (_, sup2_public) = generate_x25519();
    std::fs::write(&list_path, &good).unwrap();
    let out = certify(&app, "sup2", &sup2_public);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = app.report_ids().await;
    app.submit(json!({"description": "lima"})).await;
    let r = newest_report(&app, &before).await;
    assert_eq!(wrapped_to(&app, &r).await.len(), 3, "escrow + sup1 + sup2");
    std::fs::write(&list_path, &good).unwrap();
    let before = app.report_ids().await;
    app.submit(json!({"description": "enam"})).await;
    let r = newest_report(&app, &before).await;
    assert!(
        only_escrow(wrapped_to(&app, &r).await),
        "rolled-back list must give no wraps"
    );
    assert!(app.logs().contains("rollback"));

    // 7. An uncertified key slipped into a correctly signed list by someone without the
    // organisation key is a broken signature: the list as a whole is refused.
    let mut forged = bisik::crypto::recipients::SignedRecipientList::from_json(&good).unwrap();
    forged.list.recipients.push(Recipient {
        name: "mole".into(),
        role: "supervisor".into(),
        x25519: hex::encode(generate_x25519().1),
        ed25519: String::new(),
    });
    forged.list.epoch += 1_000_000;
    std::fs::write(&list_path, serde_json::to_string(&forged).unwrap()).unwrap();
    let before = app.report_ids().await;
    app.submit(json!({"description": "tujuh"})).await;
    let r = newest_report(&app, &before).await;
    assert!(
        only_escrow(wrapped_to(&app, &r).await),
        "forged list must give no wraps"
    );
}

async fn reporter_code_opens_k_r_never_k_s(b: Backend) {
    let app = TestApp::start(b).await;
    let code = app.submit(json!({"description": "kunci reporter"})).await;
    let id = ReportId::parse(&app.report_ids().await[0]).unwrap();
    let store = app.store().await;

    // The intake never makes K_s: only K_r wraps exist after a submission.
    let wraps = store.wraps(id).await.unwrap();
    assert!(!wraps.is_empty());
    assert!(
        wraps
            .iter()
            .all(|w| w.purpose == Purpose::ReporterKey.code()),
        "the intake created a staff-key wrap"
    );

    // The escrow holder learns K_r...
    let sealed = std::fs::read_to_string(app.keys_dir().join("offline.sealed")).unwrap();
    let offline =
        OfflineKeys::unseal(&sealed, &secrecy::SecretString::from(app.passphrase())).unwrap();
    let pinned = bisik::keyfiles::PublicKeys::load(&app.keys_dir()).unwrap();
    let k_r = unwrap(
        &offline.escrow_secret,
        &pinned.escrow,
        &id.bytes(),
        Purpose::ReporterKey,
        &wraps[0].wrapped,
    )
    .unwrap();

    // ...and the reporter's code, with the intake pepper, unwraps exactly the same K_r.
    let pepper = SecretKey32::from_bytes(
        *bisik::keyfiles::read_hex32(&app.keys_dir().join("intake.pepper")).unwrap(),
    );
    let parsed = bisik::crypto::code::FollowupCode::parse(&code).unwrap();
    let secrets = bisik::crypto::kdf::derive_code_secrets(&parsed, &pepper).unwrap();
    let access = store
        .access_by_tag(&secrets.tag)
        .await
        .unwrap()
        .expect("tag indexes the report");
    assert_eq!(access.report_id, id);
    let from_code = envelope::unwrap_report_key(
        &secrets.kek,
        &id.bytes(),
        secrets.version,
        &access.wrapped_key,
    )
    .unwrap();
    assert!(from_code == k_r);

    // Someone with database write access (standing in for the desk, which does not exist yet)
    // creates K_s, wraps it to escrow and seals a staff-only note under it. The reporter's K_r
    // does not open it and the reporter never sees it; and since nothing can vouch for a K_s
    // until staff keys exist, escrow recovery refuses the report instead of printing the note
    // as verified (issue 5, "Conversation integrity").
    let k_s = crate::conversation::plant_staff_note(
        &app,
        &store,
        id,
        "CATATAN INTERNAL: informan dikenal",
    )
    .await;
    assert!(k_s != k_r);
    let note = store
        .items(id)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.direction == Direction::StaffOnly)
        .unwrap();
    let aad = bisik::items::item_aad(id, note.id, note.kind, note.direction, note.seq, note.prev);
    assert!(envelope::open(&k_s, &aad, &note.sealed).is_ok());
    assert!(
        envelope::open(&k_r, &aad, &note.sealed).is_err(),
        "K_r must not open a K_s item"
    );
    let (s, v) = app.followup(&code).await;
    assert_eq!(s, 200);
    assert!(!v.to_string().contains("INTERNAL"), "{v}");
    let out = app.recover(&id.to_string());
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("staff key (K_s)"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("CATATAN INTERNAL"));
    store.close().await;
}

/// A list that could break submissions (a key listed twice, the escrow key listed, a key of low
/// order) is refused by the ceremony and, if forged into keys/, by the intake; tips are still
/// accepted and wrapped to escrow.
async fn unusable_lists_are_refused_and_tips_still_taken(b: Backend) {
    let app = TestApp::start(b).await;
    let escrow = escrow_fp(&app);
    let (_, k) = generate_x25519();
    assert!(certify(&app, "ani", &k).status.success());
    let twice = certify(&app, "ani-baru", &k);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already certified for ani"));
    let pinned = bisik::keyfiles::PublicKeys::load(&app.keys_dir()).unwrap();
    let esc = certify(&app, "escrow", &pinned.escrow.public);
    assert!(!esc.status.success());
    assert!(String::from_utf8_lossy(&esc.stderr).contains("escrow key"));

    let sealed = std::fs::read_to_string(app.keys_dir().join("offline.sealed")).unwrap();
    let offline =
        OfflineKeys::unseal(&sealed, &secrecy::SecretString::from(app.passphrase())).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    let entry = |name: &str, key: &[u8]| Recipient {
        name: name.into(),
        role: "supervisor".into(),
        x25519: hex::encode(key),
        ed25519: String::new(),
    };
    let lists = [
        ("duplicate key", vec![entry("ani", &k), entry("ani-2", &k)]),
        (
            "escrow listed",
            vec![entry("ani", &k), entry("escrow", &pinned.escrow.public)],
        ),
        (
            "low-order key",
            vec![entry("ani", &k), entry("nol", &[0u8; 32])],
        ),
    ];
    for (i, (case, recipients)) in lists.into_iter().enumerate() {
        let list = RecipientList {
            epoch: now + 1000 + i as u64,
            issued_at: now,
            expires_at: now + 86_400,
            recipients,
        }
        .sign(&offline.org_signing);
        std::fs::write(
            app.keys_dir().join("recipients.json"),
            serde_json::to_string(&list).unwrap(),
        )
        .unwrap();
        let before = app.report_ids().await;
        app.submit(json!({"description": format!("daftar rusak: {case}")}))
            .await;
        let r = newest_report(&app, &before).await;
        assert_eq!(
            wrapped_to(&app, &r).await,
            vec![(escrow.clone(), 1)],
            "{case}"
        );
    }
    assert!(app.logs().matches("RECIPIENT LIST REFUSED").count() >= 3);
}
