//! Encryption at rest (`--encryption` / `BERTH_ENCRYPTION`): no plaintext of a pushed layer anywhere under
//! the data directory or in the S3 bucket, exact range reads across segment boundaries, a flipped stored byte
//! answered with 500 and a log line (never wrong bytes) and reported by `berth fsck`, plaintext blobs from
//! before encryption was enabled still served, and a different master key refused.

use std::path::Path;
use std::process::Command;

use berth_oci::Digest;
use berth_storage::s3_server::{self as s3server, S3Server};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Server, bytes};

const MARKER: &[u8] = b"BERTH-ENCRYPTION-MARKER: plaintext that must never reach the disk";
const SEGMENT: usize = 1 << 16;

/// A layer with the marker throughout (any stored plaintext run of 64 bytes would contain it).
fn marked_layer(len: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(len).collect()
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files_under(&path, out) } else { out.push(path) }
    }
}

/// Every file under `dir` whose bytes contain the first 24 bytes of the marker.
fn files_with_plaintext(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    let needle = &MARKER[..24];
    files
        .into_iter()
        .filter(|f| std::fs::read(f).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .map(|f| f.display().to_string())
        .collect()
}

async fn push_chunked(s: &Server, repo: &str, data: &[u8], chunk: usize) -> Digest {
    let digest = Digest::sha256_of(data);
    let r = s.http.post(s.url(&format!("/v2/{repo}/blobs/uploads/"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mut location = s.url(r.headers()["location"].to_str().unwrap());
    for (i, part) in data.chunks(chunk).enumerate() {
        let start = i * chunk;
        let r = s
            .http
            .patch(&location)
            .header("content-range", format!("{start}-{}", start + part.len() - 1))
            .header("content-type", "application/octet-stream")
            .body(part.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", r.text().await.unwrap());
        location = s.url(r.headers()["location"].to_str().unwrap());
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = s.http.put(format!("{location}{sep}digest={digest}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    digest
}

async fn get_range(s: &Server, repo: &str, digest: &Digest, from: usize, to: usize) -> Vec<u8> {
    let r = s
        .http
        .get(s.url(&format!("/v2/{repo}/blobs/{digest}")))
        .header("range", format!("bytes={from}-{to}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    r.bytes().await.unwrap().to_vec()
}

fn blob_path(dir: &Path, d: &Digest) -> std::path::PathBuf {
    dir.join("blobs/sha256").join(&d.hex()[..2]).join(d.hex())
}

#[tokio::test]
async fn filesystem_holds_no_plaintext_and_damage_is_never_served() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // Before encryption is enabled: a plaintext blob, which must stay readable afterwards.
    let old = bytes(91, 70_000);
    let old_digest = {
        let s = Server::start_in(&dir);
        s.push_blob("enc/app", &old).await
    };
    let s = Server::start_with(&dir, &[("BERTH_ENCRYPTION", "true")]);
    let layer = marked_layer(5 * SEGMENT + 4_321);
    let (_, _) = s.push_image("enc/app", "v1", &layer).await;
    let digest = Digest::sha256_of(&layer);
    // A chunked push whose chunks end mid-segment, and an upload left unfinished.
    let chunked = marked_layer(3 * SEGMENT + 99)[7..].to_vec();
    let chunked_digest = push_chunked(&s, "enc/app", &chunked, 50_000).await;
    let r = s.http.post(s.url("/v2/enc/app/blobs/uploads/")).send().await.unwrap();
    let open_upload = s.url(r.headers()["location"].to_str().unwrap());
    let r = s.http.patch(&open_upload).body(marked_layer(100_000)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    assert_eq!(files_with_plaintext(&dir), Vec::<String>::new(), "no file under the data dir holds plaintext");

    // Pulls: whole, and ranges across segment boundaries.
    let r = s.get(&format!("/v2/enc/app/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), layer);
    let r = s.get(&format!("/v2/enc/app/blobs/{chunked_digest}")).await;
    assert_eq!(r.bytes().await.unwrap(), chunked);
    for (from, to) in [(0, 0), (SEGMENT - 1, SEGMENT), (SEGMENT - 5, 3 * SEGMENT + 5), (4 * SEGMENT, layer.len() - 1)] {
        assert_eq!(get_range(&s, "enc/app", &digest, from, to).await, layer[from..=to], "bytes={from}-{to}");
    }
    let r = s.get(&format!("/v2/enc/app/blobs/{old_digest}")).await;
    assert_eq!(r.bytes().await.unwrap(), old, "a blob stored before encryption was enabled is served");

    // A flipped byte in the first segment of a small blob: 500, never its bytes.
    let small = bytes(92, 10_000);
    let small_digest = s.push_blob("enc/app", &small).await;
    let path = blob_path(&dir, &small_digest);
    let mut stored = std::fs::read(&path).unwrap();
    let at = stored.len() - 5_000;
    stored[at] ^= 0x04;
    std::fs::write(&path, &stored).unwrap();
    let r = s.get(&format!("/v2/enc/app/blobs/{small_digest}")).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // In a later segment of a big blob: the response breaks off rather than carry the damaged segment.
    let path = blob_path(&dir, &digest);
    let mut stored = std::fs::read(&path).unwrap();
    let at = stored.len() - 100;
    stored[at] ^= 0x04;
    std::fs::write(&path, &stored).unwrap();
    // (Depending on how far the server got, the client sees a cut body or a connection closed before the head.)
    if let Ok(r) = s.http.get(s.url(&format!("/v2/enc/app/blobs/{digest}"))).send().await
        && let Ok(body) = r.bytes().await
    {
        assert!(body.len() < layer.len() && layer.starts_with(&body), "only sound bytes, cut short");
    }
    drop(s);

    // fsck --verify-digests reports both as damaged.
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["fsck", "--verify-digests", "--encryption", "true", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    for d in [&small_digest, &digest] {
        assert!(report.contains(&format!("blob {d} cannot be decrypted")), "{report}");
    }
    assert!(!report.contains(&chunked_digest.to_string()), "sound blobs are not reported: {report}");
}

#[tokio::test]
async fn a_different_master_key_cannot_read_sealed_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let key_a = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let s = Server::start_with(&dir, &[("BERTH_ENCRYPTION", "true"), ("BERTH_MASTER_KEY", key_a)]);
    let layer = bytes(93, 1000);
    let d = s.push_blob("enc/keys", &layer).await;
    assert_eq!(s.get(&format!("/v2/enc/keys/blobs/{d}")).await.bytes().await.unwrap(), layer);
    drop(s);
    // The identity check already refuses a node with another master key; the blobs themselves need it too.
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["fsck", "--verify-digests", "--encryption", "true", "--data-dir"])
        .arg(&dir)
        .env("BERTH_MASTER_KEY", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn the_bucket_holds_no_plaintext() {
    let server = S3Server::s3s_fs().unwrap_or_else(|e| panic!("cannot start s3s-fs: {e}"));
    server.create_bucket("sealed").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let endpoint = server.endpoint();
    let env = [
        ("BERTH_STORAGE_URL", "s3://sealed/registry"),
        ("BERTH_S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", s3server::ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", s3server::SECRET_ACCESS_KEY),
        ("AWS_REGION", "us-east-1"),
        ("BERTH_ENCRYPTION", "true"),
    ];
    let s = Server::start_with(&tmp.path().join("data"), &env);
    let layer = marked_layer(300_000);
    s.push_image("enc/s3", "v1", &layer).await;
    // Across S3 parts (8 MiB) with a tail kept between chunks.
    let big = marked_layer(11 << 20)[3..].to_vec();
    let big_digest = push_chunked(&s, "enc/s3", &big, 6 << 20).await;

    let root = server.root().expect("s3s-fs serves a directory");
    assert_eq!(files_with_plaintext(root), Vec::<String>::new(), "no object in the bucket holds plaintext");
    assert_eq!(files_with_plaintext(&tmp.path().join("data")), Vec::<String>::new());
    let r = s.get(&format!("/v2/enc/s3/blobs/{big_digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(Digest::sha256_of(&r.bytes().await.unwrap()), big_digest);
    let from = (8 << 20) - 10;
    assert_eq!(get_range(&s, "enc/s3", &big_digest, from, from + SEGMENT).await, big[from..=from + SEGMENT]);
}

/// `EncryptExistingBlobs` on an installation whose blobs were stored unencrypted: blobs stay readable while
/// it runs; the server is killed in the middle; after a restart the job resumes, and every blob is then
/// encrypted and reads back whole.
#[tokio::test]
async fn encrypt_existing_survives_a_kill_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let layers: Vec<Vec<u8>> =
        (0..120).map(|i| [format!("{i:04}").as_bytes(), &marked_layer(200_000)].concat()).collect();
    let digests = {
        let s = Server::start_in(&dir);
        let mut digests = Vec::new();
        for layer in &layers {
            digests.push(s.push_blob("enc/old", layer).await);
        }
        digests
    };
    assert!(!files_with_plaintext(&dir.join("blobs")).is_empty(), "stored in plaintext at first");

    let mut s = Server::start_with(&dir, &[("BERTH_ENCRYPTION", "true")]);
    let id = s.admin("EncryptExistingBlobs", json!({})).await["jobId"].as_i64().unwrap();
    assert_eq!(s.admin("EncryptExistingBlobs", json!({})).await["jobId"].as_i64().unwrap(), id, "one job at a time");
    let mut i = 0;
    loop {
        let job = s.admin("DescribeJob", json!({"jobId": id})).await["job"].take();
        // Readable while it runs.
        let n = i % layers.len();
        let r = s.get(&format!("/v2/enc/old/blobs/{}", digests[n])).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap(), layers[n], "blob {n} while encrypting");
        i += 7;
        let done = job["progress"]["done"].as_u64().unwrap_or(0);
        assert_ne!(job["state"], "succeeded", "the job finished before the test could kill the server");
        if done >= 16 {
            break;
        }
    }
    s.kill9();

    let s = Server::start_with(&dir, &[("BERTH_ENCRYPTION", "true")]);
    let job = loop {
        let job = s.admin("DescribeJob", json!({"jobId": id})).await["job"].take();
        if job["state"] != "running" && job["state"] != "queued" {
            break job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(job["state"], "succeeded", "{job}");
    let result: serde_json::Value = serde_json::from_str(job["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["blobs"], 120, "{result}");
    assert!(result["alreadySealed"].as_u64().unwrap() >= 16, "the rerun skipped what was sealed before: {result}");
    assert_eq!(files_with_plaintext(&dir.join("blobs")), Vec::<String>::new(), "every blob is encrypted now");
    for (layer, digest) in layers.iter().zip(&digests) {
        let r = s.get(&format!("/v2/enc/old/blobs/{digest}")).await;
        assert_eq!(r.bytes().await.unwrap(), *layer, "{digest} after the run");
    }
}
