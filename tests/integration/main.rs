//! One integration test binary. Every test drives the real `bisik` binary over real HTTP against
//! a real database; most run once on SQLite and once on PostgreSQL (`on_both!`).

mod support;

/// The API's surface: meta, security headers on every response, slow and oversize clients.
mod api_surface;
/// I1: no plaintext at rest, in files, WAL, logs or a pg_dump.
mod at_rest;
/// Attachments (issue 9): multipart in, sanitized, sealed, downloaded clean; bad files refused.
mod attachments;
/// I6: the signed audit log; `audit verify` names edited, deleted and reordered entries and
/// checks the chain against the logbook's checkpoints (issue 6).
mod audit;
/// Bad input gets a clear 4xx and stores nothing.
mod bad_input;
/// A real headless Chromium (JavaScript on or off) for the page tests.
mod browser;
/// The reporter pages in Chromium: the flow with JavaScript off, screenshots, axe-core.
mod browser_intake;
/// I5: `keys certify --user` and `keys grant` end to end, revocation without the offline key,
/// and K_s made by a certified supervisor accepted while a planted one is refused (issue 6).
mod certification;
/// The CLI: configuration errors, key ceremonies, process hardening.
mod cli;
/// Conversation integrity (hash chain, signed heads, no unvouched K_s) and growth (quota,
/// pagination, reporter-only SQL, idempotent messages) (issue 5, sections 3 and 4).
mod conversation;
/// The case desk: accounts, enrolment, TOTP login, sessions, back-off, the admin who cannot read.
mod desk;
/// The desk's JSON API: bearer tokens, triage, need to know, notes kept from the reporter.
mod desk_api;
/// The desk's glue: logins, logouts and account changes audited; disabling a supervisor
/// (CLI or admin page) stops the next tip.
mod desk_audit;
/// The desk's authorization matrix, listener separation and log hygiene.
mod desk_authz;
/// The desk in headless Chromium: an admin makes a supervisor who enrols.
mod desk_browser;
/// Search across sealed fields: session summaries, need to know through results (issue 7).
mod desk_search;
/// Tamper on open (issue 7): a deleted message and items swapped between reports each give the
/// warning and an `integrity_failed` entry.
mod desk_tamper;
/// Issue 7 in Chromium: a tip from the intake API to its late closure, every step audited; and
/// hostile text (I8) rendered inert and literal in the inbox, report and audit pages.
mod desk_workflow;
/// I7: every code that was shown survives SIGKILL.
mod durability;
/// Issue 10, the figures: a hand count, supervisors only, the map in Chromium, the audited
/// export and its suppression, the CLI's refusals.
mod figures;
/// Group commit: batches are all-or-nothing, and one bad report fails alone.
mod group_commit;
/// The module tree keeps the intake away from key-unlocking code (I3).
mod layering;
/// I3: no code or tip text stays in the server's memory after its request.
mod memory;
/// I2: no network identity is recorded and no cookie is set.
mod network_identity;
/// The live server keeps the promises of its OpenAPI document (405 Allow, choices, 415).
mod openapi_conformance;
/// Metrics are coarse gauges, logs cannot be flooded, a full disk refuses messages first.
mod ops;
/// I1 order: after a reshuffle no physical order (pages, WAL, ctid, xmin, pg_dump) follows writes.
mod order_at_rest;
/// Issue 10: the outreach kit's PDFs render, carry their texts and a QR code that decodes to
/// the intake, the announcement, and the refusals; from the config alone.
mod outreach;
/// The reporter pages over HTTP: flows, weight, refusals, resubmission, CSRF, I2/I10.
mod pages;
/// The production split on PostgreSQL: the intake role cannot read the desk schema (I3).
mod production_split;
/// I3 and I5: the intake holds no stored key; only certified keys receive wraps.
mod recipients;
/// I10 and I11: codes never in URLs or caches; the reporter channel is no oracle.
mod reporter_channel;
/// Submit, follow up, message, recover offline; tampering is caught (issue: Core, round trip).
mod round_trip;
/// I9: the attachment sanitizer strips EXIF/GPS/XMP/comments/trailers, refuses bombs and
/// disguised types, and a killed or starved child is a clean error (issue 9).
mod sanitize;
/// I5 inside the desk: a supervisor certifies and shares, an investigator asks, the reporter
/// answers through the intake, the first note makes K_s, unsharing takes it back (issue 6).
mod sharing;
/// Triage (issue 7): status, reasons, priority, duplicates, bulk changes, inbox filters, and
/// the late `closed` the reporter sees (I11).
mod triage;
