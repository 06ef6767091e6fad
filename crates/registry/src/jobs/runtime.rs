//! The workers of one node: N slots that claim and run jobs, and an upkeep loop that ends jobs abandoned by
//! dead workers, prunes old finished jobs and queues periodic work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use berth_meta::jobs::{Job, JobEnd, Renewal};
use futures_util::FutureExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::handler::{JobCtx, JobError, JobHandler};
use super::schedule::period_start;
use crate::Registry;

/// How a node runs jobs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once on this node; 0: it runs none (it still queues jobs and keeps the upkeep).
    pub slots: usize,
    /// Names this node's claims (with the slot number appended); unique per process.
    pub node: String,
    /// How long a claim holds without renewal (registry clock seconds).
    pub lease_secs: i64,
    /// How often a running job's lease is renewed (and its cancellation looked for).
    pub renew_every: Duration,
    /// How often an idle slot looks for work queued by other nodes or come due.
    pub poll_every: Duration,
    /// How often the upkeep runs (abandoned jobs, schedules).
    pub upkeep_every: Duration,
    /// How long finished jobs are kept (registry clock seconds).
    pub retention_secs: i64,
    /// Only this process uses the metadata store (SQLite): a job still running under another owner was
    /// left by a process that died, and is taken over at start instead of when its lease lapses.
    pub single_process: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            slots: 2,
            node: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            lease_secs: 90,
            renew_every: Duration::from_secs(10),
            poll_every: Duration::from_secs(1),
            upkeep_every: Duration::from_secs(15),
            retention_secs: 7 * 86400,
            single_process: false,
        }
    }
}

/// Longest pause of a slot or the upkeep while the metadata store fails.
const MAX_PAUSE: Duration = Duration::from_secs(30);

fn pause(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(MAX_PAUSE)
}

/// Starts this node's job slots and upkeep; abort the handles to stop them (a job cut short is taken over
/// by another node when its lease lapses, or by this one after a restart).
pub fn start_workers(registry: &Registry, options: WorkerOptions) -> Vec<JoinHandle<()>> {
    let options = Arc::new(options);
    let mut handles: Vec<JoinHandle<()>> = (0..options.slots)
        .map(|slot| tokio::spawn(slot_loop(registry.clone(), options.clone(), format!("{}/{slot}", options.node))))
        .collect();
    handles.push(tokio::spawn(upkeep_loop(registry.clone(), options)));
    handles
}

async fn slot_loop(registry: Registry, options: Arc<WorkerOptions>, owner: String) {
    let mut failures = 0u32;
    loop {
        match registry.run_next_job(&owner, &options).await {
            Ok(true) => failures = 0,
            Ok(false) => {
                failures = 0;
                let _ = tokio::time::timeout(options.poll_every, registry.jobs.wakeup.notified()).await;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures, "claiming a job failed");
                }
                tokio::time::sleep(pause(failures)).await;
            }
        }
    }
}

async fn upkeep_loop(registry: Registry, options: Arc<WorkerOptions>) {
    // The period each schedule was last queued for, by position.
    let mut queued_for: Vec<Option<i64>> = Vec::new();
    let mut last_prune = None::<tokio::time::Instant>;
    if options.single_process {
        // Owners are `{node}/{slot}`: the slash keeps `...#12` from matching `...#123`'s claims.
        match registry.meta.release_job_leases(&format!("{}/", options.node), registry.now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(jobs = n, "taking over jobs a stopped process was running");
                registry.jobs.wakeup.notify_waiters();
            }
            Err(e) => tracing::warn!(error = %e, "taking over jobs a stopped process was running failed"),
        }
    }
    loop {
        if let Err(e) = registry.end_abandoned_jobs().await {
            tracing::warn!(error = %e, "ending abandoned jobs failed");
        }
        let schedules = registry.jobs.schedules();
        queued_for.resize(schedules.len(), None);
        for (schedule, last) in schedules.iter().zip(queued_for.iter_mut()) {
            let start = period_start(registry.now(), schedule.every_secs());
            if *last == Some(start) {
                continue;
            }
            match registry.queue_scheduled(schedule.as_ref()).await {
                Ok(n) => {
                    *last = Some(start);
                    if n > 0 {
                        tracing::info!(schedule = schedule.name(), jobs = n, "queued periodic jobs");
                    }
                }
                Err(e) => tracing::warn!(schedule = schedule.name(), error = %e, "queueing periodic jobs failed"),
            }
        }
        if last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_prune = Some(tokio::time::Instant::now());
            match registry.meta.prune_jobs(registry.now() - options.retention_secs).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "pruned finished jobs"),
                Err(e) => tracing::warn!(error = %e, "pruning finished jobs failed"),
            }
        }
        tokio::time::sleep(until_next_period(&registry, &schedules, options.upkeep_every)).await;
    }
}

/// How long the upkeep sleeps: `most`, or less when a schedule's next period begins sooner (a garbage
/// collection every few seconds), measured on the registry's clock.
fn until_next_period(registry: &Registry, schedules: &[Arc<dyn super::Periodic>], most: Duration) -> Duration {
    let now = registry.now();
    schedules
        .iter()
        .map(|s| {
            let every = s.every_secs().max(1);
            Duration::from_secs((period_start(now, every) + every - now).max(1) as u64)
        })
        .fold(most, Duration::min)
}

