//! Periodic work: "daily per repository", "every N minutes". Each period's jobs are queued at most once per
//! (kind, key) whichever node notices the period first: a job created since the period began (any state)
//! means it was already queued. Periods are aligned on multiples of their length since the Unix epoch, so
//! every node agrees on when one begins.

use async_trait::async_trait;

use super::JobSpec;
use crate::{Registry, Result};

/// Work queued once per period. Registered with [`Registry::schedule_jobs`].
#[async_trait]
pub trait Periodic: Send + Sync + 'static {
    /// For logs.
    fn name(&self) -> &str;
    /// The period in seconds (`86400`: each UTC day).
    fn every_secs(&self) -> i64;
    /// The jobs of the period that began at `period_start` (e.g. one per repository). Called once per period
    /// on each node; queueing them twice is harmless.
    async fn due(&self, registry: &Registry, period_start: i64) -> Result<Vec<JobSpec>>;
}

/// One job every period (e.g. a garbage collection every 10 minutes).
pub struct Every {
    pub spec: JobSpec,
    pub every_secs: i64,
}

#[async_trait]
impl Periodic for Every {
    fn name(&self) -> &str {
        &self.spec.kind
    }

    fn every_secs(&self) -> i64 {
        self.every_secs
    }

    async fn due(&self, _registry: &Registry, _period_start: i64) -> Result<Vec<JobSpec>> {
        Ok(vec![self.spec.clone()])
    }
}

/// The start of the period of `every_secs` that `now` falls in.
pub(super) fn period_start(now: i64, every_secs: i64) -> i64 {
    now - now.rem_euclid(every_secs.max(1))
}

impl Registry {
    /// Queues the jobs of `schedule` for the period `now` falls in (none already queued in it). Returns how
    /// many it queued. Called by the workers' upkeep when a period begins; tests call it after moving time.
    pub async fn queue_scheduled(&self, schedule: &dyn Periodic) -> Result<usize> {
        let now = self.now();
        let start = period_start(now, schedule.every_secs());
        let mut queued = 0;
        for spec in schedule.due(self, start).await? {
            let new = spec.to_new(now, Some(start));
            if matches!(self.meta.enqueue_job(&new, now).await?, berth_meta::jobs::Enqueued::Created(_)) {
                queued += 1;
            }
        }
        if queued > 0 {
            self.jobs.wakeup.notify_one();
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn periods_align_on_multiples() {
        assert_eq!(super::period_start(86400 * 3 + 5, 86400), 86400 * 3);
        assert_eq!(super::period_start(600, 600), 600);
        assert_eq!(super::period_start(599, 600), 0);
        assert_eq!(super::period_start(7, 0), 7, "a zero period is one second");
    }
}
