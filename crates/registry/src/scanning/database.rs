//! The vulnerability database in use. An import serialises the database into a blob (content-addressed, in
//! the blob store every node shares) and then points the registry setting [`VULNDB_SETTING`] at it: the swap is
//! that one write, so scans see the old database or the new one, never a mix. Each node loads the blob the
//! setting names when it changes ([`Registry::refresh_vulndb`]).

use std::sync::{Arc, RwLock};

use berth_meta::scans::Evaluation;
use berth_oci::{Algorithm, Digest, DigestHasher};
use berth_vulndb::VulnDb;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt as _;

use super::{advisory_entries, corrupt, evaluate};
use crate::{Registry, Result};

/// The registry setting naming the database in use.
pub const VULNDB_SETTING: &str = "vulndb/current";

/// What [`VULNDB_SETTING`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedDb {
    /// The blob holding the serialised database; also the database's version as reports show it.
    pub blob: String,
    pub source: String,
    pub imported_at: String,
    pub records: usize,
}

/// A loaded database and what the registry setting says about it.
pub type LoadedDb = (ImportedDb, Arc<VulnDb>);

/// The database this node has loaded, shared by the registry's clones.
#[derive(Clone, Default)]
pub struct VulnDbState(Arc<RwLock<Option<LoadedDb>>>);

impl VulnDbState {
    pub fn current(&self) -> Option<LoadedDb> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, imported: ImportedDb, db: Arc<VulnDb>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some((imported, db));
    }
}

impl Registry {
    /// Makes `db` the registry's vulnerability database (stored as a blob, then swapped in with one write).
    pub async fn import_vulndb(&self, db: VulnDb) -> Result<ImportedDb> {
        let db = Arc::new(db);
        let bytes = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                db.write_to(&mut out).map(|()| out)
            })
            .await
            .map_err(|e| corrupt(format!("serialising the vulnerability database: {e}")))?
            .map_err(|e| corrupt(format!("serialising the vulnerability database: {e}")))?
        };
        let digest = Digest::sha256_of(&bytes);
        if self.blobs.stat(&digest).await?.is_none() {
            let id = uuid::Uuid::new_v4().to_string();
            let state = self.blobs.create_upload(&id).await?;
            let mut hasher = DigestHasher::new(Algorithm::Sha256);
            let size = bytes.len() as u64;
            let body = crate::byte_stream(futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
            }));
            let (_, state) = self.blobs.append_upload(&id, &state, 0, body, &mut |c| hasher.update(c)).await?;
            self.blobs.commit_upload(&id, &state, &digest, size).await?;
        }
        let info = db.info();
        let imported = ImportedDb {
            blob: digest.to_string(),
            source: info.source.clone(),
            imported_at: info.imported_at.clone(),
            records: info.records,
        };
        let json = serde_json::to_string(&imported).expect("serialises");
        self.meta.put_registry_setting(VULNDB_SETTING, &json, self.now()).await?;
        self.vulndb.set(imported.clone(), db);
        Ok(imported)
    }

    /// The database the registry setting names (`None` before the first import).
    pub async fn imported_vulndb(&self) -> Result<Option<ImportedDb>> {
        match self.meta.registry_setting(VULNDB_SETTING).await? {
            None => Ok(None),
            Some(json) => Ok(Some(serde_json::from_str(&json).map_err(|e| corrupt(format!("{VULNDB_SETTING}: {e}")))?)),
        }
    }

    /// Loads the database the registry setting names if this node has another one (or none). Returns whether
    /// it changed.
    pub async fn refresh_vulndb(&self) -> Result<bool> {
        let Some(imported) = self.imported_vulndb().await? else {
            return Ok(false);
        };
        if self.vulndb.current().is_some_and(|(loaded, _)| loaded.blob == imported.blob) {
            return Ok(false);
        }
        let digest: Digest = imported.blob.parse().map_err(|_| corrupt(format!("{VULNDB_SETTING}: bad digest")))?;
        let mut reader = self.blobs.open(&digest, None).await?;
        let mut bytes = Vec::with_capacity(reader.len as usize);
        reader.reader.read_to_end(&mut bytes).await.map_err(berth_storage::StorageError::Io)?;
        let db = tokio::task::spawn_blocking(move || VulnDb::read_from(&bytes[..]))
            .await
            .map_err(|e| corrupt(format!("loading the vulnerability database: {e}")))?
            .map_err(|e| corrupt(format!("loading the vulnerability database {digest}: {e}")))?;
        self.vulndb.set(imported, Arc::new(db));
        Ok(true)
    }

    /// The database this node uses now.
    pub fn vulndb(&self) -> Option<LoadedDb> {
        self.vulndb.current()
    }

    /// Re-evaluates every complete scan not yet evaluated against the current database, from its stored
    /// inventory (no layer is read). Returns how many were re-evaluated. Safe to run on every node: a scan
    /// already evaluated against the current database is skipped.
    pub async fn reevaluate_scans(&self) -> Result<usize> {
        let Some((imported, db)) = self.vulndb.current() else {
            return Ok(0);
        };
        let mut done = 0;
        let mut after: Option<(berth_oci::RepositoryName, Digest)> = None;
        loop {
            // Small pages: each scan carries its inventory and findings.
            let page = self.meta.complete_scans(after.as_ref().map(|(r, d)| (r, d)), 32).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.repository.clone(), last.digest.clone()));
            // Evaluated in memory, then recorded together: one transaction per page.
            let mut results = Vec::new();
            for scan in &page {
                if scan.vulndb.as_deref() == Some(imported.blob.as_str()) {
                    continue;
                }
                let Some(inventory) = &scan.inventory else { continue };
                let inventory: berth_scan::Inventory = serde_json::from_slice(inventory)
                    .map_err(|e| corrupt(format!("inventory of {}@{}: {e}", scan.repository, scan.digest)))?;
                let findings = evaluate(&inventory, &db);
                let json = serde_json::to_vec(&findings).expect("serialises");
                results.push((scan, json, advisory_entries(&findings)));
            }
            let evaluations: Vec<Evaluation> = results
                .iter()
                .map(|(scan, json, advisories)| Evaluation {
                    repository: &scan.repository,
                    digest: &scan.digest,
                    findings: json,
                    advisories,
                })
                .collect();
            if !evaluations.is_empty() {
                self.meta.update_findings(&evaluations, &imported.blob, self.now()).await?;
                done += evaluations.len();
            }
        }
        Ok(done)
    }
}
