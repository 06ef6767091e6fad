//! Pull time update exclusions and archived images, driven by the real AWS CLI (`register-pull-time-update-
//! exclusion`, `update-image-storage-class`, `describe-images --filter imageStatus=...`), skopeo and raw
//! `/v2` requests, with the registry clock moved through `BERTH_TEST_CLOCK_FILE` for lifecycle transitions.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::ecr::{aws, require};
use crate::lifecycle::{policy, push, set_day, start};
use crate::scanning::berth;
use crate::support::*;

const KEY: (&str, &str) = (ADMIN_KEY.0, ADMIN_KEY.1);

fn registry_id(s: &Server, dir: &Path) -> String {
    aws(s, dir, KEY, &["describe-registry"]).json()["registryId"].as_str().unwrap().to_string()
}

/// The image `digest` of `repo` as `describe-images --image-ids` shows it.
fn describe(s: &Server, dir: &Path, repo: &str, digest: &Digest) -> Value {
    let id = format!("imageDigest={digest}");
    let out = aws(s, dir, KEY, &["describe-images", "--repository-name", repo, "--image-ids", &id]).json();
    out["imageDetails"][0].clone()
}

/// Digests `describe-images` lists with `filter` (none: ECR's default, active images only).
fn listed(s: &Server, dir: &Path, repo: &str, filter: Option<&str>) -> Vec<String> {
    let mut args = vec!["describe-images", "--repository-name", repo];
    if let Some(f) = filter {
        args.extend(["--filter", f]);
    }
    let out = aws(s, dir, KEY, &args).json();
    let mut d: Vec<String> =
        out["imageDetails"].as_array().unwrap().iter().map(|i| i["imageDigest"].as_str().unwrap().into()).collect();
    d.sort();
    d
}

/// The audit events with `action`, waiting a little for them to be written.
async fn audited(s: &Server, action: &str, want: usize) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..50 {
        let events = s.admin("ListAuditEvents", json!({"limit": 200})).await;
        found = events["events"].as_array().unwrap().iter().filter(|e| e["action"] == action).cloned().collect();
        if found.len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

/// A principal with an exclusion leaves `lastRecordedPullTime` alone while other principals' pulls update
/// it; exclusions are registered once, listed, validated and deregistered with the AWS CLI.
#[tokio::test]
async fn excluded_principals_do_not_update_pull_times() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = start(dir);
    let account = registry_id(&s, dir);
    let repo = "team/pulls";
    s.admin("CreateUser", json!({"userName": "scanner", "password": "scanner-password"})).await;
    let pull = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecr:BatchGetImage"],
        "Resource": "arn:aws:ecr:*:*:repository/team/*"}]});
    s.admin("PutPolicy", json!({"target": {"user": "scanner"}, "policyText": pull.to_string()})).await;
    let scanner = client_as("scanner", "scanner-password");

    let arn = format!("arn:aws:iam::{account}:user/scanner");
    let registered = aws(&s, dir, KEY, &["register-pull-time-update-exclusion", "--principal-arn", &arn]).json();
    assert_eq!(registered["principalArn"], arn.as_str());
    assert!(registered["createdAt"].as_f64().is_some(), "{registered}");
    aws(&s, dir, KEY, &["register-pull-time-update-exclusion", "--principal-arn", &arn])
        .error("ExclusionAlreadyExistsException");
    let robot = format!("arn:aws:iam::{account}:role/robot/backup");
    aws(&s, dir, KEY, &["register-pull-time-update-exclusion", "--principal-arn", &robot]).json();
    for bad in [
        "arn:aws:iam::999999999999:user/scanner".to_string(),
        format!("arn:aws:iam::{account}:role/scanner"),
        format!("arn:aws:iam::{account}:group/admins"),
        "scanner".to_string(),
    ] {
        aws(&s, dir, KEY, &["register-pull-time-update-exclusion", "--principal-arn", &bad])
            .error("InvalidParameterException");
    }
    let list = aws(&s, dir, KEY, &["list-pull-time-update-exclusions"]).json();
    assert_eq!(list["pullTimeUpdateExclusions"], json!([robot, arn]), "ARN order: {list}");
    // Paged: one at a time.
    let first = aws(&s, dir, KEY, &["list-pull-time-update-exclusions", "--max-results", "1"]).json();
    assert_eq!(first["pullTimeUpdateExclusions"], json!([robot]), "{first}");
    let token = first["nextToken"].as_str().expect("a next page");
    let args = ["list-pull-time-update-exclusions", "--max-results", "1", "--next-token", token];
    let second = aws(&s, dir, KEY, &args).json();
    assert_eq!(second["pullTimeUpdateExclusions"], json!([arn]), "{second}");
    assert!(second.get("nextToken").is_none(), "{second}");

    let by_scanner = push(&s, repo, "scanned", &["scanned"]).await;
    let by_both = push(&s, repo, "both", &["both"]).await;
    let get = |client: &reqwest::Client, tag: &str| client.get(s.url(&format!("/v2/{repo}/manifests/{tag}"))).send();
    assert_eq!(get(&scanner, "scanned").await.unwrap().status(), StatusCode::OK);
    assert_eq!(get(&scanner, "both").await.unwrap().status(), StatusCode::OK);
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/both")).await.status(), StatusCode::OK);
    // Pull times are written in batches every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let scanned = describe(&s, dir, repo, &by_scanner);
    assert!(scanned.get("lastRecordedPullTime").is_none(), "only the excluded principal pulled it: {scanned}");
    let both = describe(&s, dir, repo, &by_both);
    assert!(both["lastRecordedPullTime"].as_f64().is_some(), "the administrator's pull counts: {both}");

    let gone = aws(&s, dir, KEY, &["deregister-pull-time-update-exclusion", "--principal-arn", &arn]).json();
    assert_eq!(gone["principalArn"], arn.as_str());
    aws(&s, dir, KEY, &["deregister-pull-time-update-exclusion", "--principal-arn", &arn])
        .error("ExclusionNotFoundException");
    assert_eq!(get(&scanner, "scanned").await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let scanned = describe(&s, dir, repo, &by_scanner);
    assert!(scanned["lastRecordedPullTime"].as_f64().is_some(), "no longer excluded: {scanned}");
    let list = aws(&s, dir, KEY, &["list-pull-time-update-exclusions"]).json();
    assert_eq!(list["pullTimeUpdateExclusions"], json!([robot]));
    assert!(audited(&s, "ecr:RegisterPullTimeUpdateExclusion", 2).await.len() >= 2, "registrations are audited");
}

