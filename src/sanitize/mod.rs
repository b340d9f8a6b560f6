//! The attachment sanitizer (I9, issue 9): an attachment is decoded and re-encoded in a
//! separate, locked-down process before it is sealed, which is the only stripping that removed
//! EXIF, GPS, XMP, comments and data appended after the image (CRATES.md, "images").
//!
//! Two halves share this room:
//! - the parent side, here: [`Kind::sniff`] decides what an upload is from its bytes, and
//!   [`run`] starts `bisik sanitize` (the same binary), pipes the plaintext in and streams the
//!   clean file out to the caller's writer (the STREAM sealer), returning a [`Sanitized`] with
//!   the thumbnail and dimensions, or a [`SanitizeError`];
//! - the child side, [`child`]: rlimits, Landlock, then decode, orient and re-encode. Its
//!   stdout format is in `frame.rs`.
//!
//! A decoder bug is then a crash of a process that holds one file, no key, no file descriptor
//! but its pipes and no way to open another. The room imports nothing from the crate: it never
//! sees keys, the store or the web side.

pub mod child;
mod frame;

use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What the content is, decided from its first bytes, never from a name or Content-Type: a
/// reporter's file name or browser says nothing we can trust, and a disguised type must meet
/// the decoder for what it really is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// JPEG (cleanable, stays JPEG).
    Jpeg,
    /// PNG (cleanable, stays PNG).
    Png,
    /// WebP (cleanable, comes out as PNG: there is no WebP encoder we trust to add nothing).
    Webp,
    /// UTF-8 plain text (cleanable).
    Text,
    /// PDF (not cleanable: kept only with the reporter's consent).
    Pdf,
    /// HEIF/HEIC or AVIF still images, as iPhones take them (not cleanable: no decoder here).
    /// Told apart from MP4 by the `ftyp` brand, since they share the container.
    Heic,
    /// ISO base media: MP4, MOV, M4A voice notes, 3GP (not cleanable).
    Mp4,
    /// Ogg: Opus or Vorbis voice notes (not cleanable).
    Ogg,
    /// MPEG audio (not cleanable).
    Mp3,
    /// WebM / Matroska video (not cleanable).
    Webm,
    /// RIFF WAVE audio (not cleanable).
    Wav,
    /// Anything else, including an empty file.
    Unknown,
}

/// Every kind, for config validation and tests.
const ALL: [Kind; 12] = [
    Kind::Jpeg,
    Kind::Png,
    Kind::Webp,
    Kind::Text,
    Kind::Pdf,
    Kind::Heic,
    Kind::Mp4,
    Kind::Ogg,
    Kind::Mp3,
    Kind::Webm,
    Kind::Wav,
    Kind::Unknown,
];

impl Kind {
    /// Decides the kind from the first bytes of a file (a few hundred are plenty; `head` may
    /// be the whole file). Binary signatures win over text; text is valid UTF-8 without NUL,
    /// where a multi-byte character cut by the end of `head` is allowed, so a head buffer that
    /// ends mid-character does not turn an Indonesian or Arabic note into `Unknown`.
    pub fn sniff(head: &[u8]) -> Kind {
        let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
        if at(0, b"\xFF\xD8\xFF") {
            Kind::Jpeg
        } else if at(0, b"\x89PNG\r\n\x1A\n") {
            Kind::Png
        } else if at(0, b"RIFF") && at(8, b"WEBP") {
            Kind::Webp
        } else if at(0, b"RIFF") && at(8, b"WAVE") {
            Kind::Wav
        } else if at(0, b"%PDF-") {
            Kind::Pdf
        } else if at(4, b"ftyp") {
            let still = [
                b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis",
            ];
            if still.iter().any(|brand| at(8, *brand)) {
                Kind::Heic
            } else {
                Kind::Mp4
            }
        } else if at(0, b"OggS") {
            Kind::Ogg
        } else if at(0, b"\x1A\x45\xDF\xA3") {
            Kind::Webm
        } else if at(0, b"ID3") || is_mpeg_audio_frame(head) {
            Kind::Mp3
        } else if is_text(head) {
            Kind::Text
        } else {
            Kind::Unknown
        }
    }

