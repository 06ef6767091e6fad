//! Blob storage: content-addressed, immutable blobs and the upload sessions that produce them.
//!
//! The [`BlobStore`] contract is deliberately small so that an S3 multipart backend fits beside the
//! filesystem one. A backend knows bytes only: which repository links a blob, what an upload session
//! means to a client and the running hash state belong to the metadata store and the registry. Upload
//! sessions are identified by an id the caller chooses; the backend keeps only the bytes written so far
//! (plus, for S3, an opaque `UploadState` the caller persists with the session).
//!
//! Invariant: a blob becomes visible (to `stat`/`open`) only after its bytes are durable under its final
//! digest; a crash at any moment leaves either the whole blob or nothing.
//!
//! # The repository journal
//!
//! Beside the blobs, a store keeps each repository's manifests (media type and bytes) and tags, written by
//! [`BlobStore::journal_apply`] after the metadata store has recorded them. It is what rebuilding lost
//! metadata starts from (`berth fsck --rebuild-metadata`): blobs alone do not say which repository they
//! belong to, and manifests and tags live only in the metadata store otherwise. Everything else the
//! metadata store holds (users, keys, policies, settings, scan results, statistics, blob links no manifest
//! explains, upload sessions) is not journaled.

mod fs;
mod s3;
#[cfg(any(test, feature = "testsuite"))]
pub mod s3_server;
pub mod sealed;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;

use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName, Tag};
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncRead;

pub use fs::FsBlobStore;
pub use s3::{S3BlobStore, S3Config, S3ConnectError};
pub use sealed::SealedBlobStore;

/// A change of the repository journal: a manifest or tag as it now is (`None`: removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalUpdate {
    Manifest {
        repository: RepositoryName,
        digest: Digest,
        /// Media type and bytes, or `None` when the manifest was deleted.
        current: Option<(String, Vec<u8>)>,
    },
    Tag {
        repository: RepositoryName,
        tag: Tag,
        /// The manifest the tag points at, or `None` when the tag was deleted.
        target: Option<Digest>,
    },
}

/// What the journal holds for one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournaledRepository {
    pub manifests: Vec<JournaledManifest>,
    /// Tags and the digest each points at, in lexical order of the tag.
    pub tags: Vec<(Tag, Digest)>,
    /// Entries that could not be used, each with the reason.
    pub unreadable: Vec<String>,
}

/// A manifest as journaled; its bytes match its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournaledManifest {
    pub digest: Digest,
    pub media_type: String,
    pub content: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob {0} not found")]
    BlobNotFound(Digest),
    #[error("upload {0} not found")]
    UploadNotFound(String),
    /// The session holds a different number of bytes than the caller expects (a lost or repeated chunk).
    #[error("upload holds {actual} bytes, expected {expected}")]
    UploadOffsetMismatch { expected: u64, actual: u64 },
    #[error("requested range is not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// The request body failed while it was being read (client disconnect, limit exceeded).
    #[error("reading the request body failed: {0}")]
    Body(String),
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    /// Whether the backend refused to store bytes because its disk (or the owner's quota) is full. Not a bug,
    /// and over once space is freed.
    pub fn is_out_of_space(&self) -> bool {
        use std::io::ErrorKind::{QuotaExceeded, StorageFull};
        matches!(self, StorageError::Io(e) if matches!(e.kind(), StorageFull | QuotaExceeded))
    }
}

