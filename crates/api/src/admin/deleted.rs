//! The admin API's soft-delete operations: `ListDeletedImages`, `RestoreImage`, `ListDeletedRepositories`,
//! `RestoreRepository`.

use berth_oci::{Digest, RepositoryName};
use berth_registry::RegistryError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AdminResult, repository, validation};
use crate::AppState;
use crate::aws::errors::{AwsError, ErrorType};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RestoreImageInput {
    pub(super) repository_name: String,
    pub(super) image_digest: String,
}

impl RestoreImageInput {
    pub(super) fn parse(self) -> Result<(RepositoryName, Digest), AwsError> {
        let repo = repository(&self.repository_name, "repositoryName")?;
        let digest = self.image_digest.parse().map_err(|e| validation(format!("imageDigest: {e}")))?;
        Ok((repo, digest))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeletedImageOutput {
    repository_name: String,
    image_digest: String,
    image_manifest_media_type: String,
    image_size_in_bytes: u64,
    image_tags: Vec<String>,
    image_pushed_at: i64,
    deleted_at: i64,
    purge_after: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeletedRepositoryOutput {
    repository_name: String,
    created_at: i64,
    deleted_at: i64,
    purge_after: i64,
    images: u64,
    size_in_bytes: u64,
}

fn error(e: RegistryError, repo: &RepositoryName) -> AwsError {
    match e {
        RegistryError::DeletedImageUnknown(m) => AwsError::new(ErrorType::ImageNotFound, m),
        RegistryError::DeletedRepositoryUnknown(m) => AwsError::new(ErrorType::RepositoryNotFound, m),
        RegistryError::RestoreRefused(m) => AwsError::new(ErrorType::Validation, m),
        other => super::registry_error(other, repo),
    }
}

pub(super) async fn list_images(app: &AppState, repo: &RepositoryName) -> AdminResult {
    let images = app.registry.deleted_images(repo).await.map_err(|e| error(e, repo))?;
    let images: Vec<DeletedImageOutput> = images
        .into_iter()
        .map(|d| DeletedImageOutput {
            repository_name: d.repository.to_string(),
            image_digest: d.digest.to_string(),
            image_manifest_media_type: d.media_type,
            image_size_in_bytes: d.size,
            image_tags: d.tags,
            image_pushed_at: d.pushed_at,
            deleted_at: d.deleted_at,
            purge_after: d.purge_after,
        })
        .collect();
    Ok(json!({"images": images}))
}

pub(super) async fn restore_image(app: &AppState, repo: &RepositoryName, digest: &Digest) -> AdminResult {
    let tags = app.registry.restore_image(repo, digest).await.map_err(|e| error(e, repo))?;
    Ok(json!({
        "repositoryName": repo.as_str(),
        "imageDigest": digest.to_string(),
        "restoredTags": tags.restored,
        "tagsTakenMeanwhile": tags.taken,
    }))
}

pub(super) async fn list_repositories(app: &AppState) -> AdminResult {
    let repos = app.registry.deleted_repositories().await.map_err(|e| AwsError::server(&e))?;
    let repos: Vec<DeletedRepositoryOutput> = repos
        .into_iter()
        .map(|d| DeletedRepositoryOutput {
            repository_name: d.name.to_string(),
            created_at: d.created_at,
            deleted_at: d.deleted_at,
            purge_after: d.purge_after,
            images: d.images,
            size_in_bytes: d.bytes,
        })
        .collect();
    Ok(json!({"repositories": repos}))
}

pub(super) async fn restore_repository(app: &AppState, repo: &RepositoryName) -> AdminResult {
    let restored = app.registry.restore_repository(repo).await.map_err(|e| error(e, repo))?;
    Ok(json!({
        "repositoryName": repo.as_str(),
        "images": restored.images,
        "restoredTags": restored.tags.restored,
        "tagsTakenMeanwhile": restored.tags.taken,
    }))
}
