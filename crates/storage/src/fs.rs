//! The filesystem backend: blobs and upload sessions as plain files under one root directory.
//!
//! See [`layout`] for the directory tree. Durability rules (the crate invariant: a crash at any instant
//! leaves either a whole blob or none):
//!
//! - `append_upload` flushes the appended bytes (`fdatasync`) before returning; `create_upload` flushes the
//!   new session file and the `uploads/` directory, so an acknowledged session survives a crash.
//! - `commit_upload` flushes the upload file, creates the blob's fan-out directory durably (flushing each
//!   new directory's parent), renames the file into place and flushes the destination directory. The blob is
//!   visible only under its final name, and only with all of its bytes on disk. When the blob exists already,
//!   that same rename replaces it (the pushed bytes are verified; the stored copy may be damaged), unless its
//!   size differs and it still hashes to its digest (then the session is what is wrong, and is discarded).
//! - `quarantine` renames a blob into `quarantine/` and flushes both directories.
//! - The repository journal (see [`journal`]) writes each entry to a temporary file, flushes it and renames
//!   it into place, so an entry is whole or absent.
//! - Removals (`delete`, `cancel_upload`, the source side of a commit's rename) are not flushed: if a crash
//!   undoes one, what reappears is a complete blob nobody references (reclaimed by garbage collection) or an
//!   upload file no session owns (found by `list_uploads`), never a partial blob.
//!
//! All blocking work runs on tokio's blocking pool, a whole operation per task, except for appends, which
//! stream through large coalesced buffers (see [`append`]).

mod append;
mod durable;
mod fence;
mod journal;
mod layout;
#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use berth_oci::{Digest, DigestHasher, RepositoryName};
use tokio::io::{AsyncReadExt, AsyncSeekExt, BufReader};

use self::durable::{blocking, create_dir_durable, optional, sync_dir};
use self::fence::{Fence, Fences, Session};
use self::layout::{Layout, is_valid_upload_id, parse_blob_name};
use crate::{BlobReader, BlobStore, ByteStream, JournalUpdate, JournaledRepository, Result, StorageError, UploadState};

/// Largest read buffer put in front of a blob file. `tokio::fs::File` reads at most as much as the caller
/// asks for per blocking-pool round trip, and callers often read in small pieces (a few KiB); the buffer
/// turns those into reads of up to this size.
const READ_BUF: usize = 1 << 20;
/// Smallest read buffer (for tiny blobs such as configs, where a 1 MiB allocation would be waste).
const MIN_READ_BUF: usize = 8 << 10;

/// A [`BlobStore`] keeping blobs and upload sessions as files under a root directory.
pub struct FsBlobStore {
    layout: Layout,
    fences: Fences,
}

impl std::fmt::Debug for FsBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBlobStore").field("root", &self.layout.root()).finish_non_exhaustive()
    }
}

impl FsBlobStore {
    /// Opens the store rooted at `root`, creating `root`, `root/blobs` and `root/uploads` if missing.
    ///
    /// Async because it touches the filesystem (on the blocking pool); call it from within a tokio runtime.
    /// `uploads/` must be on the same filesystem as `blobs/` (it is, unless someone mounts over it): commits
    /// are renames.
    pub async fn open(root: impl Into<PathBuf>) -> Result<FsBlobStore> {
        let layout = Layout::new(root.into());
        let dirs = [layout.blobs_dir(), layout.uploads_dir()];
        blocking(move || {
            for dir in &dirs {
                create_dir_durable(dir)?;
            }
            Ok(())
        })
        .await?;
        Ok(FsBlobStore { layout, fences: Fences::default() })
    }

    /// The directory this store lives in.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// Resolves an upload id to its file and the session's fence. An id that is not a valid upload id names
    /// no session.
    fn session(&self, id: &str) -> Result<(PathBuf, Arc<Fence>)> {
        let path = self.layout.upload(id).ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
        Ok((path, self.fences.get(id)))
    }

    async fn commit_with(&self, id: &str, digest: &Digest, size: u64, replace: bool) -> Result<u64> {
        let (path, fence) = self.session(id)?;
        let dest = self.layout.blob(digest);
        let (id, digest) = (id.to_string(), digest.clone());
        blocking(move || fence.supersede(|session| commit(&path, &id, &digest, &dest, size, replace, session)).1).await
    }
}

