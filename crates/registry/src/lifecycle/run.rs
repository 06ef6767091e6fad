//! The lifecycle use cases: set, read and remove a repository's policy; preview what it would do; run it.
//!
//! Which manifests a policy sees: every manifest of the repository except those an index of the repository
//! lists (they live and go with their index, as ECR refuses to delete them alone) and referrers (artifacts
//! with a `subject`, such as the SBOMs berth's scanner pushes), which go with their subject: expiring an
//! image deletes its referrers too. Images being restored (`ACTIVATING`) are left alone until the restore
//! completes. An image's storage class is `archive` while it is archived, and its transition time is when
//! it was last archived. A preview and a run evaluate the same candidates with the same function, so a
//! preview shows exactly what a run at that moment would do.

use std::collections::HashSet;

use berth_meta::archive::{ImageStatus, StatusChange};
use berth_meta::lifecycle::{LifecyclePolicyRecord, LifecyclePreviewRecord};
use berth_meta::settings::{ImageDeletion, StatusFilter, TagStatus};
use berth_oci::{Digest, ParsedManifest, Reference, RepositoryName};
use serde::{Deserialize, Serialize};

use super::evaluate::{Candidate, evaluate};
use super::jobs::preview_job;
use super::policy::{Action, LifecyclePolicy, StorageClass};
use crate::jobs::RunWatch;
use crate::{Registry, RegistryError, Result};

/// How long a preview may stay in progress before another may replace it (its job is stuck behind others).
const PREVIEW_STALE_AFTER: i64 = 300;
/// A run reports its progress every this many images.
const PROGRESS_EVERY: usize = 50;

/// ECR's `LifecyclePolicyPreviewStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewStatus {
    InProgress,
    Complete,
    Expired,
    Failed,
}

impl PreviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PreviewStatus::InProgress => "IN_PROGRESS",
            PreviewStatus::Complete => "COMPLETE",
            PreviewStatus::Expired => "EXPIRED",
            PreviewStatus::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> PreviewStatus {
        match s {
            "COMPLETE" => PreviewStatus::Complete,
            "EXPIRED" => PreviewStatus::Expired,
            "FAILED" => PreviewStatus::Failed,
            _ => PreviewStatus::InProgress,
        }
    }
}

/// One image a preview shows the policy acting on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewedImage {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    /// `EXPIRE` or `TRANSITION`.
    pub action: String,
    pub rule_priority: u32,
    /// `STANDARD` or `ARCHIVE`: the image's storage class now.
    pub storage_class: String,
}

/// A repository's last preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub policy_text: String,
    pub status: PreviewStatus,
    pub started_at: i64,
    /// Oldest push first within each rule, rules in priority order; empty unless complete.
    pub images: Vec<PreviewedImage>,
}

/// One image a run expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub rule_priority: u32,
    pub rule_description: Option<String>,
    /// Referrers deleted with it.
    pub referrers: Vec<Digest>,
}

/// One image a run archived (a `transition` rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub rule_priority: u32,
    pub rule_description: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleRun {
    pub evaluated_at: i64,
    pub expired: Vec<Expiry>,
    /// Images archived by `transition` rules.
    pub transitioned: Vec<Transition>,
    /// Images the policy marked that were gone or had become part of an index by the time of their deletion.
    pub skipped: usize,
    /// Whether it stopped before the end because it was asked to (a cancelled job): what it expired until
    /// then stays expired, and the policy does not count as evaluated.
    pub stopped: bool,
}

fn storage_class_name(c: StorageClass) -> &'static str {
    match c {
        StorageClass::Standard => "STANDARD",
        StorageClass::Archive => "ARCHIVE",
    }
}

/// Parses and validates `text`.
pub(crate) fn valid(text: &str) -> Result<LifecyclePolicy> {
    LifecyclePolicy::parse(text).map_err(|e| RegistryError::LifecyclePolicyInvalid(e.0))
}

impl Registry {
    /// Sets the lifecycle policy of `repo` after validating it. `NameUnknown` if the repository does not
    /// exist; `LifecyclePolicyInvalid` naming the problem.
    pub async fn put_lifecycle_policy(&self, repo: &RepositoryName, text: &str) -> Result<()> {
        valid(text)?;
        if self.meta.put_lifecycle_policy(repo, text, self.now()).await? {
            Ok(())
        } else {
            Err(RegistryError::NameUnknown)
        }
    }

    /// The lifecycle policy of `repo`. `NameUnknown`, or `LifecyclePolicyNotFound` when it has none.
    pub async fn lifecycle_policy(&self, repo: &RepositoryName) -> Result<LifecyclePolicyRecord> {
        match self.meta.lifecycle_policy(repo).await? {
            Some(p) => Ok(p),
            None => {
                self.repository(repo).await?;
                Err(RegistryError::LifecyclePolicyNotFound)
            }
        }
    }

