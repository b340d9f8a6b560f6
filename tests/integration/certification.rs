use crate::audit::open_audit;
use crate::conversation::plant_staff_note;
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use bisik::crypto::SecretKey32;
use bisik::crypto::header::{ReportHeader, key_commitment};
use bisik::crypto::wrap::{Purpose, RecipientKey, generate_x25519};
use bisik::desk::audit::Signer;
use bisik::desk::certify::revoke_staff;
use bisik::desk::report_keys::{Acting, append_staff_item, create_staff_key, vouched_staff_key};
use bisik::domain::{Direction, ItemKind, ReportId, StaffId, today};
use bisik::items::chain::Append;
use bisik::store::{NewStaff, StaffKeyRow, Store};
use bisik::vault::unwrap::unwrap;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

on_both!(
    certify_user_grants_and_revocation_stops_the_next_tip,
    a_staff_key_by_a_certified_supervisor_is_accepted_a_planted_one_refused
);

/// A desk account with its keys, as the desk's first login leaves it (src/store/desk.rs); the
/// test keeps the private halves.
struct Staff {
    id: StaffId,
    x25519_secret: SecretKey32,
    x25519: RecipientKey,
    ed25519: SigningKey,
}

async fn enrolled(desk: &Store, name: &str, role: &str) -> Staff {
    let id = StaffId::new();
    desk.create_staff(&NewStaff {
        id: &id.to_string(),
        username: name,
        role,
        day: today(),
        salt: &[1; 16],
        m_kib: 8,
        one_time: &[2; 32],
    })
    .await
    .unwrap();
    let (x25519_secret, x_pub) = generate_x25519();
    let ed25519 = SigningKey::from_bytes(SecretKey32::random().expose());
    assert!(
        desk.enrol_staff(
            &StaffKeyRow {
                staff_id: id.to_string(),
                x25519_public: x_pub.to_vec(),
                ed25519_public: ed25519.verifying_key().to_bytes().to_vec(),
                sealed_secrets: vec![3; 64],
                created_day: today(),
                active: true,
            },
            &[4; 16],
            8,
            0,
        )
        .await
        .unwrap()
    );
    Staff {
        id,
        x25519_secret,
        x25519: RecipientKey::from_bytes(&x_pub).unwrap(),
        ed25519,
    }
}

/// Whether `s` holds a wrap of `id`'s K_r that opens to the K_r the header commits to.
async fn can_open(store: &Store, s: &Staff, id: ReportId) -> bool {
    let fp = hex::encode(s.x25519.fingerprint());
    let Some(w) = store
        .wraps(id)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.recipient_fp == fp && w.purpose == Purpose::ReporterKey.code())
    else {
        return false;
    };
    let k_r = unwrap(
        &s.x25519_secret,
        &s.x25519,
        &id.bytes(),
        Purpose::ReporterKey,
        &w.wrapped,
    )
    .unwrap();
    let row = store.report(id).await.unwrap().unwrap();
    let header = ReportHeader::decode(&row.header).unwrap();
    key_commitment(&id.bytes(), &k_r) == header.key_commitment
}

