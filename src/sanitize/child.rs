//! The child side: `bisik sanitize` (hidden), started only by [`super::run`]. It locks itself
//! down, reads one file from stdin, and writes the clean file and thumbnail on stdout in the
//! format of `frame.rs`. On failure it prints one fixed word (`sanitize: undecodable`) on
//! stderr and never anything about the content, since stderr can end up in a log.
//!
//! Lock-down, in order, before a byte of input is read:
//! 1. rlimits: no core dump (it would hold the plaintext), address space and CPU time bounded,
//!    no file may be written (`FSIZE` 0), a handful of descriptors;
//! 2. Landlock, every filesystem right (and TCP bind/connect, and the scopes, where the ABI has
//!    them) handled with no path allowed, so nothing can be opened. Best effort: a kernel
//!    without Landlock runs with the rlimits alone, which is why they come first and do not
//!    depend on it. (An empty or missing /sys/kernel/security/lsm does not mean no Landlock:
//!    the development machine has no securityfs mounted and still enforces ABI 7, which the
//!    escape test in tests/integration/sanitize.rs shows.)

use super::{Kind, frame, word};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::{Cursor, Read, Write};
use std::process::ExitCode;

/// The child's command line. The parent always passes every flag; the defaults are there so a
/// developer can run `bisik sanitize --kind jpeg < in > out` by hand.
#[derive(clap::Args, Debug)]
pub struct SanitizeArgs {
    /// What the input is (`jpeg`, `png`, `webp`, `text`); it picks the decoder, nothing is
    /// guessed from the bytes.
    #[arg(long, value_parser = parse_kind)]
    pub kind: Kind,
    /// Refuse an image whose width × height is larger, before decoding it.
    #[arg(long, default_value_t = 40_000_000)]
    pub max_pixels: u64,
    /// Refuse an input longer than this many bytes.
    #[arg(long, default_value_t = 20 << 20)]
    pub max_input: u64,
    /// Refuse a sanitized file longer than this many bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_output: u64,
    /// Longest side of the thumbnail.
    #[arg(long, default_value_t = 320)]
    pub thumb_px: u32,
    /// Address-space rlimit, bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub address_space: u64,
    /// CPU-time rlimit, seconds.
    #[arg(long, default_value_t = 30)]
    pub cpu_seconds: u64,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::from_id(s)
        .filter(|k| k.cleanable())
        .ok_or_else(|| "not a cleanable kind".to_owned())
}

