//! Holds the OpenAPI document to what the server does: required fields, length limits, the
//! text and code patterns (checked against `text` and `FollowupCode::parse` on samples), the
//! configured choices, and the error responses each endpoint can give.

use super::document;
use crate::config::Config;
use crate::crypto::code::{FollowupCode, KNOWN_VERSIONS};
use crate::intake::flows::text;
use serde_json::Value;

fn doc() -> Value {
    document(&Config::default())
}

fn schema(name: &str) -> Value {
    doc()["components"]["schemas"][name].clone()
}

fn pattern(name: &str, field: &str) -> regex::Regex {
    let p = schema(name)["properties"][field]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}.{field} has a pattern"))
        .to_owned();
    regex::Regex::new(&p).expect("the pattern is a valid regex")
}

fn required(name: &str) -> Vec<String> {
    let mut r: Vec<String> = schema(name)["required"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    r.sort();
    r
}

#[test]
fn required_fields_and_length_limits_are_documented() {
    assert_eq!(required("SubmitRequest"), ["description"]);
    assert_eq!(required("FollowupRequest"), ["code"]);
    assert_eq!(required("MessageRequest"), ["body", "code"]);
    for (name, field, max) in [
        ("SubmitRequest", "description", 10_000),
        ("SubmitRequest", "location", 500),
        ("SubmitRequest", "when", 200),
        ("SubmitRequest", "people", 2_000),
        ("SubmitRequest", "vehicles", 1_000),
        ("FollowupRequest", "code", 64),
        ("MessageRequest", "code", 64),
        ("MessageRequest", "body", 5_000),
    ] {
        assert_eq!(
            schema(name)["properties"][field]["maxLength"],
            Value::from(max),
            "{name}.{field}"
        );
    }
    // The required description is a plain string: null is refused like a missing one.
    assert_eq!(
        schema("SubmitRequest")["properties"]["description"]["type"],
        "string"
    );
}

#[test]
fn choices_are_the_configured_ids() {
    let cfg = Config::default();
    let props = &schema("SubmitRequest")["properties"];
    for (field, list) in [("category", &cfg.categories), ("area", &cfg.areas)] {
        let mut want: Vec<Value> = list.iter().map(|c| Value::from(c.id.as_str())).collect();
        want.extend([Value::from(""), Value::Null]);
        assert_eq!(props[field]["enum"], Value::Array(want), "{field}");
    }
}

/// Samples on both sides of each rule `text` applies (length aside).
const SAMPLES: &[&str] = &[
    "",
    " ",
    "\t\n\r ",
    "\u{a0}\u{3000}",
    "ada transaksi",
    "  x  ",
    "baris satu\nbaris dua\r\n\tlagi",
    "nul \u{0} di sini",
    "bel \u{7}",
    "esc \u{1b}[31m",
    "del \u{7f}",
    "c1 \u{85}",
    "c1 \u{9f}",
    "\u{b}",
    "\u{c} x",
    "\u{1f}",
    "emoji 🙂 dan é",
    "\u{202f}x\u{2029}",
    "\u{200b}",
    "\u{feff}",
];

#[test]
fn text_patterns_agree_with_the_server() {
    let optional = pattern("SubmitRequest", "location");
    let required_text = pattern("SubmitRequest", "description");
    let body = pattern("MessageRequest", "body");
    assert_eq!(required_text.as_str(), body.as_str());
    for s in SAMPLES {
        let served = text("f", Some(*s), 10_000);
        assert_eq!(optional.is_match(s), served.is_ok(), "optional text {s:?}");
        assert_eq!(
            required_text.is_match(s),
            matches!(served, Ok(Some(_))),
            "required text {s:?}"
        );
    }
}

#[test]
fn code_pattern_agrees_with_the_parser_but_for_the_check_digit() {
    assert_eq!(KNOWN_VERSIONS, &[1], "the pattern's version digit is 1");
    let p = pattern("FollowupRequest", "code");
    assert_eq!(p.as_str(), pattern("MessageRequest", "code").as_str());
    let good = "1295 2984 0371 6605 8237";
    assert!(FollowupCode::parse(good).is_ok());
    let samples = [
        good,
        "12952984037166058237",
        "1295-2984-0371-6605-8237",
        " 1295.2984.0371.6605.8237\t",
        "1295\u{a0}2984\u{202f}0371 6605 8237",
        "1295 2984 0371 6605 823",
        "1295 2984 0371 6605 82370",
        "2295 2984 0371 6605 8237",
        "1295/2984/0371/6605/8237",
        "1295 2984 0371 6605 823x",
        "",
    ];
    for s in samples {
        let parsed = FollowupCode::parse(s);
        let shape_ok = !matches!(
            parsed,
            Err(crate::crypto::code::CodeError::NotDigits
                | crate::crypto::code::CodeError::TooShort
                | crate::crypto::code::CodeError::TooLong
                | crate::crypto::code::CodeError::UnknownVersion)
        );
        assert_eq!(p.is_match(s), shape_ok, "{s:?}");
    }
}

#[test]
fn every_body_endpoint_documents_its_client_errors() {
    let d = doc();
    for (path, codes) in [
        (
            "/api/v1/reports",
            &["201", "400", "403", "408", "413", "415", "422", "503"][..],
        ),
        (
            "/api/v1/followup",
            &[
                "200", "400", "403", "404", "408", "413", "415", "422", "503",
            ][..],
        ),
        (
            "/api/v1/followup/messages",
            &[
                "201", "400", "403", "404", "408", "413", "415", "422", "429", "503",
            ][..],
        ),
    ] {
        let responses = d["paths"][path]["post"]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{path} has responses"));
        let mut got: Vec<&str> = responses.keys().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, codes, "{path}");
        if let Some(busy) = responses.get("503") {
            assert!(busy["headers"]["Retry-After"].is_object(), "{path} 503");
        }
    }
}
