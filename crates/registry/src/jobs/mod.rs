//! The job runtime: one durable queue ([`berth_meta::jobs`]) and one worker runtime on every node for every
//! kind of background work — scans, lifecycle runs and previews, garbage collection; archive and restore
//! next.
//!
//! - A kind is a [`JobHandler`] registered on the [`Registry`] ([`Registry::register_job_handler`]) before
//!   the workers start; work is queued with [`Registry::enqueue_job`] and a [`JobSpec`] (kind, key,
//!   JSON payload, when). One live job per (kind, key): queueing work already queued finds that job.
//! - [`start_workers`] runs N slots on this node; each claims the job due first among the kinds it has
//!   handlers for, with a lease it renews while the handler runs. A node that dies leaves its jobs to be
//!   taken over by any other once their leases lapse. Nothing lives only in one process's memory.
//! - A handler's error is retried with exponential backoff ([`backoff`]) up to the job's `max_attempts`,
//!   then the job ends `failed` with the error; [`JobError::fatal`] ends it at once.
//! - [`Registry::cancel_job`] cancels a queued job, or asks the running one to stop: its handler sees it in
//!   [`JobCtx::is_cancelled`] (at once on this node, within a renewal on another).
//! - Periodic work ([`Periodic`], [`Registry::schedule_jobs`]) is queued at most once per period and key,
//!   whichever node notices the period first.
//!
//! Time comes from the registry's clock; only the pauses between polls are real time.

mod backoff;
mod handler;
mod runtime;
mod schedule;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use backoff::backoff;
use berth_meta::jobs::{Cancelling, NewJob};
pub use berth_meta::jobs::{Enqueued, Job, JobFilter, JobProgress, JobState};
pub use handler::{JobCtx, JobError, JobHandler, JobOutcome, parse_payload};
pub use runtime::{WorkerOptions, start_workers};
pub use schedule::{Every, Periodic};
pub use watch::RunWatch;

use crate::{Registry, Result};

/// How many times a job is tried unless its spec says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Work to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Which handler runs it.
    pub kind: String,
    /// What it is about (a repository name, an image); one live job per (kind, key).
    pub key: String,
    /// What the handler needs, as JSON.
    pub payload: serde_json::Value,
    /// Not before this time (Unix seconds); now when `None`.
    pub run_after: Option<i64>,
    pub max_attempts: u32,
}

impl JobSpec {
    pub fn new(kind: impl Into<String>, key: impl Into<String>, payload: impl Serialize) -> JobSpec {
        JobSpec {
            kind: kind.into(),
            key: key.into(),
            payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
            run_after: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    pub fn run_after(mut self, at: i64) -> JobSpec {
        self.run_after = Some(at);
        self
    }

    pub fn max_attempts(mut self, n: u32) -> JobSpec {
        self.max_attempts = n.max(1);
        self
    }

    pub(crate) fn to_new(&self, now: i64, unless_created_since: Option<i64>) -> NewJob {
        NewJob {
            kind: self.kind.clone(),
            key: self.key.clone(),
            payload: self.payload.to_string(),
            max_attempts: self.max_attempts.max(1),
            run_after: self.run_after.unwrap_or(now),
            unless_created_since,
        }
    }
}

/// The registry's side of the runtime: handlers and schedules registered, this node's running jobs (to
/// cancel them at once), and the wake-up of idle workers when this node queues work.
#[derive(Clone, Default)]
pub(crate) struct Jobs {
    handlers: Arc<RwLock<HashMap<String, Arc<dyn JobHandler>>>>,
    schedules: Arc<RwLock<Vec<Arc<dyn Periodic>>>>,
    running: Arc<Mutex<HashMap<i64, CancellationToken>>>,
    wakeup: Arc<tokio::sync::Notify>,
}

impl Jobs {
    pub(crate) fn handler(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.read().unwrap_or_else(|p| p.into_inner()).get(kind).cloned()
    }

    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.handlers.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        kinds.sort();
        kinds
    }

    fn schedules(&self) -> Vec<Arc<dyn Periodic>> {
        self.schedules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, CancellationToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Registry {
    /// Wakes an idle worker of this node: a job was just queued.
    pub(crate) fn job_queued(&self) {
        self.jobs.wakeup.notify_one();
    }

    /// Registers the handler of a kind of job (replacing an earlier one of that kind). Workers claim only
    /// the kinds registered on their node.
    pub fn register_job_handler(&self, handler: Arc<dyn JobHandler>) {
        let kind = handler.kind().to_string();
        self.jobs.handlers.write().unwrap_or_else(|p| p.into_inner()).insert(kind, handler);
    }

    /// Registers periodic work; the workers' upkeep queues it once per period.
    pub fn schedule_jobs(&self, schedule: Arc<dyn Periodic>) {
        self.jobs.schedules.write().unwrap_or_else(|p| p.into_inner()).push(schedule);
    }

    /// Queues `spec`, or finds the live job of its (kind, key) (brought forward if `spec` is due sooner).
    pub async fn enqueue_job(&self, spec: &JobSpec) -> Result<Enqueued> {
        let enqueued = self.meta.enqueue_job(&spec.to_new(self.now(), None), self.now()).await?;
        if matches!(enqueued, Enqueued::Created(_)) {
            self.jobs.wakeup.notify_one();
        }
        Ok(enqueued)
    }

    /// Queues `spec` unless a job of its (kind, key) was queued in the current period of `every_secs`
    /// (periods are aligned on multiples of it since the Unix epoch: `86400` is "once per UTC day").
    /// [`Enqueued::Skipped`] when it already was.
    pub async fn enqueue_job_once_per(&self, spec: &JobSpec, every_secs: i64) -> Result<Enqueued> {
        let now = self.now();
        let start = schedule::period_start(now, every_secs);
        let enqueued = self.meta.enqueue_job(&spec.to_new(now, Some(start)), now).await?;
        if matches!(enqueued, Enqueued::Created(_)) {
            self.jobs.wakeup.notify_one();
        }
        Ok(enqueued)
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        Ok(self.meta.job(id).await?)
    }

    /// Jobs newest first (see [`JobFilter`]).
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        Ok(self.meta.list_jobs(filter).await?)
    }

    /// Cancels job `id`: a queued job ends `cancelled` at once; a running one is asked to stop (its handler
    /// sees it at once on this node, within a lease renewal on another) and ends `cancelled` when it has. A
    /// finished job is returned unchanged; `None` if there is no such job.
    pub async fn cancel_job(&self, id: i64) -> Result<Option<Job>> {
        Ok(match self.meta.cancel_job(id, self.now()).await? {
            Cancelling::Cancelled(job) => {
                if let Some(handler) = self.jobs.handler(&job.kind) {
                    handler.abandoned(self, &job, "cancelled").await;
                }
                Some(job)
            }
            Cancelling::Requested(job) => {
                if let Some(token) = self.jobs.running().get(&id) {
                    token.cancel();
                }
                Some(job)
            }
            Cancelling::Finished(job) => Some(job),
            Cancelling::NotFound => None,
        })
    }

    /// Waits until job `id` has ended (checking every `poll`), or `timeout`; returns it as last read
    /// (`None` if there is no such job). For `--wait` options.
    pub async fn wait_for_job(
        &self,
        id: i64,
        poll: std::time::Duration,
        timeout: std::time::Duration,
    ) -> Result<Option<Job>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let job = self.meta.job(id).await?;
            match &job {
                Some(j) if j.state.is_live() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(poll).await
                }
                _ => return Ok(job),
            }
        }
    }
}
