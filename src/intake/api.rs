//! The public JSON API under /api/v1. Every handler answers errors as
//! `{"error":{"code","message"}}` in Bahasa Indonesia, or English with `?lang=en`. A follow-up
//! code travels only in a POST body, never in a URL (I10), and every response is `no-store`.

use super::IntakeState;
use super::flows::{self, CROSS_SITE, TipInput, field_error, open_code};
use super::reports::{self, ReporterMessage, TipPlain};
use super::upload;
use crate::config::Choice;
use crate::crypto::primitives::wipe_stack;
use crate::domain::ReporterStatus;
use crate::web::ApiError;
use crate::web::body::{content_type_is, decode_json, is_cross_site, read_json};
use crate::web::error::{ErrorBody, Lang};
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

const NO_REPORT_PART: ApiError = ApiError::new(
    actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
    "invalid_field",
    "Bagian `report` (JSON laporan) tidak ada.",
    "The `report` part (the report's JSON) is missing.",
);

const NO_MESSAGE_PART: ApiError = ApiError::new(
    actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
    "invalid_field",
    "Bagian `message` (JSON pesan) tidak ada.",
    "The `message` part (the message's JSON) is missing.",
);

// The OpenAPI patterns below say what `text` and `FollowupCode::parse` accept, as ECMA-262:
// - optional text: no control character other than tab, line feed and carriage return;
// - required text: also not blank once trimmed (leading white space as `str::trim` sees it, less
//   the control characters already refused, then one character that is neither, then any text);
// - code: the version digit `1`, then 19 more digits, the separators `parse` ignores anywhere.
// JSON Schema cannot say "no follow-up code inside" or check a Damm digit; docs/FUZZING.md
// (schemathesis) names those two exceptions. `doc_tests` holds each pattern to the code.
/// A new tip. Only `description` is required. Beyond what the schema says, a text that holds a
/// follow-up code (20 digits passing the check digit) is refused with 422 `contains_code`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Category id from /api/v1/meta; `lainnya` (other) when omitted.
    #[schema(nullable, value_type = Option<String>)]
    pub category: Option<Zeroizing<String>>,
    /// Area id from /api/v1/meta. Sealed with the tip, never stored in plaintext.
    #[schema(nullable, value_type = Option<String>)]
    pub area: Option<Zeroizing<String>>,
    /// What is happening (required, at most 10000 characters).
    #[schema(required = true, value_type = String, max_length = 10000, pattern = r"^[\t\n\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x20\x7F-\x9F\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    pub description: Option<Zeroizing<String>>,
    /// Where (at most 500 characters).
    #[schema(
        nullable,
        value_type = Option<String>,
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub location: Option<Zeroizing<String>>,
    /// When (at most 200 characters).
    #[schema(
        nullable,
        value_type = Option<String>,
        max_length = 200,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub when: Option<Zeroizing<String>>,
    /// Who is involved (at most 2000 characters).
    #[schema(
        nullable,
        value_type = Option<String>,
        max_length = 2000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub people: Option<Zeroizing<String>>,
    /// Vehicles (at most 1000 characters).
    #[schema(
        nullable,
        value_type = Option<String>,
        max_length = 1000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub vehicles: Option<Zeroizing<String>>,
}

/// The follow-up code, shown once.
#[derive(Serialize, ToSchema)]
pub struct SubmitResponse {
    /// Twenty digits in five groups of four.
    #[schema(value_type = String)]
    pub code: Zeroizing<String>,
}

/// A follow-up request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowupRequest {
    /// The follow-up code, with any grouping (at most 64 characters).
    #[schema(
        value_type = String,
        max_length = 64,
        pattern = r"^[ \-.\t\u00A0\u202F]*1([ \-.\t\u00A0\u202F]*[0-9]){19}[ \-.\t\u00A0\u202F]*$"
    )]
    pub code: Zeroizing<String>,
    /// Page of the conversation: 0 (the default) is the newest messages; each page holds
    /// `reporter.messages_per_page` messages (20 by default).
    #[schema(nullable, minimum = 0, maximum = 100000)]
    pub page: Option<u32>,
}

/// What the reporter may see.
#[derive(Serialize, ToSchema)]
pub struct FollowupResponse {
    /// One of received, needs_info, closed.
    pub status: ReporterStatus,
    /// One page of the conversation, newest first.
    pub messages: Vec<ReporterMessage>,
    /// How many messages are older than the last one on this page (ask for the next page to
    /// read them).
    pub older: i64,
}

