//! Search across sealed fields (issue 7): the area (kecamatan) and the free text of the tips
//! and reporter-visible messages a staff member can open.
//!
//! The server keeps no plaintext index and no deterministic tag: a tag over 11 kecamatan is a
//! dictionary to anyone holding the intake's keys. Instead the session that searches decrypts
//! what it may read, once, into [`Summaries`] kept with the session, in memory only, for its
//! lifetime; every string is zeroized when the last reference goes (logout, expiry). Each build
//! or refresh is audited as one `indexed` entry naming every report decrypted for it (I6).
//!
//! Need to know holds without trusting the summaries: the rows of every page go back to the
//! database, which keeps only those wrapped to the reader's key now, so a report unshared a
//! moment ago is never shown; each row is opened and checked as in the inbox. A query with a
//! plaintext filter (status, priority, ...) or another sort sends all its matches to SQL, which
//! filters and orders them; a query sorted by day with no such filter is ordered here, from the
//! day each summary keeps, and only its page goes to SQL (the count then comes from the
//! summaries, which are relisted whenever the number of wrapped reports changes).
//!
//! A session's first search opens every report once. Most of that used to be public-key work
//! (an HPKE unwrap and an Ed25519 header check per report); [`super::rewrap`] keeps K_r sealed
//! for the reader under a key only their own unlocked X25519 key gives, so a later session pays
//! that work only for reports it has never opened.

use super::DeskState;
use super::audit::{Event, Signer};
use super::keys::StaffKeys;
use super::rewrap::Rewrap;
use super::session::Authed;
use super::sharing::{ShareError, integrity_failed, key_under_header};
use crate::crypto::envelope;
use crate::crypto::header::ReportHeader;
use crate::crypto::header::key_commitment;
use crate::crypto::wrap::RecipientKey;
use crate::domain::{ItemKind, ReportId, StaffId};
use crate::items::{MessagePlain, TipPlain, item_aad};
use crate::store::SearchMaterial;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Reports decrypted per database round trip.
const BATCH: usize = 400;

/// Batches a build reads and opens at once. Once desk wraps spare a build the public-key work,
/// reading dominates it, and on SQLite each read is B-tree lookups on its connection's own
/// thread while the rows are converted on the desk's worker: four in flight kept both cores
/// busy where two left a third of one idle (docs/BENCHMARKS.md, 40,000 reports: 2.0 s to 1.3 s).
const BATCHES_IN_FLIGHT: usize = 4;

/// One report's searchable texts.
pub struct Summary {
    /// Area id, if the reporter gave one.
    pub area: Option<Zeroizing<String>>,
    /// Every field and reporter-visible message, lower-cased, separated by new lines.
    pub text: Zeroizing<String>,
    /// The received day when it was summarised (plaintext in the database; kept so that a
    /// search sorted by day is ordered here, not by sending every match to SQL).
    pub day: i64,
}

/// Summaries in the order they were opened, shared by every later snapshot (a step of a build
/// adds one chunk; nothing already opened is copied).
type Chunk = Vec<(ReportId, Arc<Summary>)>;

/// One snapshot of a session's summaries, for the reader's key fingerprint they were built for.
/// A build publishes a new snapshot after each step; a snapshot never changes.
pub struct Summaries {
    /// The X25519 fingerprint (hex) the reports were opened with.
    pub fp: String,
    chunks: Vec<Arc<Chunk>>,
    /// Reports that failed a check while being summarised (left out, audited once).
    pub failed: HashSet<ReportId>,
    /// When the ids wrapped to the key were last listed in full.
    listed: Instant,
    /// How many reports were wrapped to the key at that listing.
    wrapped: usize,
    /// [`crate::store::Store::wraps_removed`] read before that listing: while it is unchanged
    /// no unshare of this process can have taken a listed report from the reader.
    removals: u64,
    /// The UTC day of that listing.
    listed_day: i64,
    /// The report of every message of `listed_day` or later, one entry per message, as at the
    /// listing: a report that has more now gained a message since, and is opened again.
    messages: Vec<ReportId>,
    /// How many of them, newest first, have been processed (opened, failed, or unshared since
    /// the listing): every wrapped report before that point of the inbox's default order.
    done: usize,
    /// The build stopped with this error; the next search starts a new one.
    broken: Option<String>,
}

