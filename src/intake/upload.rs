//! Attachments on the way in (issue 9, I1, I9): a multipart body parsed as a stream, each file
//! spooled to disk sealed under a throwaway key that only this request holds, the type decided
//! from the bytes, then each file sanitized in a separate sandboxed process
//! ([`crate::sanitize`]), sealed as a stream under K_r and written to the blob store. Plaintext
//! never touches the disk: not in the spool, not in the blob store, not in a temp file.
//!
//! Every refusal is a clear 4xx and leaves nothing behind: a spool file is removed when its
//! [`Spooled`] is dropped, and blobs written for a report that then fails are removed again.

use super::IntakeState;
use crate::blob::BlobId;
use crate::crypto::SecretKey32;
use crate::crypto::stream::{BlobAad, BlobPurpose, CHUNK, Opener, Sealer, seal_all};
use crate::domain::{ReportId, today};
use crate::items::{AttachmentRef, ThumbRef};
use crate::sanitize::{self, Kind, SanitizeError};
use crate::web::ApiError;
use crate::web::form::Form;
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Payload};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

const TOO_LARGE: ApiError = ApiError::new(
    StatusCode::PAYLOAD_TOO_LARGE,
    "file_too_large",
    "Berkas terlalu besar. Kirim berkas yang lebih kecil, atau kirim tanpa lampiran.",
    "A file is too large. Send a smaller file, or send without attachments.",
);
const BODY_TOO_LARGE: ApiError = ApiError::new(
    StatusCode::PAYLOAD_TOO_LARGE,
    "body_too_large",
    "Isi permintaan terlalu besar: terlalu banyak atau terlalu besar lampirannya.",
    "The request body is too large: too many or too large attachments.",
);
const TOO_MANY: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "too_many_files",
    "Terlalu banyak berkas. Lampirkan lebih sedikit berkas.",
    "Too many files. Attach fewer files.",
);
const EMPTY: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "empty_file",
    "Sebuah berkas kosong (0 byte). Pilih berkasnya lagi.",
    "A file is empty (0 bytes). Choose the file again.",
);
const BAD_NAME: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "bad_file_name",
    "Nama berkas tidak dapat diterima (terlalu panjang, atau berisi garis miring atau karakter kendali). Ganti nama berkasnya lalu kirim lagi.",
    "A file name cannot be accepted (too long, or it holds a slash or a control character). Rename the file and send it again.",
);
const BAD_TYPE: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "file_type_not_allowed",
    "Jenis berkas ini tidak diterima. Kirim foto (JPEG, PNG, WebP) atau teks biasa.",
    "This type of file is not accepted. Send a photo (JPEG, PNG, WebP) or plain text.",
);
const NEEDS_CONSENT: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "metadata_consent_required",
    "Metadata dalam berkas ini tidak dapat dihapus. Centang kotak persetujuan untuk berkas itu, atau jangan lampirkan berkasnya.",
    "The metadata in this file cannot be removed. Tick the consent box for that file, or do not attach it.",
);
const UNREADABLE: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "file_unreadable",
    "Berkas tidak dapat dibaca sebagai foto atau teks yang sah. Kirim berkas lain, atau kirim tanpa lampiran.",
    "The file cannot be read as a valid photo or text. Send another file, or send without attachments.",
);
const TOO_MANY_PIXELS: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "image_too_large",
    "Gambar terlalu besar (terlalu banyak piksel). Kirim foto dengan ukuran lebih kecil.",
    "The image is too large (too many pixels). Send a smaller photo.",
);
const FAILED: ApiError = ApiError::new(
    StatusCode::SERVICE_UNAVAILABLE,
    "attachment_failed",
    "Berkas tidak dapat diproses. Laporan Anda belum terkirim. Coba kirim lagi, atau kirim tanpa lampiran.",
    "The file could not be processed. Your report has not been sent. Try again, or send without attachments.",
);
const BUDGET: ApiError = ApiError::new(
    StatusCode::SERVICE_UNAVAILABLE,
    "attachments_busy",
    "Layanan sedang menerima terlalu banyak lampiran. Kirim laporan tanpa lampiran sekarang, atau coba lagi nanti.",
    "The service is taking too many attachments right now. Send the report without attachments now, or try again later.",
);
const DISK: ApiError = ApiError::new(
    StatusCode::SERVICE_UNAVAILABLE,
    "attachments_storage_full",
    "Tempat penyimpanan lampiran hampir penuh. Kirim laporan tanpa lampiran, atau coba lagi nanti.",
    "Attachment storage is almost full. Send the report without attachments, or try again later.",
);
const MALFORMED: ApiError = ApiError::new(
    StatusCode::BAD_REQUEST,
    "malformed_multipart",
    "Isi formulir terputus atau tidak sah. Buka formulir lagi lalu kirim.",
    "The form's content was cut off or is not valid. Open the form again and send it.",
);
const SLOW: ApiError = ApiError::new(
    StatusCode::REQUEST_TIMEOUT,
    "request_timeout",
    "Pengiriman terhenti terlalu lama. Periksa koneksi Anda dan coba lagi.",
    "The upload stalled for too long. Check your connection and try again.",
);

