//! Online garbage collection: blobs no manifest of any repository needs, and no repository links, are
//! deleted while pushes and pulls go on (the design of GitLab's container registry: a review queue filled by
//! triggers, a grace period, and a re-check under lock in the transaction that deletes the row).
//!
//! Why a concurrent push never loses a blob:
//! - A link younger than the grace period is never removed, so a client that uploaded a layer has that long
//!   to push the manifest that references it; past it, a manifest push whose layer was collected fails with
//!   `MANIFEST_BLOB_UNKNOWN` (the metadata store re-checks every reference inside the manifest's
//!   transaction), it is never stored pointing at nothing.
//! - A link is removed only if no manifest of its repository references the blob, checked in the same
//!   transaction (SQLite: the single writer; PostgreSQL: the repository locked against manifest pushes).
//! - A blob commit announces itself (`begin_blob_commit`) before moving bytes into `blobs/`; a review that
//!   sees a commit in flight keeps the blob, and a commit that sees a deletion in progress waits until the
//!   bytes are gone before moving its own. The row goes (and the deletion is recorded) in one transaction,
//!   the bytes after it commits, the record last: a crash anywhere is finished by the next pass.

use std::time::Duration;

use berth_meta::gc::{GcStatus, Review};
use berth_oci::Digest;

use crate::jobs::RunWatch;
use crate::{Registry, RegistryError, Result};

/// How long a commit may wait for a deletion of its digest to finish before answering "try again".
const DELETION_WAIT: Duration = Duration::from_secs(30);
/// Blobs one pass reviews at once. Each review is a durable transaction of its own; run together, their commits
/// share the metadata store's flushes (SQLite's group commit, PostgreSQL's WAL flush), which is most of a
/// review's cost. Reviews of different blobs never wait for each other (each locks its own digest).
const REVIEWS_AT_ONCE: usize = 8;
/// A blob commit still in flight after this long was cut short by a crash (or its node died).
pub const COMMIT_TIMEOUT_SECS: i64 = 3600;

/// Settings of the collector.
#[derive(Debug, Clone, Copy)]
pub struct GcSettings {
    /// How long an unreferenced link stays before it may be collected (`BERTH_GC_GRACE`).
    pub grace: Duration,
    /// Blob commits in flight for longer than this are judged abandoned.
    pub commit_timeout_secs: i64,
    /// Only this process uses the metadata store (SQLite): a commit in flight that another process started
    /// was abandoned by a crash, whatever its age.
    pub single_process: bool,
}

impl Default for GcSettings {
    fn default() -> Self {
        GcSettings { grace: Duration::from_secs(3600), commit_timeout_secs: COMMIT_TIMEOUT_SECS, single_process: false }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    pub reviewed: u64,
    pub links_removed: u64,
    pub blobs_deleted: u64,
    pub bytes_reclaimed: u64,
    /// Blob commits a crash left in flight, cleaned up.
    pub abandoned_commits: u64,
    /// Whether more blobs were due than the pass's limit.
    pub more: bool,
    /// Whether it stopped early because it was asked to (a cancelled job), between two blobs.
    pub stopped: bool,
    /// The last digest the pass reviewed: where the next pass of the same collection goes on.
    #[serde(skip)]
    pub cursor: Option<Digest>,
}

impl GcReport {
    fn add(&mut self, pass: &GcReport) {
        self.reviewed += pass.reviewed;
        self.links_removed += pass.links_removed;
        self.blobs_deleted += pass.blobs_deleted;
        self.bytes_reclaimed += pass.bytes_reclaimed;
        self.abandoned_commits += pass.abandoned_commits;
        self.more = pass.more;
        self.stopped |= pass.stopped;
        if pass.cursor.is_some() {
            self.cursor.clone_from(&pass.cursor);
        }
    }