impl Summaries {
    /// Bytes of decrypted text held (the benchmark records the memory a session's summaries
    /// take).
    pub fn text_bytes(&self) -> usize {
        self.each()
            .map(|(_, s)| s.text.len() + s.area.as_ref().map_or(0, |a| a.len()))
            .sum()
    }

    /// Whether every report wrapped at the listing has been processed.
    pub fn complete(&self) -> bool {
        self.done >= self.wrapped
    }

    /// (processed, wrapped at the listing): how far a build has got.
    pub fn progress(&self) -> (usize, usize) {
        (self.done.min(self.wrapped), self.wrapped)
    }

    /// The area of every summarised report that has one (the figures count by it).
    pub fn areas(&self) -> std::collections::HashMap<ReportId, &str> {
        self.each()
            .filter_map(|(id, s)| s.area.as_deref().map(|a| (*id, a.as_str())))
            .collect()
    }

    /// Whether every report held may still be the reader's as far as this process knows: no
    /// wrap was removed since the listing. Only then may a count or an order come from the
    /// summaries alone; otherwise the database decides (the inbox's search).
    pub fn current(&self, st: &DeskState) -> bool {
        self.removals == st.reports.wraps_removed()
    }

    /// Why the build stopped, if it did.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    fn each(&self) -> impl Iterator<Item = &(ReportId, Arc<Summary>)> {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

/// A session's summaries: the latest snapshot, replaced as a build goes on. The session holds
/// the only strong reference besides requests in flight; a background build holds a weak one.
pub type Cell = Arc<tokio::sync::watch::Sender<Arc<Summaries>>>;

/// What a search asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Area id.
    pub area: Option<String>,
    /// Words that must all occur (case-insensitive).
    pub text: Option<String>,
}

impl Query {
    /// Whether the query asks for anything.
    pub fn is_empty(&self) -> bool {
        self.area.is_none() && self.text.is_none()
    }

    /// The reports among `s` that match, found on every core off the async workers (a rare
    /// word is a scan of every summary's text).
    pub async fn matches(&self, s: Arc<Summaries>) -> Result<Vec<ReportId>, ShareError> {
        Ok(self
            .matches_with_day(s)
            .await?
            .into_iter()
            .map(|(_, id)| id)
            .collect())
    }

    /// [`Query::matches`] in the inbox's order by day (`received_day`, then id; newest first
    /// when `descending`), from the days the summaries keep: what a search sorted by day with
    /// no plaintext filter needs to pick its page without SQL over every match.
    pub async fn matches_by_day(
        &self,
        s: Arc<Summaries>,
        descending: bool,
    ) -> Result<Vec<ReportId>, ShareError> {
        let mut hits = self.matches_with_day(s).await?;
        hits.sort_unstable_by_key(|&(day, id)| (day, id.bytes()));
        if descending {
            hits.reverse();
        }
        Ok(hits.into_iter().map(|(_, id)| id).collect())
    }

    async fn matches_with_day(
        &self,
        s: Arc<Summaries>,
    ) -> Result<Vec<(i64, ReportId)>, ShareError> {
        let words: Vec<String> = self
            .text
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let area = self.area.clone();
        actix_web::rt::task::spawn_blocking(move || {
            // One SIMD substring finder per word, built once for every summary.
            let finders: Vec<memchr::memmem::Finder<'_>> = words
                .iter()
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
                .collect();
            let hit = |v: &Summary| {
                area.as_ref()
                    .is_none_or(|a| v.area.as_deref().map(String::as_str) == Some(a.as_str()))
                    && finders.iter().all(|f| f.find(v.text.as_bytes()).is_some())
            };
            let all: Vec<&(ReportId, Arc<Summary>)> = s.each().collect();
            on_every_core(&all, |part| {
                part.iter()
                    .filter(|(_, v)| hit(v))
                    .map(|(id, v)| (v.day, *id))
                    .collect()
            })
        })
        .await
        .map_err(|e| ShareError::Internal(format!("the desk's search workers failed: {e}")))?
    }
}

/// What [`par_open`] hands on for one report: its K_r and its signed header, checked.
pub(crate) struct Opened {
    /// K_r, from the reader's desk wrap or from the HPKE wrap under the verified header.
    pub k_r: crate::crypto::SecretKey32,
    /// The intake-signed header.
    pub header: ReportHeader,
}

