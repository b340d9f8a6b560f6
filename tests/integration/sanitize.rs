//! I9 (issue 9): the sanitizer child, run through `sanitize::run` on files built here, leaves no
//! EXIF, GPS, XMP, comment, text chunk or trailing image behind; it refuses bombs, disguised
//! types and invalid text, and a killed or starved child is a clean error.

use bisik::sanitize::{self, Hooks, Kind, Limits, SanitizeError, Sanitized};
use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bisik"))
}

async fn clean(kind: Kind, input: &[u8]) -> Result<(Sanitized, Vec<u8>), SanitizeError> {
    clean_with(kind, input, &Limits::default(), Hooks::default()).await
}

async fn clean_with(
    kind: Kind,
    input: &[u8],
    limits: &Limits,
    hooks: Hooks,
) -> Result<(Sanitized, Vec<u8>), SanitizeError> {
    let mut out = Vec::new();
    let s = tokio::time::timeout(
        Duration::from_secs(60),
        sanitize::run_with(exe(), kind, limits, input, &mut out, hooks),
    )
    .await
    .expect("the sanitizer must never hang")?;
    Ok((s, out))
}

/// `unwrap_err` without printing a whole image when the sanitizer wrongly accepted it.
trait Refused {
    fn refused(self) -> SanitizeError;
}

impl Refused for Result<(Sanitized, Vec<u8>), SanitizeError> {
    fn refused(self) -> SanitizeError {
        match self {
            Ok((s, out)) => panic!(
                "accepted: {:?} {}x{}, {} bytes",
                s.kind,
                s.width,
                s.height,
                out.len()
            ),
            Err(e) => e,
        }
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

pub(crate) fn assert_no_canary(out: &[u8]) {
    for needle in [
        &b"CANARY"[..],
        b"Exif\0\0",
        b"http://ns.adobe.com",
        b"xmpmeta",
    ] {
        assert_eq!(
            find(out, needle),
            0,
            "{:?} survived",
            String::from_utf8_lossy(needle)
        );
    }
}

/// A little-endian TIFF (the body of an EXIF block): Make = `make`, an Orientation when asked,
/// and a GPS IFD with a southern latitude, as a phone writes them.
fn tiff(make: &str, orientation: Option<u16>) -> Vec<u8> {
    // (tag, type, count, value bytes); values over 4 bytes go to the data area after the IFD.
    fn ifd(at: u32, entries: &[(u16, u16, u32, Vec<u8>)]) -> Vec<u8> {
        let mut data_at = at + 2 + 12 * entries.len() as u32 + 4;
        let (mut head, mut data) = (Vec::new(), Vec::new());
        head.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, ty, count, value) in entries {
            head.extend_from_slice(&tag.to_le_bytes());
            head.extend_from_slice(&ty.to_le_bytes());
            head.extend_from_slice(&count.to_le_bytes());
            if value.len() <= 4 {
                let mut v = value.clone();
                v.resize(4, 0);
                head.extend_from_slice(&v);
            } else {
                head.extend_from_slice(&data_at.to_le_bytes());
                data.extend_from_slice(value);
                if value.len() % 2 == 1 {
                    data.push(0);
                }
                data_at += value.len().next_multiple_of(2) as u32;
            }
        }
        head.extend_from_slice(&0u32.to_le_bytes());
        head.extend(data);
        head
    }
    let rational = |n: u32, d: u32| [n.to_le_bytes(), d.to_le_bytes()].concat();
    let mut make = make.as_bytes().to_vec();
    make.push(0);
    let ifd0 = |gps_at: u32| {
        let mut e = vec![(0x010F, 2, make.len() as u32, make.clone())];
        if let Some(o) = orientation {
            e.push((0x0112, 3, 1, o.to_le_bytes().to_vec()));
        }
        e.push((0x8825, 4, 1, gps_at.to_le_bytes().to_vec()));
        ifd(8, &e)
    };
    let gps_at = 8 + ifd0(0).len() as u32;
    let gps = ifd(
        gps_at,
        &[
            (0x0001, 2, 2, b"S\0".to_vec()),
            (
                0x0002,
                5,
                3,
                [rational(6, 1), rational(58, 1), rational(1234, 100)].concat(),
            ),
            (0x0003, 2, 2, b"E\0".to_vec()),
            (
                0x0004,
                5,
                3,
                [rational(110, 1), rational(25, 1), rational(5678, 100)].concat(),
            ),
        ],
    );
    [
        b"II*\0".to_vec(),
        8u32.to_le_bytes().to_vec(),
        ifd0(gps_at),
        gps,
    ]
    .concat()
}

fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 2).unwrap();
    [&[0xFF, marker][..], &len.to_be_bytes(), body].concat()
}

