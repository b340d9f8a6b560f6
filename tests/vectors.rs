//! Known-answer vectors for the cryptography (STYLE.md: "Tests are data"). Every file under
//! `tests/vectors/` is a series of blocks whose `expect:` line states the result the real code
//! must give; this binary parses each file and checks each block. One `#[test]` per subject.
//!
//! The checker is strict on purpose, so that a vector cannot silently stop testing anything: an
//! unknown file, an unknown `expect:` value, an unknown operation, and a missing, unknown or
//! repeated key all fail, and every result a subject can give must appear in its file at least
//! once. The file headers describe the format and how the values were made.

use bisik::crypto::chain::{ChainHead, KeyStatement, item_hash, signer_fingerprint};
use bisik::crypto::code::{CodeError, FollowupCode, contains_code_run, damm_interim};
use bisik::crypto::envelope::{
    self, ENVELOPE_VERSION, ItemAad, MIN_BUCKET, bucket, seal_with_nonce,
};
use bisik::crypto::header::{ReportHeader, key_commitment};
use bisik::crypto::kdf::{CodeKdfParams, code_params, derive_code_secrets};
use bisik::crypto::recipients::{ListError, Recipient, RecipientList, SignedRecipientList};
use bisik::crypto::wrap::{Purpose, RecipientKey, WRAP_LEN, wrap_to};
use bisik::crypto::{CryptoError, SecretKey32};
use bisik::vault::unwrap::{public_of, unwrap};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The subjects, each a file `tests/vectors/<subject>.txt` and a test below.
const SUBJECTS: &[&str] = &[
    "code",
    "envelope",
    "header",
    "recipients",
    "wrap",
    "kdf",
    "chain",
];

type Res<T = ()> = Result<T, String>;

// ---------------------------------------------------------------------------------------------
// The vector file format
// ---------------------------------------------------------------------------------------------

struct Field {
    key: String,
    value: String,
    used: bool,
}

/// One block: `expect:`, `case:` and the remaining `key: value` lines, each of which the checker
/// must consume.
struct Block {
    at: String,
    expect: String,
    case: String,
    fields: Vec<Field>,
}

impl Block {
    /// Every value of `key`, in file order (for keys that may repeat).
    fn all(&mut self, key: &str) -> Vec<String> {
        self.fields
            .iter_mut()
            .filter(|f| f.key == key)
            .map(|f| {
                f.used = true;
                f.value.clone()
            })
            .collect()
    }
    /// The value of `key` if present; a repeated key is an error.
    fn opt(&mut self, key: &str) -> Res<Option<String>> {
        let mut v = self.all(key);
        match v.len() {
            0 => Ok(None),
            1 => Ok(v.pop()),
            n => Err(format!("key `{key}` appears {n} times")),
        }
    }
    /// The value of `key`, which must appear exactly once.
    fn get(&mut self, key: &str) -> Res<String> {
        self.opt(key)?.ok_or_else(|| format!("missing key `{key}`"))
    }
    fn hex(&mut self, key: &str) -> Res<Vec<u8>> {
        unhex(key, &self.get(key)?)
    }
    fn arr<const N: usize>(&mut self, key: &str) -> Res<[u8; N]> {
        let v = self.hex(key)?;
        v.try_into()
            .map_err(|v: Vec<u8>| format!("`{key}` is {} bytes, not {N}", v.len()))
    }
    fn num<T: FromStr>(&mut self, key: &str) -> Res<T> {
        let v = self.get(key)?;
        v.parse()
            .map_err(|_| format!("`{key}` is not a valid number: {v:?}"))
    }
    fn secret(&mut self, key: &str) -> Res<SecretKey32> {
        Ok(SecretKey32::from_bytes(self.arr(key)?))
    }
    /// Fails on any key the checker did not consume: a typo is never silently ignored.
    fn finish(&self) -> Res {
        match self.fields.iter().find(|f| !f.used) {
            Some(f) => Err(format!("unknown key `{}`", f.key)),
            None => Ok(()),
        }
    }
    /// The check passed iff the code's outcome is the one the block expects.
    fn outcome(&self, got: &str, detail: &str) -> Res {
        if self.expect == got {
            Ok(())
        } else {
            Err(format!("expected `{}`, got `{got}`{detail}", self.expect))
        }
    }
}

