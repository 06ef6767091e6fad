//! Archiving and restoring images (ECR's `UpdateImageStorageClass` and the lifecycle `transition` action).
//!
//! What archive means on berth: the image's state is recorded in the metadata store (`ARCHIVED`, with when),
//! its manifest refuses pulls (`ImageArchived`) and so do the blobs only archived images use
//! (`BlobArchived`); it keeps its metadata, tags and bytes, is listed by `DescribeImages`/`ListImages` when
//! asked for archived images, and stays referenced (garbage collection keeps its blobs). The bytes are not
//! moved to another storage class: on the filesystem there is none, and on S3 the `object_store` client
//! berth uses cannot change an object's storage class in place (a copy with a new storage class would
//! re-upload every byte). Archive is therefore a state, not a cheaper place.
//!
//! A restore is asynchronous as in ECR: the image becomes `ACTIVATING` and an `image-restore` job
//! ([`RESTORE_JOB`]) checks that every blob of the image is in the blob store, then makes it `ACTIVE`
//! (setting `lastActivatedAt`). A restore that cannot complete (a blob is missing) returns the image to
//! `ARCHIVED` and the job ends failed saying which blob.

use std::sync::Arc;

use berth_meta::archive::{ImageStatus, ImageStorageState, StatusChange};
use berth_oci::{Digest, ParsedManifest, Reference, RepositoryName};
use serde::{Deserialize, Serialize};

use crate::jobs::{Job, JobCtx, JobError, JobHandler, JobOutcome, JobSpec, parse_payload};
use crate::{Registry, RegistryError, Result};

/// The kind of the restore jobs.
pub const RESTORE_JOB: &str = "image-restore";

/// The storage class an image is moved to (ECR's `TargetStorageClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetStorageClass {
    Archive,
    Standard,
}

/// What an archive or restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageClassUpdate {
    pub digest: Digest,
    /// The image's state after the call.
    pub state: ImageStorageState,
    /// Whether the call changed it (`false`: it was in that state already).
    pub changed: bool,
    /// The restore job queued (a restore that changed the state).
    pub job: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RestorePayload {
    repository: String,
    digest: String,
}

