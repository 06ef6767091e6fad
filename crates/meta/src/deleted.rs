//! Soft delete (migration 0018): a deleted image or repository leaves the live tables at once — so every
//! listing, pull and count of live content stops seeing it without knowing about soft delete — and is kept
//! in tombstone tables (`deleted_repositories`, `deleted_images`, `deleted_image_blobs`) until its
//! `purge_after`. The tombstone's blob references keep the blob rows, and so the bytes, from garbage
//! collection; purging deletes the tombstone, whose trigger queues those blobs for review.
//!
//! What a tombstone keeps: the manifest row's columns, its tags and index children, and the blobs it needs;
//! for a repository, its settings (mutability, scan on push, pull policy, resource tags, lifecycle policy) and
//! all its images. Scan results, statistics and lifecycle previews are not kept (a restored image can be
//! scanned again). A restore re-links the blobs, re-inserts the manifest and gives back each tag that no
//! other image has taken meanwhile.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName, Tag};
use serde::{Deserialize, Serialize};

use crate::settings::{ImageDeletion, RepositoryRecord};
use crate::{Result, Untagging};

/// When a deletion happens and until when it stays restorable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub now: i64,
    /// The tombstone is purged once the clock reaches it.
    pub purge_after: i64,
}

/// What removing a manifest's last tag does to the manifest: each backend has one untagging routine, serving
/// `untag_image` (keep or delete) and `soft_untag_image` (tombstone).
#[derive(Debug, Clone, Copy)]
pub(crate) enum LastTag {
    Keep,
    Delete,
    Tombstone(Retention),
}

/// A soft-deleted image, as the listing of restorable images shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedImage {
    pub repository: RepositoryName,
    pub digest: Digest,
    pub media_type: String,
    /// The manifest's size plus its blobs', each once (as [`crate::settings::ImageDetail::size`]).
    pub size: u64,
    /// The tags it had when it was deleted, in lexical order.
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub deleted_at: i64,
    pub purge_after: i64,
}

/// A soft-deleted repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRepository {
    pub name: RepositoryName,
    pub created_at: i64,
    pub deleted_at: i64,
    pub purge_after: i64,
    /// Images deleted with it.
    pub images: u64,
    /// Their bytes (manifests and blobs, a blob shared by several counted once).
    pub bytes: u64,
}

/// What restoring one image did with its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagsRestored {
    /// Tags pointing at the image again.
    pub restored: Vec<String>,
    /// Tags another image has taken since the deletion: left where they are.
    pub taken: Vec<String>,
}

/// What a repository restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryRestored {
    pub images: u64,
    pub tags: TagsRestored,
}

/// Why a restore did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreRefusal {
    /// Nothing of that name is restorable (never deleted, purged, or replaced by a push).
    NotFound,
    /// An image's repository is itself deleted: restore the repository first.
    RepositoryDeleted,
    /// A repository of that name exists again.
    NameTaken,
}

/// What a purge deleted for good.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Images deleted on their own.
    pub images: Vec<(RepositoryName, Digest)>,
    /// Repositories, with how many images each took with it.
    pub repositories: Vec<(RepositoryName, u64)>,
}

/// A repository's settings as a tombstone keeps them (JSON in `deleted_repositories.settings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsSnapshot {
    pub created_at: i64,
    /// `MUTABLE` or `IMMUTABLE`, as stored.
    pub image_tag_mutability: String,
    /// As stored (a JSON array or absent).
    pub tag_mutability_exclusions: Option<String>,
    pub scan_on_push: bool,
    pub pull_policy: Option<String>,
    #[serde(default)]
    pub resource_tags: Vec<(String, String)>,
    pub lifecycle_policy: Option<(String, i64)>,
}

/// Tags or children of a tombstone, as the JSON arrays stored in it.
pub(crate) fn encode_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn decode_list(what: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| crate::MetaError::Corrupt(format!("{what}: {e}")))
}

/// Restore outcome: what happened, or why nothing did.
pub type Restore<T> = std::result::Result<T, RestoreRefusal>;

/// Soft-deleted images and repositories. Each method is one transaction; the deletions do what their
/// counterparts of [`crate::ManifestStore`] and [`crate::settings::RepositorySettingsStore`] do, but keep a
/// tombstone until `retention.purge_after`.
#[async_trait]
pub trait SoftDeleteStore: Send + Sync {
    /// Deletes the manifest `digest` of `repo` with its tags, keeping it restorable. With `check_index`, a
    /// manifest that an index of the repository lists is not touched ([`ImageDeletion::ReferencedByIndex`]).
    async fn soft_delete_image(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        check_index: bool,
        retention: Retention,
    ) -> Result<ImageDeletion>;
    /// [`crate::ManifestStore::untag_image`] with `delete_if_last`, keeping a deleted manifest restorable.
    async fn soft_untag_image(&self, repo: &RepositoryName, tag: &Tag, retention: Retention) -> Result<Untagging>;
    /// [`crate::settings::RepositorySettingsStore::delete_repository`], keeping the repository (settings and
    /// images) restorable. Images of it deleted earlier stay restorable on their own.
    async fn soft_delete_repository(
        &self,
        name: &RepositoryName,
        force: bool,
        retention: Retention,
    ) -> Result<Option<RepositoryRecord>>;
    /// Images of `repo` deleted on their own and not purged yet, by digest.
    async fn deleted_images(&self, repo: &RepositoryName) -> Result<Vec<DeletedImage>>;
    /// Deleted repositories not purged yet, by name.
    async fn deleted_repositories(&self) -> Result<Vec<DeletedRepository>>;
    /// Brings a deleted image back (blobs linked again, manifest, each tag no other image took).
    async fn restore_image(&self, repo: &RepositoryName, digest: &Digest, now: i64) -> Result<Restore<TagsRestored>>;
    /// Brings a deleted repository back with its settings and images; refused while a repository of that
    /// name exists.
    async fn restore_repository(&self, name: &RepositoryName, now: i64) -> Result<Restore<RepositoryRestored>>;
    /// Forgets the tombstone of `name` at once (a repository created under its name replaces it).
    async fn purge_deleted_repository(&self, name: &RepositoryName) -> Result<bool>;
    /// Deletes for good every tombstone whose `purge_after` is at or before `now`. Concurrent purges (several
    /// nodes) each report only what they deleted.
    async fn purge_deleted(&self, now: i64) -> Result<Purged>;
    /// Bytes held only by tombstones: blobs no live manifest references, and the deleted manifests themselves.
    async fn deleted_bytes(&self) -> Result<u64>;
}