/// The reader's keys, as the decryption workers need them.
pub(super) struct Reader {
    /// X25519 secret (the HPKE wraps).
    pub x25519: crate::crypto::SecretKey32,
    /// Its public half and fingerprint.
    pub me: RecipientKey,
    /// Its desk wraps.
    pub rewrap: Rewrap,
}

impl Reader {
    /// The session's reader: its keys and the fingerprint `fp` of their X25519 half, opening
    /// reports whose headers the pinned intake key `intake` signed.
    pub fn new(
        keys: &StaffKeys,
        me: &RecipientKey,
        fp: &str,
        intake: &ed25519_dalek::VerifyingKey,
    ) -> Arc<Reader> {
        Arc::new(Reader {
            x25519: keys.x25519.clone(),
            me: me.clone(),
            rewrap: Rewrap::new(&keys.x25519, fp, intake),
        })
    }
}

/// A desk wrap made while opening one report, when its HPKE wrap had to be opened.
type NewDeskWrap = Option<Vec<u8>>;

/// Desk wraps made while opening, to be stored ([`store_desk_wraps`]).
pub(super) type Fresh = Vec<(ReportId, Vec<u8>)>;

/// Runs `f` over every report's material on all cores, off the async workers, with each
/// report's K_r and intake-signed header already checked. The curve arithmetic (an Ed25519
/// verification and an X25519 unwrap per report) is the CPU cost of both the inbox's previews
/// and the search's summaries, so a report with a desk wrap that opens ([`super::rewrap`])
/// skips both. The headers of the others on each core are verified as one batch (about half
/// the cost of one by one); if the batch fails, each is verified alone, strictly, so the
/// failure is pinned on the reports that caused it. Each of those that opens gets a desk wrap,
/// returned for the caller to store.
pub(super) async fn par_open<T, F>(
    intake: ed25519_dalek::VerifyingKey,
    reader: Arc<Reader>,
    material: Vec<SearchMaterial>,
    f: F,
) -> Result<(Vec<(ReportId, T)>, Fresh), ShareError>
where
    T: Send + 'static,
    F: Fn(&SearchMaterial, Result<Opened, ShareError>) -> T + Send + Sync + 'static,
{
    actix_web::rt::task::spawn_blocking(move || {
        let shares = on_every_core(&material, |part| vec![open_share(&intake, &reader, part)])?;
        let mut out = Vec::with_capacity(material.len());
        let mut fresh = Vec::new();
        for ((opened, new_wrap), m) in shares.into_iter().flatten().zip(&material) {
            if let Some(w) = new_wrap {
                fresh.push((m.id, w));
            }
            out.push((m.id, f(m, opened)));
        }
        Ok((out, fresh))
    })
    .await
    .map_err(|e| ShareError::Internal(format!("the desk's decryption workers failed: {e}")))?
}

/// One core's share of [`par_open`]: each report's K_r and header, and a new desk wrap where
/// the HPKE wrap had to be opened.
fn open_share(
    intake: &ed25519_dalek::VerifyingKey,
    reader: &Reader,
    part: &[SearchMaterial],
) -> Vec<(Result<Opened, ShareError>, NewDeskWrap)> {
    let known: Vec<Option<Opened>> = part
        .iter()
        .map(|m| {
            let k_r = reader.rewrap.open(m)?;
            let header = ReportHeader::decode(&m.header).ok()?;
            // Cheap, and true of every desk wrap the desk made; a mismatch goes the strict way.
            (header.report_id == m.id.bytes()
                && key_commitment(&header.report_id, &k_r) == header.key_commitment)
                .then_some(Opened { k_r, header })
        })
        .collect();
    let unknown: Vec<&SearchMaterial> = part
        .iter()
        .zip(&known)
        .filter(|(_, k)| k.is_none())
        .map(|(m, _)| m)
        .collect();
    let mut verified = headers(intake, &unknown).into_iter();
    part.iter()
        .zip(known)
        .map(|(m, k)| match k {
            Some(o) => (Ok(o), None),
            None => {
                let header = verified
                    .next()
                    .expect("one verified header for every report without a desk wrap");
                match header.and_then(|h| {
                    key_under_header(&reader.x25519, &reader.me, m.id, &h, &m.wrapped)
                        .map(|k_r| Opened { k_r, header: h })
                }) {
                    Ok(o) => {
                        let w = reader.rewrap.seal(m, &o.k_r);
                        (Ok(o), Some(w))
                    }
                    Err(e) => (Err(e), None),
                }
            }
        })
        .collect()
}

