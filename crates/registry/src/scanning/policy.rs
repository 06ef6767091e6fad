//! A repository's pull policy: pulls of an image whose latest complete scan has findings at or above a
//! severity are refused, except for advisories the policy allows (by id or alias). Images not scanned (or
//! still being scanned) are not refused: the policy judges findings, it does not require scans.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use berth_oci::{Digest, RepositoryName};
use berth_vulndb::Severity;
use serde::{Deserialize, Serialize};

use super::{Finding, corrupt};
use crate::settings::CONFIG_CACHE;
use crate::{Registry, RegistryError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPolicy {
    /// Findings at or above this severity block a pull.
    pub min_severity: Severity,
    /// Advisory ids or aliases that never block.
    #[serde(default)]
    pub allow: Vec<String>,
}

impl PullPolicy {
    /// The findings that block a pull under this policy.
    pub fn blocking<'a>(&self, findings: &'a [Finding]) -> Vec<&'a Finding> {
        let allowed = |f: &Finding| self.allow.iter().any(|a| a == &f.id || f.aliases.contains(a));
        findings.iter().filter(|f| f.severity >= self.min_severity && !allowed(f)).collect()
    }
}

/// A repository's pull policy as read at some instant.
type Cached = (Instant, Option<Arc<PullPolicy>>);

/// Pull policies this node read, per repository.
#[derive(Clone, Default)]
pub(crate) struct PolicyCache(Arc<Mutex<HashMap<RepositoryName, Cached>>>);

/// How many images using a blob are asked before a blob download is decided (past that many, a blob whose
/// first images are all refused is refused too).
const BLOB_USERS_CHECKED: u32 = 64;

/// Entries kept before the cache is emptied (it only saves a read per pull).
const CACHE_ENTRIES: usize = 10_000;

impl Registry {
    /// Sets or (with `None`) removes the pull policy of `name`; `NameUnknown` if it does not exist.
    pub async fn set_pull_policy(&self, name: &RepositoryName, policy: Option<&PullPolicy>) -> Result<()> {
        let json = policy.map(|p| serde_json::to_string(p).expect("serialises"));
        if !self.meta.set_pull_policy(name, json.as_deref()).await? {
            return Err(RegistryError::NameUnknown);
        }
        self.pull_policies.0.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
        Ok(())
    }

    /// The pull policy of `name`, read from the metadata store.
    pub async fn pull_policy(&self, name: &RepositoryName) -> Result<Option<PullPolicy>> {
        match self.meta.pull_policy(name).await? {
            None => Ok(None),
            Some(json) => {
                Ok(Some(serde_json::from_str(&json).map_err(|e| corrupt(format!("pull policy of {name}: {e}")))?))
            }
        }
    }

    /// The pull policy as of at most [`CONFIG_CACHE`] ago: every manifest pull asks.
    async fn cached_pull_policy(&self, name: &RepositoryName) -> Result<Option<Arc<PullPolicy>>> {
        if let Some((at, p)) = self.pull_policies.0.lock().unwrap_or_else(|p| p.into_inner()).get(name)
            && at.elapsed() < CONFIG_CACHE
        {
            return Ok(p.clone());
        }
        let policy = self.pull_policy(name).await?.map(Arc::new);
        let mut cache = self.pull_policies.0.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(name.clone(), (Instant::now(), policy.clone()));
        Ok(policy)
    }

    /// Refuses handing out the blob `digest` when the repository's pull policy refuses every image that uses
    /// it: the layers of a refused image must not be downloadable one by one. A blob that an allowed image
    /// also uses, or that no image uses yet (a push in progress), is served.
    pub(crate) async fn check_blob_pull_policy(&self, repo: &RepositoryName, digest: &Digest) -> Result<()> {
        if self.cached_pull_policy(repo).await?.is_none() {
            return Ok(());
        }
        let mut refusal = None;
        for image in self.meta.manifests_with_blob(repo, digest, BLOB_USERS_CHECKED).await? {
            match self.check_pull_policy(repo, &image).await {
                Ok(()) => return Ok(()),
                Err(e @ RegistryError::PullBlocked(_)) => refusal = refusal.or(Some(e)),
                Err(e) => return Err(e),
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Refuses the pull of `digest` when the repository's pull policy blocks its findings.
    pub(crate) async fn check_pull_policy(&self, repo: &RepositoryName, digest: &Digest) -> Result<()> {
        let Some(policy) = self.cached_pull_policy(repo).await? else {
            return Ok(());
        };
        let Some(report) = self.scan_report(repo, digest).await? else {
            return Ok(());
        };
        if !report.findings_ready() {
            return Ok(());
        }
        let blocking = policy.blocking(&report.findings);
        if blocking.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<&str> = blocking.iter().map(|f| f.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let shown = ids.iter().take(5).copied().collect::<Vec<_>>().join(", ");
        let more = if ids.len() > 5 { format!(" and {} more", ids.len() - 5) } else { String::new() };
        Err(RegistryError::PullBlocked(format!(
            "{repo}@{digest} has {} finding(s) at or above {} ({shown}{more}); the repository's pull policy refuses it",
            blocking.len(),
            policy.min_severity.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, aliases: &[&str], severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            severity,
            summary: None,
            details: None,
            uri: String::new(),
            cvss_score: None,
            cvss_vector: None,
            package_name: "p".into(),
            package_version: "1".into(),
            package_kind: "deb".into(),
            matched_name: "p".into(),
            matched_version: "1".into(),
            ecosystem: "Debian:12".into(),
            purl: "pkg:deb/debian/p@1".into(),
            fixed_version: None,
            layer_digest: String::new(),
            location: String::new(),
            published: None,
        }
    }

    #[test]
    fn findings_at_or_above_the_severity_block_unless_allowed() {
        let findings = vec![
            finding("A", &["CVE-1"], Severity::Critical),
            finding("B", &[], Severity::High),
            finding("C", &[], Severity::Medium),
            finding("D", &[], Severity::Undefined),
        ];
        let policy = PullPolicy { min_severity: Severity::High, allow: vec![] };
        assert_eq!(policy.blocking(&findings).iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        let policy = PullPolicy { min_severity: Severity::High, allow: vec!["CVE-1".into(), "B".into()] };
        assert!(policy.blocking(&findings).is_empty(), "allowed by alias and by id");
        let policy = PullPolicy { min_severity: Severity::Medium, allow: vec![] };
        assert_eq!(policy.blocking(&findings).len(), 3, "UNDEFINED never blocks above it");
    }
}