/// Why the child gave up; each maps to one fixed word on stderr.
#[derive(Debug)]
enum Refusal {
    TooManyPixels,
    Undecodable,
    TooLarge,
    /// A fixed internal reason, e.g. `encode`.
    Internal(&'static str),
}

/// Runs the child. Its exit code is 0 on success and 1 otherwise; the parent reads the reason
/// from stderr.
pub fn main(args: SanitizeArgs) -> ExitCode {
    match sanitize(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(r) => {
            let w = match r {
                Refusal::TooManyPixels => word::TOO_MANY_PIXELS,
                Refusal::Undecodable => word::UNDECODABLE,
                Refusal::TooLarge => word::TOO_LARGE,
                Refusal::Internal(w) => w,
            };
            eprintln!("sanitize: {w}");
            ExitCode::FAILURE
        }
    }
}

fn sanitize(args: &SanitizeArgs) -> Result<(), Refusal> {
    set_rlimits(args).map_err(|_| Refusal::Internal("rlimit"))?;
    // Best effort by design (module doc); its status is not printed, because nothing here
    // should tell a log more than the outcome.
    let sandbox = landlock_everything();
    if let Ok(path) = std::env::var(super::TEST_ESCAPE_ENV) {
        try_escape(&path, sandbox.as_ref().ok())?;
    }

    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(args.max_input.saturating_add(1))
        .read_to_end(&mut input)
        .map_err(|e| match e.kind() {
            // The address-space rlimit, met while buffering the input.
            std::io::ErrorKind::OutOfMemory => Refusal::Internal(word::OUT_OF_MEMORY),
            _ => Refusal::Internal("read"),
        })?;
    if input.len() as u64 > args.max_input {
        return Err(Refusal::TooLarge);
    }
    if let Some(ms) = std::env::var(super::TEST_SLEEP_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    let (output, width, height, thumbnail) = match args.kind {
        Kind::Text => (clean_text(&input)?.into_bytes(), 0, 0, None),
        kind => {
            let img = decode(&input, kind, args.max_pixels)?;
            drop(input);
            let output = encode(&img, kind.output())?;
            let thumb = thumbnail(&img, args.thumb_px)?;
            (output, img.width(), img.height(), Some(thumb))
        }
    };
    if output.len() as u64 > args.max_output {
        return Err(Refusal::TooLarge);
    }

    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock<'_>| -> std::io::Result<()> {
        out.write_all(frame::MAGIC)?;
        frame::header(out, frame::OUTPUT, output.len() as u64)?;
        out.write_all(&output)?;
        frame::header(out, frame::INFO, 8)?;
        out.write_all(&width.to_be_bytes())?;
        out.write_all(&height.to_be_bytes())?;
        if let Some(t) = &thumbnail {
            frame::header(out, frame::THUMBNAIL, t.len() as u64)?;
            out.write_all(t)?;
        }
        frame::header(out, frame::END, 0)?;
        out.flush()
    };
    write(&mut out).map_err(|_| Refusal::Internal("write"))
}

fn set_rlimits(args: &SanitizeArgs) -> std::io::Result<()> {
    use rlimit::{Resource, setrlimit};
    setrlimit(Resource::CORE, 0, 0)?;
    setrlimit(Resource::AS, args.address_space, args.address_space)?;
    // SIGXCPU at the soft limit ends the process; the hard limit (SIGKILL) one second later
    // catches a process that ignored it.
    setrlimit(
        Resource::CPU,
        args.cpu_seconds,
        args.cpu_seconds.saturating_add(1),
    )?;
    setrlimit(Resource::FSIZE, 0, 0)?;
    // stdin, stdout, stderr and the Landlock ruleset's own descriptor, with a little room.
    setrlimit(Resource::NOFILE, 8, 8)
}

/// Handles every access right this crate knows, allows none, and restricts the (single)
/// thread. With no rule added, any open(2), and a TCP bind or connect where the kernel's ABI
/// covers it, is denied; the pipes already open stay usable.
fn landlock_everything() -> Result<landlock::RestrictionStatus, landlock::RulesetError> {
    use landlock::{ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, Scope};
    let abi = ABI::V6;
    Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .handle_access(AccessNet::from_all(abi))?
        .scope(Scope::from_all(abi))?
        .create()?
        .restrict_self()
}

/// The test hook of [`super::TEST_ESCAPE_ENV`]: tries to open `path` and to connect to TCP
/// `127.0.0.1:port` (`path:port`), both of which Landlock must deny. A kernel without Landlock
/// is reported as such rather than as a hole, so the test can tell the two apart.
fn try_escape(spec: &str, sandbox: Option<&landlock::RestrictionStatus>) -> Result<(), Refusal> {
    let available = sandbox.is_some_and(|s| s.ruleset != landlock::RulesetStatus::NotEnforced);
    let (path, port) = spec.rsplit_once(':').unwrap_or((spec, "0"));
    let opened = std::fs::File::open(path).is_ok();
    let connected = port
        .parse::<u16>()
        .is_ok_and(|p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok());
    match (opened || connected, available) {
        (false, _) => Ok(()),
        (true, false) => Err(Refusal::Internal("landlock-unavailable")),
        (true, true) if opened => Err(Refusal::Internal("escaped-by-open")),
        (true, true) => Err(Refusal::Internal("escaped-by-connect")),
    }
}

/// Decodes with the decoder fixed by `kind`, refusing a bomb from its header alone.
fn decode(input: &[u8], kind: Kind, max_pixels: u64) -> Result<DynamicImage, Refusal> {
    let format = match kind {
        Kind::Jpeg => ImageFormat::Jpeg,
        Kind::Png => ImageFormat::Png,
        Kind::Webp => ImageFormat::WebP,
        _ => return Err(Refusal::Internal("kind")),
    };
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    // The decoded image at up to 16 bits × 4 channels, plus the decoder's own working memory.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(Refusal::TooManyPixels);
    }
    // A missing or unreadable EXIF orientation is "as stored", not an error.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn refusal(e: image::ImageError) -> Refusal {
    match e {
        image::ImageError::Limits(_) => Refusal::TooManyPixels,
        image::ImageError::Decoding(_)
        | image::ImageError::Unsupported(_)
        | image::ImageError::Parameter(_)
        | image::ImageError::IoError(_) => Refusal::Undecodable,
        image::ImageError::Encoding(_) => Refusal::Internal("encode"),
    }
}

