//! Signing after a push: an image pushed to a repository a signing rule matches gets an `image-sign` job
//! per rule (durable: it survives restarts, is retried, shows in `berth jobs`), which signs it with the
//! rule's key and stores the signature twice — in cosign's layout (a layer of the `sha256-HEX.sig`
//! manifest, where cosign, skopeo and podman look) and as an OCI referrer (where `oras discover` and the
//! referrers API look). An index is signed with its platform manifests (as `cosign sign --recursive`), so
//! that each manifest a client fetches under a signature requirement is signed.
//!
//! An image's signing status per rule comes from that job (queued or running: `IN_PROGRESS`; failed:
//! `FAILED` with its error) or, once it is gone, from the signature itself (`COMPLETE`).

use async_trait::async_trait;
use berth_auth::signing::SigningKey;
use berth_auth::signing::payload::{self, SIGNATURE_ANNOTATION, SIGNATURE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE};
use berth_meta::jobs::{Job, JobFilter, JobState};
use berth_oci::media_type::{OCI_CONFIG, OCI_EMPTY, OCI_MANIFEST};
use berth_oci::{Digest, Reference, RepositoryName, Tag};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::verify::is_signature_artifact;
use super::{SignatureRequirement, SigningRule};
use crate::jobs::{JobCtx, JobError, JobHandler, JobOutcome, JobSpec, parse_payload};
use crate::{ManifestRead, Registry, RegistryError, Result};

/// The job kind that signs one image with one key.
pub const SIGN_JOB: &str = "image-sign";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignPayload {
    repository: String,
    digest: String,
    key: String,
    /// `HOST/REPOSITORY` as clients pull it: the payload's `docker-reference`.
    identity: String,
}

/// ECR's `SigningStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    InProgress,
    Complete,
    Failed,
}

impl StatusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::InProgress => "IN_PROGRESS",
            StatusKind::Complete => "COMPLETE",
            StatusKind::Failed => "FAILED",
        }
    }
}

/// One image's signing status for one rule's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningStatus {
    pub signing_profile_arn: String,
    pub status: StatusKind,
    pub failure_reason: Option<String>,
}

fn job_key(repo: &RepositoryName, digest: &Digest, key: &str) -> String {
    format!("{repo}@{digest}#{key}")
}

/// Runs `image-sign` jobs.
pub struct SignHandler;

#[async_trait]
impl JobHandler for SignHandler {
    fn kind(&self) -> &'static str {
        SIGN_JOB
    }

    async fn run(&self, job: &Job, ctx: &JobCtx) -> std::result::Result<JobOutcome, JobError> {
        let p: SignPayload = parse_payload(job)?;
        let repo: RepositoryName = p.repository.parse().map_err(|e| JobError::fatal(format!("repository: {e}")))?;
        let digest: Digest = p.digest.parse().map_err(|e| JobError::fatal(format!("digest: {e}")))?;
        match ctx.registry().sign_image(&repo, &digest, &p.key, &p.identity).await {
            Ok(signed) => Ok(JobOutcome::with_result(format!("signed {signed} manifest(s) with key {}", p.key))),
            // What a retry cannot fix: the image or the key is gone, the key cannot sign, the repository is full.
            Err(
                e @ (RegistryError::ManifestUnknown(_)
                | RegistryError::InvalidSetting(_)
                | RegistryError::QuotaExceeded(_)),
            ) => Err(JobError::fatal(e.to_string())),
            Err(e) => Err(JobError::retry(e.to_string())),
        }
    }
}

impl Registry {
    /// Queues the signing of `digest` (just pushed to `repo`, which clients reach at `host`) for every
    /// signing rule that matches the repository. Failures are logged: the push has succeeded.
    pub async fn sign_on_push(&self, repo: &RepositoryName, digest: &Digest, host: &str) {
        if let Err(e) = self.queue_signing(repo, digest, host).await {
            tracing::warn!(%repo, %digest, error = %e, "could not queue the signing of a pushed image");
        }
    }

    async fn queue_signing(&self, repo: &RepositoryName, digest: &Digest, host: &str) -> Result<()> {
        let Some(config) = self.signing_configuration().await? else { return Ok(()) };
        let rules: Vec<&SigningRule> = config.rules.iter().filter(|r| r.matches(repo)).collect();
        if rules.is_empty() {
            return Ok(());
        }
        let Some(m) = self.meta.get_manifest(repo, &Reference::Digest(digest.clone())).await? else {
            return Ok(());
        };
        if is_signature_artifact(&m) {
            return Ok(());
        }
        for rule in rules {
            let p = SignPayload {
                repository: repo.to_string(),
                digest: digest.to_string(),
                key: rule.key_name().to_string(),
                identity: format!("{host}/{repo}"),
            };
            self.enqueue_job(&JobSpec::new(SIGN_JOB, job_key(repo, digest, &p.key), p)).await?;
        }
        Ok(())
    }

