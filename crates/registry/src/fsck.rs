//! The consistency checker behind `berth fsck`: is the metadata store sound, does every metadata row point at
//! bytes that exist (and, with `verify_digests`, hold the right bytes), does the metadata hold everything the
//! repository journal on disk has, and is every upload session whole?
//!
//! Problems (the store is inconsistent, or lost or damaged data) are told apart from leftovers (bytes nothing
//! points at, which a crash between committing a blob and linking it, or a replaced vulnerability database,
//! legitimately leaves). A stored blob the metadata does not know is a problem when a journaled manifest
//! references it or when the metadata has never recorded anything (the metadata was lost), a leftover
//! otherwise.
//!
//! `repair` removes broken upload sessions and upload leftovers, and moves damaged blobs (wrong size, or
//! wrong digest when verifying) to `quarantine/`, unlinking them from every repository, so that clients get
//! `BLOB_UNKNOWN` instead of bad bytes and their next push stores the blob again. It never deletes a sound
//! committed blob or a manifest. Lost metadata is restored by [`Registry::rebuild_metadata`], not by `repair`.
//! Run repairs with the server stopped.

use std::collections::HashSet;

use berth_oci::Digest;
use tokio::io::AsyncReadExt as _;

use crate::{Registry, Result};

/// The first bytes of a serialised vulnerability database (`berth-vulndb`'s format), stored as a blob
/// without a metadata row.
const VULNDB_MAGIC: &[u8] = b"BERTHVDB";

#[derive(Debug, Clone, Copy, Default)]
pub struct FsckOptions {
    /// Re-hash every blob and compare with its digest (reads all bytes).
    pub verify_digests: bool,
    /// Remove leftovers of uploads and broken upload sessions; quarantine damaged blobs.
    pub repair: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FsckReport {
    pub blobs_checked: usize,
    /// Blobs whose bytes were re-hashed.
    pub blobs_verified: usize,
    pub manifest_references_checked: usize,
    pub upload_sessions_checked: usize,
    /// Inconsistencies: a damaged metadata store, metadata pointing at missing or wrong bytes, content on disk
    /// the metadata lost.
    pub problems: Vec<String>,
    /// Bytes nothing points at (left by a crash or by deletes; reclaimable).
    pub leftovers: Vec<String>,
    /// What `repair` did.
    pub repaired: Vec<String>,
    /// What a rebuild of the metadata run before the check did (`berth fsck --rebuild-metadata`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuild: Option<crate::RebuildReport>,
}

impl FsckReport {
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Registry {
    pub async fn fsck(&self, options: FsckOptions) -> Result<FsckReport> {
        let mut report = FsckReport::default();

        // The metadata store's own structures: when they are damaged, nothing else it says can be trusted.
        let damaged = match self.meta.integrity_check().await {
            Ok(problems) => problems,
            Err(e) => vec![format!("the check failed: {e}")],
        };
        if !damaged.is_empty() {
            report.problems.extend(damaged.into_iter().map(|p| format!("metadata database: {p}")));
            report.problems.push(
                "the metadata database is damaged: stop berth, move meta.db (and meta.db-wal, meta.db-shm) aside, and \
                 restore it from a backup or rebuild it with `berth fsck --rebuild-metadata`"
                    .into(),
            );
            return Ok(report);
        }

        let known = self.meta.all_blobs().await?;
        let known_set: HashSet<_> = known.iter().map(|(d, _)| d.clone()).collect();
        let references = self.meta.all_manifest_blob_refs().await?;
        let referenced: HashSet<&Digest> = references.iter().map(|(_, _, blob)| blob).collect();
        for (digest, size) in &known {
            report.blobs_checked += 1;
            let stat = match self.blobs.stat(digest).await {
                // An encrypted blob whose header cannot be read.
                Err(berth_storage::StorageError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.damaged_blob(digest, &format!("cannot be decrypted ({e})"), options.repair, &mut report)
                        .await?;
                    continue;
                }
                other => other?,
            };
            let damage = match stat {
                None => {
                    // Bytes a repository or a manifest needs are missing (lost, or quarantined as damaged) until
                    // the blob is pushed again. A blob neither needs any more is just gone.
                    if referenced.contains(digest) || !self.meta.blob_links(digest).await?.is_empty() {
                        report.problems.push(format!(
                            "blob {digest} is recorded but its bytes are missing (push it again to restore it)"
                        ));
                    }
                    continue;
                }
                Some(actual) if actual != *size => Some(format!("is recorded with {size} bytes but holds {actual}")),
                Some(_) if options.verify_digests => {
                    report.blobs_verified += 1;
                    // An encrypted blob is decrypted as it is read: a segment failing authentication is damage.
                    let hashed = match self.blobs.open(digest, None).await {
                        Ok(blob) => crate::hash_reader(blob.reader, digest.algorithm()).await,
                        Err(berth_storage::StorageError::Io(e)) => Err(e),
                        Err(e) => return Err(e.into()),
                    };
                    match hashed {
                        Ok(actual) => (&actual != digest).then(|| format!("holds bytes whose digest is {actual}")),
                        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                            Some(format!("cannot be decrypted ({e})"))
                        }
                        Err(e) => return Err(berth_storage::StorageError::Io(e).into()),
                    }
                }
                Some(_) => None,
            };
            if let Some(damage) = damage {
                self.damaged_blob(digest, &damage, options.repair, &mut report).await?;
            }
        }

        for (repo, manifest, blob) in &references {
            report.manifest_references_checked += 1;
            if !known_set.contains(blob) {
                report.problems.push(format!("manifest {repo}@{manifest} references blob {blob}, which is not stored"));
            }
        }

        // Content the metadata lost: journaled manifests and tags it lacks, and the blobs they reference.
        let (lost, journaled_blobs) = self.journal_differences().await?;
        let lost_any = !lost.is_empty();
        report.problems.extend(lost);
        let metadata_empty = self.meta.is_empty().await?;
        let vulndb = self.vulndb_setting_blob().await;
        let mut unrecorded = 0;
        for digest in self.blobs.list_blobs().await? {
            if known_set.contains(&digest) || vulndb.as_ref() == Some(&digest) {
                continue;
            }
            if metadata_empty || journaled_blobs.contains(&digest) {
                unrecorded += 1;
                report.problems.push(format!("blob {digest} is stored but the metadata does not know it"));
            } else if self.is_vulndb_blob(&digest).await {
                report.leftovers.push(format!("blob {digest} is a vulnerability database no longer in use"));
            } else {
                report.leftovers.push(format!("blob {digest} is stored but not recorded"));
            }
        }
        if lost_any || unrecorded > 0 {
            report.problems.push(
                "the metadata lacks content that is on disk (was meta.db deleted, truncated or its WAL removed?): \
                 restore it from a backup, or rebuild it with `berth fsck --rebuild-metadata`"
                    .into(),
            );
        }

        let stored_uploads: HashSet<String> = self.blobs.list_uploads().await?.into_iter().collect();
        let mut recorded_uploads = HashSet::new();
        for id in self.meta.all_upload_ids().await? {
            report.upload_sessions_checked += 1;
            recorded_uploads.insert(id.clone());
            let Some(session) = self.meta.get_upload(&id).await? else { continue };
            let holds = if stored_uploads.contains(&id) {
                self.blobs.upload_size(&id, &session.backend_state).await.ok()
            } else {
                None
            };
            let broken = match holds {
                None => Some(format!("upload {id} is recorded but its bytes are missing")),
                Some(n) if n < session.size => {
                    Some(format!("upload {id} is recorded with {} bytes but holds {n}", session.size))
                }
                Some(_) => None,
            };
            if let Some(problem) = broken {
                if options.repair {
                    self.meta.delete_upload(&id).await?;
                    let _ = self.blobs.cancel_upload(&id, &session.backend_state).await;
                    report.repaired.push(format!("removed broken upload session {id}"));
                } else {
                    report.problems.push(problem);
                }
            }
        }
        for id in stored_uploads.difference(&recorded_uploads) {
            if options.repair {
                self.blobs.cancel_upload(id, &Vec::new()).await?;
                report.repaired.push(format!("removed unrecorded upload bytes {id}"));
            } else {
                report.leftovers.push(format!("upload bytes {id} are stored but not recorded"));
            }
        }
        Ok(report)
    }

