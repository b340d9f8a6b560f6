//! Load generation over loopback HTTP: the client, one submission and one follow-up as a
//! reporter's app sends them, and [`drive`], which runs an operation on N workers, bounded both
//! in count and in time, and tallies statuses and latencies.

use super::report::{ms, percentile};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Hard cap on requests in any one phase, whatever the clock says.
pub const MAX_REQUESTS: usize = 50_000;
/// Pseudo-status for a 503 that lacks Retry-After (a bug the driver reports).
const NO_RETRY_AFTER: u16 = 5030;

pub fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(conns)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

/// One request's outcome.
pub struct Reply {
    /// HTTP status, or None for a transport error.
    pub status: Option<u16>,
    lat: Duration,
    code: Option<String>,
}

/// What [`drive`] saw over a phase: latencies of the expected status, every status counted,
/// and the follow-up codes that submissions issued (for the follow-up phases).
#[derive(Default)]
pub struct Tally {
    lat_ok: Vec<Duration>,
    statuses: BTreeMap<String, u64>,
    pub codes: Vec<String>,
    pub elapsed: Duration,
}

impl Tally {
    pub fn ok(&self) -> usize {
        self.lat_ok.len()
    }
    pub fn total(&self) -> u64 {
        self.statuses.values().sum()
    }
    pub fn rate(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn pcts(&mut self) -> String {
        let p50 = percentile(&mut self.lat_ok, 50.0);
        let p95 = percentile(&mut self.lat_ok, 95.0);
        let p99 = percentile(&mut self.lat_ok, 99.0);
        format!("p50 {} / p95 {} / p99 {}", ms(p50), ms(p95), ms(p99))
    }
    pub fn status_text(&self) -> String {
        self.statuses
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs `op` on `concurrency` workers until `budget` requests were started or `secs` passed.
/// A worker that receives 503 waits `shed_pause` before its next request.
pub async fn drive<F, Fut>(
    concurrency: usize,
    budget: usize,
    secs: f64,
    ok_status: u16,
    shed_pause: Duration,
    op: F,
) -> Tally
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Reply> + Send,
{
    let budget = budget.min(MAX_REQUESTS);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let op = op.clone();
        set.spawn(async move {
            let mut t = Tally::default();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= budget || Instant::now() >= deadline {
                    break;
                }
                let r = op(n).await;
                let key = match r.status {
                    Some(NO_RETRY_AFTER) => "503 without Retry-After".into(),
                    Some(s) => s.to_string(),
                    None => "transport error".into(),
                };
                *t.statuses.entry(key).or_default() += 1;
                if r.status == Some(ok_status) {
                    t.lat_ok.push(r.lat);
                    if let Some(c) = r.code {
                        t.codes.push(c);
                    }
                } else if matches!(r.status, Some(503 | NO_RETRY_AFTER)) && !shed_pause.is_zero() {
                    tokio::time::sleep(shed_pause).await;
                }
            }
            t
        });
    }
    let mut all = Tally::default();
    while let Some(r) = set.join_next().await {
        let t = r.expect("load worker");
        all.lat_ok.extend(t.lat_ok);
        all.codes.extend(t.codes);
        for (k, v) in t.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    all.elapsed = start.elapsed();
    all
}

pub const TIP: &str = "Di gang belakang pasar ada rumah cat hijau yang sering didatangi orang tak dikenal \
pada malam hari, terutama antara jam sepuluh dan jam dua pagi. Mereka datang dengan motor, masuk \
sebentar lalu pergi lagi. Tetangga sering mencium bau menyengat seperti plastik terbakar. Pemilik \
rumah jarang terlihat siang hari dan tidak pernah ikut kegiatan warga. Beberapa anak muda dari \
kampung sebelah juga terlihat keluar dengan bungkusan kecil yang disimpan di dalam jaket.";

/// Submissions from `concurrency` workers to the intake at `base` until `budget` were started
/// or `secs` passed ([`drive`], expecting 201).
pub async fn submissions(
    c: &reqwest::Client,
    base: &str,
    concurrency: usize,
    budget: usize,
    secs: f64,
) -> Tally {
    let (c, base) = (c.clone(), base.to_owned());
    drive(concurrency, budget, secs, 201, Duration::ZERO, move |_| {
        submit(c.clone(), base.clone())
    })
    .await
}

pub async fn submit(c: reqwest::Client, base: String) -> Reply {
    let body = serde_json::json!({
        "category": "peredaran",
        "area": "kandangan",
        "description": TIP,
        "location": "Gang belakang pasar, rumah cat hijau",
        "when": "Hampir setiap malam, jam 22.00-02.00",
    });
    let t = Instant::now();
    let r = c
        .post(format!("{base}/api/v1/reports"))
        .json(&body)
        .send()
        .await;
    match r {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let code = if status == 201 {
                resp.json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v.get("code")?.as_str().map(str::to_owned))
            } else {
                let _ = resp.bytes().await;
                None
            };
            let lat = t.elapsed();
            // A 201 without a code would be a server bug: count it as such.
            let status = if status == 201 && code.is_none() {
                999
            } else {
                status
            };
            Reply {
                status: Some(status),
                lat,
                code,
            }
        }
        Err(_) => Reply {
            status: None,
            lat: t.elapsed(),
            code: None,
        },
    }
}

pub async fn followup(c: reqwest::Client, base: String, code: String) -> Reply {
    let t = Instant::now();
    let r = c
        .post(format!("{base}/api/v1/followup"))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await;
    match r {
        Ok(resp) => {
            let mut status = resp.status().as_u16();
            if status == 503 && resp.headers().get("retry-after").is_none() {
                status = NO_RETRY_AFTER;
            }
            let _ = resp.bytes().await;
            Reply {
                status: Some(status),
                lat: t.elapsed(),
                code: None,
            }
        }
        Err(_) => Reply {
            status: None,
            lat: t.elapsed(),
            code: None,
        },
    }
}
