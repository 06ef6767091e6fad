//! What a kind of job implements, and what it is given while it runs.

use async_trait::async_trait;
use berth_meta::jobs::{Job, JobProgress};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::{Registry, RegistryError};

/// Runs the jobs of one kind. Registered with [`Registry::register_job_handler`].
///
/// `run` may be called more than once for one job: after a failure (a retry), or on another node when the
/// node running it died (its lease lapsed). Handlers are therefore idempotent: they re-check what they act
/// on rather than trusting the payload blindly.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The kind of job it runs (`scan`, `lifecycle`, ...).
    fn kind(&self) -> &'static str;

    /// Runs one attempt at `job`. `Ok` ends it `succeeded`; an error is retried (after a backoff) while the
    /// job has attempts left, unless it is [`JobError::fatal`]. Long runs report progress and stop when
    /// [`JobCtx::is_cancelled`].
    async fn run(&self, job: &Job, ctx: &JobCtx) -> Result<JobOutcome, JobError>;

    /// Called once when the job ended without succeeding — cancelled (queued or running), failed for good,
    /// or abandoned by a worker that died on its last attempt — with why (`"cancelled"` or the error). For
    /// state the handler keeps outside the job (a scan's status). Default: nothing.
    async fn abandoned(&self, _registry: &Registry, _job: &Job, _why: &str) {}

    /// Seconds to wait after failed attempt number `attempt` (1 for the first). Default: [`super::backoff`].
    fn retry_after(&self, _registry: &Registry, attempt: u32) -> i64 {
        super::backoff(attempt)
    }
}

/// What a successful run reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOutcome {
    /// Shown by `berth jobs show` (text or JSON).
    pub result: Option<String>,
}

impl JobOutcome {
    pub fn done() -> JobOutcome {
        JobOutcome { result: None }
    }

    pub fn with_result(result: impl Into<String>) -> JobOutcome {
        JobOutcome { result: Some(result.into()) }
    }

    /// A result serialised as JSON.
    pub fn json(result: &impl serde::Serialize) -> JobOutcome {
        JobOutcome { result: serde_json::to_string(result).ok() }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    pub message: String,
    /// Whether another attempt may succeed.
    pub retry: bool,
}

impl JobError {
    /// A failure another attempt may cure (an unavailable store, a conflict).
    pub fn retry(message: impl Into<String>) -> JobError {
        JobError { message: message.into(), retry: true }
    }

    /// A failure no retry cures (a bad payload, an invalid input): the job ends `failed` now.
    pub fn fatal(message: impl Into<String>) -> JobError {
        JobError { message: message.into(), retry: false }
    }
}

impl From<RegistryError> for JobError {
    fn from(e: RegistryError) -> JobError {
        JobError::retry(e.to_string())
    }
}

impl From<berth_meta::MetaError> for JobError {
    fn from(e: berth_meta::MetaError) -> JobError {
        JobError::from(RegistryError::from(e))
    }
}

/// What a running handler is given: the registry, progress reporting, cancellation.
pub struct JobCtx {
    pub(super) registry: Registry,
    pub(super) job_id: i64,
    pub(super) owner: String,
    pub(super) cancel: CancellationToken,
}

impl JobCtx {
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry's clock.
    pub fn now(&self) -> i64 {
        self.registry.now()
    }

    /// Whether the job was asked to stop (cancelled), or is no longer this worker's (its lease was taken
    /// over). A handler that sees it returns soon; what it returns is then recorded as `cancelled`.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when [`is_cancelled`](Self::is_cancelled) becomes true (for `select!` around long waits).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// An error to return when [`is_cancelled`](Self::is_cancelled): the job ends `cancelled`.
    pub fn cancelled_error(&self) -> JobError {
        JobError::fatal("cancelled")
    }

    /// Records how far the job got (`berth jobs show` prints it). Advisory: a failure to record it is
    /// logged, not returned.
    pub async fn progress(&self, done: u64, total: Option<u64>, message: impl Into<String>) {
        let progress = JobProgress { done, total, message: Some(message.into()) };
        let now = self.registry.now();
        if let Err(e) = self.registry.meta.job_progress(self.job_id, &self.owner, &progress, now).await {
            tracing::debug!(job = self.job_id, error = %e, "recording job progress failed");
        }
    }
}

/// A job's payload decoded; a payload that does not decode is a fatal error (no retry fixes it).
pub fn parse_payload<T: DeserializeOwned>(job: &Job) -> Result<T, JobError> {
    serde_json::from_str(&job.payload)
        .map_err(|e| JobError::fatal(format!("job {} ({}): payload does not decode: {e}", job.id, job.kind)))
}
