//! Showing and reading one-time secrets. A secret is printed only when stdout is a terminal;
//! otherwise (systemd keeps stdout in its journal) it goes to a new 0600 file whose path is
//! printed. Passphrases are read from stdin or a file, never from argv (visible in `ps`).

use super::{Failure, failure};
use crate::keyfiles;
use secrecy::{ExposeSecret, SecretString};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

/// Shows `secret` once: on the terminal, or in a 0600 file under `dir` (created 0700 when
/// missing). For the offline passphrase `dir` is outside keys_dir, so a copy of keys/, which
/// holds `offline.sealed`, is not also its passphrase.
pub fn emit(
    label: &str,
    secret: &SecretString,
    dir: &Path,
    file_stem: &str,
) -> Result<(), Failure> {
    if std::io::stdout().is_terminal() {
        let mut out = std::io::stdout().lock();
        writeln!(out, "\n{label}:\n\n    {}\n", secret.expose_secret())?;
        writeln!(
            out,
            "It is shown once. Write it on paper and keep it offline; it is not stored anywhere."
        )?;
        return Ok(());
    }
    keyfiles::ensure_private_dir(dir)?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let path = dir.join(format!("{file_stem}-{stamp}.txt"));
    keyfiles::write_new_secret(&path, format!("{}\n", secret.expose_secret()).as_bytes())?;
    println!(
        "{label} was written to {} (mode 0600) because stdout is not a terminal. Copy it to paper, then delete the file (shred -u).",
        path.display()
    );
    tracing::warn!(
        "one-time secret written to {}; move it offline and delete it",
        path.display()
    );
    Ok(())
}

/// Reads a passphrase from `file`, or else from stdin (first line).
pub fn read_passphrase(file: Option<&Path>) -> Result<SecretString, Failure> {
    let mut text = zeroize::Zeroizing::new(String::new());
    match file {
        Some(f) => {
            *text = std::fs::read_to_string(f).map_err(|e| {
                failure(
                    1,
                    format!("cannot read passphrase file {}: {e}", f.display()),
                )
            })?;
        }
        // At a terminal: prompt without echo and stop at Enter.
        None if std::io::stdin().is_terminal() => {
            *text = rpassword::prompt_password("Offline key passphrase: ")?;
        }
        None => {
            std::io::stdin().read_to_string(&mut text)?;
        }
    }
    let line = text.lines().next().unwrap_or("").trim().to_owned();
    if line.is_empty() {
        return Err(failure(
            1,
            "no passphrase given (expected it on stdin or in --passphrase-file)",
        ));
    }
    Ok(SecretString::from(line))
}