    /// The stable name used in config lists, on the child's command line and in sealed item
    /// metadata.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::Png => "png",
            Kind::Webp => "webp",
            Kind::Text => "text",
            Kind::Pdf => "pdf",
            Kind::Heic => "heic",
            Kind::Mp4 => "mp4",
            Kind::Ogg => "ogg",
            Kind::Mp3 => "mp3",
            Kind::Webm => "webm",
            Kind::Wav => "wav",
            Kind::Unknown => "unknown",
        }
    }

    /// The inverse of [`Kind::id`], so config lists of allowed kinds are checked against what
    /// `sniff` can actually say.
    pub fn from_id(id: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.id() == id)
    }

    /// Whether the sanitizer can clean this kind. The others carry metadata we cannot remove
    /// and are kept only when the reporter consents for that very file (I9).
    pub fn cleanable(self) -> bool {
        matches!(self, Kind::Jpeg | Kind::Png | Kind::Webp | Kind::Text)
    }

    /// The kind of the sanitizer's output for this input: WebP comes out as PNG.
    pub fn output(self) -> Kind {
        match self {
            Kind::Webp => Kind::Png,
            k => k,
        }
    }

    /// The Content-Type of the *sanitized* output (so WebP gives `image/png`), for the desk's
    /// download; never the type the reporter's browser claimed.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png | Kind::Webp => "image/png",
            Kind::Text => "text/plain; charset=utf-8",
            Kind::Pdf => "application/pdf",
            Kind::Heic => "image/heif",
            Kind::Mp4 => "video/mp4",
            Kind::Ogg => "audio/ogg",
            Kind::Mp3 => "audio/mpeg",
            Kind::Webm => "video/webm",
            Kind::Wav => "audio/wav",
            Kind::Unknown => "application/octet-stream",
        }
    }

    /// The file extension of the sanitized output, for the safe download name the desk makes.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png | Kind::Webp => "png",
            Kind::Text => "txt",
            Kind::Pdf => "pdf",
            Kind::Heic => "heic",
            Kind::Mp4 => "mp4",
            Kind::Ogg => "ogg",
            Kind::Mp3 => "mp3",
            Kind::Webm => "webm",
            Kind::Wav => "wav",
            Kind::Unknown => "bin",
        }
    }
}

/// An MPEG audio Layer III frame header without an ID3 tag: 11 sync bits, a version other
/// than the reserved one, layer bits 01, and a usable bitrate and sample rate. Asking for
/// Layer III alone keeps a UTF-16 byte-order mark (FF FE), which reads as a Layer I header,
/// and ADTS AAC (layer 00) out.
fn is_mpeg_audio_frame(head: &[u8]) -> bool {
    matches!(head, [0xFF, b, c, ..]
        if b & 0xE0 == 0xE0 && b & 0x18 != 0x08 && b & 0x06 == 0x02
            && c >> 4 != 0x0F && (c >> 2) & 0x03 != 0x03)
}

/// Valid UTF-8 with no NUL, allowing one character cut by the end of `head`.
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // `error_len() == None` means the input ended inside a character, not a bad byte.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