/// Stores desk wraps made by [`par_open`]. Best effort: a failure costs the next session the
/// curve arithmetic again, nothing else, so it is logged and the request goes on.
pub(super) async fn store_desk_wraps(st: &DeskState, fp: &str, fresh: Fresh) {
    if fresh.is_empty() {
        return;
    }
    let mut fresh = fresh;
    // Written in key order, whatever order the reports were opened in (I1).
    fresh.sort_by_key(|(id, _)| id.bytes());
    if let Err(e) = st.reports.record_desk_wraps(fp, &fresh).await {
        tracing::warn!("desk: storing desk wraps failed: {e}");
    }
}

/// `f` over `items` split into one share per core, the results in the order of `items`. A
/// share whose thread panicked is an error, never a silent gap in the results.
fn on_every_core<I: Sync, O: Send>(
    items: &[I],
    f: impl Fn(&[I]) -> Vec<O> + Sync,
) -> Result<Vec<O>, ShareError> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1);
    let per = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| sc.spawn(move || f(part)))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(h.join().map_err(|_| {
                ShareError::Internal("a desk decryption or search worker panicked".into())
            })?);
        }
        Ok(out)
    })
}

/// The verified headers of `part`, in order: batch verification first, then, only if the batch
/// fails, strict verification of each (which also decides which ones fail).
fn headers(
    intake: &ed25519_dalek::VerifyingKey,
    part: &[&SearchMaterial],
) -> Vec<Result<ReportHeader, ShareError>> {
    let bad = || {
        ShareError::Tampered("the report header does not verify under the pinned intake key".into())
    };
    if part.is_empty() {
        return Vec::new();
    }
    let sigs: Option<Vec<ed25519_dalek::Signature>> = part
        .iter()
        .map(|m| ed25519_dalek::Signature::from_slice(&m.header_sig).ok())
        .collect();
    if let Some(sigs) = sigs {
        let msgs: Vec<&[u8]> = part.iter().map(|m| m.header.as_slice()).collect();
        let keys = vec![*intake; part.len()];
        if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
            return part
                .iter()
                .map(|m| ReportHeader::decode(&m.header).map_err(|_| bad()))
                .collect();
        }
    }
    part.iter()
        .map(|m| ReportHeader::verify(&m.header, &m.header_sig, intake).map_err(|_| bad()))
        .collect()
}

/// The first `chars` characters of a report's tip and its area, from material read with
/// `tip_only` and opened by [`par_open`] (the header verified under the intake key and commits
/// to K_r): the tip is the item the header names, opened under its AAD. Not the whole chain
/// (the report page checks that).
pub(crate) fn preview(
    m: &SearchMaterial,
    opened: Result<Opened, ShareError>,
    chars: usize,
) -> Result<(String, Option<String>), ShareError> {
    let Opened { k_r, header } = opened?;
    let tip = m
        .items
        .iter()
        .find(|t| t.seq == 0 && t.kind == ItemKind::Tip && t.id.bytes() == header.tip_item)
        .ok_or_else(|| ShareError::Tampered("the tip is not the one the header names".into()))?;
    let plain = Zeroizing::new(
        envelope::open(
            &k_r,
            &item_aad(m.id, tip.id, tip.kind, tip.direction, tip.seq, tip.prev),
            &tip.sealed,
        )
        .map_err(|_| ShareError::Tampered("the tip does not open".into()))?,
    );
    let mut tip: TipPlain = serde_json::from_slice(&plain)
        .map_err(|_| ShareError::Tampered("the tip is malformed".into()))?;
    let text = tip.description.chars().take(chars).collect();
    zeroize::Zeroize::zeroize(&mut tip.description);
    Ok((text, tip.area.take()))
}

/// [`preview`] for a caller that opens reports one at a time with the escrow key (`bisik stats
/// export`): the header is verified alone, strictly, and no desk wrap is read or made.
pub(crate) fn preview_one(
    intake: &ed25519_dalek::VerifyingKey,
    x25519: &crate::crypto::SecretKey32,
    me: &RecipientKey,
    m: &SearchMaterial,
    chars: usize,
) -> Result<(String, Option<String>), ShareError> {
    let opened = ReportHeader::verify(&m.header, &m.header_sig, intake)
        .map_err(|_| {
            ShareError::Tampered(
                "the report header does not verify under the pinned intake key".into(),
            )
        })
        .and_then(|header| {
            key_under_header(x25519, me, m.id, &header, &m.wrapped)
                .map(|k_r| Opened { k_r, header })
        });
    preview(m, opened, chars)
}

