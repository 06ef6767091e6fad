//! Pull accounting: `last_pulled_at` per manifest and bytes moved per repository.
//!
//! Recording every pull with a database write would put one write on the hot path of every manifest GET
//! (and SQLite has one writer). Pulls are instead gathered in memory and written in one batch by
//! [`PullRecorder::flush`], which the server calls every second and at shutdown; a crash loses at most that
//! second of statistics, never registry content.
//!
//! Pull time update exclusions (principals whose pulls leave `last_pulled_at` alone, such as a scanner or a
//! backup job) are applied when the batch is written: each pull is kept with the ARN of its principal, and
//! the flush reads the exclusions from the metadata store, so a registration takes effect on every node
//! from the next flush and nothing is cached. Transfer counters count every pull.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use berth_meta::exclusions::PullTimeExclusion;
use berth_meta::{MetaError, MetaStore, Usage};
use berth_oci::{Digest, RepositoryName};

use crate::{Clock, Registry, RegistryError, Result};

/// The most pull time update exclusions a registry may have.
pub const MAX_PULL_EXCLUSIONS: usize = 100;

#[derive(Default)]
struct Pending {
    /// The latest pull of each manifest by each principal (its label, `user/NAME` or `robot/NAME`; `None`:
    /// anonymous, never excluded).
    last_pulled: HashMap<(RepositoryName, Digest, Option<Arc<str>>), i64>,
    usage: HashMap<RepositoryName, Usage>,
}

#[derive(Clone)]
pub struct PullRecorder {
    meta: Arc<dyn MetaStore>,
    clock: Arc<dyn Clock>,
    pending: Arc<Mutex<Pending>>,
}

impl PullRecorder {
    pub(crate) fn new(meta: Arc<dyn MetaStore>, clock: Arc<dyn Clock>) -> Self {
        PullRecorder { meta, clock, pending: Default::default() }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Pending) -> R) -> R {
        f(&mut self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Records a pull of `digest` by the principal `by` (its label; `None` for an anonymous pull).
    pub(crate) fn record_pull(&self, repo: &RepositoryName, digest: &Digest, by: Option<&str>, now: i64, bytes: u64) {
        self.with(|p| {
            p.last_pulled.insert((repo.clone(), digest.clone(), by.map(Arc::from)), now);
            let u = p.usage.entry(repo.clone()).or_default();
            u.pulls += 1;
            u.bytes_out += bytes;
        });
    }

    pub(crate) fn add_bytes_out(&self, repo: &RepositoryName, bytes: u64) {
        self.with(|p| p.usage.entry(repo.clone()).or_default().bytes_out += bytes);
    }

    pub(crate) fn add_bytes_in(&self, repo: &RepositoryName, bytes: u64) {
        self.with(|p| p.usage.entry(repo.clone()).or_default().bytes_in += bytes);
    }

    /// Writes the pending statistics to the metadata store.
    pub async fn flush(&self) -> Result<(), MetaError> {
        let pending = self.with(std::mem::take);
        // Traffic counts towards the day it is written in (at most a second late).
        let now = self.clock.now();
        let excluded: HashSet<String> = if pending.last_pulled.keys().any(|(_, _, by)| by.is_some()) {
            let all = self.meta.list_pull_exclusions(None, MAX_PULL_EXCLUSIONS as u32).await?;
            all.iter().filter_map(|e| principal_label(&e.principal_arn)).collect()
        } else {
            HashSet::new()
        };
        let mut latest: HashMap<(RepositoryName, Digest), i64> = HashMap::new();
        for ((repo, digest, by), at) in pending.last_pulled {
            if by.is_some_and(|arn| excluded.contains(&*arn)) {
                continue;
            }
            let e = latest.entry((repo, digest)).or_insert(at);
            *e = (*e).max(at);
        }
        for ((repo, digest), at) in latest {
            self.meta.record_pull(&repo, &digest, at).await?;
        }
        for (repo, u) in pending.usage {
            self.meta.add_usage(&repo, u.bytes_in, u.bytes_out, u.pulls, now).await?;
        }
        Ok(())
    }
}

impl Registry {
    /// Excludes the principal `arn` names (see [`principal_label`]) from pull time updates, from the next
    /// flush on every node. `PullExclusionExists` if it is excluded already; `TooMany` beyond
    /// [`MAX_PULL_EXCLUSIONS`].
    pub async fn register_pull_exclusion(&self, arn: &str) -> Result<PullTimeExclusion> {
        match self.meta.register_pull_exclusion(arn, self.now(), MAX_PULL_EXCLUSIONS).await {
            Ok(e) => Ok(e),
            Err(MetaError::AlreadyExists(_)) => Err(RegistryError::PullExclusionExists(arn.to_string())),
            Err(MetaError::LimitExceeded(why)) => Err(RegistryError::TooMany(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the exclusion of `arn`; `PullExclusionNotFound` when it had none.
    pub async fn deregister_pull_exclusion(&self, arn: &str) -> Result<()> {
        if self.meta.deregister_pull_exclusion(arn).await? {
            Ok(())
        } else {
            Err(RegistryError::PullExclusionNotFound(arn.to_string()))
        }
    }

    /// Excluded principals in ARN order, strictly after `after`, at most `n`.
    pub async fn pull_exclusions(&self, after: Option<&str>, n: u32) -> Result<Vec<PullTimeExclusion>> {
        Ok(self.meta.list_pull_exclusions(after, n).await?)
    }
}

/// The principal an exclusion's ARN names, as pulls label it: `arn:aws:iam::ACCOUNT:user/NAME` is
/// `user/NAME`, `arn:aws:iam::ACCOUNT:role/robot/NAME` is `robot/NAME` (robot tokens of that name); `None`
/// for an ARN that names neither.
pub fn principal_label(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, name) = rest.split_once(':')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(user) = name.strip_prefix("user/") {
        return (!user.is_empty()).then(|| format!("user/{user}"));
    }
    let robot = name.strip_prefix("role/robot/")?;
    (!robot.is_empty() && !robot.contains('/')).then(|| format!("robot/{robot}"))
}

#[cfg(test)]
mod tests {
    use super::principal_label;

    #[test]
    fn exclusion_arns_name_users_and_robots() {
        assert_eq!(principal_label("arn:aws:iam::123456789012:user/alice").as_deref(), Some("user/alice"));
        assert_eq!(principal_label("arn:aws:iam::123456789012:role/robot/ci").as_deref(), Some("robot/ci"));
        for other in [
            "arn:aws:iam::123456789012:role/scanner",
            "arn:aws:iam::123456789012:group/admins",
            "arn:aws:iam::12345:user/alice",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:ecr:us-east-1:123456789012:repository/a",
        ] {
            assert_eq!(principal_label(other), None, "{other}");
        }
    }
}
