//! Attachments on the desk (issue 9): downloads and thumbnails. The desk never decodes an
//! attachment (I9): it opens the sealed stream under K_r and hands the bytes on, with
//! `Content-Disposition: attachment`, a safe name and `nosniff`, so the browser saves the file
//! instead of rendering it. Thumbnails are PNGs the sanitizer made, shown inline under the
//! desk's CSP. A chunk that fails to authenticate ends the download there: the connection is
//! cut short of its Content-Length, so the browser reports a failed download rather than a
//! complete file.
//!
//! Every download is audited (`decrypted`, access `download`, I6) before the first byte; a
//! thumbnail as a `preview`.

use super::DeskState;
use super::audit::Access;
use super::pages::{Base, authed};
use super::report_pages::{STAFF_READ, outcome, report_id};
use super::sharing::{self, ShareError};
use super::text;
use crate::blob::BlobId;
use crate::crypto::SecretKey32;
use crate::crypto::stream::{BlobAad, BlobPurpose, Opener, open_all};
use crate::domain::ReportId;
use crate::items::AttachmentRef;
use crate::sanitize::Kind;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;

/// `?id=&n=` (and `&item=SEQ` for a message's file): which report, which file (from 1).
#[derive(Deserialize)]
pub struct AttachmentQuery {
    id: Option<String>,
    n: Option<usize>,
    item: Option<i64>,
}

/// The name a download is offered under: the reporter's name with anything but letters,
/// digits, `-` and `_` replaced, and the extension of what is really inside (a WebP comes out
/// as a PNG), so the name can neither break the header nor lie about the type.
pub fn safe_name(r: &AttachmentRef) -> String {
    let stem = r.name.rsplit_once('.').map_or(r.name.as_str(), |(s, _)| s);
    let mut out: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if out.trim_matches('_').is_empty() {
        out = "lampiran".into();
    }
    format!("{out}.{}", kind_of(r).extension())
}

/// The file's type as the sanitizer's own table names it (one table for extensions and MIME
/// types on both sides of the wall); a type this build does not know is `Unknown`.
fn kind_of(r: &AttachmentRef) -> Kind {
    Kind::from_id(&r.kind).unwrap_or(Kind::Unknown)
}

fn purpose_of(r: &AttachmentRef) -> BlobPurpose {
    if r.sanitized {
        BlobPurpose::Attachment
    } else {
        BlobPurpose::Unsanitized
    }
}

/// Opens the report (checked and audited as `access`) and finds its file `n`.
async fn find(
    st: &DeskState,
    a: &super::session::Authed,
    id: ReportId,
    q: &AttachmentQuery,
    access: Access,
) -> Result<(AttachmentRef, SecretKey32), ShareError> {
    let (conv, k_r) = sharing::read_as(st, a, id, access).await?;
    let refs = match q.item {
        None => conv.tip.attachments.clone(),
        // Only a reporter's message carries files.
        Some(seq) => conv
            .items
            .iter()
            .find(|it| {
                it.seq == seq
                    && it.kind == crate::domain::ItemKind::Message
                    && it.direction == crate::domain::Direction::ReporterToStaff
            })
            .and_then(|it| it.message())
            .map(|m| m.attachments)
            .unwrap_or_default(),
    };
    let r =
        q.n.unwrap_or(0)
            .checked_sub(1)
            .and_then(|i| refs.get(i))
            .cloned()
            .ok_or(ShareError::NotFound(text::NO_ATTACHMENT))?;
    Ok((r, k_r))
}

fn blob_id(s: &str) -> Result<BlobId, ShareError> {
    BlobId::parse(s).ok_or_else(|| ShareError::Tampered("an attachment names no valid blob".into()))
}

/// A blob's sealed bytes as they come from the store; a blob the sealed item names but the store
/// lacks was deleted by someone, which is tampering, not a missing page.
async fn read_blob(
    st: &DeskState,
    blob: BlobId,
) -> Result<
    futures_util::stream::BoxStream<'static, Result<Bytes, crate::blob::BlobError>>,
    ShareError,
> {
    match st.blobs.read(blob).await {
        Ok((_, pieces)) => Ok(pieces),
        Err(crate::blob::BlobError::NotFound) => Err(ShareError::Tampered(
            "an attachment's blob is missing from the store".into(),
        )),
        Err(other) => Err(ShareError::Internal(other.to_string())),
    }
}

