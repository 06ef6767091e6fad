//! Running one scan: claim a job, analyse each layer (or take its cached analysis), merge the inventory,
//! store the SBOM as a referrer of the image, match, record.

use std::sync::Arc;
use std::time::Duration;

use berth_meta::scans::{ImageScan, ScanIndex, ScanJob, ScanStatus};
use berth_oci::media_type::{OCI_EMPTY, OCI_MANIFEST};
use berth_oci::{Digest, ParsedManifest, Reference};
use berth_scan::sbom::{BomOptions, CYCLONEDX_MEDIA_TYPE, ImageInfo};
use berth_scan::{LayerAnalysis, LayerRef};
use serde_json::json;
use tokio::io::AsyncReadExt as _;

use super::{advisory_entries, evaluate, is_scannable, package_entries};
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

/// A claim not renewed for this long belongs to a worker that is gone; another may take the job over.
pub const LEASE_SECS: i64 = 90;
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// Why a scan failed, as its status description shows it ("scan failed: ...").
struct Failed(String);

impl From<berth_meta::MetaError> for Failed {
    fn from(e: berth_meta::MetaError) -> Self {
        Failed(RegistryError::from(e).to_string())
    }
}

impl From<RegistryError> for Failed {
    fn from(e: RegistryError) -> Self {
        Failed(e.to_string())
    }
}

