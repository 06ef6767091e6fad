//! Running one scan (the `scan` job's handler): analyse each layer (or take its cached analysis), merge the inventory,
//! store the SBOM as a referrer of the image, match, record.

use std::sync::Arc;

use berth_meta::scans::{ImageScan, ScanIndex, ScanStatus};
use berth_oci::media_type::{OCI_EMPTY, OCI_MANIFEST};
use berth_oci::{Digest, ParsedManifest, Reference, RepositoryName};
use berth_scan::sbom::{BomOptions, CYCLONEDX_MEDIA_TYPE, ImageInfo};
use berth_scan::{LayerAnalysis, LayerRef};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncReadExt as _;

use super::{advisory_entries, evaluate, is_scannable, package_entries};
use crate::jobs::{Job, JobCtx, JobError, JobHandler, JobOutcome, JobSpec, parse_payload};
use crate::{Registry, RegistryError, Result};

/// A decoded layer analysis and its layer.
type Memo = (Digest, Arc<LayerAnalysis>);

/// Layer analyses this node used last, decoded: base layers recur in scan after scan.
#[derive(Clone, Default)]
pub(crate) struct LayerMemo(Arc<std::sync::Mutex<Vec<Memo>>>);

/// How many decoded analyses a node keeps (most recently used first).
const LAYER_MEMO_ENTRIES: usize = 32;

impl LayerMemo {
    fn get(&self, digest: &Digest) -> Option<Arc<LayerAnalysis>> {
        let mut entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let i = entries.iter().position(|(d, _)| d == digest)?;
        let entry = entries.remove(i);
        let analysis = entry.1.clone();
        entries.insert(0, entry);
        Some(analysis)
    }

    fn put(&self, digest: &Digest, analysis: LayerAnalysis) -> Arc<LayerAnalysis> {
        let analysis = Arc::new(analysis);
        let mut entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(d, _)| d != digest);
        entries.insert(0, (digest.clone(), analysis.clone()));
        entries.truncate(LAYER_MEMO_ENTRIES);
        analysis
    }
}

/// The kind of the scan jobs.
pub const SCAN_JOB: &str = "scan";

/// What a scan job carries.
#[derive(Debug, Serialize, Deserialize)]
struct ScanPayload {
    repository: String,
    digest: String,
    /// Why it was queued: `push`, `manual`.
    reason: String,
}

/// The job that scans `digest` of `repo` (one live job per image).
pub(super) fn scan_job(repo: &RepositoryName, digest: &Digest, reason: &str) -> JobSpec {
    let payload = ScanPayload { repository: repo.to_string(), digest: digest.to_string(), reason: reason.into() };
    JobSpec::new(SCAN_JOB, format!("{repo}@{digest}"), payload)
}

fn scan_target(job: &Job) -> Result<(RepositoryName, Digest), JobError> {
    let p: ScanPayload = parse_payload(job)?;
    let repo = p.repository.parse().map_err(|e| JobError::fatal(format!("scan job repository: {e}")))?;
    let digest = p.digest.parse().map_err(|e| JobError::fatal(format!("scan job digest: {e}")))?;
    Ok((repo, digest))
}

/// Runs `scan` jobs: the image's scan shows `IN_PROGRESS` from the moment the job is queued until it ends,
/// then `COMPLETE` or `FAILED` with "scan failed: why" (a failure, a cancellation, a worker that died).
pub struct ScanHandler;

#[async_trait::async_trait]
impl JobHandler for ScanHandler {
    fn kind(&self) -> &'static str {
        SCAN_JOB
    }

    async fn run(&self, job: &Job, ctx: &JobCtx) -> Result<JobOutcome, JobError> {
        let (repo, digest) = scan_target(job)?;
        ctx.registry().run_scan_job(&repo, &digest, ctx).await
    }

    async fn abandoned(&self, registry: &Registry, job: &Job, why: &str) {
        let Ok((repo, digest)) = scan_target(job) else { return };
        if let Err(e) = registry.record_failed_scan(&repo, &digest, why).await {
            tracing::warn!(repository = %repo, %digest, error = %e, "could not record the scan as failed");
        }
    }
}

