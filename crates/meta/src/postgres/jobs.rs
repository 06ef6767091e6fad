//! The job queue. Workers on any number of nodes claim with `FOR UPDATE SKIP LOCKED`: each takes the job due
//! first that no other claim is working on, without waiting; the claim condition is checked again on the row
//! as it is when locked (READ COMMITTED re-reads it), so a job just claimed elsewhere is never taken over
//! before its lease lapses. Two nodes queueing the same (kind, key) at once meet on the partial unique index
//! `jobs_live_key`: the second insert waits for the first and then finds its job.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::PgMeta;
use super::codec::{from_db, to_db};
use crate::jobs::{Cancelling, Enqueued, Job, JobEnd, JobFilter, JobProgress, JobState, JobStore, NewJob, Renewal};
use crate::{MetaError, Result};

const JOB_COLUMNS: &str = "id, kind, key, payload, state, attempts, max_attempts, run_after, lease_owner, \
     lease_until, cancel_requested_at, progress_done, progress_total, progress_message, result, error, \
     created_at, updated_at, started_at, finished_at";

/// What makes a job claimable at `$1` (see the SQLite backend).
const CLAIMABLE: &str = "((state = 'queued' AND run_after <= $1) OR (state = 'running' AND lease_until < $1 \
     AND cancel_requested_at IS NULL AND attempts < max_attempts))";

fn job(row: &PgRow) -> Result<Job> {
    let state: String = row.try_get("state")?;
    let count = |column: &str| -> Result<u32> {
        let v: i64 = row.try_get(column)?;
        u32::try_from(v).map_err(|_| MetaError::Corrupt(format!("jobs.{column} {v}")))
    };
    let done: Option<i64> = row.try_get("progress_done")?;
    let total: Option<i64> = row.try_get("progress_total")?;
    let message: Option<String> = row.try_get("progress_message")?;
    let progress = match (done, total, message) {
        (None, None, None) => None,
        (done, total, message) => Some(JobProgress {
            done: from_db("jobs.progress_done", done.unwrap_or(0))?,
            total: total.map(|t| from_db("jobs.progress_total", t)).transpose()?,
            message,
        }),
    };
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        key: row.try_get("key")?,
        payload: row.try_get("payload")?,
        state: JobState::parse(&state).ok_or_else(|| MetaError::Corrupt(format!("jobs.state {state:?}")))?,
        attempts: count("attempts")?,
        max_attempts: count("max_attempts")?,
        run_after: row.try_get("run_after")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: row.try_get("lease_until")?,
        cancel_requested_at: row.try_get("cancel_requested_at")?,
        progress,
        result: row.try_get("result")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// Queues `new` on `conn` (inside the caller's write transaction), as [`JobStore::enqueue_job`] describes.
pub(super) async fn insert_job(conn: &mut PgConnection, new: &NewJob, now: i64) -> Result<Enqueued> {
    loop {
        let live: Option<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, state, run_after FROM jobs WHERE kind = $1 AND key = $2 \
             AND state IN ('queued', 'running') FOR UPDATE",
        )
        .bind(&new.kind)
        .bind(&new.key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((id, state, run_after)) = live {
            // Asking again for work that is waiting brings it forward (an on-demand run of a scheduled job).
            if state == "queued" && new.run_after < run_after {
                sqlx::query("UPDATE jobs SET run_after = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(new.run_after)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
            }
            return Ok(Enqueued::Existing(id));
        }
        if let Some(since) = new.unless_created_since {
            let ran: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND key = $2 AND created_at >= $3)",
            )
            .bind(&new.kind)
            .bind(&new.key)
            .bind(since)
            .fetch_one(&mut *conn)
            .await?;
            if ran {
                return Ok(Enqueued::Skipped);
            }
        }
        // A concurrent insert of the same live (kind, key) makes this one wait, then do nothing: look again.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (kind, key, payload, state, max_attempts, run_after, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&new.kind)
        .bind(&new.key)
        .bind(&new.payload)
        .bind(i64::from(new.max_attempts.max(1)))
        .bind(new.run_after)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = id {
            return Ok(Enqueued::Created(id));
        }
    }
}

