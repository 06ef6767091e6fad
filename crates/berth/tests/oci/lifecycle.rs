//! Lifecycle policies driven by the real AWS CLI (`put-lifecycle-policy`, `start-lifecycle-policy-preview`,
//! `wait lifecycle-policy-preview-complete`, ...) and `berth lifecycle run`, with images pushed and pulled
//! at chosen times: the server's registry clock is moved through `BERTH_TEST_CLOCK_FILE` (honoured by debug
//! builds only) instead of sleeping. Runs and previews are jobs (`lifecycle`, `lifecycle-preview`) that
//! `berth jobs` lists.

use std::path::Path;
use std::time::Duration;

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::ecr::{aws, require};
use crate::scanning::berth;
use crate::support::*;

const DAY: i64 = 86_400;

/// A server whose registry clock is the system's plus the seconds in `clock` (0 to start with), evaluating
/// policies on its own every `interval_hours` (0: only when asked).
fn start_evaluating_every(tmp: &Path, interval_hours: &str) -> Server {
    let clock = tmp.join("clock");
    std::fs::write(&clock, "0").unwrap();
    Server::start_with(
        &tmp.join("data"),
        &[("BERTH_TEST_CLOCK_FILE", clock.to_str().unwrap()), ("BERTH_LIFECYCLE_INTERVAL_HOURS", interval_hours)],
    )
}

/// A server whose schedule never runs a policy by itself, so that each run is the test's.
pub(crate) fn start(tmp: &Path) -> Server {
    start_evaluating_every(tmp, "0")
}

/// Moves the registry clock to `days` days after the test's start.
pub(crate) fn set_day(tmp: &Path, days: i64) {
    std::fs::write(tmp.join("clock"), (days * DAY).to_string()).unwrap();
}

