//! The attachment upload parser (`src/intake/upload.rs`, `parse`): multer under Bisik's rules,
//! spooling each file sealed to disk.
//!
//! Properties: no input panics it or leaves a spool file behind once its result is dropped;
//! what it accepts has at most `max_files` files, each non-empty, within `file_limit`, under a
//! name `check_name` accepts; and every spooled file opens again to exactly its length.
#![no_main]

use bisik::intake::upload::{Rules, check_name, parse};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn spool() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("bisik-fuzz-spool-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

const RULES: Rules = Rules {
    max_files: 3,
    text_limit: 4096,
    file_limit: 100_000,
};

fuzz_target!(|data: &[u8]| {
    // Split the input so the fuzzer also varies how the body arrives in pieces.
    let cut = data.first().map_or(0, |b| *b as usize);
    let body = bytes::Bytes::copy_from_slice(data.get(1..).unwrap_or(&[]));
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = if cut == 0 || body.is_empty() {
        vec![Ok(body)]
    } else {
        body.chunks(cut)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect()
    };
    runtime().block_on(async {
        let mp = multer::Multipart::new(futures_util::stream::iter(pieces), "X");
        if let Ok(up) = parse(mp, RULES, spool(), None).await {
            assert!(up.files.len() <= RULES.max_files);
            for f in &up.files {
                assert!(f.len > 0 && f.len <= RULES.file_limit);
                assert_eq!(check_name(&f.name).ok().as_deref(), Some(f.name.as_str()));
                let mut back = Vec::new();
                f.feed(&mut back).await.expect("a spooled file opens");
                assert_eq!(back.len() as u64, f.len);
            }
        }
    });
    assert_eq!(
        std::fs::read_dir(spool()).unwrap().count(),
        0,
        "a spool file outlived its upload"
    );
});
