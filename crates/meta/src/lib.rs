//! The metadata store: everything berth knows about repositories, manifests, tags, blob links, upload
//! sessions and usage. All SQL lives in this crate.
//!
//! Callers see narrow role traits ([`RepositoryStore`], [`BlobIndex`], [`ManifestStore`], [`UploadStore`],
//! [`UsageStore`], [`settings::RepositorySettingsStore`], the job queue [`jobs::JobStore`]) gathered in [`MetaStore`]; the SQLite backend
//! ([`SqliteMeta`]) implements them all, and so does the PostgreSQL backend ([`PgMeta`]), for several nodes
//! sharing one database: both pass the same conformance suite. Identities and access (users, access keys,
//! groups, policies, repository visibility, robot tokens, signing keys, the audit log) have role traits of
//! their own in [`identity`], gathered in [`identity::IdentityMeta`].
//!
//! Times are Unix seconds passed in by the caller (the registry owns the clock), never read here.
//! Manifests are stored in full in the metadata store (they are bounded in size), so a manifest and the rows
//! that describe it are written in one transaction.
//!
//! Durability: once a mutating method has returned `Ok`, its effect survives a crash or power loss. The
//! exceptions are the statistics, [`ManifestStore::record_pull`], [`UsageStore::add_usage`] and
//! [`identity::AccessKeyStore::touch_access_key`], whose latest updates may be lost.

pub mod accounting;
pub mod archive;
pub mod catalog;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod deleted;
pub mod exclusions;
pub mod gc;
pub mod identity;
pub mod image_signing;
pub mod jobs;
pub mod lifecycle;
pub mod meter;
pub mod monitoring;
#[cfg(any(test, feature = "conformance"))]
pub mod pg_harness;
mod postgres;
pub mod quotas;
pub mod ratelimits;
pub mod recovery;
pub mod scans;
pub mod settings;
mod sqlite;
pub mod summaries;
pub mod templates;
pub mod transfer;
pub mod webhooks;

use async_trait::async_trait;
use berth_oci::{Digest, Reference, RepositoryName, Tag};

pub use postgres::PgMeta;
pub use sqlite::SqliteMeta;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// A manifest references a blob that is not linked to its repository.
    #[error("blob {0} is not known in this repository")]
    MissingBlob(Digest),
    /// An index references a manifest that is not in its repository.
    #[error("manifest {0} is not known in this repository")]
    MissingManifest(Digest),
    /// A named thing (user, group, access key, token) already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A named thing the operation needs does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// A repository that has images cannot be deleted without `force`.
    #[error("{0} is not empty")]
    NotEmpty(String),
    /// The repository's tags are immutable and the tag already points at another manifest.
    #[error("tag {tag} already exists in {repository}, whose tags are immutable")]
    TagImmutable { repository: String, tag: String },
    /// A limit on how many of something a resource may have would be exceeded; nothing changed.
    #[error("{0}")]
    LimitExceeded(String),
    /// The caller's guard ([`quotas::LinkGuard`]) refused a change; nothing changed.
    #[error("{0}")]
    Refused(String),
    /// A compare-and-set on an upload session lost (another request changed it first).
    #[error("upload session changed concurrently")]
    Conflict,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;

/// A manifest to store, with everything derived from parsing it.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub repository: RepositoryName,
    pub digest: Digest,
    pub media_type: String,
    pub content: Vec<u8>,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    /// The manifest's `annotations` as JSON (served in referrers responses).
    pub annotations: Option<String>,
    pub config_digest: Option<Digest>,
    /// Blobs the manifest needs in the repository (config and non-foreign layers).
    pub blobs: Vec<Digest>,
    /// Manifests an index references.
    pub children: Vec<Digest>,
    /// For an index: JSON array of the children's platforms (null entries where a child has none).
    pub platforms: Option<String>,
    pub pushed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub content: Vec<u8>,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    /// Its storage state: only an `ACTIVE` image may be pulled.
    pub status: archive::ImageStatus,
}

/// One entry of a referrers response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    /// JSON object, as stored from the manifest's `annotations`.
    pub annotations: Option<String>,
}

/// What [`ManifestStore::untag_image`] did, and to which manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untagging {
    /// No such tag.
    NotFound,
    /// The tag is gone; the manifest stays (it has other tags, or deleting it was not asked for).
    Untagged(Digest),
    /// The tag was the manifest's last: both are gone.
    Deleted(Digest),
    /// The tag was the manifest's last, and an index of the repository lists the manifest: nothing changed.
    ReferencedByIndex(Digest),
}

/// An upload session as the metadata store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// UUID string, also the storage backend's session id.
    pub id: String,
    pub repository: RepositoryName,
    /// Bytes received and durable so far.
    pub size: u64,
    /// Serialised running hash (`DigestHasher::save`).
    pub hash_state: Vec<u8>,
    /// Storage backend state (`berth_storage::UploadState`).
    pub backend_state: Vec<u8>,
    /// Who started the session: a principal label such as `user/alice`, `robot/ci` or `anonymous`; empty for
    /// sessions started before owners were recorded.
    pub owner: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSession")
            .field("id", &self.id)
            .field("repository", &self.repository)
            .field("size", &self.size)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// How many upload sessions may already be open when one more is created (`None`: no cap). The store checks
