//! Lifecycle policies as stored: each repository's policy document (kept as written; berth-registry parses
//! and validates it) with when a run last evaluated it, and the repository's last preview. Both are
//! deleted with the repository.

use async_trait::async_trait;
use berth_oci::RepositoryName;

use crate::Result;

/// A repository's lifecycle policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicyRecord {
    pub text: String,
    pub updated_at: i64,
    /// When a run last evaluated it; `None` before the first run.
    pub last_evaluated_at: Option<i64>,
}

/// A repository's last lifecycle policy preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePreviewRecord {
    /// The policy the preview evaluates (the repository's, or one given for the preview only).
    pub policy_text: String,
    /// ECR's preview status (`IN_PROGRESS`, `COMPLETE`, `EXPIRED`, `FAILED`).
    pub status: String,
    pub started_at: i64,
    /// The results (a JSON document berth-registry writes), `None` while in progress.
    pub result: Option<String>,
}

#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Sets the lifecycle policy of `name` (a repository created by a push becomes explicit, as with resource
    /// tags); a policy set anew has not been evaluated. `false` when the repository does not exist.
    async fn put_lifecycle_policy(&self, name: &RepositoryName, text: &str, now: i64) -> Result<bool>;
    /// The lifecycle policy of `name`; `None` when it has none (or does not exist).
    async fn lifecycle_policy(&self, name: &RepositoryName) -> Result<Option<LifecyclePolicyRecord>>;
    /// Removes the lifecycle policy of `name` and returns it; `None` when it had none.
    async fn delete_lifecycle_policy(&self, name: &RepositoryName) -> Result<Option<LifecyclePolicyRecord>>;
    /// Records that a run evaluated the policy `text` of `name` at `at`; nothing when the repository's policy
    /// is no longer `text` (replaced or removed meanwhile).
    async fn record_lifecycle_evaluation(&self, name: &RepositoryName, text: &str, at: i64) -> Result<()>;
    /// Every repository with a lifecycle policy, with when it was last evaluated, in lexical order.
    async fn lifecycle_policies(&self) -> Result<Vec<(RepositoryName, Option<i64>)>>;
    /// Replaces the last preview of `name`. `false` when the repository does not exist.
    async fn put_lifecycle_preview(&self, name: &RepositoryName, preview: &LifecyclePreviewRecord) -> Result<bool>;
    /// The last preview of `name`; `None` when there is none.
    async fn lifecycle_preview(&self, name: &RepositoryName) -> Result<Option<LifecyclePreviewRecord>>;
}