/// Opens `path` for reading, mapping "not found" to `missing()`.
fn open_existing(path: &Path, missing: impl FnOnce() -> StorageError) -> Result<File> {
    match File::open(path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// Makes the upload file at `path` the blob at `dest` (see the module docs for the durability steps), without
/// any unacknowledged bytes. Returns the blob's size.
/// With `replace`, a stored copy is replaced whatever its size (the caller stores the blob in another form).
fn commit(
    path: &Path,
    id: &str,
    digest: &Digest,
    dest: &Path,
    size: u64,
    replace: bool,
    session: &mut Session,
) -> Result<u64> {
    let file = match File::options().write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StorageError::UploadNotFound(id.to_string())),
        Err(e) => return Err(e.into()),
    };
    if let Some(existing) = optional(fs::metadata(dest))? {
        // Content-addressed. A stored copy of the committed size is replaced by the session's bytes, which the
        // caller has just verified against the digest: a sound copy by identical bytes (readers cannot tell), a
        // damaged one (flipped bits) by good ones. Re-hashing it instead would read and hash the whole blob
        // again, doubling the cost of every re-push, to save a rename. A copy of another size is damaged if the
        // caller's bytes are right, but the caller's bytes are the suspect ones if the copy hashes right: only
        // then is it read, and kept if sound.
        if !replace && existing.len() != size && holds_digest(dest, digest)? {
            fs::remove_file(path)?;
            session.unacked_from = None;
            return Ok(existing.len());
        }
        if !replace && existing.len() != size {
            tracing::warn!(
                %digest,
                stored_bytes = existing.len(),
                expected_bytes = size,
                "the stored copy of a blob is damaged; replacing it with the bytes just pushed"
            );
        }
    }
    let len = file.metadata()?.len();
    let acknowledged = session.acknowledged(len);
    if acknowledged < size {
        return Err(StorageError::UploadOffsetMismatch { expected: size, actual: acknowledged });
    }
    if size < len {
        // Left by an append that failed or never completed: its caller did not hash them.
        file.set_len(size)?;
    }
    session.unacked_from = None;
    file.sync_all()?;
    drop(file);
    let dir = dest.parent().ok_or_else(|| io::Error::other("blob path has no parent directory"))?;
    create_dir_durable(dir)?;
    // Two sessions committing one digest at once may both get here; the second rename then replaces the first
    // file with identical bytes, which readers cannot tell apart (open files keep the inode they opened). The
    // same holds for replacing a damaged copy: a reader that opened it goes on reading the damaged bytes.
    fs::rename(path, dest)?;
    sync_dir(dir)?;
    Ok(size)
}

/// Whether the file at `path` holds bytes whose digest is `digest` (read in full).
fn holds_digest(path: &Path, digest: &Digest) -> io::Result<bool> {
    use std::io::Read as _;
    let mut file = File::open(path)?;
    let mut hasher = DigestHasher::new(digest.algorithm());
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(&hasher.finish() == digest);
        }
        hasher.update(&buf[..n]);
    }
}

