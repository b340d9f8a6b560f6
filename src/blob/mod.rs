//! The blob store: where sealed attachments and thumbnails live, through `object_store`, in a
//! local directory by default or in S3-compatible storage when one disk is not enough.
//!
//! It only ever sees ciphertext ([`crate::crypto::stream`]) under random names, so a copy of
//! the store decrypts nothing (I4). What it could still tell is *when* each blob was written:
//! on the local directory every file (and the directory) gets its access and modification
//! times set to the epoch after each write, and `bisik maintenance blobs` rewrites each file in
//! place, which resets the inode change time that no program can set. S3 records its own
//! `Last-Modified`, which Bisik cannot change; docs/ATTACHMENTS.md says so.
//!
//! This room imports nothing of Bisik's but the configuration: it holds no key and parses no
//! content.

use crate::config::Config;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use std::path::PathBuf;
use std::sync::Arc;

/// A blob's name: 16 random bytes, shown as 32 hex digits. It says nothing about the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobId(pub [u8; 16]);

impl BlobId {
    /// A fresh random id.
    pub fn new() -> BlobId {
        let mut b = [0u8; 16];
        crate::crypto::primitives::os_fill(&mut b);
        BlobId(b)
    }
    /// The stored name.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses a stored name (exactly 32 lowercase hex digits).
    pub fn parse(s: &str) -> Option<BlobId> {
        if s.len() != 32
            || !s
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return None;
        }
        let mut b = [0u8; 16];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(BlobId(b))
    }
    fn path(&self) -> ObjectPath {
        ObjectPath::from(self.hex())
    }
}

impl Default for BlobId {
    fn default() -> Self {
        BlobId::new()
    }
}

/// Why a blob operation failed. The message names the operation, never content.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The blob is not in the store (deleted, or never written).
    #[error("blob not found")]
    NotFound,
    /// The store could not be reached or refused the operation.
    #[error("blob store: {0}")]
    Store(String),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound,
            // The error's text names the path (a random id) and the backend's reason.
            other => BlobError::Store(other.to_string()),
        }
    }
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// The local directory, when the store is one (for the file-time hygiene).
    local: Option<PathBuf>,
}

/// Parts of this size go to S3 while a blob is being written: S3 needs at least 5 MiB per part,
/// and at most two parts and the one being filled are in memory.
const S3_PART: usize = 5 * 1024 * 1024;
/// Parts for the local directory, which has no minimum: smaller keeps an upload's memory small.
const LOCAL_PART: usize = 1024 * 1024;

