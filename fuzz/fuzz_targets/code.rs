//! Follow-up code parsing and pasted-code detection (`src/crypto/code.rs`).
//!
//! Properties: neither function panics on any text; a code that parses round-trips through its
//! display form and its ASCII form; a parsed code written with at most five separators between
//! digits is found by `contains_code_run`; and any valid code (made from the input's digits)
//! pasted between arbitrary texts with a space on each side is found.
#![no_main]

use bisik::crypto::code::{CODE_DIGITS, FollowupCode, contains_code_run, damm_interim};
use libfuzzer_sys::fuzz_target;

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '\t' | '\u{a0}' | '\u{202f}')
}

/// True when no run of more than five separators stands between two digits: the grouping that
/// `contains_code_run` promises to join.
fn short_gaps(s: &str) -> bool {
    let mut seen_digit = false;
    let mut gap = 0usize;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if seen_digit && gap > 5 {
                return false;
            }
            seen_digit = true;
            gap = 0;
        } else if is_separator(c) && seen_digit {
            gap += 1;
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let found = contains_code_run(text);
    if let Ok(code) = FollowupCode::parse(text) {
        let shown = code.display();
        assert_eq!(FollowupCode::parse(&shown).as_ref(), Ok(&code));
        let ascii = code.ascii();
        assert_eq!(ascii.len(), CODE_DIGITS);
        assert_eq!(
            FollowupCode::parse(std::str::from_utf8(&ascii).unwrap()).as_ref(),
            Ok(&code)
        );
        assert!(contains_code_run(&shown));
        if short_gaps(text) {
            assert!(found, "a parsed code was not detected");
        }
    }

    // A valid code built from the input's first 19 digits (version digit forced to 1),
    // pasted into the rest of the text.
    let digits: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .take(19)
        .collect();
    if digits.len() == 19 {
        let mut d = digits;
        d[0] = 1;
        d.push(damm_interim(&d));
        let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
        let code = FollowupCode::parse(&s).expect("a valid code");
        let shown = code.display();
        let cut = text
            .char_indices()
            .map(|(i, _)| i)
            .nth(text.chars().count() / 2)
            .unwrap_or(text.len());
        let (before, after) = text.split_at(cut);
        let pasted = format!("{before} {} {after}", &*shown);
        assert!(contains_code_run(&pasted), "a pasted code was not detected");
    }
});
