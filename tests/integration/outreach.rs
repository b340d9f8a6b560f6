//! Issue 10, the outreach kit: `bisik outreach poster|leaflet|announcement` run as the real
//! binary on a config file alone. The PDFs are rendered with poppler (`pdftoppm`, `pdftotext`,
//! `pdffonts`, `pdfinfo` from Debian's poppler-utils), their QR code is decoded from the
//! rendered page with `rqrr`, and each page is saved as a PNG under
//! `<cargo target dir>/tmp/screenshots/outreach/` (BISIK_SCREENSHOTS overrides the folder).

use crate::support::bin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const URL: &str = "https://lapor.bnnk-uji.go.id/";
const UNIT: &str = "BNNK Kabupaten Uji Coba";
const NOTICE: &str = "BNNK tidak akan pernah meminta nama, nomor HP, atau ajakan bertemu.";

fn onion() -> String {
    format!("{}.onion", "q".repeat(56))
}

/// Where the page images go.
fn screenshot_dir() -> PathBuf {
    std::env::var_os("BISIK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots/outreach"))
}

/// A folder with a config whose databases would be created under `data/` if anything opened
/// them: the tests check that nothing does.
fn setup(reporter: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bisik.toml"),
        format!(
            "data_dir = \"data\"\nkeys_dir = \"keys\"\n\n[unit]\nid = \"bnnk-uji\"\nname = \"{UNIT}\"\n\n[reporter]\n{reporter}"
        ),
    )
    .unwrap();
    dir
}

fn full_reporter() -> String {
    format!("public_url = \"{URL}\"\nonion_address = \"{}\"\n", onion())
}

fn bisik(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(["--config", "bisik.toml"])
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("BISIK_CONFIG")
        .output()
        .unwrap()
}

/// Runs a poppler tool; a missing one fails the test with the package to install.
fn poppler(tool: &str, args: &[&str]) -> Output {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} not found ({e}): install Debian's poppler-utils (.ci/run does)")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The PDF's text with line breaks and runs of spaces made single spaces, so a sentence
/// wrapped across lines is still found.
fn text_of(pdf: &Path) -> String {
    let out = poppler("pdftotext", &[pdf.to_str().unwrap(), "-"]);
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders every page at 100 dpi and returns the PNGs in page order.
fn render(pdf: &Path, out_dir: &Path) -> Vec<PathBuf> {
    let prefix = out_dir.join("page");
    poppler(
        "pdftoppm",
        &[
            "-r",
            "100",
            "-png",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let mut pages: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("page"))
        })
        .collect();
    pages.sort();
    pages
}

/// Every QR code on a rendered page, decoded.
fn decode_qr(png: &Path) -> Vec<String> {
    let img = image::open(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .into_iter()
        .map(|g| g.decode().expect("a QR grid that does not decode").1)
        .collect()
}

/// Checks one kit PDF end to end and saves its pages as `<name>-<n>.png`.
fn check_pdf(pdf: &Path, name: &str, pages: usize, page_size: &str) {
    let bytes = std::fs::read(pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "{name} is not a PDF");

    let info = String::from_utf8(poppler("pdfinfo", &[pdf.to_str().unwrap()]).stdout).unwrap();
    let count = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse::<usize>().unwrap());
    assert_eq!(count, Some(pages), "{name}: {info}");
    assert!(
        info.contains(page_size),
        "{name} is not {page_size}: {info}"
    );

    // The font is embedded, so the file prints the same without DejaVu on the printer's PC.
    let fonts = String::from_utf8(poppler("pdffonts", &[pdf.to_str().unwrap()]).stdout).unwrap();
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "{name} has no fonts: {fonts}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let emb = cols[cols.len() - 5];
        assert_eq!(emb, "yes", "{name}: font not embedded: {row}");
    }

    let text = text_of(pdf);
    for needle in [
        UNIT,
        URL,
        onion().as_str(),
        NOTICE,
        "Tetap aman",
        "UU No. 35 Tahun 2009 tentang Narkotika, Pasal 100",
    ] {
        assert!(text.contains(needle), "{name} lacks {needle:?}: {text}");
    }
    for step in [
        "1. Gunakan HP atau komputer pribadi",
        "2. Jika bisa, gunakan Tor Browser.",
        "3. Setelah selesai, hapus riwayat penjelajahan.",
        "4. Jangan ceritakan kepada siapa pun",
    ] {
        assert!(text.contains(step), "{name} lacks step {step:?}: {text}");
    }

    let render_dir = tempfile::tempdir().unwrap();
    let pngs = render(pdf, render_dir.path());
    assert_eq!(pngs.len(), pages, "{name}: rendered pages");
    // The front page carries exactly one QR code, and it leads to the intake.
    assert_eq!(decode_qr(&pngs[0]), vec![URL.to_owned()], "{name}: QR code");

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();
    for (i, png) in pngs.iter().enumerate() {
        std::fs::copy(png, shots.join(format!("{name}-{}.png", i + 1))).unwrap();
    }
}

