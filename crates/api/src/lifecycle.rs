//! Running a repository's lifecycle policy with every expiry and every transition (archive) audited: the
//! one place both the admin API's `RunLifecyclePolicy` and the server's daily evaluation go through.

use berth_identity::Identity;
use berth_meta::identity::AuditEvent;
use berth_oci::RepositoryName;
use berth_registry::lifecycle::LifecycleRun;
use berth_registry::{Registry, RegistryError};

/// The audit action of an image a lifecycle policy expired.
pub const EXPIRE_ACTION: &str = "berth:LifecyclePolicyExpireImage";
/// The audit action of an image a lifecycle policy archived (a `transition` rule).
pub const TRANSITION_ACTION: &str = "berth:LifecyclePolicyArchiveImage";

fn rule_name(priority: u32, description: Option<&String>) -> String {
    match description {
        Some(d) => format!("rule {priority} ({d:?})"),
        None => format!("rule {priority}"),
    }
}

fn tags_of(tags: &[String]) -> String {
    if tags.is_empty() { "untagged".to_string() } else { format!("tags {}", tags.join(", ")) }
}

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
    let event = |action: &str, detail: String| AuditEvent {
        id: 0,
        at: run.evaluated_at,
        principal: principal.to_string(),
        action: action.to_string(),
        resource: resource.clone(),
        source_ip: String::new(),
        outcome: "allowed".to_string(),
        status: 200,
        detail: Some(detail),
    };
    for e in &run.expired {
        let rule = rule_name(e.rule_priority, e.rule_description.as_ref());
        let mut detail = format!("{} ({}) expired by {rule} of the lifecycle policy", e.digest, tags_of(&e.tags));
        if !e.referrers.is_empty() {
            detail.push_str(&format!(", with {} referrer(s)", e.referrers.len()));
        }
        identity.audit().record(event(EXPIRE_ACTION, detail)).await;
    }
    for t in &run.transitioned {
        let rule = rule_name(t.rule_priority, t.rule_description.as_ref());
        let detail = format!("{} ({}) archived by {rule} of the lifecycle policy", t.digest, tags_of(&t.tags));
        identity.audit().record(event(TRANSITION_ACTION, detail)).await;
    }
    Ok(run)
}