/// them in the same transaction as the insert, so concurrent creations cannot overshoot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadCaps {
    /// Open sessions in the new session's repository.
    pub per_repository: Option<u64>,
    /// Open sessions of the new session's owner, in every repository.
    pub per_owner: Option<u64>,
}

/// Bytes moved for one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub pulls: u64,
}

/// A repository's storage and traffic, as the usage report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryUsage {
    pub name: RepositoryName,
    /// Bytes of the blobs linked to the repository and of its manifests (a blob shared by several
    /// repositories counts in each).
    pub stored_bytes: u64,
    /// Manifests in the repository (images, indexes and artifacts).
    pub images: u64,
    /// Transfer since the repository was first used.
    pub usage: Usage,
}

/// One day of usage (`day`: Unix seconds of 00:00 UTC), for one repository or summed over all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageDay {
    pub day: i64,
    /// The day's latest storage snapshot; `None` when none was taken that day.
    pub stored_bytes: Option<u64>,
    pub images: Option<u64>,
    /// What the day added to the counters.
    pub usage: Usage,
}

/// Seconds in a day: days of usage start at 00:00 UTC.
pub const DAY: i64 = 86_400;

/// A page request: entries strictly after `last`, at most `n` (`n = 0` yields nothing; pass `u32::MAX` for
/// "all"). Order is lexical by bytes (`"B" < "a"`).
#[derive(Debug, Clone, Default)]
pub struct Page<'a> {
    pub last: Option<&'a str>,
    pub n: u32,
}

