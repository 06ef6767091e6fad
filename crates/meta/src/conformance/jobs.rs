//! The job queue: claims exclusive and in due order, leases that lapse and are taken over, retries that wait
//! for their backoff, cancellation of queued and running jobs, one live job per (kind, key), progress, and
//! pruning of finished jobs. Each check uses kinds of its own.

use crate::MetaStore;
use crate::jobs::{Cancelling, Enqueued, JobEnd, JobFilter, JobProgress, JobState, NewJob, Renewal};

fn new_job(kind: &str, key: &str, run_after: i64) -> NewJob {
    NewJob {
        kind: kind.into(),
        key: key.into(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        max_attempts: 3,
        run_after,
        unless_created_since: None,
    }
}

fn created(e: Enqueued) -> i64 {
    match e {
        Enqueued::Created(id) => id,
        other => panic!("expected a new job, got {other:?}"),
    }
}

fn of_kind(kind: &str) -> JobFilter {
    JobFilter { kind: Some(kind.into()), limit: 100, ..Default::default() }
}

pub async fn job_claims<S: MetaStore>(store: &S) {
    let (k, other) = ("conf-claims", "conf-claims-other");
    let late = created(store.enqueue_job(&new_job(k, "late", 50), 10).await.unwrap());
    let first = created(store.enqueue_job(&new_job(k, "first", 10), 11).await.unwrap());
    let second = created(store.enqueue_job(&new_job(k, "second", 20), 12).await.unwrap());
    created(store.enqueue_job(&new_job(other, "x", 0), 13).await.unwrap());

    let queued = store.job(first).await.unwrap().unwrap();
    assert_eq!((queued.state, queued.attempts, queued.payload.as_str()), (JobState::Queued, 0, "{\"key\":\"first\"}"));
    assert_eq!(store.claim_job(&[], "node-a", 100, 190).await.unwrap(), None, "no kinds, nothing claimed");
    // Due order (run_after), only the kinds asked for, each job to one worker.
    let a = store.claim_job(&[k], "node-a", 30, 120).await.unwrap().unwrap();
    assert_eq!((a.id, a.state, a.attempts, a.lease_owner.as_deref()), (first, JobState::Running, 1, Some("node-a")));
    assert_eq!((a.lease_until, a.started_at), (Some(120), Some(30)));
    let b = store.claim_job(&[k], "node-b", 31, 121).await.unwrap().unwrap();
    assert_eq!(b.id, second);
    assert_eq!(store.claim_job(&[k], "node-c", 32, 122).await.unwrap(), None, "`late` is not due yet");
    let c = store.claim_job(&[k], "node-c", 50, 140).await.unwrap().unwrap();
    assert_eq!(c.id, late);
    assert_eq!(store.claim_job(&[k], "node-d", 60, 150).await.unwrap(), None, "every lease is held");

    // Renewal extends only the owner's lease.
    assert_eq!(store.renew_job(first, "node-a", 100, 200).await.unwrap(), Renewal::Held);
    assert_eq!(store.renew_job(first, "node-b", 100, 200).await.unwrap(), Renewal::Lost, "not node-b's");
    // node-b went away: past its lease (121) node-d takes the job over, and node-b has lost it.
    assert_eq!(store.claim_job(&[k], "node-d", 121, 210).await.unwrap(), None, "the lease ends after 121");
    let taken = store.claim_job(&[k], "node-d", 122, 210).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts, taken.lease_owner.as_deref()), (second, 2, Some("node-d")));
    assert_eq!(store.renew_job(second, "node-b", 123, 220).await.unwrap(), Renewal::Lost);
    let done = JobEnd::Succeeded { result: Some("{\"n\":1}".into()) };
    assert!(
        !store.finish_job(second, "node-b", &done, 124).await.unwrap(),
        "a lost job is not finished by its old worker"
    );
    assert!(store.finish_job(second, "node-d", &done, 125).await.unwrap());
    let finished = store.job(second).await.unwrap().unwrap();
    assert_eq!(
        (finished.state, finished.result.as_deref(), finished.finished_at, finished.lease_until),
        (JobState::Succeeded, Some("{\"n\":1}"), Some(125), None)
    );
    assert!(!store.finish_job(second, "node-d", &done, 126).await.unwrap(), "ended once");

    // Progress is recorded for the owner only.
    let progress = JobProgress { done: 2, total: Some(5), message: Some("layer 2 of 5".into()) };
    assert!(store.job_progress(first, "node-a", &progress, 130).await.unwrap());
    assert!(!store.job_progress(first, "node-b", &JobProgress::default(), 130).await.unwrap());
    assert_eq!(store.job(first).await.unwrap().unwrap().progress, Some(progress));

    // Listings: newest first, filtered by kind, state and key, paged by id.
    let all = store.list_jobs(&of_kind(k)).await.unwrap();
    assert_eq!(all.iter().map(|j| j.id).collect::<Vec<_>>(), [second, first, late]);
    let running = JobFilter { state: Some(JobState::Running), ..of_kind(k) };
    assert_eq!(store.list_jobs(&running).await.unwrap().iter().map(|j| j.id).collect::<Vec<_>>(), [first, late]);
    let page = JobFilter { before: Some(second), limit: 1, ..of_kind(k) };
    assert_eq!(store.list_jobs(&page).await.unwrap().iter().map(|j| j.id).collect::<Vec<_>>(), [first]);
    let by_key = JobFilter { key: Some("late".into()), ..of_kind(k) };
    assert_eq!(store.list_jobs(&by_key).await.unwrap().len(), 1);
    assert_eq!(store.list_jobs(&of_kind(other)).await.unwrap().len(), 1, "kinds apart");
    assert_eq!(store.job(i64::MAX).await.unwrap(), None);
}

