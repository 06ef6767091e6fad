//! `berth serve` with its blobs in S3 (`BERTH_STORAGE_URL=s3://...`), against a real S3 API server the test
//! starts (moto, `berth_storage::s3_server`): pushes (monolithic, and chunked across S3 parts with a small chunk
//! between bigger ones) and pulls with digest checks; a chunked upload continued by a second node sharing
//! the S3 bucket and a PostgreSQL metadata store after the first node was killed in the middle of a chunk;
//! downloads redirected to presigned URLs; and a clear refusal to start when the bucket does not exist.

use std::process::Command;
use std::time::Duration;

use berth_meta::pg_harness::PgServer;
use berth_oci::Digest;
use berth_storage::s3_server::{self as moto, S3Server};
use reqwest::StatusCode;

use crate::support::{ADMIN_PASSWORD, OCI_MANIFEST, Server, anonymous_client, bytes, header, image_manifest};

const MIB: usize = 1 << 20;
/// Every node gets the same key for sealed secrets (as a multi-node setup must).
const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn moto() -> S3Server {
    S3Server::moto().unwrap_or_else(|e| panic!("cannot start the test S3 server: {e}"))
}

/// The environment of a node storing blobs in `bucket` on `server`, metadata at `metadata`.
fn node_env(server: &S3Server, bucket: &str, metadata: &str) -> Vec<(String, String)> {
    [
        ("BERTH_STORAGE_URL", format!("s3://{bucket}/registry")),
        ("BERTH_S3_ENDPOINT", server.endpoint()),
        ("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("BERTH_METADATA_URL", metadata.to_string()),
        ("BERTH_MASTER_KEY", MASTER_KEY.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn start(dir: &std::path::Path, env: &[(String, String)], extra: &[(&str, &str)]) -> Server {
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    Server::start_with(dir, &all)
}

/// Pulls a blob of `repo` and checks its bytes against its digest (and `expected`).
async fn pull_verified(s: &Server, repo: &str, expected: &[u8]) {
    let digest = Digest::sha256_of(expected);
    let r = s.get(&format!("/v2/{repo}/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let got = r.bytes().await.unwrap();
    assert_eq!(Digest::sha256_of(&got), digest, "pulled bytes match the digest");
    assert_eq!(got.len(), expected.len());
}

#[tokio::test]
async fn s3_storage_push_pull_continue_on_another_node_and_redirect() {
    let s3 = moto();
    s3.create_bucket("berth-oci").unwrap();
    let pg = PgServer::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let db = pg.create_database().unwrap();
    let env = node_env(&s3, "berth-oci", &db);
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("node-a"), tmp.path().join("node-b"));
    let mut a = start(&dir_a, &env, &[]);
    let b = start(&dir_b, &env, &[]);

    // A monolithic push through one node, pulled through the other.
    let layer = bytes(31, 300_000);
    let (manifest, _) = a.push_image("s3/app", "v1", &layer).await;
    let r = b.get("/v2/s3/app/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), manifest);
    pull_verified(&b, "s3/app", &layer).await;

    // A chunked push of ~12 MiB: 6 MiB (a part), 1 MiB (carried as a tail), then node A dies in the middle
    // of the third chunk; node B reports the recorded offset and takes the rest.
    let big = bytes(32, 12 * MIB + 4_321);
    let digest = Digest::sha256_of(&big);
    let r = a.http.post(a.url("/v2/s3/big/blobs/uploads/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = header(&r, "location");
    let mut offset = 0;
    for len in [6 * MIB, MIB] {
        let chunk = big[offset..offset + len].to_vec();
        let r = a
            .http
            .patch(a.url(&location))
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{}-{}", offset, offset + len - 1))
            .body(chunk)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", r.text().await.unwrap());
        offset += len;
        assert_eq!(header(&r, "range"), format!("0-{}", offset - 1));
    }
    // Half of a chunk reaches node A, which is killed before the chunk ends.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Vec<u8>, std::io::Error>>();
    tx.send(Ok(big[offset..offset + 2 * MIB].to_vec())).unwrap();
    let rx = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let interrupted = a
        .http
        .patch(a.url(&location))
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("{}-{}", offset, offset + 4 * MIB - 1))
        .body(reqwest::Body::wrap_stream(rx))
        .send();
    let interrupted = tokio::spawn(interrupted);
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.kill9();
    assert!(interrupted.await.unwrap().is_err(), "the chunk in flight fails with its node");
    drop(tx);

    let r = b.get(&location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "node B knows the session");
    assert_eq!(header(&r, "range"), format!("0-{}", offset - 1), "node B resumes at the recorded offset");
    let rest = big.len() - 100_000;
    let r = b
        .http
        .patch(b.url(&location))
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("{}-{}", offset, rest - 1))
        .body(big[offset..rest].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", r.text().await.unwrap());
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = b
        .http
        .put(b.url(&format!("{location}{sep}digest={digest}")))
        .header("content-type", "application/octet-stream")
        .body(big[rest..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    pull_verified(&b, "s3/big", &big).await;
    let r = b.http.get(b.url(&format!("/v2/s3/big/blobs/{digest}"))).header("range", "bytes=6291450-6291459").send();
    let r = r.await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap(), big[6_291_450..6_291_460]);
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let body = image_manifest((&b.push_blob("s3/big", config).await, config.len()), &[(&digest, big.len())], None);
    assert_eq!(b.put_manifest("s3/big", "v1", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);

    // Nothing of the blobs is in either node's data directory.
    for dir in [&dir_a, &dir_b] {
        assert!(!dir.join("blobs").exists() && !dir.join("uploads").exists(), "{} holds blob files", dir.display());
    }

    // Redirect mode: 307 to a presigned URL, which serves the blob (and ranges) to a client without S3
    // credentials; authorization still comes first.
    let c = start(&tmp.path().join("node-c"), &env, &[("BERTH_S3_REDIRECT", "true")]);
    let r = c.get(&format!("/v2/s3/big/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(header(&r, "docker-content-digest"), digest.to_string());
    let presigned = header(&r, "location");
    assert!(presigned.starts_with(&s3.endpoint()) && presigned.contains("X-Amz-Signature="), "{presigned}");
    let got = anonymous_client().get(&presigned).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(Digest::sha256_of(&got.bytes().await.unwrap()), digest, "the presigned URL serves the blob");
    let r = c.http.get(c.url(&format!("/v2/s3/big/blobs/{digest}"))).header("range", "bytes=100-199").send();
    let location = header(&r.await.unwrap(), "location");
    let got = anonymous_client().get(&location).header("range", "bytes=100-199").send().await.unwrap();
    assert_eq!(got.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(got.bytes().await.unwrap(), big[100..200], "ranges of a redirected download");
    let r = anonymous_client().get(c.url(&format!("/v2/s3/big/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "no redirect before authorization");
    let r = crate::support::client_as("admin", "wrong").get(c.url(&format!("/v2/s3/big/blobs/{digest}"))).send();
    assert_eq!(r.await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A real client through the redirecting node: skopeo copies an image in and back out.
    skopeo_round_trip(&c, &tmp.path().join("skopeo"));
    drop((b, c));

    // fsck over the same stores finds everything consistent.
    let mut fsck = Command::new(env!("CARGO_BIN_EXE_berth"));
    fsck.args(["fsck", "--verify-digests", "--data-dir"]).arg(tmp.path().join("node-d"));
    for (k, v) in &env {
        fsck.env(k, v);
    }
    let out = fsck.output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "fsck over S3: {report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("consistent"), "{report}");
}

/// `skopeo copy` of a small OCI layout (a 9 MiB gzip layer: one S3 part and a tail) into `s` and back out
/// into a new layout (the blob GETs follow berth's redirects to S3); every digest must match.
fn skopeo_round_trip(s: &Server, dir: &std::path::Path) {
    let (src, back, files) = (dir.join("src"), dir.join("back"), dir.join("files"));
    std::fs::create_dir_all(src.join("blobs/sha256")).unwrap();
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("data.bin"), bytes(33, 9 * MIB)).unwrap();
    let layer_path = dir.join("layer.tar.gz");
    let tar = Command::new("tar").arg("-czf").arg(&layer_path).arg("-C").arg(&files).arg(".").status().unwrap();
    assert!(tar.success());
    let put = |content: &[u8]| -> (Digest, usize) {
        let d = Digest::sha256_of(content);
        std::fs::write(src.join("blobs/sha256").join(d.hex()), content).unwrap();
        (d, content.len())
    };
    let layer = put(&std::fs::read(&layer_path).unwrap());
    let config = put(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    let manifest = image_manifest((&config.0, config.1), &[(&layer.0, layer.1)], None);
    let manifest = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": manifest.0.to_string(), "size": manifest.1,
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(src.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(src.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();

    let image = format!("docker://{}/s3/skopeo:v1", s.base.trim_start_matches("http://"));
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let run = |args: &[&str]| {
        let out = Command::new("skopeo").args(args).output().expect("skopeo (scripts/install-deps.sh installs it)");
        assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let src_ref = format!("oci:{}:v1", src.display());
    let back_ref = format!("oci:{}:v1", back.display());
    run(&["copy", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds", &creds, &src_ref, &image]);
    run(&["copy", "--src-tls-verify=false", "--src-creds", &creds, &image, &back_ref]);
    for (digest, _) in [&layer, &config, &manifest] {
        let got = std::fs::read(back.join("blobs/sha256").join(digest.hex())).unwrap();
        assert_eq!(&Digest::sha256_of(&got), digest, "skopeo got {digest} back intact");
    }
}

/// The S3 server goes away mid-run (s3s-fs, whose data survives a restart): pushes and pulls answer 503
/// UNAVAILABLE with Retry-After while it is down, and everything works again once it is back, without
/// restarting berth.
#[tokio::test]
async fn an_s3_outage_answers_503_and_recovers() {
    let mut s3 = S3Server::s3s_fs().unwrap_or_else(|e| panic!("cannot start the test S3 server: {e}"));
    s3.create_bucket("berth-outage").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let env = node_env(&s3, "berth-outage", &format!("sqlite://{}/meta.db", tmp.path().display()));
    let s = start(&tmp.path().join("data"), &env, &[]);
    let layer = bytes(41, 50_000);
    s.push_image("s3/outage", "v1", &layer).await;

    s3.stop();
    let other = bytes(42, 1_000);
    let r = s
        .http
        .post(s.url(&format!("/v2/s3/outage/blobs/uploads/?digest={}", Digest::sha256_of(&other))))
        .body(other.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "retry-after"), "5");
    assert_eq!(crate::support::error_code(r).await, "UNAVAILABLE");
    let r = s.get(&format!("/v2/s3/outage/blobs/{}", Digest::sha256_of(&layer))).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "a pull while S3 is down");

    s3.restart().unwrap();
    pull_verified(&s, "s3/outage", &layer).await;
    assert_eq!(s.push_blob("s3/outage", &other).await, Digest::sha256_of(&other));
    pull_verified(&s, "s3/outage", &other).await;
}

#[test]
fn a_missing_bucket_is_a_clear_error_at_start() {
    let s3 = moto();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(tmp.path());
    for (k, v) in node_env(&s3, "no-such-bucket", &format!("sqlite://{}/meta.db", tmp.path().display())) {
        cmd.env(k, v);
    }
    let out = cmd.env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "berth must not start: {stderr}");
    assert!(stderr.contains("s3://no-such-bucket/registry"), "names the bucket: {stderr}");
    assert!(stderr.contains("bucket exists") && stderr.contains("BERTH_STORAGE_URL"), "says what to fix: {stderr}");
    assert!(!stderr.contains(moto::SECRET_ACCESS_KEY), "never shows the secret: {stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .args(["--storage-url", "gs://bucket/x"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("s3://BUCKET/PREFIX"), "{stderr}");
}