impl Registry {
    /// Archives (`Archive`) or restores (`Standard`) the image `reference` of `repo`. Archiving an
    /// archived image, or restoring one that is active or already being restored, changes nothing.
    /// Archiving an image being restored is `StorageClassUpdateNotSupported`; an unknown image
    /// `ManifestUnknown`, an unknown repository `NameUnknown`.
    pub async fn update_image_storage_class(
        &self,
        repo: &RepositoryName,
        reference: &Reference,
        target: TargetStorageClass,
    ) -> Result<StorageClassUpdate> {
        let digest = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(_) => match self.meta.get_manifest(repo, reference).await? {
                Some(m) => m.digest,
                None => return Err(self.unknown_image(repo, reference).await),
            },
        };
        match target {
            TargetStorageClass::Archive => self.archive_image(repo, &digest).await,
            TargetStorageClass::Standard => self.restore_archived_image(repo, &digest).await,
        }
    }

    async fn unknown_image(&self, repo: &RepositoryName, reference: &Reference) -> RegistryError {
        match self.repository(repo).await {
            Ok(_) => RegistryError::ManifestUnknown(reference.to_string()),
            Err(e) => e,
        }
    }

    /// Archives the manifest `digest` of `repo` (see [`Registry::update_image_storage_class`]).
    pub async fn archive_image(&self, repo: &RepositoryName, digest: &Digest) -> Result<StorageClassUpdate> {
        let change =
            self.meta.change_image_status(repo, digest, ImageStatus::Active, ImageStatus::Archived, self.now()).await?;
        match change {
            StatusChange::Changed(state) => {
                Ok(StorageClassUpdate { digest: digest.clone(), state, changed: true, job: None })
            }
            StatusChange::Unchanged(state) if state.status == ImageStatus::Archived => {
                Ok(StorageClassUpdate { digest: digest.clone(), state, changed: false, job: None })
            }
            StatusChange::Unchanged(_) => Err(RegistryError::StorageClassUpdateNotSupported(format!(
                "{repo}@{digest} is being restored (imageStatus ACTIVATING); archive it once it is ACTIVE"
            ))),
            StatusChange::NotFound => Err(self.unknown_image(repo, &Reference::Digest(digest.clone())).await),
        }
    }

    /// Starts the restore of the archived manifest `digest` of `repo`: it becomes `ACTIVATING` and a
    /// restore job is queued (see the module's documentation).
    pub async fn restore_archived_image(&self, repo: &RepositoryName, digest: &Digest) -> Result<StorageClassUpdate> {
        let change = self
            .meta
            .change_image_status(repo, digest, ImageStatus::Archived, ImageStatus::Activating, self.now())
            .await?;
        let (state, changed) = match change {
            StatusChange::Changed(state) => (state, true),
            StatusChange::Unchanged(state) => (state, false),
            StatusChange::NotFound => return Err(self.unknown_image(repo, &Reference::Digest(digest.clone())).await),
        };
        let job = if state.status == ImageStatus::Activating {
            // Queued again when unchanged: finds the live job, or replaces one lost with a failed attempt.
            let payload = RestorePayload { repository: repo.to_string(), digest: digest.to_string() };
            let spec = JobSpec::new(RESTORE_JOB, format!("{repo}@{digest}"), payload);
            self.enqueue_job(&spec).await?.id()
        } else {
            None
        };
        Ok(StorageClassUpdate { digest: digest.clone(), state, changed, job })
    }

    /// Completes the restore of `digest` of `repo`: every blob the manifest references must be in the blob
    /// store. `Ok(None)` when there is nothing to complete (not `ACTIVATING`, or gone).
    async fn complete_restore(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<String>, JobError> {
        let Some(state) = self.meta.image_storage_state(repo, digest).await? else {
            return Ok(None);
        };
        if state.status != ImageStatus::Activating {
            return Ok(None);
        }
        let Some(m) = self.meta.get_manifest(repo, &Reference::Digest(digest.clone())).await? else {
            return Ok(None);
        };
        let parsed = ParsedManifest::parse(&m.content, Some(&m.media_type))
            .map_err(|e| JobError::fatal(format!("{repo}@{digest}: the stored manifest does not parse: {e}")))?;
        for blob in parsed.referenced_blobs() {
            if self.blobs.stat(&blob.digest).await.map_err(RegistryError::from)?.is_none() {
                return Err(JobError::fatal(format!(
                    "{repo}@{digest}: blob {} is missing from the blob store; the image stays archived",
                    blob.digest
                )));
            }
        }
        let now = self.now();
        match self.meta.change_image_status(repo, digest, ImageStatus::Activating, ImageStatus::Active, now).await? {
            StatusChange::Changed(_) => Ok(Some(format!("{repo}@{digest} restored: ACTIVE"))),
            _ => Ok(None),
        }
    }
}

/// Runs the restore jobs.
pub(crate) struct RestoreHandler;

fn restore_target(job: &Job) -> Result<(RepositoryName, Digest), JobError> {
    let p: RestorePayload = parse_payload(job)?;
    let repo = p.repository.parse().map_err(|e| JobError::fatal(format!("repository {:?}: {e}", p.repository)))?;
    let digest = p.digest.parse().map_err(|e| JobError::fatal(format!("digest {:?}: {e}", p.digest)))?;
    Ok((repo, digest))
}

#[async_trait::async_trait]
impl JobHandler for RestoreHandler {
    fn kind(&self) -> &'static str {
        RESTORE_JOB
    }

    async fn run(&self, job: &Job, ctx: &JobCtx) -> Result<JobOutcome, JobError> {
        let (repo, digest) = restore_target(job)?;
        Ok(match ctx.registry().complete_restore(&repo, &digest).await? {
            Some(done) => JobOutcome::with_result(done),
            None => JobOutcome::with_result(format!("{repo}@{digest}: nothing to restore")),
        })
    }

    /// A restore that will not complete leaves the image archived, so that it may be restored again.
    async fn abandoned(&self, registry: &Registry, job: &Job, why: &str) {
        let Ok((repo, digest)) = restore_target(job) else { return };
        let back = registry
            .meta
            .change_image_status(&repo, &digest, ImageStatus::Activating, ImageStatus::Archived, registry.now())
            .await;
        match back {
            Ok(_) => tracing::warn!(repository = %repo, %digest, why, "restore abandoned; the image stays archived"),
            Err(e) => tracing::warn!(repository = %repo, %digest, error = %e, "could not return the image to ARCHIVED"),
        }
    }
}

pub(crate) fn handler() -> Arc<dyn JobHandler> {
    Arc::new(RestoreHandler)
}