/// Longest accepted file name, in characters.
pub const NAME_MAX: usize = 200;
/// The first bytes of a file kept in memory to decide its type.
const HEAD: usize = 4096;
/// An upload may pause this long between two pieces (slow mobile data), and take this long in
/// all, before it is given up.
const IDLE: Duration = Duration::from_secs(60);
const WHOLE: Duration = Duration::from_secs(30 * 60);
/// How long a file waits for a free sanitizer before the upload gets 503.
const QUEUE_WAIT: Duration = Duration::from_secs(60);

/// A file spooled to disk, sealed under a key that exists only in this value. Dropping it
/// removes the spool file.
pub struct Spooled {
    path: PathBuf,
    key: SecretKey32,
    aad: BlobAad,
    /// Its size in bytes.
    pub len: u64,
    /// Its type, from its first bytes.
    pub kind: Kind,
    /// Its checked name.
    pub name: String,
    /// Its position among the form's file fields, from 1 (consent boxes refer to it).
    pub index: usize,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        // Best effort: `bisik serve` also empties the spool at start.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Spooled {
    /// Decrypts the spool into `to`, piece by piece.
    pub async fn feed(&self, mut to: impl tokio::io::AsyncWrite + Unpin) -> Result<(), ApiError> {
        let mut f = tokio::fs::File::open(&self.path)
            .await
            .map_err(ApiError::internal)?;
        let mut o = Opener::new(&self.key, &self.aad, self.len);
        let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
        let mut plain = Zeroizing::new(Vec::with_capacity(2 * CHUNK));
        loop {
            let n = f.read(&mut buf).await.map_err(ApiError::internal)?;
            if n == 0 {
                break;
            }
            o.push(&buf[..n], &mut plain).map_err(ApiError::internal)?;
            // A closed pipe means the sanitizer stopped reading (it failed); its own error
            // is the one to report.
            if to.write_all(&plain).await.is_err() {
                return Ok(());
            }
            plain.clear();
        }
        o.finish(&mut plain).map_err(ApiError::internal)?;
        let _ = to.write_all(&plain).await;
        let _ = to.shutdown().await;
        Ok(())
    }
}

/// A parsed multipart body: its text fields and its spooled files.
pub struct Upload {
    /// The text fields, as a urlencoded form would give them.
    pub form: Form,
    /// The files, in field order.
    pub files: Vec<Spooled>,
}

impl Upload {
    /// Whether the reporter ticked the consent box of file `index`.
    fn consented(&self, index: usize) -> bool {
        self.form
            .get(&format!("consent{index}"))
            .is_some_and(|v| !v.is_empty())
    }
}

/// The spool directory (created 0700 at start and emptied there).
pub fn spool_dir(cfg: &crate::config::Config) -> PathBuf {
    cfg.data_dir.join("spool")
}