/// Why a scan failed, as its status description shows it ("scan failed: ..."), and whether another attempt
/// may do better (the metadata or blob store was unavailable).
struct Failed {
    reason: String,
    retry: bool,
}

impl Failed {
    fn scan(reason: String) -> Failed {
        Failed { reason, retry: false }
    }
}

impl From<berth_meta::MetaError> for Failed {
    fn from(e: berth_meta::MetaError) -> Self {
        Failed::from(RegistryError::from(e))
    }
}

impl From<RegistryError> for Failed {
    fn from(e: RegistryError) -> Self {
        let retry = matches!(
            e,
            RegistryError::Meta(_) | RegistryError::StorageUnavailable(_) | RegistryError::InsufficientStorage(_)
        );
        Failed { reason: e.to_string(), retry }
    }
}

impl Registry {
    /// One attempt at scanning `digest` of `repo`: the result recorded as the image's latest scan. A scan
    /// failure is a fatal job error (the handler's `abandoned` records it); an image deleted meanwhile is
    /// nothing to do.
    async fn run_scan_job(&self, repo: &RepositoryName, digest: &Digest, ctx: &JobCtx) -> Result<JobOutcome, JobError> {
        let previous = self.meta.image_scan(repo, digest).await?;
        let (scan, index) = match self.run_scan(repo, digest, ctx).await {
            Ok(Some(done)) => done,
            Ok(None) => return Ok(JobOutcome::with_result("the image was deleted; nothing to scan")),
            Err(Failed { reason, retry: true }) => return Err(JobError::retry(reason)),
            Err(Failed { reason, retry: false }) => {
                tracing::warn!(repository = %repo, %digest, %reason, "scan failed");
                return Err(JobError::fatal(reason));
            }
        };
        let summary = format!(
            "{} packages, {} advisories{}",
            index.packages.len(),
            index.advisories.len(),
            scan.sbom_digest.as_ref().map(|d| format!(", SBOM {d}")).unwrap_or_default()
        );
        self.record_scan(previous, &scan, &index).await?;
        self.publish_scan(&scan).await;
        Ok(JobOutcome::with_result(summary))
    }

    /// Records `scan` as the image's latest (`previous` was), replacing an earlier SBOM of the image.
    async fn record_scan(&self, previous: Option<ImageScan>, scan: &ImageScan, index: &ScanIndex) -> Result<()> {
        if let Some(old) = previous.and_then(|p| p.sbom_digest)
            && scan.sbom_digest.as_ref() != Some(&old)
        {
            let _ = self.meta.delete_manifest(&scan.repository, &old).await;
        }
        self.meta.finish_scan(scan, index).await?;
        Ok(())
    }

    /// Records the image's scan as `FAILED` with "scan failed: `why`".
    async fn record_failed_scan(&self, repo: &RepositoryName, digest: &Digest, why: &str) -> Result<()> {
        let previous = self.meta.image_scan(repo, digest).await?;
        let now = self.now();
        let failed = ImageScan {
            repository: repo.clone(),
            digest: digest.clone(),
            status: ScanStatus::Failed,
            description: Some(format!("scan failed: {why}")),
            started_at: previous.as_ref().map(|p| p.started_at).unwrap_or(now),
            completed_at: Some(now),
            inventory: None,
            findings: None,
            sbom_digest: None,
            vulndb: None,
            evaluated_at: None,
        };
        self.record_scan(previous, &failed, &ScanIndex::default()).await?;
        self.publish_scan(&failed).await;
        Ok(())
    }

