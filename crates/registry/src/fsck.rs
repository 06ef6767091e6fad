//! The consistency checker behind `berth fsck`: does every metadata row point at bytes that exist, and is
//! every upload session whole?
//!
//! Problems (the store is inconsistent) are told apart from leftovers (bytes nothing points at, which a
//! crash may legitimately leave and garbage collection reclaims). `repair` removes leftovers and broken
//! upload sessions; it never touches committed blobs or manifests. Run repairs with the server stopped.

use std::collections::HashSet;

use crate::{Registry, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct FsckOptions {
    /// Re-hash every blob and compare with its digest (reads all bytes).
    pub verify_digests: bool,
    /// Remove leftovers and broken upload sessions.
    pub repair: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FsckReport {
    pub blobs_checked: usize,
    pub manifest_references_checked: usize,
    pub upload_sessions_checked: usize,
    /// Inconsistencies: metadata pointing at missing or wrong bytes.
    pub problems: Vec<String>,
    /// Bytes nothing points at (left by a crash or by deletes; reclaimable).
    pub leftovers: Vec<String>,
    /// What `repair` removed.
    pub repaired: Vec<String>,
}

impl FsckReport {
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Registry {
    pub async fn fsck(&self, options: FsckOptions) -> Result<FsckReport> {
        let mut report = FsckReport::default();

        let known = self.meta.all_blobs().await?;
        let known_set: HashSet<_> = known.iter().map(|(d, _)| d.clone()).collect();
        for (digest, size) in &known {
            report.blobs_checked += 1;
            match self.blobs.stat(digest).await? {
                None => report.problems.push(format!("blob {digest} is recorded but its bytes are missing")),
                Some(actual) if actual != *size => {
                    report.problems.push(format!("blob {digest} is recorded with {size} bytes but holds {actual}"))
                }
                Some(_) if options.verify_digests => {
                    let reader = self.blobs.open(digest, None).await?.reader;
                    let actual = crate::hash_reader(reader, digest.algorithm())
                        .await
                        .map_err(berth_storage::StorageError::Io)?;
                    if &actual != digest {
                        report.problems.push(format!("blob {digest} holds bytes whose digest is {actual}"));
                    }
                }
                Some(_) => {}
            }
        }

        for (repo, manifest, blob) in self.meta.all_manifest_blob_refs().await? {
            report.manifest_references_checked += 1;
            if !known_set.contains(&blob) {
                report.problems.push(format!("manifest {repo}@{manifest} references blob {blob}, which is not stored"));
            }
        }

        for digest in self.blobs.list_blobs().await? {
            if !known_set.contains(&digest) {
                report.leftovers.push(format!("blob {digest} is stored but not recorded"));
            }
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
}
