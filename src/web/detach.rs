//! Copies a request's head out of the connection's read buffer, so that buffer (which also holds
//! the body: codes, tip text) is freed, and zeroed, when the connection closes (I3).
//!
//! actix parses the URI and header values as slices of the 8 KiB read buffer, and it keeps the
//! head of the last requests in a per-thread pool for reuse without clearing it. A pooled head
//! therefore kept the whole buffer alive, with the last request's body in it, for as long as the
//! worker was idle: the memory scan in `tests/integration/memory.rs` found codes and messages
//! there minutes later. With owned copies the pool holds only the copies, which carry no
//! secret.

use actix_web::dev::ServiceRequest;
use actix_web::http::Uri;
use actix_web::http::header::{HeaderMap, HeaderValue};

/// Replaces the URI and every header value with owned copies.
pub fn detach_head(req: &mut ServiceRequest) {
    let head = req.head_mut();
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    for (name, value) in head.headers.iter() {
        if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
            headers.append(name.clone(), v);
        }
    }
    head.headers = headers;
    if let Ok(uri) = head.uri.to_string().parse::<Uri>() {
        head.uri = uri;
    }
}
