//! The case desk: where vetted BNNK staff log in and, later, read and act on tips. Its own
//! process (`bisik desk`, 127.0.0.1:8081 by default, for the office network or a VPN) and the
//! second listener of `bisik serve`. Part 1 builds who may enter and what they can unlock:
//!
//! * [`accounts`]: roles and the account operations shared by `bisik user` and the admin pages;
//! * [`keys`]: each person's X25519 and Ed25519 keys, sealed with the TOTP secret under
//!   Argon2id(password, salt, secret = desk pepper);
//! * [`login`]: one login form, one answer for every failure, per-account back-off, the
//!   bounded KDF pool; first-login enrolment and password changes;
//! * [`session`]: server-side sessions whose unlocked keys are sealed under a key only the
//!   cookie carries; CSRF bound to the session;
//! * [`totp`]: RFC 6238 and the enrolment QR code as SVG;
//! * [`pages`]: the askama pages (templates/desk/), Bahasa Indonesia first;
//! * [`text`]: the desk's messages in both languages.
//!
//! **For the rest of the desk** (audit log, triage): a handler gets the acting person with
//! [`pages::authed`], which returns a [`session::Authed`]; its
//! [`unlocked_keys`](session::Authed::unlocked_keys) gives the [`keys::StaffKeys`] (X25519
//! secret, Ed25519 `SigningKey`) for signing and unwrapping during that request. Public halves
//! of every staff key are in the desk store ([`crate::store::Store::staff_keys_of`]).
//!
//! The desk logs no client address and no User-Agent (I2): there is no access log, and
//! nothing here reads either header.

pub mod accounts;
pub mod api;
pub mod attachments;
pub mod audit;
pub mod certify;
pub mod figures;
pub mod figures_pages;
pub mod inbox;
pub mod keys;
pub mod login;
pub mod pages;
pub mod report_keys;
pub mod report_pages;
pub mod rewrap;
pub mod search;
pub mod session;
pub mod sharing;
pub mod text;
pub mod totp;
pub mod triage;
pub mod triage_pages;

use crate::config::Config;
use crate::crypto::primitives::SecretKey32;
use crate::store::Store;
use crate::web::gate::Bounded;
use crate::web::headers::SecurityHeaders;
use actix_web::web;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// When a key's flag counts were counted, and the counts (triage overdue, answer overdue).
pub(crate) type FlagCounts = (std::time::Instant, (i64, i64));

/// Everything a desk handler needs, passed in app data.
pub struct DeskState {
    /// Validated config.
    pub cfg: Arc<Config>,
    /// The desk store (staff, keys, audit log).
    pub store: Store,
    /// The reports database, where revocations are recorded for the intake to read.
    pub reports: Store,
    /// The audit log, opened at start with the desk service key from keys/.
    pub audit: audit::Audit,
    /// Live sessions.
    pub sessions: Arc<session::Sessions>,
    /// The pinned public keys from keys/ (intake, escrow, organisation), `None` before
    /// `bisik keys init`: then nothing can be opened or shared yet.
    pub public: Option<crate::keyfiles::PublicKeys>,
    /// The blob store, where the reporters' sealed attachments are (issue 9).
    pub blobs: crate::blob::BlobStore,
    pepper: Arc<SecretKey32>,
    kdf: Bounded,
    dummy_salt: [u8; 16],
    unknown_names: Mutex<HashMap<String, login::Backoff>>,
    /// Supervisors' flag counts by key fingerprint, with when they were counted
    /// ([`inbox`]: reused for a minute).
    pub(crate) flag_counts: Mutex<HashMap<String, FlagCounts>>,
}

