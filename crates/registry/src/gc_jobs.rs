//! Garbage collection as jobs of kind `gc`: a scheduled collection every `BERTH_GC_INTERVAL` (key
//! `scheduled`, queued once per period by whichever node notices it first) and one per request (`berth gc
//! run`, key `request-N`), so that a request is always served by a collection that started after it. Several
//! collections may run at once: each review locks its blob, a second collector skips it.

use std::sync::Arc;

use berth_meta::jobs::{JobFilter, JobState};
use serde::{Deserialize, Serialize};

use crate::jobs::{Every, Job, JobCtx, JobError, JobHandler, JobOutcome, JobSpec};
use crate::{Registry, Result};

/// The kind of the garbage collection jobs.
pub const GC_JOB: &str = "gc";
/// Blobs one pass reviews before it records progress and looks for a cancellation again.
pub const GC_PASS_LIMIT: u32 = 200;

/// What a collection job carries: the request it serves, if it was asked for.
#[derive(Debug, Default, Serialize, Deserialize)]
struct GcPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<u64>,
}

/// The periodic collection: one job every `every_secs` seconds of the registry's clock.
pub fn gc_schedule(every_secs: i64) -> Arc<Every> {
    Arc::new(Every { spec: JobSpec::new(GC_JOB, "scheduled", GcPayload::default()), every_secs: every_secs.max(1) })
}

/// A collection asked for: the request's number and the job that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcRequested {
    pub request: u64,
    pub job_id: i64,
}

impl Registry {
    /// Asks for a collection now (`berth gc run`): records the request and queues a job that serves it —
    /// a collection already queued and not started serves it too, so many requests do not pile up jobs.
    pub async fn request_gc(&self) -> Result<GcRequested> {
        let request = self.meta.request_gc(self.now()).await?;
        let queued =
            JobFilter { kind: Some(GC_JOB.into()), state: Some(JobState::Queued), limit: 1, ..Default::default() };
        if let Some(job) = self.meta.list_jobs(&queued).await?.into_iter().next() {
            return Ok(GcRequested { request, job_id: job.id });
        }
        let spec = JobSpec::new(GC_JOB, format!("request-{request}"), GcPayload { request: Some(request) });
        let job_id = self.enqueue_job(&spec).await?.id().unwrap_or_default();
        Ok(GcRequested { request, job_id })
    }
}

/// Runs `gc` jobs: a whole collection, progress after each pass, stopping between two blobs when cancelled.
/// The result is the collection's report (JSON: blobs reviewed and deleted, bytes reclaimed, ...).
pub struct GcHandler;

#[async_trait::async_trait]
impl JobHandler for GcHandler {
    fn kind(&self) -> &'static str {
        GC_JOB
    }

    async fn run(&self, _job: &Job, ctx: &JobCtx) -> std::result::Result<JobOutcome, JobError> {
        let report = ctx.registry().gc_run(GC_PASS_LIMIT, ctx).await?;
        if report.blobs_deleted > 0 || report.links_removed > 0 || report.abandoned_commits > 0 {
            tracing::info!(
                blobs = report.blobs_deleted,
                bytes = report.bytes_reclaimed,
                links = report.links_removed,
                abandoned_commits = report.abandoned_commits,
                stopped = report.stopped,
                "garbage collection reclaimed space"
            );
        }
        if report.stopped {
            return Err(JobError::fatal(format!("cancelled after {}", report.summary())));
        }
        Ok(JobOutcome::json(&report))
    }
}
