//! TOTP (RFC 6238): six digits, 30-second steps, one step of skew either way, for every role.
//!
//! totp-rs checks a code but does not stop it being used twice (RFC 6238 section 5.2): the
//! caller stores the last step used per account (`staff_auth.last_totp_step`) and accepts only
//! a later one. The enrolment QR code is drawn here as SVG, so the page needs no script and the
//! secret never leaves the server for a third-party renderer.

use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

/// Issuer shown in authenticator apps.
const ISSUER: &str = "Bisik";

/// A fresh 160-bit secret (the RFC 4226 recommendation).
pub fn new_secret() -> Zeroizing<Vec<u8>> {
    let mut s = Zeroizing::new(vec![0u8; 20]);
    crate::crypto::primitives::os_fill(&mut s);
    s
}

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .ok()
}

/// The step a code matches at `now` (unix seconds), within one step either way; `None` for a
/// wrong code. Whether the step was already used is the caller's check.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "x")?.check(&code, now)
}

/// The secret as base32 text in groups of four, for typing into an app by hand.
pub fn secret_text(secret: &[u8]) -> Zeroizing<String> {
    let b32 = Zeroizing::new(Secret::from(secret.to_vec()).to_base32());
    Zeroizing::new(
        b32.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).expect("base32 is ascii"))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The `otpauth://` QR code as an inline SVG document.
pub fn qr_svg(secret: &[u8], account: &str) -> Zeroizing<String> {
    let url = Zeroizing::new(
        totp(secret, account)
            .and_then(|t| t.to_url().ok())
            .unwrap_or_default(),
    );
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => Zeroizing::new(
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .build(),
        ),
        Err(_) => Zeroizing::new(String::new()),
    }
}

/// The code for `now`; used by tests and by nothing in the server.
pub fn code_at(secret: &[u8], now: u64) -> String {
    totp(secret, "x")
        .map(|t| t.generate(now).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_one_either_side_only() {
        let s = new_secret();
        let now = 1_800_000_000;
        let c = code_at(&s, now);
        assert_eq!(matching_step(&s, &c, now), Some(now / 30));
        assert_eq!(matching_step(&s, &c, now + 30), Some(now / 30));
        assert_eq!(matching_step(&s, &c, now + 90), None);
        assert_eq!(matching_step(&s, "12345", now), None);
        assert!(qr_svg(&s, "budi").starts_with("<?xml"));
        assert_eq!(secret_text(&s).replace(' ', "").len(), 32);
    }
}
