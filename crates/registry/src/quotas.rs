//! Storage quotas: the rule that refuses a push taking a repository or a namespace past its limit, and the
//! storage accounting operators read.
//!
//! A quota's prefix is a repository name (`team-a/app`) or a namespace (`team-a/`, every repository whose
//! name starts with it); its usage is the size of the blobs linked to the repositories it covers, a blob
//! counting once per repository (see [`berth_meta::quotas`]). A blob push is refused with `DENIED` when
//! linking it would take a covering quota past its limit:
//! - before any byte is accepted when the size is known (a monolithic `PUT` or a `PATCH` with
//!   `Content-Length`, an ECR layer part, a cross-repository mount): [`Registry::check_quota`];
//! - at commit otherwise, with the verified size, before the bytes are committed (the session is discarded);
//! - and always inside the link's transaction ([`QuotaRule`], passed to the store as a guard), which the
//!   store runs after serialising links under the same quotas, so concurrent pushes cannot both slip under
//!   a limit. A push refused only there leaves committed bytes no repository links (garbage collection's).

use berth_meta::accounting::{RegistryStorage, StorageAccount};
use berth_meta::quotas::{LinkAttempt, LinkGuard, QuotaUsage};
use berth_oci::{Digest, RepositoryName};

use crate::events::Event;
use crate::repositories::Paged;
use crate::{Registry, RegistryError, Result};

/// `bytes` for people: `1.5 GiB`, `512 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The first covering quota that `adding` more bytes in `repo` would exceed, as the message a client sees.
fn exceeded(repo: &RepositoryName, quotas: &[QuotaUsage], adding: u64) -> Option<String> {
    let q = quotas.iter().find(|q| q.used_bytes.saturating_add(adding) > q.quota.limit_bytes)?;
    Some(format!(
        "storage quota exceeded: quota {:?} (covering {repo}) allows {} bytes ({}), {} bytes ({}) are in use, \
         and this push would add {} bytes ({})",
        q.quota.prefix,
        q.quota.limit_bytes,
        human_bytes(q.quota.limit_bytes),
        q.used_bytes,
        human_bytes(q.used_bytes),
        adding,
        human_bytes(adding),
    ))
}

/// The quota rule, run by the metadata store inside a blob link's transaction.
pub(crate) struct QuotaRule;

impl LinkGuard for QuotaRule {
    fn check(&self, attempt: &LinkAttempt<'_>) -> std::result::Result<(), String> {
        if attempt.already_linked {
            return Ok(());
        }
        exceeded(attempt.repository, attempt.quotas, attempt.size).map_or(Ok(()), Err)
    }
}

/// A quota's prefix: a valid repository name, optionally followed by `/` for a namespace.
fn check_prefix(prefix: &str) -> Result<()> {
    let name = prefix.strip_suffix('/').unwrap_or(prefix);
    name.parse::<RepositoryName>().map(|_| ()).map_err(|e| {
        RegistryError::InvalidSetting(format!(
            "quota prefix {prefix:?}: give a repository name (team-a/app) or a namespace ending in / (team-a/): {e}"
        ))
    })
}

impl Registry {
    /// Refuses (`QuotaExceeded`) adding `size` bytes to `repo` when a covering quota has no room for them;
    /// nothing when `digest` is linked to `repo` already (its bytes are counted). An early answer for a size
    /// known before the bytes arrive: the link re-checks inside its transaction.
    pub async fn check_quota(&self, repo: &RepositoryName, digest: Option<&Digest>, size: u64) -> Result<()> {
        let quotas = self.meta.quotas_covering(repo).await?;
        if quotas.is_empty() {
            return Ok(());
        }
        if let Some(d) = digest
            && self.meta.linked_blob_size(repo, d).await?.is_some()
        {
            return Ok(());
        }
        match exceeded(repo, &quotas, size) {
            Some(why) => Err(self.quota_exceeded(repo, why).await),
            None => Ok(()),
        }
    }

    /// A push refused by a quota: published as `quota.exceeded`, returned as the error.
    async fn quota_exceeded(&self, repo: &RepositoryName, why: String) -> RegistryError {
        self.publish(Event::QuotaExceeded { repository: repo.to_string(), message: why.clone() }).await;
        RegistryError::QuotaExceeded(why)
    }

    /// [`Registry::check_quota`] for `incoming` more bytes of upload session `id` (its bytes so far count).
    pub async fn check_upload_quota(&self, repo: &RepositoryName, id: &str, incoming: u64) -> Result<()> {
        let so_far = self.upload_status(repo, id).await?.size;
        self.check_quota(repo, None, so_far.saturating_add(incoming)).await
    }

