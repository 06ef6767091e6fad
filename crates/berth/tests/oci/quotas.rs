//! Storage quotas and usage accounting, end to end: quotas set and listed with the `berth` CLI, pushes over a
//! raw HTTP client refused with `DENIED` naming the quota (monolithic, chunked with `Content-Length`,
//! streamed and refused at commit, mounted), nothing left behind, and `berth repo usage`.

use berth_oci::Digest;
use futures_util::stream;
use reqwest::{Body, Response, StatusCode};
use serde_json::{Value, json};

use crate::scanning::berth;
use crate::support::*;

/// Runs the `berth` CLI against `s` as the administrator; returns (success, stdout, stderr).
fn cli(s: &Server, args: &[&str]) -> (bool, String, String) {
    let (code, stdout, stderr) = berth(s, args);
    (code == 0, stdout, stderr)
}

fn cli_ok(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = cli(s, args);
    assert!(ok, "berth {args:?} failed: {err}");
    out
}

/// Asserts a 403 `DENIED` whose message names the quota, its limit and its usage; returns the message.
async fn denied(r: Response, prefix: &str, limit: u64, used: u64) -> String {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap().to_string();
    for needle in [format!("quota \"{prefix}\""), format!("allows {limit} bytes"), format!("{used} bytes")] {
        assert!(message.contains(&needle), "{message:?} should contain {needle:?}");
    }
    message
}

/// Files of upload sessions in the data directory.
fn upload_files(s: &Server) -> usize {
    std::fs::read_dir(s.data_dir.join("uploads")).map(|d| d.count()).unwrap_or(0)
}

fn blob_file(s: &Server, d: &Digest) -> std::path::PathBuf {
    s.data_dir.join("blobs/sha256").join(&d.hex()[..2]).join(d.hex())
}

