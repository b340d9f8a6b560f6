//! The child's stdout format, shared by both halves so they cannot drift apart.
//!
//! ```text
//! MAGIC                                   8 bytes
//! section*: tag (1 byte) ‖ length (u64 big-endian) ‖ body
//!   OUTPUT     exactly one, first: the sanitized file
//!   INFO       exactly one: width ‖ height (u32 big-endian each; 0 for text)
//!   THUMBNAIL  at most one: a PNG
//!   END        last, length 0; nothing may follow it
//! ```
//! The lengths come first so the parent can refuse an oversize output before it writes a byte
//! of it, and the end marker makes a child that died half-way through writing (or a pipe cut
//! short) an error rather than a shorter file that looks complete.

/// Opens every stream; a child that prints anything else first is not a sanitizer.
pub(crate) const MAGIC: &[u8; 8] = b"BSKSAN\x00\x01";
/// The sanitized file.
pub(crate) const OUTPUT: u8 = b'O';
/// Width and height.
pub(crate) const INFO: u8 = b'I';
/// The thumbnail PNG.
pub(crate) const THUMBNAIL: u8 = b'T';
/// The end marker.
pub(crate) const END: u8 = b'E';

/// Writes one section header; the body follows from the caller.
pub(crate) fn header(w: &mut impl std::io::Write, tag: u8, len: u64) -> std::io::Result<()> {
    w.write_all(&[tag])?;
    w.write_all(&len.to_be_bytes())
}