/// An archived image is described as ARCHIVED, left out of default listings, and refuses pulls on every
/// surface with an error saying how to restore it; a restore goes through ACTIVATING to ACTIVE and the
/// same digest pulls again.
#[tokio::test]
async fn archived_images_refuse_pulls_until_restored() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = start(dir);
    let repo = "team/archive";
    let layer = b"layer of the archived image";
    let (_, digest) = s.push_image(repo, "v1", layer).await;
    let layer_digest = Digest::sha256_of(layer);
    let kept = push(&s, repo, "kept", &["v2"]).await;
    let update = |target: &str, id: &str| {
        aws(
            &s,
            dir,
            KEY,
            &[
                "update-image-storage-class",
                "--repository-name",
                repo,
                "--image-id",
                id,
                "--target-storage-class",
                target,
            ],
        )
    };

    let archived = update("ARCHIVE", "imageTag=v1").json();
    assert_eq!(archived["imageStatus"], "ARCHIVED", "{archived}");
    assert_eq!(archived["imageId"]["imageDigest"], digest.to_string().as_str());
    assert_eq!(update("ARCHIVE", "imageTag=v1").json()["imageStatus"], "ARCHIVED", "archiving again changes nothing");
    update("ARCHIVE", "imageTag=nothing").error("ImageNotFoundException");
    aws(
        &s,
        dir,
        KEY,
        &[
            "update-image-storage-class",
            "--repository-name",
            "team/none",
            "--image-id",
            "imageTag=v1",
            "--target-storage-class",
            "ARCHIVE",
        ],
    )
    .error("RepositoryNotFoundException");

    let detail = describe(&s, dir, repo, &digest);
    assert_eq!(detail["imageStatus"], "ARCHIVED", "{detail}");
    assert!(detail["lastArchivedAt"].as_f64().is_some() && detail.get("lastActivatedAt").is_none(), "{detail}");
    assert_eq!(listed(&s, dir, repo, None), [kept.to_string()], "listings show active images by default");
    assert_eq!(listed(&s, dir, repo, Some("imageStatus=ARCHIVED")), [digest.to_string()]);
    assert_eq!(listed(&s, dir, repo, Some("imageStatus=ANY")).len(), 2);
    let ids = aws(&s, dir, KEY, &["list-images", "--repository-name", repo, "--filter", "imageStatus=ARCHIVED"]).json();
    assert_eq!(ids["imageIds"], json!([{"imageDigest": digest.to_string(), "imageTag": "v1"}]), "{ids}");

    // /v2: the manifest and the blobs only it uses answer 404 saying it is archived and how to restore it.
    for reference in ["v1".to_string(), digest.to_string()] {
        let r = s.get(&format!("/v2/{repo}/manifests/{reference}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("is archived") && message.contains("--target-storage-class STANDARD"), "{message}");
    }
    assert_eq!(s.head(&format!("/v2/{repo}/manifests/v1")).await.status(), StatusCode::NOT_FOUND);
    let r = s.get(&format!("/v2/{repo}/blobs/{layer_digest}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "BLOB_UNKNOWN");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("archived"), "{body}");
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/v2")).await.status(), StatusCode::OK, "other images pull");

    // A real client sees the message.
    let image = format!("docker://{}/{repo}:v1", s.base.trim_start_matches("http://"));
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &image])
        .output()
        .expect("skopeo (scripts/install-deps.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("is archived"), "skopeo: {stderr}");

    // The ECR API: BatchGetImage fails the image, GetDownloadUrlForLayer the layer.
    let got = aws(&s, dir, KEY, &["batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=v1"]).json();
    assert_eq!(got["images"], json!([]), "{got}");
    assert_eq!(got["failures"][0]["failureCode"], "ImageInaccessible", "{got}");
    assert!(got["failures"][0]["failureReason"].as_str().unwrap().contains("is archived"), "{got}");
    let layer_arg = layer_digest.to_string();
    let args = ["get-download-url-for-layer", "--repository-name", repo, "--layer-digest", &layer_arg];
    assert!(aws(&s, dir, KEY, &args).error("LayerInaccessibleException").contains("archived"));

    // Restore: ACTIVATING at once, ACTIVE once the restore job has run; the same digest pulls again.
    let restoring = update("STANDARD", &format!("imageDigest={digest}")).json();
    assert_eq!(restoring["imageStatus"], "ACTIVATING", "{restoring}");
    let mut detail = Value::Null;
    for _ in 0..100 {
        detail = describe(&s, dir, repo, &digest);
        if detail["imageStatus"] == "ACTIVE" {
            break;
        }
        assert_eq!(detail["imageStatus"], "ACTIVATING", "{detail}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(detail["imageStatus"], "ACTIVE", "restored: {detail}");
    assert!(detail["lastArchivedAt"].as_f64().is_some() && detail["lastActivatedAt"].as_f64().is_some(), "{detail}");
    let r = s.get(&format!("/v2/{repo}/manifests/v1")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["docker-content-digest"], digest.to_string().as_str());
    assert_eq!(s.get(&format!("/v2/{repo}/blobs/{layer_digest}")).await.status(), StatusCode::OK);
    assert_eq!(update("STANDARD", "imageTag=v1").json()["imageStatus"], "ACTIVE", "restoring again changes nothing");
    assert_eq!(listed(&s, dir, repo, None).len(), 2);
    let (code, stdout, _) = berth(&s, &["jobs", "list"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("image-restore"), "the restore ran as a job: {stdout}");

    // Each change is audited with what it did.
    let events = audited(&s, "ecr:UpdateImageStorageClass", 3).await;
    let details: Vec<&str> = events.iter().filter_map(|e| e["detail"].as_str()).collect();
    assert!(details.iter().any(|d| d.contains(&digest.to_string()) && d.contains("archived")), "{details:?}");
    assert!(details.iter().any(|d| d.contains("restore started")), "{details:?}");
}

/// A lifecycle `transition` rule archives exactly the images it selects, as its preview said, audited
/// with its rule; a rule on the archive storage class then expires them by the time since their transition.
/// Malformed transition rules are refused naming the problem.
#[tokio::test]
async fn lifecycle_transitions_archive_images() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = start(dir);
    let repo = "team/transitions";
    let old = push(&s, repo, "old", &["old-1"]).await;
    let new = push(&s, repo, "new", &["new-1"]).await;
    set_day(dir, 35);
    let recent = push(&s, repo, "recent", &["old-2"]).await;
    set_day(dir, 40);

    let text = policy(json!([
        {"rulePriority": 1, "description": "archive old images after 30 days",
         "selection": {"tagStatus": "tagged", "tagPrefixList": ["old"], "countType": "sinceImagePushed",
                       "countUnit": "days", "countNumber": 30},
         "action": {"type": "transition", "targetStorageClass": "archive"}},
        {"rulePriority": 2, "description": "drop what was archived for 5 days",
         "selection": {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned",
                       "countUnit": "days", "countNumber": 5},
         "action": {"type": "expire"}}
    ]));
    aws(&s, dir, KEY, &["put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", &text]).json();
    let preview = |s: &Server| {
        aws(s, dir, KEY, &["start-lifecycle-policy-preview", "--repository-name", repo]).json();
        let waited = aws(s, dir, KEY, &["wait", "lifecycle-policy-preview-complete", "--repository-name", repo]);
        assert_eq!(waited.code, 0, "{}", waited.stderr);
        aws(s, dir, KEY, &["get-lifecycle-policy-preview", "--repository-name", repo]).json()
    };
    let shown = preview(&s);
    let results = shown["previewResults"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{shown}");
    assert_eq!(results[0]["imageDigest"], old.to_string().as_str());
    assert_eq!(results[0]["action"], json!({"type": "TRANSITION", "targetStorageClass": "ARCHIVE"}));
    assert_eq!(results[0]["storageClass"], "STANDARD");
    assert_eq!(results[0]["appliedRulePriority"], 1);
    assert_eq!(
        shown["summary"],
        json!({"expiringImageTotalCount": 0,
               "transitioningImageTotalCounts": [{"targetStorageClass": "ARCHIVE", "imageTotalCount": 1}]}),
        "{shown}"
    );

    let (code, stdout, _) = berth(&s, &["lifecycle", "run", repo, "--wait"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("archived {old}")) && stdout.contains("0 image(s) expired, 1 archived"),
        "{stdout}"
    );
    assert_eq!(describe(&s, dir, repo, &old)["imageStatus"], "ARCHIVED");
    for active in [&new, &recent] {
        assert_eq!(describe(&s, dir, repo, active)["imageStatus"], "ACTIVE");
    }
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/old-1")).await.status(), StatusCode::NOT_FOUND);
    let events = audited(&s, "berth:LifecyclePolicyArchiveImage", 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let detail = events[0]["detail"].as_str().unwrap();
    assert!(detail.contains(&old.to_string()) && detail.contains("rule 1"), "{detail}");

    // Four days in the archive: nothing to do; six: the archive rule expires it.
    set_day(dir, 44);
    assert_eq!(preview(&s)["previewResults"], json!([]));
    set_day(dir, 46);
    let shown = preview(&s);
    assert_eq!(shown["previewResults"][0]["imageDigest"], old.to_string().as_str(), "{shown}");
    assert_eq!(shown["previewResults"][0]["action"], json!({"type": "EXPIRE"}));
    assert_eq!(shown["previewResults"][0]["storageClass"], "ARCHIVE");
    let (code, stdout, _) = berth(&s, &["lifecycle", "run", repo, "--wait"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&format!("expired {old}")), "{stdout}");
    let mut left = vec![new.to_string(), recent.to_string()];
    left.sort();
    assert_eq!(listed(&s, dir, repo, Some("imageStatus=ANY")), left);

    // Malformed transition rules.
    let rule = |selection: Value, action: Value| {
        policy(json!([{"rulePriority": 1, "description": "a transition rule of the test", "selection": selection,
                       "action": action}]))
    };
    let days = |extra: Value| {
        let mut sel =
            json!({"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1});
        sel.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        sel
    };
    let cases = [
        (rule(days(json!({})), json!({"type": "transition"})), "requires targetStorageClass 'archive'"),
        (
            rule(days(json!({})), json!({"type": "transition", "targetStorageClass": "glacier"})),
            "targetStorageClass 'glacier' is not 'archive'",
        ),
        (
            rule(
                days(json!({"storageClass": "archive"})),
                json!({"type": "transition", "targetStorageClass": "archive"}),
            ),
            "applies to storageClass 'standard' images only",
        ),
        (
            rule(
                json!({"tagStatus": "any", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 1}),
                json!({"type": "expire"}),
            ),
            "requires storageClass 'archive'",
        ),
        (rule(days(json!({"storageClass": "cold"})), json!({"type": "expire"})), "storageClass 'cold'"),
        (
            rule(days(json!({})), json!({"type": "expire", "targetStorageClass": "archive"})),
            "only allowed with action 'transition'",
        ),
    ];
    for (text, words) in cases {
        let out =
            aws(&s, dir, KEY, &["put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", &text]);
        let stderr = out.error("InvalidParameterException");
        assert!(stderr.contains("Lifecycle policy validation failure") && stderr.contains(words), "{words}: {stderr}");
    }
}