impl StorageError {
    /// Whether the backend could not be reached (an S3 server down or unreachable, a request that timed out):
    /// nothing was stored, and the same request succeeds once it answers again.
    pub fn is_unavailable(&self) -> bool {
        use std::io::ErrorKind::{
            ConnectionAborted, ConnectionRefused, ConnectionReset, HostUnreachable, NetworkUnreachable, NotConnected,
            TimedOut,
        };
        matches!(self, StorageError::Io(e) if matches!(e.kind(),
            ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | HostUnreachable
                | NetworkUnreachable | TimedOut))
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A stream of body chunks coming from a client.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// The bytes of a blob (or a range of it) being read.
pub struct BlobReader {
    /// Number of bytes `reader` will yield.
    pub len: u64,
    /// Size of the whole blob as stored when it was opened (`len` is less for a range). A caller that recorded
    /// the blob's size compares the two: a difference means the stored copy is damaged.
    pub stored_size: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// What [`BlobStore::reseal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resealed {
    /// The plaintext copy was replaced by an encrypted one.
    Sealed,
    AlreadySealed,
    /// No such blob (deleted meanwhile).
    Missing,
    /// This store does not encrypt.
    NotSealing,
}

/// Backend-specific state of an upload session that the caller persists (e.g. S3 upload id and part ETags).
/// The filesystem backend needs none and returns an empty vector.
pub type UploadState = Vec<u8>;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Size of a committed blob, or `None` when it does not exist.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Opens a committed blob, optionally only `range` (end exclusive, within the blob).
    ///
    /// A range is valid when `start <= end <= size`; an empty range yields no bytes. Any other range is
    /// [`StorageError::RangeNotSatisfiable`]; a missing blob is [`StorageError::BlobNotFound`].
    async fn open(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<BlobReader>;

    /// Removes a committed blob. Removing a missing blob is not an error.
    async fn delete(&self, digest: &Digest) -> Result<()>;

    /// Starts an upload session with the caller's id (a UUID string; never a path).
    ///
    /// Upload ids are 1 to 64 characters of `[0-9a-fA-F-]`. Every session operation treats any other id as
    /// naming no session: [`StorageError::UploadNotFound`] (and `Ok` for `cancel_upload`). Creating a
    /// session that already exists is an error.
    async fn create_upload(&self, id: &str) -> Result<UploadState>;

    /// Appends `body` at byte `offset` of the session. Bytes beyond `offset` left by an earlier failed append
    /// are discarded first, so a retried chunk never duplicates data. `inspect` sees every chunk, in order,
    /// before it is written (the registry hashes there; no second pass over the data).
    /// Returns the session's new size and state; the appended bytes are durable when this returns.
    ///
    /// Errors: [`StorageError::UploadNotFound`]; [`StorageError::UploadOffsetMismatch`] when the session
    /// holds fewer than `offset` bytes (nothing is inspected or written then); [`StorageError::Body`] when
    /// `body` fails, after which the session may hold any number of bytes beyond `offset` (the next append
    /// at `offset` discards them).
    ///
    /// `inspect` is spelled with an explicit `for<'a>`: `#[async_trait]` gives every elided lifetime in the
    /// arguments, including the one inside `FnMut(&[u8])`, a named method lifetime, which would make the
    /// closure accept only slices outliving the call (so no backend could hand it a chunk it just received).
    async fn append_upload(
        &self,
        id: &str,
        state: &UploadState,
        offset: u64,
        body: ByteStream,
        inspect: &mut (dyn for<'a> FnMut(&'a [u8]) + Send),
    ) -> Result<(u64, UploadState)>;

    /// Protects what the caller keeps beside a session that derives from its bytes: the running hash state
    /// holds up to a block of them. A store that encrypts what it stores encrypts this too; the default keeps it
    /// as is. [`BlobStore::open_upload_data`] reverses it (and accepts data kept before, as is).
    async fn seal_upload_data(&self, _state: &UploadState, data: Vec<u8>) -> Result<Vec<u8>> {
        Ok(data)
    }

    /// Reverses [`BlobStore::seal_upload_data`] for the session `state` describes.
    async fn open_upload_data(&self, _state: &UploadState, data: Vec<u8>) -> Result<Vec<u8>> {
        Ok(data)
    }

    /// Size of the bytes an upload session holds.
    async fn upload_size(&self, id: &str, state: &UploadState) -> Result<u64>;

    /// Makes the first `size` bytes of the session the blob `digest` (the caller recorded and verified exactly
    /// those) and ends the session. Bytes beyond `size`, left by an append that failed after writing, are
    /// discarded: they were never hashed, and committing them would store bytes that do not match the digest.
    /// A session holding fewer than `size` bytes is `UploadOffsetMismatch`.
    ///
    /// If the blob already exists, pushing it again repairs a damaged stored copy (truncated, flipped bits),
    /// atomically (readers see the old file or the new one), and never replaces a sound copy by other bytes than
    /// the caller verified. A backend either verifies the stored copy first (its size, then its digest), keeping
    /// a sound one and discarding the session, or, when the stored copy has exactly `size` bytes, may replace it
    /// by the session's bytes without reading it: the filesystem backend does, which costs a rename where
    /// verifying would read and hash the whole blob again.
    async fn commit_upload(&self, id: &str, state: &UploadState, digest: &Digest, size: u64) -> Result<u64>;

    /// Like [`BlobStore::commit_upload`], but a stored copy of `digest` is replaced (atomically) by the session's
    /// bytes whatever its size: for a caller that stores a blob again in another form (encrypted) and has
    /// verified the session's content itself.
    async fn commit_upload_replacing(&self, id: &str, state: &UploadState, digest: &Digest, size: u64) -> Result<u64>;

    /// Stores a blob kept unencrypted again, encrypted, when this store encrypts what it stores: readers see the
    /// plaintext copy or the encrypted one, never neither. Stores that do not encrypt answer
    /// [`Resealed::NotSealing`].
    async fn reseal(&self, _digest: &Digest) -> Result<Resealed> {
        Ok(Resealed::NotSealing)
    }

    /// Reads the session's bytes from the start (used to verify a digest of an algorithm not hashed while
    /// streaming).
    async fn read_upload(&self, id: &str, state: &UploadState) -> Result<BlobReader>;

    /// Discards an upload session. Cancelling a missing session is not an error.
    async fn cancel_upload(&self, id: &str, state: &UploadState) -> Result<()>;

    /// A local file holding the committed blob, when the backend keeps blobs on local disk; lets the HTTP
    /// layer serve it without copying through user space. Backends without local files return `None`.
    fn local_path(&self, _digest: &Digest) -> Option<std::path::PathBuf> {
        None
    }

    /// A URL from which a client may download the committed blob itself (a presigned URL valid for a few
    /// minutes), when the backend is configured to hand such URLs out; `None`: the bytes go through berth.
    /// The caller has authorized the download already; the URL grants nothing else.
    async fn download_url(&self, _digest: &Digest) -> Result<Option<String>> {
        Ok(None)
    }

    /// Every committed blob's digest (for `fsck` and garbage collection).
    async fn list_blobs(&self) -> Result<Vec<Digest>>;

    /// Moves a committed blob out of the store (it is no longer `stat`-able, `open`-able or listed) to where an
    /// operator can inspect it. Returns whether there was such a blob. Used for damaged blobs, so that clients
    /// get "unknown" instead of bad bytes and a new push stores the blob again.
    async fn quarantine(&self, digest: &Digest) -> Result<bool>;

    /// Brings the repository journal (see the crate docs) up to date with `updates`, applied in order. The
    /// journal's files are durable when this returns.
    async fn journal_apply(&self, updates: Vec<JournalUpdate>) -> Result<()>;

    /// Repositories with at least one journal entry, in lexical order.
    async fn journal_repositories(&self) -> Result<Vec<RepositoryName>>;

    /// The journal of `repo`. Entries that cannot be read or do not match their name (a manifest whose bytes
    /// have another digest, a tag file that holds no digest) are reported in `unreadable`, not returned.
    async fn journal_read(&self, repo: &RepositoryName) -> Result<JournaledRepository>;

    /// Ids of upload sessions that have bytes in the store (for cleaning up sessions the metadata forgot).
    async fn list_uploads(&self) -> Result<Vec<String>>;
}
