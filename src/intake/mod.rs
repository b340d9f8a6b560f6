//! The public intake: what a reporter's phone talks to. It can *seal* (to the escrow key and
//! the certified recipients) and it can open a report only with the K_r that the reporter's own
//! code unwraps, for the length of one request (I3). It never imports `desk` or `vault`.
//!
//! It records no network identity (I2): there is no access log, request headers are read only
//! to refuse cross-site POSTs and are never logged, third-party crates are capped at `warn` so
//! none can log a request head, and no response sets a cookie.

pub mod api;
pub mod chain;
pub mod disk;
pub mod flows;
pub mod kdf_pool;
pub mod pages;
pub mod recipients;
pub mod reports;
pub mod upload;

use crate::config::Config;
use crate::keyfiles::{IntakeSecrets, PublicKeys};
use crate::store::Store;
use crate::web::error::method_not_allowed;
use crate::web::headers::SecurityHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use kdf_pool::{KdfPool, PoolSettings};
use std::sync::Arc;
use std::time::Duration;

/// Everything a handler needs, passed in app data; there is no global state.
pub struct IntakeState {
    /// Validated config.
    pub cfg: Arc<Config>,
    /// Reports store.
    pub store: Store,
    /// Group-committing writer for new reports.
    pub committer: crate::store::Committer,
    /// Argon2 pool and stock.
    pub kdf: Arc<KdfPool>,
    /// Pinned escrow key.
    pub keys: PublicKeys,
    /// Signing key (headers).
    pub secrets: IntakeSecrets,
    /// Certified recipients.
    pub recipients: recipients::Recipients,
    /// Free-disk watermarks.
    pub disk: disk::DiskWatch,
    /// The pages' follow-up sessions and resubmission map (memory only).
    pub pages: Arc<pages::PageState>,
    /// Where sealed attachments go (issue 9).
    pub blobs: crate::blob::BlobStore,
    /// The hourly byte budget for attachments, shared by every upload in this process.
    pub upload_budget: upload::Budget,
    /// Sanitizer children at once: one per core.
    pub sanitizers: tokio::sync::Semaphore,
}

impl IntakeState {
    /// Builds the state from loaded keys. Starts the stock refill.
    pub fn new(
        cfg: Arc<Config>,
        store: Store,
        blobs: crate::blob::BlobStore,
        keys: PublicKeys,
        secrets: IntakeSecrets,
    ) -> Arc<Self> {
        let kdf = KdfPool::new(
            secrets.pepper.clone(),
            PoolSettings {
                pool_size: cfg.kdf.pool_size,
                stock_size: cfg.kdf.stock_size,
                followup_queue: cfg.kdf.followup_queue,
                followup_wait: Duration::from_secs(cfg.kdf.followup_wait_secs),
                alarm_per_minute: cfg.kdf.alarm_failures_per_minute,
                stock_max_age: Duration::from_secs(cfg.kdf.stock_max_age_secs),
            },
        );
        kdf.spawn_refill();
        let recipients =
            recipients::Recipients::new(cfg.keys_dir.clone(), keys.org, keys.escrow.clone());
        let disk = disk::DiskWatch::new(
            cfg.disk
                .path
                .clone()
                .unwrap_or_else(|| cfg.data_dir.clone()),
            cfg.disk.messages_min_free_mib,
            cfg.disk.submissions_min_free_mib,
        );
        let pages = pages::PageState::start(
            Duration::from_secs(cfg.reporter.session_idle_secs),
            Duration::from_secs(cfg.reporter.session_absolute_secs),
            Duration::from_secs(cfg.reporter.resubmit_secs),
        );
        Arc::new(IntakeState {
            pages,
            blobs,
            upload_budget: upload::Budget::new(),
            sanitizers: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            disk,
            cfg,
            committer: crate::store::Committer::spawn(store.clone()),
            store,
            kdf,
            keys,
            secrets,
            recipients,
        })
    }
}

/// The intake's CSP: JSON and plain HTML pages with one same-origin stylesheet and no script.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every path the intake serves. The router and the route test both use this list, and a unit
/// test holds it equal to the OpenAPI document, so no undocumented route (say, one with a code
/// in its path) can appear unnoticed (I10).
pub mod paths {
    /// Submit a tip.
    pub const REPORTS: &str = "/api/v1/reports";
    /// Follow up.
    pub const FOLLOWUP: &str = "/api/v1/followup";
    /// Reporter messages.
    pub const MESSAGES: &str = "/api/v1/followup/messages";
    /// Remove access (revoke the code).
    pub const REVOKE: &str = "/api/v1/followup/revoke";
    /// Form choices.
    pub const META: &str = "/api/v1/meta";
    /// The API document.
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    /// All of them.
    pub const ALL: [&str; 6] = [REPORTS, FOLLOWUP, MESSAGES, REVOKE, META, OPENAPI];
}

/// Registers the intake routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(paths::REPORTS)
            .route(web::post().to(api::submit))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::FOLLOWUP)
            .route(web::post().to(api::followup))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::MESSAGES)
            .route(web::post().to(api::post_message))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::REVOKE)
            .route(web::post().to(api::revoke))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(paths::META)
            .route(web::get().to(api::meta))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::OPENAPI)
            .route(web::get().to(api::openapi_json))
            .default_service(method_not_allowed("GET")),
    )
    .configure(pages::routes)
    .default_service(web::to(pages::not_found));
}

