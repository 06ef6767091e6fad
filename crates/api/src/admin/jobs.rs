//! The admin API's job operations: `ListJobs`, `DescribeJob`, `CancelJob`.

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
