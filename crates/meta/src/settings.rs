//! Repositories as things of their own: created and deleted explicitly (the ECR-compatible API's
//! `CreateRepository`/`DeleteRepository`), with settings (tag mutability, scan on push, resource tags), and
//! listed with their images.
//!
//! Existence, with this trait: a repository exists while it has a blob link, a manifest, or a settings row.
//! [`RepositorySettingsStore::create_repository`] writes the row, so an empty repository exists and is listed
//! by [`crate::RepositoryStore`] (the catalog); [`RepositorySettingsStore::delete_repository`] removes the row
//! and the content together. A repository created by a push has no row: it has the default settings, and it
//! disappears when its content is deleted, as it always did.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName, Tag};

pub use crate::archive::{ImageStorageState, StatusFilter};
use crate::{Page, Result};

/// Whether a tag may be moved to another manifest once pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagMutability {
    #[default]
    Mutable,
    /// Pushing an existing tag to a different manifest fails with [`crate::MetaError::TagImmutable`].
    Immutable,
}

/// At most this many tag mutability exclusion filters per repository (as ECR).
pub const MAX_MUTABILITY_EXCLUSIONS: usize = 5;

/// Whether `tag` is immutable in a repository with `mutability` and `exclusions`: a tag matching one of the
/// exclusion filters takes the opposite of `mutability`.
pub fn tag_is_immutable(mutability: TagMutability, exclusions: &[String], tag: &str) -> bool {
    let excluded = exclusions.iter().any(|f| wildcard_match(f, tag));
    (mutability == TagMutability::Immutable) != excluded
}

/// ECR's `WILDCARD` filters: `*` matches any run of characters (none included), everything else itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Greedy matching with backtracking to the last star: linear for the patterns ECR allows.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// What `create_repository` records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepositorySettings {
    pub tag_mutability: TagMutability,
    /// Wildcard filters of tags that take the opposite of `tag_mutability` (see [`tag_is_immutable`]).
    pub tag_mutability_exclusions: Vec<String>,
    pub scan_on_push: bool,
    /// Resource tags (key, value); keys are unique (a repeated key keeps the last value).
    pub tags: Vec<(String, String)>,
}

/// A repository as `DescribeRepositories` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryRecord {
    pub name: RepositoryName,
    /// When `create_repository` made it; for a repository created by a push, the time of its oldest blob
    /// link or manifest.
    pub created_at: i64,
    /// Whether it has a settings row (was created explicitly) rather than existing through its content.
    pub explicit: bool,
    pub tag_mutability: TagMutability,
    pub tag_mutability_exclusions: Vec<String>,
    pub scan_on_push: bool,
}

/// What `delete_image` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageDeletion {
    Deleted,
    NotFound,
    /// An index of the repository lists the manifest: nothing was deleted.
    ReferencedByIndex,
}

/// Which images `list_image_ids` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagStatus {
    /// One entry per tag.
    Tagged,
    /// One entry per manifest that has no tag.
    Untagged,
    /// Both.
    #[default]
    Any,
}

/// One image of a repository: a manifest with one of its tags, or an untagged manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageId {
    pub digest: Digest,
    pub tag: Option<Tag>,
}

/// One manifest of a repository as `DescribeImages` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDetail {
    pub digest: Digest,
    /// Its tags, in lexical order.
    pub tags: Vec<Tag>,
    pub media_type: String,
    /// The manifest's own size plus the sizes of the blobs it references (config and layers), each counted
    /// once: the compressed size of the image.
    pub size: u64,
    /// `config.mediaType` of the manifest's content, when it has one.
    pub config_media_type: Option<String>,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    /// Its storage state (`imageStatus`, `lastArchivedAt`, `lastActivatedAt`).
    pub storage: ImageStorageState,
}

