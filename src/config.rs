//! Configuration: a TOML file plus `BISIK_*` environment variables (and `DATABASE_URL`), loaded
//! and validated once, then passed around in the app state; there is no global config.
//!
//! Reporter-facing texts and URLs (categories, areas, onion address, quick-exit URL, the public
//! URL the outreach kit prints) come only from the operator's file, never from the environment
//! of a shared host and never from the database, so a database writer cannot turn the intake
//! into a phishing page.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A labelled choice (category or area), in both languages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Stable id sent by clients.
    pub id: String,
    /// Labels.
    pub label: Label,
}

/// A text in Bahasa Indonesia and English.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Bahasa Indonesia.
    pub id: String,
    /// English.
    pub en: String,
}

/// The whole validated configuration.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where databases live (SQLite mode).
    pub data_dir: PathBuf,
    /// Where key files live.
    pub keys_dir: PathBuf,
    /// Where `keys init` writes the offline passphrase when stdout is not a terminal. Never
    /// inside keys_dir, so a copy of keys/ (which holds `offline.sealed`) does not also hold
    /// its passphrase. Default: the directory that contains keys_dir.
    pub offline_passphrase_dir: Option<PathBuf>,
    /// Reports database URL; defaults to SQLite in data_dir.
    pub database_url: Option<String>,
    /// Desk database URL; defaults to data_dir/desk.db, or the same PostgreSQL database.
    pub desk_database_url: Option<String>,
    /// Intake listener.
    pub intake_listen: String,
    /// Desk listener (used by the case desk).
    pub desk_listen: String,
    /// Optional loopback listener for operational metrics; off by default.
    pub metrics_listen: Option<String>,
    /// Log level for Bisik's own code (error, warn, info, debug, trace). Libraries stay at warn.
    pub log_level: String,
    /// Apply migrations at start-up.
    pub auto_migrate: bool,
    /// The unit reports go to.
    pub unit: Unit,
    /// Report categories.
    pub categories: Vec<Choice>,
    /// Areas (kecamatan).
    pub areas: Vec<Choice>,
    /// Reporter-side settings.
    pub reporter: Reporter,
    /// Argon2 pool and stock.
    pub kdf: Kdf,
    /// Request limits.
    pub limits: Limits,
    /// Free-disk watermarks.
    pub disk: Disk,
    /// Reshuffle schedule (issue 5, section 2).
    pub maintenance: Maintenance,
    /// The case desk: staff login cost, sessions, back-off.
    pub desk: Desk,
    /// Triage: the SLA clock, labels and reply templates (issue 7).
    pub triage: Triage,
    /// Figures for the regional action plan (issue 10): suppression and the tile map.
    pub figures: Figures,
    /// Attachments (issue 9): limits, types, the sanitizer's bounds and the blob store.
    pub attachments: Attachments,
}

/// Attachment settings (`[attachments]`, issue 9).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Attachments {
    /// Files per report or message (0 turns attachments off).
    pub max_files: usize,
    /// Largest file, in MiB.
    pub max_file_mib: u64,
    /// Bytes all reporters together may upload in one hour, in MiB: a flood of large files
    /// cannot fill the disk or keep the sanitizer busy for long.
    pub hourly_budget_mib: u64,
    /// Free MiB the spool and the local blob directory must keep; below it files are refused
    /// (the tip itself is still taken).
    pub min_free_mib: u64,
    /// Types accepted beyond the cleanable ones (jpeg, png, webp, text), each only when the
    /// reporter consents, for that file, that its metadata cannot be removed: pdf, heic (iPhone
    /// photos, which the sanitizer cannot decode), mp4 (also MOV, M4A and 3GP voice notes), ogg,
    /// mp3, webm, wav.
    pub consent_types: Vec<String>,
    /// Largest image the sanitizer decodes, in megapixels: a decompression bomb stops here.
    pub max_megapixels: u64,
    /// The sanitizer's address-space limit, in MiB.
    pub sanitizer_memory_mib: u64,
    /// The sanitizer's CPU-time limit, in seconds.
    pub sanitizer_cpu_secs: u64,
    /// Where blobs go: `local` (blob_dir) or `s3`.
    pub store: String,
    /// Local blob directory; default data_dir/blobs.
    pub blob_dir: Option<PathBuf>,
    /// S3-compatible storage, when `store = "s3"`.
    pub s3: S3,
}

/// An S3-compatible bucket. The secret key comes from the environment
/// (BISIK_S3_SECRET_ACCESS_KEY), never from the config file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3 {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint URL, e.g. `https://s3.example.go.id`; empty for AWS itself.
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Access key id (BISIK_S3_ACCESS_KEY_ID overrides it).
    pub access_key_id: String,
    /// Allow plain HTTP to the endpoint: only for a server on loopback (tests).
    pub allow_http: bool,
}

impl Default for Attachments {
    fn default() -> Self {
        Attachments {
            max_files: 5,
            max_file_mib: 20,
            hourly_budget_mib: 2048,
            min_free_mib: 2048,
            consent_types: Vec::new(),
            max_megapixels: 50,
            sanitizer_memory_mib: 1024,
            sanitizer_cpu_secs: 30,
            store: "local".into(),
            blob_dir: None,
            s3: S3::default(),
        }
    }
}

impl Attachments {
    /// The largest file in bytes.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_mib * 1024 * 1024
    }
}

/// Figures settings (`[figures]`, issue 10, docs/FIGURES.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Figures {
    /// The export's suppression threshold: a count below `k` is shown as "< k", and every total
    /// is rounded to a multiple of `k`. Default 5.
    pub k: i64,
    /// Where each kecamatan's tile sits on the map (column from the west, row from the north).
    /// Empty: the default places of Hulu Sungai Selatan's 11 kecamatan ([`default_tiles`]);
    /// an area without a tile is placed in a row below the others.
    pub tiles: Vec<Tile>,
}