/// Opens one report's tip and messages from its material: the header, the wrap and each item's
/// AAD are checked; a message that fails is a failure of the whole report.
fn summarise(
    m: &SearchMaterial,
    opened: Result<Opened, ShareError>,
) -> Result<Summary, ShareError> {
    let Opened { k_r, header } = opened?;
    let mut text = Zeroizing::new(String::new());
    let mut area = None;
    let mut tip_seen = false;
    for it in &m.items {
        let plain = envelope::open(
            &k_r,
            &item_aad(m.id, it.id, it.kind, it.direction, it.seq, it.prev),
            &it.sealed,
        )
        .map_err(|_| ShareError::Tampered("an item does not open".into()))?;
        match it.kind {
            ItemKind::Tip => {
                if it.seq != 0 || it.id.bytes() != header.tip_item {
                    return Err(ShareError::Tampered(
                        "the tip is not the one the header names".into(),
                    ));
                }
                let mut t: TipPlain = serde_json::from_slice(&plain)
                    .map_err(|_| ShareError::Tampered("the tip is malformed".into()))?;
                for f in [
                    Some(&t.description),
                    t.location.as_ref(),
                    t.when.as_ref(),
                    t.people.as_ref(),
                    t.vehicles.as_ref(),
                ]
                .into_iter()
                .flatten()
                {
                    text.push_str(&f.to_lowercase());
                    text.push('\n');
                }
                area = t.area.take().map(Zeroizing::new);
                zeroize::Zeroize::zeroize(&mut t.description);
                tip_seen = true;
            }
            ItemKind::Message => {
                let mut msg: MessagePlain = serde_json::from_slice(&plain)
                    .map_err(|_| ShareError::Tampered("a message is malformed".into()))?;
                text.push_str(&msg.body.to_lowercase());
                text.push('\n');
                zeroize::Zeroize::zeroize(&mut msg.body);
            }
            ItemKind::Note | ItemKind::Labels => {}
        }
    }
    if !tip_seen {
        return Err(ShareError::Tampered("the tip is missing".into()));
    }
    Ok(Summary {
        area,
        text,
        day: m.received_day,
    })
}

/// How long a session trusts its list of wrapped reports while their number is unchanged, no
/// wrap was removed in this process and no message came. Listing 100,000 ids costs more than a
/// later query may (docs/BENCHMARKS.md); a report shared or added changes the number and is
/// summarised at the next query, and an unshare in the desk makes the next query relist. Only a
/// removal by another process together with a share within this time leaves all three as they
/// were; need to know never depends on the list, because every row shown is checked against
/// the wraps in SQL.
const RELIST: Duration = Duration::from_secs(60);

/// The largest step, in first steps (`desk.search_first_step`, default 1,000: the first page
/// of most searches, opened in a fraction of a second). Steps double up to this; each is one
/// audited `indexed` entry and one snapshot, so a build of 100,000 reports writes about ten.
const MAX_STEPS: usize = 16;

