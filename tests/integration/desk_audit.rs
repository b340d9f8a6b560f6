//! The glue between the desk, the audit log and revocation (issue 6): logins, logouts and
//! account changes from the desk pages and from `bisik user` are audited (the first admin,
//! enrolment, password changes and re-enabling included), and disabling a certified supervisor
//! (CLI or admin page) stops the very next tip being wrapped to them.

use crate::desk::{Browser, STRONG, add_via_ui, admin, enrol, field, start};
use crate::on_both;
use crate::support::{Backend, TestApp, new_report, ok};
use bisik::crypto::wrap::{Purpose, RecipientKey};
use bisik::desk::audit::{Entry, Event};
use bisik::domain::{ReportId, StaffId};
use bisik::store::Store;
use serde_json::json;

on_both!(
    disabling_a_certified_supervisor_stops_the_next_tip_and_is_audited,
    every_account_change_is_audited
);

/// Every audit event in order, with its actor and signer fingerprint.
pub async fn audit_events(desk: &Store) -> Vec<(Option<StaffId>, [u8; 32], Event)> {
    desk.audit_rows_after(0)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let e = Entry::decode(&r.entry).unwrap();
            (e.actor, e.signer, e.event)
        })
        .collect()
}

async fn events_have_revoked(desk: &Store, id: StaffId) -> bool {
    audit_events(desk)
        .await
        .iter()
        .any(|(_, _, e)| *e == Event::Revoked { staff: id })
}

/// The staff id and current X25519 fingerprint (hex) of account `name`.
async fn account(desk: &Store, name: &str) -> (StaffId, String) {
    let s = desk.staff_by_name(name).await.unwrap().unwrap();
    let k = desk.active_staff_key(&s.id).await.unwrap().unwrap();
    (
        StaffId::parse(&s.id).unwrap(),
        hex::encode(
            RecipientKey::from_bytes(&k.x25519_public)
                .unwrap()
                .fingerprint(),
        ),
    )
}

/// Submits a tip and returns its id.
async fn tip(app: &TestApp, text: &str) -> ReportId {
    let before = app.report_ids().await;
    app.submit(json!({ "description": text })).await;
    new_report(app, &before).await
}

async fn wrapped_to(store: &Store, id: ReportId, fp: &str) -> bool {
    store
        .wraps(id)
        .await
        .unwrap()
        .iter()
        .any(|w| w.recipient_fp == fp && w.purpose == Purpose::ReporterKey.code())
}

