//! Encrypting an existing installation in place (`berth kms encrypt-existing`): a job of kind
//! `encrypt-existing` that walks every stored blob and has the blob store replace each plaintext copy with an
//! encrypted one (`BlobStore::reseal`: the encrypted copy is written and made durable first, then swapped in
//! atomically, so the blob stays readable throughout and a kill at any point loses nothing). A run that stops
//! (a kill, a cancellation) is resumed by running it again: blobs sealed already are skipped after reading
//! their header.

use berth_storage::{Resealed, StorageError};
use serde::Serialize;

use crate::jobs::{Job, JobCtx, JobError, JobHandler, JobOutcome, JobSpec};
use crate::{Registry, RegistryError, Result};

/// The kind of the job.
pub const ENCRYPT_EXISTING_JOB: &str = "encrypt-existing";

/// What a run did (the job's result).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptReport {
    pub blobs: u64,
    pub sealed: u64,
    pub already_sealed: u64,
    /// Deleted while the run went on.
    pub missing: u64,
    /// Plaintext copies that do not match their digest: left as they are (`berth fsck --verify-digests`).
    pub damaged: Vec<String>,
}

impl Registry {
    /// Queues the job (or returns the one queued or running already); returns its id.
    pub async fn request_encrypt_existing(&self) -> Result<i64> {
        let spec = JobSpec::new(ENCRYPT_EXISTING_JOB, "all", serde_json::json!({}));
        Ok(self.enqueue_job(&spec).await?.id().unwrap_or_default())
    }
}

/// Runs `encrypt-existing` jobs.
pub struct EncryptExistingHandler;

#[async_trait::async_trait]
impl JobHandler for EncryptExistingHandler {
    fn kind(&self) -> &'static str {
        ENCRYPT_EXISTING_JOB
    }

    async fn run(&self, _job: &Job, ctx: &JobCtx) -> std::result::Result<JobOutcome, JobError> {
        let blobs = ctx.registry().blobs.list_blobs().await.map_err(RegistryError::from)?;
        let total = blobs.len() as u64;
        let mut report = EncryptReport { blobs: total, ..EncryptReport::default() };
        for (i, digest) in blobs.iter().enumerate() {
            if ctx.is_cancelled() {
                return Err(ctx.cancelled_error());
            }
            match ctx.registry().blobs.reseal(digest).await {
                Ok(Resealed::Sealed) => report.sealed += 1,
                Ok(Resealed::AlreadySealed) => report.already_sealed += 1,
                Ok(Resealed::Missing) => report.missing += 1,
                Ok(Resealed::NotSealing) => {
                    return Err(JobError::fatal(
                        "this node does not encrypt blobs: start it with --encryption true (BERTH_ENCRYPTION=true)",
                    ));
                }
                Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    tracing::warn!(%digest, error = %e, "a blob was left unencrypted: its stored copy is damaged");
                    report.damaged.push(format!("{digest}: {e}"));
                }
                // Retried later; the blobs sealed so far are skipped then.
                Err(e) => return Err(RegistryError::from(e).into()),
            }
            let done = i as u64 + 1;
            if done.is_multiple_of(16) || done == total {
                let message = format!("{} encrypted, {} encrypted already", report.sealed, report.already_sealed);
                ctx.progress(done, Some(total), message).await;
            }
        }
        Ok(JobOutcome::json(&report))
    }
}