/// `GET /report/attachment?id=&n=`: the file, decrypted as a stream.
pub async fn download(
    req: HttpRequest,
    st: web::Data<DeskState>,
    q: web::Query<AttachmentQuery>,
) -> HttpResponse {
    let a = match authed(&req, &st, STAFF_READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = match report_id(q.id.as_deref().unwrap_or("")) {
        Ok(id) => id,
        Err(e) => return outcome(Base::of(&a), Err(e)),
    };
    let r = async {
        let (r, k_r) = find(&st, &a, id, &q, Access::Download).await?;
        let blob = blob_id(&r.blob)?;
        let pieces = read_blob(&st, blob).await?;
        Ok((r, k_r, blob, pieces))
    }
    .await;
    let (r, k_r, blob, pieces) = match r {
        Ok(x) => x,
        Err(e) => return failed(&st, &a, id, e).await,
    };
    let aad = BlobAad {
        report_id: id.bytes(),
        blob_id: blob.0,
        purpose: purpose_of(&r),
    };
    let opener = Opener::new(&k_r, &aad, r.size);
    drop(k_r);
    // A blob that fails to authenticate part way is found only after the answer has begun:
    // its audit entry is written then, once, in the reader's name (I6).
    let mut audit = sharing::reader(&a).map(|r| (st.clone(), r));
    let body = decrypting(pieces, opener).inspect(move |piece| {
        if matches!(piece, Err(e) if e.to_string() == TAMPERED)
            && let Some((st, (keys, me))) = audit.take()
        {
            actix_web::rt::spawn(async move {
                sharing::integrity_failed(&st, me, &keys, id).await;
            });
        }
    });
    let name = safe_name(&r);
    let mime = kind_of(&r).mime();
    HttpResponse::Ok()
        .insert_header(("content-type", mime))
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("cache-control", "no-store"))
        // Should a browser render it anyway, it runs nothing and loads nothing.
        .insert_header(("content-security-policy", "default-src 'none'; sandbox"))
        .no_chunking(r.size)
        .streaming(body)
}

/// The error a download stream ends with when a piece does not authenticate.
const TAMPERED: &str = "tampered";

/// An error before the first byte of a file or thumbnail: shown as the report page shows it,
/// and, when it is tampering (a blob missing or failing to authenticate), audited as an
/// integrity failure in the reader's name, as a broken chain is (I6).
async fn failed(
    st: &DeskState,
    a: &super::session::Authed,
    id: ReportId,
    e: ShareError,
) -> HttpResponse {
    if let ShareError::Tampered(why) = &e {
        tracing::error!("desk: an attachment failed an integrity check: {why}");
        sharing::integrity_failed_by(st, a, id).await;
    }
    outcome(Base::of(a), Err(e))
}

/// The plaintext of a sealed stream as a body: each piece opened as it arrives, the download
/// cut at the first piece that does not authenticate.
fn decrypting(
    pieces: futures_util::stream::BoxStream<'static, Result<Bytes, crate::blob::BlobError>>,
    opener: Opener,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    futures_util::stream::unfold((pieces, Some(opener)), |(mut pieces, opener)| async move {
        let mut opener = opener?;
        loop {
            match pieces.next().await {
                Some(Ok(piece)) => {
                    let mut out = Vec::with_capacity(piece.len());
                    if let Err(e) = opener.push(&piece, &mut out) {
                        tracing::error!("desk: an attachment failed to authenticate: {e}");
                        return Some((Err(std::io::Error::other(TAMPERED)), (pieces, None)));
                    }
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), (pieces, Some(opener))));
                    }
                }
                Some(Err(e)) => {
                    tracing::error!("desk: reading an attachment failed: {e}");
                    return Some((Err(std::io::Error::other("store")), (pieces, None)));
                }
                None => {
                    let mut out = Vec::new();
                    return match opener.finish(&mut out) {
                        Ok(()) => Some((Ok(Bytes::from(out)), (pieces, None))),
                        Err(e) => {
                            tracing::error!(
                                "desk: an attachment failed to authenticate at its end: {e}"
                            );
                            Some((Err(std::io::Error::other(TAMPERED)), (pieces, None)))
                        }
                    };
                }
            }
        }
    })
}

/// `GET /report/thumb?id=&n=`: the sanitizer's thumbnail, a PNG shown inline.
pub async fn thumbnail(
    req: HttpRequest,
    st: web::Data<DeskState>,
    q: web::Query<AttachmentQuery>,
) -> HttpResponse {
    let a = match authed(&req, &st, STAFF_READ, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = match report_id(q.id.as_deref().unwrap_or("")) {
        Ok(id) => id,
        Err(e) => return outcome(Base::of(&a), Err(e)),
    };
    let r = async {
        let (r, k_r) = find(&st, &a, id, &q, Access::Preview).await?;
        let t = r
            .thumb
            .clone()
            .ok_or(ShareError::NotFound(text::NO_ATTACHMENT))?;
        let blob = blob_id(&t.blob)?;
        let mut pieces = read_blob(&st, blob).await?;
        let mut sealed = Vec::new();
        while let Some(p) = pieces.next().await {
            let p = p.map_err(|e| ShareError::Internal(e.to_string()))?;
            // A thumbnail is small; a huge blob under its name is not one.
            if sealed.len() + p.len() > 4 << 20 {
                return Err(ShareError::Tampered("a thumbnail blob is too large".into()));
            }
            sealed.extend_from_slice(&p);
        }
        let aad = BlobAad {
            report_id: id.bytes(),
            blob_id: blob.0,
            purpose: BlobPurpose::Thumbnail,
        };
        let png = open_all(&k_r, &aad, t.size, &sealed)
            .map_err(|_| ShareError::Tampered("a thumbnail failed to authenticate".into()))?;
        Ok(png.to_vec())
    }
    .await;
    match r {
        Ok(png) => HttpResponse::build(StatusCode::OK)
            .insert_header(("content-type", "image/png"))
            .insert_header(("x-content-type-options", "nosniff"))
            .insert_header(("cache-control", "no-store"))
            .body(png),
        Err(e) => failed(&st, &a, id, e).await,
    }
}
