//! The intake's JSON request bodies (`src/intake/api.rs`), decoded by the server's own decoder
//! (`web::body::decode_json`: UTF-8, serde_json into the request type, objects only), checked against the OpenAPI document the
//! server publishes, and passed through the validation that needs no server: pasted-code
//! detection on every text and code parsing on every `code`.
//!
//! Properties: nothing panics; a body the type accepts is an object whose fields the document
//! names, with the documented JSON types and every required field present; and a body of
//! strings that the document describes (no unknown or missing field, no field twice) is
//! accepted by the type, so the document never promises what the decoder refuses.
#![no_main]

use bisik::crypto::code::{FollowupCode, contains_code_run};
use bisik::intake::api::{ApiDoc, FollowupRequest, MessageRequest, SubmitRequest};
use bisik::web::body::decode_json;
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::OpenApi;

/// An object's members in order, duplicates kept (serde_json's `Value` keeps only the last).
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    out.push(kv);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap())
}

/// The JSON types a property schema allows (`type` as a string or a list).
fn types(prop: &Value) -> Vec<&str> {
    match &prop["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `validated`: required fields that the decoder takes as optional and the handler's validation
/// then demands (422 when missing or null), so the decoder alone may pass them missing or null.
fn check<T: serde::de::DeserializeOwned>(schema_name: &str, validated: &[&str], text: &str) {
    let schema = &doc()["components"]["schemas"][schema_name];
    let props = schema["properties"]
        .as_object()
        .expect("documented properties");
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    let typed_ok = decode_json::<T>(text.as_bytes()).is_ok();
    let members = serde_json::from_str::<Members>(text).ok();
    if typed_ok {
        let m = members
            .as_ref()
            .expect("a body the type accepts is a JSON object");
        for (k, v) in &m.0 {
            let p = props
                .get(k)
                .unwrap_or_else(|| panic!("undocumented field accepted"));
            let t = type_of(v);
            let allowed = types(p);
            assert!(
                allowed.contains(&t)
                    || (t == "integer" && allowed.contains(&"number"))
                    || (t == "null" && validated.contains(&k.as_str())),
                "field accepted with an undocumented type"
            );
        }
        for r in required.iter().filter(|r| !validated.contains(r)) {
            assert!(
                m.0.iter().any(|(k, _)| k == r),
                "required field missing but accepted"
            );
        }
    }
    if let Some(m) = &members {
        let mut names: Vec<&str> = m.0.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        let unique = names.windows(2).all(|w| w[0] != w[1]);
        let described = m.0.iter().all(|(k, v)| {
            props
                .get(k)
                .is_some_and(|p| matches!(v, Value::String(_)) && types(p).contains(&"string"))
        }) && required.iter().all(|r| names.contains(r));
        if unique && described {
            assert!(
                typed_ok,
                "a body the document describes was refused by the decoder"
            );
        }
        for (k, v) in &m.0 {
            if let Value::String(s) = v {
                let _ = contains_code_run(s);
                if k == "code" {
                    if let Ok(c) = FollowupCode::parse(s) {
                        assert!(contains_code_run(&c.display()));
                    }
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the endpoint; the rest is the body, as the server reads it.
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    match which % 3 {
        0 => check::<SubmitRequest>("SubmitRequest", &["description"], text),
        1 => check::<FollowupRequest>("FollowupRequest", &[], text),
        _ => check::<MessageRequest>("MessageRequest", &[], text),
    }
});
