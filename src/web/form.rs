//! Decoding an HTML form body (`application/x-www-form-urlencoded`), strictly: what a browser
//! sends for our own forms decodes, anything else is refused rather than guessed at. Values are
//! tips and codes, so they are decoded straight into zeroizing buffers.
//!
//! Strict means: names are 1-32 characters of `a-z`, `0-9` and `_` (ours are); a `%` is followed
//! by two hex digits; the decoded value is UTF-8; no name appears twice (the pages never send
//! one twice, so a repeat is not ours to resolve); at most [`MAX_FIELDS`] fields.

use super::ApiError;
use super::body::{content_type_is, read_limited};
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::web::Payload;
use std::time::Duration;
use zeroize::{Zeroize, Zeroizing};

/// More fields than any of our forms has.
pub const MAX_FIELDS: usize = 32;

/// Why a body is not a form of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    /// A name outside `[a-z0-9_]{1,32}`.
    BadName,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A value that is not UTF-8 once decoded.
    NotUtf8,
    /// A name given twice.
    Repeated,
    /// More than [`MAX_FIELDS`] fields.
    TooMany,
}

/// A decoded form: names and values in the order sent.
#[derive(Default)]
pub struct Form {
    fields: Vec<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for Form {
    /// Names only: values are tips and codes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.fields.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Form {
    /// The value of `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` when sent and not blank.
    pub fn filled(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Every field, in the order sent.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Form {
    /// Adds one field from another encoding (a multipart body's text part), under the same
    /// rules as [`parse_form`]: a short lowercase name, no repeats, at most [`MAX_FIELDS`].
    pub fn push(&mut self, name: &str, value: &str) -> Result<(), FormError> {
        self.admit(name.as_bytes())?;
        self.fields
            .push((name.to_owned(), Zeroizing::new(value.to_owned())));
        Ok(())
    }

    /// Whether one more field called `name` may be added.
    fn admit(&self, name: &[u8]) -> Result<(), FormError> {
        if self.fields.len() == MAX_FIELDS {
            return Err(FormError::TooMany);
        }
        let ok_name = (1..=32).contains(&name.len())
            && name
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok_name {
            return Err(FormError::BadName);
        }
        if self.fields.iter().any(|(k, _)| k.as_bytes() == name) {
            return Err(FormError::Repeated);
        }
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(part: &[u8]) -> Result<Zeroizing<Vec<u8>>, FormError> {
    let mut out = Zeroizing::new(Vec::with_capacity(part.len()));
    let mut i = 0;
    while i < part.len() {
        match part[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = part.get(i + 1).copied().and_then(hex);
                let lo = part.get(i + 2).copied().and_then(hex);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(FormError::BadEscape);
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

/// Decodes a complete form body.
pub fn parse_form(body: &[u8]) -> Result<Form, FormError> {
    let mut form = Form::default();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        form.admit(name)?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| FormError::BadName)?;
        let mut bytes = decode(value)?;
        let value = match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(s) => Zeroizing::new(s),
            Err(e) => {
                e.into_bytes().zeroize();
                return Err(FormError::NotUtf8);
            }
        };
        form.fields.push((name, value));
    }
    Ok(form)
}

/// Encodes fields as a browser does (space as `+`, everything but `A-Za-z0-9*-._` escaped).
/// For tests, the fuzz target's round trip and the benchmark's client.
pub fn encode_form<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        for (i, part) in [k, v].into_iter().enumerate() {
            if i == 1 {
                out.push('=');
            }
            for b in part.bytes() {
                match b {
                    b' ' => out.push('+'),
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                        out.push(char::from(b))
                    }
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
        }
    }
    out
}

const MEDIA: ApiError = ApiError::new(
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    "unsupported_media_type",
    "Kirim formulir dari halaman layanan ini.",
    "Send the form from this service's page.",
);
const MALFORMED: ApiError = ApiError::new(
    StatusCode::BAD_REQUEST,
    "malformed_form",
    "Isi formulir tidak sah. Buka formulir lagi lalu kirim.",
    "The form's content is not valid. Open the form again and send it.",
);

/// Reads and decodes a form body of at most `limit` bytes within `timeout`.
pub async fn read_form(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
    timeout: Duration,
) -> Result<Form, ApiError> {
    if !content_type_is(req, "application/x-www-form-urlencoded") {
        return Err(MEDIA);
    }
    let buf = read_limited(req, payload, limit, timeout).await?;
    parse_form(&buf).map_err(|_| MALFORMED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_a_browser_sends() {
        let f = parse_form(b"description=ada+transaksi%0D%0Adi+pasar&area=&hp=&t=%C3%A9").unwrap();
        assert_eq!(f.get("description"), Some("ada transaksi\r\ndi pasar"));
        assert_eq!(f.get("area"), Some(""));
        assert_eq!(f.filled("area"), None);
        assert_eq!(f.get("t"), Some("é"));
        assert_eq!(f.get("missing"), None);
        let f = parse_form(b"a&&b=1&").unwrap();
        assert_eq!(f.get("a"), Some(""));
        assert_eq!(f.get("b"), Some("1"));
    }

    #[test]
    fn refuses_what_no_page_of_ours_sends() {
        assert_eq!(parse_form(b"a=%zz").unwrap_err(), FormError::BadEscape);
        assert_eq!(parse_form(b"a=%4").unwrap_err(), FormError::BadEscape);
        assert_eq!(parse_form(b"a=%FF").unwrap_err(), FormError::NotUtf8);
        assert_eq!(parse_form(b"A=1").unwrap_err(), FormError::BadName);
        assert_eq!(parse_form(b"=1").unwrap_err(), FormError::BadName);
        assert_eq!(parse_form(b"a=1&a=2").unwrap_err(), FormError::Repeated);
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}=x")).collect();
        assert_eq!(
            parse_form(many.join("&").as_bytes()).unwrap_err(),
            FormError::TooMany
        );
    }

    #[test]
    fn encoding_round_trips() {
        let text = "Ada 2 orang & 1 motor = DA 1234 XY; 100% yakin? ñ 漢 \u{1F600}\n";
        let body = encode_form([("description", text), ("when", "")]);
        let f = parse_form(body.as_bytes()).unwrap();
        assert_eq!(f.get("description"), Some(text));
        assert_eq!(f.get("when"), Some(""));
    }
}
