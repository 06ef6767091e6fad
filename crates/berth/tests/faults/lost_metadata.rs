//! Lost metadata: with `meta.db` deleted, truncated, or its WAL removed after a crash, berth refuses to serve an
//! empty registry over blobs that lie on disk, `berth fsck` says what is wrong, and `berth fsck
//! --rebuild-metadata` restores repositories, manifests, tags and blob links from the repository journal.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn berth(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("BERTH_LOG", "warn")
        .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// What was pushed, to check after recovery.
struct Content {
    /// (repository, tag, manifest digest, manifest bytes)
    images: Vec<(String, String, Digest, Vec<u8>)>,
    /// (repository, blob)
    blobs: Vec<(String, Digest)>,
    index: (String, Digest),
}

async fn push_content(s: &Server) -> Content {
    let mut images = Vec::new();
    let mut blobs = Vec::new();
    for (repo, tag, seed) in [("team/app", "v1", 1), ("team/app", "latest", 2), ("team", "base", 3)] {
        let layer = bytes(seed, 40_000);
        let (body, digest) = s.push_image(repo, tag, &layer).await;
        blobs.push((repo.to_string(), Digest::sha256_of(&layer)));
        images.push((repo.to_string(), tag.to_string(), digest, body));
    }
    // A second tag on one image, and an index over the two images of team/app.
    let (_, _, d1, b1) = &images[0];
    let r = s.put_manifest("team/app", "stable", OCI_MANIFEST, b1).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    images.push(("team/app".into(), "stable".into(), d1.clone(), b1.clone()));
    let children: Vec<Value> = images[..2]
        .iter()
        .map(|(_, _, d, b)| json!({"mediaType": OCI_MANIFEST, "digest": d, "size": b.len()}))
        .collect();
    let index =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})).unwrap();
    let r = s.put_manifest("team/app", "multi", OCI_INDEX, &index).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let index_digest = Digest::sha256_of(&index);
    images.push(("team/app".into(), "multi".into(), index_digest.clone(), index));
    // A tag that is deleted must stay deleted.
    s.push_image("team", "gone", &bytes(4, 1000)).await;
    let r = s.http.delete(s.url("/v2/team/manifests/gone")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    Content { images, blobs, index: ("team/app".into(), index_digest) }
}

async fn check_content(s: &Server, c: &Content) {
    for (repo, tag, digest, body) in &c.images {
        for reference in [tag.clone(), digest.to_string()] {
            let r = s.get(&format!("/v2/{repo}/manifests/{reference}")).await;
            assert_eq!(r.status(), StatusCode::OK, "{repo}:{reference}");
            assert_eq!(&r.bytes().await.unwrap()[..], &body[..], "{repo}:{reference}");
        }
    }
    for (repo, blob) in &c.blobs {
        let r = s.get(&format!("/v2/{repo}/blobs/{blob}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{repo}@{blob}");
        assert_eq!(Digest::sha256_of(&r.bytes().await.unwrap()), *blob);
    }
    let tags: Value = s.get("/v2/team/app/tags/list").await.json().await.unwrap();
    assert_eq!(tags["tags"], json!(["latest", "multi", "stable", "v1"]));
    let tags: Value = s.get("/v2/team/tags/list").await.json().await.unwrap();
    assert_eq!(tags["tags"], json!(["base"]), "a deleted tag stays deleted");
    let (repo, index) = &c.index;
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/{index}")).await.status(), StatusCode::OK);
}

/// `berth serve` on `dir` must refuse to start, naming the problem and the ways out.
fn assert_refuses_to_serve(dir: &Path) {
    let out = berth(&["serve", "--listen", "127.0.0.1:0"], dir);
    let said = text(&out);
    assert!(!out.status.success(), "serve must refuse: {said}");
    assert!(said.contains("metadata database is new or empty"), "{said}");
    assert!(said.contains("--rebuild-metadata") && said.contains("--allow-empty-metadata"), "{said}");
}

fn remove_metadata(dir: &Path) {
    for f in ["meta.db", "meta.db-wal", "meta.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_database_is_refused_reported_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    let content = push_content(&s).await;
    assert!(s.stop().success());
    assert!(dir.join("repositories/team/app/_tags/latest").is_file(), "the journal is on disk");
    let (ok, report) = (berth(&["fsck"], &dir).status.success(), text(&berth(&["fsck"], &dir)));
    assert!(ok, "a sound data directory is consistent: {report}");

    remove_metadata(&dir);
    assert_refuses_to_serve(&dir);
    let out = berth(&["fsck"], &dir);
    let report = text(&out);
    assert!(!out.status.success(), "fsck over lost metadata is not consistent: {report}");
    assert!(report.contains("is in the journal but not in the metadata"), "{report}");
    assert!(report.contains("is stored but the metadata does not know it"), "{report}");
    assert!(report.contains("--rebuild-metadata"), "{report}");

    // Told to, berth serves the empty registry.
    let mut empty = Server::start_with_args(&dir, &["--allow-empty-metadata"]);
    assert_eq!(empty.get("/v2/team/app/manifests/latest").await.status(), StatusCode::NOT_FOUND);
    assert!(empty.stop().success());

    let out = berth(&["fsck", "--rebuild-metadata"], &dir);
    let report = text(&out);
    assert!(out.status.success(), "rebuild, then a consistent check: {report}");
    assert!(report.contains("rebuilt 2 repositories"), "{report}");

    let s = Server::start_in(&dir);
    check_content(&s, &content).await;
    // The rebuilt registry takes new pushes as before.
    s.push_image("team/app", "after", &bytes(9, 100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    s.push_image("app", "v1", b"layer").await;
    assert!(s.stop().success());
    std::fs::File::create(dir.join("meta.db")).unwrap();
    assert_refuses_to_serve(&dir);
    let out = berth(&["fsck", "--rebuild-metadata"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let s = Server::start_in(&dir);
    assert_eq!(s.get("/v2/app/manifests/v1").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_removed_after_a_crash_is_noticed_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    let content = push_content(&s).await;
    // The journal is written within a second of each change.
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.kill9();
    assert!(dir.join("meta.db-wal").is_file(), "a crash leaves the WAL");
    std::fs::remove_file(dir.join("meta.db-wal")).unwrap();
    let _ = std::fs::remove_file(dir.join("meta.db-shm"));

    let out = berth(&["fsck"], &dir);
    assert!(!out.status.success(), "fsck notices what the metadata lost: {}", text(&out));
    let out = berth(&["fsck", "--rebuild-metadata"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let s = Server::start_in(&dir);
    check_content(&s, &content).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_page_fails_the_integrity_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    for i in 0..20 {
        s.push_image(&format!("app{i}"), "v1", &bytes(i, 5000)).await;
    }
    assert!(s.stop().success());
    let db = dir.join("meta.db");
    let mut file = std::fs::read(&db).unwrap();
    assert!(file.len() > 16 * 4096, "{} bytes", file.len());
    // A page in the middle of the file: some table's or index's b-tree page.
    let page = file.len() / 4096 / 2;
    for (i, b) in file[page * 4096..(page + 1) * 4096].iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&db, &file).unwrap();
    let out = berth(&["fsck"], &dir);
    let report = text(&out);
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("metadata database"), "{report}");
}