pub(crate) fn plain_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out, 85,
        ))
        .unwrap();
    out
}

/// `jpeg` with `segments` spliced in right after its SOI.
fn splice(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], b"\xFF\xD8");
    [&jpeg[..2], &segments.concat(), &jpeg[2..]].concat()
}

fn exif_segment(make: &str, orientation: Option<u16>) -> Vec<u8> {
    segment(0xE1, &[&b"Exif\0\0"[..], &tiff(make, orientation)].concat())
}

pub(crate) fn has_exif(bytes: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .is_ok()
}

/// The photo from issue 9: EXIF with GPS, XMP, a comment, and a second EXIF-bearing JPEG after
/// the end-of-image marker.
pub(crate) fn tell_tale_jpeg(w: u32, h: u32) -> Vec<u8> {
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">CANARY-XMP</x:xmpmeta>";
    let first = splice(
        &plain_jpeg(w, h),
        &[
            exif_segment("CANARY-MAKE", None),
            segment(0xE1, xmp),
            segment(0xFE, b"CANARY-COMMENT"),
        ],
    );
    let trailer = splice(&plain_jpeg(8, 8), &[exif_segment("CANARY-TRAILER", None)]);
    [first, trailer].concat()
}

#[tokio::test]
async fn sanitize_jpeg_loses_exif_gps_xmp_comment_and_trailer() {
    let input = tell_tale_jpeg(64, 48);
    // The fixture really carries what we say: a parser finds the GPS, bytes find the rest.
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(&input))
        .expect("the fixture's EXIF parses");
    assert!(
        exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some()
    );
    for needle in [&b"CANARY-XMP"[..], b"CANARY-COMMENT", b"CANARY-TRAILER"] {
        assert_eq!(find(&input, needle), 1);
    }

    let (s, out) = clean(Kind::Jpeg, &input).await.unwrap();
    assert_eq!((s.kind, s.width, s.height), (Kind::Jpeg, 64, 48));
    let decoded = image::load_from_memory_with_format(&out, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
    assert!(!has_exif(&out), "EXIF survived");
    assert_no_canary(&out);
    assert_eq!(find(&out, b"\xFF\xD8"), 1, "one SOI");
    assert_eq!(&out[..2], b"\xFF\xD8");
    assert_eq!(find(&out, b"\xFF\xD9"), 1, "one EOI");
    assert_eq!(&out[out.len() - 2..], b"\xFF\xD9", "nothing after the EOI");

    let thumb = s.thumbnail.expect("a thumbnail");
    assert_eq!(Kind::sniff(&thumb), Kind::Png);
    let t = image::load_from_memory_with_format(&thumb, image::ImageFormat::Png).unwrap();
    assert_eq!(
        (t.width(), t.height()),
        (64, 48),
        "small images keep their size"
    );
    assert_no_canary(&thumb);
}

#[tokio::test]
async fn sanitize_jpeg_orientation_is_applied_and_thumbnail_fits() {
    // EXIF Orientation 6: the camera was turned, the viewer rotates 90° clockwise.
    let input = splice(
        &plain_jpeg(400, 200),
        &[exif_segment("CANARY-MAKE", Some(6))],
    );
    let (s, out) = clean(Kind::Jpeg, &input).await.unwrap();
    assert_eq!((s.width, s.height), (200, 400));
    let decoded = image::load_from_memory(&out).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (200, 400));
    assert!(!has_exif(&out));
    let t = image::load_from_memory(&s.thumbnail.unwrap()).unwrap();
    assert_eq!(
        (t.width(), t.height()),
        (160, 320),
        "longest side = thumb_px"
    );
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub(crate) fn chunk(ty: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let crc = crc32(&[&ty[..], body].concat());
    [
        &(body.len() as u32).to_be_bytes()[..],
        ty,
        body,
        &crc.to_be_bytes(),
    ]
    .concat()
}

