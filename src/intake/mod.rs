//! The public intake: what a reporter's phone talks to. It can *seal* (to the escrow key and
//! the certified recipients) and it can open a report only with the K_r that the reporter's own
//! code unwraps, for the length of one request (I3). It never imports `desk` or `vault`.
//!
//! It records no network identity (I2): there is no access log, request headers are read only
//! to refuse cross-site POSTs and are never logged, third-party crates are capped at `warn` so
//! none can log a request head, and no response sets a cookie.

pub mod api;
pub mod kdf_pool;
pub mod recipients;
pub mod reports;

use crate::config::Config;
use crate::keyfiles::{IntakeSecrets, PublicKeys};
use crate::store::Store;
use crate::web::error::{method_not_allowed, not_found};
use crate::web::headers::{SecurityHeaders, path_of};
use actix_web::dev::Service;
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
}

impl IntakeState {
    /// Builds the state from loaded keys. Starts the stock refill.
    pub fn new(
        cfg: Arc<Config>,
        store: Store,
        keys: PublicKeys,
        secrets: IntakeSecrets,
    ) -> Arc<Self> {
        let kdf = KdfPool::new(
            secrets.pepper.clone(),
            PoolSettings {
                pool_size: cfg.kdf.pool_size,
                stock_size: cfg.kdf.stock_size,
                followup_queue: cfg.kdf.followup_queue,
                alarm_per_minute: cfg.kdf.alarm_failures_per_minute,
                stock_max_age: Duration::from_secs(cfg.kdf.stock_max_age_secs),
            },
        );
        kdf.spawn_refill();
        let recipients =
            recipients::Recipients::new(cfg.keys_dir.clone(), keys.org, keys.escrow.clone());
        Arc::new(IntakeState {
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

/// The intake's CSP: it serves JSON now and, later, plain HTML with a stylesheet and no script.
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
    /// Form choices.
    pub const META: &str = "/api/v1/meta";
    /// The API document.
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    /// All of them.
    pub const ALL: [&str; 5] = [REPORTS, FOLLOWUP, MESSAGES, META, OPENAPI];
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
        web::resource(paths::META)
            .route(web::get().to(api::meta))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(paths::OPENAPI)
            .route(web::get().to(api::openapi_json))
            .default_service(method_not_allowed("GET")),
    )
    .default_service(web::to(not_found));
}

/// Runs the intake HTTP server until it is told to stop.
pub async fn run(state: Arc<IntakeState>) -> anyhow::Result<()> {
    let cfg = state.cfg.clone();
    let headers = SecurityHeaders::new(CSP, cfg.reporter.onion_address.as_deref());
    let data = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        let headers = headers.clone();
        App::new()
            .app_data(data.clone())
            .wrap_fn(move |req, srv| {
                let path = path_of(&req);
                let headers = headers.clone();
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    headers.apply(&path, &mut res);
                    Ok(res)
                }
            })
            .configure(routes)
    })
    .workers(cfg.kdf.pool_size.clamp(2, 8))
    .max_connections(cfg.limits.max_connections)
    .client_request_timeout(Duration::from_secs(cfg.limits.request_timeout_secs))
    .client_disconnect_timeout(Duration::from_secs(2))
    .keep_alive(Duration::from_secs(15))
    .bind(&cfg.intake_listen)
    .map_err(|e| anyhow::anyhow!("cannot listen on intake_listen {}: {e}", cfg.intake_listen))?;
    for a in server.addrs() {
        tracing::info!("intake listening on http://{a}");
    }
    let server = server.run();
    if let Some(m) = &cfg.metrics_listen {
        let ms = metrics_server(state.clone(), m)?;
        tokio::spawn(ms);
    }
    server.await?;
    Ok(())
}

fn metrics_server(state: Arc<IntakeState>, addr: &str) -> anyhow::Result<actix_web::dev::Server> {
    let data = web::Data::from(state);
    let srv = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
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

/// Operational counters in Prometheus text format. Counts only; nothing per request.
async fn metrics(st: web::Data<IntakeState>) -> HttpResponse {
    use std::sync::atomic::Ordering::Relaxed;
    let m = &st.kdf.metrics;
    let body = format!(
        "bisik_submissions_total {}\nbisik_stock_hits_total {}\nbisik_stock_misses_total {}\nbisik_stock_level {}\n\
         bisik_followups_ok_total {}\nbisik_followups_failed_total {}\nbisik_followups_shed_total {}\n\
         bisik_followup_alarms_total {}\nbisik_followup_alarm {}\n",
        m.submissions.load(Relaxed),
        m.stock_hits.load(Relaxed),
        m.stock_misses.load(Relaxed),
        st.kdf.stock_level(),
        m.followups_ok.load(Relaxed),
        m.followups_failed.load(Relaxed),
        m.followups_shed.load(Relaxed),
        m.alarms.load(Relaxed),
        u8::from(st.kdf.alarmed()),
    );
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
