use crate::on_both;
use crate::support::{Backend, Opts, TestApp, canary};
use serde_json::json;
use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

on_both!(no_code_or_text_outlives_its_request);

/// What to look for, with a name for the failure message that says what it is, not its value.
pub(crate) struct Needle {
    pub(crate) what: String,
    pub(crate) bytes: Vec<u8>,
}

/// Every form a code takes in the server: as typed and shown (grouped), as the KDF's password
/// (20 ASCII digits), and as the digit values `FollowupCode` stores.
fn code_needles(i: usize, code: &str) -> Vec<Needle> {
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits.len(), 20);
    vec![
        Needle {
            what: format!("code {i}, grouped"),
            bytes: code.as_bytes().to_vec(),
        },
        Needle {
            what: format!("code {i}, ungrouped"),
            bytes: digits.as_bytes().to_vec(),
        },
        Needle {
            what: format!("code {i}, raw digit values"),
            bytes: digits.bytes().map(|d| d - b'0').collect(),
        },
    ]
}

/// Scans every readable mapping of `pid` through /proc/PID/maps and /proc/PID/mem and names
/// each needle found, with the mapping it was found in. Panics, loudly, when memory cannot be
/// read: a scan that reads nothing must never look like a clean one.
pub(crate) fn scan(pid: u32, needles: &[Needle]) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_else(|e| panic!("MEMORY SCAN IMPOSSIBLE: cannot read /proc/{pid}/maps: {e}"));
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap_or_else(|e| {
        panic!(
            "MEMORY SCAN IMPOSSIBLE: cannot open /proc/{pid}/mem ({e}); this test needs root \
             (CAP_SYS_PTRACE), since the server is not dumpable"
        )
    });
    let finders: Vec<_> = needles
        .iter()
        .map(|n| memchr::memmem::Finder::new(&n.bytes))
        .collect();
    let (mut read, mut heap_read) = (0usize, 0usize);
    let mut found = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        let name = line.split_whitespace().nth(5).unwrap_or("[anon]");
        if !perms.starts_with('r') || name == "[vvar]" || name == "[vsyscall]" {
            continue;
        }
        let (lo, hi) = range.split_once('-').unwrap();
        let (lo, hi) = (
            u64::from_str_radix(lo, 16).unwrap(),
            u64::from_str_radix(hi, 16).unwrap(),
        );
        let mut buf = vec![0u8; (hi - lo) as usize];
        if mem.seek(SeekFrom::Start(lo)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        read += buf.len();
        if name == "[heap]" || name == "[anon]" {
            heap_read += buf.len();
        }
        for (n, f) in needles.iter().zip(&finders) {
            for at in f.find_iter(&buf) {
                found.push(format!(
                    "{} in {name} ({perms} {range}) at +{at:#x}",
                    n.what
                ));
                // BISIK_TEST_MEMDUMP=1 shows what surrounds a residue, to find its owner.
                if std::env::var_os("BISIK_TEST_MEMDUMP").is_some() && pid != std::process::id() {
                    let ctx = &buf[at.saturating_sub(256)..(at + 256).min(buf.len())];
                    eprintln!(
                        "--- {}:\n{}",
                        n.what,
                        String::from_utf8_lossy(ctx).escape_debug()
                    );
                }
            }
        }
    }
    assert!(
        read > 0 && heap_read > 0,
        "MEMORY SCAN IMPOSSIBLE: read {read} bytes of /proc/{pid}/mem ({heap_read} of heap and \
         anonymous memory); the scan proves nothing"
    );
    eprintln!("memory scan: read {} MiB of process memory", read >> 20);
    found
}

/// I3: tips, follow-ups and a message carrying canaries go through the server over connections
/// that are then closed. Within a bounded wait, neither a canary nor any form of an issued code
/// is left anywhere in the server's memory (heap, thread stacks, reused buffers). The stock
/// still holds codes not yet issued; those are allowed, issued ones are not.
async fn no_code_or_text_outlives_its_request(b: Backend) {
    let app = TestApp::start_with(
        b,
        Opts {
            metrics: true,
            // Four places, so the coarse gauge's "half or more" (2) means at least two codes.
            env: vec![("BISIK_STOCK_SIZE", "4".into())],
            ..Opts::default()
        },
    )
    .await;
    // Let the stock fill a little, so issued codes come from it: popping one must not leave a
    // copy in the stock's vector.
    let filled = Instant::now();
    while app.metric("bisik_stock_step").await < 2 {
        assert!(
            filled.elapsed() < Duration::from_secs(60),
            "the stock never filled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut needles = Vec::new();
    let mut codes = Vec::new();
    for i in 0..3 {
        let texts: Vec<String> = ["DESC", "LOC", "WHEN", "WHO", "CAR"]
            .iter()
            .map(|t| canary(&format!("{t}{i}")))
            .collect();
        // Each request through a fresh client, so its connection closes afterwards.
        let code = app
            .submit(json!({
                "description": format!("ada transaksi {}", texts[0]),
                "location": texts[1],
                "when": texts[2],
                "people": texts[3],
                "vehicles": texts[4],
            }))
            .await;
        for (t, c) in ["description", "location", "when", "people", "vehicles"]
            .iter()
            .zip(&texts)
        {
            needles.push(Needle {
                what: format!("tip {i} {t}"),
                bytes: c.as_bytes().to_vec(),
            });
        }
        needles.extend(code_needles(i, &code));
        codes.push(code);
    }
    for (i, code) in codes.iter().enumerate() {
        let (s, v) = app.followup(code).await;
        assert_eq!(s, 200, "{v}");
        let msg = canary(&format!("MSG{i}"));
        let r = app
            .post(
                "/api/v1/followup/messages",
                json!({"code": code, "body": format!("tambahan: {msg}")}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        // Read the message back, so it also passes through a response.
        let (s, v) = app.followup(code).await;
        assert_eq!(s, 200);
        assert!(v.to_string().contains(&msg));
        needles.push(Needle {
            what: format!("message {i}"),
            bytes: msg.into_bytes(),
        });
    }
    // The scan finds what it looks for: a canary still held by this test process.
    let probe = canary("PROBE");
    let me = scan(
        std::process::id(),
        &[Needle {
            what: "probe".into(),
            bytes: probe.as_bytes().to_vec(),
        }],
    );
    assert!(!me.is_empty(), "the scanner cannot find a known string");

    // Bounded wait: closed connections and finished blocking tasks may take a moment to be
    // dropped. Poll, never just sleep.
    let start = Instant::now();
    let found = loop {
        let found = scan(app.pid(), &needles);
        if std::env::var_os("BISIK_TEST_MEMDUMP").is_some() {
            let out = std::process::Command::new("ss")
                .args(["-tnp"])
                .output()
                .unwrap();
            let port = app.addr.rsplit(':').next().unwrap().to_owned();
            for l in String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains(&port))
            {
                eprintln!("ss: {l}");
            }
        }
        if found.is_empty()
            || start.elapsed()
                > Duration::from_secs(if std::env::var_os("BISIK_TEST_MEMDUMP").is_some() {
                    1
                } else {
                    60
                })
        {
            break found;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    assert!(
        found.is_empty(),
        "after {:?}, secrets are still in the server's memory:\n  {}",
        start.elapsed(),
        found.join("\n  ")
    );
    eprintln!("memory clean after {:?}", start.elapsed());
}
