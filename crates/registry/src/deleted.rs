//! Soft delete: with a window (`BERTH_SOFT_DELETE_WINDOW`, the binary's default 7 days), every delete path —
//! `/v2` manifest deletes by digest, ECR's `BatchDeleteImage` and `DeleteRepository`, the console, lifecycle
//! expiry — keeps what it deleted restorable until the window has passed (see [`berth_meta::deleted`]); a
//! periodic `purge-deleted` job then deletes it for good, which hands its blobs to garbage collection. A zero
//! window deletes at once, as before.
//!
//! Quotas count live content only: a soft delete frees quota at once (its bytes stay on disk until purged,
//! and show in the registry's storage figures as held by deleted images).

use std::time::Duration;

use async_trait::async_trait;
use berth_meta::deleted::{
    DeletedImage, DeletedRepository, Purged, RepositoryRestored, RestoreRefusal, Retention, TagsRestored,
};
use berth_meta::jobs::Job;
use berth_meta::settings::ImageDeletion;
use berth_meta::{MetaError, Untagging};
use berth_oci::{Digest, RepositoryName, Tag};

use crate::jobs::{Every, JobCtx, JobError, JobHandler, JobOutcome, JobSpec};
use crate::{Registry, RegistryError, Result};

/// The job kind that purges tombstones whose window has passed.
pub const PURGE_KIND: &str = "purge-deleted";
/// How often each node's upkeep queues a purge (one per period for the whole registry).
pub const PURGE_EVERY_SECS: i64 = 600;

impl Registry {
    /// Sets how long a deleted image or repository stays restorable (zero: deletes are final at once).
    pub fn with_soft_delete_window(mut self, window: Duration) -> Self {
        self.soft_delete_window = window;
        self
    }

    pub fn soft_delete_window(&self) -> Duration {
        self.soft_delete_window
    }

    /// When a deletion made now is purged, or `None` when soft delete is off.
    fn retention(&self) -> Option<Retention> {
        let window = i64::try_from(self.soft_delete_window.as_secs()).unwrap_or(i64::MAX);
        (window > 0).then(|| {
            let now = self.now();
            Retention { now, purge_after: now.saturating_add(window) }
        })
    }

    /// Deletes the manifest `digest` with its tags, soft when a window is set; with `check_index`, not one an
    /// index of the repository lists. Every delete of an image goes through here.
    pub(crate) async fn remove_image(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        check_index: bool,
    ) -> Result<ImageDeletion> {
        if let Some(retention) = self.retention() {
            return Ok(self.meta.soft_delete_image(repo, digest, check_index, retention).await?);
        }
        if check_index {
            return Ok(self.meta.delete_image(repo, digest).await?);
        }
        let existed = self.meta.delete_manifest(repo, digest).await?;
        Ok(if existed { ImageDeletion::Deleted } else { ImageDeletion::NotFound })
    }

    /// Removes `tag`, and the image with its last tag (soft when a window is set).
    pub(crate) async fn remove_tag_and_last_image(&self, repo: &RepositoryName, tag: &Tag) -> Result<Untagging> {
        match self.retention() {
            Some(retention) => Ok(self.meta.soft_untag_image(repo, tag, retention).await?),
            None => Ok(self.meta.untag_image(repo, tag, true).await?),
        }
    }

    /// Deletes a repository (soft when a window is set); `None` when it does not exist.
    pub(crate) async fn remove_repository(
        &self,
        name: &RepositoryName,
        force: bool,
    ) -> Result<Option<berth_meta::settings::RepositoryRecord>, MetaError> {
        match self.retention() {
            Some(retention) => self.meta.soft_delete_repository(name, force, retention).await,
            None => self.meta.delete_repository(name, force).await,
        }
    }

    /// Images of `repo` deleted on their own and still restorable, by digest.
    pub async fn deleted_images(&self, repo: &RepositoryName) -> Result<Vec<DeletedImage>> {
        Ok(self.meta.deleted_images(repo).await?)
    }

    /// Deleted repositories still restorable, by name.
    pub async fn deleted_repositories(&self) -> Result<Vec<DeletedRepository>> {
        Ok(self.meta.deleted_repositories().await?)
    }

    /// Brings back a deleted image of `repo`: the same manifest (same digest), its blobs, and each tag no
    /// other image has taken since (those are listed as `taken`).
    pub async fn restore_image(&self, repo: &RepositoryName, digest: &Digest) -> Result<TagsRestored> {
        match self.meta.restore_image(repo, digest, self.now()).await? {
            Ok(tags) => Ok(tags),
            Err(RestoreRefusal::RepositoryDeleted) => Err(RegistryError::RestoreRefused(format!(
                "repository {repo} is deleted: restore it first (berth repo restore {repo})"
            ))),
            Err(_) => Err(RegistryError::DeletedImageUnknown(format!(
                "no deleted image {digest} in {repo} can be restored: it was never deleted, was pushed again, \
                 or its soft-delete window has passed and it was purged"
            ))),
        }
    }

    /// Brings back a deleted repository with its settings and images.
    pub async fn restore_repository(&self, name: &RepositoryName) -> Result<RepositoryRestored> {
        match self.meta.restore_repository(name, self.now()).await? {
            Ok(restored) => Ok(restored),
            Err(RestoreRefusal::NameTaken) => Err(RegistryError::RestoreRefused(format!(
                "a repository named {name} exists again; delete it before restoring the deleted one"
            ))),
            Err(_) => Err(RegistryError::DeletedRepositoryUnknown(format!(
                "no deleted repository {name} can be restored: it was never deleted, was replaced by a new \
                 repository of that name, or its soft-delete window has passed and it was purged"
            ))),
        }
    }

    /// Deletes for good what was deleted longer ago than the window (by the registry's clock).
    pub async fn purge_deleted(&self) -> Result<Purged> {
        Ok(self.meta.purge_deleted(self.now()).await?)
    }

    /// Bytes held only by deleted images (reclaimed when they are purged).
    pub async fn deleted_bytes(&self) -> Result<u64> {
        Ok(self.meta.deleted_bytes().await?)
    }

    /// Forgets a deleted repository of `name` at once (a repository created under its name replaces it).
    pub(crate) async fn forget_deleted_repository(&self, name: &RepositoryName) -> Result<bool> {
        Ok(self.meta.purge_deleted_repository(name).await?)
    }
}

/// The schedule that queues a purge every [`PURGE_EVERY_SECS`] (one job for the registry per period,
/// whichever node queues it).
pub fn purge_schedule() -> Every {
    Every { spec: JobSpec::new(PURGE_KIND, "registry", serde_json::json!({})), every_secs: PURGE_EVERY_SECS }
}

/// Told what each purge deleted (the server audits it).
#[async_trait]
pub trait PurgeObserver: Send + Sync + 'static {
    /// `purged` went at `at` (the registry's clock).
    async fn purged(&self, purged: &Purged, at: i64);
}

/// The `purge-deleted` job: deletes expired tombstones (idempotent: a second run finds nothing due).
pub struct PurgeHandler<O> {
    pub observer: O,
}

#[async_trait]
impl<O: PurgeObserver> JobHandler for PurgeHandler<O> {
    fn kind(&self) -> &'static str {
        PURGE_KIND
    }

    async fn run(&self, _job: &Job, ctx: &JobCtx) -> Result<JobOutcome, JobError> {
        let purged = ctx.registry().purge_deleted().await?;
        self.observer.purged(&purged, ctx.now()).await;
        Ok(JobOutcome::with_result(format!(
            "purged {} deleted image(s) and {} deleted repository(ies)",
            purged.images.len(),
            purged.repositories.len()
        )))
    }
}