/// The session's summaries, brought up to date with the reports wrapped to the reader's key now
/// (see [`RELIST`]), or a new build started in the background, newest report first. The build
/// goes on after the request that started it has its answer; callers wait on the cell for as
/// much of it as their query needs.
pub async fn cell(
    st: &actix_web::web::Data<DeskState>,
    a: &Authed,
    keys: &StaffKeys,
    me_id: StaffId,
    me: &RecipientKey,
    fp: &str,
) -> Result<Cell, ShareError> {
    let seen = st.sessions.summaries(&a.token);
    if let Some(c) = seen.clone() {
        let s = c.borrow().clone();
        if s.fp == fp && s.broken.is_none() {
            if !s.complete() {
                return Ok(c);
            }
            if s.listed.elapsed() < RELIST && s.current(st) {
                let held = st
                    .reports
                    .inbox_count(&crate::store::InboxQuery::all(fp, 0, 0))
                    .await?;
                let messages = st.reports.messaged_since(fp, s.listed_day).await?.len();
                if held == s.wrapped as i64 && messages == s.messages.len() {
                    return Ok(c);
                }
            }
            let fresh = refresh(st, keys, me_id, me, &s).await?;
            c.send_replace(Arc::new(fresh));
            return Ok(c);
        }
    }
    let listed = Instant::now();
    let removals = st.reports.wraps_removed();
    // Messages are listed before any report is opened: one that comes later is caught by the
    // next refresh, whatever report it joins.
    let listed_day = listing_day();
    let messages = messages_of(st.reports.messaged_since(fp, listed_day).await?, listed_day);
    let order = st.reports.wrapped_newest_first(fp).await?;
    let (tx, _) = tokio::sync::watch::channel(Arc::new(Summaries {
        fp: fp.to_owned(),
        chunks: Vec::new(),
        failed: HashSet::new(),
        listed,
        listed_day,
        messages,
        wrapped: order.len(),
        removals,
        done: 0,
        broken: None,
    }));
    // The build's own copy of the keys, taken before the cell is kept: a cell with no build
    // behind it would leave every later search of the session waiting.
    let keys = a
        .unlocked_keys()
        .ok_or(ShareError::Refused(super::text::NO_KEYS))?;
    let c: Cell = Arc::new(tx);
    match st
        .sessions
        .keep_summaries(&a.token, c.clone(), seen.as_ref())
    {
        Some(kept) if Arc::ptr_eq(&kept, &c) => {}
        // Another search of this session started a build first: wait on that one.
        Some(kept) => return Ok(kept),
        None => return Err(ShareError::Internal("the session ended".into())),
    }
    let job = Build {
        st: st.clone(),
        keys,
        me_id,
        me: me.clone(),
        cell: Arc::downgrade(&c),
        finished: false,
    };
    actix_web::rt::spawn(job.run(order));
    Ok(c)
}

/// The session's summaries once every report wrapped to the reader has been opened: for
/// callers that need all of them (the figures), not a page.
pub async fn complete(
    st: &actix_web::web::Data<DeskState>,
    a: &Authed,
    keys: &StaffKeys,
    me_id: StaffId,
    me: &RecipientKey,
    fp: &str,
    wait: Duration,
) -> Result<Arc<Summaries>, ShareError> {
    // Only the receiver is kept: a request waiting here must not keep the summaries (and the
    // build) alive after the session ends; then `changed` fails and the wait ends.
    let mut rx = cell(st, a, keys, me_id, me, fp).await?.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let snap = rx.borrow_and_update().clone();
        if let Some(why) = snap.broken() {
            return Err(ShareError::Internal(why.to_owned()));
        }
        if snap.complete() {
            return Ok(snap);
        }
        if !matches!(
            tokio::time::timeout_at(deadline, rx.changed()).await,
            Ok(Ok(()))
        ) {
            return Err(ShareError::Internal(
                "the session's search summaries did not finish in time".into(),
            ));
        }
    }
}

/// A build of a session's summaries in the background, newest report first.
struct Build {
    st: actix_web::web::Data<DeskState>,
    keys: StaffKeys,
    me_id: StaffId,
    me: RecipientKey,
    cell: std::sync::Weak<tokio::sync::watch::Sender<Arc<Summaries>>>,
    finished: bool,
}

impl Build {
    async fn run(mut self, order: Vec<ReportId>) {
        let mut at = 0;
        let first = self.st.cfg.desk.search_first_step.max(1);
        let mut step = first;
        while at < order.len() {
            // The session is gone (logout, expiry): stop, and let what was opened be zeroized.
            if self.cell.strong_count() == 0 {
                self.finished = true;
                return;
            }
            let end = (at + step).min(order.len());
            let fp = match self.cell.upgrade() {
                Some(c) => c.borrow().fp.clone(),
                None => break,
            };
            match open_step(
                &self.st,
                &self.keys,
                self.me_id,
                &self.me,
                &fp,
                &order[at..end],
                Some(&self.cell),
            )
            .await
            {
                Ok((chunk, failed)) => {
                    let Some(c) = self.cell.upgrade() else { break };
                    c.send_modify(|cur| {
                        let mut chunks = cur.chunks.clone();
                        if !chunk.is_empty() {
                            chunks.push(Arc::new(chunk));
                        }
                        let mut all_failed = cur.failed.clone();
                        all_failed.extend(failed);
                        *cur = Arc::new(Summaries {
                            fp: cur.fp.clone(),
                            chunks,
                            failed: all_failed,
                            listed: cur.listed,
                            listed_day: cur.listed_day,
                            messages: cur.messages.clone(),
                            wrapped: cur.wrapped,
                            removals: cur.removals,
                            done: end,
                            broken: None,
                        });
                    });
                }
                Err(_) if self.cell.strong_count() == 0 => {
                    // The session ended mid-step: nothing to report, nobody waits.
                    self.finished = true;
                    return;
                }
                Err(e) => {
                    let why = match e {
                        ShareError::Internal(w) | ShareError::Tampered(w) => w,
                        ShareError::NotFound(t) | ShareError::Refused(t) => t.en.to_owned(),
                    };
                    tracing::error!("desk: a search build stopped: {why}");
                    self.stop(why);
                    return;
                }
            }
            at = end;
            step = (step * 2).min(first * MAX_STEPS);
        }
        self.finished = true;
    }

