//! Purging soft-deleted images and repositories with every purge audited (the `purge-deleted` job's
//! observer, registered by the server).

use std::sync::Arc;

use async_trait::async_trait;
use berth_identity::Identity;
use berth_meta::deleted::Purged;
use berth_meta::identity::AuditEvent;
use berth_registry::deleted::PurgeObserver;

/// The audit action of a deleted image purged for good.
pub const PURGE_IMAGE_ACTION: &str = "berth:PurgeDeletedImage";
/// The audit action of a deleted repository purged for good.
pub const PURGE_REPOSITORY_ACTION: &str = "berth:PurgeDeletedRepository";

/// Audits each purge as the principal `soft-delete`.
pub struct AuditPurges {
    pub identity: Arc<Identity>,
}

#[async_trait]
impl PurgeObserver for AuditPurges {
    async fn purged(&self, purged: &Purged, at: i64) {
        let event = |action: &str, resource: String, detail: String| AuditEvent {
            id: 0,
            at,
            principal: "soft-delete".to_string(),
            action: action.to_string(),
            resource,
            source_ip: String::new(),
            outcome: "allowed".to_string(),
            status: 200,
            detail: Some(detail),
        };
        let account = self.identity.account();
        for (repo, digest) in &purged.images {
            let detail = format!("{digest}: soft-delete window passed, purged for good");
            let e = event(PURGE_IMAGE_ACTION, account.repository_arn(repo), detail);
            self.identity.audit().record(e).await;
        }
        for (repo, images) in &purged.repositories {
            let detail = format!("{repo} with {images} image(s): soft-delete window passed, purged for good");
            let e = event(PURGE_REPOSITORY_ACTION, account.repository_arn(repo), detail);
            self.identity.audit().record(e).await;
        }
    }
}
