//! Recovering from lost metadata: the repository journal (manifests and tags as files beside the blobs) kept
//! up to date from the metadata store's change feed, the check that refuses to serve a data directory whose
//! metadata is gone, and the rebuild of repositories, manifests, tags and blob links from the journal.
//!
//! What a rebuild cannot bring back lives only in the metadata store: users, access keys, groups, policies,
//! robot tokens, signing keys, repository settings (tag mutability, scanning, pull policy, visibility),
//! registry settings (the vulnerability database in use, scanning rules), scan results, pull statistics,
//! upload sessions, the audit log, push times (restored manifests are pushed "now"), links of blobs that no
//! manifest references (pushed layers whose manifest never came), and whatever changed in the second before
//! the loss that the journal had not caught up with yet.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use berth_meta::recovery::{JournalChange, JournalEntry};
use berth_oci::{Digest, ParsedManifest, Reference, RepositoryName, Tag};
use berth_storage::{JournalUpdate, JournaledManifest};

use crate::{Registry, RegistryError, Result};

/// Feed entries read (and manifests held in memory) at a time while exporting the journal.
const EXPORT_BATCH: u32 = 64;

/// What [`Registry::rebuild_metadata`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RebuildReport {
    pub repositories: usize,
    /// Manifests stored again (those the metadata still had are not counted).
    pub manifests_restored: usize,
    /// Tags pointed again at their manifest.
    pub tags_restored: usize,
    /// Blobs linked again to a repository because a restored manifest references them.
    pub blobs_linked: usize,
    /// What could not be restored, and why.
    pub failures: Vec<String>,
}

impl Registry {
    /// Writes the pending changes of the metadata store's feed to the repository journal on disk; returns
    /// how many feed entries were applied. Run continually by the server (off the request path) and before
    /// any check or rebuild that reads the journal.
    pub async fn export_journal(&self) -> Result<usize> {
        let mut applied = 0;
        loop {
            let changes = self.meta.journal_changes(EXPORT_BATCH).await?;
            let Some(last) = changes.last().map(|c| c.seq) else { return Ok(applied) };
            applied += changes.len();
            self.blobs.journal_apply(changes.into_iter().map(journal_update).collect()).await?;
            self.meta.journal_done(last).await?;
        }
    }

    /// Refuses a data directory whose blob store (or journal) holds content while the metadata store has
    /// never recorded anything: the metadata was lost (deleted, truncated, its WAL removed), and serving would
    /// present an empty registry while the content lies on disk. Returns how many blobs were found then.
    pub async fn metadata_lost(&self) -> Result<Option<usize>> {
        if !self.meta.is_empty().await? {
            return Ok(None);
        }
        // A vulnerability database imported before the first push is a blob without a metadata row.
        let vulndb = self.vulndb_setting_blob().await;
        let blobs = self.blobs.list_blobs().await?.into_iter().filter(|d| Some(d) != vulndb.as_ref()).count();
        let journaled = self.blobs.journal_repositories().await?.len();
        Ok((blobs > 0 || journaled > 0).then_some(blobs))
    }

    /// Rebuilds repositories, manifests, tags and blob links from the repository journal and the blob store,
    /// adding what the metadata store lacks (what it has is kept as it is). Run with the server stopped.
    pub async fn rebuild_metadata(&self) -> Result<RebuildReport> {
        // What the metadata store still knows is in the journal first, so that nothing it deleted comes back.
        self.export_journal().await?;
        let mut report = RebuildReport::default();
        for repo in self.blobs.journal_repositories().await? {
            let journal = self.blobs.journal_read(&repo).await?;
            report.failures.extend(journal.unreadable.iter().map(|u| format!("journal entry {u}")));
            if journal.manifests.is_empty() {
                continue;
            }
            report.repositories += 1;
            self.rebuild_repository(&repo, journal.manifests, journal.tags, &mut report).await?;
        }
        Ok(report)
    }