impl DeskState {
    /// Builds the state and starts the session sweeper.
    pub fn new(
        cfg: Arc<Config>,
        store: Store,
        reports: Store,
        audit: audit::Audit,
        pepper: SecretKey32,
        public: Option<crate::keyfiles::PublicKeys>,
        blobs: crate::blob::BlobStore,
    ) -> Arc<Self> {
        let d = &cfg.desk;
        let sessions = Arc::new(session::Sessions::new(
            Duration::from_secs(d.session_idle_secs),
            Duration::from_secs(d.session_absolute_secs),
        ));
        let kdf = Bounded::new(
            d.kdf_pool,
            d.kdf_queue,
            Duration::from_secs(d.kdf_wait_secs),
        );
        let sweep = sessions.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                sweep.sweep();
            }
        });
        Arc::new(DeskState {
            cfg,
            store,
            reports,
            audit,
            sessions,
            public,
            blobs,
            pepper: Arc::new(pepper),
            kdf,
            dummy_salt: keys::new_salt(),
            unknown_names: Mutex::new(HashMap::new()),
            flag_counts: Mutex::new(HashMap::new()),
        })
    }
}

impl DeskState {
    fn pinned(&self) -> Result<&crate::keyfiles::PublicKeys, sharing::ShareError> {
        self.public.as_ref().ok_or_else(|| {
            sharing::ShareError::Internal(
                "keys/ holds no pinned public keys yet: run `bisik keys init`".into(),
            )
        })
    }

    /// The pinned intake key, which signs every report header and the reporter's chain heads.
    pub fn intake_key(&self) -> Result<ed25519_dalek::VerifyingKey, sharing::ShareError> {
        Ok(self.pinned()?.intake)
    }

    /// The pinned escrow key, to which every K_s is also wrapped.
    pub fn escrow_key(&self) -> Result<crate::crypto::wrap::RecipientKey, sharing::ShareError> {
        Ok(self.pinned()?.escrow.clone())
    }
}