pub async fn job_retries<S: MetaStore>(store: &S) {
    let k = "conf-retries";
    let id = created(store.enqueue_job(&NewJob { max_attempts: 2, ..new_job(k, "r", 0) }, 0).await.unwrap());
    let first = store.claim_job(&[k], "node-a", 10, 100).await.unwrap().unwrap();
    // A failed attempt is queued again, not claimable before its backoff ends, and keeps its error.
    let retry = JobEnd::Retry { error: "registry unavailable".into(), run_after: 40 };
    assert!(store.finish_job(first.id, "node-a", &retry, 20).await.unwrap());
    let waiting = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (waiting.state, waiting.run_after, waiting.error.as_deref(), waiting.finished_at),
        (JobState::Queued, 40, Some("registry unavailable"), None)
    );
    assert_eq!(store.claim_job(&[k], "node-b", 39, 130).await.unwrap(), None, "backing off");
    let second = store.claim_job(&[k], "node-b", 40, 130).await.unwrap().unwrap();
    assert_eq!(second.attempts, 2);
    // Its worker dies on the last attempt: the lapsed lease is not taken over (no attempts left), the job
    // is ended as failed, once.
    let mine = |jobs: Vec<crate::jobs::Job>| jobs.into_iter().filter(|j| j.kind == k).collect::<Vec<_>>();
    assert_eq!(mine(store.expire_jobs(130).await.unwrap()), vec![], "the lease holds until 130");
    assert_eq!(store.claim_job(&[k], "node-c", 131, 200).await.unwrap(), None, "out of attempts");
    let expired = mine(store.expire_jobs(131).await.unwrap());
    assert_eq!(expired.iter().map(|j| (j.id, j.state)).collect::<Vec<_>>(), [(id, JobState::Failed)]);
    assert!(expired[0].error.as_deref().unwrap().contains("lease expired"), "{:?}", expired[0].error);
    assert_eq!(expired[0].finished_at, Some(131));
    assert_eq!(mine(store.expire_jobs(132).await.unwrap()), vec![], "ended once");

    // A failure retrying cannot cure ends the job at once.
    let fatal = created(store.enqueue_job(&new_job(k, "fatal", 0), 200).await.unwrap());
    store.claim_job(&[k], "node-a", 201, 300).await.unwrap().unwrap();
    assert!(store.finish_job(fatal, "node-a", &JobEnd::Failed { error: "bad payload".into() }, 202).await.unwrap());
    let failed = store.job(fatal).await.unwrap().unwrap();
    assert_eq!(
        (failed.state, failed.error.as_deref(), failed.finished_at),
        (JobState::Failed, Some("bad payload"), Some(202))
    );
}