async fn certify_user_grants_and_revocation_stops_the_next_tip(b: Backend) {
    let app = TestApp::start(b).await;
    let store = app.store().await;
    let desk = app.desk_store().await;
    let before = app.report_ids().await;
    app.submit(json!({"description": "laporan sebelum sertifikasi"}))
        .await;
    let old = new_report(&app, &before).await;
    let sup = enrolled(&desk, "koordinator", "supervisor").await;
    enrolled(&desk, "admin2", "admin").await;
    let pass = app.passphrase();

    // An admin is never certified, and a wrong fingerprint stops the ceremony.
    let out = app.cli(&["keys", "certify", "--user", "admin2"], &pass);
    assert_eq!(out.status.code(), Some(1));
    let out = app.cli(
        &[
            "keys",
            "certify",
            "--user",
            "koordinator",
            "--fingerprint",
            &"ab".repeat(32),
        ],
        &pass,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mismatch"));
    assert!(!can_open(&store, &sup, old).await);

    let shown = bisik::desk::keys::fingerprint_of(&sup.x25519.public).unwrap();
    let printed = ok(&app.cli(
        &[
            "keys",
            "certify",
            "--user",
            "koordinator",
            "--fingerprint",
            &shown,
        ],
        &pass,
    ));
    assert!(
        printed.contains(&shown),
        "the fingerprint is shown: {printed}"
    );
    assert!(
        printed.contains("1 existing report(s) granted"),
        "{printed}"
    );
    assert!(can_open(&store, &sup, old).await, "granted from escrow");
    let list: Value = serde_json::from_str(
        &std::fs::read_to_string(app.keys_dir().join("recipients.json")).unwrap(),
    )
    .unwrap();
    let epoch = list["list"]["epoch"].as_u64().unwrap();
    assert!(
        desk.archived_recipient_list(epoch).await.unwrap().is_some(),
        "the signed list is archived"
    );

    // New tips are wrapped to the certified supervisor.
    let before = app.report_ids().await;
    app.submit(json!({"description": "laporan sesudah sertifikasi"}))
        .await;
    let second = new_report(&app, &before).await;
    assert!(can_open(&store, &sup, second).await);

    // Recovery: a lost wrap comes back with `keys grant`.
    sqlx::query("DELETE FROM report_wraps WHERE report_id = $1 AND recipient_fp = $2")
        .bind(second.to_string())
        .bind(hex::encode(sup.x25519.fingerprint()))
        .execute(store.pool())
        .await
        .unwrap();
    assert!(!can_open(&store, &sup, second).await);
    ok(&app.cli(
        &[
            "keys",
            "grant",
            "--user",
            "koordinator",
            "--report",
            &second.to_string(),
        ],
        &pass,
    ));
    assert!(can_open(&store, &sup, second).await);

    // Revocation without the offline key: the very next tip is not wrapped to them.
    let audit = open_audit(&app).await;
    let n = revoke_staff(
        &store,
        &desk,
        &audit,
        &Signer::Service { actor: None },
        sup.id,
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    let before = app.report_ids().await;
    app.submit(json!({"description": "laporan sesudah pencabutan"}))
        .await;
    let third = new_report(&app, &before).await;
    assert!(
        !can_open(&store, &sup, third).await,
        "a revoked supervisor gets no wrap for the next tip"
    );
    let out = app.cli(&["keys", "grant", "--user", "koordinator", "--all"], &pass);
    assert_eq!(out.status.code(), Some(1), "no grants to a revoked key");

    let out = ok(&app.cli(&["audit", "verify"], ""));
    assert!(out.contains("0 key(s) certified now"), "{out}");
}

async fn a_staff_key_by_a_certified_supervisor_is_accepted_a_planted_one_refused(b: Backend) {
    let app = TestApp::start(b).await;
    let store = app.store().await;
    let desk = app.desk_store().await;
    let pinned = bisik::keyfiles::PublicKeys::load(&app.keys_dir()).unwrap();
    let sup = enrolled(&desk, "koordinator", "supervisor").await;
    let other = enrolled(&desk, "koordinator2", "supervisor").await;
    let pass = app.passphrase();
    ok(&app.cli(&["keys", "certify", "--user", "koordinator"], &pass));
    let before = app.report_ids().await;
    app.submit(json!({"description": "laporan dengan catatan"}))
        .await;
    let id = new_report(&app, &before).await;
    let audit = open_audit(&app).await;

    // An uncertified staff key makes no K_s.
    let refused = create_staff_key(
        &store,
        &audit,
        &Acting {
            staff: other.id,
            key: &other.ed25519,
        },
        id,
        &pinned.escrow,
        std::slice::from_ref(&other.x25519),
    )
    .await;
    assert!(refused.is_err());

    let me = Acting {
        staff: sup.id,
        key: &sup.ed25519,
    };
    let k_s = create_staff_key(
        &store,
        &audit,
        &me,
        id,
        &pinned.escrow,
        std::slice::from_ref(&sup.x25519),
    )
    .await
    .unwrap();
    let note = b"CATATAN ASLI koordinator";
    append_staff_item(
        &store,
        &audit,
        &me,
        id,
        &k_s,
        &Append {
            kind: ItemKind::Note,
            direction: Direction::StaffOnly,
            plain: note,
            idem: None,
            day: today(),
            quota: None,
        },
        pinned.intake,
    )
    .await
    .unwrap();
    // Accepted by the desk library and by `keys recover`.
    let certified = audit.certified().await.unwrap();
    let vouched = vouched_staff_key(
        id,
        &store.wraps(id).await.unwrap(),
        &store.key_statements(id).await.unwrap(),
        &certified,
        &pinned.intake,
    )
    .unwrap();
    assert_eq!(vouched, Some(key_commitment(&id.bytes(), &k_s)));
    let rec: Value = serde_json::from_str(&ok(&app.recover(&id.to_string()))).unwrap();
    assert_eq!(
        rec["notes"][0]["plain"],
        String::from_utf8_lossy(note).as_ref()
    );
    ok(&app.cli(&["audit", "verify"], ""));

    // Issue 5's planted K_s (escrow.pub, a key of the planter's own): refused by both.
    let before = app.report_ids().await;
    app.submit(json!({"description": "laporan yang ditanami"}))
        .await;
    let planted = new_report(&app, &before).await;
    plant_staff_note(&app, &store, planted, "CATATAN PALSU").await;
    let why = vouched_staff_key(
        planted,
        &store.wraps(planted).await.unwrap(),
        &store.key_statements(planted).await.unwrap(),
        &audit.certified().await.unwrap(),
        &pinned.intake,
    )
    .unwrap_err();
    assert!(why.contains("unauthenticated"), "{why}");
    let out = app.recover(&planted.to_string());
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("staff key (K_s)"));
}