/// The bounds one sanitizer run works within. They are passed to the child on its command
/// line, so the intake's config decides them and tests can tighten them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Width × height above which an image is refused before it is decoded (a decompression
    /// bomb claims billions). 40 MP covers phone photos with room to spare.
    pub max_pixels: u64,
    /// Largest sanitized file the parent accepts: a PNG re-encode can outgrow its input.
    pub max_output: u64,
    /// Largest input the child reads; one byte more is [`SanitizeError::TooLarge`].
    pub max_input: u64,
    /// Longest side of the thumbnail, in pixels.
    pub thumb_px: u32,
    /// The child's address-space rlimit in bytes: what bounds memory if a decoder misbehaves.
    pub address_space: u64,
    /// The child's CPU-time rlimit in seconds.
    pub cpu_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 40_000_000,
            max_output: 64 << 20,
            max_input: 20 << 20,
            thumb_px: 320,
            address_space: 1 << 30,
            cpu_seconds: 30,
        }
    }
}

/// What the caller keeps besides the clean file it already received through its writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sanitized {
    /// The output kind (WebP input gives `Png`), which decides the stored mime type.
    pub kind: Kind,
    /// Width in pixels after orientation; 0 for text.
    pub width: u32,
    /// Height in pixels after orientation; 0 for text.
    pub height: u32,
    /// A PNG whose longest side is at most `thumb_px`, for the desk's inline view, so the desk
    /// never decodes an attachment itself; `None` for text.
    pub thumbnail: Option<Vec<u8>>,
}

/// Why a file was not sanitized. The variants are what the intake tells the reporter apart;
/// none of them carries any of the file's content.
#[derive(Debug, thiserror::Error)]
pub enum SanitizeError {
    /// The image claims more pixels than [`Limits::max_pixels`] (a decompression bomb, or just
    /// too big), refused before decoding.
    #[error("the image has too many pixels")]
    TooManyPixels,
    /// The bytes do not decode as the kind they were sniffed as (damaged, or disguised), or the
    /// text is not valid UTF-8.
    #[error("the file cannot be decoded")]
    Undecodable,
    /// The input or the sanitized output is over its limit.
    #[error("the file is too large")]
    TooLarge,
    /// The child was killed by a signal: SIGKILL from outside, or an rlimit (CPU time gives
    /// SIGXCPU, address space ends in an aborted allocation).
    #[error("the sanitizer was killed")]
    Killed,
    /// Anything else; the text is for the log and says nothing about the file.
    #[error("the sanitizer failed: {0}")]
    Failed(String),
}

/// The words the child prints after `sanitize: ` on stderr; the parent maps them back.
pub(crate) mod word {
    /// [`super::SanitizeError::TooManyPixels`].
    pub const TOO_MANY_PIXELS: &str = "too-many-pixels";
    /// [`super::SanitizeError::Undecodable`].
    pub const UNDECODABLE: &str = "undecodable";
    /// [`super::SanitizeError::TooLarge`].
    pub const TOO_LARGE: &str = "too-large";
    /// An allocation refused under the address-space rlimit that the child could report
    /// itself (most end in an abort instead): [`super::SanitizeError::Killed`].
    pub const OUT_OF_MEMORY: &str = "out-of-memory";
}

/// The environment variable that makes the child sleep between reading its input and writing
/// its output, so a test can kill it mid-work. Only [`run_with`] sets it in the child.
pub const TEST_SLEEP_ENV: &str = "BISIK_SANITIZER_TEST_SLEEP_MS";

/// The environment variable that makes the child, once locked down, try to open a file and
/// connect to a local TCP port (`PATH:PORT`) and fail if either works, so a test can see that
/// Landlock holds. Only [`run_with`] sets it in the child.
pub const TEST_ESCAPE_ENV: &str = "BISIK_SANITIZER_TEST_ESCAPE";

/// How much of the child's stderr is kept; the rest is read and dropped so the child never
/// blocks on a full pipe.
const STDERR_KEEP: usize = 4096;
/// Largest thumbnail section accepted: a 320 px RGBA PNG is far below this.
const MAX_THUMBNAIL: u64 = 8 << 20;
/// Pipe copy chunk.
const CHUNK: usize = 64 * 1024;