impl Registry {
    /// Claims, as `owner`, the job due first among the kinds with a handler here, and runs it to the end of
    /// the attempt. `false` when there was nothing to do.
    pub async fn run_next_job(&self, owner: &str, options: &WorkerOptions) -> crate::Result<bool> {
        let kinds = self.jobs.kinds();
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let now = self.now();
        let Some(job) = self.meta.claim_job(&kinds, owner, now, now + options.lease_secs).await? else {
            return Ok(false);
        };
        let Some(handler) = self.jobs.handler(&job.kind) else {
            // Unregistered between listing the kinds and claiming: give it back at once.
            let end = JobEnd::Retry { error: format!("no handler for {} on {owner}", job.kind), run_after: now };
            self.meta.finish_job(job.id, owner, &end, now).await?;
            return Ok(true);
        };
        self.run_claimed(handler, job, owner, options).await;
        Ok(true)
    }

    async fn run_claimed(&self, handler: Arc<dyn JobHandler>, job: Job, owner: &str, options: &WorkerOptions) {
        let cancel = CancellationToken::new();
        self.jobs.running().insert(job.id, cancel.clone());
        let lost = Arc::new(AtomicBool::new(false));
        // Keep the lease while the handler works; a cancellation asked on any node shows up here.
        let renewer = {
            let (registry, cancel, lost, owner) = (self.clone(), cancel.clone(), lost.clone(), owner.to_string());
            let (id, lease, every) = (job.id, options.lease_secs, options.renew_every);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let now = registry.now();
                    match registry.meta.renew_job(id, &owner, now, now + lease).await {
                        Ok(Renewal::Held) => {}
                        Ok(Renewal::CancelRequested) => cancel.cancel(),
                        Ok(Renewal::Lost) => {
                            lost.store(true, Ordering::SeqCst);
                            cancel.cancel();
                            break;
                        }
                        Err(e) => tracing::warn!(job = id, error = %e, "renewing a job's lease failed"),
                    }
                }
            })
        };
        let ctx = JobCtx { registry: self.clone(), job_id: job.id, owner: owner.to_string(), cancel: cancel.clone() };
        let started = std::time::Instant::now();
        let outcome = std::panic::AssertUnwindSafe(handler.run(&job, &ctx))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(JobError::retry(format!("the {} handler panicked", job.kind))));
        renewer.abort();
        self.jobs.running().remove(&job.id);
        if lost.load(Ordering::SeqCst) {
            tracing::warn!(job = job.id, kind = %job.kind, "lost the job's lease while running it; its result is dropped");
            return;
        }
        let now = self.now();
        let (end, why) = match outcome {
            Ok(outcome) => (JobEnd::Succeeded { result: outcome.result }, None),
            Err(e) if cancel.is_cancelled() => {
                let error = (e.message != "cancelled").then(|| e.message.clone());
                (JobEnd::Cancelled { error }, Some("cancelled".to_string()))
            }
            Err(e) if e.retry && job.attempts < job.max_attempts => {
                let run_after = now + handler.retry_after(self, job.attempts);
                tracing::info!(job = job.id, kind = %job.kind, attempt = job.attempts, error = %e.message, run_after, "job attempt failed; retrying later");
                (JobEnd::Retry { error: e.message, run_after }, None)
            }
            Err(e) => {
                tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %e.message, "job failed");
                (JobEnd::Failed { error: e.message.clone() }, Some(e.message))
            }
        };
        record_run(&job.kind, &end, started.elapsed());
        match self.meta.finish_job(job.id, owner, &end, now).await {
            Ok(true) => match why {
                Some(why) => handler.abandoned(self, &job, &why).await,
                None if matches!(end, JobEnd::Succeeded { .. }) => {
                    tracing::info!(job = job.id, kind = %job.kind, key = %job.key, worker = owner, "job succeeded")
                }
                None => {}
            },
            Ok(false) => tracing::warn!(job = job.id, "the job was taken over before it could be recorded as ended"),
            // The lease lapses: another worker takes the job over, or the upkeep ends it.
            Err(e) => tracing::warn!(job = job.id, error = %e, "recording the end of a job failed"),
        }
    }

    /// Ends running jobs whose worker died and that cannot run again (cancelled, or out of attempts), and
    /// tells their handlers. Returns how many.
    pub async fn end_abandoned_jobs(&self) -> crate::Result<usize> {
        let ended = self.meta.expire_jobs(self.now()).await?;
        for job in &ended {
            tracing::warn!(job = job.id, kind = %job.kind, state = %job.state, "ended a job whose worker stopped");
            if let Some(handler) = self.jobs.handler(&job.kind) {
                let why = match &job.error {
                    Some(e) if job.state == berth_meta::jobs::JobState::Failed => e.clone(),
                    _ => "cancelled".to_string(),
                };
                handler.abandoned(self, job, &why).await;
            }
        }
        Ok(ended.len())
    }
}

/// Counts a run of a job on this node and how long it took (`berth_job_runs_total`,
/// `berth_job_duration_seconds`, by kind and outcome: a scan's duration is kind `scan`).
fn record_run(kind: &str, end: &JobEnd, took: std::time::Duration) {
    let outcome = match end {
        JobEnd::Succeeded { .. } => "succeeded",
        JobEnd::Retry { .. } => "retried",
        JobEnd::Failed { .. } => "failed",
        JobEnd::Cancelled { .. } => "cancelled",
    };
    let kind = kind.to_string();
    metrics::counter!("berth_job_runs_total", "kind" => kind.clone(), "outcome" => outcome).increment(1);
    metrics::histogram!("berth_job_duration_seconds", "kind" => kind, "outcome" => outcome).record(took.as_secs_f64());
}