impl BlobStore {
    /// Opens the store the configuration names; a local directory is created (0700).
    pub fn open(cfg: &Config) -> Result<BlobStore, BlobError> {
        let a = &cfg.attachments;
        match a.store.as_str() {
            "s3" => {
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&a.s3.bucket)
                    .with_allow_http(a.s3.allow_http);
                if !a.s3.region.is_empty() {
                    b = b.with_region(&a.s3.region);
                }
                if !a.s3.endpoint.is_empty() {
                    b = b.with_endpoint(&a.s3.endpoint);
                }
                if !a.s3.access_key_id.is_empty() {
                    b = b.with_access_key_id(&a.s3.access_key_id);
                }
                if let Ok(secret) = std::env::var("BISIK_S3_SECRET_ACCESS_KEY") {
                    b = b.with_secret_access_key(secret);
                }
                let s3 = b.build().map_err(BlobError::from)?;
                Ok(BlobStore {
                    inner: Arc::new(s3),
                    local: None,
                })
            }
            _ => {
                let dir = local_dir(cfg);
                create_private_dir(&dir)?;
                // fsync: a report's code is shown once its row is durable (I7), and its files
                // must be as durable as the row that names them.
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(BlobError::from)?
                    .with_fsync(true);
                Ok(BlobStore {
                    inner: Arc::new(fs),
                    local: Some(dir),
                })
            }
        }
    }

    /// The local directory, if this store is one (the free-disk check watches it).
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        self.local.as_deref()
    }

    /// Starts writing a blob. Nothing is visible under its name until [`BlobWriter::finish`].
    pub async fn writer(&self, id: BlobId) -> Result<BlobWriter, BlobError> {
        let upload = self.inner.put_multipart(&id.path()).await?;
        Ok(BlobWriter {
            id,
            up: Some(WriteMultipart::new_with_chunk_size(
                upload,
                if self.local.is_some() {
                    LOCAL_PART
                } else {
                    S3_PART
                },
            )),
            store: self.clone(),
        })
    }

    /// Writes a small blob in one piece.
    pub async fn put(&self, id: BlobId, data: Vec<u8>) -> Result<(), BlobError> {
        self.inner.put(&id.path(), data.into()).await?;
        self.hide_times(id);
        Ok(())
    }

    /// The blob's bytes as a stream of pieces, and its stored length.
    pub async fn read(
        &self,
        id: BlobId,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, BlobError>>), BlobError> {
        let got = self.inner.get(&id.path()).await?;
        let size = got.meta.size;
        Ok((
            size,
            got.into_stream()
                .map(|r| r.map_err(BlobError::from))
                .boxed(),
        ))
    }

    /// Removes a blob; a missing one is not an error (removal is idempotent).
    pub async fn delete(&self, id: BlobId) -> Result<(), BlobError> {
        match self.inner.delete(&id.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                self.hide_dir_times();
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every blob name in the store; anything that is not a blob name is reported apart
    /// (left by a crash mid-write, or put there by someone else).
    pub async fn list(&self) -> Result<(Vec<BlobId>, Vec<String>), BlobError> {
        let mut ids = Vec::new();
        let mut other = Vec::new();
        let mut s = self.inner.list(None);
        while let Some(meta) = s.next().await {
            let meta = meta?;
            let name = meta.location.to_string();
            match BlobId::parse(&name) {
                Some(id) => ids.push(id),
                None => other.push(name),
            }
        }
        Ok((ids, other))
    }

    /// Removes a stray name that [`BlobStore::list`] reported.
    pub async fn delete_stray(&self, name: &str) -> Result<(), BlobError> {
        match self.inner.delete(&ObjectPath::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a local blob's (and the directory's) access and modification times to the epoch,
    /// and its mode to 0640: in the production split the intake writes blobs and the desk, in
    /// the shared group, reads them (deploy/systemd/bisik.tmpfiles).
    fn hide_times(&self, id: BlobId) {
        if let Some(dir) = &self.local {
            let path = dir.join(id.hex());
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640));
            epoch_times(&path);
            epoch_times(dir);
        }
    }

    fn hide_dir_times(&self) {
        if let Some(dir) = &self.local {
            epoch_times(dir);
        }
    }

    /// Rewrites every local blob through a new file renamed over the old one, so no inode
    /// change time dates a blob to its upload (run daily by `bisik maintenance blobs`).
    /// Returns how many were rewritten. S3 has nothing to do here.
    pub fn rewrite_local(&self) -> Result<usize, BlobError> {
        let Some(dir) = &self.local else {
            return Ok(0);
        };
        let io = |e: std::io::Error| BlobError::Store(e.to_string());
        // One sweep at a time (a timer and a manual run): an exclusive lock on the directory.
        let lock = std::fs::File::open(dir).map_err(io)?;
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|_| BlobError::Store("another blob maintenance run holds the store".into()))?;
        let mut n = 0;
        let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        for e in std::fs::read_dir(dir).map_err(io)? {
            let e = e.map_err(io)?;
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if BlobId::parse(name).is_none() {
                // A write the store staged (`ID#N`) and a crash abandoned, or a rewrite that
                // died: its times are real, so it goes once it is a day old.
                let stale = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < day_ago);
                if stale && (name.contains('#') || name.starts_with(".rewrite-")) {
                    let _ = std::fs::remove_file(e.path());
                }
                continue;
            }
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let tmp = dir.join(format!(".rewrite-{name}-{}", BlobId::new().hex()));
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o640)
                .open(&tmp)
                .map_err(io)?;
            let copied = std::fs::File::open(e.path()).and_then(|mut src| {
                std::io::copy(&mut src, &mut out)?;
                out.flush()?;
                out.sync_all()
            });
            match copied {
                Ok(()) => {}
                // Removed meanwhile (a failed report's cleanup): nothing to rewrite.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    let _ = std::fs::remove_file(&tmp);
                    continue;
                }
                Err(err) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io(err));
                }
            }
            epoch_times(&tmp);
            std::fs::rename(&tmp, e.path()).map_err(io)?;
            n += 1;
        }
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        epoch_times(dir);
        Ok(n)
    }
}

/// The local blob directory the configuration names.
pub fn local_dir(cfg: &Config) -> PathBuf {
    cfg.attachments
        .blob_dir
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("blobs"))
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), BlobError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| BlobError::Store(format!("cannot create {}: {e}", dir.display())))
}

fn epoch_times(p: &std::path::Path) {
    let times = std::fs::FileTimes::new()
        .set_accessed(std::time::UNIX_EPOCH)
        .set_modified(std::time::UNIX_EPOCH);
    // Best effort: a failure leaves a time behind but loses nothing.
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.set_times(times);
    }
}

/// A blob being written: pieces go in with [`BlobWriter::write`], in order.
pub struct BlobWriter {
    id: BlobId,
    up: Option<WriteMultipart>,
    store: BlobStore,
}

impl BlobWriter {
    /// The blob's name.
    pub fn id(&self) -> BlobId {
        self.id
    }

    /// Adds bytes; at most two parts are in flight, so memory stays bounded.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), BlobError> {
        let up = self.up.as_mut().expect("not finished");
        up.wait_for_capacity(2).await?;
        up.write(data);
        Ok(())
    }

    /// Completes the blob: only now is it visible under its name.
    pub async fn finish(mut self) -> Result<(), BlobError> {
        let up = self.up.take().expect("not finished");
        up.finish().await?;
        self.store.hide_times(self.id);
        Ok(())
    }

    /// Abandons the blob, removing what was written.
    pub async fn abort(mut self) {
        if let Some(up) = self.up.take() {
            let _ = up.abort().await;
        }
    }
}
