//! Storage quotas on a repository or on every repository under a namespace prefix, and the blob link that
//! the registry's quota rule guards.
//!
//! A quota's **prefix** is either a repository name (`team-a/app`: that repository) or a name followed by
//! `/` (`team-a/`: every repository whose name starts with it). Its **usage** is the size of the blobs
//! linked to the repositories it covers, a blob counting once per repository linking it (a layer mounted into
//! two covered repositories counts twice). Manifests, kept in the metadata store and bounded in size, do not
//! count.
//!
//! The store holds the rows and computes usage; whether a link may go ahead is the caller's rule, passed as a
//! [`LinkGuard`] and run inside the link's transaction, after the store has serialised links under the same
//! quotas (SQLite: the single writer; PostgreSQL: an advisory lock per quota), so concurrent pushes cannot
//! both slip under a limit.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};

use crate::Result;

/// A quota as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// A repository name, or a name followed by `/` for a namespace.
    pub prefix: String,
    pub limit_bytes: u64,
    pub updated_at: i64,
}

/// A quota with what the repositories it covers use now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaUsage {
    pub quota: Quota,
    pub used_bytes: u64,
    /// Existing repositories it covers.
    pub repositories: u64,
}

/// What a guarded link would change, as seen inside its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAttempt<'a> {
    pub repository: &'a RepositoryName,
    pub digest: &'a Digest,
    pub size: u64,
    /// The blob is linked to the repository already: the link changes nothing.
    pub already_linked: bool,
    /// Every quota covering the repository, with its usage before the link.
    pub quotas: &'a [QuotaUsage],
}

/// The caller's rule, run inside the link's transaction: `Err(why)` refuses the link (nothing changes and
/// the store answers [`crate::MetaError::Refused`] with `why`).
pub trait LinkGuard: Send + Sync {
    fn check(&self, attempt: &LinkAttempt<'_>) -> std::result::Result<(), String>;
}

/// The guard that allows every link.
pub struct NoGuard;

impl LinkGuard for NoGuard {
    fn check(&self, _: &LinkAttempt<'_>) -> std::result::Result<(), String> {
        Ok(())
    }
}

#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// Creates or replaces the quota on `prefix`.
    async fn put_quota(&self, prefix: &str, limit_bytes: u64, now: i64) -> Result<()>;
    /// Returns whether there was one.
    async fn delete_quota(&self, prefix: &str) -> Result<bool>;
    /// Every quota with its usage, in lexical (byte) order of prefix.
    async fn list_quotas(&self) -> Result<Vec<QuotaUsage>>;
    /// The quotas covering `repo` (whether it exists or not), with their usage, in order of prefix.
    async fn quotas_covering(&self, repo: &RepositoryName) -> Result<Vec<QuotaUsage>>;
    /// [`crate::BlobIndex::link_blob`], with `guard` deciding inside the transaction, after the quotas
    /// covering `repo` are locked against concurrent guarded links.
    async fn link_blob_guarded(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        size: u64,
        now: i64,
        guard: &dyn LinkGuard,
    ) -> Result<()>;
}