/// One kecamatan's tile on the figures map.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tile {
    /// Area id (one of `areas`).
    pub area: String,
    /// Column, from 0 in the west.
    pub col: u32,
    /// Row, from 0 in the north.
    pub row: u32,
}

/// The largest tile column or row.
pub const TILE_MAX: u32 = 15;

impl Default for Figures {
    fn default() -> Self {
        Figures {
            k: 5,
            tiles: Vec::new(),
        }
    }
}

/// Hulu Sungai Selatan's 11 kecamatan roughly as they lie: the three Daha in the swampy west,
/// Kandangan (the seat) in the middle, Loksado in the Meratus hills to the east.
pub fn default_tiles() -> Vec<Tile> {
    [
        ("daha-utara", 0, 0),
        ("simpur", 2, 0),
        ("telaga-langsat", 3, 0),
        ("daha-barat", 0, 1),
        ("kalumpang", 1, 1),
        ("kandangan", 2, 1),
        ("angkinang", 3, 1),
        ("loksado", 4, 1),
        ("daha-selatan", 0, 2),
        ("sungai-raya", 2, 2),
        ("padang-batung", 3, 2),
    ]
    .into_iter()
    .map(|(area, col, row)| Tile {
        area: area.into(),
        col,
        row,
    })
    .collect()
}

impl Figures {
    /// Every configured area's tile: the configured place, else the default place when the
    /// area has one and that cell is free, else the next free cell of a row below the others.
    pub fn tiles_for(&self, areas: &[Choice]) -> Vec<Tile> {
        let given = if self.tiles.is_empty() {
            default_tiles()
        } else {
            self.tiles.clone()
        };
        let mut out: Vec<Tile> = Vec::new();
        let mut rest = Vec::new();
        for a in areas {
            match given.iter().find(|t| t.area == a.id) {
                Some(t) if !out.iter().any(|o| (o.col, o.row) == (t.col, t.row)) => {
                    out.push(t.clone())
                }
                _ => rest.push(a.id.clone()),
            }
        }
        let mut row = out.iter().map(|t| t.row + 1).max().unwrap_or(0);
        let mut col = 0;
        for area in rest {
            out.push(Tile { area, col, row });
            col += 1;
            if col > 5 {
                col = 0;
                row += 1;
            }
        }
        out
    }
}

/// Triage settings (`[triage]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Triage {
    /// Working days a new report may wait for triage before it is flagged. Default 3, the
    /// national complaint service's norm.
    pub sla_triage_working_days: i64,
    /// Working days a reporter's message may wait for an answer before it is flagged.
    pub sla_answer_working_days: i64,
    /// Days the office is closed besides weekends, `YYYY-MM-DD`. Default: Indonesia's national
    /// holidays and collective leave of 2026 and 2027 ([`crate::domain::calendar`]).
    pub holidays: Vec<String>,
    /// Labels staff may put on a report (sealed under K_s: the reporter never sees them).
    pub labels: Vec<Choice>,
    /// Ready answers for messages to the reporter.
    pub reply_templates: Vec<ReplyTemplate>,
}

/// A ready answer: its name in the desk's menu and the text sent (the reporter reads it, so
/// usually in Bahasa Indonesia).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyTemplate {
    /// Stable id.
    pub id: String,
    /// Name in the menu.
    pub label: Label,
    /// The message.
    pub body: String,
}

impl Default for Triage {
    fn default() -> Self {
        Triage {
            sla_triage_working_days: 3,
            sla_answer_working_days: 5,
            holidays: crate::domain::calendar::INDONESIAN_HOLIDAYS
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
            labels: vec![
                choice(
                    "diduga-palsu",
                    "Diduga palsu / banjir laporan",
                    "Suspected fake / flood",
                ),
                choice(
                    "perlu-lokasi",
                    "Perlu lokasi lebih tepat",
                    "Needs a more exact location",
                ),
                choice(
                    "diteruskan",
                    "Diteruskan ke instansi lain",
                    "Passed to another agency",
                ),
                choice("berulang", "Lokasi berulang", "Repeat location"),
            ],
            reply_templates: vec![
                ReplyTemplate {
                    id: "ditindaklanjuti".into(),
                    label: Label {
                        id: "Terima kasih, sedang ditindaklanjuti".into(),
                        en: "Thank you, we are following up".into(),
                    },
                    body: "Terima kasih, laporan Anda sedang kami tindaklanjuti.".into(),
                },
                ReplyTemplate {
                    id: "lokasi".into(),
                    label: Label {
                        id: "Minta lokasi lebih tepat".into(),
                        en: "Ask for a more exact location".into(),
                    },
                    body: "Terima kasih atas laporan Anda. Mohon jelaskan lokasinya lebih tepat: \
                           nama jalan, gang, atau patokan terdekat (misalnya masjid, sekolah, \
                           atau warung). Jangan sebutkan nama atau nomor telepon Anda."
                        .into(),
                },
                ReplyTemplate {
                    id: "waktu".into(),
                    label: Label {
                        id: "Minta waktu kejadian".into(),
                        en: "Ask when it happens".into(),
                    },
                    body: "Terima kasih. Kapan biasanya kegiatan itu terjadi (hari dan jam \
                           kira-kira)? Jawab hanya jika aman bagi Anda."
                        .into(),
                },
            ],
        }
    }
}

impl Triage {
    /// The working-day calendar (validated at load, so this cannot fail afterwards).
    pub fn calendar(&self) -> crate::domain::calendar::Calendar {
        crate::domain::calendar::Calendar::new(&self.holidays).unwrap_or_default()
    }
}

