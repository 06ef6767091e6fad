//! Background jobs through the CLI and the admin API: a scan is a `scan` job that `berth jobs list` and
//! `berth jobs show` describe while and after it runs; cancelling an ended or unknown job says so; bad
//! filters are refused with the admin API's error JSON; a running garbage collection and a queued lifecycle
//! run are cancelled cleanly.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::ecr::start;
use crate::scanning::{berth, push_fixture};
use crate::support::*;

#[tokio::test]
async fn scans_are_jobs_listed_shown_and_cancellable() {
    let (_tmp, s) = start();
    let (digest, _) = push_fixture(&s, "jobs/app", "1").await;
    let image = format!("jobs/app@{digest}");
    let (code, out, err) = berth(&s, &["scan", &image]);
    assert_eq!(code, 0, "berth scan: {out}{err}");

    // The scan is a job keyed by the image; it ends `succeeded` with a summary of what it found.
    let key = format!("jobs/app@{digest}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let (code, out, err) = berth(&s, &["jobs", "list", "--kind", "scan", "--json"]);
        assert_eq!(code, 0, "berth jobs list: {err}");
        let listed: Value = serde_json::from_str(&out).unwrap();
        let job = listed["jobs"].as_array().unwrap().iter().find(|j| j["key"] == key.as_str()).cloned();
        let job = job.unwrap_or_else(|| panic!("no scan job for {key}: {listed}"));
        if job["state"] == "succeeded" {
            break job;
        }
        assert!(["queued", "running"].contains(&job["state"].as_str().unwrap()), "{job}");
        assert!(Instant::now() < deadline, "the scan job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        (job["kind"].as_str(), job["attempts"].as_u64(), job["maxAttempts"].as_u64()),
        (Some("scan"), Some(1), Some(3))
    );
    assert_eq!(job["payload"]["repository"], "jobs/app");
    assert_eq!(job["payload"]["reason"], "manual");
    assert!(job["result"].as_str().unwrap().contains("packages"), "{job}");
    assert!(job["finishedAt"].as_i64().unwrap() >= job["createdAt"].as_i64().unwrap());
    let id = job["jobId"].as_i64().unwrap().to_string();

    let (code, table, _) = berth(&s, &["jobs", "list", "--kind", "scan", "--state", "succeeded"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("ID") && table.contains(&key) && table.contains("succeeded"), "{table}");
    let (_, none, _) = berth(&s, &["jobs", "list", "--kind", "scan", "--state", "failed"]);
    assert_eq!(none.lines().count(), 1, "only the header: {none}");
    let (code, shown, err) = berth(&s, &["jobs", "show", &id]);
    assert_eq!(code, 0, "{err}");
    for line in ["kind        scan", "state       succeeded", "attempts    1/3", &format!("key         {key}")] {
        assert!(shown.contains(line), "{line:?} in:\n{shown}");
    }

    // Cancelling an ended job changes nothing and says so; an unknown job is an error.
    let (code, out, _) = berth(&s, &["jobs", "cancel", &id]);
    assert_eq!((code, out.trim()), (0, format!("job {id} had already ended: succeeded").as_str()));
    let (code, _, err) = berth(&s, &["jobs", "cancel", "987654321"]);
    assert_eq!(code, 1);
    assert!(err.contains("job 987654321 does not exist"), "{err}");
    let (status, v) = s.admin_as(Some(ADMIN_KEY), "DescribeJob", &json!({"jobId": 987654321})).await;
    assert_eq!((status, v["__type"].as_str()), (StatusCode::NOT_FOUND, Some("NoSuchEntityException")), "{v}");
    let (status, v) = s.admin_as(Some(ADMIN_KEY), "ListJobs", &json!({"state": "done"})).await;
    assert_eq!((status, v["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("ValidationException")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("queued, running, succeeded, failed, cancelled"), "{v}");
    let (status, _) = s.admin_as(Some(ADMIN_KEY), "ListJobs", &json!({"limit": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Re-queueing the same image is a new job once the first has ended.
    assert_eq!(berth(&s, &["scan", &image]).0, 0);
    let listed = s.admin("ListJobs", json!({"kind": "scan"})).await;
    let ids: Vec<i64> = listed["jobs"].as_array().unwrap().iter().map(|j| j["jobId"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids[0] > ids[1], "newest first: {ids:?}");
}

/// Polls `DescribeJob` until `until` holds for job `id`; returns the job.
async fn job_until(s: &Server, id: i64, what: &str, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = s.admin("DescribeJob", json!({"jobId": id})).await["job"].take();
        if until(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} never {what}: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// With one job slot: a garbage collection over many blobs is cancelled while it runs and stops between two
/// blobs (what it deleted stays deleted, the rest waits for the next collection, nothing is left half done);
/// a lifecycle run queued behind it is cancelled before it touches anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn running_and_queued_jobs_are_cancelled_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("berth.toml");
    std::fs::write(&config, "[jobs]\nworkers = 1\n").unwrap();
    let dir = tmp.path().join("data");
    let env = [
        ("BERTH_CONFIG", config.to_str().unwrap()),
        ("BERTH_GC_GRACE", "0s"),
        ("BERTH_GC_INTERVAL", "0"),
        ("BERTH_LIFECYCLE_INTERVAL_HOURS", "0"),
    ];
    let mut s = Server::start_with(&dir, &env);
    let repo = "jobs/policy";
    let (_, old) = s.push_image(repo, "v1", b"old layer").await;
    let (_, new) = s.push_image(repo, "v2", b"new layer").await;
    let policy = json!({"rules": [{"rulePriority": 1, "description": "keep only the newest v image, nothing else",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"}}]});
    let r = s
        .signed_post(
            Some(ADMIN_KEY),
            "ecr",
            "/",
            &[("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.PutLifecyclePolicy")],
            &json!({"repositoryName": repo, "lifecyclePolicyText": policy.to_string()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // Blobs uploaded and never used: with no grace period, all of them are garbage.
    const STRAYS: u64 = 1500;
    let s_ref = &s;
    let uploads = futures_util::stream::iter(0..STRAYS)
        .map(|i| async move { s_ref.push_blob("jobs/strays", &bytes(900_000 + i, 100)).await })
        .buffer_unordered(16);
    let strays: Vec<_> = uploads.collect().await;
    assert_eq!(strays.len() as u64, STRAYS);

    let gc = s.admin("RunGarbageCollection", json!({})).await["jobId"].as_i64().unwrap();
    job_until(&s, gc, "ran", |j| j["state"] == "running").await;
    // The one slot is taken: the run waits in the queue, and is cancelled there.
    let run = s.admin("RunLifecyclePolicy", json!({"repositoryName": repo})).await;
    let run = run["jobId"].as_i64().unwrap();
    let (code, out, err) = berth(&s, &["jobs", "cancel", &run.to_string()]);
    assert_eq!((code, out.trim()), (0, format!("job {run} cancelled").as_str()), "{err}");
    // The running collection is asked to stop, and does between two blobs.
    let (code, out, _) = berth(&s, &["jobs", "cancel", &gc.to_string()]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("job {gc} is running; asked it to stop")) || out.contains(&format!("job {gc} cancelled")),
        "{out}"
    );
    let stopped = job_until(&s, gc, "ended", |j| !["queued", "running"].contains(&j["state"].as_str().unwrap())).await;
    assert_eq!(stopped["state"], "cancelled", "{stopped}");
    assert!(stopped["error"].as_str().unwrap().starts_with("cancelled after "), "{stopped}");
    let status = s.admin("GetGarbageCollectionStatus", json!({})).await;
    let deleted = status["blobsDeleted"].as_u64().unwrap();
    assert!(deleted < STRAYS, "stopped before the end: {status}");
    assert_eq!((status["deleting"].as_u64(), status["running"].as_bool()), (Some(0), Some(false)), "{status}");
    let cancelled = s.admin("DescribeJob", json!({"jobId": run})).await["job"].take();
    assert_eq!((cancelled["state"].as_str(), cancelled["attempts"].as_u64()), (Some("cancelled"), Some(0)));
    for d in [&old, &new] {
        assert_eq!(s.get(&format!("/v2/{repo}/manifests/{d}")).await.status(), StatusCode::OK, "nothing expired");
    }

    // The next collection finishes the work; the run, asked again, expires the old image.
    let (code, out, err) = berth(&s, &["gc", "run", "--wait"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("garbage collection: job "), "{out}");
    let status = s.admin("GetGarbageCollectionStatus", json!({})).await;
    assert_eq!(status["blobsDeleted"].as_u64().unwrap(), STRAYS, "{status}");
    assert_eq!(status["queued"], 0, "{status}");
    let (code, out, err) = berth(&s, &["lifecycle", "run", repo, "--wait"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&old.to_string()) && out.contains("1 image(s) expired"), "{out}");
    s.stop();
    let fsck = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["fsck", "--json", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&fsck.stdout).unwrap();
    assert_eq!((&report["problems"], &report["leftovers"]), (&json!([]), &json!([])), "{report}");
}