impl Registry {
    /// Claims and runs the oldest pending scan, as `worker` (unique per process). Returns `false` when there
    /// was nothing to do.
    pub async fn scan_next(&self, worker: &str) -> Result<bool> {
        let now = self.now();
        let Some(job) = self.meta.claim_scan(worker, now, now - LEASE_SECS).await? else {
            return Ok(false);
        };
        // Keep the claim alive while the scan runs.
        let renewer = {
            let (meta, clock, worker, id) = (self.meta.clone(), self.clock.clone(), worker.to_string(), job.id);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    if !matches!(meta.renew_scan(id, &worker, clock.now()).await, Ok(true)) {
                        break;
                    }
                }
            })
        };
        let started_at = self.now();
        let previous = self.meta.image_scan(&job.repository, &job.digest).await?;
        let outcome = self.run_scan(&job).await;
        renewer.abort();
        let (scan, index) = match outcome {
            Ok(done) => done,
            Err(Failed(reason)) => {
                tracing::warn!(repository = %job.repository, digest = %job.digest, %reason, "scan failed");
                let failed = ImageScan {
                    repository: job.repository.clone(),
                    digest: job.digest.clone(),
                    status: ScanStatus::Failed,
                    description: Some(format!("scan failed: {reason}")),
                    started_at,
                    completed_at: Some(self.now()),
                    inventory: None,
                    findings: None,
                    sbom_digest: None,
                    vulndb: None,
                    evaluated_at: None,
                };
                (failed, ScanIndex::default())
            }
        };
        // An earlier SBOM of this image is replaced by the new one.
        if let Some(old) = previous.and_then(|p| p.sbom_digest)
            && scan.sbom_digest.as_ref() != Some(&old)
        {
            let _ = self.meta.delete_manifest(&job.repository, &old).await;
        }
        self.meta.finish_scan(job.id, &scan, &index).await?;
        Ok(true)
    }

    async fn run_scan(&self, job: &ScanJob) -> std::result::Result<(ImageScan, ScanIndex), Failed> {
        let started_at = self.now();
        let stored = self
            .meta
            .get_manifest(&job.repository, &Reference::Digest(job.digest.clone()))
            .await?
            .ok_or_else(|| Failed("the image was deleted".into()))?;
        let parsed = ParsedManifest::parse(&stored.content, Some(&stored.media_type))
            .map_err(|e| Failed(format!("manifest: {e}")))?;
        if !is_scannable(&parsed) {
            return Err(Failed("not a container image".into()));
        }
        let mut analyses: Vec<(String, Arc<LayerAnalysis>)> = Vec::new();
        let total = parsed.layers.len();
        for (i, layer) in parsed.layers.iter().enumerate() {
            let note = format!("analysing layer {} of {total} ({})", i + 1, layer.digest);
            let _ = self.meta.scan_progress(&job.repository, &job.digest, &note).await;
            let analysis = self.layer_analysis(&layer.digest, &layer.media_type).await?;
            analyses.push((layer.digest.to_string(), analysis));
        }
        let refs: Vec<LayerRef> = analyses.iter().map(|(d, a)| LayerRef { digest: d, analysis: a }).collect();
        let inventory = berth_scan::inventory(&refs);
        let notes = berth_scan::notes(&refs);

        let created = match &parsed.config {
            Some(c) => self.image_created(&c.digest).await.unwrap_or_default(),
            None => String::new(),
        };
        let detail = self.meta.image_detail(&job.repository, &job.digest).await.ok().flatten();
        let tags = detail.map(|d| d.tags).unwrap_or_default();
        let image = ImageInfo {
            repository: job.repository.to_string(),
            manifest_digest: job.digest.to_string(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            created,
        };
        let timestamp = time::OffsetDateTime::from_unix_timestamp(started_at)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
        let bom = berth_scan::sbom::cyclonedx_with(&inventory, &image, &BomOptions { timestamp, ..Default::default() });
        let sbom_digest = self.store_sbom(job, &stored.media_type, stored.content.len(), &bom).await?;

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
            repository: job.repository.clone(),
            digest: job.digest.clone(),
            status: ScanStatus::Complete,
            description,
            started_at,
            completed_at: Some(now),
            inventory: Some(serde_json::to_vec(&inventory).expect("serialises")),
            findings: Some(serde_json::to_vec(&findings).expect("serialises")),
            sbom_digest: Some(sbom_digest),
            evaluated_at: vulndb.as_ref().map(|_| now),
            vulndb,
        };
        Ok((scan, index))
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
        let blob = self.blobs.open(digest, None).await.map_err(|e| Failed(format!("layer {digest}: {e}")))?;
        let reader = tokio_util::io::SyncIoBridge::new(blob.reader);
        let media_type = media_type.to_string();
        let analysis = tokio::task::spawn_blocking(move || {
            berth_scan::analyze_layer(reader, &media_type, &berth_scan::Limits::default())
        })
        .await
        .map_err(|e| Failed(format!("layer {digest}: {e}")))?
        .map_err(|e| Failed(format!("layer {digest}: {e}")))?;
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
        job: &ScanJob,
        subject_media_type: &str,
        subject_size: usize,
        bom: &serde_json::Value,
    ) -> std::result::Result<Digest, Failed> {
        let bom = serde_json::to_vec(bom).expect("serialises");
        let empty = b"{}".to_vec();
        let (bom_digest, empty_digest) = (Digest::sha256_of(&bom), Digest::sha256_of(&empty));
        let (bom_size, empty_size) = (bom.len(), empty.len());
        for (digest, bytes) in [(&bom_digest, bom), (&empty_digest, empty)] {
            if self.stat_blob(&job.repository, digest).await.is_ok() {
                continue;
            }
            let body = crate::byte_stream(futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
            }));
            self.push_blob(&job.repository, digest, body).await?;
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": CYCLONEDX_MEDIA_TYPE,
            "config": {"mediaType": OCI_EMPTY, "digest": empty_digest.to_string(), "size": empty_size},
            "layers": [{"mediaType": CYCLONEDX_MEDIA_TYPE, "digest": bom_digest.to_string(), "size": bom_size}],
            "subject": {"mediaType": subject_media_type, "digest": job.digest.to_string(), "size": subject_size},
            "annotations": {"dev.berth.sbom.generator": "berth"},
        });
        let body = serde_json::to_vec(&manifest).expect("serialises");
        let digest = Digest::sha256_of(&body);
        self.put_manifest(&job.repository, &Reference::Digest(digest.clone()), &[], Some(OCI_MANIFEST), body)
            .await
            .map_err(|e| Failed(format!("storing the SBOM: {e}")))?;
        Ok(digest)
    }
}
