//! Online garbage collection's rows: the blob review queue, blob commits in flight, deletions in progress and
//! the collector's totals (migration `0016`). The rules (what a pass does, in which order) live in
//! `berth-registry`; every decision that deletes something is re-checked here, inside the transaction that
//! deletes it.

use async_trait::async_trait;
use berth_oci::Digest;

use crate::Result;

/// What a review of one blob decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// Another worker holds the blob (or it was reviewed meanwhile): nothing done.
    Skipped,
    /// The blob stays: something still needs it. `unlinked` links no manifest needed were removed.
    Kept { unlinked: u64 },
    /// The blob row is gone and its bytes must be deleted, then [`GcStore::finish_blob_deletion`] called.
    Delete { size: u64, unlinked: u64 },
}

/// A blob commit left in flight (by a crash, or still running when old enough to be judged stale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleCommit {
    pub id: i64,
    pub digest: Digest,
    /// The upload session's id (storage bytes under `uploads/`).
    pub upload: String,
    pub backend_state: Vec<u8>,
    /// The process that started it.
    pub owner: String,
    pub started_at: i64,
}

/// The collector's totals and queue, as `berth gc status` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcStatus {
    /// When a collection was last requested (`berth gc run`), if one was.
    pub requested_at: Option<i64>,
    /// Requests made so far, and the highest one a finished run served.
    pub requests: u64,
    pub served: u64,
    pub runs: u64,
    pub last_started_at: Option<i64>,
    pub last_finished_at: Option<i64>,
    pub links_removed: u64,
    pub blobs_deleted: u64,
    pub bytes_reclaimed: u64,
    /// Blobs waiting for review (all of them, and those due now).
    pub queued: u64,
    pub due: u64,
    /// Blobs whose row is gone and whose bytes are being deleted.
    pub deleting: u64,
    /// Blob commits in flight.
    pub commits_in_flight: u64,
}

#[async_trait]
pub trait GcStore: Send + Sync {
    /// Announces that verified bytes of `digest` are about to be committed from upload `upload` (whose session
    /// row, if `delete_session`, is removed in the same transaction). Returns the commit's id, or `None` while
    /// the digest is being deleted (the caller waits for [`GcStore::blob_deletion_pending`] to clear and retries).
    async fn begin_blob_commit(
        &self,
        digest: &Digest,
        upload: &str,
        backend_state: &[u8],
        delete_session: bool,
        owner: &str,
        now: i64,
    ) -> Result<Option<i64>>;
    /// Links the committed blob to `repo` (as [`crate::BlobIndex::link_blob`]) if `guard` allows it
    /// ([`crate::MetaError::Refused`] if not, the commit left in flight) and forgets commit `id`, in one
    /// transaction.
    async fn link_committed_blob(
        &self,
        repo: &berth_oci::RepositoryName,
        digest: &Digest,
        size: u64,
        id: i64,
        now: i64,
        guard: &dyn crate::quotas::LinkGuard,
    ) -> Result<()>;
    /// Forgets a commit (its bytes were linked, or never moved).
    async fn end_blob_commit(&self, id: i64) -> Result<()>;
    /// Whether `digest`'s bytes are being deleted.
    async fn blob_deletion_pending(&self, digest: &Digest) -> Result<bool>;

    /// Digests due for review at `now`, in digest order, after `after` when given (a collection sweeps the
    /// queue once with it, so work queued behind it waits for the next collection instead of keeping this
    /// one going).
    async fn gc_due(&self, now: i64, after: Option<&Digest>, limit: u32) -> Result<Vec<Digest>>;
    /// Reviews one blob in one transaction: removes each link older than `grace` seconds that no manifest of
    /// its repository references; then, if no link, no manifest reference, no commit in flight and not
    /// `protected` (the vulnerability database) remains, removes the blob row and records its deletion.
    /// Links younger than `grace` put the digest back in the queue for when they are old enough.
    async fn gc_review(&self, digest: &Digest, now: i64, grace: i64, protected: Option<&Digest>) -> Result<Review>;
    /// Deletions whose bytes may still exist (a pass crashed, or is deleting them now).
    async fn pending_blob_deletions(&self, limit: u32) -> Result<Vec<(Digest, u64)>>;
    /// The bytes of `digest` are gone: forgets the deletion and counts it.
    async fn finish_blob_deletion(&self, digest: &Digest, size: u64) -> Result<()>;
    /// Commits started before `before` and not ended.
    async fn stale_blob_commits(&self, before: i64, limit: u32) -> Result<Vec<StaleCommit>>;
    /// Forgets a stale commit. Returns whether its digest's bytes must be deleted (no blob row and no other
    /// commit of it); if so a deletion is recorded first, to be finished like a review's.
    async fn drop_stale_commit(&self, id: i64, now: i64) -> Result<bool>;

    async fn gc_status(&self, now: i64) -> Result<GcStatus>;
    /// Records a request for a collection (`berth gc run`); returns its number.
    async fn request_gc(&self, now: i64) -> Result<u64>;
    /// Records the start of a run; returns the number of the last request it serves.
    async fn gc_run_started(&self, now: i64) -> Result<u64>;
    /// Records the end of a run that started serving request `serving`.
    async fn gc_run_finished(&self, now: i64, serving: u64) -> Result<()>;
}
