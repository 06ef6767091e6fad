//! Online garbage collection, black box: deleted images' and repositories' bytes are reclaimed on disk and in
//! an S3 bucket; concurrent pushers sharing layers while the collector runs in a loop with no grace period
//! lose nothing they were told was stored; a kill -9 in the middle of a collection leaves a store `berth fsck`
//! finds clean once the collector has run again.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_oci::Digest;
use berth_storage::BlobStore as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Server, bytes, image_manifest};

const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

/// Env of a server collecting on request only, with no grace period, whose deletes are final at once (no
/// soft-delete window: what these tests delete is reclaimed by the next collection).
const NO_GRACE: [(&str, &str); 3] =
    [("BERTH_GC_GRACE", "0s"), ("BERTH_GC_INTERVAL", "0"), ("BERTH_SOFT_DELETE_WINDOW", "0")];

fn blob_path(dir: &std::path::Path, d: &Digest) -> std::path::PathBuf {
    let hex = d.hex();
    dir.join("blobs").join("sha256").join(&hex[..2]).join(hex)
}

/// Requests a collection and waits for it to finish; returns the status.
pub async fn collect(s: &Server) -> Value {
    let request = s.admin("RunGarbageCollection", json!({})).await["request"].as_u64().unwrap();
    // Generous: under 32 debug-build pushers on two cores a collection's reviews wait for SQLite's one writer.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = s.admin("GetGarbageCollectionStatus", json!({})).await;
        if st["served"].as_u64().unwrap() >= request {
            return st;
        }
        assert!(Instant::now() < deadline, "no collection finished within 120 s: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until no collection job is running; returns the status.
pub async fn idle(s: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = s.admin("GetGarbageCollectionStatus", json!({})).await;
        if st["running"] == false {
            return st;
        }
        assert!(Instant::now() < deadline, "a collection is still running after 60 s: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `berth fsck --json` on a stopped server's data directory.
pub fn fsck(dir: &std::path::Path, env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(["fsck", "--json", "--data-dir"]).arg(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("fsck output: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn assert_clean(report: &Value) {
    assert_eq!(report["problems"], json!([]), "fsck problems: {report}");
    assert_eq!(report["leftovers"], json!([]), "fsck leftovers (orphans): {report}");
}

/// Pushes config + `layers` + a manifest tagged `tag`; `None` when the registry refused a step (for example a
/// layer collected between its upload and the manifest: MANIFEST_BLOB_UNKNOWN) or the server went away.
pub async fn try_push(s: &Server, repo: &str, tag: &str, layers: &[Vec<u8>]) -> Option<Digest> {
    let mut descriptors = Vec::new();
    for blob in std::iter::once(CONFIG).chain(layers.iter().map(Vec::as_slice)) {
        let d = Digest::sha256_of(blob);
        let r = s
            .http
            .post(s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
            .body(blob.to_vec())
            .send()
            .await
            .ok()?;
        if r.status() != StatusCode::CREATED {
            return None;
        }
        descriptors.push((d, blob.len()));
    }
    let refs: Vec<(&Digest, usize)> = descriptors[1..].iter().map(|(d, n)| (d, *n)).collect();
    let body = image_manifest((&descriptors[0].0, descriptors[0].1), &refs, None);
    s.put_manifest_checked(repo, tag, &body).await?.then(|| Digest::sha256_of(&body))
}

/// Pulls `repo@digest` and every blob it references, checking each digest.
pub async fn pull_verified(s: &Server, repo: &str, digest: &Digest) {
    let r = s.get(&format!("/v2/{repo}/manifests/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK, "pull {repo}@{digest}");
    let body = r.bytes().await.unwrap();
    assert_eq!(&Digest::sha256_of(&body), digest);
    let m: Value = serde_json::from_slice(&body).unwrap();
    let blobs = std::iter::once(&m["config"]).chain(m["layers"].as_array().unwrap());
    for b in blobs {
        let d: Digest = b["digest"].as_str().unwrap().parse().unwrap();
        let r = s.get(&format!("/v2/{repo}/blobs/{d}")).await;
        assert_eq!(r.status(), StatusCode::OK, "blob {d} of {repo}@{digest}");
        assert_eq!(Digest::sha256_of(&r.bytes().await.unwrap()), d, "blob {d} of {repo}@{digest}");
    }
}

async fn delete_manifest(s: &Server, repo: &str, d: &Digest) -> StatusCode {
    s.http.delete(s.url(&format!("/v2/{repo}/manifests/{d}"))).send().await.unwrap().status()
}

#[tokio::test]
async fn gc_reclaims_deleted_images_and_repositories_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_with(&dir, &NO_GRACE);
    let shared = bytes(1, 40_000);
    let (only_a, only_b) = (bytes(2, 50_000), bytes(3, 60_000));
    let a = try_push(&s, "gc/a", "v1", &[shared.clone(), only_a.clone()]).await.unwrap();
    let b = try_push(&s, "gc/b", "v1", &[shared.clone(), only_b.clone()]).await.unwrap();
    // A layer uploaded and never referenced (an abandoned push).
    let stray = bytes(4, 10_000);
    s.push_blob("gc/a", &stray).await;
    let d = |b: &[u8]| Digest::sha256_of(b);

    // Nothing is deleted: only the stray blob goes (no grace).
    let st = collect(&s).await;
    assert!(!blob_path(&dir, &d(&stray)).exists(), "an unreferenced upload is reclaimed: {st}");
    assert_eq!(st["bytesReclaimed"], 10_000);
    pull_verified(&s, "gc/a", &a).await;
    pull_verified(&s, "gc/b", &b).await;

    // Image a deleted: its own layer goes, the shared layer and config stay for b.
    assert_eq!(delete_manifest(&s, "gc/a", &a).await, StatusCode::ACCEPTED);
    let st = collect(&s).await;
    assert!(!blob_path(&dir, &d(&only_a)).exists(), "the deleted image's own layer is reclaimed");
    assert!(blob_path(&dir, &d(&shared)).exists() && blob_path(&dir, &d(CONFIG)).exists());
    assert_eq!(st["bytesReclaimed"], 60_000, "{st}");
    assert_eq!(s.get(&format!("/v2/gc/a/blobs/{}", d(&only_a))).await.status(), StatusCode::NOT_FOUND);
    pull_verified(&s, "gc/b", &b).await;

    // Repository b deleted with its images (ECR DeleteRepository, force): everything goes.
    let r = s
        .signed_post(
            Some(crate::support::ADMIN_KEY),
            "ecr",
            "/",
            &[("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.DeleteRepository")],
            &json!({"repositoryName": "gc/b", "force": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let st = collect(&s).await;
    for blob in [&shared, &only_b, &CONFIG.to_vec()] {
        assert!(!blob_path(&dir, &d(blob)).exists(), "a deleted repository's blobs are reclaimed");
    }
    assert_eq!(st["blobsDeleted"], 5, "{st}");
    assert_eq!(st["queued"], 0, "nothing left to review: {st}");

    // A layer pushed again after its collection is stored again.
    let again = try_push(&s, "gc/b", "v2", std::slice::from_ref(&shared)).await.unwrap();
    pull_verified(&s, "gc/b", &again).await;
    s.stop();
    assert_clean(&fsck(&dir, &[]));
}

#[tokio::test]
async fn gc_reclaims_deleted_images_in_the_s3_bucket() {
    let s3 =
        berth_storage::s3_server::S3Server::moto().unwrap_or_else(|e| panic!("cannot start the test S3 server: {e}"));
    s3.create_bucket("berth-gc").unwrap();
    let endpoint = s3.endpoint();
    let env = [
        ("BERTH_STORAGE_URL", "s3://berth-gc/registry"),
        ("BERTH_S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", berth_storage::s3_server::ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", berth_storage::s3_server::SECRET_ACCESS_KEY),
        ("AWS_REGION", "us-east-1"),
        ("BERTH_GC_GRACE", "0s"),
        ("BERTH_GC_INTERVAL", "0"),
        ("BERTH_SOFT_DELETE_WINDOW", "0"),
    ];
    let bucket = berth_storage::S3BlobStore::connect(&s3.config("berth-gc", "registry")).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_with(&dir, &env);
    let (shared, own) = (bytes(11, 30_000), bytes(12, 20_000));
    let a = try_push(&s, "gc/s3a", "v1", &[shared.clone(), own.clone()]).await.unwrap();
    let b = try_push(&s, "gc/s3b", "v1", std::slice::from_ref(&shared)).await.unwrap();
    assert!(bucket.stat(&Digest::sha256_of(&own)).await.unwrap().is_some());

    // BatchDeleteImage, then a collection: the image's own layer leaves the bucket.
    let r = s
        .signed_post(
            Some(crate::support::ADMIN_KEY),
            "ecr",
            "/",
            &[("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.BatchDeleteImage")],
            &json!({"repositoryName": "gc/s3a", "imageIds": [{"imageDigest": a.to_string()}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let st = collect(&s).await;
    assert_eq!(bucket.stat(&Digest::sha256_of(&own)).await.unwrap(), None, "reclaimed in the bucket: {st}");
    assert_eq!(bucket.stat(&Digest::sha256_of(&shared)).await.unwrap(), Some(30_000), "shared layer kept");
    assert_eq!(st["bytesReclaimed"], 20_000);
    pull_verified(&s, "gc/s3b", &b).await;
    s.stop();
    assert_clean(&fsck(&dir, &env));
}

/// What the pushers were told was stored (and not deleted since).
pub type Acked = Arc<Mutex<HashMap<(String, String), Digest>>>;

/// Pushes images sharing a base of three layers, each with a layer of its own, and deletes every third image it
/// pushed (so the collector has work), until `stop`.
pub async fn pusher(s: Arc<Server>, w: usize, acked: Acked, stop: Arc<std::sync::atomic::AtomicBool>) -> (u32, u32) {
    let base: Vec<Vec<u8>> = (0..3).map(|i| bytes(100 + i, 8_000)).collect();
    let (mut pushed, mut refused) = (0, 0);
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let repo = format!("gc/load{}", w % 4);
        let tag = format!("w{w}-{n}");
        let mut layers = base.clone();
        layers.push(bytes(10_000 * w as u64 + n, 3_000));
        match try_push(&s, &repo, &tag, &layers).await {
            Some(d) => {
                pushed += 1;
                acked.lock().unwrap().insert((repo.clone(), tag), d.clone());
                if n.is_multiple_of(3) {
                    acked.lock().unwrap().retain(|_, v| *v != d);
                    if s.http.delete(s.url(&format!("/v2/{repo}/manifests/{d}"))).send().await.is_err() {
                        break;
                    }
                }
            }
            None => refused += 1,
        }
    }
    (pushed, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_in_a_loop_under_concurrent_pushes_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Arc::new(Server::start_with(
        &dir,
        &[("BERTH_GC_GRACE", "0s"), ("BERTH_GC_INTERVAL", "1"), ("BERTH_SOFT_DELETE_WINDOW", "0")],
    ));
    let acked: Acked = Default::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..8).map(|w| tokio::spawn(pusher(s.clone(), w, acked.clone(), stop.clone()))).collect();
    // The collector runs every second on its own; requests make it run back to back. At least 12 s, and on a
    // slow machine on until the pushers have acknowledged enough images to matter (bounded by a deadline).
    let started = Instant::now();
    let enough = || acked.lock().unwrap().len() >= 40;
    let mut runs = 0;
    while started.elapsed() < Duration::from_secs(12) || (!enough() && started.elapsed() < Duration::from_secs(240)) {
        collect(&s).await;
        runs += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut pushed, mut refused) = (0, 0);
    for w in workers {
        let (p, r) = w.await.unwrap();
        pushed += p;
        refused += r;
    }
    let st = collect(&s).await;
    eprintln!("gc under load: {pushed} images pushed, {refused} pushes refused, {runs} collections, status {st}");
    assert!(pushed > 50, "the pushers made progress");
    assert!(st["blobsDeleted"].as_u64().unwrap() > 10, "the collector reclaimed the deleted images: {st}");
    let acked = acked.lock().unwrap().clone();
    for ((repo, _), d) in &acked {
        pull_verified(&s, repo, d).await;
    }
    Arc::get_mut(&mut s).expect("pushers done").stop();
    assert_clean(&fsck(&dir, &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_gc_then_restart_leaves_a_clean_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let acked: Acked = Default::default();
    let mut deleted = Vec::new();
    {
        let s = Arc::new(Server::start_with(&dir, &NO_GRACE));
        // Many images to delete, so that the collection is still running when the server is killed.
        for i in 0..150u64 {
            let d = try_push(&s, "gc/kill", &format!("t{i}"), &[bytes(500_000 + i, 2_000)]).await.unwrap();
            deleted.push(d);
        }
        let keep = try_push(&s, "gc/kill", "keep", &[bytes(1, 4_000)]).await.unwrap();
        acked.lock().unwrap().insert(("gc/kill".into(), "keep".into()), keep);
        for d in &deleted {
            assert_eq!(delete_manifest(&s, "gc/kill", d).await, StatusCode::ACCEPTED);
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..4).map(|w| tokio::spawn(pusher(s.clone(), w, acked.clone(), stop.clone()))).collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.admin("RunGarbageCollection", json!({})).await;
        // Wait until the collection has started deleting, then kill the server in the middle of it.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let st = s.admin("GetGarbageCollectionStatus", json!({})).await;
            if st["blobsDeleted"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the collection did not start: {st}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        #[allow(clippy::cast_possible_wrap)]
        let pid = Server::pid_of(&s) as i32;
        Command::new("kill").arg("-9").arg(pid.to_string()).status().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            let _ = w.await;
        }
    }
    let mut s = Server::start_with(&dir, &NO_GRACE);
    collect(&s).await;
    // The collection the kill cut short is taken over at start (one process owns SQLite) and finishes too.
    let st = idle(&s).await;
    for d in &deleted {
        assert_eq!(s.get(&format!("/v2/gc/kill/manifests/{d}")).await.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(st["deleting"], 0, "interrupted deletions finished: {st}");
    assert_eq!(st["commitsInFlight"], 0, "abandoned commits cleaned up: {st}");
    let acked = acked.lock().unwrap().clone();
    for ((repo, _), d) in &acked {
        pull_verified(&s, repo, d).await;
    }
    s.stop();
    let report = fsck(&dir, &[]);
    assert_eq!(report["problems"], json!([]), "fsck problems: {report}");
    // Pushes cut short by the kill leave bytes of their uploads (as any crash does, GC or not); nothing else.
    for leftover in report["leftovers"].as_array().unwrap() {
        let leftover = leftover.as_str().unwrap();
        assert!(leftover.starts_with("upload bytes "), "fsck leftover after kill -9 during gc: {leftover}");
    }
}