/// The desk's CSP: its own stylesheet only, no script at all, forms to itself.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every path the desk serves. The router and the authorization matrix test
/// (tests/integration/desk_authz.rs) both use this list, so a new route missing from the
/// matrix fails that test.
pub mod paths {
    /// Login form (GET) and login (POST). Public.
    pub const LOGIN: &str = "/login";
    /// Logout (POST).
    pub const LOGOUT: &str = "/logout";
    /// First-login enrolment: new password, TOTP, keys (GET, POST).
    pub const ENROL: &str = "/enrol";
    /// Home: who you are and your key fingerprint (GET).
    pub const HOME: &str = "/";
    /// Change password (GET, POST).
    pub const PASSWORD: &str = "/password";
    /// Account list (GET) and new account (POST). Admin.
    pub const ACCOUNTS: &str = "/accounts";
    /// Reset an account (POST). Admin.
    pub const ACCOUNT_RESET: &str = "/accounts/reset";
    /// Disable an account (POST). Admin.
    pub const ACCOUNT_DISABLE: &str = "/accounts/disable";
    /// The session's account as JSON; takes a bearer token (GET).
    pub const ME: &str = "/api/v1/me";
    /// The stylesheet. Public.
    pub const STYLE: &str = "/desk.css";
    /// The audit log, newest first (GET). Supervisors; admins see account events only.
    pub const AUDIT: &str = "/audit";
    /// The reports this person holds, with previews (GET `?page=`). Supervisors and
    /// investigators.
    pub const INBOX: &str = "/inbox";
    /// A report: the tip, the conversation, the notes and the actions (GET `?id=`).
    /// Supervisors and investigators holding it.
    pub const REPORT: &str = "/report";
    /// An attachment of a report, decrypted as a download (`?id=&n=`).
    pub const REPORT_ATTACHMENT: &str = "/report/attachment";
    /// An attachment's thumbnail (`?id=&n=`).
    pub const REPORT_THUMB: &str = "/report/thumb";
    /// Share a report with an investigator or supervisor (POST). Certified supervisors.
    pub const REPORT_SHARE: &str = "/reports/share";
    /// Remove an investigator's access to a report (POST). Certified supervisors.
    pub const REPORT_UNSHARE: &str = "/reports/unshare";
    /// A message to the reporter (POST). Supervisors and investigators holding the report.
    pub const REPORT_MESSAGE: &str = "/reports/message";
    /// An internal note (POST). Supervisors and investigators holding the report.
    pub const REPORT_NOTE: &str = "/reports/note";
    /// A status change (POST): investigators in review and actioned, supervisors also close
    /// and reopen.
    pub const REPORT_STATUS: &str = "/reports/status";
    /// A priority change (POST). Certified supervisors.
    pub const REPORT_PRIORITY: &str = "/reports/priority";
    /// One change for many ticked reports (POST). Certified supervisors.
    pub const REPORT_BULK: &str = "/reports/bulk";
    /// A report's labels (POST). Supervisors and investigators holding the report.
    pub const REPORT_LABELS: &str = "/reports/labels";
    /// API login (POST) and logout (DELETE): bearer tokens.
    pub const API_SESSION: &str = "/api/v1/session";
    /// API: the reports this person holds (GET, filters as the inbox).
    pub const API_REPORTS: &str = "/api/v1/reports";
    /// API: one report (GET).
    pub const API_REPORT: &str = "/api/v1/reports/{id}";
    /// API: status (POST).
    pub const API_STATUS: &str = "/api/v1/reports/{id}/status";
    /// API: priority (POST). Certified supervisors.
    pub const API_PRIORITY: &str = "/api/v1/reports/{id}/priority";
    /// API: message to the reporter (POST).
    pub const API_MESSAGES: &str = "/api/v1/reports/{id}/messages";
    /// API: internal note (POST).
    pub const API_NOTES: &str = "/api/v1/reports/{id}/notes";
    /// API: share (POST). Certified supervisors.
    pub const API_SHARE: &str = "/api/v1/reports/{id}/share";
    /// API: unshare (POST). Certified supervisors.
    pub const API_UNSHARE: &str = "/api/v1/reports/{id}/unshare";
    /// API: a report's labels (POST).
    pub const API_LABELS: &str = "/api/v1/reports/{id}/labels";
    /// API: bulk change (POST). Certified supervisors.
    pub const API_BULK: &str = "/api/v1/reports/bulk";
    /// The desk's OpenAPI document (GET). Public.
    pub const API_DOC: &str = "/api/v1/openapi.json";
    /// Figures for the action plan: counts, the kecamatan map, the trend (GET `?from=&to=`).
    /// Certified supervisors.
    pub const FIGURES: &str = "/figures";
    /// The suppressed export of the figures as CSV or PDF (POST). Certified supervisors.
    pub const FIGURES_EXPORT: &str = "/figures/export";
    /// API: the figures (GET). Certified supervisors.
    pub const API_FIGURES: &str = "/api/v1/figures";
    /// All of them.
    pub const ALL: [&str; 38] = [
        LOGIN,
        LOGOUT,
        ENROL,
        HOME,
        PASSWORD,
        ACCOUNTS,
        ACCOUNT_RESET,
        ACCOUNT_DISABLE,
        ME,
        STYLE,
        AUDIT,
        INBOX,
        REPORT,
        REPORT_ATTACHMENT,
        REPORT_THUMB,
        REPORT_SHARE,
        REPORT_UNSHARE,
        REPORT_MESSAGE,
        REPORT_NOTE,
        REPORT_STATUS,
        REPORT_PRIORITY,
        REPORT_BULK,
        REPORT_LABELS,
        API_LABELS,
        API_SESSION,
        API_REPORTS,
        API_REPORT,
        API_STATUS,
        API_PRIORITY,
        API_MESSAGES,
        API_NOTES,
        API_SHARE,
        API_UNSHARE,
        API_BULK,
        API_DOC,
        FIGURES,
        FIGURES_EXPORT,
        API_FIGURES,
    ];
}

