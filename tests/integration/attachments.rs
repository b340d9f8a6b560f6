//! Attachments end to end (issue 9), through the real server on both databases: a photo with
//! GPS, XMP, a comment and a trailing image goes in through the intake's multipart API and
//! comes out of the desk's download clean, with the same dimensions (I9); its bytes and its
//! name are nowhere in the data directory, the blob store, the spool or the logs (I1); each bad
//! input gets its own clear error and leaves nothing stored; a killed sanitizer is a clear error
//! and leaves no spool; a blob changed in the store cuts the download short; and
//! `bisik maintenance blobs` removes orphans and strays, never a report's blob.

use crate::desk::{Browser, add_via_ui, admin, start};
use crate::desk_audit::audit_events;
use crate::on_both;
use crate::sanitize::{assert_no_canary, has_exif, plain_jpeg, png_bomb, tell_tale_jpeg};
use crate::support::{
    Backend, Moto, Opts, TestApp, canary, contains, new_report, ok, start_with_config_on,
};
use bisik::desk::audit::{Access, Event};
use bisik::domain::ReportId;
use serde_json::{Value, json};
use std::time::Duration;

on_both!(
    a_photo_with_gps_reaches_the_desk_clean_and_nothing_plain_is_stored,
    bad_files_get_clear_errors_and_nothing_is_stored,
    a_killed_sanitizer_is_a_clear_error_and_leaves_no_spool,
    a_consented_pdf_is_kept_as_sent_with_a_warning,
    a_changed_blob_cuts_the_download_short,
    maintenance_removes_orphans_and_strays_only,
    a_refused_form_tells_the_reporter_to_choose_the_files_again
);

/// One part of a multipart body: (field name, file name, bytes).
pub type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

const BOUNDARY: &str = "----bisik-test-7f3a9c";