    /// Links the blob of commit `commit` into `repo` if every covering quota has room, decided inside the link's
    /// transaction; a refused commit's bytes are given up at once (deleted unless a blob row names them).
    pub(crate) async fn link_committed_within_quota(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        size: u64,
        commit: i64,
    ) -> Result<()> {
        self.create_on_push(repo).await?;
        match self.meta.link_committed_blob(repo, digest, size, commit, self.now(), &QuotaRule).await {
            Err(berth_meta::MetaError::Refused(why)) => {
                self.abandon_commit(commit, digest).await?;
                Err(self.quota_exceeded(repo, why).await)
            }
            other => Ok(other?),
        }
    }

    /// Mounts `digest` from `from` into `repo` (see [`berth_meta::BlobIndex::mount_blob`]) if every quota
    /// covering `repo` has room.
    pub(crate) async fn mount_within_quota(
        &self,
        repo: &RepositoryName,
        from: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        self.create_on_push(repo).await?;
        match self.meta.mount_blob(repo, from, digest, self.now(), &QuotaRule).await {
            Err(berth_meta::MetaError::Refused(why)) => Err(self.quota_exceeded(repo, why).await),
            other => Ok(other?),
        }
    }

    /// Creates or replaces the quota on `prefix` (a repository name, or a namespace ending in `/`).
    pub async fn set_quota(&self, prefix: &str, limit_bytes: u64) -> Result<()> {
        check_prefix(prefix)?;
        if i64::try_from(limit_bytes).is_err() {
            return Err(RegistryError::InvalidSetting(format!("quota limit {limit_bytes} is too large")));
        }
        Ok(self.meta.put_quota(prefix, limit_bytes, self.now()).await?)
    }

    /// Returns whether there was a quota on `prefix`.
    pub async fn delete_quota(&self, prefix: &str) -> Result<bool> {
        check_prefix(prefix)?;
        Ok(self.meta.delete_quota(prefix).await?)
    }

    /// Every quota with its current usage, in order of prefix.
    pub async fn quotas(&self) -> Result<Vec<QuotaUsage>> {
        Ok(self.meta.list_quotas().await?)
    }

    /// One repository's storage account.
    pub async fn storage_account(&self, repo: &RepositoryName) -> Result<StorageAccount> {
        self.meta.storage_account(repo).await?.ok_or(RegistryError::NameUnknown)
    }

    /// Storage accounts of existing repositories in lexical order, strictly after `after`, `n` at most.
    pub async fn storage_accounts(&self, after: Option<&str>, n: u32) -> Result<Paged<StorageAccount>> {
        let page = berth_meta::Page { last: after, n: n.saturating_add(1) };
        let mut entries = self.meta.storage_accounts(page).await?;
        let more = entries.len() > n as usize;
        entries.truncate(n as usize);
        Ok(Paged { entries, more })
    }

    /// The registry's stored (deduplicated) and logical bytes.
    pub async fn registry_storage(&self) -> Result<RegistryStorage> {
        Ok(self.meta.registry_storage().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(50 << 30), "50.0 GiB");
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("team-a/").is_ok());
        assert!(check_prefix("team-a/app").is_ok());
        assert!(check_prefix("team-a").is_ok());
        for bad in ["", "/", "Team/", "team-a//", "team a/"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_rule_names_the_first_quota_without_room() {
        let q = |prefix: &str, limit, used| QuotaUsage {
            quota: berth_meta::quotas::Quota { prefix: prefix.into(), limit_bytes: limit, updated_at: 0 },
            used_bytes: used,
            repositories: 1,
        };
        let repo: RepositoryName = "team-a/app".parse().unwrap();
        let digest = Digest::sha256_of(b"x");
        let quotas = [q("team-a/", 1000, 900), q("team-a/app", 150, 50)];
        let attempt = |size, already_linked| LinkAttempt {
            repository: &repo,
            digest: &digest,
            size,
            already_linked,
            quotas: &quotas,
        };
        assert!(QuotaRule.check(&attempt(100, false)).is_ok(), "exactly at the limit fits");
        let why = QuotaRule.check(&attempt(101, false)).unwrap_err();
        assert!(why.contains("\"team-a/\"") && why.contains("allows 1000 bytes") && why.contains("900 bytes"), "{why}");
        assert!(QuotaRule.check(&attempt(10_000, true)).is_ok(), "a blob linked already adds nothing");
        let quotas = [q("team-a/", 1000, 0), q("team-a/app", 150, 50)];
        let attempt =
            LinkAttempt { repository: &repo, digest: &digest, size: 101, already_linked: false, quotas: &quotas };
        assert!(QuotaRule.check(&attempt).unwrap_err().contains("\"team-a/app\""));
    }
}
