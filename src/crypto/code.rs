//! The 20-digit follow-up code, in the format of the PLN prepaid electricity token that people
//! in Indonesia already know how to type: five groups of four digits.
//!
//! Digit 1 is the KDF parameter version, digits 2–19 are uniformly random (about 59.8 bits) and
//! digit 20 is a Damm check digit over the first 19. The Damm algorithm catches every single-digit
//! error and every adjacent transposition, so a typo is refused before any Argon2 work is spent.

use super::primitives::os_uniform;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Number of digits in a code.
pub const CODE_DIGITS: usize = 20;

/// The Damm quasigroup of order 10 (totally anti-symmetric; Damm 2004).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The interim digit of the Damm algorithm over `digits` (each 0..=9). A string followed by its
/// check digit has interim 0.
pub fn damm_interim(digits: &[u8]) -> u8 {
    digits
        .iter()
        .fold(0u8, |acc, &d| DAMM[acc as usize][d as usize])
}

/// KDF versions this build knows. A version is a digit so it can lead the code.
pub const KNOWN_VERSIONS: &[u8] = &[1];
/// The version new codes are issued under.
pub const CURRENT_VERSION: u8 = 1;

/// A follow-up code: exactly 20 digits with a valid version and check digit. Secret, so it is
/// zeroized on drop and never printed by Debug.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct FollowupCode([u8; CODE_DIGITS]);

impl std::fmt::Debug for FollowupCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FollowupCode([REDACTED])")
    }
}

/// Why a typed code was refused. Each is cheap to detect, so each answers at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Something other than digits, spaces or dashes.
    #[error("the code may contain only digits")]
    NotDigits,
    /// Fewer than 20 digits.
    #[error("the code is too short")]
    TooShort,
    /// More than 20 digits.
    #[error("the code is too long")]
    TooLong,
    /// The first digit names no KDF version this build knows.
    #[error("the code has an unknown version")]
    UnknownVersion,
    /// The Damm check digit does not match: a typo.
    #[error("the code's check digit does not match")]
    BadChecksum,
}

impl FollowupCode {
    /// A fresh code under [`CURRENT_VERSION`], with 18 random digits from the OS RNG.
    pub fn generate() -> Self {
        let mut d = [0u8; CODE_DIGITS];
        d[0] = CURRENT_VERSION;
        for slot in d.iter_mut().take(19).skip(1) {
            *slot = os_uniform(10) as u8;
        }
        d[19] = damm_interim(&d[..19]);
        FollowupCode(d)
    }

    /// Parses a code typed with any grouping: spaces and dashes are ignored, nothing else is.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let mut d = [0u8; CODE_DIGITS];
        let mut n = 0usize;
        for c in input.chars() {
            match c {
                '0'..='9' => {
                    if n == CODE_DIGITS {
                        d.zeroize();
                        return Err(CodeError::TooLong);
                    }
                    d[n] = c as u8 - b'0';
                    n += 1;
                }
                c if is_separator(c) => {}
                _ => {
                    d.zeroize();
                    return Err(CodeError::NotDigits);
                }
            }
        }
        if n < CODE_DIGITS {
            d.zeroize();
            return Err(CodeError::TooShort);
        }
        let code = FollowupCode(d);
        d.zeroize();
        if !KNOWN_VERSIONS.contains(&code.version()) {
            return Err(CodeError::UnknownVersion);
        }
        if damm_interim(&code.0) != 0 {
            return Err(CodeError::BadChecksum);
        }
        Ok(code)
    }

    /// The KDF parameter version (the first digit).
    pub fn version(&self) -> u8 {
        self.0[0]
    }

    /// The 20 digits as ASCII, the KDF's password input. Zeroizes on drop.
    pub fn ascii(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(self.0.iter().map(|d| b'0' + d).collect())
    }

    /// The display form `NNNN NNNN NNNN NNNN NNNN`. Only for showing to the reporter.
    pub fn display(&self) -> zeroize::Zeroizing<String> {
        let mut s = String::with_capacity(24);
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                s.push(' ');
            }
            s.push((b'0' + d) as char);
        }
        zeroize::Zeroizing::new(s)
    }
}

/// Characters people put between the groups of a code.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '\t' | '\u{a0}' | '\u{202f}')
}

/// For finding pasted codes, anything that is neither a letter nor a digit may sit between
/// groups (`1295/2984/…`, a line break): catching a code written oddly matters more here than
/// in [`FollowupCode::parse`], because a missed one is stored beside the report.
fn is_loose_separator(c: char) -> bool {
    !c.is_alphanumeric()
}

/// True when `text` holds something that is a follow-up code: 20 digits with a known version
/// digit and a valid Damm check, written in one piece or as whole groups joined by spaces,
/// dashes, dots, slashes, line breaks or any other punctuation (as people paste codes). Reporters paste their code into messages by mistake;
/// storing it beside the report would hand it to anyone who can read the conversation.
///
/// Only whole groups are joined, so two phone numbers side by side (12 + 12 digits) or an NIK
/// beside a phone number never form a 20-digit window by accident; a long unbroken digit string
/// is still searched window by window.
pub fn contains_code_run(text: &str) -> bool {
    let is_code =
        |d: &[u8]| d.len() == CODE_DIGITS && KNOWN_VERSIONS.contains(&d[0]) && damm_interim(d) == 0;
    // Segments: digit groups separated by at most five separator characters (`1047 - 2938`).
    let mut groups: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut gap = 0usize;
    let check = |groups: &[Vec<u8>]| {
        for (i, g) in groups.iter().enumerate() {
            if g.len() > CODE_DIGITS && g.windows(CODE_DIGITS).any(is_code) {
                return true;
            }
            let mut joined: Vec<u8> = Vec::with_capacity(CODE_DIGITS);
            for h in &groups[i..] {
                joined.extend_from_slice(h);
                if joined.len() >= CODE_DIGITS {
                    break;
                }
            }
            if is_code(&joined) {
                return true;
            }
        }
        false
    };
    for c in text.chars() {
        if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
            if gap > 5 && !current.is_empty() {
                groups.push(std::mem::take(&mut current));
                if check(&groups) {
                    return true;
                }
                groups.clear();
            } else if gap > 0 && !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            gap = 0;
            current.push(d as u8);
        } else if is_loose_separator(c) && !(current.is_empty() && groups.is_empty()) {
            gap += 1;
        } else {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            if check(&groups) {
                return true;
            }
            groups.clear();
            gap = 0;
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    check(&groups)
}
