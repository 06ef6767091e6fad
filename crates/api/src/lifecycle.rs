//! Lifecycle policy runs as `lifecycle` jobs with every expiry and every transition (archive) audited: the
//! handler every node registers ([`register`]), whoever queued the run (the daily schedule, the admin API's
//! `RunLifecyclePolicy`).

use std::sync::Arc;

use berth_identity::Identity;
use berth_meta::identity::AuditEvent;
use berth_oci::RepositoryName;
use berth_registry::jobs::{Job, JobCtx, JobError, JobHandler, JobOutcome};
use berth_registry::lifecycle::{LIFECYCLE_JOB, LifecyclePayload, LifecycleRun};
use berth_registry::{Registry, RegistryError};
use serde_json::{Value, json};

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
/// At most this many expired images are listed in a run's result (the count is always whole).
const RESULT_LISTED: usize = 1000;

/// Registers the `lifecycle` job handler on `registry` (each node, before its workers start).
pub fn register(registry: &Registry, identity: Arc<Identity>) {
    registry.register_job_handler(Arc::new(LifecycleHandler { identity }));
}

/// Runs `lifecycle` jobs: the repository's policy now (stopping between two images when cancelled), each
/// expiry audited as the job's principal with the rule that caused it; the result lists what expired.
struct LifecycleHandler {
    identity: Arc<Identity>,
}

#[async_trait::async_trait]
impl JobHandler for LifecycleHandler {
    fn kind(&self) -> &'static str {
        LIFECYCLE_JOB
    }

    async fn run(&self, job: &Job, ctx: &JobCtx) -> Result<JobOutcome, JobError> {
        let (payload, repo) = LifecyclePayload::of(job)?;
        let run = match ctx.registry().run_lifecycle_policy(&repo, ctx).await {
            Ok(run) => run,
            // Removed meanwhile: nothing a retry cures.
            Err(e @ (RegistryError::LifecyclePolicyNotFound | RegistryError::NameUnknown)) => {
                return Err(JobError::fatal(format!("repository {repo}: {e}")));
            }
            Err(e) => return Err(e.into()),
        };
        audit_expiries(&self.identity, &repo, &run, &payload.principal).await;
        if run.stopped {
            return Err(JobError::fatal(format!("cancelled after expiring {} image(s)", run.expired.len())));
        }
        if !run.expired.is_empty() {
            tracing::info!(repository = %repo, expired = run.expired.len(), "lifecycle policy applied");
        }
        Ok(JobOutcome::json(&run_result(&run)))
    }
}

/// A run as a job's result and the admin API show it.
fn run_result(run: &LifecycleRun) -> Value {
    let expired: Vec<Value> = run
        .expired
        .iter()
        .take(RESULT_LISTED)
        .map(|e| {
            json!({"imageDigest": e.digest.to_string(), "imageTags": e.tags, "imagePushedAt": e.pushed_at,
                   "appliedRulePriority": e.rule_priority, "referrersDeleted": e.referrers.len()})
        })
        .collect();
    let archived: Vec<Value> = run
        .transitioned
        .iter()
        .take(RESULT_LISTED)
        .map(|t| {
            json!({"imageDigest": t.digest.to_string(), "imageTags": t.tags, "imagePushedAt": t.pushed_at,
                   "appliedRulePriority": t.rule_priority})
        })
        .collect();
    json!({"evaluatedAt": run.evaluated_at, "expiredCount": run.expired.len(), "expired": expired,
           "archivedCount": run.transitioned.len(), "archived": archived, "skipped": run.skipped})
}

/// Audits each image `run` expired in `repo`, naming the rule that caused it, as `principal` (the caller
/// who asked for the run, or `lifecycle` for the scheduled one).
async fn audit_expiries(identity: &Identity, repo: &RepositoryName, run: &LifecycleRun, principal: &str) {
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
}