/// Case desk settings (`[desk]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Desk {
    /// Argon2id memory, in MiB, for staff passwords (they open the staff keys). Default 256:
    /// a stolen desk database plus the pepper must still cost an attacker that much per guess.
    /// Lower it only for tests (BISIK_DESK_KDF_MIB).
    pub kdf_mib: u32,
    /// Staff Argon2s at once; memory use is at most this times `kdf_mib`. Default 2.
    pub kdf_pool: usize,
    /// Logins waiting for a permit; past this they are refused (503) rather than queued.
    pub kdf_queue: usize,
    /// Seconds a login may wait for a permit.
    pub kdf_wait_secs: u64,
    /// Seconds without a request after which a session ends (default 15 minutes).
    pub session_idle_secs: u64,
    /// Seconds after login at which a session ends however busy it is (default 8 h).
    pub session_absolute_secs: u64,
    /// The desk is reached over TLS (nginx in front): cookies get `Secure` and the `__Host-`
    /// prefix. Off for the plain-HTTP loopback listener, where browsers would drop them.
    pub behind_tls: bool,
    /// Failed logins of one account that pass before the back-off starts.
    pub backoff_free_failures: u32,
    /// First back-off, in seconds; it doubles with each further failure.
    pub backoff_base_secs: u64,
    /// Longest back-off, in seconds: a flood against one account never shuts its owner out
    /// for longer than this.
    pub backoff_max_secs: u64,
    /// Reports a session's search opens in its first step (default 1,000); later steps double,
    /// up to 16 of these. A first search sorted by day is answered once the opened reports
    /// fill its page (docs/BENCHMARKS.md). Tests lower it (BISIK_DESK_SEARCH_FIRST_STEP).
    pub search_first_step: usize,
}

impl Default for Desk {
    fn default() -> Self {
        Desk {
            kdf_mib: 256,
            kdf_pool: 2,
            kdf_queue: 64,
            kdf_wait_secs: 30,
            session_idle_secs: 15 * 60,
            session_absolute_secs: 8 * 3600,
            behind_tls: false,
            backoff_free_failures: 3,
            backoff_base_secs: 2,
            backoff_max_secs: 300,
            search_first_step: 1_000,
        }
    }
}

/// Free-disk watermarks (issue 5, section 4). Below `messages_min_free_mib` new messages get
/// 503; below the lower `submissions_min_free_mib` new tips do too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Disk {
    /// A path on the file system to watch; default data_dir (where SQLite lives). With
    /// PostgreSQL on this host, point it at the database's data directory.
    pub path: Option<PathBuf>,
    /// MiB free below which new messages are refused.
    pub messages_min_free_mib: u64,
    /// MiB free below which new submissions are refused too; at most `messages_min_free_mib`.
    pub submissions_min_free_mib: u64,
}

impl Default for Disk {
    fn default() -> Self {
        Disk {
            path: None,
            messages_min_free_mib: 1024,
            submissions_min_free_mib: 256,
        }
    }
}

/// The types `attachments.consent_types` may name: formats the sanitizer cannot clean.
pub const CONSENT_TYPES: &[&str] = &["pdf", "heic", "mp4", "ogg", "mp3", "webm", "wav"];

/// The longest `unit.name`, in characters: it is on every reporter page, and the follow-up
/// page's byte budget reserves room for it (`intake::pages::FRAME_RESERVE`).
pub const UNIT_NAME_MAX: usize = 100;
/// The longest `reporter.quick_exit_url`, in bytes, for the same reason.
pub const QUICK_EXIT_URL_MAX: usize = 200;
/// The longest `reporter.public_url`, in bytes: it is printed in large type on a poster and
/// must stay short enough for a person to type.
pub const PUBLIC_URL_MAX: usize = 200;

/// The unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// Short id stored on each report.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Reporter-facing settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reporter {
    /// Days after closure before a reporter sees `closed` (I11).
    pub closed_delay_days: i64,
    /// Days a follow-up code keeps working.
    pub code_lifetime_days: i64,
    /// Onion address for the Onion-Location header, if any.
    pub onion_address: Option<String>,
    /// The intake's public address as people type it (`https://lapor.example.go.id/`): what
    /// the outreach kit prints and encodes in its QR code (issue 10). Optional: only the
    /// `bisik outreach` commands need it, and they refuse to run without it.
    pub public_url: Option<String>,
    /// Where the quick-exit link goes.
    pub quick_exit_url: String,
    /// Messages a reporter may send on one report per UTC day (429 beyond).
    pub messages_per_day: i64,
    /// Messages per page of a follow-up answer, newest first.
    pub messages_per_page: i64,
    /// A follow-up session (pages) ends after this many seconds without a request.
    pub session_idle_secs: u64,
    /// A follow-up session ends this many seconds after the code was entered, however used.
    pub session_absolute_secs: u64,
    /// How long the code issued for a report form is kept, to be shown again if the same form
    /// is sent again (a double tap, a lost answer); at most 600.
    pub resubmit_secs: u64,
}

/// Argon2 capacity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Kdf {
    /// Argon2 computations at once (each takes 64 MiB at v1). Default: CPU count, at least 2.
    pub pool_size: usize,
    /// Precomputed codes kept in memory for submissions.
    pub stock_size: usize,
    /// Seconds a precomputed code may wait in the stock before it is discarded.
    pub stock_max_age_secs: u64,
    /// Follow-ups allowed to wait at once; past this they get 503. Deeper than any flood the
    /// connection limits admit, so a real reporter always gets a place (docs/DESIGN-NOTES.md).
    pub followup_queue: usize,
    /// Failed follow-ups per minute that raise the guessing alarm.
    pub alarm_failures_per_minute: usize,
    /// Seconds a follow-up may wait in the queue before it gets 503.
    pub followup_wait_secs: u64,
}