#[async_trait]
pub trait RepositorySettingsStore: Send + Sync {
    /// Creates `name` with `settings`. `AlreadyExists` if the repository exists (created explicitly or by
    /// its content).
    async fn create_repository(
        &self,
        name: &RepositoryName,
        settings: &RepositorySettings,
        now: i64,
    ) -> Result<RepositoryRecord>;
    /// `None` when the repository does not exist.
    async fn get_repository(&self, name: &RepositoryName) -> Result<Option<RepositoryRecord>>;
    /// Whether `name` has scan on push set (`false` for a repository without settings or none at all): the
    /// cheap question every manifest push asks.
    async fn scan_on_push(&self, name: &RepositoryName) -> Result<bool>;
    /// Existing repositories in lexical order, paged like [`crate::RepositoryStore::list_repositories`].
    async fn list_repository_records(&self, page: Page<'_>) -> Result<Vec<RepositoryRecord>>;
    /// A repository's resource tags in lexical order of key; `None` when the repository does not exist.
    async fn repository_resource_tags(&self, name: &RepositoryName) -> Result<Option<Vec<(String, String)>>>;
    /// Deletes the repository: its manifests (with their tags), blob links, settings and resource tags, in one
    /// transaction. Returns the repository as it was, or `None` if it did not exist. Unless `force`, a
    /// repository that has a manifest is not touched: `NotEmpty`. The repository's policy, visibility and
    /// usage counters stay (they are kept by name, as when content is deleted through /v2).
    async fn delete_repository(&self, name: &RepositoryName, force: bool) -> Result<Option<RepositoryRecord>>;
    /// The images of `repo` with `status` and storage state `storage`, ordered by digest then tag (an untagged manifest sorts first
    /// among its entries), strictly after `after`, at most `n`; `None` when the repository does not exist.
    async fn list_image_ids(
        &self,
        repo: &RepositoryName,
        status: TagStatus,
        storage: StatusFilter,
        after: Option<&ImageId>,
        n: u32,
    ) -> Result<Option<Vec<ImageId>>>;
    /// Details of the manifests of `repo` with `status` and storage state `storage` (a manifest is tagged when it has a tag), ordered by
    /// digest, strictly after `after`, at most `n`; `None` when the repository does not exist.
    async fn list_image_details(
        &self,
        repo: &RepositoryName,
        status: TagStatus,
        storage: StatusFilter,
        after: Option<&Digest>,
        n: u32,
    ) -> Result<Option<Vec<ImageDetail>>>;
    /// Details of the manifest `digest` of `repo`; `None` when it is not there.
    async fn image_detail(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<ImageDetail>>;
    /// Sets resource tags of `name` (a key it has takes the new value). A repository that exists through its
    /// content gets a settings row with the default settings (it is explicit from then on: resource tags
    /// belong to the settings). `false` when the repository does not exist; `LimitExceeded` (and no change)
    /// when it would then have more than `max_tags` tags — checked in the same transaction.
    async fn tag_repository(&self, name: &RepositoryName, tags: &[(String, String)], max_tags: usize) -> Result<bool>;
    /// Removes the resource tags of `name` with `keys` (keys it does not have are ignored). `false` when the
    /// repository does not exist.
    async fn untag_repository(&self, name: &RepositoryName, keys: &[String]) -> Result<bool>;
    /// Sets the tag mutability of `name` (a repository created by a push becomes explicit, as with
    /// `tag_repository`). Tags already pushed stay where they are. `None` when the repository does not exist.
    async fn set_tag_mutability(
        &self,
        name: &RepositoryName,
        mutability: TagMutability,
        exclusions: &[String],
    ) -> Result<Option<RepositoryRecord>>;
    /// Deletes the manifest `digest` of `repo` (with its tags) unless an index of the repository lists it, in
    /// one transaction.
    async fn delete_image(&self, repo: &RepositoryName, digest: &Digest) -> Result<ImageDeletion>;
    /// Sets (or with `None` removes) the pull policy of `name` (a JSON document); `false` when the repository
    /// does not exist.
    async fn set_pull_policy(&self, name: &RepositoryName, policy: Option<&str>) -> Result<bool>;
    /// The pull policy of `name`, `None` when it has none (or does not exist).
    async fn pull_policy(&self, name: &RepositoryName) -> Result<Option<String>>;
    /// Sets whether images pushed to `name` are scanned; `None` when the repository does not exist.
    async fn set_scan_on_push(&self, name: &RepositoryName, scan_on_push: bool) -> Result<Option<RepositoryRecord>>;
    /// A registry-wide setting (a JSON document) by name; `None` when it was never set.
    async fn registry_setting(&self, name: &str) -> Result<Option<String>>;
    /// Sets a registry-wide setting, replacing its value.
    async fn put_registry_setting(&self, name: &str, value: &str, now: i64) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_ecr_filters() {
        for (p, t, want) in [
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("*", "", true),
            ("*", "anything", true),
            ("release-*", "release-1.2", true),
            ("release-*", "release-", true),
            ("release-*", "prerelease-1", false),
            ("*-dev", "feature-x-dev", true),
            ("*-dev", "feature-x-dev2", false),
            ("v*.*.*", "v1.2.3", true),
            ("v*.*.*", "v1.2", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("**", "x", true),
        ] {
            assert_eq!(wildcard_match(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn exclusions_invert_the_mutability() {
        let ex = vec!["latest".to_string(), "dev-*".to_string()];
        assert!(tag_is_immutable(TagMutability::Immutable, &ex, "v1"));
        assert!(!tag_is_immutable(TagMutability::Immutable, &ex, "latest"));
        assert!(!tag_is_immutable(TagMutability::Immutable, &ex, "dev-42"));
        assert!(!tag_is_immutable(TagMutability::Mutable, &ex, "v1"));
        assert!(tag_is_immutable(TagMutability::Mutable, &ex, "dev-42"));
        assert!(tag_is_immutable(TagMutability::Immutable, &[], "latest"));
        assert!(!tag_is_immutable(TagMutability::Mutable, &[], "latest"));
    }
}
