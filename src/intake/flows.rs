//! What a reporter can do, whatever the door: submit a tip, open a report with its code, add a
//! message, remove access. The JSON API (`api`) and the HTML pages (`pages`) both call these, so
//! a rule (a limit, a refusal, a status) is written once and holds for both.

use super::IntakeState;
use super::disk::DiskState;
use super::kdf_pool::Busy;
use super::reports::{self, TipPlain};
use crate::config::Config;
use crate::crypto::code::{CodeError, FollowupCode, contains_code_run};
use crate::domain::{day_string, today};
use crate::web::ApiError;
use actix_web::http::StatusCode;
use zeroize::Zeroizing;

const fn e(status: StatusCode, code: &'static str, id: &'static str, en: &'static str) -> ApiError {
    ApiError::new(status, code, id, en)
}

/// A POST from another site, before any session (DESIGN.md, Forms).
pub const CROSS_SITE: ApiError = e(
    StatusCode::FORBIDDEN,
    "cross_site",
    "Permintaan dari situs lain ditolak.",
    "Requests from other sites are refused.",
);
/// Unknown, revoked and expired codes alike (I11).
pub const NO_REPORT: ApiError = e(
    StatusCode::NOT_FOUND,
    "not_found",
    "Kode tidak ditemukan. Periksa kembali kode Anda.",
    "Code not found. Please check your code.",
);
const BUSY: ApiError = e(
    StatusCode::SERVICE_UNAVAILABLE,
    "busy",
    "Layanan sedang sibuk. Coba lagi sebentar lagi. Laporan baru tetap bisa dikirim.",
    "The service is busy. Please try again shortly. New reports can still be sent.",
);
const QUOTA: ApiError = e(
    StatusCode::TOO_MANY_REQUESTS,
    "message_quota",
    "Batas pesan harian untuk laporan ini sudah tercapai. Silakan kirim lagi besok.",
    "This report's daily message limit has been reached. Please send again tomorrow.",
);
const DISK_LOW_MESSAGES: ApiError = e(
    StatusCode::SERVICE_UNAVAILABLE,
    "storage_full",
    "Penyimpanan server hampir penuh, jadi pesan baru untuk sementara tidak dapat diterima. Laporan baru tetap bisa dikirim. Coba lagi nanti.",
    "The server's storage is nearly full, so new messages cannot be accepted for now. New reports can still be sent. Please try again later.",
);
const DISK_LOW_SUBMISSIONS: ApiError = e(
    StatusCode::SERVICE_UNAVAILABLE,
    "storage_full",
    "Penyimpanan server penuh, jadi laporan baru untuk sementara tidak dapat diterima. Coba lagi nanti.",
    "The server's storage is full, so new reports cannot be accepted for now. Please try again later.",
);
const CONTAINS_CODE: ApiError = e(
    StatusCode::UNPROCESSABLE_ENTITY,
    "contains_code",
    "Teks Anda tampaknya berisi kode tindak lanjut (20 angka). Jangan pernah menulis kode Anda di dalam pesan: siapa pun yang membaca pesan bisa memakainya. Hapus angka itu lalu kirim lagi.",
    "Your text seems to contain a follow-up code (20 digits). Never write your code in a message: anyone who reads the message could use it. Remove the number and send again.",
);

/// The answer to a malformed code (given at once, before any Argon2).
pub fn code_error(err: CodeError) -> ApiError {
    match err {
        CodeError::NotDigits => e(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "Kode hanya boleh berisi angka.",
            "The code may contain only digits.",
        ),
        CodeError::TooShort => e(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "Kode terlalu pendek: kode terdiri dari 20 angka.",
            "The code is too short: it has 20 digits.",
        ),
        CodeError::TooLong => e(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "Kode terlalu panjang: kode terdiri dari 20 angka.",
            "The code is too long: it has 20 digits.",
        ),
        CodeError::UnknownVersion => e(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "Kode ini tidak dikenal. Periksa angka pertama.",
            "This code is not recognised. Check the first digit.",
        ),
        CodeError::BadChecksum => e(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "Ada salah ketik pada kode. Periksa kembali setiap angka.",
            "There is a typo in the code. Please check each digit.",
        ),
    }
}