async fn start_session(s: &Server, repo: &str) -> String {
    let r = s.http.post(s.url(&format!("/v2/{repo}/blobs/uploads/"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    header(&r, "location")
}

#[tokio::test]
async fn pushes_past_a_namespace_quota_are_refused_and_leave_nothing() {
    let s = Server::start();
    assert!(cli_ok(&s, &["quota", "set", "qa/", "1KiB"]).contains("quota on qa/: 1.0 KiB (1024 bytes)"));

    // Under the quota: accepted; the same blob again adds nothing.
    let first = bytes(1, 600);
    let d1 = s.push_blob("qa/one", &first).await;
    s.push_blob("qa/one", &first).await;

    // A monolithic push with Content-Length into another repository of the namespace: refused unread.
    let second = bytes(2, 600);
    let d2 = Digest::sha256_of(&second);
    let r = s
        .http
        .post(s.url(&format!("/v2/qa/two/blobs/uploads/?digest={d2}")))
        .body(second.clone())
        .send()
        .await
        .unwrap();
    denied(r, "qa/", 1024, 600).await;
    assert_eq!(s.head(&format!("/v2/qa/two/blobs/{d2}")).await.status(), StatusCode::NOT_FOUND, "not linked");
    assert!(!blob_file(&s, &d2).exists(), "not stored");
    assert_eq!(upload_files(&s), 0, "no upload left");

    // A PATCH with Content-Length: refused before its bytes are taken; the session stays as it was.
    let loc = start_session(&s, "qa/two").await;
    let r = s.http.patch(s.url(&loc)).header("content-range", "0-599").body(second.clone()).send().await.unwrap();
    denied(r, "qa/", 1024, 600).await;
    assert_eq!(header(&s.get(&loc).await, "range"), "0-0", "nothing was written");
    assert_eq!(s.http.delete(s.url(&loc)).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    // Streamed (no length known): taken, then refused at commit; the session is gone, nothing is linked.
    let loc = start_session(&s, "qa/two").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = second.chunks(100).map(|c| Ok(c.to_vec())).collect();
    let r = s.http.patch(s.url(&loc)).body(Body::wrap_stream(stream::iter(chunks))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = header(&r, "location");
    let r = s.http.put(s.url(&format!("{loc}?digest={d2}"))).send().await.unwrap();
    denied(r, "qa/", 1024, 600).await;
    assert_eq!(error_code(s.get(&loc).await).await, "BLOB_UPLOAD_UNKNOWN", "the session is discarded");
    assert_eq!(s.head(&format!("/v2/qa/two/blobs/{d2}")).await.status(), StatusCode::NOT_FOUND);
    assert!(!blob_file(&s, &d2).exists(), "not stored");
    assert_eq!(upload_files(&s), 0, "no upload bytes left");

    // A cross-repository mount is refused too (the namespace would count the blob twice)...
    let r = s.http.post(s.url(&format!("/v2/qa/two/blobs/uploads/?mount={d1}&from=qa/one"))).send().await.unwrap();
    denied(r, "qa/", 1024, 600).await;
    assert_eq!(s.head(&format!("/v2/qa/two/blobs/{d1}")).await.status(), StatusCode::NOT_FOUND);
    // ...but not outside the namespace.
    let r = s.http.post(s.url(&format!("/v2/other/blobs/uploads/?mount={d1}&from=qa/one"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // A push that fits passes; the quota covers both repositories.
    s.push_blob("qa/two", &bytes(3, 424)).await;
    let r = s
        .http
        .post(s.url(&format!("/v2/qa/two/blobs/uploads/?digest={}", Digest::sha256_of(b"x"))))
        .body("x")
        .send()
        .await
        .unwrap();
    denied(r, "qa/", 1024, 1024).await;

    // The list shows the usage; once the quota is gone the push goes through.
    let listed = cli_ok(&s, &["quota", "list", "--json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(
        listed["quotas"][0],
        json!({"prefix": "qa/", "limitBytes": 1024, "usedBytes": 1024, "repositories": 2, "updatedAt": listed["quotas"][0]["updatedAt"]})
    );
    assert!(cli_ok(&s, &["quota", "list"]).contains("qa/     1.0 KiB  1.0 KiB  100%"));
    cli_ok(&s, &["quota", "delete", "qa/"]);
    let (ok, _, err) = cli(&s, &["quota", "delete", "qa/"]);
    assert!(!ok && err.contains("no quota"), "{err}");
    s.push_blob("qa/two", &second).await;
}

#[tokio::test]
async fn a_repository_quota_applies_within_its_namespace_quota() {
    let s = Server::start();
    cli_ok(&s, &["quota", "set", "team-a/", "50GiB"]);
    cli_ok(&s, &["quota", "set", "team-a/app", "1000"]);
    let (ok, _, err) = cli(&s, &["quota", "set", "Team A/", "1GiB"]);
    assert!(!ok && err.contains("quota prefix"), "{err}");

    s.push_image("team-a/app", "v1", &bytes(4, 700)).await;
    let layer = bytes(5, 400);
    let d = Digest::sha256_of(&layer);
    let r = s
        .http
        .post(s.url(&format!("/v2/team-a/app/blobs/uploads/?digest={d}")))
        .body(layer.clone())
        .send()
        .await
        .unwrap();
    let used = 700 + 78; // the layer and the config
    let message = denied(r, "team-a/app", 1000, used).await;
    assert!(message.contains("this push would add 400 bytes"), "{message}");
    // The namespace has room: another repository under it takes the layer.
    s.push_blob("team-a/lib", &layer).await;

    // Usage: the shared layer counts in both repositories; the registry stores it once.
    s.push_blob("team-a/app", &bytes(6, 10)).await;
    let usage: Value = serde_json::from_str(&cli_ok(&s, &["repo", "usage", "team-a/app", "--json"])).unwrap();
    let app = &usage["repositories"][0];
    assert_eq!(app["repositoryName"], "team-a/app");
    assert_eq!(app["reclaimableBytes"], 10, "the blob no image uses");
    let all: Value = serde_json::from_str(&cli_ok(&s, &["repo", "usage", "--json"])).unwrap();
    assert_eq!(all["repositories"].as_array().unwrap().len(), 2);
    let registry = &all["registry"];
    assert!(registry["storedBytes"].as_u64().unwrap() <= registry["logicalBytes"].as_u64().unwrap());
    let table = cli_ok(&s, &["repo", "usage"]);
    assert!(
        table.contains("REPOSITORY") && table.contains("team-a/lib") && table.contains("deduplication ratio"),
        "{table}"
    );
}

#[tokio::test]
async fn storage_usage_shows_exclusive_shared_and_reclaimable_bytes() {
    let s = Server::start();
    let shared = bytes(7, 3000);
    s.push_image("u/a", "v1", &shared).await;
    s.push_image("u/b", "v1", &shared).await;
    // An image pushed by digest only (untagged): its layer and manifest are reclaimable; the config is
    // shared with the tagged image, which keeps it.
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let old_layer = bytes(8, 500);
    let body = image_manifest(
        (&s.push_blob("u/a", config).await, config.len()),
        &[(&s.push_blob("u/a", &old_layer).await, old_layer.len())],
        None,
    );
    let d = Digest::sha256_of(&body);
    let r = s.put_manifest("u/a", &d.to_string(), OCI_MANIFEST, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let usage = s.admin("GetStorageUsage", json!({"repositoryName": "u/a"})).await;
    let a = &usage["repositories"][0];
    let total = a["totalBytes"].as_u64().unwrap();
    assert_eq!(a["sharedBytes"], 3000 + 78, "the layer and the config are in u/b too");
    assert_eq!(a["exclusiveBytes"].as_u64().unwrap(), total - 3078);
    assert_eq!(a["reclaimableBytes"].as_u64().unwrap(), 500 + body.len() as u64, "{usage}");
    assert_eq!(a["images"], 2);
    let all = s.admin("GetStorageUsage", json!({})).await;
    let registry = &all["registry"];
    assert_eq!(registry["repositories"], 2);
    let (stored, logical) = (registry["storedBytes"].as_u64().unwrap(), registry["logicalBytes"].as_u64().unwrap());
    assert_eq!(logical - stored, 3078, "the shared layer and config are stored once");
    assert!(registry["dedupRatio"].as_f64().unwrap() > 1.0);
}
