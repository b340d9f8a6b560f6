//! Search across sealed fields (issue 7): the area (kecamatan) and the free text of the tips
//! and reporter-visible messages a staff member can open.
//!
//! The server keeps no plaintext index and no deterministic tag: a tag over 11 kecamatan is a
//! dictionary to anyone holding the intake's keys. Instead the session that searches decrypts
//! what it may read, once, into [`Summaries`] kept with the session, in memory only, for its
//! lifetime; every string is zeroized when the last reference goes (logout, expiry). Each build
//! or refresh is audited as one `indexed` entry naming every report decrypted for it (I6).
//!
//! Need to know holds without trusting the summaries: every query's matches go back to the
//! database, which keeps only those wrapped to the reader's key now (and filters and orders
//! them), so a report unshared a moment ago drops out of the results at once; only the page's
//! rows are shown, each opened and checked as in the inbox.

use super::DeskState;
use super::audit::{Event, Signer};
use super::keys::StaffKeys;
use super::session::Authed;
use super::sharing::{ShareError, integrity_failed, open_reporter_key};
use crate::crypto::envelope;
use crate::crypto::wrap::RecipientKey;
use crate::domain::{ItemKind, ReportId, StaffId};
use crate::items::{MessagePlain, TipPlain, item_aad};
use crate::store::SearchMaterial;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Reports decrypted per database round trip.
const BATCH: usize = 400;

/// One report's searchable texts.
pub struct Summary {
    /// Area id, if the reporter gave one.
    pub area: Option<Zeroizing<String>>,
    /// Every field and reporter-visible message, lower-cased, separated by new lines.
    pub text: Zeroizing<String>,
}

/// A session's summaries, for the reader's key fingerprint they were built for.
pub struct Summaries {
    /// The X25519 fingerprint (hex) the reports were opened with.
    pub fp: String,
    /// By report (shared with the session's next summaries, so a refresh copies no text).
    pub by_id: HashMap<ReportId, Arc<Summary>>,
    /// Reports that failed a check while being summarised (left out, audited once).
    pub failed: HashSet<ReportId>,
    /// When the ids wrapped to the key were last listed in full.
    listed: Instant,
}