    /// One line for logs and a job's progress.
    pub fn summary(&self) -> String {
        format!(
            "{} blobs reviewed, {} deleted ({} bytes reclaimed), {} links removed, {} abandoned commits cleaned up",
            self.reviewed, self.blobs_deleted, self.bytes_reclaimed, self.links_removed, self.abandoned_commits
        )
    }
}

impl Registry {
    /// Announces a blob commit (see the module docs), waiting while the digest is being deleted.
    pub(crate) async fn begin_blob_commit(
        &self,
        digest: &Digest,
        upload: &str,
        backend_state: &[u8],
        delete_session: bool,
    ) -> Result<i64> {
        let started = tokio::time::Instant::now();
        loop {
            let begun = self
                .meta
                .begin_blob_commit(digest, upload, backend_state, delete_session, &self.instance, self.now())
                .await?;
            if let Some(id) = begun {
                return Ok(id);
            }
            if started.elapsed() > DELETION_WAIT {
                return Err(RegistryError::StorageUnavailable(format!(
                    "blob {digest} is being deleted by garbage collection; retry"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One collection pass at `now`: finishes deletions a crash interrupted, cleans up abandoned blob commits,
    /// then reviews up to `limit` blobs due (in digest order, after `after`: the report's `cursor` says where
    /// the next pass goes on). Stops between two items when `watch` says so (each item is done whole or not
    /// at all: a review is one transaction, a deletion's bytes go before its record).
    pub async fn gc_pass(
        &self,
        now: i64,
        after: Option<&Digest>,
        limit: u32,
        watch: &dyn RunWatch,
    ) -> Result<GcReport> {
        let mut report = GcReport::default();
        let grace = i64::try_from(self.gc.grace.as_secs()).unwrap_or(i64::MAX);
        let stop = |report: &mut GcReport| {
            report.stopped = watch.should_stop();
            report.stopped
        };

        for (digest, size) in self.meta.pending_blob_deletions(limit).await? {
            if stop(&mut report) {
                return Ok(report);
            }
            self.finish_deletion(&digest, size, &mut report).await?;
        }

        let cutoff = now.saturating_sub(self.gc.commit_timeout_secs);
        let before = if self.gc.single_process { i64::MAX } else { cutoff };
        for commit in self.meta.stale_blob_commits(before, limit).await? {
            if stop(&mut report) {
                return Ok(report);
            }
            // This process's own commits are running now unless they are very old.
            if commit.owner == *self.instance && commit.started_at >= cutoff {
                continue;
            }
            // The session's bytes, if the crash came before they moved (idempotent).
            let _ = self.blobs.cancel_upload(&commit.upload, &commit.backend_state).await;
            if self.meta.drop_stale_commit(commit.id, now).await? {
                self.finish_deletion(&commit.digest, 0, &mut report).await?;
            }
            report.abandoned_commits += 1;
        }

        let protected = self.vulndb_setting_blob().await;
        let mut due = self.meta.gc_due(now, after, limit.saturating_add(1)).await?;
        report.more = due.len() > limit as usize;
        due.truncate(limit as usize);
        for batch in due.chunks(REVIEWS_AT_ONCE) {
            if stop(&mut report) {
                return Ok(report);
            }
            let reviews = batch.iter().map(|digest| self.review(digest, now, grace, protected.as_ref()));
            for (digest, review) in batch.iter().zip(futures_util::future::join_all(reviews).await) {
                let (unlinked, deleted) = review?;
                report.reviewed += 1;
                report.cursor = Some(digest.clone());
                report.links_removed += unlinked;
                if let Some(size) = deleted {
                    report.blobs_deleted += 1;
                    report.bytes_reclaimed += size;
                }
            }
        }
        Ok(report)
    }

    /// Reviews one blob and deletes its bytes if the review removed its row: the links removed, and the size
    /// deleted.
    async fn review(
        &self,
        digest: &Digest,
        now: i64,
        grace: i64,
        protected: Option<&Digest>,
    ) -> Result<(u64, Option<u64>)> {
        Ok(match self.meta.gc_review(digest, now, grace, protected).await? {
            Review::Skipped => (0, None),
            Review::Kept { unlinked } => (unlinked, None),
            Review::Delete { size, unlinked } => {
                self.delete_bytes(digest, size).await?;
                (unlinked, Some(size))
            }
        })
    }

    /// Gives up blob commit `id` of `digest` whose link was refused: its bytes are deleted now unless a blob row
    /// (another push's) names them.
    pub(crate) async fn abandon_commit(&self, id: i64, digest: &Digest) -> Result<()> {
        if self.meta.drop_stale_commit(id, self.now()).await? {
            self.delete_bytes(digest, 0).await?;
        }
        Ok(())
    }

    /// Deletes the bytes of a blob whose row is gone, then forgets the deletion.
    async fn finish_deletion(&self, digest: &Digest, size: u64, report: &mut GcReport) -> Result<()> {
        self.delete_bytes(digest, size).await?;
        report.blobs_deleted += 1;
        report.bytes_reclaimed += size;
        Ok(())
    }

    async fn delete_bytes(&self, digest: &Digest, size: u64) -> Result<()> {
        self.blobs.delete(digest).await?;
        self.meta.finish_blob_deletion(digest, size).await?;
        tracing::debug!(%digest, size, "garbage collection deleted a blob");
        Ok(())
    }

    /// A whole collection: passes of up to `limit` blobs sweep the review queue once, in digest order, judging
    /// every blob at the collection's start time (so it ends even while pushes keep queueing blobs: what is
    /// queued behind its sweep, or becomes due after its start, is the next collection's). Records its start
    /// and end and reports progress to `watch` after each pass. A collection `watch` stops ends early (its
    /// report says `stopped`) and serves no request.
    pub async fn gc_run(&self, limit: u32, watch: &dyn RunWatch) -> Result<GcReport> {
        let start = self.now();
        let serving = self.meta.gc_run_started(start).await?;
        let due = self.meta.gc_status(start).await?.due;
        let mut total = GcReport::default();
        loop {
            let pass = self.gc_pass(start, total.cursor.as_ref(), limit, watch).await?;
            total.add(&pass);
            watch.report(total.reviewed, Some(due.max(total.reviewed)), total.summary()).await;
            if pass.stopped || !pass.more {
                break;
            }
        }
        let served = if total.stopped { 0 } else { serving };
        self.meta.gc_run_finished(self.now(), served).await?;
        Ok(total)
    }

    pub async fn gc_status(&self) -> Result<GcStatus> {
        Ok(self.meta.gc_status(self.now()).await?)
    }

    pub fn gc_settings(&self) -> GcSettings {
        self.gc
    }

    /// Sets the collector's settings (at start-up).
    pub fn with_gc_settings(mut self, settings: GcSettings) -> Self {
        self.gc = settings;
        self
    }
}
