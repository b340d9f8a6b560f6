//! The intake must not be able to reach key-unlocking code (I3), and crypto sits at the bottom.
//! These rules are what a reader sees in the module tree; this test keeps them true.

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

/// The top-level modules `src` reaches through `crate::…`, `crate::{…}` or `super::super::…`
/// paths, outside comments.
fn reached(src: &str) -> Vec<String> {
    let code: String = src
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = Vec::new();
    for prefix in ["crate::", "super::super::"] {
        for (at, _) in code.match_indices(prefix) {
            let rest = code[at + prefix.len()..].trim_start();
            if let Some(group) = rest.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for part in inner.split(',') {
                    let ident: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    out.push(ident);
                }
            } else {
                out.push(
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect(),
                );
            }
        }
    }
    out
}

fn uses(src: &str, module: &str) -> bool {
    reached(src).iter().any(|m| m == module)
}

#[test]
fn intake_never_imports_vault_desk_or_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&root.join("intake"));
    assert!(files.len() >= 4);
    for (path, src) in files {
        for forbidden in ["vault", "desk", "cli"] {
            assert!(!uses(&src, forbidden), "{path} imports crate::{forbidden}");
        }
        assert!(
            !src.contains("hpke::single_shot_open"),
            "{path} opens HPKE wraps"
        );
        assert!(
            !src.contains("OfflineKeys"),
            "{path} touches the offline keys"
        );
    }
    // The modules the intake does import do not reach the vault either.
    for m in [
        "web",
        "store",
        "domain",
        "items",
        "keyfiles.rs",
        "config.rs",
    ] {
        let p = root.join(m);
        let files = if p.is_dir() {
            sources(&p)
        } else {
            vec![(
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )]
        };
        for (path, src) in files {
            assert!(!uses(&src, "vault"), "{path} imports crate::vault");
        }
    }
}

/// Every `.rs` file under `src`, with its path relative to `src`.
fn all_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    sources(&root)
        .into_iter()
        .map(|(p, s)| {
            let rel = Path::new(&p)
                .strip_prefix(&root)
                .unwrap()
                .display()
                .to_string();
            (rel, s)
        })
        .collect()
}

/// Issue 6: the desk and the CLI are the only rooms besides the vault itself that reach
/// key-unlocking code. Everything else (intake, store, web, items, domain, keyfiles, config,
/// crypto) works with public keys and sealed bytes only.
#[test]
fn only_the_desk_and_the_cli_import_the_vault() {
    let files = all_sources();
    assert!(files.len() >= 20);
    for (path, src) in files {
        let allowed = ["desk/", "cli/", "vault/"]
            .iter()
            .any(|room| path.starts_with(room));
        if !allowed {
            assert!(!uses(&src, "vault"), "src/{path} imports crate::vault");
        }
    }
}

/// Issue 6: the sealed item formats live in `items`, so the desk never imports the intake, and
/// the CLI imports it only to run it (`bisik serve`, `bisik intake` in src/cli/mod.rs), never
/// for a format. The item room itself sits below both.
#[test]
fn item_formats_come_from_items_never_from_the_intake() {
    for (path, src) in all_sources() {
        if path.starts_with("desk/") || (path.starts_with("cli/") && path != "cli/mod.rs") {
            assert!(!uses(&src, "intake"), "src/{path} imports crate::intake");
        }
        if path == "cli/mod.rs" {
            let code: String = src
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" ");
            for (at, _) in code.match_indices("crate::intake::") {
                let rest = &code[at + "crate::intake::".len()..];
                assert!(
                    ["IntakeState", "run(", "start("]
                        .iter()
                        .any(|ok| rest.starts_with(ok)),
                    "src/cli/mod.rs uses the intake for more than running it: {}",
                    &rest[..rest.len().min(40)]
                );
            }
        }
        if path.starts_with("items/") {
            for above in ["intake", "desk", "vault", "cli", "web"] {
                assert!(!uses(&src, above), "src/{path} imports crate::{above}");
            }
        }
    }
}

/// Issue 10: the outreach kit is made from the config file alone. Its room reaches no
/// database, no key and no handler, so nothing a database writer changed can reach a poster.
#[test]
fn outreach_reaches_only_config_and_the_shared_texts() {
    let files: Vec<_> = all_sources()
        .into_iter()
        .filter(|(p, _)| p.starts_with("outreach/") || p == "cli/outreach.rs")
        .collect();
    assert!(files.len() >= 3, "outreach sources not found");
    for (path, src) in files {
        for m in reached(&src) {
            assert!(
                ["config", "web", "outreach"].contains(&m.as_str()),
                "src/{path} reaches crate::{m}"
            );
        }
    }
}

/// Issue 9: the blob store holds ciphertext under random names and nothing else; it reaches no
/// key, no database and no handler. (src/sanitize reaches nothing of Bisik's at all: see
/// tests/integration/sanitize.rs.)
#[test]
fn the_blob_store_reaches_only_the_config_and_randomness() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&root.join("blob"));
    assert!(!files.is_empty(), "src/blob not found");
    for (path, src) in files {
        for m in reached(&src) {
            assert!(
                ["config", "crypto"].contains(&m.as_str()),
                "{path} reaches crate::{m}"
            );
        }
        let code: String = src
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ");
        for (at, _) in code.match_indices("crate::crypto::") {
            assert!(
                code[at..].starts_with("crate::crypto::primitives::os_fill"),
                "{path} uses crypto beyond the RNG"
            );
        }
    }
}

#[test]
fn crypto_imports_nothing_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (path, src) in sources(&root.join("crypto")) {
        for above in [
            "store", "web", "intake", "vault", "desk", "cli", "keyfiles", "config", "domain",
        ] {
            assert!(!uses(&src, above), "{path} imports crate::{above}");
        }
    }
}

#[test]
fn no_unsafe_anywhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("unsafe_code = \"forbid\""));
}

/// Issue 6, Layout: the desk is the only room besides the CLI that imports the vault, and the
/// desk never imports the intake (it shares `web`, `store` and `crypto` with it instead).
#[test]
fn only_cli_and_desk_import_the_vault_and_the_desk_not_the_intake() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (path, src) in sources(&root) {
        let rel = path.trim_start_matches(&root.display().to_string());
        let room = rel.trim_start_matches('/').split('/').next().unwrap_or("");
        if !["cli", "desk", "vault", "lib.rs", "main.rs"].contains(&room) {
            assert!(!uses(&src, "vault"), "{path} imports crate::vault");
        }
        if room == "desk" {
            assert!(!uses(&src, "intake"), "{path} imports crate::intake");
        }
    }
    assert!(sources(&root.join("desk")).len() >= 5);
}