    /// Signs `digest` of `repo` (and, for an index, its platform manifests) with the managed key
    /// `key_name`, for the docker reference `identity`. A manifest the key signed already is left as it is.
    /// Returns how many manifests it signed.
    pub async fn sign_image(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        key_name: &str,
        identity: &str,
    ) -> Result<usize> {
        let key = self.managed_signing_key(key_name).await?;
        let m = self.get_manifest(repo, &Reference::Digest(digest.clone()), ManifestRead::Inspect).await?;
        let mut targets = vec![(m.digest.clone(), m.media_type.clone(), m.content.len())];
        if let Ok(v) = serde_json::from_slice::<Value>(&m.content) {
            for child in v.get("manifests").and_then(Value::as_array).into_iter().flatten() {
                let d = child.get("digest").and_then(Value::as_str).and_then(|d| d.parse::<Digest>().ok());
                if let Some(d) = d
                    && let Ok(c) = self.get_manifest(repo, &Reference::Digest(d), ManifestRead::Inspect).await
                {
                    targets.push((c.digest, c.media_type, c.content.len()));
                }
            }
        }
        let requirement = SignatureRequirement { key_names: vec![key_name.to_string()] };
        let mut signed = 0;
        for (d, media_type, size) in targets {
            if self.signed_by(repo, &d, &requirement).await?.is_ok() {
                continue;
            }
            self.add_signature(repo, &d, &media_type, size, &key, identity).await?;
            signed += 1;
        }
        Ok(signed)
    }

    /// Appends a signature of `digest` to its `.sig` manifest and stores it as a referrer too.
    async fn add_signature(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        media_type: &str,
        size: usize,
        key: &SigningKey,
        identity: &str,
    ) -> Result<()> {
        let body = payload::payload(identity, &digest.to_string(), "berth", self.now());
        let signature = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key.sign(&body));
        let payload_digest = self.store_small_blob(repo, body.clone()).await?;
        let layer = json!({
            "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
            "digest": payload_digest.to_string(),
            "size": body.len(),
            "annotations": {SIGNATURE_ANNOTATION: signature},
        });

        // cosign's layout: the `.sig` manifest keeps the signatures it has (a client's, another key's).
        let tag: Tag = payload::signature_tag(&digest.to_string()).parse().expect("a signature tag is a valid tag");
        let mut layers: Vec<Value> = match self.meta.get_manifest(repo, &Reference::Tag(tag.clone())).await? {
            Some(old) => serde_json::from_slice::<Value>(&old.content)
                .ok()
                .and_then(|v| v.get("layers").and_then(Value::as_array).cloned())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        layers.push(layer.clone());
        // containers/image reads the config back (as an OCI image config) when it adds a signature.
        let diff_ids: Vec<&Value> = layers.iter().filter_map(|l| l.get("digest")).collect();
        let config = serde_json::to_vec(&json!({
            "architecture": "", "os": "", "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .expect("serialises");
        let config_size = config.len();
        let config_digest = self.store_small_blob(repo, config).await?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest.to_string(), "size": config_size},
            "layers": layers,
        });
        let body = serde_json::to_vec(&manifest).expect("serialises");
        self.put_manifest(repo, &Reference::Tag(tag), &[], Some(OCI_MANIFEST), body).await?;

        // The referrer: the same signature layer, with the image as its subject.
        let empty_digest = self.store_small_blob(repo, b"{}".to_vec()).await?;
        let referrer = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE_ARTIFACT_TYPE,
            "config": {"mediaType": OCI_EMPTY, "digest": empty_digest.to_string(), "size": 2},
            "layers": [layer],
            "subject": {"mediaType": media_type, "digest": digest.to_string(), "size": size},
            "annotations": {"dev.berth.signature.key-fingerprint": key.verifying_key().fingerprint()},
        });
        let body = serde_json::to_vec(&referrer).expect("serialises");
        let referrer_digest = Digest::sha256_of(&body);
        self.put_manifest(repo, &Reference::Digest(referrer_digest), &[], Some(OCI_MANIFEST), body).await?;
        Ok(())
    }

    /// Links `bytes` as a blob of `repo` (pushing them unless the repository has them), returning its digest.
    async fn store_small_blob(&self, repo: &RepositoryName, bytes: Vec<u8>) -> Result<Digest> {
        let digest = Digest::sha256_of(&bytes);
        if self.stat_blob(repo, &digest).await.is_err() {
            let body = crate::byte_stream(futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
            }));
            self.push_blob(repo, &digest, body).await?;
        }
        Ok(digest)
    }

    /// The signing status of `digest` in `repo`, one entry per signing rule matching the repository.
    pub async fn image_signing_status(&self, repo: &RepositoryName, digest: &Digest) -> Result<Vec<SigningStatus>> {
        let Some(config) = self.signing_configuration().await? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for rule in config.rules.iter().filter(|r| r.matches(repo)) {
            let key = rule.key_name();
            let filter = JobFilter {
                kind: Some(SIGN_JOB.into()),
                key: Some(job_key(repo, digest, key)),
                limit: 1,
                ..Default::default()
            };
            let job = self.list_jobs(&filter).await?.into_iter().next();
            let requirement = SignatureRequirement { key_names: vec![key.to_string()] };
            let (status, failure_reason) = match job.as_ref().map(|j| j.state) {
                Some(JobState::Queued | JobState::Running) => (StatusKind::InProgress, None),
                _ if self.signed_by(repo, digest, &requirement).await?.is_ok() => (StatusKind::Complete, None),
                Some(JobState::Failed | JobState::Cancelled) => {
                    let why = job.and_then(|j| j.error).unwrap_or_else(|| "cancelled".into());
                    (StatusKind::Failed, Some(why))
                }
                // Signed once, the signature since removed; or pushed before the rule existed.
                Some(JobState::Succeeded) => (StatusKind::Failed, Some("the signature was removed".into())),
                None => continue,
            };
            out.push(SigningStatus { signing_profile_arn: rule.signing_profile_arn.clone(), status, failure_reason });
        }
        Ok(out)
    }
}