    /// Marks the build broken, so that requests waiting on it get an error instead of waiting
    /// for steps that will never come, and the next search starts again.
    fn stop(&mut self, why: String) {
        self.finished = true;
        if let Some(c) = self.cell.upgrade() {
            c.send_modify(|cur| {
                *cur = Arc::new(Summaries {
                    fp: cur.fp.clone(),
                    chunks: Vec::new(),
                    failed: HashSet::new(),
                    listed: cur.listed,
                    listed_day: cur.listed_day,
                    messages: cur.messages.clone(),
                    wrapped: cur.wrapped,
                    removals: cur.removals,
                    done: cur.done,
                    broken: Some(why),
                });
            });
        }
    }
}

impl Drop for Build {
    /// A build that ends early (a panic in a step) must not leave requests waiting.
    fn drop(&mut self) {
        if !self.finished {
            self.stop("the search build ended early".into());
        }
    }
}

/// Opens the reports `ids` (in batches of [`BATCH`], on every core), audits the ones whose
/// texts were decrypted as one `indexed` entry before any of them can be searched, and records
/// integrity failures. Reports no longer wrapped to the reader are left out.
async fn open_step(
    st: &DeskState,
    keys: &StaffKeys,
    me_id: StaffId,
    me: &RecipientKey,
    fp: &str,
    ids: &[ReportId],
    alive: Option<&std::sync::Weak<tokio::sync::watch::Sender<Arc<Summaries>>>>,
) -> Result<(Chunk, HashSet<ReportId>), ShareError> {
    use futures_util::StreamExt;
    let intake = st.intake_key()?;
    let reader = Reader::new(keys, me, fp, &intake);
    let mut chunk: Chunk = Vec::with_capacity(ids.len());
    let mut failed: HashSet<ReportId> = HashSet::new();
    // Batches overlap: while one is decrypted, the next is read (on SQLite each connection
    // reads on its own thread; on PostgreSQL each is its own server process). Results are
    // taken in order.
    let batches = futures_util::stream::iter(ids.chunks(BATCH))
        .map(|batch| {
            let reader = reader.clone();
            async move {
                // A background build whose session has ended stops between batches, not at the
                // end of a step of up to 16,000 reports.
                if alive.is_some_and(|w| w.strong_count() == 0) {
                    return Err(ShareError::Internal("the session ended".into()));
                }
                let material = st.reports.search_material(fp, batch, false).await?;
                let (results, fresh) = par_open(intake, reader, material, summarise).await?;
                store_desk_wraps(st, fp, fresh).await;
                Ok(results)
            }
        })
        .buffered(BATCHES_IN_FLIGHT);
    futures_util::pin_mut!(batches);
    // A batch that fails (the session ended, the database) ends the step, but what was already
    // decrypted is still audited below.
    let mut stopped: Option<ShareError> = None;
    'batches: while let Some(results) = batches.next().await {
        let results = match results {
            Ok(r) => r,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        };
        for (id, r) in results {
            match r {
                Ok(s) => chunk.push((id, Arc::new(s))),
                Err(ShareError::Tampered(why)) => {
                    tracing::error!(
                        "desk: a report failed an integrity check while summarised: {why}"
                    );
                    integrity_failed(st, me_id, keys, id).await;
                    failed.insert(id);
                }
                Err(e) => {
                    stopped = Some(e);
                    break 'batches;
                }
            }
        }
    }
    if !chunk.is_empty() {
        let mut decrypted: Vec<ReportId> = chunk.iter().map(|(id, _)| *id).collect();
        decrypted.sort_by_key(|i| i.bytes());
        st.audit
            .append(
                &Signer::Staff {
                    id: me_id,
                    key: &keys.ed25519,
                },
                Event::Indexed { reports: decrypted },
            )
            .await?;
    }
    match stopped {
        Some(e) => Err(e),
        None => Ok((chunk, failed)),
    }
}