impl Summaries {
    /// Bytes of decrypted text held (the benchmark records the memory a session's summaries
    /// take).
    pub fn text_bytes(&self) -> usize {
        self.by_id
            .values()
            .map(|s| s.text.len() + s.area.as_ref().map_or(0, |a| a.len()))
            .sum()
    }
}

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

    /// The reports among `s` that match.
    pub fn matches(&self, s: &Summaries) -> HashSet<ReportId> {
        let words: Vec<String> = self
            .text
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        s.by_id
            .iter()
            .filter(|(_, v)| match &self.area {
                Some(a) => v.area.as_deref().map(String::as_str) == Some(a.as_str()),
                None => true,
            })
            .filter(|(_, v)| words.iter().all(|w| v.text.contains(w.as_str())))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Runs `f` over every report's material on all cores, off the async workers: the curve
/// arithmetic (an Ed25519 verification and an X25519 unwrap per report) is the CPU cost of
/// both the inbox's previews and the search's summaries.
pub(super) async fn par_open<T, F>(
    material: Vec<SearchMaterial>,
    f: F,
) -> Result<Vec<(ReportId, T)>, ShareError>
where
    T: Send + 'static,
    F: Fn(&SearchMaterial) -> T + Send + Sync + 'static,
{
    actix_web::rt::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(1);
        let per = material.len().div_ceil(threads).max(1);
        let f = &f;
        std::thread::scope(|sc| {
            let handles: Vec<_> = material
                .chunks(per)
                .map(|part| sc.spawn(move || part.iter().map(|m| (m.id, f(m))).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect::<Vec<_>>()
        })
    })
    .await
    .map_err(|e| ShareError::Internal(format!("the desk's decryption workers failed: {e}")))
}

/// K_r and the verified header of a report, from its material.
fn reporter_key(
    intake: &ed25519_dalek::VerifyingKey,
    x25519: &crate::crypto::SecretKey32,
    me: &RecipientKey,
    m: &SearchMaterial,
) -> Result<
    (
        crate::crypto::SecretKey32,
        crate::crypto::header::ReportHeader,
    ),
    ShareError,
> {
    open_reporter_key(
        intake,
        x25519,
        me,
        m.id,
        &m.header,
        &m.header_sig,
        &m.wrapped,
    )
}

/// The first `chars` characters of a report's tip and its area, from material read with
/// `tip_only`: the header verifies under the intake key and commits to K_r, and the tip is the
/// item the header names, opened under its AAD. Not the whole chain (the report page checks
/// that).
pub(crate) fn preview(
    intake: &ed25519_dalek::VerifyingKey,
    x25519: &crate::crypto::SecretKey32,
    me: &RecipientKey,
    m: &SearchMaterial,
    chars: usize,
) -> Result<(String, Option<String>), ShareError> {
    let (k_r, header) = reporter_key(intake, x25519, me, m)?;
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

/// Opens one report's tip and messages from its material: the header, the wrap and each item's
/// AAD are checked; a message that fails is a failure of the whole report.
fn summarise(
    intake: &ed25519_dalek::VerifyingKey,
    x25519: &crate::crypto::SecretKey32,
    me: &RecipientKey,
    m: &SearchMaterial,
) -> Result<Summary, ShareError> {
    let (k_r, header) = reporter_key(intake, x25519, me, m)?;
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
    Ok(Summary { area, text })
}

/// How long a session trusts its list of wrapped reports while their number is unchanged.
/// Listing 100,000 ids costs more than a later query may (docs/BENCHMARKS.md); a report shared
/// or added changes the number and is summarised at the next query. Only an unshare and a share
/// within this time leave the number as it was, and then the newly shared report is missing
/// from results until the next listing; need to know never depends on the list, because every
/// result is checked against the wraps in SQL.
const RELIST: Duration = Duration::from_secs(60);

/// The session's summaries, built or brought up to date with the reports wrapped to the
/// reader's key now (see [`RELIST`]).
pub async fn summaries(
    st: &DeskState,
    a: &Authed,
    keys: &StaffKeys,
    me_id: StaffId,
    me: &RecipientKey,
    fp: &str,
) -> Result<Arc<Summaries>, ShareError> {
    let old = st.sessions.summaries(&a.token).filter(|s| s.fp == fp);
    if let Some(s) = &old
        && s.listed.elapsed() < RELIST
    {
        let held = st
            .reports
            .inbox_count(&crate::store::InboxQuery::all(fp, 0, 0))
            .await?;
        if held == (s.by_id.len() + s.failed.len()) as i64 {
            return Ok(s.clone());
        }
    }
    let listed = Instant::now();
    let wrapped: HashSet<ReportId> = st
        .reports
        .wrapped_report_ids(fp)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<ReportId> = {
        let mut v: Vec<ReportId> = wrapped
            .iter()
            .filter(|id| {
                old.as_ref()
                    .is_none_or(|s| !s.by_id.contains_key(id) && !s.failed.contains(id))
            })
            .copied()
            .collect();
        v.sort_by_key(|i| i.bytes());
        v
    };
    let intake = st.intake_key()?;
    let mut by_id: HashMap<ReportId, Arc<Summary>> = HashMap::new();
    let mut failed: HashSet<ReportId> = HashSet::new();
    let mut decrypted = Vec::new();
    for chunk in missing.chunks(BATCH) {
        let material = st.reports.search_material(fp, chunk, false).await?;
        let (x25519, me2) = (keys.x25519.clone(), me.clone());
        let results = par_open(material, move |m| summarise(&intake, &x25519, &me2, m)).await?;
        for (id, r) in results {
            match r {
                Ok(s) => {
                    decrypted.push(id);
                    by_id.insert(id, Arc::new(s));
                }
                Err(ShareError::Tampered(why)) => {
                    tracing::error!(
                        "desk: a report failed an integrity check while summarised: {why}"
                    );
                    integrity_failed(st, me_id, keys, id).await;
                    failed.insert(id);
                }
                Err(e) => return Err(e),
            }
        }
    }
    if !decrypted.is_empty() {
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
    // Keep what is still wrapped from the old summaries; the rest goes (and is zeroized once
    // no summaries hold it).
    if let Some(old) = &old {
        for id in &wrapped {
            if let Some(s) = old.by_id.get(id) {
                by_id.entry(*id).or_insert_with(|| s.clone());
            }
            if old.failed.contains(id) {
                failed.insert(*id);
            }
        }
    }
    let s = Arc::new(Summaries {
        fp: fp.to_owned(),
        by_id,
        failed,
        listed,
    });
    st.sessions.set_summaries(&a.token, s.clone());
    Ok(s)
}