    async fn rebuild_repository(
        &self,
        repo: &RepositoryName,
        manifests: Vec<JournaledManifest>,
        tags: Vec<(Tag, Digest)>,
        report: &mut RebuildReport,
    ) -> Result<()> {
        let mut tags_of: BTreeMap<Digest, Vec<Tag>> = BTreeMap::new();
        for (tag, digest) in tags {
            tags_of.entry(digest).or_default().push(tag);
        }
        // Manifests first, indexes after: an index is stored only once its children are. Referrers may name
        // a subject that is missing, so they need no order.
        let mut pending = Vec::new();
        for m in manifests {
            let parsed = match ParsedManifest::parse(&m.content, Some(&m.media_type)) {
                Ok(p) => p,
                Err(e) => {
                    report.failures.push(format!("manifest {repo}@{}: {e}", m.digest));
                    continue;
                }
            };
            pending.push((parsed.kind.is_index(), m, parsed));
        }
        pending.sort_by_key(|(index, m, _)| (*index, m.digest.clone()));

        let mut linked = HashSet::new();
        loop {
            let mut retry = Vec::new();
            let before = pending.len();
            for (index, m, parsed) in pending {
                let tags = tags_of.remove(&m.digest).unwrap_or_default();
                match self.restore_manifest(repo, &m, &parsed, &tags, &mut linked, report).await? {
                    Restore::Done => {}
                    Restore::Failed(why) => report.failures.push(format!("manifest {repo}@{}: {why}", m.digest)),
                    Restore::MissingChild(child) => {
                        tags_of.insert(m.digest.clone(), tags);
                        retry.push((index, m, parsed, child));
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            if retry.len() == before {
                for (_, m, _, child) in retry {
                    report.failures.push(format!(
                        "manifest {repo}@{}: the manifest {child} it lists is neither stored nor journaled",
                        m.digest
                    ));
                }
                break;
            }
            pending = retry.into_iter().map(|(index, m, parsed, _)| (index, m, parsed)).collect();
        }
        for (digest, tags) in tags_of {
            for tag in tags {
                report.failures.push(format!("tag {repo}:{tag}: its manifest {digest} is not journaled"));
            }
        }
        Ok(())
    }

    /// Stores one journaled manifest (linking the blobs it needs first) and points `tags` at it.
    async fn restore_manifest(
        &self,
        repo: &RepositoryName,
        m: &JournaledManifest,
        parsed: &ParsedManifest,
        tags: &[Tag],
        linked: &mut HashSet<Digest>,
        report: &mut RebuildReport,
    ) -> Result<Restore> {
        let by_digest = Reference::Digest(m.digest.clone());
        let existed = self.meta.get_manifest(repo, &by_digest).await?.is_some();
        let mut missing_tags = Vec::new();
        for tag in tags {
            match self.meta.get_manifest(repo, &Reference::Tag(tag.clone())).await? {
                // The metadata store is the authority on tags it has.
                Some(_) => {}
                None => missing_tags.push(tag.clone()),
            }
        }
        if existed && missing_tags.is_empty() {
            return Ok(Restore::Done);
        }
        if !existed {
            for blob in parsed.referenced_blobs() {
                if linked.contains(&blob.digest) || self.meta.linked_blob_size(repo, &blob.digest).await?.is_some() {
                    continue;
                }
                let Some(size) = self.blobs.stat(&blob.digest).await? else {
                    return Ok(Restore::Failed(format!("its blob {} is not in the blob store", blob.digest)));
                };
                self.meta.link_blob(repo, &blob.digest, size, self.now()).await?;
                linked.insert(blob.digest.clone());
                report.blobs_linked += 1;
            }
        }
        match self.put_manifest(repo, &by_digest, &missing_tags, Some(&m.media_type), m.content.clone()).await {
            Ok(_) => {
                report.manifests_restored += usize::from(!existed);
                report.tags_restored += missing_tags.len();
                Ok(Restore::Done)
            }
            Err(RegistryError::ManifestBlobUnknown(child)) if parsed.manifests.iter().any(|c| c.digest == child) => {
                Ok(Restore::MissingChild(child))
            }
            Err(e) if e.code().is_some() => Ok(Restore::Failed(e.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Compares the repository journal with the metadata store (after exporting pending changes): what the
    /// journal has and the metadata lacks was lost from the metadata. Returns the problems found and the
    /// blobs journaled manifests reference.
    pub(crate) async fn journal_differences(&self) -> Result<(Vec<String>, BTreeSet<Digest>)> {
        self.export_journal().await?;
        let mut problems = Vec::new();
        let mut referenced = BTreeSet::new();
        for repo in self.blobs.journal_repositories().await? {
            let journal = self.blobs.journal_read(&repo).await?;
            problems.extend(journal.unreadable.iter().map(|u| format!("journal entry {u}")));
            for m in &journal.manifests {
                if let Ok(parsed) = ParsedManifest::parse(&m.content, Some(&m.media_type)) {
                    referenced.extend(parsed.referenced_blobs().map(|d| d.digest.clone()));
                }
                if self.meta.get_manifest(&repo, &Reference::Digest(m.digest.clone())).await?.is_none() {
                    problems.push(format!("manifest {repo}@{} is in the journal but not in the metadata", m.digest));
                }
            }
            for (tag, digest) in &journal.tags {
                let stored = self.meta.get_manifest(&repo, &Reference::Tag(tag.clone())).await?;
                match stored {
                    Some(s) if &s.digest == digest => {}
                    Some(s) => problems.push(format!(
                        "tag {repo}:{tag} points at {} in the metadata but at {digest} in the journal",
                        s.digest
                    )),
                    None => problems.push(format!("tag {repo}:{tag} is in the journal but not in the metadata")),
                }
            }
        }
        Ok((problems, referenced))
    }
}

enum Restore {
    Done,
    Failed(String),
    /// An index whose child is not stored yet.
    MissingChild(Digest),
}

fn journal_update(change: JournalChange) -> JournalUpdate {
    let repository = change.repository;
    match change.entry {
        JournalEntry::Manifest { digest, current } => JournalUpdate::Manifest { repository, digest, current },
        JournalEntry::Tag { tag, target } => JournalUpdate::Tag { repository, tag, target },
    }
}
