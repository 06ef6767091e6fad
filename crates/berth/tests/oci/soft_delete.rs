//! Soft delete, black box: images deleted through `/v2` and through ECR's `BatchDeleteImage`, and repositories
//! through `DeleteRepository` (the real AWS CLI), disappear at once but keep their bytes; `berth images
//! restore` / `berth repo restore` bring them back with the same digests; once the window has passed (the
//! registry clock moved through `BERTH_TEST_CLOCK_FILE`) the purge job deletes them for good, garbage
//! collection reclaims their bytes, and a restore fails saying why. `BERTH_SOFT_DELETE_WINDOW=0` deletes at
//! once.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::ecr::{aws, require};
use crate::scanning::berth;
use crate::support::*;

const DAY: i64 = 86_400;

/// A server with a one-day window, collecting on request only with no grace, whose clock the test moves.
fn start(tmp: &Path, window: &str) -> Server {
    let clock = tmp.join("clock");
    std::fs::write(&clock, "0").unwrap();
    Server::start_with(
        &tmp.join("data"),
        &[
            ("BERTH_TEST_CLOCK_FILE", clock.to_str().unwrap()),
            ("BERTH_SOFT_DELETE_WINDOW", window),
            ("BERTH_GC_GRACE", "0s"),
            ("BERTH_GC_INTERVAL", "0"),
        ],
    )
}

fn blob_file(s: &Server, d: &Digest) -> std::path::PathBuf {
    let hex = d.hex();
    s.data_dir.join("blobs").join("sha256").join(&hex[..2]).join(hex)
}