/// A zlib stream holding `data` in one stored (uncompressed) deflate block.
/// A decompression bomb: 100000 × 100000 grey in a few dozen bytes (decoded, 10 GB).
pub(crate) fn png_bomb() -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    [
        &b"\x89PNG\r\n\x1A\n"[..],
        &chunk(b"IHDR", &ihdr),
        &chunk(b"IDAT", &zlib_stored(&[0; 64])),
        &chunk(b"IEND", b""),
    ]
    .concat()
}

pub(crate) fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let len = data.len() as u16;
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    [
        &[0x78, 0x01, 0x01][..],
        &len.to_le_bytes(),
        &(!len).to_le_bytes(),
        data,
        &((b << 16) | a).to_be_bytes(),
    ]
    .concat()
}

fn png_chunks(png: &[u8]) -> Vec<String> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1A\n");
    let (mut at, mut names) = (8, Vec::new());
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        names.push(String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned());
        at += 12 + len;
    }
    assert_eq!(at, png.len(), "nothing after IEND");
    names
}

#[tokio::test]
async fn sanitize_png_text_and_exif_chunks_do_not_survive() {
    let img = image::RgbaImage::from_fn(30, 20, |x, y| {
        image::Rgba([x as u8 * 8, y as u8 * 12, 7, 200])
    });
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut plain))
        .unwrap();
    // After the signature (8) and IHDR (25 bytes with length, type and CRC).
    let extra = [
        chunk(b"tEXt", b"Comment\0CANARY-TEXT"),
        chunk(
            b"zTXt",
            &[&b"Author\0\0"[..], &zlib_stored(b"CANARY-ZTXT")].concat(),
        ),
        chunk(b"iTXt", b"Description\0\0\0id\0\0CANARY-ITXT"),
        chunk(b"eXIf", &tiff("CANARY-PNG-EXIF", None)),
    ]
    .concat();
    let input = [&plain[..33], &extra, &plain[33..]].concat();
    assert!(png_chunks(&input).contains(&"zTXt".to_owned()));
    assert!(
        image::load_from_memory(&input).is_ok(),
        "the fixture is a valid PNG"
    );

    let (s, out) = clean(Kind::Png, &input).await.unwrap();
    assert_eq!((s.kind, s.width, s.height), (Kind::Png, 30, 20));
    assert_no_canary(&out);
    for name in png_chunks(&out) {
        assert!(
            ["IHDR", "PLTE", "tRNS", "IDAT", "IEND"].contains(&name.as_str()),
            "chunk {name} in the output"
        );
    }
    let decoded = image::load_from_memory_with_format(&out, image::ImageFormat::Png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (30, 20));
}

fn riff_chunk(fourcc: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = [&fourcc[..], &(body.len() as u32).to_le_bytes(), body].concat();
    if body.len() % 2 == 1 {
        c.push(0);
    }
    c
}

#[tokio::test]
async fn sanitize_webp_exif_and_xmp_give_a_clean_png() {
    let (w, h) = (24u32, 16u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8 * 10, y as u8 * 15, 3]));
    let mut simple = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut simple))
        .unwrap();
    assert_eq!(&simple[12..16], b"VP8L");
    let vp8l = &simple[12..];
    // VP8X: flags (EXIF 0x08, XMP 0x04), 3 reserved bytes, canvas width - 1, height - 1 (24 bits).
    let mut vp8x = vec![0x08 | 0x04, 0, 0, 0];
    vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    let body = [
        &b"WEBP"[..],
        &riff_chunk(b"VP8X", &vp8x),
        vp8l,
        &riff_chunk(b"EXIF", &tiff("CANARY-WEBP-EXIF", None)),
        &riff_chunk(b"XMP ", b"<x:xmpmeta>CANARY-WEBP-XMP</x:xmpmeta>"),
    ]
    .concat();
    let input = [&b"RIFF"[..], &(body.len() as u32).to_le_bytes(), &body].concat();
    assert_eq!(Kind::sniff(&input), Kind::Webp);
    assert!(
        image::load_from_memory_with_format(&input, image::ImageFormat::WebP).is_ok(),
        "the fixture is a valid WebP"
    );

    let (s, out) = clean(Kind::Webp, &input).await.unwrap();
    assert_eq!((s.kind, s.width, s.height), (Kind::Png, w, h));
    assert_eq!(Kind::sniff(&out), Kind::Png);
    assert_eq!(s.kind.mime(), "image/png");
    assert_no_canary(&out);
    let decoded = image::load_from_memory_with_format(&out, image::ImageFormat::Png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (w, h));
}

