//! Vulnerability scanning state: each image's latest scan and the per-layer analysis cache. Scans run as
//! `scan` jobs of the job queue ([`crate::jobs`]). Inventories, findings and analyses are opaque JSON documents owned by the
//! scanning layer above.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};

use crate::Result;
use crate::jobs::NewJob;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    InProgress,
    Complete,
    Failed,
}

impl ScanStatus {
    /// ECR's `ScanStatus` names.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::InProgress => "IN_PROGRESS",
            ScanStatus::Complete => "COMPLETE",
            ScanStatus::Failed => "FAILED",
        }
    }
}

/// The latest scan of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageScan {
    pub repository: RepositoryName,
    pub digest: Digest,
    pub status: ScanStatus,
    /// Why a scan failed, or a short progress note.
    pub description: Option<String>,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    /// The package inventory (JSON) a complete scan read.
    pub inventory: Option<Vec<u8>>,
    /// The findings (JSON) of the last evaluation.
    pub findings: Option<Vec<u8>>,
    /// The SBOM stored as a referrer of the image.
    pub sbom_digest: Option<Digest>,
    /// The vulnerability database the findings were evaluated against.
    pub vulndb: Option<String>,
    pub evaluated_at: Option<i64>,
}

/// What the scan index answers about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Keyed by package name in lower case.
    Package,
    /// Keyed by advisory id and by each of its aliases.
    Advisory,
}

/// One entry of an image's scan index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexEntry {
    pub key: String,
    pub detail: String,
}

/// What a scan adds to the index: packages (keyed by lower-case name) and advisories (by id and alias).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanIndex {
    pub packages: Vec<IndexEntry>,
    pub advisories: Vec<IndexEntry>,
}

/// An image an index lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHit {
    pub repository: RepositoryName,
    pub digest: Digest,
    pub detail: String,
}

/// One image's re-evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    pub repository: &'a RepositoryName,
    pub digest: &'a Digest,
    /// The findings (JSON).
    pub findings: &'a [u8],
    /// Its advisory index entries (replacing the previous ones).
    pub advisories: &'a [IndexEntry],
}

#[async_trait]
pub trait ScanStore: Send + Sync {
    /// Queues `job` (a scan of the manifest `digest` of `repo`) and marks the image's scan `IN_PROGRESS`, in
    /// one transaction. `false` when a live job of the same (kind, key) exists (nothing changes) or the
    /// manifest is not there.
    async fn enqueue_scan(&self, repo: &RepositoryName, digest: &Digest, job: &NewJob, now: i64) -> Result<bool>;
    /// Records `scan` as the image's latest with its index entries (packages and advisories; both replaced),
    /// in one transaction. Nothing is recorded if the image was deleted meanwhile.
    async fn finish_scan(&self, scan: &ImageScan, index: &ScanIndex) -> Result<()>;
    /// Sets the description of an image's scan while it is `IN_PROGRESS` (its progress).
    async fn scan_progress(&self, repo: &RepositoryName, digest: &Digest, description: &str) -> Result<()>;
    async fn image_scan(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<ImageScan>>;
    /// Complete scans in (repository, digest) order strictly after `after`, at most `n`.
    async fn complete_scans(&self, after: Option<(&RepositoryName, &Digest)>, n: u32) -> Result<Vec<ImageScan>>;
    /// Records re-evaluations of complete scans against database `vulndb`: each image's findings and its
    /// advisory index entries, all in one transaction (images deleted meanwhile are skipped).
    async fn update_findings(&self, evaluations: &[Evaluation<'_>], vulndb: &str, now: i64) -> Result<()>;
    /// Images whose index has `key` under `kind`, ordered by repository and digest, at most `limit` entries.
    async fn lookup_scan_index(&self, kind: IndexKind, key: &str, limit: u32) -> Result<Vec<IndexHit>>;
    async fn layer_analysis(&self, digest: &Digest) -> Result<Option<Vec<u8>>>;
    async fn put_layer_analysis(&self, digest: &Digest, analysis: &[u8], now: i64) -> Result<()>;
}
