//! Vulnerability scanning: which images are scanned and when, the scan itself (layers → inventory → SBOM
//! referrer → findings), and the vulnerability database the findings come from.
//!
//! Scans are `scan` jobs of the job runtime ([`crate::jobs`], handler [`ScanHandler`]): queued on push
//! (repository `scanOnPush` or a registry rule) and on demand; stored inventories are re-evaluated whenever a
//! new database is imported. Any node's worker claims a job with a lease it renews while it works, so a scan
//! survives a restart or a crashed node. Layer analyses are cached by layer digest: a base layer shared by many images
//! is read once.

mod database;
mod findings;
mod policy;
mod worker;

use berth_meta::scans::{ImageScan, IndexEntry, IndexHit, IndexKind, ScanStatus};
use berth_oci::media_type::{DOCKER_CONFIG, OCI_CONFIG};
use berth_oci::{Digest, ParsedManifest, RepositoryName};
use berth_scan::Inventory;

pub use berth_vulndb::Severity;
pub use database::{ImportedDb, LoadedDb, VULNDB_SETTING, VulnDbState};
pub use findings::{Finding, evaluate, severity_counts};
pub(crate) use policy::PolicyCache;
pub use policy::PullPolicy;
pub(crate) use worker::LayerMemo;
pub use worker::{SCAN_JOB, ScanHandler};

use crate::{Registry, RegistryError, Result};

/// Whether a manifest is a container image the scanner can read: an image manifest (not an index) with
/// layers and an image config. Artifacts (SBOMs, signatures) are not scanned.
pub fn is_scannable(parsed: &ParsedManifest) -> bool {
    !parsed.kind.is_index()
        && !parsed.layers.is_empty()
        && matches!(parsed.artifact_type.as_deref(), Some(OCI_CONFIG | DOCKER_CONFIG))
        // A cosign signature manifest has an image config but only signature payloads as layers.
        && !parsed.layers.iter().all(|l| l.media_type == berth_auth::signing::payload::SIMPLE_SIGNING_MEDIA_TYPE)
}

/// An image's latest scan with its decoded findings.
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub status: ScanStatus,
    pub description: Option<String>,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    pub findings: Vec<Finding>,
    pub sbom_digest: Option<Digest>,
    /// The database the findings were evaluated against, and when.
    pub vulndb: Option<String>,
    pub evaluated_at: Option<i64>,
}

impl ScanReport {
    /// Whether the findings are those of a finished scan (a queued re-scan shows `IN_PROGRESS` and none).
    pub fn findings_ready(&self) -> bool {
        self.status == ScanStatus::Complete
    }
}

impl Registry {
    /// Queues a scan of the manifest `digest` of `repo` (`reason`: `manual`, `push`). `false` when one is
    /// already queued or running. `ManifestUnknown` if there is no such manifest; `Unsupported` if it is not
    /// a container image.
    pub async fn request_scan(&self, repo: &RepositoryName, digest: &Digest, reason: &str) -> Result<bool> {
        let reference = berth_oci::Reference::Digest(digest.clone());
        let stored = self
            .meta
            .get_manifest(repo, &reference)
            .await?
            .ok_or_else(|| RegistryError::ManifestUnknown(digest.to_string()))?;
        let parsed = ParsedManifest::parse(&stored.content, Some(&stored.media_type))?;
        if !is_scannable(&parsed) {
            return Err(RegistryError::NotScannable(format!(
                "{repo}@{digest} is not a container image (an index or an artifact); scan its images instead"
            )));
        }
        self.queue_scan(repo, digest, reason).await
    }

    /// Queues the `scan` job of an image and marks its scan `IN_PROGRESS`; `false` when one is live.
    async fn queue_scan(&self, repo: &RepositoryName, digest: &Digest, reason: &str) -> Result<bool> {
        let now = self.now();
        let job = worker::scan_job(repo, digest, reason).to_new(now, None);
        let queued = self.meta.enqueue_scan(repo, digest, &job, now).await?;
        if queued {
            self.job_queued();
        }
        Ok(queued)
    }