#[tokio::test]
async fn sanitize_refuses_a_decompression_bomb_quickly_and_lives_on() {
    let bomb = png_bomb();
    assert!(bomb.len() < 200);
    // Refused from its header, before any allocation: `clean` would time out (60 s) on a
    // decode of 10 GB, so no clock is needed here.
    let err = clean(Kind::Png, &bomb).await.refused();
    assert!(matches!(err, SanitizeError::TooManyPixels), "{err:?}");

    let (s, _) = clean(Kind::Jpeg, &plain_jpeg(10, 10)).await.unwrap();
    assert_eq!((s.width, s.height), (10, 10));
}

#[tokio::test]
async fn sanitize_child_killed_mid_work_is_killed() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let killer = tokio::spawn(async move {
        let pid = rx.await.expect("the pid");
        tokio::time::sleep(Duration::from_millis(300)).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    });
    let hooks = Hooks {
        pid: Some(tx),
        sleep_ms: Some(30_000),
        ..Hooks::default()
    };
    let input = tell_tale_jpeg(32, 32);
    let err = clean_with(Kind::Jpeg, &input, &Limits::default(), hooks)
        .await
        .refused();
    assert!(matches!(err, SanitizeError::Killed), "{err:?}");
    killer.await.unwrap();
}

#[tokio::test]
async fn sanitize_text_drops_controls_bidi_and_bom_and_refuses_bad_utf8() {
    // U+202E would show "exe.gpj" reversed; U+FEFF marks the editor; ESC drives a terminal.
    let input = "\u{FEFF}Transaksi jam 9\r\ndi \u{202E}gpj.exe\u{202C} gang \u{1B}[2J3\u{85}\t(belakang)\u{7}";
    let (s, out) = clean(Kind::Text, input.as_bytes()).await.unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Transaksi jam 9\ndi gpj.exe gang [2J3\t(belakang)"
    );
    assert_eq!(
        s,
        Sanitized {
            kind: Kind::Text,
            width: 0,
            height: 0,
            thumbnail: None
        }
    );
    let err = clean(Kind::Text, b"valid then \xC3\x28 not")
        .await
        .refused();
    assert!(matches!(err, SanitizeError::Undecodable), "{err:?}");
}

#[tokio::test]
async fn sanitize_disguised_png_run_as_jpeg_is_undecodable() {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::new(4, 4))
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut png))
        .unwrap();
    let err = clean(Kind::Jpeg, &png).await.refused();
    assert!(matches!(err, SanitizeError::Undecodable), "{err:?}");
    let err = clean(Kind::Png, &plain_jpeg(4, 4)).await.refused();
    assert!(matches!(err, SanitizeError::Undecodable), "{err:?}");
}

#[tokio::test]
async fn sanitize_limits_on_input_output_and_memory_hold() {
    let input = plain_jpeg(64, 64);
    let small_input = Limits {
        max_input: input.len() as u64 - 1,
        ..Limits::default()
    };
    let err = clean_with(Kind::Jpeg, &input, &small_input, Hooks::default())
        .await
        .refused();
    assert!(matches!(err, SanitizeError::TooLarge), "{err:?}");

    let small_output = Limits {
        max_output: 100,
        ..Limits::default()
    };
    let err = clean_with(Kind::Jpeg, &input, &small_output, Hooks::default())
        .await
        .refused();
    assert!(matches!(err, SanitizeError::TooLarge), "{err:?}");

    // 16 MiB of address space cannot hold the decoded 2000 × 2000 image (12 MB) next to the
    // binary's own mappings: an allocation fails and the child aborts (SIGABRT).
    let starved = Limits {
        address_space: 16 << 20,
        ..Limits::default()
    };
    let err = clean_with(
        Kind::Jpeg,
        &plain_jpeg(2000, 2000),
        &starved,
        Hooks::default(),
    )
    .await
    .refused();
    assert!(matches!(err, SanitizeError::Killed), "{err:?}");
    // Starved while still buffering a 3 MB input: the child says so itself, still Killed.
    let big = [plain_jpeg(16, 16), vec![0u8; 3 << 20]].concat();
    let err = clean_with(Kind::Jpeg, &big, &starved, Hooks::default())
        .await
        .refused();
    assert!(matches!(err, SanitizeError::Killed), "{err:?}");
}

