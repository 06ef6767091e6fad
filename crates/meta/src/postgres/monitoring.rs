use async_trait::async_trait;
use sqlx::Row;

use super::PgMeta;
use crate::Result;
use crate::monitoring::{JobCount, MonitoringStore, PoolUsage, job_count, usage};

#[async_trait]
impl MonitoringStore for PgMeta {
    async fn job_counts(&self) -> Result<Vec<JobCount>> {
        let rows = sqlx::query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| job_count(r.try_get("kind")?, r.try_get::<String, _>("state")?.as_str(), r.try_get("n")?))
            .collect()
    }

    fn pool_usage(&self) -> Vec<PoolUsage> {
        vec![usage("main", &self.pool)]
    }
}