    /// Removes the lifecycle policy of `repo` and returns it. `NameUnknown`, or `LifecyclePolicyNotFound`.
    pub async fn delete_lifecycle_policy(&self, repo: &RepositoryName) -> Result<LifecyclePolicyRecord> {
        match self.meta.delete_lifecycle_policy(repo).await? {
            Some(p) => Ok(p),
            None => {
                self.repository(repo).await?;
                Err(RegistryError::LifecyclePolicyNotFound)
            }
        }
    }

    /// The manifests a policy of `repo` sees (see the module's documentation), with the referrers of each.
    async fn lifecycle_candidates(&self, repo: &RepositoryName) -> Result<(Vec<Candidate>, Vec<(Digest, Digest)>)> {
        let mut details = Vec::new();
        let mut after: Option<Digest> = None;
        loop {
            let page = self.image_details(repo, TagStatus::Any, StatusFilter::Any, after.as_ref(), 500).await?;
            after = page.entries.last().map(|d| d.digest.clone());
            details.extend(page.entries);
            if !page.more {
                break;
            }
        }
        let mut children: HashSet<Digest> = HashSet::new();
        let mut referrers: Vec<(Digest, Digest)> = Vec::new();
        for d in &details {
            let Some(m) = self.meta.get_manifest(repo, &Reference::Digest(d.digest.clone())).await? else {
                continue;
            };
            if let Some(subject) = m.subject {
                referrers.push((subject, d.digest.clone()));
            }
            if let Ok(parsed) = ParsedManifest::parse(&m.content, Some(&m.media_type)) {
                children.extend(parsed.manifests.into_iter().map(|c| c.digest));
            }
        }
        let referrer_digests: HashSet<&Digest> = referrers.iter().map(|(_, r)| r).collect();
        let candidates = details
            .iter()
            .filter(|d| !children.contains(&d.digest) && !referrer_digests.contains(&d.digest))
            .filter(|d| d.storage.status != ImageStatus::Activating)
            .map(|d| {
                let archived = d.storage.status == ImageStatus::Archived;
                Candidate {
                    digest: d.digest.clone(),
                    tags: d.tags.iter().map(|t| t.to_string()).collect(),
                    pushed_at: d.pushed_at,
                    last_pulled_at: d.last_pulled_at,
                    storage_class: if archived { StorageClass::Archive } else { StorageClass::Standard },
                    transitioned_at: if archived { d.storage.last_archived_at } else { None },
                }
            })
            .collect();
        Ok((candidates, referrers))
    }

    /// What `policy` does to `repo` now, as a preview shows it.
    async fn previewed(&self, repo: &RepositoryName, policy: &LifecyclePolicy) -> Result<Vec<PreviewedImage>> {
        let (candidates, _) = self.lifecycle_candidates(repo).await?;
        let verdicts = evaluate(policy, &candidates, self.now());
        Ok(verdicts
            .into_iter()
            .filter_map(|v| {
                let c = candidates.iter().find(|c| c.digest == v.digest)?;
                Some(PreviewedImage {
                    digest: v.digest,
                    tags: c.tags.clone(),
                    pushed_at: c.pushed_at,
                    action: v.action.ecr_name().to_string(),
                    rule_priority: v.rule_priority,
                    storage_class: storage_class_name(c.storage_class).to_string(),
                })
            })
            .collect())
    }

    /// Starts a preview of `text` (or, with `None`, of the repository's policy) on `repo` and returns it
    /// in progress; a `lifecycle-preview` job completes it ([`Registry::compute_lifecycle_preview`]). `LifecyclePreviewInProgress` while
    /// another preview of the repository is being computed.
    pub async fn start_lifecycle_preview(&self, repo: &RepositoryName, text: Option<&str>) -> Result<Preview> {
        let text = match text {
            Some(t) => t.to_string(),
            None => self.lifecycle_policy(repo).await?.text,
        };
        valid(&text)?;
        let now = self.now();
        if let Some(p) = self.meta.lifecycle_preview(repo).await?
            && p.status == PreviewStatus::InProgress.as_str()
            && now - p.started_at < PREVIEW_STALE_AFTER
        {
            return Err(RegistryError::LifecyclePreviewInProgress);
        }
        let record = LifecyclePreviewRecord {
            policy_text: text.clone(),
            status: PreviewStatus::InProgress.as_str().into(),
            started_at: now,
            result: None,
        };
        if !self.meta.put_lifecycle_preview(repo, &record).await? {
            return Err(RegistryError::NameUnknown);
        }
        // A preview job of the repository still queued computes this one (it reads the preview in progress).
        self.enqueue_job(&preview_job(repo)).await?;
        Ok(Preview { policy_text: text, status: PreviewStatus::InProgress, started_at: now, images: Vec::new() })
    }

