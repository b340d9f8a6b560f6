//! What the intake and the desk share on the web side: security headers on every response, the
//! JSON error shape with its two languages, the string catalogue (i18n), form decoding, body reading with limits, and the cross-site check.

pub mod body;
pub mod detach;
pub mod error;
pub mod form;
pub mod headers;
pub mod i18n;
pub mod raw_io;

pub use error::{ApiError, Lang};