/// Test hooks for [`run_with`]; production uses [`run`], which passes none.
#[derive(Debug, Default)]
pub struct Hooks {
    /// Receives the child's pid once it is spawned, so a test can signal it.
    pub pid: Option<tokio::sync::oneshot::Sender<u32>>,
    /// Sets [`TEST_SLEEP_ENV`] in the child to this many milliseconds.
    pub sleep_ms: Option<u64>,
    /// Sets [`TEST_ESCAPE_ENV`] in the child: a file it must fail to open and a local TCP port
    /// it must fail to reach.
    pub escape: Option<(std::path::PathBuf, u16)>,
}

/// Sanitizes one file in a child process: runs `exe sanitize --kind K ...` (`exe` is
/// `std::env::current_exe()` in the server; tests pass their built binary), feeds it `input`
/// (the plaintext, read in chunks), and streams the clean file into `out` (the STREAM sealer)
/// without holding it whole in the parent. Returns the dimensions and thumbnail once the child
/// has exited 0 and its output was complete.
///
/// On any error, `out` may have received part of a file: the caller must discard it (a sealer
/// that is never finalised does exactly that). `out` is flushed but not shut down, so the
/// caller finalises the seal. Dropping the future kills the child (a cancelled upload). There
/// is no wall-clock timeout here; the CPU rlimit bounds work, and a caller that wants one wraps
/// this in `tokio::time::timeout`.
pub async fn run(
    exe: &Path,
    kind: Kind,
    limits: &Limits,
    input: impl AsyncRead + Unpin,
    out: &mut (impl AsyncWrite + Unpin),
) -> Result<Sanitized, SanitizeError> {
    run_with(exe, kind, limits, input, out, Hooks::default()).await
}

/// [`run`] with [`Hooks`] for tests: learn the child's pid, make it sleep, make it try to
/// break out of its sandbox.
pub async fn run_with(
    exe: &Path,
    kind: Kind,
    limits: &Limits,
    mut input: impl AsyncRead + Unpin,
    out: &mut (impl AsyncWrite + Unpin),
    hooks: Hooks,
) -> Result<Sanitized, SanitizeError> {
    if !kind.cleanable() {
        return Err(SanitizeError::Failed(format!(
            "kind {} is not cleanable",
            kind.id()
        )));
    }
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("sanitize")
        .args(["--kind", kind.id()])
        .args(["--max-pixels", &limits.max_pixels.to_string()])
        .args(["--max-input", &limits.max_input.to_string()])
        .args(["--max-output", &limits.max_output.to_string()])
        .args(["--thumb-px", &limits.thumb_px.to_string()])
        .args(["--address-space", &limits.address_space.to_string()])
        .args(["--cpu-seconds", &limits.cpu_seconds.to_string()])
        // The server's environment (database URLs, config paths) is none of the child's business.
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(ms) = hooks.sleep_ms {
        cmd.env(TEST_SLEEP_ENV, ms.to_string());
    }
    if let Some((path, port)) = &hooks.escape {
        cmd.env(TEST_ESCAPE_ENV, format!("{}:{port}", path.display()));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| SanitizeError::Failed(format!("cannot start the sanitizer: {e}")))?;
    if let (Some(tx), Some(pid)) = (hooks.pid, child.id()) {
        let _ = tx.send(pid);
    }
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(SanitizeError::Failed("sanitizer pipes missing".into()));
    };

    // Stderr on its own task, so the child never blocks on it; stdin and stdout together, so
    // the child may fill stdout while we still write stdin. A failed read of the upload or a
    // bad frame stops both at once: the child must not go on cleaning a truncated file.
    let errors = tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let room = STDERR_KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        kept
    });
    let feed = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = input.read(&mut buf).await.map_err(|e| {
                Stop::Ours(SanitizeError::Failed(format!(
                    "reading the upload: {}",
                    e.kind()
                )))
            })?;
            if n == 0 {
                return Ok(());
            }
            if stdin.write_all(&buf[..n]).await.is_err() {
                // The child stopped reading (too large, or it died): its status says why.
                return Ok(());
            }
        }
    };
    let outcome = tokio::try_join!(feed, read_frames(&mut stdout, out, limits));
    if let Err(Stop::Ours(_)) = outcome {
        let _ = child.start_kill();
    }
    let status = child
        .wait()
        .await
        .map_err(|e| SanitizeError::Failed(format!("waiting for the sanitizer: {e}")))?;
    let stderr = errors.await.unwrap_or_default();
    let ((), (width, height, thumbnail)) = match outcome {
        Err(Stop::Ours(e)) => return Err(e),
        Err(Stop::Cut) => {
            return Err(status_error(status, &stderr)
                .unwrap_or_else(|| SanitizeError::Failed("sanitizer output cut short".into())));
        }
        Ok(parsed) => match status_error(status, &stderr) {
            Some(e) => return Err(e),
            None => parsed,
        },
    };
    Ok(Sanitized {
        kind: kind.output(),
        width,
        height,
        thumbnail,
    })
}

