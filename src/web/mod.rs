//! What the intake and the desk share on the web side: security headers on every response, the
//! JSON error shape with its two languages, body reading with limits, the cross-site check, the
//! bounded Argon2 gate ([`gate`]) and the HTTP server construction ([`server`]).

pub mod body;
pub mod detach;
pub mod error;
pub mod gate;
pub mod headers;
pub mod raw_io;
pub mod server;

pub use error::{ApiError, Lang};
