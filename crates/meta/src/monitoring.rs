//! Figures for monitoring (`/metrics`): how many jobs of each kind are in each state, and how busy the
//! connection pools are. Read at scrape time, never on a request's path.

use async_trait::async_trait;

use crate::jobs::JobState;
use crate::{MetaError, Result};

/// Jobs of one kind in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub state: JobState,
    pub jobs: u64,
}

/// One connection pool of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    /// `writer` and `reader` (SQLite), `main` (PostgreSQL).
    pub pool: &'static str,
    /// Open connections, idle ones included.
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

#[async_trait]
pub trait MonitoringStore: Send + Sync {
    /// Every (kind, state) with at least one job, in kind then state order.
    async fn job_counts(&self) -> Result<Vec<JobCount>>;
    /// This process's connection pools, as they are now.
    fn pool_usage(&self) -> Vec<PoolUsage>;
}

pub(crate) fn job_count(kind: String, state: &str, jobs: i64) -> Result<JobCount> {
    let state = JobState::parse(state).ok_or_else(|| MetaError::Corrupt(format!("jobs.state {state}")))?;
    Ok(JobCount { kind, state, jobs: jobs.max(0) as u64 })
}

pub(crate) fn usage<DB: sqlx::Database>(pool: &'static str, p: &sqlx::Pool<DB>) -> PoolUsage {
    let idle = u32::try_from(p.num_idle()).unwrap_or(u32::MAX);
    PoolUsage { pool, open: p.size(), idle, max: p.options().get_max_connections() }
}