/// Background maintenance of the stored data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Maintenance {
    /// Longest time, in seconds, that the physical order of a write stays readable in the
    /// database: `bisik serve` reshuffles this often (I1). In the production split a timer runs
    /// `bisik maintenance reshuffle` instead (deploy/systemd/bisik-reshuffle.timer).
    pub reshuffle_window_secs: u64,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            reshuffle_window_secs: 3600,
        }
    }
}

/// Request limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest JSON body accepted, in bytes.
    pub body_bytes: usize,
    /// Seconds a client may take to send headers and body.
    pub request_timeout_secs: u64,
    /// Concurrent connections per worker.
    pub max_connections: usize,
}

impl Default for Reporter {
    fn default() -> Self {
        Reporter {
            closed_delay_days: 14,
            code_lifetime_days: 365,
            onion_address: None,
            public_url: None,
            quick_exit_url: "https://www.google.co.id/".into(),
            messages_per_day: 20,
            messages_per_page: 20,
            session_idle_secs: 600,
            session_absolute_secs: 1800,
            resubmit_secs: 600,
        }
    }
}

impl Default for Kdf {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Kdf {
            pool_size: cpus.max(2),
            stock_size: 32,
            stock_max_age_secs: 600,
            followup_queue: 1024,
            alarm_failures_per_minute: 30,
            followup_wait_secs: 55,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 64 * 1024,
            request_timeout_secs: 10,
            max_connections: 2048,
        }
    }
}

fn choice(id: &str, label_id: &str, en: &str) -> Choice {
    Choice {
        id: id.into(),
        label: Label {
            id: label_id.into(),
            en: en.into(),
        },
    }
}

/// The 11 kecamatan of Hulu Sungai Selatan, the first deployment's default areas.
pub fn default_areas() -> Vec<Choice> {
    [
        "Angkinang",
        "Daha Barat",
        "Daha Selatan",
        "Daha Utara",
        "Kalumpang",
        "Kandangan",
        "Loksado",
        "Padang Batung",
        "Simpur",
        "Sungai Raya",
        "Telaga Langsat",
    ]
    .iter()
    .map(|n| choice(&n.to_lowercase().replace(' ', "-"), n, n))
    .collect()
}

/// Default report categories.
pub fn default_categories() -> Vec<Choice> {
    vec![
        choice("peredaran", "Peredaran / jual beli narkoba", "Drug dealing"),
        choice("penyalahgunaan", "Penyalahgunaan / pemakaian", "Drug use"),
        choice(
            "produksi",
            "Produksi / tempat meracik",
            "Production or a drug lab",
        ),
        choice(
            "penyelundupan",
            "Penyelundupan / pengiriman",
            "Smuggling or shipment",
        ),
        choice("lainnya", "Lainnya", "Other"),
    ]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: "data".into(),
            keys_dir: "keys".into(),
            offline_passphrase_dir: None,
            database_url: None,
            desk_database_url: None,
            intake_listen: "127.0.0.1:8080".into(),
            desk_listen: "127.0.0.1:8081".into(),
            metrics_listen: None,
            log_level: "info".into(),
            auto_migrate: true,
            unit: Unit {
                id: "bnnk-hss".into(),
                name: "BNNK Hulu Sungai Selatan".into(),
            },
            categories: default_categories(),
            areas: default_areas(),
            reporter: Reporter::default(),
            kdf: Kdf::default(),
            limits: Limits::default(),
            disk: Disk::default(),
            maintenance: Maintenance::default(),
            desk: Desk::default(),
            triage: Triage::default(),
            figures: Figures::default(),
            attachments: Attachments::default(),
        }
    }
}

/// Secrets (a password inside a database URL) print as `***`.
fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("keys_dir", &self.keys_dir)
            .field("database_url", &mask_url(&self.database_url()))
            .field("desk_database_url", &mask_url(&self.desk_database_url()))
            .field("intake_listen", &self.intake_listen)
            .field("desk_listen", &self.desk_listen)
            .field("log_level", &self.log_level)
            .finish_non_exhaustive()
    }
}

/// `reporter.public_url` must be an absolute http(s) URL with a host and no user name or
/// password (a poster must not carry a credential), at most [`PUBLIC_URL_MAX`] bytes.
fn check_public_url(u: &str) -> Result<(), ConfigError> {
    let refuse = |why: &str| {
        bad(format!(
            "setting reporter.public_url must be an absolute http:// or https:// URL of at most {PUBLIC_URL_MAX} bytes, such as \"https://lapor.example.go.id/\" ({why}), got {u:?}"
        ))
    };
    if u.len() > PUBLIC_URL_MAX {
        return Err(refuse("too long"));
    }
    let parsed = url::Url::parse(u).map_err(|e| refuse(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refuse("not http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(refuse("no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("it holds a user name or password"));
    }
    if u.chars().any(char::is_whitespace) {
        return Err(refuse("it holds spaces"));
    }
    Ok(())
}

/// A bad setting: one sentence that names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn bad(msg: String) -> ConfigError {
    ConfigError(msg)
}