    /// Publishes a recorded scan as `scan.complete`, with its findings counted by severity.
    async fn publish_scan(&self, scan: &ImageScan) {
        let findings: Vec<super::Finding> =
            scan.findings.as_deref().and_then(|f| serde_json::from_slice(f).ok()).unwrap_or_default();
        let severity_counts = super::severity_counts(&findings).into_iter().map(|(s, n)| (s.to_string(), n)).collect();
        let detail = self.meta.image_detail(&scan.repository, &scan.digest).await.ok().flatten();
        let event = crate::events::Event::ScanCompleted {
            repository: scan.repository.to_string(),
            digest: scan.digest.clone(),
            tags: detail.map(|d| d.tags.iter().map(|t| t.to_string()).collect()).unwrap_or_default(),
            status: scan.status.as_str().to_string(),
            severity_counts,
        };
        self.publish(event).await;
    }

    /// The scan of an image; `None` if it was deleted.
    async fn run_scan(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        ctx: &JobCtx,
    ) -> std::result::Result<Option<(ImageScan, ScanIndex)>, Failed> {
        let started_at = self.now();
        let Some(stored) = self.meta.get_manifest(repo, &Reference::Digest(digest.clone())).await? else {
            return Ok(None);
        };
        let parsed = ParsedManifest::parse(&stored.content, Some(&stored.media_type))
            .map_err(|e| Failed::scan(format!("manifest: {e}")))?;
        if !is_scannable(&parsed) {
            return Err(Failed::scan("not a container image".into()));
        }
        let mut analyses: Vec<(String, Arc<LayerAnalysis>)> = Vec::new();
        let total = parsed.layers.len();
        for (i, layer) in parsed.layers.iter().enumerate() {
            if ctx.is_cancelled() {
                return Err(Failed::scan("cancelled".into()));
            }
            let note = format!("analysing layer {} of {total} ({})", i + 1, layer.digest);
            let _ = self.meta.scan_progress(repo, digest, &note).await;
            ctx.progress(i as u64, Some(total as u64), note).await;
            let analysis = self.layer_analysis(&layer.digest, &layer.media_type).await?;
            analyses.push((layer.digest.to_string(), analysis));
        }
        let refs: Vec<LayerRef> = analyses.iter().map(|(d, a)| LayerRef { digest: d, analysis: a }).collect();
        let inventory = berth_scan::inventory(&refs);
        let mut notes = berth_scan::notes(&refs);

        let created = match &parsed.config {
            Some(c) => self.image_created(&c.digest).await.unwrap_or_default(),
            None => String::new(),
        };
        let detail = self.meta.image_detail(repo, digest).await.ok().flatten();
        let tags = detail.map(|d| d.tags).unwrap_or_default();
        let image = ImageInfo {
            repository: repo.to_string(),
            manifest_digest: digest.to_string(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            created,
        };
        let timestamp = time::OffsetDateTime::from_unix_timestamp(started_at)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
        let bom = berth_scan::sbom::cyclonedx_with(&inventory, &image, &BomOptions { timestamp, ..Default::default() });
        let sbom_digest = match self.store_sbom(repo, digest, &stored.media_type, stored.content.len(), &bom).await {
            Ok(d) => Some(d),
            // A repository at its quota still gets its findings; only the SBOM artifact is not kept.
            Err(RegistryError::QuotaExceeded(why)) => {
                notes.push(format!("the SBOM was not stored: {why}"));
                None
            }
            Err(e) => {
                let failed = Failed::from(e);
                return Err(Failed { reason: format!("storing the SBOM: {}", failed.reason), ..failed });
            }
        };

        let (findings, vulndb) = match self.vulndb.current() {
            Some((imported, db)) => (evaluate(&inventory, &db), Some(imported.blob)),
            None => (Vec::new(), None),
        };
        let now = self.now();
        // Only the analysis notes: what the result is (which database, how many findings) is said when the
        // scan is read, so that a re-evaluation after an import describes itself too.
        let description = (!notes.is_empty()).then(|| notes.join("; "));
        let index = ScanIndex { packages: package_entries(&inventory), advisories: advisory_entries(&findings) };
        let scan = ImageScan {
            repository: repo.clone(),
            digest: digest.clone(),
            status: ScanStatus::Complete,
            description,
            started_at,
            completed_at: Some(now),
            inventory: Some(serde_json::to_vec(&inventory).expect("serialises")),
            findings: Some(serde_json::to_vec(&findings).expect("serialises")),
            sbom_digest,
            evaluated_at: vulndb.as_ref().map(|_| now),
            vulndb,
        };
        Ok(Some((scan, index)))
    }

    /// The analysis of one layer: cached by digest, else read once from storage (streamed, on a blocking
    /// thread, within the scanner's limits) and cached.
    async fn layer_analysis(
        &self,
        digest: &Digest,
        media_type: &str,
    ) -> std::result::Result<Arc<LayerAnalysis>, Failed> {
        if let Some(hot) = self.layer_memo.get(digest) {
            return Ok(hot);
        }
        if let Some(json) = self.meta.layer_analysis(digest).await?
            && let Ok(cached) = serde_json::from_slice::<LayerAnalysis>(&json)
            && cached.is_current()
        {
            return Ok(self.layer_memo.put(digest, cached));
        }
        let blob = self.blobs.open(digest, None).await.map_err(|e| Failed::scan(format!("layer {digest}: {e}")))?;
        let reader = tokio_util::io::SyncIoBridge::new(blob.reader);
        let media_type = media_type.to_string();
        let analysis = tokio::task::spawn_blocking(move || {
            berth_scan::analyze_layer(reader, &media_type, &berth_scan::Limits::default())
        })
        .await
        .map_err(|e| Failed::scan(format!("layer {digest}: {e}")))?
        .map_err(|e| Failed::scan(format!("layer {digest}: {e}")))?;
        let json = serde_json::to_vec(&analysis).expect("serialises");
        self.meta.put_layer_analysis(digest, &json, self.now()).await?;
        Ok(self.layer_memo.put(digest, analysis))
    }

    /// `created` of an image config, if it has one.
    async fn image_created(&self, config: &Digest) -> Option<String> {
        let mut blob = self.blobs.open(config, None).await.ok()?;
        if blob.len > 4 * 1024 * 1024 {
            return None;
        }
        let mut bytes = Vec::new();
        blob.reader.read_to_end(&mut bytes).await.ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v.get("created")?.as_str().map(str::to_string)
    }

    /// Pushes the SBOM as an OCI artifact whose subject is the image: `oras discover` and the referrers API
    /// list it.
    async fn store_sbom(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        subject_media_type: &str,
        subject_size: usize,
        bom: &serde_json::Value,
    ) -> Result<Digest> {
        let bom = serde_json::to_vec(bom).expect("serialises");
        let empty = b"{}".to_vec();
        let (bom_digest, empty_digest) = (Digest::sha256_of(&bom), Digest::sha256_of(&empty));
        let (bom_size, empty_size) = (bom.len(), empty.len());
        for (digest, bytes) in [(&bom_digest, bom), (&empty_digest, empty)] {
            if self.stat_blob(repo, digest).await.is_ok() {
                continue;
            }
            let body = crate::byte_stream(futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
            }));
            self.push_blob(repo, digest, body).await?;
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": CYCLONEDX_MEDIA_TYPE,
            "config": {"mediaType": OCI_EMPTY, "digest": empty_digest.to_string(), "size": empty_size},
            "layers": [{"mediaType": CYCLONEDX_MEDIA_TYPE, "digest": bom_digest.to_string(), "size": bom_size}],
            "subject": {"mediaType": subject_media_type, "digest": digest.to_string(), "size": subject_size},
            "annotations": {"dev.berth.sbom.generator": "berth"},
        });
        let body = serde_json::to_vec(&manifest).expect("serialises");
        let digest = Digest::sha256_of(&body);
        self.put_manifest(repo, &Reference::Digest(digest.clone()), &[], Some(OCI_MANIFEST), body).await?;
        Ok(digest)
    }
}