    /// Reports a damaged blob, or with `repair` moves it to quarantine and unlinks it from every repository.
    async fn damaged_blob(&self, digest: &Digest, damage: &str, repair: bool, report: &mut FsckReport) -> Result<()> {
        if !repair {
            report.problems.push(format!(
                "blob {digest} {damage}: it is damaged (`--repair` quarantines it; a push of the blob restores it)"
            ));
            return Ok(());
        }
        self.blobs.quarantine(digest).await?;
        let repositories = self.meta.blob_links(digest).await?;
        for repo in &repositories {
            self.meta.unlink_blob(repo, digest).await?;
        }
        let names: Vec<String> = repositories.iter().map(ToString::to_string).collect();
        report.repaired.push(format!(
            "blob {digest} {damage}: moved to quarantine/ and unlinked from {} (clients get BLOB_UNKNOWN until it \
             is pushed again)",
            if names.is_empty() { "no repository".to_string() } else { names.join(", ") }
        ));
        Ok(())
    }

    /// The blob holding the vulnerability database in use, if one was imported.
    pub(crate) async fn vulndb_setting_blob(&self) -> Option<Digest> {
        let value = self.meta.registry_setting(crate::scanning::VULNDB_SETTING).await.ok()??;
        let imported: serde_json::Value = serde_json::from_str(&value).ok()?;
        imported.get("blob")?.as_str()?.parse().ok()
    }

    /// Whether a stored blob is a serialised vulnerability database (by its first bytes).
    async fn is_vulndb_blob(&self, digest: &Digest) -> bool {
        let Ok(blob) = self.blobs.open(digest, None).await else { return false };
        let mut head = Vec::with_capacity(VULNDB_MAGIC.len());
        let read = blob.reader.take(VULNDB_MAGIC.len() as u64).read_to_end(&mut head).await;
        read.is_ok() && head == VULNDB_MAGIC
    }
}