#[async_trait]
impl JobStore for PgMeta {
    async fn enqueue_job(&self, new: &NewJob, now: i64) -> Result<Enqueued> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let enqueued = insert_job(&mut tx, new, now).await?;
            tx.commit().await?;
            Ok(enqueued)
        })
        .await
    }

    async fn claim_job(&self, kinds: &[&str], owner: &str, now: i64, lease_until: i64) -> Result<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let kinds: Vec<&str> = kinds.to_vec();
        let kinds = &kinds;
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let pick = format!(
                "SELECT id FROM jobs WHERE {CLAIMABLE} AND kind = ANY($2) ORDER BY run_after, id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED"
            );
            let Some(id) = sqlx::query_scalar::<_, i64>(&pick).bind(now).bind(kinds).fetch_optional(&mut *tx).await?
            else {
                return Ok(None);
            };
            let sql = format!(
                "UPDATE jobs SET state = 'running', lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
                 started_at = $4, updated_at = $4 WHERE id = $1 RETURNING {JOB_COLUMNS}"
            );
            let row = sqlx::query(&sql).bind(id).bind(owner).bind(lease_until).bind(now).fetch_one(&mut *tx).await?;
            let claimed = job(&row)?;
            tx.commit().await?;
            Ok(Some(claimed))
        })
        .await
    }

    async fn renew_job(&self, id: i64, owner: &str, now: i64, lease_until: i64) -> Result<Renewal> {
        let cancel: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE jobs SET lease_until = $3, updated_at = $4 WHERE id = $1 AND lease_owner = $2 \
             AND state = 'running' RETURNING cancel_requested_at",
        )
        .bind(id)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match cancel {
            None => Renewal::Lost,
            Some(None) => Renewal::Held,
            Some(Some(_)) => Renewal::CancelRequested,
        })
    }

    async fn job_progress(&self, id: i64, owner: &str, progress: &JobProgress, now: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE jobs SET progress_done = $3, progress_total = $4, progress_message = $5, updated_at = $6 \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(to_db("progress", progress.done)?)
        .bind(progress.total.map(|t| to_db("progress total", t)).transpose()?)
        .bind(&progress.message)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn finish_job(&self, id: i64, owner: &str, end: &JobEnd, now: i64) -> Result<bool> {
        let (state, result, error, run_after, finished) = match end {
            JobEnd::Succeeded { result } => (JobState::Succeeded, result.as_deref(), None, None, Some(now)),
            JobEnd::Retry { error, run_after } => {
                (JobState::Queued, None, Some(error.as_str()), Some(*run_after), None)
            }
            JobEnd::Failed { error } => (JobState::Failed, None, Some(error.as_str()), None, Some(now)),
            JobEnd::Cancelled { error } => (JobState::Cancelled, None, error.as_deref(), None, Some(now)),
        };
        let n = sqlx::query(
            "UPDATE jobs SET state = $3, result = $4, error = COALESCE($5, error), \
             run_after = COALESCE($6, run_after), finished_at = $7, lease_until = NULL, updated_at = $8 \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(state.as_str())
        .bind(result)
        .bind(error)
        .bind(run_after)
        .bind(finished)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn cancel_job(&self, id: i64, now: i64) -> Result<Cancelling> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let select = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE");
            let Some(row) = sqlx::query(&select).bind(id).fetch_optional(&mut *tx).await? else {
                return Ok(Cancelling::NotFound);
            };
            let current = job(&row)?;
            let (sql, queued) = match current.state {
                JobState::Queued => (
                    format!(
                        "UPDATE jobs SET state = 'cancelled', cancel_requested_at = $2, finished_at = $2, \
                         updated_at = $2 WHERE id = $1 RETURNING {JOB_COLUMNS}"
                    ),
                    true,
                ),
                JobState::Running => (
                    format!(
                        "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, $2), \
                         updated_at = $2 WHERE id = $1 RETURNING {JOB_COLUMNS}"
                    ),
                    false,
                ),
                _ => return Ok(Cancelling::Finished(current)),
            };
            let updated = job(&sqlx::query(&sql).bind(id).bind(now).fetch_one(&mut *tx).await?)?;
            tx.commit().await?;
            Ok(if queued { Cancelling::Cancelled(updated) } else { Cancelling::Requested(updated) })
        })
        .await
    }

    async fn expire_jobs(&self, now: i64) -> Result<Vec<Job>> {
        // SKIP LOCKED: a job a worker is finishing right now is left to it.
        let sql = format!(
            "UPDATE jobs SET \
             state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'failed' END, \
             error = CASE WHEN cancel_requested_at IS NOT NULL THEN error ELSE \
               'the worker running it stopped responding (lease expired) on attempt ' || attempts || ' of ' \
               || max_attempts END, \
             finished_at = $1, lease_until = NULL, updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $1 \
               AND (cancel_requested_at IS NOT NULL OR attempts >= max_attempts) FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        );
        let rows = sqlx::query(&sql).bind(now).fetch_all(&self.pool).await?;
        rows.iter().map(job).collect()
    }

    async fn release_job_leases(&self, keep_prefix: &str, now: i64) -> Result<u64> {
        let n = sqlx::query(
            "UPDATE jobs SET lease_until = $2 - 1, updated_at = $2 WHERE state = 'running' AND lease_until >= $2 \
             AND (lease_owner IS NULL OR left(lease_owner, length($1)) <> $1)",
        )
        .bind(keep_prefix)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }

    async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(job).transpose()
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1::text IS NULL OR kind = $1) \
             AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR key = $3) \
             AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(&filter.kind)
            .bind(filter.state.map(JobState::as_str))
            .bind(&filter.key)
            .bind(filter.before)
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job).collect()
    }

    async fn prune_jobs(&self, finished_before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1")
            .bind(finished_before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