/// A buffered reader over `file` (of `stored_size` bytes) yielding the `len` bytes from `start`.
async fn reader_over(file: File, stored_size: u64, start: u64, len: u64) -> Result<BlobReader> {
    let mut file = tokio::fs::File::from_std(file);
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    let capacity = usize::try_from(len).unwrap_or(usize::MAX).clamp(MIN_READ_BUF, READ_BUF);
    let reader = BufReader::with_capacity(capacity, file.take(len));
    Ok(BlobReader { len, stored_size, reader: Box::pin(reader) })
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.layout.blob(digest);
        blocking(move || Ok(optional(fs::metadata(path))?.filter(|m| m.is_file()).map(|m| m.len()))).await
    }

    async fn open(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<BlobReader> {
        let path = self.layout.blob(digest);
        let missing = digest.clone();
        let (file, size) = blocking(move || {
            let file = open_existing(&path, || StorageError::BlobNotFound(missing))?;
            let size = file.metadata()?.len();
            Ok((file, size))
        })
        .await?;
        let range = range.unwrap_or(0..size);
        if range.start > range.end || range.end > size {
            return Err(StorageError::RangeNotSatisfiable { size });
        }
        reader_over(file, size, range.start, range.end - range.start).await
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        let path = self.layout.blob(digest);
        blocking(move || Ok(optional(fs::remove_file(path)).map(drop)?)).await
    }

    async fn create_upload(&self, id: &str) -> Result<UploadState> {
        let (path, fence) = self.session(id)?;
        let uploads = self.layout.uploads_dir();
        blocking(move || {
            let (_, created) = fence.supersede(|session| {
                // `create_new`: an existing session is never silently reset.
                let file = File::options().write(true).create_new(true).open(&path)?;
                file.sync_all()?;
                sync_dir(&uploads)?;
                session.unacked_from = None;
                Ok::<_, io::Error>(())
            });
            created?;
            Ok(UploadState::new())
        })
        .await
    }

    async fn append_upload(
        &self,
        id: &str,
        _state: &UploadState,
        offset: u64,
        body: ByteStream,
        inspect: &mut (dyn for<'a> FnMut(&'a [u8]) + Send),
    ) -> Result<(u64, UploadState)> {
        let (path, fence) = self.session(id)?;
        let size = append::append(path, id, fence, offset, body, inspect).await?;
        Ok((size, UploadState::new()))
    }

    async fn upload_size(&self, id: &str, _state: &UploadState) -> Result<u64> {
        let (path, fence) = self.session(id)?;
        let id = id.to_string();
        blocking(move || {
            fence.shared(|session| match optional(fs::metadata(path))? {
                Some(m) if m.is_file() => Ok(session.acknowledged(m.len())),
                _ => Err(StorageError::UploadNotFound(id)),
            })
        })
        .await
    }

    async fn commit_upload(&self, id: &str, _state: &UploadState, digest: &Digest, size: u64) -> Result<u64> {
        self.commit_with(id, digest, size, false).await
    }

    async fn commit_upload_replacing(&self, id: &str, _state: &UploadState, digest: &Digest, size: u64) -> Result<u64> {
        self.commit_with(id, digest, size, true).await
    }

    async fn read_upload(&self, id: &str, _state: &UploadState) -> Result<BlobReader> {
        let (path, fence) = self.session(id)?;
        let id = id.to_string();
        let (file, size) = blocking(move || {
            fence.shared(|session| {
                let file = open_existing(&path, || StorageError::UploadNotFound(id))?;
                let size = session.acknowledged(file.metadata()?.len());
                Ok((file, size))
            })
        })
        .await?;
        reader_over(file, size, 0, size).await
    }

    async fn cancel_upload(&self, id: &str, _state: &UploadState) -> Result<()> {
        // An id that cannot name a session names a session that does not exist: nothing to cancel.
        let Ok((path, fence)) = self.session(id) else {
            return Ok(());
        };
        blocking(move || {
            let (_, removed) = fence.supersede(|session| {
                optional(fs::remove_file(path))?;
                session.unacked_from = None;
                Ok::<_, io::Error>(())
            });
            Ok(removed?)
        })
        .await
    }

    fn local_path(&self, digest: &Digest) -> Option<PathBuf> {
        Some(self.layout.blob(digest))
    }

    async fn list_blobs(&self) -> Result<Vec<Digest>> {
        let blobs = self.layout.blobs_dir();
        blocking(move || {
            let mut found = Vec::new();
            for (algorithm, alg_dir) in subdirs(&blobs)? {
                for (fanout, fanout_dir) in subdirs(&alg_dir)? {
                    for name in files(&fanout_dir)? {
                        if let Some(digest) = parse_blob_name(&algorithm, &fanout, &name) {
                            found.push(digest);
                        }
                    }
                }
            }
            found.sort();
            Ok(found)
        })
        .await
    }

    async fn quarantine(&self, digest: &Digest) -> Result<bool> {
        let from = self.layout.blob(digest);
        let to = self.layout.quarantined(digest);
        blocking(move || {
            if optional(fs::metadata(&from))?.is_none() {
                return Ok(false);
            }
            let dir = to.parent().ok_or_else(|| io::Error::other("quarantine path has no parent directory"))?;
            create_dir_durable(dir)?;
            match fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e.into()),
            }
            sync_dir(dir)?;
            if let Some(parent) = from.parent() {
                sync_dir(parent)?;
            }
            Ok(true)
        })
        .await
    }

    async fn journal_apply(&self, updates: Vec<JournalUpdate>) -> Result<()> {
        let layout = self.layout.clone();
        blocking(move || Ok(journal::apply(&layout, &updates)?)).await
    }

    async fn journal_repositories(&self) -> Result<Vec<RepositoryName>> {
        let layout = self.layout.clone();
        blocking(move || Ok(journal::repositories(&layout)?)).await
    }

    async fn journal_read(&self, repo: &RepositoryName) -> Result<JournaledRepository> {
        let layout = self.layout.clone();
        let repo = repo.clone();
        blocking(move || Ok(journal::read(&layout, &repo)?)).await
    }

    async fn list_uploads(&self) -> Result<Vec<String>> {
        let uploads = self.layout.uploads_dir();
        blocking(move || {
            let mut ids: Vec<String> = files(&uploads)?.into_iter().filter(|n| is_valid_upload_id(n)).collect();
            ids.sort();
            Ok(ids)
        })
        .await
    }
}

/// Entries of `dir` with UTF-8 names, as (name, path, type). A directory that vanished (concurrent delete)
/// is empty; entries that vanish while listing are simply missed.
fn entries(dir: &Path) -> io::Result<Vec<(String, PathBuf, fs::FileType)>> {
    let Some(read) = optional(fs::read_dir(dir))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry?;
        let Some(file_type) = optional(entry.file_type())? else { continue };
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path(), file_type));
        }
    }
    Ok(out)
}

/// Names of the regular files in `dir`.
fn files(dir: &Path) -> io::Result<Vec<String>> {
    Ok(entries(dir)?.into_iter().filter(|(_, _, t)| t.is_file()).map(|(name, _, _)| name).collect())
}

/// Names and paths of the subdirectories of `dir`.
fn subdirs(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    Ok(entries(dir)?.into_iter().filter(|(_, _, t)| t.is_dir()).map(|(name, path, _)| (name, path)).collect())
}