/// Registers the desk routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::web::error::{method_not_allowed, not_found};
    cfg.service(
        web::resource(paths::LOGIN)
            .route(web::get().to(pages::login_form))
            .route(web::post().to(pages::login_submit))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource(paths::LOGOUT)
            .route(web::post().to(pages::logout))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::ENROL)
            .route(web::get().to(pages::enrol_form))
            .route(web::post().to(pages::enrol_submit))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource(paths::HOME)
            .route(web::get().to(pages::home))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::PASSWORD)
            .route(web::get().to(pages::password_form))
            .route(web::post().to(pages::password_submit))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource(paths::ACCOUNTS)
            .route(web::get().to(pages::accounts))
            .route(web::post().to(pages::account_add))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource(paths::ACCOUNT_RESET)
            .route(web::post().to(pages::account_reset))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::ACCOUNT_DISABLE)
            .route(web::post().to(pages::account_disable))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::ME)
            .route(web::get().to(pages::me))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::STYLE)
            .route(web::get().to(pages::style))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::AUDIT)
            .route(web::get().to(pages::audit_log))
            .default_service(method_not_allowed("GET")),
    );
    cfg.service(
        web::resource(paths::INBOX)
            .route(web::get().to(triage_pages::inbox))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::REPORT)
            .route(web::get().to(report_pages::report))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::REPORT_ATTACHMENT)
            .route(web::get().to(attachments::download))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::REPORT_THUMB)
            .route(web::get().to(attachments::thumbnail))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::REPORT_SHARE)
            .route(web::post().to(report_pages::share))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REPORT_UNSHARE)
            .route(web::post().to(report_pages::unshare))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REPORT_MESSAGE)
            .route(web::post().to(report_pages::message))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REPORT_NOTE)
            .route(web::post().to(report_pages::note))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REPORT_STATUS)
            .route(web::post().to(triage_pages::status))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REPORT_PRIORITY)
            .route(web::post().to(triage_pages::priority))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REPORT_BULK)
            .route(web::post().to(triage_pages::bulk))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REPORT_LABELS)
            .route(web::post().to(triage_pages::labels))
            .default_service(method_not_allowed("POST")),
    );
    // The bulk path before `{id}`, which would otherwise take "bulk" for an id.
    cfg.service(
        web::resource(paths::API_SESSION)
            .route(web::post().to(api::login))
            .route(web::delete().to(api::logout))
            .default_service(method_not_allowed("POST, DELETE")),
    )
    .service(
        web::resource(paths::API_DOC)
            .route(web::get().to(api::openapi_json))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::API_BULK)
            .route(web::post().to(api::bulk))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_REPORTS)
            .route(web::get().to(api::list))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::API_REPORT)
            .route(web::get().to(api::detail))
            .default_service(method_not_allowed("GET")),
    );
    cfg.service(
        web::resource(paths::API_STATUS)
            .route(web::post().to(api::set_status))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_PRIORITY)
            .route(web::post().to(api::set_priority))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_MESSAGES)
            .route(web::post().to(api::message))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_NOTES)
            .route(web::post().to(api::note))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_SHARE)
            .route(web::post().to(api::share))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_UNSHARE)
            .route(web::post().to(api::unshare))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_LABELS)
            .route(web::post().to(api::set_labels))
            .default_service(method_not_allowed("POST")),
    );
    cfg.service(
        web::resource(paths::FIGURES)
            .route(web::get().to(figures_pages::page))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::FIGURES_EXPORT)
            .route(web::post().to(figures_pages::export))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::API_FIGURES)
            .route(web::get().to(figures_pages::api))
            .default_service(method_not_allowed("GET")),
    );
    cfg.default_service(web::to(not_found));
}

/// Binds the desk listener and returns the running server.
pub fn start(state: Arc<DeskState>) -> anyhow::Result<actix_server::Server> {
    let cfg = state.cfg.clone();
    let data = web::Data::from(state);
    let (server, addr) = crate::web::server::build(
        crate::web::server::Listener {
            name: "desk",
            config_key: "desk_listen",
            addr: &cfg.desk_listen,
            headers: SecurityHeaders::new(CSP, None),
            workers: 2,
            max_connections: 256,
            request_timeout: Duration::from_secs(cfg.limits.request_timeout_secs),
        },
        move |c: &mut web::ServiceConfig| {
            c.app_data(data.clone())
                .app_data(web::FormConfig::default().limit(16 * 1024));
            routes(c);
        },
    )?;
    tracing::info!("desk listening on http://{addr}");
    Ok(server)
}
