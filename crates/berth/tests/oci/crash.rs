//! `kill -9` in the middle of 50 concurrent pushes: everything acknowledged survives, nothing partial is
//! visible, interrupted sessions resume or are cleanly unknown, and `berth fsck` finds the store consistent.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_oci::Digest;
use reqwest::StatusCode;

use crate::support::*;

#[derive(Default)]
struct Acknowledged {
    blobs: Vec<(String, Digest, u64)>,
    manifests: Vec<(String, String, Vec<u8>)>,
    sessions: Vec<String>,
}

/// One client: pushes chunked blobs and manifests in a loop until the server dies.
async fn client(s: Arc<Server>, worker: u64, acked: Arc<Mutex<Acknowledged>>) {
    let repo = format!("crash/w{worker}");
    let http = &s.http;
    for round in 0u64.. {
        let seed = worker * 1000 + round;
        let data = bytes(seed, 256 * 1024 + (seed as usize % 4096));
        let d = Digest::sha256_of(&data);
        let Ok(r) = http.post(s.url(&format!("/v2/{repo}/blobs/uploads/"))).send().await else { return };
        let Some(mut loc) = r.headers().get("location").map(|v| v.to_str().unwrap().to_string()) else { return };
        acked.lock().unwrap().sessions.push(loc.clone());
        for (i, chunk) in data.chunks(64 * 1024).enumerate() {
            let start = i * 64 * 1024;
            let req = http
                .patch(s.url(&loc))
                .header("content-range", format!("{}-{}", start, start + chunk.len() - 1))
                .body(chunk.to_vec());
            match req.send().await {
                Ok(r) if r.status() == StatusCode::ACCEPTED => loc = r.headers()["location"].to_str().unwrap().into(),
                _ => return,
            }
        }
        match http.put(s.url(&format!("{loc}?digest={d}"))).send().await {
            Ok(r) if r.status() == StatusCode::CREATED => {
                acked.lock().unwrap().blobs.push((repo.clone(), d.clone(), data.len() as u64))
            }
            _ => return,
        }
        let config = Digest::sha256_of(b"{}");
        if round == 0 {
            match http.post(s.url(&format!("/v2/{repo}/blobs/uploads/?digest={config}"))).body("{}").send().await {
                Ok(r) if r.status() == StatusCode::CREATED => {}
                _ => return,
            }
        }
        let body = image_manifest((&config, 2), &[(&d, data.len())], None);
        let tag = format!("r{round}");
        match s.put_manifest_checked(&repo, &tag, &body).await {
            Some(true) => acked.lock().unwrap().manifests.push((repo.clone(), tag, body)),
            _ => return,
        }
    }
}

impl Server {
    pub(crate) async fn put_manifest_checked(&self, repo: &str, tag: &str, body: &[u8]) -> Option<bool> {
        let r = self
            .http
            .put(self.url(&format!("/v2/{repo}/manifests/{tag}")))
            .header("content-type", OCI_MANIFEST)
            .body(body.to_vec())
            .send()
            .await
            .ok()?;
        Some(r.status() == StatusCode::CREATED)
    }
}

fn fsck(dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_berth")).args(["fsck", "--data-dir"]).arg(dir).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_concurrent_pushes_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    {
        let s = Arc::new(Server::start_in(&dir));
        let workers: Vec<_> = (0..50).map(|w| tokio::spawn(client(s.clone(), w, acked.clone()))).collect();
        // Kill once real work is acknowledged and more is in flight, however fast this machine is.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while acked.lock().unwrap().manifests.len() < 60 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Arc::get_mut is not possible while clients hold the server: kill through a raw pid instead.
        let pid = Server::pid_of(&s);
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        for w in workers {
            let _ = w.await;
        }
    }
    let a = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!(
        "acknowledged before the kill: {} blobs, {} manifests, {} sessions",
        a.blobs.len(),
        a.manifests.len(),
        a.sessions.len()
    );
    assert!(!a.blobs.is_empty() && !a.manifests.is_empty(), "the clients got work done before the kill");

    let (ok, report) = fsck(&dir);
    assert!(ok, "fsck after kill -9:\n{report}");

    let s = Server::start_in(&dir);
    for (repo, d, size) in &a.blobs {
        let r = s.get(&format!("/v2/{repo}/blobs/{d}")).await;
        assert_eq!(r.status(), StatusCode::OK, "acknowledged blob {repo}@{d}");
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len() as u64, *size);
        assert_eq!(&Digest::sha256_of(&body), d, "intact bytes");
    }
    for (repo, tag, body) in &a.manifests {
        let r = s.get(&format!("/v2/{repo}/manifests/{tag}")).await;
        assert_eq!(r.status(), StatusCode::OK, "acknowledged manifest {repo}:{tag}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), &body[..]);
    }
    // Every session ever started is now finished (gone), resumable, or cleanly unknown.
    for loc in &a.sessions {
        let r = s.get(loc).await;
        assert!(matches!(r.status(), StatusCode::NO_CONTENT | StatusCode::NOT_FOUND), "{loc}: {}", r.status());
    }
    let (ok, report) = fsck(&dir);
    assert!(ok, "fsck after restart:\n{report}");

    // With the server stopped, repair removes what the crash left behind, and nothing else.
    drop(s);
    let out =
        Command::new(env!("CARGO_BIN_EXE_berth")).args(["fsck", "--repair", "--data-dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let (ok, report) = fsck(&dir);
    assert!(ok && !report.contains("upload bytes"), "after repair:\n{report}");
    let s = Server::start_in(&dir);
    for (repo, d, _) in a.blobs.iter().take(10) {
        assert_eq!(s.head(&format!("/v2/{repo}/blobs/{d}")).await.status(), StatusCode::OK, "repair kept {d}");
    }
}

#[tokio::test]
async fn fsck_verify_digests_finds_corrupted_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = {
        let s = Server::start_in(&dir);
        s.push_blob("rot", &bytes(77, 4096)).await
    };
    let path = dir.join("blobs/sha256").join(&d.hex()[..2]).join(d.hex());
    let mut content = std::fs::read(&path).unwrap();
    content[100] ^= 0xff;
    std::fs::write(&path, &content).unwrap();
    let (ok, _) = fsck(&dir);
    assert!(ok, "sizes still agree");
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["fsck", "--verify-digests", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains(&format!("blob {d} holds bytes whose digest is")), "{report}");
}