pub async fn job_cancellation<S: MetaStore>(store: &S) {
    let k = "conf-cancel";
    let queued = created(store.enqueue_job(&new_job(k, "queued", 0), 0).await.unwrap());
    let running = created(store.enqueue_job(&new_job(k, "running", 1), 0).await.unwrap());
    let orphan = created(store.enqueue_job(&new_job(k, "orphan", 2), 0).await.unwrap());
    assert_eq!(store.claim_job(&[k], "node-a", 5, 100).await.unwrap().unwrap().id, queued);
    // The first claim is given back (retry), so `queued` is queued again; `running` and `orphan` run.
    let retry = JobEnd::Retry { error: "try later".into(), run_after: 1000 };
    assert!(store.finish_job(queued, "node-a", &retry, 6).await.unwrap());
    assert_eq!(store.claim_job(&[k], "node-a", 7, 100).await.unwrap().unwrap().id, running);
    assert_eq!(store.claim_job(&[k], "node-b", 8, 50).await.unwrap().unwrap().id, orphan);

    match store.cancel_job(queued, 10).await.unwrap() {
        Cancelling::Cancelled(j) => assert_eq!((j.state, j.finished_at), (JobState::Cancelled, Some(10))),
        other => panic!("a queued job is cancelled at once: {other:?}"),
    }
    match store.cancel_job(running, 11).await.unwrap() {
        Cancelling::Requested(j) => assert_eq!((j.state, j.cancel_requested_at), (JobState::Running, Some(11))),
        other => panic!("a running job is asked to stop: {other:?}"),
    }
    assert!(
        matches!(store.cancel_job(running, 12).await.unwrap(), Cancelling::Requested(j) if j.cancel_requested_at == Some(11))
    );
    // Its worker learns it at the next renewal and ends it.
    assert_eq!(store.renew_job(running, "node-a", 13, 100).await.unwrap(), Renewal::CancelRequested);
    assert!(store.finish_job(running, "node-a", &JobEnd::Cancelled { error: None }, 14).await.unwrap());
    assert_eq!(store.job(running).await.unwrap().unwrap().state, JobState::Cancelled);
    assert!(
        matches!(store.cancel_job(running, 15).await.unwrap(), Cancelling::Finished(j) if j.state == JobState::Cancelled)
    );
    assert_eq!(store.cancel_job(i64::MAX, 15).await.unwrap(), Cancelling::NotFound);

    // A running job asked to stop whose worker died is not taken over but ended as cancelled.
    assert!(matches!(store.cancel_job(orphan, 20).await.unwrap(), Cancelling::Requested(_)));
    assert_eq!(store.claim_job(&[k], "node-c", 60, 200).await.unwrap(), None);
    let expired = store.expire_jobs(60).await.unwrap();
    let expired: Vec<_> = expired.iter().filter(|j| j.kind == k).map(|j| (j.id, j.state)).collect();
    assert_eq!(expired, [(orphan, JobState::Cancelled)]);
    assert_eq!(store.claim_job(&[k], "node-c", 2000, 3000).await.unwrap(), None, "cancelled jobs never run");
}

pub async fn job_dedup<S: MetaStore>(store: &S) {
    let k = "conf-dedup";
    let id = created(store.enqueue_job(&new_job(k, "repo-a", 500), 10).await.unwrap());
    // One live job per (kind, key): the same work asked for again finds it, and brings it forward if the new
    // request is due sooner (never later).
    assert_eq!(store.enqueue_job(&new_job(k, "repo-a", 800), 11).await.unwrap(), Enqueued::Existing(id));
    assert_eq!(store.job(id).await.unwrap().unwrap().run_after, 500);
    assert_eq!(store.enqueue_job(&new_job(k, "repo-a", 20), 12).await.unwrap(), Enqueued::Existing(id));
    assert_eq!(store.job(id).await.unwrap().unwrap().run_after, 20);
    let other = created(store.enqueue_job(&new_job(k, "repo-b", 20), 13).await.unwrap());
    assert_ne!(other, id, "other keys are other jobs");
    // Running is live too.
    assert_eq!(store.claim_job(&[k], "node-a", 30, 100).await.unwrap().unwrap().id, id);
    assert_eq!(store.enqueue_job(&new_job(k, "repo-a", 31), 31).await.unwrap(), Enqueued::Existing(id));
    assert!(store.finish_job(id, "node-a", &JobEnd::Succeeded { result: None }, 40).await.unwrap());
    // Once it ended, new work is a new job, unless "at most once since" says it already ran.
    let since = NewJob { unless_created_since: Some(10), ..new_job(k, "repo-a", 50) };
    assert_eq!(store.enqueue_job(&since, 50).await.unwrap(), Enqueued::Skipped);
    let next_period = NewJob { unless_created_since: Some(45), ..new_job(k, "repo-a", 50) };
    let again = created(store.enqueue_job(&next_period, 50).await.unwrap());
    assert_ne!(again, id);
    assert_eq!(store.enqueue_job(&next_period, 51).await.unwrap(), Enqueued::Existing(again));
}