async fn disabling_a_certified_supervisor_stops_the_next_tip_and_is_audited(b: Backend) {
    let app = start(b, vec![]).await;
    let store = app.store().await;
    let desk = app.desk_store().await;
    let (mut adm, _) = admin(&app).await;
    let (_, cli_sup) = add_via_ui(&app, &mut adm, "koordinator", "supervisor").await;
    let (mut ui_b, mut ui_sup) = add_via_ui(&app, &mut adm, "koordinator2", "supervisor").await;
    let (_, reset_sup) = add_via_ui(&app, &mut adm, "koordinator3", "supervisor").await;
    let pass = app.passphrase();
    for s in [&cli_sup, &ui_sup, &reset_sup] {
        ok(&app.cli(
            &[
                "keys",
                "certify",
                "--user",
                &s.name,
                "--fingerprint",
                &s.fingerprint,
            ],
            &pass,
        ));
    }
    let (cli_id, cli_fp) = account(&desk, "koordinator").await;
    let (ui_id, ui_fp) = account(&desk, "koordinator2").await;
    let admin_id = StaffId::parse(&desk.staff_by_name("admin").await.unwrap().unwrap().id).unwrap();
    let (reset_id, reset_fp) = account(&desk, "koordinator3").await;
    let first = tip(&app, "laporan pertama").await;
    assert!(wrapped_to(&store, first, &reset_fp).await);
    assert!(wrapped_to(&store, first, &cli_fp).await);
    assert!(wrapped_to(&store, first, &ui_fp).await);

    // A certified supervisor's login and logout are signed with their own key; a failed login
    // by the service key.
    let bad = ui_b
        .post(
            "/login",
            &[
                ("username", "koordinator2"),
                ("password", "salah-salah-salah"),
                ("totp", "000000"),
            ],
        )
        .await;
    assert_eq!(bad.status, 200);
    let adm_bad = ui_b
        .post(
            "/login",
            &[("username", "admin"), ("password", "x"), ("totp", "1")],
        )
        .await;
    assert_eq!(adm_bad.status, 200);
    let unknown = ui_b
        .post(
            "/login",
            &[("username", "tiada"), ("password", "x"), ("totp", "1")],
        )
        .await;
    assert_eq!(unknown.status, 200);
    let mut fresh = Browser::new(&app);
    let p = ui_sup.login(&mut fresh).await;
    assert_eq!(p.status, 303, "{}", p.body);
    // The supervisor sees the audit head at login, as `bisik audit checkpoint` prints it; the
    // admin does not.
    let home = fresh.get("/").await;
    let shown = field(&home.body, "id=\"audit-head\">", "<");
    let printed = ok(&app.cli(&["audit", "checkpoint"], ""));
    assert_eq!(shown, printed.trim());
    assert!(!adm.get("/").await.body.contains("audit-head"));
    // The audit page: the supervisor sees every kind, newest first; the admin account events
    // only; both pages say it in Bahasa Indonesia first and carry translate="no".
    let page = fresh.get("/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("translate=\"no\""));
    assert!(
        page.body
            .contains("Log audit <span class=\"en\">/ Audit log</span>")
    );
    assert!(page.body.contains("<td>certified</td>"), "{}", page.body);
    let seqs: Vec<u64> = page
        .body
        .split("<tr><td>")
        .skip(1)
        .map(|r| r[..r.find('<').unwrap()].parse().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    assert_eq!(
        seqs[0],
        shown.split(':').next().unwrap().parse::<u64>().unwrap()
    );
    let page = adm.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("account created: koordinator2"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<td>certified</td>"), "{}", page.body);
    assert!(!page.body.contains("<td>login</td>"), "{}", page.body);
    let csrf = fresh.csrf().await;
    assert_eq!(fresh.post("/logout", &[("csrf", &csrf)]).await.status, 200);

    // One through the CLI, one through the admin page.
    ok(&app.cli(&["user", "disable", "koordinator"], ""));
    ok(&app.cli(&["user", "reset", "koordinator3"], ""));
    let csrf = adm.csrf().await;
    let p = adm
        .post(
            "/accounts/disable",
            &[("csrf", &csrf), ("username", "koordinator2"), ("role", "")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);

    let second = tip(&app, "laporan kedua").await;
    assert!(
        !wrapped_to(&store, second, &cli_fp).await,
        "disabled with `bisik user disable`: no wrap for the next tip"
    );
    assert!(
        !wrapped_to(&store, second, &ui_fp).await,
        "disabled on the admin page: no wrap for the next tip"
    );
    assert!(
        !wrapped_to(&store, second, &reset_fp).await,
        "reset with `bisik user reset`: no wrap for the next tip (its retired key)"
    );
    assert!(
        events_have_revoked(&desk, reset_id).await,
        "the reset supervisor's revocation is audited"
    );

    let events = audit_events(&desk).await;
    let has = |actor: Option<StaffId>, want: &Event| {
        events.iter().any(|(a, _, e)| *a == actor && e == want)
    };
    let own = own_signer(&desk, ui_id).await;
    for want in [Event::LoginSucceeded, Event::LoggedOut] {
        assert!(
            events
                .iter()
                .any(|(a, s, e)| *a == Some(ui_id) && *s == own && *e == want),
            "{want:?} signed with the supervisor's own key: {events:?}"
        );
    }
    assert!(has(Some(admin_id), &Event::LoginFailed), "{events:?}");
    // The service key signs no entry in a certified member's name, so their failed login has
    // no actor, like one for a name that does not exist; an uncertified account's has.
    assert!(!has(Some(ui_id), &Event::LoginFailed), "{events:?}");
    assert!(has(None, &Event::LoginFailed), "{events:?}");
    for id in [cli_id, ui_id] {
        assert!(
            events.iter().any(|(_, _, e)| *e
                == Event::AccountChanged {
                    staff: id,
                    change: "created".into()
                }),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .any(|(_, _, e)| *e == Event::Revoked { staff: id }),
            "{events:?}"
        );
        assert!(
            events.iter().any(|(_, _, e)| *e
                == Event::AccountChanged {
                    staff: id,
                    change: "disabled".into()
                }),
            "{events:?}"
        );
    }
    let out = ok(&app.cli(&["audit", "verify"], ""));
    assert!(out.contains("0 key(s) certified now"), "{out}");
}

/// The `account` changes recorded for `id`, in order, each with its actor and signer.
async fn changes(desk: &Store, id: StaffId) -> Vec<(Option<StaffId>, [u8; 32], String)> {
    audit_events(desk)
        .await
        .into_iter()
        .filter_map(|(actor, signer, e)| match e {
            Event::AccountChanged { staff, change } if staff == id => Some((actor, signer, change)),
            _ => None,
        })
        .collect()
}

/// Just the names of [`changes`].
async fn change_names(desk: &Store, id: StaffId) -> Vec<String> {
    changes(desk, id).await.into_iter().map(|c| c.2).collect()
}

async fn staff_id(desk: &Store, name: &str) -> StaffId {
    StaffId::parse(&desk.staff_by_name(name).await.unwrap().unwrap().id).unwrap()
}

/// Signer fingerprint of the account's active Ed25519 key.
async fn own_signer(desk: &Store, id: StaffId) -> [u8; 32] {
    let k = desk
        .active_staff_key(&id.to_string())
        .await
        .unwrap()
        .unwrap();
    bisik::crypto::chain::signer_fingerprint(
        &ed25519_dalek::VerifyingKey::from_bytes(&k.ed25519_public[..].try_into().unwrap())
            .unwrap(),
    )
}

/// I6, account changes: the first admin that `bisik serve` makes, enrolment (the forced first
/// password and the new keys), a password change on the password page, and a reset that
/// enables a disabled account again (CLI and admin page) are each audited, by staff id only,
/// and `bisik audit verify` still passes, with a certified supervisor among them.
async fn every_account_change_is_audited(b: Backend) {
    let app = start(b, vec![]).await;
    let desk = app.desk_store().await;
    let admin_id = staff_id(&desk, "admin").await;
    assert_eq!(
        change_names(&desk, admin_id).await,
        ["created"],
        "the first `bisik serve` audits the admin it makes"
    );
    let (mut adm, mut admin_staff) = admin(&app).await;
    assert_eq!(
        change_names(&desk, admin_id).await,
        ["created", "password_changed", "keys_created"],
        "enrolment: the forced first password and the new keys"
    );
    let r = admin_staff
        .change_password(&mut adm, "admin-baru-kapal-gunung")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let admin_changes = changes(&desk, admin_id).await;
    assert_eq!(
        admin_changes.last().unwrap(),
        &(
            Some(admin_id),
            admin_changes[1].1,
            "password_changed".to_owned()
        ),
        "a password change, in the admin's name, signed like the enrolment (the service key: \
         an admin is never certified): {admin_changes:?}"
    );

    // A certified supervisor changes their password: signed with their own key.
    let (mut sup_b, mut sup) = add_via_ui(&app, &mut adm, "koordinator", "supervisor").await;
    ok(&app.cli(
        &[
            "keys",
            "certify",
            "--user",
            "koordinator",
            "--fingerprint",
            &sup.fingerprint,
        ],
        &app.passphrase(),
    ));
    let sup_id = staff_id(&desk, "koordinator").await;
    let r = sup
        .change_password(&mut sup_b, &format!("baru-{STRONG}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let own = own_signer(&desk, sup_id).await;
    assert_eq!(
        changes(&desk, sup_id).await.last().unwrap(),
        &(Some(sup_id), own, "password_changed".to_owned())
    );

    // Disabled, then reset with `bisik user reset`: the reset enables it again, audited as such;
    // the new enrolment's keys are audited too (the supervisor is revoked by then, so the
    // service key signs in their name).
    ok(&app.cli(&["user", "disable", "koordinator"], ""));
    ok(&app.cli(&["user", "reset", "koordinator"], ""));
    let names = change_names(&desk, sup_id).await;
    assert!(
        names.ends_with(&["disabled".into(), "password_reset".into(), "enabled".into()]),
        "{names:?}"
    );
    let ot = app.one_time_password("koordinator");
    enrol(&app, "koordinator", &ot, &format!("lagi-{STRONG}")).await;
    let names = change_names(&desk, sup_id).await;
    assert!(
        names.ends_with(&["password_changed".into(), "keys_created".into()]),
        "{names:?}"
    );

    // The same on the admin page; a reset of an account that is not disabled enables nothing.
    let (_, _) = add_via_ui(&app, &mut adm, "petugas", "investigator").await;
    let inv_id = staff_id(&desk, "petugas").await;
    let form = |csrf: &str| {
        [
            ("csrf", csrf.to_owned()),
            ("username", "petugas".to_owned()),
            ("role", String::new()),
        ]
    };
    for path in ["/accounts/reset", "/accounts/disable", "/accounts/reset"] {
        let csrf = adm.csrf().await;
        let f = form(&csrf);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = adm.post(path, &f).await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
    }
    // Enrolment in the account's own name, the admin's changes in the admin's; all signed by
    // the service key, which also signed the first admin's `created`.
    let service = admin_changes[0].1;
    let by = |actor: StaffId, c: &str| (Some(actor), service, c.to_owned());
    assert_eq!(
        changes(&desk, inv_id).await,
        [
            by(admin_id, "created"),
            by(inv_id, "password_changed"),
            by(inv_id, "keys_created"),
            by(admin_id, "password_reset"),
            by(admin_id, "disabled"),
            by(admin_id, "password_reset"),
            by(admin_id, "enabled"),
        ]
    );

    // The admin's audit page shows them (account events are what admins see), by name.
    let page = adm.get("/audit").await;
    assert_eq!(page.status, 200);
    for line in [
        "account enabled: petugas",
        "account keys_created: petugas",
        "account password_changed: koordinator",
        "account created: admin",
    ] {
        assert!(page.body.contains(line), "{line}: {}", page.body);
    }
    // Entries carry staff ids, never names.
    let rows = desk.audit_rows_after(0).await.unwrap();
    for name in [b"petugas".as_slice(), b"koordinator", b"admin"] {
        assert!(
            rows.iter()
                .all(|r| !r.entry.windows(name.len()).any(|w| w == name)),
            "an entry holds a name"
        );
    }
    desk.close().await;
    let out = ok(&app.cli(&["audit", "verify"], ""));
    assert!(out.contains("0 key(s) certified now"), "{out}");
}