/// Requests a collection and waits for it to finish.
async fn collect(s: &Server) {
    let request = s.admin("RunGarbageCollection", json!({})).await["request"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.admin("GetGarbageCollectionStatus", json!({})).await["served"].as_u64().unwrap() < request {
        assert!(Instant::now() < deadline, "no collection finished within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The layer digest of an image manifest.
fn layer_of(body: &[u8]) -> Digest {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["layers"][0]["digest"].as_str().unwrap().parse().unwrap()
}

async fn deleted_digests(s: &Server, repo: &str) -> Vec<String> {
    let v = s.admin("ListDeletedImages", json!({"repositoryName": repo})).await;
    v["images"].as_array().unwrap().iter().map(|i| i["imageDigest"].as_str().unwrap().to_string()).collect()
}

async fn manifest_status(s: &Server, repo: &str, reference: &str) -> (StatusCode, String) {
    let r = s.http.get(s.url(&format!("/v2/{repo}/manifests/{reference}"))).header("accept", OCI_MANIFEST).send().await;
    let r = r.unwrap();
    let status = r.status();
    if status == StatusCode::OK {
        return (status, header(&r, "docker-content-digest"));
    }
    (status, error_code(r).await)
}

async fn tags(s: &Server, repo: &str) -> Vec<String> {
    let v: Value = s.get(&format!("/v2/{repo}/tags/list")).await.json().await.unwrap();
    v["tags"].as_array().map(|t| t.iter().map(|t| t.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

async fn audited(s: &Server, action: &str) -> bool {
    let events = s.admin("ListAuditEvents", json!({"limit": 1000})).await;
    events["events"].as_array().unwrap().iter().any(|e| e["action"] == action)
}

#[tokio::test]
async fn deleted_images_are_invisible_restorable_then_purged_and_collected() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), "1d");
    let repo = "soft/app";
    let (body_a, a) = s.push_image(repo, "v1", b"layer of image a").await;
    assert_eq!(s.put_manifest(repo, "v2", OCI_MANIFEST, &body_a).await.status(), StatusCode::CREATED);
    let (body_b, b) = s.push_image(repo, "other", b"layer of image b").await;
    let (layer_a, layer_b) = (layer_of(&body_a), layer_of(&body_b));

    // /v2 delete by digest; ECR BatchDeleteImage by the last tag of image b.
    let r = s.http.delete(s.url(&format!("/v2/{repo}/manifests/{a}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let out = aws(
        &s,
        tmp.path(),
        ADMIN_KEY,
        &["batch-delete-image", "--repository-name", repo, "--image-ids", "imageTag=other"],
    )
    .json();
    assert_eq!(out["imageIds"][0]["imageDigest"], b.to_string());

    // Invisible everywhere.
    assert_eq!(manifest_status(&s, repo, &a.to_string()).await, (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".into()));
    assert_eq!(manifest_status(&s, repo, "v1").await.0, StatusCode::NOT_FOUND);
    assert!(tags(&s, repo).await.is_empty());
    let images = aws(&s, tmp.path(), ADMIN_KEY, &["list-images", "--repository-name", repo]).json();
    assert_eq!(images["imageIds"], json!([]));
    aws(
        &s,
        tmp.path(),
        ADMIN_KEY,
        &["describe-images", "--repository-name", repo, "--image-ids", &format!("imageDigest={a}")],
    )
    .error("ImageNotFoundException");
    let mut want = vec![a.to_string(), b.to_string()];
    want.sort();
    assert_eq!(deleted_digests(&s, repo).await, want);
    let (code, listed, _) = berth(&s, &["images", "deleted", repo]);
    assert_eq!(code, 0);
    assert!(listed.contains(&a.to_string()) && listed.contains("v1,v2"), "{listed}");

    // Collection keeps the deleted images' bytes.
    collect(&s).await;
    assert!(blob_file(&s, &layer_a).exists() && blob_file(&s, &layer_b).exists(), "kept while restorable");

    // Restore a: same digest, its tags, its layer pulls.
    let (code, out, err) = berth(&s, &["images", "restore", &format!("{repo}@{a}")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("with tags v1, v2"), "{out}");
    assert_eq!(manifest_status(&s, repo, "v1").await, (StatusCode::OK, a.to_string()));
    let r = s.get(&format!("/v2/{repo}/blobs/{layer_a}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"layer of image a");
    assert!(audited(&s, "berth:RestoreImage").await, "restores are audited");

    // A tag another image took meanwhile stays where it is.
    s.http.delete(s.url(&format!("/v2/{repo}/manifests/{a}"))).send().await.unwrap();
    let (_, c) = s.push_image(repo, "v1", b"layer of image c").await;
    let (code, out, _) = berth(&s, &["images", "restore", &format!("{repo}@{a}")]);
    assert_eq!(code, 0);
    assert!(out.contains("with tags v2") && out.contains("tag v1 now points at another image"), "{out}");
    assert_eq!(manifest_status(&s, repo, "v1").await, (StatusCode::OK, c.to_string()));
    assert_eq!(manifest_status(&s, repo, "v2").await, (StatusCode::OK, a.to_string()));

    // Past the window: the purge job deletes b for good, the collector reclaims its layer, restore fails.
    std::fs::write(tmp.path().join("clock"), (DAY + 60).to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !deleted_digests(&s, repo).await.is_empty() {
        assert!(Instant::now() < deadline, "the purge did not run within 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    collect(&s).await;
    assert!(!blob_file(&s, &layer_b).exists(), "a purged image's layer is collected");
    assert!(blob_file(&s, &layer_a).exists(), "a live image's layer stays");
    let (code, _, err) = berth(&s, &["images", "restore", &format!("{repo}@{b}")]);
    assert_eq!(code, 1);
    assert!(err.contains("ImageNotFoundException") && err.contains("window has passed"), "{err}");
    assert!(audited(&s, "berth:PurgeDeletedImage").await, "purges are audited");
}

#[tokio::test]
async fn deleted_repositories_restore_with_settings_and_give_way_to_new_ones() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), "7d");
    let repo = "soft/repo";
    aws(
        &s,
        tmp.path(),
        ADMIN_KEY,
        &["create-repository", "--repository-name", repo, "--image-tag-mutability", "IMMUTABLE"],
    )
    .json();
    let (body, d) = s.push_image(repo, "1.0", b"layer of the repository's image").await;
    aws(&s, tmp.path(), ADMIN_KEY, &["delete-repository", "--repository-name", repo])
        .error("RepositoryNotEmptyException");
    aws(&s, tmp.path(), ADMIN_KEY, &["delete-repository", "--repository-name", repo, "--force"]).json();

    aws(&s, tmp.path(), ADMIN_KEY, &["describe-repositories", "--repository-names", repo])
        .error("RepositoryNotFoundException");
    let catalog: Value = s.get("/v2/_catalog").await.json().await.unwrap();
    assert!(!catalog["repositories"].as_array().unwrap().iter().any(|r| r == repo));
    let (status, code) = manifest_status(&s, repo, "1.0").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(code == "NAME_UNKNOWN" || code == "MANIFEST_UNKNOWN", "{code}");
    let (_, listed, _) = berth(&s, &["repo", "deleted"]);
    assert!(listed.contains(repo), "{listed}");

    let (code, out, err) = berth(&s, &["repo", "restore", repo]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 image(s)") && out.contains("with tags 1.0"), "{out}");
    let described = aws(&s, tmp.path(), ADMIN_KEY, &["describe-repositories", "--repository-names", repo]).json();
    assert_eq!(described["repositories"][0]["imageTagMutability"], "IMMUTABLE", "settings come back");
    assert_eq!(manifest_status(&s, repo, "1.0").await, (StatusCode::OK, d.to_string()));
    let r = s.get(&format!("/v2/{repo}/blobs/{}", layer_of(&body))).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Deleted again, then created anew: the new repository wins and the deleted one is gone.
    aws(&s, tmp.path(), ADMIN_KEY, &["delete-repository", "--repository-name", repo, "--force"]).json();
    aws(&s, tmp.path(), ADMIN_KEY, &["create-repository", "--repository-name", repo]).json();
    let (code, _, err) = berth(&s, &["repo", "restore", repo]);
    assert_eq!(code, 1);
    assert!(err.contains("RepositoryNotFoundException"), "{err}");

    // Pushing a deleted digest again replaces the deleted image: nothing is left to restore.
    let (body2, d2) = s.push_image(repo, "2.0", b"layer of a second image").await;
    s.http.delete(s.url(&format!("/v2/{repo}/manifests/{d2}"))).send().await.unwrap();
    assert_eq!(deleted_digests(&s, repo).await, vec![d2.to_string()]);
    assert_eq!(s.put_manifest(repo, "2.1", OCI_MANIFEST, &body2).await.status(), StatusCode::CREATED);
    assert!(deleted_digests(&s, repo).await.is_empty(), "the push replaced the deleted image");
    assert_eq!(tags(&s, repo).await, vec!["2.1".to_string()]);
    let (code, _, _) = berth(&s, &["images", "restore", &format!("{repo}@{d2}")]);
    assert_eq!(code, 1);
}

#[tokio::test]
async fn a_zero_window_deletes_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), "0");
    let repo = "soft/now";
    let (body, d) = s.push_image(repo, "v1", b"layer deleted at once").await;
    let r = s.http.delete(s.url(&format!("/v2/{repo}/manifests/{d}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(deleted_digests(&s, repo).await.is_empty(), "nothing is kept");
    collect(&s).await;
    assert!(!blob_file(&s, &layer_of(&body)).exists(), "the layer is collected at once");
    let (code, _, err) = berth(&s, &["images", "restore", &format!("{repo}@{d}")]);
    assert_eq!(code, 1, "{err}");
}
