//! A damaged blob: a short read is never served as if it were the blob, a push of the right bytes repairs the
//! stored copy, `fsck --verify-digests` finds damage and `--repair` quarantines it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_oci::Digest;
use reqwest::StatusCode;

use crate::support::*;

fn blob_path(dir: &Path, d: &Digest) -> PathBuf {
    dir.join("blobs/sha256").join(&d.hex()[..2]).join(d.hex())
}

fn fsck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth")).arg("fsck").args(args).arg("--data-dir").arg(dir).output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn pull(s: &Server, repo: &str, d: &Digest) -> (StatusCode, Vec<u8>) {
    let r = s.get(&format!("/v2/{repo}/blobs/{d}")).await;
    let status = r.status();
    (status, r.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_blob_is_found_repaired_by_a_push_and_quarantined_by_fsck() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    let layer = bytes(7, 3 * 1024 * 1024 + 17);
    let (_, manifest) = s.push_image("app", "v1", &layer).await;
    let d = Digest::sha256_of(&layer);
    let path = blob_path(&dir, &d);

    // A flipped bit: same size, so only a re-hash tells. fsck --verify-digests does.
    let mut flipped = layer.clone();
    flipped[1_000_000] ^= 0x04;
    std::fs::write(&path, &flipped).unwrap();
    let out = fsck(&dir, &["--verify-digests"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("blob {d} holds bytes whose digest is")), "{}", text(&out));

    // Pushing the right bytes again repairs the stored copy (it used to answer 201 and keep the damage).
    assert_eq!(s.push_blob("app", &layer).await, d);
    let (status, body) = pull(&s, "app", &d).await;
    assert_eq!((status, Digest::sha256_of(&body)), (StatusCode::OK, d.clone()), "the repaired blob is served");

    // Truncated: a GET fails loudly instead of a short body under a full-looking response.
    std::fs::write(&path, &layer[..1000]).unwrap();
    let (status, body) = pull(&s, "app", &d).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "a short copy is not served ({} bytes came)", body.len());
    let r = s.http.get(s.url(&format!("/v2/app/blobs/{d}"))).header("range", "bytes=2000-2999").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "nor a range beyond its end");
    let out = fsck(&dir, &[]);
    assert!(text(&out).contains("is recorded with"), "size damage needs no re-hash: {}", text(&out));

    // fsck --repair quarantines it: clients get BLOB_UNKNOWN, not bad bytes, and push it again.
    assert!(s.stop().success());
    let out = fsck(&dir, &["--verify-digests", "--repair"]);
    assert!(text(&out).contains("moved to quarantine/"), "{}", text(&out));
    assert!(!path.exists());
    assert!(dir.join("quarantine/sha256").join(d.hex()).is_file(), "the damaged copy is kept for inspection");
    let out = fsck(&dir, &[]);
    assert!(!out.status.success(), "the image still lacks the blob: {}", text(&out));
    assert!(text(&out).contains("push it again"), "{}", text(&out));

    let s = Server::start_in(&dir);
    let r = s.get(&format!("/v2/app/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    assert_eq!(s.head(&format!("/v2/app/blobs/{d}")).await.status(), StatusCode::NOT_FOUND, "a push re-uploads it");
    assert_eq!(s.push_blob("app", &layer).await, d);
    let (status, body) = pull(&s, "app", &d).await;
    assert_eq!((status, Digest::sha256_of(&body)), (StatusCode::OK, d.clone()));
    assert_eq!(s.get(&format!("/v2/app/manifests/{manifest}")).await.status(), StatusCode::OK);
    let out = fsck(&dir, &["--verify-digests"]);
    assert!(out.status.success(), "consistent again: {}", text(&out));
}