fn unhex(key: &str, v: &str) -> Res<Vec<u8>> {
    if v.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("`{key}` must be lowercase hex"));
    }
    hex::decode(v).map_err(|e| format!("`{key}` is not hex: {e}"))
}

/// A JSON string literal, for text with spaces or unusual characters.
fn json_text(key: &str, v: &str) -> Res<String> {
    serde_json::from_str(v).map_err(|e| format!("`{key}` is not a JSON string: {e}"))
}

fn parse_blocks(file: &str, text: &str) -> Res<Vec<Block>> {
    let mut blocks = Vec::new();
    let mut cur: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", i + 1);
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            blocks.extend(cur.take());
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("{at}: not a `key: value` line: {line:?}"))?;
        let (key, value) = (key.trim().to_owned(), value.trim().to_owned());
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("{at}: bad key {key:?}"));
        }
        match (&mut cur, key.as_str()) {
            (None, "expect") => {
                cur = Some(Block {
                    at,
                    expect: value,
                    case: String::new(),
                    fields: Vec::new(),
                })
            }
            (None, _) => return Err(format!("{at}: a block must open with `expect:`")),
            (Some(_), "expect") => return Err(format!("{at}: a second `expect:` in one block")),
            (Some(b), "case") if b.case.is_empty() && !value.is_empty() => b.case = value,
            (Some(_), "case") => return Err(format!("{at}: repeated or empty `case:`")),
            (Some(b), _) => b.fields.push(Field {
                key,
                value,
                used: false,
            }),
        }
    }
    blocks.extend(cur);
    if let Some(b) = blocks.iter().find(|b| b.case.is_empty()) {
        return Err(format!("{}: block has no `case:`", b.at));
    }
    Ok(blocks)
}

