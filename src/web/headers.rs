//! Security headers set on every response (DESIGN.md, Web): a strict CSP, no framing, no
//! referrer, no sniffing, no caching, no Server header, and Onion-Location when configured.
//! Nothing here compresses: pages with secrets must not be compressed (BREACH).

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};

/// The headers, precomputed once.
#[derive(Clone)]
pub struct SecurityHeaders {
    fixed: Vec<(HeaderName, HeaderValue)>,
    onion: Option<String>,
}

impl SecurityHeaders {
    /// Builds the header set; `onion` adds `Onion-Location` pointing at the same path.
    pub fn new(csp: &str, onion: Option<&str>) -> Self {
        let fixed = vec![
            ("content-security-policy", csp.to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            ("x-frame-options", "DENY".to_owned()),
            ("cross-origin-opener-policy", "same-origin".to_owned()),
            ("cross-origin-resource-policy", "same-origin".to_owned()),
            (
                "permissions-policy",
                "camera=(), microphone=(), geolocation=(), interest-cohort=()".to_owned(),
            ),
            ("cache-control", "no-store, max-age=0".to_owned()),
            ("pragma", "no-cache".to_owned()),
        ];
        SecurityHeaders {
            onion: onion.map(str::to_owned),
            fixed: fixed
                .into_iter()
                .map(|(k, v)| {
                    (
                        HeaderName::from_static(k),
                        HeaderValue::from_str(&v).expect("header values are validated config"),
                    )
                })
                .collect(),
        }
    }

    /// The fixed headers as `name: value\r\n` lines, for responses that actix-http writes
    /// itself ([`crate::web::raw_io`]).
    pub fn raw_block(&self) -> std::sync::Arc<[u8]> {
        let mut b = Vec::new();
        for (k, v) in &self.fixed {
            b.extend_from_slice(k.as_str().as_bytes());
            b.extend_from_slice(b": ");
            b.extend_from_slice(v.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        b.into()
    }

    /// Applies the headers to a response. `Onion-Location` carries the request path.
    pub fn apply<B>(&self, req_path: &str, res: &mut ServiceResponse<B>) {
        let h = res.headers_mut();
        for (k, v) in &self.fixed {
            h.insert(k.clone(), v.clone());
        }
        if let Some(onion) = &self.onion
            && let Ok(v) = HeaderValue::from_str(&format!("http://{onion}{req_path}"))
        {
            h.insert(HeaderName::from_static("onion-location"), v);
        }
        h.remove("server");
        h.remove("etag");
        h.remove("last-modified");
    }
}

/// The request path for Onion-Location (path only; the query never leaves the request).
pub fn path_of(req: &ServiceRequest) -> String {
    req.path().to_owned()
}
