//! One way to build an HTTP listener, for the intake and the desk alike.
//!
//! Built from actix-http and actix-server rather than `HttpServer`, so the socket can be
//! wrapped: responses that actix-http writes itself (400 on a broken request, 408 on a slow
//! head) get the security headers too ([`crate::web::raw_io`]). No peer address is handed on
//! to the application (I2), and nothing here logs a request.

use crate::web::headers::{SecurityHeaders, path_of};
use actix_web::dev::Service;
use actix_web::{App, web};
use std::net::SocketAddr;
use std::time::Duration;

/// What differs between the listeners.
pub struct Listener<'a> {
    /// Name for messages (`intake`, `desk`) and for actix-server.
    pub name: &'static str,
    /// Config key of the address, for the error message.
    pub config_key: &'static str,
    /// Address to bind.
    pub addr: &'a str,
    /// Security headers (CSP differs: the desk serves forms).
    pub headers: SecurityHeaders,
    /// Worker threads.
    pub workers: usize,
    /// Concurrent connections per worker.
    pub max_connections: usize,
    /// Seconds a client may take to send its request.
    pub request_timeout: Duration,
}

/// Binds `l.addr` and builds (without starting) a server whose app is configured by
/// `configure` (app data and routes). Returns the server and the bound address; the caller
/// logs "NAME listening on http://ADDR" and awaits it.
pub fn build<F>(l: Listener<'_>, configure: F) -> anyhow::Result<(actix_server::Server, SocketAddr)>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let listener = std::net::TcpListener::bind(l.addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {} {}: {e}", l.config_key, l.addr))?;
    let addr = listener.local_addr()?;
    let headers = l.headers;
    let block = headers.raw_block();
    let request_timeout = l.request_timeout;
    let server = actix_server::Server::build()
        .workers(l.workers)
        .max_concurrent_connections(l.max_connections)
        .listen(l.name, listener, move || {
            let headers = headers.clone();
            let block = block.clone();
            let app = App::new()
                .wrap_fn(move |mut req, srv| {
                    crate::web::detach::detach_head(&mut req);
                    let path = path_of(&req);
                    let headers = headers.clone();
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        headers.apply(&path, &mut res);
                        Ok(res)
                    }
                })
                .configure(configure.clone());
            let http = actix_http::HttpService::build()
                .keep_alive(Duration::from_secs(15))
                .client_request_timeout(request_timeout)
                .client_disconnect_timeout(Duration::from_secs(2))
                .local_addr(addr)
                .finish(actix_service::map_config(app, |_| {
                    actix_web::dev::AppConfig::default()
                }));
            use actix_service::ServiceFactoryExt;
            actix_service::fn_service(move |io: actix_rt::net::TcpStream| {
                let io = crate::web::raw_io::HeaderedIo::new(io, block.clone());
                async move { Ok((io, actix_http::Protocol::Http1, None)) }
            })
            .and_then(http)
        })?;
    Ok((server.run(), addr))
}
