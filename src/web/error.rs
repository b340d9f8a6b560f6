//! One error type for the JSON APIs: `{"error":{"code":"...","message":"..."}}`, the message in
//! Bahasa Indonesia by default or English with `?lang=en` (or `en-US`, any `en-*`). What a client sees (user text) is kept
//! apart from what the operator's log sees; internal errors are logged and never rendered.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

pub use super::i18n::Lang;

/// An API error: status, stable code, message in both languages, optional detail.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Message in Bahasa Indonesia.
    pub id: &'static str,
    /// Message in English.
    pub en: &'static str,
    /// Extra detail appended to the message (e.g. which field).
    pub detail: Option<String>,
    /// Seconds for a Retry-After header.
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
/// Error body.
pub struct ErrorBody {
    /// The error.
    pub error: ErrorInner,
}

#[derive(Serialize, utoipa::ToSchema)]
/// Error details.
pub struct ErrorInner {
    /// Stable code, e.g. `invalid_code`.
    pub code: String,
    /// Human message in the requested language.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub const fn new(
        status: StatusCode,
        code: &'static str,
        id: &'static str,
        en: &'static str,
    ) -> Self {
        ApiError {
            status,
            code,
            id,
            en,
            detail: None,
            retry_after: None,
        }
    }

    /// Adds detail shown after the message.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a Retry-After.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// An internal failure. The cause goes to the operator's log (without client data); the
    /// client sees only that something went wrong.
    pub fn internal(log: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {log}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Terjadi kesalahan di server. Silakan coba lagi beberapa saat lagi.",
            "Something went wrong on the server. Please try again in a little while.",
        )
    }

    /// Renders the JSON response in `lang`.
    pub fn render(&self, lang: Lang) -> HttpResponse {
        let base = match lang {
            Lang::Id => self.id,
            Lang::En => self.en,
        };
        let message = match &self.detail {
            Some(d) => format!("{base} ({d})"),
            None => base.to_owned(),
        };
        let mut b = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            b.insert_header(("Retry-After", s.to_string()));
        }
        b.json(ErrorBody {
            error: ErrorInner {
                code: self.code.to_owned(),
                message,
            },
        })
    }
}

/// 404 for paths that do not exist.
pub const NOT_FOUND_PATH: ApiError = ApiError::new(
    StatusCode::NOT_FOUND,
    "not_found",
    "Alamat ini tidak ada.",
    "There is nothing at this address.",
);

/// 405 for a method the path does not take.
pub const METHOD_NOT_ALLOWED: ApiError = ApiError::new(
    StatusCode::METHOD_NOT_ALLOWED,
    "method_not_allowed",
    "Metode HTTP ini tidak didukung di alamat ini.",
    "This HTTP method is not supported at this address.",
);

/// Renders a fallback 404 (unknown route).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    NOT_FOUND_PATH.render(Lang::from_request(&req))
}

/// The fallback for a method a resource does not take: 405 with the `Allow` header that
/// RFC 9110 (section 15.5.6) requires, naming the methods the resource does take (`allow`, e.g.
/// `"POST"`), so a client learns what would work.
pub fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move |req: HttpRequest| async move {
        let mut res = METHOD_NOT_ALLOWED.render(Lang::from_request(&req));
        res.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        res
    })
}
