//! What recovering from damaged or lost metadata needs from the store: checks of the store itself, the feed
//! of changes that keeps the repository journal (manifests and tags as files beside the blobs, see
//! `berth-storage`) up to date, and the few writes `fsck` repairs with.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName, Tag};

use crate::Result;

/// A manifest or tag that changed, with what the store holds for it now. The feed may name one key many
/// times, and reports the state when it is read, not the state the change made: applying entries in order
/// (or only the last one per key) leaves the journal as the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalChange {
    /// Position in the feed; [`RecoveryStore::journal_done`] forgets entries up to one.
    pub seq: i64,
    pub repository: RepositoryName,
    pub entry: JournalEntry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalEntry {
    /// The manifest `digest` and, while it exists, its media type and content.
    Manifest { digest: Digest, current: Option<(String, Vec<u8>)> },
    /// The tag and, while it exists, the digest of the manifest it points at.
    Tag { tag: Tag, target: Option<Digest> },
}

#[async_trait]
pub trait RecoveryStore: Send + Sync {
    /// Whether the store has never recorded a repository or a blob: a new database, or one whose content
    /// was lost.
    async fn is_empty(&self) -> Result<bool>;

    /// The store's check of its own structures (SQLite: `PRAGMA integrity_check`): the problems found, none
    /// when the store is sound.
    async fn integrity_check(&self) -> Result<Vec<String>>;

    /// Up to `limit` entries of the change feed, oldest first.
    async fn journal_changes(&self, limit: u32) -> Result<Vec<JournalChange>>;

    /// Forgets the feed's entries up to and including `seq` (the journal on disk has them).
    async fn journal_done(&self, seq: i64) -> Result<()>;

    /// Repositories `digest` is linked to.
    async fn blob_links(&self, digest: &Digest) -> Result<Vec<RepositoryName>>;

    /// Records a committed blob of `size` bytes that the store did not know, linked to no repository (as a
    /// blob whose links were all removed). Idempotent.
    async fn record_blob(&self, digest: &Digest, size: u64, now: i64) -> Result<()>;
}
