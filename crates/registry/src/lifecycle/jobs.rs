//! Lifecycle work as jobs: `lifecycle` (a run of a repository's policy, key = the repository; queued daily
//! per repository by [`LifecycleSchedule`] and on demand) and `lifecycle-preview` (the computation of a
//! preview `StartLifecyclePolicyPreview` started; the preview shows `IN_PROGRESS` until it ends).
//!
//! The `lifecycle` handler lives with whoever audits expiries (the API crate); this module owns the kind,
//! the payload and the schedule.

use std::sync::Arc;

use async_trait::async_trait;
use berth_meta::lifecycle::LifecyclePreviewRecord;
use berth_oci::RepositoryName;
use serde::{Deserialize, Serialize};

use super::run::PreviewStatus;
use crate::jobs::{Job, JobCtx, JobError, JobHandler, JobOutcome, JobSpec, Periodic, parse_payload};
use crate::{Registry, RegistryError, Result};

/// The kind of a lifecycle policy run.
pub const LIFECYCLE_JOB: &str = "lifecycle";
/// The kind of a lifecycle policy preview's computation.
pub const PREVIEW_JOB: &str = "lifecycle-preview";
/// Who the scheduled runs' expiries are audited as.
pub const SCHEDULED_PRINCIPAL: &str = "lifecycle";

/// What a `lifecycle` job carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecyclePayload {
    pub repository: String,
    /// Who asked (audited with each expiry): a caller, or `lifecycle` for the schedule.
    pub principal: String,
}

impl LifecyclePayload {
    /// The payload of `job`, with its repository parsed (a bad one is a fatal error).
    pub fn of(job: &Job) -> std::result::Result<(LifecyclePayload, RepositoryName), JobError> {
        let p: LifecyclePayload = parse_payload(job)?;
        let repo = p.repository.parse().map_err(|e| JobError::fatal(format!("lifecycle job repository: {e}")))?;
        Ok((p, repo))
    }
}

/// The run of `repo`'s policy on behalf of `principal` (one live run per repository).
pub fn lifecycle_job(repo: &RepositoryName, principal: &str) -> JobSpec {
    let payload = LifecyclePayload { repository: repo.to_string(), principal: principal.to_string() };
    JobSpec::new(LIFECYCLE_JOB, repo.to_string(), payload)
}

#[derive(Debug, Serialize, Deserialize)]
struct PreviewPayload {
    repository: String,
}

/// The computation of `repo`'s preview in progress.
pub(super) fn preview_job(repo: &RepositoryName) -> JobSpec {
    JobSpec::new(PREVIEW_JOB, repo.to_string(), PreviewPayload { repository: repo.to_string() })
}

/// Queues a run of every repository that has a lifecycle policy once per period (`--lifecycle-interval-hours`,
/// aligned on the registry clock: 24 is each UTC day). A repository whose policy ran in the period (on
/// demand) is not queued again in it; a policy set during a period first runs in the next one.
pub struct LifecycleSchedule {
    pub every_secs: i64,
}

impl LifecycleSchedule {
    pub fn every_hours(hours: u64) -> Arc<LifecycleSchedule> {
        Arc::new(LifecycleSchedule { every_secs: i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX) })
    }
}

#[async_trait]
impl Periodic for LifecycleSchedule {
    fn name(&self) -> &str {
        LIFECYCLE_JOB
    }

    fn every_secs(&self) -> i64 {
        self.every_secs
    }

    async fn due(&self, registry: &Registry, _period_start: i64) -> Result<Vec<JobSpec>> {
        let policies = registry.meta.lifecycle_policies().await?;
        Ok(policies.into_iter().map(|(repo, _)| lifecycle_job(&repo, SCHEDULED_PRINCIPAL)).collect())
    }
}

/// Runs `lifecycle-preview` jobs: computes the repository's preview in progress, if it still is.
pub struct PreviewHandler;

fn preview_target(job: &Job) -> std::result::Result<RepositoryName, JobError> {
    let p: PreviewPayload = parse_payload(job)?;
    p.repository.parse().map_err(|e| JobError::fatal(format!("lifecycle preview job repository: {e}")))
}

#[async_trait]
impl JobHandler for PreviewHandler {
    fn kind(&self) -> &'static str {
        PREVIEW_JOB
    }

    async fn run(&self, job: &Job, ctx: &JobCtx) -> std::result::Result<JobOutcome, JobError> {
        let repo = preview_target(job)?;
        let preview = match ctx.registry().lifecycle_preview(&repo).await {
            Ok(p) => p,
            Err(RegistryError::NameUnknown | RegistryError::LifecyclePreviewNotFound) => {
                return Ok(JobOutcome::with_result("the repository or its preview is gone; nothing to do"));
            }
            Err(e) => return Err(e.into()),
        };
        if preview.status != PreviewStatus::InProgress {
            return Ok(JobOutcome::with_result(format!("the preview is already {}", preview.status.as_str())));
        }
        ctx.registry().compute_lifecycle_preview(&repo, &preview).await?;
        let done = ctx.registry().lifecycle_preview(&repo).await?;
        let expiring = done.images.iter().filter(|i| i.action == "EXPIRE").count();
        Ok(JobOutcome::with_result(format!(
            "preview {}: {} image(s) acted on, {expiring} expiring",
            done.status.as_str(),
            done.images.len()
        )))
    }

    /// A preview whose job ended without computing it shows `FAILED` (rather than in progress for ever).
    async fn abandoned(&self, registry: &Registry, job: &Job, why: &str) {
        let Ok(repo) = preview_target(job) else { return };
        if let Err(e) = registry.fail_lifecycle_preview(&repo).await {
            tracing::warn!(repository = %repo, error = %e, why, "could not record the lifecycle preview as failed");
        }
    }
}

impl Registry {
    /// Records `repo`'s preview in progress as failed.
    async fn fail_lifecycle_preview(&self, repo: &RepositoryName) -> Result<()> {
        let Some(p) = self.meta.lifecycle_preview(repo).await? else { return Ok(()) };
        if p.status != PreviewStatus::InProgress.as_str() {
            return Ok(());
        }
        let record = LifecyclePreviewRecord { status: PreviewStatus::Failed.as_str().into(), result: None, ..p };
        self.meta.put_lifecycle_preview(repo, &record).await?;
        Ok(())
    }
}
