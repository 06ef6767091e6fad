//! berth's use cases: what happens on a push, a pull, a mount, a delete, a referrers query, and how the
//! store is checked for consistency. This crate knows repositories, blobs and manifests; it knows no HTTP
//! (the `api` crate maps [`RegistryError`] onto responses) and picks no backend (the binary does).
//!
//! Invariants kept here:
//! - A blob is linked to a repository only after the storage backend committed its verified bytes.
//! - A manifest is stored only if every blob and child manifest it references is in the repository; the
//!   metadata store re-checks this inside the transaction that stores it, so a concurrent delete cannot slip
//!   in between.
//! - Time comes from a [`Clock`], never read inside the rules.

pub mod archive;
mod blobs;
pub mod catalog;
mod clock;
pub mod deleted;
pub mod encryption;
mod error;
pub mod events;
mod fsck;
pub mod gc;
pub mod gc_jobs;
pub mod jobs;
pub mod lifecycle;
mod manifests;
pub mod meter;
mod monitoring;
mod pulls;
pub mod quotas;
mod recovery;
mod repositories;
pub mod scanning;
mod settings;
pub mod signing;
pub mod templates;
mod uploads;
mod usage;
pub mod webhooks;

use std::sync::Arc;

use berth_meta::MetaStore;
use berth_storage::BlobStore;

pub use blobs::{BlobContent, ByteRange};
pub use clock::{Clock, SystemClock};
pub use error::RegistryError;
pub use fsck::{FsckOptions, FsckReport};
pub use manifests::{ManifestRead, PushedManifest, TagPage};
pub use pulls::{MAX_PULL_EXCLUSIONS, PullRecorder, principal_label};
pub use recovery::RebuildReport;
pub use repositories::Paged;
pub use settings::{AccountSetting, RepositoryScanning, ScanFrequency, ScanRule, ScanType, ScanningConfiguration};
pub use uploads::{UploadProgress, byte_stream};

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Hashes everything `reader` yields (used where bytes were not hashed while streaming in).
pub(crate) async fn hash_reader(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    algorithm: berth_oci::Algorithm,
) -> std::io::Result<berth_oci::Digest> {
    use tokio::io::AsyncReadExt as _;
    let mut hasher = berth_oci::DigestHasher::new(algorithm);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

/// Limits and tunables of the registry core.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
    /// Advertised as `OCI-Chunk-Min-Length` (0 = no minimum).
    pub chunk_min_length: u64,
    /// Page size of `_catalog` when the client does not ask for one.
    pub default_catalog_page: u32,
    /// Upload sessions open at once in one repository (`None`: no cap); a new one beyond is refused.
    pub max_open_uploads_per_repository: Option<u64>,
    /// Upload sessions open at once by one principal, in every repository (`None`: no cap).
    pub max_open_uploads_per_principal: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_bytes: 4 * 1024 * 1024,
            chunk_min_length: 0,
            default_catalog_page: 1000,
            max_open_uploads_per_repository: Some(1000),
            max_open_uploads_per_principal: Some(200),
        }
    }
}

/// The registry: metadata + blob storage + clock. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    pulls: PullRecorder,
    meter: meter::Meter,
    busy_uploads: uploads::BusySet,
    vulndb: scanning::VulnDbState,
    scanning_config: settings::CachedScanning,
    pull_policies: scanning::PolicyCache,
    /// Job handlers and schedules, this node's running jobs, the idle workers' wake-up.
    jobs: jobs::Jobs,
    layer_memo: scanning::LayerMemo,
    /// Garbage collection's settings.
    gc: gc::GcSettings,
    /// Names this process's blob commits (`gc_blob_commits.owner`).
    instance: Arc<str>,
    /// Called with each repository a creation template created.
    created_hooks: templates::CreatedHooks,
    /// How long deleted images and repositories stay restorable (zero: deletes are final).
    soft_delete_window: std::time::Duration,
    /// Signing keys' master key, and the caches of keys, requirements and verdicts.
    signing: Arc<signing::SigningState>,
    /// Webhook settings, the pull sampler and the cached subscriptions.
    webhooks: Arc<webhooks::Webhooks>,
}

impl Registry {
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        let pulls = PullRecorder::new(meta.clone(), clock.clone());
        let meter = meter::Meter::new(meta.clone(), clock.clone());
        let registry = Registry {
            meta,
            blobs,
            clock,
            limits,
            pulls,
            meter,
            busy_uploads: Default::default(),
            vulndb: Default::default(),
            scanning_config: Default::default(),
            pull_policies: Default::default(),
            jobs: Default::default(),
            layer_memo: Default::default(),
            gc: Default::default(),
            instance: uuid::Uuid::new_v4().to_string().into(),
            created_hooks: Default::default(),
            soft_delete_window: std::time::Duration::ZERO,
            signing: Default::default(),
            webhooks: Default::default(),
        };
        // Built-in kinds; other kinds are registered by whoever builds the registry.
        registry.register_job_handler(Arc::new(scanning::ScanHandler));
        registry.register_job_handler(archive::handler());
        registry.register_job_handler(Arc::new(gc_jobs::GcHandler));
        registry.register_job_handler(Arc::new(encryption::EncryptExistingHandler));
        registry.register_job_handler(Arc::new(lifecycle::PreviewHandler));
        registry.register_job_handler(Arc::new(signing::SignHandler));
        registry
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Pull statistics are batched in memory; this writes what is pending (call periodically and on shutdown).
    pub fn pull_recorder(&self) -> &PullRecorder {
        &self.pulls
    }

    /// The registry's time (Unix seconds), which the rate limits' windows follow too.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
