//! Storage accounting: what each repository stores, how much of it is its own, shared or reclaimable, and
//! how much deduplication saves registry-wide. Computed in SQL from the blob links, manifests and tags.
//!
//! Definitions (the README's "Quotas and storage usage" repeats them for users):
//! * A repository's **total** is the size of every blob linked to it, each once, plus its manifests.
//! * **Exclusive**: its manifests plus the blobs linked to no other repository; **shared**: blobs also linked
//!   to at least one other repository. `exclusive + shared = total`.
//! * **Reclaimable**: what deleting the repository's untagged, unreferenced images and unlinking the blobs
//!   no remaining image uses would take off its total. An image is *kept* when it is tagged, listed by a kept
//!   index, or a referrer (signature, SBOM, ...) whose subject is kept; every other manifest, and every
//!   linked blob no kept manifest references, is reclaimable. Bytes also linked elsewhere leave the
//!   repository's total but not the disk.
//! * Registry-wide, **stored** is what the registry holds once (every blob row, each once, plus every
//!   manifest) and **logical** the sum of the repositories' totals; `logical / (stored - unlinked)` is the
//!   deduplication ratio (unlinked blobs await garbage collection).

use async_trait::async_trait;
use berth_oci::RepositoryName;

use crate::{Page, Result};

/// One repository's storage, as [`AccountingStore`] computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageAccount {
    pub name: RepositoryName,
    /// Linked blobs (each once) plus manifests.
    pub total_bytes: u64,
    /// Manifests plus blobs linked to no other repository.
    pub exclusive_bytes: u64,
    /// Blobs also linked to another repository.
    pub shared_bytes: u64,
    /// Untagged, unreferenced manifests plus linked blobs no kept manifest references.
    pub reclaimable_bytes: u64,
    /// Of `total_bytes`, the manifests' own bytes.
    pub manifest_bytes: u64,
    /// Linked blobs.
    pub blobs: u64,
    /// Manifests (images, indexes, artifacts).
    pub images: u64,
}

/// The registry's storage as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryStorage {
    /// Every stored blob once, plus every manifest.
    pub stored_bytes: u64,
    /// The sum of the existing repositories' totals (a blob linked to n repositories counts n times).
    pub logical_bytes: u64,
    /// Bytes of stored blobs linked to no repository (garbage collection's to reclaim).
    pub unlinked_bytes: u64,
    /// Stored blobs.
    pub blobs: u64,
    /// Existing repositories.
    pub repositories: u64,
}

impl RegistryStorage {
    /// `logical / (stored - unlinked)` (1 for an empty registry): how many times over the repositories would
    /// store what the registry stores once. Unlinked blobs are garbage awaiting collection, not deduplication,
    /// so they are left out.
    pub fn dedup_ratio(&self) -> f64 {
        let referenced = self.stored_bytes.saturating_sub(self.unlinked_bytes);
        if referenced == 0 { 1.0 } else { self.logical_bytes as f64 / referenced as f64 }
    }
}

#[async_trait]
pub trait AccountingStore: Send + Sync {
    /// Accounts of existing repositories in lexical (byte) order of name, one page.
    async fn storage_accounts(&self, page: Page<'_>) -> Result<Vec<StorageAccount>>;
    /// One repository's account, `None` when it does not exist.
    async fn storage_account(&self, repo: &RepositoryName) -> Result<Option<StorageAccount>>;
    async fn registry_storage(&self) -> Result<RegistryStorage>;
}