/// Why the pipe work stopped early: the child's stdout ended (its exit status says why), or
/// the parent found a fault of its own (the upload, a bad frame, the output writer).
enum Stop {
    Cut,
    Ours(SanitizeError),
}

/// Maps a child's exit to an error, or `None` for success. Only fixed words from stderr are
/// trusted, so no decoder message (which might quote input bytes) reaches a log.
fn status_error(status: std::process::ExitStatus, stderr: &[u8]) -> Option<SanitizeError> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return None;
    }
    if status.signal().is_some() {
        return Some(SanitizeError::Killed);
    }
    let said = String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("sanitize: ").map(str::to_owned))
        .filter(|w| w.len() <= 40 && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    Some(match said.as_deref() {
        Some(word::TOO_MANY_PIXELS) => SanitizeError::TooManyPixels,
        Some(word::UNDECODABLE) => SanitizeError::Undecodable,
        Some(word::TOO_LARGE) => SanitizeError::TooLarge,
        Some(word::OUT_OF_MEMORY) => SanitizeError::Killed,
        Some(w) => SanitizeError::Failed(format!("sanitizer: {w}")),
        None => SanitizeError::Failed(format!("sanitizer exited with {status}")),
    })
}

/// Reads the child's framed stdout (frame.rs), copying the output section into `out` chunk by
/// chunk. Returns width, height and thumbnail.
async fn read_frames(
    r: &mut (impl AsyncRead + Unpin),
    out: &mut (impl AsyncWrite + Unpin),
    limits: &Limits,
) -> Result<(u32, u32, Option<Vec<u8>>), Stop> {
    let cut = |_| Stop::Cut;
    let bad = |what: &str| Stop::Ours(SanitizeError::Failed(format!("sanitizer output {what}")));
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).await.map_err(cut)?;
    if &magic != frame::MAGIC {
        return Err(bad("malformed"));
    }
    let (mut info, mut thumbnail, mut wrote) = (None, None, false);
    loop {
        let tag = r.read_u8().await.map_err(cut)?;
        let len = r.read_u64().await.map_err(cut)?;
        match tag {
            frame::OUTPUT if !wrote => {
                if len > limits.max_output {
                    return Err(Stop::Ours(SanitizeError::TooLarge));
                }
                copy_exact(r, out, len).await?;
                wrote = true;
            }
            frame::INFO if wrote && info.is_none() && len == 8 => {
                info = Some((
                    r.read_u32().await.map_err(cut)?,
                    r.read_u32().await.map_err(cut)?,
                ));
            }
            frame::THUMBNAIL if wrote && thumbnail.is_none() && len <= MAX_THUMBNAIL => {
                let mut t = vec![0u8; len as usize];
                r.read_exact(&mut t).await.map_err(cut)?;
                thumbnail = Some(t);
            }
            frame::END if len == 0 => break,
            _ => return Err(bad("malformed")),
        }
    }
    if r.read_u8().await.is_ok() {
        return Err(bad("goes on after its end marker"));
    }
    let Some((width, height)) = info.filter(|_| wrote) else {
        return Err(bad("incomplete"));
    };
    Ok((width, height, thumbnail))
}