/// Creates the spool directory and removes what a crash left in it (every spool file is sealed
/// under a key that died with its process, so it is noise, but noise with a size).
pub fn prepare_spool(cfg: &crate::config::Config) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = spool_dir(cfg);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    // Only what is older than any upload may be: several intake processes may share the spool.
    let stale = std::time::SystemTime::now() - (WHOLE + Duration::from_secs(600));
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        if e.metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < stale)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// Checks a file name from a multipart header: it is only ever shown (escaped) and offered as a
/// download name, never used as a path, but a name with a path or a control character in it is
/// refused rather than silently changed, so the reporter knows what staff will see.
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let bad = name.chars().count() > NAME_MAX
        || name.trim().is_empty()
        || name == "."
        || name == ".."
        || name.chars().any(|c| {
            c == '/'
                || c == '\\'
                || c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        });
    if bad {
        return Err(BAD_NAME);
    }
    Ok(name.to_owned())
}

/// The number in a file field's name (`file1` .. `file20`).
fn file_index(name: &str) -> Option<usize> {
    let n: usize = name.strip_prefix("file")?.parse().ok()?;
    (1..=20).contains(&n).then_some(n)
}

/// Reads a `multipart/form-data` body as a stream: text fields (at most `limits.body_bytes` in
/// all) into a [`Form`], files (fields `file1`..`fileN`) each spooled sealed to disk. A file
/// over the size limit is refused with 413 the moment it passes it, and a declared
/// Content-Length that cannot fit is refused before anything is read.
pub async fn read_multipart(
    st: &IntakeState,
    req: &HttpRequest,
    payload: Payload,
) -> Result<Upload, ApiError> {
    let a = &st.cfg.attachments;
    let text_limit = st.cfg.limits.body_bytes;
    let file_limit = a.max_file_bytes();
    let whole_limit = text_limit as u64 + a.max_files as u64 * (file_limit + 16 * 1024) + 64 * 1024;
    if let Some(len) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > whole_limit
    {
        return Err(BODY_TOO_LARGE);
    }
    let boundary = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or(MALFORMED)?;
    // multer wants a Send stream and actix's payload is not: a small channel carries the body
    // pieces from this task's reading loop to the parser, both driven by this one future.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let consumed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pump = pump(payload, tx, whole_limit, consumed.clone());
    let dir = spool_dir(&st.cfg);
    let parse = parse(
        multer::Multipart::new(tokio_stream(rx), boundary),
        Rules {
            max_files: a.max_files,
            text_limit,
            file_limit,
        },
        &dir,
        Some(&consumed),
    );
    let (pumped, parsed) = tokio::join!(pump, parse);
    // The pump's own error (too large, too slow) explains a parse failure better.
    pumped?;
    parsed
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// How far the body may run ahead of the field bytes the parser has handed out: multer keeps a
/// preamble and a part's headers in one growing buffer until it finds the boundary or the blank
/// line, so a body of 100 MB without either would otherwise be held whole (found in review).
/// Boundaries and headers of the few parts a body may have stay far below this.
const HOARD_MAX: u64 = 1024 * 1024;

async fn pump(
    mut payload: Payload,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    limit: u64,
    digested: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), ApiError> {
    let deadline = Instant::now() + WHOLE;
    let mut seen = 0u64;
    loop {
        let next = match tokio::time::timeout(IDLE, payload.next()).await {
            Ok(n) => n,
            Err(_) => {
                let _ = tx
                    .send(Err(std::io::Error::other("the upload stalled")))
                    .await;
                return Err(SLOW);
            }
        };
        let Some(chunk) = next else {
            return Ok(());
        };
        let Ok(chunk) = chunk else {
            let _ = tx.send(Err(std::io::Error::other("cut off"))).await;
            return Err(MALFORMED);
        };
        seen += chunk.len() as u64;
        if seen.saturating_sub(digested.load(std::sync::atomic::Ordering::Relaxed)) > HOARD_MAX {
            let _ = tx.send(Err(std::io::Error::other("not multipart"))).await;
            return Err(MALFORMED);
        }
        if seen > limit {
            let _ = tx.send(Err(std::io::Error::other("too large"))).await;
            return Err(BODY_TOO_LARGE);
        }
        if Instant::now() > deadline {
            let _ = tx.send(Err(std::io::Error::other("too slow"))).await;
            return Err(SLOW);
        }
        if tx.send(Ok(chunk)).await.is_err() {
            // The parser stopped (it refused something); its error is the answer.
            return Ok(());
        }
    }
}

/// What [`parse`] holds a body to.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Files a body may carry.
    pub max_files: usize,
    /// Bytes of all text fields together.
    pub text_limit: usize,
    /// Bytes of one file.
    pub file_limit: u64,
}

