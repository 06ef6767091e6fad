//! The durable job queue: every kind of background work (scans, lifecycle runs, garbage collection, ...) is
//! a row of `jobs` that any node's worker may claim.
//!
//! A job is [`JobState::Queued`] until a worker claims it with a lease ([`JobStore::claim_job`]), which the
//! worker renews while it works; a job whose lease lapsed (its node died) is claimed again by another. At
//! most one live (queued or running) job exists per (kind, key). What a job's payload, result and progress
//! mean belongs to the layer above (the registry's job runtime); the rules (backoff, how many attempts) are
//! decided there too and passed in. Times are Unix seconds given by the caller.

use async_trait::async_trait;

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] =
        [JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Failed, JobState::Cancelled];

    /// The name stored and shown (`queued`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Queued or running: the job still has work ahead.
    pub fn is_live(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Which handler runs it (`scan`, `lifecycle`, ...).
    pub kind: String,
    /// What it is about (a repository, an image); one live job per (kind, key).
    pub key: String,
    /// What the handler needs (JSON text).
    pub payload: String,
    pub max_attempts: u32,
    /// Not claimed before this time.
    pub run_after: i64,
    /// Not queued at all if a job of the same (kind, key) was created at or after this time, whatever its
    /// state: "at most once per period" for periodic work.
    pub unless_created_since: Option<i64>,
}

/// What [`JobStore::enqueue_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job with this id.
    Created(i64),
    /// A live job of the same (kind, key) exists (its `run_after` was moved earlier if the new one was
    /// due sooner).
    Existing(i64),
    /// A job of the same (kind, key) was created since [`NewJob::unless_created_since`].
    Skipped,
}

impl Enqueued {
    /// The job's id (`None` when skipped).
    pub fn id(self) -> Option<i64> {
        match self {
            Enqueued::Created(id) | Enqueued::Existing(id) => Some(id),
            Enqueued::Skipped => None,
        }
    }
}

/// How far a running job got, as its handler last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobProgress {
    pub done: u64,
    pub total: Option<u64>,
    pub message: Option<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: String,
    pub state: JobState,
    /// How many times a worker claimed it (a claim taken over after a crash counts too).
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_after: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// When a cancellation was asked for a running job (its worker stops it).
    pub cancel_requested_at: Option<i64>,
    pub progress: Option<JobProgress>,
    /// What a succeeded job reported (text or JSON, the handler's choice).
    pub result: Option<String>,
    /// The last failure (kept while a retry is queued).
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Which jobs [`JobStore::list_jobs`] returns: newest first, ids below `before` when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub kind: Option<String>,
    pub state: Option<JobState>,
    pub key: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The lease is extended.
    Held,
    /// The lease is extended, and a cancellation was asked: the worker should stop.
    CancelRequested,
    /// The job is no longer this worker's (its lease lapsed and another took it, or it ended).
    Lost,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    Succeeded {
        result: Option<String>,
    },
    /// Queued again, not before `run_after`, keeping `error`.
    Retry {
        error: String,
        run_after: i64,
    },
    Failed {
        error: String,
    },
    Cancelled {
        error: Option<String>,
    },
}

/// What [`JobStore::cancel_job`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelling {
    /// It was queued: now cancelled (no handler saw it).
    Cancelled(Job),
    /// It is running: its worker is asked to stop (it ends `cancelled` once it has).
    Requested(Job),
    /// It had already ended; nothing changed.
    Finished(Job),
    NotFound,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Queues `job` unless a live job of its (kind, key) exists or [`NewJob::unless_created_since`] says it
    /// already ran.
    async fn enqueue_job(&self, job: &NewJob, now: i64) -> Result<Enqueued>;
    /// Claims for `owner`, until `lease_until`, the job due first among `kinds`: queued with `run_after <=
    /// now`, or running with a lapsed lease and attempts left (not asked to cancel). Counts an attempt.
    async fn claim_job(&self, kinds: &[&str], owner: &str, now: i64, lease_until: i64) -> Result<Option<Job>>;
    /// Extends `owner`'s lease on job `id`.
    async fn renew_job(&self, id: i64, owner: &str, now: i64, lease_until: i64) -> Result<Renewal>;
    /// Records the progress of `owner`'s running job `id`; `false` if it is not its own. Not guaranteed
    /// durable (advisory).
    async fn job_progress(&self, id: i64, owner: &str, progress: &JobProgress, now: i64) -> Result<bool>;
    /// Ends `owner`'s attempt at job `id`; `false` (nothing changed) if the job is no longer its own.
    async fn finish_job(&self, id: i64, owner: &str, end: &JobEnd, now: i64) -> Result<bool>;
    /// Cancels a queued job, or asks the worker of a running one to stop.
    async fn cancel_job(&self, id: i64, now: i64) -> Result<Cancelling>;
    /// Ends running jobs whose lease lapsed that cannot be claimed again: `cancelled` if a cancellation was
    /// asked, `failed` when out of attempts. Returns them as they ended.
    async fn expire_jobs(&self, now: i64) -> Result<Vec<Job>>;
    /// Ends every lease still held on a running job by an owner not starting with `keep_prefix` (their jobs
    /// are claimable at once, as if each lease had lapsed): for a store only one process uses, whose earlier
    /// process died holding them. Returns how many.
    async fn release_job_leases(&self, keep_prefix: &str, now: i64) -> Result<u64>;
    async fn job(&self, id: i64) -> Result<Option<Job>>;
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>>;
    /// Deletes jobs that ended before `finished_before`; returns how many.
    async fn prune_jobs(&self, finished_before: i64) -> Result<u64>;
}
