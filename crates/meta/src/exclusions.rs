//! Pull time update exclusions: principals whose pulls do not update a manifest's `last_pulled_at` (ECR's
//! `RegisterPullTimeUpdateExclusion`), for the whole registry. A principal is named by its ARN as the
//! registry's policies name it; the store keeps the names and does not interpret them.

use async_trait::async_trait;

use crate::Result;

/// One excluded principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullTimeExclusion {
    pub principal_arn: String,
    pub created_at: i64,
}

#[async_trait]
pub trait PullExclusionStore: Send + Sync {
    /// Excludes `principal_arn` from pull time updates. `AlreadyExists` if it is excluded already;
    /// `LimitExceeded` (and no change) when `max` principals are excluded already — checked in the same
    /// transaction.
    async fn register_pull_exclusion(&self, principal_arn: &str, now: i64, max: usize) -> Result<PullTimeExclusion>;
    /// Ends the exclusion of `principal_arn`; `false` when it was not excluded.
    async fn deregister_pull_exclusion(&self, principal_arn: &str) -> Result<bool>;
    /// Excluded principals in lexical order of ARN, strictly after `after`, at most `n`.
    async fn list_pull_exclusions(&self, after: Option<&str>, n: u32) -> Result<Vec<PullTimeExclusion>>;
}