/// A 422 naming a field in its detail.
pub fn field_error(
    code: &'static str,
    id: &'static str,
    en: &'static str,
    field: &str,
) -> ApiError {
    e(StatusCode::UNPROCESSABLE_ENTITY, code, id, en).with_detail(field.to_owned())
}

/// One field's refusal: which field, its limit (for a page to say), and the error.
#[derive(Debug, Clone)]
pub struct FieldError {
    /// The field's name (as in the JSON request and the form).
    pub field: &'static str,
    /// The field's length limit in characters.
    pub max: usize,
    /// The error, as the JSON API answers it.
    pub error: ApiError,
}

/// Checks one optional text field: length in characters, and no control characters other than
/// newline and tab. Returns the trimmed value, or None when empty.
pub fn text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    if v.chars().count() > max {
        return Err(field_error(
            "field_too_long",
            "Teks terlalu panjang",
            "Text is too long",
            &format!("{field}, max {max}"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(field_error(
            "invalid_characters",
            "Teks berisi karakter kendali yang tidak diizinkan",
            "Text contains control characters that are not allowed",
            field,
        ));
    }
    if contains_code_run(v) {
        return Err(CONTAINS_CODE);
    }
    let t = v.trim();
    Ok((!t.is_empty()).then(|| t.to_owned()))
}

fn choice(
    field: &str,
    v: Option<&str>,
    list: &[crate::config::Choice],
) -> Result<Option<String>, ApiError> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) if list.iter().any(|c| c.id == id) => Ok(Some(id.to_owned())),
        Some(_) => Err(field_error(
            "unknown_choice",
            "Pilihan tidak dikenal; lihat /api/v1/meta",
            "Unknown choice; see /api/v1/meta",
            field,
        )),
    }
}

/// A tip as typed, from either door.
#[derive(Default)]
pub struct TipInput<'a> {
    /// Category id.
    pub category: Option<&'a str>,
    /// Area id.
    pub area: Option<&'a str>,
    /// What is happening (required).
    pub description: Option<&'a str>,
    /// Where.
    pub location: Option<&'a str>,
    /// When.
    pub when: Option<&'a str>,
    /// Who.
    pub people: Option<&'a str>,
    /// Vehicles.
    pub vehicles: Option<&'a str>,
}

/// Length limits of the free-text fields, in characters.
pub const DESCRIPTION_MAX: usize = 10_000;
/// See [`DESCRIPTION_MAX`].
pub const LOCATION_MAX: usize = 500;
/// See [`DESCRIPTION_MAX`].
pub const WHEN_MAX: usize = 200;
/// See [`DESCRIPTION_MAX`].
pub const PEOPLE_MAX: usize = 2_000;
/// See [`DESCRIPTION_MAX`].
pub const VEHICLES_MAX: usize = 1_000;
/// A reporter's message.
pub const MESSAGE_MAX: usize = 5_000;

/// Validates a tip. Every refused field is listed, in form order (category, area, description,
/// location, when, people, vehicles): the JSON API answers the first, a page marks them all.
pub fn validate_tip(cfg: &Config, r: &TipInput<'_>) -> Result<TipPlain, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut keep =
        |field: &'static str, max: usize, res: Result<Option<String>, ApiError>| match res {
            Ok(v) => v,
            Err(error) => {
                errors.push(FieldError { field, max, error });
                None
            }
        };
    let category = keep(
        "category",
        64,
        choice("category", r.category, &cfg.categories),
    );
    let area = keep("area", 64, choice("area", r.area, &cfg.areas));
    let description = keep(
        "description",
        DESCRIPTION_MAX,
        text("description", r.description, DESCRIPTION_MAX).and_then(|d| {
            d.ok_or_else(|| {
                field_error(
                    "description_required",
                    "Keterangan wajib diisi: ceritakan apa yang Anda ketahui",
                    "A description is required: tell us what you know",
                    "description",
                )
            })
            .map(Some)
        }),
    );
    let location = keep(
        "location",
        LOCATION_MAX,
        text("location", r.location, LOCATION_MAX),
    );
    let when = keep("when", WHEN_MAX, text("when", r.when, WHEN_MAX));
    let people = keep("people", PEOPLE_MAX, text("people", r.people, PEOPLE_MAX));
    let vehicles = keep(
        "vehicles",
        VEHICLES_MAX,
        text("vehicles", r.vehicles, VEHICLES_MAX),
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    let category = category.unwrap_or_else(|| {
        if cfg.categories.iter().any(|c| c.id == "lainnya") {
            "lainnya".to_owned()
        } else {
            cfg.categories[cfg.categories.len() - 1].id.clone()
        }
    });
    Ok(TipPlain {
        v: 1,
        category,
        area,
        description: description.expect("checked above"),
        location,
        when,
        people,
        vehicles,
        day: day_string(today()),
        attachments: Vec::new(),
    })
}