    /// After a push: queues a scan when the repository or a registry rule asks for scans on push.
    pub(crate) async fn scan_on_push(&self, repo: &RepositoryName, digest: &Digest, parsed: &ParsedManifest) {
        if !is_scannable(parsed) {
            return;
        }
        let wanted = async {
            if self.meta.scan_on_push(repo).await? {
                return Ok::<_, RegistryError>(true);
            }
            Ok(self.cached_scanning_configuration().await?.for_repository(repo, false).scan_on_push)
        };
        // The push has succeeded; a failure to queue its scan is logged, not reported to the client.
        match wanted.await {
            Ok(true) => match self.queue_scan(repo, digest, "push").await {
                Ok(_) => {}
                Err(e) => tracing::warn!(%repo, %digest, error = %e, "could not queue the scan on push"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(%repo, %digest, error = %e, "could not read the scanning configuration"),
        }
    }

    /// Images whose latest evaluation found advisory `id` (an OSV id or an alias such as a CVE id), with the
    /// package it affects; at most `limit`.
    pub async fn images_affected_by(&self, id: &str, limit: u32) -> Result<Vec<IndexHit>> {
        Ok(self.meta.lookup_scan_index(IndexKind::Advisory, id, limit).await?)
    }

    /// Images whose inventory holds a package named `name` (binary or source package name, any case); at
    /// most `limit`.
    pub async fn images_with_package(&self, name: &str, limit: u32) -> Result<Vec<IndexHit>> {
        Ok(self.meta.lookup_scan_index(IndexKind::Package, &name.to_lowercase(), limit).await?)
    }

    /// The latest scan of an image; `None` if it was never scanned.
    pub async fn scan_report(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<ScanReport>> {
        let Some(scan) = self.meta.image_scan(repo, digest).await? else {
            return Ok(None);
        };
        let current = self.vulndb.current().map(|(imported, _)| imported);
        Ok(Some(report(scan, current.as_ref())?))
    }
}

/// Each package under its name and, for distribution packages, its source package name.
pub(crate) fn package_entries(inventory: &Inventory) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    for p in &inventory.packages {
        let detail = match (&p.source_name, &p.source_version) {
            (Some(src), Some(v)) if src != &p.name || v != &p.version => {
                format!("{} {} {} (source {src} {v})", p.name, p.version, p.ecosystem)
            }
            _ => format!("{} {} {}", p.name, p.version, p.ecosystem),
        };
        out.push(IndexEntry { key: p.name.to_lowercase(), detail: detail.clone() });
        if let Some(src) = p.source_name.as_ref().filter(|s| **s != p.name) {
            out.push(IndexEntry { key: src.to_lowercase(), detail });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Each finding under its advisory id and each alias.
pub(crate) fn advisory_entries(findings: &[Finding]) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    for f in findings {
        let detail = format!("{} {} ({})", f.package_name, f.package_version, f.id);
        for key in std::iter::once(&f.id).chain(&f.aliases) {
            out.push(IndexEntry { key: key.clone(), detail: detail.clone() });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What a complete scan evaluated against no vulnerability database says. Earlier versions stored it as the
/// scan's description (without the analysis notes), so a stored description equal to it is no note.
const NO_DATABASE: &str = "no vulnerability database imported: inventory and SBOM only";

/// The status description of a complete scan: its current result (the database its findings come from and
/// how many there are, or that there was none), then the analysis notes.
fn complete_description(
    notes: Option<&str>,
    vulndb: Option<&str>,
    findings: usize,
    current: Option<&ImportedDb>,
) -> String {
    let result = match vulndb {
        None => NO_DATABASE.to_string(),
        Some(blob) => {
            let db = match current {
                Some(c) if c.blob == blob => format!("the vulnerability database imported {}", c.imported_at),
                _ => format!("vulnerability database {blob}"),
            };
            let plural = if findings == 1 { "" } else { "s" };
            format!("The scan was completed successfully: {findings} finding{plural} in {db}")
        }
    };
    match notes.filter(|n| *n != NO_DATABASE) {
        Some(n) => format!("{result}; {n}"),
        None => result,
    }
}

fn report(scan: ImageScan, current: Option<&ImportedDb>) -> Result<ScanReport> {
    let findings: Vec<Finding> = match &scan.findings {
        Some(json) => serde_json::from_slice(json).map_err(|e| corrupt(format!("scan findings: {e}")))?,
        None => Vec::new(),
    };
    let description = match scan.status {
        ScanStatus::Complete => {
            Some(complete_description(scan.description.as_deref(), scan.vulndb.as_deref(), findings.len(), current))
        }
        _ => scan.description,
    };
    Ok(ScanReport {
        status: scan.status,
        description,
        started_at: scan.started_at,
        completed_at: scan.completed_at,
        findings,
        sbom_digest: scan.sbom_digest,
        vulndb: scan.vulndb,
        evaluated_at: scan.evaluated_at,
    })
}

fn corrupt(message: String) -> RegistryError {
    RegistryError::Meta(berth_meta::MetaError::Corrupt(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_scan_describes_its_current_result() {
        let db = ImportedDb {
            blob: "sha256:ab".into(),
            source: "osv".into(),
            imported_at: "2026-01-02T03:04:05Z".into(),
            records: 1,
        };
        assert_eq!(complete_description(None, None, 0, Some(&db)), NO_DATABASE);
        assert_eq!(complete_description(Some("a note"), None, 0, None), format!("{NO_DATABASE}; a note"));
        // Stored by earlier versions before any import, then re-evaluated: the old note is not repeated.
        assert_eq!(
            complete_description(Some(NO_DATABASE), Some("sha256:ab"), 3, Some(&db)),
            "The scan was completed successfully: 3 findings in the vulnerability database imported 2026-01-02T03:04:05Z"
        );
        assert_eq!(
            complete_description(Some("a note"), Some("sha256:cd"), 1, Some(&db)),
            "The scan was completed successfully: 1 finding in vulnerability database sha256:cd; a note"
        );
    }
}
