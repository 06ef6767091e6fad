//! The admin API's job operations: `ListJobs`, `DescribeJob`, `CancelJob`; the garbage collector's status
//! (`GetGarbageCollectionStatus`) and a lifecycle run's outcome (`RunLifecyclePolicy` with `wait`), which
//! read jobs.

use berth_registry::jobs::{Job, JobFilter, JobState};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminResult, validation};
use crate::AppState;
use crate::aws::errors::{AwsError, ErrorType};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListJobsInput {
    pub(super) kind: Option<String>,
    pub(super) state: Option<String>,
    pub(super) key: Option<String>,
    /// Jobs with a smaller id than this (the previous page's `nextBefore`).
    pub(super) before: Option<i64>,
    pub(super) limit: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobIdInput {
    pub(super) job_id: i64,
}

pub(super) fn list_jobs_filter(i: ListJobsInput) -> Result<JobFilter, AwsError> {
    let state = match i.state.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
            validation(format!("state {s:?} is not one of {}", states.join(", ")))
        })?),
    };
    let limit = i.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(validation(format!("limit {limit} is not between 1 and 1000")));
    }
    Ok(JobFilter { kind: i.kind, state, key: i.key, before: i.before, limit: limit as u32 })
}

/// A job as the admin API shows it.
fn job_output(j: &Job) -> Value {
    json!({
        "jobId": j.id,
        "kind": j.kind,
        "key": j.key,
        "state": j.state.as_str(),
        "payload": serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::String(j.payload.clone())),
        "attempts": j.attempts,
        "maxAttempts": j.max_attempts,
        "runAfter": j.run_after,
        "worker": j.lease_owner,
        "leaseUntil": j.lease_until,
        "cancelRequestedAt": j.cancel_requested_at,
        "progress": j.progress.as_ref().map(|p| json!({"done": p.done, "total": p.total, "message": p.message})),
        "result": j.result,
        "error": j.error,
        "createdAt": j.created_at,
        "updatedAt": j.updated_at,
        "startedAt": j.started_at,
        "finishedAt": j.finished_at,
    })
}

fn no_such_job(id: i64) -> AwsError {
    AwsError::new(ErrorType::NoSuchEntity, format!("job {id} does not exist"))
}

/// `ListJobs`: a page of jobs, newest first.
pub(super) async fn list(app: &AppState, filter: &JobFilter) -> AdminResult {
    let jobs = app.registry.list_jobs(filter).await.map_err(|e| AwsError::server(&e))?;
    let next = (jobs.len() as u32 == filter.limit).then(|| jobs.last().map(|j| j.id)).flatten();
    let mut out = json!({"jobs": jobs.iter().map(job_output).collect::<Vec<_>>()});
    if let Some(n) = next {
        out["nextBefore"] = json!(n);
    }
    Ok(out)
}

pub(super) async fn describe(app: &AppState, id: i64) -> AdminResult {
    let job = app.registry.job(id).await.map_err(|e| AwsError::server(&e))?.ok_or_else(|| no_such_job(id))?;
    Ok(json!({"job": job_output(&job)}))
}

pub(super) async fn cancel(app: &AppState, id: i64) -> AdminResult {
    let job = app.registry.cancel_job(id).await.map_err(|e| AwsError::server(&e))?.ok_or_else(|| no_such_job(id))?;
    Ok(json!({"job": job_output(&job)}))
}

/// How long `RunLifecyclePolicy` with `wait` waits for its job.
const RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// How job `id` (a lifecycle run) ended, once it has: `COMPLETE` with its result, `FAILED` or `CANCELLED`
/// with why, or `IN_PROGRESS` if it is still running after [`RUN_WAIT`].
pub(super) async fn run_outcome(app: &AppState, id: i64) -> AdminResult {
    let poll = std::time::Duration::from_millis(100);
    let job = app.registry.wait_for_job(id, poll, RUN_WAIT).await.map_err(|e| AwsError::server(&e))?;
    let job = job.ok_or_else(|| no_such_job(id))?;
    let mut out = match job.state {
        JobState::Succeeded => {
            let mut out =
                job.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()).unwrap_or(json!({}));
            out["status"] = json!("COMPLETE");
            out
        }
        JobState::Failed => json!({"status": "FAILED", "error": job.error}),
        JobState::Cancelled => json!({"status": "CANCELLED", "error": job.error}),
        JobState::Queued | JobState::Running => json!({"status": "IN_PROGRESS"}),
    };
    out["jobId"] = json!(id);
    Ok(out)
}

/// `GetGarbageCollectionStatus`: the collector's totals and queue, and its latest job.
pub(super) async fn gc_status(app: &AppState) -> AdminResult {
    let server = |e: berth_registry::RegistryError| AwsError::server(&e);
    let s = app.registry.gc_status().await.map_err(server)?;
    let settings = app.registry.gc_settings();
    let of_kind =
        |state| JobFilter { kind: Some(berth_registry::gc_jobs::GC_JOB.into()), state, limit: 1, ..Default::default() };
    let running = app.registry.list_jobs(&of_kind(Some(JobState::Running))).await.map_err(server)?;
    let latest = match running.first() {
        Some(j) => Some(j.clone()),
        None => app.registry.list_jobs(&of_kind(None)).await.map_err(server)?.into_iter().next(),
    };
    Ok(json!({
        "requestedAt": s.requested_at,
        "requests": s.requests,
        "served": s.served,
        "runs": s.runs,
        "lastStartedAt": s.last_started_at,
        "lastFinishedAt": s.last_finished_at,
        "running": !running.is_empty(),
        "job": latest.as_ref().map(job_output),
        "linksRemoved": s.links_removed,
        "blobsDeleted": s.blobs_deleted,
        "bytesReclaimed": s.bytes_reclaimed,
        "queued": s.queued,
        "due": s.due,
        "deleting": s.deleting,
        "commitsInFlight": s.commits_in_flight,
        "graceSeconds": settings.grace.as_secs(),
    }))
}
