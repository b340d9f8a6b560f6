//! The load tests, in a test binary of their own. They measure a server against this machine's
//! cores (a flood of 300 attackers, clients that abort mid-Argon2), so they must not share the
//! machine with the other tests: cargo runs test binaries one after another, so this one runs
//! alone, and inside it the flood tests take turns. Same `TestApp` as the integration tests.

#[path = "../integration/support.rs"]
mod support;

/// Abuse bounds: a flood of wrong codes slows reporters down but never locks them out;
/// aborted follow-ups do not pile up Argon2 work.
mod flood;