/// The first day whose messages a listing keeps: yesterday, so that a message stamped just
/// before midnight and stored just after it (or by an intake whose clock is a little behind)
/// is still counted. The counts compare like with like, so the extra day costs a few rows.
fn listing_day() -> i64 {
    crate::domain::today() - 1
}

/// The reports of `since`'s messages of day `day` or later, sorted: a listing's
/// [`Summaries::messages`].
fn messages_of(since: Vec<(ReportId, i64)>, day: i64) -> Vec<ReportId> {
    let mut out: Vec<ReportId> = since
        .into_iter()
        .filter(|&(_, d)| d >= day)
        .map(|(id, _)| id)
        .collect();
    out.sort_unstable_by_key(|id| id.bytes());
    out
}

/// The reports that have more entries in `now` than in `before` (both sorted): those that
/// gained a message between two listings.
fn grown(now: &[ReportId], before: &[ReportId]) -> HashSet<ReportId> {
    let count = |list: &[ReportId]| {
        let mut m: std::collections::HashMap<ReportId, usize> = Default::default();
        for id in list {
            *m.entry(*id).or_default() += 1;
        }
        m
    };
    let before = count(before);
    count(now)
        .into_iter()
        .filter(|(id, n)| before.get(id).is_none_or(|b| n > b))
        .map(|(id, _)| id)
        .collect()
}

/// A complete snapshot brought up to date: the reports shared since are opened, and so are the
/// ones whose conversation grew (a new message is searchable at once); the ones no longer
/// wrapped are dropped (and zeroized once no snapshot holds them).
async fn refresh(
    st: &DeskState,
    keys: &StaffKeys,
    me_id: StaffId,
    me: &RecipientKey,
    old: &Summaries,
) -> Result<Summaries, ShareError> {
    let listed = Instant::now();
    let removals = st.reports.wraps_removed();
    let listed_day = listing_day();
    let since = st.reports.messaged_since(&old.fp, old.listed_day).await?;
    let all_since: Vec<ReportId> = messages_of(since.clone(), old.listed_day);
    let grown = grown(&all_since, &old.messages);
    let messages = messages_of(since, listed_day);
    let wrapped: HashSet<ReportId> = st
        .reports
        .wrapped_report_ids(&old.fp)
        .await?
        .into_iter()
        .collect();
    // What stays as it was: still wrapped, and no new message.
    let keep = |id: &ReportId| wrapped.contains(id) && !grown.contains(id);
    let mut have: HashSet<ReportId> = old.each().map(|(id, _)| *id).filter(keep).collect();
    have.extend(old.failed.iter().copied().filter(keep));
    let mut missing: Vec<ReportId> = wrapped.difference(&have).copied().collect();
    missing.sort_by_key(|i| i.bytes());
    let (chunk, failed_now) = open_step(st, keys, me_id, me, &old.fp, &missing, None).await?;
    let mut chunks: Vec<Arc<Chunk>> = if old.each().all(|(id, _)| keep(id)) {
        old.chunks.clone()
    } else {
        old.chunks
            .iter()
            .map(|c| {
                Arc::new(
                    c.iter()
                        .filter(|(id, _)| keep(id))
                        .cloned()
                        .collect::<Chunk>(),
                )
            })
            .filter(|c| !c.is_empty())
            .collect()
    };
    if !chunk.is_empty() {
        chunks.push(Arc::new(chunk));
    }
    let mut failed: HashSet<ReportId> = old.failed.iter().copied().filter(keep).collect();
    failed.extend(failed_now);
    Ok(Summaries {
        fp: old.fp.clone(),
        chunks,
        failed,
        listed,
        listed_day,
        messages,
        wrapped: wrapped.len(),
        removals,
        done: wrapped.len(),
        broken: None,
    })
}