    /// Computes the preview `start_lifecycle_preview` started on `repo` and records it complete (or failed,
    /// saying why in the log). Nothing if the repository's preview is no longer that one.
    pub async fn compute_lifecycle_preview(&self, repo: &RepositoryName, started: &Preview) -> Result<()> {
        let policy = valid(&started.policy_text)?;
        let (status, result) = match self.previewed(repo, &policy).await {
            Ok(images) => (PreviewStatus::Complete, Some(serde_json::to_string(&images).expect("serialisable"))),
            Err(e) => {
                tracing::warn!(repository = %repo, error = %e, "lifecycle policy preview failed");
                (PreviewStatus::Failed, None)
            }
        };
        match self.meta.lifecycle_preview(repo).await? {
            Some(p) if p.started_at == started.started_at && p.policy_text == started.policy_text => {}
            _ => return Ok(()),
        }
        let record = LifecyclePreviewRecord {
            policy_text: started.policy_text.clone(),
            status: status.as_str().into(),
            started_at: started.started_at,
            result,
        };
        self.meta.put_lifecycle_preview(repo, &record).await?;
        Ok(())
    }

    /// The last preview of `repo`. `NameUnknown`, or `LifecyclePreviewNotFound` when there is none.
    pub async fn lifecycle_preview(&self, repo: &RepositoryName) -> Result<Preview> {
        let Some(p) = self.meta.lifecycle_preview(repo).await? else {
            self.repository(repo).await?;
            return Err(RegistryError::LifecyclePreviewNotFound);
        };
        let images = match &p.result {
            Some(r) => serde_json::from_str(r)
                .map_err(|e| RegistryError::Meta(berth_meta::MetaError::Corrupt(format!("lifecycle preview: {e}"))))?,
            None => Vec::new(),
        };
        Ok(Preview {
            policy_text: p.policy_text,
            status: PreviewStatus::parse(&p.status),
            started_at: p.started_at,
            images,
        })
    }

    /// Runs the lifecycle policy of `repo` now: every image it expires is deleted through the registry's
    /// delete path (manifest and tags, one transaction; an image an index lists meanwhile stays), with its
    /// referrers; every image it transitions is archived (unless it changed state meanwhile). `watch` may
    /// stop it between two images, and is told how far it got. `NameUnknown`, or `LifecyclePolicyNotFound`.
    /// The caller audits each expiry and transition.
    pub async fn run_lifecycle_policy(&self, repo: &RepositoryName, watch: &dyn RunWatch) -> Result<LifecycleRun> {
        let record = self.lifecycle_policy(repo).await?;
        let policy = valid(&record.text)?;
        let now = self.now();
        let (candidates, referrers) = self.lifecycle_candidates(repo).await?;
        let mut run = LifecycleRun { evaluated_at: now, ..LifecycleRun::default() };
        let verdicts = evaluate(&policy, &candidates, now);
        let total = verdicts.len() as u64;
        for (n, v) in verdicts.into_iter().enumerate() {
            if watch.should_stop() {
                run.stopped = true;
                return Ok(run);
            }
            if n % PROGRESS_EVERY == 0 {
                let message = format!("{} image(s) expired, {} archived", run.expired.len(), run.transitioned.len());
                watch.report(n as u64, Some(total), message).await;
            }
            let Some(c) = candidates.iter().find(|c| c.digest == v.digest) else { continue };
            let rule = policy.rules.iter().find(|r| r.priority == v.rule_priority);
            if v.action == Action::Transition {
                let change =
                    self.meta.change_image_status(repo, &v.digest, ImageStatus::Active, ImageStatus::Archived, now);
                match change.await? {
                    StatusChange::Changed(_) => run.transitioned.push(Transition {
                        digest: v.digest,
                        tags: c.tags.clone(),
                        pushed_at: c.pushed_at,
                        rule_priority: v.rule_priority,
                        rule_description: rule.and_then(|r| r.description.clone()),
                    }),
                    StatusChange::Unchanged(_) | StatusChange::NotFound => run.skipped += 1,
                }
                continue;
            }
            match self.remove_image(repo, &v.digest, true).await? {
                ImageDeletion::Deleted => {
                    let cause = crate::events::DeleteCause::Lifecycle;
                    self.publish_deleted(repo, &v.digest, c.tags.clone(), cause).await;
                }
                ImageDeletion::NotFound | ImageDeletion::ReferencedByIndex => {
                    run.skipped += 1;
                    continue;
                }
            }
            let mut deleted_referrers = Vec::new();
            for (_, r) in referrers.iter().filter(|(subject, _)| subject == &v.digest) {
                if self.remove_image(repo, r, true).await? == ImageDeletion::Deleted {
                    deleted_referrers.push(r.clone());
                }
            }
            run.expired.push(Expiry {
                digest: v.digest,
                tags: c.tags.clone(),
                pushed_at: c.pushed_at,
                rule_priority: v.rule_priority,
                rule_description: rule.and_then(|r| r.description.clone()),
                referrers: deleted_referrers,
            });
        }
        self.meta.record_lifecycle_evaluation(repo, &record.text, now).await?;
        Ok(run)
    }
}