/// Stores a validated tip and returns its code for display, once the report is durable (I7).
pub async fn submit(
    st: &IntakeState,
    tip: TipPlain,
    files: Vec<super::upload::Spooled>,
) -> Result<Zeroizing<String>, ApiError> {
    if st.disk.state() == DiskState::SubmissionsRefused {
        return Err(DISK_LOW_SUBMISSIONS.retry_after(300));
    }
    let (code, secrets) = st.kdf.issue().await;
    reports::create(st, tip, files, &secrets)
        .await
        .map_err(|e| match e {
            reports::Created::Refused(e) => e,
            reports::Created::Store(e) => ApiError::internal(e),
        })?;
    drop(secrets);
    Ok(code.display())
}

/// Checks a typed code's form, at once and without Argon2.
pub fn check_code(typed: &str) -> Result<Box<FollowupCode>, ApiError> {
    if typed.chars().count() > 64 {
        return Err(code_error(CodeError::TooLong));
    }
    Ok(Box::new(FollowupCode::parse(typed).map_err(code_error)?))
}

/// Opens the report a typed code belongs to (one Argon2 in the follow-up queue). Unknown,
/// revoked and expired codes all get [`NO_REPORT`].
pub async fn open_code(st: &IntakeState, typed: &str) -> Result<reports::Opened, ApiError> {
    let code = check_code(typed)?;
    let secrets = st
        .kdf
        .derive_for_followup(code)
        .await
        .map_err(|Busy| BUSY.retry_after(5))?;
    let opened = reports::open(st, &secrets)
        .await
        .map_err(ApiError::internal)?;
    st.kdf.record_followup(opened.is_some());
    opened.ok_or(NO_REPORT)
}

/// Validates a reporter's message: not blank, at most [`MESSAGE_MAX`], no code in it.
pub fn message_text(body: &str) -> Result<String, ApiError> {
    text("body", Some(body), MESSAGE_MAX)?.ok_or_else(|| {
        field_error(
            "body_required",
            "Pesan tidak boleh kosong",
            "The message may not be empty",
            "body",
        )
    })
}

/// Whether an idempotency key has the documented form.
pub fn check_idempotency_key(k: &str) -> Result<(), ApiError> {
    if (16..=64).contains(&k.len())
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Ok(());
    }
    Err(field_error(
        "invalid_idempotency_key",
        "Kunci idempotensi harus 16 sampai 64 huruf, angka, - atau _",
        "The idempotency key must be 16 to 64 letters, digits, - or _",
        "idempotency_key",
    ))
}

/// Refuses new messages while the disk is below the message watermark.
pub fn messages_accepted(st: &IntakeState) -> Result<(), ApiError> {
    if st.disk.state() != DiskState::Ok {
        return Err(DISK_LOW_MESSAGES.retry_after(300));
    }
    Ok(())
}

/// Stores a reporter's message; returns the day it was stored (the first one's, for a resent
/// idempotency key).
pub async fn add_message(
    st: &IntakeState,
    opened: &reports::Opened,
    text: String,
    files: Vec<super::upload::Spooled>,
    idempotency_key: Option<&str>,
) -> Result<String, ApiError> {
    match reports::add_message(st, opened, text, files, idempotency_key)
        .await
        .map_err(|e| match e {
            reports::Created::Refused(e) => e,
            reports::Created::Store(e) => ApiError::internal(e),
        })? {
        reports::Added::Stored(day) => Ok(day),
        reports::Added::QuotaExceeded => Err(QUOTA),
    }
}

/// Revokes the code of an opened report for good: from now on it gets [`NO_REPORT`], exactly as
/// an unknown code does (I11).
pub async fn revoke(st: &IntakeState, opened: &reports::Opened) -> Result<(), ApiError> {
    st.store
        .revoke_access(opened.id)
        .await
        .map_err(ApiError::internal)
}
