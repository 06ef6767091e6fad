//! Running a repository's lifecycle policy with every expiry audited: the one place both the admin API's
//! `RunLifecyclePolicy` and the server's daily evaluation go through.

use berth_identity::Identity;
use berth_meta::identity::AuditEvent;
use berth_oci::RepositoryName;
use berth_registry::lifecycle::LifecycleRun;
use berth_registry::{Registry, RegistryError};

/// The audit action of an image a lifecycle policy expired.
pub const EXPIRE_ACTION: &str = "berth:LifecyclePolicyExpireImage";

/// Runs the lifecycle policy of `repo` now (see [`Registry::run_lifecycle_policy`]) and audits each image
/// it expired, naming the rule that caused it, as `principal` (the caller who asked for the run, or
/// `lifecycle` for the scheduled one).
pub async fn run_and_audit(
    registry: &Registry,
    identity: &Identity,
    repo: &RepositoryName,
    principal: &str,
) -> Result<LifecycleRun, RegistryError> {
    let run = registry.run_lifecycle_policy(repo).await?;
    let resource = identity.account().repository_arn(repo);
    for e in &run.expired {
        let rule = match &e.rule_description {
            Some(d) => format!("rule {} ({d:?})", e.rule_priority),
            None => format!("rule {}", e.rule_priority),
        };
        let tags = if e.tags.is_empty() { "untagged".to_string() } else { format!("tags {}", e.tags.join(", ")) };
        let mut detail = format!("{} ({tags}) expired by {rule} of the lifecycle policy", e.digest);
        if !e.referrers.is_empty() {
            detail.push_str(&format!(", with {} referrer(s)", e.referrers.len()));
        }
        let event = AuditEvent {
            id: 0,
            at: run.evaluated_at,
            principal: principal.to_string(),
            action: EXPIRE_ACTION.to_string(),
            resource: resource.clone(),
            source_ip: String::new(),
            outcome: "allowed".to_string(),
            status: 200,
            detail: Some(detail),
        };
        identity.audit().record(event).await;
    }
    Ok(run)
}
