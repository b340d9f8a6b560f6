use crate::on_both;
use crate::support::{Backend, Opts, TestApp};
use bisik::crypto::chain::{ChainHead, KeyStatement, item_hash};
use bisik::crypto::envelope;
use bisik::crypto::header::key_commitment;
use bisik::crypto::primitives::SecretKey32;
use bisik::crypto::wrap::{Purpose, wrap_to};
use bisik::domain::{Direction, ItemId, ItemKind, ReportId};
use bisik::items::item_aad;
use bisik::store::Store;
use bisik::vault::offline::OfflineKeys;
use bisik::vault::unwrap::unwrap;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::time::Duration;

on_both!(
    untampered_conversation_recovers,
    deleting_the_last_item_is_detected,
    reordering_two_items_is_detected,
    a_planted_staff_key_and_note_are_refused,
    the_intake_never_extends_a_head_it_cannot_verify,
    a_changed_head_byte_is_detected,
    racing_appenders_never_fork_the_chain,
    daily_message_quota,
    answers_are_paginated_newest_first,
    the_reporter_page_selects_only_what_the_reporter_may_see,
    a_resent_message_is_stored_once
);

/// Starts a server with extra `[reporter]` settings in a config file.
async fn start_with_reporter(b: Backend, reporter: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bisik-test.toml");
    std::fs::write(&cfg, format!("[reporter]\n{reporter}\n")).unwrap();
    let app = TestApp::start_with(
        b,
        Opts {
            env: vec![("BISIK_CONFIG", cfg.display().to_string())],
            ..Opts::default()
        },
    )
    .await;
    (app, dir)
}

/// Submits a tip and `n` messages; returns (code, report id).
async fn report_with_messages(app: &TestApp, n: usize) -> (String, String) {
    let before = app.report_ids().await;
    let code = app
        .submit(json!({"description": "laporan percakapan"}))
        .await;
    for i in 0..n {
        let r = send(app, &code, &format!("pesan nomor {i}"), None).await;
        assert_eq!(r.0, 201, "message {i}: {}", r.1);
    }
    let id = app
        .report_ids()
        .await
        .into_iter()
        .find(|i| !before.contains(i))
        .unwrap();
    (code, id)
}