/// Runs the intake HTTP server until it is told to stop.
pub async fn run(state: Arc<IntakeState>) -> anyhow::Result<()> {
    let server = start(state)?;
    server.await?;
    Ok(())
}

/// Binds the intake (and the metrics listener when configured) and returns the running
/// server, so that `bisik serve` can run the desk beside it.
pub fn start(state: Arc<IntakeState>) -> anyhow::Result<actix_server::Server> {
    upload::prepare_spool(&state.cfg).map_err(|e| {
        anyhow::anyhow!(
            "cannot prepare the upload spool {}: {e}",
            upload::spool_dir(&state.cfg).display()
        )
    })?;
    let cfg = state.cfg.clone();
    let data = web::Data::from(state.clone());
    let (server, addr) = crate::web::server::build(
        crate::web::server::Listener {
            name: "intake",
            config_key: "intake_listen",
            addr: &cfg.intake_listen,
            headers: SecurityHeaders::new(CSP, cfg.reporter.onion_address.as_deref()),
            workers: cfg.kdf.pool_size.clamp(2, 8),
            max_connections: cfg.limits.max_connections,
            request_timeout: Duration::from_secs(cfg.limits.request_timeout_secs),
        },
        move |c: &mut web::ServiceConfig| {
            c.app_data(data.clone());
            routes(c);
        },
    )?;
    tracing::info!("intake listening on http://{addr}");
    if let Some(m) = &cfg.metrics_listen {
        let ms = metrics_server(state.clone(), m)?;
        tokio::spawn(ms);
    }
    Ok(server)
}

/// The metrics listener: loopback only (config refuses anything else) and behind a bearer
/// token from keys/ (`metrics.token`), so another local user or a request forged through a
/// proxy on this host cannot read it. Chosen over a Unix socket because Prometheus scrapes
/// only TCP, and reads the token with `authorization: { credentials_file: ... }`.
fn metrics_server(state: Arc<IntakeState>, addr: &str) -> anyhow::Result<actix_web::dev::Server> {
    let token = crate::keyfiles::metrics_token(&state.cfg.keys_dir)
        .map_err(|e| {
            anyhow::anyhow!(
                "metrics_listen needs a bearer token in {} and it could not be read or made ({e}); create it as root (deploy/config/intake.toml)",
                state.cfg.keys_dir.join(crate::keyfiles::names::METRICS_TOKEN).display()
            )
        })?;
    let expected = web::Data::new(MetricsToken(format!("Bearer {}", token.as_str())));
    let data = web::Data::from(state);
    let srv = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(expected.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .bind(addr)
    .map_err(|e| anyhow::anyhow!("cannot listen on metrics_listen {addr}: {e}"))?;
    for a in srv.addrs() {
        tracing::info!("metrics listening on http://{a}/metrics");
    }
    Ok(srv.run())
}

/// `Authorization` value the scraper must send.
struct MetricsToken(String);

impl Drop for MetricsToken {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Operational gauges in Prometheus text format. Only states an operator acts on, each coarse:
/// no counter of submissions, follow-ups or stock draws, since a counter scraped every 15 s
/// time-stamps each event (I1, issue 5 section 5).
async fn metrics(
    st: web::Data<IntakeState>,
    token: web::Data<MetricsToken>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    use subtle::ConstantTimeEq;
    let given = req
        .headers()
        .get("authorization")
        .map(|v| v.as_bytes())
        .unwrap_or(b"");
    if !bool::from(given.ct_eq(token.0.as_bytes())) {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer"))
            .finish();
    }
    let stock = st.kdf.stock_level();
    let stock_step = if stock == 0 {
        0
    } else if stock * 2 < st.cfg.kdf.stock_size {
        1
    } else {
        2
    };
    let disk_state = match st.disk.state() {
        disk::DiskState::Ok => 0,
        disk::DiskState::MessagesRefused => 1,
        disk::DiskState::SubmissionsRefused => 2,
    };
    let mut body = String::new();
    for (name, help, value) in [
        (
            "bisik_followup_alarm",
            "1 while the follow-up guessing alarm is raised.",
            u64::from(st.kdf.alarmed()),
        ),
        (
            "bisik_followup_shedding",
            "1 if any follow-up was refused with 503 in the last minute.",
            u64::from(st.kdf.metrics.shedding()),
        ),
        (
            "bisik_stock_step",
            "Precomputed codes in stock, coarse: 0 empty, 1 under half, 2 half or more.",
            stock_step,
        ),
        (
            "bisik_disk_state",
            "0 ok, 1 below the message watermark (messages refused), 2 below the submission floor.",
            disk_state,
        ),
    ]
    .into_iter()
    .chain(st.disk.free_percent().map(|p| {
        (
            "bisik_disk_free_percent",
            "Free space on the watched file system, whole percent.",
            p,
        )
    })) {
        body.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::api;
    use utoipa::OpenApi;

    #[test]
    fn routes_and_openapi_document_name_the_same_paths() {
        let doc = api::ApiDoc::openapi();
        let mut documented: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        documented.sort();
        let mut served = super::paths::ALL.to_vec();
        served.sort();
        assert_eq!(documented, served);
    }
}
