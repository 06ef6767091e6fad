//! The admin API's storage operations: `GetStorageUsage`, `PutQuota`, `ListQuotas`, `DeleteQuota`.

use berth_oci::RepositoryName;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AdminResult, registry_error, validation};
use crate::AppState;
use crate::aws::errors::{AwsError, ErrorType};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StorageUsageInput {
    pub(super) repository_name: Option<String>,
    /// The last repository of the previous page.
    pub(super) next_token: Option<String>,
    pub(super) max_results: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct QuotaInput {
    pub(super) prefix: String,
    pub(super) limit_bytes: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct QuotaPrefixInput {
    pub(super) prefix: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QuotaOutput {
    prefix: String,
    limit_bytes: u64,
    used_bytes: u64,
    repositories: u64,
    updated_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountOutput {
    repository_name: String,
    total_bytes: u64,
    exclusive_bytes: u64,
    shared_bytes: u64,
    reclaimable_bytes: u64,
    manifest_bytes: u64,
    blobs: u64,
    images: u64,
}

impl From<berth_meta::accounting::StorageAccount> for AccountOutput {
    fn from(a: berth_meta::accounting::StorageAccount) -> Self {
        AccountOutput {
            repository_name: a.name.to_string(),
            total_bytes: a.total_bytes,
            exclusive_bytes: a.exclusive_bytes,
            shared_bytes: a.shared_bytes,
            reclaimable_bytes: a.reclaimable_bytes,
            manifest_bytes: a.manifest_bytes,
            blobs: a.blobs,
            images: a.images,
        }
    }
}

/// `GetStorageUsage`: one repository's account, or a page of every repository's with the registry's totals.
pub(super) async fn usage(app: &AppState, repo: Option<RepositoryName>, i: StorageUsageInput) -> AdminResult {
    let registry = &app.registry;
    if let Some(repo) = repo {
        let account = registry.storage_account(&repo).await.map_err(|e| registry_error(e, &repo))?;
        return Ok(json!({"repositories": [AccountOutput::from(account)]}));
    }
    let n = i.max_results.unwrap_or(1000).clamp(1, 1000);
    let page = registry.storage_accounts(i.next_token.as_deref(), n).await.map_err(|e| AwsError::server(&e))?;
    let next = page.more.then(|| page.entries.last().map(|a| a.name.to_string())).flatten();
    let totals = registry.registry_storage().await.map_err(|e| AwsError::server(&e))?;
    let deleted_bytes = registry.deleted_bytes().await.map_err(|e| AwsError::server(&e))?;
    let accounts: Vec<AccountOutput> = page.entries.into_iter().map(AccountOutput::from).collect();
    let mut out = json!({
        "registry": {
            "storedBytes": totals.stored_bytes,
            "logicalBytes": totals.logical_bytes,
            "unlinkedBytes": totals.unlinked_bytes,
            "blobs": totals.blobs,
            "repositories": totals.repositories,
            "dedupRatio": totals.dedup_ratio(),
            // Held by soft-deleted images until they are purged (part of storedBytes).
            "deletedBytes": deleted_bytes,
        },
        "repositories": accounts,
    });
    if let Some(next) = next {
        out["nextToken"] = json!(next);
    }
    Ok(out)
}

fn quota_error(e: berth_registry::RegistryError) -> AwsError {
    match e {
        berth_registry::RegistryError::InvalidSetting(m) => validation(m),
        other => AwsError::server(&other),
    }
}

pub(super) async fn put_quota(app: &AppState, i: QuotaInput) -> AdminResult {
    app.registry.set_quota(&i.prefix, i.limit_bytes).await.map_err(quota_error)?;
    Ok(json!({}))
}

pub(super) async fn list_quotas(app: &AppState) -> AdminResult {
    let quotas = app.registry.quotas().await.map_err(quota_error)?;
    let quotas: Vec<QuotaOutput> = quotas
        .into_iter()
        .map(|q| QuotaOutput {
            prefix: q.quota.prefix,
            limit_bytes: q.quota.limit_bytes,
            used_bytes: q.used_bytes,
            repositories: q.repositories,
            updated_at: q.quota.updated_at,
        })
        .collect();
    Ok(json!({"quotas": quotas}))
}

pub(super) async fn delete_quota(app: &AppState, prefix: &str) -> AdminResult {
    if !app.registry.delete_quota(prefix).await.map_err(quota_error)? {
        return Err(AwsError::new(ErrorType::NoSuchEntity, format!("there is no quota on {prefix:?}")));
    }
    Ok(json!({}))
}