/// A `multipart/form-data` body, written by hand so a test can send what no library would
/// (a cut body, a name with a slash or a control character in it).
pub fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, file, bytes) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => out.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// Posts a multipart body to the intake's submit API.
pub async fn send(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let r = TestApp::client()
        .post(app.url("/api/v1/reports"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn report_json(description: &str) -> Vec<u8> {
    json!({ "description": description })
        .to_string()
        .into_bytes()
}

/// GET on the desk as `b`, as bytes.
async fn get_bytes(b: &Browser, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut rq = TestApp::client().get(format!("{}{path}", b.base));
    if let Some(c) = &b.cookie {
        rq = rq.header("cookie", c);
    }
    let r = rq.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    (status, headers, body)
}

/// Files in the blob store and the spool.
fn blob_files(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for d in ["blobs", "spool"] {
        if let Ok(rd) = std::fs::read_dir(app.data_dir().join(d)) {
            out.extend(
                rd.flatten()
                    .map(|e| format!("{d}/{}", e.file_name().to_string_lossy())),
            );
        }
    }
    out.sort();
    out
}

/// A certified supervisor's desk session.
async fn supervisor(app: &TestApp) -> Browser {
    let (mut ab, _) = admin(app).await;
    let (sb, _) = add_via_ui(app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    sb
}

async fn a_photo_with_gps_reaches_the_desk_clean_and_nothing_plain_is_stored(b: Backend) {
    photo_round_trip(b, None).await
}

/// The same on S3-compatible storage: a real server (moto) started by the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_photo_with_gps_reaches_the_desk_clean_and_nothing_plain_is_stored() {
    if let Some(m) = Moto::start().await {
        photo_round_trip(Backend::Sqlite, Some(m)).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_bad_files_get_clear_errors_and_nothing_is_stored() {
    if let Some(m) = Moto::start().await {
        bad_files(Backend::Sqlite, Some(m)).await
    }
}

async fn photo_round_trip(b: Backend, s3: Option<Moto>) {
    let env = s3.as_ref().map(|m| m.env()).unwrap_or_default();
    let app = start(b, env).await;
    let mut sb = supervisor(&app).await;
    let photo = tell_tale_jpeg(640, 480);
    let name_canary = canary("NAME");
    let text_canary = canary("TEXT");
    let photo_name = format!("rumah {name_canary}.jpg");
    let note = format!("catatan pelapor {text_canary}\r\nbaris kedua\u{202E}\u{0007}");
    let before = app.report_ids().await;
    let (status, body) = send(
        &app,
        multipart(&[
            (
                "report",
                None,
                &report_json("transaksi di gudang, lihat foto"),
            ),
            ("file1", Some(&photo_name), &photo),
            ("file2", Some("catatan.txt"), note.as_bytes()),
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["code"].is_string());
    let id = new_report(&app, &before).await;

    // The desk lists both files, the photo with a thumbnail.
    let page = sb.get(&format!("/report?id={id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&photo_name), "{}", page.body);
    assert!(!page.body.contains("class=\"unsanitized\""));

    // The download: the same picture, none of its metadata.
    let (status, headers, clean) = get_bytes(&sb, &format!("/report/attachment?id={id}&n=1")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-length"], clean.len().to_string().as_str());
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"rumah_"),
        "{disposition}"
    );
    assert!(disposition.ends_with(".jpg\""), "{disposition}");
    let img = image::load_from_memory_with_format(&clean, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (640, 480));
    assert!(!has_exif(&clean), "EXIF survived the pipeline");
    assert_no_canary(&clean);
    assert_eq!(
        crate::sanitize::find(&clean, b"\xFF\xD8"),
        1,
        "a second image survived"
    );

    assert!(
        page.body
            .contains(&format!("/report/thumb?id={id}&amp;n=1"))
    );
    assert!(page.body.contains("640 × 480"), "{}", page.body);

    // The text: its controls gone, its words kept.
    let (status, _, text) = get_bytes(&sb, &format!("/report/attachment?id={id}&n=2")).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains(&text_canary), "{text}");
    assert!(
        !text.contains('\u{0007}') && !text.contains('\r'),
        "{text:?}"
    );

    // The thumbnail is a small PNG.
    let (status, headers, thumb) = get_bytes(&sb, &format!("/report/thumb?id={id}&n=1")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    let t = image::load_from_memory_with_format(&thumb, image::ImageFormat::Png).unwrap();
    assert!(t.width() <= 320 && t.height() <= 320 && t.width() > 0);

    // Every download was audited.
    let desk = app.desk_store().await;
    let downloads = audit_events(&desk)
        .await
        .into_iter()
        .filter(|(_, _, e)| {
            matches!(e, Event::Decrypted { report, access: Access::Download } if *report == id)
        })
        .count();
    desk.close().await;
    assert_eq!(downloads, 2);

    // I1: neither the photo's canaries, nor the text's, nor the name, anywhere at rest, the
    // spool is empty, and the logs hold none of it.
    let blobs = blob_files(&app);
    assert!(!blobs.iter().any(|f| f.starts_with("spool/")), "{blobs:?}");
    let mut at_rest = TestApp::files_under(app.path());
    match &s3 {
        None => assert!(blobs.iter().any(|f| f.starts_with("blobs/")), "{blobs:?}"),
        Some(m) => {
            // Nothing on the local disk; the photo, its thumbnail and the text in the bucket.
            assert!(!blobs.iter().any(|f| f.starts_with("blobs/")), "{blobs:?}");
            let objects = m.objects().await;
            assert_eq!(
                objects.len(),
                3,
                "{:?}",
                objects.iter().map(|o| &o.0).collect::<Vec<_>>()
            );
            for (key, bytes) in objects {
                assert_eq!(key.len(), 32, "{key}");
                at_rest.push((format!("s3:{key}").into(), bytes));
            }
        }
    }
    if b == Backend::Postgres {
        at_rest.push(("pg_dump".into(), app.pg_dump()));
    }
    for needle in [
        name_canary.as_bytes(),
        text_canary.as_bytes(),
        b"CANARY-XMP",
        b"CANARY-MAKE",
        b"CANARY-COMMENT",
        b"rumah ",
    ] {
        for (path, bytes) in &at_rest {
            assert!(
                !contains(bytes, needle),
                "{} found in {}",
                String::from_utf8_lossy(needle),
                path.display()
            );
        }
        assert!(!contains(app.logs().as_bytes(), needle));
    }
    ok(&app.cli(&["audit", "verify"], ""));
}

async fn bad_files_get_clear_errors_and_nothing_is_stored(b: Backend) {
    bad_files(b, None).await
}

async fn bad_files(b: Backend, s3: Option<Moto>) {
    let (app, _cfg) = start_with_config_on(
        b,
        "[attachments]\nmax_files = 2\nmax_file_mib = 1\nconsent_types = [\"pdf\"]\n",
        Opts {
            env: s3.as_ref().map(|m| m.env()).unwrap_or_default(),
            ..Opts::default()
        },
    )
    .await;
    let tip = report_json("laporan dengan berkas yang salah");
    let jpeg = plain_jpeg(32, 32);
    let big = vec![b'a'; (1 << 20) + 1];
    let long = "a".repeat(10_000) + ".jpg";
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let elf = [&b"\x7FELF\x02\x01\x01"[..], &[0u8; 64]].concat();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "oversize",
            multipart(&[("report", None, &tip), ("file1", Some("a.txt"), &big)]),
            413,
            "file_too_large",
        ),
        (
            "too many",
            multipart(&[
                ("report", None, &tip),
                ("file1", Some("a.jpg"), &jpeg),
                ("file2", Some("b.jpg"), &jpeg),
                ("file3", Some("c.jpg"), &jpeg),
            ]),
            422,
            "too_many_files",
        ),
        (
            "disallowed",
            multipart(&[("report", None, &tip), ("file1", Some("a.bin"), &elf)]),
            422,
            "file_type_not_allowed",
        ),
        (
            "disguised",
            multipart(&[("report", None, &tip), ("file1", Some("foto.jpg"), &elf)]),
            422,
            "file_type_not_allowed",
        ),
        (
            "unconsented",
            multipart(&[("report", None, &tip), ("file1", Some("a.pdf"), &pdf)]),
            422,
            "metadata_consent_required",
        ),
        (
            "zero bytes",
            multipart(&[("report", None, &tip), ("file1", Some("kosong.jpg"), b"")]),
            422,
            "empty_file",
        ),
        (
            "slash",
            multipart(&[
                ("report", None, &tip),
                ("file1", Some("../../etc/passwd.jpg"), &jpeg),
            ]),
            422,
            "bad_file_name",
        ),
        (
            "backslash",
            multipart(&[("report", None, &tip), ("file1", Some("a\\b.jpg"), &jpeg)]),
            422,
            "bad_file_name",
        ),
        // C1 controls: a C0 control (ESC, a newline) never arrives, since browsers escape
        // newlines and a raw ESC makes the part header invalid (400, malformed_multipart).
        (
            "control",
            multipart(&[
                ("report", None, &tip),
                ("file1", Some("a\u{9b}31m.jpg"), &jpeg),
            ]),
            422,
            "bad_file_name",
        ),
        (
            "bidi",
            multipart(&[
                ("report", None, &tip),
                ("file1", Some("gpj.\u{202E}exe.jpg"), &jpeg),
            ]),
            422,
            "bad_file_name",
        ),
        (
            "10,000 characters",
            multipart(&[("report", None, &tip), ("file1", Some(&long), &jpeg)]),
            422,
            "bad_file_name",
        ),
        (
            "undecodable",
            multipart(&[
                ("report", None, &tip),
                ("file1", Some("a.jpg"), &jpeg[..jpeg.len() / 3]),
            ]),
            422,
            "file_unreadable",
        ),
    ];
    let mut cases = cases;
    // A body cut off in the middle of a file.
    let mut cut = multipart(&[("report", None, &tip), ("file1", Some("a.jpg"), &jpeg)]);
    cut.truncate(cut.len() - 40);
    cases.push(("truncated", cut, 400, "malformed_multipart"));
    // Two files under one field name (one consent box for both).
    cases.push((
        "repeated field",
        multipart(&[
            ("report", None, &tip),
            ("file1", Some("a.jpg"), &jpeg),
            ("file1", Some("b.jpg"), &jpeg),
        ]),
        400,
        "malformed_multipart",
    ));
    // No boundary at all: refused once the parser has hoarded 1 MiB, not at the whole body.
    cases.push((
        "no boundary",
        vec![b'A'; 2_000_000],
        400,
        "malformed_multipart",
    ));
    // A part header that never ends.
    let mut endless =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"").into_bytes();
    endless.extend(std::iter::repeat_n(b'x', 2_000_000));
    cases.push(("endless header", endless, 400, "malformed_multipart"));
    for (what, body, want, code) in cases {
        let (status, body) = send(&app, body).await;
        assert_eq!(status, want, "{what}: {body}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 20),
            "{what}: {body}"
        );
    }
    // A declared Content-Length that cannot fit is refused before the body is read.
    let r = TestApp::client()
        .post(app.url("/api/v1/reports"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("content-length", (64u64 << 20).to_string())
        .body(vec![0u8; 16])
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    assert!(
        app.report_ids().await.is_empty(),
        "a refused upload stored a report"
    );
    assert_eq!(blob_files(&app), Vec::<String>::new());
    if let Some(m) = &s3 {
        assert!(
            m.objects().await.is_empty(),
            "a refused upload left an object"
        );
    }
    let store = app.store().await;
    assert!(store.blob_rows().await.unwrap().is_empty());
    store.close().await;

    // The same form with the files put right is taken.
    let (status, body) = send(
        &app,
        multipart(&[
            ("report", None, &tip),
            ("file1", Some("foto.jpg"), &jpeg),
            ("file2", Some("a.pdf"), &pdf),
            ("consent2", None, b"1"),
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // A decompression bomb is refused, and the server lives on.
    let bomb = png_bomb();
    let (status, body) = send(
        &app,
        multipart(&[("report", None, &tip), ("file1", Some("bom.png"), &bomb)]),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("image_too_large")),
        "{body}"
    );
    let (status, _) = send(
        &app,
        multipart(&[("report", None, &tip), ("file1", Some("b.jpg"), &jpeg)]),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(app.report_ids().await.len(), 2);
}

async fn a_killed_sanitizer_is_a_clear_error_and_leaves_no_spool(b: Backend) {
    let app = start(b, vec![("BISIK_SANITIZER_TEST_SLEEP_MS", "20000".into())]).await;
    let photo = tell_tale_jpeg(64, 64);
    let body = multipart(&[
        (
            "report",
            None,
            &report_json("laporan yang berkasnya gagal diproses"),
        ),
        ("file1", Some("foto.jpg"), &photo),
    ]);
    let server = app.pid();
    let url = app.url("/api/v1/reports");
    let upload = tokio::spawn(async move {
        let r = TestApp::client()
            .post(url)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    // The sanitizer child: the server's child whose command line says `sanitize`.
    let mut child = None;
    for _ in 0..300 {
        child = sanitizer_of(server);
        if child.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let child = child.expect("the sanitizer child never started");
    // Mid-work: the spool holds the upload, sealed (I1 during the upload: none of the photo's
    // metadata, nor its name, is readable there).
    let spooled: Vec<_> = TestApp::files_under(&app.data_dir().join("spool"));
    assert_eq!(spooled.len(), 1, "{:?}", blob_files(&app));
    for (path, bytes) in &spooled {
        assert!(
            bytes.len() > photo.len(),
            "a spool file is padded and sealed"
        );
        for needle in [&b"CANARY"[..], b"Exif", b"foto.jpg", &photo[..64]] {
            assert!(!contains(bytes, needle), "plaintext in {}", path.display());
        }
    }
    let killed = std::process::Command::new("kill")
        .args(["-9", &child.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (status, body) = upload.await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "attachment_failed", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("belum terkirim")
    );
    assert!(
        !blob_files(&app).iter().any(|f| f.starts_with("spool/")),
        "{:?}",
        blob_files(&app)
    );
    assert!(app.report_ids().await.is_empty());
}

/// The pid of `server`'s sanitizer child, if one runs.
fn sanitizer_of(server: u32) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Field 4, after the parenthesised name, is the parent pid.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let ppid: Option<u32> = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(server) && contains(&cmdline, b"sanitize\0") {
            return Some(pid);
        }
    }
    None
}

async fn a_consented_pdf_is_kept_as_sent_with_a_warning(b: Backend) {
    let (app, _cfg) = start_with_config_on(
        b,
        "[attachments]\nconsent_types = [\"pdf\"]\n",
        Opts::default(),
    )
    .await;
    let mut sb = supervisor(&app).await;
    let pdf = b"%PDF-1.4\n% dibuat oleh ponsel pelapor\n1 0 obj <<>> endobj\n%%EOF\n".to_vec();
    let before = app.report_ids().await;
    let (status, body) = send(
        &app,
        multipart(&[
            ("report", None, &report_json("surat jalan terlampir")),
            ("file1", Some("surat.pdf"), &pdf),
            ("consent1", None, b"1"),
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = new_report(&app, &before).await;
    let page = sb.get(&format!("/report?id={id}")).await;
    assert!(page.body.contains("class=\"unsanitized\""), "{}", page.body);
    assert!(page.body.contains("TIDAK dibersihkan"), "{}", page.body);
    let (status, headers, got) = get_bytes(&sb, &format!("/report/attachment?id={id}&n=1")).await;
    assert_eq!(status, 200);
    assert_eq!(got, pdf, "a consented file is kept exactly as sent");
    assert_eq!(headers["content-type"], "application/pdf");
    // No thumbnail for what the sanitizer never saw.
    let (status, _, _) = get_bytes(&sb, &format!("/report/thumb?id={id}&n=1")).await;
    assert_eq!(status, 404);
}

async fn a_changed_blob_cuts_the_download_short(b: Backend) {
    let app = start(b, vec![]).await;
    let sb = supervisor(&app).await;
    // A photo large enough for several 64 KiB chunks.
    let photo = {
        let img = image::RgbImage::from_fn(900, 700, |x, y| {
            image::Rgb([(x ^ y) as u8, (x * 3) as u8, (y * 11) as u8])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 95,
            ))
            .unwrap();
        out
    };
    let before = app.report_ids().await;
    let (status, body) = send(
        &app,
        multipart(&[
            ("report", None, &report_json("foto motor")),
            ("file1", Some("motor.jpg"), &photo),
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = new_report(&app, &before).await;
    let (status, headers, intact) =
        get_bytes(&sb, &format!("/report/attachment?id={id}&n=1")).await;
    assert_eq!(status, 200);
    let length: usize = headers["content-length"].to_str().unwrap().parse().unwrap();
    assert_eq!(intact.len(), length);
    assert!(length > 3 * 65536, "the photo should span chunks: {length}");
    // Flip one byte of the second chunk of the largest blob (the photo, not its thumbnail).
    let store = app.store().await;
    let rid = ReportId::parse(&id.to_string()).unwrap();
    let ids = store.blobs_of(rid).await.unwrap();
    store.close().await;
    let path = ids
        .iter()
        .map(|i| app.data_dir().join("blobs").join(i))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20 + 65536 + 16 + 100] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let mut rq = TestApp::client().get(format!("{}/report/attachment?id={id}&n=1", sb.base));
    rq = rq.header("cookie", sb.cookie.clone().unwrap());
    let r = rq.send().await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "the first chunk is sent before the second is read"
    );
    let got = r.bytes().await;
    match got {
        Err(_) => {}
        Ok(b) => assert!(b.len() < length, "a tampered download came out whole"),
    }
    assert!(app.logs().contains("failed to authenticate"));
    // Tampering is audited in the reader's name, as a broken chain is (I6): once for the cut
    // download (written after the answer began), and again for a thumbnail whose blob is gone.
    let failures = |events: Vec<(Option<bisik::domain::StaffId>, [u8; 32], Event)>| {
        events
            .into_iter()
            .filter(|(actor, _, e)| {
                actor.is_some() && matches!(e, Event::IntegrityFailed { report } if *report == rid)
            })
            .count()
    };
    let desk = app.desk_store().await;
    let start = std::time::Instant::now();
    while failures(audit_events(&desk).await) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the cut download was not audited"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let thumb = ids
        .iter()
        .map(|i| app.data_dir().join("blobs").join(i))
        .min_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    std::fs::remove_file(&thumb).unwrap();
    let (status, _, body) = get_bytes(&sb, &format!("/report/thumb?id={id}&n=1")).await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    assert_eq!(failures(audit_events(&desk).await), 2);
    desk.close().await;
    ok(&app.cli(&["audit", "verify"], ""));
}

async fn maintenance_removes_orphans_and_strays_only(b: Backend) {
    let app = start(b, vec![]).await;
    let mut sb = supervisor(&app).await;
    let before = app.report_ids().await;
    let (status, _) = send(
        &app,
        multipart(&[
            ("report", None, &report_json("foto")),
            ("file1", Some("a.jpg"), &plain_jpeg(40, 40)),
        ]),
    )
    .await;
    assert_eq!(status, 201);
    let id = new_report(&app, &before).await;
    let store = app.store().await;
    let kept = store.blobs_of(id).await.unwrap();
    assert_eq!(kept.len(), 2, "the photo and its thumbnail");
    let dir = app.data_dir().join("blobs");
    // An orphan from a crash two days ago (its report never committed), a pending upload of
    // today (not yet an orphan), a row whose blob is gone, and a stray file.
    let ghost = ReportId::new();
    let today = bisik::domain::today();
    for (name, day) in [
        ("aa".repeat(16), today - 2),
        ("bb".repeat(16), today),
        ("cc".repeat(16), today - 5),
    ] {
        store.record_blob(&name, ghost, day).await.unwrap();
        if !name.starts_with('c') {
            std::fs::write(dir.join(&name), b"sealed bytes").unwrap();
        }
    }
    std::fs::write(dir.join("dd".repeat(16)), b"no row").unwrap();
    std::fs::write(dir.join("not-a-blob"), b"stray").unwrap();
    let out = ok(&app.cli(&["maintenance", "blobs"], ""));
    assert!(out.contains("orphaned blobs removed: 1"), "{out}");
    assert!(out.contains("stray files removed: 2"), "{out}");
    assert!(out.contains("rows without a blob removed: 1"), "{out}");
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut want = kept.clone();
    want.push("bb".repeat(16));
    want.sort();
    assert_eq!(left, want);
    // Every blob's file times say nothing.
    for name in &left {
        let m = std::fs::metadata(dir.join(name)).unwrap();
        assert_eq!(m.modified().unwrap(), std::time::UNIX_EPOCH, "{name}");
    }
    let rows: Vec<String> = store
        .blob_rows()
        .await
        .unwrap()
        .into_iter()
        .map(|(r, _)| r.id)
        .collect();
    store.close().await;
    assert_eq!(rows.len(), 3);
    // The report's photo still downloads.
    let page = sb.get(&format!("/report/attachment?id={id}&n=1")).await;
    assert_eq!(page.status, 200);
}

on_both!(a_photo_attached_in_chromium_without_javascript_reaches_the_investigator_without_gps);

/// The browser side (issue 9): in Chromium with JavaScript off, a reporter attaches a photo
/// with GPS to the form; an investigator the supervisor shared it with downloads it, and it
/// carries no GPS and no other metadata.
async fn a_photo_attached_in_chromium_without_javascript_reaches_the_investigator_without_gps(
    backend: Backend,
) {
    use crate::browser::{Browser as Chromium, BrowserOpts};
    let app = start(backend, vec![]).await;
    let (mut ab, _) = admin(&app).await;
    let (mut sb, _) = add_via_ui(&app, &mut ab, "koor", "supervisor").await;
    ok(&app.cli(&["keys", "certify", "--user", "koor"], &app.passphrase()));
    let (mut ib, inv) = add_via_ui(&app, &mut ab, "petugas", "investigator").await;
    let Some(b) = Chromium::start(BrowserOpts::phone_no_js()).await else {
        return;
    };
    let photo = app.path().join("foto-rumah.jpg");
    std::fs::write(&photo, tell_tale_jpeg(320, 240)).unwrap();
    assert!(
        has_exif(&std::fs::read(&photo).unwrap()),
        "the fixture carries EXIF"
    );
    let before = app.report_ids().await;
    b.goto(&app.url("/lapor")).await;
    b.fill("#description", "Transaksi di rumah ini, lihat foto.")
        .await;
    b.find("#file1")
        .await
        .send_keys(&photo.display().to_string())
        .await
        .expect("attach the photo");
    b.click_and_wait("form[action^=\"/lapor\"] button[type=submit]")
        .await;
    let code = b.text("#code").await;
    assert_eq!(
        code.chars().filter(char::is_ascii_digit).count(),
        20,
        "{}",
        b.source().await
    );
    b.close().await;
    let id = new_report(&app, &before).await.to_string();
    // Need to know (I5): before it is shared (and before they are certified), the investigator
    // gets neither file nor thumbnail.
    for path in ["attachment", "thumb"] {
        let (status, _, body) = get_bytes(&ib, &format!("/report/{path}?id={id}&n=1")).await;
        assert!(
            matches!(status, 403 | 404),
            "{path} before sharing: {status}"
        );
        assert!(
            !contains(&body, b"\xFF\xD8"),
            "{path}: image bytes before sharing"
        );
    }
    // The supervisor shares it with the investigator, who downloads the photo.
    let csrf = sb.csrf().await;
    let p = sb
        .post(
            "/reports/share",
            &[
                ("csrf", &csrf),
                ("report", &id),
                ("username", "petugas"),
                ("fingerprint", &inv.fingerprint),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let page = ib.get(&format!("/report?id={id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("foto-rumah.jpg"), "{}", page.body);
    let (status, _, got) = get_bytes(&ib, &format!("/report/attachment?id={id}&n=1")).await;
    assert_eq!(status, 200);
    let img = image::load_from_memory_with_format(&got, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (320, 240));
    assert!(
        !has_exif(&got),
        "the investigator's download carries EXIF (GPS)"
    );
    assert_no_canary(&got);
    // Certified now, they still get nothing of a report not shared with them: 404, by id.
    let before = app.report_ids().await;
    let (status, body) = send(
        &app,
        multipart(&[
            ("report", None, &report_json("laporan lain")),
            ("file1", Some("lain.jpg"), &plain_jpeg(50, 50)),
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let other = new_report(&app, &before).await.to_string();
    for path in ["attachment", "thumb"] {
        let (status, _, body) = get_bytes(&ib, &format!("/report/{path}?id={other}&n=1")).await;
        assert_eq!(status, 404, "{path} of an unshared report");
        assert!(
            !contains(&body, b"\xFF\xD8"),
            "{path}: image bytes of an unshared report"
        );
    }
}

on_both!(a_reporter_message_carries_a_clean_photo_and_a_resend_stores_it_once);

/// Files on a follow-up message (issue 9: "per report or message"): the reporter answers a
/// question with a photo through the API; staff see it under the message and download it
/// clean. The same message sent again with its idempotency key stores no second copy.
async fn a_reporter_message_carries_a_clean_photo_and_a_resend_stores_it_once(b: Backend) {
    let app = start(b, vec![]).await;
    let mut sb = supervisor(&app).await;
    let before = app.report_ids().await;
    let code = app
        .submit(json!({"description": "gudang di belakang pasar"}))
        .await;
    let id = new_report(&app, &before).await;
    let store = app.store().await;
    assert!(store.blobs_of(id).await.unwrap().is_empty());
    let message = json!({
        "code": code,
        "body": "ini fotonya",
        "idempotency_key": "0123456789abcdef0123456789abcdef",
    })
    .to_string();
    let photo = tell_tale_jpeg(200, 100);
    let send_message = || async {
        let r = TestApp::client()
            .post(app.url("/api/v1/followup/messages"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(&[
                ("message", None, message.as_bytes()),
                ("file1", Some("foto-gudang.jpg"), &photo),
            ]))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let (status, body) = send_message().await;
    assert_eq!(status, 201, "{body}");
    let stored = store.blobs_of(id).await.unwrap();
    assert_eq!(stored.len(), 2, "the photo and its thumbnail");
    // The resend (a lost answer on a slow line): one message, and its files once.
    let (status, body) = send_message().await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(store.blobs_of(id).await.unwrap(), stored);
    let on_disk = std::fs::read_dir(app.data_dir().join("blobs"))
        .unwrap()
        .count();
    assert_eq!(on_disk, 2, "the resend left blobs behind");
    store.close().await;
    let page = sb.get(&format!("/report?id={id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("foto-gudang.jpg"), "{}", page.body);
    let seq = 1; // the tip is 0, the message 1
    assert!(
        page.body.contains(&format!(
            "/report/attachment?id={id}&amp;item={seq}&amp;n=1"
        )),
        "{}",
        page.body
    );
    let (status, _, got) =
        get_bytes(&sb, &format!("/report/attachment?id={id}&item={seq}&n=1")).await;
    assert_eq!(status, 200);
    let img = image::load_from_memory_with_format(&got, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (200, 100));
    assert!(!has_exif(&got));
    assert_no_canary(&got);
    // The tip has no file 1, and no other item has files.
    let (status, _, _) = get_bytes(&sb, &format!("/report/attachment?id={id}&n=1")).await;
    assert_eq!(status, 404);
    let (status, _, _) = get_bytes(&sb, &format!("/report/attachment?id={id}&item=0&n=1")).await;
    assert_eq!(status, 404);
}

on_both!(the_disk_check_and_the_hourly_budget_refuse_files_with_their_own_errors);

/// The free-disk check and the hourly byte budget (issue 9, Limits): each refuses a file with its
/// own 503 and a Retry-After, stores nothing, and leaves a tip without files alone.
async fn the_disk_check_and_the_hourly_budget_refuse_files_with_their_own_errors(b: Backend) {
    let tip = report_json("laporan dengan foto");
    let jpeg = plain_jpeg(64, 64);
    // No disk has this much free.
    let app = start(
        b,
        vec![("BISIK_ATTACHMENTS_MIN_FREE_MIB", "1000000000".into())],
    )
    .await;
    let (status, body) = send(
        &app,
        multipart(&[("report", None, &tip), ("file1", Some("a.jpg"), &jpeg)]),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("attachments_storage_full")),
        "{body}"
    );
    assert!(app.report_ids().await.is_empty());
    let (status, _) = send(&app, multipart(&[("report", None, &tip)])).await;
    assert_eq!(status, 201, "a tip without files is still taken");
    drop(app);
    // A budget of 1 MiB an hour: one 700 KB file passes, the next does not.
    let app = start(b, vec![("BISIK_ATTACHMENTS_HOURLY_BUDGET_MIB", "1".into())]).await;
    let text = "kata ".repeat(140_000).into_bytes();
    let (status, body) = send(
        &app,
        multipart(&[("report", None, &tip), ("file1", Some("a.txt"), &text)]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let r = TestApp::client()
        .post(app.url("/api/v1/reports"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[
            ("report", None, &tip),
            ("file1", Some("b.txt"), &text),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "attachments_busy", "{body}");
    assert_eq!(app.report_ids().await.len(), 1);
}

/// The report form refused for a field (here an empty description) cannot give the files back:
/// a browser never fills a file input again. The page says so in both languages when the send
/// carried a file, and keeps nothing of it; a send whose file inputs were left empty (a
/// browser sends them as parts with an empty name) gets no such line.
async fn a_refused_form_tells_the_reporter_to_choose_the_files_again(b: Backend) {
    let app = start(b, vec![]).await;
    let again_id = "Pilih lagi sebelum mengirim.";
    let again_en = "Choose them again before sending.";
    let photo = plain_jpeg(40, 40);
    for (with_file, lang) in [(true, ""), (true, "?lang=en"), (false, "")] {
        let mut p = crate::pages::Pages::new(&app);
        let token = crate::pages::form_token(&mut p, lang).await;
        let file: (&str, Option<&str>, &[u8]) = if with_file {
            ("file1", Some("foto.jpg"), &photo)
        } else {
            ("file1", Some(""), b"")
        };
        let body = multipart(&[
            ("token", None, token.as_bytes()),
            ("description", None, b""),
            file,
        ]);
        let r = TestApp::client()
            .post(app.url(&format!("/lapor{lang}")))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header("origin", format!("http://{}", app.addr))
            .header("sec-fetch-site", "same-origin")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let page = r.text().await.unwrap();
        let again = if lang.is_empty() { again_id } else { again_en };
        assert_eq!(page.contains(again), with_file, "{lang}: {page}");
        assert!(
            page.contains("name=\"file1\""),
            "the file inputs are offered again"
        );
        assert!(app.report_ids().await.is_empty());
        assert!(blob_files(&app).is_empty(), "{:?}", blob_files(&app));
    }
}