impl Config {
    /// Loads `path` (if given, it must exist; if not given, `./bisik.toml` is used when present),
    /// applies environment overrides from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut cfg = match path {
            Some(p) => Self::from_file(p)?,
            None if Path::new("bisik.toml").exists() => Self::from_file(Path::new("bisik.toml"))?,
            None => Config::default(),
        };
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn from_file(p: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(p)
            .map_err(|e| bad(format!("cannot read config file {}: {e}", p.display())))?;
        toml::from_str(&text)
            .map_err(|e| bad(format!("config file {}: {}", p.display(), e.message())))
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, ConfigError> {
            v.trim().parse().map_err(|_| {
                bad(format!(
                    "environment variable {name} must be a whole number, got {v:?}"
                ))
            })
        }
        if let Some(v) = env("BISIK_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = env("BISIK_KEYS_DIR") {
            self.keys_dir = v.into();
        }
        if let Some(v) = env("BISIK_OFFLINE_PASSPHRASE_DIR") {
            self.offline_passphrase_dir = Some(v.into());
        }
        if let Some(v) = env("DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = env("BISIK_DESK_DATABASE_URL") {
            self.desk_database_url = Some(v);
        }
        if let Some(v) = env("BISIK_INTAKE_LISTEN") {
            self.intake_listen = v;
        }
        if let Some(v) = env("BISIK_DESK_LISTEN") {
            self.desk_listen = v;
        }
        if let Some(v) = env("BISIK_METRICS_LISTEN") {
            self.metrics_listen = Some(v);
        }
        if let Some(v) = env("BISIK_LOG") {
            self.log_level = v;
        }
        if let Some(v) = env("BISIK_AUTO_MIGRATE") {
            self.auto_migrate = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(bad(format!(
                        "environment variable BISIK_AUTO_MIGRATE must be true or false, got {v:?}"
                    )));
                }
            };
        }
        if let Some(v) = env("BISIK_KDF_POOL") {
            self.kdf.pool_size = num("BISIK_KDF_POOL", v)?;
        }
        if let Some(v) = env("BISIK_STOCK_SIZE") {
            self.kdf.stock_size = num("BISIK_STOCK_SIZE", v)?;
        }
        if let Some(v) = env("BISIK_FOLLOWUP_QUEUE") {
            self.kdf.followup_queue = num("BISIK_FOLLOWUP_QUEUE", v)?;
        }
        if let Some(v) = env("BISIK_DESK_KDF_MIB") {
            self.desk.kdf_mib = num("BISIK_DESK_KDF_MIB", v)?;
        }
        if let Some(v) = env("BISIK_DESK_SESSION_IDLE_SECS") {
            self.desk.session_idle_secs = num("BISIK_DESK_SESSION_IDLE_SECS", v)?;
        }
        if let Some(v) = env("BISIK_DESK_SEARCH_FIRST_STEP") {
            self.desk.search_first_step = num("BISIK_DESK_SEARCH_FIRST_STEP", v)?;
        }
        if let Some(v) = env("BISIK_DESK_BACKOFF_BASE_SECS") {
            self.desk.backoff_base_secs = num("BISIK_DESK_BACKOFF_BASE_SECS", v)?;
        }
        if let Some(v) = env("BISIK_SESSION_IDLE_SECS") {
            self.reporter.session_idle_secs = num("BISIK_SESSION_IDLE_SECS", v)?;
        }
        if let Some(v) = env("BISIK_SESSION_ABSOLUTE_SECS") {
            self.reporter.session_absolute_secs = num("BISIK_SESSION_ABSOLUTE_SECS", v)?;
        }
        if let Some(v) = env("BISIK_RESUBMIT_SECS") {
            self.reporter.resubmit_secs = num("BISIK_RESUBMIT_SECS", v)?;
        }
        if let Some(v) = env("BISIK_ATTACHMENTS_HOURLY_BUDGET_MIB") {
            self.attachments.hourly_budget_mib = num("BISIK_ATTACHMENTS_HOURLY_BUDGET_MIB", v)?;
        }
        if let Some(v) = env("BISIK_ATTACHMENTS_MIN_FREE_MIB") {
            self.attachments.min_free_mib = num("BISIK_ATTACHMENTS_MIN_FREE_MIB", v)?;
        }
        if let Some(v) = env("BISIK_BLOB_STORE") {
            self.attachments.store = v;
        }
        if let Some(v) = env("BISIK_S3_BUCKET") {
            self.attachments.s3.bucket = v;
        }
        if let Some(v) = env("BISIK_S3_ENDPOINT") {
            self.attachments.s3.endpoint = v;
        }
        if let Some(v) = env("BISIK_S3_ACCESS_KEY_ID") {
            self.attachments.s3.access_key_id = v;
        }
        if let Some(v) = env("BISIK_S3_REGION") {
            self.attachments.s3.region = v;
        }
        if let Some(v) = env("BISIK_S3_ALLOW_HTTP") {
            self.attachments.s3.allow_http = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("BISIK_RESHUFFLE_WINDOW") {
            self.maintenance.reshuffle_window_secs = num("BISIK_RESHUFFLE_WINDOW", v)?;
        }
        Ok(())
    }

    fn validate_attachments(&self) -> Result<(), ConfigError> {
        let a = &self.attachments;
        if a.max_files > 20 {
            return Err(bad(format!(
                "setting attachments.max_files must be between 0 and 20, got {}",
                a.max_files
            )));
        }
        if !(1..=1024).contains(&a.max_file_mib) {
            return Err(bad(format!(
                "setting attachments.max_file_mib must be between 1 and 1024, got {}",
                a.max_file_mib
            )));
        }
        if !(1..=1000).contains(&a.max_megapixels) {
            return Err(bad(format!(
                "setting attachments.max_megapixels must be between 1 and 1000, got {}",
                a.max_megapixels
            )));
        }
        if !(64..=65_536).contains(&a.sanitizer_memory_mib)
            || !(1..=600).contains(&a.sanitizer_cpu_secs)
        {
            return Err(bad(format!(
                "settings attachments.sanitizer_memory_mib (64 to 65536) and attachments.sanitizer_cpu_secs (1 to 600) are out of range: {} and {}",
                a.sanitizer_memory_mib, a.sanitizer_cpu_secs
            )));
        }
        for t in &a.consent_types {
            if !CONSENT_TYPES.contains(&t.as_str()) {
                return Err(bad(format!(
                    "setting attachments.consent_types: unknown type {t:?}; known: {}",
                    CONSENT_TYPES.join(", ")
                )));
            }
        }
        match a.store.as_str() {
            "local" => {}
            "s3" => {
                if a.s3.bucket.is_empty() {
                    return Err(bad(
                        "setting attachments.s3.bucket (BISIK_S3_BUCKET) is needed when attachments.store is \"s3\"".into(),
                    ));
                }
            }
            other => {
                return Err(bad(format!(
                    "setting attachments.store (BISIK_BLOB_STORE) must be \"local\" or \"s3\", got {other:?}"
                )));
            }
        }
        Ok(())
    }

    fn validate_triage(&self) -> Result<(), ConfigError> {
        let t = &self.triage;
        for (name, v) in [
            ("sla_triage_working_days", t.sla_triage_working_days),
            ("sla_answer_working_days", t.sla_answer_working_days),
        ] {
            if !(1..=60).contains(&v) {
                return Err(bad(format!(
                    "setting triage.{name} must be between 1 and 60 working days; got {v}"
                )));
            }
        }
        crate::domain::calendar::Calendar::new(&t.holidays)
            .map_err(|e| bad(format!("setting triage.holidays: {e}")))?;
        let mut ids = std::collections::BTreeSet::new();
        for l in &t.labels {
            if l.id.is_empty()
                || l.id.len() > 40
                || !l
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(bad(format!(
                    "setting triage.labels: id {:?} must be 1 to 40 letters, digits, '-' or '_'",
                    l.id
                )));
            }
            if !ids.insert(l.id.as_str()) {
                return Err(bad(format!(
                    "setting triage.labels: id {:?} appears twice",
                    l.id
                )));
            }
        }
        if t.labels.len() > 50 {
            return Err(bad("setting triage.labels holds at most 50 labels".into()));
        }
        let mut ids = std::collections::BTreeSet::new();
        for r in &t.reply_templates {
            if r.id.is_empty() || !ids.insert(r.id.as_str()) {
                return Err(bad(format!(
                    "setting triage.reply_templates: id {:?} is empty or appears twice",
                    r.id
                )));
            }
            if r.body.trim().is_empty() || r.body.chars().count() > crate::domain::TEXT_MAX {
                return Err(bad(format!(
                    "setting triage.reply_templates: the text of {:?} must hold 1 to {} characters",
                    r.id,
                    crate::domain::TEXT_MAX
                )));
            }
        }
        Ok(())
    }

    fn validate_figures(&self) -> Result<(), ConfigError> {
        let f = &self.figures;
        if !(2..=100).contains(&f.k) {
            return Err(bad(format!(
                "setting figures.k must be between 2 and 100, got {}",
                f.k
            )));
        }
        let mut areas = std::collections::BTreeSet::new();
        let mut cells = std::collections::BTreeSet::new();
        for t in &f.tiles {
            if !self.areas.iter().any(|a| a.id == t.area) {
                return Err(bad(format!(
                    "setting figures.tiles: area {:?} is not one of the configured areas",
                    t.area
                )));
            }
            if t.col > TILE_MAX || t.row > TILE_MAX {
                return Err(bad(format!(
                    "setting figures.tiles: the tile of {:?} must have col and row from 0 to {TILE_MAX}",
                    t.area
                )));
            }
            if !areas.insert(t.area.as_str()) || !cells.insert((t.col, t.row)) {
                return Err(bad(format!(
                    "setting figures.tiles: area {:?} appears twice or shares its cell with another",
                    t.area
                )));
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_triage()?;
        self.validate_figures()?;
        if !matches!(
            self.log_level.as_str(),
            "error" | "warn" | "info" | "debug" | "trace"
        ) {
            return Err(bad(format!(
                "setting log_level (BISIK_LOG) must be one of error, warn, info, debug, trace; got {:?}",
                self.log_level
            )));
        }
        for (name, addr) in [
            ("intake_listen (BISIK_INTAKE_LISTEN)", &self.intake_listen),
            ("desk_listen (BISIK_DESK_LISTEN)", &self.desk_listen),
        ]
        .into_iter()
        .chain(
            self.metrics_listen
                .iter()
                .map(|a| ("metrics_listen (BISIK_METRICS_LISTEN)", a)),
        ) {
            if addr.parse::<std::net::SocketAddr>().is_err() {
                return Err(bad(format!(
                    "setting {name} must be an address like 127.0.0.1:8080, got {addr:?}"
                )));
            }
        }
        // Counters are operational, but still say when people used the service: never on a
        // public address.
        if let Some(m) = &self.metrics_listen
            && !m
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback())
        {
            return Err(bad(format!(
                "setting metrics_listen (BISIK_METRICS_LISTEN) must be a loopback address such as 127.0.0.1:9180, got {m:?}"
            )));
        }
        let pass_dir = self.offline_passphrase_dir();
        if pass_dir.starts_with(&self.keys_dir) {
            return Err(bad(format!(
                "setting offline_passphrase_dir (BISIK_OFFLINE_PASSPHRASE_DIR) must be outside keys_dir {}, got {}",
                self.keys_dir.display(),
                pass_dir.display()
            )));
        }
        crate::store::backend_of(&self.database_url())
            .map_err(|e| bad(format!("setting database_url (DATABASE_URL): {e}")))?;
        crate::store::backend_of(&self.desk_database_url()).map_err(|e| {
            bad(format!(
                "setting desk_database_url (BISIK_DESK_DATABASE_URL): {e}"
            ))
        })?;
        // At least 2, so one running Argon2 never holds everything up.
        if !(2..=64).contains(&self.kdf.pool_size) {
            return Err(bad(format!(
                "setting kdf.pool_size (BISIK_KDF_POOL) must be between 2 and 64, got {}",
                self.kdf.pool_size
            )));
        }
        if self.kdf.stock_size > 10_000 {
            return Err(bad(format!(
                "setting kdf.stock_size (BISIK_STOCK_SIZE) must be at most 10000, got {}",
                self.kdf.stock_size
            )));
        }
        // Each stocked code opens the report of a reporter who has not come yet, so the age
        // bounds what a memory capture yields.
        if !(10..=3_600).contains(&self.kdf.stock_max_age_secs) {
            return Err(bad(format!(
                "setting kdf.stock_max_age_secs must be between 10 and 3600 (one hour), got {}",
                self.kdf.stock_max_age_secs
            )));
        }
        if !(1..=100_000).contains(&self.kdf.followup_queue) {
            return Err(bad(format!(
                "setting kdf.followup_queue (BISIK_FOLLOWUP_QUEUE) must be between 1 and 100000, got {}",
                self.kdf.followup_queue
            )));
        }
        if !(1..=300).contains(&self.kdf.followup_wait_secs) {
            return Err(bad(format!(
                "setting kdf.followup_wait_secs must be between 1 and 300, got {}",
                self.kdf.followup_wait_secs
            )));
        }
        if self.kdf.alarm_failures_per_minute == 0 {
            return Err(bad(
                "setting kdf.alarm_failures_per_minute must be at least 1".into(),
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.limits.body_bytes) {
            return Err(bad(format!(
                "setting limits.body_bytes must be between 1024 and 16777216, got {}",
                self.limits.body_bytes
            )));
        }
        if !(1..=300).contains(&self.limits.request_timeout_secs) {
            return Err(bad(format!(
                "setting limits.request_timeout_secs must be between 1 and 300, got {}",
                self.limits.request_timeout_secs
            )));
        }
        if self.disk.submissions_min_free_mib > self.disk.messages_min_free_mib {
            return Err(bad(format!(
                "setting disk.submissions_min_free_mib ({}) must not exceed disk.messages_min_free_mib ({}): tips are refused last",
                self.disk.submissions_min_free_mib, self.disk.messages_min_free_mib
            )));
        }
        if !(8..=4096).contains(&self.desk.kdf_mib) {
            return Err(bad(format!(
                "setting desk.kdf_mib (BISIK_DESK_KDF_MIB) must be between 8 and 4096, got {}",
                self.desk.kdf_mib
            )));
        }
        if !(1..=64).contains(&self.desk.kdf_pool) || !(1..=10_000).contains(&self.desk.kdf_queue) {
            return Err(bad(format!(
                "settings desk.kdf_pool (1 to 64) and desk.kdf_queue (1 to 10000) are out of range: {} and {}",
                self.desk.kdf_pool, self.desk.kdf_queue
            )));
        }
        if !(1..=100_000).contains(&self.desk.search_first_step) {
            return Err(bad(format!(
                "setting desk.search_first_step (BISIK_DESK_SEARCH_FIRST_STEP) must be between 1 and 100000, got {}",
                self.desk.search_first_step
            )));
        }
        if !(1..=300).contains(&self.desk.kdf_wait_secs) {
            return Err(bad(format!(
                "setting desk.kdf_wait_secs must be between 1 and 300, got {}",
                self.desk.kdf_wait_secs
            )));
        }
        if self.desk.session_idle_secs == 0
            || self.desk.session_idle_secs > self.desk.session_absolute_secs
            || self.desk.session_absolute_secs > 7 * 86_400
        {
            return Err(bad(format!(
                "settings desk.session_idle_secs ({}) and desk.session_absolute_secs ({}) must satisfy 0 < idle <= absolute <= 604800",
                self.desk.session_idle_secs, self.desk.session_absolute_secs
            )));
        }
        if self.desk.backoff_base_secs == 0
            || self.desk.backoff_base_secs > self.desk.backoff_max_secs
            || self.desk.backoff_max_secs > 3600
        {
            return Err(bad(format!(
                "settings desk.backoff_base_secs ({}) and desk.backoff_max_secs ({}) must satisfy 0 < base <= max <= 3600",
                self.desk.backoff_base_secs, self.desk.backoff_max_secs
            )));
        }
        // Below 10 s the server would do little but rebuild the database; above a day the order
        // of a whole day's tips would sit in the file.
        if !(10..=86_400).contains(&self.maintenance.reshuffle_window_secs) {
            return Err(bad(format!(
                "setting maintenance.reshuffle_window_secs (BISIK_RESHUFFLE_WINDOW) must be between 10 and 86400, got {}",
                self.maintenance.reshuffle_window_secs
            )));
        }
        self.validate_attachments()?;
        if self.reporter.closed_delay_days < 0 || self.reporter.code_lifetime_days < 1 {
            return Err(bad("settings reporter.closed_delay_days must be 0 or more and reporter.code_lifetime_days at least 1".into()));
        }
        for (what, list) in [("categories", &self.categories), ("areas", &self.areas)] {
            if list.is_empty() {
                return Err(bad(format!("setting {what} must list at least one entry")));
            }
            let mut seen = std::collections::HashSet::new();
            for c in list {
                let ok = !c.id.is_empty()
                    && c.id.len() <= 64
                    && c.id.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_'
                    });
                if !ok {
                    return Err(bad(format!(
                        "setting {what}: id {:?} must be 1-64 characters of a-z, 0-9, - or _",
                        c.id
                    )));
                }
                if !seen.insert(&c.id) {
                    return Err(bad(format!("setting {what}: id {:?} appears twice", c.id)));
                }
            }
        }
        if !(1..=1000).contains(&self.reporter.messages_per_day)
            || !(1..=200).contains(&self.reporter.messages_per_page)
        {
            return Err(bad("settings reporter.messages_per_day must be 1 to 1000 and reporter.messages_per_page 1 to 200".into()));
        }
        let (idle, absolute) = (
            self.reporter.session_idle_secs,
            self.reporter.session_absolute_secs,
        );
        if !(1..=3600).contains(&idle) || !(idle..=86_400).contains(&absolute) {
            return Err(bad(format!(
                "settings reporter.session_idle_secs (BISIK_SESSION_IDLE_SECS) must be 1 to 3600 and reporter.session_absolute_secs (BISIK_SESSION_ABSOLUTE_SECS) from the idle time to 86400, got {idle} and {absolute}"
            )));
        }
        if !(1..=600).contains(&self.reporter.resubmit_secs) {
            return Err(bad(format!(
                "setting reporter.resubmit_secs (BISIK_RESUBMIT_SECS) must be 1 to 600, got {}",
                self.reporter.resubmit_secs
            )));
        }
        if let Some(onion) = &self.reporter.onion_address {
            let ok = onion.ends_with(".onion")
                && onion.len() == 62
                && onion[..56]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !ok {
                return Err(bad(format!(
                    "setting reporter.onion_address must be a v3 onion host name (56 characters + .onion), got {onion:?}"
                )));
            }
        }
        if let Some(u) = &self.reporter.public_url {
            check_public_url(u)?;
        }
        if !self.reporter.quick_exit_url.starts_with("https://") {
            return Err(bad(
                "setting reporter.quick_exit_url must start with https://".into(),
            ));
        }
        if self.reporter.quick_exit_url.len() > QUICK_EXIT_URL_MAX {
            return Err(bad(format!(
                "setting reporter.quick_exit_url must be at most {QUICK_EXIT_URL_MAX} bytes long"
            )));
        }
        if self.unit.name.chars().count() > UNIT_NAME_MAX {
            return Err(bad(format!(
                "setting unit.name must be at most {UNIT_NAME_MAX} characters long"
            )));
        }
        Ok(())
    }

    /// Where the offline passphrase file goes: the configured directory, or the one that
    /// contains keys_dir (`.` for the default `keys`).
    pub fn offline_passphrase_dir(&self) -> PathBuf {
        if let Some(d) = &self.offline_passphrase_dir {
            return d.clone();
        }
        match self.keys_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// The reports database URL.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("bisik.db").display()
            )
        })
    }

    /// The desk database URL: its own SQLite file, or the same PostgreSQL database (the desk
    /// tables then live in the schema `desk`).
    pub fn desk_database_url(&self) -> String {
        if let Some(u) = &self.desk_database_url {
            return u.clone();
        }
        match self.database_url.as_deref() {
            Some(u) if !u.starts_with("sqlite:") => u.to_owned(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("desk.db").display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strings on every reporter page are bounded, so the follow-up page's byte budget
    /// holds (`intake::pages::FRAME_RESERVE`).
    #[test]
    fn page_strings_are_bounded() {
        let mut c = Config::default();
        c.unit.name = "é".repeat(UNIT_NAME_MAX);
        c.reporter.quick_exit_url = format!("https://{}", "x".repeat(QUICK_EXIT_URL_MAX - 8));
        c.validate().unwrap();
        c.unit.name.push('x');
        assert!(c.validate().unwrap_err().0.contains("unit.name"));
        c.unit.name.pop();
        c.reporter.quick_exit_url.push('x');
        assert!(c.validate().unwrap_err().0.contains("quick_exit_url"));
    }

    #[test]
    fn figures_tiles_name_configured_areas_and_place_every_area_once() {
        let mut c = Config::default();
        c.validate().unwrap();
        let tiles = c.figures.tiles_for(&c.areas);
        assert_eq!(tiles.len(), 11);
        let cells: std::collections::BTreeSet<_> = tiles.iter().map(|t| (t.col, t.row)).collect();
        assert_eq!(cells.len(), 11, "no two tiles share a cell");
        // An area without a default place goes in a row below the others.
        c.areas
            .push(choice("pulau-baru", "Pulau Baru", "Pulau Baru"));
        let tiles = c.figures.tiles_for(&c.areas);
        let extra = tiles.iter().find(|t| t.area == "pulau-baru").unwrap();
        assert_eq!((extra.col, extra.row), (0, 3));
        for (tile, says) in [
            (
                Tile {
                    area: "atlantis".into(),
                    col: 0,
                    row: 0,
                },
                "not one of the configured",
            ),
            (
                Tile {
                    area: "loksado".into(),
                    col: 16,
                    row: 0,
                },
                "col and row from 0 to 15",
            ),
        ] {
            c.figures.tiles = vec![tile];
            assert!(c.validate().unwrap_err().0.contains(says));
        }
        c.figures.tiles = vec![
            Tile {
                area: "loksado".into(),
                col: 1,
                row: 1,
            },
            Tile {
                area: "simpur".into(),
                col: 1,
                row: 1,
            },
        ];
        assert!(c.validate().unwrap_err().0.contains("shares its cell"));
        c.figures.tiles.clear();
        c.figures.k = 1;
        assert!(c.validate().unwrap_err().0.contains("figures.k"));
    }

    #[test]
    fn public_url_must_be_an_absolute_http_url() {
        let mut c = Config::default();
        for good in [
            "https://lapor.bnnk-hss.go.id/",
            "https://lapor.example.go.id/tip",
            "http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion/",
        ] {
            c.reporter.public_url = Some(good.into());
            c.validate().unwrap();
        }
        for bad in [
            "lapor.bnnk-hss.go.id",
            "/lapor",
            "ftp://lapor.example.go.id/",
            "https://admin:secret@lapor.example.go.id/",
            "https:// lapor.example.go.id/",
            "javascript:alert(1)",
        ] {
            c.reporter.public_url = Some(bad.into());
            let err = c.validate().unwrap_err().0;
            assert!(err.contains("reporter.public_url"), "{bad}: {err}");
        }
        c.reporter.public_url = Some(format!("https://{}.go.id/", "x".repeat(PUBLIC_URL_MAX)));
        assert!(c.validate().unwrap_err().0.contains("200"));
    }
}