/// A repository exists while it has at least one blob link or one manifest, or was created explicitly
/// ([`settings::RepositorySettingsStore::create_repository`]) and not deleted: pushing creates it, and
/// deleting everything in a repository that was not created explicitly removes it from the catalog. Starting
/// an upload does not create it.
#[async_trait]
pub trait RepositoryStore: Send + Sync {
    /// Repository names in lexical order (the `_catalog`).
    async fn list_repositories(&self, page: Page<'_>) -> Result<Vec<RepositoryName>>;
    async fn repository_exists(&self, name: &RepositoryName) -> Result<bool>;
}

#[async_trait]
pub trait BlobIndex: Send + Sync {
    /// Records that the committed blob `digest` of `size` bytes belongs to `repo` (creating the repository
    /// if needed). Idempotent.
    async fn link_blob(&self, repo: &RepositoryName, digest: &Digest, size: u64, now: i64) -> Result<()>;
    /// Size of `digest` if it is linked to `repo`.
    async fn linked_blob_size(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<u64>>;
    /// Removes the link; returns whether there was one. The bytes stay until garbage collection.
    async fn unlink_blob(&self, repo: &RepositoryName, digest: &Digest) -> Result<bool>;
    /// Links to `repo` the blob `from` has (a cross-repository mount), checking in the same transaction that
    /// `from` still links it, so garbage collection cannot remove it in between, and that `guard` allows the
    /// link ([`MetaError::Refused`] if not). Returns its size, or `None` when `from` does not link it.
    async fn mount_blob(
        &self,
        repo: &RepositoryName,
        from: &RepositoryName,
        digest: &Digest,
        now: i64,
        guard: &dyn quotas::LinkGuard,
    ) -> Result<Option<u64>>;
    /// Every known blob with its size (for `fsck`).
    async fn all_blobs(&self) -> Result<Vec<(Digest, u64)>>;
}

#[async_trait]
pub trait ManifestStore: Send + Sync {
    /// Stores a manifest and points `tags` at it, in one transaction. Fails with `MissingBlob` /
    /// `MissingManifest` if a reference is not in the repository at commit time. Storing an existing digest
    /// again only moves the tags. A tag moves atomically (last writer wins), except in a repository whose
    /// tags are immutable, where moving an existing tag to another manifest fails with `TagImmutable`.
    async fn put_manifest(&self, manifest: &NewManifest, tags: &[Tag]) -> Result<()>;
    async fn get_manifest(&self, repo: &RepositoryName, reference: &Reference) -> Result<Option<StoredManifest>>;
    /// Deletes a manifest and every tag pointing at it; returns whether it existed.
    async fn delete_manifest(&self, repo: &RepositoryName, digest: &Digest) -> Result<bool>;
    /// Deletes one tag; returns whether it existed.
    async fn delete_tag(&self, repo: &RepositoryName, tag: &Tag) -> Result<bool>;
    /// Removes `tag`, in one transaction. With `delete_if_last`, removing the manifest's last tag deletes the
    /// manifest too (ECR's `BatchDeleteImage` by tag), unless an index of the repository lists it: then
    /// nothing changes and the answer is [`Untagging::ReferencedByIndex`].
    async fn untag_image(&self, repo: &RepositoryName, tag: &Tag, delete_if_last: bool) -> Result<Untagging>;
    /// Tags in lexical order, or `None` when the repository does not exist.
    async fn list_tags(&self, repo: &RepositoryName, page: Page<'_>) -> Result<Option<Vec<String>>>;
    /// Manifests of `repo` whose `subject` is `subject`, optionally only those of `artifact_type`.
    async fn list_referrers(
        &self,
        repo: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>>;
    /// Sets `last_pulled_at` of a manifest; it never moves backwards (concurrent pulls may be recorded out
    /// of order). An unknown manifest is ignored. Not guaranteed durable (a statistic).
    async fn record_pull(&self, repo: &RepositoryName, digest: &Digest, now: i64) -> Result<()>;
    /// Every (repository, blob) reference of every manifest, for `fsck`.
    async fn all_manifest_blob_refs(&self) -> Result<Vec<(RepositoryName, Digest, Digest)>>;
    /// The manifests of `repo` that reference the blob `blob` (as config or layer), at most `limit`, in
    /// digest order.
    async fn manifests_with_blob(&self, repo: &RepositoryName, blob: &Digest, limit: u32) -> Result<Vec<Digest>>;
}

#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Fails with `Conflict` if a session with the same id exists, and with `LimitExceeded` (nothing created)
    /// if its repository or its owner already has as many open sessions as `caps` allow.
    async fn create_upload(&self, session: &UploadSession, caps: UploadCaps) -> Result<()>;
    async fn get_upload(&self, id: &str) -> Result<Option<UploadSession>>;
    /// Compare-and-set: updates size and states only if the stored size is still `expected_size`,
    /// else `Conflict` (also when the session no longer exists).
    async fn update_upload(
        &self,
        id: &str,
        expected_size: u64,
        new_size: u64,
        hash_state: &[u8],
        backend_state: &[u8],
        now: i64,
    ) -> Result<()>;
    /// How many bytes the last successful `update_upload` of session `id` added (0 before the first one),
    /// `None` for an unknown session. ECR's layer parts must be at least 5 MiB except the last.
    async fn upload_last_part(&self, id: &str) -> Result<Option<u64>>;
    /// Idempotent.
    async fn delete_upload(&self, id: &str) -> Result<()>;
    /// Sessions not updated since `before`, i.e. with `updated_at < before` (for expiry).
    async fn stale_uploads(&self, before: i64) -> Result<Vec<UploadSession>>;
    async fn all_upload_ids(&self) -> Result<Vec<String>>;
}

#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds to a repository's counters and to those of the day `now` falls in, in one transaction (the
    /// repository must exist; unknown repositories are ignored). Not guaranteed durable (statistics).
    async fn add_usage(&self, repo: &RepositoryName, bytes_in: u64, bytes_out: u64, pulls: u64, now: i64)
    -> Result<()>;
    async fn usage(&self, repo: &RepositoryName) -> Result<Usage>;
    /// Records the storage of every existing repository (stored bytes, manifests) as the snapshot of the day
    /// `now` falls in, replacing an earlier snapshot of that day. Not guaranteed durable (statistics).
    async fn record_storage(&self, now: i64) -> Result<()>;
    /// Storage and transfer of existing repositories in lexical order of name, one page.
    async fn repository_usage(&self, page: Page<'_>) -> Result<Vec<RepositoryUsage>>;
    /// Days from `since` on (oldest first) that have a row: of `repo`, or summed over every repository.
    async fn usage_days(&self, repo: Option<&RepositoryName>, since: i64) -> Result<Vec<UsageDay>>;
    /// Every stored blob, each once: (count, bytes).
    async fn blob_totals(&self) -> Result<(u64, u64)>;
}

/// Everything the registry needs from metadata.
pub trait MetaStore:
    RepositoryStore
    + BlobIndex
    + ManifestStore
    + UploadStore
    + UsageStore
    + settings::RepositorySettingsStore
    + summaries::RepositorySummaryStore
    + scans::ScanStore
    + jobs::JobStore
    + recovery::RecoveryStore
    + catalog::CatalogStore
    + gc::GcStore
    + lifecycle::LifecycleStore
    + accounting::AccountingStore
    + quotas::QuotaStore
    + templates::TemplateStore
    + deleted::SoftDeleteStore
    + monitoring::MonitoringStore
    + exclusions::PullExclusionStore
    + archive::ImageStorageStore
    + ratelimits::RateLimitStore
    + meter::MeterStore
    + image_signing::ImageSigningKeyStore
    + webhooks::WebhookStore
{
}
impl<T> MetaStore for T where
    T: RepositoryStore
        + BlobIndex
        + ManifestStore
        + UploadStore
        + UsageStore
        + settings::RepositorySettingsStore
        + summaries::RepositorySummaryStore
        + scans::ScanStore
        + jobs::JobStore
        + recovery::RecoveryStore
        + catalog::CatalogStore
        + gc::GcStore
        + lifecycle::LifecycleStore
        + accounting::AccountingStore
        + quotas::QuotaStore
        + templates::TemplateStore
        + deleted::SoftDeleteStore
        + monitoring::MonitoringStore
        + exclusions::PullExclusionStore
        + archive::ImageStorageStore
        + ratelimits::RateLimitStore
        + meter::MeterStore
        + image_signing::ImageSigningKeyStore
        + webhooks::WebhookStore
{
}