/// A reporter's message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The follow-up code (at most 64 characters).
    #[schema(
        value_type = String,
        max_length = 64,
        pattern = r"^[ \-.\t\u00A0\u202F]*1([ \-.\t\u00A0\u202F]*[0-9]){19}[ \-.\t\u00A0\u202F]*$"
    )]
    pub code: Zeroizing<String>,
    /// The message (at most 5000 characters, not blank, no follow-up code).
    #[schema(
        value_type = String,
        max_length = 5000,
        pattern = r"^[\t\n\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x20\x7F-\x9F\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub body: Zeroizing<String>,
    /// Optional idempotency key, chosen by the client (16 to 64 letters, digits, `-` or `_`;
    /// a random UUID will do). A message resent with the same key, e.g. after a lost 201, is
    /// stored once and answered with the same 201. It is stored only as a keyed hash under the
    /// report's key, so it links nothing across reports.
    #[schema(
        nullable,
        min_length = 16,
        max_length = 64,
        pattern = "^[A-Za-z0-9_-]{16,64}$"
    )]
    pub idempotency_key: Option<String>,
}

/// Acknowledgement of a stored message.
#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    /// Always true.
    pub stored: bool,
    /// Day recorded, `YYYY-MM-DD`.
    pub day: String,
}

/// Choices for the form.
#[derive(Serialize, ToSchema)]
pub struct MetaResponse {
    /// Report categories.
    pub categories: Vec<Choice>,
    /// Areas (kecamatan).
    pub areas: Vec<Choice>,
    /// Languages offered.
    pub languages: Vec<&'static str>,
    /// The unit's name.
    pub unit: String,
}

fn validate_tip(st: &IntakeState, r: &SubmitRequest) -> Result<TipPlain, ApiError> {
    let input = TipInput {
        category: r.category.as_deref().map(String::as_str),
        area: r.area.as_deref().map(String::as_str),
        description: r.description.as_deref().map(String::as_str),
        location: r.location.as_deref().map(String::as_str),
        when: r.when.as_deref().map(String::as_str),
        people: r.people.as_deref().map(String::as_str),
        vehicles: r.vehicles.as_deref().map(String::as_str),
    };
    flows::validate_tip(&st.cfg, &input).map_err(|mut errs| errs.swap_remove(0).error)
}

/// A JSON response serialised into a zeroizing buffer: it carries a code or a reporter's text.
/// The copy handed to actix is freed (and so zeroed by the allocator) once it is sent.
fn secret_json(mut builder: actix_web::HttpResponseBuilder, body: &impl Serialize) -> HttpResponse {
    let buf = Zeroizing::new(serde_json::to_vec(body).expect("serialisable"));
    builder
        .content_type("application/json")
        .body(actix_web::web::Bytes::copy_from_slice(&buf))
}

fn limits(st: &IntakeState) -> (usize, Duration) {
    (
        st.cfg.limits.body_bytes,
        Duration::from_secs(st.cfg.limits.request_timeout_secs),
    )
}

