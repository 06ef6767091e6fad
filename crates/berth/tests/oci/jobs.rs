//! Background jobs through the CLI and the admin API: a scan is a `scan` job that `berth jobs list` and
//! `berth jobs show` describe while and after it runs; cancelling an ended or unknown job says so; bad
//! filters are refused with the admin API's error JSON.

use std::time::{Duration, Instant};

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
