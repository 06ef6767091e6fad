//! Figures for monitoring, read when `/metrics` is scraped.

use berth_meta::monitoring::{JobCount, PoolUsage};

use crate::{Registry, Result};

impl Registry {
    /// Jobs of every kind by state (kinds with no job are absent).
    pub async fn job_counts(&self) -> Result<Vec<JobCount>> {
        Ok(self.meta.job_counts().await?)
    }

    /// The metadata store's connection pools in this process.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        self.meta.pool_usage()
    }
}