/// Copies exactly `len` bytes from `r` to `out`, in chunks.
async fn copy_exact(
    r: &mut (impl AsyncRead + Unpin),
    out: &mut (impl AsyncWrite + Unpin),
    mut len: u64,
) -> Result<(), Stop> {
    let writing = |e: std::io::Error| {
        Stop::Ours(SanitizeError::Failed(format!(
            "writing the output: {}",
            e.kind()
        )))
    };
    let mut buf = vec![0u8; CHUNK];
    while len > 0 {
        let want = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        let n = r.read(&mut buf[..want]).await.map_err(|_| Stop::Cut)?;
        if n == 0 {
            return Err(Stop::Cut);
        }
        out.write_all(&buf[..n]).await.map_err(writing)?;
        len -= n as u64;
    }
    out.flush().await.map_err(writing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_magic_is_recognised() {
        let cases: &[(&[u8], Kind)] = &[
            (b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", Kind::Jpeg),
            (b"\xFF\xD8\xFF\xE1\x00\x10Exif\x00\x00", Kind::Jpeg),
            (b"\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR", Kind::Png),
            (b"RIFF\x24\x00\x00\x00WEBPVP8L", Kind::Webp),
            (b"RIFF\x24\x00\x00\x00WAVEfmt ", Kind::Wav),
            (b"%PDF-1.7\n%\xE2\xE3\xCF\xD3", Kind::Pdf),
            (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", Kind::Mp4),
            (b"\x00\x00\x00\x1CftypM4A \x00\x00\x00\x00", Kind::Mp4),
            (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", Kind::Heic),
            (b"\x00\x00\x00\x1Cftypavif\x00\x00\x00\x00", Kind::Heic),
            (b"OggS\x00\x02\x00\x00\x00\x00", Kind::Ogg),
            (b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81", Kind::Webm),
            (b"ID3\x04\x00\x00\x00\x00\x00\x00", Kind::Mp3),
            (b"\xFF\xFB\x90\x64\x00\x00\x00\x00", Kind::Mp3),
        ];
        for (head, want) in cases {
            assert_eq!(Kind::sniff(head), *want, "{head:?}");
        }
    }

    #[test]
    fn text_is_utf8_without_nul_even_when_cut_mid_character() {
        assert_eq!(Kind::sniff(b"Ada transaksi di gang 3\r\n"), Kind::Text);
        let note = "Rumah hijau — dekat masjid, جنب المسجد".as_bytes();
        assert_eq!(Kind::sniff(note), Kind::Text);
        // The head buffer ends inside the last character (a 2-byte Arabic letter).
        assert_eq!(Kind::sniff(&note[..note.len() - 1]), Kind::Text);
        // A bad byte in the middle is not a cut character.
        assert_eq!(Kind::sniff(b"abc\xFFdef"), Kind::Unknown);
        assert_eq!(Kind::sniff(b"abc\xC3"), Kind::Text);
        assert_eq!(Kind::sniff(b"abc\xC3("), Kind::Unknown);
        assert_eq!(Kind::sniff(b"text\0with a NUL"), Kind::Unknown);
        // UTF-16 has NULs: not text for us.
        assert_eq!(Kind::sniff(b"\xFF\xFEh\0i\0"), Kind::Unknown);
        assert_eq!(Kind::sniff(b""), Kind::Unknown);
        assert_eq!(Kind::sniff(b"\x00\x01\x02\x03binary"), Kind::Unknown);
    }

    #[test]
    fn only_bytes_count_not_names() {
        // A JPEG named "photo.png" reaches sniff as its bytes alone: still a JPEG. And the
        // text "PNG" or a name-like string is text, not an image.
        let jpeg_named_png = b"\xFF\xD8\xFF\xDB\x00\x43\x00";
        assert_eq!(Kind::sniff(jpeg_named_png), Kind::Jpeg);
        assert_eq!(Kind::sniff(b"photo.png"), Kind::Text);
        // ADTS AAC (layer bits 00) is not MPEG audio layer I-III.
        assert_eq!(Kind::sniff(b"\xFF\xF1\x50\x80"), Kind::Unknown);
    }

    /// A whole child stdout: output, info, thumbnail, end.
    fn stream(output: &[u8], thumb: &[u8]) -> Vec<u8> {
        let mut v = frame::MAGIC.to_vec();
        frame::header(&mut v, frame::OUTPUT, output.len() as u64).unwrap();
        v.extend_from_slice(output);
        frame::header(&mut v, frame::INFO, 8).unwrap();
        v.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 2]);
        frame::header(&mut v, frame::THUMBNAIL, thumb.len() as u64).unwrap();
        v.extend_from_slice(thumb);
        frame::header(&mut v, frame::END, 0).unwrap();
        v
    }

    async fn parse(
        bytes: &[u8],
        limits: &Limits,
    ) -> (Result<(u32, u32, Option<Vec<u8>>), Stop>, Vec<u8>) {
        let mut out = Vec::new();
        let r = read_frames(&mut &bytes[..], &mut out, limits).await;
        (r, out)
    }

    #[tokio::test]
    async fn frames_parse_and_every_cut_is_an_error() {
        let limits = Limits::default();
        let whole = stream(b"clean file", b"thumb");
        let (r, out) = parse(&whole, &limits).await;
        assert_eq!(r.ok(), Some((3, 2, Some(b"thumb".to_vec()))));
        assert_eq!(out, b"clean file");
        for len in 0..whole.len() {
            let (r, _) = parse(&whole[..len], &limits).await;
            assert!(
                matches!(r, Err(Stop::Cut)),
                "a stream cut at {len} was accepted"
            );
        }
        let mut longer = whole.clone();
        longer.push(0);
        assert!(matches!(
            parse(&longer, &limits).await.0,
            Err(Stop::Ours(_))
        ));
        let mut bad_magic = whole.clone();
        bad_magic[0] ^= 1;
        assert!(matches!(
            parse(&bad_magic, &limits).await.0,
            Err(Stop::Ours(_))
        ));
    }

    #[tokio::test]
    async fn an_oversize_output_is_refused_before_a_byte_is_written() {
        let limits = Limits {
            max_output: 9,
            ..Limits::default()
        };
        let (r, out) = parse(&stream(b"0123456789", b""), &limits).await;
        assert!(matches!(r, Err(Stop::Ours(SanitizeError::TooLarge))));
        assert!(out.is_empty());
        // Sections out of order: a thumbnail before the output is malformed.
        let mut v = frame::MAGIC.to_vec();
        frame::header(&mut v, frame::THUMBNAIL, 0).unwrap();
        assert!(matches!(parse(&v, &limits).await.0, Err(Stop::Ours(_))));
    }

    #[test]
    fn ids_round_trip_and_outputs_are_consistent() {
        for k in ALL {
            assert_eq!(Kind::from_id(k.id()), Some(k));
            assert_eq!(k.mime(), k.output().mime());
            assert_eq!(k.extension(), k.output().extension());
        }
        assert_eq!(Kind::from_id("exe"), None);
        assert_eq!(Kind::Webp.output(), Kind::Png);
        assert_eq!(Kind::Webp.mime(), "image/png");
        let cleanable: Vec<_> = ALL.into_iter().filter(|k| k.cleanable()).collect();
        assert_eq!(cleanable, [Kind::Jpeg, Kind::Png, Kind::Webp, Kind::Text]);
    }
}