/// A dir holds only the config and what the command wrote: no `data/` (no database was
/// opened or created) and no `keys/`.
fn assert_no_database(dir: &Path) {
    for d in ["data", "keys"] {
        assert!(!dir.join(d).exists(), "outreach created {d}/");
    }
}

#[test]
fn poster_and_leaflet_render_with_their_texts_and_a_qr_to_the_intake() {
    let dir = setup(&full_reporter());
    // (arguments, file written, screenshot name, pages, page size in points)
    let kits: [(&[&str], &str, &str, usize, &str); 3] = [
        (
            &["poster"],
            "bisik-poster-a4.pdf",
            "poster-a4",
            1,
            "595.276 x 841.89 pts",
        ),
        (
            &["poster", "--size", "a3", "--out", "besar.pdf"],
            "besar.pdf",
            "poster-a3",
            1,
            "841.89 x 1190.55 pts",
        ),
        (
            &["leaflet", "--out", "selebaran.pdf"],
            "selebaran.pdf",
            "leaflet-a5",
            2,
            "419.528 x 595.276 pts",
        ),
    ];
    for (args, file, name, pages, size) in kits {
        let args: Vec<&str> = std::iter::once("outreach")
            .chain(args.iter().copied())
            .collect();
        let out = bisik(dir.path(), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        check_pdf(&dir.path().join(file), name, pages, size);
    }

    // `--out -` writes the PDF itself to stdout.
    let out = bisik(dir.path(), &["outreach", "leaflet", "--out", "-"]);
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"%PDF-"));

    assert_no_database(dir.path());
}

#[test]
fn announcement_says_how_to_reach_the_service_and_not_through_others() {
    let dir = setup(&full_reporter());
    let out = bisik(dir.path(), &["outreach", "announcement"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let words = text.split_whitespace().count();
    assert!((120..=180).contains(&words), "{words} words: {text}");
    for needle in [
        UNIT,
        URL,
        onion().as_str(),
        "tanpa identitas",
        "jangan melapor lewat tetangga",
        "grup WhatsApp dan grup percakapan lainnya",
        NOTICE,
    ] {
        assert!(
            flat.contains(needle),
            "announcement lacks {needle:?}: {text}"
        );
    }

    // Without an onion address, no Tor sentence and no stray ".onion".
    let dir = setup(&format!("public_url = \"{URL}\"\n"));
    let out = bisik(dir.path(), &["outreach", "announcement"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(URL) && !text.contains(".onion") && !text.contains("Tor"));
    assert_no_database(dir.path());
}

#[test]
fn outreach_without_a_public_url_or_with_bad_input_is_a_clear_error() {
    let dir = setup(&format!("onion_address = \"{}\"\n", onion()));
    for args in [
        &["outreach", "poster"][..],
        &["outreach", "leaflet"],
        &["outreach", "announcement"],
    ] {
        let out = bisik(dir.path(), args);
        assert_eq!(out.status.code(), Some(78), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("reporter.public_url"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing but the config"
    );

    // A public URL that is not an absolute http(s) URL is refused by the config check.
    for bad in ["lapor.bnnk-uji.go.id", "ftp://lapor.bnnk-uji.go.id/"] {
        let dir = setup(&format!("public_url = \"{bad}\"\n"));
        let out = bisik(dir.path(), &["outreach", "poster"]);
        assert_eq!(out.status.code(), Some(78), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("reporter.public_url"));
    }

    let dir = setup(&full_reporter());
    let out = bisik(dir.path(), &["outreach", "poster", "--size", "a5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a4, a3"));
    let out = bisik(
        dir.path(),
        &["outreach", "poster", "--out", "no/such/folder/poster.pdf"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot write no/such/folder/poster.pdf"),
        "{err}"
    );
    assert_no_database(dir.path());
}
