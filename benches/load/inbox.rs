//! The desk at 100,000 reports (issue 7, "Performance"): the first inbox page (50 reports with
//! their previews) and the page of a report with 50 messages, over HTTP against the real
//! `bisik serve`, each measured at every size in `BISIK_BENCH_INBOX_SIZES` (default
//! `1000,10000,100000`) so that the growth with the number of reports shows.
//!
//! The setup goes through the server's own doors: the first `serve` makes the admin, who enrols
//! and creates a supervisor, who enrols; `bisik keys certify --user` signs the recipient list
//! with the offline passphrase; one tip goes through the intake's JSON API, and the intake's
//! wraps of it prove that the supervisor receives new reports. That report gets the 50 messages,
//! alternating: the supervisor's through the desk form, the reporter's through the library's
//! append path that the intake uses (sealed under K_r, the new head signed with the intake key).
//!
//! 100,000 submissions over HTTP would take hours (each one pays a 64 MiB Argon2id), so the
//! other reports are made here and inserted through the store's group insert
//! (`Store::insert_reports`), as the intake builds them (src/intake/reports.rs): an
//! intake-signed header with the K_r commitment, K_r wrapped with HPKE to the escrow key and to
//! the supervisor, the tip sealed under K_r with its AAD, the first chain head signed with the
//! intake key from keys/. Every tenth report also gets one reporter message through the
//! append path. The server keeps running meanwhile; each inbox page checks what it shows (the
//! preview opens the header, the wrap, the commitment and the tip), so a generated report that
//! the desk did not accept would show as a failed check, which the driver counts as an error.
//!
//! An investigator holding exactly 50 of the reports (shared by the supervisor through the desk
//! form) gets the same inbox page at every size: 50 previews, with the database around them
//! growing. That row shows what the previews cost apart from the supervisor's SQL, which counts
//! over every report they hold. The driver also times that SQL alone, in-process.
//!
//! Received days are spread over the last 365 days, so most reports are past the triage limit,
//! as in an office that has kept every tip for a year.

use super::cpu::CpuMeter;
use super::postgres::{Pg, fresh_url};
use super::report::{Report, mb, ms, percentile, verdict_cpu};
use super::server::{Server, finish};
use super::settings::Settings;
use anyhow::{Context, Result, anyhow, bail, ensure};
use bisik::crypto::SecretKey32;
use bisik::crypto::chain::{ChainHead, GENESIS, item_hash};
use bisik::crypto::envelope;
use bisik::crypto::header::{ReportHeader, key_commitment};
use bisik::crypto::primitives::{os_fill, os_uniform};
use bisik::crypto::wrap::{Purpose, RecipientKey, wrap_to};
use bisik::domain::{Direction, ItemId, ItemKind, ReportId, day_string, today};
use bisik::items::chain::{Append, append};
use bisik::items::{MessagePlain, TipPlain, item_aad};
use bisik::keyfiles::{IntakeSecrets, PublicKeys};
use bisik::store::{Appended, InboxQuery, NewItem, NewReport, Schema, Store};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Reports per group insert.
const BATCH: usize = 200;
/// Messages on the report whose page is measured.
const THREAD: usize = 50;
/// The target for both pages, at the 95th percentile.
const TARGET: Duration = Duration::from_millis(50);
/// Requests before each measurement, not counted (caches, connections).
const WARMUP: usize = 5;
/// How long one measurement may run once it has [`MIN_REQUESTS`].
const SPAN: Duration = Duration::from_secs(60);
/// Requests every measurement makes, however slow.
const MIN_REQUESTS: usize = 20;

/// A browser without JavaScript: one session cookie, no redirects followed.
struct Browser {
    c: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

/// The text between `start` and `end` in `body`.
fn field(body: &str, start: &str, end: &str) -> Result<String> {
    let i = body
        .find(start)
        .ok_or_else(|| anyhow!("{start:?} not in the page"))?
        + start.len();
    let n = body[i..]
        .find(end)
        .ok_or_else(|| anyhow!("{end:?} not after {start:?}"))?;
    Ok(body[i..i + n].to_owned())
}

impl Browser {
    fn new(base: &str) -> Result<Browser> {
        Ok(Browser {
            c: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(120))
                .build()?,
            base: base.to_owned(),
            cookie: None,
        })
    }

