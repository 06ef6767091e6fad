//! A full disk: pushes are refused with a clear OCI error (503 `UNAVAILABLE`, "no space left on device",
//! `Retry-After`), never a hang; once space is freed, pushes succeed again without a restart; SIGTERM still
//! stops the server promptly.
//!
//! Needs a small filesystem of its own: a tmpfs, mounted as root (CI runs as root). Where mounting is not
//! permitted the test says so and passes without running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::support::*;

/// A tmpfs of `size` mounted on a fresh directory; unmounted when dropped.
struct SmallFs {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<SmallFs> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("small");
        std::fs::create_dir(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "SKIPPED: cannot mount a {size} tmpfs to fill ({}); run as root (CI does) to test a full disk",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(SmallFs { dir, _tmp: tmp })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Fills `path` with a file of up to `len` bytes (less when the filesystem fills first).
fn fill(path: &Path, len: usize) -> usize {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    let mut written = 0;
    while written < len {
        match f.write(&chunk[..chunk.len().min(len - written)]) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n,
        }
    }
    let _ = f.sync_all();
    written
}

/// Checks `r` is the refusal of a write on a full disk, in the distribution spec's error format.
async fn assert_no_space(r: Response, what: &str) {
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json", "{what}");
    let body: Value = r.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(error["code"], "UNAVAILABLE", "{what}: {body}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("no space left on device"), "{what}: {message}");
    let secs: u64 = retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After")).parse().unwrap();
    assert!((1..=300).contains(&secs), "{what}: Retry-After {secs}");
}

/// Sends a request with a deadline: a full disk must never make berth hang.
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f).await.unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_berth_recovers_when_space_returns() {
    let Some(fs) = SmallFs::mount("24m") else { return };
    let dir = fs.dir.join("data");
    let mut s = Server::start_in(&dir);
    let repo = "full/app";
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = s.push_blob(repo, config).await;

    // Most of the space goes to a file of ours, so that pushes fill the rest quickly.
    let filler = fs.dir.join("filler");
    fill(&filler, 16 << 20);

    // Push layers until the disk is full.
    let mut refusal = None;
    let mut pushed = Vec::new();
    for i in 0..200u64 {
        let layer = bytes(i, 256 * 1024);
        let d = berth_oci::Digest::sha256_of(&layer);
        let url = s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}"));
        let r = within("a monolithic push", s.http.post(url).body(layer).send()).await.unwrap();
        if r.status() == StatusCode::CREATED {
            pushed.push(d);
        } else {
            refusal = Some(r);
            break;
        }
    }
    eprintln!("{} layers pushed before the disk was full", pushed.len());
    assert_no_space(refusal.expect("the disk filled up"), "a blob push on a full disk").await;

    // Take the last free bytes too, then keep writing metadata (tags, upload sessions): refusals from the
    // metadata store are just as clear, and none of them hangs.
    fill(&fs.dir.join("topup"), usize::MAX);
    let layer = pushed[0].clone();
    let manifest = image_manifest((&config_digest, config.len()), &[(&layer, 256 * 1024)], None);
    let mut metadata_refusals = 0;
    for i in 0..400 {
        let r = within("a manifest push", s.put_manifest(repo, &format!("t{i}"), OCI_MANIFEST, &manifest)).await;
        match r.status() {
            StatusCode::CREATED => {}
            _ => {
                assert_no_space(r, "a manifest push on a full disk").await;
                metadata_refusals += 1;
                if metadata_refusals == 5 {
                    break;
                }
            }
        }
    }
    eprintln!("{metadata_refusals} manifest pushes refused by the metadata store");
    let r = within("a session start", s.http.post(s.url(&format!("/v2/{repo}/blobs/uploads/"))).send()).await.unwrap();
    if r.status() != StatusCode::ACCEPTED {
        assert_no_space(r, "starting an upload on a full disk").await;
    }
    // Reads and anonymous requests keep answering while the disk is full (and audited requests pile up).
    for _ in 0..50 {
        let r = within("GET /v2/", anonymous_client().get(s.url("/v2/")).send()).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = within("a blob GET", s.get(&format!("/v2/{repo}/blobs/{layer}"))).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    // Space returns: pushes succeed again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(fs.dir.join("topup")).unwrap();
    let layer = bytes(10_000, 256 * 1024);
    let d = within("a push after space returned", async { s.push_blob(repo, &layer).await }).await;
    let body = image_manifest((&config_digest, config.len()), &[(&d, layer.len())], None);
    let r = within("a manifest push after space returned", s.put_manifest(repo, "after", OCI_MANIFEST, &body)).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = s.get(&format!("/v2/{repo}/manifests/after")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s.http.post(s.url(&format!("/v2/{repo}/blobs/uploads/"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "upload sessions start again");

    // SIGTERM stops the server promptly even while its writers are failing: fill the disk again and leave
    // audit records, pull statistics and journal entries that cannot be written.
    fill(&filler, usize::MAX);
    for i in 0..20 {
        let r = within("a push on a full disk", s.put_manifest(repo, &format!("full{i}"), OCI_MANIFEST, &body)).await;
        assert!(matches!(r.status(), StatusCode::CREATED | StatusCode::SERVICE_UNAVAILABLE), "{}", r.status());
        assert_eq!(s.get(&format!("/v2/{repo}/manifests/after")).await.status(), StatusCode::OK);
    }
    let started = Instant::now();
    let status = s.stop();
    let took = started.elapsed();
    eprintln!("SIGTERM on a full disk: stopped in {took:?}");
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(15), "SIGTERM took {took:?}");
}
