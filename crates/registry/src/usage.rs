//! What the registry stores and moves, per repository and over time (the usage report). Transfer is
//! counted as it happens ([`crate::PullRecorder`]); storage is snapshotted by [`Registry::record_storage`],
//! which the server calls every hour, into one row per repository and day.

use berth_meta::{DAY, RepositoryUsage, UsageDay};
use berth_oci::RepositoryName;

use crate::repositories::Paged;
use crate::{Registry, Result};

impl Registry {
    /// Snapshots every repository's storage as today's figures.
    pub async fn record_storage(&self) -> Result<()> {
        Ok(self.meta.record_storage(self.now()).await?)
    }

    /// Storage and transfer of existing repositories in lexical order, strictly after `after`, `n` at most.
    pub async fn repository_usage(&self, after: Option<&str>, n: u32) -> Result<Paged<RepositoryUsage>> {
        let page = berth_meta::Page { last: after, n: n.saturating_add(1) };
        let mut entries = self.meta.repository_usage(page).await?;
        let more = entries.len() > n as usize;
        entries.truncate(n as usize);
        Ok(Paged { entries, more })
    }

    /// The last `days` days (today included), oldest first, of `repo` or of every repository; a day without
    /// a row reads as zeros and no storage figure.
    pub async fn usage_days(&self, repo: Option<&RepositoryName>, days: u32) -> Result<Vec<UsageDay>> {
        let today = self.now() - self.now().rem_euclid(DAY);
        let since = today - i64::from(days.saturating_sub(1)) * DAY;
        let rows = self.meta.usage_days(repo, since).await?;
        Ok((0..i64::from(days))
            .map(|i| since + i * DAY)
            .map(|day| rows.iter().find(|r| r.day == day).cloned().unwrap_or(UsageDay { day, ..Default::default() }))
            .collect())
    }

    /// Every stored blob, each once: (count, bytes) — what the blob store holds for the registry's content.
    pub async fn blob_totals(&self) -> Result<(u64, u64)> {
        Ok(self.meta.blob_totals().await?)
    }
}