/// Submit a tip.
///
/// With attachments, send `multipart/form-data` instead of JSON: this same JSON object in a
/// part named `report`, up to `attachments.max_files` files in parts `file1` .. `fileN` (20 MB
/// each by default; JPEG, PNG, WebP and plain text are cleaned of metadata), and, for a file of
/// a type that cannot be cleaned and that the service accepts, a part `consentN` = `1`. Files
/// add the codes `file_too_large` (413), `too_many_files`, `empty_file`, `bad_file_name`,
/// `file_type_not_allowed`, `metadata_consent_required`, `file_unreadable`, `image_too_large`
/// (422), `malformed_multipart` (400) and `attachments_busy`, `attachments_storage_full`,
/// `attachment_failed` (503).
#[utoipa::path(
    post, path = "/api/v1/reports", request_body = SubmitRequest,
    params(("lang" = Option<String>, Query, description = "`en` for English messages")),
    responses(
        (status = 201, description = "Stored durably; the code is shown once", body = SubmitResponse),
        (status = 400, description = "Malformed JSON or invalid UTF-8", body = ErrorBody),
        (status = 403, description = "Cross-site request", body = ErrorBody),
        (status = 408, description = "The body took too long to arrive", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON (Content-Type is not application/json)", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown, too long or invalid, a choice is unknown, or a text contains a follow-up code", body = ErrorBody),
        (status = 503, description = "Storage full (`storage_full`); retry after the Retry-After seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn submit(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let res = submit_inner(&st, &req, payload)
        .await
        .unwrap_or_else(|e| e.render(lang));
    wipe_stack();
    res
}

async fn submit_inner(
    st: &IntakeState,
    req: &HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    if is_cross_site(req) {
        return Err(CROSS_SITE);
    }
    let (limit, timeout) = limits(st);
    // With files (issue 9) the body is multipart: the JSON request in a part named `report`,
    // and the files in parts `file1` .. `fileN` (consent boxes `consent1` ..).
    let (body, files): (SubmitRequest, _) =
        if content_type_is(req, "multipart/form-data") && st.cfg.attachments.max_files > 0 {
            let up = upload::read_multipart(st, req, payload).await?;
            let json = up.form.get("report").ok_or(NO_REPORT_PART)?;
            let body = decode_json(json.as_bytes())?;
            upload::check(st, &up)?;
            (body, up.files)
        } else {
            (read_json(req, payload, limit, timeout).await?, Vec::new())
        };
    let tip = validate_tip(st, &body)?;
    drop(body);
    let code = flows::submit(st, tip, files).await?;
    Ok(secret_json(
        HttpResponse::Created(),
        &SubmitResponse { code },
    ))
}

/// Check a report's status and read the conversation.
#[utoipa::path(
    post, path = "/api/v1/followup", request_body = FollowupRequest,
    params(("lang" = Option<String>, Query, description = "`en` for English messages")),
    responses(
        (status = 200, description = "Status and one page of messages, newest first, with the count of older ones", body = FollowupResponse),
        (status = 400, description = "Malformed code (answered at once) or body", body = ErrorBody),
        (status = 403, description = "Cross-site request", body = ErrorBody),
        (status = 404, description = "Unknown, revoked or expired code (one identical answer)", body = ErrorBody),
        (status = 408, description = "The body took too long to arrive", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON (Content-Type is not application/json)", body = ErrorBody),
        (status = 422, description = "A field is unknown or of the wrong type, or page is above 100000", body = ErrorBody),
        (status = 503, description = "Busy; retry after the Retry-After seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn followup(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let res = followup_inner(&st, &req, payload)
        .await
        .unwrap_or_else(|e| e.render(lang));
    wipe_stack();
    res
}

async fn followup_inner(
    st: &IntakeState,
    req: &HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    if is_cross_site(req) {
        return Err(CROSS_SITE);
    }
    let (limit, timeout) = limits(st);
    let body: FollowupRequest = read_json(req, payload, limit, timeout).await?;
    let page = body.page.unwrap_or(0);
    if page > 100_000 {
        return Err(field_error(
            "invalid_page",
            "Nomor halaman tidak valid",
            "Invalid page number",
            "page, max 100000",
        ));
    }
    let opened = open_code(st, &body.code).await?;
    let view = reports::reporter_view(st, &opened, page)
        .await
        .map_err(ApiError::internal)?;
    Ok(secret_json(
        HttpResponse::Ok(),
        &FollowupResponse {
            status: view.status,
            messages: view.messages,
            older: view.older,
        },
    ))
}

/// Send a message to the investigators.
#[utoipa::path(
    post, path = "/api/v1/followup/messages", request_body = MessageRequest,
    params(("lang" = Option<String>, Query, description = "`en` for English messages")),
    responses(
        (status = 201, description = "Stored", body = MessageResponse),
        (status = 400, description = "Malformed code or body", body = ErrorBody),
        (status = 403, description = "Cross-site request", body = ErrorBody),
        (status = 404, description = "Unknown, revoked or expired code", body = ErrorBody),
        (status = 408, description = "The body took too long to arrive", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON (Content-Type is not application/json)", body = ErrorBody),
        (status = 422, description = "Empty, too long, contains a follow-up code, or a malformed idempotency key", body = ErrorBody),
        (status = 429, description = "The report's daily message quota (reporter.messages_per_day) is used up", body = ErrorBody),
        (status = 503, description = "Busy, or storage nearly full (`storage_full`); retry after the Retry-After seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn post_message(
    st: Data<IntakeState>,
    req: HttpRequest,
    payload: Payload,
) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let res = message_inner(&st, &req, payload)
        .await
        .unwrap_or_else(|e| e.render(lang));
    wipe_stack();
    res
}

async fn message_inner(
    st: &IntakeState,
    req: &HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    if is_cross_site(req) {
        return Err(CROSS_SITE);
    }
    let (limit, timeout) = limits(st);
    // With files, multipart: this JSON request in a part `message`, files in `file1` ..
    let (body, files): (MessageRequest, _) =
        if content_type_is(req, "multipart/form-data") && st.cfg.attachments.max_files > 0 {
            let up = upload::read_multipart(st, req, payload).await?;
            let json = up.form.get("message").ok_or(NO_MESSAGE_PART)?;
            let body = decode_json(json.as_bytes())?;
            upload::check(st, &up)?;
            (body, up.files)
        } else {
            (read_json(req, payload, limit, timeout).await?, Vec::new())
        };
    // Cheap checks first, so a bad message costs no Argon2.
    let text = flows::message_text(&body.body)?;
    if let Some(k) = &body.idempotency_key {
        flows::check_idempotency_key(k)?;
    }
    flows::check_code(&body.code)?;
    flows::messages_accepted(st)?;
    let opened = open_code(st, &body.code).await?;
    let day = flows::add_message(st, &opened, text, files, body.idempotency_key.as_deref()).await?;
    Ok(HttpResponse::Created().json(MessageResponse { stored: true, day }))
}

/// A request to remove access: the code stops working for good.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The follow-up code (at most 64 characters).
    #[schema(
        value_type = String,
        max_length = 64,
        pattern = r"^[ \-.\t\u00A0\u202F]*1([ \-.\t\u00A0\u202F]*[0-9]){19}[ \-.\t\u00A0\u202F]*$"
    )]
    pub code: Zeroizing<String>,
}

/// Acknowledgement of a removed access.
#[derive(Serialize, ToSchema)]
pub struct RevokeResponse {
    /// Always true.
    pub revoked: bool,
}

/// Remove access: the code is revoked for good and from then on gets the same 404 as an
/// unknown code. The report itself stays with the investigators.
#[utoipa::path(
    post, path = "/api/v1/followup/revoke", request_body = RevokeRequest,
    params(("lang" = Option<String>, Query, description = "`en` for English messages")),
    responses(
        (status = 200, description = "Revoked", body = RevokeResponse),
        (status = 400, description = "Malformed code or body", body = ErrorBody),
        (status = 403, description = "Cross-site request", body = ErrorBody),
        (status = 404, description = "Unknown, revoked or expired code", body = ErrorBody),
        (status = 408, description = "The body took too long to arrive", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON (Content-Type is not application/json)", body = ErrorBody),
        (status = 422, description = "A field is unknown or of the wrong type", body = ErrorBody),
        (status = 503, description = "Busy; retry after the Retry-After seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn revoke(st: Data<IntakeState>, req: HttpRequest, payload: Payload) -> HttpResponse {
    let lang = Lang::from_request(&req);
    let res = revoke_inner(&st, &req, payload)
        .await
        .unwrap_or_else(|e| e.render(lang));
    wipe_stack();
    res
}

async fn revoke_inner(
    st: &IntakeState,
    req: &HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    if is_cross_site(req) {
        return Err(CROSS_SITE);
    }
    let (limit, timeout) = limits(st);
    let body: RevokeRequest = read_json(req, payload, limit, timeout).await?;
    let opened = open_code(st, &body.code).await?;
    drop(body);
    flows::revoke(st, &opened).await?;
    Ok(HttpResponse::Ok().json(RevokeResponse { revoked: true }))
}

/// Categories and areas for the form, labelled in both languages.
#[utoipa::path(get, path = "/api/v1/meta", responses((status = 200, description = "Choices", body = MetaResponse)))]
pub async fn meta(st: Data<IntakeState>) -> HttpResponse {
    HttpResponse::Ok().json(MetaResponse {
        categories: st.cfg.categories.clone(),
        areas: st.cfg.areas.clone(),
        languages: vec!["id", "en"],
        unit: st.cfg.unit.name.clone(),
    })
}

/// The OpenAPI document, generated from these handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bisik intake API",
        description = "Anonymous tip line: submit a tip, follow it up with the code."
    ),
    paths(submit, followup, post_message, revoke, meta, openapi_json),
    components(schemas(
        SubmitRequest,
        SubmitResponse,
        FollowupRequest,
        FollowupResponse,
        MessageRequest,
        MessageResponse,
        RevokeRequest,
        RevokeResponse,
        MetaResponse,
        ErrorBody
    ))
)]
pub struct ApiDoc;

/// The document as served: [`ApiDoc`] with the configured category and area ids as the enums
/// of those fields (the empty string and null, which mean "not given", included), since the
/// choices come from the config file, not from the types.
pub fn document(cfg: &crate::config::Config) -> serde_json::Value {
    use serde_json::Value;
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    for (field, list) in [("category", &cfg.categories), ("area", &cfg.areas)] {
        let mut ids: Vec<Value> = list.iter().map(|c| Value::from(c.id.as_str())).collect();
        ids.extend([Value::from(""), Value::Null]);
        doc["components"]["schemas"]["SubmitRequest"]["properties"][field]["enum"] =
            Value::Array(ids);
    }
    doc
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json(st: Data<IntakeState>) -> HttpResponse {
    HttpResponse::Ok().json(document(&st.cfg))
}

#[cfg(test)]
#[path = "api_doc_tests.rs"]
mod doc_tests;