/// Walks a multipart body (text fields into a [`Form`], files `file1`.. spooled sealed into
/// `dir`) under `rules`. The part of [`read_multipart`] that needs no server, so the fuzz target
/// `multipart` runs the same code.
pub async fn parse(
    mut mp: multer::Multipart<'static>,
    rules: Rules,
    dir: &std::path::Path,
    digested: Option<&std::sync::atomic::AtomicU64>,
) -> Result<Upload, ApiError> {
    let digest = |n: usize| {
        if let Some(d) = digested {
            d.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let Rules {
        max_files,
        text_limit,
        file_limit,
    } = rules;
    let mut form = Form::default();
    let mut text_used = 0usize;
    let mut files: Vec<Spooled> = Vec::new();
    while let Some(mut field) = mp.next_field().await.map_err(|_| MALFORMED)? {
        let name = field.name().unwrap_or("").to_owned();
        if let Some(index) = file_index(&name) {
            let file_name = field.file_name().unwrap_or("").to_owned();
            let mut spool: Option<(Sealer, tokio::fs::File, Spooled)> = None;
            let mut head = Zeroizing::new(Vec::with_capacity(HEAD));
            let mut sealed = Vec::with_capacity(CHUNK + 64);
            while let Some(chunk) = field.chunk().await.map_err(|_| MALFORMED)? {
                digest(chunk.len());
                if chunk.is_empty() {
                    continue;
                }
                if spool.is_none() {
                    // A file with content: only now do count, name and disk matter.
                    if files.len() >= max_files {
                        return Err(TOO_MANY);
                    }
                    // Two parts named `file2` would share one consent box.
                    if files.iter().any(|f| f.index == index) {
                        return Err(MALFORMED);
                    }
                    let checked = check_name(&file_name)?;
                    let key = SecretKey32::random();
                    let aad = BlobAad {
                        report_id: [0; 16],
                        blob_id: BlobId::new().0,
                        purpose: BlobPurpose::Spool,
                    };
                    let path = dir.join(hex::encode(aad.blob_id));
                    let file = tokio::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&path)
                        .await
                        .map_err(ApiError::internal)?;
                    let mut hdr = Vec::new();
                    let sealer = Sealer::new(&key, &aad, &mut hdr);
                    sealed.extend_from_slice(&hdr);
                    spool = Some((
                        sealer,
                        file,
                        Spooled {
                            path,
                            key,
                            aad,
                            len: 0,
                            kind: Kind::Unknown,
                            name: checked,
                            index,
                        },
                    ));
                }
                let (sealer, file, _) = spool.as_mut().expect("just made");
                if sealer.len() + chunk.len() as u64 > file_limit {
                    return Err(TOO_LARGE);
                }
                if head.len() < HEAD {
                    let take = (HEAD - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                }
                sealer.push(&chunk, &mut sealed);
                if sealed.len() >= CHUNK {
                    file.write_all(&sealed).await.map_err(ApiError::internal)?;
                    sealed.clear();
                }
            }
            match spool {
                // No file chosen in that input: browsers send an empty part without a name.
                None if file_name.is_empty() => {}
                None => return Err(EMPTY.with_detail(format!("file {index}"))),
                Some((mut sealer, mut file, mut s)) => {
                    while !sealer.finish_chunk(&mut sealed) {
                        if sealed.len() >= CHUNK {
                            file.write_all(&sealed).await.map_err(ApiError::internal)?;
                            sealed.clear();
                        }
                    }
                    s.len = sealer.len();
                    file.write_all(&sealed).await.map_err(ApiError::internal)?;
                    file.sync_all().await.map_err(ApiError::internal)?;
                    s.kind = Kind::sniff(&head);
                    files.push(s);
                }
            }
        } else {
            // A text field: bounded like a urlencoded form.
            let mut value = Zeroizing::new(Vec::new());
            while let Some(chunk) = field.chunk().await.map_err(|_| MALFORMED)? {
                digest(chunk.len());
                text_used += chunk.len();
                if text_used > text_limit {
                    return Err(BODY_TOO_LARGE);
                }
                value.extend_from_slice(&chunk);
            }
            let value = std::str::from_utf8(&value).map_err(|_| MALFORMED)?;
            form.push(&name, value).map_err(|_| MALFORMED)?;
        }
    }
    Ok(Upload { form, files })
}

/// The hourly byte budget shared by every upload in this process.
pub struct Budget {
    inner: Mutex<(Instant, u64)>,
}

impl Budget {
    /// A fresh budget.
    pub fn new() -> Budget {
        Budget {
            inner: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Takes `bytes` from this hour's `limit`, or says how many seconds until the hour turns.
    fn take(&self, bytes: u64, limit: u64) -> Result<(), u64> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let hour = Duration::from_secs(3600);
        if g.0.elapsed() >= hour {
            *g = (Instant::now(), 0);
        }
        if g.1 + bytes > limit {
            return Err(hour.saturating_sub(g.0.elapsed()).as_secs().max(1));
        }
        g.1 += bytes;
        Ok(())
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new()
    }
}

fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some(s.blocks_available().saturating_mul(s.fragment_size()))
}

/// Checks spooled files against the type rules (decided from content; a type that cannot be
/// cleaned needs its own consent box and a place in `attachments.consent_types`), the free
/// disk and the hourly budget. Called once the whole form is read, because a consent box may
/// come after its file.
pub fn check(st: &IntakeState, up: &Upload) -> Result<(), ApiError> {
    if up.files.is_empty() {
        return Ok(());
    }
    let a = &st.cfg.attachments;
    for f in &up.files {
        let detail = format!("file {}", f.index);
        if f.kind.cleanable() {
            continue;
        }
        if f.kind == Kind::Unknown || !a.consent_types.iter().any(|t| t == f.kind.id()) {
            return Err(BAD_TYPE.with_detail(detail));
        }
        if !up.consented(f.index) {
            return Err(NEEDS_CONSENT.with_detail(detail));
        }
    }
    let min_free = a.min_free_mib.saturating_mul(1 << 20);
    let mut dirs = vec![spool_dir(&st.cfg)];
    if let Some(d) = st.blobs.local_dir() {
        dirs.push(d.to_path_buf());
    }
    if dirs
        .iter()
        .any(|d| free_bytes(d).is_some_and(|free| free < min_free))
    {
        return Err(DISK.retry_after(600));
    }
    let total: u64 = up.files.iter().map(|f| f.len).sum();
    st.upload_budget
        .take(total, a.hourly_budget_mib.saturating_mul(1 << 20))
        .map_err(|secs| BUDGET.retry_after(secs))?;
    Ok(())
}

/// Sanitizes, seals under `k_r` and stores every file for `report`; returns what the tip item
/// says of them. On any failure, whatever was already written is removed again.
pub async fn store_files(
    st: &IntakeState,
    report: ReportId,
    k_r: &SecretKey32,
    files: Vec<Spooled>,
) -> Result<Vec<AttachmentRef>, ApiError> {
    let mut refs = Vec::with_capacity(files.len());
    let mut written: Vec<BlobId> = Vec::new();
    for f in files {
        match store_one(st, report, k_r, &f, &mut written).await {
            Ok(r) => refs.push(r),
            Err(e) => {
                remove_blobs(st, &written).await;
                return Err(e);
            }
        }
        // Dropping `f` removes its spool file now, not at the end of the report.
        drop(f);
    }
    Ok(refs)
}

/// Removes blobs (and their rows) written for a report that did not commit.
pub async fn remove_blobs(st: &IntakeState, ids: &[BlobId]) {
    for id in ids {
        if let Err(e) = st.blobs.delete(*id).await {
            tracing::warn!(
                "intake: a blob of a failed report stays for `bisik maintenance blobs`: {e}"
            );
            continue;
        }
        let _ = st.store.forget_blob(&id.hex()).await;
    }
}

/// The test hook of the integration test that kills a sanitizer mid-work: the server passes
/// `BISIK_SANITIZER_TEST_SLEEP_MS` from its own environment to the child, which then pauses
/// between reading and writing. Unset in any deployment (deploy/ never sets it), and all it can
/// do is slow an upload down.
fn test_sleep_ms() -> Option<u64> {
    std::env::var(sanitize::TEST_SLEEP_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
}

fn sanitize_error(e: SanitizeError) -> ApiError {
    match e {
        SanitizeError::TooManyPixels => TOO_MANY_PIXELS,
        SanitizeError::Undecodable => UNREADABLE,
        SanitizeError::TooLarge => TOO_LARGE,
        SanitizeError::Killed => {
            tracing::warn!("intake: the sanitizer was killed (a limit, or a signal)");
            FAILED
        }
        SanitizeError::Failed(why) => {
            tracing::warn!("intake: the sanitizer failed: {why}");
            FAILED
        }
    }
}

async fn store_one(
    st: &IntakeState,
    report: ReportId,
    k_r: &SecretKey32,
    f: &Spooled,
    written: &mut Vec<BlobId>,
) -> Result<AttachmentRef, ApiError> {
    let a = &st.cfg.attachments;
    let sanitized = f.kind.cleanable();
    let blob = BlobId::new();
    let day = today();
    st.store
        .record_blob(&blob.hex(), report, day)
        .await
        .map_err(ApiError::internal)?;
    written.push(blob);
    let aad = BlobAad {
        report_id: report.bytes(),
        blob_id: blob.0,
        purpose: if sanitized {
            BlobPurpose::Attachment
        } else {
            BlobPurpose::Unsanitized
        },
    };
    let mut writer = st.blobs.writer(blob).await.map_err(ApiError::internal)?;
    let (in_w, in_r) = tokio::io::duplex(CHUNK);
    let (mut out_w, mut out_r) = tokio::io::duplex(CHUNK);
    let feed = f.feed(in_w);
    let kind = f.kind;
    let limits = sanitize::Limits {
        max_pixels: a.max_megapixels * 1_000_000,
        max_output: (4 * a.max_file_bytes()).max(64 << 20),
        max_input: a.max_file_bytes(),
        thumb_px: 320,
        address_space: a.sanitizer_memory_mib << 20,
        cpu_seconds: a.sanitizer_cpu_secs,
    };
    let exe = std::env::current_exe().map_err(ApiError::internal)?;
    // At most one sanitizer per core: a burst of large photos queues here for a while, then
    // gets 503, instead of starving Argon2 and the plain tips of CPU (found in review).
    let _permit = if sanitized {
        match tokio::time::timeout(QUEUE_WAIT, st.sanitizers.acquire()).await {
            Ok(Ok(p)) => Some(p),
            _ => return Err(BUDGET.retry_after(60)),
        }
    } else {
        None
    };
    // The CPU limit bounds the child's work; this bounds a child that waits on something.
    let wall = Duration::from_secs(2 * a.sanitizer_cpu_secs + 30);
    let process = async move {
        let r = if sanitized {
            let hooks = sanitize::Hooks {
                sleep_ms: test_sleep_ms(),
                ..Default::default()
            };
            match tokio::time::timeout(
                wall,
                sanitize::run_with(&exe, kind, &limits, in_r, &mut out_w, hooks),
            )
            .await
            {
                Ok(r) => r.map(Some).map_err(sanitize_error),
                Err(_) => Err(sanitize_error(SanitizeError::Failed(
                    "wall-clock timeout".into(),
                ))),
            }
        } else {
            let mut in_r = in_r;
            tokio::io::copy(&mut in_r, &mut out_w)
                .await
                .map(|_| None)
                .map_err(ApiError::internal)
        };
        drop(out_w);
        r
    };
    let seal = async move {
        let mut sealed = Vec::with_capacity(2 * CHUNK);
        let mut sealer = Sealer::new(k_r, &aad, &mut sealed);
        let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
        loop {
            let n = out_r.read(&mut buf).await.map_err(ApiError::internal)?;
            if n == 0 {
                break;
            }
            sealer.push(&buf[..n], &mut sealed);
            if sealed.len() >= CHUNK {
                writer.write(&sealed).await.map_err(ApiError::internal)?;
                sealed.clear();
            }
        }
        // The padding can be half a bucket: sealed and written a chunk at a time.
        while !sealer.finish_chunk(&mut sealed) {
            if sealed.len() >= CHUNK {
                writer.write(&sealed).await.map_err(ApiError::internal)?;
                sealed.clear();
            }
        }
        writer.write(&sealed).await.map_err(ApiError::internal)?;
        let len = sealer.len();
        Ok::<_, ApiError>((len, writer))
    };
    let (fed, processed, sealed) = tokio::join!(feed, process, seal);
    let (len, writer) = sealed?;
    // A failed sanitizer or spool leaves a half-written blob: abandoned, so S3 keeps no parts.
    let processed = match (processed, fed) {
        (Ok(p), Ok(())) => p,
        (Err(e), _) | (Ok(_), Err(e)) => {
            writer.abort().await;
            return Err(e);
        }
    };
    writer.finish().await.map_err(ApiError::internal)?;
    let (out_kind, width, height, thumb) = match processed {
        Some(s) => (s.kind, s.width, s.height, s.thumbnail),
        None => (kind, 0, 0, None),
    };
    let thumb = match thumb {
        Some(png) => {
            let id = BlobId::new();
            st.store
                .record_blob(&id.hex(), report, day)
                .await
                .map_err(ApiError::internal)?;
            written.push(id);
            let taad = BlobAad {
                report_id: report.bytes(),
                blob_id: id.0,
                purpose: BlobPurpose::Thumbnail,
            };
            let sealed = seal_all(k_r, &taad, &png);
            st.blobs.put(id, sealed).await.map_err(ApiError::internal)?;
            Some(ThumbRef {
                blob: id.hex(),
                size: png.len() as u64,
            })
        }
        None => None,
    };
    Ok(AttachmentRef {
        blob: blob.hex(),
        name: f.name.clone(),
        kind: out_kind.id().to_owned(),
        mime: out_kind.mime().to_owned(),
        size: len,
        sanitized,
        width,
        height,
        thumb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_consent_type_is_a_kind_the_sanitizer_cannot_clean() {
        for t in crate::config::CONSENT_TYPES {
            let k = Kind::from_id(t).unwrap_or_else(|| panic!("{t} is no kind"));
            assert!(!k.cleanable(), "{t} can be cleaned: it needs no consent");
        }
    }

    #[test]
    fn names_with_paths_controls_or_too_many_characters_are_refused() {
        for bad in [
            "",
            " ",
            ".",
            "..",
            "a/b.jpg",
            "..\\x.jpg",
            "a\nb",
            "a\u{1b}.jpg",
            "a\u{85}.jpg",
            "gpj.\u{202E}exe",
            "a\u{200B}b",
            "\u{FEFF}a",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"a".repeat(NAME_MAX + 1)).is_err());
        for good in [
            "foto rumah.jpg",
            "رسالة.txt",
            "IMG_2026-12-04 (1).jpeg",
            &"é".repeat(NAME_MAX),
        ] {
            assert_eq!(check_name(good).unwrap(), good);
        }
    }

    #[test]
    fn the_budget_refuses_past_its_hourly_limit() {
        let b = Budget::new();
        assert!(b.take(60, 100).is_ok());
        assert!(b.take(40, 100).is_ok());
        let wait = b.take(1, 100).unwrap_err();
        assert!((1..=3600).contains(&wait));
    }
}