/// Pushes an image with `tags` (none: pushed under a temporary tag that is then removed).
pub(crate) async fn push(s: &Server, repo: &str, name: &str, tags: &[&str]) -> Digest {
    let first = tags.first().copied().unwrap_or("scratch-tag");
    let (body, digest) = s.push_image(repo, first, format!("layer of {name}").as_bytes()).await;
    for t in tags.iter().skip(1) {
        assert_eq!(s.put_manifest(repo, t, OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    }
    if tags.is_empty() {
        let r = s.http.delete(s.url(&format!("/v2/{repo}/manifests/{first}"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    digest
}

pub(crate) fn policy(rules: Value) -> String {
    json!({ "rules": rules }).to_string()
}

fn digests(v: &Value, list: &str, member: &str) -> Vec<String> {
    let mut out: Vec<String> =
        v[list].as_array().unwrap().iter().map(|i| i[member].as_str().unwrap().to_string()).collect();
    out.sort();
    out
}

fn sorted(d: &[&Digest]) -> Vec<String> {
    let mut out: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    out.sort();
    out
}

/// ECR's "Filtering on multiple rules", example A, end to end: images pushed 10, 9 and 8 days before now;
/// the preview and then the run expire exactly image A, and the expiry is audited with its rule.
#[tokio::test]
async fn the_aws_cli_previews_and_berth_runs_a_lifecycle_policy() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = start(dir);
    let key = (ADMIN_KEY.0, ADMIN_KEY.1);
    let repo = "team/lifecycle";

    let a = push(&s, repo, "A", &["beta-1", "prod-1"]).await;
    set_day(dir, 1);
    let b = push(&s, repo, "B", &["beta-2", "prod-2"]).await;
    set_day(dir, 2);
    let c = push(&s, repo, "C", &["beta-3"]).await;
    set_day(dir, 10);

    // Nothing set yet.
    aws(&s, dir, key, &["get-lifecycle-policy", "--repository-name", repo]).error("LifecyclePolicyNotFoundException");
    aws(&s, dir, key, &["get-lifecycle-policy-preview", "--repository-name", repo])
        .error("LifecyclePolicyPreviewNotFoundException");
    aws(&s, dir, key, &["start-lifecycle-policy-preview", "--repository-name", repo])
        .error("LifecyclePolicyNotFoundException");
    let text = policy(json!([
        {"rulePriority": 1, "description": "Rule 1", "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod"],
         "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}},
        {"rulePriority": 2, "description": "Rule 2", "selection": {"tagStatus": "tagged", "tagPrefixList": ["beta"],
         "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}
    ]));
    aws(&s, dir, key, &["put-lifecycle-policy", "--repository-name", "team/none", "--lifecycle-policy-text", &text])
        .error("RepositoryNotFoundException");

    // A preview of a policy given only for the preview (nothing is set by it).
    let started = aws(
        &s,
        dir,
        key,
        &["start-lifecycle-policy-preview", "--repository-name", repo, "--lifecycle-policy-text", &text],
    )
    .json();
    assert_eq!(started["lifecyclePolicyText"], text.as_str());
    assert!(["IN_PROGRESS", "COMPLETE"].contains(&started["status"].as_str().unwrap()), "{started}");
    let waited = aws(&s, dir, key, &["wait", "lifecycle-policy-preview-complete", "--repository-name", repo]);
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    let preview = aws(&s, dir, key, &["get-lifecycle-policy-preview", "--repository-name", repo]).json();
    assert_eq!(preview["status"], "COMPLETE");
    assert_eq!(digests(&preview, "previewResults", "imageDigest"), sorted(&[&a]), "{preview}");
    let result = &preview["previewResults"][0];
    assert_eq!(result["action"]["type"], "EXPIRE");
    assert_eq!(result["appliedRulePriority"], 1);
    assert_eq!(result["imageTags"], json!(["beta-1", "prod-1"]));
    assert_eq!(preview["summary"]["expiringImageTotalCount"], 1);
    aws(&s, dir, key, &["get-lifecycle-policy", "--repository-name", repo]).error("LifecyclePolicyNotFoundException");

    // Set, read back; a run expires what the preview showed and nothing else.
    let put = aws(&s, dir, key, &["put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", &text])
        .json();
    assert_eq!(
        (put["repositoryName"].as_str(), put["lifecyclePolicyText"].as_str()),
        (Some(repo), Some(text.as_str()))
    );
    let got = aws(&s, dir, key, &["get-lifecycle-policy", "--repository-name", repo]).json();
    assert_eq!(got["lifecyclePolicyText"], text.as_str());
    assert!(got.get("lastEvaluatedAt").is_none(), "not evaluated yet: {got}");
    let (code, stdout, _) = berth(&s, &["lifecycle", "run", repo, "--wait"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&a.to_string()) && stdout.contains("1 image(s) expired"), "{stdout}");
    // The run was a `lifecycle` job: `berth jobs show` gives its result.
    let id = stdout.lines().next().and_then(|l| l.strip_prefix(&format!("lifecycle policy of {repo}: job "))).unwrap();
    let (code, shown, _) = berth(&s, &["jobs", "show", id]);
    assert_eq!(code, 0);
    for line in ["kind        lifecycle", "state       succeeded", &format!("key         {repo}")] {
        assert!(shown.contains(line), "{line:?} in:\n{shown}");
    }
    assert!(shown.contains("\"expiredCount\":1") && shown.contains(&a.to_string()), "{shown}");
    let left = aws(&s, dir, key, &["describe-images", "--repository-name", repo]).json();
    assert_eq!(digests(&left, "imageDetails", "imageDigest"), sorted(&[&b, &c]));
    let got = aws(&s, dir, key, &["get-lifecycle-policy", "--repository-name", repo]).json();
    assert!(got["lastEvaluatedAt"].as_f64().is_some(), "{got}");
    // The pull of an expired image fails like that of any deleted image.
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/prod-1")).await.status(), StatusCode::NOT_FOUND);

    // The expiry is in the audit log with the rule that caused it.
    let mut found = None;
    for _ in 0..50 {
        let events = s.admin("ListAuditEvents", json!({"limit": 100})).await;
        found = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "berth:LifecyclePolicyExpireImage")
            .cloned();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let event = found.expect("the expiry is audited");
    let detail = event["detail"].as_str().unwrap();
    assert!(detail.contains(&a.to_string()) && detail.contains("rule 1 (\"Rule 1\")"), "{detail}");
    assert!(event["resource"].as_str().unwrap().ends_with(":repository/team/lifecycle"), "{event}");

    // A second run finds nothing more to do; removing the policy returns it.
    let (code, stdout, _) = berth(&s, &["lifecycle", "run", repo, "--wait"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("0 image(s) expired"), "{stdout}");
    let deleted = aws(&s, dir, key, &["delete-lifecycle-policy", "--repository-name", repo]).json();
    assert_eq!(deleted["lifecyclePolicyText"], text.as_str());
    aws(&s, dir, key, &["delete-lifecycle-policy", "--repository-name", repo])
        .error("LifecyclePolicyNotFoundException");
    let (code, _, stderr) = berth(&s, &["lifecycle", "run", repo, "--wait"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no lifecycle policy"), "{stderr}");
}

/// `sinceImagePulled` counts from the last recorded pull (or the push of an image never pulled), and the
/// server evaluates a repository's policy by itself, without anyone asking.
#[tokio::test]
async fn the_server_applies_policies_by_itself_using_pull_times() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = start_evaluating_every(dir, "24");
    let key = (ADMIN_KEY.0, ADMIN_KEY.1);
    let repo = "team/pulled";
    let used = push(&s, repo, "used", &["used"]).await;
    let idle = push(&s, repo, "idle", &["idle"]).await;
    let untagged = push(&s, repo, "untagged", &[]).await;
    set_day(dir, 30);
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/used")).await.status(), StatusCode::OK);
    // Pull times are written in batches every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    set_day(dir, 45);
    let text = policy(json!([
        {"rulePriority": 1, "description": "drop what nobody pulled for 20 days",
         "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 20},
         "action": {"type": "expire"}}
    ]));
    aws(&s, dir, key, &["start-lifecycle-policy-preview", "--repository-name", repo, "--lifecycle-policy-text", &text])
        .json();
    assert_eq!(aws(&s, dir, key, &["wait", "lifecycle-policy-preview-complete", "--repository-name", repo]).code, 0);
    let preview = aws(&s, dir, key, &["get-lifecycle-policy-preview", "--repository-name", repo]).json();
    assert_eq!(digests(&preview, "previewResults", "imageDigest"), sorted(&[&idle, &untagged]), "{preview}");
    let only_tagged =
        aws(&s, dir, key, &["get-lifecycle-policy-preview", "--repository-name", repo, "--filter", "tagStatus=TAGGED"])
            .json();
    assert_eq!(digests(&only_tagged, "previewResults", "imageDigest"), sorted(&[&idle]));

    aws(&s, dir, key, &["put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", &text]).json();
    // The next day's period queues a `lifecycle` job for each repository with a policy; a worker runs it.
    set_day(dir, 46);
    let mut left = Vec::new();
    for _ in 0..60 {
        let images = aws(&s, dir, key, &["describe-images", "--repository-name", repo]).json();
        left = digests(&images, "imageDetails", "imageDigest");
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(left, sorted(&[&used]), "the scheduled run expires exactly what the preview showed");
    let got = aws(&s, dir, key, &["get-lifecycle-policy", "--repository-name", repo]).json();
    assert!(got["lastEvaluatedAt"].as_f64().is_some(), "{got}");

    // The run was a job of kind `lifecycle` keyed by the repository, queued by the schedule (its expiries are
    // audited as `lifecycle`), with what it expired as its result.
    let job = wait_for_job(&s, "lifecycle", repo).await;
    assert_eq!((job["state"].as_str(), job["payload"]["principal"].as_str()), (Some("succeeded"), Some("lifecycle")));
    let result: Value = serde_json::from_str(job["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["expiredCount"], 2, "{result}");
    assert_eq!(digests(&result, "expired", "imageDigest"), sorted(&[&idle, &untagged]));
    let (code, table, _) = berth(&s, &["jobs", "list", "--kind", "lifecycle"]);
    assert_eq!(code, 0);
    assert!(table.lines().any(|l| l.contains(repo) && l.contains("lifecycle") && l.contains("succeeded")), "{table}");
    // The preview was a `lifecycle-preview` job of the repository.
    let preview_job = wait_for_job(&s, "lifecycle-preview", repo).await;
    assert_eq!(preview_job["state"], "succeeded", "{preview_job}");
    assert!(preview_job["result"].as_str().unwrap().contains("2 expiring"), "{preview_job}");
    // Another period, another run: one job per period.
    let count = || async {
        s.admin("ListJobs", json!({"kind": "lifecycle", "key": repo})).await["jobs"].as_array().unwrap().len()
    };
    let before = count().await;
    set_day(dir, 47);
    let mut runs = before;
    for _ in 0..60 {
        runs = count().await;
        if runs > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!((runs, count().await), (before + 1, before + 1), "one scheduled run per period");
}

/// The latest job of `kind` about `key`, once it has ended.
pub async fn wait_for_job(s: &Server, kind: &str, key: &str) -> Value {
    for _ in 0..200 {
        let listed = s.admin("ListJobs", json!({"kind": kind, "key": key, "limit": 1})).await;
        if let Some(job) = listed["jobs"].as_array().unwrap().first()
            && !["queued", "running"].contains(&job["state"].as_str().unwrap())
        {
            return job.clone();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("no {kind} job of {key} ended")
}

/// Every kind of malformed rule is refused as ECR refuses it: `InvalidParameterException` naming the problem.
#[tokio::test]
async fn malformed_lifecycle_policies_are_refused_naming_the_problem() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = start(dir);
    let key = (ADMIN_KEY.0, ADMIN_KEY.1);
    let repo = "team/rules";
    push(&s, repo, "x", &["x"]).await;
    // Descriptions pad each document past the API's 100-character minimum.
    let d = "a description long enough for the API's minimum length of one hundred characters";
    let sel = |s: Value| json!([{"rulePriority": 1, "description": d, "selection": s, "action": {"type": "expire"}}]);
    let untagged = json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!([{"rulePriority": 1, "description": d, "selection": untagged, "action": {"type": "expire"}},
                   {"rulePriority": 1, "description": d, "selection": untagged, "action": {"type": "expire"}}]),
            "rulePriority 1 is used by more than one rule",
        ),
        (
            json!([{"rulePriority": 1, "description": d, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}},
                   {"rulePriority": 2, "description": d, "selection": untagged, "action": {"type": "expire"}}]),
            "'any' must have the highest rulePriority",
        ),
        (
            json!([{"rulePriority": 0, "description": d, "selection": untagged, "action": {"type": "expire"}}]),
            "positive integer",
        ),
        (
            sel(json!({"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1})),
            "requires tagPrefixList or tagPatternList",
        ),
        (
            sel(
                json!({"tagStatus": "tagged", "tagPrefixList": ["a"], "tagPatternList": ["a*"], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "not both",
        ),
        (
            sel(
                json!({"tagStatus": "tagged", "tagPatternList": ["test*1*2*3*4*5*6"], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "more than 4 wildcards",
        ),
        (
            sel(
                json!({"tagStatus": "untagged", "tagPrefixList": ["a"], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "only allowed with tagStatus 'tagged'",
        ),
        (
            sel(json!({"tagStatus": "sometimes", "countType": "imageCountMoreThan", "countNumber": 1})),
            "tagStatus 'sometimes'",
        ),
        (
            sel(json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 1})),
            "requires countUnit 'days'",
        ),
        (
            sel(
                json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countUnit": "days", "countNumber": 1}),
            ),
            "must not be given",
        ),
        (
            sel(json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 0})),
            "positive integer",
        ),
        (
            sel(json!({"tagStatus": "untagged", "countType": "everySoOften", "countNumber": 1})),
            "countType 'everySoOften'",
        ),
        (
            json!([{"rulePriority": 1, "description": d, "selection": untagged, "action": {"type": "transition"}}]),
            "requires targetStorageClass 'archive'",
        ),
        (
            json!([{"rulePriority": 1, "description": d, "selection": untagged, "action": {"type": "destroy"}}]),
            "action type 'destroy'",
        ),
    ];
    for (rules, words) in cases {
        let text = policy(rules);
        let out =
            aws(&s, dir, key, &["put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", &text]);
        let stderr = out.error("InvalidParameterException");
        assert!(stderr.contains("Lifecycle policy validation failure") && stderr.contains(words), "{words}: {stderr}");
    }
    let garbage = format!("{{\"rules\": [ {} ", " ".repeat(100));
    let out =
        aws(&s, dir, key, &["put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", &garbage]);
    assert!(out.error("InvalidParameterException").contains("not valid JSON"));
    aws(&s, dir, key, &["get-lifecycle-policy", "--repository-name", repo]).error("LifecyclePolicyNotFoundException");
}
