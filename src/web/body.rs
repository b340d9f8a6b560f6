//! Reading a JSON request body with a size limit, a time limit, a Content-Type check, UTF-8
//! validation and typed decoding, each failure mapped to its own clear 4xx.

use super::ApiError;
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::web::{BytesMut, Payload};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::time::Duration;

const TOO_LARGE: ApiError = ApiError::new(
    StatusCode::PAYLOAD_TOO_LARGE,
    "body_too_large",
    "Isi permintaan terlalu besar.",
    "The request body is too large.",
);
const SLOW: ApiError = ApiError::new(
    StatusCode::REQUEST_TIMEOUT,
    "request_timeout",
    "Permintaan terlalu lama dikirim. Periksa koneksi Anda dan coba lagi.",
    "The request took too long to arrive. Check your connection and try again.",
);
const MEDIA: ApiError = ApiError::new(
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    "unsupported_media_type",
    "Kirim data sebagai JSON (Content-Type: application/json).",
    "Send the data as JSON (Content-Type: application/json).",
);
const UTF8: ApiError = ApiError::new(
    StatusCode::BAD_REQUEST,
    "invalid_utf8",
    "Isi permintaan bukan teks UTF-8 yang sah.",
    "The request body is not valid UTF-8 text.",
);
const SYNTAX: ApiError = ApiError::new(
    StatusCode::BAD_REQUEST,
    "malformed_json",
    "Isi permintaan bukan JSON yang sah.",
    "The request body is not valid JSON.",
);
const SHAPE: ApiError = ApiError::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "invalid_field",
    "Ada kolom yang tidak dikenal, hilang, atau jenisnya salah.",
    "A field is unknown, missing, or of the wrong type.",
);
const BROKEN: ApiError = ApiError::new(
    StatusCode::BAD_REQUEST,
    "incomplete_body",
    "Isi permintaan terputus.",
    "The request body was cut off.",
);

/// Whether the request's Content-Type is `essence` (parameters such as charset ignored).
pub fn content_type_is(req: &HttpRequest, essence: &str) -> bool {
    req.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let given = v.split(';').next().unwrap_or("").trim();
            given.eq_ignore_ascii_case(essence)
        })
        .unwrap_or(false)
}

/// Reads and decodes a JSON body of at most `limit` bytes within `timeout`.
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
    timeout: Duration,
) -> Result<T, ApiError> {
    if !content_type_is(req, "application/json") {
        return Err(MEDIA);
    }
    let buf = read_limited(req, payload, limit, timeout).await?;
    decode_json(&buf)
}

/// Reads a whole body of at most `limit` bytes within `timeout` (a declared Content-Length over
/// the limit is refused before reading). Shared by JSON and form bodies.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
    timeout: Duration,
) -> Result<BytesMut, ApiError> {
    if let Some(len) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(TOO_LARGE);
    }
    let read = async {
        let mut buf = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| BROKEN)?;
            if buf.len() + chunk.len() > limit {
                return Err(TOO_LARGE);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| SLOW)?
}

/// Decodes a complete body: UTF-8, then JSON into `T`, which must be a JSON object. The part of
/// [`read_json`] that needs no request, so the fuzz target `requests` runs the same decoder.
pub fn decode_json<T: DeserializeOwned>(buf: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(buf).map_err(|_| UTF8)?;
    let value = serde_json::from_str(text).map_err(|e| match e.classify() {
        // Only the position is echoed, never serde's text: it quotes the client's own input
        // (field names, values), which must never come back as markup or reach a page (I8).
        serde_json::error::Category::Data => {
            SHAPE.with_detail(format!("line {}, column {}", e.line(), e.column()))
        }
        _ => SYNTAX,
    })?;
    // serde also fills a struct from a JSON array of its fields in order (`["1234 ..."]`); the
    // API takes objects only, as its document says (found by the fuzz target `requests`).
    if !text.trim_start().starts_with('{') {
        return Err(SHAPE.with_detail("line 1, column 1"));
    }
    Ok(value)
}

/// True when the request says it comes from another site. Before any session exists, such a
/// POST is refused (DESIGN.md, Forms). The headers are read here and never logged.
///
/// `Sec-Fetch-Site` decides when present: only `same-origin` and `none` (typed by the user) pass.
/// `Origin` decides otherwise, except that `Origin: null` is not evidence of anything: browsers
/// send it on same-origin form POSTs whenever the page's policy is `no-referrer`, which ours is.
pub fn is_cross_site(req: &HttpRequest) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    match h.get("origin").map(|o| o.to_str().unwrap_or("")) {
        None | Some("null") => false,
        Some(origin) => {
            let host = h.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
            let origin_host = origin.split("://").nth(1).unwrap_or("");
            !origin_host.eq_ignore_ascii_case(host)
        }
    }
}