/// Re-encodes from pixels alone, so nothing of the input container (EXIF, XMP, ICC, comments,
/// text chunks, trailing data) can come along.
fn encode(img: &DynamicImage, kind: Kind) -> Result<Vec<u8>, Refusal> {
    use image::codecs::{jpeg::JpegEncoder, png::PngEncoder};
    let mut out = Vec::new();
    let done = match kind {
        Kind::Jpeg => {
            // JPEG has no alpha and no 16-bit samples; a JPEG decoder gives L8 or Rgb8 anyway.
            // Converted only when needed: a 40 MP copy is 120 MB of the child's address space.
            let converted;
            let img = match img {
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => img,
                other => {
                    converted = DynamicImage::ImageRgb8(other.to_rgb8());
                    &converted
                }
            };
            img.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
        }
        Kind::Png => img.write_with_encoder(PngEncoder::new(&mut out)),
        _ => return Err(Refusal::Internal("kind")),
    };
    done.map_err(|_| Refusal::Internal("encode"))?;
    Ok(out)
}

/// A PNG whose longest side is at most `px`, for the desk's inline view.
fn thumbnail(img: &DynamicImage, px: u32) -> Result<Vec<u8>, Refusal> {
    let px = px.max(1);
    let small = if img.width() > px || img.height() > px {
        img.resize(px, px, image::imageops::FilterType::Triangle)
    } else {
        img.clone()
    };
    let small = if small.color().has_alpha() {
        DynamicImage::ImageRgba8(small.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(small.to_rgb8())
    };
    encode(&small, Kind::Png)
}

/// Strict UTF-8 in, UTF-8 out: a lossy decode would turn damage into U+FFFD and hide it, so
/// invalid UTF-8 is refused. Line ends become `\n` (`\r\n` and a lone `\r` alike). Removed:
/// C0 controls except `\t` and `\n`, DEL and C1 controls (they drive terminals and hide
/// text), U+FEFF (a byte-order mark or zero-width no-break space, which only marks the file's
/// origin), and the Unicode Bidi_Control characters (U+061C, U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069), which can make the desk show text in another order than it is written
/// ("Trojan Source"). Letters of every script, emoji and joiners (U+200C, U+200D) are kept.
fn clean_text(input: &[u8]) -> Result<String, Refusal> {
    let text = std::str::from_utf8(input).map_err(|_| Refusal::Undecodable)?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            '\u{FEFF}'
            | '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_letters_and_drops_controls_bidi_and_bom() {
        let dirty = "\u{FEFF}Jl. Mawar\r\nno. 5\rlantai\t2\u{1B}[31m\u{7F}\u{85}\u{202E}gnp.exe\u{2066}\u{200F}x\0";
        assert_eq!(
            clean_text(dirty.as_bytes()).unwrap(),
            "Jl. Mawar\nno. 5\nlantai\t2[31mgnp.exex"
        );
        let kept = "جنب المسجد · दुकान · 👩\u{200D}👧 · ZWNJ\u{200C}";
        assert_eq!(clean_text(kept.as_bytes()).unwrap(), kept);
    }

    #[test]
    fn invalid_utf8_is_refused_not_replaced() {
        assert!(matches!(
            clean_text(b"ok \xFF not ok"),
            Err(Refusal::Undecodable)
        ));
        // Cut in the middle of a character: for a whole file that is damage too.
        assert!(matches!(clean_text(b"abc\xC3"), Err(Refusal::Undecodable)));
    }
}