/// Checks every block of `text` and returns the errors: a block whose check fails, an `expect:`
/// outside `results`, or a result in `results` that no block expects.
fn check_text(
    file: &str,
    text: &str,
    results: &[&str],
    check: fn(&mut Block) -> Res,
) -> Vec<String> {
    let blocks = match parse_blocks(file, text) {
        Ok(b) => b,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    if blocks.is_empty() {
        errors.push(format!("{file}: no blocks"));
    }
    for mut b in blocks {
        if !results.contains(&b.expect.as_str()) {
            errors.push(format!(
                "{} ({}): unknown `expect: {}` (known: {})",
                b.at,
                b.case,
                b.expect,
                results.join(", ")
            ));
            continue;
        }
        seen.insert(b.expect.clone());
        if let Err(e) = check(&mut b).and_then(|()| b.finish()) {
            errors.push(format!("{} ({}): {e}", b.at, b.case));
        }
    }
    for r in results {
        if !seen.contains(*r) {
            errors.push(format!("{file}: no block has `expect: {r}`"));
        }
    }
    errors
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn run(subject: &str, results: &[&str], check: fn(&mut Block) -> Res) {
    let file = format!("{subject}.txt");
    let path = vectors_dir().join(&file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let errors = check_text(&file, &text, results, check);
    assert!(
        errors.is_empty(),
        "{} vector error(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
}

fn crypto_outcome<T>(r: &Result<T, CryptoError>) -> (&'static str, String) {
    match r {
        Ok(_) => ("ok", String::new()),
        Err(CryptoError::Authentication) => ("authentication failure", String::new()),
        Err(CryptoError::Malformed(m)) => ("malformed", format!(" ({m})")),
        Err(CryptoError::Kdf) => ("kdf failure", String::new()),
    }
}

fn ensure(cond: bool, what: impl FnOnce() -> String) -> Res {
    if cond { Ok(()) } else { Err(what()) }
}

fn ensure_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Res {
    ensure(got == want, || {
        format!("{what}: got {got:?}, want {want:?}")
    })
}

/// Compares bytes; a long mismatch is shown from its first differing byte.
fn ensure_hex(what: &str, got: &[u8], want: &[u8]) -> Res {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
    let show = |v: &[u8]| hex::encode(&v[at.min(v.len())..(at + 32).min(v.len())]);
    Err(format!(
        "{what}: differs from byte {at} (got {} bytes, want {})\n  got  ...{}\n  want ...{}",
        got.len(),
        want.len(),
        show(got),
        show(want)
    ))
}

// ---------------------------------------------------------------------------------------------
// The files themselves
// ---------------------------------------------------------------------------------------------

/// A vector file nobody checks would be a silent pass.
#[test]
fn every_vector_file_has_a_checker() {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(vectors_dir()).expect("tests/vectors exists") {
        let name = entry.expect("readable entry").file_name();
        let name = name.to_string_lossy().into_owned();
        let subject = name.strip_suffix(".txt").unwrap_or(&name).to_owned();
        assert!(
            SUBJECTS.contains(&subject.as_str()) && name.ends_with(".txt"),
            "tests/vectors/{name} has no checker in tests/vectors.rs"
        );
        found.insert(subject);
    }
    for s in SUBJECTS {
        assert!(found.contains(*s), "tests/vectors/{s}.txt is missing");
    }
}

/// The checker itself refuses the mistakes it promises to catch.
#[test]
fn the_checker_refuses_typos() {
    let good = "expect: ok\ncase: c\ndamm: 572\ninterim: 4\n";
    let only_ok = &["ok"];
    assert_eq!(
        check_text("t", good, only_ok, check_code),
        Vec::<String>::new()
    );
    let cases: &[(&str, &str)] = &[
        (
            "expect: ok\ncase: c\ndamm: 572\ninterim: 4\nintrim: 4\n",
            "unknown key",
        ),
        (
            "expect: ok\ncase: c\ndamm: 572\ninterim: 4\ninterim: 4\n",
            "appears 2 times",
        ),
        ("expect: ok\ncase: c\ndamm: 572\n", "missing key"),
        (
            "expect: okay\ncase: c\ndamm: 572\ninterim: 4\n",
            "unknown `expect",
        ),
        ("expect: ok\ncase: c\ndamm: 572\ninterim: 5\n", "interim"),
        ("expect: ok\ndamm: 572\ninterim: 4\n", "no `case:`"),
        (
            "case: c\nexpect: ok\ndamm: 572\ninterim: 4\n",
            "must open with `expect:`",
        ),
        ("expect: ok\ncase: c\ndamm 572\n", "not a `key: value` line"),
        ("", "no blocks"),
    ];
    for (text, want) in cases {
        let errors = check_text("t", text, only_ok, check_code);
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{text:?} should fail with {want:?}, got {errors:?}"
        );
    }
    let errors = check_text("t", good, &["ok", "bad checksum"], check_code);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("no block has `expect: bad checksum`")),
        "{errors:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// code.txt
// ---------------------------------------------------------------------------------------------

#[test]
fn code() {
    run(
        "code",
        &[
            "ok",
            "not digits",
            "too short",
            "too long",
            "unknown version",
            "bad checksum",
            "code found",
            "no code found",
        ],
        check_code,
    );
}

fn digit_values(key: &str, s: &str) -> Res<Vec<u8>> {
    s.bytes()
        .map(|c| {
            c.is_ascii_digit()
                .then_some(c - b'0')
                .ok_or_else(|| format!("`{key}` holds a non-digit: {s:?}"))
        })
        .collect()
}

fn check_code(b: &mut Block) -> Res {
    let parse = b.opt("parse")?;
    let damm = b.opt("damm")?;
    let contains = b.opt("contains")?;
    match (parse, damm, contains) {
        (Some(input), None, None) => {
            let input = json_text("parse", &input)?;
            let parsed = FollowupCode::parse(&input);
            let got = match &parsed {
                Ok(_) => "ok",
                Err(CodeError::NotDigits) => "not digits",
                Err(CodeError::TooShort) => "too short",
                Err(CodeError::TooLong) => "too long",
                Err(CodeError::UnknownVersion) => "unknown version",
                Err(CodeError::BadChecksum) => "bad checksum",
            };
            b.outcome(got, "")?;
            if let Ok(code) = parsed {
                let digits = b.get("digits")?;
                let values = digit_values("digits", &digits)?;
                ensure_eq("digit count", values.len(), 20)?;
                ensure_eq("ascii()", code.ascii().as_slice(), digits.as_bytes())?;
                ensure_eq("version()", code.version(), values[0])?;
                let grouped: Vec<&str> = (0..5).map(|i| &digits[i * 4..i * 4 + 4]).collect();
                ensure_eq("display()", code.display().as_str(), &grouped.join(" "))?;
                ensure(
                    FollowupCode::parse(&code.display()).as_ref() == Ok(&code),
                    || "the display form does not parse back to the same code".into(),
                )?;
            }
            Ok(())
        }
        (None, Some(digits), None) => {
            b.outcome("ok", " (a damm block always expects ok)")?;
            let values = digit_values("damm", &digits)?;
            let want: u8 = b.num("interim")?;
            ensure_eq("damm_interim", damm_interim(&values), want)
        }
        (None, None, Some(text)) => {
            let text = json_text("contains", &text)?;
            let got = if contains_code_run(&text) {
                "code found"
            } else {
                "no code found"
            };
            b.outcome(got, "")
        }
        _ => Err("a block needs exactly one of `parse`, `damm`, `contains`".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// envelope.txt
// ---------------------------------------------------------------------------------------------

#[test]
fn envelope() {
    run(
        "envelope",
        &["ok", "authentication failure", "malformed"],
        check_envelope,
    );
}

/// The AAD fields of a block, under `prefix` (`""` or `"open_"`).
fn item_aad(b: &mut Block, prefix: &str) -> Res<ItemAad> {
    Ok(ItemAad {
        report_id: b.arr(&format!("{prefix}report_id"))?,
        kind: b.num(&format!("{prefix}kind"))?,
        item_id: b.arr(&format!("{prefix}item_id"))?,
        direction: b.num(&format!("{prefix}direction"))?,
        seq: b.num(&format!("{prefix}seq"))?,
        prev: b.arr(&format!("{prefix}prev"))?,
    })
}

/// The bucket rule of DESIGN.md, computed here independently of `envelope::bucket`.
fn expected_bucket(len: usize) -> usize {
    let mut size = 512;
    while size < len + 4 {
        size *= 2;
    }
    size
}

fn check_envelope(b: &mut Block) -> Res {
    match b.get("op")?.as_str() {
        "seal" => {
            b.outcome("ok", " (a seal block always expects ok)")?;
            let key = b.secret("key")?;
            let nonce: [u8; 24] = b.arr("nonce")?;
            let aad = item_aad(b, "")?;
            let aad_bytes = b.hex("aad")?;
            let plaintext = b.hex("plaintext")?;
            let sealed = b.hex("sealed")?;

            let ours = seal_with_nonce(&key, &aad, &plaintext, &nonce);
            ensure_hex("seal_with_nonce", &ours, &sealed)?;
            let opened = envelope::open(&key, &aad, &sealed);
            let (got, detail) = crypto_outcome(&opened);
            b.outcome(got, &detail)?;
            ensure_hex("open", &opened.expect("checked ok"), &plaintext)?;

            // The wire format and padding, checked with the bare AEAD rather than through
            // `open`, so that a lenient `open` could not hide a change in what `seal` writes.
            let padded_len = expected_bucket(plaintext.len());
            ensure_eq("bucket()", bucket(plaintext.len()), padded_len)?;
            ensure_eq("MIN_BUCKET", MIN_BUCKET, 512)?;
            ensure_eq("length", sealed.len(), 1 + 24 + padded_len + 16)?;
            ensure_eq("version byte", sealed[0], ENVELOPE_VERSION)?;
            ensure_eq("version byte value", ENVELOPE_VERSION, 2)?;
            ensure_hex("nonce in the wire format", &sealed[1..25], &nonce)?;
            let padded = XChaCha20Poly1305::new(&Key::from(*key.expose()))
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &sealed[25..],
                        aad: &aad_bytes,
                    },
                )
                .map_err(|_| "sealed does not open with the bare AEAD under `aad`".to_string())?;
            let mut want = u32::try_from(plaintext.len())
                .expect("small")
                .to_be_bytes()
                .to_vec();
            want.extend_from_slice(&plaintext);
            want.resize(padded_len, 0);
            ensure_hex("padded plaintext", &padded, &want)
        }
        "open" => {
            let key = b.secret("key")?;
            let aad = item_aad(b, "")?;
            let sealed = b.hex("sealed")?;
            let opened = envelope::open(&key, &aad, &sealed);
            let (got, detail) = crypto_outcome(&opened);
            b.outcome(got, &detail)?;
            if let Ok(pt) = opened {
                ensure_hex("open", &pt, &b.hex("plaintext")?)?;
            }
            Ok(())
        }
        "rebind" => {
            let key = b.secret("key")?;
            let aad = item_aad(b, "")?;
            let plaintext = b.hex("plaintext")?;
            let open_key = b.secret("open_key")?;
            let open_aad = item_aad(b, "open_")?;
            let sealed = envelope::seal(&key, &aad, &plaintext);
            let again = envelope::seal(&key, &aad, &plaintext);
            ensure(sealed[1..25] != again[1..25], || {
                "two seals share a nonce: seal() is not randomised".into()
            })?;
            let same = envelope::open(&key, &aad, &sealed)
                .map_err(|e| format!("a fresh seal does not open under its own AAD: {e}"))?;
            ensure_hex("open under the sealing AAD", &same, &plaintext)?;
            let opened = envelope::open(&open_key, &open_aad, &sealed);
            let (got, detail) = crypto_outcome(&opened);
            b.outcome(got, &detail)?;
            if let Ok(pt) = opened {
                ensure_hex("open", &pt, &plaintext)?;
            }
            Ok(())
        }
        "unwrap report key" => {
            let kek = b.secret("kek")?;
            let report_id: [u8; 16] = b.arr("report_id")?;
            let version: u8 = b.num("version")?;
            let wrapped = b.hex("wrapped")?;
            let opened = envelope::unwrap_report_key(&kek, &report_id, version, &wrapped);
            let (got, detail) = crypto_outcome(&opened);
            b.outcome(got, &detail)?;
            if let Ok(k) = opened {
                let want = b.secret("report_key")?;
                ensure_hex("unwrapped K_r", k.expose(), want.expose())?;
                // wrap_report_key seals under a fresh nonce: no known answer, but a round trip.
                let again = envelope::wrap_report_key(&kek, &report_id, version, &want);
                ensure(again != wrapped, || {
                    "two reporter wraps are identical".into()
                })?;
                let k2 = envelope::unwrap_report_key(&kek, &report_id, version, &again)
                    .map_err(|e| format!("a fresh reporter wrap does not open: {e}"))?;
                ensure_hex("round trip", k2.expose(), want.expose())?;
            }
            Ok(())
        }
        op => Err(format!("unknown op `{op}`")),
    }
}

// ---------------------------------------------------------------------------------------------
// header.txt
// ---------------------------------------------------------------------------------------------

#[test]
fn header() {
    run(
        "header",
        &["ok", "authentication failure", "malformed"],
        check_header,
    );
}

fn verifying_key(b: &mut Block, key: &str) -> Res<VerifyingKey> {
    VerifyingKey::from_bytes(&b.arr(key)?)
        .map_err(|e| format!("`{key}` is not an Ed25519 public key: {e}"))
}

fn check_header(b: &mut Block) -> Res {
    match b.get("op")?.as_str() {
        "sign" => {
            b.outcome("ok", " (a sign block always expects ok)")?;
            let signing = SigningKey::from_bytes(&b.arr("intake_seed")?);
            let public = verifying_key(b, "intake_public")?;
            ensure_eq("public key of intake_seed", signing.verifying_key(), public)?;
            let report_id: [u8; 16] = b.arr("report_id")?;
            let k_r = b.secret("k_r")?;
            let commitment: [u8; 32] = b.arr("key_commitment")?;
            ensure_hex(
                "key_commitment",
                &key_commitment(&report_id, &k_r),
                &commitment,
            )?;
            let recipients = b
                .all("recipient")
                .iter()
                .map(|r| {
                    unhex("recipient", r)?
                        .try_into()
                        .map_err(|_| "`recipient` is not 32 bytes".to_string())
                })
                .collect::<Res<Vec<[u8; 32]>>>()?;
            let header = ReportHeader {
                report_id,
                day: b.get("day")?,
                unit: b.get("unit")?,
                tip_item: b.arr("tip_item")?,
                key_commitment: commitment,
                recipient_epoch: b.num("recipient_epoch")?,
                recipients,
            };
            let encoding = b.hex("encoding")?;
            let signature = b.hex("signature")?;
            ensure_hex("encode()", &header.encode(), &encoding)?;
            let (signed_bytes, sig) = header.sign(&signing);
            ensure_hex("sign() bytes", &signed_bytes, &encoding)?;
            ensure_hex("sign() signature", &sig, &signature)?;
            ensure_eq(
                "decode()",
                ReportHeader::decode(&encoding).as_ref(),
                Ok(&header),
            )?;
            let verified = ReportHeader::verify(&encoding, &signature, &public);
            let (got, detail) = crypto_outcome(&verified);
            b.outcome(got, &detail)?;
            ensure_eq("verify()", verified.as_ref(), Ok(&header))
        }
        "verify" => {
            let public = verifying_key(b, "intake_public")?;
            let encoding = b.hex("encoding")?;
            let signature = b.hex("signature")?;
            let verified = ReportHeader::verify(&encoding, &signature, &public);
            let (got, detail) = crypto_outcome(&verified);
            b.outcome(got, &detail)
        }
        op => Err(format!("unknown op `{op}`")),
    }
}

// ---------------------------------------------------------------------------------------------
// recipients.txt
// ---------------------------------------------------------------------------------------------

#[test]
fn recipients() {
    run(
        "recipients",
        &[
            "ok",
            "bad signature",
            "expired",
            "not yet valid",
            "rollback",
            "malformed",
        ],
        check_recipients,
    );
}

/// A `recipient:` line: a JSON object with exactly the four fields of [`Recipient`]. Checked by
/// hand because serde would quietly default a misspelt `ed25519`.
fn recipient(v: &str) -> Res<Recipient> {
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(v).map_err(|e| format!("`recipient` is not a JSON object: {e}"))?;
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = ["name", "role", "x25519", "ed25519"].into();
    ensure(keys == want, || {
        format!("`recipient` must have exactly the fields {want:?}, has {keys:?}")
    })?;
    serde_json::from_value(serde_json::Value::Object(obj)).map_err(|e| format!("`recipient`: {e}"))
}

fn check_recipients(b: &mut Block) -> Res {
    let org = verifying_key(b, "org_public")?;
    let list = RecipientList {
        epoch: b.num("epoch")?,
        issued_at: b.num("issued_at")?,
        expires_at: b.num("expires_at")?,
        recipients: b
            .all("recipient")
            .iter()
            .map(|r| recipient(r))
            .collect::<Res<_>>()?,
    };
    let signature = b.get("signature")?;
    if let Some(seed) = b.opt("signer_seed")? {
        let signer = SigningKey::from_bytes(
            &unhex("signer_seed", &seed)?
                .try_into()
                .map_err(|_| "`signer_seed` is not 32 bytes".to_string())?,
        );
        let signed = list.clone().sign(&signer);
        ensure_eq(
            "signature by signer_seed",
            signed.signature.as_str(),
            &signature,
        )?;
        ensure_eq("format", signed.format.as_str(), "bisik-recipient-list-v1")?;
    }
    let now: u64 = b.num("now")?;
    let highest_seen: u64 = b.num("highest_seen")?;
    let signed = SignedRecipientList {
        format: "bisik-recipient-list-v1".into(),
        list: list.clone(),
        signature,
    };
    let r = signed.verify(&org, now, highest_seen);
    let (got, detail) = match &r {
        Ok(_) => ("ok", String::new()),
        Err(ListError::BadSignature) => ("bad signature", String::new()),
        Err(ListError::Expired(at)) => ("expired", format!(" (expired at {at})")),
        Err(ListError::NotYetValid(at)) => ("not yet valid", format!(" (issued at {at})")),
        Err(ListError::Rollback { got, seen }) => {
            ("rollback", format!(" (got {got}, seen {seen})"))
        }
        Err(ListError::Malformed(m)) => ("malformed", format!(" ({m})")),
    };
    b.outcome(got, &detail)?;
    match r {
        Ok(accepted) => {
            ensure_eq("accepted list", accepted, &list)?;
            let keys = accepted
                .keys()
                .map_err(|e| format!("keys() of an accepted list: {e}"))?;
            let want: Vec<String> = list.recipients.iter().map(|r| r.x25519.clone()).collect();
            let got: Vec<String> = keys.iter().map(|k| hex::encode(k.public)).collect();
            ensure_eq("keys()", got, want)
        }
        Err(ListError::Expired(at)) => ensure_eq("expiry reported", at, list.expires_at),
        Err(ListError::Rollback { got, seen }) => {
            ensure_eq("rollback reported", (got, seen), (list.epoch, highest_seen))
        }
        Err(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// wrap.txt
// ---------------------------------------------------------------------------------------------

#[test]
fn wrap() {
    run(
        "wrap",
        &["ok", "authentication failure", "malformed"],
        check_wrap,
    );
}

fn purpose(b: &mut Block, key: &str) -> Res<Purpose> {
    match b.get(key)?.as_str() {
        "reporter" => Ok(Purpose::ReporterKey),
        "staff" => Ok(Purpose::StaffKey),
        p => Err(format!("`{key}` must be reporter or staff, not {p:?}")),
    }
}

fn recipient_key(b: &mut Block, key: &str) -> Res<RecipientKey> {
    RecipientKey::from_bytes(&b.hex(key)?).map_err(|e| format!("`{key}`: {e}"))
}

fn tamper(wrap: &mut Vec<u8>, how: &str) -> Res {
    let bad = || format!("`tamper` must be `flip N`, `truncate N` or `append HEX`, not {how:?}");
    let (verb, arg) = how.split_once(' ').ok_or_else(bad)?;
    match verb {
        "flip" => {
            let i: usize = arg.parse().map_err(|_| bad())?;
            let byte = wrap
                .get_mut(i)
                .ok_or_else(|| format!("cannot flip byte {i}"))?;
            *byte ^= 0x01;
        }
        "truncate" => {
            let n: usize = arg.parse().map_err(|_| bad())?;
            let len = wrap
                .len()
                .checked_sub(n)
                .ok_or_else(|| format!("cannot drop {n} bytes"))?;
            wrap.truncate(len);
        }
        "append" => wrap.extend_from_slice(&unhex("tamper", arg)?),
        _ => return Err(bad()),
    }
    Ok(())
}

fn check_wrap(b: &mut Block) -> Res {
    match b.get("op")?.as_str() {
        "public" => {
            b.outcome("ok", " (a public block always expects ok)")?;
            let secret = b.secret("secret")?;
            let public: [u8; 32] = b.arr("public")?;
            let got = public_of(&secret).map_err(|e| format!("public_of: {e}"))?;
            ensure_hex("public_of", &got, &public)?;
            RecipientKey::from_bytes(&public).map_err(|e| format!("RecipientKey: {e}"))?;
            Ok(())
        }
        "open" => {
            let secret = b.secret("secret")?;
            let recipient = recipient_key(b, "recipient")?;
            let report_id: [u8; 16] = b.arr("report_id")?;
            let purpose = purpose(b, "purpose")?;
            let wrap = b.hex("wrap")?;
            let opened = unwrap(&secret, &recipient, &report_id, purpose, &wrap);
            let (got, detail) = crypto_outcome(&opened);
            b.outcome(got, &detail)?;
            if let Ok(k) = opened {
                ensure_hex("unwrapped key", k.expose(), b.secret("key")?.expose())?;
            }
            Ok(())
        }
        "roundtrip" => {
            let recipient = recipient_key(b, "recipient")?;
            let report_id: [u8; 16] = b.arr("report_id")?;
            let purpose_w = purpose(b, "purpose")?;
            let key = b.secret("key")?;
            let open_secret = b.secret("open_secret")?;
            let open_recipient = recipient_key(b, "open_recipient")?;
            let open_report_id: [u8; 16] = b.arr("open_report_id")?;
            let open_purpose = purpose(b, "open_purpose")?;

            let mut wrap = wrap_to(&recipient, &report_id, purpose_w, &key)
                .map_err(|e| format!("wrap_to: {e}"))?;
            ensure_eq("wrap length", wrap.len(), WRAP_LEN)?;
            ensure_eq("WRAP_LEN", WRAP_LEN, 80)?;
            let other = wrap_to(&recipient, &report_id, purpose_w, &key)
                .map_err(|e| format!("wrap_to: {e}"))?;
            ensure(other != wrap && other[..32] != wrap[..32], || {
                "two wraps share an encapsulated key: HPKE is not randomised".into()
            })?;
            if let Some(how) = b.opt("tamper")? {
                tamper(&mut wrap, &how)?;
            }
            let opened = unwrap(
                &open_secret,
                &open_recipient,
                &open_report_id,
                open_purpose,
                &wrap,
            );
            let (got, detail) = crypto_outcome(&opened);
            b.outcome(got, &detail)?;
            if let Ok(k) = opened {
                ensure_hex("unwrapped key", k.expose(), key.expose())?;
            }
            Ok(())
        }
        op => Err(format!("unknown op `{op}`")),
    }
}

// ---------------------------------------------------------------------------------------------
// kdf.txt
// ---------------------------------------------------------------------------------------------

#[test]
fn kdf() {
    run("kdf", &["ok"], check_kdf);
}

fn check_kdf(b: &mut Block) -> Res {
    let typed = b.get("code")?;
    let code = FollowupCode::parse(&typed).map_err(|e| format!("`code` does not parse: {e}"))?;
    let pepper = b.secret("pepper")?;
    let version: u8 = b.num("version")?;
    let params = CodeKdfParams {
        m_kib: b.num("m_kib")?,
        t: b.num("t")?,
        p: b.num("p")?,
    };
    let tag: [u8; 32] = b.arr("tag")?;
    let kek = b.secret("kek")?;
    ensure_eq("code version", code.version(), version)?;
    ensure_eq("code_params", code_params(version), Some(params))?;
    let derived = derive_code_secrets(&code, &pepper);
    let (got, detail) = crypto_outcome(&derived);
    b.outcome(got, &detail)?;
    let s = derived.expect("checked ok");
    ensure_eq("derived version", s.version, version)?;
    ensure_hex("tag", &s.tag, &tag)?;
    ensure_hex("kek", s.kek.expose(), kek.expose())
}

// ---------------------------------------------------------------------------------------------
// chain.txt
// ---------------------------------------------------------------------------------------------

#[test]
fn chain() {
    run(
        "chain",
        &["ok", "authentication failure", "malformed"],
        check_chain,
    );
}

fn check_chain(b: &mut Block) -> Res {
    match b.get("op")?.as_str() {
        "item hash" => {
            b.outcome("ok", " (an item hash block always expects ok)")?;
            let aad = item_aad(b, "")?;
            ensure_hex("aad encoding", &aad.encode(), &b.hex("aad")?)?;
            ensure_hex(
                "item_hash",
                &item_hash(&aad, &b.hex("sealed")?),
                &b.hex("hash")?,
            )
        }
        "sign head" => {
            b.outcome("ok", " (a sign block always expects ok)")?;
            let key = SigningKey::from_bytes(&b.arr("signer_seed")?);
            let public = verifying_key(b, "signer_public")?;
            ensure_eq("public key of signer_seed", key.verifying_key(), public)?;
            let (bytes, sig) = ChainHead::sign(
                b.arr("report_id")?,
                b.num("count")?,
                b.arr("last_hash")?,
                &key,
            );
            ensure_hex("encoding", &bytes, &b.hex("encoding")?)?;
            ensure_hex("signature", &sig, &b.hex("signature")?)?;
            let signer: [u8; 32] = b.arr("signer")?;
            ensure_hex("signer_fingerprint", &signer_fingerprint(&public), &signer)?;
            let head = ChainHead::verify(&bytes, &sig, &public)
                .map_err(|e| format!("verify of a fresh head: {e}"))?;
            ensure_hex("signer field", &head.signer, &signer)
        }
        "verify head" => {
            let public = verifying_key(b, "public")?;
            let r = ChainHead::verify(&b.hex("encoding")?, &b.hex("signature")?, &public);
            let (got, detail) = crypto_outcome(&r);
            b.outcome(got, &detail)
        }
        "sign key statement" => {
            b.outcome("ok", " (a sign block always expects ok)")?;
            let key = SigningKey::from_bytes(&b.arr("signer_seed")?);
            let public = verifying_key(b, "signer_public")?;
            ensure_eq("public key of signer_seed", key.verifying_key(), public)?;
            let report_id: [u8; 16] = b.arr("report_id")?;
            let commitment: [u8; 32] = b.arr("commitment")?;
            ensure_hex(
                "key_commitment",
                &key_commitment(&report_id, &b.secret("k")?),
                &commitment,
            )?;
            let (bytes, sig) = KeyStatement {
                report_id,
                purpose: b.num("purpose")?,
                commitment,
                signer: [0; 32],
            }
            .sign(&key);
            ensure_hex("encoding", &bytes, &b.hex("encoding")?)?;
            ensure_hex("signature", &sig, &b.hex("signature")?)?;
            let st = KeyStatement::verify(&bytes, &sig, &public)
                .map_err(|e| format!("verify of a fresh statement: {e}"))?;
            ensure_hex("signer field", &st.signer, &b.arr::<32>("signer")?)
        }
        "verify key statement" => {
            let public = verifying_key(b, "public")?;
            let r = KeyStatement::verify(&b.hex("encoding")?, &b.hex("signature")?, &public);
            let (got, detail) = crypto_outcome(&r);
            b.outcome(got, &detail)
        }
        op => Err(format!("unknown op `{op}`")),
    }
}