#[tokio::test]
async fn sanitize_refuses_uncleanable_kinds_without_a_child() {
    for kind in [Kind::Pdf, Kind::Mp4, Kind::Unknown] {
        let err = clean(kind, b"%PDF-1.7").await.refused();
        assert!(matches!(err, SanitizeError::Failed(_)), "{err:?}");
    }
}

#[tokio::test]
async fn sanitize_child_can_open_no_file_and_reach_no_port() {
    // Both would work without the sandbox: the file is ours and readable, the port listens.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("keys.toml");
    std::fs::write(&secret, "CANARY-KEY").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hooks = Hooks {
        escape: Some((secret, port)),
        ..Hooks::default()
    };
    match clean_with(Kind::Text, b"halo", &Limits::default(), hooks).await {
        Ok((_, out)) => assert_eq!(out, b"halo"),
        // A kernel without Landlock (or with it disabled) has the rlimits alone; say so.
        Err(SanitizeError::Failed(w)) if w.ends_with("landlock-unavailable") => {
            eprintln!("Landlock is not available on this kernel; the escape test proves nothing")
        }
        Err(e) => panic!("the child escaped its sandbox: {e:?}"),
    }
}

#[test]
fn sanitize_room_imports_nothing_from_the_crate() {
    // It never sees keys, the store or the web side: only std and external crates.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sanitize");
    let mut files = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        for line in src.lines().map(|l| l.split("//").next().unwrap_or("")) {
            assert!(
                !line.contains("crate::") && !line.contains("super::super"),
                "{} reaches into the crate: {line}",
                path.display()
            );
        }
        files += 1;
    }
    assert!(files >= 3);
}

#[test]
fn sanitize_subcommand_is_hidden_and_reads_no_config() {
    let help = std::process::Command::new(exe())
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(!String::from_utf8_lossy(&help.stdout).contains("sanitize"));
    // A config file that does not parse would stop every other command with exit 78; the
    // child is dispatched before the config is read, so it never opens it.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bisik.toml");
    std::fs::write(&bad, "this is [not toml").unwrap();
    let mut child = std::process::Command::new(exe())
        .args(["sanitize", "--kind", "text"])
        .env("BISIK_CONFIG", &bad)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"ok").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(out.stdout.starts_with(b"BSKSAN"));
}

#[tokio::test]
async fn sanitize_cpu_limit_kills_a_long_decode() {
    // 25 MP of grey: well inside the pixel limit, but decoding, re-encoding and shrinking it
    // in this unoptimised build takes the child far more than one second of CPU.
    let (w, h) = (5000u32, 5000u32);
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x ^ y) & 0xFF) as u8]));
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(img)
        .write_with_encoder(image::codecs::png::PngEncoder::new_with_quality(
            &mut png,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::NoFilter,
        ))
        .unwrap();
    let limits = Limits {
        cpu_seconds: 1,
        max_input: 64 << 20,
        ..Limits::default()
    };
    let err = clean_with(Kind::Png, &png, &limits, Hooks::default())
        .await
        .refused();
    assert!(matches!(err, SanitizeError::Killed), "{err:?}");
}

#[tokio::test]
async fn sanitize_cancelled_run_kills_its_child() {
    // A cancelled upload drops the future: the child, asleep mid-work, must not outlive it.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let hooks = Hooks {
        pid: Some(tx),
        sleep_ms: Some(30_000),
        ..Hooks::default()
    };
    let input = plain_jpeg(16, 16);
    let mut out = Vec::new();
    let limits = Limits::default();
    let run = sanitize::run_with(exe(), Kind::Jpeg, &limits, &input[..], &mut out, hooks);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), run)
            .await
            .is_err(),
        "the child was asked to sleep 30 s"
    );
    let pid = rx.await.unwrap();
    let stat = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Gone, or a zombie waiting for tokio's reaper: either way it no longer runs.
        match std::fs::read_to_string(&stat) {
            Err(_) => break,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z')) =>
            {
                break;
            }
            Ok(_) => {}
        }
        assert!(Instant::now() < deadline, "the sanitizer outlived its run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
