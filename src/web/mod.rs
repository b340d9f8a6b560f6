//! What the intake and the desk share on the web side: security headers on every response, the
//! JSON error shape with its two languages, body reading with limits, and the cross-site check.

pub mod body;
pub mod detach;
pub mod error;
pub mod headers;
pub mod raw_io;

pub use error::{ApiError, Lang};