pub async fn job_retention<S: MetaStore>(store: &S) {
    let k = "conf-retention";
    let old = created(store.enqueue_job(&new_job(k, "old", 0), 0).await.unwrap());
    let recent = created(store.enqueue_job(&new_job(k, "recent", 0), 0).await.unwrap());
    let live = created(store.enqueue_job(&new_job(k, "live", 5000), 0).await.unwrap());
    for (id, at) in [(old, 100), (recent, 900)] {
        assert_eq!(store.claim_job(&[k], "node-a", at, at + 60).await.unwrap().unwrap().id, id);
        assert!(store.finish_job(id, "node-a", &JobEnd::Succeeded { result: None }, at).await.unwrap());
    }
    // Jobs that ended before the cutoff go; recent and live ones stay.
    assert!(store.prune_jobs(500).await.unwrap() >= 1);
    assert_eq!(store.job(old).await.unwrap(), None);
    let left: Vec<i64> = store.list_jobs(&of_kind(k)).await.unwrap().iter().map(|j| j.id).collect();
    assert_eq!(left, [live, recent]);
}

pub async fn job_counts<S: MetaStore>(store: &S) {
    use crate::monitoring::JobCount;
    let k = "conf-counts";
    for key in ["a", "b", "c"] {
        created(store.enqueue_job(&new_job(k, key, 0), 1).await.unwrap());
    }
    let claimed = store.claim_job(&[k], "node-a", 2, 100).await.unwrap().unwrap();
    let failed = JobEnd::Failed { error: "broken".into() };
    let second = store.claim_job(&[k], "node-a", 3, 100).await.unwrap().unwrap();
    assert!(store.finish_job(second.id, "node-a", &failed, 4).await.unwrap());
    let mine: Vec<JobCount> = store.job_counts().await.unwrap().into_iter().filter(|c| c.kind == k).collect();
    let count = |state| JobCount { kind: k.into(), state, jobs: 1 };
    assert_eq!(mine, vec![count(JobState::Failed), count(JobState::Queued), count(JobState::Running)]);
    assert_eq!(claimed.state, JobState::Running);
    let pools = store.pool_usage();
    assert!(!pools.is_empty() && pools.iter().all(|p| p.idle <= p.open && p.open <= p.max && p.max > 0), "{pools:?}");
}

/// A process that owns the store alone takes over, at its start, the running jobs its dead predecessor held:
/// their leases end at once, its own stay.
pub async fn job_lease_release<S: MetaStore>(store: &S) {
    let k = "conf-release";
    let dead = created(store.enqueue_job(&new_job(k, "dead", 0), 0).await.unwrap());
    let alive = created(store.enqueue_job(&new_job(k, "alive", 1), 0).await.unwrap());
    assert_eq!(store.claim_job(&[k], "old-process/0", 10, 1000).await.unwrap().unwrap().id, dead);
    assert_eq!(store.claim_job(&[k], "new-process/1", 11, 1000).await.unwrap().unwrap().id, alive);
    assert_eq!(store.claim_job(&[k], "new-process/0", 20, 1020).await.unwrap(), None, "both leases held");
    let released = store.release_job_leases("new-process", 20).await.unwrap();
    assert!(released >= 1, "the dead process's lease ended ({released})");
    let taken = store.claim_job(&[k], "new-process/0", 20, 1020).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts), (dead, 2), "taken over at once, counting an attempt");
    assert_eq!(store.claim_job(&[k], "new-process/0", 21, 1021).await.unwrap(), None, "its own lease is kept");
    let kept = store.job(alive).await.unwrap().unwrap();
    assert_eq!((kept.lease_owner.as_deref(), kept.lease_until), (Some("new-process/1"), Some(1000)));
    assert_eq!(store.release_job_leases("new-process", 22).await.unwrap(), 0, "nothing else to release");
}