    async fn send(&mut self, mut rq: reqwest::RequestBuilder) -> Result<Page> {
        if let Some(c) = &self.cookie {
            rq = rq.header("cookie", c);
        }
        let r = rq.send().await?;
        let status = r.status().as_u16();
        let h = r.headers();
        if let Some(c) = h.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = c.split(';').next().unwrap_or("");
            self.cookie = (!pair.ends_with('=')).then(|| pair.to_owned());
        }
        let location = h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(Page {
            status,
            location,
            body: r.text().await?,
        })
    }

    async fn get(&mut self, path: &str) -> Result<Page> {
        let rq = self.c.get(format!("{}{path}", self.base));
        self.send(rq).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Page> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let rq = self
            .c
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(rq).await
    }

    /// A form post with the session's CSRF token.
    async fn post_csrf(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Page> {
        let home = self.get("/").await?;
        let csrf = field(&home.body, "name=\"csrf\" value=\"", "\"")?;
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(fields);
        self.post(path, &f).await
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a later login of an enrolled account needs, and the last TOTP step it used (the desk
/// refuses a code twice).
struct Creds {
    name: String,
    password: String,
    secret: Vec<u8>,
    last_step: u64,
}

/// A new full session for an enrolled account, with the TOTP code of a step not used before
/// (waiting for the next 30 s step when needed).
async fn login(base: &str, creds: &mut Creds) -> Result<Browser> {
    while unix_now() / 30 <= creds.last_step {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let step = unix_now() / 30;
    creds.last_step = step;
    let code = bisik::desk::totp::code_at(&creds.secret, step * 30);
    let mut b = Browser::new(base)?;
    let p = b
        .post(
            "/login",
            &[
                ("username", &creds.name),
                ("password", &creds.password),
                ("totp", &code),
            ],
        )
        .await?;
    ensure!(
        p.status == 303 && p.location == "/",
        "{}'s login answered {} {}",
        creds.name,
        p.status,
        p.location
    );
    Ok(b)
}

/// First login with a one-time password: enrolment with a new password and TOTP. Returns the
/// browser holding the account's full session, the new key's fingerprint as the page shows
/// it, and what a later login needs.
async fn enrol(base: &str, name: &str, one_time: &str) -> Result<(Browser, String, Creds)> {
    let mut b = Browser::new(base)?;
    let p = b
        .post(
            "/login",
            &[("username", name), ("password", one_time), ("totp", "")],
        )
        .await?;
    ensure!(
        p.status == 303 && p.location == "/enrol",
        "{name}'s first login answered {} {}",
        p.status,
        p.location
    );
    let page = b.get("/enrol").await?;
    let text = field(&page.body, "id=\"totp-secret\">", "<")?.replace(' ', "");
    let secret = totp_rs::Secret::try_from_base32(&text)
        .map_err(|e| anyhow!("the enrolment page's TOTP secret: {e:?}"))?
        .to_vec();
    let csrf = field(&page.body, "name=\"csrf\" value=\"", "\"")?;
    let step = unix_now() / 30;
    let code = bisik::desk::totp::code_at(&secret, step * 30);
    let password = format!("{name}-kopi-hujan-sepeda-lampu-bench");
    let done = b
        .post(
            "/enrol",
            &[
                ("csrf", &csrf),
                ("new_password", &password),
                ("confirm", &password),
                ("totp", &code),
            ],
        )
        .await?;
    ensure!(
        done.status == 200,
        "{name}'s enrolment answered {}",
        done.status
    );
    let fingerprint = field(&done.body, "id=\"fingerprint\">", "<")?;
    let creds = Creds {
        name: name.to_owned(),
        password,
        secret,
        last_step: step,
    };
    Ok((b, fingerprint, creds))
}

/// An account the admin creates in the desk form, enrolled: see [`enrol`].
async fn add_account(
    admin: &mut Browser,
    base: &str,
    name: &str,
    role: &str,
) -> Result<(Browser, String, Creds)> {
    let p = admin
        .post_csrf("/accounts", &[("username", name), ("role", role)])
        .await?;
    ensure!(p.status == 200, "creating {name} answered {}", p.status);
    let ot = field(&p.body, "id=\"one-time-password\">", "<")?;
    enrol(base, name, &ot).await
}

/// The newest file in `dir` whose name starts with `prefix`, trimmed.
fn first_run_file(dir: &Path, prefix: &str) -> Result<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let f = files
        .last()
        .ok_or_else(|| anyhow!("no {prefix}* file in the server's directory"))?;
    Ok(std::fs::read_to_string(f)?.trim().to_owned())
}

/// Runs the CLI in the server's directory against its database, `stdin` on its standard input.
fn cli(dir: &Path, db: Option<&str>, args: &[&str], stdin: &str) -> Result<String> {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bisik"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("BISIK_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    if let Some(u) = db {
        cmd.env("DATABASE_URL", u);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("no stdin"))?
        .write_all(stdin.as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "bisik {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What the generated reports are made with: the intake's signing key and the recipients and
/// recipient-list epoch that the intake itself used for the report that came through its API.
#[derive(Clone)]
struct Maker {
    signing: SigningKey,
    unit: String,
    epoch: u64,
    /// Escrow first, then the supervisor, as the intake orders them.
    recipients: Vec<RecipientKey>,
    categories: Vec<String>,
    areas: Vec<String>,
}

const WORDS: &[&str] = &[
    "sabu",
    "ganja",
    "warung",
    "malam",
    "motor",
    "pasar",
    "gang",
    "rumah",
    "transaksi",
    "kurir",
    "pelabuhan",
    "sekolah",
    "paket",
    "mobil",
    "hitam",
    "belakang",
];

/// A tip-like text of about `len` characters.
fn text(n: usize, len: usize) -> String {
    let mut s = format!("Laporan nomor {n}:");
    while s.len() < len {
        s.push(' ');
        s.push_str(WORDS[os_uniform(WORDS.len() as u32) as usize]);
    }
    s
}

impl Maker {
    /// One report as the intake seals it, received on `day`; also returns its K_r.
    fn report(&self, n: usize, day: i64) -> Result<(NewReport, SecretKey32)> {
        let id = ReportId::new();
        let rid = id.bytes();
        let k_r = SecretKey32::random();
        let mut wraps = Vec::with_capacity(self.recipients.len());
        for r in &self.recipients {
            let w = wrap_to(r, &rid, Purpose::ReporterKey, &k_r)
                .map_err(|e| anyhow!("wrapping K_r: {e}"))?;
            wraps.push((hex::encode(r.fingerprint()), Purpose::ReporterKey.code(), w));
        }
        let tip_id = ItemId::new();
        let header = ReportHeader {
            report_id: rid,
            day: day_string(day),
            unit: self.unit.clone(),
            tip_item: tip_id.bytes(),
            key_commitment: key_commitment(&rid, &k_r),
            recipient_epoch: self.epoch,
            recipients: self.recipients.iter().map(|r| r.fingerprint()).collect(),
        };
        let (header, sig) = header.sign(&self.signing);
        let category = self.categories[n % self.categories.len()].clone();
        let tip = TipPlain {
            v: 1,
            category: category.clone(),
            area: Some(self.areas[n % self.areas.len()].clone()),
            description: text(n, 300 + n % 400),
            location: Some(text(n, 60)),
            when: Some("Hampir setiap malam".into()),
            people: None,
            vehicles: None,
            day: day_string(day),
            attachments: Vec::new(),
        };
        let plain = serde_json::to_vec(&tip)?;
        let aad = item_aad(
            id,
            tip_id,
            ItemKind::Tip,
            Direction::ReporterToStaff,
            0,
            GENESIS,
        );
        let sealed = envelope::seal(&k_r, &aad, &plain);
        let (head, head_sig) = ChainHead::sign(rid, 1, item_hash(&aad, &sealed), &self.signing);
        let mut tag = [0u8; 32];
        os_fill(&mut tag);
        // The reporter's code is never used here: a random KEK stands for its Argon2 output.
        let kek = SecretKey32::random();
        Ok((
            NewReport {
                id,
                unit: self.unit.clone(),
                category,
                received_day: day,
                header,
                header_sig: sig.to_vec(),
                wraps,
                tag,
                kdf_version: 1,
                wrapped_key: envelope::wrap_report_key(&kek, &rid, 1, &k_r),
                expires_day: day + 365,
                tip: NewItem {
                    id: tip_id,
                    kind: ItemKind::Tip,
                    direction: Direction::ReporterToStaff,
                    sealed,
                    prev: GENESIS,
                    day,
                    idem: None,
                },
                head: (head, head_sig.to_vec()),
            },
            k_r,
        ))
    }

    /// `count` reports numbered from `from`; every tenth is returned with its K_r and day, to
    /// get a message.
    #[allow(clippy::type_complexity)]
    fn batch(
        &self,
        from: usize,
        count: usize,
    ) -> Result<(Vec<NewReport>, Vec<(ReportId, SecretKey32, i64)>)> {
        let t = today();
        let mut reports = Vec::with_capacity(count);
        let mut talk = Vec::new();
        for n in from..from + count {
            let day = t - i64::from(os_uniform(365));
            let (r, k_r) = self.report(n, day)?;
            if n % 10 == 0 {
                talk.push((r.id, k_r, day));
            }
            reports.push(r);
        }
        Ok((reports, talk))
    }
}

/// A reporter message appended as the intake appends one: sealed under K_r, the new head signed
/// with the intake key, the current head checked against `trusted` first.
async fn reporter_message(
    store: &Store,
    m: &Maker,
    trusted: &[VerifyingKey],
    id: ReportId,
    k_r: &SecretKey32,
    day: i64,
    body: String,
) -> Result<()> {
    let plain = serde_json::to_vec(&MessagePlain {
        v: 1,
        body,
        day: day_string(day),
        attachments: Vec::new(),
    })?;
    let a = Append {
        kind: ItemKind::Message,
        direction: Direction::ReporterToStaff,
        plain: &plain,
        idem: None,
        day,
        quota: None,
    };
    match append(store, id, k_r, &a, &m.signing, trusted).await? {
        Appended::Stored => Ok(()),
        _ => bail!("a reporter message was not stored"),
    }
}

/// Fills the database up to `target` reports (from `have`), in group inserts of [`BATCH`],
/// making the next batch on a blocking thread while the last one is inserted; then appends the
/// messages. Returns the new count.
async fn fill(
    store: &Store,
    m: &Maker,
    trusted: &[VerifyingKey],
    have: usize,
    target: usize,
    writers: usize,
) -> Result<usize> {
    let make = |from: usize, n: usize| {
        let m = m.clone();
        tokio::task::spawn_blocking(move || m.batch(from, n))
    };
    let mut done = have;
    let mut talk = Vec::new();
    let mut next = (done < target).then(|| make(done, BATCH.min(target - done)));
    let started = Instant::now();
    while let Some(job) = next.take() {
        let (batch, t) = job.await??;
        let after = done + batch.len();
        next = (after < target).then(|| make(after, BATCH.min(target - after)));
        let refs: Vec<&NewReport> = batch.iter().collect();
        store.insert_reports(&refs).await?;
        talk.extend(t);
        done = after;
        if done % 10_000 < BATCH {
            eprintln!(
                "  inbox: {done} reports ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // One reporter message on every tenth report, `writers` at a time (SQLite: one, since its
    // writers queue for one lock anyway).
    let mut set = tokio::task::JoinSet::new();
    let t = today();
    for (n, (id, k_r, day)) in talk.into_iter().enumerate() {
        if set.len() >= writers
            && let Some(r) = set.join_next().await
        {
            r??;
        }
        let (store, m, trusted) = (store.clone(), m.clone(), trusted.to_vec());
        let day = (day + 1 + i64::from(os_uniform(7))).min(t);
        set.spawn(async move {
            reporter_message(&store, &m, &trusted, id, &k_r, day, text(n, 160)).await
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(done)
}

/// Latencies of `n` GETs of `path` (after [`WARMUP`] uncounted ones), each checked by `check`,
/// and the server's CPU over them. Stops early after [`SPAN`] (but not before [`MIN_REQUESTS`]),
/// so a page that takes seconds does not hold the run for many minutes.
async fn measure(
    b: &mut Browser,
    srv: &Server,
    path: &str,
    n: usize,
    check: impl Fn(&Page) -> Result<()>,
) -> Result<(Vec<Duration>, super::cpu::Cpu)> {
    for _ in 0..WARMUP {
        check(&b.get(path).await?)?;
    }
    let meter = CpuMeter::start(srv.pid());
    let start = Instant::now();
    let mut lat = Vec::with_capacity(n);
    while lat.len() < n && (lat.len() < MIN_REQUESTS || start.elapsed() < SPAN) {
        let t = Instant::now();
        let p = b.get(path).await?;
        lat.push(t.elapsed());
        check(&p)?;
    }
    let cpu = meter.stop(lat.len());
    Ok((lat, cpu))
}

/// The inbox's SQL alone, in-process through a store of the driver's own on the same database
/// (medians of up to 10 runs, within [`SPAN`]): the page query as `Store::inbox` runs it (the
/// page, the total and the page's unanswered-message days), the total alone, and the
/// supervisor's two flagged counts (cut-offs of 3 and 5 calendar days, close to the default 3
/// and 5 working days).
async fn sql_alone(store: &Store, fp: &str) -> Result<[Duration; 3]> {
    let t = today();
    let (mut page, mut total, mut flagged) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    while page.len() < 10 && (page.len() < 3 || start.elapsed() < SPAN) {
        let s = Instant::now();
        let (rows, _) = store.inbox(&InboxQuery::all(fp, 50, 0)).await?;
        page.push(s.elapsed());
        ensure!(rows.len() == 50, "the page query gave {} rows", rows.len());
        let all = InboxQuery::all(fp, 0, 0);
        let s = Instant::now();
        store.inbox_count(&all).await?;
        total.push(s.elapsed());
        let s = Instant::now();
        store.flag_counts(fp, t - 3, t - 5).await?;
        flagged.push(s.elapsed());
    }
    Ok([
        percentile(&mut page, 50.0),
        percentile(&mut total, 50.0),
        percentile(&mut flagged, 50.0),
    ])
}

/// Search across the sealed fields (issue 7): a new supervisor session's first query, which
/// decrypts every report the key holds into the session's summaries, then later queries of
/// three kinds in turn (one kecamatan, a kecamatan and a word, a rare phrase), each a first
/// inbox page with its 50 (or fewer) previews. The server's RSS is read before the session logs
/// in and after its first query: the summaries' memory.
async fn search(
    srv: &Server,
    rep: &mut Report,
    name: &str,
    creds: &mut Creds,
    areas: &[String],
    have: usize,
    requests: usize,
) -> Result<()> {
    let area = areas
        .first()
        .ok_or_else(|| anyhow!("no areas configured"))?;
    let rss_before = srv.rss_anon_kib();
    let mut b = login(&srv.desk, creds).await?;
    let ok = |p: &Page| -> Result<()> {
        ensure!(p.status == 200, "a search answered {}", p.status);
        ensure!(
            !p.body.contains("gagal pemeriksaan keutuhan"),
            "a report failed the desk's integrity check in a search"
        );
        Ok(())
    };
    let first_path = format!("/inbox?area={area}");
    let meter = CpuMeter::start(srv.pid());
    let t = Instant::now();
    let p = b.get(&first_path).await?;
    let first = t.elapsed();
    let cpu = meter.stop(1);
    ok(&p)?;
    let shown = p.body.matches("class=\"untrusted\"").count();
    ensure!(
        shown == 50,
        "the first search page showed {shown} previews, not 50"
    );
    let partial = p.body.contains("id=\"searching\"");
    rep.add(
        name,
        &format!(
            "desk search, the first session's first query (area; no desk wraps yet), {have} reports"
        ),
        format!(
            "{}; {cpu}; {}",
            ms(first),
            if partial {
                "answered while the build went on"
            } else {
                "answered after the whole build"
            }
        ),
        "< 5 s",
        &verdict_cpu(first < Duration::from_secs(5), &cpu),
    );
    // The rest of the build, in the background: poll (as the page's own reload does) until
    // the count is final.
    let meter = CpuMeter::start(srv.pid());
    loop {
        let p = b.get(&first_path).await?;
        ok(&p)?;
        if !p.body.contains("id=\"searching\"") {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(300),
            "the search build never finished"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let built = t.elapsed();
    let cpu = meter.stop(1);
    rep.add(
        name,
        &format!("desk search, the first session's whole build (HPKE and Ed25519 per report; makes the desk wraps), {have} reports"),
        format!("{}; {cpu}", ms(built)),
        "recorded",
        "reference",
    );
    let rss_after = srv.rss_anon_kib();
    rep.add(
        name,
        &format!("desk search, the session's summaries in server memory (RssAnon), {have} reports"),
        format!(
            "{} before the login, {} after the whole build: {} more",
            mb(rss_before),
            mb(rss_after),
            mb(rss_after.saturating_sub(rss_before))
        ),
        "recorded",
        "reference",
    );
    let paths = [
        format!("/inbox?area={area}"),
        format!("/inbox?area={area}&q=pelabuhan"),
        "/inbox?q=nomor+4242".to_owned(),
    ];
    for _ in 0..WARMUP {
        for p in &paths {
            ok(&b.get(p).await?)?;
        }
    }
    let meter = CpuMeter::start(srv.pid());
    let start = Instant::now();
    let mut lat = Vec::with_capacity(requests);
    while lat.len() < requests && (lat.len() < MIN_REQUESTS || start.elapsed() < SPAN) {
        let path = &paths[lat.len() % paths.len()];
        let t = Instant::now();
        let p = b.get(path).await?;
        lat.push(t.elapsed());
        ok(&p)?;
    }
    let cpu = meter.stop(lat.len());
    let (line, p95) = summary(&mut lat);
    rep.add(
        name,
        &format!(
            "desk search, later queries (area; area and a word; a rare phrase), {have} reports"
        ),
        format!("{line}; {cpu}"),
        "p95 < 100 ms",
        &verdict_cpu(p95 < Duration::from_millis(100), &cpu),
    );
    // A new session whose first query is a rare phrase: no partial answer can be certain, so
    // it waits for the whole build. The first session left a desk wrap for every report it
    // opened (src/desk/rewrap.rs), so this build opens each with one AEAD instead of an HPKE
    // unwrap and an Ed25519 check: the case of every session after the first, less the
    // reports that arrived since the last one.
    b.post_csrf("/logout", &[]).await?;
    let rss_before = srv.rss_anon_kib();
    let mut b = login(&srv.desk, creds).await?;
    let meter = CpuMeter::start(srv.pid());
    let t = Instant::now();
    let p = b.get("/inbox?q=nomor+4242").await?;
    let first = t.elapsed();
    let cpu = meter.stop(1);
    ok(&p)?;
    ensure!(
        !p.body.contains("id=\"searching\""),
        "a rare phrase was answered before the build was done"
    );
    rep.add(
        name,
        &format!("desk search, a later session's first query (a rare phrase: the whole build, from desk wraps), {have} reports"),
        format!("{}; {cpu}", ms(first)),
        "< 5 s",
        &verdict_cpu(first < Duration::from_secs(5), &cpu),
    );
    rep.add(
        name,
        &format!(
            "desk search, a later session's summaries in server memory (RssAnon), {have} reports"
        ),
        format!(
            "{} before the login, {} after the whole build: {} more",
            mb(rss_before),
            mb(srv.rss_anon_kib()),
            mb(srv.rss_anon_kib().saturating_sub(rss_before))
        ),
        "recorded",
        "reference",
    );
    Ok(())
}

fn summary(lat: &mut [Duration]) -> (String, Duration) {
    let p50 = percentile(lat, 50.0);
    let p95 = percentile(lat, 95.0);
    let max = lat.iter().max().copied().unwrap_or_default();
    (
        format!(
            "p50 {} / p95 {} / max {} ({} requests)",
            ms(p50),
            ms(p95),
            ms(max),
            lat.len()
        ),
        p95,
    )
}

/// The sizes and request count from the environment.
fn sizes() -> (Vec<usize>, usize) {
    let mut sizes: Vec<usize> = std::env::var("BISIK_BENCH_INBOX_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| (60..=1_000_000).contains(&n))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let requests = std::env::var("BISIK_BENCH_INBOX_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| (10..=10_000).contains(&n))
        .unwrap_or(200);
    (sizes, requests)
}

/// The inbox tour for one backend: set up, then fill and measure at each size.
pub async fn run(
    s: &Settings,
    rep: &mut Report,
    name: &str,
    pg: &mut Option<&mut Pg>,
) -> Result<()> {
    let (sizes, requests) = sizes();
    let db = fresh_url(pg, "inbox").await?;
    // No stock: its refill Argon2s would run into the measurements.
    let mut srv = Server::start(&s.tmp, db.as_deref(), 2, 0, 32)?;
    let res = tour(&srv, rep, name, db.as_deref(), &sizes, requests).await;
    finish(rep, name, "inbox server", &mut srv);
    res
}

async fn tour(
    srv: &Server,
    rep: &mut Report,
    name: &str,
    db: Option<&str>,
    sizes: &[usize],
    requests: usize,
) -> Result<()> {
    let dir = srv.dir().to_path_buf();
    eprintln!("inbox: enrolling the admin and a supervisor");
    let (mut admin, _, _) = enrol(
        &srv.desk,
        "admin",
        &first_run_file(&dir, "one-time-password-admin-")?,
    )
    .await?;
    let (mut sup, _, mut sup_creds) =
        add_account(&mut admin, &srv.desk, "koor", "supervisor").await?;
    let (mut inv, inv_fp, _) =
        add_account(&mut admin, &srv.desk, "petugas", "investigator").await?;
    cli(
        &dir,
        db,
        &["keys", "certify", "--user", "koor"],
        &first_run_file(&dir, "offline-passphrase-")?,
    )
    .context("certifying the supervisor")?;

    // One tip through the intake's API: the report of THREAD messages, and the proof of what
    // the intake wraps new reports to.
    let c = super::http::client(4);
    let r = c
        .post(format!("{}/api/v1/reports", srv.intake))
        .json(&serde_json::json!({ "description": "Laporan lewat API untuk percakapan 50 pesan" }))
        .send()
        .await?;
    ensure!(
        r.status() == 201,
        "the API submission answered {}",
        r.status()
    );
    let reports_url = match db {
        Some(u) => u.to_owned(),
        None => format!("sqlite://{}", dir.join("data/bisik.db").display()),
    };
    let desk_url = match db {
        Some(u) => u.to_owned(),
        None => format!("sqlite://{}", dir.join("data/desk.db").display()),
    };
    let store = Store::connect(&reports_url, Schema::Reports, 4).await?;
    let desk = Store::connect(&desk_url, Schema::Desk, 1).await?;
    let listed = store.list_reports().await?;
    ensure!(listed.len() == 1, "expected the one API report");
    let thread_id = ReportId::parse(&listed[0].id).ok_or_else(|| anyhow!("bad report id"))?;
    let row = store
        .report(thread_id)
        .await?
        .ok_or_else(|| anyhow!("the API report vanished"))?;
    let keys = dir.join("keys");
    let pinned = PublicKeys::load(&keys)?;
    let signing = IntakeSecrets::load(&keys, &pinned)?.signing;
    let header = ReportHeader::verify(&row.header, &row.header_sig, &pinned.intake)
        .map_err(|_| anyhow!("the API report's header does not verify"))?;
    let koor = desk
        .staff_by_name("koor")
        .await?
        .ok_or_else(|| anyhow!("no supervisor row"))?;
    let key = desk
        .active_staff_key(&koor.id)
        .await?
        .ok_or_else(|| anyhow!("the supervisor has no key"))?;
    desk.close().await;
    let supervisor = RecipientKey::from_bytes(&key.x25519_public)
        .map_err(|_| anyhow!("the supervisor's X25519 key"))?;
    let sup_ed = VerifyingKey::from_bytes(
        &<[u8; 32]>::try_from(key.ed25519_public.as_slice())
            .map_err(|_| anyhow!("the supervisor's Ed25519 key"))?,
    )?;
    ensure!(
        header.recipients == [pinned.escrow.fingerprint(), supervisor.fingerprint()],
        "the intake did not wrap the API report to escrow and the certified supervisor"
    );
    let cfg = bisik::config::Config::default();
    let maker = Maker {
        signing: signing.clone(),
        unit: header.unit.clone(),
        epoch: header.recipient_epoch,
        recipients: vec![pinned.escrow.clone(), supervisor],
        categories: cfg.categories.iter().map(|c| c.id.clone()).collect(),
        areas: cfg.areas.iter().map(|a| a.id.clone()).collect(),
    };
    let trusted = [signing.verifying_key(), sup_ed];
    let fp = hex::encode(maker.recipients[1].fingerprint());

    // The report whose page is measured: made like the others, then THREAD messages, staff and
    // reporter in turn (the supervisor's through the desk form, the reporter's through the
    // intake's append path, which must accept the supervisor's head before it).
    eprintln!("inbox: {THREAD} messages on one report");
    let (first, mut talk) = maker.batch(0, 1)?;
    store.insert_reports(&[&first[0]]).await?;
    let (tid, k_r, _) = talk
        .pop()
        .ok_or_else(|| anyhow!("report 0 gets messages"))?;
    let tid_text = tid.to_string();
    for i in 0..THREAD {
        let body = format!("bench-pesan-{i:03} {}", text(i, 200));
        if i % 2 == 0 {
            let p = sup
                .post_csrf(
                    "/reports/message",
                    &[("report", &tid_text), ("body", &body)],
                )
                .await?;
            ensure!(p.status == 200, "a staff message answered {}", p.status);
        } else {
            reporter_message(&store, &maker, &trusted, tid, &k_r, today(), body).await?;
        }
    }

    let writers = if db.is_some() { 4 } else { 1 };
    let mut have = 2;
    let inbox_ok = |p: &Page| -> Result<()> {
        ensure!(p.status == 200, "the inbox answered {}", p.status);
        ensure!(
            !p.body.contains("gagal pemeriksaan keutuhan"),
            "a report failed the desk's integrity check on the inbox page"
        );
        let shown = p.body.matches("class=\"untrusted\"").count();
        ensure!(
            shown == 50,
            "the inbox page showed {shown} previews, not 50"
        );
        Ok(())
    };
    let report_ok = |p: &Page| -> Result<()> {
        ensure!(p.status == 200, "the report page answered {}", p.status);
        for i in [0, THREAD - 1] {
            ensure!(
                p.body.contains(&format!("bench-pesan-{i:03}")),
                "the report page lacks message {i}"
            );
        }
        Ok(())
    };
    let report_path = format!("/report?id={tid_text}");
    let mut shared = false;
    for &size in sizes {
        let (t, before) = (Instant::now(), have);
        have = fill(&store, &maker, &trusted, have, size, writers).await?;
        let took = t.elapsed();
        if !shared {
            // The investigator holds exactly one page: the supervisor shares 50 reports (the
            // first share also certifies the investigator). Their inbox then has the same 50
            // previews to open at every size, and none of the supervisor's counts.
            eprintln!("inbox: sharing 50 reports with the investigator");
            let ids: Vec<String> = store
                .list_reports()
                .await?
                .into_iter()
                .map(|r| r.id)
                .take(50)
                .collect();
            for id in &ids {
                let p = sup
                    .post_csrf(
                        "/reports/share",
                        &[
                            ("report", id),
                            ("username", "petugas"),
                            ("fingerprint", &inv_fp),
                        ],
                    )
                    .await?;
                ensure!(p.status == 200, "sharing a report answered {}", p.status);
            }
            shared = true;
        }
        let bytes = match db {
            None => std::fs::metadata(dir.join("data/bisik.db"))?.len(),
            Some(_) => {
                // What autovacuum does within a minute or two of a bulk load (a deployment
                // never serves its inbox from tables that were never analyzed): statistics for
                // the planner and a visibility map for index-only counts.
                sqlx::raw_sql("VACUUM (ANALYZE)")
                    .execute(store.pool())
                    .await?;
                let (n,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
                    .fetch_one(store.pool())
                    .await?;
                n as u64
            }
        };
        rep.add(
            name,
            &format!("desk data set, {have} reports"),
            format!(
                "{} more generated and inserted in {:.0} s; database {:.0} MB (one reporter message on every tenth report, one report of {THREAD} messages)",
                have - before,
                took.as_secs_f64(),
                bytes as f64 / 1e6
            ),
            "-",
            "reference",
        );
        let (mut lat, cpu) = measure(&mut sup, srv, "/inbox", requests, inbox_ok).await?;
        let (line, p95) = summary(&mut lat);
        rep.add(
            name,
            &format!("desk inbox, first page (50 with previews), {have} reports"),
            format!("{line}; {cpu}"),
            "p95 < 50 ms",
            &verdict_cpu(p95 < TARGET, &cpu),
        );
        let (mut lat, cpu) = measure(&mut inv, srv, "/inbox", requests, inbox_ok).await?;
        let (line, p95) = summary(&mut lat);
        rep.add(
            name,
            &format!("desk inbox of an investigator holding 50 (50 previews), {have} reports"),
            format!("{line}; {cpu}"),
            "p95 < 50 ms, and flat across sizes",
            &verdict_cpu(p95 < TARGET, &cpu),
        );
        let [page, total, flagged] = sql_alone(&store, &fp).await?;
        rep.add(
            name,
            &format!("desk inbox SQL alone, in-process (medians), {have} reports"),
            format!(
                "page query {} (of which the total count {}); the supervisor's two flagged counts {}",
                ms(page),
                ms(total),
                ms(flagged)
            ),
            "-",
            "diagnostic",
        );
        let (mut lat, cpu) = measure(&mut sup, srv, &report_path, requests, report_ok).await?;
        let (line, p95) = summary(&mut lat);
        rep.add(
            name,
            &format!("desk report page, {THREAD} messages, {have} reports"),
            format!("{line}; {cpu}"),
            "p95 < 50 ms",
            &verdict_cpu(p95 < TARGET, &cpu),
        );
        rep.add(
            name,
            &format!("desk server RSS after the pages, {have} reports"),
            mb(srv.rss_kib()),
            "-",
            "reference",
        );
        search(srv, rep, name, &mut sup_creds, &maker.areas, have, requests).await?;
    }
    store.close().await;
    Ok(())
}