async fn send(app: &TestApp, code: &str, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = json!({"code": code, "body": body});
    if let Some(k) = key {
        req["idempotency_key"] = json!(k);
    }
    let r = app.post("/api/v1/followup/messages", req).await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn page(app: &TestApp, code: &str, page: u32) -> Value {
    let r = app
        .post("/api/v1/followup", json!({"code": code, "page": page}))
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub fn bodies(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

fn refused(out: &std::process::Output, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {err}");
    assert!(err.contains(why), "expected {why:?} in: {err}");
    assert!(out.stdout.is_empty(), "nothing decrypted is printed");
}

/// K_r of a report, as the escrow holder opens it.
pub fn k_r_of(app: &TestApp, store_wraps: &[bisik::store::WrapRow], id: ReportId) -> SecretKey32 {
    let sealed = std::fs::read_to_string(app.keys_dir().join("offline.sealed")).unwrap();
    let offline =
        OfflineKeys::unseal(&sealed, &secrecy::SecretString::from(app.passphrase())).unwrap();
    let pinned = bisik::keyfiles::PublicKeys::load(&app.keys_dir()).unwrap();
    let fp = hex::encode(pinned.escrow.fingerprint());
    let w = store_wraps
        .iter()
        .find(|w| w.recipient_fp == fp && w.purpose == 1)
        .unwrap();
    unwrap(
        &offline.escrow_secret,
        &pinned.escrow,
        &id.bytes(),
        Purpose::ReporterKey,
        &w.wrapped,
    )
    .unwrap()
}

/// Appends an item the way someone with database write access would: at the end of the chain
/// (the last hash is readable in the latest head), with a head signed by `signer`.
pub async fn plant_item(
    store: &Store,
    id: ReportId,
    key: &SecretKey32,
    kind: ItemKind,
    direction: Direction,
    plain: &[u8],
    signer: &SigningKey,
) {
    let row = store.latest_head(id).await.unwrap().unwrap();
    let head = ChainHead::decode(&row.head).unwrap();
    let seq = row.count;
    let item = ItemId::new();
    let aad = item_aad(id, item, kind, direction, seq, head.last_hash);
    let sealed = envelope::seal(key, &aad, plain);
    let (h, sig) = ChainHead::sign(id.bytes(), seq as u64 + 1, item_hash(&aad, &sealed), signer);
    sqlx::query(
        "INSERT INTO items (id, report_id, seq, kind, direction, sealed, prev, day) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 20000)",
    )
    .bind(item.to_string())
    .bind(id.to_string())
    .bind(seq)
    .bind(kind as i16)
    .bind(direction as i16)
    .bind(sealed)
    .bind(head.last_hash.to_vec())
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO item_heads (report_id, item_count, head, sig) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.to_string())
    .bind(seq + 1)
    .bind(h)
    .bind(sig.to_vec())
    .execute(store.pool())
    .await
    .unwrap();
}

/// What someone holding only the public keys and database write access can do to plant a staff
/// note: make a K_s, wrap it to escrow.pub, vouch for it with a key of their own, seal a note
/// under it and append it with a head of their own. Returns the K_s.
pub async fn plant_staff_note(
    app: &TestApp,
    store: &Store,
    id: ReportId,
    text: &str,
) -> SecretKey32 {
    let pinned = bisik::keyfiles::PublicKeys::load(&app.keys_dir()).unwrap();
    let forger = SigningKey::from_bytes(&[0x42; 32]);
    let k_s = SecretKey32::random();
    let wrap = wrap_to(&pinned.escrow, &id.bytes(), Purpose::StaffKey, &k_s).unwrap();
    sqlx::query("INSERT INTO report_wraps (report_id, recipient_fp, purpose, wrapped) VALUES ($1, $2, 2, $3)")
        .bind(id.to_string())
        .bind(hex::encode(pinned.escrow.fingerprint()))
        .bind(wrap)
        .execute(store.pool())
        .await
        .unwrap();
    let (st, sig) = KeyStatement {
        report_id: id.bytes(),
        purpose: Purpose::StaffKey.code(),
        commitment: key_commitment(&id.bytes(), &k_s),
        signer: [0; 32],
    }
    .sign(&forger);
    sqlx::query("INSERT INTO report_key_statements (report_id, purpose, statement, sig) VALUES ($1, 2, $2, $3)")
        .bind(id.to_string())
        .bind(st)
        .bind(sig.to_vec())
        .execute(store.pool())
        .await
        .unwrap();
    plant_item(
        store,
        id,
        &k_s,
        ItemKind::Note,
        Direction::StaffOnly,
        text.as_bytes(),
        &forger,
    )
    .await;
    k_s
}

async fn untampered_conversation_recovers(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, id) = report_with_messages(&app, 4).await;
    let out = app.recover(&id);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seqs: Vec<i64> = rec["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [4, 3, 2, 1], "every message, newest first");
    assert_eq!(rec["messages"][0]["body"], "pesan nomor 3");
}

/// A server with one report of `n` messages that recovers cleanly, and a direct connection
/// to its database for the insider who then tampers with it.
async fn to_tamper(b: Backend, n: usize) -> (TestApp, String, Store) {
    let app = TestApp::start(b).await;
    let (_, id) = report_with_messages(&app, n).await;
    assert!(app.recover(&id).status.success(), "intact before tampering");
    let store = app.store().await;
    (app, id, store)
}

async fn deleting_the_last_item_is_detected(b: Backend) {
    let (app, id, store) = to_tamper(b, 3).await;
    sqlx::query("DELETE FROM items WHERE report_id = $1 AND seq = 3")
        .bind(&id)
        .execute(store.pool())
        .await
        .unwrap();
    refused(&app.recover(&id), "items were deleted");
    store.close().await;
}

async fn reordering_two_items_is_detected(b: Backend) {
    let (app, id, store) = to_tamper(b, 3).await;
    for (from, to) in [(1, -1), (2, 1), (-1, 2)] {
        sqlx::query("UPDATE items SET seq = $1 WHERE report_id = $2 AND seq = $3")
            .bind(to)
            .bind(&id)
            .bind(from)
            .execute(store.pool())
            .await
            .unwrap();
    }
    // Caught by the chain, before any item is opened (the sequence number in each AAD would
    // catch it too, later).
    refused(
        &app.recover(&id),
        "item 1 does not link to the item before it",
    );
    store.close().await;
}

async fn a_planted_staff_key_and_note_are_refused(b: Backend) {
    let (app, id, store) = to_tamper(b, 1).await;
    let rid = ReportId::parse(&id).unwrap();
    plant_staff_note(&app, &store, rid, "CATATAN PALSU").await;
    refused(&app.recover(&id), "staff key (K_s)");
    assert!(String::from_utf8_lossy(&app.recover(&id).stderr).contains("unauthenticated"));
    store.close().await;
}

/// A planted item with a head of its own is not laundered by the next reporter message: the
/// intake would otherwise sign a head over it. It refuses to append (500, a log line without
/// ids) and stores nothing.
async fn the_intake_never_extends_a_head_it_cannot_verify(b: Backend) {
    let app = TestApp::start(b).await;
    let (code, id) = report_with_messages(&app, 1).await;
    let store = app.store().await;
    let rid = ReportId::parse(&id).unwrap();
    plant_staff_note(&app, &store, rid, "CATATAN PALSU").await;
    let before = store.items(rid).await.unwrap().len();
    let (s, _) = send(&app, &code, "pesan setelah penanaman", None).await;
    assert_eq!(s, 500);
    assert!(
        app.wait_for_log("a chain head does not verify", Duration::from_secs(10))
            .await
    );
    assert!(!app.logs().contains(&id), "the log names no report");
    assert_eq!(
        store.items(rid).await.unwrap().len(),
        before,
        "nothing appended"
    );
    refused(&app.recover(&id), "staff key (K_s)");
    store.close().await;
}

async fn a_changed_head_byte_is_detected(b: Backend) {
    let (app, id, store) = to_tamper(b, 2).await;
    let rid = ReportId::parse(&id).unwrap();
    let row = store.latest_head(rid).await.unwrap().unwrap();
    // Byte 60 lies inside last_hash (domain 4+19, report id 4+16, count 4+8, then 4 + hash).
    let mut head = row.head.clone();
    head[60] ^= 1;
    assert!(ChainHead::decode(&head).is_ok(), "still a well-formed head");
    sqlx::query("UPDATE item_heads SET head = $1 WHERE report_id = $2 AND item_count = $3")
        .bind(head)
        .bind(&id)
        .bind(row.count)
        .execute(store.pool())
        .await
        .unwrap();
    refused(&app.recover(&id), "chain head signature does not verify");
    store.close().await;
}

/// Concurrent messages on one report all land, each exactly once, in one unforked chain.
async fn racing_appenders_never_fork_the_chain(b: Backend) {
    let app = TestApp::start(b).await;
    let (code, id) = report_with_messages(&app, 0).await;
    let msgs = (0..6).map(|i| (format!("serentak {i}"), None)).collect();
    let statuses = send_at_once(&app, &code, msgs).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let out = app.recover(&id);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["messages"].as_array().unwrap().len(), 6);
}

/// Sends the messages `(body, idempotency key)` all at once; returns the statuses.
async fn send_at_once(app: &TestApp, code: &str, msgs: Vec<(String, Option<&str>)>) -> Vec<u16> {
    let url = app.url("/api/v1/followup/messages");
    let mut set = tokio::task::JoinSet::new();
    for (body, key) in msgs {
        let mut req = json!({"code": code, "body": body});
        if let Some(k) = key {
            req["idempotency_key"] = json!(k);
        }
        let url = url.clone();
        set.spawn(async move {
            let r = TestApp::client().post(url).json(&req).send().await.unwrap();
            r.status().as_u16()
        });
    }
    set.join_all().await
}

async fn daily_message_quota(b: Backend) {
    let (app, _cfg) = start_with_reporter(b, "messages_per_day = 3").await;
    let (code, _) = report_with_messages(&app, 3).await;
    let (s, v) = send(&app, &code, "satu lagi", None).await;
    assert_eq!(s, 429, "{v}");
    assert_eq!(v["error"]["code"], "message_quota");
    assert!(v["error"]["message"].as_str().unwrap().contains("besok"));
    let r = app
        .post(
            "/api/v1/followup/messages?lang=en",
            json!({"code": code, "body": "one more"}),
        )
        .await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("tomorrow"));
    // The quota is per report: another report's reporter is not affected.
    let (other, _) = report_with_messages(&app, 1).await;
    assert_eq!(send(&app, &other, "laporan lain", None).await.0, 201);
    // Nothing refused was stored.
    assert_eq!(
        page(&app, &code, 0).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

async fn answers_are_paginated_newest_first(b: Backend) {
    let (app, _cfg) = start_with_reporter(b, "messages_per_page = 2").await;
    let (code, _) = report_with_messages(&app, 5).await;
    let p0 = page(&app, &code, 0).await;
    assert_eq!(bodies(&p0), ["pesan nomor 4", "pesan nomor 3"]);
    assert_eq!(p0["older"], 3);
    assert_eq!(p0["status"], "received");
    let (s, dflt) = app.followup(&code).await;
    assert_eq!(s, 200);
    assert_eq!(dflt, p0, "no page means page 0");
    let p1 = page(&app, &code, 1).await;
    assert_eq!(bodies(&p1), ["pesan nomor 2", "pesan nomor 1"]);
    assert_eq!(p1["older"], 1);
    let p2 = page(&app, &code, 2).await;
    assert_eq!(bodies(&p2), ["pesan nomor 0"]);
    assert_eq!(p2["older"], 0);
    let p3 = page(&app, &code, 3).await;
    assert!(bodies(&p3).is_empty());
    assert_eq!(p3["older"], 0);
    let r = app
        .post("/api/v1/followup", json!({"code": code, "page": 100_001}))
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post("/api/v1/followup", json!({"code": code, "page": -1}))
        .await;
    assert_eq!(r.status(), 422);
}

/// Staff-only items are never selected for the reporter: with two of them newest in the chain,
/// the first page still holds the two newest messages the reporter may see (a page cut before
/// filtering would be empty), and `older` counts no staff item. Staff messages *to* the
/// reporter are shown.
async fn the_reporter_page_selects_only_what_the_reporter_may_see(b: Backend) {
    let (app, _cfg) = start_with_reporter(b, "messages_per_page = 2").await;
    let (code, id) = report_with_messages(&app, 2).await;
    let store = app.store().await;
    let rid = ReportId::parse(&id).unwrap();
    let k_r = k_r_of(&app, &store.wraps(rid).await.unwrap(), rid);
    let intake = SigningKey::from_bytes(
        &bisik::keyfiles::read_hex32(&app.keys_dir().join("intake.key")).unwrap(),
    );
    let question =
        serde_json::to_vec(&json!({"v": 1, "body": "Kapan kejadiannya?", "day": "2026-12-01"}))
            .unwrap();
    plant_item(
        &store,
        rid,
        &k_r,
        ItemKind::Message,
        Direction::StaffToReporter,
        &question,
        &intake,
    )
    .await;
    for _ in 0..2 {
        plant_item(
            &store,
            rid,
            &SecretKey32::random(),
            ItemKind::Note,
            Direction::StaffOnly,
            b"not sealed under K_r: opening it would fail",
            &intake,
        )
        .await;
    }
    let p0 = page(&app, &code, 0).await;
    assert_eq!(bodies(&p0), ["Kapan kejadiannya?", "pesan nomor 1"], "{p0}");
    assert_eq!(p0["messages"][0]["from"], "staff");
    assert_eq!(p0["messages"][1]["from"], "reporter");
    assert_eq!(p0["older"], 1);
    assert_eq!(bodies(&page(&app, &code, 1).await), ["pesan nomor 0"]);
    store.close().await;
}

async fn a_resent_message_is_stored_once(b: Backend) {
    let app = TestApp::start(b).await;
    let (code, id) = report_with_messages(&app, 0).await;
    let key = "4b1d6a7e-9c1f-4a52-8f3e-2d6b7c8a9e10";
    let first = send(&app, &code, "pesan sekali saja", Some(key)).await;
    assert_eq!(first.0, 201, "{}", first.1);
    let again = send(&app, &code, "pesan sekali saja", Some(key)).await;
    assert_eq!(again, first, "the same 201");
    // Two resends at once are still one message.
    let other = "Zz_resend-key-0002";
    let twice = vec![("dua kali serentak".to_owned(), Some(other)); 2];
    let both = send_at_once(&app, &code, twice).await;
    assert_eq!(both, [201, 201]);
    // Without a key, or with another key, a message is a new message.
    assert_eq!(send(&app, &code, "pesan sekali saja", None).await.0, 201);
    let v = page(&app, &code, 0).await;
    assert_eq!(
        bodies(&v),
        [
            "pesan sekali saja",
            "dua kali serentak",
            "pesan sekali saja"
        ]
    );
    // A malformed key is refused before any work.
    for bad in ["pendek", "ada spasi di dalam kunci ini", &"x".repeat(65)] {
        assert_eq!(send(&app, &code, "x", Some(bad)).await.0, 422, "{bad:?}");
    }
    // The same client key on another report is stored as an unrelated value.
    let (code2, id2) = report_with_messages(&app, 0).await;
    assert_eq!(send(&app, &code2, "laporan kedua", Some(key)).await.0, 201);
    let store = app.store().await;
    let tags: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT report_id, idem FROM items WHERE idem IS NOT NULL")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let of =
        |r: &str| -> Vec<&Vec<u8>> { tags.iter().filter(|t| t.0 == r).map(|t| &t.1).collect() };
    assert_eq!(of(&id).len(), 2);
    assert_eq!(of(&id2).len(), 1);
    assert!(!of(&id).contains(&of(&id2)[0]), "no link across reports");
    assert!(
        tags.iter()
            .all(|t| !crate::support::contains(&t.1, key.as_bytes())),
        "the client key is not stored"
    );
    store.close().await;
}
